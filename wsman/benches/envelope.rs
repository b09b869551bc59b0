//! Decode and encode a ReceiveResponse carrying ~500 KB of stream data, and a small Command
//! request.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wsman::shell::{CommandLine, CommandState, CommandStateInfo, ReceiveResponse, Stream};
use wsman::{Action, Body, CommandId, Envelope, MessageId, ShellId, ns};

fn receive_response() -> Envelope {
    let command = CommandId::new("17F850F9-52AA-477F-B6EE-868C72E7AB70");
    // 20 chunks of 25 000 bytes (pseudo-random, so base64 is not trivially repetitive).
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let streams = (0..20)
        .map(|_| Stream {
            name: "stdout".into(),
            command_id: Some(command.clone()),
            end: None,
            data: (0..25_000)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed.to_le_bytes()[0]
                })
                .collect(),
        })
        .collect();
    let request = Envelope::request(
        Action::Receive,
        ns::RESOURCE_POWERSHELL,
        MessageId::new("uuid:1"),
    )
    .body(Body::Empty);
    Envelope::reply_to(
        &request.header,
        MessageId::new("uuid:2"),
        Body::ReceiveResponse(ReceiveResponse {
            streams,
            command_state: Some(CommandStateInfo {
                command_id: Some(command),
                state: CommandState::Running,
                exit_code: None,
            }),
        }),
    )
}

fn command_request() -> Envelope {
    Envelope::request(Action::Command, ns::RESOURCE_POWERSHELL, MessageId::new("uuid:F249DBE7-0E83-4F39-AE4A-28324CF61227"))
        .to("https://127.0.0.1:5986/wsman")
        .max_envelope_size(512_000)
        .operation_timeout(Duration::from_secs(20))
        .session_id("uuid:AECF49AF-7164-43E6-B10A-E38E8C4986AD")
        .shell_id(&ShellId::new("76056A84-51DC-4F24-9262-CA2A55464B2B"))
        .body(Body::Command(CommandLine {
            command_id: Some(CommandId::new("A4A9A2D6-6B8C-4C8B-8D26-0B37B3B4C2E1")),
            command: Some(String::new()),
            arguments: vec!["AAAAAAAAAAEAAAAAAAAAAAMAAADHAgAAAAIAAQB2BWqEUdxPJJJiyipVRksrAAAAAAAAAAAAAAAAAAAAADxPYmogUmVmSWQ9IjAiPjxNUz48VmVyc2lvbiBOPSJwcm90b2NvbHZlcnNpb24iPjIuMzwvVmVyc2lvbj48L01TPjwvT2JqPg==".into()],
        }))
}

fn bench(c: &mut Criterion) {
    for (name, env) in [
        ("receive_response_500k", receive_response()),
        ("command_request", command_request()),
    ] {
        let xml = env.encode();
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(xml.len() as u64));
        group.bench_function("decode", |b| {
            b.iter(|| Envelope::decode(black_box(xml.as_bytes())).expect("decodes"));
        });
        group.bench_function("encode", |b| b.iter(|| black_box(&env).encode()));
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
