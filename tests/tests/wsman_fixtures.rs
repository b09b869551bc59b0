//! Every recorded envelope decodes into typed values and survives encode → decode unchanged.
//!
//! One test per fixture file (named by `FixtureFile::test_name`), spot checks of semantics on
//! specific captures, and a summary test that asserts the totals per corpus.

use std::collections::BTreeMap;
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};
use tests::{Corpus, FixtureFile};
use wsman::shell::{BufferMode, CommandState, SignalCode};
use wsman::{Action, Body, Envelope, ns};

fn main() {
    let args = Arguments::from_args();
    let files = tests::all_fixture_files();
    let mut trials: Vec<Trial> = files
        .iter()
        .cloned()
        .map(|f| Trial::test(f.test_name(), move || check_file(&f).map(|_| ())))
        .collect();
    trials.push(Trial::test("summary::counts_per_corpus", move || {
        summary(&files)
    }));
    for (name, check) in spot_checks() {
        trials.push(Trial::test(format!("spot::{name}"), check));
    }
    libtest_mimic::run(&args, trials).exit();
}

/// Per-file statistics: (is_request, body kind) → count, plus the labels that ended up `Other`.
#[derive(Default)]
struct Stats {
    requests: usize,
    responses: usize,
    kinds: BTreeMap<&'static str, usize>,
    other: Vec<String>,
}

fn check_file(file: &FixtureFile) -> Result<Stats, Failed> {
    let mut stats = Stats::default();
    for ex in &file.exchanges {
        for (is_request, xml) in [(true, &ex.request), (false, &ex.response)] {
            let Some(xml) = xml else { continue };
            let label = format!(
                "{} {}",
                ex.name(),
                if is_request { "request" } else { "response" }
            );
            let env = Envelope::decode(xml.as_bytes()).map_err(|e| format!("{label}: {e}"))?;
            let encoded = env.encode();
            let again = Envelope::decode(encoded.as_bytes()).map_err(|e| {
                format!("{label}: re-encoded envelope does not decode: {e}\n{encoded}")
            })?;
            if again != env {
                return Err(format!(
                    "{label}: round trip changed the value\nfirst:  {env:?}\nsecond: {again:?}"
                )
                .into());
            }
            if again.encode() != encoded {
                return Err(format!("{label}: encoding is not stable").into());
            }
            if is_request == env.header.action.is_response() && !env.header.action.is_fault() {
                return Err(
                    format!("{label}: action {} on the wrong side", env.header.action).into(),
                );
            }
            let known = !matches!(env.header.action, Action::Other(_));
            if known && matches!(env.body, Body::Other(_) | Body::Empty) {
                return Err(format!(
                    "{label}: known action {} but body {}",
                    env.header.action,
                    env.body.kind()
                )
                .into());
            }
            if matches!(env.body, Body::Other(_)) {
                stats.other.push(format!("{label} ({})", env.header.action));
            }
            if is_request {
                stats.requests += 1;
            } else {
                stats.responses += 1;
            }
            *stats.kinds.entry(env.body.kind()).or_default() += 1;
        }
    }
    Ok(stats)
}

fn summary(files: &[FixtureFile]) -> Result<(), Failed> {
    let mut per_corpus: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut kinds: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut other = Vec::new();
    for f in files {
        let s = check_file(f)?;
        let e = per_corpus.entry(format!("{:?}", f.corpus)).or_default();
        e.0 += s.requests;
        e.1 += s.responses;
        for (k, n) in s.kinds {
            *kinds.entry(k).or_default() += n;
        }
        other.extend(s.other);
    }
    println!("envelopes per corpus (requests, responses): {per_corpus:?}");
    println!("body kinds: {kinds:?}");
    println!("bodies left as Other: {other:?}");
    let get = |c: Corpus| {
        per_corpus
            .get(&format!("{c:?}"))
            .copied()
            .unwrap_or_default()
    };
    let expect = [
        (Corpus::Pypsrp, (521, 520)),
        (Corpus::Pywinrm, (104, 104)),
        (Corpus::Winrb, (0, 25)),
        (Corpus::Masterzen, (5, 0)),
    ];
    for (corpus, want) in expect {
        if get(corpus) != want {
            return Err(format!(
                "{corpus:?}: decoded {:?} (requests, responses), expected {want:?}",
                get(corpus)
            )
            .into());
        }
    }
    // Only WinRb's WMI method output (CIM_DataFile Delete_OUTPUT) is not a shell message.
    if other.len() != 1 || !other[0].contains("invoke_1") {
        return Err(format!("unexpected Other bodies: {other:?}").into());
    }
    Ok(())
}

fn find(file_suffix: &str, index: usize, request: bool) -> Envelope {
    let f = tests::all_fixture_files()
        .into_iter()
        .find(|f| f.file.ends_with(file_suffix))
        .unwrap_or_else(|| panic!("no fixture {file_suffix}"));
    let ex = &f.exchanges[index];
    let xml = if request { &ex.request } else { &ex.response };
    Envelope::decode(xml.as_deref().expect("side present").as_bytes()).expect("decodes")
}

fn all_envelopes() -> Vec<(String, Envelope)> {
    tests::all_fixture_files()
        .iter()
        .flat_map(|f| {
            f.envelopes()
                .into_iter()
                .map(|(label, xml)| (label, Envelope::decode(xml.as_bytes()).expect("decodes")))
                .collect::<Vec<_>>()
        })
        .collect()
}

type Check = Box<dyn FnOnce() -> Result<(), Failed> + Send>;

fn spot_checks() -> Vec<(&'static str, Check)> {
    vec![
        (
            "receive_response_stdout_and_exit_code",
            Box::new(|| {
                // pywinrm's "run_cmd" scenario: the Done ReceiveResponse carries stdout and ExitCode 0.
                let envs = all_envelopes();
                let (label, rr) = envs
                    .iter()
                    .filter(|(l, _)| l.contains("pywinrm"))
                    .find_map(|(l, e)| match &e.body {
                        Body::ReceiveResponse(r)
                            if r.command_state
                                .as_ref()
                                .is_some_and(|c| c.state == CommandState::Done)
                                && !r.stream_bytes("stdout").is_empty() =>
                        {
                            Some((l.clone(), r.clone()))
                        }
                        _ => None,
                    })
                    .ok_or("no Done ReceiveResponse with stdout")?;
                let cs = rr.command_state.as_ref().ok_or("no state")?;
                if cs.exit_code.is_none() {
                    return Err(format!("{label}: Done without ExitCode").into());
                }
                if rr.streams.iter().any(|s| s.command_id.is_none()) {
                    return Err(format!("{label}: stream without CommandId").into());
                }
                Ok(())
            }),
        ),
        (
            "receive_response_psrp_bytes",
            Box::new(|| {
                // pypsrp open_runspace: the first pool Receive returns PSRP fragments; a fragment
                // header is 21 bytes and the first message is SESSION_CAPABILITY (0x00010002).
                let env = find("test_psrp_open_runspace.yml", 1, false);
                let Body::ReceiveResponse(r) = env.body else {
                    return Err("not a ReceiveResponse".into());
                };
                let data = &r.streams.first().ok_or("no stream")?.data;
                if data.len() < 21 + 40
                    || data[21..25] != [0x01, 0x00, 0x00, 0x00]
                    || data[25..29] != [0x02, 0x00, 0x01, 0x00]
                {
                    return Err(format!(
                        "unexpected fragment start {:02x?}",
                        &data[..data.len().min(32)]
                    )
                    .into());
                }
                Ok(())
            }),
        ),
        (
            "timed_out_fault",
            Box::new(|| {
                let env = find("test_psrp_long_running_cmdlet.yml", 4, false);
                let f = env.fault().ok_or("not a fault")?;
                assert_eq!(f.wsman_code(), Some(wsman::WsManFaultCode(2_150_858_793)));
                assert_eq!(f.wsman_code(), Some(wsman::WsManFaultCode::TIMED_OUT));
                let sub = f.subcode.as_ref().ok_or("no subcode")?;
                assert!(sub.is(ns::WSMAN, "TimedOut"), "{sub:?}");
                assert!(f.code.is(ns::SOAP, "Receiver"));
                assert_eq!(env.header.action, Action::Fault);
                Ok(())
            }),
        ),
        (
            "enumerate_selector_filter",
            Box::new(|| {
                let env = find("test_psrp_disconnect_runspaces.yml", 12, true);
                let Body::Enumerate(e) = env.body else {
                    return Err("not Enumerate".into());
                };
                assert!(e.optimize);
                assert_eq!(e.max_elements, Some(32000));
                let f = e.filter.ok_or("no filter")?;
                assert_eq!(f.dialect.as_deref(), Some(ns::SELECTOR_FILTER_DIALECT));
                assert_eq!(
                    f.selectors.ok_or("no selectors")?.get("ShellId"),
                    Some("B6631D8E-65A0-49F2-9053-A1B156C95777")
                );
                assert_eq!(
                    env.header.resource_uri.as_deref(),
                    Some(ns::RESOURCE_COMMANDS)
                );
                Ok(())
            }),
        ),
        (
            "enumerate_response_shells",
            Box::new(|| {
                let env = find("test_psrp_disconnect_runspaces.yml", 11, false);
                let Body::EnumerateResponse(e) = env.body else {
                    return Err("not EnumerateResponse".into());
                };
                let items = e.items.ok_or("no items")?;
                assert_eq!(items.len(), 2);
                let wsman::enumeration::Item::Shell(s) = &items[0] else {
                    return Err("not a shell".into());
                };
                assert_eq!(s.state, Some(wsman::shell::ShellState::Disconnected));
                assert_eq!(
                    s.max_idle_timeout,
                    Some(Duration::from_millis(2_147_483_647))
                );
                assert_eq!(s.shell_run_time, Some(Duration::from_secs(9)));
                assert_eq!(s.memory_used.as_deref(), Some("46MB"));
                assert!(e.end_of_sequence);
                Ok(())
            }),
        ),
        (
            "disconnect_and_reconnect",
            Box::new(|| {
                let env = find("test_psrp_disconnect_runspaces.yml", 4, true);
                assert!(matches!(env.body, Body::Disconnect(_)));
                let env = find("test_psrp_disconnect_runspaces.yml", 5, true);
                assert!(matches!(env.body, Body::Reconnect(_)));
                assert_eq!(
                    env.header.shell_id().map(|s| s.to_string()).as_deref(),
                    Some("B6631D8E-65A0-49F2-9053-A1B156C95777")
                );
                // Disconnect with IdleTimeOut / IdleTimeout spellings and BufferMode.
                for spelling in ["IdleTimeOut", "IdleTimeout"] {
                    let xml = DISCONNECT.replace("IDLE", spelling);
                    let env = Envelope::decode(xml.as_bytes()).map_err(|e| e.to_string())?;
                    let Body::Disconnect(d) = env.body else {
                        return Err("not Disconnect".into());
                    };
                    assert_eq!(d.idle_timeout, Some(Duration::from_secs(240)));
                    assert_eq!(d.buffer_mode, Some(BufferMode::Drop));
                }
                Ok(())
            }),
        ),
        (
            "connect_xml_bytes",
            Box::new(|| {
                let env = find("test_psrp_disconnect_runspaces.yml", 14, true);
                let Body::Connect(c) = env.body else {
                    return Err("not Connect".into());
                };
                let x = c.connect_xml.ok_or("no connectXml")?;
                assert!(
                    x.len() > 100 && x.windows(5).any(|w| w == b"<Obj "),
                    "{x:?}"
                );
                let env = find("test_psrp_disconnect_runspaces.yml", 14, false);
                let Body::ConnectResponse(c) = env.body else {
                    return Err("not ConnectResponse".into());
                };
                assert_eq!(c.input_streams, Some(vec!["stdin".into(), "pr".into()]));
                assert!(c.connect_response_xml.is_some_and(|x| !x.is_empty()));
                Ok(())
            }),
        ),
        (
            "create_powershell_shell",
            Box::new(|| {
                let env = find("test_psrp_open_runspace.yml", 0, true);
                assert_eq!(env.header.options.get("protocolversion"), Some("2.3"));
                assert_eq!(env.header.operation_timeout, Some(Duration::from_secs(20)));
                assert_eq!(env.header.max_envelope_size, Some(153_600));
                let Body::Create(s) = env.body else {
                    return Err("not Create".into());
                };
                assert_eq!(
                    s.shell_id_attr.as_ref().map(|s| s.as_str()),
                    Some("76056A84-51DC-4F24-9262-CA2A55464B2B")
                );
                assert!(s.creation_xml.is_some_and(|x| x.len() > 200));
                let env = find("test_psrp_open_runspace.yml", 0, false);
                let Body::CreateResponse(c) = env.body else {
                    return Err("not CreateResponse".into());
                };
                assert_eq!(
                    c.shell_id().map(|s| s.to_string()).as_deref(),
                    Some("76056A84-51DC-4F24-9262-CA2A55464B2B")
                );
                let shell = c.shell.ok_or("no shell")?;
                assert_eq!(shell.idle_timeout, Some(Duration::from_secs(7200)));
                assert_eq!(shell.process_id, Some(1868));
                Ok(())
            }),
        ),
        (
            "signal_codes_and_bad_timeout_header",
            Box::new(|| {
                let envs = all_envelopes();
                let codes: Vec<SignalCode> = envs
                    .iter()
                    .filter_map(|(_, e)| match &e.body {
                        Body::Signal(s) => Some(s.code.clone()),
                        _ => None,
                    })
                    .collect();
                assert!(
                    codes.contains(&SignalCode::Terminate) && codes.contains(&SignalCode::CtrlC)
                );
                assert!(codes.contains(&SignalCode::PowerShellCtrlC));
                assert!(
                    !codes.iter().any(|c| matches!(c, SignalCode::Other(_))),
                    "{codes:?}"
                );
                // pypsrp sends OperationTimeout PT-1S on purpose: kept as a malformed header.
                let bad: Vec<_> = envs
                    .iter()
                    .filter(|(_, e)| !e.header.malformed.is_empty())
                    .collect();
                assert_eq!(
                    bad.len(),
                    1,
                    "{:?}",
                    bad.iter().map(|b| &b.0).collect::<Vec<_>>()
                );
                assert!(matches!(
                    bad[0].1.header.validate(),
                    Err(wsman::DecodeError::InvalidDuration { .. })
                ));
                Ok(())
            }),
        ),
        (
            "winrb_omi_variants",
            Box::new(|| {
                let env = find("stubs/responses/open_shell_omi.xml", 0, false);
                let Body::CreateResponse(c) = env.body else {
                    return Err("not CreateResponse".into());
                };
                assert_eq!(
                    c.shell_id().map(|s| s.to_string()).as_deref(),
                    Some("74142DC5-E14D-4FCC-86ED-63DA3EE8407E")
                );
                assert_eq!(c.resource_uri.as_deref(), Some(ns::RESOURCE_POWERSHELL));
                assert_eq!(env.header.action, Action::CreateResponse);
                let env = find("stubs/responses/soap_fault_omi.xml", 0, false);
                let f = env.fault().ok_or("not a fault")?;
                assert!(
                    f.subcode
                        .as_ref()
                        .is_some_and(|s| s.is(ns::WSMAN, "InternalError"))
                );
                let env = find("stubs/responses/wmi_error_v2.xml", 0, false);
                let f = env.fault().ok_or("not a fault")?;
                let d = f.detail.as_ref().ok_or("no detail")?;
                assert_eq!(d.other.len(), 1);
                assert_eq!(d.other[0].name, "MSFT_WmiError");
                Ok(())
            }),
        ),
    ]
}

const DISCONNECT: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><s:Header><a:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Disconnect</a:Action><a:MessageID>uuid:1</a:MessageID></s:Header><s:Body><rsp:Disconnect><rsp:BufferMode>drop</rsp:BufferMode><rsp:IDLE>PT240.000S</rsp:IDLE></rsp:Disconnect></s:Body></s:Envelope>"#;
