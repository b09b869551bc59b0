//! `sessions::rds`, `sessions::smb` and `sessions::fanout` against in-process emulators over
//! loopback HTTP and WinRS: listing, resetting one's own versus another user's session as a
//! non-admin (refused, untouched) and as an admin (done), `/v` output, warn-then-reset with a
//! grace period, dry runs that change nothing, SMB list/info/delete, and a 20-host fan-out with
//! one host down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use emulator::service::WsManService;
use emulator::sessions_table::{SessionEventKind, SharedSessions};
use emulator::{Config, Emulator};
use sessions::rds::{
    self, SessionFilter, SessionState, SweepAction, SweepPlan, ToolError, Warning,
};
use sessions::winrs::{Shell, ShellOptions};
use sessions::{
    AuthMethod, ClientOptions, ConnectionConfig, Credentials, HttpTransport, WsManClient,
};

const CONFIG: &str = r#"
computer_name = "RDS01"
[[users]]
name = "admin"
password = "Admin-pw-1"
admin = true
[[users]]
name = "bob"
password = "Bob-pw-1"
[[users]]
name = "carol"
password = "Carol-pw-1"
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
[[rds_sessions]]
id = 4
name = "rdp-tcp#8"
user = "bob"
state = "Disc"
idle_minutes = 200
[[smb_sessions]]
client = "10.0.0.7"
user = "bob"
open_files = 3
idle_seconds = 600
[[smb_sessions]]
client = "10.0.0.8"
user = "carol"
idle_seconds = 5
"#;

struct Host {
    emu: Emulator,
    table: SharedSessions,
}

async fn start(config: Config) -> Host {
    let service = WsManService::new(config.clone());
    let table = service.with_core(|s| s.config().sessions());
    let emu = Emulator::builder(config)
        .start(service)
        .await
        .expect("emulator starts");
    Host { emu, table }
}

fn password(user: &str) -> &'static str {
    match user {
        "admin" => "Admin-pw-1",
        "bob" => "Bob-pw-1",
        _ => "Carol-pw-1",
    }
}

fn client_for(url: &str, user: &str) -> WsManClient {
    let config = ConnectionConfig::from_url(url)
        .expect("url")
        .auth(AuthMethod::Basic, Credentials::new(user, password(user)));
    let transport = HttpTransport::new(config).expect("transport");
    WsManClient::new(
        Arc::new(transport),
        ClientOptions::default().operation_timeout(Duration::from_secs(2)),
    )
}

async fn shell(host: &Host, user: &str) -> Shell {
    Shell::open(&client_for(&host.emu.url(), user), ShellOptions::default())
        .await
        .expect("shell opens")
}

fn ids(t: &SharedSessions) -> Vec<u32> {
    t.lock().rds().iter().map(|s| s.id).collect()
}

#[tokio::test]
async fn listing_sessions_and_users() {
    let host = start(Config::from_toml(CONFIG).unwrap()).await;
    let sh = shell(&host, "bob").await;
    let all = rds::query(&sh, None).await.unwrap();
    let view: Vec<(&str, &str, u32, SessionState)> = all
        .iter()
        .map(|s| (s.name.as_str(), s.user.as_str(), s.id, s.state.clone()))
        .collect();
    assert_eq!(
        view,
        vec![
            ("services", "", 0, SessionState::Disconnected),
            ("console", "", 1, SessionState::Connected),
            ("rdp-tcp#6", "bob", 2, SessionState::Active),
            ("", "carol", 3, SessionState::Disconnected),
            ("", "bob", 4, SessionState::Disconnected),
            ("rdp-tcp", "", 65536, SessionState::Listen),
        ]
    );
    assert!(all[0].current, "WinRS commands run in session 0");
    let users = rds::users(&sh, None).await.unwrap();
    assert_eq!(users.len(), 3);
    assert_eq!(users[0].idle, Some(Duration::from_secs(5 * 60)));
    assert_eq!(users[1].idle, Some(Duration::from_secs(300 * 60)));
    assert!(users.iter().all(|u| u.logon_time.is_some()));
    assert!(rds::users(&sh, Some("nobody")).await.unwrap().is_empty());
    assert_eq!(rds::query(&sh, Some("carol")).await.unwrap().len(), 1);
}

#[tokio::test]
async fn non_admin_may_reset_own_session_only() {
    let host = start(Config::from_toml(CONFIG).unwrap()).await;
    let sh = shell(&host, "bob").await;
    let before = host.table.snapshot();
    let err = rds::reset(&sh, "3").await.unwrap_err();
    assert!(err.is_access_denied(), "{err}");
    let err = rds::logoff(&sh, "3").await.unwrap_err();
    assert!(err.is_access_denied(), "{err}");
    assert_eq!(
        host.table.snapshot(),
        before,
        "refusals leave everything untouched"
    );

    rds::reset(&sh, "rdp-tcp#6").await.unwrap();
    rds::logoff(&sh, "4").await.unwrap();
    assert_eq!(ids(&host.table), vec![0, 1, 3, 65536]);
    let err = rds::reset(&sh, "42").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test]
async fn admin_resets_another_users_session_and_v_reports_it() {
    let host = start(Config::from_toml(CONFIG).unwrap()).await;
    let sh = shell(&host, "admin").await;
    let out = sh.exec("reset", &["session", "3", "/v"]).await.unwrap();
    assert_eq!(out.exit_code, Some(0));
    assert_eq!(
        out.stdout_text(),
        "Resetting session ID 3\r\nSession ID 3 has been reset\r\n"
    );
    assert!(out.stderr.is_empty());
    rds::logoff(&sh, "rdp-tcp#6").await.unwrap();
    assert_eq!(ids(&host.table), vec![0, 1, 4, 65536]);
    // The client can see what was lost, in the session manager's event log.
    let out = sh
        .exec(
            "powershell",
            &[
                "-NoProfile",
                "-Command",
                "Get-WinEvent -LogName Microsoft-Windows-TerminalServices-LocalSessionManager/Operational | ForEach-Object { $_.Message }",
            ],
        )
        .await
        .unwrap();
    let text = out.stdout_text();
    assert_eq!(out.exit_code, Some(0), "{}", out.stderr_text());
    assert_eq!(
        text.matches("Session logoff succeeded").count(),
        2,
        "{text}"
    );
    assert!(text.contains("User: RDS01\\carol"), "{text}");
    assert_eq!(text.matches("Unsaved work lost: Yes").count(), 2, "{text}");
    let t = host.table.lock();
    let ev: Vec<(SessionEventKind, &str, &str, bool)> = t
        .events()
        .iter()
        .map(|e| (e.kind, e.user.as_str(), e.by.as_str(), e.lost_unsaved_work))
        .collect();
    assert_eq!(
        ev,
        vec![
            (SessionEventKind::Reset, "carol", "admin", true),
            (SessionEventKind::Logoff, "bob", "admin", true),
        ]
    );
}

#[tokio::test]
async fn warn_then_reset_waits_for_the_grace_period() {
    let host = start(Config::from_toml(CONFIG).unwrap()).await;
    let sh = shell(&host, "admin").await;
    let grace = Duration::from_millis(700);
    let plan = SweepPlan {
        filter: SessionFilter {
            state: Some(SessionState::Disconnected),
            idle_longer_than: Some(Duration::from_secs(2 * 3600)),
            user: None,
        },
        action: SweepAction::Reset,
        warning: Some(Warning {
            text: "Your session will be reset".into(),
            grace,
        }),
        dry_run: false,
    };
    let started = Instant::now();
    let out = rds::sweep(&sh, &plan).await.unwrap();
    assert!(started.elapsed() >= grace);
    let selected: Vec<u32> = out.selected.iter().map(|u| u.id).collect();
    assert_eq!(selected, vec![3, 4], "Disc and idle over 2h");
    assert_eq!(out.warned, vec![3, 4]);
    assert_eq!(out.done, vec![3, 4]);
    assert!(out.failed.is_empty());
    assert_eq!(ids(&host.table), vec![0, 1, 2, 65536]);
    let t = host.table.lock();
    let evs = t.events();
    let msg = evs
        .iter()
        .find(|e| e.kind == SessionEventKind::Message && e.session_id == 3)
        .expect("carol was warned");
    assert_eq!(msg.text.as_deref(), Some("Your session will be reset"));
    let reset = evs
        .iter()
        .find(|e| e.kind == SessionEventKind::Reset && e.session_id == 3)
        .expect("carol's session was reset");
    let waited = reset.time.duration_since(msg.time).unwrap();
    assert!(waited >= grace, "reset {waited:?} after the warning");
}

#[tokio::test]
async fn dry_run_changes_nothing() {
    let host = start(Config::from_toml(CONFIG).unwrap()).await;
    let sh = shell(&host, "admin").await;
    let before = host.table.snapshot();
    let plan = SweepPlan {
        filter: SessionFilter {
            user: Some("RDS01\\bob".into()),
            ..SessionFilter::default()
        },
        action: SweepAction::Logoff,
        warning: Some(Warning {
            text: "bye".into(),
            grace: Duration::from_secs(60),
        }),
        dry_run: true,
    };
    let started = Instant::now();
    let out = rds::sweep(&sh, &plan).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "no grace wait in a dry run"
    );
    assert_eq!(
        out.selected.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![2, 4]
    );
    assert!(out.warned.is_empty() && out.done.is_empty());
    assert_eq!(host.table.snapshot(), before);
}

#[tokio::test]
async fn non_admin_sweep_reports_refusals_per_session() {
    let host = start(Config::from_toml(CONFIG).unwrap()).await;
    let sh = shell(&host, "bob").await;
    let plan = SweepPlan {
        filter: SessionFilter {
            state: Some(SessionState::Disconnected),
            ..SessionFilter::default()
        },
        action: SweepAction::Reset,
        warning: None,
        dry_run: false,
    };
    let out = rds::sweep(&sh, &plan).await.unwrap();
    assert_eq!(out.done, vec![4]);
    assert_eq!(out.failed.len(), 1);
    assert_eq!(out.failed[0].0, 3);
    assert!(matches!(out.failed[0].1, ToolError::AccessDenied { .. }));
    assert_eq!(ids(&host.table), vec![0, 1, 2, 3, 65536]);
}

#[tokio::test]
async fn smb_list_info_delete() {
    let host = start(Config::from_toml(CONFIG).unwrap()).await;
    let sh = shell(&host, "admin").await;
    let list = sessions::smb::list(&sh).await.unwrap();
    let view: Vec<(&str, &str, u32)> = list
        .iter()
        .map(|s| (s.client.as_str(), s.user.as_str(), s.opens))
        .collect();
    assert_eq!(view, vec![("10.0.0.7", "bob", 3), ("10.0.0.8", "carol", 0)]);
    assert!(list[0].idle >= Duration::from_secs(600));

    let info = sessions::smb::info(&sh, "10.0.0.7").await.unwrap();
    assert_eq!(
        (info.user.as_str(), info.client.as_str()),
        ("bob", "10.0.0.7")
    );
    assert!(info.session_time >= Duration::from_secs(900));
    assert_eq!(info.shares.iter().map(|s| s.opens).sum::<u32>(), 3);

    let err = sessions::smb::info(&sh, "10.9.9.9").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");

    sessions::smb::delete(&sh, "\\\\10.0.0.7").await.unwrap();
    assert_eq!(host.table.lock().smb().len(), 1);
    let err = sessions::smb::delete(&sh, "10.0.0.7").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");

    let bob = shell(&host, "bob").await;
    let err = sessions::smb::list(&bob).await.unwrap_err();
    assert!(err.is_access_denied(), "{err}");
    let err = sessions::smb::delete(&bob, "10.0.0.8").await.unwrap_err();
    assert!(err.is_access_denied(), "{err}");
    assert_eq!(host.table.lock().smb().len(), 1);
}

#[tokio::test]
async fn twenty_host_fan_out_with_one_host_down() {
    let mut hosts = Vec::new();
    for _ in 0..19 {
        hosts.push(start(Config::from_toml(CONFIG).unwrap()).await);
    }
    // A port that refuses connections: bound, then closed.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/wsman", l.local_addr().unwrap())
    };
    let mut urls: Vec<String> = hosts.iter().map(|h| h.emu.url()).collect();
    urls.insert(7, dead.clone());
    assert_eq!(urls.len(), 20);
    let plan = SweepPlan {
        filter: SessionFilter {
            state: Some(SessionState::Disconnected),
            ..SessionFilter::default()
        },
        action: SweepAction::Reset,
        warning: Some(Warning {
            text: "maintenance".into(),
            grace: Duration::from_millis(200),
        }),
        dry_run: false,
    };
    let started = Instant::now();
    let results = sessions::fanout::for_each_host(urls, 5, |url| {
        let plan = plan.clone();
        async move {
            let client = client_for(&url, "admin");
            let sh = Shell::open(&client, ShellOptions::default())
                .await
                .map_err(|e| e.to_string())?;
            let out = rds::sweep(&sh, &plan).await.map_err(|e| e.to_string())?;
            let _ = sh.close().await;
            Ok::<_, String>(out.done)
        }
    })
    .await;
    assert_eq!(results.len(), 20);
    let failed: Vec<&String> = results
        .iter()
        .filter(|(_, r)| !matches!(r, Some(Ok(_))))
        .map(|(u, _)| u)
        .collect();
    assert_eq!(failed, vec![&dead], "only the dead host fails");
    for (url, r) in &results {
        if url != &dead {
            assert_eq!(r.as_ref().unwrap().as_ref().unwrap(), &vec![3, 4], "{url}");
        }
    }
    for h in &hosts {
        assert_eq!(ids(&h.table), vec![0, 1, 2, 65536]);
    }
    // 19 hosts, 5 at a time, each waiting 200 ms of grace: at least 4 rounds.
    assert!(started.elapsed() >= Duration::from_millis(800));
}
