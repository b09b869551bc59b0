//! The emulator's readers of `Authorization` tokens: the keytab, SPNEGO NegTokenInit /
//! NegTokenResp, the Kerberos offer (raw GSS krb5 or SPNEGO, krb5 / MS-krb5), the legs of one
//! connection (Kerberos AP-REQ against a real keytab, the SPNEGO fallback to NTLM, NTLM,
//! then sealed messages once established) and CredSSP's TSRequests. None may panic.
//!
//! Input: a selector byte, then legs separated by `--8<--`. sspi's own panics are contained
//! by the acceptor (`catch_unwind`) and only noted; a panic located in this workspace aborts.
#![no_main]

#[path = "auth_common.rs"]
mod auth_common;

use std::sync::LazyLock;

use auth_common::{contained_panics_only, legs};
use emulator::Config;
use libfuzzer_sys::fuzz_target;

/// The service keys of the throwaway realm the seed AP-REQs were made in (scripts/test-kdc).
static CONFIG: LazyLock<Config> =
    LazyLock::new(|| emulator::fuzz::config(include_bytes!("../data/psrm-test.keytab")));

fuzz_target!(init: contained_panics_only(), |data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let legs = legs(rest);
    match which % 5 {
        0 => drop(emulator::keytab::Keytab::parse(rest)),
        1 => legs.iter().for_each(|l| emulator::fuzz::tokens(l)),
        2 => drop(emulator::fuzz::connection(&CONFIG, false, &legs)),
        3 => drop(emulator::fuzz::connection(&CONFIG, true, &legs)),
        _ => drop(emulator::fuzz::credssp_ts_requests(&CONFIG, &legs)),
    }
});
