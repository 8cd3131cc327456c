//! Errors: their category, the path of the field where they happened, their message, and
//! their size and style.

#[allow(unused_macros, unused_imports)]
mod common;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_capnp::{Category, Error, Schema, StructSchema};
use serde_capnp_suite::fixtures::addressbook::{Employment, PhoneType};
use serde_capnp_suite::fixtures::alltypes::{Color, Inner};

fn schema(name: &str) -> Schema {
    Schema::from_code_generator_request(&common::compiled_schema(name)).unwrap()
}

fn all_types() -> StructSchema {
    schema("alltypes").struct_type("AllTypes").unwrap()
}

fn address_book() -> StructSchema {
    schema("addressbook").struct_type("AddressBook").unwrap()
}

/// Checks an error's category, path and the pieces its message must contain.
#[track_caller]
fn check(err: &Error, category: Category, path: &str, pieces: &[&str]) {
    assert_eq!(err.category(), category, "category of {err:?}");
    assert_eq!(err.path(), path, "path of {err:?}");
    for piece in pieces {
        assert!(
            err.message().contains(piece),
            "message of {err:?} lacks `{piece}`"
        );
    }
    check_style(err);
}

/// Messages are lower-case first, have no trailing period, and Display adds the path.
#[track_caller]
fn check_style(err: &Error) {
    if let Some(problem) = style_problem(err) {
        panic!("{problem}");
    }
}

fn style_problem(err: &Error) -> Option<String> {
    let shown = err.to_string();
    let first = shown.chars().next()?;
    if err.message().is_empty() {
        return Some(format!("empty message: {err:?}"));
    }
    if first.is_uppercase() {
        return Some(format!(
            "message starts with an upper-case letter: {shown:?}"
        ));
    }
    if shown.ends_with('.') || err.message().ends_with('.') {
        return Some(format!("message ends with a period: {shown:?}"));
    }
    if shown.ends_with(char::is_whitespace) {
        return Some(format!("trailing space: {shown:?}"));
    }
    let expected = if err.path().is_empty() {
        err.message().to_string()
    } else {
        format!("{} at `{}`", err.message(), err.path())
    };
    (shown != expected).then(|| format!("Display is {shown:?}, expected {expected:?}"))
}

// -------------------------------------------------------------------------------------------
// The address book, for paths through lists
// -------------------------------------------------------------------------------------------

// Generic over the people and the phone numbers' type, and without `email`, so that tests can
// write and read numbers of the wrong type; the enums are the shared ones.

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct AddressBook<P> {
    people: Vec<P>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Person<N> {
    id: u32,
    name: String,
    phones: Vec<Phone<N>>,
    employment: Employment,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Phone<N> {
    number: N,
    #[serde(rename = "type")]
    kind: PhoneType,
}

fn phone<N>(number: N, kind: PhoneType) -> Phone<N> {
    Phone { number, kind }
}

fn book<N: Clone>(numbers: [N; 3]) -> AddressBook<Person<N>> {
    let [a, b, c] = numbers;
    AddressBook {
        people: vec![
            Person {
                id: 1,
                name: "Alice".into(),
                phones: vec![phone(a, PhoneType::Mobile)],
                employment: Employment::School("MIT".into()),
            },
            Person {
                id: 2,
                name: "Bob".into(),
                phones: vec![phone(b, PhoneType::Home), phone(c, PhoneType::Work)],
                employment: Employment::SelfEmployed,
            },
        ],
    }
}

#[test]
fn a_deep_write_error_names_the_whole_path() {
    // `number` is Text; the second person's first phone holds an integer.
    #[derive(Serialize, Clone)]
    #[serde(untagged)]
    enum Number {
        Text(&'static str),
        Int(i64),
    }
    let err = address_book()
        .to_vec(&book([
            Number::Text("555-1212"),
            Number::Int(5554567),
            Number::Text("555-7654"),
        ]))
        .unwrap_err();
    check(
        &err,
        Category::Data,
        "people[1].phones[0].number",
        &["Text", "integer"],
    );
    assert_eq!(
        err.to_string(),
        format!("{} at `people[1].phones[0].number`", err.message())
    );
}

#[test]
fn a_deep_read_error_names_the_whole_path() {
    let bytes = address_book()
        .to_vec(&book(["555-1212", "555-4567", "555-7654"]))
        .unwrap();
    // Reading Text into an integer.
    let err = address_book()
        .from_slice::<AddressBook<Person<u32>>>(&bytes)
        .unwrap_err();
    check(&err, Category::Data, "people[0].phones[0].number", &["u32"]);

    // Invalid UTF-8 deep inside the message.
    let mut bad = bytes.clone();
    let at = bad
        .windows(8)
        .position(|w| w == b"555-4567")
        .expect("the number is in the message");
    bad[at + 3] = 0xff;
    let err = address_book()
        .from_slice::<AddressBook<Person<String>>>(&bad)
        .unwrap_err();
    check(
        &err,
        Category::Data,
        "people[1].phones[0].number",
        &["UTF-8"],
    );
    // Unless the field is not read at all.
    #[derive(Deserialize)]
    struct Names {
        people: Vec<Name>,
    }
    #[derive(Deserialize)]
    struct Name {
        name: String,
    }
    let names: Names = address_book().from_slice(&bad).unwrap();
    assert_eq!(names.people[1].name, "Bob");
}

// -------------------------------------------------------------------------------------------
// Schema mismatches
// -------------------------------------------------------------------------------------------

#[test]
fn a_rust_field_missing_from_the_schema() {
    #[derive(Serialize)]
    struct Extra {
        id: u32,
        label: String,
        nickname: String,
    }
    let st = schema("alltypes").struct_type("Inner").unwrap();
    let err = st
        .to_vec(&Extra {
            id: 1,
            label: "x".into(),
            nickname: "nick".into(),
        })
        .unwrap_err();
    check(&err, Category::Schema, "", &["`nickname`", "`Inner`"]);

    // Deeper down, the path leads to the struct that lacks the field.
    #[derive(Serialize)]
    struct Outer {
        struct_list: Vec<Extra>,
    }
    let err = all_types()
        .to_vec(&Outer {
            struct_list: vec![Extra {
                id: 1,
                label: "x".into(),
                nickname: "nick".into(),
            }],
        })
        .unwrap_err();
    check(
        &err,
        Category::Schema,
        "struct_list[0]",
        &["`nickname`", "`Inner`"],
    );
}

#[test]
fn reading_a_rust_field_the_schema_lacks() {
    #[derive(Deserialize, Debug)]
    struct Extra {
        #[allow(dead_code)]
        id: u32,
        #[allow(dead_code)]
        nickname: String,
    }
    #[derive(Deserialize, Debug)]
    struct WithDefault {
        id: u32,
        #[serde(default)]
        nickname: String,
    }
    let st = schema("alltypes").struct_type("Inner").unwrap();
    #[derive(Serialize)]
    struct Id {
        id: u32,
    }
    let bytes = st.to_vec(&Id { id: 4 }).unwrap();
    let err = st.from_slice::<Extra>(&bytes).unwrap_err();
    // Not serde's "missing field": the schema lacks it, and says what it has instead.
    check(
        &err,
        Category::Schema,
        "",
        &["`nickname` is not a field of `Inner`; its fields are `id`, `label`, `color`"],
    );
    let v: WithDefault = st.from_slice(&bytes).unwrap();
    assert_eq!((v.id, v.nickname.as_str()), (4, ""));

    // Nested, and in a list: the error names the struct at its path.
    #[derive(Deserialize, Debug)]
    struct Outer {
        #[allow(dead_code)]
        struct_field: Extra,
        #[allow(dead_code)]
        struct_list: Vec<Extra>,
    }
    #[derive(Serialize)]
    struct WithList {
        struct_list: Vec<Id>,
    }
    let st = all_types();
    let bytes = st
        .to_vec(&WithList {
            struct_list: vec![Id { id: 1 }],
        })
        .unwrap();
    let err = st.from_slice::<Outer>(&bytes).unwrap_err();
    check(
        &err,
        Category::Schema,
        "struct_field",
        &["`nickname` is not a field of `Inner`"],
    );
}

#[test]
fn a_string_into_an_int32() {
    #[derive(Serialize)]
    struct Wrong {
        int32_field: String,
    }
    let err = all_types()
        .to_vec(&Wrong {
            int32_field: "12".into(),
        })
        .unwrap_err();
    check(&err, Category::Data, "int32_field", &["`Int32`", "string"]);

    // And reading an Int32 into a String.
    #[derive(Serialize)]
    struct Right {
        int32_field: i32,
    }
    #[derive(Deserialize, Debug)]
    struct WrongRead {
        #[allow(dead_code)]
        int32_field: String,
    }
    let st = all_types();
    let bytes = st.to_vec(&Right { int32_field: 12 }).unwrap();
    let err = st.from_slice::<WrongRead>(&bytes).unwrap_err();
    check(&err, Category::Data, "int32_field", &["string"]);
}

#[test]
fn other_type_mismatches() {
    #[derive(Serialize)]
    struct ListIntoText {
        text_field: Vec<i32>,
    }
    let err = all_types()
        .to_vec(&ListIntoText {
            text_field: vec![1],
        })
        .unwrap_err();
    check(&err, Category::Data, "text_field", &["`Text`"]);

    #[derive(Serialize)]
    struct StructIntoInt {
        int8_field: BTreeMap<String, i32>,
    }
    let err = all_types()
        .to_vec(&StructIntoInt {
            int8_field: BTreeMap::new(),
        })
        .unwrap_err();
    assert_eq!(err.path(), "int8_field", "{err:?}");
    check_style(&err);

    #[derive(Serialize)]
    struct BoolIntoFloat {
        float64_field: bool,
    }
    let err = all_types()
        .to_vec(&BoolIntoFloat {
            float64_field: true,
        })
        .unwrap_err();
    check(
        &err,
        Category::Data,
        "float64_field",
        &["`Float64`", "bool"],
    );

    #[derive(Serialize)]
    struct FloatIntoInt {
        int64_field: f64,
    }
    let err = all_types()
        .to_vec(&FloatIntoInt { int64_field: 1.5 })
        .unwrap_err();
    check(&err, Category::Data, "int64_field", &["`Int64`", "float"]);
}

// -------------------------------------------------------------------------------------------
// Out-of-range values
// -------------------------------------------------------------------------------------------

#[test]
fn an_out_of_range_integer() {
    #[derive(Serialize)]
    struct Big {
        int32_field: i64,
    }
    let err = all_types()
        .to_vec(&Big {
            int32_field: 3_000_000_000,
        })
        .unwrap_err();
    check(
        &err,
        Category::Data,
        "int32_field",
        &["3000000000", "out of range", "Int32"],
    );
}

#[test]
fn every_integer_width_checks_its_range() {
    fn one<T: Serialize>(field: &'static str, value: T) -> Error {
        let mut map = BTreeMap::new();
        map.insert(field, value);
        all_types().to_vec(&map).unwrap_err()
    }
    for (field, err) in [
        ("int8Field", one("int8Field", 128i64)),
        ("int8Field", one("int8Field", -129i64)),
        ("int16Field", one("int16Field", 32_768i64)),
        ("int32Field", one("int32Field", -2_147_483_649i64)),
        ("int64Field", one("int64Field", u64::MAX)),
        ("uint8Field", one("uint8Field", -1i64)),
        ("uint8Field", one("uint8Field", 256u64)),
        ("uint16Field", one("uint16Field", 65_536u64)),
        ("uint32Field", one("uint32Field", 4_294_967_296u64)),
        ("uint64Field", one("uint64Field", -1i64)),
        ("uint64Field", one("uint64Field", i128::MIN)),
    ] {
        check(&err, Category::Data, field, &["out of range"]);
    }
    // The edges themselves are fine.
    let mut map = BTreeMap::new();
    map.insert("int8Field", -128i64);
    map.insert("uint32Field", 4_294_967_295);
    map.insert("int64Field", i64::MIN);
    all_types().to_vec(&map).unwrap();
}

#[test]
fn an_out_of_range_list_element() {
    #[derive(Serialize)]
    struct Wide {
        uint8_list: Vec<u16>,
    }
    let err = all_types()
        .to_vec(&Wide {
            uint8_list: vec![0, 255, 256],
        })
        .unwrap_err();
    check(
        &err,
        Category::Data,
        "uint8_list[2]",
        &["256", "out of range"],
    );
}

#[test]
fn a_byte_of_data_out_of_range() {
    #[derive(Serialize)]
    struct Wide {
        data_field: Vec<i32>,
    }
    let err = all_types()
        .to_vec(&Wide {
            data_field: vec![7, 300],
        })
        .unwrap_err();
    check(
        &err,
        Category::Data,
        "data_field[1]",
        &["300", "out of range"],
    );
    let err = all_types()
        .to_vec(&Wide {
            data_field: vec![-1],
        })
        .unwrap_err();
    check(
        &err,
        Category::Data,
        "data_field[0]",
        &["-1", "out of range"],
    );

    // Inside a list of Data.
    #[derive(Serialize)]
    struct Lists {
        data_list: Vec<Vec<u32>>,
    }
    let err = all_types()
        .to_vec(&Lists {
            data_list: vec![vec![1], vec![2, 256]],
        })
        .unwrap_err();
    check(
        &err,
        Category::Data,
        "data_list[1][1]",
        &["256", "out of range"],
    );
}

// -------------------------------------------------------------------------------------------
// Enums and unions
// -------------------------------------------------------------------------------------------

#[test]
fn an_unknown_enumerant_name() {
    #[derive(Serialize)]
    struct AsText {
        enum_field: &'static str,
    }
    let err = all_types()
        .to_vec(&AsText {
            enum_field: "purple",
        })
        .unwrap_err();
    check(&err, Category::Data, "enum_field", &["`purple`", "`Color`"]);

    #[derive(Serialize)]
    enum Paint {
        Red,
        Purple,
    }
    #[derive(Serialize)]
    struct AsEnum {
        enum_list: Vec<Paint>,
    }
    let st = all_types();
    let err = st
        .to_vec(&AsEnum {
            enum_list: vec![Paint::Red, Paint::Purple],
        })
        .unwrap_err();
    check(&err, Category::Data, "enum_list[1]", &["Purple", "`Color`"]);
}

#[test]
fn an_enumerant_out_of_range() {
    #[derive(Serialize)]
    struct Raw {
        enum_field: u16,
    }
    let err = all_types().to_vec(&Raw { enum_field: 4 }).unwrap_err();
    check(&err, Category::Data, "enum_field", &["4", "`Color`"]);
}

/// Writes `Inner` messages with two colors and sets the byte where they differ to `value`:
/// an enumerant the schema does not have.
fn inner_with_raw_color(value: u8) -> Vec<u8> {
    let st = schema("alltypes").struct_type("Inner").unwrap();
    let inner = |color| Inner {
        id: 1,
        label: "l".into(),
        color,
    };
    let red = st.to_vec(&inner(Color::Red)).unwrap();
    let mut blue = st.to_vec(&inner(Color::Blue)).unwrap();
    let diff: Vec<usize> = (0..red.len()).filter(|&i| red[i] != blue[i]).collect();
    assert_eq!(diff.len(), 1, "one byte differs");
    blue[diff[0]] = value;
    blue
}

#[test]
fn reading_an_enumerant_the_schema_lacks() {
    let st = schema("alltypes").struct_type("Inner").unwrap();
    let bytes = inner_with_raw_color(9);
    let err = st.from_slice::<Inner>(&bytes).unwrap_err();
    check(&err, Category::Data, "color", &["9", "`Color`"]);
    // Read by content, it is just a number.
    let v: serde_json::Value = st.from_slice(&bytes).unwrap();
    assert_eq!(v["color"], 9);
}

#[test]
fn reading_an_enumerant_the_rust_enum_lacks() {
    #[derive(Deserialize, Debug)]
    enum Primary {
        Red,
        Green,
        Blue,
    }
    #[derive(Deserialize, Debug)]
    struct Narrow {
        #[allow(dead_code)]
        color: Primary,
    }
    let st = schema("alltypes").struct_type("Inner").unwrap();
    let bytes = st
        .to_vec(&Inner {
            id: 1,
            label: "".into(),
            color: Color::DarkGoldenrod,
        })
        .unwrap();
    let err = st.from_slice::<Narrow>(&bytes).unwrap_err();
    check(&err, Category::Data, "color", &["`darkGoldenrod`", "Red"]);
    let _ = (Primary::Red, Primary::Green, Primary::Blue);
}

#[test]
fn a_rust_variant_with_no_union_member() {
    #[derive(Serialize)]
    enum Job {
        Unemployed,
        Retired,
        Employer(String),
        Astronaut { mission: String },
    }
    #[derive(Serialize)]
    struct P {
        id: u32,
        employment: Job,
    }
    let st = schema("addressbook").struct_type("Person").unwrap();
    st.to_vec(&P {
        id: 1,
        employment: Job::Unemployed,
    })
    .unwrap();
    st.to_vec(&P {
        id: 1,
        employment: Job::Employer("ACME".into()),
    })
    .unwrap();
    let err = st
        .to_vec(&P {
            id: 1,
            employment: Job::Retired,
        })
        .unwrap_err();
    check(&err, Category::Schema, "employment", &["`Retired`"]);
    let err = st
        .to_vec(&P {
            id: 1,
            employment: Job::Astronaut {
                mission: "moon".into(),
            },
        })
        .unwrap_err();
    check(&err, Category::Schema, "employment", &["`Astronaut`"]);

    // A variant with data for an enum field.
    #[derive(Serialize)]
    enum Shade {
        Dark(u8),
    }
    #[derive(Serialize)]
    struct S {
        color: Shade,
    }
    let err = schema("alltypes")
        .struct_type("Inner")
        .unwrap()
        .to_vec(&S {
            color: Shade::Dark(1),
        })
        .unwrap_err();
    assert_eq!(err.path(), "color", "{err:?}");
    assert!(err.message().contains("`Dark`"), "{err:?}");
    check_style(&err);
}

#[test]
fn a_union_member_with_no_rust_variant() {
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    enum Job {
        Unemployed,
        Employer(String),
    }
    #[derive(Deserialize, Debug)]
    struct P {
        #[allow(dead_code)]
        employment: Job,
    }
    let st = schema("addressbook").struct_type("Person").unwrap();
    #[derive(Serialize)]
    struct W {
        employment: Employment,
    }
    let bytes = st
        .to_vec(&W {
            employment: Employment::SelfEmployed,
        })
        .unwrap();
    let err = st.from_slice::<P>(&bytes).unwrap_err();
    check(&err, Category::Data, "employment", &["`selfEmployed`"]);
}

#[test]
fn a_struct_without_a_union_cannot_hold_a_variant() {
    #[derive(Serialize)]
    enum E {
        A(u32),
    }
    #[derive(Serialize)]
    struct S {
        struct_field: E,
    }
    let err = all_types()
        .to_vec(&S {
            struct_field: E::A(1),
        })
        .unwrap_err();
    check(
        &err,
        Category::Schema,
        "struct_field",
        &["`Inner`", "union"],
    );
}

// -------------------------------------------------------------------------------------------
// Schema lookups, I/O, the error type itself
// -------------------------------------------------------------------------------------------

#[test]
fn schema_lookup_errors() {
    let s = schema("alltypes");
    let err = s.struct_type("NoSuchStruct").unwrap_err();
    assert_eq!(err.category(), Category::Schema, "{err:?}");
    assert!(err.message().contains("NoSuchStruct"), "{err:?}");
    check_style(&err);

    let err = s.struct_type("Color").unwrap_err();
    check(&err, Category::Schema, "", &["Color", "not a struct"]);

    let err = s.struct_by_id(0x1234).unwrap_err();
    check(&err, Category::Schema, "", &["0x1234"]);

    let err = Schema::from_code_generator_request(&[1, 2, 3]).unwrap_err();
    check_style(&err);
    let err = Schema::from_code_generator_request(&[]).unwrap_err();
    check_style(&err);
}

#[test]
fn io_errors_keep_their_category() {
    struct Failing;
    impl std::io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("the disk is on fire"))
        }
    }
    let st = all_types();
    let err = st.from_reader::<_, serde_json::Value>(Failing).unwrap_err();
    assert_eq!(err.category(), Category::Io, "{err:?}");
    assert!(err.message().contains("the disk is on fire"), "{err:?}");

    // End of input before a message.
    let err = st.from_reader::<_, serde_json::Value>(&[][..]).unwrap_err();
    assert_eq!(err.category(), Category::Io, "{err:?}");

    struct Full;
    impl std::io::Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    #[derive(Serialize)]
    struct One {
        int8_field: i8,
    }
    let err = st.to_writer(Full, &One { int8_field: 1 }).unwrap_err();
    assert_eq!(err.category(), Category::Io, "{err:?}");
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::StorageFull);
}

/// A read error from the underlying reader comes back as an I/O error of the same kind, so
/// that callers can tell a reset connection or a timeout from bad data.
#[test]
fn read_errors_keep_their_io_kind() {
    struct Reset;
    impl std::io::Read for Reset {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "peer went away",
            ))
        }
    }
    let err = all_types()
        .from_reader::<_, serde_json::Value>(Reset)
        .unwrap_err();
    assert_eq!(err.category(), Category::Io, "{err:?}");
    assert!(
        std::error::Error::source(&err).is_some(),
        "the reader's error is kept as the source: {err:?}"
    );
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionReset, "{io:?}");
}

#[test]
fn errors_convert_to_io_errors() {
    #[derive(Serialize)]
    struct Big {
        int8_field: i32,
    }
    let err = all_types().to_vec(&Big { int8_field: 1000 }).unwrap_err();
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);

    let err = all_types()
        .from_slice::<serde_json::Value>(&[0, 0, 0, 0, 9, 0, 0, 0])
        .unwrap_err();
    assert_eq!(err.category(), Category::Wire, "{err:?}");
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::InvalidData);
}

#[test]
fn the_error_is_small() {
    assert!(
        std::mem::size_of::<Error>() <= 8,
        "Error is {} bytes",
        std::mem::size_of::<Error>()
    );
    assert!(std::mem::size_of::<serde_capnp::Result<()>>() <= 8);
    assert!(std::mem::size_of::<serde_capnp::Result<u32>>() <= 16);
}

#[test]
fn the_error_is_send_sync_and_static() {
    fn check<T: Send + Sync + 'static + std::error::Error>() {}
    check::<Error>();
}

#[test]
fn display_and_debug() {
    #[derive(Serialize)]
    struct Big {
        int32_field: i64,
    }
    let err = all_types()
        .to_vec(&Big {
            int32_field: 3_000_000_000,
        })
        .unwrap_err();
    let shown = err.to_string();
    assert_eq!(
        shown,
        "integer 3000000000 is out of range for `Int32` at `int32_field`"
    );
    let debug = format!("{err:?}");
    assert!(debug.contains("Data"), "{debug}");
    assert!(debug.contains("int32_field"), "{debug}");
    assert!(!debug.contains('\n'), "Debug is compact: {debug}");
}

/// Every error this file can provoke, in one place, checked for style.
#[test]
fn every_message_is_lower_case_first_without_a_trailing_period() {
    let st = all_types();
    let mut errors: Vec<Error> = Vec::new();
    let mut map = BTreeMap::new();
    map.insert("int16Field", 1_000_000i64);
    errors.push(st.to_vec(&map).unwrap_err());
    let mut map = BTreeMap::new();
    map.insert("noSuchField", 1);
    errors.push(st.to_vec(&map).unwrap_err());
    let mut map = BTreeMap::new();
    map.insert("enumField", "mauve");
    errors.push(st.to_vec(&map).unwrap_err());
    let mut map = BTreeMap::new();
    map.insert("textField", 1.5);
    errors.push(st.to_vec(&map).unwrap_err());
    errors.push(st.from_slice::<serde_json::Value>(&[]).unwrap_err());
    errors.push(st.from_slice::<serde_json::Value>(&[0; 7]).unwrap_err());
    errors.push(st.from_slice::<serde_json::Value>(&[0xff; 16]).unwrap_err());
    errors.push(
        st.from_slice::<serde_json::Value>(&[0, 0, 0, 0, 0, 0, 0, 0])
            .unwrap_err(),
    );
    errors.push(
        st.from_slice_packed::<serde_json::Value>(&[0x11])
            .unwrap_err(),
    );
    errors.push(
        schema("alltypes")
            .struct_type("Inner")
            .unwrap()
            .from_slice::<Inner>(&inner_with_raw_color(200))
            .unwrap_err(),
    );
    struct Failing;
    impl std::io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("the disk is on fire"))
        }
    }
    errors.push(st.from_reader::<_, serde_json::Value>(Failing).unwrap_err());
    errors.push(
        st.from_reader::<_, serde_json::Value>(&[0u8; 4][..])
            .unwrap_err(),
    );
    errors.push(
        st.from_reader::<_, serde_json::Value>(&[0xff, 0xff, 0xff, 0xff][..])
            .unwrap_err(),
    );
    for err in &errors {
        eprintln!("{err:?}");
    }
    // Report every offender at once.
    let bad: Vec<String> = errors.iter().filter_map(style_problem).collect();
    assert!(bad.is_empty(), "badly styled messages:\n{}", bad.join("\n"));
}

/// A union member or an enumerant the Rust enum lacks is named, with the variants it has; the
/// same handle then reads a message the Rust enum covers.
#[test]
fn a_member_the_rust_enum_lacks() {
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    enum Work {
        Unemployed,
        Employer(String),
    }
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    enum Kind {
        Mobile,
        Home,
    }
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Phone {
        #[serde(rename = "type")]
        kind: Kind,
    }
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Person {
        phones: Vec<Phone>,
        employment: Work,
    }
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Book {
        people: Vec<Person>,
    }
    let st = address_book();
    let mut book = serde_capnp_suite::fixtures::addressbook::sample();
    book.people.truncate(1);
    book.people[0].phones.clear();
    book.people[0].employment = Employment::School("MIT".into());
    let read = |book: &serde_capnp_suite::fixtures::addressbook::AddressBook| {
        st.from_slice::<Book>(&st.to_vec(book).unwrap())
    };
    check(
        &read(&book).unwrap_err(),
        Category::Data,
        "people[0].employment",
        &[
            "union member `school` has no matching variant",
            "Unemployed, Employer",
        ],
    );
    book.people[0].employment = Employment::Employer("Fred's".into());
    book.people[0].phones = vec![serde_capnp_suite::fixtures::addressbook::phone(
        "555",
        PhoneType::Work,
    )];
    check(
        &read(&book).unwrap_err(),
        Category::Data,
        "people[0].phones[0].type",
        &["enumerant `work` has no matching variant", "Mobile, Home"],
    );
    book.people[0].phones[0].kind = PhoneType::Home;
    let back = read(&book).unwrap();
    assert!(matches!(back.people[0].employment, Work::Employer(ref e) if e == "Fred's"));
}
