//! `psrm netsession list|info|delete`: SMB sessions to one or many hosts (`net session`
//! through WinRS, `sessions::smb`), with tables or `--json` and a result line per host.

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use sessions::smb::{self, NetSession, NetSessionInfo};

use super::conn::GlobalArgs;
use super::rds::{HostsArgs, on_hosts, report, timespan};
use super::table::{self, Row};

/// `psrm netsession`.
#[derive(Clone, Debug, Args)]
pub struct NetSessionArgs {
    #[command(subcommand)]
    pub command: NetSessionCommand,
}

/// `psrm netsession` verbs.
#[derive(Clone, Debug, Subcommand)]
pub enum NetSessionCommand {
    /// List the SMB sessions to the host(s) (NetSessionEnum / net session).
    List(ListArgs),
    /// Show the session from one client computer (NetSessionGetInfo / net session \\client).
    Info(ClientArgs),
    /// End the sessions from one client computer; its open files are closed (NetSessionDel).
    Delete(DeleteArgs),
}

/// `psrm netsession list`.
#[derive(Clone, Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub hosts: HostsArgs,
}

/// `psrm netsession info`.
#[derive(Clone, Debug, Args)]
pub struct ClientArgs {
    /// The client computer name or address (with or without `\\`).
    pub client: String,
    #[command(flatten)]
    pub hosts: HostsArgs,
}

/// `psrm netsession delete`.
#[derive(Clone, Debug, Args)]
pub struct DeleteArgs {
    /// The client computer name or address (with or without `\\`).
    pub client: String,
    /// Show the session that would be ended; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub hosts: HostsArgs,
}

/// Columns of `psrm netsession list`.
pub const LIST_COLUMNS: [&str; 6] = [
    "ComputerName",
    "ClientComputerName",
    "ClientUserName",
    "ClientType",
    "NumOpens",
    "IdleTime",
];

/// Columns of `psrm netsession info`.
pub const INFO_COLUMNS: [&str; 7] = [
    "ComputerName",
    "ClientComputerName",
    "ClientUserName",
    "GuestLogon",
    "SessionTime",
    "IdleTime",
    "NumOpens",
];

/// Runs `psrm netsession …`; returns the exit status (1 if any host failed).
pub async fn run(g: &GlobalArgs, a: &NetSessionArgs) -> anyhow::Result<i32> {
    match &a.command {
        NetSessionCommand::List(l) => list(g, l).await,
        NetSessionCommand::Info(i) => info(g, i).await,
        NetSessionCommand::Delete(d) => delete(g, d).await,
    }
}

async fn list(g: &GlobalArgs, a: &ListArgs) -> anyhow::Result<i32> {
    let results = on_hosts(g, &a.hosts, |sh| async move {
        let r = smb::list(&sh).await.map_err(|e| e.to_string());
        (sh, r)
    })
    .await?;
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    let mut failed = 0;
    for (host, r) in &results {
        match r {
            Ok(list) => {
                lines.push(format!("{host}: ok, {} session(s)", list.len()));
                rows.extend(list.iter().map(|s| list_row(host, s)));
            }
            Err(e) => {
                failed += 1;
                lines.push(format!("{host}: failed: {e}"));
            }
        }
    }
    print_rows(g, &LIST_COLUMNS, &rows);
    report(&lines, results.len());
    Ok(i32::from(failed > 0))
}

async fn info(g: &GlobalArgs, a: &ClientArgs) -> anyhow::Result<i32> {
    let client = a.client.clone();
    let results = on_hosts(g, &a.hosts, move |sh| {
        let client = client.clone();
        async move {
            let r = smb::info(&sh, &client).await.map_err(|e| e.to_string());
            (sh, r)
        }
    })
    .await?;
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    let mut failed = 0;
    for (host, r) in &results {
        match r {
            Ok(i) => {
                lines.push(format!("{host}: ok"));
                rows.push(info_row(host, i));
            }
            Err(e) => {
                failed += 1;
                lines.push(format!("{host}: failed: {e}"));
            }
        }
    }
    if g.json && rows.len() == 1 {
        if let Some(r) = rows.first() {
            println!("{}", table::row_object(&INFO_COLUMNS, r));
        }
    } else {
        print_rows(g, &INFO_COLUMNS, &rows);
    }
    report(&lines, results.len());
    Ok(i32::from(failed > 0))
}

async fn delete(g: &GlobalArgs, a: &DeleteArgs) -> anyhow::Result<i32> {
    let client = a.client.clone();
    let dry_run = a.dry_run;
    let results = on_hosts(g, &a.hosts, move |sh| {
        let client = client.clone();
        async move {
            let r = if dry_run {
                smb::info(&sh, &client).await.map(Some)
            } else {
                smb::delete(&sh, &client).await.map(|()| None)
            };
            (sh, r.map_err(|e| e.to_string()))
        }
    })
    .await?;
    let mut lines = Vec::new();
    let mut docs = Vec::new();
    let mut failed = 0;
    let shown = a.client.trim_start_matches('\\');
    for (host, r) in &results {
        let line = match r {
            Ok(Some(i)) => format!(
                "{host}: dry run, would end the session from {shown} ({} open file(s))",
                i.shares.iter().map(|s| s.opens).sum::<u32>()
            ),
            Ok(None) => format!("{host}: ended the session from {shown}"),
            Err(e) => {
                failed += 1;
                format!("{host}: failed: {e}")
            }
        };
        docs.push(json!({
            "ComputerName": host,
            "ClientComputerName": shown,
            "DryRun": dry_run,
            "Error": r.as_ref().err(),
        }));
        lines.push(line);
    }
    if g.json {
        println!("{}", Value::Array(docs));
    }
    report(&lines, results.len());
    Ok(i32::from(failed > 0))
}

fn print_rows(g: &GlobalArgs, columns: &[&str], rows: &[Row]) {
    if g.json {
        println!("{}", table::to_json(columns, rows));
    } else {
        print!("{}", table::render(columns, rows));
        println!();
    }
}

fn list_row(host: &str, s: &NetSession) -> Row {
    Row(vec![
        Value::from(host),
        Value::from(s.client.as_str()),
        Value::from(s.user.as_str()),
        Value::from(s.client_type.as_str()),
        Value::from(s.opens),
        Value::from(timespan(s.idle)),
    ])
}

fn info_row(host: &str, i: &NetSessionInfo) -> Row {
    Row(vec![
        Value::from(host),
        Value::from(i.client.as_str()),
        Value::from(i.user.as_str()),
        Value::from(i.guest_logon.as_str()),
        Value::from(timespan(i.session_time)),
        Value::from(timespan(i.idle)),
        Value::from(i.shares.iter().map(|s| s.opens).sum::<u32>()),
    ])
}
