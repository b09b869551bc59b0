//! Remote Desktop (logon) sessions of a Windows host, driven through WinRS with the tools
//! Windows ships: `query session`, `query user`, `msg`, `reset session`, `logoff`.
//!
//! The output is parsed the way Windows prints it, not the way the emulator happens to: the
//! column boundaries come from the header line (so localized headers work, whatever their
//! words), the `>` marker flags the session the command ran in, a disconnected session has no
//! SESSIONNAME, IDLE TIME is `none`, `.` (under a minute), `M`, `H:MM` or `D+HH:MM`, and LOGON
//! TIME is in the host's short date and time format (`1/30/2020 4:27 PM`, `30.01.2020 16:27`,
//! `30/01/2020 16:27`, `2020-01-30 16:27`). State words are mapped for English, German, French
//! and Spanish hosts; anything else is kept as [`SessionState::Other`].
//!
//! Errors the tools print (`Error [5]:Access is denied.`) become [`ToolError`] with the Win32
//! code, so callers can tell a refusal from a missing session.

use std::fmt;
use std::time::Duration;

use crate::Error;
use crate::winrs::{Output, Shell};

/// A row of `query session`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdsSession {
    /// SESSIONNAME (`console`, `rdp-tcp#6`); empty for a disconnected session.
    pub name: String,
    /// USERNAME; empty for `services`, listeners and an empty console.
    pub user: String,
    /// ID.
    pub id: u32,
    /// STATE.
    pub state: SessionState,
    /// TYPE (empty on current Windows versions).
    pub session_type: String,
    /// DEVICE.
    pub device: String,
    /// The `>` marker: the session the query ran in.
    pub current: bool,
}

/// A row of `query user`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedOnUser {
    /// USERNAME.
    pub user: String,
    /// SESSIONNAME; empty for a disconnected session.
    pub session_name: String,
    /// ID.
    pub id: u32,
    /// STATE.
    pub state: SessionState,
    /// IDLE TIME: `None` when Windows prints `none`; `Some(0)` for `.`.
    pub idle: Option<Duration>,
    /// IDLE TIME as printed.
    pub idle_text: String,
    /// LOGON TIME, parsed (host-local, no zone).
    pub logon_time: Option<LogonTime>,
    /// LOGON TIME as printed.
    pub logon_time_text: String,
    /// The `>` marker.
    pub current: bool,
}

/// A host-local date and time of day, as `query user` prints it (no zone information).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogonTime {
    /// Year.
    pub year: u16,
    /// Month, 1-12.
    pub month: u8,
    /// Day of month.
    pub day: u8,
    /// Hour, 0-23.
    pub hour: u8,
    /// Minute.
    pub minute: u8,
}

impl fmt::Display for LogonTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute
        )
    }
}

/// Session connection state (`WTS_CONNECTSTATE_CLASS`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionState {
    /// `Active`.
    Active,
    /// `Conn`.
    Connected,
    /// `ConnQ`.
    ConnectQuery,
    /// `Shadow`.
    Shadow,
    /// `Disc`.
    Disconnected,
    /// `Idle`.
    Idle,
    /// `Listen`.
    Listen,
    /// `Reset`.
    Reset,
    /// `Down`.
    Down,
    /// `Init`.
    Init,
    /// A word this parser does not know (another language), as printed.
    Other(String),
}

impl SessionState {
    /// Maps a printed state word (English, German, French, Spanish).
    pub fn parse(word: &str) -> Self {
        let w = word.trim();
        match w.to_lowercase().as_str() {
            "active" | "aktiv" | "actif" | "activo" | "wtsactive" => Self::Active,
            "conn" | "connected" | "verb." | "verbunden" | "connecté" | "conectado" => {
                Self::Connected
            }
            "connq" => Self::ConnectQuery,
            "shadow" => Self::Shadow,
            "disc" | "disconnected" | "getr." | "getrennt" | "déco" | "deco" | "déconnecté"
            | "desc" | "desconectado" => Self::Disconnected,
            "idle" | "leerlauf" | "inactif" => Self::Idle,
            "listen" | "abhören" | "écouter" | "ecouter" | "escuchar" => Self::Listen,
            "reset" => Self::Reset,
            "down" => Self::Down,
            "init" => Self::Init,
            _ => Self::Other(w.to_owned()),
        }
    }

    /// The English word `query session` prints (for [`SessionState::Other`], the word given).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Active => "Active",
            Self::Connected => "Conn",
            Self::ConnectQuery => "ConnQ",
            Self::Shadow => "Shadow",
            Self::Disconnected => "Disc",
            Self::Idle => "Idle",
            Self::Listen => "Listen",
            Self::Reset => "Reset",
            Self::Down => "Down",
            Self::Init => "Init",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Output a parser could not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// No header line (a line starting with a space and holding several column labels).
    #[error("no header line in the output")]
    NoHeader,
    /// A row did not have the expected fields.
    #[error("cannot read row {line}: {reason}")]
    BadRow {
        /// The 1-based line number.
        line: usize,
        /// Why.
        reason: &'static str,
    },
}

/// Why a remote session tool failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// The WinRS exchange itself failed.
    #[error("winrs: {0}")]
    Transport(#[from] Error),
    /// The tool refused: ERROR_ACCESS_DENIED (5) or `System error 5`; nothing was changed.
    #[error("access is denied")]
    AccessDenied {
        /// The tool's stderr.
        stderr: String,
    },
    /// No such session (ERROR_CTX_WINSTATION_NOT_FOUND 7022, `No session exists for …`) or, for
    /// `net session`, no session from that computer (NERR 2312).
    #[error("no such session: {target}")]
    NotFound {
        /// What was asked for.
        target: String,
    },
    /// Another failure reported by the tool.
    #[error("{command} failed with exit code {exit_code}{}", code.map(|c| format!(" (error {c})")).unwrap_or_default())]
    Failed {
        /// The command line.
        command: String,
        /// The exit code.
        exit_code: i64,
        /// The Win32 / NET error code when the tool printed one.
        code: Option<u32>,
        /// The tool's stderr.
        stderr: String,
    },
    /// The output could not be parsed.
    #[error("cannot parse {command} output: {source}")]
    Parse {
        /// The command line.
        command: String,
        /// Why.
        source: ParseError,
    },
}

impl ToolError {
    /// Whether the host refused the operation for lack of rights.
    pub fn is_access_denied(&self) -> bool {
        matches!(self, Self::AccessDenied { .. })
    }

    /// Whether the target does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}

/// Lists sessions (`query session [filter]`); a filter naming nothing gives an empty list.
///
/// # Errors
///
/// [`ToolError`]; a refusal is [`ToolError::AccessDenied`].
pub async fn query(shell: &Shell, filter: Option<&str>) -> Result<Vec<RdsSession>, ToolError> {
    let mut args = vec!["session"];
    args.extend(filter);
    let out = shell.exec("query", &args).await?;
    let command = command_line("query", &args);
    if out.exit_code.unwrap_or(0) != 0 {
        return match classify(&command, filter.unwrap_or("*"), &out) {
            ToolError::NotFound { .. } => Ok(Vec::new()),
            e => Err(e),
        };
    }
    parse_query_session(&out.stdout_text()).map_err(|source| ToolError::Parse { command, source })
}

/// Lists logged-on users (`query user [filter]`); nobody logged on gives an empty list.
///
/// # Errors
///
/// As [`query`].
pub async fn users(shell: &Shell, filter: Option<&str>) -> Result<Vec<LoggedOnUser>, ToolError> {
    let mut args = vec!["user"];
    args.extend(filter);
    let out = shell.exec("query", &args).await?;
    let command = command_line("query", &args);
    if out.exit_code.unwrap_or(0) != 0 {
        return match classify(&command, filter.unwrap_or("*"), &out) {
            ToolError::NotFound { .. } => Ok(Vec::new()),
            e => Err(e),
        };
    }
    parse_query_user(&out.stdout_text()).map_err(|source| ToolError::Parse { command, source })
}

/// Shows `text` to a user, a session name or id, or `*` (`msg target /time:N text`).
///
/// # Errors
///
/// As [`query`]; an unknown target is [`ToolError::NotFound`].
pub async fn message(
    shell: &Shell,
    target: &str,
    text: &str,
    display: Option<Duration>,
) -> Result<(), ToolError> {
    let time = display.map(|d| format!("/time:{}", d.as_secs()));
    let mut args = vec![target];
    args.extend(time.as_deref());
    args.extend(text.split_whitespace());
    run_action(shell, "msg", &args, target).await
}

/// Resets (deletes) a session by id or name (`reset session X`); its user loses unsaved work.
///
/// # Errors
///
/// As [`query`]: [`ToolError::AccessDenied`] for another user's session without Full Control
/// (the session is untouched), [`ToolError::NotFound`].
pub async fn reset(shell: &Shell, target: &str) -> Result<(), ToolError> {
    run_action(shell, "reset", &["session", target], target).await
}

/// Logs a session off by id or name (`logoff X`).
///
/// # Errors
///
/// As [`reset`].
pub async fn logoff(shell: &Shell, target: &str) -> Result<(), ToolError> {
    run_action(shell, "logoff", &[target], target).await
}

async fn run_action(
    shell: &Shell,
    command: &str,
    args: &[&str],
    target: &str,
) -> Result<(), ToolError> {
    let out = shell.exec(command, args).await?;
    if out.exit_code.unwrap_or(0) == 0 {
        return Ok(());
    }
    Err(classify(&command_line(command, args), target, &out))
}

pub(crate) fn command_line(command: &str, args: &[&str]) -> String {
    let mut s = command.to_owned();
    for a in args {
        s.push(' ');
        s.push_str(a);
    }
    s
}

/// Turns a failed tool run into a [`ToolError`] from its stderr.
pub(crate) fn classify(command: &str, target: &str, out: &Output) -> ToolError {
    let stderr = out.stderr_text();
    let code = tool_error_code(&stderr).or_else(|| net_error_code(&stderr));
    match code {
        Some(5) => ToolError::AccessDenied { stderr },
        Some(7022 | 2312) => ToolError::NotFound {
            target: target.to_owned(),
        },
        None if stderr.trim_start().starts_with("No ") && stderr.contains(" exists for ") => {
            ToolError::NotFound {
                target: target.to_owned(),
            }
        }
        _ => ToolError::Failed {
            command: command.to_owned(),
            exit_code: out.exit_code.unwrap_or(-1),
            code,
            stderr,
        },
    }
}

/// The code in the Remote Desktop tools' `Error [N]:message` line.
pub fn tool_error_code(stderr: &str) -> Option<u32> {
    stderr.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("Error [")?;
        let (n, _) = rest.split_once(']')?;
        n.trim().parse().ok()
    })
}

/// The code in `net`'s `System error N has occurred.` or `NET HELPMSG N` lines (any language:
/// the number is the only stable part, so the last number of such a line is taken).
pub fn net_error_code(stderr: &str) -> Option<u32> {
    let mut lines = stderr.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next()?;
    if let Some(n) = stderr
        .lines()
        .filter(|l| l.contains("HELPMSG"))
        .find_map(|l| {
            l.split_whitespace()
                .rev()
                .find_map(|w| w.trim_end_matches('.').parse().ok())
        })
    {
        return Some(n);
    }
    // "System error 5 has occurred." / "Systemfehler 5 aufgetreten." / "Erreur système 5."
    first
        .split_whitespace()
        .find_map(|w| w.trim_end_matches('.').parse().ok())
}

/// Parses `query session` / `qwinsta` output.
///
/// # Errors
///
/// [`ParseError`] when there is no header or a row has no id or state.
pub fn parse_query_session(text: &str) -> Result<Vec<RdsSession>, ParseError> {
    let (header_line, header) = find_header(text)?;
    // SESSIONNAME, USERNAME, ID, STATE, TYPE, DEVICE.
    let c_user = header.get(1).copied().unwrap_or(19);
    let c_device = header.get(5).copied();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(header_line + 1) {
        let row: Vec<char> = line.trim_end().chars().collect();
        if row.iter().all(|c| c.is_whitespace()) {
            continue;
        }
        let bad = |reason| ParseError::BadRow {
            line: i + 1,
            reason,
        };
        let current = row.first() == Some(&'>');
        let (name, rest_start) = split_at_column(&row, c_user);
        let (before_id, id, after_id) = split_id(&row, rest_start).ok_or(bad("no session id"))?;
        let mut tail = Tokens::new(&row, after_id);
        let state = tail.next().ok_or(bad("no state"))?;
        let (session_type, device) = match tail.next_with_start() {
            None => (String::new(), String::new()),
            Some((start, _)) if c_device.is_some_and(|c| start >= c) => (
                String::new(),
                slice(&row, start, row.len()).trim().to_owned(),
            ),
            Some((_, word)) => (word, tail.rest().trim().to_owned()),
        };
        out.push(RdsSession {
            name,
            user: slice(&row, rest_start, before_id).trim().to_owned(),
            id,
            state: SessionState::parse(&state),
            session_type,
            device,
            current,
        });
    }
    Ok(out)
}

/// Parses `query user` / `quser` output.
///
/// # Errors
///
/// [`ParseError`] when there is no header or a row has no id or state.
pub fn parse_query_user(text: &str) -> Result<Vec<LoggedOnUser>, ParseError> {
    let (header_line, header) = find_header(text)?;
    // USERNAME, SESSIONNAME, ID, STATE, IDLE TIME, LOGON TIME.
    let c_session = header.get(1).copied().unwrap_or(23);
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(header_line + 1) {
        let row: Vec<char> = line.trim_end().chars().collect();
        if row.iter().all(|c| c.is_whitespace()) {
            continue;
        }
        let bad = |reason| ParseError::BadRow {
            line: i + 1,
            reason,
        };
        let current = row.first() == Some(&'>');
        let (user, rest_start) = split_at_column(&row, c_session);
        let (before_id, id, after_id) = split_id(&row, rest_start).ok_or(bad("no session id"))?;
        let mut tail = Tokens::new(&row, after_id);
        let state = tail.next().ok_or(bad("no state"))?;
        let idle_text = tail.next().ok_or(bad("no idle time"))?;
        let logon_time_text = tail.rest().trim().to_owned();
        out.push(LoggedOnUser {
            user,
            session_name: slice(&row, rest_start, before_id).trim().to_owned(),
            id,
            state: SessionState::parse(&state),
            idle: parse_idle(&idle_text),
            idle_text,
            logon_time: parse_logon_time(&logon_time_text),
            logon_time_text,
            current,
        });
    }
    Ok(out)
}

/// Parses an IDLE TIME cell: `none` (any language: a word without digits) is `None`, `.` is
/// zero, then `M`, `H:MM`, `D+HH:MM`.
pub fn parse_idle(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "." {
        return Some(Duration::ZERO);
    }
    if !s.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    let (days, hm) = match s.split_once('+') {
        Some((d, rest)) => (d.parse::<u64>().ok()?, rest),
        None => (0, s),
    };
    let (hours, minutes) = match hm.split_once(':') {
        Some((h, m)) => (h.parse::<u64>().ok()?, m.parse::<u64>().ok()?),
        None => (0, hm.parse::<u64>().ok()?),
    };
    Some(Duration::from_secs(
        ((days * 24 + hours) * 60 + minutes) * 60,
    ))
}

/// Parses a LOGON TIME cell in the short formats of common locales: `M/d/yyyy h:mm AM|PM`
/// (en-US), `dd.MM.yyyy HH:mm` (de), `dd/MM/yyyy HH:mm` (fr, en-GB: day first when there is no
/// AM/PM), `yyyy-MM-dd HH:mm`. Seconds, if present, are ignored.
pub fn parse_logon_time(s: &str) -> Option<LogonTime> {
    let mut words = s.split_whitespace();
    let date = words.next()?;
    let time = words.next()?;
    let ampm = words.next().map(str::to_ascii_uppercase);
    let nums =
        |t: &str, sep: char| -> Option<Vec<u32>> { t.split(sep).map(|p| p.parse().ok()).collect() };
    let (year, month, day) = if date.contains('-') {
        let v = nums(date, '-')?;
        (*v.first()?, *v.get(1)?, *v.get(2)?)
    } else if date.contains('.') {
        let v = nums(date.trim_end_matches('.'), '.')?;
        (*v.get(2)?, *v.get(1)?, *v.first()?)
    } else {
        let v = nums(date, '/')?;
        if ampm.is_some() {
            (*v.get(2)?, *v.first()?, *v.get(1)?)
        } else {
            (*v.get(2)?, *v.get(1)?, *v.first()?)
        }
    };
    let t = nums(time, ':')?;
    let (mut hour, minute) = (*t.first()?, *t.get(1)?);
    match ampm.as_deref() {
        Some("PM") if hour < 12 => hour += 12,
        Some("AM") if hour == 12 => hour = 0,
        _ => {}
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    Some(LogonTime {
        year: u16::try_from(year).ok()?,
        month: month as u8,
        day: day as u8,
        hour: hour as u8,
        minute: minute as u8,
    })
}

/// The header line (first line starting with a space, not `>`, with at least four labels) and
/// the char index where each label starts. Labels are separated by two or more spaces; a
/// label may hold single spaces (`IDLE TIME`, `NOM UTILISATEUR`).
fn find_header(text: &str) -> Result<(usize, Vec<usize>), ParseError> {
    for (i, line) in text.lines().enumerate() {
        if !line.starts_with(' ') {
            continue;
        }
        let chars: Vec<char> = line.trim_end().chars().collect();
        let mut starts = Vec::new();
        let mut spaces = 2;
        for (j, c) in chars.iter().enumerate() {
            if c.is_whitespace() {
                spaces += 1;
            } else {
                if spaces >= 2 || (j == 1 && starts.is_empty()) {
                    starts.push(j);
                }
                spaces = 0;
            }
        }
        if starts.len() >= 4 && !chars.iter().any(char::is_ascii_digit) {
            return Ok((i, starts));
        }
    }
    Err(ParseError::NoHeader)
}

/// The first column (after the marker) up to `col`, and where the rest starts. When a long
/// first value runs into the next column, the split falls at the next whitespace instead.
fn split_at_column(row: &[char], col: usize) -> (String, usize) {
    let mut cut = col.min(row.len());
    while cut < row.len() && cut > 1 && row.get(cut - 1).is_some_and(|c| !c.is_whitespace()) {
        cut += 1;
    }
    (slice(row, 1, cut).trim().to_owned(), cut)
}

/// Finds the first all-digit word at or after `from`: (its start, value, its end).
fn split_id(row: &[char], from: usize) -> Option<(usize, u32, usize)> {
    let mut t = Tokens::new(row, from);
    while let Some((start, word)) = t.next_with_start() {
        if word.chars().all(|c| c.is_ascii_digit()) {
            return Some((start, word.parse().ok()?, t.pos));
        }
    }
    None
}

fn slice(row: &[char], from: usize, to: usize) -> String {
    row.get(from.min(row.len())..to.min(row.len()))
        .unwrap_or_default()
        .iter()
        .collect()
}

struct Tokens<'a> {
    row: &'a [char],
    pos: usize,
}

impl<'a> Tokens<'a> {
    fn new(row: &'a [char], pos: usize) -> Self {
        Self { row, pos }
    }

    fn next_with_start(&mut self) -> Option<(usize, String)> {
        while self.row.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
        let start = self.pos;
        while self.row.get(self.pos).is_some_and(|c| !c.is_whitespace()) {
            self.pos += 1;
        }
        (self.pos > start).then(|| (start, slice(self.row, start, self.pos)))
    }

    fn next(&mut self) -> Option<String> {
        self.next_with_start().map(|(_, w)| w)
    }

    fn rest(&self) -> String {
        slice(self.row, self.pos, self.row.len())
    }
}

/// Which logged-on sessions a policy applies to (all conditions must hold).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// Only sessions in this state (`--state Disc`).
    pub state: Option<SessionState>,
    /// Only sessions idle for longer than this (`none` counts as not idle).
    pub idle_longer_than: Option<Duration>,
    /// Only this user's sessions (case-insensitive; a `DOMAIN\` prefix is ignored).
    pub user: Option<String>,
}

impl SessionFilter {
    /// Whether `u` is selected.
    pub fn matches(&self, u: &LoggedOnUser) -> bool {
        if self.state.as_ref().is_some_and(|s| *s != u.state) {
            return false;
        }
        if let Some(limit) = self.idle_longer_than
            && u.idle.is_none_or(|idle| idle <= limit)
        {
            return false;
        }
        if let Some(want) = &self.user {
            let want = want.rsplit('\\').next().unwrap_or(want);
            if !u.user.eq_ignore_ascii_case(want) {
                return false;
            }
        }
        true
    }
}

/// What a sweep does to each selected session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SweepAction {
    /// `reset session`.
    Reset,
    /// `logoff`.
    Logoff,
}

/// A warning shown before acting: the message, then a wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The text sent with `msg`.
    pub text: String,
    /// How long to wait between the message and the action (also the message's display time).
    pub grace: Duration,
}

/// "Find the sessions matching a filter, warn their users, wait, then reset them."
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepPlan {
    /// Which sessions.
    pub filter: SessionFilter,
    /// What to do to them.
    pub action: SweepAction,
    /// Warn first.
    pub warning: Option<Warning>,
    /// Only report what would be done: nothing is sent or changed.
    pub dry_run: bool,
}

/// What a sweep did on one host.
#[derive(Debug)]
pub struct SweepOutcome {
    /// The sessions the filter selected.
    pub selected: Vec<LoggedOnUser>,
    /// Sessions that were warned.
    pub warned: Vec<u32>,
    /// Sessions reset or logged off.
    pub done: Vec<u32>,
    /// Sessions the action failed on (the others were still tried).
    pub failed: Vec<(u32, ToolError)>,
}

/// Runs `plan` on the host behind `shell`. Per-session failures (another user's session
/// without rights, a session that ended meanwhile) are collected, not fatal.
///
/// # Errors
///
/// Listing the sessions failed.
pub async fn sweep(shell: &Shell, plan: &SweepPlan) -> Result<SweepOutcome, ToolError> {
    let selected: Vec<LoggedOnUser> = users(shell, None)
        .await?
        .into_iter()
        .filter(|u| plan.filter.matches(u))
        .collect();
    let mut outcome = SweepOutcome {
        selected,
        warned: Vec::new(),
        done: Vec::new(),
        failed: Vec::new(),
    };
    if plan.dry_run || outcome.selected.is_empty() {
        return Ok(outcome);
    }
    let ids: Vec<u32> = outcome.selected.iter().map(|u| u.id).collect();
    if let Some(w) = &plan.warning {
        for id in &ids {
            match message(shell, &id.to_string(), &w.text, Some(w.grace)).await {
                Ok(()) => outcome.warned.push(*id),
                Err(e) => outcome.failed.push((*id, e)),
            }
        }
        tokio::time::sleep(w.grace).await;
    }
    for id in ids {
        if outcome.failed.iter().any(|(f, _)| *f == id) {
            continue;
        }
        let target = id.to_string();
        let r = match plan.action {
            SweepAction::Reset => reset(shell, &target).await,
            SweepAction::Logoff => logoff(shell, &target).await,
        };
        match r {
            Ok(()) => outcome.done.push(id),
            Err(e) => outcome.failed.push((id, e)),
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_forms() {
        assert_eq!(parse_idle("none"), None);
        assert_eq!(parse_idle("Kein"), None);
        assert_eq!(parse_idle("."), Some(Duration::ZERO));
        assert_eq!(parse_idle("3"), Some(Duration::from_secs(180)));
        assert_eq!(parse_idle("1:05"), Some(Duration::from_secs(65 * 60)));
        assert_eq!(
            parse_idle("1+02:03"),
            Some(Duration::from_secs(((24 + 2) * 60 + 3) * 60))
        );
        assert_eq!(parse_idle("x:y"), None);
    }

    #[test]
    fn logon_time_forms() {
        let t = |y, mo, d, h, mi| LogonTime {
            year: y,
            month: mo,
            day: d,
            hour: h,
            minute: mi,
        };
        assert_eq!(
            parse_logon_time("1/30/2020 4:27 PM"),
            Some(t(2020, 1, 30, 16, 27))
        );
        assert_eq!(
            parse_logon_time("1/30/2020 12:05 AM"),
            Some(t(2020, 1, 30, 0, 5))
        );
        assert_eq!(
            parse_logon_time("30.01.2020 16:27"),
            Some(t(2020, 1, 30, 16, 27))
        );
        assert_eq!(
            parse_logon_time("30/01/2020 16:27"),
            Some(t(2020, 1, 30, 16, 27))
        );
        assert_eq!(
            parse_logon_time("2020-01-30 16:27"),
            Some(t(2020, 1, 30, 16, 27))
        );
        assert_eq!(parse_logon_time("13/13/2020 10:00"), None);
        assert_eq!(parse_logon_time(""), None);
    }

    #[test]
    fn error_codes() {
        assert_eq!(
            tool_error_code(
                "Could not reset session ID 3, Error code 5\r\nError [5]:Access is denied.\r\n"
            ),
            Some(5)
        );
        assert_eq!(
            net_error_code("System error 5 has occurred.\r\n\r\nAccess is denied.\r\n"),
            Some(5)
        );
        assert_eq!(
            net_error_code(
                "A session does not exist with that computer name.\r\n\r\nMore help is available by typing NET HELPMSG 2312.\r\n"
            ),
            Some(2312)
        );
    }
}
