//! `Value`: a message read without a Rust type, typed by its schema (pycapnp's `to_dict`).

use std::fmt;
use std::ops::Index;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_capnp_schema::{AnyPointerKind, SchemaPool, Type};

use crate::error::Result;
use crate::schema::StructSchema;

/// A Cap'n Proto value held without a Rust type: what a message holds, typed by its schema.
///
/// Read one with [`StructSchema::read_value`] (or [`to_value`] from any `Serialize` type), write
/// it back with [`StructSchema::to_vec`] (it implements `Serialize`), and turn it into a Rust type
/// with [`from_value`].
///
/// A struct holds the fields outside its union and the active union member, in code order. Null
/// pointers are [`Value::Null`], so a value read from a message writes back the same message.
///
/// ```
/// # fn main() -> serde_capnp::Result<()> {
/// use serde_capnp::{Schema, Value};
/// let schema = Schema::parse(
///     "person.capnp",
///     "@0xbf5147cbbecf40c1;\nstruct Person { name @0 :Text; age @1 :UInt8;\n  union { child @2 :Void; adult @3 :Text; } }\n",
/// )?;
/// let person = schema.struct_type("Person")?;
/// let value = Value::structure([("name", "Ada".into()), ("age", Value::UInt8(36)), ("adult", "engineer".into())]);
/// let bytes = person.to_vec(&value)?;
/// let back = person.read_value(&bytes)?;
/// assert_eq!(back["name"], Value::from("Ada"));
/// assert_eq!(back.which(), Some("adult"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
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
    /// `Text`.
    Text(String),
    /// `Data`.
    Data(Vec<u8>),
    /// `List(T)`.
    List(Vec<Value>),
    /// An enum value.
    Enum(Enumerant),
    /// A struct or group.
    Struct(Struct),
    /// A null pointer (a Text, Data, List, struct or AnyPointer field that is not set).
    Null,
}

/// An enum value: its number, and its name when the schema knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enumerant {
    /// The enumerant's ordinal, which is what the wire holds.
    pub ordinal: u16,
    /// Its name; `None` for a number the schema does not know (a newer writer's enumerant).
    pub name: Option<String>,
}

/// A struct's fields, by name, in code order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Struct {
    fields: Vec<(String, Value)>,
    which: Option<usize>,
}

impl Struct {
    /// The field named `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The field named `name`, to change it.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Value> {
        self.fields
            .iter_mut()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// Sets a field (replacing it if present).
    pub fn set(&mut self, name: impl Into<String>, value: Value) {
        let name = name.into();
        match self.get_mut(&name) {
            Some(v) => *v = value,
            None => self.fields.push((name, value)),
        }
    }

    /// The fields, in order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.fields.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// The name of the active member of the struct's unnamed union, when read from a message.
    pub fn which(&self) -> Option<&str> {
        self.which.map(|i| self.fields[i].0.as_str())
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

impl Value {
    /// A struct value from `(field name, value)` pairs.
    pub fn structure<N: Into<String>>(fields: impl IntoIterator<Item = (N, Value)>) -> Value {
        Value::Struct(Struct {
            fields: fields.into_iter().map(|(n, v)| (n.into(), v)).collect(),
            which: None,
        })
    }

    /// An enum value by name (the number is found when the value is written).
    pub fn enumerant(name: impl Into<String>) -> Value {
        Value::Enum(Enumerant {
            ordinal: 0,
            name: Some(name.into()),
        })
    }

    /// The field `name` of a struct value.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct(s) => s.get(name),
            _ => None,
        }
    }

    /// The active member of a struct value's unnamed union.
    pub fn which(&self) -> Option<&str> {
        match self {
            Value::Struct(s) => s.which(),
            _ => None,
        }
    }

    /// The struct, if this is one.
    pub fn as_struct(&self) -> Option<&Struct> {
        match self {
            Value::Struct(s) => Some(s),
            _ => None,
        }
    }

    /// The list's elements, if this is one.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The text, if this is Text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    /// The number as `i128` when this is an integer of any width (or an enum's ordinal).
    pub fn as_integer(&self) -> Option<i128> {
        Some(match *self {
            Value::Int8(v) => v.into(),
            Value::Int16(v) => v.into(),
            Value::Int32(v) => v.into(),
            Value::Int64(v) => v.into(),
            Value::UInt8(v) => v.into(),
            Value::UInt16(v) => v.into(),
            Value::UInt32(v) => v.into(),
            Value::UInt64(v) => v.into(),
            Value::Enum(ref e) => e.ordinal.into(),
            _ => return None,
        })
    }
}

static NULL: Value = Value::Null;

impl Index<&str> for Value {
    type Output = Value;

    /// The field `name` of a struct, or [`Value::Null`] when there is none (as serde_json does).
    fn index(&self, name: &str) -> &Value {
        self.get(name).unwrap_or(&NULL)
    }
}

impl Index<usize> for Value {
    type Output = Value;

    /// Element `i` of a list, or [`Value::Null`] past the end or when this is not a list.
    fn index(&self, i: usize) -> &Value {
        self.as_list().and_then(|l| l.get(i)).unwrap_or(&NULL)
    }
}

macro_rules! from_scalar {
    ($($t:ty => $v:ident),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value {
                Value::$v(v)
            }
        }
    )*};
}

from_scalar!(bool => Bool, i8 => Int8, i16 => Int16, i32 => Int32, i64 => Int64, u8 => UInt8,
    u16 => UInt16, u32 => UInt32, u64 => UInt64, f32 => Float32, f64 => Float64,
    String => Text, Vec<Value> => List);

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_string())
    }
}

impl From<()> for Value {
    fn from(_: ()) -> Value {
        Value::Void
    }
}

impl StructSchema {
    /// Reads a message given by its segments into a [`Value`].
    #[cfg_attr(not(feature = "rpc"), allow(dead_code))]
    pub(crate) fn read_value_segments(&self, segments: &[&[u8]]) -> Result<Value> {
        self.read_value_in(segments.into())
    }

    /// Reads a message into a [`Value`].
    pub fn read_value(&self, bytes: &[u8]) -> Result<Value> {
        self.read_value_in(crate::framing::split_exact_segs(bytes, &self.options)?)
    }

    fn read_value_in(&self, segments: crate::wire::Segs<'_>) -> Result<Value> {
        let pool = &*self.pool;
        crate::de::deserialize_seed(
            pool,
            self.root_type(),
            segments,
            self.options.limits(),
            Seed {
                pool,
                ty: self.root_type(),
            },
        )
    }
}

/// The newtype name under which a [`Value`] writes an enumerant its schema does not know.
pub(crate) const UNKNOWN_ENUMERANT: &str = "$serde_capnp::UnknownEnumerant";

/// The [`Value`] of any serializable Rust value, as the message `schema` describes it.
pub fn to_value<T: Serialize + ?Sized>(schema: &StructSchema, value: &T) -> Result<Value> {
    schema.read_value(&schema.to_vec(value)?)
}

/// A Rust value from a [`Value`], through the message `schema` describes.
pub fn from_value<T: serde::de::DeserializeOwned>(
    schema: &StructSchema,
    value: &Value,
) -> Result<T> {
    schema.from_slice(&schema.to_vec(value)?)
}

/// The seed that reads a [`Value`] of schema type `ty`.
pub(crate) fn seed(
    pool: &SchemaPool,
    ty: Type,
) -> impl for<'de> DeserializeSeed<'de, Value = Value> + '_ {
    Seed { pool, ty }
}

/// Reads one value of type `ty`, choosing the variant from the schema type rather than from
/// what the deserializer reports (Data and a list of bytes look alike, so do Text and enums).
struct Seed<'p> {
    pool: &'p SchemaPool,
    ty: Type,
}

fn is_pointer(ty: &Type) -> bool {
    matches!(
        ty,
        Type::Text
            | Type::Data
            | Type::List(_)
            | Type::Struct(..)
            | Type::Interface(..)
            | Type::AnyPointer(_)
            | Type::Param { .. }
    )
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        if is_pointer(&self.ty) {
            d.deserialize_option(self)
        } else {
            d.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Cap'n Proto value")
    }

    fn visit_none<E: de::Error>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<Value, E> {
        Ok(match &self.ty {
            Type::Void => Value::Void,
            _ => Value::Null,
        })
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i8<E: de::Error>(self, v: i8) -> std::result::Result<Value, E> {
        Ok(Value::Int8(v))
    }

    fn visit_i16<E: de::Error>(self, v: i16) -> std::result::Result<Value, E> {
        Ok(Value::Int16(v))
    }

    fn visit_i32<E: de::Error>(self, v: i32) -> std::result::Result<Value, E> {
        Ok(Value::Int32(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(Value::Int64(v))
    }

    fn visit_u8<E: de::Error>(self, v: u8) -> std::result::Result<Value, E> {
        Ok(Value::UInt8(v))
    }

    fn visit_u16<E: de::Error>(self, v: u16) -> std::result::Result<Value, E> {
        Ok(match &self.ty {
            // An enum number the schema has no name for.
            Type::Enum(_) => Value::Enum(Enumerant {
                ordinal: v,
                name: None,
            }),
            _ => Value::UInt16(v),
        })
    }

    fn visit_u32<E: de::Error>(self, v: u32) -> std::result::Result<Value, E> {
        Ok(match &self.ty {
            // A capability's index in its message's table: outside the RPC layer a capability
            // has no value, as the dynamic reader says too.
            Type::Interface(..) | Type::AnyPointer(AnyPointerKind::Capability) => Value::Null,
            _ => Value::UInt32(v),
        })
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(Value::UInt64(v))
    }

    fn visit_f32<E: de::Error>(self, v: f32) -> std::result::Result<Value, E> {
        Ok(Value::Float32(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Value, E> {
        Ok(Value::Float64(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(match &self.ty {
            Type::Enum(n) => {
                let ordinal = self
                    .pool
                    .node(*n)
                    .as_enum()
                    .and_then(|e| e.enumerants.iter().position(|x| x.name == v))
                    .unwrap_or(0) as u16;
                Value::Enum(Enumerant {
                    ordinal,
                    name: Some(v.to_string()),
                })
            }
            _ => Value::Text(v.to_string()),
        })
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> std::result::Result<Value, E> {
        Ok(Value::Data(v.to_vec()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        match &self.ty {
            Type::Data => {
                let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                while let Some(b) = seq.next_element::<u8>()? {
                    bytes.push(b);
                }
                Ok(Value::Data(bytes))
            }
            Type::List(element) => {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                // Elements are never null-as-absent: a list of structs has every element.
                while let Some(v) = seq.next_element_seed(Element {
                    pool: self.pool,
                    ty: (**element).clone(),
                })? {
                    items.push(v);
                }
                Ok(Value::List(items))
            }
            _ => {
                let mut items = Vec::new();
                while let Some(v) = seq.next_element_seed(Seed {
                    pool: self.pool,
                    ty: Type::AnyPointer(serde_capnp_schema::AnyPointerKind::Any),
                })? {
                    items.push(v);
                }
                Ok(Value::List(items))
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let (node, brand) = match &self.ty {
            Type::Struct(n, b) => (self.pool.node(*n).as_struct(), b.as_deref()),
            _ => (None, None),
        };
        let mut s = Struct {
            fields: Vec::with_capacity(
                node.map_or(0, |n| n.plain_fields.len() + n.has_union() as usize),
            ),
            which: None,
        };
        // Each field's code order, and which entry is the union member.
        let mut orders: Vec<u16> = Vec::new();
        // Keys are the schema's own names, borrowed; they come in the order of `plain_fields`
        // then the union member, so the next plain field is tried before a lookup by name.
        while let Some(name) = map.next_key::<&'de str>()? {
            let field = node.and_then(|n| {
                let guess = n
                    .plain_fields
                    .get(orders.len())
                    .map(|&i| &n.fields[i as usize])
                    .filter(|f| f.name == name);
                guess.or_else(|| n.field_index(name).map(|i| &n.fields[i as usize]))
            });
            // Generic fields take the types the struct's brand binds; groups share the brand.
            let ty = match field {
                Some(f) => crate::ser::field_type(&f.slot, brand).into_owned(),
                None => Type::AnyPointer(serde_capnp_schema::AnyPointerKind::Any),
            };
            let v = map.next_value_seed(Seed {
                pool: self.pool,
                ty,
            })?;
            if field.is_some_and(|f| f.discriminant.is_some()) {
                s.which = Some(orders.len());
            }
            orders.push(field.map_or(u16::MAX, |f| f.code_order));
            s.fields.push((name.to_string(), v));
        }
        // Fields in code order (the union member in its place), which is the order generated
        // code and typed Rust values write them in; so a value writes back byte for byte.
        if !orders.is_sorted() {
            let which = s.which.map(|w| orders[w]);
            let mut keyed: Vec<(u16, (String, Value))> = orders.into_iter().zip(s.fields).collect();
            keyed.sort_by_key(|(order, _)| *order);
            s.which = which.and_then(|w| keyed.iter().position(|(order, _)| *order == w));
            s.fields = keyed.into_iter().map(|(_, entry)| entry).collect();
        }
        Ok(Value::Struct(s))
    }
}

/// A list element: read with `deserialize_any` (a list of structs has no null elements).
struct Element<'p> {
    pool: &'p SchemaPool,
    ty: Type,
}

impl<'de> DeserializeSeed<'de> for Element<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        let is_struct = matches!(self.ty, Type::Struct(..));
        let seed = Seed {
            pool: self.pool,
            ty: self.ty,
        };
        if is_struct {
            d.deserialize_any(seed)
        } else {
            seed.deserialize(d)
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Value::Void => s.serialize_unit(),
            Value::Bool(v) => s.serialize_bool(*v),
            Value::Int8(v) => s.serialize_i8(*v),
            Value::Int16(v) => s.serialize_i16(*v),
            Value::Int32(v) => s.serialize_i32(*v),
            Value::Int64(v) => s.serialize_i64(*v),
            Value::UInt8(v) => s.serialize_u8(*v),
            Value::UInt16(v) => s.serialize_u16(*v),
            Value::UInt32(v) => s.serialize_u32(*v),
            Value::UInt64(v) => s.serialize_u64(*v),
            Value::Float32(v) => s.serialize_f32(*v),
            Value::Float64(v) => s.serialize_f64(*v),
            Value::Text(v) => s.serialize_str(v),
            Value::Data(v) => s.serialize_bytes(v),
            Value::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Enum(e) => match &e.name {
                Some(name) => s.serialize_str(name),
                // Marked, so that this crate's writer takes the ordinal as it is while every
                // other serializer sees a plain number.
                None => s.serialize_newtype_struct(UNKNOWN_ENUMERANT, &e.ordinal),
            },
            Value::Struct(st) => {
                let mut map = s.serialize_map(Some(st.fields.len()))?;
                for (name, value) in &st.fields {
                    map.serialize_entry(name, value)?;
                }
                map.end()
            }
            Value::Null => s.serialize_none(),
        }
    }
}
