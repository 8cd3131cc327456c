//! The schema compiler on mutated schema text, then everything a compiled schema is used for.
//!
//! A case is the text of `fuzz.capnp`; the test schemas of `tests/compiler/valid/` are there
//! too, under their own names, so that imports resolve. When the text compiles, every struct
//! gets a handle that writes and reads a default and a random message, and every constant is
//! evaluated; when it does not, the errors are rendered.

use std::path::Path;
use std::sync::OnceLock;

use serde_capnp::model::NodeKind;
use serde_capnp::{Compiler, Schema, Value};

use super::{oracle, repo_root, seeds, Ctx, Sig, Target};
use crate::mutate::Shape;
use crate::rng::Rng;

pub fn targets() -> Vec<Target> {
    vec![Target {
        name: "compiler",
        shape: Shape::Text { header: 0 },
        about: "`Compiler::add_source` + `compile` on mutated schemas; `render` of the errors; use of what compiles",
        seeds: |_| schema_files().into_iter().map(|(_, text)| text.into_bytes()).collect(),
        dict: dictionary,
        run: compile,
    }]
}

/// The `.capnp` files the seeds come from: the repository's schemas, the compiler's valid and
/// invalid test schemas, and the standard schemas (installed, or bundled with the compiler).
pub fn schema_files() -> Vec<(String, String)> {
    let root = repo_root();
    let mut dirs = vec![
        root.join("schemas"),
        root.join("tests/compiler/valid"),
        root.join("tests/compiler/valid/shared"),
        root.join("tests/compiler/invalid"),
    ];
    let installed = Path::new("/usr/include/capnp");
    if installed.is_dir() {
        dirs.push(installed.to_path_buf());
        dirs.push(installed.join("compat"));
    } else {
        dirs.push(root.join("serde_capnp_schema/std/capnp"));
        dirs.push(root.join("serde_capnp_schema/std/capnp/compat"));
    }
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            if path.extension().is_some_and(|x| x == "capnp") {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    let name = path.file_name().unwrap().to_string_lossy().into_owned();
                    out.push((name, text));
                }
            }
        }
    }
    out
}

/// Words of the schema language, for the text mutator.
pub fn dictionary(_: &Ctx) -> Vec<String> {
    [
        "struct",
        "enum",
        "interface",
        "union",
        "group",
        "using",
        "import",
        "const",
        "annotation",
        "extends",
        "embed",
        "stream",
        "@0",
        "@1",
        "@2",
        "@65535",
        "@65536",
        "@0!",
        "@0xdbb9ad1f14bf0b36;",
        "@0x8000000000000000",
        ":Text",
        ":Data",
        ":Void",
        ":Bool",
        ":Int8",
        ":Int64",
        ":UInt16",
        ":UInt64",
        ":Float32",
        ":Float64",
        ":AnyPointer",
        ":AnyStruct",
        ":AnyList",
        ":Capability",
        ":List(",
        "List(List(Text))",
        "(T)",
        "(K, V)",
        ".T",
        "(",
        ")",
        "{",
        "}",
        "[",
        "]",
        "=",
        ";",
        ",",
        ".",
        ":",
        "$",
        "->",
        "#",
        "\n",
        "\"text\"",
        "0x\"00ff\"",
        "void",
        "true",
        "false",
        "inf",
        "nan",
        "-inf",
        "import \"/capnp/c++.capnp\"",
        "import \"scalars.capnp\"",
        "import \"fuzz.capnp\"",
        "$import \"/capnp/c++.capnp\".namespace(\"x\")",
        "generic",
        "Foo",
        "Foo.Bar",
        ".Foo",
        "targets(*)",
        "targets(struct, field)",
        "(a = 1, b = \"x\")",
        "[1, 2, 3]",
        "struct S { a @0 :Int32; }",
        "enum E { a @0; b @1; }",
        "union { a @0 :Void; b @1 :Text; }",
        "interface I { m @0 (x :Int32) -> (y :Text); }",
        "const c :Int32 = 7;",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The compiler with the valid test schemas in memory, built once.
fn base() -> &'static Compiler {
    static BASE: OnceLock<Compiler> = OnceLock::new();
    BASE.get_or_init(|| {
        let valid = repo_root().join("tests/compiler/valid");
        let mut compiler = Compiler::new();
        for sub in ["", "shared"] {
            let Ok(entries) = std::fs::read_dir(valid.join(sub)) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                if path.extension().is_some_and(|x| x == "capnp") {
                    if let Ok(text) = std::fs::read_to_string(&path) {
                        let file = path.file_name().unwrap().to_string_lossy().into_owned();
                        let name = if sub.is_empty() {
                            file
                        } else {
                            format!("{sub}/{file}")
                        };
                        compiler = compiler.add_source(name, text);
                    }
                }
            }
        }
        compiler
    })
}

const MAX_NODES: usize = 48;

fn compile(_: &Ctx, case: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(case);
    let mut sig = Sig::new();
    let compiled = base()
        .clone()
        .add_source("fuzz.capnp", text.into_owned())
        .compile(&["fuzz.capnp"]);
    let compiled = match compiled {
        Err(e) => {
            sig.mix(e.diagnostics().len().min(3));
            for d in e.diagnostics().iter().take(2) {
                sig.text(&d.message);
            }
            let rendered = e.render();
            let plain = e.to_string();
            if e.diagnostics().is_empty() || plain.is_empty() || rendered.is_empty() {
                oracle(format_args!("a failed compile reports no error"));
            }
            return sig.done();
        }
        Ok(c) => c,
    };
    sig.mix("compiled");
    let pool = compiled.schema_pool().unwrap_or_else(|e| {
        oracle(format_args!(
            "the compiler's request does not load: {}",
            e.message()
        ))
    });
    let schema = Schema::from_pool(pool);
    use_schema(&schema, &mut sig);
    sig.done()
}

/// Builds a handle for every struct (a few dozen at most) and writes and reads a default and a
/// random message with it; evaluates every constant. Shared with the request-loading target.
pub fn use_schema(schema: &Schema, sig: &mut Sig) {
    let mut rng = Rng::new(schema.pool().nodes().len() as u64);
    for node in schema.pool().nodes().iter().take(MAX_NODES) {
        match &node.kind {
            NodeKind::Struct(_) => {
                let r = schema.struct_by_id(node.id);
                sig.add(&r);
                let Ok(st) = r else { continue };
                let empty = Value::structure(Vec::<(String, Value)>::new());
                let (pool, index) = st.pool();
                let random = seeds::random_struct(pool, index, None, &mut rng, 0);
                for v in [empty, random] {
                    let written = st.to_vec(&v);
                    sig.add(&written);
                    if let Ok(bytes) = written {
                        sig.add(&st.read_value(&bytes));
                        sig.add(&st.to_text(&bytes));
                        sig.add(&st.to_json(&bytes));
                    }
                }
            }
            NodeKind::Const(_) => {
                sig.add(&schema.eval_text(&node.display_name, false));
                sig.add(&schema.eval_struct(&node.display_name));
            }
            _ => {}
        }
    }
}
