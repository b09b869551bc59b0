//! The WinRS client end to end over HTTP against the in-process emulator: first with a small
//! WinRS service written here (so the test controls when output appears), then with the
//! emulator's own WS-Management service.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use emulator::service::WsManService;
use emulator::{Config, Emulator, RequestContext, SoapReply, SoapService};
use sessions::winrs::{CommandOptions, OutputEvent, Shell, ShellOptions};
use sessions::{
    AuthMethod, ClientOptions, ConnectionConfig, Credentials, Encryption, HttpTransport,
    WsManClient,
};
use wsman::header::SelectorSet;
use wsman::shell::{CommandState, CommandStateInfo, CreateResponse, ReceiveResponse, Stream};
use wsman::{Body, CommandId, Envelope, Fault, MessageId, ShellId, ns};

const ALICE_PW: &str = "Alice-pw-0451";

fn config(extra: &str) -> Config {
    Config::from_toml(&format!(
        "computer_name = \"SERVER01\"\n[[users]]\nname = \"alice\"\npassword = \"{ALICE_PW}\"\nadmin = true\n{extra}"
    ))
    .expect("test configuration parses")
}

fn client_for(emu: &Emulator, method: AuthMethod, password: &str) -> WsManClient {
    client_with(emu, method, password, ClientOptions::default())
}

fn client_with(
    emu: &Emulator,
    method: AuthMethod,
    password: &str,
    options: ClientOptions,
) -> WsManClient {
    let config = ConnectionConfig::from_url(&emu.url())
        .expect("emulator url")
        .auth(method, Credentials::new("alice", password));
    let transport = HttpTransport::new(config).expect("transport");
    WsManClient::new(Arc::new(transport), options)
}

/// What the mini service saw of one request.
#[derive(Clone, Debug)]
struct Seen {
    action: String,
    user: String,
    encrypted: bool,
    connection: u64,
}

#[derive(Debug, Default)]
struct MiniState {
    command: Vec<String>,
    stdin: Vec<u8>,
    stdin_closed: bool,
    seen: Vec<Seen>,
}

/// A WinRS service just big enough for these tests: `echo ARGS` prints its arguments; `cat`
/// waits (long poll, `w:TimedOut` at the OperationTimeout) until stdin is closed, then prints it.
#[derive(Clone, Debug, Default)]
struct MiniWinrs {
    state: Arc<Mutex<MiniState>>,
    input: Arc<tokio::sync::Notify>,
}

impl MiniWinrs {
    fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    async fn reply(&self, ctx: &RequestContext, req: Envelope) -> SoapReply {
        let id = MessageId::new(format!("uuid:{}", uuid::Uuid::new_v4()));
        let shell_id = ShellId::new("11111111-2222-3333-4444-555555555555");
        let command_id = CommandId::new("AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE");
        self.state.lock().unwrap().seen.push(Seen {
            action: req
                .header
                .action
                .as_uri()
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_owned(),
            user: ctx.user.clone(),
            encrypted: ctx.is_encrypted,
            connection: ctx.connection_id,
        });
        let body = match &req.body {
            Body::Create(_) => Body::CreateResponse(Box::new(CreateResponse {
                address: "http://127.0.0.1/wsman".into(),
                resource_uri: Some(ns::RESOURCE_CMD.into()),
                selectors: SelectorSet::shell_id(&shell_id),
                shell: None,
            })),
            Body::Command(line) => {
                let mut st = self.state.lock().unwrap();
                st.command = line
                    .command
                    .iter()
                    .chain(&line.arguments)
                    .cloned()
                    .collect();
                Body::CommandResponse(command_id.clone())
            }
            Body::Send(send) => {
                let mut st = self.state.lock().unwrap();
                for s in &send.streams {
                    st.stdin.extend_from_slice(&s.data);
                    st.stdin_closed |= s.end == Some(true);
                }
                self.input.notify_one();
                Body::SendResponse
            }
            Body::Receive(_) => {
                let timeout = req
                    .header
                    .operation_timeout
                    .unwrap_or(Duration::from_secs(20));
                let deadline = tokio::time::Instant::now() + timeout;
                let data = loop {
                    let (command, ready) = {
                        let st = self.state.lock().unwrap();
                        let ready = st.stdin_closed.then(|| st.stdin.clone());
                        (st.command.clone(), ready)
                    };
                    match command.first().map(String::as_str) {
                        Some("echo") => {
                            break format!("{}\r\n", command[1..].join(" ")).into_bytes();
                        }
                        Some("cat") => {
                            if let Some(data) = ready {
                                break data;
                            }
                            if tokio::time::timeout_at(deadline, self.input.notified())
                                .await
                                .is_err()
                            {
                                let fault = Fault::timed_out("SERVER01")
                                    .to_envelope(id, Some(req.header.message_id.clone()));
                                return SoapReply::fault(fault.encode());
                            }
                        }
                        _ => break Vec::new(),
                    }
                };
                Body::ReceiveResponse(ReceiveResponse {
                    streams: vec![Stream {
                        name: "stdout".into(),
                        command_id: Some(command_id.clone()),
                        end: None,
                        data,
                    }],
                    command_state: Some(CommandStateInfo {
                        command_id: Some(command_id),
                        state: CommandState::Done,
                        exit_code: Some(0),
                    }),
                })
            }
            Body::Signal(_) => Body::SignalResponse,
            Body::Delete => Body::DeleteResponse,
            _ => {
                let fault = Fault::invalid_selectors("SERVER01")
                    .to_envelope(id, Some(req.header.message_id.clone()));
                return SoapReply::fault(fault.encode());
            }
        };
        SoapReply::ok(Envelope::reply_to(&req.header, id, body).encode())
    }
}

impl SoapService for MiniWinrs {
    async fn handle(&self, ctx: RequestContext, envelope: Vec<u8>) -> SoapReply {
        match Envelope::decode(&envelope) {
            Ok(req) => self.reply(&ctx, req).await,
            Err(_) => SoapReply {
                status: 400,
                body: Vec::new(),
            },
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_over_basic_and_sealed_ntlm() {
    for (method, extra, sealed) in [
        (AuthMethod::Basic, "", false),
        (
            AuthMethod::Ntlm,
            "[service]\nallow_unencrypted = false",
            true,
        ),
        (
            AuthMethod::Negotiate,
            "[service]\nallow_unencrypted = false",
            true,
        ),
    ] {
        let svc = MiniWinrs::default();
        let emu = Emulator::start(config(extra), svc.clone()).await.unwrap();
        let client = client_for(&emu, method, ALICE_PW);
        let shell = Shell::open(&client, ShellOptions::default()).await.unwrap();
        let out = shell.exec("echo", &["hello", "there"]).await.unwrap();
        assert_eq!(out.stdout_text(), "hello there\r\n", "{method:?}");
        assert_eq!(out.exit_code, Some(0));
        shell.close().await.unwrap();
        let seen = svc.seen();
        let actions: Vec<&str> = seen.iter().map(|s| s.action.as_str()).collect();
        assert_eq!(
            actions,
            ["Create", "Command", "Receive", "Signal", "Delete"]
        );
        assert!(
            seen.iter()
                .all(|s| s.user == "alice" && s.encrypted == sealed),
            "{method:?}: {seen:?}"
        );
        emu.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_is_a_clear_auth_error() {
    for method in [AuthMethod::Basic, AuthMethod::Ntlm] {
        let emu = Emulator::start(config(""), MiniWinrs::default())
            .await
            .unwrap();
        let client = client_for(&emu, method, "not-the-password");
        let err = Shell::open(&client, ShellOptions::default())
            .await
            .unwrap_err();
        assert!(err.is_auth(), "{method:?}: {err}");
        assert!(err.fault().is_none());
        let text = err.to_string();
        assert!(
            text.contains("authentication failed") && text.contains("401"),
            "{text}"
        );
        assert!(!text.contains("not-the-password"), "{text}");
        emu.shutdown().await;
    }
}

/// A Receive parked on the server must not hold up a Send: receives travel on their own
/// connection (and their own NTLM context).
#[tokio::test(flavor = "multi_thread")]
async fn parked_receive_does_not_block_send_or_signal() {
    let svc = MiniWinrs::default();
    let emu = Emulator::start(config("[service]\nallow_unencrypted = false"), svc.clone())
        .await
        .unwrap();
    let client = client_for(&emu, AuthMethod::Ntlm, ALICE_PW);
    let shell = Shell::open(&client, ShellOptions::default()).await.unwrap();
    let process = Arc::new(
        shell
            .start("cat", &[], CommandOptions::default())
            .await
            .unwrap(),
    );
    let reader = {
        let p = process.clone();
        tokio::spawn(async move { p.receive().await })
    };
    // Let the Receive reach the server and park there.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!reader.is_finished());
    tokio::time::timeout(
        Duration::from_secs(5),
        process.send_input(b"typed\r\n", true),
    )
    .await
    .expect("send is not blocked by the parked receive")
    .unwrap();
    let events = tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("receive completes once stdin is closed")
        .unwrap()
        .unwrap();
    assert_eq!(
        events,
        [
            OutputEvent::Stdout(b"typed\r\n".to_vec()),
            OutputEvent::Exit(Some(0))
        ]
    );
    process.ctrl_c().await.unwrap();
    let seen = svc.seen();
    let conn = |a: &str| seen.iter().find(|s| s.action == a).map(|s| s.connection);
    assert_ne!(conn("Receive"), conn("Send"), "{seen:?}");
    assert_eq!(conn("Send"), conn("Signal"));
    assert!(seen.iter().all(|s| s.encrypted));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn timed_out_receives_are_polled_again() {
    let svc = MiniWinrs::default();
    let emu = Emulator::start(config(""), svc.clone()).await.unwrap();
    let options = ClientOptions::default().operation_timeout(Duration::from_millis(400));
    let client = client_with(&emu, AuthMethod::Basic, ALICE_PW, options);
    let shell = Shell::open(&client, ShellOptions::default()).await.unwrap();
    let process = Arc::new(
        shell
            .start("cat", &[], CommandOptions::default())
            .await
            .unwrap(),
    );
    let writer = {
        let p = process.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1300)).await;
            p.send_input(b"late", true).await
        })
    };
    let events = process.receive().await.unwrap();
    writer.await.unwrap().unwrap();
    assert_eq!(events.first(), Some(&OutputEvent::Stdout(b"late".to_vec())));
    let receives = svc.seen().iter().filter(|s| s.action == "Receive").count();
    assert!(
        receives >= 3,
        "expected re-polls after w:TimedOut, saw {receives} receives"
    );
    emu.shutdown().await;
}

/// The server restarts: the old connection and its NTLM context are gone; the next request
/// connects and authenticates again on its own.
#[tokio::test(flavor = "multi_thread")]
async fn server_restart_reauthenticates_on_a_new_connection() {
    let emu = Emulator::start(
        config("[service]\nallow_unencrypted = false"),
        MiniWinrs::default(),
    )
    .await
    .unwrap();
    let addr = emu.local_addr();
    let client = client_for(&emu, AuthMethod::Ntlm, ALICE_PW);
    let shell = Shell::open(&client, ShellOptions::default()).await.unwrap();
    assert_eq!(
        shell.exec("echo", &["one"]).await.unwrap().stdout_text(),
        "one\r\n"
    );
    emu.shutdown().await;
    let svc = MiniWinrs::default();
    let emu = Emulator::builder(config("[service]\nallow_unencrypted = false"))
        .listen(addr)
        .start(svc.clone())
        .await
        .unwrap();
    let shell = Shell::open(&client, ShellOptions::default()).await.unwrap();
    assert_eq!(
        shell.exec("echo", &["two"]).await.unwrap().stdout_text(),
        "two\r\n"
    );
    assert!(svc.seen().iter().all(|s| s.encrypted && s.user == "alice"));
    emu.shutdown().await;
}

async fn real_emulator(extra: &str) -> Emulator {
    let cfg = config(extra);
    Emulator::builder(cfg.clone())
        .start(WsManService::new(cfg))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_against_the_emulator_service() {
    let emu = real_emulator("[service]\nallow_unencrypted = false").await;
    let client = client_for(&emu, AuthMethod::Ntlm, ALICE_PW);
    let shell = Shell::open(&client, ShellOptions::default()).await.unwrap();
    let out = shell.exec("echo", &["hello"]).await.unwrap();
    assert_eq!(out.stdout_text(), "hello\r\n");
    assert_eq!(out.exit_code, Some(0));
    let out = shell.exec("exit /b 3", &[]).await.unwrap();
    assert_eq!(out.exit_code, Some(3));
    let out = shell.exec("nosuchcommand", &[]).await.unwrap();
    assert_eq!(out.exit_code, Some(9009));
    // stderr (the emulator's cmd subset has no `1>&2` redirection; an unknown command writes
    // its complaint to stderr as cmd.exe does).
    assert!(out.stderr_text().contains("is not recognized"), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    shell.close().await.unwrap();
    // The shell is gone: a typed fault, not a transport error.
    let shell = Shell::open(&client, ShellOptions::default()).await.unwrap();
    let id = shell.id().clone();
    shell.close().await.unwrap();
    let err = client.delete(ns::RESOURCE_CMD, &id).await.unwrap_err();
    assert_eq!(err.fault_subcode(), Some("InvalidSelectors"), "{err}");
    assert_eq!(
        err.fault_code(),
        Some(wsman::WsManFaultCode::INVALID_SELECTORS)
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_a_running_command() {
    let emu = real_emulator("").await;
    let client = client_for(&emu, AuthMethod::Basic, ALICE_PW);
    let shell = Shell::open(&client, ShellOptions::default().env("PSRM_VAR", "from-env"))
        .await
        .unwrap();
    let out = shell.exec("echo %PSRM_VAR%", &[]).await.unwrap();
    assert_eq!(out.stdout_text(), "from-env\r\n");
    let p = shell
        .start("ping -n 100 127.0.0.1", &[], CommandOptions::default())
        .await
        .unwrap();
    // Wait for the first output, then interrupt.
    let mut first = Vec::new();
    while first.is_empty() {
        first = p.receive().await.unwrap();
    }
    assert!(
        !first.iter().any(|e| matches!(e, OutputEvent::Exit(_))),
        "{first:?}"
    );
    p.ctrl_c().await.unwrap();
    let out = tokio::time::timeout(Duration::from_secs(10), p.wait())
        .await
        .expect("the command stops after ctrl-c")
        .unwrap();
    // STATUS_CONTROL_C_EXIT, reported unsigned as Windows does.
    assert_eq!(out.exit_code, Some(0xC000_013A), "{out:?}");
    shell.close().await.unwrap();
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_with_and_without_verification() {
    let cfg = config("");
    let emu = Emulator::builder(cfg.clone())
        .tls(emulator::tls::TlsSource::SelfSigned {
            extra_names: Vec::new(),
        })
        .start(WsManService::new(cfg))
        .await
        .unwrap();
    let base = ConnectionConfig::from_url(&emu.url())
        .unwrap()
        .auth(AuthMethod::Basic, Credentials::new("alice", ALICE_PW));
    let verified = WsManClient::from_config(base.clone()).unwrap();
    let err = Shell::open(&verified, ShellOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_tls(), "{err}");
    let insecure =
        WsManClient::from_config(base.insecure(true).encryption(Encryption::Auto)).unwrap();
    let shell = Shell::open(&insecure, ShellOptions::default())
        .await
        .unwrap();
    assert_eq!(
        shell.exec("echo", &["tls"]).await.unwrap().stdout_text(),
        "tls\r\n"
    );
    shell.close().await.unwrap();
    emu.shutdown().await;
}

/// A caller that gives up on a long poll (drops the future) leaves the receive connection with
/// a reply in flight: the next request on that lane must not read it, and still works.
#[tokio::test(flavor = "multi_thread")]
async fn abandoned_receive_does_not_poison_the_lane() {
    let svc = MiniWinrs::default();
    let emu = Emulator::start(config("[service]\nallow_unencrypted = false"), svc.clone())
        .await
        .unwrap();
    let client = client_for(&emu, AuthMethod::Ntlm, ALICE_PW);
    let shell = Shell::open(&client, ShellOptions::default()).await.unwrap();
    let process = shell
        .start("cat", &[], CommandOptions::default())
        .await
        .unwrap();
    let gave_up = tokio::time::timeout(Duration::from_millis(300), process.receive()).await;
    assert!(gave_up.is_err(), "the receive was parked");
    process.send_input(b"after", true).await.unwrap();
    let events = tokio::time::timeout(Duration::from_secs(10), process.receive())
        .await
        .expect("a new receive completes")
        .unwrap();
    assert_eq!(
        events.first(),
        Some(&OutputEvent::Stdout(b"after".to_vec()))
    );
    emu.shutdown().await;
}

/// The remaining verbs on a WinRS shell: enumerate (shells and commands), get, disconnect,
/// reconnect (same SessionId only) and connect (PowerShell only).
#[tokio::test(flavor = "multi_thread")]
async fn enumerate_get_disconnect_reconnect() {
    use wsman::enumeration::Item;
    use wsman::shell::{BufferMode, Connect, Disconnect, Reconnect, ShellState};

    let emu = real_emulator("").await;
    let client = client_for(&emu, AuthMethod::Basic, ALICE_PW);
    let shell = Shell::open(&client, ShellOptions::default().name("verbs"))
        .await
        .unwrap();
    let id = shell.id().clone();
    let shells = client
        .enumerate_all(ns::RESOURCE_SHELLS, None)
        .await
        .unwrap();
    let listed = shells
        .iter()
        .find_map(|i| match i {
            Item::Shell(s) if s.id() == Some(&id) => Some(s.clone()),
            _ => None,
        })
        .expect("our shell is enumerated");
    assert_eq!(listed.owner.as_deref(), Some("alice"), "{listed:?}");
    match client
        .get(ns::RESOURCE_SHELLS, SelectorSet::shell_id(&id))
        .await
        .unwrap()
    {
        wsman::Resource::Shell(s) => assert_eq!(s.id(), Some(&id)),
        other => panic!("expected a shell, got {other:?}"),
    }

    let p = shell
        .start("ping -n 2 127.0.0.1", &[], CommandOptions::default())
        .await
        .unwrap();
    let commands = client
        .enumerate_all(
            ns::RESOURCE_COMMANDS,
            Some(WsManClient::commands_filter(&id)),
        )
        .await
        .unwrap();
    assert!(
        commands
            .iter()
            .any(|i| matches!(i, Item::Command(c) if c.command_id.as_ref() == Some(p.id()))),
        "{commands:?}"
    );

    client
        .disconnect(
            ns::RESOURCE_CMD,
            &id,
            Disconnect {
                idle_timeout: Some(Duration::from_secs(600)),
                buffer_mode: Some(BufferMode::Block),
            },
        )
        .await
        .unwrap();
    let state = |items: &[Item]| {
        items.iter().find_map(|i| match i {
            Item::Shell(s) if s.id() == Some(&id) => s.state.clone(),
            _ => None,
        })
    };
    let shells = client
        .enumerate_all(ns::RESOURCE_SHELLS, None)
        .await
        .unwrap();
    assert_eq!(state(&shells), Some(ShellState::Disconnected));
    // While disconnected, receiving is refused with a typed fault.
    let err = p.receive().await.unwrap_err();
    assert_eq!(
        err.fault_code(),
        Some(wsman::WsManFaultCode::STREAM_DISCONNECTED),
        "{err}"
    );
    // Reconnect belongs to the SessionId that disconnected: another client is refused.
    let other = client_for(&emu, AuthMethod::Basic, ALICE_PW);
    assert_ne!(other.session_id(), client.session_id());
    let err = other
        .reconnect(ns::RESOURCE_CMD, &id, Reconnect::default())
        .await
        .unwrap_err();
    assert!(err.fault().is_some(), "{err}");
    client
        .reconnect(ns::RESOURCE_CMD, &id, Reconnect::default())
        .await
        .unwrap();
    // A handle rebuilt from the ids alone (as another process of this client would) reads it.
    let attached = Shell::attach(&client, ns::RESOURCE_CMD, id.clone());
    let p = attached.process(p.id().clone());
    let out = p.wait().await.unwrap();
    assert!(out.stdout_text().contains("127.0.0.1"), "{out:?}");
    assert_eq!(out.exit_code, Some(0));
    // Connect is a PowerShell verb: a WinRS shell answers with a typed fault.
    let err = client
        .connect(
            ns::RESOURCE_CMD,
            &id,
            Connect::default(),
            wsman::header::OptionSet::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.fault_subcode(), Some("ActionNotSupported"), "{err}");
    shell.close().await.unwrap();
    emu.shutdown().await;
}

/// Input larger than one envelope is streamed in several Sends, the last one closing stdin.
#[tokio::test(flavor = "multi_thread")]
async fn copy_input_streams_large_stdin() {
    let svc = MiniWinrs::default();
    let emu = Emulator::start(config("[service]\nallow_unencrypted = false"), svc.clone())
        .await
        .unwrap();
    let client = client_for(&emu, AuthMethod::Ntlm, ALICE_PW);
    let shell = Shell::open(&client, ShellOptions::default()).await.unwrap();
    let process = shell
        .start("cat", &[], CommandOptions::default())
        .await
        .unwrap();
    let input: Vec<u8> = (0..400_000u32).map(|i| (i % 251) as u8).collect();
    let sent = process.copy_input(&input[..]).await.unwrap();
    assert_eq!(sent, input.len() as u64);
    let out = process.wait().await.unwrap();
    assert_eq!(out.stdout.len(), input.len());
    assert!(out.stdout == input, "stdin arrived intact");
    let sends = svc.seen().iter().filter(|s| s.action == "Send").count();
    assert!(sends >= 4, "{sends} sends for 400 kB at 150 kB envelopes");
    emu.shutdown().await;
}
