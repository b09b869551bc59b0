//! The transport's CredSSP client against a real acceptor: pyspnego 0.12's CredSSP server behind
//! a small HTTP endpoint (tests/py/credssp_acceptor.py) that answers requests sealed with the inner
//! TLS session. A missing Python peer fails the test: it is an acceptance test.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use wsman_transport::{
    AuthMethod, ConnectionConfig, Credentials, HttpTransport, Lane, Transport, TransportError,
};

const PASSWORD: &str = "Acceptor-pw-2718";

struct Acceptor {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn python() -> PathBuf {
    let path = std::env::var_os("PSRM_PYTHON").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"),
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "python peer interpreter {} is missing: run scripts/pyenv (or set PSRM_PYTHON)",
        path.display()
    );
    path
}

fn acceptor() -> Acceptor {
    let dir = std::env::temp_dir().join(format!("psrm-credssp-acceptor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let users = dir.join("ntlm-users");
    std::fs::write(&users, format!("SERVER01:alice:{PASSWORD}\n")).expect("user file");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/py/credssp_acceptor.py");
    let mut child = Command::new(python())
        .arg(script)
        .env("NTLM_USER_FILE", &users)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("port line");
    let port = line
        .trim()
        .strip_prefix("PORT ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected acceptor line {line:?}"));
    Acceptor { child, port, dir }
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
