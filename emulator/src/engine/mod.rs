//! Command engines: a PowerShell subset (lexer, parser, evaluator) and a cmd subset, run on the
//! caller's OS thread and talking to the outside world only through [`EngineHost`].

pub mod ast;
pub mod lexer;
pub mod parser;
pub mod time;
pub mod value;

pub use parser::{ParseError, parse_script};
pub use time::{DateTime, TimeSpan};
pub use value::{ErrorCategory, ErrorRecord, Hashtable, PsObject, ScriptBlock, ScriptPosition, Value};
