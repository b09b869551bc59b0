//! A `Transport` that answers from a closure and records what the client sent, for the tests of
//! how `WsManClient` treats replies without a server (client_errors.rs, identify.rs).

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sessions::{ClientOptions, HttpReply, Lane, Transport, TransportError, WsManClient};

type Answer = dyn Fn(&[u8]) -> Result<HttpReply, TransportError> + Send + Sync;

/// Answers each POST with `answer(envelope bytes)`; keeps every (lane, envelope) it was sent.
pub struct Fake {
    answer: Box<Answer>,
    pub sent: Mutex<Vec<(Lane, Vec<u8>)>>,
}

impl std::fmt::Debug for Fake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fake")
    }
}

impl Fake {
    /// The lanes of the requests so far, in order.
    pub fn lanes(&self) -> Vec<Lane> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .map(|(lane, _)| *lane)
            .collect()
    }
}

impl Transport for Fake {
    fn endpoint(&self) -> &str {
        "http://fake.invalid:5985/wsman"
    }

    fn post(
        &self,
        lane: Lane,
        envelope: Vec<u8>,
        _timeout: Duration,
    ) -> wsman_transport::BoxFuture<'_, Result<HttpReply, TransportError>> {
        let reply = (self.answer)(&envelope);
        self.sent.lock().unwrap().push((lane, envelope));
        Box::pin(async move { reply })
    }
}

/// A client (default options) over a `Fake` answering with `answer`, and the fake.
pub fn fake_client(
    answer: impl Fn(&[u8]) -> Result<HttpReply, TransportError> + Send + Sync + 'static,
) -> (WsManClient, Arc<Fake>) {
    let fake = Arc::new(Fake {
        answer: Box::new(answer),
        sent: Mutex::new(Vec::new()),
    });
    (
        WsManClient::new(fake.clone(), ClientOptions::default()),
        fake,
    )
}
