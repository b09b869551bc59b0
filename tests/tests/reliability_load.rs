//! Load: 200 concurrent clients against one emulator, each opening a PowerShell session,
//! running a command, disconnecting, reconnecting, running again and removing the session, in a
//! loop. Quotas are set low so that requests race for them: a `w:QuotaLimit` refusal is the one
//! expected error (the client backs off and starts its round again); anything else counts as an
//! unexpected error. The service's high-water gauges must never exceed the quotas.
//!
//! Runs for 5 s by default; `PSRM_LOAD_SECONDS=60` gives the full run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use emulator::powershell::PowerShellShells;
use emulator::service::WsManService;
use emulator::{Config, Emulator};
use sessions::pssession::{DisconnectOptions, Invocation, PsSession, SessionOptions};
use sessions::{
    AuthMethod, ClientOptions, ConnectionConfig, Credentials, Error, HttpTransport, WsManClient,
};

const CLIENTS: usize = 200;
const USERS: usize = 4;
const MAX_SHELLS: usize = 6;
/// Below the shells quota: parked Receives of running commands race for it.
const MAX_OPERATIONS: u32 = 4;
const HOST: &str = "SERVER01";
const RESOURCE: &str = "http://schemas.microsoft.com/powershell/Microsoft.PowerShell";

#[derive(Default)]
struct Tally {
    rounds: AtomicU64,
    quota_refusals: AtomicU64,
    unexpected: AtomicU64,
}

fn config() -> Config {
    let mut toml = format!("computer_name = \"{HOST}\"\n");
    for u in 0..USERS {
        toml.push_str(&format!(
            "[[users]]\nname = \"user{u}\"\npassword = \"Pw-{u}-load\"\n"
        ));
    }
    toml.push_str(&format!(
        "[service]\nmax_shells_per_user = {MAX_SHELLS}\n\
         max_concurrent_operations_per_user = {MAX_OPERATIONS}\n\
         [[session_configurations]]\nname = \"Microsoft.PowerShell\"\n"
    ));
    Config::from_toml(&toml).expect("load configuration parses")
}

fn client(url: &str, n: usize) -> WsManClient {
    let u = n % USERS;
    let config = ConnectionConfig::from_url(url).expect("emulator url").auth(
        AuthMethod::Basic,
        Credentials::new(format!("user{u}"), format!("Pw-{u}-load")),
    );
    let transport = HttpTransport::new(config).expect("transport");
    WsManClient::new(
        Arc::new(transport),
        ClientOptions::default().operation_timeout(Duration::from_secs(2)),
    )
}

fn is_quota(e: &Error) -> bool {
    e.fault_subcode() == Some("QuotaLimit")
}

/// One round; `Ok(false)` when a quota refused something on the way, `Err` with what went
/// wrong otherwise.
async fn round(c: &WsManClient, name: &str) -> Result<bool, String> {
    let mut s = match PsSession::new(c, HOST, SessionOptions::default().name(name)).await {
        Ok(s) => s,
        Err(e) if is_quota(&e) => return Ok(false),
        Err(e) => return Err(e.to_string()),
    };
    let result = async {
        let out = s
            .invoke(&Invocation::script("Start-Sleep -Milliseconds 100; 1..20"))
            .await?;
        let n = out.output_lines().len();
        if n != 20 {
            return Ok(Some(format!("expected 20 lines, got {n}")));
        }
        s.disconnect(DisconnectOptions::default()).await?;
        s.reconnect(None).await?;
        let out = s.invoke(&Invocation::script("$x = 6; $x * 7")).await?;
        if out.output_lines() != ["42"] {
            return Ok(Some(format!("expected 42, got {:?}", out.output_lines())));
        }
        Ok::<_, Error>(None)
    }
    .await;
    // Remove whatever happened (retrying while the operations quota refuses).
    let shell_id = s.shell_id().clone();
    let mut removal = s.remove().await;
    for _ in 0..100 {
        match &removal {
            Err(e) if is_quota(e) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                removal = match c.delete(RESOURCE, &shell_id).await {
                    // Already gone: an earlier attempt went through.
                    Err(e) if e.fault_subcode() == Some("InvalidSelectors") => Ok(()),
                    other => other,
                };
            }
            _ => break,
        }
    }
    match (result, removal) {
        (Ok(Some(wrong)), _) => Err(wrong),
        (Ok(None), Ok(())) => Ok(true),
        (Err(e), _) | (Ok(None), Err(e)) if is_quota(&e) => Ok(false),
        (Err(e), _) | (Ok(None), Err(e)) => Err(e.to_string()),
    }
}

fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_clients_hold_the_quotas_without_unexpected_errors() {
    let seconds: u64 = std::env::var("PSRM_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let config = config();
    let service = WsManService::with_powershell(config.clone(), PowerShellShells::new());
    let emu = Emulator::builder(config)
        .start(service.clone())
        .await
        .expect("emulator starts");
    let url = emu.url();
    let tally = Arc::new(Tally::default());
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for n in 0..CLIENTS {
        let url = url.clone();
        let tally = tally.clone();
        tasks.push(tokio::spawn(async move {
            let c = client(&url, n);
            let mut i = 0u64;
            while Instant::now() < deadline {
                i += 1;
                match round(&c, &format!("load-{n}-{i}")).await {
                    Ok(true) => {
                        tally.rounds.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(false) => {
                        tally.quota_refusals.fetch_add(1, Ordering::Relaxed);
                        // Back off a little, differently per client.
                        let ms = 10 + (n as u64 * 7 + i * 13) % 40;
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                    }
                    Err(e) => {
                        eprintln!("client {n}: unexpected error: {e}");
                        tally.unexpected.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("client task");
    }
    let gauges = service.with_core(|core| core.gauges());
    let left = service.with_core(|core| core.shell_count());
    let rounds = tally.rounds.load(Ordering::Relaxed);
    let refusals = tally.quota_refusals.load(Ordering::Relaxed);
    let unexpected = tally.unexpected.load(Ordering::Relaxed);
    let rss = peak_rss_kb().unwrap_or(0);
    println!(
        "load: {CLIENTS} clients, {seconds} s: {rounds} rounds, {refusals} quota refusals, \
         {unexpected} unexpected errors; max shells/user {} (quota {MAX_SHELLS}), max operations/user \
         {} (quota {MAX_OPERATIONS}); {left} shells left; peak RSS {} MB",
        gauges.max_shells_per_user,
        gauges.max_operations_per_user,
        rss / 1024
    );
    assert_eq!(unexpected, 0, "unexpected errors");
    assert!(rounds > 0, "some rounds completed");
    assert!(
        gauges.max_shells_per_user <= MAX_SHELLS,
        "MaxShellsPerUser exceeded: {gauges:?}"
    );
    assert!(
        gauges.max_operations_per_user <= MAX_OPERATIONS,
        "MaxConcurrentOperationsPerUser exceeded: {gauges:?}"
    );
    assert!(
        refusals > 0,
        "200 clients over {USERS} users must race for {MAX_SHELLS} shells each"
    );

    assert_eq!(left, 0, "every session was removed");
    // The test process holds the emulator and all clients; bounded means well under 1 GB.
    assert!(rss < 1024 * 1024, "peak RSS {rss} kB");
    emu.shutdown().await;
}

/// Parked Receives of one user race for MaxConcurrentOperationsPerUser: the ones over the
/// quota are refused with `w:QuotaLimit`, the gauge reaches the quota and never passes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_receives_racing_for_the_operations_quota_never_exceed_it() {
    let config = config();
    let service = WsManService::with_powershell(config.clone(), PowerShellShells::new());
    let emu = Emulator::builder(config)
        .start(service.clone())
        .await
        .expect("emulator starts");
    let url = emu.url();
    let mut sessions = Vec::new();
    for n in 0..MAX_SHELLS {
        // Clients 0, 4, 8…: all user0, each its own WS-Man session.
        let c = client(&url, n * USERS);
        let s = PsSession::new(
            &c,
            HOST,
            SessionOptions::default().name(format!("race-{n}")),
        )
        .await
        .expect("new");
        sessions.push(s);
    }
    let inv = Invocation::script("Start-Sleep -Milliseconds 400; 1");
    let results = futures_join(sessions.iter_mut().map(|s| s.invoke(&inv))).await;
    let refused = results
        .iter()
        .filter(|r| r.as_ref().is_err_and(is_quota))
        .count();
    let other: Vec<String> = results
        .iter()
        .filter_map(|r| {
            r.as_ref()
                .err()
                .filter(|e| !is_quota(e))
                .map(|e| e.to_string())
        })
        .collect();
    let gauges = service.with_core(|core| core.gauges());
    println!("{MAX_SHELLS} parked Receives, quota {MAX_OPERATIONS}: {refused} refused, {gauges:?}");
    assert!(other.is_empty(), "{other:?}");
    assert!(
        refused >= MAX_SHELLS - MAX_OPERATIONS as usize,
        "{refused} refused"
    );
    assert_eq!(gauges.max_operations_per_user, MAX_OPERATIONS, "{gauges:?}");
    for s in sessions {
        let _ = s.remove().await;
    }
    emu.shutdown().await;
}

/// Polls every future together (no extra dependency): `join_all` for a handful.
async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}
