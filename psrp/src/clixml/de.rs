//! CLIXML deserializer over quick-xml events.

use std::borrow::Cow;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use uuid::Uuid;

use super::ClixmlError;
use super::escape::decode_escapes;
use super::value::{Container, Objs, ObjsItem, ProgressValue, Property, PsObject, Value};

/// Bounds on what the deserializer accepts from a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest value nesting, counting objects reached through `<Ref>` (default 100).
    pub max_depth: usize,
    /// Largest input in bytes (default 64 MiB).
    pub max_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 100,
            max_size: 64 << 20,
        }
    }
}

/// Reads one value, as a PSRP message body holds (BOM and XML declaration allowed).
///
/// # Errors
///
/// Any [`ClixmlError`]: malformed XML, unknown elements, bad primitive text, dangling or cyclic
/// references, or input beyond the default [`Limits`].
pub fn from_clixml(text: &str) -> Result<Value, ClixmlError> {
    from_clixml_with(text, Limits::default())
}

/// Like [`from_clixml`], from bytes (a UTF-8 BOM is skipped).
///
/// # Errors
///
/// [`ClixmlError::InvalidUtf8`] when the bytes are not UTF-8, otherwise as [`from_clixml`].
pub fn from_clixml_bytes(bytes: &[u8]) -> Result<Value, ClixmlError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| ClixmlError::InvalidUtf8)?;
    from_clixml(text)
}

/// Like [`from_clixml`] with explicit limits.
///
/// # Errors
///
/// As [`from_clixml`].
pub fn from_clixml_with(text: &str, limits: Limits) -> Result<Value, ClixmlError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut parser = Parser::new(text, limits)?;
    let Some((start, empty)) = parser.next_element("document")? else {
        return Err(ClixmlError::Empty);
    };
    let parsed = parser.element(start, empty, 1)?;
    if parser.next_element("document")?.is_some() {
        return Err(ClixmlError::TrailingContent);
    }
    Ok(parsed.value)
}

/// Reads a `<Objs>` document, optionally preceded by PowerShell's `#< CLIXML` marker line.
///
/// # Errors
///
/// As [`from_clixml`]; a root other than `<Objs>` is [`ClixmlError::UnexpectedElement`].
pub fn from_objs(text: &str) -> Result<Objs, ClixmlError> {
    from_objs_with(text, Limits::default())
}

/// Like [`from_objs`] with explicit limits.
///
/// # Errors
///
/// As [`from_objs`].
pub fn from_objs_with(text: &str, limits: Limits) -> Result<Objs, ClixmlError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let text = text.trim_start();
    let text = text.strip_prefix("#< CLIXML").unwrap_or(text);
    let mut parser = Parser::new(text, limits)?;
    let Some((root, empty)) = parser.next_element("document")? else {
        return Err(ClixmlError::Empty);
    };
    if root.local_name().as_ref() != b"Objs" {
        return Err(unexpected(&root, "document"));
    }
    let mut objs = Objs::default();
    for attr in root.attributes() {
        let attr = attr.map_err(|e| parser.xml_error(e.into()))?;
        if attr.key.local_name().as_ref() == b"Version" {
            let v = attr.unescape_value().map_err(|e| parser.xml_error(e))?;
            objs.version = Some(v.into_owned());
        }
    }
    if !empty {
        while let Some((start, empty)) = parser.next_element("Objs")? {
            let parsed = parser.element(start, empty, 1)?;
            objs.items.push(ObjsItem {
                stream: parsed.stream,
                value: parsed.value,
            });
        }
    }
    if parser.next_element("document")?.is_some() {
        return Err(ClixmlError::TrailingContent);
    }
    Ok(objs)
}

struct Parser<'a> {
    reader: Reader<&'a [u8]>,
    limits: Limits,
    objects: HashMap<String, (Arc<PsObject>, usize)>,
    open_objects: Vec<String>,
    type_names: HashMap<String, Arc<[String]>>,
}

/// One value element as read: its attributes, the value and its height.
struct Parsed {
    name: Option<String>,
    stream: Option<String>,
    value: Value,
    /// 1 for a primitive, 1 + the tallest child for an object.
    height: usize,
}

#[derive(Default)]
struct Attrs {
    name: Option<String>,
    ref_id: Option<String>,
    stream: Option<String>,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, limits: Limits) -> Result<Self, ClixmlError> {
        if text.len() > limits.max_size {
            return Err(ClixmlError::TooLarge {
                size: text.len(),
                limit: limits.max_size,
            });
        }
        let mut reader = Reader::from_str(text);
        let config = reader.config_mut();
        config.trim_text(false);
        config.check_end_names = true;
        config.expand_empty_elements = false;
        Ok(Self {
            reader,
            limits,
            objects: HashMap::new(),
            open_objects: Vec::new(),
            type_names: HashMap::new(),
        })
    }

    fn xml_error(&self, e: quick_xml::Error) -> ClixmlError {
        ClixmlError::Xml {
            position: self.reader.error_position(),
            message: e.to_string(),
        }
    }

    /// The next event that matters: comments, processing instructions and declarations skipped.
    fn event(&mut self) -> Result<Event<'a>, ClixmlError> {
        loop {
            let event = self.reader.read_event().map_err(|e| self.xml_error(e))?;
            match event {
                Event::Comment(_) | Event::PI(_) | Event::Decl(_) => {}
                Event::DocType(_) => return Err(ClixmlError::DocType),
                other => return Ok(other),
            }
        }
    }

    /// The next child element inside `context`, or `None` at its end (or end of input at the top).
    fn next_element(
        &mut self,
        context: &'static str,
    ) -> Result<Option<(BytesStart<'a>, bool)>, ClixmlError> {
        loop {
            match self.event()? {
                Event::Start(e) => return Ok(Some((e, false))),
                Event::Empty(e) => return Ok(Some((e, true))),
                Event::End(_) => return Ok(None),
                Event::Eof if context == "document" => return Ok(None),
                Event::Eof => return Err(self.eof()),
                Event::Text(t) => {
                    if !t.iter().all(u8::is_ascii_whitespace) {
                        return Err(ClixmlError::UnexpectedText { context });
                    }
                }
                Event::CData(t) => {
                    if !t.iter().all(u8::is_ascii_whitespace) {
                        return Err(ClixmlError::UnexpectedText { context });
                    }
                }
                Event::Comment(_) | Event::PI(_) | Event::Decl(_) | Event::DocType(_) => {}
            }
        }
    }

    fn eof(&self) -> ClixmlError {
        ClixmlError::Xml {
            position: self.reader.buffer_position(),
            message: "unexpected end of input".to_owned(),
        }
    }

    /// The text content of a leaf element up to its end tag.
    fn text(&mut self, empty: bool, element: &'static str) -> Result<Cow<'a, str>, ClixmlError> {
        let mut text: Cow<'a, str> = Cow::Borrowed("");
        if empty {
            return Ok(text);
        }
        loop {
            let piece: Cow<'a, str> = match self.event()? {
                Event::Text(t) => t.unescape().map_err(|e| self.xml_error(e))?,
                Event::CData(t) => match t.into_inner() {
                    Cow::Borrowed(b) => {
                        Cow::Borrowed(std::str::from_utf8(b).map_err(|_| ClixmlError::InvalidUtf8)?)
                    }
                    Cow::Owned(b) => {
                        Cow::Owned(String::from_utf8(b).map_err(|_| ClixmlError::InvalidUtf8)?)
                    }
                },
                Event::End(_) => return Ok(text),
                Event::Start(e) | Event::Empty(e) => return Err(unexpected(&e, element)),
                Event::Eof => return Err(self.eof()),
                Event::Comment(_) | Event::PI(_) | Event::Decl(_) | Event::DocType(_) => continue,
            };
            if text.is_empty() {
                text = piece;
            } else {
                text.to_mut().push_str(&piece);
            }
        }
    }

    fn attrs(&self, e: &BytesStart<'a>) -> Result<Attrs, ClixmlError> {
        let mut attrs = Attrs::default();
        for attr in e.attributes() {
            let attr = attr.map_err(|err| self.xml_error(err.into()))?;
            let slot = match attr.key.local_name().as_ref() {
                b"N" => &mut attrs.name,
                b"RefId" => &mut attrs.ref_id,
                b"S" => &mut attrs.stream,
                _ => continue,
            };
            let value = attr.unescape_value().map_err(|err| self.xml_error(err))?;
            *slot = Some(value.into_owned());
        }
        if let Some(name) = &mut attrs.name
            && let Cow::Owned(decoded) = decode_escapes(name)
        {
            *name = decoded;
        }
        Ok(attrs)
    }

    /// Reads one value element whose start tag was just consumed.
    fn element(
        &mut self,
        e: BytesStart<'a>,
        empty: bool,
        depth: usize,
    ) -> Result<Parsed, ClixmlError> {
        if depth > self.limits.max_depth {
            return Err(ClixmlError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        let attrs = self.attrs(&e)?;
        let (value, height) = match e.local_name().as_ref() {
            b"Obj" => self.object(attrs.ref_id.clone(), empty, depth)?,
            b"Ref" => {
                let id = attrs.ref_id.clone().ok_or(ClixmlError::MissingAttribute {
                    element: "Ref",
                    attribute: "RefId",
                })?;
                self.text(empty, "Ref")?;
                self.resolve(&id, depth)?
            }
            b"PR" => (self.progress(empty)?, 1),
            b"Nil" => {
                if !self.text(empty, "Nil")?.trim().is_empty() {
                    return Err(ClixmlError::UnexpectedText { context: "Nil" });
                }
                (Value::Nil, 1)
            }
            other => {
                let tag = primitive_tag(other).ok_or_else(|| unexpected(&e, "value"))?;
                let text = self.text(empty, tag)?;
                (primitive(tag, &text)?, 1)
            }
        };
        Ok(Parsed {
            name: attrs.name,
            stream: attrs.stream,
            value,
            height,
        })
    }

    fn resolve(&self, id: &str, depth: usize) -> Result<(Value, usize), ClixmlError> {
        match self.objects.get(id) {
            Some((obj, height)) => {
                if depth + height - 1 > self.limits.max_depth {
                    return Err(ClixmlError::TooDeep {
                        limit: self.limits.max_depth,
                    });
                }
                Ok((Value::Object(Arc::clone(obj)), *height))
            }
            None if self.open_objects.iter().any(|open| open == id) => {
                Err(ClixmlError::CyclicRef(id.to_owned()))
            }
            None => Err(ClixmlError::DanglingRef(id.to_owned())),
        }
    }

    fn object(
        &mut self,
        ref_id: Option<String>,
        empty: bool,
        depth: usize,
    ) -> Result<(Value, usize), ClixmlError> {
        if let Some(id) = &ref_id {
            if self.objects.contains_key(id) || self.open_objects.contains(id) {
                return Err(ClixmlError::DuplicateRefId(id.clone()));
            }
            self.open_objects.push(id.clone());
        }
        let mut obj = PsObject::default();
        let mut height = 1;
        if !empty {
            while let Some((child, child_empty)) = self.next_element("Obj")? {
                let h = self.object_child(&mut obj, child, child_empty, depth)?;
                height = height.max(h + 1);
            }
        }
        let obj = Arc::new(obj);
        if let Some(id) = ref_id {
            self.open_objects.retain(|open| *open != id);
            self.objects.insert(id, (Arc::clone(&obj), height));
        }
        Ok((Value::Object(obj), height))
    }

    /// Reads one child of `<Obj>`; returns the tallest value height inside it.
    fn object_child(
        &mut self,
        obj: &mut PsObject,
        e: BytesStart<'a>,
        empty: bool,
        depth: usize,
    ) -> Result<usize, ClixmlError> {
        let mut height = 0;
        match e.local_name().as_ref() {
            b"TN" => {
                if obj.type_names.is_some() {
                    return Err(ClixmlError::Duplicate("type-name list"));
                }
                let attrs = self.attrs(&e)?;
                let mut names = Vec::new();
                if !empty {
                    while let Some((t, t_empty)) = self.next_element("TN")? {
                        if t.local_name().as_ref() != b"T" {
                            return Err(unexpected(&t, "TN"));
                        }
                        names.push(decode_escapes(&self.text(t_empty, "T")?).into_owned());
                    }
                }
                let names: Arc<[String]> = names.into();
                if let Some(id) = attrs.ref_id {
                    self.type_names.insert(id, Arc::clone(&names));
                }
                obj.type_names = Some(names);
            }
            b"TNRef" => {
                if obj.type_names.is_some() {
                    return Err(ClixmlError::Duplicate("type-name list"));
                }
                let id = self
                    .attrs(&e)?
                    .ref_id
                    .ok_or(ClixmlError::MissingAttribute {
                        element: "TNRef",
                        attribute: "RefId",
                    })?;
                self.text(empty, "TNRef")?;
                let names = self
                    .type_names
                    .get(&id)
                    .ok_or(ClixmlError::DanglingTypeRef(id))?;
                obj.type_names = Some(Arc::clone(names));
            }
            b"ToString" => {
                if obj.to_string.is_some() {
                    return Err(ClixmlError::Duplicate("ToString"));
                }
                obj.to_string = Some(decode_escapes(&self.text(empty, "ToString")?).into_owned());
            }
            b"Props" | b"MS" => {
                let adapted = e.local_name().as_ref() == b"Props";
                let context = if adapted { "Props" } else { "MS" };
                let mut props = Vec::new();
                if !empty {
                    while let Some((child, child_empty)) = self.next_element(context)? {
                        let parsed = self.element(child, child_empty, depth + 1)?;
                        height = height.max(parsed.height);
                        // MS-PSRP's own CONNECT_RUNSPACEPOOL example has an unnamed <S> in <MS>.
                        props.push(Property {
                            name: parsed.name.unwrap_or_default(),
                            value: parsed.value,
                        });
                    }
                }
                let target = if adapted {
                    &mut obj.adapted
                } else {
                    &mut obj.extended
                };
                target.extend(props);
            }
            b"LST" | b"IE" | b"QUE" | b"STK" => {
                if obj.container.is_some() {
                    return Err(ClixmlError::Duplicate("container"));
                }
                let mut items = Vec::new();
                if !empty {
                    while let Some((child, child_empty)) = self.next_element("list")? {
                        let parsed = self.element(child, child_empty, depth + 1)?;
                        height = height.max(parsed.height);
                        items.push(parsed.value);
                    }
                }
                obj.container = Some(match e.local_name().as_ref() {
                    b"LST" => Container::List(items),
                    b"IE" => Container::Enumerable(items),
                    b"QUE" => Container::Queue(items),
                    _ => Container::Stack(items),
                });
            }
            b"DCT" => {
                if obj.container.is_some() {
                    return Err(ClixmlError::Duplicate("container"));
                }
                let mut entries = Vec::new();
                if !empty {
                    while let Some((en, en_empty)) = self.next_element("DCT")? {
                        if en.local_name().as_ref() != b"En" {
                            return Err(unexpected(&en, "DCT"));
                        }
                        let (entry, h) = self.entry(en_empty, depth)?;
                        height = height.max(h);
                        entries.push(entry);
                    }
                }
                obj.container = Some(Container::Dictionary(entries));
            }
            _ => {
                if obj.value.is_some() {
                    return Err(ClixmlError::Duplicate("primitive value"));
                }
                let parsed = self.element(e, empty, depth + 1)?;
                height = parsed.height;
                obj.value = Some(parsed.value);
            }
        }
        Ok(height)
    }

    fn entry(&mut self, empty: bool, depth: usize) -> Result<((Value, Value), usize), ClixmlError> {
        let mut key = None;
        let mut value = None;
        let mut height = 0;
        if !empty {
            while let Some((child, child_empty)) = self.next_element("En")? {
                let parsed = self.element(child, child_empty, depth + 1)?;
                height = height.max(parsed.height);
                let slot = match parsed.name.as_deref() {
                    Some("Key") => &mut key,
                    Some("Value") => &mut value,
                    _ if key.is_none() => &mut key,
                    _ => &mut value,
                };
                if slot.is_some() {
                    return Err(ClixmlError::Duplicate("dictionary key or value"));
                }
                *slot = Some(parsed.value);
            }
        }
        let key = key.ok_or(ClixmlError::IncompleteEntry("key"))?;
        let value = value.ok_or(ClixmlError::IncompleteEntry("value"))?;
        Ok(((key, value), height))
    }

    fn progress(&mut self, empty: bool) -> Result<Value, ClixmlError> {
        let mut pr = ProgressValue {
            activity: String::new(),
            activity_id: 0,
            current_operation: None,
            parent_activity_id: -1,
            percent_complete: -1,
            record_type: String::new(),
            seconds_remaining: -1,
            status_description: String::new(),
        };
        if empty {
            return Ok(Value::ProgressRecord(Box::new(pr)));
        }
        while let Some((child, child_empty)) = self.next_element("PR")? {
            let tag: &'static str = match child.local_name().as_ref() {
                b"AV" => "AV",
                b"AI" => "AI",
                b"S" => "S",
                b"Nil" => "Nil",
                b"PI" => "PI",
                b"PC" => "PC",
                b"T" => "T",
                b"SR" => "SR",
                b"SD" => "SD",
                _ => return Err(unexpected(&child, "PR")),
            };
            let text = self.text(child_empty, tag)?;
            let int = || parse_num::<i32>(tag, &text);
            match tag {
                "AV" => pr.activity = decode_escapes(&text).into_owned(),
                "AI" => pr.activity_id = int()?,
                "S" => pr.current_operation = Some(decode_escapes(&text).into_owned()),
                "Nil" => pr.current_operation = None,
                "PI" => pr.parent_activity_id = int()?,
                "PC" => pr.percent_complete = int()?,
                "T" => pr.record_type = decode_escapes(&text).into_owned(),
                "SR" => pr.seconds_remaining = int()?,
                _ => pr.status_description = decode_escapes(&text).into_owned(),
            }
        }
        Ok(Value::ProgressRecord(Box::new(pr)))
    }
}

fn unexpected(e: &BytesStart<'_>, context: &'static str) -> ClixmlError {
    let name = e.local_name();
    let element = String::from_utf8_lossy(name.as_ref());
    ClixmlError::UnexpectedElement {
        element: element.chars().take(64).collect(),
        context,
    }
}

fn primitive_tag(name: &[u8]) -> Option<&'static str> {
    Some(match name {
        b"S" => "S",
        b"C" => "C",
        b"B" => "B",
        b"DT" => "DT",
        b"TS" => "TS",
        b"By" => "By",
        b"SB" => "SB",
        b"U16" => "U16",
        b"I16" => "I16",
        b"U32" => "U32",
        b"I32" => "I32",
        b"U64" => "U64",
        b"I64" => "I64",
        b"Sg" => "Sg",
        b"Db" => "Db",
        b"D" => "D",
        b"BA" => "BA",
        b"G" => "G",
        b"URI" => "URI",
        b"Version" => "Version",
        b"XD" => "XD",
        b"SBK" => "SBK",
        b"SS" => "SS",
        _ => return None,
    })
}

fn primitive(tag: &'static str, text: &str) -> Result<Value, ClixmlError> {
    let string = || decode_escapes(text).into_owned();
    Ok(match tag {
        "S" => Value::String(string()),
        "C" => Value::Char(parse_num(tag, text)?),
        "B" => match text.trim() {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            _ => return Err(invalid(tag, text)),
        },
        "DT" => Value::DateTime(string()),
        "TS" => Value::Duration(string()),
        "By" => Value::U8(parse_num(tag, text)?),
        "SB" => Value::I8(parse_num(tag, text)?),
        "U16" => Value::U16(parse_num(tag, text)?),
        "I16" => Value::I16(parse_num(tag, text)?),
        "U32" => Value::U32(parse_num(tag, text)?),
        "I32" => Value::I32(parse_num(tag, text)?),
        "U64" => Value::U64(parse_num(tag, text)?),
        "I64" => Value::I64(parse_num(tag, text)?),
        "Sg" => {
            let v: f32 = parse_float(tag, text, f32::INFINITY)?;
            Value::Single(if v.is_nan() { f32::NAN } else { v })
        }
        "Db" => {
            let v: f64 = parse_float(tag, text, f64::INFINITY)?;
            Value::Double(if v.is_nan() { f64::NAN } else { v })
        }
        "D" => Value::Decimal(string()),
        "BA" => Value::Bytes(parse_base64(tag, text)?),
        "SS" => Value::SecureString(parse_base64(tag, text)?),
        "G" => Value::Guid(Uuid::parse_str(text.trim()).map_err(|_| invalid(tag, text))?),
        "URI" => Value::Uri(string()),
        "Version" => Value::Version(string()),
        "XD" => Value::XmlDocument(string()),
        _ => Value::ScriptBlock(string()),
    })
}

fn parse_num<T: FromStr>(tag: &'static str, text: &str) -> Result<T, ClixmlError> {
    text.trim().parse().map_err(|_| invalid(tag, text))
}

fn parse_float<F>(tag: &'static str, text: &str, infinity: F) -> Result<F, ClixmlError>
where
    F: FromStr + std::ops::Neg<Output = F> + Copy,
{
    let t = text.trim();
    match t {
        "INF" | "Infinity" | "\u{221E}" => return Ok(infinity),
        "-INF" | "-Infinity" | "-\u{221E}" => return Ok(-infinity),
        "NaN" => return t.parse().map_err(|_| invalid(tag, text)),
        _ => {}
    }
    // Only plain decimal forms; Rust's parser would also take "inf" or "nan" spelled other ways.
    if !t
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return Err(invalid(tag, text));
    }
    t.parse().map_err(|_| invalid(tag, text))
}

fn parse_base64(tag: &'static str, text: &str) -> Result<Vec<u8>, ClixmlError> {
    let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    BASE64.decode(compact).map_err(|_| invalid(tag, text))
}

fn invalid(element: &'static str, text: &str) -> ClixmlError {
    ClixmlError::InvalidValue {
        element,
        text: text.chars().take(64).collect(),
    }
}
