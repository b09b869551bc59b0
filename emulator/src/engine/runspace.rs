//! A runspace: session state (variables, functions, registered commands) that outlives one
//! pipeline, and the entry points that run script text or PSRP's structured command lists.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use super::ast::ScriptBlockAst;
use super::builtins::Args;
use super::context::EngineContext;
use super::custom::CustomCommand;
use super::eval::{Evaluator, Flow, parse_error_record};
use super::host::EngineHost;
use super::parser::parse_script;
use super::scenario::Scenario;
use super::value::{ErrorRecord, Hashtable, PsObject, ScriptPosition, Value};

/// How a pipeline ended.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PipelineState {
    /// Ran to the end (possibly with non-terminating errors, see [`PipelineOutcome::had_errors`]).
    Completed,
    /// A terminating error: `throw`, a parse error, `-ErrorAction Stop`, or a failed command
    /// invoked directly through PSRP.
    Failed(Box<ErrorRecord>),
    /// Stopped by the host.
    Stopped,
}

/// The result of running a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineOutcome {
    /// Final state.
    pub state: PipelineState,
    /// `exit N` value, if the script exited.
    pub exit_code: Option<i32>,
    /// Whether any error record was written.
    pub had_errors: bool,
    /// `$?` after the last statement: `false` when it wrote an error or failed (what
    /// `powershell -Command` turns into exit code 1).
    pub last_succeeded: bool,
}

/// One command of a PSRP CREATE_PIPELINE: a command name or script text, with parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandSpec {
    /// Cmdlet name, or script text when `is_script`.
    pub command: String,
    /// Whether `command` is script text.
    pub is_script: bool,
    /// Parameters in order: `(Some(name), value)` named, `(None, value)` positional. A named
    /// switch without value is given as `Value::Bool(true)`.
    pub parameters: Vec<(Option<String>, Value)>,
    /// Merge the error stream into output (`MergeMyResult` / `2>&1`).
    pub merge_errors: bool,
}

impl CommandSpec {
    /// A cmdlet call without parameters.
    pub fn command(name: &str) -> Self {
        Self {
            command: name.to_owned(),
            is_script: false,
            parameters: Vec::new(),
            merge_errors: false,
        }
    }

    /// Script text.
    pub fn script(text: &str) -> Self {
        Self {
            command: text.to_owned(),
            is_script: true,
            parameters: Vec::new(),
            merge_errors: false,
        }
    }

    /// Adds a named parameter; builder style.
    #[must_use]
    pub fn param(mut self, name: &str, value: Value) -> Self {
        self.parameters.push((Some(name.to_owned()), value));
        self
    }

    /// Adds a positional argument; builder style.
    #[must_use]
    pub fn arg(mut self, value: Value) -> Self {
        self.parameters.push((None, value));
        self
    }
}

/// Session state of one runspace (a PSRP runspace pool, or one `powershell` process).
pub struct Runspace {
    pub(crate) ctx: Arc<EngineContext>,
    globals: HashMap<String, (String, Value)>,
    functions: HashMap<String, (Arc<ScriptBlockAst>, bool)>,
    custom: Vec<Arc<dyn CustomCommand>>,
    scenarios: Vec<Arc<Scenario>>,
    env: Vec<(String, String)>,
    guid_counter: u64,
    /// Directories and files `New-Item` created.
    pub(crate) fs: super::fs::FakeFs,
}

impl fmt::Debug for Runspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runspace")
            .field("computer", &self.ctx.computer_name)
            .field("variables", &self.globals.len())
            .field("functions", &self.functions.len())
            .field("custom_commands", &self.custom.len())
            .finish()
    }
}

impl Runspace {
    /// A fresh runspace over the given system data.
    pub fn new(ctx: EngineContext) -> Self {
        let mut rs = Self {
            ctx: Arc::new(ctx),
            globals: HashMap::new(),
            functions: HashMap::new(),
            custom: Vec::new(),
            scenarios: Vec::new(),
            env: Vec::new(),
            guid_counter: 0,
            fs: super::fs::FakeFs::default(),
        };
        for (k, v) in [
            ("ErrorActionPreference", "Continue"),
            ("WarningPreference", "Continue"),
            ("VerbosePreference", "SilentlyContinue"),
            ("DebugPreference", "SilentlyContinue"),
            ("InformationPreference", "SilentlyContinue"),
            ("ProgressPreference", "Continue"),
        ] {
            rs.set_global(k, Value::String(v.to_owned()));
        }
        rs.set_global("Error", Value::Array(Vec::new()));
        rs.set_global("?", Value::Bool(true));
        for cmd in crate::sessions_table::smb::commands() {
            rs.register(cmd);
        }
        for scenario in rs.ctx.scenarios.clone() {
            rs.register_scenario(scenario);
        }
        rs
    }

    /// The system data.
    pub fn context(&self) -> &EngineContext {
        &self.ctx
    }

    /// Registers a custom command (takes precedence over functions and built-ins).
    pub fn register(&mut self, cmd: Arc<dyn CustomCommand>) {
        self.custom
            .retain(|c| !c.name().eq_ignore_ascii_case(cmd.name()));
        self.custom.push(cmd);
    }

    /// Registers a scenario: its entries match whole scripts and command lines, and its named
    /// commands become custom commands.
    pub fn register_scenario(&mut self, scenario: Arc<Scenario>) {
        for cmd in scenario.commands() {
            self.register(cmd);
        }
        self.scenarios.push(scenario);
    }

    /// Scenarios registered here (the cmd engine consults them too).
    pub fn scenarios(&self) -> &[Arc<Scenario>] {
        &self.scenarios
    }

    /// A global variable.
    pub fn variable(&self, name: &str) -> Option<Value> {
        self.get_global(name)
    }

    /// Sets a global variable.
    pub fn set_variable(&mut self, name: &str, v: Value) {
        self.set_global(name, v);
    }

    /// Runs script text. `input` feeds `$input` and the first command (PIPELINE_INPUT).
    pub fn run_script(
        &mut self,
        script: &str,
        input: Option<Vec<Value>>,
        host: &dyn EngineHost,
    ) -> PipelineOutcome {
        if let Some(outcome) = self.try_scenario(script, host) {
            return outcome;
        }
        let ast = match parse_script(script) {
            Ok(a) => a,
            Err(e) => {
                let mut rec = parse_error_record(&e);
                let mut ev = Evaluator::new(self, host, Arc::from(script));
                rec.position = Some(ev.position(e.offset, 1));
                ev.had_errors = true;
                return PipelineOutcome {
                    state: PipelineState::Failed(Box::new(rec)),
                    exit_code: None,
                    had_errors: true,
                    last_succeeded: false,
                };
            }
        };
        let source: Arc<str> = Arc::from(script);
        let mut ev = Evaluator::new(self, host, source);
        let res = (|| {
            if let Some(items) = &input {
                ev.set_var("input", Value::Array(items.clone()));
            }
            ev.exec_block(&ast.begin)?;
            match &input {
                // A `process {}` block runs once per input item with `$_` set.
                Some(items) if ast.named_blocks => {
                    for item in items {
                        ev.set_var("_", item.clone());
                        ev.set_var("PSItem", item.clone());
                        match ev.exec_block(&ast.body) {
                            // `return` ends the block for this item only.
                            Ok(()) | Err(Flow::Return) => {}
                            Err(other) => return Err(other),
                        }
                    }
                }
                // Otherwise the body runs once and reads `$input`, as PowerShell's AddScript
                // does for a script without a process block.
                _ => ev.exec_block(&ast.body)?,
            }
            ev.exec_block(&ast.end)
        })();
        finish(&mut ev, res)
    }

    /// Runs a PSRP command list as one pipeline.
    pub fn run_commands(
        &mut self,
        commands: &[CommandSpec],
        input: Option<Vec<Value>>,
        host: &dyn EngineHost,
    ) -> PipelineOutcome {
        if let [single] = commands
            && single.is_script
            && single.parameters.is_empty()
            && !single.merge_errors
        {
            return self.run_script(&single.command, input, host);
        }
        let text = commands
            .iter()
            .map(|c| c.command.clone())
            .collect::<Vec<_>>()
            .join(" | ");
        if let Some(outcome) = self.try_scenario(&text, host) {
            return outcome;
        }
        let source: Arc<str> = Arc::from(text.as_str());
        let mut ev = Evaluator::new(self, host, source);
        let res = (|| {
            let mut stages = Vec::new();
            let mut redirs = Vec::new();
            for c in commands {
                let mut args = Args::default();
                for (name, v) in &c.parameters {
                    match name {
                        Some(n) => args
                            .named
                            .push((n.trim_start_matches('-').to_owned(), Some(v.clone()))),
                        None => args.positional.push(v.clone()),
                    }
                }
                if c.is_script {
                    let ast = parse_script(&c.command)
                        .map_err(|e| Flow::Error(Box::new(parse_error_record(&e)), true))?;
                    stages.push(ev.script_stage(ast, args));
                } else {
                    stages.push(ev.command_stage(&c.command, args)?);
                }
                redirs.push(if c.merge_errors {
                    vec![super::ast::Redirection::Merge(2)]
                } else {
                    Vec::new()
                });
            }
            ev.drive(&mut stages, &redirs, input.clone())
        })();
        // A command invoked directly (not as script) fails the pipeline on a terminating error.
        let res = match res {
            Err(Flow::Error(rec, _)) => Err(Flow::Error(rec, true)),
            other => other,
        };
        finish(&mut ev, res)
    }

    fn try_scenario(&mut self, text: &str, host: &dyn EngineHost) -> Option<PipelineOutcome> {
        let entry = self
            .scenarios
            .iter()
            .find_map(|s| s.match_text(text, super::scenario::Shell::PowerShell))?;
        let mut ev = Evaluator::new(self, host, Arc::from(text));
        let res = entry.play_powershell(&mut ev);
        Some(finish(&mut ev, res))
    }

    // ---- state used by the evaluator ----

    pub(crate) fn get_global(&self, name: &str) -> Option<Value> {
        self.globals
            .get(&name.to_ascii_lowercase())
            .map(|(_, v)| v.clone())
    }

    pub(crate) fn set_global(&mut self, name: &str, v: Value) {
        self.globals
            .insert(name.to_ascii_lowercase(), (name.to_owned(), v));
    }

    pub(crate) fn remove_global(&mut self, name: &str) -> bool {
        self.globals.remove(&name.to_ascii_lowercase()).is_some()
    }

    pub(crate) fn globals(&self) -> Vec<(String, Value)> {
        let mut v: Vec<(String, Value)> = self.globals.values().cloned().collect();
        for name in [
            "true",
            "false",
            "null",
            "PSVersionTable",
            "PID",
            "HOME",
            "Host",
        ] {
            if let Some(val) = self.automatic(name) {
                v.push((name.to_owned(), val));
            }
        }
        v
    }

    pub(crate) fn env_override(&self, name: &str) -> Option<Value> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| Value::String(v.clone()))
    }

    pub(crate) fn set_env(&mut self, name: &str, v: String) {
        self.env.push((name.to_owned(), v));
    }

    pub(crate) fn automatic(&self, name: &str) -> Option<Value> {
        Some(match name.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" => Value::Null,
            "pid" => Value::Int(self.ctx.process_id as i32),
            "home" => Value::String(format!("C:\\Users\\{}", self.ctx.user_name)),
            "pshome" => Value::String("C:\\Windows\\System32\\WindowsPowerShell\\v1.0".to_owned()),
            "ofs" => Value::String(" ".to_owned()),
            "psversiontable" => self.ps_version_table(),
            "host" => Value::Object(Box::new(
                PsObject {
                    to_string: Some(
                        "System.Management.Automation.Internal.Host.InternalHost".to_owned(),
                    ),
                    ..PsObject::typed("System.Management.Automation.Internal.Host.InternalHost")
                }
                .with("Name", Value::String("ServerRemoteHost".to_owned()))
                .with("Version", Value::String("1.0.0.0".to_owned())),
            )),
            _ => return None,
        })
    }

    fn ps_version_table(&self) -> Value {
        let mut h = Hashtable::new();
        let version = |s: &str| {
            let parts: Vec<i32> = s.split('.').filter_map(|p| p.parse().ok()).collect();
            let get = |i: usize| Value::Int(parts.get(i).copied().unwrap_or(-1));
            Value::Object(Box::new(PsObject {
                to_string: Some(s.to_owned()),
                ..PsObject::typed("System.Version")
                    .with("Major", get(0))
                    .with("Minor", get(1))
                    .with("Build", get(2))
                    .with("Revision", get(3))
            }))
        };
        h.insert(Value::str("PSVersion"), version(&self.ctx.ps_version));
        h.insert(Value::str("PSEdition"), Value::str("Desktop"));
        h.insert(
            Value::str("PSCompatibleVersions"),
            Value::Array(
                ["1.0", "2.0", "3.0", "4.0", "5.0", "5.1.17763.1"]
                    .iter()
                    .map(|v| version(v))
                    .collect(),
            ),
        );
        h.insert(Value::str("BuildVersion"), version(&self.ctx.os_version));
        h.insert(Value::str("CLRVersion"), version("4.0.30319.42000"));
        h.insert(Value::str("WSManStackVersion"), version("3.0"));
        h.insert(Value::str("PSRemotingProtocolVersion"), version("2.3"));
        h.insert(Value::str("SerializationVersion"), version("1.1.0.1"));
        Value::Hashtable(h)
    }

    pub(crate) fn define_function(&mut self, name: &str, body: Arc<ScriptBlockAst>, filter: bool) {
        self.functions
            .insert(name.to_ascii_lowercase(), (body, filter));
    }

    pub(crate) fn function(&self, name: &str) -> Option<(Arc<ScriptBlockAst>, bool)> {
        self.functions.get(&name.to_ascii_lowercase()).cloned()
    }

    pub(crate) fn custom_command(&self, name: &str) -> Option<Arc<dyn CustomCommand>> {
        self.custom
            .iter()
            .rev()
            .find(|c| c.name().eq_ignore_ascii_case(name))
            .cloned()
    }

    pub(crate) fn next_guid(&mut self) -> uuid::Uuid {
        self.guid_counter += 1;
        uuid::Uuid::new_v4()
    }
}

fn finish(ev: &mut Evaluator<'_>, res: Result<(), Flow>) -> PipelineOutcome {
    let had_errors = ev.had_errors;
    let (state, exit_code) = match res {
        Ok(()) | Err(Flow::Return) | Err(Flow::Break(_)) | Err(Flow::Continue(_)) => {
            (PipelineState::Completed, None)
        }
        Err(Flow::Exit(code)) => (PipelineState::Completed, Some(code)),
        Err(Flow::Stopped) => (PipelineState::Stopped, None),
        Err(Flow::Error(mut rec, _)) => {
            if rec.position.is_none() {
                rec.position = Some(ScriptPosition {
                    line: 1,
                    column: 1,
                    line_text: String::new(),
                    length: 1,
                });
            }
            (PipelineState::Failed(rec), None)
        }
    };
    if let Some(code) = exit_code {
        ev.rs.set_global("LASTEXITCODE", Value::Int(code));
    }
    let last_succeeded = matches!(state, PipelineState::Completed)
        && !matches!(ev.rs.get_global("?"), Some(Value::Bool(false)));
    ev.rs.set_global(
        "?",
        Value::Bool(!had_errors && matches!(state, PipelineState::Completed)),
    );
    PipelineOutcome {
        state,
        exit_code,
        had_errors,
        last_succeeded,
    }
}
