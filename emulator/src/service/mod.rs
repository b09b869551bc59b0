//! The WS-Management service: shells, commands, enumeration, quotas and faults (MS-WSMV, SPEC
//! A1 / B1 / B2 / B4), as a sans-IO core plus a thin async driver.
//!
//! [`Service`] never touches sockets, clocks or tasks: every input carries `now`, ids come from an
//! injected [`IdSource`], and a Receive with nothing to send is not answered but *parked*
//! ([`Outcome::Wait`]). [`WsManService`] is the IO layer: it implements
//! [`SoapService`](crate::SoapService) for the HTTP server, owns the core behind a mutex, parks
//! Receives on a per-shell [`tokio::sync::Notify`] and runs a timer task for
//! [`Service::poll_timeout`].
//!
//! ```text
//!  HTTP layer ──bytes──► WsManService ──lock──► Service::handle_bytes(now, caller, bytes)
//!                            ▲    │                 │ decode, check headers, quotas, access
//!                            │    │                 ▼
//!                            │    │        Outcome::Reply(Reply) ─────────► HTTP 200 / 500 / 400
//!                            │    │        Outcome::Wait(WaitId)
//!                            │    └─ wait: Notify(shell) or OperationTimeout ─► Service::resume
//!  command threads ── OutputNotify::output_ready(shell) ┘
//!  timer task ─────── Service::poll_timeout / handle_timeout (idle expiry, unpolled shells)
//! ```
//!
//! # Calling contract of [`Service`]
//!
//! - Inputs: [`Service::handle_bytes`] (or [`Service::handle`] with a decoded envelope),
//!   [`Service::resume`] for a parked Receive (after a notification or at its deadline),
//!   [`Service::cancel`] when the HTTP request went away, [`Service::handle_timeout`] when
//!   [`Service::poll_timeout`]'s deadline has passed.
//! - Outputs: the returned [`Outcome`]; after any input, [`Service::poll_wake`] lists shells whose
//!   parked Receives should be retried (disconnect, delete, signal, expiry); then
//!   [`Service::poll_timeout`] may have moved.
//!
//! # Shell backends
//!
//! What runs inside a shell sits behind [`ShellBackend`] (see [`backend`]): Create builds one
//! per shell (WinRS: [`winrs::WinrsShell`]; PowerShell: the [`PowerShellFactory`] given to
//! [`Service::with_powershell`], by default one answering "PowerShell shells are not implemented
//! yet"), and Command / Send / Receive(room) / Signal / Disconnect / Reconnect / Connect / Delete
//! and the command list for enumeration go to it after the service has done the common checks.
//!
//! # Rules enforced here
//!
//! - Users see and use their own shells; administrators all. Another user's shell gives
//!   `w:AccessDenied` for every shell operation; an unknown shell `w:InvalidSelectors`.
//! - MaxShellsPerUser (`w:QuotaLimit` 2150859173), MaxConcurrentOperationsPerUser (requests in
//!   flight, parked Receives included: `w:QuotaLimit` 2150859174), MaxConcurrentCommandsPerShell
//!   (`w:InternalError` naming the quota; WinRS uses MaxProcessesPerShell).
//! - IdleTimeOut at Create and Disconnect must lie within the configuration's bounds
//!   (PowerShell: `min_idle_timeout_ms..=max_idle_timeout_ms`; WinRS: the default
//!   configuration's minimum up to `[winrs] idle_timeout_ms`), else `w:InvalidOptions`.
//! - A disconnected shell is deleted when its IdleTimeOut has elapsed since the disconnect. A
//!   connected shell nobody polls (no Receive, none parked) for
//!   `[testing] unpolled_disconnect_ms` turns Disconnected; its own client (same `SessionId`)
//!   picks it up again transparently with its next request.
//! - Connect while connected to another `SessionId` is refused (`w:InternalError`); Reconnect
//!   needs the `SessionId` that disconnected; after another client connected, Command / Send /
//!   Receive from the previous `SessionId` are refused the same way (requests without a
//!   `SessionId`, as pywinrm's, are not compared). Receive / Command / Send on a disconnected shell
//!   fault with 2150859230; parked Receives end with that fault when the shell disconnects.
//! - Replies never exceed the request's `MaxEnvelopeSize` (nor the server's MaxEnvelopeSizekb):
//!   Receive output is cut to fit, enumeration items are paged, anything else that cannot fit
//!   becomes `w:EncodingLimit`.

// A fault is the reply itself, built at most once per failed request, and an Outcome is moved
// once per request: boxing them would only add allocations to the common path.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

pub mod backend;
pub mod buffer;
mod driver;
pub mod identify;
pub mod winrs;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wsman::enumeration::{CommandItem, EnumerateResponse, Item, PullResponse};
use wsman::fault::QualifiedName;
use wsman::shell::{BufferMode, CreateResponse, ReceiveResponse, Shell, ShellState};
use wsman::{
    Action, Body, CommandId, DecodeError, DecodeLimits, Envelope, Fault, MessageId, ShellId, ns,
};

pub use backend::{
    CommandSummary, CreateContext, NoNotify, OutputNotify, PowerShellFactory,
    PowerShellNotImplemented, ShellBackend, ShellKind,
};
pub use driver::WsManService;
pub use identify::IdentifyAccess;

use crate::config::Config;
use crate::http::RequestContext;

/// Who sent a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The configured account name (`alice`).
    pub user: String,
    /// Member of Administrators.
    pub is_admin: bool,
    /// The client's address (`rsp:ClientIP`).
    pub client_ip: IpAddr,
}

impl Caller {
    /// A caller.
    pub fn new(user: impl Into<String>, is_admin: bool, client_ip: IpAddr) -> Self {
        Self {
            user: user.into(),
            is_admin,
            client_ip,
        }
    }

    /// The caller of an HTTP request.
    pub fn from_context(ctx: &RequestContext) -> Self {
        Self::new(ctx.user.clone(), ctx.is_admin, ctx.client_addr.ip())
    }

    fn owns(&self, owner: &str) -> bool {
        self.user.eq_ignore_ascii_case(owner)
    }

    fn may_use(&self, owner: &str) -> bool {
        self.is_admin || self.owns(owner)
    }
}

impl Default for Caller {
    fn default() -> Self {
        Self::new("psrm", true, IpAddr::V4(Ipv4Addr::LOCALHOST))
    }
}

/// An answer for the HTTP layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status: 200, 500 for faults, 400 for XML that does not parse.
    pub status: u16,
    /// The reply envelope.
    pub envelope: Envelope,
    /// Its encoding, within the request's MaxEnvelopeSize.
    pub body: String,
}

/// A parked Receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WaitId(u64);

/// What [`Service::handle`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Send this now.
    Reply(Reply),
    /// A Receive with nothing to send yet: retry with [`Service::resume`] after the shell's
    /// notification or at the deadline ([`Service::wait_info`]).
    Wait(WaitId),
}

impl Outcome {
    /// The reply, if this is one.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            Self::Reply(r) => Some(r),
            Self::Wait(_) => None,
        }
    }
}

/// Where message, shell, command and enumeration-context ids come from.
pub trait IdSource: Send + fmt::Debug {
    /// A fresh `uuid:…` message id.
    fn message_id(&mut self) -> MessageId;
    /// A fresh upper-case GUID (shell, command and enumeration-context ids).
    fn guid(&mut self) -> String;
}

/// Random v4 UUIDs (the emulator's default).
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

impl IdSource for RandomIds {
    fn message_id(&mut self) -> MessageId {
        MessageId::new(format!("uuid:{}", self.guid()))
    }

    fn guid(&mut self) -> String {
        uuid::Uuid::new_v4().to_string().to_ascii_uppercase()
    }
}

/// Predictable ids `00000000-0000-0000-0000-000000000001`, … (tests).
#[derive(Debug, Default, Clone, Copy)]
pub struct SequentialIds(u64);

impl IdSource for SequentialIds {
    fn message_id(&mut self) -> MessageId {
        MessageId::new(format!("uuid:{}", self.guid()))
    }

    fn guid(&mut self) -> String {
        self.0 += 1;
        format!("00000000-0000-0000-0000-{:012X}", self.0)
    }
}

/// The WS-Management protocol core. See the module documentation for the calling contract.
#[derive(Debug)]
pub struct Service {
    config: Arc<Config>,
    ids: Box<dyn IdSource>,
    notify: Arc<dyn OutputNotify>,
    powershell: Box<dyn PowerShellFactory>,
    shells: BTreeMap<ShellId, ShellEntry>,
    next_seq: u64,
    next_pid: u32,
    enumerations: HashMap<String, EnumerationContext>,
    waits: BTreeMap<WaitId, Wait>,
    next_wait: u64,
    in_flight: HashMap<String, u32>,
    wake: Vec<ShellId>,
    gauges: Gauges,
}

/// High-water marks the service keeps so tests can check that quotas held under load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Gauges {
    /// The most shells one user ever held at once.
    pub max_shells_per_user: usize,
    /// The most operations one user ever had in flight at once (parked Receives included).
    pub max_operations_per_user: u32,
    /// Receive replies sent again because the client repeated their `SequenceId`.
    pub replayed_receives: u64,
}

/// How many Receive replies a shell keeps for replay (one per command, the pool's included).
const REPLAY_SLOTS: usize = 64;

/// The last Receive reply of one command (or of the pool), kept until the client asks with
/// another `SequenceId`: a client whose reply was lost on the way asks again with the same one.
#[derive(Debug, Clone)]
struct LastReceive {
    command: Option<String>,
    sequence: u64,
    response: ReceiveResponse,
}

#[derive(Debug)]
struct ShellEntry {
    seq: u64,
    id: ShellId,
    kind: ShellKind,
    owner: String,
    client_ip: IpAddr,
    resource_uri: String,
    name: Option<String>,
    created: Instant,
    last_activity: Instant,
    idle_timeout: Duration,
    max_idle_timeout: Duration,
    buffer_mode: BufferMode,
    input_streams: Vec<String>,
    output_streams: Vec<String>,
    locale: String,
    data_locale: String,
    compression: String,
    profile_loaded: bool,
    max_commands: u32,
    link: Link,
    parked: u32,
    backend: Box<dyn ShellBackend>,
    last_receives: Vec<LastReceive>,
}

/// The shell's connection, as seen by the service.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Link {
    /// A client is attached; `last_poll` is its last request to the shell.
    Connected {
        session: Option<String>,
        last_poll: Instant,
    },
    /// No client: since the disconnect (the idle clock's start).
    Disconnected {
        since: Instant,
        session: Option<String>,
        cause: DisconnectCause,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DisconnectCause {
    /// `rsp:Disconnect`.
    Client,
    /// Nobody polled for `unpolled_disconnect_ms`.
    Unpolled,
}

#[derive(Debug)]
struct Wait {
    user: String,
    shell: ShellId,
    command: Option<CommandId>,
    streams: Vec<String>,
    request: wsman::Header,
    limit: usize,
    deadline: Instant,
}

#[derive(Debug)]
struct EnumerationContext {
    user: String,
    items: Vec<Item>,
    expires: Instant,
}

/// Enumeration targets and shell resources a request may name.
enum Target {
    Shell(ShellKind),
    Shells,
    Commands,
    Config,
}

/// A shell operation's result: a body, or a fault.
type OpResult = Result<Body, Fault>;

impl Service {
    /// A service over `config` with random ids and no output notification (use
    /// [`Service::with_notify`] when Receives are parked).
    pub fn new(config: Config) -> Self {
        Self {
            config: Arc::new(config),
            ids: Box::new(RandomIds),
            notify: Arc::new(NoNotify),
            powershell: Box::new(PowerShellNotImplemented),
            shells: BTreeMap::new(),
            next_seq: 0,
            next_pid: 1000,
            enumerations: HashMap::new(),
            waits: BTreeMap::new(),
            next_wait: 0,
            in_flight: HashMap::new(),
            wake: Vec::new(),
            gauges: Gauges::default(),
        }
    }

    /// Uses `ids` for every id the service makes.
    pub fn with_ids(mut self, ids: impl IdSource + 'static) -> Self {
        self.ids = Box::new(ids);
        self
    }

    /// Backends report output through `notify`.
    pub fn with_notify(mut self, notify: Arc<dyn OutputNotify>) -> Self {
        self.notify = notify;
        self
    }

    /// PowerShell shells are built by `factory`.
    pub fn with_powershell(mut self, factory: impl PowerShellFactory + 'static) -> Self {
        self.powershell = Box::new(factory);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Number of shells alive.
    pub fn shell_count(&self) -> usize {
        self.shells.len()
    }

    /// Decodes `bytes` and handles the envelope; undecodable input gets the fault Windows sends
    /// (`w:EncodingLimit` over the size limit, `a:InvalidMessageInformationHeader` for missing
    /// or malformed headers, a `s:Sender` schema fault with HTTP 400 for XML that does not
    /// parse).
    pub fn handle_bytes(&mut self, now: Instant, caller: &Caller, bytes: &[u8]) -> Outcome {
        let limits = DecodeLimits {
            max_bytes: usize::try_from(self.config.max_envelope_size()).unwrap_or(usize::MAX),
            ..DecodeLimits::default()
        };
        match Envelope::decode_with(bytes, &limits) {
            Ok(envelope) => self.handle(now, caller, envelope),
            Err(e) => Outcome::Reply(self.decode_failure(&e)),
        }
    }

    /// Handles one decoded request.
    pub fn handle(&mut self, now: Instant, caller: &Caller, envelope: Envelope) -> Outcome {
        let header = envelope.header.clone();
        if let Some(m) = header.malformed.first() {
            let fault = Fault::invalid_header(&self.config.computer_name, &header_message(m));
            return Outcome::Reply(self.fault_reply(&header, fault));
        }
        let key = caller.user.to_ascii_lowercase();
        let max_ops = self.config.service.max_concurrent_operations_per_user;
        let count = self.in_flight.entry(key.clone()).or_insert(0);
        if *count >= max_ops {
            let fault = Fault::operation_quota(&self.config.computer_name, max_ops);
            return Outcome::Reply(self.fault_reply(&header, fault));
        }
        *count += 1;
        self.gauges.max_operations_per_user = self.gauges.max_operations_per_user.max(*count);
        let outcome = self.dispatch(now, caller, envelope);
        if matches!(outcome, Outcome::Reply(_)) {
            self.release_operation(&key);
        }
        outcome
    }

    /// High-water marks: shells per user, operations in flight per user, replayed Receives.
    pub fn gauges(&self) -> Gauges {
        self.gauges
    }

    /// Fault injection: deletes every disconnected shell now, as if its IdleTimeout had
    /// passed. Returns how many went.
    pub fn expire_disconnected(&mut self) -> usize {
        let gone: Vec<ShellId> = self
            .shells
            .values()
            .filter(|s| matches!(s.link, Link::Disconnected { .. }))
            .map(|s| s.id.clone())
            .collect();
        for id in &gone {
            if let Some(mut shell) = self.shells.remove(id) {
                tracing::debug!(shell = %id, "injected fault: idle shell expired early");
                shell.backend.delete();
                self.wake.push(id.clone());
            }
        }
        gone.len()
    }

    /// Fault injection: breaks the runspace pool of the shell `header` names (PowerShell
    /// shells: RUNSPACEPOOL_STATE Broken, pipelines stopped). Returns whether one broke.
    pub fn break_runspace(&mut self, header: &wsman::Header) -> bool {
        let Some(id) = header.shell_id() else {
            return false;
        };
        let Some(shell) = find_shell(&mut self.shells, &id) else {
            return false;
        };
        let broke = shell.backend.break_pool();
        if broke {
            let id = shell.id.clone();
            tracing::debug!(shell = %id, "injected fault: runspace pool broken");
            self.wake.push(id);
        }
        broke
    }

    /// Retries a parked Receive: `Some(reply)` when it is over (output, command state, the
    /// shell disconnected or deleted, or `now` past its OperationTimeout → `w:TimedOut`),
    /// `None` to keep waiting. Unknown ids give `None`.
    pub fn resume(&mut self, now: Instant, id: WaitId) -> Option<Reply> {
        let wait = self.waits.get(&id)?;
        let request = wait.request.clone();
        let machine = self.config.computer_name.clone();
        let result = match self.shells.get_mut(&wait.shell) {
            None => Some(Err(Fault::invalid_selectors(&machine))),
            Some(shell) => match &shell.link {
                Link::Disconnected {
                    cause: DisconnectCause::Client,
                    ..
                } => Some(Err(Fault::stream_disconnected(&machine))),
                Link::Connected {
                    session: Some(owner),
                    ..
                } if request.session_id.as_ref().is_some_and(|s| s != owner) => {
                    Some(Err(Fault::already_connected(&machine)))
                }
                _ => {
                    let room = receive_room(&request, wait.limit);
                    match shell
                        .backend
                        .receive(now, wait.command.as_ref(), &wait.streams, room)
                    {
                        Ok(Some(r)) => Some(Ok(Body::ReceiveResponse(r))),
                        Ok(None) if now >= wait.deadline => Some(Err(Fault::timed_out(&machine))),
                        Ok(None) => None,
                        Err(f) => Some(Err(f)),
                    }
                }
            },
        };
        let result = result?;
        let wait = self.waits.remove(&id)?;
        if let Some(shell) = self.shells.get_mut(&wait.shell) {
            shell.parked = shell.parked.saturating_sub(1);
            touch(shell, now);
        }
        self.release_operation(&wait.user);
        if let (Ok(Body::ReceiveResponse(r)), Some(shell)) =
            (&result, self.shells.get_mut(&wait.shell))
        {
            remember_receive(shell, wait.command.as_ref(), request.sequence_id, r);
        }
        Some(match result {
            Ok(body) => self.reply(&request, body, Some(wait.limit)),
            Err(f) => self.fault_reply(&request, f),
        })
    }

    /// Forgets a parked Receive whose HTTP request went away (frees its operation slot).
    pub fn cancel(&mut self, id: WaitId) {
        if let Some(wait) = self.waits.remove(&id) {
            if let Some(shell) = self.shells.get_mut(&wait.shell) {
                shell.parked = shell.parked.saturating_sub(1);
            }
            self.release_operation(&wait.user);
        }
    }

    /// The shell a parked Receive waits on and its deadline (OperationTimeout, capped at
    /// MaxTimeoutms).
    pub fn wait_info(&self, id: WaitId) -> Option<(ShellId, Instant)> {
        self.waits.get(&id).map(|w| (w.shell.clone(), w.deadline))
    }

    /// The next instant at which [`Service::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let unpolled = self.unpolled_interval();
        let shells = self.shells.values().filter_map(|s| match &s.link {
            Link::Connected { last_poll, .. } if s.parked == 0 => Some(*last_poll + unpolled),
            Link::Connected { .. } => None,
            Link::Disconnected { since, .. } => Some(*since + s.idle_timeout),
        });
        let contexts = self.enumerations.values().map(|c| c.expires);
        shells.chain(contexts).min()
    }

    /// Applies every deadline that has passed: unpolled shells turn Disconnected, disconnected
    /// shells past their IdleTimeOut are deleted with their commands, enumeration contexts expire.
    pub fn handle_timeout(&mut self, now: Instant) {
        let unpolled = self.unpolled_interval();
        let mut expired = Vec::new();
        for shell in self.shells.values_mut() {
            match shell.link.clone() {
                Link::Connected { session, last_poll }
                    if shell.parked == 0 && now >= last_poll + unpolled =>
                {
                    shell.link = Link::Disconnected {
                        since: last_poll + unpolled,
                        session,
                        cause: DisconnectCause::Unpolled,
                    };
                    let mode = shell.buffer_mode.clone();
                    shell.backend.disconnect(now, &mode);
                    if now >= last_poll + unpolled + shell.idle_timeout {
                        expired.push(shell.id.clone());
                    }
                }
                Link::Disconnected { since, .. } if now >= since + shell.idle_timeout => {
                    expired.push(shell.id.clone());
                }
                _ => {}
            }
        }
        for id in expired {
            if let Some(mut shell) = self.shells.remove(&id) {
                tracing::debug!(shell = %id, "idle timeout expired: shell deleted");
                shell.backend.delete();
                self.wake.push(id);
            }
        }
        self.enumerations.retain(|_, c| c.expires > now);
    }

    /// A shell whose parked Receives should be retried now, if any.
    pub fn poll_wake(&mut self) -> Option<ShellId> {
        self.wake.pop()
    }

    fn unpolled_interval(&self) -> Duration {
        span(self.config.testing.unpolled_disconnect_ms.max(1))
    }

    fn release_operation(&mut self, user_key: &str) {
        if let Some(c) = self.in_flight.get_mut(&user_key.to_ascii_lowercase()) {
            *c = c.saturating_sub(1);
        }
    }

    fn machine(&self) -> &str {
        &self.config.computer_name
    }

    fn dispatch(&mut self, now: Instant, caller: &Caller, envelope: Envelope) -> Outcome {
        let Envelope { header, body } = envelope;
        let limit = self.reply_limit(&header);
        let result = match (&header.action, body) {
            (Action::Create, Body::Create(shell)) => self.create(now, caller, &header, &shell),
            (Action::Get, _) => self.get(now, caller, &header),
            (Action::Delete, _) => self.delete(caller, &header),
            (Action::Enumerate, Body::Enumerate(e)) => {
                self.enumerate(now, caller, &header, &e, limit)
            }
            (Action::Pull, Body::Pull(p)) => self.pull(now, caller, &header, &p, limit),
            (Action::Release, Body::Release(r)) => self.release(caller, &r),
            (Action::Command, Body::Command(line)) => self.command(now, caller, &header, &line),
            (Action::Send, Body::Send(send)) => self.send(now, caller, &header, &send),
            (Action::Receive, Body::Receive(receive)) => {
                return self.receive(now, caller, header, receive, limit);
            }
            (Action::Signal, Body::Signal(signal)) => self.signal(now, caller, &header, &signal),
            (Action::Disconnect, Body::Disconnect(d)) => self.disconnect(now, caller, &header, &d),
            (Action::Reconnect, Body::Reconnect(r)) => self.reconnect(now, caller, &header, &r),
            (Action::Connect, Body::Connect(c)) => self.connect(now, caller, &header, &c),
            (
                Action::Create
                | Action::Enumerate
                | Action::Pull
                | Action::Release
                | Action::Command
                | Action::Send
                | Action::Receive
                | Action::Signal
                | Action::Disconnect
                | Action::Reconnect
                | Action::Connect,
                _,
            ) => Err(schema_fault(
                self.machine(),
                "the request body does not match its action",
            )),
            (other, _) => Err(action_not_supported(self.machine(), other.as_uri())),
        };
        Outcome::Reply(match result {
            Ok(body) => self.reply(&header, body, Some(limit)),
            Err(fault) => self.fault_reply(&header, fault),
        })
    }

    /// The largest reply allowed: the request's MaxEnvelopeSize, never above the server's.
    fn reply_limit(&self, header: &wsman::Header) -> usize {
        let server = usize::try_from(self.config.max_envelope_size()).unwrap_or(usize::MAX);
        header
            .max_envelope_size
            .and_then(|m| usize::try_from(m).ok())
            .map_or(server, |m| m.min(server))
    }

    fn reply(&mut self, request: &wsman::Header, body: Body, limit: Option<usize>) -> Reply {
        let envelope = Envelope::reply_to(request, self.ids.message_id(), body);
        let encoded = envelope.encode();
        match limit {
            Some(l) if encoded.len() > l => {
                let fault = Fault::encoding_limit(self.machine());
                self.fault_reply(request, fault)
            }
            _ => Reply {
                status: 200,
                envelope,
                body: encoded,
            },
        }
    }

    fn fault_reply(&mut self, request: &wsman::Header, fault: Fault) -> Reply {
        let relates = (!request.message_id.as_str().is_empty()).then(|| request.message_id.clone());
        let envelope = fault.to_envelope(self.ids.message_id(), relates);
        Reply {
            status: 500,
            body: envelope.encode(),
            envelope,
        }
    }

    fn decode_failure(&mut self, e: &DecodeError) -> Reply {
        let machine = self.config.computer_name.clone();
        let (status, fault) = match e {
            DecodeError::TooLarge { .. } => (500, Fault::encoding_limit(&machine)),
            DecodeError::MissingHeader(name) => (
                500,
                Fault::invalid_header(
                    &machine,
                    &format!("The required SOAP header {name} is missing. "),
                ),
            ),
            DecodeError::MalformedXml { .. }
            | DecodeError::InvalidUtf8 { .. }
            | DecodeError::DtdNotAllowed
            | DecodeError::EntityNotAllowed { .. }
            | DecodeError::UnknownPrefix { .. }
            | DecodeError::TooDeep { .. }
            | DecodeError::TooManyElements { .. }
            | DecodeError::TooManyAttributes { .. }
            | DecodeError::NotAnEnvelope { .. } => (400, schema_fault(&machine, &e.to_string())),
            _ => (500, schema_fault(&machine, &e.to_string())),
        };
        let envelope = fault.to_envelope(self.ids.message_id(), None);
        Reply {
            status,
            body: envelope.encode(),
            envelope,
        }
    }

    fn target(&self, header: &wsman::Header) -> Result<Target, Fault> {
        let uri = header.resource_uri.as_deref().unwrap_or_default().trim();
        let is = |u: &str| uri.eq_ignore_ascii_case(u);
        if is(ns::RESOURCE_CMD) {
            return Ok(Target::Shell(ShellKind::Cmd));
        }
        if is(ns::RESOURCE_SHELLS) {
            return Ok(Target::Shells);
        }
        if is(ns::RESOURCE_COMMANDS) {
            return Ok(Target::Commands);
        }
        if is(ns::RESOURCE_CONFIG) {
            return Ok(Target::Config);
        }
        let prefix = ns::RESOURCE_POWERSHELL_PREFIX;
        if uri.len() > prefix.len()
            && uri.is_char_boundary(prefix.len())
            && uri[..prefix.len()].eq_ignore_ascii_case(prefix)
        {
            let name = &uri[prefix.len()..];
            if let Some(c) = self.config.session_configuration(name) {
                return Ok(Target::Shell(ShellKind::PowerShell(c.name.clone())));
            }
        }
        Err(Fault::destination_unreachable(self.machine(), uri))
    }

    /// The shell a request addresses, checked for existence and access.
    fn shell_for(
        &mut self,
        caller: &Caller,
        header: &wsman::Header,
    ) -> Result<&mut ShellEntry, Fault> {
        match self.target(header)? {
            Target::Shell(_) | Target::Shells => {}
            Target::Commands | Target::Config => {
                return Err(Fault::invalid_selectors(self.machine()));
            }
        }
        let machine = self.config.computer_name.clone();
        let id = header
            .shell_id()
            .ok_or_else(|| Fault::invalid_selectors(&machine))?;
        let shell =
            find_shell(&mut self.shells, &id).ok_or_else(|| Fault::invalid_selectors(&machine))?;
        if !caller.may_use(&shell.owner) {
            return Err(Fault::access_denied(&machine));
        }
        Ok(shell)
    }

    /// Like [`Service::shell_for`], for operations that need the shell attached to this client:
    /// a shell that only went Disconnected because nobody polled is re-attached to its own
    /// client; one disconnected by a client faults with 2150859230.
    fn attached_shell(
        &mut self,
        now: Instant,
        caller: &Caller,
        header: &wsman::Header,
    ) -> Result<&mut ShellEntry, Fault> {
        let machine = self.config.computer_name.clone();
        let shell = self.shell_for(caller, header)?;
        if let (
            Link::Connected {
                session: Some(owner),
                ..
            },
            Some(asking),
        ) = (&shell.link, &header.session_id)
        {
            // Another client took the shell over (Connect): this client's view is
            // Disconnected / Busy, and its requests are refused.
            if owner != asking {
                return Err(Fault::already_connected(&machine));
            }
        }
        if let Link::Disconnected { session, cause, .. } = &shell.link {
            let same = session == &header.session_id;
            if *cause == DisconnectCause::Unpolled && same {
                shell.link = Link::Connected {
                    session: session.clone(),
                    last_poll: now,
                };
                shell.backend.reconnect(now, None, None)?;
            } else {
                return Err(Fault::stream_disconnected(&machine));
            }
        }
        touch(shell, now);
        Ok(shell)
    }

    fn create(
        &mut self,
        now: Instant,
        caller: &Caller,
        header: &wsman::Header,
        body: &Shell,
    ) -> OpResult {
        let Target::Shell(kind) = self.target(header)? else {
            return Err(action_not_supported(
                self.machine(),
                Action::Create.as_uri(),
            ));
        };
        let machine = self.config.computer_name.clone();
        let max_shells = self.config.service.max_shells_per_user;
        let owned = self
            .shells
            .values()
            .filter(|s| caller.owns(&s.owner))
            .count();
        if owned >= usize::try_from(max_shells).unwrap_or(usize::MAX) {
            return Err(Fault::shell_quota(&machine, max_shells));
        }
        let (default_idle, min_idle, max_idle, mode, max_commands, ps_config) = match &kind {
            ShellKind::PowerShell(name) => {
                let c = self
                    .config
                    .session_configuration(name)
                    .cloned()
                    .unwrap_or_default();
                let mode = match c.output_buffering_mode {
                    crate::config::OutputBufferingMode::Drop => BufferMode::Drop,
                    _ => BufferMode::Block,
                };
                (
                    c.idle_timeout_ms,
                    c.min_idle_timeout_ms,
                    c.max_idle_timeout_ms,
                    mode,
                    c.max_concurrent_commands_per_shell,
                    Some(c),
                )
            }
            _ => {
                let w = &self.config.winrs;
                (
                    w.idle_timeout_ms,
                    min_idle(&self.config, &kind),
                    w.idle_timeout_ms,
                    BufferMode::Block,
                    w.max_processes_per_shell,
                    None,
                )
            }
        };
        let idle_ms = match body.idle_timeout {
            Some(d) => {
                let ms = backend::millis(d);
                check_idle(&machine, ms, min_idle, max_idle)?;
                ms
            }
            None => default_idle,
        };
        let id = match (&kind, body.id()) {
            (ShellKind::PowerShell(_), Some(id)) if !id.as_str().is_empty() => {
                ShellId::new(id.as_str().to_ascii_uppercase())
            }
            _ => ShellId::new(self.ids.guid()),
        };
        if find_shell(&mut self.shells, &id).is_some() {
            return Err(already_exists(&machine));
        }
        let pid = self.next_pid;
        self.next_pid = self.next_pid.wrapping_add(4);
        let ctx = CreateContext {
            shell_id: &id,
            kind: &kind,
            session_configuration: ps_config.as_ref(),
            owner: &caller.user,
            client_ip: caller.client_ip,
            body,
            options: &header.options,
            config: &self.config,
            notify: self.notify.clone(),
            now,
        };
        let backend: Box<dyn ShellBackend> = match &kind {
            ShellKind::Cmd => Box::new(winrs::WinrsShell::new(&ctx, pid)),
            _ => self.powershell.create(ctx)?,
        };
        self.next_seq += 1;
        let resource_uri = header.resource_uri.clone().unwrap_or_default();
        let name = body
            .name_attr
            .clone()
            .or_else(|| body.name.clone())
            .or_else(|| {
                matches!(kind, ShellKind::PowerShell(_)).then(|| format!("WinRM{}", self.next_seq))
            });
        let entry = ShellEntry {
            seq: self.next_seq,
            id: id.clone(),
            kind,
            owner: caller.user.clone(),
            client_ip: caller.client_ip,
            resource_uri: resource_uri.clone(),
            name,
            created: now,
            last_activity: now,
            idle_timeout: span(idle_ms),
            max_idle_timeout: Duration::from_millis(max_idle),
            // A BufferMode in the Create body wins over the configuration's.
            buffer_mode: match &body.buffer_mode {
                Some(m @ (BufferMode::Block | BufferMode::Drop)) => m.clone(),
                _ => mode,
            },
            input_streams: body
                .input_streams
                .clone()
                .unwrap_or_else(|| vec!["stdin".into()]),
            output_streams: body
                .output_streams
                .clone()
                .unwrap_or_else(|| vec!["stdout".into(), "stderr".into()]),
            locale: header.locale.clone().unwrap_or_else(|| "en-US".into()),
            data_locale: header
                .data_locale
                .clone()
                .or_else(|| header.locale.clone())
                .unwrap_or_else(|| "en-US".into()),
            compression: if header.compression_type.is_some() {
                "XpressCompression".into()
            } else {
                "NoCompression".into()
            },
            profile_loaded: !header
                .options
                .get("WINRS_NOPROFILE")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            max_commands,
            link: Link::Connected {
                session: header.session_id.clone(),
                last_poll: now,
            },
            parked: 0,
            backend,
            last_receives: Vec::new(),
        };
        let shell = shell_element(&entry, now, false);
        let owner = entry.owner.to_ascii_lowercase();
        self.shells.insert(id.clone(), entry);
        let held = self
            .shells
            .values()
            .filter(|s| s.owner.eq_ignore_ascii_case(&owner))
            .count();
        self.gauges.max_shells_per_user = self.gauges.max_shells_per_user.max(held);
        tracing::debug!(shell = %id, user = %caller.user, "shell created");
        Ok(Body::CreateResponse(Box::new(CreateResponse {
            address: header
                .to
                .clone()
                .unwrap_or_else(|| "http://localhost:5985/wsman".into()),
            resource_uri: Some(resource_uri),
            selectors: wsman::header::SelectorSet::shell_id(&id),
            shell: Some(shell),
        })))
    }

    fn get(&mut self, now: Instant, caller: &Caller, header: &wsman::Header) -> OpResult {
        if let Target::Config = self.target(header)? {
            return Ok(Body::GetResponse(wsman::Resource::Config(config_resource(
                &self.config,
            ))));
        }
        let shell = self.shell_for(caller, header)?;
        Ok(Body::GetResponse(wsman::Resource::Shell(Box::new(
            shell_element(shell, now, true),
        ))))
    }

    fn delete(&mut self, caller: &Caller, header: &wsman::Header) -> OpResult {
        let id = self.shell_for(caller, header)?.id.clone();
        if let Some(mut shell) = self.shells.remove(&id) {
            shell.backend.delete();
            self.wake.push(id);
        }
        Ok(Body::DeleteResponse)
    }

    fn command(
        &mut self,
        now: Instant,
        caller: &Caller,
        header: &wsman::Header,
        line: &wsman::shell::CommandLine,
    ) -> OpResult {
        let machine = self.config.computer_name.clone();
        let fresh = CommandId::new(self.ids.guid());
        let shell = self.attached_shell(now, caller, header)?;
        let limit = shell.max_commands;
        if shell.backend.running_commands() >= usize::try_from(limit).unwrap_or(usize::MAX) {
            return Err(Fault::command_quota(&machine, limit));
        }
        let id = match &line.command_id {
            Some(id) if !id.as_str().is_empty() => CommandId::new(id.as_str().to_ascii_uppercase()),
            _ => fresh,
        };
        let id = shell.backend.command(now, id, line, &header.options)?;
        Ok(Body::CommandResponse(id))
    }

    fn send(
        &mut self,
        now: Instant,
        caller: &Caller,
        header: &wsman::Header,
        send: &wsman::shell::Send,
    ) -> OpResult {
        let shell = self.attached_shell(now, caller, header)?;
        for stream in &send.streams {
            shell.backend.send(now, stream)?;
        }
        Ok(Body::SendResponse)
    }

    fn receive(
        &mut self,
        now: Instant,
        caller: &Caller,
        header: wsman::Header,
        receive: wsman::shell::Receive,
        limit: usize,
    ) -> Outcome {
        // The SequenceId may come as the `p:SequenceId` header or the rsp:Receive attribute.
        let mut header = header;
        if header.sequence_id.is_none() {
            header.sequence_id = receive.sequence_id;
        }
        let max_timeout = span(self.config.service.max_timeout_ms);
        let room = receive_room(&header, limit);
        let result = match self.attached_shell(now, caller, &header) {
            Err(f) => Err(f),
            Ok(shell) => {
                if let Some(again) = replay_receive(shell, receive.command_id.as_ref(), &header) {
                    self.gauges.replayed_receives += 1;
                    let reply = self.reply(&header, Body::ReceiveResponse(again), Some(limit));
                    return Outcome::Reply(reply);
                }
                let r =
                    shell
                        .backend
                        .receive(now, receive.command_id.as_ref(), &receive.streams, room);
                match &r {
                    Ok(None) => shell.parked += 1,
                    Ok(Some(resp)) => remember_receive(
                        shell,
                        receive.command_id.as_ref(),
                        header.sequence_id,
                        resp,
                    ),
                    Err(_) => {}
                }
                r.map(|o| (o, shell.id.clone()))
            }
        };
        let reply = match result {
            Ok((Some(r), _)) => self.reply(&header, Body::ReceiveResponse(r), Some(limit)),
            Ok((None, shell)) => {
                let timeout = header
                    .operation_timeout
                    .unwrap_or(max_timeout)
                    .min(max_timeout);
                self.next_wait += 1;
                let id = WaitId(self.next_wait);
                self.waits.insert(
                    id,
                    Wait {
                        user: caller.user.to_ascii_lowercase(),
                        shell,
                        command: receive.command_id,
                        streams: receive.streams,
                        request: header,
                        limit,
                        deadline: now + timeout,
                    },
                );
                return Outcome::Wait(id);
            }
            Err(f) => self.fault_reply(&header, f),
        };
        Outcome::Reply(reply)
    }

    fn signal(
        &mut self,
        now: Instant,
        caller: &Caller,
        header: &wsman::Header,
        signal: &wsman::shell::Signal,
    ) -> OpResult {
        let shell = self.shell_for(caller, header)?;
        touch(shell, now);
        shell
            .backend
            .signal(now, signal.command_id.as_ref(), &signal.code)?;
        let id = shell.id.clone();
        self.wake.push(id);
        Ok(Body::SignalResponse)
    }

    fn disconnect(
        &mut self,
        now: Instant,
        caller: &Caller,
        header: &wsman::Header,
        d: &wsman::shell::Disconnect,
    ) -> OpResult {
        let machine = self.config.computer_name.clone();
        let config = self.config.clone();
        let shell = self.shell_for(caller, header)?;
        let min_idle = min_idle(&config, &shell.kind);
        if let Some(t) = d.idle_timeout {
            let ms = backend::millis(t);
            check_idle(
                &machine,
                ms,
                min_idle,
                backend::millis(shell.max_idle_timeout),
            )?;
            shell.idle_timeout = t.min(MAX_SPAN);
        }
        if let Some(mode @ (BufferMode::Block | BufferMode::Drop)) = &d.buffer_mode {
            shell.buffer_mode = mode.clone();
        }
        let session = match &shell.link {
            Link::Connected { session, .. } => session.clone(),
            Link::Disconnected { session, .. } => session.clone(),
        };
        shell.link = Link::Disconnected {
            since: now,
            session: header.session_id.clone().or(session),
            cause: DisconnectCause::Client,
        };
        shell.last_activity = now;
        let mode = shell.buffer_mode.clone();
        shell.backend.disconnect(now, &mode);
        let id = shell.id.clone();
        self.wake.push(id);
        Ok(Body::DisconnectResponse)
    }

    fn reconnect(
        &mut self,
        now: Instant,
        caller: &Caller,
        header: &wsman::Header,
        r: &wsman::shell::Reconnect,
    ) -> OpResult {
        let machine = self.config.computer_name.clone();
        let shell = self.shell_for(caller, header)?;
        match &shell.link {
            Link::Connected { session, .. } if session != &header.session_id => {
                return Err(Fault::already_connected(&machine));
            }
            Link::Disconnected { session, .. }
                if session.is_some() && session != &header.session_id =>
            {
                return Err(reconnect_other_client(&machine));
            }
            _ => {}
        }
        // MS-PSRP 3.1.5.3.18: the Reconnect's BufferMode is the mode of the next disconnect;
        // kept on the shell so a later Disconnect without one (any client's) applies it. A
        // value the server does not know changes nothing, as at Create.
        let mode = match &r.buffer_mode {
            Some(m @ (BufferMode::Block | BufferMode::Drop)) => Some(m.clone()),
            _ => None,
        };
        shell
            .backend
            .reconnect(now, r.command_id.as_ref(), mode.as_ref())?;
        if let Some(mode) = mode {
            shell.buffer_mode = mode;
        }
        shell.link = Link::Connected {
            session: header.session_id.clone(),
            last_poll: now,
        };
        touch(shell, now);
        Ok(Body::ReconnectResponse)
    }

    fn connect(
        &mut self,
        now: Instant,
        caller: &Caller,
        header: &wsman::Header,
        c: &wsman::shell::Connect,
    ) -> OpResult {
        let machine = self.config.computer_name.clone();
        let shell = self.shell_for(caller, header)?;
        if let Link::Connected { session, .. } = &shell.link
            && session != &header.session_id
            && c.command_id.is_none()
        {
            return Err(Fault::already_connected(&machine));
        }
        let response = shell.backend.connect(now, c)?;
        shell.link = Link::Connected {
            session: header.session_id.clone(),
            last_poll: now,
        };
        touch(shell, now);
        // Receives the previous client left parked end now.
        let id = shell.id.clone();
        self.wake.push(id);
        Ok(Body::ConnectResponse(response))
    }

    fn enumerate(
        &mut self,
        now: Instant,
        caller: &Caller,
        header: &wsman::Header,
        e: &wsman::enumeration::Enumerate,
        limit: usize,
    ) -> OpResult {
        let machine = self.config.computer_name.clone();
        let items: Vec<Item> = match self.target(header)? {
            Target::Shells => {
                let mut visible: Vec<&ShellEntry> = self
                    .shells
                    .values()
                    .filter(|s| caller.may_use(&s.owner))
                    .collect();
                visible.sort_by_key(|s| s.seq);
                visible
                    .into_iter()
                    .map(|s| Item::Shell(Box::new(shell_element(s, now, true))))
                    .collect()
            }
            Target::Commands => {
                let id = e
                    .filter
                    .as_ref()
                    .and_then(|f| f.selectors.as_ref())
                    .and_then(|s| s.get("ShellId"))
                    .map(ShellId::new)
                    .ok_or_else(|| Fault::invalid_selectors(&machine))?;
                let shell = find_shell(&mut self.shells, &id)
                    .ok_or_else(|| Fault::invalid_selectors(&machine))?;
                if !caller.may_use(&shell.owner) {
                    return Err(Fault::access_denied(&machine));
                }
                shell
                    .backend
                    .commands()
                    .into_iter()
                    .map(|c| {
                        Item::Command(CommandItem {
                            command_id: Some(c.id),
                            command_line: Some(c.command_line),
                            command_state: Some(command_state_name(&c.state).to_owned()),
                        })
                    })
                    .collect()
            }
            _ => return Err(action_not_supported(&machine, Action::Enumerate.as_uri())),
        };
        let max = e.max_elements.map_or(usize::MAX, |m| {
            usize::try_from(m.max(1)).unwrap_or(usize::MAX)
        });
        let max = max
            .min(usize::try_from(self.config.service.max_batch_items.max(1)).unwrap_or(usize::MAX));
        let context_id = self.ids.guid();
        if !e.optimize {
            self.enumerations.insert(
                context_id.clone(),
                EnumerationContext {
                    user: caller.user.to_ascii_lowercase(),
                    items,
                    expires: now + self.enumeration_timeout(),
                },
            );
            return Ok(Body::EnumerateResponse(EnumerateResponse {
                context: Some(context_id),
                items: None,
                end_of_sequence: false,
            }));
        }
        let mut rest = items;
        let mut page = Vec::new();
        let base = self.probe_size(
            header,
            Body::EnumerateResponse(EnumerateResponse {
                context: Some(context_id.clone()),
                items: Some(Vec::new()),
                end_of_sequence: true,
            }),
        );
        take_page(
            &machine,
            &mut rest,
            &mut page,
            max,
            limit.saturating_sub(base),
        )?;
        let done = rest.is_empty();
        if !done {
            self.enumerations.insert(
                context_id.clone(),
                EnumerationContext {
                    user: caller.user.to_ascii_lowercase(),
                    items: rest,
                    expires: now + self.enumeration_timeout(),
                },
            );
        }
        Ok(Body::EnumerateResponse(EnumerateResponse {
            context: Some(if done { String::new() } else { context_id }),
            items: Some(page),
            end_of_sequence: done,
        }))
    }

    fn pull(
        &mut self,
        now: Instant,
        caller: &Caller,
        header: &wsman::Header,
        p: &wsman::enumeration::Pull,
        limit: usize,
    ) -> OpResult {
        let machine = self.config.computer_name.clone();
        let key = p.context.trim().to_owned();
        let base = self.probe_size(
            header,
            Body::PullResponse(PullResponse {
                context: Some(key.clone()),
                items: Vec::new(),
                end_of_sequence: true,
            }),
        );
        let timeout = self.enumeration_timeout();
        let Some(ctx) = self.enumerations.get_mut(&key) else {
            return Err(invalid_enumeration_context(&machine));
        };
        if ctx.user != caller.user.to_ascii_lowercase() || ctx.expires <= now {
            return Err(invalid_enumeration_context(&machine));
        }
        let max = p
            .max_elements
            .map_or(1, |m| usize::try_from(m.max(1)).unwrap_or(usize::MAX));
        let mut page = Vec::new();
        take_page(
            &machine,
            &mut ctx.items,
            &mut page,
            max,
            limit.saturating_sub(base),
        )?;
        ctx.expires = now + timeout;
        let done = ctx.items.is_empty();
        if done {
            self.enumerations.remove(&key);
        }
        Ok(Body::PullResponse(PullResponse {
            context: (!done).then_some(key),
            items: page,
            end_of_sequence: done,
        }))
    }

    fn release(&mut self, caller: &Caller, r: &wsman::enumeration::Release) -> OpResult {
        let key = r.context.trim();
        match self.enumerations.get(key) {
            Some(c) if c.user == caller.user.to_ascii_lowercase() => {
                self.enumerations.remove(key);
                Ok(Body::ReleaseResponse)
            }
            _ => Err(invalid_enumeration_context(self.machine())),
        }
    }

    fn enumeration_timeout(&self) -> Duration {
        span(self.config.service.enumeration_timeout_ms)
    }

    /// Encoded size of a reply with `body` (ids have a fixed length, so this is exact up to the
    /// items added later).
    fn probe_size(&self, header: &wsman::Header, body: Body) -> usize {
        Envelope::reply_to(header, probe_id(), body).encode().len()
    }
}

/// Moves items from `rest` to `page` while they fit in `room` characters and `max` items.
fn take_page(
    machine: &str,
    rest: &mut Vec<Item>,
    page: &mut Vec<Item>,
    max: usize,
    room: usize,
) -> Result<(), Fault> {
    let mut used = 0;
    let mut taken = 0;
    for item in rest.iter() {
        if taken >= max {
            break;
        }
        let size = item_size(item);
        if used + size > room {
            break;
        }
        used += size;
        taken += 1;
    }
    if taken == 0 && !rest.is_empty() {
        // Not even one item fits: Windows answers EncodingLimit.
        return Err(Fault::encoding_limit(machine));
    }
    page.extend(rest.drain(..taken));
    Ok(())
}

fn item_size(item: &Item) -> usize {
    let body = Body::PullResponse(PullResponse {
        context: None,
        items: vec![item.clone()],
        end_of_sequence: false,
    });
    let empty = Body::PullResponse(PullResponse::default());
    let h = wsman::Header::new(Action::PullResponse, MessageId::new(""));
    let with = Envelope {
        header: h.clone(),
        body,
    }
    .encode()
    .len();
    let without = Envelope {
        header: h,
        body: empty,
    }
    .encode()
    .len();
    with.saturating_sub(without)
}

/// Room (characters) for stream elements in a ReceiveResponse under `limit`.
fn receive_room(header: &wsman::Header, limit: usize) -> usize {
    let probe = Envelope::reply_to(
        header,
        probe_id(),
        Body::ReceiveResponse(ReceiveResponse::default()),
    )
    .encode()
    .len();
    limit.saturating_sub(probe)
}

/// The longest interval the service schedules: configured values beyond it (which would
/// overflow `Instant` arithmetic) mean "practically never".
const MAX_SPAN: Duration = Duration::from_secs(10 * 365 * 86_400);

/// A configured number of milliseconds as a schedulable interval.
fn span(ms: u64) -> Duration {
    Duration::from_millis(ms).min(MAX_SPAN)
}

/// A stand-in with the length of every id an [`IdSource`] makes (`uuid:` + 36), for sizing.
fn probe_id() -> MessageId {
    MessageId::new(format!("uuid:{}", "0".repeat(36)))
}

fn touch(shell: &mut ShellEntry, now: Instant) {
    shell.last_activity = now;
    if let Link::Connected { last_poll, .. } = &mut shell.link {
        *last_poll = now;
    }
}

fn find_shell<'a>(
    shells: &'a mut BTreeMap<ShellId, ShellEntry>,
    id: &ShellId,
) -> Option<&'a mut ShellEntry> {
    if shells.contains_key(id) {
        return shells.get_mut(id);
    }
    shells
        .values_mut()
        .find(|s| s.id.as_str().eq_ignore_ascii_case(id.as_str()))
}

/// The `rsp:Shell` element for Create replies (`full = false`), Get and enumeration.
fn shell_element(s: &ShellEntry, now: Instant, full: bool) -> Shell {
    let state = match s.link {
        Link::Connected { .. } => ShellState::Connected,
        Link::Disconnected { .. } => ShellState::Disconnected,
    };
    let whole = |d: Duration| Duration::from_secs(d.as_secs());
    Shell {
        shell_id: Some(s.id.clone()),
        name: s.name.clone(),
        resource_uri: Some(s.resource_uri.clone()),
        owner: Some(s.owner.clone()),
        client_ip: Some(s.client_ip.to_string()),
        process_id: Some(s.backend.process_id()),
        idle_timeout: Some(s.idle_timeout),
        input_streams: Some(s.input_streams.clone()),
        output_streams: Some(s.output_streams.clone()),
        max_idle_timeout: Some(s.max_idle_timeout),
        locale: Some(s.locale.clone()),
        data_locale: Some(s.data_locale.clone()),
        compression_mode: Some(s.compression.clone()),
        profile_loaded: Some(if s.profile_loaded { "Yes" } else { "No" }.into()),
        encoding: Some("UTF8".into()),
        buffer_mode: Some(s.buffer_mode.clone()),
        state: Some(state),
        shell_run_time: Some(whole(now.saturating_duration_since(s.created))),
        shell_inactivity: Some(whole(now.saturating_duration_since(s.last_activity))),
        memory_used: full.then(|| s.backend.memory_used()),
        child_processes: full.then(|| s.backend.child_processes()),
        ..Shell::default()
    }
}

/// `cfg:Config` from the configuration (MS-WSMV 2.2.4.7 layout, the values of SPEC B4).
fn config_resource(c: &Config) -> wsman::config::Config {
    use wsman::xml::Element;
    let leaf = |name: &str, v: String| Element::new(Some(ns::CONFIG), name).with_text(v);
    let service = Element::new(Some(ns::CONFIG), "Service")
        .with_child(leaf(
            "MaxConcurrentOperationsPerUser",
            c.service.max_concurrent_operations_per_user.to_string(),
        ))
        .with_child(leaf(
            "EnumerationTimeoutms",
            c.service.enumeration_timeout_ms.to_string(),
        ))
        .with_child(leaf(
            "MaxConnections",
            c.service.max_connections.to_string(),
        ))
        .with_child(leaf(
            "AllowUnencrypted",
            c.service.allow_unencrypted.to_string(),
        ));
    let winrs = Element::new(Some(ns::CONFIG), "Winrs")
        .with_child(leaf("AllowRemoteShellAccess", "true".into()))
        .with_child(leaf("IdleTimeout", c.winrs.idle_timeout_ms.to_string()))
        .with_child(leaf(
            "MaxConcurrentUsers",
            c.winrs.max_concurrent_users.to_string(),
        ))
        .with_child(leaf(
            "MaxProcessesPerShell",
            c.winrs.max_processes_per_shell.to_string(),
        ))
        .with_child(leaf(
            "MaxMemoryPerShellMB",
            c.winrs.max_memory_per_shell_mb.to_string(),
        ))
        .with_child(leaf(
            "MaxShellsPerUser",
            c.service.max_shells_per_user.to_string(),
        ));
    wsman::config::Config {
        max_envelope_size_kb: u32::try_from(c.service.max_envelope_size_kb).ok(),
        max_timeout_ms: Some(c.service.max_timeout_ms),
        max_batch_items: Some(c.service.max_batch_items),
        max_provider_requests: Some(u32::MAX),
        other: vec![service, winrs],
    }
}

fn command_state_name(s: &wsman::shell::CommandState) -> &str {
    match s {
        wsman::shell::CommandState::Done => "Done",
        wsman::shell::CommandState::Pending => "Pending",
        wsman::shell::CommandState::Running => "Running",
        wsman::shell::CommandState::Other(o) => o.rsplit('/').next().unwrap_or(o),
    }
}

fn header_message(m: &wsman::header::MalformedHeader) -> String {
    match &m.error {
        DecodeError::InvalidDuration { value, .. } => {
            format!("The XML contains an invalid timeout field in the SOAP header: {value}. ")
        }
        e => format!("The SOAP header {} is not valid: {e}. ", m.element.name),
    }
}

/// The lowest IdleTimeOut accepted for a shell of `kind`.
fn min_idle(config: &Config, kind: &ShellKind) -> u64 {
    let name = match kind {
        ShellKind::PowerShell(name) => name.as_str(),
        _ => crate::config::DEFAULT_CONFIGURATION,
    };
    let min = config
        .session_configuration(name)
        .map_or(60_000, |c| c.min_idle_timeout_ms);
    match kind {
        ShellKind::Cmd => min.min(config.winrs.idle_timeout_ms),
        _ => min,
    }
}

fn check_idle(machine: &str, ms: u64, min: u64, max: u64) -> Result<(), Fault> {
    if ms < min || ms > max {
        let m = format!(
            "The WS-Management service cannot process the request because the IdleTimeout value {ms} ms is outside the range allowed by the session configuration: {min} to {max} ms. "
        );
        return Err(Fault::new(
            "Sender",
            QualifiedName::new(ns::WSMAN, "InvalidOptions"),
            &m,
            Some(wsman::WsManFaultCode::INVALID_PARAMETER),
            machine,
            &m,
        ));
    }
    Ok(())
}

fn schema_fault(machine: &str, detail: &str) -> Fault {
    let m = format!(
        "The WS-Management service cannot process the request because the XML is invalid: {detail}. "
    );
    Fault::new(
        "Sender",
        QualifiedName::new(ns::WSMAN, "SchemaValidationError"),
        "The SOAP XML in the message does not match the corresponding XML schema definition. ",
        None,
        machine,
        &m,
    )
}

fn action_not_supported(machine: &str, action: &str) -> Fault {
    let m = format!(
        "The WS-Management service cannot process the request because the action {action} is not supported for this resource. "
    );
    Fault::new(
        "Sender",
        QualifiedName::new(ns::ADDRESSING, "ActionNotSupported"),
        "The action is not supported by the service. ",
        None,
        machine,
        &m,
    )
}

fn already_exists(machine: &str) -> Fault {
    const M: &str = "The WS-Management service cannot create the resource because a shell with this ShellId already exists. ";
    Fault::new(
        "Sender",
        QualifiedName::new(ns::WSMAN, "AlreadyExists"),
        M,
        None,
        machine,
        M,
    )
}

fn reconnect_other_client(machine: &str) -> Fault {
    const M: &str = "The WS-Management service cannot process the request because the shell was disconnected by a different client. Use Connect to attach to it. ";
    Fault::new(
        "Receiver",
        QualifiedName::new(ns::WSMAN, "InternalError"),
        M,
        None,
        machine,
        M,
    )
}

fn invalid_enumeration_context(machine: &str) -> Fault {
    const M: &str = "The WS-Management service cannot process the request because the enumeration context is not valid or has expired. ";
    Fault::new(
        "Receiver",
        QualifiedName::new(ns::ENUMERATION, "InvalidEnumerationContext"),
        M,
        None,
        machine,
        M,
    )
}

/// The reply to send again when the client repeats the `SequenceId` of the last Receive it
/// made for this command (its previous reply was lost).
fn replay_receive(
    shell: &ShellEntry,
    command: Option<&CommandId>,
    header: &wsman::Header,
) -> Option<ReceiveResponse> {
    let sequence = header.sequence_id?;
    let key = command.map(|c| c.as_str().to_ascii_uppercase());
    shell
        .last_receives
        .iter()
        .find(|l| l.command == key && l.sequence == sequence)
        .map(|l| l.response.clone())
}

/// Keeps `response` for a replay when the request carried a `SequenceId`; forgets the
/// previous one of this command either way (a new SequenceId acknowledges it).
fn remember_receive(
    shell: &mut ShellEntry,
    command: Option<&CommandId>,
    sequence: Option<u64>,
    response: &ReceiveResponse,
) {
    let key = command.map(|c| c.as_str().to_ascii_uppercase());
    shell.last_receives.retain(|l| l.command != key);
    if let Some(sequence) = sequence {
        if shell.last_receives.len() >= REPLAY_SLOTS {
            shell.last_receives.remove(0);
        }
        shell.last_receives.push(LastReceive {
            command: key,
            sequence,
            response: response.clone(),
        });
    }
}
