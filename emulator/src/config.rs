//! The emulator's TOML configuration (SPEC C1): users, service quotas, WinRS and PowerShell
//! session configurations, and the fake RDS / SMB sessions. Every key is optional; a missing
//! key takes the default a Windows host reports (SPEC B4).

use std::path::Path;

use serde::Deserialize;

/// Name of the PowerShell session configuration that always exists.
pub const DEFAULT_CONFIGURATION: &str = "Microsoft.PowerShell";

/// The whole configuration.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The host name shown in faults (`Machine=`), `hostname` and `Shell` elements.
    pub computer_name: String,
    /// Accounts allowed to log on.
    pub users: Vec<User>,
    /// WinRM service settings.
    pub service: Service,
    /// WinRS settings.
    pub winrs: Winrs,
    /// PowerShell session configurations; [`DEFAULT_CONFIGURATION`] is always present.
    pub session_configurations: Vec<SessionConfiguration>,
    /// Interactive logon sessions reported by `query session`.
    pub rds_sessions: Vec<RdsSession>,
    /// Network sessions reported by `net session` / `Get-SmbSession`.
    pub smb_sessions: Vec<SmbSession>,
    /// Knobs for tests: intervals Windows does not let one configure.
    pub testing: Testing,
    /// Certificate authentication: trusted CAs and mappings.
    pub client_certificates: ClientCertificates,
    /// Kerberos authentication: the service keytab and accepted principals.
    pub kerberos: Kerberos,
    /// Injected faults (see [`crate::faults`]); none by default.
    pub faults: crate::faults::FaultConfig,
    /// The live session table built from `rds_sessions` / `smb_sessions` (runtime state, not
    /// configuration: see [`crate::sessions_table::LiveSessions`]).
    #[serde(skip)]
    pub live_sessions: crate::sessions_table::LiveSessions,
    /// Scenario files given with `psrm emulator --scenario FILE` (runtime, not TOML): every
    /// shell's engines consult them.
    #[serde(skip)]
    pub scenarios: Scenarios,
}

/// Loaded scenario files, shared by every shell (compared by identity).
#[derive(Clone, Debug, Default)]
pub struct Scenarios(pub Vec<std::sync::Arc<crate::engine::Scenario>>);

impl PartialEq for Scenarios {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .all(|(a, b)| std::sync::Arc::ptr_eq(a, b))
    }
}

/// One account.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Account name without domain (`alice`); `.\alice` and `HOST\alice` are accepted too.
    pub name: String,
    /// Password.
    pub password: String,
    /// Member of Administrators: sees and manages every user's shells.
    #[serde(default)]
    pub admin: bool,
}

/// Authentication schemes the service offers.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum AuthScheme {
    /// HTTP Basic.
    Basic,
    /// Raw NTLM (`Authorization: Negotiate` or `NTLM` carrying NTLMSSP messages).
    Ntlm,
    /// SPNEGO with NTLM inside.
    Negotiate,
    /// TLS client certificate (`Authorization: …/secprofile/https/mutual`), HTTPS only; needs
    /// `[client_certificates]`. Not in the default list, as on Windows.
    Certificate,
    /// CredSSP (`Authorization: CredSSP`): NTLM inside an inner TLS session, then the password
    /// is delegated. Not in the default list, as on Windows.
    #[serde(rename = "credssp")]
    CredSsp,
    /// Kerberos: `Authorization: Kerberos <GSS krb5 token>`, and `Negotiate` carrying a raw
    /// krb5 token or SPNEGO whose first mechanism is krb5 / MS-krb5. Needs `[kerberos]`
    /// (the service keytab). Not in the default list (it needs a realm).
    Kerberos,
}

/// `[kerberos]`: the acceptor's service keys and policy.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Kerberos {
    /// MIT keytab file (format 0x0502) holding the service principals' keys
    /// (`HTTP/host@REALM`, `WSMAN/host@REALM`, …).
    pub keytab: Option<std::path::PathBuf>,
    /// Service principals accepted (`HTTP/host` or `HTTP/host@REALM`); empty = every
    /// principal in the keytab.
    pub principals: Vec<String>,
    /// Largest accepted difference between the client's clock and ours, in seconds (Windows:
    /// 5 minutes).
    pub max_clock_skew_secs: u64,
    /// The keys read from `keytab` when the configuration is loaded (runtime, not TOML).
    #[serde(skip)]
    pub keys: crate::keytab::Keytab,
}

impl Default for Kerberos {
    fn default() -> Self {
        Self {
            keytab: None,
            principals: Vec::new(),
            max_clock_skew_secs: 300,
            keys: crate::keytab::Keytab::default(),
        }
    }
}

impl Kerberos {
    /// Whether a keytab entry is one of the accepted service principals.
    pub fn accepts(&self, entry: &crate::keytab::KeytabEntry) -> bool {
        self.principals.is_empty()
            || self.principals.iter().any(|p| match p.rsplit_once('@') {
                Some((name, realm)) => name == entry.name() && realm == entry.realm,
                None => *p == entry.name(),
            })
    }
}

/// `[client_certificates]`: certificate authentication, as Windows'
/// `WSMan:\localhost\ClientCertificate` table plus the trusted CAs.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ClientCertificates {
    /// PEM file with the CA certificates client certificates must chain to.
    pub ca_file: Option<std::path::PathBuf>,
    /// The same, inline PEM (used with `ca_file`, both are trusted).
    pub ca_pem: Option<String>,
    /// Certificate-to-account mappings; the first that matches wins.
    pub mappings: Vec<CertificateMapping>,
}

/// `[[client_certificates.mappings]]`: which certificates log on as which account.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CertificateMapping {
    /// The certificate's UPN (the SAN otherName, `alice@example.test`), else its subject
    /// common name, compared case-insensitively; `*` matches any certificate.
    pub subject: String,
    /// SHA-1 thumbprint (hex; spaces and colons ignored) of the CA certificate that issued the
    /// client certificate; absent = any trusted issuer.
    #[serde(default)]
    pub issuer: Option<String>,
    /// The configured account the certificate logs on as.
    pub user: String,
}

/// `[service]`: the WinRM service (winrm/config/service).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Service {
    /// Offered authentication schemes, in challenge order.
    pub auth: Vec<AuthScheme>,
    /// `false`: plaintext SOAP over HTTP is refused (HTTPS and encrypted bodies still work).
    pub allow_unencrypted: bool,
    /// MaxEnvelopeSizekb.
    pub max_envelope_size_kb: u64,
    /// MaxTimeoutms: the cap on a request's OperationTimeout.
    pub max_timeout_ms: u64,
    /// MaxShellsPerUser.
    pub max_shells_per_user: u32,
    /// MaxConcurrentOperationsPerUser.
    pub max_concurrent_operations_per_user: u32,
    /// MaxBatchItems.
    pub max_batch_items: u32,
    /// EnumerationTimeoutms.
    pub enumeration_timeout_ms: u64,
    /// MaxConnections.
    pub max_connections: u32,
}

/// `[winrs]`: WinRS shell settings (winrm/config/winrs).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Winrs {
    /// IdleTimeout of a WinRS shell.
    pub idle_timeout_ms: u64,
    /// MaxShellsPerUser (WinRS).
    pub max_shells_per_user: u32,
    /// MaxConcurrentUsers.
    pub max_concurrent_users: u32,
    /// MaxProcessesPerShell.
    pub max_processes_per_shell: u32,
    /// MaxMemoryPerShellMB.
    pub max_memory_per_shell_mb: u64,
}

/// Whether output is kept or dropped when a disconnected pipeline's buffer is full.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutputBufferingMode {
    /// The pipeline is suspended until output is received.
    Block,
    /// The oldest output is discarded.
    Drop,
}

/// `[[session_configurations]]`: a PowerShell endpoint.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfiguration {
    /// Configuration name (`Microsoft.PowerShell`).
    pub name: String,
    /// IdleTimeoutMs.
    pub idle_timeout_ms: u64,
    /// MaxIdleTimeoutMs.
    pub max_idle_timeout_ms: u64,
    /// Lowest IdleTimeout accepted (emulator knob; Windows: 60 s).
    pub min_idle_timeout_ms: u64,
    /// OutputBufferingMode.
    pub output_buffering_mode: OutputBufferingMode,
    /// Output kept per pipeline while nobody receives (emulator knob).
    pub output_buffer_size_kb: u64,
    /// MaxConcurrentCommandsPerShell.
    pub max_concurrent_commands_per_shell: u32,
}

/// `[[rds_sessions]]`: an interactive logon session.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RdsSession {
    /// Session id.
    pub id: u32,
    /// Session name (`console`, `rdp-tcp#6`).
    #[serde(default)]
    pub name: String,
    /// Logged-on user, empty for listeners.
    #[serde(default)]
    pub user: String,
    /// `Active`, `Disc`, `Listen`, `Conn` or `Idle`.
    #[serde(default = "default_rds_state")]
    pub state: String,
    /// Idle time in minutes.
    #[serde(default)]
    pub idle_minutes: u64,
    /// Minutes since logon (default: idle time plus 30).
    #[serde(default)]
    pub logon_minutes_ago: Option<u64>,
    /// The user has unsaved work that a reset or logoff loses.
    #[serde(default = "default_true")]
    pub unsaved_work: bool,
}

/// `[[smb_sessions]]`: a network session to this server.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SmbSession {
    /// Client computer name or address.
    pub client: String,
    /// User name.
    #[serde(default)]
    pub user: String,
    /// Open files.
    #[serde(default)]
    pub open_files: u32,
    /// Idle time in seconds.
    #[serde(default)]
    pub idle_seconds: u64,
    /// Seconds since the session was established (default: idle time plus 300).
    #[serde(default)]
    pub connected_seconds: Option<u64>,
}

/// `[testing]`: intervals shortened by tests.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Testing {
    /// A connected shell nobody polls turns Disconnected after this long (Windows: about 60 s).
    pub unpolled_disconnect_ms: u64,
}

/// A configuration that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed or a key has a wrong type or name; the message names the key.
    #[error("invalid configuration: {0}")]
    Parse(String),
    /// A value is out of range.
    #[error("invalid configuration: {key}: {reason}")]
    Invalid {
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
}

impl Config {
    /// Parses a TOML document and fills the defaults.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Parse`] naming the offending key, [`ConfigError::Invalid`] for values out of
    /// range.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let mut config: Self = toml::from_str(text).map_err(|e| parse_error(text, &e))?;
        config.normalize()?;
        Ok(config)
    }

    /// The live session table of this configuration (created from `rds_sessions` and
    /// `smb_sessions` at the first call; every later call shares it).
    pub fn sessions(&self) -> crate::sessions_table::SharedSessions {
        self.live_sessions.get_or_init(self)
    }

    /// Reads and parses a TOML file.
    ///
    /// # Errors
    ///
    /// See [`Config::from_toml`]; also [`ConfigError::Read`].
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// The user with this account name (case-insensitive; `.\`, `HOST\` and `@host` forms are
    /// reduced to the account name).
    pub fn user(&self, name: &str) -> Option<&User> {
        let account = account_name(name, &self.computer_name)?;
        self.users
            .iter()
            .find(|u| u.name.eq_ignore_ascii_case(account))
    }

    /// The session configuration with this name (case-insensitive).
    pub fn session_configuration(&self, name: &str) -> Option<&SessionConfiguration> {
        self.session_configurations
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// MaxEnvelopeSize in bytes: larger request bodies get HTTP 413.
    pub fn max_envelope_size(&self) -> u64 {
        self.service.max_envelope_size_kb.saturating_mul(1024)
    }

    fn normalize(&mut self) -> Result<(), ConfigError> {
        if self.users.is_empty() {
            self.users = default_users();
        }
        for (i, user) in self.users.iter().enumerate() {
            if user.name.is_empty() || user.name.contains(['\\', '@', '/']) {
                return Err(ConfigError::Invalid {
                    key: format!("users[{i}].name"),
                    reason: "must be a plain account name".into(),
                });
            }
        }
        if self.service.auth.is_empty() {
            return Err(ConfigError::Invalid {
                key: "service.auth".into(),
                reason: "at least one scheme is required".into(),
            });
        }
        self.check_client_certificates()?;
        self.check_kerberos()?;
        if self.service.max_envelope_size_kb == 0 {
            return Err(ConfigError::Invalid {
                key: "service.max_envelope_size_kb".into(),
                reason: "must be positive".into(),
            });
        }
        for (i, c) in self.session_configurations.iter().enumerate() {
            if c.name.is_empty() {
                return Err(ConfigError::Invalid {
                    key: format!("session_configurations[{i}].name"),
                    reason: "must not be empty".into(),
                });
            }
        }
        for (i, r) in self.rds_sessions.iter().enumerate() {
            if crate::sessions_table::RdsState::parse(&r.state).is_none() {
                return Err(ConfigError::Invalid {
                    key: format!("rds_sessions[{i}].state"),
                    reason: "must be Active, Conn, ConnQ, Shadow, Disc, Idle, Listen, Reset, Down or Init".into(),
                });
            }
            if self.rds_sessions[..i].iter().any(|o| o.id == r.id) {
                return Err(ConfigError::Invalid {
                    key: format!("rds_sessions[{i}].id"),
                    reason: format!("session id {} is used twice", r.id),
                });
            }
        }
        if self.session_configuration(DEFAULT_CONFIGURATION).is_none() {
            self.session_configurations
                .insert(0, SessionConfiguration::default());
        }
        Ok(())
    }
}

impl Config {
    /// Loads the keytab and checks the accepted principals are in it.
    fn check_kerberos(&mut self) -> Result<(), ConfigError> {
        let invalid = |key: &str, reason: String| ConfigError::Invalid {
            key: key.into(),
            reason,
        };
        let enabled = self.service.auth.contains(&AuthScheme::Kerberos);
        let Some(path) = &self.kerberos.keytab else {
            if enabled {
                return Err(invalid(
                    "kerberos.keytab",
                    "kerberos authentication needs a service keytab".into(),
                ));
            }
            return Ok(());
        };
        let keys = crate::keytab::Keytab::load(path)
            .map_err(|e| invalid("kerberos.keytab", format!("{}: {e}", path.display())))?;
        for (i, p) in self.kerberos.principals.iter().enumerate() {
            let probe = Kerberos {
                principals: vec![p.clone()],
                ..Kerberos::default()
            };
            if !keys.entries.iter().any(|e| probe.accepts(e)) {
                return Err(invalid(
                    &format!("kerberos.principals[{i}]"),
                    "has no key in the keytab".into(),
                ));
            }
        }
        if self.kerberos.max_clock_skew_secs == 0 {
            return Err(invalid(
                "kerberos.max_clock_skew_secs",
                "must be positive".into(),
            ));
        }
        self.kerberos.keys = keys;
        Ok(())
    }

    fn check_client_certificates(&mut self) -> Result<(), ConfigError> {
        let invalid = |key: String, reason: &str| ConfigError::Invalid {
            key,
            reason: reason.into(),
        };
        let certs = &self.client_certificates;
        if self.service.auth.contains(&AuthScheme::Certificate)
            && certs.ca_file.is_none()
            && certs.ca_pem.is_none()
        {
            return Err(invalid(
                "client_certificates".into(),
                "certificate authentication needs ca_file or ca_pem",
            ));
        }
        for (i, m) in certs.mappings.iter().enumerate() {
            if m.subject.trim().is_empty() {
                return Err(invalid(
                    format!("client_certificates.mappings[{i}].subject"),
                    "must not be empty",
                ));
            }
            if self.user(&m.user).is_none() {
                return Err(invalid(
                    format!("client_certificates.mappings[{i}].user"),
                    "must name a configured user",
                ));
            }
            if let Some(issuer) = &m.issuer
                && normalize_thumbprint(issuer).is_none()
            {
                return Err(invalid(
                    format!("client_certificates.mappings[{i}].issuer"),
                    "must be a sha-1 thumbprint (40 hex digits)",
                ));
            }
        }
        Ok(())
    }
}

/// `ab:cd …` / `ABCD…` → 40 uppercase hex digits, or `None` when it is not a SHA-1 thumbprint.
pub fn normalize_thumbprint(text: &str) -> Option<String> {
    let hex: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (hex.len() == 40 && hex.chars().all(|c| c.is_ascii_hexdigit())).then_some(hex)
}

/// Reduces `alice`, `.\alice`, `HOST\alice` and `alice@HOST` to `alice`; other domains are not
/// this host's accounts and give `None`.
pub fn account_name<'a>(name: &'a str, computer_name: &str) -> Option<&'a str> {
    let is_local = |domain: &str| {
        domain.is_empty()
            || domain == "."
            || domain.eq_ignore_ascii_case(computer_name)
            || domain.eq_ignore_ascii_case("localhost")
    };
    if let Some((domain, account)) = name.split_once('\\') {
        return is_local(domain).then_some(account);
    }
    if let Some((account, domain)) = name.rsplit_once('@') {
        return is_local(domain).then_some(account);
    }
    Some(name)
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password.
        f.debug_struct("User")
            .field("name", &self.name)
            .field("password", &"<redacted>")
            .field("admin", &self.admin)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            computer_name: "SERVER01".into(),
            users: Vec::new(),
            service: Service::default(),
            winrs: Winrs::default(),
            session_configurations: Vec::new(),
            rds_sessions: Vec::new(),
            smb_sessions: Vec::new(),
            testing: Testing::default(),
            client_certificates: ClientCertificates::default(),
            kerberos: Kerberos::default(),
            faults: crate::faults::FaultConfig::default(),
            live_sessions: crate::sessions_table::LiveSessions::default(),
            scenarios: Scenarios::default(),
        }
    }
}

impl Default for Service {
    fn default() -> Self {
        Self {
            auth: vec![AuthScheme::Basic, AuthScheme::Ntlm, AuthScheme::Negotiate],
            allow_unencrypted: true,
            max_envelope_size_kb: 500,
            max_timeout_ms: 60_000,
            max_shells_per_user: 30,
            max_concurrent_operations_per_user: 1500,
            max_batch_items: 32_000,
            enumeration_timeout_ms: 240_000,
            max_connections: 300,
        }
    }
}

impl Default for Winrs {
    fn default() -> Self {
        Self {
            idle_timeout_ms: 7_200_000,
            max_shells_per_user: 30,
            max_concurrent_users: 10,
            max_processes_per_shell: 25,
            max_memory_per_shell_mb: 1024,
        }
    }
}

impl Default for SessionConfiguration {
    fn default() -> Self {
        Self {
            name: DEFAULT_CONFIGURATION.into(),
            idle_timeout_ms: 7_200_000,
            max_idle_timeout_ms: 2_147_483_647,
            min_idle_timeout_ms: 60_000,
            output_buffering_mode: OutputBufferingMode::Block,
            output_buffer_size_kb: 1024,
            max_concurrent_commands_per_shell: 1000,
        }
    }
}

impl Default for Testing {
    fn default() -> Self {
        Self {
            unpolled_disconnect_ms: 60_000,
        }
    }
}

/// A parse error naming the line and key, never quoting the document: the offending line may
/// hold a password.
fn parse_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let mut msg = e.message().trim().to_owned();
    let Some(span) = e.span() else {
        return ConfigError::Parse(msg);
    };
    let start = span.start.min(text.len());
    let line_no = text[..start].matches('\n').count() + 1;
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or_default();
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"'))
        .filter(|k| !k.is_empty() && !k.starts_with('['));
    if key.is_some_and(|k| k.eq_ignore_ascii_case("password")) || line.contains("password") {
        msg = "invalid value".into();
    }
    match key {
        Some(k) if !msg.contains(k) => {
            ConfigError::Parse(format!("line {line_no}, key `{k}`: {msg}"))
        }
        _ => ConfigError::Parse(format!("line {line_no}: {msg}")),
    }
}

fn default_true() -> bool {
    true
}

fn default_rds_state() -> String {
    "Active".into()
}

fn default_users() -> Vec<User> {
    let name = std::env::var("PSRM_USER").unwrap_or_else(|_| "psrm".into());
    let password = std::env::var("PSRM_PASSWORD").unwrap_or_else(|_| "psrm".into());
    vec![User {
        name,
        password,
        admin: true,
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_document_gives_windows_defaults() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.service.max_envelope_size_kb, 500);
        assert_eq!(c.max_envelope_size(), 512_000);
        assert_eq!(c.service.max_timeout_ms, 60_000);
        assert_eq!(c.winrs.idle_timeout_ms, 7_200_000);
        assert!(c.service.allow_unencrypted);
        assert_eq!(c.users.len(), 1);
        let ps = c.session_configuration("microsoft.powershell").unwrap();
        assert_eq!(ps.max_idle_timeout_ms, 2_147_483_647);
        assert_eq!(ps.output_buffering_mode, OutputBufferingMode::Block);
    }

    #[test]
    fn spec_example_parses() {
        let c = Config::from_toml(
            r#"
computer_name = "HOSTX"
[[users]]
name = "alice"
password = "pw"
admin = true
[[users]]
name = "bob"
password = "pw2"
[service]
auth = ["basic", "negotiate"]
allow_unencrypted = false
max_envelope_size_kb = 150
[winrs]
idle_timeout_ms = 1000
[[session_configurations]]
name = "Custom"
min_idle_timeout_ms = 1000
output_buffering_mode = "Drop"
output_buffer_size_kb = 4
[[rds_sessions]]
id = 2
name = "rdp-tcp#6"
user = "bob"
state = "Disc"
idle_minutes = 95
[[smb_sessions]]
client = "10.0.0.7"
user = "bob"
open_files = 3
idle_seconds = 600
[testing]
unpolled_disconnect_ms = 500
"#,
        )
        .unwrap();
        assert_eq!(c.users.len(), 2);
        assert!(!c.users[1].admin);
        assert_eq!(
            c.service.auth,
            vec![AuthScheme::Basic, AuthScheme::Negotiate]
        );
        assert_eq!(
            c.session_configurations.len(),
            2,
            "default configuration added"
        );
        assert_eq!(
            c.session_configuration("custom")
                .unwrap()
                .output_buffering_mode,
            OutputBufferingMode::Drop
        );
        assert_eq!(c.rds_sessions[0].state, "Disc");
        assert_eq!(c.smb_sessions[0].open_files, 3);
        assert_eq!(c.testing.unpolled_disconnect_ms, 500);
        assert_eq!(c.user(r".\ALICE").map(|u| u.name.as_str()), Some("alice"));
        assert_eq!(c.user(r"hostx\bob").map(|u| u.name.as_str()), Some("bob"));
        assert_eq!(c.user("bob@HOSTX").map(|u| u.name.as_str()), Some("bob"));
        assert!(c.user(r"OTHER\alice").is_none());
        assert!(c.user("carol").is_none());
    }

    #[test]
    fn errors_name_the_key() {
        let e = Config::from_toml("[service]\nmax_envelope_size_kb = \"big\"\n").unwrap_err();
        assert!(e.to_string().contains("max_envelope_size_kb"), "{e}");
        let e = Config::from_toml("[service]\nallow_unencrypted_typo = true\n").unwrap_err();
        assert!(e.to_string().contains("allow_unencrypted_typo"), "{e}");
        let e = Config::from_toml("[service]\nauth = [\"kerberos\"]\n").unwrap_err();
        assert!(e.to_string().contains("kerberos"), "{e}");
        let e =
            Config::from_toml("[[users]]\nname = \"a\"\npassword = \"s3cr3t\" junk\n").unwrap_err();
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
        assert!(e.to_string().contains("line 3"), "{e}");
        let e = Config::from_toml("[[users]]\nname = \"a\"\npassword = 98765\n").unwrap_err();
        assert!(!e.to_string().contains("98765"), "{e}");
        let e = Config::from_toml("[service]\nauth = []\n").unwrap_err();
        assert!(e.to_string().contains("service.auth"), "{e}");
    }

    #[test]
    fn rds_sessions_are_checked() {
        let e = Config::from_toml("[[rds_sessions]]\nid = 2\nstate = \"Sleeping\"\n").unwrap_err();
        assert!(e.to_string().contains("rds_sessions[0].state"), "{e}");
        let e =
            Config::from_toml("[[rds_sessions]]\nid = 2\n[[rds_sessions]]\nid = 2\n").unwrap_err();
        assert!(e.to_string().contains("rds_sessions[1].id"), "{e}");
        let c =
            Config::from_toml("[[rds_sessions]]\nid = 2\nstate = \"disc\"\nunsaved_work = false\n")
                .unwrap();
        assert!(!c.rds_sessions[0].unsaved_work);
    }

    #[test]
    fn client_certificates_are_checked() {
        let ok = Config::from_toml(
            r#"
[[users]]
name = "alice"
password = "pw"
[service]
auth = ["basic", "certificate"]
[client_certificates]
ca_pem = "-----BEGIN CERTIFICATE-----"
[[client_certificates.mappings]]
subject = "alice@example.test"
issuer = "0a:1b 2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b"
user = "alice"
"#,
        )
        .unwrap();
        assert!(ok.service.auth.contains(&AuthScheme::Certificate));
        let m = &ok.client_certificates.mappings[0];
        assert_eq!(
            normalize_thumbprint(m.issuer.as_deref().unwrap()).as_deref(),
            Some("0A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5D6E7F8A9B")
        );
        let e = Config::from_toml("[service]\nauth = [\"certificate\"]\n").unwrap_err();
        assert!(e.to_string().contains("client_certificates"), "{e}");
        let e = Config::from_toml(
            "[[client_certificates.mappings]]\nsubject = \"x\"\nuser = \"nobody\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("mappings[0].user"), "{e}");
        let e = Config::from_toml(
            "[[users]]\nname = \"al\"\npassword = \"p\"\n[[client_certificates.mappings]]\nsubject = \"x\"\nissuer = \"abc\"\nuser = \"al\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("mappings[0].issuer"), "{e}");
        // Absent, the table changes nothing (older files stay valid).
        assert_eq!(
            Config::from_toml("").unwrap().client_certificates,
            ClientCertificates::default()
        );
    }

    /// A one-record MIT keytab for `HTTP/host@EX.TEST` (aes256, kvno 3).
    fn keytab_file(name: &str) -> std::path::PathBuf {
        crate::keytab::testing::one_key_file(name, 3)
    }

    #[test]
    fn kerberos_section_is_loaded_and_checked() {
        let path = keytab_file("ok");
        let text = format!(
            "[service]\nauth = [\"kerberos\"]\n[kerberos]\nkeytab = \"{}\"\n",
            path.display()
        );
        let c = Config::from_toml(&text).unwrap();
        assert_eq!(c.kerberos.max_clock_skew_secs, 300);
        assert_eq!(c.kerberos.keys.entries.len(), 1);
        assert!(c.kerberos.accepts(&c.kerberos.keys.entries[0]));
        assert!(
            !c.service.auth.is_empty() && !Service::default().auth.contains(&AuthScheme::Kerberos)
        );

        let with = |extra: &str| {
            Config::from_toml(&format!(
                "[service]\nauth = [\"kerberos\"]\n[kerberos]\nkeytab = \"{}\"\n{extra}\n",
                path.display()
            ))
        };
        let c =
            with("principals = [\"HTTP/host@EX.TEST\", \"HTTP/host\"]\nmax_clock_skew_secs = 60")
                .unwrap();
        assert_eq!(c.kerberos.max_clock_skew_secs, 60);
        let e = with("principals = [\"HTTP/other\"]").unwrap_err();
        assert!(e.to_string().contains("kerberos.principals[0]"), "{e}");
        let e = with("principals = [\"HTTP/host@OTHER.TEST\"]").unwrap_err();
        assert!(e.to_string().contains("kerberos.principals[0]"), "{e}");
        let e = with("max_clock_skew_secs = 0").unwrap_err();
        assert!(e.to_string().contains("max_clock_skew_secs"), "{e}");

        let e = Config::from_toml("[service]\nauth = [\"kerberos\"]\n").unwrap_err();
        assert!(e.to_string().contains("kerberos.keytab"), "{e}");
        let bad = std::env::temp_dir().join(format!("psrm-{}-bad.keytab", std::process::id()));
        std::fs::write(&bad, b"\x05\x02\x00\x00\x00\x40junk").unwrap();
        let e = Config::from_toml(&format!("[kerberos]\nkeytab = \"{}\"\n", bad.display()))
            .unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        let _ = std::fs::remove_file(bad);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn debug_never_shows_passwords() {
        let c = Config::from_toml("[[users]]\nname = \"a\"\npassword = \"s3cr3t-pw\"\n").unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t-pw"));
    }
}
