//! Where the reading of a command stands, kept in the [`super::SessionRecord`] so that another
//! pipeline object (another process, another [`crate::WsManClient`]) reads on without losing or
//! repeating output.
//!
//! Two things are gone from the server once a reader stops in the middle of a command:
//! - the fragments of an object it started to reassemble (the server dequeued them with the
//!   Receives that carried them and never sends them again), and
//! - the reply of a Receive that never arrived (the server keeps it only for a Receive that
//!   repeats its `SequenceId`).
//!
//! [`CommandProgress`] carries both. It serializes with serde (every field defaulted, so state
//! files written before it load); partial data is base64 text.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use psrp::fragment::{Defragmenter, FragmentId, ObjectId, PartialObject};
use serde::{Deserialize, Serialize};

/// At most this many bytes of unfinished objects are carried per command; an object beyond
/// it is not carried (the next reader then reports the object's later fragments as an error
/// instead of output).
pub const MAX_CARRIED_BYTES: usize = 8 << 20;

/// Where reading one command stopped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommandProgress {
    /// The command id (upper case).
    pub command_id: String,
    /// The `SequenceId` of a Receive whose reply never arrived: the next reader repeats it,
    /// so the server sends the lost reply again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unanswered_sequence: Option<u64>,
    /// The highest `SequenceId` this client used; a new client numbers its Receives above it
    /// (a server replays the last reply of a command to a Receive repeating its SequenceId).
    pub last_sequence: u64,
    /// Objects whose first fragments were received (and so taken off the server's queue)
    /// but that are not complete yet.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partial_objects: Vec<CarriedObject>,
}

impl CommandProgress {
    /// Progress of `command_id` with nothing to carry.
    pub fn new(command_id: impl Into<String>) -> Self {
        Self {
            command_id: command_id.into().to_uppercase(),
            ..Self::default()
        }
    }

    /// Whether a new reader needs any of it.
    pub fn is_empty(&self) -> bool {
        self.unanswered_sequence.is_none() && self.partial_objects.is_empty()
    }
}

/// An object partly reassembled ([`psrp::fragment::PartialObject`] in a storable form).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CarriedObject {
    /// The PSRP ObjectId.
    pub object_id: u64,
    /// The fragment expected next.
    pub next_fragment_id: u64,
    /// The data reassembled so far.
    #[serde(with = "base64_text")]
    pub data: Vec<u8>,
}

impl From<PartialObject> for CarriedObject {
    fn from(o: PartialObject) -> Self {
        Self {
            object_id: o.object_id.0,
            next_fragment_id: o.next_fragment_id.0,
            data: o.data,
        }
    }
}

impl From<CarriedObject> for PartialObject {
    fn from(o: CarriedObject) -> Self {
        Self {
            object_id: ObjectId(o.object_id),
            next_fragment_id: FragmentId(o.next_fragment_id),
            data: o.data,
        }
    }
}

/// The unfinished objects of `defragmenter` worth carrying (none when they exceed
/// [`MAX_CARRIED_BYTES`] together).
fn carried_objects(defragmenter: &Defragmenter) -> Vec<CarriedObject> {
    if defragmenter.incomplete_objects() == 0 {
        return Vec::new();
    }
    if defragmenter.partial_bytes() > MAX_CARRIED_BYTES {
        tracing::warn!(
            bytes = defragmenter.partial_bytes(),
            "unfinished objects too large to carry in the session record"
        );
        return Vec::new();
    }
    defragmenter
        .partial_objects()
        .into_iter()
        .map(CarriedObject::from)
        .collect()
}

/// Objects received in part, per command (upper-case id), shared by a session and its
/// pipelines: a pipeline's defragmenter itself while one reads the command (nothing is copied
/// on the way; the record exports it when asked), or what a record carried until a pipeline
/// takes it over.
#[derive(Clone, Debug, Default)]
pub(crate) struct Unfinished(Arc<Mutex<HashMap<String, Entry>>>);

#[derive(Debug)]
enum Entry {
    Carried(Vec<CarriedObject>),
    Live(Arc<Mutex<Defragmenter>>),
}

impl Entry {
    fn objects(&self) -> Vec<CarriedObject> {
        match self {
            Self::Carried(objects) => objects.clone(),
            Self::Live(d) => carried_objects(&d.lock().unwrap_or_else(PoisonError::into_inner)),
        }
    }
}

impl Unfinished {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps what a record carried for a command, for the next pipeline of it.
    pub(crate) fn carry(&self, command_id: &str, objects: Vec<CarriedObject>) {
        let key = command_id.to_uppercase();
        let mut map = self.lock();
        if objects.is_empty() {
            map.remove(&key);
        } else {
            map.insert(key, Entry::Carried(objects));
        }
    }

    /// Forgets a command.
    pub(crate) fn forget(&self, command_id: &str) {
        self.lock().remove(&command_id.to_uppercase());
    }

    /// The objects of a command received in part.
    pub(crate) fn get(&self, command_id: &str) -> Vec<CarriedObject> {
        self.lock()
            .get(&command_id.to_uppercase())
            .map(Entry::objects)
            .unwrap_or_default()
    }

    /// The defragmenter of a new pipeline of `command_id`, seeded with what an earlier reader
    /// (a record, or an earlier pipeline) received in part, and from now on the one the
    /// record reads. Objects it refuses are reported and skipped (their later fragments then
    /// fail as without them).
    pub(crate) fn open(&self, command_id: &str) -> Arc<Mutex<Defragmenter>> {
        let key = command_id.to_uppercase();
        let mut map = self.lock();
        let mut defragmenter = Defragmenter::new();
        for object in map.get(&key).map(Entry::objects).unwrap_or_default() {
            let id = object.object_id;
            if let Err(e) = defragmenter.resume(object.into()) {
                tracing::warn!(object = id, error = %e, "carried object not resumed");
            }
        }
        let shared = Arc::new(Mutex::new(defragmenter));
        map.insert(key, Entry::Live(Arc::clone(&shared)));
        shared
    }
}

mod base64_text {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(data: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(data))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD
            .decode(text.trim())
            .map_err(serde::de::Error::custom)
    }
}
