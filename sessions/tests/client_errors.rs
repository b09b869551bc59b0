//! How `WsManClient` treats odd replies, with a transport that answers from a closure:
//! mismatched RelatesTo, HTTP 500 without a fault, unexpected statuses and bodies, faults.

mod fake_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fake_support::{Fake, fake_client};
use sessions::{HttpReply, Lane, TransportError, WsManClient};
use wsman::shell::SignalCode;
use wsman::{Body, Envelope, Fault, MessageId, ShellId, ns};

fn client(
    answer: impl Fn(&Envelope) -> Result<HttpReply, TransportError> + Send + Sync + 'static,
) -> (WsManClient, Arc<Fake>) {
    fake_client(move |bytes| {
        let req = Envelope::decode(bytes).expect("the client sends valid envelopes");
        answer(&req)
    })
}

fn ok(env: Envelope) -> Result<HttpReply, TransportError> {
    Ok(HttpReply {
        status: 200,
        body: env.encode().into_bytes(),
    })
}

fn shell() -> ShellId {
    ShellId::new("0B0B0B0B-0000-0000-0000-000000000000")
}

#[tokio::test]
async fn reply_must_relate_to_the_request() {
    let (c, _) = client(|req| {
        let mut reply =
            Envelope::reply_to(&req.header, MessageId::new("uuid:1"), Body::SignalResponse);
        reply.header.relates_to = Some(MessageId::new("uuid:someone-else"));
        ok(reply)
    });
    let err = c
        .signal(ns::RESOURCE_CMD, &shell(), None, SignalCode::Terminate)
        .await
        .unwrap_err();
    assert!(err.is_protocol(), "{err}");
    assert!(err.to_string().contains("relates to"), "{err}");
}

#[tokio::test]
async fn http_500_needs_a_fault_and_faults_are_typed() {
    let (c, _) = client(|req| {
        let reply = Envelope::reply_to(&req.header, MessageId::new("uuid:1"), Body::SignalResponse);
        Ok(HttpReply {
            status: 500,
            body: reply.encode().into_bytes(),
        })
    });
    let err = c.delete(ns::RESOURCE_CMD, &shell()).await.unwrap_err();
    assert!(err.is_protocol() && err.fault().is_none(), "{err}");

    let (c, _) = client(|req| {
        let fault = Fault::access_denied("SERVER01").to_envelope(
            MessageId::new("uuid:1"),
            Some(req.header.message_id.clone()),
        );
        Ok(HttpReply {
            status: 500,
            body: fault.encode().into_bytes(),
        })
    });
    let err = c.delete(ns::RESOURCE_CMD, &shell()).await.unwrap_err();
    assert_eq!(err.fault_subcode(), Some("AccessDenied"));
    assert_eq!(err.fault_code(), Some(wsman::WsManFaultCode::ACCESS_DENIED));
    assert!(!err.is_timeout() && !err.is_auth());
    let text = err.to_string();
    assert!(
        text.starts_with("transfer/Delete: server fault AccessDenied"),
        "{text}"
    );
}

#[tokio::test]
async fn other_statuses_and_bodies_are_errors() {
    let (c, _) = client(|_| {
        Ok(HttpReply {
            status: 502,
            body: b"bad gateway".to_vec(),
        })
    });
    let err = c.delete(ns::RESOURCE_CMD, &shell()).await.unwrap_err();
    assert_eq!(
        err.transport_error().and_then(TransportError::status),
        Some(502),
        "{err}"
    );

    let (c, _) = client(|_| {
        Ok(HttpReply {
            status: 200,
            body: b"<not-soap/>".to_vec(),
        })
    });
    assert!(
        c.delete(ns::RESOURCE_CMD, &shell())
            .await
            .unwrap_err()
            .is_protocol()
    );

    // A well-formed reply of the wrong kind.
    let (c, _) = client(|req| {
        ok(Envelope::reply_to(
            &req.header,
            MessageId::new("uuid:1"),
            Body::SendResponse,
        ))
    });
    let err = c
        .command(
            ns::RESOURCE_CMD,
            &shell(),
            Default::default(),
            Default::default(),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("expected CommandResponse"),
        "{err}"
    );
}

#[tokio::test]
async fn timeouts_and_lanes() {
    let (c, fake) = client(|req| {
        if req.header.action == wsman::Action::Receive {
            Err(TransportError::Timeout(Duration::from_secs(50)))
        } else {
            ok(Envelope::reply_to(
                &req.header,
                MessageId::new("uuid:1"),
                Body::SignalResponse,
            ))
        }
    });
    c.signal(ns::RESOURCE_CMD, &shell(), None, SignalCode::CtrlC)
        .await
        .unwrap();
    let err = c
        .receive(ns::RESOURCE_CMD, &shell(), wsman::shell::Receive::default())
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    // A Receive past its deadline is asked again (same SequenceId) twice, then reported.
    assert_eq!(
        fake.lanes(),
        [Lane::CONTROL, Lane::RECEIVE, Lane::RECEIVE, Lane::RECEIVE]
    );

    // w:TimedOut is polled again: three timeouts, then output.
    let count = Arc::new(Mutex::new(0));
    let seen = count.clone();
    let (c, _) = client(move |req| {
        let mut n = seen.lock().unwrap();
        *n += 1;
        if *n <= 3 {
            let fault = Fault::timed_out("SERVER01").to_envelope(
                MessageId::new("uuid:1"),
                Some(req.header.message_id.clone()),
            );
            return Ok(HttpReply {
                status: 500,
                body: fault.encode().into_bytes(),
            });
        }
        ok(Envelope::reply_to(
            &req.header,
            MessageId::new("uuid:1"),
            Body::ReceiveResponse(Default::default()),
        ))
    });
    c.receive(ns::RESOURCE_CMD, &shell(), wsman::shell::Receive::default())
        .await
        .unwrap();
    assert_eq!(*count.lock().unwrap(), 4);
    // receive_once reports the TimedOut fault itself.
    *count.lock().unwrap() = 0;
    let err = c
        .receive_once(
            ns::RESOURCE_CMD,
            &shell(),
            wsman::shell::Receive::default(),
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
    assert!(err.is_timeout() && err.fault().is_some(), "{err}");
}
