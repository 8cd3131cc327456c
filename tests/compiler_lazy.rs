//! The compiler looks at what the requested files use, and no further, as `capnp compile` does:
//! an imported file becomes a node when its import is resolved, its declarations become nodes
//! (and claim their IDs) when something looks inside it, and `/capnp/stream.capnp` is loaded
//! only when a `-> stream` method is compiled. So a file that is loaded but not used cannot
//! clash with another one over an ID.
//!
//! Each case is a small tree of files compiled by both compilers: the requests must be the same
//! node for node, or both compilers must reject the file with the same errors.

mod common;

use common::compare::{diff_requests, CompareOptions};
use serde_capnp_schema::compiler::Compiler;
use std::collections::BTreeSet;
use std::path::Path;

/// A file with a streaming method that imports its own copy of `c++.capnp` by a relative name.
/// Compiling the method loads `/capnp/stream.capnp`, whose file annotation imports the
/// installed `/capnp/c++.capnp`: the same file ID a second time.
const STREAMING: &str = r#"@0xd0a87f36fa0ba1a1;
using Cxx = import "c++.capnp";
$Cxx.namespace("lazy");

struct Plain { x @0 :UInt32; }

interface Sink {
  write @0 (chunk :Data) -> stream;
}
"#;

/// Uses only `Plain` from the streaming file: `Sink` is never compiled, nor is stream.capnp.
const PLAIN_USER: &str = r#"@0xd0a87f36fa0ba1a2;
using S = import "streaming.capnp";
using Cxx = import "c++.capnp";
$Cxx.namespace("lazy");

struct User {
  plain @0 :S.Plain;
  plains @1 :List(S.Plain);
}
"#;

/// Uses the streaming interface: its methods are compiled, so stream.capnp is loaded.
const SINK_USER: &str = r#"@0xd0a87f36fa0ba1a3;
using S = import "streaming.capnp";

struct Holder { sink @0 :S.Sink; }
"#;

/// Two files declare a struct with the same explicit ID.
const FIRST: &str = "@0xd0a87f36fa0ba2a1;\nstruct A @0xe0a87f36fa0ba2a1 { v @0 :UInt8; }\n";
const SECOND: &str = "@0xd0a87f36fa0ba2a2;\nstruct B @0xe0a87f36fa0ba2a1 { w @0 :UInt8; }\n";

/// Imports both, looks into the first only: the second's `B` never claims its ID.
const ONE_SIDE: &str = r#"@0xd0a87f36fa0ba2a3;
using X = import "first.capnp";
using Y = import "second.capnp";
struct M { a @0 :X.A; }
"#;

/// Looks into both: the clash is reported.
const BOTH_SIDES: &str = r#"@0xd0a87f36fa0ba2a4;
using X = import "first.capnp";
using Y = import "second.capnp";
struct M { a @0 :X.A; b @1 :Y.B; }
"#;

/// Writes the tree: the files above and a copy of `c++.capnp` (the one bundled with the
/// compiler, which is the installed one).
fn tree() -> std::path::PathBuf {
    let dir = common::scratch_dir("compiler-lazy");
    let cxx = common::manifest_dir().join("serde_capnp_schema/std/capnp/c++.capnp");
    std::fs::copy(&cxx, dir.join("c++.capnp")).unwrap();
    for (name, text) in [
        ("streaming.capnp", STREAMING),
        ("plain-user.capnp", PLAIN_USER),
        ("sink-user.capnp", SINK_USER),
        ("first.capnp", FIRST),
        ("second.capnp", SECOND),
        ("one-side.capnp", ONE_SIDE),
        ("both-sides.capnp", BOTH_SIDES),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

/// An error line with its file reduced to the file's base name: the reference names an
/// installed file by its path on disk, we by its import path.
fn error_key(line: &str) -> String {
    match line.split_once(':') {
        Some((file, rest)) => {
            let base = file.rsplit('/').next().unwrap_or(file);
            format!("{base}:{rest}")
        }
        None => line.to_string(),
    }
}

/// Compiles `file` in `dir` with both compilers; returns what differs.
fn compare(capnp: &Path, dir: &Path, file: &str, standard_import: bool) -> Vec<String> {
    let path = dir.join(file);
    let mut command = std::process::Command::new(capnp);
    command.arg("compile").arg("-o-");
    if !standard_import {
        command.arg("--no-standard-import");
    }
    command
        .arg(format!("--src-prefix={}", dir.display()))
        .arg(&path);
    let theirs = command.output().unwrap();
    let mut compiler = Compiler::new().src_prefix(dir);
    if !standard_import {
        compiler = compiler.no_standard_import();
    }
    let ours = compiler.compile(&[path.to_string_lossy().into_owned()]);
    let context = |what: String| {
        format!(
            "{file} (standard imports: {standard_import}): {what}\n  capnp said:\n{}",
            String::from_utf8_lossy(&theirs.stderr)
        )
    };
    match (theirs.status.success(), ours) {
        (true, Ok(compiled)) => diff_requests(
            &theirs.stdout,
            compiled.request_bytes(),
            &CompareOptions::default(),
        )
        .into_iter()
        .map(context)
        .collect(),
        (true, Err(e)) => vec![context(format!("we rejected it:\n{e}"))],
        (false, Ok(_)) => vec![context("we accepted it".into())],
        (false, Err(e)) => {
            let expected: BTreeSet<String> = String::from_utf8_lossy(&theirs.stderr)
                .lines()
                .map(error_key)
                .collect();
            let actual: BTreeSet<String> = e.to_string().lines().map(error_key).collect();
            if expected == actual {
                Vec::new()
            } else {
                vec![context(format!("we said:\n{e}"))]
            }
        }
    }
}

fn check(cases: &[(&str, bool)]) {
    let capnp = common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let dir = tree();
    let mut differences = Vec::new();
    for &(file, standard_import) in cases {
        differences.extend(compare(&capnp, &dir, file, standard_import));
    }
    assert!(differences.is_empty(), "{}", differences.join("\n\n"));
}

#[test]
fn stream_capnp_is_loaded_only_for_a_compiled_streaming_method() {
    check(&[
        // The streaming interface is never compiled: no second c++.capnp.
        ("plain-user.capnp", true),
        // Compiled: both compilers report the duplicated file ID.
        ("streaming.capnp", true),
        ("sink-user.capnp", true),
        // Without the standard imports there is no stream.capnp: an error only where a
        // streaming method is compiled.
        ("plain-user.capnp", false),
        ("streaming.capnp", false),
    ]);
}

#[test]
fn declarations_claim_their_ids_when_they_are_looked_into() {
    check(&[
        ("one-side.capnp", true),
        ("both-sides.capnp", true),
        ("first.capnp", true),
    ]);
}

/// `Compiler::compile_for_eval` with no reference tool: the value of a constant whose file
/// does not compile as a whole, and the errors that evaluating another constant meets.
#[test]
fn eval_compiles_only_what_the_constant_needs() {
    use serde_capnp_schema::compiler::EvalOutput;
    let source = r#"@0xc8e6a4b2d0f1e3a6;
using Missing = import "missing.capnp";
struct Broken { x @0 :NotDefined; }
const blob :Data = embed "no-such-file.bin";
struct Inner { v @0 :Int16; }
struct Good { a @0 :UInt32; inner @1 :Inner; }
const good :Good = (a = 5, inner = (v = 3));
const bad :Good = (a = 1, c = 3);
"#;
    let compiler = Compiler::new().add_source("e.capnp", source);
    let whole = compiler.compile(&["e.capnp"]).unwrap_err().to_string();
    for expected in [
        "Import failed",
        "Not defined: NotDefined",
        "embed",
        "field named 'c'",
    ] {
        assert!(whole.contains(expected), "{whole}");
    }
    let eval = |name: &str, output| {
        let evaluated = compiler.compile_for_eval("e.capnp", name, output).unwrap();
        let schema =
            serde_capnp::Schema::from_code_generator_request(evaluated.compiled().request_bytes())
                .unwrap();
        let errors = evaluated.errors().map(|e| e.to_string());
        (schema, errors)
    };
    let (schema, errors) = eval("good", EvalOutput::Text);
    assert_eq!(errors, None);
    assert_eq!(
        schema.eval_text("good", false).unwrap(),
        "(a = 5, inner = (v = 3))"
    );
    let (schema, errors) = eval("good.inner", EvalOutput::Message);
    assert_eq!(errors, None);
    assert_eq!(schema.eval_struct("good.inner").unwrap().0.name(), "Inner");
    // The constant's own error is met; it is printed all the same, without the bad field.
    let (schema, errors) = eval("bad", EvalOutput::Text);
    assert_eq!(
        errors.as_deref(),
        Some("e.capnp:8:27-28: error: Struct has no field named 'c'.")
    );
    assert_eq!(schema.eval_text("bad", false).unwrap(), "(a = 1)");
    // A file that cannot be read is the only failure.
    assert!(compiler
        .compile_for_eval("nowhere.capnp", "x", EvalOutput::Text)
        .is_err());
}
