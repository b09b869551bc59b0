//! Typed bodies of every PSRP message type (MS-PSRP 2.2.2).
//!
//! [`Payload::decode`] turns a message type plus its CLIXML body into a typed payload;
//! [`Payload::encode`] gives the body back. Types this crate does not know decode to
//! [`Payload::Unknown`] with their CLIXML value, so they pass through unchanged.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use uuid::Uuid;

use crate::clixml::{self, PsObject, Value};
use crate::message::MessageType;
pub use crate::records::PayloadError;
use crate::records::{
    ApartmentState, ErrorRecord, Fields, HostInfo, InformationRecord, InformationalRecord,
    PowerShellPipeline, ProgressRecord, PsInvocationState, PsPrimitiveDictionary, PsThreadOptions,
    RemoteHostMethodId, RemoteStreamOptions, RunspacePoolState,
};

/// A message body with a fixed message type.
pub trait PsrpMessage: Sized {
    /// The message type this body belongs to.
    const TYPE: MessageType;

    /// The CLIXML value of the body.
    fn to_value(&self) -> Value;

    /// Reads the body from its CLIXML value.
    ///
    /// # Errors
    ///
    /// [`PayloadError`] when the value does not have this message's shape.
    fn from_value(value: &Value) -> Result<Self, PayloadError>;
}

/// SESSION_CAPABILITY (MS-PSRP 2.2.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCapability {
    /// `protocolversion` (`2.3`).
    pub protocol_version: String,
    /// `PSVersion` (`2.0`).
    pub ps_version: String,
    /// `SerializationVersion` (`1.1.0.1`).
    pub serialization_version: String,
    /// `TimeZone`: the client's serialized time zone, when sent.
    pub time_zone: Option<Vec<u8>>,
}

impl Default for SessionCapability {
    /// The versions Windows PowerShell 5.1 announces.
    fn default() -> Self {
        Self {
            protocol_version: "2.3".into(),
            ps_version: "2.0".into(),
            serialization_version: "1.1.0.1".into(),
            time_zone: None,
        }
    }
}

impl PsrpMessage for SessionCapability {
    const TYPE: MessageType = MessageType::SESSION_CAPABILITY;

    fn to_value(&self) -> Value {
        let mut obj = PsObject::new()
            .with_member(
                "protocolversion",
                Value::Version(self.protocol_version.clone()),
            )
            .with_member("PSVersion", Value::Version(self.ps_version.clone()))
            .with_member(
                "SerializationVersion",
                Value::Version(self.serialization_version.clone()),
            );
        if let Some(tz) = &self.time_zone {
            obj = obj.with_member("TimeZone", Value::Bytes(tz.clone()));
        }
        obj.into()
    }

    fn from_value(value: &Value) -> Result<Self, PayloadError> {
        let f = Fields::of(value, "SESSION_CAPABILITY")?;
        let version = |name| f.get(name, |v: &Value| v.as_version().map(str::to_owned));
        Ok(Self {
            protocol_version: version("protocolversion")?,
            ps_version: version("PSVersion")?,
            serialization_version: version("SerializationVersion")?,
            time_zone: f.opt("TimeZone", |v| v.as_bytes().map(<[u8]>::to_vec))?,
        })
    }
}

/// INIT_RUNSPACEPOOL (MS-PSRP 2.2.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitRunspacePool {
    /// `MinRunspaces`.
    pub min_runspaces: i32,
    /// `MaxRunspaces`.
    pub max_runspaces: i32,
    /// `PSThreadOptions`.
    pub thread_options: PsThreadOptions,
    /// `ApartmentState`.
    pub apartment_state: ApartmentState,
    /// `HostInfo`.
    pub host_info: HostInfo,
    /// `ApplicationArguments`, nil when none.
    pub application_arguments: Option<PsPrimitiveDictionary>,
}

impl PsrpMessage for InitRunspacePool {
    const TYPE: MessageType = MessageType::INIT_RUNSPACEPOOL;

    fn to_value(&self) -> Value {
        PsObject::new()
            .with_member("MinRunspaces", self.min_runspaces)
            .with_member("MaxRunspaces", self.max_runspaces)
            .with_member("PSThreadOptions", self.thread_options)
            .with_member("ApartmentState", self.apartment_state)
            .with_member("HostInfo", self.host_info.to_value())
            .with_member(
                "ApplicationArguments",
                self.application_arguments
                    .as_ref()
                    .map(PsPrimitiveDictionary::to_value),
            )
            .into()
    }

    fn from_value(value: &Value) -> Result<Self, PayloadError> {
        let f = Fields::of(value, "INIT_RUNSPACEPOOL")?;
        Ok(Self {
            min_runspaces: f.i32("MinRunspaces")?,
            max_runspaces: f.i32("MaxRunspaces")?,
            thread_options: f.get("PSThreadOptions", PsThreadOptions::from_value)?,
            apartment_state: f.get("ApartmentState", ApartmentState::from_value)?,
            host_info: HostInfo::from_value(f.value("HostInfo")?)?,
            application_arguments: f
                .non_nil("ApplicationArguments")
                .map(PsPrimitiveDictionary::from_value)
                .transpose()?,
        })
    }
}

macro_rules! key_message {
    ($(#[$meta:meta])* $name:ident, $field:ident, $prop:literal, $ty:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            #[doc = concat!("`", $prop, "`, decoded from base64.")]
            pub $field: Vec<u8>,
        }

        impl PsrpMessage for $name {
            const TYPE: MessageType = MessageType::$ty;

            fn to_value(&self) -> Value {
                PsObject::new()
                    .with_member($prop, BASE64.encode(&self.$field))
                    .into()
            }

            fn from_value(value: &Value) -> Result<Self, PayloadError> {
                let f = Fields::of(value, stringify!($ty))?;
                let $field = f.get($prop, |v| BASE64.decode(v.as_str()?).ok())?;
                Ok(Self { $field })
            }
        }
    };
}

key_message! {
    /// PUBLIC_KEY (MS-PSRP 2.2.2.3): the client's RSA public key blob.
    PublicKey, public_key, "PublicKey", PUBLIC_KEY
}

key_message! {
    /// ENCRYPTED_SESSION_KEY (MS-PSRP 2.2.2.4): the session key encrypted to the client's key.
    EncryptedSessionKey, encrypted_session_key, "EncryptedSessionKey", ENCRYPTED_SESSION_KEY
}

/// CONNECT_RUNSPACEPOOL (MS-PSRP 2.2.2.29): an empty string (bare or inside `<MS>`), or the
/// pool size to apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectRunspacePool {
    /// `MinRunspaces`, when sent.
    pub min_runspaces: Option<i32>,
    /// `MaxRunspaces`, when sent.
    pub max_runspaces: Option<i32>,
}

impl PsrpMessage for ConnectRunspacePool {
    const TYPE: MessageType = MessageType::CONNECT_RUNSPACEPOOL;

    fn to_value(&self) -> Value {
        if self.min_runspaces.is_none() && self.max_runspaces.is_none() {
            return Value::string("");
        }
        let mut obj = PsObject::new();
        if let Some(min) = self.min_runspaces {
            obj = obj.with_member("MinRunspaces", min);
        }
        if let Some(max) = self.max_runspaces {
            obj = obj.with_member("MaxRunspaces", max);
        }
        obj.into()
    }

    fn from_value(value: &Value) -> Result<Self, PayloadError> {
        if value.as_str().is_some() {
            return Ok(Self::default());
        }
        let f = Fields::of(value, "CONNECT_RUNSPACEPOOL")?;
        Ok(Self {
            min_runspaces: f.opt("MinRunspaces", Value::as_i32)?,
            max_runspaces: f.opt("MaxRunspaces", Value::as_i32)?,
        })
    }
}

/// RUNSPACEPOOL_INIT_DATA (MS-PSRP 2.2.2.30).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunspacePoolInitData {
    /// `MinRunspaces`.
    pub min_runspaces: i32,
    /// `MaxRunspaces`.
    pub max_runspaces: i32,
}

impl PsrpMessage for RunspacePoolInitData {
    const TYPE: MessageType = MessageType::RUNSPACEPOOL_INIT_DATA;

    fn to_value(&self) -> Value {
        PsObject::new()
            .with_member("MinRunspaces", self.min_runspaces)
            .with_member("MaxRunspaces", self.max_runspaces)
            .into()
    }

    fn from_value(value: &Value) -> Result<Self, PayloadError> {
        let f = Fields::of(value, "RUNSPACEPOOL_INIT_DATA")?;
        Ok(Self {
            min_runspaces: f.i32("MinRunspaces")?,
            max_runspaces: f.i32("MaxRunspaces")?,
        })
    }
}

/// SET_MAX_RUNSPACES (MS-PSRP 2.2.2.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetMaxRunspaces {
    /// `MaxRunspaces`.
    pub max_runspaces: i32,
    /// `CI`: call id echoed in RUNSPACE_AVAILABILITY.
    pub call_id: i64,
}

impl PsrpMessage for SetMaxRunspaces {
    const TYPE: MessageType = MessageType::SET_MAX_RUNSPACES;

    fn to_value(&self) -> Value {
        PsObject::new()
            .with_member("MaxRunspaces", self.max_runspaces)
            .with_member("CI", self.call_id)
            .into()
    }

    fn from_value(value: &Value) -> Result<Self, PayloadError> {
        let f = Fields::of(value, "SET_MAX_RUNSPACES")?;
        Ok(Self {
            max_runspaces: f.i32("MaxRunspaces")?,
            call_id: f.i64("CI")?,
        })
    }
}

/// SET_MIN_RUNSPACES (MS-PSRP 2.2.2.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetMinRunspaces {
    /// `MinRunspaces`.
    pub min_runspaces: i32,
    /// `CI`: call id echoed in RUNSPACE_AVAILABILITY.
    pub call_id: i64,
}

impl PsrpMessage for SetMinRunspaces {
    const TYPE: MessageType = MessageType::SET_MIN_RUNSPACES;

    fn to_value(&self) -> Value {
        PsObject::new()
            .with_member("MinRunspaces", self.min_runspaces)
            .with_member("CI", self.call_id)
            .into()
    }

    fn from_value(value: &Value) -> Result<Self, PayloadError> {
        let f = Fields::of(value, "SET_MIN_RUNSPACES")?;
        Ok(Self {
            min_runspaces: f.i32("MinRunspaces")?,
            call_id: f.i64("CI")?,
        })
    }
}

/// The answer carried by RUNSPACE_AVAILABILITY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AvailabilityResponse {
    /// `<B>`: whether SET_MAX/SET_MIN_RUNSPACES or RESET_RUNSPACE_STATE succeeded.
    Success(bool),
    /// `<I64>`: available runspaces (GET_AVAILABLE_RUNSPACES), per the spec.
    Count(i64),
    /// `<I32>`: available runspaces as Windows actually sends them.
    Count32(i32),
}

/// RUNSPACE_AVAILABILITY (MS-PSRP 2.2.2.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunspaceAvailability {
    /// `SetMinMaxRunspacesResponse`.
    pub response: AvailabilityResponse,
    /// `ci`: the call id of the request.
    pub call_id: i64,
}

impl PsrpMessage for RunspaceAvailability {
    const TYPE: MessageType = MessageType::RUNSPACE_AVAILABILITY;

    fn to_value(&self) -> Value {
        let response = match self.response {
            AvailabilityResponse::Success(b) => Value::Bool(b),
            AvailabilityResponse::Count(n) => Value::I64(n),
            AvailabilityResponse::Count32(n) => Value::I32(n),
        };
        PsObject::new()
            .with_member("SetMinMaxRunspacesResponse", response)
            .with_member("ci", self.call_id)
            .into()
    }

    fn from_value(value: &Value) -> Result<Self, PayloadError> {
        let f = Fields::of(value, "RUNSPACE_AVAILABILITY")?;
        let response = f.get("SetMinMaxRunspacesResponse", |v| match v {
            Value::Bool(b) => Some(AvailabilityResponse::Success(*b)),
            Value::I64(n) => Some(AvailabilityResponse::Count(*n)),
            Value::I32(n) => Some(AvailabilityResponse::Count32(*n)),
            _ => None,
        })?;
        Ok(Self {
            response,
            call_id: f.i64("ci")?,
        })
    }
}

/// RUNSPACEPOOL_STATE (MS-PSRP 2.2.2.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunspacePoolStateInfo {
    /// `RunspaceState`.
    pub state: RunspacePoolState,
    /// `ExceptionAsErrorRecord`, when the pool broke or failed to open.
    pub error: Option<ErrorRecord>,
}

impl PsrpMessage for RunspacePoolStateInfo {
    const TYPE: MessageType = MessageType::RUNSPACEPOOL_STATE;

    fn to_value(&self) -> Value {
        let mut obj = PsObject::new().with_member("RunspaceState", self.state.0);
        if let Some(error) = &self.error {
            obj = obj.with_member("ExceptionAsErrorRecord", error.to_value());
        }
        obj.into()
    }

    fn from_value(value: &Value) -> Result<Self, PayloadError> {
        let f = Fields::of(value, "RUNSPACEPOOL_STATE")?;
        Ok(Self {
            state: RunspacePoolState(f.i32("RunspaceState")?),
            error: f
                .non_nil("ExceptionAsErrorRecord")
                .map(ErrorRecord::from_value)
                .transpose()?,
        })
    }
}

/// PIPELINE_STATE (MS-PSRP 2.2.2.21).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineStateInfo {
    /// `PipelineState`.
    pub state: PsInvocationState,
    /// `ExceptionAsErrorRecord`, when the pipeline failed or was stopped.
    pub error: Option<ErrorRecord>,
}

impl PsrpMessage for PipelineStateInfo {
    const TYPE: MessageType = MessageType::PIPELINE_STATE;

    fn to_value(&self) -> Value {
        let mut obj = PsObject::new().with_member("PipelineState", self.state.0);
        if let Some(error) = &self.error {
            obj = obj.with_member("ExceptionAsErrorRecord", error.to_value());
        }
        obj.into()
    }

    fn from_value(value: &Value) -> Result<Self, PayloadError> {
        let f = Fields::of(value, "PIPELINE_STATE")?;
        Ok(Self {
            state: PsInvocationState(f.i32("PipelineState")?),
            error: f
                .non_nil("ExceptionAsErrorRecord")
                .map(ErrorRecord::from_value)
                .transpose()?,
        })
    }
}

/// A request that carries only a call id (`ci`): GET_AVAILABLE_RUNSPACES (2.2.2.11),
/// RESET_RUNSPACE_STATE (2.2.2.31).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallId {
    /// `ci`.
    pub call_id: i64,
}

impl CallId {
    /// The CLIXML value.
    pub fn to_value(self) -> Value {
        PsObject::new().with_member("ci", self.call_id).into()
    }

    /// Reads the CLIXML value.
    ///
    /// # Errors
    ///
    /// [`PayloadError`] without an `<I64 N="ci">`.
    pub fn from_value(value: &Value) -> Result<Self, PayloadError> {
        Ok(Self {
            call_id: Fields::of(value, "call id message")?.i64("ci")?,
        })
    }
}

/// USER_EVENT (MS-PSRP 2.2.2.12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEvent {
    /// `PSEventArgs.EventIdentifier`.
    pub event_identifier: i32,
    /// `PSEventArgs.SourceIdentifier`.
    pub source_identifier: String,
    /// `PSEventArgs.TimeGenerated` (`<DT>` text).
    pub time_generated: String,
    /// `PSEventArgs.Sender`.
    pub sender: Value,
    /// `PSEventArgs.SourceArgs`.
    pub source_args: Value,
    /// `PSEventArgs.MessageData`.
    pub message_data: Value,
    /// `PSEventArgs.ComputerName`.
    pub computer_name: Option<String>,
    /// `PSEventArgs.RunspaceId`.
    pub runspace_id: Uuid,
}

impl PsrpMessage for UserEvent {
    const TYPE: MessageType = MessageType::USER_EVENT;

    fn to_value(&self) -> Value {
        PsObject::new()
            .with_member("PSEventArgs.EventIdentifier", self.event_identifier)
            .with_member(
                "PSEventArgs.SourceIdentifier",
                self.source_identifier.as_str(),
            )
            .with_member(
                "PSEventArgs.TimeGenerated",
                Value::DateTime(self.time_generated.clone()),
            )
            .with_member("PSEventArgs.Sender", self.sender.clone())
            .with_member("PSEventArgs.SourceArgs", self.source_args.clone())
            .with_member("PSEventArgs.MessageData", self.message_data.clone())
            .with_member("PSEventArgs.ComputerName", self.computer_name.clone())
            .with_member("PSEventArgs.RunspaceId", Value::Guid(self.runspace_id))
            .into()
    }

    fn from_value(value: &Value) -> Result<Self, PayloadError> {
        let f = Fields::of(value, "USER_EVENT")?;
        // Sender, SourceArgs and MessageData are arbitrary objects; absent reads as nil.
        let any = |name| -> Result<Value, PayloadError> {
            Ok(f.opt_value(name).cloned().unwrap_or(Value::Nil))
        };
        Ok(Self {
            event_identifier: f.i32("PSEventArgs.EventIdentifier")?,
            source_identifier: f.string("PSEventArgs.SourceIdentifier")?,
            time_generated: f.get("PSEventArgs.TimeGenerated", |v| match v {
                Value::DateTime(t) => Some(t.clone()),
                _ => None,
            })?,
            sender: any("PSEventArgs.Sender")?,
            source_args: any("PSEventArgs.SourceArgs")?,
            message_data: any("PSEventArgs.MessageData")?,
            computer_name: f.opt_string("PSEventArgs.ComputerName")?,
            runspace_id: f.get("PSEventArgs.RunspaceId", Value::as_guid)?,
        })
    }
}

/// APPLICATION_PRIVATE_DATA (MS-PSRP 2.2.2.13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationPrivateData {
    /// `ApplicationPrivateData`, holding `PSVersionTable` among others.
    pub data: PsPrimitiveDictionary,
}

impl PsrpMessage for ApplicationPrivateData {
    const TYPE: MessageType = MessageType::APPLICATION_PRIVATE_DATA;

    fn to_value(&self) -> Value {
        PsObject::new()
            .with_member("ApplicationPrivateData", self.data.to_value())
            .into()
    }

    fn from_value(value: &Value) -> Result<Self, PayloadError> {
        let f = Fields::of(value, "APPLICATION_PRIVATE_DATA")?;
        Ok(Self {
            data: PsPrimitiveDictionary::from_value(f.value("ApplicationPrivateData")?)?,
        })
    }
}

/// GET_COMMAND_METADATA (MS-PSRP 2.2.2.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetCommandMetadata {
    /// `Name`: command name patterns.
    pub names: Vec<String>,
    /// `CommandType` flags (`CommandTypes`), as an integer.
    pub command_type: i32,
    /// `Namespace`: module names, nil when any.
    pub namespace: Option<Vec<String>>,
    /// `ArgumentList`, nil when none.
    pub argument_list: Option<Vec<Value>>,
}

impl PsrpMessage for GetCommandMetadata {
    const TYPE: MessageType = MessageType::GET_COMMAND_METADATA;

    fn to_value(&self) -> Value {
        let strings = |type_name: &str, items: &[String]| {
            Value::object(
                PsObject::new()
                    .with_type_names([type_name, "System.Array", "System.Object"])
                    .with_container(clixml::Container::List(
                        items.iter().map(|s| Value::string(s.as_str())).collect(),
                    )),
            )
        };
        let args = self.argument_list.as_ref().map(|args| {
            Value::object(
                PsObject::new()
                    .with_type_names(["System.Object[]", "System.Array", "System.Object"])
                    .with_container(clixml::Container::List(args.clone())),
            )
        });
        PsObject::new()
            .with_member("Name", strings("System.String[]", &self.names))
            .with_member("CommandType", self.command_type)
            .with_member(
                "Namespace",
                self.namespace
                    .as_deref()
                    .map(|n| strings("System.Object[]", n)),
            )
            .with_member("ArgumentList", args)
            .into()
    }

    fn from_value(value: &Value) -> Result<Self, PayloadError> {
        let f = Fields::of(value, "GET_COMMAND_METADATA")?;
        let strings = |v: &Value| -> Option<Vec<String>> {
            v.as_list()?
                .iter()
                .map(|s| s.as_str().map(str::to_owned))
                .collect()
        };
        Ok(Self {
            names: f.get("Name", strings)?,
            command_type: f.i32("CommandType")?,
            namespace: f.opt("Namespace", strings)?,
            argument_list: f.opt("ArgumentList", |v| v.as_list().map(<[Value]>::to_vec))?,
        })
    }
}

/// CREATE_PIPELINE (MS-PSRP 2.2.2.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatePipeline {
    /// `NoInput`: no PIPELINE_INPUT will follow.
    pub no_input: bool,
    /// `ApartmentState`.
    pub apartment_state: ApartmentState,
    /// `RemoteStreamOptions`.
    pub remote_stream_options: RemoteStreamOptions,
    /// `AddToHistory`.
    pub add_to_history: bool,
    /// `HostInfo`.
    pub host_info: HostInfo,
    /// `PowerShell`: the commands.
    pub power_shell: PowerShellPipeline,
    /// `IsNested`.
    pub is_nested: bool,
}

impl PsrpMessage for CreatePipeline {
    const TYPE: MessageType = MessageType::CREATE_PIPELINE;

    fn to_value(&self) -> Value {
        PsObject::new()
            .with_member("NoInput", self.no_input)
            .with_member("ApartmentState", self.apartment_state)
            .with_member("RemoteStreamOptions", self.remote_stream_options)
            .with_member("AddToHistory", self.add_to_history)
            .with_member("HostInfo", self.host_info.to_value())
            .with_member("PowerShell", self.power_shell.to_value())
            .with_member("IsNested", self.is_nested)
            .into()
    }

    fn from_value(value: &Value) -> Result<Self, PayloadError> {
        let f = Fields::of(value, "CREATE_PIPELINE")?;
        Ok(Self {
            no_input: f.bool("NoInput")?,
            apartment_state: f.get("ApartmentState", ApartmentState::from_value)?,
            remote_stream_options: f.get("RemoteStreamOptions", RemoteStreamOptions::from_value)?,
            add_to_history: f.bool("AddToHistory")?,
            host_info: HostInfo::from_value(f.value("HostInfo")?)?,
            power_shell: PowerShellPipeline::from_value(f.value("PowerShell")?)?,
            is_nested: f.bool("IsNested")?,
        })
    }
}

/// RUNSPACEPOOL_HOST_CALL / PIPELINE_HOST_CALL (MS-PSRP 2.2.2.15, 2.2.2.27).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCall {
    /// `ci`: call id; -100 means no response is expected.
    pub call_id: i64,
    /// `mi`: the host method.
    pub method: RemoteHostMethodId,
    /// `mp`: the method's parameters.
    pub parameters: Vec<Value>,
}

impl HostCall {
    /// Call id of calls that expect no response.
    pub const NO_RESPONSE: i64 = -100;

    /// The CLIXML value.
    pub fn to_value(&self) -> Value {
        let params = PsObject::new()
            .with_type_names(["System.Collections.ArrayList", "System.Object"])
            .with_container(clixml::Container::List(self.parameters.clone()));
        PsObject::new()
            .with_member("ci", self.call_id)
            .with_member("mi", self.method)
            .with_member("mp", params)
            .into()
    }

    /// Reads the CLIXML value.
    ///
    /// # Errors
    ///
    /// [`PayloadError`] when `ci`, `mi` or `mp` is missing or mistyped.
    pub fn from_value(value: &Value) -> Result<Self, PayloadError> {
        let f = Fields::of(value, "host call")?;
        Ok(Self {
            call_id: f.i64("ci")?,
            method: f.get("mi", RemoteHostMethodId::from_value)?,
            parameters: f
                .opt("mp", |v| v.as_list().map(<[Value]>::to_vec))?
                .unwrap_or_default(),
        })
    }
}

/// RUNSPACEPOOL_HOST_RESPONSE / PIPELINE_HOST_RESPONSE (MS-PSRP 2.2.2.16, 2.2.2.28).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostResponse {
    /// `ci`: the call id answered.
    pub call_id: i64,
    /// `mi`: the host method.
    pub method: RemoteHostMethodId,
    /// `mr`: the return value, absent for void methods.
    pub return_value: Option<Value>,
    /// `me`: the exception thrown, as an error record.
    pub error: Option<Value>,
}

impl HostResponse {
    /// The CLIXML value.
    pub fn to_value(&self) -> Value {
        let mut obj = PsObject::new()
            .with_member("ci", self.call_id)
            .with_member("mi", self.method);
        if let Some(mr) = &self.return_value {
            obj = obj.with_member("mr", mr.clone());
        }
        if let Some(me) = &self.error {
            obj = obj.with_member("me", me.clone());
        }
        obj.into()
    }

    /// Reads the CLIXML value.
    ///
    /// # Errors
    ///
    /// [`PayloadError`] when `ci` or `mi` is missing or mistyped.
    pub fn from_value(value: &Value) -> Result<Self, PayloadError> {
        let f = Fields::of(value, "host response")?;
        Ok(Self {
            call_id: f.i64("ci")?,
            method: f.get("mi", RemoteHostMethodId::from_value)?,
            return_value: f.opt_value("mr").cloned(),
            error: f.opt_value("me").cloned(),
        })
    }
}

/// A typed message body, one variant per message type of MS-PSRP 2.2.2.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Payload {
    /// SESSION_CAPABILITY.
    SessionCapability(SessionCapability),
    /// INIT_RUNSPACEPOOL.
    InitRunspacePool(InitRunspacePool),
    /// PUBLIC_KEY.
    PublicKey(PublicKey),
    /// ENCRYPTED_SESSION_KEY.
    EncryptedSessionKey(EncryptedSessionKey),
    /// PUBLIC_KEY_REQUEST (MS-PSRP 2.2.2.5; an empty string body).
    PublicKeyRequest,
    /// CONNECT_RUNSPACEPOOL.
    ConnectRunspacePool(ConnectRunspacePool),
    /// SET_MAX_RUNSPACES.
    SetMaxRunspaces(SetMaxRunspaces),
    /// SET_MIN_RUNSPACES.
    SetMinRunspaces(SetMinRunspaces),
    /// RUNSPACE_AVAILABILITY.
    RunspaceAvailability(RunspaceAvailability),
    /// RUNSPACEPOOL_STATE.
    RunspacePoolState(RunspacePoolStateInfo),
    /// CREATE_PIPELINE.
    CreatePipeline(Box<CreatePipeline>),
    /// GET_AVAILABLE_RUNSPACES.
    GetAvailableRunspaces(CallId),
    /// USER_EVENT.
    UserEvent(Box<UserEvent>),
    /// APPLICATION_PRIVATE_DATA.
    ApplicationPrivateData(ApplicationPrivateData),
    /// GET_COMMAND_METADATA.
    GetCommandMetadata(GetCommandMetadata),
    /// RUNSPACEPOOL_INIT_DATA.
    RunspacePoolInitData(RunspacePoolInitData),
    /// RESET_RUNSPACE_STATE.
    ResetRunspaceState(CallId),
    /// RUNSPACEPOOL_HOST_CALL.
    RunspacePoolHostCall(HostCall),
    /// RUNSPACEPOOL_HOST_RESPONSE.
    RunspacePoolHostResponse(HostResponse),
    /// PIPELINE_INPUT: one input object.
    PipelineInput(Value),
    /// END_OF_PIPELINE_INPUT (empty body).
    EndOfPipelineInput,
    /// PIPELINE_OUTPUT: one output object.
    PipelineOutput(Value),
    /// ERROR_RECORD.
    ErrorRecord(ErrorRecord),
    /// PIPELINE_STATE.
    PipelineState(PipelineStateInfo),
    /// DEBUG_RECORD.
    DebugRecord(InformationalRecord),
    /// VERBOSE_RECORD.
    VerboseRecord(InformationalRecord),
    /// WARNING_RECORD.
    WarningRecord(InformationalRecord),
    /// PROGRESS_RECORD.
    ProgressRecord(ProgressRecord),
    /// INFORMATION_RECORD.
    InformationRecord(InformationRecord),
    /// PIPELINE_HOST_CALL.
    PipelineHostCall(HostCall),
    /// PIPELINE_HOST_RESPONSE.
    PipelineHostResponse(HostResponse),
    /// A type this crate does not know, with its CLIXML value (`None` for an empty body).
    Unknown(MessageType, Option<Value>),
}

impl Payload {
    /// Decodes the body of a message of type `message_type` (a UTF-8 BOM is accepted).
    ///
    /// # Errors
    ///
    /// [`PayloadError::Clixml`] when the CLIXML is malformed, other variants when it does not
    /// have the shape the message type requires.
    pub fn decode(message_type: MessageType, data: &[u8]) -> Result<Self, PayloadError> {
        let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
        let blank = data.iter().all(u8::is_ascii_whitespace);
        if message_type == MessageType::END_OF_PIPELINE_INPUT {
            return if blank {
                Ok(Self::EndOfPipelineInput)
            } else {
                Err(PayloadError::Body {
                    what: "END_OF_PIPELINE_INPUT",
                })
            };
        }
        if message_type == MessageType::PUBLIC_KEY_REQUEST && blank {
            return Ok(Self::PublicKeyRequest);
        }
        if blank && !message_type.is_known() {
            return Ok(Self::Unknown(message_type, None));
        }
        let value = clixml::from_clixml_bytes(data)?;
        Self::from_value(message_type, &value)
    }

    /// Types the CLIXML value of a message of type `message_type`.
    ///
    /// # Errors
    ///
    /// As [`Payload::decode`].
    pub fn from_value(message_type: MessageType, value: &Value) -> Result<Self, PayloadError> {
        type M = MessageType;
        Ok(match message_type {
            M::SESSION_CAPABILITY => Self::SessionCapability(SessionCapability::from_value(value)?),
            M::INIT_RUNSPACEPOOL => Self::InitRunspacePool(InitRunspacePool::from_value(value)?),
            M::PUBLIC_KEY => Self::PublicKey(PublicKey::from_value(value)?),
            M::ENCRYPTED_SESSION_KEY => {
                Self::EncryptedSessionKey(EncryptedSessionKey::from_value(value)?)
            }
            M::PUBLIC_KEY_REQUEST => Self::PublicKeyRequest,
            M::CONNECT_RUNSPACEPOOL => {
                Self::ConnectRunspacePool(ConnectRunspacePool::from_value(value)?)
            }
            M::SET_MAX_RUNSPACES => Self::SetMaxRunspaces(SetMaxRunspaces::from_value(value)?),
            M::SET_MIN_RUNSPACES => Self::SetMinRunspaces(SetMinRunspaces::from_value(value)?),
            M::RUNSPACE_AVAILABILITY => {
                Self::RunspaceAvailability(RunspaceAvailability::from_value(value)?)
            }
            M::RUNSPACEPOOL_STATE => {
                Self::RunspacePoolState(RunspacePoolStateInfo::from_value(value)?)
            }
            M::CREATE_PIPELINE => {
                Self::CreatePipeline(Box::new(CreatePipeline::from_value(value)?))
            }
            M::GET_AVAILABLE_RUNSPACES => Self::GetAvailableRunspaces(CallId::from_value(value)?),
            M::USER_EVENT => Self::UserEvent(Box::new(UserEvent::from_value(value)?)),
            M::APPLICATION_PRIVATE_DATA => {
                Self::ApplicationPrivateData(ApplicationPrivateData::from_value(value)?)
            }
            M::GET_COMMAND_METADATA => {
                Self::GetCommandMetadata(GetCommandMetadata::from_value(value)?)
            }
            M::RUNSPACEPOOL_INIT_DATA => {
                Self::RunspacePoolInitData(RunspacePoolInitData::from_value(value)?)
            }
            M::RESET_RUNSPACE_STATE => Self::ResetRunspaceState(CallId::from_value(value)?),
            M::RUNSPACEPOOL_HOST_CALL => Self::RunspacePoolHostCall(HostCall::from_value(value)?),
            M::RUNSPACEPOOL_HOST_RESPONSE => {
                Self::RunspacePoolHostResponse(HostResponse::from_value(value)?)
            }
            M::PIPELINE_INPUT => Self::PipelineInput(value.clone()),
            M::END_OF_PIPELINE_INPUT => Self::EndOfPipelineInput,
            M::PIPELINE_OUTPUT => Self::PipelineOutput(value.clone()),
            M::ERROR_RECORD => Self::ErrorRecord(ErrorRecord::from_value(value)?),
            M::PIPELINE_STATE => Self::PipelineState(PipelineStateInfo::from_value(value)?),
            M::DEBUG_RECORD => Self::DebugRecord(InformationalRecord::from_value(value)?),
            M::VERBOSE_RECORD => Self::VerboseRecord(InformationalRecord::from_value(value)?),
            M::WARNING_RECORD => Self::WarningRecord(InformationalRecord::from_value(value)?),
            M::PROGRESS_RECORD => Self::ProgressRecord(ProgressRecord::from_value(value)?),
            M::INFORMATION_RECORD => Self::InformationRecord(InformationRecord::from_value(value)?),
            M::PIPELINE_HOST_CALL => Self::PipelineHostCall(HostCall::from_value(value)?),
            M::PIPELINE_HOST_RESPONSE => {
                Self::PipelineHostResponse(HostResponse::from_value(value)?)
            }
            other => Self::Unknown(other, Some(value.clone())),
        })
    }

    /// The message type this payload travels as.
    pub fn message_type(&self) -> MessageType {
        type M = MessageType;
        match self {
            Self::SessionCapability(_) => M::SESSION_CAPABILITY,
            Self::InitRunspacePool(_) => M::INIT_RUNSPACEPOOL,
            Self::PublicKey(_) => M::PUBLIC_KEY,
            Self::EncryptedSessionKey(_) => M::ENCRYPTED_SESSION_KEY,
            Self::PublicKeyRequest => M::PUBLIC_KEY_REQUEST,
            Self::ConnectRunspacePool(_) => M::CONNECT_RUNSPACEPOOL,
            Self::SetMaxRunspaces(_) => M::SET_MAX_RUNSPACES,
            Self::SetMinRunspaces(_) => M::SET_MIN_RUNSPACES,
            Self::RunspaceAvailability(_) => M::RUNSPACE_AVAILABILITY,
            Self::RunspacePoolState(_) => M::RUNSPACEPOOL_STATE,
            Self::CreatePipeline(_) => M::CREATE_PIPELINE,
            Self::GetAvailableRunspaces(_) => M::GET_AVAILABLE_RUNSPACES,
            Self::UserEvent(_) => M::USER_EVENT,
            Self::ApplicationPrivateData(_) => M::APPLICATION_PRIVATE_DATA,
            Self::GetCommandMetadata(_) => M::GET_COMMAND_METADATA,
            Self::RunspacePoolInitData(_) => M::RUNSPACEPOOL_INIT_DATA,
            Self::ResetRunspaceState(_) => M::RESET_RUNSPACE_STATE,
            Self::RunspacePoolHostCall(_) => M::RUNSPACEPOOL_HOST_CALL,
            Self::RunspacePoolHostResponse(_) => M::RUNSPACEPOOL_HOST_RESPONSE,
            Self::PipelineInput(_) => M::PIPELINE_INPUT,
            Self::EndOfPipelineInput => M::END_OF_PIPELINE_INPUT,
            Self::PipelineOutput(_) => M::PIPELINE_OUTPUT,
            Self::ErrorRecord(_) => M::ERROR_RECORD,
            Self::PipelineState(_) => M::PIPELINE_STATE,
            Self::DebugRecord(_) => M::DEBUG_RECORD,
            Self::VerboseRecord(_) => M::VERBOSE_RECORD,
            Self::WarningRecord(_) => M::WARNING_RECORD,
            Self::ProgressRecord(_) => M::PROGRESS_RECORD,
            Self::InformationRecord(_) => M::INFORMATION_RECORD,
            Self::PipelineHostCall(_) => M::PIPELINE_HOST_CALL,
            Self::PipelineHostResponse(_) => M::PIPELINE_HOST_RESPONSE,
            Self::Unknown(ty, _) => *ty,
        }
    }

    /// The CLIXML value of the body, `None` for an empty body.
    pub fn to_value(&self) -> Option<Value> {
        Some(match self {
            Self::SessionCapability(m) => m.to_value(),
            Self::InitRunspacePool(m) => m.to_value(),
            Self::PublicKey(m) => m.to_value(),
            Self::EncryptedSessionKey(m) => m.to_value(),
            Self::PublicKeyRequest => Value::string(""),
            Self::ConnectRunspacePool(m) => m.to_value(),
            Self::SetMaxRunspaces(m) => m.to_value(),
            Self::SetMinRunspaces(m) => m.to_value(),
            Self::RunspaceAvailability(m) => m.to_value(),
            Self::RunspacePoolState(m) => m.to_value(),
            Self::CreatePipeline(m) => m.to_value(),
            Self::GetAvailableRunspaces(m) | Self::ResetRunspaceState(m) => m.to_value(),
            Self::UserEvent(m) => m.to_value(),
            Self::ApplicationPrivateData(m) => m.to_value(),
            Self::GetCommandMetadata(m) => m.to_value(),
            Self::RunspacePoolInitData(m) => m.to_value(),
            Self::RunspacePoolHostCall(m) | Self::PipelineHostCall(m) => m.to_value(),
            Self::RunspacePoolHostResponse(m) | Self::PipelineHostResponse(m) => m.to_value(),
            Self::PipelineInput(v) | Self::PipelineOutput(v) => v.clone(),
            Self::EndOfPipelineInput => return None,
            Self::ErrorRecord(m) => m.to_value(),
            Self::PipelineState(m) => m.to_value(),
            Self::DebugRecord(m) | Self::VerboseRecord(m) | Self::WarningRecord(m) => m.to_value(),
            Self::ProgressRecord(m) => m.to_value(),
            Self::InformationRecord(m) => m.to_value(),
            Self::Unknown(_, v) => return v.clone(),
        })
    }

    /// The message body: CLIXML text without BOM, empty for END_OF_PIPELINE_INPUT.
    pub fn encode(&self) -> Vec<u8> {
        self.to_value()
            .map(|v| clixml::to_clixml(&v).into_bytes())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_and_empty_bodies() {
        let body = "\u{FEFF}<Obj RefId=\"0\"><MS><Version N=\"protocolversion\">2.3</Version>\
            <Version N=\"PSVersion\">2.0</Version><Version N=\"SerializationVersion\">1.1.0.1\
            </Version></MS></Obj>";
        let p = Payload::decode(MessageType::SESSION_CAPABILITY, body.as_bytes()).unwrap();
        assert_eq!(p, Payload::SessionCapability(SessionCapability::default()));
        assert_eq!(Payload::decode(p.message_type(), &p.encode()).unwrap(), p);
        let end = Payload::decode(MessageType::END_OF_PIPELINE_INPUT, b"").unwrap();
        assert_eq!(end, Payload::EndOfPipelineInput);
        assert!(end.encode().is_empty());
        assert!(Payload::decode(MessageType::END_OF_PIPELINE_INPUT, b"<S>x</S>").is_err());
        let unknown = Payload::decode(MessageType(0x0999_9999), b"<I32>5</I32>").unwrap();
        assert_eq!(
            unknown,
            Payload::Unknown(MessageType(0x0999_9999), Some(Value::I32(5)))
        );
        assert_eq!(unknown.encode(), b"<I32>5</I32>");
    }

    #[test]
    fn connect_runspace_pool_forms() {
        // The default form exactly as MS-PSRP 2.2.2.29 prints it, pypsrp's bare form, and sizes.
        let spec = b"<Obj RefId=\"1\"> <MS> <S></S> </MS> </Obj>";
        let ty = MessageType::CONNECT_RUNSPACEPOOL;
        let default = Payload::ConnectRunspacePool(ConnectRunspacePool::default());
        assert_eq!(Payload::decode(ty, spec).unwrap(), default);
        assert_eq!(Payload::decode(ty, b"<S />").unwrap(), default);
        let sized = Payload::ConnectRunspacePool(ConnectRunspacePool {
            min_runspaces: Some(1),
            max_runspaces: Some(5),
        });
        assert_eq!(Payload::decode(ty, &sized.encode()).unwrap(), sized);
        assert_eq!(Payload::decode(ty, &default.encode()).unwrap(), default);
    }

    #[test]
    fn missing_members_are_typed_errors() {
        let err = Payload::decode(
            MessageType::RUNSPACEPOOL_STATE,
            b"<Obj RefId=\"0\"><MS><S N=\"RunspaceState\">x</S></MS></Obj>",
        )
        .unwrap_err();
        assert_eq!(
            err,
            PayloadError::WrongType {
                what: "RUNSPACEPOOL_STATE",
                property: "RunspaceState"
            }
        );
        let err = Payload::decode(MessageType::SET_MAX_RUNSPACES, b"<S>x</S>").unwrap_err();
        assert_eq!(
            err,
            PayloadError::NotAnObject {
                what: "SET_MAX_RUNSPACES"
            }
        );
        let err = Payload::decode(MessageType::PIPELINE_OUTPUT, b"<Obj>").unwrap_err();
        assert!(matches!(err, PayloadError::Clixml(_)));
    }

    #[test]
    fn host_call_and_user_event_round_trip() {
        let call = Payload::PipelineHostCall(HostCall {
            call_id: HostCall::NO_RESPONSE,
            method: RemoteHostMethodId::WRITE_LINE2,
            parameters: vec![Value::string("hi")],
        });
        assert_eq!(
            Payload::decode(call.message_type(), &call.encode()).unwrap(),
            call
        );
        let event = Payload::UserEvent(Box::new(UserEvent {
            event_identifier: 1,
            source_identifier: "src".into(),
            time_generated: "2024-01-01T00:00:00+00:00".into(),
            sender: Value::Nil,
            source_args: Value::Nil,
            message_data: Value::string("data"),
            computer_name: None,
            runspace_id: Uuid::from_u128(7),
        }));
        assert_eq!(
            Payload::decode(event.message_type(), &event.encode()).unwrap(),
            event
        );
    }
}
