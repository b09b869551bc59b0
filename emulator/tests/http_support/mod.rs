//! Shared helpers of the HTTP-layer tests: an in-process emulator and the real Python peers.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use base64::Engine as _;

use emulator::http::EchoService;
use emulator::tls::TlsSource;
use emulator::{Config, Emulator};

pub const ALICE_PW: &str = "Alice-pw-0451";
pub const BOB_PW: &str = "Bob-pw-9911";

/// Two users, every scheme, unencrypted allowed unless `extra` says otherwise.
pub fn config(extra: &str) -> Config {
    server_config(true, true, extra)
}

/// `SERVER01` with the user alice (an administrator when `alice_admin`), the user bob when
/// `bob`, then `extra` (TOML).
pub fn server_config(alice_admin: bool, bob: bool, extra: &str) -> Config {
    let mut text = format!(
        "\ncomputer_name = \"SERVER01\"\n[[users]]\nname = \"alice\"\npassword = \"{ALICE_PW}\"\n"
    );
    if alice_admin {
        text.push_str("admin = true\n");
    }
    if bob {
        text.push_str(&format!(
            "[[users]]\nname = \"bob\"\npassword = \"{BOB_PW}\"\n"
        ));
    }
    text.push_str(extra);
    text.push('\n');
    Config::from_toml(&text).expect("test configuration parses")
}

/// A client's result line `OK <rc> <b64 stdout> <b64 stderr>` (`-` for empty) → (rc, stdout,
/// stderr).
pub fn parse_ok(line: &str) -> (i64, String, String) {
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.first(), Some(&"OK"), "client failed: {line}");
    assert_eq!(words.len(), 4, "{line}");
    let text = |w: &str| {
        if w == "-" {
            return String::new();
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(w)
            .expect("base64 from the client");
        String::from_utf8(bytes).expect("utf-8 output")
    };
    (
        words[1].parse().expect("exit code"),
        text(words[2]),
        text(words[3]),
    )
}

pub async fn start(config: Config) -> Emulator {
    Emulator::start(config, EchoService)
        .await
        .expect("emulator starts")
}

pub async fn start_tls(config: Config) -> Emulator {
    Emulator::builder(config)
        .tls(TlsSource::SelfSigned {
            extra_names: Vec::new(),
        })
        .start(EchoService)
        .await
        .expect("emulator starts with tls")
}

/// The emulator crate's directory.
pub fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The interpreter of the pinned venv (`scripts/pyenv`), or `$PSRM_PYTHON`. Missing ⇒ the test
/// fails: these peers are part of the acceptance, never skipped.
pub fn python() -> PathBuf {
    let path = std::env::var_os("PSRM_PYTHON")
        .map_or_else(|| manifest().join("../.venv/bin/python"), PathBuf::from);
    assert!(
        path.exists(),
        "python peer interpreter {} is missing: run scripts/pyenv (or set PSRM_PYTHON)",
        path.display()
    );
    path
}

/// Runs `peer.py <args>` and returns its result lines.
pub fn peer(args: &[&str]) -> impl std::future::Future<Output = Vec<String>> + use<> {
    let script = manifest().join("tests/py/peer.py");
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let python = python();
    run_peer(python, script, args)
}

async fn run_peer(python: PathBuf, script: PathBuf, args: Vec<String>) -> Vec<String> {
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .args(&args)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .expect("python runs")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<String> = stdout.lines().map(str::to_owned).collect();
    assert!(!lines.is_empty(), "peer printed nothing; stderr: {stderr}");
    lines
}

/// Asserts the peer's lines are all echo replies for `user` with the given encryption flag.
pub fn assert_echo(lines: &[String], user: &str, encrypted: bool, count: usize) {
    assert_eq!(lines.len(), count, "{lines:?}");
    for line in lines {
        assert!(line.starts_with("OK 200 "), "{line}");
        assert!(line.contains(&format!("User=\"{user}\"")), "{line}");
        assert!(
            line.contains(&format!("Encrypted=\"{encrypted}\"")),
            "{line}"
        );
    }
}

/// The status of a one-line `HTTP <status> ...` result.
pub fn status(lines: &[String]) -> u16 {
    let line = lines.last().expect("a line");
    let mut words = line.split_whitespace();
    assert_eq!(words.next(), Some("HTTP"), "{line}");
    words.next().and_then(|s| s.parse().ok()).expect("status")
}
