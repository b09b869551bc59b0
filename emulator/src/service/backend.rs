//! The boundary between the WS-Management service and what runs inside a shell.
//!
//! [`Service`](super::Service) owns the shell registry (ids, owners, quotas, idle clocks,
//! connection state, enumeration) and hands each shell operation to the shell's
//! [`ShellBackend`]: WinRS (`…/windows/shell/cmd`, [`super::winrs`]) or PowerShell
//! (`http://schemas.microsoft.com/powershell/<configuration>`, built by a
//! [`PowerShellFactory`] given to [`Service::with_powershell`](super::Service::with_powershell)).
//!
//! What the service has already done when a backend method runs: the shell exists, the caller
//! may use it (owner or administrator), the resource URI is a configured one, the shell is not
//! disconnected (except for [`ShellBackend::connect`], [`ShellBackend::reconnect`],
//! [`ShellBackend::signal`] and [`ShellBackend::delete`]), the command quota was checked before
//! [`ShellBackend::command`]. What a backend must do: answer without blocking (a command runs on
//! its own thread), call [`OutputNotify::output_ready`] whenever output or a state change could
//! complete a parked Receive, and report unknown command ids with
//! [`Fault::unknown_command`](wsman::Fault::unknown_command).
//!
//! Time is an argument here as in the service (`now`); backends may still use real time inside
//! command threads (a script's `Start-Sleep`).

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wsman::header::OptionSet;
use wsman::shell::{
    BufferMode, CommandLine, CommandState, Connect, ConnectResponse, ReceiveResponse, SignalCode,
    Stream,
};
use wsman::{CommandId, Fault, ShellId};

use crate::config::{Config, SessionConfiguration};

/// Told by backends (from any thread) that a shell has something for a parked Receive.
pub trait OutputNotify: Send + Sync + fmt::Debug {
    /// Output, a command state change or an end of stream is ready in `shell`.
    fn output_ready(&self, shell: &ShellId);
}

/// A notifier that does nothing (sans-IO tests poll instead).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoNotify;

impl OutputNotify for NoNotify {
    fn output_ready(&self, _shell: &ShellId) {}
}

/// Which kind of shell a resource URI names.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShellKind {
    /// WinRS, `…/windows/shell/cmd`.
    Cmd,
    /// PowerShell, `http://schemas.microsoft.com/powershell/<name>` (configured name, as the
    /// configuration spells it).
    PowerShell(String),
}

/// Everything a backend may need when a shell is created.
#[derive(Debug)]
#[non_exhaustive]
pub struct CreateContext<'a> {
    /// The id the shell got (the client's for PowerShell, a fresh one for WinRS).
    pub shell_id: &'a ShellId,
    /// The shell kind.
    pub kind: &'a ShellKind,
    /// The session configuration for PowerShell shells.
    pub session_configuration: Option<&'a SessionConfiguration>,
    /// The owning account (`alice`).
    pub owner: &'a str,
    /// The client's address.
    pub client_ip: IpAddr,
    /// The Create body (`rsp:Shell`: streams, environment, working directory, `creationXml`).
    pub body: &'a wsman::shell::Shell,
    /// The request's options (`WINRS_NOPROFILE`, `WINRS_CODEPAGE`, `protocolversion`…).
    pub options: &'a OptionSet,
    /// The whole emulator configuration.
    pub config: &'a Arc<Config>,
    /// Where to signal output.
    pub notify: Arc<dyn OutputNotify>,
    /// The current time.
    pub now: Instant,
}

/// Builds PowerShell backends (plugged in by the PowerShell module).
pub trait PowerShellFactory: Send + fmt::Debug {
    /// Creates the backend for a new PowerShell shell; a fault refuses the Create.
    ///
    /// # Errors
    ///
    /// The fault to send back (for example [`Fault::missing_protocol_version`]).
    fn create(&self, ctx: CreateContext<'_>) -> Result<Box<dyn ShellBackend>, Fault>;
}

/// A command as enumerated (`rsp:Command` items) and counted for quotas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSummary {
    /// Its id.
    pub id: CommandId,
    /// The command line as the client sent it (command and arguments joined by spaces).
    pub command_line: String,
    /// Running, Pending or Done.
    pub state: CommandState,
}

/// What a shell does with the operations addressed to it. One value per shell; the service
/// calls it under its lock, so every method must return promptly.
pub trait ShellBackend: Send + fmt::Debug {
    /// Starts a command. `id` is the client's (PowerShell's `CommandId`) or a fresh one; the
    /// returned id is the one echoed in `rsp:CommandResponse`.
    ///
    /// # Errors
    ///
    /// A fault to send back.
    fn command(
        &mut self,
        now: Instant,
        id: CommandId,
        line: &CommandLine,
        options: &OptionSet,
    ) -> Result<CommandId, Fault>;

    /// Input for a command (`stdin`, `pr`); `End=true` closes the stream.
    ///
    /// # Errors
    ///
    /// [`Fault::unknown_command`] for an unknown command id, or another fault.
    fn send(&mut self, now: Instant, stream: &Stream) -> Result<(), Fault>;

    /// Output for `command` (or the shell itself when `None`) limited to `room` (see
    /// [`stream_cost`]): `Ok(None)` when there is nothing to send yet (the Receive is parked and
    /// retried after [`OutputNotify::output_ready`] or its timeout).
    ///
    /// # Errors
    ///
    /// [`Fault::unknown_command`] for an unknown command id, or another fault.
    fn receive(
        &mut self,
        now: Instant,
        command: Option<&CommandId>,
        streams: &[String],
        room: usize,
    ) -> Result<Option<ReceiveResponse>, Fault>;

    /// A signal (`terminate`, `ctrl_c`, `ctrl_break`, PowerShell's stop codes).
    ///
    /// # Errors
    ///
    /// [`Fault::unknown_command`] for an unknown command id, or another fault.
    fn signal(
        &mut self,
        now: Instant,
        command: Option<&CommandId>,
        code: &SignalCode,
    ) -> Result<(), Fault>;

    /// The client disconnected; output keeps accumulating under `buffer_mode`.
    fn disconnect(&mut self, now: Instant, buffer_mode: &BufferMode);

    /// The same client reconnected (`Reconnect`, optionally for one command).
    ///
    /// # Errors
    ///
    /// A fault to send back (unknown command…).
    fn reconnect(
        &mut self,
        now: Instant,
        command: Option<&CommandId>,
        buffer_mode: Option<&BufferMode>,
    ) -> Result<(), Fault>;

    /// A new client connects (`rsp:Connect`, with `connectXml` or a `CommandId`).
    ///
    /// # Errors
    ///
    /// A fault to send back (WinRS shells cannot be connected from another client).
    fn connect(&mut self, now: Instant, connect: &Connect) -> Result<ConnectResponse, Fault>;

    /// The shell is deleted (Delete or idle expiry): stop every command, free everything.
    fn delete(&mut self);

    /// Fault injection: the shell's runspace pool breaks (PowerShell: RUNSPACEPOOL_STATE
    /// Broken is queued for the pool's Receive and the pipelines stop). Returns whether this
    /// backend has a pool to break; the default has none.
    fn break_pool(&mut self) -> bool {
        false
    }

    /// The commands, for `…/windows/shell/Command` enumeration and the command quota.
    fn commands(&self) -> Vec<CommandSummary>;

    /// Commands counted against MaxConcurrentCommandsPerShell.
    fn running_commands(&self) -> usize {
        self.commands()
            .iter()
            .filter(|c| c.state != CommandState::Done)
            .count()
    }

    /// `rsp:ProcessId`.
    fn process_id(&self) -> u32;

    /// `rsp:MemoryUsed` (`46MB`).
    fn memory_used(&self) -> String {
        "46MB".to_owned()
    }

    /// `rsp:ChildProcesses`.
    fn child_processes(&self) -> u32 {
        0
    }
}

/// Encoded size (characters) of one `rsp:Stream` element carrying `bytes` bytes for a command
/// id of `id_len` characters: what a backend counts against a Receive's room.
pub fn stream_cost(id_len: usize, bytes: usize) -> usize {
    // <rsp:Stream Name="stderr" CommandId="…" End="true">…</rsp:Stream>
    64 + id_len + bytes.div_ceil(3) * 4
}

/// The largest number of bytes whose [`stream_cost`] fits in `room`.
pub fn max_bytes_for(id_len: usize, room: usize) -> usize {
    let overhead = 64 + id_len;
    room.saturating_sub(overhead) / 4 * 3
}

/// Where a PowerShell Create lands until the PowerShell backend exists: a clear fault.
#[derive(Debug, Default, Clone, Copy)]
pub struct PowerShellNotImplemented;

impl PowerShellFactory for PowerShellNotImplemented {
    fn create(&self, ctx: CreateContext<'_>) -> Result<Box<dyn ShellBackend>, Fault> {
        const M: &str = "PowerShell shells are not implemented yet";
        Err(Fault::new(
            "Receiver",
            wsman::fault::QualifiedName::new(wsman::ns::WSMAN, "InternalError"),
            M,
            None,
            &ctx.config.computer_name,
            M,
        ))
    }
}

/// Milliseconds of a duration, saturating.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
