//! Scripts the `ps_parse` fuzz target found: each must be answered (parsed or refused) quickly,
//! without panicking, looping or exhausting memory.

use std::time::{Duration, Instant};

use emulator::engine::parse_script;

fn answered_quickly(script: &str) {
    let started = Instant::now();
    let _ = parse_script(script);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{script:?} took {:?}",
        started.elapsed()
    );
}

/// A command followed by a lone `&`: the argument parser consumed nothing and pushed empty
/// arguments forever (out of memory).
#[test]
fn a_command_with_a_lone_ampersand_argument_is_refused() {
    answered_quickly("gb&");
    let e = parse_script("gb &").expect_err("a lone & is not an argument");
    assert_eq!(e.id, "UnexpectedToken");
    // Ordinary arguments still parse.
    assert!(parse_script("Write-Output a b -c:1 -d").is_ok());
}
