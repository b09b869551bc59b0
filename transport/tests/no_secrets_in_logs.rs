//! Client-side secrets never reach the logs: every event and span field emitted (by this crate
//! and by sspi, at every level) while logging on with right and wrong passwords over Basic,
//! NTLM, SPNEGO and Kerberos (against a real MIT KDC, raw and inside SPNEGO) is captured and
//! searched for the passwords, in plain text, UTF-16 and in the Basic header's base64. Debug
//! output of the configuration, the transport and the errors too.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use emulator::http::EchoService;
use emulator::{Config, Emulator};
#[path = "../../emulator/tests/kdc_support/mod.rs"]
mod kdc_support;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use wsman_transport::{
    AuthMethod, ConnectionConfig, Credentials, HttpReply, HttpTransport, KdcError, Lane, Transport,
    TransportError,
};

const ALICE_PW: &str = "Alice-pw-0451";
const WRONG: &str = "Wrong-pw-7731";

#[derive(Clone, Default)]
struct Capture {
    text: Arc<Mutex<String>>,
    next: Arc<AtomicU64>,
}

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        span.record(&mut Fields(&mut self.text.lock().unwrap()));
        Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        values.record(&mut Fields(&mut self.text.lock().unwrap()));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut text = self.text.lock().unwrap();
        text.push_str(event.metadata().target());
        text.push(' ');
        event.record(&mut Fields(&mut text));
        text.push('\n');
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// One logon with `config`, noting in `debug` the Debug output of the configuration, the
/// transport and the outcome (and the error's Display) for the leak search.
async fn post_noting(
    config: ConnectionConfig,
    envelope: &[u8],
    debug: &mut String,
) -> Result<HttpReply, TransportError> {
    let _ = writeln!(debug, "{config:?}");
    let t = HttpTransport::new(config).unwrap();
    let _ = writeln!(debug, "{t:?}");
    let result = t
        .post(Lane::CONTROL, envelope.to_vec(), Duration::from_secs(10))
        .await;
    let _ = writeln!(debug, "{result:?}");
    if let Err(e) = &result {
        let _ = writeln!(debug, "{e}");
    }
    result
}

#[tokio::test(flavor = "multi_thread")]
async fn passwords_never_appear_in_logs_or_debug_output() {
    let capture = Capture::default();
    tracing::subscriber::set_global_default(capture.clone()).expect("only test of this binary");
    let config = Config::from_toml(&format!(
        "computer_name = \"SERVER01\"\n[[users]]\nname = \"alice\"\npassword = \"{ALICE_PW}\"\n"
    ))
    .unwrap();
    let emu = Emulator::start(config, EchoService).await.unwrap();
    let envelope = br#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/><s:Body/></s:Envelope>"#;
    let mut debug = String::new();
    for method in [AuthMethod::Basic, AuthMethod::Ntlm, AuthMethod::Negotiate] {
        for (password, should_work) in [(ALICE_PW, true), (WRONG, false)] {
            let config = ConnectionConfig::from_url(&emu.url())
                .unwrap()
                .auth(method, Credentials::new("alice", password));
            let result = post_noting(config, envelope, &mut debug).await;
            assert_eq!(result.is_ok(), should_work, "{method:?}: {result:?}");
        }
    }
    // Kerberos: the AS exchange derives keys from the password (the emulator endpoint then
    // refuses the scheme, which does not matter here).
    // Negotiate with a KDC runs the same exchange inside sspi's Negotiate package.
    let realm = kdc_support::Realm::start();
    for (method, password) in [
        (AuthMethod::Kerberos, realm.password()),
        (AuthMethod::Kerberos, WRONG),
        (AuthMethod::Negotiate, realm.password()),
        (AuthMethod::Negotiate, WRONG),
    ] {
        let config = ConnectionConfig::from_url(&emu.url())
            .unwrap()
            .auth(method, Credentials::new(realm.principal(), password))
            .kdc(realm.kdc_addr().to_string())
            .spn("HTTP/localhost");
        let result = post_noting(config, envelope, &mut debug).await;
        let wrong = matches!(
            &result,
            Err(TransportError::Kdc {
                error: KdcError::WrongPassword { .. },
                ..
            })
        );
        assert_eq!(wrong, password == WRONG, "{method:?}: {result:?}");
    }
    emu.shutdown().await;

    let text = capture.text.lock().unwrap().clone();
    assert!(text.contains("sspi"), "sspi's own events were captured too");
    assert!(debug.contains("redacted"), "{debug}");
    for haystack in [&text, &debug] {
        for secret in [ALICE_PW, WRONG, realm.password()] {
            assert!(!haystack.contains(secret), "a password leaked");
            let utf16: String = secret.encode_utf16().map(|u| format!("{u}, 0, ")).collect();
            assert!(!haystack.contains(&utf16), "a UTF-16 password leaked");
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("alice:{secret}"));
            assert!(!haystack.contains(&basic), "a Basic header leaked");
        }
    }
}
