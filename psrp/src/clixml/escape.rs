//! The `_xHHHH_` escapes of CLIXML strings (MS-PSRP 2.2.5.3.2).
//!
//! Control characters (C0 and C1) and characters outside the Basic Multilingual Plane are written
//! as UTF-16 code units in `_xHHHH_` form; a literal `_x` or `_X` gets its underscore escaped as
//! `_x005F_` so it cannot be mistaken for an escape.

use std::borrow::Cow;

/// Replaces every `_xHHHH_` escape with the UTF-16 unit it names.
///
/// Escaped surrogate pairs are joined; a lone surrogate becomes U+FFFD, since a Rust string
/// cannot hold it.
pub fn decode_escapes(text: &str) -> Cow<'_, str> {
    if !text.contains("_x") {
        return Cow::Borrowed(text);
    }
    let mut units: Vec<u16> = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("_x") {
        let (before, after) = rest.split_at(at);
        units.extend(before.encode_utf16());
        match escape_unit(after) {
            Some(unit) => {
                units.push(unit);
                rest = &after[7..];
            }
            None => {
                units.push(u16::from(b'_'));
                rest = &after[1..];
            }
        }
    }
    units.extend(rest.encode_utf16());
    Cow::Owned(String::from_utf16_lossy(&units))
}

/// Writes `text` with CLIXML escapes applied (XML markup escaping is the caller's).
pub fn encode_escapes(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) && !has_underscore_x(text) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    push_escaped(&mut out, text, |out, c| out.push(c));
    Cow::Owned(out)
}

/// Appends `text` to `out` with CLIXML escapes, passing every other character to `plain`.
pub(crate) fn push_escaped(out: &mut String, text: &str, plain: impl Fn(&mut String, char)) {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '_' && matches!(chars.peek(), Some('x' | 'X')) {
            out.push_str("_x005F_");
        } else if needs_escape(c) {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                push_unit(out, *unit);
            }
        } else {
            plain(out, c);
        }
    }
}

fn push_unit(out: &mut String, unit: u16) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push_str("_x");
    for shift in [12, 8, 4, 0] {
        out.push(char::from(HEX[usize::from((unit >> shift) & 0xF)]));
    }
    out.push('_');
}

fn needs_escape(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1F}' | '\u{7F}'..='\u{9F}') || u32::from(c) > 0xFFFF
}

fn has_underscore_x(text: &str) -> bool {
    text.as_bytes()
        .windows(2)
        .any(|w| w[0] == b'_' && (w[1] == b'x' || w[1] == b'X'))
}

/// Parses `_xHHHH_` at the start of `s`.
fn escape_unit(s: &str) -> Option<u16> {
    let b = s.as_bytes().get(..7)?;
    if &b[..2] != b"_x" || b[6] != b'_' {
        return None;
    }
    let hex = std::str::from_utf8(&b[2..6]).ok()?;
    if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_crlf_and_pairs() {
        assert_eq!(decode_escapes("a_x000D__x000A_b"), "a\r\nb");
        assert_eq!(decode_escapes("_xD83D__xDE00_"), "\u{1F600}");
        assert_eq!(decode_escapes("_xd83d__xde00_"), "\u{1F600}");
        assert_eq!(decode_escapes("_x005F_x"), "_x");
        assert_eq!(decode_escapes("_xD83D_"), "\u{FFFD}");
        assert_eq!(decode_escapes("_x12_ _xZZZZ_ _x"), "_x12_ _xZZZZ_ _x");
    }

    #[test]
    fn encodes_controls_surrogates_and_literal_escape() {
        assert_eq!(encode_escapes("a\r\nb"), "a_x000D__x000A_b");
        assert_eq!(encode_escapes("\u{1F600}"), "_xD83D__xDE00_");
        assert_eq!(encode_escapes("_x_X_y"), "_x005F_x_x005F_X_y");
        assert_eq!(encode_escapes("\u{85}\u{7F}"), "_x0085__x007F_");
        assert!(matches!(encode_escapes("plain_"), Cow::Borrowed(_)));
    }

    #[test]
    fn round_trips() {
        for s in [
            "",
            "_",
            "_x",
            "__x0041_",
            "\u{0}\u{1F}é\u{10FFFF}",
            "_x0041_",
        ] {
            assert_eq!(decode_escapes(&encode_escapes(s)), s, "{s:?}");
        }
    }
}
