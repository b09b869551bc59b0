//! CLIXML, the object serialization PSRP messages carry (MS-PSRP 2.2.5).
//!
//! [`Value`] models everything a CLIXML document can hold: the primitives of MS-PSRP 2.2.5.1,
//! complex objects ([`PsObject`]) with type names, `ToString`, a wrapped primitive (enums),
//! adapted (`Props`) and extended (`MS`) properties and a container (`LST`, `IE`, `QUE`, `STK`,
//! `DCT`), plus the `PR` progress record form PowerShell uses on its stderr stream.
//!
//! ```text
//!  text ──from_clixml──▶ Value ──to_clixml──▶ text
//!        (Ref/TNRef resolved,      (RefId per object,
//!         _xHHHH_ unescaped,       TNRef for repeated type names,
//!         limits enforced)         _xHHHH_ escapes)
//! ```
//!
//! Objects are shared through [`Arc`]: a `<Ref>` resolves to the same allocation as the object it
//! names, and the serializer writes a `<Ref>` when it meets an allocation twice, so shared graphs
//! stay small both ways.
//!
//! Reading never expands entities or DTDs, bounds nesting depth (references included) and input
//! size ([`Limits`]), and reports every problem as a typed [`ClixmlError`].

mod de;
mod escape;
mod ser;
mod value;

use std::sync::Arc;

pub use de::{Limits, from_clixml, from_clixml_bytes, from_clixml_with, from_objs, from_objs_with};
pub use escape::{decode_escapes, encode_escapes};
pub use ser::{to_clixml, to_clixml_document};
pub use value::{Container, Objs, ObjsItem, ProgressValue, Property, PsObject, Value};

/// Type names every enum object carries after its own (MS-PSRP 2.2.5.2.7).
pub const ENUM_BASE_TYPES: [&str; 3] = ["System.Enum", "System.ValueType", "System.Object"];

/// CLIXML namespace of a `<Objs>` document.
pub const OBJS_NAMESPACE: &str = "http://schemas.microsoft.com/powershell/2004/04";

/// A CLIXML document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClixmlError {
    /// The XML itself is malformed.
    #[error("xml error at byte {position}: {message}")]
    Xml {
        /// Byte offset where the reader stopped.
        position: u64,
        /// What the XML reader reported.
        message: String,
    },
    /// The body is not UTF-8.
    #[error("clixml is not valid utf-8")]
    InvalidUtf8,
    /// A `<!DOCTYPE>` was present; DTDs and custom entities are refused.
    #[error("document type declarations are not allowed")]
    DocType,
    /// The input is larger than [`Limits::max_size`].
    #[error("input of {size} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// Input size in bytes.
        size: usize,
        /// Configured limit.
        limit: usize,
    },
    /// Elements (or references) nest deeper than [`Limits::max_depth`].
    #[error("nesting deeper than {limit} levels")]
    TooDeep {
        /// Configured limit.
        limit: usize,
    },
    /// The document holds no value.
    #[error("no clixml value found")]
    Empty,
    /// More than one top-level value where exactly one was expected.
    #[error("more than one top-level value")]
    TrailingContent,
    /// An element that has no meaning where it appears.
    #[error("unexpected element <{element}> in {context}")]
    UnexpectedElement {
        /// The element name.
        element: String,
        /// Where it appeared.
        context: &'static str,
    },
    /// Non-whitespace text where only elements may appear.
    #[error("unexpected text in {context}")]
    UnexpectedText {
        /// Where it appeared.
        context: &'static str,
    },
    /// A primitive's text does not parse as its type.
    #[error("invalid <{element}> value {text:?}")]
    InvalidValue {
        /// The element name.
        element: &'static str,
        /// The offending text (truncated).
        text: String,
    },
    /// A required attribute is absent.
    #[error("missing attribute {attribute} on <{element}>")]
    MissingAttribute {
        /// The element name.
        element: &'static str,
        /// The attribute name.
        attribute: &'static str,
    },
    /// `<Ref RefId>` names no object read so far.
    #[error("reference to unknown object {0:?}")]
    DanglingRef(String),
    /// `<Ref RefId>` names an object that contains the reference.
    #[error("reference to object {0:?} from inside itself")]
    CyclicRef(String),
    /// `<TNRef RefId>` names no type-name list read so far.
    #[error("reference to unknown type-name list {0:?}")]
    DanglingTypeRef(String),
    /// The same object RefId was defined twice.
    #[error("object ref id {0:?} defined twice")]
    DuplicateRefId(String),
    /// An object has two primitive values, two containers or two type-name lists.
    #[error("object has more than one {0}")]
    Duplicate(&'static str),
    /// A dictionary entry lacks its key or value.
    #[error("dictionary entry without {0}")]
    IncompleteEntry(&'static str),
}

/// Shorthand for an enum object: `type_name` then [`ENUM_BASE_TYPES`], `ToString`, `<I32>`.
pub fn enum_value(type_name: &str, to_string: impl Into<String>, value: i32) -> Value {
    let names: Vec<String> = std::iter::once(type_name)
        .chain(ENUM_BASE_TYPES)
        .map(str::to_owned)
        .collect();
    Value::Object(Arc::new(PsObject {
        type_names: Some(names.into()),
        to_string: Some(to_string.into()),
        value: Some(Value::I32(value)),
        ..PsObject::default()
    }))
}

#[cfg(test)]
mod tests;
