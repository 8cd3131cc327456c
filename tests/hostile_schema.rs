//! Hostile schemas: `CodeGeneratorRequest`s mutated at random, at the byte level and through
//! the schema's own structure (types, offsets, discriminants, sections, scopes, groups,
//! defaults). Loading one and making a handle for each struct must never panic, and every pool
//! the loader accepts must serve every reader and writer: an all-default message of each struct
//! is written, then read back every way there is, and written again from its `Value`, without
//! a panic (errors are fine).

#[allow(unused_macros, unused_imports)]
mod common;

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use capnp::message::{Builder, HeapAllocator, ReaderOptions as CapnpOptions};
use capnp::schema_capnp::{code_generator_request, field, node, type_};
use serde::Serialize;
use serde_capnp::{JsonStyle, ReadOptions, Schema};

/// A struct with no fields: written through any struct handle, it makes the all-default
/// message of that struct.
#[derive(Serialize)]
struct Empty {}

/// Limits small enough that a schema whose defaults recurse cannot make a read slow.
fn small_limits() -> ReadOptions {
    ReadOptions {
        traversal_limit_in_words: 1 << 14,
        nesting_limit: 24,
        ..ReadOptions::default()
    }
}

/// Writes the all-default message of every struct of `schema` and reads it every way, returning
/// how many of those steps succeeded. Panics propagate.
fn exercise(schema: &Schema) -> usize {
    let mut ok = 0;
    let ids: Vec<u64> = schema
        .pool()
        .nodes()
        .iter()
        .filter(|n| n.as_struct().is_some())
        .map(|n| n.id)
        .collect();
    for id in ids {
        let st = schema
            .struct_by_id(id)
            .expect("every struct node makes a handle")
            .with_read_options(small_limits());
        let bytes = st.to_vec(&Empty {}).expect("an empty struct always writes");
        ok += st.from_slice::<serde_json::Value>(&bytes).is_ok() as usize;
        ok += st.from_slice::<serde::de::IgnoredAny>(&bytes).is_ok() as usize;
        if let Ok(value) = st.read_value(&bytes) {
            ok += 1;
            ok += st.to_vec(&value).is_ok() as usize;
            ok += st.value_to_json(&value, JsonStyle::Short).is_ok() as usize;
            ok += st.value_to_text(&value, true).is_ok() as usize;
        }
        ok += st.to_json(&bytes).is_ok() as usize;
        ok += st.to_text(&bytes).is_ok() as usize;
        if let Ok(message) = st.reader(&bytes) {
            if let Ok(root) = message.root() {
                ok += format!("{root:?}").len().min(1);
                ok += root.to_value().is_ok() as usize;
            }
        }
        ok += st.from_json("{}").is_ok() as usize;
        ok += st.from_text("()").is_ok() as usize;
    }
    ok
}

/// Loads `bytes` and exercises what loads; `None` when the loader refused it.
fn load_and_exercise(bytes: &[u8]) -> Option<usize> {
    let schema = Schema::from_code_generator_request(bytes).ok()?;
    Some(exercise(&schema))
}

// -------------------------------------------------------------------------------------------
// Mutations
// -------------------------------------------------------------------------------------------

/// A small deterministic PRNG (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// A small number, or now and then a large one.
    fn small(&mut self) -> u64 {
        match self.below(8) {
            0 => self.next(),
            1 => u16::MAX as u64 - self.below(3),
            _ => self.below(6),
        }
    }
}

/// One change to a request, replayable from its description. Node and field positions are
/// taken modulo the lengths of their lists.
#[derive(Debug, Clone)]
enum Mutation {
    /// Flips a bit of the encoded request.
    Bit {
        at: u64,
        bit: u8,
    },
    /// Overwrites a word of the encoded request.
    Word {
        at: u64,
        value: u64,
    },
    /// Gives a field a new type: `kind` picks it, `target` the node it names.
    Retype {
        node: u64,
        field: u64,
        kind: u8,
        target: u64,
    },
    SlotOffset {
        node: u64,
        field: u64,
        offset: u32,
    },
    Discriminant {
        node: u64,
        field: u64,
        value: u16,
    },
    Sections {
        node: u64,
        data: u16,
        pointers: u16,
    },
    Union {
        node: u64,
        count: u16,
        offset: u32,
    },
    Group {
        node: u64,
        field: u64,
        target: u64,
    },
    Scope {
        node: u64,
        target: u64,
    },
    IsGroup {
        node: u64,
        value: bool,
    },
    Default {
        node: u64,
        field: u64,
        kind: u8,
    },
    Id {
        node: u64,
        target: u64,
    },
}

impl Mutation {
    fn random(rng: &mut Rng) -> Mutation {
        let (node, field, target) = (rng.next(), rng.next(), rng.next());
        match rng.below(14) {
            0 | 1 => Mutation::Bit {
                at: rng.next(),
                bit: rng.below(8) as u8,
            },
            2 => Mutation::Word {
                at: rng.next(),
                value: match rng.below(3) {
                    // A list pointer claiming many elements.
                    0 => 1 | (rng.below(8) << 32) | (rng.next() << 35),
                    1 => rng.small(),
                    _ => rng.next(),
                },
            },
            3 | 4 => Mutation::Retype {
                node,
                field,
                kind: rng.below(10) as u8,
                target,
            },
            5 => Mutation::SlotOffset {
                node,
                field,
                offset: rng.small() as u32,
            },
            6 => Mutation::Discriminant {
                node,
                field,
                value: rng.small() as u16,
            },
            7 => Mutation::Sections {
                node,
                data: rng.small() as u16,
                pointers: rng.small() as u16,
            },
            8 => Mutation::Union {
                node,
                count: rng.small() as u16,
                offset: rng.small() as u32,
            },
            9 => Mutation::Group {
                node,
                field,
                target,
            },
            10 => Mutation::Scope { node, target },
            11 => Mutation::IsGroup {
                node,
                value: rng.below(2) == 1,
            },
            12 => Mutation::Default {
                node,
                field,
                kind: rng.below(6) as u8,
            },
            _ => Mutation::Id { node, target },
        }
    }
}

/// A request being mutated through the schema's structure.
struct Request(Builder<HeapAllocator>);

impl Request {
    fn new(bytes: &[u8]) -> Request {
        let message = capnp::serialize::read_message(&mut &bytes[..], CapnpOptions::new()).unwrap();
        let mut builder = Builder::new_default();
        builder
            .set_root(
                message
                    .get_root::<code_generator_request::Reader>()
                    .unwrap(),
            )
            .unwrap();
        Request(builder)
    }

    fn nodes(&mut self) -> capnp::struct_list::Builder<'_, node::Owned> {
        self.0
            .get_root::<code_generator_request::Builder>()
            .unwrap()
            .get_nodes()
            .unwrap()
    }

    fn node_count(&mut self) -> u32 {
        self.nodes().len()
    }

    fn id_at(&mut self, i: u64) -> u64 {
        let count = self.node_count() as u64;
        self.nodes().get((i % count) as u32).get_id()
    }

    fn node(&mut self, i: u64) -> node::Builder<'_> {
        let count = self.node_count() as u64;
        self.nodes().get((i % count) as u32)
    }

    fn structure(&mut self, i: u64) -> Option<node::struct_::Builder<'_>> {
        match self.node(i).which() {
            Ok(node::Struct(s)) => Some(s),
            _ => None,
        }
    }

    fn field(&mut self, i: u64, f: u64) -> Option<field::Builder<'_>> {
        let fields = self.structure(i)?.get_fields().ok()?;
        if fields.is_empty() {
            return None;
        }
        let len = fields.len() as u64;
        Some(fields.get((f % len) as u32))
    }

    fn slot(&mut self, i: u64, f: u64) -> Option<field::slot::Builder<'_>> {
        match self.field(i, f)?.which() {
            Ok(field::Slot(s)) => Some(s),
            _ => None,
        }
    }

    fn apply(&mut self, m: &Mutation) {
        match *m {
            Mutation::Bit { .. } | Mutation::Word { .. } => {}
            Mutation::Retype {
                node,
                field,
                kind,
                target,
            } => {
                let id = self.id_at(target);
                if let Some(slot) = self.slot(node, field) {
                    let mut t: type_::Builder = slot.init_type();
                    match kind {
                        0 => t.init_enum().set_type_id(id),
                        1 => t.init_struct().set_type_id(id),
                        2 => t.init_interface().set_type_id(id),
                        3 => t
                            .init_list()
                            .init_element_type()
                            .init_struct()
                            .set_type_id(id),
                        4 => t
                            .init_list()
                            .init_element_type()
                            .init_enum()
                            .set_type_id(id),
                        5 => t.set_uint16(()),
                        6 => t.set_text(()),
                        7 => t.set_bool(()),
                        8 => t.set_float64(()),
                        _ => t.init_list().init_element_type().set_void(()),
                    }
                }
            }
            Mutation::SlotOffset {
                node,
                field,
                offset,
            } => {
                if let Some(mut slot) = self.slot(node, field) {
                    slot.set_offset(offset);
                }
            }
            Mutation::Discriminant { node, field, value } => {
                if let Some(mut f) = self.field(node, field) {
                    f.set_discriminant_value(value);
                }
            }
            Mutation::Sections {
                node,
                data,
                pointers,
            } => {
                if let Some(mut s) = self.structure(node) {
                    s.set_data_word_count(data);
                    s.set_pointer_count(pointers);
                }
            }
            Mutation::Union {
                node,
                count,
                offset,
            } => {
                if let Some(mut s) = self.structure(node) {
                    s.set_discriminant_count(count);
                    s.set_discriminant_offset(offset);
                }
            }
            Mutation::Group {
                node,
                field,
                target,
            } => {
                let id = self.id_at(target);
                if let Some(f) = self.field(node, field) {
                    f.init_group().set_type_id(id);
                }
            }
            Mutation::Scope { node, target } => {
                let id = self.id_at(target);
                self.node(node).set_scope_id(id);
            }
            Mutation::IsGroup { node, value } => {
                if let Some(mut s) = self.structure(node) {
                    s.set_is_group(value);
                }
            }
            Mutation::Default { node, field, kind } => {
                if let Some(slot) = self.slot(node, field) {
                    let mut v = slot.init_default_value();
                    match kind {
                        0 => v.set_text("hostile"),
                        1 => v.set_uint32(7),
                        2 => v.set_enum(40_000),
                        3 => {
                            let mut list: capnp::primitive_list::Builder<u64> =
                                v.init_struct().initn_as(2);
                            list.set(0, 0x0001_0000_0000_0000);
                        }
                        4 => {
                            let list: capnp::text_list::Builder = v.init_list().initn_as(3);
                            let _ = list;
                        }
                        _ => v.set_bool(true),
                    }
                }
            }
            Mutation::Id { node, target } => {
                let id = self.id_at(target);
                self.node(node).set_id(id);
            }
        }
    }

    fn bytes(&self) -> Vec<u8> {
        capnp::serialize::write_message_to_words(&self.0)
    }
}

/// One mutated request: the schema it starts from and the mutations, in order.
struct Case {
    schema: &'static str,
    mutations: Vec<Mutation>,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {:?}", self.schema, self.mutations)
    }
}

impl Case {
    fn random(rng: &mut Rng, schemas: &[&'static str]) -> Case {
        let count = 1 + rng.below(3) as usize;
        Case {
            schema: schemas[rng.below(schemas.len() as u64) as usize],
            mutations: (0..count).map(|_| Mutation::random(rng)).collect(),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut request = Request::new(&common::compiled_schema(self.schema));
        for m in &self.mutations {
            request.apply(m);
        }
        let mut bytes = request.bytes();
        let words = bytes.len() as u64 / 8;
        for m in &self.mutations {
            match *m {
                // The segment table is left alone: most changes to it only truncate.
                Mutation::Bit { at, bit } => {
                    let at = 8 + (at % (bytes.len() as u64 - 8)) as usize;
                    bytes[at] ^= 1 << bit;
                }
                Mutation::Word { at, value } => {
                    let at = (1 + at % (words - 1)) as usize * 8;
                    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
                }
                _ => {}
            }
        }
        bytes
    }
}

/// Runs `f` on each case, catching panics, and fails with the cases that panicked.
fn no_panics(cases: &[Case], mut f: impl FnMut(&[u8]) -> Option<usize>) -> (usize, usize) {
    let mut panicked = Vec::new();
    let mut accepted = 0;
    let mut succeeded = 0;
    for case in cases {
        let bytes = case.bytes();
        match catch_unwind(AssertUnwindSafe(|| f(&bytes))) {
            Ok(Some(ok)) => {
                accepted += 1;
                succeeded += ok;
            }
            Ok(None) => {}
            Err(_) => panicked.push(format!("{case:?}")),
        }
    }
    assert!(
        panicked.is_empty(),
        "{} of {} cases panicked; the first ones:\n{}",
        panicked.len(),
        cases.len(),
        panicked[..panicked.len().min(10)].join("\n")
    );
    (accepted, succeeded)
}

const SCHEMAS: [&str; 6] = [
    "addressbook",
    "alltypes",
    "bench",
    "evolution_v1",
    "evolution_v2",
    "json_annotated",
];

/// The unmutated schemas pass the same test, and everything in it succeeds that should.
#[test]
fn every_struct_of_the_repository_schemas_reads_and_writes_its_defaults() {
    for name in SCHEMAS {
        let schema = Schema::from_code_generator_request(&common::compiled_schema(name)).unwrap();
        assert!(exercise(&schema) > 0, "{name}");
        // The all-default message of a struct reads back as a value and writes again.
        for n in schema
            .pool()
            .nodes()
            .iter()
            .filter(|n| n.as_struct().is_some())
        {
            let st = schema.struct_by_id(n.id).unwrap();
            let bytes = st.to_vec(&Empty {}).unwrap();
            let value = st
                .read_value(&bytes)
                .unwrap_or_else(|e| panic!("{}: {e}", n.display_name));
            st.to_vec(&value)
                .unwrap_or_else(|e| panic!("{}: {e}", n.display_name));
        }
    }
}

#[test]
fn randomly_mutated_requests_never_panic() {
    let start = Instant::now();
    let mut rng = Rng(0x5eed_ca9e_0000_0001);
    let cases: Vec<Case> = (0..4000)
        .map(|_| Case::random(&mut rng, &SCHEMAS))
        .collect();
    let (accepted, succeeded) = no_panics(&cases, load_and_exercise);
    eprintln!(
        "{} mutated requests: {accepted} accepted, {succeeded} reads and writes succeeded, in {:?}",
        cases.len(),
        start.elapsed()
    );
    // The mutations must leave enough requests loadable for the readers to be exercised.
    assert!(accepted > cases.len() / 10, "only {accepted} accepted");
}

/// The requests `capnp compile` writes load too, and serve every reader.
#[test]
fn requests_of_the_reference_compiler_load() {
    common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let root = common::manifest_dir();
    let valid = root.join("tests/compiler/valid");
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    // The files under `shared/` are compiled as the imports of the others.
    for dir in [root.join("schemas"), valid.clone()] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|x| x == "capnp") {
                files.push(path);
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir("/usr/include/capnp") {
        files.extend(
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "capnp")),
        );
    }
    files.sort();
    for file in files {
        let bytes = common::capnp_compile(&file, &[&valid]);
        let schema = Schema::from_code_generator_request(&bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        exercise(&schema);
    }
}

/// A schema whose struct `Deep` nests groups `depth` deep around a pointer to itself whose
/// default sets a field through every group: reading a null `next` reads that default, whose
/// own `next` is null again, as deep as the nesting limit allows.
fn deep_groups(depth: usize) -> Schema {
    let mut source = "@0xe5d1c3b7a9f02468;\nstruct Deep {\n".to_string();
    for i in 0..depth {
        source += &format!("g{i} :group {{\n");
    }
    // `(g0 = (g1 = (... (x = 1))))`
    let mut default = "(x = 1)".to_string();
    for i in (0..depth).rev() {
        default = format!("(g{i} = {default})");
    }
    source += &format!("next @0 :Deep = {default};\nx @1 :Int32 = 7;\n");
    source += &"}\n".repeat(depth + 1);
    Schema::parse("deep.capnp", &source).unwrap()
}

/// Reads the all-default `Deep` every way with `limits`.
fn read_deep(schema: &Schema, limits: ReadOptions) {
    let st = schema
        .struct_type("Deep")
        .unwrap()
        .with_read_options(limits);
    let bytes = st.to_vec(&Empty {}).unwrap();
    let _ = st.from_slice::<serde_json::Value>(&bytes);
    let _ = st.read_value(&bytes);
    let _ = st.to_json(&bytes);
    let _ = st.to_text(&bytes);
    if let Ok(message) = st.reader(&bytes) {
        let _ = message.root().map(|r| format!("{r:?}"));
    }
}

/// Groups as deep as the loader allows, at a nesting limit of 16, on a test thread's stack.
#[test]
fn the_deepest_groups_read_without_overflowing_the_stack() {
    let schema = deep_groups(serde_capnp_schema::MAX_GROUP_NESTING);
    read_deep(
        &schema,
        ReadOptions {
            nesting_limit: 16,
            ..ReadOptions::default()
        },
    );
}

/// Groups are no nesting level, but every reader checks its stack as it enters one: groups as
/// deep as the loader allows, at the default nesting limit, on a test thread's 2 MiB stack.
#[test]
fn deep_groups_at_the_default_nesting_limit() {
    read_deep(
        &deep_groups(serde_capnp_schema::MAX_GROUP_NESTING),
        ReadOptions::default(),
    );
}
