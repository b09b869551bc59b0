//! One PowerShell shell: a server-role runspace pool, its pipelines, and the engine runspace
//! they share. See the module documentation of [`crate::powershell`].

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use psrp::clixml::{PsObject as XObject, Value as X};
use psrp::fragment::{Defragmenter, Fragmenter, ObjectId};
use psrp::message::{Destination, Message, MessageType, PipelineId, RunspacePoolId, UTF8_BOM};
use psrp::messages::{
    ApplicationPrivateData, AvailabilityResponse, CreatePipeline, GetCommandMetadata, Payload,
    PipelineStateInfo,
};
use psrp::pipeline::{Event as PipelineEvent, Pipeline};
use psrp::records::{
    ErrorRecord as XErrorRecord, PipelineResultTypes, PsInvocationState, PsPrimitiveDictionary,
};
use psrp::runspace_pool::{Event as PoolEvent, RunspacePool};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use wsman::header::OptionSet;
use wsman::shell::{
    BufferMode, CommandLine, CommandState, CommandStateInfo, Connect, ConnectResponse,
    ReceiveResponse, SignalCode, Stream,
};
use wsman::{CommandId, Fault, ShellId};

use super::convert::{error_record, from_clixml, record_payload};
use super::queue::{BufferPolicy, OutputQueue};
use crate::engine::{
    CommandSpec, EngineContext, EngineHost, ErrorCategory, ErrorRecord, PipelineState, Runspace,
    Stopped, StreamRecord, Value,
};
use crate::service::backend::{
    CommandSummary, CreateContext, OutputNotify, PowerShellFactory, ShellBackend, max_bytes_for,
};

/// Builds [`PowerShellShell`]s for the service ([`crate::service::Service::with_powershell`]).
#[derive(Debug)]
pub struct PowerShellShells {
    next_pid: AtomicU32,
}

impl Default for PowerShellShells {
    fn default() -> Self {
        Self {
            next_pid: AtomicU32::new(5000),
        }
    }
}

impl PowerShellShells {
    /// A factory.
    pub fn new() -> Self {
        Self::default()
    }
}

impl PowerShellFactory for PowerShellShells {
    fn create(&self, ctx: CreateContext<'_>) -> Result<Box<dyn ShellBackend>, Fault> {
        let pid = self.next_pid.fetch_add(4, Ordering::Relaxed);
        Ok(Box::new(PowerShellShell::new(&ctx, pid)?))
    }
}

/// A PowerShell shell (`http://schemas.microsoft.com/powershell/<configuration>`).
#[derive(Debug)]
pub struct PowerShellShell {
    shell_id: ShellId,
    machine: String,
    notify: Arc<dyn OutputNotify>,
    pool: RunspacePool,
    context: EngineContext,
    runspace: Arc<Mutex<Runspace>>,
    pipelines: Vec<PsPipeline>,
    /// Pool messages held back from a Connect for the next pool Receive.
    pool_backlog: Fragmenter,
    /// The mode output is held under while the shell is disconnected (from the configuration,
    /// the Create, a Reconnect or the last Disconnect).
    policy: BufferPolicy,
    /// Whether a client is connected: output then waits for it (Block) whatever `policy` says;
    /// the buffering mode only governs a disconnected shell (MS-WSMV 2.2.5.10).
    connected: bool,
    capacity: usize,
    process_id: u32,
    rng: ChaCha20Rng,
    /// The pool broke (injected fault): new pipelines are refused.
    broken: bool,
}

#[derive(Debug)]
struct PsPipeline {
    command_id: CommandId,
    id: PipelineId,
    line: String,
    /// The PSRP state machine for what the client sends (absent for GET_COMMAND_METADATA).
    machine: Option<Pipeline>,
    /// Messages taken from the queue, being cut into fragments across Receives.
    out: Fragmenter,
    shared: Arc<PipeShared>,
    /// PIPELINE_STATE is in `out`.
    final_queued: bool,
    /// CommandState Done was sent: the command is over for the client.
    delivered: bool,
}

#[derive(Debug)]
struct PipeShared {
    io: Mutex<PipeIo>,
    cond: Condvar,
    stop: AtomicBool,
    notify: Arc<dyn OutputNotify>,
    shell_id: ShellId,
    pool_id: RunspacePoolId,
    pipeline_id: PipelineId,
}

#[derive(Debug)]
struct PipeIo {
    queue: OutputQueue<Vec<u8>>,
    input: Vec<Value>,
    input_ended: bool,
    end: Option<PipelineEnd>,
    /// Records accepted from the script so far.
    written: u64,
}

#[derive(Debug, Clone)]
struct PipelineEnd {
    state: PsInvocationState,
    error: Option<XErrorRecord>,
}

impl PipeShared {
    fn lock(&self) -> MutexGuard<'_, PipeIo> {
        self.io.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _g = self.lock();
        self.cond.notify_all();
    }

    fn finish(&self, end: PipelineEnd) {
        let mut io = self.lock();
        io.end = Some(end);
        drop(io);
        self.cond.notify_all();
        self.notify.output_ready(&self.shell_id);
    }
}

/// The engine's host for one pipeline thread: records become PSRP messages in the queue.
struct PipeHost(Arc<PipeShared>);

impl EngineHost for PipeHost {
    fn emit(&self, record: StreamRecord) -> Result<(), Stopped> {
        let Some(payload) = record_payload(record) else {
            return Ok(());
        };
        let bytes = message_bytes(self.0.pool_id, self.0.pipeline_id, &payload);
        let size = bytes.len();
        let mut item = bytes;
        let mut io = self.0.lock();
        loop {
            if self.0.stopped() {
                return Err(Stopped);
            }
            match io.queue.push(item, size) {
                Ok(()) => break,
                Err(back) => {
                    item = back;
                    // Block mode: the script pauses here until a Receive drains the queue.
                    io = self.0.cond.wait(io).unwrap_or_else(PoisonError::into_inner);
                }
            }
        }
        io.written += 1;
        drop(io);
        self.0.notify.output_ready(&self.0.shell_id);
        Ok(())
    }

    fn sleep(&self, d: Duration) -> Result<(), Stopped> {
        let deadline = Instant::now() + d;
        let mut io = self.0.lock();
        loop {
            if self.0.stopped() {
                return Err(Stopped);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(());
            }
            io = self
                .0
                .cond
                .wait_timeout(io, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn should_stop(&self) -> bool {
        self.0.stopped()
    }
}

/// An encoded PSRP message from the server about `pipeline`.
fn message_bytes(pool: RunspacePoolId, pipeline: PipelineId, payload: &Payload) -> Vec<u8> {
    let body = payload.encode();
    let mut data = Vec::with_capacity(body.len() + 3);
    if !body.is_empty() {
        data.extend_from_slice(UTF8_BOM);
    }
    data.extend_from_slice(&body);
    Message::new(
        Destination::CLIENT,
        payload.message_type(),
        pool,
        pipeline,
        data,
    )
    .to_bytes()
}

fn internal_error(machine: &str, what: &str) -> Fault {
    let m = format!("The WS-Management service cannot process the request. {what}. ");
    Fault::new(
        "Receiver",
        wsman::fault::QualifiedName::new(wsman::ns::WSMAN, "InternalError"),
        &m,
        None,
        machine,
        &m,
    )
}

fn policy_of(mode: &BufferMode) -> BufferPolicy {
    match mode {
        BufferMode::Drop => BufferPolicy::Drop,
        _ => BufferPolicy::Block,
    }
}

/// `APPLICATION_PRIVATE_DATA` with the `PSVersionTable` of Windows PowerShell 5.1.
pub fn application_private_data(ps_version: &str) -> ApplicationPrivateData {
    let version = |v: &str| X::Version(v.to_owned());
    let compatible = X::object(
        XObject::new()
            .with_type_names(["System.Version[]", "System.Array", "System.Object"])
            .with_container(psrp::clixml::Container::List(
                ["1.0", "2.0", "3.0", "4.0", "5.0", "5.1"]
                    .iter()
                    .map(|v| version(v))
                    .collect(),
            )),
    );
    let table = PsPrimitiveDictionary::default()
        .with("PSRemotingProtocolVersion", version("2.3"))
        .with("PSVersion", version(ps_version))
        .with("PSEdition", "Desktop")
        .with("SerializationVersion", version("1.1.0.1"))
        .with("BuildVersion", version("10.0.17763.1"))
        .with("CLRVersion", version("4.0.30319.42000"))
        .with("WSManStackVersion", version("3.0"))
        .with("PSCompatibleVersions", compatible);
    ApplicationPrivateData {
        data: PsPrimitiveDictionary::default().with("PSVersionTable", table.to_value()),
    }
}

impl PowerShellShell {
    /// A shell for `ctx`: the Create's `creationXml` (SESSION_CAPABILITY + INIT_RUNSPACEPOOL) is
    /// fed to a server-role pool, whose answers wait for the first Receive.
    ///
    /// # Errors
    ///
    /// A plugin fault without `protocolversion`, `w:InternalError` for a missing or malformed
    /// `creationXml`.
    pub fn new(ctx: &CreateContext<'_>, process_id: u32) -> Result<Self, Fault> {
        let config = ctx.config;
        let machine = config.computer_name.clone();
        if ctx.options.get("protocolversion").is_none() {
            return Err(Fault::missing_protocol_version(&machine));
        }
        let Some(creation) = ctx.body.creation_xml.as_deref() else {
            return Err(internal_error(
                &machine,
                "The creationXml element is missing",
            ));
        };
        let pool_id = creation_pool_id(creation)
            .or_else(|| uuid::Uuid::parse_str(ctx.shell_id.as_str()).ok())
            .ok_or_else(|| {
                internal_error(
                    &machine,
                    "The creationXml carries no INIT_RUNSPACEPOOL message with a runspace pool id",
                )
            })?;
        let context = EngineContext {
            computer_name: machine.clone(),
            user_name: ctx.owner.to_owned(),
            user_domain: machine.clone(),
            is_admin: ctx.config.user(ctx.owner).is_some_and(|u| u.admin),
            sessions: ctx.config.sessions(),
            process_id,
            scenarios: ctx.config.scenarios.0.clone(),
            ..EngineContext::default()
        };
        let mut pool = RunspacePool::server(
            RunspacePoolId(pool_id),
            application_private_data(&context.ps_version),
        );
        pool.receive(creation)
            .map_err(|e| internal_error(&machine, &format!("The creationXml is not valid: {e}")))?;
        let (configured, capacity) =
            ctx.session_configuration
                .map_or((BufferPolicy::Block, 1024 * 1024), |c| {
                    let policy = match c.output_buffering_mode {
                        crate::config::OutputBufferingMode::Drop => BufferPolicy::Drop,
                        _ => BufferPolicy::Block,
                    };
                    let cap = usize::try_from(c.output_buffer_size_kb.saturating_mul(1024))
                        .unwrap_or(usize::MAX);
                    (policy, cap)
                });
        // An rsp:BufferMode in the Create body wins over the configuration's (SPEC A1: settable
        // at creation); an unknown value leaves the configuration's.
        let policy = match &ctx.body.buffer_mode {
            Some(m @ (BufferMode::Block | BufferMode::Drop)) => policy_of(m),
            _ => configured,
        };
        let mut shell = Self {
            shell_id: ctx.shell_id.clone(),
            machine,
            notify: ctx.notify.clone(),
            pool,
            runspace: Arc::new(Mutex::new(Runspace::new(context.clone()))),
            context,
            pipelines: Vec::new(),
            // Object ids far from the pool's own, so the two never collide.
            pool_backlog: Fragmenter::with_first_object_id(ObjectId(1 << 48)),
            policy,
            connected: true,
            capacity,
            process_id,
            rng: ChaCha20Rng::from_entropy(),
            broken: false,
        };
        shell.pool_events()?;
        Ok(shell)
    }

    /// The buffering mode that applies while the shell is disconnected.
    pub fn policy(&self) -> BufferPolicy {
        self.policy
    }

    /// The policy output is held under now: the buffering mode when disconnected, Block
    /// while a client is connected.
    fn effective_policy(&self) -> BufferPolicy {
        if self.connected {
            BufferPolicy::Block
        } else {
            self.policy
        }
    }

    /// Records the script of command `id` has written so far (tests watch a script's progress).
    pub fn records_written(&self, id: &CommandId) -> Option<u64> {
        self.find(id).ok().map(|p| p.shared.lock().written)
    }

    fn pool_id(&self) -> RunspacePoolId {
        self.pool.id()
    }

    fn find(&self, id: &CommandId) -> Result<&PsPipeline, Fault> {
        self.pipelines
            .iter()
            .find(|p| p.command_id.as_str().eq_ignore_ascii_case(id.as_str()))
            .ok_or_else(|| Fault::unknown_command(&self.machine))
    }

    fn find_index(&self, id: &CommandId) -> Result<usize, Fault> {
        self.pipelines
            .iter()
            .position(|p| p.command_id.as_str().eq_ignore_ascii_case(id.as_str()))
            .ok_or_else(|| Fault::unknown_command(&self.machine))
    }

    /// Applies the current connection state and buffering mode to every pipeline's queue.
    fn apply_policy(&mut self) {
        let policy = self.effective_policy();
        for p in &self.pipelines {
            let mut io = p.shared.lock();
            io.queue.set_policy(policy);
            drop(io);
            p.shared.cond.notify_all();
        }
    }

    /// Answers what the client asked of the pool (key exchange, runspace counts, reset).
    fn pool_events(&mut self) -> Result<(), Fault> {
        while let Some(event) = self.pool.poll_event() {
            let answer = match event {
                PoolEvent::PublicKeyReceived => {
                    let key = psrp::crypto::SessionKey::generate(&mut self.rng);
                    self.pool.send_session_key(key, &mut self.rng)
                }
                PoolEvent::SetMaxRunspaces(req) => {
                    let ok = req.max_runspaces >= 1 && req.max_runspaces >= self.pool.runspaces().0;
                    self.pool
                        .answer_availability(req.call_id, AvailabilityResponse::Success(ok))
                }
                PoolEvent::SetMinRunspaces(req) => {
                    let ok = req.min_runspaces >= 1 && req.min_runspaces <= self.pool.runspaces().1;
                    self.pool
                        .answer_availability(req.call_id, AvailabilityResponse::Success(ok))
                }
                PoolEvent::GetAvailableRunspaces(req) => {
                    let busy = self
                        .pipelines
                        .iter()
                        .filter(|p| p.shared.lock().end.is_none())
                        .count();
                    let max = i64::from(self.pool.runspaces().1);
                    let free = (max - i64::try_from(busy).unwrap_or(max)).max(0);
                    self.pool
                        .answer_availability(req.call_id, AvailabilityResponse::Count(free))
                }
                PoolEvent::ResetRunspaceState(req) => {
                    let idle = self.pipelines.iter().all(|p| p.shared.lock().end.is_some());
                    if idle {
                        let mut rs = self.runspace.lock().unwrap_or_else(PoisonError::into_inner);
                        *rs = Runspace::new(self.context.clone());
                    }
                    self.pool
                        .answer_availability(req.call_id, AvailabilityResponse::Success(idle))
                }
                PoolEvent::PipelineMessage(message) => {
                    let id = message.pipeline_id;
                    if let Some(p) = self.pipelines.iter_mut().find(|p| p.id == id) {
                        let key = self.pool.session_key().cloned();
                        feed_pipeline(p, Some(message), None, key.as_ref(), &self.machine)?;
                    }
                    Ok(())
                }
                _ => Ok(()),
            };
            answer.map_err(|e| internal_error(&self.machine, &e.to_string()))?;
        }
        Ok(())
    }

    fn start_metadata(
        &mut self,
        command_id: CommandId,
        id: PipelineId,
        request: &GetCommandMetadata,
    ) {
        let shared = self.new_shared(id);
        let mut out = Fragmenter::new();
        let found = super::metadata::matching(&request.names);
        let count = X::object(
            XObject::new()
                .with_type_names([
                    "Selected.Microsoft.PowerShell.Commands.GenericMeasureInfo",
                    "System.Management.Automation.PSCustomObject",
                    "System.Object",
                ])
                .with_member("Count", i32::try_from(found.len()).unwrap_or(i32::MAX)),
        );
        out.queue(message_bytes(
            self.pool_id(),
            id,
            &Payload::PipelineOutput(count),
        ));
        for name in &found {
            out.queue(message_bytes(
                self.pool_id(),
                id,
                &Payload::PipelineOutput(super::metadata::cmdlet_info(name)),
            ));
        }
        shared.finish(PipelineEnd {
            state: PsInvocationState::COMPLETED,
            error: None,
        });
        self.pipelines.push(PsPipeline {
            command_id,
            id,
            line: format!("Get-Command {}", request.names.join(",")),
            machine: None,
            out,
            shared,
            final_queued: false,
            delivered: false,
        });
    }

    /// Forgets the oldest pipelines whose Done was delivered, keeping a few so that a late
    /// `terminate` from the client still finds its command (clients that never signal would
    /// otherwise grow the list forever).
    fn prune_delivered(&mut self) {
        const KEEP: usize = 32;
        let delivered = self.pipelines.iter().filter(|p| p.delivered).count();
        let mut excess = delivered.saturating_sub(KEEP);
        self.pipelines.retain(|p| {
            if excess > 0 && p.delivered {
                excess -= 1;
                false
            } else {
                true
            }
        });
    }

    fn new_shared(&self, id: PipelineId) -> Arc<PipeShared> {
        Arc::new(PipeShared {
            io: Mutex::new(PipeIo {
                queue: OutputQueue::new(self.effective_policy(), self.capacity),
                input: Vec::new(),
                input_ended: false,
                end: None,
                written: 0,
            }),
            cond: Condvar::new(),
            stop: AtomicBool::new(false),
            notify: self.notify.clone(),
            shell_id: self.shell_id.clone(),
            pool_id: self.pool_id(),
            pipeline_id: id,
        })
    }

    fn start_pipeline(
        &mut self,
        command_id: CommandId,
        id: PipelineId,
        messages: Vec<Message>,
    ) -> Result<(), Fault> {
        let shared = self.new_shared(id);
        let mut p = PsPipeline {
            command_id,
            id,
            line: String::new(),
            machine: Some(Pipeline::server(self.pool_id(), id, ObjectId(1))),
            out: Fragmenter::new(),
            shared: shared.clone(),
            final_queued: false,
            delivered: false,
        };
        let key = self.pool.session_key().cloned();
        let mut create = None;
        for m in messages {
            if let Some(c) = feed_pipeline(&mut p, Some(m), None, key.as_ref(), &self.machine)? {
                create = Some(c);
            }
        }
        let Some(create) = create else {
            return Err(internal_error(
                &self.machine,
                "The command arguments hold no CREATE_PIPELINE message",
            ));
        };
        let statements: Vec<Vec<CommandSpec>> = create
            .power_shell
            .statements()
            .map(|cmds| cmds.iter().map(|c| command_spec(c, key.as_ref())).collect())
            .collect();
        p.line = create
            .power_shell
            .cmds
            .iter()
            .map(|c| c.cmd.clone())
            .collect::<Vec<_>>()
            .join(" | ");
        let wait_input = !create.no_input;
        let runspace = self.runspace.clone();
        let thread_shared = shared.clone();
        let name = || format!("psrp-{}", p.command_id.as_str());
        let spawned = crate::threads::run(name, move || {
            run_pipeline(&thread_shared, &runspace, &statements, wait_input);
        });
        if spawned.is_err() {
            return Err(internal_error(
                &self.machine,
                "The pipeline could not be started",
            ));
        }
        self.pipelines.push(p);
        Ok(())
    }

    fn connect_pool(&mut self, xml: &[u8]) -> Result<ConnectResponse, Fault> {
        // Output the previous client never took is of no use to the new one.
        while self.pool.poll_transmit(usize::MAX).is_some() {}
        if self.pool.state() == psrp::runspace_pool::RunspacePoolState::OPENED {
            // Connected shells are refused by the service; an unpolled one is taken over.
            let _ = self.pool.disconnect();
        }
        self.pool.receive(xml).map_err(|e| {
            internal_error(&self.machine, &format!("The connectXml is not valid: {e}"))
        })?;
        self.connected = true;
        self.apply_policy();
        self.pool_events()?;
        // The pool answered SESSION_CAPABILITY, RUNSPACEPOOL_INIT_DATA (the connectResponseXml)
        // and what follows on the next pool Receive (APPLICATION_PRIVATE_DATA, state).
        let mut answer = Defragmenter::new();
        while let Some(bytes) = self.pool.poll_transmit(usize::MAX) {
            answer
                .receive(&bytes)
                .map_err(|e| internal_error(&self.machine, &e.to_string()))?;
        }
        let mut response = Fragmenter::new();
        while let Some(blob) = answer.poll_message() {
            let ty = Message::decode(&blob)
                .map_err(|e| internal_error(&self.machine, &e.to_string()))?
                .message_type;
            if ty == MessageType::SESSION_CAPABILITY || ty == MessageType::RUNSPACEPOOL_INIT_DATA {
                response.queue(blob);
            } else {
                self.pool_backlog.queue(blob);
            }
        }
        let xml = response.poll_transmit(usize::MAX).unwrap_or_default();
        self.notify.output_ready(&self.shell_id);
        Ok(ConnectResponse {
            input_streams: Some(vec!["stdin".into(), "pr".into()]),
            output_streams: Some(vec!["stdout".into()]),
            connect_response_xml: Some(xml),
        })
    }
}

/// Feeds one message (or raw stream bytes) to a pipeline's state machine and applies what it
/// reports; returns CREATE_PIPELINE when that was it.
fn feed_pipeline(
    p: &mut PsPipeline,
    message: Option<Message>,
    bytes: Option<&[u8]>,
    key: Option<&psrp::crypto::SessionKey>,
    machine_name: &str,
) -> Result<Option<Box<CreatePipeline>>, Fault> {
    let Some(machine) = p.machine.as_mut() else {
        return Ok(None);
    };
    let fed = match (message, bytes) {
        (Some(m), _) => machine.handle_message(m),
        (None, Some(b)) => machine.receive(b),
        (None, None) => Ok(()),
    };
    fed.map_err(|e| {
        internal_error(
            machine_name,
            &format!("The pipeline message is not valid: {e}"),
        )
    })?;
    let mut created = None;
    while let Some(event) = machine.poll_event() {
        match event {
            PipelineEvent::Created(c) => created = Some(c),
            PipelineEvent::Input(v) => {
                let v = from_clixml(&v, key);
                p.shared.lock().input.push(v);
            }
            PipelineEvent::EndOfInput => {
                p.shared.lock().input_ended = true;
                p.shared.cond.notify_all();
            }
            _ => {}
        }
    }
    Ok(created)
}

fn command_spec(c: &psrp::records::Command, key: Option<&psrp::crypto::SessionKey>) -> CommandSpec {
    let parameters = c
        .args
        .iter()
        .map(|a| {
            let v = match (&a.name, &a.value) {
                // A switch (`add_parameter("Force")`) arrives without a value.
                (Some(_), X::Nil) => Value::Bool(true),
                (_, v) => from_clixml(v, key),
            };
            (a.name.clone(), v)
        })
        .collect();
    let merge = c.merge_my_result;
    CommandSpec {
        command: c.cmd.clone(),
        is_script: c.is_script,
        parameters,
        merge_errors: merge == PipelineResultTypes::ERROR || merge.0 == 7,
    }
}

fn run_pipeline(
    shared: &Arc<PipeShared>,
    runspace: &Arc<Mutex<Runspace>>,
    statements: &[Vec<CommandSpec>],
    wait_input: bool,
) {
    let host = PipeHost(shared.clone());
    let input = if wait_input {
        let mut io = shared.lock();
        while !io.input_ended && !shared.stopped() {
            io = shared.cond.wait(io).unwrap_or_else(PoisonError::into_inner);
        }
        Some(std::mem::take(&mut io.input))
    } else {
        None
    };
    let mut outcome = None;
    'wait: loop {
        if shared.stopped() {
            break;
        }
        let guard = match runspace.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                // Another pipeline holds the runspace (one runspace per pool, as MaxRunspaces 1).
                let io = shared.lock();
                let _ = shared
                    .cond
                    .wait_timeout(io, Duration::from_millis(10))
                    .unwrap_or_else(PoisonError::into_inner);
                continue 'wait;
            }
        };
        let mut rs = guard;
        let mut input = input;
        for statement in statements {
            let o = rs.run_commands(statement, input.take(), &host);
            let stop = !matches!(o.state, PipelineState::Completed);
            outcome = Some(o);
            if stop {
                break;
            }
        }
        break;
    }
    let end = match outcome.map(|o| o.state) {
        Some(PipelineState::Completed) if !shared.stopped() => PipelineEnd {
            state: PsInvocationState::COMPLETED,
            error: None,
        },
        Some(PipelineState::Failed(rec)) => PipelineEnd {
            state: PsInvocationState::FAILED,
            error: Some(error_record(&rec)),
        },
        _ => PipelineEnd {
            state: PsInvocationState::STOPPED,
            error: Some(error_record(&ErrorRecord::new(
                "System.Management.Automation.PipelineStoppedException",
                "The pipeline has been stopped.",
                ErrorCategory::OperationStopped,
            ))),
        },
    };
    shared.finish(end);
}

impl ShellBackend for PowerShellShell {
    fn command(
        &mut self,
        _now: Instant,
        id: CommandId,
        line: &CommandLine,
        _options: &OptionSet,
    ) -> Result<CommandId, Fault> {
        if self.broken {
            return Err(internal_error(
                &self.machine,
                "The runspace pool is broken.",
            ));
        }
        let args = line
            .argument_bytes()
            .map_err(|e| internal_error(&self.machine, &e.to_string()))?;
        let mut defrag = Defragmenter::new();
        let mut messages = Vec::new();
        for a in &args {
            defrag.receive(a).map_err(|e| {
                internal_error(
                    &self.machine,
                    &format!("The command arguments are not PSRP fragments: {e}"),
                )
            })?;
            while let Some(blob) = defrag.poll_message() {
                messages.push(
                    Message::decode(&blob)
                        .map_err(|e| internal_error(&self.machine, &e.to_string()))?,
                );
            }
        }
        let Some(first) = messages.first() else {
            return Err(internal_error(
                &self.machine,
                "The command arguments hold no PSRP message",
            ));
        };
        let pid = first.pipeline_id;
        self.prune_delivered();
        if first.message_type == MessageType::GET_COMMAND_METADATA {
            let payload = Payload::decode(first.message_type, &first.data)
                .map_err(|e| internal_error(&self.machine, &e.to_string()))?;
            let Payload::GetCommandMetadata(request) = payload else {
                return Err(internal_error(
                    &self.machine,
                    "GET_COMMAND_METADATA is not valid",
                ));
            };
            self.start_metadata(id.clone(), pid, &request);
        } else {
            self.start_pipeline(id.clone(), pid, messages)?;
        }
        Ok(id)
    }

    fn send(&mut self, _now: Instant, stream: &Stream) -> Result<(), Fault> {
        match &stream.command_id {
            None => {
                self.pool.receive(&stream.data).map_err(|e| {
                    internal_error(
                        &self.machine,
                        &format!("The runspace pool message is not valid: {e}"),
                    )
                })?;
                self.pool_events()
            }
            Some(id) => {
                let index = self.find_index(id)?;
                let key = self.pool.session_key().cloned();
                let machine = self.machine.clone();
                let p = self
                    .pipelines
                    .get_mut(index)
                    .ok_or_else(|| Fault::unknown_command(&machine))?;
                if !stream.data.is_empty() {
                    feed_pipeline(p, None, Some(&stream.data), key.as_ref(), &machine)?;
                }
                if stream.end == Some(true) && stream.name.eq_ignore_ascii_case("stdin") {
                    p.shared.lock().input_ended = true;
                    p.shared.cond.notify_all();
                }
                Ok(())
            }
        }
    }

    fn receive(
        &mut self,
        _now: Instant,
        command: Option<&CommandId>,
        streams: &[String],
        room: usize,
    ) -> Result<Option<ReceiveResponse>, Fault> {
        let name = streams
            .first()
            .cloned()
            .unwrap_or_else(|| "stdout".to_owned());
        let Some(id) = command else {
            let bytes = max_bytes_for(0, room);
            let pending = self.pool.has_pending() || !self.pool_backlog.is_empty();
            if bytes <= psrp::fragment::HEADER_LEN && pending {
                return Err(Fault::encoding_limit(&self.machine));
            }
            let data = if self.pool_backlog.is_empty() {
                self.pool.poll_transmit(bytes)
            } else {
                self.pool_backlog.poll_transmit(bytes)
            };
            return Ok(data.map(|data| ReceiveResponse {
                streams: vec![Stream {
                    name,
                    command_id: None,
                    end: None,
                    data,
                }],
                command_state: None,
            }));
        };
        let index = self.find_index(id)?;
        let machine = self.machine.clone();
        let Some(p) = self.pipelines.get_mut(index) else {
            return Err(Fault::unknown_command(&machine));
        };
        if p.delivered {
            return Err(Fault::unknown_command(&machine));
        }
        let id_len = p.command_id.as_str().len();
        // Keep room for the CommandState element.
        let tail = 256 + id_len;
        let bytes = max_bytes_for(id_len, room.saturating_sub(tail));
        if bytes <= psrp::fragment::HEADER_LEN {
            return Err(Fault::encoding_limit(&machine));
        }
        {
            let mut io = p.shared.lock();
            while p.out.pending_bytes() < bytes {
                match io.queue.pop() {
                    Some(m) => {
                        p.out.queue(m);
                    }
                    None => break,
                }
            }
            if io.queue.is_empty()
                && !p.final_queued
                && let Some(end) = io.end.clone()
            {
                let info = PipelineStateInfo {
                    state: end.state,
                    error: end.error,
                };
                p.out.queue(message_bytes(
                    p.shared.pool_id,
                    p.id,
                    &Payload::PipelineState(info),
                ));
                p.final_queued = true;
            }
        }
        // A writer blocked on a full queue may go on.
        p.shared.cond.notify_all();
        let data = p.out.poll_transmit(bytes);
        let done = p.final_queued && p.out.is_empty();
        if data.is_none() && !done {
            return Ok(None);
        }
        let mut out = Vec::new();
        if let Some(data) = data {
            out.push(Stream {
                name: name.clone(),
                command_id: Some(p.command_id.clone()),
                end: done.then_some(true),
                data,
            });
        } else {
            out.push(Stream {
                name,
                command_id: Some(p.command_id.clone()),
                end: Some(true),
                data: Vec::new(),
            });
        }
        if done {
            p.delivered = true;
        }
        Ok(Some(ReceiveResponse {
            streams: out,
            command_state: Some(CommandStateInfo {
                command_id: Some(p.command_id.clone()),
                state: if done {
                    CommandState::Done
                } else {
                    CommandState::Running
                },
                exit_code: done.then_some(0),
            }),
        }))
    }

    fn signal(
        &mut self,
        _now: Instant,
        command: Option<&CommandId>,
        code: &SignalCode,
    ) -> Result<(), Fault> {
        let Some(id) = command else {
            return Ok(());
        };
        let index = self.find_index(id)?;
        if let Some(p) = self.pipelines.get_mut(index) {
            p.shared.request_stop();
            if let Some(m) = p.machine.as_mut() {
                let _ = m.handle_stop();
            }
        }
        if matches!(code, SignalCode::Terminate) {
            self.pipelines.remove(index);
        }
        self.notify.output_ready(&self.shell_id);
        Ok(())
    }

    fn disconnect(&mut self, _now: Instant, buffer_mode: &BufferMode) {
        let _ = self.pool.disconnect();
        self.policy = policy_of(buffer_mode);
        self.connected = false;
        self.apply_policy();
    }

    fn reconnect(
        &mut self,
        _now: Instant,
        command: Option<&CommandId>,
        buffer_mode: Option<&BufferMode>,
    ) -> Result<(), Fault> {
        if let Some(id) = command {
            self.find(id)?;
        } else {
            let _ = self.pool.reconnect();
        }
        if let Some(mode) = buffer_mode {
            self.policy = policy_of(mode);
        }
        self.connected = true;
        self.apply_policy();
        Ok(())
    }

    fn connect(&mut self, _now: Instant, connect: &Connect) -> Result<ConnectResponse, Fault> {
        if let Some(id) = &connect.command_id {
            self.find(id)?;
            self.notify.output_ready(&self.shell_id);
            return Ok(ConnectResponse::default());
        }
        let Some(xml) = connect.connect_xml.as_deref() else {
            return Err(internal_error(
                &self.machine,
                "The connectXml element is missing",
            ));
        };
        self.connect_pool(xml)
    }

    fn break_pool(&mut self) -> bool {
        let rec = error_record(&ErrorRecord::new(
            "System.Management.Automation.Remoting.PSRemotingTransportException",
            "The runspace pool is broken.",
            ErrorCategory::ResourceUnavailable,
        ));
        let info = psrp::messages::RunspacePoolStateInfo {
            state: psrp::runspace_pool::RunspacePoolState::BROKEN,
            error: Some(rec),
        };
        self.pool.queue_pipeline_message(
            MessageType::RUNSPACEPOOL_STATE,
            PipelineId::NIL,
            &psrp::messages::PsrpMessage::to_value(&info),
        );
        for p in &self.pipelines {
            p.shared.request_stop();
        }
        self.broken = true;
        self.notify.output_ready(&self.shell_id);
        true
    }

    fn delete(&mut self) {
        for p in self.pipelines.drain(..) {
            p.shared.request_stop();
        }
    }

    fn commands(&self) -> Vec<CommandSummary> {
        self.pipelines
            .iter()
            .filter(|p| !p.delivered)
            .map(|p| CommandSummary {
                id: p.command_id.clone(),
                command_line: p.line.clone(),
                state: if p.shared.lock().end.is_some() {
                    CommandState::Done
                } else {
                    CommandState::Running
                },
            })
            .collect()
    }

    fn running_commands(&self) -> usize {
        self.pipelines
            .iter()
            .filter(|p| !p.delivered && p.shared.lock().end.is_none())
            .count()
    }

    fn process_id(&self) -> u32 {
        self.process_id
    }
}

/// The runspace pool id the client chose: the RPID of the INIT_RUNSPACEPOOL message in
/// `creationXml`. Windows' client and pypsrp use the pool id as the ShellId too, but other
/// clients (winrm-rs + psrp-rs) pick an unrelated ShellId, and every message the server sends
/// must carry the pool's own id. `None` when the creation data holds no such message.
fn creation_pool_id(creation: &[u8]) -> Option<uuid::Uuid> {
    let mut defrag = psrp::fragment::Defragmenter::new();
    defrag.receive(creation).ok()?;
    while let Some(bytes) = defrag.poll_message() {
        let Ok(message) = psrp::message::Message::decode(&bytes) else {
            continue;
        };
        if message.message_type == psrp::message::MessageType::INIT_RUNSPACEPOOL {
            let id = message.runspace_pool_id.0;
            return (!id.is_nil()).then_some(id);
        }
    }
    None
}
