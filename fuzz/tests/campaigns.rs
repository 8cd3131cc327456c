//! Every target for a fixed number of cases with a fixed seed, through the supervisor exactly as
//! the command line runs it: any finding fails the test and is described in its output (the
//! inputs are left in a folder under the system's temporary directory, named in the output).
//! Also checks that the supervisor records each way a case can fail, with the `selftest` target.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Cases per target: a few hundred mutants past the seeds, so that the whole file stays well
/// under a minute in the debug profile on two cores.
const CASES: &str = "700";
const SEED: &str = "0x5eed";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("serde_capnp_fuzz-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn fuzz(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_serde_capnp_fuzz"))
        .args(args)
        .output()
        .expect("the fuzzer runs")
}

fn campaign(target: &str) {
    let artifacts = scratch(target);
    let out = fuzz(&[
        target,
        "--cases",
        CASES,
        "--seed",
        SEED,
        "--quiet",
        "--artifacts",
        artifacts.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "`{target}` found something (inputs in {}):\n{stdout}\n{}",
        artifacts.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&artifacts);
}

macro_rules! campaigns {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                campaign(stringify!($name));
            }
        )*

        #[test]
        fn every_target_has_a_campaign() {
            let out = fuzz(&["list"]);
            let listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.split_whitespace().next().map(str::to_string))
                .collect();
            assert_eq!(listed, [$(stringify!($name)),*]);
        }
    };
}

campaigns!(
    typed,
    value,
    any,
    dynamic,
    packed,
    stream,
    stream_packed,
    to_json,
    to_text,
    from_json,
    from_text,
    compiler,
    cgr,
    serializer,
);

#[test]
fn the_supervisor_records_each_kind_of_failure() {
    let dir = scratch("selftest");
    std::fs::create_dir_all(dir.join("selftest")).unwrap();
    let cases = [
        (0u8, None),
        (1, Some("panic")),
        (2, Some("stack-overflow")),
        (3, Some("memory")),
        (4, Some("timeout")),
        (5, Some("crash")),
    ];
    for (byte, kind) in cases {
        let file = dir.join("selftest").join(format!("case-{byte}.bin"));
        std::fs::write(&file, [byte]).unwrap();
        // The target is named by the folder, as for an artifact.
        let out = fuzz(&[
            "--replay",
            file.to_str().unwrap(),
            "--timeout",
            "2",
            "--memory-mb",
            "256",
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        match kind {
            None => assert!(out.status.success(), "{stdout}"),
            Some(kind) => {
                assert_eq!(out.status.code(), Some(1), "case {byte}: {stdout}");
                assert!(
                    stdout.starts_with(&format!("selftest: {kind}\n")),
                    "case {byte}: expected {kind}, got {stdout}"
                );
            }
        }
    }
    // A campaign over failing cases records them and goes on to the end.
    let out = fuzz(&[
        "selftest",
        "--cases",
        "100",
        "--seed",
        "1",
        "--timeout",
        "1",
        "--quiet",
        "--artifacts",
        dir.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("selftest panic"), "{stdout}");
    let recorded = std::fs::read_dir(dir.join("selftest")).unwrap().count();
    assert!(recorded > cases.len(), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}
