//! `CompileError::render` stays small whatever the input: it shows a bounded number of errors,
//! each with an excerpt cut to a window of its line.

use serde_capnp_schema::compiler::{CompileError, Compiler};

fn compile_error(source: &str) -> CompileError {
    Compiler::new()
        .no_file_system()
        .add_source("x.capnp", source)
        .compile(&["x.capnp"])
        .unwrap_err()
}

/// One 40 KB line of `} `: twenty thousand errors, each on that line. Rendering every one with the
/// whole line took 45 s and 1.2 GB.
#[test]
fn many_errors_on_one_long_line_render_small() {
    let source = format!("@0xe0b8d7e8c3a2f1d4;\n{}\n", "} ".repeat(20_000));
    let err = compile_error(&source);
    let count = err.diagnostics().len();
    assert_eq!(count, 20_000);
    // Display still lists every error, one line each.
    assert_eq!(err.to_string().lines().count(), count);

    let rendered = err.render();
    let hidden = count - CompileError::RENDER_LIMIT;
    assert!(
        rendered.ends_with(&format!("\nand {hidden} more errors\n")),
        "{}",
        &rendered[rendered.len().saturating_sub(500)..]
    );
    assert_eq!(
        rendered.matches(": error: ").count(),
        CompileError::RENDER_LIMIT
    );
    // Each excerpt line is the window and two ellipses; the whole is a few hundred bytes per
    // error.
    let longest = rendered.lines().map(str::len).max().unwrap();
    assert!(
        longest <= CompileError::EXCERPT_WIDTH + 32,
        "a line of {longest} bytes"
    );
    assert!(
        rendered.len() <= CompileError::RENDER_LIMIT * 1_000,
        "{} bytes",
        rendered.len()
    );
}

#[test]
fn a_long_line_is_cut_around_the_error_with_ellipses() {
    let padding = "a".repeat(300);
    let source =
        format!("@0xe0b8d7e8c3a2f1d4;\nstruct S {{ a @0 :Int32 = \"{padding}\"; }} # {padding}\n");
    let err = compile_error(&source);
    let rendered = err.render();
    let lines: Vec<&str> = rendered.lines().collect();
    assert_eq!(
        lines[0],
        "x.capnp:2:26-328: error: Type mismatch; expected Int32."
    );
    assert_eq!(lines[1], "  ┌─ x.capnp:2:26");
    // The excerpt starts at the line's start (the error is near it) and is cut after the window.
    let excerpt = lines[3];
    let shown = format!("2 │ struct S {{ a @0 :Int32 = \"{}", &padding[..94]);
    assert_eq!(excerpt, format!("{shown}…"));
    // The carets start under the `"` and stop at the window's end.
    let carets = lines[4];
    let start = carets.find('^').unwrap();
    assert_eq!(
        carets[..start].chars().count(),
        excerpt
            .find('"')
            .map(|i| excerpt[..i].chars().count())
            .unwrap()
    );
    assert!(
        carets.ends_with("^ Type mismatch; expected Int32."),
        "{carets}"
    );

    // An error far into a line has a window that starts near it.
    let source = format!(
        "@0xe0b8d7e8c3a2f1d4;\n# {padding}\n{} }}\n",
        " ".repeat(300)
    );
    let err = compile_error(&source);
    let rendered = err.render();
    let excerpt = rendered
        .lines()
        .find(|l| l.starts_with("3 │ "))
        .unwrap_or_else(|| panic!("{rendered}"));
    assert!(excerpt.starts_with("3 │ …   "), "{excerpt}");
    assert!(excerpt.ends_with('}'), "{excerpt}");
    let carets = rendered
        .lines()
        .find(|l| l.contains('^'))
        .unwrap_or_else(|| panic!("{rendered}"));
    assert_eq!(
        carets.find('^').map(|i| carets[..i].chars().count()),
        Some(excerpt.chars().count() - 1),
        "{rendered}"
    );
}

#[test]
fn control_characters_in_an_excerpt_are_not_sent_to_the_terminal() {
    let source = "@0xe0b8d7e8c3a2f1d4;\nstruct S { a @0 :Int32 = \"x\"; } # \u{1b}[2J\u{7}\n";
    let rendered = compile_error(source).render();
    assert!(!rendered.contains('\u{1b}') && !rendered.contains('\u{7}'));
    assert!(rendered.contains("# ?[2J?"), "{rendered}");
}

#[test]
fn a_few_errors_render_in_full_with_no_count() {
    let err = compile_error(
        "@0xe0b8d7e8c3a2f1d4;\nstruct S {\n  a @0 :Int32 = \"text\";\n  b @2 :Int32;\n}\n",
    );
    let rendered = err.render();
    assert!(!rendered.contains("more error"), "{rendered}");
    assert!(!rendered.contains('…'), "{rendered}");
    assert!(
        rendered
            .contains("3 │   a @0 :Int32 = \"text\";\n  │                 ^^^^^^ Type mismatch"),
        "{rendered}"
    );
}
