//! Between the engine's values and CLIXML (MS-PSRP 2.2.5): outputs and records going to the
//! client, parameters and pipeline input coming from it.

use psrp::clixml::{self, Container, PsObject as XObject, Value as X};
use psrp::crypto::SessionKey;
use psrp::messages::Payload;
use psrp::records::{
    ErrorCategory, ErrorRecord as XErrorRecord, ErrorRecordParts, InformationRecord,
    InformationalRecord, ProgressRecord, ProgressRecordType,
};

use crate::engine::{
    self, DateTime, ErrorRecord, Hashtable, PsObject, StreamRecord, TimeSpan, Value,
};

/// The PSRP message for one record a script wrote (`None` for cmd-only stdout/stderr text,
/// which a PowerShell pipeline never writes).
pub fn record_payload(record: StreamRecord) -> Option<Payload> {
    Some(match record {
        StreamRecord::Output(v) => Payload::PipelineOutput(to_clixml(&v)),
        StreamRecord::Error(e) => Payload::ErrorRecord(error_record(&e)),
        StreamRecord::Warning(m) => {
            Payload::WarningRecord(InformationalRecord::new(InformationalRecord::WARNING, m))
        }
        StreamRecord::Verbose(m) => {
            Payload::VerboseRecord(InformationalRecord::new(InformationalRecord::VERBOSE, m))
        }
        StreamRecord::Debug(m) => {
            Payload::DebugRecord(InformationalRecord::new(InformationalRecord::DEBUG, m))
        }
        StreamRecord::Information(i) => Payload::InformationRecord(InformationRecord::new(
            to_clixml(&i.message_data),
            &i.source,
            &i.time_generated.to_iso(),
            i.tags,
            &i.user,
            &i.computer,
            i.process_id,
        )),
        StreamRecord::Progress(p) => Payload::ProgressRecord(ProgressRecord {
            activity: p.activity,
            activity_id: p.activity_id,
            status_description: p.status_description,
            current_operation: p.current_operation,
            parent_activity_id: p.parent_activity_id,
            percent_complete: p.percent_complete,
            record_type: if p.completed {
                ProgressRecordType::COMPLETED
            } else {
                ProgressRecordType::PROCESSING
            },
            seconds_remaining: p.seconds_remaining,
        }),
        StreamRecord::StdOut(s) | StreamRecord::StdErr(s) => Payload::PipelineOutput(X::String(s)),
    })
}

/// An engine error record as PowerShell serializes one (exception with its base types,
/// category, ids, target).
pub fn error_record(e: &ErrorRecord) -> XErrorRecord {
    let mut types = vec![e.exception_type.clone()];
    for base in exception_bases(&e.exception_type) {
        types.push((*base).to_owned());
    }
    let (target_name, target_type) = match &e.target_object {
        None | Some(Value::Null) => (String::new(), String::new()),
        Some(v) => (v.to_string(), v.short_type_name()),
    };
    let stack = e
        .position
        .as_ref()
        .map(|p| format!("at <ScriptBlock>, <No file>: line {}", p.line));
    XErrorRecord::new(ErrorRecordParts {
        exception_types: types,
        message: e.message.clone(),
        fully_qualified_error_id: e.fully_qualified_error_id.clone(),
        target_object: e.target_object.as_ref().map_or(X::Nil, to_clixml),
        category: ErrorCategory(e.category.value()),
        activity: e.activity.clone(),
        reason: e.reason.clone(),
        target_name,
        target_type,
        details_message: None,
        script_stack_trace: stack,
    })
}

fn exception_bases(ty: &str) -> &'static [&'static str] {
    const RUNTIME: &[&str] = &[
        "System.SystemException",
        "System.Exception",
        "System.Object",
    ];
    const PS_RUNTIME: &[&str] = &[
        "System.Management.Automation.RuntimeException",
        "System.SystemException",
        "System.Exception",
        "System.Object",
    ];
    if ty == "System.Management.Automation.RuntimeException"
        || ty.starts_with("System.") && !ty.starts_with("System.Management.Automation.")
    {
        RUNTIME
    } else {
        PS_RUNTIME
    }
}

/// An engine value as CLIXML.
pub fn to_clixml(v: &Value) -> X {
    match v {
        Value::Null => X::Nil,
        Value::Bool(b) => X::Bool(*b),
        Value::Int(i) => X::I32(*i),
        Value::Long(i) => X::I64(*i),
        Value::Double(d) => X::Double(*d),
        Value::String(s) => X::String(s.clone()),
        Value::Char(c) => {
            let mut units = [0u16; 2];
            X::Char(c.encode_utf16(&mut units).first().copied().unwrap_or(0))
        }
        Value::DateTime(d) => X::DateTime(d.to_iso()),
        Value::TimeSpan(t) => timespan(t),
        Value::Guid(g) => X::Guid(*g),
        Value::Array(items) => X::object(
            XObject::new()
                .with_type_names(["System.Object[]", "System.Array", "System.Object"])
                .with_container(Container::List(items.iter().map(to_clixml).collect())),
        ),
        Value::Hashtable(h) => hashtable(h),
        Value::Object(o) => object(o),
        Value::ScriptBlock(s) => X::ScriptBlock(s.text.clone()),
        Value::ErrorRecord(e) => error_record(e).to_value(),
    }
}

fn timespan(t: &TimeSpan) -> X {
    if t.ticks >= 0 {
        let secs = t.ticks / engine::time::TICKS_PER_SECOND;
        let nanos = (t.ticks % engine::time::TICKS_PER_SECOND) * 100;
        X::duration(std::time::Duration::new(
            u64::try_from(secs).unwrap_or(0),
            u32::try_from(nanos).unwrap_or(0),
        ))
    } else {
        let secs = t.total_seconds().abs();
        X::Duration(format!("-PT{secs}S"))
    }
}

fn hashtable(h: &Hashtable) -> X {
    let names: &[&str] = if h.ordered {
        &[
            "System.Collections.Specialized.OrderedDictionary",
            "System.Object",
        ]
    } else {
        &["System.Collections.Hashtable", "System.Object"]
    };
    let entries = h
        .entries()
        .iter()
        .map(|(k, v)| (to_clixml(k), to_clixml(v)))
        .collect();
    X::object(
        XObject::new()
            .with_type_names(names.iter().copied())
            .with_container(Container::Dictionary(entries)),
    )
}

fn object(o: &PsObject) -> X {
    let mut x = XObject::new()
        .with_type_names(o.type_names.iter().map(String::as_str))
        .with_to_string(o.to_display_string());
    for (name, value) in &o.properties {
        x = if o.is_custom() {
            x.with_member(name.as_str(), to_clixml(value))
        } else {
            x.with_property(name.as_str(), to_clixml(value))
        };
    }
    X::object(x)
}

/// A CLIXML value from the client (a parameter or an input object) as an engine value.
/// SecureStrings are decrypted with the session key when there is one.
pub fn from_clixml(v: &X, key: Option<&SessionKey>) -> Value {
    match v {
        X::Nil => Value::Null,
        X::String(s)
        | X::Uri(s)
        | X::Version(s)
        | X::XmlDocument(s)
        | X::Decimal(s)
        | X::ScriptBlock(s) => {
            if let X::Decimal(_) = v
                && let Ok(d) = s.parse::<f64>()
            {
                return Value::Double(d);
            }
            Value::String(s.clone())
        }
        X::Char(c) => char::from_u32(u32::from(*c)).map_or(Value::Null, Value::Char),
        X::Bool(b) => Value::Bool(*b),
        X::DateTime(text) => {
            DateTime::parse(text, 0).map_or_else(|| Value::String(text.clone()), Value::DateTime)
        }
        X::Duration(_) => v.as_duration().map_or(Value::Null, |d| {
            Value::TimeSpan(TimeSpan {
                ticks: i64::try_from(d.as_nanos() / 100).unwrap_or(i64::MAX),
            })
        }),
        X::U8(n) => Value::Int(i32::from(*n)),
        X::I8(n) => Value::Int(i32::from(*n)),
        X::U16(n) => Value::Int(i32::from(*n)),
        X::I16(n) => Value::Int(i32::from(*n)),
        X::I32(n) => Value::Int(*n),
        X::U32(n) => Value::Long(i64::from(*n)),
        X::I64(n) => Value::Long(*n),
        X::U64(n) => i64::try_from(*n).map_or(Value::Double(*n as f64), Value::Long),
        X::Single(f) => Value::Double(f64::from(*f)),
        X::Double(d) => Value::Double(*d),
        X::Bytes(b) => Value::Array(b.iter().map(|x| Value::Int(i32::from(*x))).collect()),
        X::Guid(g) => Value::Guid(*g),
        X::SecureString(_) => match key.and_then(|k| v.decrypt_secure_string(k)) {
            Some(Ok(text)) => Value::String(text),
            _ => Value::Null,
        },
        X::ProgressRecord(p) => Value::String(p.activity.clone()),
        X::Object(o) => object_from(o, key),
    }
}

fn object_from(o: &XObject, key: Option<&SessionKey>) -> Value {
    if let Some(container) = &o.container {
        return match container {
            Container::List(items)
            | Container::Enumerable(items)
            | Container::Queue(items)
            | Container::Stack(items) => {
                Value::Array(items.iter().map(|i| from_clixml(i, key)).collect())
            }
            Container::Dictionary(entries) => {
                let mut h = Hashtable::new();
                for (k, v) in entries {
                    h.insert(from_clixml(k, key), from_clixml(v, key));
                }
                Value::Hashtable(h)
            }
        };
    }
    let is_enum = o
        .type_names
        .as_deref()
        .is_some_and(|t| t.iter().any(|n| n == clixml::ENUM_BASE_TYPES[0]));
    if is_enum && let Some(text) = &o.to_string {
        return Value::String(text.clone());
    }
    if o.adapted.is_empty()
        && o.extended.is_empty()
        && let Some(inner) = &o.value
    {
        return from_clixml(inner, key);
    }
    let mut obj = PsObject::custom();
    if let Some(names) = o.type_names.as_deref() {
        let names: Vec<String> = names
            .iter()
            .map(|n| n.strip_prefix("Deserialized.").unwrap_or(n).to_owned())
            .collect();
        if !names.is_empty() {
            obj.type_names = names;
        }
    }
    for p in o.extended.iter().chain(&o.adapted) {
        obj.set(&p.name, from_clixml(&p.value, key));
    }
    obj.to_string.clone_from(&o.to_string);
    Value::Object(Box::new(obj))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{
        ErrorCategory as Cat, InformationRecord as EngineInfo, ProgressRecord as EngineProgress,
    };

    #[test]
    fn custom_objects_keep_typed_members() {
        let v = Value::Object(Box::new(
            PsObject::custom()
                .with("Name", Value::str("a"))
                .with("Count", Value::Int(3))
                .with(
                    "When",
                    Value::DateTime(DateTime::from_civil(2026, 11, 22, 17, 0, 0, 0)),
                ),
        ));
        let text = clixml::to_clixml(&to_clixml(&v));
        assert!(
            text.contains("<T>System.Management.Automation.PSCustomObject</T>"),
            "{text}"
        );
        assert!(text.contains("<MS>"), "{text}");
        assert!(text.contains(r#"<S N="Name">a</S>"#), "{text}");
        assert!(text.contains(r#"<I32 N="Count">3</I32>"#), "{text}");
        assert!(
            text.contains(r#"<DT N="When">2026-11-22T17:00:00.0000000+00:00</DT>"#),
            "{text}"
        );
    }

    #[test]
    fn arrays_and_hashtables_become_containers() {
        let mut h = Hashtable::new();
        h.insert(Value::str("k"), Value::Long(5));
        let v = Value::Array(vec![Value::Int(1), Value::Hashtable(h)]);
        let text = clixml::to_clixml(&to_clixml(&v));
        assert!(text.contains("<LST><I32>1</I32>"), "{text}");
        assert!(
            text.contains("<DCT><En><S N=\"Key\">k</S><I64 N=\"Value\">5</I64></En></DCT>"),
            "{text}"
        );
    }

    #[test]
    fn round_trip_of_input_values() {
        for v in [
            Value::Null,
            Value::Bool(true),
            Value::Int(-4),
            Value::Long(1 << 40),
            Value::Double(2.5),
            Value::str("x"),
            Value::Array(vec![Value::Int(1), Value::str("two")]),
        ] {
            assert_eq!(from_clixml(&to_clixml(&v), None), v);
        }
        let obj = Value::Object(Box::new(PsObject::custom().with("A", Value::Int(1))));
        let back = from_clixml(&to_clixml(&obj), None);
        assert_eq!(back.property("a"), Some(Value::Int(1)));
    }

    #[test]
    fn enums_arrive_as_their_names() {
        let v = clixml::enum_value("System.Management.Automation.ActionPreference", "Stop", 1);
        assert_eq!(from_clixml(&v, None), Value::str("Stop"));
    }

    #[test]
    fn error_records_carry_category_and_exception_type() {
        let e = ErrorRecord::new(
            "System.Management.Automation.CommandNotFoundException",
            "The term 'nope' is not recognized",
            Cat::ObjectNotFound,
        )
        .with_id("CommandNotFoundException")
        .with_target(Value::str("nope"));
        let x = error_record(&e);
        assert_eq!(
            x.exception_type(),
            Some("System.Management.Automation.CommandNotFoundException")
        );
        assert_eq!(x.category(), ErrorCategory(Cat::ObjectNotFound.value()));
        assert_eq!(x.fully_qualified_error_id(), "CommandNotFoundException");
        assert_eq!(x.category_target_name(), Some("nope"));
        assert_eq!(x.message(), Some("The term 'nope' is not recognized"));
    }

    #[test]
    fn each_stream_maps_to_its_message_type() {
        use psrp::message::MessageType as T;
        let now = DateTime::from_civil(2026, 1, 2, 3, 4, 5, 0);
        let cases = [
            (StreamRecord::Output(Value::Int(1)), T::PIPELINE_OUTPUT),
            (StreamRecord::Warning("w".into()), T::WARNING_RECORD),
            (StreamRecord::Verbose("v".into()), T::VERBOSE_RECORD),
            (StreamRecord::Debug("d".into()), T::DEBUG_RECORD),
            (
                StreamRecord::Information(EngineInfo {
                    message_data: Value::str("i"),
                    source: "Write-Information".into(),
                    time_generated: now,
                    tags: vec![],
                    user: "alice".into(),
                    computer: "SERVER01".into(),
                    process_id: 4,
                }),
                T::INFORMATION_RECORD,
            ),
            (
                StreamRecord::Progress(EngineProgress {
                    activity: "a".into(),
                    status_description: "s".into(),
                    current_operation: None,
                    activity_id: 0,
                    parent_activity_id: -1,
                    percent_complete: 50,
                    seconds_remaining: -1,
                    completed: false,
                }),
                T::PROGRESS_RECORD,
            ),
        ];
        for (record, ty) in cases {
            let payload = record_payload(record).expect("a payload");
            assert_eq!(payload.message_type(), ty);
            // Every payload decodes back as the same type.
            let back = Payload::decode(ty, &payload.encode()).expect("decodes");
            assert_eq!(back.message_type(), ty);
        }
    }
}
