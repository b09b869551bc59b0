//! The transport's CredSSP client against the in-process emulator (its echo service) over
//! HTTPS and, sealed with the inner TLS session, over HTTP: the delegated user, two lanes,
//! re-authentication on a new connection, wrong passwords, a server that does not offer CredSSP.

use std::time::Duration;

use emulator::http::EchoService;
use emulator::tls::TlsSource;
use emulator::{Config, Emulator};
use wsman_transport::{
    AuthMethod, ConnectionConfig, Credentials, Encryption, HttpTransport, Lane, Transport,
    TransportError,
};

const ALICE_PW: &str = "Alice-pw-0451";
const BOB_PW: &str = "Bob-pw-9911";
const ENVELOPE: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/><s:Body/></s:Envelope>"#;

async fn start(auth: &str, https: bool) -> Emulator {
    let config = Config::from_toml(&format!(
        "computer_name = \"SERVER01\"\n\
         [[users]]\nname = \"alice\"\npassword = \"{ALICE_PW}\"\n\
         [[users]]\nname = \"bob\"\npassword = \"{BOB_PW}\"\n\
         [service]\nauth = [{auth}]\nallow_unencrypted = false\n"
    ))
    .expect("test configuration parses");
    let builder = Emulator::builder(config);
    let builder = if https {
        builder.tls(TlsSource::SelfSigned {
            extra_names: Vec::new(),
        })
    } else {
        builder
    };
    builder.start(EchoService).await.expect("emulator starts")
}

fn client(emu: &Emulator, user: &str, password: &str) -> HttpTransport {
    let config = ConnectionConfig::from_url(&emu.url())
        .expect("emulator url")
        .auth(AuthMethod::CredSsp, Credentials::new(user, password))
        .insecure(true);
    HttpTransport::new(config).expect("credssp is supported")
}

async fn post(t: &HttpTransport, lane: Lane) -> Result<String, TransportError> {
    let reply = t
        .post(lane, ENVELOPE.as_bytes().to_vec(), Duration::from_secs(10))
        .await?;
    assert_eq!(reply.status, 200);
    Ok(String::from_utf8(reply.body).expect("utf-8 reply"))
}

#[tokio::test(flavor = "multi_thread")]
async fn credssp_over_https_authenticates_each_lane() {
    let emu = start("\"credssp\"", true).await;
    for (user, password, name) in [
        ("alice", ALICE_PW, "alice"),
        ("SERVER01\\bob", BOB_PW, "bob"),
    ] {
        let t = client(&emu, user, password);
        for _ in 0..2 {
            let (a, b) = tokio::join!(post(&t, Lane::CONTROL), post(&t, Lane::RECEIVE));
            for body in [a.unwrap(), b.unwrap()] {
                assert!(body.contains(&format!(r#"User="{name}""#)), "{body}");
                assert!(body.contains(r#"Encrypted="true""#), "{body}");
            }
        }
        // A closed lane comes back on a new connection with a new exchange.
        t.close_lane(Lane::CONTROL);
        assert!(post(&t, Lane::CONTROL).await.is_ok());
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn credssp_wrong_password_or_user_is_an_auth_error() {
    let emu = start("\"credssp\"", true).await;
    for (user, password) in [
        ("alice", "not-the-password"),
        ("alice", BOB_PW),
        ("carol", "x"),
    ] {
        let err = post(&client(&emu, user, password), Lane::CONTROL)
            .await
            .unwrap_err();
        assert!(err.is_auth(), "{user}: {err}");
        assert!(
            !err.to_string().contains(password),
            "password leaked: {err}"
        );
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn credssp_not_offered_is_named() {
    let emu = start("\"basic\", \"negotiate\"", true).await;
    let err = post(&client(&emu, "alice", ALICE_PW), Lane::CONTROL)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::AuthNotOffered {
                method: "credssp",
                ..
            }
        ),
        "{err}"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn credssp_over_http_seals_with_the_inner_tls_session() {
    // AllowUnencrypted=false: only sealed bodies get through.
    let emu = start("\"credssp\"", false).await;
    let t = client(&emu, "alice", ALICE_PW);
    for _ in 0..2 {
        let (a, b) = tokio::join!(post(&t, Lane::CONTROL), post(&t, Lane::RECEIVE));
        for body in [a.unwrap(), b.unwrap()] {
            assert!(body.contains(r#"User="alice""#), "{body}");
            assert!(body.contains(r#"Encrypted="true""#), "{body}");
        }
    }
    // Larger than one 16 KiB part: several sealed parts (the echo reports the plaintext length).
    let big = format!("{ENVELOPE}{}", " ".repeat(40_000));
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
    // Sealing turned off: the server refuses the plaintext, and the error says so.
    let config = ConnectionConfig::from_url(&emu.url())
        .expect("emulator url")
        .auth(AuthMethod::CredSsp, Credentials::new("alice", ALICE_PW))
        .encryption(Encryption::Never);
    let err = post(&HttpTransport::new(config).unwrap(), Lane::CONTROL)
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::UnencryptedRefused), "{err:?}");
    emu.shutdown().await;
}
