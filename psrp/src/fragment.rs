//! PSRP fragments: how messages are cut to fit transport payloads (MS-PSRP 2.2.4).
//!
//! ```text
//! offset  size  field
//!      0     8  ObjectId    u64 BE, one per message
//!      8     8  FragmentId  u64 BE, from 0 within an object
//!     16     1  flags       0x1 start of object, 0x2 end of object
//!     17     4  BlobLength  u32 BE
//!     21     …  Blob        a slice of the message
//! ```
//!
//! [`Fragmenter`] is the sending half: queue whole messages, then pull payloads sized to the room
//! the transport has left ([`Fragmenter::poll_transmit`]). [`Defragmenter`] is the receiving half:
//! feed payloads of concatenated fragments, pull whole messages. Neither does IO.

use std::collections::{HashMap, VecDeque};
use std::fmt;

/// Size of the fragment header in bytes.
pub const HEADER_LEN: usize = 21;

/// The smallest room [`Fragmenter::poll_transmit`] can use: a header and one byte of data.
pub const MIN_ROOM: usize = HEADER_LEN + 1;

/// Default bound on a reassembled message in [`Defragmenter::new`]: 64 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 << 20;

/// Default bound on objects being reassembled at the same time.
pub const DEFAULT_MAX_OBJECTS_IN_FLIGHT: usize = 256;

/// How many completed object ids the defragmenter remembers to recognise late fragments.
const COMPLETED_MEMORY: usize = 64;

const FLAG_START: u8 = 0x1;
const FLAG_END: u8 = 0x2;

/// Identifier of the object (message) a fragment belongs to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(pub u64);

/// Position of a fragment within its object, from 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FragmentId(pub u64);

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Display for FragmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// One fragment, borrowing its data from the buffer it was decoded from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// The object this fragment belongs to.
    pub object_id: ObjectId,
    /// Position within the object.
    pub fragment_id: FragmentId,
    /// First fragment of the object.
    pub start: bool,
    /// Last fragment of the object.
    pub end: bool,
    /// This fragment's slice of the message.
    pub data: &'a [u8],
}

impl<'a> Fragment<'a> {
    /// Decodes one fragment from the front of `buf`, returning it and the rest of the buffer.
    ///
    /// # Errors
    ///
    /// [`FragmentError::TruncatedHeader`] or [`FragmentError::Truncated`] when `buf` ends early,
    /// [`FragmentError::InvalidFlags`] when reserved flag bits are set.
    pub fn decode(buf: &'a [u8]) -> Result<(Self, &'a [u8]), FragmentError> {
        let Some((header, rest)) = buf.split_first_chunk::<HEADER_LEN>() else {
            return Err(FragmentError::TruncatedHeader {
                available: buf.len(),
            });
        };
        // Constant ranges inside a fixed 21-byte array: these cannot go out of bounds.
        let mut object_id = [0; 8];
        object_id.copy_from_slice(&header[0..8]);
        let mut fragment_id = [0; 8];
        fragment_id.copy_from_slice(&header[8..16]);
        let flags = header[16];
        let len = u32::from_be_bytes([header[17], header[18], header[19], header[20]]);
        let object_id = ObjectId(u64::from_be_bytes(object_id));
        let fragment_id = FragmentId(u64::from_be_bytes(fragment_id));
        if flags & !(FLAG_START | FLAG_END) != 0 {
            return Err(FragmentError::InvalidFlags {
                object_id,
                fragment_id,
                flags,
            });
        }
        // A u32 always fits in usize on the targets we build for (32 and 64 bits).
        let len = len as usize;
        if rest.len() < len {
            return Err(FragmentError::Truncated {
                object_id,
                fragment_id,
                declared: len,
                available: rest.len(),
            });
        }
        let (data, rest) = rest.split_at(len);
        let fragment = Self {
            object_id,
            fragment_id,
            start: flags & FLAG_START != 0,
            end: flags & FLAG_END != 0,
            data,
        };
        Ok((fragment, rest))
    }

    /// Iterates over the fragments concatenated in `buf`.
    ///
    /// The iterator stops after the first error.
    pub fn iter(buf: &'a [u8]) -> Fragments<'a> {
        Fragments {
            rest: buf,
            failed: false,
        }
    }

    /// The flags byte.
    pub fn flags(&self) -> u8 {
        flags(self.start, self.end)
    }

    /// Encoded size of this fragment.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.data.len()
    }

    /// Appends the encoded fragment to `buf`.
    ///
    /// # Panics
    ///
    /// If the data is longer than `u32::MAX` bytes, which the wire format cannot express.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        let len = u32::try_from(self.data.len()).expect("fragment data longer than u32::MAX");
        encode_header(buf, self.object_id, self.fragment_id, self.flags(), len);
        buf.extend_from_slice(self.data);
    }
}

impl fmt::Debug for Fragment<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fragment")
            .field("object_id", &self.object_id.0)
            .field("fragment_id", &self.fragment_id.0)
            .field("start", &self.start)
            .field("end", &self.end)
            .field("data_len", &self.data.len())
            .finish()
    }
}

/// Iterator over concatenated fragments, from [`Fragment::iter`].
#[derive(Debug, Clone)]
pub struct Fragments<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Iterator for Fragments<'a> {
    type Item = Result<Fragment<'a>, FragmentError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.failed {
            return None;
        }
        match Fragment::decode(self.rest) {
            Ok((fragment, rest)) => {
                self.rest = rest;
                Some(Ok(fragment))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// The sending half: cuts queued messages into fragments that fit the room given.
///
/// Calling contract:
/// - [`queue`](Self::queue) whole encoded messages; each gets the next [`ObjectId`].
/// - [`poll_transmit(room)`](Self::poll_transmit) returns one payload of at most `room` bytes,
///   packing fragments of as many queued messages as fit, in queue order; call it until it
///   returns `None` or the transport has no more room.
///
/// Object ids come from a counter whose start is an input ([`Fragmenter::with_first_object_id`]),
/// so tests and fixtures are reproducible.
#[derive(Debug, Clone)]
pub struct Fragmenter {
    next_object_id: u64,
    queue: VecDeque<Outgoing>,
    queued_bytes: usize,
}

#[derive(Debug, Clone)]
struct Outgoing {
    object_id: ObjectId,
    data: Vec<u8>,
    offset: usize,
    next_fragment_id: u64,
}

impl Default for Fragmenter {
    fn default() -> Self {
        Self::new()
    }
}

impl Fragmenter {
    /// A fragmenter whose first object id is 1, as Windows and psrpcore start.
    pub fn new() -> Self {
        Self::with_first_object_id(ObjectId(1))
    }

    /// A fragmenter whose first object gets `first`.
    pub fn with_first_object_id(first: ObjectId) -> Self {
        Self {
            next_object_id: first.0,
            queue: VecDeque::new(),
            queued_bytes: 0,
        }
    }

    /// Queues one encoded message and returns the object id it will travel under.
    pub fn queue(&mut self, message: Vec<u8>) -> ObjectId {
        let object_id = ObjectId(self.next_object_id);
        self.next_object_id = self.next_object_id.wrapping_add(1);
        self.queued_bytes += message.len();
        self.queue.push_back(Outgoing {
            object_id,
            data: message,
            offset: 0,
            next_fragment_id: 0,
        });
        object_id
    }

    /// The object id the next queued message will get.
    pub fn next_object_id(&self) -> ObjectId {
        ObjectId(self.next_object_id)
    }

    /// Whether nothing is waiting to be sent.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Message bytes not yet handed out (headers not counted).
    pub fn pending_bytes(&self) -> usize {
        self.queued_bytes
    }

    /// Number of messages not yet completely handed out.
    pub fn pending_messages(&self) -> usize {
        self.queue.len()
    }

    /// Returns a payload of concatenated fragments no longer than `room` bytes.
    ///
    /// `None` when nothing is queued or `room` is below [`MIN_ROOM`]: every fragment carries at
    /// least one byte of data (an empty message travels as a bare header).
    pub fn poll_transmit(&mut self, room: usize) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        self.transmit_into(room, &mut out).then_some(out)
    }

    /// Like [`poll_transmit`](Self::poll_transmit), appending to `buf`; returns whether anything
    /// was written.
    pub fn transmit_into(&mut self, room: usize, buf: &mut Vec<u8>) -> bool {
        let mut left = room;
        let mut wrote = false;
        while let Some(front) = self.queue.front_mut() {
            let remaining = front.data.len() - front.offset;
            if left < HEADER_LEN + remaining.min(1) {
                break;
            }
            // Capped by u32::MAX so the length field can always express it.
            let take = remaining.min(left - HEADER_LEN).min(u32::MAX as usize);
            let start = front.offset == 0;
            let end = take == remaining;
            let flags = flags(start, end);
            if !wrote {
                buf.reserve(room.min(HEADER_LEN + remaining));
            }
            encode_header(
                buf,
                front.object_id,
                FragmentId(front.next_fragment_id),
                flags,
                take as u32,
            );
            buf.extend_from_slice(&front.data[front.offset..front.offset + take]);
            front.offset += take;
            front.next_fragment_id += 1;
            self.queued_bytes -= take;
            left -= HEADER_LEN + take;
            wrote = true;
            if end {
                self.queue.pop_front();
            }
        }
        wrote
    }
}

/// The receiving half: reassembles messages from payloads of concatenated fragments.
///
/// Calling contract: [`receive`](Self::receive) each payload as it arrives, then drain
/// [`poll_message`](Self::poll_message). Objects may interleave; each must arrive in order,
/// start with a start fragment (id 0) and finish with an end fragment.
///
/// Memory is bounded: a message may not grow past the configured maximum size and only a
/// bounded number of objects may be incomplete at the same time. Messages completed before an
/// error in the same payload stay available; the object that caused the error is dropped.
#[derive(Debug, Clone)]
pub struct Defragmenter {
    max_message_size: usize,
    max_objects_in_flight: usize,
    partial: HashMap<ObjectId, Partial>,
    completed_ids: VecDeque<ObjectId>,
    ready: VecDeque<Vec<u8>>,
}

/// An object a [`Defragmenter`] started and has not finished: the data reassembled so far and
/// the id of the fragment that must come next. Carry it to another defragmenter with
/// [`Defragmenter::resume`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartialObject {
    /// The object.
    pub object_id: ObjectId,
    /// The fragment expected next (at least 1: the start was received).
    pub next_fragment_id: FragmentId,
    /// The object's data received so far.
    pub data: Vec<u8>,
}

#[derive(Debug, Clone)]
struct Partial {
    next_fragment_id: u64,
    data: Vec<u8>,
}

impl Default for Defragmenter {
    fn default() -> Self {
        Self::new()
    }
}

impl Defragmenter {
    /// A defragmenter with the default limits.
    pub fn new() -> Self {
        Self::with_limits(DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_OBJECTS_IN_FLIGHT)
    }

    /// A defragmenter that rejects messages longer than `max_message_size` and more than
    /// `max_objects_in_flight` incomplete objects.
    pub fn with_limits(max_message_size: usize, max_objects_in_flight: usize) -> Self {
        Self {
            max_message_size,
            max_objects_in_flight: max_objects_in_flight.max(1),
            partial: HashMap::new(),
            completed_ids: VecDeque::new(),
            ready: VecDeque::new(),
        }
    }

    /// Feeds one payload of concatenated fragments.
    ///
    /// # Errors
    ///
    /// A [`FragmentError`] for the first malformed or out-of-order fragment; the fragments
    /// before it have been applied, those after it are ignored.
    pub fn receive(&mut self, payload: &[u8]) -> Result<(), FragmentError> {
        for fragment in Fragment::iter(payload) {
            self.receive_fragment(fragment?)?;
        }
        Ok(())
    }

    /// Feeds one decoded fragment.
    ///
    /// # Errors
    ///
    /// See [`FragmentError`]: gaps, duplicates, late fragments, a missing start, an overlong
    /// message or too many objects in flight.
    pub fn receive_fragment(&mut self, fragment: Fragment<'_>) -> Result<(), FragmentError> {
        let Fragment {
            object_id,
            fragment_id,
            start,
            end,
            data,
        } = fragment;
        if start != (fragment_id.0 == 0) {
            self.partial.remove(&object_id);
            return Err(FragmentError::StartMismatch {
                object_id,
                fragment_id,
                start,
            });
        }
        if start {
            if self.partial.contains_key(&object_id) {
                self.partial.remove(&object_id);
                return Err(FragmentError::Duplicate {
                    object_id,
                    fragment_id,
                });
            }
            if data.len() > self.max_message_size {
                return Err(FragmentError::MessageTooLarge {
                    object_id,
                    max: self.max_message_size,
                });
            }
            if end {
                self.complete(object_id, data.to_vec());
                return Ok(());
            }
            if self.partial.len() >= self.max_objects_in_flight {
                return Err(FragmentError::TooManyObjects {
                    object_id,
                    max: self.max_objects_in_flight,
                });
            }
            self.partial.insert(
                object_id,
                Partial {
                    next_fragment_id: 1,
                    data: data.to_vec(),
                },
            );
            return Ok(());
        }
        let Some(partial) = self.partial.get_mut(&object_id) else {
            if self.completed_ids.contains(&object_id) {
                return Err(FragmentError::AfterEnd {
                    object_id,
                    fragment_id,
                });
            }
            return Err(FragmentError::MissingStart {
                object_id,
                fragment_id,
            });
        };
        let expected = FragmentId(partial.next_fragment_id);
        if fragment_id != expected {
            self.partial.remove(&object_id);
            return Err(if fragment_id < expected {
                FragmentError::Duplicate {
                    object_id,
                    fragment_id,
                }
            } else {
                FragmentError::Gap {
                    object_id,
                    expected,
                    actual: fragment_id,
                }
            });
        }
        if data.len() > self.max_message_size - partial.data.len() {
            self.partial.remove(&object_id);
            return Err(FragmentError::MessageTooLarge {
                object_id,
                max: self.max_message_size,
            });
        }
        partial.data.extend_from_slice(data);
        partial.next_fragment_id += 1;
        if end && let Some(partial) = self.partial.remove(&object_id) {
            self.complete(object_id, partial.data);
        }
        Ok(())
    }

    /// The next reassembled message, in order of completion.
    pub fn poll_message(&mut self) -> Option<Vec<u8>> {
        self.ready.pop_front()
    }

    /// Number of objects started but not finished.
    pub fn incomplete_objects(&self) -> usize {
        self.partial.len()
    }

    /// The objects started and not finished, by object id: what a reader that stops here
    /// (another process takes over) must hand to the next one, since the peer does not send
    /// those fragments again.
    pub fn partial_objects(&self) -> Vec<PartialObject> {
        let mut objects: Vec<PartialObject> = self
            .partial
            .iter()
            .map(|(id, p)| PartialObject {
                object_id: *id,
                next_fragment_id: FragmentId(p.next_fragment_id),
                data: p.data.clone(),
            })
            .collect();
        objects.sort_by_key(|o| o.object_id);
        objects
    }

    /// Bytes held by objects started and not finished.
    pub fn partial_bytes(&self) -> usize {
        self.partial.values().map(|p| p.data.len()).sum()
    }

    /// Takes over an object another defragmenter started ([`Defragmenter::partial_objects`]):
    /// its next fragment is then expected with `next_fragment_id`.
    ///
    /// # Errors
    ///
    /// [`FragmentError::StartMismatch`] for a next fragment id of 0 (nothing was received),
    /// [`FragmentError::Duplicate`] when the object is already in progress here, and the
    /// size and in-flight limits of [`Defragmenter::receive_fragment`].
    pub fn resume(&mut self, object: PartialObject) -> Result<(), FragmentError> {
        let PartialObject {
            object_id,
            next_fragment_id,
            data,
        } = object;
        if next_fragment_id.0 == 0 {
            return Err(FragmentError::StartMismatch {
                object_id,
                fragment_id: next_fragment_id,
                start: false,
            });
        }
        if self.partial.contains_key(&object_id) {
            return Err(FragmentError::Duplicate {
                object_id,
                fragment_id: next_fragment_id,
            });
        }
        if data.len() > self.max_message_size {
            return Err(FragmentError::MessageTooLarge {
                object_id,
                max: self.max_message_size,
            });
        }
        if self.partial.len() >= self.max_objects_in_flight {
            return Err(FragmentError::TooManyObjects {
                object_id,
                max: self.max_objects_in_flight,
            });
        }
        self.completed_ids.retain(|id| *id != object_id);
        self.partial.insert(
            object_id,
            Partial {
                next_fragment_id: next_fragment_id.0,
                data,
            },
        );
        Ok(())
    }

    fn complete(&mut self, object_id: ObjectId, data: Vec<u8>) {
        if self.completed_ids.len() == COMPLETED_MEMORY {
            self.completed_ids.pop_front();
        }
        self.completed_ids.push_back(object_id);
        self.ready.push_back(data);
    }
}

/// A fragment that cannot be decoded or does not fit the object it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FragmentError {
    /// Fewer than 21 bytes were left for a header.
    #[error("truncated fragment header: {available} of 21 bytes")]
    TruncatedHeader {
        /// Bytes left in the buffer.
        available: usize,
    },
    /// The declared data length runs past the end of the buffer.
    #[error(
        "fragment {fragment_id} of object {object_id} declares {declared} bytes, {available} left"
    )]
    Truncated {
        /// Object id.
        object_id: ObjectId,
        /// Fragment id.
        fragment_id: FragmentId,
        /// Declared data length.
        declared: usize,
        /// Bytes left after the header.
        available: usize,
    },
    /// Flag bits other than start and end are set.
    #[error("fragment {fragment_id} of object {object_id} has invalid flags {flags:#04x}")]
    InvalidFlags {
        /// Object id.
        object_id: ObjectId,
        /// Fragment id.
        fragment_id: FragmentId,
        /// The flags byte.
        flags: u8,
    },
    /// The start flag is set on a fragment other than 0, or missing on fragment 0.
    #[error("fragment {fragment_id} of object {object_id} has start flag {start}")]
    StartMismatch {
        /// Object id.
        object_id: ObjectId,
        /// Fragment id.
        fragment_id: FragmentId,
        /// The start flag as received.
        start: bool,
    },
    /// A fragment arrived for an object that was never started.
    #[error("fragment {fragment_id} of object {object_id} arrived before its start")]
    MissingStart {
        /// Object id.
        object_id: ObjectId,
        /// Fragment id.
        fragment_id: FragmentId,
    },
    /// A fragment arrived for an object that already ended.
    #[error("fragment {fragment_id} of object {object_id} arrived after its end")]
    AfterEnd {
        /// Object id.
        object_id: ObjectId,
        /// Fragment id.
        fragment_id: FragmentId,
    },
    /// A fragment id was seen twice (or an object was started twice).
    #[error("duplicate fragment {fragment_id} of object {object_id}")]
    Duplicate {
        /// Object id.
        object_id: ObjectId,
        /// Fragment id.
        fragment_id: FragmentId,
    },
    /// A fragment id was skipped.
    #[error("object {object_id} expected fragment {expected}, got {actual}")]
    Gap {
        /// Object id.
        object_id: ObjectId,
        /// The fragment id that should have come.
        expected: FragmentId,
        /// The fragment id that came.
        actual: FragmentId,
    },
    /// The reassembled message would exceed the configured maximum.
    #[error("object {object_id} exceeds the maximum message size of {max} bytes")]
    MessageTooLarge {
        /// Object id.
        object_id: ObjectId,
        /// The configured maximum.
        max: usize,
    },
    /// Too many objects are incomplete at the same time.
    #[error("object {object_id} would exceed {max} incomplete objects")]
    TooManyObjects {
        /// Object id.
        object_id: ObjectId,
        /// The configured maximum.
        max: usize,
    },
}

fn flags(start: bool, end: bool) -> u8 {
    (if start { FLAG_START } else { 0 }) | (if end { FLAG_END } else { 0 })
}

fn encode_header(
    buf: &mut Vec<u8>,
    object_id: ObjectId,
    fragment_id: FragmentId,
    flags: u8,
    len: u32,
) {
    buf.extend_from_slice(&object_id.0.to_be_bytes());
    buf.extend_from_slice(&fragment_id.0.to_be_bytes());
    buf.push(flags);
    buf.extend_from_slice(&len.to_be_bytes());
}

#[cfg(test)]
mod tests;
