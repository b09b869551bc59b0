//! What the CLI test binaries share: a `psrm emulator` child process started from a TOML
//! configuration in a scratch directory, and killed (its directory removed) on drop.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

pub const PSRM: &str = env!("CARGO_BIN_EXE_psrm");

/// A running `psrm emulator` child, killed on drop.
pub struct EmulatorProcess {
    pub child: Child,
    pub addr: String,
    pub dir: PathBuf,
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The stdout of a psrm run that must have succeeded (else the test fails showing its exit
/// status and stderr). cli_rds reads its runs otherwise.
#[allow(dead_code)]
pub fn stdout_of(out: &Output) -> String {
    assert!(
        out.status.success(),
        "psrm failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("psrm prints utf-8")
}

/// A fresh directory under the temporary directory, `{prefix}-{pid}-{n}`.
pub fn scratch_dir(prefix: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Writes `config` as `dir/emu.toml` and runs `psrm emulator --listen 127.0.0.1:0 --config
/// dir/emu.toml ARGS`; the address is read from its ready line `listening on
/// {scheme}://ADDR/wsman`. The child owns `dir` from then on.
pub fn start_emulator(
    dir: PathBuf,
    config: &str,
    args: &[String],
    scheme: &str,
) -> EmulatorProcess {
    let path = dir.join("emu.toml");
    std::fs::write(&path, config).expect("write config");
    let mut child = Command::new(PSRM)
        .args(["emulator", "--listen", "127.0.0.1:0", "--config"])
        .arg(&path)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn psrm emulator");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("ready line");
    let prefix = format!("listening on {scheme}://");
    let addr = line
        .trim()
        .strip_prefix(prefix.as_str())
        .and_then(|r| r.strip_suffix("/wsman"))
        .unwrap_or_else(|| panic!("unexpected ready line {line:?}"))
        .to_owned();
    EmulatorProcess { child, addr, dir }
}

/// The resume tests' objects: `1..=BIG_N`, each `n:` and `BIG_PAD` bytes on its line, larger
/// than the largest envelope (512 000 bytes): each object spans several Receives.
#[allow(dead_code)]
pub const BIG_N: usize = 10;
#[allow(dead_code)]
pub const BIG_PAD: usize = 600_000;

/// `[faults]` rules (without the table header) that make the emulator handle the 10th to 19th
/// Receives and drop them before the reply: ten in a row, more than one logical Receive's
/// attempts, so the reading process loses its connection for good part-way.
#[allow(dead_code)]
pub fn receive_drop_rules() -> String {
    (10..20)
        .map(|n| format!("[[faults.rules]]\naction = \"Receive\"\nkind = \"drop\"\nnth = {n}\n"))
        .collect()
}

/// The script writing the big objects.
#[allow(dead_code)]
pub fn big_objects_script() -> String {
    format!("1..{BIG_N} | ForEach-Object {{ '' + $_ + ':' + ('x' * {BIG_PAD}) }}")
}

/// The numbers of the big objects printed in `text`, each checked whole.
#[allow(dead_code)]
pub fn big_object_numbers(text: &str) -> Vec<usize> {
    text.lines()
        .filter_map(|l| {
            let (n, pad) = l.split_once(':')?;
            assert_eq!(pad.len(), BIG_PAD, "object {n} printed whole");
            n.parse().ok()
        })
        .collect()
}

/// What a `psrm` process that lost its connection mid-command left: the big objects it printed
/// (some, not all), and the session named by its one stderr line `… resume with psrm receive
/// --name NAME` (`expected`, when given); the state file in `state_dir` carries the progress.
#[allow(dead_code)]
pub fn lost_midway(
    stdout: &str,
    stderr: &str,
    expected: Option<&str>,
    state_dir: &std::path::Path,
) -> (Vec<usize>, String) {
    let got = big_object_numbers(stdout);
    assert!(
        (1..BIG_N).contains(&got.len()),
        "the failure came mid-way: {}: {stderr}",
        got.len()
    );
    let line = stderr.trim();
    assert_eq!(line.lines().count(), 1, "{stderr}");
    let name = line
        .split_once("resume with psrm receive --name ")
        .map(|(_, n)| n.trim().to_owned())
        .unwrap_or_else(|| panic!("no resume hint: {stderr}"));
    if let Some(expected) = expected {
        assert_eq!(name, expected);
    }
    let state = std::fs::read_to_string(state_dir.join("state.json")).expect("state file");
    assert!(state.contains("\"progress\""), "{state}");
    (got, name)
}

/// The two processes read every big object once, in order, and left no partial object in the
/// state file in `state_dir`.
#[allow(dead_code)]
pub fn all_read_once(got: &[usize], state_dir: &std::path::Path) {
    assert_eq!(
        got,
        (1..=BIG_N).collect::<Vec<_>>(),
        "each object once, in order"
    );
    let state = std::fs::read_to_string(state_dir.join("state.json")).expect("state file");
    assert!(!state.contains("partial_objects"), "nothing left to carry");
}
