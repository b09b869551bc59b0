//! `WsManClient::identify` (WS-Management Identify, `Test-WSMan -Authentication …`): against the
//! emulator over HTTP (Basic, and NTLM with message encryption), and against a transport that
//! answers from a closure (faults, odd statuses, bodies that are not an IdentifyResponse).

mod fake_support;

use std::sync::Arc;

use fake_support::{Fake, fake_client};

use emulator::service::WsManService;
use emulator::{Config, Emulator};
use sessions::{
    AuthMethod, ClientOptions, ConnectionConfig, Credentials, Encryption, HttpReply, HttpTransport,
    Lane, TransportError, WsManClient,
};
use wsman::identify::{self, Identify, IdentifyResponse};
use wsman::{Fault, MessageId};

const ALICE_PW: &str = "Alice-pw-0451";

fn config(extra: &str) -> Config {
    Config::from_toml(&format!(
        "computer_name = \"SERVER01\"\n[[users]]\nname = \"alice\"\npassword = \"{ALICE_PW}\"\n{extra}"
    ))
    .expect("test configuration parses")
}

fn client(emu: &Emulator, method: AuthMethod, password: &str, enc: Encryption) -> WsManClient {
    let config = ConnectionConfig::from_url(&emu.url())
        .expect("emulator url")
        .auth(method, Credentials::new("alice", password))
        .encryption(enc);
    WsManClient::new(
        Arc::new(HttpTransport::new(config).expect("transport")),
        ClientOptions::default(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn identify_against_the_emulator() {
    let cfg = config("");
    let emu = Emulator::start(cfg.clone(), WsManService::new(cfg))
        .await
        .expect("emulator starts");
    for (method, enc) in [
        (AuthMethod::Basic, Encryption::Never),
        (AuthMethod::Ntlm, Encryption::Always),
    ] {
        let id = client(&emu, method, ALICE_PW, enc)
            .identify()
            .await
            .unwrap_or_else(|e| panic!("{method:?}: {e}"));
        assert_eq!(id.protocol_versions, [identify::PROTOCOL_VERSION_WSMAN_1]);
        assert_eq!(
            id.product_vendor.as_deref(),
            Some(identify::VENDOR_MICROSOFT)
        );
        assert_eq!(id.os_version(), Some("10.0.17763"), "{method:?}");
        assert_eq!(
            id.security_profiles.as_deref(),
            Some(
                &[
                    identify::PROFILE_HTTP_BASIC.to_owned(),
                    identify::PROFILE_HTTP_SPNEGO_KERBEROS.to_owned()
                ][..]
            )
        );
    }
    let err = client(&emu, AuthMethod::Ntlm, "wrong", Encryption::Auto)
        .identify()
        .await
        .unwrap_err();
    assert!(err.is_auth(), "{err}");
    emu.shutdown().await;
}

fn fake(status: u16, body: impl Into<Vec<u8>>) -> (WsManClient, Arc<Fake>) {
    let body = body.into();
    fake_client(move |_| {
        Ok(HttpReply {
            status,
            body: body.clone(),
        })
    })
}

#[tokio::test]
async fn the_request_is_a_bare_identify_on_the_control_lane() {
    let reply = IdentifyResponse {
        protocol_versions: vec![identify::PROTOCOL_VERSION_WSMAN_1.into()],
        product_vendor: Some("Acme".into()),
        product_version: Some(identify::UNAUTHENTICATED_PRODUCT_VERSION.into()),
        ..IdentifyResponse::default()
    };
    let (c, f) = fake(200, reply.encode());
    assert_eq!(c.identify().await.unwrap(), reply);
    let sent = f.sent.lock().unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, Lane::CONTROL);
    assert_eq!(Identify::decode(&sent[0].1), Ok(Identify));
    let text = String::from_utf8_lossy(&sent[0].1);
    assert!(!text.contains("Action"), "{text}");
}

#[tokio::test]
async fn faults_statuses_and_other_bodies() {
    let fault = Fault::access_denied("SERVER01")
        .to_envelope(MessageId::new("uuid:1"), None)
        .encode();
    let (c, _) = fake(500, fault.clone());
    let err = c.identify().await.unwrap_err();
    assert!(err.fault().is_some(), "{err}");
    assert!(err.to_string().contains("Identify"), "{err}");
    // A fault with HTTP 200 is still a fault.
    let (c, _) = fake(200, fault);
    assert!(c.identify().await.unwrap_err().fault().is_some());
    // HTTP 500 with something else.
    let (c, _) = fake(500, "");
    let err = c.identify().await.unwrap_err();
    assert!(
        err.to_string().contains("http 500 without a soap fault"),
        "{err}"
    );
    // Another status: a transport error carrying it.
    let (c, _) = fake(503, "busy");
    let err = c.identify().await.unwrap_err();
    assert_eq!(
        err.transport_error().and_then(TransportError::status),
        Some(503),
        "{err}"
    );
    // A 200 whose body is not an IdentifyResponse: a decode error, not a panic.
    for body in [
        "",
        "<x/>",
        "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body/></s:Envelope>",
    ] {
        let (c, _) = fake(200, body);
        let err = c.identify().await.unwrap_err();
        assert!(err.fault().is_none() && err.is_protocol(), "{body}: {err}");
        assert!(
            err.to_string().contains("Identify: malformed reply"),
            "{err}"
        );
    }
}
