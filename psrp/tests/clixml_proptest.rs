//! Property: CLIXML serialize then deserialize is the identity on generated values.

use std::sync::Arc;

use proptest::prelude::*;
use psrp::clixml::{
    self, Container, Objs, ObjsItem, ProgressValue, Property, PsObject, Value, decode_escapes,
    encode_escapes,
};

/// Strings biased towards what needs escaping: controls, `_x`, astral characters, markup.
fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => any::<char>().prop_map(String::from),
        1 => Just("_x".to_owned()),
        1 => Just("_X0041_".to_owned()),
        1 => Just("_x000D_".to_owned()),
        1 => Just("\r\n".to_owned()),
        1 => Just("\u{0}\u{1F}\u{7F}\u{9F}".to_owned()),
        1 => Just("\u{1F600}".to_owned()),
        1 => Just("<&>\"'".to_owned()),
        1 => Just("  ".to_owned()),
    ];
    proptest::collection::vec(piece, 0..8).prop_map(|p| p.concat())
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Nil),
        text().prop_map(Value::String),
        any::<u16>().prop_map(Value::Char),
        any::<bool>().prop_map(Value::Bool),
        text().prop_map(Value::DateTime),
        text().prop_map(Value::Duration),
        any::<u8>().prop_map(Value::U8),
        any::<i8>().prop_map(Value::I8),
        any::<u16>().prop_map(Value::U16),
        any::<i16>().prop_map(Value::I16),
        any::<u32>().prop_map(Value::U32),
        any::<i32>().prop_map(Value::I32),
        any::<u64>().prop_map(Value::U64),
        any::<i64>().prop_map(Value::I64),
        any::<f32>().prop_map(|v| Value::Single(if v.is_nan() { f32::NAN } else { v })),
        any::<f64>().prop_map(|v| Value::Double(if v.is_nan() { f64::NAN } else { v })),
        text().prop_map(Value::Decimal),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(Value::Bytes),
        any::<u128>().prop_map(|v| Value::Guid(uuid::Uuid::from_u128(v))),
        text().prop_map(Value::Uri),
        text().prop_map(Value::Version),
        text().prop_map(Value::XmlDocument),
        text().prop_map(Value::ScriptBlock),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(Value::SecureString),
        (
            text(),
            any::<i32>(),
            proptest::option::of(text()),
            any::<i32>(),
            text()
        )
            .prop_map(|(activity, id, op, pc, sd)| Value::ProgressRecord(Box::new(
                ProgressValue {
                    activity,
                    activity_id: id,
                    current_operation: op,
                    parent_activity_id: -1,
                    percent_complete: pc,
                    record_type: "Processing".into(),
                    seconds_remaining: id.wrapping_neg(),
                    status_description: sd,
                }
            ))),
    ]
}

/// A few type-name lists, so generated graphs reuse them (TNRef on the wire).
fn type_names() -> impl Strategy<Value = Option<Arc<[String]>>> {
    prop_oneof![
        Just(None),
        Just(Some(vec!["System.Object".to_owned()].into())),
        Just(Some(
            vec!["Deserialized.A".to_owned(), "System.Object".to_owned()].into()
        )),
        proptest::collection::vec(text(), 0..3).prop_map(|v| Some(v.into())),
    ]
}

fn props(inner: BoxedStrategy<Value>) -> impl Strategy<Value = Vec<Property>> {
    proptest::collection::vec(
        (text(), inner).prop_map(|(name, value)| Property { name, value }),
        0..4,
    )
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 96, 6, |inner| {
        let items = proptest::collection::vec(inner.clone(), 0..5);
        let container = prop_oneof![
            items.clone().prop_map(Container::List),
            items.clone().prop_map(Container::Enumerable),
            items.clone().prop_map(Container::Queue),
            items.prop_map(Container::Stack),
            proptest::collection::vec((inner.clone(), inner.clone()), 0..4)
                .prop_map(Container::Dictionary),
        ];
        let object = (
            type_names(),
            proptest::option::of(text()),
            proptest::option::of(leaf()),
            proptest::option::of(container),
            props(inner.clone().boxed()),
            props(inner.clone().boxed()),
        )
            .prop_map(
                |(type_names, to_string, value, container, adapted, extended)| {
                    Value::object(PsObject {
                        type_names,
                        to_string,
                        value,
                        container,
                        adapted,
                        extended,
                    })
                },
            );
        prop_oneof![
            3 => object,
            // The same allocation twice: written once, then as <Ref>.
            1 => inner.prop_map(|v| {
                let shared = Arc::new(PsObject::new().with_member("v", v));
                Value::object(PsObject::new().with_container(Container::List(vec![
                    Value::Object(Arc::clone(&shared)),
                    Value::Object(shared),
                ])))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn serialize_then_deserialize_is_identity(v in value()) {
        let text = clixml::to_clixml(&v);
        let back = clixml::from_clixml(&text);
        prop_assert_eq!(back.as_ref(), Ok(&v), "{}", text);
    }

    #[test]
    fn objs_documents_round_trip(items in proptest::collection::vec(
        (proptest::option::of("[A-Za-z]{1,8}"), value()), 0..4)
    ) {
        let objs = Objs {
            version: Some("1.1.0.1".into()),
            items: items.into_iter().map(|(stream, value)| ObjsItem { stream, value }).collect(),
        };
        let text = clixml::to_clixml_document(&objs);
        prop_assert_eq!(clixml::from_objs(&text), Ok(objs));
    }

    #[test]
    fn escapes_round_trip(s in text()) {
        let encoded = encode_escapes(&s);
        prop_assert!(!encoded.chars().any(|c| c.is_control() || u32::from(c) > 0xFFFF));
        prop_assert_eq!(decode_escapes(&encoded).into_owned(), s.clone());
    }

    #[test]
    fn arbitrary_text_never_panics(s in ".{0,64}") {
        let _ = clixml::from_clixml(&s);
        let _ = clixml::from_objs(&s);
    }

    #[test]
    fn durations_round_trip(secs in any::<u64>(), ticks in 0u32..10_000_000) {
        let d = std::time::Duration::new(secs, ticks * 100);
        prop_assert_eq!(Value::duration(d).as_duration(), Some(d));
    }

    #[test]
    fn duration_text_never_panics(s in "P?[0-9DTHMS.]{0,24}") {
        let _ = Value::Duration(s).as_duration();
    }
}
