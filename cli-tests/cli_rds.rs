//! `psrm rds` and `psrm netsession` end to end: `psrm emulator` processes with Remote Desktop and
//! SMB sessions in their configuration, and the client binary against one or several of them
//! (tables, `--json`, policies, a result line per host, exit status).

mod support;

use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;
use support::{EmulatorProcess, PSRM, scratch_dir, start_emulator};

const CONFIG: &str = r#"
computer_name = "RDS01"
[[users]]
name = "admin"
password = "Rds-pw-2718"
admin = true
[[users]]
name = "bob"
password = "Rds-pw-2718"
[[rds_sessions]]
id = 2
name = "rdp-tcp#6"
user = "bob"
idle_minutes = 5
[[rds_sessions]]
id = 3
name = "rdp-tcp#7"
user = "carol"
state = "Disc"
idle_minutes = 300
[[smb_sessions]]
client = "10.0.0.7"
user = "bob"
open_files = 3
idle_seconds = 600
"#;

fn emulator() -> EmulatorProcess {
    start_emulator(scratch_dir("psrm-cli-rds"), CONFIG, &[], "http")
}

fn psrm(hosts: &str, user: &str, args: &[&str]) -> Output {
    // A fresh client state directory per run: parallel tests never share one.
    static N: AtomicU32 = AtomicU32::new(0);
    let state = std::env::temp_dir().join(format!(
        "psrm-cli-rds-state-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let out = Command::new(PSRM)
        .args(["-H", hosts, "--auth", "basic", "-u", user, "--state-dir"])
        .arg(&state)
        .args(args)
        .env("PSRM_PASSWORD", "Rds-pw-2718")
        .stdin(Stdio::null())
        .output()
        .expect("run psrm");
    let _ = std::fs::remove_dir_all(&state);
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_str(stdout(o).trim())
        .unwrap_or_else(|e| panic!("{e}: {} / {}", stdout(o), stderr(o)))
}

#[test]
fn query_table_and_json() {
    let emu = emulator();
    let out = psrm(&emu.addr, "bob", &["rds", "query"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[1].starts_with("ComputerName")
            && lines[1].contains("UserName SessionName Id State  IdleTime LogonTime"),
        "{text}"
    );
    assert!(text.contains("carol"), "{text}");
    assert!(stderr(&out).contains(&format!("{}: ok, 2 session(s)", emu.addr)));

    let doc = json(&psrm(
        &emu.addr,
        "bob",
        &["rds", "query", "--all", "--json"],
    ));
    let rows = doc.as_array().expect("array");
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[2]["SessionName"], "rdp-tcp#6");
    assert_eq!(rows[2]["Id"], 2);
    assert_eq!(rows[4]["State"], "Listen");

    let doc = json(&psrm(
        &emu.addr,
        "bob",
        &[
            "rds",
            "query",
            "--state",
            "Disc",
            "--idle-longer-than",
            "2h",
            "--json",
        ],
    ));
    assert_eq!(doc.as_array().map(Vec::len), Some(1));
    assert_eq!(doc[0]["UserName"], "carol");
    assert_eq!(doc[0]["IdleTime"], "05:00:00");
}

#[test]
fn reset_refused_for_non_admin_then_done_by_admin_after_warning() {
    let emu = emulator();
    let out = psrm(&emu.addr, "bob", &["rds", "reset", "3"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("failed 3: access is denied"),
        "{}",
        stderr(&out)
    );

    let doc = json(&psrm(
        &emu.addr,
        "admin",
        &["rds", "reset", "--state", "Disc", "--dry-run", "--json"],
    ));
    assert_eq!(doc[0]["Result"], "would reset");
    let still = json(&psrm(&emu.addr, "admin", &["rds", "query", "--json"]));
    assert_eq!(
        still.as_array().map(Vec::len),
        Some(2),
        "dry run changed nothing"
    );

    let out = psrm(
        &emu.addr,
        "admin",
        &[
            "rds",
            "reset",
            "--state",
            "Disc",
            "--warn",
            "Resetting now",
            "--grace",
            "300ms",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("reset session(s) 3 (warned 1 first)"),
        "{}",
        stderr(&out)
    );
    let after = json(&psrm(&emu.addr, "admin", &["rds", "query", "--json"]));
    assert_eq!(after.as_array().map(Vec::len), Some(1));
    assert_eq!(after[0]["UserName"], "bob");
}

#[test]
fn several_hosts_one_down() {
    let a = emulator();
    let b = emulator();
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let hosts = format!("{},{dead},{}", a.addr, b.addr);
    let out = psrm(
        &hosts,
        "admin",
        &[
            "rds",
            "logoff",
            "--session-user",
            "bob",
            "--throttle-limit",
            "2",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "a host failed");
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}: logged off session(s) 2", a.addr)),
        "{err}"
    );
    assert!(
        err.contains(&format!("{}: logged off session(s) 2", b.addr)),
        "{err}"
    );
    assert!(err.contains(&format!("{dead}: failed:")), "{err}");
    for e in [&a, &b] {
        let doc = json(&psrm(&e.addr, "admin", &["rds", "query", "--json"]));
        assert_eq!(doc.as_array().map(Vec::len), Some(1), "bob was logged off");
    }
}

#[test]
fn netsession_list_info_delete() {
    let emu = emulator();
    let doc = json(&psrm(&emu.addr, "admin", &["netsession", "list", "--json"]));
    assert_eq!(doc[0]["ClientComputerName"], "10.0.0.7");
    assert_eq!(doc[0]["NumOpens"], 3);
    let doc = json(&psrm(
        &emu.addr,
        "admin",
        &["netsession", "info", "10.0.0.7", "--json"],
    ));
    assert_eq!(doc["ClientUserName"], "bob");
    let out = psrm(&emu.addr, "bob", &["netsession", "delete", "10.0.0.7"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("access is denied"),
        "{}",
        stderr(&out)
    );
    let out = psrm(
        &emu.addr,
        "admin",
        &["netsession", "delete", "10.0.0.7", "--dry-run"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("would end the session from 10.0.0.7 (3 open file(s))"));
    let out = psrm(
        &emu.addr,
        "admin",
        &["netsession", "delete", "\\\\10.0.0.7"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json(&psrm(&emu.addr, "admin", &["netsession", "list", "--json"]));
    assert_eq!(doc.as_array().map(Vec::len), Some(0));
}
