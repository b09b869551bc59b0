//! The async driver ([`WsManService`]) in real time, without HTTP: parked Receives woken by
//! output, ended by a Disconnect or by OperationTimeout, cancelled when the request goes away,
//! and the timer task deleting idle shells. Times are shortened through the config knobs.

mod service_support;

use std::net::SocketAddr;
use std::time::Duration;

use emulator::service::WsManService;
use emulator::{RequestContext, SoapService};
use service_support::*;
use wsman::shell::{CommandLine, CommandState, Receive, Shell};
use wsman::{Action, Body, CommandId, Envelope, ShellId, ns};

fn ctx(user: &str, admin: bool) -> RequestContext {
    let addr: SocketAddr = "127.0.0.1:50000".parse().expect("address");
    RequestContext::new(user, admin, addr, 1, false)
}

async fn call(svc: &WsManService, user: &str, e: Envelope) -> (u16, Envelope) {
    let r = svc
        .handle(ctx(user, user == "alice"), e.encode().into_bytes())
        .await;
    let env = Envelope::decode(&r.body).expect("reply decodes");
    (r.status, env)
}

async fn create(svc: &WsManService) -> ShellId {
    let e = req(Action::Create, ns::RESOURCE_CMD).body(Body::Create(Box::new(Shell {
        input_streams: Some(vec!["stdin".into()]),
        output_streams: Some(vec!["stdout".into(), "stderr".into()]),
        ..Shell::default()
    })));
    let (status, env) = call(svc, "alice", e).await;
    assert_eq!(status, 200);
    let Body::CreateResponse(c) = env.body else {
        panic!("{env:?}")
    };
    c.shell_id().expect("id")
}

async fn run(svc: &WsManService, shell: &ShellId, line: &str) -> CommandId {
    let e = on(Action::Command, ns::RESOURCE_CMD, shell).body(Body::Command(CommandLine {
        command_id: None,
        command: Some(line.into()),
        arguments: vec![],
    }));
    let (status, env) = call(svc, "alice", e).await;
    assert_eq!(status, 200, "{env:?}");
    let Body::CommandResponse(id) = env.body else {
        panic!("{env:?}")
    };
    id
}

fn receive_req(shell: &ShellId, cmd: &CommandId, timeout: Duration) -> Envelope {
    on(Action::Receive, ns::RESOURCE_CMD, shell)
        .operation_timeout(timeout)
        .body(Body::Receive(Receive {
            command_id: Some(cmd.clone()),
            streams: vec!["stdout".into(), "stderr".into()],
            ..Default::default()
        }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_receive_is_woken_by_output_and_times_out_when_there_is_none() {
    let svc = WsManService::new(config("[service]\nmax_timeout_ms = 1500\n"));
    let shell = create(&svc).await;
    // ping prints its header at once, then a reply every second.
    let cmd = run(&svc, &shell, "ping -n 4 127.0.0.1").await;
    let mut timed_out = 0;
    let mut output = Vec::new();
    let started = std::time::Instant::now();
    loop {
        assert!(started.elapsed() < Duration::from_secs(15));
        let (status, env) = call(
            &svc,
            "alice",
            receive_req(&shell, &cmd, Duration::from_secs(60)),
        )
        .await;
        match env.body {
            Body::ReceiveResponse(r) => {
                assert_eq!(status, 200);
                output.extend(r.stream_bytes("stdout"));
                if r.command_state.as_ref().map(|s| &s.state) == Some(&CommandState::Done) {
                    assert_eq!(r.command_state.and_then(|s| s.exit_code), Some(0));
                    break;
                }
            }
            Body::Fault(f) => {
                assert_eq!(status, 500);
                assert_eq!(f.wsman_code().map(|c| c.0), Some(2_150_858_793), "{f:?}");
                timed_out += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    let text = String::from_utf8(output).expect("utf-8");
    assert_eq!(text.matches("Reply from 127.0.0.1").count(), 4, "{text}");
    // The replies came as they were produced (woken parks), spread over about 3 seconds.
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(timed_out, 0, "output every second beats the 1.5 s cap");

    // A command that prints nothing for longer than the cap: w:TimedOut after ~1.5 s (the
    // request asked 60 s; MaxTimeoutms wins).
    let cmd = run(&svc, &shell, "ping -n 3 127.0.0.1").await;
    let (_, first) = call(
        &svc,
        "alice",
        receive_req(&shell, &cmd, Duration::from_secs(60)),
    )
    .await;
    assert!(matches!(first.body, Body::ReceiveResponse(_)));
    let mut saw_timeout = false;
    for _ in 0..10 {
        let t = std::time::Instant::now();
        let (status, env) = call(
            &svc,
            "alice",
            receive_req(&shell, &cmd, Duration::from_millis(300)),
        )
        .await;
        if let Body::Fault(f) = env.body {
            assert_eq!(status, 500);
            assert_eq!(f.wsman_code().map(|c| c.0), Some(2_150_858_793));
            assert!(
                t.elapsed() >= Duration::from_millis(290),
                "{:?}",
                t.elapsed()
            );
            assert!(
                t.elapsed() < Duration::from_millis(1400),
                "{:?}",
                t.elapsed()
            );
            saw_timeout = true;
            break;
        }
    }
    assert!(saw_timeout, "a 300 ms receive between pings times out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_ends_a_parked_receive_and_dropped_requests_free_their_slot() {
    let svc = WsManService::new(config(
        "[service]\nmax_concurrent_operations_per_user = 2\n[[session_configurations]]\nname = \"Microsoft.PowerShell\"\nmin_idle_timeout_ms = 1000\n",
    ));
    let shell = create(&svc).await;
    let cmd = run(&svc, &shell, "ping -n 30 127.0.0.1").await;
    // Drain the header so the next Receive parks.
    let (_, first) = call(
        &svc,
        "alice",
        receive_req(&shell, &cmd, Duration::from_secs(60)),
    )
    .await;
    assert!(matches!(first.body, Body::ReceiveResponse(_)));

    // A request that goes away while parked frees its operation slot.
    for _ in 0..3 {
        let pending = call(
            &svc,
            "alice",
            receive_req(&shell, &cmd, Duration::from_secs(60)),
        );
        let _ = tokio::time::timeout(Duration::from_millis(50), pending).await;
    }
    let s2 = svc.clone();
    let (sh, cm) = (shell.clone(), cmd.clone());
    let parked = tokio::spawn(async move {
        let mut out = Vec::new();
        loop {
            let (status, env) =
                call(&s2, "alice", receive_req(&sh, &cm, Duration::from_secs(60))).await;
            match env.body {
                Body::ReceiveResponse(_) => out.push(status),
                Body::Fault(f) => return (status, f, out),
                other => panic!("{other:?}"),
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let d = on(Action::Disconnect, ns::RESOURCE_CMD, &shell)
        .body(disconnect_body(Some(Duration::from_secs(1)), None));
    let (status, _) = call(&svc, "alice", d).await;
    assert_eq!(status, 200);
    let (status, f, _) = tokio::time::timeout(Duration::from_secs(5), parked)
        .await
        .expect("the parked receive ended promptly")
        .expect("join");
    assert_eq!(status, 500);
    assert_eq!(f.wsman_code().map(|c| c.0), Some(2_150_859_230));
    // The timer task deletes the shell (and stops its command) one second after the disconnect.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(svc.with_core(|c| c.shell_count()), 0);
    let (status, env) = call(
        &svc,
        "alice",
        on(Action::Get, ns::RESOURCE_CMD, &shell).body(Body::Get),
    )
    .await;
    assert_eq!(status, 500);
    assert_eq!(
        env.fault().and_then(|f| f.wsman_code()).map(|c| c.0),
        Some(2_150_858_843)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_clients_bad_request_does_not_disturb_anothers_session() {
    let svc = WsManService::new(config(""));
    let shell = create(&svc).await;
    for junk in [
        &b"<not xml"[..],
        b"",
        b"\xff\xfe",
        b"<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body/></s:Envelope>",
    ] {
        let r = svc.handle(ctx("bob", false), junk.to_vec()).await;
        assert!(r.status == 400 || r.status == 500, "{}", r.status);
        Envelope::decode(&r.body).expect("a SOAP fault even for junk");
    }
    let cmd = run(&svc, &shell, "echo still fine").await;
    let (_, env) = call(
        &svc,
        "alice",
        receive_req(&shell, &cmd, Duration::from_secs(5)),
    )
    .await;
    let Body::ReceiveResponse(r) = env.body else {
        panic!("{env:?}")
    };
    assert_eq!(r.stream_bytes("stdout"), b"still fine\r\n");
}
