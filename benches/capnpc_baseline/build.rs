//! Generates Rust code for `schemas/bench.capnp`, `schemas/calculator.capnp` and
//! `schemas/rpc_bench.capnp`: serde_capnp's own schema compiler writes the
//! `CodeGeneratorRequest` and capnpc's code generator turns it into Rust, so no `capnp` tool is
//! needed.

const SCHEMAS: [&str; 3] = [
    "../../schemas/bench.capnp",
    "../../schemas/calculator.capnp",
    "../../schemas/rpc_bench.capnp",
];

fn main() {
    for schema in SCHEMAS {
        println!("cargo:rerun-if-changed={schema}");
    }
    let compiled = serde_capnp_schema::compiler::Compiler::new()
        .src_prefix("../../schemas")
        .compile(&SCHEMAS)
        .unwrap_or_else(|e| panic!("the baseline's schemas do not compile:\n{}", e.render()));
    let out_dir = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR for build scripts");
    capnpc::codegen::CodeGenerationCommand::new()
        .output_directory(out_dir)
        .run(compiled.request_bytes())
        .expect("generating Rust code from the CodeGeneratorRequest");
}
