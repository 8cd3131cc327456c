//! The standard schemas bundled with serde_capnp_schema
//! (`serde_capnp_schema/std/capnp/`), and the request comparison of
//! `tests/common/compare.rs` that checks them.
//!
//! The bundled files are our own rewrite of the schemas that ship with
//! Cap'n Proto, so that `import "/capnp/c++.capnp"` and friends resolve
//! without Cap'n Proto installed. Their nodes must be exactly those of the
//! originals (same IDs, layouts, nested node order...): compiling each one
//! with `capnp` and comparing it with the installed original proves that.
//! The bundled files mirror Cap'n Proto 0.9.2; with another version
//! installed, those comparisons are skipped (an error in CI).

mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use common::compare::{diff_requests, line_diff, CompareOptions};

/// The bundled schemas, as paths under the import root.
const BUNDLED: &[&str] = &[
    "capnp/c++.capnp",
    "capnp/stream.capnp",
    "capnp/persistent.capnp",
    "capnp/compat/json.capnp",
    "capnp/schema.capnp",
    "capnp/rpc.capnp",
    "capnp/rpc-twoparty.capnp",
];

/// The Cap'n Proto release the bundled schemas mirror.
const MIRRORED_VERSION: &str = "0.9.";

macro_rules! same_as_installed {
    ($($test:ident => $file:literal,)*) => {$(
        #[test]
        fn $test() {
            assert_bundled_matches_installed($file);
        }
    )*};
}

same_as_installed! {
    cxx_matches_installed => "capnp/c++.capnp",
    stream_matches_installed => "capnp/stream.capnp",
    persistent_matches_installed => "capnp/persistent.capnp",
    json_matches_installed => "capnp/compat/json.capnp",
    schema_matches_installed => "capnp/schema.capnp",
    rpc_matches_installed => "capnp/rpc.capnp",
    rpc_twoparty_matches_installed => "capnp/rpc-twoparty.capnp",
}

#[test]
fn bundled_files_are_present_and_ours() {
    for file in BUNDLED {
        let path = bundled_root().join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let first = text.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("# Mirrors the declarations of the standard Cap'n Proto schema"),
            "{file}: should start with our header, starts with {first:?}"
        );
        assert!(
            !text.contains("Copyright") && !text.contains("Permission is hereby granted"),
            "{file}: contains a copied license header"
        );
    }
}

#[test]
fn identical_requests_have_no_differences() {
    common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let dir = common::scratch_dir("compare-same");
    let request = common::capnp_compile(&write(&dir, "self.capnp", SELF_TEST), &[]);
    let diffs = diff_requests(&request, &request, &CompareOptions::default());
    assert!(diffs.is_empty(), "{diffs:#?}");

    // The node list order is not significant.
    let reversed = reverse_nodes(&request);
    assert_ne!(reversed, request, "reversing should change the bytes");
    let diffs = diff_requests(&request, &reversed, &CompareOptions::default());
    assert!(diffs.is_empty(), "{diffs:#?}");
}

#[test]
fn changed_schema_differences_are_reported() {
    common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let dir = common::scratch_dir("compare-changed");
    let original = common::capnp_compile(&write(&dir, "self.capnp", SELF_TEST), &[]);
    let changed_text = SELF_TEST
        .replace("x @0 :UInt32;", "x @0 :Int32;")
        .replace("y @1 :Int16 = 5;", "y @1 :Int16 = 6;")
        .replace("[1, 2]", "[1, 3]")
        .replace("struct Extra {\n  flag @0 :Bool;\n}\n", "");
    assert_ne!(changed_text, SELF_TEST);
    let changed_dir = common::scratch_dir("compare-changed2");
    let changed = common::capnp_compile(&write(&changed_dir, "self.capnp", &changed_text), &[]);

    let diffs = diff_requests(&original, &changed, &CompareOptions::nodes_only());
    let report = diffs.join("\n\n");
    println!("{report}");

    // The removed struct.
    assert!(
        diffs
            .iter()
            .any(|d| d.starts_with("missing node") && d.contains("self.capnp:Extra")),
        "no missing node reported:\n{report}"
    );
    // The file node lost a nested node.
    assert!(
        diffs
            .iter()
            .any(|d| d.contains("(self.capnp) differs") && d.contains("- ") && d.contains("Extra")),
        "no file node difference reported:\n{report}"
    );
    let point = diffs
        .iter()
        .find(|d| d.contains("(self.capnp:Point) differs"))
        .unwrap_or_else(|| panic!("no difference reported for Point:\n{report}"));
    // The type of x, the default of y, and the list default of tags.
    for (what, needle) in [
        ("old type of x", " - "),
        ("old type of x", "uint32"),
        ("new type of x", "+ "),
        ("new type of x", "int32 = ()"),
        ("old default of y", "int16 = 5"),
        ("new default of y", "int16 = 6"),
        ("list default of tags", "pointer value field tags default"),
    ] {
        assert!(
            point.contains(needle),
            "{what} ({needle:?}) not shown:\n{point}"
        );
    }
    // Nothing else changed.
    assert_eq!(diffs.len(), 3, "{report}");
    assert!(
        !report.contains("self.capnp:limit"),
        "unexpected difference:\n{report}"
    );
}

#[test]
fn doc_comment_differences_depend_on_the_option() {
    common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let dir = common::scratch_dir("compare-docs");
    let original = common::capnp_compile(&write(&dir, "self.capnp", SELF_TEST), &[]);
    let changed_text = SELF_TEST
        .replace("# A point.", "# A point in the plane.")
        .replace("# Vertical.", "# Up.");
    let changed_dir = common::scratch_dir("compare-docs2");
    let changed = common::capnp_compile(&write(&changed_dir, "self.capnp", &changed_text), &[]);

    let nodes_only = diff_requests(&original, &changed, &CompareOptions::nodes_only());
    assert!(nodes_only.is_empty(), "{nodes_only:#?}");

    let diffs = diff_requests(&original, &changed, &CompareOptions::default());
    let report = diffs.join("\n\n");
    assert_eq!(diffs.len(), 1, "{report}");
    for needle in [
        "sourceInfo",
        "self.capnp:Point",
        "A point in the plane.",
        "member 1 docComment",
        "Up.",
    ] {
        assert!(report.contains(needle), "{needle:?} not in:\n{report}");
    }
}

#[test]
fn requested_file_differences_are_reported() {
    common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let dir = common::scratch_dir("compare-files");
    write(
        &dir,
        "other.capnp",
        "@0xe1f2a3b4c5d6e7f8;\nstruct Other {}\n",
    );
    let plain = common::capnp_compile(&write(&dir, "self.capnp", SELF_TEST), &[]);
    // Only the imported nodes that are used come along, hence the const.
    let importing_text =
        format!("{SELF_TEST}using O = import \"other.capnp\";\nconst other :O.Other = ();\n");
    let dir2 = common::scratch_dir("compare-files2");
    write(
        &dir2,
        "other.capnp",
        "@0xe1f2a3b4c5d6e7f8;\nstruct Other {}\n",
    );
    let importing = common::capnp_compile(&write(&dir2, "self.capnp", &importing_text), &[]);

    let diffs = diff_requests(&plain, &importing, &CompareOptions::nodes_only());
    let report = diffs.join("\n");
    assert!(
        report.contains("import @0xe1f2a3b4c5d6e7f8 \"other.capnp\" in actual only"),
        "{report}"
    );
    // The imported file's node comes along, with the const using it.
    assert!(
        report.contains("extra node @0xe1f2a3b4c5d6e7f8 (other.capnp)"),
        "{report}"
    );

    // Without requestedFiles, only the node differences remain.
    let opts = CompareOptions {
        requested_files: false,
        ..CompareOptions::nodes_only()
    };
    let without = diff_requests(&plain, &importing, &opts);
    assert!(!without.is_empty());
    assert!(
        without.iter().all(|d| !d.contains("requestedFiles")),
        "{without:#?}"
    );
    assert_eq!(without.len() + 1, diffs.len(), "{diffs:#?}");
}

#[test]
fn unreadable_requests_are_differences() {
    let diffs = diff_requests(b"not a message", b"", &CompareOptions::default());
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    assert!(
        diffs[0].starts_with("cannot read the expected request"),
        "{diffs:?}"
    );
}

#[test]
fn line_diff_shows_changes_with_context() {
    assert_eq!(line_diff("a\nb\nc\n", "a\nb\nc\n", 10), "");
    let diff = line_diff("1\n2\n3\n4\n5\n6\n7\n", "1\n2\n3\nfour\n5\n6\n7\n8\n", 100);
    let expected = [
        "@@ expected line 2, actual line 2 @@",
        "   2",
        "   3",
        " - 4",
        " + four",
        "   5",
        "   6",
        "   7",
        " + 8",
    ];
    assert_eq!(diff.lines().collect::<Vec<_>>(), expected, "{diff}");
    // Distant changes make separate hunks.
    let a = "x\n".repeat(10);
    let b = format!("y\n{}z\n", "x\n".repeat(8));
    let diff = line_diff(&a, &b, 100);
    assert_eq!(diff.matches("@@ expected").count(), 2, "{diff}");
    let long = line_diff("a\n", &"b\n".repeat(50), 5);
    assert_eq!(long.lines().count(), 6, "{long}");
    assert!(long.ends_with("[... 47 more diff lines]\n"), "{long}");
}

// ---------------------------------------------------------------------------

/// The schema the comparison self-tests change.
const SELF_TEST: &str = "\
@0xd5f1b2a3c4e5f607;

struct Point {
  # A point.
  x @0 :UInt32;
  y @1 :Int16 = 5;
  # Vertical.
  tags @2 :List(Int32) = [1, 2];
}

struct Extra {
  flag @0 :Bool;
}

const limit :UInt32 = 7;
";

/// `serde_capnp_schema/std`, the import root of the bundled schemas.
fn bundled_root() -> PathBuf {
    common::manifest_dir()
        .join("serde_capnp_schema")
        .join("std")
}

/// The include directory holding the installed standard schemas: next to
/// the `capnp` tool's prefix, or one of the directories it searches.
fn installed_root(tool: &Path) -> Option<PathBuf> {
    let beside_tool = tool
        .canonicalize()
        .ok()
        .and_then(|t| Some(t.parent()?.parent()?.join("include")));
    beside_tool
        .into_iter()
        .chain([
            PathBuf::from("/usr/local/include"),
            PathBuf::from("/usr/include"),
        ])
        .find(|dir| dir.join("capnp").join("c++.capnp").is_file())
}

/// `capnp compile -o-` of `root/file`, with `root` as the only import path
/// and as the source prefix, so that the file is named `file` (e.g.
/// `capnp/c++.capnp`), just as its importers name it.
fn compile_under(tool: &Path, root: &Path, file: &str) -> Vec<u8> {
    let mut import = OsString::from("--import-path=");
    import.push(root);
    let mut prefix = OsString::from("--src-prefix=");
    prefix.push(root);
    let args: Vec<OsString> = vec![
        "compile".into(),
        "-o-".into(),
        "--no-standard-import".into(),
        import,
        prefix,
        root.join(file).into_os_string(),
    ];
    common::run_command(tool, args, &[]).unwrap_or_else(|e| panic!("{e}"))
}

fn assert_bundled_matches_installed(file: &str) {
    let tool = common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let installed = common::require_tool!(
        installed_root(&tool).filter(|root| root.join(file).is_file()),
        format!("the standard schema {file} is not installed")
    );
    let version = common::capnp_version().unwrap_or_default();
    if !version.contains(MIRRORED_VERSION) {
        common::skip(&format!(
            "the bundled schemas mirror Cap'n Proto {MIRRORED_VERSION}x, \
             the installed one is {version:?}"
        ));
        return;
    }

    let expected = compile_under(&tool, &installed, file);
    let actual = compile_under(&tool, &bundled_root(), file);
    let diffs = diff_requests(&expected, &actual, &CompareOptions::nodes_only());
    assert!(
        diffs.is_empty(),
        "bundled {file} differs from {}:\n\n{}",
        installed.join(file).display(),
        diffs.join("\n\n")
    );
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

/// The same request with its node list reversed.
fn reverse_nodes(request: &[u8]) -> Vec<u8> {
    use capnp::schema_capnp::code_generator_request;
    let mut options = capnp::message::ReaderOptions::new();
    options.traversal_limit_in_words(None);
    let message = capnp::serialize::read_message(&mut &request[..], options).unwrap();
    let root = message
        .get_root::<code_generator_request::Reader>()
        .unwrap();

    let mut builder = capnp::message::Builder::new_default();
    builder.set_root(root).unwrap();
    let mut copy = builder
        .get_root::<code_generator_request::Builder>()
        .unwrap();
    let nodes = root.get_nodes().unwrap();
    let mut list = copy.reborrow().init_nodes(nodes.len());
    for (i, node) in nodes.iter().rev().enumerate() {
        list.set_with_caveats(i as u32, node).unwrap();
    }
    capnp::serialize::write_message_to_words(&builder)
}
