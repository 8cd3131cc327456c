//! Compiling the standard schemas (`/usr/include/capnp/*.capnp` from libcapnp-dev): the whole
//! `serde-capnp compile -o-` process against the whole `capnp compile -o-` process, side by side,
//! plus the compile alone, in process.
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

criterion_group!(benches, bench);
criterion_main!(benches);
