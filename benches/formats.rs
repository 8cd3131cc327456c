//! serde_capnp against capnpc-generated code, postcard and serde_json on the benchmark datasets.
//!
//! Run with
//! `cargo bench --features capnpc-baseline --bench formats -- --warm-up-time 1 --measurement-time 2`
//! (append a filter such as `log/` to run one dataset).
//!
//! Every serializer returns a fresh `Vec<u8>`; every deserializer builds the owned dataset
//! struct (plus the borrowed form for `log`, where the format can borrow).
//!
//! serde_capnp runs twice: `serde_capnp/` is the serde path (a runtime schema and the dataset's
//! plain serde types), `serde_capnp bound/` the same data in types bound with
//! `#[derive(Capnp)]` (`benches/bound/`), written and read through `serde_capnp::to_vec` and
//! `serde_capnp::from_slice`, which take the derive's direct path.
//!
//! The capnpc baseline builds its messages in one segment (a first segment big enough for the
//! whole message), which is the layout serde_capnp aims at. With capnp's default allocator (a
//! 1024-word first segment, later segments growing with the message) a large message spans
//! several segments and needs a far pointer for every object outside the first one: 20–33 %
//! more bytes and slower to write and read. Those are measured too, labelled
//! `(default allocator)`.
//!
//! `FORMATS_PAIRED_ROUNDS=N` adds, after each dataset, serde_capnp's time over capnpc's for
//! each target ratio from N rounds of a batch of each (see `benches/paired/mod.rs`).

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use serde::de::DeserializeOwned;
use serde::Serialize;

use serde_capnp::CapnpRead;
use serde_capnp_suite::capnpc::{self, capnp};

#[path = "bound/mod.rs"]
mod bound;
#[path = "paired/mod.rs"]
mod paired;
use serde_capnp_suite::datasets::{self, LogsBorrowed};

type HeapBuilder = capnp::message::Builder<capnp::message::HeapAllocator>;

/// The capnpc-generated functions for one dataset.
struct Capnpc<T> {
    populate: fn(&mut HeapBuilder, &T),
    populate_and_write: fn(&T) -> Vec<u8>,
    populate_and_write_packed: fn(&T) -> Vec<u8>,
    read_and_convert: fn(&[u8]) -> capnp::Result<T>,
    read_packed_and_convert: fn(&[u8]) -> capnp::Result<T>,
}

macro_rules! capnpc_functions {
    ($module:path) => {{
        use $module as m;
        Capnpc {
            populate: m::populate::<capnp::message::HeapAllocator>,
            populate_and_write: m::populate_and_write,
            populate_and_write_packed: m::populate_and_write_packed,
            read_and_convert: m::read_and_convert,
            read_packed_and_convert: m::read_packed_and_convert,
        }
    }};
}

/// A builder whose first segment holds `words` words.
fn sized_builder(words: usize) -> HeapBuilder {
    let words = u32::try_from(words).expect("message under 32 GiB");
    capnp::message::Builder::new(capnp::message::HeapAllocator::new().first_segment_words(words))
}

/// Prints the encoded sizes and checks that every path gives the data back.
fn report_sizes<T>(name: &str, data: &T, capnpc: &Capnpc<T>) -> Vec<u8>
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let default = (capnpc.populate_and_write)(data);
    let default_packed = (capnpc.populate_and_write_packed)(data);
    let mut message = sized_builder(default.len() / 8);
    (capnpc.populate)(&mut message, data);
    let one_segment = capnpc::write(&message);
    let one_segment_packed = capnpc::write_packed(&message);
    let postcard = postcard::to_allocvec(data).unwrap();
    let json = serde_json::to_vec(data).unwrap();

    assert_eq!(message.get_segments_for_output().len(), 1);
    assert!((capnpc.read_and_convert)(&default).unwrap() == *data);
    assert!((capnpc.read_packed_and_convert)(&default_packed).unwrap() == *data);
    assert!((capnpc.read_and_convert)(&one_segment).unwrap() == *data);
    assert!(postcard::from_bytes::<T>(&postcard).unwrap() == *data);
    assert!(serde_json::from_slice::<T>(&json).unwrap() == *data);

    println!("{name}: sizes in bytes");
    println!(
        "  capnpc, default allocator   {:>10}  packed {:>10}",
        default.len(),
        default_packed.len()
    );
    println!(
        "  capnpc, one segment         {:>10}  packed {:>10}",
        one_segment.len(),
        one_segment_packed.len()
    );
    println!("  postcard                    {:>10}", postcard.len());
    println!("  serde_json                  {:>10}", json.len());
    one_segment
}

/// The capnpc, postcard and serde_json benchmarks shared by every dataset.
fn bench_common<T>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    data: &T,
    capnpc: &Capnpc<T>,
    words: usize,
) where
    T: Serialize + DeserializeOwned,
{
    group.bench_function("capnpc/populate+write (default allocator)", |b| {
        b.iter(|| (capnpc.populate_and_write)(black_box(data)))
    });
    group.bench_function("capnpc/populate+write", |b| {
        b.iter(|| {
            let mut message = sized_builder(words);
            (capnpc.populate)(&mut message, black_box(data));
            capnpc::write(&message)
        })
    });
    group.bench_function("capnpc/populate+write packed", |b| {
        b.iter(|| {
            let mut message = sized_builder(words);
            (capnpc.populate)(&mut message, black_box(data));
            capnpc::write_packed(&message)
        })
    });

    let default_bytes = (capnpc.populate_and_write)(data);
    group.bench_function("capnpc/read+convert (default allocator bytes)", |b| {
        b.iter(|| (capnpc.read_and_convert)(black_box(&default_bytes)).unwrap())
    });
    let mut message = sized_builder(words);
    (capnpc.populate)(&mut message, data);
    let bytes = capnpc::write(&message);
    group.bench_function("capnpc/read+convert", |b| {
        b.iter(|| (capnpc.read_and_convert)(black_box(&bytes)).unwrap())
    });
    let packed = capnpc::write_packed(&message);
    group.bench_function("capnpc/read+convert packed", |b| {
        b.iter(|| (capnpc.read_packed_and_convert)(black_box(&packed)).unwrap())
    });

    group.bench_function("postcard/serialize", |b| {
        b.iter(|| postcard::to_allocvec(black_box(data)).unwrap())
    });
    let bytes = postcard::to_allocvec(data).unwrap();
    group.bench_function("postcard/deserialize", |b| {
        b.iter(|| postcard::from_bytes::<T>(black_box(&bytes)).unwrap())
    });

    group.bench_function("serde_json/serialize", |b| {
        b.iter(|| serde_json::to_vec(black_box(data)).unwrap())
    });
    let bytes = serde_json::to_vec(data).unwrap();
    group.bench_function("serde_json/deserialize", |b| {
        b.iter(|| serde_json::from_slice::<T>(black_box(&bytes)).unwrap())
    });
}

// The serde_capnp side of each group.
mod serde_capnp_benches {
    use super::*;

    /// The struct schema `name` of `schemas/bench.capnp`.
    pub fn struct_schema(name: &str) -> serde_capnp::StructSchema {
        let schema = serde_capnp::Schema::from_code_generator_request(include_bytes!(
            "../schemas/compiled/bench.bin"
        ))
        .expect("loading schemas/compiled/bench.bin");
        schema
            .struct_type(name)
            .expect("struct in schemas/bench.capnp")
    }

    /// Prints the sizes and checks the round trips and the bytes against capnpc's.
    pub fn report_sizes<T>(
        name: &str,
        data: &T,
        schema: &serde_capnp::StructSchema,
        capnpc_bytes: &[u8],
    ) where
        T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let bytes = schema.to_vec(data).unwrap();
        let packed = schema.to_vec_packed(data).unwrap();
        println!(
            "  serde_capnp                 {:>10}  packed {:>10}",
            bytes.len(),
            packed.len()
        );
        assert!(
            schema.from_slice::<T>(&bytes).unwrap() == *data,
            "{name}: round trip"
        );
        assert!(
            bytes == capnpc_bytes,
            "{name}: the same bytes as capnpc-generated code writing one segment"
        );
    }

    pub fn bench<T>(
        group: &mut BenchmarkGroup<'_, WallTime>,
        data: &T,
        schema: &serde_capnp::StructSchema,
    ) where
        T: Serialize + DeserializeOwned,
    {
        group.bench_function("serde_capnp/serialize", |b| {
            b.iter(|| schema.to_vec(black_box(data)).unwrap())
        });
        group.bench_function("serde_capnp/serialize packed", |b| {
            b.iter(|| schema.to_vec_packed(black_box(data)).unwrap())
        });
        let bytes = schema.to_vec(data).unwrap();
        group.bench_function("serde_capnp/deserialize", |b| {
            b.iter(|| schema.from_slice::<T>(black_box(&bytes)).unwrap())
        });
    }

    /// The bound twin of `data`, checked to write capnpc's bytes and read back equal, and its
    /// benchmarks.
    pub fn bench_bound<T, B>(
        group: &mut BenchmarkGroup<'_, WallTime>,
        data: &T,
        capnpc_bytes: &[u8],
    ) where
        T: Serialize,
        B: Serialize + DeserializeOwned + for<'de> CapnpRead<'de> + PartialEq + std::fmt::Debug,
    {
        let bound: B = bound::bind(data);
        let bytes = serde_capnp::to_vec(&bound).unwrap();
        assert!(
            bytes == capnpc_bytes,
            "bound types: the same bytes as capnpc-generated code writing one segment"
        );
        assert!(serde_capnp::from_slice::<B>(&bytes).unwrap() == bound);
        group.bench_function("serde_capnp bound/serialize", |b| {
            b.iter(|| serde_capnp::to_vec(black_box(&bound)).unwrap())
        });
        group.bench_function("serde_capnp bound/deserialize", |b| {
            b.iter(|| serde_capnp::from_slice::<B>(black_box(&bytes)).unwrap())
        });
    }

    pub fn bench_borrowed_logs(
        group: &mut BenchmarkGroup<'_, WallTime>,
        data: &datasets::Logs,
        schema: &serde_capnp::StructSchema,
    ) {
        let bytes = schema.to_vec(data).unwrap();
        let borrowed: LogsBorrowed<'_> = schema.from_slice(&bytes).unwrap();
        assert_eq!(borrowed, data.borrowed());
        group.bench_function("serde_capnp/deserialize borrowed", |b| {
            b.iter(|| {
                schema
                    .from_slice::<LogsBorrowed<'_>>(black_box(&bytes))
                    .unwrap()
            })
        });
    }
}

/// Rounds of [`paired::paired`] per ratio (0: none).
fn paired_rounds() -> usize {
    std::env::var("FORMATS_PAIRED_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// How long a batch of capnpc's lasts in [`paired::paired`].
const PAIRED_BATCH: std::time::Duration = std::time::Duration::from_millis(40);

/// A target ratio's label, our side and capnpc's.
type PairedRow<'a> = (&'a str, &'a dyn Fn(), &'a dyn Fn());

/// Prints [`paired::paired`]'s ratios for the targets of one dataset: the bound types and the
/// serde path against capnpc writing one segment and reading into the same owned structs.
fn report_paired<T, B>(
    name: &str,
    data: &T,
    capnpc: &Capnpc<T>,
    capnpc_bytes: &[u8],
    schema: &serde_capnp::StructSchema,
) where
    T: Serialize + DeserializeOwned,
    B: Serialize + DeserializeOwned + for<'de> CapnpRead<'de>,
{
    let rounds = paired_rounds();
    if rounds == 0 {
        return;
    }
    let bound: B = bound::bind(data);
    let words = capnpc_bytes.len() / 8;
    let capnpc_write = || {
        let mut message = sized_builder(words);
        (capnpc.populate)(&mut message, black_box(data));
        black_box(capnpc::write(&message));
    };
    let capnpc_read = || {
        black_box((capnpc.read_and_convert)(black_box(capnpc_bytes)).unwrap());
    };
    let bound_write = || {
        black_box(serde_capnp::to_vec(black_box(&bound)).unwrap());
    };
    let bound_read = || {
        black_box(serde_capnp::from_slice::<B>(black_box(capnpc_bytes)).unwrap());
    };
    let serde_write = || {
        black_box(schema.to_vec(black_box(data)).unwrap());
    };
    let serde_read = || {
        black_box(schema.from_slice::<T>(black_box(capnpc_bytes)).unwrap());
    };
    let rows: [PairedRow<'_>; 4] = [
        ("bound serialize ÷ capnpc", &bound_write, &capnpc_write),
        ("bound owned decode ÷ capnpc", &bound_read, &capnpc_read),
        ("serde path serialize ÷ capnpc", &serde_write, &capnpc_write),
        (
            "serde path owned decode ÷ capnpc",
            &serde_read,
            &capnpc_read,
        ),
    ];
    println!("{name}: our time ÷ capnpc's, paired batches ({rounds} rounds)");
    for (label, ours, baseline) in rows {
        let batch_of = |f: &dyn Fn(), n: usize| {
            let start = std::time::Instant::now();
            for _ in 0..n {
                f();
            }
            start.elapsed()
        };
        let [median, low, high] = paired::paired(
            &mut |n| batch_of(ours, n),
            &mut |n| batch_of(baseline, n),
            rounds,
            PAIRED_BATCH,
        );
        println!("  {label:34} {median:.2}× (quartiles {low:.2}–{high:.2})");
    }
}

fn log(c: &mut Criterion) {
    let data = datasets::log::logs();
    let capnpc = capnpc_functions!(capnpc::log);
    let capnpc_bytes = report_sizes("log", &data, &capnpc);
    let words = capnpc_bytes.len() / 8;
    let schema = serde_capnp_benches::struct_schema("Logs");
    serde_capnp_benches::report_sizes("log", &data, &schema, &capnpc_bytes);

    let mut group = c.benchmark_group("log");
    bench_common(&mut group, &data, &capnpc, words);
    let bytes = postcard::to_allocvec(&data).unwrap();
    group.bench_function("postcard/deserialize borrowed", |b| {
        b.iter(|| postcard::from_bytes::<LogsBorrowed<'_>>(black_box(&bytes)).unwrap())
    });
    {
        serde_capnp_benches::bench(&mut group, &data, &schema);
        serde_capnp_benches::bench_borrowed_logs(&mut group, &data, &schema);
        serde_capnp_benches::bench_bound::<_, bound::Logs>(&mut group, &data, &capnpc_bytes);
        let logs: bound::Logs = bound::bind(&data);
        let bytes = serde_capnp::to_vec(&logs).unwrap();
        assert!(
            serde_capnp::from_slice::<bound::LogsBorrowed<'_>>(&bytes)
                .unwrap()
                .logs
                .len()
                == logs.logs.len()
        );
        group.bench_function("serde_capnp bound/deserialize borrowed", |b| {
            b.iter(|| {
                serde_capnp::from_slice::<bound::LogsBorrowed<'_>>(black_box(&bytes)).unwrap()
            })
        });
    }
    group.finish();
    report_paired::<_, bound::Logs>("log", &data, &capnpc, &capnpc_bytes, &schema);
}

fn mesh(c: &mut Criterion) {
    let data = datasets::mesh::mesh();
    let capnpc = capnpc_functions!(capnpc::mesh);
    let capnpc_bytes = report_sizes("mesh", &data, &capnpc);
    let words = capnpc_bytes.len() / 8;
    let schema = serde_capnp_benches::struct_schema("Mesh");
    serde_capnp_benches::report_sizes("mesh", &data, &schema, &capnpc_bytes);

    let mut group = c.benchmark_group("mesh");
    bench_common(&mut group, &data, &capnpc, words);
    serde_capnp_benches::bench(&mut group, &data, &schema);
    serde_capnp_benches::bench_bound::<_, bound::Mesh>(&mut group, &data, &capnpc_bytes);
    group.finish();
    report_paired::<_, bound::Mesh>("mesh", &data, &capnpc, &capnpc_bytes, &schema);
}

fn carsales(c: &mut Criterion) {
    let data = datasets::carsales::parking_lot();
    let capnpc = capnpc_functions!(capnpc::carsales);
    let capnpc_bytes = report_sizes("carsales", &data, &capnpc);
    let words = capnpc_bytes.len() / 8;
    let schema = serde_capnp_benches::struct_schema("ParkingLot");
    serde_capnp_benches::report_sizes("carsales", &data, &schema, &capnpc_bytes);

    let mut group = c.benchmark_group("carsales");
    bench_common(&mut group, &data, &capnpc, words);
    serde_capnp_benches::bench(&mut group, &data, &schema);
    serde_capnp_benches::bench_bound::<_, bound::ParkingLot>(&mut group, &data, &capnpc_bytes);
    group.finish();
    report_paired::<_, bound::ParkingLot>("carsales", &data, &capnpc, &capnpc_bytes, &schema);
}

/// One small message at a time (the address book of the example), as an RPC peer or a stream
/// writer sends them: the per-message costs show here, not in the big datasets.
fn small(c: &mut Criterion) {
    let book = serde_capnp_suite::fixtures::addressbook::sample();
    let schema = serde_capnp::Schema::from_code_generator_request(include_bytes!(
        "../schemas/compiled/addressbook.bin"
    ))
    .unwrap()
    .struct_type("AddressBook")
    .unwrap();
    let bytes = schema.to_vec(&book).unwrap();
    let postcard_bytes = postcard::to_allocvec(&book).unwrap();
    println!(
        "small: sizes in bytes\n  serde_capnp {:>6}\n  postcard    {:>6}",
        bytes.len(),
        postcard_bytes.len()
    );
    let mut group = c.benchmark_group("small");
    group.bench_function("serde_capnp/serialize", |b| {
        b.iter(|| schema.to_vec(black_box(&book)).unwrap())
    });
    group.bench_function("serde_capnp/deserialize", |b| {
        b.iter(|| {
            schema
                .from_slice::<serde_capnp_suite::fixtures::addressbook::AddressBook>(black_box(
                    &bytes,
                ))
                .unwrap()
        })
    });
    group.bench_function("postcard/serialize", |b| {
        b.iter(|| postcard::to_allocvec(black_box(&book)).unwrap())
    });
    group.bench_function("postcard/deserialize", |b| {
        b.iter(|| {
            postcard::from_bytes::<serde_capnp_suite::fixtures::addressbook::AddressBook>(
                black_box(&postcard_bytes),
            )
            .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, log, mesh, carsales, small);
criterion_main!(benches);
