//! Replays of the WinRS scenarios recorded for pywinrm's PSRP pull request (`fixtures/
//! pywinrm-captures`): MaxEnvelopeSize negotiation (and its failure), cmd commands with output,
//! stderr and exit codes, a `w:TimedOut` re-poll, and a reply whose RelatesTo does not match.
//!
//! That client sent `WINRS_CODEPAGE=437`, `WINRS_NOPROFILE=FALSE`, `WINRS_CONSOLEMODE_STDIN=TRUE`,
//! no Receive keep-alive, and ended commands with `terminate` (our default); the drivers ask for
//! the same options so the requests match.

use sessions::winrs::{CommandOptions, Output, Shell, ShellOptions};
use sessions::{ClientOptions, WsManClient};
use tests::replay::Replay;

fn shell_options() -> ShellOptions {
    ShellOptions::default().codepage(437).no_profile(false)
}

fn command_options() -> CommandOptions {
    CommandOptions::default().console_mode_stdin(true)
}

fn options() -> ClientOptions {
    ClientOptions::default().keep_alive(false)
}

async fn run(c: &WsManClient, command: &str, args: &[&str]) -> Result<Output, String> {
    let shell = Shell::open(c, shell_options())
        .await
        .map_err(|e| format!("open: {e}"))?;
    let out = shell
        .start(command, args, command_options())
        .await
        .map_err(|e| format!("start: {e}"))?
        .wait()
        .await
        .map_err(|e| format!("wait: {e}"))?;
    shell.close().await.map_err(|e| format!("close: {e}"))?;
    Ok(out)
}

async fn negotiate(c: &WsManClient) -> Result<(), String> {
    let size = c
        .negotiate_max_envelope_size()
        .await
        .map_err(|e| format!("negotiate: {e}"))?;
    if size == 512_000 {
        Ok(())
    } else {
        Err(format!("negotiated {size}"))
    }
}

#[tokio::test]
async fn test_run_cmd() {
    Replay::pywinrm("test_run_cmd")
        .options(options())
        .run(|c| async move {
            negotiate(&c).await?;
            let out = run(&c, "ipconfig", &["/all"]).await?;
            let text = out.stdout_text();
            if !text.contains("Windows IP Configuration") || out.exit_code != Some(0) {
                return Err(format!("{out:?}"));
            }
            Ok(())
        })
        .await
        .assert_passed();
}

#[tokio::test]
async fn test_run_cmd_fail() {
    Replay::pywinrm("test_run_cmd_fail")
        .options(options())
        .run(|c| async move {
            negotiate(&c).await?;
            let out = run(&c, "fake command", &[]).await?;
            if !out.stderr_text().contains("'fake' is not recognized") || out.exit_code != Some(1) {
                return Err(format!("{out:?}"));
            }
            Ok(())
        })
        .await
        .assert_passed();
}

#[tokio::test]
async fn test_run_cmd_get_config_fail() {
    Replay::pywinrm("test_run_cmd_get_config_fail")
        .options(options())
        .run(|c| async move {
            // The config Get faults: keep the default size and carry on.
            let e = c
                .negotiate_max_envelope_size()
                .await
                .err()
                .ok_or("expected a fault")?;
            if e.fault_subcode() != Some("InvalidMessageInformationHeader") {
                return Err(format!("{e}"));
            }
            if c.max_envelope_size() != 153_600 {
                return Err(format!("size changed to {}", c.max_envelope_size()));
            }
            let out = run(&c, "ipconfig", &["/all"]).await?;
            if !out.stdout_text().contains("Host Name") {
                return Err(format!("{out:?}"));
            }
            Ok(())
        })
        .await
        .assert_passed();
}

#[tokio::test]
async fn test_run_cmd_timeout_error() {
    Replay::pywinrm("test_run_cmd_timeout_error")
        .options(options())
        .run(|c| async move {
            negotiate(&c).await?;
            let out = run(
                &c,
                "PowerShell -Command Start-Sleep -s 30; Write-Host Test",
                &[],
            )
            .await?;
            if out.stdout != b"Test\n" || out.exit_code != Some(0) {
                return Err(format!("{out:?}"));
            }
            Ok(())
        })
        .await
        .assert_passed();
}

#[tokio::test]
async fn test_run_ps_in_cmd() {
    Replay::pywinrm("test_run_ps_in_cmd")
        .options(options())
        .run(|c| async move {
            negotiate(&c).await?;
            let out = run(&c, "powershell.exe", &["Write-Host", "testing"]).await?;
            if out.stdout != b"testing\n" {
                return Err(format!("{out:?}"));
            }
            Ok(())
        })
        .await
        .assert_passed();
}

#[tokio::test]
async fn test_run_ps_in_cmd_fail() {
    Replay::pywinrm("test_run_ps_in_cmd_fail")
        .options(options())
        .run(|c| async move {
            negotiate(&c).await?;
            let out = run(&c, "powershell.exe", &["Write-Error", "testing"]).await?;
            if !out.stderr_text().contains("Write-Error testing : testing")
                || out.exit_code != Some(1)
            {
                return Err(format!("{out:?}"));
            }
            Ok(())
        })
        .await
        .assert_passed();
}

#[tokio::test]
async fn test_wsmv_mismatch_message_id() {
    Replay::pywinrm("test_wsmv_mismatch_message_id")
        .options(options())
        .run(|c| async move {
            negotiate(&c).await?;
            // The Create reply relates to another message: refused as a protocol error.
            let e = Shell::open(&c, shell_options())
                .await
                .err()
                .ok_or("a mismatched RelatesTo was accepted")?;
            if !e.is_protocol() || !e.to_string().contains("relates to") {
                return Err(format!("{e}"));
            }
            Ok(())
        })
        .await
        .assert_passed();
}
