//! Injected faults at the HTTP layer, seen by a raw HTTP/1.1 client: a dropped connection ends
//! without a status line, a status rule answers that status without reaching the service, a
//! delay holds the reply back, and rules from the `[faults]` configuration apply from the start.

use std::time::{Duration, Instant};

use base64::Engine as _;
use emulator::faults::{FaultKind, FaultRule};
use emulator::http::EchoService;
use emulator::{Config, Emulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ENVELOPE: &str = concat!(
    r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" "#,
    r#"xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"><s:Header>"#,
    r#"<a:Action s:mustUnderstand="true">"#,
    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive",
    "</a:Action><a:MessageID>uuid:1</a:MessageID></s:Header><s:Body/></s:Envelope>"
);

fn config(extra: &str) -> Config {
    Config::from_toml(&format!(
        "[[users]]\nname = \"alice\"\npassword = \"pw\"\n{extra}"
    ))
    .expect("configuration parses")
}

/// Posts `body` on a fresh connection; the raw response (empty when the server closed first).
async fn post(emu: &Emulator, body: &str) -> String {
    let mut tcp = TcpStream::connect(emu.local_addr()).await.expect("connect");
    let auth = base64::engine::general_purpose::STANDARD.encode("alice:pw");
    let request = format!(
        "POST /wsman HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\n\
         Content-Type: application/soap+xml;charset=UTF-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    let _ = tcp.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn drop_status_and_delay_rules_act_on_their_action_only() {
    let emu = Emulator::start(config(""), EchoService)
        .await
        .expect("starts");
    assert!(post(&emu, ENVELOPE).await.starts_with("HTTP/1.1 200"));

    emu.faults()
        .add(FaultRule::new("Receive", FaultKind::Drop).nth(1));
    let dropped = post(&emu, ENVELOPE).await;
    assert!(dropped.is_empty(), "no reply at all: {dropped:?}");
    assert!(
        post(&emu, ENVELOPE).await.starts_with("HTTP/1.1 200"),
        "once"
    );

    emu.faults().add(
        FaultRule::new("Receive", FaultKind::Status)
            .status(503)
            .nth(1),
    );
    // Another action does not count against a Receive rule.
    let other = ENVELOPE.replace("shell/Receive", "shell/Command");
    assert!(post(&emu, &other).await.starts_with("HTTP/1.1 200"));
    assert!(post(&emu, ENVELOPE).await.starts_with("HTTP/1.1 503"));

    emu.faults().add(
        FaultRule::new("*", FaultKind::Delay)
            .delay(Duration::from_millis(300))
            .nth(1),
    );
    let t = Instant::now();
    assert!(post(&emu, &other).await.starts_with("HTTP/1.1 200"));
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );

    let counts = emu.faults().counts();
    assert_eq!((counts.dropped, counts.statuses, counts.delayed), (1, 1, 1));
    emu.shutdown().await;
}

#[tokio::test]
async fn rules_from_the_configuration_apply_from_the_start() {
    let emu = Emulator::start(
        config("[faults]\n[[faults.rules]]\nkind = \"status\"\nstatus = 500\nevery = 2\n"),
        EchoService,
    )
    .await
    .expect("starts");
    let statuses: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(post(&emu, ENVELOPE).await.chars().take(12).collect());
        }
        v
    };
    assert_eq!(
        statuses,
        [
            "HTTP/1.1 200",
            "HTTP/1.1 500",
            "HTTP/1.1 200",
            "HTTP/1.1 500"
        ]
    );
    emu.shutdown().await;
}
