//! Pieces shared by the replays of pypsrp's PSRP scenarios (`replay_psrp*.rs`): the client
//! options, what pypsrp created (pools, pipelines), the PSRP messages and payloads of a
//! request, the per-body checks of the comparators, and the swap of a recorded
//! ENCRYPTED_SESSION_KEY for one our client can decrypt.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use psrp::crypto::{EncryptedSessionKey, PublicKey, SessionKey};
use psrp::fragment::{Defragmenter, Fragment};
use psrp::message::{Message, MessageType};
use psrp::messages::{CreatePipeline, Payload};
use psrp::records::PowerShellPipeline;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sessions::ClientOptions;
use uuid::Uuid;
use wsman::enumeration::Enumerate;
use wsman::shell::{CommandLine, Connect, Receive, Send, Shell};
use wsman::{Body, Envelope};

use super::{compare_headers, pypsrp_scenario};

/// The client options of the PSRP replays.
///
/// pypsrp raises its MaxEnvelopeSize after the open without asking the server, so the
/// recordings hold no config Get there; ours asks first, so the raise is off.
pub fn options() -> ClientOptions {
    ClientOptions::default()
        .operation_timeout(Duration::from_secs(20))
        .psrp_envelope_raise(false)
}

/// Names the step a client error happened in: `.map_err(step("open"))`.
pub fn step(step: &'static str) -> impl Fn(sessions::Error) -> String {
    move |err| format!("{step}: {err}")
}

/// Every PSRP message in `chunks` (fragments of one stream, in order).
///
/// # Errors
/// When a fragment or a message does not decode.
pub fn messages(chunks: &[Vec<u8>]) -> Result<Vec<Message>, String> {
    let mut d = Defragmenter::new();
    let mut out = Vec::new();
    for c in chunks {
        d.receive(c).map_err(|e| format!("fragments: {e}"))?;
        while let Some(blob) = d.poll_message() {
            out.push(Message::decode(&blob).map_err(|e| format!("message: {e}"))?);
        }
    }
    Ok(out)
}

/// The typed payloads a request carries (creationXml, Arguments or Send streams; none for
/// other bodies).
///
/// # Errors
/// When a Create has no creationXml, or a message or payload does not decode.
pub fn payloads(env: &Envelope) -> Result<Vec<Payload>, String> {
    let chunks = match &env.body {
        Body::Create(shell) => vec![
            shell
                .creation_xml
                .clone()
                .ok_or("a Create without creationXml")?,
        ],
        Body::Command(line) => line.argument_bytes().map_err(|e| e.to_string())?,
        Body::Send(send) => send.streams.iter().map(|s| s.data.clone()).collect(),
        _ => Vec::new(),
    };
    messages(&chunks)?
        .into_iter()
        .map(|m| Payload::decode(m.message_type, &m.data).map_err(|e| format!("payload: {e}")))
        .collect()
}

/// The CREATE_PIPELINE in a Command's Arguments.
///
/// # Errors
/// When the Arguments do not decode or hold no CREATE_PIPELINE.
pub fn create_pipeline(line: &CommandLine) -> Result<CreatePipeline, String> {
    let chunks = line.argument_bytes().map_err(|e| e.to_string())?;
    for m in messages(&chunks)? {
        if let Ok(Payload::CreatePipeline(c)) = Payload::decode(m.message_type, &m.data) {
            return Ok(*c);
        }
    }
    Err("no CREATE_PIPELINE in the Arguments".into())
}

/// What pypsrp created in a scenario: pool ids in Create order, pipelines (id, description)
/// in Command order.
#[derive(Debug, Default)]
pub struct Created {
    pub pools: Vec<Uuid>,
    pub pipelines: Vec<(Uuid, PowerShellPipeline)>,
}

/// The pools and pipelines of the pypsrp scenario `stem`.
///
/// # Panics
/// When the scenario is not recorded.
pub fn created(stem: &str) -> Created {
    let mut out = Created::default();
    for ex in &pypsrp_scenario(stem).exchanges {
        let Some(Ok(env)) = ex.request.as_deref().map(Envelope::decode) else {
            continue;
        };
        match &env.body {
            Body::Create(shell) => {
                if let Some(id) = shell
                    .shell_id_attr
                    .as_ref()
                    .and_then(|i| Uuid::parse_str(i.as_str()).ok())
                {
                    out.pools.push(id);
                }
            }
            Body::Command(line) => {
                let id = line
                    .command_id
                    .as_ref()
                    .and_then(|i| Uuid::parse_str(i.as_str()).ok());
                if let (Some(id), Ok(create)) = (id, create_pipeline(line)) {
                    out.pipelines.push((id, create.power_shell));
                }
            }
            _ => {}
        }
    }
    out
}

/// [`compare_headers`] without MaxEnvelopeSize: pypsrp raises it to 512000 once the server's
/// SESSION_CAPABILITY says protocol 2.2 or later, which `WsManClient` cannot do yet (it only
/// learns a new size from the config resource); ours stays at what it announced first.
pub fn compare_psrp_headers(rec: &Envelope, ours: &Envelope) -> Vec<String> {
    let mut out = compare_headers(rec, ours);
    out.retain(|p| !p.starts_with("MaxEnvelopeSize"));
    out
}

/// Whether two optional ids are the same, ignoring case.
pub fn same_id(a: Option<&str>, b: Option<&str>) -> bool {
    a.map(str::to_uppercase) == b.map(str::to_uppercase)
}

/// A Create naming another ShellId than the recorded one.
pub fn shell_id_problem(rec: &Shell, ours: &Shell) -> Option<String> {
    let ok = same_id(
        rec.shell_id_attr.as_ref().map(|i| i.as_str()),
        ours.shell_id_attr.as_ref().map(|i| i.as_str()),
    );
    (!ok).then(|| "Create ShellId differs".to_owned())
}

/// A Command naming another CommandId than the recorded one.
pub fn command_id_problem(rec: &CommandLine, ours: &CommandLine) -> Option<String> {
    let ok = same_id(
        rec.command_id.as_ref().map(|i| i.as_str()),
        ours.command_id.as_ref().map(|i| i.as_str()),
    );
    (!ok).then(|| "CommandId differs".to_owned())
}

/// A Receive for another command or other streams than the recorded one.
pub fn receive_problem(rec: &Receive, ours: &Receive) -> Option<String> {
    let ok = same_id(
        rec.command_id.as_ref().map(|i| i.as_str()),
        ours.command_id.as_ref().map(|i| i.as_str()),
    ) && rec.streams == ours.streams;
    (!ok).then(|| format!("Receive {ours:?} instead of {rec:?}"))
}

/// The (name, upper-case CommandId) of each stream of a Send.
pub fn send_stream_names(s: &Send) -> Vec<(String, Option<String>)> {
    s.streams
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                s.command_id.as_ref().map(|c| c.as_str().to_uppercase()),
            )
        })
        .collect()
}

/// A Send whose streams differ from the recorded one's in name or CommandId.
pub fn send_streams_problem(rec: &Send, ours: &Send) -> Option<String> {
    let (a, b) = (send_stream_names(rec), send_stream_names(ours));
    (a != b).then(|| format!("Send streams {b:?} instead of {a:?}"))
}

/// A Connect for another command, or with or without a connectXml where the recorded one
/// differs.
pub fn connect_problem(rec: &Connect, ours: &Connect) -> Option<String> {
    let ok = same_id(
        rec.command_id.as_ref().map(|i| i.as_str()),
        ours.command_id.as_ref().map(|i| i.as_str()),
    ) && rec.connect_xml.is_some() == ours.connect_xml.is_some();
    (!ok).then(|| "Connect differs in CommandId or connectXml".to_owned())
}

/// An Enumerate with another filter than the recorded one.
pub fn enumerate_problem(rec: &Enumerate, ours: &Enumerate) -> Option<String> {
    (rec.filter != ours.filter).then(|| {
        format!(
            "Enumerate filter {:?} instead of {:?}",
            ours.filter, rec.filter
        )
    })
}

/// Swaps the RSA ciphertext of a recorded ENCRYPTED_SESSION_KEY response for `key` encrypted
/// for `ours` (the public key our client sent), with an RNG seeded from `seed`; everything
/// else is the recorded bytes. Any other response passes unchanged. The recorded blob must be
/// what Windows sends, a SIMPLEBLOB of a 2048-bit ciphertext: else the response becomes a
/// message saying so (which the client then refuses).
pub fn swap_session_key(response: String, ours: &PublicKey, key: &[u8; 32], seed: u8) -> String {
    let Some(start) = response.find("<rsp:Stream") else {
        return response;
    };
    let Some(text_start) = response[start..].find('>').map(|i| start + i + 1) else {
        return response;
    };
    let Some(text_end) = response[text_start..].find('<').map(|i| text_start + i) else {
        return response;
    };
    let Ok(bytes) = STANDARD.decode(&response[text_start..text_end]) else {
        return response;
    };
    let Ok((fragment, rest)) = Fragment::decode(&bytes) else {
        return response;
    };
    if !(fragment.start && fragment.end && rest.is_empty()) {
        return response;
    }
    let Ok(message) = Message::decode(fragment.data) else {
        return response;
    };
    if message.message_type != MessageType::ENCRYPTED_SESSION_KEY {
        return response;
    }
    let Ok(Payload::EncryptedSessionKey(body)) =
        Payload::decode(message.message_type, &message.data)
    else {
        return "recorded ENCRYPTED_SESSION_KEY does not decode".into();
    };
    let recorded = match EncryptedSessionKey::from_blob(&body.encrypted_session_key) {
        Ok(b) if b.ciphertext().len() == 256 => b,
        _ => return "recorded ENCRYPTED_SESSION_KEY is not a 2048-bit SIMPLEBLOB".into(),
    };
    let mut rng = ChaCha20Rng::from_seed([seed; 32]);
    let Ok(fresh) = ours.encrypt_session_key(&SessionKey::from_bytes(*key), &mut rng) else {
        return response;
    };
    let Ok(data) = std::str::from_utf8(&message.data) else {
        return response;
    };
    let data = data.replace(&recorded.to_base64(), &fresh.to_base64());
    let message = Message::new(
        message.destination,
        message.message_type,
        message.runspace_pool_id,
        message.pipeline_id,
        data.into_bytes(),
    );
    let payload = message.to_bytes();
    let mut encoded = Vec::new();
    Fragment {
        data: &payload,
        ..fragment
    }
    .encode(&mut encoded);
    format!(
        "{}{}{}",
        &response[..text_start],
        STANDARD.encode(encoded),
        &response[text_end..]
    )
}
