//! The emulator's readers of `Authorization` tokens: the keytab, SPNEGO NegTokenInit /
//! NegTokenResp, the Kerberos offer (raw GSS krb5 or SPNEGO, krb5 / MS-krb5), the legs of one
//! connection (Kerberos AP-REQ against a real keytab, the SPNEGO fallback to NTLM, NTLM,
//! then sealed messages once established) and CredSSP's TSRequests. None may panic.
//!
//! Input: a selector byte, then legs separated by `--8<--`. sspi's own panics are contained
//! by the acceptor (`catch_unwind`) and only noted; a panic located in this workspace aborts.
#![no_main]

use std::sync::LazyLock;

use emulator::Config;
use libfuzzer_sys::fuzz_target;

/// The service keys of the throwaway realm the seed AP-REQs were made in (scripts/test-kdc).
static CONFIG: LazyLock<Config> =
    LazyLock::new(|| emulator::fuzz::config(include_bytes!("../data/psrm-test.keytab")));

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

/// Panics inside a dependency (sspi, picky, rustls) are caught by the code under test, which
/// turns them into refusals: let them unwind. Any other panic aborts, as libfuzzer expects.
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
        0 => drop(emulator::keytab::Keytab::parse(rest)),
        1 => legs.iter().for_each(|l| emulator::fuzz::tokens(l)),
        2 => drop(emulator::fuzz::connection(&CONFIG, false, &legs)),
        3 => drop(emulator::fuzz::connection(&CONFIG, true, &legs)),
        _ => drop(emulator::fuzz::credssp_ts_requests(&CONFIG, &legs)),
    }
});
