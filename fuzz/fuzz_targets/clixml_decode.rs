//! CLIXML from a peer: decoding never panics, and whatever decodes re-encodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use psrp::clixml;
use psrp::message::MessageType;
use psrp::messages::Payload;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = clixml::from_clixml_bytes(data) {
        let text = clixml::to_clixml(&value);
        let again = clixml::from_clixml(&text).expect("re-encoded clixml decodes");
        assert_eq!(again, value);
        // Type the value as every known message; typed payloads must round trip too.
        for ty in MessageType::ALL {
            if let Ok(payload) = Payload::from_value(*ty, &value) {
                let back = Payload::decode(*ty, &payload.encode()).expect("typed re-encode decodes");
                assert_eq!(back, payload);
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(objs) = clixml::from_objs(text) {
            let again = clixml::from_objs(&clixml::to_clixml_document(&objs)).expect("objs decode");
            assert_eq!(again, objs);
        }
    }
});
