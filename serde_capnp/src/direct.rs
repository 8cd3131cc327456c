//! The direct path of bound types: what `#[derive(Capnp)]` generates to write and read a type
//! without serde's per-field protocol.
//!
//! The macro knows the schema when it expands, so it emits, for each field, the store or load
//! at the field's offset, and calls the nested bound types' own direct code. Everything it does
//! goes through the same bounds-checked wire module, the same traversal budget, nesting depth
//! and stack check as the serde path, in the same order, so that a message gives the same bytes,
//! the same values and the same errors either way. A field the macro cannot reproduce
//! (`serialize_with`, a type it cannot see into) goes through the serde path for that field
//! only ([`Writer::fallback`], [`Reader::fallback`]).
//!
//! Nested fields dispatch on their Rust type at compile time through [`Via`]: its inherent
//! functions apply when the type has a direct path, the traits' (the serde path) otherwise.

use std::marker::PhantomData;

use serde::de::Deserialize;
use serde::Serialize;
use serde_capnp_schema::{NodeIndex, SchemaPool, StructNode};

use crate::de::{self, field_src, DeCtx, ValueDe};
use crate::error::{Error, Result};
use crate::ser::{field_target, field_type, Ctx, ValueSer};
use crate::wire::{read_bits, Depth, ElemSize, Expect, Msg, Out, PtrRef, StructB, StructRef};
use crate::{CapnpRead, CapnpStruct, StructSchema};

/// A message being written by the direct path.
pub struct Writer<'s> {
    ctx: Ctx<'s>,
}

/// A struct being written: where its sections are.
#[derive(Clone, Copy)]
pub struct At(StructB);

/// A message being read by the direct path.
pub struct Reader<'de> {
    ctx: DeCtx<'de>,
}

/// A struct being read.
#[derive(Clone, Copy)]
pub struct In<'de>(StructRef<'de>);

/// A struct type whose fields the macro writes directly.
pub trait DirectWrite {
    /// The node's data section, in words.
    const DATA_WORDS: u16;
    /// The node's pointer section.
    const POINTER_COUNT: u16;
    /// Writes the fields into a struct already laid out with this node's sizes.
    fn write_fields(&self, w: &mut Writer<'_>, at: At) -> Result<()>;
}

/// A struct type whose fields the macro reads directly from a message that lives for `'de`.
///
/// The lifetime is the trait's, as it is serde's `Deserialize<'de>`, so that a type that
/// borrows from the message gets it the way serde's derive does: `impl<'de: 'a, 'a>
/// DirectRead<'de> for T<'a>`, whose `read_fields` may hand the message's `&'de str` out as
/// the field's `&'a str`. An owned type implements it for every `'de`.
pub trait DirectRead<'de>: Sized {
    /// The node's data section, in words.
    const DATA_WORDS: u16;
    /// The node's pointer section.
    const POINTER_COUNT: u16;
    /// How many fields the node has, for the charge of a struct shorter than its schema.
    const FIELD_COUNT: usize;
    /// Reads the fields of `s`.
    fn read_fields(r: &mut Reader<'de>, s: In<'de>) -> Result<Self>;
}

/// A Rust enum bound to a schema enum, mapped to its ordinals.
pub trait DirectEnum: Sized {
    /// The ordinal the variant is written as.
    fn ordinal(&self) -> Result<u16>;
    /// The variant for ordinal `value`.
    fn from_ordinal(value: u16) -> Result<Self>;
}

/// Adds a field name to an error's path.
#[cold]
#[inline(never)]
pub fn in_field(e: Error, key: &'static str) -> Error {
    e.in_field(key)
}

/// A data error with `message`, for the macro's enum mapping.
#[cold]
#[inline(never)]
pub fn data_error(message: String) -> Error {
    Error::data(message)
}

/// The node with ID `id` in the pool being used.
#[cold]
fn node_of(pool: &SchemaPool, id: u64) -> Result<(NodeIndex, &StructNode)> {
    let n = pool
        .index_of(id)
        .ok_or_else(|| Error::schema(format!("no node with ID {id:#x} in the schema")))?;
    let s = pool
        .node(n)
        .as_struct()
        .ok_or_else(|| Error::schema(format!("node {id:#x} is not a struct")))?;
    Ok((n, s))
}

impl<'s> Writer<'s> {
    /// Stores `bits` bits of `value` at bit `bit` of the data section.
    #[inline(always)]
    pub fn bits(&mut self, at: At, bit: u64, bits: u32, value: u64) {
        self.ctx.out.write_bits(at.0.data, bit, bits, value);
    }

    /// Writes Text into pointer `ptr`.
    #[inline(always)]
    pub fn text(&mut self, at: At, ptr: u16, value: &str) -> Result<()> {
        self.ctx
            .out
            .set_blob(at.0.ptrs + ptr as usize * 8, value.as_bytes(), true)
    }

    /// Writes a list of Text into pointer `ptr`.
    #[inline]
    pub fn text_list<S: AsRef<str>>(&mut self, at: At, ptr: u16, items: &[S]) -> Result<()> {
        self.ctx.enter()?;
        let len = u32::try_from(items.len()).map_err(|_| Error::limit("sequence is too long"))?;
        let list = self
            .ctx
            .out
            .init_list(at.0.ptrs + ptr as usize * 8, ElemSize::Pointer, len)?;
        for (i, item) in items.iter().enumerate() {
            let bytes = item.as_ref().as_bytes();
            if let Err(e) = self.ctx.out.set_blob(list.start + i * 8, bytes, true) {
                return Err(e.at_index(i as u64));
            }
        }
        self.ctx.leave();
        Ok(())
    }

    /// Writes field `field` of the struct `node` (its ID) through the serde path.
    #[inline(never)]
    pub fn fallback<T: ?Sized + Serialize>(
        &mut self,
        at: At,
        node: u64,
        field: u16,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        let pool = self.ctx.pool;
        let (_, s) = node_of(pool, node)?;
        let f = s
            .fields
            .get(field as usize)
            .ok_or_else(|| Error::schema(format!("node {node:#x} has no field {field}")))?;
        value
            .serialize(ValueSer {
                ctx: &mut self.ctx,
                ty: field_type(&f.slot, None),
                target: field_target(at.0, &f.slot),
            })
            .map_err(|e| e.in_field(key))
    }
}

impl<'de> Reader<'de> {
    /// Loads `bits` bits at bit `bit` of the data section (zero past its end).
    #[inline(always)]
    pub fn bits(&self, s: In<'de>, bit: u64, bits: u32) -> u64 {
        read_bits(s.0.data, bit, bits)
    }

    /// Reads the Text in pointer `ptr` ("" when null or absent).
    #[inline(always)]
    pub fn text(&self, s: In<'de>, ptr: u16) -> Result<&'de str> {
        match s.0.pointer(ptr) {
            Some(p) => Ok(self.ctx.msg.read_text(p)?.unwrap_or("")),
            None => Ok(""),
        }
    }

    /// Reads the Text in pointer `ptr`, `None` when null or absent.
    #[inline(always)]
    pub fn text_option(&self, s: In<'de>, ptr: u16) -> Result<Option<&'de str>> {
        match s.0.pointer(ptr) {
            Some(p) if !Msg::is_null(p) => Ok(Some(self.ctx.msg.read_text(p)?.unwrap_or(""))),
            _ => Ok(None),
        }
    }

    /// Reads the Data in pointer `ptr` (empty when null or absent).
    #[inline(always)]
    pub fn data(&self, s: In<'de>, ptr: u16) -> Result<&'de [u8]> {
        match s.0.pointer(ptr) {
            Some(p) => Ok(self.ctx.msg.read_blob(p)?.unwrap_or(&[])),
            None => Ok(&[]),
        }
    }

    /// Reads the Data in pointer `ptr`, `None` when null or absent.
    #[inline(always)]
    pub fn data_option(&self, s: In<'de>, ptr: u16) -> Result<Option<&'de [u8]>> {
        match s.0.pointer(ptr) {
            Some(p) if !Msg::is_null(p) => Ok(Some(self.ctx.msg.read_blob(p)?.unwrap_or(&[]))),
            _ => Ok(None),
        }
    }

    /// Reads the list of Text in pointer `ptr` (empty when null or absent).
    #[inline]
    pub fn text_list(&mut self, s: In<'de>, ptr: u16) -> Result<Vec<String>> {
        let Some(p) = s.0.pointer(ptr).filter(|p| !Msg::is_null(*p)) else {
            return Ok(Vec::new());
        };
        let Some(list) = self.ctx.msg.read_list(p, Expect::Pointer)? else {
            return Ok(Vec::new());
        };
        self.ctx.enter()?;
        let cautious = (1024 * 1024 / std::mem::size_of::<String>()).min(list.len as usize);
        let mut out = Vec::with_capacity(cautious);
        for i in 0..list.len {
            match self.ctx.msg.read_text(list.pointer_element(i)) {
                Ok(text) => out.push(text.unwrap_or("").to_owned()),
                Err(e) => return Err(e.at_index(i as u64)),
            }
        }
        self.ctx.leave();
        Ok(out)
    }

    /// Reads field `field` of the struct `node` (its ID) through the serde path.
    #[inline(never)]
    pub fn fallback<T: Deserialize<'de>>(
        &mut self,
        s: In<'de>,
        node: u64,
        field: u16,
        key: &'static str,
    ) -> Result<T> {
        let pool: &'de SchemaPool = self.ctx.pool;
        let (_, st) = node_of(pool, node)?;
        let f = st
            .fields
            .get(field as usize)
            .ok_or_else(|| Error::schema(format!("node {node:#x} has no field {field}")))?;
        T::deserialize(ValueDe {
            ctx: &mut self.ctx,
            ty: field_type(&f.slot, None),
            src: field_src(s.0, &f.slot),
        })
        .map_err(|e| e.in_field(key))
    }
}

/// Compile-time dispatch on a field's Rust type: the inherent functions when it has a direct
/// path, [`ViaSerdeWrite`] and [`ViaSerdeRead`] (the serde path) otherwise.
pub struct Via<T: ?Sized>(PhantomData<T>);

impl<T: DirectWrite> Via<T> {
    /// Writes a struct into pointer `ptr`.
    #[inline(always)]
    pub fn write_struct(
        w: &mut Writer<'_>,
        value: &T,
        at: At,
        ptr: u16,
        _node: u64,
        _field: u16,
        key: &'static str,
    ) -> Result<()> {
        match Self::write_struct_at(w, value, at.0.ptrs + ptr as usize * 8) {
            Ok(()) => Ok(()),
            Err(e) => Err(in_field(e, key)),
        }
    }

    #[inline(always)]
    fn write_struct_at(w: &mut Writer<'_>, value: &T, ptr: usize) -> Result<()> {
        w.ctx.enter()?;
        let b = w
            .ctx
            .out
            .init_struct(ptr, T::DATA_WORDS, T::POINTER_COUNT)?;
        value.write_fields(w, At(b))?;
        w.ctx.leave();
        Ok(())
    }

    /// Writes a list of structs into pointer `ptr`, each element in place.
    #[inline]
    pub fn write_list(
        w: &mut Writer<'_>,
        items: &[T],
        at: At,
        ptr: u16,
        _node: u64,
        _field: u16,
        key: &'static str,
    ) -> Result<()> {
        match Self::write_list_at(w, items, at.0.ptrs + ptr as usize * 8) {
            Ok(()) => Ok(()),
            Err(e) => Err(in_field(e, key)),
        }
    }

    #[inline]
    fn write_list_at(w: &mut Writer<'_>, items: &[T], ptr: usize) -> Result<()> {
        w.ctx.enter()?;
        let len = u32::try_from(items.len()).map_err(|_| Error::limit("sequence is too long"))?;
        let list = w
            .ctx
            .out
            .init_struct_list(ptr, len, T::DATA_WORDS, T::POINTER_COUNT)?;
        let step = (T::DATA_WORDS as usize + T::POINTER_COUNT as usize) * 8;
        let mut data = list.start;
        for (i, item) in items.iter().enumerate() {
            let b = StructB {
                data,
                ptrs: data + T::DATA_WORDS as usize * 8,
            };
            if let Err(e) = item.write_fields(w, At(b)) {
                return Err(e.at_index(i as u64));
            }
            data += step;
        }
        w.ctx.leave();
        Ok(())
    }
}

/// The serde path for a field whose type has no direct writing.
pub trait ViaSerdeWrite<T> {
    /// Writes `value` into the field.
    fn write_struct(
        w: &mut Writer<'_>,
        value: &T,
        at: At,
        ptr: u16,
        node: u64,
        field: u16,
        key: &'static str,
    ) -> Result<()>;
    /// Writes `items` into the field.
    fn write_list(
        w: &mut Writer<'_>,
        items: &[T],
        at: At,
        ptr: u16,
        node: u64,
        field: u16,
        key: &'static str,
    ) -> Result<()>;
}

impl<T: Serialize> ViaSerdeWrite<T> for Via<T> {
    fn write_struct(
        w: &mut Writer<'_>,
        value: &T,
        at: At,
        _ptr: u16,
        node: u64,
        field: u16,
        key: &'static str,
    ) -> Result<()> {
        w.fallback(at, node, field, key, value)
    }

    fn write_list(
        w: &mut Writer<'_>,
        items: &[T],
        at: At,
        _ptr: u16,
        node: u64,
        field: u16,
        key: &'static str,
    ) -> Result<()> {
        w.fallback(at, node, field, key, items)
    }
}

impl<'de, T: DirectRead<'de>> Via<T> {
    #[inline(always)]
    fn read_at(r: &mut Reader<'de>, s: StructRef<'de>) -> Result<T> {
        r.ctx.enter()?;
        r.ctx
            .msg
            .charge_defaults_of(&s, T::DATA_WORDS, T::POINTER_COUNT, T::FIELD_COUNT)?;
        let v = T::read_fields(r, In(s))?;
        r.ctx.leave();
        Ok(v)
    }

    /// Reads the struct in pointer `ptr` (its defaults when null).
    #[inline(always)]
    pub fn read_struct(
        r: &mut Reader<'de>,
        s: In<'de>,
        ptr: u16,
        _node: u64,
        _field: u16,
        key: &'static str,
    ) -> Result<T> {
        let st = match s.0.pointer(ptr) {
            Some(p) => match r.ctx.msg.read_struct(p) {
                Ok(st) => st.unwrap_or_else(StructRef::empty),
                Err(e) => return Err(in_field(e, key)),
            },
            None => StructRef::empty(),
        };
        match Self::read_at(r, st) {
            Ok(v) => Ok(v),
            Err(e) => Err(in_field(e, key)),
        }
    }

    /// Reads the struct in pointer `ptr`, `None` when null.
    #[inline(always)]
    pub fn read_option(
        r: &mut Reader<'de>,
        s: In<'de>,
        ptr: u16,
        node: u64,
        field: u16,
        key: &'static str,
    ) -> Result<Option<T>> {
        match s.0.pointer(ptr) {
            Some(p) if !Msg::is_null(p) => Self::read_struct(r, s, ptr, node, field, key).map(Some),
            _ => Ok(None),
        }
    }

    /// Reads the list of structs in pointer `ptr` (empty when null).
    #[inline]
    pub fn read_list(
        r: &mut Reader<'de>,
        s: In<'de>,
        ptr: u16,
        _node: u64,
        _field: u16,
        key: &'static str,
    ) -> Result<Vec<T>> {
        let Some(p) = s.0.pointer(ptr).filter(|p| !Msg::is_null(*p)) else {
            return Ok(Vec::new());
        };
        match Self::read_list_at(r, p) {
            Ok(v) => Ok(v),
            Err(e) => Err(in_field(e, key)),
        }
    }

    #[inline]
    fn read_list_at(r: &mut Reader<'de>, p: PtrRef<'de>) -> Result<Vec<T>> {
        let Some(list) = r.ctx.msg.read_list(p, Expect::Struct)? else {
            return Ok(Vec::new());
        };
        r.ctx.enter()?;
        // As serde's `Vec` does: no more than 1 MiB reserved on the word of a length.
        let cautious = (1024 * 1024 / std::mem::size_of::<T>().max(1)).min(list.len as usize);
        let mut out = Vec::with_capacity(cautious);
        for i in 0..list.len {
            let e = list.struct_element(i);
            let v = r
                .ctx
                .msg
                .charge_defaults_of(&e, T::DATA_WORDS, T::POINTER_COUNT, T::FIELD_COUNT)
                .and_then(|()| T::read_fields(r, In(e)));
            match v {
                Ok(v) => out.push(v),
                Err(e) => return Err(e.at_index(i as u64)),
            }
        }
        r.ctx.leave();
        Ok(out)
    }
}

/// The serde path for a field whose type has no direct reading.
pub trait ViaSerdeRead<'de, T> {
    /// Reads the field.
    fn read_struct(
        r: &mut Reader<'de>,
        s: In<'de>,
        ptr: u16,
        node: u64,
        field: u16,
        key: &'static str,
    ) -> Result<T>;
    /// Reads the field as an `Option`.
    fn read_option(
        r: &mut Reader<'de>,
        s: In<'de>,
        ptr: u16,
        node: u64,
        field: u16,
        key: &'static str,
    ) -> Result<Option<T>>;
    /// Reads the field as a list.
    fn read_list(
        r: &mut Reader<'de>,
        s: In<'de>,
        ptr: u16,
        node: u64,
        field: u16,
        key: &'static str,
    ) -> Result<Vec<T>>;
}

impl<'de, T: Deserialize<'de>> ViaSerdeRead<'de, T> for Via<T> {
    fn read_struct(
        r: &mut Reader<'de>,
        s: In<'de>,
        _ptr: u16,
        node: u64,
        field: u16,
        key: &'static str,
    ) -> Result<T> {
        r.fallback(s, node, field, key)
    }

    fn read_option(
        r: &mut Reader<'de>,
        s: In<'de>,
        _ptr: u16,
        node: u64,
        field: u16,
        key: &'static str,
    ) -> Result<Option<T>> {
        r.fallback(s, node, field, key)
    }

    fn read_list(
        r: &mut Reader<'de>,
        s: In<'de>,
        _ptr: u16,
        node: u64,
        field: u16,
        key: &'static str,
    ) -> Result<Vec<T>> {
        r.fallback(s, node, field, key)
    }
}

impl<T: DirectEnum> Via<T> {
    /// Writes the enum's ordinal (XOR `default`) at bit `bit`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub fn write_enum(
        w: &mut Writer<'_>,
        value: &T,
        at: At,
        bit: u64,
        default: u64,
        _node: u64,
        _field: u16,
        key: &'static str,
    ) -> Result<()> {
        let v = match value.ordinal() {
            Ok(v) => v,
            Err(e) => return Err(in_field(e, key)),
        };
        w.bits(at, bit, 16, v as u64 ^ default);
        Ok(())
    }

    /// Reads the enum at bit `bit`.
    #[inline(always)]
    pub fn read_enum<'de>(
        r: &mut Reader<'de>,
        s: In<'de>,
        bit: u64,
        default: u64,
        _node: u64,
        _field: u16,
        key: &'static str,
    ) -> Result<T> {
        match T::from_ordinal((r.bits(s, bit, 16) ^ default) as u16) {
            Ok(v) => Ok(v),
            Err(e) => Err(in_field(e, key)),
        }
    }
}

/// The serde path for writing an enum field whose type has no direct mapping.
pub trait ViaSerdeEnumWrite<T> {
    /// Writes the field.
    #[allow(clippy::too_many_arguments)]
    fn write_enum(
        w: &mut Writer<'_>,
        value: &T,
        at: At,
        bit: u64,
        default: u64,
        node: u64,
        field: u16,
        key: &'static str,
    ) -> Result<()>;
}

impl<T: Serialize> ViaSerdeEnumWrite<T> for Via<T> {
    fn write_enum(
        w: &mut Writer<'_>,
        value: &T,
        at: At,
        _bit: u64,
        _default: u64,
        node: u64,
        field: u16,
        key: &'static str,
    ) -> Result<()> {
        w.fallback(at, node, field, key, value)
    }
}

/// The serde path for reading an enum field whose type has no direct mapping.
pub trait ViaSerdeEnumRead<'de, T> {
    /// Reads the field.
    fn read_enum(
        r: &mut Reader<'de>,
        s: In<'de>,
        bit: u64,
        default: u64,
        node: u64,
        field: u16,
        key: &'static str,
    ) -> Result<T>;
}

impl<'de, T: Deserialize<'de>> ViaSerdeEnumRead<'de, T> for Via<T> {
    fn read_enum(
        r: &mut Reader<'de>,
        s: In<'de>,
        _bit: u64,
        _default: u64,
        node: u64,
        field: u16,
        key: &'static str,
    ) -> Result<T> {
        r.fallback(s, node, field, key)
    }
}

/// Writes `value` as the root of a message through the handle `st`.
pub(crate) fn write_root<T: ?Sized + CapnpStruct>(
    st: &StructSchema,
    value: &T,
    out: Out,
) -> Result<Vec<u8>> {
    let pool: &SchemaPool = &st.pool;
    let mut w = Writer {
        ctx: Ctx {
            pool,
            out,
            plans: st.plans.take_write(pool),
            depth: Depth::new(st.options.nesting_limit),
        },
    };
    let r = value.__write_direct(&mut w);
    st.plans.put_write(pool, w.ctx.plans);
    r?;
    Ok(w.ctx.out.finish())
}

/// Lays out the root struct and writes `value` into it; what the macro's
/// `CapnpStruct::__write_direct` calls.
#[inline]
pub fn write_root_fields<T: ?Sized + DirectWrite>(w: &mut Writer<'_>, value: &T) -> Result<()> {
    w.ctx.enter()?;
    let b = w
        .ctx
        .out
        .init_struct(Out::ROOT, T::DATA_WORDS, T::POINTER_COUNT)?;
    value.write_fields(w, At(b))?;
    w.ctx.leave();
    Ok(())
}

/// Reads the root of the message in `segments` through the handle `st`, by `T`'s direct path.
pub(crate) fn read_root<'de, T: CapnpRead<'de>>(
    st: &'de StructSchema,
    segments: Vec<&'de [u8]>,
) -> Result<T> {
    let limits = st.options.limits();
    let pool: &'de SchemaPool = &st.pool;
    let msg = Msg::new(segments, limits)?;
    let root = msg.root()?;
    let mut r = Reader {
        ctx: DeCtx {
            pool,
            msg,
            depth: Depth::new(limits.nesting),
            plans: st.plans.take_read(pool),
        },
    };
    let s = r.ctx.msg.read_struct(root);
    let v = match s {
        Ok(s) => T::__read_direct(&mut r, In(s.unwrap_or_else(StructRef::empty))),
        Err(e) => Err(e),
    };
    st.plans.put_read(pool, r.ctx.plans);
    v.map_err(|e| de::explain_missing(e, pool, &st.root_type()))
}

/// Reads the root struct's fields; what the macro's `CapnpRead::__read_direct` calls.
#[inline]
pub fn read_root_fields<'de, T: DirectRead<'de>>(r: &mut Reader<'de>, s: In<'de>) -> Result<T> {
    Via::<T>::read_at(r, s.0)
}

/// The error a type without a direct path gives if it is asked for one (never, as the
/// callers check first).
#[cold]
pub fn no_direct_path() -> Error {
    Error::schema("this type has no direct path")
}
