//! `psrm`: manage PowerShell sessions and WinRS on Windows hosts (and the built-in emulator).

use clap::Parser;

/// psrm: WinRM / PowerShell Remoting from Linux, with a built-in server emulator.
#[derive(Debug, Parser)]
#[command(name = "psrm", version, about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    Ok(())
}
