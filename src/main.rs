//! `psrm`: manage PowerShell sessions and WinRS on Windows hosts (and the built-in emulator).

mod cli;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("psrm: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = match runtime.block_on(cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("psrm: {}", cli::one_line(&e));
            1
        }
    };
    // Background tasks (a Ctrl-C watcher, a stdin reader) must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    std::process::exit(code);
}
