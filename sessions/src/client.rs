//! [`WsManClient`]: typed WS-Management operations over a [`Transport`].
//!
//! Each verb builds a request envelope with `wsman`'s types, posts it on a [`Lane`], checks that
//! the reply relates to it, and returns the typed reply body or an [`Error`] holding the SOAP
//! fault. Receives go on [`Lane::RECEIVE`], everything else on [`Lane::CONTROL`], so a long
//! poll never delays a Send or a Signal.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use wsman::enumeration::{Enumerate, EnumerateResponse, Filter, Item, Pull, PullResponse};
use wsman::header::{OptionSet, SelectorSet};
use wsman::identify::{Identify, IdentifyResponse};
use wsman::shell::{
    CommandLine, Connect, ConnectResponse, CreateResponse, Disconnect, Receive, ReceiveResponse,
    Reconnect, Send, Shell, Signal, SignalCode,
};
use wsman::{Action, Body, CommandId, Envelope, MessageId, Resource, ShellId, ns};
use wsman_transport::{ConnectionConfig, HttpTransport, Lane, Transport};

use crate::error::{Error, is_timed_out};

/// Default `OperationTimeout` (as pypsrp and Windows' own client: 20 s).
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(20);

/// Options of a [`WsManClient`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientOptions {
    /// `OperationTimeout` of ordinary requests and of each Receive long poll.
    pub operation_timeout: Duration,
    /// `MaxEnvelopeSize` announced to the server, in bytes.
    pub max_envelope_size: u32,
    /// `Locale` / `DataLocale`.
    pub locale: String,
    /// The WS-Man `p:SessionId` (`uuid:…`) identifying this client to the server; a new one when
    /// `None`. Reuse a stored one to act as the same client after a restart (Reconnect).
    pub session_id: Option<String>,
    /// Send `WSMAN_CMDSHELL_OPTION_KEEPALIVE` with each Receive (default on, as Windows' own
    /// client and pypsrp do: it keeps a connected shell from being reclaimed while polled).
    pub keep_alive: bool,
    /// Raise `max_envelope_size` to [`PSRP_ENVELOPE_SIZE`] (never above the server's
    /// `MaxEnvelopeSizekb`) once a PowerShell runspace pool reports protocol ≥ 2.2, when it is
    /// still [`wsman_transport::config::DEFAULT_MAX_ENVELOPE_SIZE`] (default on, as pypsrp does).
    pub psrp_envelope_raise: bool,
}

/// The `MaxEnvelopeSize` (bytes) a PowerShell session moves to once the server reports PSRP
/// protocol 2.2 or later (PowerShell 3+, whose WinRM default `MaxEnvelopeSizekb` is 500).
pub const PSRP_ENVELOPE_SIZE: u32 = 512_000;

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            operation_timeout: DEFAULT_OPERATION_TIMEOUT,
            max_envelope_size: wsman_transport::config::DEFAULT_MAX_ENVELOPE_SIZE,
            locale: "en-US".into(),
            session_id: None,
            keep_alive: true,
            psrp_envelope_raise: true,
        }
    }
}

impl ClientOptions {
    /// Sets the `OperationTimeout`.
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// Sets the announced `MaxEnvelopeSize` (bytes).
    pub fn max_envelope_size(mut self, bytes: u32) -> Self {
        self.max_envelope_size = bytes;
        self
    }

    /// Sets the locale.
    pub fn locale(mut self, locale: impl Into<String>) -> Self {
        self.locale = locale.into();
        self
    }

    /// Sends the Receive keep-alive option or not.
    pub fn keep_alive(mut self, on: bool) -> Self {
        self.keep_alive = on;
        self
    }

    /// Raises the envelope size for PSRP ≥ 2.2 pools or not (see
    /// [`ClientOptions::psrp_envelope_raise`]).
    pub fn psrp_envelope_raise(mut self, on: bool) -> Self {
        self.psrp_envelope_raise = on;
        self
    }

    /// Reuses a WS-Man session id (`uuid:…`).
    pub fn session_id(mut self, id: impl Into<String>) -> Self {
        self.session_id = Some(id.into());
        self
    }
}

#[derive(Debug)]
struct Inner {
    transport: Arc<dyn Transport>,
    session_id: String,
    /// Starts at the option's value; [`WsManClient::negotiate_max_envelope_size`] updates it.
    max_envelope_size: AtomicU32,
    /// The server's `MaxEnvelopeSizekb` in bytes once asked (`None` inside: it did not say or
    /// refused the Get); unset until then.
    server_envelope_size: OnceLock<Option<u32>>,
    options: ClientOptions,
    /// `p:SequenceId` of the next logical Receive (a retry repeats the one it retries).
    receive_sequence: AtomicU64,
    /// The SequenceId of a Receive whose reply never arrived (the retries ran out), by shell
    /// and command: the next Receive of that stream repeats it, so the server sends the lost
    /// reply again instead of dropping it.
    unanswered: Mutex<HashMap<String, u64>>,
}

/// How often [`WsManClient::receive`] asks again after a broken connection or an HTTP 503,
/// and the first pause (doubled each time, capped at 1 s).
const RECEIVE_RETRIES: u32 = 6;
const RECEIVE_RETRY_PAUSE: Duration = Duration::from_millis(25);

/// How often [`WsManClient::receive`] asks again when the transport's deadline passed with no
/// reply (each attempt waits a whole deadline, so fewer than for a broken connection).
const RECEIVE_TIMEOUT_RETRIES: u32 = 2;

/// The first `p:SequenceId` of a new client: microseconds since the Unix epoch, so a client
/// started later (another process acting as the same client) numbers above every Receive an
/// earlier one made, and never repeats, by chance, the SequenceId whose reply a server keeps
/// for replay.
fn first_sequence() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| u64::try_from(d.as_micros()).ok())
        .unwrap_or(0)
        .max(1)
}

/// An async WS-Management client: one endpoint, one WS-Man session id.
///
/// Cheap to clone (shared state behind an `Arc`); clones may run operations concurrently, each
/// on its lane. All verbs are single round trips except [`WsManClient::receive`] (polls again
/// on `w:TimedOut`) and [`WsManClient::enumerate_all`] (pulls to the end).
#[derive(Clone, Debug)]
pub struct WsManClient {
    inner: Arc<Inner>,
}

/// Whether a PSRP `protocolversion` text (`2.3`) is at least `major.minor`.
fn protocol_at_least(version: &str, major: u32, minor: u32) -> bool {
    let mut parts = version.trim().split('.').map(str::parse::<u32>);
    match (parts.next(), parts.next()) {
        (Some(Ok(a)), Some(Ok(b))) => (a, b) >= (major, minor),
        (Some(Ok(a)), None) => a > major,
        _ => false,
    }
}

/// A new message id, `uuid:` + an upper-case v4 UUID.
pub fn new_message_id() -> MessageId {
    MessageId::new(format!(
        "uuid:{}",
        uuid::Uuid::new_v4().to_string().to_uppercase()
    ))
}

impl WsManClient {
    /// A client over any transport (the HTTP one, or a scripted one in tests).
    pub fn new(transport: Arc<dyn Transport>, options: ClientOptions) -> Self {
        let session_id = options
            .session_id
            .clone()
            .unwrap_or_else(|| new_message_id().as_str().to_owned());
        Self {
            inner: Arc::new(Inner {
                transport,
                session_id,
                max_envelope_size: AtomicU32::new(options.max_envelope_size),
                server_envelope_size: OnceLock::new(),
                options,
                receive_sequence: AtomicU64::new(first_sequence()),
                unanswered: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// A client over HTTP(S) for `config`, with default options and its MaxEnvelopeSize.
    ///
    /// # Errors
    ///
    /// The transport's configuration errors (unsupported auth method, CA file…).
    pub fn from_config(config: ConnectionConfig) -> Result<Self, Error> {
        let options = ClientOptions {
            max_envelope_size: config.max_envelope_size,
            ..ClientOptions::default()
        };
        let transport = HttpTransport::new(config)?;
        Ok(Self::new(Arc::new(transport), options))
    }

    /// The WS-Man session id (`uuid:…`) this client sends.
    pub fn session_id(&self) -> &str {
        &self.inner.session_id
    }

    /// The endpoint URL.
    pub fn endpoint(&self) -> &str {
        self.inner.transport.endpoint()
    }

    /// The options.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// The `MaxEnvelopeSize` (bytes) sent with every request: the option's value until
    /// [`WsManClient::negotiate_max_envelope_size`] learns the server's.
    pub fn max_envelope_size(&self) -> u32 {
        self.inner.max_envelope_size.load(Ordering::Relaxed)
    }

    /// Reads the server's `MaxEnvelopeSizekb` (a Get on [`ns::RESOURCE_CONFIG`], as pypsrp
    /// does) and uses it from now on; returns the new size in bytes. Unchanged when the server
    /// does not say.
    ///
    /// # Errors
    ///
    /// See [`WsManClient::call`]; non-administrators usually get `w:AccessDenied` here, in which
    /// case keep the default.
    pub async fn negotiate_max_envelope_size(&self) -> Result<u32, Error> {
        let known = match self.inner.server_envelope_size.get() {
            Some(known) => *known,
            None => {
                let known = self.read_server_envelope_size().await?;
                *self.inner.server_envelope_size.get_or_init(|| known)
            }
        };
        if let Some(bytes) = known {
            self.set_max_envelope_size(bytes);
        }
        Ok(self.max_envelope_size())
    }

    /// Sets the `MaxEnvelopeSize` (bytes) sent with every later request, for this client and
    /// all its clones (outgoing PSRP messages are fragmented to fit it too).
    pub fn set_max_envelope_size(&self, bytes: u32) {
        self.inner.max_envelope_size.store(bytes, Ordering::Relaxed);
    }

    /// The server's `MaxEnvelopeSizekb` in bytes (a Get on [`ns::RESOURCE_CONFIG`], made once
    /// per client and remembered); `None` when the server does not say or answers the Get with
    /// a fault (non-administrators usually get `w:AccessDenied`). Does not change
    /// [`WsManClient::max_envelope_size`].
    ///
    /// # Errors
    ///
    /// Transport and protocol errors of the Get (not remembered: a later call asks again).
    pub async fn server_max_envelope_size(&self) -> Result<Option<u32>, Error> {
        if let Some(known) = self.inner.server_envelope_size.get() {
            return Ok(*known);
        }
        let known = match self.read_server_envelope_size().await {
            Ok(known) => known,
            Err(e) if e.fault().is_some() => None,
            Err(e) => return Err(e),
        };
        Ok(*self.inner.server_envelope_size.get_or_init(|| known))
    }

    /// After a PowerShell pool opened (`protocol_version`: the server's SESSION_CAPABILITY): a
    /// server speaking PSRP ≥ 2.2 (PowerShell 3+) takes larger envelopes, so, as pypsrp does,
    /// move from the WS-Man default (153 600) to [`PSRP_ENVELOPE_SIZE`], but only as far as the
    /// server's `MaxEnvelopeSizekb` allows ([`WsManClient::server_max_envelope_size`], asked
    /// once per client). Left alone when the size is not the default (the caller chose one, or
    /// an earlier session raised it), [`ClientOptions::psrp_envelope_raise`] is off, or the
    /// server's limit is unknown; best effort, never fails.
    pub(crate) async fn raise_envelope_for_psrp(&self, protocol_version: Option<&str>) {
        if !self.inner.options.psrp_envelope_raise
            || self.max_envelope_size() != wsman_transport::config::DEFAULT_MAX_ENVELOPE_SIZE
            || !protocol_version.is_some_and(|v| protocol_at_least(v, 2, 2))
        {
            return;
        }
        match self.server_max_envelope_size().await {
            Ok(Some(server)) => self.set_max_envelope_size(server.min(PSRP_ENVELOPE_SIZE)),
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(error = %e, "server MaxEnvelopeSizekb not read; envelope size kept");
            }
        }
    }

    async fn read_server_envelope_size(&self) -> Result<Option<u32>, Error> {
        let resource = self
            .get(ns::RESOURCE_CONFIG, SelectorSet::default())
            .await?;
        Ok(match resource {
            Resource::Config(config) => config
                .max_envelope_size_kb
                .filter(|kb| *kb > 0)
                .map(|kb| kb.saturating_mul(1024)),
            _ => None,
        })
    }

    /// A request envelope builder with this client's headers filled in: `To`, `SessionId`,
    /// `MaxEnvelopeSize`, `OperationTimeout`, locale and a fresh `MessageID`.
    pub fn request(&self, action: Action, resource_uri: &str) -> wsman::RequestBuilder {
        let o = &self.inner.options;
        Envelope::request(action, resource_uri, new_message_id())
            .to(self.endpoint())
            .max_envelope_size(self.max_envelope_size())
            .operation_timeout(o.operation_timeout)
            .session_id(&self.inner.session_id)
            .locale(&o.locale)
    }

    /// Posts `request` on `lane` and returns the reply envelope.
    ///
    /// # Errors
    ///
    /// A fault reply (HTTP 500 or a fault body) as [`Error::fault`]; a reply whose `RelatesTo`
    /// is not the request's `MessageID`, or that does not decode, as a protocol error; transport
    /// failures.
    pub async fn call(&self, lane: Lane, request: Envelope) -> Result<Envelope, Error> {
        let action = short_action(&request.header.action);
        self.call_inner(lane, request)
            .await
            .map_err(|e| e.context(action))
    }

    async fn call_inner(&self, lane: Lane, request: Envelope) -> Result<Envelope, Error> {
        let timeout = request
            .header
            .operation_timeout
            .unwrap_or(self.inner.options.operation_timeout);
        let message_id = request.header.message_id.clone();
        tracing::debug!(action = %request.header.action.as_uri(), %message_id, ?lane, "request");
        let reply = self
            .inner
            .transport
            .post(lane, request.encode().into_bytes(), timeout)
            .await?;
        if reply.status != 200 && reply.status != 500 {
            return Err(Error::from(wsman_transport::TransportError::Status {
                status: reply.status,
                body: String::from_utf8_lossy(reply.body.get(..200).unwrap_or(&reply.body))
                    .into_owned(),
            }));
        }
        if reply.status == 500 && reply.body.iter().all(u8::is_ascii_whitespace) {
            return Err(Error::protocol("http 500 without a soap fault"));
        }
        let envelope = Envelope::decode(&reply.body).map_err(Error::decode)?;
        if let Body::Fault(f) = envelope.body {
            return Err(Error::from_fault(*f));
        }
        if reply.status == 500 {
            return Err(Error::protocol("http 500 without a soap fault"));
        }
        match &envelope.header.relates_to {
            Some(r) if r.as_str().eq_ignore_ascii_case(message_id.as_str()) => Ok(envelope),
            Some(r) => Err(Error::protocol(format!(
                "reply relates to {r}, expected {message_id}"
            ))),
            None => Err(Error::protocol("reply without RelatesTo")),
        }
    }

    /// WS-Management Identify (DSP0226 §11; what `Test-WSMan -Authentication …` sends): the
    /// protocol version, vendor and product version the service reports, plus its security
    /// profiles. No WS-Addressing headers travel either way, so there is no RelatesTo to check.
    ///
    /// The request goes with the connection's credentials (and is sealed when the transport
    /// seals). `Test-WSMan`'s default, unauthenticated form is
    /// [`WsManClient::identify_unauthenticated`].
    ///
    /// # Errors
    ///
    /// A SOAP fault as [`Error::fault`]; a reply that is neither an `IdentifyResponse` nor a
    /// fault as a decode error; transport failures (a refused logon: [`Error::is_auth`]).
    pub async fn identify(&self) -> Result<IdentifyResponse, Error> {
        self.identify_inner(false)
            .await
            .map_err(|e| e.context("Identify"))
    }

    /// WS-Management Identify without credentials, as `Test-WSMan` sends it when no
    /// `-Authentication` is given: plaintext, no `Authorization` header, with the HTTP header
    /// `WSMANIDENTIFY: unauthenticated` ([`Transport::post_unauthenticated`]), on a connection
    /// of its own. Windows answers with the OS version hidden (`OS: 0.0.0 SP: 0.0 Stack: 3.0`)
    /// and no security profiles. The client's credentials, if any, are never used.
    ///
    /// # Errors
    ///
    /// As [`WsManClient::identify`]; a server that wants credentials (HTTP 401) as
    /// [`wsman_transport::TransportError::UnauthenticatedRefused`] ([`Error::is_auth`]).
    pub async fn identify_unauthenticated(&self) -> Result<IdentifyResponse, Error> {
        self.identify_inner(true)
            .await
            .map_err(|e| e.context("Identify"))
    }

    async fn identify_inner(&self, unauthenticated: bool) -> Result<IdentifyResponse, Error> {
        let timeout = self.inner.options.operation_timeout;
        let envelope = Identify.encode().into_bytes();
        let reply = if unauthenticated {
            tracing::debug!("unauthenticated identify request");
            let headers = vec![(
                wsman::identify::HTTP_HEADER.to_owned(),
                wsman::identify::HTTP_HEADER_UNAUTHENTICATED.to_owned(),
            )];
            self.inner
                .transport
                .post_unauthenticated(envelope, headers, timeout)
                .await?
        } else {
            tracing::debug!(lane = ?Lane::CONTROL, "identify request");
            self.inner
                .transport
                .post(Lane::CONTROL, envelope, timeout)
                .await?
        };
        if reply.status != 200 && reply.status != 500 {
            return Err(Error::from(wsman_transport::TransportError::Status {
                status: reply.status,
                body: String::from_utf8_lossy(reply.body.get(..200).unwrap_or(&reply.body))
                    .into_owned(),
            }));
        }
        if reply.status == 200
            && let Ok(identity) = IdentifyResponse::decode(&reply.body)
        {
            return Ok(identity);
        }
        // A fault carries the usual WS-Addressing headers, so the ordinary decoder reads it.
        if let Ok(Envelope {
            body: Body::Fault(f),
            ..
        }) = Envelope::decode(&reply.body)
        {
            return Err(Error::from_fault(*f));
        }
        if reply.status == 500 {
            return Err(Error::protocol("http 500 without a soap fault"));
        }
        IdentifyResponse::decode(&reply.body).map_err(Error::decode)
    }

    /// `transfer/Create` of a shell: `shell` is the `rsp:Shell` body, `options` the option set
    /// (`WINRS_NOPROFILE`, `protocolversion`…).
    ///
    /// # Errors
    ///
    /// See [`WsManClient::call`]; a reply without a ShellId is a protocol error.
    pub async fn create(
        &self,
        resource_uri: &str,
        shell: Shell,
        options: OptionSet,
    ) -> Result<CreateResponse, Error> {
        let mut req = self
            .request(Action::Create, resource_uri)
            .body(Body::Create(Box::new(shell)));
        req.header.options = options;
        match self.call(Lane::CONTROL, req).await?.body {
            Body::CreateResponse(r) if r.shell_id().is_some() => Ok(*r),
            other => Err(unexpected("CreateResponse with a ShellId", &other)),
        }
    }

    /// `shell/Command`: starts a command; returns its id.
    ///
    /// # Errors
    ///
    /// See [`WsManClient::call`].
    pub async fn command(
        &self,
        resource_uri: &str,
        shell_id: &ShellId,
        command: CommandLine,
        options: OptionSet,
    ) -> Result<CommandId, Error> {
        let mut req = self
            .request(Action::Command, resource_uri)
            .shell_id(shell_id)
            .body(Body::Command(command));
        req.header.options = options;
        match self.call(Lane::CONTROL, req).await?.body {
            Body::CommandResponse(id) => Ok(id),
            other => Err(unexpected("CommandResponse", &other)),
        }
    }

    /// `shell/Send`: input data for a command (or the shell).
    ///
    /// # Errors
    ///
    /// See [`WsManClient::call`].
    pub async fn send(
        &self,
        resource_uri: &str,
        shell_id: &ShellId,
        send: Send,
    ) -> Result<(), Error> {
        let req = self
            .request(Action::Send, resource_uri)
            .shell_id(shell_id)
            .body(Body::Send(send));
        expect_empty(self.call(Lane::CONTROL, req).await?, "SendResponse")
    }

    /// One `shell/Receive` long poll on [`Lane::RECEIVE`], with `OperationTimeout` = `timeout`
    /// (and `WSMAN_CMDSHELL_OPTION_KEEPALIVE` unless [`ClientOptions::keep_alive`] is off). A `w:TimedOut` fault is returned as an error
    /// ([`Error::is_timeout`]); [`WsManClient::receive`] polls again instead.
    ///
    /// # Errors
    ///
    /// See [`WsManClient::call`].
    pub async fn receive_once(
        &self,
        resource_uri: &str,
        shell_id: &ShellId,
        receive: Receive,
        timeout: Duration,
    ) -> Result<ReceiveResponse, Error> {
        // A sequence id even here: the transport re-sends a request once when a reused
        // connection breaks, and the server must recognise that as the same Receive.
        let sequence = self.inner.receive_sequence.fetch_add(1, Ordering::Relaxed);
        self.receive_sequenced(resource_uri, shell_id, receive, timeout, Some(sequence))
            .await
    }

    async fn receive_sequenced(
        &self,
        resource_uri: &str,
        shell_id: &ShellId,
        receive: Receive,
        timeout: Duration,
        sequence: Option<u64>,
    ) -> Result<ReceiveResponse, Error> {
        let mut req = self
            .request(Action::Receive, resource_uri)
            .operation_timeout(timeout)
            .shell_id(shell_id);
        if self.inner.options.keep_alive {
            req = req.option("WSMAN_CMDSHELL_OPTION_KEEPALIVE", "True", None);
        }
        let mut req = req.body(Body::Receive(receive));
        req.header.sequence_id = sequence;
        match self.call(Lane::RECEIVE, req).await?.body {
            Body::ReceiveResponse(r) => Ok(r),
            other => Err(unexpected("ReceiveResponse", &other)),
        }
    }

    /// Receives output, polling again for as long as the server answers `w:TimedOut` (nothing
    /// to send within the OperationTimeout): returns the first reply that carries something.
    ///
    /// Each call carries a new `p:SequenceId`. When the connection breaks or the server answers
    /// HTTP 503, the same Receive is sent again (a few
    /// times, with a growing pause) with the **same** SequenceId: a server that already took the
    /// output from its queue answers with the reply that was lost instead of dropping it, so
    /// nothing is lost or received twice. A Receive whose transport deadline passed with no
    /// reply is asked again the same way (twice): repeating a SequenceId is safe, unlike
    /// repeating a Command, Send or Signal, which this client never does. When the retries run
    /// out, the next Receive of the same shell and command (through this client, or another
    /// one told with [`WsManClient::resume_receive`]) repeats that SequenceId once more.
    ///
    /// # Errors
    ///
    /// Any fault other than `w:TimedOut`, transport errors (after the retries).
    pub async fn receive(
        &self,
        resource_uri: &str,
        shell_id: &ShellId,
        receive: Receive,
    ) -> Result<ReceiveResponse, Error> {
        let timeout = self.inner.options.operation_timeout;
        let key = stream_key(shell_id, receive.command_id.as_ref());
        // The SequenceId stays marked unanswered until its reply arrives: a Receive dropped on
        // the way (a pipeline that asked ahead and was dropped, a caller's own timeout) or a
        // record taken meanwhile repeats it, so the server sends again what it may have
        // handed to a reply nobody read.
        let sequence = {
            let mut unanswered = self
                .inner
                .unanswered
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let sequence = unanswered
                .get(&key)
                .copied()
                .unwrap_or_else(|| self.inner.receive_sequence.fetch_add(1, Ordering::Relaxed));
            unanswered.insert(key.clone(), sequence);
            sequence
        };
        let mut retries = 0;
        let mut timeouts = 0;
        let mut pause = RECEIVE_RETRY_PAUSE;
        loop {
            match self
                .receive_sequenced(
                    resource_uri,
                    shell_id,
                    receive.clone(),
                    timeout,
                    Some(sequence),
                )
                .await
            {
                Err(e) if e.fault().is_some_and(is_timed_out) => {
                    tracing::trace!("receive timed out on the server, polling again");
                }
                Err(e) if retries < RECEIVE_RETRIES && is_transient(&e) => {
                    retries += 1;
                    tracing::debug!(error = %e, retries, sequence, "receive failed, asking again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
                Err(e)
                    if timeouts < RECEIVE_TIMEOUT_RETRIES
                        && e.transport_error().is_some_and(|t| t.is_timeout()) =>
                {
                    // The server may have taken the output and answered late: the same
                    // SequenceId gets that reply again, or new output if it never acted.
                    timeouts += 1;
                    tracing::debug!(error = %e, timeouts, sequence, "receive not answered in time, asking again");
                }
                Err(e) if e.transport_error().is_some() => {
                    // The reply may have been lost after the server took the output: the next
                    // Receive of this stream asks for it again (still marked above).
                    return Err(e);
                }
                other => {
                    self.inner
                        .unanswered
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&key);
                    return other;
                }
            }
        }
    }

    /// The SequenceId of the last Receive of this shell's stream (`command_id`; `None`: the
    /// shell's own) whose reply never arrived, which the next Receive of that stream repeats;
    /// `None` when every reply arrived. Store it to read on from another process
    /// ([`WsManClient::resume_receive`]).
    pub fn unanswered_receive(
        &self,
        shell_id: &ShellId,
        command_id: Option<&CommandId>,
    ) -> Option<u64> {
        self.inner
            .unanswered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&stream_key(shell_id, command_id))
            .copied()
    }

    /// The highest `p:SequenceId` this client has used so far.
    pub fn last_receive_sequence(&self) -> u64 {
        self.inner
            .receive_sequence
            .load(Ordering::Relaxed)
            .saturating_sub(1)
    }

    /// Carries on from another client (another process) that read the same stream: Receives
    /// are numbered above `last_sequence`, and when `unanswered` is set the next Receive of
    /// the stream repeats it, so the server sends the reply the other client never got.
    pub fn resume_receive(
        &self,
        shell_id: &ShellId,
        command_id: Option<&CommandId>,
        unanswered: Option<u64>,
        last_sequence: u64,
    ) {
        self.inner
            .receive_sequence
            .fetch_max(last_sequence.saturating_add(1), Ordering::Relaxed);
        if let Some(sequence) = unanswered {
            self.inner
                .unanswered
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(stream_key(shell_id, command_id), sequence);
        }
    }

    /// `shell/Signal` (`terminate`, `ctrl_c`, PowerShell's stop…), sent on the control lane.
    ///
    /// # Errors
    ///
    /// See [`WsManClient::call`].
    pub async fn signal(
        &self,
        resource_uri: &str,
        shell_id: &ShellId,
        command_id: Option<&CommandId>,
        code: SignalCode,
    ) -> Result<(), Error> {
        let req = self
            .request(Action::Signal, resource_uri)
            .shell_id(shell_id)
            .body(Body::Signal(Signal {
                command_id: command_id.cloned(),
                code,
            }));
        expect_empty(self.call(Lane::CONTROL, req).await?, "SignalResponse")
    }

    /// `transfer/Delete` of a shell.
    ///
    /// # Errors
    ///
    /// See [`WsManClient::call`].
    pub async fn delete(&self, resource_uri: &str, shell_id: &ShellId) -> Result<(), Error> {
        let req = self
            .request(Action::Delete, resource_uri)
            .shell_id(shell_id)
            .body(Body::Delete);
        expect_empty(self.call(Lane::CONTROL, req).await?, "DeleteResponse")
    }

    /// `shell/Disconnect` with the optional idle timeout and buffer mode.
    ///
    /// # Errors
    ///
    /// See [`WsManClient::call`].
    pub async fn disconnect(
        &self,
        resource_uri: &str,
        shell_id: &ShellId,
        disconnect: Disconnect,
    ) -> Result<(), Error> {
        let req = self
            .request(Action::Disconnect, resource_uri)
            .shell_id(shell_id)
            .body(Body::Disconnect(disconnect));
        expect_empty(self.call(Lane::CONTROL, req).await?, "DisconnectResponse")
    }

    /// `shell/Reconnect` (the same client, same SessionId, takes its shell back).
    ///
    /// # Errors
    ///
    /// See [`WsManClient::call`].
    pub async fn reconnect(
        &self,
        resource_uri: &str,
        shell_id: &ShellId,
        reconnect: Reconnect,
    ) -> Result<(), Error> {
        let req = self
            .request(Action::Reconnect, resource_uri)
            .shell_id(shell_id)
            .body(Body::Reconnect(reconnect));
        expect_empty(self.call(Lane::CONTROL, req).await?, "ReconnectResponse")
    }

    /// `shell/Connect` (another client attaches to a disconnected shell, or reattaches one of
    /// its commands with `connect.command_id`).
    ///
    /// # Errors
    ///
    /// See [`WsManClient::call`].
    pub async fn connect(
        &self,
        resource_uri: &str,
        shell_id: &ShellId,
        connect: Connect,
        options: OptionSet,
    ) -> Result<ConnectResponse, Error> {
        let mut req = self
            .request(Action::Connect, resource_uri)
            .shell_id(shell_id)
            .body(Body::Connect(connect));
        req.header.options = options;
        match self.call(Lane::CONTROL, req).await?.body {
            Body::ConnectResponse(r) => Ok(r),
            // Reattaching a command may come back with an empty body.
            Body::Empty => Ok(ConnectResponse::default()),
            other => Err(unexpected("ConnectResponse", &other)),
        }
    }

    /// `transfer/Get` of a resource (a shell with its `ShellId` selector, the config…).
    ///
    /// # Errors
    ///
    /// See [`WsManClient::call`].
    pub async fn get(&self, resource_uri: &str, selectors: SelectorSet) -> Result<Resource, Error> {
        let mut req = self.request(Action::Get, resource_uri).body(Body::Get);
        req.header.selectors = selectors;
        match self.call(Lane::CONTROL, req).await?.body {
            Body::GetResponse(r) => Ok(r),
            other => Err(unexpected("GetResponse", &other)),
        }
    }

    /// `enumeration/Enumerate`.
    ///
    /// # Errors
    ///
    /// See [`WsManClient::call`].
    pub async fn enumerate(
        &self,
        resource_uri: &str,
        enumerate: Enumerate,
    ) -> Result<EnumerateResponse, Error> {
        let req = self
            .request(Action::Enumerate, resource_uri)
            .body(Body::Enumerate(enumerate));
        match self.call(Lane::CONTROL, req).await?.body {
            Body::EnumerateResponse(r) => Ok(r),
            other => Err(unexpected("EnumerateResponse", &other)),
        }
    }

    /// `enumeration/Pull` with an enumeration context.
    ///
    /// # Errors
    ///
    /// See [`WsManClient::call`].
    pub async fn pull(&self, resource_uri: &str, pull: Pull) -> Result<PullResponse, Error> {
        let req = self
            .request(Action::Pull, resource_uri)
            .body(Body::Pull(pull));
        match self.call(Lane::CONTROL, req).await?.body {
            Body::PullResponse(r) => Ok(r),
            other => Err(unexpected("PullResponse", &other)),
        }
    }

    /// Enumerates everything: an optimized Enumerate, then Pulls until the end of the sequence.
    /// Shells live under [`ns::RESOURCE_SHELLS`]; a shell's commands under
    /// [`ns::RESOURCE_COMMANDS`] with a `ShellId` selector filter.
    ///
    /// # Errors
    ///
    /// See [`WsManClient::call`]; more than 10 000 pulls is a protocol error.
    pub async fn enumerate_all(
        &self,
        resource_uri: &str,
        filter: Option<Filter>,
    ) -> Result<Vec<Item>, Error> {
        let first = self
            .enumerate(
                resource_uri,
                Enumerate {
                    optimize: true,
                    max_elements: Some(32_000),
                    filter,
                },
            )
            .await?;
        let mut items = first.items.unwrap_or_default();
        let mut context = first.context.filter(|c| !c.trim().is_empty());
        let mut end = first.end_of_sequence;
        for _ in 0..10_000 {
            let Some(ctx) = context.take() else {
                return Ok(items);
            };
            if end {
                return Ok(items);
            }
            let page = self
                .pull(
                    resource_uri,
                    Pull {
                        context: ctx,
                        max_elements: Some(32_000),
                    },
                )
                .await?;
            items.extend(page.items);
            end = page.end_of_sequence;
            context = page.context.filter(|c| !c.trim().is_empty());
        }
        Err(Error::protocol("enumeration did not end after 10000 pulls"))
    }

    /// A filter selecting the commands of one shell (for [`ns::RESOURCE_COMMANDS`]).
    pub fn commands_filter(shell_id: &ShellId) -> Filter {
        Filter {
            dialect: Some(ns::SELECTOR_FILTER_DIALECT.to_owned()),
            selectors: Some(SelectorSet::shell_id(shell_id)),
            text: None,
        }
    }

    /// Drops the connection of `lane` (e.g. after abandoning a long poll).
    pub fn close_lane(&self, lane: Lane) {
        self.inner.transport.close_lane(lane);
    }
}

fn short_action(action: &Action) -> String {
    let uri = action.as_uri();
    let mut parts = uri.rsplit('/');
    let last = parts.next().unwrap_or(uri);
    match parts.next() {
        Some(prev) => format!("{prev}/{last}"),
        None => last.to_owned(),
    }
}

fn unexpected(expected: &str, got: &Body) -> Error {
    Error::protocol(format!("expected {expected}, got {}", got.kind()))
}

fn expect_empty(reply: Envelope, expected: &str) -> Result<(), Error> {
    match reply.body {
        Body::Empty
        | Body::SendResponse
        | Body::SignalResponse
        | Body::DeleteResponse
        | Body::DisconnectResponse
        | Body::ReconnectResponse
        | Body::ReleaseResponse => Ok(()),
        other => Err(unexpected(expected, &other)),
    }
}

/// Which output stream a Receive reads: the shell, and the command (none: the shell's own).
fn stream_key(shell_id: &ShellId, command_id: Option<&CommandId>) -> String {
    format!(
        "{}/{}",
        shell_id.as_str().to_uppercase(),
        command_id
            .map(|c| c.as_str().to_uppercase())
            .unwrap_or_default()
    )
}

/// A failure worth repeating a Receive for: the connection broke, or the server said 503
/// (Service Unavailable). A transport deadline is not: the server is not answering at all.
fn is_transient(e: &Error) -> bool {
    e.is_connection()
        || matches!(
            e.transport_error(),
            Some(wsman_transport::TransportError::Status { status: 503, .. })
        )
}

#[cfg(test)]
mod tests {
    use super::protocol_at_least;

    #[test]
    fn protocol_versions_compare_numerically() {
        assert!(protocol_at_least("2.3", 2, 2));
        assert!(protocol_at_least("2.2", 2, 2));
        assert!(protocol_at_least(" 2.10 ", 2, 2));
        assert!(protocol_at_least("3", 2, 2));
        assert!(!protocol_at_least("2.1", 2, 2));
        assert!(!protocol_at_least("2", 2, 2));
        assert!(!protocol_at_least("1.9", 2, 2));
        assert!(!protocol_at_least("", 2, 2));
        assert!(!protocol_at_least("x.y", 2, 2));
    }
}
