//! Schema-aware JSON and text transcoding of the `log` dataset (10,000 records, a 1.4 MB
//! message), beside serde_json on the same records as Rust structs.
//!
//! Run with `cargo bench --bench transcode`.

use criterion::{criterion_group, criterion_main, Criterion};
use serde_capnp::{JsonStyle, Schema};
use serde_capnp_suite::datasets;
use std::hint::black_box;

fn transcode(c: &mut Criterion) {
    let data = datasets::log::logs();
    let schema =
        Schema::from_code_generator_request(include_bytes!("../schemas/compiled/bench.bin"))
            .unwrap()
            .struct_type("Logs")
            .unwrap();
    let bytes = schema.to_vec(&data).unwrap();
    let json = schema.to_json_short(&bytes).unwrap();
    let text = schema.to_text_short(&bytes).unwrap();
    assert_eq!(schema.from_json(&json).unwrap(), bytes);
    println!(
        "log: message {} B, capnp JSON {} B, text {} B, serde_json {} B",
        bytes.len(),
        json.len(),
        text.len(),
        serde_json::to_vec(&data).unwrap().len()
    );

    let mut group = c.benchmark_group("log_transcode");
    let mut out = Vec::with_capacity(json.len());
    group.bench_function("serde_capnp/binary to JSON", |b| {
        b.iter(|| {
            out.clear();
            schema
                .to_json_in(black_box(&bytes), JsonStyle::Short, &mut out)
                .unwrap();
            out.len()
        })
    });
    group.bench_function("serde_json/to_vec (Rust structs)", |b| {
        b.iter(|| serde_json::to_vec(black_box(&data)).unwrap())
    });
    group.bench_function("serde_capnp/JSON to binary", |b| {
        b.iter(|| schema.from_json(black_box(&json)).unwrap())
    });
    let plain_json = serde_json::to_vec(&data).unwrap();
    group.bench_function("serde_json/from_slice (Rust structs)", |b| {
        b.iter(|| serde_json::from_slice::<datasets::Logs>(black_box(&plain_json)).unwrap())
    });
    group.bench_function("serde_capnp/binary to text", |b| {
        b.iter(|| schema.to_text_short(black_box(&bytes)).unwrap())
    });
    group.finish();

    // Reading a little of a large message: the dynamic view follows only the pointers on the
    // way; a full decode reads all 10,000 records.
    let mut group = c.benchmark_group("log_dynamic");
    group.bench_function("serde_capnp/reader: one record's request", |b| {
        b.iter(|| {
            let message = schema.reader(black_box(&bytes)).unwrap();
            let root = message.root().unwrap();
            let request = root.path("logs[5000].request").unwrap();
            request.as_text().unwrap().len()
        })
    });
    group.bench_function("serde_capnp/reader: sum of every record's size", |b| {
        b.iter(|| {
            let message = schema.reader(black_box(&bytes)).unwrap();
            let logs = message.root().unwrap().get("logs").unwrap();
            let logs = logs.into_list().unwrap();
            let mut total = 0u64;
            for log in logs.iter() {
                let log = log.unwrap().into_struct().unwrap();
                total += log.get("size").unwrap().as_u64().unwrap();
            }
            total
        })
    });
    group.bench_function("serde_capnp/from_slice (borrowed, whole message)", |b| {
        b.iter(|| {
            schema
                .from_slice::<datasets::log::LogsBorrowed>(black_box(&bytes))
                .unwrap()
                .logs
                .len()
        })
    });
    group.bench_function("serde_capnp/read_value (whole message)", |b| {
        b.iter(|| schema.read_value(black_box(&bytes)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, transcode);
criterion_main!(benches);
