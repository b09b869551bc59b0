//! TLS for the HTTPS listener: a PEM certificate chain and key, or a freshly generated
//! self-signed certificate for `localhost` / `127.0.0.1`.

use std::path::PathBuf;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

/// Where the server certificate comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsSource {
    /// Generate a self-signed certificate for `localhost`, `127.0.0.1`, `::1` and the given extra
    /// names at start-up.
    SelfSigned {
        /// Extra DNS names or addresses for the certificate.
        extra_names: Vec<String>,
    },
    /// PEM files: the certificate chain (leaf first) and its private key.
    Pem {
        /// Certificate chain.
        cert: PathBuf,
        /// Private key (PKCS#8, PKCS#1 or SEC1).
        key: PathBuf,
    },
}

/// TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read or holds no usable item.
    #[error("cannot load {path}: {reason}")]
    Pem {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The certificate could not be generated.
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(String),
    /// rustls refused the certificate or key.
    #[error("invalid certificate or key: {0}")]
    Rustls(String),
}

/// A generated self-signed certificate in PEM, for clients that want to trust it.
#[derive(Clone, Debug)]
pub struct GeneratedCert {
    /// The certificate, PEM.
    pub cert_pem: String,
}

pub(crate) fn acceptor(
    source: &TlsSource,
) -> Result<(TlsAcceptor, Option<GeneratedCert>), TlsError> {
    let (certs, key, generated) = match source {
        TlsSource::SelfSigned { extra_names } => {
            let mut names = vec![
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
                "::1".to_owned(),
            ];
            names.extend(extra_names.iter().cloned());
            let ck = rcgen::generate_simple_self_signed(names)
                .map_err(|e| TlsError::Generate(e.to_string()))?;
            let cert_pem = ck.cert.pem();
            let key =
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
            (
                vec![ck.cert.der().clone()],
                key,
                Some(GeneratedCert { cert_pem }),
            )
        }
        TlsSource::Pem { cert, key } => {
            let pem_err = |path: &PathBuf, reason: String| TlsError::Pem {
                path: path.display().to_string(),
                reason,
            };
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .map_err(|e| pem_err(cert, e.to_string()))?
                .collect::<Result<_, _>>()
                .map_err(|e| pem_err(cert, e.to_string()))?;
            if certs.is_empty() {
                return Err(pem_err(cert, "no certificate".into()));
            }
            let k = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_err(key, e.to_string()))?;
            (certs, k, None)
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    Ok((TlsAcceptor::from(Arc::new(config)), generated))
}
