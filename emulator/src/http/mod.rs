//! The HTTP side of the service: hyper on `/wsman`, HTTP or HTTPS, authentication, message
//! encryption and the MaxEnvelopeSize limit. The SOAP logic sits behind [`SoapService`].
//!
//! ```text
//!  TCP/TLS ─► hyper http1 ─► per-connection state (auth context, sequence numbers)
//!                               │ 401 challenges, 413, 404/405
//!                               ▼ plaintext envelope + RequestContext
//!                           SoapService::handle ─► SoapReply ─► sealed when the request was
//! ```
//!
//! A request without credentials but with `WSMANIDENTIFY: unauthenticated` (`Test-WSMan`) goes to
//! [`SoapService::handle_unauthenticated`] first: the WS-Management service answers an Identify
//! there; anything else gets the usual 401.

mod server;

use std::future::Future;
use std::net::SocketAddr;

pub use server::{Emulator, EmulatorBuilder, StartError};

/// Who is calling: handed to the [`SoapService`] with each envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestContext {
    /// The configured account name the request authenticated as (`alice`).
    pub user: String,
    /// Whether the user is an administrator (sees every shell).
    pub is_admin: bool,
    /// The client's address.
    pub client_addr: SocketAddr,
    /// Identifies the TCP connection (unique per emulator run).
    pub connection_id: u64,
    /// Whether the envelope arrived sealed (HTTP message encryption) or over TLS.
    pub is_encrypted: bool,
    /// Whether the connection is TLS (HTTPS).
    pub is_tls: bool,
}

impl RequestContext {
    /// A context, for services driven outside the HTTP layer (tests, other transports).
    pub fn new(
        user: impl Into<String>,
        is_admin: bool,
        client_addr: SocketAddr,
        connection_id: u64,
        is_encrypted: bool,
    ) -> Self {
        Self {
            user: user.into(),
            is_admin,
            client_addr,
            connection_id,
            is_encrypted,
            is_tls: false,
        }
    }

    /// Marks the context as over TLS (or not).
    pub fn with_tls(mut self, is_tls: bool) -> Self {
        self.is_tls = is_tls;
        self
    }
}

/// A SOAP reply for the HTTP layer to send (sealed with the request's context if it was).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SoapReply {
    /// HTTP status: 200 success, 500 fault, 400 malformed, 413 too large.
    pub status: u16,
    /// The envelope (UTF-8 SOAP XML); may be empty.
    pub body: Vec<u8>,
}

impl SoapReply {
    /// A 200 reply.
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            body: body.into(),
        }
    }

    /// A 500 reply carrying a SOAP fault.
    pub fn fault(body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 500,
            body: body.into(),
        }
    }
}

/// The protocol layer: turns one authenticated, decrypted envelope into a reply.
///
/// Called concurrently for different connections; requests of one connection arrive in order.
pub trait SoapService: Send + Sync + 'static {
    /// Handles one envelope.
    fn handle(
        &self,
        ctx: RequestContext,
        envelope: Vec<u8>,
    ) -> impl Future<Output = SoapReply> + Send;

    /// Answers a request that came without credentials but with the HTTP header
    /// `WSMANIDENTIFY: unauthenticated` (`Test-WSMan`'s default): Windows answers an Identify
    /// so, with the OS version hidden. `None` (the default) refuses it: the client gets the
    /// usual 401 challenge.
    fn handle_unauthenticated(&self, envelope: &[u8]) -> Option<SoapReply> {
        let _ = envelope;
        None
    }

    /// Applies an injected service-level fault ([`crate::faults`]) before `envelope` is
    /// handled. The default ignores it.
    fn inject(&self, fault: crate::faults::ServiceFault, ctx: &RequestContext, envelope: &[u8]) {
        let _ = (fault, ctx, envelope);
    }
}

/// A stand-in service for tests of the HTTP layer: answers every envelope with a fixed SOAP
/// envelope naming the authenticated user and the request length
/// (`<psrm:Echo User="alice" Length="123" Encrypted="true"/>`).
#[derive(Clone, Copy, Debug, Default)]
pub struct EchoService;

impl SoapService for EchoService {
    async fn handle(&self, ctx: RequestContext, envelope: Vec<u8>) -> SoapReply {
        SoapReply::ok(echo_envelope(&ctx, envelope.len()))
    }
}

/// The envelope [`EchoService`] answers with.
pub fn echo_envelope(ctx: &RequestContext, length: usize) -> String {
    let user: String = ctx
        .user
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .collect();
    format!(
        concat!(
            r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" "#,
            r#"xmlns:psrm="urn:psrm:echo"><s:Header/><s:Body>"#,
            r#"<psrm:Echo User="{}" Length="{}" Encrypted="{}"/></s:Body></s:Envelope>"#
        ),
        user, length, ctx.is_encrypted
    )
}
