//! `psrm exec`: a WinRS command with stdin streaming, its exit code as ours, Ctrl-C as a
//! Signal.

use std::io::{IsTerminal, Read, Write};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use sessions::winrs::{CommandOptions, OutputEvent, Shell, ShellOptions};

use super::conn::{self, GlobalArgs};

/// `psrm exec`.
#[derive(Clone, Debug, Args)]
pub struct ExecArgs {
    /// The command (run through cmd.exe /c unless --skip-cmd-shell).
    pub command: String,
    /// Its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
    /// Run the executable directly (WINRS_SKIP_CMD_SHELL).
    #[arg(long)]
    pub skip_cmd_shell: bool,
    /// Do not forward stdin (default: forwarded when it is not a terminal).
    #[arg(long)]
    pub no_stdin: bool,
}

/// Runs the command; returns its exit code.
pub async fn exec(g: &GlobalArgs, a: &ExecArgs) -> anyhow::Result<i32> {
    let store = g.store()?;
    let c = conn::connect(g, &store, None)?;
    let shell = Shell::open(&c.client, ShellOptions::default())
        .await
        .context("cannot open a remote shell")?;
    let args: Vec<&str> = a.args.iter().map(String::as_str).collect();
    let process = shell
        .start(
            &a.command,
            &args,
            CommandOptions::default().skip_cmd_shell(a.skip_cmd_shell),
        )
        .await
        .context("cannot start the command")?;
    let process = Arc::new(process);
    let forward = !a.no_stdin && !std::io::stdin().is_terminal();
    let input_task = forward.then(|| {
        let p = Arc::clone(&process);
        tokio::spawn(async move {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
            std::thread::spawn(move || {
                let mut stdin = std::io::stdin();
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match stdin.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if tx
                                .blocking_send(buf.get(..n).unwrap_or_default().to_vec())
                                .is_err()
                            {
                                break;
                            }
                        }
                    }
                }
            });
            while let Some(chunk) = rx.recv().await {
                if p.send_input(&chunk, false).await.is_err() {
                    return;
                }
            }
            let _ = p.send_input(&[], true).await;
        })
    });
    let p = Arc::clone(&process);
    let ctrl_c = tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("^C: sending Ctrl-C to the remote command");
            if let Err(e) = p.ctrl_c().await {
                eprintln!("psrm: cannot signal the command: {e}");
            }
        }
    });
    let mut code = None;
    let result: anyhow::Result<()> = async {
        loop {
            let events = process.receive().await.context("receiving output failed")?;
            for e in events {
                match e {
                    OutputEvent::Stdout(b) | OutputEvent::Other(_, b) => {
                        let mut out = std::io::stdout().lock();
                        out.write_all(&b)?;
                        out.flush()?;
                    }
                    OutputEvent::Stderr(b) => {
                        let mut err = std::io::stderr().lock();
                        err.write_all(&b)?;
                        err.flush()?;
                    }
                    OutputEvent::Exit(c) => code = Some(c),
                    _ => {}
                }
            }
            if code.is_some() || process.is_done() {
                return Ok(());
            }
        }
    }
    .await;
    ctrl_c.abort();
    if let Some(t) = input_task {
        t.abort();
    }
    let _ = process.terminate().await;
    let _ = shell.close().await;
    result?;
    let code = code.flatten().unwrap_or(0);
    Ok(i32::try_from(code).unwrap_or(1))
}
