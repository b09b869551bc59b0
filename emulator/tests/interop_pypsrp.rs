//! Real PowerShell remoting clients against the emulator's PowerShell shells on 127.0.0.1:
//! pypsrp 0.9.1 (`Client.execute_ps`, `RunspacePool` + `PowerShell` with every stream, input,
//! cmdlets with parameters, key exchange, runspace requests, command metadata, stop,
//! `disconnect` / `get_runspace_pools` / `connect` / `create_disconnected_power_shells`, Block
//! and Drop buffering while disconnected) and pywinrm's `Session.run_ps` (WinRS + `powershell
//! -EncodedCommand`). Default Negotiate auth with message encryption over HTTP. The scenarios
//! live in `tests/interop/psrp_scenarios.py`; a missing peer fails the test.

mod http_support;

use http_support::{ALICE_PW, manifest, python, server_config};

use std::collections::BTreeMap;
use std::process::Command;

use emulator::powershell::PowerShellShells;
use emulator::service::WsManService;
use emulator::{Config, Emulator};

fn config(extra: &str) -> Config {
    server_config(
        true,
        false,
        &format!(
            r#"[service]
max_timeout_ms = 5000
# Plaintext SOAP over HTTP is refused, so every passing client really encrypted its messages.
allow_unencrypted = false
[[session_configurations]]
name = "Microsoft.PowerShell"
min_idle_timeout_ms = 1000
{extra}
"#
        ),
    )
}

async fn start(cfg: Config) -> Emulator {
    Emulator::builder(cfg.clone())
        .listen("127.0.0.1:0".parse().expect("address"))
        .start(WsManService::with_powershell(cfg, PowerShellShells::new()))
        .await
        .expect("emulator starts")
}

/// What a scenario observed: key → JSON text.
struct Seen(BTreeMap<String, String>, String);

impl Seen {
    fn get(&self, key: &str) -> &str {
        self.0
            .get(key)
            .unwrap_or_else(|| panic!("no observation {key}; client said:\n{}", self.1))
    }

    fn is(&self, key: &str, json: &str) {
        assert_eq!(self.get(key), json, "{key}; client said:\n{}", self.1);
    }
}

async fn scenario(name: &str, url: &str) -> Seen {
    let script = manifest().join("tests/interop/psrp_scenarios.py");
    let args = vec![
        script.display().to_string(),
        name.to_owned(),
        url.to_owned(),
        "alice".to_owned(),
    ];
    let program = python();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&program)
            .args(&args)
            .env("PSRM_TEST_PASSWORD", ALICE_PW)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .unwrap_or_else(|e| panic!("{} runs: {e}", program.display()))
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stdout.lines().last(),
        Some("DONE"),
        "scenario {name} failed:\n{stdout}\n{stderr}"
    );
    eprintln!("--- scenario {name}:\n{stdout}");
    let map = stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    Seen(map, stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypsrp_execute_ps_output_streams_and_had_errors() {
    let emu = start(config("")).await;
    let seen = scenario("execute_ps", &emu.url()).await;
    seen.is("output", r#""hello\n2""#);
    // As on Windows: a non-terminating error leaves the pipeline Completed.
    seen.is("had_errors", "false");
    seen.is("errors", r#"["bad thing"]"#);
    seen.is("warnings", r#"["careful"]"#);
    seen.is("clean_output", r#""42""#);
    seen.is("clean_had_errors", "false");
    seen.is("throw_had_errors", "true");
    assert!(seen.get("throw_errors").contains("fatal"), "{}", seen.1);
    // The control: the same client without encryption is refused by this configuration.
    let plain = scenario("plaintext_basic", &emu.url()).await;
    plain.is("plaintext", r#""refused""#);
    emu.shutdown().await;
    let mut open_cfg = config("");
    open_cfg.service.allow_unencrypted = true;
    let emu = start(open_cfg).await;
    let plain = scenario("plaintext_basic", &emu.url()).await;
    plain.is("plaintext", r#""accepted""#);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypsrp_runspace_pool_every_stream_input_and_pool_requests() {
    let emu = start(config("")).await;
    let seen = scenario("pool_streams", &emu.url()).await;
    seen.is("pool_state", "2");
    seen.is("ps_version", r#""5.1.17763.1""#);
    seen.is("protocol_version", r#""2.3""#);
    seen.is(
        "script_output",
        r#"[{"Count": 3, "Name": "alpha"}, "text", 42]"#,
    );
    assert!(
        seen.get("custom_types")
            .contains("System.Management.Automation.PSCustomObject"),
        "{}",
        seen.1
    );
    // Non-terminating errors leave the pipeline Completed (pypsrp: had_errors false), as on
    // Windows; the records are in the error stream.
    seen.is("script_had_errors", "false");
    seen.is("script_state", "4");
    let streams = seen.get("streams");
    for needle in [
        r#""warning": ["warn me"]"#,
        r#""verbose": ["so verbose"]"#,
        r#""debug": ["debugging"]"#,
        r#""information": ["for your information"]"#,
        r#""progress": [["Working", "Half", 50]]"#,
        r#""message": "it failed""#,
        r#""reason": "WriteErrorException""#,
        r#""fqid": "Microsoft.PowerShell.Commands.WriteErrorException""#,
        r#""fqid": "CommandNotFoundException""#,
        r#""category": 13"#,
    ] {
        assert!(streams.contains(needle), "{needle} not in {streams}");
    }
    seen.is("cmdlet_output", r#"["from a cmdlet"]"#);
    seen.is("switch_output", "[3, 2, 1]");
    seen.is("param_output", "[1, 2]");
    seen.is("input_output", "[10, 20, 30]");
    seen.is("input_script_output", r#"["got a", "got b"]"#);
    seen.is("throw_state", "5");
    seen.is("throw_had_errors", "true");
    seen.is("session_state", r#"["session"]"#);
    seen.is("session_key", "true");
    seen.is("max_runspaces", "3");
    seen.is("available", "3");
    assert!(seen.get("metadata").contains(r#""Get-Date""#), "{}", seen.1);
    let stop: f64 = seen.get("stop_seconds").parse().expect("seconds");
    assert!(stop < 2.0, "stop took {stop} s");
    seen.is("after_stop", r#"["still usable"]"#);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypsrp_disconnect_then_connect_from_a_second_client() {
    let emu = start(config("")).await;
    let seen = scenario("disconnect_connect", &emu.url()).await;
    seen.is("state_after_disconnect", r#""Disconnected""#);
    seen.is("commands_after_disconnect", r#"["Running"]"#);
    seen.is("commands_later", r#"["Done"]"#);
    seen.is("finished_while_disconnected", "true");
    seen.is("found_pools", "1");
    seen.is("listed_state", "9");
    seen.is("listed_pipelines", "1");
    seen.is("connected_state", "2");
    seen.is("disconnected_shells", "1");
    let ticks: Vec<String> = (1..=20).map(|i| format!("\"tick {i}\"")).collect();
    seen.is("received", &format!("[{}]", ticks.join(", ")));
    seen.is("received_state", "4");
    seen.is("marker", r#"["kept across clients"]"#);
    seen.is("state_after_connect", r#""Connected""#);
    assert_ne!(seen.get("first_client_reconnect"), r#""allowed""#);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypsrp_disconnect_then_reconnect_from_the_same_client() {
    let emu = start(config("")).await;
    let seen = scenario("reconnect_same_client", &emu.url()).await;
    seen.is("pool_state_disconnected", "9");
    seen.is("pool_state_reconnected", "2");
    seen.is("received", "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]");
    seen.is("received_state", "4");
    seen.is("session_state", "[1000]");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypsrp_block_mode_pauses_the_script_and_loses_nothing() {
    let emu = start(config(
        "output_buffer_size_kb = 8\noutput_buffering_mode = \"Block\"",
    ))
    .await;
    let seen = scenario("block_mode", &emu.url()).await;
    seen.is("commands_while_full", r#"["Running"]"#);
    seen.is("count", "300");
    seen.is("in_order_without_loss", "true");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypsrp_drop_mode_completes_while_disconnected_and_drops_the_oldest() {
    let emu = start(config(
        "output_buffer_size_kb = 8\noutput_buffering_mode = \"Block\"",
    ))
    .await;
    let seen = scenario("drop_mode", &emu.url()).await;
    seen.is("commands_later", r#"["Done"]"#);
    seen.is("last", "300");
    seen.is("contiguous_tail", "true");
    let count: u32 = seen.get("count").parse().expect("count");
    assert!((1..60).contains(&count), "{count} objects kept of 300");
    let first: u32 = seen.get("first").parse().expect("first");
    assert!(first > 1, "the oldest were dropped");
    seen.is("state", "4");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pywinrm_run_ps_goes_through_winrs() {
    let emu = start(config("")).await;
    let seen = scenario("pywinrm_run_ps", &emu.url()).await;
    seen.is("rc", "0");
    seen.is("stdout", r#""42\r\nsecond line\r\n""#);
    seen.is("stderr", r#""""#);
    assert!(seen.get("err_stderr").contains("from run_ps"), "{}", seen.1);
    assert!(seen.get("err_stdout").contains("still here"), "{}", seen.1);
    // As powershell.exe: the exit code is `$?` of the last statement, which succeeded.
    seen.is("err_rc", "0");
    // An error as the last statement: status 1, stdout as the console shows it, and the
    // `#< CLIXML` stderr that pywinrm's _clean_error_msg turned into Windows' error text.
    seen.is("last_rc", "1");
    seen.is("last_stdout", r#""partial output\r\n""#);
    seen.is(
        "last_stderr",
        concat!(
            r#""'partial output'; Write-Error 'from run_ps' : from run_ps\n"#,
            r#"    + CategoryInfo          : NotSpecified: (:) [Write-Error], WriteErrorException\n"#,
            r#"    + FullyQualifiedErrorId : Microsoft.PowerShell.Commands.WriteErrorException""#
        ),
    );
    seen.is(
        "last_raw_stderr_head",
        r##""#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.mic""##,
    );
    emu.shutdown().await;
}
