//! Stateful defragmenter: the input is cut into chunks (each prefixed by a length byte) that
//! are fed to one `Defragmenter` in turn. Decoded fragments and messages must re-encode to
//! the bytes they came from, and limits must hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use psrp::fragment::{Defragmenter, Fragment};
use psrp::message::Message;

const MAX_MESSAGE: usize = 4096;
const MAX_OBJECTS: usize = 8;

fuzz_target!(|data: &[u8]| {
    let mut defrag = Defragmenter::with_limits(MAX_MESSAGE, MAX_OBJECTS);
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        // Length 0 means "the rest", so a plain fragment stream is also a valid input.
        let take = if len == 0 { tail.len() } else { usize::from(len).min(tail.len()) };
        let (chunk, tail) = tail.split_at(take);
        rest = tail;

        let mut again = Vec::new();
        let mut consumed = 0;
        for fragment in Fragment::iter(chunk) {
            let Ok(fragment) = fragment else { break };
            fragment.encode(&mut again);
            consumed += fragment.encoded_len();
        }
        assert_eq!(&again[..], &chunk[..consumed]);

        let _ = defrag.receive(chunk);
        assert!(defrag.incomplete_objects() <= MAX_OBJECTS);
        while let Some(blob) = defrag.poll_message() {
            assert!(blob.len() <= MAX_MESSAGE);
            if let Ok(message) = Message::decode(&blob) {
                assert_eq!(message.to_bytes(), blob);
            }
        }
    }
});
