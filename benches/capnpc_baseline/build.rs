//! Generates `bench_capnp.rs` from `schemas/bench.capnp` (needs the `capnp` tool on `PATH`).

fn main() {
    println!("cargo:rerun-if-changed=../../schemas/bench.capnp");
    capnpc::CompilerCommand::new()
        .src_prefix("../../schemas")
        .file("../../schemas/bench.capnp")
        .run()
        .expect("compiling schemas/bench.capnp with capnpc (is the `capnp` tool installed?)");
}
