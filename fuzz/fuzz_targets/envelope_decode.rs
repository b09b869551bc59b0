//! Envelope decoding: never panics; whatever decodes re-encodes to something that decodes equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsman::Envelope;

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = Envelope::decode(data) {
        let encoded = env.encode();
        match Envelope::decode(encoded.as_bytes()) {
            Ok(again) => assert_eq!(again, env, "round trip changed the value:\n{encoded}"),
            Err(e) => panic!("re-encoded envelope does not decode: {e}\n{encoded}"),
        }
    }
});
