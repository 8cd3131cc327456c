//! Interop with pycapnp: messages written by pycapnp (including pycapnp's own addressbook
//! example, unchanged) read with serde_capnp, and messages we write read by pycapnp.

mod common;

use serde_capnp::Schema;
use serde_capnp_suite::fixtures::addressbook::{scripted, AddressBook, Employment, PhoneType};

fn address_book() -> serde_capnp::StructSchema {
    Schema::from_code_generator_request(&common::compiled_schema("addressbook"))
        .unwrap()
        .struct_type("AddressBook")
        .unwrap()
}

#[test]
fn pycapnp_writes_we_read() {
    let python = common::require_tool!(common::python_with_pycapnp(), "pycapnp is not installed");
    let schema = common::schema_path("addressbook.capnp");
    let bytes = common::run_command(
        &python,
        [
            common::py_script("addressbook_write.py").as_os_str(),
            schema.as_os_str(),
        ],
        &[],
    )
    .unwrap();
    let book: AddressBook = address_book().from_slice(&bytes).unwrap();
    assert_eq!(book, scripted());
}

#[test]
fn we_write_pycapnp_reads() {
    let python = common::require_tool!(common::python_with_pycapnp(), "pycapnp is not installed");
    let schema = common::schema_path("addressbook.capnp");
    let bytes = address_book().to_vec(&scripted()).unwrap();
    let out = common::run_command(
        &python,
        [
            common::py_script("addressbook_read.py").as_os_str(),
            schema.as_os_str(),
        ],
        &bytes,
    )
    .unwrap();
    let dict: serde_json::Value = serde_json::from_slice(&out).unwrap();
    // pycapnp's to_dict, compared with our own reading of the same bytes as a dynamic value.
    let ours: serde_json::Value = address_book().from_slice(&bytes).unwrap();
    assert_eq!(dict["people"][0]["employment"]["employer"], "MIT");
    assert_eq!(dict["people"][1]["phones"][1]["type"], "work");
    assert_eq!(dict["people"][1]["name"], ours["people"][1]["name"]);
    assert_eq!(dict["people"][0]["id"], ours["people"][0]["id"]);
    assert_eq!(
        dict["people"][0]["phones"][0],
        ours["people"][0]["phones"][0]
    );
}

/// pycapnp's own `examples/addressbook.py`, unchanged, writes the message.
#[test]
fn pycapnp_own_example_writes_we_read() {
    let python = common::require_tool!(common::python_with_pycapnp(), "pycapnp is not installed");
    let dir = common::require_tool!(common::pycapnp_example_dir(), common::NO_PYCAPNP_EXAMPLE);
    let bytes = common::run_command(
        &python,
        [
            common::py_script("run_pycapnp_example.py").as_os_str(),
            dir.as_os_str(),
            "write".as_ref(),
        ],
        &[],
    )
    .unwrap();
    // The example's schema has fields ours lacks; reading skips them.
    let book: AddressBook = address_book().from_slice(&bytes).unwrap();
    assert_eq!(book.people.len(), 2);
    assert_eq!(book.people[0].name, "Alice");
    assert_eq!(book.people[0].id, 123);
    assert_eq!(book.people[0].phones[0].kind, PhoneType::Mobile);
    assert_eq!(book.people[0].employment, Employment::School("MIT".into()));
    assert_eq!(book.people[1].name, "Bob");
    assert_eq!(book.people[1].phones.len(), 2);
    assert_eq!(book.people[1].employment, Employment::Unemployed);
}

/// We write; pycapnp's own example reads and prints the book.
#[test]
fn we_write_pycapnp_own_example_reads() {
    let python = common::require_tool!(common::python_with_pycapnp(), "pycapnp is not installed");
    let dir = common::require_tool!(common::pycapnp_example_dir(), common::NO_PYCAPNP_EXAMPLE);
    let bytes = address_book().to_vec(&scripted()).unwrap();
    let out = common::run_command(
        &python,
        [
            common::py_script("run_pycapnp_example.py").as_os_str(),
            dir.as_os_str(),
            "read".as_ref(),
        ],
        &bytes,
    )
    .unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("Alice"), "{out}");
    assert!(out.contains("555-7654"), "{out}");
    assert!(out.contains("Stanford"), "{out}");
}

/// Packed messages we write are read by pycapnp.
#[test]
fn packed_messages_cross_over() {
    let python = common::require_tool!(common::python_with_pycapnp(), "pycapnp is not installed");
    let schema = common::schema_path("addressbook.capnp");
    let packed = address_book().to_vec_packed(&scripted()).unwrap();
    let out = common::run_command(
        &python,
        [
            common::py_script("dump.py").as_os_str(),
            schema.as_os_str(),
            "AddressBook".as_ref(),
            "--packed".as_ref(),
        ],
        &packed,
    );
    let out = match out {
        Ok(out) => out,
        Err(e) => panic!("dump.py failed: {e}"),
    };
    let dict: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(dict["people"][1]["employment"]["school"], "Stanford");
}
