//! Shared helpers of the HTTP-layer tests: an in-process emulator and the real Python peers.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;

use emulator::http::EchoService;
use emulator::powershell::PowerShellShells;
use emulator::service::WsManService;
use emulator::tls::TlsSource;
use emulator::{Config, Emulator};

pub const ALICE_PW: &str = "Alice-pw-0451";
pub const BOB_PW: &str = "Bob-pw-9911";

/// Logons an emulator configured with alice and bob refuses: a wrong password, another user's
/// password, an unknown user.
pub const WRONG_LOGONS: [(&str, &str); 3] = [
    ("alice", "not-the-password"),
    ("alice", BOB_PW),
    ("carol", ALICE_PW),
];

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
    (
        words[1].parse().expect("exit code"),
        b64_text(words[2]),
        b64_text(words[3]),
    )
}

/// A peer's base64 UTF-8 text field (`-` for empty).
pub fn b64_text(word: &str) -> String {
    if word == "-" {
        return String::new();
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(word)
        .expect("base64 from the peer");
    String::from_utf8(bytes).expect("utf-8 text from the peer")
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

/// The WS-Management service over `config` on 127.0.0.1 (PowerShell shells backed by the
/// emulator's PowerShell when `powershell`), over self-signed HTTPS when `tls`.
pub async fn start_wsman(config: Config, tls: bool, powershell: bool) -> Emulator {
    let service = if powershell {
        WsManService::with_powershell(config.clone(), PowerShellShells::new())
    } else {
        WsManService::new(config.clone())
    };
    let mut builder = Emulator::builder(config);
    if tls {
        builder = builder.tls(TlsSource::SelfSigned {
            extra_names: Vec::new(),
        });
    }
    builder.start(service).await.expect("emulator starts")
}

/// Runs `program <args>` with `env` (and no Python bytecode files) off the runtime; its stdout
/// lines, at least one (else the test fails showing the program's stderr).
pub async fn run_lines<K, V>(
    program: PathBuf,
    args: Vec<String>,
    env: impl IntoIterator<Item = (K, V)>,
) -> Vec<String>
where
    K: Into<String>,
    V: Into<String>,
{
    let env: Vec<(String, String)> = env.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&program)
            .args(&args)
            .envs(env)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .unwrap_or_else(|e| panic!("{} runs: {e}", program.display()))
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<String> = stdout.lines().map(str::to_owned).collect();
    assert!(!lines.is_empty(), "peer printed nothing; stderr: {stderr}");
    lines
}

/// The last line `program <args>` prints (with `env`), which must not be empty.
pub async fn last_line<K, V>(
    program: PathBuf,
    args: Vec<String>,
    env: impl IntoIterator<Item = (K, V)>,
) -> String
where
    K: Into<String>,
    V: Into<String>,
{
    let mut lines = run_lines(program, args, env).await;
    let line = lines.pop().unwrap_or_default();
    assert!(!line.is_empty(), "the peer's last line is empty: {lines:?}");
    line
}

/// Runs `tests/interop/<script> <args>` under the pinned Python with `env`; its last line.
pub async fn interop_line<K, V>(
    script: &str,
    args: &[&str],
    env: impl IntoIterator<Item = (K, V)>,
) -> String
where
    K: Into<String>,
    V: Into<String>,
{
    let mut all = vec![
        manifest()
            .join("tests/interop")
            .join(script)
            .display()
            .to_string(),
    ];
    all.extend(args.iter().map(|s| (*s).to_owned()));
    last_line(python(), all, env).await
}

/// Builds the Go client `tests/interop/<client>/main.go` (into the target's tmp dir, under
/// `out`), in GOPATH mode against the Debian package `apt_package` whose sources are in
/// /usr/share/gocode/src/`import_path`. The toolchain or the sources missing fails the test.
pub fn go_build(client: &str, out: &str, import_path: &str, apt_package: &str) -> PathBuf {
    let sources = Path::new("/usr/share/gocode/src").join(import_path);
    assert!(
        sources.exists(),
        "{import_path} sources missing: apt-get install -y golang-go {apt_package}"
    );
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(out);
    std::fs::create_dir_all(&out_dir).expect("target tmp dir");
    let binary = out_dir.join(client);
    let status = Command::new("go")
        .args(["build", "-o"])
        .arg(&binary)
        .arg(
            manifest()
                .join("tests/interop")
                .join(client)
                .join("main.go"),
        )
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOCACHE", out_dir.join("gocache"))
        .status()
        .expect("the go toolchain runs (apt-get install -y golang-go)");
    assert!(
        status.success(),
        "go build of the {import_path} client failed"
    );
    binary
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
    let mut all = vec![script.display().to_string()];
    all.extend(args);
    run_lines(python, all, std::iter::empty::<(String, String)>()).await
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
