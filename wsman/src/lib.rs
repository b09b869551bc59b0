//! Sans-IO WS-Management (MS-WSMV) core.
//!
//! This crate never opens a socket, spawns a task or reads the clock: it turns SOAP envelopes into
//! typed values and back. The HTTP transport lives behind the `transport` feature.

pub mod encryption;
