//! Commands registered from Rust: they receive their arguments and pipeline input and may
//! write objects, text and stream records, sleep, or fail.

use std::fmt;
use std::time::Duration;

use super::eval::{Evaluator, Flow};
use super::host::{Stopped, StreamRecord};
use super::value::{ErrorRecord, Value};

/// A command implemented in Rust, callable from scripts and PSRP command lists by name.
pub trait CustomCommand: Send + Sync + fmt::Debug {
    /// The command name (matched case-insensitively).
    fn name(&self) -> &str;

    /// Runs the command once with all its pipeline input.
    ///
    /// # Errors
    ///
    /// A [`CommandFailure`]: a terminating error, an exit code, or a stop.
    fn invoke(&self, inv: &mut Invocation<'_, '_>) -> Result<(), CommandFailure>;
}

/// How a custom command ended abnormally.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CommandFailure {
    /// A terminating error for the statement (like a cmdlet's `ThrowTerminatingError`).
    Terminating(Box<ErrorRecord>),
    /// End the script with this exit code.
    Exit(i32),
    /// The pipeline was stopped.
    Stopped,
}

impl From<Stopped> for CommandFailure {
    fn from(_: Stopped) -> Self {
        Self::Stopped
    }
}

/// What a custom command sees of its invocation.
pub struct Invocation<'e, 'a> {
    ev: &'e mut Evaluator<'a>,
    /// The name it was invoked by.
    pub name: String,
    /// Positional arguments.
    pub positional: Vec<Value>,
    /// Named arguments (switches as `$true`).
    pub named: Vec<(String, Value)>,
    /// Pipeline input.
    pub input: Vec<Value>,
    pub(crate) pending_errors: Vec<ErrorRecord>,
}

impl fmt::Debug for Invocation<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invocation")
            .field("name", &self.name)
            .field("positional", &self.positional)
            .field("named", &self.named)
            .finish()
    }
}

impl<'e, 'a> Invocation<'e, 'a> {
    pub(crate) fn new(
        ev: &'e mut Evaluator<'a>,
        name: String,
        positional: Vec<Value>,
        named: Vec<(String, Value)>,
        input: Vec<Value>,
    ) -> Self {
        Self {
            ev,
            name,
            positional,
            named,
            input,
            pending_errors: Vec::new(),
        }
    }

    /// A named argument, case-insensitively.
    pub fn arg(&self, name: &str) -> Option<&Value> {
        self.named
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Writes an output object (to the next command, or to the Output stream).
    ///
    /// # Errors
    ///
    /// [`CommandFailure::Stopped`] when the pipeline was stopped.
    pub fn write_output(&mut self, v: Value) -> Result<(), CommandFailure> {
        self.ev.write_output(v).map_err(flow_to_failure)
    }

    /// Writes a record to a stream (Warning, Verbose, Information, StdOut …).
    ///
    /// # Errors
    ///
    /// [`CommandFailure::Stopped`] when the pipeline was stopped.
    pub fn write(&mut self, rec: StreamRecord) -> Result<(), CommandFailure> {
        match rec {
            StreamRecord::Output(v) => self.write_output(v),
            StreamRecord::Error(e) => {
                self.pending_errors.push(e);
                Ok(())
            }
            other => self.ev.emit(other).map_err(flow_to_failure),
        }
    }

    /// Writes a non-terminating error (subject to `$ErrorActionPreference`, applied on return).
    pub fn write_error(&mut self, e: ErrorRecord) {
        self.pending_errors.push(e);
    }

    /// Sleeps through the host (returns early with `Stopped`).
    ///
    /// # Errors
    ///
    /// [`CommandFailure::Stopped`] when the pipeline was stopped.
    pub fn sleep(&mut self, d: Duration) -> Result<(), CommandFailure> {
        self.ev.host.sleep(d).map_err(CommandFailure::from)
    }

    /// Whether the pipeline was asked to stop.
    pub fn should_stop(&self) -> bool {
        self.ev.host.should_stop()
    }

    /// The runspace's system data (user, admin flag, session table, fake processes …).
    pub fn context(&self) -> &super::context::EngineContext {
        &self.ev.rs.ctx
    }

    /// The host's clock.
    pub fn now(&self) -> std::time::SystemTime {
        self.ev.host.now()
    }
}

fn flow_to_failure(f: Flow) -> CommandFailure {
    match f {
        Flow::Error(e, _) => CommandFailure::Terminating(e),
        Flow::Exit(c) => CommandFailure::Exit(c),
        _ => CommandFailure::Stopped,
    }
}
