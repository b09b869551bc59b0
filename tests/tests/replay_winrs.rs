//! Replays of pypsrp's recorded WinRS scenarios (`test_winrs_*`, `test_client_execute_cmd*`):
//! the Windows side comes from the recording, the client side is ours (`sessions::winrs`), and
//! every request we send is compared with the one pypsrp sent (see `tests::replay`).
//!
//! pypsrp ends each command with a `ctrl_c` Signal where our default is `terminate`; the drivers
//! ask for `ctrl_c` so the recorded exchange matches.

use std::time::Duration;

use sessions::winrs::{CommandOptions, Output, Shell, ShellOptions};
use sessions::{ClientOptions, Error, WsManClient};
use tests::replay::replay;
use wsman::shell::{Receive, SignalCode};
use wsman::{CommandId, ns};

fn pypsrp_cmd() -> CommandOptions {
    CommandOptions::default().cleanup_signal(SignalCode::CtrlC)
}

fn err(step: &str) -> impl Fn(Error) -> String + '_ {
    move |e| format!("{step}: {e}")
}

fn check(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(what()) }
}

async fn run(
    client: &WsManClient,
    options: ShellOptions,
    command: &str,
    args: &[&str],
    cmd: CommandOptions,
) -> Result<Output, String> {
    let shell = Shell::open(client, options).await.map_err(err("open"))?;
    let out = shell
        .start(command, args, cmd)
        .await
        .map_err(err("start"))?
        .wait()
        .await
        .map_err(err("wait"))?;
    shell.close().await.map_err(err("close"))?;
    Ok(out)
}

#[tokio::test]
async fn test_winrs_standard() {
    replay(
        "test_winrs_standard",
        ClientOptions::default(),
        |c| async move {
            let out = run(
                &c,
                ShellOptions::default(),
                "cmd.exe",
                &["/c", "echo", "hi"],
                pypsrp_cmd(),
            )
            .await?;
            check(out.stdout == b"hi\r\n", || {
                format!("stdout {:?}", out.stdout_text())
            })?;
            check(out.stderr.is_empty() && out.exit_code == Some(0), || {
                format!("{out:?}")
            })
        },
    )
    .await
    .assert_passed();
}

#[tokio::test]
async fn test_winrs_stderr_rc() {
    replay(
        "test_winrs_stderr_rc",
        ClientOptions::default(),
        |c| async move {
            let out = run(
                &c,
                ShellOptions::default(),
                "cmd.exe",
                &["/c echo out && echo err>&2 && exit 1"],
                pypsrp_cmd(),
            )
            .await?;
            check(out.stdout == b"out \r\n", || {
                format!("stdout {:?}", out.stdout_text())
            })?;
            check(out.stderr == b"err \r\n", || {
                format!("stderr {:?}", out.stderr_text())
            })?;
            check(out.exit_code == Some(1), || {
                format!("exit {:?}", out.exit_code)
            })
        },
    )
    .await
    .assert_passed();
}

#[tokio::test]
async fn test_winrs_environment() {
    replay(
        "test_winrs_environment",
        ClientOptions::default(),
        |c| async move {
            let special = r#"_-(){}[]<>*+-/\?"!@#$^&|;:i,.`~0"#;
            let options = ShellOptions::default()
                .env("env1", "var1")
                .env("1234", "5678")
                .env(special, special);
            let out = run(&c, options, "cmd.exe", &["/c", "set"], pypsrp_cmd()).await?;
            let text = out.stdout_text();
            check(text.contains("1234=5678\r\n"), || text.clone())?;
            check(text.contains(&format!("{special}={special}\r\n")), || {
                text.clone()
            })?;
            check(out.exit_code == Some(0), || {
                format!("exit {:?}", out.exit_code)
            })
        },
    )
    .await
    .assert_passed();
}

#[tokio::test]
async fn test_winrs_extra_opts() {
    replay(
        "test_winrs_extra_opts",
        ClientOptions::default(),
        |c| async move {
            let options = ShellOptions::default()
                .idle_timeout(Duration::from_secs(60))
                .lifetime(Duration::from_secs(60))
                .name("shell 1")
                .working_directory(r"C:\Windows");
            let shell = Shell::open(&c, options).await.map_err(err("open"))?;
            let info = shell.info().ok_or("no rsp:Shell in the CreateResponse")?;
            check(
                info.working_directory.as_deref() == Some(r"C:\Windows"),
                || format!("{info:?}"),
            )?;
            let out = shell
                .start("powershell.exe", &["(pwd).Path"], pypsrp_cmd())
                .await
                .map_err(err("start"))?
                .wait()
                .await
                .map_err(err("wait"))?;
            shell.close().await.map_err(err("close"))?;
            check(out.stdout == b"C:\\Windows\r\n", || out.stdout_text())
        },
    )
    .await
    .assert_passed();
}

#[tokio::test]
async fn test_winrs_noprofile() {
    replay(
        "test_winrs_noprofile",
        ClientOptions::default(),
        |c| async move {
            let out = run(
                &c,
                ShellOptions::default().no_profile(true),
                "cmd.exe",
                &["/c", "set"],
                pypsrp_cmd(),
            )
            .await?;
            let text = out.stdout_text();
            check(text.contains("COMPUTERNAME=SERVER2016"), || text.clone())?;
            check(out.exit_code == Some(0), || {
                format!("exit {:?}", out.exit_code)
            })
        },
    )
    .await
    .assert_passed();
}

#[tokio::test]
async fn test_winrs_unicode() {
    replay(
        "test_winrs_unicode",
        ClientOptions::default(),
        |c| async move {
            let out = run(
                &c,
                ShellOptions::default().codepage(65001),
                "powershell.exe",
                &["Write-Host こんにちは"],
                pypsrp_cmd(),
            )
            .await?;
            check(out.stdout_text() == "こんにちは\n", || {
                out.stdout_text()
            })
        },
    )
    .await
    .assert_passed();
}

#[tokio::test]
async fn test_winrs_send() {
    replay(
        "test_winrs_send",
        ClientOptions::default(),
        |c| async move {
            let shell = Shell::open(&c, ShellOptions::default())
                .await
                .map_err(err("open"))?;
            let p = shell
                .start("powershell.exe", &["-"], pypsrp_cmd())
                .await
                .map_err(err("start"))?;
            p.send_input(b"Write-Host \"output 1\";", false)
                .await
                .map_err(err("send 1"))?;
            p.send_input(b"Write-Host \"output 2\";", true)
                .await
                .map_err(err("send 2"))?;
            let out = p.wait().await.map_err(err("wait"))?;
            shell.close().await.map_err(err("close"))?;
            check(out.stdout == b"output 1\noutput 2\n", || out.stdout_text())
        },
    )
    .await
    .assert_passed();
}

#[tokio::test]
async fn test_winrs_operation_timeout() {
    // The server answers w:TimedOut twice while the command sleeps: the client polls again.
    let options = ClientOptions::default().operation_timeout(Duration::from_secs(10));
    replay("test_winrs_operation_timeout", options, |c| async move {
        let out = run(
            &c,
            ShellOptions::default(),
            "powershell.exe",
            &["Write-Host hi; Start-Sleep 30; Write-Host hi again"],
            pypsrp_cmd(),
        )
        .await?;
        check(out.stdout == b"hi\nhi again\n", || out.stdout_text())?;
        check(out.exit_code == Some(0), || {
            format!("exit {:?}", out.exit_code)
        })
    })
    .await
    .assert_passed();
}

#[tokio::test]
async fn test_winrs_no_cmd_shell() {
    replay(
        "test_winrs_no_cmd_shell",
        ClientOptions::default(),
        |c| async move {
            let shell = Shell::open(&c, ShellOptions::default())
                .await
                .map_err(err("open"))?;
            let direct = pypsrp_cmd().skip_cmd_shell(true);
            // Without cmd.exe, a bare name is not searched on PATH: the server faults.
            let e = shell
                .start("powershell.exe", &["Write-Host", "hi"], direct.clone())
                .await
                .err()
                .ok_or("expected a fault for a bare executable name")?;
            check(e.fault_subcode() == Some("InternalError"), || {
                format!("{e}")
            })?;
            check(e.fault_code().map(|c| c.0) == Some(2_147_942_402), || {
                format!("{e}")
            })?;
            let out = shell
                .start(
                    r"C:\Windows\system32\WindowsPowerShell\v1.0\powershell.exe",
                    &["Write-Host", "hi"],
                    direct,
                )
                .await
                .map_err(err("start"))?
                .wait()
                .await
                .map_err(err("wait"))?;
            shell.close().await.map_err(err("close"))?;
            check(out.stdout == b"hi\n", || out.stdout_text())
        },
    )
    .await
    .assert_passed();
}

#[tokio::test]
async fn test_winrs_bad_cmd_id() {
    replay(
        "test_winrs_bad_cmd_id",
        ClientOptions::default(),
        |c| async move {
            let shell = Shell::open(&c, ShellOptions::default())
                .await
                .map_err(err("open"))?;
            let p = shell
                .start("cmd.exe", &["/c", "echo", "hi"], pypsrp_cmd())
                .await
                .map_err(err("start"))?;
            // Receive for a command id the server does not know: a typed fault.
            let bogus = CommandId::new("87E77BEB-6761-4C48-9D70-A00266B8459A");
            let e = c
                .receive(
                    ns::RESOURCE_CMD,
                    shell.id(),
                    Receive {
                        command_id: Some(bogus),
                        streams: vec!["stdout".into(), "stderr".into()],
                        ..Default::default()
                    },
                )
                .await
                .err()
                .ok_or("expected a fault for an unknown command id")?;
            check(e.fault().is_some() && !e.is_timeout(), || format!("{e}"))?;
            p.ctrl_c().await.map_err(err("signal"))?;
            shell.close().await.map_err(err("close"))
        },
    )
    .await
    .assert_passed();
}

#[tokio::test]
async fn test_winrs_fail_poll_process() {
    replay(
        "test_winrs_fail_poll_process",
        ClientOptions::default(),
        |c| async move {
            let shell = Shell::open(&c, ShellOptions::default())
                .await
                .map_err(err("open"))?;
            let e = c
                .receive(
                    ns::RESOURCE_CMD,
                    shell.id(),
                    Receive {
                        command_id: None,
                        streams: vec!["stdout".into(), "stderr".into()],
                        ..Default::default()
                    },
                )
                .await
                .err()
                .ok_or("expected a fault for a receive without a command")?;
            check(e.fault().is_some(), || format!("{e}"))?;
            shell.close().await.map_err(err("close"))
        },
    )
    .await
    .assert_passed();
}

#[tokio::test]
async fn test_winrs_open_already_opened() {
    replay(
        "test_winrs_open_already_opened",
        ClientOptions::default(),
        |c| async move {
            let shell = Shell::open(&c, ShellOptions::default())
                .await
                .map_err(err("open"))?;
            check(!shell.id().as_str().is_empty(), || "empty shell id".into())?;
            shell.close().await.map_err(err("close"))
        },
    )
    .await
    .assert_passed();
}

#[tokio::test]
async fn test_client_execute_cmd() {
    replay(
        "test_client_execute_cmd",
        ClientOptions::default(),
        |c| async move {
            let out = run(&c, ShellOptions::default(), "dir", &[], pypsrp_cmd()).await?;
            check(
                out.stdout_text()
                    .contains("Directory of C:\\Users\\vagrant"),
                || out.stdout_text(),
            )?;
            let out = run(&c, ShellOptions::default(), "echo abc", &[], pypsrp_cmd()).await?;
            check(out.stdout == b"abc\r\n", || out.stdout_text())
        },
    )
    .await
    .assert_passed();
}

#[tokio::test]
async fn test_client_execute_cmd_environment() {
    replay(
        "test_client_execute_cmd_environment",
        ClientOptions::default(),
        |c| async move {
            let options = ShellOptions::default()
                .env("string", "string value")
                .env("int", "1234")
                .env("bool", "True")
                .env("double_quote", "double \" quote")
                .env("single_quote", "single ' quote")
                .env("hyphen - var", "abc @ 123");
            let out = run(&c, options, "set", &[], pypsrp_cmd()).await?;
            let text = out.stdout_text();
            check(text.contains("bool=True\r\n"), || text.clone())?;
            check(text.contains("hyphen - var=abc @ 123\r\n"), || text.clone())
        },
    )
    .await
    .assert_passed();
}

/// The harness itself notices a client that deviates: a different command line is reported.
#[tokio::test]
async fn replay_reports_a_deviating_request() {
    let result = replay(
        "test_winrs_standard",
        ClientOptions::default(),
        |c| async move {
            run(
                &c,
                ShellOptions::default(),
                "cmd.exe",
                &["/c", "echo", "HI"],
                pypsrp_cmd(),
            )
            .await
            .map(|_| ())
        },
    )
    .await;
    assert!(
        result.problems.iter().any(|p| p.contains("body differs")),
        "{:?}",
        result.problems
    );
    // A client stopping early leaves recorded requests unsent, which is reported too.
    let result = replay(
        "test_winrs_standard",
        ClientOptions::default(),
        |c| async move {
            Shell::open(&c, ShellOptions::default())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        },
    )
    .await;
    assert!(
        result.problems.iter().any(|p| p.contains("never sent")),
        "{:?}",
        result.problems
    );
}
