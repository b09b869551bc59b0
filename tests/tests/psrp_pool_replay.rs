//! The runspace pool state machine against real traffic: the server role opens from the
//! creationXml pypsrp sent to Windows, and the client role reaches Opened from what Windows
//! answered (`test_psrp_multiple_commands.yml`), the Connect flow of
//! `test_psrp_disconnect_runspaces.yml`, and both pipeline roles on a real CREATE_PIPELINE and
//! its Receive reply.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use psrp::message::{MessageType, RunspacePoolId};
use psrp::messages::ApplicationPrivateData;
use psrp::records::PsPrimitiveDictionary;
use psrp::runspace_pool::{Event, RunspacePool, RunspacePoolState};

/// Base64 texts of every `<tag ...>text</tag>` in `xml`, in order (a plain scan: these
/// elements hold only base64).
fn elements(xml: &str, tag: &str) -> Vec<Vec<u8>> {
    let open = format!("<{tag}");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(gt) = after.find('>') else { break };
        let is_tag = after.starts_with([' ', '>']);
        let self_closing = after[..gt].ends_with('/');
        let body = &after[gt + 1..];
        let Some(lt) = body.find('<') else { break };
        if is_tag && !self_closing && lt > 0 {
            out.push(STANDARD.decode(&body[..lt]).unwrap());
        }
        rest = &body[lt..];
    }
    out
}

fn conversation() -> Vec<tests::Exchange> {
    tests::pypsrp_files()
        .into_iter()
        .find(|f| f.file.ends_with("test_psrp_multiple_commands.yml"))
        .expect("fixture present")
        .exchanges
}

#[test]
fn server_role_opens_from_pypsrp_creation_xml() {
    let exchanges = conversation();
    let request = exchanges[0].request.as_deref().unwrap();
    let payloads = elements(request, "creationXml");
    assert_eq!(payloads.len(), 1);
    let data = ApplicationPrivateData {
        data: PsPrimitiveDictionary {
            entries: Vec::new(),
        },
    };
    let mut server = RunspacePool::server(RunspacePoolId::NIL, data);
    server.receive(&payloads[0]).unwrap();
    assert_eq!(server.state(), RunspacePoolState::OPENED);
    assert_eq!(server.runspaces(), (1, 1));
    assert_eq!(server.peer_capability().unwrap().protocol_version, "2.3");
    // SESSION_CAPABILITY, APPLICATION_PRIVATE_DATA and RUNSPACEPOOL_STATE go back.
    let reply = server.poll_transmit(153_600).unwrap();
    assert_eq!(psrp::fragment::Fragment::iter(&reply).count(), 3);
}

#[test]
fn client_role_opens_from_windows_replies() {
    let exchanges = conversation();
    let mut client = RunspacePool::client(RunspacePoolId::NIL, 1, 1);
    client.open().unwrap();
    // Sent bytes would have been the creationXml; what matters here is Windows' answer.
    while client.poll_transmit(153_600).is_some() {}
    for ex in &exchanges[1..3] {
        for payload in elements(ex.response.as_deref().unwrap(), "rsp:Stream") {
            client.receive(&payload).unwrap();
        }
    }
    assert_eq!(client.state(), RunspacePoolState::OPENED);
    let events: Vec<Event> = std::iter::from_fn(|| client.poll_event()).collect();
    let Some(Event::ApplicationPrivateData(data)) = events
        .iter()
        .find(|e| matches!(e, Event::ApplicationPrivateData(_)))
    else {
        panic!("no application private data in {events:?}");
    };
    assert!(
        data.entries
            .iter()
            .any(|(k, _)| k.as_str() == Some("PSVersionTable")),
        "{data:?}"
    );
}

fn disconnect_conversation() -> Vec<tests::Exchange> {
    tests::pypsrp_files()
        .into_iter()
        .find(|f| f.file.ends_with("test_psrp_disconnect_runspaces.yml"))
        .expect("fixture present")
        .exchanges
}

#[test]
fn server_role_answers_pypsrp_connect_like_windows() {
    let exchanges = disconnect_conversation();
    let data = ApplicationPrivateData {
        data: PsPrimitiveDictionary {
            entries: Vec::new(),
        },
    };
    let mut server = RunspacePool::server(RunspacePoolId::NIL, data);
    for p in elements(exchanges[0].request.as_deref().unwrap(), "creationXml") {
        server.receive(&p).unwrap();
    }
    while server.poll_transmit(usize::MAX).is_some() {}
    server.disconnect().unwrap();
    // Exchange 14: Connect with connectXml (SESSION_CAPABILITY + CONNECT_RUNSPACEPOOL).
    for p in elements(exchanges[14].request.as_deref().unwrap(), "connectXml") {
        server.receive(&p).unwrap();
    }
    assert_eq!(server.state(), RunspacePoolState::OPENED);
    let reply = server.poll_transmit(usize::MAX).unwrap();
    let types: Vec<MessageType> = reply_types(&reply);
    // What Windows put in connectResponseXml comes first, in the same order.
    let windows = elements(
        exchanges[14].response.as_deref().unwrap(),
        "connectResponseXml",
    );
    let windows_types = reply_types(&windows.concat());
    assert_eq!(
        windows_types,
        [
            MessageType::SESSION_CAPABILITY,
            MessageType::RUNSPACEPOOL_INIT_DATA
        ]
    );
    assert_eq!(&types[..2], &windows_types[..]);
    assert_eq!(
        &types[2..],
        &[
            MessageType::APPLICATION_PRIVATE_DATA,
            MessageType::RUNSPACEPOOL_STATE
        ]
    );
}

#[test]
fn client_role_connects_from_windows_connect_response() {
    let exchanges = disconnect_conversation();
    let mut client = RunspacePool::client(RunspacePoolId::NIL, 1, 1);
    client.connect().unwrap();
    while client.poll_transmit(usize::MAX).is_some() {}
    for p in elements(
        exchanges[14].response.as_deref().unwrap(),
        "connectResponseXml",
    ) {
        client.receive(&p).unwrap();
    }
    assert_eq!(client.state(), RunspacePoolState::CONNECTING);
    for p in elements(exchanges[15].response.as_deref().unwrap(), "rsp:Stream") {
        client.receive(&p).unwrap();
    }
    assert_eq!(client.state(), RunspacePoolState::OPENED);
    assert_eq!(client.runspaces(), (1, 1));
}

/// Message types of the start fragments in a payload.
fn reply_types(payload: &[u8]) -> Vec<MessageType> {
    let mut defrag = psrp::fragment::Defragmenter::new();
    defrag.receive(payload).unwrap();
    std::iter::from_fn(|| defrag.poll_message())
        .map(|m| psrp::message::Message::decode(&m).unwrap().message_type)
        .collect()
}

#[test]
fn pipeline_roles_follow_real_create_and_output() {
    use psrp::fragment::{Defragmenter, ObjectId};
    use psrp::message::Message;
    use psrp::pipeline::{Event as PipeEvent, Pipeline};
    use psrp::records::PsInvocationState;

    let exchanges = conversation();
    // Exchange 5: Command with CREATE_PIPELINE in Arguments.
    let args = elements(exchanges[5].request.as_deref().unwrap(), "rsp:Arguments");
    let mut defrag = Defragmenter::new();
    for a in &args {
        defrag.receive(a).unwrap();
    }
    let create = Message::decode(&defrag.poll_message().unwrap()).unwrap();
    assert_eq!(create.message_type, MessageType::CREATE_PIPELINE);
    let (pool, pid) = (create.runspace_pool_id, create.pipeline_id);

    let mut server = Pipeline::server(pool, pid, ObjectId(1));
    server.handle_message(create).unwrap();
    assert_eq!(server.state(), PsInvocationState::RUNNING);
    let cmds = &server.create_pipeline().unwrap().power_shell.cmds;
    assert!(!cmds.is_empty());

    // Exchange 6: Windows' Receive reply for that command.
    let mut client = Pipeline::reattach(pool, pid, ObjectId(1));
    for p in elements(exchanges[6].response.as_deref().unwrap(), "rsp:Stream") {
        client.receive(&p).unwrap();
    }
    let events: Vec<PipeEvent> = std::iter::from_fn(|| client.poll_event()).collect();
    let outputs = events
        .iter()
        .filter(|e| matches!(e, PipeEvent::Output(_)))
        .count();
    assert_eq!(outputs, 7, "{events:?}");
    assert_eq!(
        events.last(),
        Some(&PipeEvent::StateChanged(PsInvocationState::COMPLETED, None))
    );
    assert_eq!(client.state(), PsInvocationState::COMPLETED);
}
