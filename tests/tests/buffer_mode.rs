//! OutputBufferingMode set at creation, at reconnect and at connect (SPEC A1), against the
//! in-process emulator over loopback HTTP.
//!
//! Each case disconnects with a Disconnect that names no mode, so the mode in force is the one
//! set earlier: by the Create body, by a Reconnect body (kept by the server), or by a client
//! that connected with a mode (kept by the client, since a Connect body cannot carry one, and
//! sent with its next Disconnect).
//!
//! The command writes 2000 rows (far more than the 16 KB output buffer), then sleeps 2 s and
//! writes `end`. Under `Drop` it runs to its end while disconnected: the receive after the wait
//! is quick, ends with `end`, and holds only the newest rows. Under `Block` it is suspended
//! when the buffer is full: nothing is lost, and the receive lasts at least the 2 s sleep,
//! which only starts once the rows are read.

use std::time::{Duration, Instant};

use emulator::Emulator;
use sessions::pssession::{
    DisconnectOptions, Invocation, InvokeOutput, PsSession, RemoteSession, SessionRecord,
    SessionState, resource_uri,
};
use sessions::{AuthMethod, ClientOptions, WsManClient};
use tests::emu::{HOST, alice_client, config, new_session};
use wsman::shell::{BufferMode, Disconnect, Reconnect};

const ROWS: usize = 2000;
const SLEEP: Duration = Duration::from_millis(2000);
/// How long the session stays disconnected before it is received.
const AWAY: Duration = Duration::from_millis(4000);

fn heavy() -> Invocation {
    Invocation::script(format!(
        "1..{ROWS} | ForEach-Object {{ \"row $_ ..........................................\" }}; Start-Sleep -Milliseconds {}; 'end'",
        SLEEP.as_millis()
    ))
}

async fn start() -> Emulator {
    let config = config(
        "admin = true\n",
        "min_idle_timeout_ms = 500\noutput_buffer_size_kb = 16\n",
    );
    tests::emu::start(config).await.0
}

fn client_with(emu: &Emulator, session_id: Option<&str>) -> WsManClient {
    let mut options = ClientOptions::default().operation_timeout(Duration::from_secs(2));
    if let Some(id) = session_id {
        options = options.session_id(id.to_owned());
    }
    alice_client(emu, AuthMethod::Basic, None, options)
}

fn client(emu: &Emulator) -> WsManClient {
    client_with(emu, None)
}

async fn remote(c: &WsManClient, name: &str) -> RemoteSession {
    PsSession::enumerate(c)
        .await
        .expect("enumerate")
        .into_iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("session {name} is listed"))
}

/// Asserts the server lists the session `name` with the buffer mode `expected`.
async fn assert_listed_mode(c: &WsManClient, name: &str, expected: Option<BufferMode>, why: &str) {
    assert_eq!(remote(c, name).await.buffer_mode, expected, "{why}");
}

/// A Disconnect through the session (its own or the remembered mode, no idle timeout).
async fn disconnect(s: &mut PsSession) {
    s.disconnect(DisconnectOptions::default())
        .await
        .expect("disconnect");
}

/// A Disconnect whose body carries neither BufferMode nor IdleTimeOut, as a client that never
/// chose a mode sends it.
async fn bare_disconnect(c: &WsManClient, s: &PsSession) {
    c.disconnect(
        &resource_uri(s.configuration_name()),
        s.shell_id(),
        Disconnect::default(),
    )
    .await
    .expect("disconnect");
}

/// This client's session in "another process": from a record that remembers no mode.
fn forgetful(c: &WsManClient, s: &PsSession) -> PsSession {
    let mut record: SessionRecord = s.record();
    record.state = SessionState::Disconnected;
    record.output_buffering_mode = None;
    PsSession::from_record(c, &record)
}

/// What a receive after [`AWAY`] brought back.
#[derive(Debug)]
struct Seen {
    lines: Vec<String>,
    took: Duration,
}

async fn receive_later(s: &mut PsSession) -> Seen {
    tokio::time::sleep(AWAY).await;
    let started = Instant::now();
    let outs = s.receive(None).await.expect("receive");
    let took = started.elapsed();
    Seen {
        lines: lines(&outs),
        took,
    }
}

fn lines(outs: &[InvokeOutput]) -> Vec<String> {
    outs.iter().flat_map(InvokeOutput::output_lines).collect()
}

fn row_number(line: &str) -> Option<usize> {
    line.strip_prefix("row ")?.split(' ').next()?.parse().ok()
}

/// Drop: the command ran to its end while disconnected, the oldest rows were lost and the newest kept, in order, without a gap.
fn assert_drop(what: &str, seen: &Seen) {
    let rows: Vec<usize> = seen.lines.iter().filter_map(|l| row_number(l)).collect();
    assert_eq!(
        seen.lines.last().map(String::as_str),
        Some("end"),
        "{what}: the command ran to its end"
    );
    assert!(
        rows.len() < ROWS,
        "{what}: Drop discards the oldest rows, kept {} of {ROWS}",
        rows.len()
    );
    assert_eq!(rows.last(), Some(&ROWS), "{what}: the newest row stays");
    assert!(
        rows.first().is_some_and(|&n| n > 1),
        "{what}: the oldest rows went: {:?}",
        rows.first()
    );
    assert!(
        rows.windows(2).all(|w| matches!(w, [a, b] if a + 1 == *b)),
        "{what}: the kept rows are the newest ones, in order"
    );
    // No upper bound on `seen.took`: a loaded machine may be slow, and the lost oldest rows
    // with `end` present already show the command ran on while disconnected.
}

/// Block: nothing lost, and the command was suspended while disconnected (its sleep only ran
/// once the rows were read, during the receive).
fn assert_block(what: &str, seen: &Seen) {
    let rows: Vec<usize> = seen.lines.iter().filter_map(|l| row_number(l)).collect();
    assert_eq!(rows, (1..=ROWS).collect::<Vec<_>>(), "{what}: nothing lost");
    assert_eq!(seen.lines.last().map(String::as_str), Some("end"), "{what}");
    assert!(
        seen.took >= SLEEP,
        "{what}: the command was suspended while disconnected (receive took {:?})",
        seen.took
    );
}

/// A new session named `name` (no mode chosen), disconnected by its own client.
async fn created_and_disconnected(c: &WsManClient, name: &str) -> PsSession {
    let mut s = new_session(c, name, None).await;
    disconnect(&mut s).await;
    s
}

/// Starts [`heavy`], disconnects naming no mode, and hands the session to "another process"
/// that remembers no mode either.
async fn run_heavy_then_bare_disconnect(c: &WsManClient, s: &mut PsSession) -> PsSession {
    drop(s.start(&heavy()).await.expect("start"));
    bare_disconnect(c, s).await;
    forgetful(c, s)
}

/// `one` creates and disconnects a session named `name`; `two` connects to it asking for Drop.
async fn connected_by_another_with_drop(
    one: &WsManClient,
    two: &WsManClient,
    name: &str,
) -> PsSession {
    drop(created_and_disconnected(one, name).await);
    let r = remote(two, name).await;
    PsSession::connect_with_mode(two, HOST, &r, Some(BufferMode::Drop))
        .await
        .expect("connect")
}

async fn remove_and_shut_down(s: PsSession, emu: Emulator) {
    s.remove().await.expect("remove");
    emu.shutdown().await;
}

#[tokio::test]
async fn drop_set_at_creation_applies_to_a_disconnect_that_names_no_mode() {
    let emu = start().await;
    let c = client(&emu);
    let mut s = new_session(&c, "CreatedDrop", Some(BufferMode::Drop)).await;
    assert_listed_mode(
        &c,
        "CreatedDrop",
        Some(BufferMode::Drop),
        "the server took the mode from the Create body and lists it",
    )
    .await;
    let mut s = run_heavy_then_bare_disconnect(&c, &mut s).await;
    let seen = receive_later(&mut s).await;
    assert_drop("Drop at creation", &seen);
    remove_and_shut_down(s, emu).await;
}

#[tokio::test]
async fn block_set_at_creation_suspends_the_command() {
    let emu = start().await;
    let c = client(&emu);
    let mut s = new_session(&c, "CreatedBlock", Some(BufferMode::Block)).await;
    assert_listed_mode(&c, "CreatedBlock", Some(BufferMode::Block), "").await;
    let mut s = run_heavy_then_bare_disconnect(&c, &mut s).await;
    let seen = receive_later(&mut s).await;
    assert_block("Block at creation", &seen);
    remove_and_shut_down(s, emu).await;
}

#[tokio::test]
async fn drop_set_at_reconnect_applies_to_the_next_disconnect() {
    let emu = start().await;
    let c = client(&emu);
    let mut s = created_and_disconnected(&c, "Reconnected").await;
    assert_listed_mode(
        &c,
        "Reconnected",
        Some(BufferMode::Block),
        "the configuration's default",
    )
    .await;
    s.reconnect(Some(BufferMode::Drop))
        .await
        .expect("reconnect");
    assert_listed_mode(
        &c,
        "Reconnected",
        Some(BufferMode::Drop),
        "the Reconnect body carried the mode",
    )
    .await;
    assert_eq!(s.record().output_buffering_mode, Some(BufferMode::Drop));
    // The server keeps it: a Disconnect naming no mode applies it.
    let mut again = run_heavy_then_bare_disconnect(&c, &mut s).await;
    let seen = receive_later(&mut again).await;
    assert_drop("Drop at reconnect, bare disconnect", &seen);
    // The client keeps it too: with the server's mode set back to Block behind its back, its
    // own next disconnect that names no mode sends Drop again.
    c.reconnect(
        &resource_uri(s.configuration_name()),
        s.shell_id(),
        Reconnect {
            command_id: None,
            buffer_mode: Some(BufferMode::Block),
        },
    )
    .await
    .expect("reconnect by the same client");
    assert_listed_mode(&c, "Reconnected", Some(BufferMode::Block), "").await;
    disconnect(&mut s).await;
    assert_listed_mode(
        &c,
        "Reconnected",
        Some(BufferMode::Drop),
        "the client sent the mode it chose at reconnect",
    )
    .await;
    remove_and_shut_down(s, emu).await;
}

#[tokio::test]
async fn a_reconnect_without_a_mode_keeps_the_one_in_force() {
    let emu = start().await;
    let c = client(&emu);
    let s = new_session(&c, "Kept", Some(BufferMode::Drop)).await;
    bare_disconnect(&c, &s).await;
    let mut s = forgetful(&c, &s);
    s.reconnect(None).await.expect("reconnect");
    assert_listed_mode(
        &c,
        "Kept",
        Some(BufferMode::Drop),
        "an empty Reconnect body changes nothing",
    )
    .await;
    remove_and_shut_down(s, emu).await;
}

#[tokio::test]
async fn drop_given_at_connect_by_another_client_applies_at_its_disconnect() {
    let emu = start().await;
    let one = client(&emu);
    let two = client(&emu);
    let mut other = connected_by_another_with_drop(&one, &two, "Taken").await;
    assert_listed_mode(
        &two,
        "Taken",
        Some(BufferMode::Block),
        "a Connect body carries no mode: the server's is unchanged until the disconnect",
    )
    .await;
    assert_eq!(other.record().output_buffering_mode, Some(BufferMode::Drop));
    drop(other.start(&heavy()).await.expect("start"));
    disconnect(&mut other).await;
    assert_listed_mode(
        &two,
        "Taken",
        Some(BufferMode::Drop),
        "the client sent the mode it connected with",
    )
    .await;
    let seen = receive_later(&mut other).await;
    assert_drop("Drop at connect", &seen);
    remove_and_shut_down(other, emu).await;
}

#[tokio::test]
async fn a_mode_given_at_connect_survives_in_the_record_for_another_process() {
    let emu = start().await;
    let one = client(&emu);
    let two = client(&emu);
    let mut first_process = connected_by_another_with_drop(&one, &two, "Handed").await;
    drop(first_process.start(&heavy()).await.expect("start"));
    let record = first_process.record();
    drop(first_process);
    // Another process of the same client (same SessionId) disconnects naming no mode.
    let two_again = client_with(&emu, Some(two.session_id()));
    let mut second_process = PsSession::from_record(&two_again, &record);
    disconnect(&mut second_process).await;
    assert_listed_mode(&two_again, "Handed", Some(BufferMode::Drop), "").await;
    let seen = receive_later(&mut second_process).await;
    assert_drop("Drop at connect, disconnected by another process", &seen);
    remove_and_shut_down(second_process, emu).await;
}
