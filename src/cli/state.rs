//! The client's local state: which WS-Man SessionId makes "this client", and the sessions it
//! holds (host, name, ShellId, CommandIds, configuration, state as last seen), in
//! `<state dir>/state.json`. Two state directories are two different clients (SPEC C2).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sessions::pssession::{CommandProgress, SessionRecord, SessionState};
use wsman::shell::BufferMode;

/// One session this client knows.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredSession {
    /// Local id (the `Id` column).
    pub id: u32,
    /// Session name.
    pub name: String,
    /// Host as given (`host[:port]`).
    pub computer_name: String,
    /// HTTPS.
    #[serde(default)]
    pub ssl: bool,
    /// Configuration name.
    pub configuration_name: String,
    /// Shell id (= runspace pool id).
    pub shell_id: String,
    /// Commands not yet fully received.
    #[serde(default)]
    pub command_ids: Vec<String>,
    /// State as this client last saw it (`Opened`, `Disconnected`…).
    pub state: String,
    /// OutputBufferingMode this client chose (`Block`, `Drop`), kept for later disconnects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_buffering_mode: Option<String>,
    /// Where reading each command stopped when a receive failed (a lost Receive's SequenceId,
    /// objects received in part), so a later process reads on without loss or duplicates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub progress: Vec<CommandProgress>,
    /// The MaxEnvelopeSize (bytes) the session's client had moved to, when not the default:
    /// a later process asks with it, so a lost Receive's reply fits when asked again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_envelope_size: Option<u32>,
}

impl StoredSession {
    pub fn record(&self) -> SessionRecord {
        SessionRecord::new(
            self.computer_name.clone(),
            self.name.clone(),
            self.configuration_name.clone(),
            self.shell_id.clone(),
            self.command_ids.clone(),
            SessionState::parse(&self.state).unwrap_or(SessionState::Disconnected),
        )
        .with_output_buffering_mode(self.output_buffering_mode.as_deref().map(BufferMode::parse))
        .with_progress(self.progress.clone())
        .with_max_envelope_size(self.max_envelope_size)
    }

    pub fn session_state(&self) -> SessionState {
        SessionState::parse(&self.state).unwrap_or(SessionState::Disconnected)
    }
}

/// The whole file.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct State {
    /// This client's WS-Man SessionId (`uuid:…`).
    pub client_session_id: String,
    /// The next local id.
    #[serde(default)]
    pub next_id: u32,
    /// Sessions this client holds.
    #[serde(default)]
    pub sessions: Vec<StoredSession>,
}

/// The state file of one client.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    pub state: State,
}

impl Store {
    /// Opens (or starts) the state in `dir`.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join("state.json");
        let state = match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("state file {} is not valid", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", path.display()));
            }
        };
        let mut store = Self { path, state };
        if store.state.client_session_id.is_empty() {
            store.state.client_session_id =
                format!("uuid:{}", uuid::Uuid::new_v4().to_string().to_uppercase());
        }
        if store.state.next_id == 0 {
            store.state.next_id = 1;
        }
        Ok(store)
    }

    /// Writes the state (atomically: a temporary file renamed over the old one).
    pub fn save(&self) -> anyhow::Result<()> {
        let dir = self.path.parent().unwrap_or_else(|| Path::new("."));
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create state directory {}", dir.display()))?;
        let tmp = dir.join(format!("state.json.{}.tmp", std::process::id()));
        let text = serde_json::to_vec_pretty(&self.state)?;
        {
            let mut f = fs::File::create(&tmp)
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            f.write_all(&text)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, &self.path)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        Ok(())
    }

    /// A new local id.
    pub fn allocate_id(&mut self) -> u32 {
        let id = self.state.next_id;
        self.state.next_id += 1;
        id
    }

    /// Finds a session by name (case-insensitive) or local id.
    pub fn find(&self, name: &str) -> Option<&StoredSession> {
        self.state.sessions.iter().find(|s| matches(s, name))
    }

    /// Finds a session by shell id.
    pub fn find_shell(&self, shell_id: &str) -> Option<&StoredSession> {
        self.state
            .sessions
            .iter()
            .find(|s| s.shell_id.eq_ignore_ascii_case(shell_id))
    }

    /// Inserts or replaces (by shell id) a session; keeps its local id if known.
    pub fn upsert(&mut self, record: &SessionRecord, ssl: bool) -> StoredSession {
        let id = match self.find_shell(&record.shell_id) {
            Some(s) => s.id,
            None => self.allocate_id(),
        };
        let stored = StoredSession {
            id,
            name: record.name.clone(),
            computer_name: record.computer_name.clone(),
            ssl,
            configuration_name: record.configuration_name.clone(),
            shell_id: record.shell_id.clone(),
            command_ids: record.command_ids.clone(),
            state: record.state.as_str().to_owned(),
            output_buffering_mode: record
                .output_buffering_mode
                .as_ref()
                .map(|m| m.as_str().to_owned()),
            progress: record.progress.clone(),
            max_envelope_size: record.max_envelope_size,
        };
        self.state
            .sessions
            .retain(|s| !s.shell_id.eq_ignore_ascii_case(&record.shell_id));
        self.state.sessions.push(stored.clone());
        self.state.sessions.sort_by_key(|s| s.id);
        stored
    }

    /// Forgets a session.
    pub fn remove_shell(&mut self, shell_id: &str) {
        self.state
            .sessions
            .retain(|s| !s.shell_id.eq_ignore_ascii_case(shell_id));
    }
}

fn matches(s: &StoredSession, name: &str) -> bool {
    s.name.eq_ignore_ascii_case(name) || name.parse::<u32>().is_ok_and(|id| id == s.id)
}

/// The default state directory: `$XDG_STATE_HOME/psrm`, else `~/.local/state/psrm`.
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("psrm");
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/state/psrm"),
        None => PathBuf::from(".psrm-state"),
    }
}
