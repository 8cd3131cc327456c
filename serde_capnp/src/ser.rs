//! The serializer: Rust values → Cap'n Proto messages, driven by a struct schema.

use std::borrow::Cow;
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use serde::ser::{self, Serialize};
use serde_capnp_schema::{
    names_match, AnyPointerKind, Brand, FieldSlot, NodeIndex, SchemaPool, StructNode, Type,
};

use crate::content::{Capture, Content};
use crate::error::{Error, Result};
use crate::plan::{FastMap, Held, PlanCache, PlanIndex};
use crate::ser_fast::{DataSer, PtrSer};
use crate::ser_list::{MapKind, MapSer, SeqKind, SeqSer};
use crate::wire::{Depth, ElemSize, ListB, Out, StructB};

/// Serializes `value` as a message whose root is of the struct type `root`, into `out`.
pub(crate) fn serialize<T: ?Sized + Serialize>(
    pool: &SchemaPool,
    root: Type,
    value: &T,
    out: Out,
    cache: &PlanCache,
    nesting_limit: u32,
) -> Result<Vec<u8>> {
    let mut ctx = Ctx {
        pool,
        out,
        plans: cache.take_write(pool),
        depth: Depth::new(nesting_limit),
    };
    let r = value.serialize(ValueSer {
        ctx: &mut ctx,
        ty: Cow::Owned(root),
        target: Target::Ptr(Out::ROOT),
    });
    cache.put_write(pool, ctx.plans);
    r?;
    Ok(ctx.out.finish())
}

const NOT_IN_SCHEMA: u16 = u16::MAX;

/// The newtype name under which the RPC layer's capabilities serialize their index in the
/// capability table of the message being built; every other serializer sees a plain number.
pub(crate) const CAPABILITY: &str = "$serde_capnp::Capability";

/// `v` as a `Float32`: rounded to the nearest `f32`, but a finite value too large for one is
/// an error rather than an infinity (NaN and the infinities themselves carry over).
fn narrow(v: f64) -> Result<f32> {
    let f = v as f32;
    if f.is_infinite() && v.is_finite() {
        return Err(Error::data(format!(
            "{v} is out of range for `Float32` (at most {:e} in magnitude)",
            f32::MAX
        )));
    }
    Ok(f)
}

/// The largest list (in bytes of its body) laid out on the word of a `Serialize` impl alone,
/// before its elements are seen; see [`ValueSer::hint_is_cheap`].
const CAUTIOUS_HINT_BYTES: usize = 1 << 20;

/// The Rust field name that stands for a struct's unnamed union (pycapnp's `which()`).
pub(crate) const UNION_FIELD: &str = "which";

/// Serialization state: the message and the per-Rust-type plans.
///
/// A plan remembers, for one (struct node, Rust type) pair, which schema field each successive
/// `serialize_field` key maps to, keyed by the address of serde's `&'static str` key: after the
/// first value of a type, a field costs one pointer comparison.
pub(crate) struct Ctx<'s> {
    pub(crate) pool: &'s SchemaPool,
    pub(crate) out: Out,
    pub(crate) plans: Held<Plans<'s>>,
    /// The handle's nesting limit, counted as readers count it, so that what is written can be
    /// read back.
    pub(crate) depth: Depth,
}

impl Ctx<'_> {
    /// Enters a struct behind a pointer, or a list.
    #[inline]
    pub(crate) fn enter(&mut self) -> Result<()> {
        self.depth.enter()
    }

    #[inline]
    pub(crate) fn leave(&mut self) {
        self.depth.leave();
    }
}

/// What writing has learnt about the Rust types it met: it depends on the schema only, so a
/// handle keeps it from one message to the next.
pub(crate) struct Plans<'s> {
    list: Vec<Plan<'s>>,
    index: PlanIndex,
    /// Enumerant ordinals by (enum node, address of serde's variant name).
    enumerants: FastMap<(NodeIndex, usize), u16>,
    /// The steps of a plan that has not served a whole struct yet.
    none: Steps<'s>,
}

impl Plans<'_> {
    pub(crate) fn new() -> Self {
        Plans {
            list: Vec::new(),
            index: PlanIndex::new(),
            enumerants: FastMap::default(),
            none: Rc::from([]),
        }
    }
}

/// A plan's steps as a struct's serializer holds them: shared, so that it reads each step
/// straight from its own copy of the pointer instead of through the context, which it can
/// only reach by the mutable borrow every field's serializer takes in turn.
type Steps<'s> = Rc<[PlanField<'s>]>;

struct Plan<'s> {
    /// The steps learnt so far; the first value of a Rust type adds them.
    keys: Vec<PlanField<'s>>,
    /// `keys` as of the last struct that needed no new step.
    steps: Steps<'s>,
}

/// One step of a plan: the key serde passes, the schema field it names and, for plain fields of
/// non-generic structs, everything needed to write the value without consulting the schema.
#[derive(Clone)]
pub(crate) struct PlanField<'s> {
    key: usize,
    len: usize,
    field: u16,
    fast: Fast<'s>,
}

#[derive(Clone)]
enum Fast<'s> {
    No,
    Data {
        ty: &'s Type,
        at: u64,
        bits: u32,
        default: u64,
    },
    Ptr {
        ty: &'s Type,
        off: usize,
        /// The plan of the struct last written through this step, by the address of serde's
        /// name for its Rust type: a nested struct's plan without a search of the index.
        nested: Cell<(usize, u32)>,
    },
}

impl<'s> Ctx<'s> {
    /// The ordinal of the enumerant of `node` that the Rust variant `variant` names.
    #[inline]
    pub(crate) fn enumerant(&mut self, node: NodeIndex, variant: &'static str) -> Result<u16> {
        let key = (node, variant.as_ptr() as usize);
        if let Some(&i) = self.plans.enumerants.get(&key) {
            return Ok(i);
        }
        let i = find_enumerant(self.pool, node, variant)?;
        self.plans.enumerants.insert(key, i);
        Ok(i)
    }

    #[inline]
    pub(crate) fn plan_for(&mut self, node: NodeIndex, name: &'static str) -> u32 {
        let Plans {
            list, index, none, ..
        } = &mut self.plans.set;
        index.get_or_make(node, name.as_ptr() as usize, list.len(), || {
            list.push(Plan {
                keys: Vec::new(),
                steps: none.clone(),
            })
        })
    }

    /// The steps of `plan`, as a struct's serializer holds them.
    #[inline]
    pub(crate) fn steps(&self, plan: u32) -> Steps<'s> {
        self.plans.list[plan as usize].steps.clone()
    }

    /// Shares the steps `plan` has learnt, after a struct learnt new ones.
    #[cold]
    fn share_steps(&mut self, plan: u32) {
        let plan = &mut self.plans.list[plan as usize];
        if plan.keys.len() > plan.steps.len() {
            plan.steps = Rc::from(&plan.keys[..]);
        }
    }

    /// The plan step for the `pos`-th field serialized with this plan.
    #[inline(always)]
    fn planned_field(
        &mut self,
        plan: u32,
        pos: usize,
        node: NodeIndex,
        s: &'s StructNode,
        key: &'static str,
    ) -> PlanField<'s> {
        let k = (key.as_ptr() as usize, key.len());
        let keys = &mut self.plans.list[plan as usize].keys;
        if let Some(pf) = keys.get(pos) {
            if pf.key == k.0 && pf.len == k.1 {
                return pf.clone();
            }
        }
        self.planned_field_slow(plan, pos, node, s, key)
    }

    #[cold]
    fn planned_field_slow(
        &mut self,
        plan: u32,
        pos: usize,
        node: NodeIndex,
        s: &'s StructNode,
        key: &'static str,
    ) -> PlanField<'s> {
        let k = (key.as_ptr() as usize, key.len());
        let keys = &mut self.plans.list[plan as usize].keys;
        if let Some(pf) = keys.iter().find(|e| e.key == k.0 && e.len == k.1) {
            return pf.clone();
        }
        let field = find_field(s, key).unwrap_or(NOT_IN_SCHEMA);
        let generic = self.pool.node(node).is_generic;
        let fast = match s.fields.get(field as usize) {
            Some(f) if !generic && f.discriminant.is_none() => match &f.slot {
                FieldSlot::Data {
                    ty,
                    offset,
                    default_bits,
                } => Fast::Data {
                    ty,
                    at: ty.bit_position(*offset),
                    bits: ty.data_bits().unwrap_or(0),
                    default: *default_bits,
                },
                FieldSlot::Pointer { ty, index, .. } => Fast::Ptr {
                    ty,
                    off: *index as usize * 8,
                    nested: Cell::new((0, 0)),
                },
                _ => Fast::No,
            },
            _ => Fast::No,
        };
        let pf = PlanField {
            key: k.0,
            len: k.1,
            field,
            fast,
        };
        if pos == keys.len() {
            keys.push(pf.clone());
        }
        pf
    }
}

/// Finds an enumerant by its Rust or Cap'n Proto name.
pub(crate) fn find_enumerant(pool: &SchemaPool, node: NodeIndex, name: &str) -> Result<u16> {
    let e = pool.node(node).as_enum().expect("enum node");
    e.enumerant_by_rust_name(name)
        .or_else(|| {
            e.enumerants
                .iter()
                .position(|en| names_match(name, &en.name))
                .map(|i| i as u16)
        })
        .ok_or_else(|| {
            Error::data(format!(
                "`{name}` is not an enumerant of `{}`",
                pool.node(node).short_name()
            ))
        })
}

/// Finds a schema field by its Rust name: exact, then snake_case or PascalCase → camelCase.
pub(crate) fn find_field(s: &StructNode, key: &str) -> Option<u16> {
    s.field_by_rust_name(key).or_else(|| {
        s.fields
            .iter()
            .position(|f| names_match(key, &f.name))
            .map(|i| i as u16)
    })
}

/// Where a value is written.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target {
    Void,
    Data {
        base: usize,
        at: u64,
        bits: u32,
        default: u64,
    },
    Ptr(usize),
    Group(StructB),
}

#[inline(always)]
pub(crate) fn field_target(s: StructB, slot: &FieldSlot) -> Target {
    match slot {
        FieldSlot::Void => Target::Void,
        FieldSlot::Data {
            ty,
            offset,
            default_bits,
        } => Target::Data {
            base: s.data,
            at: ty.bit_position(*offset),
            bits: ty.data_bits().unwrap_or(0),
            default: *default_bits,
        },
        FieldSlot::Pointer { index, .. } => Target::Ptr(s.ptrs + *index as usize * 8),
        FieldSlot::Group { .. } => Target::Group(s),
    }
}

/// The type of a field, with generic parameters bound by the enclosing struct's brand.
#[inline(always)]
pub(crate) fn field_type<'s>(slot: &'s FieldSlot, brand: Option<&Brand>) -> Cow<'s, Type> {
    match slot {
        FieldSlot::Group { node } => {
            Cow::Owned(Type::Struct(*node, brand.map(|b| Arc::new(b.clone()))))
        }
        other => other.ty().unwrap_or(&Type::Void).resolved(brand),
    }
}

pub(crate) struct ValueSer<'c, 's> {
    pub(crate) ctx: &'c mut Ctx<'s>,
    pub(crate) ty: Cow<'s, Type>,
    pub(crate) target: Target,
}

impl<'c, 's> ValueSer<'c, 's> {
    fn mismatch(&self, found: &str) -> Error {
        Error::data(format!(
            "type mismatch: the schema has `{}` here, the value is {}",
            self.ty.describe(self.ctx.pool),
            found
        ))
    }

    #[inline(always)]
    fn write_data(self, bits_value: u64, found: &str) -> Result<()> {
        match self.target {
            Target::Data {
                base,
                at,
                bits,
                default,
            } => {
                self.ctx
                    .out
                    .write_bits(base, at, bits, bits_value ^ default);
                Ok(())
            }
            _ => Err(self.mismatch(found)),
        }
    }

    #[inline(always)]
    fn int(self, v: i128) -> Result<()> {
        let range = |ok: bool, name: &str| {
            if ok {
                Ok(())
            } else {
                Err(Error::data(format!(
                    "integer {v} is out of range for `{name}`"
                )))
            }
        };
        let bits = match *self.ty {
            Type::Int8 => {
                range(i8::try_from(v).is_ok(), "Int8")?;
                v as i8 as u8 as u64
            }
            Type::Int16 => {
                range(i16::try_from(v).is_ok(), "Int16")?;
                v as i16 as u16 as u64
            }
            Type::Int32 => {
                range(i32::try_from(v).is_ok(), "Int32")?;
                v as i32 as u32 as u64
            }
            Type::Int64 => {
                range(i64::try_from(v).is_ok(), "Int64")?;
                v as i64 as u64
            }
            Type::UInt8 => {
                range(u8::try_from(v).is_ok(), "UInt8")?;
                v as u64
            }
            Type::UInt16 => {
                range(u16::try_from(v).is_ok(), "UInt16")?;
                v as u64
            }
            Type::UInt32 => {
                range(u32::try_from(v).is_ok(), "UInt32")?;
                v as u64
            }
            Type::UInt64 => {
                range(u64::try_from(v).is_ok(), "UInt64")?;
                v as u64
            }
            Type::Float32 => narrow(v as f64)?.to_bits() as u64,
            Type::Float64 => (v as f64).to_bits(),
            Type::Enum(n) => {
                let count = self
                    .ctx
                    .pool
                    .node(n)
                    .as_enum()
                    .map_or(0, |e| e.enumerants.len());
                if v < 0 || v >= count as i128 {
                    return Err(Error::data(format!(
                        "{v} is not an enumerant of `{}`",
                        self.ctx.pool.node(n).short_name()
                    )));
                }
                v as u64
            }
            _ => return Err(self.mismatch("an integer")),
        };
        self.write_data(bits, "an integer")
    }

    #[inline(always)]
    fn float(self, v: f64) -> Result<()> {
        let bits = match *self.ty {
            Type::Float32 => narrow(v)?.to_bits() as u64,
            Type::Float64 => v.to_bits(),
            _ => return Err(self.mismatch("a float")),
        };
        self.write_data(bits, "a float")
    }

    /// Writes a capability pointer: `value` is its index in the capability table of the
    /// message being built, which the RPC layer keeps.
    fn capability<T: ?Sized + Serialize>(self, value: &T) -> Result<()> {
        let index = match value.serialize(Capture)? {
            Content::U64(i) if i <= u32::MAX as u64 => i as u32,
            _ => return Err(Error::data("a capability's index must be a `u32`")),
        };
        match (&*self.ty, self.target) {
            (Type::Interface(..) | Type::AnyPointer(_), Target::Ptr(p)) => {
                self.ctx.out.set_capability(p, index);
                Ok(())
            }
            _ => Err(self.mismatch("a capability")),
        }
    }

    #[inline]
    fn struct_builder(&mut self) -> Result<(StructB, NodeIndex, Option<Arc<Brand>>)> {
        let (node, brand) = match &*self.ty {
            Type::Struct(n, b) => (*n, b.clone()),
            Type::AnyPointer(AnyPointerKind::Any | AnyPointerKind::Struct) => {
                return Err(Error::schema(
                    "cannot write a struct into an `AnyPointer` without a schema for it",
                ))
            }
            _ => return Err(self.mismatch("a struct")),
        };
        let s =
            self.ctx.pool.node(node).as_struct().ok_or_else(|| {
                Error::schema("struct type refers to a node that is not a struct")
            })?;
        let b = match self.target {
            Target::Group(b) => b,
            Target::Ptr(p) => {
                self.ctx.enter()?;
                self.ctx.out.init_struct(p, s.data_words, s.pointer_count)?
            }
            _ => return Err(self.mismatch("a struct")),
        };
        Ok((b, node, brand))
    }

    /// Whether a struct written here sits behind a pointer (and so was entered).
    fn by_pointer(&self) -> bool {
        matches!(self.target, Target::Ptr(_))
    }

    /// Whether a list of `len` elements (a length a `Serialize` impl announced, which nothing
    /// has checked yet) may be laid out before its elements arrive: when it is small, or fits
    /// in the part of the buffer already zeroed. A longer announced list is gathered first, so
    /// that a lying length costs no more memory than the elements really given.
    fn hint_is_cheap(&self, len: usize) -> bool {
        let Type::List(elem) = &*self.ty else {
            return true;
        };
        let bits: u64 = match &**elem {
            Type::Struct(n, _) => self
                .ctx
                .pool
                .node(*n)
                .as_struct()
                .map_or(64, |s| (s.data_words as u64 + s.pointer_count as u64) * 64),
            t => t.data_bits().map_or(64, u64::from),
        };
        let bytes = (len as u64).saturating_mul(bits.max(1)) / 8;
        bytes <= CAUTIOUS_HINT_BYTES as u64 || bytes <= self.ctx.out.zeroed_room() as u64
    }

    /// Lays out a list of `len` elements and writes them in place as they arrive.
    pub(crate) fn seq_in_place(mut self, len: usize) -> Result<SeqSer<'c, 's>> {
        self.ctx.enter()?;
        let (list, elem) = self.start_list(len)?;
        let kind = match elem {
            Cow::Borrowed(ty @ Type::Struct(node, None)) => SeqKind::Structs {
                list,
                ty,
                node: *node,
                s: self.ctx.pool.node(*node).as_struct().expect("struct type"),
                cache: None,
            },
            elem => SeqKind::List(list, elem),
        };
        Ok(SeqSer {
            kind,
            ctx: self.ctx,
            index: 0,
            entered: true,
        })
    }

    /// Lays out a list of `len` map entries (structs whose fields `key` and `value` are the
    /// given ones) and writes them in place as they arrive.
    pub(crate) fn entries_in_place(
        mut self,
        len: usize,
        key: u16,
        value: u16,
    ) -> Result<MapSer<'c, 's>> {
        self.ctx.enter()?;
        let (list, elem) = self.start_list(len)?;
        Ok(MapSer {
            kind: MapKind::Entries {
                list,
                elem,
                key,
                value,
            },
            ctx: self.ctx,
            index: 0,
            entered: true,
        })
    }

    /// Selects the union member matching `variant` and returns its target and type.
    fn union_member(
        mut self,
        variant: &'static str,
    ) -> Result<(&'c mut Ctx<'s>, Target, Cow<'s, Type>, &'s str)> {
        if let Type::Enum(_) = *self.ty {
            return Err(self.mismatch(&format!("the data-carrying variant `{variant}`")));
        }
        let (b, node, brand) = self.struct_builder()?;
        let pool = self.ctx.pool;
        let s = pool.node(node).as_struct().expect("checked");
        if !s.has_union() {
            return Err(Error::schema(format!(
                "`{}` has no union to hold the variant `{variant}`",
                pool.node(node).short_name()
            )));
        }
        let member = s
            .union_members
            .iter()
            .map(|&i| &s.fields[i as usize])
            .find(|f| names_match(variant, &f.name))
            .ok_or_else(|| {
                Error::schema(format!(
                    "the union of `{}` has no member `{variant}`",
                    pool.node(node).short_name()
                ))
            })?;
        let d = member.discriminant.expect("union member");
        self.ctx
            .out
            .write_bits(b.data, s.discriminant_bit(), 16, d as u64);
        let ty = field_type(&member.slot, brand.as_deref());
        Ok((self.ctx, field_target(b, &member.slot), ty, &member.name))
    }

    #[inline]
    fn start_list(&mut self, len: usize) -> Result<(ListB, Cow<'s, Type>)> {
        let Target::Ptr(p) = self.target else {
            return Err(self.mismatch("a sequence"));
        };
        let elem: Cow<'s, Type> = match &self.ty {
            Cow::Borrowed(Type::List(e)) => Cow::Borrowed(&**e),
            Cow::Owned(Type::List(e)) => Cow::Owned((**e).clone()),
            _ => return Err(self.mismatch("a sequence")),
        };
        let len = u32::try_from(len).map_err(|_| Error::limit("sequence is too long"))?;
        let list = match &*elem {
            Type::Struct(n, _) => {
                let s = self
                    .ctx
                    .pool
                    .node(*n)
                    .as_struct()
                    .ok_or_else(|| Error::schema("list element is not a struct"))?;
                self.ctx
                    .out
                    .init_struct_list(p, len, s.data_words, s.pointer_count)?
            }
            t => match t.data_bits() {
                Some(bits) => self.ctx.out.init_list(p, ElemSize::for_bits(bits), len)?,
                None => self.ctx.out.init_list(p, ElemSize::Pointer, len)?,
            },
        };
        Ok((list, elem))
    }
}

#[inline(always)]
pub(crate) fn element_target(ctx: &Ctx<'_>, list: &ListB, elem: &Type, i: u32) -> Target {
    match elem {
        Type::Struct(n, _) => {
            let s = ctx
                .pool
                .node(*n)
                .as_struct()
                .expect("checked by start_list");
            let data = list.start + (i as u64 * list.step_bits / 8) as usize;
            Target::Group(StructB {
                data,
                ptrs: data + s.data_words as usize * 8,
            })
        }
        Type::Void => Target::Void,
        t => match t.data_bits() {
            Some(bits) => Target::Data {
                base: list.start,
                at: i as u64 * bits as u64,
                bits,
                default: 0,
            },
            None => Target::Ptr(list.start + i as usize * 8),
        },
    }
}

impl<'c, 's> ser::Serializer for ValueSer<'c, 's> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = SeqSer<'c, 's>;
    type SerializeTuple = SeqSer<'c, 's>;
    type SerializeTupleStruct = SeqSer<'c, 's>;
    type SerializeTupleVariant = SeqSer<'c, 's>;
    type SerializeMap = MapSer<'c, 's>;
    type SerializeStruct = StructSer<'c, 's>;
    type SerializeStructVariant = StructSer<'c, 's>;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn serialize_bool(self, v: bool) -> Result<()> {
        match *self.ty {
            Type::Bool => self.write_data(v as u64, "a bool"),
            _ => Err(self.mismatch("a bool")),
        }
    }
    fn serialize_i8(self, v: i8) -> Result<()> {
        self.int(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<()> {
        self.int(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<()> {
        self.int(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<()> {
        self.int(v.into())
    }
    fn serialize_i128(self, v: i128) -> Result<()> {
        self.int(v)
    }
    fn serialize_u8(self, v: u8) -> Result<()> {
        self.int(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<()> {
        self.int(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<()> {
        self.int(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<()> {
        self.int(v.into())
    }
    fn serialize_u128(self, v: u128) -> Result<()> {
        match i128::try_from(v) {
            Ok(v) => self.int(v),
            Err(_) => Err(Error::data(format!("integer {v} is out of range"))),
        }
    }
    fn serialize_f32(self, v: f32) -> Result<()> {
        self.float(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result<()> {
        self.float(v)
    }
    fn serialize_char(self, v: char) -> Result<()> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<()> {
        match (&*self.ty, self.target) {
            (Type::Text, Target::Ptr(p)) => self.ctx.out.set_blob(p, v.as_bytes(), true),
            (Type::Enum(n), _) => {
                let i = find_enumerant(self.ctx.pool, *n, v)?;
                self.write_data(i as u64, "a string")
            }
            _ => Err(self.mismatch("a string")),
        }
    }

    fn serialize_bytes(mut self, v: &[u8]) -> Result<()> {
        match (&*self.ty, self.target) {
            (Type::Data, Target::Ptr(p)) => self.ctx.out.set_blob(p, v, false),
            (Type::Text, Target::Ptr(p)) => {
                std::str::from_utf8(v)
                    .map_err(|_| Error::data("bytes written into a Text field are not UTF-8"))?;
                self.ctx.out.set_blob(p, v, true)
            }
            (Type::List(e), _) if **e == Type::UInt8 => {
                let (list, _) = self.start_list(v.len())?;
                self.ctx.out.buf[list.start..list.start + v.len()].copy_from_slice(v);
                Ok(())
            }
            _ => Err(self.mismatch("bytes")),
        }
    }

    fn serialize_none(self) -> Result<()> {
        // Pointers stay null and data fields keep their default.
        Ok(())
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<()> {
        match (&*self.ty, self.target) {
            (Type::Void, _) | (_, Target::Ptr(_)) => Ok(()),
            _ => Err(self.mismatch("a unit")),
        }
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<()> {
        match *self.ty {
            Type::Enum(n) => {
                let i = self.ctx.enumerant(n, variant)?;
                self.write_data(i as u64, "an enum variant")
            }
            Type::Struct(..) => {
                let entered = self.by_pointer();
                let (ctx, _, _, _) = self.union_member(variant)?;
                if entered {
                    ctx.leave();
                }
                Ok(())
            }
            ref t if t.is_integer() => self.int(index.into()),
            Type::Text => self.serialize_str(variant),
            _ => Err(self.mismatch(&format!("the variant `{variant}`"))),
        }
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<()> {
        if name == CAPABILITY {
            return self.capability(value);
        }
        if name == crate::value::UNKNOWN_ENUMERANT {
            if let Type::Enum(_) = *self.ty {
                // An ordinal this schema does not know, from a `Value` read from a newer
                // writer's message: written back as it was.
                if let Content::U64(v @ 0..=0xffff) = value.serialize(Capture)? {
                    return self.write_data(v, "an enum");
                }
            }
        }
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<()> {
        let entered = self.by_pointer();
        let (ctx, target, ty, _) = self.union_member(variant)?;
        value
            .serialize(ValueSer {
                ctx: &mut *ctx,
                ty,
                target,
            })
            .map_err(|e| e.in_field(variant))?;
        if entered {
            ctx.leave();
        }
        Ok(())
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSer<'c, 's>> {
        if let (Type::Data, Target::Ptr(p)) = (&*self.ty, self.target) {
            let capacity = len.unwrap_or(0).min(CAUTIOUS_HINT_BYTES);
            return Ok(SeqSer {
                kind: SeqKind::Bytes(p, Vec::with_capacity(capacity)),
                ctx: self.ctx,
                index: 0,
                entered: false,
            });
        }
        match len {
            Some(len) if self.hint_is_cheap(len) => self.seq_in_place(len),
            _ => {
                if !matches!(*self.ty, Type::List(_)) {
                    return Err(self.mismatch("a sequence"));
                }
                self.ctx.enter()?;
                Ok(SeqSer {
                    kind: SeqKind::Buffered(self.ty, self.target, Vec::new(), len),
                    ctx: self.ctx,
                    index: 0,
                    entered: true,
                })
            }
        }
    }

    fn serialize_tuple(self, len: usize) -> Result<SeqSer<'c, 's>> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<SeqSer<'c, 's>> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SeqSer<'c, 's>> {
        let entered = self.by_pointer();
        let (ctx, target, ty, _) = self.union_member(variant)?;
        // The list's own level is counted; the union's struct is not, as the list outlives it.
        if entered {
            ctx.leave();
        }
        ValueSer { ctx, ty, target }
            .serialize_seq(Some(len))
            .map_err(|e| e.in_field(variant))
    }

    fn serialize_map(mut self, len: Option<usize>) -> Result<MapSer<'c, 's>> {
        if let Type::List(elem) = &*self.ty {
            // A map with non-string keys: a list of entry structs with `key` and `value`.
            let entry = match &**elem {
                Type::Struct(n, b) => (*n, b.clone()),
                _ => return Err(self.mismatch("a map")),
            };
            let s = self.ctx.pool.node(entry.0).as_struct().expect("struct");
            let key = s.field_index("key");
            let value = s.field_index("value");
            let (Some(key), Some(value)) = (key, value) else {
                return Err(Error::schema(format!(
                    "a map needs a list of structs with `key` and `value` fields; `{}` lacks them",
                    self.ctx.pool.node(entry.0).short_name()
                )));
            };
            return match len {
                Some(len) if self.hint_is_cheap(len) => self.entries_in_place(len, key, value),
                _ => {
                    self.ctx.enter()?;
                    Ok(MapSer {
                        kind: MapKind::Buffered(self.ty, self.target, Vec::new(), None, len),
                        ctx: self.ctx,
                        index: 0,
                        entered: true,
                    })
                }
            };
        }
        let (b, node, brand) = self.struct_builder()?;
        Ok(MapSer {
            kind: MapKind::Struct {
                b,
                node,
                brand,
                key: None,
            },
            entered: self.by_pointer(),
            ctx: self.ctx,
            index: 0,
        })
    }

    fn serialize_struct(mut self, name: &'static str, _len: usize) -> Result<StructSer<'c, 's>> {
        let (b, node, brand) = self.struct_builder()?;
        let plan = self.ctx.plan_for(node, name);
        let s = self.ctx.pool.node(node).as_struct().expect("checked");
        let entered = self.by_pointer() as u8;
        let mut st = StructSer::new(self.ctx, b, node, s, brand, plan);
        st.entered = entered;
        Ok(st)
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<StructSer<'c, 's>> {
        let entered = self.by_pointer();
        let (ctx, target, ty, _) = self.union_member(variant)?;
        let mut st = ValueSer { ctx, ty, target }
            .serialize_struct(variant, len)
            .map_err(|e| e.in_field(variant))?;
        st.entered += entered as u8;
        Ok(st)
    }

    fn collect_str<T: ?Sized + std::fmt::Display>(self, value: &T) -> Result<()> {
        self.serialize_str(&value.to_string())
    }
}

/// Serializes the fields of a struct (or a group, or a struct variant's member).
pub(crate) struct StructSer<'c, 's> {
    pub(crate) ctx: &'c mut Ctx<'s>,
    pub(crate) b: StructB,
    pub(crate) node: NodeIndex,
    pub(crate) s: &'s StructNode,
    pub(crate) brand: Option<Arc<Brand>>,
    pub(crate) plan: u32,
    /// The plan's steps as of the last struct that learnt none (see [`Steps`]).
    pub(crate) steps: Steps<'s>,
    pub(crate) pos: usize,
    /// How many nesting levels writing this struct entered (its pointer, a union's struct),
    /// to leave at its end.
    pub(crate) entered: u8,
}

impl<'c, 's> StructSer<'c, 's> {
    #[inline]
    pub(crate) fn new(
        ctx: &'c mut Ctx<'s>,
        b: StructB,
        node: NodeIndex,
        s: &'s StructNode,
        brand: Option<Arc<Brand>>,
        plan: u32,
    ) -> Self {
        StructSer {
            steps: ctx.steps(plan),
            ctx,
            b,
            node,
            s,
            brand,
            plan,
            pos: 0,
            entered: 0,
        }
    }

    /// A struct written by field names the serializer looks up one by one (a map), with no plan.
    pub(crate) fn unplanned(
        ctx: &'c mut Ctx<'s>,
        b: StructB,
        node: NodeIndex,
        brand: Option<Arc<Brand>>,
    ) -> Self {
        StructSer {
            steps: ctx.plans.none.clone(),
            s: ctx.pool.node(node).as_struct().expect("struct"),
            ctx,
            b,
            node,
            brand,
            plan: u32::MAX,
            pos: 0,
            entered: 0,
        }
    }

    #[inline(never)]
    pub(crate) fn field<T: ?Sized + Serialize>(
        &mut self,
        index: u16,
        key: &str,
        value: &T,
    ) -> Result<()> {
        let s = self.s;
        let f = &s.fields[index as usize];
        if let Some(d) = f.discriminant {
            self.ctx
                .out
                .write_bits(self.b.data, s.discriminant_bit(), 16, d as u64);
        }
        let ty = field_type(&f.slot, self.brand.as_deref());
        value
            .serialize(ValueSer {
                ctx: &mut *self.ctx,
                ty,
                target: field_target(self.b, &f.slot),
            })
            .map_err(|e| e.in_field(key.to_string()))
    }

    /// A Rust field the schema does not have: the unnamed union's conventional name, or an error.
    #[inline(never)]
    pub(crate) fn unknown<T: ?Sized + Serialize>(&mut self, key: &str, value: &T) -> Result<()> {
        let pool = self.ctx.pool;
        let node = pool.node(self.node);
        let s = node.as_struct().expect("struct");
        if s.has_union() && key == UNION_FIELD {
            return value
                .serialize(ValueSer {
                    ctx: &mut *self.ctx,
                    ty: Cow::Owned(Type::Struct(self.node, self.brand.clone())),
                    target: Target::Group(self.b),
                })
                .map_err(|e| e.in_field(key.to_string()));
        }
        Err(Error::schema(format!(
            "field `{key}` is not in the schema of `{}`",
            node.short_name()
        )))
    }
}

/// Writes `$value` as the step `$fast` of the struct serializer `$st` predicts, or runs
/// `$otherwise` for a step without a fast path. A macro rather than a function: the hot path
/// of `serialize_field` compiles to fewer instructions with the match in place.
macro_rules! write_step {
    ($st:expr, $fast:expr, $value:expr, $otherwise:block) => {
        match $fast {
            Fast::Data {
                ty,
                at,
                bits,
                default,
            } => $value.serialize(DataSer {
                ctx: &mut *$st.ctx,
                ty,
                base: $st.b.data,
                at: *at,
                bits: *bits,
                default: *default,
            }),
            Fast::Ptr { ty, off, nested } => $value.serialize(PtrSer {
                ctx: &mut *$st.ctx,
                ty,
                off: $st.b.ptrs + off,
                nested,
            }),
            Fast::No => $otherwise,
        }
    };
}

impl ser::SerializeStruct for StructSer<'_, '_> {
    type Ok = ();
    type Error = Error;

    #[inline(always)]
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        if let Some(step) = self.steps.get(self.pos) {
            if step.key == key.as_ptr() as usize && step.len == key.len() {
                let r = write_step!(self, &step.fast, value, {
                    return self.learnt_field(key, value);
                });
                self.pos += 1;
                return r.map_err(|e| e.in_field(key));
            }
        }
        self.learnt_field(key, value)
    }

    #[inline(always)]
    fn end(self) -> Result<()> {
        if self.pos > self.steps.len() {
            self.ctx.share_steps(self.plan);
        }
        for _ in 0..self.entered {
            self.ctx.leave();
        }
        Ok(())
    }
}

impl StructSer<'_, '_> {
    /// A field the shared steps do not predict: the plan's own steps (learning new ones), a
    /// step without a fast path (a union member, a group, a field of a generic struct), or a
    /// name the schema lacks.
    #[inline(never)]
    fn learnt_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<()> {
        let pf = self
            .ctx
            .planned_field(self.plan, self.pos, self.node, self.s, key);
        self.pos += 1;
        let r = write_step!(self, &pf.fast, value, {
            if pf.field == NOT_IN_SCHEMA {
                return self.unknown(key, value);
            }
            return self.field(pf.field, key, value);
        });
        r.map_err(|e| e.in_field(key))
    }
}

impl ser::SerializeStructVariant for StructSer<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        ser::SerializeStruct::serialize_field(self, key, value)
    }

    #[inline]
    fn end(self) -> Result<()> {
        ser::SerializeStruct::end(self)
    }
}
