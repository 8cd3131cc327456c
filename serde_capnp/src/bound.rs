//! Run-time support for types bound by `#[derive(Capnp)]`: the shared handle each bound type
//! gets from its embedded schema, and the one check of what the macro could not see.
//!
//! Nothing here reads a file. The macro embeds the compiled schema (the `CodeGeneratorRequest`
//! it built and parsed itself) and the node's ID, so building a handle repeats work that already
//! succeeded at compile time; should it fail all the same (a `serde_capnp` of another version
//! than the macro's), the failure is an [`Error`] from the first call, never a panic.

use std::marker::PhantomData;
use std::sync::{Mutex, OnceLock};

use serde::de::{self, DeserializeOwned, DeserializeSeed, Visitor};
use serde_capnp_schema::{names_match, Brand, FieldSlot, NodeIndex, SchemaPool, StructNode, Type};

use crate::ser::{find_field, UNION_FIELD};
use crate::{CapnpStruct, Error, Result, Schema, StructSchema};

/// The compiled schema a macro embedded: a `CodeGeneratorRequest` and a hash naming it.
#[derive(Clone, Copy)]
pub struct Embedded {
    /// The request's bytes.
    pub request: &'static [u8],
    /// FNV-1a of `request`: equal schemas share one loaded [`Schema`] at run time.
    pub hash: u64,
}

impl Embedded {
    /// The schema these bytes hold, loaded once per process for all the types bound to it.
    pub fn schema(&self) -> Result<Schema> {
        type Loaded = Vec<(u64, &'static [u8], Schema)>;
        static LOADED: Mutex<Loaded> = Mutex::new(Vec::new());
        let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, _, s)) = loaded
            .iter()
            .find(|(h, r, _)| *h == self.hash && *r == self.request)
        {
            return Ok(s.clone());
        }
        let schema = Schema::from_code_generator_request(self.request)?;
        loaded.push((self.hash, self.request, schema.clone()));
        Ok(schema)
    }
}

/// A schema embedded once by `include_schema!(static NAME = "...")`, for the crate's bound
/// types to share.
///
/// `#[derive(Capnp)]` embeds the compiled schema with each type it binds, and the compiler keeps
/// one copy per codegen unit. A static declared with `include_schema!` holds the one copy
/// instead: every derive of the same compiled schema in the module that declares it (or in a
/// module that glob-imports that module, `use super::*;`) uses it.
///
/// ```
/// serde_capnp::include_schema!(static ADDRESSBOOK = "../schemas/addressbook.capnp");
///
/// #[derive(serde::Serialize, serde::Deserialize, serde_capnp::Capnp)]
/// #[capnp(schema = "../schemas/addressbook.capnp", name = "Person.PhoneNumber.Type")]
/// enum PhoneType { Mobile, Home, Work }
///
/// fn main() -> serde_capnp::Result<()> {
///     let schema: &'static serde_capnp::Schema = ADDRESSBOOK.get()?;
///     assert!(schema.struct_type("Person").is_ok());
///     Ok(())
/// }
/// ```
///
/// The static must be declared at module level, as the derives look for it there.
pub struct IncludedSchema {
    embedded: Embedded,
    cell: OnceLock<std::result::Result<Schema, String>>,
}

impl IncludedSchema {
    #[doc(hidden)]
    pub const fn new(embedded: Embedded) -> Self {
        IncludedSchema {
            embedded,
            cell: OnceLock::new(),
        }
    }

    /// The schema, loaded on first use. It fails only when the `serde_capnp` linked is another
    /// version than the one the macro was built with, and then on every call.
    pub fn get(&'static self) -> Result<&'static Schema> {
        match self
            .cell
            .get_or_init(|| self.embedded.schema().map_err(|e| e.message().to_string()))
        {
            Ok(s) => Ok(s),
            Err(message) => Err(Error::schema(message.clone())),
        }
    }
}

impl std::fmt::Debug for IncludedSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncludedSchema")
            .field("bytes", &self.embedded.request.len())
            .finish()
    }
}

/// The embedded bytes, from a derive's own copy or from a shared [`IncludedSchema`].
pub trait AsEmbedded {
    /// The compiled schema.
    fn embedded(&self) -> &Embedded;
}

impl AsEmbedded for Embedded {
    fn embedded(&self) -> &Embedded {
        self
    }
}

impl AsEmbedded for IncludedSchema {
    fn embedded(&self) -> &Embedded {
        &self.embedded
    }
}

/// The handle of one bound type, built on first use.
pub struct Binding {
    cell: OnceLock<std::result::Result<StructSchema, String>>,
}

/// What the macro left for the handle to check: a field of the bound type whose Rust type it
/// could not see through.
pub struct Deferred {
    /// The name serde reads the field by; empty for the one field of a newtype.
    pub key: &'static str,
    /// The schema field it stands for; `u16::MAX` for the unnamed union (`which`) or, with an
    /// empty key, the bound node itself.
    pub field: u16,
}

/// A check of a bound type's deferred fields, when the type can be read (it implements
/// `DeserializeOwned`): the node's field types are resolved with the brand, if any.
pub type Trace = fn(&SchemaPool, NodeIndex, Option<&Brand>, &[Deferred]) -> Result<()>;

impl Binding {
    /// An empty binding, for a `static`.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Binding {
            cell: OnceLock::new(),
        }
    }

    /// The handle of the node `id` of `schema`, built and checked on the first call.
    pub fn get(
        &'static self,
        schema: &Embedded,
        id: u64,
        rust_type: &'static str,
        trace: Option<Trace>,
        deferred: &[Deferred],
    ) -> Result<&'static StructSchema> {
        self.get_branded(schema, id, "", rust_type, trace, deferred)
    }

    /// Like [`get`](Self::get), for a generic struct bound with its parameters: `name` is the
    /// node's name with them, as the macro was given it (`Pair(Text, Inner)`), and the handle
    /// has their brand. An empty `name` binds the node `id` itself.
    pub fn get_branded(
        &'static self,
        schema: &Embedded,
        id: u64,
        name: &'static str,
        rust_type: &'static str,
        trace: Option<Trace>,
        deferred: &[Deferred],
    ) -> Result<&'static StructSchema> {
        let built = self.cell.get_or_init(|| {
            let build = || -> Result<StructSchema> {
                let st = if name.is_empty() {
                    schema.schema()?.struct_by_id(id)?
                } else {
                    schema.schema()?.struct_type(name)?
                };
                if st.id() != id {
                    return Err(Error::schema(format!(
                        "`{name}` names the node {:#x} at run time, and {id:#x} when `{rust_type}` was compiled",
                        st.id()
                    )));
                }
                if let Some(trace) = trace {
                    let (pool, node) = st.pool();
                    trace(pool, node, st.brand(), deferred).map_err(|e| {
                        Error::schema(format!(
                            "`{rust_type}` does not fit its schema: {}",
                            e.message()
                        ))
                    })?;
                }
                Ok(st)
            };
            build().map_err(|e| e.message().to_string())
        });
        match built {
            Ok(st) => Ok(st),
            Err(message) => Err(Error::schema(message.clone())),
        }
    }
}

/// Tells, at compile time, whether a type is bound and to which node, and whether it can be
/// traced: the inherent constants apply when the bounds hold, the traits' otherwise.
pub struct Probe<T: ?Sized>(PhantomData<T>);

impl<T: ?Sized + CapnpStruct> Probe<T> {
    /// The node `T` is bound to.
    pub const NODE_ID: Option<u64> = Some(T::NODE_ID);
}

impl<T: DeserializeOwned> Probe<T> {
    /// Checks `T`'s deferred fields by reading what its `Deserialize` asks for.
    pub const TRACE: Option<Trace> = Some(trace::<T>);
}

/// The answer for a type that is not bound.
pub trait NotBound {
    /// No node.
    const NODE_ID: Option<u64> = None;
}

impl<T: ?Sized> NotBound for Probe<T> {}

/// The answer for a type that cannot be read on its own.
pub trait NotTraceable {
    /// No check.
    const TRACE: Option<Trace> = None;
}

impl<T: ?Sized> NotTraceable for Probe<T> {}

/// What a `Deserialize` asked the tracer for, outermost first.
#[derive(Debug, Clone)]
enum Step {
    Bool,
    Int(bool, u32),
    Float(u32),
    Str,
    Bytes,
    Unit,
    Option,
    Seq,
    Map,
    Struct(&'static [&'static str]),
    Enum(&'static [&'static str]),
    Any,
}

/// The tracer's own error: `Done` once the shape is known, or whatever the type reported.
#[derive(Debug)]
struct Stop(bool);

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("trace stopped")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Stop(false)
    }
}

fn trace<T: DeserializeOwned>(
    pool: &SchemaPool,
    node: NodeIndex,
    brand: Option<&Brand>,
    deferred: &[Deferred],
) -> Result<()> {
    let this = || Type::Struct(node, brand.map(|b| std::sync::Arc::new(b.clone())));
    for d in deferred {
        let mut steps = Vec::new();
        let r = if d.key.is_empty() {
            T::deserialize(Tracer { steps: &mut steps })
        } else {
            T::deserialize(Root {
                key: d.key,
                steps: &mut steps,
            })
        };
        // Only a trace that reached a leaf says what the type reads; a type that failed on
        // its own (a validating newtype) is left to the messages themselves.
        if !matches!(r, Err(Stop(true))) {
            continue;
        }
        let s = pool.node(node).as_struct();
        let (ty, pos, name) = match (d.key.is_empty(), s) {
            (true, _) => (
                this(),
                Pos::Pointer,
                pool.node(node).short_name().to_string(),
            ),
            (false, Some(_)) if d.field == u16::MAX => {
                (this(), Pos::Union, UNION_FIELD.to_string())
            }
            (false, Some(s)) => match s.fields.get(d.field as usize) {
                Some(f) => match &f.slot {
                    FieldSlot::Void => (Type::Void, Pos::Data, f.name.clone()),
                    FieldSlot::Data { ty, .. } => (ty.clone(), Pos::Data, f.name.clone()),
                    FieldSlot::Pointer { ty, .. } => {
                        (ty.resolve(brand), Pos::Pointer, f.name.clone())
                    }
                    FieldSlot::Group { node } => {
                        (Type::Struct(*node, None), Pos::Group, f.name.clone())
                    }
                },
                None => continue,
            },
            _ => continue,
        };
        fits(pool, &steps, &ty, pos).map_err(|why| {
            let what = if d.key.is_empty() {
                format!("its one field (for `{name}`)")
            } else {
                format!("the field `{}` (for the schema's `{name}`)", d.key)
            };
            Error::schema(format!("{what}: {why}"))
        })?;
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Pos {
    Data,
    Pointer,
    Group,
    Union,
}

/// Whether the traced shape fits `ty`, by the rules the macro applies to what it can see.
fn fits(pool: &SchemaPool, steps: &[Step], ty: &Type, pos: Pos) -> std::result::Result<(), String> {
    let Some((step, rest)) = steps.split_first() else {
        return Ok(());
    };
    let found = |what: &str| {
        format!(
            "the Rust type reads {what}, and the schema has `{}`",
            ty.describe(pool)
        )
    };
    let int = |t: &Type| match t {
        Type::Int8 => Some((true, 8)),
        Type::Int16 => Some((true, 16)),
        Type::Int32 => Some((true, 32)),
        Type::Int64 => Some((true, 64)),
        Type::UInt8 => Some((false, 8)),
        Type::UInt16 => Some((false, 16)),
        Type::UInt32 => Some((false, 32)),
        Type::UInt64 => Some((false, 64)),
        _ => None,
    };
    match (step, ty) {
        (Step::Any, _) => Ok(()),
        (Step::Option, _) if pos == Pos::Pointer => fits(pool, rest, ty, pos),
        (Step::Option, _) => Err(format!(
            "the Rust type reads an `Option`, and `{}` always holds a value (an unset one reads as its default), so `None` cannot come back",
            ty.describe(pool)
        )),
        (Step::Bool, Type::Bool) => Ok(()),
        (Step::Int(s, b), t) if int(t) == Some((*s, *b)) => Ok(()),
        (Step::Int(s, b), _) => Err(found(&format!("`{}{b}`", if *s { "i" } else { "u" }))),
        (Step::Float(32), Type::Float32) | (Step::Float(64), Type::Float64) => Ok(()),
        (Step::Str, Type::Text) => Ok(()),
        (Step::Bytes, Type::Data) => Ok(()),
        (Step::Bytes, Type::List(e)) if **e == Type::UInt8 => Ok(()),
        (Step::Unit, Type::Void | Type::AnyPointer(_) | Type::Param { .. }) => Ok(()),
        (Step::Seq, Type::Data) => match rest.first() {
            None | Some(Step::Int(false, 8)) => Ok(()),
            _ => Err(found("a sequence of something other than `u8`")),
        },
        (Step::Seq, Type::List(e)) => {
            let p = if e.is_data() { Pos::Data } else { Pos::Pointer };
            fits(pool, rest, e, p)
        }
        (Step::Map, Type::List(_) | Type::Struct(..)) => Ok(()),
        (Step::Struct(fields), Type::Struct(n, _)) if pos != Pos::Union => {
            let Some(s) = pool.node(*n).as_struct() else {
                return Ok(());
            };
            for f in fields.iter() {
                if find_field(s, f).is_none() && !(s.has_union() && *f == UNION_FIELD) {
                    return Err(format!(
                        "the Rust type reads a field `{f}`, which `{}` does not have",
                        pool.node(*n).short_name()
                    ));
                }
            }
            Ok(())
        }
        (Step::Enum(variants), Type::Enum(n)) => {
            let Some(e) = pool.node(*n).as_enum() else {
                return Ok(());
            };
            for v in variants.iter() {
                if e.enumerant_by_rust_name(v).is_none()
                    && !e.enumerants.iter().any(|en| names_match(v, &en.name))
                {
                    return Err(format!(
                        "the Rust enum has a variant `{v}`, which is not an enumerant of `{}`",
                        pool.node(*n).short_name()
                    ));
                }
            }
            Ok(())
        }
        (Step::Enum(variants), Type::Struct(n, _)) => {
            let Some(s) = pool.node(*n).as_struct().filter(|s| s.has_union()) else {
                return Err(found("an enum"));
            };
            union_fits(pool, s, *n, variants)
        }
        (Step::Float(b), _) => Err(found(&format!("`f{b}`"))),
        (Step::Bool, _) => Err(found("`bool`")),
        (Step::Str, _) => Err(found("a string")),
        (Step::Bytes, _) => Err(found("bytes")),
        (Step::Unit, _) => Err(found("`()`")),
        (Step::Seq, _) => Err(found("a sequence")),
        (Step::Map, _) => Err(found("a map")),
        (Step::Struct(_), _) => Err(found("a struct")),
        (Step::Enum(_), _) => Err(found("an enum")),
    }
}

fn union_fits(
    pool: &SchemaPool,
    s: &StructNode,
    n: NodeIndex,
    variants: &[&str],
) -> std::result::Result<(), String> {
    for v in variants {
        if !s
            .union_members
            .iter()
            .any(|&i| names_match(v, &s.fields[i as usize].name))
        {
            return Err(format!(
                "the Rust enum has a variant `{v}`, which is not a member of the union of `{}`",
                pool.node(n).short_name()
            ));
        }
    }
    Ok(())
}

/// Offers the bound type one key, `key`, whose value is traced.
struct Root<'t> {
    key: &'static str,
    steps: &'t mut Vec<Step>,
}

impl<'de> de::Deserializer<'de> for Root<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> std::result::Result<V::Value, Stop> {
        Err(Stop(false))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> std::result::Result<V::Value, Stop> {
        visitor.visit_map(OneEntry {
            key: Some(self.key),
            steps: self.steps,
        })
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> std::result::Result<V::Value, Stop> {
        visitor.visit_map(OneEntry {
            key: Some(self.key),
            steps: self.steps,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct enum identifier
        ignored_any
    }
}

struct OneEntry<'t> {
    key: Option<&'static str>,
    steps: &'t mut Vec<Step>,
}

impl<'de> de::MapAccess<'de> for OneEntry<'_> {
    type Error = Stop;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> std::result::Result<Option<K::Value>, Stop> {
        match self.key.take() {
            Some(k) => seed
                .deserialize(de::value::BorrowedStrDeserializer::<Stop>::new(k))
                .map(Some),
            None => Err(Stop(false)),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> std::result::Result<V::Value, Stop> {
        seed.deserialize(Tracer { steps: self.steps })
    }
}

/// Records what the value's `Deserialize` asks for, following options, newtypes and sequence
/// elements down to a leaf, then stops.
struct Tracer<'t> {
    steps: &'t mut Vec<Step>,
}

impl Tracer<'_> {
    fn leaf<T>(self, step: Step) -> std::result::Result<T, Stop> {
        self.steps.push(step);
        Err(Stop(true))
    }
}

macro_rules! leaves {
    ($($method:ident => $step:expr),* $(,)?) => {
        $(fn $method<V: Visitor<'de>>(self, _: V) -> std::result::Result<V::Value, Stop> {
            self.leaf($step)
        })*
    };
}

impl<'de> de::Deserializer<'de> for Tracer<'_> {
    type Error = Stop;

    leaves! {
        deserialize_any => Step::Any,
        deserialize_bool => Step::Bool,
        deserialize_i8 => Step::Int(true, 8),
        deserialize_i16 => Step::Int(true, 16),
        deserialize_i32 => Step::Int(true, 32),
        deserialize_i64 => Step::Int(true, 64),
        deserialize_i128 => Step::Int(true, 128),
        deserialize_u8 => Step::Int(false, 8),
        deserialize_u16 => Step::Int(false, 16),
        deserialize_u32 => Step::Int(false, 32),
        deserialize_u64 => Step::Int(false, 64),
        deserialize_u128 => Step::Int(false, 128),
        deserialize_f32 => Step::Float(32),
        deserialize_f64 => Step::Float(64),
        deserialize_char => Step::Str,
        deserialize_str => Step::Str,
        deserialize_string => Step::Str,
        deserialize_bytes => Step::Bytes,
        deserialize_byte_buf => Step::Bytes,
        deserialize_unit => Step::Unit,
        deserialize_map => Step::Map,
        deserialize_identifier => Step::Any,
        deserialize_ignored_any => Step::Any,
    }

    fn deserialize_option<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, Stop> {
        self.steps.push(Step::Option);
        visitor.visit_some(self)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: V,
    ) -> std::result::Result<V::Value, Stop> {
        self.leaf(Step::Unit)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> std::result::Result<V::Value, Stop> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> std::result::Result<V::Value, Stop> {
        self.steps.push(Step::Seq);
        visitor.visit_seq(OneElement { tracer: Some(self) })
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _: usize,
        visitor: V,
    ) -> std::result::Result<V::Value, Stop> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> std::result::Result<V::Value, Stop> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> std::result::Result<V::Value, Stop> {
        self.leaf(Step::Struct(fields))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        _: V,
    ) -> std::result::Result<V::Value, Stop> {
        self.leaf(Step::Enum(variants))
    }
}

struct OneElement<'t> {
    tracer: Option<Tracer<'t>>,
}

impl<'de> de::SeqAccess<'de> for OneElement<'_> {
    type Error = Stop;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> std::result::Result<Option<T::Value>, Stop> {
        match self.tracer.take() {
            Some(t) => seed.deserialize(t).map(Some),
            None => Ok(None),
        }
    }
}
