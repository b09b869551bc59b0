//! CredSSP (MS-CSSP) with Kerberos inside, against the emulator with a real client and a real
//! MIT KDC: pywinrm 0.5.0 `transport='credssp'` with `credssp_auth_mechanism='kerberos'`,
//! through requests-credssp 2.0.0 / pyspnego 0.12 (GSSAPI): a raw GSS krb5 AP-REQ in the first
//! TSRequest, the AP-REP back, then pubKeyAuth both ways and the delegated TSCredentials as
//! RFC 4121 wrap tokens under the Kerberos context. The peer records the negoTokens both ways.
//! A missing peer or KDC fails the tests.

mod http_support;
#[path = "kdc_support/mod.rs"]
mod kdc_support;

use http_support::{interop_line, parse_ok, start_wsman};
use kdc_support::Realm;

use emulator::{Config, Emulator};

/// alice (with `password`) and the realm's keytab; CredSSP only, HTTPS.
fn config(realm: &Realm, password: &str) -> Config {
    Config::from_toml(&format!(
        "computer_name = \"SERVER01\"\n[[users]]\nname = \"alice\"\npassword = \"{password}\"\n\
         [service]\nauth = [\"credssp\"]\nallow_unencrypted = false\n\
         [kerberos]\nkeytab = \"{}\"\n",
        realm.keytab().display()
    ))
    .expect("config")
}

async fn start(cfg: Config) -> Emulator {
    start_wsman(cfg, true, false).await
}

/// Runs `interop/credssp_kerberos.py` as `alice@PSRM.TEST`; its one result line.
async fn pywinrm(realm: &Realm, url: &str, password: &str, cmd: &[&str]) -> String {
    let mut args = vec![url, realm.principal()];
    args.extend(cmd);
    let mut env = realm.peer_env();
    env.push(("PSRM_TEST_PASSWORD".into(), password.into()));
    interop_line("credssp_kerberos.py", &args, env).await
}

/// `OK <rc> <stdout> <stderr> <sent> <received>` → (rc, stdout, stderr, "sent received").
fn parse(line: &str) -> (i64, String, String, String) {
    let w: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(w.len(), 6, "{line:.300}");
    let (rc, stdout, stderr) = parse_ok(&w[..4].join(" "));
    (rc, stdout, stderr, w[4..].join(" "))
}

/// One AP-REQ out, one AP-REP back; pubKeyAuth and authInfo carry no negoTokens.
const KERBEROS_LEGS: &str = "ap-req ap-rep";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pywinrm_credssp_kerberos_over_https_runs_commands_as_the_principal() {
    let realm = Realm::start();
    let emu = start(config(&realm, realm.password())).await;
    let url = emu.url();
    assert!(url.starts_with("https://"), "{url}");
    let line = pywinrm(&realm, &url, realm.password(), &["hostname"]).await;
    assert_eq!(
        parse(&line),
        (
            0,
            "SERVER01\r\n".into(),
            String::new(),
            KERBEROS_LEGS.into()
        )
    );
    // The delegated alice@PSRM.TEST is the configured alice, whom commands run as.
    let line = pywinrm(&realm, &url, realm.password(), &["whoami"]).await;
    let (rc, out, _, tokens) = parse(&line);
    assert_eq!(
        (rc, out.as_str(), tokens.as_str()),
        (0, "server01\\alice\r\n", KERBEROS_LEGS)
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pywinrm_credssp_kerberos_delegated_password_must_match_the_configured_one() {
    let realm = Realm::start();
    // The KDC takes the realm's password, so the Kerberos logon and both pubKeyAuth legs
    // succeed; the delegated password is not the emulator's alice's, so authInfo is refused.
    let emu = start(config(&realm, "not-the-kdc-password")).await;
    let line = pywinrm(&realm, &emu.url(), realm.password(), &["hostname"]).await;
    assert!(
        line.starts_with("ERROR ")
            && line.contains("after step Credential exchange")
            && line.ends_with(&format!(" {KERBEROS_LEGS}")),
        "{line}"
    );
    // A wrong password fails at the KDC, on the client: no TSRequest token is ever sent.
    let emu2 = start(config(&realm, realm.password())).await;
    let line = pywinrm(&realm, &emu2.url(), "wrong-password", &["hostname"]).await;
    assert!(
        line.starts_with("ERROR ") && line.ends_with(" - -"),
        "{line}"
    );
    emu.shutdown().await;
    emu2.shutdown().await;
}
