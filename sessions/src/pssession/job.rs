//! [`Job`]: `Receive-PSSession -OutTarget Job`, output streaming in a background task.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use wsman::CommandId;
use wsman::shell::BufferMode;

use super::{InvokeOutput, PsSession, StreamItem};
use crate::error::Error;

/// A job's state (`Job.State`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JobState {
    /// Still receiving.
    Running,
    /// Every command was received to its end.
    Completed,
    /// Receiving failed.
    Failed,
}

impl JobState {
    /// The name PowerShell prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "Running",
            Self::Completed => "Completed",
            Self::Failed => "Failed",
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type JobResult = (PsSession, Result<Vec<InvokeOutput>, Error>);

/// Output of a disconnected session received in the background.
#[derive(Debug)]
pub struct Job {
    id: u32,
    name: String,
    location: String,
    state: Arc<Mutex<JobState>>,
    rx: mpsc::UnboundedReceiver<(CommandId, StreamItem)>,
    task: JoinHandle<JobResult>,
}

impl Job {
    pub(crate) fn spawn(id: u32, mut session: PsSession, mode: Option<BufferMode>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = Arc::new(Mutex::new(JobState::Running));
        let name = format!("Job{id}");
        let location = session.computer_name().to_owned();
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            let result = session
                .receive_with(mode, |cid, item| {
                    // The receiver may be gone (job dropped): the output is then discarded.
                    let _ = tx.send((cid.clone(), item.clone()));
                })
                .await;
            let end = if result.is_ok() {
                JobState::Completed
            } else {
                JobState::Failed
            };
            *shared.lock().unwrap_or_else(PoisonError::into_inner) = end;
            (session, result)
        });
        Self {
            id,
            name,
            location,
            state,
            rx,
            task,
        }
    }

    /// The job id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The job name (`Job<id>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `PSJobTypeName`.
    pub fn ps_job_type_name(&self) -> &'static str {
        "RemoteJob"
    }

    /// Where it runs (the computer name).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The current state.
    pub fn state(&self) -> JobState {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether records are waiting to be read or may still come.
    pub fn has_more_data(&self) -> bool {
        !self.rx.is_empty() || self.state() == JobState::Running
    }

    /// The next record (with its command id); `None` when the job ended and all was read.
    pub async fn next(&mut self) -> Option<(CommandId, StreamItem)> {
        self.rx.recv().await
    }

    /// Waits for the end; returns the session (Opened here) and every command's output.
    ///
    /// # Errors
    ///
    /// What receiving failed with; a protocol error if the task panicked.
    pub async fn wait(self) -> Result<(PsSession, Vec<InvokeOutput>), Error> {
        let (session, result) = self.finish().await?;
        Ok((session, result?))
    }

    /// Waits for the end; returns the session whether or not receiving succeeded, with what
    /// receiving gave. After a failure the session still knows where reading stopped (its
    /// [`PsSession::record`] carries each command's progress), so another reader can resume.
    ///
    /// # Errors
    ///
    /// A protocol error if the task panicked (the session is then lost).
    pub async fn finish(self) -> Result<(PsSession, Result<Vec<InvokeOutput>, Error>), Error> {
        self.task
            .await
            .map_err(|e| Error::protocol(format!("receive job task failed: {e}")))
    }
}
