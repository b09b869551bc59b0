//! The engine's window on the world: streams, sleeping, the clock and cancellation.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::time::DateTime;
use super::value::{ErrorRecord, Value};

/// The pipeline was stopped (Stop/Signal, or the session went away).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the pipeline has been stopped")]
pub struct Stopped;

/// One record written by a running command.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StreamRecord {
    /// Output stream object.
    Output(Value),
    /// Error stream record (non-terminating error).
    Error(ErrorRecord),
    /// `Write-Warning` message.
    Warning(String),
    /// `Write-Verbose` message (only when `$VerbosePreference` lets it through).
    Verbose(String),
    /// `Write-Debug` message (only when `$DebugPreference` lets it through).
    Debug(String),
    /// Information stream record; `Write-Host` writes one tagged `PSHOST`.
    Information(InformationRecord),
    /// `Write-Progress` record.
    Progress(ProgressRecord),
    /// cmd subset: bytes for WinRS `stdout` (CRLF line endings).
    StdOut(String),
    /// cmd subset: bytes for WinRS `stderr`.
    StdErr(String),
}

/// `System.Management.Automation.InformationRecord`.
#[derive(Debug, Clone, PartialEq)]
pub struct InformationRecord {
    /// `MessageData`: a string, or a `HostInformationMessage` object for `Write-Host`.
    pub message_data: Value,
    /// `Source` (the command that wrote it).
    pub source: String,
    /// `TimeGenerated`.
    pub time_generated: DateTime,
    /// `Tags` (`PSHOST` for host output).
    pub tags: Vec<String>,
    /// `User`.
    pub user: String,
    /// `Computer`.
    pub computer: String,
    /// `ProcessId`.
    pub process_id: u32,
}

impl InformationRecord {
    /// Whether this came from `Write-Host`.
    pub fn is_host(&self) -> bool {
        self.tags.iter().any(|t| t == "PSHOST")
    }

    /// The message text (`HostInformationMessage.Message` or the data's string form).
    pub fn text(&self) -> String {
        match &self.message_data {
            Value::Object(o) if o.type_name().ends_with("HostInformationMessage") => o
                .get("Message")
                .map(ToString::to_string)
                .unwrap_or_default(),
            other => other.to_string(),
        }
    }
}

/// `System.Management.Automation.ProgressRecord`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressRecord {
    /// `Activity`.
    pub activity: String,
    /// `StatusDescription`.
    pub status_description: String,
    /// `CurrentOperation`.
    pub current_operation: Option<String>,
    /// `ActivityId`.
    pub activity_id: i32,
    /// `ParentActivityId`.
    pub parent_activity_id: i32,
    /// `PercentComplete` (-1 when unknown).
    pub percent_complete: i32,
    /// `SecondsRemaining` (-1 when unknown).
    pub seconds_remaining: i32,
    /// `RecordType` is `Completed`.
    pub completed: bool,
}

/// What the engine needs from whoever runs it. Called from the script's own OS thread.
///
/// `emit` may block (a full Block-mode buffer pauses the script) and returns `Err(Stopped)` once
/// the pipeline is stopped; `sleep` must return promptly when stopped; `should_stop` is polled at
/// every loop iteration and pipeline step.
pub trait EngineHost: Send + Sync {
    /// Delivers a record.
    ///
    /// # Errors
    ///
    /// [`Stopped`] when the pipeline has been stopped; the engine unwinds.
    fn emit(&self, record: StreamRecord) -> Result<(), Stopped>;

    /// Waits (Start-Sleep, ping).
    ///
    /// # Errors
    ///
    /// [`Stopped`] when stopped while waiting.
    fn sleep(&self, d: Duration) -> Result<(), Stopped>;

    /// The current time.
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    /// Whether the pipeline was asked to stop.
    fn should_stop(&self) -> bool;

    /// Called every [`YIELD_EVERY`] evaluation steps so a busy script cannot starve the server.
    fn yield_now(&self) {
        std::thread::yield_now();
    }
}

/// Evaluation steps between calls to [`EngineHost::yield_now`].
pub const YIELD_EVERY: u64 = 1024;

/// A ready-made host that stores every record, with an optional capacity at which `emit` blocks
/// until [`CollectingHost::drain`] makes room (the Block-mode behaviour), and a stop flag.
#[derive(Debug, Default)]
pub struct CollectingHost {
    records: Mutex<Vec<StreamRecord>>,
    cond: Condvar,
    stopped: AtomicBool,
    capacity: Option<usize>,
    emitted: std::sync::atomic::AtomicU64,
}

impl CollectingHost {
    /// Unbounded.
    pub fn new() -> Self {
        Self::default()
    }

    /// `emit` blocks while `capacity` records are held.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity: Some(capacity),
            ..Self::default()
        }
    }

    /// Takes every record held so far, waking a blocked writer.
    pub fn drain(&self) -> Vec<StreamRecord> {
        let mut g = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let out = std::mem::take(&mut *g);
        self.cond.notify_all();
        out
    }

    /// A copy of the records held.
    pub fn snapshot(&self) -> Vec<StreamRecord> {
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Number of records accepted so far (including drained ones).
    pub fn emitted(&self) -> u64 {
        self.emitted.load(Ordering::SeqCst)
    }

    /// Asks the running pipeline to stop, waking `emit` and `sleep`.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let _g = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.cond.notify_all();
    }
}

impl EngineHost for CollectingHost {
    fn emit(&self, record: StreamRecord) -> Result<(), Stopped> {
        let mut g = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            if self.stopped.load(Ordering::SeqCst) {
                return Err(Stopped);
            }
            match self.capacity {
                Some(cap) if g.len() >= cap => {
                    g = self
                        .cond
                        .wait(g)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
                _ => break,
            }
        }
        g.push(record);
        self.emitted.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn sleep(&self, d: Duration) -> Result<(), Stopped> {
        let deadline = Instant::now() + d;
        let mut g = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            if self.stopped.load(Ordering::SeqCst) {
                return Err(Stopped);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(());
            }
            g = self
                .cond
                .wait_timeout(g, deadline - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    fn should_stop(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }
}
