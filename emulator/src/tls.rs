//! TLS for the HTTPS listener: a PEM certificate chain and key, or a freshly generated
//! self-signed certificate for `localhost` / `127.0.0.1`; optionally asking clients for a
//! certificate (certificate authentication, `[client_certificates]`).
//!
//! Client certificates are requested, never required, so Basic / NTLM / Negotiate keep working
//! on the same listener. The handshake only checks that the client holds the certificate's key;
//! whether the chain is trusted is decided after it, per connection ([`ClientAuth::inspect`]),
//! so an untrusted certificate gets the 401 Windows answers rather than a failed handshake.

use std::path::PathBuf;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::client::danger::HandshakeSignatureValid;
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use tokio_rustls::rustls::{self, DigitallySignedStruct, DistinguishedName, SignatureScheme};

use crate::auth::cert::PeerCertificate;
use crate::config::ClientCertificates;

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
    client_auth: Option<&ClientAuth>,
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
    let builder = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let builder = match client_auth {
        Some(c) => {
            builder.with_client_cert_verifier(Arc::new(ProofOfPossession(c.verifier.clone())))
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    Ok((TlsAcceptor::from(Arc::new(config)), generated))
}

/// The SHA-1 thumbprint of a DER certificate as Windows shows it (40 uppercase hex digits):
/// the `issuer` of a `[[client_certificates.mappings]]` entry is the issuing CA's.
pub fn certificate_thumbprint(der: &[u8]) -> String {
    crate::auth::cert::thumbprint(der)
}

/// The trusted client-certificate CAs and the verifier built on them.
pub(crate) struct ClientAuth {
    verifier: Arc<dyn ClientCertVerifier>,
    cas: Vec<CertificateDer<'static>>,
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAuth")
            .field("cas", &self.cas.len())
            .finish_non_exhaustive()
    }
}

impl ClientAuth {
    /// Loads the CAs of `[client_certificates]` (`ca_file` and `ca_pem`).
    pub(crate) fn load(config: &ClientCertificates) -> Result<Self, TlsError> {
        let mut cas: Vec<CertificateDer<'static>> = Vec::new();
        if let Some(path) = &config.ca_file {
            let pem_err = |reason: String| TlsError::Pem {
                path: path.display().to_string(),
                reason,
            };
            let certs: Vec<_> = CertificateDer::pem_file_iter(path)
                .map_err(|e| pem_err(e.to_string()))?
                .collect::<Result<_, _>>()
                .map_err(|e| pem_err(e.to_string()))?;
            cas.extend(certs);
        }
        if let Some(text) = &config.ca_pem {
            let certs: Vec<_> = CertificateDer::pem_slice_iter(text.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| TlsError::Pem {
                    path: "client_certificates.ca_pem".into(),
                    reason: e.to_string(),
                })?;
            cas.extend(certs);
        }
        if cas.is_empty() {
            return Err(TlsError::Pem {
                path: "client_certificates".into(),
                reason: "no ca certificate".into(),
            });
        }
        let mut roots = rustls::RootCertStore::empty();
        for ca in &cas {
            roots
                .add(ca.clone())
                .map_err(|e| TlsError::Rustls(format!("client ca: {e}")))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .allow_unauthenticated()
            .build()
            .map_err(|e| TlsError::Rustls(format!("client ca: {e}")))?;
        Ok(Self { verifier, cas })
    }

    /// What the client's certificate chain (leaf first, as presented) says; `None` when it
    /// presented none.
    pub(crate) fn inspect(
        &self,
        presented: Option<&[CertificateDer<'_>]>,
    ) -> Option<PeerCertificate> {
        let (leaf, intermediates) = presented?.split_first()?;
        let verified = match self
            .verifier
            .verify_client_cert(leaf, intermediates, UnixTime::now())
        {
            Ok(_) => true,
            Err(e) => {
                tracing::info!(reason = %e, "client certificate not trusted");
                false
            }
        };
        let issuers: Vec<&[u8]> = self
            .cas
            .iter()
            .chain(intermediates)
            .map(|c| c.as_ref())
            .collect();
        Some(PeerCertificate::read(leaf, verified, &issuers))
    }
}

/// Asks for a client certificate (hinting the trusted CAs) and checks the client's signature
/// with its key, but leaves the trust decision to [`ClientAuth::inspect`].
#[derive(Debug)]
struct ProofOfPossession(Arc<dyn ClientCertVerifier>);

impl ClientCertVerifier for ProofOfPossession {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
