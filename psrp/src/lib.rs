//! Sans-IO PowerShell Remoting Protocol (MS-PSRP) core.
//!
//! No IO, no clock, no randomness of its own: time and ids are inputs.

pub mod clixml;
pub mod crypto;
pub mod fragment;
pub mod message;
pub mod messages;
pub mod pipeline;
pub mod records;
pub mod runspace_pool;
