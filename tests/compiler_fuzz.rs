//! Differential fuzzing of the pure-Rust schema compiler against the reference compiler
//! (`capnp compile -o-`, 0.9.2).
//!
//! A seeded generator writes random, valid schemas as text: structs with fields of every type
//! (primitives, `Text`, `Data`, nested lists, enums, structs, interfaces, `AnyPointer` and its
//! kinds, generic parameters) declared in shuffled ordinal order; groups and named and unnamed
//! unions nested several levels (with the odd retroactive `@N!` union ordinal); defaults of every
//! kind, struct and list literals included; enums; interfaces with superclasses and methods
//! (inline parameter lists with defaults, struct parameter types, implicit generic parameters,
//! `stream`); generic structs and interfaces, nested in each other, and their instantiations;
//! nested declarations, sometimes shadowing others; constants, aliases, `embed`; annotations
//! with values on every kind of target; doc comments; imports of a second generated file and of
//! the standard schemas; and layout variations (no blanks, extra blanks, CRLF line ends).
//!
//! - `fuzz_layouts_match_capnp` compiles generated schemas with both compilers and compares the
//!   requests node by node, doc comments included (`tests/common/compare.rs`). Several files go
//!   to one `capnp compile` run; when a batch differs, its files are compared one by one to
//!   name the culprits. Schemas `capnp` refuses because of its check for its old union layout bug
//!   (capnproto issue 344) must be refused by our compiler too.
//! - `fuzz_mutations_agree_with_capnp` mutates generated schemas (tokens and characters): our
//!   compiler must never panic, must accept exactly what `capnp` accepts, and then agree.
//!
//! Failures are collected (up to 5) and reported together, each with its seed, its case number,
//! the schema text and the differences; the failing files are saved under the test's scratch
//! directory (`failure_N/`).
//!
//! Environment variables:
//! - `SERDE_CAPNP_FUZZ_SEED`: the seed (decimal or `0x` hex; default: a fixed seed). Printed.
//! - `SERDE_CAPNP_FUZZ_CASES`: how many schemas `fuzz_layouts_match_capnp` tries (default 2000).
//! - `SERDE_CAPNP_FUZZ_MUTATIONS`: how many mutated schemas the second test tries (default 1000).
//! - `SERDE_CAPNP_FUZZ_ONLY`: run only this case number (with the same seed), e.g. to reproduce
//!   one failure.
//! - `SERDE_CAPNP_FUZZ_MAX_FAILURES`: how many failures to collect before stopping (default 5).
//!
//! Every case has a seed of its own, derived from the run's seed and the case number, so a
//! failing case is reproduced by the same seed and case number whatever the number of cases.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::Read as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::compare::{diff_requests, CompareOptions};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use serde_capnp_schema::compiler::Compiler;

// ===========================================================================================
// Settings
// ===========================================================================================

const DEFAULT_SEED: u64 = 0x5eed_c0ff_ee42_0f42;
const DEFAULT_CASES: u64 = 2000;
const DEFAULT_MUTATIONS: u64 = 1000;
/// Cases compiled by one `capnp compile` invocation (they share one imported library file).
const BATCH: u64 = 20;
/// Failures collected before giving up (`SERDE_CAPNP_FUZZ_MAX_FAILURES` overrides it).
const MAX_FAILURES: usize = 5;
/// How long one compile may take, for either compiler.
const TIMEOUT: Duration = Duration::from_secs(30);

fn max_failures() -> usize {
    env_u64("SERDE_CAPNP_FUZZ_MAX_FAILURES").map_or(MAX_FAILURES, |n| n as usize)
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim().replace('_', "");
    if v.is_empty() {
        return None;
    }
    let parsed = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => v.parse(),
    };
    Some(parsed.unwrap_or_else(|e| panic!("{name}={v:?} is not a number: {e}")))
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The seed of case `i` of stream `stream` (cases, libraries, mutations).
fn case_seed(seed: u64, stream: u64, i: u64) -> u64 {
    splitmix(seed ^ splitmix(stream.wrapping_mul(0x1000_0000_0000_0001).wrapping_add(i)))
}

fn run_seed() -> u64 {
    env_u64("SERDE_CAPNP_FUZZ_SEED").unwrap_or(DEFAULT_SEED)
}

// ===========================================================================================
// The schema model
// ===========================================================================================

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Prim {
    Void,
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Float32,
    Float64,
}

const PRIMS: &[Prim] = &[
    Prim::Void,
    Prim::Bool,
    Prim::Int8,
    Prim::Int16,
    Prim::Int32,
    Prim::Int64,
    Prim::UInt8,
    Prim::UInt16,
    Prim::UInt32,
    Prim::UInt64,
    Prim::Float32,
    Prim::Float64,
];

impl Prim {
    fn name(self) -> &'static str {
        match self {
            Prim::Void => "Void",
            Prim::Bool => "Bool",
            Prim::Int8 => "Int8",
            Prim::Int16 => "Int16",
            Prim::Int32 => "Int32",
            Prim::Int64 => "Int64",
            Prim::UInt8 => "UInt8",
            Prim::UInt16 => "UInt16",
            Prim::UInt32 => "UInt32",
            Prim::UInt64 => "UInt64",
            Prim::Float32 => "Float32",
            Prim::Float64 => "Float64",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Ty {
    Prim(Prim),
    Text,
    Data,
    List(Box<Ty>),
    /// A struct, enum, interface or alias.
    Named(Ref),
    AnyPointer,
    AnyStruct,
    AnyList,
    Capability,
    Param(String),
    /// Written as is (e.g. a type from an imported standard schema).
    Raw(&'static str),
}

/// A reference to a declaration, as written in one scope.
#[derive(Clone, Debug, PartialEq)]
struct Ref {
    /// The declaration (index into the declarations).
    decl: usize,
    /// Written relative to this enclosing generic declaration, whose parameters (and those of
    /// its ancestors) the reference inherits; `None`: written from the file scope.
    from: Option<usize>,
    /// The generic declarations of the written path that are bound, with their arguments. A
    /// path with generics and no arguments leaves them unbound (`AnyPointer`).
    args: Vec<(usize, Vec<Ty>)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Struct,
    Enum,
    Iface,
    Const,
    Annotation,
    Alias,
}

#[derive(Clone, Debug)]
enum Member {
    Field {
        name: String,
        ordinal: u32,
        ty: Ty,
        default: Option<String>,
        anns: Vec<String>,
        doc: Vec<String>,
    },
    Group {
        name: String,
        body: Vec<Member>,
        anns: Vec<String>,
        doc: Vec<String>,
    },
    Union {
        /// `None`: the scope's unnamed union.
        name: Option<String>,
        /// `name @N! :union`, the old explicit union ordinal.
        ordinal: Option<u32>,
        body: Vec<Member>,
        anns: Vec<String>,
        doc: Vec<String>,
    },
    Method(Method),
    Nested(usize),
}

#[derive(Clone, Debug)]
struct Method {
    name: String,
    ordinal: u32,
    implicit: Vec<String>,
    params: ParamList,
    results: Option<ParamList>,
    anns: Vec<String>,
    doc: Vec<String>,
}

#[derive(Clone, Debug)]
enum ParamList {
    Named(Vec<Param>),
    Struct(Ty),
    /// `-> stream` (results only).
    Stream,
}

#[derive(Clone, Debug)]
struct Param {
    name: String,
    ty: Ty,
    default: Option<String>,
    anns: Vec<String>,
}

#[derive(Clone, Debug)]
struct Enumerant {
    name: String,
    ordinal: u32,
    anns: Vec<String>,
    doc: Vec<String>,
}

#[derive(Clone, Debug)]
struct Decl {
    kind: Kind,
    name: String,
    parent: Option<usize>,
    /// Declared in the imported library file.
    external: bool,
    params: Vec<String>,
    id: Option<u64>,
    /// Struct and interface bodies (fields, groups, unions, methods, nested declarations).
    members: Vec<Member>,
    /// Nested declarations planned but not yet placed in `members`.
    nested: Vec<usize>,
    enumerants: Vec<Enumerant>,
    extends: Vec<Ty>,
    /// Const, annotation and alias type.
    ty: Option<Ty>,
    value: Option<String>,
    /// Annotation targets; `None` is `*`.
    targets: Option<Vec<&'static str>>,
    doc: Vec<String>,
    anns: Vec<String>,
}

const TARGETS: &[&str] = &[
    "file",
    "struct",
    "field",
    "union",
    "group",
    "enum",
    "enumerant",
    "interface",
    "method",
    "param",
    "annotation",
    "const",
];

const WORDS: &[&str] = &[
    "alpha", "beta", "gamma", "delta", "omega", "foo", "bar", "baz", "qux", "item", "value",
    "count", "name", "data", "node", "entry", "flag", "mode", "kind", "level", "point", "edge",
    "color", "shape", "size", "total", "child", "other", "first", "last",
];

/// How big the generated files are.
#[derive(Clone, Copy, Debug)]
struct Config {
    min_top: usize,
    max_top: usize,
    max_fields: usize,
    max_depth: u32,
}

const CASE_CONFIG: Config = Config {
    min_top: 2,
    max_top: 7,
    max_fields: 24,
    max_depth: 3,
};

const LIB_CONFIG: Config = Config {
    min_top: 3,
    max_top: 6,
    max_fields: 10,
    max_depth: 2,
};

const MUTATION_CONFIG: Config = Config {
    min_top: 1,
    max_top: 4,
    max_fields: 10,
    max_depth: 2,
};

/// The import of the library file by a generated file.
#[derive(Clone, Debug)]
struct Import {
    alias: String,
    path: String,
}

/// One generated file: the declarations it may use (the library's first, flagged external) and
/// its own.
struct SchemaGen {
    rng: Pcg64,
    cfg: Config,
    decls: Vec<Decl>,
    /// File-scope declarations of this file, in order.
    top: Vec<usize>,
    counter: usize,
    file_id: u64,
    file_doc: Vec<String>,
    file_anns: Vec<String>,
    leading_comment: Option<String>,
    import: Option<Import>,
    /// Type names that nested declarations may take again (those not declared in generics).
    reusable: Vec<String>,
    /// While choosing an alias's target: no aliases, and no `List(AnyList)` or
    /// `List(Capability)` (capnp 0.9.2 turns those into an unsupported `List(AnyPointer)` when
    /// they are generic arguments in an alias).
    in_alias: bool,
}

fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

fn random_id(rng: &mut Pcg64) -> u64 {
    rng.gen::<u64>() | (1 << 63)
}

impl SchemaGen {
    fn new(seed: u64, cfg: Config, lib: Option<(&SchemaGen, Import)>) -> SchemaGen {
        let mut g = SchemaGen {
            rng: Pcg64::seed_from_u64(seed),
            cfg,
            decls: Vec::new(),
            top: Vec::new(),
            counter: 0,
            file_id: 0,
            file_doc: Vec::new(),
            file_anns: Vec::new(),
            leading_comment: None,
            import: None,
            in_alias: false,
            reusable: Vec::new(),
        };
        g.file_id = random_id(&mut g.rng);
        if let Some((lib, import)) = lib {
            // The library's declarations keep their indices, so their types stay valid.
            g.decls = lib
                .decls
                .iter()
                .filter(|d| !d.external)
                .cloned()
                .map(|mut d| {
                    d.external = true;
                    d
                })
                .collect();
            assert!(lib.decls.iter().all(|d| !d.external));
            g.counter = lib.counter;
            g.import = Some(import);
        }
        g
    }

    /// Generates the whole file.
    fn generate(&mut self) {
        let n = self.rng.gen_range(self.cfg.min_top..=self.cfg.max_top);
        for i in 0..n {
            let kind = if i == 0 {
                Kind::Struct
            } else {
                self.pick(&[
                    (45, Kind::Struct),
                    (14, Kind::Enum),
                    (14, Kind::Iface),
                    (12, Kind::Const),
                    (10, Kind::Annotation),
                    (5, Kind::Alias),
                ])
            };
            let d = self.plan(kind, None, 0);
            self.top.push(d);
        }
        // Bodies, once every declaration is known (fields may refer to any of them).
        let own: Vec<usize> = (0..self.decls.len())
            .filter(|&d| !self.decls[d].external)
            .collect();
        for &d in &own {
            match self.decls[d].kind {
                Kind::Struct => self.struct_body(d),
                Kind::Enum => self.enum_body(d),
                Kind::Iface => self.iface_body(d),
                Kind::Const if self.import.is_some() && self.rng.gen_bool(0.1) => {
                    // The imported file's bytes.
                    let path = self.import.as_ref().unwrap().path.clone();
                    let ty = if self.rng.gen_bool(0.5) {
                        Ty::Text
                    } else {
                        Ty::Data
                    };
                    self.decls[d].ty = Some(ty);
                    self.decls[d].value = Some(format!("embed \"{path}\""));
                }
                Kind::Const => {
                    let scope = self.decls[d].parent;
                    let ty = self.literal_type(scope, 0);
                    self.decls[d].ty = Some(ty);
                }
                Kind::Annotation => {
                    let ty = if self.rng.gen_bool(0.15) {
                        Ty::Prim(Prim::Void)
                    } else {
                        self.literal_type(None, 0)
                    };
                    self.decls[d].ty = Some(ty);
                    if self.rng.gen_bool(0.5) {
                        let mut targets: Vec<&'static str> = TARGETS.to_vec();
                        targets.shuffle(&mut self.rng);
                        targets.truncate(self.rng.gen_range(1..=5));
                        self.decls[d].targets = Some(targets);
                    }
                }
                Kind::Alias => {
                    let candidates = self.named_of(&[Kind::Struct, Kind::Enum, Kind::Iface]);
                    let target = *candidates.choose(&mut self.rng).expect("a struct exists");
                    // (Bound from the file scope, even for an alias nested in a generic.)
                    // No alias in an alias (it could refer to itself); see `in_alias`.
                    self.in_alias = true;
                    let ty = self.ref_to(target, None, 0);
                    self.in_alias = false;
                    self.decls[d].ty = Some(ty);
                }
            }
        }
        // Values, annotations and doc comments, with every body known.
        let snap = self.decls.clone();
        for &d in &own {
            self.decorate(&snap, d);
        }
        self.file_anns = ann_apps(&snap, &mut self.rng, "file", AnnLimit::default());
        if self.rng.gen_bool(0.1) {
            self.file_anns
                .push("$import \"/capnp/c++.capnp\".namespace(\"fuzz::schema\")".to_owned());
        }
        self.file_doc = doc_lines(&mut self.rng, 0.3);
        if self.rng.gen_bool(0.2) {
            self.leading_comment = Some(random_words(&mut self.rng, 4));
        }
    }

    fn pick<T: Copy>(&mut self, weighted: &[(u32, T)]) -> T {
        let total: u32 = weighted.iter().map(|(w, _)| w).sum();
        let mut x = self.rng.gen_range(0..total);
        for (w, t) in weighted {
            if x < *w {
                return *t;
            }
            x -= w;
        }
        unreachable!()
    }

    fn lower_name(&mut self) -> String {
        self.counter += 1;
        let w = WORDS.choose(&mut self.rng).unwrap();
        if self.rng.gen_bool(0.3) {
            let w2 = WORDS.choose(&mut self.rng).unwrap();
            format!("{w}{}{}", capitalize(w2), self.counter)
        } else {
            format!("{w}{}", self.counter)
        }
    }

    fn upper_name(&mut self) -> String {
        self.counter += 1;
        let w = WORDS.choose(&mut self.rng).unwrap();
        format!("{}{}", capitalize(w), self.counter)
    }

    fn param_name(&mut self) -> String {
        self.counter += 1;
        let p = ["T", "U", "V", "Key", "Value", "Item"]
            .choose(&mut self.rng)
            .unwrap();
        format!("{p}{}", self.counter)
    }

    /// Declares a declaration and, for structs and interfaces, its nested declarations.
    fn plan(&mut self, kind: Kind, parent: Option<usize>, depth: u32) -> usize {
        let parent_generic = parent.is_some_and(|p| !self.decls[p].params.is_empty());
        let name = match kind {
            Kind::Const | Kind::Annotation => self.lower_name(),
            // Sometimes the name of another declaration, to shadow it. Not in generics: a
            // reference relative to a generic (which inherits its parameters) must find its
            // first name unshadowed.
            _ if parent.is_some() && !parent_generic && self.rng.gen_bool(0.25) => {
                let siblings: Vec<&str> = self
                    .decls
                    .iter()
                    .filter(|d| !d.external && d.parent == parent)
                    .map(|d| d.name.as_str())
                    .collect();
                let free: Vec<String> = self
                    .reusable
                    .iter()
                    .filter(|n| !siblings.contains(&n.as_str()))
                    .cloned()
                    .collect();
                match free.choose(&mut self.rng) {
                    Some(n) => n.clone(),
                    None => self.upper_name(),
                }
            }
            _ => self.upper_name(),
        };
        if !parent_generic && !matches!(kind, Kind::Const | Kind::Annotation) {
            self.reusable.push(name.clone());
        }
        let p_generic = if parent.is_none() { 0.3 } else { 0.15 };
        let generic = matches!(kind, Kind::Struct | Kind::Iface) && self.rng.gen_bool(p_generic);
        let mut params = Vec::new();
        if generic {
            for _ in 0..self.rng.gen_range(1..=3) {
                let p = self.param_name();
                params.push(p);
            }
        }
        let id = (kind != Kind::Alias && self.rng.gen_bool(0.15)).then(|| random_id(&mut self.rng));
        let d = self.decls.len();
        self.decls.push(Decl {
            kind,
            name,
            parent,
            external: false,
            params,
            id,
            members: Vec::new(),
            nested: Vec::new(),
            enumerants: Vec::new(),
            extends: Vec::new(),
            ty: None,
            value: None,
            targets: None,
            doc: Vec::new(),
            anns: Vec::new(),
        });
        if matches!(kind, Kind::Struct | Kind::Iface) && depth < 2 {
            let n = self.pick(&[(55, 0), (30, 1), (15, 2)]);
            for _ in 0..n {
                let k = self.pick(&[
                    (50, Kind::Struct),
                    (25, Kind::Enum),
                    (15, Kind::Const),
                    (10, Kind::Iface),
                    (5, Kind::Alias),
                ]);
                let child = self.plan(k, Some(d), depth + 1);
                self.decls[d].nested.push(child);
            }
        }
        d
    }

    /// The declarations of the given kinds, own and imported.
    fn named_of(&self, kinds: &[Kind]) -> Vec<usize> {
        (0..self.decls.len())
            .filter(|&d| kinds.contains(&self.decls[d].kind))
            .filter(|&d| !(self.decls[d].external && self.decls[d].kind == Kind::Alias))
            .collect()
    }

    /// The generic parameters visible in `scope`.
    fn scope_params(&self, scope: Option<usize>) -> Vec<String> {
        let mut out = Vec::new();
        let mut s = scope;
        while let Some(d) = s {
            out.extend(self.decls[d].params.iter().cloned());
            s = self.decls[d].parent;
        }
        out
    }

    /// A reference to declaration `d` from `scope`, bound when it has to be.
    fn ref_to(&mut self, d: usize, scope: Option<usize>, depth: u32) -> Ty {
        let chain = chain_of(&self.decls, d);
        let inside = |c: usize| scope.is_some_and(|s| within(&self.decls, s, c));
        // The innermost generic around both the scope and `d`: its parameters are inherited,
        // and `d` is named relative to it.
        let from = chain[..chain.len() - 1]
            .iter()
            .rev()
            .copied()
            .find(|&c| !self.decls[c].params.is_empty() && inside(c));
        let start = from.map_or(0, |f| chain.iter().position(|&c| c == f).unwrap() + 1);
        let need: Vec<usize> = chain[start..]
            .iter()
            .copied()
            .filter(|&c| !self.decls[c].params.is_empty())
            .collect();
        let outside_all = !chain.iter().any(|&c| inside(c));
        if need.is_empty() || (from.is_none() && outside_all && self.rng.gen_bool(0.1)) {
            // Not generic, or unbound: the parameters are AnyPointer.
            return Ty::Named(Ref {
                decl: d,
                from,
                args: Vec::new(),
            });
        }
        let mut args = Vec::new();
        for level in need {
            let n = self.decls[level].params.len();
            let a = (0..n)
                .map(|_| self.pointer_type(scope, &[], depth + 1))
                .collect();
            args.push((level, a));
        }
        Ty::Named(Ref {
            decl: d,
            from,
            args,
        })
    }

    /// A type a generic parameter may be bound to.
    fn pointer_type(&mut self, scope: Option<usize>, extra: &[String], depth: u32) -> Ty {
        let mut params = self.scope_params(scope);
        params.extend(extra.iter().cloned());
        let structs = self.named_of(&[Kind::Struct, Kind::Iface]);
        let choice = self.pick(&[(20, 0), (15, 1), (15, 2), (25, 3), (10, 4), (15, 5)]);
        match choice {
            2 if depth < 3 => {
                let elem = self.list_elem(scope, extra, depth + 1);
                Ty::List(Box::new(elem))
            }
            3 if depth < 3 && !structs.is_empty() => {
                let d = *structs.choose(&mut self.rng).unwrap();
                self.ref_to(d, scope, depth + 1)
            }
            4 => Ty::AnyPointer,
            5 if !params.is_empty() => Ty::Param(params.choose(&mut self.rng).unwrap().clone()),
            1 => Ty::Data,
            _ => Ty::Text,
        }
    }

    /// An element type for a list: anything but generic parameters, `AnyPointer` and
    /// `AnyStruct`, which capnp 0.9.2 does not support in lists.
    fn list_elem(&mut self, scope: Option<usize>, extra: &[String], depth: u32) -> Ty {
        loop {
            let t = self.field_type(scope, extra, depth);
            let bad_in_alias = self.in_alias && matches!(t, Ty::AnyList | Ty::Capability);
            if !matches!(t, Ty::Param(_) | Ty::AnyPointer | Ty::AnyStruct) && !bad_in_alias {
                return t;
            }
        }
    }

    fn prim(&mut self) -> Prim {
        if self.rng.gen_bool(0.05) {
            Prim::Void
        } else {
            *PRIMS[1..].choose(&mut self.rng).unwrap()
        }
    }

    /// A type for a field or a parameter declared in `scope`.
    fn field_type(&mut self, scope: Option<usize>, extra: &[String], depth: u32) -> Ty {
        let mut params = self.scope_params(scope);
        params.extend(extra.iter().cloned());
        let choice = self.pick(&[
            (40, 0),
            (8, 1),
            (6, 2),
            (12, 3),
            (8, 4),
            (10, 5),
            (4, 6),
            (3, 7),
            (3, 8),
            (6, 9),
            (3, 10),
        ]);
        let pick_decl = |g: &mut SchemaGen, kinds: &[Kind]| -> Option<usize> {
            let c = g.named_of(kinds);
            c.choose(&mut g.rng).copied()
        };
        match choice {
            1 => Ty::Text,
            2 => Ty::Data,
            3 if depth < 3 => {
                let elem = self.list_elem(scope, extra, depth + 1);
                Ty::List(Box::new(elem))
            }
            4 => match pick_decl(self, &[Kind::Enum]) {
                Some(d) => self.ref_to(d, scope, depth),
                None => Ty::Prim(self.prim()),
            },
            5 if depth < 4 => match pick_decl(self, &[Kind::Struct]) {
                Some(d) => self.ref_to(d, scope, depth),
                None => Ty::Text,
            },
            6 => match pick_decl(self, &[Kind::Iface]) {
                Some(d) => self.ref_to(d, scope, depth),
                None => Ty::Capability,
            },
            7 if self.rng.gen_bool(0.1) => Ty::Raw(
                [
                    "import \"/capnp/schema.capnp\".Node.Parameter",
                    "import \"/capnp/schema.capnp\".ElementSize",
                    "import \"/capnp/persistent.capnp\".Persistent(Text, Data)",
                ]
                .choose(&mut self.rng)
                .unwrap(),
            ),
            7 => Ty::AnyPointer,
            8 => [Ty::AnyStruct, Ty::AnyList, Ty::Capability]
                .choose(&mut self.rng)
                .unwrap()
                .clone(),
            9 if !params.is_empty() => Ty::Param(params.choose(&mut self.rng).unwrap().clone()),
            10 if !self.in_alias => match pick_decl(self, &[Kind::Alias]) {
                Some(d) => self.ref_to(d, scope, depth),
                None => Ty::Data,
            },
            _ => Ty::Prim(self.prim()),
        }
    }

    /// A type that has literal values (for constants and annotations).
    fn literal_type(&mut self, scope: Option<usize>, depth: u32) -> Ty {
        let choice = self.pick(&[(45, 0), (10, 1), (8, 2), (12, 3), (10, 4), (15, 5)]);
        match choice {
            1 => Ty::Text,
            2 => Ty::Data,
            3 if depth < 2 => Ty::List(Box::new(self.literal_type(scope, depth + 1))),
            4 => match self.named_of(&[Kind::Enum]).choose(&mut self.rng).copied() {
                Some(d) => self.ref_to(d, scope, depth),
                None => Ty::Text,
            },
            5 => match self
                .named_of(&[Kind::Struct])
                .choose(&mut self.rng)
                .copied()
            {
                Some(d) => self.ref_to(d, scope, depth),
                None => Ty::Data,
            },
            _ => Ty::Prim(self.prim()),
        }
    }

    fn struct_body(&mut self, d: usize) {
        let max = if self.rng.gen_bool(0.08) {
            80
        } else {
            self.cfg.max_fields
        };
        let mut budget = self.rng.gen_range(0..=max);
        let mut members = self.scope_members(d, ScopeKind::Struct, 0, &mut budget);
        for n in std::mem::take(&mut self.decls[d].nested) {
            let at = self.rng.gen_range(0..=members.len());
            members.insert(at, Member::Nested(n));
        }
        let count = count_ordinals(&members);
        let mut perm: Vec<u32> = (0..count).collect();
        perm.shuffle(&mut self.rng);
        let mut it = perm.into_iter();
        assign_ordinals(&mut members, &mut it);
        fix_union_ordinals(&mut self.rng, &mut members);
        self.decls[d].members = members;
    }

    fn scope_members(
        &mut self,
        d: usize,
        kind: ScopeKind,
        depth: u32,
        budget: &mut usize,
    ) -> Vec<Member> {
        let min = match kind {
            ScopeKind::Struct => 0,
            ScopeKind::Group => 1,
            ScopeKind::Union => 2,
        };
        let most = if kind == ScopeKind::Struct {
            (*budget).max(6)
        } else {
            6
        };
        let wanted = self.rng.gen_range(0..=most).min(*budget).max(min);
        let nested_ok = depth < self.cfg.max_depth;
        let mut members = Vec::new();
        for _ in 0..wanted {
            let choice = if nested_ok {
                match kind {
                    ScopeKind::Union => self.pick(&[(72, 0), (20, 1), (8, 2)]),
                    _ => self.pick(&[(80, 0), (10, 1), (10, 2)]),
                }
            } else {
                0
            };
            let m = match choice {
                1 => {
                    let name = self.lower_name();
                    let body = self.scope_members(d, ScopeKind::Group, depth + 1, budget);
                    Member::Group {
                        name,
                        body,
                        anns: Vec::new(),
                        doc: Vec::new(),
                    }
                }
                2 => {
                    let name = self.lower_name();
                    let ordinal = self.rng.gen_bool(0.1).then_some(u32::MAX);
                    let body = self.scope_members(d, ScopeKind::Union, depth + 1, budget);
                    Member::Union {
                        name: Some(name),
                        ordinal,
                        body,
                        anns: Vec::new(),
                        doc: Vec::new(),
                    }
                }
                _ => {
                    *budget = budget.saturating_sub(1);
                    let name = self.lower_name();
                    let ty = self.field_type(Some(d), &[], 0);
                    Member::Field {
                        name,
                        ordinal: u32::MAX,
                        ty,
                        default: None,
                        anns: Vec::new(),
                        doc: Vec::new(),
                    }
                }
            };
            members.push(m);
        }
        // The scope's unnamed union.
        if kind != ScopeKind::Union && nested_ok && self.rng.gen_bool(0.3) {
            let body = self.scope_members(d, ScopeKind::Union, depth + 1, budget);
            let at = self.rng.gen_range(0..=members.len());
            members.insert(
                at,
                Member::Union {
                    name: None,
                    ordinal: None,
                    body,
                    anns: Vec::new(),
                    doc: Vec::new(),
                },
            );
        }
        members
    }

    fn enum_body(&mut self, d: usize) {
        let n = self.rng.gen_range(0..=6);
        let mut ordinals: Vec<u32> = (0..n).collect();
        ordinals.shuffle(&mut self.rng);
        let enumerants = ordinals
            .into_iter()
            .map(|ordinal| Enumerant {
                name: self.lower_name(),
                ordinal,
                anns: Vec::new(),
                doc: Vec::new(),
            })
            .collect();
        self.decls[d].enumerants = enumerants;
    }

    fn iface_body(&mut self, d: usize) {
        // Superclasses: interfaces declared before this one, so there is no cycle.
        let candidates: Vec<usize> = self
            .named_of(&[Kind::Iface])
            .into_iter()
            .filter(|&i| i < d)
            .collect();
        let n = self
            .pick(&[(60, 0), (30, 1), (10, 2)])
            .min(candidates.len());
        let supers: Vec<usize> = candidates
            .choose_multiple(&mut self.rng, n)
            .copied()
            .collect();
        let mut extends = Vec::new();
        for s in supers {
            let t = self.ref_to(s, Some(d), 1);
            extends.push(t);
        }
        if self.rng.gen_bool(0.05) {
            extends.push(Ty::Raw(
                "import \"/capnp/persistent.capnp\".Persistent(Text, AnyPointer)",
            ));
        }
        self.decls[d].extends = extends;

        let n = self.rng.gen_range(0..=4);
        let mut ordinals: Vec<u32> = (0..n).collect();
        ordinals.shuffle(&mut self.rng);
        let mut members = Vec::new();
        for ordinal in ordinals {
            let name = self.lower_name();
            let mut implicit = Vec::new();
            if self.rng.gen_bool(0.15) {
                for _ in 0..self.rng.gen_range(1..=2) {
                    let p = self.param_name();
                    implicit.push(p);
                }
            }
            let params = self.param_list(d, &implicit);
            let results = if self.rng.gen_bool(0.15) {
                None
            } else if self.rng.gen_bool(0.05) {
                Some(ParamList::Stream)
            } else {
                Some(self.param_list(d, &implicit))
            };
            members.push(Member::Method(Method {
                name,
                ordinal,
                implicit,
                params,
                results,
                anns: Vec::new(),
                doc: Vec::new(),
            }));
        }
        for n in std::mem::take(&mut self.decls[d].nested) {
            let at = self.rng.gen_range(0..=members.len());
            members.insert(at, Member::Nested(n));
        }
        self.decls[d].members = members;
    }

    fn param_list(&mut self, d: usize, implicit: &[String]) -> ParamList {
        let structs = self.named_of(&[Kind::Struct]);
        if !structs.is_empty() && self.rng.gen_bool(0.2) {
            let s = *structs.choose(&mut self.rng).unwrap();
            return ParamList::Struct(self.ref_to(s, Some(d), 1));
        }
        let n = self.rng.gen_range(0..=3);
        let params = (0..n)
            .map(|_| Param {
                name: self.lower_name(),
                ty: self.field_type(Some(d), implicit, 0),
                default: None,
                anns: Vec::new(),
            })
            .collect();
        ParamList::Named(params)
    }

    /// Fills in defaults, constant values, annotations and doc comments.
    fn decorate(&mut self, snap: &[Decl], d: usize) {
        let rng = &mut self.rng;
        let kind = snap[d].kind;
        let target = match kind {
            Kind::Struct => "struct",
            Kind::Enum => "enum",
            Kind::Iface => "interface",
            Kind::Const => "const",
            Kind::Annotation => "annotation",
            Kind::Alias => "",
        };
        let mut decl = self.decls[d].clone();
        if kind != Kind::Alias {
            // An annotation must not depend on itself: only earlier ones annotate it.
            let limit = AnnLimit {
                before: (kind == Kind::Annotation).then_some(d),
                avoid_enum: (kind == Kind::Enum).then_some(d),
                no_enum: kind == Kind::Annotation,
            };
            decl.anns = ann_apps(snap, rng, target, limit);
            if !matches!(kind, Kind::Annotation | Kind::Const) && rng.gen_bool(0.04) {
                let name = decl.name.to_lowercase();
                decl.anns
                    .push(format!("$import \"/capnp/c++.capnp\".name(\"{name}\")"));
            }
            decl.doc = doc_lines(rng, 0.25);
        }
        match kind {
            Kind::Struct | Kind::Iface => {
                decorate_members(snap, rng, &mut decl.members);
            }
            Kind::Enum => {
                for e in &mut decl.enumerants {
                    e.anns = ann_apps(
                        snap,
                        rng,
                        "enumerant",
                        AnnLimit {
                            avoid_enum: Some(d),
                            ..AnnLimit::default()
                        },
                    );
                    e.doc = doc_lines(rng, 0.2);
                }
            }
            Kind::Const if decl.value.is_some() => {} // embed
            Kind::Const => {
                let ty = decl.ty.clone().unwrap();
                match value(snap, rng, &ty, &BTreeMap::new(), 0, &ConstRefs::Before(d)) {
                    Some(v) => decl.value = Some(v),
                    None => {
                        // E.g. an enum without enumerants.
                        decl.ty = Some(Ty::Text);
                        decl.value = Some(text_value(rng));
                    }
                }
            }
            Kind::Annotation | Kind::Alias => {}
        }
        self.decls[d] = decl;
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ScopeKind {
    Struct,
    Group,
    Union,
}

/// The declarations from the file scope down to `d`.
fn chain_of(decls: &[Decl], d: usize) -> Vec<usize> {
    let mut chain = vec![d];
    while let Some(p) = decls[*chain.last().unwrap()].parent {
        chain.push(p);
    }
    chain.reverse();
    chain
}

/// Whether `scope` is `outer` or nested in it.
fn within(decls: &[Decl], scope: usize, outer: usize) -> bool {
    let mut s = Some(scope);
    while let Some(d) = s {
        if d == outer {
            return true;
        }
        s = decls[d].parent;
    }
    false
}

fn count_ordinals(members: &[Member]) -> u32 {
    members
        .iter()
        .map(|m| match m {
            Member::Field { .. } => 1,
            Member::Group { body, .. } => count_ordinals(body),
            Member::Union { body, ordinal, .. } => {
                count_ordinals(body) + u32::from(ordinal.is_some())
            }
            Member::Method(_) | Member::Nested(_) => 0,
        })
        .sum()
}

fn assign_ordinals(members: &mut [Member], it: &mut impl Iterator<Item = u32>) {
    for m in members {
        match m {
            Member::Field { ordinal, .. } => *ordinal = it.next().unwrap(),
            Member::Group { body, .. } => assign_ordinals(body, it),
            Member::Union { body, ordinal, .. } => {
                if let Some(o) = ordinal {
                    *o = it.next().unwrap();
                }
                assign_ordinals(body, it);
            }
            Member::Method(_) | Member::Nested(_) => {}
        }
    }
}

/// Every ordinal in a member tree, mutably.
fn ordinal_refs<'m>(members: &'m mut [Member], out: &mut Vec<&'m mut u32>) {
    for m in members {
        match m {
            Member::Field { ordinal, .. } => out.push(ordinal),
            Member::Group { body, .. } => ordinal_refs(body, out),
            Member::Union { body, ordinal, .. } => {
                if let Some(o) = ordinal {
                    out.push(o);
                }
                ordinal_refs(body, out);
            }
            Member::Method(_) | Member::Nested(_) => {}
        }
    }
}

/// A union's explicit ordinal must come before the ordinals of all its members but one ("only
/// one field retroactively unionized"): give each such union, outermost first, the smallest or
/// the second smallest ordinal of its subtree, swapping with the member that had it.
fn fix_union_ordinals(rng: &mut Pcg64, members: &mut [Member]) {
    for m in members.iter_mut() {
        match m {
            Member::Union {
                ordinal: Some(_), ..
            } => {
                let second = rng.gen_bool(0.5);
                let mut refs = Vec::new();
                ordinal_refs(std::slice::from_mut(m), &mut refs);
                // refs[0] is the union's own ordinal.
                let mut sorted: Vec<u32> = refs.iter().map(|r| **r).collect();
                sorted.sort_unstable();
                // The union's field sits in its parent's field list at the place of its first
                // member, and capnp 0.9.2 then requires the explicit ordinals of that list to
                // increase ("Bootstrap schema failed validation: fields were not ordered by
                // ordinal"): so a retroactively unionized field must be the one just before the
                // union.
                let want = if second && sorted.len() > 2 && sorted[1] == sorted[0] + 1 {
                    sorted[1]
                } else {
                    sorted[0]
                };
                let own = *refs[0];
                if let Some(other) = refs.iter_mut().skip(1).find(|r| ***r == want) {
                    **other = own;
                }
                *refs[0] = want;
                if let Member::Union { body, .. } = m {
                    fix_union_ordinals(rng, body);
                }
            }
            Member::Union { body, .. } | Member::Group { body, .. } => {
                fix_union_ordinals(rng, body)
            }
            _ => {}
        }
    }
}

fn decorate_members(snap: &[Decl], rng: &mut Pcg64, members: &mut [Member]) {
    let refs = ConstRefs::Any;
    let empty = BTreeMap::new();
    for m in members {
        match m {
            Member::Field {
                ty,
                default,
                anns,
                doc,
                ..
            } => {
                if rng.gen_bool(0.35) {
                    *default = value(snap, rng, ty, &empty, 0, &refs);
                }
                *anns = ann_apps(snap, rng, "field", AnnLimit::default());
                *doc = doc_lines(rng, 0.25);
            }
            Member::Group {
                body, anns, doc, ..
            } => {
                *anns = ann_apps(snap, rng, "group", AnnLimit::default());
                *doc = doc_lines(rng, 0.25);
                decorate_members(snap, rng, body);
            }
            Member::Union {
                name,
                body,
                anns,
                doc,
                ..
            } => {
                // Unnamed unions take no annotations and no doc comments.
                if name.is_some() {
                    *anns = ann_apps(snap, rng, "union", AnnLimit::default());
                    *doc = doc_lines(rng, 0.25);
                }
                decorate_members(snap, rng, body);
            }
            Member::Method(method) => {
                method.anns = ann_apps(snap, rng, "method", AnnLimit::default());
                method.doc = doc_lines(rng, 0.25);
                for list in [Some(&mut method.params), method.results.as_mut()]
                    .into_iter()
                    .flatten()
                {
                    if let ParamList::Named(params) = list {
                        for p in params {
                            if rng.gen_bool(0.3) {
                                p.default = value(snap, rng, &p.ty, &empty, 0, &refs);
                            }
                            p.anns = ann_apps(snap, rng, "param", AnnLimit::default());
                        }
                    }
                }
            }
            Member::Nested(_) => {}
        }
    }
}

/// Which constants a value may refer to.
#[derive(Clone, Copy)]
enum ConstRefs {
    /// Any file-scope constant (field and parameter defaults).
    Any,
    /// Those declared before this constant (no cycles).
    Before(usize),
    /// None (annotation values).
    None,
}

impl ConstRefs {
    fn allows(self, c: usize) -> bool {
        match self {
            ConstRefs::Any => true,
            ConstRefs::Before(b) => c < b,
            ConstRefs::None => false,
        }
    }
}

/// Which annotations may be applied, to keep declarations from depending on themselves.
#[derive(Clone, Copy, Default)]
struct AnnLimit {
    /// On an annotation declaration: only annotations declared before it.
    before: Option<usize>,
    /// On an enum or its enumerants: no annotation whose type is that enum (capnp reports
    /// "Declaration recursively depends on itself").
    avoid_enum: Option<usize>,
    /// On an annotation declaration: no annotation whose type is an enum, which could close a
    /// cycle (an enumerant annotated with this annotation, annotated with a value of the enum).
    no_enum: bool,
}

/// Whether a type is an enum (through aliases), and which.
fn enum_of(snap: &[Decl], ty: &Ty) -> Option<usize> {
    match resolve(snap, ty) {
        Ty::Named(r) if snap[r.decl].kind == Kind::Enum => Some(r.decl),
        _ => None,
    }
}

/// `$name(value)` applications for a declaration of kind `target`.
fn ann_apps(snap: &[Decl], rng: &mut Pcg64, target: &str, limit: AnnLimit) -> Vec<String> {
    if !rng.gen_bool(0.3) {
        return Vec::new();
    }
    let candidates: Vec<usize> = (0..snap.len())
        .filter(|&a| snap[a].kind == Kind::Annotation && snap[a].ty.is_some())
        .filter(|&a| limit.before.is_none_or(|b| a < b))
        .filter(|&a| {
            let ty = snap[a].ty.as_ref().unwrap();
            let e = enum_of(snap, ty);
            !(limit.no_enum && e.is_some()) && limit.avoid_enum.is_none_or(|avoid| e != Some(avoid))
        })
        .filter(|&a| snap[a].targets.as_ref().is_none_or(|t| t.contains(&target)))
        .collect();
    let n = rng.gen_range(1..=2).min(candidates.len());
    let refs = ConstRefs::None;
    let mut out = Vec::new();
    for &a in candidates.choose_multiple(rng, n) {
        let name = decl_path(snap, a);
        let ty = snap[a].ty.clone().unwrap();
        if ty == Ty::Prim(Prim::Void) {
            out.push(format!("${name}"));
            continue;
        }
        let Some(v) = value(snap, rng, &ty, &BTreeMap::new(), 0, &refs) else {
            continue;
        };
        if v.starts_with('(') {
            // A struct value: its parentheses are the application's.
            out.push(format!("${name}{v}"));
        } else {
            out.push(format!("${name}({v})"));
        }
    }
    out
}

fn random_words(rng: &mut Pcg64, max: usize) -> String {
    let n = rng.gen_range(1..=max);
    let mut words: Vec<String> = (0..n)
        .map(|_| WORDS.choose(rng).unwrap().to_string())
        .collect();
    if rng.gen_bool(0.2) {
        words.push(
            [
                "(see below)",
                "x = 1;",
                "@0 :Text",
                "\"quoted\"",
                "#hash",
                "déjà vu",
                "{}",
                "\\n",
            ]
            .choose(rng)
            .unwrap()
            .to_string(),
        );
    }
    words.join(" ")
}

/// Lines of a doc comment (each without the `#`), or none.
fn doc_lines(rng: &mut Pcg64, p: f64) -> Vec<String> {
    if !rng.gen_bool(p) {
        return Vec::new();
    }
    let n = if rng.gen_bool(0.7) {
        1
    } else {
        rng.gen_range(2..=3)
    };
    (0..n)
        .map(|_| {
            let text = random_words(rng, 6);
            match rng.gen_range(0..10) {
                0 => text,                // `#text`
                1 => format!("  {text}"), // `#   text`
                2 => String::new(),       // an empty line
                _ => format!(" {text}"),  // `# text`
            }
        })
        .collect()
}

// -------------------------------------------------------------------------------------------
// Values
// -------------------------------------------------------------------------------------------

/// Resolves aliases.
fn resolve(snap: &[Decl], ty: &Ty) -> Ty {
    match ty {
        Ty::Named(r) if snap[r.decl].kind == Kind::Alias => {
            resolve(snap, snap[r.decl].ty.as_ref().expect("alias target"))
        }
        other => other.clone(),
    }
}

fn subst(ty: &Ty, map: &BTreeMap<String, Ty>) -> Ty {
    match ty {
        Ty::Param(p) => map.get(p).cloned().unwrap_or_else(|| ty.clone()),
        Ty::List(e) => Ty::List(Box::new(subst(e, map))),
        Ty::Named(r) => Ty::Named(Ref {
            decl: r.decl,
            from: r.from,
            args: r
                .args
                .iter()
                .map(|(level, a)| (*level, a.iter().map(|t| subst(t, map)).collect()))
                .collect(),
        }),
        other => other.clone(),
    }
}

/// A literal of type `ty` (after substituting `map` for generic parameters), or `None` when the
/// type has no literals (interfaces, `AnyPointer`, unbound parameters).
fn value(
    snap: &[Decl],
    rng: &mut Pcg64,
    ty: &Ty,
    map: &BTreeMap<String, Ty>,
    depth: u32,
    refs: &ConstRefs,
) -> Option<String> {
    let ty = resolve(snap, &subst(ty, map));
    // Sometimes a reference to a constant of the same type.
    // (Not for enums: capnp 0.9.2 reports "Type mismatch" for a reference to an enum constant;
    // not for structs: a struct's field defaulting to a constant of the struct's own type is a
    // cycle.)
    let plain = |t: &Ty| matches!(t, Ty::Prim(_) | Ty::Text | Ty::Data);
    let refable = match &ty {
        Ty::List(e) => plain(e),
        t => plain(t),
    };
    if refable && rng.gen_bool(0.08) {
        let consts: Vec<usize> = (0..snap.len())
            .filter(|&c| snap[c].kind == Kind::Const && snap[c].parent.is_none())
            .filter(|&c| refs.allows(c))
            .filter(|&c| snap[c].ty.as_ref().map(|t| resolve(snap, t)) == Some(ty.clone()))
            .collect();
        if let Some(&c) = consts.choose(rng) {
            let path = decl_path(snap, c);
            return Some(if snap[c].external {
                path
            } else {
                format!(".{path}")
            });
        }
    }
    Some(match &ty {
        Ty::Prim(p) => prim_value(rng, *p),
        Ty::Text => text_value(rng),
        Ty::Data => data_value(rng),
        Ty::List(elem) => {
            let n = if depth > 3 { 0 } else { rng.gen_range(0..=4) };
            let mut items = Vec::new();
            for _ in 0..n {
                items.push(value(snap, rng, elem, &BTreeMap::new(), depth + 1, refs)?);
            }
            if n == 0 && value(snap, rng, elem, &BTreeMap::new(), 99, refs).is_none() {
                return None;
            }
            format!("[{}]", items.join(", "))
        }
        Ty::Named(r) => match snap[r.decl].kind {
            Kind::Enum => snap[r.decl].enumerants.choose(rng)?.name.clone(),
            Kind::Struct => {
                if depth > 3 {
                    return Some("()".to_owned());
                }
                // The bound parameters; inherited and unbound ones have no literals.
                let mut inner = BTreeMap::new();
                for (level, args) in &r.args {
                    for (p, a) in snap[*level].params.iter().zip(args) {
                        inner.insert(p.clone(), a.clone());
                    }
                }
                let members = &snap[r.decl].members;
                let parts = members_literal(snap, rng, members, &inner, depth + 1, refs);
                format!("({})", parts.join(", "))
            }
            _ => return None,
        },
        Ty::AnyPointer
        | Ty::AnyStruct
        | Ty::AnyList
        | Ty::Capability
        | Ty::Param(_)
        | Ty::Raw(_) => return None,
    })
}

/// `name = value` assignments for some members of a struct or group literal.
fn members_literal(
    snap: &[Decl],
    rng: &mut Pcg64,
    members: &[Member],
    map: &BTreeMap<String, Ty>,
    depth: u32,
    refs: &ConstRefs,
) -> Vec<String> {
    let mut out = Vec::new();
    for m in members {
        match m {
            Member::Field { .. } | Member::Group { .. } => {
                if rng.gen_bool(0.5) {
                    if let Some(a) = member_assignment(snap, rng, m, map, depth, refs) {
                        out.push(a);
                    }
                }
            }
            Member::Union { name, body, .. } => {
                if rng.gen_bool(0.5) {
                    let Some(chosen) = body.choose(rng) else {
                        continue;
                    };
                    if let Some(a) = member_assignment(snap, rng, chosen, map, depth, refs) {
                        match name {
                            Some(n) => out.push(format!("{n} = ({a})")),
                            None => out.push(a),
                        }
                    }
                }
            }
            Member::Method(_) | Member::Nested(_) => {}
        }
    }
    out
}

fn member_assignment(
    snap: &[Decl],
    rng: &mut Pcg64,
    m: &Member,
    map: &BTreeMap<String, Ty>,
    depth: u32,
    refs: &ConstRefs,
) -> Option<String> {
    match m {
        Member::Field { name, ty, .. } => {
            let v = value(snap, rng, ty, map, depth, refs)?;
            Some(format!("{name} = {v}"))
        }
        Member::Group { name, body, .. } => {
            let parts = members_literal(snap, rng, body, map, depth, refs);
            Some(format!("{name} = ({})", parts.join(", ")))
        }
        Member::Union {
            name: Some(name),
            body,
            ..
        } => {
            let chosen = body.choose(rng)?;
            let a = member_assignment(snap, rng, chosen, map, depth, refs)?;
            Some(format!("{name} = ({a})"))
        }
        _ => None,
    }
}

fn prim_value(rng: &mut Pcg64, p: Prim) -> String {
    let int = |rng: &mut Pcg64, min: i128, max: i128| -> String {
        let v: i128 = match rng.gen_range(0..6) {
            0 => min,
            1 => max,
            2 => 0,
            3 => rng.gen_range(-3i128..=3).clamp(min, max),
            _ => rng.gen_range(min..=max),
        };
        match rng.gen_range(0..6) {
            0 if v >= 0 => format!("{v:#x}"),
            1 if v < 0 => format!("-{:#x}", -v),
            2 if v > 0 => format!("0{v:o}"),
            _ => v.to_string(),
        }
    };
    match p {
        Prim::Void => "void".to_owned(),
        Prim::Bool => ["true", "false"].choose(rng).unwrap().to_string(),
        Prim::Int8 => int(rng, i8::MIN.into(), i8::MAX.into()),
        Prim::Int16 => int(rng, i16::MIN.into(), i16::MAX.into()),
        Prim::Int32 => int(rng, i32::MIN.into(), i32::MAX.into()),
        Prim::Int64 => int(rng, i64::MIN.into(), i64::MAX.into()),
        Prim::UInt8 => int(rng, 0, u8::MAX.into()),
        Prim::UInt16 => int(rng, 0, u16::MAX.into()),
        Prim::UInt32 => int(rng, 0, u32::MAX.into()),
        Prim::UInt64 => int(rng, 0, u64::MAX.into()),
        Prim::Float32 | Prim::Float64 => {
            let max_exp = if p == Prim::Float32 { 30 } else { 300 };
            match rng.gen_range(0..12) {
                0 => "inf".to_owned(),
                1 => "-inf".to_owned(),
                2 => "nan".to_owned(),
                3 => match rng.gen_range(0..3) {
                    0 => format!("{:#x}", rng.gen_range(0u32..100_000)),
                    1 => format!("0{:o}", rng.gen_range(1u32..100_000)),
                    _ => rng.gen_range(-1000i64..1000).to_string(),
                },
                4 => format!("{}", rng.gen::<f32>()),
                5 => format!("{}", rng.gen::<f64>() * 1e6 - 5e5),
                6 => "0.1".to_owned(),
                7 => "-0.0".to_owned(),
                _ => {
                    let sign = if rng.gen_bool(0.3) { "-" } else { "" };
                    let int_part = rng.gen_range(0u32..100_000);
                    let frac = if rng.gen_bool(0.6) {
                        format!(".{}", rng.gen_range(0u32..1_000_000))
                    } else {
                        String::new()
                    };
                    let exp = if rng.gen_bool(0.4) || frac.is_empty() {
                        let e = rng.gen_range(-max_exp..=max_exp);
                        let letter = if rng.gen_bool(0.5) { "e" } else { "E" };
                        match rng.gen_range(0..3) {
                            0 if e >= 0 => format!("{letter}+{e}"),
                            _ => format!("{letter}{e}"),
                        }
                    } else {
                        String::new()
                    };
                    format!("{sign}{int_part}{frac}{exp}")
                }
            }
        }
    }
}

fn text_value(rng: &mut Pcg64) -> String {
    const PIECES: &[&str] = &[
        "a",
        "b",
        "hello",
        " ",
        "world",
        "\\n",
        "\\t",
        "\\\\",
        "\\\"",
        "\\'",
        "\\x41",
        "\\x7f",
        "\\101",
        "\\0",
        "\\r",
        "\\a",
        "\\b",
        "\\f",
        "\\v",
        "\\?",
        "é",
        "日本",
        "€",
        "#",
        "'",
        "{",
        "}",
        "(",
        ")",
        "0x\\\"",
        "\\xff",
        "\\xc3\\xa9",
        "\\x00",
        "\\177",
    ];
    let n = rng.gen_range(0..=6);
    let s: String = (0..n).map(|_| *PIECES.choose(rng).unwrap()).collect();
    format!("\"{s}\"")
}

fn data_value(rng: &mut Pcg64) -> String {
    if rng.gen_bool(0.3) {
        return text_value(rng);
    }
    // capnp 0.9.2 cannot parse an empty `0x""`.
    let n = rng.gen_range(1..=8);
    let mut s = String::new();
    for i in 0..n {
        if i > 0 && rng.gen_bool(0.4) {
            s.push(' ');
        }
        let b: u8 = rng.gen();
        if rng.gen_bool(0.5) {
            let _ = write!(s, "{b:02x}");
        } else {
            let _ = write!(s, "{b:02X}");
        }
    }
    format!("0x\"{s}\"")
}

// -------------------------------------------------------------------------------------------
// Printing
// -------------------------------------------------------------------------------------------

/// The path of a file-scope annotation or constant (`Lib.name` when imported).
fn decl_path(snap: &[Decl], d: usize) -> String {
    let names: Vec<&str> = chain_of(snap, d)
        .iter()
        .map(|&c| snap[c].name.as_str())
        .collect();
    let path = names.join(".");
    if snap[d].external {
        format!("Lib.{path}")
    } else {
        path
    }
}

/// `:Type`, or `: .Type` (`:.` would be one operator).
fn colon(ty: &str) -> String {
    if ty.starts_with('.') {
        format!(": {ty}")
    } else {
        format!(":{ty}")
    }
}

struct Printer<'a> {
    decls: &'a [Decl],
    import_alias: String,
    out: String,
}

impl Printer<'_> {
    fn ty(&self, ty: &Ty, scope: Option<usize>) -> String {
        match ty {
            Ty::Prim(p) => p.name().to_owned(),
            Ty::Text => "Text".to_owned(),
            Ty::Data => "Data".to_owned(),
            Ty::List(e) => format!("List({})", self.ty(e, scope)),
            Ty::AnyPointer => "AnyPointer".to_owned(),
            Ty::AnyStruct => "AnyStruct".to_owned(),
            Ty::AnyList => "AnyList".to_owned(),
            Ty::Capability => "Capability".to_owned(),
            Ty::Param(p) => p.clone(),
            Ty::Raw(t) => (*t).to_owned(),
            Ty::Named(r) => self.named(r, scope),
        }
    }

    fn named(&self, r: &Ref, scope: Option<usize>) -> String {
        let decls = self.decls;
        let chain = chain_of(decls, r.decl);
        let start = r
            .from
            .map_or(0, |f| chain.iter().position(|&c| c == f).unwrap() + 1);
        let mut parts: Vec<String> = Vec::new();
        if start == 0 && decls[r.decl].external {
            parts.push(self.import_alias.clone());
        } else if start == 0 && self.lookup(&decls[chain[0]].name, scope) != Some(chain[0]) {
            // Shadowed by a nested declaration of the same name: from the file scope.
            parts.push(String::new());
        } else {
            debug_assert_eq!(
                self.lookup(&decls[chain[start]].name, scope),
                Some(chain[start]),
                "{:?} from {scope:?}",
                r
            );
        }
        for &c in &chain[start..] {
            let mut s = decls[c].name.clone();
            if let Some((_, args)) = r.args.iter().find(|(level, _)| *level == c) {
                let a: Vec<String> = args.iter().map(|a| self.ty(a, scope)).collect();
                let _ = write!(s, "({})", a.join(", "));
            }
            parts.push(s);
        }
        parts.join(".")
    }

    /// What `name` means in `scope`: the innermost declaration of that name in the scope or
    /// around it (declarations of this file only).
    fn lookup(&self, name: &str, scope: Option<usize>) -> Option<usize> {
        let mut s = scope;
        loop {
            let found = (0..self.decls.len()).find(|&i| {
                !self.decls[i].external && self.decls[i].parent == s && self.decls[i].name == name
            });
            if found.is_some() {
                return found;
            }
            s = self.decls[s?].parent;
        }
    }

    fn line(&mut self, indent: usize, text: &str) {
        for _ in 0..indent {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    /// A declaration's text, then its trailing doc comment.
    fn line_doc(&mut self, indent: usize, text: &str, doc: &[String]) {
        let mut first = text.to_owned();
        let mut rest = doc;
        if let Some((d, tail)) = doc.split_first() {
            let _ = write!(first, "  #{d}");
            rest = tail;
        }
        self.line(indent, &first);
        for d in rest {
            self.line(indent, &format!("#{d}"));
        }
    }

    fn doc_block(&mut self, indent: usize, doc: &[String]) {
        for d in doc {
            self.line(indent, &format!("#{d}"));
        }
    }

    fn anns(anns: &[String]) -> String {
        anns.iter().map(|a| format!(" {a}")).collect()
    }

    fn id(id: Option<u64>) -> String {
        id.map(|i| format!(" @{i:#018x}")).unwrap_or_default()
    }

    fn params(params: &[String]) -> String {
        if params.is_empty() {
            String::new()
        } else {
            format!("({})", params.join(", "))
        }
    }

    fn decl(&mut self, d: usize, indent: usize) {
        let decls = self.decls;
        let decl = &decls[d];
        let scope = Some(d);
        let anns = Self::anns(&decl.anns);
        let id = Self::id(decl.id);
        match decl.kind {
            Kind::Struct => {
                let head = format!(
                    "struct {}{id}{}{anns} {{",
                    decl.name,
                    Self::params(&decl.params)
                );
                self.line(indent, &head);
                self.doc_block(indent + 1, &decl.doc);
                self.members(&decl.members, d, indent + 1);
                self.line(indent, "}");
            }
            Kind::Iface => {
                let extends = if decl.extends.is_empty() {
                    String::new()
                } else {
                    let s: Vec<String> = decl.extends.iter().map(|t| self.ty(t, scope)).collect();
                    format!(" extends({})", s.join(", "))
                };
                let head = format!(
                    "interface {}{id}{}{extends}{anns} {{",
                    decl.name,
                    Self::params(&decl.params)
                );
                self.line(indent, &head);
                self.doc_block(indent + 1, &decl.doc);
                self.members(&decl.members, d, indent + 1);
                self.line(indent, "}");
            }
            Kind::Enum => {
                self.line(indent, &format!("enum {}{id}{anns} {{", decl.name));
                self.doc_block(indent + 1, &decl.doc);
                for e in &decl.enumerants {
                    let text = format!("{} @{}{};", e.name, e.ordinal, Self::anns(&e.anns));
                    self.line_doc(indent + 1, &text, &e.doc);
                }
                self.line(indent, "}");
            }
            Kind::Const => {
                let ty = self.ty(decl.ty.as_ref().unwrap(), decl.parent);
                let v = decl.value.as_deref().unwrap();
                let text = format!("const {}{id} {} = {v}{anns};", decl.name, colon(&ty));
                self.line_doc(indent, &text, &decl.doc);
            }
            Kind::Annotation => {
                let targets = match &decl.targets {
                    None => "*".to_owned(),
                    Some(t) => t.join(", "),
                };
                let ty = self.ty(decl.ty.as_ref().unwrap(), decl.parent);
                let ty = colon(&ty);
                let text = format!("annotation {}{id} ({targets}) {ty}{anns};", decl.name);
                self.line_doc(indent, &text, &decl.doc);
            }
            Kind::Alias => {
                let ty = self.ty(decl.ty.as_ref().unwrap(), decl.parent);
                self.line(indent, &format!("using {} = {ty};", decl.name));
            }
        }
    }

    fn members(&mut self, members: &[Member], d: usize, indent: usize) {
        let scope = Some(d);
        for m in members {
            match m {
                Member::Field {
                    name,
                    ordinal,
                    ty,
                    default,
                    anns,
                    doc,
                } => {
                    let ty = self.ty(ty, scope);
                    let default = default
                        .as_ref()
                        .map(|v| format!(" = {v}"))
                        .unwrap_or_default();
                    let ty = colon(&ty);
                    let text = format!("{name} @{ordinal} {ty}{default}{};", Self::anns(anns));
                    self.line_doc(indent, &text, doc);
                }
                Member::Group {
                    name,
                    body,
                    anns,
                    doc,
                } => {
                    self.line(indent, &format!("{name} :group{} {{", Self::anns(anns)));
                    self.doc_block(indent + 1, doc);
                    self.members(body, d, indent + 1);
                    self.line(indent, "}");
                }
                Member::Union {
                    name,
                    ordinal,
                    body,
                    anns,
                    doc,
                } => {
                    let head = match name {
                        Some(n) => {
                            let o = ordinal.map(|o| format!(" @{o}!")).unwrap_or_default();
                            format!("{n}{o} :union{} {{", Self::anns(anns))
                        }
                        None => "union {".to_owned(),
                    };
                    self.line(indent, &head);
                    self.doc_block(indent + 1, doc);
                    self.members(body, d, indent + 1);
                    self.line(indent, "}");
                }
                Member::Method(method) => {
                    let implicit = if method.implicit.is_empty() {
                        String::new()
                    } else {
                        format!(" [{}]", method.implicit.join(", "))
                    };
                    let params = self.param_list(&method.params, scope);
                    let results = method
                        .results
                        .as_ref()
                        .map(|r| format!(" -> {}", self.param_list(r, scope)))
                        .unwrap_or_default();
                    let text = format!(
                        "{} @{}{implicit} {params}{results}{};",
                        method.name,
                        method.ordinal,
                        Self::anns(&method.anns)
                    );
                    self.line_doc(indent, &text, &method.doc);
                }
                Member::Nested(n) => self.decl(*n, indent),
            }
        }
    }

    fn param_list(&self, list: &ParamList, scope: Option<usize>) -> String {
        match list {
            ParamList::Struct(t) => self.ty(t, scope),
            ParamList::Stream => "stream".to_owned(),
            ParamList::Named(params) => {
                let ps: Vec<String> = params
                    .iter()
                    .map(|p| {
                        let default = p
                            .default
                            .as_ref()
                            .map(|v| format!(" = {v}"))
                            .unwrap_or_default();
                        format!(
                            "{} {}{default}{}",
                            p.name,
                            colon(&self.ty(&p.ty, scope)),
                            Self::anns(&p.anns)
                        )
                    })
                    .collect();
                format!("({})", ps.join(", "))
            }
        }
    }
}

impl SchemaGen {
    fn print(&self) -> String {
        let mut p = Printer {
            decls: &self.decls,
            import_alias: "Lib".to_owned(),
            out: String::new(),
        };
        if let Some(c) = &self.leading_comment {
            p.line(0, &format!("# {c}"));
        }
        p.line(0, &format!("@{:#018x};", self.file_id));
        p.doc_block(0, &self.file_doc);
        if let Some(import) = &self.import {
            p.line(
                0,
                &format!("using {} = import \"{}\";", import.alias, import.path),
            );
        }
        for a in &self.file_anns {
            p.line(0, &format!("{a};"));
        }
        for &d in &self.top {
            p.decl(d, 0);
        }
        p.out
    }
}

/// A generated library file: its text and its generator (for the declarations).
fn gen_lib(seed: u64) -> SchemaGen {
    let mut lib = SchemaGen::new(seed, LIB_CONFIG, None);
    lib.generate();
    lib
}

/// A generated case file, importing `lib` (named `lib_name` on disk) half of the time.
fn gen_case(seed: u64, cfg: Config, lib: Option<(&SchemaGen, &str)>) -> (String, bool) {
    let mut rng = Pcg64::seed_from_u64(seed ^ 0xabcd);
    let import = match lib {
        Some((lib, name)) if rng.gen_bool(0.5) => {
            let path = if rng.gen_bool(0.5) {
                name.to_owned()
            } else {
                format!("/{name}")
            };
            Some((
                lib,
                Import {
                    alias: "Lib".to_owned(),
                    path,
                },
            ))
        }
        _ => None,
    };
    let imports = import.is_some();
    let mut g = SchemaGen::new(seed, cfg, import);
    g.generate();
    let text = g.print();
    let text = match rng.gen_range(0..20) {
        0 | 1 => respace(&mut rng, &text, false),
        2 | 3 => respace(&mut rng, &text, true),
        4 => text.replace('\n', "\r\n"),
        _ => text,
    };
    (text, imports)
}

fn is_operator(c: char) -> bool {
    "!$%&*+-./:<=>?@^|~".contains(c)
}

/// Rewrites the blanks between tokens on a line: none where the tokens stay apart anyway
/// (`x@0:Int32=5;`), or several blanks, tabs and line breaks (`spacious`). Comments and the
/// blanks next to them stay as they are, so doc comments keep their declarations.
fn respace(rng: &mut Pcg64, text: &str, spacious: bool) -> String {
    let toks = tokens(text);
    let wordish = |t: &str| {
        t.chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '"')
    };
    let starts_wordish = |t: &str| {
        t.chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '"')
    };
    let mut out = String::new();
    for (i, t) in toks.iter().enumerate() {
        let is_blank = !t.is_empty() && t.chars().all(|c| c == ' ');
        let prev = i.checked_sub(1).map(|j| toks[j].as_str()).unwrap_or("\n");
        let next = toks.get(i + 1).map(String::as_str).unwrap_or("\n");
        let near_comment = prev.starts_with('#') || next.starts_with('#');
        let at_line_edge = prev.ends_with('\n') || next.starts_with('\n') || i == 0;
        if !is_blank || near_comment || at_line_edge {
            out.push_str(t);
        } else if spacious {
            out.push_str(
                ["  ", "\t", " \t ", "\n      ", "\n\n  "]
                    .choose(rng)
                    .unwrap(),
            );
        } else if (wordish(prev) && starts_wordish(next))
            || (prev.ends_with(is_operator) && next.starts_with(is_operator))
            || next.starts_with('.')
        {
            // Words stay apart, and so do operators (capnp lexes `=-` as one operator), and
            // `@0 .Foo` must not become a number.
            out.push(' ');
        } else {
            // e.g. `@0 :` or `= (`.
        }
    }
    out
}

// ===========================================================================================
// Running the compilers
// ===========================================================================================

#[derive(Debug)]
enum Outcome {
    Accepted(Vec<u8>),
    Rejected(String),
    Crashed(String),
}

/// `capnp compile -o- --src-prefix=DIR -I DIR FILES...`, with a time limit.
fn run_capnp(tool: &Path, dir: &Path, files: &[String]) -> Outcome {
    let mut args: Vec<OsString> = vec!["compile".into(), "-o-".into()];
    args.push(format!("--src-prefix={}", dir.display()).into());
    args.push(format!("--import-path={}", dir.display()).into());
    for f in files {
        args.push(dir.join(f).into_os_string());
    }
    let mut child = match Command::new(tool)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return Outcome::Crashed(format!("cannot run {}: {e}", tool.display())),
    };
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Outcome::Crashed(format!("capnp took more than {TIMEOUT:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => return Outcome::Crashed(format!("waiting for capnp: {e}")),
        }
    };
    let out = out_thread.join().unwrap_or_default();
    let err = String::from_utf8_lossy(&err_thread.join().unwrap_or_default()).into_owned();
    if status.success() {
        Outcome::Accepted(out)
    } else if status.code().is_some() {
        Outcome::Rejected(err)
    } else {
        Outcome::Crashed(format!("capnp died ({status}):\n{err}"))
    }
}

/// How our compiler is given the files.
#[derive(Clone, Copy, Debug)]
enum Feed {
    /// Paths on disk, with `src_prefix` and `import_path` set to the directory.
    Disk,
    /// In-memory sources named as `capnp` names the files.
    Memory,
}

/// Our compiler on `files` (and, for `Feed::Memory`, the `extra` files they may import), in a
/// thread, catching panics, with a time limit.
fn run_ours(dir: &Path, files: &[String], extra: &[String], feed: Feed) -> Outcome {
    let dir = dir.to_owned();
    let files = files.to_vec();
    let extra = extra.to_vec();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut c = Compiler::new();
            let names: Vec<String> = match feed {
                Feed::Disk => {
                    c = c.src_prefix(&dir).import_path(&dir);
                    files
                        .iter()
                        .map(|f| dir.join(f).to_string_lossy().into_owned())
                        .collect()
                }
                Feed::Memory => {
                    for f in files.iter().chain(&extra) {
                        let text = std::fs::read_to_string(dir.join(f)).unwrap_or_default();
                        c = c.add_source(f.as_str(), text);
                    }
                    files.clone()
                }
            };
            c.compile(&names)
        }));
        let outcome = match result {
            Ok(Ok(compiled)) => Outcome::Accepted(compiled.request_bytes().to_vec()),
            Ok(Err(e)) => Outcome::Rejected(e.to_string()),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "<non-string panic>".to_owned());
                Outcome::Crashed(format!("our compiler panicked: {msg}"))
            }
        };
        let _ = tx.send(outcome);
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(o) => o,
        Err(_) => Outcome::Crashed(format!("our compiler took more than {TIMEOUT:?}")),
    }
}

/// The differences between the two compilers on `files`, or `Err` when `capnp` rejects them.
fn differences(
    tool: &Path,
    dir: &Path,
    files: &[String],
    extra: &[String],
    feed: Feed,
) -> Result<Vec<String>, String> {
    let expected = match run_capnp(tool, dir, files) {
        Outcome::Accepted(bytes) => bytes,
        Outcome::Rejected(e) | Outcome::Crashed(e) => return Err(e),
    };
    Ok(match run_ours(dir, files, extra, feed) {
        Outcome::Accepted(actual) => diff_requests(&expected, &actual, &CompareOptions::default()),
        Outcome::Rejected(e) => vec![format!("our compiler rejected it:\n{e}")],
        Outcome::Crashed(e) => vec![e],
    })
}

fn write_file(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

fn numbered(text: &str) -> String {
    text.lines()
        .enumerate()
        .map(|(i, l)| format!("{:4} | {l}\n", i + 1))
        .collect()
}

// ===========================================================================================
// Test 1: generated schemas compile to the same requests
// ===========================================================================================

struct Failure {
    what: String,
    files: Vec<(String, String)>,
    diffs: Vec<String>,
}

#[test]
fn fuzz_layouts_match_capnp() {
    let tool = common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let seed = run_seed();
    let cases = env_u64("SERDE_CAPNP_FUZZ_CASES").unwrap_or(DEFAULT_CASES);
    let only = env_u64("SERDE_CAPNP_FUZZ_ONLY");
    eprintln!(
        "compiler_fuzz: SERDE_CAPNP_FUZZ_SEED={seed:#x} SERDE_CAPNP_FUZZ_CASES={cases}{}",
        only.map(|o| format!(" SERDE_CAPNP_FUZZ_ONLY={o}"))
            .unwrap_or_default()
    );
    let dir = common::scratch_dir("compiler-fuzz");
    let started = Instant::now();
    let mut failures: Vec<Failure> = Vec::new();
    let mut compared = 0u64;
    let mut refused_344 = 0u64;

    let all: Vec<u64> = match only {
        Some(o) => vec![o],
        None => (0..cases).collect(),
    };
    for batch in all.chunks(BATCH as usize) {
        if failures.len() >= max_failures() {
            break;
        }
        let b = batch[0] / BATCH;
        // Every third library is in a subdirectory.
        let lib_name = if b % 3 == 2 {
            format!("sub_{b}/lib_{b}.capnp")
        } else {
            format!("lib_{b}.capnp")
        };
        let lib = gen_lib(case_seed(seed, 1, b));
        let lib_text = lib.print();
        write_file(&dir, &lib_name, &lib_text);
        let mut files = Vec::new();
        let mut texts = BTreeMap::new();
        for &i in batch {
            let (text, imports) =
                gen_case(case_seed(seed, 0, i), CASE_CONFIG, Some((&lib, &lib_name)));
            let name = format!("case_{i}.capnp");
            write_file(&dir, &name, &text);
            texts.insert(name.clone(), (i, text, imports));
            files.push(name);
        }
        let feed = if b & 1 == 0 { Feed::Disk } else { Feed::Memory };
        let extra = vec![lib_name.clone()];
        let batch_result = differences(&tool, &dir, &files, &extra, feed);
        if matches!(&batch_result, Ok(d) if d.is_empty()) {
            compared += batch.len() as u64;
            continue;
        }
        // Something differs (or capnp rejected a schema): find which cases, one by one.
        let mut found = false;
        for name in &files {
            if failures.len() >= max_failures() {
                break;
            }
            let (i, text, imports) = texts[name].clone();
            let mut shown = vec![(name.clone(), text.clone())];
            if imports {
                shown.push((lib_name.clone(), lib_text.clone()));
            }
            match differences(&tool, &dir, std::slice::from_ref(name), &extra, feed) {
                Ok(d) if d.is_empty() => compared += 1,
                Ok(diffs) => {
                    found = true;
                    failures.push(Failure {
                        what: format!("case {i} (seed {:#x}, {feed:?})", case_seed(seed, 0, i)),
                        files: shown,
                        diffs,
                    });
                }
                Err(e) if e.contains("issues/344") => {
                    // capnp 0.9.2 refuses schemas whose layout older versions got wrong
                    // (a nested union growing a slot); ours must refuse them too.
                    match run_ours(&dir, std::slice::from_ref(name), &extra, feed) {
                        Outcome::Rejected(_) => refused_344 += 1,
                        Outcome::Accepted(_) => {
                            found = true;
                            failures.push(Failure {
                                what: format!(
                                    "case {i} (seed {:#x}, {feed:?}): capnp refuses it (issue 344), ours accepts it",
                                    case_seed(seed, 0, i)
                                ),
                                files: shown,
                                diffs: vec![e],
                            });
                        }
                        Outcome::Crashed(ours) => {
                            found = true;
                            failures.push(Failure {
                                what: format!(
                                    "case {i} (seed {:#x}, {feed:?})",
                                    case_seed(seed, 0, i)
                                ),
                                files: shown,
                                diffs: vec![ours],
                            });
                        }
                    }
                }
                Err(e) => {
                    found = true;
                    failures.push(Failure {
                        what: format!(
                            "case {i}: the generator wrote a schema capnp rejects (a bug of this test)"
                        ),
                        files: shown,
                        diffs: vec![e],
                    });
                }
            }
        }
        if !found && !matches!(&batch_result, Err(e) if e.contains("issues/344")) {
            let diffs = match batch_result {
                Ok(d) => d,
                Err(e) => vec![e],
            };
            let mut shown: Vec<(String, String)> = files
                .iter()
                .map(|f| (f.clone(), texts[f].1.clone()))
                .collect();
            shown.push((lib_name.clone(), lib_text.clone()));
            failures.push(Failure {
                what: format!(
                    "batch {b} (cases {}..={}, {feed:?}) differs as a whole, but no case alone does",
                    batch[0],
                    batch[batch.len() - 1]
                ),
                files: shown,
                diffs,
            });
        }
    }
    eprintln!(
        "compiler_fuzz: {compared} schemas identical to `capnp compile -o-`, \
         {refused_344} refused by both (capnp issue 344), in {:.1?}",
        started.elapsed()
    );
    if failures.is_empty() {
        return;
    }
    let report = report_failures(&dir, seed, &failures);
    panic!("{report}");
}

fn report_failures(dir: &Path, seed: u64, failures: &[Failure]) -> String {
    let mut report = format!(
        "{} failure(s) (SERDE_CAPNP_FUZZ_SEED={seed:#x}; files in {}):\n",
        failures.len(),
        dir.display()
    );
    for (n, f) in failures.iter().enumerate() {
        let saved = dir.join(format!("failure_{n}"));
        let _ = std::fs::create_dir_all(&saved);
        let _ = writeln!(report, "\n==== failure {n}: {} ====", f.what);
        for (name, text) in &f.files {
            write_file(&saved, name, text);
            let _ = writeln!(report, "---- {name} ----\n{}", numbered(text));
        }
        let _ = writeln!(report, "saved in {}", saved.display());
        let _ = writeln!(report, "---- differences ----\n{}", f.diffs.join("\n\n"));
    }
    report
}

// ===========================================================================================
// Test 2: mutated schemas: no panic, same verdict
// ===========================================================================================

const VOCABULARY: &[&str] = &[
    "struct",
    "union",
    "group",
    "enum",
    "interface",
    "const",
    "annotation",
    "using",
    "import",
    "extends",
    "@0",
    "@1",
    "@7",
    "@65535",
    "@0x8000000000000000",
    ":",
    ";",
    "=",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ",",
    ".",
    "$",
    "#",
    "\"",
    "Text",
    "Data",
    "Int32",
    "List",
    "AnyPointer",
    "Void",
    "void",
    "true",
    "inf",
    "-",
    "0x",
    "!",
    "->",
    "*",
    "foo",
    "Foo",
    "stream",
    "18446744073709551615",
    "18446744073709551616",
    "0x1ffffffffffffffff",
    "0777",
    "1e999",
    "\"\\x\"",
    "0x\"\"",
    "embed",
    "generic",
    "namespace",
];

/// Splits a schema into tokens (keeping whitespace as tokens, so joining restores it).
fn tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_alphanumeric() || c == '_' {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
        } else if c.is_whitespace() {
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
        } else if c == '#' {
            // A comment, to the end of the line.
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' && chars[i] != '\n' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(chars.len());
        } else {
            i += 1;
        }
        out.push(chars[start..i].iter().collect());
    }
    out
}

/// Applies 1 to 3 random mutations; returns the text and what was done.
fn mutate(rng: &mut Pcg64, text: &str) -> (String, Vec<String>) {
    let mut toks = tokens(text);
    let mut done = Vec::new();
    for _ in 0..rng.gen_range(1..=3) {
        let significant: Vec<usize> = (0..toks.len())
            .filter(|&i| !toks[i].trim().is_empty())
            .collect();
        if significant.is_empty() {
            break;
        }
        let at = *significant.choose(rng).unwrap();
        match rng.gen_range(0..9) {
            0 => {
                done.push(format!("deleted token {:?}", toks[at]));
                toks.remove(at);
            }
            1 => {
                done.push(format!("duplicated token {:?}", toks[at]));
                let t = toks[at].clone();
                toks.insert(at, t);
            }
            2 => {
                let other = *significant.choose(rng).unwrap();
                done.push(format!(
                    "swapped tokens {:?} and {:?}",
                    toks[at], toks[other]
                ));
                toks.swap(at, other);
            }
            3 => {
                let other = toks[*significant.choose(rng).unwrap()].clone();
                done.push(format!("replaced token {:?} by {other:?}", toks[at]));
                toks[at] = other;
            }
            4 => {
                let v = VOCABULARY.choose(rng).unwrap().to_string();
                done.push(format!("inserted {v:?} before {:?}", toks[at]));
                toks.insert(at, format!("{v} "));
            }
            5 if toks[at].chars().all(|c| c.is_ascii_digit()) => {
                let n: u64 = toks[at].parse().unwrap_or(0);
                let new = match rng.gen_range(0..4) {
                    0 => n + 1,
                    1 => n.saturating_sub(1),
                    2 => rng.gen_range(0..10),
                    _ => rng.gen_range(0..70000),
                };
                done.push(format!("number {n} -> {new}"));
                toks[at] = new.to_string();
            }
            _ => {
                // A character level change.
                let mut chars: Vec<char> = toks[at].chars().collect();
                let pos = rng.gen_range(0..chars.len());
                let printable = (0x20u8..0x7f).map(char::from).collect::<Vec<_>>();
                match rng.gen_range(0..3) {
                    0 => {
                        done.push(format!("deleted {:?} in {:?}", chars[pos], toks[at]));
                        chars.remove(pos);
                    }
                    1 => {
                        let c = *printable.choose(rng).unwrap();
                        done.push(format!("inserted {c:?} in {:?}", toks[at]));
                        chars.insert(pos, c);
                    }
                    _ => {
                        let c = *printable.choose(rng).unwrap();
                        done.push(format!(
                            "replaced {:?} by {c:?} in {:?}",
                            chars[pos], toks[at]
                        ));
                        chars[pos] = c;
                    }
                }
                toks[at] = chars.into_iter().collect();
            }
        }
    }
    (toks.concat(), done)
}

#[test]
fn fuzz_mutations_agree_with_capnp() {
    let tool = common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let seed = run_seed();
    let cases = env_u64("SERDE_CAPNP_FUZZ_MUTATIONS").unwrap_or(DEFAULT_MUTATIONS);
    let only = env_u64("SERDE_CAPNP_FUZZ_ONLY");
    eprintln!("compiler_fuzz mutations: SERDE_CAPNP_FUZZ_SEED={seed:#x} SERDE_CAPNP_FUZZ_MUTATIONS={cases}");
    let dir = common::scratch_dir("compiler-fuzz-mutations");
    let started = Instant::now();
    let mut failures: Vec<Failure> = Vec::new();
    let (mut accepted, mut rejected) = (0, 0);
    let all: Vec<u64> = match only {
        Some(o) => vec![o],
        None => (0..cases).collect(),
    };
    for i in all {
        if failures.len() >= max_failures() {
            break;
        }
        let s = case_seed(seed, 2, i);
        let (original, _) = gen_case(s, MUTATION_CONFIG, None);
        let mut rng = Pcg64::seed_from_u64(s ^ 0x5a5a);
        let (text, done) = mutate(&mut rng, &original);
        let name = format!("mut_{i}.capnp");
        write_file(&dir, &name, &text);
        let files = vec![name.clone()];
        let theirs = run_capnp(&tool, &dir, &files);
        let ours = run_ours(&dir, &files, &[], Feed::Memory);
        let what = format!("mutation case {i} (seed {s:#x}): {}", done.join("; "));
        let problem = match (&theirs, &ours) {
            (_, Outcome::Crashed(e)) => Some(vec![e.clone()]),
            (Outcome::Crashed(e), _) => {
                eprintln!("capnp crashed on {name} ({e}); not compared");
                None
            }
            (Outcome::Accepted(expected), Outcome::Accepted(actual)) => {
                accepted += 1;
                let diffs = diff_requests(expected, actual, &CompareOptions::default());
                (!diffs.is_empty()).then_some(diffs)
            }
            (Outcome::Rejected(_), Outcome::Rejected(_)) => {
                rejected += 1;
                None
            }
            (Outcome::Accepted(_), Outcome::Rejected(e)) => Some(vec![format!(
                "capnp accepts it, our compiler rejects it:\n{e}"
            )]),
            (Outcome::Rejected(e), Outcome::Accepted(_)) => Some(vec![format!(
                "capnp rejects it, our compiler accepts it; capnp says:\n{}",
                e.trim_end()
            )]),
        };
        if let Some(diffs) = problem {
            failures.push(Failure {
                what,
                files: vec![(name, text)],
                diffs,
            });
        }
    }
    eprintln!(
        "compiler_fuzz mutations: {accepted} accepted and {rejected} rejected by both, in {:.1?}",
        started.elapsed()
    );
    if !failures.is_empty() {
        panic!("{}", report_failures(&dir, seed, &failures));
    }
}

// ===========================================================================================
// Self-checks of the generator (no tools needed)
// ===========================================================================================

#[test]
fn generator_is_deterministic_and_varied() {
    let a = gen_case(42, CASE_CONFIG, None).0;
    let b = gen_case(42, CASE_CONFIG, None).0;
    assert_eq!(a, b);
    let mut all = String::new();
    for i in 0..200 {
        let lib = gen_lib(case_seed(7, 1, i));
        all.push_str(&gen_case(case_seed(7, 0, i), CASE_CONFIG, Some((&lib, "lib.capnp"))).0);
    }
    for needle in [
        "struct ",
        "enum ",
        "interface ",
        "const ",
        "annotation ",
        "using ",
        ":union",
        "union {",
        ":group",
        "List(List(",
        "extends(",
        "-> (",
        " [",
        "$",
        "= (",
        "= [",
        "0x\"",
        "Lib.",
        "AnyPointer",
        "Capability",
        "@0x",
        "! :union",
        "#",
    ] {
        assert!(
            all.contains(needle),
            "the generator never writes {needle:?}"
        );
    }
}

#[test]
fn mutation_tokens_round_trip() {
    let text = gen_case(3, CASE_CONFIG, None).0;
    assert_eq!(tokens(&text).concat(), text);
}
