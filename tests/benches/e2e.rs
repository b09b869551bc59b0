//! End-to-end benchmark (issue 8): our client, pypsrp, pywinrm, psrp-rs and winrm-rs against the
//! same emulator process on loopback, in the same run, plus a plain hyper transfer of the same
//! payload bytes as the physical reference.
//!
//! Run it through `scripts/bench` (builds the Rust peer program, prepares the Python venv, then
//! runs `cargo bench -p tests --bench e2e`). Alone, peers that are missing are reported as "not
//! run". Knobs (environment):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PSRM_BENCH_TINY` | 500 | `Write-Output 1` pipelines in one session |
//! | `PSRM_BENCH_BULK_MB` | 10 | MB (10^6 bytes, as 1 KiB strings) from one pipeline |
//! | `PSRM_BENCH_WINRS` | 200 | `echo` commands |
//! | `PSRM_BENCH_CHURN` | 200 | sessions created and closed |
//! | `PSRM_BENCH_RECONNECT_MB` | 10 | MB buffered while disconnected |
//! | `PSRM_BENCH_HOSTS` | 100 | emulated hosts (listeners) for the fan-out, throttle 50 |
//! | `PSRM_BENCH_IDLE` | 1000 | idle disconnected sessions for the memory figure (comma list) |
//! | `PSRM_PYTHON` | `.venv/bin/python` | interpreter with pypsrp and pywinrm |
//! | `PSRM_BENCH_RUST_PEERS` | `bench/rust-peers/target/release/psrm-bench-rust-peers` | peer program |
//! | `PSRM_BENCH_OUT` | unset | also write the markdown table to this file |
//! | `PSRM_BENCH_REPEAT` | 3 | runs per figure (ours and peers); the median is reported |
//! | `PSRM_BENCH_ONLY` | all | comma list of tiny, bulk, winrs, churn, reconnect, fanout, memory |
//! | `PSRM_BENCH_SETTLE_MS` | 1500 | wait (not timed) for the server to buffer before reconnecting |
//!
//! The emulator runs in a child process (this same executable, `PSRM_E2E_SERVE` set) so every
//! client talks to the same server over loopback and its resident size can be read alone.
//! Figures are printed as a markdown table; ratios are ours / peer for rates and
//! peer / ours for durations, so above 1 means ours is faster.

/// mimalloc for this process (our client and the emulator child, which every peer talks to):
/// the per-request profile is flat with malloc/free ~20 % of it under glibc's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use emulator::powershell::PowerShellShells;
use emulator::service::WsManService;
use emulator::{Config, Emulator};
use http_body_util::{BodyExt, Empty, Full};
use psrp::clixml::Value;
use sessions::pssession::{DisconnectOptions, Invocation, PsSession, SessionOptions, StreamItem};
use sessions::winrs::{Shell, ShellOptions};
use sessions::{
    AuthMethod, ClientOptions, ConnectionConfig, Credentials, HttpTransport, WsManClient, fanout,
};

const USER: &str = "bench";
const PASSWORD: &str = "Bench-pw-0451";
const HOST: &str = "BENCH01";
const SERVE_ENV: &str = "PSRM_E2E_SERVE";
const MB: f64 = 1_000_000.0;
const THROTTLE: usize = 50;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = Result<T, BoxError>;

fn main() {
    if let Ok(hosts) = std::env::var(SERVE_ENV) {
        let hosts = hosts.parse().unwrap_or(1);
        if let Err(e) = serve(hosts) {
            eprintln!("e2e server: {e}");
            std::process::exit(1);
        }
        return;
    }
    // `cargo test --benches` runs bench targets without `--bench`: build-check only.
    if !std::env::args().any(|a| a == "--bench") {
        println!("e2e: skipped (run with `cargo bench -p tests --bench e2e` or scripts/bench)");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(orchestrate()) {
        eprintln!("e2e: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------------
// The server child: `hosts` emulators and one plain hyper server, until stdin closes.

fn bench_config() -> Config {
    Config::from_toml(&format!(
        "computer_name = \"{HOST}\"\n\
         [[users]]\nname = \"{USER}\"\npassword = \"{PASSWORD}\"\nadmin = true\n\
         [service]\nmax_shells_per_user = 1000000\nmax_concurrent_operations_per_user = 1000000\n\
         max_connections = 100000\n\
         [winrs]\nmax_shells_per_user = 1000000\nmax_concurrent_users = 1000\n\
         [[session_configurations]]\nname = \"Microsoft.PowerShell\"\n\
         output_buffer_size_kb = 1048576\n"
    ))
    .expect("bench configuration parses")
}

fn serve(hosts: usize) -> Res<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut emulators = Vec::with_capacity(hosts);
        for _ in 0..hosts {
            let config = bench_config();
            let service = WsManService::with_powershell(config.clone(), PowerShellShells::new());
            emulators.push(Emulator::builder(config).start(service).await?);
        }
        let hyper_port = start_plain_hyper().await?;
        let ports: Vec<String> = emulators
            .iter()
            .map(|e| e.local_addr().port().to_string())
            .collect();
        println!("READY {hyper_port} {}", ports.join(" "));
        std::io::stdout().flush()?;
        // Serve until the parent closes our stdin.
        tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await?;
        drop(emulators);
        Ok(())
    })
}

/// A hyper HTTP/1 server answering `GET /bytes/N` with N bytes of `x`.
async fn start_plain_hyper() -> Res<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(|req: hyper::Request<hyper::body::Incoming>| {
                        let n: usize = req
                            .uri()
                            .path()
                            .strip_prefix("/bytes/")
                            .and_then(|n| n.parse().ok())
                            .unwrap_or(0);
                        async move {
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                                Bytes::from(vec![b'x'; n]),
                            )))
                        }
                    });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, svc)
                    .await;
            });
        }
    });
    Ok(port)
}

struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    hyper_port: u16,
    ports: Vec<u16>,
}

impl Server {
    fn spawn(hosts: usize) -> Res<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .env(SERVE_ENV, hosts.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("server child has no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let mut words = line.split_whitespace();
        if words.next() != Some("READY") {
            return Err(format!("server child did not start: {line:?}").into());
        }
        let hyper_port = words.next().ok_or("no hyper port")?.parse()?;
        let ports = words.map(str::parse).collect::<Result<Vec<u16>, _>>()?;
        Ok(Self {
            child,
            stdin,
            hyper_port,
            ports,
        })
    }

    fn port(&self) -> u16 {
        self.ports.first().copied().unwrap_or(0)
    }

    /// VmRSS of the server process, in KiB.
    fn rss_kib(&self) -> Res<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| "no VmRSS in /proc status".into())
    }
}

/// CPU seconds (user + system) used so far by a process (`/proc/<pid>/stat`, 100 ticks/s).
fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at `) `.
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0
}

/// Runs `f` `reps` times; the median run (by seconds) and the CPU seconds per run used by this
/// process (our client) and by the server child.
async fn measure<F, Fut>(server: &Server, reps: u32, mut f: F) -> (Res<(f64, u64)>, String)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Res<(f64, u64)>>,
{
    let pid = server.child.id().to_string();
    let (s0, c0) = (cpu_secs(&pid), cpu_secs("self"));
    let mut runs = Vec::new();
    let mut failure = None;
    for _ in 0..reps.max(1) {
        match f().await {
            Ok(v) => runs.push(v),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let (s1, c1) = (cpu_secs(&pid), cpu_secs("self"));
    let n = runs.len().max(1) as f64;
    let cpu = format!("{:.3} / {:.3}", (c1 - c0) / n, (s1 - s0) / n);
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let result = match failure {
        Some(e) => Err(e),
        None => runs
            .get(runs.len() / 2)
            .copied()
            .ok_or_else(|| "no run".into()),
    };
    (result, cpu)
}

/// The median of repeated peer runs by seconds; the first failure if any run failed.
fn median(figs: Vec<Figure>) -> Figure {
    if let Some(bad) = figs.iter().find(|f| !matches!(f, Figure::Ran(..))) {
        return bad.clone();
    }
    let mut ran: Vec<(f64, u64)> = figs
        .iter()
        .filter_map(|f| match f {
            Figure::Ran(s, b) => Some((*s, *b)),
            _ => None,
        })
        .collect();
    ran.sort_by(|a, b| a.0.total_cmp(&b.0));
    ran.get(ran.len() / 2).map_or_else(
        || Figure::NotRun("no run".into()),
        |(s, b)| Figure::Ran(*s, *b),
    )
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Our client's workloads.

fn client(port: u16) -> Res<WsManClient> {
    client_with(port, ClientOptions::default())
}

fn client_with(port: u16, options: ClientOptions) -> Res<WsManClient> {
    let config = ConnectionConfig::from_url(&format!("http://127.0.0.1:{port}/wsman"))
        .ok_or("bad url")?
        .auth(AuthMethod::Basic, Credentials::new(USER, PASSWORD));
    let transport = HttpTransport::new(config)?;
    Ok(WsManClient::new(Arc::new(transport), options))
}

/// The MaxEnvelopeSize pypsrp switches to once the server speaks protocol 2.2 or later.
const PYPSRP_ENVELOPE: u32 = 512_000;
/// The WS-Man default MaxEnvelopeSize (150 KiB).
const SMALL_ENVELOPE: u32 = wsman_transport::config::DEFAULT_MAX_ENVELOPE_SIZE;

fn bulk_script(kib: u64) -> String {
    format!("$s = 'x' * 1024; 1..{kib} | ForEach-Object {{ $s }}")
}

fn string_bytes(item: &StreamItem) -> u64 {
    match item {
        StreamItem::Output(Value::String(s)) => s.len() as u64,
        _ => 0,
    }
}

/// Seconds for `n` `Write-Output 1` pipelines in one open session.
async fn ours_tiny(port: u16, n: u64) -> Res<(f64, u64)> {
    let c = client(port)?;
    let mut s = PsSession::new(&c, HOST, SessionOptions::default()).await?;
    let inv = Invocation::script("Write-Output 1");
    let mut each = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    let t = Instant::now();
    for _ in 0..n {
        let one = Instant::now();
        let out = s.invoke(&inv).await?;
        if out.output.len() != 1 {
            return Err(format!("expected one object, got {}", out.output.len()).into());
        }
        each.push(one.elapsed());
    }
    let secs = t.elapsed().as_secs_f64();
    each.sort();
    let at = |q: f64| {
        each.get((each.len() as f64 * q) as usize)
            .copied()
            .unwrap_or_default()
    };
    eprintln!(
        "e2e: tiny latency p50 {:?} p90 {:?} p99 {:?} max {:?}",
        at(0.5),
        at(0.9),
        at(0.99),
        each.last().copied().unwrap_or_default()
    );
    s.remove().await?;
    Ok((secs, 0))
}

/// Seconds and payload bytes for one pipeline producing `kib` strings of 1 KiB; `envelope`:
/// a fixed MaxEnvelopeSize (no raise after the open), or our default (153 600, raised to
/// 512 000 once the pool reports protocol ≥ 2.2 and the server allows it, as pypsrp).
async fn ours_bulk(port: u16, kib: u64, envelope: Option<u32>) -> Res<(f64, u64)> {
    let c = match envelope {
        Some(bytes) => client_with(
            port,
            ClientOptions::default()
                .max_envelope_size(bytes)
                .psrp_envelope_raise(false),
        )?,
        None => client(port)?,
    };
    let mut s = PsSession::new(&c, HOST, SessionOptions::default()).await?;
    let inv = Invocation::script(bulk_script(kib));
    let t = Instant::now();
    let mut pipeline = s.start(&inv).await?;
    let mut bytes = 0;
    while let Some(item) = pipeline.next().await? {
        bytes += string_bytes(&item);
    }
    let secs = t.elapsed().as_secs_f64();
    let id = pipeline.command_id().clone();
    s.forget_command(&id);
    s.remove().await?;
    Ok((secs, bytes))
}

/// Seconds for `n` `echo` commands in one WinRS shell.
async fn ours_winrs_shell(port: u16, n: u64) -> Res<(f64, u64)> {
    let c = client(port)?;
    let shell = Shell::open(&c, ShellOptions::default()).await?;
    let t = Instant::now();
    for _ in 0..n {
        let out = shell.exec("echo", &["hello"]).await?;
        if !out.stdout_text().contains("hello") {
            return Err("echo output missing".into());
        }
    }
    let secs = t.elapsed().as_secs_f64();
    shell.close().await?;
    Ok((secs, 0))
}

/// Seconds for `n` `echo` commands, each in its own shell (what `run_cmd` / `execute_cmd` do).
async fn ours_winrs_per_command(port: u16, n: u64) -> Res<(f64, u64)> {
    let c = client(port)?;
    let t = Instant::now();
    for _ in 0..n {
        let shell = Shell::open(&c, ShellOptions::default()).await?;
        let out = shell.exec("echo", &["hello"]).await?;
        if !out.stdout_text().contains("hello") {
            return Err("echo output missing".into());
        }
        shell.close().await?;
    }
    Ok((t.elapsed().as_secs_f64(), 0))
}

/// Seconds to create and close `n` sessions.
async fn ours_churn(port: u16, n: u64) -> Res<(f64, u64)> {
    let c = client(port)?;
    let t = Instant::now();
    for _ in 0..n {
        let s = PsSession::new(&c, HOST, SessionOptions::default()).await?;
        s.remove().await?;
    }
    Ok((t.elapsed().as_secs_f64(), 0))
}

/// Disconnect with a pipeline producing `kib` KiB, let the server buffer it (not timed), then
/// reconnect and receive everything: seconds (disconnect + reconnect + receive) and bytes.
async fn ours_reconnect(port: u16, kib: u64, settle: Duration) -> Res<(f64, u64)> {
    let c = client_with(
        port,
        ClientOptions::default().max_envelope_size(PYPSRP_ENVELOPE),
    )?;
    let mut s = PsSession::new(&c, HOST, SessionOptions::default()).await?;
    let pipeline = s.start(&Invocation::script(bulk_script(kib))).await?;
    drop(pipeline);
    let t = Instant::now();
    s.disconnect(DisconnectOptions::default()).await?;
    let t_disconnect = t.elapsed().as_secs_f64();
    tokio::time::sleep(settle).await;
    let t = Instant::now();
    let mut bytes = 0;
    s.receive_with(None, |_, item| bytes += string_bytes(item))
        .await?;
    let secs = t.elapsed().as_secs_f64() + t_disconnect;
    s.remove().await?;
    Ok((secs, bytes))
}

/// Seconds to run `Write-Output 1` in a new session on every port, `THROTTLE` at a time; an
/// error unless every host succeeded.
async fn ours_fanout(ports: &[u16]) -> Res<(f64, u64)> {
    let t = Instant::now();
    let results = fanout::for_each_host(ports.to_vec(), THROTTLE, |port| async move {
        let run = async {
            let c = client(port)?;
            let mut s = PsSession::new(&c, HOST, SessionOptions::default()).await?;
            let out = s.invoke(&Invocation::script("Write-Output 1")).await?;
            s.remove().await?;
            Ok::<_, BoxError>(out.output.len() == 1)
        };
        matches!(run.await, Ok(true))
    })
    .await;
    let secs = t.elapsed().as_secs_f64();
    let ok = results.iter().filter(|(_, r)| *r == Some(true)).count();
    if ok != ports.len() {
        return Err(format!("{ok} of {} hosts succeeded", ports.len()).into());
    }
    Ok((secs, 0))
}

/// KiB of server resident size per idle disconnected session, with `n` of them.
async fn ours_idle_memory(n: usize) -> Res<(f64, f64, u64)> {
    let server = Server::spawn(1)?;
    let c = client(server.port())?;
    // Warm up: the first session pays for lazily built tables and thread stacks.
    let warm = PsSession::new(&c, HOST, SessionOptions::default()).await?;
    warm.remove().await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = server.rss_kib()?;
    let t = Instant::now();
    let sessions: Vec<u64> = (0..n as u64).collect();
    let results = fanout::for_each_host(sessions, 4, |_| {
        let c = c.clone();
        async move {
            let mut s = PsSession::new(&c, HOST, SessionOptions::default()).await?;
            s.disconnect(DisconnectOptions::default()).await?;
            Ok::<_, BoxError>(())
        }
    })
    .await;
    let secs = t.elapsed().as_secs_f64();
    let failed = results
        .iter()
        .filter(|(_, r)| !matches!(r, Some(Ok(()))))
        .count();
    if failed > 0 {
        return Err(format!("{failed} of {n} sessions failed").into());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = server.rss_kib()?;
    let per = after.saturating_sub(before) as f64 / n as f64;
    Ok((per, secs, after))
}

/// Seconds and bytes for one plain hyper GET of `n` bytes over loopback.
async fn hyper_loopback(port: u16, n: u64) -> Res<(f64, u64)> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = hyper::Request::get(format!("/bytes/{n}"))
        .header("host", "127.0.0.1")
        .body(Empty::<Bytes>::new())?;
    let t = Instant::now();
    let mut body = sender.send_request(req).await?.into_body();
    let mut bytes = 0;
    while let Some(frame) = body.frame().await {
        if let Some(data) = frame?.data_ref() {
            bytes += data.len() as u64;
        }
    }
    Ok((t.elapsed().as_secs_f64(), bytes))
}

// ---------------------------------------------------------------------------------------------
// Peers (separate processes).

struct Peers {
    python: Option<PathBuf>,
    rust: Option<PathBuf>,
    reps: u32,
}

#[derive(Clone, Debug)]
enum Figure {
    /// seconds, payload bytes
    Ran(f64, u64),
    Failed(String),
    NotRun(String),
}

fn run_peer(program: &Path, args: &[String]) -> Figure {
    let out = Command::new(program)
        .args(args)
        .env("PSRM_BENCH_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => return Figure::Failed(format!("cannot start {}: {e}", program.display())),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(line) = text.lines().rev().find(|l| l.starts_with('{')) else {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: String = err.lines().rev().take(3).collect::<Vec<_>>().join(" / ");
        return Figure::Failed(format!("no result ({}): {tail}", out.status));
    };
    match serde_json::from_str::<serde_json::Value>(line) {
        Ok(v) => {
            if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
                return Figure::Failed(e.to_owned());
            }
            // The Rust peer keeps its figure when only psrp-rs's close failed (see
            // bench/rust-peers/src/main.rs); say so.
            if let Some(n) = v.get("close_errors").and_then(serde_json::Value::as_u64) {
                let first = v.get("close_error").and_then(|e| e.as_str()).unwrap_or("");
                eprintln!(
                    "e2e: {} {}: {n} close error(s), first: {first}",
                    program.display(),
                    args.first().map_or("", String::as_str)
                );
            }
            let secs = v.get("seconds").and_then(serde_json::Value::as_f64);
            let bytes = v
                .get("bytes")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            match secs {
                Some(s) => Figure::Ran(s, bytes),
                None => Figure::Failed(format!("unreadable result {line}")),
            }
        }
        Err(e) => Figure::Failed(format!("unreadable result ({e}): {line}")),
    }
}

impl Peers {
    fn python(&self, script: &str, workload: &str, port: u16, n: u64) -> Figure {
        let Some(py) = &self.python else {
            return Figure::NotRun("no python venv (scripts/pyenv)".into());
        };
        let script = repo_root().join("bench/peers").join(script);
        let args = [
            script.display().to_string(),
            workload.into(),
            port.to_string(),
            USER.into(),
            n.to_string(),
        ];
        median((0..self.reps).map(|_| run_peer(py, &args)).collect())
    }

    fn rust(&self, workload: &str, port: u16, n: u64) -> Figure {
        let Some(bin) = &self.rust else {
            return Figure::NotRun("peer program not built (scripts/bench)".into());
        };
        let args = [
            workload.into(),
            port.to_string(),
            USER.into(),
            PASSWORD.into(),
            n.to_string(),
        ];
        median((0..self.reps).map(|_| run_peer(bin, &args)).collect())
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The table.

#[derive(Clone, Copy, PartialEq)]
enum Unit {
    /// operations per second from (seconds, count)
    PerSecond(&'static str, u64),
    /// MB/s of payload
    MegabytesPerSecond,
    /// plain seconds (lower is better)
    Seconds,
}

struct Row {
    workload: String,
    unit: Unit,
    ours: Figure,
    /// CPU seconds of our client / of the server during our run
    cpu: String,
    peers: Vec<(String, Figure)>,
}

fn value(unit: Unit, f: &Figure) -> Option<f64> {
    match (unit, f) {
        (Unit::PerSecond(_, n), Figure::Ran(s, _)) => Some(n as f64 / s),
        (Unit::MegabytesPerSecond, Figure::Ran(s, b)) => Some(*b as f64 / MB / s),
        (Unit::Seconds, Figure::Ran(s, _)) => Some(*s),
        _ => None,
    }
}

fn show(unit: Unit, f: &Figure) -> String {
    match (value(unit, f), f) {
        (Some(v), _) => match unit {
            Unit::PerSecond(what, _) => format!("{v:.1} {what}/s"),
            Unit::MegabytesPerSecond => format!("{v:.1} MB/s"),
            Unit::Seconds => format!("{v:.3} s"),
        },
        (None, Figure::Failed(e)) => format!("failed: {}", e.replace('|', "/")),
        (None, Figure::NotRun(e)) => format!("not run: {e}"),
        (None, Figure::Ran(..)) => "?".into(),
    }
}

fn ratio(unit: Unit, ours: &Figure, peer: &Figure) -> String {
    match (value(unit, ours), value(unit, peer)) {
        (Some(o), Some(p)) if o > 0.0 && p > 0.0 => {
            let r = if unit == Unit::Seconds { p / o } else { o / p };
            format!("{r:.2}×")
        }
        _ => "–".into(),
    }
}

fn table(rows: &[Row]) -> String {
    let mut t = String::from(
        "| workload | ours | ours CPU s (client / server) | peer | peer figure | ours vs peer |\n\
         |---|---|---|---|---|---|\n",
    );
    for row in rows {
        let ours = show(row.unit, &row.ours);
        if row.peers.is_empty() {
            t.push_str(&format!(
                "| {} | {ours} | {} | – | – | – |\n",
                row.workload, row.cpu
            ));
        }
        for (i, (name, fig)) in row.peers.iter().enumerate() {
            let (w, o, c) = if i == 0 {
                (row.workload.as_str(), ours.as_str(), row.cpu.as_str())
            } else {
                ("", "", "")
            };
            t.push_str(&format!(
                "| {w} | {o} | {c} | {name} | {} | {} |\n",
                show(row.unit, fig),
                ratio(row.unit, &row.ours, fig)
            ));
        }
    }
    t
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ran<T>(r: Res<T>, f: impl FnOnce(T) -> Figure) -> Figure {
    match r {
        Ok(v) => f(v),
        Err(e) => Figure::Failed(e.to_string()),
    }
}

async fn orchestrate() -> Res<()> {
    let root = repo_root();
    let tiny = env_u64("PSRM_BENCH_TINY", 500);
    let bulk_kib = env_u64("PSRM_BENCH_BULK_MB", 10) * 1_000_000 / 1024;
    let winrs = env_u64("PSRM_BENCH_WINRS", 200);
    let churn = env_u64("PSRM_BENCH_CHURN", 200);
    let reconnect_kib = env_u64("PSRM_BENCH_RECONNECT_MB", 10) * 1_000_000 / 1024;
    let hosts = env_u64("PSRM_BENCH_HOSTS", 100) as usize;
    let idle: Vec<usize> = std::env::var("PSRM_BENCH_IDLE")
        .unwrap_or_else(|_| "1000".into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let settle = Duration::from_millis(env_u64("PSRM_BENCH_SETTLE_MS", 1500));
    let reps = env_u64("PSRM_BENCH_REPEAT", 3) as u32;
    let only = std::env::var("PSRM_BENCH_ONLY").unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || only.split(',').any(|w| w.trim() == name);
    let python = std::env::var_os("PSRM_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".venv/bin/python"));
    let rust = std::env::var_os("PSRM_BENCH_RUST_PEERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("bench/rust-peers/target/release/psrm-bench-rust-peers"));
    let peers = Peers {
        python: python.exists().then_some(python),
        rust: rust.exists().then_some(rust),
        reps,
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!("e2e: load average at start: {}", load.trim());

    let server = Server::spawn(1)?;
    let port = server.port();
    let mut rows = Vec::new();
    let bulk_bytes = bulk_kib * 1024;

    if wanted("tiny") {
        eprintln!("e2e: tiny commands");
        let (ours, cpu) = measure(&server, reps, || ours_tiny(port, tiny)).await;
        rows.push(Row {
            workload: format!("tiny commands: `Write-Output 1` ×{tiny}, one session"),
            unit: Unit::PerSecond("cmd", tiny),
            ours: ran(ours, |(s, b)| Figure::Ran(s, b)),
            cpu,
            peers: vec![
                (
                    "pypsrp".into(),
                    peers.python("pypsrp_peer.py", "tiny", port, tiny),
                ),
                ("psrp-rs".into(), peers.rust("tiny", port, tiny)),
            ],
        });
    }

    if wanted("bulk") {
        eprintln!("e2e: bulk output");
        let (ours, cpu) = measure(&server, reps, || {
            ours_bulk(port, bulk_kib, Some(SMALL_ENVELOPE))
        })
        .await;
        rows.push(Row {
            workload: format!(
                "bulk output, 150 KiB envelopes (the WS-Man default, raise off): {:.1} MB",
                bulk_bytes as f64 / MB
            ),
            unit: Unit::MegabytesPerSecond,
            ours: ran(ours, |(s, b)| Figure::Ran(s, b)),
            cpu,
            peers: vec![],
        });
        let (ours, cpu) = measure(&server, reps, || ours_bulk(port, bulk_kib, None)).await;
        rows.push(Row {
            workload: format!(
                "bulk output: one pipeline, {bulk_kib} strings of 1 KiB ({:.1} MB), our default: 500 KiB envelopes after the open, as pypsrp",
                bulk_bytes as f64 / MB
            ),
            unit: Unit::MegabytesPerSecond,
            ours: ran(ours, |(s, b)| Figure::Ran(s, b)),
            cpu,
            peers: vec![
                (
                    "pypsrp".into(),
                    peers.python("pypsrp_peer.py", "bulk", port, bulk_kib),
                ),
                ("psrp-rs".into(), peers.rust("bulk", port, bulk_kib)),
                (
                    "plain hyper GET, same bytes".into(),
                    ran(
                        measure(&server, reps, || hyper_loopback(server.hyper_port, bulk_bytes))
                            .await
                            .0,
                        |(s, b)| Figure::Ran(s, b),
                    ),
                ),
            ],
        });
    }

    if wanted("winrs") {
        eprintln!("e2e: winrs");
        let (ours, cpu) = measure(&server, reps, || ours_winrs_shell(port, winrs)).await;
        rows.push(Row {
            workload: format!("WinRS: `echo` ×{winrs}, one shell"),
            unit: Unit::PerSecond("cmd", winrs),
            ours: ran(ours, |(s, b)| Figure::Ran(s, b)),
            cpu,
            peers: vec![
                (
                    "pywinrm Protocol (one shell)".into(),
                    peers.python("pywinrm_peer.py", "winrs-shell", port, winrs),
                ),
                (
                    "winrm-rs Shell::run_command".into(),
                    peers.rust("winrs", port, winrs),
                ),
            ],
        });
        let (ours, cpu) = measure(&server, reps, || ours_winrs_per_command(port, winrs)).await;
        rows.push(Row {
            workload: format!("WinRS: `echo` ×{winrs}, a shell per command"),
            unit: Unit::PerSecond("cmd", winrs),
            ours: ran(ours, |(s, b)| Figure::Ran(s, b)),
            cpu,
            peers: vec![
                (
                    "pywinrm run_cmd".into(),
                    peers.python("pywinrm_peer.py", "winrs", port, winrs),
                ),
                (
                    "pypsrp Client.execute_cmd".into(),
                    peers.python("pypsrp_peer.py", "winrs", port, winrs),
                ),
            ],
        });
    }

    if wanted("churn") {
        eprintln!("e2e: session churn");
        let (ours, cpu) = measure(&server, reps, || ours_churn(port, churn)).await;
        rows.push(Row {
            workload: format!("session churn: create + close ×{churn}"),
            unit: Unit::PerSecond("session", churn),
            ours: ran(ours, |(s, b)| Figure::Ran(s, b)),
            cpu,
            peers: vec![
                (
                    "pypsrp".into(),
                    peers.python("pypsrp_peer.py", "churn", port, churn),
                ),
                ("psrp-rs".into(), peers.rust("churn", port, churn)),
            ],
        });
    }

    if wanted("reconnect") {
        eprintln!("e2e: disconnect / reconnect");
        let (ours, cpu) = measure(&server, reps, || {
            ours_reconnect(port, reconnect_kib, settle)
        })
        .await;
        rows.push(Row {
            workload: format!(
                "disconnect + reconnect + receive {:.1} MB buffered",
                (reconnect_kib * 1024) as f64 / MB
            ),
            unit: Unit::MegabytesPerSecond,
            ours: ran(ours, |(s, b)| Figure::Ran(s, b)),
            cpu,
            peers: vec![(
                "pypsrp (enumerate + connect)".into(),
                peers.python("pypsrp_peer.py", "reconnect", port, reconnect_kib),
            )],
        });
    }
    drop(server);

    if wanted("fanout") {
        eprintln!("e2e: fan-out to {hosts} hosts");
        let fan = Server::spawn(hosts)?;
        let (result, cpu) = measure(&fan, reps, || ours_fanout(&fan.ports)).await;
        let ours = ran(result, |(s, b)| Figure::Ran(s, b));
        drop(fan);
        rows.push(Row {
            workload: format!(
                "fan-out: new session + `Write-Output 1` + close on {hosts} emulated hosts, throttle {THROTTLE}"
            ),
            unit: Unit::Seconds,
            ours,
            cpu,
            peers: vec![],
        });
    }

    let mut memory = String::new();
    if wanted("memory") {
        for n in idle {
            eprintln!("e2e: {n} idle disconnected sessions");
            match ours_idle_memory(n).await {
                Ok((per, secs, total)) => memory.push_str(&format!(
                    "| {n} | {per:.1} KiB | {:.1} MiB | {secs:.1} s |\n",
                    total as f64 / 1024.0
                )),
                Err(e) => memory.push_str(&format!("| {n} | failed: {e} | | |\n")),
            }
        }
    }

    let mut report = table(&rows);
    if !memory.is_empty() {
        report.push_str(
            "\n| idle disconnected sessions | server RSS per session | server RSS total | time to create + disconnect (4 at a time) |\n|---|---|---|---|\n",
        );
        report.push_str(&memory);
    }
    report.push_str(&format!("\nload average at start: {}\n", load.trim()));
    println!("{report}");
    if let Some(out) = std::env::var_os("PSRM_BENCH_OUT") {
        std::fs::write(out, &report)?;
    }
    Ok(())
}
