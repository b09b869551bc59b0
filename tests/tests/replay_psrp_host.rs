//! Replays of pypsrp's recorded scenarios that need a caller-supplied PowerShell host
//! (`pshost_ui_mocked_methods`, `pshost_raw_ui_mocked_methods`) and of its disconnected
//! commands scenario, against `sessions::pssession` with a [`PsHost`] of the test's own.
//!
//! Requests are compared as in `replay_psrp.rs` (headers without MaxEnvelopeSize, bodies by
//! kind and ids), and by PSRP content where the host matters:
//! - the HostInfo of INIT_RUNSPACEPOOL and of each CREATE_PIPELINE must equal pypsrp's (the
//!   raw UI values announced, the null flags), and the pipeline's commands too;
//! - every PIPELINE_HOST_RESPONSE must equal pypsrp's (call id, method, return value), except
//!   that a SecureString must be one of ours: it must decrypt with the harness's session key
//!   to the plain text pypsrp's host returned.
//!
//! `pshost_ui_mocked_methods` exchanges a session key first. The recorded
//! ENCRYPTED_SESSION_KEY is encrypted for pypsrp's RSA key, whose private half is not in the
//! recording, so its ciphertext is swapped for one carrying [`HARNESS_KEY`] encrypted for the
//! public key our client sent (the same technique as `replay_psrp_more.rs`). The SecureString
//! the server then echoes as output was encrypted with Windows' own key, unknown here: it is
//! only checked to arrive as a SecureString.

use std::sync::{Arc, Mutex};

use psrp::clixml::{Container, PsObject, Value};
use psrp::crypto::{PublicKey, SessionKey};
use psrp::message::MessageType;
use psrp::messages::{CreatePipeline, HostResponse, InitRunspacePool, Payload};
use psrp::records::{HostInfo, PowerShellPipeline};
use sessions::pssession::{
    ChoiceDescription, Coordinates, Credential, DisconnectOptions, FieldDescription, HostError,
    Invocation, InvokeOutput, KeyInfo, PsHost, PsSession, RawUiDefaults, SessionOptions, Size,
    host_info, value_text,
};
use tests::replay::Replay;
use tests::replay::pypsrp::{
    command_id_problem, compare_psrp_headers, connect_problem, created, enumerate_problem,
    messages, options, payloads, receive_problem, send_streams_problem, shell_id_problem, step,
    swap_session_key,
};
use uuid::Uuid;
use wsman::shell::Reconnect;
use wsman::{Body, Envelope};

/// The session key the harness hands our client in place of Windows' one.
const HARNESS_KEY: [u8; 32] = [0x3c; 32];

// ---- what pypsrp sent ----------------------------------------------------------------------

/// The CREATE_PIPELINE among a Command's payloads.
fn create_pipeline(env: &Envelope) -> Result<CreatePipeline, String> {
    payloads(env)?
        .into_iter()
        .find_map(|p| match p {
            Payload::CreatePipeline(c) => Some(*c),
            _ => None,
        })
        .ok_or_else(|| "no CREATE_PIPELINE".to_owned())
}

fn init_runspace_pool(env: &Envelope) -> Result<InitRunspacePool, String> {
    payloads(env)?
        .into_iter()
        .find_map(|p| match p {
            Payload::InitRunspacePool(i) => Some(i),
            _ => None,
        })
        .ok_or_else(|| "no INIT_RUNSPACEPOOL".to_owned())
}

fn host_responses(env: &Envelope) -> Result<Vec<HostResponse>, String> {
    Ok(payloads(env)?
        .into_iter()
        .filter_map(|p| match p {
            Payload::PipelineHostResponse(r) => Some(r),
            _ => None,
        })
        .collect())
}

// ---- comparison ----------------------------------------------------------------------------

/// What the comparator learns on the way.
#[derive(Debug, Default)]
struct Seen {
    /// The public key our client sent (PUBLIC_KEY).
    public_key: Option<PublicKey>,
    /// The plain text of every SecureString our host responses carried, in order.
    secrets: Vec<String>,
}

/// Header comparison (MaxEnvelopeSize aside, see `replay_psrp.rs`), body kind and ids, and the
/// PSRP content that depends on the host.
fn compare(seen: &Mutex<Seen>, rec: &Envelope, ours: &Envelope) -> Vec<String> {
    let mut out = compare_psrp_headers(rec, ours);
    match (&rec.body, &ours.body) {
        (Body::Create(a), Body::Create(b)) => {
            out.extend(shell_id_problem(a, b));
            match (init_runspace_pool(rec), init_runspace_pool(ours)) {
                (Ok(r), Ok(o)) => {
                    if r.host_info != o.host_info {
                        out.push(format!(
                            "INIT_RUNSPACEPOOL HostInfo {:?} instead of {:?}",
                            o.host_info, r.host_info
                        ));
                    }
                    if (r.min_runspaces, r.max_runspaces) != (o.min_runspaces, o.max_runspaces) {
                        out.push("INIT_RUNSPACEPOOL runspace counts differ".into());
                    }
                }
                (r, o) => out.push(format!("INIT_RUNSPACEPOOL: {:?} / {:?}", r.err(), o.err())),
            }
        }
        (Body::Command(a), Body::Command(b)) => {
            out.extend(command_id_problem(a, b));
            match (create_pipeline(rec), create_pipeline(ours)) {
                (Ok(r), Ok(o)) => {
                    if r.host_info != o.host_info {
                        out.push(format!(
                            "CREATE_PIPELINE HostInfo {:?} instead of {:?}",
                            o.host_info, r.host_info
                        ));
                    }
                    if r.power_shell.cmds != o.power_shell.cmds || r.no_input != o.no_input {
                        out.push("CREATE_PIPELINE commands or NoInput differ".into());
                    }
                }
                (r, o) => out.push(format!("CREATE_PIPELINE: {:?} / {:?}", r.err(), o.err())),
            }
        }
        (Body::Receive(a), Body::Receive(b)) => out.extend(receive_problem(a, b)),
        (Body::Send(a), Body::Send(b)) => {
            if !host_response_to_its_pipeline(a, b) {
                out.extend(send_streams_problem(a, b));
            }
            out.extend(compare_sends(seen, rec, ours));
        }
        (Body::Connect(a), Body::Connect(b)) => out.extend(connect_problem(a, b)),
        (Body::Enumerate(a), Body::Enumerate(b)) => out.extend(enumerate_problem(a, b)),
        // pypsrp's Reconnect has an empty body; ours must name nothing either (no CommandId,
        // no BufferMode), whatever body kind the empty one decodes to.
        (_, Body::Reconnect(r))
            if rec.header.action == ours.header.action
                && (r.command_id.is_some() || r.buffer_mode.is_some()) =>
        {
            out.push(format!("Reconnect {r:?} instead of a bare one"));
        }
        (_, Body::Reconnect(_)) if rec.header.action == ours.header.action => {}
        (a, b) if a.kind() != b.kind() => {
            out.push(format!("body {} instead of {}", b.kind(), a.kind()));
        }
        (a, b) if a != b => out.push(format!("body differs: {b:?} instead of {a:?}")),
        _ => {}
    }
    out
}

/// pypsrp sent its PIPELINE_HOST_RESPONSEs on the pool's `pr` stream, without a CommandId
/// (Windows routes them by the message's pipeline id); MS-PSRP 3.1.5.3.5 says a Send targeted
/// to a pipeline MUST carry its CommandId, as ours does. Accepted when every stream is `pr`,
/// pypsrp's have no CommandId, and ours name the pipeline each message is for.
fn host_response_to_its_pipeline(rec: &wsman::shell::Send, ours: &wsman::shell::Send) -> bool {
    let all_pr = |s: &wsman::shell::Send| s.streams.iter().all(|st| st.name == "pr");
    if !all_pr(rec) || !all_pr(ours) || rec.streams.len() != ours.streams.len() {
        return false;
    }
    if rec.streams.iter().any(|st| st.command_id.is_some()) {
        return false;
    }
    ours.streams.iter().all(|st| {
        let Some(id) = st
            .command_id
            .as_ref()
            .and_then(|c| Uuid::parse_str(c.as_str()).ok())
        else {
            return false;
        };
        messages(std::slice::from_ref(&st.data)).is_ok_and(|ms| {
            !ms.is_empty()
                && ms.iter().all(|m| {
                    m.message_type == MessageType::PIPELINE_HOST_RESPONSE && m.pipeline_id.0 == id
                })
        })
    })
}

/// Sends: our PUBLIC_KEY is kept for the rekeying; host responses must match pypsrp's.
fn compare_sends(seen: &Mutex<Seen>, rec: &Envelope, ours: &Envelope) -> Vec<String> {
    let mut out = Vec::new();
    let (r, o) = match (payloads(rec), payloads(ours)) {
        (Ok(r), Ok(o)) => (r, o),
        (r, o) => return vec![format!("Send payloads: {:?} / {:?}", r.err(), o.err())],
    };
    let types = |ps: &[Payload]| ps.iter().map(Payload::message_type).collect::<Vec<_>>();
    if types(&r) != types(&o) {
        out.push(format!(
            "messages {:?} instead of {:?}",
            types(&o),
            types(&r)
        ));
    }
    let Ok(mut seen) = seen.lock() else {
        return vec!["comparator state poisoned".into()];
    };
    for p in &o {
        if let Payload::PublicKey(k) = p {
            match PublicKey::from_blob(&k.public_key) {
                Ok(key) if key.bits() == 2048 => seen.public_key = Some(key),
                Ok(key) => out.push(format!("a {}-bit key, not 2048", key.bits())),
                Err(e) => out.push(format!("our PUBLIC_KEY blob: {e}")),
            }
        }
    }
    let (Ok(r), Ok(o)) = (host_responses(rec), host_responses(ours)) else {
        return out;
    };
    let key = SessionKey::from_bytes(HARNESS_KEY);
    for (r, o) in r.iter().zip(&o) {
        if (r.call_id, r.method) != (o.call_id, o.method) {
            out.push(format!(
                "host response to {}/{:?} instead of {}/{:?}",
                o.call_id, o.method, r.call_id, r.method
            ));
        }
        if r.error.is_some() != o.error.is_some() {
            out.push(format!("host response {} error differs", r.call_id));
        }
        let (mut rs, mut os) = (Vec::new(), Vec::new());
        let rv = r.return_value.as_ref().map(|v| blank_secrets(v, &mut rs));
        let ov = o.return_value.as_ref().map(|v| blank_secrets(v, &mut os));
        if rv != ov || rs.len() != os.len() {
            out.push(format!(
                "host response {} returns {:?} instead of {:?}",
                r.call_id, o.return_value, r.return_value
            ));
        }
        for secret in os {
            match key.decrypt_secure_string(&secret) {
                Ok(text) => seen.secrets.push(text),
                Err(e) => out.push(format!("our SecureString does not decrypt: {e}")),
            }
        }
    }
    out
}

/// `value` with every SecureString replaced by nil; their bytes go to `found`.
fn blank_secrets(value: &Value, found: &mut Vec<Vec<u8>>) -> Value {
    match value {
        Value::SecureString(b) => {
            found.push(b.clone());
            Value::Nil
        }
        Value::Object(o) => {
            let mut copy = PsObject::clone(o);
            for p in copy.adapted.iter_mut().chain(copy.extended.iter_mut()) {
                p.value = blank_secrets(&p.value, found);
            }
            copy.value = copy.value.as_ref().map(|v| blank_secrets(v, found));
            copy.container = copy.container.map(|c| match c {
                Container::List(v) => {
                    Container::List(v.iter().map(|i| blank_secrets(i, found)).collect())
                }
                Container::Dictionary(d) => Container::Dictionary(
                    d.iter()
                        .map(|(k, v)| (k.clone(), blank_secrets(v, found)))
                        .collect(),
                ),
                other => other,
            });
            Value::object(copy)
        }
        other => other.clone(),
    }
}

/// Swaps the ciphertext of a recorded ENCRYPTED_SESSION_KEY for [`HARNESS_KEY`] encrypted for
/// our public key; any other response passes unchanged.
fn rekey(seen: &Mutex<Seen>, response: String) -> String {
    match seen.lock().ok().and_then(|s| s.public_key.clone()) {
        Some(ours) => swap_session_key(response, &ours, &HARNESS_KEY, 6),
        None => response,
    }
}

// ---- the hosts -----------------------------------------------------------------------------

/// A host answering as pypsrp's mocked one did, and noting every call it gets.
#[derive(Debug, Default)]
struct MockHost {
    /// With a raw UI: its announced values.
    raw_ui: Option<RawUiDefaults>,
    /// Announce no host at all (pypsrp without a host).
    none: bool,
    calls: Mutex<Vec<String>>,
}

impl MockHost {
    fn note(&self, call: String) {
        if let Ok(mut c) = self.calls.lock() {
            c.push(call);
        }
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

impl PsHost for MockHost {
    fn host_info(&self) -> Option<HostInfo> {
        if self.none {
            return Some(HostInfo::default());
        }
        Some(host_info(true, self.raw_ui.as_ref()))
    }

    fn read_line(&self) -> Result<String, HostError> {
        self.note("ReadLine".into());
        Ok("ReadLine response".into())
    }

    fn read_line_as_secure_string(&self) -> Result<String, HostError> {
        self.note("ReadLineAsSecureString".into());
        Ok("ReadLineAsSecureString response".into())
    }

    fn write(&self, text: &str, colors: Option<(i32, i32)>, newline: bool) {
        self.note(format!("Write {text:?} {colors:?} {newline}"));
    }

    fn write_error_line(&self, text: &str) {
        self.note(format!("WriteErrorLine {text}"));
    }

    fn write_debug_line(&self, text: &str) {
        self.note(format!("WriteDebugLine {text}"));
    }

    fn write_verbose_line(&self, text: &str) {
        self.note(format!("WriteVerboseLine {text}"));
    }

    fn write_warning_line(&self, text: &str) {
        self.note(format!("WriteWarningLine {text}"));
    }

    fn write_progress(&self, source_id: i64, record: &Value) {
        let activity = record
            .as_object()
            .and_then(|o| o.property_str("Activity"))
            .unwrap_or_default();
        self.note(format!("WriteProgress {source_id} {activity}"));
    }

    fn prompt(
        &self,
        caption: &str,
        message: &str,
        fields: &[FieldDescription],
    ) -> Result<Vec<(String, Value)>, HostError> {
        let names: Vec<_> = fields
            .iter()
            .map(|f| format!("{}/{}", f.name, f.label))
            .collect();
        self.note(format!("Prompt {caption} | {message} | {names:?}"));
        Ok(vec![("prompt field".into(), "prompt response".into())])
    }

    fn prompt_for_credential(
        &self,
        caption: &str,
        message: &str,
        user_name: &str,
        target_name: &str,
        allowed_types: Option<i32>,
        options: Option<i32>,
    ) -> Result<Credential, HostError> {
        self.note(format!(
            "PromptForCredential {caption} | {message} | {user_name} | {target_name} | \
             {allowed_types:?} | {options:?}"
        ));
        Ok(Credential {
            user_name: "username".into(),
            password: "password".into(),
        })
    }

    fn prompt_for_choice(
        &self,
        caption: &str,
        message: &str,
        choices: &[ChoiceDescription],
        default_choice: i32,
    ) -> Result<i32, HostError> {
        let labels: Vec<_> = choices
            .iter()
            .map(|c| format!("{}/{}", c.label, c.help_message))
            .collect();
        self.note(format!(
            "PromptForChoice {caption} | {message} | {labels:?} | {default_choice}"
        ));
        Ok(1)
    }

    fn set_foreground_color(&self, color: i32) {
        self.note(format!("SetForegroundColor {color}"));
    }

    fn set_background_color(&self, color: i32) {
        self.note(format!("SetBackgroundColor {color}"));
    }

    fn set_cursor_position(&self, position: Coordinates) {
        self.note(format!("SetCursorPosition {},{}", position.x, position.y));
    }

    fn set_window_position(&self, position: Coordinates) {
        self.note(format!("SetWindowPosition {},{}", position.x, position.y));
    }

    fn set_cursor_size(&self, size: i32) {
        self.note(format!("SetCursorSize {size}"));
    }

    fn set_buffer_size(&self, size: Size) {
        self.note(format!("SetBufferSize {},{}", size.width, size.height));
    }

    fn set_window_size(&self, size: Size) {
        self.note(format!("SetWindowSize {},{}", size.width, size.height));
    }

    fn set_window_title(&self, title: &str) {
        self.note(format!("SetWindowTitle {title}"));
    }

    fn read_key(&self, options: i32) -> Result<KeyInfo, HostError> {
        self.note(format!("ReadKey {options}"));
        Ok(KeyInfo {
            virtual_key_code: 65,
            character: u16::from(b'a'),
            control_key_state: 0x80,
            key_down: true,
        })
    }

    fn flush_input_buffer(&self) {
        self.note("FlushInputBuffer".into());
    }

    fn set_buffer_contents(&self, parameters: &[Value]) {
        self.note(format!("SetBufferContents {}", parameters.len()));
    }

    fn scroll_buffer_contents(&self, parameters: &[Value]) {
        self.note(format!("ScrollBufferContents {}", parameters.len()));
    }
}

// ---- drivers -------------------------------------------------------------------------------

fn session_options(pool: Option<&Uuid>, host: Arc<MockHost>) -> SessionOptions {
    let mut o = SessionOptions::default().host(host);
    o.runspace_pool_id = pool.copied();
    o
}

fn invocation(id: Uuid, ps: &PowerShellPipeline) -> Invocation {
    let mut inv = Invocation::default();
    inv.commands = ps.cmds.clone();
    inv.pipeline_id = Some(id);
    inv
}

/// Open with `host` (exchanging keys first when `keyed`), run the recorded pipeline, close.
async fn host_scenario(
    stem: &str,
    host: Arc<MockHost>,
    keyed: bool,
) -> (InvokeOutput, Arc<Mutex<Seen>>) {
    let rec = created(stem);
    assert_eq!(rec.pipelines.len(), 1, "{stem} runs one pipeline");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (s1, s2) = (seen.clone(), seen.clone());
    let output = Arc::new(Mutex::new(None));
    let got = output.clone();
    let r = Replay::pypsrp(stem)
        .options(options())
        .compare(Box::new(move |rec, ours| compare(&s1, rec, ours)))
        .rewrite(Box::new(move |_, response| rekey(&s2, response)))
        .run(|c| async move {
            let mut s = PsSession::new(&c, "replay", session_options(rec.pools.first(), host))
                .await
                .map_err(step("open"))?;
            if keyed {
                s.exchange_keys().await.map_err(step("exchange keys"))?;
                if s.session_key().map(SessionKey::as_bytes) != Some(&HARNESS_KEY) {
                    return Err("the session key is not the one the harness sent".into());
                }
            }
            let (id, ps) = rec.pipelines.first().ok_or("no pipeline")?;
            let out = s
                .invoke(&invocation(*id, ps))
                .await
                .map_err(step("invoke"))?;
            if let Ok(mut o) = got.lock() {
                *o = Some(out);
            }
            s.remove().await.map_err(step("close"))
        })
        .await;
    r.assert_passed();
    let out = output
        .lock()
        .expect("output lock")
        .take()
        .expect("the pipeline's output");
    (out, seen)
}

#[tokio::test]
async fn test_psrp_pshost_ui_mocked_methods() {
    let host = Arc::new(MockHost::default());
    let (out, seen) = host_scenario("test_psrp_pshost_ui_mocked_methods", host.clone(), true).await;
    assert!(out.is_completed(), "{out:?}");
    assert_eq!(out.output.len(), 5, "{out:?}");
    // What the host answered comes back as the script's output.
    assert_eq!(out.output[0], Value::String("ReadLine response".into()));
    // Echoed by Windows encrypted with its own session key: a SecureString, not readable here.
    assert!(matches!(out.output[1], Value::SecureString(_)), "{out:?}");
    let prompt = out.output[2]
        .as_dict()
        .expect("Prompt's answer is a dictionary");
    assert_eq!(prompt.len(), 1);
    assert_eq!(value_text(&prompt[0].0), "prompt field");
    assert_eq!(value_text(&prompt[0].1), "prompt response");
    let credential = out.output[3].as_object().expect("a PSCredential");
    assert!(credential.is_type("System.Management.Automation.PSCredential"));
    assert_eq!(credential.property_str("UserName"), Some("username"));
    assert!(matches!(
        credential.property("Password"),
        Some(Value::SecureString(_))
    ));
    assert_eq!(out.output[4], Value::I32(1));
    // Our SecureStrings (ReadLineAsSecureString, the credential's password) were encrypted
    // with the session key the harness handed over.
    assert_eq!(
        seen.lock().expect("seen").secrets,
        ["ReadLineAsSecureString response", "password"]
    );
    // The host was called with what the script passed; writes also reach the output.
    let calls = host.calls();
    let expected = [
        "ReadLine",
        "ReadLineAsSecureString",
        "Write \"Write1\" None false",
        "Write \"Write2\" Some((9, 15)) false",
        "Write \"\" None true",
        "Write \"WriteLine2\" None true",
        "Write \"WriteLine3\" Some((7, 10)) true",
        "WriteErrorLine WriteErrorLine",
        "WriteDebugLine WriteDebugLine",
        "WriteProgress 1 activity",
        "WriteVerboseLine WriteVerboseLine",
        "WriteWarningLine WriteWarningLine",
        "Prompt Prompt caption | Prompt message | [\"prompt field/PromptLabel\"]",
        "PromptForCredential PromptForCredential caption | PromptForCredential message | \
         PromptForCredential user | PromptForCredential target | Some(3) | Some(1)",
        "PromptForChoice PromptForChoice caption | PromptForChoice message | \
         [\"Prompt1 label/Prompt1 help\", \"Prompt2 label/Prompt2 help\"] | 0",
    ];
    let relevant: Vec<_> = calls
        .iter()
        .filter(|c| !c.ends_with("Preparing modules for first use."))
        .cloned()
        .collect();
    assert_eq!(relevant, expected);
    assert!(out.host.iter().any(|h| h == "WriteLine3"), "{:?}", out.host);
    // The server sent the warning both as a record and as the host call.
    assert_eq!(out.warnings, ["WriteWarningLine", "WriteWarningLine"]);
}

#[tokio::test]
async fn test_psrp_pshost_raw_ui_mocked_methods() {
    let raw = RawUiDefaults {
        foreground_color: 15,
        background_color: 9,
        cursor_position: Coordinates { x: 1, y: 2 },
        window_position: Coordinates { x: 3, y: 4 },
        cursor_size: 50,
        buffer_size: Size {
            width: 80,
            height: 80,
        },
        window_size: Size {
            width: 80,
            height: 80,
        },
        max_window_size: Size {
            width: 80,
            height: 80,
        },
        max_physical_window_size: Size {
            width: 80,
            height: 80,
        },
        window_title: "pypsrp window".into(),
    };
    let host = Arc::new(MockHost {
        raw_ui: Some(raw),
        ..MockHost::default()
    });
    let (out, _) = host_scenario(
        "test_psrp_pshost_raw_ui_mocked_methods",
        host.clone(),
        false,
    )
    .await;
    assert!(out.is_completed(), "{out:?}");
    // The getters were answered by the server from the values announced in HostInfo, then
    // from what the script set; ReadKey from the host.
    assert_eq!(
        out.output_lines(),
        [
            "White",
            "Green",
            "Blue",
            "Red",
            "1,2",
            "11,12",
            "3,4",
            "13,14",
            "50",
            "25",
            "80,80",
            "8,9",
            "80,80",
            "8,9",
            "pypsrp window",
            "New Window Title",
            "65,a,CapsLockOn,True",
        ]
    );
    let calls = host.calls();
    let relevant: Vec<_> = calls
        .iter()
        .filter(|c| !c.starts_with("WriteProgress"))
        .cloned()
        .collect();
    assert_eq!(
        relevant,
        [
            "SetForegroundColor 10",
            "SetBackgroundColor 12",
            "SetCursorPosition 11,12",
            "SetWindowPosition 13,14",
            "SetCursorSize 25",
            "SetBufferSize 8,9",
            "SetWindowSize 8,9",
            "SetWindowTitle New Window Title",
            "ReadKey 4",
            "FlushInputBuffer",
            "SetBufferContents 2",
            "SetBufferContents 2",
            "ScrollBufferContents 4",
        ]
    );
}

#[tokio::test]
async fn test_psrp_disconnected_commands() {
    let stem = "test_psrp_disconnected_commands";
    let rec = created(stem);
    assert_eq!((rec.pools.len(), rec.pipelines.len()), (2, 2));
    // pypsrp ran this one without a host: the null HostInfo.
    let host = Arc::new(MockHost {
        none: true,
        ..MockHost::default()
    });
    let seen = Arc::new(Mutex::new(Seen::default()));
    let outputs = Arc::new(Mutex::new(Vec::new()));
    let got = outputs.clone();
    let r = Replay::pypsrp(stem)
        .options(options())
        .compare(Box::new(move |rec, ours| compare(&seen, rec, ours)))
        .run(|c| async move {
            // Two pools, each starting the script and disconnecting while it runs.
            for (pool, (id, ps)) in rec.pools.iter().zip(&rec.pipelines) {
                let mut s = PsSession::new(&c, "replay", session_options(Some(pool), host.clone()))
                    .await
                    .map_err(step("open"))?;
                let pipeline = s.start(&invocation(*id, ps)).await.map_err(step("start"))?;
                drop(pipeline);
                s.disconnect(DisconnectOptions::default())
                    .await
                    .map_err(step("disconnect"))?;
            }
            // Then: find them, connect to each (reattaching its running command) and receive.
            let remote = PsSession::enumerate(&c).await.map_err(step("enumerate"))?;
            if remote.len() != 2 || remote.iter().any(|r| r.commands.len() != 1) {
                return Err(format!("enumerated {remote:?}"));
            }
            let mut sessions = Vec::new();
            for r in &remote {
                let mut s = PsSession::connect(&c, "replay", r)
                    .await
                    .map_err(step("connect"))?;
                if s.pending_commands().len() != 1 {
                    return Err(format!(
                        "{} commands to receive",
                        s.pending_commands().len()
                    ));
                }
                let outs = s.receive(None).await.map_err(step("receive"))?;
                if let Ok(mut o) = got.lock() {
                    o.extend(outs);
                }
                sessions.push(s);
            }
            // pypsrp's cleanup connects each pool once more (a WS-Man Reconnect: its pool
            // object still thinks it disconnected) and closes it. Ours knows the pool is
            // connected, so `reconnect` would not ask; the driver sends the same Reconnect
            // through the client.
            for s in sessions {
                let uri = sessions::pssession::resource_uri(s.configuration_name());
                c.reconnect(&uri, s.shell_id(), Reconnect::default())
                    .await
                    .map_err(step("reconnect"))?;
                s.remove().await.map_err(step("close"))?;
            }
            Ok(())
        })
        .await;
    r.assert_passed();
    let outputs = outputs.lock().expect("outputs");
    assert_eq!(outputs.len(), 2);
    for out in outputs.iter() {
        assert!(out.is_completed(), "{out:?}");
        assert_eq!(out.output_lines(), ["a", "b"]);
    }
}
