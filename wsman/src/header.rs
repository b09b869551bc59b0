//! SOAP headers (MS-WSMV 2.2.4): addressing, resource, selectors, options and timeouts.

use std::time::Duration;

use crate::action::Action;
use crate::codec::{self, sub};
use crate::error::DecodeError;
use crate::ns;
use crate::xml::{Element, Writer};

id_newtype! {
    /// A WS-Addressing message id (`uuid:…`), `a:MessageID` / `a:RelatesTo`.
    MessageId
}

id_newtype! {
    /// A shell's id, from the `ShellId` selector or `rsp:ShellId`.
    ShellId
}

id_newtype! {
    /// A command's id (`CommandId` attributes and `rsp:CommandId`).
    CommandId
}

/// The SOAP header block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `a:Action` (required).
    pub action: Action,
    /// `a:MessageID` (required).
    pub message_id: MessageId,
    /// `a:RelatesTo`: on replies, the request's MessageID.
    pub relates_to: Option<MessageId>,
    /// `a:To`. Not validated: some clients send a fixed fake host.
    pub to: Option<String>,
    /// `a:ReplyTo/a:Address`.
    pub reply_to: Option<String>,
    /// `w:ResourceURI`.
    pub resource_uri: Option<String>,
    /// `w:MaxEnvelopeSize`, in bytes.
    pub max_envelope_size: Option<u32>,
    /// `w:OperationTimeout`.
    pub operation_timeout: Option<Duration>,
    /// `w:Locale xml:lang`.
    pub locale: Option<String>,
    /// `p:DataLocale xml:lang`.
    pub data_locale: Option<String>,
    /// `p:SessionId`: identifies the client across Disconnect / Reconnect.
    pub session_id: Option<String>,
    /// `w:SelectorSet`.
    pub selectors: SelectorSet,
    /// `w:OptionSet`.
    pub options: OptionSet,
    /// `rsp:CompressionType`.
    pub compression_type: Option<String>,
    /// `p:OperationID`.
    pub operation_id: Option<String>,
    /// `p:SequenceId`.
    pub sequence_id: Option<u64>,
    /// `p:ActivityId` (Windows adds it to replies).
    pub activity_id: Option<String>,
    /// Header elements this crate does not model, kept so they round-trip.
    pub other: Vec<Element>,
    /// Known headers whose value did not parse (e.g. `OperationTimeout` `PT-1S`). They are kept
    /// here, with the reason, instead of failing the whole envelope, so a server can still answer
    /// with `a:InvalidMessageInformationHeader` and the right RelatesTo.
    pub malformed: Vec<MalformedHeader>,
}

/// A known header whose value did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedHeader {
    /// The element as received.
    pub element: Element,
    /// Why it was refused.
    pub error: DecodeError,
}

/// `w:SelectorSet`: ordered name/value pairs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SelectorSet(pub Vec<Selector>);

/// One `w:Selector Name="…"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// The `Name` attribute.
    pub name: String,
    /// The text value.
    pub value: String,
}

/// `w:OptionSet`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OptionSet(pub Vec<WsOption>);

/// One `w:Option`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsOption {
    /// The `Name` attribute (e.g. `protocolversion`, `WINRS_NOPROFILE`).
    pub name: String,
    /// The text value.
    pub value: String,
    /// The `MustComply` attribute.
    pub must_comply: Option<bool>,
    /// The `Type` attribute.
    pub type_: Option<String>,
}

impl Header {
    /// A header with only the two required fields set.
    pub fn new(action: Action, message_id: MessageId) -> Self {
        Self {
            action,
            message_id,
            relates_to: None,
            to: None,
            reply_to: None,
            resource_uri: None,
            max_envelope_size: None,
            operation_timeout: None,
            locale: None,
            data_locale: None,
            session_id: None,
            selectors: SelectorSet::default(),
            options: OptionSet::default(),
            compression_type: None,
            operation_id: None,
            sequence_id: None,
            activity_id: None,
            other: Vec::new(),
            malformed: Vec::new(),
        }
    }

    /// The `ShellId` selector.
    pub fn shell_id(&self) -> Option<ShellId> {
        self.selectors.get("ShellId").map(ShellId::new)
    }

    /// Checks that no known header was malformed.
    ///
    /// # Errors
    /// The first malformed header's error.
    pub fn validate(&self) -> Result<(), DecodeError> {
        match self.malformed.first() {
            Some(m) => Err(m.error.clone()),
            None => Ok(()),
        }
    }

    pub(crate) fn decode(header: Option<&Element>) -> Result<Self, DecodeError> {
        const PATH: &str = "Envelope/Header";
        let mut action = None;
        let mut message_id = None;
        let mut h = Self::new(Action::Other(String::new()), MessageId::new(""));
        for el in header.into_iter().flat_map(Element::elements) {
            let path = sub(PATH, &el.name);
            if let Err(error) = h.decode_one(el, &path, &mut action, &mut message_id) {
                h.malformed.push(MalformedHeader {
                    element: el.clone(),
                    error,
                });
            }
        }
        h.action = action.ok_or(DecodeError::MissingHeader("Action"))?;
        h.message_id = message_id.ok_or(DecodeError::MissingHeader("MessageID"))?;
        Ok(h)
    }

    fn decode_one(
        &mut self,
        el: &Element,
        path: &str,
        action: &mut Option<Action>,
        message_id: &mut Option<MessageId>,
    ) -> Result<(), DecodeError> {
        let ns = el.ns.as_deref().unwrap_or("");
        match (ns, el.name.as_str()) {
            (ns::ADDRESSING, "Action") => {
                let uri = codec::trimmed(el);
                if uri.is_empty() {
                    return Err(DecodeError::invalid(path, "action uri", ""));
                }
                *action = Some(Action::from_uri(&uri));
            }
            (ns::ADDRESSING, "MessageID") => *message_id = Some(MessageId::new(codec::trimmed(el))),
            (ns::ADDRESSING, "RelatesTo") => {
                self.relates_to = Some(MessageId::new(codec::trimmed(el)))
            }
            (ns::ADDRESSING, "To") => self.to = Some(codec::trimmed(el)),
            (ns::ADDRESSING, "ReplyTo") => {
                let addr = el
                    .child(ns::ADDRESSING, "Address")
                    .ok_or_else(|| DecodeError::missing(path, "Address"))?;
                self.reply_to = Some(codec::trimmed(addr));
            }
            (ns::WSMAN, "ResourceURI") => self.resource_uri = Some(codec::trimmed(el)),
            (ns::WSMAN, "MaxEnvelopeSize") => {
                self.max_envelope_size = Some(codec::number(&el.text(), path, "unsigned integer")?);
            }
            (ns::WSMAN, "OperationTimeout") => {
                self.operation_timeout = Some(codec::duration(&el.text(), path)?);
            }
            (ns::WSMAN, "Locale") => self.locale = el.attr_ns(ns::XML, "lang").map(str::to_owned),
            (ns::WSMAN_MS, "DataLocale") => {
                self.data_locale = el.attr_ns(ns::XML, "lang").map(str::to_owned);
            }
            (ns::WSMAN_MS, "SessionId") => self.session_id = Some(codec::trimmed(el)),
            (ns::WSMAN, "SelectorSet") => self.selectors = SelectorSet::decode(el, path)?,
            (ns::WSMAN, "OptionSet") => self.options = OptionSet::decode(el, path)?,
            (ns::SHELL, "CompressionType") => self.compression_type = Some(codec::trimmed(el)),
            (ns::WSMAN_MS, "OperationID") => self.operation_id = Some(codec::trimmed(el)),
            (ns::WSMAN_MS, "SequenceId") => {
                self.sequence_id = Some(codec::number(&el.text(), path, "unsigned integer")?);
            }
            (ns::WSMAN_MS, "ActivityId") => self.activity_id = Some(codec::trimmed(el)),
            _ => self.other.push(el.clone()),
        }
        Ok(())
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        const MU_TRUE: (&str, &str) = ("s:mustUnderstand", "true");
        const MU_FALSE: (&str, &str) = ("s:mustUnderstand", "false");
        fn with_attr(w: &mut Writer, qname: &str, attrs: &[(&str, &str)], text: &str) {
            w.start(qname);
            for (n, v) in attrs {
                w.attr(n, v);
            }
            w.end_start();
            w.text(text);
            w.close(qname);
        }
        w.start("s:Header");
        w.end_start();
        codec::opt_leaf(w, "a:To", self.to.as_deref());
        if let Some(r) = &self.reply_to {
            w.start("a:ReplyTo");
            w.end_start();
            with_attr(w, "a:Address", &[MU_TRUE], r);
            w.close("a:ReplyTo");
        }
        with_attr(w, "a:Action", &[MU_TRUE], self.action.as_uri());
        w.leaf("a:MessageID", self.message_id.as_str());
        if let Some(r) = &self.relates_to {
            w.leaf("a:RelatesTo", r.as_str());
        }
        if let Some(r) = &self.resource_uri {
            with_attr(w, "w:ResourceURI", &[MU_TRUE], r);
        }
        if let Some(m) = self.max_envelope_size {
            with_attr(w, "w:MaxEnvelopeSize", &[MU_TRUE], &m.to_string());
        }
        if let Some(t) = self.operation_timeout {
            w.leaf("w:OperationTimeout", &crate::duration::format(t));
        }
        if let Some(l) = &self.locale {
            w.start("w:Locale");
            w.attr("xml:lang", l);
            w.attr(MU_FALSE.0, MU_FALSE.1);
            w.end_empty();
        }
        if let Some(l) = &self.data_locale {
            w.start("p:DataLocale");
            w.attr("xml:lang", l);
            w.attr(MU_FALSE.0, MU_FALSE.1);
            w.end_empty();
        }
        if let Some(s) = &self.session_id {
            with_attr(w, "p:SessionId", &[MU_FALSE], s);
        }
        if !self.selectors.0.is_empty() {
            self.selectors.encode(w);
        }
        if !self.options.0.is_empty() {
            self.options.encode(w);
        }
        codec::opt_leaf(w, "rsp:CompressionType", self.compression_type.as_deref());
        codec::opt_leaf(w, "p:OperationID", self.operation_id.as_deref());
        if let Some(s) = self.sequence_id {
            w.leaf("p:SequenceId", &s.to_string());
        }
        codec::opt_leaf(w, "p:ActivityId", self.activity_id.as_deref());
        for el in &self.other {
            w.element(el);
        }
        for m in &self.malformed {
            w.element(&m.element);
        }
        w.close("s:Header");
    }
}

impl SelectorSet {
    /// The value of the selector `name` (case-sensitive, as Windows compares).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.value.as_str())
    }

    /// Adds a selector (builder style).
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.push(Selector {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    /// A set holding only `ShellId`.
    pub fn shell_id(id: &ShellId) -> Self {
        Self::default().with("ShellId", id.as_str())
    }

    pub(crate) fn decode(el: &Element, path: &str) -> Result<Self, DecodeError> {
        let mut out = Vec::new();
        for s in el.elements().filter(|e| e.is(ns::WSMAN, "Selector")) {
            let name = s
                .attr("Name")
                .ok_or_else(|| DecodeError::MissingAttribute {
                    path: sub(path, "Selector"),
                    name: "Name",
                })?;
            out.push(Selector {
                name: name.to_owned(),
                value: codec::trimmed(s),
            });
        }
        Ok(Self(out))
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.start("w:SelectorSet");
        w.end_start();
        for s in &self.0 {
            w.start("w:Selector");
            w.attr("Name", &s.name);
            w.end_start();
            w.text(&s.value);
            w.close("w:Selector");
        }
        w.close("w:SelectorSet");
    }
}

impl OptionSet {
    /// The value of the option `name` (case-insensitive: clients differ).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|o| o.name.eq_ignore_ascii_case(name))
            .map(|o| o.value.as_str())
    }

    /// Adds an option (builder style).
    pub fn with(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
        must_comply: Option<bool>,
    ) -> Self {
        self.0.push(WsOption {
            name: name.into(),
            value: value.into(),
            must_comply,
            type_: None,
        });
        self
    }

    pub(crate) fn decode(el: &Element, path: &str) -> Result<Self, DecodeError> {
        let mut out = Vec::new();
        for o in el.elements().filter(|e| e.is(ns::WSMAN, "Option")) {
            let opath = sub(path, "Option");
            let name = o
                .attr("Name")
                .ok_or_else(|| DecodeError::MissingAttribute {
                    path: opath.clone(),
                    name: "Name",
                })?;
            let must_comply = match o.attr("MustComply") {
                Some(v) => Some(codec::boolean(v, &opath)?),
                None => None,
            };
            out.push(WsOption {
                name: name.to_owned(),
                value: codec::trimmed(o),
                must_comply,
                type_: o.attr("Type").map(str::to_owned),
            });
        }
        Ok(Self(out))
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.start("w:OptionSet");
        w.attr("s:mustUnderstand", "true");
        w.end_start();
        for o in &self.0 {
            w.start("w:Option");
            w.attr("Name", &o.name);
            if let Some(m) = o.must_comply {
                w.attr("MustComply", codec::bool_str(m));
            }
            if let Some(t) = &o.type_ {
                w.attr("Type", t);
            }
            w.end_start();
            w.text(&o.value);
            w.close("w:Option");
        }
        w.close("w:OptionSet");
    }
}
