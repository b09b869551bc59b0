//! The cmd tools over the session table: `query session|user` (`qwinsta`, `quser`),
//! `reset session` (`rwinsta`), `logoff`, `msg` and `net session`, printing what Windows prints
//! (column layout, `>` marker of the current session, error lines `Error [N]:text`, exit codes).
//!
//! A WinRS command runs in session 0 (`services`), so that is the current session: `query
//! session` marks `>services`, and `logoff` without an argument targets it.

use std::time::{Duration, SystemTime};

use super::{Actor, RdsSession, RdsState, SharedSessions, SmbSession};
use crate::engine::context::EngineContext;
use crate::engine::host::{EngineHost, Stopped, StreamRecord};
use crate::engine::time::DateTime;

/// The session WinRS commands run in.
const CURRENT_SESSION: u32 = 0;

/// Whether `name` (lowercase, without `.exe`) is one of the commands handled here.
pub fn handles(name: &str, rest: &str) -> bool {
    match name {
        "qwinsta" | "quser" | "rwinsta" | "logoff" | "msg" => true,
        "query" => {
            let w = first_word(rest);
            ["session", "user"]
                .iter()
                .any(|k| w.eq_ignore_ascii_case(k))
        }
        "reset" => first_word(rest).eq_ignore_ascii_case("session"),
        "net" | "net1" => {
            let w = first_word(rest);
            w.eq_ignore_ascii_case("session") || w.eq_ignore_ascii_case("sessions")
        }
        _ => false,
    }
}

/// Runs one of the commands [`handles`] accepts; returns the exit code.
///
/// # Errors
///
/// [`Stopped`] when the host stopped the command.
pub fn run(
    name: &str,
    rest: &str,
    ctx: &EngineContext,
    host: &dyn EngineHost,
) -> Result<i32, Stopped> {
    let args: Vec<&str> = rest.split_whitespace().collect();
    let tool = Tool { ctx, host };
    match name {
        "qwinsta" => tool.query_session(&args),
        "quser" => tool.query_user(&args),
        "rwinsta" => tool.reset(&args),
        "logoff" => tool.logoff(&args),
        "msg" => tool.msg(rest),
        "query" => {
            let sub = args.first().copied().unwrap_or_default();
            let tail = args.get(1..).unwrap_or_default();
            if sub.eq_ignore_ascii_case("user") {
                tool.query_user(tail)
            } else {
                tool.query_session(tail)
            }
        }
        "reset" => tool.reset(args.get(1..).unwrap_or_default()),
        _ => tool.net_session(args.get(1..).unwrap_or_default()),
    }
}

struct Tool<'a> {
    ctx: &'a EngineContext,
    host: &'a dyn EngineHost,
}

/// Parsed `[target] [/server:S] [/v] [/time:N] …`.
#[derive(Default)]
struct Switches<'a> {
    positional: Vec<&'a str>,
    server: Option<&'a str>,
    verbose: bool,
    time: Option<&'a str>,
    other: Vec<&'a str>,
}

fn switches<'a>(args: &[&'a str]) -> Switches<'a> {
    let mut s = Switches::default();
    for a in args {
        let lower = a.to_ascii_lowercase();
        if let Some(v) = strip_switch(a, &lower, "server:") {
            s.server = Some(v);
        } else if let Some(v) = strip_switch(a, &lower, "time:") {
            s.time = Some(v);
        } else if lower == "/v" || lower == "-v" {
            s.verbose = true;
        } else if a.starts_with('/') {
            s.other.push(a);
        } else {
            s.positional.push(a);
        }
    }
    s
}

fn strip_switch<'a>(a: &'a str, lower: &str, key: &str) -> Option<&'a str> {
    let body = lower
        .strip_prefix('/')
        .or_else(|| lower.strip_prefix('-'))?;
    body.starts_with(key)
        .then(|| a.get(1 + key.len()..).unwrap_or_default())
}

impl Tool<'_> {
    fn out(&self, s: String) -> Result<(), Stopped> {
        self.host.emit(StreamRecord::StdOut(s))
    }

    fn err(&self, s: String) -> Result<(), Stopped> {
        self.host.emit(StreamRecord::StdErr(s))
    }

    fn now(&self) -> SystemTime {
        self.host.now()
    }

    fn table(&self) -> &SharedSessions {
        &self.ctx.sessions
    }

    fn actor(&self) -> Actor {
        Actor {
            user: self.ctx.user_name.clone(),
            is_admin: self.ctx.is_admin,
        }
    }

    /// `/server:` naming another machine: the emulator reaches no other host.
    fn check_server(&self, server: Option<&str>) -> Result<Option<i32>, Stopped> {
        let Some(s) = server else { return Ok(None) };
        let s = s.trim_start_matches('\\');
        let me = &self.ctx.computer_name;
        if s.eq_ignore_ascii_case(me)
            || s.eq_ignore_ascii_case("localhost")
            || s == "."
            || s == "127.0.0.1"
        {
            return Ok(None);
        }
        self.err(format!(
            "Error opening Terminal server {s}\r\nError [1722]:The RPC server is unavailable.\r\n"
        ))?;
        Ok(Some(1))
    }

    fn query_session(&self, args: &[&str]) -> Result<i32, Stopped> {
        let sw = switches(args);
        if sw.other.contains(&"/?") {
            self.out(QUERY_SESSION_HELP.to_owned())?;
            return Ok(0);
        }
        if let Some(code) = self.check_server(sw.server)? {
            return Ok(code);
        }
        let filter = sw.positional.first().copied();
        let table = self.table().lock();
        let rows = table.query(filter);
        if rows.is_empty() {
            drop(table);
            self.err(format!(
                "No session exists for {}\r\n",
                filter.unwrap_or("*")
            ))?;
            return Ok(1);
        }
        let mut text = String::from(QUERY_SESSION_HEADER);
        text.push_str("\r\n");
        for s in rows {
            text.push_str(&session_row(s));
            text.push_str("\r\n");
        }
        drop(table);
        self.out(text)?;
        Ok(0)
    }

    fn query_user(&self, args: &[&str]) -> Result<i32, Stopped> {
        let sw = switches(args);
        if let Some(code) = self.check_server(sw.server)? {
            return Ok(code);
        }
        let filter = sw.positional.first().copied();
        let now = self.now();
        let table = self.table().lock();
        let rows: Vec<&RdsSession> = table
            .query(filter)
            .into_iter()
            .filter(|s| s.has_user())
            .collect();
        if rows.is_empty() {
            drop(table);
            self.err(format!("No User exists for {}\r\n", filter.unwrap_or("*")))?;
            return Ok(1);
        }
        let mut text = String::from(QUERY_USER_HEADER);
        text.push_str("\r\n");
        for s in rows {
            text.push_str(&user_row(s, now, self.ctx.utc_offset_minutes));
            text.push_str("\r\n");
        }
        drop(table);
        self.out(text)?;
        Ok(0)
    }

    fn reset(&self, args: &[&str]) -> Result<i32, Stopped> {
        let sw = switches(args);
        let Some(target) = sw.positional.first().copied() else {
            self.err(format!("Invalid parameter(s)\r\n{RESET_HELP}"))?;
            return Ok(1);
        };
        if let Some(code) = self.check_server(sw.server)? {
            return Ok(code);
        }
        let now = self.now();
        let mut table = self.table().lock();
        let id = match table.resolve(target) {
            Ok(s) => s.id,
            Err(e) => {
                drop(table);
                self.err(format!(
                    "Could not reset session {target}, Error code {code}\r\nError [{code}]:{msg}\r\n",
                    code = e.code(),
                    msg = e.message()
                ))?;
                return Ok(1);
            }
        };
        // Output is written after the table is unlocked: a full output buffer may block.
        let result = table.reset(id, &self.actor(), now);
        drop(table);
        if sw.verbose {
            self.out(format!("Resetting session ID {id}\r\n"))?;
        }
        match result {
            Ok(_) => {
                if sw.verbose {
                    self.out(format!("Session ID {id} has been reset\r\n"))?;
                }
                Ok(0)
            }
            Err(e) => {
                self.err(format!(
                    "Could not reset session ID {id}, Error code {code}\r\nError [{code}]:{msg}\r\n",
                    code = e.code(),
                    msg = e.message()
                ))?;
                Ok(1)
            }
        }
    }

    fn logoff(&self, args: &[&str]) -> Result<i32, Stopped> {
        let sw = switches(args);
        if let Some(code) = self.check_server(sw.server)? {
            return Ok(code);
        }
        let now = self.now();
        let mut table = self.table().lock();
        let current = table
            .rds()
            .iter()
            .find(|s| s.id == CURRENT_SESSION)
            .map_or_else(|| "services".to_owned(), |s| s.name.clone());
        let target = sw.positional.first().copied();
        let resolved = match target {
            Some(t) => table.resolve(t).map(|s| s.id),
            None => Ok(CURRENT_SESSION),
        };
        let id = match resolved {
            Ok(id) => id,
            Err(e) => {
                drop(table);
                let what = target.unwrap_or_default();
                self.err(format!(
                    "Could not logoff session {what} from session {current}, Error code {code}\r\nError [{code}]:{msg}\r\n",
                    code = e.code(),
                    msg = e.message()
                ))?;
                return Ok(1);
            }
        };
        let result = table.logoff(id, &self.actor(), now);
        drop(table);
        if sw.verbose {
            self.out(format!("Logging off session ID {id}\r\n"))?;
        }
        match result {
            Ok(_) => Ok(0),
            Err(e) => {
                self.err(format!(
                    "Could not logoff session ID {id} from session {current}, Error code {code}\r\nError [{code}]:{msg}\r\n",
                    code = e.code(),
                    msg = e.message()
                ))?;
                Ok(1)
            }
        }
    }

    fn msg(&self, rest: &str) -> Result<i32, Stopped> {
        // msg {user|session|id|*} [/server:S] [/time:N] [/v] [/w] message…
        let mut words = rest.split_whitespace().peekable();
        let Some(target) = words.next() else {
            self.err(MSG_HELP.to_owned())?;
            return Ok(1);
        };
        let mut opts = Vec::new();
        while let Some(w) = words.peek() {
            if w.starts_with('/') {
                opts.push(*w);
                words.next();
            } else {
                break;
            }
        }
        let text = words.collect::<Vec<_>>().join(" ");
        let sw = switches(&opts);
        if let Some(code) = self.check_server(sw.server)? {
            return Ok(code);
        }
        if text.is_empty() {
            self.err(MSG_HELP.to_owned())?;
            return Ok(1);
        }
        let seconds = match sw.time {
            None => 60,
            Some(t) => match t.parse::<u32>() {
                Ok(n) => n,
                Err(_) => {
                    self.err(MSG_HELP.to_owned())?;
                    return Ok(1);
                }
            },
        };
        let now = self.now();
        let mut table = self.table().lock();
        let ids: Vec<u32> = if target == "*" {
            table
                .rds()
                .iter()
                .filter(|s| s.has_user())
                .map(|s| s.id)
                .collect()
        } else {
            table
                .query(Some(target))
                .into_iter()
                .filter(|s| s.state != RdsState::Listen && s.id != CURRENT_SESSION)
                .map(|s| s.id)
                .collect()
        };
        if ids.is_empty() && target != "*" {
            drop(table);
            self.err(format!("No session exists for {target}\r\n"))?;
            return Ok(1);
        }
        let mut lines = String::new();
        let from = self.ctx.user_name.clone();
        for id in ids {
            if let Ok(name) = table.message(id, &from, &text, seconds, now)
                && sw.verbose
            {
                // msg names the WinStation as registered (`Console`, `RDP-Tcp#2`), where
                // query session prints it lowercased.
                let name = winstation_display_name(&name);
                lines.push_str(&format!(
                    "Sending message to session {name}, display time {seconds}\r\nAsync message sent to session {name}\r\n"
                ));
            }
        }
        drop(table);
        if !lines.is_empty() {
            self.out(lines)?;
        }
        Ok(0)
    }

    fn net_session(&self, args: &[&str]) -> Result<i32, Stopped> {
        if !self.ctx.is_admin {
            self.err("System error 5 has occurred.\r\n\r\nAccess is denied.\r\n\r\n".to_owned())?;
            return Ok(2);
        }
        let mut client = None;
        let mut delete = false;
        let mut yes = false;
        for a in args {
            let l = a.to_ascii_lowercase();
            if let Some(c) = a.strip_prefix("\\\\") {
                client = Some(c);
            } else if l.starts_with("/d") {
                delete = true;
            } else if l == "/y" || l == "/yes" {
                yes = true;
            } else if l == "/n" || l == "/no" {
                yes = false;
            } else {
                self.err(
                    "The syntax of this command is:\r\n\r\nNET SESSION\r\n[\\\\computername] [/DELETE] [/LIST]\r\n\r\n"
                        .to_owned(),
                )?;
                return Ok(1);
            }
        }
        let now = self.now();
        let mut table = self.table().lock();
        let matches = |s: &SmbSession, c: &str| s.client.eq_ignore_ascii_case(c);
        if delete {
            let selected: Vec<&SmbSession> = table
                .smb()
                .iter()
                .filter(|s| client.is_none_or(|c| matches(s, c)))
                .collect();
            if let Some(c) = client {
                if selected.is_empty() {
                    drop(table);
                    self.err(NERR_CLIENT_NAME_NOT_FOUND.to_owned())?;
                    return Ok(2);
                }
                let open = selected.iter().any(|s| s.open_files > 0);
                if open && !yes {
                    drop(table);
                    self.out(format!(
                        "The session from {c} has open files.\r\n\r\nDo you want to continue this operation? (Y/N) [N]: \r\n"
                    ))?;
                    return Ok(2);
                }
            } else if !selected.is_empty() && !yes {
                drop(table);
                self.out(
                    "You have these remote sessions:\r\n\r\nThe sessions will be closed.\r\n\r\nDo you want to continue this operation? (Y/N) [N]: \r\n"
                        .to_owned(),
                )?;
                return Ok(2);
            }
            let by = self.ctx.user_name.clone();
            table.close_smb(&by, now, |s| client.is_none_or(|c| matches(s, c)));
            drop(table);
            self.out("The command completed successfully.\r\n\r\n".to_owned())?;
            return Ok(0);
        }
        if let Some(c) = client {
            let Some(s) = table.smb().iter().find(|s| matches(s, c)).cloned() else {
                drop(table);
                self.err(NERR_CLIENT_NAME_NOT_FOUND.to_owned())?;
                return Ok(2);
            };
            drop(table);
            self.out(session_detail(&s, now))?;
            return Ok(0);
        }
        if table.smb().is_empty() {
            drop(table);
            self.out("There are no entries in the list.\r\n\r\n".to_owned())?;
            return Ok(0);
        }
        let mut text = format!("\r\n{NET_SESSION_HEADER}\r\n\r\n{}\r\n", "-".repeat(79));
        for s in table.smb() {
            text.push_str(&net_row(s, now));
            text.push_str("\r\n");
        }
        drop(table);
        text.push_str("The command completed successfully.\r\n\r\n");
        self.out(text)?;
        Ok(0)
    }
}

/// `query session`'s header line.
pub const QUERY_SESSION_HEADER: &str =
    " SESSIONNAME       USERNAME                 ID  STATE   TYPE        DEVICE";
/// `query user`'s header line.
pub const QUERY_USER_HEADER: &str =
    " USERNAME              SESSIONNAME        ID  STATE   IDLE TIME  LOGON TIME";
/// `net session`'s header line.
pub const NET_SESSION_HEADER: &str =
    "Computer               User name            Client Type       Opens Idle time";

const NERR_CLIENT_NAME_NOT_FOUND: &str = "A session does not exist with that computer name.\r\n\r\nMore help is available by typing NET HELPMSG 2312.\r\n\r\n";

const QUERY_SESSION_HELP: &str = "Display information about Remote Desktop Sessions.\r\n\r\nQUERY SESSION [sessionname | username | sessionid]\r\n              [/SERVER:servername] [/MODE] [/FLOW] [/CONNECT] [/COUNTER] [/VM]\r\n\r\n  sessionname         Identifies the session named sessionname.\r\n  username            Identifies the session with user username.\r\n  sessionid           Identifies the session with ID sessionid.\r\n  /SERVER:servername  The server to be queried (default is current).\r\n";

const RESET_HELP: &str = "Reset the session subsytem hardware and software to known initial values.\r\n\r\nRESET SESSION {sessionname | sessionid} [/SERVER:servername] [/V]\r\n\r\n  sessionname         Identifies the session with name sessionname.\r\n  sessionid           Identifies the session with ID sessionid.\r\n  /SERVER:servername  The server containing the session (default is current).\r\n  /V                  Display additional information.\r\n";

const MSG_HELP: &str = "Send a message to a user.\r\n\r\nMSG {username | sessionname | sessionid | @filename | *}\r\n    [/SERVER:servername] [/TIME:seconds] [/V] [/W] [message]\r\n";

/// One `query session` row: marker, name (18), user (20), id (7, right), state (8), type (12),
/// device.
pub fn session_row(s: &RdsSession) -> String {
    let marker = if s.id == CURRENT_SESSION { '>' } else { ' ' };
    let row = format!(
        "{marker}{:<18}{:<20}{:>7}  {:<8}{:<12}",
        truncate(&s.name, 18),
        truncate(&s.user, 20),
        s.id,
        s.state.as_str(),
        ""
    );
    row.trim_end().to_owned()
}

/// One `query user` row: marker, user (22), session name (19), id (2, right), state (6), idle
/// time (9, right, `none` padded as Windows pads it), logon time.
pub fn user_row(s: &RdsSession, now: SystemTime, utc_offset_minutes: i32) -> String {
    let marker = if s.id == CURRENT_SESSION { '>' } else { ' ' };
    let idle = match s.idle(now) {
        None => "none ".to_owned(),
        Some(d) => idle_text(d),
    };
    let logon = s.logon_time.map_or_else(String::new, |t| {
        DateTime::from_system_time(t, utc_offset_minutes).format("M/d/yyyy h:mm tt")
    });
    format!(
        "{marker}{:<22}{:<19}{:>2}  {:<6}{:>11}  {logon}",
        truncate(&s.user, 20),
        truncate(&s.name, 18),
        s.id,
        s.state.as_str(),
        idle
    )
}

/// `query user`'s IDLE TIME: `.` under a minute, `M`, `H:MM`, `D+HH:MM`.
pub fn idle_text(d: Duration) -> String {
    let minutes = d.as_secs() / 60;
    if minutes == 0 {
        return ".".to_owned();
    }
    let (days, hours, mins) = (minutes / 1440, (minutes / 60) % 24, minutes % 60);
    if days > 0 {
        format!("{days}+{hours:02}:{mins:02}")
    } else if hours > 0 {
        format!("{hours}:{mins:02}")
    } else {
        mins.to_string()
    }
}

/// `net session`'s idle time: `HH:MM:SS`, or `DDD HHH MMM` style (`05D 22H 02M`) past a day.
pub fn net_time(d: Duration) -> String {
    let s = d.as_secs();
    let (days, h, m, sec) = (s / 86_400, (s / 3600) % 24, (s / 60) % 60, s % 60);
    if days > 0 {
        format!("{days:02}D {h:02}H {m:02}M")
    } else {
        format!("{h:02}:{m:02}:{sec:02}")
    }
}

fn net_row(s: &SmbSession, now: SystemTime) -> String {
    let idle = net_time(now.duration_since(s.last_active).unwrap_or_default());
    format!(
        "{:<23}{:<21}{:<18}{:>5} {:<12}",
        format!("\\\\{}", s.client),
        truncate(&s.user, 20),
        "",
        s.open_files,
        idle
    )
}

fn session_detail(s: &SmbSession, now: SystemTime) -> String {
    let sess = net_time(now.duration_since(s.connected_at).unwrap_or_default());
    let idle = net_time(now.duration_since(s.last_active).unwrap_or_default());
    let mut t = String::new();
    for (k, v) in [
        ("User name", s.user.as_str()),
        ("Computer", s.client.as_str()),
        ("Guest logon", "No"),
        ("Client type", ""),
        ("Sess time", sess.as_str()),
        ("Idle time", idle.as_str()),
    ] {
        t.push_str(format!("{k:<16}{v}").trim_end());
        t.push_str("\r\n");
    }
    t.push_str("\r\nShare name     Type     # Opens\r\n\r\n");
    t.push_str(&"-".repeat(38));
    t.push_str("\r\n");
    t.push_str(&format!("{:<15}{:<9}{}\r\n", "IPC$", "IPC", 0));
    if s.open_files > 0 {
        t.push_str(&format!("{:<15}{:<9}{}\r\n", "Users", "Disk", s.open_files));
    }
    t.push_str("The command completed successfully.\r\n\r\n");
    t
}

/// A WinStation name as the system registers it: `Console`, `RDP-Tcp#6`, `Services`.
pub fn winstation_display_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("rdp-tcp") {
        return format!("RDP-Tcp{rest}");
    }
    match lower.as_str() {
        "console" => "Console".to_owned(),
        "services" => "Services".to_owned(),
        _ => name.to_owned(),
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn first_word(s: &str) -> &str {
    s.split_whitespace().next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_forms() {
        assert_eq!(idle_text(Duration::from_secs(30)), ".");
        assert_eq!(idle_text(Duration::from_secs(3 * 60)), "3");
        assert_eq!(idle_text(Duration::from_secs(65 * 60)), "1:05");
        assert_eq!(
            idle_text(Duration::from_secs((3 * 1440 + 13 * 60 + 42) * 60)),
            "3+13:42"
        );
        assert_eq!(net_time(Duration::from_secs(7)), "00:00:07");
        assert_eq!(
            net_time(Duration::from_secs(5 * 86_400 + 22 * 3600 + 2 * 60)),
            "05D 22H 02M"
        );
    }

    #[test]
    fn rows_line_up_with_windows_columns() {
        let s = RdsSession {
            id: 65536,
            name: "rdp-tcp".into(),
            user: String::new(),
            state: RdsState::Listen,
            last_input: None,
            logon_time: None,
            unsaved_work: false,
            messages: Vec::new(),
        };
        // Captured layout: ` rdp-tcp                                 65536  Listen`.
        assert_eq!(
            session_row(&s),
            " rdp-tcp                                 65536  Listen"
        );
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_580_401_620);
        let u = RdsSession {
            id: 4,
            name: "rdp-tcp#4".into(),
            user: "adm-ajaney".into(),
            state: RdsState::Active,
            last_input: Some(t),
            logon_time: Some(t),
            unsaved_work: true,
            messages: Vec::new(),
        };
        assert_eq!(
            user_row(&u, t, 0),
            " adm-ajaney            rdp-tcp#4           4  Active          .  1/30/2020 4:27 PM"
        );
        let none = RdsSession {
            last_input: None,
            ..u
        };
        assert!(user_row(&none, t, 0).contains("Active      none   1/30/2020"));
    }
}
