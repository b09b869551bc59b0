//! Server emulator: the WinRM service side over the `wsman` and `psrp` cores.
pub(crate) mod auth;
pub mod cli;
pub mod config;
pub mod engine;
pub mod faults;
pub mod http;
pub mod keytab;
pub mod powershell;
pub mod service;
pub mod sessions_table;
pub(crate) mod threads;
pub mod tls;

/// Entry points for the fuzz targets (not an API).
#[doc(hidden)]
pub use auth::fuzz;
pub use config::Config;
pub use http::{Emulator, EmulatorBuilder, RequestContext, SoapReply, SoapService, StartError};
