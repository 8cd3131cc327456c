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

#[test]
fn embedded_structs_are_written_as_the_file_has_them() {
    let Some(capnp) = capnp_or_skip() else {
        return;
    };
    let dir = repo().join("tests/compiler/valid");
    let names = constants(&dir.join("embeds.capnp"));
    assert!(names.len() >= 10, "{names:?}");
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let compared = compare_all(&capnp, &dir, &["-I", "."], "embeds.capnp", &names);
    eprintln!("{compared} evaluations identical to `capnp eval`");
}
