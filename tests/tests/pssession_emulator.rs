//! `sessions::pssession` against the in-process emulator over loopback HTTP: every rule of SPEC
//! A1 the emulator supports, as seen by two clients (two WS-Man SessionIds).

use std::sync::Arc;
use std::time::Duration;

use emulator::powershell::PowerShellShells;
use emulator::service::WsManService;
use emulator::{Config, Emulator};
use psrp::clixml::Value;
use psrp::records::PsInvocationState;
use sessions::pssession::{
    Availability, DisconnectOptions, Invocation, PsSession, RemoteSession, SessionOptions,
    SessionState, StreamItem, resolve_idle_timeout, value_text,
};
use sessions::{
    AuthMethod, ClientOptions, ConnectionConfig, Credentials, HttpTransport, WsManClient,
};
use wsman::shell::BufferMode;

const PASSWORD: &str = "Alice-pw-0451";
const HOST: &str = "SERVER01";

fn config(extra: &str) -> Config {
    Config::from_toml(&format!(
        "computer_name = \"{HOST}\"\n[[users]]\nname = \"alice\"\npassword = \"{PASSWORD}\"\nadmin = true\n{extra}"
    ))
    .expect("test configuration parses")
}

/// A PowerShell configuration with test-sized bounds.
fn ps_config(extra: &str) -> String {
    format!(
        "[[session_configurations]]\nname = \"Microsoft.PowerShell\"\nmin_idle_timeout_ms = 500\n{extra}"
    )
}

async fn start(config: Config) -> Emulator {
    let service = WsManService::with_powershell(config.clone(), PowerShellShells::new());
    Emulator::builder(config)
        .start(service)
        .await
        .expect("emulator starts")
}

fn client_with(emu: &Emulator, options: ClientOptions) -> WsManClient {
    let config = ConnectionConfig::from_url(&emu.url())
        .expect("emulator url")
        .auth(AuthMethod::Basic, Credentials::new("alice", PASSWORD));
    let transport = HttpTransport::new(config).expect("transport");
    WsManClient::new(Arc::new(transport), options)
}

fn client(emu: &Emulator) -> WsManClient {
    client_with(
        emu,
        ClientOptions::default().operation_timeout(Duration::from_secs(2)),
    )
}

async fn remote(c: &WsManClient, name: &str) -> Option<RemoteSession> {
    PsSession::enumerate(c)
        .await
        .expect("enumerate")
        .into_iter()
        .find(|r| r.name == name)
}

async fn view(
    c: &WsManClient,
    name: &str,
    local: Option<SessionState>,
) -> (SessionState, Availability) {
    remote(c, name)
        .await
        .unwrap_or_else(|| panic!("session {name} is listed"))
        .view(local)
}

fn lines(outs: &[sessions::pssession::InvokeOutput]) -> Vec<String> {
    outs.iter().flat_map(|o| o.output_lines()).collect()
}

#[tokio::test]
async fn state_and_availability_follow_the_two_client_table() {
    let emu = start(config(&ps_config(""))).await;
    let one = client(&emu);
    let two = client(&emu);
    assert_ne!(one.session_id(), two.session_id());

    let mut s1 = PsSession::new(&one, HOST, SessionOptions::default().name("Test"))
        .await
        .expect("New-PSSession");
    assert_eq!(
        (s1.state(), s1.availability()),
        (SessionState::Opened, Availability::Available)
    );
    assert_eq!(
        view(&one, "Test", Some(s1.state())).await,
        (SessionState::Opened, Availability::Available)
    );
    assert_eq!(
        view(&two, "Test", None).await,
        (SessionState::Disconnected, Availability::Busy)
    );

    s1.disconnect(DisconnectOptions::default())
        .await
        .expect("disconnect");
    assert_eq!(
        (s1.state(), s1.availability()),
        (SessionState::Disconnected, Availability::None)
    );
    assert_eq!(
        view(&one, "Test", Some(s1.state())).await,
        (SessionState::Disconnected, Availability::None)
    );
    assert_eq!(
        view(&two, "Test", None).await,
        (SessionState::Disconnected, Availability::None)
    );

    let r = remote(&two, "Test").await.expect("listed");
    let mut s2 = PsSession::connect(&two, HOST, &r)
        .await
        .expect("Connect-PSSession");
    assert_eq!(
        (s2.state(), s2.availability()),
        (SessionState::Opened, Availability::Available)
    );
    assert_eq!(
        s1.refresh().await.expect("refresh"),
        (SessionState::Disconnected, Availability::Busy)
    );
    assert_eq!(
        s2.refresh().await.expect("refresh"),
        (SessionState::Opened, Availability::Available)
    );
    // Connecting to a session another client holds is refused.
    let err = PsSession::connect(&one, HOST, &r).await.expect_err("busy");
    assert!(err.fault().is_some(), "{err}");
    // Session state (variables) persisted across the hand-over.
    let out = s2
        .invoke(&Invocation::script("$PID -gt 0"))
        .await
        .expect("invoke");
    assert_eq!(out.output_lines(), ["True"]);
    s2.remove().await.expect("remove");
    assert!(remote(&one, "Test").await.is_none());
    emu.shutdown().await;
}

#[tokio::test]
async fn pipelines_carry_input_parameters_and_every_stream() {
    let emu = start(config(&ps_config(""))).await;
    let c = client(&emu);
    let mut s = PsSession::new(&c, HOST, SessionOptions::default())
        .await
        .expect("new");
    let out = s
        .invoke(&Invocation::script(
            "$VerbosePreference = 'Continue'; $DebugPreference = 'Continue'; \
             'out'; Write-Error 'err'; Write-Warning 'warn'; Write-Verbose 'verb'; \
             Write-Debug 'dbg'; Write-Information 'info'; \
             Write-Progress -Activity 'act' -Status 'half' -PercentComplete 50; 42",
        ))
        .await
        .expect("invoke");
    assert_eq!(out.output_lines(), ["out", "42"]);
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors.first().and_then(|e| e.message()), Some("err"));
    assert_eq!(out.warnings, ["warn"]);
    assert_eq!(out.verbose, ["verb"]);
    assert_eq!(out.debug, ["dbg"]);
    assert_eq!(out.information, ["info"]);
    assert_eq!(out.progress.len(), 1);
    assert_eq!(out.progress.first().map(|p| p.percent_complete), Some(50));
    assert!(out.is_completed());

    // Further statements (AddStatement) each run once, after the first.
    let out = s
        .invoke(
            &Invocation::script("'a'")
                .statement(psrp::records::Command::new("'b'", true))
                .statement(psrp::records::Command::new("'c'", true)),
        )
        .await
        .expect("statements");
    assert_eq!(out.output_lines(), ["a", "b", "c"]);

    // Variables persist between pipelines of the session.
    s.invoke(&Invocation::script("$kept = 'yes'"))
        .await
        .expect("set");
    let out = s.invoke(&Invocation::script("$kept")).await.expect("get");
    assert_eq!(out.output_lines(), ["yes"]);

    // Input objects.
    let out = s
        .invoke(
            &Invocation::script("$input | ForEach-Object { $_ * 2 }").input([
                Value::I32(1),
                Value::I32(2),
                Value::I32(3),
            ]),
        )
        .await
        .expect("input");
    assert_eq!(out.output_lines(), ["2", "4", "6"]);

    // A command with a named parameter.
    let out = s
        .invoke(&Invocation::command("Write-Output").parameter("InputObject", "by parameter"))
        .await
        .expect("command");
    assert_eq!(out.output_lines(), ["by parameter"]);

    // A failing command reports Failed with its reason, or an error record.
    let out = s
        .invoke(&Invocation::script("Get-NoSuchThing"))
        .await
        .expect("unknown command");
    assert!(
        !out.errors.is_empty() || out.state == PsInvocationState::FAILED,
        "{out:?}"
    );
    s.remove().await.expect("remove");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_long_poll_that_times_out_is_repeated() {
    let emu = start(config(&ps_config(""))).await;
    let c = client_with(
        &emu,
        ClientOptions::default().operation_timeout(Duration::from_millis(500)),
    );
    let mut s = PsSession::new(&c, HOST, SessionOptions::default())
        .await
        .expect("new");
    // Three seconds of silence = several w:TimedOut faults, each answered by a new Receive.
    let out = s
        .invoke(&Invocation::script(
            "Start-Sleep -Seconds 2; 'after the wait'",
        ))
        .await
        .expect("invoke survives TimedOut");
    assert_eq!(out.output_lines(), ["after the wait"]);
    s.remove().await.expect("remove");
    emu.shutdown().await;
}

#[tokio::test]
async fn stopping_a_pipeline_ends_it_stopped() {
    let emu = start(config(&ps_config(""))).await;
    let c = client(&emu);
    let mut s = PsSession::new(&c, HOST, SessionOptions::default())
        .await
        .expect("new");
    let mut p = s
        .start(&Invocation::script(
            "'started'; Start-Sleep -Seconds 30; 'never'",
        ))
        .await
        .expect("start");
    let first = p.next().await.expect("first record");
    assert_eq!(
        first,
        Some(StreamItem::Output(Value::String("started".into())))
    );
    p.stopper().stop().await.expect("stop");
    let started = std::time::Instant::now();
    let rest = p.collect().await.expect("collect");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(rest.state, PsInvocationState::STOPPED);
    assert!(rest.output_lines().is_empty(), "{:?}", rest.output_lines());
    s.remove().await.expect("remove");
    emu.shutdown().await;
}

#[tokio::test]
async fn invoke_in_disconnected_session_then_receive_from_another_client() {
    let emu = start(config(&ps_config(""))).await;
    let one = client(&emu);
    let two = client(&emu);
    let s = PsSession::invoke_in_disconnected_session(
        &one,
        HOST,
        SessionOptions::default().name("Job"),
        &Invocation::script("1..4 | ForEach-Object { \"item $_\"; Start-Sleep -Milliseconds 100 }"),
    )
    .await
    .expect("invoke -InDisconnectedSession");
    assert_eq!(s.state(), SessionState::Disconnected);
    assert_eq!(s.pending_commands().len(), 1);
    let r = remote(&two, "Job").await.expect("listed");
    assert_eq!(
        r.commands.len(),
        1,
        "the command is enumerated with its shell"
    );
    let mut other = PsSession::connect(&two, HOST, &r).await.expect("connect");
    let outs = other.receive(None).await.expect("receive");
    assert_eq!(lines(&outs), ["item 1", "item 2", "item 3", "item 4"]);
    assert!(outs.iter().all(|o| o.is_completed()));
    assert!(other.pending_commands().is_empty());
    other.remove().await.expect("remove");
    emu.shutdown().await;
}

#[tokio::test]
async fn the_same_client_reconnects_from_a_new_process_by_record() {
    let emu = start(config(&ps_config(""))).await;
    let first = client(&emu);
    let s = PsSession::invoke_in_disconnected_session(
        &first,
        HOST,
        SessionOptions::default().name("Mine"),
        &Invocation::script("'a'; 'b'"),
    )
    .await
    .expect("invoke");
    let record = s.record();
    drop(s);
    // "A new process": a new HTTP client with the stored WS-Man SessionId.
    let again = client_with(
        &emu,
        ClientOptions::default()
            .operation_timeout(Duration::from_secs(2))
            .session_id(first.session_id().to_owned()),
    );
    let mut s = PsSession::from_record(&again, &record);
    assert_eq!(s.state(), SessionState::Disconnected);
    let outs = s.receive(None).await.expect("reconnect + receive");
    assert_eq!(lines(&outs), ["a", "b"]);
    assert_eq!(s.state(), SessionState::Opened);
    // Another client may not Reconnect (only Connect) to it.
    s.disconnect(DisconnectOptions::default())
        .await
        .expect("disconnect");
    let stranger = client(&emu);
    let mut foreign = PsSession::from_record(&stranger, &s.record());
    assert!(foreign.reconnect(None).await.is_err());
    s.reconnect(None).await.expect("own reconnect");
    s.remove().await.expect("remove");
    emu.shutdown().await;
}

#[tokio::test]
async fn receive_as_a_job_streams_in_the_background() {
    let emu = start(config(&ps_config(""))).await;
    let c = client(&emu);
    let s = PsSession::invoke_in_disconnected_session(
        &c,
        HOST,
        SessionOptions::default().name("Bg"),
        &Invocation::script("1..3 | ForEach-Object { \"job $_\" }"),
    )
    .await
    .expect("invoke");
    let mut job = s.receive_job(7, None);
    assert_eq!(job.name(), "Job7");
    assert_eq!(job.ps_job_type_name(), "RemoteJob");
    let mut got = Vec::new();
    while let Some((_, item)) = job.next().await {
        if let StreamItem::Output(v) = item {
            got.push(value_text(&v));
        }
    }
    assert_eq!(got, ["job 1", "job 2", "job 3"]);
    let (s, outs) = job.wait().await.expect("job ends");
    assert_eq!(lines(&outs), ["job 1", "job 2", "job 3"]);
    assert_eq!(s.state(), SessionState::Opened);
    s.remove().await.expect("remove");
    emu.shutdown().await;
}

#[tokio::test]
async fn idle_timeout_precedence_and_server_default() {
    let emu = start(config(&ps_config("idle_timeout_ms = 3600000"))).await;
    let c = client(&emu);
    let explicit = Duration::from_secs(5);
    let preference = Duration::from_secs(7);
    let cases = [
        (
            "Explicit",
            resolve_idle_timeout(Some(explicit), Some(preference)),
            5_000,
        ),
        (
            "Preference",
            resolve_idle_timeout(None, Some(preference)),
            7_000,
        ),
        ("Default", resolve_idle_timeout(None, None), 3_600_000),
    ];
    for (name, idle, expected_ms) in cases {
        let mut options = SessionOptions::default().name(name);
        options.idle_timeout = idle;
        let s = PsSession::new(&c, HOST, options).await.expect("new");
        let r = remote(&c, name).await.expect("listed");
        assert_eq!(
            r.idle_timeout,
            Some(Duration::from_millis(expected_ms)),
            "{name}"
        );
        s.remove().await.expect("remove");
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn idle_timeout_is_capped_by_max_idle_timeout() {
    let emu = start(config(&ps_config("max_idle_timeout_ms = 10000"))).await;
    let c = client(&emu);
    let err = PsSession::new(
        &c,
        HOST,
        SessionOptions::default().idle_timeout(Duration::from_secs(20)),
    )
    .await
    .expect_err("above MaxIdleTimeoutMs");
    assert!(
        err.fault().is_some(),
        "a server fault, clearly reported: {err}"
    );
    let mut s = PsSession::new(
        &c,
        HOST,
        SessionOptions::default()
            .name("Capped")
            .idle_timeout(Duration::from_secs(10)),
    )
    .await
    .expect("at the cap");
    let err = s
        .disconnect(DisconnectOptions::default().idle_timeout(Duration::from_secs(11)))
        .await
        .expect_err("disconnect above the cap");
    assert!(err.fault().is_some(), "{err}");
    assert_eq!(
        s.state(),
        SessionState::Opened,
        "a refused disconnect changes nothing"
    );
    s.remove().await.expect("remove");
    emu.shutdown().await;
}

#[tokio::test]
async fn disconnect_sets_the_idle_timeout_and_connect_does_not_change_it() {
    let emu = start(config(&ps_config(""))).await;
    let one = client(&emu);
    let two = client(&emu);
    let mut s = PsSession::new(&one, HOST, SessionOptions::default().name("Kept"))
        .await
        .expect("new");
    s.disconnect(DisconnectOptions::default().idle_timeout(Duration::from_secs(30)))
        .await
        .expect("disconnect");
    let r = remote(&two, "Kept").await.expect("listed");
    assert_eq!(r.idle_timeout, Some(Duration::from_secs(30)));
    let other = PsSession::connect(&two, HOST, &r).await.expect("connect");
    let r = remote(&two, "Kept").await.expect("listed");
    assert_eq!(
        r.idle_timeout,
        Some(Duration::from_secs(30)),
        "connect keeps the idle timeout set at disconnect"
    );
    other.remove().await.expect("remove");
    emu.shutdown().await;
}

#[tokio::test]
async fn an_expired_disconnected_session_is_deleted_even_with_a_running_command() {
    let emu = start(config(&ps_config(""))).await;
    let c = client(&emu);
    let mut options = SessionOptions::default().name("Expiring");
    options.idle_timeout = Some(Duration::from_secs(1));
    let s = PsSession::invoke_in_disconnected_session(
        &c,
        HOST,
        options,
        &Invocation::script("Start-Sleep -Seconds 60"),
    )
    .await
    .expect("invoke");
    assert!(remote(&c, "Expiring").await.is_some());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        remote(&c, "Expiring").await.is_none(),
        "the idle clock started at disconnect although the command still ran"
    );
    let mut s = s;
    assert!(
        s.receive(None).await.is_err(),
        "gone sessions cannot be received"
    );
    emu.shutdown().await;
}

const HEAVY: &str =
    "1..2000 | ForEach-Object { \"row $_ ..........................................\" }";

async fn heavy_rows(
    c: &WsManClient,
    name: &str,
    at_creation: Option<BufferMode>,
    at_disconnect: Option<BufferMode>,
) -> Vec<String> {
    let mut options = SessionOptions::default().name(name);
    options.output_buffering_mode = at_creation;
    let mut s = PsSession::new(c, HOST, options).await.expect("new");
    drop(s.start(&Invocation::script(HEAVY)).await.expect("start"));
    let mut d = DisconnectOptions::default();
    d.output_buffering_mode = at_disconnect;
    s.disconnect(d).await.expect("disconnect");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let outs = s.receive(None).await.expect("receive");
    s.remove().await.expect("remove");
    lines(&outs)
}

#[tokio::test]
async fn output_buffering_mode_block_keeps_everything_drop_keeps_the_newest() {
    let emu = start(config(&ps_config("output_buffer_size_kb = 16"))).await;
    let c = client(&emu);
    let block = heavy_rows(&c, "Block", None, Some(BufferMode::Block)).await;
    assert_eq!(block.len(), 2000, "Block loses nothing");
    let drop = heavy_rows(&c, "Drop", None, Some(BufferMode::Drop)).await;
    assert!(drop.len() < 2000, "Drop discards: kept {}", drop.len());
    assert!(
        drop.last().is_some_and(|l| l.starts_with("row 2000 ")),
        "the newest stays"
    );
    assert!(
        drop.first().is_some_and(|l| !l.starts_with("row 1 ")),
        "the oldest went"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn output_buffering_mode_set_at_creation_holds_when_disconnected() {
    let emu = start(config(&ps_config("output_buffer_size_kb = 16"))).await;
    let c = client(&emu);
    let drop = heavy_rows(&c, "CreatedDrop", Some(BufferMode::Drop), None).await;
    assert!(
        drop.len() < 2000,
        "Drop from creation discards: kept {}",
        drop.len()
    );
    // A mode given at disconnect wins over the creation one.
    let block = heavy_rows(
        &c,
        "CreatedDropThenBlock",
        Some(BufferMode::Drop),
        Some(BufferMode::Block),
    )
    .await;
    assert_eq!(block.len(), 2000);
    // And it is remembered across processes through the record.
    let s = PsSession::new(
        &c,
        HOST,
        SessionOptions::default()
            .name("Remembered")
            .output_buffering_mode(BufferMode::Drop),
    )
    .await
    .expect("new");
    let record = s.record();
    assert_eq!(record.output_buffering_mode, Some(BufferMode::Drop));
    let mut again = PsSession::from_record(&c, &record);
    again
        .disconnect(DisconnectOptions::default())
        .await
        .expect("disconnect");
    assert_eq!(
        remote(&c, "Remembered").await.and_then(|r| r.buffer_mode),
        Some(BufferMode::Drop)
    );
    again.remove().await.expect("remove");
    emu.shutdown().await;
}

#[tokio::test]
async fn output_buffering_mode_can_change_at_reconnect() {
    let emu = start(config(&ps_config(""))).await;
    let c = client(&emu);
    let mut s = PsSession::new(&c, HOST, SessionOptions::default().name("Modes"))
        .await
        .expect("new");
    s.disconnect(DisconnectOptions::default().output_buffering_mode(BufferMode::Drop))
        .await
        .expect("disconnect");
    assert_eq!(
        remote(&c, "Modes").await.and_then(|r| r.buffer_mode),
        Some(BufferMode::Drop)
    );
    s.reconnect(Some(BufferMode::Block))
        .await
        .expect("reconnect");
    assert_eq!(
        remote(&c, "Modes").await.and_then(|r| r.buffer_mode),
        Some(BufferMode::Block)
    );
    s.remove().await.expect("remove");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_stop_signal_goes_out_while_a_receive_long_poll_waits() {
    let emu = start(config(&ps_config(""))).await;
    // A long OperationTimeout: the Receive stays parked on the server while we stop.
    let c = client_with(
        &emu,
        ClientOptions::default().operation_timeout(Duration::from_secs(30)),
    );
    let mut s = PsSession::new(&c, HOST, SessionOptions::default())
        .await
        .expect("new");
    let p = s
        .start(&Invocation::script("Start-Sleep -Seconds 30; 'never'"))
        .await
        .expect("start");
    let stopper = p.stopper();
    let stop = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        stopper.stop().await
    });
    let started = std::time::Instant::now();
    let out = p.collect().await.expect("collect");
    stop.await
        .expect("task")
        .expect("stop sent during the long poll");
    assert_eq!(out.state, PsInvocationState::STOPPED);
    assert!(started.elapsed() < Duration::from_secs(10));
    s.remove().await.expect("remove");
    emu.shutdown().await;
}

#[tokio::test]
async fn an_unintended_disconnect_leaves_the_session_reconnectable() {
    let emu = start(config(&format!(
        "{}\n[testing]\nunpolled_disconnect_ms = 300",
        ps_config("")
    )))
    .await;
    let first = client(&emu);
    let mut s = PsSession::new(&first, HOST, SessionOptions::default().name("Crash"))
        .await
        .expect("new");
    let p = s
        .start(&Invocation::script(
            "1..3 | ForEach-Object { \"kept $_\"; Start-Sleep -Milliseconds 200 }",
        ))
        .await
        .expect("start");
    // The client "crashes": nobody receives any more.
    drop(p);
    let record = s.record();
    drop(s);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let other = client(&emu);
    assert_eq!(
        view(&other, "Crash", None).await,
        (SessionState::Disconnected, Availability::None),
        "the server kept it, Disconnected"
    );
    // The same client (same SessionId) comes back and gets everything.
    let again = client_with(
        &emu,
        ClientOptions::default()
            .operation_timeout(Duration::from_secs(2))
            .session_id(first.session_id().to_owned()),
    );
    let mut s = PsSession::from_record(&again, &record);
    let outs = s.receive(None).await.expect("receive after the crash");
    assert_eq!(lines(&outs), ["kept 1", "kept 2", "kept 3"]);
    s.remove().await.expect("remove");
    emu.shutdown().await;
}

#[tokio::test]
async fn small_envelopes_fragment_input_and_output() {
    let emu = start(config(&ps_config(""))).await;
    let c = client_with(
        &emu,
        ClientOptions::default()
            .operation_timeout(Duration::from_secs(2))
            .max_envelope_size(8 * 1024),
    );
    let mut s = PsSession::new(&c, HOST, SessionOptions::default())
        .await
        .expect("new");
    let item = "x".repeat(100);
    let input: Vec<Value> = (0..200).map(|_| Value::String(item.clone())).collect();
    let out = s
        .invoke(
            &Invocation::script("$input | ForEach-Object { $_.Length }; 'y' * 20000").input(input),
        )
        .await
        .expect("invoke with 20 KB of input and output through 8 KiB envelopes");
    let lines = out.output_lines();
    assert_eq!(lines.len(), 201, "{:?}", lines.first());
    assert!(lines.iter().take(200).all(|l| l == "100"));
    assert_eq!(lines.last().map(String::len), Some(20000));
    s.remove().await.expect("remove");
    emu.shutdown().await;
}

/// Wraps the HTTP transport and remembers the largest request and reply bodies and the
/// `MaxEnvelopeSize` of the last request.
#[derive(Debug)]
struct Sizes {
    inner: HttpTransport,
    largest_request: std::sync::atomic::AtomicUsize,
    largest_reply: std::sync::atomic::AtomicUsize,
}

impl sessions::Transport for Sizes {
    fn endpoint(&self) -> &str {
        self.inner.endpoint()
    }

    fn post(
        &self,
        lane: sessions::Lane,
        envelope: Vec<u8>,
        timeout: Duration,
    ) -> wsman_transport::BoxFuture<'_, Result<sessions::HttpReply, sessions::TransportError>> {
        use std::sync::atomic::Ordering::Relaxed;
        self.largest_request.fetch_max(envelope.len(), Relaxed);
        Box::pin(async move {
            let reply = self.inner.post(lane, envelope, timeout).await?;
            self.largest_reply.fetch_max(reply.body.len(), Relaxed);
            Ok(reply)
        })
    }
}

/// Opens a session with default options on an emulator whose `MaxEnvelopeSizekb` is
/// `server_kb` (PSRP protocol 2.3), then sends ~330 KB of input in one value and receives
/// ~400 KB of output in one string. Returns the client's envelope size after the open and the
/// largest request and reply bodies seen.
async fn envelope_after_open(server_kb: u32, options: ClientOptions) -> (u32, usize, usize) {
    let emu = start(config(&format!(
        "[service]\nmax_envelope_size_kb = {server_kb}\n{}",
        ps_config("")
    )))
    .await;
    let config = ConnectionConfig::from_url(&emu.url())
        .expect("emulator url")
        .auth(AuthMethod::Basic, Credentials::new("alice", PASSWORD));
    let sizes = Arc::new(Sizes {
        inner: HttpTransport::new(config).expect("transport"),
        largest_request: 0.into(),
        largest_reply: 0.into(),
    });
    let chosen = options.max_envelope_size;
    let c = WsManClient::new(
        sizes.clone(),
        options.operation_timeout(Duration::from_secs(5)),
    );
    assert_eq!(c.max_envelope_size(), chosen);
    let mut s = PsSession::new(&c, HOST, SessionOptions::default())
        .await
        .expect("new");
    let after_open = c.max_envelope_size();
    let out = s
        .invoke(
            &Invocation::script("$input | ForEach-Object { $_.Length }; 'y' * 400000")
                .input([Value::String("x".repeat(330_000))]),
        )
        .await
        .expect("invoke with ~330 KB of input and ~400 KB of output");
    let lines = out.output_lines();
    assert_eq!(lines.first().map(String::as_str), Some("330000"));
    assert_eq!(lines.get(1).map(String::len), Some(400_000));
    s.remove().await.expect("remove");
    emu.shutdown().await;
    use std::sync::atomic::Ordering::Relaxed;
    (
        after_open,
        sizes.largest_request.load(Relaxed),
        sizes.largest_reply.load(Relaxed),
    )
}

#[tokio::test]
async fn protocol_2_3_pool_raises_the_envelope_to_512000_when_the_server_allows() {
    let (size, request, reply) = envelope_after_open(500, ClientOptions::default()).await;
    assert_eq!(size, sessions::client::PSRP_ENVELOPE_SIZE);
    // Larger than the 153 600 default could carry, within the raised size.
    assert!(request > 153_600 && request <= 512_000, "request {request}");
    assert!(reply > 153_600 && reply <= 512_000, "reply {reply}");

    // A server allowing more still gets 512 000 at most.
    let (size, request, reply) = envelope_after_open(2048, ClientOptions::default()).await;
    assert_eq!(size, 512_000);
    assert!(request <= 512_000 && reply <= 512_000, "{request} {reply}");
}

#[tokio::test]
async fn envelope_stays_at_the_server_limit_below_512000_or_when_turned_off() {
    // The server allows 200 KiB: the client goes no further (a 512 000-byte request would be
    // refused with w:EncodingLimit, failing the invoke).
    let (size, request, reply) = envelope_after_open(200, ClientOptions::default()).await;
    assert_eq!(size, 200 * 1024);
    assert!(
        request > 153_600 && request <= 200 * 1024,
        "request {request}"
    );
    assert!(reply <= 200 * 1024, "reply {reply}");

    // The server allows less than the default: the client follows it down.
    let (size, request, reply) = envelope_after_open(100, ClientOptions::default()).await;
    assert_eq!(size, 100 * 1024);
    assert!(
        request <= 100 * 1024 && reply <= 100 * 1024,
        "{request} {reply}"
    );

    // Turned off, or a size the caller chose: left alone.
    let (size, request, _) =
        envelope_after_open(500, ClientOptions::default().psrp_envelope_raise(false)).await;
    assert_eq!(size, 153_600);
    assert!(request <= 153_600, "request {request}");
    let (size, _, _) =
        envelope_after_open(500, ClientOptions::default().max_envelope_size(300_000)).await;
    assert_eq!(size, 300_000);
}
