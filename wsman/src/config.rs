//! `cfg:Config`, the reply to a Get on `http://schemas.microsoft.com/wbem/wsman/1/config`.

use crate::codec::{self, sub};
use crate::error::DecodeError;
use crate::ns;
use crate::xml::{Element, Writer};

/// `cfg:Config`: the top-level limits typed, the `Client`, `Service`, `Winrs` sections and
/// anything else kept as XML (in the order received).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// `cfg:MaxEnvelopeSizekb` (Windows default 500).
    pub max_envelope_size_kb: Option<u32>,
    /// `cfg:MaxTimeoutms` (default 60000).
    pub max_timeout_ms: Option<u64>,
    /// `cfg:MaxBatchItems` (default 32000).
    pub max_batch_items: Option<u32>,
    /// `cfg:MaxProviderRequests`.
    pub max_provider_requests: Option<u32>,
    /// Other children (`cfg:Client`, `cfg:Service`, `cfg:Winrs`…), as XML.
    pub other: Vec<Element>,
}

impl Config {
    /// A child section such as `Winrs` or `Service`.
    pub fn section(&self, name: &str) -> Option<&Element> {
        self.other.iter().find(|e| e.is(ns::CONFIG, name))
    }

    pub(crate) fn decode(el: &Element, path: &str) -> Result<Self, DecodeError> {
        let mut c = Self::default();
        for child in el.elements() {
            let p = sub(path, &child.name);
            let n = || codec::number::<u64>(&child.text(), &p, "unsigned integer");
            match (child.ns.as_deref(), child.name.as_str()) {
                (Some(ns::CONFIG), "MaxEnvelopeSizekb") => {
                    c.max_envelope_size_kb =
                        Some(codec::number(&child.text(), &p, "unsigned integer")?);
                }
                (Some(ns::CONFIG), "MaxTimeoutms") => c.max_timeout_ms = Some(n()?),
                (Some(ns::CONFIG), "MaxBatchItems") => {
                    c.max_batch_items = Some(codec::number(&child.text(), &p, "unsigned integer")?);
                }
                (Some(ns::CONFIG), "MaxProviderRequests") => {
                    c.max_provider_requests =
                        Some(codec::number(&child.text(), &p, "unsigned integer")?);
                }
                _ => c.other.push(child.clone()),
            }
        }
        Ok(c)
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.start("cfg:Config");
        w.end_start();
        let num = |w: &mut Writer, q: &str, v: Option<u64>| {
            if let Some(v) = v {
                w.leaf(q, &v.to_string());
            }
        };
        num(
            w,
            "cfg:MaxEnvelopeSizekb",
            self.max_envelope_size_kb.map(u64::from),
        );
        num(w, "cfg:MaxTimeoutms", self.max_timeout_ms);
        num(w, "cfg:MaxBatchItems", self.max_batch_items.map(u64::from));
        num(
            w,
            "cfg:MaxProviderRequests",
            self.max_provider_requests.map(u64::from),
        );
        for o in &self.other {
            w.element(o);
        }
        w.close("cfg:Config");
    }
}
