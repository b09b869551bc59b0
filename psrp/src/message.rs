//! PSRP messages: the 40-byte header and the opaque CLIXML body (MS-PSRP 2.2.1).
//!
//! ```text
//! offset  size  field
//!      0     4  Destination  u32 LE (1 client, 2 server)
//!      4     4  MessageType  u32 LE
//!      8    16  RPID         GUID, .NET byte order
//!     24    16  PID          GUID, .NET byte order (all zero when not about a pipeline)
//!     40     …  Data         UTF-8 CLIXML (Windows prefixes a BOM)
//! ```
//!
//! MS-PSRP 2.2.2 describes each message type. Message types and destinations are open newtypes: an unknown value decodes, prints in hex
//! and re-encodes unchanged.

use std::fmt;

use uuid::Uuid;

/// Size of the message header in bytes.
pub const HEADER_LEN: usize = 40;

/// The UTF-8 byte order mark Windows puts before the CLIXML of server-sent messages.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Identifier of a runspace pool (the RPID of MS-PSRP 2.2.1, the WSMan ShellId).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunspacePoolId(pub Uuid);

/// Identifier of a pipeline (the PID of MS-PSRP 2.2.1, the WSMan CommandId).
///
/// Messages about the runspace pool as a whole carry the nil id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PipelineId(pub Uuid);

impl RunspacePoolId {
    /// The nil id.
    pub const NIL: Self = Self(Uuid::nil());
}

impl PipelineId {
    /// The nil id, used by messages that concern the runspace pool only.
    pub const NIL: Self = Self(Uuid::nil());

    /// Whether this is the nil id.
    pub fn is_nil(&self) -> bool {
        self.0.is_nil()
    }
}

impl fmt::Display for RunspacePoolId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Display for PipelineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl From<Uuid> for RunspacePoolId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl From<Uuid> for PipelineId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

/// Who a message is addressed to (MS-PSRP 2.2.1, `Destination`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Destination(pub u32);

impl Destination {
    /// The message goes to the client.
    pub const CLIENT: Self = Self(0x1);
    /// The message goes to the server.
    pub const SERVER: Self = Self(0x2);

    /// The spec name of a known destination.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Self::CLIENT => Some("Client"),
            Self::SERVER => Some("Server"),
            _ => None,
        }
    }
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "Destination({:#x})", self.0),
        }
    }
}

/// Generates the `MessageType` constants and the name table from one list.
macro_rules! message_types {
    ($($(#[$doc:meta])* $name:ident = $value:literal,)*) => {
        impl MessageType {
            $($(#[$doc])* pub const $name: Self = Self($value);)*

            /// Every message type MS-PSRP 2.2.1 defines, in the spec's order.
            pub const ALL: &'static [Self] = &[$(Self::$name),*];

            /// The spec name (`SESSION_CAPABILITY`, …) of a known message type.
            pub fn name(self) -> Option<&'static str> {
                match self {
                    $(Self::$name => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

/// The type of a PSRP message (MS-PSRP 2.2.1, `MessageType`).
///
/// An open code: values the spec does not list are kept as they are.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageType(pub u32);

message_types! {
    /// SESSION_CAPABILITY, both directions.
    SESSION_CAPABILITY = 0x0001_0002,
    /// INIT_RUNSPACEPOOL, to the server.
    INIT_RUNSPACEPOOL = 0x0001_0004,
    /// PUBLIC_KEY, to the server.
    PUBLIC_KEY = 0x0001_0005,
    /// ENCRYPTED_SESSION_KEY, to the client.
    ENCRYPTED_SESSION_KEY = 0x0001_0006,
    /// PUBLIC_KEY_REQUEST, to the client.
    PUBLIC_KEY_REQUEST = 0x0001_0007,
    /// CONNECT_RUNSPACEPOOL, to the server.
    CONNECT_RUNSPACEPOOL = 0x0001_0008,
    /// SET_MAX_RUNSPACES, to the server.
    SET_MAX_RUNSPACES = 0x0002_1002,
    /// SET_MIN_RUNSPACES, to the server.
    SET_MIN_RUNSPACES = 0x0002_1003,
    /// RUNSPACE_AVAILABILITY, to the client.
    RUNSPACE_AVAILABILITY = 0x0002_1004,
    /// RUNSPACEPOOL_STATE, to the client.
    RUNSPACEPOOL_STATE = 0x0002_1005,
    /// CREATE_PIPELINE, to the server.
    CREATE_PIPELINE = 0x0002_1006,
    /// GET_AVAILABLE_RUNSPACES, to the server.
    GET_AVAILABLE_RUNSPACES = 0x0002_1007,
    /// USER_EVENT, to the client.
    USER_EVENT = 0x0002_1008,
    /// APPLICATION_PRIVATE_DATA, to the client.
    APPLICATION_PRIVATE_DATA = 0x0002_1009,
    /// GET_COMMAND_METADATA, to the server.
    GET_COMMAND_METADATA = 0x0002_100A,
    /// RUNSPACEPOOL_INIT_DATA, to the client.
    RUNSPACEPOOL_INIT_DATA = 0x0002_100B,
    /// RESET_RUNSPACE_STATE, to the server.
    RESET_RUNSPACE_STATE = 0x0002_100C,
    /// RUNSPACEPOOL_HOST_CALL, to the client.
    RUNSPACEPOOL_HOST_CALL = 0x0002_1100,
    /// RUNSPACEPOOL_HOST_RESPONSE, to the server.
    RUNSPACEPOOL_HOST_RESPONSE = 0x0002_1101,
    /// PIPELINE_INPUT, to the server.
    PIPELINE_INPUT = 0x0004_1002,
    /// END_OF_PIPELINE_INPUT, to the server.
    END_OF_PIPELINE_INPUT = 0x0004_1003,
    /// PIPELINE_OUTPUT, to the client.
    PIPELINE_OUTPUT = 0x0004_1004,
    /// ERROR_RECORD, to the client.
    ERROR_RECORD = 0x0004_1005,
    /// PIPELINE_STATE, to the client.
    PIPELINE_STATE = 0x0004_1006,
    /// DEBUG_RECORD, to the client.
    DEBUG_RECORD = 0x0004_1007,
    /// VERBOSE_RECORD, to the client.
    VERBOSE_RECORD = 0x0004_1008,
    /// WARNING_RECORD, to the client.
    WARNING_RECORD = 0x0004_1009,
    /// PROGRESS_RECORD, to the client.
    PROGRESS_RECORD = 0x0004_1010,
    /// INFORMATION_RECORD, to the client.
    INFORMATION_RECORD = 0x0004_1011,
    /// PIPELINE_HOST_CALL, to the client.
    PIPELINE_HOST_CALL = 0x0004_1100,
    /// PIPELINE_HOST_RESPONSE, to the server.
    PIPELINE_HOST_RESPONSE = 0x0004_1101,
}

impl MessageType {
    /// Whether the spec defines this type.
    pub fn is_known(self) -> bool {
        self.name().is_some()
    }
}

impl fmt::Debug for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "MessageType({:#x})", self.0),
        }
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// One PSRP message: header fields plus the raw CLIXML body (MS-PSRP 2.2.1).
///
/// The body is kept as bytes, BOM included, so a decoded message re-encodes byte for byte.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    /// Who the message is for.
    pub destination: Destination,
    /// What the message is.
    pub message_type: MessageType,
    /// The runspace pool it concerns.
    pub runspace_pool_id: RunspacePoolId,
    /// The pipeline it concerns, nil for pool-level messages.
    pub pipeline_id: PipelineId,
    /// The CLIXML body as sent (may start with a UTF-8 BOM).
    pub data: Vec<u8>,
}

impl Message {
    /// Builds a message.
    pub fn new(
        destination: Destination,
        message_type: MessageType,
        runspace_pool_id: RunspacePoolId,
        pipeline_id: PipelineId,
        data: Vec<u8>,
    ) -> Self {
        Self {
            destination,
            message_type,
            runspace_pool_id,
            pipeline_id,
            data,
        }
    }

    /// Decodes a whole message blob (as reassembled from fragments).
    ///
    /// # Errors
    ///
    /// [`MessageError::Truncated`] when the blob is shorter than the 40-byte header.
    pub fn decode(bytes: &[u8]) -> Result<Self, MessageError> {
        let Some((header, data)) = bytes.split_first_chunk::<HEADER_LEN>() else {
            return Err(MessageError::Truncated { len: bytes.len() });
        };
        // Constant ranges inside a fixed 40-byte array: these cannot go out of bounds.
        let field =
            |at: usize| -> [u8; 4] { [header[at], header[at + 1], header[at + 2], header[at + 3]] };
        let guid = |at: usize| -> [u8; 16] {
            let mut out = [0; 16];
            out.copy_from_slice(&header[at..at + 16]);
            out
        };
        let (dest, ty, rpid, pid) = (field(0), field(4), guid(8), guid(24));
        Ok(Self {
            destination: Destination(u32::from_le_bytes(dest)),
            message_type: MessageType(u32::from_le_bytes(ty)),
            runspace_pool_id: RunspacePoolId(Uuid::from_bytes_le(rpid)),
            pipeline_id: PipelineId(Uuid::from_bytes_le(pid)),
            data: data.to_vec(),
        })
    }

    /// Appends the encoded message to `buf`.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        buf.reserve(HEADER_LEN + self.data.len());
        buf.extend_from_slice(&self.destination.0.to_le_bytes());
        buf.extend_from_slice(&self.message_type.0.to_le_bytes());
        buf.extend_from_slice(&self.runspace_pool_id.0.to_bytes_le());
        buf.extend_from_slice(&self.pipeline_id.0.to_bytes_le());
        buf.extend_from_slice(&self.data);
    }

    /// The encoded message as a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(HEADER_LEN + self.data.len());
        self.encode(&mut buf);
        buf
    }

    /// The body without a leading UTF-8 BOM, as text.
    ///
    /// # Errors
    ///
    /// [`MessageError::InvalidUtf8`] when the body is not UTF-8.
    pub fn clixml_text(&self) -> Result<&str, MessageError> {
        let body = self.data.strip_prefix(UTF8_BOM).unwrap_or(&self.data);
        std::str::from_utf8(body).map_err(|e| MessageError::InvalidUtf8 {
            message_type: self.message_type,
            valid_up_to: e.valid_up_to(),
        })
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("destination", &self.destination)
            .field("message_type", &self.message_type)
            .field("runspace_pool_id", &self.runspace_pool_id)
            .field("pipeline_id", &self.pipeline_id)
            .field("data_len", &self.data.len())
            .finish()
    }
}

/// A message blob that cannot be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The blob is shorter than the 40-byte header.
    #[error("message of {len} bytes is shorter than the 40-byte header")]
    Truncated {
        /// Length of the blob.
        len: usize,
    },
    /// The CLIXML body is not UTF-8.
    #[error("{message_type} body is not utf-8 (valid up to byte {valid_up_to})")]
    InvalidUtf8 {
        /// Type of the message.
        message_type: MessageType,
        /// Length of the valid prefix.
        valid_up_to: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_type_debug_names_known_and_hex_for_unknown() {
        assert_eq!(
            format!("{:?}", MessageType::SESSION_CAPABILITY),
            "SESSION_CAPABILITY"
        );
        assert_eq!(
            format!("{:?}", MessageType(0x12345)),
            "MessageType(0x12345)"
        );
        assert_eq!(format!("{:?}", Destination(7)), "Destination(0x7)");
        assert_eq!(MessageType::ALL.len(), 31);
        assert!(!MessageType(0).is_known());
    }

    #[test]
    fn header_uses_dotnet_guid_order() {
        let rpid = Uuid::parse_str("00112233-4455-6677-8899-aabbccddeeff").unwrap();
        let msg = Message::new(
            Destination::SERVER,
            MessageType::SESSION_CAPABILITY,
            RunspacePoolId(rpid),
            PipelineId::NIL,
            b"<Obj/>".to_vec(),
        );
        let bytes = msg.to_bytes();
        assert_eq!(&bytes[..8], &[2, 0, 0, 0, 2, 0, 1, 0]);
        assert_eq!(
            &bytes[8..24],
            &[
                0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
                0xee, 0xff
            ]
        );
        assert_eq!(&bytes[24..40], &[0; 16]);
        assert_eq!(Message::decode(&bytes).unwrap(), msg);
    }

    #[test]
    fn unknown_type_and_destination_survive() {
        let mut bytes = vec![9, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde];
        bytes.extend_from_slice(&[0xab; 32]);
        let msg = Message::decode(&bytes).unwrap();
        assert_eq!(msg.message_type, MessageType(0xdead_beef));
        assert_eq!(msg.destination, Destination(9));
        assert_eq!(msg.to_bytes(), bytes);
    }

    #[test]
    fn short_blob_is_truncated() {
        assert_eq!(
            Message::decode(&[0; 39]),
            Err(MessageError::Truncated { len: 39 })
        );
    }

    #[test]
    fn clixml_text_strips_bom() {
        let mut msg = Message::new(
            Destination::CLIENT,
            MessageType::PIPELINE_OUTPUT,
            RunspacePoolId::NIL,
            PipelineId::NIL,
            b"\xEF\xBB\xBF<S>x</S>".to_vec(),
        );
        assert_eq!(msg.clixml_text().unwrap(), "<S>x</S>");
        msg.data = vec![0xff];
        assert!(matches!(
            msg.clixml_text(),
            Err(MessageError::InvalidUtf8 { .. })
        ));
    }
}
