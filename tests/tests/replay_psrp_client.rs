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
//! `copy` and `fetch` are replayed against `sessions::pssession::transfer`, whose remote scripts
//! are our own words, not pypsrp's: the comparator checks what matters instead of the script
//! text. A transfer pipeline must be one script command (ours: `COPY_SCRIPT` or
//! `FETCH_SCRIPT`) with the same positional arguments (remote path, expand flag), the same
//! merges and the same `NoInput`; the copy input must carry the same file bytes (however they
//! are cut into chunks: the decoded chunks are concatenated) followed by the SHA-1 in hex and the
//! end of input. The WinRS commands pypsrp's tests ran afterwards (read the file back, remove
//! it) are run with `sessions::winrs` and compared whole.
//!
//! As in `replay_psrp.rs`, the runspace pool and pipeline ids are read from the recorded
//! requests and injected (the recorded responses name them), headers are compared by
//! `tests::replay::compare_headers` (MaxEnvelopeSize aside: pypsrp raises it once the server
//! says protocol 2.2, ours stays at what it announced) and bodies by kind and ids, with the
//! shared pieces of `tests::replay::pypsrp`.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use psrp::clixml::Value;
use psrp::fragment::Defragmenter;
use psrp::message::Message;
use psrp::messages::{CreatePipeline, Payload};
use psrp::records::{Command, PowerShellPipeline, PsInvocationState};
use sessions::WsManClient;
use sessions::pssession::transfer::{
    self, COPY_SCRIPT, CopyOutcome, FETCH_SCRIPT, FetchOutcome, TransferError, TransferOptions,
};
use sessions::pssession::{Invocation, InvokeOutput, PsSession, SessionOptions};
use sessions::winrs::{CommandOptions, Shell, ShellOptions};
use tests::replay::pypsrp::{self, step};
use tests::replay::{Comparator, Replay, ReplayResult};
use uuid::Uuid;
use wsman::shell::SignalCode;
use wsman::{Body, Envelope};

/// The ids pypsrp chose in a scenario: runspace pools in Create order, PSRP pipelines in
/// Command order (from `tests::replay::pypsrp::created`).
#[derive(Debug, Default)]
struct Ids {
    pools: Vec<Uuid>,
    commands: Vec<Uuid>,
}

fn recorded_ids(stem: &str) -> Ids {
    let created = pypsrp::created(stem);
    Ids {
        pools: created.pools,
        commands: created.pipelines.into_iter().map(|(id, _)| id).collect(),
    }
}

/// Every PSRP message in `chunks` (the next fragments of one stream, in order), decoded with
/// that stream's defragmenter `d` (a message may span Sends).
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
        let mut out = pypsrp::compare_psrp_headers(rec, ours);
        if rec.header.resource_uri.as_deref() == Some(wsman::ns::RESOURCE_CMD) {
            // WinRS: the whole body (its ids come from the recorded responses).
            if rec.body != ours.body {
                out.push(format!("body {:?} instead of {:?}", ours.body, rec.body));
            }
            return out;
        }
        match (&rec.body, &ours.body) {
            (Body::Create(a), Body::Create(b)) => {
                out.extend(pypsrp::shell_id_problem(a, b));
                if a.input_streams != b.input_streams || a.output_streams != b.output_streams {
                    out.push(format!("Create streams {b:?} instead of {a:?}"));
                }
            }
            (Body::Command(a), Body::Command(b)) => {
                out.extend(pypsrp::command_id_problem(a, b));
                match (pypsrp::create_pipeline(a), pypsrp::create_pipeline(b)) {
                    (Ok(ra), Ok(rb)) => out.extend(check(&ra, &rb)),
                    (Err(e), _) => out.push(format!("recorded Command: {e}")),
                    (_, Err(e)) => out.push(format!("our Command: {e}")),
                }
            }
            (Body::Receive(a), Body::Receive(b)) => out.extend(pypsrp::receive_problem(a, b)),
            (Body::Send(a), Body::Send(b)) => {
                out.extend(pypsrp::send_streams_problem(a, b));
                let mut inputs = inputs.lock().unwrap_or_else(|p| p.into_inner());
                if let Err(e) = feed(&mut inputs.recorded, a) {
                    out.push(format!("recorded Send: {e}"));
                }
                if let Err(e) = feed(&mut inputs.ours, b) {
                    out.push(format!("our Send: {e}"));
                }
            }
            (Body::Signal(a), Body::Signal(b)) => {
                let ok = pypsrp::same_id(
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

fn session_options(pool: Option<&Uuid>) -> SessionOptions {
    let mut o = SessionOptions::default();
    o.runspace_pool_id = pool.copied();
    o
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
    run_rewritten(stem, check, None, driver).await
}

/// [`run`] with the recorded responses adapted by `rewrite` (see `tests::replay::Rewriter`).
async fn run_rewritten<T, F, Fut>(
    stem: &str,
    check: Box<PipelineCheck>,
    rewrite: Option<Box<tests::replay::Rewriter>>,
    driver: F,
) -> (ReplayResult, Result<T, String>, Inputs)
where
    F: FnOnce(WsManClient, Ids) -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let ids = recorded_ids(stem);
    let inputs = Arc::new(Mutex::new(Inputs::default()));
    let mut result = Err("driver did not run".to_owned());
    let mut replay = Replay::pypsrp(stem)
        .options(pypsrp::options())
        .compare(comparator(check, inputs.clone()));
    if let Some(rewrite) = rewrite {
        replay = replay.rewrite(rewrite);
    }
    let r = replay
        .run(|c| async {
            result = driver(c, ids).await;
            result.as_ref().map(|_| ()).map_err(Clone::clone)
        })
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
        .map_err(step("open"))?;
    let out = s.invoke(&invocation).await.map_err(step("invoke"))?;
    s.remove().await.map_err(step("close"))?;
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

// ---------------------------------------------------------------------------------------------
// copy and fetch

/// A transfer pipeline: one script command each (ours must be `script`), the same positional
/// arguments (remote path, expand flag), the same merges and the same `NoInput`. The script
/// texts differ by design (ours are our own).
fn same_transfer(script: &'static str) -> Box<PipelineCheck> {
    Box::new(move |rec: &CreatePipeline, ours: &CreatePipeline| {
        let mut out = Vec::new();
        let (a, b) = (statements(&rec.power_shell), statements(&ours.power_shell));
        let (Some(ra), Some(ob)) = (single(&a), single(&b)) else {
            return vec![format!(
                "not one command in one statement: ours {b:?}, recorded {a:?}"
            )];
        };
        if !ra.is_script || !ob.is_script {
            out.push("not a script command".into());
        }
        if ob.cmd != script {
            out.push("our script is not the transfer script".into());
        }
        let args = |c: &Command| {
            c.args
                .iter()
                .map(|p| (p.name.clone(), p.value.clone()))
                .collect::<Vec<_>>()
        };
        if args(ra) != args(ob) {
            out.push(format!(
                "arguments {:?} instead of {:?}",
                args(ob),
                args(ra)
            ));
        }
        let merges = |c: &Command| {
            (
                c.merge_my_result,
                c.merge_to_result,
                c.merge_previous_results,
                c.merge_streams,
                c.merge_information,
                c.use_local_scope,
            )
        };
        if merges(ra) != merges(ob) {
            out.push("merges or UseLocalScope differ".into());
        }
        if rec.no_input != ours.no_input {
            out.push(format!(
                "NoInput {} instead of {}",
                ours.no_input, rec.no_input
            ));
        }
        out
    })
}

fn single(statements: &[Vec<Command>]) -> Option<&Command> {
    match statements {
        [only] => match only.as_slice() {
            [command] => Some(command),
            _ => None,
        },
        _ => None,
    }
}

/// The file bytes and the announced hash of one copy's input: every PIPELINE_INPUT but the
/// last is a base64 chunk, the last is the base64 of the hex SHA-1, then END_OF_PIPELINE_INPUT.
fn copy_input(payloads: &[Payload]) -> Result<(Vec<u8>, String), String> {
    let Some((Payload::EndOfPipelineInput, values)) = payloads.split_last() else {
        return Err(format!(
            "input does not end with END_OF_PIPELINE_INPUT: {payloads:?}"
        ));
    };
    let mut texts = Vec::new();
    for p in values {
        match p {
            Payload::PipelineInput(Value::String(s)) => texts.push(s.as_str()),
            // CLIXML `<S />` is an empty string.
            Payload::PipelineInput(Value::Nil) => texts.push(""),
            other => return Err(format!("unexpected input {other:?}")),
        }
    }
    let Some((hash, chunks)) = texts.split_last() else {
        return Err("no input".into());
    };
    let mut data = Vec::new();
    for c in chunks {
        data.extend(STANDARD.decode(c).map_err(|e| format!("chunk: {e}"))?);
    }
    let hash = STANDARD.decode(hash).map_err(|e| format!("hash: {e}"))?;
    let hash = String::from_utf8(hash).map_err(|e| format!("hash: {e}"))?;
    Ok((data, hash))
}

/// SHA-1 of [`ALPHABET`] (computed independently of our client).
const ALPHABET_SHA1: &str = "32d10c7b8cf96570ca04ce37f2a19d84240d3a89";

/// Checks each copy's input: ours carries the recorded file bytes and `sha1`, their SHA-1
/// (computed independently); the recorded hash is the same, unless `recorded_hash_is_wrong`
/// (pypsrp's failure test sent a deliberately wrong one).
fn check_copy_inputs(inputs: &Inputs, copies: usize, sha1: &str, recorded_hash_is_wrong: bool) {
    assert_eq!(inputs.recorded.len(), copies, "recorded copies");
    assert_eq!(inputs.ours.len(), copies, "our copies");
    for ((_, _, rec), (_, _, ours)) in inputs.recorded.iter().zip(&inputs.ours) {
        let (rec_data, rec_hash) = copy_input(rec).expect("recorded input");
        let (our_data, our_hash) = copy_input(ours).expect("our input");
        assert_eq!(our_data, rec_data, "file bytes");
        assert_eq!(our_hash, sha1);
        if recorded_hash_is_wrong {
            assert_ne!(rec_hash, sha1);
        } else {
            assert_eq!(rec_hash, sha1);
        }
    }
}

/// A scratch directory of this test binary, empty.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("psrm-replay-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn transfer_options(expand_vars: bool, pipeline: Option<&Uuid>) -> TransferOptions {
    let mut o = TransferOptions::default().expand_vars(expand_vars);
    o.pipeline_id = pipeline.copied();
    o
}

/// pypsrp's `Client.copy`: a pool per copy, the copy, the pool closed.
async fn copy(
    c: &WsManClient,
    pool: Option<&Uuid>,
    pipeline: Option<&Uuid>,
    local: &std::path::Path,
    remote: &str,
    expand_vars: bool,
) -> Result<Result<CopyOutcome, TransferError>, String> {
    let mut s = PsSession::new(c, "replay", session_options(pool))
        .await
        .map_err(step("open"))?;
    let out = transfer::copy_to(
        &mut s,
        local,
        remote,
        &transfer_options(expand_vars, pipeline),
    )
    .await;
    s.remove().await.map_err(step("close"))?;
    Ok(out)
}

/// pypsrp's `Client.fetch`: a pool, the fetch, the pool closed.
async fn fetch(
    c: &WsManClient,
    ids: &Ids,
    remote: &str,
    local: &std::path::Path,
    expand_vars: bool,
) -> Result<Result<FetchOutcome, TransferError>, String> {
    let mut s = PsSession::new(c, "replay", session_options(ids.pools.first()))
        .await
        .map_err(step("open"))?;
    let out = transfer::fetch_from(
        &mut s,
        remote,
        local,
        &transfer_options(expand_vars, ids.commands.first()),
    )
    .await;
    s.remove().await.map_err(step("close"))?;
    Ok(out)
}

/// A WinRS command as pypsrp's tests ran them (a shell per command, `ctrl_c` at the end);
/// returns stdout.
async fn winrs(c: &WsManClient, command: &str) -> Result<Vec<u8>, String> {
    let shell = Shell::open(c, ShellOptions::default())
        .await
        .map_err(|e| format!("winrs open: {e}"))?;
    let out = shell
        .start(
            command,
            &[],
            CommandOptions::default().cleanup_signal(SignalCode::CtrlC),
        )
        .await
        .map_err(|e| format!("winrs start: {e}"))?
        .wait()
        .await
        .map_err(|e| format!("winrs wait: {e}"))?;
    shell
        .close()
        .await
        .map_err(|e| format!("winrs close: {e}"))?;
    if out.exit_code != Some(0) {
        return Err(format!("{command}: exit code {:?}", out.exit_code));
    }
    Ok(out.stdout)
}

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz";

/// One successful copy of `content` to `remote`, then the recorded WinRS steps: `check` reads
/// the file back (`Get-Content`) when given, `remove` deletes it when given.
#[allow(clippy::too_many_arguments)]
async fn copy_scenario(
    stem: &str,
    content: &[u8],
    sha1: &str,
    copies: &[(&'static str, bool)],
    remote_full: &'static str,
    read_back: bool,
    remove: bool,
    rewrite: Option<Box<tests::replay::Rewriter>>,
) -> Vec<CopyOutcome> {
    let dir = scratch(stem);
    let local = dir.join("source");
    std::fs::write(&local, content).expect("local file");
    let copies: Vec<_> = copies.to_vec();
    let expected_readback = content.to_vec();
    let check = same_transfer(COPY_SCRIPT);
    let (r, out, inputs) = run_rewritten(stem, check, rewrite, |c, ids| async move {
        let mut outcomes = Vec::new();
        for (i, (remote, expand)) in copies.iter().enumerate() {
            let got = copy(
                &c,
                ids.pools.get(i),
                ids.commands.get(i),
                &local,
                remote,
                *expand,
            )
            .await?
            .map_err(|e| format!("copy {remote}: {e}"))?;
            outcomes.push(got);
        }
        if read_back {
            let text = winrs(&c, &format!("powershell.exe Get-Content {remote_full}")).await?;
            // Get-Content prints the lines of the file, each with CRLF.
            let mut want = expected_readback.clone();
            if !want.is_empty() {
                want.extend_from_slice(b"\r\n");
            }
            if text != want {
                return Err(format!("read back {:?}", String::from_utf8_lossy(&text)));
            }
        }
        if remove {
            winrs(&c, &format!("powershell Remove-Item -Path '{remote_full}'")).await?;
        }
        Ok(outcomes)
    })
    .await;
    r.assert_passed();
    assert_eq!(r.answered, r.recorded);
    let outcomes = out.expect("driver");
    check_copy_inputs(&inputs, outcomes.len(), sha1, false);
    for o in &outcomes {
        assert_eq!(o.remote_path, remote_full);
        assert_eq!(o.bytes, content.len() as u64);
        assert_eq!(o.sha1, sha1);
    }
    let _ = std::fs::remove_dir_all(&dir);
    outcomes
}

#[tokio::test]
async fn test_client_copy_file() {
    let full = r"C:\Users\vagrant-domain\Documents\test_file";
    let outs = copy_scenario(
        "test_client_copy_file",
        ALPHABET,
        ALPHABET_SHA1,
        &[("test_file", false), (full, false)],
        full,
        true,
        true,
        None,
    )
    .await;
    assert!(outs.iter().all(|o| o.warnings.is_empty()));
}

#[tokio::test]
async fn test_client_copy_expand_vars() {
    let full = r"C:\Users\vagrant\AppData\Local\Temp\test_file";
    copy_scenario(
        "test_client_copy_expand_vars",
        ALPHABET,
        ALPHABET_SHA1,
        &[(r"%TEMP%\test_file", true), (full, false)],
        full,
        true,
        true,
        None,
    )
    .await;
}

#[tokio::test]
async fn test_client_copy_file_empty() {
    // An empty file travels as one empty chunk and the hash of nothing.
    let outs = copy_scenario(
        "test_client_copy_file_empty",
        b"",
        "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        &[("test_file", false)],
        r"C:\Users\vagrant-domain\Documents\test_file",
        true,
        true,
        None,
    )
    .await;
    assert_eq!((outs.len(), outs[0].bytes), (1, 0));
}

/// The warning in this recording was spliced in by hand: its `rsp:Stream` names another
/// CommandId (`AC848653-…`, in another runspace pool) than the copy's. pypsrp reads every
/// stream of a reply; ours reads only its own command's, so as recorded the copy succeeds
/// without a warning. Re-addressed to the copy's CommandId by the harness, the same warning
/// must reach the caller.
#[tokio::test]
async fn test_client_copy_file_warning() {
    let stem = "test_client_copy_file_warning";
    let full = r"C:\Users\vagrant\Documents\test_file";
    let outs = copy_scenario(
        stem,
        ALPHABET,
        ALPHABET_SHA1,
        &[("test_file", false)],
        full,
        false,
        true,
        None,
    )
    .await;
    assert!(outs[0].warnings.is_empty(), "{:?}", outs[0].warnings);

    let copy_id = recorded_ids(stem).commands[0].to_string().to_uppercase();
    let readdress: Box<tests::replay::Rewriter> =
        Box::new(move |_: &Envelope, response: String| {
            response.replace("AC848653-F425-4321-B041-3788123C2269", &copy_id)
        });
    let outs = copy_scenario(
        stem,
        ALPHABET,
        ALPHABET_SHA1,
        &[("test_file", false)],
        full,
        false,
        true,
        Some(readdress),
    )
    .await;
    let [warning] = outs[0].warnings.as_slice() else {
        panic!("one warning: {:?}", outs[0].warnings);
    };
    assert!(
        warning.starts_with("Failed to disable MaximumAllowedMemory"),
        "{warning}"
    );
}

#[tokio::test]
async fn test_client_copy_file_really_large() {
    // 520 000 bytes: pypsrp cut them into 6 chunks of 85 404 bytes and a rest, one Send each
    // (the rest with the hash and the end of input). Ours are a little smaller (what fits our
    // Send) but make as many Sends; the concatenated bytes are compared.
    let content = ALPHABET.repeat(20_000);
    copy_scenario(
        "test_client_copy_file_really_large",
        &content,
        "9019309673c06b632baeb9c84c1cc64b8de74f70",
        &[("test_file", false)],
        r"C:\Users\vagrant\Documents\test_file",
        false,
        false,
        None,
    )
    .await;
}

#[tokio::test]
async fn test_client_copy_file_failure() {
    // pypsrp's test sent a wrong hash on purpose and the remote script refused the file. Ours
    // sends the true hash (checked), and the recorded refusal must come back as
    // RemoteHashMismatch.
    let out = copy_failure(None).await;
    assert_remote_hash_mismatch(out);
    // The same with the Send refused by a fault (as when the remote script failed before all
    // input arrived): the client still reads the pipeline and reports the script's own error.
    let refuse: Box<tests::replay::Rewriter> = Box::new(|ours: &Envelope, response: String| {
        if matches!(ours.body, Body::Send(_)) {
            SEND_FAULT.to_owned()
        } else {
            response
        }
    });
    let out = copy_failure(Some(refuse)).await;
    assert_remote_hash_mismatch(out);
}

/// A WS-Man fault for a Send to a command that no longer exists (text of pypsrp's
/// `test_winrs_bad_cmd_id` recording).
const SEND_FAULT: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header><a:Action>http://schemas.dmtf.org/wbem/wsman/1/wsman/fault</a:Action><a:MessageID>uuid:7B834235-F8A2-4A77-BBA1-72FE4BEE97C8</a:MessageID><a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To><a:RelatesTo>uuid:1E4F574C-3C19-46E9-A544-B71D78C95E7B</a:RelatesTo></s:Header><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>w:InvalidSelectors</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">The WS-Management service cannot process the request because the request contained invalid selectors for the resource. </s:Text></s:Reason><s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="2150858843" Machine="192.168.56.15"><f:Message>The Windows Remote Shell received a request to perform an operation on a command identifier that does not exist.</f:Message></f:WSManFault></s:Detail></s:Fault></s:Body></s:Envelope>"#;

async fn copy_failure(
    rewrite: Option<Box<tests::replay::Rewriter>>,
) -> Result<CopyOutcome, TransferError> {
    let stem = "test_client_copy_file_failure";
    let dir = scratch(&format!("{stem}-{}", rewrite.is_some()));
    let local = dir.join("source");
    std::fs::write(&local, ALPHABET).expect("local file");
    let check = same_transfer(COPY_SCRIPT);
    let (r, out, inputs) = run_rewritten(stem, check, rewrite, |c, ids| async move {
        copy(
            &c,
            ids.pools.first(),
            ids.commands.first(),
            &local,
            "test_file",
            false,
        )
        .await
    })
    .await;
    r.assert_passed();
    assert_eq!(r.answered, r.recorded);
    check_copy_inputs(&inputs, 1, ALPHABET_SHA1, true);
    let _ = std::fs::remove_dir_all(&dir);
    out.expect("driver")
}

fn assert_remote_hash_mismatch(out: Result<CopyOutcome, TransferError>) {
    match out {
        Err(TransferError::RemoteHashMismatch { record }) => {
            let message = record.message().unwrap_or_default();
            assert!(message.contains("hash mismatch"), "{message}");
        }
        other => panic!("expected RemoteHashMismatch, got {other:?}"),
    }
}

/// Replays a fetch of `remote` into a scratch directory; returns the outcome and the local
/// file's content (`None` when it was not created).
async fn fetch_scenario(
    stem: &str,
    remote: &'static str,
    expand_vars: bool,
    rewrite: Option<Box<tests::replay::Rewriter>>,
) -> (Result<FetchOutcome, TransferError>, Option<Vec<u8>>) {
    let dir = scratch(&format!("{stem}-{}", rewrite.is_some()));
    let local = dir.join("fetched");
    let target = local.clone();
    let (r, out, _) = run_rewritten(
        stem,
        same_transfer(FETCH_SCRIPT),
        rewrite,
        |c, ids| async move { fetch(&c, &ids, remote, &target, expand_vars).await },
    )
    .await;
    r.assert_passed();
    assert_eq!(r.answered, r.recorded);
    let content = std::fs::read(&local).ok();
    // No partial file is left behind, whatever happened.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .expect("scratch dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .filter(|n| n != "fetched")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
    (out.expect("driver"), content)
}

#[tokio::test]
async fn test_client_fetch_file() {
    let (out, content) =
        fetch_scenario("test_client_fetch_file", r"C:\temp\file.txt", false, None).await;
    let out = out.expect("fetch");
    let content = content.expect("local file");
    // 50 000 lines of "abc" and an empty one, as the recorded output says.
    let mut want = b"abc\r\n".repeat(50_000);
    want.extend_from_slice(b"\r\n");
    assert_eq!(content, want);
    assert_eq!(out.bytes, 250_002);
    assert_eq!(out.sha1, "70e3bea8cdb0d0c883bccff5228933d933b88a80");
}

#[tokio::test]
async fn test_client_fetch_file_expand_vars() {
    let (out, content) = fetch_scenario(
        "test_client_fetch_file_expand_vars",
        r"%TEMP%\file.txt",
        true,
        None,
    )
    .await;
    let out = out.expect("fetch");
    assert_eq!(content.as_deref(), Some(&b"abc\r\n\r\n"[..]));
    assert_eq!(out.sha1, "22c1a78ec5ada1cd2f3665b58b30499e51a3b029");
}

#[tokio::test]
async fn test_client_fetch_file_fail_dir() {
    let (out, content) = fetch_scenario(
        "test_client_fetch_file_fail_dir",
        r"C:\Windows",
        false,
        None,
    )
    .await;
    assert!(content.is_none());
    match out {
        Err(TransferError::RemoteIsDirectory { path, .. }) => assert_eq!(path, r"C:\Windows"),
        other => panic!("expected RemoteIsDirectory, got {other:?}"),
    }
}

#[tokio::test]
async fn test_client_fetch_file_fail_missing() {
    let (out, content) = fetch_scenario(
        "test_client_fetch_file_fail_missing",
        r"C:\fakefile.txt",
        false,
        None,
    )
    .await;
    assert!(content.is_none());
    match out {
        Err(TransferError::RemoteNotFound { path, .. }) => assert_eq!(path, r"C:\fakefile.txt"),
        other => panic!("expected RemoteNotFound, got {other:?}"),
    }
}

/// pypsrp's hash-mismatch test made its *local* hash wrong (a mock): the recorded exchange is
/// a clean fetch whose announced SHA-1 matches the bytes. Replayed as recorded, ours succeeds;
/// with one byte of the recorded file chunk corrupted on the way (the harness rewrites the
/// first `abc` of the Receive reply to `abd`), ours must refuse it.
#[tokio::test]
async fn test_client_fetch_file_hash_mismatch() {
    let stem = "test_client_fetch_file_hash_mismatch";
    let (out, content) = fetch_scenario(stem, r"C:\temp\file.txt", false, None).await;
    assert_eq!(
        out.expect("fetch as recorded").sha1,
        "eec729d9a0fa275513bc44a4cb8d4ee973b81e1a"
    );
    assert_eq!(content.as_deref().map(<[u8]>::len), Some(27));

    let corrupt: Box<tests::replay::Rewriter> = Box::new(|ours: &Envelope, response: String| {
        if !matches!(ours.body, Body::Receive(_)) {
            return response;
        }
        corrupt_first_chunk(&response)
    });
    let (out, content) = fetch_scenario(stem, r"C:\temp\file.txt", false, Some(corrupt)).await;
    assert!(content.is_none(), "a mismatching file must not be kept");
    match out {
        Err(TransferError::HashMismatch { expected, actual }) => {
            assert_eq!(expected, "eec729d9a0fa275513bc44a4cb8d4ee973b81e1a");
            // SHA-1 of "abd\r\n" + 4 × "abc\r\n" + "\r\n".
            assert_eq!(actual, "4976a196d19045d627926715af376651f52013b3");
        }
        other => panic!("expected HashMismatch, got {other:?}"),
    }
}

/// In a recorded Receive reply, the first output string starting with base64 `YWJj` ("abc")
/// becomes `YWJk` ("abd"): same length, so the fragment headers stay right.
fn corrupt_first_chunk(response: &str) -> String {
    let Some(env) = Envelope::decode(response.as_bytes()).ok() else {
        return response.to_owned();
    };
    let Body::ReceiveResponse(reply) = &env.body else {
        return response.to_owned();
    };
    for stream in &reply.streams {
        let encoded = STANDARD.encode(&stream.data);
        let mut data = stream.data.clone();
        let Some(at) = data.windows(7).position(|w| w == b"<S>YWJj") else {
            continue;
        };
        data[at + 6] = b'k';
        return response.replacen(&encoded, &STANDARD.encode(&data), 1);
    }
    response.to_owned()
}
