//! The service core keeps the last Receive reply of each command: a Receive that repeats its
//! `p:SequenceId` (the client lost the reply) gets the same output again, a new SequenceId gets
//! what follows, and a Receive without one never replays.

mod service_support;

use std::time::{Duration, Instant};

use emulator::service::Outcome;
use service_support::*;
use wsman::shell::{CommandState, Receive, ReceiveResponse};
use wsman::{Action, Body, CommandId, ShellId, ns};

fn receive_seq(
    svc: &mut emulator::service::Service,
    who: &emulator::service::Caller,
    shell: &ShellId,
    cmd: &CommandId,
    sequence: Option<u64>,
) -> Outcome {
    receive_seq_in(svc, who, shell, cmd, sequence, false)
}

/// As [`receive_seq`], the SequenceId as the rsp:Receive attribute when `attribute`, else as
/// the `p:SequenceId` header.
fn receive_seq_in(
    svc: &mut emulator::service::Service,
    who: &emulator::service::Caller,
    shell: &ShellId,
    cmd: &CommandId,
    sequence: Option<u64>,
    attribute: bool,
) -> Outcome {
    let mut e = on(Action::Receive, ns::RESOURCE_CMD, shell).body(Body::Receive(Receive {
        command_id: Some(cmd.clone()),
        streams: vec!["stdout".into(), "stderr".into()],
        sequence_id: sequence.filter(|_| attribute),
    }));
    e.header.sequence_id = sequence.filter(|_| !attribute);
    let mut outcome = svc.handle(Instant::now(), who, e);
    let started = Instant::now();
    while let Outcome::Wait(id) = outcome {
        assert!(started.elapsed() < Duration::from_secs(10), "no output");
        std::thread::sleep(Duration::from_millis(5));
        if let Some(r) = svc.resume(Instant::now(), id) {
            outcome = Outcome::Reply(r);
        }
    }
    outcome
}

fn response(outcome: Outcome) -> ReceiveResponse {
    match ok(outcome).body {
        Body::ReceiveResponse(r) => r,
        other => panic!("unexpected {other:?}"),
    }
}

fn done(r: &ReceiveResponse) -> bool {
    r.command_state
        .as_ref()
        .is_some_and(|s| s.state == CommandState::Done)
}

fn start(svc: &mut emulator::service::Service, line: &str) -> (ShellId, CommandId) {
    let now = Instant::now();
    let shell = create_cmd(svc, now, &alice());
    let cmd = command_id(command(svc, now, &alice(), ns::RESOURCE_CMD, &shell, line));
    (shell, cmd)
}

#[test]
fn a_repeated_sequence_id_gets_the_same_reply_and_a_new_one_moves_on() {
    let (mut svc, _) = service("");
    let (shell, cmd) = start(&mut svc, "echo one & echo two & echo three");
    let mut out = Vec::new();
    let mut pairs = 0;
    for seq in 1.. {
        let first = response(receive_seq(&mut svc, &alice(), &shell, &cmd, Some(seq)));
        // The reply was lost: the same SequenceId gets it again.
        let again = response(receive_seq(&mut svc, &alice(), &shell, &cmd, Some(seq)));
        assert_eq!(again, first, "replay of {seq}");
        pairs += 1;
        out.extend(first.stream_bytes("stdout"));
        if done(&first) {
            break;
        }
    }
    let text = String::from_utf8_lossy(&out);
    for word in ["one", "two", "three"] {
        assert_eq!(
            text.matches(word).count(),
            1,
            "{word} exactly once: {text:?}"
        );
    }
    assert_eq!(svc.gauges().replayed_receives, pairs);
    // A new SequenceId acknowledges the last reply: nothing of it comes again (WinRS keeps a
    // finished command until it is terminated, answering Done with no output).
    let after = response(receive_seq(&mut svc, &alice(), &shell, &cmd, Some(1000)));
    assert!(
        after.stream_bytes("stdout").is_empty() && done(&after),
        "{after:?}"
    );
}

#[test]
fn without_a_sequence_id_nothing_is_replayed() {
    let (mut svc, _) = service("");
    let (shell, cmd) = start(&mut svc, "echo once");
    let mut out = Vec::new();
    loop {
        let r = response(receive_seq(&mut svc, &alice(), &shell, &cmd, None));
        out.extend(r.stream_bytes("stdout"));
        if done(&r) {
            break;
        }
    }
    assert!(String::from_utf8_lossy(&out).contains("once"));
    let after = response(receive_seq(&mut svc, &alice(), &shell, &cmd, None));
    assert!(after.stream_bytes("stdout").is_empty(), "{after:?}");
    assert_eq!(svc.gauges().replayed_receives, 0);
}

#[test]
fn another_user_cannot_replay_a_reply() {
    let (mut svc, _) = service("");
    let (shell, cmd) = start(&mut svc, "echo secret");
    response(receive_seq(&mut svc, &alice(), &shell, &cmd, Some(1)));
    fault(
        receive_seq(&mut svc, &bob(), &shell, &cmd, Some(1)),
        "AccessDenied",
        Some(5),
    );
    assert_eq!(svc.gauges().replayed_receives, 0);
}

#[test]
fn the_sequence_id_attribute_of_rsp_receive_replays_too() {
    let (mut svc, _) = service("");
    let (shell, cmd) = start(&mut svc, "echo one & echo two & echo three");
    let mut out = Vec::new();
    for seq in 1.. {
        let first = response(receive_seq_in(
            &mut svc,
            &alice(),
            &shell,
            &cmd,
            Some(seq),
            true,
        ));
        let again = response(receive_seq_in(
            &mut svc,
            &alice(),
            &shell,
            &cmd,
            Some(seq),
            true,
        ));
        assert_eq!(again, first, "replay of {seq}");
        out.extend(first.stream_bytes("stdout"));
        if done(&first) {
            break;
        }
    }
    let text = String::from_utf8_lossy(&out);
    for word in ["one", "two", "three"] {
        assert_eq!(text.matches(word).count(), 1, "{word} once: {text}");
    }
}
