//! The `serde-capnp` binary, run as a process the way builds run `capnp`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_serde-capnp"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn scratch(tag: &str) -> PathBuf {
    let dir = repo()
        .join("target")
        .join("cli-tests")
        .join(format!("{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("runs serde-capnp");
    assert!(
        out.status.success(),
        "serde-capnp failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn addressbook_request() -> Vec<u8> {
    let schemas = repo().join("schemas");
    run(bin()
        .arg("compile")
        .arg("-o-")
        .arg(format!("--src-prefix={}", schemas.display()))
        .arg(schemas.join("addressbook.capnp")))
    .stdout
}

#[test]
fn compile_to_stdout_gives_the_library_result() {
    let schemas = repo().join("schemas");
    let from_cli = addressbook_request();
    let from_lib = serde_capnp_schema::compiler::Compiler::new()
        .src_prefix(&schemas)
        .compile(&[schemas.join("addressbook.capnp").to_string_lossy()])
        .unwrap()
        .into_request_bytes();
    assert_eq!(from_cli, from_lib);
    let pool = serde_capnp_schema::SchemaPool::from_code_generator_request(&from_cli).unwrap();
    assert!(pool.find("Person").is_ok());
}

#[test]
fn output_flag_spellings_capnpc_uses_are_accepted() {
    // capnpc's CompilerCommand passes `-o -` as two arguments.
    let schemas = repo().join("schemas");
    let spaced = run(bin()
        .args(["compile", "-o", "-"])
        .arg(format!("--src-prefix={}", schemas.display()))
        .arg(schemas.join("addressbook.capnp")))
    .stdout;
    assert_eq!(spaced, addressbook_request());
    let long = run(bin()
        .args(["compile", "--output=-", "--no-standard-import"])
        .arg(format!("--src-prefix={}", schemas.display()))
        .arg(schemas.join("addressbook.capnp")))
    .stdout;
    assert_eq!(long, spaced);
}

#[test]
fn a_plugin_gets_the_request_on_stdin_in_its_directory() {
    let dir = scratch("plugin");
    let plugin = dir.join("capnpc-record");
    std::fs::write(&plugin, "#!/bin/sh\ncat > request.bin\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out_dir = dir.join("generated");
    let schemas = repo().join("schemas");
    // By path, with an output directory.
    run(bin()
        .arg("compile")
        .arg(format!("-o{}:{}", plugin.display(), out_dir.display()))
        .arg(format!("--src-prefix={}", schemas.display()))
        .arg(schemas.join("addressbook.capnp")));
    assert_eq!(
        std::fs::read(out_dir.join("request.bin")).unwrap(),
        addressbook_request()
    );
    // By name, found on PATH as `capnpc-NAME`, run in the current directory.
    let path = std::env::join_paths(std::iter::once(dir.clone()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    run(bin()
        .current_dir(&work)
        .env("PATH", path)
        .args(["compile", "-orecord"])
        .arg(format!("--src-prefix={}", schemas.display()))
        .arg(schemas.join("addressbook.capnp")));
    assert_eq!(
        std::fs::read(work.join("request.bin")).unwrap(),
        addressbook_request()
    );
}

#[test]
fn errors_exit_non_zero_with_located_messages() {
    let dir = scratch("errors");
    let file = dir.join("bad.capnp");
    std::fs::write(
        &file,
        "@0xbf5147cbbecf40c1;\nstruct S {\n  a @0 :Strin;\n  b @0 :Int32;\n}\n",
    )
    .unwrap();
    let out = bin()
        .args(["compile", "-o-"])
        .arg(format!("--src-prefix={}", dir.display()))
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("bad.capnp:3:9-14: error: Not defined: Strin"),
        "{stderr}"
    );
    assert!(
        stderr.contains("bad.capnp:4:6-7: error: Duplicate ordinal number."),
        "{stderr}"
    );
    let out = bin()
        .args(["compile", "-o-", "no/such/file.capnp"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/file.capnp"));
}

#[test]
fn id_prints_a_fresh_file_id() {
    let a = String::from_utf8(run(bin().arg("id")).stdout).unwrap();
    let b = String::from_utf8(run(bin().arg("id")).stdout).unwrap();
    assert_ne!(a, b);
    let hex = a
        .trim()
        .strip_prefix("@0x")
        .unwrap()
        .strip_suffix(';')
        .unwrap();
    let id = u64::from_str_radix(hex, 16).unwrap();
    assert!(id & (1 << 63) != 0, "{a}");
}
