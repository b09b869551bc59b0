//! PowerShell sessions (PSSessions) over WS-Management: the runspace pool of `psrp` carried by
//! a PowerShell shell (MS-PSRP 3.1.4, MS-WSMV 3.1.4), with the lifecycle of the
//! `*-PSSession` cmdlets.
//!
//! ```text
//!  PsSession::new ──Create(creationXml)──► Receive (pool) until RUNSPACEPOOL_STATE Opened
//!     │ start/invoke ──Command(CREATE_PIPELINE)──► Pipeline ──Receive(CommandId)──► StreamItem…
//!     │                                              ├─ send_input (Send stdin), host answers (Send pr)
//!     │                                              └─ Stopper::stop (Signal crtl_c)
//!     │ disconnect ──Disconnect(IdleTimeOut, BufferMode)──► (server keeps running the commands)
//!     │ reconnect  ──Reconnect──► same client (same WS-Man SessionId) takes it back
//!  PsSession::connect ──Connect(connectXml) + Connect(CommandId) per command──► another client
//!  PsSession::enumerate ──Enumerate shells + commands──► RemoteSession (State/Availability)
//!     │ remove ──Delete──►
//! ```
//!
//! State and availability follow SPEC A1 as seen from *this* client: connected here =
//! Opened/Available, disconnected from everyone = Disconnected/None, connected to another
//! client = Disconnected/Busy ([`RemoteSession::view`]). What identifies a client across
//! processes is its WS-Man `SessionId` ([`crate::ClientOptions::session_id`]); what identifies a
//! session is kept in a [`SessionRecord`] the caller may store (the `psrm` CLI writes them to
//! its state directory).

mod alive;
mod host;
mod job;
mod keys;
mod output;
mod pool;
mod resume;
pub mod transfer;

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use psrp::clixml::Value;
use psrp::fragment::{Defragmenter, ObjectId};
use psrp::message::{Message, MessageType, PipelineId, RunspacePoolId};
use psrp::messages::{CreatePipeline, Payload};
use psrp::pipeline::{Event as PipelineEvent, Pipeline as PipelineCore};
use psrp::records::{
    ApartmentState, Command, ErrorRecord, HostInfo, PowerShellPipeline, PsInvocationState,
    RemoteStreamOptions,
};
use psrp::runspace_pool::{Event as PoolEvent, RunspacePool, RunspacePoolState};
use uuid::Uuid;
use wsman::enumeration::{CommandItem, Item};
use wsman::header::OptionSet;
use wsman::shell::{
    BufferMode, CommandLine, Connect, Disconnect, Receive, ReceiveResponse, Reconnect, Send, Shell,
    ShellState, SignalCode, Stream,
};
use wsman::{CommandId, ShellId, ns};

pub use self::host::{
    ChoiceDescription, Coordinates, Credential, DefaultHost, FieldDescription, HostError, KeyInfo,
    PsHost, RawUiDefaults, Size, host_info,
};
pub use self::job::{Job, JobState};
pub use self::output::{InvokeOutput, StreamItem, value_text};
pub use self::resume::{CarriedObject, CommandProgress, MAX_CARRIED_BYTES};
use crate::client::WsManClient;
use crate::error::Error;

/// The default session configuration.
pub const DEFAULT_CONFIGURATION: &str = "Microsoft.PowerShell";

/// The PSRP protocol version announced in the Create and Connect option sets.
const PROTOCOL_VERSION: &str = "2.3";

/// A session's state as a client sees it (`PSSession.State`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionState {
    /// Connected to this client.
    Opened,
    /// Not connected to this client (to nobody, or to another client).
    Disconnected,
    /// Closed (removed, or deleted by the server).
    Closed,
    /// Failed.
    Broken,
}

impl SessionState {
    /// The name PowerShell prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opened => "Opened",
            Self::Disconnected => "Disconnected",
            Self::Closed => "Closed",
            Self::Broken => "Broken",
        }
    }

    /// Parses [`SessionState::as_str`] (case-insensitive).
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Opened, Self::Disconnected, Self::Closed, Self::Broken]
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a session can be used by this client (`PSSession.Availability`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Availability {
    /// Connected here and ready.
    Available,
    /// Disconnected from every client.
    None,
    /// Connected to another client.
    Busy,
}

impl Availability {
    /// The name PowerShell prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "Available",
            Self::None => "None",
            Self::Busy => "Busy",
        }
    }
}

impl fmt::Display for Availability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Options of [`PsSession::new`] (`New-PSSession` with a `PSSessionOption`).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SessionOptions {
    /// The session name (`rsp:Shell Name`); the server picks one when `None`.
    pub name: Option<String>,
    /// The session configuration (`Microsoft.PowerShell` by default).
    pub configuration_name: String,
    /// IdleTimeout; the configuration's default when `None`. The server refuses values outside
    /// its bounds (at most MaxIdleTimeoutMs).
    pub idle_timeout: Option<Duration>,
    /// OutputBufferingMode; the configuration's when `None`.
    pub output_buffering_mode: Option<BufferMode>,
    /// MinRunspaces / MaxRunspaces of the pool.
    pub runspaces: (i32, i32),
    /// The runspace pool id (= ShellId); a random one when `None`. Ids are injectable so
    /// replays and tests come out the same on every run.
    pub runspace_pool_id: Option<Uuid>,
    /// `WINRS_NOPROFILE`: do not load the user profile (`-NoMachineProfile`).
    pub no_profile: bool,
    /// The host that answers the session's host calls and is announced to the server
    /// (HostInfo); psrm's [`DefaultHost`] when `None`.
    pub host: Option<Arc<dyn PsHost>>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            name: None,
            configuration_name: DEFAULT_CONFIGURATION.into(),
            idle_timeout: None,
            output_buffering_mode: None,
            runspaces: (1, 1),
            runspace_pool_id: None,
            no_profile: false,
            host: None,
        }
    }
}

impl SessionOptions {
    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the configuration name.
    pub fn configuration_name(mut self, name: impl Into<String>) -> Self {
        self.configuration_name = name.into();
        self
    }

    /// Sets the idle timeout.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Sets the output buffering mode.
    pub fn output_buffering_mode(mut self, mode: BufferMode) -> Self {
        self.output_buffering_mode = Some(mode);
        self
    }

    /// Sets the host (see [`PsHost`]).
    pub fn host(mut self, host: Arc<dyn PsHost>) -> Self {
        self.host = Some(host);
        self
    }
}

/// Resolves an idle timeout the way PowerShell does at creation: the explicit option wins over
/// the preference (`$PSSessionOption`), which wins over the configuration default (`None` =
/// leave it to the server).
pub fn resolve_idle_timeout(
    explicit: Option<Duration>,
    preference: Option<Duration>,
) -> Option<Duration> {
    explicit.or(preference)
}

/// Options of [`PsSession::disconnect`] (`Disconnect-PSSession`).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct DisconnectOptions {
    /// `-IdleTimeoutSec`: a new idle timeout, starting now.
    pub idle_timeout: Option<Duration>,
    /// `-OutputBufferingMode`.
    pub output_buffering_mode: Option<BufferMode>,
}

impl DisconnectOptions {
    /// Sets the idle timeout.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Sets the output buffering mode.
    pub fn output_buffering_mode(mut self, mode: BufferMode) -> Self {
        self.output_buffering_mode = Some(mode);
        self
    }
}

/// What to run: a statement of commands (a script, or a command with parameters), possibly
/// followed by further statements ([`Invocation::statement`]), and its input objects.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Invocation {
    /// The commands of the pipeline (the first statement), in order.
    pub commands: Vec<Command>,
    /// Further statements run after the first one, in order (`AddStatement`; `a; b`).
    pub extra_statements: Vec<Vec<Command>>,
    /// Input objects sent before the end of input.
    pub input: Vec<Value>,
    /// The pipeline id (= CommandId); a random one when `None`.
    pub pipeline_id: Option<Uuid>,
    /// A nested pipeline (`IsNested`): it runs while another pipeline of the pool is busy, as
    /// a host or a debugger does from inside a running command.
    pub nested: bool,
    /// Input stays open after [`PsSession::start`] (`NoInput` false even without input
    /// objects): the caller sends it, and ends it, with [`Pipeline::send_input`].
    pub input_later: bool,
}

impl Invocation {
    /// A script (`Invoke-Command -ScriptBlock { … }`).
    pub fn script(text: impl Into<String>) -> Self {
        Self {
            commands: vec![Command::new(text, true)],
            extra_statements: Vec::new(),
            input: Vec::new(),
            pipeline_id: None,
            nested: false,
            input_later: false,
        }
    }

    /// A command by name (`Get-Process`), to which parameters may be added.
    pub fn command(name: impl Into<String>) -> Self {
        Self {
            commands: vec![Command::new(name, false)],
            extra_statements: Vec::new(),
            input: Vec::new(),
            pipeline_id: None,
            nested: false,
            input_later: false,
        }
    }

    /// Adds a named parameter to the last command.
    pub fn parameter(mut self, name: &str, value: impl Into<Value>) -> Self {
        let last = self.last_statement();
        if let Some(c) = last.pop() {
            last.push(c.with_arg(Some(name), value));
        }
        self
    }

    /// Adds a positional argument to the last command.
    pub fn argument(mut self, value: impl Into<Value>) -> Self {
        let last = self.last_statement();
        if let Some(c) = last.pop() {
            last.push(c.with_arg(None, value));
        }
        self
    }

    /// Pipes into another command (in the last statement).
    pub fn pipe(mut self, command: Command) -> Self {
        self.last_statement().push(command);
        self
    }

    /// Starts a new statement with `command` (PowerShell's `AddStatement`): it runs after the
    /// previous one, not fed by it.
    pub fn statement(mut self, command: Command) -> Self {
        self.extra_statements.push(vec![command]);
        self
    }

    fn last_statement(&mut self) -> &mut Vec<Command> {
        match self.extra_statements.last_mut() {
            Some(last) => last,
            None => &mut self.commands,
        }
    }

    /// Sets the input objects.
    pub fn input(mut self, input: impl IntoIterator<Item = Value>) -> Self {
        self.input = input.into_iter().collect();
        self
    }

    /// Keeps the input open after [`PsSession::start`]: any input objects set here are sent
    /// but the end of input is left to the caller ([`Pipeline::send_input`] with `end`).
    pub fn input_later(mut self) -> Self {
        self.input_later = true;
        self
    }

    fn create_pipeline(&self, host_info: HostInfo) -> CreatePipeline {
        CreatePipeline {
            no_input: self.input.is_empty() && !self.input_later,
            apartment_state: ApartmentState::UNKNOWN,
            remote_stream_options: RemoteStreamOptions::NONE,
            add_to_history: false,
            host_info,
            power_shell: self.power_shell(),
            is_nested: self.nested,
        }
    }

    /// The PowerShell description. With several statements, as Windows PowerShell and pypsrp
    /// write it: `ExtraCmds` holds every statement and `Cmds` the first one again.
    fn power_shell(&self) -> PowerShellPipeline {
        let mut ps = PowerShellPipeline::new(self.commands.clone());
        ps.is_nested = self.nested;
        if !self.extra_statements.is_empty() {
            let mut all = vec![self.commands.clone()];
            all.extend(self.extra_statements.iter().cloned());
            ps.extra_cmds = Some(all);
        }
        ps
    }

    /// A short text for the command line of the WS-Man command (shown by enumeration).
    fn summary(&self) -> String {
        let text = self
            .commands
            .iter()
            .map(|c| c.cmd.as_str())
            .collect::<Vec<_>>()
            .join(" | ");
        let line = text.lines().next().unwrap_or_default();
        line.chars().take(200).collect()
    }
}

/// What a caller keeps to find a session again from another process: host, name, ids and
/// configuration. The WS-Man SessionId that makes "the same client" is kept by the caller
/// alongside (one per client).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionRecord {
    /// The computer (host) name the session was created on, as the user gave it.
    pub computer_name: String,
    /// The session name.
    pub name: String,
    /// The configuration name.
    pub configuration_name: String,
    /// The shell id (= runspace pool id, upper case).
    pub shell_id: String,
    /// Commands started and not yet fully received.
    pub command_ids: Vec<String>,
    /// The state as this client last saw it.
    pub state: SessionState,
    /// The OutputBufferingMode this client asked for (at creation, disconnect, reconnect or
    /// connect), sent again at the next disconnect that names none.
    pub output_buffering_mode: Option<BufferMode>,
    /// Where reading each command stopped, for commands a new reader needs something for
    /// (a Receive whose reply never arrived, objects received in part): see
    /// [`CommandProgress`]. Store it with the record; [`PsSession::from_record`] hands it on.
    pub progress: Vec<CommandProgress>,
    /// The `MaxEnvelopeSize` (bytes) the session's client had moved to when it differs from
    /// the transport's default (the PSRP raise after the server reported protocol 2.2 or
    /// later). [`PsSession::from_record`] gives it to a client still at the default, so the
    /// reply of a lost Receive, kept by the server at that size, fits when it is asked again.
    pub max_envelope_size: Option<u32>,
}

impl SessionRecord {
    /// A record.
    pub fn new(
        computer_name: impl Into<String>,
        name: impl Into<String>,
        configuration_name: impl Into<String>,
        shell_id: impl Into<String>,
        command_ids: Vec<String>,
        state: SessionState,
    ) -> Self {
        Self {
            computer_name: computer_name.into(),
            name: name.into(),
            configuration_name: configuration_name.into(),
            shell_id: shell_id.into(),
            command_ids,
            state,
            output_buffering_mode: None,
            progress: Vec::new(),
            max_envelope_size: None,
        }
    }

    /// Sets the reading progress of the commands (as stored from [`SessionRecord::progress`]).
    pub fn with_progress(mut self, progress: Vec<CommandProgress>) -> Self {
        self.progress = progress;
        self
    }

    /// Sets the remembered OutputBufferingMode.
    pub fn with_output_buffering_mode(mut self, mode: Option<BufferMode>) -> Self {
        self.output_buffering_mode = mode;
        self
    }

    /// Sets the remembered `MaxEnvelopeSize` (as stored from
    /// [`SessionRecord::max_envelope_size`]).
    pub fn with_max_envelope_size(mut self, bytes: Option<u32>) -> Self {
        self.max_envelope_size = bytes;
        self
    }
}

/// A PowerShell shell found on the server by enumeration, with its commands.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RemoteSession {
    /// The shell id.
    pub shell_id: ShellId,
    /// The session name.
    pub name: String,
    /// The resource URI (`http://schemas.microsoft.com/powershell/<configuration>`).
    pub resource_uri: String,
    /// The configuration name.
    pub configuration_name: String,
    /// The owner.
    pub owner: Option<String>,
    /// The client address that created it.
    pub client_ip: Option<String>,
    /// Whether some client is connected.
    pub connected: bool,
    /// IdleTimeOut as the server holds it.
    pub idle_timeout: Option<Duration>,
    /// MaxIdleTimeOut.
    pub max_idle_timeout: Option<Duration>,
    /// BufferMode.
    pub buffer_mode: Option<BufferMode>,
    /// Commands of the shell.
    pub commands: Vec<CommandItem>,
}

impl RemoteSession {
    /// State and availability as seen by a client whose own view of the session is `local`
    /// (`Some(Opened)` when this client holds it connected): SPEC A1's table.
    pub fn view(&self, local: Option<SessionState>) -> (SessionState, Availability) {
        if !self.connected {
            (SessionState::Disconnected, Availability::None)
        } else if local == Some(SessionState::Opened) {
            (SessionState::Opened, Availability::Available)
        } else {
            (SessionState::Disconnected, Availability::Busy)
        }
    }

    /// The ids of its commands.
    pub fn command_ids(&self) -> Vec<CommandId> {
        self.commands
            .iter()
            .filter_map(|c| c.command_id.clone())
            .collect()
    }
}

/// A PowerShell session (runspace pool) on a remote host.
#[derive(Debug)]
pub struct PsSession {
    client: WsManClient,
    computer_name: String,
    name: String,
    configuration_name: String,
    resource_uri: String,
    shell_id: ShellId,
    pool: RunspacePool,
    state: SessionState,
    availability: Availability,
    commands: Vec<CommandId>,
    instance_id: Uuid,
    /// Answers host calls; announced to the server at creation and with each pipeline.
    host: Arc<dyn PsHost>,
    /// The OutputBufferingMode this client chose last (creation, disconnect, reconnect).
    buffer_mode: Option<BufferMode>,
    /// The call id of the next pool request (runspace counts, reset), from 0 as pypsrp.
    next_call_id: i64,
    /// Set by this session's requests and its pipelines' when one still failed with a
    /// transport error after the client's retries (SPEC A1, unintended disconnection): the
    /// session is then Disconnected for this client, as after a deliberate disconnect, until
    /// [`PsSession::reconnect`].
    lost: Arc<AtomicBool>,
    /// Set when the server reported the runspace pool Broken (RUNSPACEPOOL_STATE), on the
    /// pool's stream or a pipeline's: the session is Broken for good.
    broken: Arc<AtomicBool>,
    /// Objects this session's pipelines received in part, per command (for the record).
    unfinished: resume::Unfinished,
}

impl PsSession {
    /// Creates and opens a session (`New-PSSession`): WS-Man Create with the creationXml
    /// (SESSION_CAPABILITY + INIT_RUNSPACEPOOL), then pool Receives until the pool is Opened.
    ///
    /// # Errors
    ///
    /// Faults (quota, AccessDenied, an idle timeout outside the server's bounds as
    /// `w:InvalidOptions`…), transport errors, or a pool that ends Broken/Closed.
    pub async fn new(
        client: &WsManClient,
        computer_name: &str,
        options: SessionOptions,
    ) -> Result<Self, Error> {
        let pool_id = RunspacePoolId(options.runspace_pool_id.unwrap_or_else(Uuid::new_v4));
        let shell_id = ShellId::new(pool_id.0.to_string().to_uppercase());
        let (min, max) = options.runspaces;
        let mut pool = RunspacePool::client(pool_id, min, max);
        pool.open().map_err(psrp_error)?;
        let mut creation_xml = drain(&mut pool, room(client));
        let host = options.host.clone().unwrap_or_else(default_host);
        if let Some(info) = host.host_info() {
            creation_xml = with_pool_host_info(&creation_xml, &info, room(client))?;
        }
        let resource_uri = resource_uri(&options.configuration_name);
        let body = Shell {
            shell_id_attr: Some(shell_id.clone()),
            name_attr: options.name.clone(),
            input_streams: Some(vec!["stdin".into(), "pr".into()]),
            output_streams: Some(vec!["stdout".into()]),
            idle_timeout: options.idle_timeout,
            buffer_mode: options.output_buffering_mode.clone(),
            creation_xml: Some(creation_xml),
            ..Shell::default()
        };
        let mut create_options = protocol_options();
        if options.no_profile {
            create_options = create_options.with("WINRS_NOPROFILE", "TRUE", Some(true));
        }
        let created = client.create(&resource_uri, body, create_options).await?;
        let shell_id = created.shell_id().unwrap_or(shell_id);
        let name = options
            .name
            .or_else(|| created.shell.as_ref().and_then(|s| s.name.clone()))
            .unwrap_or_else(|| shell_id.as_str().to_owned());
        let mut session = Self {
            client: client.clone(),
            computer_name: computer_name.to_owned(),
            name,
            configuration_name: options.configuration_name,
            resource_uri,
            shell_id,
            pool,
            state: SessionState::Opened,
            availability: Availability::Available,
            commands: Vec::new(),
            instance_id: Uuid::new_v4(),
            host,
            buffer_mode: options.output_buffering_mode,
            next_call_id: 0,
            lost: Arc::new(AtomicBool::new(false)),
            broken: Arc::new(AtomicBool::new(false)),
            unfinished: resume::Unfinished::default(),
        };
        if let Err(e) = session.pump_pool_until_opened().await {
            session.state = SessionState::Broken;
            session.availability = Availability::None;
            // Best effort: do not leave a half-open shell behind.
            let _ = client
                .delete(&session.resource_uri, &session.shell_id)
                .await;
            return Err(e);
        }
        client
            .raise_envelope_for_psrp(
                session
                    .pool
                    .peer_capability()
                    .map(|c| c.protocol_version.as_str()),
            )
            .await;
        Ok(session)
    }

    /// A session known from a [`SessionRecord`] (kept by this client in an earlier process).
    /// No request is made: the record's state is taken as this client's view, and its command
    /// ids as the commands still to receive. The record's [`SessionRecord::progress`] is handed
    /// on: `client` repeats the SequenceId of a Receive whose reply was lost, and pipelines
    /// from [`PsSession::attach`] go on with the objects received in part. A `client` still at
    /// the default `MaxEnvelopeSize` takes the record's [`SessionRecord::max_envelope_size`].
    pub fn from_record(client: &WsManClient, record: &SessionRecord) -> Self {
        let shell_id = ShellId::new(record.shell_id.to_uppercase());
        if let Some(bytes) = record.max_envelope_size
            && client.max_envelope_size() == wsman_transport::config::DEFAULT_MAX_ENVELOPE_SIZE
        {
            client.set_max_envelope_size(bytes);
        }
        let unfinished = resume::Unfinished::default();
        for p in &record.progress {
            let command_id = CommandId::new(p.command_id.to_uppercase());
            client.resume_receive(
                &shell_id,
                Some(&command_id),
                p.unanswered_sequence,
                p.last_sequence,
            );
            unfinished.carry(command_id.as_str(), p.partial_objects.clone());
        }
        let availability = match record.state {
            SessionState::Opened => Availability::Available,
            _ => Availability::None,
        };
        Self {
            client: client.clone(),
            computer_name: record.computer_name.clone(),
            name: record.name.clone(),
            configuration_name: record.configuration_name.clone(),
            resource_uri: resource_uri(&record.configuration_name),
            pool: RunspacePool::client(pool_id_of(&shell_id), 1, 1),
            shell_id,
            state: record.state,
            availability,
            commands: record
                .command_ids
                .iter()
                .map(|c| CommandId::new(c.to_uppercase()))
                .collect(),
            instance_id: Uuid::new_v4(),
            host: default_host(),
            buffer_mode: record.output_buffering_mode.clone(),
            next_call_id: 0,
            lost: Arc::new(AtomicBool::new(false)),
            broken: Arc::new(AtomicBool::new(false)),
            unfinished,
        }
    }

    /// What to store to find this session again.
    pub fn record(&self) -> SessionRecord {
        SessionRecord {
            computer_name: self.computer_name.clone(),
            name: self.name.clone(),
            configuration_name: self.configuration_name.clone(),
            shell_id: self.shell_id.as_str().to_owned(),
            command_ids: self
                .commands
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
            state: self.current_state(),
            output_buffering_mode: self.buffer_mode.clone(),
            progress: self.progress(),
            max_envelope_size: Some(self.client.max_envelope_size())
                .filter(|&b| b != wsman_transport::config::DEFAULT_MAX_ENVELOPE_SIZE),
        }
    }

    /// [`SessionRecord::progress`]: for each command, the unanswered Receive and the objects
    /// received in part, when there are any.
    fn progress(&self) -> Vec<CommandProgress> {
        let last_sequence = self.client.last_receive_sequence();
        self.commands
            .iter()
            .map(|c| CommandProgress {
                unanswered_sequence: self.client.unanswered_receive(&self.shell_id, Some(c)),
                last_sequence,
                partial_objects: self.unfinished.get(c.as_str()),
                ..CommandProgress::new(c.as_str())
            })
            .filter(|p| !p.is_empty())
            .collect()
    }

    /// Attaches to a session that is disconnected from its creator (`Connect-PSSession` from
    /// another client): WS-Man Connect with the connectXml (SESSION_CAPABILITY +
    /// CONNECT_RUNSPACEPOOL), then one Connect per command to reattach it. Output the
    /// commands produced meanwhile is then read with [`PsSession::receive`].
    ///
    /// # Errors
    ///
    /// `w:InternalError` when another client is connected, AccessDenied, InvalidSelectors for
    /// an unknown shell; transport errors.
    pub async fn connect(
        client: &WsManClient,
        computer_name: &str,
        remote: &RemoteSession,
    ) -> Result<Self, Error> {
        Self::connect_with_mode(client, computer_name, remote, None).await
    }

    /// [`PsSession::connect`] with an OutputBufferingMode (`Connect-PSSession
    /// -SessionOption @{OutputBufferingMode=…}`). A WS-Man Connect body carries no BufferMode
    /// (only the connectXml), so the mode is kept by this client (in [`PsSession::record`] too)
    /// and sent with its next Disconnect that names none.
    ///
    /// # Errors
    ///
    /// As [`PsSession::connect`].
    pub async fn connect_with_mode(
        client: &WsManClient,
        computer_name: &str,
        remote: &RemoteSession,
        buffer_mode: Option<BufferMode>,
    ) -> Result<Self, Error> {
        let pool_id = pool_id_of(&remote.shell_id);
        let mut pool = RunspacePool::client(pool_id, 1, 1);
        pool.connect().map_err(psrp_error)?;
        let connect_xml = drain(&mut pool, room(client));
        let mut session = Self {
            client: client.clone(),
            computer_name: computer_name.to_owned(),
            name: remote.name.clone(),
            configuration_name: remote.configuration_name.clone(),
            resource_uri: remote.resource_uri.clone(),
            shell_id: remote.shell_id.clone(),
            pool,
            state: SessionState::Disconnected,
            availability: Availability::None,
            commands: Vec::new(),
            instance_id: Uuid::new_v4(),
            host: default_host(),
            buffer_mode,
            next_call_id: 0,
            lost: Arc::new(AtomicBool::new(false)),
            broken: Arc::new(AtomicBool::new(false)),
            unfinished: resume::Unfinished::default(),
        };
        let reply = client
            .connect(
                &session.resource_uri,
                &session.shell_id,
                Connect {
                    command_id: None,
                    connect_xml: Some(connect_xml),
                },
                protocol_options(),
            )
            .await?;
        session.state = SessionState::Opened;
        session.availability = Availability::Available;
        if let Some(xml) = reply.connect_response_xml {
            session.pool.receive(&xml).map_err(psrp_error)?;
            session.drain_pool_events()?;
        }
        if session.pool.state() != RunspacePoolState::OPENED {
            session.pump_pool_until_opened().await?;
        }
        client
            .raise_envelope_for_psrp(
                session
                    .pool
                    .peer_capability()
                    .map(|c| c.protocol_version.as_str()),
            )
            .await;
        for command_id in remote.command_ids() {
            session
                .client
                .connect(
                    &session.resource_uri,
                    &session.shell_id,
                    Connect {
                        command_id: Some(command_id.clone()),
                        connect_xml: None,
                    },
                    OptionSet::default(),
                )
                .await?;
            session.commands.push(command_id);
        }
        Ok(session)
    }

    /// Lists the PowerShell sessions on the server (`Get-PSSession -ComputerName`): an
    /// enumeration of shells, then of each PowerShell shell's commands.
    ///
    /// # Errors
    ///
    /// Faults and transport errors of the enumerations.
    pub async fn enumerate(client: &WsManClient) -> Result<Vec<RemoteSession>, Error> {
        let items = client.enumerate_all(ns::RESOURCE_SHELLS, None).await?;
        let mut out = Vec::new();
        for item in items {
            let Item::Shell(shell) = item else { continue };
            // PowerShell skips items lacking ShellId, State, Name or ResourceUri. A missing Name
            // is tolerated here (shells created by pypsrp have none): the ShellId stands in.
            let (Some(id), Some(state), Some(uri)) = (
                shell.id().cloned(),
                shell.state.clone(),
                shell.resource_uri.clone(),
            ) else {
                continue;
            };
            let name = shell.name.clone().unwrap_or_else(|| id.as_str().to_owned());
            let Some(config) = uri.strip_prefix(ns::RESOURCE_POWERSHELL_PREFIX) else {
                continue;
            };
            let commands = client
                .enumerate_all(
                    ns::RESOURCE_COMMANDS,
                    Some(WsManClient::commands_filter(&id)),
                )
                .await?
                .into_iter()
                .filter_map(|i| match i {
                    Item::Command(c) => Some(c),
                    _ => None,
                })
                .collect();
            out.push(RemoteSession {
                configuration_name: config.to_owned(),
                shell_id: id,
                name,
                resource_uri: uri.clone(),
                owner: shell.owner.clone(),
                client_ip: shell.client_ip.clone(),
                connected: state != ShellState::Disconnected,
                idle_timeout: shell.idle_timeout,
                max_idle_timeout: shell.max_idle_timeout,
                buffer_mode: shell.buffer_mode.clone(),
                commands,
            });
        }
        Ok(out)
    }

    /// The session name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The computer name.
    pub fn computer_name(&self) -> &str {
        &self.computer_name
    }

    /// The configuration name.
    pub fn configuration_name(&self) -> &str {
        &self.configuration_name
    }

    /// The shell id.
    pub fn shell_id(&self) -> &ShellId {
        &self.shell_id
    }

    /// The state as this client sees it.
    pub fn state(&self) -> SessionState {
        self.current_state()
    }

    /// The availability as this client sees it.
    pub fn availability(&self) -> Availability {
        if self.lost.load(Ordering::Relaxed) {
            Availability::None
        } else {
            self.availability
        }
    }

    /// The WS-Man client.
    pub fn client(&self) -> &WsManClient {
        &self.client
    }

    /// Commands started and not yet fully received.
    pub fn pending_commands(&self) -> &[CommandId] {
        &self.commands
    }

    /// Asks the server how it sees the session now and updates this client's view (SPEC A1):
    /// gone ⇒ Closed; Disconnected there ⇒ Disconnected/None; connected while this client
    /// holds it ⇒ Opened/Available; connected otherwise ⇒ Disconnected/Busy.
    ///
    /// # Errors
    ///
    /// Faults other than an unknown shell; transport errors.
    pub async fn refresh(&mut self) -> Result<(SessionState, Availability), Error> {
        let all = Self::enumerate(&self.client).await?;
        match all.iter().find(|r| {
            r.shell_id
                .as_str()
                .eq_ignore_ascii_case(self.shell_id.as_str())
        }) {
            None => {
                self.state = SessionState::Closed;
                self.availability = Availability::None;
            }
            Some(remote) => {
                let (state, availability) = remote.view(Some(self.current_state()));
                self.state = state;
                self.availability = availability;
            }
        }
        Ok((self.state, self.availability))
    }

    /// Starts a pipeline (Command with CREATE_PIPELINE) and sends its input; read it with
    /// [`Pipeline::next`] or [`Pipeline::collect`].
    ///
    /// # Errors
    ///
    /// A usage error unless Opened here; faults (command quota…) and transport errors.
    pub async fn start(&mut self, invocation: &Invocation) -> Result<Pipeline, Error> {
        self.expect_opened("start a pipeline")?;
        let pipeline_id = PipelineId(invocation.pipeline_id.unwrap_or_else(Uuid::new_v4));
        let command_id = CommandId::new(pipeline_id.0.to_string().to_uppercase());
        let mut core = PipelineCore::client(
            self.pool.id(),
            pipeline_id,
            invocation.create_pipeline(self.host_context().pipeline_host_info()),
            ObjectId(1),
        );
        core.start().map_err(psrp_error)?;
        let room = room(&self.client);
        let first = core.poll_transmit(room).unwrap_or_default();
        let line = CommandLine {
            command_id: Some(command_id.clone()),
            command: Some(invocation.summary()),
            arguments: vec![base64_encode(&first)],
        };
        // As Windows' client and pypsrp: PowerShell commands are not run through cmd.
        let options = OptionSet::default().with("WINRS_SKIP_CMD_SHELL", "False", None);
        let got = self
            .client
            .command(&self.resource_uri, &self.shell_id, line, options)
            .await;
        let got = match got {
            Ok(got) => got,
            Err(e) if e.fault().is_some() => {
                // Refused: a pool that broke says so on its own stream.
                self.learn_pool_state().await;
                self.expect_opened("start a pipeline")?;
                return Err(e);
            }
            Err(e) => return Err(note_loss(&self.lost, e)),
        };
        let command_id = if got.as_str().is_empty() {
            command_id
        } else {
            got
        };
        self.commands.push(command_id.clone());
        let mut pipeline = Pipeline::new(self, command_id, core);
        // What did not fit in the Command follows on stdin.
        pipeline.flush("stdin", false).await?;
        if !invocation.input.is_empty() {
            pipeline
                .send_input(invocation.input.clone(), !invocation.input_later)
                .await?;
        }
        Ok(pipeline)
    }

    /// Runs a pipeline to its end and returns everything it produced (`Invoke-Command`).
    ///
    /// # Errors
    ///
    /// As [`PsSession::start`] and [`Pipeline::next`].
    pub async fn invoke(&mut self, invocation: &Invocation) -> Result<InvokeOutput, Error> {
        let pipeline = self.start(invocation).await?;
        let id = pipeline.command_id().clone();
        let out = pipeline.collect().await;
        self.forget_command(&id);
        out
    }

    /// `Invoke-Command -InDisconnectedSession`: creates a session, starts the command and
    /// disconnects at once, before any output is returned.
    ///
    /// # Errors
    ///
    /// As [`PsSession::new`], [`PsSession::start`] and [`PsSession::disconnect`].
    pub async fn invoke_in_disconnected_session(
        client: &WsManClient,
        computer_name: &str,
        options: SessionOptions,
        invocation: &Invocation,
    ) -> Result<Self, Error> {
        let disconnect = DisconnectOptions {
            idle_timeout: options.idle_timeout,
            output_buffering_mode: options.output_buffering_mode.clone(),
        };
        let mut session = Self::new(client, computer_name, options).await?;
        let pipeline = session.start(invocation).await?;
        drop(pipeline);
        session.disconnect(disconnect).await?;
        Ok(session)
    }

    /// Forgets a command (after its output was fully received).
    pub fn forget_command(&mut self, id: &CommandId) {
        self.unfinished.forget(id.as_str());
        self.commands
            .retain(|c| !c.as_str().eq_ignore_ascii_case(id.as_str()));
    }

    /// `Disconnect-PSSession`: the session and its commands keep running on the server; the
    /// idle clock starts now.
    ///
    /// # Errors
    ///
    /// A usage error unless Opened here; faults (`w:InvalidOptions` for an idle timeout out
    /// of bounds) and transport errors.
    pub async fn disconnect(&mut self, options: DisconnectOptions) -> Result<(), Error> {
        self.expect_opened("disconnect")?;
        // The mode chosen at creation (or last time) holds unless this disconnect names one:
        // servers that do not read rsp:BufferMode at Create get it here.
        let buffer_mode = options
            .output_buffering_mode
            .or_else(|| self.buffer_mode.clone());
        self.client
            .disconnect(
                &self.resource_uri,
                &self.shell_id,
                Disconnect {
                    idle_timeout: options.idle_timeout,
                    buffer_mode: buffer_mode.clone(),
                },
            )
            .await?;
        self.buffer_mode = buffer_mode;
        // The pool object may not have been opened in this process (from_record).
        let _ = self.pool.disconnect();
        self.state = SessionState::Disconnected;
        self.availability = Availability::None;
        Ok(())
    }

    /// `Connect-PSSession` by the client that disconnected it (WS-Man Reconnect, same
    /// SessionId). An idle timeout cannot be changed here; the buffering mode can.
    ///
    /// # Errors
    ///
    /// Faults (another client's session, unknown shell) and transport errors.
    pub async fn reconnect(&mut self, buffer_mode: Option<BufferMode>) -> Result<(), Error> {
        if self.current_state() == SessionState::Opened {
            return Ok(());
        }
        self.client
            .reconnect(
                &self.resource_uri,
                &self.shell_id,
                Reconnect {
                    command_id: None,
                    buffer_mode: buffer_mode.clone(),
                },
            )
            .await?;
        if buffer_mode.is_some() {
            self.buffer_mode = buffer_mode;
        }
        let _ = self.pool.reconnect();
        self.lost.store(false, Ordering::Relaxed);
        self.state = SessionState::Opened;
        self.availability = Availability::Available;
        Ok(())
    }

    /// A pipeline object to read a command that was started earlier (possibly by another
    /// process or client) and is still held by the server.
    ///
    /// # Errors
    ///
    /// A usage error unless Opened here, or for a command id that is not a GUID.
    pub fn attach(&self, command_id: &CommandId) -> Result<Pipeline, Error> {
        self.expect_opened("receive")?;
        let uuid = Uuid::parse_str(command_id.as_str())
            .map_err(|_| Error::usage(format!("command id {command_id} is not a guid")))?;
        let core = PipelineCore::reattach(self.pool.id(), PipelineId(uuid), ObjectId(1));
        Ok(Pipeline::new(self, command_id.clone(), core))
    }

    /// `Receive-PSSession`: reconnects if needed (this client's own session; use
    /// [`PsSession::connect`] for another client's), then reads every pending command to its
    /// end, calling `on_item` for each record as it arrives.
    ///
    /// # Errors
    ///
    /// As [`PsSession::reconnect`] and [`Pipeline::next`].
    pub async fn receive_with(
        &mut self,
        buffer_mode: Option<BufferMode>,
        mut on_item: impl FnMut(&CommandId, &StreamItem),
    ) -> Result<Vec<InvokeOutput>, Error> {
        if self.current_state() != SessionState::Opened {
            self.reconnect(buffer_mode).await?;
        }
        let mut outputs = Vec::new();
        for id in self.commands.clone() {
            let mut pipeline = self.attach(&id)?;
            let mut out = InvokeOutput::empty(id.clone());
            while let Some(item) = pipeline.next().await? {
                on_item(&id, &item);
                out.push(item);
            }
            out.state = pipeline.state();
            out.reason = pipeline.reason().cloned();
            self.forget_command(&id);
            outputs.push(out);
        }
        Ok(outputs)
    }

    /// [`PsSession::receive_with`] without a callback.
    ///
    /// # Errors
    ///
    /// As [`PsSession::receive_with`].
    pub async fn receive(
        &mut self,
        buffer_mode: Option<BufferMode>,
    ) -> Result<Vec<InvokeOutput>, Error> {
        self.receive_with(buffer_mode, |_, _| {}).await
    }

    /// `Receive-PSSession -OutTarget Job`: the same, in a background task whose records
    /// stream through the returned [`Job`]. Needs a tokio runtime.
    pub fn receive_job(self, id: u32, buffer_mode: Option<BufferMode>) -> Job {
        Job::spawn(id, self, buffer_mode)
    }

    /// `Remove-PSSession`: deletes the shell on the server.
    ///
    /// # Errors
    ///
    /// Faults and transport errors (an unknown shell is `InvalidSelectors`).
    pub async fn remove(mut self) -> Result<(), Error> {
        self.client
            .delete(&self.resource_uri, &self.shell_id)
            .await?;
        self.pool.handle_closed();
        self.state = SessionState::Closed;
        Ok(())
    }

    /// This client's view: Disconnected once a request was lost on the way (SPEC A1).
    fn current_state(&self) -> SessionState {
        if self.broken.load(Ordering::Relaxed) || self.pool.state() == RunspacePoolState::BROKEN {
            SessionState::Broken
        } else if self.state == SessionState::Opened && self.lost.load(Ordering::Relaxed) {
            SessionState::Disconnected
        } else {
            self.state
        }
    }

    fn expect_opened(&self, what: &str) -> Result<(), Error> {
        match self.current_state() {
            SessionState::Opened => Ok(()),
            state => Err(Error::usage(format!(
                "cannot {what}: session {} is {state} for this client",
                self.name
            ))),
        }
    }

    async fn pump_pool_until_opened(&mut self) -> Result<(), Error> {
        loop {
            match self.pool.state() {
                RunspacePoolState::OPENED => return Ok(()),
                RunspacePoolState::BROKEN | RunspacePoolState::CLOSED => {
                    return Err(Error::protocol(format!(
                        "runspace pool {} is {}",
                        self.name,
                        self.pool.state().name().unwrap_or("not open")
                    )));
                }
                _ => {}
            }
            self.receive_on_pool(|s| {
                format!(
                    "runspace pool {} is {}",
                    s.name,
                    s.pool.state().name().unwrap_or("not open")
                )
            })
            .await
            .map_err(|e| note_loss(&self.lost, e))?;
            self.drain_pool_events()?;
        }
    }

    /// One round of waiting on the runspace pool: a protocol error worded by `ended` when the
    /// pool is Broken or Closed, else one pool Receive (no CommandId, stdout) whose streams
    /// without a CommandId are fed to the pool. The pool's events are left for the caller.
    async fn receive_on_pool(&mut self, ended: impl FnOnce(&Self) -> String) -> Result<(), Error> {
        if matches!(
            self.pool.state(),
            RunspacePoolState::BROKEN | RunspacePoolState::CLOSED
        ) {
            return Err(Error::protocol(ended(self)));
        }
        let reply = self
            .client
            .receive(
                &self.resource_uri,
                &self.shell_id,
                Receive {
                    command_id: None,
                    streams: vec!["stdout".into()],
                    ..Default::default()
                },
            )
            .await?;
        for stream in reply.streams.iter().filter(|s| s.command_id.is_none()) {
            self.pool.receive(&stream.data).map_err(psrp_error)?;
        }
        Ok(())
    }

    /// Reads what the server queued on the pool's stream (one short Receive) and updates the
    /// pool's state from it; best effort.
    async fn learn_pool_state(&mut self) {
        let reply = self
            .client
            .receive_once(
                &self.resource_uri,
                &self.shell_id,
                Receive {
                    command_id: None,
                    streams: vec!["stdout".into()],
                    ..Default::default()
                },
                POOL_PEEK,
            )
            .await;
        let Ok(reply) = reply else { return };
        for stream in reply.streams.iter().filter(|s| s.command_id.is_none()) {
            if self.pool.receive(&stream.data).is_err() {
                return;
            }
        }
        let _ = self.drain_pool_events();
        if self.pool.state() == RunspacePoolState::BROKEN {
            self.broken.store(true, Ordering::Relaxed);
        }
    }

    fn drain_pool_events(&mut self) -> Result<(), Error> {
        while let Some(event) = self.pool.poll_event() {
            match event {
                PoolEvent::HostCall(call) => {
                    if let Some(response) = host::answer(&call, &self.host_context()).response {
                        self.pool.host_response(response).map_err(psrp_error)?;
                    }
                }
                other => tracing::trace!(?other, "pool event"),
            }
        }
        Ok(())
    }

    /// Sets the host that answers this session's host calls from now on (pipelines started
    /// or attached later). What the server was told at creation (HostInfo) stays as it was.
    pub fn set_host(&mut self, host: Arc<dyn PsHost>) {
        self.host = host;
    }

    /// What host calls are answered with: the host, the instance id, the session key.
    fn host_context(&self) -> host::HostContext {
        host::HostContext {
            host: Arc::clone(&self.host),
            instance_id: self.instance_id,
            session_key: self.pool.session_key().cloned(),
        }
    }
}

/// A running pipeline: read its records with [`Pipeline::next`]; stop it with a
/// [`Stopper`] (usable from another task while `next` waits).
#[derive(Debug)]
pub struct Pipeline {
    client: WsManClient,
    resource_uri: String,
    shell_id: ShellId,
    command_id: CommandId,
    core: PipelineCore,
    /// Shared with the session, whose record exports the objects received in part.
    defragmenter: Arc<Mutex<Defragmenter>>,
    room: usize,
    host: host::HostContext,
    pending: VecDeque<StreamItem>,
    /// The session's flag: set when a request is lost on the way.
    lost: Arc<AtomicBool>,
    /// The session's flag: set when the server reports the pool Broken.
    broken: Arc<AtomicBool>,
    finished: bool,
    state: PsInvocationState,
    reason: Option<ErrorRecord>,
    /// The next Receive, sent before the previous reply was decoded (see [`Pipeline::next`]).
    ahead: Option<AheadReceive>,
}

/// A Receive already on the wire while the caller works through the previous reply.
struct AheadReceive(
    Pin<Box<dyn Future<Output = Result<ReceiveResponse, Error>> + std::marker::Send>>,
);

impl fmt::Debug for AheadReceive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AheadReceive")
    }
}

impl Pipeline {
    fn new(session: &PsSession, command_id: CommandId, core: PipelineCore) -> Self {
        // Objects an earlier reader of this command received in part (another pipeline
        // object, maybe in another process): their next fragments come to this one.
        let defragmenter = session.unfinished.open(command_id.as_str());
        Self {
            client: session.client.clone(),
            resource_uri: session.resource_uri.clone(),
            shell_id: session.shell_id.clone(),
            command_id,
            state: core.state(),
            core,
            defragmenter,
            room: room(&session.client),
            host: session.host_context(),
            pending: VecDeque::new(),
            lost: Arc::clone(&session.lost),
            broken: Arc::clone(&session.broken),
            finished: false,
            reason: None,
            ahead: None,
        }
    }

    /// The command (pipeline) id.
    pub fn command_id(&self) -> &CommandId {
        &self.command_id
    }

    /// The invocation state (Running until the server reports the end).
    pub fn state(&self) -> PsInvocationState {
        self.state
    }

    /// Why it failed or stopped.
    pub fn reason(&self) -> Option<&ErrorRecord> {
        self.reason.as_ref()
    }

    /// Whether the pipeline ended and everything was read.
    pub fn is_done(&self) -> bool {
        self.finished && self.pending.is_empty()
    }

    /// A handle that stops the pipeline (WS-Man Signal `powershell/signal/crtl_c`).
    pub fn stopper(&self) -> Stopper {
        Stopper {
            client: self.client.clone(),
            resource_uri: self.resource_uri.clone(),
            shell_id: self.shell_id.clone(),
            command_id: self.command_id.clone(),
            lost: Arc::clone(&self.lost),
        }
    }

    /// Sends input objects (PIPELINE_INPUT), then END_OF_PIPELINE_INPUT when `end`.
    ///
    /// # Errors
    ///
    /// A usage error when the pipeline takes no input; faults and transport errors.
    pub async fn send_input(&mut self, values: Vec<Value>, end: bool) -> Result<(), Error> {
        for v in values {
            self.core.send_input(v).map_err(psrp_error)?;
        }
        if end {
            self.core.end_input().map_err(psrp_error)?;
        }
        self.flush("stdin", end).await
    }

    /// The next record, receiving as needed (long polls that time out are repeated); `None`
    /// once the pipeline ended. Host calls are answered on the way.
    ///
    /// # Errors
    ///
    /// Faults (2150859230 when the session was disconnected meanwhile), transport errors,
    /// malformed PSRP data.
    pub async fn next(&mut self) -> Result<Option<StreamItem>, Error> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Ok(Some(item));
            }
            if self.finished {
                return Ok(None);
            }
            let reply = match self.ahead.take() {
                Some(ahead) => match ahead.0.await {
                    Ok(reply) => Ok(reply),
                    // A fault answered to the Receive sent ahead (the session was disconnected
                    // meanwhile, say) is asked again now, as if it had never been sent.
                    Err(e) if e.fault().is_some() => {
                        tracing::debug!(error = %e, "receive sent ahead failed, asking again");
                        self.receive_call().await
                    }
                    Err(e) => Err(e),
                },
                None => self.receive_call().await,
            }
            .map_err(|e| note_loss(&self.lost, e))?;
            let done = reply
                .command_state
                .as_ref()
                .is_some_and(|cs| cs.state == wsman::shell::CommandState::Done);
            // A reply filled to at least half the envelope means the server has more queued:
            // the next Receive goes out now and the server prepares it while this one is
            // decoded here. One Receive per command is ever outstanding, and replies are still
            // handled in order. Small replies do not ask ahead, so the receive connection is
            // not held by a long poll while other pipelines of the session want it.
            let size: usize = reply.streams.iter().map(|s| s.data.len()).sum();
            if !done && size >= self.room / 2 {
                let mut ahead = AheadReceive(Box::pin(self.receive_call()));
                // Polled once so the request is written before the decoding starts; the
                // waker of the later `.await` replaces this one.
                let mut cx = Context::from_waker(Waker::noop());
                match ahead.0.as_mut().poll(&mut cx) {
                    Poll::Ready(result) => {
                        ahead = AheadReceive(Box::pin(std::future::ready(result)));
                    }
                    Poll::Pending => {}
                }
                self.ahead = Some(ahead);
            }
            for stream in &reply.streams {
                let ours = stream
                    .command_id
                    .as_ref()
                    .is_none_or(|c| c.as_str().eq_ignore_ascii_case(self.command_id.as_str()));
                if ours && !stream.data.is_empty() {
                    self.feed(&stream.data)?;
                }
            }
            let answered = self.drain_events()?;
            if answered {
                self.flush("pr", false).await?;
            }
            if done {
                self.finished = true;
            }
        }
    }

    /// A Receive of this command's output (owning what it needs, so it can be sent ahead).
    fn receive_call(
        &self,
    ) -> impl Future<Output = Result<ReceiveResponse, Error>> + std::marker::Send + 'static {
        let client = self.client.clone();
        let resource_uri = self.resource_uri.clone();
        let shell_id = self.shell_id.clone();
        let receive = Receive {
            command_id: Some(self.command_id.clone()),
            streams: vec!["stdout".into()],
            ..Default::default()
        };
        async move { client.receive(&resource_uri, &shell_id, receive).await }
    }

    /// Reads to the end and returns everything.
    ///
    /// # Errors
    ///
    /// As [`Pipeline::next`].
    pub async fn collect(self) -> Result<InvokeOutput, Error> {
        self.collect_with(|_| {}).await
    }

    /// Reads to the end, calling `on_item` for each record as it arrives.
    ///
    /// # Errors
    ///
    /// As [`Pipeline::next`].
    pub async fn collect_with(
        mut self,
        mut on_item: impl FnMut(&StreamItem),
    ) -> Result<InvokeOutput, Error> {
        let mut out = InvokeOutput::empty(self.command_id.clone());
        while let Some(item) = self.next().await? {
            on_item(&item);
            out.push(item);
        }
        out.state = self.state;
        out.reason = self.reason;
        Ok(out)
    }

    /// Reassembles the command's stream and hands its messages to the core. WS-Man already
    /// routed the stream by CommandId, so a message's PID is taken to be this pipeline's:
    /// some clients (older pypsrp) write the PID GUID in another byte order than the
    /// CommandId text, and Windows echoes it as sent.
    fn feed(&mut self, data: &[u8]) -> Result<(), Error> {
        let mut defragmenter = self
            .defragmenter
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        defragmenter.receive(data).map_err(psrp_error)?;
        while let Some(blob) = defragmenter.poll_message() {
            let mut message = Message::decode(&blob).map_err(psrp_error)?;
            if message.pipeline_id.is_nil() {
                if message.message_type == MessageType::RUNSPACEPOOL_STATE
                    && let Ok(Payload::RunspacePoolState(info)) =
                        Payload::decode(message.message_type, &message.data)
                    && info.state == RunspacePoolState::BROKEN
                {
                    tracing::debug!("the server reports the runspace pool broken");
                    self.broken.store(true, Ordering::Relaxed);
                }
                tracing::debug!(message_type = %message.message_type, "pool message on a command stream");
                continue;
            }
            message.pipeline_id = self.core.id();
            self.core.handle_message(message).map_err(psrp_error)?;
        }
        Ok(())
    }

    /// Processes the core's events; returns whether host responses were queued.
    fn drain_events(&mut self) -> Result<bool, Error> {
        let mut answered = false;
        while let Some(event) = self.core.poll_event() {
            match event {
                PipelineEvent::Output(v) => self.pending.push_back(StreamItem::Output(v)),
                PipelineEvent::Record(p) => {
                    if let Some(item) = StreamItem::from_payload(p) {
                        self.pending.push_back(item);
                    }
                }
                PipelineEvent::HostCall(call) => {
                    let answer = host::answer(&call, &self.host);
                    if let Some(item) = answer.item {
                        self.pending.push_back(item);
                    }
                    if let Some(response) = answer.response {
                        // A pipeline that is stopping cannot answer any more.
                        if self.core.host_response(response).is_ok() {
                            answered = true;
                        }
                    }
                }
                PipelineEvent::StateChanged(state, reason) => {
                    self.state = state;
                    if matches!(
                        state,
                        PsInvocationState::COMPLETED
                            | PsInvocationState::FAILED
                            | PsInvocationState::STOPPED
                    ) {
                        self.finished = true;
                        self.reason = reason.map(|r| *r);
                    }
                }
                other => tracing::trace!(?other, "pipeline event"),
            }
        }
        Ok(answered)
    }

    /// Sends what the core has queued on `stream`.
    async fn flush(&mut self, stream: &str, end: bool) -> Result<(), Error> {
        let mut chunks = Vec::new();
        while let Some(chunk) = self.core.poll_transmit(self.room) {
            chunks.push(chunk);
        }
        let count = chunks.len();
        for (i, data) in chunks.into_iter().enumerate() {
            let send = Send {
                streams: vec![Stream {
                    name: stream.into(),
                    command_id: Some(self.command_id.clone()),
                    end: (end && i + 1 == count).then_some(true),
                    data,
                }],
            };
            self.client
                .send(&self.resource_uri, &self.shell_id, send)
                .await
                .map_err(|e| note_loss(&self.lost, e))?;
        }
        Ok(())
    }
}

/// How long [`PsSession`] waits for pool messages when it only wants to know the pool's state.
const POOL_PEEK: Duration = Duration::from_millis(200);

/// Marks the session Disconnected for this client when `e` says the connection was lost
/// (broken, not answering, or 503 after the client's retries), then hands `e` back.
fn note_loss(lost: &AtomicBool, e: Error) -> Error {
    let lost_on_the_way = e.transport_error().is_some_and(|t| {
        t.is_connection()
            || t.is_timeout()
            || matches!(
                t,
                wsman_transport::TransportError::Status { status: 503, .. }
            )
    });
    if lost_on_the_way {
        tracing::debug!(error = %e, "connection lost: the session is disconnected for this client");
        lost.store(true, Ordering::Relaxed);
    }
    e
}

/// Stops a running pipeline from any task.
#[derive(Clone, Debug)]
pub struct Stopper {
    client: WsManClient,
    resource_uri: String,
    shell_id: ShellId,
    command_id: CommandId,
    /// The session's flag: a Signal lost on the way (never sent again: it is not idempotent)
    /// leaves the session Disconnected.
    lost: Arc<AtomicBool>,
}

impl Stopper {
    /// Sends the PowerShell stop signal; the pipeline then ends Stopped.
    ///
    /// # Errors
    ///
    /// Faults and transport errors.
    pub async fn stop(&self) -> Result<(), Error> {
        self.client
            .signal(
                &self.resource_uri,
                &self.shell_id,
                Some(&self.command_id),
                SignalCode::PowerShellCrtlC,
            )
            .await
            .map_err(|e| note_loss(&self.lost, e))
    }
}

/// The resource URI of a configuration.
pub fn resource_uri(configuration_name: &str) -> String {
    format!("{}{configuration_name}", ns::RESOURCE_POWERSHELL_PREFIX)
}

fn pool_id_of(shell_id: &ShellId) -> RunspacePoolId {
    RunspacePoolId(Uuid::parse_str(shell_id.as_str()).unwrap_or_else(|_| Uuid::nil()))
}

fn protocol_options() -> OptionSet {
    OptionSet::default().with("protocolversion", PROTOCOL_VERSION, Some(true))
}

/// Room for PSRP fragments in one envelope: what MaxEnvelopeSize leaves after the SOAP
/// headers, in bytes before base64 (4 characters per 3 bytes).
fn room(client: &WsManClient) -> usize {
    let max = usize::try_from(client.max_envelope_size()).unwrap_or(usize::MAX);
    (max.saturating_sub(4096) / 4 * 3).max(1024)
}

fn drain(pool: &mut RunspacePool, room: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = pool.poll_transmit(room) {
        out.extend_from_slice(&chunk);
    }
    out
}

fn default_host() -> Arc<dyn PsHost> {
    Arc::new(DefaultHost)
}

/// `creation` (the fragments of SESSION_CAPABILITY and INIT_RUNSPACEPOOL) with `info` as the
/// HostInfo of INIT_RUNSPACEPOOL, fragmented again with the same object ids: the pool core
/// announces no host, a caller's host announces itself (MS-PSRP 2.2.3.14).
fn with_pool_host_info(creation: &[u8], info: &HostInfo, room: usize) -> Result<Vec<u8>, Error> {
    let mut defragmenter = Defragmenter::new();
    defragmenter.receive(creation).map_err(psrp_error)?;
    let mut fragmenter = psrp::fragment::Fragmenter::with_first_object_id(ObjectId(1));
    while let Some(blob) = defragmenter.poll_message() {
        let message = Message::decode(&blob).map_err(psrp_error)?;
        if message.message_type != MessageType::INIT_RUNSPACEPOOL {
            fragmenter.queue(blob);
            continue;
        }
        let Payload::InitRunspacePool(mut init) =
            Payload::decode(message.message_type, &message.data).map_err(psrp_error)?
        else {
            return Err(Error::protocol(
                "psrp: INIT_RUNSPACEPOOL did not decode as one",
            ));
        };
        init.host_info = info.clone();
        let data = psrp::clixml::to_clixml(&psrp::messages::PsrpMessage::to_value(&init));
        let rewritten = Message::new(
            message.destination,
            message.message_type,
            message.runspace_pool_id,
            message.pipeline_id,
            data.into_bytes(),
        );
        fragmenter.queue(rewritten.to_bytes());
    }
    let mut out = Vec::new();
    while let Some(chunk) = fragmenter.poll_transmit(room) {
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

fn psrp_error(e: impl fmt::Display) -> Error {
    Error::protocol(format!("psrp: {e}"))
}

/// Standard base64 (RFC 4648, padded), for `rsp:Arguments`.
fn base64_encode(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let index = ((n >> (18 - 6 * i)) & 0x3f) as usize;
                out.push(char::from(ALPHABET[index]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64_encode(plain.as_bytes()), encoded, "{plain}");
        }
    }

    fn remote(connected: bool) -> RemoteSession {
        RemoteSession {
            shell_id: ShellId::new("A"),
            name: "s".into(),
            resource_uri: resource_uri(DEFAULT_CONFIGURATION),
            configuration_name: DEFAULT_CONFIGURATION.into(),
            owner: None,
            client_ip: None,
            connected,
            idle_timeout: None,
            max_idle_timeout: None,
            buffer_mode: None,
            commands: Vec::new(),
        }
    }

    #[test]
    fn the_record_carries_a_raised_envelope_size_to_a_client_at_the_default() {
        let client = |options: crate::ClientOptions| {
            let transport = crate::HttpTransport::new(
                crate::ConnectionConfig::new("127.0.0.1:1")
                    .auth(crate::AuthMethod::Basic, crate::Credentials::new("u", "p")),
            )
            .unwrap();
            WsManClient::new(Arc::new(transport), options)
        };
        let record = SessionRecord::new(
            "h",
            "s",
            DEFAULT_CONFIGURATION,
            "A",
            Vec::new(),
            SessionState::Disconnected,
        );
        let first = client(crate::ClientOptions::default());
        let session = PsSession::from_record(&first, &record);
        assert_eq!(
            session.record().max_envelope_size,
            None,
            "the default is not kept"
        );
        first.set_max_envelope_size(crate::client::PSRP_ENVELOPE_SIZE);
        let raised = session.record();
        assert_eq!(
            raised.max_envelope_size,
            Some(crate::client::PSRP_ENVELOPE_SIZE)
        );
        let second = client(crate::ClientOptions::default());
        let _ = PsSession::from_record(&second, &raised);
        assert_eq!(
            second.max_envelope_size(),
            crate::client::PSRP_ENVELOPE_SIZE
        );
        // A size the caller chose stays.
        let third = client(crate::ClientOptions::default().max_envelope_size(100_000));
        let _ = PsSession::from_record(&third, &raised);
        assert_eq!(third.max_envelope_size(), 100_000);
    }

    #[test]
    fn view_follows_the_spec_table() {
        use Availability as A;
        use SessionState as S;
        assert_eq!(
            remote(true).view(Some(S::Opened)),
            (S::Opened, A::Available)
        );
        assert_eq!(remote(true).view(None), (S::Disconnected, A::Busy));
        assert_eq!(
            remote(true).view(Some(S::Disconnected)),
            (S::Disconnected, A::Busy)
        );
        assert_eq!(
            remote(false).view(Some(S::Opened)),
            (S::Disconnected, A::None)
        );
        assert_eq!(remote(false).view(None), (S::Disconnected, A::None));
    }

    #[test]
    fn statements_are_written_as_windows_does() {
        let one = Invocation::command("Get-Item").parameter("Path", "C:\\");
        assert!(
            one.create_pipeline(host_info(true, None))
                .power_shell
                .extra_cmds
                .is_none()
        );
        let two = one
            .clone()
            .statement(Command::new("$a", true))
            .argument(1)
            .pipe(Command::new("Out-String", false));
        let ps = two.create_pipeline(host_info(true, None)).power_shell;
        assert_eq!(ps.cmds, one.commands);
        let extra = ps.extra_cmds.expect("ExtraCmds");
        assert_eq!(extra.len(), 2);
        assert_eq!(extra[0], one.commands);
        assert_eq!(extra[1].len(), 2);
        assert_eq!(extra[1][0].cmd, "$a");
        assert_eq!(
            extra[1][0].args.len(),
            1,
            "the argument went to the last statement"
        );
        assert_eq!(extra[1][1].cmd, "Out-String");
    }

    #[test]
    fn explicit_idle_timeout_beats_preference() {
        let a = Duration::from_secs(5);
        let b = Duration::from_secs(9);
        assert_eq!(resolve_idle_timeout(Some(a), Some(b)), Some(a));
        assert_eq!(resolve_idle_timeout(None, Some(b)), Some(b));
        assert_eq!(resolve_idle_timeout(None, None), None);
    }
}
