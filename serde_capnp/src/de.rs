//! The deserializer: Cap'n Proto messages → Rust values, driven by a struct schema.

use std::borrow::Cow;
use std::cell::Cell;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::Arc;

use serde::de::value::{BorrowedStrDeserializer, SeqDeserializer};
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde_capnp_schema::{
    names_match, AnyPointerKind, Brand, FieldSlot, NodeIndex, SchemaPool, StructNode, Type, Value,
};

use crate::de_fast::{DataDe, PtrDe, StructPtrDe};
use crate::de_list::{EntryAccess, ListAccess, UnionAccess, UnitByIndex};
use crate::error::{Error, Result};
use crate::plan::{hold, FastMap, Held, PlanCache, PlanIndex};
use crate::ser::{field_type, find_field, UNION_FIELD};
use crate::wire::{
    read_bits, read_discriminant, Depth, Expect, Limits, ListRef, Msg, PtrRef, Segs, StructRef,
};

/// Deserializes the message in `segments`, whose root is of the struct type `ty`, with the
/// plans of `cache` (a handle's, kept for its next message).
pub(crate) fn deserialize<'de, T: de::Deserialize<'de>>(
    pool: &'de SchemaPool,
    ty: Type,
    segments: impl Into<Segs<'de>>,
    limits: Limits,
    cache: &PlanCache,
) -> Result<T> {
    let msg = Msg::new(segments, limits)?;
    let root = msg.root()?;
    let (r, plans, _) = read(
        pool,
        msg,
        ty.clone(),
        Src::Ptr(Some(root), None),
        limits.nesting,
        cache.take_read(pool),
        PhantomData,
    );
    cache.put_read(pool, plans);
    r.map_err(|e| explain_missing(e, pool, &ty))
}

/// Deserializes the message in `segments`, whose root is of the struct type `ty`, with a seed
/// (which, for a dynamic value, carries the schema type).
pub(crate) fn deserialize_seed<'de, S: DeserializeSeed<'de>>(
    pool: &'de SchemaPool,
    ty: Type,
    segments: impl Into<Segs<'de>>,
    limits: Limits,
    seed: S,
) -> Result<S::Value> {
    let msg = Msg::new(segments, limits)?;
    let root = msg.root()?;
    deserialize_seed_in(
        pool,
        &msg,
        ty,
        Src::Ptr(Some(root), None),
        limits.nesting,
        seed,
    )
}

/// Deserializes a value of type `ty` found at `src` inside a message already being read,
/// drawing on that reader's traversal budget.
pub(crate) fn deserialize_in<'de, T: de::Deserialize<'de>>(
    pool: &'de SchemaPool,
    msg: &Msg<'de>,
    ty: Type,
    src: Src<'de>,
    depth_left: u32,
) -> Result<T> {
    deserialize_seed_in(pool, msg, ty, src, depth_left, PhantomData)
}

/// Like [`deserialize_in`], with a seed.
pub(crate) fn deserialize_seed_in<'de, S: DeserializeSeed<'de>>(
    pool: &'de SchemaPool,
    msg: &Msg<'de>,
    ty: Type,
    src: Src<'de>,
    depth_left: u32,
    seed: S,
) -> Result<S::Value> {
    let (r, _, left) = read(
        pool,
        msg.share(),
        ty.clone(),
        src,
        depth_left,
        hold(Plans::new()),
        seed,
    );
    msg.rejoin(&left);
    r.map_err(|e| explain_missing(e, pool, &ty))
}

/// Reads a value of type `ty` at `src` with `plans`, and gives the plans and the message (with
/// the budget it has left) back.
fn read<'de, S: DeserializeSeed<'de>>(
    pool: &'de SchemaPool,
    msg: Msg<'de>,
    ty: Type,
    src: Src<'de>,
    depth_left: u32,
    plans: Held<Plans<'de>>,
    seed: S,
) -> (Result<S::Value>, Held<Plans<'de>>, Msg<'de>) {
    let mut ctx = DeCtx {
        pool,
        msg,
        depth: Depth::new(depth_left),
        plans,
    };
    let r = seed.deserialize(ValueDe {
        ctx: &mut ctx,
        ty: Cow::Owned(ty),
        src,
    });
    (r, ctx.plans, ctx.msg)
}

const WHICH: u16 = u16::MAX;

pub(crate) struct DeCtx<'de> {
    pub(crate) pool: &'de SchemaPool,
    pub(crate) msg: Msg<'de>,
    pub(crate) depth: Depth,
    pub(crate) plans: Held<Plans<'de>>,
}

/// What reading has learnt about the Rust types it met: it depends on the schema only, so a
/// handle keeps it from one message to the next.
pub(crate) struct Plans<'de> {
    /// Plans never change once made, so a struct being read holds its own reference.
    list: Vec<Plan<'de>>,
    index: PlanIndex,
    /// For (enum node, address of serde's variant list): the Rust variant of each ordinal.
    variants: FastMap<(NodeIndex, usize), Vec<u16>>,
}

impl Plans<'_> {
    pub(crate) fn new() -> Self {
        Plans {
            list: Vec::new(),
            index: PlanIndex::new(),
            variants: FastMap::default(),
        }
    }
}

/// How a Rust struct type reads a schema struct.
struct Plan<'de> {
    fields: Rc<[PlanField<'de>]>,
    /// Every name in serde's field list is a distinct plain field of the schema, so a visitor
    /// derived by serde can take the fields as a sequence in that order.
    in_order: bool,
    /// The visitor type last met (the address of its name) and whether serde derived it.
    visitor: Cell<(usize, bool)>,
}

/// One Rust field of a plan, with what reading it needs precomputed.
struct PlanField<'de> {
    /// Index in serde's `fields`.
    rust: u16,
    /// Schema field, or `WHICH` for the unnamed union.
    field: u16,
    /// The discriminant value when the field is a union member, else `NO_DISCRIMINANT`.
    discriminant: u16,
    fast: Fast<'de>,
    /// For a struct-typed field: the plan its value used last, keyed by serde's field list.
    child: Cell<(usize, u32)>,
}

/// How to read a plain field of a non-generic struct without consulting the schema.
#[derive(Clone, Copy)]
enum Fast<'de> {
    No,
    Data {
        ty: &'de Type,
        at: u64,
        default: u64,
    },
    Ptr {
        ty: &'de Type,
        index: u16,
        default: Option<&'de Value>,
    },
    /// A struct of a non-generic type with no default value.
    Struct {
        ty: &'de Type,
        index: u16,
        node: NodeIndex,
        schema: &'de StructNode,
    },
}

const NO_DISCRIMINANT: u16 = u16::MAX;
const NO_KEY: u32 = u32::MAX;

/// For each Rust field the schema knows: its index in serde's `fields`, the schema field (or
/// the unnamed union) and what reading it needs.
fn make_plan<'de>(
    pool: &'de SchemaPool,
    node: NodeIndex,
    fields: &'static [&'static str],
) -> Plan<'de> {
    let generic = pool.node(node).is_generic;
    let s = pool.node(node).as_struct().expect("struct");
    let mut plan: Vec<PlanField<'de>> = Vec::with_capacity(fields.len());
    // An alias may name the same schema field as the Rust name (`firstName` for `first_name`):
    // the field is read once, under the first name serde lists for it.
    let mut planned = vec![false; s.fields.len()];
    let mut which_planned = false;
    for (i, name) in fields.iter().enumerate() {
        if let Some(f) = find_field(s, name) {
            if std::mem::replace(&mut planned[f as usize], true) {
                continue;
            }
            let field = &s.fields[f as usize];
            let fast = match &field.slot {
                _ if generic => Fast::No,
                FieldSlot::Data {
                    ty,
                    offset,
                    default_bits,
                } => Fast::Data {
                    ty,
                    at: ty.bit_position(*offset),
                    default: *default_bits,
                },
                FieldSlot::Pointer {
                    ty: ty @ Type::Struct(node, None),
                    index,
                    default: None,
                } => Fast::Struct {
                    ty,
                    index: *index,
                    node: *node,
                    schema: pool.node(*node).as_struct().expect("struct type"),
                },
                FieldSlot::Pointer { ty, index, default } => Fast::Ptr {
                    ty,
                    index: *index,
                    default: default.as_ref(),
                },
                _ => Fast::No,
            };
            plan.push(PlanField {
                rust: i as u16,
                field: f,
                discriminant: field.discriminant.unwrap_or(NO_DISCRIMINANT),
                fast,
                child: Cell::new((0, 0)),
            });
        } else if s.has_union() && *name == UNION_FIELD && !which_planned {
            which_planned = true;
            plan.push(PlanField {
                rust: i as u16,
                field: WHICH,
                discriminant: NO_DISCRIMINANT,
                fast: Fast::No,
                child: Cell::new((0, 0)),
            });
        }
    }
    // Every name is a distinct plain field, so the plan's order is the Rust fields' order.
    let in_order = plan.len() == fields.len()
        && plan
            .iter()
            .all(|pf| pf.field != WHICH && pf.discriminant == NO_DISCRIMINANT);
    Plan {
        fields: plan.into(),
        in_order,
        visitor: Cell::new((0, false)),
    }
}

impl<'de> DeCtx<'de> {
    /// The plan for a (struct node, Rust type) pair: for each Rust field the schema knows, its
    /// index in serde's `fields` and the schema field (or the unnamed union).
    #[inline]
    pub(crate) fn plan_for(&mut self, node: NodeIndex, fields: &'static [&'static str]) -> u32 {
        let pool: &'de SchemaPool = self.pool;
        let Plans { list, index, .. } = &mut self.plans.set;
        index.get_or_make(node, fields.as_ptr() as usize, list.len(), || {
            list.push(make_plan(pool, node, fields))
        })
    }

    /// The plan for `node` read into the Rust type of `fields`, remembered in `cache` (a list's
    /// elements, or one struct-typed field) so that the next value of the same type skips the
    /// plan index.
    #[inline(always)]
    pub(crate) fn cached_plan(
        &mut self,
        node: NodeIndex,
        fields: &'static [&'static str],
        cache: &Cell<(usize, u32)>,
    ) -> u32 {
        match cache.get() {
            (k, p) if k == fields.as_ptr() as usize => p,
            _ => self.plan_into_cache(node, fields, cache),
        }
    }

    #[inline(never)]
    fn plan_into_cache(
        &mut self,
        node: NodeIndex,
        fields: &'static [&'static str],
        cache: &Cell<(usize, u32)>,
    ) -> u32 {
        let p = self.plan_for(node, fields);
        cache.set((fields.as_ptr() as usize, p));
        p
    }

    /// The Rust variant (of `variants`) for ordinal `value` of the enum `node`.
    #[inline]
    pub(crate) fn variant(
        &mut self,
        node: NodeIndex,
        value: u16,
        variants: &'static [&'static str],
    ) -> Result<&'static str> {
        let pool: &'de SchemaPool = self.pool;
        match self.variant_index(node, value, variants) {
            Some(i) if i != u16::MAX => Ok(variants[i as usize]),
            Some(_) => Err(Error::data(format!(
                "enumerant `{}` has no matching variant in the Rust enum (expected one of {})",
                pool.node(node).as_enum().expect("enum node").enumerants[value as usize].name,
                variants.join(", ")
            ))),
            None => Err(Error::data(format!(
                "{value} is not an enumerant of `{}`",
                pool.node(node).short_name()
            ))),
        }
    }

    /// The Rust variant (of `variants`) for the union member of struct `node` whose
    /// discriminant is `value`, a member the schema has.
    #[inline]
    fn union_variant(
        &mut self,
        node: NodeIndex,
        value: u16,
        variants: &'static [&'static str],
    ) -> Result<&'static str> {
        match self.variant_index(node, value, variants) {
            Some(i) if i != u16::MAX => Ok(variants[i as usize]),
            _ => {
                let s = self.pool.node(node).as_struct().expect("struct node");
                let f = s.union_members[value as usize];
                Err(Error::data(format!(
                    "union member `{}` has no matching variant in the Rust enum (expected one of {})",
                    s.fields[f as usize].name,
                    variants.join(", ")
                )))
            }
        }
    }

    /// For the alternatives of `node` (an enum's enumerants, or a struct's union members),
    /// remembered per Rust enum: the position in `variants` of alternative `value`, or
    /// `u16::MAX` if no variant matches; `None` past the last alternative.
    fn variant_index(
        &mut self,
        node: NodeIndex,
        value: u16,
        variants: &'static [&'static str],
    ) -> Option<u16> {
        let key = (node, variants.as_ptr() as usize);
        let pool: &'de SchemaPool = self.pool;
        let table = self.plans.variants.entry(key).or_insert_with(|| {
            let position = |name: &str| {
                variants
                    .iter()
                    .position(|v| names_match(v, name))
                    .map_or(u16::MAX, |i| i as u16)
            };
            match pool.node(node).as_struct() {
                Some(s) => s
                    .union_members
                    .iter()
                    .map(|&f| position(&s.fields[f as usize].name))
                    .collect(),
                None => {
                    let e = pool.node(node).as_enum().expect("enum node");
                    e.enumerants.iter().map(|en| position(&en.name)).collect()
                }
            }
        });
        table.get(value as usize).copied()
    }

    #[inline]
    pub(crate) fn enter(&mut self) -> Result<()> {
        self.depth.enter()
    }

    #[inline]
    pub(crate) fn leave(&mut self) {
        self.depth.leave();
    }
}

/// The active member of a union: the struct node, the member's field index, the struct and
/// its brand.
type ActiveMember<'de> = (NodeIndex, u16, StructRef<'de>, Option<Arc<Brand>>);

/// Where a value is read from.
#[derive(Clone, Copy)]
pub(crate) enum Src<'de> {
    Void,
    Data {
        bytes: &'de [u8],
        at: u64,
        default: u64,
    },
    /// A pointer (absent in an older struct) and the schema default for it.
    Ptr(Option<PtrRef<'de>>, Option<&'de Value>),
    Group(StructRef<'de>),
}

#[inline]
pub(crate) fn field_src<'de>(s: StructRef<'de>, slot: &'de FieldSlot) -> Src<'de> {
    match slot {
        FieldSlot::Void => Src::Void,
        FieldSlot::Data {
            ty,
            offset,
            default_bits,
        } => Src::Data {
            bytes: s.data,
            at: ty.bit_position(*offset),
            default: *default_bits,
        },
        FieldSlot::Pointer { index, default, .. } => Src::Ptr(s.pointer(*index), default.as_ref()),
        FieldSlot::Group { .. } => Src::Group(s),
    }
}

pub(crate) struct ValueDe<'c, 'de> {
    pub(crate) ctx: &'c mut DeCtx<'de>,
    pub(crate) ty: Cow<'de, Type>,
    pub(crate) src: Src<'de>,
}

/// What a pointer source resolves to once schema defaults are applied.
enum Target<'de> {
    Null,
    Ptr(PtrRef<'de>),
    Text(&'de str),
    Data(&'de [u8]),
}

impl<'c, 'de> ValueDe<'c, 'de> {
    fn mismatch(&self, wanted: &str) -> Error {
        Error::data(format!(
            "type mismatch: the schema has `{}` here, the Rust type expects {wanted}",
            self.ty.describe(self.ctx.pool)
        ))
    }

    #[inline]
    fn bits(&self) -> u64 {
        match self.src {
            Src::Data { bytes, at, default } => {
                read_bits(bytes, at, self.ty.data_bits().unwrap_or(0)) ^ default
            }
            _ => 0,
        }
    }

    #[inline]
    fn target(&self) -> Target<'de> {
        let Src::Ptr(p, default) = self.src else {
            return Target::Null;
        };
        match p {
            Some(p) if !Msg::is_null(p) => Target::Ptr(p),
            _ => match default {
                Some(Value::Text(t)) => Target::Text(t),
                Some(Value::Data(d)) => Target::Data(d),
                Some(Value::List(r) | Value::Struct(r) | Value::AnyPointer(r)) => {
                    Msg::detached(r.segment()).map_or(Target::Null, Target::Ptr)
                }
                _ => Target::Null,
            },
        }
    }

    #[inline]
    fn is_null(&self) -> bool {
        match self.src {
            Src::Ptr(p, _) => p.is_none_or(Msg::is_null),
            _ => false,
        }
    }

    #[inline]
    fn text(&self) -> Result<&'de str> {
        match self.target() {
            Target::Null => Ok(""),
            Target::Text(t) => Ok(t),
            Target::Data(_) => Err(Error::schema("Text field has a Data default")),
            Target::Ptr(p) => Ok(self.ctx.msg.read_text(p)?.unwrap_or("")),
        }
    }

    #[inline]
    fn data(&self) -> Result<&'de [u8]> {
        match self.target() {
            Target::Null => Ok(&[]),
            Target::Data(d) => Ok(d),
            Target::Text(t) => Ok(t.as_bytes()),
            Target::Ptr(p) => Ok(self.ctx.msg.read_blob(p)?.unwrap_or(&[])),
        }
    }

    #[inline]
    fn struct_ref(&self) -> Result<StructRef<'de>> {
        match self.src {
            Src::Group(s) => Ok(s),
            Src::Ptr(..) => match self.target() {
                Target::Ptr(p) => Ok(self
                    .ctx
                    .msg
                    .read_struct(p)?
                    .unwrap_or_else(StructRef::empty)),
                _ => Ok(StructRef::empty()),
            },
            _ => Err(self.mismatch("a struct")),
        }
    }

    #[inline]
    fn struct_type(&self) -> Result<(NodeIndex, Option<Arc<Brand>>)> {
        match &*self.ty {
            Type::Struct(n, b) => Ok((*n, b.clone())),
            Type::AnyPointer(AnyPointerKind::Any | AnyPointerKind::Struct) => Err(Error::schema(
                "cannot read an `AnyPointer` as a struct without a schema for it",
            )),
            _ => Err(self.mismatch("a struct")),
        }
    }

    #[inline]
    fn list(&self) -> Result<Option<(ListRef<'de>, Cow<'de, Type>)>> {
        let elem: Cow<'de, Type> = match &self.ty {
            Cow::Borrowed(Type::List(e)) => Cow::Borrowed(&**e),
            Cow::Owned(Type::List(e)) => Cow::Owned((**e).clone()),
            _ => return Err(self.mismatch("a sequence")),
        };
        let expect = Expect::for_element(&elem);
        match self.target() {
            Target::Ptr(p) => Ok(self.ctx.msg.read_list(p, expect)?.map(|l| (l, elem))),
            _ => Ok(None),
        }
    }

    fn enumerant(&self, n: NodeIndex) -> Result<&'de str> {
        let pool: &'de SchemaPool = self.ctx.pool;
        let v = self.bits() as u16;
        let e = pool.node(n).as_enum().expect("enum node");
        e.enumerants
            .get(v as usize)
            .map(|en| en.name.as_str())
            .ok_or_else(|| {
                Error::data(format!(
                    "{v} is not an enumerant of `{}`",
                    pool.node(n).short_name()
                ))
            })
    }

    fn visit_struct<V: Visitor<'de>>(
        self,
        visitor: V,
        fields: Option<&'static [&'static str]>,
    ) -> Result<V::Value> {
        let (node, brand) = self.struct_type()?;
        let s = self.struct_ref()?;
        let by_pointer = matches!(self.src, Src::Ptr(..));
        let ctx = self.ctx;
        if by_pointer {
            ctx.enter()?;
        } else {
            // A group is no nesting level, but nested groups still take stack.
            ctx.depth.check_stack()?;
        }
        let pool: &'de SchemaPool = ctx.pool;
        let schema = pool.node(node).as_struct().expect("struct");
        let access = match fields {
            Some(fields) => {
                let plan = ctx.plan_for(node, fields);
                StructAccess::planned(&mut *ctx, s, node, schema, plan, fields)
            }
            None => StructAccess {
                ctx: &mut *ctx,
                s,
                node,
                schema,
                brand: None,
                plan: None,
                in_order: None,
                pos: 0,
                pending: NO_KEY,
            },
        };
        let r = StructAccess { brand, ..access }.visit(visitor);
        if by_pointer {
            ctx.leave();
        }
        r
    }

    fn visit_list<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.list()? {
            None => visitor.visit_seq(SeqDeserializer::<_, Error>::new(std::iter::empty::<()>())),
            Some((list, elem)) => {
                self.ctx.enter()?;
                let pool: &'de SchemaPool = self.ctx.pool;
                let structs = match elem {
                    Cow::Borrowed(ty @ Type::Struct(node, None)) => Some((
                        ty,
                        *node,
                        pool.node(*node).as_struct().expect("struct type"),
                    )),
                    _ => None,
                };
                let r = visitor.visit_seq(ListAccess {
                    ctx: &mut *self.ctx,
                    list,
                    elem,
                    i: 0,
                    structs,
                    cache: Cell::new((0, 0)),
                });
                self.ctx.leave();
                r
            }
        }
    }

    fn union_member(&self) -> Result<Option<ActiveMember<'de>>> {
        let (node, brand) = self.struct_type()?;
        let pool: &'de SchemaPool = self.ctx.pool;
        let s = pool.node(node).as_struct().expect("struct");
        if !s.has_union() {
            return Ok(None);
        }
        let sr = self.struct_ref()?;
        let d = read_discriminant(sr.data, s);
        let Some(&field) = s.union_members.get(d as usize) else {
            return Err(Error::data(format!(
                "union of `{}` has discriminant {d}, which this schema does not know",
                pool.node(node).short_name()
            )));
        };
        Ok(Some((node, field, sr, brand)))
    }
}

macro_rules! deserialize_number {
    ($($method:ident)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            self.deserialize_any(visitor)
        })*
    };
}

impl<'de> de::Deserializer<'de> for ValueDe<'_, 'de> {
    type Error = Error;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let b = self.bits();
        match &*self.ty {
            Type::Void => visitor.visit_unit(),
            Type::Bool => visitor.visit_bool(b != 0),
            Type::Int8 => visitor.visit_i8(b as i8),
            Type::Int16 => visitor.visit_i16(b as i16),
            Type::Int32 => visitor.visit_i32(b as i32),
            Type::Int64 => visitor.visit_i64(b as i64),
            Type::UInt8 => visitor.visit_u8(b as u8),
            Type::UInt16 => visitor.visit_u16(b as u16),
            Type::UInt32 => visitor.visit_u32(b as u32),
            Type::UInt64 => visitor.visit_u64(b),
            Type::Float32 => visitor.visit_f32(f32::from_bits(b as u32)),
            Type::Float64 => visitor.visit_f64(f64::from_bits(b)),
            Type::Text => visitor.visit_borrowed_str(self.text()?),
            // As a sequence of bytes, which self-describing targets such as `serde_json::Value`
            // accept; typed byte buffers ask for bytes through `deserialize_bytes`.
            Type::Data => visitor.visit_seq(SeqDeserializer::<_, Error>::new(
                self.data()?.iter().copied(),
            )),
            Type::Enum(n) => {
                let n = *n;
                match self.enumerant(n) {
                    Ok(name) => visitor.visit_borrowed_str(name),
                    Err(_) => visitor.visit_u16(b as u16),
                }
            }
            Type::List(_) => self.visit_list(visitor),
            // A null struct pointer is a unit: expanding it into its defaults would never end
            // for a recursive type.
            Type::Struct(..) if matches!(self.target(), Target::Null) && self.is_null() => {
                visitor.visit_unit()
            }
            Type::Struct(..) => self.visit_struct(visitor, None),
            Type::Interface(..) | Type::AnyPointer(AnyPointerKind::Capability) => {
                match self.target() {
                    Target::Ptr(p) => match self.ctx.msg.read_capability(p)? {
                        Some(i) => visitor.visit_u32(i),
                        None => visitor.visit_unit(),
                    },
                    _ => visitor.visit_unit(),
                }
            }
            Type::AnyPointer(_) | Type::Param { .. } | Type::MethodParam(_) => {
                if self.is_null() {
                    visitor.visit_unit()
                } else {
                    Err(Error::schema(
                        "cannot read an `AnyPointer` without a schema for its content",
                    ))
                }
            }
        }
    }

    deserialize_number!(deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_f32 deserialize_f64 deserialize_char deserialize_identifier);

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match &*self.ty {
            Type::Text => visitor.visit_borrowed_str(self.text()?),
            Type::Data => {
                let d = self.data()?;
                match std::str::from_utf8(d) {
                    Ok(s) => visitor.visit_borrowed_str(s),
                    Err(_) => visitor.visit_borrowed_bytes(d),
                }
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match &*self.ty {
            Type::Data => visitor.visit_borrowed_bytes(self.data()?),
            Type::Text => visitor.visit_borrowed_bytes(self.text()?.as_bytes()),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match &*self.ty {
            Type::Data => {
                let d = self.data()?;
                visitor.visit_seq(SeqDeserializer::<_, Error>::new(d.iter().copied()))
            }
            Type::List(_) => self.visit_list(visitor),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if let Type::List(elem) = &*self.ty {
            if let Type::Struct(n, _) = &**elem {
                let s = self.ctx.pool.node(*n).as_struct().expect("struct");
                if let (Some(k), Some(v)) = (s.field_index("key"), s.field_index("value")) {
                    return match self.list()? {
                        None => {
                            visitor.visit_map(serde::de::value::MapDeserializer::<
                                std::iter::Empty<((), ())>,
                                Error,
                            >::new(std::iter::empty()))
                        }
                        Some((list, elem)) => {
                            self.ctx.enter()?;
                            let r = visitor.visit_map(EntryAccess {
                                ctx: &mut *self.ctx,
                                list,
                                elem,
                                key: k,
                                value: v,
                                i: 0,
                            });
                            self.ctx.leave();
                            r
                        }
                    };
                }
            }
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match &*self.ty {
            Type::Struct(..) => self.visit_struct(visitor, Some(fields)),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match &*self.ty {
            Type::Enum(n) => {
                let rust = self.ctx.variant(*n, self.bits() as u16, variants)?;
                visitor.visit_enum(BorrowedStrDeserializer::<Error>::new(rust))
            }
            Type::Text => {
                let t = self.text()?;
                visitor.visit_enum(t.into_deserializer())
            }
            t if t.is_integer() => {
                let v = self.bits();
                visitor.visit_enum(UnitByIndex(v))
            }
            Type::Struct(..) => {
                let Some((node, field, s, brand)) = self.union_member()? else {
                    return Err(Error::schema(format!(
                        "`{}` has no union to read the enum from",
                        self.ty.describe(self.ctx.pool)
                    )));
                };
                let pool: &'de SchemaPool = self.ctx.pool;
                let f = &pool.node(node).as_struct().expect("struct").fields[field as usize];
                let discriminant = f.discriminant.expect("a union member");
                let rust = self.ctx.union_variant(node, discriminant, variants)?;
                let by_pointer = matches!(self.src, Src::Ptr(..));
                let ctx = self.ctx;
                if by_pointer {
                    ctx.enter()?;
                }
                let r = visitor
                    .visit_enum(UnionAccess {
                        de: ValueDe {
                            ctx: &mut *ctx,
                            ty: field_type(&f.slot, brand.as_deref()),
                            src: field_src(s, &f.slot),
                        },
                        rust,
                    })
                    .map_err(|e| e.in_field(f.name.clone()));
                if by_pointer {
                    ctx.leave();
                }
                r
            }
            _ => Err(self.mismatch("an enum")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }
}

/// Reads a struct's fields as map entries.
pub(crate) struct StructAccess<'c, 'de> {
    ctx: &'c mut DeCtx<'de>,
    s: StructRef<'de>,
    node: NodeIndex,
    schema: &'de StructNode,
    brand: Option<Arc<Brand>>,
    /// With a plan, keys are serde's field names; without one, every present schema field.
    plan: Option<(Rc<[PlanField<'de>]>, &'static [&'static str])>,
    /// The plan's number when it allows a visitor derived by serde to read the fields in order.
    in_order: Option<u32>,
    pos: usize,
    /// The entry whose key was given last: a position in the plan, or with no plan a schema
    /// field; `NO_KEY` before a key.
    pending: u32,
}

impl<'c, 'de> StructAccess<'c, 'de> {
    /// Reads the fields serde asks for, following a plan.
    #[inline]
    pub(crate) fn planned(
        ctx: &'c mut DeCtx<'de>,
        s: StructRef<'de>,
        node: NodeIndex,
        schema: &'de StructNode,
        plan: u32,
        fields: &'static [&'static str],
    ) -> Self {
        let p = &ctx.plans.list[plan as usize];
        let (in_order, plan_fields) = (p.in_order.then_some(plan), p.fields.clone());
        StructAccess {
            ctx,
            s,
            node,
            schema,
            brand: None,
            plan: Some((plan_fields, fields)),
            in_order,
            pos: 0,
            pending: NO_KEY,
        }
    }

    /// Hands the struct to `visitor`.
    ///
    /// A visitor that serde's derive generated also reads a struct as a sequence of its fields
    /// in declaration order, which skips the key protocol (a name per field, matched by string
    /// comparison). That order is serde's field list when each name in it is a distinct plain
    /// field of the schema: a field list with an alias that the schema lacks falls back to the
    /// map. An alias naming another schema field leaves an element unread, which is reported as
    /// an error, as the map form reports the duplicate field. Any other visitor, and any other
    /// plan, gets the map.
    #[inline]
    pub(crate) fn visit<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value> {
        self.ctx.msg.charge_defaults(&self.s, self.schema)?;
        let Some(plan) = self.in_order else {
            return visitor.visit_map(self);
        };
        // The name's address stands for the type, so the name is read once per visitor type.
        let name = std::any::type_name::<V>().as_ptr() as usize;
        let known = &self.ctx.plans.list[plan as usize].visitor;
        let derived = match known.get() {
            (last, derived) if last == name => derived,
            _ => {
                let derived = derived_by_serde::<V>();
                known.set((name, derived));
                derived
            }
        };
        if !derived {
            return visitor.visit_map(self);
        }
        let value = visitor.visit_seq(InOrder(&mut self))?;
        match &self.plan {
            Some((plan, names)) if self.pos < plan.len() => Err(Error::data(format!(
                "the Rust type read {} of the {} fields its field list names ({}); \
                 a `#[serde(alias)]` that names another field of the schema is ambiguous",
                self.pos,
                plan.len(),
                names.join(", ")
            ))),
            _ => Ok(value),
        }
    }

    #[inline]
    fn node(&self) -> &'de StructNode {
        self.schema
    }
}

impl<'de> de::MapAccess<'de> for StructAccess<'_, 'de> {
    type Error = Error;

    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        let s = self.node();
        loop {
            match &self.plan {
                Some((plan, names)) => {
                    let names: &'static [&'static str] = names;
                    let Some(pf) = plan.get(self.pos) else {
                        return Ok(None);
                    };
                    let (discriminant, rust) = (pf.discriminant, pf.rust);
                    self.pending = self.pos as u32;
                    self.pos += 1;
                    if discriminant != NO_DISCRIMINANT
                        && read_discriminant(self.s.data, s) != discriminant
                    {
                        continue;
                    }
                    // Keys go by name: serde's `fields` also lists aliases, so a position in it
                    // is not a field's position.
                    return seed
                        .deserialize(BorrowedStrDeserializer::<Error>::new(names[rust as usize]))
                        .map(Some);
                }
                None => {
                    // Fields outside the union in code order, then the active union member.
                    let field = if self.pos < s.plain_fields.len() {
                        s.plain_fields[self.pos]
                    } else if self.pos == s.plain_fields.len() && s.has_union() {
                        let d = read_discriminant(self.s.data, s);
                        match s.union_members.get(d as usize) {
                            Some(&f) => f,
                            None => {
                                return Err(Error::data(format!(
                                    "union has discriminant {d}, which this schema does not know"
                                )))
                            }
                        }
                    } else {
                        return Ok(None);
                    };
                    self.pos += 1;
                    let name: &'de str = &s.fields[field as usize].name;
                    self.pending = field as u32;
                    return seed
                        .deserialize(BorrowedStrDeserializer::<Error>::new(name))
                        .map(Some);
                }
            }
        }
    }

    #[inline]
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        let pending = std::mem::replace(&mut self.pending, NO_KEY);
        let Some((plan, _)) = &self.plan else {
            if pending == NO_KEY {
                return Err(Error::data("map value requested before its key"));
            }
            return self.slow_value(seed, pending as u16, "");
        };
        if pending as usize >= plan.len() {
            return Err(Error::data("map value requested before its key"));
        }
        self.planned_value(pending as usize, seed)
    }
}

impl<'de> StructAccess<'_, 'de> {
    /// Reads the field at `pos` in the plan: a data step in place, any other out of line (a
    /// pointer costs far more than the call).
    #[inline(always)]
    fn planned_value<V: DeserializeSeed<'de>>(&mut self, pos: usize, seed: V) -> Result<V::Value> {
        let Some((plan, _)) = &self.plan else {
            return Err(Error::data("map value requested before its key"));
        };
        // The step is read in place; the name for an error path is looked up only on error.
        let pf = &plan[pos];
        match pf.fast {
            Fast::Data { ty, at, default } => seed.deserialize(self.data_de(ty, at, default)),
            _ => return self.planned_pointer(pos, seed),
        }
        .map_err(|e| e.in_field(self.planned_name(pos)))
    }

    /// The reader of a data field of this struct.
    #[inline(always)]
    fn data_de(&mut self, ty: &'de Type, at: u64, default: u64) -> DataDe<'_, 'de> {
        DataDe {
            ctx: &mut *self.ctx,
            ty,
            bytes: self.s.data,
            at,
            default,
        }
    }

    /// [`planned_value`](Self::planned_value) for a step other than a data step.
    #[inline(never)]
    fn planned_pointer<V: DeserializeSeed<'de>>(
        &mut self,
        pos: usize,
        seed: V,
    ) -> Result<V::Value> {
        let Some((plan, _)) = &self.plan else {
            return Err(Error::data("map value requested before its key"));
        };
        let pf = &plan[pos];
        match pf.fast {
            Fast::Data { ty, at, default } => seed.deserialize(self.data_de(ty, at, default)),
            Fast::Ptr { ty, index, default } => seed.deserialize(PtrDe {
                ctx: &mut *self.ctx,
                ty,
                p: self.s.pointer(index),
                default,
            }),
            Fast::Struct {
                ty,
                index,
                node,
                schema,
            } => seed.deserialize(StructPtrDe {
                ctx: &mut *self.ctx,
                ty,
                p: self.s.pointer(index),
                node,
                schema,
                cache: &pf.child,
            }),
            Fast::No => {
                let field = pf.field;
                let name = self.planned_name(pos);
                return self.slow_value(seed, field, name);
            }
        }
        .map_err(|e| e.in_field(self.planned_name(pos)))
    }

    /// The Rust name of the field at `pos` in the plan.
    fn planned_name(&self, pos: usize) -> &'static str {
        match &self.plan {
            Some((plan, names)) => names[plan[pos].rust as usize],
            None => "",
        }
    }
}

/// A struct's fields in the order of its Rust type, as a sequence for a visitor serde's
/// derive generated (see [`StructAccess::visit`]). Its own type rather than `&mut
/// StructAccess`, whose `next_element` is serde's forwarding impl for `&mut A`, so that each
/// field's read is inlined into the visitor.
struct InOrder<'a, 'b, 'de>(&'a mut StructAccess<'b, 'de>);

impl<'de> de::SeqAccess<'de> for InOrder<'_, '_, 'de> {
    type Error = Error;

    #[inline(always)]
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        de::SeqAccess::next_element_seed(self.0, seed)
    }

    #[inline(always)]
    fn next_element<T: de::Deserialize<'de>>(&mut self) -> Result<Option<T>> {
        de::SeqAccess::next_element_seed(self.0, PhantomData)
    }

    fn size_hint(&self) -> Option<usize> {
        de::SeqAccess::size_hint(self.0)
    }
}

impl<'de> de::SeqAccess<'de> for StructAccess<'_, 'de> {
    type Error = Error;

    #[inline(always)]
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        let len = self.plan.as_ref().map_or(0, |(plan, _)| plan.len());
        let pos = self.pos;
        if pos >= len {
            return Ok(None);
        }
        self.pos += 1;
        self.planned_value(pos, seed).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        let len = self.plan.as_ref().map_or(0, |(plan, _)| plan.len());
        Some(len.saturating_sub(self.pos))
    }
}

/// Whether serde's derive generated the visitor `V` of a struct, going by its type's path: the
/// name the derive gives it, inside the anonymous `const _` the derive puts its impl in.
/// Turns serde's "missing field" for a Rust field the schema does not have into an error that
/// says so and lists the schema's fields: reading tolerates fields missing from a message,
/// never from the schema. Done where the error leaves the reader, by following its path from
/// the type read, so that reading pays nothing for it.
#[cold]
pub(crate) fn explain_missing(err: Error, pool: &SchemaPool, ty: &Type) -> Error {
    let Some(field) = err.missing_field() else {
        return err;
    };
    // The struct at the error's path; a path this walk cannot follow (a union member, a map
    // entry) leaves the error as it is.
    let at = |err: &Error| -> Option<NodeIndex> {
        let mut ty = Cow::Borrowed(ty);
        for step in err.steps() {
            ty = match (step, &*ty) {
                (Ok(name), Type::Struct(n, brand)) => {
                    let s = pool.node(*n).as_struct()?;
                    let f = &s.fields[find_field(s, name)? as usize];
                    Cow::Owned(field_type(&f.slot, brand.as_deref()).into_owned())
                }
                (Err(_), Type::List(element)) => Cow::Owned((**element).clone()),
                _ => return None,
            };
        }
        match *ty {
            Type::Struct(n, _) => Some(n),
            _ => None,
        }
    };
    let Some(n) = at(&err) else {
        return err;
    };
    let Some(schema) = pool.node(n).as_struct() else {
        return err;
    };
    if find_field(schema, field).is_some() || field == UNION_FIELD {
        return err;
    }
    let names: Vec<String> = schema
        .fields
        .iter()
        .map(|f| format!("`{}`", f.name))
        .collect();
    let message = format!(
        "`{field}` is not a field of `{}`; its fields are {}",
        pool.node(n).short_name(),
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    );
    err.reworded(crate::error::Category::Schema, message)
}

/// Derived struct visitors always implement `visit_seq`; a hand-written visitor may implement
/// only `visit_map`, so it is offered a sequence only if it copies that whole path.
fn derived_by_serde<'de, V: Visitor<'de>>() -> bool {
    is_derived_visitor_name(std::any::type_name::<V>())
}

/// Whether `name` is the path of a struct visitor that serde's derive generated.
fn is_derived_visitor_name(name: &str) -> bool {
    const SUFFIX: &str = "::deserialize::__Visitor";
    let name = name.as_bytes();
    // Generic arguments follow the visitor's own path: step back over them.
    let mut end = name.len();
    if name.last() == Some(&b'>') {
        let mut depth = 0usize;
        for (i, &b) in name.iter().enumerate().rev() {
            match b {
                // The arrow of a function type is no bracket.
                b'>' if i > 0 && name[i - 1] == b'-' => {}
                b'>' => depth += 1,
                b'<' => {
                    let Some(d) = depth.checked_sub(1) else {
                        return false;
                    };
                    depth = d;
                    if depth == 0 {
                        end = i;
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    // serde's derive puts its impl in an anonymous `const _`, so the impl's path is
    // `crate::module::_::<impl ...>`; a hand-written impl's method is `<Type as Trait>::...`.
    let Some(path) = name[..end].strip_suffix(SUFFIX.as_bytes()) else {
        return false;
    };
    const IMPL: &[u8] = b"::_::<impl ";
    name.first() != Some(&b'<')
        && path.last() == Some(&b'>')
        && path.windows(IMPL.len()).any(|w| w == IMPL)
}

impl<'de> StructAccess<'_, 'de> {
    fn slow_value<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
        field: u16,
        name: &'static str,
    ) -> Result<V::Value> {
        let s = self.node();
        if field == WHICH {
            return seed
                .deserialize(ValueDe {
                    ctx: &mut *self.ctx,
                    ty: Cow::Owned(Type::Struct(self.node, self.brand.clone())),
                    src: Src::Group(self.s),
                })
                .map_err(|e| e.in_field(name));
        }
        let f = &s.fields[field as usize];
        seed.deserialize(ValueDe {
            ctx: &mut *self.ctx,
            ty: field_type(&f.slot, self.brand.as_deref()),
            src: field_src(self.s, &f.slot),
        })
        .map_err(|e| {
            if name.is_empty() {
                e.in_field(f.name.clone())
            } else {
                e.in_field(name)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::is_derived_visitor_name;
    use serde::de::{value::Error, Deserializer, Visitor};

    /// Records the type name of the visitor a struct hands over, and fails.
    struct NameOfVisitor<'a>(&'a mut &'static str);

    impl<'de> Deserializer<'de> for NameOfVisitor<'_> {
        type Error = Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
            Err(serde::de::Error::custom("unused"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            _: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Error> {
            *self.0 = std::any::type_name::<V>();
            Err(serde::de::Error::custom("recorded"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    fn visitor_name<'de, T: serde::Deserialize<'de>>() -> &'static str {
        let mut name = "";
        let _ = T::deserialize(NameOfVisitor(&mut name));
        name
    }

    /// The derive of the serde in use still names its visitors as the in-order path expects.
    #[test]
    fn the_derive_in_use_is_recognized() {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct Plain {
            a: u8,
        }
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct Generic<'a, T> {
            a: &'a str,
            t: T,
        }
        assert!(is_derived_visitor_name(visitor_name::<Plain>()));
        assert!(is_derived_visitor_name(visitor_name::<
            Generic<Vec<Option<u8>>>,
        >()));
    }

    #[test]
    fn derived_visitor_names() {
        for name in [
            "app::_::<impl serde::de::Deserialize for app::Log>::deserialize::__Visitor",
            "app::_::<impl serde::de::Deserialize for app::Pair<K, V>>::deserialize::__Visitor<u8, alloc::string::String>",
            "a::_::<impl serde::de::Deserialize for a::F>::deserialize::__Visitor<fn(u8) -> u8>",
        ] {
            assert!(is_derived_visitor_name(name), "{name}");
        }
        for name in [
            "app::LogVisitor",
            "app::Wrap<app::_::<impl serde::de::Deserialize for app::Log>::deserialize::__Visitor>",
            "app::__Visitor",
            // A visitor written by hand inside `fn deserialize`, under serde's own name.
            "<app::ByHand as serde_core::de::Deserialize<'_>>::deserialize::__Visitor",
            "app::deserialize::__Visitor",
            "broken>",
            "",
        ] {
            assert!(!is_derived_visitor_name(name), "{name}");
        }
    }
}
