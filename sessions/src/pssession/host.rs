//! psrm's non-interactive host: answers the host calls a remote pipeline makes (MS-PSRP
//! 2.2.3.17) with sensible defaults, and turns host writes into [`StreamItem::Host`].
//!
//! Getters answer what a plain console host would (name `psrm`, version, an instance id,
//! `en-US`); prompts and reads answer empty or with the default choice, so a script that asks
//! for input goes on instead of hanging; anything else that wants a value gets an exception
//! naming the method, as PowerShell's own remoting host does for unsupported calls.

use psrp::clixml::{PsObject, Value};
use psrp::messages::{HostCall, HostResponse};
use psrp::records::{ErrorRecord, ErrorRecordParts, RemoteHostMethodId as M};

use super::output::{StreamItem, value_text};

/// What to do with one host call.
#[derive(Debug)]
pub(crate) struct HostAnswer {
    /// Text the call wrote to the host, if it is a write.
    pub(crate) item: Option<StreamItem>,
    /// The response to send, when the call expects one.
    pub(crate) response: Option<HostResponse>,
}

/// Answers `call` with psrp's defaults.
pub(crate) fn answer(call: &HostCall, instance_id: uuid::Uuid) -> HostAnswer {
    let text = |i: usize| call.parameters.get(i).map(value_text).unwrap_or_default();
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
    if call.call_id == HostCall::NO_RESPONSE || !call.method.expects_response() {
        return HostAnswer {
            item,
            response: None,
        };
    }
    let value: Result<Option<Value>, String> = match call.method {
        M::GET_NAME => Ok(Some("psrm".into())),
        M::GET_VERSION => Ok(Some(Value::Version(env!("CARGO_PKG_VERSION").into()))),
        M::GET_INSTANCE_ID => Ok(Some(Value::Guid(instance_id))),
        M::GET_CURRENT_CULTURE | M::GET_CURRENT_UI_CULTURE => Ok(Some(culture())),
        M::READ_LINE => Ok(Some(Value::String(String::new()))),
        M::PROMPT => Ok(Some(Value::Object(std::sync::Arc::new(
            PsObject::new()
                .with_type_names(["System.Collections.Hashtable", "System.Object"])
                .with_container(psrp::clixml::Container::Dictionary(Vec::new())),
        )))),
        // PromptForChoice(caption, message, choices, defaultChoice): take the default.
        M::PROMPT_FOR_CHOICE => Ok(Some(Value::I32(
            call.parameters
                .get(3)
                .and_then(Value::as_i32)
                .unwrap_or(0)
                .max(0),
        ))),
        M::GET_IS_RUNSPACE_PUSHED | M::GET_KEY_AVAILABLE => Ok(Some(Value::Bool(false))),
        M::GET_WINDOW_TITLE => Ok(Some("psrm".into())),
        other => Err(format!(
            "the psrm host does not support {}",
            other.name().unwrap_or("this host method")
        )),
    };
    let (return_value, error) = match value {
        Ok(v) => (v, None),
        Err(message) => (None, Some(host_exception(&message))),
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
    use super::*;

    fn call(id: i64, method: M, parameters: Vec<Value>) -> HostCall {
        HostCall {
            call_id: id,
            method,
            parameters,
        }
    }

    #[test]
    fn writes_become_host_items_without_a_response() {
        let a = answer(
            &call(-100, M::WRITE_LINE2, vec!["hello".into()]),
            uuid::Uuid::nil(),
        );
        assert_eq!(a.item, Some(StreamItem::Host("hello".into())));
        assert!(a.response.is_none());
        let a = answer(
            &call(-100, M::WRITE_WARNING_LINE, vec!["careful".into()]),
            uuid::Uuid::nil(),
        );
        assert_eq!(a.item, Some(StreamItem::Warning("careful".into())));
    }

    #[test]
    fn getters_and_prompts_get_defaults() {
        let id = uuid::Uuid::new_v4();
        let a = answer(&call(5, M::GET_NAME, vec![]), id);
        let r = a.response.expect("GetName expects a response");
        assert_eq!(r.call_id, 5);
        assert_eq!(r.return_value, Some(Value::String("psrm".into())));
        assert!(r.error.is_none());
        let r = answer(&call(6, M::GET_INSTANCE_ID, vec![]), id)
            .response
            .expect("response");
        assert_eq!(r.return_value, Some(Value::Guid(id)));
        let r = answer(&call(7, M::READ_LINE, vec![]), id)
            .response
            .expect("response");
        assert_eq!(r.return_value, Some(Value::String(String::new())));
        // PromptForChoice(caption, message, choices, default = 2) takes the default.
        let r = answer(
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
        let r = answer(
            &call(9, M::READ_LINE_AS_SECURE_STRING, vec![]),
            uuid::Uuid::nil(),
        )
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
}
