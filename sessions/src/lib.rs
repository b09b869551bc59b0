//! Async client: PSSession lifecycle and WinRS over the `wsman` and `psrp` cores.
