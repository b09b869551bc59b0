//! Reading a command on from another process after the network failed in the middle of it
//! (issue 9): the first reader loses its connection for good in the middle of an object that
//! spans several fragments (and Receives), the session record is stored (as JSON, as the CLI
//! does) and a new `WsManClient` + `PsSession` built from it reads the rest. The record carries
//! the fragments the server already handed out and the SequenceId of the Receive whose reply
//! never arrived; with them nothing is lost or duplicated. Also: a Receive whose transport
//! deadline passes is asked again with its SequenceId, while a Command, Send or Signal that
//! times out is never sent again and leaves the session Disconnected.

use std::time::Duration;

use emulator::Emulator;
use emulator::faults::{FaultKind, FaultRule};
use emulator::service::WsManService;
use sessions::pssession::{
    CommandProgress, Invocation, InvokeOutput, Pipeline, PsSession, SessionRecord, SessionState,
    StreamItem, value_text,
};
use sessions::{AuthMethod, ClientOptions, WsManClient};
use tests::emu::{
    alice_client, config, drop_receives_until_failure, lost_and_duplicated, new_session,
};
use wsman::shell::BufferMode;

/// More drops than one logical Receive's attempts (first try, six retries, a transport resend
/// on a reused connection), so the first reader surely gives up.
const CAP: u64 = 40;
/// Characters of padding per object: with 8 KB envelopes each object spans several fragments
/// and Receives.
const PAD: usize = 12_000;

async fn start() -> (Emulator, WsManService) {
    tests::emu::start(config("", "output_buffer_size_kb = 16\n")).await
}

/// A client with 8 KB envelopes; `session_id`: act as the same client as an earlier one (a
/// later `psrm` process reuses the stored WS-Man SessionId); `deadline`: OperationTimeout and
/// the transport's read grace.
fn client(emu: &Emulator, session_id: Option<&str>, deadline: (Duration, Duration)) -> WsManClient {
    let mut options = ClientOptions::default()
        .operation_timeout(deadline.0)
        .max_envelope_size(8 * 1024);
    if let Some(id) = session_id {
        options = options.session_id(id);
    }
    alice_client(emu, AuthMethod::Basic, Some(deadline.1), options)
}

const NORMAL: (Duration, Duration) = (Duration::from_secs(2), Duration::from_secs(5));

/// `n:pad` objects: the number first, so a truncated or doubled object shows.
fn big_objects(n: u64) -> Invocation {
    Invocation::script(format!(
        "1..{n} | ForEach-Object {{ '' + $_ + ':' + ('x' * {PAD}) }}"
    ))
}

/// The number of an output record (`7` or `7:xxxx…` with the full padding).
fn number(item: &StreamItem) -> Option<u64> {
    let StreamItem::Output(v) = item else {
        return None;
    };
    let text = value_text(v);
    match text.split_once(':') {
        Some((n, pad)) => {
            assert_eq!(pad.len(), PAD, "object {n} arrived whole");
            n.trim().parse().ok()
        }
        None => text.trim().parse().ok(),
    }
}

/// Adds the numbers of every output record of `outputs` to `got`.
fn extend_numbers(got: &mut Vec<u64>, outputs: &[InvokeOutput]) {
    for out in outputs {
        got.extend(
            out.output
                .iter()
                .filter_map(|v| number(&StreamItem::Output(v.clone()))),
        );
    }
}

/// Reads `p` until at least `min` numbers came and the session record shows an object
/// received in part, then drops every Receive until the pipeline gives up. Returns the
/// numbers read and the record stored at that moment, sent through JSON as a state file.
async fn read_until_lost_mid_object(
    emu: &Emulator,
    s: &PsSession,
    p: &mut Pipeline,
    n: u64,
    min: usize,
) -> (Vec<u64>, SessionRecord) {
    let mut got = Vec::new();
    loop {
        let item = p.next().await.expect("next").expect("more output");
        got.extend(number(&item));
        let mid_object = s
            .record()
            .progress
            .iter()
            .any(|c| !c.partial_objects.is_empty());
        if got.len() >= min && mid_object {
            break;
        }
        assert!(got.len() < usize::try_from(n).unwrap_or(usize::MAX) - 5);
    }
    // From now on every Receive is handled (its output leaves the server's queue) and its
    // reply lost, until the reader gives up.
    drop_receives_until_failure(emu, p, CAP, &mut got, number).await;
    let dropped = emu.faults().counts().dropped;
    assert!(
        dropped < CAP,
        "the reader gave up before the rule ran out: {dropped}"
    );
    emu.faults().clear();
    assert_eq!(s.state(), SessionState::Disconnected);
    let record = s.record();
    // As the CLI's state file: through JSON and back.
    let json = serde_json::to_string(&record.progress).expect("progress serializes");
    let progress: Vec<CommandProgress> = serde_json::from_str(&json).expect("progress loads");
    assert_eq!(progress, record.progress);
    let stored = SessionRecord::new(
        record.computer_name.clone(),
        record.name.clone(),
        record.configuration_name.clone(),
        record.shell_id.clone(),
        record.command_ids.clone(),
        record.state,
    )
    .with_output_buffering_mode(record.output_buffering_mode.clone())
    .with_progress(progress);
    (got, stored)
}

/// The first process: a new client runs [`big_objects`] in a new Block session named `name`
/// and loses its connection for good in the middle of an object (see
/// [`read_until_lost_mid_object`]). Returns the numbers it read, the stored record and the
/// WS-Man SessionId of its client.
async fn first_reader_lost_mid_object(
    emu: &Emulator,
    name: &str,
    n: u64,
) -> (Vec<u64>, SessionRecord, String) {
    let first = client(emu, None, NORMAL);
    let session_id = first.session_id().to_owned();
    let mut s = new_session(&first, name, Some(BufferMode::Block)).await;
    let mut p = s.start(&big_objects(n)).await.expect("start");
    let (got, record) = read_until_lost_mid_object(emu, &s, &mut p, n, 5).await;
    (got, record, session_id)
}

#[tokio::test]
async fn a_new_reader_from_the_record_goes_on_mid_object_without_loss_or_duplicates() {
    let n: u64 = 60;
    let (emu, service) = start().await;
    let (mut got, record, session_id) = first_reader_lost_mid_object(&emu, "Reread", n).await;
    let dropped = emu.faults().counts().dropped;
    assert_eq!(record.progress.len(), 1, "{:?}", record.progress);
    let progress = &record.progress[0];
    let unanswered = progress.unanswered_sequence;
    let carried: usize = progress.partial_objects.iter().map(|o| o.data.len()).sum();
    assert!(unanswered.is_some(), "the lost Receive is remembered");
    assert!(carried > 0, "an object received in part is carried");
    // The first process ended there.

    // Another process: a new client (the same WS-Man client identity, as `psrm` keeps it in
    // its state directory) and a new session object from the stored record.
    let replayed_before = service.with_core(|core| core.gauges().replayed_receives);
    let second = client(&emu, Some(&session_id), NORMAL);
    let mut again = PsSession::from_record(&second, &record);
    let outputs = again.receive(None).await.expect("receive the rest");
    let replayed = service.with_core(|core| core.gauges().replayed_receives) - replayed_before;
    let read_first = got.len();
    extend_numbers(&mut got, &outputs);
    let (lost, dup) = lost_and_duplicated(&got, n);
    println!(
        "re-read from the record: N {n}, dropped {dropped}, first reader {read_first}, \
         carried {carried} bytes, unanswered {unanswered:?}, replayed to the new client \
         {replayed}: lost {lost}, duplicated {dup}"
    );
    assert_eq!((lost, dup), (0, 0));
    assert_eq!(got, (1..=n).collect::<Vec<_>>(), "in order");
    assert!(
        replayed >= 1,
        "the new client asked for the lost reply again"
    );
    assert!(outputs.iter().all(|o| o.is_completed()), "{outputs:?}");
    assert!(again.record().progress.is_empty(), "nothing left to carry");
    again.remove().await.expect("remove");
    emu.shutdown().await;
}

#[tokio::test]
async fn without_the_carried_progress_the_new_reader_cannot_go_on() {
    // The control of the test above: the same failure, a record stored without its progress
    // (as an older state file would be). The new reader then misses the lost reply and the
    // start of the object in progress.
    let n: u64 = 40;
    let (emu, _service) = start().await;
    let (mut got, record, session_id) = first_reader_lost_mid_object(&emu, "Forgetful", n).await;
    let old_style = record.clone().with_progress(Vec::new());
    let second = client(&emu, Some(&session_id), NORMAL);
    let mut again = PsSession::from_record(&second, &old_style);
    let result = again.receive(None).await;
    let failed = match &result {
        Ok(outputs) => {
            extend_numbers(&mut got, outputs);
            false
        }
        Err(e) => {
            println!("without progress: {e}");
            true
        }
    };
    let (lost, dup) = lost_and_duplicated(&got, n);
    println!("without progress: failed {failed}, lost {lost}, duplicated {dup}");
    assert!(failed || lost > 0, "the gap the record closes is real");
    emu.shutdown().await;
}

#[tokio::test]
async fn old_state_files_without_progress_still_load() {
    let p: CommandProgress =
        serde_json::from_str(r#"{"command_id":"0B5C1A9E-0000-4000-8000-000000000001"}"#)
            .expect("loads");
    assert!(p.is_empty());
    assert_eq!(p.last_sequence, 0);
    let p: CommandProgress = serde_json::from_str("{}").expect("an empty object loads");
    assert!(p.command_id.is_empty() && p.partial_objects.is_empty());
    let bad = serde_json::from_str::<CommandProgress>(
        r#"{"command_id":"X","partial_objects":[{"object_id":1,"next_fragment_id":1,"data":"%%%"}]}"#,
    );
    assert!(bad.is_err(), "malformed base64 is refused: {bad:?}");
}

#[tokio::test]
async fn a_receive_past_its_deadline_is_asked_again_with_its_sequence_id() {
    let n: u64 = 600;
    let (emu, service) = start().await;
    // Deadline: 1 s OperationTimeout + 300 ms grace; the server holds three replies 2.5 s.
    let c = client(
        &emu,
        None,
        (Duration::from_secs(1), Duration::from_millis(300)),
    );
    let mut s = new_session(&c, "Slow", Some(BufferMode::Block)).await;
    let mut p = s
        .start(&Invocation::script(format!("1..{n}")))
        .await
        .expect("start");
    emu.faults().add(
        FaultRule::new("Receive", FaultKind::Delay)
            .delay(Duration::from_millis(2500))
            .every(4)
            .times(3),
    );
    let mut got = Vec::new();
    while let Some(item) = p.next().await.expect("no error reaches the caller") {
        got.extend(number(&item));
    }
    let (lost, dup) = lost_and_duplicated(&got, n);
    let delayed = emu.faults().counts().delayed;
    let replayed = service.with_core(|core| core.gauges().replayed_receives);
    println!(
        "receive deadlines: N {n}, delayed past the deadline {delayed}, replayed {replayed}: \
         lost {lost}, duplicated {dup}"
    );
    assert_eq!(delayed, 3);
    assert!(replayed >= 1, "the late replies were sent again");
    assert_eq!((lost, dup), (0, 0));
    assert_eq!(got, (1..=n).collect::<Vec<_>>());
    assert_eq!(s.state(), SessionState::Opened);
    emu.faults().clear();
    s.remove().await.expect("remove");
    emu.shutdown().await;
}

#[tokio::test]
async fn command_send_and_signal_past_their_deadline_are_never_sent_again() {
    let (emu, _service) = start().await;
    // Deadline 1.7 s (OperationTimeout 1 s + 700 ms grace); the chosen replies come after 3 s.
    let quick = (Duration::from_secs(1), Duration::from_millis(700));
    let slow = Duration::from_millis(3000);
    let c = client(&emu, None, quick);
    let mut s = new_session(&c, "Once", None).await;

    // Command: the server starts it, its reply comes too late.
    emu.faults().add(
        FaultRule::new("Command", FaultKind::Delay)
            .delay(slow)
            .nth(1),
    );
    let before = emu.faults().counts().requests;
    let err = s
        .start(&Invocation::script("'ran'"))
        .await
        .expect_err("the reply is late");
    assert!(err.is_timeout(), "a timeout: {err}");
    assert_eq!(emu.faults().counts().requests - before, 1, "sent once");
    assert_eq!(s.state(), SessionState::Disconnected);
    assert_eq!(s.record().state, SessionState::Disconnected);
    emu.faults().clear();
    tokio::time::sleep(slow).await;
    s.reconnect(None).await.expect("reconnect");
    let commands = PsSession::enumerate(&c)
        .await
        .expect("enumerate")
        .into_iter()
        .find(|r| r.name == "Once")
        .expect("listed")
        .commands
        .len();
    assert_eq!(commands, 1, "one command on the server");

    // Send: the input (sent right after the Command) arrives once although its reply was late.
    emu.faults()
        .add(FaultRule::new("Send", FaultKind::Delay).delay(slow).nth(1));
    let before = emu.faults().counts().requests;
    let err = s
        .start(
            &Invocation::script("$input | ForEach-Object { $_ * 10 }")
                .input([1i32.into(), 2i32.into()]),
        )
        .await
        .expect_err("the Send's reply is late");
    assert!(err.is_timeout(), "{err}");
    assert_eq!(
        emu.faults().counts().requests - before,
        2,
        "one Command, one Send"
    );
    assert_eq!(s.state(), SessionState::Disconnected);
    emu.faults().clear();
    tokio::time::sleep(slow).await;
    s.reconnect(None).await.expect("reconnect");
    let id = s
        .pending_commands()
        .last()
        .cloned()
        .expect("the command is kept");
    let mut p = s.attach(&id).expect("attach");
    let mut outs = Vec::new();
    while let Some(item) = p.next().await.expect("next") {
        if let StreamItem::Output(v) = item {
            outs.push(value_text(&v));
        }
    }
    assert_eq!(outs, ["10", "20"], "each input once");

    // Signal: the stop is made once; the session is then Disconnected for this client.
    let p = s
        .start(&Invocation::script("Start-Sleep -Seconds 30; 'late'"))
        .await
        .expect("start");
    emu.faults().add(
        FaultRule::new("Signal", FaultKind::Delay)
            .delay(slow)
            .nth(1),
    );
    let before = emu.faults().counts().requests;
    let err = p.stopper().stop().await.expect_err("the reply is late");
    assert!(err.is_timeout(), "{err}");
    assert_eq!(emu.faults().counts().requests - before, 1, "sent once");
    assert_eq!(s.state(), SessionState::Disconnected);
    let delayed = emu.faults().counts().delayed;
    println!("command/send/signal past their deadline: delayed {delayed}, each sent once");
    assert_eq!(delayed, 3);
    emu.faults().clear();
    tokio::time::sleep(slow).await;
    s.reconnect(None).await.expect("reconnect");
    let out = p.collect().await.expect("the stopped pipeline ends");
    assert!(
        out.output_lines().is_empty(),
        "stopped before 'late': {out:?}"
    );
    s.remove().await.expect("remove");
    emu.shutdown().await;
}
