//! The serializer driven by hostile `Serialize` implementations.
//!
//! A case is a program: its bytes, read one at a time, decide every call a [`Hostile`] value
//! makes on the serializer. Most of the time a value follows the schema type it is written
//! into (so that the program gets deep into a struct), but with lies along the way: length
//! hints that are wrong or enormous, more or fewer elements than announced, fields twice or
//! missing, two members of one union, values of the wrong type or out of range, huge strings
//! and lists, and nesting deeper than any schema allows. The first byte picks the struct of
//! `alltypes` or `addressbook` to write, the second how (`to_vec`, `to_vec_in`,
//! `to_vec_packed`, `to_value`). What `to_vec` writes must read back.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde::ser::{
    Error as _, SerializeMap, SerializeSeq, SerializeStruct, SerializeStructVariant,
    SerializeTuple, SerializeTupleStruct, SerializeTupleVariant,
};
use serde::{Serialize, Serializer};
use serde_capnp::model::{to_snake_case, Brand, FieldSlot, NodeIndex, SchemaPool, Type};
use serde_capnp::StructSchema;

use super::{oracle, Ctx, Sig, Target};
use crate::mutate::Shape;

pub fn targets() -> Vec<Target> {
    vec![Target {
        name: "serializer",
        shape: Shape::Program,
        about: "`to_vec` (and `to_vec_in`, `to_vec_packed`, `to_value`) of hostile `Serialize` values into every struct of alltypes and addressbook",
        seeds,
        dict: |_| Vec::new(),
        run,
    }]
}

/// Every struct node (groups and generic ones too) of the two schemas.
fn structs(ctx: &Ctx) -> Vec<StructSchema> {
    let mut out = Vec::new();
    for stem in ["alltypes", "addressbook"] {
        let schema = ctx.schema(stem);
        for node in schema.pool().nodes() {
            if node.as_struct().is_some() {
                if let Ok(st) = schema.struct_by_id(node.id) {
                    out.push(st);
                }
            }
        }
    }
    out
}

/// Short programs: mostly "follow the schema", with a few lies each.
fn seeds(ctx: &Ctx) -> Vec<Vec<u8>> {
    let n = structs(ctx).len();
    let mut out = Vec::new();
    let mut rng = crate::rng::Rng::new(7);
    for root in 0..n {
        for how in 0..4u8 {
            let mut case = vec![root as u8, how];
            // Typed choices, an honest hint, the fields in order, small counts.
            for _ in 0..64 {
                case.push(if rng.one_in(6) {
                    rng.byte()
                } else {
                    rng.byte() % 16
                });
            }
            out.push(case);
        }
        // All zeros: every value at its simplest.
        out.push(vec![root as u8, 0, 0, 0, 0, 0]);
    }
    out
}

fn run(ctx: &Ctx, case: &[u8]) -> u64 {
    let structs = structs(ctx);
    let root = case.first().copied().unwrap_or(0) as usize % structs.len();
    let how = case.get(1).copied().unwrap_or(0);
    let st = &structs[root];
    let (pool, node) = st.pool();
    let cx = Cx {
        pool,
        program: case.get(2..).unwrap_or(&[]),
        pos: Cell::new(0),
        ops: Cell::new(0),
        huge: Cell::new(0),
    };
    let value = Hostile {
        cx: &cx,
        hint: Hint::Ty(Type::Struct(node, None)),
        depth: 0,
    };
    let mut sig = Sig::new();
    let written = match how % 4 {
        0 => st.to_vec(&value),
        1 => {
            let cap = [0usize, 8, 1 << 12, 1 << 20][(how >> 2) as usize % 4];
            st.to_vec_in(&value, Vec::with_capacity(cap))
        }
        2 => {
            let r = st.to_vec_packed(&value);
            sig.add(&r);
            return sig.done();
        }
        _ => {
            let r = serde_capnp::to_value(st, &value);
            sig.add(&r);
            return sig.done();
        }
    };
    sig.add(&written);
    if let Ok(bytes) = written {
        if let Err(e) = st.read_value(&bytes) {
            oracle(format_args!(
                "a message `to_vec` wrote does not read back: {e}"
            ));
        }
    }
    sig.done()
}

// -------------------------------------------------------------------------------------------
// The program
// -------------------------------------------------------------------------------------------

/// Calls on the serializer before the program counts as spent: bounds the time of a case.
const MAX_OPS: usize = 2_000_000;
/// Bytes of huge strings and lists a case may ask for, so that what is written stays within
/// the reader's traversal limit (64 MiB) and the oracle stays fair.
const MAX_HUGE: usize = 24 << 20;
/// Nesting of hostile values (the schemas nest far less; deeper is always a lie).
const MAX_DEPTH: u32 = 160;

struct Cx<'a> {
    pool: &'a SchemaPool,
    program: &'a [u8],
    pos: Cell<usize>,
    ops: Cell<usize>,
    huge: Cell<usize>,
}

impl Cx<'_> {
    fn spent(&self) -> bool {
        self.pos.get() >= self.program.len() || self.ops.get() >= MAX_OPS
    }

    fn byte(&self) -> u8 {
        let p = self.pos.get();
        self.pos.set(p + 1);
        self.program.get(p).copied().unwrap_or(0)
    }

    fn u64(&self) -> u64 {
        (0..8).fold(0, |v, i| v | (self.byte() as u64) << (i * 8))
    }

    fn op(&self) {
        self.ops.set(self.ops.get() + 1);
    }

    /// A length hint for `actual` items: true most of the time, else a lie.
    fn hint(&self, actual: usize) -> Option<usize> {
        match self.byte() % 10 {
            0..=5 => Some(actual),
            6 => None,
            7 => Some(actual + 1 + self.byte() as usize),
            8 => Some(actual.saturating_sub(1 + self.byte() as usize % 3)),
            _ => Some(
                [
                    usize::MAX,
                    usize::MAX / 2,
                    1 << 40,
                    u32::MAX as usize,
                    1 << 29,
                ][self.byte() as usize % 5],
            ),
        }
    }

    /// How many elements to write: few, some, or (within the huge budget) very many.
    fn count(&self, element_bytes: usize) -> usize {
        let b = self.byte();
        match b {
            0..=199 => b as usize % 6,
            200..=239 => b as usize % 40,
            _ => {
                let want = [1000usize, 70_000, 1 << 20][b as usize % 3];
                let bytes = want * element_bytes.max(1);
                if self.huge.get() + bytes > MAX_HUGE {
                    b as usize % 40
                } else {
                    self.huge.set(self.huge.get() + bytes);
                    want
                }
            }
        }
    }

    fn string(&self) -> String {
        let b = self.byte();
        match b % 16 {
            0 => String::new(),
            1..=9 => {
                let n = self.byte() as usize % 24;
                (0..n).map(|_| (b'a' + self.byte() % 26) as char).collect()
            }
            10 => "ünïcödé 🦀".into(),
            11 => "\u{0}".into(),
            12 => name(self.byte()).to_string(),
            13 | 14 => {
                let n = [1usize << 12, 1 << 16, 1 << 20, 1 << 23][self.byte() as usize % 4];
                if self.huge.get() + n > MAX_HUGE {
                    "over budget".into()
                } else {
                    self.huge.set(self.huge.get() + n);
                    "x".repeat(n)
                }
            }
            _ => String::from_utf8_lossy(&[self.byte(), self.byte(), self.byte()]).into_owned(),
        }
    }
}

/// Names with `'static` lifetimes, as serde's struct and field names must be: every name of
/// the schemas, leaked once each.
fn intern(s: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let mut names = NAMES.get_or_init(Default::default).lock().unwrap();
    if let Some(n) = names.get(s) {
        return n;
    }
    let leaked: &'static str = Box::leak(s.to_string().into_boxed_str());
    names.insert(s.to_string(), leaked);
    leaked
}

/// Names that belong nowhere, or to another struct.
const JUNK: &[&str] = &[
    "",
    "which",
    "x",
    "id",
    "name",
    "people",
    "phones",
    "number",
    "type",
    "employment",
    "textField",
    "text_field",
    "shape",
    "point",
    "radius",
    "Radius",
    "noSuchField",
    "_",
    "0",
];

fn name(b: u8) -> &'static str {
    JUNK[b as usize % JUNK.len()]
}

// -------------------------------------------------------------------------------------------
// Hostile values
// -------------------------------------------------------------------------------------------

/// What a hostile value is written as.
#[derive(Clone)]
enum Hint {
    /// Anything at all.
    Any,
    /// A value of this schema type (a struct type may be a group's node).
    Ty(Type),
    /// The union of this struct or group, as a Rust enum.
    Union(NodeIndex, Option<Arc<Brand>>),
}

struct Hostile<'a> {
    cx: &'a Cx<'a>,
    hint: Hint,
    depth: u32,
}

impl<'a> Hostile<'a> {
    fn child(&self, hint: Hint) -> Hostile<'a> {
        Hostile {
            cx: self.cx,
            hint,
            depth: self.depth + 1,
        }
    }
}

impl Serialize for Hostile<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let cx = self.cx;
        cx.op();
        if cx.spent() {
            return self.simplest(s);
        }
        if self.depth >= MAX_DEPTH {
            return s.serialize_unit();
        }
        let b = cx.byte();
        match (&self.hint, b) {
            (Hint::Ty(ty), 0..=199) => self.typed(ty, s),
            (Hint::Union(node, brand), 0..=199) => self.union(*node, brand.as_deref(), s),
            _ => self.untyped(s),
        }
    }
}

impl Hostile<'_> {
    /// The least a value of the hinted type can be, once the program is spent.
    fn simplest<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.hint {
            Hint::Ty(Type::Bool) => s.serialize_bool(false),
            Hint::Ty(Type::Float32) => s.serialize_f32(0.0),
            Hint::Ty(Type::Float64) => s.serialize_f64(0.0),
            Hint::Ty(t) if t.is_integer() => s.serialize_u8(0),
            Hint::Ty(Type::Text) => s.serialize_str(""),
            Hint::Ty(Type::Data) => s.serialize_bytes(&[]),
            Hint::Ty(Type::List(_)) => s.serialize_seq(Some(0))?.end(),
            Hint::Ty(Type::Enum(_)) => s.serialize_u16(0),
            Hint::Ty(Type::Struct(..)) => s.serialize_struct("Spent", 0)?.end(),
            _ => s.serialize_unit(),
        }
    }

    fn typed<S: Serializer>(&self, ty: &Type, s: S) -> Result<S::Ok, S::Error> {
        let cx = self.cx;
        let b = cx.byte();
        // One in eight: wrap the value (Option, newtype) first.
        if b % 8 == 7 {
            return match b % 3 {
                0 => s.serialize_some(&self.child(self.hint.clone())),
                1 => s.serialize_newtype_struct("Wrapped", &self.child(self.hint.clone())),
                _ => s.serialize_none(),
            };
        }
        let v = cx.u64();
        let edge = b.is_multiple_of(5);
        match ty {
            Type::Void => s.serialize_unit(),
            Type::Bool => s.serialize_bool(v & 1 == 1),
            Type::Int8 | Type::Int16 | Type::Int32 | Type::Int64 => match (b >> 3) % 4 {
                0 => s.serialize_i64(v as i64),
                1 if edge => s.serialize_i128(i128::MIN),
                1 => s.serialize_i8(v as i8),
                2 => s.serialize_i32(v as i32),
                _ => s.serialize_u64(v),
            },
            Type::UInt8 | Type::UInt16 | Type::UInt32 | Type::UInt64 => match (b >> 3) % 4 {
                0 => s.serialize_u64(v),
                1 if edge => s.serialize_u128(u128::MAX),
                1 => s.serialize_u8(v as u8),
                2 => s.serialize_u16(v as u16),
                _ => s.serialize_i64(v as i64),
            },
            Type::Float32 | Type::Float64 => match (b >> 3) % 4 {
                0 => s.serialize_f64(f64::from_bits(v)),
                1 => s.serialize_f32(f32::from_bits(v as u32)),
                2 => s.serialize_f64(
                    [f64::NAN, f64::INFINITY, -0.0, f64::MAX, 1e-320][v as usize % 5],
                ),
                _ => s.serialize_i32(v as i32),
            },
            Type::Text => match (b >> 3) % 4 {
                0 | 1 => s.serialize_str(&cx.string()),
                2 => s.serialize_char(char::from_u32(v as u32 % 0x11_0000).unwrap_or('\u{fffd}')),
                _ => s.collect_str(&cx.string()),
            },
            Type::Data => match (b >> 3) % 4 {
                0 | 1 => s.serialize_bytes(cx.string().as_bytes()),
                2 => self.seq(&Type::UInt8, s),
                _ => s.serialize_str(&cx.string()),
            },
            Type::List(elem) => self.seq(elem, s),
            Type::Enum(node) => {
                let names: Vec<&'static str> = cx
                    .pool
                    .node(*node)
                    .as_enum()
                    .map(|e| e.enumerants.iter().map(|e| intern(&e.name)).collect())
                    .unwrap_or_default();
                let index = (v % (names.len() as u64 + 2)) as u32;
                let variant = names
                    .get(index as usize)
                    .copied()
                    .unwrap_or("noSuchEnumerant");
                match (b >> 3) % 4 {
                    0 | 1 => s.serialize_unit_variant("Enum", index, variant),
                    2 => s.serialize_u16(index as u16),
                    _ => s.serialize_str(variant),
                }
            }
            Type::Struct(node, brand) => self.structure(*node, brand.as_deref(), s),
            Type::Param { .. }
            | Type::MethodParam(_)
            | Type::AnyPointer(_)
            | Type::Interface(..) => self.untyped(s),
        }
    }

    fn seq<S: Serializer>(&self, elem: &Type, s: S) -> Result<S::Ok, S::Error> {
        let cx = self.cx;
        let width = elem
            .data_bits()
            .map_or(8, |b| (b as usize).div_ceil(8).max(1));
        let n = cx.count(width);
        let hint = cx.hint(n);
        let child = self.child(Hint::Ty(elem.clone()));
        match cx.byte() % 6 {
            0 => {
                let mut t = s.serialize_tuple(hint.unwrap_or(n))?;
                for _ in 0..n {
                    t.serialize_element(&child)?;
                }
                t.end()
            }
            1 => {
                // A map where a list is due (a map with non-string keys is a list of entries).
                let mut m = s.serialize_map(hint)?;
                for i in 0..n {
                    m.serialize_entry(&i, &child)?;
                }
                m.end()
            }
            _ => {
                let mut q = s.serialize_seq(hint)?;
                for _ in 0..n {
                    q.serialize_element(&child)?;
                }
                q.end()
            }
        }
    }

    /// The fields a struct (or group) is written with: its plain fields in order and one union
    /// member, then edits: a field dropped, doubled, moved, renamed or of the wrong type, a
    /// second union member, an unknown field.
    fn fields(&self, node: NodeIndex, brand: Option<&Brand>) -> Vec<(&'static str, Hint)> {
        let cx = self.cx;
        let Some(st) = cx.pool.node(node).as_struct() else {
            return Vec::new();
        };
        let hint_of = |i: u16| -> Hint {
            match &st.fields[i as usize].slot {
                FieldSlot::Void => Hint::Ty(Type::Void),
                FieldSlot::Group { node } => {
                    let group = cx.pool.node(*node).as_struct();
                    if group.is_some_and(|g| g.plain_fields.is_empty() && g.has_union()) {
                        Hint::Union(*node, brand.map(|b| Arc::new(b.clone())))
                    } else {
                        Hint::Ty(Type::Struct(*node, brand.map(|b| Arc::new(b.clone()))))
                    }
                }
                FieldSlot::Data { ty, .. } | FieldSlot::Pointer { ty, .. } => {
                    Hint::Ty(ty.resolve(brand))
                }
            }
        };
        let mut out: Vec<(&'static str, Hint)> = st
            .plain_fields
            .iter()
            .map(|&i| (intern(&st.fields[i as usize].name), hint_of(i)))
            .collect();
        if st.has_union() {
            if cx.byte().is_multiple_of(2) {
                out.push((
                    "which",
                    Hint::Union(node, brand.map(|b| Arc::new(b.clone()))),
                ));
            } else if let Some(&m) = st
                .union_members
                .get(cx.byte() as usize % st.union_members.len())
            {
                out.push((intern(&st.fields[m as usize].name), hint_of(m)));
            }
        }
        for _ in 0..cx.byte() % 4 {
            let len = out.len();
            match cx.byte() % 8 {
                0 if len > 0 => {
                    out.remove(cx.byte() as usize % len);
                }
                1 if len > 0 => {
                    let f = out[cx.byte() as usize % len].clone();
                    out.push(f);
                }
                2 if len > 1 => {
                    let i = cx.byte() as usize % len;
                    let f = out.remove(i);
                    out.insert(cx.byte() as usize % len, f);
                }
                3 if len > 0 => {
                    let i = cx.byte() as usize % len;
                    out[i].0 = intern(&to_snake_case(out[i].0));
                }
                4 if len > 0 => {
                    let i = cx.byte() as usize % len;
                    out[i].1 = Hint::Any;
                }
                5 if !st.union_members.is_empty() => {
                    let m = st.union_members[cx.byte() as usize % st.union_members.len()];
                    out.push((intern(&st.fields[m as usize].name), hint_of(m)));
                }
                _ => out.push((name(cx.byte()), Hint::Any)),
            }
        }
        out
    }

    fn structure<S: Serializer>(
        &self,
        node: NodeIndex,
        brand: Option<&Brand>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let cx = self.cx;
        let fields = self.fields(node, brand);
        let struct_name = intern(cx.pool.node(node).short_name());
        match cx.byte() % 5 {
            0 => {
                // A map with string keys.
                let mut m = s.serialize_map(cx.hint(fields.len()))?;
                for (key, hint) in &fields {
                    m.serialize_entry(key, &self.child(hint.clone()))?;
                }
                m.end()
            }
            1 => {
                // Fields announced, then a tuple of values without names.
                let mut t = s.serialize_tuple_struct(struct_name, fields.len())?;
                for (_, hint) in &fields {
                    t.serialize_field(&self.child(hint.clone()))?;
                }
                t.end()
            }
            _ => {
                let mut st = s.serialize_struct(struct_name, cx.hint(fields.len()).unwrap_or(0))?;
                for (key, hint) in &fields {
                    if cx.byte() == 255 {
                        st.skip_field(key)?;
                    } else {
                        st.serialize_field(key, &self.child(hint.clone()))?;
                    }
                }
                st.end()
            }
        }
    }

    /// A struct's union written as a Rust enum: a unit, newtype or struct variant per member.
    fn union<S: Serializer>(
        &self,
        node: NodeIndex,
        brand: Option<&Brand>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let cx = self.cx;
        let Some(st) = cx.pool.node(node).as_struct() else {
            return s.serialize_unit();
        };
        let count = st.union_members.len() as u32;
        let pick = cx.byte() as u32 % (count + 1);
        let (variant, slot) = match st.union_members.get(pick as usize) {
            Some(&m) => (
                intern(&st.fields[m as usize].name),
                Some(&st.fields[m as usize].slot),
            ),
            None => ("noSuchMember", None),
        };
        let variant = if cx.byte().is_multiple_of(4) {
            intern(&upper_first(variant))
        } else {
            variant
        };
        match slot {
            Some(FieldSlot::Void) | None => s.serialize_unit_variant("Union", pick, variant),
            Some(FieldSlot::Group { node }) => {
                let fields = self.fields(*node, brand);
                let mut v = s.serialize_struct_variant("Union", pick, variant, fields.len())?;
                for (key, hint) in &fields {
                    v.serialize_field(key, &self.child(hint.clone()))?;
                }
                v.end()
            }
            Some(FieldSlot::Data { ty, .. } | FieldSlot::Pointer { ty, .. }) => s
                .serialize_newtype_variant(
                    "Union",
                    pick,
                    variant,
                    &self.child(Hint::Ty(ty.resolve(brand))),
                ),
        }
    }

    /// Any serializer call at all, with names and sizes from the program.
    fn untyped<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let cx = self.cx;
        let v = cx.u64();
        let any = || self.child(Hint::Any);
        let n = cx.count(8);
        match cx.byte() % 31 {
            0 => s.serialize_bool(v & 1 == 1),
            1 => s.serialize_i8(v as i8),
            2 => s.serialize_i16(v as i16),
            3 => s.serialize_i32(v as i32),
            4 => s.serialize_i64(v as i64),
            5 => s.serialize_i128((v as i128) << 64 | v as i128),
            6 => s.serialize_u8(v as u8),
            7 => s.serialize_u16(v as u16),
            8 => s.serialize_u32(v as u32),
            9 => s.serialize_u64(v),
            10 => s.serialize_u128((v as u128) << 64),
            11 => s.serialize_f32(f32::from_bits(v as u32)),
            12 => s.serialize_f64(f64::from_bits(v)),
            13 => s.serialize_char(char::from_u32(v as u32 % 0x11_0000).unwrap_or('\u{0}')),
            14 => s.serialize_str(&cx.string()),
            15 => s.serialize_bytes(cx.string().as_bytes()),
            16 => s.serialize_none(),
            17 => s.serialize_some(&any()),
            18 => s.serialize_unit(),
            19 => s.serialize_unit_struct(name(v as u8)),
            20 => s.serialize_unit_variant(name(v as u8), v as u32 >> 8, name((v >> 16) as u8)),
            21 => s.serialize_newtype_struct(name(v as u8), &any()),
            22 => s.serialize_newtype_variant(
                name(v as u8),
                v as u32 >> 8,
                name((v >> 16) as u8),
                &any(),
            ),
            23 => {
                let mut q = s.serialize_seq(cx.hint(n))?;
                for _ in 0..n {
                    q.serialize_element(&any())?;
                }
                q.end()
            }
            24 => {
                let mut t = s.serialize_tuple(n)?;
                for _ in 0..n {
                    t.serialize_element(&any())?;
                }
                t.end()
            }
            25 => {
                let mut t = s.serialize_tuple_struct(name(v as u8), n)?;
                for _ in 0..n {
                    t.serialize_field(&any())?;
                }
                t.end()
            }
            26 => {
                let mut t = s.serialize_tuple_variant(
                    name(v as u8),
                    v as u32 >> 8,
                    name((v >> 16) as u8),
                    n,
                )?;
                for _ in 0..n {
                    t.serialize_field(&any())?;
                }
                t.end()
            }
            27 => {
                let mut m = s.serialize_map(cx.hint(n))?;
                for _ in 0..n {
                    if cx.byte().is_multiple_of(4) {
                        m.serialize_key(&any())?;
                        m.serialize_value(&any())?;
                    } else {
                        m.serialize_entry(name(cx.byte()), &any())?;
                    }
                }
                m.end()
            }
            28 => {
                let mut st = s.serialize_struct(name(v as u8), cx.hint(n).unwrap_or(0))?;
                for _ in 0..n {
                    st.serialize_field(name(cx.byte()), &any())?;
                }
                st.end()
            }
            29 => {
                let mut st = s.serialize_struct_variant(
                    name(v as u8),
                    v as u32 >> 8,
                    name((v >> 16) as u8),
                    n,
                )?;
                for _ in 0..n {
                    st.serialize_field(name(cx.byte()), &any())?;
                }
                st.end()
            }
            _ => Err(S::Error::custom("a hostile value gives up")),
        }
    }
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
