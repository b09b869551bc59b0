//! CredSSP (MS-CSSP) with SPNEGO inside, against the emulator with a real client: pywinrm 0.5.0
//! `transport='credssp'` with its default `credssp_auth_mechanism='auto'`, through
//! requests-credssp 2.0.0 / pyspnego 0.12, whose negoTokens are SPNEGO (NegTokenInit with
//! the NTLM NEGOTIATE, then NegTokenResps, the AUTHENTICATE with its mechListMIC next to
//! pubKeyAuth), over HTTPS and over HTTP with sealed bodies; and, with Kerberos credentials
//! from a real MIT KDC, krb5 first inside CredSSP and NTLM chosen. The peer records the
//! negoTokens both ways, so the tests check what really went inside. A missing peer or KDC
//! fails the tests.

mod http_support;
#[path = "kdc_support/mod.rs"]
mod kdc_support;

use http_support::{
    ALICE_PW, BOB_PW, WRONG_LOGONS, interop_line, parse_ok, server_config, start_wsman,
};
use kdc_support::Realm;

use emulator::{Config, Emulator};

fn config() -> Config {
    server_config(
        false,
        true,
        "[service]\nauth = [\"credssp\"]\nallow_unencrypted = false",
    )
}

async fn start(cfg: Config, tls: bool) -> Emulator {
    start_wsman(cfg, tls, false).await
}

/// Runs `interop/credssp_spnego.py`; its one result line.
async fn pywinrm(url: &str, user: &str, password: &str, cmd: &[&str]) -> String {
    pywinrm_env(url, user, password, cmd, Vec::new()).await
}

async fn pywinrm_env(
    url: &str,
    user: &str,
    password: &str,
    cmd: &[&str],
    mut env: Vec<(String, String)>,
) -> String {
    let mut args = vec![url, user];
    args.extend(cmd);
    env.push(("PSRM_TEST_PASSWORD".into(), password.into()));
    interop_line("credssp_spnego.py", &args, env).await
}

/// `OK <rc> <stdout> <stderr> <sent> <received>` → (rc, stdout, stderr, "sent received").
fn parse(line: &str) -> (i64, String, String, String) {
    let w: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(w.len(), 6, "{line:.300}");
    let (rc, stdout, stderr) = parse_ok(&w[..4].join(" "));
    (rc, stdout, stderr, w[4..].join(" "))
}

/// SPNEGO all the way. Sent: NegTokenInit (NTLM NEGOTIATE), then the AUTHENTICATE in a
/// NegTokenResp with the initiator's mechListMIC. Received: the CHALLENGE in a NegTokenResp,
/// then, next to pubKeyAuth, the acceptor's mechListMIC (which pyspnego verifies before it
/// unwraps pubKeyAuth).
const SPNEGO_LEGS: &str = "init(ntlm),resp+mic resp,resp+mic";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pywinrm_credssp_auto_over_https_runs_commands() {
    let emu = start(config(), true).await;
    let url = emu.url();
    assert!(url.starts_with("https://"), "{url}");
    let line = pywinrm(&url, "alice", ALICE_PW, &["hostname"]).await;
    assert_eq!(
        parse(&line),
        (0, "SERVER01\r\n".into(), String::new(), SPNEGO_LEGS.into())
    );
    // The delegated user is the one commands run as.
    let line = pywinrm(&url, "SERVER01\\bob", BOB_PW, &["whoami"]).await;
    let (rc, out, _, tokens) = parse(&line);
    assert_eq!(
        (rc, out.as_str(), tokens.as_str()),
        (0, "server01\\bob\r\n", SPNEGO_LEGS)
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pywinrm_credssp_auto_over_http_seals_with_the_inner_tls_session() {
    // allow_unencrypted = false: only bodies sealed with the CredSSP session get through.
    let emu = start(config(), false).await;
    assert!(emu.url().starts_with("http://"));
    let line = pywinrm(&emu.url(), "alice", ALICE_PW, &["hostname"]).await;
    assert_eq!(
        parse(&line),
        (0, "SERVER01\r\n".into(), String::new(), SPNEGO_LEGS.into())
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pywinrm_credssp_auto_wrong_password_or_user_fails() {
    let emu = start(config(), true).await;
    for (user, password) in WRONG_LOGONS {
        let line = pywinrm(&emu.url(), user, password, &["hostname"]).await;
        // Refused at the AUTHENTICATE leg: no pubKeyAuth reply (nor mechListMIC) comes back.
        assert!(
            line.starts_with("ERROR ") && line.ends_with(" init(ntlm),resp+mic resp"),
            "{user}: {line}"
        );
    }
    emu.shutdown().await;
}

/// With Kerberos credentials at hand (the MIT realm's krb5.conf, alice@PSRM.TEST), pyspnego
/// puts krb5 first inside CredSSP; the emulator's CredSSP takes NTLM (supportedMech NTLM, no
/// token), the NEGOTIATE follows in a NegTokenResp, and the delegated `alice@PSRM.TEST` is
/// the configured alice (the keytab names the realm).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pywinrm_credssp_auto_with_kerberos_credentials_falls_back_to_ntlm_inside() {
    let realm = Realm::start();
    let cfg = Config::from_toml(&format!(
        "computer_name = \"SERVER01\"\n[[users]]\nname = \"alice\"\npassword = \"{}\"\n\
         [service]\nauth = [\"credssp\"]\nallow_unencrypted = false\n\
         [kerberos]\nkeytab = \"{}\"\n",
        realm.password(),
        realm.keytab().display()
    ))
    .expect("config");
    let emu = start(cfg, true).await;
    let line = pywinrm_env(
        &emu.url(),
        realm.principal(),
        realm.password(),
        &["whoami"],
        realm.peer_env(),
    )
    .await;
    let (rc, out, _, tokens) = parse(&line);
    assert_eq!(rc, 0, "{line}");
    assert_eq!(out, "server01\\alice\r\n");
    // init (krb5 first), the NEGOTIATE and the AUTHENTICATE in NegTokenResps; back: the mech
    // selection, the CHALLENGE, the acceptor's mechListMIC.
    assert_eq!(
        tokens, "init(krb5),resp,resp+mic resp,resp,resp+mic",
        "{line}"
    );
    emu.shutdown().await;
}
