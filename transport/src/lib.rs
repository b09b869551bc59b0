//! HTTP(S) transport for WS-Management clients.
//!
//! Moves opaque SOAP envelopes: one POST in, one [`HttpReply`] out. Everything below the SOAP
//! layer lives here: TCP and TLS, an optional HTTP proxy, authentication (Basic, NTLM, SPNEGO
//! with Kerberos or NTLM inside, Kerberos, CredSSP, client certificates, through `sspi`), HTTP
//! message encryption (MS-WSMV 2.2.9.1, framed by [`wsman::encryption`]) and deadlines. The
//! `wsman` crate stays sans-IO; `sessions` drives this crate through the [`Transport`] trait,
//! which tests replace with scripted replies.
//!
//! - [`ConnectionConfig`]: host, port, HTTP/HTTPS, CA file or `insecure`, auth method and
//!   [`Credentials`] (redacted in `Debug`), [`Encryption`] policy, timeouts, [`Proxy`],
//!   MaxEnvelopeSize.
//! - [`HttpTransport`]: the real thing. Each [`Lane`] is one TCP connection with its own
//!   security context, so a long-poll Receive on [`Lane::RECEIVE`] never blocks a Send or
//!   Signal on [`Lane::CONTROL`].
//! - [`TransportError`]: typed failures with `is_timeout`, `is_auth`, `is_tls` predicates.
//!   HTTP 500 is not an error: its body is the SOAP fault, for the caller to decode.
//!
//! Requests without any authentication (`Test-WSMan`'s default Identify) go through
//! [`Transport::post_unauthenticated`]; [`HttpTransport::unauthenticated`] builds a transport
//! without credentials for them.
//!
//! Client-certificate authentication (WS-Management `secprofile/https/mutual`, HTTPS only) is
//! [`ConnectionConfig::certificate_auth`] with a [`ClientCertificate`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod auth;
pub mod config;
mod credssp;
mod error;
mod http;
mod kerberos;
mod tls;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use config::{
    AuthMethod, ClientCertificate, ConnectionConfig, Credentials, Encryption, Proxy, Scheme,
    proxy_from_env,
};
pub use error::{KdcError, TransportError};
pub use http::HttpTransport;

/// Entry points for the fuzz targets under `fuzz/` (not an API; may change at any time).
#[doc(hidden)]
pub mod fuzz {
    /// The readers of one KDC reply (KRB-ERROR code, the PREAUTH_REQUIRED error made from an
    /// AS-REP); panics when the synthesized error does not read back.
    pub fn kdc_reply(reply: &[u8]) {
        crate::kerberos::check_kdc_reply(reply);
    }

    /// An NTLM (`negotiate`: SPNEGO) client answered by `legs`, each one `WWW-Authenticate`
    /// value, then sealed replies; whether the context completed.
    pub fn server_legs(negotiate: bool, legs: &[&[u8]]) -> bool {
        crate::auth::check_server_legs(negotiate, legs)
    }

    /// The `WWW-Authenticate` readers: the server token taken and whether the scheme is
    /// offered (`kerberos`: the Kerberos scheme, else Negotiate / NTLM).
    pub fn www_authenticate(values: &[&[u8]], kerberos: bool) -> (Option<Vec<u8>>, bool) {
        crate::http::read_www_authenticate(values, kerberos)
    }
}

/// A boxed, sendable future (what [`Transport::post`] returns).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One HTTP connection's worth of ordering: requests on a lane are sent one at a time over the
/// same connection; different lanes are independent connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Lane(pub u16);

impl Lane {
    /// Create, Command, Send, Signal, Delete, Disconnect… (short requests).
    pub const CONTROL: Self = Self(0);
    /// Long-poll Receives, so they never hold up the control lane.
    pub const RECEIVE: Self = Self(1);
}

/// A reply as the transport received it, unsealed: HTTP 200 (success) or 500 (SOAP fault),
/// both with an envelope in `body`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpReply {
    /// The HTTP status.
    pub status: u16,
    /// The plaintext body (a SOAP envelope, or empty).
    pub body: Vec<u8>,
}

/// Something that delivers an envelope to a WinRM endpoint and returns the reply.
///
/// [`HttpTransport`] is the real implementation; tests substitute scripted ones. A call must
/// return 200/500 replies as `Ok` and map other failures to a [`TransportError`].
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// The endpoint URL (sent as `a:To`).
    fn endpoint(&self) -> &str;

    /// POSTs `envelope` on `lane` and waits up to `timeout` (plus the transport's grace) for
    /// the reply.
    fn post(
        &self,
        lane: Lane,
        envelope: Vec<u8>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<HttpReply, TransportError>>;

    /// POSTs `envelope` once, in plaintext and without authentication (no `Authorization`
    /// header, no client certificate, never sealed), with `headers` added (e.g.
    /// `WSMANIDENTIFY: unauthenticated` for `Test-WSMan`'s Identify), on a connection of its
    /// own, and waits up to `timeout` (plus the transport's grace). HTTP 200 and 500 are
    /// replies; 401 is [`TransportError::UnauthenticatedRefused`].
    ///
    /// Default: [`TransportError::Unsupported`] (`none`), for transports that cannot.
    fn post_unauthenticated(
        &self,
        envelope: Vec<u8>,
        headers: Vec<(String, String)>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<HttpReply, TransportError>> {
        let _ = (envelope, headers, timeout);
        Box::pin(async { Err(TransportError::Unsupported("none")) })
    }

    /// Drops the lane's connection (it is reopened on the next request). Default: nothing.
    fn close_lane(&self, lane: Lane) {
        let _ = lane;
    }
}
