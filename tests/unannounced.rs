//! Sequences and maps whose length serde does not announce, and values that only exist as
//! dynamic trees (`serde_json::Value`), are written like any other.

mod common;

use std::collections::BTreeMap;

use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct};
use serde::{Deserialize, Serialize, Serializer};
use serde_capnp::Schema;
use serde_capnp_suite::fixtures::alltypes::{Color, Inner};

fn schema() -> Schema {
    Schema::from_code_generator_request(&common::compiled_schema("alltypes")).unwrap()
}

/// Serializes its items with `serialize_seq(None)`, as an iterator of unknown size would.
struct Unsized<T>(Vec<T>);

impl<T: Serialize> Serialize for Unsized<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for item in &self.0 {
            seq.serialize_element(item)?;
        }
        seq.end()
    }
}

/// Serializes its entries with `serialize_map(None)`.
struct UnsizedMap(BTreeMap<u32, String>);

impl Serialize for UnsizedMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// The subset of `AllTypes` written through unannounced lengths.
struct Written {
    int32_list: Vec<i32>,
    text_list: Vec<String>,
    struct_list: Vec<Inner>,
    int32_list_list: Vec<Vec<i32>>,
    data_field: Vec<u8>,
    names_by_id: BTreeMap<u32, String>,
}

impl Serialize for Written {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("AllTypes", 6)?;
        st.serialize_field("int32_list", &Unsized(self.int32_list.clone()))?;
        st.serialize_field("text_list", &Unsized(self.text_list.clone()))?;
        st.serialize_field("struct_list", &Unsized(self.struct_list.clone()))?;
        let nested: Vec<Unsized<i32>> = self
            .int32_list_list
            .iter()
            .map(|l| Unsized(l.clone()))
            .collect();
        st.serialize_field("int32_list_list", &Unsized(nested))?;
        st.serialize_field("data_field", &Unsized(self.data_field.clone()))?;
        st.serialize_field("names_by_id", &UnsizedMap(self.names_by_id.clone()))?;
        st.end()
    }
}

#[derive(Deserialize, Debug, PartialEq)]
struct Read {
    int32_list: Vec<i32>,
    text_list: Vec<String>,
    struct_list: Vec<Inner>,
    int32_list_list: Vec<Vec<i32>>,
    #[serde(with = "serde_bytes")]
    data_field: Vec<u8>,
    names_by_id: BTreeMap<u32, String>,
}

#[test]
fn unannounced_lengths_write_the_same_lists() {
    let st = schema().struct_type("AllTypes").unwrap();
    let written = Written {
        int32_list: vec![1, -2, 3],
        text_list: vec!["a".into(), "".into(), "ccc".into()],
        struct_list: vec![
            Inner {
                id: 1,
                label: "one".into(),
                color: Color::Blue,
            },
            Inner {
                id: 2,
                label: "two".into(),
                color: Color::DarkGoldenrod,
            },
        ],
        int32_list_list: vec![vec![], vec![7, 8], vec![9]],
        data_field: vec![0, 1, 255],
        names_by_id: [(3, "three".to_string()), (1, "one".to_string())]
            .into_iter()
            .collect(),
    };
    let bytes = st.to_vec(&written).unwrap();
    let back: Read = st.from_slice(&bytes).unwrap();
    assert_eq!(
        back,
        Read {
            int32_list: written.int32_list.clone(),
            text_list: written.text_list.clone(),
            struct_list: written.struct_list.clone(),
            int32_list_list: written.int32_list_list.clone(),
            data_field: written.data_field.clone(),
            names_by_id: written.names_by_id.clone(),
        }
    );
}

#[test]
fn an_unannounced_sequence_that_does_not_fit_is_an_error_with_its_path() {
    let st = schema().struct_type("AllTypes").unwrap();
    struct Bad;
    impl Serialize for Bad {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut st = s.serialize_struct("AllTypes", 1)?;
            st.serialize_field("int8_list", &Unsized(vec![1i32, 2, 300]))?;
            st.end()
        }
    }
    let err = st.to_vec(&Bad).unwrap_err();
    assert_eq!(err.category(), serde_capnp::Category::Data, "{err:?}");
    assert_eq!(err.path(), "int8_list[2]");
    assert!(err.message().contains("out of range"), "{err}");
}

/// A dynamic JSON tree is transcoded into a message and read back.
#[test]
fn serde_json_values_are_written_as_structs() {
    let st = schema().struct_type("Inner").unwrap();
    let json = serde_json::json!({ "id": 42, "label": "from json", "color": "darkGoldenrod" });
    let bytes = st.to_vec(&json).unwrap();
    let back: Inner = st.from_slice(&bytes).unwrap();
    assert_eq!(
        back,
        Inner {
            id: 42,
            label: "from json".into(),
            color: Color::DarkGoldenrod,
        }
    );
    let again: serde_json::Value = st.from_slice(&bytes).unwrap();
    assert_eq!(again, json);
}

#[test]
fn unknown_json_keys_are_rejected_when_writing() {
    let st = schema().struct_type("Inner").unwrap();
    let json = serde_json::json!({ "id": 1, "nickname": "x" });
    let err = st.to_vec(&json).unwrap_err();
    assert_eq!(err.category(), serde_capnp::Category::Schema);
    assert!(err.message().contains("`nickname`"), "{err}");
    assert!(err.message().contains("`Inner`"), "{err}");
}
