//! Remote shell messages (MS-WSMV 3.1.4.1 – 3.1.4.18): the `rsp:Shell` resource, Command, Send,
//! Receive, Signal, Disconnect, Reconnect and Connect, both directions.
//!
//! Stream data and PowerShell payloads (`creationXml`, `connectXml`, `connectResponseXml`) are
//! opaque bytes here (base64 on the wire). `rsp:Arguments` are kept as the raw strings: for
//! PowerShell they hold base64 PSRP fragments ([`CommandLine::argument_bytes`] decodes them),
//! for cmd they are plain command-line arguments.

use std::time::Duration;

use crate::codec::{self, sub};
use crate::duration;
use crate::error::DecodeError;
use crate::header::{CommandId, SelectorSet, ShellId};
use crate::ns;
use crate::xml::{Element, Writer};

open_enum! {
    /// Output buffering while disconnected (`rsp:BufferMode`).
    pub enum BufferMode {
        /// Block the command when the buffer is full.
        Block => "Block";
        /// Drop the oldest output when the buffer is full.
        Drop => "Drop";
    }
}

open_enum! {
    /// A shell's state as reported in `rsp:Shell/rsp:State`.
    pub enum ShellState {
        /// A client is connected.
        Connected => "Connected";
        /// No client is connected.
        Disconnected => "Disconnected";
    }
}

open_enum! {
    /// `rsp:CommandState State=…` (a URI on the wire).
    pub enum CommandState {
        /// The command has finished.
        Done => "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done";
        /// The command is waiting for input.
        Pending => "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Pending";
        /// The command is running.
        Running => "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running";
    }
}

open_enum! {
    /// `rsp:Signal/rsp:Code`. Matching is case-insensitive (`…/signal/Terminate` occurs).
    pub enum SignalCode {
        /// End the command (frees its quota slot).
        Terminate => "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate";
        /// Ctrl+C to a cmd command.
        CtrlC => "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/ctrl_c";
        /// Ctrl+Break to a cmd command.
        CtrlBreak => "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/ctrl_break";
        /// PowerShell stop, as Windows' own client spells it (sic).
        PowerShellCrtlC => "powershell/signal/crtl_c", alias "http://schemas.microsoft.com/powershell/signal/crtl_c";
        /// PowerShell stop, as pypsrp spells it.
        PowerShellCtrlC => "powershell/signal/ctrl_c", alias "http://schemas.microsoft.com/powershell/signal/ctrl_c";
    }
}

/// The `rsp:Shell` resource: the Create request body, the CreateResponse / Get reply and an
/// enumeration item. Request and reply fields share one type; absent fields are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Shell {
    /// `ShellId` attribute (PowerShell chooses the id: its RunspacePool id, upper case).
    pub shell_id_attr: Option<ShellId>,
    /// `Name` attribute.
    pub name_attr: Option<String>,
    /// `rsp:ShellId`.
    pub shell_id: Option<ShellId>,
    /// `rsp:Name`.
    pub name: Option<String>,
    /// `rsp:ResourceUri`.
    pub resource_uri: Option<String>,
    /// `rsp:Owner`.
    pub owner: Option<String>,
    /// `rsp:ClientIP`.
    pub client_ip: Option<String>,
    /// `rsp:ProcessId`.
    pub process_id: Option<u32>,
    /// `rsp:IdleTimeOut` (encoded with three decimals: `PT7200.000S`).
    pub idle_timeout: Option<Duration>,
    /// `rsp:InputStreams`, e.g. `stdin pr`.
    pub input_streams: Option<Vec<String>>,
    /// `rsp:OutputStreams`, e.g. `stdout stderr`.
    pub output_streams: Option<Vec<String>>,
    /// `rsp:MaxIdleTimeOut` (three decimals).
    pub max_idle_timeout: Option<Duration>,
    /// `rsp:Locale`.
    pub locale: Option<String>,
    /// `rsp:DataLocale`.
    pub data_locale: Option<String>,
    /// `rsp:CompressionMode`, e.g. `NoCompression`.
    pub compression_mode: Option<String>,
    /// `rsp:ProfileLoaded`, `Yes` / `No`.
    pub profile_loaded: Option<String>,
    /// `rsp:Encoding`, e.g. `UTF8`.
    pub encoding: Option<String>,
    /// `rsp:BufferMode`.
    pub buffer_mode: Option<BufferMode>,
    /// `rsp:State`.
    pub state: Option<ShellState>,
    /// `rsp:ShellRunTime` (encoded `P0DT0H0M9S`).
    pub shell_run_time: Option<Duration>,
    /// `rsp:ShellInactivity` (encoded `P0DT0H0M9S`).
    pub shell_inactivity: Option<Duration>,
    /// `rsp:MemoryUsed`, e.g. `46MB`.
    pub memory_used: Option<String>,
    /// `rsp:ChildProcesses`.
    pub child_processes: Option<u32>,
    /// `rsp:Environment/rsp:Variable Name=…`.
    pub environment: Vec<(String, String)>,
    /// `rsp:WorkingDirectory`.
    pub working_directory: Option<String>,
    /// `rsp:Lifetime`.
    pub lifetime: Option<Duration>,
    /// PowerShell `creationXml`: SESSION_CAPABILITY + INIT_RUNSPACEPOOL fragments.
    pub creation_xml: Option<Vec<u8>>,
    /// Children this crate does not model, kept so they round-trip.
    pub other: Vec<Element>,
}

impl Shell {
    /// The shell's id, from the element or the attribute.
    pub fn id(&self) -> Option<&ShellId> {
        self.shell_id.as_ref().or(self.shell_id_attr.as_ref())
    }

    pub(crate) fn decode(el: &Element, path: &str) -> Result<Self, DecodeError> {
        let mut s = Self {
            shell_id_attr: el.attr("ShellId").map(|v| ShellId::new(v.trim())),
            name_attr: el.attr("Name").map(str::to_owned),
            ..Self::default()
        };
        for c in el.elements() {
            let p = sub(path, &c.name);
            let text = || codec::trimmed(c);
            match (c.ns.as_deref(), c.name.as_str()) {
                (Some(ns::SHELL), "ShellId") => s.shell_id = Some(ShellId::new(text())),
                (Some(ns::SHELL), "Name") => s.name = Some(text()),
                (Some(ns::SHELL), "ResourceUri") => s.resource_uri = Some(text()),
                (Some(ns::SHELL), "Owner") => s.owner = Some(text()),
                (Some(ns::SHELL), "ClientIP") => s.client_ip = Some(text()),
                (Some(ns::SHELL), "ProcessId") => {
                    s.process_id = Some(codec::number(&c.text(), &p, "unsigned integer")?);
                }
                (Some(ns::SHELL), "IdleTimeOut") => {
                    s.idle_timeout = Some(codec::duration(&c.text(), &p)?);
                }
                (Some(ns::SHELL), "InputStreams") => {
                    s.input_streams = Some(codec::streams(&c.text()))
                }
                (Some(ns::SHELL), "OutputStreams") => {
                    s.output_streams = Some(codec::streams(&c.text()));
                }
                (Some(ns::SHELL), "MaxIdleTimeOut") => {
                    s.max_idle_timeout = Some(codec::duration(&c.text(), &p)?);
                }
                (Some(ns::SHELL), "Locale") => s.locale = Some(text()),
                (Some(ns::SHELL), "DataLocale") => s.data_locale = Some(text()),
                (Some(ns::SHELL), "CompressionMode") => s.compression_mode = Some(text()),
                (Some(ns::SHELL), "ProfileLoaded") => s.profile_loaded = Some(text()),
                (Some(ns::SHELL), "Encoding") => s.encoding = Some(text()),
                (Some(ns::SHELL), "BufferMode") => {
                    s.buffer_mode = Some(BufferMode::parse(&c.text()))
                }
                (Some(ns::SHELL), "State") => s.state = Some(ShellState::parse(&c.text())),
                (Some(ns::SHELL), "ShellRunTime") => {
                    s.shell_run_time = Some(codec::duration(&c.text(), &p)?);
                }
                (Some(ns::SHELL), "ShellInactivity") => {
                    s.shell_inactivity = Some(codec::duration(&c.text(), &p)?);
                }
                (Some(ns::SHELL), "MemoryUsed") => s.memory_used = Some(text()),
                (Some(ns::SHELL), "ChildProcesses") => {
                    s.child_processes = Some(codec::number(&c.text(), &p, "unsigned integer")?);
                }
                (Some(ns::SHELL), "Environment") => {
                    for v in c.elements().filter(|v| v.is(ns::SHELL, "Variable")) {
                        let name = v
                            .attr("Name")
                            .ok_or_else(|| DecodeError::MissingAttribute {
                                path: sub(&p, "Variable"),
                                name: "Name",
                            })?;
                        s.environment.push((name.to_owned(), v.text().into_owned()));
                    }
                }
                (Some(ns::SHELL), "WorkingDirectory") => {
                    s.working_directory = Some(c.text().into_owned());
                }
                (Some(ns::SHELL), "Lifetime") => s.lifetime = Some(codec::duration(&c.text(), &p)?),
                (Some(ns::POWERSHELL), "creationXml") => {
                    s.creation_xml = Some(codec::base64(&c.text(), &p)?);
                }
                _ => s.other.push(c.clone()),
            }
        }
        Ok(s)
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.start("rsp:Shell");
        if let Some(id) = &self.shell_id_attr {
            w.attr("ShellId", id.as_str());
        }
        if let Some(n) = &self.name_attr {
            w.attr("Name", n);
        }
        w.end_start();
        let leaf = codec::opt_leaf;
        leaf(
            w,
            "rsp:ShellId",
            self.shell_id.as_ref().map(ShellId::as_str),
        );
        leaf(w, "rsp:Name", self.name.as_deref());
        leaf(w, "rsp:ResourceUri", self.resource_uri.as_deref());
        leaf(w, "rsp:Owner", self.owner.as_deref());
        leaf(w, "rsp:ClientIP", self.client_ip.as_deref());
        leaf(
            w,
            "rsp:ProcessId",
            self.process_id.map(|v| v.to_string()).as_deref(),
        );
        leaf(
            w,
            "rsp:IdleTimeOut",
            self.idle_timeout.map(duration::format_shell).as_deref(),
        );
        leaf(
            w,
            "rsp:InputStreams",
            self.input_streams.as_ref().map(|v| v.join(" ")).as_deref(),
        );
        leaf(
            w,
            "rsp:OutputStreams",
            self.output_streams.as_ref().map(|v| v.join(" ")).as_deref(),
        );
        leaf(
            w,
            "rsp:MaxIdleTimeOut",
            self.max_idle_timeout.map(duration::format_shell).as_deref(),
        );
        leaf(w, "rsp:Locale", self.locale.as_deref());
        leaf(w, "rsp:DataLocale", self.data_locale.as_deref());
        leaf(w, "rsp:CompressionMode", self.compression_mode.as_deref());
        leaf(w, "rsp:ProfileLoaded", self.profile_loaded.as_deref());
        leaf(w, "rsp:Encoding", self.encoding.as_deref());
        leaf(
            w,
            "rsp:BufferMode",
            self.buffer_mode.as_ref().map(BufferMode::as_str),
        );
        leaf(w, "rsp:State", self.state.as_ref().map(ShellState::as_str));
        leaf(
            w,
            "rsp:ShellRunTime",
            self.shell_run_time.map(duration::format_dhms).as_deref(),
        );
        leaf(
            w,
            "rsp:ShellInactivity",
            self.shell_inactivity.map(duration::format_dhms).as_deref(),
        );
        leaf(w, "rsp:MemoryUsed", self.memory_used.as_deref());
        leaf(
            w,
            "rsp:ChildProcesses",
            self.child_processes.map(|v| v.to_string()).as_deref(),
        );
        if !self.environment.is_empty() {
            w.start("rsp:Environment");
            w.end_start();
            for (name, value) in &self.environment {
                w.start("rsp:Variable");
                w.attr("Name", name);
                w.end_start();
                w.text(value);
                w.close("rsp:Variable");
            }
            w.close("rsp:Environment");
        }
        leaf(w, "rsp:WorkingDirectory", self.working_directory.as_deref());
        leaf(
            w,
            "rsp:Lifetime",
            self.lifetime.map(duration::format).as_deref(),
        );
        if let Some(x) = &self.creation_xml {
            w.start("creationXml");
            w.attr("xmlns", ns::POWERSHELL);
            w.end_start();
            codec::write_base64(w, x);
            w.close("creationXml");
        }
        for o in &self.other {
            w.element(o);
        }
        w.close("rsp:Shell");
    }
}

/// `x:ResourceCreated` (the CreateResponse body), optionally followed by the new `rsp:Shell`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateResponse {
    /// `a:Address`.
    pub address: String,
    /// `a:ReferenceParameters/w:ResourceURI`.
    pub resource_uri: Option<String>,
    /// `a:ReferenceParameters/w:SelectorSet` (holds `ShellId`).
    pub selectors: SelectorSet,
    /// The shell Windows returns after `ResourceCreated` (not every server sends it).
    pub shell: Option<Shell>,
}

impl CreateResponse {
    /// The created shell's id (the `ShellId` selector).
    pub fn shell_id(&self) -> Option<ShellId> {
        self.selectors.get("ShellId").map(ShellId::new)
    }

    pub(crate) fn decode(
        rc: &Element,
        shell: Option<&Element>,
        path: &str,
    ) -> Result<Self, DecodeError> {
        let address = rc
            .child(ns::ADDRESSING, "Address")
            .map(codec::trimmed)
            .unwrap_or_default();
        let mut out = Self {
            address,
            ..Self::default()
        };
        if let Some(rp) = rc.child(ns::ADDRESSING, "ReferenceParameters") {
            let rpp = sub(path, "ReferenceParameters");
            out.resource_uri = rp.child(ns::WSMAN, "ResourceURI").map(codec::trimmed);
            if let Some(ss) = rp.child(ns::WSMAN, "SelectorSet") {
                out.selectors = SelectorSet::decode(ss, &sub(&rpp, "SelectorSet"))?;
            }
        }
        if let Some(s) = shell {
            out.shell = Some(Shell::decode(s, "Envelope/Body/Shell")?);
        }
        Ok(out)
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.start("x:ResourceCreated");
        w.end_start();
        w.leaf("a:Address", &self.address);
        if self.resource_uri.is_some() || !self.selectors.0.is_empty() {
            w.start("a:ReferenceParameters");
            w.end_start();
            codec::opt_leaf(w, "w:ResourceURI", self.resource_uri.as_deref());
            if !self.selectors.0.is_empty() {
                self.selectors.encode(w);
            }
            w.close("a:ReferenceParameters");
        }
        w.close("x:ResourceCreated");
        if let Some(s) = &self.shell {
            s.encode(w);
        }
    }
}

/// `rsp:CommandLine` (the Command request body).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommandLine {
    /// `CommandId` attribute: PowerShell chooses the id (its pipeline id).
    pub command_id: Option<CommandId>,
    /// `rsp:Command` text (cmd: the command; PowerShell: a short text or empty).
    pub command: Option<String>,
    /// `rsp:Arguments`, raw strings as received (PowerShell: base64 PSRP fragments).
    pub arguments: Vec<String>,
}

impl CommandLine {
    /// The arguments decoded as base64 (PowerShell's CREATE_PIPELINE fragments).
    ///
    /// # Errors
    /// [`DecodeError::InvalidBase64`] if an argument is not base64.
    pub fn argument_bytes(&self) -> Result<Vec<Vec<u8>>, DecodeError> {
        self.arguments
            .iter()
            .map(|a| codec::base64(a, "CommandLine/Arguments"))
            .collect()
    }

    pub(crate) fn decode(el: &Element, _path: &str) -> Result<Self, DecodeError> {
        Ok(Self {
            command_id: el.attr("CommandId").map(|v| CommandId::new(v.trim())),
            command: el
                .child(ns::SHELL, "Command")
                .map(|c| c.text().into_owned()),
            arguments: el
                .elements()
                .filter(|e| e.is(ns::SHELL, "Arguments"))
                .map(|e| e.text().into_owned())
                .collect(),
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.start("rsp:CommandLine");
        if let Some(id) = &self.command_id {
            w.attr("CommandId", id.as_str());
        }
        w.end_start();
        codec::opt_leaf(w, "rsp:Command", self.command.as_deref());
        for a in &self.arguments {
            w.leaf("rsp:Arguments", a);
        }
        w.close("rsp:CommandLine");
    }
}

/// One `rsp:Stream` chunk (Send and ReceiveResponse).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stream {
    /// `Name` attribute: `stdin`, `pr`, `stdout`, `stderr`.
    pub name: String,
    /// `CommandId` attribute (absent for shell-level streams).
    pub command_id: Option<CommandId>,
    /// `End` attribute.
    pub end: Option<bool>,
    /// The decoded bytes.
    pub data: Vec<u8>,
}

impl Stream {
    fn decode(el: &Element, path: &str) -> Result<Self, DecodeError> {
        let name = el
            .attr("Name")
            .ok_or_else(|| DecodeError::MissingAttribute {
                path: path.to_owned(),
                name: "Name",
            })?;
        let end = match el.attr("End") {
            Some(v) => Some(codec::boolean(v, path)?),
            None => None,
        };
        Ok(Self {
            name: name.trim().to_owned(),
            command_id: el.attr("CommandId").map(|v| CommandId::new(v.trim())),
            end,
            data: codec::base64(&el.text(), path)?,
        })
    }

    fn encode(&self, w: &mut Writer) {
        w.start("rsp:Stream");
        w.attr("Name", &self.name);
        if let Some(id) = &self.command_id {
            w.attr("CommandId", id.as_str());
        }
        if let Some(e) = self.end {
            w.attr("End", codec::bool_str(e));
        }
        if self.data.is_empty() {
            w.end_empty();
        } else {
            w.end_start();
            codec::write_base64(w, &self.data);
            w.close("rsp:Stream");
        }
    }
}

fn decode_streams(el: &Element, path: &str) -> Result<Vec<Stream>, DecodeError> {
    let p = sub(path, "Stream");
    el.elements()
        .filter(|e| e.is(ns::SHELL, "Stream"))
        .map(|e| Stream::decode(e, &p))
        .collect()
}

/// `rsp:Send`: input for a command.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Send {
    /// The chunks, in order.
    pub streams: Vec<Stream>,
}

/// `rsp:Receive`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Receive {
    /// `rsp:DesiredStream CommandId=…`: absent `CommandId` targets the shell (PowerShell's
    /// RunspacePool output).
    pub command_id: Option<CommandId>,
    /// The desired stream names (`stdout stderr`, or `stdout`).
    pub streams: Vec<String>,
    /// The `SequenceId` attribute of `rsp:Receive` (MS-WSMV: a repeated one asks for
    /// the reply that was lost); some clients send it as the `p:SequenceId` header instead.
    pub sequence_id: Option<u64>,
}

/// `rsp:ReceiveResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceiveResponse {
    /// Output chunks, in order.
    pub streams: Vec<Stream>,
    /// `rsp:CommandState`, when the command's state is reported.
    pub command_state: Option<CommandStateInfo>,
}

/// `rsp:CommandState CommandId State` with its `rsp:ExitCode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandStateInfo {
    /// `CommandId` attribute.
    pub command_id: Option<CommandId>,
    /// `State` attribute.
    pub state: CommandState,
    /// `rsp:ExitCode` (present when Done). Wide enough for unsigned and signed Windows codes.
    pub exit_code: Option<i64>,
}

impl ReceiveResponse {
    /// The bytes of every chunk named `name`, concatenated.
    pub fn stream_bytes(&self, name: &str) -> Vec<u8> {
        self.streams
            .iter()
            .filter(|s| s.name == name)
            .flat_map(|s| s.data.iter().copied())
            .collect()
    }
}

/// `rsp:Signal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    /// `CommandId` attribute.
    pub command_id: Option<CommandId>,
    /// `rsp:Code`.
    pub code: SignalCode,
}

/// `rsp:Connect` (a new client attaching to a disconnected shell or command).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Connect {
    /// `CommandId` attribute: reattach that command (empty ConnectResponse).
    pub command_id: Option<CommandId>,
    /// `connectXml`: SESSION_CAPABILITY + CONNECT_RUNSPACEPOOL fragments.
    pub connect_xml: Option<Vec<u8>>,
}

/// `rsp:ConnectResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectResponse {
    /// `rsp:InputStreams`.
    pub input_streams: Option<Vec<String>>,
    /// `rsp:OutputStreams`.
    pub output_streams: Option<Vec<String>>,
    /// `connectResponseXml`: SESSION_CAPABILITY + RUNSPACEPOOL_INIT_DATA fragments.
    pub connect_response_xml: Option<Vec<u8>>,
}

/// `rsp:Disconnect`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disconnect {
    /// `rsp:IdleTimeOut` (also accepted spelled `IdleTimeout`).
    pub idle_timeout: Option<Duration>,
    /// `rsp:BufferMode`.
    pub buffer_mode: Option<BufferMode>,
}

/// Reconnect body: usually empty; may carry `BufferMode` and a `CommandId` to reconnect one
/// command (MS-PSRP 3.1.5.3.18). Encoded as `rsp:Reconnect` only when a field is set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reconnect {
    /// `CommandId` attribute.
    pub command_id: Option<CommandId>,
    /// `rsp:BufferMode`.
    pub buffer_mode: Option<BufferMode>,
}

impl Send {
    pub(crate) fn decode(el: &Element, path: &str) -> Result<Self, DecodeError> {
        Ok(Self {
            streams: decode_streams(el, path)?,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.start("rsp:Send");
        w.end_start();
        for s in &self.streams {
            s.encode(w);
        }
        w.close("rsp:Send");
    }
}

impl Receive {
    pub(crate) fn decode(el: &Element, path: &str) -> Result<Self, DecodeError> {
        let ds = el
            .child(ns::SHELL, "DesiredStream")
            .ok_or_else(|| DecodeError::missing(path, "DesiredStream"))?;
        let sequence_id = match el.attr("SequenceId") {
            Some(v) => Some(codec::number(v, path, "SequenceId")?),
            None => None,
        };
        Ok(Self {
            command_id: ds.attr("CommandId").map(|v| CommandId::new(v.trim())),
            streams: codec::streams(&ds.text()),
            sequence_id,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.start("rsp:Receive");
        if let Some(n) = self.sequence_id {
            w.attr("SequenceId", &n.to_string());
        }
        w.end_start();
        w.start("rsp:DesiredStream");
        if let Some(id) = &self.command_id {
            w.attr("CommandId", id.as_str());
        }
        w.end_start();
        w.text(&self.streams.join(" "));
        w.close("rsp:DesiredStream");
        w.close("rsp:Receive");
    }
}

impl ReceiveResponse {
    pub(crate) fn decode(el: &Element, path: &str) -> Result<Self, DecodeError> {
        let mut command_state = None;
        if let Some(cs) = el.child(ns::SHELL, "CommandState") {
            let p = sub(path, "CommandState");
            let state = cs
                .attr("State")
                .ok_or_else(|| DecodeError::MissingAttribute {
                    path: p.clone(),
                    name: "State",
                })?;
            let exit_code = match cs.child(ns::SHELL, "ExitCode") {
                Some(e) => Some(codec::number(&e.text(), &sub(&p, "ExitCode"), "integer")?),
                None => None,
            };
            command_state = Some(CommandStateInfo {
                command_id: cs.attr("CommandId").map(|v| CommandId::new(v.trim())),
                state: CommandState::parse(state),
                exit_code,
            });
        }
        Ok(Self {
            streams: decode_streams(el, path)?,
            command_state,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.start("rsp:ReceiveResponse");
        w.end_start();
        for s in &self.streams {
            s.encode(w);
        }
        if let Some(cs) = &self.command_state {
            w.start("rsp:CommandState");
            if let Some(id) = &cs.command_id {
                w.attr("CommandId", id.as_str());
            }
            w.attr("State", cs.state.as_str());
            match cs.exit_code {
                Some(code) => {
                    w.end_start();
                    w.leaf("rsp:ExitCode", &code.to_string());
                    w.close("rsp:CommandState");
                }
                None => w.end_empty(),
            }
        }
        w.close("rsp:ReceiveResponse");
    }
}

impl Signal {
    pub(crate) fn decode(el: &Element, path: &str) -> Result<Self, DecodeError> {
        let code = el
            .child(ns::SHELL, "Code")
            .ok_or_else(|| DecodeError::missing(path, "Code"))?;
        Ok(Self {
            command_id: el.attr("CommandId").map(|v| CommandId::new(v.trim())),
            code: SignalCode::parse(&code.text()),
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.start("rsp:Signal");
        if let Some(id) = &self.command_id {
            w.attr("CommandId", id.as_str());
        }
        w.end_start();
        w.leaf("rsp:Code", self.code.as_str());
        w.close("rsp:Signal");
    }
}

impl Connect {
    pub(crate) fn decode(el: &Element, path: &str) -> Result<Self, DecodeError> {
        let connect_xml = match el.child(ns::POWERSHELL, "connectXml") {
            Some(x) => Some(codec::base64(&x.text(), &sub(path, "connectXml"))?),
            None => None,
        };
        Ok(Self {
            command_id: el.attr("CommandId").map(|v| CommandId::new(v.trim())),
            connect_xml,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.start("rsp:Connect");
        if let Some(id) = &self.command_id {
            w.attr("CommandId", id.as_str());
        }
        match &self.connect_xml {
            Some(x) => {
                w.end_start();
                w.start("connectXml");
                w.attr("xmlns", ns::POWERSHELL);
                w.end_start();
                codec::write_base64(w, x);
                w.close("connectXml");
                w.close("rsp:Connect");
            }
            None => w.end_empty(),
        }
    }
}

impl ConnectResponse {
    pub(crate) fn decode(el: &Element, path: &str) -> Result<Self, DecodeError> {
        let connect_response_xml = match el.child(ns::POWERSHELL, "connectResponseXml") {
            Some(x) => Some(codec::base64(&x.text(), &sub(path, "connectResponseXml"))?),
            None => None,
        };
        Ok(Self {
            input_streams: el
                .child(ns::SHELL, "InputStreams")
                .map(|e| codec::streams(&e.text())),
            output_streams: el
                .child(ns::SHELL, "OutputStreams")
                .map(|e| codec::streams(&e.text())),
            connect_response_xml,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.start("rsp:ConnectResponse");
        w.end_start();
        codec::opt_leaf(
            w,
            "rsp:InputStreams",
            self.input_streams.as_ref().map(|v| v.join(" ")).as_deref(),
        );
        codec::opt_leaf(
            w,
            "rsp:OutputStreams",
            self.output_streams.as_ref().map(|v| v.join(" ")).as_deref(),
        );
        if let Some(x) = &self.connect_response_xml {
            w.start("connectResponseXml");
            w.attr("xmlns", ns::POWERSHELL);
            w.end_start();
            codec::write_base64(w, x);
            w.close("connectResponseXml");
        }
        w.close("rsp:ConnectResponse");
    }
}

impl Disconnect {
    pub(crate) fn decode(el: &Element, path: &str) -> Result<Self, DecodeError> {
        let idle = el
            .child(ns::SHELL, "IdleTimeOut")
            .or_else(|| el.child(ns::SHELL, "IdleTimeout"));
        let idle_timeout = match idle {
            Some(i) => Some(codec::duration(&i.text(), &sub(path, "IdleTimeOut"))?),
            None => None,
        };
        Ok(Self {
            idle_timeout,
            buffer_mode: el
                .child(ns::SHELL, "BufferMode")
                .map(|b| BufferMode::parse(&b.text())),
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.start("rsp:Disconnect");
        if self.idle_timeout.is_none() && self.buffer_mode.is_none() {
            w.end_empty();
            return;
        }
        w.end_start();
        codec::opt_leaf(
            w,
            "rsp:BufferMode",
            self.buffer_mode.as_ref().map(BufferMode::as_str),
        );
        codec::opt_leaf(
            w,
            "rsp:IdleTimeOut",
            self.idle_timeout.map(duration::format_shell).as_deref(),
        );
        w.close("rsp:Disconnect");
    }
}

impl Reconnect {
    pub(crate) fn decode(el: Option<&Element>) -> Self {
        let Some(el) = el else {
            return Self::default();
        };
        Self {
            command_id: el.attr("CommandId").map(|v| CommandId::new(v.trim())),
            buffer_mode: el
                .child(ns::SHELL, "BufferMode")
                .map(|b| BufferMode::parse(&b.text())),
        }
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        if self.command_id.is_none() && self.buffer_mode.is_none() {
            return;
        }
        w.start("rsp:Reconnect");
        if let Some(id) = &self.command_id {
            w.attr("CommandId", id.as_str());
        }
        match &self.buffer_mode {
            Some(b) => {
                w.end_start();
                w.leaf("rsp:BufferMode", b.as_str());
                w.close("rsp:Reconnect");
            }
            None => w.end_empty(),
        }
    }
}

#[cfg(test)]
mod reconnect_tests {
    use super::{BufferMode, Reconnect};
    use crate::{Action, Body, CommandId, Envelope, MessageId};

    const RECONNECT_WITH_MODE: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header><a:To>http://server:5985/wsman</a:To><w:ResourceURI s:mustUnderstand="true">http://schemas.microsoft.com/powershell/Microsoft.PowerShell</w:ResourceURI><a:Action s:mustUnderstand="true">http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Reconnect</a:Action><a:MessageID>uuid:1</a:MessageID><w:SelectorSet><w:Selector Name="ShellId">S</w:Selector></w:SelectorSet></s:Header><s:Body><rsp:Reconnect xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><rsp:BufferMode> Drop </rsp:BufferMode></rsp:Reconnect></s:Body></s:Envelope>"#;

    fn reconnect_envelope(body: Reconnect) -> Envelope {
        Envelope::request(
            Action::Reconnect,
            "http://schemas.microsoft.com/powershell/Microsoft.PowerShell",
            MessageId::new("uuid:1"),
        )
        .body(Body::Reconnect(body))
    }

    #[test]
    fn a_reconnect_body_with_only_a_buffer_mode_decodes() {
        let env = Envelope::decode(RECONNECT_WITH_MODE).expect("decodes");
        let Body::Reconnect(r) = env.body else {
            panic!("not a Reconnect: {:?}", env.body)
        };
        assert_eq!(r.buffer_mode, Some(BufferMode::Drop));
        assert_eq!(r.command_id, None);
    }

    #[test]
    fn a_reconnect_body_with_only_a_buffer_mode_round_trips() {
        let env = reconnect_envelope(Reconnect {
            command_id: None,
            buffer_mode: Some(BufferMode::Drop),
        });
        let xml = env.encode();
        assert!(
            xml.contains("<rsp:BufferMode>Drop</rsp:BufferMode></rsp:Reconnect>"),
            "{xml}"
        );
        assert!(!xml.contains("CommandId="), "{xml}");
        assert_eq!(Envelope::decode(&xml).expect("decodes"), env, "{xml}");
        // With a CommandId too, both survive.
        let env = reconnect_envelope(Reconnect {
            command_id: Some(CommandId::new("C1")),
            buffer_mode: Some(BufferMode::Block),
        });
        let xml = env.encode();
        assert_eq!(Envelope::decode(&xml).expect("decodes"), env, "{xml}");
        // Nothing to carry: no rsp:Reconnect element at all.
        let xml = reconnect_envelope(Reconnect::default()).encode();
        assert!(!xml.contains("rsp:Reconnect"), "{xml}");
        assert!(!xml.contains("BufferMode"), "{xml}");
    }
}
