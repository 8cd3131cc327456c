//! The serializers of lists and maps: elements written in place as they arrive (or gathered
//! first when their announced count cannot be trusted), maps as structs or as lists of entry
//! structs, and the captures for map keys and the bytes of a Data field.

use std::borrow::Cow;
use std::sync::Arc;

use serde::ser::{self, Serialize};
use serde_capnp_schema::{Brand, NodeIndex, StructNode, Type};

use crate::content::{Capture, Content};
use crate::error::{Error, Result};
use crate::ser::{
    element_target, field_target, field_type, find_field, Ctx, StructSer, Target, ValueSer,
};
use crate::ser_fast::ElemSer;
use crate::wire::{ListB, StructB};

pub(crate) enum SeqKind<'s> {
    List(ListB, Cow<'s, Type>),
    /// Elements of a non-generic struct type, with the plan the previous element used.
    Structs {
        list: ListB,
        ty: &'s Type,
        node: NodeIndex,
        s: &'s StructNode,
        cache: Option<(usize, u32)>,
    },
    Bytes(usize, Vec<u8>),
    /// Elements gathered before the list is laid out, and the count announced, if any.
    Buffered(Cow<'s, Type>, Target, Vec<Content>, Option<usize>),
}

/// Serializes the elements of a list.
pub(crate) struct SeqSer<'c, 's> {
    pub(crate) ctx: &'c mut Ctx<'s>,
    pub(crate) kind: SeqKind<'s>,
    pub(crate) index: u32,
    /// Whether the list counted as a nesting level (a Data blob does not).
    pub(crate) entered: bool,
}

impl ser::SerializeSeq for SeqSer<'_, '_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        let i = self.index;
        self.index += 1;
        match &mut self.kind {
            SeqKind::Structs {
                list,
                ty,
                node,
                s,
                cache,
            } => {
                if i >= list.len {
                    return Err(Error::data(format!(
                        "sequence has more elements than the {} it announced",
                        list.len
                    )));
                }
                let data = list.start + (i as u64 * list.step_bits / 8) as usize;
                let b = StructB {
                    data,
                    ptrs: data + s.data_words as usize * 8,
                };
                value
                    .serialize(ElemSer {
                        ctx: &mut *self.ctx,
                        ty,
                        b,
                        node: *node,
                        s,
                        cache,
                    })
                    .map_err(|e| e.at_index(i as u64))
            }
            SeqKind::List(list, elem) => {
                if i >= list.len {
                    return Err(Error::data(format!(
                        "sequence has more elements than the {} it announced",
                        list.len
                    )));
                }
                let target = element_target(self.ctx, list, elem, i);
                let ty = match elem {
                    Cow::Borrowed(t) => Cow::Borrowed(*t),
                    Cow::Owned(t) => Cow::Owned(t.clone()),
                };
                value
                    .serialize(ValueSer {
                        ctx: &mut *self.ctx,
                        ty,
                        target,
                    })
                    .map_err(|e| e.at_index(i as u64))
            }
            SeqKind::Bytes(_, bytes) => {
                let byte = value
                    .serialize(ByteCapture)
                    .map_err(|e| e.at_index(i as u64))?;
                bytes.push(byte);
                Ok(())
            }
            SeqKind::Buffered(_, _, items, _) => {
                items.push(value.serialize(Capture)?);
                Ok(())
            }
        }
    }

    #[inline]
    fn end(self) -> Result<()> {
        if self.entered {
            self.ctx.leave();
        }
        match self.kind {
            SeqKind::List(list, _) | SeqKind::Structs { list, .. } if self.index != list.len => {
                Err(Error::data(format!(
                    "sequence has {} elements but announced {}",
                    self.index, list.len
                )))
            }
            SeqKind::List(..) | SeqKind::Structs { .. } => Ok(()),
            SeqKind::Bytes(p, bytes) => self.ctx.out.set_blob(p, &bytes, false),
            SeqKind::Buffered(_, _, items, Some(announced)) if items.len() != announced => {
                Err(Error::data(format!(
                    "sequence has {} elements but announced {announced}",
                    items.len()
                )))
            }
            SeqKind::Buffered(ty, target, items, _) => {
                // The count is now known, so the list is laid out whatever its length.
                let mut seq = ValueSer {
                    ctx: self.ctx,
                    ty,
                    target,
                }
                .seq_in_place(items.len())?;
                for item in &items {
                    ser::SerializeSeq::serialize_element(&mut seq, item)?;
                }
                ser::SerializeSeq::end(seq)
            }
        }
    }
}

tuples_as_seq!(SeqSer<'_, '_>, ());

pub(crate) enum MapKind<'s> {
    /// A struct written from a map with string keys (`#[serde(flatten)]`, `HashMap<String, _>`).
    Struct {
        b: StructB,
        node: NodeIndex,
        brand: Option<Arc<Brand>>,
        key: Option<String>,
    },
    /// A list of entry structs.
    Entries {
        list: ListB,
        elem: Cow<'s, Type>,
        key: u16,
        value: u16,
    },
    /// Entries gathered before the list is laid out, the key waiting for its value, and the
    /// count announced, if any.
    Buffered(
        Cow<'s, Type>,
        Target,
        Vec<(Content, Content)>,
        Option<Content>,
        Option<usize>,
    ),
}

/// Serializes a map as a struct or as a list of entries.
pub(crate) struct MapSer<'c, 's> {
    pub(crate) ctx: &'c mut Ctx<'s>,
    pub(crate) kind: MapKind<'s>,
    pub(crate) index: u32,
    /// Whether the map counted as a nesting level.
    pub(crate) entered: bool,
}

impl MapSer<'_, '_> {
    fn entry_part<T: ?Sized + Serialize>(&mut self, which: bool, v: &T) -> Result<()> {
        let MapKind::Entries {
            list,
            elem,
            key,
            value,
        } = &self.kind
        else {
            unreachable!()
        };
        let i = self.index;
        if i >= list.len {
            return Err(Error::data("map has more entries than it announced"));
        }
        let Target::Group(b) = element_target(self.ctx, list, elem, i) else {
            unreachable!()
        };
        let (node, brand) = match &**elem {
            Type::Struct(n, b) => (*n, b.clone()),
            _ => unreachable!(),
        };
        let pool = self.ctx.pool;
        let s = pool.node(node).as_struct().expect("struct");
        let f = &s.fields[if which { *value } else { *key } as usize];
        let ty = field_type(&f.slot, brand.as_deref());
        v.serialize(ValueSer {
            ctx: &mut *self.ctx,
            ty,
            target: field_target(b, &f.slot),
        })
        .map_err(|e| {
            e.in_field(if which { "value" } else { "key" })
                .at_index(i as u64)
        })
    }
}

impl ser::SerializeMap for MapSer<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<()> {
        match &mut self.kind {
            MapKind::Struct { key: k, .. } => {
                *k = Some(key.serialize(KeyCapture)?);
                Ok(())
            }
            MapKind::Entries { .. } => self.entry_part(false, key),
            MapKind::Buffered(_, _, _, k, _) => {
                *k = Some(key.serialize(Capture)?);
                Ok(())
            }
        }
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        match &mut self.kind {
            MapKind::Struct {
                b,
                node,
                brand,
                key,
            } => {
                let key = key
                    .take()
                    .ok_or_else(|| Error::data("map value serialized before its key"))?;
                let mut st = StructSer::unplanned(&mut *self.ctx, *b, *node, brand.clone());
                match find_field(st.s, &key) {
                    Some(i) => st.field(i, &key, value),
                    None => st.unknown(&key, value),
                }
            }
            MapKind::Entries { .. } => {
                self.entry_part(true, value)?;
                self.index += 1;
                Ok(())
            }
            MapKind::Buffered(_, _, entries, k, _) => {
                let k = k
                    .take()
                    .ok_or_else(|| Error::data("map value serialized before its key"))?;
                entries.push((k, value.serialize(Capture)?));
                Ok(())
            }
        }
    }

    #[inline]
    fn end(self) -> Result<()> {
        if self.entered {
            self.ctx.leave();
        }
        match self.kind {
            MapKind::Entries { list, .. } if self.index != list.len => Err(Error::data(format!(
                "map has {} entries but announced {}",
                self.index, list.len
            ))),
            MapKind::Buffered(_, _, entries, _, Some(announced)) if entries.len() != announced => {
                Err(Error::data(format!(
                    "map has {} entries but announced {announced}",
                    entries.len()
                )))
            }
            MapKind::Buffered(ty, target, entries, _, _) => {
                // The count is now known, so the entries are laid out whatever their number.
                let (key, value) = match &*ty {
                    Type::List(elem) => match &**elem {
                        Type::Struct(n, _) => {
                            let s = self.ctx.pool.node(*n).as_struct().expect("struct");
                            (s.field_index("key"), s.field_index("value"))
                        }
                        _ => (None, None),
                    },
                    _ => (None, None),
                };
                let (Some(key), Some(value)) = (key, value) else {
                    // Only a list of entry structs is buffered; anything else is written as
                    // the general path writes it, which reports the mismatch.
                    return Content::Map(entries).serialize(ValueSer {
                        ctx: self.ctx,
                        ty,
                        target,
                    });
                };
                let mut map = ValueSer {
                    ctx: self.ctx,
                    ty,
                    target,
                }
                .entries_in_place(entries.len(), key, value)?;
                for (k, v) in &entries {
                    ser::SerializeMap::serialize_entry(&mut map, k, v)?;
                }
                ser::SerializeMap::end(map)
            }
            _ => Ok(()),
        }
    }
}

/// Declares the associated types of a serializer that accepts only scalars, and rejects every
/// compound value with `$msg`.
macro_rules! scalar_only {
    ($ok:ty, $msg:expr) => {
        type Ok = $ok;
        type Error = Error;
        type SerializeSeq = ser::Impossible<$ok, Error>;
        type SerializeTuple = ser::Impossible<$ok, Error>;
        type SerializeTupleStruct = ser::Impossible<$ok, Error>;
        type SerializeTupleVariant = ser::Impossible<$ok, Error>;
        type SerializeMap = ser::Impossible<$ok, Error>;
        type SerializeStruct = ser::Impossible<$ok, Error>;
        type SerializeStructVariant = ser::Impossible<$ok, Error>;

        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
            Err(Error::data($msg))
        }
        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
            Err(Error::data($msg))
        }
        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct> {
            Err(Error::data($msg))
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant> {
            Err(Error::data($msg))
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
            Err(Error::data($msg))
        }
        fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
            Err(Error::data($msg))
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant> {
            Err(Error::data($msg))
        }
        fn serialize_some<T: ?Sized + Serialize>(self, v: &T) -> Result<$ok> {
            v.serialize(self)
        }
        fn serialize_newtype_struct<T: ?Sized + Serialize>(
            self,
            _: &'static str,
            v: &T,
        ) -> Result<$ok> {
            v.serialize(self)
        }
        fn serialize_newtype_variant<T: ?Sized + Serialize>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<$ok> {
            Err(Error::data($msg))
        }
        fn serialize_none(self) -> Result<$ok> {
            Err(Error::data($msg))
        }
        fn serialize_unit(self) -> Result<$ok> {
            Err(Error::data($msg))
        }
        fn serialize_unit_struct(self, _: &'static str) -> Result<$ok> {
            Err(Error::data($msg))
        }
    };
}

/// Scalar methods that reject their value with `$msg`.
macro_rules! reject {
    ($ok:ty, $msg:expr, $($f:ident: $t:ty),*) => {
        $(fn $f(self, _: $t) -> Result<$ok> {
            Err(Error::data($msg))
        })*
    };
}

const KEY_NOT_STRING: &str = "a map written as a struct must have string keys";

/// Captures a map key that must be a string (a struct field name).
struct KeyCapture;

impl ser::Serializer for KeyCapture {
    scalar_only!(String, KEY_NOT_STRING);
    reject!(String, KEY_NOT_STRING, serialize_bool: bool, serialize_i8: i8, serialize_i16: i16,
        serialize_i32: i32, serialize_i64: i64, serialize_u8: u8, serialize_u16: u16,
        serialize_u32: u32, serialize_u64: u64, serialize_f32: f32, serialize_f64: f64,
        serialize_bytes: &[u8]);

    fn serialize_str(self, v: &str) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_char(self, v: char) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, v: &'static str) -> Result<String> {
        Ok(v.to_string())
    }
}

const NOT_A_BYTE: &str = "elements of a `Data` field must be integers from 0 to 255";

/// Captures one element of a byte sequence written into a Data field.
struct ByteCapture;

impl ByteCapture {
    fn byte(v: i128) -> Result<u8> {
        u8::try_from(v)
            .map_err(|_| Error::data(format!("integer {v} is out of range for a byte of `Data`")))
    }
}

macro_rules! byte_from_int {
    ($($f:ident: $t:ty),*) => {
        $(fn $f(self, v: $t) -> Result<u8> { Self::byte(v as i128) })*
    };
}

impl ser::Serializer for ByteCapture {
    scalar_only!(u8, NOT_A_BYTE);
    byte_from_int!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64);
    reject!(u8, NOT_A_BYTE, serialize_bool: bool, serialize_f32: f32, serialize_f64: f64,
        serialize_char: char, serialize_str: &str, serialize_bytes: &[u8]);

    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<u8> {
        Err(Error::data(NOT_A_BYTE))
    }
}
