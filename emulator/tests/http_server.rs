//! The HTTP layer itself: encryption policy, MaxEnvelopeSize, HTTPS, routing, the CLI front
//! and shutdown.

mod http_support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use clap::Parser;
use http_support::{ALICE_PW, BOB_PW, assert_echo, config, peer, start, start_tls, status};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread")]
async fn unencrypted_refused_when_not_allowed() {
    let emu = start(config("[service]\nallow_unencrypted = false\n")).await;
    let url = emu.url();
    let port = emu.local_addr().port().to_string();
    let (basic, ntlm_never, ntlm_auto, ntlm_always, pypsrp) = tokio::join!(
        peer(&["winrm", &url, "alice", ALICE_PW, "basic", "never"]),
        peer(&["winrm", &url, "alice", ALICE_PW, "ntlm", "never"]),
        peer(&["winrm", &url, "alice", ALICE_PW, "ntlm", "auto"]),
        peer(&["winrm", &url, "bob", BOB_PW, "ntlm", "always"]),
        peer(&[
            "pypsrp",
            "127.0.0.1",
            &port,
            "alice",
            ALICE_PW,
            "negotiate",
            "auto"
        ]),
    );
    assert_eq!(basic, vec!["HTTP 401".to_owned()]);
    assert_eq!(ntlm_never, vec!["HTTP 401".to_owned()]);
    assert_echo(&ntlm_auto, "alice", true, 2);
    assert_echo(&ntlm_always, "bob", true, 2);
    assert_echo(&pypsrp, "alice", true, 2);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn https_with_generated_certificate() {
    let emu = start_tls(config("[service]\nallow_unencrypted = false\n")).await;
    let url = emu.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let pem = &emu.generated_cert().expect("generated").cert_pem;
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let port = emu.local_addr().port().to_string();
    let (basic, ntlm, pypsrp) = tokio::join!(
        // Basic over TLS is fine even with allow_unencrypted = false.
        peer(&["winrm", &url, "alice", ALICE_PW, "basic", "auto"]),
        peer(&["winrm", &url, "bob", BOB_PW, "ntlm", "auto"]),
        peer(&[
            "pypsrp",
            "127.0.0.1",
            &port,
            "alice",
            ALICE_PW,
            "negotiate",
            "auto",
            "1"
        ]),
    );
    assert_echo(&basic, "alice", true, 2);
    assert_echo(&ntlm, "bob", true, 2);
    assert_echo(&pypsrp, "alice", true, 2);
    let wrong = peer(&["winrm", &url, "alice", "nope", "basic", "auto"]).await;
    assert_eq!(wrong, vec!["HTTP 401".to_owned()]);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn oversize_envelopes_get_413() {
    let emu = start(config("[service]\nmax_envelope_size_kb = 2\n")).await;
    let url = emu.url();
    let (small, big_plain, big_sealed) = tokio::join!(
        peer(&["winrm", &url, "alice", ALICE_PW, "basic", "never", "1500"]),
        peer(&["winrm", &url, "alice", ALICE_PW, "basic", "never", "5000"]),
        peer(&["winrm", &url, "alice", ALICE_PW, "ntlm", "always", "5000"]),
    );
    assert_echo(&small, "alice", false, 2);
    assert_eq!(big_plain, vec!["HTTP 413".to_owned()]);
    assert_eq!(big_sealed, vec!["HTTP 413".to_owned()]);

    // Refused from Content-Length alone: the server answers before the body is sent.
    let mut s = tokio::net::TcpStream::connect(emu.local_addr())
        .await
        .unwrap();
    s.write_all(
        b"POST /wsman HTTP/1.1\r\nHost: x\r\nContent-Type: application/soap+xml\r\nContent-Length: 999999999\r\n\r\n",
    )
    .await
    .unwrap();
    assert_eq!(read_status(&mut s).await, 413);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn routing_and_challenges() {
    let emu = start(config("")).await;
    let addr = emu.local_addr();
    let cases: [(&[u8], u16); 4] = [
        (b"GET /wsman HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b"POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 404),
        (b"POST /wsman HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 401),
        (
            b"POST /wsman HTTP/1.1\r\nHost: x\r\nAuthorization: Digest abc\r\nContent-Length: 0\r\n\r\n",
            401,
        ),
    ];
    for (request, want) in cases {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(request).await.unwrap();
        let head = read_head(&mut s).await;
        assert!(head.starts_with(&format!("HTTP/1.1 {want} ")), "{head}");
        if want == 401 {
            let lower = head.to_ascii_lowercase();
            assert!(lower.contains("www-authenticate: negotiate\r\n"), "{head}");
            assert!(
                lower.contains("www-authenticate: basic realm=\"wsman\""),
                "{head}"
            );
        }
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_stops_listening() {
    let emu = start(config("")).await;
    let addr = emu.local_addr();
    let lines = peer(&["winrm", &emu.url(), "alice", ALICE_PW, "basic", "never"]).await;
    assert_echo(&lines, "alice", false, 2);
    emu.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

/// `psrm emulator` runs `emulator::cli::run`; the test drives that function in-process with
/// the same arguments (integration tests of this crate cannot spawn the root package's binary).
#[tokio::test(flavor = "multi_thread")]
async fn cli_prints_one_ready_line_and_shuts_down() {
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: emulator::cli::EmulatorArgs,
    }
    let dir = std::env::temp_dir().join(format!("psrm-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("emulator.toml");
    std::fs::write(
        &cfg,
        format!("[[users]]\nname = \"alice\"\npassword = \"{ALICE_PW}\"\n"),
    )
    .unwrap();
    let cli = Cli::parse_from([
        "emulator",
        "--listen",
        "127.0.0.1:0",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    let out = SharedOut::default();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn({
        let out = out.clone();
        async move {
            emulator::cli::run(&cli.args, emulator::http::EchoService, out, async {
                let _ = stop_rx.await;
            })
            .await
        }
    });
    let line = loop {
        let text = out.text();
        if text.ends_with('\n') {
            break text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    let url = line
        .strip_prefix("listening on ")
        .and_then(|s| s.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("unexpected ready line {line:?}"));
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/wsman"),
        "{url}"
    );
    assert!(!url.contains(":0/"), "{url}");
    let lines = peer(&["winrm", url, "alice", ALICE_PW, "ntlm", "always"]).await;
    assert_echo(&lines, "alice", true, 2);
    stop_tx.send(()).unwrap();
    task.await.unwrap().unwrap();
    assert_eq!(out.text(), line, "exactly one line");

    // A bad config file is a one-line error naming the key, not a panic.
    std::fs::write(&cfg, "[service]\nmax_envelope_size_kb = \"x\"\n").unwrap();
    let cli = Cli::parse_from([
        "emulator",
        "--listen",
        "127.0.0.1:0",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    let err = emulator::cli::run(&cli.args, emulator::http::EchoService, Vec::new(), async {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("max_envelope_size_kb"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[derive(Clone, Default)]
struct SharedOut(Arc<Mutex<Vec<u8>>>);

impl SharedOut {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for SharedOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn read_head(s: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut chunk).await.unwrap();
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

async fn read_status(s: &mut tokio::net::TcpStream) -> u16 {
    let head = read_head(s).await;
    head.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"))
}

#[test]
fn status_helper_reads_http_lines() {
    assert_eq!(status(&["HTTP 413".to_owned()]), 413);
}

#[tokio::test(flavor = "multi_thread")]
async fn https_with_pem_files() {
    let dir = std::env::temp_dir().join(format!("psrm-pem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let emu = emulator::Emulator::builder(config(""))
        .tls(emulator::tls::TlsSource::Pem {
            cert: cert.clone(),
            key: key.clone(),
        })
        .start(emulator::http::EchoService)
        .await
        .unwrap();
    assert!(emu.generated_cert().is_none());
    let lines = peer(&["winrm", &emu.url(), "alice", ALICE_PW, "basic", "auto"]).await;
    assert_echo(&lines, "alice", true, 2);
    emu.shutdown().await;

    let missing = dir.join("missing.pem");
    let err = emulator::Emulator::builder(config(""))
        .tls(emulator::tls::TlsSource::Pem { cert, key: missing })
        .start(emulator::http::EchoService)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("missing.pem"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
