//! A captured serde value, for the rare cases where the serializer must see a value twice or
//! later: sequences and maps whose length serde does not announce.

use serde::ser::{self, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::value::UNKNOWN_ENUMERANT;

pub(crate) enum Content {
    Bool(bool),
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
    F32(f32),
    F64(f64),
    Char(char),
    Str(String),
    Bytes(Vec<u8>),
    None,
    Some(Box<Content>),
    Unit,
    /// An enumerant a `Value` holds by ordinal only (see `value::UNKNOWN_ENUMERANT`).
    UnknownEnumerant(u16),
    /// A capability by its index in the capability table (see `ser::CAPABILITY`).
    Capability(u32),
    UnitVariant(&'static str, u32, &'static str),
    NewtypeVariant(&'static str, u32, &'static str, Box<Content>),
    Seq(Vec<Content>),
    TupleVariant(&'static str, u32, &'static str, Vec<Content>),
    Map(Vec<(Content, Content)>),
    Struct(&'static str, Vec<(&'static str, Content)>),
    StructVariant(
        &'static str,
        u32,
        &'static str,
        Vec<(&'static str, Content)>,
    ),
}

impl Serialize for Content {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use ser::{
            SerializeMap, SerializeSeq, SerializeStruct, SerializeStructVariant,
            SerializeTupleVariant,
        };
        match self {
            Content::Bool(v) => s.serialize_bool(*v),
            Content::I64(v) => s.serialize_i64(*v),
            Content::U64(v) => s.serialize_u64(*v),
            Content::I128(v) => s.serialize_i128(*v),
            Content::U128(v) => s.serialize_u128(*v),
            Content::F32(v) => s.serialize_f32(*v),
            Content::F64(v) => s.serialize_f64(*v),
            Content::Char(v) => s.serialize_char(*v),
            Content::Str(v) => s.serialize_str(v),
            Content::Bytes(v) => s.serialize_bytes(v),
            Content::None => s.serialize_none(),
            Content::Some(v) => s.serialize_some(v),
            Content::Unit => s.serialize_unit(),
            Content::UnknownEnumerant(v) => s.serialize_newtype_struct(UNKNOWN_ENUMERANT, v),
            Content::Capability(i) => s.serialize_newtype_struct(crate::ser::CAPABILITY, i),
            Content::UnitVariant(n, i, v) => s.serialize_unit_variant(n, *i, v),
            Content::NewtypeVariant(n, i, v, c) => s.serialize_newtype_variant(n, *i, v, c),
            Content::Seq(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Content::TupleVariant(n, i, v, items) => {
                let mut t = s.serialize_tuple_variant(n, *i, v, items.len())?;
                for item in items {
                    t.serialize_field(item)?;
                }
                t.end()
            }
            Content::Map(entries) => {
                let mut m = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
            Content::Struct(n, fields) => {
                let mut st = s.serialize_struct(n, fields.len())?;
                for (k, v) in fields {
                    st.serialize_field(k, v)?;
                }
                st.end()
            }
            Content::StructVariant(n, i, v, fields) => {
                let mut st = s.serialize_struct_variant(n, *i, v, fields.len())?;
                for (k, v) in fields {
                    st.serialize_field(k, v)?;
                }
                st.end()
            }
        }
    }
}

/// Captures any `Serialize` value as [`Content`].
pub(crate) struct Capture;

pub(crate) struct CaptureSeq(Vec<Content>, Option<(&'static str, u32, &'static str)>);
pub(crate) struct CaptureMap(Vec<(Content, Content)>, Option<Content>);
pub(crate) struct CaptureStruct(
    &'static str,
    Vec<(&'static str, Content)>,
    Option<(u32, &'static str)>,
);

impl Serializer for Capture {
    type Ok = Content;
    type Error = Error;
    type SerializeSeq = CaptureSeq;
    type SerializeTuple = CaptureSeq;
    type SerializeTupleStruct = CaptureSeq;
    type SerializeTupleVariant = CaptureSeq;
    type SerializeMap = CaptureMap;
    type SerializeStruct = CaptureStruct;
    type SerializeStructVariant = CaptureStruct;

    fn serialize_bool(self, v: bool) -> Result<Content> {
        Ok(Content::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Content> {
        Ok(Content::I64(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Content> {
        Ok(Content::I64(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Content> {
        Ok(Content::I64(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Content> {
        Ok(Content::I64(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Content> {
        Ok(Content::I128(v))
    }
    fn serialize_u8(self, v: u8) -> Result<Content> {
        Ok(Content::U64(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Content> {
        Ok(Content::U64(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Content> {
        Ok(Content::U64(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<Content> {
        Ok(Content::U64(v))
    }
    fn serialize_u128(self, v: u128) -> Result<Content> {
        Ok(Content::U128(v))
    }
    fn serialize_f32(self, v: f32) -> Result<Content> {
        Ok(Content::F32(v))
    }
    fn serialize_f64(self, v: f64) -> Result<Content> {
        Ok(Content::F64(v))
    }
    fn serialize_char(self, v: char) -> Result<Content> {
        Ok(Content::Char(v))
    }
    fn serialize_str(self, v: &str) -> Result<Content> {
        Ok(Content::Str(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Content> {
        Ok(Content::Bytes(v.to_owned()))
    }
    fn serialize_none(self) -> Result<Content> {
        Ok(Content::None)
    }
    fn serialize_some<T: ?Sized + Serialize>(self, v: &T) -> Result<Content> {
        Ok(Content::Some(Box::new(v.serialize(Capture)?)))
    }
    fn serialize_unit(self) -> Result<Content> {
        Ok(Content::Unit)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Content> {
        Ok(Content::Unit)
    }
    fn serialize_unit_variant(self, n: &'static str, i: u32, v: &'static str) -> Result<Content> {
        Ok(Content::UnitVariant(n, i, v))
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<Content> {
        match v.serialize(Capture)? {
            Content::U64(ordinal) if name == UNKNOWN_ENUMERANT && ordinal <= u16::MAX as u64 => {
                Ok(Content::UnknownEnumerant(ordinal as u16))
            }
            Content::U64(index) if name == crate::ser::CAPABILITY && index <= u32::MAX as u64 => {
                Ok(Content::Capability(index as u32))
            }
            other => Ok(other),
        }
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        n: &'static str,
        i: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<Content> {
        Ok(Content::NewtypeVariant(
            n,
            i,
            variant,
            Box::new(v.serialize(Capture)?),
        ))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<CaptureSeq> {
        Ok(CaptureSeq(
            Vec::with_capacity(cautious(len.unwrap_or(0))),
            None,
        ))
    }
    fn serialize_tuple(self, len: usize) -> Result<CaptureSeq> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<CaptureSeq> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        n: &'static str,
        i: u32,
        v: &'static str,
        len: usize,
    ) -> Result<CaptureSeq> {
        Ok(CaptureSeq(
            Vec::with_capacity(cautious(len)),
            Some((n, i, v)),
        ))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<CaptureMap> {
        Ok(CaptureMap(
            Vec::with_capacity(cautious(len.unwrap_or(0))),
            None,
        ))
    }
    fn serialize_struct(self, n: &'static str, len: usize) -> Result<CaptureStruct> {
        Ok(CaptureStruct(n, Vec::with_capacity(cautious(len)), None))
    }
    fn serialize_struct_variant(
        self,
        n: &'static str,
        i: u32,
        v: &'static str,
        len: usize,
    ) -> Result<CaptureStruct> {
        Ok(CaptureStruct(
            n,
            Vec::with_capacity(cautious(len)),
            Some((i, v)),
        ))
    }
}

impl ser::SerializeSeq for CaptureSeq {
    type Ok = Content;
    type Error = Error;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<()> {
        self.0.push(v.serialize(Capture)?);
        Ok(())
    }
    fn end(self) -> Result<Content> {
        Ok(match self.1 {
            Some((n, i, v)) => Content::TupleVariant(n, i, v, self.0),
            None => Content::Seq(self.0),
        })
    }
}

tuples_as_seq!(CaptureSeq, Content);

impl ser::SerializeMap for CaptureMap {
    type Ok = Content;
    type Error = Error;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, k: &T) -> Result<()> {
        self.1 = Some(k.serialize(Capture)?);
        Ok(())
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<()> {
        let k = self
            .1
            .take()
            .ok_or_else(|| Error::data("map value serialized before its key"))?;
        self.0.push((k, v.serialize(Capture)?));
        Ok(())
    }
    fn end(self) -> Result<Content> {
        Ok(Content::Map(self.0))
    }
}

impl ser::SerializeStruct for CaptureStruct {
    type Ok = Content;
    type Error = Error;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, k: &'static str, v: &T) -> Result<()> {
        self.1.push((k, v.serialize(Capture)?));
        Ok(())
    }
    fn end(self) -> Result<Content> {
        Ok(match self.2 {
            Some((i, v)) => Content::StructVariant(self.0, i, v, self.1),
            None => Content::Struct(self.0, self.1),
        })
    }
}

impl ser::SerializeStructVariant for CaptureStruct {
    type Ok = Content;
    type Error = Error;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, k: &'static str, v: &T) -> Result<()> {
        ser::SerializeStruct::serialize_field(self, k, v)
    }
    fn end(self) -> Result<Content> {
        ser::SerializeStruct::end(self)
    }
}

/// A capacity for a length a `Serialize` impl announced: believed up to a point, so that a
/// lying length costs no memory beyond the items really given.
fn cautious(len: usize) -> usize {
    len.min(4096)
}
