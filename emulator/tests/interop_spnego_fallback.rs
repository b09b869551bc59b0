//! SPNEGO mechanism fallback with real peers and a real MIT KDC (`scripts/test-kdc`, realm
//! PSRM.TEST): clients that hold Kerberos credentials offer krb5 first, with an optimistic
//! AP-REQ, and NTLM after it; an emulator that cannot take Kerberos (not enabled in
//! `[service] auth`, or no key for the ticket's service) answers as Windows does, with
//! supportedMech NTLM and no token, and the exchange goes on as NTLM inside SPNEGO with the
//! mechListMIC that RFC 4178 requires when the initiator's first choice was not taken.
//!
//! Peers: this workspace's transport (`AuthMethod::Negotiate` with the realm's KDC, sspi's
//! SPNEGO) seen through a recording proxy, and pyspnego 0.12's own SPNEGO over python-gssapi.
//! Alice is an account of the realm; the emulator knows PSRM.TEST from its keytab, so
//! NTLM's `alice@PSRM.TEST` is its user alice. A missing peer or KDC fails the tests.

mod http_support;
#[path = "kdc_support/mod.rs"]
mod kdc_support;

use http_support::{interop_line, start_wsman};
use kdc_support::Realm;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use emulator::http::EchoService;
use emulator::{Config, Emulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wsman_transport::{AuthMethod, ConnectionConfig, Credentials, HttpTransport, Lane, Transport};

const KRB5_OID: &str = "1.2.840.113554.1.2.2";
const NTLM_OID: &str = "1.3.6.1.4.1.311.2.2.10";

/// alice (the realm's password) on the realm's keytab, with `auth` enabled.
fn config(realm: &Realm, auth: &str, extra: &str) -> Config {
    let text = format!(
        "computer_name = \"SERVER01\"\n\
         [[users]]\nname = \"alice\"\npassword = \"{}\"\n\
         [service]\nauth = [{auth}]\nmax_timeout_ms = 5000\n\
         [kerberos]\nkeytab = \"{}\"\n{extra}\n",
        realm.password(),
        realm.keytab().display()
    );
    Config::from_toml(&text).expect("test configuration parses")
}

/// Runs `interop/spnego_fallback.py URL PRINCIPAL SPN`; its last line.
async fn pyspnego(realm: &Realm, url: &str, spn: &str) -> String {
    let mut env = realm.peer_env();
    env.push(("PSRM_TEST_PASSWORD".into(), realm.password().into()));
    interop_line("spnego_fallback.py", &[url, realm.principal(), spn], env).await
}

/// `OK first=.. legs=.. protocol=.. complete=.. <b64> reply1=.. final_mic=..` → (fields
/// without the reply, decoded reply).
fn ok(line: &str) -> (Vec<String>, String) {
    let w: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(w.first(), Some(&"OK"), "peer failed: {line}");
    let reply = STANDARD.decode(w[5]).expect("base64 reply");
    let mut fields: Vec<String> = w[1..5].iter().map(|s| (*s).to_owned()).collect();
    fields.extend(w[6..].iter().map(|s| (*s).to_owned()));
    (fields, String::from_utf8(reply).expect("utf-8"))
}

fn assert_fell_back(line: &str) {
    let (fields, reply) = ok(line);
    // krb5 first, NTLM offered later; three legs: the krb5 offer (401, supportedMech NTLM), the
    // NTLM NEGOTIATE (401, CHALLENGE), the AUTHENTICATE with its mechListMIC (200 carrying the
    // acceptor's mechListMIC, which pyspnego verifies).
    let first = fields[0].strip_prefix("first=").expect("first=");
    let mechs: Vec<&str> = first.split(',').collect();
    assert!(
        mechs[0] == KRB5_OID || mechs[0] == "1.2.840.48018.1.2.2",
        "{line}"
    );
    assert!(mechs[1..].contains(&NTLM_OID), "{line}");
    assert_eq!(fields[1], "legs=3", "{line}");
    assert_eq!(fields[2], "protocol=ntlm", "{line}");
    assert_eq!(fields[3], "complete=True", "{line}");
    // The first answer: accept-incomplete, supportedMech NTLM, no token; the last one carries
    // the acceptor's mechListMIC (verified by pyspnego before `complete`).
    assert_eq!(fields[4], format!("reply1=1:{NTLM_OID}:none"), "{line}");
    assert_eq!(fields[5], "final_mic=True", "{line}");
    assert!(reply.contains("ShellId"), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyspnego_krb5_first_falls_back_to_ntlm_when_kerberos_is_off() {
    let realm = Realm::start();
    let emu = start_wsman(config(&realm, "\"negotiate\"", ""), false, true).await;
    let line = pyspnego(&realm, &emu.url(), "HTTP/127.0.0.1").await;
    assert_fell_back(&line);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyspnego_krb5_first_falls_back_to_ntlm_without_a_key_for_the_service() {
    let realm = Realm::start();
    // Kerberos on, but only WSMAN/127.0.0.1 has a key: the HTTP/127.0.0.1 ticket cannot be
    // read, so SPNEGO takes NTLM.
    let emu = start_wsman(
        config(
            &realm,
            "\"negotiate\", \"kerberos\"",
            "principals = [\"WSMAN/127.0.0.1@PSRM.TEST\"]",
        ),
        false,
        true,
    )
    .await;
    let line = pyspnego(&realm, &emu.url(), "HTTP/127.0.0.1").await;
    assert_fell_back(&line);
    // With the key, the same client stays on Kerberos.
    let line = pyspnego(&realm, &emu.url(), "WSMAN/127.0.0.1").await;
    let (fields, reply) = ok(&line);
    assert_eq!(fields[2], "protocol=kerberos", "{line}");
    assert!(reply.contains("ShellId"), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_fallback_when_negotiate_is_off_or_the_password_is_wrong() {
    let realm = Realm::start();
    // Neither Negotiate nor Kerberos enabled: the SPNEGO offer is refused outright.
    let emu = start_wsman(config(&realm, "\"basic\"", ""), false, true).await;
    let line = pyspnego(&realm, &emu.url(), "HTTP/127.0.0.1").await;
    assert!(line.starts_with("HTTP 401 legs=1 "), "{line}");
    drop(emu);
    // The NTLM side holds another password for alice: the fallback runs and is refused at the
    // AUTHENTICATE.
    let text = format!(
        "[[users]]\nname = \"alice\"\npassword = \"not-the-realm-password\"\n\
         [service]\nauth = [\"negotiate\"]\n[kerberos]\nkeytab = \"{}\"\n",
        realm.keytab().display()
    );
    let emu = start_wsman(Config::from_toml(&text).expect("config"), false, true).await;
    let line = pyspnego(&realm, &emu.url(), "HTTP/127.0.0.1").await;
    assert!(line.starts_with("HTTP 401 legs=3 "), "{line}");
}

/// A TCP relay in front of `target` that records what the client sends.
async fn recording_proxy(target: String) -> (String, Arc<Mutex<Vec<u8>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let target = target.clone();
            let record = record.clone();
            tokio::spawn(async move {
                let Ok(mut server) = tokio::net::TcpStream::connect(&target).await else {
                    return;
                };
                let (mut cr, mut cw) = client.split();
                let (mut sr, mut sw) = server.split();
                let up = async {
                    let mut buf = vec![0; 65536];
                    while let Ok(n) = cr.read(&mut buf).await {
                        if n == 0 || sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        record.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                    let _ = sw.shutdown().await;
                };
                let down = async {
                    let _ = tokio::io::copy(&mut sr, &mut cw).await;
                    let _ = cw.shutdown().await;
                };
                tokio::join!(up, down);
            });
        }
    });
    (format!("http://{addr}/wsman"), seen)
}

/// The `Authorization: Negotiate` tokens in recorded client bytes, in order.
fn negotiate_tokens(bytes: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(bytes);
    text.split("\r\n")
        .filter_map(|l| {
            let (name, value) = l.split_once(':')?;
            if !name.eq_ignore_ascii_case("authorization") {
                return None;
            }
            let b64 = value.trim().strip_prefix("Negotiate ")?;
            STANDARD.decode(b64.trim()).ok()
        })
        .collect()
}

/// One DER TLV: (tag, content, rest); short and long definite lengths.
fn tlv(b: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = b[0];
    let (len, at) = if b[1] < 0x80 {
        (usize::from(b[1]), 2)
    } else {
        let n = usize::from(b[1] & 0x7f);
        let len = b[2..2 + n]
            .iter()
            .fold(0usize, |acc, x| (acc << 8) | usize::from(*x));
        (len, 2 + n)
    };
    (tag, &b[at..at + len], &b[at + len..])
}

/// A NegTokenInit's mechTypes (DER OID contents) and whether it has a mechToken.
fn init_mechs(token: &[u8]) -> (Vec<Vec<u8>>, bool) {
    let (tag, app, _) = tlv(token);
    assert_eq!(tag, 0x60, "not a GSS initial token");
    let (_, _spnego_oid, rest) = tlv(app);
    let (tag, init, _) = tlv(rest);
    assert_eq!(tag, 0xa0, "not a NegTokenInit");
    let (_, mut seq, _) = tlv(init);
    let (mut mechs, mut has_token) = (Vec::new(), false);
    while !seq.is_empty() {
        let (tag, value, rest) = tlv(seq);
        seq = rest;
        match tag {
            0xa0 => {
                let (_, mut list, _) = tlv(value);
                while !list.is_empty() {
                    let (_, oid, rest) = tlv(list);
                    mechs.push(oid.to_vec());
                    list = rest;
                }
            }
            0xa2 => has_token = true,
            _ => {}
        }
    }
    (mechs, has_token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_negotiate_client_offers_krb5_first_and_ends_sealed_on_ntlm() {
    let realm = Realm::start();
    let emu = Emulator::start(config(&realm, "\"negotiate\"", ""), EchoService)
        .await
        .expect("emulator starts");
    let target = emu
        .url()
        .trim_start_matches("http://")
        .split('/')
        .next()
        .expect("host:port")
        .to_owned();
    let (url, seen) = recording_proxy(target).await;
    let cfg = ConnectionConfig::from_url(&url)
        .expect("proxy url")
        .auth(
            AuthMethod::Negotiate,
            Credentials::new(realm.principal(), realm.password()),
        )
        .kdc(realm.kdc_addr().to_string())
        .spn("HTTP/localhost");
    let t = HttpTransport::new(cfg).expect("transport");
    assert!(t.config().seals());
    let envelope = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/><s:Body/></s:Envelope>"#;
    for lane in [Lane::CONTROL, Lane::RECEIVE] {
        let reply = t
            .post(lane, envelope.as_bytes().to_vec(), Duration::from_secs(10))
            .await
            .expect("sealed post through the ntlm fallback");
        assert_eq!(reply.status, 200);
        let body = String::from_utf8(reply.body).expect("utf-8");
        assert!(body.contains(r#"User="alice""#), "{body}");
        assert!(body.contains(r#"Encrypted="true""#), "{body}");
    }
    let tokens = negotiate_tokens(&seen.lock().unwrap());
    assert!(!tokens.is_empty(), "no Negotiate token seen");
    let krb5 = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
    let ms_krb5 = [0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];
    let ntlm = [0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];
    // Every connection's first token: Kerberos first with an optimistic AP-REQ, NTLM later.
    let inits: Vec<_> = tokens
        .iter()
        .filter(|t| t.first() == Some(&0x60))
        .map(|t| init_mechs(t))
        .collect();
    assert!(!inits.is_empty(), "no NegTokenInit seen");
    for (mechs, has_token) in &inits {
        assert!(
            mechs[0] == ms_krb5 || mechs[0] == krb5,
            "first mech {:02x?}",
            mechs[0]
        );
        assert!(mechs[1..].iter().any(|m| m == &ntlm), "{mechs:02x?}");
        assert!(*has_token, "no optimistic token");
    }
    // And the NTLM messages followed inside NegTokenResp (tag [1]).
    assert!(
        tokens
            .iter()
            .any(|t| t.first() == Some(&0xa1) && t.windows(8).any(|w| w == b"NTLMSSP\0")),
        "no NTLM inside a NegTokenResp"
    );
    emu.shutdown().await;
}
