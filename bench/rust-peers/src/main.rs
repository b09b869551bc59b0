//! Peer program for the psrm end-to-end benchmark: the published Rust clients winrm-rs 2.x and
//! psrp-rs 4.x, driven through their public API against the psrm emulator.
//!
//! Usage: rust-peers <workload> <port> <user> <password> <n>
//! Workloads: tiny (psrp-rs, `Write-Output 1` n times in one pool), bulk (psrp-rs, n KiB of
//! 1 KiB strings from one pipeline), churn (psrp-rs, open + close n pools), winrs (winrm-rs,
//! n `echo` commands in one shell).
//! Prints one JSON line: {"peer":..,"workload":..,"n":..,"seconds":..,"bytes":..} or
//! {"peer":..,"workload":..,"error":".."}.
//!
//! psrp-rs's `RunspacePool::close` first sends its own `CloseRunspacePool` message (type
//! 0x0002_100E, not in MS-PSRP, which closes a pool with the WS-Man Delete alone), then deletes
//! the shell, and returns the error of that first send. The psrm emulator refuses the unknown
//! message with `w:InternalError`; the shell is deleted all the same. So a close error is not
//! fatal here: the figure is kept and the JSON line gains `"close_errors"` (how many) and
//! `"close_error"` (the first), so the table can say so.

use std::time::Instant;

use psrp_rs::{
    AuthMethod, EncryptionMode, PsValue, RunspacePool, WinrmClient, WinrmConfig, WinrmCredentials,
    WinrmPsrpTransport,
};

fn client(port: u16, user: &str, password: &str) -> Result<WinrmClient, String> {
    let config = WinrmConfig {
        auth_method: AuthMethod::Basic,
        encryption: EncryptionMode::Never,
        port: Some(port),
        max_output_bytes: None,
        ..WinrmConfig::http()
    };
    WinrmClient::new(config, WinrmCredentials::new(user, password, "")).map_err(|e| e.to_string())
}

async fn open_pool(c: &WinrmClient) -> Result<RunspacePool<WinrmPsrpTransport<'_>>, String> {
    let (rpid, creation) = RunspacePool::<WinrmPsrpTransport<'_>>::build_creation_fragments(1, 1)
        .map_err(|e| e.to_string())?;
    let transport = WinrmPsrpTransport::open(c, "127.0.0.1", &creation)
        .await
        .map_err(|e| e.to_string())?;
    RunspacePool::open_from_transport(transport, rpid, 1, 1)
        .await
        .map_err(|e| e.to_string())
}

/// Close errors seen: how many, and the first one's text.
#[derive(Default)]
struct CloseErrors {
    count: u64,
    first: Option<String>,
}

impl CloseErrors {
    async fn close(&mut self, pool: RunspacePool<WinrmPsrpTransport<'_>>) {
        if let Err(e) = pool.close().await {
            self.count += 1;
            self.first.get_or_insert_with(|| e.to_string());
        }
    }
}

async fn run(
    workload: &str,
    port: u16,
    user: &str,
    pw: &str,
    n: u64,
    closes: &mut CloseErrors,
) -> Result<(f64, u64), String> {
    let c = client(port, user, pw)?;
    match workload {
        "tiny" => {
            let mut pool = open_pool(&c).await?;
            let t = Instant::now();
            for _ in 0..n {
                let out = pool
                    .run_script("Write-Output 1")
                    .await
                    .map_err(|e| e.to_string())?;
                if out.len() != 1 {
                    return Err(format!("expected one object, got {}", out.len()));
                }
            }
            let s = t.elapsed().as_secs_f64();
            closes.close(pool).await;
            Ok((s, 0))
        }
        "bulk" => {
            let mut pool = open_pool(&c).await?;
            let script = format!("$s = 'x' * 1024; 1..{n} | ForEach-Object {{ $s }}");
            let t = Instant::now();
            let out = pool.run_script(&script).await.map_err(|e| e.to_string())?;
            let s = t.elapsed().as_secs_f64();
            let bytes: u64 = out
                .iter()
                .map(|v| match v {
                    PsValue::String(s) => s.len() as u64,
                    _ => 0,
                })
                .sum();
            closes.close(pool).await;
            Ok((s, bytes))
        }
        "churn" => {
            let t = Instant::now();
            for _ in 0..n {
                let pool = open_pool(&c).await?;
                closes.close(pool).await;
            }
            Ok((t.elapsed().as_secs_f64(), 0))
        }
        "winrs" => {
            let shell = c.open_shell("127.0.0.1").await.map_err(|e| e.to_string())?;
            let t = Instant::now();
            for _ in 0..n {
                let out = shell
                    .run_command("echo", &["hello"])
                    .await
                    .map_err(|e| e.to_string())?;
                if !String::from_utf8_lossy(&out.stdout).contains("hello") {
                    return Err("echo output missing".into());
                }
            }
            let s = t.elapsed().as_secs_f64();
            shell.close().await.map_err(|e| e.to_string())?;
            Ok((s, 0))
        }
        other => Err(format!("unknown workload {other}")),
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 6 {
        eprintln!("usage: rust-peers <tiny|bulk|churn|winrs> <port> <user> <password> <n>");
        std::process::exit(2);
    }
    let workload = args[1].as_str();
    let peer = if workload == "winrs" {
        "winrm-rs"
    } else {
        "psrp-rs"
    };
    let (Ok(port), Ok(n)) = (args[2].parse::<u16>(), args[5].parse::<u64>()) else {
        eprintln!("port and n must be numbers");
        std::process::exit(2);
    };
    let mut closes = CloseErrors::default();
    match run(workload, port, &args[3], &args[4], n, &mut closes).await {
        Ok((seconds, bytes)) => {
            let close = match &closes.first {
                Some(e) => format!(
                    ",\"close_errors\":{},\"close_error\":\"{}\"",
                    closes.count,
                    escape(e)
                ),
                None => String::new(),
            };
            println!(
                "{{\"peer\":\"{peer}\",\"workload\":\"{workload}\",\"n\":{n},\"seconds\":{seconds},\"bytes\":{bytes}{close}}}"
            );
        }
        Err(e) => {
            let e = escape(&e);
            println!("{{\"peer\":\"{peer}\",\"workload\":\"{workload}\",\"error\":\"{e}\"}}");
        }
    }
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', " ")
}
