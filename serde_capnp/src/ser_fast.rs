//! Specialized serializers for the common cases a plan can predict: a primitive written into a
//! data slot of its own type, Text into a pointer, a struct into a pointer or a list element.
//! Anything else falls back to the general [`ValueSer`].

use std::borrow::Cow;
use std::cell::Cell;

use serde::ser::{self, Serialize};
use serde_capnp_schema::{NodeIndex, StructNode, Type};

use crate::error::{Error, Result};
use crate::ser::{Ctx, StructSer, Target, ValueSer};
use crate::ser_list::{MapSer, SeqSer};
use crate::wire::StructB;

/// Forwards the listed `Serializer` methods to the general serializer.
macro_rules! forward {
    ($($name:ident($($arg:ident: $t:ty),*) -> $ret:ty;)*) => {
        $(
            #[inline]
            fn $name(self, $($arg: $t),*) -> Result<$ret> {
                self.general().$name($($arg),*)
            }
        )*
    };
}

/// The generic `Serializer` methods every fast serializer forwards the same way.
macro_rules! forward_generic {
    () => {
        #[inline]
        fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<()> {
            value.serialize(self)
        }
        #[inline]
        fn serialize_newtype_struct<T: ?Sized + Serialize>(
            self,
            name: &'static str,
            value: &T,
        ) -> Result<()> {
            if name == crate::value::UNKNOWN_ENUMERANT || name == crate::ser::CAPABILITY {
                return self.general().serialize_newtype_struct(name, value);
            }
            value.serialize(self)
        }
        fn serialize_newtype_variant<T: ?Sized + Serialize>(
            self,
            name: &'static str,
            index: u32,
            variant: &'static str,
            value: &T,
        ) -> Result<()> {
            self.general()
                .serialize_newtype_variant(name, index, variant, value)
        }
        fn is_human_readable(&self) -> bool {
            false
        }
    };
}

macro_rules! types {
    () => {
        type Ok = ();
        type Error = Error;
        type SerializeSeq = SeqSer<'c, 's>;
        type SerializeTuple = SeqSer<'c, 's>;
        type SerializeTupleStruct = SeqSer<'c, 's>;
        type SerializeTupleVariant = SeqSer<'c, 's>;
        type SerializeMap = MapSer<'c, 's>;
        type SerializeStruct = StructSer<'c, 's>;
        type SerializeStructVariant = StructSer<'c, 's>;
    };
}

/// The methods every fast serializer hands to the general one.
macro_rules! forward_common {
    () => {
        forward! {
            serialize_i128(v: i128) -> ();
            serialize_u128(v: u128) -> ();
            serialize_char(v: char) -> ();
            serialize_unit() -> ();
            serialize_unit_struct(name: &'static str) -> ();
            serialize_seq(len: Option<usize>) -> SeqSer<'c, 's>;
            serialize_tuple(len: usize) -> SeqSer<'c, 's>;
            serialize_tuple_struct(name: &'static str, len: usize) -> SeqSer<'c, 's>;
            serialize_tuple_variant(name: &'static str, index: u32, variant: &'static str, len: usize) -> SeqSer<'c, 's>;
            serialize_map(len: Option<usize>) -> MapSer<'c, 's>;
            serialize_struct_variant(name: &'static str, index: u32, variant: &'static str, len: usize) -> StructSer<'c, 's>;
        }
    };
}

/// The primitive methods, for the fast serializers that have no shortcut for them.
macro_rules! forward_numbers {
    () => {
        forward! {
            serialize_bool(v: bool) -> ();
            serialize_i8(v: i8) -> ();
            serialize_i16(v: i16) -> ();
            serialize_i32(v: i32) -> ();
            serialize_i64(v: i64) -> ();
            serialize_u8(v: u8) -> ();
            serialize_u16(v: u16) -> ();
            serialize_u32(v: u32) -> ();
            serialize_u64(v: u64) -> ();
            serialize_f32(v: f32) -> ();
            serialize_f64(v: f64) -> ();
        }
    };
}

/// A value for a data-section slot whose schema type the plan knows.
pub(crate) struct DataSer<'c, 's> {
    pub ctx: &'c mut Ctx<'s>,
    pub ty: &'s Type,
    pub base: usize,
    pub at: u64,
    pub bits: u32,
    pub default: u64,
}

impl<'c, 's> DataSer<'c, 's> {
    #[inline]
    fn general(self) -> ValueSer<'c, 's> {
        ValueSer {
            ctx: self.ctx,
            ty: Cow::Borrowed(self.ty),
            target: Target::Data {
                base: self.base,
                at: self.at,
                bits: self.bits,
                default: self.default,
            },
        }
    }

    #[inline(always)]
    fn store<const N: usize>(self, bytes: [u8; N]) -> Result<()> {
        let off = self.base + (self.at / 8) as usize;
        // Widen to a word, XOR with the default there, and store the low N bytes: one load-free
        // store rather than N byte stores.
        let mut word = [0u8; 8];
        word[..N].copy_from_slice(&bytes);
        let stored = (u64::from_le_bytes(word) ^ self.default).to_le_bytes();
        self.ctx.out.buf[off..off + N].copy_from_slice(&stored[..N]);
        Ok(())
    }
}

/// Fast primitive methods: the Rust type equals the schema type, so the value is stored as is.
macro_rules! fast_primitive {
    ($($name:ident($t:ty) => $variant:ident,)*) => {
        $(
            #[inline]
            fn $name(self, v: $t) -> Result<()> {
                if let Type::$variant = self.ty {
                    self.store(v.to_le_bytes())
                } else {
                    self.general().$name(v)
                }
            }
        )*
    };
}

impl<'c, 's> ser::Serializer for DataSer<'c, 's> {
    types!();
    forward_generic!();

    fast_primitive! {
        serialize_i8(i8) => Int8,
        serialize_i16(i16) => Int16,
        serialize_i32(i32) => Int32,
        serialize_i64(i64) => Int64,
        serialize_u8(u8) => UInt8,
        serialize_u16(u16) => UInt16,
        serialize_u32(u32) => UInt32,
        serialize_u64(u64) => UInt64,
        serialize_f32(f32) => Float32,
        serialize_f64(f64) => Float64,
    }

    #[inline]
    fn serialize_bool(self, v: bool) -> Result<()> {
        if let Type::Bool = self.ty {
            let off = self.base + (self.at / 8) as usize;
            let bit = 1u8 << (self.at % 8);
            let v = v ^ (self.default & 1 != 0);
            let b = &mut self.ctx.out.buf[off];
            *b = if v { *b | bit } else { *b & !bit };
            Ok(())
        } else {
            self.general().serialize_bool(v)
        }
    }

    #[inline]
    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<()> {
        if let Type::Enum(node) = *self.ty {
            let i = self.ctx.enumerant(node, variant)?;
            self.store(i.to_le_bytes())
        } else {
            self.general().serialize_unit_variant(name, index, variant)
        }
    }

    forward_common!();
    forward! {
        serialize_str(v: &str) -> ();
        serialize_bytes(v: &[u8]) -> ();
        serialize_none() -> ();
        serialize_struct(name: &'static str, len: usize) -> StructSer<'c, 's>;
    }
}

/// A value for a pointer slot whose schema type the plan knows.
pub(crate) struct PtrSer<'c, 's> {
    pub ctx: &'c mut Ctx<'s>,
    pub ty: &'s Type,
    pub off: usize,
    /// The nested plan the step remembers (see `Fast::Ptr`).
    pub nested: &'c Cell<(usize, u32)>,
}

impl<'c, 's> PtrSer<'c, 's> {
    #[inline]
    fn general(self) -> ValueSer<'c, 's> {
        ValueSer {
            ctx: self.ctx,
            ty: Cow::Borrowed(self.ty),
            target: Target::Ptr(self.off),
        }
    }
}

impl<'c, 's> ser::Serializer for PtrSer<'c, 's> {
    types!();
    forward_generic!();

    #[inline]
    fn serialize_str(self, v: &str) -> Result<()> {
        if let Type::Text = self.ty {
            self.ctx.out.set_blob(self.off, v.as_bytes(), true)
        } else {
            self.general().serialize_str(v)
        }
    }

    #[inline]
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        if let Type::Data = self.ty {
            self.ctx.out.set_blob(self.off, v, false)
        } else {
            self.general().serialize_bytes(v)
        }
    }

    #[inline]
    fn serialize_none(self) -> Result<()> {
        Ok(())
    }

    #[inline]
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<StructSer<'c, 's>> {
        if let Type::Struct(node, None) = *self.ty {
            let s = self.ctx.pool.node(node).as_struct().expect("struct type");
            self.ctx.enter()?;
            let b = self
                .ctx
                .out
                .init_struct(self.off, s.data_words, s.pointer_count)?;
            let key = name.as_ptr() as usize;
            let (known, plan) = self.nested.get();
            let plan = if known == key {
                plan
            } else {
                let plan = self.ctx.plan_for(node, name);
                self.nested.set((key, plan));
                plan
            };
            let mut st = StructSer::new(self.ctx, b, node, s, None, plan);
            st.entered = 1;
            Ok(st)
        } else {
            self.general().serialize_struct(name, len)
        }
    }

    forward_common!();
    forward_numbers!();
    forward! {
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str) -> ();
    }
}

/// An element of a list of structs of a non-generic type.
pub(crate) struct ElemSer<'c, 's> {
    pub ctx: &'c mut Ctx<'s>,
    pub ty: &'s Type,
    pub b: StructB,
    pub node: NodeIndex,
    pub s: &'s StructNode,
    /// The plan used by the previous element, keyed by serde's struct name.
    pub cache: &'c mut Option<(usize, u32)>,
}

impl<'c, 's> ElemSer<'c, 's> {
    #[inline]
    fn general(self) -> ValueSer<'c, 's> {
        ValueSer {
            ctx: self.ctx,
            ty: Cow::Borrowed(self.ty),
            target: Target::Group(self.b),
        }
    }
}

impl<'c, 's> ser::Serializer for ElemSer<'c, 's> {
    types!();
    forward_generic!();

    #[inline]
    fn serialize_struct(self, name: &'static str, _len: usize) -> Result<StructSer<'c, 's>> {
        let key = name.as_ptr() as usize;
        let plan = match *self.cache {
            Some((k, p)) if k == key => p,
            _ => {
                let p = self.ctx.plan_for(self.node, name);
                *self.cache = Some((key, p));
                p
            }
        };
        Ok(StructSer::new(
            self.ctx, self.b, self.node, self.s, None, plan,
        ))
    }

    forward_common!();
    forward_numbers!();
    forward! {
        serialize_str(v: &str) -> ();
        serialize_bytes(v: &[u8]) -> ();
        serialize_none() -> ();
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str) -> ();
    }
}
