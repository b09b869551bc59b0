//! Interactive logon sessions (Remote Desktop: `services`, `console`, `rdp-tcp#N`, listeners) and
//! network (SMB) sessions of the emulated host, shared by every shell of one emulator and changed
//! by the commands of [`cmd`] (`query session`, `reset session`, `logoff`, `msg`, `net session`)
//! and [`smb`] (`Get-SmbSession`, `Close-SmbSession`). SPEC A2 / A3 / C1.
//!
//! The table holds absolute times (logon, last input) so idle times grow as the clock runs;
//! every operation takes `now`. Permissions follow Windows: anyone may reset or log off their
//! own sessions, another user's needs an administrator; a refusal changes nothing. A reset or
//! logoff of a session with unsaved work is recorded in [`SessionsTable::events`] with
//! `lost_unsaved_work`, so tests (in-process) and clients (`Get-WinEvent` on
//! [`SESSION_LOG`]) can see what was lost.
//!
//! ```text
//!  Config [[rds_sessions]] / [[smb_sessions]] ──► SessionsTable (one per emulator, lazily)
//!        WinRS shell / runspace ── EngineContext.sessions (SharedSessions) ──┘
//!  query/qwinsta/quser ─ read      reset/rwinsta/logoff/msg/net session /delete ─ write + events
//! ```

pub mod cmd;
pub mod smb;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use crate::config::Config;

/// Event log the emulator writes session resets and logoffs to (read with `Get-WinEvent`).
pub const SESSION_LOG: &str = "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational";

/// Id of the first listener session, as Windows numbers them.
pub const LISTENER_ID: u32 = 65536;

/// Connection state of a logon session (`WTS_CONNECTSTATE_CLASS`), with the short words
/// `query session` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RdsState {
    /// `Active`: a user is logged on and connected.
    Active,
    /// `Conn`: connected, nobody logged on.
    Connected,
    /// `ConnQ`: connecting.
    ConnectQuery,
    /// `Shadow`.
    Shadow,
    /// `Disc`: logged on, client disconnected.
    Disconnected,
    /// `Idle`: waiting for a client.
    Idle,
    /// `Listen`: a listener.
    Listen,
    /// `Reset`.
    Reset,
    /// `Down`.
    Down,
    /// `Init`.
    Init,
}

impl RdsState {
    /// The word `query session` prints.
    pub fn as_str(self) -> &'static str {
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
        }
    }

    /// Parses the short word (or the long `WTS` name), case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        Some(match s.as_str() {
            "active" | "wtsactive" => Self::Active,
            "conn" | "connected" | "wtsconnected" => Self::Connected,
            "connq" | "wtsconnectquery" => Self::ConnectQuery,
            "shadow" | "wtsshadow" => Self::Shadow,
            "disc" | "disconnected" | "wtsdisconnected" => Self::Disconnected,
            "idle" | "wtsidle" => Self::Idle,
            "listen" | "wtslisten" => Self::Listen,
            "reset" | "wtsreset" => Self::Reset,
            "down" | "wtsdown" => Self::Down,
            "init" | "wtsinit" => Self::Init,
            _ => return None,
        })
    }
}

impl fmt::Display for RdsState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One interactive logon session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdsSession {
    /// Session id.
    pub id: u32,
    /// WinStation name (`services`, `console`, `rdp-tcp#6`, `rdp-tcp`); empty for a
    /// disconnected session, as `query session` shows it.
    pub name: String,
    /// Logged-on user (empty for `services`, listeners, an idle console).
    pub user: String,
    /// Connection state.
    pub state: RdsState,
    /// Time of the last input; `None` prints as `none` in `query user`.
    pub last_input: Option<SystemTime>,
    /// Logon time (user sessions).
    pub logon_time: Option<SystemTime>,
    /// Whether the user has unsaved work a reset or logoff would lose.
    pub unsaved_work: bool,
    /// Messages `msg` delivered to this session.
    pub messages: Vec<SessionMessage>,
}

impl RdsSession {
    /// Whether a user is logged on (what `query user` lists).
    pub fn has_user(&self) -> bool {
        !self.user.is_empty()
    }

    /// Idle time at `now` (`None` when unknown).
    pub fn idle(&self, now: SystemTime) -> Option<Duration> {
        self.last_input
            .map(|t| now.duration_since(t).unwrap_or_default())
    }
}

/// A message shown in a session by `msg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionMessage {
    /// When it was sent.
    pub time: SystemTime,
    /// The sender's account.
    pub from: String,
    /// The text.
    pub text: String,
    /// `/time:` in seconds.
    pub display_seconds: u32,
}

/// One network session to this server (`NetSessionEnum` / `MSFT_SmbSession`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmbSession {
    /// `SessionId` (Get-SmbSession).
    pub session_id: u64,
    /// Client computer name or address (without `\\`).
    pub client: String,
    /// Account name (without domain).
    pub user: String,
    /// Open files.
    pub open_files: u32,
    /// When the session was established.
    pub connected_at: SystemTime,
    /// Last activity.
    pub last_active: SystemTime,
    /// SMB dialect (`3.1.1`).
    pub dialect: String,
}

/// What happened to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEventKind {
    /// `reset session` / `rwinsta`.
    Reset,
    /// `logoff`.
    Logoff,
    /// `msg`.
    Message,
    /// `net session /delete` / `Close-SmbSession`.
    SmbClosed,
}

/// A record of a change to the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEvent {
    /// When.
    pub time: SystemTime,
    /// What.
    pub kind: SessionEventKind,
    /// The session id (SMB session id for [`SessionEventKind::SmbClosed`]).
    pub session_id: u64,
    /// Session name, or the client for SMB sessions.
    pub session_name: String,
    /// The session's user.
    pub user: String,
    /// Who did it.
    pub by: String,
    /// The session's unsaved work was lost.
    pub lost_unsaved_work: bool,
    /// Message text (for `msg`).
    pub text: Option<String>,
}

/// Who asks for an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Account name.
    pub user: String,
    /// Member of Administrators (Full Control on every session).
    pub is_admin: bool,
}

impl Actor {
    fn may_manage(&self, owner: &str) -> bool {
        self.is_admin || (!owner.is_empty() && owner.eq_ignore_ascii_case(&self.user))
    }
}

/// Why an operation on a logon session failed, with the Win32 code the tools print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionError {
    /// ERROR_ACCESS_DENIED (5).
    AccessDenied,
    /// ERROR_CTX_WINSTATION_NOT_FOUND (7022).
    NotFound,
}

impl SessionError {
    /// The Win32 error code.
    pub fn code(self) -> u32 {
        match self {
            Self::AccessDenied => 5,
            Self::NotFound => 7022,
        }
    }

    /// The system message for the code.
    pub fn message(self) -> &'static str {
        match self {
            Self::AccessDenied => "Access is denied.",
            Self::NotFound => "The specified session cannot be found.",
        }
    }
}

/// The state of every session on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionsTable {
    rds: Vec<RdsSession>,
    smb: Vec<SmbSession>,
    events: Vec<SessionEvent>,
    next_smb_id: u64,
}

impl SessionsTable {
    /// A fresh host: `services` (0, Disc), `console` (1, Conn) and the `rdp-tcp` listener.
    pub fn new(now: SystemTime) -> Self {
        let mut t = Self::empty();
        t.push_system_sessions(now, true);
        t
    }

    /// No sessions at all.
    pub fn empty() -> Self {
        Self {
            rds: Vec::new(),
            smb: Vec::new(),
            events: Vec::new(),
            next_smb_id: 0x0000_2400_0000_0001,
        }
    }

    /// The sessions of `config` (`[[rds_sessions]]`, `[[smb_sessions]]`) at `now`; `services`
    /// and the `rdp-tcp` listener are added unless the configuration uses their ids, and
    /// `console` (Conn) unless a configured session is named `console`.
    pub fn from_config(config: &Config, now: SystemTime) -> Self {
        let mut t = Self::empty();
        let has_console = config
            .rds_sessions
            .iter()
            .any(|s| s.name.eq_ignore_ascii_case("console"));
        for s in &config.rds_sessions {
            let state = RdsState::parse(&s.state).unwrap_or(RdsState::Active);
            let has_user = !s.user.is_empty();
            let logon = s
                .logon_minutes_ago
                .map_or(s.idle_minutes.saturating_add(30), |m| m);
            t.rds.push(RdsSession {
                id: s.id,
                name: if state == RdsState::Disconnected {
                    String::new()
                } else {
                    s.name.clone()
                },
                user: s.user.clone(),
                state,
                last_input: has_user.then(|| minutes_before(now, s.idle_minutes)),
                logon_time: has_user.then(|| minutes_before(now, logon)),
                unsaved_work: has_user && s.unsaved_work,
                messages: Vec::new(),
            });
        }
        t.push_system_sessions(now, !has_console);
        for s in &config.smb_sessions {
            let connected = s
                .connected_seconds
                .unwrap_or(s.idle_seconds.saturating_add(300));
            t.add_smb(
                &s.client,
                &s.user,
                s.open_files,
                seconds_before(now, connected),
                seconds_before(now, s.idle_seconds),
            );
        }
        t
    }

    fn push_system_sessions(&mut self, now: SystemTime, console: bool) {
        let _ = now;
        let free = |t: &Self, id: u32| t.rds.iter().all(|s| s.id != id);
        let system = |id: u32, name: &str, state: RdsState| RdsSession {
            id,
            name: name.to_owned(),
            user: String::new(),
            state,
            last_input: None,
            logon_time: None,
            unsaved_work: false,
            messages: Vec::new(),
        };
        if free(self, 0) {
            self.rds.push(system(0, "services", RdsState::Disconnected));
        }
        if console && free(self, 1) {
            self.rds.push(system(1, "console", RdsState::Connected));
        }
        if free(self, LISTENER_ID) {
            self.rds
                .push(system(LISTENER_ID, "rdp-tcp", RdsState::Listen));
        }
        self.rds.sort_by_key(|s| (s.id >= LISTENER_ID, s.id));
    }

    /// Every logon session, by id (listeners last).
    pub fn rds(&self) -> &[RdsSession] {
        &self.rds
    }

    /// Every network session.
    pub fn smb(&self) -> &[SmbSession] {
        &self.smb
    }

    /// Everything that was done to sessions, oldest first.
    pub fn events(&self) -> &[SessionEvent] {
        &self.events
    }

    /// Adds a logon session (tests and tools), replacing one with the same id.
    pub fn add_rds(&mut self, session: RdsSession) {
        self.rds.retain(|s| s.id != session.id);
        self.rds.push(session);
        self.rds.sort_by_key(|s| (s.id >= LISTENER_ID, s.id));
    }

    /// Adds a network session; returns its `SessionId`.
    pub fn add_smb(
        &mut self,
        client: &str,
        user: &str,
        open_files: u32,
        connected_at: SystemTime,
        last_active: SystemTime,
    ) -> u64 {
        let id = self.next_smb_id;
        self.next_smb_id += 4;
        self.smb.push(SmbSession {
            session_id: id,
            client: client.trim_start_matches('\\').to_owned(),
            user: user.to_owned(),
            open_files,
            connected_at,
            last_active,
            dialect: "3.1.1".to_owned(),
        });
        id
    }

    /// Sessions `query session [arg]` shows: all, or those whose name, id or user is `arg`.
    pub fn query(&self, arg: Option<&str>) -> Vec<&RdsSession> {
        match arg {
            None => self.rds.iter().collect(),
            Some(a) => {
                let id = a.parse::<u32>().ok();
                self.rds
                    .iter()
                    .filter(|s| {
                        Some(s.id) == id
                            || (!s.name.is_empty() && s.name.eq_ignore_ascii_case(a))
                            || (!s.user.is_empty() && s.user.eq_ignore_ascii_case(a))
                    })
                    .collect()
            }
        }
    }

    /// The session a `reset` / `logoff` argument names (an id, or a session name).
    ///
    /// # Errors
    ///
    /// [`SessionError::NotFound`].
    pub fn resolve(&self, arg: &str) -> Result<&RdsSession, SessionError> {
        let found = match arg.parse::<u32>() {
            Ok(id) => self.rds.iter().find(|s| s.id == id),
            Err(_) => self
                .rds
                .iter()
                .find(|s| !s.name.is_empty() && s.name.eq_ignore_ascii_case(arg)),
        };
        found.ok_or(SessionError::NotFound)
    }

    /// Resets (deletes) session `id`: the user's programs end, unsaved work is lost. The
    /// console comes back as an empty `Conn` session; a reset listener keeps listening.
    ///
    /// # Errors
    ///
    /// [`SessionError::NotFound`]; [`SessionError::AccessDenied`] when `actor` is neither the
    /// session's user nor an administrator (nothing changes).
    pub fn reset(
        &mut self,
        id: u32,
        actor: &Actor,
        now: SystemTime,
    ) -> Result<SessionEvent, SessionError> {
        self.end(id, actor, now, SessionEventKind::Reset)
    }

    /// Logs session `id` off; like [`SessionsTable::reset`], but listeners and `services`
    /// cannot be logged off.
    ///
    /// # Errors
    ///
    /// As [`SessionsTable::reset`].
    pub fn logoff(
        &mut self,
        id: u32,
        actor: &Actor,
        now: SystemTime,
    ) -> Result<SessionEvent, SessionError> {
        self.end(id, actor, now, SessionEventKind::Logoff)
    }

    fn end(
        &mut self,
        id: u32,
        actor: &Actor,
        now: SystemTime,
        kind: SessionEventKind,
    ) -> Result<SessionEvent, SessionError> {
        let idx = self
            .rds
            .iter()
            .position(|s| s.id == id)
            .ok_or(SessionError::NotFound)?;
        let s = &self.rds[idx];
        if !actor.may_manage(&s.user) {
            return Err(SessionError::AccessDenied);
        }
        if s.id == 0 {
            return Err(SessionError::AccessDenied);
        }
        if s.state == RdsState::Listen && kind == SessionEventKind::Logoff {
            return Err(SessionError::NotFound);
        }
        let event = SessionEvent {
            time: now,
            kind,
            session_id: u64::from(s.id),
            session_name: s.name.clone(),
            user: s.user.clone(),
            by: actor.user.clone(),
            lost_unsaved_work: s.unsaved_work,
            text: None,
        };
        if s.state == RdsState::Listen {
            // A reset listener restarts and listens again.
        } else if s.name.eq_ignore_ascii_case("console") {
            let c = &mut self.rds[idx];
            c.user.clear();
            c.state = RdsState::Connected;
            c.last_input = None;
            c.logon_time = None;
            c.unsaved_work = false;
            c.messages.clear();
        } else {
            self.rds.remove(idx);
        }
        self.events.push(event.clone());
        Ok(event)
    }

    /// Shows `text` in session `id` (`msg`); returns the session's name.
    ///
    /// # Errors
    ///
    /// [`SessionError::NotFound`].
    pub fn message(
        &mut self,
        id: u32,
        from: &str,
        text: &str,
        display_seconds: u32,
        now: SystemTime,
    ) -> Result<String, SessionError> {
        let s = self
            .rds
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or(SessionError::NotFound)?;
        s.messages.push(SessionMessage {
            time: now,
            from: from.to_owned(),
            text: text.to_owned(),
            display_seconds,
        });
        let event = SessionEvent {
            time: now,
            kind: SessionEventKind::Message,
            session_id: u64::from(s.id),
            session_name: s.name.clone(),
            user: s.user.clone(),
            by: from.to_owned(),
            lost_unsaved_work: false,
            text: Some(text.to_owned()),
        };
        let name = s.name.clone();
        self.events.push(event);
        Ok(name)
    }

    /// Closes the network sessions `pred` selects; returns the closed ones.
    pub fn close_smb(
        &mut self,
        by: &str,
        now: SystemTime,
        mut pred: impl FnMut(&SmbSession) -> bool,
    ) -> Vec<SmbSession> {
        let (closed, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.smb)
            .into_iter()
            .partition(&mut pred);
        self.smb = kept;
        for s in &closed {
            self.events.push(SessionEvent {
                time: now,
                kind: SessionEventKind::SmbClosed,
                session_id: s.session_id,
                session_name: s.client.clone(),
                user: s.user.clone(),
                by: by.to_owned(),
                lost_unsaved_work: s.open_files > 0,
                text: None,
            });
        }
        closed
    }
}

/// The table's resets and logoffs as `Get-WinEvent` entries of [`SESSION_LOG`] (event 23,
/// "Session logoff succeeded"), newest last. The emulator adds a line saying whether unsaved
/// work was lost, so clients can tell.
pub fn log_events(
    table: &SessionsTable,
    computer: &str,
    now: SystemTime,
) -> Vec<crate::engine::FakeEvent> {
    table
        .events()
        .iter()
        .filter(|e| matches!(e.kind, SessionEventKind::Reset | SessionEventKind::Logoff))
        .map(|e| crate::engine::FakeEvent {
            log_name: SESSION_LOG.to_owned(),
            id: 23,
            level: 4,
            provider: "Microsoft-Windows-TerminalServices-LocalSessionManager".to_owned(),
            message: format!(
                "Remote Desktop Services: Session logoff succeeded:\r\n\r\nUser: {computer}\\{}\r\nSession ID: {}\r\nUnsaved work lost: {}",
                e.user,
                e.session_id,
                if e.lost_unsaved_work { "Yes" } else { "No" }
            ),
            minutes_ago: (now.duration_since(e.time).unwrap_or_default().as_secs() / 60) as i64,
        })
        .collect()
}

/// A handle on one host's table, shared by every shell (cloning shares it).
#[derive(Clone)]
pub struct SharedSessions(Arc<Mutex<SessionsTable>>);

impl SharedSessions {
    /// Shares `table`.
    pub fn new(table: SessionsTable) -> Self {
        Self(Arc::new(Mutex::new(table)))
    }

    /// Locks the table (a poisoned lock is taken over: the table stays consistent because
    /// every operation validates before it mutates).
    pub fn lock(&self) -> MutexGuard<'_, SessionsTable> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of the current state.
    pub fn snapshot(&self) -> SessionsTable {
        self.lock().clone()
    }
}

impl fmt::Debug for SharedSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.lock();
        f.debug_struct("SharedSessions")
            .field("rds", &t.rds.len())
            .field("smb", &t.smb.len())
            .field("events", &t.events.len())
            .finish()
    }
}

impl Default for SharedSessions {
    fn default() -> Self {
        Self::new(SessionsTable::new(SystemTime::now()))
    }
}

/// The live table a [`Config`] owns: created from the configuration on first use and shared by
/// every shell of the service holding that configuration. Cloning a `Config` copies the state
/// (two emulators started from clones of one configuration have independent tables); ignored by
/// `==`.
#[derive(Default)]
pub struct LiveSessions(Mutex<Option<SharedSessions>>);

impl LiveSessions {
    /// The table, created from `config` at the first call.
    pub fn get_or_init(&self, config: &Config) -> SharedSessions {
        let mut g = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        g.get_or_insert_with(|| {
            SharedSessions::new(SessionsTable::from_config(config, SystemTime::now()))
        })
        .clone()
    }
}

impl Clone for LiveSessions {
    fn clone(&self) -> Self {
        let g = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        Self(Mutex::new(
            g.as_ref().map(|s| SharedSessions::new(s.snapshot())),
        ))
    }
}

impl PartialEq for LiveSessions {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl fmt::Debug for LiveSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LiveSessions")
    }
}

fn minutes_before(now: SystemTime, minutes: u64) -> SystemTime {
    seconds_before(now, minutes.saturating_mul(60))
}

fn seconds_before(now: SystemTime, seconds: u64) -> SystemTime {
    now.checked_sub(Duration::from_secs(seconds)).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin() -> Actor {
        Actor {
            user: "admin".into(),
            is_admin: true,
        }
    }

    fn table() -> SessionsTable {
        let c = Config::from_toml(
            r#"
[[rds_sessions]]
id = 2
name = "rdp-tcp#6"
user = "bob"
idle_minutes = 95
[[rds_sessions]]
id = 3
name = "rdp-tcp#7"
user = "carol"
state = "Disc"
[[smb_sessions]]
client = "10.0.0.7"
user = "bob"
open_files = 3
idle_seconds = 600
"#,
        )
        .unwrap();
        SessionsTable::from_config(&c, SystemTime::now())
    }

    #[test]
    fn config_sessions_plus_system_ones() {
        let t = table();
        let ids: Vec<u32> = t.rds().iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![0, 1, 2, 3, LISTENER_ID]);
        assert_eq!(
            t.rds()[3].name,
            "",
            "a disconnected session has no winstation name"
        );
        assert_eq!(t.smb().len(), 1);
        let idle = t.rds()[2].idle(SystemTime::now()).unwrap();
        assert!(idle >= Duration::from_secs(95 * 60));
    }

    #[test]
    fn non_admin_cannot_reset_another_users_session() {
        let mut t = table();
        let before = t.clone();
        let bob = Actor {
            user: "bob".into(),
            is_admin: false,
        };
        assert_eq!(
            t.reset(3, &bob, SystemTime::now()),
            Err(SessionError::AccessDenied)
        );
        assert_eq!(t, before, "a refusal changes nothing");
        let ev = t.reset(2, &bob, SystemTime::now()).unwrap();
        assert!(ev.lost_unsaved_work);
        assert!(t.resolve("2").is_err());
        assert_eq!(t.events().len(), 1);
    }

    #[test]
    fn admin_resets_anyone_console_comes_back_empty() {
        let mut t = table();
        t.reset(3, &admin(), SystemTime::now()).unwrap();
        assert_eq!(t.resolve("3"), Err(SessionError::NotFound));
        assert_eq!(
            t.logoff(LISTENER_ID, &admin(), SystemTime::now()),
            Err(SessionError::NotFound)
        );
        assert_eq!(
            t.reset(0, &admin(), SystemTime::now()),
            Err(SessionError::AccessDenied)
        );
    }

    #[test]
    fn clone_of_live_sessions_is_independent() {
        let c = Config::default();
        let a = c.live_sessions.get_or_init(&c);
        let c2 = c.clone();
        let b = c2.live_sessions.get_or_init(&c2);
        a.lock().reset(1, &admin(), SystemTime::now()).unwrap();
        assert_eq!(a.lock().events().len(), 1);
        assert_eq!(b.lock().events().len(), 0);
        let a2 = c.live_sessions.get_or_init(&c);
        assert_eq!(
            a2.lock().events().len(),
            1,
            "the same config shares one table"
        );
    }
}
