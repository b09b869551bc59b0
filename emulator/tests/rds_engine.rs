//! Logon and network sessions in the engines: `query session|user`, `reset session`, `logoff`,
//! `msg`, `net session` (cmd) and `Get-SmbSession` / `Close-SmbSession` (PowerShell), with
//! Windows' permissions: own sessions always, another user's only as an administrator.

use emulator::Config;
use emulator::engine::{
    CmdEngine, CmdOutcome, CollectingHost, EngineContext, PipelineState, Runspace, StreamRecord,
    Value,
};
use emulator::sessions_table::{RdsState, SessionEventKind, SharedSessions};

const CONFIG: &str = r#"
computer_name = "RDS01"
[[users]]
name = "admin"
password = "pw"
admin = true
[[users]]
name = "bob"
password = "pw"
[[users]]
name = "carol"
password = "pw"
[[rds_sessions]]
id = 2
name = "rdp-tcp#6"
user = "bob"
state = "Active"
idle_minutes = 95
[[rds_sessions]]
id = 3
name = "rdp-tcp#7"
user = "carol"
state = "Disc"
idle_minutes = 1500
[[smb_sessions]]
client = "10.0.0.7"
user = "bob"
open_files = 3
idle_seconds = 600
[[smb_sessions]]
client = "10.0.0.8"
user = "carol"
open_files = 0
idle_seconds = 5
"#;

fn config() -> Config {
    Config::from_toml(CONFIG).unwrap()
}

fn ctx(config: &Config, user: &str) -> EngineContext {
    EngineContext {
        computer_name: config.computer_name.clone(),
        user_name: user.to_owned(),
        user_domain: config.computer_name.clone(),
        is_admin: config.user(user).is_some_and(|u| u.admin),
        sessions: config.sessions(),
        ..EngineContext::default()
    }
}

fn run(config: &Config, user: &str, line: &str) -> (String, String, i32) {
    let mut cmd = CmdEngine::new(ctx(config, user));
    let host = CollectingHost::new();
    let CmdOutcome::Exited(code) = cmd.run(line, &host) else {
        panic!("stopped");
    };
    let (mut out, mut err) = (String::new(), String::new());
    for r in host.drain() {
        match r {
            StreamRecord::StdOut(s) => out.push_str(&s),
            StreamRecord::StdErr(s) => err.push_str(&s),
            other => panic!("unexpected record {other:?}"),
        }
    }
    (out, err, code)
}

fn ids(sessions: &SharedSessions) -> Vec<u32> {
    sessions.lock().rds().iter().map(|s| s.id).collect()
}

#[test]
fn query_session_lists_every_session_in_windows_columns() {
    let c = config();
    for line in ["query session", "qwinsta", "QUERY SESSION /server:rds01"] {
        let (out, err, code) = run(&c, "bob", line);
        assert_eq!((err.as_str(), code), ("", 0), "{line}");
        let lines: Vec<&str> = out.split("\r\n").collect();
        assert_eq!(
            lines[..6],
            [
                " SESSIONNAME       USERNAME                 ID  STATE   TYPE        DEVICE",
                ">services                                    0  Disc",
                " console                                     1  Conn",
                " rdp-tcp#6         bob                       2  Active",
                "                   carol                     3  Disc",
                " rdp-tcp                                 65536  Listen",
            ],
            "{line}"
        );
    }
    let (out, _, code) = run(&c, "bob", "qwinsta carol");
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 2);
    let (out, err, code) = run(&c, "bob", "qwinsta nobody");
    assert_eq!(
        (out.as_str(), err.as_str(), code),
        ("", "No session exists for nobody\r\n", 1)
    );
    let (_, err, code) = run(&c, "bob", "qwinsta /server:OTHERHOST");
    assert_eq!(code, 1);
    assert!(
        err.starts_with("Error opening Terminal server OTHERHOST\r\nError [1722]:"),
        "{err}"
    );
}

#[test]
fn query_user_shows_idle_and_logon_time() {
    let c = config();
    let (out, err, code) = run(&c, "bob", "quser");
    assert_eq!((err.as_str(), code), ("", 0));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        " USERNAME              SESSIONNAME        ID  STATE   IDLE TIME  LOGON TIME"
    );
    assert!(
        lines[1].starts_with(" bob                   rdp-tcp#6           2  Active       1:35  "),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with(" carol                                     3  Disc      1+01:00  "),
        "{}",
        lines[2]
    );
    assert!(lines[1].ends_with(" AM") || lines[1].ends_with(" PM"));
    let (_, err, code) = run(&c, "bob", "query user dave");
    assert_eq!((err.as_str(), code), ("No User exists for dave\r\n", 1));
}

#[test]
fn non_admin_resets_own_session_but_not_another_users() {
    let c = config();
    let sessions = c.sessions();
    let before = sessions.snapshot();
    let (out, err, code) = run(&c, "bob", "reset session 3");
    assert_eq!(out, "");
    assert_eq!(
        err,
        "Could not reset session ID 3, Error code 5\r\nError [5]:Access is denied.\r\n"
    );
    assert_eq!(code, 1);
    assert_eq!(
        sessions.snapshot(),
        before,
        "a refused reset changes nothing"
    );

    // A disconnected session has no WinStation name: only its id reaches it.
    let (_, err, code) = run(&c, "bob", "logoff rdp-tcp#7");
    assert!(err.contains("Error [7022]:"), "{err}");
    let (_, err, code2) = run(&c, "bob", "logoff 3");
    assert_eq!(code, code2);
    assert!(err.contains("Error [5]:Access is denied."), "{err}");
    assert_eq!(code, 1);
    assert_eq!(sessions.snapshot(), before);

    let (out, err, code) = run(&c, "bob", "rwinsta rdp-tcp#6 /v");
    assert_eq!(
        (out.as_str(), err.as_str(), code),
        (
            "Resetting session ID 2\r\nSession ID 2 has been reset\r\n",
            "",
            0
        )
    );
    assert_eq!(ids(&sessions), vec![0, 1, 3, 65536]);
    let t = sessions.lock();
    let ev = t.events().last().unwrap();
    assert_eq!(ev.kind, SessionEventKind::Reset);
    assert_eq!((ev.user.as_str(), ev.by.as_str()), ("bob", "bob"));
    assert!(
        ev.lost_unsaved_work,
        "a reset loses the session's unsaved work"
    );
}

#[test]
fn admin_resets_and_logs_off_other_users() {
    let c = config();
    let sessions = c.sessions();
    let (out, err, code) = run(&c, "admin", "reset session 3");
    assert_eq!((out.as_str(), err.as_str(), code), ("", "", 0));
    assert_eq!(ids(&sessions), vec![0, 1, 2, 65536]);
    let (out, err, code) = run(&c, "admin", "logoff 2 /v");
    assert_eq!(
        (out.as_str(), err.as_str(), code),
        ("Logging off session ID 2\r\n", "", 0)
    );
    assert_eq!(ids(&sessions), vec![0, 1, 65536]);
    let (_, err, code) = run(&c, "admin", "reset session 42");
    assert_eq!(
        (err.as_str(), code),
        (
            "Could not reset session 42, Error code 7022\r\nError [7022]:The specified session cannot be found.\r\n",
            1
        )
    );
    let (_, err, code) = run(&c, "admin", "quser");
    assert_eq!((err.as_str(), code), ("No User exists for *\r\n", 1));
    let kinds: Vec<_> = sessions.lock().events().iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![SessionEventKind::Reset, SessionEventKind::Logoff]
    );
}

#[test]
fn lost_work_is_visible_through_get_winevent() {
    let c = config();
    run(&c, "admin", "reset session 2");
    let mut rs = Runspace::new(ctx(&c, "admin"));
    let host = CollectingHost::new();
    let out = rs.run_script(
        "Get-WinEvent -LogName 'Microsoft-Windows-TerminalServices-LocalSessionManager/Operational' | ForEach-Object { $_.Message }",
        None,
        &host,
    );
    assert!(
        matches!(out.state, PipelineState::Completed),
        "{:?}",
        out.state
    );
    let text: Vec<String> = host
        .drain()
        .into_iter()
        .filter_map(|r| match r {
            StreamRecord::Output(v) => Some(v.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(text.len(), 1);
    assert!(text[0].contains("User: RDS01\\bob"), "{}", text[0]);
    assert!(text[0].contains("Session ID: 2"));
    assert!(text[0].contains("Unsaved work lost: Yes"));
}

#[test]
fn msg_records_messages_and_v_reports_them() {
    let c = config();
    let sessions = c.sessions();
    let (out, err, code) = run(&c, "admin", "msg bob /time:30 /v Saving your work please");
    assert_eq!((err.as_str(), code), ("", 0));
    assert_eq!(
        out,
        "Sending message to session RDP-Tcp#6, display time 30\r\nAsync message sent to session RDP-Tcp#6\r\n"
    );
    let t = sessions.lock();
    let bob = t.rds().iter().find(|s| s.id == 2).unwrap();
    assert_eq!(bob.messages.len(), 1);
    assert_eq!(bob.messages[0].text, "Saving your work please");
    assert_eq!(bob.messages[0].display_seconds, 30);
    assert_eq!(bob.state, RdsState::Active);
    drop(t);
    let (_, _, code) = run(&c, "bob", "msg * hello all");
    assert_eq!(code, 0);
    assert_eq!(
        sessions
            .lock()
            .rds()
            .iter()
            .map(|s| s.messages.len())
            .sum::<usize>(),
        3
    );
    let (_, err, code) = run(&c, "bob", "msg nobody hi");
    assert_eq!(
        (err.as_str(), code),
        ("No session exists for nobody\r\n", 1)
    );
}

#[test]
fn net_session_lists_shows_and_deletes() {
    let c = config();
    let (out, err, code) = run(&c, "admin", "net session");
    assert_eq!((err.as_str(), code), ("", 0));
    let lines: Vec<&str> = out.split("\r\n").collect();
    assert_eq!(lines[0], "");
    assert_eq!(
        lines[1],
        "Computer               User name            Client Type       Opens Idle time"
    );
    assert_eq!(lines[3], "-".repeat(79));
    assert_eq!(
        lines[4].trim_end(),
        "\\\\10.0.0.7             bob                                        3 00:10:00"
    );
    assert_eq!(lines[6], "The command completed successfully.");

    let (out, _, code) = run(&c, "admin", "net session \\\\10.0.0.7");
    assert_eq!(code, 0);
    assert!(
        out.starts_with("User name       bob\r\nComputer        10.0.0.7\r\n"),
        "{out}"
    );
    assert!(out.contains("Idle time       00:10:00\r\n"));

    // Open files: without /y the prompt is answered No (no console input), nothing is closed.
    let (out, _, code) = run(&c, "admin", "net session \\\\10.0.0.7 /delete");
    assert_eq!(code, 2);
    assert!(out.starts_with("The session from 10.0.0.7 has open files."));
    assert_eq!(c.sessions().lock().smb().len(), 2);
    let (out, _, code) = run(&c, "admin", "net session \\\\10.0.0.7 /delete /y");
    assert_eq!(
        (out.as_str(), code),
        ("The command completed successfully.\r\n\r\n", 0)
    );
    assert_eq!(c.sessions().lock().smb().len(), 1);

    let (_, err, code) = run(&c, "admin", "net session \\\\10.9.9.9");
    assert_eq!(code, 2);
    assert!(err.starts_with("A session does not exist with that computer name."));
    assert!(err.contains("NET HELPMSG 2312"));

    let (out, err, code) = run(&c, "bob", "net session");
    assert_eq!(
        (out.as_str(), err.as_str(), code),
        (
            "",
            "System error 5 has occurred.\r\n\r\nAccess is denied.\r\n\r\n",
            2
        )
    );
}

fn ps(config: &Config, user: &str, script: &str) -> (Vec<Value>, Vec<String>, PipelineState) {
    let mut rs = Runspace::new(ctx(config, user));
    let host = CollectingHost::new();
    let outcome = rs.run_script(script, None, &host);
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for r in host.drain() {
        match r {
            StreamRecord::Output(v) => out.push(v),
            StreamRecord::Error(e) => errs.push(e.message.clone()),
            _ => {}
        }
    }
    (out, errs, outcome.state)
}

#[test]
fn get_and_close_smb_session() {
    let c = config();
    let (out, errs, state) = ps(
        &c,
        "admin",
        "Get-SmbSession | Select-Object ClientComputerName, ClientUserName, NumOpens, SecondsIdle",
    );
    assert!(errs.is_empty(), "{errs:?}");
    assert!(matches!(state, PipelineState::Completed));
    assert_eq!(out.len(), 2);
    assert_eq!(
        out[0].property("ClientComputerName").unwrap().to_string(),
        "10.0.0.7"
    );
    assert_eq!(
        out[0].property("ClientUserName").unwrap().to_string(),
        "RDS01\\bob"
    );
    assert_eq!(out[0].property("NumOpens").unwrap().as_i64(), Some(3));
    assert!(out[0].property("SecondsIdle").unwrap().as_i64().unwrap() >= 600);

    let (out, _, _) = ps(
        &c,
        "admin",
        "(Get-SmbSession -ClientComputerName 10.0.0.8).SessionId",
    );
    let id = out[0].as_i64().unwrap();

    // Without -Force the confirmation cannot be answered remotely: nothing closes.
    let (_, errs, _) = ps(&c, "admin", &format!("Close-SmbSession -SessionId {id}"));
    assert_eq!(
        errs,
        vec![
            "Windows PowerShell is in NonInteractive mode. Read and Prompt functionality is not available."
        ]
    );
    assert_eq!(c.sessions().lock().smb().len(), 2);

    let (_, errs, _) = ps(
        &c,
        "admin",
        &format!("Close-SmbSession -SessionId {id} -Force"),
    );
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(c.sessions().lock().smb().len(), 1);

    let (_, errs, _) = ps(&c, "admin", "Close-SmbSession -SessionId 12345 -Force");
    assert_eq!(
        errs,
        vec![
            "No MSFT_SmbSession objects found with property 'SessionId' equal to '12345'.  Verify the value of the property and retry."
        ]
    );

    let (out, errs, _) = ps(&c, "bob", "Get-SmbSession");
    assert!(out.is_empty());
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].trim(), "Access denied");
    let (_, errs, _) = ps(
        &c,
        "bob",
        "Close-SmbSession -ClientComputerName 10.0.0.7 -Force",
    );
    assert_eq!(errs.len(), 1);
    assert_eq!(c.sessions().lock().smb().len(), 1);

    let (_, errs, _) = ps(&c, "admin", "Get-SmbSession | Close-SmbSession -Force");
    assert!(errs.is_empty(), "{errs:?}");
    assert!(c.sessions().lock().smb().is_empty());
}
