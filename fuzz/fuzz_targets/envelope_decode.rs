//! Envelope decoding: never panics; whatever decodes re-encodes to something that decodes equal.
//! The same bytes also go through the Identify decoders (their envelopes carry no WS-Addressing
//! headers, so they have decoders of their own).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsman::Envelope;
use wsman::identify::{Identify, IdentifyResponse};

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = Envelope::decode(data) {
        let encoded = env.encode();
        match Envelope::decode(encoded.as_bytes()) {
            Ok(again) => assert_eq!(again, env, "round trip changed the value:\n{encoded}"),
            Err(e) => panic!("re-encoded envelope does not decode: {e}\n{encoded}"),
        }
    }
    if let Ok(request) = Identify::decode(data) {
        let encoded = request.encode();
        assert_eq!(Identify::decode(encoded.as_bytes()), Ok(request), "{encoded}");
    }
    if let Ok(reply) = IdentifyResponse::decode(data) {
        let encoded = reply.encode();
        match IdentifyResponse::decode(encoded.as_bytes()) {
            Ok(again) => assert_eq!(again, reply, "round trip changed the value:\n{encoded}"),
            Err(e) => panic!("re-encoded identify reply does not decode: {e}\n{encoded}"),
        }
    }
});
