//! Shared setup for the tests that run the client against the in-process emulator over
//! loopback HTTP: one user `alice`, a `Microsoft.PowerShell` configuration, clients that log
//! on as her, and the checks on a numbered output sequence (`1..N`).

use std::sync::Arc;
use std::time::Duration;

use emulator::faults::{FaultKind, FaultRule};
use emulator::powershell::PowerShellShells;
use emulator::service::WsManService;
use emulator::{Config, Emulator};
use sessions::pssession::{Pipeline, PsSession, SessionOptions, StreamItem};
use sessions::{
    AuthMethod, ClientOptions, ConnectionConfig, Credentials, HttpTransport, WsManClient,
};
use wsman::shell::BufferMode;

/// Alice's password in every emulator configuration built here.
pub const PASSWORD: &str = "Alice-pw-0451";
/// The emulator's computer name.
pub const HOST: &str = "SERVER01";

/// A configuration with the user `alice` (`user_extra`: more TOML lines of her entry, such as
/// `admin = true\n`) and a `Microsoft.PowerShell` session configuration (`configuration`: its
/// TOML lines after the name, each ending in a newline; later sections may follow).
///
/// # Panics
/// When the TOML does not parse (a mistake in the test).
pub fn config(user_extra: &str, configuration: &str) -> Config {
    Config::from_toml(&format!(
        "computer_name = \"{HOST}\"\n[[users]]\nname = \"alice\"\npassword = \"{PASSWORD}\"\n\
         {user_extra}[[session_configurations]]\nname = \"Microsoft.PowerShell\"\n{configuration}"
    ))
    .expect("test configuration parses")
}

/// Starts the emulator with a PowerShell service on `config`; the service is returned too,
/// for its gauges.
///
/// # Panics
/// When the emulator cannot start.
pub async fn start(config: Config) -> (Emulator, WsManService) {
    let service = WsManService::with_powershell(config.clone(), PowerShellShells::new());
    let emu = Emulator::builder(config)
        .start(service.clone())
        .await
        .expect("emulator starts");
    (emu, service)
}

/// A client of `emu` logged on as `alice` with `auth`; `read_grace`: the transport's read
/// grace, when the test sets it.
///
/// # Panics
/// When the emulator's URL or the transport is refused.
pub fn alice_client(
    emu: &Emulator,
    auth: AuthMethod,
    read_grace: Option<Duration>,
    options: ClientOptions,
) -> WsManClient {
    let mut config = ConnectionConfig::from_url(&emu.url())
        .expect("emulator url")
        .auth(auth, Credentials::new("alice", PASSWORD));
    if let Some(grace) = read_grace {
        config.read_grace = grace;
    }
    let transport = HttpTransport::new(config).expect("transport");
    WsManClient::new(Arc::new(transport), options)
}

/// A new session named `name` on `c`, with `mode` in its Create body when given.
///
/// # Panics
/// When the session cannot be created.
pub async fn new_session(c: &WsManClient, name: &str, mode: Option<BufferMode>) -> PsSession {
    let mut options = SessionOptions::default().name(name);
    if let Some(mode) = mode {
        options = options.output_buffering_mode(mode);
    }
    PsSession::new(c, HOST, options).await.expect("new")
}

/// Lost and duplicated numbers of `got` against `1..=n`: how many of `1..=n` are missing, and
/// how many numbers came more than once (each extra copy counts).
pub fn lost_and_duplicated(got: &[u64], n: u64) -> (u64, u64) {
    let lost = (1..=n).filter(|i| !got.contains(i)).count();
    let mut sorted = got.to_vec();
    sorted.sort_unstable();
    let before = sorted.len();
    sorted.dedup();
    let dup = before - sorted.len();
    (
        u64::try_from(lost).unwrap_or(u64::MAX),
        u64::try_from(dup).unwrap_or(u64::MAX),
    )
}

/// Makes the emulator drop the reply of every Receive (after handling it: its output leaves the
/// server's queue), at most `cap` times, and reads `p` on until it fails; the numbers read
/// meanwhile (by `number`) go to `got`.
///
/// # Panics
/// When the pipeline ends instead of failing, or fails with something else than a connection
/// error.
pub async fn drop_receives_until_failure(
    emu: &Emulator,
    p: &mut Pipeline,
    cap: u64,
    got: &mut Vec<u64>,
    number: impl Fn(&StreamItem) -> Option<u64>,
) {
    emu.faults().add(
        FaultRule::new("Receive", FaultKind::Drop)
            .every(1)
            .times(cap),
    );
    let err = loop {
        match p.next().await {
            Ok(Some(item)) => got.extend(number(&item)),
            Ok(None) => panic!(
                "the pipeline ended although its Receives were dropped: {} numbers, {:?}",
                got.len(),
                emu.faults().counts()
            ),
            Err(e) => break e,
        }
    };
    assert!(err.is_connection(), "a connection error: {err}");
}
