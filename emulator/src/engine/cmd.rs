//! A cmd.exe subset for WinRS shells: `%VAR%` expansion, `&&`/`||`/`&`, a few built-ins, and
//! `powershell -EncodedCommand|-Command` running the PowerShell subset with console-style text
//! output and the `#< CLIXML` error stream Windows produces when stderr is redirected.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine as _;

use super::context::EngineContext;
use super::format;
use super::host::{EngineHost, Stopped, StreamRecord};
use super::runspace::{PipelineState, Runspace};
use super::scenario::{Scenario, Shell};
use super::value::{ErrorRecord, Value};

/// A cmd session: environment and scenarios; one per WinRS shell.
#[derive(Debug)]
pub struct CmdEngine {
    ctx: Arc<EngineContext>,
    /// Environment variables (`%VAR%`), seeded from the context and the WinRS shell's
    /// `Environment` variables.
    pub env: Vec<(String, String)>,
    scenarios: Vec<Arc<Scenario>>,
    errorlevel: i32,
}

/// The result of a command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmdOutcome {
    /// Finished with this exit code.
    Exited(i32),
    /// Stopped by the host (Signal terminate).
    Stopped,
}

impl CmdEngine {
    /// A session over the given system data.
    pub fn new(ctx: EngineContext) -> Self {
        let env = ctx.env.clone();
        let scenarios = ctx.scenarios.clone();
        Self {
            ctx: Arc::new(ctx),
            env,
            scenarios,
            errorlevel: 0,
        }
    }

    /// Adds variables (e.g. from WinRS `<rsp:Environment>`).
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.env.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        if !value.is_empty() {
            self.env.push((name.to_owned(), value.to_owned()));
        }
    }

    /// Registers a scenario (entries for `shell = "cmd"` or `"any"` apply).
    pub fn register_scenario(&mut self, s: Arc<Scenario>) {
        self.scenarios.push(s);
    }

    /// Runs a command line (WinRS `Command` and its `Arguments` joined by spaces).
    pub fn run(&mut self, line: &str, host: &dyn EngineHost) -> CmdOutcome {
        match self.run_line(line, host) {
            Ok(Flow::Continue(code) | Flow::Exit(code)) => CmdOutcome::Exited(code),
            Err(Stopped) => CmdOutcome::Stopped,
        }
    }

    fn run_line(&mut self, line: &str, host: &dyn EngineHost) -> Result<Flow, Stopped> {
        if let Some(e) = self
            .scenarios
            .iter()
            .find_map(|s| s.match_text(line, Shell::Cmd))
        {
            let code = e.play_cmd(host)?;
            self.errorlevel = code;
            return Ok(Flow::Continue(code));
        }
        let expanded = self.expand(line);
        let mut last = self.errorlevel;
        for (op, part) in split_operators(&expanded) {
            let run = match op {
                Op::First | Op::Always => true,
                Op::And => last == 0,
                Op::Or => last != 0,
            };
            if !run {
                continue;
            }
            if host.should_stop() {
                return Err(Stopped);
            }
            match self.simple(&part, host)? {
                Flow::Continue(code) => {
                    last = code;
                    self.errorlevel = code;
                }
                Flow::Exit(code) => {
                    self.errorlevel = code;
                    return Ok(Flow::Exit(code));
                }
            }
        }
        Ok(Flow::Continue(last))
    }

    fn var(&self, name: &str) -> Option<String> {
        if name.eq_ignore_ascii_case("ERRORLEVEL") {
            return Some(self.errorlevel.to_string());
        }
        if name.eq_ignore_ascii_case("CD") {
            return Some(format!("C:\\Users\\{}", self.ctx.user_name));
        }
        self.env
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    /// `%VAR%` expansion; undefined variables stay as written (command-line semantics).
    pub fn expand(&self, line: &str) -> String {
        let mut out = String::new();
        let mut rest = line;
        while let Some(start) = rest.find('%') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            match after.find('%') {
                Some(end) if end > 0 && !after[..end].contains(' ') => {
                    let name = &after[..end];
                    match self.var(name) {
                        Some(v) => out.push_str(&v),
                        None => out.push_str(&format!("%{name}%")),
                    }
                    rest = &after[end + 1..];
                }
                _ => {
                    out.push('%');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }

    fn simple(&mut self, cmd: &str, host: &dyn EngineHost) -> Result<Flow, Stopped> {
        let trimmed = cmd.trim_start();
        if trimmed.trim().is_empty() {
            return Ok(Flow::Continue(self.errorlevel));
        }
        if let Some(e) = self
            .scenarios
            .iter()
            .find_map(|s| s.match_text(trimmed, Shell::Cmd))
        {
            return Ok(Flow::Continue(e.play_cmd(host)?));
        }
        let (word, rest) = split_word(trimmed);
        let lower = word.to_ascii_lowercase();
        let lower = lower.trim_matches('"');
        let name = lower.strip_suffix(".exe").unwrap_or(lower);
        let out = |s: String| host.emit(StreamRecord::StdOut(s));
        let err = |s: String| host.emit(StreamRecord::StdErr(s));
        if name.starts_with("echo") && (name == "echo" || name.starts_with("echo.")) {
            if name.starts_with("echo.") {
                out(format!("{}\r\n", &trimmed[5..]))?;
            } else if rest.trim().is_empty() {
                out("ECHO is on.\r\n".to_owned())?;
            } else {
                out(format!("{rest}\r\n"))?;
            }
            return Ok(Flow::Continue(0));
        }
        match name {
            "set" => {
                let arg = rest.trim().trim_matches('"');
                if arg.is_empty() {
                    let mut vars = self.env.clone();
                    vars.sort_by_key(|(k, _)| k.to_ascii_lowercase());
                    out(vars.iter().map(|(k, v)| format!("{k}={v}\r\n")).collect())?;
                    return Ok(Flow::Continue(0));
                }
                if let Some((k, v)) = arg.split_once('=') {
                    self.set_env(k, v);
                    return Ok(Flow::Continue(0));
                }
                let hits: Vec<String> = self
                    .env
                    .iter()
                    .filter(|(k, _)| {
                        k.to_ascii_lowercase()
                            .starts_with(&arg.to_ascii_lowercase())
                    })
                    .map(|(k, v)| format!("{k}={v}\r\n"))
                    .collect();
                if hits.is_empty() {
                    err(format!("Environment variable {arg} not defined\r\n"))?;
                    return Ok(Flow::Continue(1));
                }
                out(hits.concat())?;
                Ok(Flow::Continue(0))
            }
            "exit" => {
                let mut code = 0;
                for a in rest.split_whitespace() {
                    if !a.eq_ignore_ascii_case("/b") {
                        code = a.parse().unwrap_or(0);
                        break;
                    }
                }
                Ok(Flow::Exit(code))
            }
            "type" => {
                let path = rest.trim().trim_matches('"');
                match self
                    .ctx
                    .files
                    .iter()
                    .find(|(p, _)| p.eq_ignore_ascii_case(path))
                {
                    Some((_, c)) => {
                        out(c.clone())?;
                        Ok(Flow::Continue(0))
                    }
                    None => {
                        err("The system cannot find the file specified.\r\n".to_owned())?;
                        Ok(Flow::Continue(1))
                    }
                }
            }
            "hostname" => {
                out(format!("{}\r\n", self.ctx.computer_name))?;
                Ok(Flow::Continue(0))
            }
            "whoami" => {
                out(
                    format!("{}\\{}\r\n", self.ctx.user_domain, self.ctx.user_name).to_lowercase(),
                )?;
                Ok(Flow::Continue(0))
            }
            "ver" => {
                out(format!(
                    "\r\nMicrosoft Windows [Version {}]\r\n",
                    self.ctx.os_version
                ))?;
                Ok(Flow::Continue(0))
            }
            "cd" | "chdir" if rest.trim().is_empty() => {
                out(format!("C:\\Users\\{}\r\n", self.ctx.user_name))?;
                Ok(Flow::Continue(0))
            }
            "ping" => self.ping(rest, host),
            "cmd" => {
                let mut r = rest.trim_start();
                loop {
                    let (w, after) = split_word(r);
                    match w.to_ascii_lowercase().as_str() {
                        "/c" | "/k" => {
                            r = after.trim_start();
                            break;
                        }
                        "/q" | "/d" | "/s" | "/u" | "/a" => r = after.trim_start(),
                        _ => break,
                    }
                }
                let mut child = Self {
                    ctx: self.ctx.clone(),
                    env: self.env.clone(),
                    scenarios: self.scenarios.clone(),
                    errorlevel: 0,
                };
                let r = r.trim().trim_matches('"');
                match child.run_line(r, host)? {
                    Flow::Continue(c) | Flow::Exit(c) => Ok(Flow::Continue(c)),
                }
            }
            "powershell" => Ok(Flow::Continue(self.powershell(rest, host)?)),
            _ if crate::sessions_table::cmd::handles(name, rest) => Ok(Flow::Continue(
                crate::sessions_table::cmd::run(name, rest, &self.ctx, host)?,
            )),
            _ => {
                err(format!(
                    "'{word}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
                ))?;
                Ok(Flow::Continue(9009))
            }
        }
    }

    fn ping(&self, args: &str, host: &dyn EngineHost) -> Result<Flow, Stopped> {
        let mut count = 4u32;
        let mut target = None;
        let mut it = args.split_whitespace();
        while let Some(a) = it.next() {
            match a.to_ascii_lowercase().as_str() {
                "-n" | "/n" => count = it.next().and_then(|n| n.parse().ok()).unwrap_or(4),
                "-w" | "/w" | "-l" | "/l" | "-i" | "/i" => {
                    it.next();
                }
                s if s.starts_with('-') || s.starts_with('/') => {}
                _ => target = Some(a.to_owned()),
            }
        }
        let Some(target) = target else {
            host.emit(StreamRecord::StdOut(
                "\r\nUsage: ping [-n count] target_name\r\n".to_owned(),
            ))?;
            return Ok(Flow::Continue(1));
        };
        let ip = "127.0.0.1";
        host.emit(StreamRecord::StdOut(format!(
            "\r\nPinging {target} [{ip}] with 32 bytes of data:\r\n"
        )))?;
        for i in 0..count {
            if i > 0 {
                host.sleep(Duration::from_secs(1))?;
            }
            host.emit(StreamRecord::StdOut(format!(
                "Reply from {ip}: bytes=32 time<1ms TTL=128\r\n"
            )))?;
        }
        host.emit(StreamRecord::StdOut(format!(
            "\r\nPing statistics for {ip}:\r\n    Packets: Sent = {count}, Received = {count}, Lost = 0 (0% loss),\r\nApproximate round trip times in milli-seconds:\r\n    Minimum = 0ms, Maximum = 0ms, Average = 0ms\r\n"
        )))?;
        Ok(Flow::Continue(0))
    }

    fn powershell(&self, args: &str, host: &dyn EngineHost) -> Result<i32, Stopped> {
        let mut script: Option<String> = None;
        let mut rest = args.trim_start();
        while !rest.is_empty() {
            let (w, after) = split_word(rest);
            let lw = w.to_ascii_lowercase();
            let flag = lw.trim_start_matches(['-', '/']);
            if !(lw.starts_with('-') || lw.starts_with('/')) {
                script = Some(rest.trim().to_owned());
                break;
            }
            match flag {
                "noprofile" | "nop" | "noninteractive" | "noni" | "nologo" | "sta" | "mta" => {
                    rest = after.trim_start()
                }
                "executionpolicy" | "ep" | "ex" | "inputformat" | "if" | "outputformat" | "of"
                | "windowstyle" | "w" | "version" | "v" => {
                    let (_, after2) = split_word(after.trim_start());
                    rest = after2.trim_start();
                }
                "encodedcommand" | "enc" | "e" | "ec" => {
                    let (b64, _) = split_word(after.trim_start());
                    script = Some(decode_utf16_b64(b64).unwrap_or_default());
                    break;
                }
                "command" | "c" => {
                    let text = after.trim();
                    let text = text
                        .strip_prefix('"')
                        .and_then(|t| t.strip_suffix('"'))
                        .unwrap_or(text);
                    script = Some(text.to_owned());
                    break;
                }
                _ => rest = after.trim_start(),
            }
        }
        let Some(script) = script else {
            host.emit(StreamRecord::StdOut("Windows PowerShell\r\nCopyright (C) Microsoft Corporation. All rights reserved.\r\n\r\n".to_owned()))?;
            return Ok(0);
        };
        let mut ctx = (*self.ctx).clone();
        ctx.env = self.env.clone();
        let mut rs = Runspace::new(ctx);
        for s in &self.scenarios {
            rs.register_scenario(s.clone());
        }
        let console = ConsoleHost {
            inner: host,
            pending: Mutex::new(Vec::new()),
            stderr: Mutex::new(Vec::new()),
        };
        let outcome = rs.run_script(&script, None, &console);
        console.flush()?;
        let mut stderr = console
            .stderr
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let PipelineState::Failed(rec) = &outcome.state {
            stderr.push(("Error", format::error_text(rec, None)));
        }
        if matches!(outcome.state, PipelineState::Stopped) {
            return Err(Stopped);
        }
        if !stderr.is_empty() {
            host.emit(StreamRecord::StdErr(clixml_stderr(&stderr)))?;
        }
        Ok(match (&outcome.state, outcome.exit_code) {
            (_, Some(code)) => code,
            (PipelineState::Failed(_), None) => 1,
            // As Windows: `$?` of the last statement, so an error followed by a statement
            // that succeeds still exits 0.
            _ if !outcome.last_succeeded => 1,
            _ => 0,
        })
    }
}

enum Flow {
    Continue(i32),
    Exit(i32),
}

#[derive(Debug, Clone, Copy)]
enum Op {
    First,
    And,
    Or,
    Always,
}

fn split_operators(line: &str) -> Vec<(Op, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut op = Op::First;
    let mut quoted = false;
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c == '"' {
            quoted = !quoted;
        }
        if !quoted
            && c == '^'
            && let Some(&n) = chars.get(i + 1)
        {
            cur.push(n);
            i += 2;
            continue;
        }
        if !quoted && (c == '&' || (c == '|' && chars.get(i + 1) == Some(&'|'))) {
            out.push((op, std::mem::take(&mut cur)));
            if c == '&' && chars.get(i + 1) == Some(&'&') {
                op = Op::And;
                i += 2;
            } else if c == '|' {
                op = Op::Or;
                i += 2;
            } else {
                op = Op::Always;
                i += 1;
            }
            continue;
        }
        cur.push(c);
        i += 1;
    }
    out.push((op, cur));
    out
}

fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    if let Some(rest) = s.strip_prefix('"')
        && let Some(end) = rest.find('"')
    {
        return (&s[..end + 2], &rest[end + 1..]);
    }
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    let (w, r) = s.split_at(end);
    (w, r.strip_prefix(' ').unwrap_or(r))
}

/// Decodes `-EncodedCommand`'s base64 of UTF-16LE.
pub fn decode_utf16_b64(b64: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).ok()
}

/// Encodes a script for `-EncodedCommand`.
pub fn encode_utf16_b64(script: &str) -> String {
    let bytes: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Builds the `#< CLIXML` stderr text from (stream, text) pairs.
pub fn clixml_stderr(entries: &[(&str, String)]) -> String {
    let mut s = String::from(
        "#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">",
    );
    for (stream, text) in entries {
        let mut lines: Vec<&str> = text.split("\r\n").collect();
        if lines.last() == Some(&"") {
            lines.pop();
        }
        for line in lines.into_iter().flat_map(wrap_console_line) {
            s.push_str(&format!(
                "<S S=\"{stream}\">{}_x000D__x000A_</S>",
                clixml_escape(&line)
            ));
        }
    }
    s.push_str("</Objs>");
    s
}

/// Console buffer width of a WinRS-hosted `powershell.exe`.
const CONSOLE_WIDTH: usize = 120;

/// Word-wraps a line as the console host does: a line plus the next word and its trailing space
/// must stay below the buffer width (what Windows' captured output shows).
fn wrap_console_line(line: &str) -> Vec<String> {
    if line.chars().count() < CONSOLE_WIDTH {
        return vec![line.to_owned()];
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    for word in line.split_inclusive(' ') {
        let wlen = word.chars().count();
        if !cur.is_empty() && cur.chars().count() + wlen >= CONSOLE_WIDTH {
            out.push(std::mem::take(&mut cur));
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn clixml_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '_' => out.push('_'),
            c if (c as u32) < 0x20 => out.push_str(&format!("_x{:04X}_", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Adapts engine records to console text: objects become formatted stdout text, errors and
/// warnings are kept for the CLIXML stderr block.
struct ConsoleHost<'h> {
    inner: &'h dyn EngineHost,
    pending: Mutex<Vec<Value>>,
    stderr: Mutex<Vec<(&'static str, String)>>,
}

impl ConsoleHost<'_> {
    fn flush(&self) -> Result<(), Stopped> {
        let items = std::mem::take(
            &mut *self
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if items.is_empty() {
            return Ok(());
        }
        self.inner
            .emit(StreamRecord::StdOut(format::format_values(&items)))
    }

    fn push_err(&self, stream: &'static str, text: String) {
        self.stderr
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((stream, text));
    }
}

impl EngineHost for ConsoleHost<'_> {
    fn emit(&self, record: StreamRecord) -> Result<(), Stopped> {
        match record {
            StreamRecord::Output(v @ (Value::Object(_) | Value::Hashtable(_))) => {
                self.pending
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(v);
                Ok(())
            }
            StreamRecord::Output(v) => {
                self.flush()?;
                self.inner
                    .emit(StreamRecord::StdOut(format::format_values(&[v])))
            }
            StreamRecord::Error(e) => {
                let inv = invocation_text(&e);
                self.push_err("Error", format::error_text(&e, inv.as_deref()));
                Ok(())
            }
            StreamRecord::Warning(w) => {
                self.push_err("warning", w);
                Ok(())
            }
            StreamRecord::Verbose(w) => {
                self.push_err("verbose", w);
                Ok(())
            }
            StreamRecord::Debug(w) => {
                self.push_err("debug", w);
                Ok(())
            }
            StreamRecord::Information(i) if i.is_host() => {
                self.flush()?;
                let nonl = matches!(&i.message_data, Value::Object(o) if o.get("NoNewLine").is_some_and(Value::is_truthy));
                let text = i.text();
                self.inner.emit(StreamRecord::StdOut(if nonl {
                    text
                } else {
                    format!("{text}\r\n")
                }))
            }
            StreamRecord::Information(_) | StreamRecord::Progress(_) => Ok(()),
            other => self.inner.emit(other),
        }
    }

    fn sleep(&self, d: Duration) -> Result<(), Stopped> {
        self.inner.sleep(d)
    }

    fn now(&self) -> SystemTime {
        self.inner.now()
    }

    fn should_stop(&self) -> bool {
        self.inner.should_stop()
    }

    fn yield_now(&self) {
        self.inner.yield_now();
    }
}

fn invocation_text(e: &ErrorRecord) -> Option<String> {
    if e.activity == "Write-Error" {
        return e.position.as_ref().map(|p| p.line_text.trim().to_owned());
    }
    None
}
