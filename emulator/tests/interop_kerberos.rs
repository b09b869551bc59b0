//! Kerberos against the emulator with real peers and a real MIT KDC (`scripts/test-kdc`, realm
//! PSRM.TEST): pywinrm 0.5 `transport='kerberos'` (sealed bodies over HTTP, and over HTTPS),
//! pypsrp 0.9.1 `WSMan(auth='kerberos')` with a RunspacePool, pyspnego's own SPNEGO, and a Go
//! client on jcmturner/gokrb5 v8 `spnego` (SPNEGO NegTokenInit, no mutual authentication). All
//! get alice's credentials from her password (MIT's AS exchange through gssapi, or gokrb5's
//! `client.NewWithPassword`). A missing peer or KDC fails the tests: they are acceptance tests.

mod http_support;
#[path = "kdc_support/mod.rs"]
mod kdc_support;

use http_support::{b64_text, go_build, interop_line, last_line, parse_ok as ok, start_wsman};
use kdc_support::Realm;

use std::path::PathBuf;
use std::sync::OnceLock;

use emulator::Config;
use emulator::Emulator;

/// alice (the realm's user) and bob, Kerberos (plus `extra_auth`) on the realm's keytab.
fn config(realm: &Realm, auth: &str, extra: &str) -> Config {
    let text = format!(
        "computer_name = \"SERVER01\"\n\
         [[users]]\nname = \"alice\"\npassword = \"unused-by-kerberos\"\n\
         [[users]]\nname = \"bob\"\npassword = \"Bob-pw-9911\"\n\
         [service]\nauth = [{auth}]\nmax_timeout_ms = 5000\n\
         [kerberos]\nkeytab = \"{}\"\n{extra}\n",
        realm.keytab().display()
    );
    Config::from_toml(&text).expect("test configuration parses")
}

async fn start(cfg: Config, tls: bool) -> Emulator {
    start_wsman(cfg, tls, true).await
}

/// Runs `interop/krb_peer.py <mode> URL PRINCIPAL <rest>` with the realm's environment; its
/// last line.
async fn py(realm: &Realm, mode: &str, url: &str, rest: &[&str]) -> String {
    let mut args = vec![mode, url, realm.principal()];
    args.extend(rest);
    let mut env = realm.peer_env();
    env.push(("PSRM_TEST_PASSWORD".into(), realm.password().into()));
    interop_line("krb_peer.py", &args, env).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pywinrm_kerberos_sealed_over_http_runs_cmd_and_ps() {
    let realm = Realm::start();
    let emu = start(config(&realm, "\"kerberos\"", ""), false).await;
    let url = emu.url();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let line = py(&realm, "pywinrm_cmd", &url, &["hostname"]).await;
    assert_eq!(ok(&line), (0, "SERVER01\r\n".into(), String::new()));
    let line = py(&realm, "pywinrm_cmd", &url, &["whoami"]).await;
    let (rc, out, _) = ok(&line);
    assert_eq!(rc, 0);
    assert!(out.to_lowercase().contains("alice"), "{out}");
    let line = py(&realm, "pywinrm_ps", &url, &["Write-Output ('k' + 'rb')"]).await;
    let (rc, out, _) = ok(&line);
    assert_eq!((rc, out.trim()), (0, "krb"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pywinrm_kerberos_over_https_runs_cmd() {
    let realm = Realm::start();
    let emu = start(config(&realm, "\"kerberos\"", ""), true).await;
    let url = emu.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let line = py(&realm, "pywinrm_cmd", &url, &["hostname"]).await;
    assert_eq!(ok(&line), (0, "SERVER01\r\n".into(), String::new()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypsrp_kerberos_runspace_pool_runs_powershell() {
    let realm = Realm::start();
    let emu = start(config(&realm, "\"kerberos\"", ""), false).await;
    let url = emu.url();
    let line = py(&realm, "pypsrp", &url, &["Write-Output ('psrp-' + 'krb')"]).await;
    let body = line
        .strip_prefix("PS ")
        .unwrap_or_else(|| panic!("pypsrp failed: {line}"));
    let (out, status) = body.split_once('|').expect("PS out|status");
    assert_eq!((b64_text(out).as_str(), status), ("psrp-krb", "ok"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyspnego_negotiate_krb5_seals_a_shell_create() {
    let realm = Realm::start();
    let emu = start(config(&realm, "\"negotiate\", \"kerberos\"", ""), false).await;
    let url = emu.url();
    let line = py(&realm, "negotiate", &url, &["HTTP/127.0.0.1"]).await;
    let (status, reply, _) = ok(&line);
    assert_eq!(status, 200, "{reply}");
    assert!(reply.contains("ShellId"), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_krb5_token_under_kerberos_and_negotiate_schemes_gets_an_ap_rep() {
    let realm = Realm::start();
    let emu = start(config(&realm, "\"kerberos\"", ""), false).await;
    let url = emu.url();
    for scheme in ["Kerberos", "Negotiate"] {
        let line = py(&realm, "raw", &url, &["HTTP/127.0.0.1", scheme]).await;
        // 200 with the AP-REP under the same scheme, and pyspnego's context completes on it
        // (the mutual authentication MIT asks for).
        assert!(line.starts_with(&format!("HTTP 200 {scheme}_")), "{line}");
        assert!(line.ends_with("complete=True"), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_ticket_for_unknown_service_unknown_user_and_kerberos_disabled() {
    let realm = Realm::start();
    // Only WSMAN/127.0.0.1 is accepted: a ticket for HTTP/127.0.0.1 has no key here.
    let emu = start(
        config(
            &realm,
            "\"kerberos\"",
            "principals = [\"WSMAN/127.0.0.1@PSRM.TEST\"]",
        ),
        false,
    )
    .await;
    let url = emu.url();
    let line = py(&realm, "raw", &url, &["HTTP/127.0.0.1", "Kerberos"]).await;
    assert!(line.starts_with("HTTP 401 "), "{line}");
    let line = py(&realm, "raw", &url, &["WSMAN/127.0.0.1", "Kerberos"]).await;
    assert!(line.starts_with("HTTP 200 Kerberos_"), "{line}");
    drop(emu);

    // A valid ticket of an account that is not a configured user: 401.
    let text = format!(
        "[[users]]\nname = \"bob\"\npassword = \"pw\"\n[service]\nauth = [\"kerberos\"]\n\
         [kerberos]\nkeytab = \"{}\"\n",
        realm.keytab().display()
    );
    let cfg = Config::from_toml(&text).expect("config");
    let emu = start(cfg, false).await;
    let line = py(&realm, "raw", &emu.url(), &["HTTP/127.0.0.1", "Kerberos"]).await;
    assert!(line.starts_with("HTTP 401 "), "{line}");
    drop(emu);

    // Kerberos not in [service] auth: not advertised, a valid ticket refused.
    let emu = start(config(&realm, "\"negotiate\", \"basic\"", ""), false).await;
    let line = py(&realm, "raw", &emu.url(), &["HTTP/127.0.0.1", "Negotiate"]).await;
    assert!(line.starts_with("HTTP 401 "), "{line}");
    assert!(!line.contains("Kerberos"), "{line}");
    let line = py(&realm, "pywinrm_cmd", &emu.url(), &["hostname"]).await;
    assert!(line.starts_with("ERROR "), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_clock_skew_beyond_the_configured_limit_is_refused() {
    let realm = Realm::start();
    let emu = start(
        config(&realm, "\"kerberos\"", "max_clock_skew_secs = 60"),
        false,
    )
    .await;
    let url = emu.url();
    // 10 s ahead: within 60 s, accepted; 120 s ahead (still within the KDC's 5 minutes): 401.
    let line = py(&realm, "skewed", &url, &["HTTP/127.0.0.1", "10"]).await;
    assert_eq!(line, "HTTP 200 complete=True");
    let line = py(&realm, "skewed", &url, &["HTTP/127.0.0.1", "120"]).await;
    assert_eq!(line, "HTTP 401 complete=False");
    let line = py(&realm, "skewed", &url, &["HTTP/127.0.0.1", "-120"]).await;
    assert_eq!(line, "HTTP 401 complete=False");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenge_advertises_negotiate_and_kerberos() {
    let realm = Realm::start();
    let emu = start(config(&realm, "\"negotiate\", \"kerberos\"", ""), false).await;
    let resp = reqwest_free_post(&emu.url()).await;
    assert!(resp.starts_with("HTTP/1.1 401"), "{resp}");
    let lower = resp.to_ascii_lowercase();
    assert!(lower.contains("www-authenticate: negotiate\r\n"), "{resp}");
    assert!(lower.contains("www-authenticate: kerberos\r\n"), "{resp}");
}

/// A bare POST without credentials; the raw response head.
async fn reqwest_free_post(url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .expect("host:port")
        .to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    s.write_all(
        format!(
            "POST /wsman HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.expect("read");
    String::from_utf8_lossy(&out).into_owned()
}

/// Builds tests/interop/krb_go/main.go once, in GOPATH mode against Debian's gokrb5 v8.
fn go_client() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            go_build(
                "krb_go",
                "krb_go",
                "github.com/jcmturner/gokrb5",
                "golang-github-jcmturner-gokrb5-dev",
            )
        })
        .clone()
}

async fn go(realm: &Realm, url: &str, spn: &str, mode: &str) -> String {
    let args = [url, realm.user(), realm.realm(), spn, mode].map(str::to_owned);
    let env = [
        ("PSRM_TEST_PASSWORD", realm.password().to_owned()),
        ("KRB5_CONFIG", realm.krb5_config().display().to_string()),
    ];
    last_line(go_client(), args.to_vec(), env).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gokrb5_spnego_client_runs_a_command() {
    let realm = Realm::start();
    let emu = start(config(&realm, "\"negotiate\", \"kerberos\"", ""), false).await;
    let line = go(&realm, &emu.url(), "HTTP/127.0.0.1", "client").await;
    let (rc, out, _) = ok(&line);
    assert_eq!((rc, out.as_str()), (0, "SERVER01\r\n"), "{line}");
    // The same with the SPNEGO header sent up front (no 401 leg).
    let line = go(&realm, &emu.url(), "WSMAN/127.0.0.1", "once").await;
    let (rc, out, _) = ok(&line);
    assert_eq!((rc, out.as_str()), (0, "SERVER01\r\n"), "{line}");
    // A ticket for a principal the emulator has no key for: 401 (sent once: gokrb5's
    // spnego.Client would answer every 401 with a new AP-REQ, forever).
    let emu = start(
        config(
            &realm,
            "\"negotiate\", \"kerberos\"",
            "principals = [\"WSMAN/localhost\"]",
        ),
        false,
    )
    .await;
    let line = go(&realm, &emu.url(), "HTTP/127.0.0.1", "once").await;
    assert!(line.starts_with("ERROR create: 401"), "{line}");
}
