//! Certificate authentication with a real peer: pywinrm 0.5.0's `transport='certificate'`
//! (requests/OpenSSL presenting a client certificate, the `secprofile/https/mutual` header)
//! running WinRS commands on the emulator over HTTPS, with certificates minted here by rcgen.
//! Also pywinrm with Basic and NTLM on that listener (no certificate), and a bare `requests`
//! POST with the header but no certificate. A missing Python peer fails
//! the test: these are acceptance tests.

mod cert_support;
mod http_support;

use cert_support::{Ca, ca, client_cert};
use http_support::{ALICE_PW, manifest, python};

use std::process::Command;

use base64::Engine as _;
use emulator::service::WsManService;
use emulator::tls::TlsSource;
use emulator::{Config, Emulator};

/// Writes a client certificate for `upn` issued by `ca`: (cert file, key file).
fn client_cert_files(ca: &Ca, upn: &str, tag: &str) -> (String, String) {
    let (cert, key) = client_cert(ca, upn);
    let dir = std::env::temp_dir();
    let stem = format!("psrm-interop-cert-{}-{tag}", std::process::id());
    let cert_path = dir.join(format!("{stem}.pem"));
    let key_path = dir.join(format!("{stem}.key"));
    std::fs::write(&cert_path, cert).unwrap();
    std::fs::write(&key_path, key).unwrap();
    (
        cert_path.display().to_string(),
        key_path.display().to_string(),
    )
}

async fn start(ca: &Ca) -> Emulator {
    let config = Config::from_toml(&format!(
        r#"computer_name = "SERVER01"
[[users]]
name = "alice"
password = "{ALICE_PW}"
[service]
auth = ["basic", "ntlm", "negotiate", "certificate"]
allow_unencrypted = false
[client_certificates]
ca_pem = "{}"
[[client_certificates.mappings]]
subject = "alice@example.test"
issuer = "{}"
user = "alice"
[[client_certificates.mappings]]
subject = "rogue@example.test"
user = "alice"
"#,
        ca.pem.replace('\n', "\\n"),
        ca.thumbprint
    ))
    .expect("test configuration parses");
    Emulator::builder(config.clone())
        .listen("127.0.0.1:0".parse().unwrap())
        .tls(TlsSource::SelfSigned {
            extra_names: Vec::new(),
        })
        .start(WsManService::new(config))
        .await
        .expect("emulator starts")
}

async fn peer(args: Vec<String>) -> String {
    let program = python();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&program)
            .arg(manifest().join("tests/interop/cert_auth.py"))
            .args(&args)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PSRM_TEST_PASSWORD", ALICE_PW)
            .output()
            .unwrap_or_else(|e| panic!("{} runs: {e}", program.display()))
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    stdout
        .lines()
        .last()
        .unwrap_or_else(|| panic!("peer printed nothing; stderr: {stderr}"))
        .to_owned()
}

async fn pywinrm(url: &str, (cert, key): &(String, String), command: &str) -> String {
    peer(vec![
        "pywinrm".into(),
        url.into(),
        cert.clone(),
        key.clone(),
        command.into(),
    ])
    .await
}

/// `OK rc stdout stderr` → (rc, stdout).
fn ok(line: &str) -> (i64, String) {
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.first(), Some(&"OK"), "pywinrm failed: {line}");
    assert_eq!(words.len(), 4, "{line}");
    let stdout = match words[2] {
        "-" => String::new(),
        w => {
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(w).unwrap()).unwrap()
        }
    };
    (words[1].parse().unwrap(), stdout)
}

#[tokio::test(flavor = "multi_thread")]
async fn pywinrm_certificate_transport_runs_commands_as_the_mapped_user() {
    let ca = ca("PSRM Interop CA");
    let emu = start(&ca).await;
    let url = emu.url();
    let alice = client_cert_files(&ca, "alice@example.test", "alice");
    let (rc, stdout) = ok(&pywinrm(&url, &alice, "hostname").await);
    assert_eq!(rc, 0);
    assert_eq!(stdout.trim(), "SERVER01");
    let (rc, stdout) = ok(&pywinrm(&url, &alice, "whoami").await);
    assert_eq!(rc, 0);
    assert_eq!(stdout.trim(), r"server01\alice");

    // Trusted but not mapped; mapped (by a mapping naming no issuer) but from an untrusted CA:
    // both 401, which pywinrm reports as InvalidCredentialsError.
    let carol = client_cert_files(&ca, "carol@example.test", "carol");
    let line = pywinrm(&url, &carol, "hostname").await;
    assert!(line.starts_with("ERROR InvalidCredentialsError"), "{line}");
    let rogue = client_cert_files(&ca_untrusted(), "rogue@example.test", "rogue");
    let line = pywinrm(&url, &rogue, "hostname").await;
    assert!(line.starts_with("ERROR InvalidCredentialsError"), "{line}");

    // Password schemes on the listener that asks for certificates: OpenSSL answers the
    // certificate request with none and logs on as before.
    for transport in ["basic", "ntlm"] {
        let line = peer(vec![
            "password".into(),
            url.clone(),
            "alice".into(),
            transport.into(),
            "whoami".into(),
        ])
        .await;
        let (rc, stdout) = ok(&line);
        assert_eq!((rc, stdout.trim()), (0, r"server01\alice"), "{transport}");
    }

    // The header without any certificate.
    let line = peer(vec!["nocert".into(), url.clone()]).await;
    assert_eq!(line, "STATUS 401");
    emu.shutdown().await;
}

fn ca_untrusted() -> Ca {
    ca("Rogue CA")
}
