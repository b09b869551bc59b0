//! PowerShell shells (`http://schemas.microsoft.com/powershell/<configuration>`): the PSRP
//! server role behind the WS-Management service (SPEC B1, B3; MS-PSRP 3.2).
//!
//! A shell is a server-role [`psrp::runspace_pool::RunspacePool`], its pipelines, and one
//! engine [`Runspace`](crate::engine::Runspace) whose session state (variables, functions)
//! outlives every pipeline and every disconnect / reconnect.
//!
//! ```text
//!  Create(creationXml) ─► RunspacePool::receive ─► SESSION_CAPABILITY, APPLICATION_PRIVATE_DATA,
//!                                                 RUNSPACEPOOL_STATE(Opened) ─► pool Receive
//!  Send(stdin, no CommandId) ─► pool (PUBLIC_KEY → ENCRYPTED_SESSION_KEY, SET_MIN/MAX_RUNSPACES,
//!                                     GET_AVAILABLE_RUNSPACES, RESET_RUNSPACE_STATE)
//!  Command(Arguments) ─► CREATE_PIPELINE ─► thread: Runspace::run_commands ─► PipeHost::emit
//!                     └► GET_COMMAND_METADATA ─► count + CommandMetadata objects
//!  PipeHost::emit ─► OutputQueue (Block: emit waits; Drop: oldest message goes)
//!  Receive(CommandId, room) ─► queue ─► Fragmenter ─► rsp:Stream ≤ room; at the end
//!                              PIPELINE_STATE and CommandState Done in the same reply
//!  Send(stdin|pr, CommandId) ─► psrp Pipeline (PIPELINE_INPUT, END_OF_PIPELINE_INPUT, host
//!                               responses)
//!  Signal(ctrl_c | crtl_c | terminate) ─► stop flag: the script stops at its next step or sleep
//!  Disconnect(BufferMode) ─► pool Disconnected, queues switch policy, pipelines keep running
//!  Reconnect ─► pool Opened;  Connect(connectXml) ─► SESSION_CAPABILITY + RUNSPACEPOOL_INIT_DATA
//!               in the ConnectResponse, APPLICATION_PRIVATE_DATA + state on the next pool Receive
//!  Connect(CommandId) ─► the pipeline's buffered output is received again from where it stopped
//! ```
//!
//! Output is kept per pipeline as whole PSRP messages in an [`OutputQueue`] of
//! `output_buffer_size_kb` (session configuration); a Receive moves at most one envelope's worth
//! into the pipeline's fragmenter and sends what fits in the room the service computed from
//! min(MaxEnvelopeSizekb, the request's MaxEnvelopeSize).
//!
//! Plug it in with [`Service::with_powershell`](crate::service::Service::with_powershell) or
//! [`WsManService::with_powershell`](crate::service::WsManService::with_powershell) and a
//! [`PowerShellShells`] factory.

// `wsman::Fault` is the error every `ShellBackend` method returns (as in `crate::service`).
#![allow(clippy::result_large_err)]

mod convert;
mod metadata;
pub mod queue;
mod shell;

pub use convert::{error_record, from_clixml, record_payload, to_clixml};
pub use queue::{BufferPolicy, OutputQueue};
pub use shell::{PowerShellShell, PowerShellShells, application_private_data};

#[cfg(test)]
mod tests;
