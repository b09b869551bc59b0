//! Message decoding: anything that decodes re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use psrp::message::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = Message::decode(data) {
        assert_eq!(message.to_bytes(), data);
        let _ = message.clixml_text();
        let _ = format!("{message:?}");
    }
});
