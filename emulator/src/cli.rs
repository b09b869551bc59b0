//! `psrm emulator`: the command-line front of [`crate::Emulator`].

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::task::Poll;

use crate::config::Config;
use crate::http::{Emulator, SoapService};
use crate::tls::TlsSource;

/// Arguments of `psrm emulator`.
#[derive(Clone, Debug, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    #[arg(long, default_value = "127.0.0.1:5985")]
    pub listen: SocketAddr,
    /// TOML configuration file (SPEC C1); defaults apply without one.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key of --tls-cert (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a generated self-signed certificate.
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    pub tls_self_signed: bool,
    /// Scenario file (TOML, see emulator/SCENARIOS.md) with scripted answers for commands;
    /// repeat the option to load several (earlier files win).
    #[arg(long, value_name = "FILE")]
    pub scenario: Vec<PathBuf>,
}

/// A failure of `psrm emulator` (one line for the user).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The configuration file is wrong.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The server could not start.
    #[error(transparent)]
    Start(#[from] crate::http::StartError),
    /// Writing the ready line failed.
    #[error("cannot write to stdout: {0}")]
    Output(std::io::Error),
}

/// Runs the emulator until `shutdown` completes: prints exactly one line
/// `listening on http(s)://ADDR/wsman` to `out` once bound, then shuts down gracefully.
///
/// # Errors
///
/// [`CliError`] when the configuration is invalid or the address cannot be bound.
pub async fn run<S: SoapService>(
    args: &EmulatorArgs,
    service: S,
    mut out: impl Write,
    shutdown: impl Future<Output = ()>,
) -> Result<(), CliError> {
    let config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => Config::from_toml("")?,
    };
    let mut builder = Emulator::builder(config).listen(args.listen);
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        builder = builder.tls(TlsSource::Pem {
            cert: cert.clone(),
            key: key.clone(),
        });
    } else if args.tls_self_signed {
        builder = builder.tls(TlsSource::SelfSigned {
            extra_names: Vec::new(),
        });
    }
    let emulator = builder.start(service).await?;
    // Poll the shutdown future once before announcing readiness: a signal handler it installs
    // lazily (tokio's `ctrl_c()`) is then in place when a supervisor reacts to the line.
    let mut shutdown = std::pin::pin!(shutdown);
    let already =
        std::future::poll_fn(|cx| Poll::Ready(shutdown.as_mut().poll(cx).is_ready())).await;
    writeln!(out, "listening on {}", emulator.url()).map_err(CliError::Output)?;
    out.flush().map_err(CliError::Output)?;
    if !already {
        shutdown.await;
    }
    emulator.shutdown().await;
    Ok(())
}
