//! The Kerberos acceptor's session keys and wrap tokens against MIT clients and a real MIT KDC
//! (`scripts/test-kdc`, realm PSRM.TEST), through `interop/krb_enctypes.py`:
//!
//! - an aes128-cts-hmac-sha1-96 session key (the client's krb5.conf permits only aes128): the
//!   logon, the AP-REP, the acceptor subkey and the sealed bodies all use aes128, as a Windows
//!   acceptor does (pywinrm `run_cmd` sealed over HTTP, and pyspnego by hand);
//! - no mutual authentication: no AP-REP, and the acceptor's wrap tokens leave the
//!   AcceptorSubkey flag clear (RFC 4121 4.2.2), sealed with the initiator's subkey;
//! - SPNEGO listing krb5 first without an optimistic token: accept-incomplete naming krb5,
//!   then the AP-REQ in a NegTokenResp (as Windows), not a fall back to NTLM.
//!
//! A missing peer or KDC fails the tests: they are acceptance tests.

mod http_support;
#[path = "kdc_support/mod.rs"]
mod kdc_support;

use http_support::{b64_text, interop_line, parse_ok as ok, start_wsman};
use kdc_support::Realm;

use emulator::{Config, Emulator};

const AES128: &str = "aes128-cts-hmac-sha1-96";
const AES256: &str = "aes256-cts-hmac-sha1-96";

/// alice (the realm's user), `auth` on the realm's keytab.
fn config(realm: &Realm, auth: &str) -> Config {
    let text = format!(
        "computer_name = \"SERVER01\"\n\
         [[users]]\nname = \"alice\"\npassword = \"unused-by-kerberos\"\n\
         [service]\nauth = [{auth}]\nmax_timeout_ms = 5000\n\
         [kerberos]\nkeytab = \"{}\"\n",
        realm.keytab().display()
    );
    Config::from_toml(&text).expect("test configuration parses")
}

async fn start(realm: &Realm, auth: &str) -> Emulator {
    start_wsman(config(realm, auth), false, true).await
}

/// Runs `interop/krb_enctypes.py <mode> URL PRINCIPAL <rest>` with the realm's environment.
async fn py(realm: &Realm, mode: &str, url: &str, rest: &[&str]) -> String {
    let mut args = vec![mode, url, realm.principal()];
    args.extend(rest);
    let mut env = realm.peer_env();
    env.push(("PSRM_TEST_PASSWORD".into(), realm.password().into()));
    interop_line("krb_enctypes.py", &args, env).await
}

/// A by-hand peer's line: (the part before `SEALED`, the wrap token flags of the two sealed
/// replies, the last reply unsealed).
fn sealed(line: &str) -> (String, Vec<String>, String) {
    let (auth, rest) = line
        .split_once(" SEALED ")
        .unwrap_or_else(|| panic!("no sealed round trip: {line}"));
    let words: Vec<&str> = rest.split(' ').collect();
    let [first, second, plain] = words.as_slice() else {
        panic!("SEALED <flags> <flags> <plain>: {line}");
    };
    (
        auth.to_owned(),
        vec![(*first).to_owned(), (*second).to_owned()],
        b64_text(plain),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aes128_session_key_logs_on_and_seals_with_pywinrm() {
    let realm = Realm::start();
    let emu = start(&realm, "\"kerberos\"").await;
    let url = emu.url();
    let line = py(&realm, "pywinrm_cmd", &url, &[AES128, "hostname"]).await;
    assert_eq!(
        ok(&line),
        (0, "SERVER01\r\n".into(), String::new()),
        "{line}"
    );
    let line = py(&realm, "pywinrm_cmd", &url, &[AES128, "whoami"]).await;
    let (rc, out, _) = ok(&line);
    assert_eq!(rc, 0, "{line}");
    assert!(out.to_lowercase().contains("alice"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_logon_sends_an_acceptor_subkey_of_the_session_key_type() {
    let realm = Realm::start();
    let emu = start(&realm, "\"kerberos\"").await;
    let url = emu.url();
    // The key MIT reports is the one sealing (the acceptor subkey from the AP-REP): 16 bytes
    // for aes128, 32 for aes256. Flags 07: sent by the acceptor, sealed, acceptor subkey.
    for (enctypes, key) in [(AES128, 16), (AES256, 32)] {
        for scheme in ["Kerberos", "Negotiate"] {
            let line = py(
                &realm,
                "sealed",
                &url,
                &[enctypes, "HTTP/127.0.0.1", scheme, "yes"],
            )
            .await;
            let (auth, flags, plain) = sealed(&line);
            assert_eq!(
                auth,
                format!("AUTH status=200 reply=yes complete=True key={key}"),
                "{enctypes} {scheme}: {line}"
            );
            assert_eq!(flags, ["07", "07"], "{line}");
            assert!(plain.contains("ShellId"), "{plain}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_mutual_authentication_no_ap_rep_and_no_acceptor_subkey_flag() {
    let realm = Realm::start();
    let emu = start(&realm, "\"kerberos\"").await;
    let url = emu.url();
    for enctypes in [AES128, AES256] {
        for scheme in ["Kerberos", "Negotiate"] {
            let line = py(
                &realm,
                "sealed",
                &url,
                &[enctypes, "WSMAN/127.0.0.1", scheme, "no"],
            )
            .await;
            let (auth, flags, plain) = sealed(&line);
            // No AP-REP: the context is complete after the AP-REQ alone.
            assert!(
                auth.starts_with("AUTH status=200 reply=no complete=True key="),
                "{enctypes} {scheme}: {line}"
            );
            // Flags 03: sent by the acceptor, sealed; no acceptor subkey exists.
            assert_eq!(flags, ["03", "03"], "{enctypes} {scheme}: {line}");
            assert!(plain.contains("ShellId"), "{plain}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spnego_krb5_first_without_a_token_selects_kerberos_and_waits_for_the_ap_req() {
    let realm = Realm::start();
    // With NTLM available too: krb5 is still chosen, as the initiator's first mechanism.
    for auth in ["\"negotiate\", \"kerberos\"", "\"kerberos\""] {
        let emu = start(&realm, auth).await;
        let url = emu.url();
        for enctypes in [AES128, AES256] {
            let line = py(
                &realm,
                "spnego_no_token",
                &url,
                &[enctypes, "HTTP/127.0.0.1"],
            )
            .await;
            let (auth_part, flags, plain) = sealed(&line);
            // accept-incomplete (01) naming krb5, no token; then accept-completed (00) with the
            // AP-REP, which completes the client's context.
            assert_eq!(
                auth_part, "FIRST state=01 mech=krb5 token=no AUTH state=00 complete=True",
                "{auth} {enctypes}: {line}"
            );
            assert_eq!(flags, ["07", "07"], "{line}");
            assert!(plain.contains("ShellId"), "{plain}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spnego_krb5_first_without_a_token_is_ntlm_when_kerberos_is_off() {
    let realm = Realm::start();
    let emu = start(&realm, "\"negotiate\"").await;
    let line = py(
        &realm,
        "spnego_no_token",
        &emu.url(),
        &[AES128, "HTTP/127.0.0.1"],
    )
    .await;
    // SPNEGO goes on with NTLM, the other mechanism listed: supportedMech NTLM.
    assert!(
        line.starts_with("FIRST state=01 mech=2b06010401823702020a token=no "),
        "{line}"
    );
}
