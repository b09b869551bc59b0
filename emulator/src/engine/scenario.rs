//! Scenario files (TOML): scripted answers for exact command text or patterns, for CI users who
//! need a command the subset does not know. See `SCENARIOS.md` beside this crate's manifest.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::custom::{CommandFailure, CustomCommand, Invocation};
use super::eval::{Evaluator, Flow};
use super::host::{EngineHost, Stopped, StreamRecord};
use super::ops::{runtime_error, wildcard_match};
use super::time::DateTime;
use super::value::{ErrorCategory, ErrorRecord, PsObject, Value};

/// Errors loading a scenario file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario file {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown keys.
    #[error("invalid scenario file: {0}")]
    Toml(String),
    /// A `regex` pattern does not compile.
    #[error("invalid regex in scenario entry {index}: {message}")]
    Regex {
        /// 0-based entry index.
        index: usize,
        /// The regex error.
        message: String,
    },
    /// An entry has no `match`, `glob`, `regex` or `name`.
    #[error("scenario entry {0} has no match, glob, regex or name")]
    NoMatcher(usize),
}

/// Which shell an entry applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Shell {
    /// Both.
    #[default]
    Any,
    /// PowerShell (PSRP pipelines, `powershell -Command`).
    PowerShell,
    /// cmd (WinRS command lines).
    Cmd,
}

/// A loaded scenario: a list of entries, first match wins.
#[derive(Debug)]
pub struct Scenario {
    entries: Vec<Arc<Entry>>,
}

/// One scripted command.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Exact command text (case-insensitive, surrounding whitespace ignored).
    #[serde(rename = "match")]
    pub exact: Option<String>,
    /// A wildcard pattern (`*`, `?`, `[..]`) over the whole command text.
    pub glob: Option<String>,
    /// A regex over the whole command text.
    pub regex: Option<String>,
    /// Also register as a command of this name, usable inside pipelines.
    pub name: Option<String>,
    /// Which shell the entry applies to.
    #[serde(default)]
    pub shell: Shell,
    /// Delay before the first output, in milliseconds.
    #[serde(default)]
    pub delay_ms: u64,
    /// How many times the outputs are produced.
    #[serde(default = "one")]
    pub repeat: u32,
    /// Pause between repetitions, in milliseconds.
    #[serde(default)]
    pub interval_ms: u64,
    /// Output objects (strings, numbers, booleans, dates, arrays, tables become PSCustomObjects).
    #[serde(default)]
    pub output: Vec<toml::Value>,
    /// Text for cmd's stdout (and string output lines in PowerShell when `output` is empty).
    pub stdout: Option<String>,
    /// Text for cmd's stderr.
    pub stderr: Option<String>,
    /// Warning messages.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Verbose messages (always written, whatever the preference).
    #[serde(default)]
    pub verbose: Vec<String>,
    /// Information messages.
    #[serde(default)]
    pub information: Vec<String>,
    /// Non-terminating error messages.
    #[serde(default)]
    pub errors: Vec<String>,
    /// Exit code (`exit N` for PowerShell, the process exit code for cmd).
    pub exit_code: Option<i32>,
    /// A terminating error message: the pipeline fails with a RuntimeException.
    pub throw: Option<String>,
    /// Never finish: wait until stopped (models a hung command).
    #[serde(default)]
    pub hang: bool,
    #[serde(skip)]
    compiled: Option<regex::Regex>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    command: Vec<Entry>,
}

impl Scenario {
    /// Loads a scenario file.
    ///
    /// # Errors
    ///
    /// A [`ScenarioError`] when the file cannot be read or is invalid.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ScenarioError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Parses scenario TOML text.
    ///
    /// # Errors
    ///
    /// A [`ScenarioError`] when the text is invalid.
    pub fn parse(text: &str) -> Result<Self, ScenarioError> {
        let file: File = toml::from_str(text).map_err(|e| ScenarioError::Toml(e.to_string()))?;
        let mut entries = Vec::new();
        for (index, mut e) in file.command.into_iter().enumerate() {
            if let Some(r) = &e.regex {
                e.compiled = Some(
                    regex::RegexBuilder::new(r)
                        .case_insensitive(true)
                        .build()
                        .map_err(|err| ScenarioError::Regex {
                            index,
                            message: err.to_string(),
                        })?,
                );
            }
            if e.exact.is_none() && e.glob.is_none() && e.regex.is_none() && e.name.is_none() {
                return Err(ScenarioError::NoMatcher(index));
            }
            entries.push(Arc::new(e));
        }
        Ok(Self { entries })
    }

    /// The entry matching a whole command text for a shell, if any.
    pub fn match_text(&self, text: &str, shell: Shell) -> Option<Arc<Entry>> {
        let t = text.trim();
        self.entries
            .iter()
            .filter(|e| e.shell == Shell::Any || e.shell == shell)
            .find(|e| {
                e.exact
                    .as_deref()
                    .is_some_and(|x| x.trim().eq_ignore_ascii_case(t))
                    || e.glob
                        .as_deref()
                        .is_some_and(|g| wildcard_match(g, t, false))
                    || e.compiled.as_ref().is_some_and(|r| r.is_match(t))
            })
            .cloned()
    }

    /// Entries with a `name`, as commands to register.
    pub fn commands(&self) -> Vec<Arc<dyn CustomCommand>> {
        self.entries
            .iter()
            .filter(|e| e.name.is_some() && e.shell != Shell::Cmd)
            .map(|e| Arc::new(ScenarioCommand { entry: e.clone() }) as Arc<dyn CustomCommand>)
            .collect()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Entry {
    fn outputs(&self) -> Vec<Value> {
        if self.output.is_empty() {
            return self
                .stdout
                .as_deref()
                .map(|s| s.lines().map(|l| Value::String(l.to_owned())).collect())
                .unwrap_or_default();
        }
        self.output.iter().map(toml_to_value).collect()
    }

    fn error(&self, msg: &str) -> ErrorRecord {
        ErrorRecord::new(
            "Microsoft.PowerShell.Commands.WriteErrorException",
            msg,
            ErrorCategory::NotSpecified,
        )
        .with_id("Microsoft.PowerShell.Commands.WriteErrorException")
        .with_activity(self.name.as_deref().unwrap_or("Write-Error"))
    }

    fn hang(host: &dyn EngineHost) -> Result<(), Stopped> {
        loop {
            host.sleep(Duration::from_millis(200))?;
        }
    }

    /// Plays the entry in a PowerShell pipeline.
    pub(crate) fn play_powershell(&self, ev: &mut Evaluator<'_>) -> Result<(), Flow> {
        ev.host.sleep(Duration::from_millis(self.delay_ms))?;
        for i in 0..self.repeat {
            if i > 0 {
                ev.host.sleep(Duration::from_millis(self.interval_ms))?;
            }
            ev.tick()?;
            for v in self.outputs() {
                ev.write_output(v)?;
            }
            for w in &self.warnings {
                ev.emit(StreamRecord::Warning(w.clone()))?;
            }
            for w in &self.verbose {
                ev.emit(StreamRecord::Verbose(w.clone()))?;
            }
            for w in &self.information {
                let rec = super::host::InformationRecord {
                    message_data: Value::String(w.clone()),
                    source: self.name.clone().unwrap_or_default(),
                    time_generated: DateTime::from_system_time(ev.host.now(), 0),
                    tags: Vec::new(),
                    user: ev.rs.ctx.user_name.clone(),
                    computer: ev.rs.ctx.computer_name.clone(),
                    process_id: ev.rs.ctx.process_id,
                };
                ev.emit(StreamRecord::Information(rec))?;
            }
            for e in &self.errors {
                ev.write_error(self.error(e))?;
            }
        }
        if self.hang {
            Self::hang(ev.host)?;
        }
        if let Some(t) = &self.throw {
            return Err(Flow::Error(
                Box::new(
                    runtime_error(t.clone(), ErrorCategory::OperationStopped, t)
                        .with_target(Value::String(t.clone())),
                ),
                true,
            ));
        }
        if let Some(code) = self.exit_code {
            return Err(Flow::Exit(code));
        }
        Ok(())
    }

    /// Plays the entry as a cmd command line; returns the exit code.
    ///
    /// # Errors
    ///
    /// [`Stopped`] when the host stopped the command.
    pub fn play_cmd(&self, host: &dyn EngineHost) -> Result<i32, Stopped> {
        host.sleep(Duration::from_millis(self.delay_ms))?;
        for i in 0..self.repeat {
            if i > 0 {
                host.sleep(Duration::from_millis(self.interval_ms))?;
            }
            if host.should_stop() {
                return Err(Stopped);
            }
            if let Some(s) = &self.stdout {
                host.emit(StreamRecord::StdOut(s.clone()))?;
            } else {
                for v in self.output.iter().map(toml_to_value) {
                    host.emit(StreamRecord::StdOut(format!("{v}\r\n")))?;
                }
            }
            if let Some(s) = &self.stderr {
                host.emit(StreamRecord::StdErr(s.clone()))?;
            }
            for e in &self.errors {
                host.emit(StreamRecord::StdErr(format!("{e}\r\n")))?;
            }
        }
        if self.hang {
            Self::hang(host)?;
        }
        if let Some(t) = &self.throw {
            host.emit(StreamRecord::StdErr(format!("{t}\r\n")))?;
            return Ok(self.exit_code.unwrap_or(1));
        }
        Ok(self.exit_code.unwrap_or(0))
    }
}

#[derive(Debug)]
struct ScenarioCommand {
    entry: Arc<Entry>,
}

impl CustomCommand for ScenarioCommand {
    fn name(&self) -> &str {
        self.entry.name.as_deref().unwrap_or_default()
    }

    fn invoke(&self, inv: &mut Invocation<'_, '_>) -> Result<(), CommandFailure> {
        let e = &self.entry;
        inv.sleep(Duration::from_millis(e.delay_ms))?;
        for i in 0..e.repeat {
            if i > 0 {
                inv.sleep(Duration::from_millis(e.interval_ms))?;
            }
            if inv.should_stop() {
                return Err(CommandFailure::Stopped);
            }
            for v in e.outputs() {
                inv.write_output(v)?;
            }
            for w in &e.warnings {
                inv.write(StreamRecord::Warning(w.clone()))?;
            }
            for w in &e.verbose {
                inv.write(StreamRecord::Verbose(w.clone()))?;
            }
            for m in &e.errors {
                inv.write_error(e.error(m));
            }
        }
        if e.hang {
            loop {
                inv.sleep(Duration::from_millis(200))?;
            }
        }
        if let Some(t) = &e.throw {
            return Err(CommandFailure::Terminating(Box::new(
                runtime_error(t.clone(), ErrorCategory::OperationStopped, t)
                    .with_target(Value::String(t.clone())),
            )));
        }
        if let Some(code) = e.exit_code {
            return Err(CommandFailure::Exit(code));
        }
        Ok(())
    }
}

/// Converts a TOML value to an engine value (tables become PSCustomObjects in key order).
pub fn toml_to_value(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => i32::try_from(*i).map_or(Value::Long(*i), Value::Int),
        toml::Value::Float(f) => Value::Double(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => DateTime::parse(&d.to_string(), 0)
            .map_or_else(|| Value::String(d.to_string()), Value::DateTime),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_value).collect()),
        toml::Value::Table(t) => {
            let mut o = PsObject::custom();
            for (k, v) in t {
                o.set(k, toml_to_value(v));
            }
            Value::Object(Box::new(o))
        }
    }
}
