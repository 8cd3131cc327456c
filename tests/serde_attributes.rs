//! serde's field and container attributes keep their meaning: aliases, renames, skipped and
//! defaulted fields, transparent newtypes, unit enums stored as integers.

mod common;

use serde::{Deserialize, Serialize};
use serde_capnp::{Schema, StructSchema};

fn inner() -> StructSchema {
    Schema::from_code_generator_request(&common::compiled_schema("alltypes"))
        .unwrap()
        .struct_type("Inner")
        .unwrap()
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Copy)]
#[serde(rename_all = "camelCase")]
enum Color {
    Red,
    Green,
    Blue,
    DarkGoldenrod,
}

#[derive(Serialize, Debug, PartialEq)]
struct Inner {
    id: u32,
    label: String,
    color: Color,
}

fn all_types() -> StructSchema {
    Schema::from_code_generator_request(&common::compiled_schema("alltypes"))
        .unwrap()
        .struct_type("AllTypes")
        .unwrap()
}

fn message() -> Vec<u8> {
    inner()
        .to_vec(&Inner {
            id: 7,
            label: "seven".into(),
            color: Color::Blue,
        })
        .unwrap()
}

/// An alias shifts the positions in serde's field list; the fields must still land right.
#[test]
fn aliases_do_not_shift_fields() {
    #[derive(Deserialize, Debug, PartialEq)]
    struct WithAlias {
        #[serde(alias = "identifier")]
        id: u32,
        #[serde(alias = "title", alias = "name")]
        label: String,
        color: Color,
    }
    let back: WithAlias = inner().from_slice(&message()).unwrap();
    assert_eq!(
        back,
        WithAlias {
            id: 7,
            label: "seven".into(),
            color: Color::Blue,
        }
    );
}

/// Even an alias that is another field's name in the schema.
#[test]
fn an_alias_that_names_another_schema_field() {
    #[derive(Deserialize, Debug, PartialEq)]
    struct Confusing {
        #[serde(alias = "color")]
        label: String,
        #[serde(default)]
        id: u32,
    }
    let st = inner();
    let bytes = message();
    // Cap'n Proto carries both `label` and `color`, so the type cannot be read. serde lists a
    // field's names in sorted order, `color` before `label`: read in order, `label` gets the
    // `color` slot and `id` the label's text, which does not fit. (Were it to fit, the field left unread would be
    // reported, as `an_alias_naming_another_field_of_the_same_type` checks.)
    let err = st.from_slice::<Confusing>(&bytes).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid type: string \"seven\", expected u32 at `label`"
    );
}

#[test]
fn renamed_skipped_and_defaulted_fields() {
    #[derive(Deserialize, Debug, PartialEq)]
    struct Partial {
        #[serde(rename = "label")]
        text: String,
        #[serde(skip_deserializing)]
        local: u8,
        #[serde(default = "answer")]
        missing_from_schema: u32,
    }
    fn answer() -> u32 {
        42
    }
    let back: Partial = inner().from_slice(&message()).unwrap();
    assert_eq!(
        back,
        Partial {
            text: "seven".into(),
            local: 0,
            missing_from_schema: 42,
        }
    );
}

#[test]
fn transparent_newtypes_and_integer_enums() {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(transparent)]
    struct Id(u32);

    /// A unit enum stored in an integer field: its variant index is the value.
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    enum Level {
        Low,
        Middle,
        High,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Typed {
        id: Id,
        label: String,
        color: Color,
    }
    let value = Typed {
        id: Id(9),
        label: "nine".into(),
        color: Color::DarkGoldenrod,
    };
    let bytes = inner().to_vec(&value).unwrap();
    let back: Typed = inner().from_slice(&bytes).unwrap();
    assert_eq!(back, value);

    // `id` is a UInt32: `High` is written as 2 and read back as `High`.
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Leveled {
        id: Level,
    }
    let bytes = inner().to_vec(&Leveled { id: Level::High }).unwrap();
    let raw: Typed = inner().from_slice(&bytes).unwrap();
    assert_eq!(raw.id, Id(2));
    let back: Leveled = inner().from_slice(&bytes).unwrap();
    assert_eq!(back, Leveled { id: Level::High });
    // An integer with no variant is an error, not a wrong variant.
    let bytes = inner().to_vec(&Typed { id: Id(7), ..value }).unwrap();
    assert!(inner().from_slice::<Leveled>(&bytes).is_err());
}

#[test]
fn a_missing_required_field_is_named() {
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct NeedsMore {
        id: u32,
        nickname: String,
    }
    let err = inner().from_slice::<NeedsMore>(&message()).unwrap_err();
    assert!(err.message().contains("nickname"), "{err}");
}

/// An alias that is the name of another field of the schema, of a compatible type. Cap'n Proto
/// always has both fields, so the Rust type cannot be read: read as a map, serde reports the
/// alias as a duplicate; read in order, the field list is one longer than the Rust fields and
/// an element lands in the wrong field or stays unread. Either way it is an error, never a
/// value taken from the wrong field.
#[test]
fn an_alias_naming_another_field_of_the_same_type() {
    let st = all_types();
    #[derive(Serialize)]
    struct Written {
        int32_field: i32,
        uint32_field: u32,
        uint8_field: u8,
    }
    #[derive(Deserialize, Debug, PartialEq)]
    struct Read {
        #[serde(alias = "uint32_field")]
        int32_field: i64,
        uint8_field: u8,
    }
    // `uint32Field` (70,000) lands in `uint8_field` and does not fit; when it fits (9), the
    // last field is left over and the ambiguity is reported.
    for (uint32_field, expected) in [
        (70_000, "invalid value: integer `70000`, expected u8"),
        (
            9,
            "the Rust type read 2 of the 3 fields its field list names \
             (int32_field, uint32_field, uint8_field); a `#[serde(alias)]` that names another \
             field of the schema is ambiguous",
        ),
    ] {
        let bytes = st
            .to_vec(&Written {
                int32_field: -5,
                uint32_field,
                uint8_field: 9,
            })
            .unwrap();
        let err = st.from_slice::<Read>(&bytes).unwrap_err();
        assert_eq!(err.message(), expected);
    }
}

/// A hand-written visitor that knows only maps still reads a struct, also when it carries the
/// name serde's derive gives its visitors.
#[test]
fn a_visitor_without_visit_seq() {
    use serde::de::{Deserializer, MapAccess, Visitor};
    #[derive(Debug, PartialEq)]
    struct ByHand {
        id: u32,
        label: String,
    }
    impl<'de> Deserialize<'de> for ByHand {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct __Visitor;
            impl<'de> Visitor<'de> for __Visitor {
                type Value = ByHand;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("struct ByHand")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ByHand, A::Error> {
                    let (mut id, mut label) = (None, None);
                    while let Some(key) = map.next_key::<String>()? {
                        match key.as_str() {
                            "id" => id = Some(map.next_value()?),
                            "label" => label = Some(map.next_value()?),
                            _ => map.next_value::<serde::de::IgnoredAny>().map(drop)?,
                        }
                    }
                    Ok(ByHand {
                        id: id.ok_or_else(|| serde::de::Error::missing_field("id"))?,
                        label: label.ok_or_else(|| serde::de::Error::missing_field("label"))?,
                    })
                }
            }
            d.deserialize_struct("ByHand", &["id", "label"], __Visitor)
        }
    }
    let back: ByHand = inner().from_slice(&message()).unwrap();
    assert_eq!(
        back,
        ByHand {
            id: 7,
            label: "seven".into()
        }
    );
}

/// Derived types read in order whatever order their fields take, generic ones included, and
/// in lists and nested structs.
#[test]
fn fields_in_any_order_generic_and_nested() {
    #[derive(Deserialize, Debug, PartialEq)]
    struct Reversed<C> {
        color: C,
        label: String,
        id: u32,
    }
    let back: Reversed<Color> = inner().from_slice(&message()).unwrap();
    assert_eq!(
        back,
        Reversed {
            color: Color::Blue,
            label: "seven".into(),
            id: 7
        }
    );
    let book = Schema::from_code_generator_request(&common::compiled_schema("addressbook"))
        .unwrap()
        .struct_type("AddressBook")
        .unwrap();
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "camelCase")]
    enum Kind {
        Mobile,
        Home,
        Work,
    }
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Phone<'a> {
        #[serde(rename = "type")]
        kind: Kind,
        number: &'a str,
    }
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Person<'a> {
        #[serde(borrow)]
        phones: Vec<Phone<'a>>,
        name: &'a str,
        id: u32,
    }
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Book<'a> {
        #[serde(borrow)]
        people: Vec<Person<'a>>,
    }
    let value = Book {
        people: vec![
            Person {
                phones: vec![
                    Phone {
                        kind: Kind::Work,
                        number: "555-1212",
                    },
                    Phone {
                        kind: Kind::Mobile,
                        number: "555-0000",
                    },
                ],
                name: "Alice",
                id: 1,
            },
            Person {
                phones: vec![],
                name: "Bob",
                id: 2,
            },
        ],
    };
    let bytes = book.to_vec(&value).unwrap();
    let back: Book = book.from_slice(&bytes).unwrap();
    assert_eq!(back, value);
}

/// An alias that spells the field's own schema name (`firstName` for `first_name`) names the
/// same field: it is read once, not reported as a duplicate.
#[test]
fn an_alias_spelling_the_schema_name_of_the_same_field() {
    #[derive(Deserialize, Debug, PartialEq)]
    struct Spelled {
        #[serde(alias = "id")]
        id: u32,
        #[serde(alias = "label", alias = "title")]
        label: String,
    }
    let back: Spelled = inner().from_slice(&message()).unwrap();
    assert_eq!(
        back,
        Spelled {
            id: 7,
            label: "seven".into()
        }
    );
    let st = all_types();
    #[derive(Serialize)]
    struct Written {
        int32_field: i32,
    }
    #[derive(Deserialize, Debug, PartialEq)]
    struct Read {
        #[serde(alias = "int32Field")]
        int32_field: i32,
    }
    let bytes = st.to_vec(&Written { int32_field: -5 }).unwrap();
    assert_eq!(
        st.from_slice::<Read>(&bytes).unwrap(),
        Read { int32_field: -5 }
    );
}
