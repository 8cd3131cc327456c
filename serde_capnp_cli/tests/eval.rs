//! `serde-capnp eval` against `capnp eval` (0.9.2): the same output, byte for byte, the same
//! exit status and the same compiler errors on stderr, in every output format.

mod common;

use common::{bin, capnp_or_skip, repo};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

/// Output formats compared; the ones other than text need a struct.
const FORMATS: &[&[&str]] = &[
    &["-otext"],
    &["-otext", "--short"],
    &["-ojson"],
    &["-ojson", "--short"],
    &["-obinary"],
    &["-opacked"],
    &["-oflat"],
    &["-ocanonical"],
];

/// The compiler's error lines (`file:line:col: error: ...`), which both tools print alike.
fn compiler_errors(o: &Output) -> BTreeSet<String> {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| l.contains(": error: "))
        .map(str::to_string)
        .collect()
}

/// Runs both tools as `eval FLAGS ARGS... FILE NAME` in `dir`; returns what differs.
fn compare(capnp: &Path, dir: &Path, args: &[&str], file: &str, name: &str) -> Option<String> {
    let run = |cmd: &mut Command| {
        cmd.current_dir(dir)
            .arg("eval")
            .args(args)
            .arg(file)
            .arg(name)
            .output()
            .unwrap()
    };
    let theirs = run(&mut Command::new(capnp));
    let ours = run(&mut bin());
    let stderr = String::from_utf8_lossy(&ours.stderr);
    assert!(
        !stderr.contains("panicked"),
        "{file} {name} {args:?}: {stderr}"
    );
    let same = theirs.stdout == ours.stdout
        && theirs.status.success() == ours.status.success()
        && compiler_errors(&theirs) == compiler_errors(&ours);
    (!same).then(|| {
        format!(
            "{file} {name} {args:?}:\n  capnp ({}): {}{}\n  ours ({}):  {}{}",
            theirs.status,
            String::from_utf8_lossy(&theirs.stdout),
            String::from_utf8_lossy(&theirs.stderr),
            ours.status,
            String::from_utf8_lossy(&ours.stdout),
            stderr
        )
    })
}

/// Evaluates every name in every format with both tools; fails with all the differences.
/// Returns how many evaluations were compared.
fn compare_all(capnp: &Path, dir: &Path, args: &[&str], file: &str, names: &[&str]) -> usize {
    let mut differences = Vec::new();
    let mut compared = 0;
    for name in names {
        for format in FORMATS {
            let flags: Vec<&str> = args.iter().chain(format.iter()).copied().collect();
            compared += 1;
            differences.extend(compare(capnp, dir, &flags, file, name));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {compared} evaluations differ from `capnp eval`:\n{}",
        differences.len(),
        differences.join("\n")
    );
    compared
}

/// The names of the top-level constants of a schema.
fn constants(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("const "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Every top-level constant of `tests/compiler/valid/FILE` in every format.
fn compare_corpus_file(capnp: &Path, file: &str) -> usize {
    let dir = repo().join("tests/compiler/valid");
    let names = constants(&dir.join(file));
    assert!(!names.is_empty(), "no constants in {file}");
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let compared = compare_all(capnp, &dir, &["-I", "."], file, &names);
    eprintln!(
        "{file}: {} constants, {compared} evaluations identical to `capnp eval`",
        names.len()
    );
    compared
}

#[test]
fn embedded_structs_are_written_as_the_file_has_them() {
    let Some(capnp) = capnp_or_skip() else {
        return;
    };
    compare_corpus_file(&capnp, "embeds.capnp");
}

#[test]
fn generic_constants_print_with_the_types_their_brand_binds() {
    let Some(capnp) = capnp_or_skip() else {
        return;
    };
    compare_corpus_file(&capnp, "generic_constants.capnp");
    compare_corpus_file(&capnp, "generics.capnp");
}

#[test]
fn every_constant_of_the_compiler_corpus_evaluates_as_capnp_eval_does() {
    let Some(capnp) = capnp_or_skip() else {
        return;
    };
    let dir = repo().join("tests/compiler/valid");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".capnp"))
        .filter(|n| !constants(&dir.join(n)).is_empty())
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    let compared: usize = files.iter().map(|f| compare_corpus_file(&capnp, f)).sum();
    eprintln!("{compared} evaluations identical to `capnp eval` in all");
}

/// A file whose constants need only part of it: the rest fails in every way the reference tool
/// never looks at when it evaluates (an import of a missing file, an annotation from it, an
/// embed of a missing file, types that are not defined), and some constants fail themselves.
const ELSEWHERE: &str = r#"@0xc8e6a4b2d0f1e3a5;

using Missing = import "missing.capnp";
$Missing.note("an annotation of a file that does not exist");

struct Broken {
  x @0 :NotDefined;
}

struct UsesMissing {
  y @0 :Missing.Thing;
}

const blob :Data = embed "no-such-file.bin";

struct Inner {
  v @0 :Int16;
}

struct Good {
  a @0 :UInt32;
  b @1 :Text = "default";
  inner @2 :Inner;
  list @3 :List(Inner);
  union {
    none @4 :Void;
    some @5 :Inner;
  }
}

const good :Good = (a = 5, b = "hi", inner = (v = 3), list = [(v = 1), (v = 2)]);
const goodList :List(Good) = [(a = 1), (a = 2, some = (v = 4))];
const number :UInt32 = 7;
const text :Text = "plain";
const wrongField :Good = (a = 1, c = 3);

struct Outer {
  const nested :Inner = (v = 9);
  inner @0 :Inner = (v = 8);
}

struct Reach {
  t @0 :Broken;
  union {
    n @1 :Void;
    w @2 :Broken2;
  }
}

struct Broken2 {
  z @0 :AlsoNotDefined;
}

const reach :Reach = ();
const reachSet :Reach = (t = ());

struct Annotated $Missing.note("annotations are left out") {
  a @0 :UInt8 $Missing.note("this one too");
}

const annotated :Annotated = (a = 3);
const fromStreaming :Streaming.Plain = (x = 4);

using Streaming = import "streaming.capnp";
"#;

/// A file with a streaming method and its own copy of `c++.capnp`, imported by a relative name:
/// compiling the method would load `/capnp/stream.capnp` and with it the installed
/// `/capnp/c++.capnp`, the same file ID again. Evaluating a constant never compiles it.
const STREAMING: &str = r#"@0xd0a87f36fa0ba1a1;
using Cxx = import "c++.capnp";
$Cxx.namespace("eval");

struct Plain { x @0 :UInt32; }

interface Sink {
  write @0 (chunk :Data) -> stream;
}

const plain :Plain = (x = 1);
"#;

#[test]
fn eval_compiles_only_what_the_value_needs() {
    let Some(capnp) = capnp_or_skip() else {
        return;
    };
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("serde_capnp-eval-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("elsewhere.capnp"), ELSEWHERE).unwrap();
    std::fs::write(dir.join("streaming.capnp"), STREAMING).unwrap();
    std::fs::copy(
        repo().join("serde_capnp_schema/std/capnp/c++.capnp"),
        dir.join("c++.capnp"),
    )
    .unwrap();
    let mut names = constants(&dir.join("elsewhere.capnp"));
    // Paths into values and struct defaults, and names that go wrong.
    for name in [
        "Outer.nested",
        "Outer.inner",
        "good.inner.v",
        "good.list[1]",
        "good.some",
        "Good.b",
        "goodList[1]",
        "goodList[1].some",
        "nosuch",
        "Broken",
        "Broken.x",
        "Missing",
        "good.",
    ] {
        names.push(name.to_string());
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut compared = compare_all(&capnp, &dir, &[], "elsewhere.capnp", &names);
    compared += compare_all(&capnp, &dir, &[], "streaming.capnp", &["plain"]);
    eprintln!("{compared} evaluations identical to `capnp eval`");
}
