//! A zero-copy view of a message, read field by field through its schema.
//!
//! [`Value`] decodes a whole message up front. For a large message of which only a few fields
//! matter, [`StructSchema::reader`] gives a [`MessageReader`] instead: nothing is decoded until a
//! field is asked for, Text and Data are borrowed from the input, and only the pointers on the
//! way to the requested field are followed (and charged to the traversal limit).
//!
//! ```
//! # fn main() -> serde_capnp::Result<()> {
//! use serde_capnp::{Schema, Value};
//! let schema = Schema::parse(
//!     "book.capnp",
//!     "@0xd2f4e7c6a1b3c5e9;
//!      struct Book { people @0 :List(Person); }
//!      struct Person { name @0 :Text; age @1 :UInt8; union { child @2 :Void; job @3 :Text; } }",
//! )?;
//! let book = schema.struct_type("Book")?;
//! let bytes = book.to_vec(&Value::structure([(
//!     "people",
//!     Value::List(vec![
//!         Value::structure([("name", "Ada".into()), ("age", Value::UInt8(36)), ("job", "engineer".into())]),
//!         Value::structure([("name", "Tim".into()), ("age", Value::UInt8(7)), ("child", Value::Void)]),
//!     ]),
//! )]))?;
//!
//! let message = book.reader(&bytes)?;
//! let people = message.root()?.get("people")?.into_list()?;
//! assert_eq!(people.len(), 2);
//! let ada = people.get(0)?.into_struct()?;
//! assert_eq!(ada.get("name")?.as_text(), Some("Ada"));
//! assert_eq!(ada.which(), Some("job"));
//! assert_eq!(message.root()?.path("people[1].age")?.as_u64(), Some(7));
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use serde_capnp_schema::{
    AnyPointerKind, Brand, Field, FieldSlot, NodeIndex, SchemaPool, StructNode, Type,
    Value as SchemaValue,
};

use crate::de::{self, Src};
use crate::error::{Error, Result};
use crate::schema::StructSchema;
use crate::value::Value;
use crate::wire::{
    read_bits, read_discriminant, read_slot, too_deep, Expect, ListRef, Msg, PtrRef, Segs,
    StackBase, StructRef,
};

impl StructSchema {
    /// A zero-copy view of the message in `bytes` (unpacked, with its segment table), whose
    /// root is this struct. See the [`dynamic`](crate::dynamic) module.
    pub fn reader<'a>(&'a self, bytes: &'a [u8]) -> Result<MessageReader<'a>> {
        let segments = crate::framing::split_exact_segs(bytes, &self.read_options())?;
        self.reader_of(segments)
    }

    /// A zero-copy view of a message given as its segments (see [`StructSchema::to_segments`]).
    pub fn reader_from_segments<'a>(
        &'a self,
        segments: Vec<&'a [u8]>,
    ) -> Result<MessageReader<'a>> {
        self.reader_of(segments.into())
    }

    fn reader_of<'a>(&'a self, segments: Segs<'a>) -> Result<MessageReader<'a>> {
        let limits = self.read_options().limits();
        let (pool, node) = self.pool();
        Ok(MessageReader {
            msg: Msg::new(segments, limits)?,
            pool,
            node,
            brand: self.brand.clone(),
            nesting: limits.nesting,
        })
    }
}

/// A message and the schema of its root, ready to be read field by field.
pub struct MessageReader<'a> {
    msg: Msg<'a>,
    pool: &'a SchemaPool,
    node: NodeIndex,
    brand: Option<Arc<Brand>>,
    nesting: u32,
}

impl<'a> MessageReader<'a> {
    /// The root struct.
    pub fn root(&self) -> Result<StructReader<'_>> {
        let root = self.msg.root()?;
        let depth = self.nesting.checked_sub(1).ok_or_else(too_deep)?;
        let s = self.msg.read_struct(root)?.unwrap_or_else(StructRef::empty);
        Ok(StructReader {
            at: At {
                msg: &self.msg,
                pool: self.pool,
                depth,
                stack: StackBase::here(),
            },
            node: self.node,
            brand: self.brand.clone(),
            s,
        })
    }
}

/// A struct (or group) in a message.
#[derive(Clone)]
pub struct StructReader<'r> {
    at: At<'r>,
    node: NodeIndex,
    brand: Option<Arc<Brand>>,
    s: StructRef<'r>,
}

/// A list in a message.
#[derive(Clone)]
pub struct ListReader<'r> {
    at: At<'r>,
    element: Type,
    list: Option<ListRef<'r>>,
}

/// One value read from a message: a field, or an element of a list.
///
/// A null pointer reads as its schema default, as generated code reads it: an unset Text is
/// `""`, an unset list is empty and an unset struct has every field at its default. Use
/// [`StructReader::has`] to tell an unset pointer from a set one.
#[derive(Clone)]
pub enum DynamicValue<'r> {
    /// `Void`.
    Void,
    /// `Bool`.
    Bool(bool),
    /// `Int8`.
    Int8(i8),
    /// `Int16`.
    Int16(i16),
    /// `Int32`.
    Int32(i32),
    /// `Int64`.
    Int64(i64),
    /// `UInt8`.
    UInt8(u8),
    /// `UInt16`.
    UInt16(u16),
    /// `UInt32`.
    UInt32(u32),
    /// `UInt64`.
    UInt64(u64),
    /// `Float32`.
    Float32(f32),
    /// `Float64`.
    Float64(f64),
    /// An enum value: its ordinal and, when the schema knows it, its name.
    Enum(u16, Option<&'r str>),
    /// `Text`, borrowed from the message.
    Text(&'r str),
    /// `Data`, borrowed from the message.
    Data(&'r [u8]),
    /// A list.
    List(ListReader<'r>),
    /// A struct or group.
    Struct(StructReader<'r>),
    /// A capability: its index in the message's capability table (`None` when unset).
    Capability(Option<u32>),
    /// An `AnyPointer` or an unbound generic parameter, which the schema cannot interpret.
    AnyPointer,
}

/// What every reader of one message shares.
#[derive(Clone, Copy)]
struct At<'r> {
    msg: &'r Msg<'r>,
    pool: &'r SchemaPool,
    /// How many more levels of nesting may be entered below this value.
    depth: u32,
    /// Where the reader's root was taken on the stack: a printer recursing through the
    /// message (`Debug`) stops before the stack ends.
    stack: StackBase,
}

impl<'r> StructReader<'r> {
    /// The struct's name as the schema displays it (`file.capnp:Outer.Inner`).
    pub fn type_name(&self) -> &'r str {
        &self.at.pool.node(self.node).display_name
    }

    /// The field named `name`. An inactive union member is an error: ask [`which`] first.
    ///
    /// [`which`]: StructReader::which
    pub fn get(&self, name: &str) -> Result<DynamicValue<'r>> {
        let field = self.field(name)?;
        if let Some(d) = field.discriminant {
            if Some(d) != self.discriminant() {
                let active = self.which().map_or_else(
                    || "no member the schema knows".to_string(),
                    |w| format!("`{w}`"),
                );
                return Err(Error::data(format!(
                    "`{name}` is not the active member of the union (it holds {active})"
                )));
            }
        }
        self.read(field).map_err(|e| e.in_field(name.to_string()))
    }

    /// Whether the field named `name` is set: a pointer that is not null, a data field that
    /// differs from its default, the active member of the union. Groups and Void are always
    /// set, unless they are an inactive union member.
    pub fn has(&self, name: &str) -> Result<bool> {
        let field = self.field(name)?;
        if field
            .discriminant
            .is_some_and(|d| Some(d) != self.discriminant())
        {
            return Ok(false);
        }
        Ok(match &field.slot {
            FieldSlot::Void | FieldSlot::Group { .. } => true,
            FieldSlot::Data { ty, offset, .. } => read_slot(self.s.data, ty, *offset) != 0,
            FieldSlot::Pointer { index, .. } => {
                self.s.pointer(*index).is_some_and(|p| !Msg::is_null(p))
            }
        })
    }

    /// The active member of the struct's unnamed union; `None` when it has no union or when
    /// the message holds a member this schema does not know (it was written by a newer one).
    pub fn which(&self) -> Option<&'r str> {
        let schema = self.schema();
        let member = *schema.union_members.get(self.discriminant()? as usize)?;
        Some(&schema.fields[member as usize].name)
    }

    /// The raw discriminant of the unnamed union, including values the schema does not know.
    pub fn discriminant(&self) -> Option<u16> {
        let schema = self.schema();
        schema
            .has_union()
            .then(|| read_discriminant(self.s.data, schema))
    }

    /// The fields outside the union and the active union member, in code order, each with its
    /// value.
    pub fn fields(&self) -> impl Iterator<Item = (&'r str, Result<DynamicValue<'r>>)> + '_ {
        let active = self.discriminant();
        self.schema()
            .fields
            .iter()
            .filter(move |f| f.discriminant.is_none() || f.discriminant == active)
            .map(move |f| {
                let name: &'r str = &f.name;
                (name, self.read(f).map_err(|e| e.in_field(name.to_string())))
            })
    }

    /// Follows a path of field names and list positions, as in `people[1].phones[0].number`.
    pub fn path(&self, path: &str) -> Result<DynamicValue<'r>> {
        DynamicValue::Struct(self.clone()).path(path)
    }

    /// Decodes this struct into any Rust type, as [`StructSchema::from_slice`] decodes a root.
    pub fn deserialize<T: Deserialize<'r>>(&self) -> Result<T> {
        de::deserialize_in(
            self.at.pool,
            self.at.msg,
            Type::Struct(self.node, self.brand.clone()),
            Src::Group(self.s),
            self.at.depth,
        )
    }

    /// Decodes this struct into a [`Value`].
    pub fn to_value(&self) -> Result<Value> {
        let ty = Type::Struct(self.node, self.brand.clone());
        let seed = crate::value::seed(self.at.pool, ty.clone());
        de::deserialize_seed_in(
            self.at.pool,
            self.at.msg,
            ty,
            Src::Group(self.s),
            self.at.depth,
            seed,
        )
    }

    fn schema(&self) -> &'r StructNode {
        // Readers are only made for struct nodes, which the pool checked when it loaded.
        self.at
            .pool
            .node(self.node)
            .as_struct()
            .expect("a struct reader's node is a struct")
    }

    fn field(&self, name: &str) -> Result<&'r Field> {
        let schema = self.schema();
        schema
            .field_index(name)
            .or_else(|| schema.field_by_rust_name(name))
            .map(|i| &schema.fields[i as usize])
            .ok_or_else(|| {
                Error::schema(format!(
                    "`{}` has no field named `{name}`",
                    self.type_name()
                ))
            })
    }

    fn read(&self, field: &'r Field) -> Result<DynamicValue<'r>> {
        match &field.slot {
            FieldSlot::Void => Ok(DynamicValue::Void),
            FieldSlot::Data {
                ty,
                offset,
                default_bits,
            } => self
                .at
                .data(ty, read_slot(self.s.data, ty, *offset) ^ default_bits),
            FieldSlot::Pointer { ty, index, default } => {
                let ty = ty.resolved(self.brand.as_deref());
                let p = self.s.pointer(*index).filter(|p| !Msg::is_null(*p));
                match (p, default) {
                    (None, Some(default)) => self.at.default(&ty, default),
                    (p, _) => self.at.pointer(&ty, p),
                }
            }
            FieldSlot::Group { node } => Ok(DynamicValue::Struct(StructReader {
                at: self.at,
                node: *node,
                brand: self.brand.clone(),
                s: self.s,
            })),
        }
    }
}

impl<'r> ListReader<'r> {
    /// The number of elements.
    pub fn len(&self) -> u32 {
        self.list.map_or(0, |l| l.len)
    }

    /// Whether the list has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type, as the schema gives it (with generic parameters bound).
    pub fn element_type(&self) -> &Type {
        &self.element
    }

    /// Element `index`.
    pub fn get(&self, index: u32) -> Result<DynamicValue<'r>> {
        let list = match self.list {
            Some(list) if index < list.len => list,
            _ => {
                return Err(Error::data(format!(
                    "list position {index} is past the end of a list of {}",
                    self.len()
                )))
            }
        };
        let value = match &self.element {
            Type::Void => Ok(DynamicValue::Void),
            Type::Struct(node, brand) => Ok(DynamicValue::Struct(StructReader {
                at: self.at,
                node: *node,
                brand: brand.clone(),
                s: list.struct_element(index),
            })),
            t => match t.data_bits() {
                Some(width) => {
                    let (bytes, at) = list.element_data(index);
                    self.at.data(t, read_bits(bytes, at, width))
                }
                None => {
                    let p = Some(list.pointer_element(index)).filter(|p| !Msg::is_null(*p));
                    self.at.pointer(t, p)
                }
            },
        };
        value.map_err(|e| e.at_index(index as u64))
    }

    /// The elements, in order.
    pub fn iter(&self) -> impl Iterator<Item = Result<DynamicValue<'r>>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Decodes the list into a [`Value::List`].
    pub fn to_value(&self) -> Result<Value> {
        self.iter()
            .map(|v| v.and_then(|v| v.to_value()))
            .collect::<Result<Vec<_>>>()
            .map(Value::List)
    }
}

impl<'r> DynamicValue<'r> {
    /// A Bool.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            DynamicValue::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// Any integer that fits an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            DynamicValue::UInt64(v) => i64::try_from(v).ok(),
            _ => self.as_integer().map(|v| v as i64),
        }
    }

    /// Any integer that fits a `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            DynamicValue::UInt64(v) => Some(v),
            _ => self.as_integer().and_then(|v| u64::try_from(v).ok()),
        }
    }

    /// A Float32 or Float64.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            DynamicValue::Float32(v) => Some(v as f64),
            DynamicValue::Float64(v) => Some(v),
            _ => None,
        }
    }

    /// Text.
    pub fn as_text(&self) -> Option<&'r str> {
        match *self {
            DynamicValue::Text(t) => Some(t),
            _ => None,
        }
    }

    /// Data.
    pub fn as_data(&self) -> Option<&'r [u8]> {
        match *self {
            DynamicValue::Data(d) => Some(d),
            _ => None,
        }
    }

    /// An enumerant's name (`None` for other values and for numbers the schema does not know).
    pub fn as_enumerant(&self) -> Option<&'r str> {
        match *self {
            DynamicValue::Enum(_, name) => name,
            _ => None,
        }
    }

    /// A struct or group, or an error naming what the value is instead.
    pub fn into_struct(self) -> Result<StructReader<'r>> {
        match self {
            DynamicValue::Struct(s) => Ok(s),
            other => Err(Error::data(format!(
                "expected a struct, the message holds {}",
                other.kind()
            ))),
        }
    }

    /// A list, or an error naming what the value is instead.
    pub fn into_list(self) -> Result<ListReader<'r>> {
        match self {
            DynamicValue::List(l) => Ok(l),
            other => Err(Error::data(format!(
                "expected a list, the message holds {}",
                other.kind()
            ))),
        }
    }

    /// Decodes the value into a [`Value`]. Capabilities and `AnyPointer`s become
    /// [`Value::Null`], as [`StructSchema::read_value`] reads them.
    pub fn to_value(&self) -> Result<Value> {
        Ok(match self {
            DynamicValue::Void => Value::Void,
            DynamicValue::Bool(v) => Value::Bool(*v),
            DynamicValue::Int8(v) => Value::Int8(*v),
            DynamicValue::Int16(v) => Value::Int16(*v),
            DynamicValue::Int32(v) => Value::Int32(*v),
            DynamicValue::Int64(v) => Value::Int64(*v),
            DynamicValue::UInt8(v) => Value::UInt8(*v),
            DynamicValue::UInt16(v) => Value::UInt16(*v),
            DynamicValue::UInt32(v) => Value::UInt32(*v),
            DynamicValue::UInt64(v) => Value::UInt64(*v),
            DynamicValue::Float32(v) => Value::Float32(*v),
            DynamicValue::Float64(v) => Value::Float64(*v),
            DynamicValue::Enum(ordinal, name) => Value::Enum(crate::value::Enumerant {
                ordinal: *ordinal,
                name: name.map(str::to_string),
            }),
            DynamicValue::Text(t) => Value::Text(t.to_string()),
            DynamicValue::Data(d) => Value::Data(d.to_vec()),
            DynamicValue::List(l) => l.to_value()?,
            DynamicValue::Struct(s) => s.to_value()?,
            DynamicValue::Capability(_) | DynamicValue::AnyPointer => Value::Null,
        })
    }

    fn as_integer(&self) -> Option<i128> {
        Some(match *self {
            DynamicValue::Int8(v) => v as i128,
            DynamicValue::Int16(v) => v as i128,
            DynamicValue::Int32(v) => v as i128,
            DynamicValue::Int64(v) => v as i128,
            DynamicValue::UInt8(v) => v as i128,
            DynamicValue::UInt16(v) => v as i128,
            DynamicValue::UInt32(v) => v as i128,
            DynamicValue::UInt64(v) => v as i128,
            _ => return None,
        })
    }

    fn kind(&self) -> &'static str {
        match self {
            DynamicValue::Void => "Void",
            DynamicValue::Bool(_) => "a Bool",
            DynamicValue::Int8(_)
            | DynamicValue::Int16(_)
            | DynamicValue::Int32(_)
            | DynamicValue::Int64(_)
            | DynamicValue::UInt8(_)
            | DynamicValue::UInt16(_)
            | DynamicValue::UInt32(_)
            | DynamicValue::UInt64(_) => "an integer",
            DynamicValue::Float32(_) | DynamicValue::Float64(_) => "a float",
            DynamicValue::Enum(..) => "an enum",
            DynamicValue::Text(_) => "Text",
            DynamicValue::Data(_) => "Data",
            DynamicValue::List(_) => "a list",
            DynamicValue::Struct(_) => "a struct",
            DynamicValue::Capability(_) => "a capability",
            DynamicValue::AnyPointer => "an AnyPointer",
        }
    }
}

impl fmt::Debug for StructReader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_map();
        for (name, value) in self.fields() {
            match value {
                Ok(v) => out.entry(&name, &v),
                Err(e) => out.entry(&name, &format_args!("<{e}>")),
            };
        }
        out.finish()
    }
}

impl fmt::Debug for ListReader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_list();
        for value in self.iter() {
            match value {
                Ok(v) => out.entry(&v),
                Err(e) => out.entry(&format_args!("<{e}>")),
            };
        }
        out.finish()
    }
}

impl fmt::Debug for DynamicValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DynamicValue::Void => f.write_str("void"),
            DynamicValue::Bool(v) => v.fmt(f),
            DynamicValue::Int8(v) => v.fmt(f),
            DynamicValue::Int16(v) => v.fmt(f),
            DynamicValue::Int32(v) => v.fmt(f),
            DynamicValue::Int64(v) => v.fmt(f),
            DynamicValue::UInt8(v) => v.fmt(f),
            DynamicValue::UInt16(v) => v.fmt(f),
            DynamicValue::UInt32(v) => v.fmt(f),
            DynamicValue::UInt64(v) => v.fmt(f),
            DynamicValue::Float32(v) => v.fmt(f),
            DynamicValue::Float64(v) => v.fmt(f),
            DynamicValue::Enum(_, Some(name)) => f.write_str(name),
            DynamicValue::Enum(ordinal, None) => write!(f, "({ordinal})"),
            DynamicValue::Text(t) => t.fmt(f),
            DynamicValue::Data(d) => write!(f, "{:?}", d),
            DynamicValue::List(l) => l.fmt(f),
            DynamicValue::Struct(s) => s.fmt(f),
            DynamicValue::Capability(Some(i)) => write!(f, "<capability {i}>"),
            DynamicValue::Capability(None) => f.write_str("<null capability>"),
            DynamicValue::AnyPointer => f.write_str("<opaque pointer>"),
        }
    }
}

impl<'r> At<'r> {
    fn data(&self, ty: &Type, bits: u64) -> Result<DynamicValue<'r>> {
        Ok(match ty {
            Type::Void => DynamicValue::Void,
            Type::Bool => DynamicValue::Bool(bits != 0),
            Type::Int8 => DynamicValue::Int8(bits as u8 as i8),
            Type::Int16 => DynamicValue::Int16(bits as u16 as i16),
            Type::Int32 => DynamicValue::Int32(bits as u32 as i32),
            Type::Int64 => DynamicValue::Int64(bits as i64),
            Type::UInt8 => DynamicValue::UInt8(bits as u8),
            Type::UInt16 => DynamicValue::UInt16(bits as u16),
            Type::UInt32 => DynamicValue::UInt32(bits as u32),
            Type::UInt64 => DynamicValue::UInt64(bits),
            Type::Float32 => DynamicValue::Float32(f32::from_bits(bits as u32)),
            Type::Float64 => DynamicValue::Float64(f64::from_bits(bits)),
            Type::Enum(n) => {
                let ordinal = bits as u16;
                let pool: &'r SchemaPool = self.pool;
                let name = pool
                    .node(*n)
                    .as_enum()
                    .and_then(|e| e.enumerants.get(ordinal as usize))
                    .map(|e| e.name.as_str());
                DynamicValue::Enum(ordinal, name)
            }
            other => {
                return Err(Error::schema(format!(
                    "`{}` is not a data-section type",
                    other.describe(self.pool)
                )))
            }
        })
    }

    /// The schema default of a pointer field that is null in the message.
    fn default(&self, ty: &Type, default: &'r SchemaValue) -> Result<DynamicValue<'r>> {
        match default {
            SchemaValue::Text(t) => Ok(DynamicValue::Text(t)),
            SchemaValue::Data(d) => Ok(DynamicValue::Data(d)),
            SchemaValue::List(r) | SchemaValue::Struct(r) | SchemaValue::AnyPointer(r) => {
                self.pointer(ty, Msg::detached(r.segment()))
            }
            _ => self.pointer(ty, None),
        }
    }

    fn nested(&self) -> Result<At<'r>> {
        self.stack.check()?;
        Ok(At {
            depth: self.depth.checked_sub(1).ok_or_else(too_deep)?,
            ..*self
        })
    }

    fn pointer(&self, ty: &Type, p: Option<PtrRef<'r>>) -> Result<DynamicValue<'r>> {
        match ty {
            Type::Text => {
                let Some(p) = p else {
                    return Ok(DynamicValue::Text(""));
                };
                Ok(DynamicValue::Text(self.msg.read_text(p)?.unwrap_or("")))
            }
            Type::Data => {
                let Some(p) = p else {
                    return Ok(DynamicValue::Data(&[]));
                };
                Ok(DynamicValue::Data(self.msg.read_blob(p)?.unwrap_or(&[])))
            }
            Type::List(element) => {
                let at = self.nested()?;
                let expect = Expect::for_element(element);
                let list = match p {
                    Some(p) => self.msg.read_list(p, expect)?,
                    None => None,
                };
                Ok(DynamicValue::List(ListReader {
                    at,
                    element: (**element).clone(),
                    list,
                }))
            }
            Type::Struct(node, brand) => {
                let at = self.nested()?;
                let s = match p {
                    Some(p) => self.msg.read_struct(p)?,
                    None => None,
                };
                Ok(DynamicValue::Struct(StructReader {
                    at,
                    node: *node,
                    brand: brand.clone(),
                    s: s.unwrap_or_else(StructRef::empty),
                }))
            }
            Type::Interface(..) | Type::AnyPointer(AnyPointerKind::Capability) => match p {
                Some(p) => Ok(DynamicValue::Capability(self.msg.read_capability(p)?)),
                None => Ok(DynamicValue::Capability(None)),
            },
            Type::AnyPointer(_) | Type::Param { .. } | Type::MethodParam(_) => {
                Ok(DynamicValue::AnyPointer)
            }
            other => Err(Error::schema(format!(
                "`{}` is not a pointer type",
                other.describe(self.pool)
            ))),
        }
    }
}

fn bad_path(path: &str, why: &str) -> Error {
    Error::data(format!("bad field path `{path}`: {why}"))
}

impl<'r> DynamicValue<'r> {
    /// Follows a path of field names and list positions from this value, as in
    /// `people[1].phones[0].number` from a struct or `[2].name` from a list.
    pub fn path(self, path: &str) -> Result<DynamicValue<'r>> {
        // The steps taken so far, so that an error names where on the path it happened.
        let mut walked: Vec<Result<&str, u32>> = Vec::new();
        let within = |e: Error, walked: &[Result<&str, u32>]| {
            walked.iter().rev().fold(e, |e, step| match step {
                Ok(name) => e.in_field(name.to_string()),
                Err(index) => e.at_index(*index as u64),
            })
        };
        let mut current = self;
        let mut rest = path;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('[') {
                let close = after
                    .find(']')
                    .ok_or_else(|| bad_path(path, "a `[` is not closed"))?;
                let index: u32 = after[..close]
                    .trim()
                    .parse()
                    .map_err(|_| bad_path(path, "a list position is not a number"))?;
                current = current
                    .into_list()
                    .and_then(|list| list.get(index))
                    .map_err(|e| within(e, &walked))?;
                walked.push(Err(index));
                rest = &after[close + 1..];
            } else {
                let name_start = if walked.is_empty() {
                    rest
                } else {
                    rest.strip_prefix('.')
                        .ok_or_else(|| bad_path(path, "expected `.` or `[` after a name"))?
                };
                let end = name_start.find(['.', '[']).unwrap_or(name_start.len());
                let name = &name_start[..end];
                if name.is_empty() {
                    return Err(bad_path(path, "a field name is empty"));
                }
                current = current
                    .into_struct()
                    .and_then(|s| s.get(name))
                    .map_err(|e| within(e, &walked))?;
                walked.push(Ok(name));
                rest = &name_start[end..];
            }
        }
        Ok(current)
    }
}

impl crate::schema::Schema {
    /// Splits a `capnp eval` name into the declaration it starts with and the path that
    /// follows (`someConst.list[4].field`, `SomeStruct.someField`; empty when the whole name is
    /// a declaration).
    pub(crate) fn eval_target<'n>(&self, name: &'n str) -> Result<(NodeIndex, &'n str)> {
        let pool = self.pool();
        // `capnp eval` looks names up from the file it evaluates in, so a declaration of that
        // file comes before one of the same short name nested elsewhere. A group is a node too,
        // but `capnp eval` reads it as a field of its struct.
        if let Some(file) = pool.requested_files().first() {
            if let Some(found) = Self::eval_split(name, |prefix| {
                pool.find(&format!("{}:{prefix}", file.filename))
                    .ok()
                    .filter(|&n| !pool.node(n).as_struct().is_some_and(|s| s.is_group))
            }) {
                return Ok(found);
            }
        }
        let whole = match pool.find(name) {
            Ok(node) if !pool.node(node).as_struct().is_some_and(|s| s.is_group) => {
                return Ok((node, ""))
            }
            Ok(_) => Error::schema(format!("`{name}` cannot be evaluated")),
            Err(e) => e.into(),
        };
        Self::eval_split(name, |prefix| pool.find(prefix).ok())
            .filter(|(_, path)| !path.is_empty())
            .ok_or(whole)
    }

    /// The longest prefix of `name` (up to a `.` or a `[`) that `find` knows, and the rest.
    fn eval_split(
        name: &str,
        find: impl Fn(&str) -> Option<NodeIndex>,
    ) -> Option<(NodeIndex, &str)> {
        let ends = name
            .char_indices()
            .filter(|&(_, c)| c == '.' || c == '[')
            .map(|(at, _)| at);
        std::iter::once(name.len())
            .chain(ends.collect::<Vec<_>>().into_iter().rev())
            .find_map(|at| find(&name[..at]).map(|node| (node, &name[at..])))
    }

    /// Calls `f` with the value a `capnp eval` path reaches from the declaration `node`: a
    /// constant's value, or for a struct the default of the field the path names first.
    pub(crate) fn eval_at<R>(
        &self,
        node: NodeIndex,
        path: &str,
        f: impl FnOnce(&SchemaPool, DynamicValue<'_>) -> Result<R>,
    ) -> Result<R> {
        let pool: &SchemaPool = self.pool();
        let limits = crate::schema::ReadOptions::default().limits();
        let decl = pool.node(node);
        let constant = match &decl.kind {
            serde_capnp_schema::NodeKind::Const(c) => Some(c),
            _ => None,
        };
        // A struct's field defaults are read from an empty struct.
        let empty = [0u8; 8];
        let segment = match constant.map(|c| &c.value) {
            Some(SchemaValue::List(raw) | SchemaValue::Struct(raw)) => raw.segment(),
            _ => &empty[..],
        };
        let msg = Msg::new(vec![segment], limits)?;
        let at = At {
            msg: &msg,
            pool,
            depth: limits.nesting,
            stack: StackBase::here(),
        };
        let value = match (constant, &decl.kind) {
            (Some(c), _) => match &c.value {
                SchemaValue::List(_) | SchemaValue::Struct(_) => {
                    let root = Some(msg.root()?).filter(|p| !Msg::is_null(*p));
                    at.pointer(&c.ty, root)?
                }
                SchemaValue::AnyPointer(_) => DynamicValue::AnyPointer,
                SchemaValue::Text(t) => DynamicValue::Text(t),
                SchemaValue::Data(d) => DynamicValue::Data(d),
                v => at.data(&c.ty, v.data_bits())?,
            },
            (None, serde_capnp_schema::NodeKind::Struct(_)) if !path.is_empty() => {
                DynamicValue::Struct(StructReader {
                    at,
                    node,
                    brand: None,
                    s: StructRef::empty(),
                })
            }
            _ => {
                return Err(Error::schema(format!(
                    "`{}` cannot be evaluated: it is not a constant",
                    decl.display_name
                )))
            }
        };
        f(pool, value.path(path.strip_prefix('.').unwrap_or(path))?)
    }
}

impl<'r> StructReader<'r> {
    /// What printing the struct needs: its message, type, brand and place.
    pub(crate) fn parts(&self) -> (&'r Msg<'r>, NodeIndex, Option<&Brand>, StructRef<'r>) {
        (self.at.msg, self.node, self.brand.as_deref(), self.s)
    }
}

impl<'r> ListReader<'r> {
    /// What printing the list needs: its message, element type and place.
    pub(crate) fn parts(&self) -> (&'r Msg<'r>, &Type, Option<ListRef<'r>>) {
        (self.at.msg, &self.element, self.list)
    }
}

impl crate::schema::Schema {
    /// The struct a `capnp eval` name denotes (a struct constant, or a path from a constant or
    /// a struct's field defaults that reaches a struct) as a message of its own, with its type:
    /// what `capnp eval -obinary` writes. Other values are an error, as they are for `capnp`.
    ///
    /// ```
    /// # fn main() -> serde_capnp::Result<()> {
    /// let schema = serde_capnp::Schema::parse(
    ///     "c.capnp",
    ///     "@0xe1c2d3b4a5968778;\nstruct P { x @0 :Int32; inner @1 :P; }\nconst p :P = (x = 1, inner = (x = 2));\n",
    /// )?;
    /// let (ty, message) = schema.eval_struct("p.inner")?;
    /// assert_eq!(ty.name(), "P");
    /// assert_eq!(schema.eval_text("p.inner.x", false)?, "2");
    /// # let _ = message;
    /// # Ok(())
    /// # }
    /// ```
    pub fn eval_struct(&self, name: &str) -> Result<(StructSchema, Vec<u8>)> {
        let (root, _, message) = self.eval_message(name)?;
        Ok((root, message))
    }

    /// The value of `name` (a struct, as for [`eval_struct`](Self::eval_struct)) as JSON, as
    /// `capnp eval -ojson` prints it. A constant of a generic type prints with the types its
    /// parameters are bound to.
    ///
    /// ```
    /// # fn main() -> serde_capnp::Result<()> {
    /// let schema = serde_capnp::Schema::parse(
    ///     "g.capnp",
    ///     "@0xe1c2d3b4a5968779;\nstruct Box(T) { item @0 :T; }\nconst b :Box(Text) = (item = \"x\");\n",
    /// )?;
    /// assert_eq!(
    ///     schema.eval_json("b", serde_capnp::JsonStyle::Short)?,
    ///     r#"{"item":"x"}"#
    /// );
    /// # Ok(())
    /// # }
    /// ```
    pub fn eval_json(&self, name: &str, style: crate::JsonStyle) -> Result<String> {
        let (root, brand, message) = self.eval_message(name)?;
        root.branded_json(&message, brand.as_deref(), style)
    }

    /// The struct `name` leads to as a message of its own, with its type and the bindings of
    /// that type's generic parameters.
    fn eval_message(&self, name: &str) -> Result<(StructSchema, Option<Arc<Brand>>, Vec<u8>)> {
        let (node, path) = self.eval_target(name)?;
        self.eval_at(node, path, |pool, value| {
            let DynamicValue::Struct(s) = value else {
                return Err(Error::data(format!(
                    "{name}: not a struct; binary output is only available on structs"
                )));
            };
            let (seg, from, data_words, ptr_count) = s.s.location();
            let mut out = crate::wire::Out::with_buffer(Vec::new(), 0);
            crate::json::copy_struct(
                seg,
                from,
                data_words,
                ptr_count,
                &mut out,
                crate::wire::Out::ROOT,
                0,
            )?;
            let root = self.struct_by_id(pool.node(s.node).id)?;
            Ok((root, s.brand.clone(), out.finish()))
        })
    }
}
