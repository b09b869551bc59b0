//! Values built in code (faults, requests, bodies no capture holds) encode and decode back equal.

use std::time::Duration;

use wsman::config::Config;
use wsman::enumeration::{
    CommandItem, Enumerate, EnumerateResponse, Filter, Item, Pull, PullResponse, Release,
};
use wsman::header::SelectorSet;
use wsman::shell::{
    BufferMode, CommandLine, CommandState, CommandStateInfo, Connect, Disconnect, Receive,
    ReceiveResponse, Reconnect, Shell, ShellState, Signal, SignalCode, Stream,
};
use wsman::xml::Element;
use wsman::{
    Action, Body, CommandId, Envelope, Fault, MessageId, Resource, ShellId, WsManFaultCode, ns,
};

fn roundtrip(env: &Envelope) {
    let xml = env.encode();
    let back = Envelope::decode(xml.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    assert_eq!(&back, env, "{xml}");
}

#[test]
fn fault_constructors() {
    let m = "host";
    let cases = [
        (
            Fault::invalid_selectors(m),
            Some(2_150_858_843),
            "InvalidSelectors",
            Action::Fault,
        ),
        (
            Fault::unknown_command(m),
            Some(2_150_858_843),
            "InvalidSelectors",
            Action::Fault,
        ),
        (
            Fault::timed_out(m),
            Some(2_150_858_793),
            "TimedOut",
            Action::Fault,
        ),
        (
            Fault::invalid_header(
                m,
                "The XML contains an invalid timeout field in the SOAP header: PT-1S. ",
            ),
            Some(2_150_858_767),
            "InvalidMessageInformationHeader",
            Action::AddressingFault,
        ),
        (
            Fault::destination_unreachable(m, "http://x/y"),
            Some(2_150_858_811),
            "DestinationUnreachable",
            Action::AddressingFault,
        ),
        (
            Fault::shell_quota(m, 30),
            Some(2_150_859_173),
            "QuotaLimit",
            Action::Fault,
        ),
        (
            Fault::operation_quota(m, 1500),
            Some(2_150_859_174),
            "QuotaLimit",
            Action::Fault,
        ),
        (
            Fault::command_quota(m, 1000),
            None,
            "InternalError",
            Action::Fault,
        ),
        (
            Fault::stream_disconnected(m),
            Some(0x8033_81DE),
            "InternalError",
            Action::Fault,
        ),
        (
            Fault::already_connected(m),
            None,
            "InternalError",
            Action::Fault,
        ),
        (
            Fault::access_denied(m),
            Some(5),
            "AccessDenied",
            Action::Fault,
        ),
        (
            Fault::encoding_limit(m),
            Some(2_150_858_824),
            "EncodingLimit",
            Action::Fault,
        ),
        (
            Fault::missing_protocol_version(m),
            Some(0x8054_0BC7),
            "InternalError",
            Action::Fault,
        ),
    ];
    for (fault, code, subcode, action) in cases {
        assert_eq!(fault.wsman_code(), code.map(WsManFaultCode), "{subcode}");
        assert_eq!(
            fault.subcode.as_ref().map(|s| s.local.as_str()),
            Some(subcode)
        );
        assert!(!fault.reason_text().is_empty());
        let env = fault.to_envelope(MessageId::new("uuid:2"), Some(MessageId::new("uuid:1")));
        assert_eq!(env.header.action, action);
        assert_eq!(env.header.relates_to, Some(MessageId::new("uuid:1")));
        roundtrip(&env);
    }
    assert_eq!(
        WsManFaultCode::STREAM_DISCONNECTED.to_string(),
        "0x803381DE"
    );
    let f = Fault::invalid_selectors(m);
    assert!(
        f.detail
            .unwrap()
            .fault_detail
            .unwrap()
            .ends_with("/UnexpectedSelectors")
    );
}

#[test]
fn requests_from_the_builder() {
    let shell = ShellId::new("76056A84-51DC-4F24-9262-CA2A55464B2B");
    let env = Envelope::request(
        Action::Command,
        ns::RESOURCE_POWERSHELL,
        MessageId::new("uuid:A"),
    )
    .to("http://localhost:5985/wsman")
    .max_envelope_size(512_000)
    .operation_timeout(Duration::from_secs(20))
    .session_id("uuid:S")
    .shell_id(&shell)
    .option("WINRS_SKIP_CMD_SHELL", "FALSE", None)
    .body(Body::Command(CommandLine {
        command_id: Some(CommandId::new("C1")),
        command: Some(String::new()),
        arguments: vec!["AAAA".into()],
    }));
    assert_eq!(env.header.shell_id(), Some(shell));
    roundtrip(&env);
    let xml = env.encode();
    assert!(
        xml.contains("<w:OperationTimeout>PT20S</w:OperationTimeout>"),
        "{xml}"
    );
    let reply = Envelope::reply_to(
        &env.header,
        MessageId::new("uuid:B"),
        Body::CommandResponse(CommandId::new("C1")),
    );
    assert_eq!(reply.header.action, Action::CommandResponse);
    assert_eq!(reply.header.relates_to, Some(MessageId::new("uuid:A")));
    roundtrip(&reply);
}

fn env(action: Action, body: Body) -> Envelope {
    Envelope::request(action, ns::RESOURCE_CMD, MessageId::new("uuid:1")).body(body)
}

#[test]
fn bodies_without_captures() {
    let shell = Shell {
        shell_id: Some(ShellId::new("S")),
        name: Some("n".into()),
        idle_timeout: Some(Duration::from_secs(7200)),
        max_idle_timeout: Some(Duration::from_millis(2_147_483_647)),
        state: Some(ShellState::Disconnected),
        buffer_mode: Some(BufferMode::Block),
        environment: vec![("A".into(), "1 & <2>".into())],
        working_directory: Some("C:\\".into()),
        lifetime: Some(Duration::from_secs(60)),
        shell_run_time: Some(Duration::from_secs(93_609)),
        other: vec![
            Element::new(Some("urn:x"), "Extra")
                .with_attr("k", "v\"\n")
                .with_text("t"),
        ],
        ..Shell::default()
    };
    let xml = env(
        Action::GetResponse,
        Body::GetResponse(Resource::Shell(Box::new(shell.clone()))),
    )
    .encode();
    assert!(
        xml.contains("<rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>"),
        "{xml}"
    );
    assert!(
        xml.contains("<rsp:MaxIdleTimeOut>PT2147483.647S</rsp:MaxIdleTimeOut>"),
        "{xml}"
    );
    assert!(
        xml.contains("<rsp:ShellRunTime>P1DT2H0M9S</rsp:ShellRunTime>"),
        "{xml}"
    );
    let bodies = [
        (
            Action::Put,
            Body::Put(Resource::Shell(Box::new(shell.clone()))),
        ),
        (
            Action::PutResponse,
            Body::PutResponse(Some(Resource::Config(Config {
                max_envelope_size_kb: Some(500),
                max_timeout_ms: Some(60_000),
                ..Config::default()
            }))),
        ),
        (Action::PutResponse, Body::PutResponse(None)),
        (
            Action::GetResponse,
            Body::GetResponse(Resource::Config(Config {
                max_batch_items: Some(32_000),
                other: vec![Element::new(Some(ns::CONFIG), "Winrs").with_child(
                    Element::new(Some(ns::CONFIG), "MaxShellsPerUser").with_text("30"),
                )],
                ..Config::default()
            })),
        ),
        (
            Action::Enumerate,
            Body::Enumerate(Enumerate {
                optimize: false,
                max_elements: None,
                filter: Some(Filter {
                    dialect: Some("http://schemas.microsoft.com/wbem/wsman/1/WQL".into()),
                    selectors: None,
                    text: Some("select * from x".into()),
                }),
            }),
        ),
        (
            Action::EnumerateResponse,
            Body::EnumerateResponse(EnumerateResponse {
                context: Some("ctx".into()),
                items: Some(vec![
                    Item::Shell(Box::new(shell.clone())),
                    Item::Command(CommandItem {
                        command_id: Some(CommandId::new("C")),
                        command_line: Some(String::new()),
                        command_state: Some("Running".into()),
                    }),
                ]),
                end_of_sequence: false,
            }),
        ),
        (
            Action::Pull,
            Body::Pull(Pull {
                context: "ctx".into(),
                max_elements: Some(5),
            }),
        ),
        (
            Action::PullResponse,
            Body::PullResponse(PullResponse {
                context: None,
                items: vec![Item::Other(
                    Element::new(Some("urn:wmi"), "Win32_Process").with_text("x"),
                )],
                end_of_sequence: true,
            }),
        ),
        (
            Action::Release,
            Body::Release(Release {
                context: "ctx".into(),
            }),
        ),
        (Action::ReleaseResponse, Body::ReleaseResponse),
        (
            Action::Receive,
            Body::Receive(Receive {
                command_id: None,
                streams: vec!["stdout".into()],
                ..Default::default()
            }),
        ),
        (
            Action::ReceiveResponse,
            Body::ReceiveResponse(ReceiveResponse {
                streams: vec![Stream {
                    name: "stdout".into(),
                    command_id: Some(CommandId::new("C")),
                    end: Some(true),
                    data: vec![],
                }],
                command_state: Some(CommandStateInfo {
                    command_id: Some(CommandId::new("C")),
                    state: CommandState::Other("urn:custom".into()),
                    exit_code: Some(-1),
                }),
            }),
        ),
        (
            Action::Signal,
            Body::Signal(Signal {
                command_id: Some(CommandId::new("C")),
                code: SignalCode::PowerShellCrtlC,
            }),
        ),
        (
            Action::Connect,
            Body::Connect(Connect {
                command_id: Some(CommandId::new("C")),
                connect_xml: None,
            }),
        ),
        (
            Action::Disconnect,
            Body::Disconnect(Disconnect {
                idle_timeout: Some(Duration::from_secs(240)),
                buffer_mode: Some(BufferMode::Drop),
            }),
        ),
        (
            Action::Reconnect,
            Body::Reconnect(Reconnect {
                command_id: Some(CommandId::new("C")),
                buffer_mode: Some(BufferMode::Block),
            }),
        ),
        (Action::Reconnect, Body::Reconnect(Reconnect::default())),
        (Action::Get, Body::Get),
    ];
    for (action, body) in bodies {
        roundtrip(&env(action, body));
    }
    let mut e = env(Action::Get, Body::Get);
    e.header.selectors = SelectorSet::default()
        .with("ShellId", "S")
        .with("Other", "x");
    e.header.compression_type = Some("xpress".into());
    e.header.operation_id = Some("uuid:op".into());
    e.header.sequence_id = Some(7);
    e.header
        .other
        .push(Element::new(Some("urn:custom"), "Hdr").with_text("v"));
    roundtrip(&e);
}

#[test]
fn open_enums_are_case_insensitive_and_keep_unknowns() {
    assert_eq!(
        SignalCode::parse(
            "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/Terminate"
        ),
        SignalCode::Terminate
    );
    assert_eq!(
        SignalCode::parse("powershell/signal/crtl_c"),
        SignalCode::PowerShellCrtlC
    );
    assert_eq!(
        SignalCode::parse("http://schemas.microsoft.com/powershell/signal/ctrl_c"),
        SignalCode::PowerShellCtrlC
    );
    assert_eq!(SignalCode::parse("urn:weird").as_str(), "urn:weird");
    assert_eq!(BufferMode::parse("DROP"), BufferMode::Drop);
    assert_eq!(Action::from_uri(Action::Receive.as_uri()), Action::Receive);
    assert_eq!(Action::Receive.response(), Some(Action::ReceiveResponse));
    assert_eq!(Action::ReceiveResponse.response(), None);
    for a in Action::ALL {
        assert_eq!(&Action::from_uri(a.as_uri()), a);
    }
}

#[test]
fn receive_sequence_id_attribute_round_trips_and_is_checked() {
    let receive = Receive {
        command_id: Some(CommandId::new("C")),
        streams: vec!["stdout".into()],
        sequence_id: Some(7),
    };
    let e = env(Action::Receive, Body::Receive(receive));
    let xml = e.encode();
    assert!(xml.contains("SequenceId=\"7\""), "{xml}");
    roundtrip(&e);
    let bad = xml.replace("SequenceId=\"7\"", "SequenceId=\"seven\"");
    assert!(Envelope::decode(bad.as_bytes()).is_err(), "{bad}");
    let none = xml.replace(" SequenceId=\"7\"", "");
    match Envelope::decode(none.as_bytes()).map(|e| e.body) {
        Ok(Body::Receive(r)) => assert_eq!(r.sequence_id, None),
        other => panic!("{other:?}"),
    }
}
