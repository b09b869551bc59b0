//! How a session's state follows failures it did not ask for (SPEC A1): a connection that stays
//! broken after the client's retries leaves the session Disconnected (for this client and in
//! its stored record), and it is then reconnected and received like a deliberately
//! disconnected one, without losing or repeating output; a runspace pool the server reports
//! Broken makes the session Broken.

use std::sync::Arc;
use std::time::Duration;

use emulator::faults::{FaultKind, FaultRule};
use emulator::powershell::PowerShellShells;
use emulator::service::WsManService;
use emulator::{Config, Emulator};
use sessions::pssession::{
    Availability, Invocation, PsSession, SessionOptions, SessionState, StreamItem, value_text,
};
use sessions::{
    AuthMethod, ClientOptions, ConnectionConfig, Credentials, HttpTransport, WsManClient,
};
use wsman::shell::BufferMode;

const PASSWORD: &str = "Alice-pw-0451";
const HOST: &str = "SERVER01";
/// One logical Receive: the first attempt and the client's six retries.
const ATTEMPTS: u64 = 7;
/// The cap of the dropping rule: more than one logical Receive can use (the transport may also
/// resend once on a reused connection), so the error is reached before the rule runs out.
const CAP: u64 = 40;

async fn start() -> (Emulator, WsManService) {
    let config = Config::from_toml(&format!(
        "computer_name = \"{HOST}\"\n[[users]]\nname = \"alice\"\npassword = \"{PASSWORD}\"\n\
         [[session_configurations]]\nname = \"Microsoft.PowerShell\"\n\
         output_buffer_size_kb = 16\n"
    ))
    .expect("test configuration parses");
    let service = WsManService::with_powershell(config.clone(), PowerShellShells::new());
    let emu = Emulator::builder(config)
        .start(service.clone())
        .await
        .expect("emulator starts");
    (emu, service)
}

fn client(emu: &Emulator) -> WsManClient {
    let config = ConnectionConfig::from_url(&emu.url())
        .expect("emulator url")
        .auth(AuthMethod::Basic, Credentials::new("alice", PASSWORD));
    let transport = HttpTransport::new(config).expect("transport");
    // Small envelopes: the output takes many Receives, so the fault lands in the middle of it.
    let options = ClientOptions::default()
        .operation_timeout(Duration::from_secs(2))
        .max_envelope_size(8 * 1024);
    WsManClient::new(Arc::new(transport), options)
}

fn number(item: &StreamItem) -> Option<u64> {
    match item {
        StreamItem::Output(v) => value_text(v).trim().parse().ok(),
        _ => None,
    }
}

/// Lost and duplicated numbers of `got` against 1..=n.
fn lost_and_duplicated(got: &[u64], n: u64) -> (usize, usize) {
    let lost = (1..=n).filter(|i| !got.contains(i)).count();
    let mut sorted = got.to_vec();
    sorted.sort_unstable();
    let before = sorted.len();
    sorted.dedup();
    (lost, before - sorted.len())
}

#[tokio::test]
async fn a_receive_lost_after_the_retries_leaves_the_session_disconnected_and_reconnectable() {
    let n: u64 = 1200;
    let (emu, service) = start().await;
    let c = client(&emu);
    let mut s = PsSession::new(
        &c,
        HOST,
        SessionOptions::default()
            .name("Lossy")
            .output_buffering_mode(BufferMode::Block),
    )
    .await
    .expect("new");
    let mut p = s
        .start(&Invocation::script(format!("1..{n}")))
        .await
        .expect("start");
    let mut got = Vec::new();
    while got.len() < 100 {
        let item = p.next().await.expect("next").expect("more output");
        got.extend(number(&item));
    }
    // Every Receive is dropped (after the server took its output) for a while: one logical
    // Receive runs out of retries.
    emu.faults().add(
        FaultRule::new("Receive", FaultKind::Drop)
            .every(1)
            .times(CAP),
    );
    let err = loop {
        match p.next().await {
            Ok(Some(item)) => got.extend(number(&item)),
            Ok(None) => panic!(
                "the pipeline ended although its Receives were dropped: {} numbers, {:?}",
                got.len(),
                emu.faults().counts()
            ),
            Err(e) => break e,
        }
    };
    assert!(err.is_connection(), "a connection error: {err}");
    let dropped = emu.faults().counts().dropped;
    assert!((ATTEMPTS..CAP).contains(&dropped), "dropped {dropped}");
    assert_eq!(s.state(), SessionState::Disconnected, "not silently lost");
    assert_eq!(s.availability(), Availability::None);
    let record = s.record();
    assert_eq!(record.state, SessionState::Disconnected);
    assert_eq!(record.command_ids.len(), 1, "{record:?}");
    let refused = s.start(&Invocation::script("1")).await;
    assert!(
        refused.as_ref().is_err_and(|e| e.is_usage()),
        "a disconnected session runs nothing: {refused:?}"
    );
    emu.faults().clear();

    // As `psrm connect` does: from the stored record, reconnect (WS-Man Reconnect, as after a
    // deliberate disconnect); the pipeline then reads on where it stopped.
    let mut again = PsSession::from_record(&c, &record);
    assert_eq!(again.state(), SessionState::Disconnected);
    again.reconnect(None).await.expect("reconnect");
    assert_eq!(again.state(), SessionState::Opened);
    s.reconnect(None).await.expect("reconnect the original too");
    assert_eq!(s.state(), SessionState::Opened);
    while let Some(item) = p.next().await.expect("next after reconnecting") {
        got.extend(number(&item));
    }
    let (lost, dup) = lost_and_duplicated(&got, n);
    let replayed = service.with_core(|core| core.gauges().replayed_receives);
    println!("lost connection: lost {lost}, duplicated {dup}, replayed {replayed}");
    assert_eq!((lost, dup), (0, 0));
    assert_eq!(got, (1..=n).collect::<Vec<_>>(), "in order");
    assert!(replayed >= 1, "the lost reply was sent again");
    s.forget_command(p.command_id());
    again.remove().await.expect("remove");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_runspace_pool_the_server_reports_broken_makes_the_session_broken() {
    let (emu, _service) = start().await;
    let c = client(&emu);
    let mut s = PsSession::new(&c, HOST, SessionOptions::default().name("Breaks"))
        .await
        .expect("new");
    assert_eq!(s.state(), SessionState::Opened);
    let mut p = s
        .start(&Invocation::script("1..5; Start-Sleep -Seconds 30; 6"))
        .await
        .expect("start");
    emu.faults()
        .add(FaultRule::new("Receive", FaultKind::BreakRunspace).nth(1));
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        let mut got = Vec::new();
        while let Ok(Some(item)) = p.next().await {
            got.extend(number(&item));
        }
        got
    })
    .await
    .expect("the pipeline ends instead of waiting 30 s");
    assert!(!ended.contains(&6), "the pipeline stopped: {ended:?}");
    assert_eq!(emu.faults().counts().broken, 1);
    let err = s
        .invoke(&Invocation::script("7"))
        .await
        .expect_err("a broken pool runs nothing");
    assert!(err.to_string().contains("Broken"), "names Broken: {err}");
    assert_eq!(s.state(), SessionState::Broken);
    assert_eq!(s.record().state, SessionState::Broken);
    // Asked again, it fails at once without a request.
    let before = emu.faults().counts().requests;
    let again = s.start(&Invocation::script("8")).await;
    assert!(
        again
            .as_ref()
            .is_err_and(|e| e.is_usage() && e.to_string().contains("Broken")),
        "{again:?}"
    );
    assert_eq!(emu.faults().counts().requests, before);
    emu.shutdown().await;
}
