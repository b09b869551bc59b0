//! `multipart/encrypted` framing: decoding never panics, and what decodes re-encodes to a body
//! that decodes to the same parts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsman::encryption::{self, SessionProtocol};

fuzz_target!(|data: &[u8]| {
    // First byte picks the protocol so all three content types are exercised.
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let protocol = match sel % 3 {
        0 => SessionProtocol::Spnego,
        1 => SessionProtocol::Kerberos,
        _ => SessionProtocol::CredSsp,
    };
    let _ = encryption::decode(&String::from_utf8_lossy(body), body);
    if let Ok(parts) = encryption::decode_body(protocol, body) {
        let again = encryption::encode(protocol, &parts);
        let ct = protocol.content_type(parts.len());
        assert_eq!(encryption::decode(&ct, &again), Ok((protocol, parts)));
    }
});
