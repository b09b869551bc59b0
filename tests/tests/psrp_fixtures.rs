//! Every PSRP payload recorded in pypsrp's captures defragments, decodes and re-encodes to the
//! same bytes, and every message body decodes into its typed payload and CLIXML value and
//! survives an encode, decode round trip.
//!
//! Payloads are the base64 text of `creationXml`, `Arguments` (of a PowerShell command line),
//! `Stream` (Send and Receive), `connectXml` and `connectResponseXml`. Fragments are reassembled
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
use quick_xml::Reader;
use quick_xml::events::Event;
use tests::FixtureFile;

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

/// One base64 PSRP payload found in an envelope.
#[derive(Debug)]
struct Payload {
    element: String,
    command_id: Option<String>,
    base64: String,
}

/// What one envelope holds that matters here.
#[derive(Debug, Default)]
struct Scan {
    resource_uri: Option<String>,
    shell_id: Option<String>,
    payloads: Vec<Payload>,
}

const PAYLOAD_ELEMENTS: &[&str] = &[
    "creationXml",
    "Arguments",
    "Stream",
    "connectXml",
    "connectResponseXml",
];

/// Finds the resource URI, the shell id and the payload elements (by local name).
fn scan(xml: &str) -> Result<Scan, String> {
    let mut reader = Reader::from_str(xml);
    let mut out = Scan::default();
    // (local name, attributes) of open elements.
    let mut stack: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut text = String::new();
    loop {
        let event = reader.read_event().map_err(|e| format!("xml: {e}"))?;
        match event {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let mut attrs = Vec::new();
                for a in e.attributes() {
                    let a = a.map_err(|e| format!("xml attribute: {e}"))?;
                    let key = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
                    let value = a.unescape_value().map_err(|e| format!("xml: {e}"))?;
                    attrs.push((key, value.into_owned()));
                }
                if name == "Shell" {
                    if let Some((_, id)) = attrs.iter().find(|(k, _)| k == "ShellId") {
                        out.shell_id = Some(id.to_uppercase());
                    }
                }
                stack.push((name, attrs));
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.unescape().map_err(|e| format!("xml: {e}"))?),
            Event::End(_) => {
                let Some((name, attrs)) = stack.pop() else {
                    return Err("unbalanced xml".into());
                };
                let attr = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                match name.as_str() {
                    "ResourceURI" => out.resource_uri = Some(text.trim().to_owned()),
                    "Selector" if attr("Name").as_deref() == Some("ShellId") => {
                        out.shell_id = Some(text.trim().to_uppercase());
                    }
                    n if PAYLOAD_ELEMENTS.contains(&n) => {
                        let command_id = attr("CommandId").or_else(|| {
                            // Arguments sit inside CommandLine, which carries the id.
                            stack.last().and_then(|(parent, attrs)| {
                                (parent == "CommandLine")
                                    .then(|| {
                                        attrs
                                            .iter()
                                            .find(|(k, _)| k == "CommandId")
                                            .map(|(_, v)| v.clone())
                                    })
                                    .flatten()
                            })
                        });
                        let base64 = text.trim().to_owned();
                        if !base64.is_empty() {
                            out.payloads.push(Payload {
                                element: n.to_owned(),
                                command_id: command_id.map(|c| c.to_uppercase()),
                                base64,
                            });
                        }
                    }
                    _ => {}
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
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
                let bytes = STANDARD
                    .decode(&p.base64)
                    .map_err(|e| format!("{at}: base64: {e}"))?;
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
