//! Specialized deserializers for what a plan can predict: a primitive read from a data slot of
//! its own type, Text behind a pointer, a struct behind a pointer or in a list. Anything else
//! falls back to the general [`ValueDe`].

use std::borrow::Cow;
use std::cell::Cell;

use serde::de::{self, Visitor};
use serde_capnp_schema::{NodeIndex, StructNode, Type, Value};

use crate::de::{DeCtx, Src, StructAccess, ValueDe};
use crate::error::{Error, Result};
use crate::wire::{read_bits, Msg, PtrRef, StructRef};

/// Forwards the listed `Deserializer` methods to the general deserializer.
macro_rules! forward {
    ($($name:ident($($arg:ident: $t:ty),*);)*) => {
        $(
            #[inline]
            fn $name<V: Visitor<'de>>(self, $($arg: $t,)* visitor: V) -> Result<V::Value> {
                self.general().$name($($arg,)* visitor)
            }
        )*
    };
}

/// The methods every fast deserializer hands to the general one.
macro_rules! forward_common {
    () => {
        forward! {
            deserialize_any();
            deserialize_i128();
            deserialize_u128();
            deserialize_char();
            deserialize_bytes();
            deserialize_byte_buf();
            deserialize_unit();
            deserialize_unit_struct(name: &'static str);
            deserialize_newtype_struct(name: &'static str);
            deserialize_seq();
            deserialize_tuple(len: usize);
            deserialize_tuple_struct(name: &'static str, len: usize);
            deserialize_map();
            deserialize_identifier();
            deserialize_ignored_any();
        }
    };
}

/// The primitive methods, for the fast deserializers that have no shortcut for them.
macro_rules! forward_numbers {
    () => {
        forward! {
            deserialize_bool();
            deserialize_i8();
            deserialize_i16();
            deserialize_i32();
            deserialize_i64();
            deserialize_u8();
            deserialize_u16();
            deserialize_u32();
            deserialize_u64();
            deserialize_f32();
            deserialize_f64();
        }
    };
}

/// A data-section slot whose schema type the plan knows.
pub(crate) struct DataDe<'c, 'de> {
    pub ctx: &'c mut DeCtx<'de>,
    pub ty: &'de Type,
    pub bytes: &'de [u8],
    pub at: u64,
    pub default: u64,
}

impl<'c, 'de> DataDe<'c, 'de> {
    #[inline]
    fn general(self) -> ValueDe<'c, 'de> {
        ValueDe {
            ctx: self.ctx,
            ty: Cow::Borrowed(self.ty),
            src: Src::Data {
                bytes: self.bytes,
                at: self.at,
                default: self.default,
            },
        }
    }
}

macro_rules! fast_primitive {
    ($($name:ident => $variant:ident, $visit:ident, $t:ty, $bits:expr, $conv:expr;)*) => {
        $(
            #[inline]
            fn $name<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
                if let Type::$variant = self.ty {
                    let raw = read_bits(self.bytes, self.at, $bits) ^ self.default;
                    let conv: fn(u64) -> $t = $conv;
                    visitor.$visit(conv(raw))
                } else {
                    self.general().$name(visitor)
                }
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for DataDe<'_, 'de> {
    type Error = Error;

    fn is_human_readable(&self) -> bool {
        false
    }

    fast_primitive! {
        deserialize_bool => Bool, visit_bool, bool, 1, |v| v != 0;
        deserialize_i8 => Int8, visit_i8, i8, 8, |v| v as i8;
        deserialize_i16 => Int16, visit_i16, i16, 16, |v| v as i16;
        deserialize_i32 => Int32, visit_i32, i32, 32, |v| v as i32;
        deserialize_i64 => Int64, visit_i64, i64, 64, |v| v as i64;
        deserialize_u8 => UInt8, visit_u8, u8, 8, |v| v as u8;
        deserialize_u16 => UInt16, visit_u16, u16, 16, |v| v as u16;
        deserialize_u32 => UInt32, visit_u32, u32, 32, |v| v as u32;
        deserialize_u64 => UInt64, visit_u64, u64, 64, |v| v;
        deserialize_f32 => Float32, visit_f32, f32, 32, |v| f32::from_bits(v as u32);
        deserialize_f64 => Float64, visit_f64, f64, 64, f64::from_bits;
    }

    #[inline]
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        if let Type::Enum(node) = *self.ty {
            let value = (read_bits(self.bytes, self.at, 16) ^ self.default) as u16;
            let rust = self.ctx.variant(node, value, variants)?;
            visitor.visit_enum(serde::de::value::BorrowedStrDeserializer::<Error>::new(
                rust,
            ))
        } else {
            self.general().deserialize_enum(name, variants, visitor)
        }
    }

    forward_common!();
    forward! {
        deserialize_str();
        deserialize_string();
        deserialize_option();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
    }
}

/// A pointer slot whose schema type the plan knows.
pub(crate) struct PtrDe<'c, 'de> {
    pub ctx: &'c mut DeCtx<'de>,
    pub ty: &'de Type,
    pub p: Option<PtrRef<'de>>,
    pub default: Option<&'de Value>,
}

impl<'c, 'de> PtrDe<'c, 'de> {
    #[inline]
    fn general(self) -> ValueDe<'c, 'de> {
        ValueDe {
            ctx: self.ctx,
            ty: Cow::Borrowed(self.ty),
            src: Src::Ptr(self.p, self.default),
        }
    }
}

impl<'de> de::Deserializer<'de> for PtrDe<'_, 'de> {
    type Error = Error;

    fn is_human_readable(&self) -> bool {
        false
    }

    #[inline]
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if let (Type::Text, None) = (self.ty, self.default) {
            let text = match self.p {
                Some(p) => self.ctx.msg.read_text(p)?.unwrap_or(""),
                None => "",
            };
            visitor.visit_borrowed_str(text)
        } else {
            self.general().deserialize_str(visitor)
        }
    }

    #[inline]
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    #[inline]
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.p {
            Some(p) if !Msg::is_null(p) => visitor.visit_some(self),
            _ => visitor.visit_none(),
        }
    }

    forward_common!();
    forward_numbers!();
    forward! {
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
    }
}

/// An element of a list of structs of a non-generic type.
pub(crate) struct ElemDe<'c, 'de> {
    pub ctx: &'c mut DeCtx<'de>,
    pub ty: &'de Type,
    pub s: StructRef<'de>,
    pub node: NodeIndex,
    pub schema: &'de StructNode,
    /// The plan the previous element used, keyed by serde's field list.
    pub cache: &'c Cell<(usize, u32)>,
}

impl<'c, 'de> ElemDe<'c, 'de> {
    #[inline]
    fn general(self) -> ValueDe<'c, 'de> {
        ValueDe {
            ctx: self.ctx,
            ty: Cow::Borrowed(self.ty),
            src: Src::Group(self.s),
        }
    }
}

impl<'de> de::Deserializer<'de> for ElemDe<'_, 'de> {
    type Error = Error;

    fn is_human_readable(&self) -> bool {
        false
    }

    #[inline]
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        let plan = self.ctx.cached_plan(self.node, fields, self.cache);
        StructAccess::planned(self.ctx, self.s, self.node, self.schema, plan, fields).visit(visitor)
    }

    forward_common!();
    forward_numbers!();
    forward! {
        deserialize_str();
        deserialize_string();
        deserialize_option();
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
    }
}

/// A struct-typed pointer field of a non-generic struct type.
pub(crate) struct StructPtrDe<'c, 'de> {
    pub ctx: &'c mut DeCtx<'de>,
    pub ty: &'de Type,
    pub p: Option<PtrRef<'de>>,
    pub node: NodeIndex,
    pub schema: &'de StructNode,
    /// The plan the field's value used last, keyed by serde's field list.
    pub cache: &'c Cell<(usize, u32)>,
}

impl<'c, 'de> StructPtrDe<'c, 'de> {
    #[inline]
    fn general(self) -> ValueDe<'c, 'de> {
        ValueDe {
            ctx: self.ctx,
            ty: Cow::Borrowed(self.ty),
            src: Src::Ptr(self.p, None),
        }
    }
}

impl<'de> de::Deserializer<'de> for StructPtrDe<'_, 'de> {
    type Error = Error;

    fn is_human_readable(&self) -> bool {
        false
    }

    #[inline]
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        let s = match self.p {
            Some(p) => self
                .ctx
                .msg
                .read_struct(p)?
                .unwrap_or_else(StructRef::empty),
            None => StructRef::empty(),
        };
        let plan = self.ctx.cached_plan(self.node, fields, self.cache);
        self.ctx.enter()?;
        let r = StructAccess::planned(&mut *self.ctx, s, self.node, self.schema, plan, fields)
            .visit(visitor);
        self.ctx.leave();
        r
    }

    #[inline]
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.p {
            Some(p) if !Msg::is_null(p) => visitor.visit_some(self),
            _ => visitor.visit_none(),
        }
    }

    forward_common!();
    forward_numbers!();
    forward! {
        deserialize_str();
        deserialize_string();
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
    }
}
