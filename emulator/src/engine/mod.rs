//! Command engines: a PowerShell subset (lexer, parser, evaluator) and a cmd subset.
//!
//! The engines run on the caller's OS thread (one per running pipeline) and touch the outside
//! world only through [`EngineHost`]: records are emitted through it (a Block-mode buffer may
//! make `emit` block, which pauses the script), `sleep` waits, `should_stop` is polled at every
//! loop iteration and pipeline step, and `yield_now` is called every [`host::YIELD_EVERY`] steps.
//!
//! ```text
//!  PSRP CREATE_PIPELINE ──► Runspace::run_commands ─┐
//!  script text ───────────► Runspace::run_script ───┼─► Evaluator ──► EngineHost::emit(StreamRecord)
//!  WinRS command line ────► CmdEngine::run ─────────┘      (Output, Error, Warning, …, StdOut/StdErr)
//! ```
//!
//! Session state (variables, functions) lives in [`Runspace`] and survives between pipelines.
//! Fake system data (processes, services, events, files) comes from [`EngineContext`].
//! Extensions: [`CustomCommand`] (Rust) and [`Scenario`] (TOML files).
//! See `POWERSHELL_SUBSET.md` and `SCENARIOS.md` in this crate for what is supported.

pub mod ast;
mod builtins;
pub mod cmd;
pub mod context;
pub mod custom;
mod eval;
pub mod format;
mod fs;
pub mod host;
pub mod lexer;
pub mod ops;
pub mod parser;
pub mod runspace;
pub mod scenario;
pub mod time;
pub mod value;

pub use cmd::{CmdEngine, CmdOutcome};
pub use context::{EngineContext, FakeEvent, FakeProcess, FakeService};
pub use custom::{CommandFailure, CustomCommand, Invocation};
pub use host::{
    CollectingHost, EngineHost, InformationRecord, ProgressRecord, Stopped, StreamRecord,
};
pub use parser::{ParseError, parse_script};
pub use runspace::{CommandSpec, PipelineOutcome, PipelineState, Runspace};
pub use scenario::{Scenario, ScenarioError};
pub use time::{DateTime, TimeSpan};
pub use value::{
    ErrorCategory, ErrorRecord, Hashtable, PsObject, ScriptBlock, ScriptPosition, Value,
};
