//! Server emulator: the WinRM service side over the `wsman` and `psrp` cores.
pub mod engine;
pub mod cli;
pub mod config;
pub mod http;
pub mod tls;
pub(crate) mod auth;

pub use config::Config;
pub use http::{Emulator, EmulatorBuilder, RequestContext, SoapReply, SoapService, StartError};
