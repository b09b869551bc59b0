//! `psrm enter` losing its connection part-way through a command's output, as Enter-PSSession
//! losing the network: the prompt ends (exit 1) with one line naming the `psrm receive --name …`
//! that resumes, the session (temporary or named) stays in the state file with the command, and
//! `psrm receive` in a second process reads the rest, each record once.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use support::{
    BIG_N, EmulatorProcess, PSRM, all_read_once, big_object_numbers, big_objects_script,
    lost_midway, start_emulator, stdout_of as ok,
};

const PASSWORD: &str = "Enter-pw-2718";
/// An emulator that handles the 10th to 19th Receives and drops them before the reply: the
/// connection is lost for good part-way through the big command.
fn emulator_dropping_receives() -> EmulatorProcess {
    let rules = support::receive_drop_rules();
    let config = format!(
        "computer_name = \"SERVER01\"\n[[users]]\nname = \"alice\"\npassword = \"{PASSWORD}\"\n\
         admin = true\n[[session_configurations]]\nname = \"Microsoft.PowerShell\"\n\
         min_idle_timeout_ms = 500\noutput_buffer_size_kb = 64\n[faults]\n{rules}"
    );
    start_emulator(support::scratch_dir("psrm-enter"), &config, &[], "http")
}

/// `psrm -H addr --state-dir state ARGS` with `stdin` written to its standard input.
fn psrm(emu: &EmulatorProcess, state: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(PSRM)
        .args(["-H", &emu.addr, "--state-dir"])
        .arg(state)
        .args(["--operation-timeout", "2"])
        .args(args)
        .env("PSRM_USER", "alice")
        .env("PSRM_PASSWORD", PASSWORD)
        .env_remove("PSRM_IDLE_TIMEOUT_SEC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn psrm");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("psrm ends")
}

fn resume_an_enter_that_lost_its_connection(session: Option<&str>) {
    let emu = emulator_dropping_receives();
    let a = emu.dir.join("client-a");
    let mut enter = vec!["enter"];
    if let Some(name) = session {
        ok(&psrm(
            &emu,
            &a,
            &["new", "--name", name, "--output-buffering-mode", "Block"],
            "",
        ));
        enter.extend(["--name", name]);
    }
    let commands = format!(
        "$greeting = 'ready'\n$greeting\n\
         {}\n\
         'after the lost connection'\nexit\n",
        big_objects_script()
    );
    let first = psrm(&emu, &a, &enter, &commands);
    let stdout = String::from_utf8_lossy(&first.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&first.stderr).into_owned();
    assert_eq!(first.status.code(), Some(1), "enter fails: {stderr}");
    assert_eq!(
        stdout.lines().next(),
        Some("ready"),
        "the prompt ran: {stderr}"
    );
    assert!(
        !stdout.contains("after the lost connection"),
        "the prompt ended at the lost connection"
    );
    let (mut got, name) = lost_midway(&stdout, &stderr, session, &a);
    let read_first = got.len();
    let line = stderr.trim();

    let second = ok(&psrm(&emu, &a, &["receive", "--name", &name], ""));
    got.extend(big_object_numbers(&second));
    println!(
        "enter {session:?}: N {BIG_N}, read {read_first} then failed ({line}), receive read {}",
        got.len() - read_first
    );
    all_read_once(&got, &a);
    ok(&psrm(&emu, &a, &["remove", "--name", &name], ""));
    let listed = ok(&psrm(&emu, &a, &["get", "--json"], ""));
    assert_eq!(listed.trim(), "[]", "removed");
}

/// `psrm enter` in a temporary session: the session is kept (not removed) for the resume.
#[test]
fn an_enter_that_lost_its_connection_is_finished_by_psrm_receive() {
    resume_an_enter_that_lost_its_connection(None);
}

/// `psrm enter --name Kept` in a session created earlier with `psrm new`.
#[test]
fn an_enter_in_a_named_session_that_lost_its_connection_is_finished_by_psrm_receive() {
    resume_an_enter_that_lost_its_connection(Some("Kept"));
}
