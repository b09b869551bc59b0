//! More replays of pypsrp's recorded PSRP scenarios against `sessions::pssession`, those that
//! need more of the client than open / run / close (see `replay_psrp.rs` for the harness
//! conventions: recorded ids are injected, requests are compared by headers and by kind and
//! ids of the bodies).
//!
//! Scenarios here: multiple_commands, key_exchange_timeout, set_runspaces,
//! reset_runspace_state, reset_runspace_state_fail, get_command_metadata,
//! multiple_invocations, receive_failure, nested_command and the four is_alive_* ones. Pool requests and
//! GET_COMMAND_METADATA are compared message by message ([`compare_payloads`]).
//!
//! `test_psrp_multiple_commands` starts with the session key exchange. What the replay can
//! check honestly, and how:
//! - our client sends PUBLIC_KEY on the pool's stdin where pypsrp did, with a 2048-bit RSA key
//!   that parses as a CryptoAPI PUBLICKEYBLOB;
//! - the recorded ENCRYPTED_SESSION_KEY is encrypted for pypsrp's key, whose private half is
//!   not in the recording, so no client could decrypt it. Its blob is checked to be a
//!   well-formed SIMPLEBLOB, then the harness swaps only the RSA ciphertext for one carrying a
//!   session key of its own, encrypted for the key *we* sent; everything else in the reply is
//!   the recorded bytes;
//! - the CREATE_PIPELINE our client then sends must equal pypsrp's statement by statement and
//!   parameter by parameter, except that each SecureString must decrypt with the harness's
//!   session key to `Hello World` (the plain text the recorded output reveals);
//! - the recorded output's own SecureString (ConvertTo-SecureString) was encrypted with
//!   Windows' session key, unknown here: it is checked to arrive as a SecureString, not
//!   decrypted.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use psrp::clixml::Value;
use psrp::crypto::{PublicKey, SessionKey};
use psrp::message::MessageType;
use psrp::messages::{CreatePipeline, Payload};
use psrp::records::{Command, PowerShellPipeline};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sessions::pssession::{Invocation, PsSession, SessionOptions, value_text};
use tests::replay::pypsrp::{
    command_id_problem, compare_psrp_headers, create_pipeline, created, messages, options,
    payloads, receive_problem, same_id, send_streams_problem, shell_id_problem, step,
    swap_session_key,
};
use tests::replay::{Replay, pypsrp_scenario};
use uuid::Uuid;
use wsman::{Body, Envelope};

/// The session key the harness hands our client in place of Windows' one.
const HARNESS_KEY: [u8; 32] = [0x5a; 32];
/// The plain text of the SecureString pypsrp sent (its output's first line).
const SECRET: &str = "Hello World";

/// The pool id and the pipelines (id, description) pypsrp created, in order.
fn recorded(stem: &str) -> (Option<Uuid>, Vec<(Uuid, PowerShellPipeline)>) {
    let created = created(stem);
    (created.pools.first().copied(), created.pipelines)
}

/// Every statement of a description (`ExtraCmds` when present, else `Cmds`).
fn statements(ps: &PowerShellPipeline) -> Vec<Vec<Command>> {
    match &ps.extra_cmds {
        Some(all) => all.clone(),
        None => vec![ps.cmds.clone()],
    }
}

/// Header comparison (MaxEnvelopeSize aside, as in `replay_psrp.rs`) and body kind and ids.
fn compare_common(rec: &Envelope, ours: &Envelope) -> Vec<String> {
    let mut out = compare_psrp_headers(rec, ours);
    match (&rec.body, &ours.body) {
        (Body::Create(a), Body::Create(b)) => out.extend(shell_id_problem(a, b)),
        (Body::Command(a), Body::Command(b)) => out.extend(command_id_problem(a, b)),
        (Body::Receive(a), Body::Receive(b)) => out.extend(receive_problem(a, b)),
        (Body::Send(a), Body::Send(b)) => out.extend(send_streams_problem(a, b)),
        (Body::Signal(a), Body::Signal(b)) => {
            // pypsrp wrote `signal/Terminate`; the code is compared case-insensitively.
            // pypsrp writes `powershell/signal/ctrl_c` where Windows' own client writes the
            // historic `crtl_c` (ours too): both are PowerShell's stop signal.
            let code = |s: &wsman::shell::Signal| {
                s.code
                    .as_str()
                    .to_lowercase()
                    .replace("signal/crtl_c", "signal/ctrl_c")
            };
            let ok = same_id(
                a.command_id.as_ref().map(|i| i.as_str()),
                b.command_id.as_ref().map(|i| i.as_str()),
            ) && code(a) == code(b);
            out.extend((!ok).then(|| format!("Signal {b:?} instead of {a:?}")));
        }
        (a, b) if a.kind() != b.kind() => {
            out.push(format!("body {} instead of {}", b.kind(), a.kind()))
        }
        _ => {}
    }
    out
}

/// What the key-exchange comparator learnt: the public key our client sent.
#[derive(Debug, Default)]
struct Exchange {
    ours: Option<PublicKey>,
}

/// The key-exchange checks on top of [`compare_common`].
fn compare_keyed(state: &Mutex<Exchange>, rec: &Envelope, ours: &Envelope) -> Vec<String> {
    let mut out = compare_common(rec, ours);
    match (&rec.body, &ours.body) {
        (Body::Send(a), Body::Send(b)) if a.streams.iter().all(|s| s.command_id.is_none()) => {
            let types = |s: &wsman::shell::Send| {
                messages(&s.streams.iter().map(|s| s.data.clone()).collect::<Vec<_>>())
            };
            match (types(a), types(b)) {
                (Ok(ra), Ok(rb)) => {
                    let ta: Vec<_> = ra.iter().map(|m| m.message_type).collect();
                    let tb: Vec<_> = rb.iter().map(|m| m.message_type).collect();
                    if ta != tb {
                        out.push(format!("pool messages {tb:?} instead of {ta:?}"));
                    }
                    for m in rb
                        .iter()
                        .filter(|m| m.message_type == MessageType::PUBLIC_KEY)
                    {
                        match Payload::decode(m.message_type, &m.data) {
                            Ok(Payload::PublicKey(k)) => {
                                match PublicKey::from_blob(&k.public_key) {
                                    Ok(key) if key.bits() == 2048 => {
                                        if let Ok(mut st) = state.lock() {
                                            st.ours = Some(key);
                                        }
                                    }
                                    Ok(key) => {
                                        out.push(format!("a {}-bit key, not 2048", key.bits()))
                                    }
                                    Err(e) => out.push(format!("our PUBLIC_KEY blob: {e}")),
                                }
                            }
                            other => out.push(format!("PUBLIC_KEY does not decode: {other:?}")),
                        }
                    }
                }
                (a, b) => out.push(format!("pool Send does not decode: {a:?} / {b:?}")),
            }
        }
        (Body::Command(a), Body::Command(b)) => match (create_pipeline(a), create_pipeline(b)) {
            (Ok(a), Ok(b)) => out.extend(compare_statements(&a.power_shell, &b.power_shell)),
            (a, b) => out.push(format!("CREATE_PIPELINE: {:?} / {:?}", a.err(), b.err())),
        },
        _ => {}
    }
    out
}

/// Statements equal, except that each recorded SecureString must be one of ours that decrypts
/// to [`SECRET`] with the harness key.
fn compare_statements(rec: &PowerShellPipeline, ours: &PowerShellPipeline) -> Vec<String> {
    let key = SessionKey::from_bytes(HARNESS_KEY);
    let mut out = Vec::new();
    let blank = |mut cmds: Vec<Vec<Command>>| {
        for c in cmds.iter_mut().flatten() {
            for a in &mut c.args {
                if matches!(a.value, Value::SecureString(_)) {
                    a.value = Value::Nil;
                }
            }
        }
        cmds
    };
    let (r, o) = (statements(rec), statements(ours));
    let secure = |s: &[Vec<Command>]| -> Vec<Value> {
        s.iter()
            .flatten()
            .flat_map(|c| c.args.iter())
            .filter(|a| matches!(a.value, Value::SecureString(_)))
            .map(|a| a.value.clone())
            .collect()
    };
    let (rs, os) = (secure(&r), secure(&o));
    if rs.len() != os.len() {
        out.push(format!(
            "{} securestrings instead of {}",
            os.len(),
            rs.len()
        ));
    }
    for v in &os {
        match v.decrypt_secure_string(&key) {
            Some(Ok(text)) if text == SECRET => {}
            other => out.push(format!("our securestring decrypts to {other:?}")),
        }
    }
    if blank(r) != blank(o) {
        out.push("statements differ from pypsrp's".into());
    }
    if blank(vec![rec.cmds.clone()]) != blank(vec![ours.cmds.clone()]) {
        out.push("Cmds differ from pypsrp's".into());
    }
    out
}

/// Swaps the ciphertext of a recorded ENCRYPTED_SESSION_KEY for [`HARNESS_KEY`] encrypted for
/// our public key; any other response passes unchanged.
fn rekey(state: &Mutex<Exchange>, response: String) -> String {
    match state.lock().ok().and_then(|s| s.ours.clone()) {
        Some(ours) => swap_session_key(response, &ours, &HARNESS_KEY, 4),
        None => response,
    }
}

#[tokio::test]
async fn test_psrp_multiple_commands() {
    let stem = "test_psrp_multiple_commands";
    let (pool, pipelines) = recorded(stem);
    assert_eq!(pipelines.len(), 1);
    let state = Arc::new(Mutex::new(Exchange::default()));
    let (s1, s2) = (state.clone(), state.clone());
    let outputs = Arc::new(Mutex::new(Vec::new()));
    let got = outputs.clone();
    let r = Replay::pypsrp(stem)
        .options(options())
        .compare(Box::new(move |rec, ours| compare_keyed(&s1, rec, ours)))
        .rewrite(Box::new(move |_, response| rekey(&s2, response)))
        .run(|c| async move {
            let mut so = SessionOptions::default();
            so.runspace_pool_id = pool;
            let mut s = PsSession::new(&c, "replay", so)
                .await
                .map_err(step("open"))?;
            s.exchange_keys().await.map_err(step("exchange keys"))?;
            if s.session_key().map(SessionKey::as_bytes) != Some(&HARNESS_KEY) {
                return Err("the session key is not the one the harness sent".into());
            }
            for (id, ps) in &pipelines {
                let mut statements = statements(ps).into_iter().map(|mut st| {
                    for c in &mut st {
                        for a in &mut c.args {
                            if matches!(a.value, Value::SecureString(_)) {
                                a.value = s.secure_string(SECRET).map_err(step("encrypt"))?;
                            }
                        }
                    }
                    Ok::<_, String>(st)
                });
                let mut inv = Invocation::default();
                inv.commands = statements.next().ok_or("no statement")??;
                for st in statements {
                    inv.extra_statements.push(st?);
                }
                inv.pipeline_id = Some(*id);
                let out = s.invoke(&inv).await.map_err(step("invoke"))?;
                let revealed: Vec<_> = out.output.iter().map(|v| s.reveal(v).is_ok()).collect();
                if let Ok(mut o) = got.lock() {
                    o.push((out, revealed));
                }
            }
            s.remove().await.map_err(step("close"))
        })
        .await;
    r.assert_passed();
    let outputs = outputs.lock().expect("outputs");
    let (out, revealed) = &outputs[0];
    assert!(out.is_completed(), "{out:?}");
    assert_eq!(out.output.len(), 7, "{out:?}");
    assert_eq!(value_text(&out.output[0]), SECRET);
    assert!(
        matches!(out.output[1], Value::SecureString(ref b) if b.len() == 16),
        "{out:?}"
    );
    assert!(!revealed[1], "Windows' session key is not the harness's");
    assert_eq!(value_text(&out.output[3]), "hi\"");
    assert_eq!(out.output[5], Value::I32(123));
}

/// [`compare_common`], and pool requests and GET_COMMAND_METADATA equal to pypsrp's, message
/// by message (call ids, counts, name patterns, command types, namespaces).
fn compare_payloads(rec: &Envelope, ours: &Envelope) -> Vec<String> {
    let mut out = compare_common(rec, ours);
    let pool_level = |p: &Payload| {
        matches!(
            p,
            Payload::SetMaxRunspaces(_)
                | Payload::SetMinRunspaces(_)
                | Payload::GetAvailableRunspaces(_)
                | Payload::ResetRunspaceState(_)
                | Payload::GetCommandMetadata(_)
        )
    };
    match (payloads(rec), payloads(ours)) {
        (Ok(a), Ok(b)) => {
            let a: Vec<_> = a.into_iter().filter(pool_level).collect();
            let b: Vec<_> = b.into_iter().filter(pool_level).collect();
            if a != b {
                out.push(format!("requests {b:?} instead of {a:?}"));
            }
        }
        (a, b) => out.push(format!(
            "payloads do not decode: {:?} / {:?}",
            a.err(),
            b.err()
        )),
    }
    out
}

async fn open(c: &sessions::WsManClient, stem: &str) -> Result<PsSession, String> {
    let mut so = SessionOptions::default();
    so.runspace_pool_id = recorded(stem).0;
    PsSession::new(c, "replay", so).await.map_err(step("open"))
}

#[tokio::test]
async fn test_psrp_set_runspaces() {
    let stem = "test_psrp_set_runspaces";
    let r = Replay::pypsrp(stem)
        .options(options())
        .compare(Box::new(compare_payloads))
        .run(|c| async move {
            let mut s = open(&c, stem).await?;
            let mut seen = Vec::new();
            seen.push(format!(
                "{}",
                s.get_available_runspaces()
                    .await
                    .map_err(step("available"))?
            ));
            seen.push(format!(
                "{}",
                s.set_max_runspaces(5).await.map_err(step("max 5"))?
            ));
            seen.push(format!(
                "{}",
                s.get_available_runspaces()
                    .await
                    .map_err(step("available"))?
            ));
            seen.push(format!(
                "{}",
                s.set_min_runspaces(2).await.map_err(step("min 2"))?
            ));
            seen.push(format!(
                "{}",
                s.set_min_runspaces(-1).await.map_err(step("min -1"))?
            ));
            seen.push(format!(
                "{}",
                s.set_max_runspaces(-1).await.map_err(step("max -1"))?
            ));
            // Refused changes leave the agreed limits alone.
            seen.push(format!("{:?}", s.runspaces()));
            s.remove().await.map_err(step("close"))?;
            let expected = ["1", "true", "5", "true", "false", "false", "(2, 5)"];
            if seen != expected {
                return Err(format!("answers {seen:?} instead of {expected:?}"));
            }
            Ok(())
        })
        .await;
    r.assert_passed();
}

/// Runs the recorded pipelines with a reset between the first and the second.
async fn reset_between(stem: &'static str, expect_reset: bool) {
    let (_, pipelines) = recorded(stem);
    let r = Replay::pypsrp(stem)
        .options(options())
        .compare(Box::new(compare_payloads))
        .run(|c| async move {
            let mut s = open(&c, stem).await?;
            let mut outputs = Vec::new();
            let mut run = async |s: &mut PsSession, i: usize| -> Result<(), String> {
                if let Some((id, ps)) = pipelines.get(i) {
                    let mut inv = Invocation::default();
                    inv.commands = ps.cmds.clone();
                    inv.pipeline_id = Some(*id);
                    let out = s.invoke(&inv).await.map_err(step("invoke"))?;
                    outputs.push(out.output.iter().map(value_text).collect::<Vec<_>>());
                }
                Ok(())
            };
            run(&mut s, 0).await?;
            let reset = s.reset_runspace_state().await.map_err(step("reset"))?;
            run(&mut s, 1).await?;
            s.remove().await.map_err(step("close"))?;
            if reset != expect_reset {
                return Err(format!("reset answered {reset}"));
            }
            let expected: Vec<Vec<String>> = if expect_reset {
                // `echo hi`, then Get-History: empty after the reset.
                vec![vec!["hi".into()], vec![]]
            } else {
                vec![]
            };
            if outputs != expected {
                return Err(format!("outputs {outputs:?} instead of {expected:?}"));
            }
            Ok(())
        })
        .await;
    r.assert_passed();
}

#[tokio::test]
async fn test_psrp_reset_runspace_state() {
    reset_between("test_psrp_reset_runspace_state", true).await;
}

#[tokio::test]
async fn test_psrp_reset_runspace_state_fail() {
    reset_between("test_psrp_reset_runspace_state_fail", false).await;
}

#[tokio::test]
async fn test_psrp_get_command_metadata() {
    let stem = "test_psrp_get_command_metadata";
    let file = pypsrp_scenario(stem);
    let mut requests = Vec::new();
    for ex in &file.exchanges {
        let Some(Ok(env)) = ex.request.as_deref().map(Envelope::decode) else {
            continue;
        };
        let Body::Command(line) = &env.body else {
            continue;
        };
        let id = line
            .command_id
            .as_ref()
            .and_then(|c| Uuid::parse_str(c.as_str()).ok());
        for p in payloads(&env).unwrap_or_default() {
            if let (Payload::GetCommandMetadata(m), Some(id)) = (p, id) {
                requests.push((id, m));
            }
        }
    }
    assert_eq!(requests.len(), 3);
    let r = Replay::pypsrp(stem)
        .options(options())
        .compare(Box::new(compare_payloads))
        .run(|c| async move {
            let mut s = open(&c, stem).await?;
            let mut counts = Vec::new();
            for (id, request) in &requests {
                let out = s
                    .get_command_metadata(request, Some(*id))
                    .await
                    .map_err(step("get command metadata"))?;
                if !out.is_completed() {
                    return Err(format!("not completed: {out:?}"));
                }
                counts.push(out.output.len());
            }
            s.remove().await.map_err(step("close"))?;
            // A count object, then New-PSSession / New-PSSessionOption… / Get-WSMan…
            if counts != [4, 3, 3] {
                return Err(format!("outputs {counts:?}"));
            }
            Ok(())
        })
        .await;
    r.assert_passed();
}

#[tokio::test]
async fn test_psrp_multiple_invocations() {
    // The same pipeline twice, each closed with a Terminate signal after it completed, the
    // second under the same id (pypsrp's PowerShell.invoke twice on one object).
    let stem = "test_psrp_multiple_invocations";
    let (_, pipelines) = recorded(stem);
    assert_eq!(pipelines.len(), 2);
    let r = Replay::pypsrp(stem)
        .options(options())
        .compare(Box::new(compare_payloads))
        .run(|c| async move {
            let mut s = open(&c, stem).await?;
            let mut outputs = Vec::new();
            for (id, ps) in &pipelines {
                let mut inv = Invocation::default();
                inv.commands = ps.cmds.clone();
                inv.pipeline_id = Some(*id);
                let out = s.invoke(&inv).await.map_err(step("invoke"))?;
                s.terminate_command(&out.command_id)
                    .await
                    .map_err(step("terminate"))?;
                outputs.push(out.output.iter().map(value_text).collect::<Vec<_>>());
            }
            s.remove().await.map_err(step("close"))?;
            if outputs != [["2"], ["2"]] {
                return Err(format!("outputs {outputs:?}"));
            }
            Ok(())
        })
        .await;
    r.assert_passed();
}

#[tokio::test]
async fn test_psrp_key_exchange_timeout() {
    // Windows never answers PUBLIC_KEY here (the Receive comes back empty): the client gives
    // up when its key exchange timeout is over, and the session can still be closed.
    let stem = "test_psrp_key_exchange_timeout";
    let state = Arc::new(Mutex::new(Exchange::default()));
    let s1 = state.clone();
    let key =
        psrp::crypto::ExchangeKey::generate(&mut ChaCha20Rng::from_seed([6; 32])).expect("rsa key");
    let r = Replay::pypsrp(stem)
        .options(options())
        .compare(Box::new(move |rec, ours| compare_keyed(&s1, rec, ours)))
        .run(|c| async move {
            let mut s = open(&c, stem).await?;
            match s.exchange_keys_within(key, Duration::ZERO).await {
                Err(err) if err.to_string().contains("in time") => {}
                other => return Err(format!("key exchange: {other:?}")),
            }
            if s.session_key().is_some() {
                return Err("a session key without an answer".into());
            }
            s.remove().await.map_err(step("close"))
        })
        .await;
    r.assert_passed();
    assert!(
        state.lock().expect("state").ours.is_some(),
        "PUBLIC_KEY sent"
    );
}

/// Opens, then asks `is_alive` once per answer in `expected`; closes when `close`.
async fn alive(stem: &'static str, expected: &'static [Result<bool, ()>], close: bool) {
    let r = Replay::pypsrp(stem)
        .options(options())
        .compare(Box::new(compare_payloads))
        .run(|c| async move {
            let mut s = open(&c, stem).await?;
            let mut seen = Vec::new();
            for _ in expected {
                seen.push(s.is_alive().await.map_err(|_| ()));
            }
            if seen != expected {
                return Err(format!("is_alive {seen:?} instead of {expected:?}"));
            }
            if close {
                s.remove().await.map_err(step("close"))?;
            }
            Ok(())
        })
        .await;
    r.assert_passed();
}

#[tokio::test]
async fn test_psrp_is_alive_state_disconnected() {
    // Connected, then Disconnected (by another client meanwhile).
    alive(
        "test_psrp_is_alive_state_disconnected",
        &[Ok(true), Ok(false)],
        false,
    )
    .await;
}

#[tokio::test]
async fn test_psrp_is_alive_invalid_selectors() {
    // The shell is gone: InvalidSelectors means not alive.
    alive(
        "test_psrp_is_alive_invalid_selectors",
        &[Ok(true), Ok(false)],
        false,
    )
    .await;
}

#[tokio::test]
async fn test_psrp_is_alive_http_error() {
    // The server cannot be reached: not alive.
    alive(
        "test_psrp_is_alive_http_error",
        &[Ok(true), Ok(false)],
        false,
    )
    .await;
}

#[tokio::test]
async fn test_psrp_is_alive_other_wsman_error() {
    // Any other fault says nothing about the shell: an error, and the session still closes.
    alive("test_psrp_is_alive_other_wsman_error", &[Err(())], true).await;
}

#[tokio::test]
async fn test_psrp_receive_failure() {
    // A Receive for a command the server does not know: the fault reaches the caller, and the
    // session can still be closed.
    let stem = "test_psrp_receive_failure";
    let file = pypsrp_scenario(stem);
    let command = file
        .exchanges
        .iter()
        .filter_map(|ex| ex.request.as_deref().map(Envelope::decode))
        .find_map(|env| match env {
            Ok(Envelope {
                body: Body::Receive(r),
                ..
            }) => r.command_id,
            _ => None,
        })
        .expect("a command Receive");
    let r = Replay::pypsrp(stem)
        .options(options())
        .compare(Box::new(compare_payloads))
        .run(|c| async move {
            let s = open(&c, stem).await?;
            let mut pipeline = s.attach(&command).map_err(step("attach"))?;
            match pipeline.next().await {
                Err(err) if err.fault().is_some() => {}
                other => return Err(format!("receive: {other:?}")),
            }
            s.remove().await.map_err(step("close"))
        })
        .await;
    r.assert_passed();
}

#[tokio::test]
async fn test_psrp_nested_command() {
    // A busy pipeline, a nested one (IsNested) run meanwhile, then the first is stopped.
    let stem = "test_psrp_nested_command";
    let (_, pipelines) = recorded(stem);
    assert_eq!(pipelines.len(), 2);
    let compare = |rec: &Envelope, ours: &Envelope| {
        let mut out = compare_payloads(rec, ours);
        if let (Body::Command(a), Body::Command(b)) = (&rec.body, &ours.body) {
            match (create_pipeline(a), create_pipeline(b)) {
                (Ok(a), Ok(b)) => {
                    let nested = |c: &CreatePipeline| (c.is_nested, c.power_shell.is_nested);
                    if nested(&a) != nested(&b) {
                        out.push(format!(
                            "IsNested {:?} instead of {:?}",
                            nested(&b),
                            nested(&a)
                        ));
                    }
                }
                (a, b) => out.push(format!("CREATE_PIPELINE: {:?} / {:?}", a.err(), b.err())),
            }
        }
        out
    };
    let r = Replay::pypsrp(stem)
        .options(options())
        .compare(Box::new(compare))
        .run(|c| async move {
            let mut s = open(&c, stem).await?;
            let mut busy = Invocation::default();
            busy.commands = pipelines[0].1.cmds.clone();
            busy.pipeline_id = Some(pipelines[0].0);
            let running = s.start(&busy).await.map_err(step("start"))?;
            let mut nested = Invocation::default();
            nested.commands = pipelines[1].1.cmds.clone();
            nested.pipeline_id = Some(pipelines[1].0);
            nested.nested = true;
            let out = s.invoke(&nested).await.map_err(step("nested"))?;
            if !out.is_completed() || out.output.is_empty() {
                return Err(format!("nested: {out:?}"));
            }
            running.stopper().stop().await.map_err(step("stop"))?;
            s.remove().await.map_err(step("close"))
        })
        .await;
    r.assert_passed();
}
