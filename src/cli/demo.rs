//! `psrm demo`: the in-process emulator and two clients walking SPEC A1 (the seed's
//! Session 1 / Session 2 sequence), then Invoke-Command -InDisconnectedSession +
//! Receive-PSSession, an idle-timeout expiry, and Block vs Drop. Everything printed comes from
//! real requests to the emulator.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use emulator::powershell::PowerShellShells;
use emulator::service::WsManService;
use emulator::{Config, Emulator};
use serde_json::json;
use sessions::pssession::{
    DisconnectOptions, Invocation, PsSession, RemoteSession, SessionOptions, SessionState,
};
use sessions::{
    AuthMethod, ClientOptions, ConnectionConfig, Credentials, HttpTransport, WsManClient,
};
use wsman::shell::BufferMode;

use super::table::{self, Row, SESSION_COLUMNS};

/// `psrm demo`.
#[derive(Clone, Debug, Args)]
pub struct DemoArgs {
    /// Address for the emulator.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
}

const COMPUTER: &str = "Server30";

/// One of the two clients of the walk-through.
struct Client {
    label: &'static str,
    client: WsManClient,
}

impl Client {
    fn new(label: &'static str, url: &str, password: &str) -> anyhow::Result<Self> {
        let config = ConnectionConfig::from_url(url)
            .context("emulator url")?
            .auth(AuthMethod::Ntlm, Credentials::new("demo", password));
        let max = config.max_envelope_size;
        let transport = HttpTransport::new(config)?;
        let options = ClientOptions::default()
            .max_envelope_size(max)
            .operation_timeout(Duration::from_secs(2));
        Ok(Self {
            label,
            client: WsManClient::new(Arc::new(transport), options),
        })
    }

    /// `Get-PSSession -ComputerName`, as this client sees it.
    async fn get(&self, local: &[&PsSession], name: Option<&str>) -> anyhow::Result<Vec<Row>> {
        let remote = PsSession::enumerate(&self.client).await?;
        Ok(remote
            .iter()
            .filter(|r| name.is_none_or(|n| r.name == n))
            .enumerate()
            .map(|(i, r)| remote_row(i, r, local))
            .collect())
    }
}

fn remote_row(index: usize, r: &RemoteSession, local: &[&PsSession]) -> Row {
    let mine = local.iter().find(|s| {
        s.shell_id()
            .as_str()
            .eq_ignore_ascii_case(r.shell_id.as_str())
    });
    let (state, availability) = r.view(mine.map(|s| s.state()));
    Row(vec![
        json!(index + 1),
        json!(r.name),
        json!(COMPUTER),
        json!(state.as_str()),
        json!(r.configuration_name),
        json!(availability.as_str()),
    ])
}

fn local_row(id: usize, s: &PsSession) -> Row {
    Row(vec![
        json!(id),
        json!(s.name()),
        json!(COMPUTER),
        json!(s.state().as_str()),
        json!(s.configuration_name()),
        json!(s.availability().as_str()),
    ])
}

fn show(who: &str, command: &str, rows: &[Row]) {
    println!("# {who}");
    println!("PS> {command}");
    if rows.is_empty() {
        println!("(no sessions)");
    } else {
        print!("{}", table::render(&SESSION_COLUMNS, rows));
    }
    println!();
}

fn expect(rows: &[Row], state: &str, availability: &str) -> anyhow::Result<()> {
    let ok = rows.iter().any(|r| {
        r.0.get(3).and_then(|v| v.as_str()) == Some(state)
            && r.0.get(5).and_then(|v| v.as_str()) == Some(availability)
    });
    if !ok {
        bail!("expected a session {state}/{availability}, got {rows:?}");
    }
    Ok(())
}

fn demo_config(password: &str) -> anyhow::Result<Config> {
    let text = format!(
        r#"computer_name = "{COMPUTER}"
[[users]]
name = "demo"
password = "{password}"
admin = true
[[session_configurations]]
name = "Microsoft.PowerShell"
min_idle_timeout_ms = 1000
output_buffer_size_kb = 16
"#
    );
    Ok(Config::from_toml(&text)?)
}

/// Runs the demo.
pub async fn demo(args: &DemoArgs) -> anyhow::Result<i32> {
    let started = Instant::now();
    let password = format!("Demo-{}", uuid::Uuid::new_v4().simple());
    let config = demo_config(&password)?;
    let service = WsManService::with_powershell(config.clone(), PowerShellShells::new());
    let emu = Emulator::builder(config)
        .listen(args.listen)
        .start(service)
        .await
        .context("cannot start the emulator")?;
    println!(
        "emulator listening on {} (computer name {COMPUTER})\n",
        emu.url()
    );
    let result = walk(&emu.url(), &password).await;
    emu.shutdown().await;
    result?;
    println!("demo finished in {:.1} s", started.elapsed().as_secs_f64());
    Ok(0)
}

async fn walk(url: &str, password: &str) -> anyhow::Result<()> {
    let one = Client::new("Session 1", url, password)?;
    let two = Client::new("Session 2", url, password)?;

    println!("== Two clients, one session (SPEC A1 State / Availability) ==\n");
    let mut test = PsSession::new(
        &one.client,
        COMPUTER,
        SessionOptions::default().name("Test"),
    )
    .await
    .context("New-PSSession")?;
    let rows = [local_row(1, &test)];
    show(
        one.label,
        "New-PSSession -ComputerName Server30 -Name Test",
        &rows,
    );
    expect(&rows, "Opened", "Available")?;

    let rows = two.get(&[], Some("Test")).await?;
    show(
        two.label,
        "Get-PSSession -ComputerName Server30 -Name Test",
        &rows,
    );
    expect(&rows, "Disconnected", "Busy")?;

    test.disconnect(DisconnectOptions::default()).await?;
    let rows = [local_row(1, &test)];
    show(
        one.label,
        "Get-PSSession -ComputerName Server30 -Name Test | Disconnect-PSSession",
        &rows,
    );
    expect(&rows, "Disconnected", "None")?;

    let rows = two.get(&[], None).await?;
    show(two.label, "Get-PSSession -ComputerName Server30", &rows);
    expect(&rows, "Disconnected", "None")?;

    let remote = PsSession::enumerate(&two.client)
        .await?
        .into_iter()
        .find(|r| r.name == "Test")
        .context("session Test not found")?;
    let test2 = PsSession::connect(&two.client, COMPUTER, &remote)
        .await
        .context("Connect-PSSession")?;
    let rows = [local_row(3, &test2)];
    show(
        two.label,
        "Connect-PSSession -ComputerName Server30 -Name Test",
        &rows,
    );
    expect(&rows, "Opened", "Available")?;

    let rows = one.get(&[&test], None).await?;
    show(one.label, "Get-PSSession -ComputerName Server30", &rows);
    expect(&rows, "Disconnected", "Busy")?;
    test2.remove().await?;

    println!("== Invoke-Command -InDisconnectedSession, then Receive-PSSession elsewhere ==\n");
    let script = "1..5 | ForEach-Object { \"line $_\"; Start-Sleep -Milliseconds 50 }";
    let job = PsSession::invoke_in_disconnected_session(
        &one.client,
        COMPUTER,
        SessionOptions::default().name("Report"),
        &Invocation::script(script),
    )
    .await
    .context("Invoke-Command -InDisconnectedSession")?;
    let rows = [local_row(4, &job)];
    show(
        one.label,
        &format!(
            "Invoke-Command -ComputerName Server30 -InDisconnectedSession -SessionName Report {{ {script} }}"
        ),
        &rows,
    );
    expect(&rows, "Disconnected", "None")?;
    let remote = PsSession::enumerate(&two.client)
        .await?
        .into_iter()
        .find(|r| r.name == "Report")
        .context("session Report not found")?;
    let mut report = PsSession::connect(&two.client, COMPUTER, &remote).await?;
    println!(
        "# {}\nPS> Receive-PSSession -ComputerName Server30 -Name Report",
        two.label
    );
    let outputs = report.receive(None).await.context("Receive-PSSession")?;
    let mut lines = 0;
    for out in &outputs {
        for line in out.output_lines() {
            println!("{line}");
            lines += 1;
        }
    }
    println!();
    if lines != 5 {
        bail!("expected 5 lines from the disconnected command, got {lines}");
    }
    report.remove().await?;

    println!("== Idle timeout: a disconnected session is deleted when it expires ==\n");
    let mut idle = PsSession::new(
        &one.client,
        COMPUTER,
        SessionOptions::default().name("Idle"),
    )
    .await?;
    idle.disconnect(DisconnectOptions::default().idle_timeout(Duration::from_secs(2)))
        .await?;
    let rows = one.get(&[&idle], Some("Idle")).await?;
    show(
        one.label,
        "Disconnect-PSSession -Name Idle -IdleTimeoutSec 2; Get-PSSession -ComputerName Server30 -Name Idle",
        &rows,
    );
    expect(&rows, "Disconnected", "None")?;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let rows = one.get(&[&idle], Some("Idle")).await?;
    show(
        one.label,
        "Start-Sleep 3.5; Get-PSSession -ComputerName Server30 -Name Idle",
        &rows,
    );
    if !rows.is_empty() {
        bail!("the idle session should have expired");
    }

    println!("== OutputBufferingMode: Block vs Drop on the same output-heavy command ==\n");
    let heavy = "1..3000 | ForEach-Object { \"row $_ of 3000 ................................\" }";
    for mode in [BufferMode::Block, BufferMode::Drop] {
        let mut s = PsSession::invoke_in_disconnected_session(
            &one.client,
            COMPUTER,
            SessionOptions::default()
                .name(format!("Heavy{mode}"))
                .output_buffering_mode(mode.clone()),
            &Invocation::script(heavy),
        )
        .await?;
        // Let the command fill the (16 KiB) buffer while nobody receives.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        s.reconnect(None).await?;
        let outputs = s.receive(None).await?;
        let rows: Vec<String> = outputs.iter().flat_map(|o| o.output_lines()).collect();
        let first = rows.first().cloned().unwrap_or_default();
        let last = rows.last().cloned().unwrap_or_default();
        println!("# {}", one.label);
        println!(
            "PS> Invoke-Command -InDisconnectedSession -SessionOption @{{OutputBufferingMode='{mode}'}} {{ {heavy} }}; Receive-PSSession"
        );
        println!(
            "OutputBufferingMode {mode}: received {} of 3000 rows (first: {first:?}, last: {last:?})\n",
            rows.len()
        );
        match mode {
            BufferMode::Block if rows.len() != 3000 => {
                bail!("Block must keep every row, got {}", rows.len())
            }
            BufferMode::Drop if rows.len() >= 3000 => {
                println!("(the command never filled the buffer: nothing had to be dropped)\n");
            }
            _ => {}
        }
        if s.state() == SessionState::Opened {
            s.remove().await?;
        }
    }
    Ok(())
}
