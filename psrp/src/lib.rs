//! Sans-IO PowerShell Remoting Protocol (MS-PSRP) core.
//!
//! No IO, no clock, no randomness of its own: time and ids are inputs.

pub mod fragment;
pub mod clixml;
pub mod message;
