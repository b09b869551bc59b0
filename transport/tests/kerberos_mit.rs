//! The transport's Kerberos client against real MIT Kerberos: a throwaway MIT KDC
//! (scripts/test-kdc, through kdc_support::Realm) issues the tickets, and MIT's GSS-API acceptor
//! (pyspnego 0.12 + gssapi behind tests/py/kerberos_acceptor.py, with the realm's keytab)
//! accepts our `Authorization: Kerberos` token, returns its mutual-authentication token, unseals
//! our messages with `unwrap_winrm` and seals its echo with `wrap_winrm`. So the AS/TGS
//! exchanges, the AP-REQ, the AP-REP handling and the RFC 4121 wrap tokens are all checked by
//! MIT, not by our own code. `AuthMethod::Negotiate` is checked the same way against pyspnego's
//! SPNEGO acceptor (the script's `negotiate` mode) over MIT krb5. A missing KDC or Python peer fails the tests: they are acceptance
//! tests.

mod acceptor_support;
#[path = "../../emulator/tests/kdc_support/mod.rs"]
mod kdc_support;

use std::time::Duration;

use acceptor_support::Acceptor;
use kdc_support::Realm;
use wsman_transport::{
    AuthMethod, ConnectionConfig, Credentials, HttpReply, HttpTransport, KdcError, Lane, Transport,
    TransportError,
};

fn acceptor(realm: &Realm) -> Acceptor {
    acceptor_in(realm, None)
}

/// The acceptor in `mode` (`Some("negotiate")`: SPNEGO) or, with `None`, raw Kerberos.
fn acceptor_in(realm: &Realm, mode: Option<&str>) -> Acceptor {
    Acceptor::spawn("kerberos_acceptor.py", true, |command| {
        command
            .args(mode)
            .env("KRB5_CONFIG", realm.krb5_config())
            .env("KRB5_KTNAME", realm.keytab())
            .env(
                "KRB5CCNAME",
                format!("FILE:{}/acceptor-ccache", realm.dir().display()),
            );
    })
}

fn config(realm: &Realm, port: u16, user: &str, password: &str) -> ConnectionConfig {
    ConnectionConfig::from_url(&format!("http://127.0.0.1:{port}/wsman"))
        .expect("url")
        .auth(AuthMethod::Kerberos, Credentials::new(user, password))
        .kdc(realm.kdc_addr().to_string())
}

async fn post(t: &HttpTransport, envelope: &[u8]) -> Result<Vec<u8>, TransportError> {
    let reply = tokio::time::timeout(
        Duration::from_secs(60),
        t.post(Lane::CONTROL, envelope.to_vec(), Duration::from_secs(20)),
    )
    .await
    .expect("no hang")?;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    Ok(reply.body)
}

/// One `<s:Envelope/>` POST on the control lane with the request timeout `timeout`, which must
/// end, either way, within `limit`.
async fn post_within(
    t: &HttpTransport,
    limit: Duration,
    timeout: Duration,
) -> Result<HttpReply, TransportError> {
    tokio::time::timeout(
        limit,
        t.post(Lane::CONTROL, b"<s:Envelope/>".to_vec(), timeout),
    )
    .await
    .expect("no hang")
}

fn expect_echo(body: &[u8], principal: &str, sent: &[u8]) {
    expect_echo_with(body, principal, "", sent);
}

/// The echo with `attrs` (the negotiate acceptor's ` mech=".." mic=".."`) after the user.
fn expect_echo_with(body: &[u8], principal: &str, attrs: &str, sent: &[u8]) {
    let head = format!(
        r#"<echo user="{principal}"{attrs} length="{}"/>"#,
        sent.len()
    );
    assert!(
        body.starts_with(head.as_bytes()),
        "{:.200}",
        String::from_utf8_lossy(body)
    );
    assert!(
        body.get(head.len()..) == Some(sent),
        "the echo differs from what was sent"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mit_acceptor_authenticates_us_and_both_sides_unseal() {
    let realm = Realm::start();
    let acceptor = acceptor(&realm);
    let t = HttpTransport::new(config(
        &realm,
        acceptor.port,
        realm.principal(),
        realm.password(),
    ))
    .expect("kerberos is supported");
    assert!(t.config().seals(), "kerberos seals over http");
    let small = b"<s:Envelope/>".to_vec();
    // Large: many AES blocks, several 16 KiB's worth, one sealed part each way.
    let large: Vec<u8> = (0..70_000u32)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789"[(i % 36) as usize])
        .collect();
    for envelope in [&small, &large, &small] {
        let body = post(&t, envelope).await.unwrap();
        expect_echo(&body, realm.principal(), envelope);
    }
    // A second lane is a second connection and a second context (its own tickets and keys).
    let reply = t
        .post(Lane::RECEIVE, small.clone(), Duration::from_secs(20))
        .await
        .unwrap();
    expect_echo(&reply.body, realm.principal(), &small);

    // `REALM\user` and a lower-case realm name the same principal; the SPN can be overridden
    // (the acceptor holds keys for HTTP/localhost too).
    let other = HttpTransport::new(
        config(
            &realm,
            acceptor.port,
            &format!("{}\\{}", realm.realm().to_lowercase(), realm.user()),
            realm.password(),
        )
        .spn("HTTP/localhost"),
    )
    .unwrap();
    let body = post(&other, &small).await.unwrap();
    expect_echo(&body, realm.principal(), &small);
}

#[tokio::test(flavor = "multi_thread")]
async fn kdc_refusals_are_typed_errors_naming_the_cause() {
    let realm = Realm::start();
    let acceptor = acceptor(&realm);
    let attempt = |user: &str, password: &str, spn: Option<&str>| {
        let mut c = config(&realm, acceptor.port, user, password);
        if let Some(spn) = spn {
            c = c.spn(spn);
        }
        let t = HttpTransport::new(c).unwrap();
        async move { post(&t, b"<s:Envelope/>").await.unwrap_err() }
    };

    let e = attempt(realm.principal(), "not-the-password", None).await;
    assert!(
        matches!(
            &e,
            TransportError::Kdc {
                error: KdcError::WrongPassword { principal },
                ..
            } if principal == realm.principal()
        ),
        "{e:?}"
    );
    assert!(e.is_auth());
    let text = e.to_string();
    assert!(
        text.contains("wrong password") && text.contains("KDC_ERR_PREAUTH_FAILED"),
        "{text}"
    );
    assert!(!text.contains("not-the-password"), "{text}");

    let e = attempt("mallory@PSRM.TEST", realm.password(), None).await;
    assert!(
        matches!(
            &e,
            TransportError::Kdc {
                error: KdcError::UnknownPrincipal { principal },
                ..
            } if principal == "mallory@PSRM.TEST"
        ),
        "{e:?}"
    );

    let e = attempt(
        realm.principal(),
        realm.password(),
        Some("HTTP/nowhere.example"),
    )
    .await;
    assert!(
        matches!(&e, TransportError::Kdc { error: KdcError::UnknownService { spn }, .. } if spn == "HTTP/nowhere.example"),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kdc_down_is_a_typed_error_without_hanging() {
    // A loopback port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The WinRM endpoint accepts the connection but never sees a request: the ticket comes
    // first.
    let endpoint = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/wsman", endpoint.local_addr().unwrap());
    let c = ConnectionConfig::from_url(&url)
        .unwrap()
        .auth(
            AuthMethod::Kerberos,
            Credentials::new("alice@PSRM.TEST", "pw"),
        )
        .kdc(format!("127.0.0.1:{port}"));
    let t = HttpTransport::new(c).unwrap();
    let started = std::time::Instant::now();
    let e = post_within(&t, Duration::from_secs(30), Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, TransportError::Kdc { kdc, error: KdcError::Unreachable(_) } if kdc == &format!("127.0.0.1:{port}")),
        "{e:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_kdc_times_out() {
    // Accepts the TCP connection but never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let endpoint = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/wsman", endpoint.local_addr().unwrap());
    let mut c = ConnectionConfig::from_url(&url)
        .unwrap()
        .auth(
            AuthMethod::Kerberos,
            Credentials::new("alice@PSRM.TEST", "pw"),
        )
        .kdc(addr.to_string());
    c.connect_timeout = Duration::from_millis(500);
    let t = HttpTransport::new(c).unwrap();
    let e = post_within(&t, Duration::from_secs(20), Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, TransportError::Kdc { error: KdcError::Timeout(d), .. } if *d == Duration::from_millis(500)),
        "{e:?}"
    );
    hold.abort();
}

/// `AuthMethod::Negotiate` for a realm principal with a known KDC: SPNEGO with Kerberos first,
/// accepted by pyspnego's SPNEGO acceptor over MIT krb5. pyspnego prefers the krb5 OID while we
/// list MS-krb5 first (as Windows does), so it asks for the mechListMIC exchange (RFC 4178
/// 5: request-mic with its MIC and the AP-REP); we verify its MIC and send ours in a final leg,
/// which it verifies (mic="yes"). Bodies are sealed with the Kerberos session as
/// application/HTTP-SPNEGO-session-encrypted, both ways.
#[tokio::test(flavor = "multi_thread")]
async fn negotiate_uses_kerberos_with_the_mit_spnego_acceptor() {
    let realm = Realm::start();
    let acceptor = acceptor_in(&realm, Some("negotiate"));
    // A host name: sspi (as Windows) uses NTLM for an IP address target.
    let t = HttpTransport::new(
        ConnectionConfig::from_url(&format!("http://localhost:{}/wsman", acceptor.port))
            .unwrap()
            .auth(
                AuthMethod::Negotiate,
                Credentials::new(realm.principal(), realm.password()),
            )
            .kdc(realm.kdc_addr().to_string()),
    )
    .unwrap();
    assert!(t.config().seals());
    let small = b"<s:Envelope/>".to_vec();
    let large: Vec<u8> = (0..70_000u32)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789"[(i % 36) as usize])
        .collect();
    // mechTypes: MS-krb5, krb5, NTLM (Windows' order), as MIT's peer parsed our NegTokenInit.
    let attrs = r#" mech="kerberos" mic="yes" mechs="1.2.840.48018.1.2.2,1.2.840.113554.1.2.2,1.3.6.1.4.1.311.2.2.10""#;
    for envelope in [&small, &large, &small] {
        let body = post(&t, envelope).await.unwrap();
        expect_echo_with(&body, realm.principal(), attrs, envelope);
    }
    let reply = t
        .post(Lane::RECEIVE, small.clone(), Duration::from_secs(20))
        .await
        .unwrap();
    expect_echo_with(&reply.body, realm.principal(), attrs, &small);

    // The down-level user form, and an SPN given for an IP address URL (without one, the IP
    // address target would mean NTLM).
    let other = HttpTransport::new(
        ConnectionConfig::from_url(&format!("http://127.0.0.1:{}/wsman", acceptor.port))
            .unwrap()
            .auth(
                AuthMethod::Negotiate,
                Credentials::new(
                    format!("{}\\{}", realm.realm(), realm.user()),
                    realm.password(),
                ),
            )
            .kdc(realm.kdc_addr().to_string())
            .spn("WSMAN/localhost"),
    )
    .unwrap();
    let body = post(&other, &small).await.unwrap();
    expect_echo_with(&body, realm.principal(), attrs, &small);

    // A wrong password is the KDC's refusal, typed; Negotiate does not hide it behind NTLM.
    let bad = HttpTransport::new(
        ConnectionConfig::from_url(&format!("http://localhost:{}/wsman", acceptor.port))
            .unwrap()
            .auth(
                AuthMethod::Negotiate,
                Credentials::new(realm.principal(), "not-the-password"),
            )
            .kdc(realm.kdc_addr().to_string()),
    )
    .unwrap();
    let e = post(&bad, &small).await.unwrap_err();
    assert!(
        matches!(
            &e,
            TransportError::Kdc {
                error: KdcError::WrongPassword { .. },
                ..
            }
        ),
        "{e:?}"
    );
}

/// A server answering every request with `status` and `WWW-Authenticate: Negotiate <token>`.
async fn scripted_negotiate_server(status: u16, token: Vec<u8>) -> std::net::SocketAddr {
    use base64::Engine as _;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let header = format!(
        "HTTP/1.1 {status} X\r\nWWW-Authenticate: Negotiate {}\r\nContent-Length: 0\r\n\r\n",
        base64::engine::general_purpose::STANDARD.encode(&token)
    );
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let header = header.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    // Empty-bodied legs: one reply per request head.
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        if s.write_all(header.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

/// After a real Kerberos first leg (tickets from the MIT KDC), hostile or wrong SPNEGO answers
/// are errors, not panics or hangs: junk, a bare negState, a supportedMech we did not offer, an
/// accept-completed without the AP-REP (mutual authentication is required), on 401 and on 200.
#[tokio::test(flavor = "multi_thread")]
async fn negotiate_with_kerberos_refuses_hostile_answers() {
    let realm = Realm::start();
    // NegTokenResp { negState accept-completed, supportedMech <oid> } (no responseToken).
    let completed_with = |oid: &[u8]| {
        let mut mech = vec![0x06, oid.len() as u8];
        mech.extend_from_slice(oid);
        let mut seq = vec![0xa0, 0x03, 0x0a, 0x01, 0x00, 0xa1, mech.len() as u8];
        seq.extend_from_slice(&mech);
        let mut resp = vec![0x30, seq.len() as u8];
        resp.extend_from_slice(&seq);
        let mut out = vec![0xa1, resp.len() as u8];
        out.extend_from_slice(&resp);
        out
    };
    let krb5 = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
    let unoffered = [0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x1e]; // NEGOEX
    let answers: Vec<Vec<u8>> = vec![
        vec![0xff; 64],
        vec![0xa1, 0x03, 0x0a, 0x01],
        completed_with(&unoffered),
        completed_with(&krb5),
    ];
    for status in [401, 200] {
        for answer in &answers {
            let addr = scripted_negotiate_server(status, answer.clone()).await;
            let t = HttpTransport::new(
                ConnectionConfig::from_url(&format!("http://{addr}/wsman"))
                    .unwrap()
                    .auth(
                        AuthMethod::Negotiate,
                        Credentials::new(realm.principal(), realm.password()),
                    )
                    .kdc(realm.kdc_addr().to_string())
                    .spn("HTTP/localhost"),
            )
            .unwrap();
            let result = post_within(&t, Duration::from_secs(30), Duration::from_secs(10)).await;
            assert!(
                matches!(
                    &result,
                    Err(TransportError::Security(_) | TransportError::AuthFailed { .. })
                ),
                "{status} {answer:02x?}: {result:?}"
            );
        }
    }
}
