//! What the CLI test binaries share: a `psrm emulator` child process started from a TOML
//! configuration in a scratch directory, and killed (its directory removed) on drop.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

pub const PSRM: &str = env!("CARGO_BIN_EXE_psrm");

/// A running `psrm emulator` child, killed on drop.
pub struct EmulatorProcess {
    pub child: Child,
    pub addr: String,
    pub dir: PathBuf,
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The stdout of a psrm run that must have succeeded (else the test fails showing its exit
/// status and stderr). cli_rds reads its runs otherwise.
#[allow(dead_code)]
pub fn stdout_of(out: &Output) -> String {
    assert!(
        out.status.success(),
        "psrm failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("psrm prints utf-8")
}

/// A fresh directory under the temporary directory, `{prefix}-{pid}-{n}`.
pub fn scratch_dir(prefix: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Writes `config` as `dir/emu.toml` and runs `psrm emulator --listen 127.0.0.1:0 --config
/// dir/emu.toml ARGS`; the address is read from its ready line `listening on
/// {scheme}://ADDR/wsman`. The child owns `dir` from then on.
pub fn start_emulator(
    dir: PathBuf,
    config: &str,
    args: &[String],
    scheme: &str,
) -> EmulatorProcess {
    let path = dir.join("emu.toml");
    std::fs::write(&path, config).expect("write config");
    let mut child = Command::new(PSRM)
        .args(["emulator", "--listen", "127.0.0.1:0", "--config"])
        .arg(&path)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn psrm emulator");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("ready line");
    let prefix = format!("listening on {scheme}://");
    let addr = line
        .trim()
        .strip_prefix(prefix.as_str())
        .and_then(|r| r.strip_suffix("/wsman"))
        .unwrap_or_else(|| panic!("unexpected ready line {line:?}"))
        .to_owned();
    EmulatorProcess { child, addr, dir }
}
