//! Records and complex types PowerShell exchanges over PSRP, with their CLIXML forms.
//!
//! Fixed-shape types (enums, [`HostInfo`], [`Command`], [`PowerShellPipeline`],
//! [`ProgressRecord`]) are plain structs encoded in the order Windows uses. Records a peer fills
//! with arbitrary extra members ([`ErrorRecord`], [`InformationalRecord`], [`InformationRecord`])
//! wrap the object as received, validated on decode, with typed accessors; they re-encode exactly.

use std::fmt;
use std::sync::Arc;

use crate::clixml::{Container, PsObject, Value, enum_value};

/// A payload or record has the wrong shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// The CLIXML itself could not be read.
    #[error(transparent)]
    Clixml(#[from] crate::clixml::ClixmlError),
    /// The value is not an object where one is required.
    #[error("{what} is not an object")]
    NotAnObject {
        /// What was being decoded.
        what: &'static str,
    },
    /// A required property is absent.
    #[error("{what} lacks property {property}")]
    MissingProperty {
        /// What was being decoded.
        what: &'static str,
        /// The property name.
        property: &'static str,
    },
    /// A property has an unexpected type or value.
    #[error("{what} property {property} has the wrong type")]
    WrongType {
        /// What was being decoded.
        what: &'static str,
        /// The property name.
        property: &'static str,
    },
    /// A message that carries no body had one, or the reverse.
    #[error("{what} body is malformed")]
    Body {
        /// What was being decoded.
        what: &'static str,
    },
}

/// Typed reads of an object's properties, naming what is decoded in errors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields<'a> {
    pub(crate) obj: &'a PsObject,
    what: &'static str,
}

impl<'a> Fields<'a> {
    pub(crate) fn of(value: &'a Value, what: &'static str) -> Result<Self, PayloadError> {
        let obj = value
            .as_object()
            .ok_or(PayloadError::NotAnObject { what })?;
        Ok(Self { obj, what })
    }

    fn missing(&self, property: &'static str) -> PayloadError {
        PayloadError::MissingProperty {
            what: self.what,
            property,
        }
    }

    fn wrong(&self, property: &'static str) -> PayloadError {
        PayloadError::WrongType {
            what: self.what,
            property,
        }
    }

    pub(crate) fn value(&self, name: &'static str) -> Result<&'a Value, PayloadError> {
        self.obj.property(name).ok_or_else(|| self.missing(name))
    }

    pub(crate) fn opt_value(&self, name: &str) -> Option<&'a Value> {
        self.obj.property(name)
    }

    /// A property that may be absent or nil.
    pub(crate) fn non_nil(&self, name: &str) -> Option<&'a Value> {
        self.obj.property(name).filter(|v| !v.is_nil())
    }

    pub(crate) fn get<T>(
        &self,
        name: &'static str,
        read: impl FnOnce(&'a Value) -> Option<T>,
    ) -> Result<T, PayloadError> {
        read(self.value(name)?).ok_or_else(|| self.wrong(name))
    }

    pub(crate) fn opt<T>(
        &self,
        name: &'static str,
        read: impl FnOnce(&'a Value) -> Option<T>,
    ) -> Result<Option<T>, PayloadError> {
        match self.non_nil(name) {
            None => Ok(None),
            Some(v) => read(v).map(Some).ok_or_else(|| self.wrong(name)),
        }
    }

    pub(crate) fn string(&self, name: &'static str) -> Result<String, PayloadError> {
        self.get(name, |v| v.as_str().map(str::to_owned))
    }

    pub(crate) fn opt_string(&self, name: &'static str) -> Result<Option<String>, PayloadError> {
        self.opt(name, |v| v.as_str().map(str::to_owned))
    }

    pub(crate) fn bool(&self, name: &'static str) -> Result<bool, PayloadError> {
        self.get(name, Value::as_bool)
    }

    pub(crate) fn i32(&self, name: &'static str) -> Result<i32, PayloadError> {
        self.get(name, Value::as_i32)
    }

    pub(crate) fn i64(&self, name: &'static str) -> Result<i64, PayloadError> {
        self.get(name, Value::as_i64)
    }
}

macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $type_name:literal, flags = $flags:literal,
        { $($(#[$cdoc:meta])* $konst:ident = $value:literal => $text:literal,)* }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i32);

        impl $name {
            $($(#[$cdoc])* pub const $konst: Self = Self($value);)*

            /// The .NET type name.
            pub const TYPE_NAME: &'static str = $type_name;

            /// The .NET name of a known value.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($text),)*
                    _ => None,
                }
            }

            /// The `ToString` .NET gives this value (flag names joined for flag sets).
            pub fn to_display(self) -> String {
                if let Some(name) = self.name() {
                    return name.to_owned();
                }
                if $flags && self.0 > 0 {
                    let mut names = Vec::new();
                    let mut rest = self.0;
                    for (value, text) in [$(($value, $text)),*] {
                        if value != 0 && value & (value - 1) == 0 && rest & value == value {
                            names.push(text);
                            rest &= !value;
                        }
                    }
                    if rest == 0 {
                        return names.join(", ");
                    }
                }
                self.0.to_string()
            }

            /// The enum object (type names, `ToString`, `<I32>`).
            pub fn to_value(self) -> Value {
                enum_value($type_name, self.to_display(), self.0)
            }

            /// Reads an enum object or a bare `<I32>`.
            pub fn from_value(value: &Value) -> Option<Self> {
                value.as_i32().map(Self)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(name) => f.write_str(name),
                    None => write!(f, "{}({})", stringify!($name), self.0),
                }
            }
        }

        impl From<$name> for Value {
            fn from(v: $name) -> Value {
                v.to_value()
            }
        }
    };
}

open_enum! {
    /// `RunspacePoolState` (MS-PSRP 2.2.3.4).
    RunspacePoolState, "System.Management.Automation.Runspaces.RunspacePoolState", flags = false, {
        /// Not opened yet.
        BEFORE_OPEN = 0 => "BeforeOpen",
        /// Opening.
        OPENING = 1 => "Opening",
        /// Opened.
        OPENED = 2 => "Opened",
        /// Closed.
        CLOSED = 3 => "Closed",
        /// Closing.
        CLOSING = 4 => "Closing",
        /// Broken.
        BROKEN = 5 => "Broken",
        /// Negotiation sent.
        NEGOTIATION_SENT = 6 => "NegotiationSent",
        /// Negotiation succeeded.
        NEGOTIATION_SUCCEEDED = 7 => "NegotiationSucceeded",
        /// Connecting.
        CONNECTING = 8 => "Connecting",
        /// Disconnected.
        DISCONNECTED = 9 => "Disconnected",
    }
}

open_enum! {
    /// `PSInvocationState` (MS-PSRP 2.2.3.5).
    PsInvocationState, "System.Management.Automation.PSInvocationState", flags = false, {
        /// Not started.
        NOT_STARTED = 0 => "NotStarted",
        /// Running.
        RUNNING = 1 => "Running",
        /// Stopping.
        STOPPING = 2 => "Stopping",
        /// Stopped.
        STOPPED = 3 => "Stopped",
        /// Completed.
        COMPLETED = 4 => "Completed",
        /// Failed.
        FAILED = 5 => "Failed",
        /// Disconnected.
        DISCONNECTED = 6 => "Disconnected",
    }
}

open_enum! {
    /// `PSThreadOptions` (MS-PSRP 2.2.3.6).
    PsThreadOptions, "System.Management.Automation.Runspaces.PSThreadOptions", flags = false, {
        /// Default.
        DEFAULT = 0 => "Default",
        /// A new thread per invocation.
        USE_NEW_THREAD = 1 => "UseNewThread",
        /// One reused thread.
        REUSE_THREAD = 2 => "ReuseThread",
        /// The current thread.
        USE_CURRENT_THREAD = 3 => "UseCurrentThread",
    }
}

open_enum! {
    /// `ApartmentState` (MS-PSRP 2.2.3.7).
    ApartmentState, "System.Management.Automation.Runspaces.ApartmentState", flags = false, {
        /// Single-threaded apartment.
        STA = 0 => "STA",
        /// Multi-threaded apartment.
        MTA = 1 => "MTA",
        /// Not set.
        UNKNOWN = 2 => "Unknown",
    }
}

open_enum! {
    /// `RemoteStreamOptions` flags (MS-PSRP 2.2.3.8).
    RemoteStreamOptions, "System.Management.Automation.Runspaces.RemoteStreamOptions", flags = true, {
        /// Nothing added.
        NONE = 0 => "None",
        /// InvocationInfo on error records.
        ADD_INVOCATION_INFO_TO_ERROR_RECORD = 1 => "AddInvocationInfoToErrorRecord",
        /// InvocationInfo on warning records.
        ADD_INVOCATION_INFO_TO_WARNING_RECORD = 2 => "AddInvocationInfoToWarningRecord",
        /// InvocationInfo on debug records.
        ADD_INVOCATION_INFO_TO_DEBUG_RECORD = 4 => "AddInvocationInfoToDebugRecord",
        /// InvocationInfo on verbose records.
        ADD_INVOCATION_INFO_TO_VERBOSE_RECORD = 8 => "AddInvocationInfoToVerboseRecord",
        /// All of the above.
        ADD_INVOCATION_INFO = 15 => "AddInvocationInfo",
    }
}

open_enum! {
    /// `PipelineResultTypes` (MS-PSRP 2.2.3.31), used by the Merge* settings of a command.
    PipelineResultTypes, "System.Management.Automation.Runspaces.PipelineResultTypes", flags = false, {
        /// No stream.
        NONE = 0 => "None",
        /// Output.
        OUTPUT = 1 => "Output",
        /// Error.
        ERROR = 2 => "Error",
        /// Warning.
        WARNING = 3 => "Warning",
        /// Verbose.
        VERBOSE = 4 => "Verbose",
        /// Debug.
        DEBUG = 5 => "Debug",
        /// Information.
        INFORMATION = 6 => "Information",
        /// All streams.
        ALL = 7 => "All",
        /// Discard.
        NULL = 8 => "Null",
    }
}

open_enum! {
    /// `ProgressRecordType` (MS-PSRP 2.2.3.29 context).
    ProgressRecordType, "System.Management.Automation.ProgressRecordType", flags = false, {
        /// Work in progress.
        PROCESSING = 0 => "Processing",
        /// Finished.
        COMPLETED = 1 => "Completed",
    }
}

open_enum! {
    /// `ErrorCategory` (MS-PSRP 2.2.3.9).
    ErrorCategory, "System.Management.Automation.ErrorCategory", flags = false, {
        /// Not specified.
        NOT_SPECIFIED = 0 => "NotSpecified",
        /// Open error.
        OPEN_ERROR = 1 => "OpenError",
        /// Close error.
        CLOSE_ERROR = 2 => "CloseError",
        /// Device error.
        DEVICE_ERROR = 3 => "DeviceError",
        /// Deadlock detected.
        DEADLOCK_DETECTED = 4 => "DeadlockDetected",
        /// Invalid argument.
        INVALID_ARGUMENT = 5 => "InvalidArgument",
        /// Invalid data.
        INVALID_DATA = 6 => "InvalidData",
        /// Invalid operation.
        INVALID_OPERATION = 7 => "InvalidOperation",
        /// Invalid result.
        INVALID_RESULT = 8 => "InvalidResult",
        /// Invalid type.
        INVALID_TYPE = 9 => "InvalidType",
        /// Metadata error.
        METADATA_ERROR = 10 => "MetadataError",
        /// Not implemented.
        NOT_IMPLEMENTED = 11 => "NotImplemented",
        /// Not installed.
        NOT_INSTALLED = 12 => "NotInstalled",
        /// Object not found.
        OBJECT_NOT_FOUND = 13 => "ObjectNotFound",
        /// Operation stopped.
        OPERATION_STOPPED = 14 => "OperationStopped",
        /// Operation timeout.
        OPERATION_TIMEOUT = 15 => "OperationTimeout",
        /// Syntax error.
        SYNTAX_ERROR = 16 => "SyntaxError",
        /// Parser error.
        PARSER_ERROR = 17 => "ParserError",
        /// Permission denied.
        PERMISSION_DENIED = 18 => "PermissionDenied",
        /// Resource busy.
        RESOURCE_BUSY = 19 => "ResourceBusy",
        /// Resource exists.
        RESOURCE_EXISTS = 20 => "ResourceExists",
        /// Resource unavailable.
        RESOURCE_UNAVAILABLE = 21 => "ResourceUnavailable",
        /// Read error.
        READ_ERROR = 22 => "ReadError",
        /// Write error.
        WRITE_ERROR = 23 => "WriteError",
        /// From stderr.
        FROM_STD_ERR = 24 => "FromStdErr",
        /// Security error.
        SECURITY_ERROR = 25 => "SecurityError",
        /// Protocol error.
        PROTOCOL_ERROR = 26 => "ProtocolError",
        /// Connection error.
        CONNECTION_ERROR = 27 => "ConnectionError",
        /// Authentication error.
        AUTHENTICATION_ERROR = 28 => "AuthenticationError",
        /// Limits exceeded.
        LIMITS_EXCEEDED = 29 => "LimitsExceeded",
        /// Quota exceeded.
        QUOTA_EXCEEDED = 30 => "QuotaExceeded",
        /// Not enabled.
        NOT_ENABLED = 31 => "NotEnabled",
    }
}

open_enum! {
    /// `RemoteHostMethodId` (MS-PSRP 2.2.3.17): which host method a host call invokes.
    RemoteHostMethodId, "System.Management.Automation.Remoting.RemoteHostMethodId", flags = false, {
        /// PSHost.Name.
        GET_NAME = 1 => "GetName",
        /// PSHost.Version.
        GET_VERSION = 2 => "GetVersion",
        /// PSHost.InstanceId.
        GET_INSTANCE_ID = 3 => "GetInstanceId",
        /// PSHost.CurrentCulture.
        GET_CURRENT_CULTURE = 4 => "GetCurrentCulture",
        /// PSHost.CurrentUICulture.
        GET_CURRENT_UI_CULTURE = 5 => "GetCurrentUICulture",
        /// PSHost.SetShouldExit.
        SET_SHOULD_EXIT = 6 => "SetShouldExit",
        /// PSHost.EnterNestedPrompt.
        ENTER_NESTED_PROMPT = 7 => "EnterNestedPrompt",
        /// PSHost.ExitNestedPrompt.
        EXIT_NESTED_PROMPT = 8 => "ExitNestedPrompt",
        /// PSHost.NotifyBeginApplication.
        NOTIFY_BEGIN_APPLICATION = 9 => "NotifyBeginApplication",
        /// PSHost.NotifyEndApplication.
        NOTIFY_END_APPLICATION = 10 => "NotifyEndApplication",
        /// UI.ReadLine.
        READ_LINE = 11 => "ReadLine",
        /// UI.ReadLineAsSecureString.
        READ_LINE_AS_SECURE_STRING = 12 => "ReadLineAsSecureString",
        /// UI.Write(string).
        WRITE1 = 13 => "Write1",
        /// UI.Write(colors, string).
        WRITE2 = 14 => "Write2",
        /// UI.WriteLine().
        WRITE_LINE1 = 15 => "WriteLine1",
        /// UI.WriteLine(string).
        WRITE_LINE2 = 16 => "WriteLine2",
        /// UI.WriteLine(colors, string).
        WRITE_LINE3 = 17 => "WriteLine3",
        /// UI.WriteErrorLine.
        WRITE_ERROR_LINE = 18 => "WriteErrorLine",
        /// UI.WriteDebugLine.
        WRITE_DEBUG_LINE = 19 => "WriteDebugLine",
        /// UI.WriteProgress.
        WRITE_PROGRESS = 20 => "WriteProgress",
        /// UI.WriteVerboseLine.
        WRITE_VERBOSE_LINE = 21 => "WriteVerboseLine",
        /// UI.WriteWarningLine.
        WRITE_WARNING_LINE = 22 => "WriteWarningLine",
        /// UI.Prompt.
        PROMPT = 23 => "Prompt",
        /// UI.PromptForCredential (4 arguments).
        PROMPT_FOR_CREDENTIAL1 = 24 => "PromptForCredential1",
        /// UI.PromptForCredential (6 arguments).
        PROMPT_FOR_CREDENTIAL2 = 25 => "PromptForCredential2",
        /// UI.PromptForChoice.
        PROMPT_FOR_CHOICE = 26 => "PromptForChoice",
        /// RawUI.ForegroundColor get.
        GET_FOREGROUND_COLOR = 27 => "GetForegroundColor",
        /// RawUI.ForegroundColor set.
        SET_FOREGROUND_COLOR = 28 => "SetForegroundColor",
        /// RawUI.BackgroundColor get.
        GET_BACKGROUND_COLOR = 29 => "GetBackgroundColor",
        /// RawUI.BackgroundColor set.
        SET_BACKGROUND_COLOR = 30 => "SetBackgroundColor",
        /// RawUI.CursorPosition get.
        GET_CURSOR_POSITION = 31 => "GetCursorPosition",
        /// RawUI.CursorPosition set.
        SET_CURSOR_POSITION = 32 => "SetCursorPosition",
        /// RawUI.WindowPosition get.
        GET_WINDOW_POSITION = 33 => "GetWindowPosition",
        /// RawUI.WindowPosition set.
        SET_WINDOW_POSITION = 34 => "SetWindowPosition",
        /// RawUI.CursorSize get.
        GET_CURSOR_SIZE = 35 => "GetCursorSize",
        /// RawUI.CursorSize set.
        SET_CURSOR_SIZE = 36 => "SetCursorSize",
        /// RawUI.BufferSize get.
        GET_BUFFER_SIZE = 37 => "GetBufferSize",
        /// RawUI.BufferSize set.
        SET_BUFFER_SIZE = 38 => "SetBufferSize",
        /// RawUI.WindowSize get.
        GET_WINDOW_SIZE = 39 => "GetWindowSize",
        /// RawUI.WindowSize set.
        SET_WINDOW_SIZE = 40 => "SetWindowSize",
        /// RawUI.WindowTitle get.
        GET_WINDOW_TITLE = 41 => "GetWindowTitle",
        /// RawUI.WindowTitle set.
        SET_WINDOW_TITLE = 42 => "SetWindowTitle",
        /// RawUI.MaxWindowSize.
        GET_MAX_WINDOW_SIZE = 43 => "GetMaxWindowSize",
        /// RawUI.MaxPhysicalWindowSize.
        GET_MAX_PHYSICAL_WINDOW_SIZE = 44 => "GetMaxPhysicalWindowSize",
        /// RawUI.KeyAvailable.
        GET_KEY_AVAILABLE = 45 => "GetKeyAvailable",
        /// RawUI.ReadKey.
        READ_KEY = 46 => "ReadKey",
        /// RawUI.FlushInputBuffer.
        FLUSH_INPUT_BUFFER = 47 => "FlushInputBuffer",
        /// RawUI.SetBufferContents(rectangle, cell).
        SET_BUFFER_CONTENTS1 = 48 => "SetBufferContents1",
        /// RawUI.SetBufferContents(origin, cells).
        SET_BUFFER_CONTENTS2 = 49 => "SetBufferContents2",
        /// RawUI.GetBufferContents.
        GET_BUFFER_CONTENTS = 50 => "GetBufferContents",
        /// RawUI.ScrollBufferContents.
        SCROLL_BUFFER_CONTENTS = 51 => "ScrollBufferContents",
        /// IHostSupportsInteractiveSession.PushRunspace.
        PUSH_RUNSPACE = 52 => "PushRunspace",
        /// IHostSupportsInteractiveSession.PopRunspace.
        POP_RUNSPACE = 53 => "PopRunspace",
        /// IHostSupportsInteractiveSession.IsRunspacePushed.
        GET_IS_RUNSPACE_PUSHED = 54 => "GetIsRunspacePushed",
        /// IHostSupportsInteractiveSession.Runspace.
        GET_RUNSPACE = 55 => "GetRunspace",
        /// UI.PromptForChoice with multiple selection.
        PROMPT_FOR_CHOICE_MULTIPLE_SELECTION = 56 => "PromptForChoiceMultipleSelection",
    }
}

impl RemoteHostMethodId {
    /// Whether a call to this method expects a response (the getters and prompts do).
    pub fn expects_response(self) -> bool {
        matches!(
            self.0,
            1..=5 | 11 | 12 | 23..=27 | 29 | 31 | 33 | 35 | 37 | 39 | 41 | 43..=46 | 50 | 54..=56
        )
    }
}

/// `System.Collections.Generic.List<PSObject>`, the list type of `Cmds`, `Args`, `ExtraCmds`.
pub const PSOBJECT_LIST_TYPE: &str = "System.Collections.Generic.List`1[[System.Management.\
    Automation.PSObject, System.Management.Automation, Version=1.0.0.0, Culture=neutral, \
    PublicKeyToken=31bf3856ad364e35]]";

fn list(type_names: &[&str], items: Vec<Value>) -> Value {
    Value::object(
        PsObject::new()
            .with_type_names(type_names.iter().copied())
            .with_container(Container::List(items)),
    )
}

/// Host description sent with INIT_RUNSPACEPOOL and CREATE_PIPELINE (MS-PSRP 2.2.3.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    /// `_hostDefaultData`: `(key, type name, value)` per RawUI setting, when a host is present.
    pub host_default_data: Option<Vec<(i32, String, Value)>>,
    /// `_isHostNull`.
    pub is_host_null: bool,
    /// `_isHostUINull`.
    pub is_host_ui_null: bool,
    /// `_isHostRawUINull`.
    pub is_host_raw_ui_null: bool,
    /// `_useRunspaceHost`.
    pub use_runspace_host: bool,
}

impl Default for HostInfo {
    /// No host: every flag true, no default data.
    fn default() -> Self {
        Self {
            host_default_data: None,
            is_host_null: true,
            is_host_ui_null: true,
            is_host_raw_ui_null: true,
            use_runspace_host: true,
        }
    }
}

impl HostInfo {
    /// The CLIXML object.
    pub fn to_value(&self) -> Value {
        let mut obj = PsObject::new();
        if let Some(data) = &self.host_default_data {
            let entries = data
                .iter()
                .map(|(key, type_name, value)| {
                    let entry = PsObject::new()
                        .with_member("T", type_name.as_str())
                        .with_member("V", value.clone());
                    (Value::I32(*key), Value::object(entry))
                })
                .collect();
            let dict = PsObject::new()
                .with_type_names(["System.Collections.Hashtable", "System.Object"])
                .with_container(Container::Dictionary(entries));
            obj = obj.with_member(
                "_hostDefaultData",
                PsObject::new().with_member("data", dict),
            );
        }
        obj.with_member("_isHostNull", self.is_host_null)
            .with_member("_isHostUINull", self.is_host_ui_null)
            .with_member("_isHostRawUINull", self.is_host_raw_ui_null)
            .with_member("_useRunspaceHost", self.use_runspace_host)
            .into()
    }

    /// Reads the CLIXML object.
    ///
    /// # Errors
    ///
    /// [`PayloadError`] when a flag is missing or the default data is malformed.
    pub fn from_value(value: &Value) -> Result<Self, PayloadError> {
        let f = Fields::of(value, "HostInfo")?;
        let host_default_data = match f.non_nil("_hostDefaultData") {
            None => None,
            Some(v) => {
                let data = Fields::of(v, "HostInfo._hostDefaultData")?;
                let dict = data.get("data", Value::as_dict)?;
                let mut out = Vec::with_capacity(dict.len());
                for (key, entry) in dict {
                    let e = Fields::of(entry, "HostInfo default data entry")?;
                    let key = key.as_i32().ok_or(PayloadError::WrongType {
                        what: "HostInfo default data entry",
                        property: "Key",
                    })?;
                    out.push((key, e.string("T")?, e.value("V")?.clone()));
                }
                Some(out)
            }
        };
        Ok(Self {
            host_default_data,
            is_host_null: f.bool("_isHostNull")?,
            is_host_ui_null: f.bool("_isHostUINull")?,
            is_host_raw_ui_null: f.bool("_isHostRawUINull")?,
            use_runspace_host: f.bool("_useRunspaceHost")?,
        })
    }
}

/// `PSPrimitiveDictionary` (MS-PSRP 2.2.3.18): application arguments, private data,
/// `PSVersionTable`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PsPrimitiveDictionary {
    /// The entries in order.
    pub entries: Vec<(Value, Value)>,
}

impl PsPrimitiveDictionary {
    /// Its type names.
    pub const TYPE_NAMES: [&'static str; 3] = [
        "System.Management.Automation.PSPrimitiveDictionary",
        "System.Collections.Hashtable",
        "System.Object",
    ];

    /// The value under a string key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// Adds an entry.
    #[must_use]
    pub fn with(mut self, key: impl Into<Value>, value: impl Into<Value>) -> Self {
        self.entries.push((key.into(), value.into()));
        self
    }

    /// The CLIXML object.
    pub fn to_value(&self) -> Value {
        Value::object(
            PsObject::new()
                .with_type_names(Self::TYPE_NAMES)
                .with_container(Container::Dictionary(self.entries.clone())),
        )
    }

    /// Reads any dictionary object.
    ///
    /// # Errors
    ///
    /// [`PayloadError::WrongType`] when the value is not a dictionary.
    pub fn from_value(value: &Value) -> Result<Self, PayloadError> {
        let entries = value.as_dict().ok_or(PayloadError::WrongType {
            what: "PSPrimitiveDictionary",
            property: "DCT",
        })?;
        Ok(Self {
            entries: entries.to_vec(),
        })
    }

    /// A `PSVersionTable` nested in application private data, if present.
    pub fn ps_version_table(&self) -> Option<Self> {
        self.get("PSVersionTable")
            .and_then(|v| Self::from_value(v).ok())
    }
}

/// One parameter or argument of a [`Command`] (`N` name, nil when positional; `V` value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandParameter {
    /// Parameter name, `None` for a positional argument.
    pub name: Option<String>,
    /// Its value.
    pub value: Value,
}

/// One command of a pipeline description (MS-PSRP 2.2.3.12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Command name or script text.
    pub cmd: String,
    /// Whether `cmd` is a script.
    pub is_script: bool,
    /// `UseLocalScope`, nil when unset.
    pub use_local_scope: Option<bool>,
    /// `MergeMyResult`.
    pub merge_my_result: PipelineResultTypes,
    /// `MergeToResult`.
    pub merge_to_result: PipelineResultTypes,
    /// `MergePreviousResults`.
    pub merge_previous_results: PipelineResultTypes,
    /// `Args`.
    pub args: Vec<CommandParameter>,
    /// Per-stream merges of protocol 2.2+ (`MergeError`, `MergeWarning`, `MergeVerbose`,
    /// `MergeDebug`), absent for 2.1 peers.
    pub merge_streams: Option<[PipelineResultTypes; 4]>,
    /// `MergeInformation` (protocol 2.3).
    pub merge_information: Option<PipelineResultTypes>,
}

impl Command {
    /// A command by name with no arguments and no merges.
    pub fn new(cmd: impl Into<String>, is_script: bool) -> Self {
        Self {
            cmd: cmd.into(),
            is_script,
            use_local_scope: None,
            merge_my_result: PipelineResultTypes::NONE,
            merge_to_result: PipelineResultTypes::NONE,
            merge_previous_results: PipelineResultTypes::NONE,
            args: Vec::new(),
            merge_streams: Some([PipelineResultTypes::NONE; 4]),
            merge_information: Some(PipelineResultTypes::NONE),
        }
    }

    /// Adds a named parameter, or a positional argument when `name` is `None`.
    #[must_use]
    pub fn with_arg(mut self, name: Option<&str>, value: impl Into<Value>) -> Self {
        self.args.push(CommandParameter {
            name: name.map(str::to_owned),
            value: value.into(),
        });
        self
    }

    /// The CLIXML object.
    pub fn to_value(&self) -> Value {
        let args = self
            .args
            .iter()
            .map(|a| {
                PsObject::new()
                    .with_member("N", a.name.clone())
                    .with_member("V", a.value.clone())
                    .into()
            })
            .collect();
        let mut obj = PsObject::new()
            .with_member("Cmd", self.cmd.as_str())
            .with_member("IsScript", self.is_script)
            .with_member("UseLocalScope", self.use_local_scope)
            .with_member("MergeMyResult", self.merge_my_result)
            .with_member("MergeToResult", self.merge_to_result)
            .with_member("MergePreviousResults", self.merge_previous_results)
            .with_member("Args", list(&[PSOBJECT_LIST_TYPE, "System.Object"], args));
        if let Some([error, warning, verbose, debug]) = self.merge_streams {
            obj = obj
                .with_member("MergeError", error)
                .with_member("MergeWarning", warning)
                .with_member("MergeVerbose", verbose)
                .with_member("MergeDebug", debug);
        }
        if let Some(information) = self.merge_information {
            obj = obj.with_member("MergeInformation", information);
        }
        obj.into()
    }

    /// Reads the CLIXML object.
    ///
    /// # Errors
    ///
    /// [`PayloadError`] when a required member is missing or mistyped.
    pub fn from_value(value: &Value) -> Result<Self, PayloadError> {
        let f = Fields::of(value, "Command")?;
        let merge = |name: &'static str| f.get(name, PipelineResultTypes::from_value);
        let opt_merge = |name: &'static str| f.opt(name, PipelineResultTypes::from_value);
        let mut args = Vec::new();
        for arg in f.opt("Args", Value::as_list)?.unwrap_or_default() {
            let a = Fields::of(arg, "Command argument")?;
            args.push(CommandParameter {
                name: a.opt_string("N")?,
                value: a.value("V")?.clone(),
            });
        }
        let streams = [
            opt_merge("MergeError")?,
            opt_merge("MergeWarning")?,
            opt_merge("MergeVerbose")?,
            opt_merge("MergeDebug")?,
        ];
        let merge_streams = match streams {
            [Some(e), Some(w), Some(v), Some(d)] => Some([e, w, v, d]),
            _ => None,
        };
        Ok(Self {
            cmd: f.string("Cmd")?,
            is_script: f.bool("IsScript")?,
            use_local_scope: f.opt("UseLocalScope", Value::as_bool)?,
            merge_my_result: merge("MergeMyResult")?,
            merge_to_result: merge("MergeToResult")?,
            merge_previous_results: merge("MergePreviousResults")?,
            args,
            merge_streams,
            merge_information: opt_merge("MergeInformation")?,
        })
    }
}

/// The `PowerShell` member of CREATE_PIPELINE (MS-PSRP 2.2.3.11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PowerShellPipeline {
    /// `IsNested`.
    pub is_nested: bool,
    /// `ExtraCmds`: further statements, each a list of commands.
    pub extra_cmds: Option<Vec<Vec<Command>>>,
    /// `Cmds`: the first statement.
    pub cmds: Vec<Command>,
    /// `History` text, nil when not added.
    pub history: Option<String>,
    /// `RedirectShellErrorOutputPipe`.
    pub redirect_shell_error_output_pipe: bool,
}

impl PowerShellPipeline {
    /// A pipeline of the given commands.
    pub fn new(cmds: Vec<Command>) -> Self {
        Self {
            is_nested: false,
            extra_cmds: None,
            cmds,
            history: None,
            redirect_shell_error_output_pipe: false,
        }
    }

    /// Every statement, in order. With several statements Windows PowerShell and pypsrp write
    /// all of them in `ExtraCmds` and repeat the first in `Cmds`, so `ExtraCmds`, when present
    /// and not empty, is the whole list; otherwise `Cmds` is the only statement.
    pub fn statements(&self) -> impl Iterator<Item = &[Command]> {
        let statements: Vec<&[Command]> = match &self.extra_cmds {
            Some(extra) if !extra.is_empty() => extra.iter().map(Vec::as_slice).collect(),
            _ => vec![self.cmds.as_slice()],
        };
        statements.into_iter().filter(|s| !s.is_empty())
    }

    /// The CLIXML object.
    pub fn to_value(&self) -> Value {
        let cmds = |cmds: &[Command]| {
            list(
                &[PSOBJECT_LIST_TYPE, "System.Object"],
                cmds.iter().map(Command::to_value).collect(),
            )
        };
        let extra = self.extra_cmds.as_ref().map(|statements| {
            list(
                &[PSOBJECT_LIST_TYPE, "System.Object"],
                statements
                    .iter()
                    .map(|s| PsObject::new().with_member("Cmds", cmds(s)).into())
                    .collect(),
            )
        });
        PsObject::new()
            .with_member("IsNested", self.is_nested)
            .with_member("ExtraCmds", extra)
            .with_member("Cmds", cmds(&self.cmds))
            .with_member("History", self.history.clone())
            .with_member(
                "RedirectShellErrorOutputPipe",
                self.redirect_shell_error_output_pipe,
            )
            .into()
    }

    /// Reads the CLIXML object.
    ///
    /// # Errors
    ///
    /// [`PayloadError`] when a required member is missing or mistyped.
    pub fn from_value(value: &Value) -> Result<Self, PayloadError> {
        let f = Fields::of(value, "PowerShell")?;
        let commands = |v: &Value| -> Result<Vec<Command>, PayloadError> {
            v.as_list()
                .ok_or(PayloadError::WrongType {
                    what: "PowerShell",
                    property: "Cmds",
                })?
                .iter()
                .map(Command::from_value)
                .collect()
        };
        let extra_cmds = match f.opt("ExtraCmds", Value::as_list)? {
            None => None,
            Some(items) => Some(
                items
                    .iter()
                    .map(|s| commands(Fields::of(s, "ExtraCmds statement")?.value("Cmds")?))
                    .collect::<Result<_, _>>()?,
            ),
        };
        Ok(Self {
            is_nested: f.bool("IsNested")?,
            extra_cmds,
            cmds: commands(f.value("Cmds")?)?,
            history: f.opt_string("History")?,
            redirect_shell_error_output_pipe: f
                .opt("RedirectShellErrorOutputPipe", Value::as_bool)?
                .unwrap_or(false),
        })
    }
}

/// A progress record (PROGRESS_RECORD, MS-PSRP 2.2.2.25).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressRecord {
    /// `Activity`.
    pub activity: String,
    /// `ActivityId`.
    pub activity_id: i32,
    /// `StatusDescription`.
    pub status_description: String,
    /// `CurrentOperation`.
    pub current_operation: Option<String>,
    /// `ParentActivityId`.
    pub parent_activity_id: i32,
    /// `PercentComplete`.
    pub percent_complete: i32,
    /// `Type`.
    pub record_type: ProgressRecordType,
    /// `SecondsRemaining`.
    pub seconds_remaining: i32,
}

impl ProgressRecord {
    /// The CLIXML object.
    pub fn to_value(&self) -> Value {
        PsObject::new()
            .with_member("Activity", self.activity.as_str())
            .with_member("ActivityId", self.activity_id)
            .with_member("StatusDescription", self.status_description.as_str())
            .with_member("CurrentOperation", self.current_operation.clone())
            .with_member("ParentActivityId", self.parent_activity_id)
            .with_member("PercentComplete", self.percent_complete)
            .with_member("Type", self.record_type)
            .with_member("SecondsRemaining", self.seconds_remaining)
            .into()
    }

    /// Reads the CLIXML object.
    ///
    /// # Errors
    ///
    /// [`PayloadError`] when a member is missing or mistyped.
    pub fn from_value(value: &Value) -> Result<Self, PayloadError> {
        let f = Fields::of(value, "ProgressRecord")?;
        Ok(Self {
            activity: f.string("Activity")?,
            activity_id: f.i32("ActivityId")?,
            status_description: f.string("StatusDescription")?,
            current_operation: f.opt_string("CurrentOperation")?,
            parent_activity_id: f.i32("ParentActivityId")?,
            percent_complete: f.i32("PercentComplete")?,
            record_type: f.get("Type", ProgressRecordType::from_value)?,
            seconds_remaining: f.i32("SecondsRemaining")?,
        })
    }
}

macro_rules! object_record {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            object: Arc<PsObject>,
        }

        impl $name {
            /// The object as received or built.
            pub fn as_object(&self) -> &PsObject {
                &self.object
            }

            /// The CLIXML value (the same object, shared).
            pub fn to_value(&self) -> Value {
                Value::Object(Arc::clone(&self.object))
            }

            #[allow(dead_code)]
            fn fields(&self) -> Fields<'_> {
                Fields {
                    obj: &self.object,
                    what: stringify!($name),
                }
            }
        }
    };
}

object_record! {
    /// An `ErrorRecord` (MS-PSRP 2.2.3.15), kept as the object received; fields read on demand.
    ErrorRecord
}

/// What [`ErrorRecord::new`] builds from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRecordParts {
    /// Exception .NET type names, most derived first.
    pub exception_types: Vec<String>,
    /// Exception message.
    pub message: String,
    /// `FullyQualifiedErrorId`.
    pub fully_qualified_error_id: String,
    /// `TargetObject`.
    pub target_object: Value,
    /// Category.
    pub category: ErrorCategory,
    /// `ErrorCategory_Activity`.
    pub activity: String,
    /// `ErrorCategory_Reason` (normally the exception's short type name).
    pub reason: String,
    /// `ErrorCategory_TargetName`.
    pub target_name: String,
    /// `ErrorCategory_TargetType`.
    pub target_type: String,
    /// `ErrorDetails_Message`, when set.
    pub details_message: Option<String>,
    /// `ErrorDetails_ScriptStackTrace`, when set.
    pub script_stack_trace: Option<String>,
}

impl ErrorRecord {
    /// Type names of an error record.
    pub const TYPE_NAMES: [&'static str; 2] =
        ["System.Management.Automation.ErrorRecord", "System.Object"];

    /// Builds an error record the way PowerShell serializes one (without InvocationInfo).
    pub fn new(parts: ErrorRecordParts) -> Self {
        let exception_type = parts.exception_types.first().cloned().unwrap_or_default();
        let exception = PsObject::new()
            .with_type_names(parts.exception_types.iter().map(String::as_str))
            .with_to_string(format!("{exception_type}: {}", parts.message))
            .with_property("Message", parts.message.as_str())
            .with_property(
                "Data",
                PsObject::new()
                    .with_type_names(["System.Collections.ListDictionaryInternal", "System.Object"])
                    .with_container(Container::Dictionary(Vec::new())),
            )
            .with_property("InnerException", Value::Nil)
            .with_property("HResult", -2_146_233_088);
        let category_message = format!(
            "{} ({}:{}) [{}], {}",
            parts.category.to_display(),
            parts.target_name,
            parts.target_type,
            parts.activity,
            parts.reason
        );
        let mut obj = PsObject::new()
            .with_type_names(Self::TYPE_NAMES)
            .with_to_string(parts.message.as_str())
            .with_member("Exception", exception)
            .with_member("TargetObject", parts.target_object)
            .with_member("FullyQualifiedErrorId", parts.fully_qualified_error_id)
            .with_member("InvocationInfo", Value::Nil)
            .with_member("ErrorCategory_Category", parts.category.0)
            .with_member("ErrorCategory_Activity", parts.activity)
            .with_member("ErrorCategory_Reason", parts.reason)
            .with_member("ErrorCategory_TargetName", parts.target_name)
            .with_member("ErrorCategory_TargetType", parts.target_type)
            .with_member("ErrorCategory_Message", category_message);
        if let Some(message) = parts.details_message {
            obj = obj.with_member("ErrorDetails_Message", message);
        }
        obj = obj.with_member("SerializeExtendedInfo", false);
        if let Some(trace) = parts.script_stack_trace {
            obj = obj.with_member("ErrorDetails_ScriptStackTrace", trace);
        }
        Self {
            object: Arc::new(obj),
        }
    }

    /// Validates and wraps an error record object.
    ///
    /// # Errors
    ///
    /// [`PayloadError`] when the value is not an object with an `Exception` and a string
    /// `FullyQualifiedErrorId`.
    pub fn from_value(value: &Value) -> Result<Self, PayloadError> {
        let f = Fields::of(value, "ErrorRecord")?;
        f.value("Exception")?;
        f.string("FullyQualifiedErrorId")?;
        let object = value.as_object_arc().ok_or(PayloadError::NotAnObject {
            what: "ErrorRecord",
        })?;
        Ok(Self {
            object: Arc::clone(object),
        })
    }

    /// The exception object, if not nil.
    pub fn exception(&self) -> Option<&PsObject> {
        self.object.property_object("Exception")
    }

    /// The exception's message.
    pub fn message(&self) -> Option<&str> {
        self.exception()
            .and_then(|e| e.property_str("Message"))
            .or(self.object.to_string.as_deref())
    }

    /// The exception's most derived type name.
    pub fn exception_type(&self) -> Option<&str> {
        self.exception().and_then(PsObject::type_name)
    }

    /// `FullyQualifiedErrorId`.
    pub fn fully_qualified_error_id(&self) -> &str {
        self.object
            .property_str("FullyQualifiedErrorId")
            .unwrap_or_default()
    }

    /// `TargetObject`.
    pub fn target_object(&self) -> Option<&Value> {
        self.fields().non_nil("TargetObject")
    }

    /// `ErrorCategory_Category`.
    pub fn category(&self) -> ErrorCategory {
        ErrorCategory(
            self.object
                .property_i32("ErrorCategory_Category")
                .unwrap_or(0),
        )
    }

    /// `ErrorCategory_Message`, the category info line.
    pub fn category_message(&self) -> Option<&str> {
        self.object.property_str("ErrorCategory_Message")
    }

    /// `ErrorCategory_Activity`.
    pub fn category_activity(&self) -> Option<&str> {
        self.object.property_str("ErrorCategory_Activity")
    }

    /// `ErrorCategory_Reason`.
    pub fn category_reason(&self) -> Option<&str> {
        self.object.property_str("ErrorCategory_Reason")
    }

    /// `ErrorCategory_TargetName`.
    pub fn category_target_name(&self) -> Option<&str> {
        self.object.property_str("ErrorCategory_TargetName")
    }

    /// `ErrorCategory_TargetType`.
    pub fn category_target_type(&self) -> Option<&str> {
        self.object.property_str("ErrorCategory_TargetType")
    }

    /// `ErrorDetails_Message`.
    pub fn details_message(&self) -> Option<&str> {
        self.object.property_str("ErrorDetails_Message")
    }

    /// `ErrorDetails_ScriptStackTrace`.
    pub fn script_stack_trace(&self) -> Option<&str> {
        self.object.property_str("ErrorDetails_ScriptStackTrace")
    }

    /// `SerializeExtendedInfo`: whether InvocationInfo members are flattened into the record.
    pub fn serialize_extended_info(&self) -> bool {
        self.object
            .property_bool("SerializeExtendedInfo")
            .unwrap_or(false)
    }

    /// The `InvocationInfo` object, when sent.
    pub fn invocation_info(&self) -> Option<&PsObject> {
        self.object.property_object("InvocationInfo")
    }
}

object_record! {
    /// A `WarningRecord`, `VerboseRecord` or `DebugRecord` (MS-PSRP 2.2.3.16
    /// InformationalRecord).
    InformationalRecord
}

impl InformationalRecord {
    /// Type name of a debug record.
    pub const DEBUG: &'static str = "System.Management.Automation.DebugRecord";
    /// Type name of a verbose record.
    pub const VERBOSE: &'static str = "System.Management.Automation.VerboseRecord";
    /// Type name of a warning record.
    pub const WARNING: &'static str = "System.Management.Automation.WarningRecord";

    /// A record of `type_name` ([`Self::DEBUG`], [`Self::VERBOSE`], [`Self::WARNING`]).
    pub fn new(type_name: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let obj = PsObject::new()
            .with_type_names([
                type_name,
                "System.Management.Automation.InformationalRecord",
                "System.Object",
            ])
            .with_to_string(message.as_str())
            .with_member("InformationalRecord_Message", message)
            .with_member("InformationalRecord_SerializeInvocationInfo", false);
        Self {
            object: Arc::new(obj),
        }
    }

    /// Validates and wraps the object.
    ///
    /// # Errors
    ///
    /// [`PayloadError`] without a string `InformationalRecord_Message`.
    pub fn from_value(value: &Value) -> Result<Self, PayloadError> {
        let f = Fields::of(value, "InformationalRecord")?;
        f.string("InformationalRecord_Message")?;
        let object = value.as_object_arc().ok_or(PayloadError::NotAnObject {
            what: "InformationalRecord",
        })?;
        Ok(Self {
            object: Arc::clone(object),
        })
    }

    /// The message.
    pub fn message(&self) -> &str {
        self.object
            .property_str("InformationalRecord_Message")
            .unwrap_or_default()
    }

    /// Whether InvocationInfo members follow (`InformationalRecord_SerializeInvocationInfo`).
    pub fn has_invocation_info(&self) -> bool {
        self.object
            .property_bool("InformationalRecord_SerializeInvocationInfo")
            .unwrap_or(false)
    }
}

object_record! {
    /// An `InformationRecord` (MS-PSRP 2.2.3.20 context, protocol 2.3).
    InformationRecord
}

impl InformationRecord {
    /// Builds a record the way PowerShell serializes one.
    pub fn new(
        message_data: impl Into<Value>,
        source: &str,
        time_generated: &str,
        tags: Vec<String>,
        user: &str,
        computer: &str,
        process_id: u32,
    ) -> Self {
        let tags = list(
            &[
                "System.Collections.Generic.List`1[[System.String]]",
                "System.Object",
            ],
            tags.into_iter().map(Value::String).collect(),
        );
        let obj = PsObject::new()
            .with_member("MessageData", message_data)
            .with_member("Source", source)
            .with_member("TimeGenerated", Value::DateTime(time_generated.to_owned()))
            .with_member("Tags", tags)
            .with_member("User", user)
            .with_member("Computer", computer)
            .with_member("ProcessId", Value::U32(process_id))
            .with_member("NativeThreadId", Value::U32(0))
            .with_member("ManagedThreadId", Value::U32(0));
        Self {
            object: Arc::new(obj),
        }
    }

    /// Validates and wraps the object.
    ///
    /// # Errors
    ///
    /// [`PayloadError`] without `MessageData`.
    pub fn from_value(value: &Value) -> Result<Self, PayloadError> {
        let f = Fields::of(value, "InformationRecord")?;
        f.value("MessageData")?;
        let object = value.as_object_arc().ok_or(PayloadError::NotAnObject {
            what: "InformationRecord",
        })?;
        Ok(Self {
            object: Arc::clone(object),
        })
    }

    /// `MessageData`.
    pub fn message_data(&self) -> &Value {
        self.object.property("MessageData").unwrap_or(&Value::Nil)
    }

    /// `Source`.
    pub fn source(&self) -> Option<&str> {
        self.object.property_str("Source")
    }

    /// `Tags`.
    pub fn tags(&self) -> Vec<&str> {
        self.fields()
            .non_nil("Tags")
            .and_then(Value::as_list)
            .map(|l| l.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// `Computer`.
    pub fn computer(&self) -> Option<&str> {
        self.object.property_str("Computer")
    }

    /// `User`.
    pub fn user(&self) -> Option<&str> {
        self.object.property_str("User")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_and_flags_display_like_dotnet() {
        assert_eq!(RemoteStreamOptions(15).to_display(), "AddInvocationInfo");
        assert_eq!(
            RemoteStreamOptions(5).to_display(),
            "AddInvocationInfoToErrorRecord, AddInvocationInfoToDebugRecord"
        );
        assert_eq!(RemoteStreamOptions(64).to_display(), "64");
        assert_eq!(RunspacePoolState(42).to_display(), "42");
        let v = ApartmentState::UNKNOWN.to_value();
        let obj = v.as_object().unwrap();
        assert_eq!(obj.type_name(), Some(ApartmentState::TYPE_NAME));
        assert_eq!(obj.to_string.as_deref(), Some("Unknown"));
        assert_eq!(
            ApartmentState::from_value(&v),
            Some(ApartmentState::UNKNOWN)
        );
        assert_eq!(format!("{:?}", RemoteHostMethodId(46)), "ReadKey");
        assert_eq!(
            format!("{:?}", RemoteHostMethodId(99)),
            "RemoteHostMethodId(99)"
        );
        assert!(RemoteHostMethodId::READ_LINE.expects_response());
        assert!(!RemoteHostMethodId::WRITE_LINE2.expects_response());
    }

    #[test]
    fn error_record_builds_and_reads_back() {
        let rec = ErrorRecord::new(ErrorRecordParts {
            exception_types: vec!["System.Exception".into(), "System.Object".into()],
            message: "boom".into(),
            fully_qualified_error_id: "Boom".into(),
            target_object: Value::Nil,
            category: ErrorCategory::OBJECT_NOT_FOUND,
            activity: "Get-Thing".into(),
            reason: "Exception".into(),
            target_name: "x".into(),
            target_type: "String".into(),
            details_message: None,
            script_stack_trace: Some("at <ScriptBlock>".into()),
        });
        let text = crate::clixml::to_clixml(&rec.to_value());
        let back = ErrorRecord::from_value(&crate::clixml::from_clixml(&text).unwrap()).unwrap();
        assert_eq!(back, rec);
        assert_eq!(back.message(), Some("boom"));
        assert_eq!(back.exception_type(), Some("System.Exception"));
        assert_eq!(back.category(), ErrorCategory::OBJECT_NOT_FOUND);
        assert_eq!(
            back.category_message(),
            Some("ObjectNotFound (x:String) [Get-Thing], Exception")
        );
        assert_eq!(back.script_stack_trace(), Some("at <ScriptBlock>"));
        assert!(back.target_object().is_none());
        assert!(matches!(
            ErrorRecord::from_value(&Value::object(PsObject::new())),
            Err(PayloadError::MissingProperty {
                property: "Exception",
                ..
            })
        ));
    }

    #[test]
    fn pipeline_description_round_trips() {
        let ps = PowerShellPipeline {
            extra_cmds: Some(vec![
                vec![Command::new("Get-Item", false).with_arg(Some("Path"), "C:\\")],
                vec![Command::new("$a", true).with_arg(None, 1)],
            ]),
            history: Some("Get-Item".into()),
            ..PowerShellPipeline::new(Vec::new())
        };
        assert_eq!(PowerShellPipeline::from_value(&ps.to_value()).unwrap(), ps);
        assert_eq!(ps.statements().count(), 2);
        let mut old = Command::new("x", true);
        old.merge_streams = None;
        old.merge_information = None;
        old.use_local_scope = Some(true);
        assert_eq!(Command::from_value(&old.to_value()).unwrap(), old);
    }

    #[test]
    fn extra_cmds_hold_every_statement_and_cmds_repeats_the_first() {
        let first = vec![Command::new("'a'", true)];
        let second = vec![Command::new("'b'", true)];
        let ps = PowerShellPipeline {
            extra_cmds: Some(vec![first.clone(), second.clone()]),
            ..PowerShellPipeline::new(first.clone())
        };
        let statements: Vec<&[Command]> = ps.statements().collect();
        assert_eq!(statements, vec![first.as_slice(), second.as_slice()]);
        let single = PowerShellPipeline::new(second.clone());
        assert_eq!(
            single.statements().collect::<Vec<_>>(),
            vec![second.as_slice()]
        );
    }

    #[test]
    fn host_info_with_default_data_round_trips() {
        let info = HostInfo {
            host_default_data: Some(vec![
                (0, "System.ConsoleColor".into(), Value::I32(15)),
                (9, "System.String".into(), Value::string("title")),
            ]),
            is_host_null: false,
            is_host_ui_null: false,
            is_host_raw_ui_null: false,
            use_runspace_host: false,
        };
        assert_eq!(HostInfo::from_value(&info.to_value()).unwrap(), info);
        assert_eq!(
            HostInfo::from_value(&HostInfo::default().to_value()).unwrap(),
            HostInfo::default()
        );
    }
}
