//! Go's masterzen/winrm with its NTLM transporter (`ClientNTLM`, Azure/go-ntlmssp) against the
//! emulator on 127.0.0.1. go-ntlmssp sends its NEGOTIATE without NTLMSSP_NEGOTIATE_NTLM under
//! `Authorization: Negotiate`, never a MIC, and no message encryption: the SOAP bodies travel in
//! plaintext, which the emulator accepts only with `allow_unencrypted = true` (as Windows).
//! A missing Go toolchain or package fails the tests: these are acceptance tests.

mod http_support;

use http_support::{ALICE_PW, go_build, parse_ok, run_lines, server_config, start_wsman};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use emulator::{Config, Emulator};

fn config(allow_unencrypted: bool) -> Config {
    server_config(
        false,
        true,
        &format!("[service]\nallow_unencrypted = {allow_unencrypted}\nmax_timeout_ms = 5000"),
    )
}

async fn start(allow_unencrypted: bool) -> Emulator {
    start_wsman(config(allow_unencrypted), false, false).await
}

/// Builds tests/interop/winrm_go/main.go once, in GOPATH mode against the Debian package's
/// sources (golang-github-masterzen-winrm-dev).
fn go_client() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            go_build(
                "winrm_go",
                "winrm_go_ntlm",
                "github.com/masterzen/winrm",
                "golang-github-masterzen-winrm-dev",
            )
        })
        .clone()
}

/// What the Go client printed: `OK <rc> <stdout> <stderr>` or `ERROR <text>`.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Ran {
        rc: i64,
        stdout: String,
        stderr: String,
    },
    Error(String),
}

fn parse(line: &str) -> Outcome {
    if let Some(text) = line.strip_prefix("ERROR ") {
        return Outcome::Error(text.to_owned());
    }
    let (rc, stdout, stderr) = parse_ok(line);
    Outcome::Ran { rc, stdout, stderr }
}

/// A TCP relay in front of the emulator keeping every byte the server sent, so a test can see
/// how far the HTTP exchange went.
struct Relay {
    addr: SocketAddr,
    from_server: Arc<Mutex<Vec<u8>>>,
}

impl Relay {
    async fn start(server: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("relay binds");
        let addr = listener.local_addr().expect("relay address");
        let from_server = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&from_server);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let record = Arc::clone(&record);
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
                    let Ok(upstream) = tokio::net::TcpStream::connect(server).await else {
                        return;
                    };
                    let (mut up_read, mut up_write) = upstream.into_split();
                    let (mut down_read, mut down_write) = client.split();
                    let to_server = tokio::io::copy(&mut down_read, &mut up_write);
                    let to_client = async {
                        let mut buf = vec![0; 16 * 1024];
                        loop {
                            let n = match up_read.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            record.lock().expect("record").extend_from_slice(&buf[..n]);
                            if down_write.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = down_write.shutdown().await;
                    };
                    let _ = tokio::join!(to_server, to_client);
                });
            }
        });
        Self { addr, from_server }
    }

    /// The server's bytes so far, as text (HTTP heads and SOAP are ASCII/UTF-8).
    fn seen(&self) -> String {
        String::from_utf8_lossy(&self.from_server.lock().expect("record")).to_lowercase()
    }
}

/// `WWW-Authenticate: Negotiate <CHALLENGE_MESSAGE>` (base64 of `NTLMSSP\0\x02\0\0\0`),
/// lower-cased.
const CHALLENGE_HEADER: &str = "www-authenticate: negotiate tlrmtvntuaacaaaa";

/// Runs the Go client with NTLM as `user` / `password`.
async fn go_ntlm(emu: &Emulator, user: &str, password: &str, command: &str) -> Outcome {
    go_ntlm_to(emu.local_addr(), user, password, command).await
}

async fn go_ntlm_to(addr: SocketAddr, user: &str, password: &str, command: &str) -> Outcome {
    let binary = tokio::task::spawn_blocking(go_client).await.expect("join");
    let args = [
        addr.ip().to_string(),
        addr.port().to_string(),
        user.to_owned(),
        "ntlm".to_owned(),
        command.to_owned(),
    ];
    let lines = run_lines(binary, args.to_vec(), [("PSRM_TEST_PASSWORD", password)]).await;
    parse(lines.last().expect("a line"))
}

fn ran(rc: i64, stdout: &str, stderr: &str) -> Outcome {
    Outcome::Ran {
        rc,
        stdout: stdout.to_owned(),
        stderr: stderr.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_ntlm_runs_commands_with_exit_codes_and_output() {
    let emu = start(true).await;
    let out = go_ntlm(&emu, "alice", ALICE_PW, "echo from go ntlm && exit /b 5").await;
    assert_eq!(out, ran(5, "from go ntlm \r\n", ""));
    let out = go_ntlm(&emu, "alice", ALICE_PW, "whoami").await;
    assert_eq!(out, ran(0, "server01\\alice\r\n", ""));
    let out = go_ntlm(&emu, "alice", ALICE_PW, "type C:\\missing.txt").await;
    assert_eq!(
        out,
        ran(1, "", "The system cannot find the file specified.\r\n")
    );
    emu.shutdown().await;
}

/// go-ntlmssp drops the domain of `HOST\user` (it uses the CHALLENGE's empty target name).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_ntlm_with_a_domain_qualified_user_name() {
    let emu = start(true).await;
    let out = go_ntlm(&emu, "SERVER01\\alice", ALICE_PW, "whoami").await;
    assert_eq!(out, ran(0, "server01\\alice\r\n", ""));
    emu.shutdown().await;
}

/// go-ntlmssp sends no MIC: the emulator's own NTProofStr and name checks are what refuse
/// these, after it has answered the NEGOTIATE with a CHALLENGE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_ntlm_refuses_wrong_password_and_unknown_user() {
    let emu = start(true).await;
    let relay = Relay::start(emu.local_addr()).await;
    for (user, password) in [
        ("alice", "Alice-pw-0452"),
        ("alice", "Bob-pw-9911"),
        ("bob", ALICE_PW),
        ("mallory", ALICE_PW),
        ("guest", "x"),
    ] {
        let before = relay.seen().matches(CHALLENGE_HEADER).count();
        let out = go_ntlm_to(relay.addr, user, password, "echo should not run").await;
        let Outcome::Error(text) = &out else {
            panic!("{user}/{password} ran: {out:?}");
        };
        assert!(text.contains("401"), "{user}/{password}: {text}");
        let seen = relay.seen();
        assert_eq!(
            seen.matches(CHALLENGE_HEADER).count(),
            before + 1,
            "{user}/{password}: no challenge"
        );
    }
    assert!(!relay.seen().contains("should not run"));
    emu.shutdown().await;
}

/// go-ntlmssp has no sealing, so its bodies are plaintext SOAP over HTTP: refused when
/// AllowUnencrypted is false, as by Windows, although the logon itself is right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_ntlm_plaintext_refused_when_unencrypted_is_not_allowed() {
    let emu = start(false).await;
    let relay = Relay::start(emu.local_addr()).await;
    let out = go_ntlm_to(relay.addr, "alice", ALICE_PW, "echo should not run").await;
    let Outcome::Error(text) = &out else {
        panic!("plaintext accepted: {out:?}");
    };
    assert!(text.contains("401"), "{text}");
    assert_eq!(relay.seen().matches(CHALLENGE_HEADER).count(), 1);
    assert!(!relay.seen().contains("soap"), "a soap reply went out");
    emu.shutdown().await;
}
