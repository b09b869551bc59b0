//! `psrm --auth kerberos` and `--auth negotiate` (Kerberos inside SPNEGO) end to end: a throwaway
//! MIT KDC (scripts/test-kdc) issues the tickets, a `psrm emulator` process accepts them with the
//! realm's keytab, and the `psrm` binary does the whole client side (AS and TGS exchanges with the
//! KDC, AP-REQ, mutual authentication, sealed messages over HTTP).

#[path = "../emulator/tests/kdc_support/mod.rs"]
mod kdc_support;
mod support;

use std::process::{Command, Output, Stdio};

use kdc_support::Realm;
use support::{EmulatorProcess, PSRM, scratch_dir, start_emulator, stdout_of};

fn emulator(realm: &Realm, auth: &str) -> EmulatorProcess {
    let config = format!(
        "computer_name = \"SERVER01\"\n[[users]]\nname = \"alice\"\npassword = \"not-the-kerberos-one\"\n\
         admin = true\n[service]\nauth = [{auth}]\n[kerberos]\nkeytab = \"{}\"\n",
        realm.keytab().display()
    );
    start_emulator(scratch_dir("psrm-cli-kerberos"), &config, &[], "http")
}

fn psrm(emu: &EmulatorProcess, realm: &Realm, auth: &str, password: &str, args: &[&str]) -> Output {
    psrm_at(&emu.addr, emu, realm, auth, password, args)
}

fn psrm_at(
    host: &str,
    emu: &EmulatorProcess,
    realm: &Realm,
    auth: &str,
    password: &str,
    args: &[&str],
) -> Output {
    Command::new(PSRM)
        .args(["-H", host, "--auth", auth])
        .args(["--kdc", &realm.kdc_addr().to_string()])
        .arg("--state-dir")
        .arg(emu.dir.join("state"))
        .args(args)
        .env("PSRM_USER", realm.principal())
        .env("PSRM_PASSWORD", password)
        .env_remove("PSRM_KDC")
        .env("KRB5_CONFIG", realm.dir().join("absent-krb5.conf"))
        .stdin(Stdio::null())
        .output()
        .expect("run psrm")
}

#[test]
fn exec_and_invoke_over_kerberos_and_a_wrong_password_names_the_kdc_refusal() {
    let realm = Realm::start();
    let emu = emulator(&realm, "\"kerberos\"");
    let out = psrm(
        &emu,
        &realm,
        "kerberos",
        realm.password(),
        &["exec", "whoami"],
    );
    let who = stdout_of(&out).to_lowercase();
    assert!(who.contains("alice"), "whoami said {who:?}");

    let out = psrm(
        &emu,
        &realm,
        "kerberos",
        realm.password(),
        &["invoke", "--", "'kerb' + 'eros'"],
    );
    assert_eq!(stdout_of(&out).trim(), "kerberos");

    // The emulator's own password for alice is not Kerberos': the KDC decides.
    let out = psrm(
        &emu,
        &realm,
        "kerberos",
        "not-the-kerberos-one",
        &["exec", "whoami"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.to_lowercase().contains("password"), "{err}");
    assert!(
        !err.contains("not-the-kerberos-one"),
        "password leaked: {err}"
    );
}

#[test]
fn negotiate_with_a_kdc_carries_kerberos_where_ntlm_would_be_refused() {
    let realm = Realm::start();
    // The emulator's NTLM password for alice is not the Kerberos one, so an NTLM fallback inside
    // SPNEGO would be refused: only Kerberos can get this through.
    let emu = emulator(&realm, "\"negotiate\", \"kerberos\"");
    // A host name gives the SPN (HTTP/localhost); with an IP address --spn names the service.
    let port = emu
        .addr
        .rsplit_once(':')
        .map(|(_, p)| p)
        .expect("addr has a port");
    let by_name = format!("localhost:{port}");
    let out = psrm_at(
        &by_name,
        &emu,
        &realm,
        "negotiate",
        realm.password(),
        &["exec", "hostname"],
    );
    assert_eq!(stdout_of(&out).trim(), "SERVER01");
    let out = psrm(
        &emu,
        &realm,
        "negotiate",
        realm.password(),
        &["--spn", "HTTP/localhost", "exec", "hostname"],
    );
    assert_eq!(stdout_of(&out).trim(), "SERVER01");
}
