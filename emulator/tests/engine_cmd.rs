//! The cmd subset, `powershell -EncodedCommand`, scenarios and custom commands.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use emulator::engine::cmd::{decode_utf16_b64, encode_utf16_b64};
use emulator::engine::{
    CmdEngine, CmdOutcome, CollectingHost, CommandFailure, CommandSpec, CustomCommand, EngineHost,
    ErrorCategory, ErrorRecord, Invocation, PipelineState, Runspace, Scenario, Stopped,
    StreamRecord, Value,
};

fn run(line: &str) -> (String, String, CmdOutcome) {
    let mut cmd = CmdEngine::new(Default::default());
    run_in(&mut cmd, line)
}

fn run_in(cmd: &mut CmdEngine, line: &str) -> (String, String, CmdOutcome) {
    let host = CollectingHost::new();
    let outcome = cmd.run(line, &host);
    let (mut out, mut err) = (String::new(), String::new());
    for r in host.drain() {
        match r {
            StreamRecord::StdOut(s) => out.push_str(&s),
            StreamRecord::StdErr(s) => err.push_str(&s),
            other => panic!("unexpected record {other:?}"),
        }
    }
    (out, err, outcome)
}

#[test]
fn echo_expands_variables() {
    let mut cmd = CmdEngine::new(Default::default());
    cmd.set_env("GREETING", "hello");
    assert_eq!(
        run_in(&mut cmd, "echo %GREETING% %COMPUTERNAME%"),
        (
            "hello SERVER01\r\n".into(),
            String::new(),
            CmdOutcome::Exited(0)
        )
    );
    assert_eq!(
        run_in(&mut cmd, "echo %UNDEFINED_VAR%").0,
        "%UNDEFINED_VAR%\r\n"
    );
    assert_eq!(run_in(&mut cmd, "echo").0, "ECHO is on.\r\n");
    assert_eq!(run_in(&mut cmd, "echo.").0, "\r\n");
}

#[test]
fn set_then_use_in_a_later_command() {
    let mut cmd = CmdEngine::new(Default::default());
    assert_eq!(run_in(&mut cmd, "set FOO=bar").2, CmdOutcome::Exited(0));
    assert_eq!(run_in(&mut cmd, "echo %FOO%").0, "bar\r\n");
    assert_eq!(run_in(&mut cmd, "set FOO").0, "FOO=bar\r\n");
    let (_, err, o) = run_in(&mut cmd, "set NOPE_NOT_SET");
    assert_eq!(
        (err.as_str(), o),
        (
            "Environment variable NOPE_NOT_SET not defined\r\n",
            CmdOutcome::Exited(1)
        )
    );
}

#[test]
fn exit_codes() {
    assert_eq!(run("exit /b 3").2, CmdOutcome::Exited(3));
    assert_eq!(run("exit 5").2, CmdOutcome::Exited(5));
    assert_eq!(
        run("echo a & exit /b 2 & echo never"),
        ("a \r\n".into(), String::new(), CmdOutcome::Exited(2))
    );
    assert_eq!(run("cmd /c exit /b 4").2, CmdOutcome::Exited(4));
    assert_eq!(run("cmd /c \"echo inner\"").0, "inner\r\n");
}

#[test]
fn and_or_short_circuit() {
    assert_eq!(run("echo one&& echo two").0, "one\r\ntwo\r\n");
    assert_eq!(run("nosuchcmd && echo never").0, "");
    assert_eq!(run("nosuchcmd || echo fallback").0, "fallback\r\n");
    assert_eq!(run("echo ok|| echo never").0, "ok\r\n");
    assert_eq!(run("nosuchcmd & echo always").0, "always\r\n");
}

#[test]
fn unknown_command_is_9009_with_windows_message() {
    let (out, err, o) = run("frobnicate --now");
    assert_eq!(out, "");
    assert_eq!(
        err,
        "'frobnicate' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
    );
    assert_eq!(o, CmdOutcome::Exited(9009));
}

#[test]
fn builtins_hostname_whoami_ver_type() {
    assert_eq!(run("hostname").0, "SERVER01\r\n");
    assert_eq!(run("whoami").0, "server01\\vagrant\r\n");
    assert_eq!(
        run("ver").0,
        "\r\nMicrosoft Windows [Version 10.0.17763.1]\r\n"
    );
    assert_eq!(run("type C:\\hello.txt").0, "hello world\r\n");
    let (_, err, o) = run("type C:\\missing.txt");
    assert_eq!(
        (err.as_str(), o),
        (
            "The system cannot find the file specified.\r\n",
            CmdOutcome::Exited(1)
        )
    );
}

#[derive(Default)]
struct SleepRecorder {
    slept: Mutex<Vec<Duration>>,
    out: Mutex<String>,
}

impl EngineHost for SleepRecorder {
    fn emit(&self, record: StreamRecord) -> Result<(), Stopped> {
        if let StreamRecord::StdOut(s) = record {
            self.out.lock().unwrap().push_str(&s);
        }
        Ok(())
    }
    fn sleep(&self, d: Duration) -> Result<(), Stopped> {
        self.slept.lock().unwrap().push(d);
        Ok(())
    }
    fn should_stop(&self) -> bool {
        false
    }
}

#[test]
fn ping_waits_n_minus_one_seconds_and_prints_windows_lines() {
    let host = SleepRecorder::default();
    let mut cmd = CmdEngine::new(Default::default());
    assert_eq!(cmd.run("ping -n 3 127.0.0.1", &host), CmdOutcome::Exited(0));
    assert_eq!(*host.slept.lock().unwrap(), vec![Duration::from_secs(1); 2]);
    let out = host.out.lock().unwrap().clone();
    assert!(
        out.starts_with("\r\nPinging 127.0.0.1 [127.0.0.1] with 32 bytes of data:\r\n"),
        "{out}"
    );
    assert_eq!(
        out.matches("Reply from 127.0.0.1: bytes=32 time<1ms TTL=128\r\n")
            .count(),
        3
    );
    assert!(out.contains("Packets: Sent = 3, Received = 3, Lost = 0 (0% loss),"));
}

#[test]
fn ping_is_stoppable() {
    let host = Arc::new(CollectingHost::new());
    let h2 = host.clone();
    let t = std::thread::spawn(move || {
        CmdEngine::new(Default::default()).run("ping -n 100 localhost", h2.as_ref())
    });
    std::thread::sleep(Duration::from_millis(100));
    host.stop();
    assert_eq!(t.join().unwrap(), CmdOutcome::Stopped);
}

#[test]
fn encoded_command_round_trip() {
    let script = "$x = 'é ✓'; Write-Output \"v=$x\"; 1 + 1";
    let b64 = encode_utf16_b64(script);
    assert_eq!(decode_utf16_b64(&b64).as_deref(), Some(script));
    let (out, err, o) = run(&format!(
        "powershell.exe -NoProfile -NonInteractive -EncodedCommand {b64}"
    ));
    assert_eq!(out, "v=é ✓\r\n2\r\n");
    assert_eq!(err, "");
    assert_eq!(o, CmdOutcome::Exited(0));
}

#[test]
fn powershell_command_formats_objects_as_tables() {
    let (out, _, o) = run("powershell -Command \"[pscustomobject]@{Name='web'; Id=12345}\"");
    assert_eq!(
        out,
        "\r\nName    Id\r\n----    --\r\nweb  12345\r\n\r\n\r\n"
    );
    assert_eq!(o, CmdOutcome::Exited(0));
    let (out, _, _) = run("powershell -Command \"Write-Host 'hi from host'\"");
    assert_eq!(out, "hi from host\r\n");
}

#[test]
fn powershell_errors_go_to_stderr_as_clixml_and_exit_1() {
    let b64 = encode_utf16_b64("Write-Output 'partial'; Write-Error testing");
    let (out, err, o) = run(&format!("powershell -EncodedCommand {b64}"));
    assert_eq!(out, "partial\r\n");
    assert_eq!(o, CmdOutcome::Exited(1));
    let expected = concat!(
        "#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">",
        "<S S=\"Error\">Write-Output 'partial'; Write-Error testing : testing_x000D__x000A_</S>",
        "<S S=\"Error\">    + CategoryInfo          : NotSpecified: (:) [Write-Error], WriteErrorException_x000D__x000A_</S>",
        "<S S=\"Error\">    + FullyQualifiedErrorId : Microsoft.PowerShell.Commands.WriteErrorException_x000D__x000A_</S>",
        "<S S=\"Error\"> _x000D__x000A_</S>",
        "</Objs>"
    );
    assert_eq!(err, expected);
}

#[test]
fn powershell_exit_code_follows_the_last_statement() {
    // As Windows: `$?` of the last statement decides, not whether an error was written.
    let (out, err, o) = run("powershell -Command \"Write-Error 'early'; 'still here'\"");
    assert_eq!(out, "still here\r\n");
    assert!(err.contains("early"), "{err}");
    assert_eq!(o, CmdOutcome::Exited(0));
    let (_, _, o) = run("powershell -Command \"'out'; Write-Error 'last'\"");
    assert_eq!(o, CmdOutcome::Exited(1));
    let (_, _, o) = run("powershell -Command \"'out'; nosuchcommand\"");
    assert_eq!(o, CmdOutcome::Exited(1));
}

#[test]
fn powershell_shows_new_items_in_the_file_system_view() {
    let (out, err, o) = run(
        "powershell -Command \"New-Item -ItemType Directory -Path C:\\x -Force; New-Item -ItemType File -Path C:\\x\\a.txt -Value hello\"",
    );
    assert_eq!(err, "");
    assert_eq!(o, CmdOutcome::Exited(0));
    // The clock decides the date and time: compare with digits masked.
    let masked: String = out
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    let listing = |dir: &str, row: &str| {
        format!(
            "\r\n    Directory: {dir}\r\n\r\n\r\nMode                LastWriteTime         Length Name\r\n----                -------------         ------ ----\r\n{row}\r\n\r\n\r\n"
        )
    };
    let date = out
        .lines()
        .find(|l| l.starts_with("d-----"))
        .and_then(|l| l.get(8..33))
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect::<String>();
    assert_eq!(date.trim_start().len(), 20, "{out}");
    let expected = listing("C:\\", &format!("d-----  {date}                x"))
        + &listing("C:\\x", &format!("-a----  {date}              9 a.txt"));
    assert_eq!(masked, expected, "{out}");
}

#[test]
fn powershell_unknown_command_clixml_matches_windows_shape() {
    let (_, err, o) = run("powershell -Command fake cmdlet");
    assert_eq!(o, CmdOutcome::Exited(1));
    assert!(
        err.starts_with("#< CLIXML\r\n<Objs Version=\"1.1.0.1\""),
        "{err}"
    );
    for line in [
        "<S S=\"Error\">fake : The term 'fake' is not recognized as the name of a cmdlet",
        "<S S=\"Error\">At line:1 char:1_x000D__x000A_</S>",
        "<S S=\"Error\">+ fake cmdlet_x000D__x000A_</S>",
        "<S S=\"Error\">+ ~~~~_x000D__x000A_</S>",
        "<S S=\"Error\">    + CategoryInfo          : ObjectNotFound: (fake:String) [], CommandNotFoundException_x000D__x000A_</S>",
        "<S S=\"Error\">    + FullyQualifiedErrorId : CommandNotFoundException_x000D__x000A_</S>",
    ] {
        assert!(err.contains(line), "missing {line}\nin {err}");
    }
}

#[test]
fn powershell_exit_code_and_throw() {
    assert_eq!(
        run("powershell -Command \"exit 7\"").2,
        CmdOutcome::Exited(7)
    );
    let (_, err, o) = run("powershell -Command \"throw 'kaboom'\"");
    assert_eq!(o, CmdOutcome::Exited(1));
    assert!(
        err.contains("<S S=\"Error\">kaboom_x000D__x000A_</S>"),
        "{err}"
    );
    assert!(
        err.contains("OperationStopped: (kaboom:String) [], RuntimeException"),
        "{err}"
    );
    let (_, err, _) = run("powershell -Command \"Write-Warning 'heads up'\"");
    assert!(
        err.contains("<S S=\"warning\">heads up_x000D__x000A_</S>"),
        "{err}"
    );
}

const SCENARIO: &str = r#"
[[command]]
match = "Get-Widget -Name a"
output = [{ Name = "a", Size = 3 }, "plain"]
warnings = ["widget warning"]

[[command]]
glob = "deploy *"
shell = "cmd"
stdout = "deploying\r\n"
stderr = "warn: slow\r\n"
exit_code = 3

[[command]]
regex = "^fail-me\\s+\\d+$"
throw = "scripted failure"

[[command]]
name = "Get-Ticks"
output = [1]
repeat = 3
"#;

#[test]
fn scenario_file_drives_both_shells() {
    let dir = std::env::temp_dir().join(format!("psrm-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.toml");
    std::fs::write(&path, SCENARIO).unwrap();
    let scenario = Arc::new(Scenario::load(&path).unwrap());
    assert_eq!(scenario.len(), 4);

    let mut rs = Runspace::new(Default::default());
    rs.register_scenario(scenario.clone());
    let host = CollectingHost::new();
    let o = rs.run_script("get-widget -name a", None, &host);
    assert_eq!(o.state, PipelineState::Completed);
    let recs = host.drain();
    assert!(
        matches!(&recs[0], StreamRecord::Output(Value::Object(o)) if o.get("Size") == Some(&Value::Int(3))),
        "{recs:?}"
    );
    assert_eq!(recs[1], StreamRecord::Output(Value::str("plain")));
    assert_eq!(recs[2], StreamRecord::Warning("widget warning".into()));

    let o = rs.run_script("fail-me 42", None, &host);
    assert!(matches!(&o.state, PipelineState::Failed(e) if e.message == "scripted failure"));

    host.drain();
    rs.run_script("(Get-Ticks | Measure-Object).Count", None, &host);
    assert_eq!(host.drain(), vec![StreamRecord::Output(Value::Int(3))]);

    let mut cmd = CmdEngine::new(Default::default());
    cmd.register_scenario(scenario);
    assert_eq!(
        run_in(&mut cmd, "deploy site1"),
        (
            "deploying\r\n".into(),
            "warn: slow\r\n".into(),
            CmdOutcome::Exited(3)
        )
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn scenario_errors_are_typed() {
    assert!(Scenario::parse("[[command]]\nregex = \"(\"").is_err());
    assert!(Scenario::parse("[[command]]\noutput = [1]").is_err());
    assert!(Scenario::parse("[[command]]\nmatch = \"x\"\nbogus = 1").is_err());
}

#[derive(Debug)]
struct Deploy;

impl CustomCommand for Deploy {
    fn name(&self) -> &str {
        "Invoke-Deploy"
    }
    fn invoke(&self, inv: &mut Invocation<'_, '_>) -> Result<(), CommandFailure> {
        let target = inv.arg("Target").cloned().unwrap_or(Value::Null);
        if target == Value::str("broken") {
            return Err(CommandFailure::Terminating(Box::new(ErrorRecord::new(
                "System.InvalidOperationException",
                "cannot deploy",
                ErrorCategory::InvalidOperation,
            ))));
        }
        inv.sleep(Duration::from_millis(1))?;
        inv.write(StreamRecord::Verbose(format!("deploying {target}")))?;
        for v in inv.input.clone() {
            inv.write_output(Value::String(format!("{target}:{v}")))?;
        }
        inv.write_error(ErrorRecord::new(
            "System.Exception",
            "partial",
            ErrorCategory::NotSpecified,
        ));
        Ok(())
    }
}

#[test]
fn custom_commands_take_input_parameters_and_fail() {
    let mut rs = Runspace::new(Default::default());
    rs.register(Arc::new(Deploy));
    let host = CollectingHost::new();
    let o = rs.run_script(
        "1,2 | Invoke-Deploy -Target web | ForEach-Object { $_.ToUpper() }",
        None,
        &host,
    );
    assert_eq!(o.state, PipelineState::Completed);
    let recs = host.drain();
    // Errors a custom command writes are applied when it returns, before its collected output
    // moves on down the pipeline.
    assert_eq!(recs[0], StreamRecord::Verbose("deploying web".into()));
    assert!(matches!(&recs[1], StreamRecord::Error(e) if e.message == "partial"));
    assert_eq!(recs[2], StreamRecord::Output(Value::str("WEB:1")));
    assert_eq!(recs[3], StreamRecord::Output(Value::str("WEB:2")));

    // Structured PSRP form: command + named parameter; a terminating error fails the pipeline.
    let o = rs.run_commands(
        &[CommandSpec::command("Invoke-Deploy").param("Target", Value::str("broken"))],
        None,
        &host,
    );
    assert!(
        matches!(&o.state, PipelineState::Failed(e) if e.exception_type == "System.InvalidOperationException")
    );
}

#[test]
fn structured_commands_with_parameters_and_input() {
    let mut rs = Runspace::new(Default::default());
    let host = CollectingHost::new();
    let cmds = [
        CommandSpec::command("Where-Object")
            .param("Property", Value::str("Length"))
            .param("GT", Value::Bool(true))
            .param("Value", Value::Int(1)),
        CommandSpec::command("Sort-Object").param("Descending", Value::Bool(true)),
    ];
    let o = rs.run_commands(
        &cmds,
        Some(vec![Value::str("a"), Value::str("bbb"), Value::str("cc")]),
        &host,
    );
    assert_eq!(o.state, PipelineState::Completed);
    assert_eq!(
        host.drain(),
        vec![
            StreamRecord::Output(Value::str("cc")),
            StreamRecord::Output(Value::str("bbb"))
        ]
    );

    let o = rs.run_commands(
        &[CommandSpec::script("param($n) $n * 2").arg(Value::Int(21))],
        None,
        &host,
    );
    assert_eq!(o.state, PipelineState::Completed);
    assert_eq!(host.drain(), vec![StreamRecord::Output(Value::Int(42))]);

    let o = rs.run_script(
        "$input | ForEach-Object { $_ + 1 }",
        Some(vec![Value::Int(1), Value::Int(2)]),
        &host,
    );
    assert_eq!(o.state, PipelineState::Completed);
    assert_eq!(
        host.drain(),
        vec![
            StreamRecord::Output(Value::Int(2)),
            StreamRecord::Output(Value::Int(3))
        ]
    );

    let o = rs.run_commands(&[CommandSpec::command("Get-NoSuchThing")], None, &host);
    assert!(
        matches!(&o.state, PipelineState::Failed(e) if e.exception_name() == "CommandNotFoundException")
    );
}

#[test]
fn scenario_hang_is_stoppable_and_dates_convert() {
    let scenario = Arc::new(
        Scenario::parse(
            "[[command]]\nmatch = \"Wait-Forever\"\nhang = true\n\n[[command]]\nmatch = \"When\"\noutput = [2024-01-01T10:00:00Z]\n",
        )
        .unwrap(),
    );
    let host = Arc::new(CollectingHost::new());
    let (h2, s2) = (host.clone(), scenario.clone());
    let t = std::thread::spawn(move || {
        let mut rs = Runspace::new(Default::default());
        rs.register_scenario(s2);
        rs.run_script("Wait-Forever", None, h2.as_ref()).state
    });
    std::thread::sleep(Duration::from_millis(100));
    assert!(!t.is_finished());
    host.stop();
    assert_eq!(t.join().unwrap(), PipelineState::Stopped);

    let mut rs = Runspace::new(Default::default());
    rs.register_scenario(scenario);
    let host = CollectingHost::new();
    rs.run_script("when", None, &host);
    let recs = host.drain();
    assert!(
        matches!(&recs[..], [StreamRecord::Output(Value::DateTime(d))] if d.to_iso() == "2024-01-01T10:00:00.0000000+00:00"),
        "{recs:?}"
    );
}

/// Windows' own stderr for `fake cmdlet` (pypsrp capture): every `<S S="Error">` line, in order,
/// including the console's word wrap at 120 columns.
#[test]
fn unknown_command_stderr_equals_the_windows_capture() {
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/pypsrp-captures/data/test_sanitise_clixml_with_error.xml"
    ))
    .unwrap();
    let want: Vec<&str> = fixture
        .lines()
        .filter(|l| l.starts_with("<S S=\"Error\">"))
        .collect();
    assert_eq!(want.len(), 8);
    let (_, err, o) = run("powershell -NoProfile -Command fake cmdlet");
    assert_eq!(o, CmdOutcome::Exited(1));
    let got: Vec<String> = err
        .split("</S>")
        .filter_map(|p| {
            p.find("<S S=\"Error\">")
                .map(|i| format!("{}</S>", &p[i..]))
        })
        .collect();
    assert_eq!(got, want);
}
