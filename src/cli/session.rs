//! The PSSession verbs: new, get, disconnect, connect, receive, remove, invoke, enter.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use psrp::clixml::Value;
use serde_json::json;
use sessions::pssession::{
    Availability, DisconnectOptions, Invocation, InvokeOutput, PsSession, RemoteSession,
    SessionOptions, SessionRecord, SessionState, resolve_idle_timeout,
};
use wsman::shell::BufferMode;

use super::conn::{self, Connection, GlobalArgs};
use super::print::Printer;
use super::state::{Store, StoredSession};
use super::table::{self, JOB_COLUMNS, Row, SESSION_COLUMNS};

/// `--output-buffering-mode` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BufferArg {
    /// Suspend the command when the buffer is full (nothing is lost).
    #[value(name = "Block", alias = "block")]
    Block,
    /// Drop the oldest output when the buffer is full.
    #[value(name = "Drop", alias = "drop")]
    Drop,
}

impl BufferArg {
    fn mode(self) -> BufferMode {
        match self {
            Self::Block => BufferMode::Block,
            Self::Drop => BufferMode::Drop,
        }
    }
}

fn mode(arg: Option<BufferArg>) -> Option<BufferMode> {
    arg.map(BufferArg::mode)
}

/// Session options given at creation or disconnect.
#[derive(Clone, Debug, Args)]
pub struct SessionOptionArgs {
    /// IdleTimeout in seconds (default: PSRM_IDLE_TIMEOUT_SEC, else the configuration's).
    #[arg(long, value_name = "SECONDS")]
    pub idle_timeout_sec: Option<u64>,
    /// OutputBufferingMode.
    #[arg(long, value_enum)]
    pub output_buffering_mode: Option<BufferArg>,
}

impl SessionOptionArgs {
    /// The idle timeout at creation: the flag, else the preference (PSRM_IDLE_TIMEOUT_SEC, the
    /// `$PSSessionOption` of this CLI), else none (the server's configuration).
    fn creation_idle_timeout(&self) -> anyhow::Result<Option<Duration>> {
        let preference = match std::env::var("PSRM_IDLE_TIMEOUT_SEC") {
            Ok(v) if !v.trim().is_empty() => {
                Some(Duration::from_secs(v.trim().parse().context(
                    "PSRM_IDLE_TIMEOUT_SEC is not a number of seconds",
                )?))
            }
            _ => None,
        };
        Ok(resolve_idle_timeout(
            self.idle_timeout_sec.map(Duration::from_secs),
            preference,
        ))
    }
}

/// Options of `connect` and `receive`.
#[derive(Clone, Debug, Args)]
pub struct ReconnectOptionArgs {
    /// OutputBufferingMode from now on.
    #[arg(long, value_enum)]
    pub output_buffering_mode: Option<BufferArg>,
    /// Accepted for symmetry with PowerShell and ignored: an idle timeout cannot be changed
    /// when connecting.
    #[arg(long, value_name = "SECONDS", hide = true)]
    pub idle_timeout_sec: Option<u64>,
}

impl ReconnectOptionArgs {
    fn warn_ignored(&self) {
        if self.idle_timeout_sec.is_some() {
            eprintln!("WARNING: --idle-timeout-sec is ignored when connecting or receiving");
        }
    }
}

/// `psrm new`.
#[derive(Clone, Debug, Args)]
pub struct NewArgs {
    /// Session name (default: the server's).
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub options: SessionOptionArgs,
}

/// `psrm get`.
#[derive(Clone, Debug, Args)]
pub struct GetArgs {
    /// Only sessions with this name.
    #[arg(long)]
    pub name: Option<String>,
}

/// `psrm disconnect`.
#[derive(Clone, Debug, Args)]
pub struct DisconnectArgs {
    /// Session name or Id.
    #[arg(long)]
    pub name: String,
    #[command(flatten)]
    pub options: SessionOptionArgs,
}

/// `psrm connect`.
#[derive(Clone, Debug, Args)]
pub struct ConnectArgs {
    /// Session name or Id.
    #[arg(long)]
    pub name: String,
    #[command(flatten)]
    pub options: ReconnectOptionArgs,
}

/// Where `receive` delivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutTarget {
    /// To this terminal, synchronously.
    Host,
    /// As a job, then its output.
    Job,
}

/// `psrm receive`.
#[derive(Clone, Debug, Args)]
#[command(
    after_help = "A receive that fails part-way (also with --out-target job) saves where \
reading stopped in the state file; running it again reads the rest, each record once."
)]
pub struct ReceiveArgs {
    /// Session name or Id.
    #[arg(long)]
    pub name: String,
    /// Deliver to the host (default) or as a job.
    #[arg(long, value_enum, default_value = "host")]
    pub out_target: OutTarget,
    #[command(flatten)]
    pub options: ReconnectOptionArgs,
}

/// `psrm remove`.
#[derive(Clone, Debug, Args)]
pub struct RemoveArgs {
    /// Session name or Id.
    #[arg(long)]
    pub name: String,
}

/// `psrm invoke`.
#[derive(Clone, Debug, Args)]
#[command(
    after_help = "When reading the output fails part-way (a lost connection), the command keeps \
running on the host and the state file keeps it with where reading stopped (a temporary session \
is kept for it): psrm exits 1 with a line naming the `psrm receive --name NAME` that reads the \
rest, each record once."
)]
pub struct InvokeArgs {
    /// The script to run.
    pub script: String,
    /// Run in this session (by name or Id); with --in-disconnected-session: the new session's name.
    #[arg(long)]
    pub name: Option<String>,
    /// Create a session, start the script and disconnect at once (receive it later).
    #[arg(long)]
    pub in_disconnected_session: bool,
    /// Send each line of stdin as an input object.
    #[arg(long)]
    pub stdin: bool,
    #[command(flatten)]
    pub options: SessionOptionArgs,
}

/// `psrm enter`.
#[derive(Clone, Debug, Args)]
#[command(
    after_help = "When reading a command's output fails part-way (a lost connection), the prompt \
ends as Enter-PSSession's does when its session breaks: the command keeps running on the host, \
the state file keeps the session (a temporary one too) with where reading stopped, and psrm \
exits 1 with a line naming the `psrm receive --name NAME` that reads the rest, each record once."
)]
pub struct EnterArgs {
    /// Session name or Id (default: a new session, removed at the end unless it keeps a command
    /// whose reading failed).
    #[arg(long)]
    pub name: Option<String>,
}

fn stored<'a>(store: &'a Store, name: &str) -> anyhow::Result<&'a StoredSession> {
    store
        .find(name)
        .with_context(|| format!("unknown session {name}: not among this client's sessions"))
}

fn session_row(
    id: u32,
    name: &str,
    host: &str,
    state: SessionState,
    config: &str,
    availability: Availability,
) -> Row {
    Row(vec![
        json!(id),
        json!(name),
        json!(host),
        json!(state.as_str()),
        json!(config),
        json!(availability.as_str()),
    ])
}

fn local_availability(state: SessionState) -> Availability {
    match state {
        SessionState::Opened => Availability::Available,
        _ => Availability::None,
    }
}

fn row_of(s: &StoredSession) -> Row {
    let state = s.session_state();
    session_row(
        s.id,
        &s.name,
        &s.computer_name,
        state,
        &s.configuration_name,
        local_availability(state),
    )
}

fn print_sessions(json: bool, rows: &[Row]) {
    if json {
        println!("{}", table::to_json(&SESSION_COLUMNS, rows));
    } else if !rows.is_empty() {
        print!("{}", table::render(&SESSION_COLUMNS, rows));
        println!();
    }
}

fn save_session(store: &mut Store, session: &PsSession, ssl: bool) -> anyhow::Result<Row> {
    let s = store.upsert(&session.record(), ssl);
    store.save()?;
    Ok(session_row(
        s.id,
        session.name(),
        session.computer_name(),
        session.state(),
        session.configuration_name(),
        session.availability(),
    ))
}

fn default_name(store: &Store) -> String {
    format!("Session{}", store.state.next_id)
}

/// `psrm new`.
pub async fn new(g: &GlobalArgs, a: &NewArgs) -> anyhow::Result<i32> {
    let mut store = g.store()?;
    let c = conn::connect(g, &store, None)?;
    let mut options = SessionOptions::default().configuration_name(g.configuration_name.clone());
    options.name = Some(a.name.clone().unwrap_or_else(|| default_name(&store)));
    options.idle_timeout = a.options.creation_idle_timeout()?;
    options.output_buffering_mode = mode(a.options.output_buffering_mode);
    let session = PsSession::new(&c.client, &c.host, options)
        .await
        .context("cannot create the session")?;
    let row = save_session(&mut store, &session, c.ssl)?;
    print_sessions(g.json, &[row]);
    Ok(0)
}

/// `psrm get`: this client's sessions, or with -H the server's, as seen by this client.
pub async fn get(g: &GlobalArgs, a: &GetArgs) -> anyhow::Result<i32> {
    let store = g.store()?;
    let wanted = |name: &str| a.name.as_ref().is_none_or(|n| n.eq_ignore_ascii_case(name));
    if g.host.is_none() {
        let rows: Vec<Row> = store
            .state
            .sessions
            .iter()
            .filter(|s| wanted(&s.name))
            .map(row_of)
            .collect();
        print_sessions(g.json, &rows);
        return Ok(0);
    }
    let c = conn::connect(g, &store, None)?;
    let remote = PsSession::enumerate(&c.client)
        .await
        .context("cannot list the sessions on the server")?;
    let mut next_display_id = store.state.next_id;
    let rows: Vec<Row> = remote
        .iter()
        .filter(|r| wanted(&r.name))
        .map(|r| {
            let held = store.find_shell(r.shell_id.as_str()).is_some();
            let row = remote_row(&store, &c, r, next_display_id);
            if !held {
                next_display_id += 1;
            }
            row
        })
        .collect();
    print_sessions(g.json, &rows);
    Ok(0)
}

fn remote_row(store: &Store, c: &Connection, r: &RemoteSession, display_id: u32) -> Row {
    let local = store.find_shell(r.shell_id.as_str());
    let (state, availability) = r.view(local.map(StoredSession::session_state));
    // Sessions this client does not hold get the next free Ids, as PowerShell numbers them.
    let id = local.map_or(display_id, |s| s.id);
    session_row(
        id,
        &r.name,
        &c.host,
        state,
        &r.configuration_name,
        availability,
    )
}

/// `psrm disconnect`.
pub async fn disconnect(g: &GlobalArgs, a: &DisconnectArgs) -> anyhow::Result<i32> {
    let mut store = g.store()?;
    let s = stored(&store, &a.name)?.clone();
    let c = conn::connect(g, &store, Some((&s.computer_name, s.ssl)))?;
    let mut session = PsSession::from_record(&c.client, &s.record());
    let mut options = DisconnectOptions::default();
    options.idle_timeout = a.options.idle_timeout_sec.map(Duration::from_secs);
    options.output_buffering_mode = mode(a.options.output_buffering_mode);
    session
        .disconnect(options)
        .await
        .with_context(|| format!("cannot disconnect session {}", s.name))?;
    let row = save_session(&mut store, &session, s.ssl)?;
    print_sessions(g.json, &[row]);
    Ok(0)
}

/// Gets a session connected to this client: its own (Reconnect) or, when this client does not
/// hold it or another client took it meanwhile, by enumeration and Connect.
async fn attach(
    g: &GlobalArgs,
    store: &mut Store,
    name: &str,
    buffer: Option<BufferMode>,
) -> anyhow::Result<(PsSession, bool)> {
    if let Some(s) = store.find(name).cloned() {
        let c = conn::connect(g, store, Some((&s.computer_name, s.ssl)))?;
        let mut session = PsSession::from_record(&c.client, &s.record());
        match session.reconnect(buffer.clone()).await {
            Ok(()) => return Ok((session, c.ssl)),
            // The shell was taken over by another client meanwhile: connect as a new client.
            Err(e) if e.fault().is_some() && !is_gone(&e) => {
                tracing::debug!(error = %e, "reconnect refused, trying connect");
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot reconnect session {}", s.name));
            }
        }
        let remote = find_remote(&c, &s.shell_id, name).await?;
        let session = PsSession::connect_with_mode(&c.client, &c.host, &remote, buffer)
            .await
            .with_context(|| format!("cannot connect to session {name}"))?;
        return Ok((session, c.ssl));
    }
    let c = conn::connect(g, store, None)?;
    let remote = find_remote(&c, "", name).await?;
    // A Connect carries no BufferMode: the session keeps the mode (and the state file with
    // it) for this client's next disconnect.
    let session = PsSession::connect_with_mode(&c.client, &c.host, &remote, buffer)
        .await
        .with_context(|| format!("cannot connect to session {name}"))?;
    Ok((session, c.ssl))
}

fn is_gone(e: &sessions::Error) -> bool {
    e.fault_subcode()
        .is_some_and(|s| s.eq_ignore_ascii_case("InvalidSelectors"))
}

async fn find_remote(c: &Connection, shell_id: &str, name: &str) -> anyhow::Result<RemoteSession> {
    let all = PsSession::enumerate(&c.client)
        .await
        .context("cannot list the sessions on the server")?;
    let found = all.into_iter().find(|r| {
        (!shell_id.is_empty() && r.shell_id.as_str().eq_ignore_ascii_case(shell_id))
            || r.name.eq_ignore_ascii_case(name)
    });
    found.with_context(|| format!("unknown session {name} on {}", c.host))
}

/// `psrm connect`.
pub async fn connect(g: &GlobalArgs, a: &ConnectArgs) -> anyhow::Result<i32> {
    a.options.warn_ignored();
    let mut store = g.store()?;
    let (session, ssl) = attach(
        g,
        &mut store,
        &a.name,
        mode(a.options.output_buffering_mode),
    )
    .await?;
    let row = save_session(&mut store, &session, ssl)?;
    print_sessions(g.json, &[row]);
    Ok(0)
}

/// `psrm receive`.
pub async fn receive(g: &GlobalArgs, a: &ReceiveArgs) -> anyhow::Result<i32> {
    a.options.warn_ignored();
    let mut store = g.store()?;
    let buffer = mode(a.options.output_buffering_mode);
    let (session, ssl) = attach(g, &mut store, &a.name, buffer.clone()).await?;
    // Connected now: keep that, so an interrupted receive can be resumed.
    save_session(&mut store, &session, ssl)?;
    let mut printer = Printer::new(g.json);
    let (session, outputs) = match a.out_target {
        OutTarget::Host => {
            let mut session = session;
            let outputs = session
                .receive_with(None, |_, item| printer.item(item))
                .await;
            (session, outputs)
        }
        OutTarget::Job => {
            let id = store.allocate_id();
            let mut job = session.receive_job(id, None);
            let mut items = Vec::new();
            while let Some((_, item)) = job.next().await {
                items.push(item);
            }
            let row = Row(vec![
                json!(job.id()),
                json!(job.name()),
                json!(job.ps_job_type_name()),
                json!(job.state().as_str()),
                json!(!items.is_empty()),
                json!(job.location()),
            ]);
            if g.json {
                eprintln!(
                    "{}",
                    table::to_json(&JOB_COLUMNS, std::slice::from_ref(&row))
                );
            } else {
                eprint!("{}", table::render(&JOB_COLUMNS, &[row]));
                eprintln!();
            }
            for item in &items {
                printer.item(item);
            }
            // A failed job still hands the session back: it knows where reading stopped.
            job.finish().await.context("receive job failed")?
        }
    };
    // Saved before a failure is reported too: the state file then holds where reading stopped
    // (and the session Disconnected after a lost connection) for the next `psrm receive`.
    save_session(&mut store, &session, ssl)?;
    let outputs = outputs.with_context(|| format!("cannot receive from session {}", a.name))?;
    for out in &outputs {
        printer.output(out);
    }
    printer.finish();
    Ok(exit_code(&outputs))
}

fn exit_code(outputs: &[InvokeOutput]) -> i32 {
    i32::from(outputs.iter().any(|o| !o.is_completed()))
}

/// `psrm remove`.
pub async fn remove(g: &GlobalArgs, a: &RemoveArgs) -> anyhow::Result<i32> {
    let mut store = g.store()?;
    if let Some(s) = store.find(&a.name).cloned() {
        let c = conn::connect(g, &store, Some((&s.computer_name, s.ssl)))?;
        let session = PsSession::from_record(&c.client, &s.record());
        match session.remove().await {
            Ok(()) => {}
            // Already gone on the server (idle timeout, removed elsewhere): forget it too.
            Err(e) if is_gone(&e) => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove session {}", s.name)),
        }
        store.remove_shell(&s.shell_id);
        store.save()?;
        return Ok(0);
    }
    let c = conn::connect(g, &store, None)?;
    let remote = find_remote(&c, "", &a.name).await?;
    c.client
        .delete(&remote.resource_uri, &remote.shell_id)
        .await
        .with_context(|| format!("cannot remove session {}", a.name))?;
    Ok(0)
}

/// `psrm invoke`.
pub async fn invoke(g: &GlobalArgs, a: &InvokeArgs) -> anyhow::Result<i32> {
    let mut store = g.store()?;
    let mut invocation = Invocation::script(a.script.clone());
    if a.stdin {
        let lines: Vec<Value> = std::io::stdin()
            .lock()
            .lines()
            .map(|l| l.map(Value::String))
            .collect::<Result<_, _>>()
            .context("cannot read stdin")?;
        invocation = invocation.input(lines);
    }
    if a.in_disconnected_session {
        let c = conn::connect(g, &store, None)?;
        let mut options =
            SessionOptions::default().configuration_name(g.configuration_name.clone());
        options.name = Some(a.name.clone().unwrap_or_else(|| default_name(&store)));
        options.idle_timeout = a.options.creation_idle_timeout()?;
        options.output_buffering_mode = mode(a.options.output_buffering_mode);
        let session =
            PsSession::invoke_in_disconnected_session(&c.client, &c.host, options, &invocation)
                .await
                .context("cannot invoke in a disconnected session")?;
        let row = save_session(&mut store, &session, c.ssl)?;
        print_sessions(g.json, &[row]);
        return Ok(0);
    }
    let (mut session, ssl, temporary) = match &a.name {
        Some(name) => {
            let s = stored(&store, name)?.clone();
            if s.session_state() != SessionState::Opened {
                bail!(
                    "session {} is {} for this client: connect it first (psrm connect --name {})",
                    s.name,
                    s.state,
                    s.name
                );
            }
            let c = conn::connect(g, &store, Some((&s.computer_name, s.ssl)))?;
            (PsSession::from_record(&c.client, &s.record()), s.ssl, false)
        }
        None => {
            let c = conn::connect(g, &store, None)?;
            let mut options =
                SessionOptions::default().configuration_name(g.configuration_name.clone());
            options.idle_timeout = a.options.creation_idle_timeout()?;
            options.output_buffering_mode = mode(a.options.output_buffering_mode);
            let session = PsSession::new(&c.client, &c.host, options)
                .await
                .context("cannot create the session")?;
            (session, c.ssl, true)
        }
    };
    let out = match run_interruptible(&mut session, &invocation, g.json).await {
        Err(e) if e.downcast_ref::<ReadFailed>().is_some() => {
            return Err(keep_for_resume(&mut store, &session, ssl, &e)?);
        }
        result => result,
    };
    if temporary {
        let _ = session.remove().await;
    } else {
        save_session(&mut store, &session, ssl)?;
    }
    let out = out?;
    Ok(i32::from(!out.is_completed()))
}

/// After a [`ReadFailed`]: saves `session` (a temporary one too) with the command and where
/// reading stopped, so `psrm receive` goes on from there; returns the one-line error naming
/// that `psrm receive --name …`.
fn keep_for_resume(
    store: &mut Store,
    session: &PsSession,
    ssl: bool,
    e: &anyhow::Error,
) -> anyhow::Result<anyhow::Error> {
    save_session(store, session, ssl)?;
    let name = resume_name(store, &session.record());
    Ok(anyhow::anyhow!(
        "{}; the command's output is kept: resume with psrm receive --name {name}",
        super::one_line(e)
    ))
}

/// How `psrm receive --name` finds `session` in `store`: its name, or its local Id when the
/// name does not lead to it.
fn resume_name(store: &Store, session: &SessionRecord) -> String {
    match store.find(&session.name) {
        Some(s) if s.shell_id.eq_ignore_ascii_case(&session.shell_id) => session.name.clone(),
        _ => store
            .find_shell(&session.shell_id)
            .map_or_else(|| session.name.clone(), |s| s.id.to_string()),
    }
}

/// Reading a started command failed mid-way: the command is still in the session (with where
/// reading stopped), for `psrm receive` to go on with.
#[derive(Debug)]
pub struct ReadFailed(pub sessions::Error);

impl std::fmt::Display for ReadFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("receiving the output failed")
    }
}

impl std::error::Error for ReadFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Runs one pipeline, printing as it goes; Ctrl-C stops the remote pipeline (then waits for
/// it to end Stopped). When reading fails ([`ReadFailed`]) the command stays in the session,
/// so the session's record can resume it.
pub async fn run_interruptible(
    session: &mut PsSession,
    invocation: &Invocation,
    json: bool,
) -> anyhow::Result<InvokeOutput> {
    let mut pipeline = session
        .start(invocation)
        .await
        .context("cannot start the command")?;
    let id = pipeline.command_id().clone();
    let stopper = pipeline.stopper();
    let stop_task = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("^C: stopping the remote pipeline");
            if let Err(e) = stopper.stop().await {
                eprintln!("psrm: cannot stop the pipeline: {e}");
            }
        }
    });
    let mut printer = Printer::new(json);
    let mut out = InvokeOutput::empty(id.clone());
    let result = loop {
        match pipeline.next().await {
            Ok(Some(item)) => {
                printer.item(&item);
                out.push(item);
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    stop_task.abort();
    out.state = pipeline.state();
    out.reason = pipeline.reason().cloned();
    // A failed read keeps the command (and where reading stopped) in the session.
    result.map_err(ReadFailed)?;
    session.forget_command(&id);
    if let Some(reason) = &out.reason
        && !json
    {
        eprintln!("{}", reason.message().unwrap_or("the pipeline failed"));
    }
    printer.output(&out);
    printer.finish();
    Ok(out)
}

/// `psrm enter`: an interactive prompt on a session (reads commands from stdin when it is not
/// a terminal).
pub async fn enter(g: &GlobalArgs, a: &EnterArgs) -> anyhow::Result<i32> {
    let mut store = g.store()?;
    let (mut session, ssl, temporary) = match &a.name {
        Some(name) => {
            let (session, ssl) = attach(g, &mut store, name, None).await?;
            save_session(&mut store, &session, ssl)?;
            (session, ssl, false)
        }
        None => {
            let c = conn::connect(g, &store, None)?;
            let options =
                SessionOptions::default().configuration_name(g.configuration_name.clone());
            let session = PsSession::new(&c.client, &c.host, options)
                .await
                .context("cannot create the session")?;
            (session, c.ssl, true)
        }
    };
    let interactive = std::io::stdin().is_terminal();
    let stdin = std::io::stdin();
    let mut last = 0;
    loop {
        if interactive {
            print!("[{}]: PS> ", session.computer_name());
            let _ = std::io::stdout().flush();
        }
        let mut line = String::new();
        if stdin
            .lock()
            .read_line(&mut line)
            .context("cannot read stdin")?
            == 0
        {
            break;
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.eq_ignore_ascii_case("exit") || line.eq_ignore_ascii_case("exit-pssession") {
            break;
        }
        match run_interruptible(&mut session, &Invocation::script(line), g.json).await {
            Ok(out) => last = i32::from(!out.is_completed()),
            // As Enter-PSSession losing the network: the session is disconnected and the
            // prompt ends (exit 1); the session (a temporary one too) stays in the state file
            // with the command, for `psrm receive`.
            Err(e) if e.downcast_ref::<ReadFailed>().is_some() => {
                return Err(keep_for_resume(&mut store, &session, ssl, &e)?);
            }
            Err(e) => {
                eprintln!("psrm: {e:#}");
                last = 1;
            }
        }
    }
    if temporary {
        session
            .remove()
            .await
            .context("cannot remove the session")?;
    } else {
        save_session(&mut store, &session, ssl)?;
    }
    Ok(last)
}
