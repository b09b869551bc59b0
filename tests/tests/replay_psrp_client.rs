//! Replays of pypsrp's `Client` scenarios (`execute_ps`, `copy`, `fetch`) against
//! `sessions::pssession`: the Windows side comes from the recording, the client side is ours,
//! driven the way pypsrp's high-level client drove the server.
//!
//! `execute_ps` opens a pool, runs one pipeline (one `New-Item env: … | Out-Null` statement per
//! environment variable, then `Invoke-Expression -Command <script> | Out-String -Stream`) and
//! closes the pool. Our driver builds that pipeline itself with [`Invocation`] (it is not read
//! from the recording); the comparator then checks that the CREATE_PIPELINE we send equals
//! pypsrp's statement by statement, command by command and parameter by parameter.
//!
//! As in `replay_psrp.rs`, the runspace pool and pipeline ids are read from the recorded
//! requests and injected (the recorded responses name them), headers are compared by
//! `tests::replay::compare_headers` (MaxEnvelopeSize aside: pypsrp raises it once the server
//! says protocol 2.2, ours stays at what it announced) and bodies by kind and ids.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use psrp::clixml::Value;
use psrp::fragment::Defragmenter;
use psrp::message::Message;
use psrp::messages::{CreatePipeline, Payload};
use psrp::records::{Command, PowerShellPipeline, PsInvocationState};
use sessions::pssession::{Invocation, InvokeOutput, PsSession, SessionOptions};
use sessions::{ClientOptions, WsManClient};
use tests::replay::{Comparator, ReplayResult, compare_headers, pypsrp_scenario, replay_with};
use uuid::Uuid;
use wsman::{Body, Envelope};

/// The ids pypsrp chose in a scenario: runspace pools in Create order, pipelines in Command
/// order (WinRS commands of the same scenario included).
#[derive(Debug, Default)]
struct Ids {
    pools: Vec<Uuid>,
    commands: Vec<Uuid>,
}

fn recorded_ids(stem: &str) -> Ids {
    let file = pypsrp_scenario(stem);
    let mut ids = Ids::default();
    for ex in &file.exchanges {
        let Some(Ok(env)) = ex.request.as_deref().map(Envelope::decode) else {
            continue;
        };
        let uuid = |s: &str| Uuid::parse_str(s).ok();
        match &env.body {
            Body::Create(shell) => {
                if let Some(u) = shell.shell_id_attr.as_ref().and_then(|i| uuid(i.as_str())) {
                    ids.pools.push(u);
                }
            }
            Body::Command(line) => {
                if let Some(u) = line.command_id.as_ref().and_then(|i| uuid(i.as_str())) {
                    ids.commands.push(u);
                }
            }
            _ => {}
        }
    }
    ids
}

/// Every PSRP message in `chunks` (the fragments of one stream, in order), decoded.
fn payloads(d: &mut Defragmenter, chunks: &[Vec<u8>]) -> Result<Vec<Payload>, String> {
    let mut out = Vec::new();
    for c in chunks {
        d.receive(c).map_err(|e| format!("fragments: {e}"))?;
        while let Some(blob) = d.poll_message() {
            let m = Message::decode(&blob).map_err(|e| format!("message: {e}"))?;
            out.push(
                Payload::decode(m.message_type, &m.data).map_err(|e| format!("payload: {e}"))?,
            );
        }
    }
    Ok(out)
}

fn create_pipeline(line: &wsman::shell::CommandLine) -> Result<CreatePipeline, String> {
    let chunks = line.argument_bytes().map_err(|e| e.to_string())?;
    payloads(&mut Defragmenter::new(), &chunks)?
        .into_iter()
        .find_map(|p| match p {
            Payload::CreatePipeline(c) => Some(*c),
            _ => None,
        })
        .ok_or_else(|| "no CREATE_PIPELINE in the Arguments".to_owned())
}

/// Every statement of a description (`ExtraCmds` when present, else `Cmds`).
fn statements(ps: &PowerShellPipeline) -> Vec<Vec<Command>> {
    match &ps.extra_cmds {
        Some(all) => all.clone(),
        None => vec![ps.cmds.clone()],
    }
}

/// How a scenario's CREATE_PIPELINE messages are compared (recorded first, ours second).
type PipelineCheck = dyn Fn(&CreatePipeline, &CreatePipeline) -> Vec<String> + Send + Sync;

/// The default: equal statements (commands, scripts, parameters and merges), equal `NoInput`.
fn same_pipeline(rec: &CreatePipeline, ours: &CreatePipeline) -> Vec<String> {
    let mut out = Vec::new();
    let (a, b) = (statements(&rec.power_shell), statements(&ours.power_shell));
    if a.len() != b.len() {
        out.push(format!("{} statements instead of {}", b.len(), a.len()));
    }
    for (i, (sa, sb)) in a.iter().zip(&b).enumerate() {
        if sa != sb {
            out.push(format!(
                "statement {i} differs:\n  ours:     {sb:?}\n  recorded: {sa:?}"
            ));
        }
    }
    if rec.no_input != ours.no_input {
        out.push(format!(
            "NoInput {} instead of {}",
            ours.no_input, rec.no_input
        ));
    }
    out
}

/// Everything sent on a pipeline's stdin so far, recorded and ours, per pipeline, so that the
/// input objects can be compared as a whole however they were cut into Sends.
#[derive(Debug, Default)]
struct Inputs {
    recorded: Vec<(String, Defragmenter, Vec<Payload>)>,
    ours: Vec<(String, Defragmenter, Vec<Payload>)>,
}

fn feed(
    streams: &mut Vec<(String, Defragmenter, Vec<Payload>)>,
    send: &wsman::shell::Send,
) -> Result<(), String> {
    for st in send.streams.iter().filter(|s| s.name == "stdin") {
        let id = st
            .command_id
            .as_ref()
            .map(|c| c.as_str().to_uppercase())
            .unwrap_or_default();
        if !streams.iter().any(|(i, _, _)| *i == id) {
            streams.push((id.clone(), Defragmenter::new(), Vec::new()));
        }
        if let Some((_, d, got)) = streams.iter_mut().find(|(i, _, _)| *i == id) {
            got.extend(payloads(d, std::slice::from_ref(&st.data))?);
        }
    }
    Ok(())
}

/// The comparison of one scenario: headers, body kinds and ids, CREATE_PIPELINE by
/// `check`, and stdin Sends by their stream names and command ids (their payloads are
/// collected in `inputs` and compared at the end by the driver).
fn comparator(check: Box<PipelineCheck>, inputs: Arc<Mutex<Inputs>>) -> Box<Comparator> {
    Box::new(move |rec: &Envelope, ours: &Envelope| {
        let mut out = compare_headers(rec, ours);
        out.retain(|p| !p.starts_with("MaxEnvelopeSize"));
        let same =
            |a: Option<&str>, b: Option<&str>| a.map(str::to_uppercase) == b.map(str::to_uppercase);
        match (&rec.body, &ours.body) {
            (Body::Create(a), Body::Create(b)) => {
                let ok = same(
                    a.shell_id_attr.as_ref().map(|i| i.as_str()),
                    b.shell_id_attr.as_ref().map(|i| i.as_str()),
                ) && a.input_streams == b.input_streams
                    && a.output_streams == b.output_streams;
                out.extend((!ok).then(|| format!("Create {b:?} instead of {a:?}")));
            }
            (Body::Command(a), Body::Command(b)) => {
                let ok = same(
                    a.command_id.as_ref().map(|i| i.as_str()),
                    b.command_id.as_ref().map(|i| i.as_str()),
                );
                out.extend((!ok).then(|| "CommandId differs".to_owned()));
                if a.arguments.is_empty() {
                    // A WinRS command: the command line itself is compared.
                    if a.command != b.command || a.arguments != b.arguments {
                        out.push(format!(
                            "command {:?} {:?} instead of {:?} {:?}",
                            b.command, b.arguments, a.command, a.arguments
                        ));
                    }
                } else {
                    match (create_pipeline(a), create_pipeline(b)) {
                        (Ok(ra), Ok(rb)) => out.extend(check(&ra, &rb)),
                        (Err(e), _) => out.push(format!("recorded Command: {e}")),
                        (_, Err(e)) => out.push(format!("our Command: {e}")),
                    }
                }
            }
            (Body::Receive(a), Body::Receive(b)) => {
                let ok = same(
                    a.command_id.as_ref().map(|i| i.as_str()),
                    b.command_id.as_ref().map(|i| i.as_str()),
                ) && a.streams == b.streams;
                out.extend((!ok).then(|| format!("Receive {b:?} instead of {a:?}")));
            }
            (Body::Send(a), Body::Send(b)) => {
                let names = |s: &wsman::shell::Send| {
                    s.streams
                        .iter()
                        .map(|s| {
                            (
                                s.name.clone(),
                                s.command_id.as_ref().map(|c| c.as_str().to_uppercase()),
                            )
                        })
                        .collect::<Vec<_>>()
                };
                if names(a) != names(b) {
                    out.push(format!(
                        "Send streams {:?} instead of {:?}",
                        names(b),
                        names(a)
                    ));
                }
                let mut inputs = inputs.lock().unwrap_or_else(|p| p.into_inner());
                if let Err(e) = feed(&mut inputs.recorded, a) {
                    out.push(format!("recorded Send: {e}"));
                }
                if let Err(e) = feed(&mut inputs.ours, b) {
                    out.push(format!("our Send: {e}"));
                }
            }
            (Body::Signal(a), Body::Signal(b)) => {
                let ok = same(
                    a.command_id.as_ref().map(|i| i.as_str()),
                    b.command_id.as_ref().map(|i| i.as_str()),
                ) && a.code.as_str().eq_ignore_ascii_case(b.code.as_str());
                out.extend((!ok).then(|| format!("Signal {b:?} instead of {a:?}")));
            }
            (a, b) if a.kind() != b.kind() => {
                out.push(format!("body {} instead of {}", b.kind(), a.kind()));
            }
            _ => {}
        }
        out
    })
}

/// As `replay_psrp.rs`: pypsrp's 20 s operation timeout, no MaxEnvelopeSize raise (pypsrp's
/// raise asks no config, so the recordings hold no Get for ours).
fn options() -> ClientOptions {
    ClientOptions::default()
        .operation_timeout(Duration::from_secs(20))
        .psrp_envelope_raise(false)
}

fn session_options(pool: Option<&Uuid>) -> SessionOptions {
    let mut o = SessionOptions::default();
    o.runspace_pool_id = pool.copied();
    o
}

fn e(step: &'static str) -> impl Fn(sessions::Error) -> String {
    move |err| format!("{step}: {err}")
}

/// Replays `stem` with `driver`, comparing pipelines with `check`; returns the replay result,
/// the driver's own result and the stdin payloads (recorded, ours) per pipeline.
async fn run<T, F, Fut>(
    stem: &str,
    check: Box<PipelineCheck>,
    driver: F,
) -> (ReplayResult, Result<T, String>, Inputs)
where
    F: FnOnce(WsManClient, Ids) -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let ids = recorded_ids(stem);
    let inputs = Arc::new(Mutex::new(Inputs::default()));
    let mut result = Err("driver did not run".to_owned());
    let r = replay_with(
        stem,
        options(),
        comparator(check, inputs.clone()),
        |c| async {
            result = driver(c, ids).await;
            result.as_ref().map(|_| ()).map_err(Clone::clone)
        },
    )
    .await;
    let inputs = std::mem::take(&mut *inputs.lock().unwrap_or_else(|p| p.into_inner()));
    (r, result, inputs)
}

// ---------------------------------------------------------------------------------------------
// execute_ps

/// The pipeline pypsrp's `execute_ps(script, environment)` runs: each variable set with
/// `New-Item -Path env: -Name … -Value … -Force $true | Out-Null` in a statement of its own,
/// then the script through `Invoke-Expression` with its output rendered by
/// `Out-String -Stream` (so the client gets lines of text, not objects).
fn execute_ps(script: &str, environment: &[(&str, Value)], pipeline: Option<Uuid>) -> Invocation {
    let run = |inv: Invocation| {
        inv.parameter("Command", script)
            .pipe(Command::new("Out-String", false).with_arg(Some("Stream"), Value::Nil))
    };
    let set = |name: &str, value: &Value| {
        Command::new("New-Item", false)
            .with_arg(Some("Path"), "env:")
            .with_arg(Some("Name"), name)
            .with_arg(Some("Value"), value.clone())
            .with_arg(Some("Force"), true)
    };
    let mut inv = match environment.split_first() {
        None => run(Invocation::command("Invoke-Expression")),
        Some(((name, value), rest)) => {
            let mut inv = Invocation::default();
            inv.commands = vec![set(name, value), Command::new("Out-Null", false)];
            for (name, value) in rest {
                inv = inv
                    .statement(set(name, value))
                    .pipe(Command::new("Out-Null", false));
            }
            run(inv.statement(Command::new("Invoke-Expression", false)))
        }
    };
    inv.pipeline_id = pipeline;
    inv
}

/// Open a pool, run `invocation`, close the pool: pypsrp's `Client.execute_ps`.
async fn open_invoke_close(
    c: &WsManClient,
    ids: &Ids,
    invocation: Invocation,
) -> Result<InvokeOutput, String> {
    let mut s = PsSession::new(c, "replay", session_options(ids.pools.first()))
        .await
        .map_err(e("open"))?;
    let out = s.invoke(&invocation).await.map_err(e("invoke"))?;
    s.remove().await.map_err(e("close"))?;
    Ok(out)
}

/// What `execute_ps` hands back: the output lines joined by newlines and whether the
/// pipeline had errors (failed, or wrote error records).
fn outcome(out: &InvokeOutput) -> (String, bool) {
    let text = out.output_lines().join("\n");
    let had_errors = out.state == PsInvocationState::FAILED || !out.errors.is_empty();
    (text, had_errors)
}

async fn replay_execute_ps(
    stem: &str,
    script: &'static str,
    environment: Vec<(&'static str, Value)>,
) -> InvokeOutput {
    let (r, out, _) = run(stem, Box::new(same_pipeline), |c, ids| async move {
        let inv = execute_ps(script, &environment, ids.commands.first().copied());
        open_invoke_close(&c, &ids, inv).await
    })
    .await;
    r.assert_passed();
    assert_eq!(r.answered, r.recorded);
    out.expect("driver")
}

#[tokio::test]
async fn test_client_execute_ps() {
    let out = replay_execute_ps(
        "test_client_execute_ps",
        "$serv = Get-Service -Name winrm; $serv.Name; $serv.Status; $serv",
        Vec::new(),
    )
    .await;
    let (text, had_errors) = outcome(&out);
    assert!(!had_errors, "{out:?}");
    assert!(out.is_completed());
    let expected = [
        "winrm",
        "Running",
        "",
        "Status   Name               DisplayName                           ",
        "------   ----               -----------                           ",
        "Running  winrm              Windows Remote Management (WS-Manag...",
        "",
        "",
    ]
    .join("\n");
    assert_eq!(text, expected);
    // The only other stream record: "Preparing modules for first use." (progress).
    assert_eq!(out.progress.len(), 1);
    assert!(out.errors.is_empty() && out.warnings.is_empty() && out.verbose.is_empty());
}

#[tokio::test]
async fn test_client_execute_ps_environment() {
    let odd = "_-(){}[]<>*+-/\\?\"!@#$%^&|;:i,.`~0";
    let environment = vec![
        ("string", Value::from("string value")),
        ("int", Value::I32(1234)),
        ("bool", Value::Bool(true)),
        ("double_quote", Value::from("double \" quote")),
        ("single_quote", Value::from("single ' quote")),
        ("hyphen - var", Value::from("abc @ 123")),
        (odd, Value::from(odd)),
    ];
    let out = replay_execute_ps(
        "test_client_execute_ps_environment",
        "cmd.exe /c set",
        environment,
    )
    .await;
    let (text, had_errors) = outcome(&out);
    assert!(!had_errors, "{out:?}");
    let lines: Vec<&str> = text.lines().collect();
    for want in [
        "string=string value",
        "int=1234",
        "bool=True",
        "double_quote=double \" quote",
        "single_quote=single ' quote",
        "hyphen - var=abc @ 123",
        &format!("{odd}={odd}"),
    ] {
        assert!(lines.contains(&want), "no {want:?} in {lines:?}");
    }
}

#[tokio::test]
async fn test_client_execute_ps_failure() {
    let out = replay_execute_ps(
        "test_client_execute_ps_failure",
        "Get-ServiceTypo -Name winrm",
        Vec::new(),
    )
    .await;
    let (text, had_errors) = outcome(&out);
    assert!(had_errors);
    assert_eq!(text, "");
    assert_eq!(out.state, PsInvocationState::FAILED);
    let reason = out.reason.as_ref().expect("a failed pipeline's reason");
    assert_eq!(reason.category_reason(), Some("CommandNotFoundException"));
    assert_eq!(reason.category_target_name(), Some("Get-ServiceTypo"));
}
