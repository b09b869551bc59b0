//! WinRS: remote `cmd` shells (MS-WSMV 3.1.4.1 – 3.1.4.18) over a [`WsManClient`].
//!
//! ```text
//!  Shell::open ──Create──► Shell ──start──Command──► Process ──receive (long poll, Receive lane)──► OutputEvent…
//!                            │                         ├─ send_input (stdin, control lane)
//!                            │                         ├─ ctrl_c / terminate (Signal, control lane)
//!                            │                         └─ wait ─► Output { stdout, stderr, exit_code }
//!                            └─ close ──Delete──►
//! ```
//!
//! [`Shell::exec`] is the one-call form: start, read everything, signal the end, return the
//! [`Output`].

use std::sync::Mutex;
use std::time::Duration;

use wsman::header::OptionSet;
use wsman::shell::{self, CommandLine, CommandState, Receive, Send, SignalCode, Stream};
use wsman::{CommandId, ShellId, ns};

use crate::client::WsManClient;
use crate::error::Error;

/// How to create a WinRS shell (the `rsp:Shell` body and its options).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ShellOptions {
    /// The shell resource URI ([`ns::RESOURCE_CMD`] by default).
    pub resource_uri: String,
    /// Environment variables of the shell.
    pub environment: Vec<(String, String)>,
    /// Initial working directory.
    pub working_directory: Option<String>,
    /// `rsp:IdleTimeOut`.
    pub idle_timeout: Option<Duration>,
    /// `rsp:Lifetime`.
    pub lifetime: Option<Duration>,
    /// `rsp:Name`.
    pub name: Option<String>,
    /// `WINRS_NOPROFILE`: `Some(true)` skips loading the user profile; `None` sends nothing.
    pub no_profile: Option<bool>,
    /// `WINRS_CODEPAGE`: the console code page of the shell (e.g. 65001 for UTF-8).
    pub codepage: Option<u32>,
    /// Input stream names (`stdin`).
    pub input_streams: Vec<String>,
    /// Output stream names (`stdout stderr`).
    pub output_streams: Vec<String>,
}

impl Default for ShellOptions {
    fn default() -> Self {
        Self {
            resource_uri: ns::RESOURCE_CMD.to_owned(),
            environment: Vec::new(),
            working_directory: None,
            idle_timeout: None,
            lifetime: None,
            name: None,
            no_profile: None,
            codepage: None,
            input_streams: vec!["stdin".into()],
            output_streams: vec!["stdout".into(), "stderr".into()],
        }
    }
}

impl ShellOptions {
    /// Adds an environment variable.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.environment.push((name.into(), value.into()));
        self
    }

    /// Sets the working directory.
    pub fn working_directory(mut self, dir: impl Into<String>) -> Self {
        self.working_directory = Some(dir.into());
        self
    }

    /// Sets the idle timeout.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Sets the lifetime.
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime);
        self
    }

    /// Sets the shell name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sends `WINRS_NOPROFILE` (true: skip loading the user profile).
    pub fn no_profile(mut self, on: bool) -> Self {
        self.no_profile = Some(on);
        self
    }

    /// Sets the console code page.
    pub fn codepage(mut self, codepage: u32) -> Self {
        self.codepage = Some(codepage);
        self
    }

    fn body(&self) -> shell::Shell {
        shell::Shell {
            input_streams: Some(self.input_streams.clone()),
            output_streams: Some(self.output_streams.clone()),
            environment: self.environment.clone(),
            working_directory: self.working_directory.clone(),
            idle_timeout: self.idle_timeout,
            lifetime: self.lifetime,
            name: self.name.clone(),
            ..shell::Shell::default()
        }
    }

    fn option_set(&self) -> OptionSet {
        let mut options = OptionSet::default();
        if let Some(on) = self.no_profile {
            let value = if on { "TRUE" } else { "FALSE" };
            options = options.with("WINRS_NOPROFILE", value, Some(true));
        }
        if let Some(cp) = self.codepage {
            options = options.with("WINRS_CODEPAGE", cp.to_string(), Some(true));
        }
        options
    }
}

/// How to run one command.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CommandOptions {
    /// `WINRS_SKIP_CMD_SHELL`: run the executable directly instead of through `cmd.exe /c`.
    pub skip_cmd_shell: bool,
    /// `WINRS_CONSOLEMODE_STDIN`: give the command a console stdin (`None`: not sent).
    pub console_mode_stdin: Option<bool>,
    /// The signal [`Process::wait`] sends once the command is done, to release it on the
    /// server: `terminate` by default (pypsrp sends `ctrl_c`).
    pub cleanup_signal: SignalCode,
}

impl Default for CommandOptions {
    fn default() -> Self {
        Self {
            skip_cmd_shell: false,
            console_mode_stdin: None,
            cleanup_signal: SignalCode::Terminate,
        }
    }
}

impl CommandOptions {
    /// Run the executable directly.
    pub fn skip_cmd_shell(mut self, on: bool) -> Self {
        self.skip_cmd_shell = on;
        self
    }

    /// Sends `WINRS_CONSOLEMODE_STDIN`.
    pub fn console_mode_stdin(mut self, on: bool) -> Self {
        self.console_mode_stdin = Some(on);
        self
    }

    /// The signal sent after the command is done.
    pub fn cleanup_signal(mut self, code: SignalCode) -> Self {
        self.cleanup_signal = code;
        self
    }

    fn option_set(&self) -> OptionSet {
        let bool_str = |b: bool| if b { "True" } else { "False" };
        let mut options =
            OptionSet::default().with("WINRS_SKIP_CMD_SHELL", bool_str(self.skip_cmd_shell), None);
        if let Some(c) = self.console_mode_stdin {
            options = options.with("WINRS_CONSOLEMODE_STDIN", bool_str(c), None);
        }
        options
    }
}

/// What a finished command produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// Everything written to stdout (bytes as the shell's code page produced them).
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: Vec<u8>,
    /// The exit code (`None` if the server reported Done without one).
    pub exit_code: Option<i64>,
}

impl Output {
    /// stdout as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stderr as text (invalid UTF-8 replaced).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// A piece of a running command's output.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutputEvent {
    /// Bytes on stdout.
    Stdout(Vec<u8>),
    /// Bytes on stderr.
    Stderr(Vec<u8>),
    /// Bytes on another output stream (by name).
    Other(String, Vec<u8>),
    /// The command finished, with its exit code if reported. Always the last event.
    Exit(Option<i64>),
}

/// An open WinRS shell on the server.
///
/// Dropping it does not delete the remote shell (that needs a request): call [`Shell::close`],
/// or the server removes it after its idle timeout.
#[derive(Debug)]
pub struct Shell {
    client: WsManClient,
    resource_uri: String,
    id: ShellId,
    info: Option<shell::Shell>,
}

impl Shell {
    /// Creates a shell (`transfer/Create`).
    ///
    /// # Errors
    ///
    /// Transport errors and the server's fault (quota, access denied…).
    pub async fn open(client: &WsManClient, options: ShellOptions) -> Result<Self, Error> {
        let created = client
            .create(&options.resource_uri, options.body(), options.option_set())
            .await?;
        let id = created
            .shell_id()
            .ok_or_else(|| Error::protocol("CreateResponse without a ShellId"))?;
        Ok(Self {
            client: client.clone(),
            resource_uri: options.resource_uri,
            id,
            info: created.shell,
        })
    }

    /// A handle on an existing shell (found by enumeration, or kept from an earlier process),
    /// without any request.
    pub fn attach(client: &WsManClient, resource_uri: &str, id: ShellId) -> Self {
        Self {
            client: client.clone(),
            resource_uri: resource_uri.to_owned(),
            id,
            info: None,
        }
    }

    /// A handle on a command already running in this shell, without any request; the cleanup
    /// signal of [`Process::wait`] is `terminate`.
    pub fn process(&self, command_id: CommandId) -> Process {
        Process {
            client: self.client.clone(),
            resource_uri: self.resource_uri.clone(),
            shell_id: self.id.clone(),
            command_id,
            cleanup_signal: SignalCode::Terminate,
            state: Mutex::new(ProcessState::default()),
        }
    }

    /// The shell's id.
    pub fn id(&self) -> &ShellId {
        &self.id
    }

    /// The `rsp:Shell` the server returned at creation, when it did.
    pub fn info(&self) -> Option<&shell::Shell> {
        self.info.as_ref()
    }

    /// The client the shell belongs to.
    pub fn client(&self) -> &WsManClient {
        &self.client
    }

    /// Runs `command` with `args` to completion and returns its output and exit code.
    ///
    /// # Errors
    ///
    /// Transport errors and faults (e.g. the executable was not found).
    pub async fn exec(&self, command: &str, args: &[&str]) -> Result<Output, Error> {
        self.start(command, args, CommandOptions::default())
            .await?
            .wait()
            .await
    }

    /// Starts `command`: the returned [`Process`] streams its output and takes input.
    ///
    /// # Errors
    ///
    /// Transport errors and faults.
    pub async fn start(
        &self,
        command: &str,
        args: &[&str],
        options: CommandOptions,
    ) -> Result<Process, Error> {
        let line = CommandLine {
            command_id: None,
            command: Some(command.to_owned()),
            arguments: args.iter().map(|a| (*a).to_owned()).collect(),
        };
        let command_id = self
            .client
            .command(&self.resource_uri, &self.id, line, options.option_set())
            .await?;
        Ok(Process {
            client: self.client.clone(),
            resource_uri: self.resource_uri.clone(),
            shell_id: self.id.clone(),
            command_id,
            cleanup_signal: options.cleanup_signal,
            state: Mutex::new(ProcessState::default()),
        })
    }

    /// Deletes the shell on the server (`transfer/Delete`).
    ///
    /// # Errors
    ///
    /// Transport errors and faults (an unknown shell: `w:InvalidSelectors`).
    pub async fn close(self) -> Result<(), Error> {
        self.client.delete(&self.resource_uri, &self.id).await
    }
}

/// How many input bytes fit one Send: base64 grows data by 4/3 and the envelope around it
/// takes about 2 KiB.
fn input_chunk(max_envelope_size: u32) -> usize {
    let room = usize::try_from(max_envelope_size)
        .unwrap_or(usize::MAX)
        .saturating_sub(4096);
    (room / 4 * 3).max(1024)
}

#[derive(Debug, Default)]
struct ProcessState {
    done: bool,
    exit_code: Option<i64>,
}

/// A command running in a [`Shell`].
///
/// Every method takes `&self`: one task may [`Process::receive`] while another sends input or
/// Ctrl-C; receives travel on their own connection and never hold those up.
#[derive(Debug)]
pub struct Process {
    client: WsManClient,
    resource_uri: String,
    shell_id: ShellId,
    command_id: CommandId,
    cleanup_signal: SignalCode,
    state: Mutex<ProcessState>,
}

impl Process {
    /// The command's id.
    pub fn id(&self) -> &CommandId {
        &self.command_id
    }

    /// Whether the server reported the command done.
    pub fn is_done(&self) -> bool {
        self.lock().done
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ProcessState> {
        // The state is two plain fields, consistent even after a panic elsewhere.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends `data` to the command's stdin; `end` closes stdin after it.
    ///
    /// # Errors
    ///
    /// A usage error once the command is done; transport errors and faults.
    pub async fn send_input(&self, data: &[u8], end: bool) -> Result<(), Error> {
        if self.is_done() {
            return Err(Error::usage(format!(
                "command {} has finished: it takes no more input",
                self.command_id
            )));
        }
        let send = Send {
            streams: vec![Stream {
                name: "stdin".into(),
                command_id: Some(self.command_id.clone()),
                end: Some(end),
                data: data.to_vec(),
            }],
        };
        self.client
            .send(&self.resource_uri, &self.shell_id, send)
            .await
    }

    /// Streams `reader` to the command's stdin until end of file, in chunks that fit the
    /// client's MaxEnvelopeSize, and closes stdin (`End="true"`) after the last one. Returns
    /// the number of bytes sent. Run it next to [`Process::receive`] (e.g. `tokio::join!`) for
    /// commands that produce output while reading.
    ///
    /// # Errors
    ///
    /// Reading `reader` fails (a usage error naming the IO error), transport errors, faults.
    pub async fn copy_input<R>(&self, mut reader: R) -> Result<u64, Error>
    where
        R: tokio::io::AsyncRead + Unpin,
    {
        use tokio::io::AsyncReadExt as _;
        let chunk = input_chunk(self.client.max_envelope_size());
        let mut buf = vec![0u8; chunk];
        let mut pending: Option<Vec<u8>> = None;
        let mut total = 0u64;
        loop {
            let n = reader
                .read(&mut buf)
                .await
                .map_err(|e| Error::usage(format!("reading input: {e}")))?;
            if n == 0 {
                // Close stdin with the last chunk (or an empty one).
                self.send_input(&pending.take().unwrap_or_default(), true)
                    .await?;
                return Ok(total);
            }
            total += n as u64;
            // Keep one chunk back so the final one can carry End="true".
            if let Some(prev) = pending.replace(buf[..n].to_vec()) {
                self.send_input(&prev, false).await?;
            }
        }
    }

    /// Sends Ctrl-C (`signal/ctrl_c`).
    ///
    /// # Errors
    ///
    /// Transport errors and faults.
    pub async fn ctrl_c(&self) -> Result<(), Error> {
        self.signal(SignalCode::CtrlC).await
    }

    /// Ends the command (`signal/terminate`), freeing its slot on the server.
    ///
    /// # Errors
    ///
    /// Transport errors and faults.
    pub async fn terminate(&self) -> Result<(), Error> {
        self.signal(SignalCode::Terminate).await
    }

    /// Sends any signal to the command.
    ///
    /// # Errors
    ///
    /// Transport errors and faults.
    pub async fn signal(&self, code: SignalCode) -> Result<(), Error> {
        self.client
            .signal(
                &self.resource_uri,
                &self.shell_id,
                Some(&self.command_id),
                code,
            )
            .await
    }

    /// Waits for output (polling again on `w:TimedOut`) and returns what arrived, ending with
    /// [`OutputEvent::Exit`] once the command is done; an empty list after that.
    ///
    /// # Errors
    ///
    /// Transport errors and faults.
    pub async fn receive(&self) -> Result<Vec<OutputEvent>, Error> {
        if self.is_done() {
            return Ok(Vec::new());
        }
        let reply = self
            .client
            .receive(
                &self.resource_uri,
                &self.shell_id,
                Receive {
                    command_id: Some(self.command_id.clone()),
                    streams: vec!["stdout".into(), "stderr".into()],
                    ..Default::default()
                },
            )
            .await?;
        let mut events = Vec::new();
        for s in reply.streams {
            if s.data.is_empty() {
                continue;
            }
            if s.command_id
                .as_ref()
                .is_some_and(|id| !id.as_str().eq_ignore_ascii_case(self.command_id.as_str()))
            {
                return Err(Error::protocol(format!(
                    "output for command {} while receiving {}",
                    s.command_id.as_ref().map_or("", |c| c.as_str()),
                    self.command_id
                )));
            }
            events.push(match s.name.as_str() {
                "stdout" => OutputEvent::Stdout(s.data),
                "stderr" => OutputEvent::Stderr(s.data),
                _ => OutputEvent::Other(s.name, s.data),
            });
        }
        if let Some(state) = reply.command_state
            && state.state == CommandState::Done
        {
            let mut st = self.lock();
            st.done = true;
            st.exit_code = state.exit_code;
            events.push(OutputEvent::Exit(state.exit_code));
        }
        Ok(events)
    }

    /// Reads all output until the command is done, sends the cleanup signal and returns the
    /// [`Output`].
    ///
    /// # Errors
    ///
    /// Transport errors and faults.
    pub async fn wait(self) -> Result<Output, Error> {
        let mut out = Output::default();
        while !self.is_done() {
            for event in self.receive().await? {
                match event {
                    OutputEvent::Stdout(d) => out.stdout.extend_from_slice(&d),
                    OutputEvent::Stderr(d) => out.stderr.extend_from_slice(&d),
                    OutputEvent::Other(..) => {}
                    OutputEvent::Exit(code) => out.exit_code = code,
                }
            }
        }
        self.signal(self.cleanup_signal.clone()).await?;
        Ok(out)
    }
}
