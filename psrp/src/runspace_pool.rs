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
//! Not covered yet: SET_MAX/MIN_RUNSPACES, GET_AVAILABLE_RUNSPACES, RESET_RUNSPACE_STATE,
//! GET_COMMAND_METADATA, host calls, and the disconnect/connect flow.

use std::collections::VecDeque;
use std::fmt;

use crate::clixml::{self, ClixmlError, PsObject, Value};
use crate::crypto::{
    CryptoError, CryptoRngCore, EncryptedSessionKey, ExchangeKey, PublicKey, SessionKey,
};
use crate::fragment::{Defragmenter, FragmentError, Fragmenter};
use crate::message::{
    Destination, Message, MessageError, MessageType, PipelineId, RunspacePoolId, UTF8_BOM,
};

/// Which end of the conversation a state machine plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The PowerShell client (WSMan client).
    Client,
    /// The PowerShell server (WSMan service).
    Server,
}

/// The runspace pool state as it travels in RUNSPACEPOOL_STATE (MS-PSRP 2.2.3.4).
///
/// An open code: unknown values survive.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RunspacePoolState(pub i32);

impl RunspacePoolState {
    /// BeforeOpen.
    pub const BEFORE_OPEN: Self = Self(0);
    /// Opening.
    pub const OPENING: Self = Self(1);
    /// Opened.
    pub const OPENED: Self = Self(2);
    /// Closed.
    pub const CLOSED: Self = Self(3);
    /// Closing.
    pub const CLOSING: Self = Self(4);
    /// Broken.
    pub const BROKEN: Self = Self(5);
    /// NegotiationSent.
    pub const NEGOTIATION_SENT: Self = Self(6);
    /// NegotiationSucceeded.
    pub const NEGOTIATION_SUCCEEDED: Self = Self(7);
    /// Connecting.
    pub const CONNECTING: Self = Self(8);
    /// Disconnected.
    pub const DISCONNECTED: Self = Self(9);

    /// The spec name of a known state.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "BeforeOpen",
            1 => "Opening",
            2 => "Opened",
            3 => "Closed",
            4 => "Closing",
            5 => "Broken",
            6 => "NegotiationSent",
            7 => "NegotiationSucceeded",
            8 => "Connecting",
            9 => "Disconnected",
            _ => return None,
        })
    }
}

impl fmt::Debug for RunspacePoolState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "RunspacePoolState({})", self.0),
        }
    }
}

/// What the peer announced in SESSION_CAPABILITY (MS-PSRP 2.2.2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionCapability {
    /// `protocolversion`, e.g. `2.3`.
    pub protocol_version: String,
    /// `PSVersion`, e.g. `2.0`.
    pub ps_version: String,
    /// `SerializationVersion`, e.g. `1.1.0.1`.
    pub serialization_version: String,
}

impl SessionCapability {
    /// What this implementation announces: protocol 2.3, PSVersion 2.0, serialization 1.1.0.1.
    pub fn current() -> Self {
        Self {
            protocol_version: "2.3".into(),
            ps_version: "2.0".into(),
            serialization_version: "1.1.0.1".into(),
        }
    }

    fn to_value(&self) -> Value {
        PsObject::new()
            .with_member(
                "protocolversion",
                Value::Version(self.protocol_version.clone()),
            )
            .with_member("PSVersion", Value::Version(self.ps_version.clone()))
            .with_member(
                "SerializationVersion",
                Value::Version(self.serialization_version.clone()),
            )
            .into()
    }

    fn from_value(value: &Value) -> Option<Self> {
        let obj = value.as_object()?;
        let version = |name: &str| obj.property(name)?.as_version().map(str::to_owned);
        Some(Self {
            protocol_version: version("protocolversion")?,
            ps_version: version("PSVersion")?,
            serialization_version: version("SerializationVersion")?,
        })
    }

    /// Whether the peer speaks a protocol version this implementation accepts (2.x).
    pub fn is_supported(&self) -> bool {
        self.protocol_version.split('.').next() == Some("2")
    }
}

/// Something the application should know about.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The wire-visible state changed.
    StateChanged(RunspacePoolState),
    /// The peer's SESSION_CAPABILITY arrived.
    SessionCapability(SessionCapability),
    /// Server: the client asked to open with these runspace limits.
    InitRunspacePool {
        /// MinRunspaces.
        min_runspaces: i32,
        /// MaxRunspaces.
        max_runspaces: i32,
    },
    /// Client: the server's APPLICATION_PRIVATE_DATA (`ApplicationPrivateData` property).
    ApplicationPrivateData(Value),
    /// Server: the client sent its public key; answer with
    /// [`RunspacePool::send_session_key`].
    PublicKeyReceived,
    /// Client: the server asked for a public key (PUBLIC_KEY_REQUEST).
    PublicKeyRequested,
    /// Both: the session key is in place; SecureStrings can be used.
    SessionKeyReady,
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
    fragmenter: Fragmenter,
    defragmenter: Defragmenter,
    events: VecDeque<Event>,
    application_private_data: Value,
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
    Closing,
    Closed,
    Broken,
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
        Self::new(Side::Client, id, min_runspaces, max_runspaces, Value::Nil)
    }

    /// A server-side pool answering for `id`, sending `application_private_data` (the value of
    /// the `ApplicationPrivateData` property, usually a PSPrimitiveDictionary with
    /// `PSVersionTable`) when it opens.
    pub fn server(id: RunspacePoolId, application_private_data: Value) -> Self {
        Self::new(Side::Server, id, 1, 1, application_private_data)
    }

    fn new(side: Side, id: RunspacePoolId, min: i32, max: i32, data: Value) -> Self {
        Self {
            side,
            id,
            state: State::BeforeOpen,
            min_runspaces: min,
            max_runspaces: max,
            peer_capability: None,
            key: KeyState::None,
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
        self.queue(
            MessageType::SESSION_CAPABILITY,
            PipelineId::NIL,
            &SessionCapability::current().to_value(),
        );
        let init = PsObject::new()
            .with_member("MinRunspaces", self.min_runspaces)
            .with_member("MaxRunspaces", self.max_runspaces)
            .with_member(
                "PSThreadOptions",
                clixml::enum_value(
                    "System.Management.Automation.Runspaces.PSThreadOptions",
                    "Default",
                    0,
                ),
            )
            .with_member(
                "ApartmentState",
                clixml::enum_value("System.Threading.ApartmentState", "Unknown", 2),
            )
            .with_member(
                "HostInfo",
                PsObject::new()
                    .with_member("_isHostNull", true)
                    .with_member("_isHostUINull", true)
                    .with_member("_isHostRawUINull", true)
                    .with_member("_useRunspaceHost", true),
            )
            .with_member("ApplicationArguments", Value::Nil);
        self.queue(
            MessageType::INIT_RUNSPACEPOOL,
            PipelineId::NIL,
            &init.into(),
        );
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
        let body = PsObject::new().with_member("PublicKey", key.public_key().to_base64());
        self.queue(MessageType::PUBLIC_KEY, PipelineId::NIL, &body.into());
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
        self.queue(
            MessageType::PUBLIC_KEY_REQUEST,
            PipelineId::NIL,
            &Value::String(String::new()),
        );
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
        let body = PsObject::new().with_member("EncryptedSessionKey", blob.to_base64());
        self.queue(
            MessageType::ENCRYPTED_SESSION_KEY,
            PipelineId::NIL,
            &body.into(),
        );
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
                let body =
                    PsObject::new().with_member("RunspaceState", RunspacePoolState::CLOSED.0);
                self.queue(
                    MessageType::RUNSPACEPOOL_STATE,
                    PipelineId::NIL,
                    &body.into(),
                );
                self.set_state(State::Closed);
            }
            Side::Client => self.set_state(State::Closing),
        }
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
        let body = body_value(&message)?;
        match (self.side, self.state, ty) {
            (Side::Server, State::BeforeOpen, MessageType::SESSION_CAPABILITY) => {
                let cap = SessionCapability::from_value(&body).ok_or(PoolError::Payload {
                    message_type: ty,
                    what: "session capability",
                })?;
                if !cap.is_supported() {
                    return Err(PoolError::UnsupportedVersion(cap.protocol_version));
                }
                self.peer_capability = Some(cap.clone());
                self.events.push_back(Event::SessionCapability(cap));
                self.state = State::ExpectInit;
            }
            (Side::Server, State::ExpectInit, MessageType::INIT_RUNSPACEPOOL) => {
                let obj = body.as_object().ok_or(PoolError::Payload {
                    message_type: ty,
                    what: "object",
                })?;
                let (Some(min), Some(max)) = (
                    obj.property_i32("MinRunspaces"),
                    obj.property_i32("MaxRunspaces"),
                ) else {
                    return Err(PoolError::Payload {
                        message_type: ty,
                        what: "runspace limits",
                    });
                };
                self.min_runspaces = min;
                self.max_runspaces = max;
                self.events.push_back(Event::InitRunspacePool {
                    min_runspaces: min,
                    max_runspaces: max,
                });
                self.queue(
                    MessageType::SESSION_CAPABILITY,
                    PipelineId::NIL,
                    &SessionCapability::current().to_value(),
                );
                let data = PsObject::new().with_member(
                    "ApplicationPrivateData",
                    self.application_private_data.clone(),
                );
                self.queue(
                    MessageType::APPLICATION_PRIVATE_DATA,
                    PipelineId::NIL,
                    &data.into(),
                );
                let state =
                    PsObject::new().with_member("RunspaceState", RunspacePoolState::OPENED.0);
                self.queue(
                    MessageType::RUNSPACEPOOL_STATE,
                    PipelineId::NIL,
                    &state.into(),
                );
                self.set_state(State::Opened);
            }
            (Side::Client, State::NegotiationSent, MessageType::SESSION_CAPABILITY) => {
                let cap = SessionCapability::from_value(&body).ok_or(PoolError::Payload {
                    message_type: ty,
                    what: "session capability",
                })?;
                if !cap.is_supported() {
                    return Err(PoolError::UnsupportedVersion(cap.protocol_version));
                }
                self.peer_capability = Some(cap.clone());
                self.events.push_back(Event::SessionCapability(cap));
                self.set_state(State::NegotiationSucceeded);
            }
            (
                Side::Client,
                State::NegotiationSucceeded | State::Opened,
                MessageType::APPLICATION_PRIVATE_DATA,
            ) => {
                let data = body
                    .as_object()
                    .and_then(|o| o.property("ApplicationPrivateData"))
                    .cloned()
                    .unwrap_or(Value::Nil);
                self.events.push_back(Event::ApplicationPrivateData(data));
            }
            (Side::Client, _, MessageType::RUNSPACEPOOL_STATE) => {
                let state = body
                    .as_object()
                    .and_then(|o| o.property_i32("RunspaceState"))
                    .map(RunspacePoolState)
                    .ok_or(PoolError::Payload {
                        message_type: ty,
                        what: "RunspaceState",
                    })?;
                let next = match state {
                    RunspacePoolState::OPENED if self.state == State::NegotiationSucceeded => {
                        State::Opened
                    }
                    RunspacePoolState::CLOSED => State::Closed,
                    RunspacePoolState::BROKEN => State::Broken,
                    _ => return Err(self.unexpected(ty)),
                };
                self.set_state(next);
            }
            (Side::Client, State::Opened, MessageType::PUBLIC_KEY_REQUEST) => {
                self.events.push_back(Event::PublicKeyRequested);
            }
            (Side::Client, State::Opened, MessageType::ENCRYPTED_SESSION_KEY) => {
                let KeyState::AwaitingSessionKey(exchange) = &self.key else {
                    return Err(self.unexpected(ty));
                };
                let text = body
                    .as_object()
                    .and_then(|o| o.property_str("EncryptedSessionKey"))
                    .ok_or(PoolError::Payload {
                        message_type: ty,
                        what: "EncryptedSessionKey",
                    })?;
                let key = exchange.decrypt_session_key(&EncryptedSessionKey::from_base64(text)?)?;
                self.key = KeyState::Ready(key);
                self.events.push_back(Event::SessionKeyReady);
            }
            (Side::Server, State::Opened, MessageType::PUBLIC_KEY) => {
                let text = body
                    .as_object()
                    .and_then(|o| o.property_str("PublicKey"))
                    .ok_or(PoolError::Payload {
                        message_type: ty,
                        what: "PublicKey",
                    })?;
                self.key = KeyState::HavePublicKey(PublicKey::from_base64(text)?);
                self.events.push_back(Event::PublicKeyReceived);
            }
            _ => return Err(self.unexpected(ty)),
        }
        Ok(())
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

fn body_value(message: &Message) -> Result<Value, PoolError> {
    let text = message.clixml_text()?;
    if text.trim().is_empty() {
        return Ok(Value::Nil);
    }
    Ok(clixml::from_clixml(text)?)
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
    /// A message body is not valid CLIXML.
    #[error("clixml: {0}")]
    Clixml(#[from] ClixmlError),
    /// The key exchange failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// A message body lacks what its type requires.
    #[error("{message_type} lacks {what}")]
    Payload {
        /// The message type.
        message_type: MessageType,
        /// What is missing.
        what: &'static str,
    },
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
