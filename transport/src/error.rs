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
    /// The server refused a request sent without credentials
    /// ([`crate::Transport::post_unauthenticated`]) with HTTP 401: it wants authentication.
    #[error("server refused the unauthenticated request: http 401 (offers: {offered})")]
    UnauthenticatedRefused {
        /// The schemes the server offered instead (`WWW-Authenticate`).
        offered: String,
    },
    /// The server does not offer the configured scheme (`WWW-Authenticate` lists).
    #[error("server does not offer {method} authentication (offers: {offered})")]
    AuthNotOffered {
        /// The configured scheme.
        method: &'static str,
        /// What the server offered.
        offered: String,
    },
    /// Kerberos: no KDC is known for the realm.
    #[error(
        "no kdc known for kerberos realm {realm}: name it with --kdc host:port (ConnectionConfig::kdc), the PSRM_KDC environment variable, or a kdc entry for the realm in krb5.conf (KRB5_CONFIG)"
    )]
    NoKdc {
        /// The client's realm.
        realm: String,
    },
    /// Kerberos: the KDC could not be reached or refused to issue a ticket.
    #[error("kerberos kdc {kdc}: {error}")]
    Kdc {
        /// The KDC (`host:port`).
        kdc: String,
        /// What went wrong.
        error: KdcError,
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
                | Self::UnauthenticatedRefused { .. }
                | Self::MissingClientCertificate
                | Self::ClientCertificate { .. }
                | Self::CertificateRefused { .. }
                | Self::NoKdc { .. }
                | Self::Kdc { .. }
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
            Self::AuthFailed { .. }
            | Self::UnencryptedRefused
            | Self::UnauthenticatedRefused { .. } => Some(401),
            Self::CertificateRefused { status } => Some(*status),
            _ => None,
        }
    }
}

/// Why a Kerberos ticket could not be obtained ([`TransportError::Kdc`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KdcError {
    /// No TCP connection, or it broke.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// No reply within the deadline.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// KDC_ERR_PREAUTH_FAILED: the password is wrong.
    #[error("pre-authentication failed for {principal}: wrong password (KDC_ERR_PREAUTH_FAILED)")]
    WrongPassword {
        /// `name@REALM`.
        principal: String,
    },
    /// KDC_ERR_C_PRINCIPAL_UNKNOWN: no such user in the realm.
    #[error("client {principal} is unknown to the kdc (KDC_ERR_C_PRINCIPAL_UNKNOWN)")]
    UnknownPrincipal {
        /// `name@REALM`.
        principal: String,
    },
    /// KDC_ERR_S_PRINCIPAL_UNKNOWN: the service principal name has no key in the realm.
    #[error(
        "service principal {spn} is unknown to the kdc (KDC_ERR_S_PRINCIPAL_UNKNOWN): check the host name or set the spn"
    )]
    UnknownService {
        /// The SPN asked for.
        spn: String,
    },
    /// KRB_AP_ERR_SKEW: the clocks of this host and the KDC differ too much.
    #[error("clock skew too great between this host and the kdc (KRB_AP_ERR_SKEW)")]
    ClockSkew,
    /// KDC_ERR_CLIENT_REVOKED: the account is disabled or locked out.
    #[error("account {principal} is disabled or locked (KDC_ERR_CLIENT_REVOKED)")]
    Revoked {
        /// `name@REALM`.
        principal: String,
    },
    /// KDC_ERR_KEY_EXPIRED: the password has expired.
    #[error("password of {principal} has expired (KDC_ERR_KEY_EXPIRED)")]
    PasswordExpired {
        /// `name@REALM`.
        principal: String,
    },
    /// Another KRB-ERROR.
    #[error("kdc error {code}: {detail}")]
    Other {
        /// The RFC 4120 error code.
        code: u32,
        /// What the security package made of it.
        detail: String,
    },
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
