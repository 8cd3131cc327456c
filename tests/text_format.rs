//! The Cap'n Proto text format against the reference `capnp` tool: our printing equals
//! `capnp convert binary:text` (pretty and `--short`) byte for byte, the tool reads our text
//! back into the same message, and we read the tool's text into the same message. Also: floats
//! of every kind, union and pointer corner cases, what the reader accepts and rejects, and
//! mutated input that must give an error, never a panic.

mod common;

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use serde_capnp::model::{Brand, FieldSlot, SchemaPool, Type};
use serde_capnp::{Enumerant, Schema, StructSchema, Value};
use serde_capnp_suite::fixtures::{addressbook, alltypes};

fn schema(name: &str) -> Schema {
    Schema::from_code_generator_request(&common::compiled_schema(name)).unwrap()
}

fn all_types() -> StructSchema {
    schema("alltypes").struct_type("AllTypes").unwrap()
}

/// `capnp convert [--short] FROM:TO SCHEMA TYPE`, input on stdin.
fn convert(
    tool: &Path,
    short: bool,
    from_to: &str,
    schema: &Path,
    type_name: &str,
    input: &[u8],
) -> Result<Vec<u8>, String> {
    let mut args: Vec<String> = vec!["convert".into()];
    if short {
        args.push("--short".into());
    }
    if let Some(dir) = schema.parent() {
        args.push(format!("--import-path={}", dir.display()));
    }
    args.push(from_to.into());
    args.push(schema.display().to_string());
    args.push(type_name.into());
    common::run_command(tool, args, input)
}

fn utf8(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("the tool printed UTF-8")
}

/// Whether two values are equal. `exact`: floats compare by bit pattern (NaN equals NaN, `-0.0`
/// differs from `0.0`), as two readers of the same text must agree. Otherwise as a message read
/// back from its text compares with the original: the sign of a zero may be lost (`-0` reads as
/// the integer 0, in the reference too), and a `Float32` may be one step off (the reference
/// prints at most 8 significant digits, which do not always read back exactly).
fn same(a: &Value, b: &Value, exact: bool) -> bool {
    match (a, b) {
        (Value::Float32(x), Value::Float32(y)) if exact => x.to_bits() == y.to_bits(),
        (Value::Float64(x), Value::Float64(y)) if exact => x.to_bits() == y.to_bits(),
        (Value::Float32(x), Value::Float32(y)) => {
            x == y
                || (x.is_nan() && y.is_nan())
                || (x.is_sign_negative() == y.is_sign_negative()
                    && x.to_bits().abs_diff(y.to_bits()) <= 1)
        }
        (Value::Float64(x), Value::Float64(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y, exact))
        }
        (Value::Struct(x), Value::Struct(y)) => {
            x.len() == y.len()
                && x.which() == y.which()
                && x.fields()
                    .zip(y.fields())
                    .all(|((n, x), (m, y))| n == m && same(x, y, exact))
        }
        _ => a == b,
    }
}

#[track_caller]
fn assert_same(a: &Value, b: &Value, exact: bool, what: &str) {
    assert!(same(a, b, exact), "{what}:\n left: {a:?}\nright: {b:?}");
}

/// Whether `capnp convert text:binary` would take `text` as one message. It splits its input
/// after a balanced `(...)`, counting parentheses and skipping `#` comments without knowing
/// string literals, so a `)` or `#` inside a string can cut a message short.
fn tool_reads_as_one(text: &str) -> bool {
    let (mut depth, mut closed, mut comment) = (0u32, false, false);
    for c in text.chars() {
        match c {
            '\n' if comment => comment = false,
            _ if comment => {}
            '#' => comment = true,
            '(' if depth == 0 && closed => return false,
            '(' => depth += 1,
            ')' if depth > 0 => {
                depth -= 1;
                closed |= depth == 0;
            }
            _ => {}
        }
    }
    true
}

/// Checks a batch of messages of `type_name` against the tool, in both directions:
/// - our pretty and short text equal the tool's, byte for byte;
/// - the tool reads our text (both forms) into messages that read back as the originals;
/// - we read the tool's text (both forms) into messages that read back as the originals;
/// - printing the message's `Value` gives the same text.
#[track_caller]
fn check_against_tool(
    tool: &Path,
    schema_file: &Path,
    st: &StructSchema,
    type_name: &str,
    messages: &[Vec<u8>],
) {
    let stream: Vec<u8> = messages.concat();
    for short in [false, true] {
        let form = if short { "short" } else { "pretty" };
        let expected =
            utf8(convert(tool, short, "binary:text", schema_file, type_name, &stream).unwrap());
        let mut ours = String::new();
        for (i, m) in messages.iter().enumerate() {
            let text = if short {
                st.to_text_short(m)
            } else {
                st.to_text(m)
            }
            .unwrap_or_else(|e| panic!("printing message {i}: {e}"));
            let value = st.read_value(m).unwrap();
            assert_eq!(
                st.value_to_text(&value, !short).unwrap(),
                text,
                "{form} text of message {i}'s Value"
            );
            if short {
                assert!(!text.contains('\n'), "short text has no line break");
                assert_eq!(format!("{}", st.display(&value)), text);
            } else {
                assert_eq!(format!("{:#}", st.display(&value)), text);
            }
            ours.push_str(&text);
            ours.push('\n');
        }
        if ours != expected {
            let (a, b) = (
                ours.lines().collect::<Vec<_>>(),
                expected.lines().collect::<Vec<_>>(),
            );
            let first = a
                .iter()
                .zip(&b)
                .position(|(x, y)| x != y)
                .unwrap_or(a.len().min(b.len()));
            panic!(
                "{form} text differs from `capnp convert` at line {}:\n ours: {:?}\ntool: {:?}",
                first + 1,
                a.get(first),
                b.get(first)
            );
        }

        // The tool and we read each text into the same message, which is the original one
        // (up to the precision the reference prints `Float32` with).
        let texts: Vec<&str> = if short {
            expected.lines().collect()
        } else {
            // Pretty messages start with `(` at the start of a line.
            let mut parts = Vec::new();
            let mut start = 0;
            for (i, _) in expected.match_indices("\n(") {
                parts.push(&expected[start..=i]);
                start = i + 1;
            }
            parts.push(&expected[start..]);
            parts
        };
        assert_eq!(texts.len(), messages.len());
        for (i, (text, m)) in texts.iter().zip(messages).enumerate() {
            // One message at a time: the tool splits a text stream at parentheses without
            // looking into string literals.
            let ours = st.from_text(text).unwrap_or_else(|e| {
                panic!("{form}: reading the tool's text of message {i}: {e}\n{text}")
            });
            let ours = st.read_value(&ours).unwrap();
            if tool_reads_as_one(text) {
                let tool_bytes = convert(
                    tool,
                    false,
                    "text:binary",
                    schema_file,
                    type_name,
                    text.as_bytes(),
                )
                .unwrap_or_else(|e| panic!("{form}: the tool reading message {i}: {e}"));
                assert_same(
                    &st.read_value(&tool_bytes).unwrap(),
                    &ours,
                    true,
                    &format!("{form}: message {i} as read by the tool and by us"),
                );
            }
            assert_same(
                &ours,
                &st.read_value(m).unwrap(),
                false,
                &format!("{form}: message {i} read back"),
            );
            assert_same(
                &st.value_from_text(text).unwrap(),
                &ours,
                true,
                "value_from_text",
            );
        }
    }
}

#[test]
fn alltypes_samples_match_the_tool() {
    let tool = common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let st = all_types();
    let messages: Vec<Vec<u8>> = alltypes::samples()
        .iter()
        .map(|v| st.to_vec(v).unwrap())
        .collect();
    check_against_tool(
        &tool,
        &common::schema_path("alltypes"),
        &st,
        "AllTypes",
        &messages,
    );

    // And the typed values survive both directions.
    for sample in alltypes::samples() {
        let text = st.to_text(&st.to_vec(&sample).unwrap()).unwrap();
        let back: alltypes::AllTypes = st.from_slice(&st.from_text(&text).unwrap()).unwrap();
        assert_eq!(back, sample);
        let from_tool = convert(
            &tool,
            false,
            "text:binary",
            &common::schema_path("alltypes"),
            "AllTypes",
            text.as_bytes(),
        )
        .unwrap();
        assert_eq!(
            st.from_slice::<alltypes::AllTypes>(&from_tool).unwrap(),
            sample
        );
    }
}

#[test]
fn addressbook_matches_the_tool() {
    let tool = common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let st = schema("addressbook").struct_type("AddressBook").unwrap();
    let messages = vec![
        st.to_vec(&addressbook::sample()).unwrap(),
        st.to_vec(&addressbook::scripted()).unwrap(),
    ];
    check_against_tool(
        &tool,
        &common::schema_path("addressbook"),
        &st,
        "AddressBook",
        &messages,
    );
    let text = st.to_text(&messages[0]).unwrap();
    assert_eq!(
        text,
        "( people = [\n    ( id = 123,\n      name = \"Alice\",\n      email = \"alice@example.com\",\n      \
         phones = [\n        (number = \"555-1212\", type = mobile) ],\n      employment = (school = \"MIT\") ),\n    \
         ( id = 456,\n      name = \"Bob\",\n      email = \"bob@example.com\",\n      phones = [\n        \
         (number = \"555-4567\", type = home),\n        (number = \"555-7654\", type = work) ],\n      \
         employment = (selfEmployed = void) ) ] )"
    );
}

// -------------------------------------------------------------------------------------------
// Random values, generated from the schema
// -------------------------------------------------------------------------------------------

struct Gen<'p> {
    pool: &'p SchemaPool,
    rng: Pcg64,
}

impl Gen<'_> {
    fn len(&mut self) -> usize {
        match self.rng.gen_range(0..10) {
            0 => 0,
            1 => self.rng.gen_range(6..40),
            _ => self.rng.gen_range(1..6),
        }
    }

    fn text(&mut self) -> String {
        let pieces = [
            "a", "Z", " ", "\\", "\"", "'", "\n", "\t", "\u{1}", "\u{7f}", "é", "✓", "🦀", "#",
            "(", "0",
        ];
        let n = self.len();
        (0..n)
            .map(|_| pieces[self.rng.gen_range(0..pieces.len())])
            .collect()
    }

    fn f32(&mut self) -> f32 {
        loop {
            let v = match self.rng.gen_range(0..4) {
                0 => f32::from_bits(self.rng.gen()),
                1 => self.rng.gen_range(-1000i32..1000) as f32 / 8.0,
                2 => self.rng.gen_range(-1e6f32..1e6),
                _ => [
                    0.0,
                    -0.0,
                    0.1,
                    f32::MAX,
                    f32::MIN_POSITIVE,
                    f32::INFINITY,
                    1e-45,
                ][self.rng.gen_range(0..7)],
            };
            if !v.is_nan() {
                return v;
            }
        }
    }

    fn f64(&mut self) -> f64 {
        loop {
            let v = match self.rng.gen_range(0..4) {
                0 => f64::from_bits(self.rng.gen()),
                1 => self.rng.gen_range(-1000i32..1000) as f64 / 16.0,
                2 => self.rng.gen_range(-1e12..1e12),
                _ => [
                    0.0,
                    -0.0,
                    0.1,
                    f64::MAX,
                    f64::MIN_POSITIVE,
                    f64::NEG_INFINITY,
                    5e-324,
                ][self.rng.gen_range(0..7)],
            };
            if !v.is_nan() {
                return v;
            }
        }
    }

    fn value(&mut self, ty: &Type, depth: u32) -> Value {
        match ty {
            Type::Void => Value::Void,
            Type::Bool => Value::Bool(self.rng.gen()),
            Type::Int8 => Value::Int8(self.rng.gen()),
            Type::Int16 => Value::Int16(self.rng.gen()),
            Type::Int32 => Value::Int32(self.rng.gen()),
            Type::Int64 => Value::Int64(self.rng.gen()),
            Type::UInt8 => Value::UInt8(self.rng.gen()),
            Type::UInt16 => Value::UInt16(self.rng.gen()),
            Type::UInt32 => Value::UInt32(self.rng.gen()),
            Type::UInt64 => Value::UInt64(self.rng.gen()),
            Type::Float32 => Value::Float32(self.f32()),
            Type::Float64 => Value::Float64(self.f64()),
            Type::Text => Value::Text(self.text()),
            Type::Data => {
                let n = self.len();
                Value::Data((0..n).map(|_| self.rng.gen()).collect())
            }
            Type::Enum(n) => {
                let count = self.pool.node(*n).as_enum().unwrap().enumerants.len() as u16;
                let ordinal = self.rng.gen_range(0..count);
                Value::Enum(Enumerant {
                    ordinal,
                    name: Some(
                        self.pool.node(*n).as_enum().unwrap().enumerants[ordinal as usize]
                            .name
                            .clone(),
                    ),
                })
            }
            Type::List(element) => {
                if depth > 3 {
                    return Value::List(Vec::new());
                }
                let n = self.len();
                Value::List((0..n).map(|_| self.value(element, depth + 1)).collect())
            }
            Type::Struct(node, brand) => self.structure(*node, brand.as_deref(), depth + 1),
            _ => Value::Null,
        }
    }

    fn structure(
        &mut self,
        node: serde_capnp::model::NodeIndex,
        brand: Option<&Brand>,
        depth: u32,
    ) -> Value {
        let s = self.pool.node(node).as_struct().unwrap();
        let active =
            (!s.union_members.is_empty()).then(|| self.rng.gen_range(0..s.union_members.len()));
        let mut fields = Vec::new();
        for f in &s.fields {
            if let Some(d) = f.discriminant {
                if Some(d as usize) != active {
                    continue;
                }
            }
            // Pointers are null now and then; everything else is always set.
            let value = match &f.slot {
                FieldSlot::Group { node } => self.structure(*node, brand, depth),
                // (A null union member reads as its default, so it would not read back the same.)
                FieldSlot::Pointer { .. }
                    if f.discriminant.is_none() && (self.rng.gen_range(0..6) == 0 || depth > 4) =>
                {
                    Value::Null
                }
                slot => {
                    let ty = slot.ty().unwrap().resolve(brand);
                    self.value(&ty, depth)
                }
            };
            fields.push((f.name.clone(), value));
        }
        Value::structure(fields)
    }
}

#[test]
fn random_alltypes_values_match_the_tool() {
    let tool = common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let st = all_types();
    let (pool, node) = st.pool();
    let mut gen = Gen {
        pool,
        rng: Pcg64::seed_from_u64(0x7e47),
    };
    let messages: Vec<Vec<u8>> = (0..60)
        .map(|_| st.to_vec(&gen.structure(node, None, 0)).unwrap())
        .collect();
    check_against_tool(
        &tool,
        &common::schema_path("alltypes"),
        &st,
        "AllTypes",
        &messages,
    );
}

#[test]
fn floats_print_like_the_tool() {
    let tool = common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let st = all_types();
    let (pool, _) = st.pool();
    let mut gen = Gen {
        pool,
        rng: Pcg64::seed_from_u64(0xf10a7),
    };
    let mut f32s: Vec<f32> = vec![
        0.1,
        1e30,
        -0.0,
        0.0,
        1e-40,
        1e-45,
        3.4028235e38,
        1e-5,
        123456789.0,
        0.5,
        100000.0,
        1000000.0,
        1e-4,
        999999.5,
        9999995.0,
        0.3,
        2.5,
        16777216.0,
        16777217.0,
        f32::MIN_POSITIVE,
        f32::MIN_POSITIVE * 0.5,
        f32::EPSILON,
        1.0 / 3.0,
        2.0f32.powi(-126) * 1.5,
    ];
    let mut f64s: Vec<f64> = vec![
        0.1,
        1e300,
        1e-320,
        5e-324,
        123456789012345678.0,
        1e15,
        1e16,
        1e17,
        1e-5,
        0.3,
        2.5,
        -0.0,
        1.0 / 3.0,
        f64::EPSILON,
        f64::MAX,
        f64::MIN_POSITIVE,
        9007199254740993.0,
        0.1 + 0.2,
        1e21,
        1e22,
        123456.0,
        1234567.0,
    ];
    for _ in 0..3000 {
        f32s.push(gen.f32());
        f64s.push(gen.f64());
    }
    // Every f32 bit pattern class: a sweep over exponents with random mantissas.
    for e in 0..255u32 {
        f32s.push(f32::from_bits(
            (e << 23) | (gen.rng.gen::<u32>() & 0x7f_ffff),
        ));
    }
    let messages: Vec<Vec<u8>> = f32s
        .chunks(50)
        .zip(f64s.chunks(50))
        .map(|(a, b)| {
            let value = Value::structure([
                ("float32Field", Value::Float32(a[0])),
                ("float64Field", Value::Float64(b[0])),
                (
                    "float32List",
                    Value::List(a.iter().map(|&v| Value::Float32(v)).collect()),
                ),
                (
                    "float64List",
                    Value::List(b.iter().map(|&v| Value::Float64(v)).collect()),
                ),
            ]);
            st.to_vec(&value).unwrap()
        })
        .collect();
    check_against_tool(
        &tool,
        &common::schema_path("alltypes"),
        &st,
        "AllTypes",
        &messages,
    );

    // NaN prints as `nan`, whatever its sign and payload, and reads back as a NaN.
    let nans = Value::structure([
        (
            "float32List",
            Value::List(
                [f32::NAN, -f32::NAN, f32::from_bits(0x7f80_0001)]
                    .map(Value::Float32)
                    .to_vec(),
            ),
        ),
        (
            "float64List",
            Value::List([f64::NAN, -f64::NAN].map(Value::Float64).to_vec()),
        ),
    ]);
    let bytes = st.to_vec(&nans).unwrap();
    let expected = utf8(
        convert(
            &tool,
            true,
            "binary:text",
            &common::schema_path("alltypes"),
            "AllTypes",
            &bytes,
        )
        .unwrap(),
    );
    let ours = st.to_text_short(&bytes).unwrap();
    assert_eq!(ours + "\n", expected);
    assert!(expected.contains("float32List = [nan, nan, nan], float64List = [nan, nan]"));
    let back = st.read_value(&st.from_text(&expected).unwrap()).unwrap();
    assert!(matches!(back["float64List"][1], Value::Float64(v) if v.is_nan()));
}

// -------------------------------------------------------------------------------------------
// Corner cases: defaults, unions, unknown values, opaque pointers
// -------------------------------------------------------------------------------------------

/// The data section of a single-segment message's root struct, as a byte offset.
fn root_data(bytes: &[u8]) -> usize {
    let w = u64::from_le_bytes(bytes[8..16].try_into().unwrap());
    16 + (((w as u32) as i32 >> 2) as usize) * 8
}

#[test]
fn defaults_and_specials_match_the_tool() {
    let tool = common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let s = schema("alltypes");
    let file = common::schema_path("alltypes");
    for name in ["Defaults", "FloatSpecials"] {
        let st = s.struct_type(name).unwrap();
        // An empty message (all defaults), one with everything set to zero, and one of random values.
        let (pool, node) = st.pool();
        let mut gen = Gen {
            pool,
            rng: Pcg64::seed_from_u64(7),
        };
        let mut messages = vec![
            st.to_vec(&Value::structure::<&str>([])).unwrap(),
            st.from_text("()").unwrap(),
        ];
        if name == "Defaults" {
            messages.push(
                st.from_text(
                    "(boolDefault = false, int8Default = 0, textDefault = \"\", dataDefault = \"\", enumDefault = red, \
                     structDefault = (), boolListDefault = [], settings = (retries = 0, verbose = false, tag = \"\"), \
                     choice = (title = \"\"))",
                )
                .unwrap(),
            );
        }
        for _ in 0..10 {
            messages.push(st.to_vec(&gen.structure(node, None, 0)).unwrap());
        }
        check_against_tool(&tool, &file, &st, name, &messages);
    }
}

#[test]
fn unions_unknown_values_and_opaque_pointers_match_the_tool() {
    let tool = common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let dir = common::scratch_dir("text-format");
    let file = dir.join("edge.capnp");
    std::fs::write(
        &file,
        "@0xd3a3e4d2b5c6f701;\n\
         enum Kind { a @0; b @1; }\n\
         interface Cap {}\n\
         struct Inner { v @0 :UInt8; w @1 :Text; }\n\
         struct Edge {\n\
           any @0 :AnyPointer;\n\
           text @1 :Text;\n\
           kind @2 :Kind;\n\
           cap @3 :Cap;\n\
           union {\n\
             first @4 :Text;\n\
             second @5 :UInt8;\n\
             third @6 :Inner;\n\
             fourth @11 :Text = \"dflt\";\n\
             fifth @12 :Inner = (v = 9, w = \"nine\");\n\
             sixth @13 :List(Int16) = [1, -1];\n\
           }\n\
           tail @7 :Int16 = -5;\n\
           kinds @8 :List(Kind);\n\
           named :union { x @9 :List(Text); y @10 :Void; }\n\
         }\n",
    )
    .unwrap();
    let compiled = common::capnp_compile(&file, &[]);
    let st = Schema::from_code_generator_request(&compiled)
        .unwrap()
        .struct_type("Edge")
        .unwrap();
    let (pool, node) = st.pool();
    let edge = pool.node(node).as_struct().unwrap();
    let union_at = |m: &[u8]| root_data(m) + edge.discriminant_offset as usize * 2;
    let with_discriminant = |mut m: Vec<u8>, d: u16| {
        let at = union_at(&m);
        m[at..at + 2].copy_from_slice(&d.to_le_bytes());
        m
    };
    let empty = st.to_vec(&Value::structure::<&str>([])).unwrap();
    // The first union member holding a null pointer is not printed; the others are, a null
    // pointer printing as the member's default.
    let mut messages: Vec<Vec<u8>> = [
        ("text", Value::from("t")),
        ("second", Value::UInt8(0)),
        ("first", Value::from("")),
        ("third", Value::structure([("v", Value::UInt8(3))])),
    ]
    .into_iter()
    .map(|field| st.to_vec(&Value::structure([field])).unwrap())
    .collect();
    for d in 2..6 {
        messages.push(with_discriminant(empty.clone(), d));
    }
    messages.push(
        st.from_text("(named = (x = [\"\", \"a\"]), tail = 7, fourth = \"\")")
            .unwrap(),
    );

    // Unknown enumerants print as `(N)`: one in a field, one in a list.
    let m = st
        .to_vec(&Value::structure([
            ("kind", Value::enumerant("b")),
            ("kinds", Value::List(vec![Value::enumerant("b"); 3])),
        ]))
        .unwrap();
    let mut m = m;
    let kind = edge.fields[edge.field_index("kind").unwrap() as usize]
        .slot
        .clone();
    let FieldSlot::Data { offset, .. } = kind else {
        panic!()
    };
    let at = root_data(&m) + offset as usize * 2;
    m[at..at + 2].copy_from_slice(&9u16.to_le_bytes());
    let list = m
        .windows(8)
        .rposition(|w| w == [1, 0, 1, 0, 1, 0, 0, 0])
        .unwrap();
    m[list + 2..list + 4].copy_from_slice(&300u16.to_le_bytes());
    messages.push(m);

    // An unknown union discriminant: the union prints nothing.
    messages.push(with_discriminant(
        st.to_vec(&Value::structure([
            ("second", Value::UInt8(9)),
            ("text", Value::from("x")),
        ]))
        .unwrap(),
        77,
    ));

    // A non-null AnyPointer (aimed at the text).
    let m = st
        .to_vec(&Value::structure([
            ("text", Value::from("shared")),
            ("kind", Value::enumerant("b")),
        ]))
        .unwrap();
    let w = u64::from_le_bytes(m[8..16].try_into().unwrap());
    let pointers = root_data(&m) + ((w >> 32) & 0xffff) as usize * 8;
    let mut with_any = m.clone();
    let text_ptr = u64::from_le_bytes(m[pointers + 8..pointers + 16].try_into().unwrap());
    let offset = ((text_ptr as u32) as i32 >> 2) + 1;
    let any_ptr = (text_ptr & !0xffff_ffff) | (((offset << 2) as u32 | 1) as u64);
    with_any[pointers..pointers + 8].copy_from_slice(&any_ptr.to_le_bytes());
    messages.push(with_any.clone());

    for (i, m) in messages.iter().enumerate() {
        let expected = utf8(convert(&tool, false, "binary:text", &file, "Edge", m).unwrap());
        assert_eq!(
            st.to_text(m).unwrap() + "\n",
            expected,
            "pretty text of message {i}"
        );
        let expected = utf8(convert(&tool, true, "binary:text", &file, "Edge", m).unwrap());
        assert_eq!(
            st.to_text_short(m).unwrap() + "\n",
            expected,
            "short text of message {i}"
        );
    }
    let short: Vec<String> = messages
        .iter()
        .map(|m| st.to_text_short(m).unwrap())
        .collect();
    assert_eq!(short[0], "(text = \"t\", kind = a, tail = -5, named = ())");
    assert!(short[5].contains("fourth = \"dflt\""), "{}", short[5]);
    assert!(
        short[6].contains("fifth = (v = 9, w = \"nine\")"),
        "{}",
        short[6]
    );
    assert!(short[7].contains("sixth = [1, -1]"), "{}", short[7]);
    assert!(
        short[9].contains("kind = (9)") && short[9].contains("kinds = [b, (300), b]"),
        "{}",
        short[9]
    );
    assert!(!short[10].contains("second"), "{}", short[10]);
    assert!(
        short[11].contains("any = <opaque pointer>"),
        "{}",
        short[11]
    );

    // A capability prints as `<external capability>`, the reference printer's rule (the tool
    // itself gives up on a message with capabilities: it has no capability table to read them).
    let mut with_cap = with_any;
    let FieldSlot::Pointer { index, .. } =
        edge.fields[edge.field_index("cap").unwrap() as usize].slot
    else {
        panic!()
    };
    let at = pointers + index as usize * 8;
    with_cap[at..at + 8].copy_from_slice(&3u64.to_le_bytes());
    let ours = st.to_text_short(&with_cap).unwrap();
    assert!(ours.contains("cap = <external capability>"), "{ours}");
    if let Ok(text) = convert(&tool, true, "binary:text", &file, "Edge", &with_cap) {
        assert_eq!(ours + "\n", utf8(text));
    }
}

// -------------------------------------------------------------------------------------------
// Reading: what the tool accepts, we accept (into the same message), and what it rejects, we do
// -------------------------------------------------------------------------------------------

#[test]
fn reading_agrees_with_the_tool() {
    let tool = common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let st = all_types();
    let file = common::schema_path("alltypes");
    let accepted = [
        "()",
        "  # a comment\n( int8Field = -128 , int16Field=0x7fff, int32Field = 0777, uint64Field = 18446744073709551615,\n\
         # between fields\n  uint32Field = 0, ) # after\n",
        "(float32Field = 1e10, float64Field = -2.5E-3, float32List = [inf, -inf, 1, -1, 0x10, 1.5e+2, 5.], float64List = [nan])",
        "(float64Field = -0.0, float32Field = -0)",
        "(textField = \"a\" \"b\"  \"c\\n\\t\\\\\\\"\\'\\x41\\101\\7\\?\", dataField = 0x\"00 ff\n 7F\")",
        "(dataField = \"\\xff\\0\\377\", textList = [\"\", \"u\"]) ",
        "(enumField = darkGoldenrod, enumList = [red, blue], boolField = true, voidField = void, voidList = [void])",
        "(number = 5, word = \"replaced\")",
        "(word = \"x\", number = 5)",
        "(pair = (left = 1), pair = (right = 2))",
        "(number = 5, unset = void)",
        "(shape = (radius = 1, none = void), nested = (id = 1), nested = ())",
        "(structField = (id = 1), structField = (label = \"only\"))",
        "(point = (x = 1, y = 2), point = (y = 3))",
        "(shape = (radius = 2), shape = (name = \"n\"))",
        "(structField = (), nestedField = (deeper = (note = \"n\")), structList = [(id = 1), (), (label = \"x\", color = blue)])",
        "(int32ListList = [[], [1], [-1, 2,]], structListList = [[], [(id = 1)]])",
        "(textInnerPair = (key = \"k\", value = (id = 2)), listDataPair = (key = [1, 2], value = 0x\"0102\"))",
        "(nestedPair = (key = \"k\", value = (key = \"d\", value = (label = \"l\"))))",
        "(innerByName = (entries = [(key = \"a\", value = (id = 1))]), namesById = [(key = 4, value = \"four\")])",
        "(nested = ((id = 1)))",
        "(int64Field = -9223372036854775808, uint8Field = 255, int8Field = 127)",
        "(float32Field = 340282356779733661637539395458142568448)",
        "(float64Field = 1e999, float32Field = 1e-50)",
        "(uint64Field = 18446744073709551616)",
        "(\u{feff}boolField = true)",
    ];
    for text in accepted {
        let tool_bytes = convert(
            &tool,
            false,
            "text:binary",
            &file,
            "AllTypes",
            text.as_bytes(),
        )
        .unwrap_or_else(|e| panic!("the tool rejects {text:?}: {e}"));
        let ours = st
            .from_text(text)
            .unwrap_or_else(|e| panic!("we reject {text:?}: {e}"));
        assert_eq!(
            st.to_text(&ours).unwrap(),
            st.to_text(&tool_bytes).unwrap(),
            "reading {text:?}"
        );
        assert_same(
            &st.read_value(&ours).unwrap(),
            &st.read_value(&tool_bytes).unwrap(),
            true,
            &format!("reading {text:?}"),
        );
    }

    let rejected = [
        "",
        "# only a comment",
        "5",
        "(5)",
        "[]",
        "(int8Field = 128)",
        "(int8Field = -129)",
        "(uint8Field = -1)",
        "(uint64Field = -9223372036854775809)",
        "(int32Field = 1.5)",
        "(int32Field = true)",
        "(boolField = 1)",
        "(textField = 0x\"00\")",
        "(textField = 5)",
        "(dataField = [1, 2])",
        "(enumField = purple)",
        "(enumField = 1)",
        "(enumField = void)",
        "(voidField = 0)",
        "(noSuchField = 1)",
        "(1, 2)",
        "(int8Field = 1,, int16Field = 2)",
        "(, int8Field = 1)",
        "(int8Field = )",
        "(int8Field 1)",
        "(int8Field=-1)",
        "(int8Field = 1",
        "(int8Field = 1))",
        "(int8Field = 1]",
        "(textField = \"unterminated)",
        "(textField = \"bad escape \\q\")",
        "(textField = \"bad hex \\x4\")",
        "(textField = \"new\nline\")",
        "(dataField = 0x\"0\")",
        "(dataField = 0x\"\")",
        "(float64Field = 1e)",
        "(float64Field = 1.2.3)",
        "(int32Field = 12abc)",
        "(int32Field = 0x1g)",
        "(int32Field = 09)",
        "(float64Field = -nan)",
        "(float64Field = --1)",
        "(point = 5)",
        "(point = (z = 1))",
        "(structField = 5)",
        "(structField = (5))",
        "(anyField = (id = 1))",
        "(anyField = \"x\")",
        "(int32Field = someConstant)",
        "(int32Field = .answer)",
        "(int32Field = Foo.bar)",
        "(int32Field = f(1))",
        "(textField = import \"x\")",
        "(dataField = embed \"x\")",
        "(int32List = [1, \"a\"])",
        "{int8Field = 1}",
        "(int8Field = 1;)",
        "(int8Field = 'a')",
    ];
    for text in rejected {
        let tool_result = convert(
            &tool,
            false,
            "text:binary",
            &file,
            "AllTypes",
            text.as_bytes(),
        );
        assert!(tool_result.is_err(), "the tool accepts {text:?}");
        let ours = st.from_text(text);
        assert!(ours.is_err(), "we accept {text:?}");
    }

    // What we reject that the tool accepts: Text that is not UTF-8.
    assert!(convert(
        &tool,
        false,
        "text:binary",
        &file,
        "AllTypes",
        b"(textField = \"\\xff\")"
    )
    .is_ok());
    let err = st.from_text("(textField = \"\\xff\")").unwrap_err();
    assert!(err.to_string().contains("UTF-8"), "{err}");
}

#[test]
fn streams_of_messages() {
    let st = all_types();
    let messages: Vec<Vec<u8>> = alltypes::samples()
        .iter()
        .map(|v| st.to_vec(v).unwrap())
        .collect();
    let mut stream = String::new();
    for (i, m) in messages.iter().enumerate() {
        stream.push_str(
            &if i % 2 == 0 {
                st.to_text(m)
            } else {
                st.to_text_short(m)
            }
            .unwrap(),
        );
        stream.push_str(if i % 3 == 0 {
            "\n# a comment (\n"
        } else {
            "\n"
        });
    }
    // Parentheses and `#` inside strings do not cut a message short.
    stream.push_str("(textField = \") # (\")(textList = [\"((\"])");
    let read = st.messages_from_text(&stream).unwrap();
    assert_eq!(read.len(), messages.len() + 2);
    for (r, m) in read.iter().zip(&messages) {
        assert_same(
            &st.read_value(r).unwrap(),
            &st.read_value(m).unwrap(),
            false,
            "stream",
        );
    }
    let odd = st.to_text_short(&read[messages.len()]).unwrap();
    assert!(odd.contains("textField = \") # (\""), "{odd}");
    assert!(st.messages_from_text("").unwrap().is_empty());
    assert!(st
        .messages_from_text("(int8Field = 1) 5 (int8Field = 2)")
        .is_err());
    assert!(st
        .messages_from_text("(int8Field = 1) (int8Field = x)")
        .is_err());

    if let Some(tool) = common::capnp_tool() {
        let cut = stream.rfind("(textField").unwrap();
        let from_tool = convert(
            &tool,
            false,
            "text:binary",
            &common::schema_path("alltypes"),
            "AllTypes",
            &stream.as_bytes()[..cut],
        )
        .unwrap();
        // The tool re-encodes in its own layout: compare message by message through the reader.
        let mut rest = &from_tool[..];
        for r in &read[..messages.len()] {
            let value: alltypes::AllTypes = st.from_reader(&mut rest).unwrap();
            assert_eq!(value, st.from_slice::<alltypes::AllTypes>(r).unwrap());
        }
        assert!(rest.is_empty());
    }
}

#[test]
fn errors_say_where() {
    let st = all_types();
    let err = st
        .from_text("(int8Field = 1,\n  int16Field = \"x\")")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "text line 2, column 16: type mismatch: expected Int16 at `int16Field`"
    );
    let err = st
        .from_text("(structList = [(id = 1), (idd = 2)])")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "text line 1, column 27: struct `Inner` has no field named `idd` at `structList[1]`"
    );
    let err = st.from_text("(int8Field = 1").unwrap_err();
    assert_eq!(
        err.to_string(),
        "text line 1, column 1: `(` is never closed"
    );
    assert_eq!(err.category(), serde_capnp::Category::Data);
}

#[test]
fn text_is_not_utf8_prints_escaped() {
    // Text holding bytes that are not UTF-8 (a broken message): the tool prints them raw; we
    // print octal escapes, which read back to the same bytes.
    let st = all_types();
    let mut m = st
        .to_vec(&Value::structure([("textField", Value::from("a\u{e9}b"))]))
        .unwrap();
    let at = m
        .windows(4)
        .position(|w| w == "a\u{e9}b".as_bytes())
        .unwrap();
    m[at + 1] = 0xff;
    assert!(st
        .to_text_short(&m)
        .unwrap()
        .contains("textField = \"a\\377\\251b\""));
}

// -------------------------------------------------------------------------------------------
// Hostile input: errors, never panics
// -------------------------------------------------------------------------------------------

#[test]
fn mutated_text_never_panics() {
    let st = all_types();
    let mut rng = Pcg64::seed_from_u64(0x5eed);
    let seeds: Vec<String> = alltypes::samples()
        .iter()
        .flat_map(|v| {
            let m = st.to_vec(v).unwrap();
            [st.to_text(&m).unwrap(), st.to_text_short(&m).unwrap()]
        })
        .collect();
    let pieces = [
        "(",
        ")",
        "[",
        "]",
        ",",
        "=",
        "-",
        ".",
        "\"",
        "\\",
        "#",
        "0x\"",
        "0x",
        "e",
        "1",
        "0",
        "9",
        "inf",
        "nan",
        "void",
        "\n",
        " ",
        "'",
        "{",
        ";",
        "\u{0}",
        "\u{feff}",
        "é",
        "x",
        "-inf",
        "1e400",
        "99999999999999999999999",
    ];
    let mut accepted = 0;
    for round in 0..6000 {
        let seed = &seeds[round % seeds.len()];
        let mut text: Vec<char> = seed.chars().collect();
        for _ in 0..rng.gen_range(1..6) {
            let at = rng.gen_range(0..=text.len());
            match rng.gen_range(0..3) {
                0 if at < text.len() => {
                    let end = (at + rng.gen_range(1..8)).min(text.len());
                    text.drain(at..end);
                }
                1 if at < text.len() => {
                    let piece = pieces[rng.gen_range(0..pieces.len())];
                    text.splice(at..at + 1, piece.chars());
                }
                _ => {
                    let piece = pieces[rng.gen_range(0..pieces.len())];
                    text.splice(at..at, piece.chars());
                }
            }
        }
        let text: String = text.into_iter().collect();
        if let Ok(bytes) = st.from_text(&text) {
            accepted += 1;
            // Whatever we accept prints and reads back to the same message.
            let again = st.to_text(&bytes).unwrap();
            assert_eq!(
                st.read_value(&st.from_text(&again).unwrap()).unwrap(),
                st.read_value(&bytes).unwrap()
            );
        }
    }
    assert!(accepted > 100, "some mutations stay valid ({accepted})");

    // Deep nesting is an error, not a stack overflow.
    let deep = format!(
        "(structList = {}{})",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(st.from_text(&deep).is_err());
    let deep = format!(
        "(nested = {}(id = 1){})",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    assert!(st.from_text(&deep).is_err());
}

#[test]
fn mutated_messages_never_panic() {
    let st = all_types();
    let mut rng = Pcg64::seed_from_u64(0xb17e);
    let seeds: Vec<Vec<u8>> = alltypes::samples()
        .iter()
        .map(|v| st.to_vec(v).unwrap())
        .collect();
    for round in 0..4000 {
        let mut m = seeds[round % seeds.len()].clone();
        for _ in 0..rng.gen_range(1..4) {
            let at = rng.gen_range(0..m.len());
            m[at] = if rng.gen_bool(0.5) {
                rng.gen()
            } else {
                m[at] ^ (1 << rng.gen_range(0..8))
            };
        }
        if rng.gen_range(0..10) == 0 {
            let len = rng.gen_range(0..m.len());
            m.truncate(len);
        }
        let _ = st.to_text(&m);
        let _ = st.to_text_short(&m);
    }
}
