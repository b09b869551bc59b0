//! `psrm`: manage PowerShell sessions and WinRS on Windows hosts (and the built-in emulator).

use clap::{Parser, Subcommand};

/// psrm: WinRM / PowerShell Remoting from Linux, with a built-in server emulator.
#[derive(Debug, Parser)]
#[command(name = "psrm", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the WinRM service emulator until Ctrl-C.
    Emulator(emulator::cli::EmulatorArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Emulator(args) => {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                let shutdown = async {
                    // If the handler cannot be installed, run until killed.
                    if tokio::signal::ctrl_c().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                };
                let config = match &args.config {
                    Some(path) => emulator::Config::from_file(path)?,
                    None => emulator::Config::from_toml("")?,
                };
                let service = emulator::service::WsManService::new(config);
                emulator::cli::run(&args, service, std::io::stdout(), shutdown).await?;
                anyhow::Ok(())
            })?;
        }
    }
    Ok(())
}
