//! Requests to the runspace pool itself (MS-PSRP 3.1.4.3-3.1.4.5, 3.1.4.14): runspace counts
//! (SET_MAX_RUNSPACES, SET_MIN_RUNSPACES, GET_AVAILABLE_RUNSPACES), RESET_RUNSPACE_STATE, each
//! answered by a RUNSPACE_AVAILABILITY with the same call id, and GET_COMMAND_METADATA, which
//! runs like a pipeline (`Get-Command` without a runspace of its own). Also the WS-Man close of a
//! finished command ([`PsSession::terminate_command`]).

use psrp::clixml;
use psrp::fragment::{Fragmenter, ObjectId};
use psrp::message::{Destination, Message, PipelineId};
use psrp::messages::{AvailabilityResponse, GetCommandMetadata, PsrpMessage};
use psrp::pipeline::Pipeline as PipelineCore;
use psrp::runspace_pool::{Event as PoolEvent, PoolError, RunspacePool};
use uuid::Uuid;
use wsman::CommandId;
use wsman::header::OptionSet;
use wsman::shell::{CommandLine, Send, Stream};

use super::{InvokeOutput, Pipeline, PsSession, base64_encode, host, psrp_error, room};
use crate::error::Error;

impl PsSession {
    /// MinRunspaces / MaxRunspaces as last agreed with the server.
    pub fn runspaces(&self) -> (i32, i32) {
        self.pool.runspaces()
    }

    /// Asks the server to set MaxRunspaces (`RunspacePool.SetMaxRunspaces`); whether it
    /// agreed (it refuses values below MinRunspaces or below 1).
    ///
    /// # Errors
    ///
    /// A usage error unless Opened here; faults and transport errors; a protocol error for a
    /// malformed answer.
    pub async fn set_max_runspaces(&mut self, max_runspaces: i32) -> Result<bool, Error> {
        let answer = self
            .pool_request(|pool, ci| pool.set_max_runspaces(max_runspaces, ci))
            .await?;
        success(answer)
    }

    /// Asks the server to set MinRunspaces (`RunspacePool.SetMinRunspaces`); whether it
    /// agreed.
    ///
    /// # Errors
    ///
    /// As [`PsSession::set_max_runspaces`].
    pub async fn set_min_runspaces(&mut self, min_runspaces: i32) -> Result<bool, Error> {
        let answer = self
            .pool_request(|pool, ci| pool.set_min_runspaces(min_runspaces, ci))
            .await?;
        success(answer)
    }

    /// How many runspaces of the pool are free (`RunspacePool.GetAvailableRunspaces`).
    ///
    /// # Errors
    ///
    /// As [`PsSession::set_max_runspaces`].
    pub async fn get_available_runspaces(&mut self) -> Result<i64, Error> {
        match self
            .pool_request(RunspacePool::get_available_runspaces)
            .await?
        {
            AvailabilityResponse::Count(n) => Ok(n),
            AvailabilityResponse::Count32(n) => Ok(i64::from(n)),
            AvailabilityResponse::Success(_) => Err(Error::protocol(
                "a boolean answer to get_available_runspaces",
            )),
        }
    }

    /// Resets the runspace to its initial state (`RunspacePool.ResetRunspaceState`, protocol
    /// 2.3): variables and functions defined by earlier pipelines are gone. Whether the server
    /// did it (it refuses while a pipeline runs).
    ///
    /// # Errors
    ///
    /// As [`PsSession::set_max_runspaces`].
    pub async fn reset_runspace_state(&mut self) -> Result<bool, Error> {
        let answer = self
            .pool_request(RunspacePool::reset_runspace_state)
            .await?;
        success(answer)
    }

    /// GET_COMMAND_METADATA (`Get-Command` through the pool, as implicit remoting does): the
    /// output is a count object, then one CommandMetadata object per matching command.
    /// `pipeline_id` is the CommandId to use (a random one when `None`).
    ///
    /// # Errors
    ///
    /// A usage error unless Opened here; faults, transport errors and malformed replies.
    pub async fn get_command_metadata(
        &mut self,
        request: &GetCommandMetadata,
        pipeline_id: Option<Uuid>,
    ) -> Result<InvokeOutput, Error> {
        self.expect_opened("get command metadata")?;
        let pipeline_id = PipelineId(pipeline_id.unwrap_or_else(Uuid::new_v4));
        let command_id = CommandId::new(pipeline_id.0.to_string().to_uppercase());
        let message = Message::new(
            Destination::SERVER,
            GetCommandMetadata::TYPE,
            self.pool.id(),
            pipeline_id,
            clixml::to_clixml(&request.to_value()).into_bytes(),
        );
        let mut fragmenter = Fragmenter::with_first_object_id(ObjectId(1));
        let next = fragmenter.queue(message.to_bytes());
        let room = room(&self.client);
        let first = fragmenter.poll_transmit(room).unwrap_or_default();
        let line = CommandLine {
            command_id: Some(command_id.clone()),
            command: Some("Get-Command".into()),
            arguments: vec![base64_encode(&first)],
        };
        let options = OptionSet::default().with("WINRS_SKIP_CMD_SHELL", "False", None);
        let got = self
            .client
            .command(&self.resource_uri, &self.shell_id, line, options)
            .await?;
        let command_id = if got.as_str().is_empty() {
            command_id
        } else {
            got
        };
        while let Some(data) = fragmenter.poll_transmit(room) {
            let send = Send {
                streams: vec![Stream {
                    name: "stdin".into(),
                    command_id: Some(command_id.clone()),
                    end: None,
                    data,
                }],
            };
            self.client
                .send(&self.resource_uri, &self.shell_id, send)
                .await?;
        }
        self.commands.push(command_id.clone());
        let core = PipelineCore::reattach(self.pool.id(), pipeline_id, ObjectId(next.0 + 1));
        let out = Pipeline::new(self, command_id.clone(), core)
            .collect()
            .await;
        self.forget_command(&command_id);
        out
    }

    /// Closes a command on the server (WS-Man Signal `terminate`, as PowerShell does when it
    /// disposes of a pipeline and pypsrp after each invocation): its resources, and output
    /// not yet read, are released, and its id may be used again. The command is forgotten
    /// here.
    ///
    /// # Errors
    ///
    /// A usage error unless Opened here; faults (an unknown command) and transport errors.
    pub async fn terminate_command(&mut self, id: &CommandId) -> Result<(), Error> {
        self.expect_opened("terminate a command")?;
        self.client
            .signal(
                &self.resource_uri,
                &self.shell_id,
                Some(id),
                wsman::shell::SignalCode::Terminate,
            )
            .await?;
        self.forget_command(id);
        Ok(())
    }

    /// Queues a pool request with the next call id, sends it, and receives on the pool until
    /// the RUNSPACE_AVAILABILITY with that call id arrives (host calls are answered on the
    /// way).
    async fn pool_request(
        &mut self,
        queue: impl FnOnce(&mut RunspacePool, i64) -> Result<(), PoolError>,
    ) -> Result<AvailabilityResponse, Error> {
        self.expect_opened("send a runspace pool request")?;
        let call_id = self.next_call_id;
        self.next_call_id += 1;
        queue(&mut self.pool, call_id).map_err(psrp_error)?;
        self.flush_pool().await?;
        loop {
            self.receive_on_pool(|s| {
                format!(
                    "runspace pool {} ended before answering call {call_id}",
                    s.name
                )
            })
            .await?;
            let mut answer = None;
            while let Some(event) = self.pool.poll_event() {
                match event {
                    PoolEvent::RunspaceAvailability(a) if a.call_id == call_id => {
                        answer = Some(a.response);
                    }
                    PoolEvent::HostCall(call) => {
                        if let Some(response) = host::answer(&call, &self.host_context()).response {
                            self.pool.host_response(response).map_err(psrp_error)?;
                        }
                    }
                    other => tracing::trace!(?other, "pool event"),
                }
            }
            // Host answers go out on the pool's "pr" stream.
            self.flush_pool_on("pr").await?;
            if let Some(answer) = answer {
                return Ok(answer);
            }
        }
    }

    async fn flush_pool(&mut self) -> Result<(), Error> {
        self.flush_pool_on("stdin").await
    }

    /// Sends what the pool has queued, on `stream` of the shell.
    async fn flush_pool_on(&mut self, stream: &str) -> Result<(), Error> {
        let room = room(&self.client);
        while let Some(data) = self.pool.poll_transmit(room) {
            let send = Send {
                streams: vec![Stream {
                    name: stream.into(),
                    command_id: None,
                    end: None,
                    data,
                }],
            };
            self.client
                .send(&self.resource_uri, &self.shell_id, send)
                .await?;
        }
        Ok(())
    }
}

fn success(answer: AvailabilityResponse) -> Result<bool, Error> {
    match answer {
        AvailabilityResponse::Success(ok) => Ok(ok),
        other => Err(Error::protocol(format!(
            "a count ({other:?}) where success or failure was expected"
        ))),
    }
}
