//! CredSSP (MS-CSSP) against the emulator over HTTPS with a real client: pywinrm 0.5.0
//! `transport='credssp'` through requests-credssp 2.0.0 / pyspnego (raw NTLM inside, as
//! `credssp_auth_mechanism='ntlm'`). A missing peer fails the test: it is an acceptance test.

mod http_support;

use http_support::{
    ALICE_PW, BOB_PW, WRONG_LOGONS, interop_line, parse_ok, server_config, start_wsman,
};

use emulator::{Config, Emulator};

fn config(auth: &str) -> Config {
    server_config(
        false,
        true,
        &format!("[service]\nauth = [{auth}]\nallow_unencrypted = false"),
    )
}

async fn start(cfg: Config) -> Emulator {
    start_wsman(cfg, true, false).await
}

async fn start_http(cfg: Config) -> Emulator {
    start_wsman(cfg, false, false).await
}

/// Runs the pywinrm CredSSP client; its one result line.
async fn pywinrm(url: &str, user: &str, password: &str, mechanism: &str, cmd: &[&str]) -> String {
    let mut args = vec![url, user, mechanism];
    args.extend(cmd);
    interop_line("credssp.py", &args, [("PSRM_TEST_PASSWORD", password)]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pywinrm_credssp_ntlm_over_https_runs_commands() {
    let emu = start(config("\"credssp\"")).await;
    let url = emu.url();
    let line = pywinrm(&url, "alice", ALICE_PW, "ntlm", &["hostname"]).await;
    let (rc, stdout, stderr) = parse_ok(&line);
    assert_eq!(
        (rc, stdout.as_str(), stderr.as_str()),
        (0, "SERVER01\r\n", "")
    );
    // The delegated user is the one commands run as.
    let line = pywinrm(&url, "SERVER01\\bob", BOB_PW, "ntlm", &["whoami"]).await;
    assert_eq!(parse_ok(&line).1, "server01\\bob\r\n");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pywinrm_credssp_over_http_seals_with_the_inner_tls_session() {
    // allow_unencrypted = false: only bodies sealed with the CredSSP session get through
    // (pywinrm's message_encryption='auto' seals over HTTP).
    let emu = start_http(config("\"credssp\"")).await;
    assert!(emu.url().starts_with("http://"));
    let line = pywinrm(&emu.url(), "alice", ALICE_PW, "ntlm", &["hostname"]).await;
    let (rc, stdout, stderr) = parse_ok(&line);
    assert_eq!(
        (rc, stdout.as_str(), stderr.as_str()),
        (0, "SERVER01\r\n", "")
    );
    // A command line and output larger than one 16 KiB part travel in several sealed parts.
    let long = format!("{}-end", "0123456789".repeat(4_000));
    let line = pywinrm(&emu.url(), "alice", ALICE_PW, "ntlm", &["echo", &long]).await;
    let (rc, stdout, _) = parse_ok(&line);
    assert_eq!(rc, 0, "{line:.200}");
    assert_eq!(stdout, format!("{long}\r\n"));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pywinrm_credssp_wrong_password_or_user_fails() {
    let emu = start(config("\"credssp\"")).await;
    let url = emu.url();
    for (user, password) in WRONG_LOGONS {
        let line = pywinrm(&url, user, password, "ntlm", &["hostname"]).await;
        // Refused at the AUTHENTICATE message: a plain challenge instead of the pubKeyAuth reply.
        assert!(
            line.starts_with("ERROR AuthenticationException") && line.contains("Public key"),
            "{user}: {line}"
        );
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credssp_not_offered_is_refused_before_any_exchange() {
    // CredSSP is off unless configured, as on Windows: requests-credssp finds no CredSSP in the
    // challenge and gives up.
    let emu = start(config("\"basic\", \"negotiate\"")).await;
    let line = pywinrm(&emu.url(), "alice", ALICE_PW, "ntlm", &["hostname"]).await;
    assert!(line.starts_with("ERROR "), "{line}");
    assert!(line.contains("CredSSP"), "{line}");
    emu.shutdown().await;
}
