//! How a session's state follows failures it did not ask for (SPEC A1): a connection that stays
//! broken after the client's retries leaves the session Disconnected (for this client and in
//! its stored record), and it is then reconnected and received like a deliberately
//! disconnected one, without losing or repeating output; a runspace pool the server reports
//! Broken makes the session Broken.

use std::time::Duration;

use emulator::Emulator;
use emulator::faults::{FaultKind, FaultRule};
use emulator::service::WsManService;
use sessions::pssession::{
    Availability, Invocation, PsSession, SessionState, StreamItem, value_text,
};
use sessions::{AuthMethod, ClientOptions, WsManClient};
use tests::emu::{
    alice_client, config, drop_receives_until_failure, lost_and_duplicated, new_session,
};
use wsman::shell::BufferMode;

/// One logical Receive: the first attempt and the client's six retries.
const ATTEMPTS: u64 = 7;
/// The cap of the dropping rule: more than one logical Receive can use (the transport may also
/// resend once on a reused connection), so the error is reached before the rule runs out.
const CAP: u64 = 40;

async fn start() -> (Emulator, WsManService) {
    tests::emu::start(config("", "output_buffer_size_kb = 16\n")).await
}

fn client(emu: &Emulator) -> WsManClient {
    // Small envelopes: the output takes many Receives, so the fault lands in the middle of it.
    let options = ClientOptions::default()
        .operation_timeout(Duration::from_secs(2))
        .max_envelope_size(8 * 1024);
    alice_client(emu, AuthMethod::Basic, None, options)
}

fn number(item: &StreamItem) -> Option<u64> {
    match item {
        StreamItem::Output(v) => value_text(v).trim().parse().ok(),
        _ => None,
    }
}

#[tokio::test]
async fn a_receive_lost_after_the_retries_leaves_the_session_disconnected_and_reconnectable() {
    let n: u64 = 1200;
    let (emu, service) = start().await;
    let c = client(&emu);
    let mut s = new_session(&c, "Lossy", Some(BufferMode::Block)).await;
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
    drop_receives_until_failure(&emu, &mut p, CAP, &mut got, number).await;
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
    let mut s = new_session(&c, "Breaks", None).await;
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
