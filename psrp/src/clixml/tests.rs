use super::*;

fn round_trip(value: &Value) -> Value {
    let text = to_clixml(value);
    from_clixml(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn reads_session_capability_with_bom() {
    let text = "\u{FEFF}<Obj RefId=\"0\"><MS><Version N=\"protocolversion\">2.3</Version>\
                <Version N=\"PSVersion\">2.0</Version></MS></Obj>";
    let value = from_clixml(text).unwrap();
    let obj = value.as_object().unwrap();
    assert_eq!(
        obj.property("protocolversion").unwrap().as_version(),
        Some("2.3")
    );
    assert_eq!(obj.extended.len(), 2);
    let bytes = [b"\xEF\xBB\xBF".as_slice(), &text.as_bytes()[3..]].concat();
    assert_eq!(from_clixml_bytes(&bytes).unwrap(), value);
}

#[test]
fn every_primitive_round_trips() {
    let values = vec![
        Value::Nil,
        Value::string("a <b> & \"c\"\r\n\t_x0041_ \u{1F600}"),
        Value::string(""),
        Value::string("  "),
        Value::Char(0x41),
        Value::Bool(true),
        Value::DateTime("2009-06-17T00:00:00.1234567+02:00".into()),
        Value::Duration("PT9.0269026S".into()),
        Value::U8(255),
        Value::I8(-128),
        Value::U16(65535),
        Value::I16(-32768),
        Value::U32(u32::MAX),
        Value::I32(i32::MIN),
        Value::U64(u64::MAX),
        Value::I64(i64::MIN),
        Value::Single(1.1),
        Value::Single(f32::NAN),
        Value::Double(f64::MAX),
        Value::Double(f64::NEG_INFINITY),
        Value::Double(-0.0),
        Value::Double(1e-300),
        Value::Decimal("79228162514264337593543950335".into()),
        Value::Bytes(vec![0, 1, 2, 255]),
        Value::Guid(uuid::Uuid::from_u128(0x1234)),
        Value::Uri("http://x/?a=1&b=2".into()),
        Value::Version("1.1.0.1".into()),
        Value::XmlDocument("<a>b</a>".into()),
        Value::ScriptBlock("Get-Item 'x' | % { $_ }".into()),
        Value::SecureString(vec![9; 32]),
        Value::ProgressRecord(Box::new(ProgressValue {
            activity: "act".into(),
            activity_id: 3,
            current_operation: Some("op".into()),
            parent_activity_id: -1,
            percent_complete: 50,
            record_type: "Processing".into(),
            seconds_remaining: -1,
            status_description: "\n  ".into(),
        })),
    ];
    for value in values {
        assert_eq!(round_trip(&value), value, "{}", to_clixml(&value));
    }
}

#[test]
fn shared_type_names_become_tnref_and_shared_objects_ref() {
    let inner = Arc::new(PsObject::new().with_member("x", 1));
    let a = PsObject::new()
        .with_type_names(["T.A", "System.Object"])
        .with_member("i", Value::Object(Arc::clone(&inner)));
    let b = PsObject::new()
        .with_type_names(["T.A", "System.Object"])
        .with_member("i", Value::Object(inner));
    let list =
        Value::object(PsObject::new().with_container(Container::List(vec![a.into(), b.into()])));
    let text = to_clixml(&list);
    assert!(text.contains("<TNRef RefId=\"0\" />"), "{text}");
    assert!(text.contains("<Ref N=\"i\" RefId=\"2\" />"), "{text}");
    let back = from_clixml(&text).unwrap();
    assert_eq!(back, list);
    let items = back.as_list().unwrap();
    let (a, b) = (items[0].as_object().unwrap(), items[1].as_object().unwrap());
    assert!(Arc::ptr_eq(
        a.type_names.as_ref().unwrap(),
        b.type_names.as_ref().unwrap()
    ));
}

#[test]
fn containers_and_enums() {
    let dict = PsObject::new()
        .with_type_names(["System.Collections.Hashtable", "System.Object"])
        .with_container(Container::Dictionary(vec![
            ("k".into(), Value::I32(1)),
            (Value::I32(2), Value::Nil),
        ]));
    for container in [
        Container::Enumerable(vec![Value::Nil]),
        Container::Queue(vec![]),
        Container::Stack(vec![Value::Bool(false)]),
    ] {
        let v = Value::object(PsObject::new().with_container(container));
        assert_eq!(round_trip(&v), v);
    }
    let v = Value::object(dict);
    assert_eq!(round_trip(&v), v);
    assert_eq!(v.as_object().unwrap().dict_get("k"), Some(&Value::I32(1)));
    let e = enum_value("System.Threading.ApartmentState", "Unknown", 2);
    assert_eq!(round_trip(&e).as_i32(), Some(2));
    assert_eq!(e.as_object().unwrap().enum_value(), Some(2));
    assert!(e.as_object().unwrap().is_type("System.Enum"));
}

#[test]
fn reads_winrb_pipeline_state_template() {
    let text =
        include_str!("../../../fixtures/winrb-winrm-captures/stubs/clixml/pipeline_state.xml.erb")
            .replace("<%= pipeline_state %>", "5")
            .replace("<%= error_message %>", "it failed")
            .replace("<%= error_id %>", "it failed")
            .replace(
                "<%= category_message %>",
                "OperationStopped: (:) [], RuntimeException",
            );
    let value = from_clixml(&text).unwrap();
    let obj = value.as_object().unwrap();
    assert_eq!(obj.property_i32("PipelineState"), Some(5));
    let err = obj.property_object("ExceptionAsErrorRecord").unwrap();
    assert_eq!(err.property_i32("ErrorCategory_Category"), Some(14));
    let exc = err.property_object("Exception").unwrap();
    assert_eq!(exc.property_str("Message"), Some("it failed"));
    let info = err.property_object("InvocationInfo").unwrap();
    assert_eq!(
        info.property_str("PositionMessage"),
        Some("At line:1 char:1\r\n+ throw 'it failed'\r\n+ ~~~~~~~~~~~~~~~~~~~~~~~~")
    );
    assert_eq!(
        err.property_str("ErrorDetails_ScriptStackTrace"),
        Some("at <ScriptBlock>, <No file>: line 1")
    );
    assert_eq!(round_trip(&value), value);
}

#[test]
fn reads_stderr_objs_document() {
    let text =
        include_str!("../../../fixtures/pypsrp-captures/data/test_sanitise_clixml_with_error.xml");
    let objs = from_objs(text).unwrap();
    assert_eq!(objs.version.as_deref(), Some("1.1.0.1"));
    assert_eq!(objs.items[0].stream.as_deref(), Some("progress"));
    let first = objs.items[0].value.as_object().unwrap();
    let second = objs.items[1].value.as_object().unwrap();
    assert!(Arc::ptr_eq(
        first.type_names.as_ref().unwrap(),
        second.type_names.as_ref().unwrap()
    ));
    let Some(Value::ProgressRecord(pr)) = first.property("Record") else {
        panic!("no progress record");
    };
    assert_eq!(pr.activity, "Preparing modules for first use.");
    assert_eq!(pr.record_type, "Completed");
    assert_eq!(pr.current_operation, None);
    let errors: Vec<_> = objs
        .items
        .iter()
        .filter(|i| i.stream.as_deref() == Some("Error"))
        .collect();
    assert!(errors.len() > 3);
    assert!(errors[0].value.as_str().unwrap().ends_with("Check \r\n"));
    let again = from_objs(&to_clixml_document(&objs)).unwrap();
    assert_eq!(again, objs);
}

#[test]
fn refuses_bad_references() {
    let dangling = "<Obj RefId=\"0\"><MS><Ref N=\"a\" RefId=\"7\" /></MS></Obj>";
    assert_eq!(
        from_clixml(dangling),
        Err(ClixmlError::DanglingRef("7".into()))
    );
    let cyclic = "<Obj RefId=\"0\"><MS><Ref N=\"a\" RefId=\"0\" /></MS></Obj>";
    assert_eq!(from_clixml(cyclic), Err(ClixmlError::CyclicRef("0".into())));
    let tn = "<Obj RefId=\"0\"><TNRef RefId=\"3\" /></Obj>";
    assert_eq!(
        from_clixml(tn),
        Err(ClixmlError::DanglingTypeRef("3".into()))
    );
    let dup = "<Obj RefId=\"0\"><MS><Obj N=\"a\" RefId=\"0\" /></MS></Obj>";
    assert_eq!(
        from_clixml(dup),
        Err(ClixmlError::DuplicateRefId("0".into()))
    );
}

#[test]
fn refuses_depth_through_nesting_and_references() {
    let limits = Limits {
        max_depth: 4,
        ..Limits::default()
    };
    let nested = "<Obj><MS><Obj N=\"a\"><MS><Obj N=\"b\"><MS><Obj N=\"c\"><MS><S N=\"d\">x</S>\
                  </MS></Obj></MS></Obj></MS></Obj></MS></Obj>";
    assert_eq!(
        from_clixml_with(nested, limits),
        Err(ClixmlError::TooDeep { limit: 4 })
    );
    // Each object alone is shallow; chained references make the value deep.
    let chained = "<Obj><LST><Obj RefId=\"0\"><MS><S N=\"d\">x</S></MS></Obj>\
                   <Obj RefId=\"1\"><MS><Ref N=\"r\" RefId=\"0\" /></MS></Obj>\
                   <Obj RefId=\"2\"><MS><Ref N=\"r\" RefId=\"1\" /></MS></Obj></LST></Obj>";
    assert_eq!(
        from_clixml_with(chained, limits),
        Err(ClixmlError::TooDeep { limit: 4 })
    );
    assert!(from_clixml_with(chained, Limits::default()).is_ok());
}

#[test]
fn refuses_dtd_entities_size_and_junk() {
    let dtd = "<!DOCTYPE x [<!ENTITY a \"aaaa\">]><S>&a;</S>";
    assert_eq!(from_clixml(dtd), Err(ClixmlError::DocType));
    assert!(matches!(
        from_clixml("<S>&a;</S>"),
        Err(ClixmlError::Xml { .. })
    ));
    let limits = Limits {
        max_size: 8,
        ..Limits::default()
    };
    assert!(matches!(
        from_clixml_with("<S>123456789</S>", limits),
        Err(ClixmlError::TooLarge { .. })
    ));
    assert_eq!(from_clixml(""), Err(ClixmlError::Empty));
    assert_eq!(from_clixml("<S/><S/>"), Err(ClixmlError::TrailingContent));
    assert!(matches!(
        from_clixml("<Foo/>"),
        Err(ClixmlError::UnexpectedElement { .. })
    ));
    assert!(matches!(
        from_clixml("<I32>x</I32>"),
        Err(ClixmlError::InvalidValue { element: "I32", .. })
    ));
    assert!(matches!(
        from_clixml("<Db>inf</Db>"),
        Err(ClixmlError::InvalidValue { .. })
    ));
    assert!(matches!(
        from_clixml("<Obj>text</Obj>"),
        Err(ClixmlError::UnexpectedText { .. })
    ));
    assert!(matches!(
        from_clixml("<Obj><MS>"),
        Err(ClixmlError::Xml { .. })
    ));
    assert!(matches!(
        from_clixml("<Obj><DCT><En><S N=\"Key\">a</S></En></DCT></Obj>"),
        Err(ClixmlError::IncompleteEntry("value"))
    ));
}

#[test]
fn escapes_property_names() {
    let v = Value::object(PsObject::new().with_member("a\nb_x", "v"));
    let text = to_clixml(&v);
    assert!(text.contains("N=\"a_x000A_b_x005F_x\""), "{text}");
    assert_eq!(from_clixml(&text).unwrap(), v);
}

#[test]
fn secure_string_with_session_key() {
    let key = crate::crypto::SessionKey::from_bytes([7; 32]);
    let v =
        Value::object(PsObject::new().with_member("pw", Value::secure_string(&key, "s3cr\u{e9}t")));
    let back = round_trip(&v);
    let ss = back.as_object().unwrap().property("pw").unwrap();
    assert!(matches!(ss, Value::SecureString(b) if b.len() % 16 == 0));
    assert_eq!(
        ss.decrypt_secure_string(&key),
        Some(Ok("s3cr\u{e9}t".to_owned()))
    );
    let other = crate::crypto::SessionKey::from_bytes([8; 32]);
    assert_ne!(
        ss.decrypt_secure_string(&other),
        Some(Ok("s3cr\u{e9}t".to_owned()))
    );
    assert_eq!(Value::Nil.decrypt_secure_string(&key), None);
}

#[test]
fn default_depth_limit_is_reachable_without_overflow() {
    let nest = |levels: usize| {
        let mut text = String::new();
        for _ in 0..levels - 1 {
            text.push_str("<Obj><LST>");
        }
        text.push_str("<I32>1</I32>");
        for _ in 0..levels - 1 {
            text.push_str("</LST></Obj>");
        }
        text
    };
    let limit = Limits::default().max_depth;
    let deep = from_clixml(&nest(limit)).unwrap();
    assert_eq!(from_clixml(&to_clixml(&deep)).unwrap(), deep);
    assert_eq!(
        from_clixml(&nest(limit + 1)),
        Err(ClixmlError::TooDeep { limit })
    );
}

#[test]
fn durations_in_dotnet_form() {
    use std::time::Duration;
    for (d, text) in [
        (Duration::from_nanos(9_026_902_600), "PT9.0269026S"),
        (Duration::ZERO, "PT0S"),
        (Duration::from_secs(86_400), "P1D"),
        (Duration::from_secs(93_784), "P1DT2H3M4S"),
        (Duration::from_millis(2_147_483_647), "P24DT20H31M23.647S"),
    ] {
        let v = Value::duration(d);
        assert_eq!(v, Value::Duration(text.into()));
        assert_eq!(v.as_duration(), Some(d), "{text}");
    }
    assert_eq!(
        Value::Duration("PT2147483.647S".into()).as_duration(),
        Some(Duration::from_millis(2_147_483_647))
    );
    for bad in [
        "",
        "P",
        "PT",
        "-PT1S",
        "P1Y",
        "PT1.5.5S",
        "PTxS",
        "PT1.0000000001S",
    ] {
        assert_eq!(Value::Duration(bad.into()).as_duration(), None, "{bad}");
    }
}
