//! `psrm --ssl --auth credssp` end to end against a `psrm emulator --tls-self-signed` process
//! offering CredSSP.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

const PSRM: &str = env!("CARGO_BIN_EXE_psrm");
const PASSWORD: &str = "Cli-pw-3141";

/// A running `psrm emulator` child, killed on drop.
struct EmulatorProcess {
    child: Child,
    addr: String,
    dir: PathBuf,
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn emulator() -> EmulatorProcess {
    let dir = std::env::temp_dir().join(format!("psrm-cli-credssp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let config = dir.join("emu.toml");
    std::fs::write(
        &config,
        format!(
            "computer_name = \"SERVER01\"\n[[users]]\nname = \"alice\"\npassword = \"{PASSWORD}\"\n\
             admin = true\n[service]\nauth = [\"credssp\"]\nallow_unencrypted = false\n"
        ),
    )
    .expect("write config");
    let mut child = Command::new(PSRM)
        .args([
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--tls-self-signed",
            "--config",
        ])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn psrm emulator");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("ready line");
    let addr = line
        .trim()
        .strip_prefix("listening on https://")
        .and_then(|r| r.strip_suffix("/wsman"))
        .unwrap_or_else(|| panic!("unexpected ready line {line:?}"))
        .to_owned();
    EmulatorProcess { child, addr, dir }
}

fn psrm(emu: &EmulatorProcess, password: &str, args: &[&str]) -> Output {
    Command::new(PSRM)
        .args(["-H", &emu.addr, "--ssl", "--insecure", "--auth", "credssp"])
        .arg("--state-dir")
        .arg(emu.dir.join("state"))
        .args(args)
        .env("PSRM_USER", "alice")
        .env("PSRM_PASSWORD", password)
        .stdin(Stdio::null())
        .output()
        .expect("run psrm")
}

#[test]
fn exec_over_credssp_and_a_wrong_password_is_an_authentication_error() {
    let emu = emulator();
    let out = psrm(&emu, PASSWORD, &["exec", "hostname"]);
    assert!(
        out.status.success(),
        "psrm failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "SERVER01");
    let out = psrm(&emu, "wrong-password", &["exec", "hostname"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("authentication"), "{err}");
    assert!(err.contains("credssp"), "{err}");
    assert!(!err.contains("wrong-password"), "password leaked: {err}");
}
