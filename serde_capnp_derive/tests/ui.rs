//! Every error the macros give, as rustc shows it: `tests/ui/*.rs` (the derive and
//! `include_schema!`) and `tests/ui_rpc/*.rs` (the `interface` attribute), with the expected
//! output beside each in a `.stderr` file. `TRYBUILD=overwrite cargo test -p
//! serde_capnp_derive --test ui` writes them again after a deliberate change.
//!
//! trybuild builds the cases as a crate of its own under the target directory, so the macros
//! resolve schema paths against that crate's directory: the schemas the cases name are copied
//! into its `schemas/` first.

use std::path::{Path, PathBuf};

/// The target directory this test was built into (trybuild's cases go under it).
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        return if dir.is_absolute() {
            dir
        } else {
            workspace().join(dir)
        };
    }
    workspace().join("target")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the derive crate sits in the workspace")
        .to_path_buf()
}

fn copy_schemas() {
    let to = target_dir()
        .join("tests")
        .join("trybuild")
        .join("serde_capnp_derive")
        .join("schemas");
    std::fs::create_dir_all(&to).unwrap();
    let from = [
        workspace().join("schemas"),
        workspace().join("tests/schemas"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui-schemas"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui_rpc"),
    ];
    for dir in from {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "capnp") {
                std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
            }
        }
    }
}

#[test]
fn ui() {
    copy_schemas();
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.compile_fail("tests/ui_rpc/*.rs");
}
