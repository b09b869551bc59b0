//! The transport's CredSSP client against the in-process emulator (its echo service) over
//! HTTPS and, sealed with the inner TLS session, over HTTP: the delegated user, two lanes,
//! re-authentication on a new connection, wrong passwords, a server that does not offer CredSSP.

mod emulator_support;

use emulator::http::EchoService;
use emulator::tls::TlsSource;
use emulator::{Config, Emulator};
use emulator_support::{assert_large_round_trip, assert_sealed_on_two_lanes, post};
use wsman_transport::{
    AuthMethod, ConnectionConfig, Credentials, Encryption, HttpTransport, Lane, Transport,
    TransportError,
};

const ALICE_PW: &str = "Alice-pw-0451";
const BOB_PW: &str = "Bob-pw-9911";

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
        assert_sealed_on_two_lanes(&t, "credssp over http").await;
    }
    // Larger than one 16 KiB part: several sealed parts (the echo reports the plaintext length).
    assert_large_round_trip(&t, 40_000).await;
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
