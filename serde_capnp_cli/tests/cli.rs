//! The `serde-capnp` binary, run as a process the way builds run `capnp`.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::{bin, capnp_or_skip, pipe, repo};

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

/// A message of every type, as text the reference tool encodes for us.
const ALLTYPES_TEXT: &str = r#"(boolField = true, int8Field = -8, int16Field = -1600, int32Field = -320000,
  int64Field = -6400000000, uint8Field = 8, uint16Field = 1600, uint32Field = 3200000000,
  uint64Field = 12345678901234567890, float32Field = 1.5, float64Field = -0.25,
  textField = "café \"quoted\"\n", dataField = 0x"00 01 fe ff", enumField = blue,
  structField = (id = 1, label = "one"),
  voidList = [void, void], boolList = [true, false, true], int8List = [-1, 2],
  int64List = [-9223372036854775808, 9223372036854775807], float32List = [0.1, inf, -inf],
  float64List = [nan, 1e300], textList = ["a", "", "z"], dataList = [0x"aa", ""],
  enumList = [red, green], structList = [(id = 2), (label = "x")],
  int32ListList = [[1, 2], [], [3]], point = (x = 3, y = -4),
  shape = (rect = (width = 2, height = 0.5)), word = "hello",
  textInnerPair = (key = "k", value = (id = 9)))"#;

#[test]
fn convert_matches_capnp_convert_on_every_format_pair() {
    let Some(capnp) = capnp_or_skip() else {
        return;
    };
    let schema = repo().join("schemas/alltypes.capnp");
    let encode = |to: &str, input: &[u8]| {
        let out = pipe(
            Command::new(&capnp)
                .arg("convert")
                .arg(format!("text:{to}"))
                .arg(&schema)
                .arg("AllTypes"),
            input,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    const FORMATS: &[&str] = &[
        "binary",
        "packed",
        "flat",
        "flat-packed",
        "canonical",
        "text",
        "json",
    ];
    let mut differences = Vec::new();
    for short in [false, true] {
        for from in FORMATS {
            // Two messages where the format can carry a stream.
            let one = encode(from, ALLTYPES_TEXT.as_bytes());
            let input = if matches!(*from, "binary" | "packed" | "text" | "json") {
                [one.clone(), one].concat()
            } else {
                one
            };
            for to in FORMATS {
                let args = |cmd: &mut Command| {
                    cmd.arg("convert").arg(format!("{from}:{to}"));
                    if short {
                        cmd.arg("--short");
                    }
                    cmd.arg(&schema).arg("AllTypes");
                };
                let mut theirs = Command::new(&capnp);
                args(&mut theirs);
                let theirs = pipe(&mut theirs, &input);
                let mut ours = bin();
                args(&mut ours);
                let ours = pipe(&mut ours, &input);
                assert!(
                    ours.status.success(),
                    "{from}:{to}: {}",
                    String::from_utf8_lossy(&ours.stderr)
                );
                if ours.stdout != theirs.stdout {
                    differences.push(format!(
                        "{from}:{to}{}: ours {} bytes, capnp {} bytes",
                        if short { " --short" } else { "" },
                        ours.stdout.len(),
                        theirs.stdout.len()
                    ));
                }
            }
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

#[test]
fn convert_reports_bad_input_without_panicking() {
    let schema = repo().join("schemas/alltypes.capnp");
    for (conversion, input) in [
        ("binary:text", &b"\x00\x00\x00\x00\x05\x00\x00\x00"[..]),
        ("text:binary", &b"(int8Field = 300)"[..]),
        ("json:binary", &b"{\"int8Field\": "[..]),
        ("packed:binary", &b"\xff\x01"[..]),
        ("flat:json", &b"\x01\x02\x03\x04\x05\x06\x07\x08"[..]),
        ("bogus:binary", &b""[..]),
    ] {
        let out = pipe(
            bin()
                .arg("convert")
                .arg(conversion)
                .arg(&schema)
                .arg("AllTypes"),
            input,
        );
        assert!(!out.status.success(), "{conversion} accepted bad input");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("serde-capnp convert:"),
            "{conversion}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{conversion}: {stderr}");
    }
    // Text and JSON need a schema.
    let out = pipe(bin().args(["convert", "binary:text"]), b"");
    assert!(String::from_utf8_lossy(&out.stderr).contains("format requires schema: text"));
}

#[test]
fn eval_prints_constants_as_capnp_eval_does() {
    let Some(capnp) = capnp_or_skip() else {
        return;
    };
    let dir = repo().join("tests/compiler/valid");
    let source = std::fs::read_to_string(dir.join("constants.capnp")).unwrap();
    let names: Vec<&str> = source
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("const "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(names.len() > 20, "{names:?}");
    let mut compared = 0;
    let mut differences = Vec::new();
    for name in names {
        for flags in [
            &["-otext"][..],
            &["-otext", "--short"],
            &["-ojson"],
            &["-ojson", "--short"],
            &["-obinary"],
        ] {
            let theirs = Command::new(&capnp)
                .current_dir(&dir)
                .arg("eval")
                .args(flags)
                .args(["-I.", "constants.capnp", name])
                .output()
                .unwrap();
            if !theirs.status.success() {
                // Nested constants need their full path there; struct-only formats refuse others.
                continue;
            }
            let ours = bin()
                .current_dir(&dir)
                .arg("eval")
                .args(flags)
                .args(["-I", ".", "constants.capnp", name])
                .output()
                .unwrap();
            compared += 1;
            if ours.stdout != theirs.stdout {
                differences.push(format!(
                    "{name} {flags:?}:\n  capnp: {}\n  ours:  {}{}",
                    String::from_utf8_lossy(&theirs.stdout),
                    String::from_utf8_lossy(&ours.stdout),
                    String::from_utf8_lossy(&ours.stderr)
                ));
            }
        }
    }
    assert!(compared > 20, "only {compared} evaluations compared");
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

#[test]
fn eval_follows_field_paths_as_capnp_eval_does() {
    let Some(capnp) = capnp_or_skip() else {
        return;
    };
    let schema = repo().join("schemas/alltypes.capnp");
    // Constants followed by fields and list positions, a struct's field defaults, groups and
    // unions, and paths that must fail.
    let names = [
        "defaultInner.label",
        "defaultInner.color",
        "Defaults.structDefault",
        "Defaults.structDefault.label",
        "Defaults.constDefault",
        "Defaults.textListDefault[1]",
        "Defaults.int16ListDefault",
        "Defaults.int32ListListDefault[0]",
        "Defaults.int32ListListDefault[2][0]",
        "Defaults.structListDefault[1]",
        "Defaults.structListDefault[1].color",
        "Defaults.dataDefault",
        "Defaults.float32Default",
        "Defaults.uint64Default",
        "Defaults.settings",
        "Defaults.settings.tag",
        "Defaults.choice",
        "Defaults.choice.count",
        "Defaults.nosuch",
        "defaultInner[1]",
        "Defaults.int16ListDefault[9]",
    ];
    let mut differences = Vec::new();
    for name in names {
        for flags in [
            &["-otext"][..],
            &["-otext", "--short"],
            &["-ojson"],
            &["-obinary"],
        ] {
            let run =
                |cmd: &mut Command| cmd.arg("eval").args(flags).arg(&schema).arg(name).output();
            let theirs = run(&mut Command::new(&capnp)).unwrap();
            let ours = run(&mut bin()).unwrap();
            if theirs.status.success() != ours.status.success() || ours.stdout != theirs.stdout {
                differences.push(format!(
                    "{name} {flags:?}:\n  capnp: {}{}\n  ours:  {}{}",
                    String::from_utf8_lossy(&theirs.stdout),
                    String::from_utf8_lossy(&theirs.stderr),
                    String::from_utf8_lossy(&ours.stdout),
                    String::from_utf8_lossy(&ours.stderr)
                ));
            }
            assert!(!String::from_utf8_lossy(&ours.stderr).contains("panicked"));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

#[test]
fn convert_lays_out_segments_as_capnp_does() {
    // A null root is written as an empty struct: the reference reads its root as a struct.
    let null_root = [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let empty_struct = [0xfc, 0xff, 0xff, 0xff, 0, 0, 0, 0];
    for (to, expected) in [
        (
            "binary",
            [&[0, 0, 0, 0, 1, 0, 0, 0][..], &empty_struct].concat(),
        ),
        ("flat", empty_struct.to_vec()),
        ("canonical", empty_struct.to_vec()),
        ("flat-packed", vec![0x0f, 0xfc, 0xff, 0xff, 0xff]),
    ] {
        let out = pipe(bin().args(["convert", &format!("binary:{to}")]), &null_root);
        assert!(out.status.success());
        assert_eq!(out.stdout, expected, "{to}");
    }

    // More than the first segment's 1024 words: the text nearly fills it, the list goes into a
    // second segment that it fills, and the labels of its elements go into a third one (the
    // reference never returns to the room left in the first).
    let items: Vec<String> = (0..1000)
        .map(|i| format!("(id = {i}, label = \"l\")"))
        .collect();
    let text = format!(
        "(textField = \"{}\", structList = [{}])",
        "x".repeat(7770),
        items.join(", ")
    );
    let schema = repo().join("schemas/alltypes.capnp");
    let convert = |args: &[&str], input: &[u8]| {
        let out = pipe(
            bin().arg("convert").args(args).arg(&schema).arg("AllTypes"),
            input,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let binary = convert(&["text:binary"], text.as_bytes());
    let table: Vec<u32> = binary[..16]
        .chunks(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(table, [2, 1013, 2002, 2000]);
    assert_eq!(convert(&["binary:binary"], &binary), binary);

    // Fixed segments of `--segment-size` words, each object behind a landing pad when it does
    // not fit where its pointer is.
    let Some(capnp) = capnp_or_skip() else {
        return;
    };
    for args in [
        &["binary:binary", "--segment-size=4"][..],
        &["binary:packed", "--segment-size=4"],
        &["binary:binary", "--segment-size=1"],
        &["binary:packed"],
    ] {
        let theirs = pipe(
            Command::new(&capnp)
                .arg("convert")
                .args(args)
                .arg(&schema)
                .arg("AllTypes"),
            &binary,
        );
        assert!(theirs.status.success());
        assert!(convert(args, &binary) == theirs.stdout, "{args:?}");
    }
}

// -------------------------------------------------------------------------------------------
// Hostile and mistaken input
// -------------------------------------------------------------------------------------------

/// A segment table claiming one segment of 0xf600001d words (33 GB), and nothing else.
const HOSTILE: [u8; 8] = [0, 0, 0, 0, 0x1d, 0, 0, 0xf6];

/// `serde-capnp`, with its address space limited to `mib` MiB where the platform allows, so that
/// an allocation of what the input claims fails the test instead of paging the machine.
fn limited(mib: u64) -> Command {
    if cfg!(target_os = "linux") {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("ulimit -v {}; exec \"$0\" \"$@\"", mib * 1024))
            .arg(env!("CARGO_BIN_EXE_serde-capnp"));
        cmd
    } else {
        bin()
    }
}

/// What a failed conversion printed: one line, ours, with nothing of the `capnp` crate's.
fn one_clean_line(out: &Output, what: &str) -> String {
    assert!(!out.status.success(), "{what}: accepted");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    for bad in [
        "panicked",
        "memory allocation",
        "capnp crate",
        "unaligned",
        "ReaderOptions",
        "Failed:",
    ] {
        assert!(!stderr.contains(bad), "{what}: {stderr}");
    }
    assert!(
        stderr.starts_with("serde-capnp convert: ") && stderr.lines().count() == 1,
        "{what}: {stderr}"
    );
    stderr.trim_end().to_string()
}

fn convert_limited(conversion: &str, schema: &str, root: &str, input: &[u8]) -> Output {
    pipe(
        limited(256)
            .arg("convert")
            .arg(conversion)
            .arg(repo().join("schemas").join(schema))
            .arg(root),
        input,
    )
}

#[test]
fn convert_refuses_a_header_claiming_33_gb_in_every_format() {
    let expected = [
        ("binary", "reading message 1: message is truncated"),
        ("packed", "message 1: message has no root pointer"),
        ("flat", "the message contains an out-of-bounds pointer"),
        ("flat-packed", "reading the message: message is truncated"),
        ("canonical", "the message contains an out-of-bounds pointer"),
        (
            "text",
            "the input is not UTF-8: byte 7 is not part of a character",
        ),
        (
            "json",
            "the input is not UTF-8: byte 7 is not part of a character",
        ),
    ];
    for (from, message) in expected {
        let out = convert_limited(
            &format!("{from}:binary"),
            "alltypes.capnp",
            "AllTypes",
            &HOSTILE,
        );
        let stderr = one_clean_line(&out, from);
        assert_eq!(stderr, format!("serde-capnp convert: {message}"), "{from}");
    }
    // The reference fails too (by running out of memory for `binary`).
    if let Some(capnp) = capnp_or_skip() {
        for from in ["binary", "packed"] {
            let theirs = pipe(
                Command::new(&capnp)
                    .args(["convert", &format!("{from}:binary")])
                    .arg(repo().join("schemas/alltypes.capnp"))
                    .arg("AllTypes"),
                &HOSTILE,
            );
            assert!(!theirs.status.success(), "{from}");
        }
    }
}

#[test]
fn convert_allocates_for_what_arrives_not_for_what_a_table_claims() {
    // 2^31 words (16 GiB) claimed, within the lifted limit, and 1 MiB sent: binary and packed.
    let mut claim = vec![0, 0, 0, 0, 0, 0, 0, 0x80];
    claim.extend(std::iter::repeat_n(0x11, 1 << 20));
    let packed = serde_capnp::packing::pack(&claim);
    for (from, input) in [("binary", &claim), ("packed", &packed)] {
        let out = convert_limited(
            &format!("{from}:binary"),
            "alltypes.capnp",
            "AllTypes",
            input,
        );
        assert_eq!(
            one_clean_line(&out, from),
            "serde-capnp convert: reading message 1: message is truncated"
        );
    }
    // Packed zero runs: 2 bytes stand for 2 KiB, up to the 64 MiB the table claims.
    let mut zeros = vec![0x80, 0x01];
    zeros.extend([0u8, 255].repeat(32 << 10));
    let out = convert_limited("packed:binary", "alltypes.capnp", "AllTypes", &zeros);
    one_clean_line(&out, "zero runs");
}

/// A message of 1 MiB whose 4096 pointers all point at the same 1 MiB list: copied, it would
/// take 4 GiB.
fn amplifying_message() -> Vec<u8> {
    let struct_ptr = |data: u64, ptrs: u64| data << 32 | ptrs << 48;
    let list_ptr = |offset: u64, size: u64, count: u64| offset << 2 | 1 | size << 32 | count << 35;
    let (pointers, shared) = (4096u64, 1u64 << 17);
    let mut words = vec![struct_ptr(0, 1), list_ptr(0, 6, pointers)];
    words.extend((0..pointers).map(|i| list_ptr(pointers - 1 - i, 5, shared)));
    words.extend(std::iter::repeat_n(0x0101_0101_0101_0101, shared as usize));
    let mut bytes = 0u32.to_le_bytes().to_vec();
    bytes.extend_from_slice(&(words.len() as u32).to_le_bytes());
    bytes.extend(words.iter().flat_map(|w| w.to_le_bytes()));
    bytes
}

#[test]
fn convert_refuses_to_amplify_overlapping_pointers() {
    let message = amplifying_message();
    for to in [
        "binary",
        "packed",
        "flat",
        "flat-packed",
        "canonical",
        "json",
    ] {
        let out = convert_limited(
            &format!("binary:{to}"),
            "alltypes.capnp",
            "AllTypes",
            &message,
        );
        assert_eq!(
            one_clean_line(&out, to),
            "serde-capnp convert: message 1: the message is too large to copy (read limit exceeded)",
            "{to}"
        );
    }
}

#[test]
fn convert_stops_at_a_bad_message_after_converting_the_good_ones() {
    let schema = repo().join("schemas/addressbook.capnp");
    let text = "(id = 1, name = \"a\")\n(id = 2, name = \"b\")\n";
    let encode = |to: &str| {
        pipe(
            bin()
                .args(["convert", &format!("text:{to}")])
                .arg(&schema)
                .arg("Person"),
            text.as_bytes(),
        )
        .stdout
    };
    for (from, bad) in [
        ("binary", HOSTILE.to_vec()),
        (
            "packed",
            serde_capnp::packing::pack(&[0, 0, 0, 0, 0, 0, 0, 0x10]),
        ),
    ] {
        let input = encode(from);
        let out = pipe(
            bin().args(["convert", &format!("{from}:binary")]),
            &[input, bad].concat(),
        );
        assert_eq!(
            one_clean_line(&out, from),
            "serde-capnp convert: reading message 3: message is truncated"
        );
        assert_eq!(out.stdout, encode("binary"), "{from}");
    }
}

#[test]
fn convert_reports_every_truncated_prefix_alike() {
    let schema = repo().join("schemas/addressbook.capnp");
    let encode = |to: &str| {
        pipe(
            bin()
                .args(["convert", &format!("text:{to}")])
                .arg(&schema)
                .arg("Person"),
            b"(id = 7, name = \"Alice\", email = \"a@example.com\")",
        )
        .stdout
    };
    for from in ["binary", "packed"] {
        let message = encode(from);
        assert!(message.len() > 30, "{from}");
        for len in 1..message.len() {
            let out = pipe(
                bin().args(["convert", &format!("{from}:binary")]),
                &message[..len],
            );
            assert_eq!(
                one_clean_line(&out, &format!("{from} prefix of {len}")),
                "serde-capnp convert: reading message 1: message is truncated",
                "{from} prefix of {len}"
            );
        }
    }
}

#[test]
fn convert_says_what_format_the_input_looks_like() {
    let schema = repo().join("schemas/addressbook.capnp");
    let person = "(id = 7, name = \"Alice\", email = \"a@example.com\")";
    let encode = |to: &str| {
        let out = pipe(
            bin()
                .args(["convert", &format!("text:{to}")])
                .arg(&schema)
                .arg("Person"),
            person.as_bytes(),
        );
        assert!(out.status.success());
        out.stdout
    };
    let cases = [
        (
            "binary:text",
            "packed",
            "a packed message, not an unpacked message",
        ),
        (
            "packed:text",
            "binary",
            "an unpacked message, not a packed message",
        ),
        ("text:binary", "json", "JSON, not Cap'n Proto text"),
        ("json:binary", "text", "Cap'n Proto text, not JSON"),
        (
            "binary:json",
            "text",
            "Cap'n Proto text, not an unpacked message",
        ),
        (
            "text:json",
            "binary",
            "an unpacked message, not Cap'n Proto text",
        ),
        (
            "flat:json",
            "packed",
            "a packed message, not a flat message",
        ),
    ];
    let capnp = capnp_or_skip();
    for (conversion, actual, looks) in cases {
        let input = encode(actual);
        let out = pipe(
            bin()
                .args(["convert", conversion])
                .arg(&schema)
                .arg("Person"),
            &input,
        );
        let stderr = one_clean_line(&out, conversion);
        let to = conversion.split(':').nth(1).unwrap();
        let hint = format!("; the input looks like {looks} (try `{actual}:{to}`)");
        assert!(stderr.ends_with(&hint), "{conversion}: {stderr}");
        // The reference makes the same guess.
        if let Some(capnp) = &capnp {
            let theirs = pipe(
                Command::new(capnp)
                    .args(["convert", conversion])
                    .arg(&schema)
                    .arg("Person"),
                &input,
            );
            // Refusing the input, or warning about it.
            let said = String::from_utf8_lossy(&theirs.stderr).replace('\n', " ");
            assert!(
                said.contains(&format!("looks like it is in \"{actual}\" format"))
                    || said.contains(&format!("looks like it may be in \"{actual}\" format")),
                "{conversion}: capnp said {said}"
            );
        }
    }
}

#[test]
fn convert_never_prints_the_capnp_crates_internals() {
    let schema = repo().join("schemas/alltypes.capnp");
    let mut failures = 0;
    for from in ["binary", "packed", "flat", "flat-packed", "canonical"] {
        let original = pipe(
            bin()
                .args(["convert", &format!("text:{from}")])
                .arg(&schema)
                .arg("AllTypes"),
            ALLTYPES_TEXT.as_bytes(),
        )
        .stdout;
        assert!(!original.is_empty(), "{from}");
        // Deterministic damage: a byte set high, a byte cleared, a word of ones, cuts.
        let mut inputs = Vec::new();
        for k in 0..6 {
            let at = (original.len() * (2 * k + 1) / 13).max(1);
            let mut high = original.clone();
            high[at] = 0xff;
            let mut cleared = original.clone();
            cleared[at / 2] = 0;
            let mut ones = original.clone();
            let w = at / 8 * 8;
            ones[w..(w + 8).min(original.len())].fill(0xff);
            inputs.extend([high, cleared, ones, original[..at].to_vec()]);
        }
        for input in &inputs {
            for to in ["binary", "flat", "canonical", "json"] {
                let out = pipe(
                    bin()
                        .args(["convert", &format!("{from}:{to}")])
                        .arg(&schema)
                        .arg("AllTypes"),
                    input,
                );
                if !out.status.success() {
                    failures += 1;
                    one_clean_line(&out, &format!("{from}:{to}"));
                }
            }
        }
    }
    assert!(
        failures > 50,
        "only {failures} of the damaged inputs failed"
    );
}
