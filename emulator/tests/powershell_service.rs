//! PowerShell shells through the sans-IO WS-Management service with real envelopes, psrp's
//! client roles on the other end: replies fit a small MaxEnvelopeSize, PIPELINE_STATE and
//! CommandState Done share a reply, the `crtl_c` typo stops a pipeline, and the disconnected
//! session flows (Disconnect with BufferMode, Receive faulting while disconnected, command
//! enumeration, Reconnect by SessionId, Connect from another client with pipeline reattach).

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use base64::Engine as _;
use emulator::Config;
use emulator::powershell::PowerShellShells;
use emulator::service::{Caller, Outcome, Reply, Service};
use psrp::clixml::Value as X;
use psrp::fragment::ObjectId;
use psrp::message::{PipelineId, RunspacePoolId};
use psrp::messages::CreatePipeline;
use psrp::pipeline::{Event as PEvent, Pipeline};
use psrp::records::{
    ApartmentState, Command, HostInfo, PowerShellPipeline, PsInvocationState, RemoteStreamOptions,
    RunspacePoolState,
};
use psrp::runspace_pool::RunspacePool;
use wsman::enumeration::{Enumerate, Filter, Item};
use wsman::header::SelectorSet;
use wsman::shell::{
    BufferMode, CommandLine, CommandState, Connect, Disconnect, Receive, ReceiveResponse,
    Reconnect, Shell, Signal, SignalCode,
};
use wsman::{Action, Body, CommandId, Envelope, MessageId, ShellId, WsManFaultCode, ns};

const PS_URI: &str = "http://schemas.microsoft.com/powershell/Microsoft.PowerShell";
const SMALL: u32 = 8192;

fn config() -> Config {
    Config::from_toml(
        r#"
computer_name = "SERVER01"
[[users]]
name = "alice"
password = "a"
admin = true
[[session_configurations]]
name = "Microsoft.PowerShell"
min_idle_timeout_ms = 1000
output_buffer_size_kb = 64
"#,
    )
    .expect("config")
}

fn alice() -> Caller {
    Caller::new("alice", true, IpAddr::V4(Ipv4Addr::LOCALHOST))
}

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn req(action: Action, session: &str) -> wsman::RequestBuilder {
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    Envelope::request(
        action,
        PS_URI,
        MessageId::new(format!("uuid:{n:08X}-0000-0000-0000-000000000000")),
    )
    .max_envelope_size(SMALL)
    .operation_timeout(Duration::from_secs(5))
    .session_id(session)
}

struct Client {
    svc: Service,
    session: String,
    shell: ShellId,
    pool: RunspacePool,
}

/// Sends one request; a parked Receive is retried until it completes.
fn send(svc: &mut Service, e: Envelope) -> Reply {
    match svc.handle(Instant::now(), &alice(), e) {
        Outcome::Reply(r) => r,
        Outcome::Wait(id) => loop {
            std::thread::sleep(Duration::from_millis(2));
            if let Some(r) = svc.resume(Instant::now(), id) {
                break r;
            }
        },
    }
}

fn ok(r: &Reply) -> Body {
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.len() <= SMALL as usize,
        "a reply of {} bytes",
        r.body.len()
    );
    Envelope::decode(&r.body).expect("reply decodes").body
}

fn fault_code(r: &Reply) -> Option<WsManFaultCode> {
    assert_eq!(r.status, 500, "{}", r.body);
    r.envelope.fault().and_then(wsman::Fault::wsman_code)
}

impl Client {
    fn create(svc: Service) -> Self {
        Self::create_with_shell_id(svc, None)
    }

    /// `shell_id`: a ShellId other than the runspace pool id (winrm-rs + psrp-rs do that);
    /// `None` uses the pool id, as Windows' client and pypsrp do.
    fn create_with_shell_id(svc: Service, shell_id: Option<uuid::Uuid>) -> Self {
        let id = uuid::Uuid::new_v4();
        let mut pool = RunspacePool::client(RunspacePoolId(id), 1, 1);
        pool.open().expect("open");
        let xml = pool.poll_transmit(100_000).expect("creationXml");
        let mut c = Self {
            svc,
            session: "uuid:CLIENT-1".into(),
            shell: ShellId::new(shell_id.unwrap_or(id).to_string().to_ascii_uppercase()),
            pool,
        };
        let e = req(Action::Create, &c.session)
            .option("protocolversion", "2.3", Some(true))
            .body(Body::Create(Box::new(Shell {
                shell_id_attr: Some(c.shell.clone()),
                input_streams: Some(vec!["stdin".into(), "pr".into()]),
                output_streams: Some(vec!["stdout".into()]),
                creation_xml: Some(xml),
                ..Shell::default()
            })));
        let r = send(&mut c.svc, e);
        assert!(matches!(ok(&r), Body::CreateResponse(_)));
        c.pool_receive();
        assert_eq!(c.pool.state(), RunspacePoolState::OPENED);
        c
    }

    fn on(&self, action: Action) -> wsman::RequestBuilder {
        req(action, &self.session).shell_id(&self.shell)
    }

    fn receive(&mut self, cmd: Option<&CommandId>) -> Reply {
        let e = self.on(Action::Receive).body(Body::Receive(Receive {
            command_id: cmd.cloned(),
            streams: vec!["stdout".into()],
            ..Default::default()
        }));
        send(&mut self.svc, e)
    }

    fn pool_receive(&mut self) {
        let r = self.receive(None);
        let Body::ReceiveResponse(r) = ok(&r) else {
            panic!("not a ReceiveResponse")
        };
        for s in r.streams {
            assert_pool_id(&s.data, self.pool.id());
            self.pool.receive(&s.data).expect("pool data");
        }
    }

    fn start(&mut self, script: &str) -> (CommandId, Pipeline) {
        let pid = PipelineId(uuid::Uuid::new_v4());
        let create = CreatePipeline {
            no_input: true,
            apartment_state: ApartmentState::UNKNOWN,
            remote_stream_options: RemoteStreamOptions::NONE,
            add_to_history: false,
            host_info: HostInfo::default(),
            power_shell: PowerShellPipeline::new(vec![Command::new(script, true)]),
            is_nested: false,
        };
        let mut p = Pipeline::client(self.pool.id(), pid, create, ObjectId(1));
        p.start().expect("start");
        let data = p.poll_transmit(100_000).expect("CREATE_PIPELINE");
        let id = CommandId::new(pid.0.to_string().to_ascii_uppercase());
        let e = self.on(Action::Command).body(Body::Command(CommandLine {
            command_id: Some(id.clone()),
            command: Some(String::new()),
            arguments: vec![base64::engine::general_purpose::STANDARD.encode(data)],
        }));
        let Body::CommandResponse(echoed) = ok(&send(&mut self.svc, e)) else {
            panic!("not a CommandResponse")
        };
        assert_eq!(echoed, id, "the CommandId echoes the pipeline id");
        (id, p)
    }

    /// Receives until Done: outputs, final state, whether the state came with Done, replies.
    fn collect(
        &mut self,
        id: &CommandId,
        p: &mut Pipeline,
    ) -> (Vec<X>, Option<PsInvocationState>, bool, usize) {
        let mut out = Vec::new();
        let mut state = None;
        for n in 1..2000 {
            let r = self.receive(Some(id));
            let Body::ReceiveResponse(ReceiveResponse {
                streams,
                command_state,
            }) = ok(&r)
            else {
                panic!("not a ReceiveResponse")
            };
            let mut state_here = false;
            for s in streams {
                p.receive(&s.data).expect("pipeline data");
            }
            while let Some(e) = p.poll_event() {
                match e {
                    PEvent::Output(v) => out.push(v),
                    PEvent::StateChanged(s, _) => {
                        state = Some(s);
                        state_here = true;
                    }
                    _ => {}
                }
            }
            if command_state.map(|c| c.state) == Some(CommandState::Done) {
                return (out, state, state_here, n);
            }
        }
        panic!("never Done")
    }

    fn commands(&mut self) -> Vec<(String, String, String)> {
        let e = Envelope::request(
            Action::Enumerate,
            ns::RESOURCE_COMMANDS,
            MessageId::new("uuid:E"),
        )
        .max_envelope_size(153_600)
        .body(Body::Enumerate(Enumerate {
            optimize: true,
            max_elements: Some(100),
            filter: Some(Filter {
                dialect: Some(ns::SELECTOR_FILTER_DIALECT.into()),
                selectors: Some(SelectorSet::shell_id(&self.shell)),
                text: None,
            }),
        }));
        let r = send(&mut self.svc, e);
        let Body::EnumerateResponse(r) = Envelope::decode(&r.body).expect("decodes").body else {
            panic!("{}", r.body)
        };
        r.items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|i| match i {
                Item::Command(c) => Some((
                    c.command_id
                        .map(|i| i.as_str().to_owned())
                        .unwrap_or_default(),
                    c.command_line.unwrap_or_default(),
                    c.command_state.unwrap_or_default(),
                )),
                _ => None,
            })
            .collect()
    }
}

/// Every complete message in `data` (whole fragments) names `pool` as its runspace pool.
fn assert_pool_id(data: &[u8], pool: RunspacePoolId) {
    let mut defrag = psrp::fragment::Defragmenter::new();
    defrag.receive(data).expect("fragments");
    while let Some(bytes) = defrag.poll_message() {
        let m = psrp::message::Message::decode(&bytes).expect("message");
        assert_eq!(
            m.runspace_pool_id, pool,
            "{:?} carries another runspace pool id",
            m.message_type
        );
    }
}

fn service() -> Service {
    Service::new(config()).with_powershell(PowerShellShells::new())
}

#[test]
fn replies_fit_a_small_envelope_and_done_comes_with_pipeline_state() {
    let mut c = Client::create(service());
    let (id, mut p) = c.start("1..40 | ForEach-Object { 'w' * 1000 + $_ }");
    let (out, state, state_with_done, replies) = c.collect(&id, &mut p);
    assert_eq!(out.len(), 40);
    assert_eq!(
        out.last().and_then(X::as_str).map(|s| s.ends_with("40")),
        Some(true)
    );
    assert_eq!(state, Some(PsInvocationState::COMPLETED));
    assert!(
        state_with_done,
        "PIPELINE_STATE and CommandState Done in the same reply"
    );
    assert!(
        replies > 5,
        "40 KB in 8 KB envelopes took {replies} replies"
    );
}

#[test]
fn a_shell_id_other_than_the_pool_id_is_served_under_the_pool_id() {
    // winrm-rs + psrp-rs choose a random ShellId and a different runspace pool id; the
    // server must answer with the pool id of INIT_RUNSPACEPOOL, not the ShellId.
    let mut c = Client::create_with_shell_id(service(), Some(uuid::Uuid::new_v4()));
    assert_ne!(
        c.shell.as_str(),
        c.pool.id().0.to_string().to_ascii_uppercase()
    );
    let (id, mut p) = c.start("'pool' + 'id'");
    let (out, state, _, _) = c.collect(&id, &mut p);
    assert_eq!(out, vec![X::String("poolid".into())]);
    assert_eq!(state, Some(PsInvocationState::COMPLETED));
}

#[test]
fn the_crtl_c_typo_stops_a_running_pipeline() {
    let mut c = Client::create(service());
    let (id, mut p) = c.start("'go'; while ($true) { Start-Sleep -Milliseconds 20 }");
    std::thread::sleep(Duration::from_millis(100));
    let e = c.on(Action::Signal).body(Body::Signal(Signal {
        command_id: Some(id.clone()),
        code: SignalCode::PowerShellCrtlC,
    }));
    let t0 = Instant::now();
    ok(&send(&mut c.svc, e));
    let (out, state, _, _) = c.collect(&id, &mut p);
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert_eq!(out, vec![X::String("go".into())]);
    assert_eq!(state, Some(PsInvocationState::STOPPED));
}

#[test]
fn disconnect_reconnect_then_connect_from_another_client() {
    let mut c = Client::create(service());
    let (id, _p) =
        c.start("$i = 0; while ($i -lt 10) { $i++; \"line $i\"; Start-Sleep -Milliseconds 30 }");
    let e = c.on(Action::Disconnect).body(Body::Disconnect(Disconnect {
        idle_timeout: Some(Duration::from_secs(60)),
        buffer_mode: Some(BufferMode::Block),
    }));
    ok(&send(&mut c.svc, e));
    // While disconnected a Receive faults; the command still runs and is enumerated.
    assert_eq!(
        fault_code(&c.receive(Some(&id))),
        Some(WsManFaultCode(2_150_859_230))
    );
    let listed = c.commands();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].0, id.as_str());
    assert!(
        listed[0].1.contains("line $i"),
        "CommandLine: {}",
        listed[0].1
    );
    assert_eq!(listed[0].2, "Running");

    // Reconnect by the same SessionId, then disconnect again.
    let e = c
        .on(Action::Reconnect)
        .body(Body::Reconnect(Reconnect::default()));
    ok(&send(&mut c.svc, e));
    let e = c
        .on(Action::Disconnect)
        .body(Body::Disconnect(Disconnect::default()));
    ok(&send(&mut c.svc, e));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(c.commands()[0].2, "Done", "finished while disconnected");

    // Another client connects with connectXml.
    let mut pool = RunspacePool::client(c.pool.id(), 1, 1);
    pool.connect().expect("connect");
    let xml = pool.poll_transmit(100_000).expect("connectXml");
    c.session = "uuid:CLIENT-2".into();
    let e = c.on(Action::Connect).body(Body::Connect(Connect {
        command_id: None,
        connect_xml: Some(xml),
    }));
    let Body::ConnectResponse(r) = ok(&send(&mut c.svc, e)) else {
        panic!("not a ConnectResponse")
    };
    pool.receive(&r.connect_response_xml.expect("connectResponseXml"))
        .expect("SESSION_CAPABILITY + RUNSPACEPOOL_INIT_DATA");
    c.pool = pool;
    c.pool_receive();
    assert_eq!(c.pool.state(), RunspacePoolState::OPENED);
    let e = c.on(Action::Connect).body(Body::Connect(Connect {
        command_id: Some(id.clone()),
        connect_xml: None,
    }));
    ok(&send(&mut c.svc, e));
    let pid = PipelineId(uuid::Uuid::parse_str(id.as_str()).expect("guid"));
    let mut p = Pipeline::reattach(c.pool.id(), pid, ObjectId(1));
    let (out, state, _, _) = c.collect(&id, &mut p);
    let lines: Vec<_> = out.iter().filter_map(X::as_str).collect();
    let expected: Vec<String> = (1..=10).map(|i| format!("line {i}")).collect();
    assert_eq!(lines, expected);
    assert_eq!(state, Some(PsInvocationState::COMPLETED));
    assert!(
        c.commands().is_empty(),
        "a received command leaves the list"
    );
}
