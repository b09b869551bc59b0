//! Recursive-descent parser for the PowerShell subset, over [`Cursor`].

use std::sync::Arc;

use super::ast::*;
use super::lexer::{Cursor, DashOp, is_word_char};
use super::value::{Value, parse_number};

/// A syntax error, reported as a `ParseException` with category `ParserError`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// PowerShell's message text.
    pub message: String,
    /// PowerShell's error id (`MissingEndCurlyBrace`, `UnexpectedToken` …).
    pub id: &'static str,
    /// Char offset in the source.
    pub offset: usize,
}

type PResult<T> = Result<T, ParseError>;

/// Parses a whole script.
///
/// # Errors
///
/// A [`ParseError`] for anything outside the supported grammar.
pub fn parse_script(src: &str) -> PResult<Arc<ScriptBlockAst>> {
    let source: Arc<str> = Arc::from(src);
    let mut p = Parser {
        c: Cursor::new(src),
        source,
        no_comma: false,
        depth: 0,
    };
    let ast = p.script_block_body(None)?;
    if !p.c.at_end() {
        return Err(p.unexpected());
    }
    Ok(Arc::new(ast))
}

struct Parser {
    c: Cursor,
    source: Arc<str>,
    no_comma: bool,
    depth: usize,
}

impl Parser {
    fn err(&self, id: &'static str, message: impl Into<String>) -> ParseError {
        ParseError {
            message: message.into(),
            id,
            offset: self.c.pos,
        }
    }

    fn unexpected(&self) -> ParseError {
        let mut tok = String::new();
        let mut i = 0;
        while let Some(ch) = self.c.peek_at(i) {
            if ch.is_whitespace() || (i > 0 && !is_word_char(ch)) {
                break;
            }
            tok.push(ch);
            i += 1;
        }
        self.err(
            "UnexpectedToken",
            format!("Unexpected token '{tok}' in expression or statement."),
        )
    }

    fn expect(&mut self, ch: char, id: &'static str, msg: &str) -> PResult<()> {
        if self.c.peek() == Some(ch) {
            self.c.bump(1);
            Ok(())
        } else {
            Err(self.err(id, msg))
        }
    }

    /// Parses `[param(...)] [begin/process/end blocks | statements]` up to `end` (or EOF).
    fn script_block_body(&mut self, end: Option<char>) -> PResult<ScriptBlockAst> {
        self.c.skip_ws_nl();
        let mut params = Vec::new();
        self.skip_param_block_attributes();
        if self.c.at_keyword("param") {
            let save = self.c.pos;
            self.c.bump(5);
            self.c.skip_ws_nl();
            if self.c.peek() == Some('(') {
                self.c.bump(1);
                params = self.param_list(')')?;
            } else {
                self.c.pos = save;
            }
        }
        let mut begin = Vec::new();
        let mut end_block = Vec::new();
        let body;
        let mut named_blocks = false;
        self.c.skip_ws_nl();
        if ["begin", "process", "end"]
            .iter()
            .any(|k| self.c.at_keyword(k))
            && self.named_block_follows()
        {
            let mut process = Vec::new();
            named_blocks = true;
            loop {
                self.c.skip_ws_nl();
                let slot = if self.c.at_keyword("begin") {
                    self.c.bump(5);
                    &mut begin
                } else if self.c.at_keyword("process") {
                    self.c.bump(7);
                    &mut process
                } else if self.c.at_keyword("end") {
                    self.c.bump(3);
                    &mut end_block
                } else {
                    break;
                };
                self.c.skip_ws_nl();
                *slot = self.block()?;
            }
            body = process;
        } else {
            body = self.statements(end)?;
        }
        self.c.skip_ws_nl();
        Ok(ScriptBlockAst {
            params,
            begin,
            body,
            end: end_block,
            named_blocks,
            source: self.source.clone(),
        })
    }

    /// Skips `[CmdletBinding()]`-style attributes when a `param(` block follows them (otherwise
    /// the brackets are a cast or type literal and stay for the statement parser).
    fn skip_param_block_attributes(&mut self) {
        let save = self.c.pos;
        let mut any = false;
        while self.c.peek() == Some('[') {
            if self.type_text().is_err() {
                self.c.pos = save;
                return;
            }
            any = true;
            self.c.skip_ws_nl();
        }
        if any && !self.c.at_keyword("param") {
            self.c.pos = save;
        }
    }

    fn named_block_follows(&self) -> bool {
        let mut c = self.c.clone();
        c.read_ident();
        c.skip_ws_nl();
        c.peek() == Some('{')
    }

    fn param_list(&mut self, close: char) -> PResult<Vec<Param>> {
        let mut params = Vec::new();
        loop {
            self.c.skip_ws_nl();
            if self.c.peek() == Some(close) {
                self.c.bump(1);
                return Ok(params);
            }
            let mut type_name = None;
            let mut from_pipeline = false;
            while self.c.peek() == Some('[') {
                let t = self.type_text()?;
                if t.contains('(') {
                    from_pipeline |= attribute_takes_pipeline(&t);
                } else {
                    type_name = Some(t.to_ascii_lowercase());
                }
                self.c.skip_ws_nl();
            }
            self.expect(
                '$',
                "InvalidFunctionParameter",
                "Parameter declarations are a comma-separated list of variable names.",
            )?;
            let name = self.c.read_variable_name().ok_or_else(|| {
                self.err("InvalidVariableReference", "Invalid variable reference.")
            })?;
            self.c.skip_ws_nl();
            let default = if self.c.peek() == Some('=') {
                self.c.bump(1);
                self.c.skip_ws_nl();
                let save = self.no_comma;
                self.no_comma = true;
                let e = self.expr()?;
                self.no_comma = save;
                Some(e)
            } else {
                None
            };
            params.push(Param {
                name,
                type_name,
                default,
                from_pipeline,
            });
            self.c.skip_ws_nl();
            match self.c.peek() {
                Some(',') => self.c.bump(1),
                Some(ch) if ch == close => {}
                _ => {
                    return Err(self.err(
                        "MissingEndParenthesisInFunctionParameterList",
                        "Missing ')' in function parameter list.",
                    ));
                }
            }
        }
    }

    fn block(&mut self) -> PResult<Vec<Stmt>> {
        self.c.skip_ws_nl();
        if self.c.peek() != Some('{') {
            return Err(self.err("MissingOpenBraceInStatement", "Missing statement block."));
        }
        self.c.bump(1);
        let body = self.statements(Some('}'))?;
        self.expect(
            '}',
            "MissingEndCurlyBrace",
            "Missing closing '}' in statement block or type definition.",
        )?;
        Ok(body)
    }

    fn statements(&mut self, end: Option<char>) -> PResult<Vec<Stmt>> {
        let mut out = Vec::new();
        loop {
            self.c.skip_ws_nl();
            while self.c.peek() == Some(';') {
                self.c.bump(1);
                self.c.skip_ws_nl();
            }
            match self.c.peek() {
                None => {
                    if end.is_some() {
                        let (id, msg) = match end {
                            Some(')') => (
                                "MissingEndParenthesisInExpression",
                                "Missing closing ')' in expression.",
                            ),
                            _ => (
                                "MissingEndCurlyBrace",
                                "Missing closing '}' in statement block or type definition.",
                            ),
                        };
                        return Err(self.err(id, msg));
                    }
                    return Ok(out);
                }
                Some(ch) if Some(ch) == end => return Ok(out),
                Some(')' | '}') => return Err(self.unexpected()),
                _ => {}
            }
            let stmt = self.statement()?;
            out.push(stmt);
            self.c.skip_ws();
            match self.c.peek() {
                None | Some('\n' | '\r' | ';') => {}
                Some(ch) if Some(ch) == end => {}
                _ => return Err(self.unexpected()),
            }
        }
    }

    fn statement(&mut self) -> PResult<Stmt> {
        self.nested(Self::statement_inner)
    }

    /// Runs `f` one nesting level deeper; nesting is bounded so hostile input cannot overflow
    /// the stack.
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.depth >= MAX_NESTING {
            return Err(self.err("ScriptTooDeeplyNested", "The script is nested too deeply."));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn statement_inner(&mut self) -> PResult<Stmt> {
        let offset = self.c.pos;
        let mut label = None;
        if self.c.peek() == Some(':') && self.c.peek_at(1).is_some_and(char::is_alphabetic) {
            self.c.bump(1);
            label = Some(self.c.read_ident());
            self.c.skip_ws_nl();
        }
        let kind = if self.c.at_keyword("if") {
            self.c.bump(2);
            self.if_stmt()?
        } else if self.c.at_keyword("while") {
            self.c.bump(5);
            let cond = self.paren_pipeline()?;
            let body = self.block()?;
            StmtKind::While { label, cond, body }
        } else if self.c.at_keyword("do") {
            self.c.bump(2);
            let body = self.block()?;
            self.c.skip_ws_nl();
            let until = if self.c.at_keyword("while") {
                self.c.bump(5);
                false
            } else if self.c.at_keyword("until") {
                self.c.bump(5);
                true
            } else {
                return Err(self.err(
                    "MissingWhileOrUntilInDoWhile",
                    "Missing while or until keyword in do loop.",
                ));
            };
            let cond = self.paren_pipeline()?;
            StmtKind::DoLoop {
                label,
                body,
                cond,
                until,
            }
        } else if self.c.at_keyword("for") {
            self.c.bump(3);
            self.for_stmt(label)?
        } else if self.c.at_keyword("foreach") && self.keyword_then_paren(7) {
            self.c.bump(7);
            self.c.skip_ws();
            self.expect(
                '(',
                "MissingOpenParenthesisAfterKeyword",
                "Missing opening '(' after keyword 'foreach'.",
            )?;
            self.c.skip_ws_nl();
            self.expect(
                '$',
                "MissingVariableNameAfterForeach",
                "Missing variable name after foreach.",
            )?;
            let var = self.c.read_variable_name().unwrap_or_default();
            self.c.skip_ws_nl();
            if !self.c.at_keyword("in") {
                return Err(self.err(
                    "MissingInInForeach",
                    "Missing 'in' after variable in foreach loop.",
                ));
            }
            self.c.bump(2);
            self.c.skip_ws_nl();
            let iter = self.pipeline()?;
            self.c.skip_ws_nl();
            self.expect(
                ')',
                "MissingEndParenthesisAfterForeach",
                "Missing closing ')' after expression in 'foreach' statement.",
            )?;
            let body = self.block()?;
            StmtKind::Foreach {
                label,
                var,
                iter,
                body,
            }
        } else if self.c.at_keyword("switch") {
            self.c.bump(6);
            self.switch_stmt(label)?
        } else if self.c.at_keyword("function") || self.c.at_keyword("filter") {
            let filter = self.c.at_keyword("filter");
            self.c.bump(if filter { 6 } else { 8 });
            self.c.skip_ws();
            let name = self.c.read_command_name();
            if name.is_empty() {
                return Err(self.err(
                    "MissingNameAfterKeyword",
                    "Missing name after function keyword.",
                ));
            }
            self.c.skip_ws_nl();
            let mut pre_params = None;
            if self.c.peek() == Some('(') {
                self.c.bump(1);
                pre_params = Some(self.param_list(')')?);
                self.c.skip_ws_nl();
            }
            self.expect(
                '{',
                "MissingFunctionBody",
                "Missing function body in function declaration.",
            )?;
            let mut body = self.script_block_body(Some('}'))?;
            self.expect(
                '}',
                "MissingEndCurlyBrace",
                "Missing closing '}' in statement block or type definition.",
            )?;
            if let Some(p) = pre_params {
                body.params = p;
            }
            StmtKind::Function {
                name,
                body: Arc::new(body),
                filter,
            }
        } else if self.c.at_keyword("break") || self.c.at_keyword("continue") {
            let is_break = self.c.at_keyword("break");
            self.c.bump(if is_break { 5 } else { 8 });
            self.c.skip_ws();
            let lbl = if self.c.peek().is_some_and(char::is_alphabetic) {
                Some(self.c.read_ident())
            } else {
                None
            };
            if is_break {
                StmtKind::Break(lbl)
            } else {
                StmtKind::Continue(lbl)
            }
        } else if self.c.at_keyword("return") {
            self.c.bump(6);
            StmtKind::Return(self.optional_pipeline()?)
        } else if self.c.at_keyword("exit") {
            self.c.bump(4);
            StmtKind::Exit(self.optional_pipeline()?)
        } else if self.c.at_keyword("throw") {
            self.c.bump(5);
            StmtKind::Throw(self.optional_pipeline()?)
        } else if self.c.at_keyword("try") {
            self.c.bump(3);
            self.try_stmt()?
        } else if let Some(l) = label {
            return Err(self.err(
                "UnexpectedToken",
                format!("Unexpected token ':{l}' in expression or statement."),
            ));
        } else {
            return self.assignment_or_pipeline();
        };
        Ok(Stmt { kind, offset })
    }

    fn keyword_then_paren(&self, len: usize) -> bool {
        let mut c = self.c.clone();
        c.bump(len);
        c.skip_ws();
        c.peek() == Some('(')
    }

    fn optional_pipeline(&mut self) -> PResult<Option<Pipeline>> {
        self.c.skip_ws();
        match self.c.peek() {
            None | Some('\n' | '\r' | ';' | '}' | ')') => Ok(None),
            _ => Ok(Some(self.pipeline()?)),
        }
    }

    fn paren_pipeline(&mut self) -> PResult<Pipeline> {
        self.c.skip_ws_nl();
        self.expect(
            '(',
            "MissingOpenParenthesisInIfStatement",
            "Missing '(' after keyword.",
        )?;
        self.c.skip_ws_nl();
        let p = self.pipeline()?;
        self.c.skip_ws_nl();
        self.expect(
            ')',
            "MissingEndParenthesisAfterStatement",
            "Missing closing ')' after expression.",
        )?;
        Ok(p)
    }

    fn if_stmt(&mut self) -> PResult<StmtKind> {
        let mut clauses = Vec::new();
        let cond = self.paren_pipeline()?;
        let body = self.block()?;
        clauses.push((cond, body));
        let mut else_body = None;
        loop {
            let save = self.c.pos;
            self.c.skip_ws_nl();
            if self.c.at_keyword("elseif") {
                self.c.bump(6);
                let cond = self.paren_pipeline()?;
                let body = self.block()?;
                clauses.push((cond, body));
            } else if self.c.at_keyword("else") {
                self.c.bump(4);
                else_body = Some(self.block()?);
                break;
            } else {
                self.c.pos = save;
                break;
            }
        }
        Ok(StmtKind::If { clauses, else_body })
    }

    fn for_stmt(&mut self, label: Option<String>) -> PResult<StmtKind> {
        self.c.skip_ws();
        self.expect(
            '(',
            "MissingOpenParenthesisAfterKeyword",
            "Missing opening '(' after keyword 'for'.",
        )?;
        let mut parts: Vec<Option<Stmt>> = Vec::new();
        for term in [';', ';', ')'] {
            self.c.skip_ws_nl();
            if self.c.peek() == Some(term) {
                parts.push(None);
            } else {
                parts.push(Some(self.statement()?));
                self.c.skip_ws_nl();
            }
            self.expect(
                term,
                "MissingEndParenthesisAfterStatement",
                "Missing closing ')' after expression in 'for' statement.",
            )?;
        }
        let body = self.block()?;
        let mut it = parts.into_iter();
        let init = it.next().flatten().map(Box::new);
        let cond = it.next().flatten().map(|s| match s.kind {
            StmtKind::Pipeline(p) => p,
            other => Pipeline {
                elements: vec![PipeElement::Expr(Expr::Paren(Box::new(Stmt {
                    kind: other,
                    offset: s.offset,
                })))],
                offset: s.offset,
            },
        });
        let step = it.next().flatten().map(Box::new);
        Ok(StmtKind::For {
            label,
            init,
            cond,
            step,
            body,
        })
    }

    fn switch_stmt(&mut self, label: Option<String>) -> PResult<StmtKind> {
        let (mut wildcard, mut regex, mut cs) = (false, false, false);
        loop {
            self.c.skip_ws();
            if self.c.peek() != Some('-') {
                break;
            }
            self.c.bump(1);
            let w = self.c.read_ident().to_ascii_lowercase();
            match w.as_str() {
                "wildcard" => wildcard = true,
                "regex" => regex = true,
                "casesensitive" => cs = true,
                "exact" => {}
                _ => {
                    return Err(self.err(
                        "InvalidSwitchFlag",
                        format!("The switch parameter '-{w}' is not supported."),
                    ));
                }
            }
        }
        let subject = self.paren_pipeline()?;
        self.c.skip_ws_nl();
        self.expect(
            '{',
            "MissingCurlyBraceInSwitchStatement",
            "Missing '{' in switch statement.",
        )?;
        let mut clauses = Vec::new();
        let mut default = None;
        loop {
            self.c.skip_ws_nl();
            while self.c.peek() == Some(';') {
                self.c.bump(1);
                self.c.skip_ws_nl();
            }
            match self.c.peek() {
                Some('}') => {
                    self.c.bump(1);
                    break;
                }
                None => {
                    return Err(self.err(
                        "MissingEndCurlyBrace",
                        "Missing closing '}' in statement block or type definition.",
                    ));
                }
                _ => {}
            }
            if self.c.at_keyword("default") {
                self.c.bump(7);
                default = Some(self.block()?);
                continue;
            }
            let cond = match self.c.peek() {
                Some('{') => SwitchCond::Script(self.primary()?),
                Some(ch) if ch.is_alphabetic() => {
                    SwitchCond::Value(Expr::Literal(Value::String(self.c.read_bare_word())))
                }
                _ => {
                    let save = self.no_comma;
                    self.no_comma = true;
                    let e = self.prefix()?;
                    self.no_comma = save;
                    SwitchCond::Value(e)
                }
            };
            let body = self.block()?;
            clauses.push((cond, body));
        }
        Ok(StmtKind::Switch {
            label,
            subject,
            wildcard,
            regex,
            case_sensitive: cs,
            clauses,
            default,
        })
    }

    fn try_stmt(&mut self) -> PResult<StmtKind> {
        let body = self.block()?;
        let mut catches = Vec::new();
        let mut finally = None;
        loop {
            let save = self.c.pos;
            self.c.skip_ws_nl();
            if self.c.at_keyword("catch") {
                self.c.bump(5);
                let mut types = Vec::new();
                loop {
                    self.c.skip_ws_nl();
                    if self.c.peek() == Some('[') {
                        types.push(self.type_text()?);
                        self.c.skip_ws_nl();
                        if self.c.peek() == Some(',') {
                            self.c.bump(1);
                        }
                    } else {
                        break;
                    }
                }
                catches.push((types, self.block()?));
            } else if self.c.at_keyword("finally") {
                self.c.bump(7);
                finally = Some(self.block()?);
                break;
            } else {
                self.c.pos = save;
                break;
            }
        }
        if catches.is_empty() && finally.is_none() {
            return Err(self.err(
                "MissingCatchOrFinally",
                "The Try statement is missing its Catch or Finally block.",
            ));
        }
        Ok(StmtKind::Try {
            body,
            catches,
            finally,
        })
    }

    fn assignment_or_pipeline(&mut self) -> PResult<Stmt> {
        let offset = self.c.pos;
        let pipeline = self.pipeline()?;
        self.c.skip_ws();
        let op = [
            ("=", AssignOp::Assign),
            ("+=", AssignOp::Add),
            ("-=", AssignOp::Sub),
            ("*=", AssignOp::Mul),
            ("/=", AssignOp::Div),
            ("%=", AssignOp::Rem),
        ]
        .into_iter()
        .find(|(s, _)| self.c.starts_with(s) && !(*s == "=" && self.c.starts_with("==")));
        if let Some((s, op)) = op {
            let target = match pipeline.elements.as_slice() {
                [PipeElement::Expr(e)] if is_assignable(e) => e.clone(),
                _ => return Err(self.err("InvalidLeftHandSide", "The assignment expression is not valid. The input to an assignment operator must be an object that is able to accept assignments, such as a variable or a property.")),
            };
            self.c.bump(s.len());
            self.c.skip_ws_nl();
            let value = self.statement()?;
            return Ok(Stmt {
                kind: StmtKind::Assign {
                    target,
                    op,
                    value: Box::new(value),
                },
                offset,
            });
        }
        Ok(Stmt {
            kind: StmtKind::Pipeline(pipeline),
            offset,
        })
    }

    fn pipeline(&mut self) -> PResult<Pipeline> {
        let offset = self.c.pos;
        let mut elements = vec![self.pipe_element(true)?];
        loop {
            self.c.skip_ws();
            if self.c.peek() == Some('|') && self.c.peek_at(1) != Some('|') {
                self.c.bump(1);
                self.c.skip_ws_nl();
                elements.push(self.pipe_element(false)?);
            } else {
                break;
            }
        }
        Ok(Pipeline { elements, offset })
    }

    fn pipe_element(&mut self, first: bool) -> PResult<PipeElement> {
        self.c.skip_ws();
        let offset = self.c.pos;
        let ch = self
            .c
            .peek()
            .ok_or_else(|| self.err("EmptyPipeElement", "An empty pipe element is not allowed."))?;
        if ch == '&' && self.c.peek_at(1) != Some('&') {
            self.c.bump(1);
            self.c.skip_ws();
            let name = self.command_name_expr()?;
            return self
                .command_args(name, offset, false)
                .map(PipeElement::Command);
        }
        if ch == '.' && self.c.peek_at(1).is_some_and(|c| c == ' ' || c == '\t') {
            self.c.bump(1);
            self.c.skip_ws();
            let name = self.command_name_expr()?;
            return self
                .command_args(name, offset, true)
                .map(PipeElement::Command);
        }
        if ch.is_alphabetic() || ch == '_' || ch == '\\' || (ch == '%' || ch == '?') && !first {
            let name = self.c.read_command_name();
            return self
                .command_args(CommandName::Name(name), offset, false)
                .map(PipeElement::Command);
        }
        if !first {
            return Err(self.err(
                "ExpressionsMustBeFirstInPipeline",
                "Expressions are only allowed as the first element of a pipeline.",
            ));
        }
        let e = self.expr()?;
        self.c.skip_ws();
        Ok(PipeElement::Expr(e))
    }

    fn command_name_expr(&mut self) -> PResult<CommandName> {
        match self.c.peek() {
            Some('\'' | '"') => match self.primary()? {
                Expr::Literal(Value::String(s)) => Ok(CommandName::Name(s)),
                e => Ok(CommandName::Expr(Box::new(e))),
            },
            Some(ch) if ch.is_alphabetic() => Ok(CommandName::Name(self.c.read_command_name())),
            _ => Ok(CommandName::Expr(Box::new(self.postfix()?))),
        }
    }

    fn command_args(
        &mut self,
        name: CommandName,
        offset: usize,
        dot_source: bool,
    ) -> PResult<CommandCall> {
        let name_len = self.c.pos - offset;
        let mut args = Vec::new();
        let mut redirections = Vec::new();
        loop {
            self.c.skip_ws();
            let Some(ch) = self.c.peek() else { break };
            if matches!(ch, '\n' | '\r' | ';' | '|' | ')' | '}') || self.c.starts_with("&&") {
                break;
            }
            if let Some(r) = self.redirection()? {
                redirections.push(r);
                continue;
            }
            if ch == '-'
                && self
                    .c
                    .peek_at(1)
                    .is_some_and(|c| c.is_alphabetic() || c == '_')
            {
                self.c.bump(1);
                let mut pname = String::new();
                while let Some(c) = self
                    .c
                    .peek()
                    .filter(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
                {
                    pname.push(c);
                    self.c.bump(1);
                }
                if self.c.peek() == Some(':') {
                    self.c.bump(1);
                    let v = self.arg_value()?;
                    args.push(CommandArg::Named(pname, Some(v)));
                } else {
                    args.push(CommandArg::Named(pname, None));
                }
                continue;
            }
            let before = self.c.pos;
            let value = self.arg_value()?;
            if self.c.pos == before {
                // Nothing consumed (`gb &`): refuse instead of looping forever.
                return Err(self.unexpected());
            }
            args.push(CommandArg::Positional(value));
        }
        Ok(CommandCall {
            name,
            args,
            redirections,
            offset,
            name_len,
            dot_source,
        })
    }

    fn redirection(&mut self) -> PResult<Option<Redirection>> {
        let (stream, len) = match (self.c.peek(), self.c.peek_at(1)) {
            (Some('>'), _) => (1u8, 0),
            (Some('*'), Some('>')) => (0, 1),
            (Some(d @ '1'..='6'), Some('>')) => (d as u8 - b'0', 1),
            _ => return Ok(None),
        };
        self.c.bump(len + 1);
        if self.c.peek() == Some('>') {
            self.c.bump(1);
        }
        if self.c.starts_with("&1") {
            self.c.bump(2);
            return Ok(Some(Redirection::Merge(stream)));
        }
        self.c.skip_ws();
        // The target ($null or a file name) is discarded: there is no file system.
        let _ = self.arg_value()?;
        Ok(Some(Redirection::Discard(stream)))
    }

    fn arg_value(&mut self) -> PResult<Expr> {
        let first = self.single_arg()?;
        let mut items = vec![first];
        loop {
            let save = self.c.pos;
            self.c.skip_ws();
            if self.c.peek() == Some(',') {
                self.c.bump(1);
                self.c.skip_ws_nl();
                items.push(self.single_arg()?);
            } else {
                self.c.pos = save;
                break;
            }
        }
        if items.len() == 1 {
            Ok(items.pop().unwrap_or(Expr::Literal(Value::Null)))
        } else {
            Ok(Expr::ArrayLiteral(items))
        }
    }

    fn single_arg(&mut self) -> PResult<Expr> {
        match self.c.peek() {
            Some('$' | '(' | '@' | '"' | '\'' | '{') => {
                let save = self.no_comma;
                self.no_comma = true;
                let e = self.postfix();
                self.no_comma = save;
                e
            }
            Some(ch)
                if ch.is_ascii_digit()
                    || (ch == '-' && self.c.peek_at(1).is_some_and(|c| c.is_ascii_digit())) =>
            {
                let word = self.c.read_bare_word();
                Ok(Expr::Literal(
                    parse_number(&word).unwrap_or(Value::String(word)),
                ))
            }
            _ => Ok(Expr::Literal(Value::String(self.c.read_bare_word()))),
        }
    }

    // ---- expressions, lowest precedence first ----

    fn expr(&mut self) -> PResult<Expr> {
        self.binary(0)
    }

    fn binary(&mut self, level: usize) -> PResult<Expr> {
        if level >= LEVELS {
            return self.range();
        }
        let mut lhs = self.binary(level + 1)?;
        loop {
            let save = self.c.pos;
            self.c.skip_ws();
            let Some((op, len)) = self.binary_op_here() else {
                self.c.pos = save;
                return Ok(lhs);
            };
            if op_level(op) != level {
                self.c.pos = save;
                return Ok(lhs);
            }
            self.c.bump(len);
            self.c.skip_ws_nl();
            let rhs = self.binary(level + 1)?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
    }

    fn binary_op_here(&self) -> Option<(BinOp, usize)> {
        match self.c.peek()? {
            '+' if self.c.peek_at(1) != Some('=') && self.c.peek_at(1) != Some('+') => {
                Some((BinOp::Add, 1))
            }
            '-' => match self.c.peek_dash_operator() {
                Some((DashOp::Binary(op), len)) => Some((op, len)),
                Some(_) => None,
                None if self.c.peek_at(1) != Some('=') && self.c.peek_at(1) != Some('-') => {
                    Some((BinOp::Sub, 1))
                }
                None => None,
            },
            '*' if self.c.peek_at(1) != Some('=') && self.c.peek_at(1) != Some('>') => {
                Some((BinOp::Mul, 1))
            }
            '/' if self.c.peek_at(1) != Some('=') => Some((BinOp::Div, 1)),
            '%' if self.c.peek_at(1) != Some('=') => Some((BinOp::Rem, 1)),
            _ => None,
        }
    }

    fn range(&mut self) -> PResult<Expr> {
        let lhs = self.unary()?;
        let save = self.c.pos;
        self.c.skip_ws();
        if self.c.starts_with("..") {
            self.c.bump(2);
            self.c.skip_ws_nl();
            let rhs = self.unary()?;
            return Ok(Expr::Binary(BinOp::Range, Box::new(lhs), Box::new(rhs)));
        }
        self.c.pos = save;
        Ok(lhs)
    }

    fn unary(&mut self) -> PResult<Expr> {
        self.nested(Self::unary_inner)
    }

    fn unary_inner(&mut self) -> PResult<Expr> {
        self.c.skip_ws();
        let ch = self.c.peek();
        if ch == Some('!') {
            self.c.bump(1);
            self.c.skip_ws_nl();
            return Ok(Expr::Unary(UnOp::Not, Box::new(self.unary()?)));
        }
        if ch == Some('-') {
            if let Some((op, len)) = self.c.peek_dash_operator() {
                let un = match op {
                    DashOp::Not => Some(UnOp::Not),
                    DashOp::BNot => Some(UnOp::BNot),
                    DashOp::Binary(BinOp::Cmp(CmpOp::Join, _)) => Some(UnOp::Join),
                    DashOp::Binary(BinOp::Cmp(CmpOp::Split, _)) => Some(UnOp::Split),
                    _ => None,
                };
                if let Some(un) = un {
                    self.c.bump(len);
                    self.c.skip_ws_nl();
                    if self.c.at_end() {
                        return Err(self.err(
                            "MissingExpressionAfterOperator",
                            format!(
                                "Missing expression after unary operator '{}'.",
                                self.c.chars[self.c.pos - len..self.c.pos]
                                    .iter()
                                    .collect::<String>()
                            ),
                        ));
                    }
                    return Ok(Expr::Unary(un, Box::new(self.unary()?)));
                }
            }
            if !self
                .c
                .peek_at(1)
                .is_some_and(|c| c.is_ascii_digit() || c == '.')
                && self.c.peek_at(1) != Some('-')
            {
                self.c.bump(1);
                self.c.skip_ws();
                return Ok(Expr::Unary(UnOp::Neg, Box::new(self.unary()?)));
            }
        }
        if ch == Some('+') && self.c.peek_at(1) != Some('+') {
            self.c.bump(1);
            return Ok(Expr::Unary(UnOp::Plus, Box::new(self.unary()?)));
        }
        if ch == Some(',') {
            self.c.bump(1);
            self.c.skip_ws_nl();
            return Ok(Expr::Unary(UnOp::Comma, Box::new(self.unary()?)));
        }
        self.comma()
    }

    fn comma(&mut self) -> PResult<Expr> {
        let first = self.prefix()?;
        if self.no_comma {
            return Ok(first);
        }
        let mut items = vec![first];
        loop {
            let save = self.c.pos;
            self.c.skip_ws();
            if self.c.peek() == Some(',') {
                self.c.bump(1);
                self.c.skip_ws_nl();
                items.push(self.prefix()?);
            } else {
                self.c.pos = save;
                break;
            }
        }
        if items.len() == 1 {
            Ok(items.pop().unwrap_or(Expr::Literal(Value::Null)))
        } else {
            Ok(Expr::ArrayLiteral(items))
        }
    }

    /// Casts, prefix `++`/`--`, negative number literals, then postfix expressions.
    fn prefix(&mut self) -> PResult<Expr> {
        self.c.skip_ws();
        if self.c.starts_with("++") || self.c.starts_with("--") {
            let delta = if self.c.starts_with("++") { 1 } else { -1 };
            self.c.bump(2);
            let target = self.postfix()?;
            return Ok(Expr::IncDec {
                target: Box::new(target),
                delta,
                prefix: true,
            });
        }
        if self.c.peek() == Some('-')
            && self
                .c
                .peek_at(1)
                .is_some_and(|c| c.is_ascii_digit() || c == '.')
        {
            self.c.bump(1);
            let text = self.c.read_number_text();
            let v = parse_number(&format!("-{text}")).ok_or_else(|| {
                self.err(
                    "BadNumericConstant",
                    format!("The numeric constant -{text} is not valid."),
                )
            })?;
            return self.postfix_ops(Expr::Literal(v));
        }
        if self.c.peek() == Some('[') {
            let save = self.c.pos;
            let t = self.type_text()?;
            if self.c.starts_with("::") {
                return self.postfix_ops(Expr::TypeLit(t.to_ascii_lowercase()));
            }
            let after = self.c.pos;
            self.c.skip_ws();
            if matches!(
                self.c.peek(),
                Some('$' | '(' | '@' | '"' | '\'' | '[' | '{' | '0'..='9')
            ) || (self.c.peek() == Some('-')
                && self.c.peek_at(1).is_some_and(|c| c.is_ascii_digit()))
            {
                let inner = self.prefix()?;
                return Ok(Expr::Cast(t.to_ascii_lowercase(), Box::new(inner)));
            }
            self.c.pos = after;
            let _ = save;
            return self.postfix_ops(Expr::TypeLit(t.to_ascii_lowercase()));
        }
        self.postfix()
    }

    fn type_text(&mut self) -> PResult<String> {
        self.expect('[', "MissingTypename", "Missing type name after '['.")?;
        let mut depth = 1;
        let mut t = String::new();
        while let Some(ch) = self.c.peek() {
            self.c.bump(1);
            match ch {
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(t.trim().to_owned());
                    }
                }
                _ => {}
            }
            t.push(ch);
        }
        Err(self.err(
            "EndSquareBracketExpectedAtEndOfAttribute",
            "Missing ] at end of type token.",
        ))
    }

    fn postfix(&mut self) -> PResult<Expr> {
        let p = self.primary()?;
        self.postfix_ops(p)
    }

    fn postfix_ops(&mut self, mut e: Expr) -> PResult<Expr> {
        loop {
            match (self.c.peek(), self.c.peek_at(1)) {
                (Some('.'), Some(n)) if n != '.' && !n.is_whitespace() => {
                    self.c.bump(1);
                    e = self.member(e, false)?;
                }
                (Some(':'), Some(':')) => {
                    self.c.bump(2);
                    e = self.member(e, true)?;
                }
                (Some('['), _) => {
                    self.c.bump(1);
                    self.c.skip_ws_nl();
                    let save = self.no_comma;
                    self.no_comma = false;
                    let idx = self.expr()?;
                    self.no_comma = save;
                    self.c.skip_ws_nl();
                    self.expect(
                        ']',
                        "MissingEndSquareBracket",
                        "Array index expression is missing or not valid.",
                    )?;
                    e = Expr::Index(Box::new(e), Box::new(idx));
                }
                (Some('+'), Some('+')) | (Some('-'), Some('-')) if is_assignable(&e) => {
                    let delta = if self.c.peek() == Some('+') { 1 } else { -1 };
                    self.c.bump(2);
                    e = Expr::IncDec {
                        target: Box::new(e),
                        delta,
                        prefix: false,
                    };
                }
                _ => return Ok(e),
            }
        }
    }

    fn member(&mut self, target: Expr, is_static: bool) -> PResult<Expr> {
        let name = match self.c.peek() {
            Some('$') => self.primary()?,
            Some('\'' | '"') => self.primary()?,
            Some(ch) if ch.is_alphanumeric() || ch == '_' => {
                Expr::Literal(Value::String(self.c.read_ident()))
            }
            _ => {
                return Err(self.err(
                    "MissingPropertyName",
                    "Missing property name after reference operator.",
                ));
            }
        };
        if self.c.peek() == Some('(') {
            self.c.bump(1);
            let mut args = Vec::new();
            let save = self.no_comma;
            self.no_comma = true;
            loop {
                self.c.skip_ws_nl();
                if self.c.peek() == Some(')') {
                    self.c.bump(1);
                    break;
                }
                args.push(self.expr()?);
                self.c.skip_ws_nl();
                match self.c.peek() {
                    Some(',') => self.c.bump(1),
                    Some(')') => {}
                    _ => {
                        self.no_comma = save;
                        return Err(self.err(
                            "MissingEndParenthesisInMethodCall",
                            "Missing closing ')' in expression.",
                        ));
                    }
                }
            }
            self.no_comma = save;
            return Ok(Expr::Invoke {
                target: Box::new(target),
                name: Box::new(name),
                args,
                is_static,
            });
        }
        Ok(Expr::Member {
            target: Box::new(target),
            name: Box::new(name),
            is_static,
        })
    }

    fn primary(&mut self) -> PResult<Expr> {
        self.nested(Self::primary_inner)
    }

    fn primary_inner(&mut self) -> PResult<Expr> {
        self.c.skip_ws();
        let Some(ch) = self.c.peek() else {
            return Err(self.err(
                "ExpectedExpression",
                "You must provide a value expression following the operator.",
            ));
        };
        match ch {
            '$' => {
                self.c.bump(1);
                if self.c.peek() == Some('(') {
                    self.c.bump(1);
                    let body = self.nested_statements(')')?;
                    return Ok(Expr::SubExpr(body));
                }
                let name = self.c.read_variable_name().ok_or_else(|| self.err("InvalidVariableReference", "Invalid variable reference. '$' was not followed by a valid variable name character. Consider using ${} to delimit the name."))?;
                Ok(match name.to_ascii_lowercase().as_str() {
                    "true" => Expr::Literal(Value::Bool(true)),
                    "false" => Expr::Literal(Value::Bool(false)),
                    "null" => Expr::Literal(Value::Null),
                    _ => Expr::Variable(name),
                })
            }
            '@' => match self.c.peek_at(1) {
                Some('(') => {
                    self.c.bump(2);
                    Ok(Expr::ArraySub(self.nested_statements(')')?))
                }
                Some('{') => {
                    self.c.bump(2);
                    self.hashtable()
                }
                Some('"') | Some('\'') => self.here_string(),
                _ => Err(self.unexpected()),
            },
            '(' => {
                self.c.bump(1);
                let save = self.no_comma;
                self.no_comma = false;
                self.c.skip_ws_nl();
                if self.c.peek() == Some(')') {
                    self.no_comma = save;
                    return Err(self.err(
                        "ExpectedExpression",
                        "An expression was expected after '('.",
                    ));
                }
                let s = self.statement()?;
                self.c.skip_ws_nl();
                self.no_comma = save;
                self.expect(
                    ')',
                    "MissingEndParenthesisInExpression",
                    "Missing closing ')' in expression.",
                )?;
                Ok(Expr::Paren(Box::new(s)))
            }
            '{' => {
                self.c.bump(1);
                let start = self.c.pos;
                let save = self.no_comma;
                self.no_comma = false;
                let body = self.script_block_body(Some('}'))?;
                self.no_comma = save;
                let text: String = self.c.chars[start..self.c.pos].iter().collect();
                self.expect(
                    '}',
                    "MissingEndCurlyBrace",
                    "Missing closing '}' in statement block or type definition.",
                )?;
                Ok(Expr::ScriptBlock(Arc::new(body), text))
            }
            '\'' => {
                self.c.bump(1);
                let mut s = String::new();
                loop {
                    match self.c.peek() {
                        None => {
                            return Err(self.err(
                                "TerminatorExpectedAtEndOfString",
                                "The string is missing the terminator: '.",
                            ));
                        }
                        Some('\'' | '\u{2019}' | '\u{2018}') if self.c.peek_at(1) == Some('\'') => {
                            s.push('\'');
                            self.c.bump(2);
                        }
                        Some('\'' | '\u{2019}' | '\u{2018}') => {
                            self.c.bump(1);
                            return Ok(Expr::Literal(Value::String(s)));
                        }
                        Some(c) => {
                            s.push(c);
                            self.c.bump(1);
                        }
                    }
                }
            }
            '"' => {
                self.c.bump(1);
                let parts = self.expandable(false)?;
                Ok(simplify_expandable(parts))
            }
            '0'..='9' | '.' => {
                let text = self.c.read_number_text();
                if self.c.peek().is_some_and(|c| c.is_alphabetic()) {
                    return Err(self.err(
                        "BadNumericConstant",
                        format!(
                            "The numeric constant {text}{} is not valid.",
                            self.c.peek().unwrap_or(' ')
                        ),
                    ));
                }
                parse_number(&text).map(Expr::Literal).ok_or_else(|| {
                    self.err(
                        "BadNumericConstant",
                        format!("The numeric constant {text} is not valid."),
                    )
                })
            }
            '[' => self.prefix(),
            _ => Err(self.unexpected()),
        }
    }

    fn nested_statements(&mut self, close: char) -> PResult<Vec<Stmt>> {
        let save = self.no_comma;
        self.no_comma = false;
        let body = self.statements(Some(close))?;
        self.no_comma = save;
        self.expect(
            close,
            "MissingEndParenthesisInSubexpression",
            "Missing closing ')' in subexpression.",
        )?;
        Ok(body)
    }

    fn hashtable(&mut self) -> PResult<Expr> {
        let mut entries = Vec::new();
        let save = self.no_comma;
        self.no_comma = false;
        loop {
            self.c.skip_ws_nl();
            while self.c.peek() == Some(';') {
                self.c.bump(1);
                self.c.skip_ws_nl();
            }
            match self.c.peek() {
                Some('}') => {
                    self.c.bump(1);
                    break;
                }
                None => {
                    return Err(self.err(
                        "MissingEndCurlyBrace",
                        "Missing closing '}' in statement block or type definition.",
                    ));
                }
                _ => {}
            }
            let key = match self.c.peek() {
                Some(ch) if ch.is_alphabetic() || ch == '_' => {
                    let mut k = String::new();
                    while let Some(c) = self
                        .c
                        .peek()
                        .filter(|c| c.is_alphanumeric() || *c == '_' || *c == '-' || *c == '.')
                    {
                        k.push(c);
                        self.c.bump(1);
                    }
                    Expr::Literal(Value::String(k))
                }
                _ => {
                    self.no_comma = true;
                    let k = self.prefix()?;
                    self.no_comma = false;
                    k
                }
            };
            self.c.skip_ws_nl();
            self.expect(
                '=',
                "MissingEqualsInHashLiteral",
                "Missing '=' operator after key in hash literal.",
            )?;
            self.c.skip_ws_nl();
            let value = self.statement()?;
            entries.push((key, value));
            self.c.skip_ws();
            match self.c.peek() {
                Some('\n' | '\r' | ';' | '}') => {}
                _ => {
                    return Err(
                        self.err("MissingEndCurlyBrace", "The hash literal was incomplete.")
                    );
                }
            }
        }
        self.no_comma = save;
        Ok(Expr::Hashtable(entries))
    }

    fn here_string(&mut self) -> PResult<Expr> {
        let quote = self.c.peek_at(1).unwrap_or('"');
        self.c.bump(2);
        while self.c.peek().is_some_and(|c| c == ' ' || c == '\t') {
            self.c.bump(1);
        }
        if self.c.peek() == Some('\r') {
            self.c.bump(1);
        }
        if self.c.peek() != Some('\n') {
            return Err(self.err("UnexpectedCharactersAfterHereStringHeader", "No characters are allowed after a here-string header but before the end of the line."));
        }
        self.c.bump(1);
        let start = self.c.pos;
        let term: String = format!("{quote}@");
        loop {
            if self.c.at_end() {
                return Err(self.err(
                    "TerminatorExpectedAtEndOfString",
                    format!("The string is missing the terminator: {term}."),
                ));
            }
            let at_line_start =
                self.c.pos == start || self.c.chars.get(self.c.pos - 1) == Some(&'\n');
            if at_line_start && self.c.starts_with(&term) {
                break;
            }
            self.c.bump(1);
        }
        let mut end = self.c.pos;
        if end > start {
            end -= 1; // the newline before the terminator
            if end > start && self.c.chars.get(end - 1) == Some(&'\r') {
                end -= 1;
            }
        }
        let content: String = self.c.chars[start..end.max(start)].iter().collect();
        self.c.bump(2);
        if quote == '\'' {
            return Ok(Expr::Literal(Value::String(content)));
        }
        let mut sub = Self {
            c: Cursor::new(&content),
            source: self.source.clone(),
            no_comma: false,
            depth: 0,
        };
        let parts = sub.expandable(true)?;
        Ok(simplify_expandable(parts))
    }

    /// Parses the inside of a double-quoted string (after the opening quote).
    fn expandable(&mut self, here: bool) -> PResult<Vec<StrPart>> {
        let mut parts = Vec::new();
        let mut text = String::new();
        loop {
            let Some(ch) = self.c.peek() else {
                if here {
                    break;
                }
                return Err(self.err(
                    "TerminatorExpectedAtEndOfString",
                    "The string is missing the terminator: \".",
                ));
            };
            match ch {
                '"' | '\u{201c}' | '\u{201d}' if !here => {
                    if self.c.peek_at(1) == Some('"') {
                        text.push('"');
                        self.c.bump(2);
                    } else {
                        self.c.bump(1);
                        break;
                    }
                }
                '`' => {
                    let n = self.c.peek_at(1).unwrap_or('`');
                    text.push(match n {
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        '0' => '\0',
                        'a' => '\u{7}',
                        'b' => '\u{8}',
                        'e' => '\u{1b}',
                        'f' => '\u{c}',
                        'v' => '\u{b}',
                        other => other,
                    });
                    self.c.bump(2);
                }
                '$' => match self.c.peek_at(1) {
                    Some('(') => {
                        self.c.bump(2);
                        if !text.is_empty() {
                            parts.push(StrPart::Text(std::mem::take(&mut text)));
                        }
                        parts.push(StrPart::Sub(self.nested_statements(')')?));
                    }
                    Some(n)
                        if n.is_alphanumeric() || n == '_' || n == '{' || n == '?' || n == '$' =>
                    {
                        self.c.bump(1);
                        let name = self.c.read_variable_name().unwrap_or_default();
                        if !text.is_empty() {
                            parts.push(StrPart::Text(std::mem::take(&mut text)));
                        }
                        parts.push(StrPart::Var(name));
                    }
                    _ => {
                        text.push('$');
                        self.c.bump(1);
                    }
                },
                c => {
                    text.push(c);
                    self.c.bump(1);
                }
            }
        }
        if !text.is_empty() {
            parts.push(StrPart::Text(text));
        }
        Ok(parts)
    }
}

const LEVELS: usize = 6;

/// Deepest nesting of parentheses, blocks and sub-expressions accepted.
const MAX_NESTING: usize = 128;

fn op_level(op: BinOp) -> usize {
    match op {
        BinOp::And | BinOp::Or | BinOp::Xor => 0,
        BinOp::Cmp(..) | BinOp::Is(_) | BinOp::As => 1,
        BinOp::BAnd | BinOp::BOr | BinOp::BXor | BinOp::Shl | BinOp::Shr => 2,
        BinOp::Add | BinOp::Sub => 3,
        BinOp::Mul | BinOp::Div | BinOp::Rem => 4,
        BinOp::Format => 5,
        BinOp::Range => 6,
    }
}

fn is_assignable(e: &Expr) -> bool {
    match e {
        Expr::Variable(_) | Expr::Member { .. } | Expr::Index(..) | Expr::Literal(Value::Null) => {
            true
        }
        Expr::Cast(_, inner) => is_assignable(inner),
        _ => false,
    }
}

fn simplify_expandable(parts: Vec<StrPart>) -> Expr {
    match parts.as_slice() {
        [] => Expr::Literal(Value::String(String::new())),
        [StrPart::Text(t)] => Expr::Literal(Value::String(t.clone())),
        _ => Expr::Expandable(parts),
    }
}

/// Whether a `[Parameter(...)]` attribute text sets `ValueFromPipeline` (bare or `=$true`).
fn attribute_takes_pipeline(attr: &str) -> bool {
    let lower = attr.to_ascii_lowercase();
    let Some(args) = lower
        .strip_prefix("parameter")
        .map(str::trim_start)
        .and_then(|a| a.strip_prefix('('))
    else {
        return false;
    };
    args.trim_end_matches(')').split(',').any(|arg| {
        let mut kv = arg.splitn(2, '=');
        let key = kv.next().unwrap_or_default().trim();
        let value = kv.next().map(str::trim);
        key == "valuefrompipeline" && value.is_none_or(|v| v == "$true" || v == "1")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_shapes() {
        for src in [
            "1..3 | % { $_ * 2 }",
            "$a = @{ a = 1; b = 'x' }; $a.a",
            "if ($x -gt 1) { 'a' } elseif ($x) { 'b' } else { 'c' }",
            "function f { param($x, [int]$y = 2) $x + $y }; f 1 -y 3",
            "foreach ($i in 1,2,3) { if ($i -eq 2) { continue }; $i }",
            "\"x $($a.b) `t y\"",
            "[PSCustomObject]@{ Name = 'n'; Id = 1 } | Select-Object -Property Name",
            "try { throw 'x' } catch { $_.Exception.Message } finally { 'f' }",
            "'a','b' -join ','",
            "[math]::Round(2.5)",
            "$x = @\"\nline $a\n\"@",
        ] {
            parse_script(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        }
    }

    #[test]
    fn rejects_broken_scripts() {
        let e = parse_script("if ($true) { 1").unwrap_err();
        assert_eq!(e.id, "MissingEndCurlyBrace");
        let e = parse_script("\"abc").unwrap_err();
        assert_eq!(e.id, "TerminatorExpectedAtEndOfString");
        assert!(parse_script("1 2").is_err());
    }
}
