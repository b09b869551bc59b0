//! The syntax tree of the PowerShell subset.

use std::sync::Arc;

use super::value::Value;

/// A parsed script or script block body.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptBlockAst {
    /// `param(...)` declarations.
    pub params: Vec<Param>,
    /// `begin {}` statements (filters and advanced script blocks); empty otherwise.
    pub begin: Vec<Stmt>,
    /// The body (`process {}` when begin/end blocks are used).
    pub body: Vec<Stmt>,
    /// `end {}` statements.
    pub end: Vec<Stmt>,
    /// Whether `begin`/`process`/`end` blocks were written (the body is then `process`).
    pub named_blocks: bool,
    /// The full source text the positions refer to.
    pub source: Arc<str>,
}

/// A `param()` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Name without `$`.
    pub name: String,
    /// Type constraint, lowercase, if any.
    pub type_name: Option<String>,
    /// Default value expression.
    pub default: Option<Expr>,
    /// `[Parameter(ValueFromPipeline)]`: bound to each pipeline item in `process`.
    pub from_pipeline: bool,
}

/// A statement, with the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    /// What the statement does.
    pub kind: StmtKind,
    /// Byte offset in the source.
    pub offset: usize,
}

/// Statement kinds.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum StmtKind {
    Pipeline(Pipeline),
    Assign {
        target: Expr,
        op: AssignOp,
        value: Box<Stmt>,
    },
    If {
        clauses: Vec<(Pipeline, Vec<Stmt>)>,
        else_body: Option<Vec<Stmt>>,
    },
    While {
        label: Option<String>,
        cond: Pipeline,
        body: Vec<Stmt>,
    },
    DoLoop {
        label: Option<String>,
        body: Vec<Stmt>,
        cond: Pipeline,
        until: bool,
    },
    For {
        label: Option<String>,
        init: Option<Box<Stmt>>,
        cond: Option<Pipeline>,
        step: Option<Box<Stmt>>,
        body: Vec<Stmt>,
    },
    Foreach {
        label: Option<String>,
        var: String,
        iter: Pipeline,
        body: Vec<Stmt>,
    },
    Switch {
        label: Option<String>,
        subject: Pipeline,
        wildcard: bool,
        regex: bool,
        case_sensitive: bool,
        clauses: Vec<(SwitchCond, Vec<Stmt>)>,
        default: Option<Vec<Stmt>>,
    },
    Function {
        name: String,
        body: Arc<ScriptBlockAst>,
        filter: bool,
    },
    Break(Option<String>),
    Continue(Option<String>),
    Return(Option<Pipeline>),
    Exit(Option<Pipeline>),
    Throw(Option<Pipeline>),
    Try {
        body: Vec<Stmt>,
        catches: Vec<(Vec<String>, Vec<Stmt>)>,
        finally: Option<Vec<Stmt>>,
    },
    Block(Vec<Stmt>),
}

/// A `switch` clause condition.
#[derive(Debug, Clone, PartialEq)]
pub enum SwitchCond {
    /// A value (compared with -eq, -like or -match).
    Value(Expr),
    /// A script block evaluated with `$_` set.
    Script(Expr),
}

/// Assignment operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum AssignOp {
    Assign,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// A pipeline: one or more elements separated by `|`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// The elements.
    pub elements: Vec<PipeElement>,
    /// Byte offset in the source.
    pub offset: usize,
}

/// A pipeline element.
#[derive(Debug, Clone, PartialEq)]
pub enum PipeElement {
    /// An expression (only valid first).
    Expr(Expr),
    /// A command invocation.
    Command(CommandCall),
}

/// A command invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandCall {
    /// The command name, or an expression for `& $sb`.
    pub name: CommandName,
    /// Arguments in order.
    pub args: Vec<CommandArg>,
    /// Redirections such as `2>&1` or `> $null`.
    pub redirections: Vec<Redirection>,
    /// Byte offset of the command name.
    pub offset: usize,
    /// Length of the command name text.
    pub name_len: usize,
    /// `.` dot-source invocation (runs in the caller's scope).
    pub dot_source: bool,
}

/// A command's name.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandName {
    /// A bare or quoted name.
    Name(String),
    /// `& <expr>`.
    Expr(Box<Expr>),
}

/// A command argument.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandArg {
    /// `-Name` or `-Name:value`.
    Named(String, Option<Expr>),
    /// A positional value.
    Positional(Expr),
}

/// A stream redirection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redirection {
    /// `N>&1`: stream N (2..6, or all for `*`) merged into output.
    Merge(u8),
    /// `N> $null` / `N> file`: stream N discarded (1 = output).
    Discard(u8),
}

/// Expressions.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum Expr {
    Literal(Value),
    Expandable(Vec<StrPart>),
    Variable(String),
    ArrayLiteral(Vec<Expr>),
    ArraySub(Vec<Stmt>),
    SubExpr(Vec<Stmt>),
    Paren(Box<Stmt>),
    Hashtable(Vec<(Expr, Stmt)>),
    ScriptBlock(Arc<ScriptBlockAst>, String),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Unary(UnOp, Box<Expr>),
    Cast(String, Box<Expr>),
    TypeLit(String),
    Member {
        target: Box<Expr>,
        name: Box<Expr>,
        is_static: bool,
    },
    Invoke {
        target: Box<Expr>,
        name: Box<Expr>,
        args: Vec<Expr>,
        is_static: bool,
    },
    Index(Box<Expr>, Box<Expr>),
    IncDec {
        target: Box<Expr>,
        delta: i32,
        prefix: bool,
    },
}

/// A part of a double-quoted string.
#[derive(Debug, Clone, PartialEq)]
pub enum StrPart {
    /// Literal text.
    Text(String),
    /// `$name` or `${name}`.
    Var(String),
    /// `$( ... )`.
    Sub(Vec<Stmt>),
}

/// Binary operators; `case_sensitive` variants come from the `-c` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Range,
    Format,
    And,
    Or,
    Xor,
    BAnd,
    BOr,
    BXor,
    Shl,
    Shr,
    Cmp(CmpOp, bool),
    Is(bool),
    As,
}

/// Comparison-level operators (`bool` in `BinOp::Cmp` is case sensitivity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Like,
    NotLike,
    Match,
    NotMatch,
    Contains,
    NotContains,
    In,
    NotIn,
    Replace,
    Split,
    Join,
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum UnOp {
    Not,
    Neg,
    Plus,
    BNot,
    Join,
    Split,
    Comma,
}
