//! The sans-IO WS-Management service with controlled time: every rule of SPEC A1 / B1 / B2 the
//! service implements (access, quotas, selectors, timeouts, idle expiry, unpolled shells,
//! disconnect / reconnect / connect, enumeration paging, envelope size limits).

mod service_support;

use std::time::{Duration, Instant};

use emulator::service::Outcome;
use service_support::*;
use wsman::enumeration::{Item, Pull, Release};
use wsman::shell::{BufferMode, CommandLine, Send, Shell, ShellState, SignalCode, Stream};
use wsman::{Action, Body, CommandId, Envelope, Resource, ShellId, ns};

const INVALID_SELECTORS: Option<u32> = Some(2_150_858_843);
const TIMED_OUT: Option<u32> = Some(2_150_858_793);
const SHELL_QUOTA: Option<u32> = Some(2_150_859_173);
const OPERATION_QUOTA: Option<u32> = Some(2_150_859_174);
const STREAM_DISCONNECTED: Option<u32> = Some(2_150_859_230);
const ACCESS_DENIED: Option<u32> = Some(5);

fn get_shell(
    svc: &mut emulator::service::Service,
    now: Instant,
    who: &emulator::service::Caller,
    uri: &str,
    id: &ShellId,
) -> Shell {
    match ok(svc.handle(now, who, on(Action::Get, uri, id).body(Body::Get))).body {
        Body::GetResponse(Resource::Shell(s)) => *s,
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn create_reply_carries_every_shell_field_relates_to_and_a_fresh_message_id() {
    let (mut svc, _) = service("");
    let now = Instant::now();
    let request = req(Action::Create, ns::RESOURCE_CMD).body(Body::Create(Box::new(Shell {
        input_streams: Some(vec!["stdin".into()]),
        output_streams: Some(vec!["stdout".into(), "stderr".into()]),
        ..Shell::default()
    })));
    let request_id = request.header.message_id.clone();
    let r = reply(svc.handle(now, &alice(), request));
    assert_eq!(r.status, 200);
    assert_eq!(r.envelope.header.relates_to.as_ref(), Some(&request_id));
    assert_ne!(r.envelope.header.message_id, request_id);
    assert!(r.envelope.header.message_id.as_str().starts_with("uuid:"));
    assert_eq!(r.envelope.header.action, Action::CreateResponse);
    assert!(
        r.body
            .contains("<rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>"),
        "{}",
        r.body
    );
    let Body::CreateResponse(c) = r.envelope.body else {
        panic!("{}", r.body)
    };
    assert_eq!(c.resource_uri.as_deref(), Some(ns::RESOURCE_CMD));
    let id = c.shell_id().expect("id");
    let shell = c.shell.expect("rsp:Shell after ResourceCreated");
    assert_eq!(shell.shell_id.as_ref(), Some(&id));
    assert_eq!(shell.owner.as_deref(), Some("alice"));
    assert_eq!(shell.client_ip.as_deref(), Some("10.0.0.1"));
    assert_eq!(shell.state, Some(ShellState::Connected));
    assert_eq!(shell.buffer_mode, Some(BufferMode::Block));
    // BufferMode given at creation is kept.
    let e = req(Action::Create, ns::RESOURCE_CMD).body(Body::Create(Box::new(Shell {
        buffer_mode: Some(BufferMode::Drop),
        ..Shell::default()
    })));
    let Body::CreateResponse(dropping) = ok(svc.handle(now, &alice(), e)).body else {
        panic!()
    };
    assert_eq!(
        dropping.shell.and_then(|s| s.buffer_mode),
        Some(BufferMode::Drop)
    );

    // Get of the shell: the same fields plus MemoryUsed and ChildProcesses, durations moving.
    let later = now + Duration::from_secs(9);
    let r = reply(svc.handle(
        later,
        &alice(),
        on(Action::Get, ns::RESOURCE_SHELLS, &id).body(Body::Get),
    ));
    assert!(
        r.body
            .contains("<rsp:ShellRunTime>P0DT0H0M9S</rsp:ShellRunTime>"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("<rsp:MaxIdleTimeOut>PT7200.000S</rsp:MaxIdleTimeOut>"),
        "{}",
        r.body
    );
    let Body::GetResponse(Resource::Shell(s)) = r.envelope.body else {
        panic!("{}", r.body)
    };
    assert!(
        s.memory_used.is_some() && s.child_processes == Some(0),
        "{s:?}"
    );
    assert!(s.process_id.is_some());
    assert_eq!(s.shell_inactivity, Some(Duration::from_secs(9)));
}

#[test]
fn get_config_reports_the_service_limits() {
    let (mut svc, _) = service("[service]\nmax_envelope_size_kb = 150\nmax_timeout_ms = 3000\n");
    let e = req(Action::Get, ns::RESOURCE_CONFIG).body(Body::Get);
    let env = ok(svc.handle(Instant::now(), &bob(), e));
    let Body::GetResponse(Resource::Config(c)) = env.body else {
        panic!("{env:?}")
    };
    assert_eq!(c.max_envelope_size_kb, Some(150));
    assert_eq!(c.max_timeout_ms, Some(3000));
    assert_eq!(c.max_batch_items, Some(32_000));
    let winrs = c.section("Winrs").expect("Winrs section");
    let idle = winrs.child(ns::CONFIG, "IdleTimeout").expect("IdleTimeout");
    assert_eq!(idle.text(), "7200000");
}

#[test]
fn unknown_shell_and_command_ids_are_invalid_selectors() {
    let (mut svc, _) = service("");
    let now = Instant::now();
    let ghost = ShellId::new("6D1A1A3C-0000-0000-0000-000000000000");
    for body in [Body::Get, Body::Delete] {
        let action = if body == Body::Get {
            Action::Get
        } else {
            Action::Delete
        };
        fault(
            svc.handle(
                now,
                &alice(),
                on(action, ns::RESOURCE_CMD, &ghost).body(body),
            ),
            "InvalidSelectors",
            INVALID_SELECTORS,
        );
    }
    fault(
        receive(&mut svc, now, &alice(), ns::RESOURCE_CMD, &ghost, None),
        "InvalidSelectors",
        INVALID_SELECTORS,
    );
    // No ShellId selector at all.
    fault(
        svc.handle(
            now,
            &alice(),
            req(Action::Delete, ns::RESOURCE_CMD).body(Body::Delete),
        ),
        "InvalidSelectors",
        INVALID_SELECTORS,
    );

    let shell = create_cmd(&mut svc, now, &alice());
    let bad = CommandId::new("11111111-2222-3333-4444-555555555555");
    let f = fault(
        receive(
            &mut svc,
            now,
            &alice(),
            ns::RESOURCE_CMD,
            &shell,
            Some(&bad),
        ),
        "InvalidSelectors",
        INVALID_SELECTORS,
    );
    assert!(format!("{f:?}").contains("command identifier that does not exist"));
    let send = on(Action::Send, ns::RESOURCE_CMD, &shell).body(Body::Send(Send {
        streams: vec![Stream {
            name: "stdin".into(),
            command_id: Some(bad.clone()),
            end: Some(true),
            data: b"x".to_vec(),
        }],
    }));
    fault(
        svc.handle(now, &alice(), send),
        "InvalidSelectors",
        INVALID_SELECTORS,
    );
    let sig = on(Action::Signal, ns::RESOURCE_CMD, &shell)
        .body(signal_body(Some(&bad), SignalCode::Terminate));
    fault(
        svc.handle(now, &alice(), sig),
        "InvalidSelectors",
        INVALID_SELECTORS,
    );

    // Delete removes the shell: it is unknown afterwards.
    ok(svc.handle(
        now,
        &alice(),
        on(Action::Delete, ns::RESOURCE_CMD, &shell).body(Body::Delete),
    ));
    fault(
        svc.handle(
            now,
            &alice(),
            on(Action::Get, ns::RESOURCE_CMD, &shell).body(Body::Get),
        ),
        "InvalidSelectors",
        INVALID_SELECTORS,
    );
    assert_eq!(svc.shell_count(), 0);
}

#[test]
fn another_users_shell_is_access_denied_for_every_operation() {
    let (mut svc, _) = service("");
    let now = Instant::now();
    let shell = create_ps(
        &mut svc,
        now,
        &alice(),
        "B6631D8E-65A0-49F2-9053-A1B156C95777",
    );
    let cmd = CommandId::new("C0000000-0000-0000-0000-000000000001");
    let bodies: Vec<(Action, Body)> = vec![
        (Action::Get, Body::Get),
        (
            Action::Command,
            Body::Command(CommandLine {
                command_id: Some(cmd.clone()),
                command: Some(String::new()),
                arguments: vec![],
            }),
        ),
        (
            Action::Send,
            Body::Send(Send {
                streams: vec![Stream {
                    name: "pr".into(),
                    command_id: None,
                    end: None,
                    data: b"x".to_vec(),
                }],
            }),
        ),
        (
            Action::Receive,
            Body::Receive(wsman::shell::Receive {
                command_id: None,
                streams: vec!["stdout".into()],
                ..Default::default()
            }),
        ),
        (
            Action::Signal,
            signal_body(None, SignalCode::PowerShellCtrlC),
        ),
        (Action::Disconnect, disconnect_body(None, None)),
        (Action::Reconnect, reconnect_body()),
        (Action::Connect, connect_body()),
        (Action::Delete, Body::Delete),
    ];
    for (action, body) in bodies {
        let e = on(action.clone(), PS_URI, &shell).body(body);
        fault(svc.handle(now, &bob(), e), "AccessDenied", ACCESS_DENIED);
    }
    // bob cannot enumerate alice's commands either.
    let e = req(Action::Enumerate, ns::RESOURCE_COMMANDS).body(enumerate_body(
        true,
        None,
        Some(&shell),
    ));
    fault(svc.handle(now, &bob(), e), "AccessDenied", ACCESS_DENIED);
    // The shell is untouched, and the administrator can use bob's shells.
    assert_eq!(
        get_shell(&mut svc, now, &alice(), PS_URI, &shell).state,
        Some(ShellState::Connected)
    );
    let bobs = create_cmd(&mut svc, now, &bob());
    assert_eq!(
        get_shell(&mut svc, now, &alice(), ns::RESOURCE_CMD, &bobs)
            .owner
            .as_deref(),
        Some("bob")
    );
}

#[test]
fn max_shells_per_user_is_a_quota_limit_per_user() {
    let (mut svc, _) = service("[service]\nmax_shells_per_user = 2\n");
    let now = Instant::now();
    let first = create_cmd(&mut svc, now, &bob());
    create_cmd(&mut svc, now, &bob());
    let e = req(Action::Create, ns::RESOURCE_CMD).body(Body::Create(Box::default()));
    let f = fault(svc.handle(now, &bob(), e), "QuotaLimit", SHELL_QUOTA);
    assert!(format!("{f:?}").contains("maximum number of 2 concurrent shells"));
    // Another user is not affected; a deleted shell frees the slot.
    create_cmd(&mut svc, now, &alice());
    ok(svc.handle(
        now,
        &bob(),
        on(Action::Delete, ns::RESOURCE_CMD, &first).body(Body::Delete),
    ));
    create_cmd(&mut svc, now, &bob());
}

#[test]
fn max_concurrent_operations_counts_parked_receives() {
    let (mut svc, fake) = service("[service]\nmax_concurrent_operations_per_user = 2\n");
    let now = Instant::now();
    let shell = create_ps(
        &mut svc,
        now,
        &bob(),
        "AAAAAAAA-1111-2222-3333-444444444444",
    );
    let Outcome::Wait(w1) = receive(&mut svc, now, &bob(), PS_URI, &shell, None) else {
        panic!("nothing to send: parked")
    };
    let Outcome::Wait(_w2) = receive(&mut svc, now, &bob(), PS_URI, &shell, None) else {
        panic!("parked")
    };
    let f = fault(
        receive(&mut svc, now, &bob(), PS_URI, &shell, None),
        "QuotaLimit",
        OPERATION_QUOTA,
    );
    assert!(format!("{f:?}").contains("maximum number of 2 concurrent operations"));
    // Other users are not limited by bob's operations.
    ok(svc.handle(
        now,
        &alice(),
        req(Action::Get, ns::RESOURCE_CONFIG).body(Body::Get),
    ));
    // Output completes the first parked Receive, which frees a slot.
    fake.push_output(b"hello");
    let r = svc.resume(now, w1).expect("output is ready");
    let Body::ReceiveResponse(rr) = r.envelope.body else {
        panic!("{}", r.body)
    };
    assert_eq!(rr.stream_bytes("stdout"), b"hello");
    let Outcome::Wait(w3) = receive(&mut svc, now, &bob(), PS_URI, &shell, None) else {
        panic!("parked")
    };
    // A cancelled wait (client went away) frees its slot too.
    svc.cancel(w3);
    assert!(matches!(
        receive(&mut svc, now, &bob(), PS_URI, &shell, None),
        Outcome::Wait(_)
    ));
}

#[test]
fn max_concurrent_commands_per_shell_is_an_internal_error_naming_the_quota() {
    let (mut svc, _) = service(
        "[[session_configurations]]\nname = \"Microsoft.PowerShell\"\nmax_concurrent_commands_per_shell = 1\nmin_idle_timeout_ms = 1000\n",
    );
    let now = Instant::now();
    let shell = create_ps(
        &mut svc,
        now,
        &alice(),
        "AAAAAAAA-1111-2222-3333-444444444445",
    );
    let first = command_id(command(&mut svc, now, &alice(), PS_URI, &shell, "first"));
    let f = fault(
        command(&mut svc, now, &alice(), PS_URI, &shell, "second"),
        "InternalError",
        None,
    );
    assert!(format!("{f:?}").contains("MaxConcurrentCommandsPerShell"));
    // Terminating the first frees its slot.
    let sig =
        on(Action::Signal, PS_URI, &shell).body(signal_body(Some(&first), SignalCode::Terminate));
    ok(svc.handle(now, &alice(), sig));
    command_id(command(&mut svc, now, &alice(), PS_URI, &shell, "second"));
}

#[test]
fn receive_with_nothing_to_send_times_out_at_the_capped_operation_timeout() {
    let (mut svc, _) = service("[service]\nmax_timeout_ms = 3000\n");
    let now = Instant::now();
    let shell = create_ps(
        &mut svc,
        now,
        &alice(),
        "AAAAAAAA-1111-2222-3333-444444444446",
    );
    // OperationTimeout PT20S is capped at MaxTimeoutms = 3 s.
    let Outcome::Wait(w) = receive(&mut svc, now, &alice(), PS_URI, &shell, None) else {
        panic!("parked")
    };
    let (waiting_on, deadline) = svc.wait_info(w).expect("parked receive");
    assert_eq!(waiting_on, shell);
    assert_eq!(deadline, now + Duration::from_secs(3));
    assert!(svc.resume(now + Duration::from_millis(2999), w).is_none());
    let r = svc.resume(deadline, w).expect("timed out");
    assert_eq!(r.status, 500);
    let f = r.envelope.fault().expect("fault");
    assert_eq!(
        f.subcode.as_ref().map(|s| s.local.as_str()),
        Some("TimedOut")
    );
    assert_eq!(f.wsman_code().map(|c| c.0), TIMED_OUT);
    assert_eq!(f.code.local, "Receiver");
    assert!(svc.wait_info(w).is_none());
}

#[test]
fn disconnected_shell_is_deleted_when_its_idle_timeout_elapses_from_the_disconnect() {
    let (mut svc, fake) = service(
        "[[session_configurations]]\nname = \"Microsoft.PowerShell\"\nmin_idle_timeout_ms = 1000\n[testing]\nunpolled_disconnect_ms = 600000\n",
    );
    let t0 = Instant::now();
    let shell = create_ps(
        &mut svc,
        t0,
        &alice(),
        "AAAAAAAA-1111-2222-3333-444444444447",
    );
    command_id(command(&mut svc, t0, &alice(), PS_URI, &shell, "long"));
    let t1 = t0 + Duration::from_secs(100);
    let d = on(Action::Disconnect, PS_URI, &shell).body(disconnect_body(
        Some(Duration::from_secs(2)),
        Some(BufferMode::Drop),
    ));
    ok(svc.handle(t1, &alice(), d));
    assert!(fake.calls().contains(&"disconnect Drop".to_owned()));
    let s = get_shell(&mut svc, t1, &alice(), PS_URI, &shell);
    assert_eq!(s.state, Some(ShellState::Disconnected));
    assert_eq!(s.idle_timeout, Some(Duration::from_secs(2)));
    assert_eq!(s.buffer_mode, Some(BufferMode::Drop));
    assert_eq!(svc.poll_timeout(), Some(t1 + Duration::from_secs(2)));
    svc.handle_timeout(t1 + Duration::from_millis(1999));
    assert_eq!(
        svc.shell_count(),
        1,
        "commands keep the shell alive until the idle timeout"
    );
    svc.handle_timeout(t1 + Duration::from_secs(2));
    assert_eq!(svc.shell_count(), 0);
    assert!(fake.calls().contains(&"delete".to_owned()));
    fault(
        svc.handle(
            t1 + Duration::from_secs(3),
            &alice(),
            on(Action::Get, PS_URI, &shell).body(Body::Get),
        ),
        "InvalidSelectors",
        INVALID_SELECTORS,
    );
    assert_eq!(svc.poll_timeout(), None);
}

#[test]
fn idle_timeout_outside_the_configuration_bounds_is_refused() {
    let (mut svc, _) = service(
        "[[session_configurations]]\nname = \"Microsoft.PowerShell\"\nmin_idle_timeout_ms = 1000\nmax_idle_timeout_ms = 10000\n",
    );
    let now = Instant::now();
    let shell = create_ps(
        &mut svc,
        now,
        &alice(),
        "AAAAAAAA-1111-2222-3333-444444444448",
    );
    for secs in [0u64, 11] {
        let d = on(Action::Disconnect, PS_URI, &shell).body(disconnect_body(
            Some(Duration::from_millis(
                secs * 1000 + 500 * u64::from(secs == 0),
            )),
            None,
        ));
        let f = fault(svc.handle(now, &alice(), d), "InvalidOptions", Some(0x57));
        assert!(format!("{f:?}").contains("1000 to 10000 ms"), "{f:?}");
    }
    // Still connected: the refused Disconnect changed nothing.
    assert_eq!(
        get_shell(&mut svc, now, &alice(), PS_URI, &shell).state,
        Some(ShellState::Connected)
    );
    // At Create too.
    let e = req(Action::Create, PS_URI)
        .option("protocolversion", "2.3", Some(true))
        .body(Body::Create(Box::new(Shell {
            shell_id_attr: Some(ShellId::new("AAAAAAAA-1111-2222-3333-444444444449")),
            idle_timeout: Some(Duration::from_secs(60)),
            ..Shell::default()
        })));
    fault(svc.handle(now, &alice(), e), "InvalidOptions", Some(0x57));
}

#[test]
fn unpolled_connected_shell_turns_disconnected_then_idles_out() {
    let (mut svc, _) = service(
        "[winrs]\nidle_timeout_ms = 5000\n[[session_configurations]]\nname = \"Microsoft.PowerShell\"\nmin_idle_timeout_ms = 1000\n[testing]\nunpolled_disconnect_ms = 500\n",
    );
    let t0 = Instant::now();
    let shell = create_cmd(&mut svc, t0, &alice());
    assert_eq!(svc.poll_timeout(), Some(t0 + Duration::from_millis(500)));
    // A request to the shell counts as polling.
    let t1 = t0 + Duration::from_millis(400);
    get_shell(&mut svc, t1, &alice(), ns::RESOURCE_CMD, &shell);
    let _ = receive(
        &mut svc,
        t1,
        &alice(),
        ns::RESOURCE_CMD,
        &shell,
        Some(&CommandId::new("nope")),
    );
    svc.handle_timeout(t1 + Duration::from_millis(499));
    assert_eq!(
        get_shell(&mut svc, t1, &alice(), ns::RESOURCE_CMD, &shell).state,
        Some(ShellState::Connected)
    );
    let t2 = t1 + Duration::from_millis(500);
    svc.handle_timeout(t2);
    // Seen from another session (enumeration by the administrator), it is Disconnected.
    let e = req(Action::Enumerate, ns::RESOURCE_SHELLS)
        .session_id("uuid:OTHER")
        .body(enumerate_body(true, None, None));
    let env = ok(svc.handle(t2, &alice(), e));
    let Body::EnumerateResponse(r) = env.body else {
        panic!()
    };
    let Some(Item::Shell(s)) = r.items.unwrap_or_default().into_iter().next() else {
        panic!("one shell")
    };
    assert_eq!(s.state, Some(ShellState::Disconnected));
    // The idle clock runs from the moment it turned Disconnected: 5 s of WinRS IdleTimeout.
    assert_eq!(svc.poll_timeout(), Some(t2 + Duration::from_secs(5)));
    svc.handle_timeout(t2 + Duration::from_secs(5));
    assert_eq!(svc.shell_count(), 0);
}

#[test]
fn unpolled_shell_is_picked_up_again_by_its_own_client() {
    let (mut svc, _) = service("[testing]\nunpolled_disconnect_ms = 500\n");
    let t0 = Instant::now();
    let shell = create_cmd(&mut svc, t0, &alice());
    svc.handle_timeout(t0 + Duration::from_secs(1));
    // Same SessionId: a Command re-attaches transparently.
    let cmd = command_id(command(
        &mut svc,
        t0 + Duration::from_secs(1),
        &alice(),
        ns::RESOURCE_CMD,
        &shell,
        "echo hi",
    ));
    let (out, _, code, _) = drain_command(&mut svc, &alice(), &shell, &cmd, 153_600);
    assert_eq!((out.as_str(), code), ("hi\r\n", 0));
}

#[test]
fn receive_on_a_disconnected_shell_faults_and_pending_receives_end() {
    let (mut svc, _) = service(
        "[[session_configurations]]\nname = \"Microsoft.PowerShell\"\nmin_idle_timeout_ms = 1000\n",
    );
    let now = Instant::now();
    let shell = create_ps(
        &mut svc,
        now,
        &alice(),
        "AAAAAAAA-1111-2222-3333-44444444444A",
    );
    let Outcome::Wait(w) = receive(&mut svc, now, &alice(), PS_URI, &shell, None) else {
        panic!("parked")
    };
    ok(svc.handle(
        now,
        &alice(),
        on(Action::Disconnect, PS_URI, &shell).body(disconnect_body(None, None)),
    ));
    assert_eq!(
        svc.poll_wake(),
        Some(shell.clone()),
        "the driver is told to retry parked receives"
    );
    let r = svc.resume(now, w).expect("ended by the disconnect");
    assert_eq!(
        r.envelope.fault().and_then(|f| f.wsman_code()).map(|c| c.0),
        STREAM_DISCONNECTED
    );
    fault(
        receive(&mut svc, now, &alice(), PS_URI, &shell, None),
        "InternalError",
        STREAM_DISCONNECTED,
    );
    fault(
        command(&mut svc, now, &alice(), PS_URI, &shell, "x"),
        "InternalError",
        STREAM_DISCONNECTED,
    );
}

#[test]
fn reconnect_needs_the_same_session_and_connect_refuses_a_shell_connected_elsewhere() {
    let (mut svc, fake) = service(
        "[[session_configurations]]\nname = \"Microsoft.PowerShell\"\nmin_idle_timeout_ms = 1000\n",
    );
    let now = Instant::now();
    let shell = create_ps(
        &mut svc,
        now,
        &alice(),
        "AAAAAAAA-1111-2222-3333-44444444444B",
    );
    // Connected to S1: a Connect from S2 is refused.
    let c = on(Action::Connect, PS_URI, &shell)
        .session_id("uuid:S2")
        .body(connect_body());
    let f = fault(svc.handle(now, &alice(), c), "InternalError", None);
    assert!(format!("{f:?}").contains("already connected"));
    // Disconnect by S1; Reconnect by S2 refused; Reconnect by S1 works.
    ok(svc.handle(
        now,
        &alice(),
        on(Action::Disconnect, PS_URI, &shell).body(disconnect_body(None, None)),
    ));
    let r = on(Action::Reconnect, PS_URI, &shell)
        .session_id("uuid:S2")
        .body(reconnect_body());
    fault(svc.handle(now, &alice(), r), "InternalError", None);
    ok(svc.handle(
        now,
        &alice(),
        on(Action::Reconnect, PS_URI, &shell).body(reconnect_body()),
    ));
    assert_eq!(
        get_shell(&mut svc, now, &alice(), PS_URI, &shell).state,
        Some(ShellState::Connected)
    );
    // Disconnect again; now a new client (S2) may Connect and gets the backend's response.
    ok(svc.handle(
        now,
        &alice(),
        on(Action::Disconnect, PS_URI, &shell).body(disconnect_body(None, None)),
    ));
    let c = on(Action::Connect, PS_URI, &shell)
        .session_id("uuid:S2")
        .body(connect_body());
    let env = ok(svc.handle(now, &alice(), c));
    let Body::ConnectResponse(cr) = env.body else {
        panic!()
    };
    assert_eq!(cr.connect_response_xml.as_deref(), Some(&b"response"[..]));
    assert!(fake.calls().contains(&"connect".to_owned()));
    // S1 is now the other client: its Connect, Receive and Command are refused.
    let c = on(Action::Connect, PS_URI, &shell).body(connect_body());
    fault(svc.handle(now, &alice(), c), "InternalError", None);
    let f = fault(
        receive(&mut svc, now, &alice(), PS_URI, &shell, None),
        "InternalError",
        None,
    );
    assert!(format!("{f:?}").contains("another client"));
    fault(
        command(&mut svc, now, &alice(), PS_URI, &shell, "x"),
        "InternalError",
        None,
    );
    // S2 works.
    let e = on(Action::Command, PS_URI, &shell)
        .session_id("uuid:S2")
        .body(Body::Command(CommandLine {
            command_id: None,
            command: Some("y".into()),
            arguments: vec![],
        }));
    ok(svc.handle(now, &alice(), e));
}

#[test]
fn enumeration_shows_users_their_own_shells_and_administrators_all() {
    let (mut svc, _) = service("");
    let now = Instant::now();
    let a = create_cmd(&mut svc, now, &alice());
    let b1 = create_cmd(&mut svc, now, &bob());
    let b2 = create_ps(
        &mut svc,
        now,
        &bob(),
        "BBBBBBBB-1111-2222-3333-444444444444",
    );
    let ids = |svc: &mut emulator::service::Service, who: &emulator::service::Caller| {
        let e =
            req(Action::Enumerate, ns::RESOURCE_SHELLS).body(enumerate_body(true, Some(100), None));
        let env = ok(svc.handle(now, who, e));
        let Body::EnumerateResponse(r) = env.body else {
            panic!()
        };
        assert!(r.end_of_sequence);
        r.items
            .unwrap_or_default()
            .into_iter()
            .map(|i| match i {
                Item::Shell(s) => {
                    // Every field PowerShell needs is present.
                    assert!(
                        s.name.is_some() || s.resource_uri.as_deref() == Some(ns::RESOURCE_CMD)
                    );
                    assert!(
                        s.state.is_some() && s.memory_used.is_some() && s.child_processes.is_some()
                    );
                    s.shell_id.expect("ShellId")
                }
                other => panic!("{other:?}"),
            })
            .collect::<Vec<_>>()
    };
    let (alice, bob) = (alice(), bob());
    assert_eq!(ids(&mut svc, &bob), vec![b1.clone(), b2.clone()]);
    assert_eq!(ids(&mut svc, &alice), vec![a, b1, b2]);
}

#[test]
fn pull_pages_through_a_context_that_ends_and_expires() {
    let (mut svc, _) = service("[service]\nenumeration_timeout_ms = 1000\n");
    let now = Instant::now();
    let made: Vec<ShellId> = (0..5)
        .map(|_| create_cmd(&mut svc, now, &alice()))
        .collect();
    // Optimized with MaxElements 2: two items, then a context to pull from.
    let e = req(Action::Enumerate, ns::RESOURCE_SHELLS).body(enumerate_body(true, Some(2), None));
    let Body::EnumerateResponse(r) = ok(svc.handle(now, &alice(), e)).body else {
        panic!()
    };
    assert_eq!(r.items.as_ref().map(Vec::len), Some(2));
    assert!(!r.end_of_sequence);
    let context = r.context.expect("context");
    let mut seen: Vec<ShellId> = r
        .items
        .unwrap_or_default()
        .into_iter()
        .filter_map(shell_id)
        .collect();
    // Another user cannot use alice's context.
    let p = req(Action::Pull, ns::RESOURCE_SHELLS).body(Body::Pull(Pull {
        context: context.clone(),
        max_elements: Some(2),
    }));
    fault(
        svc.handle(now, &bob(), p),
        "InvalidEnumerationContext",
        None,
    );
    loop {
        let p = req(Action::Pull, ns::RESOURCE_SHELLS).body(Body::Pull(Pull {
            context: context.clone(),
            max_elements: Some(2),
        }));
        let Body::PullResponse(pr) = ok(svc.handle(now, &alice(), p)).body else {
            panic!()
        };
        assert!(pr.items.len() <= 2);
        seen.extend(pr.items.into_iter().filter_map(shell_id));
        if pr.end_of_sequence {
            assert!(pr.context.is_none());
            break;
        }
        assert_eq!(pr.context.as_deref(), Some(context.as_str()));
    }
    assert_eq!(seen, made);
    // The finished context is gone.
    let p = req(Action::Pull, ns::RESOURCE_SHELLS).body(Body::Pull(Pull {
        context,
        max_elements: None,
    }));
    fault(
        svc.handle(now, &alice(), p),
        "InvalidEnumerationContext",
        None,
    );

    // Without OptimizeEnumeration: an empty response with a context; Pull defaults to one item.
    let e = req(Action::Enumerate, ns::RESOURCE_SHELLS).body(enumerate_body(false, None, None));
    let Body::EnumerateResponse(r) = ok(svc.handle(now, &alice(), e)).body else {
        panic!()
    };
    assert!(r.items.is_none());
    let context = r.context.expect("context");
    let p = req(Action::Pull, ns::RESOURCE_SHELLS).body(Body::Pull(Pull {
        context: context.clone(),
        max_elements: None,
    }));
    let Body::PullResponse(pr) = ok(svc.handle(now, &alice(), p)).body else {
        panic!()
    };
    assert_eq!(pr.items.len(), 1);
    // Release ends it; releasing again is a fault.
    let rel = || {
        req(Action::Release, ns::RESOURCE_SHELLS).body(Body::Release(Release {
            context: context.clone(),
        }))
    };
    ok(svc.handle(now, &alice(), rel()));
    fault(
        svc.handle(now, &alice(), rel()),
        "InvalidEnumerationContext",
        None,
    );

    // Contexts expire after EnumerationTimeoutms.
    let e = req(Action::Enumerate, ns::RESOURCE_SHELLS).body(enumerate_body(false, None, None));
    let Body::EnumerateResponse(r) = ok(svc.handle(now, &alice(), e)).body else {
        panic!()
    };
    let context = r.context.expect("context");
    svc.handle_timeout(now + Duration::from_secs(1));
    let p = req(Action::Pull, ns::RESOURCE_SHELLS).body(Body::Pull(Pull {
        context,
        max_elements: None,
    }));
    fault(
        svc.handle(now + Duration::from_secs(1), &alice(), p),
        "InvalidEnumerationContext",
        None,
    );
}

fn shell_id(i: Item) -> Option<ShellId> {
    match i {
        Item::Shell(s) => s.shell_id,
        _ => None,
    }
}

#[test]
fn enumeration_of_a_shells_commands_uses_the_selector_filter() {
    let (mut svc, _) = service("");
    let now = Instant::now();
    let shell = create_ps(
        &mut svc,
        now,
        &alice(),
        "AAAAAAAA-1111-2222-3333-44444444444C",
    );
    let c1 = command_id(command(&mut svc, now, &alice(), PS_URI, &shell, "Get-Date"));
    let c2 = command_id(command(
        &mut svc,
        now,
        &alice(),
        PS_URI,
        &shell,
        "Get-Process",
    ));
    let e = req(Action::Enumerate, ns::RESOURCE_COMMANDS).body(enumerate_body(
        true,
        None,
        Some(&shell),
    ));
    let env = ok(svc.handle(now, &alice(), e));
    let Body::EnumerateResponse(r) = env.body else {
        panic!()
    };
    let items: Vec<_> = r
        .items
        .unwrap_or_default()
        .into_iter()
        .map(|i| match i {
            Item::Command(c) => (
                c.command_id.expect("id"),
                c.command_line.expect("line"),
                c.command_state.expect("state"),
            ),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        items,
        vec![
            (c1, "Get-Date".into(), "Running".into()),
            (c2, "Get-Process".into(), "Running".into())
        ]
    );
    // Without the filter the shell is unknown.
    let e = req(Action::Enumerate, ns::RESOURCE_COMMANDS).body(enumerate_body(true, None, None));
    fault(
        svc.handle(now, &alice(), e),
        "InvalidSelectors",
        INVALID_SELECTORS,
    );
}

#[test]
fn resource_uris_route_to_configured_endpoints_only() {
    let (mut svc, _) = service("[[session_configurations]]\nname = \"JEA\"\n");
    let now = Instant::now();
    let e = req(
        Action::Create,
        "http://schemas.microsoft.com/powershell/Nope",
    )
    .body(Body::Create(Box::default()));
    let f = fault(
        svc.handle(now, &alice(), e),
        "DestinationUnreachable",
        Some(2_150_858_811),
    );
    assert!(format!("{f:?}").contains("InvalidResourceURI"));
    let e = req(Action::Create, "http://example.com/unknown").body(Body::Create(Box::default()));
    fault(
        svc.handle(now, &alice(), e),
        "DestinationUnreachable",
        Some(2_150_858_811),
    );
    // A configured name (case-insensitive) reaches the PowerShell factory.
    create_ps_uri(&mut svc, now, "http://schemas.microsoft.com/powershell/jea");
    // Without the PowerShell backend, a clear InternalError.
    let mut plain = emulator::service::Service::new(config(""));
    let e = req(Action::Create, PS_URI)
        .option("protocolversion", "2.3", Some(true))
        .body(Body::Create(Box::default()));
    let f = fault(plain.handle(now, &alice(), e), "InternalError", None);
    assert_eq!(f.reason_text(), "PowerShell shells are not implemented yet");
}

fn create_ps_uri(svc: &mut emulator::service::Service, now: Instant, uri: &str) {
    let e = req(Action::Create, uri)
        .option("protocolversion", "2.3", Some(true))
        .body(Body::Create(Box::new(Shell {
            shell_id_attr: Some(ShellId::new("cccccccc-1111-2222-3333-444444444444")),
            ..Shell::default()
        })));
    let env = ok(svc.handle(now, &alice(), e));
    let Body::CreateResponse(c) = env.body else {
        panic!()
    };
    // The client's id, upper-cased as Windows reports it.
    assert_eq!(
        c.shell_id().map(|s| s.as_str().to_owned()).as_deref(),
        Some("CCCCCCCC-1111-2222-3333-444444444444")
    );
}

#[test]
fn malformed_requests_get_windows_faults() {
    let (mut svc, _) = service("[service]\nmax_envelope_size_kb = 4\n");
    let now = Instant::now();
    // PT-1S in OperationTimeout: InvalidMessageInformationHeader, with RelatesTo.
    let text = req(Action::Get, ns::RESOURCE_CONFIG)
        .body(Body::Get)
        .encode()
        .replace("PT20S", "PT-1S");
    let r = reply(svc.handle_bytes(now, &alice(), text.as_bytes()));
    assert_eq!(r.status, 500);
    let f = r.envelope.fault().expect("fault");
    assert_eq!(f.wsman_code().map(|c| c.0), Some(2_150_858_767));
    assert_eq!(
        f.subcode.as_ref().map(|s| s.local.as_str()),
        Some("InvalidMessageInformationHeader")
    );
    assert!(r.envelope.header.relates_to.is_some());
    assert!(format!("{f:?}").contains("PT-1S"));
    // Over MaxEnvelopeSizekb: EncodingLimit.
    let big = Envelope {
        header: req(Action::Send, ns::RESOURCE_CMD).body(Body::Get).header,
        body: Body::Send(Send {
            streams: vec![Stream {
                name: "stdin".into(),
                command_id: None,
                end: None,
                data: vec![b'x'; 8192],
            }],
        }),
    }
    .encode();
    let f = fault(
        svc.handle_bytes(now, &alice(), big.as_bytes()),
        "EncodingLimit",
        Some(2_150_858_824),
    );
    assert!(format!("{f:?}").contains("MaxEnvelopeSize"));
    // Not XML: HTTP 400 with a Sender fault.
    let r = reply(svc.handle_bytes(now, &alice(), b"<s:Envelope"));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.envelope.fault().map(|f| f.code.local.clone()).as_deref(),
        Some("Sender")
    );
    // No Action header.
    let no_action = "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Header/><s:Body/></s:Envelope>";
    fault(
        svc.handle_bytes(now, &alice(), no_action.as_bytes()),
        "InvalidMessageInformationHeader",
        Some(2_150_858_767),
    );
    // A reply that cannot fit the request's MaxEnvelopeSize is an EncodingLimit fault.
    let e = req(Action::Get, ns::RESOURCE_CONFIG)
        .max_envelope_size(600)
        .body(Body::Get);
    fault(
        svc.handle(now, &alice(), e),
        "EncodingLimit",
        Some(2_150_858_824),
    );
}

#[test]
fn receive_replies_never_exceed_the_requests_max_envelope_size() {
    let (mut svc, _) = service("");
    let big: String = (0..20_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let shell = create_cmd_with(
        &mut svc,
        Instant::now(),
        &alice(),
        Shell {
            environment: vec![("BIG".into(), big.clone())],
            ..Shell::default()
        },
    );
    let cmd = command_id(command(
        &mut svc,
        Instant::now(),
        &alice(),
        ns::RESOURCE_CMD,
        &shell,
        "echo %BIG%",
    ));
    let (out, err, code, sizes) = drain_command(&mut svc, &alice(), &shell, &cmd, 4096);
    assert_eq!(code, 0);
    assert_eq!(err, "");
    assert_eq!(out, format!("{big}\r\n"), "all output arrives, in order");
    assert!(sizes.len() >= 6, "paged over several replies: {sizes:?}");
    assert!(sizes.iter().all(|s| *s <= 4096), "{sizes:?}");
}

#[test]
fn winrs_runs_commands_with_arguments_environment_and_exit_codes() {
    let (mut svc, _) = service("");
    let now = Instant::now();
    let shell = create_cmd_with(
        &mut svc,
        now,
        &alice(),
        Shell {
            environment: vec![("GREETING".into(), "bonjour".into())],
            working_directory: Some("C:\\Temp".into()),
            ..Shell::default()
        },
    );
    let e = on(Action::Command, ns::RESOURCE_CMD, &shell).body(Body::Command(CommandLine {
        command_id: None,
        command: Some("cmd.exe".into()),
        arguments: vec!["/c".into(), "echo".into(), "%GREETING%".into()],
    }));
    let cmd = command_id(svc.handle(now, &alice(), e));
    assert_eq!(
        drain_command(&mut svc, &alice(), &shell, &cmd, 153_600).0,
        "bonjour\r\n"
    );
    let cmd = command_id(command(
        &mut svc,
        now,
        &alice(),
        ns::RESOURCE_CMD,
        &shell,
        "echo bad 1>&2 & exit /b 5",
    ));
    let (_, _, code, _) = drain_command(&mut svc, &alice(), &shell, &cmd, 153_600);
    assert_eq!(code, 5);
    // Done commands stay known (clients signal terminate after Done) and enumerate as Done.
    let e = req(Action::Enumerate, ns::RESOURCE_COMMANDS).body(enumerate_body(
        true,
        None,
        Some(&shell),
    ));
    let env = ok(svc.handle(now, &alice(), e));
    assert!(format!("{env:?}").contains("Done"));
    let sig = on(Action::Signal, ns::RESOURCE_CMD, &shell)
        .body(signal_body(Some(&cmd), SignalCode::Terminate));
    ok(svc.handle(now, &alice(), sig));
    fault(
        receive(
            &mut svc,
            now,
            &alice(),
            ns::RESOURCE_CMD,
            &shell,
            Some(&cmd),
        ),
        "InvalidSelectors",
        INVALID_SELECTORS,
    );
}

#[test]
fn winrs_ctrl_c_stops_a_running_command_and_terminate_frees_its_slot() {
    let (mut svc, _) = service("[winrs]\nmax_processes_per_shell = 1\n");
    let now = Instant::now();
    let shell = create_cmd(&mut svc, now, &alice());
    let cmd = command_id(command(
        &mut svc,
        now,
        &alice(),
        ns::RESOURCE_CMD,
        &shell,
        "ping -n 30 127.0.0.1",
    ));
    let f = fault(
        command(
            &mut svc,
            now,
            &alice(),
            ns::RESOURCE_CMD,
            &shell,
            "echo second",
        ),
        "InternalError",
        None,
    );
    assert!(format!("{f:?}").contains("MaxConcurrentCommandsPerShell"));
    // Wait for ping's first lines, then stop it.
    let first = loop {
        match receive(
            &mut svc,
            now,
            &alice(),
            ns::RESOURCE_CMD,
            &shell,
            Some(&cmd),
        ) {
            Outcome::Reply(r) => break r,
            Outcome::Wait(id) => {
                std::thread::sleep(Duration::from_millis(20));
                if let Some(r) = svc.resume(now, id) {
                    break r;
                }
                svc.cancel(id);
            }
        }
    };
    assert!(
        first.body.contains("CommandState/Running"),
        "{}",
        first.body
    );
    let sig = on(Action::Signal, ns::RESOURCE_CMD, &shell)
        .body(signal_body(Some(&cmd), SignalCode::CtrlC));
    ok(svc.handle(now, &alice(), sig));
    let started = std::time::Instant::now();
    let (out, _, code, _) = drain_command(&mut svc, &alice(), &shell, &cmd, 153_600);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "ctrl_c stopped the ping"
    );
    assert!(!out.contains("Ping statistics"), "{out}");
    assert_eq!(
        code, 3_221_225_786,
        "STATUS_CONTROL_C_EXIT as an unsigned DWORD"
    );
    let sig = on(Action::Signal, ns::RESOURCE_CMD, &shell).body(signal_body(
        Some(&cmd),
        SignalCode::parse(
            "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/Terminate",
        ),
    ));
    ok(svc.handle(now, &alice(), sig));
    command_id(command(
        &mut svc,
        now,
        &alice(),
        ns::RESOURCE_CMD,
        &shell,
        "echo second",
    ));
}

/// Polls the shell's command list (enumeration works on a disconnected shell) until `id` is in
/// `state` or `limit` passes.
fn wait_command_state(
    svc: &mut emulator::service::Service,
    shell: &ShellId,
    id: &CommandId,
    state: &str,
    limit: Duration,
) -> bool {
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        let e = req(Action::Enumerate, ns::RESOURCE_COMMANDS).body(enumerate_body(
            true,
            None,
            Some(shell),
        ));
        let env = ok(svc.handle(Instant::now(), &alice(), e));
        let Body::EnumerateResponse(r) = env.body else {
            panic!()
        };
        let found = r.items.unwrap_or_default().into_iter().any(|i| match i {
            Item::Command(c) => {
                c.command_id.as_ref() == Some(id) && c.command_state.as_deref() == Some(state)
            }
            _ => false,
        });
        if found {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

const SMALL_BUFFER: &str = "[[session_configurations]]\nname = \"Microsoft.PowerShell\"\noutput_buffer_size_kb = 1\nmin_idle_timeout_ms = 1000\n";

#[test]
fn winrs_block_mode_suspends_the_command_until_output_is_received() {
    let (mut svc, _) = service(SMALL_BUFFER);
    let big = "b".repeat(2048);
    let shell = create_cmd_with(
        &mut svc,
        Instant::now(),
        &alice(),
        Shell {
            environment: vec![("BIG".into(), big.clone())],
            ..Shell::default()
        },
    );
    let cmd = command_id(command(
        &mut svc,
        Instant::now(),
        &alice(),
        ns::RESOURCE_CMD,
        &shell,
        "echo %BIG% & echo %BIG% & echo done-marker",
    ));
    // The second echo does not fit the 1 KiB buffer: the command waits for a Receive.
    assert!(
        !wait_command_state(&mut svc, &shell, &cmd, "Done", Duration::from_millis(400)),
        "blocked on a full buffer"
    );
    let (out, _, code, _) = drain_command(&mut svc, &alice(), &shell, &cmd, 153_600);
    assert_eq!(code, 0);
    // cmd keeps the space before `&` in echo's text.
    let expected = format!("{big} \r\n{big} \r\ndone-marker\r\n");
    assert!(
        out == expected,
        "nothing lost: {} of {} bytes",
        out.len(),
        expected.len()
    );
}

#[test]
fn winrs_drop_mode_while_disconnected_discards_the_oldest_output() {
    let (mut svc, _) = service(SMALL_BUFFER);
    let big = "d".repeat(2048);
    let shell = create_cmd_with(
        &mut svc,
        Instant::now(),
        &alice(),
        Shell {
            environment: vec![("BIG".into(), big.clone())],
            ..Shell::default()
        },
    );
    let cmd = command_id(command(
        &mut svc,
        Instant::now(),
        &alice(),
        ns::RESOURCE_CMD,
        &shell,
        "ping -n 2 127.0.0.1 & echo %BIG% & echo %BIG% & echo done-marker",
    ));
    let d = on(Action::Disconnect, ns::RESOURCE_CMD, &shell)
        .body(disconnect_body(None, Some(BufferMode::Drop)));
    ok(svc.handle(Instant::now(), &alice(), d));
    // Nobody receives, yet the command runs to the end.
    assert!(
        wait_command_state(&mut svc, &shell, &cmd, "Done", Duration::from_secs(5)),
        "Drop never blocks"
    );
    ok(svc.handle(
        Instant::now(),
        &alice(),
        on(Action::Reconnect, ns::RESOURCE_CMD, &shell).body(reconnect_body()),
    ));
    let (out, _, code, _) = drain_command(&mut svc, &alice(), &shell, &cmd, 153_600);
    assert_eq!(code, 0);
    assert!(out.ends_with("done-marker\r\n"), "{} bytes", out.len());
    assert!(!out.contains("Pinging"), "the oldest output was dropped");
    assert!(out.len() < 2 * big.len(), "{}", out.len());
}

#[test]
fn enumeration_pages_by_envelope_size_too() {
    let (mut svc, _) = service("");
    let now = Instant::now();
    let made: Vec<ShellId> = (0..8)
        .map(|_| create_cmd(&mut svc, now, &alice()))
        .collect();
    let e = req(Action::Enumerate, ns::RESOURCE_SHELLS)
        .max_envelope_size(4096)
        .body(enumerate_body(true, Some(32_000), None));
    let r = reply(svc.handle(now, &alice(), e));
    assert!(r.body.len() <= 4096, "{}", r.body.len());
    let Body::EnumerateResponse(first) = r.envelope.body else {
        panic!()
    };
    let mut seen: Vec<ShellId> = first
        .items
        .unwrap_or_default()
        .into_iter()
        .filter_map(shell_id)
        .collect();
    assert!(
        !seen.is_empty() && seen.len() < made.len(),
        "{}",
        seen.len()
    );
    let context = first.context.expect("context");
    loop {
        let p = req(Action::Pull, ns::RESOURCE_SHELLS)
            .max_envelope_size(4096)
            .body(Body::Pull(Pull {
                context: context.clone(),
                max_elements: Some(32_000),
            }));
        let r = reply(svc.handle(now, &alice(), p));
        assert!(r.body.len() <= 4096, "{}", r.body.len());
        let Body::PullResponse(pr) = r.envelope.body else {
            panic!("{}", r.body)
        };
        seen.extend(pr.items.into_iter().filter_map(shell_id));
        if pr.end_of_sequence {
            break;
        }
    }
    assert_eq!(seen, made);
}

#[test]
fn unsupported_actions_are_refused_with_action_not_supported() {
    let (mut svc, _) = service("");
    let now = Instant::now();
    let shell = create_cmd(&mut svc, now, &alice());
    let put =
        on(Action::Put, ns::RESOURCE_CMD, &shell).body(Body::Put(Resource::Shell(Box::default())));
    fault(svc.handle(now, &alice(), put), "ActionNotSupported", None);
    let other = req(
        Action::from_uri("http://schemas.xmlsoap.org/ws/2004/09/transfer/Frobnicate"),
        ns::RESOURCE_CMD,
    )
    .body(Body::Empty);
    fault(svc.handle(now, &alice(), other), "ActionNotSupported", None);
    // Connect is a PowerShell operation.
    let c = on(Action::Connect, ns::RESOURCE_CMD, &shell).body(connect_body());
    fault(svc.handle(now, &alice(), c), "ActionNotSupported", None);
}

#[test]
fn huge_configured_intervals_never_overflow_the_clock() {
    let max = u64::MAX;
    let (mut svc, _) = service(&format!(
        "[service]\nmax_timeout_ms = {max}\nenumeration_timeout_ms = {max}\n[winrs]\nidle_timeout_ms = {max}\n[testing]\nunpolled_disconnect_ms = {max}\n[[session_configurations]]\nname = \"Microsoft.PowerShell\"\nidle_timeout_ms = {max}\nmax_idle_timeout_ms = {max}\n"
    ));
    let now = Instant::now();
    let shell = create_ps(
        &mut svc,
        now,
        &alice(),
        "AAAAAAAA-1111-2222-3333-44444444444D",
    );
    let e = on(Action::Receive, PS_URI, &shell)
        .operation_timeout(Duration::from_secs(u64::MAX / 4))
        .body(Body::Receive(wsman::shell::Receive {
            command_id: None,
            streams: vec!["stdout".into()],
            ..Default::default()
        }));
    let Outcome::Wait(w) = svc.handle(now, &alice(), e) else {
        panic!("parked")
    };
    assert!(svc.wait_info(w).is_some());
    assert!(svc.resume(now + Duration::from_secs(3600), w).is_none());
    let d = on(Action::Disconnect, PS_URI, &shell).body(disconnect_body(
        Some(Duration::from_secs(u64::MAX / 4)),
        None,
    ));
    let _ = svc.handle(now, &alice(), d);
    let e = req(Action::Enumerate, ns::RESOURCE_SHELLS).body(enumerate_body(false, None, None));
    ok(svc.handle(now, &alice(), e));
    assert!(svc.poll_timeout().is_some());
    svc.handle_timeout(now + Duration::from_secs(86_400));
    assert_eq!(svc.shell_count(), 1);
}
