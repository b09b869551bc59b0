//! The `psrm` binary end to end: an emulator process (`psrm emulator`) and client processes with
//! two state directories, i.e. two clients (SPEC A1, C2).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{
    BIG_N, EmulatorProcess, PSRM, all_read_once, big_object_numbers, big_objects_script,
    lost_midway, start_emulator, stdout_of as ok,
};
const PASSWORD: &str = "Cli-pw-3141";

fn scratch_dir() -> PathBuf {
    support::scratch_dir("psrm-cli")
}

fn emulator(extra: &str) -> EmulatorProcess {
    emulator_with_args(extra, &[])
}

/// `psrm emulator` with extra TOML and extra command-line arguments (paths inside the
/// scratch dir may be named as `{dir}`).
fn emulator_with_args(extra: &str, args: &[&str]) -> EmulatorProcess {
    let dir = scratch_dir();
    let config = format!(
        "computer_name = \"SERVER01\"\n[[users]]\nname = \"alice\"\npassword = \"{PASSWORD}\"\nadmin = true\n\
         [[session_configurations]]\nname = \"Microsoft.PowerShell\"\nmin_idle_timeout_ms = 500\n{extra}"
    );
    let args: Vec<String> = args
        .iter()
        .map(|a| a.replace("{dir}", &dir.to_string_lossy()))
        .collect();
    start_emulator(dir, &config, &args, "http")
}

/// Runs `psrm -H addr --state-dir dir ARGS`.
fn psrm(emu: &EmulatorProcess, state: &Path, args: &[&str]) -> Output {
    psrm_with(emu, state, PASSWORD, args)
}

fn psrm_with(emu: &EmulatorProcess, state: &Path, password: &str, args: &[&str]) -> Output {
    Command::new(PSRM)
        .args(["-H", &emu.addr, "--state-dir"])
        .arg(state)
        .args(["--operation-timeout", "2"])
        .args(args)
        .env("PSRM_USER", "alice")
        .env("PSRM_PASSWORD", password)
        .env_remove("PSRM_IDLE_TIMEOUT_SEC")
        .stdin(Stdio::null())
        .output()
        .expect("run psrm")
}

/// `psrm invoke --in-disconnected-session --name <name> <options…> <script>` as the client of
/// the state directory `state`.
fn invoke_disconnected(
    emu: &EmulatorProcess,
    state: &Path,
    name: &str,
    options: &[&str],
    script: &str,
) -> Output {
    let mut args = vec!["invoke", "--in-disconnected-session", "--name", name];
    args.extend(options);
    args.push(script);
    psrm(emu, state, &args)
}

fn json(out: &Output) -> Value {
    serde_json::from_str(ok(out).trim()).expect("one JSON document")
}

/// (State, Availability) of the session `name` in a `--json` session list.
fn view(doc: &Value, name: &str) -> (String, String) {
    let list = doc.as_array().expect("an array of sessions");
    let s = list
        .iter()
        .find(|s| s["Name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {doc}"));
    (
        s["State"].as_str().unwrap_or_default().to_owned(),
        s["Availability"].as_str().unwrap_or_default().to_owned(),
    )
}

fn pair(state: &str, availability: &str) -> (String, String) {
    (state.to_owned(), availability.to_owned())
}

#[test]
fn invoke_in_disconnected_session_in_one_process_receive_in_another_client() {
    let emu = emulator("");
    let a = emu.dir.join("client-a");
    let b = emu.dir.join("client-b");
    let doc = json(&invoke_disconnected(
        &emu,
        &a,
        "Nightly",
        &["--json"],
        "1..3 | ForEach-Object { \"item $_\"; Start-Sleep -Milliseconds 100 }",
    ));
    assert_eq!(view(&doc, "Nightly"), pair("Disconnected", "None"));
    // Client B has no local record: it finds the session by enumerating the server.
    let doc = json(&psrm(&emu, &b, &["get", "--json"]));
    assert_eq!(view(&doc, "Nightly"), pair("Disconnected", "None"));
    let text = ok(&psrm(&emu, &b, &["receive", "--name", "Nightly"]));
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["item 1", "item 2", "item 3"]
    );
    let doc = json(&psrm(&emu, &b, &["get", "--json"]));
    assert_eq!(view(&doc, "Nightly"), pair("Opened", "Available"));
    let doc = json(&psrm(&emu, &a, &["get", "--json"]));
    assert_eq!(view(&doc, "Nightly"), pair("Disconnected", "Busy"));
    ok(&psrm(&emu, &b, &["remove", "--name", "Nightly"]));
    let doc = json(&psrm(&emu, &a, &["get", "--json"]));
    assert_eq!(doc.as_array().map(Vec::len), Some(0), "{doc}");
}

#[test]
fn the_seed_two_client_walk_through() {
    let emu = emulator("");
    let one = emu.dir.join("session-1");
    let two = emu.dir.join("session-2");
    let doc = json(&psrm(&emu, &one, &["new", "--name", "Test", "--json"]));
    assert_eq!(view(&doc, "Test"), pair("Opened", "Available"));
    let doc = json(&psrm(&emu, &two, &["get", "--name", "Test", "--json"]));
    assert_eq!(view(&doc, "Test"), pair("Disconnected", "Busy"));
    let doc = json(&psrm(
        &emu,
        &one,
        &["disconnect", "--name", "Test", "--json"],
    ));
    assert_eq!(view(&doc, "Test"), pair("Disconnected", "None"));
    let doc = json(&psrm(&emu, &two, &["get", "--json"]));
    assert_eq!(view(&doc, "Test"), pair("Disconnected", "None"));
    let doc = json(&psrm(&emu, &two, &["connect", "--name", "Test", "--json"]));
    assert_eq!(view(&doc, "Test"), pair("Opened", "Available"));
    let doc = json(&psrm(&emu, &one, &["get", "--json"]));
    assert_eq!(view(&doc, "Test"), pair("Disconnected", "Busy"));
    // The table form has PowerShell's columns.
    let table = ok(&psrm(&emu, &one, &["get"]));
    let header = table
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        [
            "Id",
            "Name",
            "ComputerName",
            "State",
            "ConfigurationName",
            "Availability"
        ]
    );
    // Session state survives the hand-over; the new holder runs commands in it.
    ok(&psrm(
        &emu,
        &two,
        &["invoke", "--name", "Test", "$held = 'by two'"],
    ));
    let text = ok(&psrm(&emu, &two, &["invoke", "--name", "Test", "$held"]));
    assert_eq!(text.trim(), "by two");
    // Client one may not run commands in a session it does not hold.
    let refused = psrm(&emu, &one, &["invoke", "--name", "Test", "1"]);
    assert!(!refused.status.success());
    ok(&psrm(&emu, &two, &["remove", "--name", "Test"]));
}

#[test]
fn receive_as_a_job_prints_the_job_table_then_the_output() {
    let emu = emulator("");
    let a = emu.dir.join("a");
    ok(&invoke_disconnected(&emu, &a, "J", &[], "'from job'"));
    let out = psrm(&emu, &a, &["receive", "--name", "J", "--out-target", "job"]);
    let stdout = ok(&out);
    assert_eq!(stdout.trim(), "from job");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let header = stderr
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        [
            "Id",
            "Name",
            "PSJobTypeName",
            "State",
            "HasMoreData",
            "Location"
        ]
    );
    assert!(stderr.contains("RemoteJob"), "{stderr}");
}

#[test]
fn idle_timeout_options_and_refusals() {
    let emu = emulator("max_idle_timeout_ms = 10000");
    let a = emu.dir.join("a");
    // Above MaxIdleTimeoutMs: one line naming the server's refusal.
    let out = psrm(
        &emu,
        &a,
        &["new", "--name", "Big", "--idle-timeout-sec", "60"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("server fault"), "{err}");
    // Disconnect with a short idle timeout: the session is gone after it.
    ok(&psrm(&emu, &a, &["new", "--name", "Short"]));
    ok(&psrm(
        &emu,
        &a,
        &["disconnect", "--name", "Short", "--idle-timeout-sec", "1"],
    ));
    std::thread::sleep(Duration::from_millis(2500));
    let doc = json(&psrm(&emu, &a, &["get", "--json", "--name", "Short"]));
    assert_eq!(doc.as_array().map(Vec::len), Some(0), "expired: {doc}");
    // Given at connect it is ignored (with a warning), as in PowerShell.
    ok(&psrm(
        &emu,
        &a,
        &["new", "--name", "Keep", "--idle-timeout-sec", "5"],
    ));
    ok(&psrm(&emu, &a, &["disconnect", "--name", "Keep"]));
    let out = psrm(
        &emu,
        &a,
        &["connect", "--name", "Keep", "--idle-timeout-sec", "9"],
    );
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("ignored"));
}

#[test]
fn errors_are_one_line_and_name_the_cause() {
    let emu = emulator("");
    let a = emu.dir.join("a");
    let out = psrm_with(&emu, &a, "wrong-password", &["get"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("authentication"), "{err}");
    let out = psrm(&emu, &a, &["disconnect", "--name", "nope"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown session nope"), "{err}");
}

#[test]
fn exec_returns_the_remote_exit_code() {
    let emu = emulator("");
    let a = emu.dir.join("a");
    let out = psrm(&emu, &a, &["exec", "echo", "hello"]);
    assert_eq!(ok(&out).trim(), "hello");
    let out = psrm(&emu, &a, &["exec", "exit", "/b", "7"]);
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn demo_runs_to_the_end_in_under_a_minute() {
    let started = Instant::now();
    let out = Command::new(PSRM)
        .arg("demo")
        .stdin(Stdio::null())
        .output()
        .expect("run psrm demo");
    let text = ok(&out);
    assert!(started.elapsed() < Duration::from_secs(60));
    for needle in [
        "Opened Microsoft.PowerShell Available",
        "Disconnected Microsoft.PowerShell Busy",
        "Disconnected Microsoft.PowerShell None",
        "line 5",
        "OutputBufferingMode Block: received 3000 of 3000",
        "OutputBufferingMode Drop",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[test]
fn enter_reads_commands_from_stdin_when_it_is_not_a_terminal() {
    use std::io::Write;
    let emu = emulator("");
    let a = emu.dir.join("a");
    let mut child = Command::new(PSRM)
        .args(["-H", &emu.addr, "--state-dir"])
        .arg(&a)
        .arg("enter")
        .env("PSRM_USER", "alice")
        .env("PSRM_PASSWORD", PASSWORD)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn psrm enter");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"$n = 20\n$n + 22\nexit\n")
        .expect("write commands");
    let out = child.wait_with_output().expect("enter ends");
    assert_eq!(ok(&out).trim(), "42");
    // The temporary session was removed on exit.
    let doc = json(&psrm(&emu, &a, &["get", "--json"]));
    assert_eq!(doc.as_array().map(Vec::len), Some(0), "{doc}");
}

#[test]
fn ctrl_c_stops_the_remote_pipeline() {
    let emu = emulator("");
    let a = emu.dir.join("a");
    let child = Command::new(PSRM)
        .args(["-H", &emu.addr, "--state-dir"])
        .arg(&a)
        .args(["invoke", "'started'; Start-Sleep -Seconds 60; 'never'"])
        .env("PSRM_USER", "alice")
        .env("PSRM_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn psrm invoke");
    std::thread::sleep(Duration::from_millis(1500));
    let started = Instant::now();
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(status.success());
    let out = child.wait_with_output().expect("psrm ends");
    assert!(started.elapsed() < Duration::from_secs(15));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stdout.trim(), "started", "{stderr}");
    assert!(stderr.contains("stopping the remote pipeline"), "{stderr}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "a stopped pipeline is a failure"
    );
}

#[test]
fn ctrl_c_during_exec_is_sent_as_a_signal() {
    let emu = emulator("");
    let a = emu.dir.join("a");
    let child = Command::new(PSRM)
        .args(["-H", &emu.addr, "--state-dir"])
        .arg(&a)
        .args(["exec", "ping", "-n", "60", "127.0.0.1"])
        .env("PSRM_USER", "alice")
        .env("PSRM_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn psrm exec");
    std::thread::sleep(Duration::from_millis(1500));
    let started = Instant::now();
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(status.success());
    let out = child.wait_with_output().expect("psrm ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the remote command ended on Ctrl-C: {stderr}"
    );
    assert!(stderr.contains("sending Ctrl-C"), "{stderr}");
    assert_ne!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn emulator_scenario_file_answers_both_engines() {
    // The scenario file is written before the emulator starts: use a dir of our own.
    let files = scratch_dir();
    let scenario = files.join("scenario.toml");
    std::fs::write(
        &scenario,
        "[[command]]\nglob = \"deploy *\"\nshell = \"cmd\"\nstdout = \"deploying\\r\\n\"\nexit_code = 3\n\n\
         [[command]]\nname = \"Get-Widget\"\noutput = [{ Name = \"w1\", Size = 3 }]\n",
    )
    .expect("write scenario");
    let path = scenario.to_string_lossy().into_owned();
    let emu = emulator_with_args("", &["--scenario", &path]);
    let a = emu.dir.join("a");

    // WinRS: the glob entry answers with its stdout and exit code.
    let out = psrm(&emu, &a, &["exec", "deploy", "web01"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "deploying");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // PowerShell: the named command works inside a pipeline.
    let out = psrm(
        &emu,
        &a,
        &["invoke", "Get-Widget | ForEach-Object { $_.Size * 2 }"],
    );
    assert_eq!(ok(&out).trim(), "6");

    // Without the file the same command is unknown, as in PowerShell.
    let plain = emulator("");
    let b = plain.dir.join("b");
    let out = psrm(&plain, &b, &["invoke", "Get-Widget"]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("is not recognized"), "{all}");
    let _ = std::fs::remove_dir_all(&files);
}

/// `connect --output-buffering-mode Drop` in one `psrm` process, then `disconnect` naming no
/// mode in another: the mode travels through the client's state file (a WS-Man Connect cannot
/// carry it) and is sent with that Disconnect. The same walk without the option keeps the
/// default Block. The command writes far more than the 16 KB buffer while client A holds it
/// disconnected.
#[test]
fn output_buffering_mode_given_at_connect_applies_at_a_later_disconnect() {
    const ROWS: usize = 2000;
    let emu = emulator("output_buffer_size_kb = 16");
    let script = format!(
        "1..{ROWS} | ForEach-Object {{ \"row $_ ..........................................\" }}; 'end'"
    );
    let walk = |name: &str, connect_mode: Option<&str>| -> Vec<usize> {
        let a = emu.dir.join(format!("a-{name}"));
        let b = emu.dir.join(format!("b-{name}"));
        ok(&invoke_disconnected(&emu, &a, name, &[], &script));
        let mut connect = vec!["connect", "--name", name];
        if let Some(mode) = connect_mode {
            connect.extend(["--output-buffering-mode", mode]);
        }
        ok(&psrm(&emu, &b, &connect));
        let state = std::fs::read_to_string(b.join("state.json")).expect("client B state file");
        assert_eq!(
            state.contains("\"output_buffering_mode\": \"Drop\"")
                || state.contains("\"output_buffering_mode\":\"Drop\""),
            connect_mode.is_some(),
            "{state}"
        );
        ok(&psrm(&emu, &b, &["disconnect", "--name", name]));
        std::thread::sleep(Duration::from_millis(1500));
        let text = ok(&psrm(&emu, &b, &["receive", "--name", name]));
        assert_eq!(
            text.lines().last(),
            Some("end"),
            "the command ran to its end"
        );
        ok(&psrm(&emu, &b, &["remove", "--name", name]));
        text.lines()
            .filter_map(|l| l.strip_prefix("row ")?.split(' ').next()?.parse().ok())
            .collect()
    };
    let block = walk("Kept", None);
    assert_eq!(block, (1..=ROWS).collect::<Vec<_>>(), "Block loses nothing");
    let dropped = walk("Dropped", Some("Drop"));
    assert!(
        dropped.len() < ROWS,
        "Drop from connect discards: kept {}",
        dropped.len()
    );
    assert_eq!(dropped.last(), Some(&ROWS), "the newest row stays");
    assert!(dropped.first().is_some_and(|&n| n > 1), "the oldest went");
}

/// Issue 9 across processes: a `psrm receive` whose Receives are dropped for good in the middle
/// of a large (multi-fragment, multi-Receive) object fails and stores where it stopped; a
/// second `psrm receive` reads the rest: every object once, whole.
#[test]
fn a_receive_that_lost_its_connection_is_finished_by_another_psrm_process() {
    resume_a_receive_that_lost_its_connection(&[]);
}

/// As above with `--out-target job` in both processes: a failed background receive leaves the
/// state file where it stopped and prints what it had received before failing.
#[test]
fn a_receive_job_that_lost_its_connection_is_finished_by_another_psrm_process() {
    resume_a_receive_that_lost_its_connection(&["--out-target", "job"]);
}

/// An emulator that drops ten Receives in a row, from the 10th on: more than one logical
/// Receive's attempts, in a second process's reading.
fn emulator_dropping_receives() -> EmulatorProcess {
    emulator(&format!(
        "output_buffer_size_kb = 64\n[faults]\n{}",
        support::receive_drop_rules()
    ))
}

/// The two processes read every big object once, in order, and left no partial object in the
/// state file in `a`; then the session `name` is removed.
fn all_read_then_remove(emu: &EmulatorProcess, a: &Path, got: &[usize], name: &str) {
    all_read_once(got, a);
    ok(&psrm(emu, a, &["remove", "--name", name]));
}

/// `psrm receive --name Big <receive_args>` fails mid-way through ten large objects; another
/// `psrm receive --name Big <receive_args>` reads the rest: every object once, whole, in order.
fn resume_a_receive_that_lost_its_connection(receive_args: &[&str]) {
    let emu = emulator_dropping_receives();
    let a = emu.dir.join("client-a");
    ok(&invoke_disconnected(
        &emu,
        &a,
        "Big",
        &["--output-buffering-mode", "Block"],
        &big_objects_script(),
    ));
    let numbers = big_object_numbers;
    let receive: Vec<&str> = ["receive", "--name", "Big"]
        .into_iter()
        .chain(receive_args.iter().copied())
        .collect();
    let first = psrm(&emu, &a, &receive);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(!first.status.success(), "the first receive fails: {stderr}");
    let mut got = numbers(&String::from_utf8_lossy(&first.stdout));
    let state = std::fs::read_to_string(a.join("state.json")).expect("state file");
    assert!(state.contains("\"unanswered_sequence\""), "{stderr}");
    assert!(
        state.contains("\"partial_objects\""),
        "{stderr} after {}",
        got.len()
    );
    let read_first = got.len();
    let second = ok(&psrm(&emu, &a, &receive));
    got.extend(numbers(&second));
    println!(
        "two psrm processes {receive_args:?}: N {BIG_N}, first read {read_first} then failed ({}), \
         second read {}",
        stderr.trim(),
        got.len() - read_first
    );
    assert!(
        (1..BIG_N).contains(&read_first),
        "the failure came mid-way: {read_first}"
    );
    all_read_then_remove(&emu, &a, &got, "Big");
}

/// `psrm invoke` in a temporary session whose Receives are dropped for good mid-way through
/// large objects: it fails with one line naming how to resume, and keeps the session (with
/// the command and where reading stopped) in the state file; `psrm receive` in another process
/// reads the rest: every object once, whole, in order.
#[test]
fn an_invoke_that_lost_its_connection_is_finished_by_psrm_receive() {
    resume_an_invoke_that_lost_its_connection(None);
}

/// As above, in a session created earlier with `psrm new --name Kept`.
#[test]
fn an_invoke_in_a_named_session_that_lost_its_connection_is_finished_by_psrm_receive() {
    resume_an_invoke_that_lost_its_connection(Some("Kept"));
}

fn resume_an_invoke_that_lost_its_connection(session: Option<&str>) {
    let emu = emulator_dropping_receives();
    let a = emu.dir.join("client-a");
    if let Some(name) = session {
        ok(&psrm(&emu, &a, &["new", "--name", name]));
    }
    let script = big_objects_script();
    let mut invoke = vec!["invoke", "--output-buffering-mode", "Block"];
    if let Some(name) = session {
        invoke.extend(["--name", name]);
    }
    invoke.push(&script);
    let first = psrm(&emu, &a, &invoke);
    let stderr = String::from_utf8_lossy(&first.stderr).into_owned();
    assert!(!first.status.success(), "the invoke fails: {stderr}");
    let (mut got, name) = lost_midway(
        &String::from_utf8_lossy(&first.stdout),
        &stderr,
        session,
        &a,
    );
    let read_first = got.len();
    let line = stderr.trim();
    let second = ok(&psrm(&emu, &a, &["receive", "--name", &name]));
    got.extend(big_object_numbers(&second));
    println!(
        "invoke {session:?}: N {BIG_N}, read {read_first} then failed ({line}), receive read {}",
        got.len() - read_first
    );
    all_read_then_remove(&emu, &a, &got, &name);
}
