//! Which files the schema compiler reads for `import` and `embed`, and how much of them.
//!
//! Names resolve only inside their trees (absolute names under the import directories, relative
//! names under the tree the importing file was found in), `..` never climbs above a tree's root,
//! symbolic links may not lead out of it, only regular files are read and every read stops at a
//! size limit. One file reached by several names is one file. Where the reference compiler
//! (`capnp compile` 0.9.2) is installed, its behaviour is checked alongside.

mod common;

use common::compare::{diff_requests, CompareOptions};
use serde_capnp_schema::compiler::Compiler;
use std::path::{Path, PathBuf};

/// Writes `files` (`(relative path, contents)`) under `dir`, creating directories.
fn write_tree(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The errors of a compile that must fail, one line each.
fn errors(compiler: &Compiler, file: &str) -> Vec<String> {
    match compiler.compile(&[file]) {
        Ok(_) => panic!("{file} compiled, but should not have"),
        Err(e) => e.diagnostics().iter().map(|d| d.to_string()).collect(),
    }
}

/// Runs `capnp compile -o-` with `--src-prefix=root` and the import directories; `None` (after
/// saying so, or failing under CI) when the tool is not installed.
fn reference(root: &Path, imports: &[&Path], files: &[&Path]) -> Option<Result<Vec<u8>, String>> {
    let Some(tool) = common::capnp_tool() else {
        common::skip("the `capnp` tool is not installed: only our side is checked");
        return None;
    };
    let mut args: Vec<String> = vec!["compile".into(), "-o-".into()];
    args.extend(
        imports
            .iter()
            .map(|d| format!("--import-path={}", d.display())),
    );
    args.push(format!("--src-prefix={}", root.display()));
    args.extend(files.iter().map(|f| path_str(f)));
    Some(common::run_command(&tool, args, &[]))
}

const SECRET: &str = "not for schemas\n";

/// A tree `root/` with a schema directory and a file beside it, outside it.
fn escape_tree(tag: &str) -> (PathBuf, PathBuf) {
    let dir = common::scratch_dir(tag);
    write_tree(
        &dir,
        &[
            ("outside/secret.txt", SECRET),
            ("root/sub/data.txt", "inside\n"),
            ("root/inc/capx/t.txt", "from the import directory\n"),
        ],
    );
    let root = dir.join("root");
    (dir, root)
}

#[test]
fn relative_names_may_not_climb_above_the_source_tree() {
    let (_, root) = escape_tree("climb-relative");
    write_tree(
        &root,
        &[
            (
                "sub/a.capnp",
                "@0xe0b8d7e8c3a2f1d4;\nconst a :Text = embed \"../../outside/secret.txt\";\n",
            ),
            (
                "sub/b.capnp",
                "@0xe0b8d7e8c3a2f1d5;\nusing import \"../../outside/x.capnp\".X;\n",
            ),
        ],
    );
    let compiler = Compiler::new().src_prefix(&root);
    let root_shown = std::fs::canonicalize(&root).unwrap();
    assert_eq!(
        errors(&compiler, &path_str(&root.join("sub/a.capnp"))),
        [format!(
            "sub/a.capnp:2:23-49: error: cannot embed `../../outside/secret.txt`: its `..` climbs \
             above `{}`, the root of the source tree this file was found in",
            root_shown.display()
        )]
    );
    assert_eq!(
        errors(&compiler, &path_str(&root.join("sub/b.capnp"))),
        [format!(
            "sub/b.capnp:2:14-37: error: cannot import `../../outside/x.capnp`: its `..` climbs \
             above `{}`, the root of the source tree this file was found in",
            root_shown.display()
        )]
    );
    // The reference refuses the same `..` (with an uncaught exception).
    if let Some(result) = reference(&root, &[], &[&root.join("sub/a.capnp")]) {
        let err = result.expect_err("the reference compiler read above its source tree");
        assert!(err.contains("break out of starting directory"), "{err}");
    }
}

#[test]
fn relative_names_may_climb_inside_the_source_tree() {
    let (_, root) = escape_tree("climb-inside");
    write_tree(
        &root,
        &[
            (
                "sub/deeper/c.capnp",
                "@0xe0b8d7e8c3a2f1d6;\nconst a :Text = embed \"../data.txt\";\n\
                 const b :Text = embed \"./../../sub/./data.txt\";\n\
                 const c :Text = embed \"/capx/../capx/t.txt\";\n",
            ),
            (
                "sub/deeper/d.capnp",
                "@0xe0b8d7e8c3a2f1d7;\nusing import \"../e.capnp\".E;\n",
            ),
            ("sub/e.capnp", "@0xe0b8d7e8c3a2f1d8;\nstruct E {}\n"),
        ],
    );
    let inc = root.join("inc");
    let compiler = Compiler::new().src_prefix(&root).import_path(&inc);
    for file in ["sub/deeper/c.capnp", "sub/deeper/d.capnp"] {
        let path = root.join(file);
        let ours = compiler
            .compile(&[path_str(&path)])
            .unwrap_or_else(|e| panic!("{file}:\n{}", e.render()));
        if let Some(result) = reference(&root, &[&inc], &[&path]) {
            let theirs = result.unwrap();
            let diffs = diff_requests(&theirs, ours.request_bytes(), &CompareOptions::default());
            assert!(diffs.is_empty(), "{file}:\n{}", diffs.join("\n"));
        }
    }
}

#[test]
fn absolute_names_may_not_climb_above_the_import_directories() {
    let (_, root) = escape_tree("climb-absolute");
    let inc = root.join("inc");
    let text = "@0xe0b8d7e8c3a2f1d9;\nconst a :Text = embed \"/../../outside/secret.txt\";\n\
                using import \"/capx/../../x.capnp\".X;\n";
    write_tree(&root, &[("a.capnp", text)]);
    let expected = [
        "a.capnp:2:23-50: error: cannot embed `/../../outside/secret.txt`: its `..` climbs above \
         the import directories",
        "a.capnp:3:14-35: error: cannot import `/capx/../../x.capnp`: its `..` climbs above the \
         import directories",
    ];
    let on_disk = Compiler::new().src_prefix(&root).import_path(&inc);
    let mut got = errors(&on_disk, &path_str(&root.join("a.capnp")));
    got.sort();
    assert_eq!(got, expected);
    // Text held in memory (`Schema::parse`) is held to the same rule.
    let in_memory = Compiler::new()
        .import_path(&inc)
        .add_source("a.capnp", text);
    let mut got = errors(&in_memory, "a.capnp");
    got.sort();
    assert_eq!(got, expected);
    if let Some(result) = reference(&root, &[&inc], &[&root.join("a.capnp")]) {
        let err = result.expect_err("the reference compiler read above its import directory");
        assert!(err.contains("break out of starting directory"), "{err}");
    }
}

#[test]
fn an_in_memory_tree_has_a_root_too() {
    let compiler = Compiler::new()
        .add_source(
            "dir/a.capnp",
            "@0xe0b8d7e8c3a2f1da;\nusing import \"../b.capnp\".B;\nusing import \"../../c.capnp\".C;\n",
        )
        .add_source("b.capnp", "@0xe0b8d7e8c3a2f1db;\nstruct B {}\n")
        .add_source(
            "nul.capnp",
            "@0xe0b8d7e8c3a2f1df;\nconst a :Text = embed \"b.capnp\\x00.txt\";\n",
        );
    assert_eq!(
        errors(&compiler, "dir/a.capnp"),
        [
            "dir/a.capnp:3:14-29: error: cannot import `../../c.capnp`: its `..` climbs above the \
          root of the in-memory sources"
        ]
    );
    let got = errors(&compiler, "nul.capnp");
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].ends_with(".txt`: it holds a NUL byte"), "{got:?}");
}

#[cfg(unix)]
#[test]
fn symbolic_links_may_not_lead_out_of_the_tree() {
    let (dir, root) = escape_tree("symlinks");
    std::os::unix::fs::symlink(dir.join("outside"), root.join("out")).unwrap();
    std::os::unix::fs::symlink(root.join("sub"), root.join("in")).unwrap();
    write_tree(
        &root,
        &[(
            "a.capnp",
            "@0xe0b8d7e8c3a2f1dc;\nconst a :Text = embed \"out/secret.txt\";\n\
             const b :Text = embed \"in/data.txt\";\n",
        )],
    );
    let compiler = Compiler::new().src_prefix(&root);
    let outside = std::fs::canonicalize(dir.join("outside/secret.txt")).unwrap();
    let root_shown = std::fs::canonicalize(&root).unwrap();
    assert_eq!(
        errors(&compiler, &path_str(&root.join("a.capnp"))),
        [format!(
            "a.capnp:2:23-39: error: cannot embed `out/secret.txt`: it leads through a symbolic \
             link to `{}`, outside `{}`",
            outside.display(),
            root_shown.display()
        )]
    );
    // The reference compiler follows the link; we do not, and say so above. A link that stays
    // inside the tree is followed.
    write_tree(
        &root,
        &[(
            "a.capnp",
            "@0xe0b8d7e8c3a2f1dc;\nconst b :Text = embed \"in/data.txt\";\n",
        )],
    );
    compiler
        .compile(&[path_str(&root.join("a.capnp"))])
        .unwrap_or_else(|e| panic!("{}", e.render()));
}

#[cfg(unix)]
#[test]
fn only_regular_files_are_read() {
    let (_, root) = escape_tree("regular");
    write_tree(
        &root,
        &[(
            "a.capnp",
            "@0xe0b8d7e8c3a2f1dd;\nconst a :Text = embed \"sub\";\nconst b :Data = embed \"/zero\";\n",
        )],
    );
    // `capnp compile` crashes on both (a failed `mmap` and a segmentation fault).
    let compiler = Compiler::new().src_prefix(&root).import_path("/dev");
    let sub = std::fs::canonicalize(root.join("sub")).unwrap();
    assert_eq!(
        errors(&compiler, &path_str(&root.join("a.capnp"))),
        [
            format!(
                "a.capnp:2:23-28: error: cannot embed `sub`: `{}` is not a regular file",
                sub.display()
            ),
            "a.capnp:3:23-30: error: cannot embed `/zero`: `/dev/zero` is not a regular file"
                .to_string(),
        ]
    );
}

#[test]
fn embedded_files_are_held_to_a_size_limit() {
    let dir = common::scratch_dir("embed-limit");
    let exact = "x".repeat(1000);
    let over = "x".repeat(1001);
    write_tree(
        &dir,
        &[
            ("exact.txt", &exact),
            ("over.txt", &over),
            (
                "ok.capnp",
                "@0xe0b8d7e8c3a2f1de;\nconst a :Text = embed \"exact.txt\";\n",
            ),
            (
                "big.capnp",
                "@0xe0b8d7e8c3a2f1df;\nconst a :Text = embed \"over.txt\";\n",
            ),
        ],
    );
    let compiler = Compiler::new().src_prefix(&dir).max_embed_size(1000);
    compiler
        .compile(&[path_str(&dir.join("ok.capnp"))])
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let over_path = std::fs::canonicalize(dir.join("over.txt")).unwrap();
    assert_eq!(
        errors(&compiler, &path_str(&dir.join("big.capnp"))),
        [format!(
            "big.capnp:2:23-33: error: cannot embed `over.txt`: `{}` is 1001 bytes, over the \
             limit of 1000 bytes (`max_embed_size`)",
            over_path.display()
        )]
    );
    // The default admits this and much more.
    Compiler::new()
        .src_prefix(&dir)
        .compile(&[path_str(&dir.join("big.capnp"))])
        .unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(Compiler::DEFAULT_MAX_EMBED_SIZE, 16 << 20);
}

/// A file that says it is empty but reads without end (8 bytes for every page of the address
/// space) is read only up to the limit. (`pagemap` reads whole entries only, so the limit plus
/// the one byte read to detect an excess is a multiple of 8.)
#[cfg(target_os = "linux")]
#[test]
fn reading_stops_at_the_limit_whatever_the_file_says_its_size_is() {
    let compiler = Compiler::new()
        .import_path("/proc/self")
        .max_embed_size(4095)
        .add_source(
            "a.capnp",
            "@0xe0b8d7e8c3a2f1e0;\nconst a :Data = embed \"/pagemap\";\n",
        );
    let started = std::time::Instant::now();
    let got = errors(&compiler, "a.capnp");
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].starts_with("a.capnp:2:23-33: error: cannot embed `/pagemap`: `/proc/")
            && got[0]
                .ends_with("/pagemap` holds more than the limit of 4095 bytes (`max_embed_size`)"),
        "{}",
        got[0]
    );
    eprintln!("refused in {:?}", started.elapsed());
}

#[test]
fn source_files_are_held_to_a_size_limit() {
    let dir = common::scratch_dir("source-limit");
    let big = format!(
        "@0xe0b8d7e8c3a2f1e1;\n{}struct Big {{}}\n",
        "# padding\n".repeat(100)
    );
    write_tree(
        &dir,
        &[
            ("big.capnp", &big),
            (
                "main.capnp",
                "@0xe0b8d7e8c3a2f1e2;\nusing import \"big.capnp\".Big;\n",
            ),
        ],
    );
    let limit = big.len() as u64 - 1;
    let compiler = Compiler::new().src_prefix(&dir).max_source_size(limit);
    let big_path = std::fs::canonicalize(dir.join("big.capnp")).unwrap();
    assert_eq!(
        errors(&compiler, &path_str(&dir.join("main.capnp"))),
        [format!(
            "main.capnp:2:14-25: error: cannot import `big.capnp`: `{}` is {} bytes, over the \
             limit of {limit} bytes (`max_source_size`)",
            big_path.display(),
            big.len()
        )]
    );
    // A file named to the compiler, or held in memory, is held to the same limit.
    assert_eq!(
        errors(&compiler, &path_str(&dir.join("big.capnp"))),
        [format!(
            "{}: error: `{}` is {} bytes, over the limit of {limit} bytes (`max_source_size`)",
            path_str(&dir.join("big.capnp")),
            big_path.display(),
            big.len()
        )]
    );
    let in_memory = Compiler::new()
        .max_source_size(limit)
        .add_source("big.capnp", big.as_str());
    assert_eq!(
        errors(&in_memory, "big.capnp"),
        [format!(
            "big.capnp: error: `big.capnp` is {} bytes, over the limit of {limit} bytes \
             (`max_source_size`)",
            big.len()
        )]
    );
    Compiler::new()
        .src_prefix(&dir)
        .max_source_size(limit + 1)
        .compile(&[path_str(&dir.join("main.capnp"))])
        .unwrap_or_else(|e| panic!("{}", e.render()));
}

#[test]
fn all_the_files_of_a_compile_share_a_total_limit() {
    // One file embedded under many spellings is read for each: the total bounds what a short
    // schema can make the compiler hold.
    let blob = "y".repeat(600);
    let mut schema = String::from("@0xe0b8d7e8c3a2f1e3;\n");
    for i in 0..4 {
        schema.push_str(&format!(
            "const c{i} :Text = embed \"{}blob.txt\";\n",
            "./".repeat(i)
        ));
    }
    // The schema and two copies fit; the third and the fourth do not.
    let total = schema.len() as u64 + 2 * 600 + 300;
    let compiler = Compiler::new()
        .max_total_size(total)
        .add_source("blob.txt", blob.as_str())
        .add_source("a.capnp", schema.as_str());
    let got = errors(&compiler, "a.capnp");
    assert_eq!(
        got,
        [
            "a.capnp:4:24-38: error: cannot embed `././blob.txt`: `blob.txt` is 600 bytes, over \
             the limit of 300 bytes (`max_total_size`, for all the files of this compile)",
            "a.capnp:5:24-40: error: cannot embed `./././blob.txt`: `blob.txt` is 600 bytes, over \
             the limit of 300 bytes (`max_total_size`, for all the files of this compile)",
        ]
    );
    assert_eq!(Compiler::DEFAULT_MAX_TOTAL_SIZE, 64 << 20);
    assert_eq!(Compiler::DEFAULT_MAX_SOURCE_SIZE, 8 << 20);
}

#[test]
fn no_file_system_reads_only_memory_and_the_bundled_schemas() {
    let (_, root) = escape_tree("no-fs");
    let inc = root.join("inc");
    let on_disk = root.join("disk.capnp");
    write_tree(&root, &[("disk.capnp", "@0xe0b8d7e8c3a2f1e4;\n")]);
    let text = "@0xe0b8d7e8c3a2f1e5;\n\
                using Cxx = import \"/capnp/c++.capnp\";\n\
                $Cxx.namespace(\"x\");\n\
                const a :Text = embed \"/capx/t.txt\";\n\
                const b :Text = embed \"/etc/hostname\";\n";
    let compiler = Compiler::new()
        .no_file_system()
        .import_path(&inc)
        .src_prefix(&root)
        .add_source("a.capnp", text);
    assert_eq!(
        errors(&compiler, "a.capnp"),
        [
            "a.capnp:4:23-36: error: Couldn't read file for embed: /capx/t.txt",
            "a.capnp:5:23-38: error: Couldn't read file for embed: /etc/hostname",
        ]
    );
    // The same schema on a compiler that reads files finds the import directory's file.
    let with_files = Compiler::new()
        .import_path(&inc)
        .add_source("a.capnp", text);
    let got = errors(&with_files, "a.capnp");
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].contains("/etc/hostname"), "{got:?}");
    // Files on disk cannot even be named.
    let disk = path_str(&on_disk);
    assert_eq!(
        errors(&Compiler::new().no_file_system(), &disk),
        [format!(
            "{disk}: error: no such in-memory source, and this compiler reads no files \
             (`no_file_system`)"
        )]
    );
}

/// `lib/common.capnp` reached by a relative name, through an import directory, through `./`
/// and through a symbolic link is one file; the reference compiler warns "Found exactly the same
/// source file mapped at two different paths" and compiles it once, and so do we.
#[test]
fn one_file_reached_by_several_names_is_one_file() {
    let dir = common::scratch_dir("same-file");
    let common_text = "@0xd1e8c2a3b4f5a6b7;\nstruct Common { x @0 :Int32; }\n";
    write_tree(
        &dir,
        &[
            ("lib/common.capnp", common_text),
            (
                "relative_first.capnp",
                "@0xd1e8c2a3b4f5a6b9;\nusing A = import \"lib/common.capnp\";\n\
                 using B = import \"/common.capnp\";\n\
                 struct M { a @0 :A.Common; b @1 :B.Common; }\n",
            ),
            (
                "absolute_first.capnp",
                "@0xd1e8c2a3b4f5a6ba;\nusing B = import \"/common.capnp\";\n\
                 using A = import \"lib/common.capnp\";\n\
                 struct M { b @0 :B.Common; a @1 :A.Common; }\n",
            ),
            (
                "dot.capnp",
                "@0xd1e8c2a3b4f5a6bb;\nusing A = import \"lib/common.capnp\";\n\
                 using C = import \"./lib/./common.capnp\";\n\
                 using D = import \"/lib/common.capnp\";\n\
                 struct M { a @0 :A.Common; c @1 :C.Common; d @2 :D.Common; }\n",
            ),
        ],
    );
    let mut cases: Vec<(&str, Vec<PathBuf>)> = vec![
        ("relative_first.capnp", vec![dir.join("lib")]),
        ("absolute_first.capnp", vec![dir.join("lib")]),
        // Overlapping import directories, one inside the other.
        ("dot.capnp", vec![dir.clone(), dir.join("lib")]),
    ];
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("lib", dir.join("lnk")).unwrap();
        write_tree(
            &dir,
            &[(
                "link.capnp",
                "@0xd1e8c2a3b4f5a6bc;\nusing A = import \"lib/common.capnp\";\n\
                 using B = import \"lnk/common.capnp\";\n\
                 struct M { a @0 :A.Common; b @1 :B.Common; }\n",
            )],
        );
        cases.push(("link.capnp", vec![]));
    }
    for (file, imports) in &cases {
        let mut compiler = Compiler::new().src_prefix(&dir);
        for d in imports {
            compiler = compiler.import_path(d);
        }
        let path = dir.join(file);
        let ours = compiler
            .compile(&[path_str(&path)])
            .unwrap_or_else(|e| panic!("{file}:\n{}", e.render()));
        let pool = ours.schema_pool().unwrap();
        assert!(pool.find("Common").is_ok(), "{file}");
        let imports: Vec<&Path> = imports.iter().map(PathBuf::as_path).collect();
        if let Some(result) = reference(&dir, &imports, &[&path]) {
            let theirs = result.unwrap_or_else(|e| panic!("{file}: {e}"));
            let diffs = diff_requests(&theirs, ours.request_bytes(), &CompareOptions::default());
            assert!(diffs.is_empty(), "{file}:\n{}", diffs.join("\n"));
        }
    }
    // A file both requested and imported under another name.
    let compiler = Compiler::new()
        .src_prefix(&dir)
        .import_path(dir.join("lib"));
    let files = [
        dir.join("lib/common.capnp"),
        dir.join("relative_first.capnp"),
    ];
    let ours = compiler
        .compile(&files.iter().map(|p| path_str(p)).collect::<Vec<_>>())
        .unwrap_or_else(|e| panic!("{}", e.render()));
    if let Some(result) = reference(&dir, &[&dir.join("lib")], &[&files[0], &files[1]]) {
        let theirs = result.unwrap();
        let diffs = diff_requests(&theirs, ours.request_bytes(), &CompareOptions::default());
        assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    }
}

/// A file outside the current directory, named with no source prefix: its tree is its own
/// directory (the reference compiler's would be `/`, the whole file system).
#[test]
fn a_file_outside_the_current_directory_is_its_own_tree() {
    let base = std::env::temp_dir().join(format!("serde_capnp-own-tree-{}", std::process::id()));
    let cwd = std::env::current_dir().unwrap();
    if base.starts_with(&cwd) || cwd.parent().is_none() {
        eprintln!("skipped: the temporary directory is under the current directory");
        return;
    }
    let _ = std::fs::remove_dir_all(&base);
    write_tree(
        &base,
        &[
            ("proj/b.capnp", "@0xe0b8d7e8c3a2f1e6;\nstruct B {}\n"),
            (
                "proj/sub/ok.capnp",
                "@0xe0b8d7e8c3a2f1e7;\nusing import \"c.capnp\".C;\n",
            ),
            ("proj/sub/c.capnp", "@0xe0b8d7e8c3a2f1e8;\nstruct C {}\n"),
            (
                "proj/sub/up.capnp",
                "@0xe0b8d7e8c3a2f1e9;\nusing import \"../b.capnp\".B;\n",
            ),
        ],
    );
    let sub = base.join("proj/sub");
    Compiler::new()
        .compile(&[path_str(&sub.join("ok.capnp"))])
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let got = errors(&Compiler::new(), &path_str(&sub.join("up.capnp")));
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].ends_with(&format!(
            "up.capnp:2:14-26: error: cannot import `../b.capnp`: its `..` climbs above `{}`, the \
             root of the source tree this file was found in",
            std::fs::canonicalize(&sub).unwrap().display()
        )),
        "{}",
        got[0]
    );
    // A source prefix widens the tree.
    Compiler::new()
        .src_prefix(base.join("proj"))
        .compile(&[path_str(&sub.join("up.capnp"))])
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let _ = std::fs::remove_dir_all(&base);
}
