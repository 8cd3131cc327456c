//! The pure-Rust schema compiler against the reference compiler (`capnp compile -o-`, 0.9.2):
//! every schema we can reach compiles to the same `CodeGeneratorRequest`, node by node, with the
//! same requested files, imports and doc comments.
//!
//! The corpus: the standard schemas `libcapnp-dev` installs, the repository's own schemas and
//! compiler test schemas (`tests/compiler/valid/`), the schemas of pycapnp's source distribution
//! (fetched by `tests/py/pycapnp_example.sh`), and the `.capnp` files shipped in the capnp crates
//! Cargo has downloaded.

mod common;

use common::compare::{diff_requests, CompareOptions};
use serde_capnp_schema::compiler::Compiler;
use std::path::{Path, PathBuf};

/// Compiles `file` (under `root`, which is also the `--src-prefix`) with both compilers and
/// returns the differences, or `Err` when the reference compiler rejects the file.
fn compare(root: &Path, file: &Path, imports: &[&Path]) -> Result<Vec<String>, String> {
    let tool = common::capnp_tool().ok_or("the `capnp` tool is not installed")?;
    let mut args: Vec<std::ffi::OsString> = vec!["compile".into(), "-o-".into()];
    for dir in imports {
        args.push(format!("--import-path={}", dir.display()).into());
    }
    args.push(format!("--src-prefix={}", root.display()).into());
    args.push(file.as_os_str().to_owned());
    let expected = common::run_command(&tool, args, &[])?;
    let mut compiler = Compiler::new().src_prefix(root);
    for dir in imports {
        compiler = compiler.import_path(dir);
    }
    let path = file.to_string_lossy().into_owned();
    match compiler.compile(&[path]) {
        Ok(compiled) => Ok(diff_requests(
            &expected,
            compiled.request_bytes(),
            &CompareOptions::default(),
        )),
        Err(e) => Ok(vec![format!("our compiler rejected it:\n{}", e.render())]),
    }
}

/// Compares every file and fails with all the differences at once.
fn compare_all(root: &Path, files: &[PathBuf], imports: &[&Path]) {
    let mut failures = Vec::new();
    let mut compared = 0;
    for file in files {
        match compare(root, file, imports) {
            Ok(diffs) if diffs.is_empty() => compared += 1,
            Ok(diffs) => failures.push(format!("{}:\n{}", file.display(), diffs.join("\n"))),
            Err(e) => eprintln!("not compared: {} ({e})", file.display()),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files differ from `capnp compile`:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
    eprintln!("{compared} files identical to `capnp compile -o-`");
}

fn capnp_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(capnp_files(&p));
        } else if p.extension().is_some_and(|x| x == "capnp") {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn standard_schemas_match() {
    common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let root = Path::new("/usr/include");
    let files = capnp_files(&root.join("capnp"));
    if files.is_empty() {
        common::skip(
            "the standard schemas (/usr/include/capnp, from libcapnp-dev) are not installed",
        );
        return;
    }
    compare_all(root, &files, &[]);
}

#[test]
fn repository_schemas_match() {
    common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let root = common::manifest_dir().join("schemas");
    compare_all(&root, &capnp_files(&root), &[]);
}

#[test]
fn compiler_test_schemas_match() {
    common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let root = common::manifest_dir().join("tests/compiler/valid");
    let files = capnp_files(&root);
    assert!(!files.is_empty(), "no schemas in {}", root.display());
    compare_all(&root, &files, &[&root]);
}

#[test]
fn pycapnp_schemas_match() {
    common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let root = common::require_tool!(common::pycapnp_example_dir(), common::NO_PYCAPNP_EXAMPLE);
    for dir in [root.clone(), root.join("test")] {
        let files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|r| {
                r.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "capnp"))
                    .collect()
            })
            .unwrap_or_default();
        compare_all(&dir, &files, &[&dir]);
    }
}

#[test]
fn crate_schemas_match() {
    common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    // The capnp crate is a dependency, so Cargo has its sources; find them next to the
    // registry index Cargo used.
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(src) = home.map(|h| h.join("registry").join("src")) else {
        common::skip("no Cargo home to find the capnp crate's sources in");
        return;
    };
    let mut files = Vec::new();
    for registry in std::fs::read_dir(&src).into_iter().flatten().flatten() {
        for krate in std::fs::read_dir(registry.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = krate.file_name().to_string_lossy().into_owned();
            if name.starts_with("capnp") {
                for f in capnp_files(&krate.path()) {
                    files.push((krate.path(), f));
                }
            }
        }
    }
    if files.is_empty() {
        common::skip("no capnp crate sources under the Cargo registry");
        return;
    }
    for (root, file) in files {
        compare_all(&root, &[file], &[]);
    }
}
