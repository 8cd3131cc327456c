//! Compiling the standard schemas (`/usr/include/capnp/*.capnp` from libcapnp-dev): the whole
//! `serde-capnp compile -o-` process against the whole `capnp compile -o-` process, side by side,
//! plus the compile alone, in process.
//!
//! Also `serde-capnp convert` against `capnp convert` on a stream of 5000 messages, whole
//! processes side by side.
//!
//! Run with `cargo bench -p serde_capnp_cli --bench compile`. Needs `capnp` and the standard
//! schemas installed (they are the input); without them it says so and measures nothing.

use criterion::{criterion_group, criterion_main, Criterion};
use serde_capnp_schema::compiler::Compiler;
use std::path::Path;
use std::process::{Command, Stdio};

const STANDARD: &[&str] = &[
    "capnp/schema.capnp",
    "capnp/rpc.capnp",
    "capnp/rpc-twoparty.capnp",
    "capnp/persistent.capnp",
    "capnp/stream.capnp",
    "capnp/c++.capnp",
    "capnp/compat/json.capnp",
];

fn run(program: &str, files: &[String]) -> usize {
    let out = Command::new(program)
        .args(["compile", "-o-", "--src-prefix=/usr/include"])
        .args(files)
        .stderr(Stdio::inherit())
        .output()
        .expect("running the compiler");
    assert!(out.status.success(), "{program} failed");
    out.stdout.len()
}

fn bench(c: &mut Criterion) {
    let files: Vec<String> = STANDARD
        .iter()
        .map(|f| format!("/usr/include/{f}"))
        .collect();
    let capnp_found = Command::new("capnp")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !capnp_found || !files.iter().all(|f| Path::new(f).is_file()) {
        eprintln!("skipped: needs the `capnp` tool and the standard schemas (libcapnp-dev)");
        return;
    }
    let ours = env!("CARGO_BIN_EXE_serde-capnp");
    let mut group = c.benchmark_group("compile_standard_schemas");
    group.bench_function("capnp compile -o- (process)", |b| {
        b.iter(|| run("capnp", &files))
    });
    group.bench_function("serde-capnp compile -o- (process)", |b| {
        b.iter(|| run(ours, &files))
    });
    // What starting any process costs here, for reading the two above.
    group.bench_function("spawn /bin/true (process)", |b| {
        b.iter(|| Command::new("/bin/true").status().expect("runs").success())
    });
    let compiler = Compiler::new().src_prefix("/usr/include");
    group.bench_function("Compiler::compile (in process)", |b| {
        b.iter(|| {
            compiler
                .compile(&files)
                .expect("compiles")
                .request_bytes()
                .len()
        })
    });
    group.finish();
}

/// A stream of address books (two people each), the input of the `convert` benchmarks.
fn address_book_stream(count: usize) -> Vec<u8> {
    use serde_capnp::Value;
    let schema = serde_capnp::Schema::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../schemas/addressbook.capnp"
    ))
    .expect("the bundled schema compiles")
    .struct_type("AddressBook")
    .expect("AddressBook");
    let mut stream = Vec::new();
    for i in 0..count {
        let person = |id: u32, name: &str, employment: (&str, Value)| {
            Value::structure([
                ("id", Value::UInt32(id)),
                ("name", name.into()),
                ("email", format!("{name}@example.com").into()),
                (
                    "phones",
                    Value::List(vec![Value::structure([
                        ("number", format!("555-{:04}", id % 10_000).into()),
                        ("type", Value::enumerant("mobile")),
                    ])]),
                ),
                ("employment", Value::structure([employment])),
            ])
        };
        let book = Value::structure([(
            "people",
            Value::List(vec![
                person(i as u32, "alice", ("school", "MIT".into())),
                person(i as u32 + 1, "bob", ("unemployed", Value::Void)),
            ]),
        )]);
        stream.extend(schema.to_vec(&book).expect("writes"));
    }
    stream
}

fn run_with_input(program: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("finishes");
    writer.join().expect("writer").expect("input written");
    assert!(out.status.success(), "{program} {args:?} failed");
    out.stdout
}

fn convert(c: &mut Criterion) {
    let capnp_found = Command::new("capnp")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !capnp_found {
        eprintln!("skipped: needs the `capnp` tool");
        return;
    }
    let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/addressbook.capnp");
    let binary = address_book_stream(5000);
    let ours = env!("CARGO_BIN_EXE_serde-capnp");
    let json = run_with_input(
        ours,
        &["convert", "binary:json", schema, "AddressBook"],
        &binary,
    );
    println!(
        "convert input: 5000 address books, {} bytes binary, {} bytes JSON",
        binary.len(),
        json.len()
    );
    let mut group = c.benchmark_group("convert_address_books");
    group.sample_size(10);
    for (conversion, input) in [
        ("binary:json", &binary),
        ("binary:text", &binary),
        ("binary:packed", &binary),
        ("json:binary", &json),
    ] {
        let args = ["convert", conversion, schema, "AddressBook"];
        group.bench_function(format!("capnp convert {conversion}"), |b| {
            b.iter(|| run_with_input("capnp", &args, input).len())
        });
        group.bench_function(format!("serde-capnp convert {conversion}"), |b| {
            b.iter(|| run_with_input(ours, &args, input).len())
        });
    }
    group.finish();
}

criterion_group!(benches, bench, convert);
criterion_main!(benches);
