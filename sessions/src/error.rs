//! [`Error`]: one opaque error for the whole client, with predicates.

use std::fmt;

use wsman::fault::WsManFaultCode;
use wsman::{DecodeError, Fault, ns};
use wsman_transport::TransportError;

/// Why a client operation failed.
///
/// Opaque on purpose (as hyper's and h2's errors): ask it questions with [`Error::is_timeout`],
/// [`Error::is_auth`], [`Error::fault`] and friends rather than matching variants. A SOAP fault
/// stays a typed [`wsman::Fault`] all the way up.
pub struct Error {
    kind: Kind,
    /// The WS-Management action (or client step) that failed, for the message.
    context: Option<String>,
}

#[derive(Debug)]
enum Kind {
    Transport(TransportError),
    Fault(Box<Fault>),
    Decode(DecodeError),
    Protocol(String),
    Usage(String),
}

impl Error {
    pub(crate) fn transport(e: TransportError) -> Self {
        Self {
            kind: Kind::Transport(e),
            context: None,
        }
    }

    pub(crate) fn from_fault(f: Fault) -> Self {
        Self {
            kind: Kind::Fault(Box::new(f)),
            context: None,
        }
    }

    pub(crate) fn decode(e: DecodeError) -> Self {
        Self {
            kind: Kind::Decode(e),
            context: None,
        }
    }

    pub(crate) fn protocol(msg: impl Into<String>) -> Self {
        Self {
            kind: Kind::Protocol(msg.into()),
            context: None,
        }
    }

    pub(crate) fn usage(msg: impl Into<String>) -> Self {
        Self {
            kind: Kind::Usage(msg.into()),
            context: None,
        }
    }

    pub(crate) fn context(mut self, context: impl Into<String>) -> Self {
        if self.context.is_none() {
            self.context = Some(context.into());
        }
        self
    }

    /// Whether the operation ran out of time: the transport's deadline or a `w:TimedOut` fault.
    pub fn is_timeout(&self) -> bool {
        match &self.kind {
            Kind::Transport(e) => e.is_timeout(),
            Kind::Fault(f) => is_timed_out(f),
            _ => false,
        }
    }

    /// Whether authentication failed (wrong credentials, scheme not offered, none configured).
    pub fn is_auth(&self) -> bool {
        matches!(&self.kind, Kind::Transport(e) if e.is_auth())
    }

    /// Whether TLS failed (certificate verification included).
    pub fn is_tls(&self) -> bool {
        matches!(&self.kind, Kind::Transport(e) if e.is_tls())
    }

    /// Whether the server could not be reached or the connection broke.
    pub fn is_connection(&self) -> bool {
        matches!(&self.kind, Kind::Transport(e) if e.is_connection())
    }

    /// The SOAP fault the server answered with, if that is what this is.
    pub fn fault(&self) -> Option<&Fault> {
        match &self.kind {
            Kind::Fault(f) => Some(f),
            _ => None,
        }
    }

    /// The WSMan fault code (`f:WSManFault Code`), when the server sent one.
    pub fn fault_code(&self) -> Option<WsManFaultCode> {
        self.fault().and_then(Fault::wsman_code)
    }

    /// The fault's subcode local name (`InvalidSelectors`, `TimedOut`, `AccessDenied`…).
    pub fn fault_subcode(&self) -> Option<&str> {
        self.fault()
            .and_then(|f| f.subcode.as_ref())
            .map(|s| s.local.as_str())
    }

    /// The transport error underneath, if any.
    pub fn transport_error(&self) -> Option<&TransportError> {
        match &self.kind {
            Kind::Transport(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the peer sent something malformed or out of protocol.
    pub fn is_protocol(&self) -> bool {
        matches!(&self.kind, Kind::Decode(_) | Kind::Protocol(_))
    }

    /// Whether the caller asked for something the current state forbids.
    pub fn is_usage(&self) -> bool {
        matches!(&self.kind, Kind::Usage(_))
    }
}

pub(crate) fn is_timed_out(f: &Fault) -> bool {
    f.subcode
        .as_ref()
        .is_some_and(|s| s.is(ns::WSMAN, "TimedOut"))
        || f.wsman_code() == Some(WsManFaultCode::TIMED_OUT)
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(c) = &self.context {
            write!(f, "{c}: ")?;
        }
        match &self.kind {
            Kind::Transport(e) => write!(f, "{e}"),
            Kind::Fault(fault) => {
                let sub = fault
                    .subcode
                    .as_ref()
                    .map_or(fault.code.local.as_str(), |s| s.local.as_str());
                write!(f, "server fault {sub}")?;
                if let Some(code) = fault.wsman_code() {
                    write!(f, " ({code})")?;
                }
                let reason = fault.reason_text().trim();
                if !reason.is_empty() {
                    write!(f, ": {reason}")?;
                }
                Ok(())
            }
            Kind::Decode(e) => write!(f, "malformed reply: {e}"),
            Kind::Protocol(m) => write!(f, "protocol error: {m}"),
            Kind::Usage(m) => write!(f, "{m}"),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("context", &self.context)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Transport(e) => Some(e),
            Kind::Decode(e) => Some(e),
            _ => None,
        }
    }
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        Self::transport(e)
    }
}
