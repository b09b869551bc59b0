//! Server emulator: the WinRM service side over the `wsman` and `psrp` cores.
pub mod engine;
