//! The runspace pool state machine, client and server roles (MS-PSRP 3.1.4 / 3.2.4).
//!
//! ```text
//! client                                   server
//! BeforeOpen ── open() ──▶ NegotiationSent
//!   SESSION_CAPABILITY + INIT_RUNSPACEPOOL ─────▶ BeforeOpen ─▶ Opened
//!   NegotiationSucceeded ◀── SESSION_CAPABILITY
//!                        ◀── APPLICATION_PRIVATE_DATA
//!   Opened               ◀── RUNSPACEPOOL_STATE (Opened)
//!
//! key exchange (Opened, either side may start it: the server with PUBLIC_KEY_REQUEST)
//!   request_session_key(key) ── PUBLIC_KEY ─────▶ Event::PublicKeyReceived
//!                                                 send_session_key(key, rng)
//!   Event::SessionKeyReady ◀── ENCRYPTED_SESSION_KEY
//!
//! close: the server's close() sends RUNSPACEPOOL_STATE (Closed); both end in Closed
//! ```
//!
//! Calling contract (sans IO): feed what the peer sent with [`RunspacePool::receive`], drain
//! [`RunspacePool::poll_event`], and send what [`RunspacePool::poll_transmit`] returns, giving
//! it the room left in the envelope. Commands ([`open`](RunspacePool::open),
//! [`request_session_key`](RunspacePool::request_session_key), [`close`](RunspacePool::close), …)
//! only queue messages. Messages about pipelines are handed out as [`Event::PipelineMessage`]
//! for the pipeline layer. Ids, keys and randomness are arguments.
//!
//! disconnect/reconnect (WSMan Disconnect/Reconnect, no PSRP messages): Opened ⇄ Disconnected
//! connect from a new client (WSMan Connect, MS-PSRP 3.1.4.x "connecting to a disconnected pool"):
//!   connect() ── SESSION_CAPABILITY + CONNECT_RUNSPACEPOOL ─▶ Disconnected
//!   ◀── SESSION_CAPABILITY + RUNSPACEPOOL_INIT_DATA ── Opened
//!   Opened ◀── APPLICATION_PRIVATE_DATA, RUNSPACEPOOL_STATE (Opened)
//!
//! requests with a call id (client → server → client):
//!   set_max_runspaces / set_min_runspaces / get_available_runspaces / reset_runspace_state
//!   ─▶ Event::SetMaxRunspaces … ; answer_availability ─▶ RUNSPACE_AVAILABILITY
//!   ─▶ Event::RunspaceAvailability
//! pool host calls: host_call ─▶ RUNSPACEPOOL_HOST_CALL ─▶ Event::HostCall;
//!   host_response ─▶ RUNSPACEPOOL_HOST_RESPONSE ─▶ Event::HostResponse
//!
//! GET_COMMAND_METADATA travels with a pipeline id, so it reaches the pipeline layer as
//! [`Event::PipelineMessage`]; USER_EVENT reaches the client as [`Event::UserEvent`] (the
//! server side has no verb to raise one yet).

use std::collections::{HashMap, VecDeque};

use crate::clixml::{self, Value};
use crate::crypto::{
    CryptoError, CryptoRngCore, EncryptedSessionKey, ExchangeKey, PublicKey, SessionKey,
};
use crate::fragment::{Defragmenter, FragmentError, Fragmenter};
use crate::message::{
    Destination, Message, MessageError, MessageType, PipelineId, RunspacePoolId, UTF8_BOM,
};
use crate::messages::{
    self, ApplicationPrivateData, AvailabilityResponse, CallId, ConnectRunspacePool, HostCall,
    HostResponse, InitRunspacePool, Payload, PayloadError, PsrpMessage, RunspaceAvailability,
    RunspacePoolInitData, RunspacePoolStateInfo, SessionCapability, SetMaxRunspaces,
    SetMinRunspaces, UserEvent,
};
pub use crate::records::RunspacePoolState;
use crate::records::{ApartmentState, HostInfo, PsPrimitiveDictionary, PsThreadOptions};

/// Which end of the conversation a state machine plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The PowerShell client (WSMan client).
    Client,
    /// The PowerShell server (WSMan service).
    Server,
}

/// The call id of a host call that expects no reply (MS-PSRP 2.2.2.27).
pub const NO_REPLY_CALL_ID: i64 = -100;

/// Whether this implementation accepts the peer's protocol version (any 2.x).
fn is_supported(capability: &SessionCapability) -> bool {
    capability.protocol_version.split('.').next() == Some("2")
}

/// Something the application should know about.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The wire-visible state changed.
    StateChanged(RunspacePoolState),
    /// The peer's SESSION_CAPABILITY arrived.
    SessionCapability(SessionCapability),
    /// Server: the client's INIT_RUNSPACEPOOL (runspace limits, host info, arguments).
    InitRunspacePool(Box<InitRunspacePool>),
    /// Client: the server's APPLICATION_PRIVATE_DATA.
    ApplicationPrivateData(PsPrimitiveDictionary),
    /// Server: the client sent its public key; answer with
    /// [`RunspacePool::send_session_key`].
    PublicKeyReceived,
    /// Client: the server asked for a public key (PUBLIC_KEY_REQUEST).
    PublicKeyRequested,
    /// Both: the session key is in place; SecureStrings can be used.
    SessionKeyReady,
    /// Server: the client asks to change MaxRunspaces; answer with
    /// [`RunspacePool::answer_availability`].
    SetMaxRunspaces(SetMaxRunspaces),
    /// Server: the client asks to change MinRunspaces; answer as for SET_MAX_RUNSPACES.
    SetMinRunspaces(SetMinRunspaces),
    /// Server: the client asks how many runspaces are available.
    GetAvailableRunspaces(CallId),
    /// Server: the client asks to reset the runspace state.
    ResetRunspaceState(CallId),
    /// Client: the answer to one of the four requests above (applied to
    /// [`RunspacePool::runspaces`] when a set succeeded).
    RunspaceAvailability(RunspaceAvailability),
    /// Client: the server calls a host method for the pool (RUNSPACEPOOL_HOST_CALL).
    HostCall(HostCall),
    /// Server: the client answered a pool host call.
    HostResponse(HostResponse),
    /// Client: a USER_EVENT forwarded from the server.
    UserEvent(Box<UserEvent>),
    /// A message for a pipeline of this pool, for the pipeline layer.
    PipelineMessage(Message),
}

/// A runspace pool, either side.
#[derive(Debug)]
pub struct RunspacePool {
    side: Side,
    id: RunspacePoolId,
    state: State,
    min_runspaces: i32,
    max_runspaces: i32,
    peer_capability: Option<SessionCapability>,
    key: KeyState,
    /// Set requests waiting for RUNSPACE_AVAILABILITY, by call id.
    pending: HashMap<i64, PendingCall>,
    fragmenter: Fragmenter,
    defragmenter: Defragmenter,
    events: VecDeque<Event>,
    application_private_data: ApplicationPrivateData,
}

/// Internal state: the wire state plus what only exists in that state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    BeforeOpen,
    /// Client: SESSION_CAPABILITY and INIT_RUNSPACEPOOL queued.
    NegotiationSent,
    /// Client: the server's SESSION_CAPABILITY arrived; waiting for RUNSPACEPOOL_STATE.
    NegotiationSucceeded,
    /// Server: SESSION_CAPABILITY arrived; waiting for INIT_RUNSPACEPOOL.
    ExpectInit,
    Opened,
    /// Both: the transport disconnected (WSMan Disconnect); pipelines keep running.
    Disconnected,
    /// Client: SESSION_CAPABILITY and CONNECT_RUNSPACEPOOL queued (WSMan Connect).
    Connecting,
    /// Server: SESSION_CAPABILITY of a connecting client arrived; waiting for
    /// CONNECT_RUNSPACEPOOL.
    ExpectConnect,
    Closing,
    Closed,
    Broken,
}

#[derive(Debug, Clone, Copy)]
enum PendingCall {
    SetMax(i32),
    SetMin(i32),
    Other,
}

#[derive(Debug)]
enum KeyState {
    None,
    /// Client: PUBLIC_KEY sent.
    AwaitingSessionKey(Box<ExchangeKey>),
    /// Server: PUBLIC_KEY received, waiting for the application to supply a session key.
    HavePublicKey(PublicKey),
    Ready(SessionKey),
}

impl RunspacePool {
    /// A client-side pool with the given id and runspace limits.
    pub fn client(id: RunspacePoolId, min_runspaces: i32, max_runspaces: i32) -> Self {
        let data = ApplicationPrivateData {
            data: PsPrimitiveDictionary {
                entries: Vec::new(),
            },
        };
        Self::new(Side::Client, id, min_runspaces, max_runspaces, data)
    }

    /// A server-side pool answering for `id`, sending `application_private_data` (usually a
    /// PSPrimitiveDictionary holding `PSVersionTable`) when it opens.
    pub fn server(id: RunspacePoolId, application_private_data: ApplicationPrivateData) -> Self {
        Self::new(Side::Server, id, 1, 1, application_private_data)
    }

    fn new(
        side: Side,
        id: RunspacePoolId,
        min: i32,
        max: i32,
        data: ApplicationPrivateData,
    ) -> Self {
        Self {
            side,
            id,
            state: State::BeforeOpen,
            min_runspaces: min,
            max_runspaces: max,
            peer_capability: None,
            key: KeyState::None,
            pending: HashMap::new(),
            fragmenter: Fragmenter::new(),
            defragmenter: Defragmenter::new(),
            events: VecDeque::new(),
            application_private_data: data,
        }
    }

    /// Which side this is.
    pub fn side(&self) -> Side {
        self.side
    }

    /// The pool id (RPID).
    pub fn id(&self) -> RunspacePoolId {
        self.id
    }

    /// The state as MS-PSRP names it.
    pub fn state(&self) -> RunspacePoolState {
        match self.state {
            State::BeforeOpen | State::ExpectInit => RunspacePoolState::BEFORE_OPEN,
            State::NegotiationSent => RunspacePoolState::NEGOTIATION_SENT,
            State::NegotiationSucceeded => RunspacePoolState::NEGOTIATION_SUCCEEDED,
            State::Opened => RunspacePoolState::OPENED,
            State::Disconnected | State::ExpectConnect => RunspacePoolState::DISCONNECTED,
            State::Connecting => RunspacePoolState::CONNECTING,
            State::Closing => RunspacePoolState::CLOSING,
            State::Closed => RunspacePoolState::CLOSED,
            State::Broken => RunspacePoolState::BROKEN,
        }
    }

    /// Runspace limits (as asked by the client, or as received by the server).
    pub fn runspaces(&self) -> (i32, i32) {
        (self.min_runspaces, self.max_runspaces)
    }

    /// The peer's SESSION_CAPABILITY, once received.
    pub fn peer_capability(&self) -> Option<&SessionCapability> {
        self.peer_capability.as_ref()
    }

    /// The session key, once exchanged.
    pub fn session_key(&self) -> Option<&SessionKey> {
        match &self.key {
            KeyState::Ready(key) => Some(key),
            _ => None,
        }
    }

    /// Client: queues SESSION_CAPABILITY and INIT_RUNSPACEPOOL (the Create's creationXml).
    ///
    /// # Errors
    ///
    /// [`PoolError::InvalidState`] unless a client in BeforeOpen.
    pub fn open(&mut self) -> Result<(), PoolError> {
        self.expect_side(Side::Client, "open")?;
        if self.state != State::BeforeOpen {
            return Err(self.invalid_state("open", RunspacePoolState::BEFORE_OPEN));
        }
        self.send(PipelineId::NIL, &SessionCapability::default());
        let init = InitRunspacePool {
            min_runspaces: self.min_runspaces,
            max_runspaces: self.max_runspaces,
            thread_options: PsThreadOptions::DEFAULT,
            apartment_state: ApartmentState::UNKNOWN,
            host_info: HostInfo::default(),
            application_arguments: None,
        };
        self.send(PipelineId::NIL, &init);
        self.set_state(State::NegotiationSent);
        Ok(())
    }

    /// Client: starts the key exchange by sending the public half of `key` (PUBLIC_KEY).
    ///
    /// # Errors
    ///
    /// [`PoolError::InvalidState`] unless an opened client.
    pub fn request_session_key(&mut self, key: ExchangeKey) -> Result<(), PoolError> {
        self.expect_side(Side::Client, "request_session_key")?;
        self.expect_opened("request_session_key")?;
        let body = messages::PublicKey {
            public_key: key.public_key().to_blob(),
        };
        self.send(PipelineId::NIL, &body);
        self.key = KeyState::AwaitingSessionKey(Box::new(key));
        Ok(())
    }

    /// Server: asks the client for its public key (PUBLIC_KEY_REQUEST).
    ///
    /// # Errors
    ///
    /// [`PoolError::InvalidState`] unless an opened server.
    pub fn request_public_key(&mut self) -> Result<(), PoolError> {
        self.expect_side(Side::Server, "request_public_key")?;
        self.expect_opened("request_public_key")?;
        let body = Payload::PublicKeyRequest.to_value().unwrap_or(Value::Nil);
        self.queue(MessageType::PUBLIC_KEY_REQUEST, PipelineId::NIL, &body);
        Ok(())
    }

    /// Server: answers PUBLIC_KEY with `key` encrypted for the client (ENCRYPTED_SESSION_KEY).
    ///
    /// # Errors
    ///
    /// [`PoolError::InvalidState`] unless a server holding a client public key,
    /// [`PoolError::Crypto`] if encryption fails.
    pub fn send_session_key(
        &mut self,
        key: SessionKey,
        rng: &mut impl CryptoRngCore,
    ) -> Result<(), PoolError> {
        self.expect_side(Side::Server, "send_session_key")?;
        let KeyState::HavePublicKey(public) = &self.key else {
            return Err(PoolError::InvalidState {
                action: "send_session_key",
                current: self.state(),
                expected: "a received PUBLIC_KEY",
            });
        };
        let blob = public.encrypt_session_key(&key, rng)?;
        let body = messages::EncryptedSessionKey {
            encrypted_session_key: blob.to_blob(),
        };
        self.send(PipelineId::NIL, &body);
        self.key = KeyState::Ready(key);
        self.events.push_back(Event::SessionKeyReady);
        Ok(())
    }

    /// Closes the pool. The server queues RUNSPACEPOOL_STATE (Closed); the client moves to
    /// Closing until its transport confirms (WSMan Delete), then calls
    /// [`handle_closed`](Self::handle_closed).
    ///
    /// # Errors
    ///
    /// [`PoolError::InvalidState`] when already closed.
    pub fn close(&mut self) -> Result<(), PoolError> {
        if matches!(self.state, State::Closed) {
            return Err(self.invalid_state("close", RunspacePoolState::OPENED));
        }
        match self.side {
            Side::Server => {
                let body = RunspacePoolStateInfo {
                    state: RunspacePoolState::CLOSED,
                    error: None,
                };
                self.send(PipelineId::NIL, &body);
                self.set_state(State::Closed);
            }
            Side::Client => self.set_state(State::Closing),
        }
        Ok(())
    }

    /// Both: the transport disconnected the shell (WSMan Disconnect); pipelines keep running
    /// on the server and their output waits there.
    ///
    /// # Errors
    ///
    /// [`PoolError::InvalidState`] unless opened.
    pub fn disconnect(&mut self) -> Result<(), PoolError> {
        self.expect_opened("disconnect")?;
        self.set_state(State::Disconnected);
        Ok(())
    }

    /// Both: the same client reconnected (WSMan Reconnect); no PSRP messages are exchanged.
    ///
    /// # Errors
    ///
    /// [`PoolError::InvalidState`] unless disconnected.
    pub fn reconnect(&mut self) -> Result<(), PoolError> {
        if self.state != State::Disconnected {
            return Err(self.invalid_state("reconnect", RunspacePoolState::DISCONNECTED));
        }
        self.set_state(State::Opened);
        Ok(())
    }

    /// Client: attaches a new client to a disconnected pool (WSMan Connect): queues
    /// SESSION_CAPABILITY and CONNECT_RUNSPACEPOOL, the connectXml.
    ///
    /// # Errors
    ///
    /// [`PoolError::InvalidState`] unless a client in BeforeOpen.
    pub fn connect(&mut self) -> Result<(), PoolError> {
        self.expect_side(Side::Client, "connect")?;
        if self.state != State::BeforeOpen {
            return Err(self.invalid_state("connect", RunspacePoolState::BEFORE_OPEN));
        }
        self.send(PipelineId::NIL, &SessionCapability::default());
        let connect = ConnectRunspacePool {
            min_runspaces: None,
            max_runspaces: None,
        };
        self.send(PipelineId::NIL, &connect);
        self.set_state(State::Connecting);
        Ok(())
    }

    /// Client: asks to set MaxRunspaces (SET_MAX_RUNSPACES); `call_id` is echoed in the answer.
    ///
    /// # Errors
    ///
    /// [`PoolError::InvalidState`] unless an opened client.
    pub fn set_max_runspaces(&mut self, max_runspaces: i32, call_id: i64) -> Result<(), PoolError> {
        self.client_request(
            "set_max_runspaces",
            call_id,
            PendingCall::SetMax(max_runspaces),
        )?;
        self.send(
            PipelineId::NIL,
            &SetMaxRunspaces {
                max_runspaces,
                call_id,
            },
        );
        Ok(())
    }

    /// Client: asks to set MinRunspaces (SET_MIN_RUNSPACES).
    ///
    /// # Errors
    ///
    /// [`PoolError::InvalidState`] unless an opened client.
    pub fn set_min_runspaces(&mut self, min_runspaces: i32, call_id: i64) -> Result<(), PoolError> {
        self.client_request(
            "set_min_runspaces",
            call_id,
            PendingCall::SetMin(min_runspaces),
        )?;
        self.send(
            PipelineId::NIL,
            &SetMinRunspaces {
                min_runspaces,
                call_id,
            },
        );
        Ok(())
    }

    /// Client: asks how many runspaces are available (GET_AVAILABLE_RUNSPACES).
    ///
    /// # Errors
    ///
    /// [`PoolError::InvalidState`] unless an opened client.
    pub fn get_available_runspaces(&mut self, call_id: i64) -> Result<(), PoolError> {
        self.client_request("get_available_runspaces", call_id, PendingCall::Other)?;
        let payload = Payload::GetAvailableRunspaces(CallId { call_id });
        self.queue_payload(&payload);
        Ok(())
    }

    /// Client: asks to reset the runspace state (RESET_RUNSPACE_STATE, protocol 2.3).
    ///
    /// # Errors
    ///
    /// [`PoolError::InvalidState`] unless an opened client.
    pub fn reset_runspace_state(&mut self, call_id: i64) -> Result<(), PoolError> {
        self.client_request("reset_runspace_state", call_id, PendingCall::Other)?;
        let payload = Payload::ResetRunspaceState(CallId { call_id });
        self.queue_payload(&payload);
        Ok(())
    }

    /// Client: answers a pool host call (RUNSPACEPOOL_HOST_RESPONSE).
    ///
    /// # Errors
    ///
    /// [`PoolError::InvalidState`] unless an opened client, or for call id -100 (a call that
    /// expects no reply).
    pub fn host_response(&mut self, response: HostResponse) -> Result<(), PoolError> {
        self.expect_side(Side::Client, "host_response")?;
        self.expect_opened("host_response")?;
        if response.call_id == NO_REPLY_CALL_ID {
            return Err(PoolError::InvalidState {
                action: "host_response",
                current: self.state(),
                expected: "a host call that expects a reply",
            });
        }
        self.queue_payload(&Payload::RunspacePoolHostResponse(response));
        Ok(())
    }

    /// Server: calls a host method for the pool (RUNSPACEPOOL_HOST_CALL).
    ///
    /// # Errors
    ///
    /// [`PoolError::InvalidState`] unless an opened server.
    pub fn host_call(&mut self, call: HostCall) -> Result<(), PoolError> {
        self.expect_side(Side::Server, "host_call")?;
        self.expect_opened("host_call")?;
        self.queue_payload(&Payload::RunspacePoolHostCall(call));
        Ok(())
    }

    /// Server: answers SET_MAX/SET_MIN_RUNSPACES, GET_AVAILABLE_RUNSPACES or
    /// RESET_RUNSPACE_STATE (RUNSPACE_AVAILABILITY). A successful set is applied.
    ///
    /// # Errors
    ///
    /// [`PoolError::InvalidState`] unless a server with that request outstanding.
    pub fn answer_availability(
        &mut self,
        call_id: i64,
        response: AvailabilityResponse,
    ) -> Result<(), PoolError> {
        self.expect_side(Side::Server, "answer_availability")?;
        let Some(pending) = self.pending.remove(&call_id) else {
            return Err(PoolError::InvalidState {
                action: "answer_availability",
                current: self.state(),
                expected: "an outstanding request with that call id",
            });
        };
        if response == AvailabilityResponse::Success(true) {
            self.apply(pending);
        }
        self.send(PipelineId::NIL, &RunspaceAvailability { response, call_id });
        Ok(())
    }

    /// Client: the transport confirmed the close.
    pub fn handle_closed(&mut self) {
        self.set_state(State::Closed);
    }

    /// Queues a message about a pipeline of this pool (used by the pipeline layer).
    pub fn queue_pipeline_message(
        &mut self,
        message_type: MessageType,
        pipeline: PipelineId,
        body: &Value,
    ) {
        self.queue(message_type, pipeline, body);
    }

    /// Feeds one payload of fragments from the peer.
    ///
    /// # Errors
    ///
    /// Decode errors for malformed fragments, messages or CLIXML; [`PoolError::Unexpected`]
    /// for a message the current state does not allow. Either way the pool becomes Broken.
    pub fn receive(&mut self, payload: &[u8]) -> Result<(), PoolError> {
        let result = self.receive_inner(payload);
        if result.is_err() {
            self.set_state(State::Broken);
        }
        result
    }

    fn receive_inner(&mut self, payload: &[u8]) -> Result<(), PoolError> {
        self.defragmenter.receive(payload)?;
        while let Some(blob) = self.defragmenter.poll_message() {
            let message = Message::decode(&blob)?;
            self.handle_message(message)?;
        }
        Ok(())
    }

    /// The next event, in order.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next payload to send, at most `room` bytes.
    pub fn poll_transmit(&mut self, room: usize) -> Option<Vec<u8>> {
        self.fragmenter.poll_transmit(room)
    }

    /// Whether messages are waiting in [`poll_transmit`](Self::poll_transmit).
    pub fn has_pending(&self) -> bool {
        !self.fragmenter.is_empty()
    }

    fn handle_message(&mut self, message: Message) -> Result<(), PoolError> {
        let expected = match self.side {
            Side::Client => Destination::CLIENT,
            Side::Server => Destination::SERVER,
        };
        if message.destination != expected {
            return Err(self.unexpected(message.message_type));
        }
        if !message.pipeline_id.is_nil() {
            self.events.push_back(Event::PipelineMessage(message));
            return Ok(());
        }
        let ty = message.message_type;
        let payload = Payload::decode(ty, &message.data)?;
        match (self.side, self.state, payload) {
            (Side::Server, State::BeforeOpen, Payload::SessionCapability(cap)) => {
                if !is_supported(&cap) {
                    return Err(PoolError::UnsupportedVersion(cap.protocol_version));
                }
                self.peer_capability = Some(cap.clone());
                self.events.push_back(Event::SessionCapability(cap));
                self.state = State::ExpectInit;
            }
            (Side::Server, State::ExpectInit, Payload::InitRunspacePool(init)) => {
                self.min_runspaces = init.min_runspaces;
                self.max_runspaces = init.max_runspaces;
                self.events
                    .push_back(Event::InitRunspacePool(Box::new(init)));
                self.send(PipelineId::NIL, &SessionCapability::default());
                let data = self.application_private_data.clone();
                self.send(PipelineId::NIL, &data);
                let state = RunspacePoolStateInfo {
                    state: RunspacePoolState::OPENED,
                    error: None,
                };
                self.send(PipelineId::NIL, &state);
                self.set_state(State::Opened);
            }
            (Side::Client, State::NegotiationSent, Payload::SessionCapability(cap)) => {
                if !is_supported(&cap) {
                    return Err(PoolError::UnsupportedVersion(cap.protocol_version));
                }
                self.peer_capability = Some(cap.clone());
                self.events.push_back(Event::SessionCapability(cap));
                self.set_state(State::NegotiationSucceeded);
            }
            (
                Side::Client,
                State::NegotiationSucceeded | State::Opened | State::Connecting,
                Payload::ApplicationPrivateData(data),
            ) => {
                self.events
                    .push_back(Event::ApplicationPrivateData(data.data));
                // psrpcore's server ends a Connect with APPLICATION_PRIVATE_DATA.
                if self.state == State::Connecting {
                    self.set_state(State::Opened);
                }
            }
            (Side::Client, current, Payload::RunspacePoolState(info)) => {
                let next = match info.state {
                    RunspacePoolState::OPENED
                        if matches!(
                            current,
                            State::NegotiationSucceeded | State::Connecting | State::Opened
                        ) =>
                    {
                        State::Opened
                    }
                    RunspacePoolState::CLOSED => State::Closed,
                    RunspacePoolState::BROKEN => State::Broken,
                    _ => return Err(self.unexpected(ty)),
                };
                self.set_state(next);
            }
            (Side::Client, State::Opened, Payload::PublicKeyRequest) => {
                self.events.push_back(Event::PublicKeyRequested);
            }
            (Side::Client, State::Opened, Payload::EncryptedSessionKey(body)) => {
                let KeyState::AwaitingSessionKey(exchange) = &self.key else {
                    return Err(self.unexpected(ty));
                };
                let blob = EncryptedSessionKey::from_blob(&body.encrypted_session_key)?;
                let key = exchange.decrypt_session_key(&blob)?;
                self.key = KeyState::Ready(key);
                self.events.push_back(Event::SessionKeyReady);
            }
            (Side::Server, State::Opened, Payload::PublicKey(body)) => {
                self.key = KeyState::HavePublicKey(PublicKey::from_blob(&body.public_key)?);
                self.events.push_back(Event::PublicKeyReceived);
            }
            (Side::Server, State::Opened, Payload::SetMaxRunspaces(req)) => {
                self.pending
                    .insert(req.call_id, PendingCall::SetMax(req.max_runspaces));
                self.events.push_back(Event::SetMaxRunspaces(req));
            }
            (Side::Server, State::Opened, Payload::SetMinRunspaces(req)) => {
                self.pending
                    .insert(req.call_id, PendingCall::SetMin(req.min_runspaces));
                self.events.push_back(Event::SetMinRunspaces(req));
            }
            (Side::Server, State::Opened, Payload::GetAvailableRunspaces(req)) => {
                self.pending.insert(req.call_id, PendingCall::Other);
                self.events.push_back(Event::GetAvailableRunspaces(req));
            }
            (Side::Server, State::Opened, Payload::ResetRunspaceState(req)) => {
                self.pending.insert(req.call_id, PendingCall::Other);
                self.events.push_back(Event::ResetRunspaceState(req));
            }
            (Side::Server, State::Opened, Payload::RunspacePoolHostResponse(r)) => {
                self.events.push_back(Event::HostResponse(r));
            }
            (Side::Client, State::Opened, Payload::UserEvent(event)) => {
                self.events.push_back(Event::UserEvent(event));
            }
            (Side::Client, State::Opened, Payload::RunspacePoolHostCall(call)) => {
                self.events.push_back(Event::HostCall(call));
            }
            (Side::Client, State::Opened, Payload::RunspaceAvailability(answer)) => {
                let Some(pending) = self.pending.remove(&answer.call_id) else {
                    return Err(self.unexpected(ty));
                };
                if answer.response == AvailabilityResponse::Success(true) {
                    self.apply(pending);
                }
                self.events.push_back(Event::RunspaceAvailability(answer));
            }
            (Side::Server, State::Disconnected, Payload::SessionCapability(cap)) => {
                if !is_supported(&cap) {
                    return Err(PoolError::UnsupportedVersion(cap.protocol_version));
                }
                self.peer_capability = Some(cap.clone());
                self.events.push_back(Event::SessionCapability(cap));
                self.state = State::ExpectConnect;
            }
            (Side::Server, State::ExpectConnect, Payload::ConnectRunspacePool(connect)) => {
                self.min_runspaces = connect.min_runspaces.unwrap_or(self.min_runspaces);
                self.max_runspaces = connect.max_runspaces.unwrap_or(self.max_runspaces);
                // The Connect response carries these two. Windows then sends RUNSPACEPOOL_STATE
                // (Opened) in the next Receive (test_psrp_disconnect_runspaces.yml); psrpcore's
                // client waits for APPLICATION_PRIVATE_DATA instead, so both follow.
                self.send(PipelineId::NIL, &SessionCapability::default());
                let init = RunspacePoolInitData {
                    min_runspaces: self.min_runspaces,
                    max_runspaces: self.max_runspaces,
                };
                self.send(PipelineId::NIL, &init);
                let data = self.application_private_data.clone();
                self.send(PipelineId::NIL, &data);
                let state = RunspacePoolStateInfo {
                    state: RunspacePoolState::OPENED,
                    error: None,
                };
                self.send(PipelineId::NIL, &state);
                self.set_state(State::Opened);
            }
            (Side::Client, State::Connecting, Payload::SessionCapability(cap)) => {
                if !is_supported(&cap) {
                    return Err(PoolError::UnsupportedVersion(cap.protocol_version));
                }
                self.peer_capability = Some(cap.clone());
                self.events.push_back(Event::SessionCapability(cap));
            }
            (Side::Client, State::Connecting, Payload::RunspacePoolInitData(init)) => {
                self.min_runspaces = init.min_runspaces;
                self.max_runspaces = init.max_runspaces;
            }
            _ => return Err(self.unexpected(ty)),
        }
        Ok(())
    }

    fn client_request(
        &mut self,
        action: &'static str,
        call_id: i64,
        pending: PendingCall,
    ) -> Result<(), PoolError> {
        self.expect_side(Side::Client, action)?;
        self.expect_opened(action)?;
        self.pending.insert(call_id, pending);
        Ok(())
    }

    fn apply(&mut self, pending: PendingCall) {
        match pending {
            PendingCall::SetMax(n) => self.max_runspaces = n,
            PendingCall::SetMin(n) => self.min_runspaces = n,
            PendingCall::Other => {}
        }
    }

    fn queue_payload(&mut self, payload: &Payload) {
        let body = payload.to_value().unwrap_or(Value::Nil);
        self.queue(payload.message_type(), PipelineId::NIL, &body);
    }

    fn send<M: PsrpMessage>(&mut self, pipeline: PipelineId, body: &M) {
        self.queue(M::TYPE, pipeline, &body.to_value());
    }

    fn queue(&mut self, message_type: MessageType, pipeline: PipelineId, body: &Value) {
        let destination = match self.side {
            Side::Client => Destination::SERVER,
            Side::Server => Destination::CLIENT,
        };
        let mut data = Vec::new();
        // Windows servers prefix their CLIXML with a BOM; clients do not.
        if self.side == Side::Server {
            data.extend_from_slice(UTF8_BOM);
        }
        data.extend_from_slice(clixml::to_clixml(body).as_bytes());
        let message = Message::new(destination, message_type, self.id, pipeline, data);
        self.fragmenter.queue(message.to_bytes());
    }

    fn set_state(&mut self, state: State) {
        if self.state != state {
            let before = self.state();
            self.state = state;
            if self.state() != before {
                self.events.push_back(Event::StateChanged(self.state()));
            }
        }
    }

    fn expect_side(&self, side: Side, action: &'static str) -> Result<(), PoolError> {
        if self.side == side {
            Ok(())
        } else {
            Err(PoolError::WrongSide {
                action,
                side: self.side,
            })
        }
    }

    fn expect_opened(&self, action: &'static str) -> Result<(), PoolError> {
        if self.state == State::Opened {
            Ok(())
        } else {
            Err(self.invalid_state(action, RunspacePoolState::OPENED))
        }
    }

    fn invalid_state(&self, action: &'static str, expected: RunspacePoolState) -> PoolError {
        PoolError::InvalidState {
            action,
            current: self.state(),
            expected: expected.name().unwrap_or("?"),
        }
    }

    fn unexpected(&self, message_type: MessageType) -> PoolError {
        PoolError::Unexpected {
            message_type,
            state: self.state(),
            side: self.side,
        }
    }
}

/// A runspace pool operation that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// A fragment from the peer is malformed or out of order.
    #[error(transparent)]
    Fragment(#[from] FragmentError),
    /// A message from the peer is malformed.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// A message body is not valid CLIXML or lacks what its type requires.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The key exchange failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The peer speaks a protocol version other than 2.x.
    #[error("unsupported protocol version {0}")]
    UnsupportedVersion(String),
    /// The peer sent a message the current state does not allow.
    #[error("unexpected {message_type} in state {state:?} on the {side:?} side")]
    Unexpected {
        /// What arrived.
        message_type: MessageType,
        /// The state it arrived in.
        state: RunspacePoolState,
        /// Our side.
        side: Side,
    },
    /// The application asked for something the current state forbids.
    #[error("cannot {action} in state {current:?}, expected {expected}")]
    InvalidState {
        /// What was asked.
        action: &'static str,
        /// The current state.
        current: RunspacePoolState,
        /// What state (or condition) it needs.
        expected: &'static str,
    },
    /// The action belongs to the other side.
    #[error("{action} is not available on the {side:?} side")]
    WrongSide {
        /// What was asked.
        action: &'static str,
        /// Our side.
        side: Side,
    },
}

#[cfg(test)]
mod tests;
