//! Every PSRP message recorded in pypsrp's captures decodes to CLIXML and to a typed payload,
//! and both re-encode to equal values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use psrp::clixml::{self, Value};
use psrp::fragment::{Defragmenter, Fragment};
use psrp::message::{Message, MessageType};
use psrp::messages::Payload;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// Base64 text of every element that carries PSRP fragments in one YAML line.
fn base64_blobs(line: &str) -> Vec<Vec<u8>> {
    const TAGS: [&str; 5] = [
        "<creationXml",
        "<rsp:Stream",
        "<rsp:Arguments",
        "<connectXml",
        "<connectResponseXml",
    ];
    let mut out = Vec::new();
    for tag in TAGS {
        let mut rest = line;
        while let Some(at) = rest.find(tag) {
            rest = &rest[at + tag.len()..];
            let Some(gt) = rest.find('>') else { break };
            if rest[..gt].ends_with('/') {
                continue;
            }
            let body = &rest[gt + 1..];
            let end = body.find('<').unwrap_or(body.len());
            let text: String = body[..end].split_whitespace().collect();
            if let Ok(bytes) = BASE64.decode(&text)
                && !bytes.is_empty()
            {
                out.push(bytes);
            }
        }
    }
    out
}

/// The `request:` / `response:` entries, with YAML's folded continuation lines joined.
fn yaml_entries(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let starts = trimmed.starts_with("- request:")
            || trimmed.starts_with("request:")
            || trimmed.starts_with("response:");
        match out.last_mut() {
            Some(last) if !starts && line.starts_with(' ') => {
                last.push(' ');
                last.push_str(trimmed);
            }
            _ => out.push(line.to_owned()),
        }
    }
    out
}

/// Every PSRP message in a capture, in order: (file, message).
fn messages() -> Vec<(String, Message)> {
    let dir = fixtures().join("pypsrp-captures/responses");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        // One defragmenter per direction: object ids of each side are independent.
        let mut to_server = Defragmenter::new();
        let mut to_client = Defragmenter::new();
        let mut cmd_shell = false;
        for line in yaml_entries(&text) {
            let line = line.as_str();
            let trimmed = line.trim_start();
            let request = if trimmed.starts_with("- request:") || trimmed.starts_with("request:") {
                cmd_shell = line.contains("windows/shell/cmd");
                true
            } else if trimmed.starts_with("response:") {
                false
            } else {
                continue;
            };
            if cmd_shell {
                continue; // WinRS cmd shells carry raw stdin/stdout, not PSRP.
            }
            let defrag = if request {
                &mut to_server
            } else {
                &mut to_client
            };
            for blob in base64_blobs(line) {
                assert!(
                    Fragment::iter(&blob).all(|f| f.is_ok()),
                    "{name}: blob is not a fragment sequence"
                );
                defrag
                    .receive(&blob)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                while let Some(bytes) = defrag.poll_message() {
                    let message = Message::decode(&bytes).unwrap();
                    out.push((name.clone(), message));
                }
            }
        }
    }
    out
}

#[test]
fn every_captured_message_decodes_and_round_trips() {
    let messages = messages();
    let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (file, message) in &messages {
        let ty = message.message_type;
        assert!(ty.is_known(), "{file}: unknown message type {ty:?}");
        let body = message
            .data
            .strip_prefix(b"\xEF\xBB\xBF")
            .unwrap_or(&message.data);

        // CLIXML level: decode, serialize, decode again.
        let value = if body.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            let value =
                clixml::from_clixml_bytes(body).unwrap_or_else(|e| panic!("{file} {ty:?}: {e}"));
            let text = clixml::to_clixml(&value);
            let again = clixml::from_clixml(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(again, value, "{file} {ty:?}: clixml round trip");
            Some(value)
        };

        // Typed level: decode, encode, decode again.
        let payload =
            Payload::decode(ty, &message.data).unwrap_or_else(|e| panic!("{file} {ty:?}: {e}"));
        assert!(
            !matches!(payload, Payload::Unknown(..)),
            "{file}: {ty:?} untyped"
        );
        assert_eq!(payload.message_type(), ty);
        let again = Payload::decode(ty, &payload.encode())
            .unwrap_or_else(|e| panic!("{file} {ty:?} re-encoded: {e}"));
        assert_eq!(again, payload, "{file} {ty:?}: typed round trip");

        // Does the typed encoding reproduce the received value exactly?
        let exact = payload.to_value() == value;
        let entry = counts.entry(format!("{ty:?}")).or_default();
        entry.0 += 1;
        entry.1 += usize::from(exact);
    }
    eprintln!("message type: decoded (re-encoded to the identical CLIXML value)");
    for (ty, (n, exact)) in &counts {
        eprintln!("  {ty:<28} {n:>4} ({exact})");
    }
    eprintln!("  total {}", messages.len());
    assert!(messages.len() >= 700, "only {} messages", messages.len());
    for ty in [
        MessageType::SESSION_CAPABILITY,
        MessageType::INIT_RUNSPACEPOOL,
        MessageType::CREATE_PIPELINE,
        MessageType::PIPELINE_OUTPUT,
        MessageType::ERROR_RECORD,
        MessageType::PIPELINE_HOST_CALL,
        MessageType::INFORMATION_RECORD,
        MessageType::CONNECT_RUNSPACEPOOL,
    ] {
        assert!(
            counts.contains_key(&format!("{ty:?}")),
            "no {ty:?} in captures"
        );
    }
    // Records kept as received re-encode exactly.
    for ty in [
        "ERROR_RECORD",
        "WARNING_RECORD",
        "INFORMATION_RECORD",
        "PIPELINE_OUTPUT",
    ] {
        let (n, exact) = counts[ty];
        assert_eq!(n, exact, "{ty}");
    }
}

#[test]
fn typed_fields_of_known_captures() {
    let messages = messages();
    let open = messages
        .iter()
        .filter(|(f, _)| f == "test_psrp_open_runspace.yml")
        .map(|(_, m)| Payload::decode(m.message_type, &m.data).unwrap())
        .collect::<Vec<_>>();
    let Some(Payload::ApplicationPrivateData(data)) = open
        .iter()
        .find(|p| matches!(p, Payload::ApplicationPrivateData(_)))
    else {
        panic!("no APPLICATION_PRIVATE_DATA");
    };
    let table = data.data.ps_version_table().unwrap();
    assert_eq!(
        table.get("PSVersion"),
        Some(&Value::Version("5.1.14393.2248".into()))
    );
    assert_eq!(table.get("PSEdition"), Some(&Value::string("Desktop")));
    assert!(open.iter().any(|p| matches!(
        p,
        Payload::RunspacePoolState(s) if s.state == psrp::records::RunspacePoolState::OPENED
    )));

    let errors: Vec<_> = messages
        .iter()
        .filter(|(_, m)| m.message_type == MessageType::ERROR_RECORD)
        .map(
            |(_, m)| match Payload::decode(m.message_type, &m.data).unwrap() {
                Payload::ErrorRecord(e) => e,
                other => panic!("{other:?}"),
            },
        )
        .collect();
    assert!(errors.iter().any(|e| e.message() == Some("error stream")
        && e.exception_type() == Some("Microsoft.PowerShell.Commands.WriteErrorException")
        && e.invocation_info().is_some()));
}

#[test]
fn stderr_clixml_documents() {
    for name in [
        "test_sanitise_clixml_with_error.xml",
        "test_sanitise_clixml_with_no_errors.xml",
    ] {
        let path = fixtures().join("pypsrp-captures/data").join(name);
        let text = std::fs::read_to_string(path).unwrap();
        let objs = clixml::from_objs(&text).unwrap();
        assert!(!objs.items.is_empty(), "{name}");
        let again = clixml::from_objs(&clixml::to_clixml_document(&objs)).unwrap();
        assert_eq!(again, objs, "{name}");
    }
}

#[test]
fn winrb_error_record_template() {
    let path = fixtures().join("winrb-winrm-captures/stubs/clixml/error_record.xml.erb");
    let text = std::fs::read_to_string(path)
        .unwrap()
        .replace("<%= error_message %>", "bad thing")
        .replace("<%= error_id %>", "Bad,Thing")
        .replace("<%= script_root %>", "C:\\scripts")
        .replace(
            "<%= category_message %>",
            "NotSpecified: (:) [Write-Error], WriteErrorException",
        )
        .replace(
            "<%= stack_trace %>",
            "at &lt;ScriptBlock&gt;, &lt;No file&gt;: line 1",
        );
    let value = clixml::from_clixml(&text).unwrap();
    let record = psrp::records::ErrorRecord::from_value(&value).unwrap();
    assert_eq!(record.message(), Some("bad thing"));
    assert_eq!(record.fully_qualified_error_id(), "Bad,Thing");
    assert_eq!(
        record.category(),
        psrp::records::ErrorCategory::NOT_SPECIFIED
    );
    assert_eq!(record.category_activity(), Some("Write-Error"));
    assert_eq!(
        record.script_stack_trace(),
        Some("at <ScriptBlock>, <No file>: line 1")
    );
    assert!(!record.serialize_extended_info());
    let info = record.invocation_info().unwrap();
    assert_eq!(info.property_str("PSScriptRoot"), Some("C:\\scripts"));
    assert_eq!(
        clixml::from_clixml(&clixml::to_clixml(&value)).unwrap(),
        value
    );
}
