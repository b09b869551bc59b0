//! The client's readers of what a KDC and a server send: the KRB-ERROR code of a KDC reply
//! and the PREAUTH_REQUIRED error synthesized from an AS-REP (its realm and salt), the
//! `WWW-Authenticate` values the Negotiate / Kerberos token is taken from, and an NTLM or
//! SPNEGO client context fed hostile server tokens, then sealed replies. None may panic.
//!
//! Input: a selector byte, then legs separated by `--8<--` (each a `WWW-Authenticate` value,
//! or once the context is complete a sealed reply). sspi's own panics are contained by the
//! client (`catch_unwind`) and only noted; a panic located in this workspace aborts.
#![no_main]

#[path = "auth_common.rs"]
mod auth_common;

use auth_common::{contained_panics_only, legs};
use libfuzzer_sys::fuzz_target;
use wsman_transport::fuzz;

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
