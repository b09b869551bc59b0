//! The `psrm` command line (SPEC C2): clap definitions and dispatch.
//!
//! One module per family of verbs; to add a verb, add a variant to [`Command`] and an arm to
//! [`run`].

pub mod conn;
pub mod demo;
pub mod exec;
pub mod identify;
pub mod netsession;
pub mod print;
pub mod rds;
pub mod session;
pub mod state;
pub mod table;
pub mod transfer;

use clap::{Parser, Subcommand};

pub use self::conn::GlobalArgs;

/// psrm: WinRM / PowerShell Remoting from Linux, with a built-in server emulator.
#[derive(Debug, Parser)]
#[command(name = "psrm", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a script in a session (Invoke-Command).
    Invoke(session::InvokeArgs),
    /// Create a session (New-PSSession).
    New(session::NewArgs),
    /// List this client's sessions, or with -H the server's (Get-PSSession).
    Get(session::GetArgs),
    /// Disconnect a session (Disconnect-PSSession).
    Disconnect(session::DisconnectArgs),
    /// Connect to a disconnected session (Connect-PSSession).
    Connect(session::ConnectArgs),
    /// Receive the output of a disconnected session (Receive-PSSession).
    Receive(session::ReceiveArgs),
    /// Remove a session (Remove-PSSession).
    Remove(session::RemoveArgs),
    /// Interactive prompt on a session (Enter-PSSession).
    Enter(session::EnterArgs),
    /// Run a command in a WinRS cmd shell; exits with its exit code.
    Exec(exec::ExecArgs),
    /// Copy a local file to the host (Copy-Item -ToSession), SHA-1 checked.
    Copy(transfer::CopyArgs),
    /// Fetch a file from the host (Copy-Item -FromSession), SHA-1 checked.
    Fetch(transfer::FetchArgs),
    /// Remote Desktop sessions: query, reset, logoff, msg (one or many hosts).
    Rds(rds::RdsArgs),
    /// SMB sessions to the host: list, info, delete (one or many hosts).
    Netsession(netsession::NetSessionArgs),
    /// Ask the host's WinRM service what it runs (Test-WSMan): protocol version, vendor,
    /// product version, security profiles. Without a user (or with --unauthenticated) sent
    /// without credentials, as Test-WSMan's default; with -u (or --auth certificate) as
    /// Test-WSMan -Authentication.
    TestWsman(identify::TestWsManArgs),
    /// Run the WinRM service emulator until Ctrl-C.
    Emulator(emulator::cli::EmulatorArgs),
    /// Start an in-process emulator and walk the disconnected-session scenarios.
    Demo(demo::DemoArgs),
}

/// Runs the parsed command line; returns the exit status.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    let g = &cli.global;
    match &cli.command {
        Command::Invoke(a) => session::invoke(g, a).await,
        Command::New(a) => session::new(g, a).await,
        Command::Get(a) => session::get(g, a).await,
        Command::Disconnect(a) => session::disconnect(g, a).await,
        Command::Connect(a) => session::connect(g, a).await,
        Command::Receive(a) => session::receive(g, a).await,
        Command::Remove(a) => session::remove(g, a).await,
        Command::Enter(a) => session::enter(g, a).await,
        Command::Exec(a) => exec::exec(g, a).await,
        Command::Copy(a) => transfer::copy(g, a).await,
        Command::Fetch(a) => transfer::fetch(g, a).await,
        Command::Rds(a) => rds::run(g, a).await,
        Command::Netsession(a) => netsession::run(g, a).await,
        Command::TestWsman(a) => identify::test_wsman(g, a).await,
        Command::Emulator(a) => run_emulator(a).await,
        Command::Demo(a) => demo::demo(a).await,
    }
}

async fn run_emulator(args: &emulator::cli::EmulatorArgs) -> anyhow::Result<i32> {
    let shutdown = async {
        // If the handler cannot be installed, run until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let mut config = match &args.config {
        Some(path) => emulator::Config::from_file(path)?,
        None => emulator::Config::from_toml("")?,
    };
    for path in &args.scenario {
        let scenario = emulator::engine::Scenario::load(path)
            .map_err(|e| anyhow::anyhow!("scenario {}: {e}", path.display()))?;
        config.scenarios.0.push(std::sync::Arc::new(scenario));
    }
    let service = emulator::service::WsManService::with_powershell(
        config,
        emulator::powershell::PowerShellShells::new(),
    );
    emulator::cli::run(args, service, std::io::stdout(), shutdown).await?;
    Ok(0)
}

/// One line naming the cause, for any failure.
pub fn one_line(e: &anyhow::Error) -> String {
    // Library errors print their source in their own message: skip causes already said.
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    let text = parts.join(": ");
    let mut line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(se) = e.chain().find_map(|c| c.downcast_ref::<sessions::Error>())
        && se.is_auth()
    {
        let certificate = e.chain().any(|c| {
            matches!(
                c.downcast_ref::<sessions::TransportError>(),
                Some(sessions::TransportError::CertificateRefused { .. })
            )
        });
        line.push_str(if certificate {
            " (authentication failed: check --cert, --cert-key and the server's certificate mapping)"
        } else {
            " (authentication failed: check -u, PSRM_PASSWORD and --auth)"
        });
    }
    line
}

#[cfg(test)]
mod tests {
    use super::one_line;
    use sessions::TransportError;

    #[test]
    fn a_refused_certificate_points_at_the_certificate_not_the_password() {
        let e = anyhow::Error::new(sessions::Error::from(TransportError::CertificateRefused {
            status: 401,
        }));
        let line = one_line(&e);
        assert!(line.contains("client certificate"), "{line}");
        assert!(line.contains("--cert"), "{line}");
        assert!(!line.contains("PSRM_PASSWORD"), "{line}");

        let e = anyhow::Error::new(sessions::Error::from(TransportError::AuthFailed {
            user: "alice".into(),
            method: "basic",
        }));
        assert!(one_line(&e).contains("PSRM_PASSWORD"), "{}", one_line(&e));
    }
}
