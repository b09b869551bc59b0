//! The client's readers of what a KDC and a server send: the KRB-ERROR code of a KDC reply
//! and the PREAUTH_REQUIRED error synthesized from an AS-REP (its realm and salt), the
//! `WWW-Authenticate` values the Negotiate / Kerberos token is taken from, and an NTLM or
//! SPNEGO client context fed hostile server tokens, then sealed replies. None may panic.
//!
//! Input: a selector byte, then legs separated by `--8<--` (each a `WWW-Authenticate` value,
//! or once the context is complete a sealed reply). sspi's own panics are contained by the
//! client (`catch_unwind`) and only noted; a panic located in this workspace aborts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsman_transport::fuzz;

const SEPARATOR: &[u8] = b"--8<--";

fn legs(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(at) = rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
        out.push(&rest[..at]);
        rest = &rest[at + SEPARATOR.len()..];
    }
    out.push(rest);
    out
}

/// Panics inside a dependency (sspi, picky) are caught by the code under test, which turns
/// them into errors: let them unwind. Any other panic aborts, as libfuzzer expects.
fn contained_panics_only() {
    std::panic::set_hook(Box::new(|info| {
        let file = info.location().map(|l| l.file()).unwrap_or_default();
        if file.contains("/.cargo/registry/") || file.contains("/.cargo/git/") {
            let line = info.location().map_or(0, |l| l.line());
            eprintln!("contained dependency panic at {file}:{line}");
            return;
        }
        eprintln!("{info}");
        std::process::abort();
    }));
}

fuzz_target!(init: contained_panics_only(), |data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let legs = legs(rest);
    match which % 5 {
        0 => fuzz::kdc_reply(rest),
        1 => drop(fuzz::www_authenticate(&legs, false)),
        2 => drop(fuzz::www_authenticate(&legs, true)),
        3 => drop(fuzz::server_legs(false, &legs)),
        _ => drop(fuzz::server_legs(true, &legs)),
    }
});
