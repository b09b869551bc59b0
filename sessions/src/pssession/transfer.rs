//! Copying files to and from the host of a [`PsSession`], as `Copy-Item -ToSession` /
//! `-FromSession` do: the bytes travel as base64 strings in PowerShell objects, pipeline input
//! one way and pipeline output the other, and a SHA-1 of the whole file checks them.
//!
//! ```text
//!  copy_to    Command(COPY_SCRIPT dest expand, NoInput false)
//!               ──Send stdin: base64 chunk──► … ──Send: last chunk, base64(hex SHA-1), end──►
//!               ◄──Receive: the full remote path (or a failed pipeline: hash mismatch…)──
//!  fetch_from Command(FETCH_SCRIPT src expand)
//!               ◄──Receive: base64 chunk … base64 chunk, hex SHA-1 of the file──
//! ```
//!
//! Each copy chunk is sized to fit one WS-Man Send (see [`copy_chunk_size`]). The remote side
//! runs this module's own scripts ([`COPY_SCRIPT`], [`FETCH_SCRIPT`]); their wire contract (a
//! script with the path and an "expand `%VARS%`" flag as positional arguments, the object
//! streams above) is the one pypsrp's `Client.copy` / `Client.fetch` use, so either client can
//! talk to what the other's script expects.
//!
//! Local files are read and written with blocking `std::fs` calls, one chunk at a time.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use psrp::clixml::Value;
use psrp::records::{Command, ErrorRecord, PsInvocationState};
use sha1::{Digest, Sha1};
use uuid::Uuid;

use super::{Invocation, PsSession, StreamItem, room};
use crate::error::Error;

/// Options of [`copy_to`] and [`fetch_from`].
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct TransferOptions {
    /// Expand `%NAME%` environment variables in the remote path, on the remote host.
    pub expand_vars: bool,
    /// Bytes of file data per input object when copying; by default as many as fit one Send
    /// ([`copy_chunk_size`]).
    pub chunk_size: Option<usize>,
    /// The pipeline id (= CommandId); a random one when `None`.
    pub pipeline_id: Option<Uuid>,
}

impl TransferOptions {
    /// Expands `%NAME%` variables in the remote path on the remote host.
    pub fn expand_vars(mut self, on: bool) -> Self {
        self.expand_vars = on;
        self
    }

    /// Bytes of file data per input object when copying (at least 1).
    pub fn chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = Some(bytes.max(1));
        self
    }
}

/// What a finished [`copy_to`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyOutcome {
    /// The full path the remote host wrote, as it reported it.
    pub remote_path: String,
    /// Bytes sent.
    pub bytes: u64,
    /// SHA-1 of the file, lowercase hex (the remote host computed the same).
    pub sha1: String,
    /// Warnings the remote side wrote.
    pub warnings: Vec<String>,
}

/// What a finished [`fetch_from`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchOutcome {
    /// Bytes received and written.
    pub bytes: u64,
    /// SHA-1 of the file, lowercase hex (equal to what the remote host announced).
    pub sha1: String,
    /// Warnings the remote side wrote.
    pub warnings: Vec<String>,
}

/// Why a transfer failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    /// The remote file does not exist (fetch).
    #[error("remote file {path} does not exist")]
    RemoteNotFound {
        /// The remote path as given.
        path: String,
        /// The remote error record.
        record: Box<ErrorRecord>,
    },
    /// The remote path is a directory, not a file.
    #[error("remote path {path} is a directory, not a file")]
    RemoteIsDirectory {
        /// The remote path as given.
        path: String,
        /// The remote error record.
        record: Box<ErrorRecord>,
    },
    /// The remote host received other bytes than were sent (copy): it refused to write them.
    #[error("the remote host received a file whose sha-1 differs from the one sent")]
    RemoteHashMismatch {
        /// The remote error record (its message names both hashes).
        record: Box<ErrorRecord>,
    },
    /// The bytes received differ from what the remote host announced (fetch); nothing was
    /// kept at the local path.
    #[error(
        "sha-1 mismatch: the remote host announced {expected}, the bytes received hash to {actual}"
    )]
    HashMismatch {
        /// What the remote host announced.
        expected: String,
        /// What the received bytes hash to.
        actual: String,
    },
    /// The remote side failed otherwise (access denied, disk full…).
    #[error("remote transfer failed: {message}")]
    RemoteFailed {
        /// The error's message.
        message: String,
        /// The remote error record, when the pipeline reported one.
        record: Option<Box<ErrorRecord>>,
    },
    /// The remote side answered with something the transfer does not expect.
    #[error("unexpected transfer output: {0}")]
    Protocol(String),
    /// A local file could not be read or written.
    #[error("local file {path}: {source}")]
    Local {
        /// The local path.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// The session failed (transport, fault, a closed session…).
    #[error(transparent)]
    Session(#[from] Error),
}

/// Copies the local file `local` to `remote` on the session's host and returns the full
/// remote path (`Copy-Item -ToSession`). An existing remote file is replaced, only once the
/// whole file arrived with the right SHA-1.
///
/// # Errors
///
/// [`TransferError::Local`] when `local` cannot be read, [`TransferError::RemoteHashMismatch`],
/// [`TransferError::RemoteIsDirectory`], [`TransferError::RemoteFailed`] for other remote
/// failures, [`TransferError::Session`].
pub async fn copy_to(
    session: &mut PsSession,
    local: &Path,
    remote: &str,
    options: &TransferOptions,
) -> Result<CopyOutcome, TransferError> {
    let local_error = |source| TransferError::Local {
        path: local.to_owned(),
        source,
    };
    let file = File::open(local).map_err(local_error)?;
    copy_reader(session, file, remote, options)
        .await
        .map_err(|e| match e {
            TransferError::Local { source, .. } => local_error(source),
            other => other,
        })
}

/// [`copy_to`] with the bytes read from `reader` (to its end).
///
/// # Errors
///
/// As [`copy_to`]; a read error is [`TransferError::Local`] with an empty path.
pub async fn copy_reader<R: Read>(
    session: &mut PsSession,
    mut reader: R,
    remote: &str,
    options: &TransferOptions,
) -> Result<CopyOutcome, TransferError> {
    let chunk = options
        .chunk_size
        .unwrap_or_else(|| copy_chunk_size(room(&session.client)));
    let read_error = |source| TransferError::Local {
        path: PathBuf::new(),
        source,
    };
    // Read before starting: a file that cannot be read leaves nothing running remotely.
    let mut current = read_chunk(&mut reader, chunk).map_err(read_error)?;
    let mut invocation = copy_invocation(remote, options.expand_vars).input_later();
    invocation.pipeline_id = options.pipeline_id;
    let mut pipeline = session.start(&invocation).await?;
    let id = pipeline.command_id().clone();
    let mut digest = Sha1::new();
    let mut bytes = 0u64;
    let sent = loop {
        let next = match read_chunk(&mut reader, chunk) {
            Ok(next) => next,
            Err(e) => break Err(read_error(e)),
        };
        digest.update(&current);
        bytes += current.len() as u64;
        let data = Value::String(STANDARD.encode(&current));
        if next.is_empty() {
            // The last chunk travels with the hash and the end of input, as one Send.
            let hash = hex(&digest.clone().finalize());
            let hash_value = Value::String(STANDARD.encode(hash.as_bytes()));
            break pipeline
                .send_input(vec![data, hash_value], true)
                .await
                .map(|()| hash)
                .map_err(TransferError::from);
        }
        if let Err(e) = pipeline.send_input(vec![data], false).await {
            break Err(e.into());
        }
        current = next;
    };
    let hash = match sent {
        Ok(hash) => hash,
        Err(TransferError::Session(e)) if e.fault().is_some() => {
            // A refused Send: the remote script may have failed already (a destination that
            // is a directory, access denied); its own error says more than the fault.
            let out = pipeline.collect().await;
            session.forget_command(&id);
            return Err(match out {
                Ok(out) => failure(out.state, out.reason, &out.errors, remote).unwrap_or(e.into()),
                Err(_) => e.into(),
            });
        }
        Err(e) => {
            // Best effort: the remote script must not wait for input that will not come.
            let _ = pipeline.stopper().stop().await;
            session.forget_command(&id);
            return Err(e);
        }
    };
    let out = pipeline.collect().await;
    session.forget_command(&id);
    let out = out?;
    if let Some(failure) = failure(out.state, out.reason, &out.errors, remote) {
        return Err(failure);
    }
    let remote_path = match out.output.last() {
        Some(Value::String(path)) => path.clone(),
        other => {
            return Err(TransferError::Protocol(format!(
                "the copy reported {other:?} instead of the remote path"
            )));
        }
    };
    Ok(CopyOutcome {
        remote_path,
        bytes,
        sha1: hash,
        warnings: out.warnings,
    })
}

/// Fetches the remote file `remote` to the local path `local` (`Copy-Item -FromSession`).
/// The bytes go to `local` plus `.psrm-partial` first and replace `local` only once their
/// SHA-1 matched; on any failure the partial file is removed.
///
/// # Errors
///
/// [`TransferError::RemoteNotFound`], [`TransferError::RemoteIsDirectory`],
/// [`TransferError::HashMismatch`], [`TransferError::RemoteFailed`], [`TransferError::Local`]
/// when `local` cannot be written, [`TransferError::Protocol`], [`TransferError::Session`].
pub async fn fetch_from(
    session: &mut PsSession,
    remote: &str,
    local: &Path,
    options: &TransferOptions,
) -> Result<FetchOutcome, TransferError> {
    let mut partial = local.as_os_str().to_owned();
    partial.push(".psrm-partial");
    let partial = PathBuf::from(partial);
    let local_error = |path: &Path, source| TransferError::Local {
        path: path.to_owned(),
        source,
    };
    let file = File::create(&partial).map_err(|e| local_error(&partial, e))?;
    let mut writer = io::BufWriter::new(file);
    let fetched = fetch_writer(session, remote, &mut writer, options).await;
    let flushed = writer.flush();
    drop(writer);
    let done = match (fetched, flushed) {
        (Ok(outcome), Ok(())) => std::fs::rename(&partial, local)
            .map(|()| outcome)
            .map_err(|e| local_error(local, e)),
        (Err(TransferError::Local { source, .. }), _) | (Ok(_), Err(source)) => {
            Err(local_error(&partial, source))
        }
        (Err(e), _) => Err(e),
    };
    if done.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    done
}

/// [`fetch_from`] writing the bytes to `writer` as they arrive. On
/// [`TransferError::HashMismatch`] the writer has received bytes that must not be trusted.
///
/// # Errors
///
/// As [`fetch_from`]; a write error is [`TransferError::Local`] with an empty path.
pub async fn fetch_writer<W: Write>(
    session: &mut PsSession,
    remote: &str,
    mut writer: W,
    options: &TransferOptions,
) -> Result<FetchOutcome, TransferError> {
    let mut invocation = fetch_invocation(remote, options.expand_vars);
    invocation.pipeline_id = options.pipeline_id;
    let mut pipeline = session.start(&invocation).await?;
    let id = pipeline.command_id().clone();
    let mut receiver = FetchReceiver::default();
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    let read = loop {
        let item = match pipeline.next().await {
            Ok(Some(item)) => item,
            Ok(None) => break Ok(()),
            Err(e) => break Err(TransferError::from(e)),
        };
        match item {
            StreamItem::Output(value) => {
                let written = receiver.push(value).and_then(|data| {
                    writer
                        .write_all(&data)
                        .map_err(|source| TransferError::Local {
                            path: PathBuf::new(),
                            source,
                        })
                });
                if let Err(e) = written {
                    break Err(e);
                }
            }
            StreamItem::Warning(w) => warnings.push(w),
            StreamItem::Error(e) => errors.push(e),
            _ => {}
        }
    };
    if let Err(e) = read {
        if !pipeline.is_done() {
            let _ = pipeline.stopper().stop().await;
        }
        session.forget_command(&id);
        return Err(e);
    }
    session.forget_command(&id);
    if let Some(failure) = failure(
        pipeline.state(),
        pipeline.reason().cloned(),
        &errors,
        remote,
    ) {
        return Err(failure);
    }
    let (bytes, sha1) = receiver.finish()?;
    Ok(FetchOutcome {
        bytes,
        sha1,
        warnings,
    })
}

/// The copy pipeline: [`COPY_SCRIPT`] with the destination and the expand flag as positional
/// arguments.
pub fn copy_invocation(remote: &str, expand_vars: bool) -> Invocation {
    script_invocation(COPY_SCRIPT, remote, expand_vars)
}

/// The fetch pipeline: [`FETCH_SCRIPT`] with the source and the expand flag as positional
/// arguments.
pub fn fetch_invocation(remote: &str, expand_vars: bool) -> Invocation {
    script_invocation(FETCH_SCRIPT, remote, expand_vars)
}

fn script_invocation(script: &str, path: &str, expand_vars: bool) -> Invocation {
    Invocation {
        commands: vec![
            Command::new(script, true)
                .with_arg(None, path)
                .with_arg(None, expand_vars),
        ],
        ..Invocation::default()
    }
}

/// The file bytes per input object that fit one Send of `room` bytes of fragments: the
/// base64 text grows them by 4/3, and the fragment header (21 bytes), the message header
/// (40 bytes), a byte order mark and the `<S></S>` around the text need room too.
pub fn copy_chunk_size(room: usize) -> usize {
    (room.saturating_sub(CHUNK_OVERHEAD) / 4 * 3).max(3)
}

/// Room kept in a Send for the headers and the CLIXML around a chunk (generous).
const CHUNK_OVERHEAD: usize = 256;

/// Reads up to `size` bytes (fewer only at the end of `reader`).
fn read_chunk(reader: &mut impl Read, size: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(size.min(1 << 20));
    reader.take(size as u64).read_to_end(&mut out)?;
    Ok(out)
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// What the fetch output means so far: every string but the last is a base64 chunk of the
/// file, the last is the SHA-1 the remote host computed.
#[derive(Debug, Default)]
struct FetchReceiver {
    held: Option<String>,
    digest: Sha1,
    bytes: u64,
}

impl FetchReceiver {
    /// Takes the next output object; returns the bytes of the one before it, now known to be
    /// a chunk.
    fn push(&mut self, value: Value) -> Result<Vec<u8>, TransferError> {
        let Value::String(text) = value else {
            return Err(TransferError::Protocol(format!(
                "a fetch output that is not a string: {value:?}"
            )));
        };
        let Some(chunk) = self.held.replace(text) else {
            return Ok(Vec::new());
        };
        let data = STANDARD
            .decode(chunk.trim())
            .map_err(|e| TransferError::Protocol(format!("a fetch chunk is not base64: {e}")))?;
        self.digest.update(&data);
        self.bytes += data.len() as u64;
        Ok(data)
    }

    /// The byte count and the hash, once the announced hash matched.
    fn finish(self) -> Result<(u64, String), TransferError> {
        let Some(announced) = self.held else {
            return Err(TransferError::Protocol(
                "the fetch ended without announcing a hash".into(),
            ));
        };
        let announced = announced.trim().to_ascii_lowercase();
        if announced.len() != 40 || !announced.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TransferError::Protocol(format!(
                "the fetch ended with {announced:?} instead of a sha-1"
            )));
        }
        let actual = hex(&self.digest.finalize());
        if actual != announced {
            return Err(TransferError::HashMismatch {
                expected: announced,
                actual,
            });
        }
        Ok((self.bytes, actual))
    }
}

/// The typed error of a pipeline that failed (or wrote error records), `None` when it
/// completed cleanly. Remote messages are matched loosely ("does not exist", "is a
/// directory", "hash mismatch") so that the scripts of other clients (pypsrp's) are understood
/// as well as ours.
fn failure(
    state: PsInvocationState,
    reason: Option<ErrorRecord>,
    errors: &[ErrorRecord],
    path: &str,
) -> Option<TransferError> {
    let record = match reason {
        Some(record) => record,
        None if state == PsInvocationState::COMPLETED => errors.first()?.clone(),
        None => {
            return Some(TransferError::RemoteFailed {
                message: format!("the remote pipeline ended {state:?}"),
                record: None,
            });
        }
    };
    let message = record
        .message()
        .or(record.category_message())
        .unwrap_or_default()
        .to_owned();
    let lower = message.to_lowercase();
    let not_found = matches!(
        record.category_reason(),
        Some("FileNotFoundException" | "ItemNotFoundException")
    );
    let record = Box::new(record);
    let path = path.to_owned();
    Some(if lower.contains("hash mismatch") {
        TransferError::RemoteHashMismatch { record }
    } else if lower.contains("is a directory") {
        TransferError::RemoteIsDirectory { path, record }
    } else if not_found || lower.contains("does not exist") {
        TransferError::RemoteNotFound { path, record }
    } else {
        TransferError::RemoteFailed {
            message,
            record: Some(record),
        }
    })
}

/// The remote side of [`copy_to`]. Arguments: the destination path and whether to expand
/// `%NAME%` variables in it. Input: base64 chunks of the file, then the sender's SHA-1 of the
/// whole file (lowercase hex, itself base64). Output: the full path written. The bytes go to a
/// temporary file first and reach the destination only when the hash matched.
pub const COPY_SCRIPT: &str = r#"# psrm copy: a file arrives as base64 pipeline input.
param([string]$Destination, [bool]$ExpandVariables)
begin {
    $ErrorActionPreference = 'Stop'
    if ($ExpandVariables) {
        $Destination = [Environment]::ExpandEnvironmentVariables($Destination)
    }
    $here = (Get-Location -PSProvider FileSystem).ProviderPath
    $target = [IO.Path]::GetFullPath([IO.Path]::Combine($here, $Destination))
    if ([IO.Directory]::Exists($target)) {
        throw (New-Object IO.IOException -ArgumentList "psrm copy: '$target' is a directory, not a file")
    }
    $staging = [IO.Path]::GetTempFileName()
    $sink = [IO.File]::OpenWrite($staging)
    $digest = [Security.Cryptography.SHA1]::Create()
    $pending = $null
}
process {
    # A chunk is only written once the next object arrives: the last one is the hash.
    if ($null -ne $pending) {
        [void]$digest.TransformBlock($pending, 0, $pending.Length, $null, 0)
        $sink.Write($pending, 0, $pending.Length)
    }
    $pending = [Convert]::FromBase64String([string]$_)
}
end {
    $sink.Dispose()
    try {
        [void]$digest.TransformFinalBlock((New-Object byte[] 0), 0, 0)
        $received = ($digest.Hash | ForEach-Object { $_.ToString('x2') }) -join ''
        $announced = ''
        if ($null -ne $pending) { $announced = [Text.Encoding]::ASCII.GetString($pending) }
        if ($received -ne $announced) {
            throw (New-Object IO.InvalidDataException -ArgumentList "psrm copy: hash mismatch, received $received, sender announced $announced")
        }
        [IO.File]::Copy($staging, $target, $true)
        $target
    } finally {
        [IO.File]::Delete($staging)
    }
}
"#;

/// The remote side of [`fetch_from`]. Arguments: the source path and whether to expand
/// `%NAME%` variables in it. Output: the file in base64 chunks of at most 192 KiB, then its
/// SHA-1 (lowercase hex). A missing file or a directory fails the pipeline.
pub const FETCH_SCRIPT: &str = r#"# psrm fetch: a file leaves as base64 pipeline output.
param([string]$Source, [bool]$ExpandVariables)
$ErrorActionPreference = 'Stop'
if ($ExpandVariables) {
    $Source = [Environment]::ExpandEnvironmentVariables($Source)
}
$here = (Get-Location -PSProvider FileSystem).ProviderPath
$path = [IO.Path]::GetFullPath([IO.Path]::Combine($here, $Source))
if ([IO.Directory]::Exists($path)) {
    throw (New-Object IO.IOException -ArgumentList "psrm fetch: '$path' is a directory, not a file")
}
if (-not [IO.File]::Exists($path)) {
    throw (New-Object IO.FileNotFoundException -ArgumentList "psrm fetch: '$path' does not exist", $path)
}
$digest = [Security.Cryptography.SHA1]::Create()
$reader = [IO.File]::OpenRead($path)
try {
    $buffer = New-Object byte[] 196608
    while (($count = $reader.Read($buffer, 0, $buffer.Length)) -gt 0) {
        [void]$digest.TransformBlock($buffer, 0, $count, $null, 0)
        [Convert]::ToBase64String($buffer, 0, $count)
    }
} finally {
    $reader.Dispose()
}
[void]$digest.TransformFinalBlock((New-Object byte[] 0), 0, 0)
($digest.Hash | ForEach-Object { $_.ToString('x2') }) -join ''
"#;

#[cfg(test)]
mod tests {
    use psrp::fragment::ObjectId;
    use psrp::message::{PipelineId, RunspacePoolId};
    use psrp::pipeline::Pipeline as PipelineCore;
    use psrp::records::{ErrorCategory, ErrorRecordParts, HostInfo};

    use super::*;

    fn record(message: &str, reason: &str) -> ErrorRecord {
        ErrorRecord::new(ErrorRecordParts {
            exception_types: vec![format!("System.{reason}")],
            message: message.into(),
            fully_qualified_error_id: reason.into(),
            target_object: Value::Nil,
            category: ErrorCategory(0),
            activity: String::new(),
            reason: reason.into(),
            target_name: String::new(),
            target_type: String::new(),
            details_message: None,
            script_stack_trace: None,
        })
    }

    #[test]
    fn a_chunk_fits_one_send() {
        for room in [112_128usize, 20_000, 4_000] {
            let size = copy_chunk_size(room);
            let mut create = copy_invocation("f", false).create_pipeline(HostInfo::default());
            create.no_input = false;
            let mut core = PipelineCore::client(
                RunspacePoolId(Uuid::nil()),
                PipelineId(Uuid::nil()),
                create,
                ObjectId(1),
            );
            core.start().unwrap();
            while core.poll_transmit(room).is_some() {}
            core.send_input(Value::String(STANDARD.encode(vec![0xa5u8; size])))
                .unwrap();
            let first = core.poll_transmit(room).unwrap_or_default();
            assert!(core.poll_transmit(room).is_none(), "room {room}: split");
            assert!(first.len() <= room);
            // Not needlessly small either: within the overhead of the room.
            assert!(
                size * 4 / 3 + CHUNK_OVERHEAD + 4 >= room,
                "room {room}: {size}"
            );
        }
    }

    #[test]
    fn fetch_receiver_checks_the_announced_hash() {
        let mut rx = FetchReceiver::default();
        assert!(
            rx.push(Value::from(STANDARD.encode(b"abc")))
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            rx.push(Value::from(STANDARD.encode(b"def"))).unwrap(),
            b"abc"
        );
        let sha = hex(&Sha1::digest(b"abcdef"));
        assert_eq!(rx.push(Value::from(sha.to_uppercase())).unwrap(), b"def");
        assert_eq!(rx.finish().unwrap(), (6, sha));

        let mut rx = FetchReceiver::default();
        rx.push(Value::from(STANDARD.encode(b"abc"))).unwrap();
        rx.push(Value::from(hex(&Sha1::digest(b"abd")))).unwrap();
        assert!(matches!(
            rx.finish(),
            Err(TransferError::HashMismatch { .. })
        ));
    }

    #[test]
    fn fetch_receiver_refuses_odd_output() {
        let mut rx = FetchReceiver::default();
        assert!(matches!(
            rx.push(Value::I32(1)),
            Err(TransferError::Protocol(_))
        ));
        assert!(matches!(
            FetchReceiver::default().finish(),
            Err(TransferError::Protocol(_))
        ));
        let mut rx = FetchReceiver::default();
        rx.push(Value::from("not base64 !")).unwrap();
        assert!(matches!(
            rx.push(Value::from("x")),
            Err(TransferError::Protocol(_))
        ));
        let mut rx = FetchReceiver::default();
        rx.push(Value::from("not a hash")).unwrap();
        assert!(matches!(rx.finish(), Err(TransferError::Protocol(_))));
    }

    #[test]
    fn an_empty_file_is_only_its_hash() {
        let mut rx = FetchReceiver::default();
        rx.push(Value::from("da39a3ee5e6b4b0d3255bfef95601890afd80709"))
            .unwrap();
        assert_eq!(
            rx.finish().unwrap(),
            (0, "da39a3ee5e6b4b0d3255bfef95601890afd80709".to_owned())
        );
    }

    #[test]
    fn remote_failures_are_typed() {
        let failed = PsInvocationState::FAILED;
        let cases = [
            (
                "psrm fetch: 'C:\\x' does not exist",
                "FileNotFoundException",
            ),
            ("The path at 'C:\\x' does not exist", "RuntimeException"),
            (
                "psrm fetch: 'C:\\Windows' is a directory, not a file",
                "IOException",
            ),
            ("Transport failure, hash mismatch", "RuntimeException"),
            (
                "Access to the path is denied",
                "UnauthorizedAccessException",
            ),
        ];
        let kinds: Vec<_> = cases
            .iter()
            .map(|(m, r)| failure(failed, Some(record(m, r)), &[], "C:\\x"))
            .collect();
        assert!(matches!(
            kinds[0],
            Some(TransferError::RemoteNotFound { .. })
        ));
        assert!(matches!(
            kinds[1],
            Some(TransferError::RemoteNotFound { .. })
        ));
        assert!(matches!(
            kinds[2],
            Some(TransferError::RemoteIsDirectory { .. })
        ));
        assert!(matches!(
            kinds[3],
            Some(TransferError::RemoteHashMismatch { .. })
        ));
        assert!(matches!(
            &kinds[4],
            Some(TransferError::RemoteFailed { message, .. }) if message.contains("denied")
        ));
        // Completed without error records: no failure; with one: a failure.
        let completed = PsInvocationState::COMPLETED;
        assert!(failure(completed, None, &[], "x").is_none());
        let errors = [record("disk full", "IOException")];
        assert!(failure(completed, None, &errors, "x").is_some());
        assert!(failure(PsInvocationState::STOPPED, None, &[], "x").is_some());
    }

    #[test]
    fn invocations_pass_path_and_flag_positionally() {
        let inv = copy_invocation("%TEMP%\\f", true);
        let [command] = inv.commands.as_slice() else {
            panic!("one command: {inv:?}");
        };
        assert!(command.is_script);
        assert_eq!(command.cmd, COPY_SCRIPT);
        let args: Vec<_> = command
            .args
            .iter()
            .map(|a| (a.name.clone(), a.value.clone()))
            .collect();
        assert_eq!(
            args,
            [(None, Value::from("%TEMP%\\f")), (None, Value::Bool(true))]
        );
        let inv = fetch_invocation("C:\\f", false);
        assert_eq!(inv.commands.len(), 1);
        assert_eq!(inv.commands[0].cmd, FETCH_SCRIPT);
    }

    #[test]
    fn chunks_are_read_whole() {
        let data = vec![7u8; 10];
        let mut r = io::Cursor::new(data);
        assert_eq!(read_chunk(&mut r, 4).unwrap().len(), 4);
        assert_eq!(read_chunk(&mut r, 4).unwrap().len(), 4);
        assert_eq!(read_chunk(&mut r, 4).unwrap().len(), 2);
        assert!(read_chunk(&mut r, 4).unwrap().is_empty());
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }
}
