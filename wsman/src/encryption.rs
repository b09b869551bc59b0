//! `multipart/encrypted` framing of MS-WSMV 2.2.9.1 as pure functions (sealing is the transport's job).
//!
//! With HTTP message encryption the SOAP body is sealed with the security context that
//! authenticated the connection and sent as a MIME-like multipart body:
//!
//! ```text
//! --Encrypted Boundary\r\n
//! \tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n
//! \tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=N\r\n
//! --Encrypted Boundary\r\n
//! \tContent-Type: application/octet-stream\r\n
//! <u32 LE signature length><signature><sealed data>--Encrypted Boundary--\r\n
//! ```
//!
//! `Length=N` is the length of the plaintext. CredSSP seals at most [`CREDSSP_CHUNK`] bytes per
//! part and, when a message needs several parts, labels the body `multipart/x-multi-encrypted`.
//! This module only frames and unframes: computing signatures and sealing stays with the caller.

use std::fmt;

/// The boundary every WinRM implementation uses (without the leading `--`).
pub const BOUNDARY: &str = "Encrypted Boundary";

/// Largest plaintext sealed into one part when the protocol is CredSSP.
pub const CREDSSP_CHUNK: usize = 16 * 1024;

/// Largest `Length=` or signature length accepted while decoding; bigger values are refused
/// before anything is allocated.
pub const MAX_PART_LEN: usize = 256 * 1024 * 1024;

const DASH_BOUNDARY: &[u8] = b"--Encrypted Boundary";
const OCTET_STREAM: &str = "application/octet-stream";
const ORIGINAL_TYPE: &str = "application/soap+xml;charset=UTF-8";

/// The security protocol named in the `protocol=` parameter and in each part's `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionProtocol {
    /// `application/HTTP-SPNEGO-session-encrypted` (Negotiate and NTLM).
    Spnego,
    /// `application/HTTP-Kerberos-session-encrypted`.
    Kerberos,
    /// `application/HTTP-CredSSP-session-encrypted`.
    CredSsp,
}

impl SessionProtocol {
    /// The MIME name of the protocol, as it appears on the wire.
    pub fn mime_name(self) -> &'static str {
        match self {
            Self::Spnego => "application/HTTP-SPNEGO-session-encrypted",
            Self::Kerberos => "application/HTTP-Kerberos-session-encrypted",
            Self::CredSsp => "application/HTTP-CredSSP-session-encrypted",
        }
    }

    /// Parses a MIME protocol name (case-insensitive, surrounding quotes and blanks ignored).
    pub fn from_mime_name(name: &str) -> Option<Self> {
        let name = name.trim().trim_matches('"').trim();
        [Self::Spnego, Self::Kerberos, Self::CredSsp]
            .into_iter()
            .find(|p| p.mime_name().eq_ignore_ascii_case(name))
    }

    /// The HTTP `Content-Type` of a body holding `part_count` sealed parts.
    pub fn content_type(self, part_count: usize) -> String {
        let media = if self == Self::CredSsp && part_count > 1 {
            "multipart/x-multi-encrypted"
        } else {
            "multipart/encrypted"
        };
        format!(
            "{media};protocol=\"{}\";boundary=\"{BOUNDARY}\"",
            self.mime_name()
        )
    }
}

impl fmt::Display for SessionProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mime_name())
    }
}

/// One sealed part: the signature and the sealed bytes of `original_length` plaintext bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptedPart {
    /// Length of the plaintext (`Length=` of `OriginalContent`).
    pub original_length: usize,
    /// The security context's signature (16 bytes for NTLM).
    pub signature: Vec<u8>,
    /// The sealed plaintext.
    pub sealed: Vec<u8>,
}

/// A malformed `multipart/encrypted` body or content type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FramingError {
    /// The content type is not `multipart/encrypted` or `multipart/x-multi-encrypted`.
    #[error("content type is not multipart/encrypted")]
    NotEncrypted,
    /// The `protocol=` parameter is missing or names an unknown protocol.
    #[error("unknown or missing encryption protocol")]
    UnknownProtocol,
    /// A part names a protocol other than the one of the content type.
    #[error("part protocol {found:?} does not match {expected}")]
    ProtocolMismatch {
        /// The protocol of the content type.
        expected: SessionProtocol,
        /// What the part's `Content-Type` said.
        found: String,
    },
    /// The body does not start with the boundary or a part lacks its boundary.
    #[error("missing boundary at offset {offset}")]
    MissingBoundary {
        /// Byte offset in the body.
        offset: usize,
    },
    /// The body holds no part.
    #[error("no encrypted part")]
    Empty,
    /// A header part lacks `OriginalContent` with a `Length=`, or its value is not a number.
    #[error("missing or invalid OriginalContent length")]
    InvalidLength,
    /// The data part lacks its `Content-Type: application/octet-stream` line.
    #[error("missing octet-stream part header")]
    MissingOctetStream,
    /// The data part is shorter than its signature length says.
    #[error("truncated data part: need {needed} bytes, have {available}")]
    Truncated {
        /// Bytes the header announced.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// A length is larger than [`MAX_PART_LEN`].
    #[error("length {0} exceeds the limit")]
    TooLarge(usize),
}

/// Parses an HTTP `Content-Type` and returns the protocol when it announces an encrypted body.
///
/// # Errors
///
/// [`FramingError::NotEncrypted`] for any other media type (a plaintext SOAP body, say) and
/// [`FramingError::UnknownProtocol`] when the protocol parameter is missing or unknown.
pub fn parse_content_type(content_type: &str) -> Result<SessionProtocol, FramingError> {
    let mut params = content_type.split(';');
    let media = params.next().unwrap_or_default().trim();
    if !media.eq_ignore_ascii_case("multipart/encrypted")
        && !media.eq_ignore_ascii_case("multipart/x-multi-encrypted")
    {
        return Err(FramingError::NotEncrypted);
    }
    for param in params {
        let Some((key, value)) = param.split_once('=') else {
            continue;
        };
        if key.trim().eq_ignore_ascii_case("protocol") {
            return SessionProtocol::from_mime_name(value).ok_or(FramingError::UnknownProtocol);
        }
    }
    Err(FramingError::UnknownProtocol)
}

/// Frames sealed parts into a body for `protocol`; send it with
/// [`SessionProtocol::content_type`] of the same part count.
pub fn encode(protocol: SessionProtocol, parts: &[EncryptedPart]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        parts
            .iter()
            .map(|p| 200 + p.signature.len() + p.sealed.len())
            .sum::<usize>()
            + 32,
    );
    for part in parts {
        out.extend_from_slice(DASH_BOUNDARY);
        out.extend_from_slice(b"\r\n\tContent-Type: ");
        out.extend_from_slice(protocol.mime_name().as_bytes());
        out.extend_from_slice(b"\r\n\tOriginalContent: type=");
        out.extend_from_slice(ORIGINAL_TYPE.as_bytes());
        out.extend_from_slice(format!(";Length={}\r\n", part.original_length).as_bytes());
        out.extend_from_slice(DASH_BOUNDARY);
        out.extend_from_slice(b"\r\n\tContent-Type: ");
        out.extend_from_slice(OCTET_STREAM.as_bytes());
        out.extend_from_slice(b"\r\n");
        // Signatures are a few bytes; a length over u32 cannot come from a security context.
        let sig_len = u32::try_from(part.signature.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&sig_len.to_le_bytes());
        out.extend_from_slice(&part.signature);
        out.extend_from_slice(&part.sealed);
    }
    out.extend_from_slice(DASH_BOUNDARY);
    out.extend_from_slice(b"--\r\n");
    out
}

/// Unframes a body announced by `content_type`, returning its protocol and parts in order.
///
/// The sealed bytes of a part end where its `Length=` says when the next boundary is found
/// there (stream ciphers: NTLM); otherwise at the next boundary, as other clients read it.
///
/// # Errors
///
/// A [`FramingError`] naming what is malformed; never panics on any input.
pub fn decode(
    content_type: &str,
    body: &[u8],
) -> Result<(SessionProtocol, Vec<EncryptedPart>), FramingError> {
    let protocol = parse_content_type(content_type)?;
    let parts = decode_body(protocol, body)?;
    Ok((protocol, parts))
}

/// Unframes a body whose protocol is already known; see [`decode`].
///
/// # Errors
///
/// A [`FramingError`] naming what is malformed.
pub fn decode_body(
    protocol: SessionProtocol,
    body: &[u8],
) -> Result<Vec<EncryptedPart>, FramingError> {
    let mut parts = Vec::new();
    let mut pos = 0;
    loop {
        pos = expect_boundary(body, pos)?;
        // `--Encrypted Boundary--`: the end.
        if body.get(pos..pos + 2) == Some(b"--") {
            break;
        }
        pos = skip_crlf(body, pos).ok_or(FramingError::MissingBoundary { offset: pos })?;
        // Header part: text lines up to the next boundary.
        let header_end = find(body, DASH_BOUNDARY, pos)
            .ok_or(FramingError::MissingBoundary { offset: body.len() })?;
        let original_length = parse_header_part(protocol, &body[pos..header_end])?;
        pos = expect_boundary(body, header_end)?;
        pos = skip_crlf(body, pos).ok_or(FramingError::MissingBoundary { offset: pos })?;
        pos = skip_octet_stream_header(body, pos)?;

        let sig_len = read_u32_le(body, pos)?;
        pos += 4;
        if sig_len > MAX_PART_LEN {
            return Err(FramingError::TooLarge(sig_len));
        }
        let sig_end = pos
            .checked_add(sig_len)
            .filter(|end| *end <= body.len())
            .ok_or(FramingError::Truncated {
                needed: sig_len,
                available: body.len().saturating_sub(pos),
            })?;
        let signature = body[pos..sig_end].to_vec();
        pos = sig_end;

        let expected_end = pos.checked_add(original_length);
        let data_end = match expected_end {
            Some(end)
                if body
                    .get(end..)
                    .is_some_and(|rest| rest.starts_with(DASH_BOUNDARY)) =>
            {
                end
            }
            _ => find(body, DASH_BOUNDARY, pos)
                .ok_or(FramingError::MissingBoundary { offset: body.len() })?,
        };
        let sealed = body[pos..data_end].to_vec();
        parts.push(EncryptedPart {
            original_length,
            signature,
            sealed,
        });
        pos = data_end;
    }
    if parts.is_empty() {
        return Err(FramingError::Empty);
    }
    Ok(parts)
}

/// Splits a plaintext into the chunks sealed one per part for `protocol` (one chunk except for
/// CredSSP, which seals at most [`CREDSSP_CHUNK`] bytes at a time).
pub fn chunks(protocol: SessionProtocol, plaintext: &[u8]) -> Vec<&[u8]> {
    if protocol != SessionProtocol::CredSsp || plaintext.is_empty() {
        return vec![plaintext];
    }
    plaintext.chunks(CREDSSP_CHUNK).collect()
}

fn expect_boundary(body: &[u8], pos: usize) -> Result<usize, FramingError> {
    if body
        .get(pos..)
        .is_some_and(|rest| rest.starts_with(DASH_BOUNDARY))
    {
        Ok(pos + DASH_BOUNDARY.len())
    } else {
        Err(FramingError::MissingBoundary { offset: pos })
    }
}

fn skip_crlf(body: &[u8], pos: usize) -> Option<usize> {
    match body.get(pos..)? {
        [b'\r', b'\n', ..] => Some(pos + 2),
        [b'\n', ..] => Some(pos + 1),
        _ => None,
    }
}

fn parse_header_part(protocol: SessionProtocol, text: &[u8]) -> Result<usize, FramingError> {
    let text = String::from_utf8_lossy(text);
    let mut length = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim();
        if key.eq_ignore_ascii_case("Content-Type") {
            if SessionProtocol::from_mime_name(value) != Some(protocol) {
                return Err(FramingError::ProtocolMismatch {
                    expected: protocol,
                    found: value.trim().chars().take(80).collect(),
                });
            }
        } else if key.eq_ignore_ascii_case("OriginalContent") {
            for param in value.split(';') {
                let Some((k, v)) = param.split_once('=') else {
                    continue;
                };
                if k.trim().eq_ignore_ascii_case("Length") {
                    let n: usize = v.trim().parse().map_err(|_| FramingError::InvalidLength)?;
                    if n > MAX_PART_LEN {
                        return Err(FramingError::TooLarge(n));
                    }
                    length = Some(n);
                }
            }
        }
    }
    length.ok_or(FramingError::InvalidLength)
}

fn skip_octet_stream_header(body: &[u8], pos: usize) -> Result<usize, FramingError> {
    // One header line, optionally indented with a tab or spaces: `Content-Type: application/octet-stream`.
    let rest = body.get(pos..).ok_or(FramingError::MissingOctetStream)?;
    let line_end = rest
        .iter()
        .take(200)
        .position(|b| *b == b'\n')
        .ok_or(FramingError::MissingOctetStream)?;
    let line = String::from_utf8_lossy(&rest[..line_end]);
    let Some((key, value)) = line.split_once(':') else {
        return Err(FramingError::MissingOctetStream);
    };
    if !key.trim().eq_ignore_ascii_case("Content-Type")
        || !value.trim().eq_ignore_ascii_case(OCTET_STREAM)
    {
        return Err(FramingError::MissingOctetStream);
    }
    Ok(pos + line_end + 1)
}

fn read_u32_le(body: &[u8], pos: usize) -> Result<usize, FramingError> {
    let bytes: [u8; 4] = body
        .get(pos..pos.saturating_add(4))
        .and_then(|b| b.try_into().ok())
        .ok_or(FramingError::Truncated {
            needed: 4,
            available: body.len().saturating_sub(pos),
        })?;
    Ok(u32::from_le_bytes(bytes) as usize)
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn part(plain_len: usize, fill: u8) -> EncryptedPart {
        EncryptedPart {
            original_length: plain_len,
            signature: vec![1, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9, 0, 0, 0, 0],
            sealed: vec![fill; plain_len],
        }
    }

    #[test]
    fn encodes_the_windows_layout() {
        let body = encode(SessionProtocol::Spnego, &[part(3, b'x')]);
        let mut want = b"--Encrypted Boundary\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=3\r\n--Encrypted Boundary\r\n\tContent-Type: application/octet-stream\r\n".to_vec();
        want.extend_from_slice(&[16, 0, 0, 0, 1, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9, 0, 0, 0, 0]);
        want.extend_from_slice(b"xxx--Encrypted Boundary--\r\n");
        assert_eq!(body, want);
    }

    #[test]
    fn content_types() {
        assert_eq!(
            SessionProtocol::Spnego.content_type(1),
            "multipart/encrypted;protocol=\"application/HTTP-SPNEGO-session-encrypted\";boundary=\"Encrypted Boundary\""
        );
        assert!(
            SessionProtocol::CredSsp
                .content_type(2)
                .starts_with("multipart/x-multi-encrypted;")
        );
        assert!(
            SessionProtocol::CredSsp
                .content_type(1)
                .starts_with("multipart/encrypted;")
        );
        assert_eq!(
            parse_content_type(
                "Multipart/Encrypted; protocol=\"application/HTTP-Kerberos-session-encrypted\"; boundary=\"Encrypted Boundary\""
            ),
            Ok(SessionProtocol::Kerberos)
        );
        assert_eq!(
            parse_content_type("application/soap+xml;charset=UTF-8"),
            Err(FramingError::NotEncrypted)
        );
        assert_eq!(
            parse_content_type("multipart/encrypted;boundary=\"Encrypted Boundary\""),
            Err(FramingError::UnknownProtocol)
        );
    }

    #[test]
    fn sealed_data_containing_the_boundary_is_kept_whole() {
        let mut p = part(0, 0);
        p.sealed = b"ab--Encrypted Boundary\r\ncd".to_vec();
        p.original_length = p.sealed.len();
        let body = encode(SessionProtocol::Spnego, std::slice::from_ref(&p));
        let ct = SessionProtocol::Spnego.content_type(1);
        assert_eq!(decode(&ct, &body).unwrap().1, vec![p]);
    }

    #[test]
    fn decodes_pywinrm_style_without_tabs_and_with_lf() {
        let mut body = b"--Encrypted Boundary\nContent-Type: application/HTTP-SPNEGO-session-encrypted\nOriginalContent: type=application/soap+xml;charset=UTF-8;Length=2\n--Encrypted Boundary\nContent-Type: application/octet-stream\n".to_vec();
        body.extend_from_slice(&[2, 0, 0, 0, 7, 7, b'h', b'i']);
        body.extend_from_slice(b"--Encrypted Boundary--\r\n");
        let parts = decode_body(SessionProtocol::Spnego, &body).unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].signature, vec![7, 7]);
        assert_eq!(parts[0].sealed, b"hi");
    }

    #[test]
    fn credssp_chunks_and_multi_part_round_trip() {
        let plain = vec![5u8; CREDSSP_CHUNK * 2 + 10];
        let chunks = chunks(SessionProtocol::CredSsp, &plain);
        assert_eq!(
            chunks.iter().map(|c| c.len()).collect::<Vec<_>>(),
            vec![CREDSSP_CHUNK, CREDSSP_CHUNK, 10]
        );
        assert_eq!(chunks_len(SessionProtocol::Spnego, &plain), 1);
        let parts: Vec<_> = chunks.iter().map(|c| part(c.len(), 3)).collect();
        let ct = SessionProtocol::CredSsp.content_type(parts.len());
        let body = encode(SessionProtocol::CredSsp, &parts);
        assert_eq!(
            decode(&ct, &body).unwrap(),
            (SessionProtocol::CredSsp, parts)
        );
    }

    fn chunks_len(p: SessionProtocol, plain: &[u8]) -> usize {
        chunks(p, plain).len()
    }

    #[test]
    fn malformed_bodies_are_typed_errors() {
        let good = encode(SessionProtocol::Spnego, &[part(4, 1)]);
        assert_eq!(
            decode_body(SessionProtocol::Spnego, b"hello"),
            Err(FramingError::MissingBoundary { offset: 0 })
        );
        assert_eq!(
            decode_body(SessionProtocol::Spnego, b"--Encrypted Boundary--\r\n"),
            Err(FramingError::Empty)
        );
        assert!(matches!(
            decode_body(SessionProtocol::Kerberos, &good),
            Err(FramingError::ProtocolMismatch { .. })
        ));
        let lying = String::from_utf8_lossy(&good).replace("Length=4", "Length=x");
        assert_eq!(
            decode_body(SessionProtocol::Spnego, lying.as_bytes()),
            Err(FramingError::InvalidLength)
        );
        // Cut inside the signature.
        let cut_at = good.len() - 30;
        assert!(decode_body(SessionProtocol::Spnego, &good[..cut_at]).is_err());
        // A huge signature length.
        let mut huge = good.clone();
        let at = find(&huge, b"octet-stream\r\n", 0).unwrap() + 14;
        huge[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode_body(SessionProtocol::Spnego, &huge),
            Err(FramingError::TooLarge(_))
        ));
    }

    proptest! {
        #[test]
        fn encode_then_decode_is_identity(
            proto in prop_oneof![
                Just(SessionProtocol::Spnego),
                Just(SessionProtocol::Kerberos),
                Just(SessionProtocol::CredSsp)
            ],
            raw in proptest::collection::vec(
                (proptest::collection::vec(any::<u8>(), 0..40), proptest::collection::vec(any::<u8>(), 0..300)),
                1..4,
            ),
        ) {
            let parts: Vec<EncryptedPart> = raw
                .into_iter()
                .map(|(signature, sealed)| EncryptedPart { original_length: sealed.len(), signature, sealed })
                .collect();
            let body = encode(proto, &parts);
            let ct = proto.content_type(parts.len());
            prop_assert_eq!(decode(&ct, &body), Ok((proto, parts)));
        }

        #[test]
        fn arbitrary_input_never_panics(ct in ".{0,80}", body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = decode(&ct, &body);
            let _ = decode_body(SessionProtocol::Spnego, &body);
        }

        #[test]
        fn mutated_frames_never_panic(
            len in 0usize..200,
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut body = encode(SessionProtocol::Spnego, &[part(len, 0x41)]);
            for (i, b) in flips {
                let i = i.index(body.len());
                body[i] = b;
            }
            let cut = cut.index(body.len() + 1);
            let _ = decode_body(SessionProtocol::Spnego, &body[..cut]);
        }
    }
}
