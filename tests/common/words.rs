//! Cap'n Proto words built by hand, for tests of hostile messages, and a value that takes
//! whatever a message holds.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_capnp::{ReadOptions, StructSchema};

/// The same struct with another nesting limit.
pub fn with_nesting(st: &StructSchema, nesting_limit: u32) -> StructSchema {
    st.clone().with_read_options(ReadOptions {
        nesting_limit,
        ..ReadOptions::default()
    })
}

pub fn struct_ptr(offset: i32, data_words: u16, ptr_count: u16) -> u64 {
    ((offset as u32) << 2) as u64 | (data_words as u64) << 32 | (ptr_count as u64) << 48
}

/// Element sizes: 0 void, 1 bit, 2 byte, 3 two bytes, 4 four bytes, 5 eight bytes,
/// 6 pointer, 7 composite (then `count` is the word count).
pub fn list_ptr(offset: i32, size: u8, count: u32) -> u64 {
    assert!(count < 1 << 29);
    ((offset as u32) << 2) as u64 | 1 | (size as u64) << 32 | (count as u64) << 35
}

pub fn far_ptr(double: bool, pad_word: u32, segment: u32) -> u64 {
    2 | (double as u64) << 2 | (pad_word as u64) << 3 | (segment as u64) << 32
}

/// The tag word of a composite list.
pub fn tag(count: u32, data_words: u16, ptr_count: u16) -> u64 {
    struct_ptr(count as i32, data_words, ptr_count)
}

/// Frames segments of words into a flat message with its segment table.
pub fn frame(segments: &[Vec<u64>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(segments.len() as u32 - 1).to_le_bytes());
    for s in segments {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    }
    if out.len() % 8 != 0 {
        out.extend_from_slice(&[0; 4]);
    }
    for s in segments {
        for w in s {
            out.extend_from_slice(&w.to_le_bytes());
        }
    }
    out
}

pub fn segment_bytes(words: &[u64]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// Text as words: the bytes, a NUL, zero padding.
pub fn text_words(text: &str) -> Vec<u64> {
    let mut bytes = text.as_bytes().to_vec();
    bytes.push(0);
    bytes.resize(bytes.len().div_ceil(8) * 8, 0);
    bytes
        .chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// Any value at all, read through `deserialize_any`; unlike `serde_json::Value` it also takes
/// bytes and keeps integers and floats apart.
#[derive(Debug)]
#[allow(dead_code)]
pub enum Anything {
    Unit,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
    Seq(Vec<Anything>),
    Map(Vec<(Anything, Anything)>),
    Option(Option<Box<Anything>>),
}

impl<'de> Deserialize<'de> for Anything {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AnythingVisitor)
    }
}

struct AnythingVisitor;

impl<'de> Visitor<'de> for AnythingVisitor {
    type Value = Anything;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("anything")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Anything, E> {
        Ok(Anything::Unit)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Anything, E> {
        Ok(Anything::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Anything, E> {
        Ok(Anything::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Anything, E> {
        Ok(Anything::UInt(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Anything, E> {
        Ok(Anything::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Anything, E> {
        Ok(Anything::Text(v.into()))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Anything, E> {
        Ok(Anything::Bytes(v.into()))
    }
    fn visit_none<E: de::Error>(self) -> Result<Anything, E> {
        Ok(Anything::Option(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Anything, D::Error> {
        Ok(Anything::Option(Some(Box::new(Anything::deserialize(d)?))))
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Anything, D::Error> {
        Anything::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Anything, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Anything::Seq(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Anything, A::Error> {
        let mut out = Vec::new();
        while let Some(kv) = map.next_entry()? {
            out.push(kv);
        }
        Ok(Anything::Map(out))
    }
}
