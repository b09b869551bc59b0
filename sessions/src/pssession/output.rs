//! What a pipeline produces: one [`StreamItem`] per record of the seven PowerShell streams (plus
//! host writes), and [`InvokeOutput`], everything of one finished pipeline.

use psrp::clixml::{PsObject, Value};
use psrp::messages::Payload;
use psrp::records::{ErrorRecord, ProgressRecord, PsInvocationState};
use wsman::CommandId;

/// One record from a running pipeline, in arrival order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamItem {
    /// An output object (`PIPELINE_OUTPUT`).
    Output(Value),
    /// An error record (`ERROR_RECORD`).
    Error(ErrorRecord),
    /// A warning message.
    Warning(String),
    /// A verbose message.
    Verbose(String),
    /// A debug message.
    Debug(String),
    /// An information record's message data, as text.
    Information(String),
    /// A progress record.
    Progress(ProgressRecord),
    /// Text the remote side wrote to the host (`Write-Host`, `WriteLine` host calls).
    Host(String),
}

impl StreamItem {
    /// Converts a pipeline stream payload; `None` for payloads that are not stream records.
    pub(crate) fn from_payload(payload: Payload) -> Option<Self> {
        Some(match payload {
            Payload::PipelineOutput(v) => Self::Output(v),
            Payload::ErrorRecord(e) => Self::Error(e),
            Payload::WarningRecord(r) => Self::Warning(r.message().to_owned()),
            Payload::VerboseRecord(r) => Self::Verbose(r.message().to_owned()),
            Payload::DebugRecord(r) => Self::Debug(r.message().to_owned()),
            Payload::InformationRecord(r) => Self::Information(value_text(r.message_data())),
            Payload::ProgressRecord(p) => Self::Progress(p),
            _ => return None,
        })
    }
}

/// Everything one pipeline produced, once it ended (or as far as it was received).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvokeOutput {
    /// The command (pipeline) id.
    pub command_id: CommandId,
    /// Output objects.
    pub output: Vec<Value>,
    /// Error records.
    pub errors: Vec<ErrorRecord>,
    /// Warning messages.
    pub warnings: Vec<String>,
    /// Verbose messages.
    pub verbose: Vec<String>,
    /// Debug messages.
    pub debug: Vec<String>,
    /// Information messages.
    pub information: Vec<String>,
    /// Progress records.
    pub progress: Vec<ProgressRecord>,
    /// Host writes.
    pub host: Vec<String>,
    /// The final (or last known) invocation state.
    pub state: PsInvocationState,
    /// The reason of a Failed or Stopped pipeline.
    pub reason: Option<ErrorRecord>,
}

impl InvokeOutput {
    /// Nothing received yet for `command_id` (state Running).
    pub fn empty(command_id: CommandId) -> Self {
        Self {
            command_id,
            output: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            verbose: Vec::new(),
            debug: Vec::new(),
            information: Vec::new(),
            progress: Vec::new(),
            host: Vec::new(),
            state: PsInvocationState::RUNNING,
            reason: None,
        }
    }

    /// Files one item under its stream.
    pub fn push(&mut self, item: StreamItem) {
        match item {
            StreamItem::Output(v) => self.output.push(v),
            StreamItem::Error(e) => self.errors.push(e),
            StreamItem::Warning(m) => self.warnings.push(m),
            StreamItem::Verbose(m) => self.verbose.push(m),
            StreamItem::Debug(m) => self.debug.push(m),
            StreamItem::Information(m) => self.information.push(m),
            StreamItem::Progress(p) => self.progress.push(p),
            StreamItem::Host(m) => self.host.push(m),
        }
    }

    /// The output objects as text, one per line (see [`value_text`]).
    pub fn output_lines(&self) -> Vec<String> {
        self.output.iter().map(value_text).collect()
    }

    /// Whether the pipeline completed (not failed, not stopped, not still running).
    pub fn is_completed(&self) -> bool {
        self.state == PsInvocationState::COMPLETED
    }
}

/// A plain-text rendering of a deserialized value, roughly what `Out-String` prints for simple
/// values: strings as they are, numbers and booleans as PowerShell writes them, objects by their
/// `ToString`, else `Name=Value` pairs of their properties.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::Nil => String::new(),
        Value::String(s) => s.clone(),
        Value::Char(c) => char::from_u32(u32::from(*c)).map_or_else(String::new, String::from),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::DateTime(s) | Value::Duration(s) | Value::Decimal(s) => s.clone(),
        Value::U8(n) => n.to_string(),
        Value::I8(n) => n.to_string(),
        Value::U16(n) => n.to_string(),
        Value::I16(n) => n.to_string(),
        Value::U32(n) => n.to_string(),
        Value::I32(n) => n.to_string(),
        Value::U64(n) => n.to_string(),
        Value::I64(n) => n.to_string(),
        Value::Single(n) => n.to_string(),
        Value::Double(n) => n.to_string(),
        Value::Bytes(b) => format!("{b:?}"),
        Value::Guid(g) => g.to_string(),
        Value::Uri(s) | Value::Version(s) | Value::XmlDocument(s) | Value::ScriptBlock(s) => {
            s.clone()
        }
        Value::SecureString(_) => "System.Security.SecureString".into(),
        Value::ProgressRecord(p) => p.activity.clone(),
        Value::Object(o) => object_text(o),
    }
}

fn object_text(o: &PsObject) -> String {
    if let Some(s) = &o.to_string {
        return s.clone();
    }
    if let Some(v) = &o.value {
        return value_text(v);
    }
    if let Some(items) = o.list() {
        return items.iter().map(value_text).collect::<Vec<_>>().join(" ");
    }
    o.adapted
        .iter()
        .chain(&o.extended)
        .map(|p| format!("{}={}", p.name, value_text(&p.value)))
        .collect::<Vec<_>>()
        .join("; ")
}
