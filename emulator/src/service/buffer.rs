//! Output kept for a command while nobody receives it: a plain, runtime-free buffer with the
//! `Block` / `Drop` policy of MS-WSMV `BufferMode` (SPEC A1 "OutputBufferingMode").
//!
//! The buffer only stores and drains; whoever pushes decides what to do with
//! [`Push::Full`] (the WinRS backend parks the writer thread until a Receive drains).

use std::collections::VecDeque;

/// What happens when the buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferPolicy {
    /// Refuse the push: the writer waits until output is drained. Nothing is lost.
    Block,
    /// Discard the oldest output to make room. The writer never waits.
    Drop,
}

/// The result of [`OutputBuffer::push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// Stored (in `Drop` mode possibly after discarding older output).
    Stored,
    /// `Block` mode and no room: nothing was stored; push again after a drain.
    Full,
}

/// One piece of output: a stream name (`stdout`, `stderr`, `pr`…) and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The stream's name.
    pub stream: String,
    /// The bytes.
    pub data: Vec<u8>,
}

/// A bounded FIFO of output chunks.
#[derive(Debug, Clone)]
pub struct OutputBuffer {
    policy: BufferPolicy,
    capacity: usize,
    chunks: VecDeque<Chunk>,
    len: usize,
    dropped: u64,
}

impl OutputBuffer {
    /// An empty buffer holding at most `capacity` bytes (a single larger chunk is still accepted
    /// into an empty buffer, so a writer can never wait forever).
    pub fn new(policy: BufferPolicy, capacity: usize) -> Self {
        Self {
            policy,
            capacity: capacity.max(1),
            chunks: VecDeque::new(),
            len: 0,
            dropped: 0,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> BufferPolicy {
        self.policy
    }

    /// Changes the policy (a Disconnect with `BufferMode`, a Reconnect).
    pub fn set_policy(&mut self, policy: BufferPolicy) {
        self.policy = policy;
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Bytes discarded so far by the `Drop` policy.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Appends output, applying the policy when it does not fit.
    pub fn push(&mut self, stream: &str, data: &[u8]) -> Push {
        if data.is_empty() {
            return Push::Stored;
        }
        let fits = self.len + data.len() <= self.capacity || self.chunks.is_empty();
        if !fits {
            match self.policy {
                BufferPolicy::Block => return Push::Full,
                BufferPolicy::Drop => {
                    while self.len + data.len() > self.capacity {
                        let Some(old) = self.chunks.pop_front() else {
                            break;
                        };
                        self.len -= old.data.len();
                        self.dropped += old.data.len() as u64;
                    }
                }
            }
        }
        match self.chunks.back_mut() {
            Some(last) if last.stream == stream => last.data.extend_from_slice(data),
            _ => self.chunks.push_back(Chunk {
                stream: stream.to_owned(),
                data: data.to_vec(),
            }),
        }
        self.len += data.len();
        Push::Stored
    }

    /// Takes chunks from the front while `cost(stream, bytes)` of everything taken stays within
    /// `room`; a chunk that only partly fits is split. Streams not in `wanted` (when non-empty)
    /// are left in place.
    pub fn drain(
        &mut self,
        room: usize,
        wanted: &[String],
        cost: impl Fn(&str, usize) -> usize,
    ) -> Vec<Chunk> {
        let mut out = Vec::new();
        let mut used = 0usize;
        let mut i = 0;
        while i < self.chunks.len() {
            let Some(chunk) = self.chunks.get_mut(i) else {
                break;
            };
            if !wanted.is_empty() && !wanted.iter().any(|w| w.eq_ignore_ascii_case(&chunk.stream)) {
                i += 1;
                continue;
            }
            let full = cost(&chunk.stream, chunk.data.len());
            if used + full <= room {
                used += full;
                let taken = self.chunks.remove(i);
                if let Some(taken) = taken {
                    self.len -= taken.data.len();
                    out.push(taken);
                }
                continue;
            }
            // Largest prefix that fits.
            let mut n = chunk.data.len();
            let (mut lo, mut hi) = (0usize, n);
            while lo < hi {
                let mid = (lo + hi).div_ceil(2);
                if used + cost(&chunk.stream, mid) <= room {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            n = lo;
            if n > 0 {
                let rest = chunk.data.split_off(n);
                let head = std::mem::replace(&mut chunk.data, rest);
                self.len -= head.len();
                out.push(Chunk {
                    stream: chunk.stream.clone(),
                    data: head,
                });
            }
            break;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(_: &str, n: usize) -> usize {
        n
    }

    #[test]
    fn block_refuses_when_full_and_keeps_everything() {
        let mut b = OutputBuffer::new(BufferPolicy::Block, 10);
        assert_eq!(b.push("stdout", b"12345678"), Push::Stored);
        assert_eq!(b.push("stdout", b"abc"), Push::Full);
        assert_eq!(b.len(), 8);
        let got = b.drain(100, &[], plain);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].data, b"12345678");
        assert_eq!(b.push("stdout", b"abc"), Push::Stored);
        assert_eq!(b.dropped(), 0);
    }

    #[test]
    fn drop_discards_oldest() {
        let mut b = OutputBuffer::new(BufferPolicy::Drop, 10);
        b.push("stdout", b"aaaa");
        b.push("stderr", b"bbbb");
        b.push("stdout", b"cccc");
        assert_eq!(b.dropped(), 4);
        let got = b.drain(100, &[], plain);
        let names: Vec<_> = got.iter().map(|c| c.stream.as_str()).collect();
        assert_eq!(names, ["stderr", "stdout"]);
    }

    #[test]
    fn oversized_chunk_into_empty_buffer_is_accepted() {
        let mut b = OutputBuffer::new(BufferPolicy::Block, 4);
        assert_eq!(b.push("stdout", b"0123456789"), Push::Stored);
        assert_eq!(b.push("stdout", b"x"), Push::Full);
    }

    #[test]
    fn drain_splits_to_fit_room_and_respects_wanted_streams() {
        let mut b = OutputBuffer::new(BufferPolicy::Block, 100);
        b.push("stdout", b"0123456789");
        b.push("stderr", b"err");
        let got = b.drain(4, &[], plain);
        assert_eq!(got[0].data, b"0123");
        let got = b.drain(100, &["stderr".into()], plain);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].data, b"err");
        let got = b.drain(100, &[], plain);
        assert_eq!(got[0].data, b"456789");
        assert!(b.is_empty());
        assert_eq!(b.len(), 0);
    }
}
