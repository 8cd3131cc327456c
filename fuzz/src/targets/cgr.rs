//! Loading a (hostile) `CodeGeneratorRequest` with `Schema::from_code_generator_request`, then
//! using whatever loads: struct handles, default and random messages, constants.
//!
//! A case is the request message itself, as `capnp compile -o-` writes it.

use serde_capnp::{Compiler, Schema};

use super::{compiler, repo_root, Ctx, Sig, Target};
use crate::mutate::Shape;

pub fn targets() -> Vec<Target> {
    vec![Target {
        name: "cgr",
        shape: Shape::Message { header: 0 },
        about:
            "`Schema::from_code_generator_request` on mutated requests, then the loaded pool in use",
        seeds,
        dict: |_| Vec::new(),
        run: load,
    }]
}

/// The committed requests of `schemas/compiled/`, and requests compiled from the other schema
/// files the compiler target starts from.
fn seeds(_: &Ctx) -> Vec<Vec<u8>> {
    let dir = repo_root().join("schemas/compiled");
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .filter_map(|p| std::fs::read(p).ok())
        .collect();
    out.sort();
    for (name, text) in compiler::schema_files() {
        if let Ok(compiled) = Compiler::new().add_source(&name, text).compile(&[&name]) {
            out.push(compiled.into_request_bytes());
        }
    }
    out
}

fn load(_: &Ctx, case: &[u8]) -> u64 {
    let mut sig = Sig::new();
    match Schema::from_code_generator_request(case) {
        Err(e) => sig.error(&e),
        Ok(schema) => {
            sig.mix("loaded");
            compiler::use_schema(&schema, &mut sig);
        }
    }
    sig.done()
}
