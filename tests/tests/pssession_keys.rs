//! The session key against the in-process emulator: `PsSession::exchange_keys` sends
//! PUBLIC_KEY, the emulator answers ENCRYPTED_SESSION_KEY, and SecureString parameters and
//! input encrypted with the key reach the engine as their plain text (the emulator decrypts
//! them the way PowerShell does: `emulator::powershell::convert::from_clixml`).

use std::sync::Arc;
use std::time::Duration;

use emulator::powershell::PowerShellShells;
use emulator::service::WsManService;
use emulator::{Config, Emulator};
use psrp::clixml::Value;
use psrp::crypto::{ExchangeKey, SessionKey};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sessions::pssession::{Invocation, InvokeOutput, PsSession, SessionOptions, value_text};
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

/// A small key (the emulator accepts 1024 bits and up): 2048-bit generation is slow in debug
/// builds. Seeded, so the test is the same on every run.
fn test_key(seed: u8) -> ExchangeKey {
    ExchangeKey::generate_with_bits(&mut ChaCha20Rng::from_seed([seed; 32]), 1024).expect("rsa key")
}

fn texts(out: &InvokeOutput) -> Vec<String> {
    out.output.iter().map(value_text).collect()
}

#[tokio::test]
async fn secure_string_parameter_and_input_round_trip_after_key_exchange() {
    let (_emu, c) = start().await;
    let mut s = PsSession::new(&c, "SERVER01", SessionOptions::default())
        .await
        .expect("open");
    assert!(s.session_key().is_none());
    assert!(s.secure_string("x").is_err(), "no key before the exchange");
    s.exchange_keys_with(test_key(3))
        .await
        .expect("key exchange");
    assert!(s.session_key().is_some());

    // As a parameter.
    let secret = s.secure_string("Hello World").expect("encrypt");
    assert!(matches!(secret, Value::SecureString(_)), "{secret:?}");
    let out = s
        .invoke(&Invocation::command("Write-Output").parameter("InputObject", secret.clone()))
        .await
        .expect("write-output");
    assert_eq!(texts(&out), ["Hello World"], "{out:?}");

    // As input objects.
    let input = vec![
        s.secure_string("p@ss wörd").expect("encrypt"),
        s.secure_string("").expect("encrypt"),
    ];
    let out = s
        .invoke(&Invocation::script("$input | ForEach-Object { \"[$_]\" }").input(input))
        .await
        .expect("input");
    assert_eq!(texts(&out), ["[p@ss wörd]", "[]"], "{out:?}");

    // The client can read back what it encrypted, and a value encrypted with another key is
    // not the secret (the engine sees $null).
    assert_eq!(s.reveal(&secret).expect("decrypt"), "Hello World");
    let foreign = Value::secure_string(&SessionKey::from_bytes([7; 32]), "Hello World");
    let out = s
        .invoke(&Invocation::command("Write-Output").parameter("InputObject", foreign))
        .await
        .expect("write-output foreign");
    assert!(!texts(&out).iter().any(|t| t == "Hello World"), "{out:?}");
    s.remove().await.expect("close");
}

#[tokio::test]
async fn exchange_keys_generates_a_key_and_is_idempotent() {
    let (_emu, c) = start().await;
    let mut s = PsSession::new(&c, "SERVER01", SessionOptions::default())
        .await
        .expect("open");
    s.exchange_keys().await.expect("key exchange");
    let first = s.session_key().cloned().expect("key");
    s.exchange_keys().await.expect("second call");
    assert!(s.session_key() == Some(&first), "kept the first key");
    let secret = s.secure_string("abc").expect("encrypt");
    let out = s
        .invoke(&Invocation::command("Write-Output").parameter("InputObject", secret))
        .await
        .expect("write-output");
    assert_eq!(texts(&out), ["abc"], "{out:?}");
    s.remove().await.expect("close");
}

#[tokio::test]
async fn secure_string_without_exchange_does_not_reach_the_engine() {
    let (_emu, c) = start().await;
    let mut s = PsSession::new(&c, "SERVER01", SessionOptions::default())
        .await
        .expect("open");
    // A client that skips the exchange and sends an <SS> anyway: the server has no key.
    let secret = Value::secure_string(&SessionKey::from_bytes([1; 32]), "Hello World");
    let out = s
        .invoke(&Invocation::command("Write-Output").parameter("InputObject", secret))
        .await
        .expect("write-output");
    assert!(!texts(&out).iter().any(|t| t == "Hello World"), "{out:?}");
    s.remove().await.expect("close");
}

#[tokio::test]
async fn exchange_within_a_timeout_succeeds_when_the_server_answers() {
    let (_emu, c) = start().await;
    let mut s = PsSession::new(&c, "SERVER01", SessionOptions::default())
        .await
        .expect("open");
    s.exchange_keys_within(test_key(5), Duration::from_secs(10))
        .await
        .expect("key exchange");
    let secret = s.secure_string("within").expect("encrypt");
    let out = s
        .invoke(&Invocation::command("Write-Output").parameter("InputObject", secret))
        .await
        .expect("write-output");
    assert_eq!(texts(&out), ["within"], "{out:?}");
    s.remove().await.expect("close");
}
