//! `psrm test-wsman` end to end: a `psrm emulator` process and the client binary (list layout,
//! `--json`, Basic and sealed NTLM, a refused logon).

mod support;

use std::process::{Command, Output, Stdio};

use serde_json::Value;
use support::{PSRM, scratch_dir, start_emulator, stdout_of};

const PASSWORD: &str = "Id-pw-31415";

fn config() -> String {
    format!(
        "computer_name = \"ID01\"\n[[users]]\nname = \"alice\"\npassword = \"{PASSWORD}\"\n[service]\nallow_unencrypted = false\n"
    )
}

fn psrm(addr: &str, auth: &str, password: &str, args: &[&str]) -> Output {
    let state = scratch_dir("psrm-cli-identify-state");
    let out = Command::new(PSRM)
        .args(["-H", addr, "--auth", auth, "-u", "alice", "--state-dir"])
        .arg(&state)
        .arg("test-wsman")
        .args(args)
        .env("PSRM_PASSWORD", password)
        .stdin(Stdio::null())
        .output()
        .expect("run psrm");
    let _ = std::fs::remove_dir_all(&state);
    out
}

#[test]
fn test_wsman_against_the_emulator() {
    let emu = start_emulator(scratch_dir("psrm-cli-identify"), &config(), &[], "http");
    // NTLM, sealed (the emulator refuses plaintext): Test-WSMan's list layout.
    let text = stdout_of(&psrm(&emu.addr, "ntlm", PASSWORD, &[]));
    assert_eq!(
        text,
        concat!(
            "wsmid            : http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd\n",
            "ProtocolVersion  : http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\n",
            "ProductVendor    : Microsoft Corporation\n",
            "ProductVersion   : OS: 10.0.17763 SP: 0.0 Stack: 3.0\n",
            "SecurityProfiles : {http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/basic, ",
            "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/spnego-kerberos}\n",
        )
    );
    // Negotiate with --json.
    let doc: Value = serde_json::from_str(&stdout_of(&psrm(
        &emu.addr,
        "negotiate",
        PASSWORD,
        &["--json"],
    )))
    .expect("one json document");
    assert_eq!(doc["ComputerName"], emu.addr.as_str());
    assert_eq!(doc["ProductVendor"], "Microsoft Corporation");
    assert_eq!(doc["OSVersion"], "10.0.17763");
    assert_eq!(
        doc["ProtocolVersion"],
        "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
    );
    assert_eq!(
        doc["SecurityProfiles"].as_array().map(Vec::len),
        Some(2),
        "{doc}"
    );
    // A wrong password: exit 1, one line naming the host and the auth failure.
    let out = psrm(&emu.addr, "ntlm", "wrong", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did not answer the Identify"), "{err}");
    assert!(err.contains("authentication failed"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
