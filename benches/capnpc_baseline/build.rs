//! Generates `bench_capnp.rs` from `schemas/bench.capnp`: serde_capnp's own schema compiler writes
//! the `CodeGeneratorRequest` and capnpc's code generator turns it into Rust, so no `capnp` tool
//! is needed.

fn main() {
    println!("cargo:rerun-if-changed=../../schemas/bench.capnp");
    let compiled = serde_capnp_schema::compiler::Compiler::new()
        .src_prefix("../../schemas")
        .compile(&["../../schemas/bench.capnp"])
        .unwrap_or_else(|e| panic!("schemas/bench.capnp does not compile:\n{}", e.render()));
    let out_dir = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR for build scripts");
    capnpc::codegen::CodeGenerationCommand::new()
        .output_directory(out_dir)
        .run(compiled.request_bytes())
        .expect("generating Rust code from the CodeGeneratorRequest");
}
