//! Character-level scanning shared by the parser. PowerShell tokenizes differently in expression
//! and argument mode, so the parser drives this cursor directly instead of consuming a flat token
//! stream: it asks for a number, a variable name, a bare word or an operator where the grammar
//! expects one.

use super::ast::{BinOp, CmpOp};

/// A cursor over the script's characters.
#[derive(Debug, Clone)]
pub struct Cursor {
    /// The script as chars.
    pub chars: Vec<char>,
    /// Current index into `chars`.
    pub pos: usize,
}

impl Cursor {
    /// A cursor at the start of `src`.
    pub fn new(src: &str) -> Self {
        Self {
            chars: src.chars().collect(),
            pos: 0,
        }
    }

    /// The char at the cursor.
    pub fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    /// The char `n` ahead of the cursor.
    pub fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.pos + n).copied()
    }

    /// Whether the text at the cursor starts with `s` (case-sensitive).
    pub fn starts_with(&self, s: &str) -> bool {
        s.chars()
            .enumerate()
            .all(|(i, c)| self.peek_at(i) == Some(c))
    }

    /// Whether the text at the cursor is the keyword `kw` (case-insensitive, at a word boundary).
    pub fn at_keyword(&self, kw: &str) -> bool {
        let n = kw.chars().count();
        kw.chars()
            .enumerate()
            .all(|(i, c)| self.peek_at(i).is_some_and(|x| x.eq_ignore_ascii_case(&c)))
            && !self.peek_at(n).is_some_and(is_word_char)
    }

    /// Advances by `n` chars.
    pub fn bump(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.chars.len());
    }

    /// Whether at the end.
    pub fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    /// Skips spaces, tabs, comments and line continuations (not newlines).
    pub fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\u{feff}' | '\u{a0}' => self.bump(1),
                '`' if matches!(self.peek_at(1), Some('\n' | '\r')) => {
                    self.bump(2);
                    if self.peek() == Some('\n') {
                        self.bump(1);
                    }
                }
                '#' => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.bump(1);
                    }
                }
                '<' if self.peek_at(1) == Some('#') => {
                    self.bump(2);
                    while !self.at_end() && !self.starts_with("#>") {
                        self.bump(1);
                    }
                    self.bump(2);
                }
                _ => break,
            }
        }
    }

    /// Skips whitespace including newlines.
    pub fn skip_ws_nl(&mut self) {
        loop {
            self.skip_ws();
            match self.peek() {
                Some('\n' | '\r') => self.bump(1),
                _ => break,
            }
        }
    }

    /// Reads a variable name after `$` (handles `${...}`, scope prefixes, `$_`, `$?`, `$$`).
    pub fn read_variable_name(&mut self) -> Option<String> {
        match self.peek()? {
            '{' => {
                self.bump(1);
                let mut name = String::new();
                while let Some(c) = self.peek() {
                    self.bump(1);
                    if c == '}' {
                        return Some(name);
                    }
                    name.push(c);
                }
                None
            }
            '?' | '$' | '^' => {
                let c = self.peek()?;
                self.bump(1);
                Some(c.to_string())
            }
            c if is_var_char(c) => {
                let mut name = String::new();
                while let Some(c) = self.peek() {
                    if is_var_char(c)
                        || (c == ':' && self.peek_at(1).is_some_and(is_var_char) && is_scope(&name))
                    {
                        name.push(c);
                        self.bump(1);
                    } else {
                        break;
                    }
                }
                Some(name)
            }
            _ => None,
        }
    }

    /// Reads a number token at the cursor (no sign), returning its text.
    pub fn read_number_text(&mut self) -> String {
        let mut s = String::new();
        if self.starts_with("0x") || self.starts_with("0X") {
            s.push_str("0x");
            self.bump(2);
            while let Some(c) = self.peek().filter(char::is_ascii_hexdigit) {
                s.push(c);
                self.bump(1);
            }
        } else {
            while let Some(c) = self.peek() {
                if c.is_ascii_digit()
                    || (c == '.'
                        && self.peek_at(1).is_some_and(|d| d.is_ascii_digit())
                        && !s.contains(['.', 'e']))
                {
                    s.push(c);
                    self.bump(1);
                } else if (c == 'e' || c == 'E')
                    && (self.peek_at(1).is_some_and(|d| d.is_ascii_digit())
                        || (matches!(self.peek_at(1), Some('+' | '-'))
                            && self.peek_at(2).is_some_and(|d| d.is_ascii_digit())))
                {
                    s.push('e');
                    s.push(self.peek_at(1).unwrap_or('0'));
                    self.bump(2);
                } else {
                    break;
                }
            }
        }
        // Suffixes: l, d, kb..pb.
        while let Some(c) = self.peek().filter(|c| c.is_ascii_alphabetic()) {
            let lower = c.to_ascii_lowercase();
            if matches!(lower, 'l' | 'd' | 'k' | 'm' | 'g' | 't' | 'p' | 'b') {
                s.push(lower);
                self.bump(1);
            } else {
                break;
            }
        }
        s
    }

    /// Reads a bare word in argument mode (stops at whitespace and `|;(){},`).
    pub fn read_bare_word(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace() || matches!(c, '|' | ';' | '(' | ')' | '{' | '}' | ',' | '&') {
                break;
            }
            if c == '`'
                && let Some(n) = self.peek_at(1)
            {
                s.push(n);
                self.bump(2);
                continue;
            }
            s.push(c);
            self.bump(1);
        }
        s
    }

    /// Reads a command name (letters, digits, `-`, `_`, `.`, `\`, `:`).
    pub fn read_command_name(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek() {
            if c.is_alphanumeric()
                || matches!(c, '-' | '_' | '.' | '\\' | ':' | '/' | '?' | '%' | '*')
            {
                if c == '.' && self.peek_at(1).is_none_or(char::is_whitespace) {
                    break;
                }
                s.push(c);
                self.bump(1);
            } else {
                break;
            }
        }
        s
    }

    /// Reads an identifier (member name).
    pub fn read_ident(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || *c == '_') {
            s.push(c);
            self.bump(1);
        }
        s
    }

    /// Tries to read a `-operator` at the cursor; returns it and its length without consuming.
    pub fn peek_dash_operator(&self) -> Option<(DashOp, usize)> {
        if self.peek() != Some('-') {
            return None;
        }
        let mut word = String::new();
        let mut i = 1;
        while let Some(c) = self.peek_at(i).filter(|c| c.is_ascii_alphabetic()) {
            word.push(c.to_ascii_lowercase());
            i += 1;
        }
        if word.is_empty() {
            return None;
        }
        dash_op(&word).map(|op| (op, i))
    }
}

/// An operator spelled `-word`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DashOp {
    /// A binary operator.
    Binary(BinOp),
    /// `-not`.
    Not,
    /// `-bnot`.
    BNot,
}

fn dash_op(word: &str) -> Option<DashOp> {
    let simple = match word {
        "and" => Some(BinOp::And),
        "or" => Some(BinOp::Or),
        "xor" => Some(BinOp::Xor),
        "band" => Some(BinOp::BAnd),
        "bor" => Some(BinOp::BOr),
        "bxor" => Some(BinOp::BXor),
        "shl" => Some(BinOp::Shl),
        "shr" => Some(BinOp::Shr),
        "f" => Some(BinOp::Format),
        "is" => Some(BinOp::Is(false)),
        "isnot" => Some(BinOp::Is(true)),
        "as" => Some(BinOp::As),
        "not" => return Some(DashOp::Not),
        "bnot" => return Some(DashOp::BNot),
        _ => None,
    };
    if let Some(op) = simple {
        return Some(DashOp::Binary(op));
    }
    let (cs, rest) = match word.strip_prefix('c') {
        Some(r) if cmp_op(r).is_some() && cmp_op(word).is_none() => (true, r),
        _ => match word.strip_prefix('i') {
            Some(r) if cmp_op(r).is_some() && cmp_op(word).is_none() => (false, r),
            _ => (false, word),
        },
    };
    cmp_op(rest).map(|op| DashOp::Binary(BinOp::Cmp(op, cs)))
}

fn cmp_op(w: &str) -> Option<CmpOp> {
    Some(match w {
        "eq" => CmpOp::Eq,
        "ne" => CmpOp::Ne,
        "gt" => CmpOp::Gt,
        "ge" => CmpOp::Ge,
        "lt" => CmpOp::Lt,
        "le" => CmpOp::Le,
        "like" => CmpOp::Like,
        "notlike" => CmpOp::NotLike,
        "match" => CmpOp::Match,
        "notmatch" => CmpOp::NotMatch,
        "contains" => CmpOp::Contains,
        "notcontains" => CmpOp::NotContains,
        "in" => CmpOp::In,
        "notin" => CmpOp::NotIn,
        "replace" => CmpOp::Replace,
        "split" => CmpOp::Split,
        "join" => CmpOp::Join,
        _ => return None,
    })
}

/// Characters allowed in a simple variable name.
pub fn is_var_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Characters that continue a keyword or identifier.
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

fn is_scope(name: &str) -> bool {
    [
        "env", "global", "script", "local", "private", "variable", "using",
    ]
    .iter()
    .any(|s| s.eq_ignore_ascii_case(name))
}
