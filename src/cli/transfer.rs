//! `psrm copy` / `psrm fetch`: a file to or from the host, through a temporary PowerShell
//! session (`Copy-Item -ToSession` / `-FromSession`; see `sessions::pssession::transfer`).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use sessions::pssession::transfer::{self, TransferOptions};
use sessions::pssession::{PsSession, SessionOptions};

use super::conn::{self, GlobalArgs};

/// `psrm copy`.
#[derive(Clone, Debug, Args)]
#[command(
    after_help = "The file travels in base64 chunks over a temporary PowerShell session \
and is checked with SHA-1 on the host; an existing remote file is replaced only once the whole \
file arrived intact. Prints the full remote path.\n\nExample: psrm -H srv copy ./app.zip \
'C:\\Temp\\app.zip'"
)]
pub struct CopyArgs {
    /// The local file to send.
    pub local: PathBuf,
    /// Where to write it on the host (a relative path starts from the session's directory).
    pub remote: String,
    /// Expand %NAME% environment variables in REMOTE on the host (e.g. %TEMP%\app.zip).
    #[arg(long)]
    pub expand_vars: bool,
}

/// `psrm fetch`.
#[derive(Clone, Debug, Args)]
#[command(
    after_help = "The file travels in base64 chunks over a temporary PowerShell session; \
LOCAL is written only once the bytes match the SHA-1 the host announced (a missing file, a \
directory or a mismatch leaves LOCAL untouched and exits 1).\n\nExample: psrm -H srv fetch \
'C:\\Windows\\Logs\\CBS\\CBS.log' ./CBS.log"
)]
pub struct FetchArgs {
    /// The file on the host.
    pub remote: String,
    /// Where to write it locally.
    pub local: PathBuf,
    /// Expand %NAME% environment variables in REMOTE on the host (e.g. %TEMP%\out.txt).
    #[arg(long)]
    pub expand_vars: bool,
}

/// Copies the file; prints the remote path.
pub async fn copy(g: &GlobalArgs, a: &CopyArgs) -> anyhow::Result<i32> {
    let mut session = open(g).await?;
    let options = TransferOptions::default().expand_vars(a.expand_vars);
    let result = transfer::copy_to(&mut session, &a.local, &a.remote, &options).await;
    let _ = session.remove().await;
    let out = result.with_context(|| format!("cannot copy {}", a.local.display()))?;
    for w in &out.warnings {
        eprintln!("WARNING: {w}");
    }
    if g.json {
        let doc = json!({
            "remote_path": out.remote_path,
            "bytes": out.bytes,
            "sha1": out.sha1,
            "warnings": out.warnings,
        });
        println!("{doc}");
    } else {
        println!("{}", out.remote_path);
    }
    Ok(0)
}

/// Fetches the file; prints the local path.
pub async fn fetch(g: &GlobalArgs, a: &FetchArgs) -> anyhow::Result<i32> {
    let mut session = open(g).await?;
    let options = TransferOptions::default().expand_vars(a.expand_vars);
    let result = transfer::fetch_from(&mut session, &a.remote, &a.local, &options).await;
    let _ = session.remove().await;
    let out = result.with_context(|| format!("cannot fetch {}", a.remote))?;
    for w in &out.warnings {
        eprintln!("WARNING: {w}");
    }
    if g.json {
        let doc = json!({
            "local_path": a.local.display().to_string(),
            "bytes": out.bytes,
            "sha1": out.sha1,
            "warnings": out.warnings,
        });
        println!("{doc}");
    } else {
        println!("{}", a.local.display());
    }
    Ok(0)
}

async fn open(g: &GlobalArgs) -> anyhow::Result<PsSession> {
    let store = g.store()?;
    let c = conn::connect(g, &store, None)?;
    let options = SessionOptions::default().configuration_name(g.configuration_name.clone());
    PsSession::new(&c.client, &c.host, options)
        .await
        .context("cannot create the session")
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    #[test]
    fn copy_and_fetch_parse() {
        let cli = Cli::try_parse_from([
            "psrm",
            "-H",
            "srv",
            "copy",
            "./a.zip",
            "%TEMP%\\a.zip",
            "--expand-vars",
        ])
        .unwrap();
        let Command::Copy(a) = cli.command else {
            panic!("{:?}", cli.command);
        };
        assert_eq!(a.local, std::path::PathBuf::from("./a.zip"));
        assert_eq!(a.remote, "%TEMP%\\a.zip");
        assert!(a.expand_vars);

        let cli = Cli::try_parse_from(["psrm", "fetch", "C:\\x.log", "x.log"]).unwrap();
        let Command::Fetch(a) = cli.command else {
            panic!("{:?}", cli.command);
        };
        assert_eq!(a.remote, "C:\\x.log");
        assert!(!a.expand_vars);
        assert!(Cli::try_parse_from(["psrm", "fetch", "C:\\x.log"]).is_err());
    }

    #[test]
    fn help_explains_the_transfer() {
        for verb in ["copy", "fetch"] {
            let Err(e) = Cli::try_parse_from(["psrm", verb, "--help"]) else {
                panic!("--help parses as an error");
            };
            let help = e.to_string();
            assert!(help.contains("SHA-1"), "{help}");
            assert!(help.contains("--expand-vars"), "{help}");
            assert!(help.contains("Example: psrm -H srv"), "{help}");
        }
    }
}
