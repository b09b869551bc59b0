//! WS-Enumeration (MS-WSMV 3.1.4.8 – 3.1.4.10): Enumerate, Pull, Release and their replies, with
//! `w:OptimizeEnumeration`, `w:MaxElements` and the selector filter used to list a shell's
//! commands.

use crate::codec::{self, sub};
use crate::error::DecodeError;
use crate::header::{CommandId, SelectorSet};
use crate::ns;
use crate::shell::Shell;
use crate::xml::{Element, Writer};

/// `n:Enumerate`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Enumerate {
    /// `w:OptimizeEnumeration`: return the first items in the EnumerateResponse.
    pub optimize: bool,
    /// `w:MaxElements`.
    pub max_elements: Option<u32>,
    /// `w:Filter`.
    pub filter: Option<Filter>,
}

/// `w:Filter Dialect=…`: a selector set (SelectorFilter dialect) or text (e.g. WQL).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    /// `Dialect` attribute.
    pub dialect: Option<String>,
    /// The selector set, for [`ns::SELECTOR_FILTER_DIALECT`].
    pub selectors: Option<SelectorSet>,
    /// Text content, for other dialects.
    pub text: Option<String>,
}

/// An enumerated item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A shell (`rsp:Shell`).
    Shell(Box<Shell>),
    /// A command (`rsp:Command`).
    Command(CommandItem),
    /// Anything else (WMI objects…), kept as XML.
    Other(Element),
}

/// `rsp:Command` as an enumeration item.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommandItem {
    /// `rsp:CommandId`.
    pub command_id: Option<CommandId>,
    /// `rsp:CommandLine` text.
    pub command_line: Option<String>,
    /// `rsp:CommandState` text, e.g. `Running`.
    pub command_state: Option<String>,
}

/// `n:EnumerateResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnumerateResponse {
    /// `n:EnumerationContext` (empty when everything was returned).
    pub context: Option<String>,
    /// `w:Items` (only with OptimizeEnumeration); `None` when absent.
    pub items: Option<Vec<Item>>,
    /// `w:EndOfSequence`.
    pub end_of_sequence: bool,
}

/// `n:Pull`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pull {
    /// `n:EnumerationContext`.
    pub context: String,
    /// `n:MaxElements`.
    pub max_elements: Option<u32>,
}

/// `n:PullResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PullResponse {
    /// `n:EnumerationContext`, absent at the end.
    pub context: Option<String>,
    /// `n:Items`.
    pub items: Vec<Item>,
    /// `n:EndOfSequence`.
    pub end_of_sequence: bool,
}

/// `n:Release`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Release {
    /// `n:EnumerationContext`.
    pub context: String,
}

fn either<'a>(el: &'a Element, name: &str) -> Option<&'a Element> {
    el.child(ns::ENUMERATION, name)
        .or_else(|| el.child(ns::WSMAN, name))
}

fn decode_items(items: &Element, path: &str) -> Result<Vec<Item>, DecodeError> {
    items
        .elements()
        .map(|e| {
            let p = sub(path, &e.name);
            Ok(if e.is(ns::SHELL, "Shell") {
                Item::Shell(Box::new(Shell::decode(e, &p)?))
            } else if e.is(ns::SHELL, "Command") {
                Item::Command(CommandItem {
                    command_id: e
                        .child(ns::SHELL, "CommandId")
                        .map(|c| CommandId::new(codec::trimmed(c))),
                    command_line: e
                        .child(ns::SHELL, "CommandLine")
                        .map(|c| c.text().into_owned()),
                    command_state: e.child(ns::SHELL, "CommandState").map(codec::trimmed),
                })
            } else {
                Item::Other(e.clone())
            })
        })
        .collect()
}

fn encode_items(w: &mut Writer, qname: &str, items: &[Item]) {
    w.start(qname);
    w.end_start();
    for i in items {
        match i {
            Item::Shell(s) => s.encode(w),
            Item::Command(c) => {
                w.start("rsp:Command");
                w.end_start();
                codec::opt_leaf(
                    w,
                    "rsp:CommandId",
                    c.command_id.as_ref().map(CommandId::as_str),
                );
                codec::opt_leaf(w, "rsp:CommandLine", c.command_line.as_deref());
                codec::opt_leaf(w, "rsp:CommandState", c.command_state.as_deref());
                w.close("rsp:Command");
            }
            Item::Other(e) => w.element(e),
        }
    }
    w.close(qname);
}

impl Enumerate {
    pub(crate) fn decode(el: &Element, path: &str) -> Result<Self, DecodeError> {
        let max_elements = match either(el, "MaxElements") {
            Some(m) => Some(codec::number(
                &m.text(),
                &sub(path, "MaxElements"),
                "unsigned integer",
            )?),
            None => None,
        };
        let filter = match el.child(ns::WSMAN, "Filter") {
            Some(f) => {
                let fp = sub(path, "Filter");
                let selectors = match f.child(ns::WSMAN, "SelectorSet") {
                    Some(ss) => Some(SelectorSet::decode(ss, &sub(&fp, "SelectorSet"))?),
                    None => None,
                };
                let text = f.text();
                Some(Filter {
                    dialect: f.attr("Dialect").map(|d| d.trim().to_owned()),
                    text: (selectors.is_none() && !text.trim().is_empty())
                        .then(|| text.into_owned()),
                    selectors,
                })
            }
            None => None,
        };
        Ok(Self {
            optimize: el.child(ns::WSMAN, "OptimizeEnumeration").is_some(),
            max_elements,
            filter,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.start("n:Enumerate");
        w.end_start();
        if self.optimize {
            w.start("w:OptimizeEnumeration");
            w.end_empty();
        }
        if let Some(m) = self.max_elements {
            w.leaf("w:MaxElements", &m.to_string());
        }
        if let Some(f) = &self.filter {
            w.start("w:Filter");
            if let Some(d) = &f.dialect {
                w.attr("Dialect", d);
            }
            w.end_start();
            if let Some(ss) = &f.selectors {
                ss.encode(w);
            }
            if let Some(t) = &f.text {
                w.text(t);
            }
            w.close("w:Filter");
        }
        w.close("n:Enumerate");
    }
}

impl EnumerateResponse {
    pub(crate) fn decode(el: &Element, path: &str) -> Result<Self, DecodeError> {
        let items = match either(el, "Items") {
            Some(i) => Some(decode_items(i, &sub(path, "Items"))?),
            None => None,
        };
        Ok(Self {
            context: el
                .child(ns::ENUMERATION, "EnumerationContext")
                .map(codec::trimmed),
            items,
            end_of_sequence: either(el, "EndOfSequence").is_some(),
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.start("n:EnumerateResponse");
        w.end_start();
        codec::opt_leaf(w, "n:EnumerationContext", self.context.as_deref());
        if let Some(items) = &self.items {
            encode_items(w, "w:Items", items);
        }
        if self.end_of_sequence {
            w.start("w:EndOfSequence");
            w.end_empty();
        }
        w.close("n:EnumerateResponse");
    }
}

impl Pull {
    pub(crate) fn decode(el: &Element, path: &str) -> Result<Self, DecodeError> {
        let context = el
            .child(ns::ENUMERATION, "EnumerationContext")
            .ok_or_else(|| DecodeError::missing(path, "EnumerationContext"))?;
        let max_elements = match either(el, "MaxElements") {
            Some(m) => Some(codec::number(
                &m.text(),
                &sub(path, "MaxElements"),
                "unsigned integer",
            )?),
            None => None,
        };
        Ok(Self {
            context: codec::trimmed(context),
            max_elements,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.start("n:Pull");
        w.end_start();
        w.leaf("n:EnumerationContext", &self.context);
        if let Some(m) = self.max_elements {
            w.leaf("n:MaxElements", &m.to_string());
        }
        w.close("n:Pull");
    }
}

impl PullResponse {
    pub(crate) fn decode(el: &Element, path: &str) -> Result<Self, DecodeError> {
        let items = match either(el, "Items") {
            Some(i) => decode_items(i, &sub(path, "Items"))?,
            None => Vec::new(),
        };
        Ok(Self {
            context: el
                .child(ns::ENUMERATION, "EnumerationContext")
                .map(codec::trimmed),
            items,
            end_of_sequence: either(el, "EndOfSequence").is_some(),
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.start("n:PullResponse");
        w.end_start();
        codec::opt_leaf(w, "n:EnumerationContext", self.context.as_deref());
        if !self.items.is_empty() {
            encode_items(w, "n:Items", &self.items);
        }
        if self.end_of_sequence {
            w.start("n:EndOfSequence");
            w.end_empty();
        }
        w.close("n:PullResponse");
    }
}

impl Release {
    pub(crate) fn decode(el: &Element, path: &str) -> Result<Self, DecodeError> {
        let context = el
            .child(ns::ENUMERATION, "EnumerationContext")
            .ok_or_else(|| DecodeError::missing(path, "EnumerationContext"))?;
        Ok(Self {
            context: codec::trimmed(context),
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.start("n:Release");
        w.end_start();
        w.leaf("n:EnumerationContext", &self.context);
        w.close("n:Release");
    }
}
