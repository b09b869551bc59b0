//! A throwaway MIT Kerberos realm on loopback for interop tests: `scripts/test-kdc` creates it in
//! a fresh directory and runs the KDC; [`Realm`] owns that process and stops it on drop.
//!
//! Shared by the emulator's and the transport's tests (`#[path]`-included).

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running realm: `PSRM.TEST`, user `alice`, service keys for `HTTP/localhost`,
/// `HTTP/127.0.0.1`, `WSMAN/localhost` and `WSMAN/127.0.0.1` in [`Realm::keytab`].
#[derive(Debug)]
pub struct Realm {
    kdc: Child,
    dir: PathBuf,
    env: HashMap<String, String>,
}

impl Realm {
    /// Creates the realm and waits until its KDC accepts connections. Panics with the reason
    /// when the MIT KDC tools are missing (the test command installs them) or the KDC does not
    /// come up: a test that needs a realm cannot run without one.
    pub fn start() -> Realm {
        // The including crate is the workspace root or one of its members.
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|dir| dir.join("scripts/test-kdc"))
            .find(|script| script.is_file())
            .expect("scripts/test-kdc above the crate's manifest");
        let dir = std::env::temp_dir().join(format!(
            "psrm-kdc-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let kdc = Command::new("bash")
            .arg(&script)
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        let mut realm = Realm {
            kdc,
            dir,
            env: HashMap::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = realm.kdc.try_wait().ok().flatten() {
                let mut err = String::new();
                if let Some(mut stderr) = realm.kdc.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
                }
                panic!("scripts/test-kdc exited ({status}) before the KDC was up: {err}");
            }
            if realm.env.is_empty()
                && let Ok(text) = std::fs::read_to_string(realm.dir.join("realm.env"))
            {
                realm.env = text
                    .lines()
                    .filter_map(|l| l.split_once('='))
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
            }
            if !realm.env.is_empty()
                && TcpStream::connect_timeout(&realm.kdc_addr(), Duration::from_millis(200)).is_ok()
            {
                return realm;
            }
            assert!(
                Instant::now() < deadline,
                "the test KDC did not come up within 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn var(&self, key: &str) -> &str {
        self.env
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("realm.env lacks {key}"))
    }

    /// The KDC's address (TCP and UDP).
    pub fn kdc_addr(&self) -> SocketAddr {
        self.var("KDC_ADDR")
            .parse()
            .expect("KDC_ADDR is an address")
    }

    /// `PSRM.TEST`.
    pub fn realm(&self) -> &str {
        self.var("REALM")
    }

    /// `alice`.
    pub fn user(&self) -> &str {
        self.var("USER")
    }

    /// `alice@PSRM.TEST`.
    pub fn principal(&self) -> &str {
        self.var("PRINCIPAL")
    }

    /// Alice's password.
    pub fn password(&self) -> &str {
        self.var("PASSWORD")
    }

    /// The service keytab (MIT format).
    pub fn keytab(&self) -> PathBuf {
        PathBuf::from(self.var("KRB5_KTNAME"))
    }

    /// A krb5.conf naming this realm's KDC, for MIT-based peers (`KRB5_CONFIG`).
    pub fn krb5_config(&self) -> PathBuf {
        PathBuf::from(self.var("KRB5_CONFIG"))
    }

    /// The directory holding the realm (a peer may put its credential cache here).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Environment for an MIT-based peer process: `KRB5_CONFIG`, a private `KRB5CCNAME`.
    pub fn peer_env(&self) -> Vec<(String, String)> {
        vec![
            ("KRB5_CONFIG".into(), self.var("KRB5_CONFIG").into()),
            ("KRB5CCNAME".into(), self.var("KRB5CCNAME").into()),
        ]
    }
}

static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Drop for Realm {
    fn drop(&mut self) {
        let _ = self.kdc.kill();
        let _ = self.kdc.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
