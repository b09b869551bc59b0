//! The transport's CredSSP client against a real acceptor: pyspnego 0.12's CredSSP server behind
//! a small HTTP endpoint (tests/py/credssp_acceptor.py) that answers requests sealed with the inner
//! TLS session. A missing Python peer fails the test: it is an acceptance test.

mod acceptor_support;

use std::time::Duration;

use acceptor_support::Acceptor;
use wsman_transport::{
    AuthMethod, ConnectionConfig, Credentials, HttpTransport, Lane, Transport, TransportError,
};

const PASSWORD: &str = "Acceptor-pw-2718";

fn acceptor() -> Acceptor {
    let dir = std::env::temp_dir().join(format!("psrm-credssp-acceptor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let users = dir.join("ntlm-users");
    std::fs::write(&users, format!("SERVER01:alice:{PASSWORD}\n")).expect("user file");
    Acceptor::spawn("credssp_acceptor.py", false, |command| {
        command.env("NTLM_USER_FILE", &users);
    })
    .removing(dir)
}

fn client(port: u16, password: &str) -> HttpTransport {
    let config = ConnectionConfig::from_url(&format!("http://127.0.0.1:{port}/wsman"))
        .expect("url")
        .auth(
            AuthMethod::CredSsp,
            Credentials::new("SERVER01\\alice", password),
        );
    HttpTransport::new(config).expect("credssp is supported")
}

async fn post(t: &HttpTransport, envelope: &str) -> Result<String, TransportError> {
    let reply = t
        .post(
            Lane::CONTROL,
            envelope.as_bytes().to_vec(),
            Duration::from_secs(20),
        )
        .await?;
    assert_eq!(reply.status, 200);
    Ok(String::from_utf8(reply.body).expect("utf-8 reply"))
}

#[tokio::test(flavor = "multi_thread")]
async fn pyspnego_acceptor_authenticates_and_unseals_our_messages() {
    let acceptor = acceptor();
    let t = client(acceptor.port, PASSWORD);
    for envelope in [
        "<s:Envelope/>".to_owned(),
        // Several 16 KiB parts each way.
        format!("<s:Envelope>{}</s:Envelope>", "x".repeat(40_000)),
    ] {
        let body = post(&t, &envelope).await.unwrap();
        assert!(
            body.starts_with(&format!(
                r#"<echo user="SERVER01\alice" length="{}""#,
                envelope.len()
            )),
            "{:.200}",
            body
        );
    }
    let err = post(&client(acceptor.port, "not-the-password"), "<s:Envelope/>")
        .await
        .unwrap_err();
    assert!(err.is_auth(), "{err}");
}
