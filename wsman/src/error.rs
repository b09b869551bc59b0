//! Decode errors: what was wrong with the peer's bytes, and where.

/// Why an envelope (or one of its values) could not be decoded.
///
/// Paths name elements by local name from the root, e.g. `Envelope/Body/ReceiveResponse/Stream`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The document is larger than the configured limit (checked before parsing).
    #[error("document of {size} bytes exceeds the {limit} byte limit")]
    TooLarge {
        /// Size of the document.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The document is not UTF-8.
    #[error("invalid utf-8 at byte {offset}")]
    InvalidUtf8 {
        /// Offset of the first invalid byte (approximate inside markup).
        offset: usize,
    },
    /// The document is not well-formed XML.
    #[error("malformed xml at byte {position}: {message}")]
    MalformedXml {
        /// Byte offset where the reader stopped.
        position: u64,
        /// The reader's description.
        message: String,
    },
    /// The document has a `<!DOCTYPE`: DTDs are refused.
    #[error("document type declarations are not allowed")]
    DtdNotAllowed,
    /// An entity reference other than the five predefined ones (or a character reference).
    #[error("entity reference `&{entity};` is not allowed")]
    EntityNotAllowed {
        /// The entity's name.
        entity: String,
    },
    /// A prefix is used without a namespace declaration.
    #[error("namespace prefix `{prefix}` is not declared")]
    UnknownPrefix {
        /// The undeclared prefix.
        prefix: String,
    },
    /// Elements are nested deeper than the configured limit.
    #[error("elements nested deeper than {limit}")]
    TooDeep {
        /// The configured limit.
        limit: usize,
    },
    /// The document has more elements than the configured limit.
    #[error("more than {limit} elements")]
    TooManyElements {
        /// The configured limit.
        limit: usize,
    },
    /// An element or the document has more attributes than the configured limit.
    #[error("more than {limit} attributes")]
    TooManyAttributes {
        /// The configured limit.
        limit: usize,
    },
    /// The root element is not a SOAP envelope.
    #[error("root element `{found}` is not a soap envelope")]
    NotAnEnvelope {
        /// The root element's local name.
        found: String,
    },
    /// An element has the right local name but the wrong namespace.
    #[error("{path}: expected namespace `{expected}`, found `{found}`")]
    UnexpectedNamespace {
        /// Where.
        path: String,
        /// The namespace required there.
        expected: &'static str,
        /// The namespace found (empty when none).
        found: String,
    },
    /// A required element is missing.
    #[error("missing element {path}")]
    MissingElement {
        /// The missing element's path.
        path: String,
    },
    /// A required SOAP header is missing.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// A required attribute is missing.
    #[error("{path}: missing attribute `{name}`")]
    MissingAttribute {
        /// The element's path.
        path: String,
        /// The attribute.
        name: &'static str,
    },
    /// A value does not parse as what it should be.
    #[error("{path}: invalid {what} `{value}`")]
    InvalidValue {
        /// Where.
        path: String,
        /// What was expected (e.g. `unsigned integer`, `boolean`).
        what: &'static str,
        /// The offending value (truncated to 64 characters).
        value: String,
    },
    /// An `xs:duration` does not parse (or is negative).
    #[error("{path}: invalid duration `{value}`: {reason}")]
    InvalidDuration {
        /// Where.
        path: String,
        /// The offending value (truncated to 64 characters).
        value: String,
        /// Why.
        reason: &'static str,
    },
    /// Base64 content does not decode.
    #[error("{path}: invalid base64")]
    InvalidBase64 {
        /// Where.
        path: String,
    },
}

impl DecodeError {
    pub(crate) fn invalid(path: &str, what: &'static str, value: &str) -> Self {
        Self::InvalidValue {
            path: path.to_owned(),
            what,
            value: truncate(value),
        }
    }

    pub(crate) fn missing(path: &str, name: &str) -> Self {
        Self::MissingElement {
            path: format!("{path}/{name}"),
        }
    }
}

pub(crate) fn truncate(value: &str) -> String {
    value.chars().take(64).collect()
}
