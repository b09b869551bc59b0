//! `Get-SmbSession` / `Close-SmbSession` through a PowerShell session (PSRP) against the
//! in-process emulator: the PowerShell runspace sees the same session table as WinRS, and the
//! cmdlets need Administrators as on Windows.

use std::sync::Arc;
use std::time::Duration;

use emulator::powershell::PowerShellShells;
use emulator::service::WsManService;
use emulator::{Config, Emulator};
use sessions::pssession::{Invocation, PsSession, SessionOptions};
use sessions::winrs::{Shell, ShellOptions};
use sessions::{
    AuthMethod, ClientOptions, ConnectionConfig, Credentials, HttpTransport, WsManClient,
};

const CONFIG: &str = r#"
computer_name = "RDS01"
[[users]]
name = "admin"
password = "Admin-pw-1"
admin = true
[[users]]
name = "bob"
password = "Bob-pw-1"
[[smb_sessions]]
client = "10.0.0.7"
user = "bob"
open_files = 3
idle_seconds = 600
[[smb_sessions]]
client = "10.0.0.8"
user = "carol"
idle_seconds = 5
"#;

fn client(emu: &Emulator, user: &str, password: &str) -> WsManClient {
    let config = ConnectionConfig::from_url(&emu.url())
        .expect("url")
        .auth(AuthMethod::Basic, Credentials::new(user, password));
    WsManClient::new(
        Arc::new(HttpTransport::new(config).expect("transport")),
        ClientOptions::default().operation_timeout(Duration::from_secs(2)),
    )
}

#[tokio::test]
async fn smb_cmdlets_over_psrp_share_the_table_and_check_rights() {
    let config = Config::from_toml(CONFIG).unwrap();
    let service = WsManService::with_powershell(config.clone(), PowerShellShells::new());
    let table = service.with_core(|s| s.config().sessions());
    let emu = Emulator::builder(config).start(service).await.unwrap();

    let admin = client(&emu, "admin", "Admin-pw-1");
    let mut s = PsSession::new(&admin, "RDS01", SessionOptions::default())
        .await
        .expect("new session");
    let out = s
        .invoke(&Invocation::script(
            "Get-SmbSession | ForEach-Object { \"$($_.ClientComputerName) $($_.ClientUserName) $($_.NumOpens)\" }",
        ))
        .await
        .expect("invoke");
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(
        out.output_lines(),
        ["10.0.0.7 RDS01\\bob 3", "10.0.0.8 RDS01\\carol 0"]
    );

    let out = s
        .invoke(&Invocation::script(
            "Close-SmbSession -ClientComputerName 10.0.0.8 -Force",
        ))
        .await
        .expect("invoke");
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(table.lock().smb().len(), 1);

    // WinRS sees the same table.
    let sh = Shell::open(&admin, ShellOptions::default()).await.unwrap();
    let list = sessions::smb::list(&sh).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].client, "10.0.0.7");

    let bob = client(&emu, "bob", "Bob-pw-1");
    let mut b = PsSession::new(&bob, "RDS01", SessionOptions::default())
        .await
        .expect("bob's session");
    let out = b
        .invoke(&Invocation::script(
            "Get-SmbSession | Close-SmbSession -Force",
        ))
        .await
        .expect("invoke");
    assert!(out.output.is_empty());
    assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
    assert_eq!(
        out.errors[0].message().map(str::trim),
        Some("Access denied")
    );
    assert_eq!(table.lock().smb().len(), 1, "a refusal closes nothing");
    s.remove().await.unwrap();
    b.remove().await.unwrap();
    emu.shutdown().await;
}
