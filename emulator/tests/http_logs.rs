//! Secrets never reach the logs: every event and span field emitted (by the emulator and by
//! sspi, at every level) while clients log on with right and wrong passwords is captured and
//! searched for the passwords.

mod http_support;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use http_support::{ALICE_PW, BOB_PW, assert_echo, config, peer, start};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

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

#[tokio::test(flavor = "multi_thread")]
async fn passwords_never_appear_in_logs() {
    let capture = Capture::default();
    tracing::subscriber::set_global_default(capture.clone()).expect("only test of this binary");
    let emu = start(config("")).await;
    let url = emu.url();
    let port = emu.local_addr().port().to_string();
    let wrong = "Wrong-pw-7731";
    let (ok_ntlm, ok_neg, bad_basic, bad_ntlm, bad_neg, nomic) = tokio::join!(
        peer(&["winrm", &url, "alice", ALICE_PW, "ntlm", "always"]),
        peer(&[
            "pypsrp",
            "127.0.0.1",
            &port,
            "bob",
            BOB_PW,
            "negotiate",
            "always"
        ]),
        peer(&["winrm", &url, "alice", wrong, "basic", "never"]),
        peer(&["winrm", &url, "alice", wrong, "ntlm", "always"]),
        peer(&[
            "pypsrp",
            "127.0.0.1",
            &port,
            "bob",
            wrong,
            "negotiate",
            "always"
        ]),
        peer(&["craft", &url, "alice", wrong, "nomic-raw"]),
    );
    assert_echo(&ok_ntlm, "alice", true, 2);
    assert_echo(&ok_neg, "bob", true, 2);
    for lines in [&bad_basic, &bad_ntlm, &bad_neg] {
        assert_eq!(lines, &vec!["HTTP 401".to_owned()]);
    }
    assert!(nomic[0].starts_with("HTTP 401"), "{nomic:?}");
    emu.shutdown().await;

    let text = capture.text.lock().unwrap().clone();
    assert!(
        text.len() > 200,
        "the capture saw the logons: {} bytes",
        text.len()
    );
    assert!(text.contains("sspi"), "sspi's own events were captured too");
    for secret in [ALICE_PW, BOB_PW, wrong] {
        assert!(!text.contains(secret), "a password leaked into the logs");
        let utf16: String = secret.encode_utf16().map(|u| format!("{u}, 0, ")).collect();
        assert!(
            !text.contains(&utf16),
            "a UTF-16 password leaked into the logs"
        );
    }
}
