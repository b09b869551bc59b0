//! Helpers shared by the typed decoders and encoders.

use std::str::FromStr;
use std::time::Duration;

use crate::error::DecodeError;
use crate::xml::{Element, Writer};

pub(crate) fn sub(path: &str, name: &str) -> String {
    let mut s = String::with_capacity(path.len() + name.len() + 1);
    s.push_str(path);
    s.push('/');
    s.push_str(name);
    s
}

pub(crate) fn trimmed(el: &Element) -> String {
    el.text().trim().to_owned()
}

pub(crate) fn number<T: FromStr>(
    text: &str,
    path: &str,
    what: &'static str,
) -> Result<T, DecodeError> {
    text.trim()
        .parse()
        .map_err(|_| DecodeError::invalid(path, what, text))
}

pub(crate) fn boolean(text: &str, path: &str) -> Result<bool, DecodeError> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("true") || t == "1" {
        Ok(true)
    } else if t.eq_ignore_ascii_case("false") || t == "0" {
        Ok(false)
    } else {
        Err(DecodeError::invalid(path, "boolean", text))
    }
}

pub(crate) fn duration(text: &str, path: &str) -> Result<Duration, DecodeError> {
    crate::duration::parse(text).map_err(|e| DecodeError::InvalidDuration {
        path: path.to_owned(),
        value: e.value,
        reason: e.reason,
    })
}

/// Decodes base64 text, tolerating whitespace (line-wrapped or pretty-printed content).
pub(crate) fn base64(text: &str, path: &str) -> Result<Vec<u8>, DecodeError> {
    let bad = || DecodeError::InvalidBase64 {
        path: path.to_owned(),
    };
    let t = text.trim();
    // The usual text has no whitespace inside: decode it straight away, and only on failure
    // look for whitespace to drop (base64 never accepts it, so the first decode cannot
    // succeed on wrapped text). Scanning first cost a pass over every byte of bulk output.
    match base64_simd::STANDARD.decode_to_vec(t) {
        Ok(bytes) => Ok(bytes),
        Err(_) if t.bytes().any(|b| b.is_ascii_whitespace()) => {
            let compact: String = t.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            base64_simd::STANDARD
                .decode_to_vec(compact)
                .map_err(|_| bad())
        }
        Err(_) => Err(bad()),
    }
}

pub(crate) fn write_base64(w: &mut Writer, data: &[u8]) {
    base64_simd::STANDARD.encode_append(data, &mut w.out);
}

pub(crate) fn streams(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

pub(crate) fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// Writes `<qname>text</qname>` when `value` is set.
pub(crate) fn opt_leaf(w: &mut Writer, qname: &str, value: Option<&str>) {
    if let Some(v) = value {
        w.leaf(qname, v);
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    #[test]
    fn base64_decodes_compact_and_wrapped_text_alike_and_refuses_garbage() {
        let data: Vec<u8> = (0..=255u8).cycle().take(300).collect();
        let compact = STANDARD.encode(&data);
        assert_eq!(base64(&compact, "s").unwrap(), data);
        // Line-wrapped and indented, as pretty-printed replies carry it.
        let wrapped: String = compact
            .as_bytes()
            .chunks(76)
            .map(|c| format!("\n    {}", std::str::from_utf8(c).unwrap()))
            .collect();
        assert_eq!(base64(&format!("{wrapped}\n"), "s").unwrap(), data);
        assert_eq!(base64(" \t", "s").unwrap(), Vec::<u8>::new());
        for bad in ["not*base64", "QUJD RA=", "QU JD\u{e9}"] {
            match base64(bad, "rsp:Stream") {
                Err(DecodeError::InvalidBase64 { path }) => assert_eq!(path, "rsp:Stream"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
