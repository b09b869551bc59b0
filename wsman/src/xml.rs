//! A small owned XML tree over quick-xml, hardened for peer input.
//!
//! Envelopes are parsed into [`Element`]s first (namespace URI + local name, resolved attributes,
//! children), then the typed layer walks the tree. Namespaces are matched by URI, never by prefix;
//! the prefix is kept only so opaque content re-encodes the way it arrived.
//!
//! The reader refuses DTDs, entity references other than the five predefined ones and character
//! references, documents over a size limit (checked before parsing), nesting deeper than a limit
//! and documents with too many elements or attributes. See [`DecodeLimits`].

use std::borrow::Cow;
use std::fmt::Write as _;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{QName, ResolveResult};
use quick_xml::reader::NsReader;

use crate::error::DecodeError;
use crate::ns;

/// Limits applied while parsing peer XML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest document accepted, in bytes (checked before parsing).
    pub max_bytes: usize,
    /// Deepest element nesting accepted (the root element is depth 1).
    pub max_depth: usize,
    /// Most elements accepted in one document.
    pub max_elements: usize,
    /// Most attributes accepted on one element.
    pub max_attributes_per_element: usize,
    /// Most attributes accepted in one document.
    pub max_attributes: usize,
}

impl DecodeLimits {
    /// Default maximum document size: 4 MiB (Windows' MaxEnvelopeSizekb defaults to 500 KiB).
    pub const DEFAULT_MAX_BYTES: usize = 4 * 1024 * 1024;
    /// Default maximum nesting depth.
    pub const DEFAULT_MAX_DEPTH: usize = 64;
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_bytes: Self::DEFAULT_MAX_BYTES,
            max_depth: Self::DEFAULT_MAX_DEPTH,
            max_elements: 200_000,
            max_attributes_per_element: 64,
            max_attributes: 400_000,
        }
    }
}

/// An XML element: namespace URI, local name, attributes and children.
///
/// Used for content this crate does not model (unknown headers, WMI objects, fault details), so
/// it survives a decode/encode round trip.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// Namespace URI, `None` when the name is in no namespace.
    pub ns: Option<Cow<'static, str>>,
    /// Local name.
    pub name: String,
    /// The prefix it arrived with (`None` for the default namespace); reused when re-encoding.
    pub prefix: Option<String>,
    /// Attributes (namespace declarations excluded), in document order.
    pub attributes: Vec<Attribute>,
    /// Child elements and text, in document order.
    pub children: Vec<Node>,
    /// For a `s:Value` holding a QName (fault codes): the namespace its prefix resolved to.
    pub(crate) text_ns: Option<Cow<'static, str>>,
}

/// An attribute with its namespace resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Namespace URI (unprefixed attributes have none).
    pub ns: Option<Cow<'static, str>>,
    /// Local name.
    pub name: String,
    /// The prefix it arrived with.
    pub prefix: Option<String>,
    /// Unescaped value.
    pub value: String,
}

/// A child of an [`Element`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A nested element.
    Element(Element),
    /// Character data (text and CDATA, merged, unescaped).
    Text(String),
}

impl Element {
    /// A new element in namespace `ns` (no attributes, no children).
    pub fn new(ns: Option<&str>, name: impl Into<String>) -> Self {
        Self {
            ns: ns.map(intern),
            name: name.into(),
            ..Self::default()
        }
    }

    /// Whether this element is `{ns}name`.
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.name == name && self.ns.as_deref() == Some(ns)
    }

    /// The child elements.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The first child element `{ns}name`.
    pub fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(ns, name))
    }

    /// The value of the unqualified attribute `name` (or, failing that, any attribute with that
    /// local name: `mustUnderstand` arrives both ways).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.ns.is_none() && a.name == name)
            .or_else(|| self.attributes.iter().find(|a| a.name == name))
            .map(|a| a.value.as_str())
    }

    /// The value of the attribute `{ns}name`.
    pub fn attr_ns(&self, ns: &str, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name == name && a.ns.as_deref() == Some(ns))
            .map(|a| a.value.as_str())
    }

    /// All text directly inside this element, concatenated.
    pub fn text(&self) -> Cow<'_, str> {
        let mut texts = self.children.iter().filter_map(|n| match n {
            Node::Text(t) => Some(t.as_str()),
            Node::Element(_) => None,
        });
        let Some(first) = texts.next() else {
            return Cow::Borrowed("");
        };
        match texts.next() {
            None => Cow::Borrowed(first),
            Some(second) => {
                let mut s = String::from(first);
                s.push_str(second);
                texts.for_each(|t| s.push_str(t));
                Cow::Owned(s)
            }
        }
    }

    /// Adds an unqualified attribute (builder style).
    pub fn with_attr(mut self, name: &str, value: impl Into<String>) -> Self {
        self.attributes.push(Attribute {
            ns: None,
            name: name.to_owned(),
            prefix: None,
            value: value.into(),
        });
        self
    }

    /// Adds a text child (builder style).
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.children.push(Node::Text(text.into()));
        self
    }

    /// Adds an element child (builder style).
    pub fn with_child(mut self, child: Element) -> Self {
        self.children.push(Node::Element(child));
        self
    }
}

/// Returns a `'static` borrow for the namespaces this crate knows, an owned copy otherwise.
pub(crate) fn intern(uri: &str) -> Cow<'static, str> {
    match ns::KNOWN.iter().find(|k| **k == uri) {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Owned(uri.to_owned()),
    }
}

/// Parses a document into its root element, enforcing `limits`.
pub(crate) fn parse(input: &[u8], limits: &DecodeLimits) -> Result<Element, DecodeError> {
    if input.len() > limits.max_bytes {
        return Err(DecodeError::TooLarge {
            size: input.len(),
            limit: limits.max_bytes,
        });
    }
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let text = std::str::from_utf8(input).map_err(|e| DecodeError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    Parser::new(text, limits).run()
}

struct Parser<'i, 'l> {
    reader: NsReader<&'i [u8]>,
    limits: &'l DecodeLimits,
    stack: Vec<Element>,
    elements: usize,
    attributes: usize,
    root: Option<Element>,
}

impl<'i, 'l> Parser<'i, 'l> {
    fn new(text: &'i str, limits: &'l DecodeLimits) -> Self {
        let mut reader = NsReader::from_str(text);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        config.trim_text_start = false;
        config.trim_text_end = false;
        Self {
            reader,
            limits,
            stack: Vec::new(),
            elements: 0,
            attributes: 0,
            root: None,
        }
    }

    fn run(mut self) -> Result<Element, DecodeError> {
        loop {
            let position = self.reader.buffer_position();
            let (resolved, event) = self
                .reader
                .read_resolved_event()
                .map_err(|e| malformed(position, &e))?;
            let resolved_ns = match resolved {
                ResolveResult::Bound(n) => Some(namespace(n.as_ref(), position)?),
                ResolveResult::Unbound => None,
                ResolveResult::Unknown(p) => {
                    return Err(DecodeError::UnknownPrefix {
                        prefix: String::from_utf8_lossy(&p).into_owned(),
                    });
                }
            };
            match event {
                Event::Start(start) => {
                    let el = self.open(&start, resolved_ns, position)?;
                    self.stack.push(el);
                }
                Event::Empty(start) => {
                    let el = self.open(&start, resolved_ns, position)?;
                    self.close(el)?;
                }
                Event::End(_) => {
                    let Some(mut el) = self.stack.pop() else {
                        return Err(DecodeError::MalformedXml {
                            position,
                            message: "unexpected end tag".into(),
                        });
                    };
                    finish(&mut el);
                    if el.name == "Value" && el.ns.as_deref() == Some(ns::SOAP) {
                        self.resolve_qname_text(&mut el)?;
                    }
                    self.close(el)?;
                }
                Event::Text(t) => {
                    let text = t.unescape().map_err(|e| entity_error(position, &e))?;
                    self.push_text(text, position)?;
                }
                Event::CData(c) => {
                    let raw = c.into_inner();
                    let text = std::str::from_utf8(&raw).map_err(|_| DecodeError::InvalidUtf8 {
                        offset: usize::try_from(position).unwrap_or(usize::MAX),
                    })?;
                    self.push_text(Cow::Owned(text.to_owned()), position)?;
                }
                Event::DocType(_) => return Err(DecodeError::DtdNotAllowed),
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
                Event::Eof => break,
            }
        }
        if !self.stack.is_empty() {
            return Err(DecodeError::MalformedXml {
                position: self.reader.buffer_position(),
                message: "unexpected end of document".into(),
            });
        }
        self.root.ok_or(DecodeError::MalformedXml {
            position: 0,
            message: "no root element".into(),
        })
    }

    fn open(
        &mut self,
        start: &BytesStart<'_>,
        ns: Option<Cow<'static, str>>,
        position: u64,
    ) -> Result<Element, DecodeError> {
        if self.root.is_some() {
            return Err(DecodeError::MalformedXml {
                position,
                message: "content after the root element".into(),
            });
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(DecodeError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(DecodeError::TooManyElements {
                limit: self.limits.max_elements,
            });
        }
        let qname = start.name();
        let name = utf8(qname.local_name().into_inner(), position)?.to_owned();
        let prefix = match qname.prefix() {
            Some(p) => Some(utf8(p.into_inner(), position)?.to_owned()),
            None => None,
        };
        if prefix.as_deref() == Some("xmlns") {
            return Err(DecodeError::MalformedXml {
                position,
                message: "element names must not use the reserved prefix `xmlns`".into(),
            });
        }
        if !is_xml_name(&name) || prefix.as_deref().is_some_and(|p| !is_xml_name(p)) {
            return Err(DecodeError::MalformedXml {
                position,
                message: "an element name is empty or not an XML name".into(),
            });
        }
        let mut attributes = Vec::new();
        for attr in start.attributes() {
            let attr = attr.map_err(|e| malformed(position, &e.into()))?;
            // XML forbids a raw `<` in any attribute value (quick-xml lets it through); in a
            // namespace declaration it made the URI change meaning across a round trip.
            if attr.value.contains(&b'<') {
                return Err(DecodeError::MalformedXml {
                    position,
                    message: "`<` in an attribute value".into(),
                });
            }
            if attr.key.as_namespace_binding().is_some() {
                let uri = namespace(&attr.value, position)?;
                refuse_control_chars(&uri, position)?;
                continue;
            }
            if attributes.len() >= self.limits.max_attributes_per_element {
                return Err(DecodeError::TooManyAttributes {
                    limit: self.limits.max_attributes_per_element,
                });
            }
            self.attributes += 1;
            if self.attributes > self.limits.max_attributes {
                return Err(DecodeError::TooManyAttributes {
                    limit: self.limits.max_attributes,
                });
            }
            let (resolved, local) = self.reader.resolve_attribute(attr.key);
            let attr_ns = match resolved {
                ResolveResult::Bound(n) => Some(namespace(n.as_ref(), position)?),
                ResolveResult::Unbound => None,
                ResolveResult::Unknown(p) => {
                    return Err(DecodeError::UnknownPrefix {
                        prefix: String::from_utf8_lossy(&p).into_owned(),
                    });
                }
            };
            let value = attr
                .unescape_value()
                .map_err(|e| entity_error(position, &e))?
                .into_owned();
            refuse_control_chars(&value, position)?;
            let prefix = match attr.key.prefix() {
                Some(p) => Some(utf8(p.into_inner(), position)?.to_owned()),
                None => None,
            };
            let name = utf8(local.into_inner(), position)?.to_owned();
            if !is_xml_name(&name) || prefix.as_deref().is_some_and(|p| !is_xml_name(p)) {
                return Err(DecodeError::MalformedXml {
                    position,
                    message: "an attribute name is empty or not an XML name".into(),
                });
            }
            attributes.push(Attribute {
                ns: attr_ns,
                name,
                prefix,
                value,
            });
        }
        Ok(Element {
            ns,
            name,
            prefix,
            attributes,
            children: Vec::new(),
            text_ns: None,
        })
    }

    fn close(&mut self, el: Element) -> Result<(), DecodeError> {
        match self.stack.last_mut() {
            Some(parent) => parent.children.push(Node::Element(el)),
            None => self.root = Some(el),
        }
        Ok(())
    }

    fn push_text(&mut self, text: Cow<'_, str>, position: u64) -> Result<(), DecodeError> {
        refuse_control_chars(&text, position)?;
        let Some(parent) = self.stack.last_mut() else {
            if text.trim().is_empty() {
                return Ok(());
            }
            return Err(DecodeError::MalformedXml {
                position,
                message: "text outside the root element".into(),
            });
        };
        if let Some(Node::Text(prev)) = parent.children.last_mut() {
            prev.push_str(&text);
        } else {
            parent.children.push(Node::Text(text.into_owned()));
        }
        Ok(())
    }

    /// Resolves the prefix of a QName text (`s:Value`). A well-formed QName whose prefix is
    /// not declared is refused, as an element name with one is: writing it back would bind the
    /// prefix to whatever the writer declares and change its meaning. Text that is not shaped
    /// like a QName (`http://…`) is left unresolved.
    fn resolve_qname_text(&self, el: &mut Element) -> Result<(), DecodeError> {
        let text = el.text();
        let qname = text.trim();
        let Some((prefix, local)) = qname.split_once(':') else {
            return Ok(());
        };
        let ncname = |s: &str| {
            s.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
                && s.chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        };
        if !ncname(prefix) || !ncname(local) {
            return Ok(());
        }
        match self.reader.resolve_element(QName(qname.as_bytes())) {
            (ResolveResult::Bound(n), _) => el.text_ns = namespace(n.as_ref(), 0).ok(),
            (ResolveResult::Unknown(_), _) => {
                return Err(DecodeError::UnknownPrefix {
                    prefix: prefix.to_owned(),
                });
            }
            (ResolveResult::Unbound, _) => {}
        }
        Ok(())
    }
}

/// Drops whitespace-only text in element content (pretty-printing), keeps it in text-only content.
fn finish(el: &mut Element) {
    let has_elements = el.children.iter().any(|n| matches!(n, Node::Element(_)));
    if has_elements {
        el.children.retain(|n| match n {
            Node::Text(t) => !t.trim().is_empty(),
            Node::Element(_) => true,
        });
    }
}

/// A namespace URI from a declaration: the resolver hands it over still escaped.
fn namespace(raw: &[u8], position: u64) -> Result<Cow<'static, str>, DecodeError> {
    let raw = utf8(raw, position)?;
    if !raw.contains('&') {
        return Ok(intern(raw));
    }
    let unescaped = quick_xml::escape::unescape(raw).map_err(|e| escape_error(position, &e))?;
    Ok(intern(&unescaped))
}

/// XML 1.0 allows no control characters but tab, line feed and carriage return, written or as
/// character references (`&#0;`); quick-xml lets them through. Text holding them cannot be
/// written back as XML a strict reader (Windows' included) accepts.
fn refuse_control_chars(text: &str, position: u64) -> Result<(), DecodeError> {
    if text
        .bytes()
        .any(|b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
    {
        return Err(DecodeError::MalformedXml {
            position,
            message: "a control character XML does not allow".into(),
        });
    }
    Ok(())
}

/// Whether `s` is a non-colonized XML name (XML 1.0 5th edition `NCName`, with any
/// non-ASCII character accepted): quick-xml lets `<>` or `<1a>` through, and what the
/// decoder keeps must encode back to well-formed XML.
fn is_xml_name(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let start = |c: char| c.is_ascii_alphabetic() || c == '_' || !c.is_ascii();
    start(first) && chars.all(|c| start(c) || c.is_ascii_digit() || c == '-' || c == '.')
}

fn utf8(bytes: &[u8], position: u64) -> Result<&str, DecodeError> {
    std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8 {
        offset: usize::try_from(position).unwrap_or(usize::MAX),
    })
}

fn malformed(position: u64, e: &quick_xml::Error) -> DecodeError {
    if let quick_xml::Error::Escape(esc) = e {
        return escape_error(position, esc);
    }
    DecodeError::MalformedXml {
        position,
        message: e.to_string(),
    }
}

fn entity_error(position: u64, e: &quick_xml::Error) -> DecodeError {
    malformed(position, e)
}

fn escape_error(position: u64, e: &quick_xml::escape::EscapeError) -> DecodeError {
    match e {
        quick_xml::escape::EscapeError::UnrecognizedEntity(_, name) => {
            DecodeError::EntityNotAllowed {
                entity: name.clone(),
            }
        }
        other => DecodeError::MalformedXml {
            position,
            message: other.to_string(),
        },
    }
}

/// An XML writer with a namespace scope, used to encode envelopes and opaque content.
#[derive(Debug)]
pub(crate) struct Writer {
    pub(crate) out: String,
    /// In-scope bindings added while writing opaque content: (prefix or "" for default, uri).
    scope: Vec<(String, String)>,
}

impl Writer {
    pub(crate) fn with_capacity(cap: usize, root_bindings: &[(&str, &str)]) -> Self {
        Self {
            out: String::with_capacity(cap),
            scope: root_bindings
                .iter()
                .map(|(p, u)| ((*p).to_owned(), (*u).to_owned()))
                .collect(),
        }
    }

    /// `<prefix:name` (caller adds attributes, then `end_start` / `end_empty`).
    pub(crate) fn start(&mut self, qname: &str) {
        self.out.push('<');
        self.out.push_str(qname);
    }

    pub(crate) fn attr(&mut self, name: &str, value: &str) {
        self.out.push(' ');
        self.out.push_str(name);
        self.out.push_str("=\"");
        escape_into(&mut self.out, value, true);
        self.out.push('"');
    }

    pub(crate) fn end_start(&mut self) {
        self.out.push('>');
    }

    pub(crate) fn end_empty(&mut self) {
        self.out.push_str("/>");
    }

    pub(crate) fn close(&mut self, qname: &str) {
        self.out.push_str("</");
        self.out.push_str(qname);
        self.out.push('>');
    }

    pub(crate) fn text(&mut self, text: &str) {
        escape_into(&mut self.out, text, false);
    }

    /// `<qname>text</qname>`.
    pub(crate) fn leaf(&mut self, qname: &str, text: &str) {
        self.start(qname);
        self.end_start();
        self.text(text);
        self.close(qname);
    }

    /// Writes an opaque element, declaring whatever namespaces it needs that are not in scope.
    pub(crate) fn element(&mut self, el: &Element) {
        let mark = self.scope.len();
        let el_ns = el.ns.as_deref().unwrap_or("");
        // A prefix needs a namespace: content without one is written unprefixed.
        let prefix = if el.ns.is_none() {
            ""
        } else {
            el.prefix.as_deref().unwrap_or("")
        };
        let qname = qualified(prefix, &el.name);
        self.start(&qname);
        let mut decls: Vec<(String, String)> = Vec::new();
        let default_ok = prefix.is_empty() && el_ns.is_empty() && self.lookup("").is_none();
        if self.lookup(prefix) != Some(el_ns) && !default_ok {
            decls.push((prefix.to_owned(), el_ns.to_owned()));
            self.scope.push((prefix.to_owned(), el_ns.to_owned()));
        }
        let mut attr_names = Vec::with_capacity(el.attributes.len());
        for a in &el.attributes {
            let name = match (&a.ns, a.prefix.as_deref()) {
                (None, _) => a.name.clone(),
                (Some(uri), _) if uri == ns::XML => format!("xml:{}", a.name),
                (Some(uri), p) => {
                    // Keep the prefix it arrived with (redeclaring it here if an ancestor binds
                    // it differently), unless this element already binds it to another URI.
                    let p = match p {
                        Some(p)
                            if !p.is_empty()
                                && p != "xmlns"
                                && !decls.iter().any(|(dp, du)| dp == p && du != uri.as_ref()) =>
                        {
                            p.to_owned()
                        }
                        _ => self.fresh_prefix(),
                    };
                    if self.lookup(&p) != Some(uri) {
                        decls.push((p.clone(), uri.to_string()));
                        self.scope.push((p.clone(), uri.to_string()));
                    }
                    format!("{p}:{}", a.name)
                }
            };
            attr_names.push(name);
        }
        // A QName in the text (a fault subcode kept as received) keeps the namespace it was
        // read with: bind its prefix here when the scope binds it otherwise.
        let mut qname_text = None;
        if let Some(uri) = el.text_ns.as_deref()
            && !el.children.iter().any(|n| matches!(n, Node::Element(_)))
        {
            let text = el.text();
            if let Some((p, local)) = text.trim().split_once(':')
                && self.lookup(p) != Some(uri)
            {
                let reusable = !p.is_empty()
                    && !matches!(p, "xml" | "xmlns")
                    && !decls.iter().any(|(dp, _)| dp == p);
                let p = if reusable {
                    p.to_owned()
                } else {
                    let fresh = self.fresh_prefix();
                    qname_text = Some(format!("{fresh}:{local}"));
                    fresh
                };
                decls.push((p.clone(), uri.to_owned()));
                self.scope.push((p, uri.to_owned()));
            }
        }
        for (p, u) in &decls {
            if p.is_empty() {
                self.attr("xmlns", u);
            } else {
                self.attr(&format!("xmlns:{p}"), u);
            }
        }
        for (a, name) in el.attributes.iter().zip(&attr_names) {
            self.attr(name, &a.value);
        }
        if el.children.is_empty() {
            self.end_empty();
        } else {
            self.end_start();
            if let Some(text) = &qname_text {
                self.text(text);
            } else {
                for child in &el.children {
                    match child {
                        Node::Element(e) => self.element(e),
                        Node::Text(t) => self.text(t),
                    }
                }
            }
            self.close(&qname);
        }
        self.scope.truncate(mark);
    }

    /// Writes `text` as a QName in namespace `uri`, returning the declaration to add if the
    /// namespace has no prefix in scope.
    pub(crate) fn qname_for(&self, uri: &str, local: &str) -> (String, Option<(String, String)>) {
        // The reserved `xmlns` namespace cannot be declared; its prefix is always bound.
        if uri == XMLNS {
            return (format!("xmlns:{local}"), None);
        }
        if let Some((p, _)) = self
            .scope
            .iter()
            .rev()
            .find(|(p, u)| u == uri && !p.is_empty())
        {
            return (format!("{p}:{local}"), None);
        }
        let p = "q".to_owned();
        (format!("{p}:{local}"), Some((p, uri.to_owned())))
    }

    fn lookup(&self, prefix: &str) -> Option<&str> {
        self.scope
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, u)| u.as_str())
    }

    fn fresh_prefix(&self) -> String {
        let mut i = 0usize;
        loop {
            let p = format!("ns{i}");
            if self.lookup(&p).is_none() {
                return p;
            }
            i += 1;
        }
    }
}

/// The namespace the reserved `xmlns` prefix is bound to.
const XMLNS: &str = "http://www.w3.org/2000/xmlns/";

fn qualified(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        let mut s = String::with_capacity(prefix.len() + name.len() + 1);
        let _ = write!(s, "{prefix}:{name}");
        s
    }
}

/// Escapes `text` for element content (`attr = false`) or a double-quoted attribute value.
/// Control characters XML 1.0 cannot carry at all (not even as character references) become
/// U+FFFD, so what we write always parses: a fault echoing a peer's garbage stays readable.
pub(crate) fn escape_into(out: &mut String, text: &str, attr: bool) {
    let forbidden = |b: u8| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r');
    let needs = |b: u8| {
        matches!(b, b'&' | b'<' | b'>' | b'\r')
            || (attr && matches!(b, b'"' | b'\n' | b'\t'))
            || forbidden(b)
    };
    let bytes = text.as_bytes();
    let mut last = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !needs(b) {
            continue;
        }
        out.push_str(&text[last..i]);
        out.push_str(match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\r' => "&#13;",
            b'\n' => "&#10;",
            b'\t' => "&#9;",
            _ => "\u{FFFD}",
        });
        last = i + 1;
    }
    out.push_str(&text[last..]);
}
