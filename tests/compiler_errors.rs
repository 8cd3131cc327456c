//! The schema compiler rejects what the reference compiler rejects, with its messages.
//!
//! `tests/compiler/invalid/` holds one small schema per error condition and `EXPECTED.txt` the
//! lines `capnp compile` 0.9.2 printed for each. Errors the translator finds must match those
//! lines exactly (as a set: the order can differ). Syntax errors are worded by our own parser, so
//! for them the file must be rejected with an error on the same line as the reference's first.

use serde_capnp_schema::compiler::Compiler;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn invalid_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/compiler/invalid")
}

/// `(file, expected lines)` from `EXPECTED.txt`.
fn expected() -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(invalid_dir().join("EXPECTED.txt")).unwrap();
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("== ") {
            out.push((name.trim().to_string(), Vec::new()));
        } else if !line.trim().is_empty() {
            if let Some(last) = out.last_mut() {
                last.1.push(line.to_string());
            }
        }
    }
    out
}

/// Messages our parser words differently from the reference's "Parse error."-style ones.
fn is_syntax_error(line: &str) -> bool {
    const PARSER_MESSAGES: &[&str] = &[
        "Parse error",
        "Expected ",
        "expected ",
        "Unterminated",
        "Unparsed",
        "is not a valid",
        "can only have one ID",
        "Invalid ID",
        "ordinal",
        "Ordinal",
        "Unions cannot",
        "'using' declaration",
        "Statement",
        "should end with",
        "Empty list item",
        "Duplicate target",
        "is not a valid annotation target",
    ];
    PARSER_MESSAGES.iter().any(|m| line.contains(m))
}

fn location(line: &str) -> Option<(String, u32)> {
    let mut parts = line.splitn(3, ':');
    let file = parts.next()?.to_string();
    let line_no = parts.next()?.trim().parse().ok()?;
    Some((file, line_no))
}

/// Files where we deliberately say something else than the reference, and why.
const DIFFERENT_ON_PURPOSE: &[(&str, &str)] = &[
    (
        "annotation_empty_parens.capnp",
        "the reference reports `$flag()` at 1:1, with no location; we point at the `()`",
    ),
    (
        "unqualified_nested_const.capnp",
        "the reference says the struct 'recursively depends on itself'; we ask for the qualified \
         constant name, which is the actual problem",
    ),
    (
        "syntax_unbalanced_brace.capnp",
        "the reference reports the end of the file; we point at the `{` that is never closed",
    ),
];

#[test]
fn invalid_schemas_fail_like_the_reference() {
    let dir = invalid_dir();
    let cases = expected();
    assert!(
        cases.len() >= 30,
        "EXPECTED.txt lists {} files",
        cases.len()
    );
    let mut failures = Vec::new();
    for (file, lines) in &cases {
        let on_purpose = DIFFERENT_ON_PURPOSE.iter().any(|(f, _)| f == file);
        let compiler = Compiler::new().src_prefix(&dir).import_path(&dir);
        let path = dir.join(file).to_string_lossy().into_owned();
        let result = std::panic::catch_unwind(|| compiler.compile(std::slice::from_ref(&path)));
        let ours: Vec<String> = match result {
            Err(_) => {
                failures.push(format!("{file}: the compiler panicked"));
                continue;
            }
            Ok(Ok(_)) => {
                failures.push(format!(
                    "{file}: accepted, but the reference says:\n  {}",
                    lines.join("\n  ")
                ));
                continue;
            }
            Ok(Err(e)) => e.diagnostics().iter().map(|d| d.to_string()).collect(),
        };
        if on_purpose {
            continue;
        }
        let random_id = |l: &str| l.contains("@0x<random>");
        if lines.iter().any(|l| is_syntax_error(l)) {
            let want = lines.first().and_then(|l| location(l));
            let got: BTreeSet<(String, u32)> = ours.iter().filter_map(|l| location(l)).collect();
            if let Some(want) = want {
                if !got.contains(&want) {
                    failures.push(format!(
                        "{file}: the reference's first syntax error is at line {}, ours:\n  {}",
                        want.1,
                        ours.join("\n  ")
                    ));
                }
            }
            continue;
        }
        let want: BTreeSet<&str> = lines
            .iter()
            .filter(|l| !random_id(l))
            .map(String::as_str)
            .collect();
        let got: BTreeSet<&str> = ours
            .iter()
            .filter(|l| !l.contains("File does not declare an ID"))
            .map(String::as_str)
            .collect();
        if lines.iter().any(|l| random_id(l))
            && !ours
                .iter()
                .any(|l| l.contains("File does not declare an ID"))
        {
            failures.push(format!(
                "{file}: no missing-ID error; ours:\n  {}",
                ours.join("\n  ")
            ));
        }
        if want != got {
            failures.push(format!(
                "{file}:\n  reference:\n    {}\n  ours:\n    {}",
                want.iter().copied().collect::<Vec<_>>().join("\n    "),
                got.iter().copied().collect::<Vec<_>>().join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} invalid schemas differ from the reference:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn errors_render_with_a_labelled_excerpt() {
    let err = Compiler::new()
        .add_source(
            "bad.capnp",
            "@0xe0b8d7e8c3a2f1d4;\nstruct S {\n  a @0 :Int32 = \"text\";\n  b @2 :Int32;\n}\n",
        )
        .compile(&["bad.capnp"])
        .unwrap_err();
    let lines: Vec<String> = err.diagnostics().iter().map(|d| d.to_string()).collect();
    assert_eq!(
        lines,
        [
            "bad.capnp:4:6-7: error: Skipped ordinal @1.  Ordinals must be sequential with no holes.",
            "bad.capnp:3:17-23: error: Type mismatch; expected Int32.",
        ]
    );
    let rendered = err.render();
    assert!(
        rendered.contains("3 │   a @0 :Int32 = \"text\";"),
        "{rendered}"
    );
    assert!(rendered.contains("^^^^^^"), "{rendered}");
}

#[test]
fn missing_file_id_suggests_one() {
    let err = Compiler::new()
        .add_source("noid.capnp", "struct S {}\n")
        .compile(&["noid.capnp"])
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("noid.capnp:1:1: error: File does not declare an ID.  I've generated one for you.  Add this line to your file: @0x"),
        "{message}"
    );
}
