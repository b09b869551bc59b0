//! Fake system data the engines report: computer, user, processes, services, events, files.

use super::value::{PsObject, Value};

/// System facts and fake data, filled by the emulator from its config (defaults are sensible).
#[derive(Debug, Clone)]
pub struct EngineContext {
    /// `hostname`, `$env:COMPUTERNAME`.
    pub computer_name: String,
    /// The connected user's name.
    pub user_name: String,
    /// The user's domain (`whoami` prints `domain\user`, lowercased).
    pub user_domain: String,
    /// The connected user is a member of Administrators (may reset other users' sessions,
    /// run `net session`, `Get-SmbSession`). Off by default: a backend that forgets to set it
    /// refuses rather than elevates.
    pub is_admin: bool,
    /// The host's logon and network sessions (shared by every shell of one emulator).
    pub sessions: crate::sessions_table::SharedSessions,
    /// UTC offset for `Get-Date`, in minutes.
    pub utc_offset_minutes: i32,
    /// `$PSVersionTable.PSVersion`.
    pub ps_version: String,
    /// `[Environment]::OSVersion` / `ver` build, e.g. `10.0.17763.1`.
    pub os_version: String,
    /// `$PID`.
    pub process_id: u32,
    /// Environment variables (cmd `%VAR%`, `$env:VAR`).
    pub env: Vec<(String, String)>,
    /// Files `type` / `Get-Content` can read, by path (case-insensitive).
    pub files: Vec<(String, String)>,
    /// `Get-Process` data.
    pub processes: Vec<FakeProcess>,
    /// `Get-Service` data.
    pub services: Vec<FakeService>,
    /// `Get-WinEvent` data.
    pub events: Vec<FakeEvent>,
    /// Scenario files (`psrm emulator --scenario FILE`) registered in every runspace and cmd
    /// session made from this context.
    pub scenarios: Vec<std::sync::Arc<super::scenario::Scenario>>,
}

/// A fake process.
#[derive(Debug, Clone)]
pub struct FakeProcess {
    /// Process name without `.exe`.
    pub name: String,
    /// Process id.
    pub id: i32,
    /// Session id.
    pub session_id: i32,
    /// Handle count.
    pub handles: i32,
    /// Working set in bytes.
    pub working_set: i64,
    /// CPU seconds.
    pub cpu: f64,
}

/// A fake service.
#[derive(Debug, Clone)]
pub struct FakeService {
    /// Service name.
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// `Running`, `Stopped` …
    pub status: String,
}

/// A fake event log entry.
#[derive(Debug, Clone)]
pub struct FakeEvent {
    /// Log name (`System`, `Application`).
    pub log_name: String,
    /// Event id.
    pub id: i32,
    /// 2 = Error, 3 = Warning, 4 = Information.
    pub level: u8,
    /// Provider name.
    pub provider: String,
    /// Message text.
    pub message: String,
    /// Minutes before "now" the event was logged.
    pub minutes_ago: i64,
}

impl Default for EngineContext {
    fn default() -> Self {
        let computer_name = "SERVER01".to_owned();
        let user_name = "vagrant".to_owned();
        let env = vec![
            ("COMPUTERNAME".to_owned(), computer_name.clone()),
            ("USERNAME".to_owned(), user_name.clone()),
            ("USERDOMAIN".to_owned(), computer_name.clone()),
            ("USERPROFILE".to_owned(), format!("C:\\Users\\{user_name}")),
            ("SystemRoot".to_owned(), "C:\\Windows".to_owned()),
            ("windir".to_owned(), "C:\\Windows".to_owned()),
            ("OS".to_owned(), "Windows_NT".to_owned()),
            ("PROCESSOR_ARCHITECTURE".to_owned(), "AMD64".to_owned()),
            ("TEMP".to_owned(), format!("C:\\Users\\{user_name}\\AppData\\Local\\Temp")),
            ("PATH".to_owned(), "C:\\Windows\\system32;C:\\Windows;C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\".to_owned()),
        ];
        let p = |name: &str, id, session_id, handles, ws_kb: i64, cpu| FakeProcess {
            name: name.to_owned(),
            id,
            session_id,
            handles,
            working_set: ws_kb * 1024,
            cpu,
        };
        let s = |name: &str, display: &str, status: &str| FakeService {
            name: name.to_owned(),
            display_name: display.to_owned(),
            status: status.to_owned(),
        };
        let e = |log: &str, id, level, provider: &str, message: &str, minutes_ago| FakeEvent {
            log_name: log.to_owned(),
            id,
            level,
            provider: provider.to_owned(),
            message: message.to_owned(),
            minutes_ago,
        };
        Self {
            computer_name,
            user_name,
            user_domain: "SERVER01".to_owned(),
            is_admin: false,
            sessions: crate::sessions_table::SharedSessions::default(),
            utc_offset_minutes: 0,
            ps_version: "5.1.17763.1".to_owned(),
            os_version: "10.0.17763.1".to_owned(),
            process_id: 4242,
            env,
            files: vec![("C:\\hello.txt".to_owned(), "hello world\r\n".to_owned())],
            processes: vec![
                p("csrss", 412, 0, 520, 5_120, 1.25),
                p("explorer", 3120, 1, 1_650, 98_304, 12.5),
                p("lsass", 640, 0, 1_200, 18_432, 3.75),
                p("powershell", 4242, 0, 600, 65_536, 0.5),
                p("svchost", 788, 0, 900, 24_576, 7.0),
                p("System", 4, 0, 3_000, 144, 120.0),
                p("wsmprovhost", 5150, 0, 300, 40_960, 0.25),
            ],
            services: vec![
                s("BITS", "Background Intelligent Transfer Service", "Stopped"),
                s("Dnscache", "DNS Client", "Running"),
                s("EventLog", "Windows Event Log", "Running"),
                s("LanmanServer", "Server", "Running"),
                s("Spooler", "Print Spooler", "Running"),
                s("W32Time", "Windows Time", "Stopped"),
                s(
                    "WinRM",
                    "Windows Remote Management (WS-Management)",
                    "Running",
                ),
            ],
            events: vec![
                e(
                    "System",
                    7036,
                    4,
                    "Service Control Manager",
                    "The Windows Remote Management (WS-Management) service entered the running state.",
                    5,
                ),
                e(
                    "System",
                    6013,
                    4,
                    "EventLog",
                    "The system uptime is 86400 seconds.",
                    30,
                ),
                e(
                    "System",
                    1014,
                    3,
                    "Microsoft-Windows-DNS-Client",
                    "Name resolution for the name example.invalid timed out after none of the configured DNS servers responded.",
                    60,
                ),
                e(
                    "Application",
                    1000,
                    2,
                    "Application Error",
                    "Faulting application name: app.exe, version: 1.0.0.0",
                    90,
                ),
                e(
                    "Application",
                    1033,
                    4,
                    "MsiInstaller",
                    "Windows Installer installed the product.",
                    120,
                ),
            ],
            scenarios: Vec::new(),
        }
    }
}

impl FakeProcess {
    /// The `System.Diagnostics.Process` object `Get-Process` returns.
    pub fn to_object(&self) -> Value {
        let pm = self.working_set / 2;
        let npm = i64::from(self.handles) * 16;
        Value::Object(Box::new(PsObject {
            to_string: Some(format!("System.Diagnostics.Process ({})", self.name)),
            ..PsObject::typed("System.Diagnostics.Process")
                .with("Name", Value::String(self.name.clone()))
                .with("Id", Value::Int(self.id))
                .with("ProcessName", Value::String(self.name.clone()))
                .with("Handles", Value::Int(self.handles))
                .with("CPU", Value::Double(self.cpu))
                .with("WorkingSet", Value::Long(self.working_set))
                .with("WS", Value::Long(self.working_set))
                .with("PM", Value::Long(pm))
                .with("NPM", Value::Long(npm))
                .with("SI", Value::Int(self.session_id))
                .with("SessionId", Value::Int(self.session_id))
        }))
    }
}

impl FakeService {
    /// The `System.ServiceProcess.ServiceController` object `Get-Service` returns.
    pub fn to_object(&self) -> Value {
        Value::Object(Box::new(PsObject {
            to_string: Some(self.name.clone()),
            ..PsObject::typed("System.ServiceProcess.ServiceController")
                .with("Status", Value::String(self.status.clone()))
                .with("Name", Value::String(self.name.clone()))
                .with("DisplayName", Value::String(self.display_name.clone()))
                .with("ServiceName", Value::String(self.name.clone()))
                .with("StartType", Value::String("Automatic".to_owned()))
        }))
    }
}
