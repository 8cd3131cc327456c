//! Schema text from an untrusted source: `Schema::parse` reads no file, whatever the text
//! names, and errors say where and why.

use serde_capnp::{Category, Schema};

const ID: &str = "@0xd1b5a1c3e0f2a4b8;\n";

fn refused(text: &str) -> String {
    let err = Schema::parse("upload.capnp", &format!("{ID}{text}")).unwrap_err();
    assert_eq!(err.category(), Category::Schema, "{err:?}");
    err.to_string()
}

#[test]
fn embeds_and_imports_reach_no_file() {
    for path in [
        "/../../etc/passwd",
        "/etc/passwd",
        "../../../../etc/passwd",
        "/proc/self/pagemap",
        "/usr/include/capnp/c++.capnp",
    ] {
        let err = refused(&format!("const c :Data = embed \"{path}\";\n"));
        assert!(err.contains("upload.capnp:2:"), "{path}: {err}");
        assert!(!err.contains("root:"), "{path} leaked the file: {err}");
        let err = refused(&format!("using import \"{path}\";\n"));
        assert!(err.contains("upload.capnp:2:"), "{path}: {err}");
    }
}

#[test]
fn the_standard_schemas_still_import() {
    let schema = Schema::parse(
        "upload.capnp",
        &format!(
            "{ID}using Cxx = import \"/capnp/c++.capnp\";\n$Cxx.namespace(\"x\");\n\
             struct S {{ a @0 :UInt8; }}\n"
        ),
    )
    .unwrap();
    assert_eq!(schema.struct_type("S").unwrap().name(), "S");
}
