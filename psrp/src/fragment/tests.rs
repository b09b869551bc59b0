use super::*;

fn frag(object: u64, id: u64, start: bool, end: bool, data: &[u8]) -> Vec<u8> {
    let mut buf = Vec::new();
    Fragment {
        object_id: ObjectId(object),
        fragment_id: FragmentId(id),
        start,
        end,
        data,
    }
    .encode(&mut buf);
    buf
}

#[test]
fn header_layout_is_big_endian() {
    let bytes = frag(0x0102, 3, false, true, b"ab");
    assert_eq!(
        bytes,
        [
            0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 3, 2, 0, 0, 0, 2, b'a', b'b'
        ]
    );
    let (f, rest) = Fragment::decode(&bytes).unwrap();
    assert!(rest.is_empty());
    assert_eq!(f.object_id, ObjectId(0x0102));
    assert_eq!(f.fragment_id, FragmentId(3));
    assert!(!f.start && f.end);
    assert_eq!(f.data, b"ab");
}

#[test]
fn decode_errors() {
    assert_eq!(
        Fragment::decode(&[0; 20]).unwrap_err(),
        FragmentError::TruncatedHeader { available: 20 }
    );
    let mut bytes = frag(1, 0, true, true, b"abc");
    bytes.pop();
    assert!(matches!(
        Fragment::decode(&bytes).unwrap_err(),
        FragmentError::Truncated {
            declared: 3,
            available: 2,
            ..
        }
    ));
    let mut bytes = frag(1, 0, true, true, b"abc");
    bytes[16] = 0x7;
    assert!(matches!(
        Fragment::decode(&bytes).unwrap_err(),
        FragmentError::InvalidFlags { flags: 7, .. }
    ));
    // A length near u32::MAX must not allocate or panic.
    let mut bytes = frag(1, 0, true, true, b"");
    bytes[17..21].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        Fragment::decode(&bytes),
        Err(FragmentError::Truncated { .. })
    ));
}

#[test]
fn fragmenter_fills_room_and_packs_messages() {
    let mut f = Fragmenter::with_first_object_id(ObjectId(10));
    assert_eq!(f.queue(vec![1; 10]), ObjectId(10));
    assert_eq!(f.queue(vec![2; 5]), ObjectId(11));
    // 21 + 4 bytes: first fragment of object 10 only.
    let p = f.poll_transmit(25).unwrap();
    assert_eq!(p.len(), 25);
    let frags: Vec<_> = Fragment::iter(&p).collect::<Result<_, _>>().unwrap();
    assert_eq!(frags.len(), 1);
    assert!(frags[0].start && !frags[0].end);
    // Room for the rest of 10 (6 bytes) and all of 11 (5 bytes).
    let p = f.poll_transmit(200).unwrap();
    assert_eq!(p.len(), 21 + 6 + 21 + 5);
    let frags: Vec<_> = Fragment::iter(&p).collect::<Result<_, _>>().unwrap();
    assert_eq!(frags[0].fragment_id, FragmentId(1));
    assert!(!frags[0].start && frags[0].end);
    assert_eq!(
        (frags[1].object_id, frags[1].start, frags[1].end),
        (ObjectId(11), true, true)
    );
    assert!(f.is_empty());
    assert_eq!(f.poll_transmit(200), None);
}

#[test]
fn fragmenter_refuses_room_below_minimum() {
    let mut f = Fragmenter::new();
    f.queue(vec![0; 3]);
    assert_eq!(f.poll_transmit(HEADER_LEN), None);
    assert_eq!(f.pending_bytes(), 3);
    assert_eq!(f.poll_transmit(MIN_ROOM).unwrap().len(), MIN_ROOM);
    assert_eq!(f.pending_bytes(), 2);
}

#[test]
fn empty_message_is_a_bare_header() {
    let mut f = Fragmenter::new();
    f.queue(Vec::new());
    let p = f.poll_transmit(HEADER_LEN).unwrap();
    assert_eq!(p.len(), HEADER_LEN);
    let mut d = Defragmenter::new();
    d.receive(&p).unwrap();
    assert_eq!(d.poll_message(), Some(Vec::new()));
}

#[test]
fn defragmenter_reassembles_interleaved_objects() {
    let mut d = Defragmenter::new();
    let mut payload = frag(1, 0, true, false, b"he");
    payload.extend(frag(2, 0, true, false, b"wo"));
    payload.extend(frag(1, 1, false, false, b"ll"));
    payload.extend(frag(2, 1, false, true, b"rld"));
    d.receive(&payload).unwrap();
    assert_eq!(d.poll_message().unwrap(), b"world");
    assert_eq!(d.incomplete_objects(), 1);
    d.receive(&frag(1, 2, false, true, b"o")).unwrap();
    assert_eq!(d.poll_message().unwrap(), b"hello");
    assert_eq!(d.poll_message(), None);
}

#[test]
fn defragmenter_rejects_protocol_violations() {
    let mut d = Defragmenter::new();
    assert!(matches!(
        d.receive(&frag(1, 1, false, true, b"x")),
        Err(FragmentError::MissingStart { .. })
    ));
    assert!(matches!(
        d.receive(&frag(1, 0, false, true, b"x")),
        Err(FragmentError::StartMismatch { start: false, .. })
    ));
    assert!(matches!(
        d.receive(&frag(1, 2, true, true, b"x")),
        Err(FragmentError::StartMismatch { start: true, .. })
    ));

    d.receive(&frag(5, 0, true, false, b"a")).unwrap();
    assert_eq!(
        d.receive(&frag(5, 2, false, true, b"c")),
        Err(FragmentError::Gap {
            object_id: ObjectId(5),
            expected: FragmentId(1),
            actual: FragmentId(2)
        })
    );
    // The object was dropped with the error.
    assert_eq!(d.incomplete_objects(), 0);

    d.receive(&frag(6, 0, true, false, b"a")).unwrap();
    d.receive(&frag(6, 1, false, false, b"b")).unwrap();
    assert!(matches!(
        d.receive(&frag(6, 1, false, false, b"b")),
        Err(FragmentError::Duplicate { .. })
    ));
    d.receive(&frag(7, 0, true, false, b"a")).unwrap();
    assert!(matches!(
        d.receive(&frag(7, 0, true, false, b"a")),
        Err(FragmentError::Duplicate { .. })
    ));

    d.receive(&frag(8, 0, true, true, b"done")).unwrap();
    assert_eq!(
        d.receive(&frag(8, 1, false, true, b"late")),
        Err(FragmentError::AfterEnd {
            object_id: ObjectId(8),
            fragment_id: FragmentId(1)
        })
    );
    assert_eq!(d.poll_message().unwrap(), b"done");
}

#[test]
fn defragmenter_bounds_memory() {
    let mut d = Defragmenter::with_limits(8, 2);
    assert!(matches!(
        d.receive(&frag(1, 0, true, true, &[0; 9])),
        Err(FragmentError::MessageTooLarge { max: 8, .. })
    ));
    d.receive(&frag(2, 0, true, false, &[0; 5])).unwrap();
    assert!(matches!(
        d.receive(&frag(2, 1, false, true, &[0; 4])),
        Err(FragmentError::MessageTooLarge { .. })
    ));
    d.receive(&frag(3, 0, true, false, b"a")).unwrap();
    d.receive(&frag(4, 0, true, false, b"a")).unwrap();
    assert!(matches!(
        d.receive(&frag(5, 0, true, false, b"a")),
        Err(FragmentError::TooManyObjects { max: 2, .. })
    ));
    // Single-fragment objects never occupy a slot, so they still pass.
    d.receive(&frag(6, 0, true, true, b"ok")).unwrap();
    assert_eq!(d.poll_message().unwrap(), b"ok");
}

#[test]
fn messages_before_an_error_stay_available() {
    let mut d = Defragmenter::new();
    let mut payload = frag(1, 0, true, true, b"first");
    payload.extend(frag(2, 3, false, true, b"bad"));
    payload.extend(frag(3, 0, true, true, b"ignored"));
    assert!(d.receive(&payload).is_err());
    assert_eq!(d.poll_message().unwrap(), b"first");
    assert_eq!(d.poll_message(), None);
}

#[test]
fn round_trip_large_message_at_small_room() {
    let msg: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
    let mut f = Fragmenter::new();
    f.queue(msg.clone());
    let mut d = Defragmenter::new();
    let mut payloads = 0;
    while let Some(p) = f.poll_transmit(100) {
        assert!(p.len() <= 100);
        d.receive(&p).unwrap();
        payloads += 1;
    }
    assert_eq!(payloads, 10_000usize.div_ceil(100 - HEADER_LEN));
    assert_eq!(d.poll_message().unwrap(), msg);
}

#[test]
fn partial_objects_carry_over_to_another_defragmenter() {
    let msg: Vec<u8> = (0..1_000u32).map(|i| (i % 251) as u8).collect();
    let mut f = Fragmenter::new();
    f.queue(msg.clone());
    f.queue(b"second".to_vec());
    let payloads: Vec<Vec<u8>> = std::iter::from_fn(|| f.poll_transmit(200)).collect();
    assert!(payloads.len() > 3);
    // The first reader stops after two payloads; a fresh one alone cannot go on.
    let mut first = Defragmenter::new();
    for p in &payloads[..2] {
        first.receive(p).unwrap();
    }
    assert_eq!(first.poll_message(), None);
    assert!(matches!(
        Defragmenter::new().receive(&payloads[2]),
        Err(FragmentError::MissingStart { .. })
    ));
    let carried = first.partial_objects();
    assert_eq!(carried.len(), 1);
    assert_eq!(carried[0].next_fragment_id, FragmentId(2));
    assert_eq!(first.partial_bytes(), 2 * (200 - HEADER_LEN));
    // Seeded with the carried state, the next reader finishes both messages exactly once.
    let mut next = Defragmenter::new();
    for o in carried {
        next.resume(o).unwrap();
    }
    for p in &payloads[2..] {
        next.receive(p).unwrap();
    }
    assert_eq!(next.poll_message().unwrap(), msg);
    assert_eq!(next.poll_message().unwrap(), b"second");
    assert_eq!(next.poll_message(), None);
    assert_eq!(next.incomplete_objects(), 0);
}

#[test]
fn resume_refuses_what_receive_would() {
    let object = |id: u64, next: u64, len: usize| PartialObject {
        object_id: ObjectId(id),
        next_fragment_id: FragmentId(next),
        data: vec![0; len],
    };
    let mut d = Defragmenter::with_limits(8, 1);
    assert!(matches!(
        d.resume(object(1, 0, 1)),
        Err(FragmentError::StartMismatch { .. })
    ));
    assert!(matches!(
        d.resume(object(1, 1, 9)),
        Err(FragmentError::MessageTooLarge { max: 8, .. })
    ));
    d.resume(object(1, 1, 4)).unwrap();
    assert!(matches!(
        d.resume(object(1, 3, 4)),
        Err(FragmentError::Duplicate { .. })
    ));
    assert!(matches!(
        d.resume(object(2, 1, 4)),
        Err(FragmentError::TooManyObjects { max: 1, .. })
    ));
    // The resumed object still obeys the gap check and the size limit.
    assert!(matches!(
        d.receive(&frag(1, 2, false, true, b"x")),
        Err(FragmentError::Gap { .. })
    ));
    d.resume(object(1, 1, 4)).unwrap();
    d.receive(&frag(1, 1, false, true, b"abcd")).unwrap();
    assert_eq!(
        d.poll_message().unwrap(),
        [0, 0, 0, 0, b'a', b'b', b'c', b'd']
    );
}
