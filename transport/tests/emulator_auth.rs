//! The transport against the in-process emulator (its echo service): Basic, NTLM and SPNEGO,
//! with and without message encryption, wrong passwords, TLS verification.

use std::time::Duration;

use emulator::http::EchoService;
use emulator::tls::TlsSource;
use emulator::{Config, Emulator};
use wsman_transport::{
    AuthMethod, ConnectionConfig, Credentials, Encryption, HttpTransport, Lane, Transport,
};

const ALICE_PW: &str = "Alice-pw-0451";
const ENVELOPE: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/><s:Body/></s:Envelope>"#;

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

async fn post(t: &HttpTransport, lane: Lane) -> Result<String, wsman_transport::TransportError> {
    let reply = t
        .post(lane, ENVELOPE.as_bytes().to_vec(), Duration::from_secs(10))
        .await?;
    assert_eq!(reply.status, 200);
    Ok(String::from_utf8(reply.body).expect("utf-8 reply"))
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
            let (a, b) = tokio::join!(post(&t, Lane::CONTROL), post(&t, Lane::RECEIVE));
            for body in [a.unwrap(), b.unwrap()] {
                assert!(body.contains(r#"User="alice""#), "{method:?}: {body}");
                assert!(body.contains(r#"Encrypted="true""#), "{method:?}: {body}");
            }
        }
        // A large sealed request still round-trips (the echo reports the plaintext length).
        let big = format!("{ENVELOPE}{}", " ".repeat(60_000));
        let reply = t
            .post(
                Lane::CONTROL,
                big.clone().into_bytes(),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
        let body = String::from_utf8(reply.body).unwrap();
        assert!(
            body.contains(&format!(r#"Length="{}""#, big.len())),
            "{body}"
        );
    }
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
async fn unsupported_and_invalid_configurations() {
    let c = ConnectionConfig::new("h").auth(AuthMethod::Kerberos, Credentials::new("u", "p"));
    let err = HttpTransport::new(c).unwrap_err();
    assert!(err.to_string().contains("not supported"), "{err}");
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
