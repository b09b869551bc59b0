//! The evaluator: statements, expressions, streaming pipelines, scopes and error semantics.

use std::collections::HashMap;
use std::sync::Arc;

use super::ast::*;
use super::builtins::{self, Builtin};
use super::custom::{CustomCommand, Invocation};
use super::host::{EngineHost, StreamRecord, YIELD_EVERY};
use super::ops::{self, runtime_error};
use super::runspace::Runspace;
use super::time::{DateTime, TICKS_PER_SECOND, TimeSpan};
use super::value::{
    ErrorCategory, ErrorRecord, Hashtable, PsObject, ScriptBlock, ScriptPosition, Value,
};

/// Non-local control flow while evaluating.
#[derive(Debug)]
pub(crate) enum Flow {
    Break(Option<String>),
    Continue(Option<String>),
    Return,
    Exit(i32),
    /// An error; `true` when script-terminating (throw, -ErrorAction Stop), else statement-terminating.
    Error(Box<ErrorRecord>, bool),
    Stopped,
}

pub(crate) type R<T> = Result<T, Flow>;

/// Deepest function / script block call nesting; deeper recursion fails like PowerShell's
/// `CallDepthOverflow` instead of overflowing the thread's stack.
const MAX_CALL_DEPTH: usize = 48;

fn call_depth_overflow() -> Flow {
    Flow::Error(
        Box::new(
            ErrorRecord::new(
                "System.Management.Automation.ScriptCallDepthException",
                "The script failed due to call depth overflow.",
                ErrorCategory::InvalidOperation,
            )
            .with_id("CallDepthOverflow"),
        ),
        true,
    )
}

impl From<ErrorRecord> for Flow {
    fn from(e: ErrorRecord) -> Self {
        Self::Error(Box::new(e), false)
    }
}

impl From<Box<ErrorRecord>> for Flow {
    fn from(e: Box<ErrorRecord>) -> Self {
        Self::Error(e, false)
    }
}

impl From<super::host::Stopped> for Flow {
    fn from(_: super::host::Stopped) -> Self {
        Self::Stopped
    }
}

enum Sink {
    Host,
    Collect(Vec<Value>),
}

/// A stage of a running pipeline.
pub(crate) enum Stage {
    Builtin {
        cmd: Builtin,
        args: builtins::Args,
        state: builtins::State,
    },
    Script(ScriptStage),
    Custom {
        cmd: Arc<dyn CustomCommand>,
        args: builtins::Args,
        collected: Vec<Value>,
        name: String,
    },
}

/// Variables of one scope: lowercase name → (name as written, value).
type Scope = HashMap<String, (String, Value)>;

/// A function, filter or script block in a pipeline. Its `begin`, `process` (per item) and `end`
/// blocks share one scope, kept here between the calls, as in PowerShell.
pub(crate) struct ScriptStage {
    sb: Arc<ScriptBlockAst>,
    args: builtins::Args,
    collected: Vec<Value>,
    filter: bool,
    dot: bool,
    scope: Option<Scope>,
    bound: bool,
}

impl ScriptStage {
    fn stage(sb: Arc<ScriptBlockAst>, args: builtins::Args, filter: bool, dot: bool) -> Stage {
        Stage::Script(Self {
            sb,
            args,
            collected: Vec::new(),
            filter,
            dot,
            scope: None,
            bound: false,
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Begin,
    Process,
    End,
}

pub(crate) struct Evaluator<'a> {
    pub(crate) rs: &'a mut Runspace,
    pub(crate) host: &'a dyn EngineHost,
    scopes: Vec<Scope>,
    sinks: Vec<Sink>,
    steps: u64,
    try_depth: usize,
    pub(crate) merge_errors: usize,
    pub(crate) had_errors: bool,
    /// Set when the current statement wrote an error (drives `$?`).
    stmt_failed: bool,
    call_depth: usize,
    pub(crate) source: Arc<str>,
    pub(crate) current_offset: usize,
}

impl<'a> Evaluator<'a> {
    pub(crate) fn new(rs: &'a mut Runspace, host: &'a dyn EngineHost, source: Arc<str>) -> Self {
        Self {
            rs,
            host,
            scopes: Vec::new(),
            sinks: vec![Sink::Host],
            steps: 0,
            try_depth: 0,
            merge_errors: 0,
            had_errors: false,
            stmt_failed: false,
            call_depth: 0,
            source,
            current_offset: 0,
        }
    }

    // ---- bookkeeping ----

    pub(crate) fn tick(&mut self) -> R<()> {
        self.steps += 1;
        if self.host.should_stop() {
            return Err(Flow::Stopped);
        }
        if self.steps.is_multiple_of(YIELD_EVERY) {
            self.host.yield_now();
        }
        Ok(())
    }

    pub(crate) fn write_output(&mut self, v: Value) -> R<()> {
        match self.sinks.last_mut() {
            Some(Sink::Collect(c)) => {
                c.push(v);
                Ok(())
            }
            _ => Ok(self.host.emit(StreamRecord::Output(v))?),
        }
    }

    pub(crate) fn emit(&mut self, rec: StreamRecord) -> R<()> {
        Ok(self.host.emit(rec)?)
    }

    /// Runs `f` with output collected instead of forwarded.
    pub(crate) fn collect<F>(&mut self, f: F) -> R<Vec<Value>>
    where
        F: FnOnce(&mut Self) -> R<()>,
    {
        self.sinks.push(Sink::Collect(Vec::new()));
        let res = f(self);
        let out = match self.sinks.pop() {
            Some(Sink::Collect(c)) => c,
            _ => Vec::new(),
        };
        res.map(|()| out)
    }

    pub(crate) fn position(&self, offset: usize, len: usize) -> ScriptPosition {
        let mut line = 1;
        let mut line_start = 0;
        for (i, c) in self.source.chars().enumerate() {
            if i >= offset {
                break;
            }
            if c == '\n' {
                line += 1;
                line_start = i + 1;
            }
        }
        let line_text: String = self
            .source
            .chars()
            .skip(line_start)
            .take_while(|c| *c != '\n' && *c != '\r')
            .collect();
        ScriptPosition {
            line,
            column: offset.saturating_sub(line_start) + 1,
            line_text,
            length: len.max(1),
        }
    }

    /// A non-terminating error: honours `$ErrorActionPreference` (Stop throws, SilentlyContinue
    /// and Ignore hide it), records it in `$Error`.
    pub(crate) fn write_error(&mut self, mut rec: ErrorRecord) -> R<()> {
        if rec.position.is_none() {
            rec.position = Some(self.position(self.current_offset, 1));
        }
        let pref = self.preference("ErrorActionPreference");
        match pref.as_str() {
            "stop" => return Err(Flow::Error(Box::new(rec), true)),
            "ignore" => return Ok(()),
            _ => {}
        }
        self.had_errors = true;
        self.stmt_failed = true;
        self.push_error_var(&rec);
        if pref == "silentlycontinue" {
            return Ok(());
        }
        if self.merge_errors > 0 {
            return self.write_output(Value::ErrorRecord(Box::new(rec)));
        }
        self.emit(StreamRecord::Error(rec))
    }

    fn push_error_var(&mut self, rec: &ErrorRecord) {
        let mut list = match self.rs.get_global("Error") {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        };
        list.insert(0, Value::ErrorRecord(Box::new(rec.clone())));
        list.truncate(256);
        self.rs.set_global("Error", Value::Array(list));
    }

    pub(crate) fn preference(&self, name: &str) -> String {
        self.get_var(name)
            .map(|v| v.to_string().to_ascii_lowercase())
            .unwrap_or_else(|| "continue".to_owned())
    }

    // ---- variables ----

    pub(crate) fn get_var(&self, name: &str) -> Option<Value> {
        let (scope, bare) = split_scope(name);
        if scope.as_deref() == Some("env") {
            // What the session set wins over the process environment it started with.
            return self.rs.env_override(bare).or_else(|| {
                self.rs
                    .ctx
                    .env
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(bare))
                    .map(|(_, v)| Value::String(v.clone()))
            });
        }
        let key = bare.to_ascii_lowercase();
        if scope.as_deref() != Some("global") && scope.as_deref() != Some("script") {
            for s in self.scopes.iter().rev() {
                if let Some((_, v)) = s.get(&key) {
                    return Some(v.clone());
                }
            }
        }
        self.rs.get_global(bare).or_else(|| self.rs.automatic(bare))
    }

    pub(crate) fn set_var(&mut self, name: &str, v: Value) {
        let (scope, bare) = split_scope(name);
        match scope.as_deref() {
            Some("env") => self.rs.set_env(bare, v.to_string()),
            Some("global" | "script") => self.rs.set_global(bare, v),
            _ => match self.scopes.last_mut() {
                Some(s) => {
                    s.insert(bare.to_ascii_lowercase(), (bare.to_owned(), v));
                }
                None => self.rs.set_global(bare, v),
            },
        }
    }

    pub(crate) fn remove_var(&mut self, name: &str) -> bool {
        let key = name.to_ascii_lowercase();
        for s in self.scopes.iter_mut().rev() {
            if s.remove(&key).is_some() {
                return true;
            }
        }
        self.rs.remove_global(name)
    }

    /// Variables visible here, innermost first wins.
    pub(crate) fn visible_vars(&self) -> Vec<(String, Value)> {
        let mut out: Vec<(String, Value)> = self.rs.globals();
        for s in &self.scopes {
            for (name, v) in s.values() {
                if let Some(slot) = out.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
                    slot.1 = v.clone();
                } else {
                    out.push((name.clone(), v.clone()));
                }
            }
        }
        out.sort_by_key(|(n, _)| n.to_ascii_lowercase());
        out
    }

    // ---- statements ----

    pub(crate) fn exec_block(&mut self, stmts: &[Stmt]) -> R<()> {
        for s in stmts {
            self.tick()?;
            let outer_failed = std::mem::take(&mut self.stmt_failed);
            let res = self.exec_stmt(s);
            let failed = self.stmt_failed || matches!(res, Err(Flow::Error(..)));
            self.stmt_failed = outer_failed || failed;
            if !matches!(&s.kind, StmtKind::Block(_)) {
                self.rs.set_global("?", Value::Bool(!failed));
            }
            match res {
                Err(Flow::Error(rec, false)) if self.try_depth == 0 => {
                    if self.preference("ErrorActionPreference") == "stop" {
                        return Err(Flow::Error(rec, true));
                    }
                    self.had_errors = true;
                    self.push_error_var(&rec);
                    if self.merge_errors > 0 {
                        self.write_output(Value::ErrorRecord(rec))?;
                    } else {
                        self.emit(StreamRecord::Error(*rec))?;
                    }
                }
                other => other?,
            }
        }
        Ok(())
    }

    fn exec_stmt(&mut self, s: &Stmt) -> R<()> {
        self.current_offset = s.offset;
        match &s.kind {
            StmtKind::Pipeline(p) => {
                self.run_pipeline(p, Vec::new(), false)?;
                Ok(())
            }
            StmtKind::Assign { target, op, value } => {
                let v = self.stmt_value(value)?;
                self.assign(target, *op, v)
            }
            StmtKind::If { clauses, else_body } => {
                for (cond, body) in clauses {
                    if self.pipeline_value(cond)?.is_truthy() {
                        return self.exec_block(body);
                    }
                }
                if let Some(b) = else_body {
                    self.exec_block(b)?;
                }
                Ok(())
            }
            StmtKind::While { label, cond, body } => loop {
                self.tick()?;
                if !self.pipeline_value(cond)?.is_truthy() {
                    return Ok(());
                }
                if self.loop_body(body, label)? {
                    return Ok(());
                }
            },
            StmtKind::DoLoop {
                label,
                body,
                cond,
                until,
            } => loop {
                self.tick()?;
                if self.loop_body(body, label)? {
                    return Ok(());
                }
                let c = self.pipeline_value(cond)?.is_truthy();
                if c == *until {
                    return Ok(());
                }
            },
            StmtKind::For {
                label,
                init,
                cond,
                step,
                body,
            } => {
                if let Some(i) = init {
                    self.exec_silent(i)?;
                }
                loop {
                    self.tick()?;
                    if let Some(c) = cond
                        && !self.pipeline_value(c)?.is_truthy()
                    {
                        return Ok(());
                    }
                    if self.loop_body(body, label)? {
                        return Ok(());
                    }
                    if let Some(st) = step {
                        self.exec_silent(st)?;
                    }
                }
            }
            StmtKind::Foreach {
                label,
                var,
                iter,
                body,
            } => {
                let items = match self.pipeline_value(iter)? {
                    Value::Null => Vec::new(),
                    v => v.into_items(),
                };
                for item in items {
                    self.tick()?;
                    self.set_var(var, item);
                    if self.loop_body(body, label)? {
                        break;
                    }
                }
                Ok(())
            }
            StmtKind::Switch {
                label,
                subject,
                wildcard,
                regex,
                case_sensitive,
                clauses,
                default,
            } => {
                let items = match self.pipeline_value(subject)? {
                    Value::Array(a) => a,
                    v => vec![v],
                };
                'items: for item in items {
                    self.tick()?;
                    let mut matched = false;
                    for (cond, body) in clauses {
                        let hit = match cond {
                            SwitchCond::Script(e) => {
                                let sb = self.eval(e)?;
                                self.invoke_scriptblock_value(&sb, Some(item.clone()), Vec::new())?
                                    .is_truthy()
                            }
                            SwitchCond::Value(e) => {
                                let c = self.eval(e)?;
                                if *regex {
                                    let re = ops::regex(&c.to_string(), *case_sensitive)?;
                                    let text = item.to_string();
                                    if let Some(caps) = re.captures(&text) {
                                        let t = ops::matches_table(&re, &caps);
                                        self.set_var("Matches", Value::Hashtable(t));
                                        true
                                    } else {
                                        false
                                    }
                                } else if *wildcard {
                                    ops::wildcard_match(
                                        &c.to_string(),
                                        &item.to_string(),
                                        *case_sensitive,
                                    )
                                } else {
                                    ops::equals(&item, &c, *case_sensitive)
                                }
                            }
                        };
                        if hit {
                            matched = true;
                            self.set_var("_", item.clone());
                            match self.exec_block(body) {
                                Ok(()) => {}
                                Err(Flow::Break(l)) if l.is_none() || l == *label => break 'items,
                                Err(Flow::Continue(l)) if l.is_none() || l == *label => {
                                    continue 'items;
                                }
                                Err(e) => return Err(e),
                            }
                        }
                    }
                    if !matched && let Some(d) = default {
                        self.set_var("_", item.clone());
                        match self.exec_block(d) {
                            Ok(()) => {}
                            Err(Flow::Break(l)) if l.is_none() || l == *label => break 'items,
                            Err(Flow::Continue(l)) if l.is_none() || l == *label => {
                                continue 'items;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                }
                Ok(())
            }
            StmtKind::Function { name, body, filter } => {
                self.rs.define_function(name, body.clone(), *filter);
                Ok(())
            }
            StmtKind::Break(l) => Err(Flow::Break(l.clone())),
            StmtKind::Continue(l) => Err(Flow::Continue(l.clone())),
            StmtKind::Return(p) => {
                if let Some(p) = p {
                    self.run_pipeline(p, Vec::new(), false)?;
                }
                Err(Flow::Return)
            }
            StmtKind::Exit(p) => {
                let code = match p {
                    Some(p) => self.pipeline_value(p)?.as_i64().unwrap_or(0) as i32,
                    None => 0,
                };
                Err(Flow::Exit(code))
            }
            StmtKind::Throw(p) => {
                let v = match p {
                    Some(p) => self.pipeline_value(p)?,
                    None => Value::Null,
                };
                let mut rec = match v {
                    Value::ErrorRecord(r) => *r,
                    Value::Null => runtime_error(
                        "ScriptHalted",
                        ErrorCategory::OperationStopped,
                        "ScriptHalted",
                    ),
                    Value::String(s) => {
                        runtime_error(s.clone(), ErrorCategory::OperationStopped, &s)
                            .with_target(Value::String(s.clone()))
                    }
                    other => {
                        let msg = other.to_string();
                        let mut r =
                            runtime_error(msg.clone(), ErrorCategory::OperationStopped, &msg)
                                .with_target(other.clone());
                        r.thrown = Some(other);
                        r
                    }
                };
                if rec.position.is_none() {
                    rec.position = Some(self.position(s.offset, 5));
                }
                Err(Flow::Error(Box::new(rec), true))
            }
            StmtKind::Try {
                body,
                catches,
                finally,
            } => {
                self.try_depth += 1;
                let res = self.exec_block(body);
                self.try_depth -= 1;
                let res = match res {
                    Err(Flow::Error(rec, _)) => {
                        let handler = catches.iter().find(|(types, _)| {
                            types.is_empty() || types.iter().any(|t| catch_matches(t, &rec))
                        });
                        match handler {
                            Some((_, cbody)) => {
                                let saved = self.get_var("_");
                                let v = Value::ErrorRecord(rec);
                                self.set_var("_", v.clone());
                                self.set_var("PSItem", v);
                                let r = self.exec_block(cbody);
                                self.set_var("_", saved.clone().unwrap_or(Value::Null));
                                self.set_var("PSItem", saved.unwrap_or(Value::Null));
                                r
                            }
                            None => Err(Flow::Error(rec, true)),
                        }
                    }
                    other => other,
                };
                if let Some(f) = finally {
                    self.exec_block(f)?;
                }
                res
            }
            StmtKind::Block(b) => self.exec_block(b),
        }
    }

    /// Runs a loop body; `Ok(true)` means the loop must end (break).
    fn loop_body(&mut self, body: &[Stmt], label: &Option<String>) -> R<bool> {
        match self.exec_block(body) {
            Ok(()) => Ok(false),
            Err(Flow::Break(l))
                if l.is_none()
                    || l.as_deref().map(str::to_ascii_lowercase)
                        == label.as_deref().map(str::to_ascii_lowercase) =>
            {
                Ok(true)
            }
            Err(Flow::Continue(l))
                if l.is_none()
                    || l.as_deref().map(str::to_ascii_lowercase)
                        == label.as_deref().map(str::to_ascii_lowercase) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    fn exec_silent(&mut self, s: &Stmt) -> R<()> {
        self.collect(|ev| ev.exec_stmt(s)).map(|_| ())
    }

    /// The value of a statement used as an expression (assignment right-hand side).
    pub(crate) fn stmt_value(&mut self, s: &Stmt) -> R<Value> {
        if let StmtKind::Pipeline(p) = &s.kind
            && let [PipeElement::Expr(e)] = p.elements.as_slice()
        {
            self.current_offset = p.offset;
            return self.eval(e);
        }
        let out = self.collect(|ev| ev.exec_stmt(s))?;
        Ok(Value::from_output(out))
    }

    fn pipeline_value(&mut self, p: &Pipeline) -> R<Value> {
        if let [PipeElement::Expr(e)] = p.elements.as_slice() {
            return self.eval(e);
        }
        let out = self.collect(|ev| ev.run_pipeline(p, Vec::new(), false))?;
        Ok(Value::from_output(out))
    }

    fn assign(&mut self, target: &Expr, op: AssignOp, v: Value) -> R<()> {
        let v = if op == AssignOp::Assign {
            v
        } else {
            let cur = self.eval(target)?;
            match op {
                AssignOp::Add => ops::add(&cur, &v)?,
                AssignOp::Sub => ops::arithmetic(&cur, &v, '-')?,
                AssignOp::Mul => ops::arithmetic(&cur, &v, '*')?,
                AssignOp::Div => ops::arithmetic(&cur, &v, '/')?,
                AssignOp::Rem | AssignOp::Assign => ops::arithmetic(&cur, &v, '%')?,
            }
        };
        self.store(target, v)
    }

    fn store(&mut self, target: &Expr, v: Value) -> R<()> {
        match target {
            Expr::Literal(Value::Null) => Ok(()),
            Expr::Variable(n) => {
                self.set_var(n, v);
                Ok(())
            }
            Expr::Cast(t, inner) => {
                let off = self.rs.ctx.utc_offset_minutes;
                let v = ops::cast(t, v, off)?;
                self.store(inner, v)
            }
            Expr::Member {
                target: obj, name, ..
            } => {
                let name = self.eval(name)?.to_string();
                let mut container = self.eval(obj)?;
                match &mut container {
                    Value::Object(o) => o.set(&name, v),
                    Value::Hashtable(h) => h.insert(Value::String(name), v),
                    other => {
                        return Err(runtime_error(
                            format!("The property '{name}' cannot be found on this object. Verify that the property exists and can be set."),
                            ErrorCategory::InvalidOperation,
                            if matches!(other, Value::Null) { "PropertyAssignmentException" } else { "PropertyNotFound" },
                        )
                        .into());
                    }
                }
                self.store(obj, container)
            }
            Expr::Index(obj, idx) => {
                let i = self.eval(idx)?;
                let mut container = self.eval(obj)?;
                match &mut container {
                    Value::Hashtable(h) => h.insert(i, v),
                    Value::Array(a) => {
                        let len = a.len() as i64;
                        let mut n = i.as_i64().unwrap_or(0);
                        if n < 0 {
                            n += len;
                        }
                        match a.get_mut(n as usize).filter(|_| n >= 0) {
                            Some(slot) => *slot = v,
                            None => {
                                return Err(runtime_error(
                                    "Index was outside the bounds of the array.",
                                    ErrorCategory::OperationStopped,
                                    "System.IndexOutOfRangeException",
                                )
                                .into());
                            }
                        }
                    }
                    Value::Object(o) => o.set(&i.to_string(), v),
                    _ => {
                        return Err(runtime_error(
                            "Unable to index into an object of this type.",
                            ErrorCategory::InvalidOperation,
                            "CannotIndex",
                        )
                        .into());
                    }
                }
                self.store(obj, container)
            }
            _ => Err(runtime_error(
                "The assignment expression is not valid.",
                ErrorCategory::InvalidOperation,
                "InvalidLeftHandSide",
            )
            .into()),
        }
    }

    // ---- pipelines ----

    /// Runs a pipeline, feeding `input` into its first command; outputs go to the current sink.
    pub(crate) fn run_pipeline(
        &mut self,
        p: &Pipeline,
        input: Vec<Value>,
        has_input: bool,
    ) -> R<()> {
        self.current_offset = p.offset;
        let mut elements = p.elements.as_slice();
        let mut source: Option<Vec<Value>> = if has_input { Some(input) } else { None };
        if let Some((PipeElement::Expr(e), rest)) = elements.split_first() {
            let v = self.eval(e)?;
            // `$i++` and `[void]...` used as statements write nothing.
            if rest.is_empty()
                && (matches!(e, Expr::IncDec { .. })
                    || matches!(e, Expr::Cast(t, _) if t == "void"))
            {
                return Ok(());
            }
            source = Some(match v {
                Value::Array(a) => a,
                other => vec![other],
            });
            if rest.is_empty() {
                for item in source.unwrap_or_default() {
                    self.write_output(item)?;
                }
                return Ok(());
            }
            // `$null | cmd` still runs cmd once with $null; `@() | cmd` runs it with nothing.
            elements = rest;
        }
        let mut stages = Vec::new();
        let mut merges = Vec::new();
        for el in elements {
            let PipeElement::Command(call) = el else {
                return Err(runtime_error(
                    "Expressions are only allowed as the first element of a pipeline.",
                    ErrorCategory::ParserError,
                    "ExpressionsMustBeFirstInPipeline",
                )
                .into());
            };
            merges.push(call.redirections.clone());
            stages.push(self.resolve(call)?);
        }
        self.drive(&mut stages, &merges, source)
    }

    pub(crate) fn drive(
        &mut self,
        stages: &mut [Stage],
        redirs: &[Vec<Redirection>],
        source: Option<Vec<Value>>,
    ) -> R<()> {
        let merge = redirs
            .iter()
            .flatten()
            .any(|r| matches!(r, Redirection::Merge(2 | 0)));
        let discard_out = redirs
            .last()
            .is_some_and(|r| r.iter().any(|x| matches!(x, Redirection::Discard(1 | 0))));
        if merge {
            self.merge_errors += 1;
        }
        if discard_out {
            self.sinks.push(Sink::Collect(Vec::new()));
        }
        let res = self.drive_inner(stages, source);
        if discard_out {
            self.sinks.pop();
        }
        if merge {
            self.merge_errors -= 1;
        }
        res
    }

    fn drive_inner(&mut self, stages: &mut [Stage], source: Option<Vec<Value>>) -> R<()> {
        for i in 0..stages.len() {
            let outs = self.collect(|ev| ev.stage_begin(&mut stages[i]))?;
            for o in outs {
                self.push(stages, i + 1, o)?;
            }
        }
        match source {
            Some(items) => {
                for item in items {
                    self.tick()?;
                    self.push(stages, 0, item)?;
                }
            }
            None => {
                if let Some(first) = stages.first_mut() {
                    let outs = self.collect(|ev| ev.stage_process(first, None))?;
                    for o in outs {
                        self.push(stages, 1, o)?;
                    }
                }
            }
        }
        for i in 0..stages.len() {
            let outs = self.collect(|ev| ev.stage_end(&mut stages[i]))?;
            for o in outs {
                self.push(stages, i + 1, o)?;
            }
        }
        Ok(())
    }

    fn push(&mut self, stages: &mut [Stage], i: usize, item: Value) -> R<()> {
        self.tick()?;
        let Some(stage) = stages.get_mut(i) else {
            return self.write_output(item);
        };
        let outs = self.collect(|ev| ev.stage_process(stage, Some(item)))?;
        for o in outs {
            self.push(stages, i + 1, o)?;
        }
        Ok(())
    }

    fn stage_begin(&mut self, st: &mut Stage) -> R<()> {
        match st {
            Stage::Builtin { cmd, args, state } => builtins::begin(self, *cmd, args, state),
            Stage::Script(script) => {
                if script.sb.begin.is_empty() {
                    return Ok(());
                }
                self.stage_phase(script, None, None, Phase::Begin)
            }
            Stage::Custom { .. } => Ok(()),
        }
    }

    fn stage_process(&mut self, st: &mut Stage, item: Option<Value>) -> R<()> {
        match st {
            Stage::Builtin { cmd, args, state } => builtins::process(self, *cmd, args, state, item),
            Stage::Script(script) => {
                if script.filter || script.sb.named_blocks {
                    self.stage_phase(script, item, None, Phase::Process)
                } else {
                    if let Some(v) = item {
                        script.collected.push(v);
                    }
                    Ok(())
                }
            }
            Stage::Custom { collected, .. } => {
                if let Some(v) = item {
                    collected.push(v);
                }
                Ok(())
            }
        }
    }

    fn stage_end(&mut self, st: &mut Stage) -> R<()> {
        match st {
            Stage::Builtin { cmd, args, state } => builtins::end(self, *cmd, args, state),
            Stage::Script(script) => {
                if script.filter || script.sb.named_blocks {
                    if script.sb.end.is_empty() {
                        return Ok(());
                    }
                    return self.stage_phase(script, None, None, Phase::End);
                }
                let input = std::mem::take(&mut script.collected);
                self.stage_phase(script, None, Some(input), Phase::Process)
            }
            Stage::Custom {
                cmd,
                args,
                collected,
                name,
            } => {
                let cmd = cmd.clone();
                let input = std::mem::take(collected);
                let mut inv = Invocation::new(
                    self,
                    name.clone(),
                    args.positional.clone(),
                    args.named_values(),
                    input,
                );
                let res = cmd.invoke(&mut inv);
                let errors = std::mem::take(&mut inv.pending_errors);
                drop(inv);
                for e in errors {
                    self.write_error(e)?;
                }
                match res {
                    Ok(()) => Ok(()),
                    Err(super::custom::CommandFailure::Stopped) => Err(Flow::Stopped),
                    Err(super::custom::CommandFailure::Terminating(rec)) => {
                        Err(Flow::Error(rec, false))
                    }
                    Err(super::custom::CommandFailure::Exit(code)) => Err(Flow::Exit(code)),
                }
            }
        }
    }

    /// Runs one block of a script stage in the stage's scope: parameters are bound on the first
    /// call; `item` sets `$_` and the `ValueFromPipeline` parameters; `input` sets `$input`.
    fn stage_phase(
        &mut self,
        st: &mut ScriptStage,
        item: Option<Value>,
        input: Option<Vec<Value>>,
        phase: Phase,
    ) -> R<()> {
        if self.call_depth >= MAX_CALL_DEPTH {
            return Err(call_depth_overflow());
        }
        self.call_depth += 1;
        if !st.dot {
            self.scopes.push(st.scope.take().unwrap_or_default());
        }
        let sb = st.sb.clone();
        let res = (|| {
            if !st.bound {
                st.bound = true;
                self.bind_params(&sb, &st.args)?;
            }
            if let Some(v) = item {
                for p in sb.params.iter().filter(|p| p.from_pipeline) {
                    let bound = self.coerce_param(p, v.clone())?;
                    self.set_var(&p.name, bound);
                }
                self.set_var("_", v.clone());
                self.set_var("PSItem", v);
            }
            if let Some(input) = input {
                self.set_var("input", Value::Array(input));
            }
            self.exec_block(match phase {
                Phase::Begin => &sb.begin,
                Phase::Process => &sb.body,
                Phase::End => &sb.end,
            })
        })();
        if !st.dot {
            st.scope = self.scopes.pop();
        }
        self.call_depth -= 1;
        match res {
            Err(Flow::Return) => Ok(()),
            other => other,
        }
    }

    /// Runs `f` in a new scope bound to a script block's parameters.
    fn with_scope<F>(
        &mut self,
        sb: &ScriptBlockAst,
        args: &builtins::Args,
        dollar_under: Option<Value>,
        dot: bool,
        f: F,
    ) -> R<()>
    where
        F: FnOnce(&mut Self) -> R<()>,
    {
        if self.call_depth >= MAX_CALL_DEPTH {
            return Err(call_depth_overflow());
        }
        self.call_depth += 1;
        if !dot {
            self.scopes.push(HashMap::new());
        }
        let res = (|| {
            self.bind_params(sb, args)?;
            if let Some(v) = dollar_under {
                self.set_var("_", v.clone());
                self.set_var("PSItem", v);
            }
            f(self)
        })();
        if !dot {
            self.scopes.pop();
        }
        self.call_depth -= 1;
        match res {
            Err(Flow::Return) => Ok(()),
            other => other,
        }
    }

    fn bind_params(&mut self, sb: &ScriptBlockAst, args: &builtins::Args) -> R<()> {
        let mut positional = args.positional.clone().into_iter();
        let mut extra = Vec::new();
        let mut bound: Vec<String> = Vec::new();
        for (name, val) in &args.named {
            match sb.params.iter().find(|p| {
                p.name.eq_ignore_ascii_case(name)
                    || p.name
                        .to_ascii_lowercase()
                        .starts_with(&name.to_ascii_lowercase())
            }) {
                Some(p) => {
                    let v = match val {
                        Some(v) => v.clone(),
                        None if p.type_name.as_deref() == Some("switch") => Value::Bool(true),
                        None => Value::Bool(true),
                    };
                    let v = self.coerce_param(p, v)?;
                    self.set_var(&p.name, v);
                    bound.push(p.name.to_ascii_lowercase());
                }
                None => {
                    extra.push(Value::String(format!("-{name}")));
                    if let Some(v) = val {
                        extra.push(v.clone());
                    }
                }
            }
        }
        for p in &sb.params {
            if bound.contains(&p.name.to_ascii_lowercase()) {
                continue;
            }
            let v = if p.type_name.as_deref() == Some("switch") {
                Value::Bool(false)
            } else if let Some(v) = positional.next() {
                self.coerce_param(p, v)?
            } else if let Some(d) = &p.default {
                self.eval(d)?
            } else {
                Value::Null
            };
            self.set_var(&p.name, v);
        }
        extra.extend(positional);
        self.set_var("args", Value::Array(extra));
        Ok(())
    }

    fn coerce_param(&mut self, p: &Param, v: Value) -> R<Value> {
        match p.type_name.as_deref() {
            Some(t) if t != "switch" && !t.contains('(') => {
                let off = self.rs.ctx.utc_offset_minutes;
                ops::cast(t, v, off).map_err(|mut e| {
                    e.message = format!("Cannot process argument transformation on parameter '{}'. {}", p.name, e.message);
                    e.exception_type = "System.Management.Automation.ParameterBindingArgumentTransformationException".to_owned();
                    e.fully_qualified_error_id = "ParameterArgumentTransformationError".to_owned();
                    e.category = ErrorCategory::InvalidData;
                    Flow::from(e)
                })
            }
            _ => Ok(v),
        }
    }

    fn resolve(&mut self, call: &CommandCall) -> R<Stage> {
        let items = self.eval_args(&call.args)?;
        let name = match &call.name {
            CommandName::Name(n) => n.clone(),
            CommandName::Expr(e) => match self.eval(e)? {
                Value::ScriptBlock(sb) => {
                    let args = builtins::Args::bind(items, |n| script_switch(&sb.ast, n));
                    return Ok(ScriptStage::stage(sb.ast, args, false, call.dot_source));
                }
                Value::String(s) => s,
                other => other.to_string(),
            },
        };
        self.resolve_name(name, items, call.offset, call.name_len, call.dot_source)
    }

    fn resolve_name(
        &mut self,
        name: String,
        items: Vec<builtins::ArgItem>,
        offset: usize,
        name_len: usize,
        dot: bool,
    ) -> R<Stage> {
        if let Some(cmd) = self.rs.custom_command(&name) {
            let args = builtins::Args::bind(items, |_| false);
            return Ok(Stage::Custom {
                cmd,
                args,
                collected: Vec::new(),
                name,
            });
        }
        if let Some((sb, filter)) = self.rs.function(&name) {
            let args = builtins::Args::bind(items, |n| script_switch(&sb, n));
            return Ok(ScriptStage::stage(sb, args, filter, dot));
        }
        let bare = name.strip_suffix(".exe").unwrap_or(&name);
        if let Some(cmd) = builtins::lookup(bare) {
            let args = builtins::Args::bind(items, |n| builtins::is_switch(cmd, n));
            let state = builtins::State::default();
            return Ok(Stage::Builtin { cmd, args, state });
        }
        let mut rec = ErrorRecord::new(
            "System.Management.Automation.CommandNotFoundException",
            format!("The term '{name}' is not recognized as the name of a cmdlet, function, script file, or operable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again."),
            ErrorCategory::ObjectNotFound,
        )
        .with_target(Value::String(name.clone()));
        rec.position = Some(self.position(offset, name_len));
        Err(rec.into())
    }

    fn eval_args(&mut self, args: &[CommandArg]) -> R<Vec<builtins::ArgItem>> {
        let mut out = Vec::new();
        for a in args {
            match a {
                CommandArg::Named(n, v) => {
                    let v = match v {
                        Some(e) => Some(self.eval(e)?),
                        None => None,
                    };
                    out.push(builtins::ArgItem::Named(n.clone(), v));
                }
                CommandArg::Positional(e) => {
                    let v = self.eval(e)?;
                    out.push(builtins::ArgItem::Pos(v));
                }
            }
        }
        Ok(out)
    }

    pub(crate) fn script_stage(&mut self, sb: Arc<ScriptBlockAst>, args: builtins::Args) -> Stage {
        ScriptStage::stage(sb, args, false, false)
    }

    /// Resolves a command by name for PSRP's structured form (arguments already bound).
    pub(crate) fn command_stage(&mut self, name: &str, args: builtins::Args) -> R<Stage> {
        let items: Vec<builtins::ArgItem> = args
            .named
            .into_iter()
            .map(|(n, v)| builtins::ArgItem::Named(n, v))
            .chain(args.positional.into_iter().map(builtins::ArgItem::Pos))
            .collect();
        let call_offset = 0;
        self.resolve_name(
            name.to_owned(),
            items,
            call_offset,
            name.chars().count(),
            false,
        )
    }

    /// Invokes a script block value (for `&`, `.Invoke()`, Where-Object/ForEach-Object).
    pub(crate) fn invoke_scriptblock_value(
        &mut self,
        sb: &Value,
        dollar_under: Option<Value>,
        args: Vec<Value>,
    ) -> R<Value> {
        let Value::ScriptBlock(sb) = sb else {
            return Err(runtime_error(
                "The expression is not a script block.",
                ErrorCategory::InvalidOperation,
                "NotAScriptBlock",
            )
            .into());
        };
        let ast = sb.ast.clone();
        let a = builtins::Args {
            positional: args,
            named: Vec::new(),
        };
        let out = self.collect(|ev| {
            ev.with_scope(&ast, &a, dollar_under, false, |ev| ev.exec_block(&ast.body))
        })?;
        Ok(Value::from_output(out))
    }

    /// Runs a script block's body with `$_` set, in the current scope (ForEach-Object's process).
    pub(crate) fn run_scriptblock_items(
        &mut self,
        sb: &Value,
        dollar_under: Option<Value>,
    ) -> R<()> {
        let Value::ScriptBlock(sb) = sb else {
            return Err(runtime_error(
                "The expression is not a script block.",
                ErrorCategory::InvalidOperation,
                "NotAScriptBlock",
            )
            .into());
        };
        let ast = sb.ast.clone();
        let saved = self.get_var("_");
        if let Some(v) = dollar_under {
            self.set_var("_", v.clone());
            self.set_var("PSItem", v);
        }
        let res = match self.exec_block(&ast.body) {
            Err(Flow::Return) => Ok(()),
            other => other,
        };
        self.set_var("_", saved.clone().unwrap_or(Value::Null));
        self.set_var("PSItem", saved.unwrap_or(Value::Null));
        res
    }

    // ---- expressions ----

    pub(crate) fn eval(&mut self, e: &Expr) -> R<Value> {
        match e {
            Expr::Literal(v) => Ok(v.clone()),
            Expr::Expandable(parts) => {
                let mut s = String::new();
                for p in parts {
                    match p {
                        StrPart::Text(t) => s.push_str(t),
                        StrPart::Var(n) => s.push_str(
                            &self
                                .get_var(n)
                                .map(|v| self.stringify(&v))
                                .unwrap_or_default(),
                        ),
                        StrPart::Sub(stmts) => {
                            let out = self.collect(|ev| ev.exec_block(stmts))?;
                            let strs: Vec<String> = out.iter().map(|v| self.stringify(v)).collect();
                            s.push_str(&strs.join(" "));
                        }
                    }
                }
                Ok(Value::String(s))
            }
            Expr::Variable(n) => Ok(self.get_var(n).unwrap_or(Value::Null)),
            Expr::ArrayLiteral(items) => {
                let mut out = Vec::with_capacity(items.len());
                for i in items {
                    out.push(self.eval(i)?);
                }
                Ok(Value::Array(out))
            }
            Expr::ArraySub(stmts) => {
                let out = self.collect(|ev| ev.exec_block(stmts))?;
                Ok(Value::Array(out))
            }
            Expr::SubExpr(stmts) => {
                let out = self.collect(|ev| ev.exec_block(stmts))?;
                Ok(Value::from_output(out))
            }
            Expr::Paren(s) => self.stmt_value(s),
            Expr::Hashtable(entries) => {
                let mut h = Hashtable::new();
                for (k, v) in entries {
                    let k = self.eval(k)?;
                    let v = self.stmt_value(v)?;
                    h.insert(k, v);
                }
                Ok(Value::Hashtable(h))
            }
            Expr::ScriptBlock(ast, text) => Ok(Value::ScriptBlock(ScriptBlock {
                text: text.clone(),
                ast: ast.clone(),
            })),
            Expr::Binary(op, l, r) => self.binary(*op, l, r),
            Expr::Unary(op, x) => {
                let v = self.eval(x)?;
                Ok(match op {
                    UnOp::Not => Value::Bool(!v.is_truthy()),
                    UnOp::Neg => ops::negate(&v)?,
                    UnOp::Plus => v,
                    UnOp::BNot => Value::Long(!v.as_i64().unwrap_or(0)),
                    UnOp::Comma => Value::Array(vec![v]),
                    UnOp::Join => Value::String(
                        v.into_items()
                            .iter()
                            .map(|x| self.stringify(x))
                            .collect::<String>(),
                    ),
                    UnOp::Split => Value::Array(
                        v.into_items()
                            .iter()
                            .flat_map(|x| {
                                x.to_string()
                                    .split_whitespace()
                                    .map(|s| Value::String(s.to_owned()))
                                    .collect::<Vec<_>>()
                            })
                            .collect(),
                    ),
                })
            }
            Expr::Cast(t, x) => {
                if t.eq_ignore_ascii_case("ordered")
                    && let Expr::Hashtable(_) = x.as_ref()
                {
                    let v = self.eval(x)?;
                    return Ok(ops::cast("ordered", v, 0)?);
                }
                let v = self.eval(x)?;
                let off = self.rs.ctx.utc_offset_minutes;
                Ok(ops::cast(t, v, off)?)
            }
            Expr::TypeLit(t) => Ok(type_object(t)),
            Expr::Member {
                target,
                name,
                is_static,
            } => {
                let name = self.eval(name)?.to_string();
                if *is_static {
                    let Expr::TypeLit(t) = target.as_ref() else {
                        return Ok(Value::Null);
                    };
                    return self.static_member(t, &name);
                }
                let v = self.eval(target)?;
                Ok(self.member(&v, &name))
            }
            Expr::Invoke {
                target,
                name,
                args,
                is_static,
            } => {
                let name = self.eval(name)?.to_string();
                let mut argv = Vec::with_capacity(args.len());
                for a in args {
                    argv.push(self.eval(a)?);
                }
                if *is_static {
                    let Expr::TypeLit(t) = target.as_ref() else {
                        return Ok(Value::Null);
                    };
                    return self.static_method(t, &name, &argv);
                }
                let v = self.eval(target)?;
                if let Some(updated) = mutate_in_place(&v, &name, &argv)? {
                    // Hashtables and list-like arrays are reference types in .NET: write back.
                    // Hashtable methods are void (an empty array writes nothing); ArrayList.Add
                    // returns the new index.
                    let ret = match &updated {
                        Value::Array(a) => Value::Int(a.len() as i32 - 1),
                        _ => Value::Array(Vec::new()),
                    };
                    self.store(target, updated)?;
                    return Ok(ret);
                }
                self.method(v, &name, argv)
            }
            Expr::Index(target, idx) => {
                let v = self.eval(target)?;
                let i = self.eval(idx)?;
                Ok(index(&v, &i))
            }
            Expr::IncDec {
                target,
                delta,
                prefix,
            } => {
                let cur = self.eval(target)?;
                let new = ops::add(&cur, &Value::Int(*delta))?;
                self.store(target, new.clone())?;
                Ok(if *prefix { new } else { cur })
            }
        }
    }

    /// String conversion for interpolation and -join (arrays joined with spaces, `$OFS`).
    pub(crate) fn stringify(&self, v: &Value) -> String {
        match v {
            Value::Array(a) => a
                .iter()
                .map(|x| self.stringify(x))
                .collect::<Vec<_>>()
                .join(" "),
            other => other.to_string(),
        }
    }

    fn binary(&mut self, op: BinOp, l: &Expr, r: &Expr) -> R<Value> {
        match op {
            BinOp::And => {
                let lv = self.eval(l)?.is_truthy();
                return Ok(Value::Bool(lv && self.eval(r)?.is_truthy()));
            }
            BinOp::Or => {
                let lv = self.eval(l)?.is_truthy();
                return Ok(Value::Bool(lv || self.eval(r)?.is_truthy()));
            }
            _ => {}
        }
        let lv = self.eval(l)?;
        let rv = self.eval(r)?;
        Ok(match op {
            BinOp::Add => ops::add(&lv, &rv)?,
            BinOp::Sub => ops::arithmetic(&lv, &rv, '-')?,
            BinOp::Mul => ops::arithmetic(&lv, &rv, '*')?,
            BinOp::Div => ops::arithmetic(&lv, &rv, '/')?,
            BinOp::Rem => ops::arithmetic(&lv, &rv, '%')?,
            BinOp::Xor => Value::Bool(lv.is_truthy() ^ rv.is_truthy()),
            BinOp::BAnd => ops::bitwise(&lv, &rv, "band")?,
            BinOp::BOr => ops::bitwise(&lv, &rv, "bor")?,
            BinOp::BXor => ops::bitwise(&lv, &rv, "bxor")?,
            BinOp::Shl => ops::bitwise(&lv, &rv, "shl")?,
            BinOp::Shr => ops::bitwise(&lv, &rv, "shr")?,
            BinOp::Range => {
                let (a, b) = (lv.as_i64().unwrap_or(0), rv.as_i64().unwrap_or(0));
                if a.abs_diff(b) > 10_000_000 {
                    return Err(runtime_error(
                        "The range is too large.",
                        ErrorCategory::InvalidOperation,
                        "RangeTooBig",
                    )
                    .into());
                }
                let to_v = |i: i64| i32::try_from(i).map_or(Value::Long(i), Value::Int);
                if a <= b {
                    Value::Array((a..=b).map(to_v).collect())
                } else {
                    Value::Array((b..=a).rev().map(to_v).collect())
                }
            }
            BinOp::Format => {
                let args = match rv {
                    Value::Array(a) => a,
                    other => vec![other],
                };
                Value::String(ops::format_string(&lv.to_string(), &args)?)
            }
            BinOp::Is(neg) => {
                let t = match &rv {
                    Value::Object(o) if o.type_name() == "System.RuntimeType" => o
                        .get("FullName")
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    other => other.to_string(),
                };
                Value::Bool(ops::is_type(&lv, &t) != neg)
            }
            BinOp::As => {
                let t = match &rv {
                    Value::Object(o) if o.type_name() == "System.RuntimeType" => o
                        .get("FullName")
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    other => other.to_string(),
                };
                ops::cast(&t, lv, self.rs.ctx.utc_offset_minutes).unwrap_or(Value::Null)
            }
            BinOp::Cmp(cop, cs) => self.comparison(cop, cs, lv, rv)?,
            BinOp::And | BinOp::Or => Value::Null,
        })
    }

    fn comparison(&mut self, op: CmpOp, cs: bool, lv: Value, rv: Value) -> R<Value> {
        match op {
            CmpOp::Join => {
                let sep = rv.to_string();
                let parts: Vec<String> = match lv {
                    Value::Array(a) => a.iter().map(|x| self.stringify(x)).collect(),
                    Value::Null => Vec::new(),
                    other => vec![other.to_string()],
                };
                return Ok(Value::String(parts.join(&sep)));
            }
            CmpOp::Replace => {
                let (pat, rep) = match rv {
                    Value::Array(a) => (
                        a.first().map(ToString::to_string).unwrap_or_default(),
                        a.get(1).map(ToString::to_string).unwrap_or_default(),
                    ),
                    other => (other.to_string(), String::new()),
                };
                let re = ops::regex(&pat, cs)?;
                let rep = ops::replacement(&rep);
                let apply = |v: &Value| {
                    Value::String(re.replace_all(&v.to_string(), rep.as_str()).into_owned())
                };
                return Ok(match lv {
                    Value::Array(a) => Value::Array(a.iter().map(apply).collect()),
                    other => apply(&other),
                });
            }
            CmpOp::Split => {
                let (pat, max) = match rv {
                    Value::Array(a) => (
                        a.first().map(ToString::to_string).unwrap_or_default(),
                        a.get(1).and_then(Value::as_i64).unwrap_or(0),
                    ),
                    other => (other.to_string(), 0),
                };
                let re = ops::regex(&pat, cs)?;
                let mut out = Vec::new();
                for item in lv.into_items() {
                    let s = item.to_string();
                    if max > 0 {
                        out.extend(
                            re.splitn(&s, max as usize)
                                .map(|x| Value::String(x.to_owned())),
                        );
                    } else {
                        out.extend(re.split(&s).map(|x| Value::String(x.to_owned())));
                    }
                }
                return Ok(Value::Array(out));
            }
            CmpOp::Match | CmpOp::NotMatch if !matches!(lv, Value::Array(_)) => {
                let re = ops::regex(&rv.to_string(), cs)?;
                let text = lv.to_string();
                let caps = re.captures(&text).map(|c| ops::matches_table(&re, &c));
                let hit = caps.is_some();
                if let Some(t) = caps {
                    self.set_var("Matches", Value::Hashtable(t));
                }
                return Ok(Value::Bool(hit == (op == CmpOp::Match)));
            }
            _ => {}
        }
        if let Value::Array(items) = &lv
            && !matches!(op, CmpOp::Contains | CmpOp::NotContains)
        {
            let mut out = Vec::new();
            for x in items {
                if ops::compare_op(op, x, &rv, cs)? {
                    out.push(x.clone());
                }
            }
            return Ok(Value::Array(out));
        }
        Ok(Value::Bool(ops::compare_op(op, &lv, &rv, cs)?))
    }

    pub(crate) fn member(&self, v: &Value, name: &str) -> Value {
        let lname = name.to_ascii_lowercase();
        match v {
            Value::Object(o) => {
                if let Some(p) = o.get(name) {
                    return p.clone();
                }
            }
            Value::Hashtable(h) => {
                if let Some(p) = h.get(name) {
                    return p.clone();
                }
                return match lname.as_str() {
                    "count" => Value::Int(h.len() as i32),
                    "keys" => Value::Array(h.entries().iter().map(|(k, _)| k.clone()).collect()),
                    "values" => Value::Array(h.entries().iter().map(|(_, v)| v.clone()).collect()),
                    _ => Value::Null,
                };
            }
            Value::Array(a) => {
                return match lname.as_str() {
                    "count" | "length" => Value::Int(a.len() as i32),
                    "rank" => Value::Int(1),
                    _ => {
                        let vals: Vec<Value> = a
                            .iter()
                            .map(|x| self.member(x, name))
                            .filter(|x| !matches!(x, Value::Null))
                            .flat_map(Value::into_items)
                            .collect();
                        Value::from_output(vals)
                    }
                };
            }
            Value::String(s) if lname == "length" => {
                return Value::Int(s.encode_utf16().count() as i32);
            }
            Value::DateTime(d) => {
                let (y, mo, day) = d.date();
                let (h, mi, s, ms) = d.time_of_day();
                return match lname.as_str() {
                    "year" => Value::Int(y as i32),
                    "month" => Value::Int(mo as i32),
                    "day" => Value::Int(day as i32),
                    "hour" => Value::Int(h as i32),
                    "minute" => Value::Int(mi as i32),
                    "second" => Value::Int(s as i32),
                    "millisecond" => Value::Int(ms as i32),
                    "dayofweek" => Value::String(
                        [
                            "Sunday",
                            "Monday",
                            "Tuesday",
                            "Wednesday",
                            "Thursday",
                            "Friday",
                            "Saturday",
                        ]
                        .get(d.day_of_week() as usize)
                        .copied()
                        .unwrap_or("")
                        .to_owned(),
                    ),
                    "dayofyear" => Value::Int(d.day_of_year() as i32),
                    "ticks" => Value::Long(d.ticks),
                    "date" => {
                        Value::DateTime(DateTime::from_civil(y, mo, day, 0, 0, 0, d.offset_minutes))
                    }
                    "timeofday" => Value::TimeSpan(TimeSpan {
                        ticks: d.ticks.rem_euclid(86_400 * TICKS_PER_SECOND),
                    }),
                    "count" => Value::Int(1),
                    _ => Value::Null,
                };
            }
            Value::TimeSpan(t) => {
                let secs = t.ticks / TICKS_PER_SECOND;
                return match lname.as_str() {
                    "days" => Value::Int((secs / 86_400) as i32),
                    "hours" => Value::Int((secs / 3600 % 24) as i32),
                    "minutes" => Value::Int((secs / 60 % 60) as i32),
                    "seconds" => Value::Int((secs % 60) as i32),
                    "milliseconds" => Value::Int((t.ticks / 10_000 % 1000) as i32),
                    "ticks" => Value::Long(t.ticks),
                    "totalseconds" => Value::Double(t.total_seconds()),
                    "totalmilliseconds" => Value::Double(t.total_seconds() * 1000.0),
                    "totalminutes" => Value::Double(t.total_seconds() / 60.0),
                    "totalhours" => Value::Double(t.total_seconds() / 3600.0),
                    "totaldays" => Value::Double(t.total_seconds() / 86_400.0),
                    _ => Value::Null,
                };
            }
            Value::ErrorRecord(r) => {
                return match lname.as_str() {
                    "exception" => Value::Object(Box::new(
                        PsObject {
                            to_string: Some(format!("{}: {}", r.exception_type, r.message)),
                            ..PsObject::typed(&r.exception_type)
                        }
                        .with("Message", Value::String(r.message.clone())),
                    )),
                    "fullyqualifiederrorid" => Value::String(r.fully_qualified_error_id.clone()),
                    "targetobject" => r.target_object.clone().unwrap_or(Value::Null),
                    "categoryinfo" => Value::Object(Box::new(
                        PsObject {
                            to_string: Some(r.category_info()),
                            ..PsObject::typed("System.Management.Automation.ErrorCategoryInfo")
                        }
                        .with("Category", Value::String(r.category.name().to_owned()))
                        .with("Activity", Value::String(r.activity.clone()))
                        .with("Reason", Value::String(r.reason.clone())),
                    )),
                    "invocationinfo" => match &r.position {
                        Some(p) => Value::Object(Box::new(
                            PsObject::typed("System.Management.Automation.InvocationInfo")
                                .with("ScriptLineNumber", Value::Int(p.line as i32))
                                .with("OffsetInLine", Value::Int(p.column as i32))
                                .with("Line", Value::String(p.line_text.clone())),
                        )),
                        None => Value::Null,
                    },
                    _ => Value::Null,
                };
            }
            _ => {}
        }
        match (v, lname.as_str()) {
            (Value::Null, "count" | "length") => Value::Int(0),
            (_, "count" | "length") if !matches!(v, Value::Object(_)) => Value::Int(1),
            _ => Value::Null,
        }
    }

    fn method(&mut self, v: Value, name: &str, args: Vec<Value>) -> R<Value> {
        let lname = name.to_ascii_lowercase();
        let arg_s = |i: usize| args.get(i).map(ToString::to_string).unwrap_or_default();
        let arg_i = |i: usize| args.get(i).and_then(Value::as_i64).unwrap_or(0);
        if matches!(v, Value::Null) {
            return Err(runtime_error(
                "You cannot call a method on a null-valued expression.",
                ErrorCategory::InvalidOperation,
                "InvokeMethodOnNull",
            )
            .into());
        }
        match lname.as_str() {
            "tostring" if args.is_empty() => return Ok(Value::String(v.to_string())),
            "tostring" => return Ok(Value::String(ops::format_value(&v, &arg_s(0)))),
            "gettype" => {
                return Ok(type_object(
                    v.type_names()
                        .first()
                        .map_or("System.Object", String::as_str),
                ));
            }
            "equals" => {
                return Ok(Value::Bool(
                    args.first().is_some_and(|a| ops::equals(&v, a, true)),
                ));
            }
            _ => {}
        }
        let not_found = |v: &Value| -> Flow {
            runtime_error(
                format!("Method invocation failed because [{}] does not contain a method named '{name}'.", v.type_names().first().cloned().unwrap_or_default()),
                ErrorCategory::InvalidOperation,
                "MethodNotFound",
            )
            .into()
        };
        match &v {
            Value::String(s) => {
                let chars: Vec<char> = s.chars().collect();
                let ci = |a: &str| a.to_owned();
                Ok(match lname.as_str() {
                    "toupper" | "toupperinvariant" => Value::String(s.to_uppercase()),
                    "tolower" | "tolowerinvariant" => Value::String(s.to_lowercase()),
                    "trim" if args.is_empty() => Value::String(s.trim().to_owned()),
                    "trim" => Value::String(s.trim_matches(|c| arg_s(0).contains(c)).to_owned()),
                    "trimstart" if args.is_empty() => Value::String(s.trim_start().to_owned()),
                    "trimstart" => {
                        Value::String(s.trim_start_matches(|c| arg_s(0).contains(c)).to_owned())
                    }
                    "trimend" if args.is_empty() => Value::String(s.trim_end().to_owned()),
                    "trimend" => {
                        Value::String(s.trim_end_matches(|c| arg_s(0).contains(c)).to_owned())
                    }
                    "substring" => {
                        let start = arg_i(0).max(0) as usize;
                        let len = if args.len() > 1 {
                            arg_i(1).max(0) as usize
                        } else {
                            chars.len().saturating_sub(start)
                        };
                        if start + len > chars.len() {
                            return Err(runtime_error(
                                "Exception calling \"Substring\" with \"1\" argument(s): \"startIndex cannot be larger than length of string.\"",
                                ErrorCategory::NotSpecified,
                                "ArgumentOutOfRangeException",
                            )
                            .into());
                        }
                        Value::String(chars[start..start + len].iter().collect())
                    }
                    "split" => {
                        let seps = arg_s(0);
                        let parts: Vec<Value> = if seps.is_empty() {
                            s.split(char::is_whitespace)
                                .map(|x| Value::String(x.to_owned()))
                                .collect()
                        } else {
                            s.split(|c| seps.contains(c))
                                .map(|x| Value::String(x.to_owned()))
                                .collect()
                        };
                        Value::Array(parts)
                    }
                    "replace" => Value::String(s.replace(&arg_s(0), &arg_s(1))),
                    "contains" => Value::Bool(s.contains(&ci(&arg_s(0)))),
                    "startswith" => Value::Bool(s.starts_with(&arg_s(0))),
                    "endswith" => Value::Bool(s.ends_with(&arg_s(0))),
                    "indexof" => Value::Int(
                        s.find(&arg_s(0))
                            .map_or(-1, |b| s[..b].chars().count() as i32),
                    ),
                    "lastindexof" => Value::Int(
                        s.rfind(&arg_s(0))
                            .map_or(-1, |b| s[..b].chars().count() as i32),
                    ),
                    "padleft" => {
                        let w = arg_i(0).max(0) as usize;
                        let pad = args
                            .get(1)
                            .map_or(' ', |c| c.to_string().chars().next().unwrap_or(' '));
                        Value::String(format!(
                            "{}{s}",
                            pad.to_string().repeat(w.saturating_sub(chars.len()))
                        ))
                    }
                    "padright" => {
                        let w = arg_i(0).max(0) as usize;
                        let pad = args
                            .get(1)
                            .map_or(' ', |c| c.to_string().chars().next().unwrap_or(' '));
                        Value::String(format!(
                            "{s}{}",
                            pad.to_string().repeat(w.saturating_sub(chars.len()))
                        ))
                    }
                    "insert" => {
                        let at = (arg_i(0).max(0) as usize).min(chars.len());
                        let mut c = chars.clone();
                        let ins: Vec<char> = arg_s(1).chars().collect();
                        c.splice(at..at, ins);
                        Value::String(c.into_iter().collect())
                    }
                    "remove" => {
                        let at = (arg_i(0).max(0) as usize).min(chars.len());
                        let n = if args.len() > 1 {
                            arg_i(1).max(0) as usize
                        } else {
                            chars.len() - at
                        };
                        let mut c = chars.clone();
                        c.drain(at..(at + n).min(chars.len()));
                        Value::String(c.into_iter().collect())
                    }
                    "tochararray" => Value::Array(chars.iter().map(|c| Value::Char(*c)).collect()),
                    "compareto" => Value::Int(
                        match ops::compare(&v, args.first().unwrap_or(&Value::Null), false) {
                            Some(std::cmp::Ordering::Less) => -1,
                            Some(std::cmp::Ordering::Greater) => 1,
                            _ => 0,
                        },
                    ),
                    _ => return Err(not_found(&v)),
                })
            }
            Value::Array(a) => Ok(match lname.as_str() {
                "contains" => Value::Bool(
                    a.iter()
                        .any(|x| args.first().is_some_and(|y| ops::equals(x, y, true))),
                ),
                "indexof" => Value::Int(
                    a.iter()
                        .position(|x| args.first().is_some_and(|y| ops::equals(x, y, true)))
                        .map_or(-1, |p| p as i32),
                ),
                "getvalue" => index(&v, args.first().unwrap_or(&Value::Null)),
                _ => {
                    // Method enumeration: call on each element.
                    let mut out = Vec::new();
                    for x in a.clone() {
                        out.push(self.method(x, name, args.clone())?);
                    }
                    Value::Array(out)
                }
            }),
            Value::Hashtable(h) => {
                let mut h = h.clone();
                Ok(match lname.as_str() {
                    "containskey" | "contains" => {
                        Value::Bool(args.first().is_some_and(|k| h.get_value(k).is_some()))
                    }
                    "containsvalue" => {
                        Value::Bool(args.first().is_some_and(|x| {
                            h.entries().iter().any(|(_, v)| ops::equals(v, x, true))
                        }))
                    }
                    "clone" => Value::Hashtable(h),
                    _ => {
                        let _ = &mut h;
                        return Err(not_found(&v));
                    }
                })
            }
            Value::DateTime(d) => {
                let f = args.first().and_then(Value::as_f64).unwrap_or(0.0);
                let add =
                    |ticks_per: f64| Value::DateTime(d.add_ticks((f * ticks_per).round() as i64));
                let tps = TICKS_PER_SECOND as f64;
                Ok(match lname.as_str() {
                    "adddays" => add(86_400.0 * tps),
                    "addhours" => add(3600.0 * tps),
                    "addminutes" => add(60.0 * tps),
                    "addseconds" => add(tps),
                    "addmilliseconds" => add(tps / 1000.0),
                    "addticks" => add(1.0),
                    "touniversaltime" => Value::DateTime(d.to_utc()),
                    "tolocaltime" => Value::DateTime(d.to_utc().add_ticks(
                        i64::from(self.rs.ctx.utc_offset_minutes) * 60 * TICKS_PER_SECOND,
                    ))
                    .clone(),
                    "toshortdatestring" => Value::String(d.format("M/d/yyyy")),
                    "tolongdatestring" => Value::String(d.format("dddd, MMMM d, yyyy")),
                    "toshorttimestring" => Value::String(d.format("h:mm tt")),
                    "tofiletime" => Value::Long(d.to_utc().ticks - 504_911_232_000_000_000),
                    _ => return Err(not_found(&v)),
                })
            }
            Value::ScriptBlock(_) if lname == "invoke" || lname == "invokereturnasis" => {
                self.invoke_scriptblock_value(&v, None, args)
            }
            Value::Object(o) if o.type_name() == "System.RuntimeType" && lname == "getname" => {
                Ok(o.get("Name").cloned().unwrap_or(Value::Null))
            }
            _ => Err(not_found(&v)),
        }
    }

    fn static_member(&mut self, t: &str, name: &str) -> R<Value> {
        let t = ops::normalize_type(t);
        let n = name.to_ascii_lowercase();
        let now = || DateTime::from_system_time(self.host.now(), self.rs.ctx.utc_offset_minutes);
        Ok(match (t.as_str(), n.as_str()) {
            ("datetime", "now") => Value::DateTime(now()),
            ("datetime", "utcnow") => Value::DateTime(now().to_utc()),
            ("datetime", "today") => {
                let (y, m, d) = now().date();
                Value::DateTime(DateTime::from_civil(
                    y,
                    m,
                    d,
                    0,
                    0,
                    0,
                    self.rs.ctx.utc_offset_minutes,
                ))
            }
            ("math", "pi") => Value::Double(std::f64::consts::PI),
            ("math", "e") => Value::Double(std::f64::consts::E),
            ("int", "maxvalue") => Value::Int(i32::MAX),
            ("int", "minvalue") => Value::Int(i32::MIN),
            ("long", "maxvalue") => Value::Long(i64::MAX),
            ("long", "minvalue") => Value::Long(i64::MIN),
            ("double", "maxvalue") => Value::Double(f64::MAX),
            ("string", "empty") => Value::String(String::new()),
            ("environment", "machinename") => Value::String(self.rs.ctx.computer_name.clone()),
            ("environment", "username") => Value::String(self.rs.ctx.user_name.clone()),
            ("environment", "userdomainname") => Value::String(self.rs.ctx.user_domain.clone()),
            ("environment", "newline") => Value::String("\r\n".to_owned()),
            ("environment", "osversion") => {
                Value::String(format!("Microsoft Windows NT {}", self.rs.ctx.os_version))
            }
            ("environment", "processorcount") => Value::Int(2),
            ("environment", "is64bitprocess" | "is64bitoperatingsystem") => Value::Bool(true),
            ("guid", "empty") => Value::Guid(uuid::Uuid::nil()),
            _ => {
                return Err(runtime_error(
                    format!("Unable to find type [{t}]::{name} in the emulator's subset."),
                    ErrorCategory::InvalidOperation,
                    "TypeNotFound",
                )
                .into());
            }
        })
    }

    fn static_method(&mut self, t: &str, name: &str, args: &[Value]) -> R<Value> {
        let t = ops::normalize_type(t);
        let n = name.to_ascii_lowercase();
        let f = |i: usize| args.get(i).and_then(Value::as_f64).unwrap_or(0.0);
        let num = |d: f64| {
            if d.fract() == 0.0 && d.abs() < 2e9 && !matches!(args.first(), Some(Value::Double(_)))
            {
                Value::Int(d as i32)
            } else {
                Value::Double(d)
            }
        };
        Ok(match (t.as_str(), n.as_str()) {
            ("math", "round") => {
                let digits = args.get(1).and_then(Value::as_i64).unwrap_or(0) as i32;
                let m = 10f64.powi(digits);
                Value::Double(super::value::round_half_even(f(0) * m) / m)
            }
            ("math", "floor") => Value::Double(f(0).floor()),
            ("math", "ceiling") => Value::Double(f(0).ceil()),
            ("math", "truncate") => Value::Double(f(0).trunc()),
            ("math", "abs") => num(f(0).abs()),
            ("math", "sqrt") => Value::Double(f(0).sqrt()),
            ("math", "pow") => Value::Double(f(0).powf(f(1))),
            ("math", "max") => {
                let (a, b) = (
                    args.first().cloned().unwrap_or(Value::Null),
                    args.get(1).cloned().unwrap_or(Value::Null),
                );
                if ops::compare(&a, &b, false) == Some(std::cmp::Ordering::Less) {
                    b
                } else {
                    a
                }
            }
            ("math", "min") => {
                let (a, b) = (
                    args.first().cloned().unwrap_or(Value::Null),
                    args.get(1).cloned().unwrap_or(Value::Null),
                );
                if ops::compare(&a, &b, false) == Some(std::cmp::Ordering::Greater) {
                    b
                } else {
                    a
                }
            }
            ("guid", "newguid") => Value::Guid(self.rs.next_guid()),
            ("string", "join") => {
                let sep = args.first().map(ToString::to_string).unwrap_or_default();
                let items: Vec<String> = args
                    .iter()
                    .skip(1)
                    .flat_map(|a| a.clone().into_items())
                    .map(|x| x.to_string())
                    .collect();
                Value::String(items.join(&sep))
            }
            ("string", "isnullorempty") => {
                Value::Bool(args.first().is_none_or(|a| a.to_string().is_empty()))
            }
            ("string", "isnullorwhitespace") => {
                Value::Bool(args.first().is_none_or(|a| a.to_string().trim().is_empty()))
            }
            ("string", "format") => {
                let fmt = args.first().map(ToString::to_string).unwrap_or_default();
                let rest: Vec<Value> = match args.get(1..) {
                    Some([Value::Array(a)]) => a.clone(),
                    Some(r) => r.to_vec(),
                    None => Vec::new(),
                };
                Value::String(ops::format_string(&fmt, &rest)?)
            }
            ("datetime", "parse") => ops::cast(
                "datetime",
                args.first().cloned().unwrap_or(Value::Null),
                self.rs.ctx.utc_offset_minutes,
            )?,
            ("timespan", "fromseconds") => Value::TimeSpan(TimeSpan {
                ticks: (f(0) * TICKS_PER_SECOND as f64) as i64,
            }),
            ("timespan", "fromminutes") => Value::TimeSpan(TimeSpan {
                ticks: (f(0) * 60.0 * TICKS_PER_SECOND as f64) as i64,
            }),
            ("timespan", "frommilliseconds") => Value::TimeSpan(TimeSpan {
                ticks: (f(0) * 10_000.0) as i64,
            }),
            ("scriptblock", "create") => {
                let text = args.first().map(ToString::to_string).unwrap_or_default();
                let ast = super::parser::parse_script(&text)
                    .map_err(|e| Flow::from(parse_error_record(&e)))?;
                Value::ScriptBlock(ScriptBlock { text, ast })
            }
            ("environment", "getenvironmentvariable") => self
                .get_var(&format!(
                    "env:{}",
                    args.first().map(ToString::to_string).unwrap_or_default()
                ))
                .unwrap_or(Value::Null),
            ("convert", "tobase64string") => Value::String(base64_of(args.first())),
            ("int" | "long" | "double", "parse") => {
                ops::cast(&t, args.first().cloned().unwrap_or(Value::Null), 0)?
            }
            _ => {
                return Err(runtime_error(format!("Method invocation failed because [{t}] does not contain a method named '{name}'."), ErrorCategory::InvalidOperation, "MethodNotFound").into());
            }
        })
    }
}

/// `$h.Add(k, v)`, `$h.Remove(k)`, `$h.Clear()`, `$list.Add(x)` on a value held in a variable
/// or property: the updated container, or `None` when this is not such a call.
fn mutate_in_place(v: &Value, name: &str, args: &[Value]) -> R<Option<Value>> {
    let lname = name.to_ascii_lowercase();
    match (v, lname.as_str()) {
        (Value::Hashtable(h), "add") => {
            let (Some(k), Some(val)) = (args.first(), args.get(1)) else {
                return Ok(None);
            };
            if h.get_value(k).is_some() {
                return Err(runtime_error(
                    format!("Exception calling \"Add\" with \"2\" argument(s): \"Item has already been added. Key in dictionary: '{k}'  Key being added: '{k}'\""),
                    ErrorCategory::NotSpecified,
                    "ArgumentException",
                )
                .into());
            }
            let mut h = h.clone();
            h.insert(k.clone(), val.clone());
            Ok(Some(Value::Hashtable(h)))
        }
        (Value::Hashtable(h), "remove") => {
            let mut h = h.clone();
            if let Some(k) = args.first() {
                h.remove(k);
            }
            Ok(Some(Value::Hashtable(h)))
        }
        (Value::Hashtable(h), "clear") => {
            let mut empty = Hashtable::new();
            empty.ordered = h.ordered;
            Ok(Some(Value::Hashtable(empty)))
        }
        (Value::Array(a), "add") => {
            let mut a = a.clone();
            a.extend(args.first().cloned());
            Ok(Some(Value::Array(a)))
        }
        _ => Ok(None),
    }
}

fn base64_of(v: Option<&Value>) -> String {
    use base64::Engine;
    let bytes: Vec<u8> = match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_i64)
            .map(|b| b as u8)
            .collect(),
        Some(other) => other.to_string().into_bytes(),
        None => Vec::new(),
    };
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `$x[i]`: arrays (negative from the end, out of range is `$null`, an index list slices),
/// strings (a char), hashtables (a key).
pub(crate) fn index(v: &Value, i: &Value) -> Value {
    match (v, i) {
        (Value::Hashtable(h), _) => h
            .get_value(i)
            .cloned()
            .or_else(|| h.get(&i.to_string()).cloned())
            .unwrap_or(Value::Null),
        (Value::Object(o), _) => o.get(&i.to_string()).cloned().unwrap_or(Value::Null),
        (_, Value::Array(idx)) => Value::Array(
            idx.iter()
                .map(|x| index(v, x))
                .filter(|x| !matches!(x, Value::Null))
                .collect(),
        ),
        (Value::Array(a), _) => {
            let n = i.as_i64().unwrap_or(0);
            let n = if n < 0 { n + a.len() as i64 } else { n };
            if n < 0 {
                Value::Null
            } else {
                a.get(n as usize).cloned().unwrap_or(Value::Null)
            }
        }
        (Value::String(s), _) => {
            let chars: Vec<char> = s.chars().collect();
            let n = i.as_i64().unwrap_or(0);
            let n = if n < 0 { n + chars.len() as i64 } else { n };
            if n < 0 {
                Value::Null
            } else {
                chars
                    .get(n as usize)
                    .map_or(Value::Null, |c| Value::Char(*c))
            }
        }
        (Value::Null, _) => Value::Null,
        (other, _) => match i.as_i64() {
            Some(0) | Some(-1) => other.clone(),
            _ => Value::Null,
        },
    }
}

/// A `[type]` literal as a value (`System.RuntimeType` with Name/FullName).
pub(crate) fn type_object(t: &str) -> Value {
    let full = match ops::normalize_type(t).as_str() {
        "int" => "System.Int32".to_owned(),
        "long" => "System.Int64".to_owned(),
        "double" => "System.Double".to_owned(),
        "string" => "System.String".to_owned(),
        "bool" => "System.Boolean".to_owned(),
        "char" => "System.Char".to_owned(),
        "datetime" => "System.DateTime".to_owned(),
        "timespan" => "System.TimeSpan".to_owned(),
        "guid" => "System.Guid".to_owned(),
        "array" => "System.Object[]".to_owned(),
        "hashtable" => "System.Collections.Hashtable".to_owned(),
        "pscustomobject" => "System.Management.Automation.PSCustomObject".to_owned(),
        "scriptblock" => "System.Management.Automation.ScriptBlock".to_owned(),
        _ => t.to_owned(),
    };
    let name = full.rsplit('.').next().unwrap_or(&full).to_owned();
    Value::Object(Box::new(PsObject {
        to_string: Some(full.clone()),
        ..PsObject::typed("System.RuntimeType")
            .with("Name", Value::String(name))
            .with("FullName", Value::String(full))
    }))
}

fn script_switch(sb: &ScriptBlockAst, name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    sb.params.iter().any(|p| {
        p.type_name.as_deref() == Some("switch") && p.name.to_ascii_lowercase().starts_with(&n)
    })
}

fn split_scope(name: &str) -> (Option<String>, &str) {
    match name.split_once(':') {
        Some((s, rest)) if !rest.is_empty() => (Some(s.to_ascii_lowercase()), rest),
        _ => (None, name),
    }
}

fn catch_matches(t: &str, rec: &ErrorRecord) -> bool {
    let t = t.trim().to_ascii_lowercase();
    let t = t.strip_prefix("system.").unwrap_or(&t);
    if matches!(t, "exception" | "systemexception") {
        return true;
    }
    let full = rec.exception_type.to_ascii_lowercase();
    let short = rec.exception_name().to_ascii_lowercase();
    if full.ends_with(t) || short == t {
        return true;
    }
    // Every management.automation exception the engine raises derives from RuntimeException.
    (t == "management.automation.runtimeexception" || t == "runtimeexception")
        && full.starts_with("system.management.automation.")
}

/// The ErrorRecord for a syntax error.
pub fn parse_error_record(e: &super::parser::ParseError) -> ErrorRecord {
    ErrorRecord::new(
        "System.Management.Automation.ParseException",
        e.message.clone(),
        ErrorCategory::ParserError,
    )
    .with_id(e.id)
}
