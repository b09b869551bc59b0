//! WinRS shells (`…/windows/shell/cmd`): each Command runs the cmd subset of
//! [`crate::engine::cmd`] on its own OS thread, as a fresh `cmd.exe` would (environment changes
//! do not outlive the command). Output goes through an [`OutputBuffer`]; in `Block` mode a full
//! buffer parks the command's thread until a Receive drains it.
//!
//! Receive returns the buffered `stdout` / `stderr` chunks; once the command has finished and
//! everything was sent, the reply carries empty `End="true"` streams and `CommandState Done` with
//! the exit code, as Windows does. The command stays known (Done) until a `terminate` signal or
//! the shell's deletion, because clients signal `terminate` after Done (pywinrm, pypsrp).
//!
//! Stdin sent with Send is kept (`End=true` closes it); the cmd subset has no command that reads
//! it yet.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use wsman::header::OptionSet;
use wsman::shell::{
    BufferMode, CommandLine, CommandState, CommandStateInfo, Connect, ConnectResponse,
    ReceiveResponse, SignalCode, Stream,
};
use wsman::{CommandId, Fault, ShellId};

use super::backend::{
    CommandSummary, CreateContext, OutputNotify, ShellBackend, max_bytes_for, stream_cost,
};
use super::buffer::{BufferPolicy, OutputBuffer, Push};
use crate::engine::{CmdEngine, CmdOutcome, EngineContext, EngineHost, Stopped, StreamRecord};

/// Exit code of a command stopped by Ctrl+C (`STATUS_CONTROL_C_EXIT`).
pub const CTRL_C_EXIT: i32 = 0xC000_013Au32 as i32;

/// A WinRS shell.
#[derive(Debug)]
pub struct WinrsShell {
    shell_id: ShellId,
    engine: EngineContext,
    env: Vec<(String, String)>,
    commands: Vec<WinrsCommand>,
    notify: Arc<dyn OutputNotify>,
    capacity: usize,
    policy: BufferPolicy,
    process_id: u32,
    machine: String,
}

#[derive(Debug)]
struct WinrsCommand {
    id: CommandId,
    line: String,
    shared: Arc<CommandShared>,
}

#[derive(Debug)]
struct CommandShared {
    io: Mutex<CommandIo>,
    cond: Condvar,
    stop: AtomicBool,
    notify: Arc<dyn OutputNotify>,
    shell_id: ShellId,
}

#[derive(Debug)]
struct CommandIo {
    output: OutputBuffer,
    stdin: Vec<u8>,
    stdin_closed: bool,
    exit_code: Option<i32>,
}

impl WinrsShell {
    /// A shell for `ctx` (environment variables from the Create body are applied to every
    /// command; `WorkingDirectory` is recorded).
    pub fn new(ctx: &CreateContext<'_>, process_id: u32) -> Self {
        let config = ctx.config;
        let mut engine = EngineContext {
            computer_name: config.computer_name.clone(),
            user_name: ctx.owner.to_owned(),
            user_domain: config.computer_name.clone(),
            is_admin: config.user(ctx.owner).is_some_and(|u| u.admin),
            sessions: config.sessions(),
            process_id,
            scenarios: config.scenarios.0.clone(),
            ..EngineContext::default()
        };
        for (k, v) in engine.env.iter_mut() {
            if k.eq_ignore_ascii_case("COMPUTERNAME") || k.eq_ignore_ascii_case("USERDOMAIN") {
                v.clone_from(&config.computer_name);
            } else if k.eq_ignore_ascii_case("USERNAME") {
                *v = ctx.owner.to_owned();
            } else if k.eq_ignore_ascii_case("USERPROFILE") {
                *v = format!("C:\\Users\\{}", ctx.owner);
            } else if k.eq_ignore_ascii_case("TEMP") {
                *v = format!("C:\\Users\\{}\\AppData\\Local\\Temp", ctx.owner);
            }
        }
        let capacity = config
            .session_configuration(crate::config::DEFAULT_CONFIGURATION)
            .map_or(1024 * 1024, |c| {
                usize::try_from(c.output_buffer_size_kb.saturating_mul(1024)).unwrap_or(usize::MAX)
            });
        Self {
            shell_id: ctx.shell_id.clone(),
            engine,
            env: ctx.body.environment.clone(),
            commands: Vec::new(),
            notify: ctx.notify.clone(),
            capacity,
            policy: BufferPolicy::Block,
            process_id,
            machine: config.computer_name.clone(),
        }
    }

    fn find(&self, id: &CommandId) -> Result<&WinrsCommand, Fault> {
        self.commands
            .iter()
            .find(|c| c.id.as_str().eq_ignore_ascii_case(id.as_str()))
            .ok_or_else(|| Fault::unknown_command(&self.machine))
    }

    fn set_policy(&mut self, policy: BufferPolicy) {
        self.policy = policy;
        for c in &self.commands {
            let mut io = c.shared.lock();
            io.output.set_policy(policy);
            drop(io);
            c.shared.cond.notify_all();
        }
    }
}

impl ShellBackend for WinrsShell {
    fn command(
        &mut self,
        _now: Instant,
        id: CommandId,
        line: &CommandLine,
        _options: &OptionSet,
    ) -> Result<CommandId, Fault> {
        let text = command_text(line);
        let shared = Arc::new(CommandShared {
            io: Mutex::new(CommandIo {
                output: OutputBuffer::new(self.policy, self.capacity),
                stdin: Vec::new(),
                stdin_closed: false,
                exit_code: None,
            }),
            cond: Condvar::new(),
            stop: AtomicBool::new(false),
            notify: self.notify.clone(),
            shell_id: self.shell_id.clone(),
        });
        let mut engine = CmdEngine::new(self.engine.clone());
        for (k, v) in &self.env {
            engine.set_env(k, v);
        }
        let thread_shared = shared.clone();
        let run_line = text.clone();
        let spawned = crate::threads::run(
            || format!("winrs-{}", id.as_str()),
            move || {
                let outcome = engine.run(&run_line, thread_shared.as_ref());
                let code = match outcome {
                    CmdOutcome::Exited(code) => code,
                    CmdOutcome::Stopped => CTRL_C_EXIT,
                };
                thread_shared.lock().exit_code = Some(code);
                thread_shared.cond.notify_all();
                thread_shared.notify.output_ready(&thread_shared.shell_id);
            },
        );
        if spawned.is_err() {
            const M: &str = "The WS-Management service cannot process the request because the command could not be started. ";
            return Err(Fault::new(
                "Receiver",
                wsman::fault::QualifiedName::new(wsman::ns::WSMAN, "InternalError"),
                M,
                None,
                &self.machine,
                M,
            ));
        }
        self.commands.push(WinrsCommand {
            id: id.clone(),
            line: text,
            shared,
        });
        Ok(id)
    }

    fn send(&mut self, _now: Instant, stream: &Stream) -> Result<(), Fault> {
        let Some(id) = &stream.command_id else {
            return Err(Fault::unknown_command(&self.machine));
        };
        let cmd = self.find(id)?;
        let mut io = cmd.shared.lock();
        if !io.stdin_closed {
            io.stdin.extend_from_slice(&stream.data);
        }
        if stream.end == Some(true) {
            io.stdin_closed = true;
        }
        drop(io);
        cmd.shared.cond.notify_all();
        Ok(())
    }

    fn receive(
        &mut self,
        _now: Instant,
        command: Option<&CommandId>,
        streams: &[String],
        room: usize,
    ) -> Result<Option<ReceiveResponse>, Fault> {
        let Some(id) = command else {
            return Err(Fault::unknown_command(&self.machine));
        };
        let cmd = self.find(id)?;
        let id_len = cmd.id.as_str().len();
        // Keep room for the CommandState element and the two End markers.
        let tail = 2 * stream_cost(id_len, 0) + 256 + id_len;
        let mut io = cmd.shared.lock();
        let data_room = room.saturating_sub(tail);
        if max_bytes_for(id_len, data_room) == 0 && !io.output.is_empty() {
            return Err(Fault::encoding_limit(&self.machine));
        }
        let chunks = io
            .output
            .drain(data_room, streams, |_, n| stream_cost(id_len, n));
        let finished = io.exit_code.is_some() && io.output.is_empty();
        let exit_code = io.exit_code;
        drop(io);
        cmd.shared.cond.notify_all();
        if chunks.is_empty() && !finished {
            return Ok(None);
        }
        let mut out: Vec<Stream> = chunks
            .into_iter()
            .map(|c| Stream {
                name: c.stream,
                command_id: Some(cmd.id.clone()),
                end: None,
                data: c.data,
            })
            .collect();
        let state = if finished {
            for name in streams {
                out.push(Stream {
                    name: name.clone(),
                    command_id: Some(cmd.id.clone()),
                    end: Some(true),
                    data: Vec::new(),
                });
            }
            CommandStateInfo {
                command_id: Some(cmd.id.clone()),
                state: CommandState::Done,
                // Windows reports the process exit code as an unsigned DWORD
                // (`exit /b -1` arrives as 4294967295).
                exit_code: exit_code.map(|c| i64::from(u32::from_ne_bytes(c.to_ne_bytes()))),
            }
        } else {
            CommandStateInfo {
                command_id: Some(cmd.id.clone()),
                state: CommandState::Running,
                exit_code: None,
            }
        };
        Ok(Some(ReceiveResponse {
            streams: out,
            command_state: Some(state),
        }))
    }

    fn signal(
        &mut self,
        _now: Instant,
        command: Option<&CommandId>,
        code: &SignalCode,
    ) -> Result<(), Fault> {
        let Some(id) = command else {
            // A shell-level signal: nothing runs at shell level in WinRS.
            return Ok(());
        };
        let cmd = self.find(id)?;
        cmd.shared.stop.store(true, Ordering::SeqCst);
        cmd.shared.cond.notify_all();
        if matches!(code, SignalCode::Terminate) {
            let key = cmd.id.clone();
            self.commands.retain(|c| c.id != key);
        }
        self.notify.output_ready(&self.shell_id);
        Ok(())
    }

    fn disconnect(&mut self, _now: Instant, buffer_mode: &BufferMode) {
        let policy = match buffer_mode {
            BufferMode::Drop => BufferPolicy::Drop,
            _ => BufferPolicy::Block,
        };
        self.set_policy(policy);
    }

    fn reconnect(
        &mut self,
        _now: Instant,
        command: Option<&CommandId>,
        _buffer_mode: Option<&BufferMode>,
    ) -> Result<(), Fault> {
        if let Some(id) = command {
            self.find(id)?;
        }
        self.set_policy(BufferPolicy::Block);
        Ok(())
    }

    fn connect(&mut self, _now: Instant, _connect: &Connect) -> Result<ConnectResponse, Fault> {
        const M: &str = "The WS-Management service cannot process the request because Connect is only supported for PowerShell shells. ";
        Err(Fault::new(
            "Sender",
            wsman::fault::QualifiedName::new(wsman::ns::WSMAN, "ActionNotSupported"),
            M,
            None,
            &self.machine,
            M,
        ))
    }

    fn delete(&mut self) {
        for c in self.commands.drain(..) {
            c.shared.stop.store(true, Ordering::SeqCst);
            c.shared.cond.notify_all();
        }
    }

    fn commands(&self) -> Vec<CommandSummary> {
        self.commands
            .iter()
            .map(|c| CommandSummary {
                id: c.id.clone(),
                command_line: c.line.clone(),
                state: if c.shared.lock().exit_code.is_some() {
                    CommandState::Done
                } else {
                    CommandState::Running
                },
            })
            .collect()
    }

    fn process_id(&self) -> u32 {
        self.process_id
    }

    fn memory_used(&self) -> String {
        format!("{}MB", 2 + 4 * self.running_commands())
    }

    fn child_processes(&self) -> u32 {
        u32::try_from(self.running_commands()).unwrap_or(u32::MAX)
    }
}

impl Drop for WinrsShell {
    fn drop(&mut self) {
        self.delete();
    }
}

impl CommandShared {
    fn lock(&self) -> MutexGuard<'_, CommandIo> {
        self.io.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self, stream: &str, text: &str) -> Result<(), Stopped> {
        let mut io = self.lock();
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return Err(Stopped);
            }
            match io.output.push(stream, text.as_bytes()) {
                Push::Stored => break,
                Push::Full => {
                    io = self
                        .cond
                        .wait_timeout(io, Duration::from_millis(200))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
        }
        drop(io);
        self.notify.output_ready(&self.shell_id);
        Ok(())
    }
}

impl EngineHost for CommandShared {
    fn emit(&self, record: StreamRecord) -> Result<(), Stopped> {
        match record {
            StreamRecord::StdOut(s) => self.write("stdout", &s),
            StreamRecord::StdErr(s) => self.write("stderr", &s),
            StreamRecord::Output(v) => self.write("stdout", &format!("{v}\r\n")),
            StreamRecord::Error(e) => self.write(
                "stderr",
                &format!("{}\r\n", crate::engine::format::error_text(&e, None)),
            ),
            _ => {
                if self.stop.load(Ordering::SeqCst) {
                    Err(Stopped)
                } else {
                    Ok(())
                }
            }
        }
    }

    fn sleep(&self, d: Duration) -> Result<(), Stopped> {
        let deadline = Instant::now() + d;
        let mut io = self.lock();
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return Err(Stopped);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(());
            }
            io = self
                .cond
                .wait_timeout(io, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn should_stop(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// The command line cmd would run: `Command` and each `Arguments` joined by spaces.
pub fn command_text(line: &CommandLine) -> String {
    let mut text = line.command.clone().unwrap_or_default().trim().to_owned();
    for a in &line.arguments {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(a);
    }
    text
}
