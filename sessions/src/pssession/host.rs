//! The client's PowerShell host: answers the host calls a remote pipeline or the runspace pool
//! makes (MS-PSRP 2.2.3.17) and turns host writes into [`StreamItem::Host`] and friends.
//!
//! The caller may supply its own host ([`PsHost`], set with [`super::SessionOptions::host`]
//! or [`super::PsSession::set_host`]); every method has a default, and [`DefaultHost`] keeps
//! all of them: psrm's non-interactive host. Its getters answer what a plain console host
//! would (name `psrm`, version, an instance id, `en-US`); prompts and reads answer empty or
//! with the default choice, so a script that asks for input goes on instead of hanging; the
//! rest of the methods that want a value get an exception naming the method, as PowerShell's
//! own remoting host does for unsupported calls.
//!
//! A host describes itself to the server with a [`HostInfo`] ([`PsHost::host_info`], MS-PSRP
//! 2.2.3.14), sent with INIT_RUNSPACEPOOL and every CREATE_PIPELINE. A host that has a raw UI
//! announces its values there ([`RawUiDefaults`]): the server answers the RawUI getters from
//! them (and from what the script set since) without calling back.
//!
//! Writes always become stream items as before; the host's write methods are told as well.

use std::fmt;
use std::sync::Arc;

use psrp::clixml::{Container, PsObject, Value};
use psrp::crypto::SessionKey;
use psrp::messages::{HostCall, HostResponse};
use psrp::records::{ErrorRecord, ErrorRecordParts, HostInfo, RemoteHostMethodId as M};
use uuid::Uuid;

use super::output::{StreamItem, value_text};

/// A PowerShell host on the client side: what `$host`, `$host.UI` and `$host.UI.RawUI` do in
/// a remote script (MS-PSRP 2.2.3.17). Object-safe; shared between a session and its
/// pipelines, hence `Send + Sync`.
///
/// Every method has a default equal to [`DefaultHost`]'s behaviour, so an implementation only
/// overrides what it supports. A method returning [`HostError`] makes the remote call throw a
/// `HostException` with that message. Secure strings are given and taken as plain text: the
/// session encrypts them with its session key ([`super::PsSession::exchange_keys`] must have
/// run before the pipeline started, or the call fails on the server with an exception saying
/// so).
#[allow(unused_variables)]
pub trait PsHost: Send + Sync + fmt::Debug {
    /// What this host announces to the server (HostInfo with INIT_RUNSPACEPOOL and each
    /// CREATE_PIPELINE). `None`, the default: psrm's own announcement (no host for the pool,
    /// a UI without raw UI for pipelines). See [`host_info`] to build one.
    fn host_info(&self) -> Option<HostInfo> {
        None
    }

    /// `PSHost.Name`.
    fn name(&self) -> String {
        "psrm".into()
    }

    /// `PSHost.Version` (`major.minor[.build[.revision]]`).
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").into()
    }

    /// `PSHost.InstanceId`; `None`, the default, answers the session's own random id.
    fn instance_id(&self) -> Option<Uuid> {
        None
    }

    /// `PSHost.CurrentCulture` (a `CultureInfo` object); `en-US` by default.
    fn current_culture(&self) -> Value {
        culture()
    }

    /// `PSHost.CurrentUICulture`; `en-US` by default.
    fn current_ui_culture(&self) -> Value {
        culture()
    }

    /// `PSHost.SetShouldExit(exitCode)` (`exit` in the remote script).
    fn set_should_exit(&self, exit_code: i32) {}

    /// `PSHost.EnterNestedPrompt`.
    fn enter_nested_prompt(&self) {}

    /// `PSHost.ExitNestedPrompt`.
    fn exit_nested_prompt(&self) {}

    /// `PSHost.NotifyBeginApplication`.
    fn notify_begin_application(&self) {}

    /// `PSHost.NotifyEndApplication`.
    fn notify_end_application(&self) {}

    /// `UI.ReadLine`; an empty line by default.
    ///
    /// # Errors
    ///
    /// A [`HostError`] the remote call throws.
    fn read_line(&self) -> Result<String, HostError> {
        Ok(String::new())
    }

    /// `UI.ReadLineAsSecureString`, as plain text (the session encrypts it); unsupported by
    /// default.
    ///
    /// # Errors
    ///
    /// A [`HostError`] the remote call throws.
    fn read_line_as_secure_string(&self) -> Result<String, HostError> {
        Err(HostError::unsupported(M::READ_LINE_AS_SECURE_STRING))
    }

    /// `UI.Write` / `UI.WriteLine` (Write1, Write2, WriteLine1–3): `text`, with
    /// `(foreground, background)` console colours when the script gave them.
    fn write(&self, text: &str, colors: Option<(i32, i32)>, newline: bool) {}

    /// `UI.WriteErrorLine`.
    fn write_error_line(&self, text: &str) {}

    /// `UI.WriteDebugLine`.
    fn write_debug_line(&self, text: &str) {}

    /// `UI.WriteVerboseLine`.
    fn write_verbose_line(&self, text: &str) {}

    /// `UI.WriteWarningLine`.
    fn write_warning_line(&self, text: &str) {}

    /// `UI.WriteProgress(sourceId, record)`, the record as sent (a `ProgressRecord` object).
    fn write_progress(&self, source_id: i64, record: &Value) {}

    /// `UI.Prompt(caption, message, descriptions)`: a value per field name. No fields by
    /// default.
    ///
    /// # Errors
    ///
    /// A [`HostError`] the remote call throws.
    fn prompt(
        &self,
        caption: &str,
        message: &str,
        fields: &[FieldDescription],
    ) -> Result<Vec<(String, Value)>, HostError> {
        Ok(Vec::new())
    }

    /// `UI.PromptForCredential` (PromptForCredential1 when `allowed_types` and `options` are
    /// `None`, PromptForCredential2 otherwise); unsupported by default.
    ///
    /// # Errors
    ///
    /// A [`HostError`] the remote call throws.
    fn prompt_for_credential(
        &self,
        caption: &str,
        message: &str,
        user_name: &str,
        target_name: &str,
        allowed_types: Option<i32>,
        options: Option<i32>,
    ) -> Result<Credential, HostError> {
        Err(HostError::unsupported(M::PROMPT_FOR_CREDENTIAL2))
    }

    /// `UI.PromptForChoice`: the index chosen; the default choice by default.
    ///
    /// # Errors
    ///
    /// A [`HostError`] the remote call throws.
    fn prompt_for_choice(
        &self,
        caption: &str,
        message: &str,
        choices: &[ChoiceDescription],
        default_choice: i32,
    ) -> Result<i32, HostError> {
        Ok(default_choice.max(0))
    }

    /// `UI.PromptForChoice` with multiple selection (IHostUISupportsMultipleChoiceSelection);
    /// unsupported by default.
    ///
    /// # Errors
    ///
    /// A [`HostError`] the remote call throws.
    fn prompt_for_choice_multiple_selection(
        &self,
        caption: &str,
        message: &str,
        choices: &[ChoiceDescription],
        default_choices: &[i32],
    ) -> Result<Vec<i32>, HostError> {
        Err(HostError::unsupported(
            M::PROMPT_FOR_CHOICE_MULTIPLE_SELECTION,
        ))
    }

    /// `RawUI.ForegroundColor` (a `ConsoleColor` value); unsupported by default.
    ///
    /// # Errors
    ///
    /// A [`HostError`] the remote call throws.
    fn foreground_color(&self) -> Result<i32, HostError> {
        Err(HostError::unsupported(M::GET_FOREGROUND_COLOR))
    }

    /// `RawUI.ForegroundColor = color`.
    fn set_foreground_color(&self, color: i32) {}

    /// `RawUI.BackgroundColor`; unsupported by default.
    ///
    /// # Errors
    ///
    /// A [`HostError`] the remote call throws.
    fn background_color(&self) -> Result<i32, HostError> {
        Err(HostError::unsupported(M::GET_BACKGROUND_COLOR))
    }

    /// `RawUI.BackgroundColor = color`.
    fn set_background_color(&self, color: i32) {}

    /// `RawUI.CursorPosition`; unsupported by default.
    ///
    /// # Errors
    ///
    /// A [`HostError`] the remote call throws.
    fn cursor_position(&self) -> Result<Coordinates, HostError> {
        Err(HostError::unsupported(M::GET_CURSOR_POSITION))
    }

    /// `RawUI.CursorPosition = position`.
    fn set_cursor_position(&self, position: Coordinates) {}

    /// `RawUI.WindowPosition`; unsupported by default.
    ///
    /// # Errors
    ///
    /// A [`HostError`] the remote call throws.
    fn window_position(&self) -> Result<Coordinates, HostError> {
        Err(HostError::unsupported(M::GET_WINDOW_POSITION))
    }

    /// `RawUI.WindowPosition = position`.
    fn set_window_position(&self, position: Coordinates) {}

    /// `RawUI.CursorSize` (percent of a cell); unsupported by default.
    ///
    /// # Errors
    ///
    /// A [`HostError`] the remote call throws.
    fn cursor_size(&self) -> Result<i32, HostError> {
        Err(HostError::unsupported(M::GET_CURSOR_SIZE))
    }

    /// `RawUI.CursorSize = size`.
    fn set_cursor_size(&self, size: i32) {}

    /// `RawUI.BufferSize`; unsupported by default.
    ///
    /// # Errors
    ///
    /// A [`HostError`] the remote call throws.
    fn buffer_size(&self) -> Result<Size, HostError> {
        Err(HostError::unsupported(M::GET_BUFFER_SIZE))
    }

    /// `RawUI.BufferSize = size`.
    fn set_buffer_size(&self, size: Size) {}

    /// `RawUI.WindowSize`; unsupported by default.
    ///
    /// # Errors
    ///
    /// A [`HostError`] the remote call throws.
    fn window_size(&self) -> Result<Size, HostError> {
        Err(HostError::unsupported(M::GET_WINDOW_SIZE))
    }

    /// `RawUI.WindowSize = size`.
    fn set_window_size(&self, size: Size) {}

    /// `RawUI.WindowTitle`; `psrm` by default.
    ///
    /// # Errors
    ///
    /// A [`HostError`] the remote call throws.
    fn window_title(&self) -> Result<String, HostError> {
        Ok("psrm".into())
    }

    /// `RawUI.WindowTitle = title`.
    fn set_window_title(&self, title: &str) {}

    /// `RawUI.MaxWindowSize`; unsupported by default.
    ///
    /// # Errors
    ///
    /// A [`HostError`] the remote call throws.
    fn max_window_size(&self) -> Result<Size, HostError> {
        Err(HostError::unsupported(M::GET_MAX_WINDOW_SIZE))
    }

    /// `RawUI.MaxPhysicalWindowSize`; unsupported by default.
    ///
    /// # Errors
    ///
    /// A [`HostError`] the remote call throws.
    fn max_physical_window_size(&self) -> Result<Size, HostError> {
        Err(HostError::unsupported(M::GET_MAX_PHYSICAL_WINDOW_SIZE))
    }

    /// `RawUI.KeyAvailable`; `false` by default.
    ///
    /// # Errors
    ///
    /// A [`HostError`] the remote call throws.
    fn key_available(&self) -> Result<bool, HostError> {
        Ok(false)
    }

    /// `RawUI.ReadKey(options)` (`ReadKeyOptions` flags); unsupported by default.
    ///
    /// # Errors
    ///
    /// A [`HostError`] the remote call throws.
    fn read_key(&self, options: i32) -> Result<KeyInfo, HostError> {
        Err(HostError::unsupported(M::READ_KEY))
    }

    /// `RawUI.FlushInputBuffer`.
    fn flush_input_buffer(&self) {}

    /// `RawUI.SetBufferContents` (SetBufferContents1: rectangle and fill cell;
    /// SetBufferContents2: origin and a cell array), the parameters as sent.
    fn set_buffer_contents(&self, parameters: &[Value]) {}

    /// `RawUI.GetBufferContents(rectangle)`: a `BufferCell[,]` value; unsupported by default.
    ///
    /// # Errors
    ///
    /// A [`HostError`] the remote call throws.
    fn buffer_contents(&self, rectangle: &Value) -> Result<Value, HostError> {
        Err(HostError::unsupported(M::GET_BUFFER_CONTENTS))
    }

    /// `RawUI.ScrollBufferContents(source, destination, clip, fill)`, the parameters as sent.
    fn scroll_buffer_contents(&self, parameters: &[Value]) {}

    /// `IHostSupportsInteractiveSession.IsRunspacePushed`; `false` by default.
    ///
    /// # Errors
    ///
    /// A [`HostError`] the remote call throws.
    fn is_runspace_pushed(&self) -> Result<bool, HostError> {
        Ok(false)
    }

    /// Any other call (PushRunspace, PopRunspace, GetRunspace, method ids this version does
    /// not know): the return value, if the call expects one. Unsupported by default.
    ///
    /// # Errors
    ///
    /// A [`HostError`] the remote call throws.
    fn other(&self, call: &HostCall) -> Result<Option<Value>, HostError> {
        Err(HostError::unsupported(call.method))
    }
}

/// psrm's non-interactive host: every [`PsHost`] default.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultHost;

impl PsHost for DefaultHost {}

/// Why a host method failed; the remote call throws a `HostException` with this message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostError {
    message: String,
}

impl HostError {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// "the psrm host does not support `method`".
    pub fn unsupported(method: M) -> Self {
        Self::new(format!(
            "the psrm host does not support {}",
            method.name().unwrap_or("this host method")
        ))
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HostError {}

/// `System.Management.Automation.Host.Coordinates`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Coordinates {
    /// X.
    pub x: i32,
    /// Y.
    pub y: i32,
}

impl Coordinates {
    /// The CLIXML form hosts send (extended members `x`, `y`).
    pub fn to_value(self) -> Value {
        PsObject::new()
            .with_member("x", self.x)
            .with_member("y", self.y)
            .into()
    }

    /// Reads `x`/`y` (any case), as the server sends them.
    pub fn from_value(value: &Value) -> Option<Self> {
        let o = value.as_object()?;
        Some(Self {
            x: member_i32(o, "x")?,
            y: member_i32(o, "y")?,
        })
    }
}

/// `System.Management.Automation.Host.Size`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Size {
    /// Width.
    pub width: i32,
    /// Height.
    pub height: i32,
}

impl Size {
    /// The CLIXML form hosts send (extended members `width`, `height`).
    pub fn to_value(self) -> Value {
        PsObject::new()
            .with_member("width", self.width)
            .with_member("height", self.height)
            .into()
    }

    /// Reads `width`/`height` (any case), as the server sends them.
    pub fn from_value(value: &Value) -> Option<Self> {
        let o = value.as_object()?;
        Some(Self {
            width: member_i32(o, "width")?,
            height: member_i32(o, "height")?,
        })
    }
}

/// `System.Management.Automation.Host.KeyInfo`, the answer to `RawUI.ReadKey`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// The virtual key code.
    pub virtual_key_code: i32,
    /// The character (a UTF-16 code unit).
    pub character: u16,
    /// `ControlKeyStates` flags (CapsLockOn = 0x80…).
    pub control_key_state: i32,
    /// Whether the key went down (or up).
    pub key_down: bool,
}

impl KeyInfo {
    /// The CLIXML form hosts send.
    pub fn to_value(self) -> Value {
        PsObject::new()
            .with_member("virtualKeyCode", self.virtual_key_code)
            .with_member("character", Value::Char(self.character))
            .with_member("controlKeyState", self.control_key_state)
            .with_member("keyDown", self.key_down)
            .into()
    }
}

/// A credential the host returns to `UI.PromptForCredential`; the password is encrypted with
/// the session key on the way.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The user name.
    pub user_name: String,
    /// The password, in plain text.
    pub password: String,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("user_name", &self.user_name)
            .finish_non_exhaustive()
    }
}

/// A field of `UI.Prompt` (`FieldDescription`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldDescription {
    /// `name`: the key of the answer.
    pub name: String,
    /// `label`.
    pub label: String,
    /// `parameterTypeFullName` (`System.String`…).
    pub parameter_type: String,
    /// `helpMessage`.
    pub help_message: String,
    /// `isMandatory`.
    pub is_mandatory: bool,
}

impl FieldDescription {
    fn from_value(value: &Value) -> Self {
        let Some(o) = value.as_object() else {
            return Self {
                name: value_text(value),
                ..Self::default()
            };
        };
        let s = |n: &str| o.property_str(n).unwrap_or_default().to_owned();
        Self {
            name: s("name"),
            label: s("label"),
            parameter_type: s("parameterTypeFullName"),
            help_message: s("helpMessage"),
            is_mandatory: o.property_bool("isMandatory").unwrap_or(false),
        }
    }
}

/// A choice of `UI.PromptForChoice` (`ChoiceDescription`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChoiceDescription {
    /// `label` (`&Yes`).
    pub label: String,
    /// `helpMessage`.
    pub help_message: String,
}

impl ChoiceDescription {
    fn from_value(value: &Value) -> Self {
        let Some(o) = value.as_object() else {
            return Self {
                label: value_text(value),
                ..Self::default()
            };
        };
        Self {
            label: o.property_str("label").unwrap_or_default().to_owned(),
            help_message: o.property_str("helpMessage").unwrap_or_default().to_owned(),
        }
    }
}

/// The raw UI values a host announces in HostInfo's `_hostDefaultData` (MS-PSRP 2.2.3.14):
/// the server answers the RawUI getters from them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawUiDefaults {
    /// Key 0: `ForegroundColor` (`ConsoleColor`).
    pub foreground_color: i32,
    /// Key 1: `BackgroundColor`.
    pub background_color: i32,
    /// Key 2: `CursorPosition`.
    pub cursor_position: Coordinates,
    /// Key 3: `WindowPosition`.
    pub window_position: Coordinates,
    /// Key 4: `CursorSize`.
    pub cursor_size: i32,
    /// Key 5: `BufferSize`.
    pub buffer_size: Size,
    /// Key 6: `WindowSize`.
    pub window_size: Size,
    /// Key 7: `MaxWindowSize`.
    pub max_window_size: Size,
    /// Key 8: `MaxPhysicalWindowSize`.
    pub max_physical_window_size: Size,
    /// Key 9: `WindowTitle`.
    pub window_title: String,
}

impl RawUiDefaults {
    /// The `_hostDefaultData` entries: `(key, type name, value)` in key order.
    pub fn to_host_default_data(&self) -> Vec<(i32, String, Value)> {
        const COLOR: &str = "System.ConsoleColor";
        const COORDINATES: &str = "System.Management.Automation.Host.Coordinates";
        const SIZE: &str = "System.Management.Automation.Host.Size";
        let size = |s: Size| {
            PsObject::new()
                .with_member("height", s.height)
                .with_member("width", s.width)
                .into()
        };
        vec![
            (0, COLOR.into(), Value::I32(self.foreground_color)),
            (1, COLOR.into(), Value::I32(self.background_color)),
            (2, COORDINATES.into(), self.cursor_position.to_value()),
            (3, COORDINATES.into(), self.window_position.to_value()),
            (4, "System.Int32".into(), Value::I32(self.cursor_size)),
            (5, SIZE.into(), size(self.buffer_size)),
            (6, SIZE.into(), size(self.window_size)),
            (7, SIZE.into(), size(self.max_window_size)),
            (8, SIZE.into(), size(self.max_physical_window_size)),
            (
                9,
                "System.String".into(),
                Value::String(self.window_title.clone()),
            ),
        ]
    }
}

/// The HostInfo of a client host (MS-PSRP 2.2.3.14): a host with a UI when `ui`, with a raw
/// UI whose values are `raw_ui` when given (a raw UI implies a UI).
pub fn host_info(ui: bool, raw_ui: Option<&RawUiDefaults>) -> HostInfo {
    HostInfo {
        host_default_data: raw_ui.map(RawUiDefaults::to_host_default_data),
        is_host_null: false,
        is_host_ui_null: !ui && raw_ui.is_none(),
        is_host_raw_ui_null: raw_ui.is_none(),
        use_runspace_host: false,
    }
}

/// What to do with one host call.
#[derive(Debug)]
pub(crate) struct HostAnswer {
    /// Text the call wrote to the host, if it is a write.
    pub(crate) item: Option<StreamItem>,
    /// The response to send, when the call expects one.
    pub(crate) response: Option<HostResponse>,
}

/// What the session lends the host dispatch.
#[derive(Clone, Debug)]
pub(crate) struct HostContext {
    pub(crate) host: Arc<dyn PsHost>,
    /// The session's own instance id (answered unless the host names one).
    pub(crate) instance_id: Uuid,
    /// The session key, to encrypt secure strings the host returns.
    pub(crate) session_key: Option<SessionKey>,
}

impl HostContext {
    /// psrm's default host.
    #[cfg(test)]
    pub(crate) fn new(instance_id: Uuid) -> Self {
        Self {
            host: Arc::new(DefaultHost),
            instance_id,
            session_key: None,
        }
    }

    /// The HostInfo for CREATE_PIPELINE.
    pub(crate) fn pipeline_host_info(&self) -> HostInfo {
        self.host
            .host_info()
            .unwrap_or_else(|| host_info(true, None))
    }
}

/// Answers `call` with the context's host.
pub(crate) fn answer(call: &HostCall, cx: &HostContext) -> HostAnswer {
    let host = cx.host.as_ref();
    let p = &call.parameters;
    let text = |i: usize| p.get(i).map(value_text).unwrap_or_default();
    let int = |i: usize| p.get(i).and_then(Value::as_i32);
    let colors = || int(0).zip(int(1));
    let item = match call.method {
        M::WRITE1 | M::WRITE_LINE2 => Some(StreamItem::Host(text(0))),
        M::WRITE2 | M::WRITE_LINE3 => Some(StreamItem::Host(text(2))),
        M::WRITE_LINE1 => Some(StreamItem::Host(String::new())),
        M::WRITE_ERROR_LINE => Some(StreamItem::Host(text(0))),
        M::WRITE_DEBUG_LINE => Some(StreamItem::Debug(text(0))),
        M::WRITE_VERBOSE_LINE => Some(StreamItem::Verbose(text(0))),
        M::WRITE_WARNING_LINE => Some(StreamItem::Warning(text(0))),
        _ => None,
    };
    let value: Result<Option<Value>, HostError> = match call.method {
        M::GET_NAME => Ok(Some(host.name().into())),
        M::GET_VERSION => Ok(Some(Value::Version(host.version()))),
        M::GET_INSTANCE_ID => Ok(Some(Value::Guid(
            host.instance_id().unwrap_or(cx.instance_id),
        ))),
        M::GET_CURRENT_CULTURE => Ok(Some(host.current_culture())),
        M::GET_CURRENT_UI_CULTURE => Ok(Some(host.current_ui_culture())),
        M::SET_SHOULD_EXIT => void(|| host.set_should_exit(int(0).unwrap_or(0))),
        M::ENTER_NESTED_PROMPT => void(|| host.enter_nested_prompt()),
        M::EXIT_NESTED_PROMPT => void(|| host.exit_nested_prompt()),
        M::NOTIFY_BEGIN_APPLICATION => void(|| host.notify_begin_application()),
        M::NOTIFY_END_APPLICATION => void(|| host.notify_end_application()),
        M::READ_LINE => host.read_line().map(|s| Some(s.into())),
        M::READ_LINE_AS_SECURE_STRING => host
            .read_line_as_secure_string()
            .and_then(|s| secure(cx, &s))
            .map(Some),
        M::WRITE1 => void(|| host.write(&text(0), None, false)),
        M::WRITE2 => void(|| host.write(&text(2), colors(), false)),
        M::WRITE_LINE1 => void(|| host.write("", None, true)),
        M::WRITE_LINE2 => void(|| host.write(&text(0), None, true)),
        M::WRITE_LINE3 => void(|| host.write(&text(2), colors(), true)),
        M::WRITE_ERROR_LINE => void(|| host.write_error_line(&text(0))),
        M::WRITE_DEBUG_LINE => void(|| host.write_debug_line(&text(0))),
        M::WRITE_VERBOSE_LINE => void(|| host.write_verbose_line(&text(0))),
        M::WRITE_WARNING_LINE => void(|| host.write_warning_line(&text(0))),
        M::WRITE_PROGRESS => void(|| {
            let source = p.first().and_then(Value::as_i64).unwrap_or(0);
            host.write_progress(source, p.get(1).unwrap_or(&Value::Nil));
        }),
        M::PROMPT => {
            let fields: Vec<_> = items(p.get(2))
                .iter()
                .map(FieldDescription::from_value)
                .collect();
            host.prompt(&text(0), &text(1), &fields)
                .map(|answers| Some(hashtable(answers)))
        }
        M::PROMPT_FOR_CREDENTIAL1 | M::PROMPT_FOR_CREDENTIAL2 => {
            let (types, options) = if call.method == M::PROMPT_FOR_CREDENTIAL2 {
                (int(4), int(5))
            } else {
                (None, None)
            };
            host.prompt_for_credential(&text(0), &text(1), &text(2), &text(3), types, options)
                .and_then(|c| credential(cx, &c))
                .map(Some)
        }
        M::PROMPT_FOR_CHOICE => {
            let choices = choices(p.get(2));
            host.prompt_for_choice(&text(0), &text(1), &choices, int(3).unwrap_or(0))
                .map(|i| Some(Value::I32(i)))
        }
        M::PROMPT_FOR_CHOICE_MULTIPLE_SELECTION => {
            let choices = choices(p.get(2));
            let defaults: Vec<i32> = items(p.get(3)).iter().filter_map(Value::as_i32).collect();
            host.prompt_for_choice_multiple_selection(&text(0), &text(1), &choices, &defaults)
                .map(|chosen| Some(int_collection(chosen)))
        }
        M::GET_FOREGROUND_COLOR => host.foreground_color().map(|c| Some(Value::I32(c))),
        M::SET_FOREGROUND_COLOR => void(|| host.set_foreground_color(int(0).unwrap_or(0))),
        M::GET_BACKGROUND_COLOR => host.background_color().map(|c| Some(Value::I32(c))),
        M::SET_BACKGROUND_COLOR => void(|| host.set_background_color(int(0).unwrap_or(0))),
        M::GET_CURSOR_POSITION => host.cursor_position().map(|c| Some(c.to_value())),
        M::SET_CURSOR_POSITION => void(|| host.set_cursor_position(coordinates(p.first()))),
        M::GET_WINDOW_POSITION => host.window_position().map(|c| Some(c.to_value())),
        M::SET_WINDOW_POSITION => void(|| host.set_window_position(coordinates(p.first()))),
        M::GET_CURSOR_SIZE => host.cursor_size().map(|s| Some(Value::I32(s))),
        M::SET_CURSOR_SIZE => void(|| host.set_cursor_size(int(0).unwrap_or(0))),
        M::GET_BUFFER_SIZE => host.buffer_size().map(|s| Some(s.to_value())),
        M::SET_BUFFER_SIZE => void(|| host.set_buffer_size(size(p.first()))),
        M::GET_WINDOW_SIZE => host.window_size().map(|s| Some(s.to_value())),
        M::SET_WINDOW_SIZE => void(|| host.set_window_size(size(p.first()))),
        M::GET_WINDOW_TITLE => host.window_title().map(|t| Some(t.into())),
        M::SET_WINDOW_TITLE => void(|| host.set_window_title(&text(0))),
        M::GET_MAX_WINDOW_SIZE => host.max_window_size().map(|s| Some(s.to_value())),
        M::GET_MAX_PHYSICAL_WINDOW_SIZE => {
            host.max_physical_window_size().map(|s| Some(s.to_value()))
        }
        M::GET_KEY_AVAILABLE => host.key_available().map(|b| Some(Value::Bool(b))),
        M::READ_KEY => host
            .read_key(int(0).unwrap_or(0))
            .map(|k| Some(k.to_value())),
        M::FLUSH_INPUT_BUFFER => void(|| host.flush_input_buffer()),
        M::SET_BUFFER_CONTENTS1 | M::SET_BUFFER_CONTENTS2 => void(|| host.set_buffer_contents(p)),
        M::GET_BUFFER_CONTENTS => host
            .buffer_contents(p.first().unwrap_or(&Value::Nil))
            .map(Some),
        M::SCROLL_BUFFER_CONTENTS => void(|| host.scroll_buffer_contents(p)),
        M::GET_IS_RUNSPACE_PUSHED => host.is_runspace_pushed().map(|b| Some(Value::Bool(b))),
        _ => host.other(call),
    };
    if call.call_id == HostCall::NO_RESPONSE || !call.method.expects_response() {
        return HostAnswer {
            item,
            response: None,
        };
    }
    let (return_value, error) = match value {
        Ok(v) => (v, None),
        Err(e) => (None, Some(host_exception(e.message()))),
    };
    HostAnswer {
        item,
        response: Some(HostResponse {
            call_id: call.call_id,
            method: call.method,
            return_value,
            error,
        }),
    }
}

/// Runs a void host method.
fn void(f: impl FnOnce()) -> Result<Option<Value>, HostError> {
    f();
    Ok(None)
}

/// A member by name, whatever its case (hosts send `x`, .NET objects `X`).
fn member_i32(o: &PsObject, name: &str) -> Option<i32> {
    o.property_i32(name).or_else(|| {
        let mut upper = name.to_owned();
        if let Some(first) = upper.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        o.property_i32(&upper)
    })
}

fn coordinates(value: Option<&Value>) -> Coordinates {
    value.and_then(Coordinates::from_value).unwrap_or_default()
}

fn size(value: Option<&Value>) -> Size {
    value.and_then(Size::from_value).unwrap_or_default()
}

/// The items of a list parameter (a single value counts as one item).
fn items(value: Option<&Value>) -> Vec<Value> {
    match value {
        None | Some(Value::Nil) => Vec::new(),
        Some(v) => v
            .as_list()
            .map_or_else(|| vec![v.clone()], <[Value]>::to_vec),
    }
}

fn choices(value: Option<&Value>) -> Vec<ChoiceDescription> {
    items(value)
        .iter()
        .map(ChoiceDescription::from_value)
        .collect()
}

fn secure(cx: &HostContext, text: &str) -> Result<Value, HostError> {
    let key = cx.session_key.as_ref().ok_or_else(|| {
        HostError::new(
            "no session key: the client must exchange keys before sending a securestring",
        )
    })?;
    Ok(Value::secure_string(key, text))
}

fn credential(cx: &HostContext, c: &Credential) -> Result<Value, HostError> {
    Ok(PsObject::new()
        .with_type_names(["System.Management.Automation.PSCredential", "System.Object"])
        .with_to_string("System.Management.Automation.PSCredential")
        .with_property("UserName", c.user_name.as_str())
        .with_property("Password", secure(cx, &c.password)?)
        .into())
}

fn hashtable(entries: Vec<(String, Value)>) -> Value {
    PsObject::new()
        .with_type_names(["System.Collections.Hashtable", "System.Object"])
        .with_container(Container::Dictionary(
            entries
                .into_iter()
                .map(|(k, v)| (Value::String(k), v))
                .collect(),
        ))
        .into()
}

fn int_collection(values: Vec<i32>) -> Value {
    PsObject::new()
        .with_type_names([
            "System.Collections.ObjectModel.Collection`1[[System.Int32, mscorlib, \
             Version=4.0.0.0, Culture=neutral, PublicKeyToken=b77a5c561934e089]]",
            "System.Object",
        ])
        .with_container(Container::List(
            values.into_iter().map(Value::I32).collect(),
        ))
        .into()
}

fn culture() -> Value {
    PsObject::new()
        .with_type_names(["System.Globalization.CultureInfo", "System.Object"])
        .with_to_string("en-US")
        .with_property("Name", "en-US")
        .with_property("LCID", 1033)
        .into()
}

fn host_exception(message: &str) -> Value {
    ErrorRecord::new(ErrorRecordParts {
        exception_types: vec![
            "System.Management.Automation.Host.HostException".into(),
            "System.Exception".into(),
        ],
        message: message.into(),
        fully_qualified_error_id: "HostFunctionNotImplemented".into(),
        target_object: Value::Nil,
        category: psrp::records::ErrorCategory::NOT_IMPLEMENTED,
        activity: String::new(),
        reason: "HostException".into(),
        target_name: String::new(),
        target_type: String::new(),
        details_message: None,
        script_stack_trace: None,
    })
    .to_value()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn call(id: i64, method: M, parameters: Vec<Value>) -> HostCall {
        HostCall {
            call_id: id,
            method,
            parameters,
        }
    }

    fn default_answer(c: &HostCall, id: Uuid) -> HostAnswer {
        answer(c, &HostContext::new(id))
    }

    #[test]
    fn writes_become_host_items_without_a_response() {
        let a = default_answer(
            &call(-100, M::WRITE_LINE2, vec!["hello".into()]),
            Uuid::nil(),
        );
        assert_eq!(a.item, Some(StreamItem::Host("hello".into())));
        assert!(a.response.is_none());
        let a = default_answer(
            &call(-100, M::WRITE_WARNING_LINE, vec!["careful".into()]),
            Uuid::nil(),
        );
        assert_eq!(a.item, Some(StreamItem::Warning("careful".into())));
    }

    #[test]
    fn getters_and_prompts_get_defaults() {
        let id = Uuid::new_v4();
        let a = default_answer(&call(5, M::GET_NAME, vec![]), id);
        let r = a.response.expect("GetName expects a response");
        assert_eq!(r.call_id, 5);
        assert_eq!(r.return_value, Some(Value::String("psrm".into())));
        assert!(r.error.is_none());
        let r = default_answer(&call(6, M::GET_INSTANCE_ID, vec![]), id)
            .response
            .expect("response");
        assert_eq!(r.return_value, Some(Value::Guid(id)));
        let r = default_answer(&call(7, M::READ_LINE, vec![]), id)
            .response
            .expect("response");
        assert_eq!(r.return_value, Some(Value::String(String::new())));
        // PromptForChoice(caption, message, choices, default = 2) takes the default.
        let r = default_answer(
            &call(
                8,
                M::PROMPT_FOR_CHOICE,
                vec!["c".into(), "m".into(), Value::Nil, Value::I32(2)],
            ),
            id,
        )
        .response
        .expect("response");
        assert_eq!(r.return_value, Some(Value::I32(2)));
    }

    #[test]
    fn unsupported_methods_answer_with_an_exception() {
        let r = default_answer(&call(9, M::READ_LINE_AS_SECURE_STRING, vec![]), Uuid::nil())
            .response
            .expect("a response");
        assert!(r.return_value.is_none());
        let error = r.error.expect("an error record");
        let record = ErrorRecord::from_value(&error).expect("a valid error record");
        assert!(
            record
                .message()
                .is_some_and(|m| m.contains("ReadLineAsSecureString")),
            "{:?}",
            record.message()
        );
    }

    #[derive(Debug, Default)]
    struct Recording {
        calls: Mutex<Vec<String>>,
    }

    impl PsHost for Recording {
        fn read_line_as_secure_string(&self) -> Result<String, HostError> {
            Ok("secret".into())
        }
        fn set_cursor_position(&self, position: Coordinates) {
            if let Ok(mut c) = self.calls.lock() {
                c.push(format!("cursor {},{}", position.x, position.y));
            }
        }
        fn write(&self, text: &str, colors: Option<(i32, i32)>, newline: bool) {
            if let Ok(mut c) = self.calls.lock() {
                c.push(format!("write {text:?} {colors:?} {newline}"));
            }
        }
        fn prompt_for_choice_multiple_selection(
            &self,
            _: &str,
            _: &str,
            choices: &[ChoiceDescription],
            _: &[i32],
        ) -> Result<Vec<i32>, HostError> {
            Ok((0..i32::try_from(choices.len()).unwrap_or(0)).collect())
        }
    }

    #[test]
    fn a_caller_host_is_asked_and_told() {
        let host = Arc::new(Recording::default());
        let key = SessionKey::from_bytes([7; 32]);
        let cx = HostContext {
            host: host.clone(),
            instance_id: Uuid::nil(),
            session_key: Some(key.clone()),
        };
        // Writes reach the host and still become stream items.
        let a = answer(
            &call(
                -100,
                M::WRITE_LINE3,
                vec![Value::I32(7), Value::I32(10), "hi".into()],
            ),
            &cx,
        );
        assert_eq!(a.item, Some(StreamItem::Host("hi".into())));
        // .NET sends Coordinates with upper-case adapted members.
        let position = PsObject::new()
            .with_property("X", 11)
            .with_property("Y", 12);
        answer(
            &call(-100, M::SET_CURSOR_POSITION, vec![position.into()]),
            &cx,
        );
        assert_eq!(
            *host.calls.lock().expect("calls"),
            ["write \"hi\" Some((7, 10)) true", "cursor 11,12"]
        );
        // Secure strings are encrypted with the session key.
        let r = answer(&call(3, M::READ_LINE_AS_SECURE_STRING, vec![]), &cx)
            .response
            .expect("a response");
        let v = r.return_value.expect("a value");
        assert_eq!(
            v.decrypt_secure_string(&key).map(Result::ok),
            Some(Some("secret".into()))
        );
        let choices = Value::object(PsObject::new().with_container(Container::List(vec![
            PsObject::new().with_member("label", "&Yes").into(),
            PsObject::new().with_member("label", "&No").into(),
        ])));
        let r = answer(
            &call(
                4,
                M::PROMPT_FOR_CHOICE_MULTIPLE_SELECTION,
                vec!["c".into(), "m".into(), choices, Value::Nil],
            ),
            &cx,
        )
        .response
        .expect("a response");
        let list = r.return_value.expect("a value");
        assert_eq!(list.as_list(), Some(&[Value::I32(0), Value::I32(1)][..]));
    }

    #[test]
    fn secure_strings_need_a_session_key() {
        let cx = HostContext {
            host: Arc::new(Recording::default()),
            instance_id: Uuid::nil(),
            session_key: None,
        };
        let r = answer(&call(3, M::READ_LINE_AS_SECURE_STRING, vec![]), &cx)
            .response
            .expect("a response");
        let record = ErrorRecord::from_value(&r.error.expect("an error")).expect("a record");
        assert!(record.message().is_some_and(|m| m.contains("session key")));
    }

    #[test]
    fn raw_ui_defaults_are_announced_in_key_order() {
        let raw = RawUiDefaults {
            foreground_color: 15,
            background_color: 9,
            cursor_position: Coordinates { x: 1, y: 2 },
            window_position: Coordinates { x: 3, y: 4 },
            cursor_size: 50,
            buffer_size: Size {
                width: 80,
                height: 25,
            },
            window_size: Size::default(),
            max_window_size: Size::default(),
            max_physical_window_size: Size::default(),
            window_title: "t".into(),
        };
        let info = host_info(true, Some(&raw));
        assert!(!info.is_host_null && !info.is_host_ui_null && !info.is_host_raw_ui_null);
        let data = info.host_default_data.expect("default data");
        let keys: Vec<i32> = data.iter().map(|(k, _, _)| *k).collect();
        assert_eq!(keys, (0..10).collect::<Vec<_>>());
        assert_eq!(
            Size::from_value(&data[5].2),
            Some(Size {
                width: 80,
                height: 25
            })
        );
        let ui_only = host_info(true, None);
        assert!(!ui_only.is_host_ui_null && ui_only.is_host_raw_ui_null);
        assert!(ui_only.host_default_data.is_none());
    }
}
