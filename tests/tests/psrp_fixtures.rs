//! Every PSRP payload recorded in pypsrp's captures defragments, decodes and re-encodes to the
//! same bytes, and every message body decodes into its typed payload and CLIXML value and
//! survives an encode, decode round trip.
//!
//! Envelopes are decoded with `wsman::Envelope`; payloads are the `creationXml`, `Arguments`
//! (of a PowerShell command line), `Stream` (Send and Receive), `connectXml` and
//! `connectResponseXml` of the typed bodies. Fragments are reassembled
//! per direction, shell and command across the whole conversation, because a message may span
//! several envelopes. One test per fixture file, plus a summary that pins the count of every
//! message type.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libtest_mimic::{Arguments, Failed, Trial};
use psrp::fragment::{Defragmenter, Fragment};
use psrp::message::{Destination, Message, MessageType};
use psrp::messages::Payload as TypedPayload;
use psrp::{clixml, crypto};
use tests::FixtureFile;
use wsman::Body;
use wsman::Envelope;

fn main() {
    let args = Arguments::from_args();
    let mut trials: Vec<Trial> = tests::pypsrp_files()
        .into_iter()
        .map(|file| {
            let name = file.test_name();
            Trial::test(name, move || check_file(&file).map(|_| ()))
        })
        .collect();
    trials.push(Trial::test("pypsrp::summary_message_type_counts", summary));
    libtest_mimic::run(&args, trials).exit();
}

/// Which way a payload travelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Side {
    /// Client to server (requests).
    ToServer,
    /// Server to client (responses).
    ToClient,
}

/// One PSRP payload found in an envelope.
#[derive(Debug)]
struct Payload {
    element: &'static str,
    command_id: Option<String>,
    bytes: Vec<u8>,
}

/// What one envelope holds that matters here.
#[derive(Debug, Default)]
struct Scan {
    resource_uri: Option<String>,
    shell_id: Option<String>,
    payloads: Vec<Payload>,
}

/// Decodes the envelope with `wsman` and collects the resource URI, the shell id and the PSRP
/// payloads of its typed body.
fn scan(xml: &str) -> Result<Scan, String> {
    let envelope = Envelope::decode(xml).map_err(|e| format!("envelope: {e}"))?;
    let mut out = Scan {
        resource_uri: envelope.header.resource_uri.clone(),
        shell_id: envelope
            .header
            .selectors
            .get("ShellId")
            .map(str::to_uppercase),
        payloads: Vec::new(),
    };
    let id = |c: &Option<wsman::CommandId>| c.as_ref().map(|c| c.as_str().to_uppercase());
    let mut push = |element, command_id, bytes: Vec<u8>| {
        if !bytes.is_empty() {
            out.payloads.push(Payload {
                element,
                command_id,
                bytes,
            });
        }
    };
    match envelope.body {
        Body::Create(shell) => {
            if let Some(attr) = &shell.shell_id_attr {
                out.shell_id = Some(attr.as_str().to_uppercase());
            }
            if let Some(x) = shell.creation_xml {
                push("creationXml", None, x);
            }
        }
        Body::Command(line) => {
            for arg in &line.arguments {
                // WinRS arguments are plain text; only PowerShell ones are base64 fragments,
                // and those are only looked at for PowerShell resource URIs.
                if let Ok(bytes) = STANDARD.decode(arg.trim()) {
                    push("Arguments", id(&line.command_id), bytes);
                }
            }
        }
        Body::Send(send) => {
            for st in send.streams {
                push("Stream", id(&st.command_id), st.data);
            }
        }
        Body::ReceiveResponse(resp) => {
            for st in resp.streams {
                push("Stream", id(&st.command_id), st.data);
            }
        }
        Body::Connect(connect) => {
            if let Some(x) = connect.connect_xml {
                push("connectXml", id(&connect.command_id), x);
            }
        }
        Body::ConnectResponse(resp) => {
            if let Some(x) = resp.connect_response_xml {
                push("connectResponseXml", None, x);
            }
        }
        _ => {}
    }
    Ok(out)
}

/// The outcome of one file: decoded messages in order, with the side they travelled.
struct Decoded {
    messages: Vec<(Side, Message)>,
}

fn check_file(file: &FixtureFile) -> Result<Decoded, Failed> {
    let mut defrag: HashMap<(Side, Option<String>, Option<String>), Defragmenter> = HashMap::new();
    let mut messages = Vec::new();
    for ex in &file.exchanges {
        let Some(request) = &ex.request else { continue };
        let req = scan(request).map_err(|e| format!("{} request: {e}", ex.name()))?;
        // Only PowerShell resource URIs carry PSRP; WinRS (cmd) streams are plain text.
        let is_psrp = req
            .resource_uri
            .as_deref()
            .is_some_and(|u| u.contains("/powershell"));
        if !is_psrp {
            continue;
        }
        let mut sides = vec![(Side::ToServer, req.payloads, "request")];
        if let Some(response) = &ex.response {
            let resp = scan(response).map_err(|e| format!("{} response: {e}", ex.name()))?;
            sides.push((Side::ToClient, resp.payloads, "response"));
        }
        for (side, payloads, what) in sides {
            for p in payloads {
                let at = format!("{} {what} <{}>", ex.name(), p.element);
                let bytes = p.bytes;
                // Fragments re-encode to the same bytes.
                let mut again = Vec::with_capacity(bytes.len());
                for f in Fragment::iter(&bytes) {
                    f.map_err(|e| format!("{at}: {e}"))?.encode(&mut again);
                }
                if again != bytes {
                    return Err(format!("{at}: fragments do not re-encode to the payload").into());
                }
                let d = defrag
                    .entry((side, req.shell_id.clone(), p.command_id.clone()))
                    .or_default();
                d.receive(&bytes).map_err(|e| format!("{at}: {e}"))?;
                while let Some(blob) = d.poll_message() {
                    let msg = Message::decode(&blob).map_err(|e| format!("{at}: {e}"))?;
                    if msg.to_bytes() != blob {
                        return Err(format!("{at}: message does not re-encode").into());
                    }
                    let expected = match side {
                        Side::ToServer => Destination::SERVER,
                        Side::ToClient => Destination::CLIENT,
                    };
                    if msg.destination != expected {
                        return Err(format!(
                            "{at}: {:?} has destination {:?}",
                            msg.message_type, msg.destination
                        )
                        .into());
                    }
                    // Header ids are not checked against the WSMan shell and command ids: Windows
                    // leaves the RPID nil on SESSION_CAPABILITY, and the captures' scrubbing
                    // replaced some WSMan ids without touching the binary headers.
                    check_body(&msg).map_err(|e| format!("{at}: {:?}: {e}", msg.message_type))?;
                    messages.push((side, msg));
                }
            }
        }
    }
    for ((side, shell, cmd), d) in &defrag {
        if d.incomplete_objects() != 0 {
            return Err(format!(
                "{side:?} shell {shell:?} command {cmd:?}: {} objects never completed",
                d.incomplete_objects()
            )
            .into());
        }
    }
    Ok(Decoded { messages })
}

/// Decodes the body into its typed payload and its CLIXML value, re-encodes both and decodes
/// again to the same values; parses the key exchange blobs.
fn check_body(msg: &Message) -> Result<(), String> {
    // Typed payload: decode, encode, decode again to the same value.
    let payload =
        TypedPayload::decode(msg.message_type, &msg.data).map_err(|e| format!("payload: {e}"))?;
    if matches!(payload, TypedPayload::Unknown(..)) {
        return Err("decodes to an unknown payload".into());
    }
    let again = TypedPayload::decode(msg.message_type, &payload.encode())
        .map_err(|e| format!("re-read payload: {e}"))?;
    if again != payload {
        return Err("typed payload changes across encode and decode".into());
    }
    let text = msg.clixml_text().map_err(|e| e.to_string())?;
    // END_OF_PIPELINE_INPUT is the one message without a body (MS-PSRP 2.2.2.18).
    if msg.message_type == MessageType::END_OF_PIPELINE_INPUT {
        return if text.is_empty() {
            Ok(())
        } else {
            Err("unexpected body".into())
        };
    }
    let value = clixml::from_clixml(text).map_err(|e| format!("clixml: {e}"))?;
    let again = clixml::to_clixml(&value);
    let value2 = clixml::from_clixml(&again).map_err(|e| format!("re-read clixml: {e}"))?;
    if value2 != value {
        return Err("clixml changes across serialise and decode".into());
    }
    let property = |name: &str| {
        value
            .as_object()
            .and_then(|o| o.property_str(name))
            .map(str::to_owned)
            .ok_or_else(|| format!("no {name} property"))
    };
    match msg.message_type {
        MessageType::PUBLIC_KEY => {
            let key = crypto::PublicKey::from_base64(&property("PublicKey")?)
                .map_err(|e| e.to_string())?;
            if key.bits() != 2048 {
                return Err(format!("{key:?} is not a 2048-bit key"));
            }
        }
        MessageType::ENCRYPTED_SESSION_KEY => {
            crypto::EncryptedSessionKey::from_base64(&property("EncryptedSessionKey")?)
                .map_err(|e| e.to_string())?;
        }
        _ => {}
    }
    Ok(())
}

fn summary() -> Result<(), Failed> {
    let mut counts: BTreeMap<MessageType, usize> = BTreeMap::new();
    let mut files_with_psrp = 0;
    for file in tests::pypsrp_files() {
        let decoded = check_file(&file)?;
        if !decoded.messages.is_empty() {
            files_with_psrp += 1;
        }
        for (_, m) in decoded.messages {
            *counts.entry(m.message_type).or_default() += 1;
        }
    }
    let got: Vec<(String, usize)> = counts.iter().map(|(t, n)| (format!("{t:?}"), *n)).collect();
    let expected: Vec<(String, usize)> = EXPECTED_COUNTS
        .iter()
        .map(|(t, n)| ((*t).to_owned(), *n))
        .collect();
    if got != expected || files_with_psrp != EXPECTED_FILES_WITH_PSRP {
        return Err(format!(
            "message type counts changed: {files_with_psrp} files with psrp, counts {got:#?}"
        )
        .into());
    }
    Ok(())
}

const EXPECTED_FILES_WITH_PSRP: usize = 49;

/// Messages per type across all pypsrp captures (701 in all), ordered by type code.
const EXPECTED_COUNTS: &[(&str, usize)] = &[
    ("SESSION_CAPABILITY", 114),
    ("INIT_RUNSPACEPOOL", 53),
    ("PUBLIC_KEY", 3),
    ("ENCRYPTED_SESSION_KEY", 2),
    ("CONNECT_RUNSPACEPOOL", 4),
    ("SET_MAX_RUNSPACES", 2),
    ("SET_MIN_RUNSPACES", 2),
    ("RUNSPACE_AVAILABILITY", 8),
    ("RUNSPACEPOOL_STATE", 55),
    ("CREATE_PIPELINE", 47),
    ("GET_AVAILABLE_RUNSPACES", 2),
    ("APPLICATION_PRIVATE_DATA", 55),
    ("GET_COMMAND_METADATA", 3),
    ("RUNSPACEPOOL_INIT_DATA", 4),
    ("RESET_RUNSPACE_STATE", 2),
    ("PIPELINE_INPUT", 36),
    ("END_OF_PIPELINE_INPUT", 13),
    ("PIPELINE_OUTPUT", 149),
    ("ERROR_RECORD", 4),
    ("PIPELINE_STATE", 49),
    ("DEBUG_RECORD", 12),
    ("VERBOSE_RECORD", 4),
    ("WARNING_RECORD", 5),
    ("PROGRESS_RECORD", 33),
    ("INFORMATION_RECORD", 3),
    ("PIPELINE_HOST_CALL", 31),
    ("PIPELINE_HOST_RESPONSE", 6),
];
