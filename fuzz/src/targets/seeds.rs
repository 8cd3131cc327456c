//! Seed messages: the fixtures of `serde_capnp_suite`, and random but valid values of every
//! root struct, written by the library itself.

use serde::Serialize;
use serde_capnp::model::{Brand, FieldSlot, NodeIndex, SchemaPool, Type};
use serde_capnp::{Enumerant, StructSchema, Value};
use serde_capnp_suite::fixtures::{addressbook, alltypes};

use super::Ctx;
use crate::rng::Rng;

/// A message and the index of its root in [`Ctx::roots`].
pub struct SeedMessage {
    pub root: usize,
    pub bytes: Vec<u8>,
}

/// The messages every message target starts from: each fixture value, a few random values of
/// every root, and a two-segment copy (root behind a far pointer) of some of them.
pub fn messages(ctx: &Ctx) -> Vec<SeedMessage> {
    let mut out = Vec::new();
    let mut add = |root: usize, bytes: serde_capnp::Result<Vec<u8>>| {
        if let Ok(bytes) = bytes {
            out.push(SeedMessage { root, bytes });
        }
    };
    let typed = |stem: &str, name: &str| (ctx.root_index(stem, name), ctx.struct_type(stem, name));
    fn write<T: Serialize>(st: &StructSchema, v: &T) -> serde_capnp::Result<Vec<u8>> {
        st.to_vec(v)
    }

    let (i, st) = typed("alltypes", "AllTypes");
    for v in alltypes::samples() {
        add(i, write(&st, &v));
    }
    let full = alltypes::full();
    let (i, st) = typed("alltypes", "Inner");
    add(i, write(&st, &full.struct_field));
    let (i, st) = typed("alltypes", "AllTypes.Nested");
    add(i, write(&st, &full.nested_field));
    let (i, st) = typed("addressbook", "AddressBook");
    add(i, write(&st, &addressbook::sample()));
    add(i, write(&st, &addressbook::scripted()));
    let book = addressbook::sample();
    let (i, st) = typed("addressbook", "Person");
    for p in &book.people {
        add(i, write(&st, p));
    }
    let (i, st) = typed("addressbook", "Person.PhoneNumber");
    for p in &book.people[1].phones {
        add(i, write(&st, p));
    }

    let mut rng = Rng::new(0x5eed);
    for i in 0..ctx.root_count() {
        let root = ctx.root(i);
        add(
            i,
            root.to_vec(&Value::structure(Vec::<(String, Value)>::new())),
        );
        for _ in 0..3 {
            let (pool, node) = root.pool();
            let v = random_struct(pool, node, None, &mut rng, 0);
            add(i, root.to_vec(&v));
        }
    }

    let far: Vec<SeedMessage> = out
        .iter()
        .step_by(3)
        .filter_map(|m| {
            two_segments(&m.bytes).map(|bytes| SeedMessage {
                root: m.root,
                bytes,
            })
        })
        .collect();
    out.extend(far);
    out
}

/// The same message with its root moved to a second segment, behind a far pointer.
fn two_segments(message: &[u8]) -> Option<Vec<u8>> {
    if message.len() < 8 || message[0..4] != [0; 4] {
        return None;
    }
    let words = u32::from_le_bytes(message[4..8].try_into().unwrap());
    let mut out = Vec::with_capacity(message.len() + 16);
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&words.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    // A far pointer (kind 2) to word 0 of segment 1: the original root pointer, whose offset
    // is relative to its own position and so stays right.
    out.extend_from_slice(&(2u64 | 1 << 32).to_le_bytes());
    out.extend_from_slice(&message[8..]);
    Some(out)
}

/// A random value of a struct that the schema accepts: a random subset of its fields, one
/// member of its union, small lists, short texts, unusual numbers.
pub fn random_struct(
    pool: &SchemaPool,
    node: NodeIndex,
    brand: Option<&Brand>,
    rng: &mut Rng,
    depth: u32,
) -> Value {
    let Some(s) = pool.node(node).as_struct() else {
        return Value::Null;
    };
    let mut fields = Vec::new();
    let one = |index: u16, rng: &mut Rng, fields: &mut Vec<(String, Value)>| {
        let field = &s.fields[index as usize];
        let value = match &field.slot {
            FieldSlot::Void => Value::Void,
            FieldSlot::Group { node } => random_struct(pool, *node, brand, rng, depth + 1),
            FieldSlot::Data { ty, .. } | FieldSlot::Pointer { ty, .. } => {
                random_value(pool, &ty.resolve(brand), rng, depth + 1)
            }
        };
        fields.push((field.name.clone(), value));
    };
    for &f in &s.plain_fields {
        if !rng.one_in(4) {
            one(f, rng, &mut fields);
        }
    }
    if !s.union_members.is_empty() {
        let member = *rng.pick(&s.union_members);
        one(member, rng, &mut fields);
    }
    Value::structure(fields)
}

const TEXTS: &[&str] = &[
    "",
    "a",
    "hello, world",
    "quote \" backslash \\ newline \n tab \t",
    "ünïcödé — 日本語 🦀",
    "\u{1}\u{7f}\u{80}",
    "0x1p3 nan inf -0",
];

fn random_value(pool: &SchemaPool, ty: &Type, rng: &mut Rng, depth: u32) -> Value {
    let int = |rng: &mut Rng| -> i128 {
        match rng.below(4) {
            0 => 0,
            1 => rng.below(10) as i128 - 5,
            2 => rng.next_u64() as i64 as i128,
            _ => rng.next_u64() as i128,
        }
    };
    macro_rules! ranged {
        ($variant:ident, $t:ty) => {{
            let v = int(rng);
            Value::$variant(<$t>::try_from(v).unwrap_or(if v < 0 { <$t>::MIN } else { <$t>::MAX }))
        }};
    }
    match ty {
        Type::Void => Value::Void,
        Type::Bool => Value::Bool(rng.one_in(2)),
        Type::Int8 => ranged!(Int8, i8),
        Type::Int16 => ranged!(Int16, i16),
        Type::Int32 => ranged!(Int32, i32),
        Type::Int64 => ranged!(Int64, i64),
        Type::UInt8 => ranged!(UInt8, u8),
        Type::UInt16 => ranged!(UInt16, u16),
        Type::UInt32 => ranged!(UInt32, u32),
        Type::UInt64 => ranged!(UInt64, u64),
        Type::Float32 => {
            Value::Float32(*rng.pick(&[0.0, -0.0, 1.5, f32::MAX, f32::NAN, f32::INFINITY, 1e-45]))
        }
        Type::Float64 => Value::Float64(*rng.pick(&[
            0.0,
            -0.0,
            0.1,
            -2.5e300,
            f64::NAN,
            f64::NEG_INFINITY,
            5e-324,
        ])),
        Type::Text => Value::Text(rng.pick(TEXTS).to_string()),
        Type::Data => Value::Data((0..rng.below(12)).map(|_| rng.byte()).collect()),
        Type::List(elem) => {
            if depth > 6 {
                return Value::Null;
            }
            let len = if rng.one_in(8) {
                9 + rng.below(20)
            } else {
                rng.below(4)
            };
            Value::List(
                (0..len)
                    .map(|_| random_value(pool, elem, rng, depth + 1))
                    .collect(),
            )
        }
        Type::Enum(node) => {
            let count = pool.node(*node).as_enum().map_or(0, |e| e.enumerants.len());
            let ordinal = rng.below(count + 1) as u16;
            let name = pool
                .node(*node)
                .as_enum()
                .and_then(|e| e.enumerants.get(ordinal as usize))
                .map(|e| e.name.clone());
            Value::Enum(Enumerant { ordinal, name })
        }
        Type::Struct(node, brand) => {
            if depth > 6 || rng.one_in(6) {
                return Value::Null;
            }
            random_struct(pool, *node, brand.as_deref(), rng, depth + 1)
        }
        _ => Value::Null,
    }
}
