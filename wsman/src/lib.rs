//! Sans-IO WS-Management (MS-WSMV) core.
//!
//! This crate never opens a socket, spawns a task or reads the clock: it turns SOAP envelopes into
//! typed values and back. Message ids and every other identifier are inputs. The HTTP transport
//! (hyper, auth and sealing through sspi) is the separate `wsman-transport` crate (`transport/`).
//!
//! ```text
//!   bytes from the peer ──► Envelope::decode ──► Envelope { Header, Body } ──► your logic
//!   your logic ──► Envelope { Header, Body } ──► Envelope::encode ──► bytes to the peer
//! ```
//!
//! - [`Envelope`], [`Header`], [`Body`]: the envelope, typed for every shell, transfer and
//!   enumeration message in both directions ([`shell`], [`enumeration`], [`config`]).
//! - [`identify`]: the Identify request and reply (`Test-WSMan`), envelopes of their own since
//!   they carry no WS-Addressing headers.
//! - [`Fault`]: SOAP faults with the WSMan detail, as data, plus constructors for the faults a
//!   Windows host returns.
//! - [`Action`], [`ns`]: action and namespace URIs (namespaces are matched by URI, never by
//!   prefix).
//! - [`duration`]: `xs:duration` parsing and the formats Windows uses.
//! - [`DecodeError`], [`DecodeLimits`]: peer input is bounded (size, depth, element count),
//!   DTDs and custom entities are refused, and every failure is a typed error, never a panic.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[macro_use]
mod macros;

pub mod action;
mod codec;
pub mod config;
pub mod duration;
pub mod encryption;
pub mod enumeration;
pub mod envelope;
pub mod error;
pub mod fault;
pub mod header;
pub mod identify;
pub mod ns;
pub mod shell;
pub mod xml;

pub use action::Action;
pub use envelope::{Body, Envelope, RequestBuilder, Resource};
pub use error::DecodeError;
pub use fault::{Fault, WsManFaultCode};
pub use header::{CommandId, Header, MessageId, ShellId};
pub use xml::DecodeLimits;
