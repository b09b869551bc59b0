//! Async client: WS-Management operations and WinRS over the `wsman` core and the
//! `wsman-transport` HTTP layer (the PSSession lifecycle over `psrp` builds on the same client).
//!
//! ```text
//!  winrs::Shell / Process ──► WsManClient (typed verbs, RelatesTo check, TimedOut re-polls)
//!                                  │ envelopes (wsman::Envelope)
//!                                  ▼
//!                           dyn Transport ── HttpTransport (TCP/TLS, auth, sealing, lanes)
//!                                         └─ scripted transports in tests (replays)
//! ```
//!
//! - [`WsManClient`]: create / command / send / receive / signal / delete / enumerate / pull /
//!   get / disconnect / reconnect / connect, one request each (plus polling helpers), and
//!   [`WsManClient::identify`] / [`WsManClient::identify_unauthenticated`] (WS-Management
//!   Identify, `Test-WSMan` with and without `-Authentication`).
//! - [`winrs`]: [`winrs::Shell::open`], [`winrs::Shell::exec`], streaming
//!   [`winrs::Process`] with stdin and Ctrl-C.
//! - [`rds`] / [`smb`]: Remote Desktop and SMB sessions through `query`, `reset session`,
//!   `logoff`, `msg` and `net session`, parsed from Windows' own output formats.
//! - [`Error`]: opaque, with [`Error::is_timeout`], [`Error::is_auth`], [`Error::fault`].
//!
//! Connection settings are [`ConnectionConfig`] (re-exported from `wsman-transport`).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
mod error;
pub mod fanout;
pub mod pssession;
pub mod rds;
pub mod smb;
pub mod winrs;

pub use client::{ClientOptions, WsManClient};
pub use error::Error;
pub use wsman_transport::{
    AuthMethod, ClientCertificate, ConnectionConfig, Credentials, Encryption, HttpReply,
    HttpTransport, KdcError, Lane, Proxy, Transport, TransportError,
};
