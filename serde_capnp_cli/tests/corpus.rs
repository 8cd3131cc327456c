//! A property-based corpus: random messages of several schemas, generated from the schema at run
//! time, go through `serde-capnp convert` and the reference `capnp convert` (0.9.2) on every
//! pair of formats, with and without `--short`; the two outputs must be the same bytes. Each
//! tool must also read what the other writes: the reference reads our `binary:X` back into the
//! original message, and we read its `X` output back into the original message.
//!
//! Each case is a stream of 10 to 30 messages, so that one process converts many messages. The
//! formats that cannot carry a stream (flat, flat-packed, canonical) are checked on a few
//! messages of each case, one process per message. `PROPTEST_CASES` changes the number of
//! cases; a failure names the pair, the first message that differs (as text) and both outputs.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};
use serde_capnp::model::{Brand, FieldSlot, NodeIndex, SchemaPool, Type, Value as ModelValue};
use serde_capnp::{Enumerant, Schema, StructSchema, Value};

use common::{bin, capnp_or_skip, pipe, repo};

/// Every format of `capnp convert`.
const FORMATS: [&str; 7] = [
    "binary",
    "packed",
    "flat",
    "flat-packed",
    "canonical",
    "text",
    "json",
];

/// Formats that hold a stream of messages; the others hold exactly one.
fn is_stream(format: &str) -> bool {
    matches!(format, "binary" | "packed" | "text" | "json")
}

/// How many pointers deep a generated message goes.
const MAX_DEPTH: u32 = 3;

/// How many messages of each case go through the single-message formats.
const SINGLE_SAMPLES: usize = 1;

/// `--segment-size` for the reference's multi-segment copy of the input, and for the output in
/// many segments: small enough for far pointers everywhere, large enough to stay below the 512
/// segments a reader accepts.
const INPUT_SEGMENT_WORDS: u32 = 24;
const OUTPUT_SEGMENT_WORDS: u32 = 16;

/// How many processes run at once.
const PARALLEL: usize = 6;

// ---------------------------------------------------------------------------------------------
// The generator: a strategy for a message of any struct type, built from the schema model.

/// An integer strategy: the type's extremes and small numbers as often as any other value.
macro_rules! integer {
    ($t:ty, $variant:ident) => {
        prop_oneof![
            1 => proptest::sample::select(vec![<$t>::MIN, <$t>::MAX, 0, 1, (0 as $t).wrapping_sub(1)]),
            1 => any::<i8>().prop_map(|v| v as $t),
            2 => any::<$t>(),
        ]
        .prop_map(Value::$variant)
        .boxed()
    };
}

struct Generator<'p> {
    pool: &'p SchemaPool,
    structs: HashMap<(NodeIndex, u32, String), BoxedStrategy<Value>>,
    /// Text and Data without what the reference cannot read back in a stream (see
    /// [`capnp_finds`] and [`has_lettered_unicode_escape`]), so that most messages also go
    /// through its text and JSON readers.
    plain: bool,
}

/// One generated field: its code order (so that the struct lists fields as a reader does), its
/// name and its value.
type GenField = Option<(u16, String, Value)>;

impl<'p> Generator<'p> {
    fn new(pool: &'p SchemaPool, plain: bool) -> Self {
        Generator {
            pool,
            structs: HashMap::new(),
            plain,
        }
    }

    /// A struct (or group) value. Every field outside the union is set three times in four,
    /// and one union member is always chosen. At depth 0 (the root and its groups) an enum may
    /// hold a number the schema has no name for.
    fn structure(
        &mut self,
        node: NodeIndex,
        brand: Option<&Brand>,
        depth: u32,
    ) -> BoxedStrategy<Value> {
        let key = (node, depth, format!("{brand:?}"));
        if let Some(s) = self.structs.get(&key) {
            return s.clone();
        }
        let st = self
            .pool
            .node(node)
            .as_struct()
            .expect("a struct type")
            .clone();
        // JSON prints the function of a `Json.Value` call as it is, unquoted: any other name than
        // an identifier makes output that cannot even be cut into messages.
        let call = self
            .pool
            .node(node)
            .display_name
            .ends_with("json.capnp:Value.Call");
        let mut parts: Vec<BoxedStrategy<GenField>> = Vec::new();
        for &i in &st.plain_fields {
            let f = &st.fields[i as usize];
            let (order, name) = (f.code_order, f.name.clone());
            let value = if call && f.name == "function" {
                "[a-z][a-zA-Z0-9_]{0,8}".prop_map(Value::Text).boxed()
            } else {
                self.field(&f.slot, brand, depth)
            };
            parts.push(
                proptest::option::weighted(0.75, value)
                    .prop_map(move |v| v.map(|v| (order, name.clone(), v)))
                    .boxed(),
            );
        }
        if st.has_union() {
            // A `Json.Value` call prints as `f(...)`, which is not JSON (see [`not_json`]).
            let skip_call = self.plain
                && self
                    .pool
                    .node(node)
                    .display_name
                    .ends_with("json.capnp:Value");
            let members: Vec<BoxedStrategy<GenField>> = st
                .union_members
                .iter()
                .filter(|&&i| !(skip_call && st.fields[i as usize].name == "call"))
                .map(|&i| {
                    let f = &st.fields[i as usize];
                    let (order, name) = (f.code_order, f.name.clone());
                    self.field(&f.slot, brand, depth)
                        .prop_map(move |v| Some((order, name.clone(), v)))
                        .boxed()
                })
                .collect();
            parts.push(proptest::strategy::Union::new(members).boxed());
        }
        let strategy = parts
            .prop_map(|fields| {
                let mut fields: Vec<_> = fields.into_iter().flatten().collect();
                fields.sort_by_key(|f| f.0);
                Value::structure(fields.into_iter().map(|(_, n, v)| (n, v)))
            })
            .boxed();
        self.structs.insert(key, strategy.clone());
        strategy
    }

    fn field(
        &mut self,
        slot: &FieldSlot,
        brand: Option<&Brand>,
        depth: u32,
    ) -> BoxedStrategy<Value> {
        match slot {
            FieldSlot::Void => Just(Value::Void).boxed(),
            FieldSlot::Data { ty, .. } => self.scalar(ty, depth == 0),
            FieldSlot::Pointer { ty, .. } => self.pointer(&ty.resolve(brand), depth),
            // A group shares its parent's brand and sections, so it stays at the same depth.
            FieldSlot::Group { node } => self.structure(*node, brand, depth),
        }
    }

    /// A pointer field: unset one time in six, and always unset past the depth limit (Text and
    /// Data excepted, as they cannot nest).
    fn pointer(&mut self, ty: &Type, depth: u32) -> BoxedStrategy<Value> {
        let set = match ty {
            Type::Text => text(self.plain),
            Type::Data => data(self.plain),
            Type::List(_) | Type::Struct(..) if depth >= MAX_DEPTH => {
                return Just(Value::Null).boxed()
            }
            Type::List(element) => self.list(element, depth + 1),
            Type::Struct(node, brand) => self.structure(*node, brand.as_deref(), depth + 1),
            // AnyPointer, capabilities and unbound generic parameters: a Value has no type to
            // write there.
            _ => return Just(Value::Null).boxed(),
        };
        prop_oneof![1 => Just(Value::Null), 5 => set].boxed()
    }

    fn list(&mut self, element: &Type, depth: u32) -> BoxedStrategy<Value> {
        let (item, max) = match element {
            Type::Text | Type::Data | Type::List(_) => (self.pointer(element, depth), 5),
            Type::Struct(node, brand) => (self.structure(*node, brand.as_deref(), depth), 3),
            Type::AnyPointer(_)
            | Type::Interface(..)
            | Type::Param { .. }
            | Type::MethodParam(_) => return Just(Value::Null).boxed(),
            _ => (self.scalar(element, false), 8),
        };
        vec(item, 0..=max).prop_map(Value::List).boxed()
    }

    /// A value of a data-section type.
    fn scalar(&self, ty: &Type, unknown_enums: bool) -> BoxedStrategy<Value> {
        match ty {
            Type::Void => Just(Value::Void).boxed(),
            Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
            Type::Int8 => integer!(i8, Int8),
            Type::Int16 => integer!(i16, Int16),
            Type::Int32 => integer!(i32, Int32),
            Type::Int64 => integer!(i64, Int64),
            Type::UInt8 => integer!(u8, UInt8),
            Type::UInt16 => integer!(u16, UInt16),
            Type::UInt32 => integer!(u32, UInt32),
            Type::UInt64 => integer!(u64, UInt64),
            Type::Float32 => float32(),
            Type::Float64 => float64(),
            Type::Enum(node) => {
                let names: Vec<Value> = self
                    .pool
                    .node(*node)
                    .as_enum()
                    .expect("an enum")
                    .enumerants
                    .iter()
                    .map(|e| Value::enumerant(e.name.clone()))
                    .collect();
                let count = names.len() as u16;
                let named = proptest::sample::select(names);
                if unknown_enums {
                    prop_oneof![
                        5 => named,
                        1 => (count..=u16::MAX).prop_map(|ordinal| Value::Enum(Enumerant {
                            ordinal,
                            name: None,
                        })),
                    ]
                    .boxed()
                } else {
                    named.boxed()
                }
            }
            other => panic!("not a data type: {other:?}"),
        }
    }
}

/// NaN is always the quiet NaN the reference's text and JSON readers produce, so that a message
/// read back from text can equal the original.
fn float64() -> BoxedStrategy<Value> {
    let specials = vec![
        0.0,
        -0.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        f64::EPSILON,
        5e-324,
        -5e-324,
        1.0,
        -1.0,
        0.1,
        0.5,
        1e300,
        1e-300,
        1e15,
        1e16,
        1e21,
        1e22,
        1e-7,
        123456789.0,
        9007199254740993.0,
    ];
    prop_oneof![
        2 => proptest::sample::select(specials),
        // Decimal-looking numbers, as people write them.
        2 => (any::<i32>(), -30i32..30).prop_map(|(m, e)| m as f64 * 10f64.powi(e)),
        // Subnormals.
        1 => (1u64..1 << 52, any::<bool>())
            .prop_map(|(m, negative)| f64::from_bits(m | (u64::from(negative) << 63))),
        3 => any::<u64>().prop_map(|bits| {
            let f = f64::from_bits(bits);
            if f.is_nan() { f64::NAN } else { f }
        }),
    ]
    .prop_map(Value::Float64)
    .boxed()
}

fn float32() -> BoxedStrategy<Value> {
    let specials = vec![
        0.0,
        -0.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MAX,
        f32::MIN,
        f32::MIN_POSITIVE,
        f32::EPSILON,
        1e-45,
        -1e-45,
        1.0,
        -1.0,
        0.1,
        0.5,
        1e30,
        1e-30,
        16777216.0,
        16777217.0,
        1e7,
        1e-7,
        3.4e38,
    ];
    prop_oneof![
        2 => proptest::sample::select(specials),
        2 => (any::<i16>(), -12i32..12).prop_map(|(m, e)| m as f32 * 10f32.powi(e)),
        1 => (1u32..1 << 23, any::<bool>())
            .prop_map(|(m, negative)| f32::from_bits(m | (u32::from(negative) << 31))),
        3 => any::<u32>().prop_map(|bits| {
            let f = f32::from_bits(bits);
            if f.is_nan() { f32::NAN } else { f }
        }),
    ]
    .prop_map(Value::Float32)
    .boxed()
}

/// Characters the reference's stream reader takes for brackets or comments even in strings, or
/// that it misreads in JSON escapes: left out of plain text.
fn troublesome(c: char) -> bool {
    matches!(
        c,
        '(' | ')' | '{' | '}' | '#' | '/' | '\u{b}' | '\u{e}' | '\u{f}' | '\u{1a}'..='\u{1f}'
    )
}

/// Text with what needs escaping in the text format and in JSON, and non-ASCII characters.
fn text(plain: bool) -> BoxedStrategy<Value> {
    let special = vec![
        '"', '\\', '\'', '\n', '\r', '\t', '\u{0}', '\u{1}', '\u{7}', '\u{8}', '\u{b}', '\u{c}',
        '\u{1b}', '\u{1f}', '\u{7f}', '/', '{', '}', '[', ']', '(', ')', ',', '=', ':', '#',
    ];
    let foreign = vec![
        'é',
        'ü',
        'ß',
        '—',
        '✓',
        '€',
        '\u{80}',
        '\u{9f}',
        '\u{a0}',
        '\u{ad}',
        '\u{2028}',
        '\u{2029}',
        '\u{feff}',
        '\u{fffd}',
        '🌙',
        '😀',
        '\u{10ffff}',
    ];
    let ch = prop_oneof![
        6 => (0x20u8..0x7f).prop_map(char::from),
        2 => proptest::sample::select(special),
        1 => proptest::sample::select(foreign),
        1 => any::<char>(),
    ];
    vec(ch, 0..12)
        .prop_map(move |c| {
            Value::Text(
                c.into_iter()
                    .filter(|&c| !plain || !troublesome(c))
                    .collect(),
            )
        })
        .boxed()
}

fn data(plain: bool) -> BoxedStrategy<Value> {
    vec(any::<u8>(), 0..16)
        .prop_map(move |mut d| {
            if plain {
                d.retain(|&b| !troublesome(char::from(b)));
            }
            Value::Data(d)
        })
        .boxed()
}

// ---------------------------------------------------------------------------------------------
// Encoding, with enum numbers the schema has no name for.

/// Replaces the root's unnamed enum values (its own and its groups') by a named one, and
/// returns where the real number goes: the serializer writes only names, so the number is put
/// into the message afterwards. Returns (offset in 16-bit units, wire bits).
fn lower_unknown_enums(pool: &SchemaPool, node: NodeIndex, value: &mut Value) -> Vec<(u32, u16)> {
    let mut patches = Vec::new();
    let Value::Struct(s) = value else {
        return patches;
    };
    let st = pool.node(node).as_struct().expect("a struct");
    let names: Vec<String> = s.fields().map(|(n, _)| n.to_string()).collect();
    for name in names {
        let field = &st.fields[st.field_index(&name).expect("a field") as usize];
        let v = s.get_mut(&name).expect("present");
        match (&field.slot, &*v) {
            (
                FieldSlot::Data {
                    ty: Type::Enum(e),
                    offset,
                    default_bits,
                },
                Value::Enum(Enumerant {
                    ordinal,
                    name: None,
                }),
            ) => {
                patches.push((*offset, *ordinal ^ *default_bits as u16));
                let first = &pool.node(*e).as_enum().expect("an enum").enumerants[0].name;
                *v = Value::enumerant(first.clone());
            }
            (FieldSlot::Group { node }, _) => patches.extend(lower_unknown_enums(pool, *node, v)),
            _ => {}
        }
    }
    patches
}

/// Writes 16-bit values into the data section of a single-segment message's root.
fn patch_root(bytes: &mut [u8], patches: &[(u32, u16)]) {
    if patches.is_empty() {
        return;
    }
    assert_eq!(&bytes[..4], &[0; 4], "one segment");
    let pointer = u64::from_le_bytes(bytes[8..16].try_into().unwrap());
    assert_eq!(pointer & 3, 0, "a struct pointer at the root");
    let offset = (pointer as u32 as i32 >> 2) as i64;
    let data_words = (pointer >> 32) & 0xffff;
    let data = (8 + (1 + offset) * 8) as usize;
    for &(at, bits) in patches {
        assert!(
            u64::from(at) * 2 + 2 <= data_words * 8,
            "inside the data section"
        );
        let at = data + at as usize * 2;
        bytes[at..at + 2].copy_from_slice(&bits.to_le_bytes());
    }
}

// ---------------------------------------------------------------------------------------------
// Running both tools.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tool {
    Ours,
    Capnp,
}

struct Job<'a> {
    tool: Tool,
    from: &'a str,
    to: &'a str,
    short: bool,
    /// `--segment-size`.
    segments: Option<u32>,
    input: &'a [u8],
}

/// Whether the reference refuses a flat message as "not in flat format" unless `--quiet` is
/// given. Its guess at the format takes a root pointer with a negative offset for impossible,
/// but that is how the canonical form (and so also flat) points at an empty struct:
/// `capnp convert binary:canonical` writes `fcff ffff 0000 0000` for `()` and then refuses to
/// read it back. Both tools get `--quiet` for such input (we never guess at formats).
fn capnp_refuses(format: &str, input: &[u8]) -> bool {
    let unpacked;
    let flat = match format {
        "flat" | "canonical" => input,
        "flat-packed" => {
            unpacked = serde_capnp::packing::unpack(input).unwrap_or_default();
            &unpacked
        }
        _ => return false,
    };
    flat.len() >= 8 && flat[0] & 3 == 0 && flat[3] & 0x80 != 0
}

/// What both tools are run on, and how they are counted.
struct Harness {
    capnp: PathBuf,
    schema_file: PathBuf,
    root: &'static str,
    st: StructSchema,
    messages: AtomicUsize,
    pairs: AtomicUsize,
    comparisons: AtomicUsize,
    round_trips: AtomicUsize,
    unreadable: AtomicUsize,
}

/// One input of the matrix: messages in one format, as the reference writes them.
struct Input {
    from: &'static str,
    bytes: Vec<u8>,
    /// Which messages it holds.
    members: Vec<usize>,
}

impl Harness {
    fn command(&self, job: &Job<'_>) -> Command {
        let mut cmd = match job.tool {
            Tool::Ours => bin(),
            Tool::Capnp => Command::new(&self.capnp),
        };
        cmd.arg("convert").arg(format!("{}:{}", job.from, job.to));
        if job.short {
            cmd.arg("--short");
        }
        if let Some(words) = job.segments {
            cmd.arg(format!("--segment-size={words}"));
        }
        if capnp_refuses(job.from, job.input) {
            cmd.arg("--quiet");
        }
        cmd.arg(&self.schema_file).arg(self.root);
        cmd
    }

    /// Runs the jobs, a few at a time, and returns their outputs in order.
    fn run(&self, jobs: &[Job<'_>]) -> Vec<Output> {
        let mut outputs = Vec::with_capacity(jobs.len());
        for chunk in jobs.chunks(PARALLEL) {
            std::thread::scope(|s| {
                let running: Vec<_> = chunk
                    .iter()
                    .map(|job| s.spawn(|| pipe(&mut self.command(job), job.input)))
                    .collect();
                outputs.extend(running.into_iter().map(|r| r.join().unwrap()));
            });
        }
        outputs
    }

    fn run_one(&self, job: Job<'_>) -> Output {
        pipe(&mut self.command(&job), job.input)
    }

    /// The reference's conversion, which must succeed.
    fn capnp(&self, from: &str, to: &str, short: bool, input: &[u8]) -> Result<Vec<u8>, String> {
        let out = self.run_one(Job {
            tool: Tool::Capnp,
            from,
            to,
            short,
            segments: None,
            input,
        });
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(format!(
                "capnp convert {from}:{to} failed: {}",
                stderr(&out)
            ))
        }
    }

    /// One case: a stream of messages through every pair of formats.
    fn check(&self, mut values: Vec<Value>) -> Result<(), String> {
        let (pool, root) = self.st.pool();
        let mut messages = Vec::with_capacity(values.len());
        let mut unknown_enums = Vec::with_capacity(values.len());
        for v in &mut values {
            let patches = lower_unknown_enums(pool, root, v);
            unknown_enums.push(!patches.is_empty());
            let mut bytes = self.st.to_vec(&*v).map_err(|e| format!("encoding: {e}"))?;
            patch_root(&mut bytes, &patches);
            messages.push(bytes);
        }
        let original = messages.concat();
        let n = messages.len();
        self.messages.fetch_add(n, Relaxed);
        let expected_of = |members: &[usize]| -> Vec<u8> {
            members
                .iter()
                .flat_map(|&i| &messages[i])
                .copied()
                .collect()
        };

        // The inputs in every format, as the reference writes them.
        let all: Vec<usize> = (0..n).collect();
        let mut inputs = vec![
            Input {
                from: "binary",
                bytes: original.clone(),
                members: all.clone(),
            },
            Input {
                from: "packed",
                bytes: self.capnp("binary", "packed", false, &original)?,
                members: all.clone(),
            },
        ];
        for from in ["text", "json"] {
            let stream = self.capnp("binary", from, false, &original)?;
            let (members, bytes) = readable_by_capnp(&stream, from, &unknown_enums)?;
            self.unreadable.fetch_add(n - members.len(), Relaxed);
            inputs.push(Input {
                from,
                bytes,
                members,
            });
        }
        // The same messages in many segments, with far pointers, as the reference writes them
        // with `--segment-size`.
        inputs.push(Input {
            from: "binary",
            bytes: {
                let out = self.run_one(Job {
                    tool: Tool::Capnp,
                    from: "binary",
                    to: "binary",
                    short: false,
                    segments: Some(INPUT_SEGMENT_WORDS),
                    input: &original,
                });
                if !out.status.success() {
                    return Err(format!("capnp --segment-size failed: {}", stderr(&out)));
                }
                out.stdout
            },
            members: all.clone(),
        });
        for (k, from) in ["flat", "flat-packed", "canonical"].into_iter().enumerate() {
            for j in 0..SINGLE_SAMPLES {
                let i = (k + j * 3) % n;
                inputs.push(Input {
                    from,
                    bytes: self.capnp("binary", from, false, &messages[i])?,
                    members: vec![i],
                });
            }
        }

        // Every pair, both tools.
        let mut jobs = Vec::new();
        let mut job_inputs = Vec::new();
        for input in &inputs {
            for to in FORMATS {
                // `--short` changes only text and JSON; that it leaves the others alone is
                // checked on binary input.
                let shorts: &[bool] = if matches!(to, "text" | "json") || input.from == "binary" {
                    &[false, true]
                } else {
                    &[false]
                };
                let mut variants: Vec<(bool, Option<u32>)> =
                    shorts.iter().map(|&short| (short, None)).collect();
                if input.from == "binary" && matches!(to, "binary" | "packed") {
                    // Output in many segments: the reference's choice of segment for each
                    // object.
                    variants.push((false, Some(OUTPUT_SEGMENT_WORDS)));
                }
                for (short, segments) in variants {
                    for tool in [Tool::Ours, Tool::Capnp] {
                        jobs.push(Job {
                            tool,
                            from: input.from,
                            to,
                            short,
                            segments,
                            input: &input.bytes,
                        });
                        job_inputs.push(input);
                    }
                }
            }
        }
        let outputs = self.run(&jobs);
        let mut differences = Vec::new();
        let mut ours_of_binary: Vec<(&str, bool, &[u8])> = Vec::new();
        for ((pair, out), input) in jobs
            .chunks(2)
            .zip(outputs.chunks(2))
            .zip(job_inputs.into_iter().step_by(2))
        {
            let (job, ours, theirs) = (&pair[0], &out[0], &out[1]);
            self.pairs.fetch_add(1, Relaxed);
            if !theirs.status.success() || !ours.status.success() || ours.stdout != theirs.stdout {
                differences.push(self.explain(job, ours, theirs, &messages, &input.members));
                continue;
            }
            self.comparisons.fetch_add(1, Relaxed);
            // We read the reference's output of every format back into the original messages.
            if job.to == "binary" && !job.short && job.segments.is_none() {
                self.round_trips.fetch_add(1, Relaxed);
                if let Err(e) = self.same_stream(&ours.stdout, &expected_of(&input.members)) {
                    differences.push(format!(
                        "{}: our reading of capnp's {} is not the original: {e}",
                        job_name(job),
                        job.from
                    ));
                }
            }
            if job.from == "binary" && is_stream(job.to) && job.to != "binary" {
                ours_of_binary.push((job.to, job.short, &ours.stdout));
            }
        }
        if !differences.is_empty() {
            return Err(summarize(differences));
        }

        // The reference reads what we write, in every format, back into the original messages.
        let mut jobs = Vec::new();
        let mut expected = Vec::new();
        let mut readable = Vec::new();
        for &(to, short, ours) in &ours_of_binary {
            let (members, bytes) = if to == "packed" {
                (all.clone(), ours.to_vec())
            } else {
                readable_by_capnp(ours, to, &unknown_enums)?
            };
            expected.push(expected_of(&members));
            readable.push((to, short, bytes));
        }
        for (to, short, bytes) in &readable {
            jobs.push(Job {
                tool: Tool::Capnp,
                from: to,
                to: "binary",
                short: *short,
                segments: None,
                input: bytes,
            });
        }
        let singles: Vec<(&str, usize)> = inputs
            .iter()
            .filter(|input| !is_stream(input.from))
            .map(|input| (input.from, input.members[0]))
            .collect();
        let ours_single = self.run(
            &singles
                .iter()
                .map(|&(f, i)| Job {
                    tool: Tool::Ours,
                    from: "binary",
                    to: f,
                    short: false,
                    segments: None,
                    input: &messages[i],
                })
                .collect::<Vec<_>>(),
        );
        for ((f, i), out) in singles.iter().zip(&ours_single) {
            if !out.status.success() {
                differences.push(format!("binary:{f} of message {i} failed: {}", stderr(out)));
                continue;
            }
            jobs.push(Job {
                tool: Tool::Capnp,
                from: f,
                to: "binary",
                short: false,
                segments: None,
                input: &out.stdout,
            });
            expected.push(messages[*i].clone());
        }
        for ((job, out), expected) in jobs.iter().zip(self.run(&jobs)).zip(&expected) {
            self.round_trips.fetch_add(1, Relaxed);
            let result = if out.status.success() {
                self.same_stream(&out.stdout, expected)
            } else {
                Err(format!("it failed: {}", stderr(&out)))
            };
            if let Err(e) = result {
                differences.push(format!(
                    "capnp convert {}:binary of our {}: {e}",
                    job.from,
                    pair_name("binary", job.from, job.short)
                ));
            }
        }
        if differences.is_empty() {
            Ok(())
        } else {
            Err(summarize(differences))
        }
    }

    /// Says how the two outputs of a pair differ, and finds the first message that makes them
    /// differ (converting the messages one by one).
    fn explain(
        &self,
        job: &Job<'_>,
        ours: &Output,
        theirs: &Output,
        messages: &[Vec<u8>],
        members: &[usize],
    ) -> String {
        let name = job_name(job);
        let mut report = format!("{name}: {}", describe(ours, theirs, job.to));
        for &i in members {
            let input = if job.from == "binary" {
                messages[i].clone()
            } else {
                match self.capnp("binary", job.from, false, &messages[i]) {
                    Ok(input) => input,
                    Err(e) => return format!("{report}\n  {e}"),
                }
            };
            let run = |tool| {
                self.run_one(Job {
                    tool,
                    input: &input,
                    ..*job
                })
            };
            let (o, t) = (run(Tool::Ours), run(Tool::Capnp));
            if !o.status.success() || !t.status.success() || o.stdout != t.stdout {
                let saved = self.save(&messages[i]);
                report += &format!("\n  message saved in {}", saved.display());
                let text = self
                    .capnp("binary", "text", true, &messages[i])
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_else(|e| e);
                report += &format!(
                    "\n  first differing message ({i}): {}\n  {}",
                    text.trim_end(),
                    describe(&o, &t, job.to)
                );
                if job.from != "binary" {
                    report += &format!("\n  input: {}", show(&input, job.from));
                }
                return report;
            }
        }
        report + "\n  (no single message differs)"
    }

    /// Keeps a message that shows a difference, to look at it with the tools.
    fn save(&self, message: &[u8]) -> PathBuf {
        let dir = repo().join("target").join("corpus-failures");
        std::fs::create_dir_all(&dir).unwrap();
        let stem = self.schema_file.file_stem().unwrap().to_string_lossy();
        let path = dir.join(format!("{stem}-{}-{}.bin", self.root, std::process::id()));
        std::fs::write(&path, message).unwrap();
        path
    }

    /// Whether two streams hold the same messages: the same bytes, the same canonical form, or
    /// (for what went through text or JSON) the same values, a `Float32` possibly one step off
    /// and the sign of a zero possibly lost, as the reference prints them.
    fn same_stream(&self, got: &[u8], expected: &[u8]) -> Result<(), String> {
        if got == expected {
            return Ok(());
        }
        let (got, expected) = (split(got)?, split(expected)?);
        if got.len() != expected.len() {
            return Err(format!(
                "{} messages instead of {}",
                got.len(),
                expected.len()
            ));
        }
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            if g == e || canonical(g)? == canonical(e)? {
                continue;
            }
            match (self.st.read_value(g), self.st.read_value(e)) {
                (Ok(gv), Ok(ev)) => {
                    let (pool, node) = self.st.pool();
                    let root = Type::Struct(node, None);
                    if let Some(d) = difference(pool, &gv, &ev, Some(&root), false, "") {
                        return Err(format!("message {i}: {d}"));
                    }
                }
                (gv, ev) => return Err(format!("message {i}: {gv:?} instead of {ev:?}")),
            }
        }
        Ok(())
    }
}

/// What a process said on stderr, without the reference's warnings about the environment.
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| !l.contains("PWD environment variable") && !l.starts_with("stack: "))
        .collect::<Vec<_>>()
        .join(" / ")
}

fn job_name(job: &Job<'_>) -> String {
    let mut name = pair_name(job.from, job.to, job.short);
    if let Some(words) = job.segments {
        name += &format!(" --segment-size={words}");
    }
    name
}

fn pair_name(from: &str, to: &str, short: bool) -> String {
    format!("{from}:{to}{}", if short { " --short" } else { "" })
}

fn summarize(differences: Vec<String>) -> String {
    let n = differences.len();
    let mut s = differences
        .into_iter()
        .take(4)
        .collect::<Vec<_>>()
        .join("\n");
    if n > 4 {
        s += &format!("\n... and {} more differences", n - 4);
    }
    s
}

/// The output, readable: text as it is, binary in hex; cut to a length one can read.
fn show(bytes: &[u8], format: &str) -> String {
    let s = if matches!(format, "text" | "json") {
        String::from_utf8_lossy(bytes).into_owned()
    } else {
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    if s.chars().count() > 1500 {
        s.chars().take(1500).collect::<String>() + "…"
    } else {
        s
    }
}

fn describe(ours: &Output, theirs: &Output, to: &str) -> String {
    let status = |o: &Output| {
        if o.status.success() {
            String::new()
        } else {
            format!(" (failed: {})", stderr(o))
        }
    };
    let at = ours
        .stdout
        .iter()
        .zip(&theirs.stdout)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.stdout.len().min(theirs.stdout.len()));
    // Show the neighbourhood of the first difference.
    let from = at.saturating_sub(80);
    let window = |b: &[u8]| show(&b[from.min(b.len())..(at + 80).min(b.len())], to);
    format!(
        "ours {} bytes{}, capnp {} bytes{}; first difference at byte {at}:\n    ours:  {}\n    capnp: {}",
        ours.stdout.len(),
        status(ours),
        theirs.stdout.len(),
        status(theirs),
        window(&ours.stdout),
        window(&theirs.stdout),
    )
}

/// The messages of a text or JSON stream: each runs from an opening bracket at depth 0 to the
/// next one (so it keeps its line end). Brackets inside strings do not count.
fn split_text(stream: &[u8], open: u8, close: u8) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let (mut depth, mut in_string, mut escaped) = (0u32, false, false);
    for (i, &c) in stream.iter().enumerate() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else if c == b'"' {
            in_string = true;
        } else if c == open {
            if depth == 0 {
                starts.push(i);
            }
            depth += 1;
        } else if c == close {
            depth = depth.saturating_sub(1);
        }
    }
    let mut out = Vec::new();
    for (k, &start) in starts.iter().enumerate() {
        let from = if k == 0 { 0 } else { start };
        let to = starts.get(k + 1).copied().unwrap_or(stream.len());
        out.push(&stream[from..to]);
    }
    out
}

/// Whether `capnp convert` 0.9.2 finds this message (text or JSON, with its line end) where it
/// is in a stream. The reference cuts a stream into messages with a small state machine that
/// counts brackets and skips comments (`#`, and `//` in JSON) but never enters its string
/// states: a bracket or a comment sign inside a string counts as if it were outside. A message
/// ends at the first opening bracket at depth 0 after a closing one, so such a string can end a
/// message early or make it swallow the next one, and the reference then fails to read its own
/// output (`(a = "x)", b = (c = 1))` is cut after `b = `). Those messages are left out of what
/// the reference reads; we read them as they are written.
fn capnp_finds(message: &[u8], json: bool) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Normal,
        Slash,
        Comment,
    }
    let (open, close) = if json { (b'{', b'}') } else { (b'(', b')') };
    let (mut state, mut depth, mut closed) = (State::Normal, 0u32, false);
    // The next message's opening bracket must be where this message is cut.
    for (i, &c) in message.iter().chain([open].iter()).enumerate() {
        match state {
            State::Comment => {
                if c == b'\n' {
                    state = State::Normal;
                }
                continue;
            }
            State::Slash if c == b'/' => {
                state = State::Comment;
                continue;
            }
            // After one `/` the reference stays in that state and handles the other characters
            // as in the normal one.
            State::Slash | State::Normal => {}
        }
        if c == b'#' {
            state = State::Comment;
        } else if c == b'/' && json {
            state = State::Slash;
        } else if c == open {
            if depth == 0 && closed {
                return i == message.len();
            }
            depth += 1;
        } else if c == close && depth > 0 {
            depth -= 1;
            closed |= depth == 0;
        }
    }
    false
}

/// Whether a JSON text has a `\u` escape with a hex letter in it. The reference (0.9.2) decodes
/// `a`-`f` there as 0-5, so it reads `"\u001b"`, which it writes itself for the character 0x1b,
/// as 0x11. We decode such escapes as JSON defines them (tests/json.rs).
fn has_lettered_unicode_escape(json: &[u8]) -> bool {
    let mut i = 0;
    while i < json.len() {
        if json[i] == b'\\' {
            if json.get(i + 1) == Some(&b'u')
                && json[i + 2..]
                    .iter()
                    .take(4)
                    .any(|c| c.is_ascii_hexdigit() && !c.is_ascii_digit())
            {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// Whether a JSON text holds what is not JSON: the reference prints a `Json.Value` call as
/// `f(...)` and a `Json.Value` number that is not finite as `nan` or `inf`, and nobody reads
/// those back.
fn not_json(json: &[u8]) -> bool {
    let (mut in_string, mut escaped) = (false, false);
    let mut i = 0;
    while i < json.len() {
        let c = json[i];
        if in_string {
            match c {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else if c == b'"' {
            in_string = true;
        } else if c == b'(' {
            return true;
        } else if c.is_ascii_alphabetic() && !(i > 0 && matches!(json[i - 1], b'0'..=b'9' | b'.')) {
            // A word, not the exponent of a number.
            let end = json[i..]
                .iter()
                .position(|c| !c.is_ascii_alphanumeric())
                .map_or(json.len(), |n| i + n);
            if !matches!(&json[i..end], b"true" | b"false" | b"null") {
                return true;
            }
            i = end;
            continue;
        }
        i += 1;
    }
    false
}

/// The messages of a text or JSON stream that the reference can read, and the stream of just
/// those. `unknown_enums` tells which messages hold an enum number the schema has no name for:
/// the text format prints it as `(7)`, which neither the reference nor we read back.
fn readable_by_capnp(
    stream: &[u8],
    format: &str,
    unknown_enums: &[bool],
) -> Result<(Vec<usize>, Vec<u8>), String> {
    let n = unknown_enums.len();
    let (open, close) = if format == "text" {
        (b'(', b')')
    } else {
        (b'{', b'}')
    };
    let texts = split_text(stream, open, close);
    if texts.len() != n {
        return Err(format!(
            "{} {format} messages instead of {n} in: {}",
            texts.len(),
            show(stream, format)
        ));
    }
    let members: Vec<usize> = (0..n)
        .filter(|&i| capnp_finds(texts[i], format == "json"))
        .filter(|&i| format != "text" || !unknown_enums[i])
        .filter(|&i| format != "json" || !has_lettered_unicode_escape(texts[i]))
        .filter(|&i| format != "json" || !not_json(texts[i]))
        .collect();
    let bytes = members.iter().flat_map(|&i| texts[i]).copied().collect();
    Ok((members, bytes))
}

/// The messages of a binary stream, each with its segment table.
fn split(mut stream: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    while !stream.is_empty() {
        let before = stream;
        capnp::serialize::read_message_from_flat_slice(&mut stream, reader_options())
            .map_err(|e| format!("not a message stream: {e}"))?;
        out.push(&before[..before.len() - stream.len()]);
    }
    Ok(out)
}

fn reader_options() -> capnp::message::ReaderOptions {
    capnp::message::ReaderOptions {
        traversal_limit_in_words: None,
        nesting_limit: 1024,
    }
}

fn canonical(mut message: &[u8]) -> Result<Vec<capnp::Word>, String> {
    capnp::serialize::read_message_from_flat_slice(&mut message, reader_options())
        .and_then(|r| r.canonicalize())
        .map_err(|e| format!("canonicalizing: {e}"))
}

/// Whether a value is what an empty Text, Data, list or struct reads as.
fn empty(v: &Value) -> bool {
    match v {
        Value::Text(t) => t.is_empty(),
        Value::Data(d) => d.is_empty(),
        Value::List(l) => l.is_empty(),
        Value::Struct(s) => s.fields().all(|(_, v)| zero(v)),
        _ => false,
    }
}

/// Whether a field of an empty struct can read as this.
fn zero(v: &Value) -> bool {
    match v {
        Value::Void | Value::Null | Value::Bool(false) => true,
        Value::Float32(f) => *f == 0.0,
        Value::Float64(f) => *f == 0.0,
        Value::Enum(e) => e.ordinal == 0,
        Value::Struct(_) => empty(v),
        _ => v.as_integer() == Some(0),
    }
}

/// Where two values differ, but for what text and JSON cannot tell apart: a `Float32` may read
/// back one step off (the reference prints at most 8 significant digits), a zero may lose its
/// sign (`-0` reads as the integer 0), a null pointer that is printed all the same (a list
/// element, a union member) reads back empty (`""`, `[]`, `()`), and below a pointer field with
/// a default, what was unset may read back as the default's (the JSON reader fills a flattened
/// struct in from its default, in the reference as in ours). `ty` is the value's type, when
/// known. Returns the path and both parts.
fn difference(
    pool: &SchemaPool,
    got: &Value,
    expected: &Value,
    ty: Option<&Type>,
    lenient: bool,
    path: &str,
) -> Option<String> {
    if (*got == Value::Null && empty(expected))
        || (*expected == Value::Null && (empty(got) || lenient))
    {
        return None;
    }
    let same = match (got, expected) {
        (Value::Float32(x), Value::Float32(y)) => {
            x.to_bits() == y.to_bits()
                || (*x == 0.0 && *y == 0.0)
                || (x.is_nan() && y.is_nan())
                || (x.is_sign_negative() == y.is_sign_negative()
                    && x.to_bits().abs_diff(y.to_bits()) <= 1)
        }
        (Value::Float64(x), Value::Float64(y)) => {
            x.to_bits() == y.to_bits() || (*x == 0.0 && *y == 0.0) || (x.is_nan() && y.is_nan())
        }
        (Value::List(x), Value::List(y)) if x.len() == y.len() => {
            let element = match ty {
                Some(Type::List(e)) => Some(&**e),
                _ => None,
            };
            return x.iter().zip(y).enumerate().find_map(|(i, (a, b))| {
                difference(pool, a, b, element, lenient, &format!("{path}[{i}]"))
            });
        }
        (Value::Struct(x), Value::Struct(y))
            if x.len() == y.len() && x.fields().zip(y.fields()).all(|((n, _), (m, _))| n == m) =>
        {
            let node = match ty {
                Some(Type::Struct(n, _)) => pool.node(*n).as_struct(),
                _ => None,
            };
            return x.fields().zip(y.fields()).find_map(|((n, a), (_, b))| {
                let slot =
                    node.and_then(|st| st.field_index(n).map(|i| &st.fields[i as usize].slot));
                let (ty, has_default) = match slot {
                    Some(FieldSlot::Group { node }) => (Some(Type::Struct(*node, None)), false),
                    Some(FieldSlot::Pointer { ty, default, .. }) => (
                        Some(ty.clone()),
                        default.as_ref().is_some_and(|d| match d {
                            ModelValue::Struct(p) | ModelValue::List(p) => !p.is_null(),
                            ModelValue::Text(_) | ModelValue::Data(_) => true,
                            _ => false,
                        }),
                    ),
                    Some(slot) => (slot.ty().cloned(), false),
                    None => (None, false),
                };
                difference(
                    pool,
                    a,
                    b,
                    ty.as_ref(),
                    lenient || has_default,
                    &format!("{path}.{n}"),
                )
            });
        }
        _ => got == expected,
    };
    (!same).then(|| format!("at `{path}`: {got:?} instead of {expected:?}"))
}

// ---------------------------------------------------------------------------------------------
// The schemas.

fn corpus(file: &str, root: &'static str, cases: u32) {
    let Some(capnp) = capnp_or_skip() else {
        return;
    };
    let started = Instant::now();
    let schema_file = repo().join(file);
    let schema = Schema::load(&schema_file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let st = schema.struct_type(root).unwrap();
    let strategy = {
        let (pool, node) = st.pool();
        let message = prop_oneof![
            Generator::new(pool, false).structure(node, None, 0),
            Generator::new(pool, true).structure(node, None, 0),
        ];
        vec(message, 10..=30)
    };
    let harness = Harness {
        capnp,
        schema_file: canonical_path(&schema_file),
        root,
        st,
        messages: AtomicUsize::new(0),
        pairs: AtomicUsize::new(0),
        comparisons: AtomicUsize::new(0),
        round_trips: AtomicUsize::new(0),
        unreadable: AtomicUsize::new(0),
    };
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(cases);
    let defaults = Config::default();
    let set = |name: &str| std::env::var_os(name).is_some();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        // Every step runs a few hundred processes: shrink for a while, not for ever.
        max_shrink_time: if set("PROPTEST_MAX_SHRINK_TIME") {
            defaults.max_shrink_time
        } else {
            60_000
        },
        max_shrink_iters: if set("PROPTEST_MAX_SHRINK_ITERS") {
            defaults.max_shrink_iters
        } else {
            64
        },
        ..defaults
    });
    match runner.run(&strategy, |values| {
        harness.check(values).map_err(TestCaseError::fail)
    }) {
        Ok(()) => {}
        Err(TestError::Fail(reason, _)) => panic!("{file} {root}: {reason}"),
        Err(e) => panic!("{file} {root}: {e}"),
    }
    eprintln!(
        "{file} {root}: {cases} cases, {} messages, {} format pairs, {} identical outputs, \
         {} read back, {} text or JSON messages the reference cannot read, in {:.1} s",
        harness.messages.load(Relaxed),
        harness.pairs.load(Relaxed),
        harness.comparisons.load(Relaxed),
        harness.round_trips.load(Relaxed),
        harness.unreadable.load(Relaxed),
        started.elapsed().as_secs_f64()
    );
}

fn canonical_path(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

#[test]
fn alltypes() {
    corpus("schemas/alltypes.capnp", "AllTypes", 6);
}

#[test]
fn addressbook() {
    corpus("schemas/addressbook.capnp", "AddressBook", 4);
}

#[test]
fn json_annotated() {
    corpus("schemas/json_annotated.capnp", "Annotated", 6);
}

#[test]
fn unions_and_groups() {
    corpus("tests/compiler/valid/unions.capnp", "Nesting", 3);
    corpus("tests/compiler/valid/unions.capnp", "Interleaving", 3);
}

#[test]
fn enums_with_defaults() {
    corpus("tests/compiler/valid/enums.capnp", "Calendar", 5);
}

#[test]
fn imported_structs_and_defaults() {
    corpus("tests/compiler/valid/defaults.capnp", "Structs", 6);
}
