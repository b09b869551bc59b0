//! Property tests: fragmenting at any room reassembles to the same messages; arbitrary input
//! never panics the defragmenter.

use proptest::prelude::*;
use psrp::fragment::{Defragmenter, Fragment, Fragmenter, HEADER_LEN, MIN_ROOM, ObjectId};
use psrp::message::{Destination, Message, MessageType, PipelineId, RunspacePoolId};
use uuid::Uuid;

fn messages() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..600), 1..8)
}

proptest! {
    #[test]
    fn any_room_reassembles(msgs in messages(), room in MIN_ROOM..700usize, first in any::<u64>()) {
        let mut f = Fragmenter::with_first_object_id(ObjectId(first));
        for m in &msgs {
            f.queue(m.clone());
        }
        let mut d = Defragmenter::new();
        while let Some(p) = f.poll_transmit(room) {
            prop_assert!(p.len() <= room);
            // Re-encoding each decoded fragment gives back the payload.
            let mut again = Vec::new();
            for frag in Fragment::iter(&p) {
                frag.unwrap().encode(&mut again);
            }
            prop_assert_eq!(&again, &p);
            d.receive(&p).unwrap();
        }
        let mut out = Vec::new();
        while let Some(m) = d.poll_message() {
            out.push(m);
        }
        prop_assert_eq!(out, msgs);
        prop_assert_eq!(d.incomplete_objects(), 0);
    }

    #[test]
    fn interleaved_senders_reassemble(
        a in messages(),
        b in messages(),
        rooms in prop::collection::vec(MIN_ROOM..300usize, 1..20),
        picks in prop::collection::vec(any::<bool>(), 1..400),
    ) {
        // Two senders with disjoint object ids; their payloads are interleaved arbitrarily.
        let mut fa = Fragmenter::with_first_object_id(ObjectId(1));
        let mut fb = Fragmenter::with_first_object_id(ObjectId(1 << 40));
        a.iter().for_each(|m| { fa.queue(m.clone()); });
        b.iter().for_each(|m| { fb.queue(m.clone()); });
        let mut d = Defragmenter::new();
        let mut i = 0usize;
        let mut picks = picks.into_iter().cycle();
        while !fa.is_empty() || !fb.is_empty() {
            let room = rooms[i % rooms.len()];
            i += 1;
            let from_a = picks.next().unwrap_or(true);
            let sender = if (from_a && !fa.is_empty()) || fb.is_empty() { &mut fa } else { &mut fb };
            let p = sender.poll_transmit(room).unwrap();
            d.receive(&p).unwrap();
        }
        let mut got_a = Vec::new();
        let mut got_b = Vec::new();
        // Messages from one sender complete in its order; split by content membership order.
        let mut ia = a.iter().peekable();
        let mut ib = b.iter().peekable();
        while let Some(m) = d.poll_message() {
            if ia.peek() == Some(&&m) {
                got_a.push(m);
                ia.next();
            } else {
                prop_assert_eq!(ib.peek(), Some(&&m));
                got_b.push(m);
                ib.next();
            }
        }
        prop_assert_eq!(got_a, a);
        prop_assert_eq!(got_b, b);
    }

    #[test]
    fn whole_messages_survive_fragmenting(
        ty in any::<u32>(),
        dest in any::<u32>(),
        rpid in any::<u128>(),
        pid in any::<u128>(),
        data in prop::collection::vec(any::<u8>(), 0..2000),
        room in MIN_ROOM..200usize,
    ) {
        let msg = Message::new(
            Destination(dest),
            MessageType(ty),
            RunspacePoolId(Uuid::from_u128(rpid)),
            PipelineId(Uuid::from_u128(pid)),
            data,
        );
        let mut f = Fragmenter::new();
        f.queue(msg.to_bytes());
        let mut d = Defragmenter::new();
        while let Some(p) = f.poll_transmit(room) {
            d.receive(&p).unwrap();
        }
        let blob = d.poll_message().unwrap();
        prop_assert_eq!(Message::decode(&blob).unwrap(), msg);
    }

    #[test]
    fn arbitrary_bytes_never_panic(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..10)) {
        let mut d = Defragmenter::with_limits(1024, 4);
        for c in &chunks {
            let _ = d.receive(c);
            while let Some(m) = d.poll_message() {
                prop_assert!(m.len() <= 1024);
                let _ = Message::decode(&m);
            }
        }
        prop_assert!(d.incomplete_objects() <= 4);
    }

    #[test]
    fn structured_garbage_never_panics(
        frags in prop::collection::vec((0u64..4, 0u64..4, 0u8..4, prop::collection::vec(any::<u8>(), 0..50)), 0..40)
    ) {
        // Valid framing with random ids and flags: exercises every ordering error.
        let mut d = Defragmenter::with_limits(100, 2);
        for (object, id, flags, data) in &frags {
            let mut buf = Vec::new();
            Fragment {
                object_id: ObjectId(*object),
                fragment_id: psrp::fragment::FragmentId(*id),
                start: flags & 1 != 0,
                end: flags & 2 != 0,
                data,
            }
            .encode(&mut buf);
            prop_assert_eq!(buf.len(), HEADER_LEN + data.len());
            let _ = d.receive(&buf);
        }
        while let Some(m) = d.poll_message() {
            prop_assert!(m.len() <= 100);
        }
    }
}
