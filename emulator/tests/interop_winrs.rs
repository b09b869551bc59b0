//! Real WinRM clients running WinRS commands against the emulator on 127.0.0.1: pywinrm
//! (`Session.run_cmd` over basic and ntlm with message encryption, and its `Protocol` API with
//! environment, working directory and stdin), pypsrp (`Client.execute_cmd`) and Go's
//! masterzen/winrm (`Client.Run`). A missing peer fails the test: these are acceptance tests.

mod http_support;

use http_support::{
    ALICE_PW, BOB_PW, go_build, manifest, parse_ok, python, server_config, start_wsman,
};

use std::path::PathBuf;

use emulator::{Config, Emulator};

fn config(max_timeout_ms: u64) -> Config {
    server_config(
        false,
        true,
        &format!("[service]\nmax_timeout_ms = {max_timeout_ms}"),
    )
}

async fn start() -> Emulator {
    start_with(config(5000)).await
}

async fn start_with(cfg: Config) -> Emulator {
    start_wsman(cfg, false, false).await
}

/// The result line of a client: exit code, stdout, stderr.
#[derive(Debug, PartialEq, Eq)]
struct Ran {
    rc: i64,
    stdout: String,
    stderr: String,
}

fn parse(line: &str) -> Ran {
    let (rc, stdout, stderr) = parse_ok(line);
    Ran { rc, stdout, stderr }
}

async fn run(program: PathBuf, args: Vec<String>) -> Ran {
    let lines = run_lines(program, args).await;
    parse(lines.last().expect("a line"))
}

async fn run_lines(program: PathBuf, args: Vec<String>) -> Vec<String> {
    let env = [
        ("PSRM_TEST_PASSWORD", ALICE_PW),
        ("PSRM_TEST_PASSWORD2", BOB_PW),
    ];
    http_support::run_lines(program, args, env).await
}

async fn python_client(client: &str, url: &str, auth: &str, command: &[&str]) -> Ran {
    let mut args = vec![
        manifest()
            .join("tests/interop/clients.py")
            .display()
            .to_string(),
        client.to_owned(),
        url.to_owned(),
        "alice".to_owned(),
        auth.to_owned(),
    ];
    args.extend(command.iter().map(|s| (*s).to_owned()));
    run(python(), args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pywinrm_run_cmd_basic_gives_exit_code_stdout_stderr() {
    let emu = start().await;
    let url = emu.url();
    let ok = python_client("pywinrm", &url, "basic", &["echo", "hello", "world"]).await;
    assert_eq!(ok.rc, 0);
    assert_eq!(ok.stdout, "hello world\r\n");
    assert_eq!(ok.stderr, "");
    let failed = python_client("pywinrm", &url, "basic", &["type C:\\nope.txt & exit /b 3"]).await;
    assert_eq!(failed.rc, 3, "{failed:?}");
    assert_eq!(
        failed.stderr,
        "The system cannot find the file specified.\r\n"
    );
    let missing = python_client("pywinrm", &url, "basic", &["nosuchcommand"]).await;
    assert_eq!(missing.rc, 9009);
    assert!(missing.stderr.contains("is not recognized"), "{missing:?}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pywinrm_run_cmd_ntlm_with_message_encryption() {
    let emu = start().await;
    let ran = python_client("pywinrm", &emu.url(), "ntlm", &["hostname"]).await;
    assert_eq!(ran.rc, 0);
    assert_eq!(ran.stdout, "SERVER01\r\n");
    let ran = python_client("pywinrm", &emu.url(), "ntlm", &["whoami"]).await;
    assert_eq!(ran.stdout, "server01\\alice\r\n");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pywinrm_protocol_environment_stdin_and_cleanup() {
    let emu = start().await;
    let ran = python_client(
        "pywinrm_protocol",
        &emu.url(),
        "ntlm",
        &["echo", "%PSRM_TEST_VAR%"],
    )
    .await;
    assert_eq!(ran.rc, 0);
    assert_eq!(ran.stdout, "from-env\r\n");
    assert_eq!(ran.stderr, "");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypsrp_execute_cmd() {
    let emu = start().await;
    let ran = python_client("pypsrp_cmd", &emu.url(), "ntlm", &["echo", "from pypsrp"]).await;
    assert_eq!(ran.rc, 0);
    assert_eq!(ran.stdout, "from pypsrp\r\n");
    let ran = python_client("pypsrp_cmd", &emu.url(), "basic", &["exit", "/b", "7"]).await;
    assert_eq!(ran.rc, 7);
    emu.shutdown().await;
}

/// Builds the Go client in GOPATH mode against the Debian package's sources.
fn go_client() -> PathBuf {
    go_build(
        "winrm_go",
        "winrm_go",
        "github.com/masterzen/winrm",
        "golang-github-masterzen-winrm-dev",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_masterzen_winrm_run() {
    let binary = tokio::task::spawn_blocking(go_client).await.expect("join");
    let emu = start().await;
    let addr = emu.local_addr();
    let go = |auth: &str, command: &str| {
        run(
            binary.clone(),
            vec![
                addr.ip().to_string(),
                addr.port().to_string(),
                "alice".into(),
                auth.into(),
                command.into(),
            ],
        )
    };
    let ran = go("basic", "echo from go && exit /b 4").await;
    assert_eq!(ran.rc, 4);
    assert_eq!(ran.stdout, "from go \r\n");
    assert_eq!(ran.stderr, "");
    let ran = go("basic", "type C:\\missing.txt").await;
    assert_eq!(ran.rc, 1);
    assert_eq!(ran.stdout, "");
    assert_eq!(ran.stderr, "The system cannot find the file specified.\r\n");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pywinrm_run_ps_through_powershell_encoded_command() {
    let emu = start().await;
    let ran = python_client("pywinrm_ps", &emu.url(), "ntlm", &["Write-Output (6*7)"]).await;
    assert_eq!(ran.rc, 0, "{ran:?}");
    assert_eq!(ran.stdout.trim_end(), "42");
    let ran = python_client(
        "pywinrm_ps",
        &emu.url(),
        "basic",
        &["Write-Error 'bad thing'; exit 2"],
    )
    .await;
    assert_eq!(ran.rc, 2, "{ran:?}");
    assert!(
        ran.stderr.contains("bad thing"),
        "pywinrm cleaned the CLIXML: {ran:?}"
    );
    emu.shutdown().await;
}

/// MaxTimeoutms 500: pywinrm's Receives time out (w:TimedOut) between ping's replies and it
/// polls again, as against Windows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pywinrm_polls_through_operation_timeouts() {
    let emu = start_with(config(500)).await;
    let ran = python_client(
        "pywinrm",
        &emu.url(),
        "ntlm",
        &["ping", "-n", "3", "127.0.0.1"],
    )
    .await;
    assert_eq!(ran.rc, 0, "{ran:?}");
    assert_eq!(
        ran.stdout.matches("Reply from 127.0.0.1").count(),
        3,
        "{ran:?}"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypsrp_wsman_session_operations_on_a_winrs_shell() {
    let emu = start().await;
    let args = vec![
        manifest()
            .join("tests/interop/clients.py")
            .display()
            .to_string(),
        "pypsrp_session_ops".into(),
        emu.url(),
        "alice".into(),
        "ntlm".into(),
        "bob".into(),
    ];
    let lines = run_lines(python(), args).await;
    let steps: Vec<&str> = lines.iter().map(String::as_str).collect();
    let expected = [
        "STEP max_envelope 512000",
        "STEP open alice",
        "STEP running Running",
        "STEP enum_shells 1 Connected",
        "STEP enum_commands 1 Running",
        "STEP get_shell Connected 1",
        "STEP other_get 5",
        "STEP other_enum 0",
        "STEP ctrl_c 3221225786",
        "STEP terminate ok",
        "STEP disconnected Disconnected PT120.000S",
        "STEP command_disconnected 2150859230",
        "STEP after_reconnect 0 1",
        "STEP get_deleted 2150858843",
        "DONE",
    ];
    assert_eq!(steps, expected);
    emu.shutdown().await;
}
