//! CLIXML serialize and deserialize: one 10-property object and a list of 10 000 of them.
//!
//! The graph matches `benches/psrpcore_clixml.py`, which times psrpcore on the same data.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use psrp::clixml::{self, Container, PsObject, Value};

fn object(i: u32, type_names: &Arc<[String]>) -> Value {
    Value::object(
        PsObject::new()
            .with_shared_type_names(Arc::clone(type_names))
            .with_member("Name", format!("process-{i}"))
            .with_member("Id", Value::I32(i as i32))
            .with_member("Handles", Value::I32(100 + (i % 50) as i32))
            .with_member("CPU", Value::Single(1.5 * i as f32))
            .with_member("WorkingSet", Value::I64(1024 * 1024 * i64::from(i % 300)))
            .with_member("Path", format!("C:\\Windows\\System32\\process-{i}.exe"))
            .with_member(
                "StartTime",
                Value::DateTime(format!("2024-01-01T12:00:{:02}Z", i % 60)),
            )
            .with_member("Responding", i.is_multiple_of(2))
            .with_member("Company", "Contoso\r\nLtd")
            .with_member("Guid", Value::Guid(uuid::Uuid::from_u128(u128::from(i)))),
    )
}

fn bench(c: &mut Criterion) {
    let custom: Arc<[String]> = vec![
        "System.Management.Automation.PSCustomObject".to_owned(),
        "System.Object".to_owned(),
    ]
    .into();
    let one = object(1, &custom);
    let one_text = clixml::to_clixml(&one);
    let many = Value::object(
        PsObject::new()
            .with_type_names(["System.Collections.ArrayList", "System.Object"])
            .with_container(Container::List(
                (0..10_000).map(|i| object(i, &custom)).collect(),
            )),
    );
    let many_text = clixml::to_clixml(&many);
    assert_eq!(clixml::from_clixml(&many_text).unwrap(), many);

    let mut g = c.benchmark_group("clixml");
    g.bench_function("object_10_props/serialize", |b| {
        b.iter(|| clixml::to_clixml(black_box(&one)))
    });
    g.bench_function("object_10_props/deserialize", |b| {
        b.iter(|| clixml::from_clixml(black_box(&one_text)).unwrap())
    });
    g.sample_size(10);
    g.bench_function("list_10000/serialize", |b| {
        b.iter(|| clixml::to_clixml(black_box(&many)))
    });
    g.bench_function("list_10000/deserialize", |b| {
        b.iter(|| clixml::from_clixml(black_box(&many_text)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
