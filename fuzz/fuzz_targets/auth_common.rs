//! What the two authentication targets share: splitting the input into legs, and a panic hook
//! that lets contained dependency panics unwind. Included by `#[path]`, not a target itself.

pub const SEPARATOR: &[u8] = b"--8<--";

/// The input's legs, separated by `--8<--`.
pub fn legs(data: &[u8]) -> Vec<&[u8]> {
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
/// turns them into refusals or errors: let them unwind. Any other panic aborts, as libfuzzer
/// expects.
pub fn contained_panics_only() {
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
