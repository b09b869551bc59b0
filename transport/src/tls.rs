//! TLS client configuration: verification on by default (a CA file or the system bundle),
//! `insecure` only on request.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{self, CryptoProvider};
use tokio_rustls::rustls::{
    self, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::config::{ClientCertificate, ConnectionConfig, Pem};
use crate::error::TransportError;

/// Where Linux distributions and macOS keep the system CA bundle (first one found wins);
/// `SSL_CERT_FILE` overrides.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

fn provider() -> Arc<CryptoProvider> {
    Arc::new(crypto::ring::default_provider())
}

/// The rustls client configuration for `config`.
pub(crate) fn client_config(
    config: &ConnectionConfig,
) -> Result<Arc<ClientConfig>, TransportError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TransportError::Config(format!("tls: {e}")))?;
    let builder = if config.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider())))
    } else {
        builder.with_root_certificates(roots(config)?)
    };
    let tls = match &config.client_certificate {
        None => builder.with_no_client_auth(),
        Some(client) => {
            let (chain, key) = load_client_certificate(client)?;
            // rustls checks that the key belongs to the leaf certificate.
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                TransportError::ClientCertificate {
                    origin: client.cert.describe(),
                    reason: e.to_string(),
                }
            })?
        }
    };
    Ok(Arc::new(tls))
}

/// The inner TLS session of CredSSP: no certificate verification (MS-CSSP 3.1.5 step 1; the
/// pubKeyAuth exchange binds the logon to the server's key instead), no client certificate.
pub(crate) fn credssp_inner_config() -> Result<Arc<ClientConfig>, TransportError> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TransportError::Config(format!("tls: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NoVerification(provider())))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Reads the client certificate chain and its key (the key's bytes never reach an error).
fn load_client_certificate(
    client: &ClientCertificate,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TransportError> {
    let cert_err = |reason: String| TransportError::ClientCertificate {
        origin: client.cert.describe(),
        reason,
    };
    let key_err = |reason: String| TransportError::ClientCertificate {
        origin: client.key.describe(),
        reason,
    };
    let chain: Vec<CertificateDer<'static>> = match &client.cert {
        Pem::File(path) => CertificateDer::pem_file_iter(path)
            .map_err(|e| cert_err(e.to_string()))?
            .collect::<Result<_, _>>(),
        Pem::Bytes(bytes) => CertificateDer::pem_slice_iter(bytes).collect::<Result<_, _>>(),
    }
    .map_err(|e| cert_err(e.to_string()))?;
    if chain.is_empty() {
        return Err(cert_err("no certificate found".into()));
    }
    let key = match &client.key {
        Pem::File(path) => PrivateKeyDer::from_pem_file(path),
        Pem::Bytes(bytes) => PrivateKeyDer::from_pem_slice(bytes),
    }
    .map_err(|e| {
        use rustls_pki_types::pem::Error as E;
        // Never echo anything read from the key file.
        key_err(match e {
            E::NoItemsFound => "no private key found".into(),
            E::Io(io) => io.to_string(),
            E::Base64Decode(_) => "malformed pem: bad base64".into(),
            _ => "malformed pem".into(),
        })
    })?;
    Ok((chain, key))
}

fn roots(config: &ConnectionConfig) -> Result<RootCertStore, TransportError> {
    let path = match &config.ca_file {
        Some(p) => p.clone(),
        None => {
            let from_env = std::env::var_os("SSL_CERT_FILE").map(std::path::PathBuf::from);
            match from_env.or_else(|| {
                SYSTEM_BUNDLES
                    .iter()
                    .map(std::path::PathBuf::from)
                    .find(|p| p.exists())
            }) {
                Some(p) => p,
                // No bundle: an empty store, so every certificate fails verification.
                None => return Ok(RootCertStore::empty()),
            }
        }
    };
    let err = |reason: String| TransportError::CaFile {
        path: path.display().to_string(),
        reason,
    };
    let mut store = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(&path).map_err(|e| err(e.to_string()))?;
    for cert in certs {
        let cert = cert.map_err(|e| err(e.to_string()))?;
        // A system bundle may hold a certificate rustls cannot parse; skip it there, but a
        // configured CA file must be entirely usable.
        if let Err(e) = store.add(cert)
            && config.ca_file.is_some()
        {
            return Err(err(e.to_string()));
        }
    }
    if store.is_empty() {
        return Err(err("no certificate found".into()));
    }
    Ok(store)
}

/// The server name for SNI and verification.
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, TransportError> {
    ServerName::try_from(host.to_owned())
        .map_err(|e| TransportError::Config(format!("invalid tls server name {host:?}: {e}")))
}

/// Accepts any certificate (`insecure`), still checking handshake signatures.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
