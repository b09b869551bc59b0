//! Fragmenting and reassembling a 1 MiB message at the room of a 150 KiB and a 500 KiB
//! envelope (MaxEnvelopeSize defaults of Windows clients and of WinRM's MaxEnvelopeSizekb).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use psrp::fragment::{Defragmenter, Fragmenter};

const MESSAGE_LEN: usize = 1 << 20;
const ROOMS: [usize; 2] = [153_600, 512_000];

fn message() -> Vec<u8> {
    (0..MESSAGE_LEN).map(|i| (i * 31 % 251) as u8).collect()
}

fn fragment_all(msg: &[u8], room: usize) -> Vec<Vec<u8>> {
    let mut f = Fragmenter::new();
    f.queue(msg.to_vec());
    let mut payloads = Vec::new();
    while let Some(p) = f.poll_transmit(room) {
        payloads.push(p);
    }
    payloads
}

fn bench(c: &mut Criterion) {
    let msg = message();
    let mut group = c.benchmark_group("fragment_1mib");
    group.throughput(Throughput::Bytes(MESSAGE_LEN as u64));
    for room in ROOMS {
        group.bench_with_input(BenchmarkId::new("fragment", room), &room, |b, &room| {
            b.iter(|| fragment_all(&msg, room))
        });
        let payloads = fragment_all(&msg, room);
        group.bench_with_input(BenchmarkId::new("reassemble", room), &room, |b, _| {
            b.iter(|| {
                let mut d = Defragmenter::new();
                for p in &payloads {
                    d.receive(p).unwrap();
                }
                d.poll_message().unwrap()
            })
        });
        group.bench_with_input(BenchmarkId::new("round_trip", room), &room, |b, &room| {
            b.iter(|| {
                let mut d = Defragmenter::new();
                for p in fragment_all(&msg, room) {
                    d.receive(&p).unwrap();
                }
                d.poll_message().unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
