//! Certificate authentication (`secprofile/https/mutual`) against the in-process emulator: a CA
//! and client certificates generated here with rcgen, a trusted and mapped certificate logs on
//! as its mapped account; unmapped, untrusted and wrong-issuer certificates are refused with
//! 401; password schemes keep working on the same listener; configuration errors are typed.

// The CA and client certificate generation shared with the emulator's certificate tests.
#[path = "../../emulator/tests/cert_support/mod.rs"]
mod cert_support;

use cert_support::{Ca, ca, client_cert};

use std::path::PathBuf;
use std::time::Duration;

use emulator::http::EchoService;
use emulator::tls::TlsSource;
use emulator::{Config, Emulator};
use wsman_transport::{
    AuthMethod, ClientCertificate, ConnectionConfig, Credentials, HttpTransport, Lane, Transport,
    TransportError,
};

const ALICE_PW: &str = "Alice-pw-0451";
const ENVELOPE: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/><s:Body/></s:Envelope>"#;

fn config(ca: &Ca, mappings: &str) -> Config {
    let ca_pem = ca.pem.replace('\n', "\\n");
    Config::from_toml(&format!(
        r#"computer_name = "SERVER01"
[[users]]
name = "alice"
password = "{ALICE_PW}"
[[users]]
name = "bob"
password = "Bob-pw-1"
[service]
auth = ["basic", "ntlm", "negotiate", "certificate"]
[client_certificates]
ca_pem = "{ca_pem}"
{mappings}"#
    ))
    .expect("test configuration parses")
}

async fn start(config: Config) -> Emulator {
    Emulator::builder(config)
        .tls(TlsSource::SelfSigned {
            extra_names: Vec::new(),
        })
        .start(EchoService)
        .await
        .expect("emulator starts")
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("psrm-client-cert-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

/// The emulator's HTTPS endpoint, its generated certificate trusted.
fn endpoint(emu: &Emulator) -> ConnectionConfig {
    let server_pem = emu.generated_cert().expect("self-signed").cert_pem.clone();
    ConnectionConfig::from_url(&emu.url())
        .unwrap()
        .ca_file(temp_file(
            &format!("server-{}.pem", emu.local_addr().port()),
            &server_pem,
        ))
}

async fn post(config: ConnectionConfig) -> Result<String, TransportError> {
    let t = HttpTransport::new(config)?;
    let reply = t
        .post(
            Lane::CONTROL,
            ENVELOPE.as_bytes().to_vec(),
            Duration::from_secs(10),
        )
        .await?;
    assert_eq!(reply.status, 200);
    Ok(String::from_utf8(reply.body).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mapped_certificate_logs_on_as_its_account() {
    let ca = ca("PSRM Test CA");
    let mappings = format!(
        "[[client_certificates.mappings]]\nsubject = \"alice@example.test\"\nissuer = \"{}\"\nuser = \"alice\"\n[[client_certificates.mappings]]\nsubject = \"bob@example.test\"\nuser = \"bob\"\n",
        ca.thumbprint
    );
    let emu = start(config(&ca, &mappings)).await;
    let (cert, key) = client_cert(&ca, "alice@example.test");
    // PEM in memory.
    let body = post(
        endpoint(&emu).certificate_auth(ClientCertificate::from_pem(cert.clone(), key.clone())),
    )
    .await
    .unwrap();
    assert!(body.contains(r#"User="alice""#), "{body}");
    assert!(body.contains(r#"Encrypted="true""#), "{body}");
    // PEM files, another account, a mapping without an issuer.
    let (cert_b, key_b) = client_cert(&ca, "BOB@example.test");
    let files =
        ClientCertificate::from_files(temp_file("bob.pem", &cert_b), temp_file("bob.key", &key_b));
    let body = post(endpoint(&emu).certificate_auth(files)).await.unwrap();
    assert!(body.contains(r#"User="bob""#), "{body}");
    // Several requests on one connection (the header goes with each).
    let t =
        HttpTransport::new(endpoint(&emu).certificate_auth(ClientCertificate::from_pem(cert, key)))
            .unwrap();
    for _ in 0..3 {
        let r = t
            .post(Lane::CONTROL, ENVELOPE.into(), Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(r.status, 200);
    }
    // Password schemes still work on the listener that asks for certificates.
    for method in [AuthMethod::Basic, AuthMethod::Ntlm, AuthMethod::Negotiate] {
        let body = post(endpoint(&emu).auth(method, Credentials::new("alice", ALICE_PW)))
            .await
            .unwrap();
        assert!(body.contains(r#"User="alice""#), "{method:?}: {body}");
    }
    emu.shutdown().await;
}

fn assert_refused(result: Result<String, TransportError>) {
    match result {
        Err(e @ TransportError::CertificateRefused { status: 401 }) => {
            assert!(e.is_auth());
            assert_eq!(e.status(), Some(401));
        }
        other => panic!("expected a 401 refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unmapped_untrusted_and_wrong_issuer_certificates_get_401() {
    let ca = ca("PSRM Test CA");
    let other_ca = ca_named_like_nothing();
    let mappings = format!(
        "[[client_certificates.mappings]]\nsubject = \"alice@example.test\"\nissuer = \"{}\"\nuser = \"alice\"\n[[client_certificates.mappings]]\nsubject = \"bob@example.test\"\nissuer = \"{}\"\nuser = \"bob\"\n[[client_certificates.mappings]]\nsubject = \"dave@example.test\"\nuser = \"bob\"\n",
        ca.thumbprint, other_ca.thumbprint
    );
    let emu = start(config(&ca, &mappings)).await;
    let with = |(cert, key): (String, String)| {
        endpoint(&emu).certificate_auth(ClientCertificate::from_pem(cert, key))
    };
    // Trusted, but no mapping names it.
    assert_refused(post(with(client_cert(&ca, "carol@example.test"))).await);
    // Mapped subject, but issued by a CA the server does not trust (the second mapping names
    // no issuer: only the chain verification refuses it).
    assert_refused(post(with(client_cert(&other_ca, "alice@example.test"))).await);
    assert_refused(post(with(client_cert(&other_ca, "dave@example.test"))).await);
    let body = post(with(client_cert(&ca, "dave@example.test")))
        .await
        .unwrap();
    assert!(body.contains(r#"User="bob""#), "{body}");
    // Trusted and the subject is mapped, but the mapping wants another issuer.
    assert_refused(post(with(client_cert(&ca, "bob@example.test"))).await);
    // The trusted, mapped one still works (nothing above poisoned the listener).
    let body = post(with(client_cert(&ca, "alice@example.test")))
        .await
        .unwrap();
    assert!(body.contains(r#"User="alice""#), "{body}");
    emu.shutdown().await;

    // Certificate authentication switched off: the header alone gets 401.
    let off = Config::from_toml(&format!(
        "[[users]]\nname = \"alice\"\npassword = \"{ALICE_PW}\"\n[service]\nauth = [\"basic\"]\n"
    ))
    .unwrap();
    let emu = start(off).await;
    assert_refused(post(with_emu(&emu, client_cert(&ca, "alice@example.test"))).await);
    emu.shutdown().await;
}

fn with_emu(emu: &Emulator, (cert, key): (String, String)) -> ConnectionConfig {
    endpoint(emu).certificate_auth(ClientCertificate::from_pem(cert, key))
}

fn ca_named_like_nothing() -> Ca {
    ca("Untrusted CA")
}

#[test]
fn configuration_errors_are_typed() {
    let ca = ca("PSRM Test CA");
    let (cert, key) = client_cert(&ca, "alice@example.test");
    let https = || ConnectionConfig::new("127.0.0.1:1").https(true);
    // No key in the key PEM (a certificate given twice).
    let e = HttpTransport::new(
        https().certificate_auth(ClientCertificate::from_pem(cert.clone(), cert.clone())),
    )
    .unwrap_err();
    assert!(
        matches!(&e, TransportError::ClientCertificate { reason, .. } if reason == "no private key found"),
        "{e}"
    );
    // Not PEM at all.
    let e = HttpTransport::new(
        https().certificate_auth(ClientCertificate::from_pem("garbage", key.clone())),
    )
    .unwrap_err();
    assert!(
        matches!(&e, TransportError::ClientCertificate { reason, .. } if reason == "no certificate found"),
        "{e}"
    );
    let broken_key = key.replace("-----END", "-----ENDX");
    let e = HttpTransport::new(https().certificate_auth(ClientCertificate::from_pem(
        cert.clone(),
        broken_key.clone(),
    )))
    .unwrap_err();
    assert!(matches!(e, TransportError::ClientCertificate { .. }), "{e}");
    let inner = broken_key.lines().nth(1).unwrap_or_default().to_owned();
    assert!(!e.to_string().contains(&inner), "key material in {e}");
    // A key that is not the certificate's.
    let (_, other_key) = client_cert(&ca, "other@example.test");
    let e = HttpTransport::new(
        https().certificate_auth(ClientCertificate::from_pem(cert.clone(), other_key)),
    )
    .unwrap_err();
    assert!(matches!(e, TransportError::ClientCertificate { .. }), "{e}");
    // A missing file.
    let e = HttpTransport::new(https().certificate_auth(ClientCertificate::from_files(
        "/nonexistent/psrm-cert.pem",
        "/nonexistent/psrm-key.pem",
    )))
    .unwrap_err();
    assert!(
        matches!(&e, TransportError::ClientCertificate { origin, .. } if origin.contains("/nonexistent/psrm-cert.pem")),
        "{e}"
    );
    // Over plain HTTP, and without a certificate.
    let e = HttpTransport::new(
        ConnectionConfig::new("127.0.0.1:1")
            .certificate_auth(ClientCertificate::from_pem(cert.clone(), key.clone())),
    )
    .unwrap_err();
    assert!(
        matches!(e, TransportError::Config(ref m) if m.contains("https")),
        "{e}"
    );
    let mut no_cert = https();
    no_cert.auth = AuthMethod::Certificate;
    let e = HttpTransport::new(no_cert).unwrap_err();
    assert!(matches!(e, TransportError::MissingClientCertificate), "{e}");
    assert!(e.is_auth());
    // The good pair builds.
    assert!(
        HttpTransport::new(https().certificate_auth(ClientCertificate::from_pem(cert, key)))
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chain_through_an_intermediate_ca_maps_by_the_intermediate() {
    let root = ca("PSRM Root CA");
    // An intermediate CA signed by the root; the server trusts the root only.
    let intermediate = root.intermediate("PSRM Issuing CA");
    let mappings = format!(
        "[[client_certificates.mappings]]\nsubject = \"alice@example.test\"\nissuer = \"{}\"\nuser = \"alice\"\n[[client_certificates.mappings]]\nsubject = \"bob@example.test\"\nissuer = \"{}\"\nuser = \"bob\"\n",
        intermediate.thumbprint, root.thumbprint
    );
    let emu = start(config(&root, &mappings)).await;
    // The client sends its certificate and the intermediate (leaf first).
    let chain = |upn: &str| {
        let (cert, key) = client_cert(&intermediate, upn);
        endpoint(&emu).certificate_auth(ClientCertificate::from_pem(
            format!("{cert}{}", intermediate.pem),
            key,
        ))
    };
    let body = post(chain("alice@example.test")).await.unwrap();
    assert!(body.contains(r#"User="alice""#), "{body}");
    // The issuer of a mapping is the CA that signed the certificate, not the root.
    assert_refused(post(chain("bob@example.test")).await);
    // Without the intermediate the chain cannot be built: not trusted.
    let (cert, key) = client_cert(&intermediate, "alice@example.test");
    assert_refused(
        post(endpoint(&emu).certificate_auth(ClientCertificate::from_pem(cert, key))).await,
    );
    emu.shutdown().await;
}
