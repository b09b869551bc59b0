//! `Transport::post_unauthenticated` and `HttpTransport::unauthenticated` against the emulator's
//! WS-Management service: `Test-WSMan`'s Identify without credentials over HTTP (through a
//! recording TCP relay, to see that no `Authorization` header leaves the client, even when the
//! transport holds credentials) and HTTPS, the 401 refusals as a typed error, and the guards
//! (no credentials on `post`, no `Authorization` among the extra headers).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use emulator::service::WsManService;
use emulator::tls::TlsSource;
use emulator::{Config, Emulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wsman::identify::{self, Identify};
use wsman_transport::{
    AuthMethod, ClientCertificate, ConnectionConfig, Credentials, HttpTransport, Lane, Transport,
    TransportError,
};

const ALICE_PW: &str = "Anon-pw-2718";
const TIMEOUT: Duration = Duration::from_secs(20);

fn config() -> Config {
    Config::from_toml(&format!(
        "computer_name = \"ANON01\"\n[[users]]\nname = \"alice\"\npassword = \"{ALICE_PW}\"\n[service]\nallow_unencrypted = false\n"
    ))
    .expect("test configuration parses")
}

fn identify_header() -> Vec<(String, String)> {
    vec![(
        identify::HTTP_HEADER.to_owned(),
        identify::HTTP_HEADER_UNAUTHENTICATED.to_owned(),
    )]
}

/// A TCP relay on 127.0.0.1:0 to `target`, keeping every byte clients send through it.
async fn relay(target: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
    let addr = listener.local_addr().expect("relay address");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(target).await else {
                    return;
                };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let up = async {
                    let mut buf = [0u8; 4096];
                    loop {
                        let n = match client_read.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        record.lock().unwrap().extend_from_slice(&buf[..n]);
                        if server_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = server_write.shutdown().await;
                };
                let down = async {
                    let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                    let _ = client_write.shutdown().await;
                };
                tokio::join!(up, down);
            });
        }
    });
    (addr, seen)
}

fn lowercase_text(bytes: &Mutex<Vec<u8>>) -> String {
    String::from_utf8_lossy(&bytes.lock().unwrap()).to_ascii_lowercase()
}

#[tokio::test(flavor = "multi_thread")]
async fn identify_without_credentials_over_http() {
    let cfg = config();
    let emu = Emulator::start(cfg.clone(), WsManService::new(cfg))
        .await
        .expect("emulator starts");
    let (relay_addr, seen) = relay(emu.local_addr()).await;
    let url = format!("http://{relay_addr}/wsman");

    // A transport holding Basic credentials: post_unauthenticated must not use them.
    let with_credentials = HttpTransport::new(
        ConnectionConfig::from_url(&url)
            .expect("url")
            .auth(AuthMethod::Basic, Credentials::new("alice", ALICE_PW)),
    )
    .expect("transport");
    // And one built without any.
    let anonymous = HttpTransport::unauthenticated(ConnectionConfig::from_url(&url).expect("url"))
        .expect("transport");
    for transport in [&with_credentials, &anonymous] {
        let reply = transport
            .post_unauthenticated(Identify.encode().into_bytes(), identify_header(), TIMEOUT)
            .await
            .unwrap_or_else(|e| panic!("{transport:?}: {e}"));
        assert_eq!(reply.status, 200);
        let answer = identify::IdentifyResponse::decode(&reply.body).expect("an IdentifyResponse");
        assert!(answer.is_unauthenticated(), "{answer:?}");
        assert_eq!(
            answer.product_version.as_deref(),
            Some(identify::UNAUTHENTICATED_PRODUCT_VERSION)
        );
    }
    let sent = lowercase_text(&seen);
    assert_eq!(
        sent.matches("wsmanidentify: unauthenticated\r\n").count(),
        2,
        "{sent}"
    );
    assert!(sent.contains("identify"), "{sent}");
    assert!(!sent.contains("authorization"), "{sent}");
    assert!(!sent.contains("basic "), "{sent}");

    // Without the header the service wants credentials: a typed refusal naming what it offers.
    let err = anonymous
        .post_unauthenticated(Identify.encode().into_bytes(), Vec::new(), TIMEOUT)
        .await
        .unwrap_err();
    match &err {
        TransportError::UnauthenticatedRefused { offered } => {
            assert!(offered.contains("Negotiate"), "{offered}");
        }
        other => panic!("expected UnauthenticatedRefused, got {other:?}"),
    }
    assert!(err.is_auth());
    assert_eq!(err.status(), Some(401));
    assert!(
        err.to_string()
            .starts_with("server refused the unauthenticated request: http 401"),
        "{err}"
    );
    // With the header but not an Identify: refused the same way.
    let not_identify = br#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/><s:Body><Get/></s:Body></s:Envelope>"#;
    let err = anonymous
        .post_unauthenticated(not_identify.to_vec(), identify_header(), TIMEOUT)
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::UnauthenticatedRefused { .. }),
        "{err:?}"
    );
    assert!(!lowercase_text(&seen).contains("authorization"));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn identify_without_credentials_over_https() {
    let cfg = config();
    let emu = Emulator::builder(cfg.clone())
        .tls(TlsSource::SelfSigned {
            extra_names: Vec::new(),
        })
        .start(WsManService::new(cfg))
        .await
        .expect("emulator starts");
    assert!(emu.url().starts_with("https://"));
    let config = ConnectionConfig::from_url(&emu.url()).expect("url");
    // The TLS settings apply: the self-signed certificate is refused by default.
    let strict = HttpTransport::unauthenticated(config.clone()).expect("transport");
    let err = strict
        .post_unauthenticated(Identify.encode().into_bytes(), identify_header(), TIMEOUT)
        .await
        .unwrap_err();
    assert!(err.is_tls(), "{err}");
    let transport = HttpTransport::unauthenticated(config.insecure(true)).expect("transport");
    let reply = transport
        .post_unauthenticated(Identify.encode().into_bytes(), identify_header(), TIMEOUT)
        .await
        .expect("identify over https");
    assert_eq!(reply.status, 200);
    let answer = identify::IdentifyResponse::decode(&reply.body).expect("an IdentifyResponse");
    assert!(answer.is_unauthenticated(), "{answer:?}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn guards() {
    // Nothing listens on this port: the errors below come before any connection attempt.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    let url = format!("http://127.0.0.1:{port}/wsman");
    let config = ConnectionConfig::from_url(&url)
        .expect("url")
        .auth(AuthMethod::Ntlm, Credentials::new("alice", ALICE_PW));
    let anonymous = HttpTransport::unauthenticated(config.clone()).expect("transport");
    // The credentials were dropped: an ordinary post refuses without connecting.
    assert!(!format!("{anonymous:?}").contains("alice"));
    let err = anonymous
        .post(Lane::CONTROL, b"<x/>".to_vec(), TIMEOUT)
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::MissingCredentials), "{err:?}");
    // Credentials cannot be smuggled in as extra headers.
    let transport = HttpTransport::new(config).expect("transport");
    for name in ["Authorization", "proxy-authorization", "Cookie"] {
        let err = transport
            .post_unauthenticated(
                b"<x/>".to_vec(),
                vec![(name.to_owned(), "Basic YTpi".to_owned())],
                TIMEOUT,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, TransportError::Config(m) if m.contains("cannot carry")),
            "{name}: {err:?}"
        );
    }
    let err = transport
        .post_unauthenticated(
            b"<x/>".to_vec(),
            vec![("bad header".to_owned(), "v".to_owned())],
            TIMEOUT,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Config(_)), "{err:?}");
    // A valid request reaches the (closed) port: a connection error, not a credential error.
    let err = transport
        .post_unauthenticated(b"<x/>".to_vec(), identify_header(), TIMEOUT)
        .await
        .unwrap_err();
    assert!(err.is_connection(), "{err:?}");
    // Certificate settings are dropped too: an unauthenticated transport needs none.
    let cert_config = ConnectionConfig::from_url(&format!("https://127.0.0.1:{port}/wsman"))
        .expect("url")
        .certificate_auth(ClientCertificate::from_files("/nonexistent.pem", "/x.pem"));
    assert!(HttpTransport::new(cert_config.clone()).is_err());
    assert!(HttpTransport::unauthenticated(cert_config).is_ok());
}
