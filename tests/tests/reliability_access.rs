//! Access control end to end, through the client over HTTP: user B cannot enumerate, get,
//! connect to, receive from, signal, disconnect, reconnect or delete user A's PowerShell session
//! (each answered `w:AccessDenied`), and A's session is untouched afterwards; an administrator
//! sees and removes it.

use std::sync::Arc;
use std::time::Duration;

use emulator::powershell::PowerShellShells;
use emulator::service::WsManService;
use emulator::{Config, Emulator};
use sessions::pssession::{Invocation, PsSession, SessionOptions};
use sessions::{
    AuthMethod, ClientOptions, ConnectionConfig, Credentials, Error, HttpTransport, WsManClient,
};
use wsman::header::{OptionSet, SelectorSet};
use wsman::shell::{Connect, Disconnect, Receive, Reconnect, SignalCode};

const HOST: &str = "SERVER01";
const URI: &str = "http://schemas.microsoft.com/powershell/Microsoft.PowerShell";

fn config() -> Config {
    Config::from_toml(&format!(
        "computer_name = \"{HOST}\"\n\
         [[users]]\nname = \"alice\"\npassword = \"A-pw-1\"\n\
         [[users]]\nname = \"bob\"\npassword = \"B-pw-2\"\n\
         [[users]]\nname = \"root\"\npassword = \"R-pw-3\"\nadmin = true\n"
    ))
    .expect("configuration parses")
}

fn client(emu: &Emulator, user: &str, password: &str) -> WsManClient {
    let config = ConnectionConfig::from_url(&emu.url())
        .expect("url")
        .auth(AuthMethod::Basic, Credentials::new(user, password));
    WsManClient::new(
        Arc::new(HttpTransport::new(config).expect("transport")),
        ClientOptions::default().operation_timeout(Duration::from_secs(1)),
    )
}

fn denied(what: &str, r: Result<impl std::fmt::Debug, Error>) {
    match r {
        Err(e) => assert_eq!(
            e.fault_subcode(),
            Some("AccessDenied"),
            "{what}: expected AccessDenied, got {e}"
        ),
        Ok(v) => panic!("{what}: bob was allowed: {v:?}"),
    }
}

#[tokio::test]
async fn another_user_is_denied_every_operation_on_a_session_and_an_admin_is_not() {
    let config = config();
    let service = WsManService::with_powershell(config.clone(), PowerShellShells::new());
    let emu = Emulator::builder(config)
        .start(service)
        .await
        .expect("emulator starts");
    let alice = client(&emu, "alice", "A-pw-1");
    let bob = client(&emu, "bob", "B-pw-2");
    let root = client(&emu, "root", "R-pw-3");

    let mut s = PsSession::new(&alice, HOST, SessionOptions::default().name("Private"))
        .await
        .expect("alice's session");
    let p = s
        .start(&Invocation::script("Start-Sleep -Seconds 30"))
        .await
        .expect("a running command");
    let shell = s.shell_id().clone();
    let command = p.command_id().clone();

    // Enumeration hides it from bob; enumerating its commands is refused.
    let listed = PsSession::enumerate(&bob).await.expect("bob enumerates");
    assert!(listed.iter().all(|r| r.shell_id != shell), "{listed:?}");
    let selectors = SelectorSet::shell_id(&shell);
    denied("get", bob.get(URI, selectors.clone()).await);
    denied(
        "receive",
        bob.receive_once(
            URI,
            &shell,
            Receive {
                command_id: Some(command.clone()),
                streams: vec!["stdout".into()],
                ..Default::default()
            },
            Duration::from_millis(300),
        )
        .await,
    );
    denied(
        "signal",
        bob.signal(URI, &shell, Some(&command), SignalCode::PowerShellCtrlC)
            .await,
    );
    denied(
        "disconnect",
        bob.disconnect(URI, &shell, Disconnect::default()).await,
    );
    denied(
        "reconnect",
        bob.reconnect(URI, &shell, Reconnect::default()).await,
    );
    denied(
        "connect",
        bob.connect(
            URI,
            &shell,
            Connect {
                command_id: Some(command.clone()),
                connect_xml: None,
            },
            OptionSet::default(),
        )
        .await,
    );
    denied("delete", bob.delete(URI, &shell).await);

    // Untouched: alice still sees it connected and her command running.
    let mine = PsSession::enumerate(&alice)
        .await
        .expect("alice enumerates");
    let entry = mine
        .iter()
        .find(|r| r.shell_id == shell)
        .expect("alice's session is still there");
    assert!(entry.connected);
    assert!(
        entry
            .commands
            .iter()
            .any(|c| c.command_id.as_ref() == Some(&command))
    );

    // The administrator sees it and may remove it.
    let all = PsSession::enumerate(&root).await.expect("root enumerates");
    assert!(all.iter().any(|r| r.shell_id == shell));
    root.delete(URI, &shell).await.expect("admin deletes");
    let after = PsSession::enumerate(&alice)
        .await
        .expect("alice enumerates");
    assert!(after.iter().all(|r| r.shell_id != shell));
    drop(p);
    emu.shutdown().await;
}
