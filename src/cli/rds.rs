//! `psrm rds query|reset|logoff|msg`: Remote Desktop sessions on one or many hosts, through
//! WinRS and Windows' own tools (`sessions::rds`), with the policies admins ask for: select by
//! `--state`, `--idle-longer-than`, `--session-user`; `--warn TEXT --grace 60s` (message, wait,
//! then act); `--dry-run`. Several hosts (`-H a,b,c`, `--hosts-file`) run `--throttle-limit` at
//! a time; each host gets a result line and a failing host does not stop the others.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use sessions::fanout;
use sessions::rds::{
    self, LoggedOnUser, RdsSession, SessionFilter, SessionState, SweepAction, SweepOutcome,
    SweepPlan, Warning,
};
use sessions::winrs::{Shell, ShellOptions};

use super::conn::{self, Connection, GlobalArgs};
use super::table::{self, Row};

/// `psrm rds`.
#[derive(Clone, Debug, Args)]
pub struct RdsArgs {
    #[command(subcommand)]
    pub command: RdsCommand,
}

/// `psrm rds` verbs.
#[derive(Clone, Debug, Subcommand)]
pub enum RdsCommand {
    /// List logged-on users' sessions (query user); --all lists every session (query session).
    Query(QueryArgs),
    /// Reset (delete) a session, or every session the filters select; unsaved work is lost.
    Reset(ActionArgs),
    /// Log a session off, or every session the filters select.
    Logoff(ActionArgs),
    /// Send a message to a user, a session (name or id) or `*` (msg).
    Msg(MsgArgs),
}

/// Several hosts at once.
#[derive(Clone, Debug, Args)]
pub struct HostsArgs {
    /// A file with one HOST[:PORT] per line (blank lines and `#` comments ignored), in addition
    /// to `-H a,b,c`.
    #[arg(long, value_name = "FILE")]
    pub hosts_file: Option<PathBuf>,
    /// How many hosts are worked on at the same time.
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub throttle_limit: usize,
}

/// Which sessions.
#[derive(Clone, Debug, Default, Args)]
pub struct FilterArgs {
    /// Only sessions in this state (Active, Disc, Conn, Listen, Idle …).
    #[arg(long, value_name = "STATE")]
    pub state: Option<String>,
    /// Only sessions idle for longer than this (`2h`, `90m`, `1h30m`, `45s`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub idle_longer_than: Option<Duration>,
    /// Only this user's sessions (`-u/--user` is the account psrm connects with).
    #[arg(long, value_name = "USER")]
    pub session_user: Option<String>,
}

/// `psrm rds query`.
#[derive(Clone, Debug, Args)]
pub struct QueryArgs {
    /// Every session (services, console, listeners), as `query session` shows them.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub hosts: HostsArgs,
}

/// `psrm rds reset|logoff`.
#[derive(Clone, Debug, Args)]
pub struct ActionArgs {
    /// The session id or name; without it, every session the filters select (at least one
    /// filter is then required).
    pub session: Option<String>,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Send this message first, wait --grace, then act.
    #[arg(long, value_name = "TEXT")]
    pub warn: Option<String>,
    /// Time between the warning and the action.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "60s")]
    pub grace: Duration,
    /// Show what would be done; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub hosts: HostsArgs,
}

/// `psrm rds msg`.
#[derive(Clone, Debug, Args)]
pub struct MsgArgs {
    /// A user name, session name, session id or `*`.
    pub target: String,
    /// The message.
    #[arg(required = true, num_args = 1..)]
    pub text: Vec<String>,
    /// How long the message stays on screen (msg /time).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub time: Option<Duration>,
    #[command(flatten)]
    pub hosts: HostsArgs,
}

/// Columns of `psrm rds query`.
pub const USER_COLUMNS: [&str; 7] = [
    "ComputerName",
    "UserName",
    "SessionName",
    "Id",
    "State",
    "IdleTime",
    "LogonTime",
];

/// Columns of `psrm rds query --all`.
pub const SESSION_COLUMNS: [&str; 7] = [
    "ComputerName",
    "SessionName",
    "UserName",
    "Id",
    "State",
    "Type",
    "Device",
];

/// Columns of `psrm rds reset|logoff` (one row per selected session).
pub const ACTION_COLUMNS: [&str; 6] = [
    "ComputerName",
    "Id",
    "UserName",
    "State",
    "IdleTime",
    "Result",
];

/// Runs `psrm rds …`; returns the exit status (1 if any host or session failed).
pub async fn run(g: &GlobalArgs, a: &RdsArgs) -> anyhow::Result<i32> {
    match &a.command {
        RdsCommand::Query(q) => query(g, q).await,
        RdsCommand::Reset(x) => action(g, x, SweepAction::Reset).await,
        RdsCommand::Logoff(x) => action(g, x, SweepAction::Logoff).await,
        RdsCommand::Msg(m) => msg(g, m).await,
    }
}

/// The hosts of `-H a,b,c` and `--hosts-file`, in order, without duplicates.
pub fn hosts(g: &GlobalArgs, h: &HostsArgs) -> anyhow::Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        let s = s.trim();
        if !s.is_empty() && !s.starts_with('#') && !out.iter().any(|o| o.eq_ignore_ascii_case(s)) {
            out.push(s.to_owned());
        }
    };
    if let Some(list) = &g.host {
        list.split(',').for_each(&mut push);
    }
    if let Some(path) = &h.hosts_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        text.lines().for_each(&mut push);
    }
    if out.is_empty() {
        bail!("no host given: use -H HOST[,HOST…] or --hosts-file FILE");
    }
    Ok(out)
}

/// Connects to every host (a host that cannot be set up keeps its error).
pub fn connections(
    g: &GlobalArgs,
    hosts: &[String],
) -> anyhow::Result<Vec<(String, Result<Connection, String>)>> {
    let store = g.store()?;
    Ok(hosts
        .iter()
        .map(|h| {
            let mut one = g.clone();
            one.host = Some(h.clone());
            let c = conn::connect(&one, &store, None).map_err(|e| super::one_line(&e));
            (h.clone(), c)
        })
        .collect())
}

/// Runs `op` on a WinRS shell of every host, `limit` at a time; the shell is closed afterwards.
pub async fn on_hosts<T, F, Fut>(
    g: &GlobalArgs,
    h: &HostsArgs,
    op: F,
) -> anyhow::Result<Vec<(String, Result<T, String>)>>
where
    T: Send + 'static,
    F: Fn(Shell) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = (Shell, Result<T, String>)> + Send + 'static,
{
    let targets = connections(g, &hosts(g, h)?)?;
    let results = fanout::for_each_host(targets, h.throttle_limit, move |(host, c)| {
        let op = op.clone();
        async move {
            let c = c?;
            let shell = Shell::open(&c.client, ShellOptions::default())
                .await
                .map_err(|e| format!("cannot open a remote shell on {host}: {e}"))?;
            let (shell, r) = op(shell).await;
            let _ = shell.close().await;
            r
        }
    })
    .await;
    Ok(results
        .into_iter()
        .map(|((host, _), r)| (host, r.unwrap_or_else(|| Err("the task failed".into()))))
        .collect())
}

async fn query(g: &GlobalArgs, a: &QueryArgs) -> anyhow::Result<i32> {
    let filter = filter(&a.filter)?;
    let all = a.all;
    let results = on_hosts(g, &a.hosts, move |sh| {
        let filter = filter.clone();
        async move {
            let r = if all {
                rds::query(&sh, None).await.map(Listing::Sessions)
            } else {
                rds::users(&sh, None)
                    .await
                    .map(|u| Listing::Users(u.into_iter().filter(|u| filter.matches(u)).collect()))
            };
            (sh, r.map_err(|e| e.to_string()))
        }
    })
    .await?;
    let columns: &[&str] = if all { &SESSION_COLUMNS } else { &USER_COLUMNS };
    let mut rows = Vec::new();
    let mut failed = 0;
    let mut lines = Vec::new();
    for (host, r) in &results {
        match r {
            Ok(Listing::Users(users)) => {
                lines.push(format!("{host}: ok, {} session(s)", users.len()));
                rows.extend(users.iter().map(|u| user_row(host, u)));
            }
            Ok(Listing::Sessions(sessions)) => {
                lines.push(format!("{host}: ok, {} session(s)", sessions.len()));
                rows.extend(sessions.iter().map(|s| session_row(host, s)));
            }
            Err(e) => {
                failed += 1;
                lines.push(format!("{host}: failed: {e}"));
            }
        }
    }
    if g.json {
        println!("{}", table::to_json(columns, &rows));
    } else {
        print!("{}", table::render(columns, &rows));
        println!();
    }
    report(&lines, results.len());
    Ok(i32::from(failed > 0))
}

enum Listing {
    Users(Vec<LoggedOnUser>),
    Sessions(Vec<RdsSession>),
}

async fn action(g: &GlobalArgs, a: &ActionArgs, what: SweepAction) -> anyhow::Result<i32> {
    let filter = filter(&a.filter)?;
    if a.session.is_none() && filter == SessionFilter::default() {
        bail!(
            "name a session, or select sessions with --state, --idle-longer-than or --session-user"
        );
    }
    let plan = SweepPlan {
        filter,
        action: what,
        warning: a.warn.clone().map(|text| Warning {
            text,
            grace: a.grace,
        }),
        dry_run: a.dry_run,
    };
    let target = a.session.clone();
    let results = on_hosts(g, &a.hosts, move |sh| {
        let plan = plan.clone();
        let target = target.clone();
        async move {
            let r = match target {
                Some(t) => one_session(&sh, &t, &plan).await,
                None => rds::sweep(&sh, &plan).await.map_err(|e| e.to_string()),
            };
            (sh, r)
        }
    })
    .await?;
    let verb = match (what, a.dry_run) {
        (SweepAction::Reset, false) => "reset",
        (SweepAction::Logoff, false) => "logged off",
        (SweepAction::Reset, true) => "would reset",
        (_, true) => "would log off",
        _ => "done",
    };
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    let mut failures = 0;
    for (host, r) in &results {
        match r {
            Ok(out) => {
                for u in &out.selected {
                    let result = if let Some((_, e)) = out.failed.iter().find(|(id, _)| *id == u.id)
                    {
                        format!("failed: {e}")
                    } else if out.done.contains(&u.id) || a.dry_run {
                        // `verb` already says "would …" in a dry run
                        verb.to_owned()
                    } else {
                        "skipped".to_owned()
                    };
                    rows.push(Row(vec![
                        Value::from(host.as_str()),
                        Value::from(u.id),
                        Value::from(u.user.as_str()),
                        Value::from(u.state.as_str()),
                        idle_value(u),
                        Value::from(result),
                    ]));
                }
                failures += out.failed.len();
                let done: Vec<String> = out.done.iter().map(u32::to_string).collect();
                let mut line = if a.dry_run {
                    let ids: Vec<String> = out.selected.iter().map(|u| u.id.to_string()).collect();
                    format!("{host}: dry run, {verb} {}", list_or_none(&ids))
                } else if done.is_empty() {
                    format!("{host}: no session {verb}")
                } else {
                    format!("{host}: {verb} {}", list_or_none(&done))
                };
                if !out.warned.is_empty() {
                    line.push_str(&format!(" (warned {} first)", out.warned.len()));
                }
                if !out.failed.is_empty() {
                    let f: Vec<String> = out
                        .failed
                        .iter()
                        .map(|(id, e)| format!("{id}: {e}"))
                        .collect();
                    line.push_str(&format!("; failed {}", f.join(", ")));
                }
                lines.push(line);
            }
            Err(e) => {
                failures += 1;
                lines.push(format!("{host}: failed: {e}"));
            }
        }
    }
    if g.json {
        println!("{}", table::to_json(&ACTION_COLUMNS, &rows));
    } else if !rows.is_empty() {
        print!("{}", table::render(&ACTION_COLUMNS, &rows));
        println!();
    }
    report(&lines, results.len());
    Ok(i32::from(failures > 0))
}

/// `reset|logoff X` on one named session, with the same warning and dry-run rules as a sweep.
async fn one_session(sh: &Shell, target: &str, plan: &SweepPlan) -> Result<SweepOutcome, String> {
    let users = rds::users(sh, None).await.map_err(|e| e.to_string())?;
    let selected: Vec<LoggedOnUser> = users
        .into_iter()
        .filter(|u| {
            u.id.to_string() == target
                || (!u.session_name.is_empty() && u.session_name.eq_ignore_ascii_case(target))
        })
        .filter(|u| plan.filter.matches(u))
        .collect();
    let mut out = SweepOutcome {
        selected,
        warned: Vec::new(),
        done: Vec::new(),
        failed: Vec::new(),
    };
    if plan.dry_run {
        return Ok(out);
    }
    let id = out.selected.first().map(|u| u.id);
    if let Some(w) = &plan.warning {
        match rds::message(sh, target, &w.text, Some(w.grace)).await {
            Ok(()) => out.warned.extend(id),
            Err(e) => return Err(format!("warning {target} failed: {e}")),
        }
        tokio::time::sleep(w.grace).await;
    }
    let r = match plan.action {
        SweepAction::Reset => rds::reset(sh, target).await,
        _ => rds::logoff(sh, target).await,
    };
    match (r, id) {
        (Ok(()), Some(id)) => out.done.push(id),
        (Ok(()), None) => {}
        (Err(e), Some(id)) => out.failed.push((id, e)),
        (Err(e), None) => return Err(e.to_string()),
    }
    Ok(out)
}

async fn msg(g: &GlobalArgs, a: &MsgArgs) -> anyhow::Result<i32> {
    let text = a.text.join(" ");
    let target = a.target.clone();
    let time = a.time;
    let results = on_hosts(g, &a.hosts, move |sh| {
        let text = text.clone();
        let target = target.clone();
        async move {
            let r = rds::message(&sh, &target, &text, time)
                .await
                .map_err(|e| e.to_string());
            (sh, r)
        }
    })
    .await?;
    let mut lines = Vec::new();
    let mut failed = 0;
    let mut docs = Vec::new();
    for (host, r) in &results {
        match r {
            Ok(()) => lines.push(format!("{host}: message sent to {}", a.target)),
            Err(e) => {
                failed += 1;
                lines.push(format!("{host}: failed: {e}"));
            }
        }
        docs.push(json!({"ComputerName": host, "Target": a.target, "Error": r.as_ref().err()}));
    }
    if g.json {
        println!("{}", Value::Array(docs));
    }
    report(&lines, results.len());
    Ok(i32::from(failed > 0))
}

/// Per-host result lines go to stderr, so stdout stays the table or the JSON document.
pub fn report(lines: &[String], hosts: usize) {
    if hosts == 0 {
        return;
    }
    for l in lines {
        eprintln!("{l}");
    }
}

fn list_or_none(ids: &[String]) -> String {
    if ids.is_empty() {
        "no session".to_owned()
    } else {
        format!("session(s) {}", ids.join(", "))
    }
}

fn filter(f: &FilterArgs) -> anyhow::Result<SessionFilter> {
    let state = match &f.state {
        None => None,
        Some(s) => match SessionState::parse(s) {
            SessionState::Other(w) => {
                bail!("unknown session state {w:?} (Active, Disc, Conn, Listen, Idle …)")
            }
            st => Some(st),
        },
    };
    Ok(SessionFilter {
        state,
        idle_longer_than: f.idle_longer_than,
        user: f.session_user.clone(),
    })
}

fn user_row(host: &str, u: &LoggedOnUser) -> Row {
    Row(vec![
        Value::from(host),
        Value::from(u.user.as_str()),
        Value::from(u.session_name.as_str()),
        Value::from(u.id),
        Value::from(u.state.as_str()),
        idle_value(u),
        u.logon_time
            .map_or(Value::Null, |t| Value::from(t.to_string())),
    ])
}

fn session_row(host: &str, s: &RdsSession) -> Row {
    Row(vec![
        Value::from(host),
        Value::from(s.name.as_str()),
        Value::from(s.user.as_str()),
        Value::from(s.id),
        Value::from(s.state.as_str()),
        Value::from(s.session_type.as_str()),
        Value::from(s.device.as_str()),
    ])
}

fn idle_value(u: &LoggedOnUser) -> Value {
    u.idle.map_or(Value::Null, |d| Value::from(timespan(d)))
}

/// A duration as .NET's TimeSpan prints it: `hh:mm:ss`, or `d.hh:mm:ss`.
pub fn timespan(d: Duration) -> String {
    let s = d.as_secs();
    let (days, h, m, sec) = (s / 86_400, (s / 3600) % 24, (s / 60) % 60, s % 60);
    if days > 0 {
        format!("{days}.{h:02}:{m:02}:{sec:02}")
    } else {
        format!("{h:02}:{m:02}:{sec:02}")
    }
}

/// `2h`, `90m`, `1h30m`, `45s`, `500ms`, `1d`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(n) = s.parse::<u64>() {
        return Ok(Duration::from_secs(n));
    }
    let mut total = Duration::ZERO;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num
            .parse()
            .map_err(|_| format!("invalid duration {s:?}: expected e.g. 90s, 2h, 1h30m"))?;
        num.clear();
        let unit = match c {
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                Duration::from_millis(n)
            }
            'd' => Duration::from_secs(n * 86_400),
            'h' => Duration::from_secs(n * 3600),
            'm' => Duration::from_secs(n * 60),
            's' => Duration::from_secs(n),
            _ => return Err(format!("invalid duration {s:?}: unknown unit {c:?}")),
        };
        total += unit;
    }
    if !num.is_empty() {
        return Err(format!(
            "invalid duration {s:?}: a number needs a unit (s, m, h, d)"
        ));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    #[test]
    fn command_lines_parse() {
        let cli = parse(&[
            "psrm",
            "rds",
            "reset",
            "--state",
            "Disc",
            "--idle-longer-than",
            "2h",
            "--session-user",
            "bob",
            "--warn",
            "saving time",
            "--grace",
            "30s",
            "--dry-run",
            "-H",
            "a,b",
            "--throttle-limit",
            "4",
        ]);
        let Command::Rds(RdsArgs {
            command: RdsCommand::Reset(a),
        }) = &cli.command
        else {
            panic!("not rds reset");
        };
        assert_eq!(a.session, None);
        assert_eq!(a.grace, Duration::from_secs(30));
        assert!(a.dry_run);
        assert_eq!(a.hosts.throttle_limit, 4);
        let f = filter(&a.filter).unwrap();
        assert_eq!(f.state, Some(SessionState::Disconnected));
        assert_eq!(f.idle_longer_than, Some(Duration::from_secs(7200)));
        assert_eq!(f.user.as_deref(), Some("bob"));
        assert_eq!(hosts(&cli.global, &a.hosts).unwrap(), ["a", "b"]);

        let cli = parse(&["psrm", "-H", "h1", "rds", "logoff", "rdp-tcp#6"]);
        let Command::Rds(RdsArgs {
            command: RdsCommand::Logoff(a),
        }) = &cli.command
        else {
            panic!("not rds logoff");
        };
        assert_eq!(a.session.as_deref(), Some("rdp-tcp#6"));
        assert_eq!(a.grace, Duration::from_secs(60));

        let cli = parse(&["psrm", "rds", "msg", "*", "back", "in", "5", "--time", "2m"]);
        let Command::Rds(RdsArgs {
            command: RdsCommand::Msg(m),
        }) = &cli.command
        else {
            panic!("not rds msg");
        };
        assert_eq!(m.text.join(" "), "back in 5");
        assert_eq!(m.time, Some(Duration::from_secs(120)));
        assert!(hosts(&cli.global, &m.hosts).is_err(), "no host given");

        for line in [
            &["psrm", "netsession", "list", "-H", "x"][..],
            &[
                "psrm",
                "netsession",
                "info",
                "10.0.0.7",
                "-H",
                "x",
                "--json",
            ],
            &[
                "psrm",
                "netsession",
                "delete",
                "\\\\10.0.0.7",
                "--dry-run",
                "-H",
                "x",
            ],
            &["psrm", "rds", "query", "--all", "-H", "x"],
        ] {
            parse(line);
        }
        assert!(
            Cli::try_parse_from(["psrm", "rds", "reset", "--idle-longer-than", "soon"]).is_err()
        );
        let cli = parse(&["psrm", "rds", "reset", "--state", "Sleeping", "-H", "x"]);
        let Command::Rds(RdsArgs {
            command: RdsCommand::Reset(a),
        }) = &cli.command
        else {
            panic!("not rds reset");
        };
        assert!(filter(&a.filter).is_err());
    }

    #[test]
    fn hosts_file_adds_hosts_once() {
        let dir = std::env::temp_dir().join(format!("psrm-hosts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("hosts.txt");
        std::fs::write(&file, "# servers\nsrv1\n\nSRV2:5986\nsrv3\n").unwrap();
        let cli = parse(&[
            "psrm",
            "-H",
            "srv2:5986,srv0",
            "rds",
            "query",
            "--hosts-file",
            file.to_str().unwrap(),
        ]);
        let Command::Rds(RdsArgs {
            command: RdsCommand::Query(q),
        }) = &cli.command
        else {
            panic!("not rds query");
        };
        assert_eq!(
            hosts(&cli.global, &q.hosts).unwrap(),
            ["srv2:5986", "srv0", "srv1", "srv3"]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("2x").is_err());
        assert!(parse_duration("1h30").is_err());
        assert!(parse_duration("h").is_err());
        assert_eq!(timespan(Duration::from_secs(95 * 60)), "01:35:00");
        assert_eq!(timespan(Duration::from_secs(86_400 + 61)), "1.00:01:01");
    }
}
