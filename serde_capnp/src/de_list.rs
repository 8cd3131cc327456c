//! The serde access types of the reader for lists, lists of map entries and unions, and for
//! enums read from integers.

use std::borrow::Cow;
use std::cell::Cell;

use serde::de::value::{BorrowedStrDeserializer, U64Deserializer};
use serde::de::{self, DeserializeSeed, Visitor};
use serde_capnp_schema::{NodeIndex, SchemaPool, StructNode, Type};

use crate::de::{field_src, DeCtx, Src, ValueDe};
use crate::de_fast::ElemDe;
use crate::error::{Error, Result};
use crate::ser::field_type;
use crate::wire::ListRef;

fn element_src<'de>(list: &ListRef<'de>, elem: &Type, i: u32) -> Src<'de> {
    match elem {
        Type::Struct(..) => Src::Group(list.struct_element(i)),
        Type::Void => Src::Void,
        t if t.is_data() => {
            let (bytes, at) = list.element_data(i);
            Src::Data {
                bytes,
                at,
                default: 0,
            }
        }
        _ => Src::Ptr(Some(list.pointer_element(i)), None),
    }
}

/// Reads a list's elements.
pub(crate) struct ListAccess<'c, 'de> {
    pub(crate) ctx: &'c mut DeCtx<'de>,
    pub(crate) list: ListRef<'de>,
    pub(crate) elem: Cow<'de, Type>,
    pub(crate) i: u32,
    /// For a list of non-generic structs: the element type, its node and the last plan used.
    pub(crate) structs: Option<(&'de Type, NodeIndex, &'de StructNode)>,
    pub(crate) cache: Cell<(usize, u32)>,
}

impl<'de> de::SeqAccess<'de> for ListAccess<'_, 'de> {
    type Error = Error;

    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.i >= self.list.len {
            return Ok(None);
        }
        let i = self.i;
        self.i += 1;
        if let Some((ty, node, schema)) = self.structs {
            return seed
                .deserialize(ElemDe {
                    ctx: &mut *self.ctx,
                    ty,
                    s: self.list.struct_element(i),
                    node,
                    schema,
                    cache: &self.cache,
                })
                .map(Some)
                .map_err(|e| e.at_index(i as u64));
        }
        let ty = match &self.elem {
            Cow::Borrowed(t) => Cow::Borrowed(*t),
            Cow::Owned(t) => Cow::Owned(t.clone()),
        };
        seed.deserialize(ValueDe {
            src: element_src(&self.list, &ty, i),
            ctx: &mut *self.ctx,
            ty,
        })
        .map(Some)
        .map_err(|e| e.at_index(i as u64))
    }

    fn size_hint(&self) -> Option<usize> {
        Some((self.list.len - self.i) as usize)
    }
}

/// Reads a list of `key`/`value` structs as a map.
pub(crate) struct EntryAccess<'c, 'de> {
    pub(crate) ctx: &'c mut DeCtx<'de>,
    pub(crate) list: ListRef<'de>,
    pub(crate) elem: Cow<'de, Type>,
    pub(crate) key: u16,
    pub(crate) value: u16,
    pub(crate) i: u32,
}

impl<'de> EntryAccess<'_, 'de> {
    fn part<T: DeserializeSeed<'de>>(&mut self, seed: T, field: u16, i: u32) -> Result<T::Value> {
        let Type::Struct(n, brand) = &*self.elem else {
            unreachable!()
        };
        let pool: &'de SchemaPool = self.ctx.pool;
        let f = &pool.node(*n).as_struct().expect("struct").fields[field as usize];
        let s = self.list.struct_element(i);
        seed.deserialize(ValueDe {
            ty: field_type(&f.slot, brand.as_deref()),
            src: field_src(s, &f.slot),
            ctx: &mut *self.ctx,
        })
        .map_err(|e| e.in_field(f.name.clone()).at_index(i as u64))
    }
}

impl<'de> de::MapAccess<'de> for EntryAccess<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.i >= self.list.len {
            return Ok(None);
        }
        let i = self.i;
        self.part(seed, self.key, i).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        let i = self.i;
        self.i += 1;
        self.part(seed, self.value, i)
    }

    fn size_hint(&self) -> Option<usize> {
        Some((self.list.len - self.i) as usize)
    }
}

/// A union read as an enum variant.
pub(crate) struct UnionAccess<'c, 'de> {
    pub(crate) de: ValueDe<'c, 'de>,
    pub(crate) rust: &'static str,
}

impl<'c, 'de> de::EnumAccess<'de> for UnionAccess<'c, 'de> {
    type Error = Error;
    type Variant = ValueDe<'c, 'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self::Variant)> {
        let v = seed.deserialize(BorrowedStrDeserializer::<Error>::new(self.rust))?;
        Ok((v, self.de))
    }
}

impl<'de> de::VariantAccess<'de> for ValueDe<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_struct(self, "", fields, visitor)
    }
}

/// A Rust unit enum stored as an integer: the variant is chosen by its index.
pub(crate) struct UnitByIndex(pub(crate) u64);

impl<'de> de::EnumAccess<'de> for UnitByIndex {
    type Error = Error;
    type Variant = UnitOnly;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, UnitOnly)> {
        let v = seed.deserialize(U64Deserializer::<Error>::new(self.0))?;
        Ok((v, UnitOnly))
    }
}

pub(crate) struct UnitOnly;

impl<'de> de::VariantAccess<'de> for UnitOnly {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _seed: T) -> Result<T::Value> {
        Err(Error::data("an integer field can only hold a unit variant"))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value> {
        Err(Error::data("an integer field can only hold a unit variant"))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value> {
        Err(Error::data("an integer field can only hold a unit variant"))
    }
}
