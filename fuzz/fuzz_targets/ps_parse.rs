//! The emulator's PowerShell-subset parser reads scripts from the wire (CREATE_PIPELINE
//! commands, `-EncodedCommand`): any text must parse or be refused with an error, never panic
//! or overflow the stack.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = emulator::engine::parse_script(text);
    }
});
