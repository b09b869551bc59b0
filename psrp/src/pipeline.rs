//! The pipeline state machine, client and server roles (MS-PSRP 3.1.4.x / 3.2.4.x).
//!
//! ```text
//! client                                         server
//! NotStarted ── start() ── CREATE_PIPELINE ─────▶ Event::Created, Running
//! Running    ── send_input(v) ── PIPELINE_INPUT ─▶ Event::Input
//!            ── end_input() ── END_OF_PIPELINE_INPUT ─▶ Event::EndOfInput
//! Event::Output / Event::Record ◀── write(PIPELINE_OUTPUT, ERROR_RECORD, DEBUG, VERBOSE,
//!                                       WARNING, PROGRESS, INFORMATION)
//! Event::HostCall ◀── host_call(PIPELINE_HOST_CALL)
//!            ── host_response() ── PIPELINE_HOST_RESPONSE ─▶ Event::HostResponse
//! Completed / Failed / Stopped ◀── finish(state, error) (PIPELINE_STATE)
//! stop(): client → Stopping (the transport sends the WSMan Signal); server's
//! finish(Stopped) ends it
//! ```
//!
//! Each pipeline has its own outgoing and incoming fragment streams, because WSMan carries
//! them in the command's own Send and Receive streams. Calling contract as for
//! [`RunspacePool`](crate::runspace_pool::RunspacePool): `receive` in, `poll_event` and
//! `poll_transmit(room)` out, commands only queue.

use std::collections::VecDeque;

use crate::clixml::Value;
use crate::fragment::{Defragmenter, FragmentError, Fragmenter, ObjectId};
use crate::message::{
    Destination, Message, MessageError, MessageType, PipelineId, RunspacePoolId, UTF8_BOM,
};
use crate::messages::{
    CreatePipeline, HostCall, HostResponse, Payload, PayloadError, PipelineStateInfo,
};
use crate::records::{ErrorRecord, PsInvocationState};
use crate::runspace_pool::{NO_REPLY_CALL_ID, Side};

/// Something the application should know about a pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Server: the client created the pipeline.
    Created(Box<CreatePipeline>),
    /// Server: one input object.
    Input(Value),
    /// Server: the client will send no more input.
    EndOfInput,
    /// Server: the client answered a host call.
    HostResponse(HostResponse),
    /// Client: one output object.
    Output(Value),
    /// Client: a record of one of the other streams (ERROR_RECORD, DEBUG_RECORD,
    /// VERBOSE_RECORD, WARNING_RECORD, PROGRESS_RECORD, INFORMATION_RECORD).
    Record(Payload),
    /// Client: the server calls a host method; answer with
    /// [`Pipeline::host_response`] unless the call id is -100.
    HostCall(HostCall),
    /// The invocation state changed (with the error record of a failed or stopped pipeline).
    StateChanged(PsInvocationState, Option<Box<ErrorRecord>>),
}

/// One pipeline, either side.
#[derive(Debug)]
pub struct Pipeline {
    side: Side,
    pool_id: RunspacePoolId,
    id: PipelineId,
    state: PsInvocationState,
    create: Option<Box<CreatePipeline>>,
    input_ended: bool,
    fragmenter: Fragmenter,
    defragmenter: Defragmenter,
    events: VecDeque<Event>,
}

impl Pipeline {
    /// A client pipeline that will run `create` (call [`start`](Self::start) to send it).
    ///
    /// `first_object_id` seeds the fragment object ids of this pipeline's stream.
    pub fn client(
        pool_id: RunspacePoolId,
        id: PipelineId,
        create: CreatePipeline,
        first_object_id: ObjectId,
    ) -> Self {
        let mut p = Self::new(Side::Client, pool_id, id, first_object_id);
        p.create = Some(Box::new(create));
        p
    }

    /// A client pipeline re-attached to one that kept running on the server while the pool
    /// was disconnected (after [`RunspacePool::connect`](crate::runspace_pool::RunspacePool::connect)
    /// from a new client, WSMan Connect on the command). Starts in Running; output produced
    /// meanwhile arrives through [`receive`](Self::receive).
    pub fn reattach(pool_id: RunspacePoolId, id: PipelineId, first_object_id: ObjectId) -> Self {
        let mut p = Self::new(Side::Client, pool_id, id, first_object_id);
        p.state = PsInvocationState::RUNNING;
        p
    }

    /// A server pipeline waiting for CREATE_PIPELINE.
    pub fn server(pool_id: RunspacePoolId, id: PipelineId, first_object_id: ObjectId) -> Self {
        Self::new(Side::Server, pool_id, id, first_object_id)
    }

    fn new(side: Side, pool_id: RunspacePoolId, id: PipelineId, first: ObjectId) -> Self {
        Self {
            side,
            pool_id,
            id,
            state: PsInvocationState::NOT_STARTED,
            create: None,
            input_ended: false,
            fragmenter: Fragmenter::with_first_object_id(first),
            defragmenter: Defragmenter::new(),
            events: VecDeque::new(),
        }
    }

    /// The pipeline id.
    pub fn id(&self) -> PipelineId {
        self.id
    }

    /// The invocation state.
    pub fn state(&self) -> PsInvocationState {
        self.state
    }

    /// What the client asked to run (client: as given; server: once received).
    pub fn create_pipeline(&self) -> Option<&CreatePipeline> {
        self.create.as_deref()
    }

    /// Client: queues CREATE_PIPELINE and moves to Running.
    ///
    /// # Errors
    ///
    /// [`PipelineError::InvalidState`] unless a client in NotStarted.
    pub fn start(&mut self) -> Result<(), PipelineError> {
        self.expect(Side::Client, "start", &[PsInvocationState::NOT_STARTED])?;
        let Some(create) = self.create.as_deref() else {
            return Err(self.invalid("start"));
        };
        let payload = Payload::CreatePipeline(Box::new(create.clone()));
        self.queue(&payload);
        self.set_state(PsInvocationState::RUNNING, None);
        Ok(())
    }

    /// Client: sends one input object.
    ///
    /// # Errors
    ///
    /// [`PipelineError::InvalidState`] unless running with input still open and expected.
    pub fn send_input(&mut self, value: Value) -> Result<(), PipelineError> {
        self.expect(Side::Client, "send_input", &[PsInvocationState::RUNNING])?;
        if self.input_ended || self.create.as_deref().is_some_and(|c| c.no_input) {
            return Err(self.invalid("send_input"));
        }
        self.queue(&Payload::PipelineInput(value));
        Ok(())
    }

    /// Client: says no more input will come.
    ///
    /// # Errors
    ///
    /// [`PipelineError::InvalidState`] unless running with input still open.
    pub fn end_input(&mut self) -> Result<(), PipelineError> {
        self.expect(Side::Client, "end_input", &[PsInvocationState::RUNNING])?;
        if self.input_ended {
            return Err(self.invalid("end_input"));
        }
        self.input_ended = true;
        self.queue(&Payload::EndOfPipelineInput);
        Ok(())
    }

    /// Client: answers a host call.
    ///
    /// # Errors
    ///
    /// [`PipelineError::InvalidState`] unless a running client, or for call id -100 (a call
    /// that expects no reply).
    pub fn host_response(&mut self, response: HostResponse) -> Result<(), PipelineError> {
        self.expect(Side::Client, "host_response", &[PsInvocationState::RUNNING])?;
        if response.call_id == NO_REPLY_CALL_ID {
            return Err(self.invalid("host_response"));
        }
        self.queue(&Payload::PipelineHostResponse(response));
        Ok(())
    }

    /// Client: asks to stop; the transport delivers it (WSMan Signal with the terminate code).
    ///
    /// # Errors
    ///
    /// [`PipelineError::InvalidState`] unless a running client.
    pub fn stop(&mut self) -> Result<(), PipelineError> {
        self.expect(Side::Client, "stop", &[PsInvocationState::RUNNING])?;
        self.set_state(PsInvocationState::STOPPING, None);
        Ok(())
    }

    /// Server: sends one record of an output stream: PIPELINE_OUTPUT, ERROR_RECORD,
    /// DEBUG_RECORD, VERBOSE_RECORD, WARNING_RECORD, PROGRESS_RECORD or INFORMATION_RECORD.
    ///
    /// # Errors
    ///
    /// [`PipelineError::NotAStream`] for other payloads, [`PipelineError::InvalidState`]
    /// unless a running server.
    pub fn write(&mut self, payload: Payload) -> Result<(), PipelineError> {
        self.expect(
            Side::Server,
            "write",
            &[PsInvocationState::RUNNING, PsInvocationState::STOPPING],
        )?;
        if !is_stream(&payload) {
            return Err(PipelineError::NotAStream(payload.message_type()));
        }
        self.queue(&payload);
        Ok(())
    }

    /// Server: calls a host method on the client (PIPELINE_HOST_CALL).
    ///
    /// # Errors
    ///
    /// [`PipelineError::InvalidState`] unless a running server.
    pub fn host_call(&mut self, call: HostCall) -> Result<(), PipelineError> {
        self.expect(Side::Server, "host_call", &[PsInvocationState::RUNNING])?;
        self.queue(&Payload::PipelineHostCall(call));
        Ok(())
    }

    /// Server: ends the pipeline with PIPELINE_STATE `state` (Completed, Failed or Stopped),
    /// carrying `error` for Failed and Stopped.
    ///
    /// # Errors
    ///
    /// [`PipelineError::InvalidState`] unless a running (or stopping) server, or when `state`
    /// is not a final state.
    pub fn finish(
        &mut self,
        state: PsInvocationState,
        error: Option<ErrorRecord>,
    ) -> Result<(), PipelineError> {
        self.expect(
            Side::Server,
            "finish",
            &[PsInvocationState::RUNNING, PsInvocationState::STOPPING],
        )?;
        if !is_final(state) {
            return Err(self.invalid("finish"));
        }
        let info = PipelineStateInfo {
            state,
            error: error.clone(),
        };
        self.queue(&Payload::PipelineState(info));
        self.set_state(state, error.map(Box::new));
        Ok(())
    }

    /// Server: the client signalled stop; moves to Stopping (call [`finish`](Self::finish)
    /// with Stopped once the work has stopped).
    ///
    /// # Errors
    ///
    /// [`PipelineError::InvalidState`] unless a running server.
    pub fn handle_stop(&mut self) -> Result<(), PipelineError> {
        self.expect(Side::Server, "handle_stop", &[PsInvocationState::RUNNING])?;
        self.set_state(PsInvocationState::STOPPING, None);
        Ok(())
    }

    /// Feeds one payload of fragments from this pipeline's stream.
    ///
    /// # Errors
    ///
    /// Decode errors, or [`PipelineError::Unexpected`] for a message the state does not allow.
    pub fn receive(&mut self, payload: &[u8]) -> Result<(), PipelineError> {
        self.defragmenter.receive(payload)?;
        while let Some(blob) = self.defragmenter.poll_message() {
            self.handle_message(Message::decode(&blob)?)?;
        }
        Ok(())
    }

    /// Feeds one message already reassembled elsewhere (the pool's stream, OutOfProc).
    ///
    /// # Errors
    ///
    /// As [`receive`](Self::receive).
    pub fn handle_message(&mut self, message: Message) -> Result<(), PipelineError> {
        let ty = message.message_type;
        let expected = match self.side {
            Side::Client => Destination::CLIENT,
            Side::Server => Destination::SERVER,
        };
        if message.destination != expected || message.pipeline_id != self.id {
            return Err(self.unexpected(ty));
        }
        let payload = Payload::decode(ty, &message.data)?;
        let running = self.state == PsInvocationState::RUNNING;
        let event = match (self.side, payload) {
            (Side::Server, Payload::CreatePipeline(create))
                if self.state == PsInvocationState::NOT_STARTED =>
            {
                self.create = Some(create.clone());
                self.set_state(PsInvocationState::RUNNING, None);
                Event::Created(create)
            }
            (Side::Server, Payload::PipelineInput(v)) if running && !self.input_ended => {
                Event::Input(v)
            }
            (Side::Server, Payload::EndOfPipelineInput) if running && !self.input_ended => {
                self.input_ended = true;
                Event::EndOfInput
            }
            (Side::Server, Payload::PipelineHostResponse(r)) if running => Event::HostResponse(r),
            (Side::Client, Payload::PipelineOutput(v)) if self.is_live() => Event::Output(v),
            (Side::Client, Payload::PipelineHostCall(c)) if self.is_live() => Event::HostCall(c),
            (Side::Client, Payload::PipelineState(info)) if self.is_live() => {
                if !is_final(info.state) && info.state != PsInvocationState::DISCONNECTED {
                    return Err(self.unexpected(ty));
                }
                self.set_state(info.state, info.error.map(Box::new));
                return Ok(());
            }
            (Side::Client, p) if self.is_live() && is_stream(&p) => Event::Record(p),
            _ => return Err(self.unexpected(ty)),
        };
        self.events.push_back(event);
        Ok(())
    }

    /// The next event, in order.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next payload for this pipeline's stream, at most `room` bytes.
    pub fn poll_transmit(&mut self, room: usize) -> Option<Vec<u8>> {
        self.fragmenter.poll_transmit(room)
    }

    fn is_live(&self) -> bool {
        matches!(
            self.state,
            PsInvocationState::RUNNING | PsInvocationState::STOPPING
        )
    }

    fn queue(&mut self, payload: &Payload) {
        let destination = match self.side {
            Side::Client => Destination::SERVER,
            Side::Server => Destination::CLIENT,
        };
        let mut data = Vec::new();
        // Windows servers prefix their CLIXML with a BOM; END_OF_PIPELINE_INPUT has no body.
        let body = payload.encode();
        if self.side == Side::Server && !body.is_empty() {
            data.extend_from_slice(UTF8_BOM);
        }
        data.extend_from_slice(&body);
        let message = Message::new(
            destination,
            payload.message_type(),
            self.pool_id,
            self.id,
            data,
        );
        self.fragmenter.queue(message.to_bytes());
    }

    fn set_state(&mut self, state: PsInvocationState, error: Option<Box<ErrorRecord>>) {
        if self.state != state {
            self.state = state;
            self.events.push_back(Event::StateChanged(state, error));
        }
    }

    fn expect(
        &self,
        side: Side,
        action: &'static str,
        states: &[PsInvocationState],
    ) -> Result<(), PipelineError> {
        if self.side != side {
            return Err(PipelineError::WrongSide {
                action,
                side: self.side,
            });
        }
        if !states.contains(&self.state) {
            return Err(self.invalid(action));
        }
        Ok(())
    }

    fn invalid(&self, action: &'static str) -> PipelineError {
        PipelineError::InvalidState {
            action,
            state: self.state,
        }
    }

    fn unexpected(&self, message_type: MessageType) -> PipelineError {
        PipelineError::Unexpected {
            message_type,
            state: self.state,
            side: self.side,
        }
    }
}

fn is_final(state: PsInvocationState) -> bool {
    matches!(
        state,
        PsInvocationState::COMPLETED | PsInvocationState::FAILED | PsInvocationState::STOPPED
    )
}

fn is_stream(payload: &Payload) -> bool {
    matches!(
        payload,
        Payload::PipelineOutput(_)
            | Payload::ErrorRecord(_)
            | Payload::DebugRecord(_)
            | Payload::VerboseRecord(_)
            | Payload::WarningRecord(_)
            | Payload::ProgressRecord(_)
            | Payload::InformationRecord(_)
    )
}

/// A pipeline operation that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// A fragment from the peer is malformed or out of order.
    #[error(transparent)]
    Fragment(#[from] FragmentError),
    /// A message from the peer is malformed.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// A message body is not valid CLIXML or lacks what its type requires.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The peer sent a message the current state does not allow.
    #[error("unexpected {message_type} in pipeline state {state:?} on the {side:?} side")]
    Unexpected {
        /// What arrived.
        message_type: MessageType,
        /// The state it arrived in.
        state: PsInvocationState,
        /// Our side.
        side: Side,
    },
    /// The application asked for something the current state forbids.
    #[error("cannot {action} in pipeline state {state:?}")]
    InvalidState {
        /// What was asked.
        action: &'static str,
        /// The current state.
        state: PsInvocationState,
    },
    /// The action belongs to the other side.
    #[error("{action} is not available on the {side:?} side")]
    WrongSide {
        /// What was asked.
        action: &'static str,
        /// Our side.
        side: Side,
    },
    /// `write` was given a payload that is not an output stream record.
    #[error("{0} is not an output stream message")]
    NotAStream(MessageType),
}

#[cfg(test)]
mod tests;
