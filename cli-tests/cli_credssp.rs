//! `psrm --ssl --auth credssp` end to end against a `psrm emulator --tls-self-signed` process
//! offering CredSSP.

mod support;

use std::process::{Command, Output, Stdio};

use support::{EmulatorProcess, PSRM, scratch_dir, start_emulator, stdout_of};

const PASSWORD: &str = "Cli-pw-3141";

fn emulator() -> EmulatorProcess {
    let config = format!(
        "computer_name = \"SERVER01\"\n[[users]]\nname = \"alice\"\npassword = \"{PASSWORD}\"\n\
         admin = true\n[service]\nauth = [\"credssp\"]\nallow_unencrypted = false\n"
    );
    start_emulator(
        scratch_dir("psrm-cli-credssp"),
        &config,
        &["--tls-self-signed".to_owned()],
        "https",
    )
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
    assert_eq!(stdout_of(&out).trim(), "SERVER01");
    let out = psrm(&emu, "wrong-password", &["exec", "hostname"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("authentication"), "{err}");
    assert!(err.contains("credssp"), "{err}");
    assert!(!err.contains("wrong-password"), "password leaked: {err}");
}
