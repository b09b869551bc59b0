//! The transport against the in-process emulator (its echo service): Basic, NTLM and SPNEGO,
//! with and without message encryption, wrong passwords, TLS verification. Negotiate for a user
//! without a realm (`alice`, so no KDC) is NTLM inside SPNEGO.

mod emulator_support;

use emulator::http::EchoService;
use emulator::tls::TlsSource;
use emulator::{Config, Emulator};
use emulator_support::{assert_large_round_trip, assert_sealed_on_two_lanes, post};
use wsman_transport::{AuthMethod, ConnectionConfig, Credentials, Encryption, HttpTransport, Lane};

const ALICE_PW: &str = "Alice-pw-0451";

fn config(extra: &str) -> Config {
    Config::from_toml(&format!(
        "computer_name = \"SERVER01\"\n[[users]]\nname = \"alice\"\npassword = \"{ALICE_PW}\"\nadmin = true\n{extra}"
    ))
    .expect("test configuration parses")
}

fn client(emu: &Emulator, method: AuthMethod, password: &str) -> ConnectionConfig {
    ConnectionConfig::from_url(&emu.url())
        .expect("emulator url")
        .auth(method, Credentials::new("alice", password))
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_plaintext_and_wrong_password() {
    let emu = Emulator::start(config(""), EchoService).await.unwrap();
    let t = HttpTransport::new(client(&emu, AuthMethod::Basic, ALICE_PW)).unwrap();
    let body = post(&t, Lane::CONTROL).await.unwrap();
    assert!(body.contains(r#"User="alice""#), "{body}");
    assert!(body.contains(r#"Encrypted="false""#), "{body}");
    let bad = HttpTransport::new(client(&emu, AuthMethod::Basic, "wrong")).unwrap();
    let err = post(&bad, Lane::CONTROL).await.unwrap_err();
    assert!(err.is_auth(), "{err}");
    assert_eq!(err.status(), Some(401));
    assert!(!err.to_string().contains("wrong"), "password leaked: {err}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ntlm_and_negotiate_sealed_on_two_lanes() {
    let emu = Emulator::start(config("[service]\nallow_unencrypted = false"), EchoService)
        .await
        .unwrap();
    for method in [AuthMethod::Ntlm, AuthMethod::Negotiate] {
        let t = HttpTransport::new(client(&emu, method, ALICE_PW)).unwrap();
        for _ in 0..3 {
            assert_sealed_on_two_lanes(&t, &format!("{method:?}")).await;
        }
        // A large sealed request still round-trips (the echo reports the plaintext length).
        assert_large_round_trip(&t, 60_000).await;
    }
    emu.shutdown().await;
}

/// Negotiate for a realm principal whose KDC is named but down: NTLM inside SPNEGO, sealed, as
/// Windows' Negotiate does when no domain controller answers.
#[tokio::test(flavor = "multi_thread")]
async fn negotiate_falls_back_to_ntlm_when_the_kdc_is_down() {
    let emu = Emulator::start(config("[service]\nallow_unencrypted = false"), EchoService)
        .await
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t = HttpTransport::new(
        ConnectionConfig::from_url(&emu.url())
            .unwrap()
            .auth(
                AuthMethod::Negotiate,
                // Realm SERVER01: the emulator knows NTLM users in its own domain only.
                Credentials::new("SERVER01\\alice", ALICE_PW),
            )
            .kdc(format!("127.0.0.1:{port}"))
            .spn("HTTP/localhost"),
    )
    .unwrap();
    assert_sealed_on_two_lanes(&t, "negotiate, kdc down").await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ntlm_unencrypted_when_asked() {
    let emu = Emulator::start(config(""), EchoService).await.unwrap();
    let t =
        HttpTransport::new(client(&emu, AuthMethod::Ntlm, ALICE_PW).encryption(Encryption::Never))
            .unwrap();
    let body = post(&t, Lane::CONTROL).await.unwrap();
    assert!(body.contains(r#"Encrypted="false""#), "{body}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ntlm_wrong_password_is_an_auth_error() {
    let emu = Emulator::start(config(""), EchoService).await.unwrap();
    for method in [AuthMethod::Ntlm, AuthMethod::Negotiate] {
        let t = HttpTransport::new(client(&emu, method, "not-the-password")).unwrap();
        let err = post(&t, Lane::CONTROL).await.unwrap_err();
        assert!(err.is_auth(), "{method:?}: {err}");
        assert!(err.to_string().contains("alice"), "{err}");
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_configurations() {
    // Kerberos can seal; it connects (and asks the KDC) lazily, on the first request.
    let c = ConnectionConfig::new("h")
        .auth(AuthMethod::Kerberos, Credentials::new("u@R", "p"))
        .encryption(Encryption::Always);
    assert!(HttpTransport::new(c).is_ok());
    let c = ConnectionConfig::new("h")
        .auth(AuthMethod::Basic, Credentials::new("u", "p"))
        .encryption(Encryption::Always);
    assert!(HttpTransport::new(c).is_err());
    assert!(
        HttpTransport::new(ConnectionConfig::new("h"))
            .unwrap_err()
            .is_auth()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_verification_on_by_default() {
    let emu = Emulator::builder(config(""))
        .tls(TlsSource::SelfSigned {
            extra_names: Vec::new(),
        })
        .start(EchoService)
        .await
        .unwrap();
    assert!(emu.url().starts_with("https://"));
    // Default: the self-signed certificate is not trusted.
    let t = HttpTransport::new(client(&emu, AuthMethod::Basic, ALICE_PW)).unwrap();
    let err = post(&t, Lane::CONTROL).await.unwrap_err();
    assert!(err.is_tls(), "{err}");
    // insecure: accepted; TLS counts as encrypted and NTLM does not seal on top (auto).
    let t = HttpTransport::new(client(&emu, AuthMethod::Ntlm, ALICE_PW).insecure(true)).unwrap();
    let body = post(&t, Lane::CONTROL).await.unwrap();
    assert!(body.contains(r#"Encrypted="true""#), "{body}");
    // The generated certificate as CA file: verified.
    let pem = emu
        .generated_cert()
        .expect("generated cert")
        .cert_pem
        .clone();
    let dir = std::env::temp_dir().join(format!("psrm-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, pem).unwrap();
    let mut c = client(&emu, AuthMethod::Basic, ALICE_PW).ca_file(&ca);
    c.host = "localhost".into();
    let t = HttpTransport::new(c).unwrap();
    let body = post(&t, Lane::CONTROL).await.unwrap();
    assert!(body.contains(r#"User="alice""#), "{body}");
    let _ = std::fs::remove_dir_all(&dir);
    emu.shutdown().await;
}

/// A minimal forward proxy: `CONNECT host:port` tunnels, absolute-form requests are passed
/// through to the host they name. Counts the client connections it served.
async fn start_proxy() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let mut words = text.split_whitespace();
                let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                let authority = if method == "CONNECT" {
                    target.to_owned()
                } else {
                    let rest = target.trim_start_matches("http://");
                    rest.split('/').next().unwrap_or("").to_owned()
                };
                let Ok(mut upstream) = tokio::net::TcpStream::connect(authority).await else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                    return;
                };
                if method == "CONNECT" {
                    let _ = client
                        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .await;
                } else if upstream.write_all(&head).await.is_err() {
                    return;
                }
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (port, served)
}

#[tokio::test(flavor = "multi_thread")]
async fn through_an_http_proxy() {
    let (proxy_port, served) = start_proxy().await;
    let proxy = wsman_transport::Proxy::parse(&format!("http://127.0.0.1:{proxy_port}")).unwrap();
    // Plain HTTP (absolute-form requests), NTLM with sealing across the proxy.
    let emu = Emulator::start(config("[service]\nallow_unencrypted = false"), EchoService)
        .await
        .unwrap();
    let t =
        HttpTransport::new(client(&emu, AuthMethod::Ntlm, ALICE_PW).proxy(proxy.clone())).unwrap();
    let body = post(&t, Lane::CONTROL).await.unwrap();
    assert!(body.contains(r#"Encrypted="true""#), "{body}");
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1);
    emu.shutdown().await;
    // HTTPS through a CONNECT tunnel.
    let emu = Emulator::builder(config(""))
        .tls(TlsSource::SelfSigned {
            extra_names: Vec::new(),
        })
        .start(EchoService)
        .await
        .unwrap();
    let t = HttpTransport::new(
        client(&emu, AuthMethod::Basic, ALICE_PW)
            .insecure(true)
            .proxy(proxy),
    )
    .unwrap();
    let body = post(&t, Lane::CONTROL).await.unwrap();
    assert!(body.contains(r#"User="alice""#), "{body}");
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 2);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unencrypted_refused_is_named() {
    let emu = Emulator::start(config("[service]\nallow_unencrypted = false"), EchoService)
        .await
        .unwrap();
    let t =
        HttpTransport::new(client(&emu, AuthMethod::Ntlm, ALICE_PW).encryption(Encryption::Never))
            .unwrap();
    let err = post(&t, Lane::CONTROL).await.unwrap_err();
    assert!(
        matches!(err, wsman_transport::TransportError::UnencryptedRefused),
        "{err}"
    );
    assert!(err.to_string().contains("unencrypted"), "{err}");
    emu.shutdown().await;
}

/// Reads one HTTP/1.1 message (head + Content-Length body) from `r`.
async fn read_message<R: tokio::io::AsyncRead + Unpin>(r: &mut R) -> Option<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut msg = Vec::new();
    let mut byte = [0u8; 1];
    while !msg.ends_with(b"\r\n\r\n") {
        if r.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        msg.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&msg).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await.ok()?;
    msg.extend_from_slice(&body);
    Some(msg)
}

/// A relay that forwards each request over its current upstream connection, and opens a new
/// upstream connection (losing the server-side security context) when `swap` is set, while
/// the client keeps its own connection.
async fn start_swapping_relay(
    upstream: std::net::SocketAddr,
    swap: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> u16 {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let swap = swap.clone();
            tokio::spawn(async move {
                let mut up = tokio::net::TcpStream::connect(upstream).await.unwrap();
                while let Some(request) = read_message(&mut client).await {
                    if swap.swap(false, std::sync::atomic::Ordering::SeqCst) {
                        up = tokio::net::TcpStream::connect(upstream).await.unwrap();
                    }
                    up.write_all(&request).await.unwrap();
                    let Some(response) = read_message(&mut up).await else {
                        return;
                    };
                    if client.write_all(&response).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// The server forgets the context of a connection the client still holds (401 on a request
/// that used to be authenticated): the transport authenticates again and retries once.
#[tokio::test(flavor = "multi_thread")]
async fn forgotten_context_is_reestablished() {
    let emu = Emulator::start(config(""), EchoService).await.unwrap();
    let swap = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let port = start_swapping_relay(emu.local_addr(), swap.clone()).await;
    let c = ConnectionConfig::from_url(&format!("http://127.0.0.1:{port}/wsman"))
        .unwrap()
        .auth(AuthMethod::Ntlm, Credentials::new("alice", ALICE_PW))
        .encryption(Encryption::Never);
    let t = HttpTransport::new(c).unwrap();
    assert!(
        post(&t, Lane::CONTROL)
            .await
            .unwrap()
            .contains(r#"User="alice""#)
    );
    swap.store(true, std::sync::atomic::Ordering::SeqCst);
    let body = post(&t, Lane::CONTROL).await.unwrap();
    assert!(body.contains(r#"User="alice""#), "{body}");
    assert!(
        !swap.load(std::sync::atomic::Ordering::SeqCst),
        "the relay swapped"
    );
    assert!(post(&t, Lane::CONTROL).await.is_ok());
    emu.shutdown().await;
}
