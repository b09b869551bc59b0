//! [`TransportError`]: what can go wrong below the SOAP layer.

use std::time::Duration;

use wsman::encryption::FramingError;

/// A failure of the HTTP transport: connecting, TLS, authentication, sealing, timeouts or an
/// HTTP status the WS-Management layer cannot interpret.
///
/// HTTP 500 is not an error here: the reply carries a SOAP fault and is returned as an
/// [`crate::HttpReply`] for the caller to decode.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The configuration cannot work (e.g. encryption `always` with Basic).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The authentication method is not implemented yet.
    #[error("authentication method {0} is not supported yet")]
    Unsupported(&'static str),
    /// Credentials are needed but none were configured.
    #[error("no credentials configured")]
    MissingCredentials,
    /// Certificate authentication without a client certificate configured.
    #[error("certificate authentication needs a client certificate and key")]
    MissingClientCertificate,
    /// The client certificate or its key cannot be used (unreadable, not PEM, no certificate,
    /// no key, key not matching the certificate).
    #[error("cannot use client certificate {origin}: {reason}")]
    ClientCertificate {
        /// Which input (`file PATH`, `pem (N bytes)`), never its content.
        origin: String,
        /// Why.
        reason: String,
    },
    /// The server refused the client certificate (HTTP 401 or 403 to a request carrying it):
    /// not trusted, or not mapped to an account.
    #[error("server refused the client certificate: http {status}")]
    CertificateRefused {
        /// 401 or 403.
        status: u16,
    },
    /// The server refused the credentials (HTTP 401 after the handshake).
    #[error("authentication failed for user {user:?} with {method}: http 401")]
    AuthFailed {
        /// The user name (never the password).
        user: String,
        /// The scheme used.
        method: &'static str,
    },
    /// Authentication succeeded but the server refused the unsealed message (HTTP 401): it does
    /// not allow unencrypted traffic; use message encryption or HTTPS.
    #[error(
        "server refused the unencrypted message (AllowUnencrypted is false): use message encryption or https"
    )]
    UnencryptedRefused,
    /// The server does not offer the configured scheme (`WWW-Authenticate` lists).
    #[error("server does not offer {method} authentication (offers: {offered})")]
    AuthNotOffered {
        /// The configured scheme.
        method: &'static str,
        /// What the server offered.
        offered: String,
    },
    /// The local security package failed (token generation, sealing, unsealing).
    #[error("security context: {0}")]
    Security(String),
    /// The encrypted body could not be unframed.
    #[error("malformed encrypted reply: {0}")]
    Framing(#[from] FramingError),
    /// TCP connect failed.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TLS handshake failed (certificate verification included).
    #[error("tls handshake with {host} failed: {source}")]
    Tls {
        /// The server name.
        host: String,
        /// Why.
        source: std::io::Error,
    },
    /// Reading the CA file failed.
    #[error("cannot load ca file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The proxy refused the tunnel.
    #[error("proxy refused connect: {0}")]
    Proxy(String),
    /// HTTP-level failure (connection closed mid-request, protocol error).
    #[error("http: {0}")]
    Http(String),
    /// No reply within the deadline.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// An HTTP status other than 200/500 (and 401 after authentication).
    #[error("http status {status}{}", status_detail(*.status, .body))]
    Status {
        /// The status code.
        status: u16,
        /// The start of the body, for diagnostics.
        body: String,
    },
}

impl TransportError {
    /// Whether this is a timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_))
    }

    /// Whether authentication failed or could not be attempted.
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            Self::AuthFailed { .. }
                | Self::AuthNotOffered { .. }
                | Self::MissingCredentials
                | Self::UnencryptedRefused
                | Self::MissingClientCertificate
                | Self::ClientCertificate { .. }
                | Self::CertificateRefused { .. }
        )
    }

    /// Whether TLS failed (certificate verification included).
    pub fn is_tls(&self) -> bool {
        matches!(self, Self::Tls { .. } | Self::CaFile { .. })
    }

    /// Whether the server could not be reached or the connection broke: the request may be
    /// retried on a new connection.
    pub fn is_connection(&self) -> bool {
        matches!(self, Self::Connect { .. } | Self::Http(_) | Self::Proxy(_))
    }

    /// The HTTP status, when the server answered with an unexpected one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            Self::AuthFailed { .. } | Self::UnencryptedRefused => Some(401),
            Self::CertificateRefused { status } => Some(*status),
            _ => None,
        }
    }
}

fn status_detail(status: u16, body: &str) -> String {
    let hint = match status {
        413 => " (request larger than the server's MaxEnvelopeSize)",
        404 => " (no WS-Management listener at this path)",
        400 => " (the server could not read the request)",
        _ => "",
    };
    if body.trim().is_empty() {
        hint.to_owned()
    } else {
        format!("{hint}: {}", body.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_messages_name_the_cause() {
        let e = TransportError::Status {
            status: 413,
            body: String::new(),
        };
        assert_eq!(
            e.to_string(),
            "http status 413 (request larger than the server's MaxEnvelopeSize)"
        );
        let e = TransportError::Status {
            status: 502,
            body: "bad gateway ".into(),
        };
        assert_eq!(e.to_string(), "http status 502: bad gateway");
        assert_eq!(e.status(), Some(502));
        assert!(!e.is_auth() && !e.is_timeout() && !e.is_tls());
    }
}
