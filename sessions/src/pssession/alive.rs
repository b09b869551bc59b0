//! Whether a session is still usable, asked of the server (pypsrp's `RunspacePool.is_alive`):
//! a WS-Transfer Get of the shell resource, whose `rsp:State` says Connected or Disconnected.

use wsman::Resource;
use wsman::header::SelectorSet;
use wsman::ns;
use wsman::shell::ShellState;

use super::{Availability, PsSession, SessionState};
use crate::error::Error;

impl PsSession {
    /// Asks the server whether the shell still exists and is connected, and updates this
    /// client's view: connected ⇒ `true` (state unchanged); disconnected ⇒ `false`,
    /// Disconnected/None; unknown to the server (`w:InvalidSelectors`) or unreachable
    /// (connection failure) ⇒ `false`, Broken.
    ///
    /// # Errors
    ///
    /// Other faults (they say nothing about the shell) and decode errors.
    pub async fn is_alive(&mut self) -> Result<bool, Error> {
        let selectors = SelectorSet::default().with("ShellId", self.shell_id.as_str());
        match self.client.get(ns::RESOURCE_SHELLS, selectors).await {
            Ok(Resource::Shell(shell)) => match shell.state {
                Some(ShellState::Disconnected) => {
                    self.state = SessionState::Disconnected;
                    self.availability = Availability::None;
                    Ok(false)
                }
                Some(_) => Ok(true),
                None => Err(Error::protocol("the shell resource has no state")),
            },
            Ok(_) => Err(Error::protocol(
                "a get of the shell returned another resource",
            )),
            Err(e)
                if e.fault_subcode() == Some("InvalidSelectors")
                    || e.transport_error().is_some() =>
            {
                tracing::debug!(error = %e, "session is not alive");
                self.state = SessionState::Broken;
                self.availability = Availability::None;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}
