//! Helpers shared by the CLI's integration tests: the binary under test, the reference `capnp`
//! tool, and running a process with input on its stdin.

#![allow(dead_code)] // each test crate uses its own subset

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The `serde-capnp` binary built for these tests.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_serde-capnp"))
}

/// The workspace root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The reference `capnp` tool, when it is installed and runs.
pub fn capnp_tool() -> Option<PathBuf> {
    let found = Command::new("capnp").arg("--version").output().ok()?;
    found.status.success().then(|| PathBuf::from("capnp"))
}

/// Whether this is a CI run, where a missing tool is a failure rather than a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// The `capnp` tool, or `None` after saying why the test is skipped; in CI a missing tool fails.
pub fn capnp_or_skip() -> Option<PathBuf> {
    let tool = capnp_tool();
    if tool.is_none() {
        assert!(!in_ci(), "the `capnp` tool is not installed (CI is set)");
        eprintln!("skipped: the `capnp` tool is not installed");
    }
    tool
}

/// Runs `cmd` with `input` on its stdin and collects what it prints. The input is written from
/// another thread, so that a process printing while it reads cannot block on a full pipe.
pub fn pipe(cmd: &mut Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let mut stdin = child.stdin.take().unwrap();
    std::thread::scope(|s| {
        s.spawn(move || {
            // A process that stops reading early (an error) closes the pipe: not our failure.
            let _ = stdin.write_all(input);
        });
        child.wait_with_output().unwrap()
    })
}
