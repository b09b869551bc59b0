//! Runspace pool requests against the in-process emulator: runspace counts, reset, command
//! metadata (`PsSession::set_max_runspaces` and friends).

use std::sync::Arc;
use std::time::Duration;

use emulator::powershell::PowerShellShells;
use emulator::service::WsManService;
use emulator::{Config, Emulator};
use psrp::messages::GetCommandMetadata;
use sessions::pssession::{Invocation, PsSession, SessionOptions, value_text};
use sessions::{
    AuthMethod, ClientOptions, ConnectionConfig, Credentials, HttpTransport, WsManClient,
};

const PASSWORD: &str = "Alice-pw-0451";

async fn start() -> (Emulator, WsManClient) {
    let config = Config::from_toml(&format!(
        "computer_name = \"SERVER01\"\n[[users]]\nname = \"alice\"\npassword = \"{PASSWORD}\"\nadmin = true\n"
    ))
    .expect("test configuration parses");
    let service = WsManService::with_powershell(config.clone(), PowerShellShells::new());
    let emu = Emulator::builder(config)
        .start(service)
        .await
        .expect("emulator starts");
    let connection = ConnectionConfig::from_url(&emu.url())
        .expect("emulator url")
        .auth(AuthMethod::Basic, Credentials::new("alice", PASSWORD));
    let transport = HttpTransport::new(connection).expect("transport");
    let client = WsManClient::new(
        Arc::new(transport),
        ClientOptions::default().operation_timeout(Duration::from_secs(2)),
    );
    (emu, client)
}

#[tokio::test]
async fn runspace_counts_are_negotiated_with_the_server() {
    let (_emu, c) = start().await;
    let mut s = PsSession::new(&c, "SERVER01", SessionOptions::default())
        .await
        .expect("open");
    assert_eq!(s.runspaces(), (1, 1));
    assert_eq!(s.get_available_runspaces().await.expect("available"), 1);
    assert!(s.set_max_runspaces(3).await.expect("max 3"));
    assert_eq!(s.runspaces(), (1, 3));
    assert_eq!(s.get_available_runspaces().await.expect("available"), 3);
    assert!(s.set_min_runspaces(2).await.expect("min 2"));
    assert!(!s.set_min_runspaces(4).await.expect("min above max"));
    assert!(!s.set_max_runspaces(0).await.expect("max 0"));
    assert_eq!(s.runspaces(), (2, 3), "refusals change nothing");
    s.remove().await.expect("close");
}

#[tokio::test]
async fn reset_runspace_state_forgets_variables() {
    let (_emu, c) = start().await;
    let mut s = PsSession::new(&c, "SERVER01", SessionOptions::default())
        .await
        .expect("open");
    s.invoke(&Invocation::script("$kept = 'here'"))
        .await
        .expect("set");
    let before = s.invoke(&Invocation::script("$kept")).await.expect("read");
    assert_eq!(
        before.output.iter().map(value_text).collect::<Vec<_>>(),
        ["here"]
    );
    assert!(s.reset_runspace_state().await.expect("reset"));
    let after = s.invoke(&Invocation::script("$kept")).await.expect("read");
    // `$kept` is undefined again: $null (PowerShell writes it), not "here".
    assert_eq!(after.output, [psrp::clixml::Value::Nil], "{after:?}");
    s.remove().await.expect("close");
}

#[tokio::test]
async fn command_metadata_lists_matching_commands() {
    let (_emu, c) = start().await;
    let mut s = PsSession::new(&c, "SERVER01", SessionOptions::default())
        .await
        .expect("open");
    let request = GetCommandMetadata {
        names: vec!["Write-Out*".into()],
        command_type: 511,
        namespace: None,
        argument_list: None,
    };
    let out = s
        .get_command_metadata(&request, None)
        .await
        .expect("metadata");
    assert!(out.is_completed(), "{out:?}");
    // The count object, then Write-Output.
    assert_eq!(out.output.len(), 2, "{out:?}");
    assert!(
        format!("{:?}", out.output[1]).contains("Write-Output"),
        "{out:?}"
    );
    assert!(s.pending_commands().is_empty());
    s.remove().await.expect("close");
}

#[tokio::test]
async fn a_terminated_command_id_can_be_used_again() {
    let (_emu, c) = start().await;
    let mut s = PsSession::new(&c, "SERVER01", SessionOptions::default())
        .await
        .expect("open");
    let id = uuid::Uuid::new_v4();
    for _ in 0..2 {
        let mut inv = Invocation::script("1 + 1");
        inv.pipeline_id = Some(id);
        let out = s.invoke(&inv).await.expect("invoke");
        assert_eq!(out.output.iter().map(value_text).collect::<Vec<_>>(), ["2"]);
        s.terminate_command(&out.command_id)
            .await
            .expect("terminate");
    }
    s.remove().await.expect("close");
}

#[tokio::test]
async fn is_alive_follows_the_shell_on_the_server() {
    use sessions::pssession::{DisconnectOptions, SessionState};
    let (_emu, c) = start().await;
    let mut s = PsSession::new(&c, "SERVER01", SessionOptions::default())
        .await
        .expect("open");
    assert!(s.is_alive().await.expect("alive"));
    s.disconnect(DisconnectOptions::default())
        .await
        .expect("disconnect");
    assert!(!s.is_alive().await.expect("alive"));
    assert_eq!(s.state(), SessionState::Disconnected);
    s.reconnect(None).await.expect("reconnect");
    assert!(s.is_alive().await.expect("alive"));
    // Removed through another handle: the shell is gone.
    PsSession::from_record(&c, &s.record())
        .remove()
        .await
        .expect("remove");
    assert!(!s.is_alive().await.expect("alive"));
    assert_eq!(s.state(), SessionState::Broken);
}
