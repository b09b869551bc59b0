//! Helpers of the sans-IO service tests: request builders, a controllable shell backend and
//! fault assertions.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use emulator::Config;
use emulator::service::{
    Caller, CommandSummary, CreateContext, Outcome, PowerShellFactory, Reply, SequentialIds,
    Service, ShellBackend,
};
use wsman::enumeration::{Enumerate, Filter};
use wsman::header::{OptionSet, SelectorSet};
use wsman::shell::{
    BufferMode, CommandLine, CommandState, CommandStateInfo, Connect, ConnectResponse, Disconnect,
    Receive, ReceiveResponse, Reconnect, Shell, Signal, SignalCode, Stream,
};
use wsman::{Action, Body, CommandId, Envelope, Fault, MessageId, ShellId, WsManFaultCode, ns};

pub const PS_URI: &str = "http://schemas.microsoft.com/powershell/Microsoft.PowerShell";

/// alice (admin) and bob; short timers; `extra` appended to the TOML.
pub fn config(extra: &str) -> Config {
    Config::from_toml(&format!(
        r#"
computer_name = "SERVER01"
[[users]]
name = "alice"
password = "a"
admin = true
[[users]]
name = "bob"
password = "b"
{extra}
"#
    ))
    .expect("test configuration parses")
}

pub fn alice() -> Caller {
    Caller::new("alice", true, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
}

pub fn bob() -> Caller {
    Caller::new("bob", false, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)))
}

/// A service with sequential ids and the fake PowerShell backend.
pub fn service(extra: &str) -> (Service, Fake) {
    let fake = Fake::default();
    let svc = Service::new(config(extra))
        .with_ids(SequentialIds::default())
        .with_powershell(fake.clone());
    (svc, fake)
}

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

pub fn message_id() -> MessageId {
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    MessageId::new(format!("uuid:AAAAAAAA-0000-0000-0000-{n:012X}"))
}

/// A request builder with a fresh message id, MaxEnvelopeSize 153600 and session `S1`.
pub fn req(action: Action, uri: &str) -> wsman::RequestBuilder {
    Envelope::request(action, uri, message_id())
        .max_envelope_size(153_600)
        .operation_timeout(Duration::from_secs(20))
        .session_id("uuid:S1")
}

pub fn on(action: Action, uri: &str, shell: &ShellId) -> wsman::RequestBuilder {
    req(action, uri).shell_id(shell)
}

pub fn reply(outcome: Outcome) -> Reply {
    match outcome {
        Outcome::Reply(r) => r,
        Outcome::Wait(id) => panic!("expected a reply, got a parked receive {id:?}"),
    }
}

pub fn ok(outcome: Outcome) -> Envelope {
    let r = reply(outcome);
    assert_eq!(r.status, 200, "{}", r.body);
    // What goes on the wire decodes to what the service built.
    let decoded = Envelope::decode(&r.body).expect("reply decodes");
    assert_eq!(decoded.body, r.envelope.body);
    r.envelope
}

/// Asserts a fault with `subcode` (local name) and WSMan `code`; returns it.
pub fn fault(outcome: Outcome, subcode: &str, code: Option<u32>) -> Fault {
    let r = reply(outcome);
    assert_eq!(r.status, 500, "{}", r.body);
    let f = r.envelope.fault().expect("a fault body").clone();
    assert_eq!(
        f.subcode.as_ref().map(|s| s.local.as_str()),
        Some(subcode),
        "{}",
        r.body
    );
    assert_eq!(f.wsman_code(), code.map(WsManFaultCode), "{}", r.body);
    Envelope::decode(&r.body).expect("fault decodes");
    f
}

pub fn create_cmd(svc: &mut Service, now: Instant, who: &Caller) -> ShellId {
    create_cmd_with(svc, now, who, Shell::default())
}

pub fn create_cmd_with(svc: &mut Service, now: Instant, who: &Caller, shell: Shell) -> ShellId {
    let e = req(Action::Create, ns::RESOURCE_CMD).body(Body::Create(Box::new(Shell {
        input_streams: Some(vec!["stdin".into()]),
        output_streams: Some(vec!["stdout".into(), "stderr".into()]),
        ..shell
    })));
    let env = ok(svc.handle(now, who, e));
    match env.body {
        Body::CreateResponse(c) => c.shell_id().expect("ShellId selector"),
        other => panic!("unexpected {other:?}"),
    }
}

/// Creates a PowerShell shell (fake backend) with the client's id.
pub fn create_ps(svc: &mut Service, now: Instant, who: &Caller, id: &str) -> ShellId {
    let e = req(Action::Create, PS_URI)
        .option("protocolversion", "2.3", Some(true))
        .body(Body::Create(Box::new(Shell {
            shell_id_attr: Some(ShellId::new(id)),
            input_streams: Some(vec!["stdin".into(), "pr".into()]),
            output_streams: Some(vec!["stdout".into()]),
            ..Shell::default()
        })));
    let env = ok(svc.handle(now, who, e));
    match env.body {
        Body::CreateResponse(c) => c.shell_id().expect("ShellId selector"),
        other => panic!("unexpected {other:?}"),
    }
}

pub fn command(
    svc: &mut Service,
    now: Instant,
    who: &Caller,
    uri: &str,
    shell: &ShellId,
    line: &str,
) -> Outcome {
    let e = on(Action::Command, uri, shell).body(Body::Command(CommandLine {
        command_id: None,
        command: Some(line.to_owned()),
        arguments: Vec::new(),
    }));
    svc.handle(now, who, e)
}

pub fn command_id(outcome: Outcome) -> CommandId {
    match ok(outcome).body {
        Body::CommandResponse(id) => id,
        other => panic!("unexpected {other:?}"),
    }
}

pub fn receive(
    svc: &mut Service,
    now: Instant,
    who: &Caller,
    uri: &str,
    shell: &ShellId,
    cmd: Option<&CommandId>,
) -> Outcome {
    let e = on(Action::Receive, uri, shell).body(Body::Receive(Receive {
        command_id: cmd.cloned(),
        streams: vec!["stdout".into(), "stderr".into()],
        ..Default::default()
    }));
    svc.handle(now, who, e)
}

pub fn signal_body(cmd: Option<&CommandId>, code: SignalCode) -> Body {
    Body::Signal(Signal {
        command_id: cmd.cloned(),
        code,
    })
}

pub fn disconnect_body(idle: Option<Duration>, mode: Option<BufferMode>) -> Body {
    Body::Disconnect(Disconnect {
        idle_timeout: idle,
        buffer_mode: mode,
    })
}

pub fn reconnect_body() -> Body {
    Body::Reconnect(Reconnect::default())
}

pub fn connect_body() -> Body {
    Body::Connect(Connect {
        command_id: None,
        connect_xml: Some(b"connect".to_vec()),
    })
}

pub fn enumerate_body(optimize: bool, max: Option<u32>, shell: Option<&ShellId>) -> Body {
    Body::Enumerate(Enumerate {
        optimize,
        max_elements: max,
        filter: shell.map(|id| Filter {
            dialect: Some(ns::SELECTOR_FILTER_DIALECT.into()),
            selectors: Some(SelectorSet::shell_id(id)),
            text: None,
        }),
    })
}

/// Runs WinRS Receives (retrying while parked) until the command is Done; returns
/// (stdout, stderr, exit code, every reply's encoded size).
pub fn drain_command(
    svc: &mut Service,
    who: &Caller,
    shell: &ShellId,
    cmd: &CommandId,
    max_envelope: u32,
) -> (String, String, i64, Vec<usize>) {
    let (mut out, mut err, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
    let started = std::time::Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "command never finished"
        );
        let e = on(Action::Receive, ns::RESOURCE_CMD, shell)
            .max_envelope_size(max_envelope)
            .body(Body::Receive(Receive {
                command_id: Some(cmd.clone()),
                streams: vec!["stdout".into(), "stderr".into()],
                ..Default::default()
            }));
        let mut outcome = svc.handle(Instant::now(), who, e);
        while let Outcome::Wait(id) = outcome {
            std::thread::sleep(Duration::from_millis(10));
            match svc.resume(Instant::now(), id) {
                Some(r) => outcome = Outcome::Reply(r),
                None => continue,
            }
        }
        let r = reply(outcome);
        assert_eq!(r.status, 200, "{}", r.body);
        sizes.push(r.body.len());
        let Body::ReceiveResponse(rr) = r.envelope.body else {
            panic!("not a ReceiveResponse: {}", r.body);
        };
        out.extend(rr.stream_bytes("stdout"));
        err.extend(rr.stream_bytes("stderr"));
        if let Some(CommandStateInfo {
            state: CommandState::Done,
            exit_code,
            ..
        }) = rr.command_state
        {
            return (
                String::from_utf8(out).expect("utf-8"),
                String::from_utf8(err).expect("utf-8"),
                exit_code.expect("exit code with Done"),
                sizes,
            );
        }
    }
}

/// A scripted shell backend standing in for PowerShell: commands stay Running until told
/// otherwise, output is whatever the test queues.
#[derive(Debug, Clone, Default)]
pub struct Fake {
    pub state: Arc<Mutex<FakeState>>,
}

#[derive(Debug, Default)]
pub struct FakeState {
    pub output: Vec<u8>,
    pub commands: Vec<CommandSummary>,
    pub calls: Vec<String>,
}

impl Fake {
    pub fn push_output(&self, bytes: &[u8]) {
        self.state.lock().unwrap().output.extend_from_slice(bytes);
    }

    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }
}

impl PowerShellFactory for Fake {
    fn create(&self, ctx: CreateContext<'_>) -> Result<Box<dyn ShellBackend>, Fault> {
        if ctx.options.get("protocolversion").is_none() {
            return Err(Fault::missing_protocol_version(&ctx.config.computer_name));
        }
        self.state.lock().unwrap().calls.push("create".into());
        Ok(Box::new(self.clone()))
    }
}

impl ShellBackend for Fake {
    fn command(
        &mut self,
        _now: Instant,
        id: CommandId,
        line: &CommandLine,
        _o: &OptionSet,
    ) -> Result<CommandId, Fault> {
        let mut s = self.state.lock().unwrap();
        s.calls.push("command".into());
        s.commands.push(CommandSummary {
            id: id.clone(),
            command_line: line.command.clone().unwrap_or_default(),
            state: CommandState::Running,
        });
        Ok(id)
    }

    fn send(&mut self, _now: Instant, stream: &Stream) -> Result<(), Fault> {
        let mut s = self.state.lock().unwrap();
        s.calls.push(format!("send {}", stream.data.len()));
        match &stream.command_id {
            Some(id) if !s.commands.iter().any(|c| &c.id == id) => {
                Err(Fault::unknown_command("SERVER01"))
            }
            _ => Ok(()),
        }
    }

    fn receive(
        &mut self,
        _now: Instant,
        command: Option<&CommandId>,
        _streams: &[String],
        room: usize,
    ) -> Result<Option<ReceiveResponse>, Fault> {
        let mut s = self.state.lock().unwrap();
        if let Some(id) = command
            && !s.commands.iter().any(|c| &c.id == id)
        {
            return Err(Fault::unknown_command("SERVER01"));
        }
        if s.output.is_empty() {
            return Ok(None);
        }
        let n = emulator::service::backend::max_bytes_for(36, room).min(s.output.len());
        let data: Vec<u8> = s.output.drain(..n).collect();
        Ok(Some(ReceiveResponse {
            streams: vec![Stream {
                name: "stdout".into(),
                command_id: command.cloned(),
                end: None,
                data,
            }],
            command_state: None,
        }))
    }

    fn signal(
        &mut self,
        _now: Instant,
        command: Option<&CommandId>,
        _code: &SignalCode,
    ) -> Result<(), Fault> {
        let mut s = self.state.lock().unwrap();
        s.calls.push("signal".into());
        if let Some(id) = command {
            let Some(c) = s.commands.iter_mut().find(|c| &c.id == id) else {
                return Err(Fault::unknown_command("SERVER01"));
            };
            c.state = CommandState::Done;
        }
        Ok(())
    }

    fn disconnect(&mut self, _now: Instant, mode: &BufferMode) {
        self.state
            .lock()
            .unwrap()
            .calls
            .push(format!("disconnect {mode}"));
    }

    fn reconnect(
        &mut self,
        _now: Instant,
        _c: Option<&CommandId>,
        _m: Option<&BufferMode>,
    ) -> Result<(), Fault> {
        self.state.lock().unwrap().calls.push("reconnect".into());
        Ok(())
    }

    fn connect(&mut self, _now: Instant, _c: &Connect) -> Result<ConnectResponse, Fault> {
        self.state.lock().unwrap().calls.push("connect".into());
        Ok(ConnectResponse {
            input_streams: Some(vec!["stdin".into(), "pr".into()]),
            output_streams: Some(vec!["stdout".into()]),
            connect_response_xml: Some(b"response".to_vec()),
        })
    }

    fn delete(&mut self) {
        self.state.lock().unwrap().calls.push("delete".into());
    }

    fn commands(&self) -> Vec<CommandSummary> {
        self.state.lock().unwrap().commands.clone()
    }

    fn process_id(&self) -> u32 {
        4242
    }
}
