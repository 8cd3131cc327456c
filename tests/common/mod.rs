//! Helpers shared by the integration tests: locating the bundled schemas,
//! and running the reference tools (`capnp`, pycapnp) when they are present.
//!
//! Use from a test file with `mod common;`. Only `std` is used.
//!
//! Interop tests need external tools. When one is missing, [`require_tool!`]
//! prints `skipped: <reason>` to stderr (visible with `--nocapture`) and
//! returns from the test, except in CI (`CI` set to anything but empty,
//! `0` or `false`), where a missing tool fails the test: `.ci/run` installs
//! everything, so a skip there would hide a broken setup.
//!
//! Environment variables:
//! - `CAPNP`: path of the `capnp` tool (default: `capnp` on `PATH`)
//! - `PYTHON`: a Python with pycapnp (default: `python3`, then `python`)
//! - `SERDE_CAPNP_PYCAPNP_EXAMPLE`: where `tests/py/pycapnp_example.sh`
//!   extracted pycapnp's examples (default: `target/pycapnp-example`)
#![allow(dead_code)]

pub mod compare;
pub mod words;

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The root package's directory (the workspace root).
pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `schemas/NAME.capnp`; `name` may be given with or without `.capnp`.
pub fn schema_path(name: &str) -> PathBuf {
    let file = if name.ends_with(".capnp") {
        name.to_owned()
    } else {
        format!("{name}.capnp")
    };
    manifest_dir().join("schemas").join(file)
}

/// The committed `CodeGeneratorRequest` for `schemas/NAME.capnp`, i.e. the
/// bytes of `schemas/compiled/NAME.bin` (see `scripts/regen-schemas.sh`).
pub fn compiled_schema(name: &str) -> Vec<u8> {
    let name = name.strip_suffix(".capnp").unwrap_or(name);
    let path = manifest_dir()
        .join("schemas")
        .join("compiled")
        .join(format!("{name}.bin"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (run scripts/regen-schemas.sh)",
            path.display()
        )
    })
}

/// A script under `tests/py/`.
pub fn py_script(name: &str) -> PathBuf {
    manifest_dir().join("tests").join("py").join(name)
}

/// A fresh, empty directory for one test's files, under Cargo's scratch
/// directory for integration tests (or the system temp directory).
pub fn scratch_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let base = option_env!("CARGO_TARGET_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = base.join(format!("serde_capnp-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// Whether the tests run in CI, where missing tools are failures.
pub fn in_ci() -> bool {
    match std::env::var("CI") {
        Ok(v) => !matches!(v.trim(), "" | "0" | "false" | "FALSE" | "False"),
        Err(_) => false,
    }
}

/// Reports a missing tool: panics in CI, otherwise prints
/// `skipped: <reason>` to stderr. The caller then returns from the test;
/// [`require_tool!`] does both.
#[track_caller]
pub fn skip(reason: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("<unnamed>")
        .to_owned();
    if in_ci() {
        panic!("{test}: {reason} (CI is set, so this is an error, not a skip)");
    }
    eprintln!("skipped: {reason} [{test}]");
}

/// Unwraps an `Option` naming a tool, or skips the test (see [`skip`]).
///
/// ```ignore
/// let capnp = common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
/// // in a test returning Result:
/// let py = common::require_tool!(common::python_with_pycapnp(), "pycapnp is not installed", Ok(()));
/// ```
#[allow(unused_macros)]
macro_rules! require_tool {
    ($tool:expr, $reason:expr) => {
        $crate::common::require_tool!($tool, $reason, ())
    };
    ($tool:expr, $reason:expr, $ret:expr) => {
        match $tool {
            ::std::option::Option::Some(found) => found,
            ::std::option::Option::None => {
                $crate::common::skip(&$reason);
                return $ret;
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use require_tool;

/// Searches `PATH` for an executable file called `name`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// Resolves a program given as an env var override or a name on `PATH`.
fn locate(env_var: &str, names: &[&str]) -> Vec<PathBuf> {
    if let Some(value) = std::env::var_os(env_var).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(&value);
        if path.components().count() > 1 {
            return vec![path];
        }
        return find_on_path(&value.to_string_lossy()).into_iter().collect();
    }
    names.iter().filter_map(|name| find_on_path(name)).collect()
}

/// The Cap'n Proto tool, if installed and `capnp --version` works.
pub fn capnp_tool() -> Option<PathBuf> {
    static TOOL: OnceLock<Option<PathBuf>> = OnceLock::new();
    TOOL.get_or_init(|| {
        locate("CAPNP", &["capnp"]).into_iter().find(|tool| {
            Command::new(tool)
                .arg("--version")
                .stdin(Stdio::null())
                .output()
                .map(|out| {
                    out.status.success()
                        && String::from_utf8_lossy(&out.stdout).contains("Cap'n Proto")
                })
                .unwrap_or(false)
        })
    })
    .clone()
}

/// The output of `capnp --version`, e.g. `Cap'n Proto version 0.9.2`.
pub fn capnp_version() -> Option<String> {
    let tool = capnp_tool()?;
    let out = Command::new(tool).arg("--version").output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A Python interpreter that can `import capnp` (pycapnp).
pub fn python_with_pycapnp() -> Option<PathBuf> {
    static PYTHON: OnceLock<Option<PathBuf>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            locate("PYTHON", &["python3", "python"])
                .into_iter()
                .find(|python| {
                    Command::new(python)
                        .args(["-c", "import capnp"])
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status()
                        .map(|s| s.success())
                        .unwrap_or(false)
                })
        })
        .clone()
}

/// The directory holding pycapnp's own examples (`addressbook.py`,
/// `addressbook.capnp`, `calculator.capnp`, ...) and, under `test/`, its test
/// schemas and golden messages, as extracted by `tests/py/pycapnp_example.sh`.
///
/// Looks at `$SERDE_CAPNP_PYCAPNP_EXAMPLE`, then `target/pycapnp-example`.
pub fn pycapnp_example_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("SERDE_CAPNP_PYCAPNP_EXAMPLE").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => manifest_dir().join("target").join("pycapnp-example"),
    };
    dir.join("addressbook.py").is_file().then_some(dir)
}

/// The reason to give when [`pycapnp_example_dir`] finds nothing.
pub const NO_PYCAPNP_EXAMPLE: &str = "pycapnp's examples are not fetched \
     (run `tests/py/pycapnp_example.sh target/pycapnp-example`)";

/// Runs `program args...`, feeding `stdin`, and returns its stdout.
/// A failure to start, or a non-zero exit, is an error that includes the
/// command line and its stderr.
pub fn run_command<I, S>(program: &Path, args: I, stdin: &[u8]) -> Result<Vec<u8>, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let shown = std::iter::once(program.as_os_str())
        .chain(args.iter().map(|a| a.as_os_str()))
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");

    let mut child = Command::new(program)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `{shown}`: {e}"))?;

    // Feed stdin from another thread so a child that writes a lot before
    // reading everything cannot deadlock against us.
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let input = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        // A child that exits without reading all input closes the pipe;
        // its exit status tells the real story.
        let _ = pipe.write_all(&input);
    });
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waiting for `{shown}`: {e}"))?;
    let _ = feeder.join();

    if out.status.success() {
        Ok(out.stdout)
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(format!(
            "`{shown}` failed ({}):\n{}",
            out.status,
            shorten(stderr.trim_end(), 4000)
        ))
    }
}

/// Keeps the start and the end of a long text (tool output can be huge:
/// `capnp convert` reports every message of a corrupt stream).
fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut head = max / 2;
    while !text.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = text.len() - max / 2;
    while !text.is_char_boundary(tail) {
        tail += 1;
    }
    format!(
        "{}\n[... {} bytes left out ...]\n{}",
        &text[..head],
        tail - head,
        &text[tail..]
    )
}

/// `capnp convert FROM:TO SCHEMA TYPE` with `input` on stdin, e.g.
/// `capnp_convert("text:binary", &schema_path("alltypes"), "AllTypes", b"(int8Field = -1)")`.
///
/// Formats: binary, packed, flat, flat-packed, canonical, text, json. The
/// input is a stream: several messages in, several messages out. `TYPE` may
/// be dotted (`Person.PhoneNumber`).
///
/// Note that `capnp` re-encodes what it reads (it copies the message in
/// field order), so `binary:binary` normalizes the layout of a message
/// without canonicalizing it. On bad input the tool still writes what it
/// could to stdout, but exits with status 1, which this returns as `Err`.
pub fn capnp_convert(
    from_to: &str,
    schema: &Path,
    type_name: &str,
    input: &[u8],
) -> Result<Vec<u8>, String> {
    let tool = capnp_tool().ok_or_else(|| "the `capnp` tool is not installed".to_owned())?;
    let mut args: Vec<OsString> = vec!["convert".into(), from_to.into()];
    args.push(schema.as_os_str().to_owned());
    args.push(type_name.into());
    if let Some(dir) = schema.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut import = OsString::from("--import-path=");
        import.push(dir);
        args.insert(1, import);
    }
    run_command(&tool, args, input)
}

/// Like [`capnp_compile`], but returns the tool's diagnostics on failure
/// (`path:LINE:COL-ENDCOL: error: message` lines on stderr).
pub fn try_capnp_compile(schema: &Path, import_dirs: &[&Path]) -> Result<Vec<u8>, String> {
    let tool = capnp_tool().ok_or_else(|| "the `capnp` tool is not installed".to_owned())?;
    let mut args: Vec<OsString> = vec!["compile".into(), "-o-".into()];
    for dir in import_dirs {
        let mut import = OsString::from("--import-path=");
        import.push(dir);
        args.push(import);
    }
    if let Some(dir) = schema.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut prefix = OsString::from("--src-prefix=");
        prefix.push(dir);
        args.push(prefix);
    }
    args.push(schema.as_os_str().to_owned());
    run_command(&tool, args, &[])
}

/// `capnp compile -o- [-I DIR]... SCHEMA`: the `CodeGeneratorRequest` bytes
/// the reference compiler produces (one unpacked message). The schema's own
/// directory is passed as `--src-prefix`, so the file's display name is
/// its bare file name, as in `schemas/compiled/*.bin`. Panics on failure.
pub fn capnp_compile(schema: &Path, import_dirs: &[&Path]) -> Vec<u8> {
    try_capnp_compile(schema, import_dirs)
        .unwrap_or_else(|e| panic!("compiling {}: {e}", schema.display()))
}

/// Runs a Python script with the pycapnp-enabled interpreter, feeding
/// `stdin`, and returns its stdout.
pub fn run_python<I, S>(script: &Path, args: I, stdin: &[u8]) -> Result<Vec<u8>, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let python = python_with_pycapnp()
        .ok_or_else(|| "no python with pycapnp (`import capnp`) found".to_owned())?;
    let all_args = std::iter::once(script.as_os_str().to_owned())
        .chain(args.into_iter().map(|a| a.as_ref().to_owned()));
    run_command(&python, all_args, stdin)
}

/// Formats bytes as 8-byte words in hex, one word a line with its word
/// offset, for readable assertion messages about Cap'n Proto messages.
pub fn hex_words(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, word) in bytes.chunks(8).enumerate() {
        out.push_str(&format!("{i:4}:"));
        for b in word {
            out.push_str(&format!(" {b:02x}"));
        }
        out.push('\n');
    }
    out
}

/// Asserts two messages are byte for byte equal, showing both as words.
#[track_caller]
pub fn assert_same_bytes(actual: &[u8], expected: &[u8]) {
    if actual != expected {
        let first = actual
            .iter()
            .zip(expected)
            .position(|(a, b)| a != b)
            .unwrap_or(actual.len().min(expected.len()));
        panic!(
            "bytes differ (first at byte {first}, word {}; lengths {} and {})\n\
             actual:\n{}expected:\n{}",
            first / 8,
            actual.len(),
            expected.len(),
            hex_words(actual),
            hex_words(expected)
        );
    }
}
