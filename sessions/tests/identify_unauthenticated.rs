//! `WsManClient::identify_unauthenticated` (`Test-WSMan` without `-Authentication`): the
//! emulator's hidden-version answer over HTTP and HTTPS, a service that refuses anonymous
//! callers (a typed auth error), and a transport that cannot send without credentials.

use std::sync::Arc;
use std::time::Duration;

use emulator::http::EchoService;
use emulator::service::WsManService;
use emulator::tls::TlsSource;
use emulator::{Config, Emulator};
use sessions::{
    AuthMethod, ClientOptions, ConnectionConfig, Credentials, HttpReply, HttpTransport, Lane,
    Transport, TransportError, WsManClient,
};
use wsman::identify;

fn config() -> Config {
    Config::from_toml(
        "computer_name = \"ANON02\"\n[[users]]\nname = \"alice\"\npassword = \"Anon-pw-1618\"\n",
    )
    .expect("test configuration parses")
}

fn client(config: ConnectionConfig) -> WsManClient {
    WsManClient::new(
        Arc::new(HttpTransport::unauthenticated(config).expect("transport")),
        ClientOptions::default(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn hidden_version_over_http_and_https() {
    let cfg = config();
    let plain = Emulator::start(cfg.clone(), WsManService::new(cfg.clone()))
        .await
        .expect("emulator starts");
    let tls = Emulator::builder(cfg.clone())
        .tls(TlsSource::SelfSigned {
            extra_names: Vec::new(),
        })
        .start(WsManService::new(cfg))
        .await
        .expect("tls emulator starts");
    let configs = [
        ConnectionConfig::from_url(&plain.url()).expect("url"),
        ConnectionConfig::from_url(&tls.url())
            .expect("url")
            .insecure(true),
    ];
    for config in configs {
        let url = config.url();
        let id = client(config)
            .identify_unauthenticated()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(id.is_unauthenticated(), "{url}: {id:?}");
        assert_eq!(
            id.product_version.as_deref(),
            Some("OS: 0.0.0 SP: 0.0 Stack: 3.0")
        );
        assert_eq!(id.os_version(), None);
        assert_eq!(id.security_profiles, None);
        assert_eq!(id.protocol_versions, [identify::PROTOCOL_VERSION_WSMAN_1]);
        assert_eq!(
            id.product_vendor.as_deref(),
            Some(identify::VENDOR_MICROSOFT)
        );
    }
    // A client with credentials asks without them too: the same hidden answer, while its
    // authenticated Identify reports the version.
    let with_credentials = WsManClient::from_config(
        ConnectionConfig::from_url(&plain.url())
            .expect("url")
            .auth(AuthMethod::Basic, Credentials::new("alice", "Anon-pw-1618")),
    )
    .expect("client");
    let hidden = with_credentials
        .identify_unauthenticated()
        .await
        .expect("unauthenticated identify");
    assert!(hidden.is_unauthenticated(), "{hidden:?}");
    let full = with_credentials.identify().await.expect("identify");
    assert_eq!(full.os_version(), Some("10.0.17763"));
    plain.shutdown().await;
    tls.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refusal_is_a_typed_auth_error() {
    // EchoService keeps `SoapService::handle_unauthenticated`'s default: refuse.
    let emu = Emulator::start(config(), EchoService)
        .await
        .expect("emulator starts");
    let err = client(ConnectionConfig::from_url(&emu.url()).expect("url"))
        .identify_unauthenticated()
        .await
        .unwrap_err();
    assert!(err.is_auth(), "{err}");
    assert!(
        matches!(
            err.transport_error(),
            Some(TransportError::UnauthenticatedRefused { .. })
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("Identify"), "{text}");
    assert!(text.contains("unauthenticated request"), "{text}");
    emu.shutdown().await;
}

/// A transport that only knows authenticated posts (no `post_unauthenticated`).
#[derive(Debug)]
struct AuthenticatedOnly;

impl Transport for AuthenticatedOnly {
    fn endpoint(&self) -> &str {
        "http://only.invalid:5985/wsman"
    }

    fn post(
        &self,
        _lane: Lane,
        _envelope: Vec<u8>,
        _timeout: Duration,
    ) -> wsman_transport::BoxFuture<'_, Result<HttpReply, TransportError>> {
        Box::pin(async { Err(TransportError::Http("not expected".into())) })
    }
}

#[tokio::test]
async fn transports_without_the_unauthenticated_path_say_so() {
    let client = WsManClient::new(Arc::new(AuthenticatedOnly), ClientOptions::default());
    let err = client.identify_unauthenticated().await.unwrap_err();
    assert!(
        matches!(
            err.transport_error(),
            Some(TransportError::Unsupported("none"))
        ),
        "{err:?}"
    );
}
