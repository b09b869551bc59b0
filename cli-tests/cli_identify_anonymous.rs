//! `psrm test-wsman` without credentials (`Test-WSMan` without `-Authentication`):
//! `--unauthenticated` with a user but no password, and no user at all (the automatic
//! default), against a `psrm emulator` process over HTTP (through a recording TCP relay: no
//! `Authorization` header leaves the client) and HTTPS, with `--json`, and a server that
//! answers 401.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;

use serde_json::Value;
use support::{PSRM, scratch_dir, start_emulator, stdout_of};

const CONFIG: &str = "computer_name = \"ANON03\"\n[[users]]\nname = \"alice\"\npassword = \"Anon-pw-1414\"\n[service]\nallow_unencrypted = false\n";

const HIDDEN: &str = "OS: 0.0.0 SP: 0.0 Stack: 3.0";

/// Runs `psrm ARGS` with no password (and no user) in the environment and no terminal.
fn psrm(args: &[&str]) -> Output {
    let state = scratch_dir("psrm-cli-identify-anon-state");
    let out = Command::new(PSRM)
        .arg("--state-dir")
        .arg(&state)
        .args(args)
        .env_remove("PSRM_PASSWORD")
        .env_remove("PSRM_USER")
        .stdin(Stdio::null())
        .output()
        .expect("run psrm");
    let _ = std::fs::remove_dir_all(&state);
    out
}

type Record = Arc<Mutex<Vec<u8>>>;

/// Copies `from` to `to`, keeping what passes in `record` when given.
fn pump(mut from: TcpStream, mut to: TcpStream, record: Option<Record>) {
    let mut buf = [0u8; 4096];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(r) = &record {
            r.lock().unwrap().extend_from_slice(&buf[..n]);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// A TCP relay on 127.0.0.1:0 to `target`, keeping every byte clients send through it.
fn relay(target: &str) -> (String, Record) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind relay");
    let addr = listener.local_addr().expect("relay address").to_string();
    let record: Record = Arc::default();
    let seen = record.clone();
    let target = target.to_owned();
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(&target) else {
                return;
            };
            let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
                return;
            };
            let seen = seen.clone();
            thread::spawn(move || pump(client, server, Some(seen)));
            thread::spawn(move || pump(server2, client2, None));
        }
    });
    (addr, record)
}

/// A server that answers every request with 401 (Negotiate and Basic offered), keeping the
/// requests.
fn refusing_server() -> (String, Record) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address").to_string();
    let record: Record = Arc::default();
    let seen = record.clone();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // The head, then the body (Content-Length).
            let complete = |r: &[u8]| {
                let text = String::from_utf8_lossy(r).to_ascii_lowercase();
                let Some(end) = text.find("\r\n\r\n") else {
                    return false;
                };
                let length = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                r.len() >= end + 4 + length
            };
            while !complete(&request) {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            seen.lock().unwrap().extend_from_slice(&request);
            let _ = stream.write_all(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: Basic realm=\"WSMAN\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    (addr, record)
}

fn text(record: &Record) -> String {
    String::from_utf8_lossy(&record.lock().unwrap()).to_ascii_lowercase()
}

#[test]
fn test_wsman_without_credentials() {
    let emu = start_emulator(scratch_dir("psrm-cli-identify-anon"), CONFIG, &[], "http");
    let (addr, seen) = relay(&emu.addr);

    // --unauthenticated with a user but no password: nothing is prompted for or sent.
    let list = stdout_of(&psrm(&[
        "-H",
        &addr,
        "-u",
        "alice",
        "test-wsman",
        "--unauthenticated",
    ]));
    assert_eq!(
        list,
        format!(
            concat!(
                "wsmid           : http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd\n",
                "ProtocolVersion : http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\n",
                "ProductVendor   : Microsoft Corporation\n",
                "ProductVersion  : {}\n",
            ),
            HIDDEN
        )
    );

    // No user at all: Test-WSMan's default, unauthenticated; --json.
    let doc: Value =
        serde_json::from_str(&stdout_of(&psrm(&["-H", &addr, "test-wsman", "--json"])))
            .expect("one json document");
    assert_eq!(doc["ComputerName"], addr.as_str());
    assert_eq!(doc["ProductVersion"], HIDDEN);
    assert_eq!(doc["OSVersion"], Value::Null);
    assert_eq!(doc["SecurityProfiles"], Value::Null);
    assert_eq!(doc["ProductVendor"], "Microsoft Corporation");

    let sent = text(&seen);
    assert_eq!(
        sent.matches("wsmanidentify: unauthenticated\r\n").count(),
        2,
        "{sent}"
    );
    assert!(!sent.contains("authorization"), "{sent}");

    // A user without a password and without --unauthenticated still means authentication:
    // no terminal to prompt on, so it says so.
    let out = psrm(&["-H", &addr, "-u", "alice", "test-wsman"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no password"), "{err}");
}

#[test]
fn test_wsman_without_credentials_over_https() {
    let emu = start_emulator(
        scratch_dir("psrm-cli-identify-anon-tls"),
        CONFIG,
        &["--tls-self-signed".to_owned()],
        "https",
    );
    let list = stdout_of(&psrm(&[
        "-H",
        &emu.addr,
        "--ssl",
        "--insecure",
        "test-wsman",
        "--unauthenticated",
    ]));
    assert!(
        list.contains(&format!("ProductVersion  : {HIDDEN}\n")),
        "{list}"
    );
    assert!(!list.contains("SecurityProfiles"), "{list}");
    // The TLS settings still apply: the self-signed certificate is not trusted by default.
    let out = psrm(&["-H", &emu.addr, "--ssl", "test-wsman", "--unauthenticated"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}

#[test]
fn test_wsman_refused_without_credentials() {
    let (addr, seen) = refusing_server();
    let out = psrm(&["-H", &addr, "test-wsman", "--unauthenticated"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did not answer the Identify"), "{err}");
    assert!(
        err.contains("server refused the unauthenticated request: http 401"),
        "{err}"
    );
    assert!(err.contains("Negotiate, Basic"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let sent = text(&seen);
    assert!(sent.starts_with("post /wsman http/1.1\r\n"), "{sent}");
    assert!(
        sent.contains("wsmanidentify: unauthenticated\r\n"),
        "{sent}"
    );
    assert!(sent.contains("identify"), "{sent}");
    assert!(!sent.contains("authorization"), "{sent}");
}
