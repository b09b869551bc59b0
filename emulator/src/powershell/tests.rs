//! The PowerShell backend driven directly through [`ShellBackend`], with psrp's client roles
//! on the other side (no HTTP): open, pipelines and streams, input, room-sized fragments, key
//! exchange, runspace requests, metadata, stop, Block / Drop while disconnected, Connect.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use psrp::clixml::Value as X;
use psrp::crypto::ExchangeKey;
use psrp::fragment::ObjectId;
use psrp::message::{PipelineId, RunspacePoolId};
use psrp::messages::{CreatePipeline, Payload};
use psrp::pipeline::{Event as PEvent, Pipeline};
use psrp::records::{
    ApartmentState, Command, HostInfo, PowerShellPipeline, PsInvocationState, RemoteStreamOptions,
    RunspacePoolState,
};
use psrp::runspace_pool::{Event as PoolEvent, RunspacePool};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use wsman::header::OptionSet;
use wsman::shell::{BufferMode, CommandLine, CommandState, Connect, SignalCode, Stream};
use wsman::{CommandId, ShellId};

use super::*;
use crate::Config;
use crate::service::backend::{CreateContext, NoNotify, ShellBackend, ShellKind};

const BIG: usize = 400_000;

fn config(kb: u64, mode: &str) -> Config {
    Config::from_toml(&format!(
        r#"
computer_name = "SERVER01"
[[session_configurations]]
name = "Microsoft.PowerShell"
output_buffer_size_kb = {kb}
output_buffering_mode = "{mode}"
"#
    ))
    .expect("config")
}

struct Rig {
    shell: PowerShellShell,
    client: RunspacePool,
    pool_id: RunspacePoolId,
}

fn create(
    cfg: Config,
    options: OptionSet,
) -> Result<(PowerShellShell, RunspacePool), wsman::Fault> {
    create_with_mode(cfg, options, None)
}

/// As [`create`], with an `rsp:BufferMode` in the Create body.
fn create_with_mode(
    cfg: Config,
    options: OptionSet,
    buffer_mode: Option<BufferMode>,
) -> Result<(PowerShellShell, RunspacePool), wsman::Fault> {
    let id = uuid::Uuid::new_v4();
    let pool_id = RunspacePoolId(id);
    let mut client = RunspacePool::client(pool_id, 1, 1);
    client.open().expect("open");
    let xml = client.poll_transmit(BIG).expect("creationXml");
    let body = wsman::shell::Shell {
        creation_xml: Some(xml),
        buffer_mode,
        ..wsman::shell::Shell::default()
    };
    let cfg = Arc::new(cfg);
    let shell_id = ShellId::new(id.to_string().to_ascii_uppercase());
    let kind = ShellKind::PowerShell("Microsoft.PowerShell".into());
    let ctx = CreateContext {
        shell_id: &shell_id,
        kind: &kind,
        session_configuration: cfg.session_configuration("Microsoft.PowerShell"),
        owner: "alice",
        client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        body: &body,
        options: &options,
        config: &cfg,
        notify: Arc::new(NoNotify),
        now: Instant::now(),
    };
    PowerShellShell::new(&ctx, 4242).map(|s| (s, client))
}

fn open(cfg: Config) -> Rig {
    open_with_mode(cfg, None)
}

/// As [`open`], with an `rsp:BufferMode` in the Create body.
fn open_with_mode(cfg: Config, buffer_mode: Option<BufferMode>) -> Rig {
    let options = OptionSet::default().with("protocolversion", "2.3", Some(true));
    let (shell, client) = create_with_mode(cfg, options, buffer_mode).expect("shell created");
    let pool_id = client.id();
    let mut rig = Rig {
        shell,
        client,
        pool_id,
    };
    rig.pump_pool();
    assert_eq!(rig.client.state(), RunspacePoolState::OPENED);
    rig
}

fn script(text: &str, no_input: bool) -> CreatePipeline {
    CreatePipeline {
        no_input,
        apartment_state: ApartmentState::UNKNOWN,
        remote_stream_options: RemoteStreamOptions::NONE,
        add_to_history: false,
        host_info: HostInfo::default(),
        power_shell: PowerShellPipeline::new(vec![Command::new(text, true)]),
        is_nested: false,
    }
}

/// What a client pipeline saw.
#[derive(Debug, Default)]
struct Seen {
    output: Vec<X>,
    records: Vec<Payload>,
    state: Option<PsInvocationState>,
    done_with_state: bool,
    receives: usize,
}

impl Rig {
    fn pump_pool(&mut self) {
        while let Some(r) = self
            .shell
            .receive(Instant::now(), None, &["stdout".into()], BIG)
            .expect("pool receive")
        {
            for s in r.streams {
                self.client.receive(&s.data).expect("client pool reads");
            }
        }
    }

    fn send_pool(&mut self) {
        while let Some(data) = self.client.poll_transmit(BIG) {
            let stream = Stream {
                name: "stdin".into(),
                command_id: None,
                end: None,
                data,
            };
            self.shell.send(Instant::now(), &stream).expect("pool send");
        }
    }

    fn start(&mut self, create: CreatePipeline) -> (CommandId, Pipeline) {
        let pid = PipelineId(uuid::Uuid::new_v4());
        let mut p = Pipeline::client(self.pool_id, pid, create, ObjectId(1));
        p.start().expect("start");
        let args = vec![base64_of(&p.poll_transmit(BIG).expect("CREATE_PIPELINE"))];
        let line = CommandLine {
            command_id: Some(CommandId::new(pid.0.to_string().to_ascii_uppercase())),
            command: Some(String::new()),
            arguments: args,
        };
        let id = self
            .shell
            .command(
                Instant::now(),
                CommandId::new(pid.0.to_string().to_ascii_uppercase()),
                &line,
                &OptionSet::default(),
            )
            .expect("command");
        (id, p)
    }

    /// Receives until the pipeline is Done (or `limit` passes), at most `room` per Receive.
    fn collect(&mut self, id: &CommandId, p: &mut Pipeline, room: usize, limit: Duration) -> Seen {
        let mut seen = Seen::default();
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            let r = self
                .shell
                .receive(Instant::now(), Some(id), &["stdout".into()], room)
                .expect("receive");
            let Some(r) = r else {
                std::thread::sleep(Duration::from_millis(2));
                continue;
            };
            seen.receives += 1;
            for s in &r.streams {
                assert!(
                    crate::service::backend::stream_cost(id.as_str().len(), s.data.len()) <= room,
                    "a stream of {} bytes overflows room {room}",
                    s.data.len()
                );
                p.receive(&s.data).expect("client pipeline reads");
            }
            while let Some(e) = p.poll_event() {
                match e {
                    PEvent::Output(v) => seen.output.push(v),
                    PEvent::Record(r) => seen.records.push(r),
                    PEvent::StateChanged(s, _) => seen.state = Some(s),
                    _ => {}
                }
            }
            let state = r.command_state.map(|c| c.state);
            if state == Some(CommandState::Done) {
                seen.done_with_state = seen.state.is_some();
                return seen;
            }
        }
        seen
    }
}

fn base64_of(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn strings(seen: &Seen) -> Vec<String> {
    seen.output
        .iter()
        .map(|v| v.as_str().map_or_else(|| format!("{v:?}"), str::to_owned))
        .collect()
}

#[test]
fn create_needs_protocolversion_and_creation_xml() {
    let err = create(config(1024, "Block"), OptionSet::default()).expect_err("refused");
    assert_eq!(
        err.wsman_code(),
        wsman::Fault::missing_protocol_version("x").wsman_code()
    );
}

#[test]
fn open_sends_capability_private_data_and_opened() {
    let rig = open(config(1024, "Block"));
    let data = rig.client.peer_capability().expect("server capability");
    assert_eq!(data.protocol_version, "2.3");
}

#[test]
fn pipeline_output_streams_and_done_in_the_same_reply() {
    let mut rig = open(config(1024, "Block"));
    let (id, mut p) = rig.start(script(
        "$VerbosePreference='Continue'; $DebugPreference='Continue'; 'one'; [PSCustomObject]@{n=2}; Write-Warning w; Write-Verbose v; Write-Debug d; Write-Information i; Write-Progress -Activity a -Status s; Write-Error e",
        true,
    ));
    let seen = rig.collect(&id, &mut p, BIG, Duration::from_secs(5));
    assert!(
        seen.done_with_state,
        "PIPELINE_STATE arrives with CommandState Done"
    );
    assert_eq!(seen.state, Some(PsInvocationState::COMPLETED));
    assert_eq!(seen.output.first().and_then(X::as_str), Some("one"));
    let obj = seen
        .output
        .get(1)
        .and_then(X::as_object)
        .expect("an object");
    assert_eq!(obj.property_i32("n"), Some(2));
    let kinds: Vec<_> = seen.records.iter().map(Payload::message_type).collect();
    use psrp::message::MessageType as T;
    for t in [
        T::WARNING_RECORD,
        T::VERBOSE_RECORD,
        T::DEBUG_RECORD,
        T::INFORMATION_RECORD,
        T::PROGRESS_RECORD,
        T::ERROR_RECORD,
    ] {
        assert!(kinds.contains(&t), "{t} missing from {kinds:?}");
    }
    // Done commands leave the enumeration.
    assert!(rig.shell.commands().is_empty());
}

#[test]
fn failures_and_unknown_commands_are_error_records() {
    let mut rig = open(config(1024, "Block"));
    let (id, mut p) = rig.start(script("throw 'boom'", true));
    let seen = rig.collect(&id, &mut p, BIG, Duration::from_secs(5));
    assert_eq!(seen.state, Some(PsInvocationState::FAILED));
    let (id, mut p) = rig.start(script("no-such-command", true));
    let seen = rig.collect(&id, &mut p, BIG, Duration::from_secs(5));
    let err = seen
        .records
        .iter()
        .find_map(|r| match r {
            Payload::ErrorRecord(e) => Some(e.clone()),
            _ => None,
        })
        .expect("an error record");
    assert_eq!(
        err.exception_type(),
        Some("System.Management.Automation.CommandNotFoundException")
    );
}

#[test]
fn session_state_survives_between_pipelines_and_disconnect() {
    let mut rig = open(config(1024, "Block"));
    let (id, mut p) = rig.start(script("$kept = 41", true));
    rig.collect(&id, &mut p, BIG, Duration::from_secs(5));
    rig.shell.disconnect(Instant::now(), &BufferMode::Block);
    rig.shell
        .reconnect(Instant::now(), None, None)
        .expect("reconnect");
    let (id, mut p) = rig.start(script("$kept + 1", true));
    let seen = rig.collect(&id, &mut p, BIG, Duration::from_secs(5));
    assert_eq!(seen.output, vec![X::I32(42)]);
}

#[test]
fn output_is_fragmented_to_fit_each_receive() {
    let mut rig = open(config(1024, "Block"));
    let (id, mut p) = rig.start(script("1..20 | ForEach-Object { 'y' * 300 + $_ }", true));
    let seen = rig.collect(&id, &mut p, 900, Duration::from_secs(10));
    assert_eq!(seen.output.len(), 20);
    assert!(seen.receives > 8, "{} receives", seen.receives);
    assert_eq!(seen.state, Some(PsInvocationState::COMPLETED));
    let last = strings(&seen).pop().expect("output");
    assert!(last.ends_with("20"), "{last}");
}

#[test]
fn pipeline_input_reaches_the_script() {
    let mut rig = open(config(1024, "Block"));
    let (id, mut p) = rig.start(script("$input | ForEach-Object { $_ * 2 }", false));
    for n in [1, 2, 3] {
        p.send_input(X::I32(n)).expect("input");
    }
    p.end_input().expect("end");
    let data = p.poll_transmit(BIG).expect("input fragments");
    let stream = Stream {
        name: "stdin".into(),
        command_id: Some(id.clone()),
        end: None,
        data,
    };
    rig.shell.send(Instant::now(), &stream).expect("send");
    let seen = rig.collect(&id, &mut p, BIG, Duration::from_secs(5));
    assert_eq!(seen.output, vec![X::I32(2), X::I32(4), X::I32(6)]);
}

#[test]
fn key_exchange_and_runspace_requests() {
    let mut rig = open(config(1024, "Block"));
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let key = ExchangeKey::generate_with_bits(&mut rng, 1024).expect("rsa key");
    rig.client.request_session_key(key).expect("PUBLIC_KEY");
    rig.client.set_max_runspaces(3, 1).expect("set max");
    rig.client
        .get_available_runspaces(2)
        .expect("get available");
    rig.client.reset_runspace_state(3).expect("reset");
    rig.send_pool();
    rig.pump_pool();
    let mut events = Vec::new();
    while let Some(e) = rig.client.poll_event() {
        events.push(e);
    }
    assert!(events.contains(&PoolEvent::SessionKeyReady), "{events:?}");
    assert!(rig.client.session_key().is_some());
    assert_eq!(rig.client.runspaces().1, 3);
    let answers = events
        .iter()
        .filter(|e| matches!(e, PoolEvent::RunspaceAvailability(_)))
        .count();
    assert_eq!(answers, 3);
}

#[test]
fn command_metadata_answers_count_then_cmdlets() {
    use psrp::messages::GetCommandMetadata;
    let mut rig = open(config(1024, "Block"));
    let pid = PipelineId(uuid::Uuid::new_v4());
    let body = GetCommandMetadata {
        names: vec!["Get-*".into()],
        command_type: 8,
        namespace: None,
        argument_list: None,
    };
    let msg = psrp::message::Message::new(
        psrp::message::Destination::SERVER,
        psrp::message::MessageType::GET_COMMAND_METADATA,
        rig.pool_id,
        pid,
        psrp::clixml::to_clixml(&psrp::messages::PsrpMessage::to_value(&body)).into_bytes(),
    );
    let mut frag = psrp::fragment::Fragmenter::new();
    frag.queue(msg.to_bytes());
    let id = CommandId::new(pid.0.to_string().to_ascii_uppercase());
    let line = CommandLine {
        command_id: Some(id.clone()),
        command: None,
        arguments: vec![base64_of(&frag.poll_transmit(BIG).expect("fragment"))],
    };
    rig.shell
        .command(Instant::now(), id.clone(), &line, &OptionSet::default())
        .expect("metadata command");
    let mut p = Pipeline::reattach(rig.pool_id, pid, ObjectId(1));
    let seen = rig.collect(&id, &mut p, BIG, Duration::from_secs(5));
    let count = seen.output.first().and_then(X::as_object).expect("count");
    let n = count.property_i32("Count").expect("Count");
    assert!(n >= 5, "{n}");
    assert_eq!(seen.output.len(), usize::try_from(n).expect("n") + 1);
    assert_eq!(seen.state, Some(PsInvocationState::COMPLETED));
}

#[test]
fn signal_stops_a_sleeping_pipeline_promptly() {
    let mut rig = open(config(1024, "Block"));
    let (id, mut p) = rig.start(script("'started'; Start-Sleep -Seconds 60; 'never'", true));
    std::thread::sleep(Duration::from_millis(100));
    let t0 = Instant::now();
    rig.shell
        .signal(Instant::now(), Some(&id), &SignalCode::PowerShellCrtlC)
        .expect("signal");
    let seen = rig.collect(&id, &mut p, BIG, Duration::from_secs(5));
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    assert_eq!(seen.state, Some(PsInvocationState::STOPPED));
    assert_eq!(strings(&seen), ["started"]);
    // Terminate forgets it.
    rig.shell
        .signal(Instant::now(), Some(&id), &SignalCode::Terminate)
        .expect("terminate");
    assert!(rig.shell.records_written(&id).is_none());
}

fn written(rig: &Rig, id: &CommandId) -> u64 {
    rig.shell.records_written(id).expect("known command")
}

#[test]
fn block_mode_pauses_the_script_until_a_receive_drains() {
    let mut rig = open(config(4, "Block"));
    let (id, mut p) = rig.start(script(
        "$i = 0; while ($i -lt 200) { $i++; 'z' * 400 + $i }",
        true,
    ));
    rig.shell.disconnect(Instant::now(), &BufferMode::Block);
    std::thread::sleep(Duration::from_millis(300));
    let paused = written(&rig, &id);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        written(&rig, &id),
        paused,
        "the counter stopped while the buffer is full"
    );
    assert!(paused < 20, "{paused} records fit 4 KB");
    rig.shell
        .reconnect(Instant::now(), None, None)
        .expect("reconnect");
    // One Receive drains; the script resumes.
    let r = rig
        .shell
        .receive(Instant::now(), Some(&id), &["stdout".into()], 8000)
        .expect("receive")
        .expect("buffered output");
    for s in &r.streams {
        p.receive(&s.data).expect("reads");
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        written(&rig, &id) > paused,
        "the script resumed after a Receive"
    );
    let seen = rig.collect(&id, &mut p, BIG, Duration::from_secs(10));
    assert_eq!(seen.state, Some(PsInvocationState::COMPLETED));
    // Nothing lost: first Receive's objects plus the rest are 1..=200 in order.
    let mut all = Vec::new();
    while let Some(e) = p.poll_event() {
        if let PEvent::Output(v) = e {
            all.push(v);
        }
    }
    let total = seen.output.len() + all.len();
    assert!(total >= 190, "{total}");
    let last = strings(&seen).pop().expect("last");
    assert!(last.ends_with("200"), "{}", &last[last.len() - 5..]);
}

#[test]
fn drop_mode_runs_to_completion_and_loses_only_the_oldest() {
    let mut rig = open(config(4, "Block"));
    let (id, mut p) = rig.start(script(
        "Start-Sleep -Milliseconds 100; $i = 0; while ($i -lt 100) { $i++; 'q' * 400 + $i }",
        true,
    ));
    rig.shell.disconnect(Instant::now(), &BufferMode::Drop);
    let deadline = Instant::now() + Duration::from_secs(5);
    while written(&rig, &id) < 100 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        written(&rig, &id),
        100,
        "the script ran to completion while disconnected"
    );
    rig.shell
        .reconnect(Instant::now(), None, None)
        .expect("reconnect");
    let seen = rig.collect(&id, &mut p, BIG, Duration::from_secs(5));
    assert_eq!(seen.state, Some(PsInvocationState::COMPLETED));
    let got = strings(&seen);
    assert!(got.len() < 20, "{} kept", got.len());
    let numbers: Vec<u32> = got
        .iter()
        .map(|s| s.trim_start_matches('q').parse().expect("number"))
        .collect();
    let first = numbers.first().copied().expect("some output");
    assert!(first > 1, "the oldest went");
    let expected: Vec<u32> = (first..=100).collect();
    assert_eq!(numbers, expected, "the newest are kept, in order");
}

#[test]
fn connect_from_a_new_client_reattaches_the_pipeline() {
    let mut rig = open(config(1024, "Block"));
    let (id, _old) = rig.start(script(
        "1..3 | ForEach-Object { Start-Sleep -Milliseconds 50; $_ }",
        true,
    ));
    rig.shell.disconnect(Instant::now(), &BufferMode::Block);
    let listed = rig.shell.commands();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    // A second client: SESSION_CAPABILITY + CONNECT_RUNSPACEPOOL.
    let mut client = RunspacePool::client(rig.pool_id, 1, 1);
    client.connect().expect("connect");
    let xml = client.poll_transmit(BIG).expect("connectXml");
    let response = rig
        .shell
        .connect(
            Instant::now(),
            &Connect {
                command_id: None,
                connect_xml: Some(xml),
            },
        )
        .expect("connect");
    let reply = response.connect_response_xml.expect("connectResponseXml");
    client.receive(&reply).expect("capability + init data");
    assert_eq!(client.state(), RunspacePoolState::CONNECTING);
    rig.client = client;
    rig.pump_pool();
    assert_eq!(rig.client.state(), RunspacePoolState::OPENED);
    let r = rig
        .shell
        .connect(
            Instant::now(),
            &Connect {
                command_id: Some(id.clone()),
                connect_xml: None,
            },
        )
        .expect("command connect");
    assert!(r.connect_response_xml.is_none());
    let pid = PipelineId(uuid::Uuid::parse_str(id.as_str()).expect("guid"));
    let mut p = Pipeline::reattach(rig.pool_id, pid, ObjectId(1));
    let seen = rig.collect(&id, &mut p, BIG, Duration::from_secs(5));
    assert_eq!(seen.output, vec![X::I32(1), X::I32(2), X::I32(3)]);
    assert_eq!(seen.state, Some(PsInvocationState::COMPLETED));
}

#[test]
fn unknown_commands_and_garbage_fault() {
    let mut rig = open(config(1024, "Block"));
    let nope = CommandId::new("00000000-0000-0000-0000-000000000009");
    assert!(
        rig.shell
            .receive(Instant::now(), Some(&nope), &[], BIG)
            .is_err()
    );
    assert!(
        rig.shell
            .signal(Instant::now(), Some(&nope), &SignalCode::Terminate)
            .is_err()
    );
    let line = CommandLine {
        command_id: Some(nope.clone()),
        command: None,
        arguments: vec![base64_of(b"not fragments at all")],
    };
    assert!(
        rig.shell
            .command(Instant::now(), nope.clone(), &line, &OptionSet::default())
            .is_err()
    );
    let garbage = Stream {
        name: "stdin".into(),
        command_id: None,
        end: None,
        data: vec![0xff; 50],
    };
    assert!(rig.shell.send(Instant::now(), &garbage).is_err());
}

#[test]
fn terminate_ends_a_running_pipeline_and_frees_its_slot() {
    let mut rig = open(config(1024, "Block"));
    let (id, _p) = rig.start(script(
        "while ($true) { Start-Sleep -Milliseconds 10 }",
        true,
    ));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(rig.shell.running_commands(), 1);
    let listed = rig.shell.commands();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].command_line.contains("Start-Sleep"), "{listed:?}");
    rig.shell
        .signal(Instant::now(), Some(&id), &SignalCode::Terminate)
        .expect("terminate");
    assert_eq!(rig.shell.running_commands(), 0);
    assert!(rig.shell.commands().is_empty());
    // The runspace is free again for the next pipeline.
    let (id, mut p) = rig.start(script("'next'", true));
    let seen = rig.collect(&id, &mut p, BIG, Duration::from_secs(5));
    assert_eq!(strings(&seen), ["next"]);
}

/// Starts an output-heavy script on `rig` (40 KB against a 4 KB buffer), checks a connected
/// client loses nothing (the script waits), then disconnects with `mode` and returns how many
/// records it had written when it stopped and how many were received after a reconnect.
fn heavy_then_disconnect(rig: &mut Rig, mode: &BufferMode) -> (u64, usize) {
    let (id, mut p) = rig.start(script("1..100 | ForEach-Object { 'd' * 400 + $_ }", true));
    std::thread::sleep(Duration::from_millis(300));
    // Connected: whatever the buffering mode, output waits for the client.
    assert!(
        written(rig, &id) < 100,
        "a connected shell held the script back"
    );
    rig.shell.disconnect(Instant::now(), mode);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = written(rig, &id);
    while last < 100 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        last = written(rig, &id);
    }
    rig.shell
        .reconnect(Instant::now(), None, None)
        .expect("reconnect");
    let seen = rig.collect(&id, &mut p, BIG, Duration::from_secs(5));
    assert_eq!(seen.state, Some(PsInvocationState::COMPLETED));
    (last, seen.output.len())
}

#[test]
fn the_configuration_drop_governs_the_disconnected_shell_only() {
    let mut rig = open(config(4, "Drop"));
    assert_eq!(rig.shell.policy(), BufferPolicy::Drop);
    let (written_while_away, received) = heavy_then_disconnect(&mut rig, &BufferMode::Drop);
    // Disconnected under Drop: the script ran to its end and only the newest output stayed.
    assert_eq!(written_while_away, 100);
    assert!(received < 20, "{received}");
    // A Reconnect with BufferMode changes the mode for the next disconnect.
    rig.shell
        .reconnect(Instant::now(), None, Some(&BufferMode::Block))
        .expect("reconnect");
    assert_eq!(rig.shell.policy(), BufferPolicy::Block);
}

#[test]
fn block_while_disconnected_loses_nothing() {
    let mut rig = open(config(4, "Block"));
    let (written_while_away, received) = heavy_then_disconnect(&mut rig, &BufferMode::Block);
    assert!(written_while_away < 100, "the script was suspended");
    assert_eq!(received, 100);
}

#[test]
fn buffer_mode_in_the_create_body_wins_over_the_configuration() {
    // Drop asked at creation over a Block configuration is the shell's mode; Block asked over
    // a Drop configuration too; no mode, or one the server does not know: the configuration's.
    let rig = open_with_mode(config(4, "Block"), Some(BufferMode::Drop));
    assert_eq!(rig.shell.policy(), BufferPolicy::Drop);
    let rig = open_with_mode(config(4, "Drop"), Some(BufferMode::Block));
    assert_eq!(rig.shell.policy(), BufferPolicy::Block);
    let rig = open_with_mode(config(4, "Drop"), Some(BufferMode::parse("Sometimes")));
    assert_eq!(rig.shell.policy(), BufferPolicy::Drop);
    let rig = open_with_mode(config(4, "Drop"), None);
    assert_eq!(rig.shell.policy(), BufferPolicy::Drop);
}

#[test]
fn host_responses_on_pr_reach_the_pipeline() {
    let mut rig = open(config(1024, "Block"));
    let (id, mut p) = rig.start(script("Start-Sleep -Milliseconds 200; 'ok'", true));
    let response = psrp::messages::HostResponse {
        call_id: 1,
        method: psrp::records::RemoteHostMethodId::READ_LINE,
        return_value: Some(X::String("typed".into())),
        error: None,
    };
    p.host_response(response).expect("client host response");
    let data = p.poll_transmit(BIG).expect("PIPELINE_HOST_RESPONSE");
    let stream = Stream {
        name: "pr".into(),
        command_id: Some(id.clone()),
        end: None,
        data,
    };
    rig.shell
        .send(Instant::now(), &stream)
        .expect("pr accepted");
    let seen = rig.collect(&id, &mut p, BIG, Duration::from_secs(5));
    assert_eq!(strings(&seen), ["ok"]);
}

#[test]
fn delivered_pipelines_are_forgotten_after_a_while() {
    let mut rig = open(config(1024, "Block"));
    let mut first = None;
    for i in 0..40 {
        let (id, mut p) = rig.start(script(&format!("{i}"), true));
        rig.collect(&id, &mut p, BIG, Duration::from_secs(5));
        first.get_or_insert(id);
    }
    let first = first.expect("a first command");
    // The oldest is gone; a recent one still answers a late terminate.
    assert!(rig.shell.records_written(&first).is_none());
    let (id, mut p) = rig.start(script("'last'", true));
    rig.collect(&id, &mut p, BIG, Duration::from_secs(5));
    rig.shell
        .signal(Instant::now(), Some(&id), &SignalCode::Terminate)
        .expect("a late terminate is accepted");
}
