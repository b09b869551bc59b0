//! The service never panics on peer input: mutated and truncated requests, bodies that do not
//! match their action, and arbitrary bytes all get a SOAP reply that decodes.

mod service_support;

use std::time::{Duration, Instant};

use proptest::prelude::*;
use service_support::*;
use wsman::shell::{CommandLine, Receive, Shell, SignalCode};
use wsman::{Action, Body, Envelope, ShellId, ns};

/// Valid requests of every kind against one shell, as bytes.
fn corpus(shell: &ShellId) -> Vec<String> {
    let bodies = vec![
        (Action::Get, ns::RESOURCE_CONFIG, Body::Get),
        (Action::Get, ns::RESOURCE_SHELLS, Body::Get),
        (
            Action::Create,
            ns::RESOURCE_CMD,
            Body::Create(Box::new(Shell {
                idle_timeout: Some(Duration::from_secs(600)),
                environment: vec![("A".into(), "b".into())],
                ..Shell::default()
            })),
        ),
        (
            Action::Command,
            ns::RESOURCE_CMD,
            Body::Command(CommandLine {
                command_id: None,
                command: Some("echo".into()),
                arguments: vec!["x".into()],
            }),
        ),
        (
            Action::Receive,
            ns::RESOURCE_CMD,
            Body::Receive(Receive {
                command_id: None,
                streams: vec!["stdout".into()],
                ..Default::default()
            }),
        ),
        (
            Action::Signal,
            ns::RESOURCE_CMD,
            signal_body(None, SignalCode::CtrlC),
        ),
        (
            Action::Disconnect,
            ns::RESOURCE_CMD,
            disconnect_body(Some(Duration::from_secs(90)), None),
        ),
        (Action::Reconnect, ns::RESOURCE_CMD, reconnect_body()),
        (Action::Connect, PS_URI, connect_body()),
        (
            Action::Enumerate,
            ns::RESOURCE_SHELLS,
            enumerate_body(true, Some(1), None),
        ),
        (
            Action::Enumerate,
            ns::RESOURCE_COMMANDS,
            enumerate_body(false, None, Some(shell)),
        ),
        (Action::Delete, ns::RESOURCE_CMD, Body::Delete),
    ];
    bodies
        .into_iter()
        .map(|(a, uri, b)| on(a, uri, shell).body(b).encode())
        .collect()
}

fn check(svc: &mut emulator::service::Service, bytes: &[u8]) {
    let outcome = svc.handle_bytes(Instant::now(), &bob(), bytes);
    if let emulator::service::Outcome::Wait(id) = outcome {
        // A parked receive: time it out.
        let (_, deadline) = svc.wait_info(id).expect("parked");
        let r = svc.resume(deadline, id).expect("times out at its deadline");
        Envelope::decode(&r.body).expect("reply decodes");
        return;
    }
    let r = reply(outcome);
    assert!(matches!(r.status, 200 | 400 | 500), "{}", r.status);
    Envelope::decode(&r.body).expect("reply decodes");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn mutated_requests_never_panic(
        which in 0usize..12,
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
    ) {
        let (mut svc, _) = service("[service]\nmax_timeout_ms = 10\n");
        let shell = create_cmd(&mut svc, Instant::now(), &bob());
        let corpus = corpus(&shell);
        let mut bytes = corpus[which % corpus.len()].clone().into_bytes();
        for (at, b) in flips {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        check(&mut svc, &bytes);
        let keep = cut.index(bytes.len() + 1);
        bytes.truncate(keep);
        check(&mut svc, &bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let (mut svc, _) = service("");
        check(&mut svc, &bytes);
    }
}

#[test]
fn every_action_with_every_body_gets_an_answer() {
    let (mut svc, _) = service("[service]\nmax_timeout_ms = 10\n");
    let shell = create_cmd(&mut svc, Instant::now(), &bob());
    let actions = Action::ALL.to_vec();
    let bodies: Vec<Body> = corpus(&shell)
        .iter()
        .map(|t| Envelope::decode(t).expect("decodes").body)
        .collect();
    for action in &actions {
        for body in &bodies {
            for uri in [
                ns::RESOURCE_CMD,
                ns::RESOURCE_SHELLS,
                PS_URI,
                ns::RESOURCE_CONFIG,
                "urn:x",
            ] {
                let e = on(action.clone(), uri, &shell).body(body.clone());
                check(&mut svc, e.encode().as_bytes());
            }
        }
    }
}
