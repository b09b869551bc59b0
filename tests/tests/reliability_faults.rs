//! The client against an emulator that misbehaves on purpose (`emulator::faults`): dropped
//! Receive connections, 503s, delays, 500/400 answers, idle shells expired early, a broken
//! runspace pool. A pipeline writes the numbers 1..N; with Block mode every number must arrive
//! exactly once and in order; with Drop mode only the oldest may be missing, and the test counts
//! them.

use std::time::Duration;

use emulator::faults::{FaultKind, FaultRule};
use emulator::{Config, Emulator};
use sessions::pssession::{DisconnectOptions, Invocation, PsSession, StreamItem, value_text};
use sessions::{AuthMethod, ClientOptions, WsManClient};
use tests::emu::{alice_client, lost_and_duplicated, new_session, start};
use wsman::shell::BufferMode;

const N: u64 = 1500;

fn config(extra: &str) -> Config {
    tests::emu::config(
        "",
        &format!("min_idle_timeout_ms = 500\noutput_buffer_size_kb = 16\n{extra}"),
    )
}

fn client(emu: &Emulator) -> WsManClient {
    client_with_timeout(emu, Duration::from_secs(2))
}

fn client_with_timeout(emu: &Emulator, timeout: Duration) -> WsManClient {
    client_with(emu, timeout, AuthMethod::Basic)
}

fn client_with(emu: &Emulator, timeout: Duration, auth: AuthMethod) -> WsManClient {
    // Small envelopes: the output takes many Receives, so faults land in the middle of it.
    let options = ClientOptions::default()
        .operation_timeout(timeout)
        .max_envelope_size(8 * 1024);
    alice_client(emu, auth, None, options)
}

fn script(n: u64) -> Invocation {
    Invocation::script(format!("1..{n}"))
}

/// The numbers received, in order.
fn numbers(items: &[StreamItem]) -> Vec<u64> {
    items
        .iter()
        .filter_map(|i| match i {
            StreamItem::Output(v) => value_text(v).trim().parse().ok(),
            _ => None,
        })
        .collect()
}

/// Runs `1..n` and reads it to the end, calling `next` again after an error (up to
/// `tolerated` errors, which are returned).
async fn run_sequence(s: &mut PsSession, n: u64, tolerated: usize) -> (Vec<u64>, Vec<String>) {
    let mut p = s.start(&script(n)).await.expect("start");
    let mut items = Vec::new();
    let mut errors = Vec::new();
    loop {
        match p.next().await {
            Ok(Some(item)) => items.push(item),
            Ok(None) => break,
            Err(e) => {
                errors.push(e.to_string());
                assert!(errors.len() <= tolerated, "too many errors: {errors:?}");
            }
        }
    }
    (numbers(&items), errors)
}

#[tokio::test]
async fn block_mode_loses_and_duplicates_nothing_across_dropped_receive_replies() {
    let (emu, service) = start(config("")).await;
    // Every 3rd Receive is handled (its output leaves the queue) and then the connection closes
    // before the reply is written.
    emu.faults()
        .add(FaultRule::new("Receive", FaultKind::Drop).every(3));
    let c = client(&emu);
    let mut s = new_session(&c, "Drops", None).await;
    let (got, errors) = run_sequence(&mut s, N, 0).await;
    let (lost, dup) = lost_and_duplicated(&got, N);
    let counts = emu.faults().counts();
    let replayed = service.with_core(|core| core.gauges().replayed_receives);
    println!(
        "dropped receive connections: {} (replayed {replayed}): lost {lost}, duplicated {dup}",
        counts.dropped
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!((lost, dup), (0, 0));
    assert_eq!(got, (1..=N).collect::<Vec<_>>(), "in order");
    assert!(counts.dropped >= 3, "faults fired: {counts:?}");
    assert!(replayed >= 1, "a lost reply was sent again");
    emu.faults().clear();
    s.remove().await.expect("remove");
    emu.shutdown().await;
}

#[tokio::test]
async fn sealed_ntlm_sessions_recover_from_dropped_receive_replies_too() {
    // Encryption required: every envelope is sealed with the connection's NTLM context, and a
    // dropped connection takes that context with it (the retry authenticates again).
    let (emu, service) = start(config("[service]\nallow_unencrypted = false\n")).await;
    emu.faults()
        .add(FaultRule::new("Receive", FaultKind::Drop).every(4));
    let c = client_with(&emu, Duration::from_secs(2), AuthMethod::Ntlm);
    let mut s = new_session(&c, "Sealed", None).await;
    let n = 600;
    let (got, errors) = run_sequence(&mut s, n, 0).await;
    let (lost, dup) = lost_and_duplicated(&got, n);
    let dropped = emu.faults().counts().dropped;
    println!("sealed: dropped receive connections {dropped}: lost {lost}, duplicated {dup}");
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!((lost, dup), (0, 0));
    assert_eq!(got, (1..=n).collect::<Vec<_>>());
    assert!(dropped >= 2, "{dropped}");
    assert!(service.with_core(|core| core.gauges().replayed_receives) >= 1);
    emu.faults().clear();
    s.remove().await.expect("remove");
    emu.shutdown().await;
}

#[tokio::test]
async fn block_mode_loses_and_duplicates_nothing_across_503s_and_delays() {
    let (emu, _service) = start(config("")).await;
    let f = emu.faults();
    f.add(
        FaultRule::new("Receive", FaultKind::Status)
            .status(503)
            .every(4),
    );
    f.add(
        FaultRule::new("Receive", FaultKind::Delay)
            .delay(Duration::from_millis(150))
            .every(5)
            .times(6),
    );
    let c = client(&emu);
    let mut s = new_session(&c, "Flaky", None).await;
    let (got, errors) = run_sequence(&mut s, N, 0).await;
    let (lost, dup) = lost_and_duplicated(&got, N);
    let counts = f.counts();
    println!(
        "503 answers: {}, delayed replies: {}: lost {lost}, duplicated {dup}",
        counts.statuses, counts.delayed
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!((lost, dup), (0, 0));
    assert_eq!(got, (1..=N).collect::<Vec<_>>());
    assert!(counts.statuses >= 3 && counts.delayed >= 3, "{counts:?}");
    f.clear();
    s.remove().await.expect("remove");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_500_or_400_on_receive_is_reported_and_the_pipeline_resumes_intact() {
    let (emu, _service) = start(config("")).await;
    let f = emu.faults();
    f.add(
        FaultRule::new("Receive", FaultKind::Status)
            .status(500)
            .nth(6),
    );
    f.add(
        FaultRule::new("Receive", FaultKind::Status)
            .status(400)
            .nth(11),
    );
    let c = client(&emu);
    let mut s = new_session(&c, "Errors", None).await;
    let (got, errors) = run_sequence(&mut s, N, 2).await;
    let (lost, dup) = lost_and_duplicated(&got, N);
    println!("500/400 answers reported as {errors:?}: lost {lost}, duplicated {dup}");
    assert_eq!(errors.len(), 2, "each status is an error: {errors:?}");
    assert!(errors.iter().any(|e| e.contains("500")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("400")), "{errors:?}");
    assert_eq!((lost, dup), (0, 0));
    assert_eq!(got, (1..=N).collect::<Vec<_>>());
    f.clear();
    s.remove().await.expect("remove");
    emu.shutdown().await;
}

#[tokio::test]
async fn drop_mode_loses_only_the_oldest_and_the_loss_is_counted() {
    let (emu, _service) = start(config("")).await;
    let c = client(&emu);
    let mut s = new_session(&c, "Dropping", Some(BufferMode::Drop)).await;
    let n = 3000;
    drop(s.start(&script(n)).await.expect("start"));
    s.disconnect(DisconnectOptions::default())
        .await
        .expect("disconnect");
    // The command runs to its end while nobody reads: the 16 KB buffer keeps the newest.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Faults while the rest comes back: they may cost nothing more.
    emu.faults()
        .add(FaultRule::new("Receive", FaultKind::Drop).every(2));
    let outs = s.receive(None).await.expect("receive");
    let got: Vec<u64> = outs
        .iter()
        .flat_map(|o| o.output_lines())
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    let (lost, dup) = lost_and_duplicated(&got, n);
    println!(
        "Drop mode: {} received, lost {lost} (the oldest), duplicated {dup}, dropped connections {}",
        got.len(),
        emu.faults().counts().dropped
    );
    assert_eq!(dup, 0);
    assert!(lost > 0, "a 16 KB buffer cannot hold {n} records");
    let first = got.first().copied().unwrap_or(0);
    assert_eq!(lost, first.saturating_sub(1), "only the oldest are missing");
    assert_eq!(got, (first..=n).collect::<Vec<_>>(), "the rest is complete");
    emu.faults().clear();
    s.remove().await.expect("remove");
    emu.shutdown().await;
}

#[tokio::test]
async fn idle_shells_expired_early_are_gone_and_the_client_says_so() {
    let (emu, service) = start(config("")).await;
    let c = client(&emu);
    let mut s = new_session(&c, "Idle", None).await;
    s.disconnect(DisconnectOptions::default())
        .await
        .expect("disconnect");
    assert_eq!(service.with_core(|core| core.shell_count()), 1);
    emu.faults()
        .add(FaultRule::new("Enumerate", FaultKind::ExpireIdle).nth(1));
    let listed = PsSession::enumerate(&c).await.expect("enumerate");
    assert!(
        listed.iter().all(|r| r.name != "Idle"),
        "expired: {listed:?}"
    );
    assert_eq!(service.with_core(|core| core.shell_count()), 0);
    assert_eq!(emu.faults().counts().expired, 1);
    let err = s.reconnect(None).await.expect_err("the shell is gone");
    assert!(
        err.fault_subcode() == Some("InvalidSelectors"),
        "unknown shell fault: {err}"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn a_broken_runspace_ends_the_pipeline_and_refuses_new_ones() {
    let (emu, _service) = start(config("")).await;
    let c = client(&emu);
    let mut s = new_session(&c, "Breaks", None).await;
    let mut p = s
        .start(&Invocation::script("1..5; Start-Sleep -Seconds 30; 6"))
        .await
        .expect("start");
    emu.faults()
        .add(FaultRule::new("Receive", FaultKind::BreakRunspace).nth(1));
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        let mut items = Vec::new();
        while let Ok(Some(item)) = p.next().await {
            items.push(item);
        }
        items
    })
    .await
    .expect("the pipeline ends instead of waiting 30 s");
    assert!(!numbers(&ended).contains(&6), "the pipeline stopped");
    assert_eq!(emu.faults().counts().broken, 1);
    let again = s.invoke(&Invocation::script("7")).await;
    assert!(again.is_err(), "a broken pool runs nothing: {again:?}");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_receive_whose_replies_are_always_dropped_ends_with_a_connection_error() {
    let (emu, _service) = start(config("")).await;
    // Nothing to send: each attempt waits out a short OperationTimeout, then its reply is lost.
    let c = client_with_timeout(&emu, Duration::from_millis(100));
    let s = new_session(&c, "Raw", None).await;
    emu.faults()
        .add(FaultRule::new("Receive", FaultKind::Drop).every(1));
    let err = c
        .receive(
            &format!(
                "http://schemas.microsoft.com/powershell/{}",
                s.configuration_name()
            ),
            s.shell_id(),
            wsman::shell::Receive {
                command_id: None,
                streams: vec!["stdout".into()],
                ..Default::default()
            },
        )
        .await
        .expect_err("no reply ever arrives");
    assert!(err.is_connection(), "{err}");
    let dropped = emu.faults().counts().dropped;
    assert!(
        dropped > 3,
        "the client asked again before giving up: {dropped}"
    );
    emu.faults().clear();
    s.remove().await.expect("remove");
    emu.shutdown().await;
}
