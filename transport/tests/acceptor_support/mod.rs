//! The python acceptors under tests/py (kerberos_acceptor.py, credssp_acceptor.py) as child
//! processes: the interpreter (`PSRM_PYTHON` or the repository's .venv), the spawn that reads the
//! `PORT <n>` line, and the guard that kills the peer (and removes its scratch folder) on drop.
//! Each test binary uses part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A running acceptor, killed when dropped.
#[derive(Debug)]
pub struct Acceptor {
    child: Child,
    pub port: u16,
    scratch: Option<PathBuf>,
}

impl Acceptor {
    /// Starts `tests/py/<script>` with the arguments and environment `setup` adds, its stderr
    /// shown (`show_stderr`) or dropped, and waits for the port it listens on.
    pub fn spawn(script: &str, show_stderr: bool, setup: impl FnOnce(&mut Command)) -> Self {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/py")
            .join(script);
        let mut command = Command::new(python());
        command
            .arg(path)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdout(Stdio::piped())
            .stderr(if show_stderr {
                Stdio::inherit()
            } else {
                Stdio::null()
            });
        setup(&mut command);
        let mut child = command.spawn().expect("python runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("port line");
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected acceptor line {line:?}"));
        Self {
            child,
            port,
            scratch: None,
        }
    }

    /// Removes `dir` (the acceptor's scratch folder) once the acceptor is gone.
    pub fn removing(mut self, dir: PathBuf) -> Self {
        self.scratch = Some(dir);
        self
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The python interpreter with pyspnego: `PSRM_PYTHON`, else the repository's .venv.
pub fn python() -> PathBuf {
    let path = std::env::var_os("PSRM_PYTHON").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"),
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "python peer interpreter {} is missing: run scripts/pyenv (or set PSRM_PYTHON)",
        path.display()
    );
    path
}
