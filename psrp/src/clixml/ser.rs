//! CLIXML serializer.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::OBJS_NAMESPACE;
use super::escape::push_escaped;
use super::value::{Container, Objs, ProgressValue, Property, PsObject, Value};

/// Serializes one value (the body of a PSRP message).
///
/// Every object gets a `RefId`; an object met again (same allocation) becomes `<Ref>`; a type-name
/// list is written as `<TN>` the first time and `<TNRef>` after.
pub fn to_clixml(value: &Value) -> String {
    let mut ser = Serializer::default();
    ser.value(value, None, None);
    ser.out
}

/// Serializes a `<Objs>` document; RefIds are shared by all its items.
pub fn to_clixml_document(objs: &Objs) -> String {
    let mut ser = Serializer::default();
    ser.out.push_str("<Objs");
    if let Some(version) = &objs.version {
        ser.out.push_str(" Version=\"");
        push_xml(&mut ser.out, version, true);
        ser.out.push('"');
    }
    let _ = write!(ser.out, " xmlns=\"{OBJS_NAMESPACE}\">");
    for item in &objs.items {
        ser.value(&item.value, None, item.stream.as_deref());
    }
    ser.out.push_str("</Objs>");
    ser.out
}

#[derive(Default)]
struct Serializer<'a> {
    out: String,
    objects: HashMap<*const PsObject, u32>,
    type_names: HashMap<&'a [String], u32>,
}

impl<'a> Serializer<'a> {
    fn value(&mut self, value: &'a Value, name: Option<&str>, stream: Option<&str>) {
        let tag = value.tag();
        match value {
            Value::Object(obj) => return self.object(obj, name, stream),
            Value::ProgressRecord(pr) => return self.progress(pr, name, stream),
            _ => {}
        }
        self.open(tag, name, stream);
        match value {
            Value::Nil => {
                self.out.push_str(" />");
                return;
            }
            Value::String(s)
            | Value::Uri(s)
            | Value::XmlDocument(s)
            | Value::ScriptBlock(s)
            | Value::DateTime(s)
            | Value::Duration(s)
            | Value::Decimal(s)
            | Value::Version(s) => {
                if s.is_empty() {
                    self.out.push_str(" />");
                    return;
                }
                self.out.push('>');
                push_clixml_text(&mut self.out, s);
            }
            Value::Char(v) | Value::U16(v) => self.display(v),
            Value::Bool(b) => self.display(b),
            Value::U8(v) => self.display(v),
            Value::I8(v) => self.display(v),
            Value::I16(v) => self.display(v),
            Value::U32(v) => self.display(v),
            Value::I32(v) => self.display(v),
            Value::U64(v) => self.display(v),
            Value::I64(v) => self.display(v),
            Value::Single(v) => {
                self.out.push('>');
                push_float(&mut self.out, f64::from(*v), v.is_nan(), v.abs() < 1e-5, *v);
            }
            Value::Double(v) => {
                self.out.push('>');
                push_float(&mut self.out, *v, v.is_nan(), v.abs() < 1e-5, *v);
            }
            Value::Bytes(b) | Value::SecureString(b) => {
                self.out.push('>');
                BASE64.encode_string(b, &mut self.out);
            }
            Value::Guid(g) => self.display(g),
            Value::ProgressRecord(_) | Value::Object(_) => {}
        }
        self.close(tag);
    }

    fn display(&mut self, v: &impl std::fmt::Display) {
        let _ = write!(self.out, ">{v}");
    }

    fn open(&mut self, tag: &str, name: Option<&str>, stream: Option<&str>) {
        self.out.push('<');
        self.out.push_str(tag);
        if let Some(stream) = stream {
            self.out.push_str(" S=\"");
            push_xml(&mut self.out, stream, true);
            self.out.push('"');
        }
        if let Some(name) = name {
            self.out.push_str(" N=\"");
            push_escaped(&mut self.out, name, |out, c| push_xml_char(out, c, true));
            self.out.push('"');
        }
    }

    fn close(&mut self, tag: &str) {
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
    }

    fn object(&mut self, obj: &'a Arc<PsObject>, name: Option<&str>, stream: Option<&str>) {
        let key = Arc::as_ptr(obj);
        if let Some(id) = self.objects.get(&key) {
            let id = *id;
            self.open("Ref", name, stream);
            let _ = write!(self.out, " RefId=\"{id}\" />");
            return;
        }
        let id = u32::try_from(self.objects.len()).unwrap_or(u32::MAX);
        self.objects.insert(key, id);
        self.open("Obj", name, stream);
        let _ = write!(self.out, " RefId=\"{id}\">");
        if let Some(names) = &obj.type_names {
            if let Some(id) = self.type_names.get(&names[..]) {
                let _ = write!(self.out, "<TNRef RefId=\"{id}\" />");
            } else {
                let id = u32::try_from(self.type_names.len()).unwrap_or(u32::MAX);
                self.type_names.insert(&names[..], id);
                let _ = write!(self.out, "<TN RefId=\"{id}\">");
                for name in names.iter() {
                    self.out.push_str("<T>");
                    push_clixml_text(&mut self.out, name);
                    self.out.push_str("</T>");
                }
                self.out.push_str("</TN>");
            }
        }
        if let Some(text) = &obj.to_string {
            self.out.push_str("<ToString>");
            push_clixml_text(&mut self.out, text);
            self.out.push_str("</ToString>");
        }
        if let Some(value) = &obj.value {
            self.value(value, None, None);
        }
        if let Some(container) = &obj.container {
            let tag = container.tag();
            let _ = write!(self.out, "<{tag}>");
            match container {
                Container::List(items)
                | Container::Enumerable(items)
                | Container::Queue(items)
                | Container::Stack(items) => {
                    for item in items {
                        self.value(item, None, None);
                    }
                }
                Container::Dictionary(entries) => {
                    for (key, value) in entries {
                        self.out.push_str("<En>");
                        self.value(key, Some("Key"), None);
                        self.value(value, Some("Value"), None);
                        self.out.push_str("</En>");
                    }
                }
            }
            self.close(tag);
        }
        self.properties("Props", &obj.adapted);
        self.properties("MS", &obj.extended);
        self.out.push_str("</Obj>");
    }

    fn properties(&mut self, tag: &str, props: &'a [Property]) {
        if props.is_empty() {
            return;
        }
        let _ = write!(self.out, "<{tag}>");
        for prop in props {
            self.value(&prop.value, Some(&prop.name), None);
        }
        self.close(tag);
    }

    fn progress(&mut self, pr: &ProgressValue, name: Option<&str>, stream: Option<&str>) {
        self.open("PR", name, stream);
        self.out.push('>');
        self.text_element("AV", &pr.activity);
        let _ = write!(self.out, "<AI>{}</AI>", pr.activity_id);
        match &pr.current_operation {
            Some(op) => self.text_element("S", op),
            None => self.out.push_str("<Nil />"),
        }
        let _ = write!(
            self.out,
            "<PI>{}</PI><PC>{}</PC>",
            pr.parent_activity_id, pr.percent_complete
        );
        self.text_element("T", &pr.record_type);
        let _ = write!(self.out, "<SR>{}</SR>", pr.seconds_remaining);
        self.text_element("SD", &pr.status_description);
        self.out.push_str("</PR>");
    }

    fn text_element(&mut self, tag: &str, text: &str) {
        let _ = write!(self.out, "<{tag}>");
        push_clixml_text(&mut self.out, text);
        self.close(tag);
    }
}

/// Text content with CLIXML escapes and XML markup escaped. Runs of printable ASCII that need
/// neither are copied whole; only the characters around them go through the per-character rules
/// (bulk output is mostly such runs, and per-character pushes dominated the emulator's profile).
fn push_clixml_text(out: &mut String, text: &str) {
    out.reserve(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let run = rest
            .bytes()
            .position(|b| !is_plain_text_byte(b))
            .unwrap_or(rest.len());
        // The run is ASCII, so `run` is a character boundary.
        let Some((plain, tail)) = rest.split_at_checked(run) else {
            push_escaped(out, rest, |out, c| push_xml_char(out, c, false));
            return;
        };
        out.push_str(plain);
        let Some(c) = tail.chars().next() else {
            return;
        };
        let width = c.len_utf8();
        if c == '_' {
            // `_x` / `_X` must not read as an escape (the rule needs the next character).
            if matches!(tail.as_bytes().get(1), Some(b'x' | b'X')) {
                out.push_str("_x005F_");
            } else {
                out.push('_');
            }
        } else {
            let one = tail.get(..width).unwrap_or_default();
            push_escaped(out, one, |out, c| push_xml_char(out, c, false));
        }
        rest = tail.get(width..).unwrap_or_default();
    }
}

/// Printable ASCII that neither XML markup nor the CLIXML escapes touch.
fn is_plain_text_byte(b: u8) -> bool {
    matches!(b, 0x20..=0x7E) && !matches!(b, b'&' | b'<' | b'>' | b'_')
}

fn push_xml(out: &mut String, text: &str, attribute: bool) {
    for c in text.chars() {
        push_xml_char(out, c, attribute);
    }
}

fn push_xml_char(out: &mut String, c: char, attribute: bool) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' if attribute => out.push_str("&quot;"),
        c => out.push(c),
    }
}

/// Writes a float the way `XmlConvert` reads it: `NaN`, `INF`, `-INF`, or a shortest round-trip
/// decimal (exponent form for very large or small magnitudes).
fn push_float<F: std::fmt::Display + std::fmt::LowerExp>(
    out: &mut String,
    wide: f64,
    nan: bool,
    tiny: bool,
    v: F,
) {
    if nan {
        out.push_str("NaN");
    } else if wide.is_infinite() {
        out.push_str(if wide > 0.0 { "INF" } else { "-INF" });
    } else if wide.abs() >= 1e16 || (tiny && wide != 0.0) {
        let _ = write!(out, "{v:e}");
    } else {
        let _ = write!(out, "{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The per-character rules the fast path must agree with.
    fn reference(text: &str) -> String {
        let mut out = String::new();
        push_escaped(&mut out, text, |out, c| push_xml_char(out, c, false));
        out
    }

    fn fast(text: &str) -> String {
        let mut out = String::new();
        push_clixml_text(&mut out, text);
        out
    }

    #[test]
    fn text_escapes_markup_controls_and_literal_underscore_x() {
        assert_eq!(fast("plain text"), "plain text");
        assert_eq!(fast("a<b>&c"), "a&lt;b&gt;&amp;c");
        assert_eq!(
            fast("_x0041_ and _X and _y _"),
            "_x005F_x0041_ and _x005F_X and _y _"
        );
        assert_eq!(fast("tab\there\r\n"), "tab_x0009_here_x000D__x000A_");
        assert_eq!(fast("é ü \u{85} 😀"), "é ü _x0085_ _xD83D__xDE00_");
        assert_eq!(fast(""), "");
        assert_eq!(fast("_"), "_");
    }

    proptest! {
        #[test]
        fn fast_path_matches_the_per_character_rules(text in "(?s).{0,64}") {
            prop_assert_eq!(fast(&text), reference(&text));
        }

        #[test]
        fn fast_path_matches_on_markup_heavy_text(text in "[a-z_xX<>&\"' \\t\\n\u{80}-\u{a0}é😀]{0,64}") {
            prop_assert_eq!(fast(&text), reference(&text));
        }
    }
}
