use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use uuid::Uuid;

use super::*;
use crate::fragment::MIN_ROOM;
use crate::messages::Payload;

/// A client and a server wired in memory, moving payloads of at most `room` bytes.
struct Pair {
    client: RunspacePool,
    server: RunspacePool,
    room: usize,
}

impl Pair {
    fn new(room: usize) -> Self {
        let id = RunspacePoolId(Uuid::from_u128(0x1234));
        let data = app_data();
        Self {
            client: RunspacePool::client(id, 1, 4),
            server: RunspacePool::server(id, data),
            room,
        }
    }

    /// Moves payloads both ways until neither side has anything to send.
    fn drive(&mut self) {
        loop {
            let mut moved = false;
            while let Some(p) = self.client.poll_transmit(self.room) {
                assert!(p.len() <= self.room);
                self.server.receive(&p).unwrap();
                moved = true;
            }
            while let Some(p) = self.server.poll_transmit(self.room) {
                self.client.receive(&p).unwrap();
                moved = true;
            }
            if !moved {
                break;
            }
        }
    }
}

fn app_data() -> ApplicationPrivateData {
    ApplicationPrivateData {
        data: PsPrimitiveDictionary {
            entries: vec![(Value::string("PSVersionTable"), Value::string("5.1"))],
        },
    }
}

fn events(pool: &mut RunspacePool) -> Vec<Event> {
    std::iter::from_fn(|| pool.poll_event()).collect()
}

#[test]
fn open_negotiates_and_reaches_opened_on_both_sides() {
    for room in [MIN_ROOM, 100, 153_600] {
        let mut pair = Pair::new(room);
        pair.client.open().unwrap();
        assert_eq!(pair.client.state(), RunspacePoolState::NEGOTIATION_SENT);
        pair.drive();
        assert_eq!(pair.client.state(), RunspacePoolState::OPENED);
        assert_eq!(pair.server.state(), RunspacePoolState::OPENED);
        assert_eq!(pair.server.runspaces(), (1, 4));
        assert_eq!(
            pair.client.peer_capability(),
            Some(&SessionCapability::default())
        );

        let server_events = events(&mut pair.server);
        assert!(matches!(
            &server_events[1],
            Event::InitRunspacePool(init) if (init.min_runspaces, init.max_runspaces) == (1, 4)
        ));
        assert_eq!(
            server_events.last(),
            Some(&Event::StateChanged(RunspacePoolState::OPENED))
        );
        let client_events = events(&mut pair.client);
        assert_eq!(
            client_events,
            vec![
                Event::StateChanged(RunspacePoolState::NEGOTIATION_SENT),
                Event::SessionCapability(SessionCapability::default()),
                Event::StateChanged(RunspacePoolState::NEGOTIATION_SUCCEEDED),
                Event::ApplicationPrivateData(app_data().data),
                Event::StateChanged(RunspacePoolState::OPENED),
            ]
        );
    }
}

#[test]
fn key_exchange_gives_both_sides_the_same_key() {
    let mut pair = Pair::new(153_600);
    pair.client.open().unwrap();
    pair.drive();
    let mut rng = ChaCha20Rng::from_seed([9; 32]);
    let exchange = ExchangeKey::generate_with_bits(&mut rng, 1024).unwrap();
    pair.client.request_session_key(exchange).unwrap();
    pair.drive();
    assert!(events(&mut pair.server).contains(&Event::PublicKeyReceived));
    let key = SessionKey::generate(&mut rng);
    pair.server.send_session_key(key.clone(), &mut rng).unwrap();
    pair.drive();
    assert!(events(&mut pair.client).contains(&Event::SessionKeyReady));
    assert_eq!(pair.client.session_key(), Some(&key));
    assert_eq!(pair.server.session_key(), Some(&key));
    // A SecureString made by one side reads on the other.
    let ss = pair
        .client
        .session_key()
        .unwrap()
        .encrypt_secure_string("pa55");
    assert_eq!(
        pair.server
            .session_key()
            .unwrap()
            .decrypt_secure_string(&ss)
            .unwrap(),
        "pa55"
    );
}

#[test]
fn server_close_reaches_client() {
    let mut pair = Pair::new(1000);
    pair.client.open().unwrap();
    pair.drive();
    pair.server.close().unwrap();
    pair.drive();
    assert_eq!(pair.client.state(), RunspacePoolState::CLOSED);
    assert!(pair.server.close().is_err());
}

#[test]
fn usage_errors_name_the_state() {
    let id = RunspacePoolId::NIL;
    let mut client = RunspacePool::client(id, 1, 1);
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let key = ExchangeKey::generate_with_bits(&mut rng, 1024).unwrap();
    assert!(matches!(
        client.request_session_key(key),
        Err(PoolError::InvalidState {
            action: "request_session_key",
            current: RunspacePoolState::BEFORE_OPEN,
            ..
        })
    ));
    client.open().unwrap();
    assert!(matches!(client.open(), Err(PoolError::InvalidState { .. })));
    let mut server = RunspacePool::server(id, app_data());
    assert!(matches!(server.open(), Err(PoolError::WrongSide { .. })));
    assert!(matches!(
        server.send_session_key(SessionKey::from_bytes([0; 32]), &mut rng),
        Err(PoolError::InvalidState { .. })
    ));
}

#[test]
fn out_of_order_message_breaks_the_pool() {
    let id = RunspacePoolId::NIL;
    let mut server = RunspacePool::server(id, app_data());
    // A client that skips SESSION_CAPABILITY: INIT_RUNSPACEPOOL first.
    let mut client = RunspacePool::client(id, 1, 1);
    client.open().unwrap();
    let mut all = Vec::new();
    while let Some(p) = client.poll_transmit(usize::MAX) {
        all.extend(p);
    }
    // Drop the first fragment (SESSION_CAPABILITY, one fragment at this room).
    let (_, rest) = crate::fragment::Fragment::decode(&all).unwrap();
    let err = server.receive(rest).unwrap_err();
    assert!(matches!(
        err,
        PoolError::Unexpected {
            message_type: MessageType::INIT_RUNSPACEPOOL,
            ..
        }
    ));
    assert_eq!(server.state(), RunspacePoolState::BROKEN);
}

#[test]
fn disconnect_then_connect_from_a_new_client_reattaches_a_pipeline() {
    use crate::fragment::ObjectId;
    use crate::messages::CreatePipeline;
    use crate::pipeline::{self, Pipeline};
    use crate::records::{Command, PowerShellPipeline, PsInvocationState, RemoteStreamOptions};

    let mut pair = Pair::new(153_600);
    pair.client.open().unwrap();
    pair.drive();
    let pool_id = pair.client.id();
    let pid = PipelineId(Uuid::from_u128(0x77));
    let create = CreatePipeline {
        no_input: true,
        apartment_state: ApartmentState::UNKNOWN,
        remote_stream_options: RemoteStreamOptions::NONE,
        add_to_history: false,
        host_info: HostInfo::default(),
        power_shell: PowerShellPipeline::new(vec![Command::new("Get-Process", false)]),
        is_nested: false,
    };
    let mut client_pipe = Pipeline::client(pool_id, pid, create, ObjectId(100));
    let mut server_pipe = Pipeline::server(pool_id, pid, ObjectId(1));
    client_pipe.start().unwrap();
    while let Some(p) = client_pipe.poll_transmit(153_600) {
        server_pipe.receive(&p).unwrap();
    }
    server_pipe
        .write(Payload::PipelineOutput(Value::from("before")))
        .unwrap();
    while let Some(p) = server_pipe.poll_transmit(153_600) {
        client_pipe.receive(&p).unwrap();
    }

    // Disconnect: the old client goes away; the server keeps running the pipeline.
    pair.client.disconnect().unwrap();
    pair.server.disconnect().unwrap();
    assert_eq!(pair.server.state(), RunspacePoolState::DISCONNECTED);
    server_pipe
        .write(Payload::PipelineOutput(Value::from("while away")))
        .unwrap();
    server_pipe
        .finish(PsInvocationState::COMPLETED, None)
        .unwrap();
    drop(client_pipe);

    // A new client role connects to the same pool.
    pair.client = RunspacePool::client(pool_id, 1, 1);
    pair.client.connect().unwrap();
    assert_eq!(pair.client.state(), RunspacePoolState::CONNECTING);
    pair.drive();
    assert_eq!(pair.client.state(), RunspacePoolState::OPENED);
    assert_eq!(pair.server.state(), RunspacePoolState::OPENED);
    assert_eq!(pair.client.runspaces(), (1, 4));
    assert!(events(&mut pair.client).contains(&Event::ApplicationPrivateData(app_data().data)));

    // Reattach the pipeline and receive what was produced meanwhile.
    let mut again = Pipeline::reattach(pool_id, pid, ObjectId(200));
    while let Some(p) = server_pipe.poll_transmit(153_600) {
        again.receive(&p).unwrap();
    }
    let got: Vec<_> = std::iter::from_fn(|| again.poll_event()).collect();
    assert_eq!(
        got,
        vec![
            pipeline::Event::Output(Value::from("while away")),
            pipeline::Event::StateChanged(PsInvocationState::COMPLETED, None),
        ]
    );
}

#[test]
fn runspace_requests_and_pool_host_calls_round_trip() {
    use crate::messages::{AvailabilityResponse, HostCall, HostResponse};
    use crate::records::RemoteHostMethodId;

    let mut pair = Pair::new(500);
    pair.client.open().unwrap();
    pair.drive();
    events(&mut pair.client);
    events(&mut pair.server);

    pair.client.set_max_runspaces(8, 11).unwrap();
    pair.client.set_min_runspaces(2, 12).unwrap();
    pair.client.get_available_runspaces(13).unwrap();
    pair.client.reset_runspace_state(14).unwrap();
    pair.drive();
    let got = events(&mut pair.server);
    assert_eq!(got.len(), 4);
    assert!(
        matches!(&got[0], Event::SetMaxRunspaces(r) if (r.max_runspaces, r.call_id) == (8, 11))
    );
    assert!(
        matches!(&got[1], Event::SetMinRunspaces(r) if (r.min_runspaces, r.call_id) == (2, 12))
    );
    assert!(matches!(&got[2], Event::GetAvailableRunspaces(r) if r.call_id == 13));
    assert!(matches!(&got[3], Event::ResetRunspaceState(r) if r.call_id == 14));

    pair.server
        .answer_availability(11, AvailabilityResponse::Success(true))
        .unwrap();
    pair.server
        .answer_availability(12, AvailabilityResponse::Success(false))
        .unwrap();
    pair.server
        .answer_availability(13, AvailabilityResponse::Count(6))
        .unwrap();
    pair.server
        .answer_availability(14, AvailabilityResponse::Success(true))
        .unwrap();
    assert!(
        pair.server
            .answer_availability(99, AvailabilityResponse::Success(true))
            .is_err()
    );
    pair.drive();
    // The successful set is applied on both sides; the refused one on neither.
    assert_eq!(pair.client.runspaces(), (1, 8));
    assert_eq!(pair.server.runspaces(), (1, 8));
    let got = events(&mut pair.client);
    assert_eq!(got.len(), 4);
    assert!(matches!(
        &got[2],
        Event::RunspaceAvailability(a) if a.call_id == 13 && a.response == AvailabilityResponse::Count(6)
    ));

    let call = HostCall {
        call_id: 5,
        method: RemoteHostMethodId::READ_LINE,
        parameters: Vec::new(),
    };
    pair.server.host_call(call.clone()).unwrap();
    pair.drive();
    assert_eq!(events(&mut pair.client), vec![Event::HostCall(call)]);
    let answer = HostResponse {
        call_id: 5,
        method: RemoteHostMethodId::READ_LINE,
        return_value: Some(Value::string("typed")),
        error: None,
    };
    pair.client.host_response(answer.clone()).unwrap();
    pair.drive();
    assert_eq!(
        events(&mut pair.server),
        vec![Event::HostResponse(answer.clone())]
    );
    // A call with id -100 expects no reply.
    let no_reply = HostResponse {
        call_id: NO_REPLY_CALL_ID,
        ..answer
    };
    assert!(matches!(
        pair.client.host_response(no_reply),
        Err(PoolError::InvalidState { .. })
    ));
}

#[test]
fn user_event_reaches_the_client() {
    use crate::fragment::Fragmenter;
    use crate::messages::UserEvent;

    let mut pair = Pair::new(500);
    pair.client.open().unwrap();
    pair.drive();
    events(&mut pair.client);
    let event = UserEvent {
        event_identifier: 1,
        source_identifier: "Timer".into(),
        time_generated: "2026-11-22T17:00:00+00:00".into(),
        sender: Value::Nil,
        source_args: Value::Nil,
        message_data: Value::string("tick"),
        computer_name: None,
        runspace_id: Uuid::from_u128(3),
    };
    // The server role has no verb for it yet: build the message by hand.
    let body = Payload::UserEvent(Box::new(event.clone())).encode();
    let msg = Message::new(
        Destination::CLIENT,
        MessageType::USER_EVENT,
        pair.client.id(),
        PipelineId::NIL,
        body,
    );
    let mut f = Fragmenter::with_first_object_id(crate::fragment::ObjectId(1000));
    f.queue(msg.to_bytes());
    pair.client
        .receive(&f.poll_transmit(usize::MAX).unwrap())
        .unwrap();
    assert_eq!(
        events(&mut pair.client),
        vec![Event::UserEvent(Box::new(event))]
    );
}
