//! The fuzz targets: one per read, write or schema path of the public API.
//!
//! A target takes the raw case bytes and returns a signature of what happened (which error, or
//! success). A wrong answer that is not a crash (a message the library writes but cannot read
//! back, say) is turned into a panic whose message starts with `oracle:`, so that every finding
//! reaches the supervisor the same way: as the death of the worker.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use serde_capnp::{Error, ReadOptions, Schema, StructSchema};

use crate::mutate::Shape;

mod cgr;
mod compiler;
mod input;
mod messages;
pub mod seeds;
mod serializer;

/// One fuzz target.
pub struct Target {
    /// The name given on the command line and used for the artifacts folder.
    pub name: &'static str,
    /// What the case bytes are, for the mutator.
    pub shape: Shape,
    /// One line for `--list`.
    pub about: &'static str,
    /// The starting corpus.
    pub seeds: fn(&Ctx) -> Vec<Vec<u8>>,
    /// Tokens the text mutator inserts.
    pub dict: fn(&Ctx) -> Vec<String>,
    /// Runs one case.
    pub run: fn(&Ctx, &[u8]) -> u64,
}

/// Every target, in the order `all` runs them.
pub fn all() -> Vec<Target> {
    let mut targets = messages::targets();
    targets.extend(input::targets());
    targets.extend(compiler::targets());
    targets.extend(cgr::targets());
    targets.extend(serializer::targets());
    targets
}

/// The target named `name` (`selftest` too, which `all` leaves out).
pub fn find(name: &str) -> Option<Target> {
    all()
        .into_iter()
        .chain([selftest()])
        .find(|t| t.name == name)
}

/// A target that fails on purpose, each way a case can fail, so that the supervisor's
/// handling of each is tested: the first byte picks success (0), a panic (1), a stack
/// overflow (2), an allocation past any ceiling (3), a hang (4) or an abort (5).
pub fn selftest() -> Target {
    Target {
        name: "selftest",
        shape: Shape::Program,
        about: "fails on purpose, to test the supervisor",
        seeds: |_| vec![vec![0]],
        dict: |_| Vec::new(),
        run: |_, case| {
            fn recurse(n: u64) -> u64 {
                let frame = std::hint::black_box([n; 64]);
                if frame[0] == u64::MAX {
                    return 0;
                }
                frame[(n % 64) as usize] + recurse(n + 1)
            }
            match case.first().copied().unwrap_or(0) {
                1 => panic!("selftest: a panic as asked"),
                2 => recurse(0),
                3 => std::hint::black_box(vec![1u8; 1 << 40]).len() as u64,
                4 => loop {
                    std::thread::sleep(std::time::Duration::from_secs(1));
                },
                5 => std::process::abort(),
                _ => 0,
            }
        },
    }
}

/// What every target shares: the repository's compiled schemas and their struct handles.
pub struct Ctx {
    /// Each compiled schema of `schemas/compiled/`, by file stem.
    pub schemas: Vec<(String, Schema)>,
    /// Every struct that is not a group, in every schema (by schema and ID): the roots the
    /// untyped targets read messages as.
    roots: Vec<(usize, u64)>,
}

impl Ctx {
    /// Loads the compiled schemas.
    pub fn load() -> Ctx {
        let dir = repo_root().join("schemas/compiled");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot list `{}`: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "bin"))
            .collect();
        files.sort();
        let mut schemas = Vec::new();
        let mut roots = Vec::new();
        for path in files {
            let bytes = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("cannot read `{}`: {e}", path.display()));
            let schema = Schema::from_code_generator_request(&bytes)
                .unwrap_or_else(|e| panic!("cannot load `{}`: {e}", path.display()));
            for node in schema.pool().nodes() {
                if node.as_struct().is_some_and(|s| !s.is_group) {
                    roots.push((schemas.len(), node.id));
                }
            }
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            schemas.push((stem, schema));
        }
        Ctx { schemas, roots }
    }

    /// The schema compiled from `schemas/{stem}.capnp`.
    pub fn schema(&self, stem: &str) -> &Schema {
        &self
            .schemas
            .iter()
            .find(|(s, _)| s == stem)
            .unwrap_or_else(|| panic!("no compiled schema `{stem}`"))
            .1
    }

    /// The struct `name` of `schemas/{stem}.capnp`.
    pub fn struct_type(&self, stem: &str, name: &str) -> StructSchema {
        self.schema(stem)
            .struct_type(name)
            .unwrap_or_else(|e| panic!("{stem}: {e}"))
    }

    /// How many roots there are.
    pub fn root_count(&self) -> usize {
        self.roots.len()
    }

    /// A new handle (with nothing learnt yet, so that a case does not depend on the ones
    /// before it) for root `index`, taken modulo the number of roots.
    pub fn root(&self, index: usize) -> StructSchema {
        let (schema, id) = self.roots[index % self.roots.len()];
        self.schemas[schema]
            .1
            .struct_by_id(id)
            .expect("a root is a struct")
    }

    /// The index among the roots of the struct `name` of `schemas/{stem}.capnp`.
    pub fn root_index(&self, stem: &str, name: &str) -> usize {
        let id = self.struct_type(stem, name).id();
        let schema = self.schemas.iter().position(|(s, _)| s == stem).unwrap();
        self.roots
            .iter()
            .position(|&r| r == (schema, id))
            .expect("every struct is a root")
    }
}

/// The repository the fuzzer was built from: seeds come from its schemas and tests.
pub fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The two header bytes of a message case: which root to read the message as, and how.
#[derive(Clone, Copy, Debug)]
pub struct Header {
    /// Picks the root (or the typed root) modulo however many there are.
    pub root: u8,
    /// Bits 0–1: the read options; bits 2–3: the API variant; bits 4–7: free for the target.
    pub how: u8,
}

/// Splits a message case into its header and its message (a short case gets zero bytes).
pub fn split_header(case: &[u8]) -> (Header, &[u8]) {
    let root = case.first().copied().unwrap_or(0);
    let how = case.get(1).copied().unwrap_or(0);
    (Header { root, how }, case.get(2..).unwrap_or(&[]))
}

impl Header {
    /// The read options bits 0–1 select: the defaults, a tight traversal limit, a nesting
    /// limit of thousands, or no nesting limit at all (the traversal limit stays the default).
    pub fn options(self) -> ReadOptions {
        let default = ReadOptions::default();
        match self.how & 3 {
            0 => default,
            1 => ReadOptions {
                traversal_limit_in_words: 64,
                nesting_limit: 8,
                ..default
            },
            2 => ReadOptions {
                traversal_limit_in_words: 1 << 20,
                nesting_limit: 5000,
                ..default
            },
            _ => ReadOptions {
                nesting_limit: u32::MAX,
                ..default
            },
        }
    }

    /// The API variant, 0 to 3.
    pub fn variant(self) -> u8 {
        (self.how >> 2) & 3
    }

    /// The free bits.
    pub fn aux(self) -> u8 {
        self.how >> 4
    }

    /// The header of a seed for root `index`.
    pub fn bytes(root: usize, how: u8) -> [u8; 2] {
        [root as u8, how]
    }
}

/// Whether outcomes are printed as they are added (an in-process replay sets this).
pub static VERBOSE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Builds outcome signatures: which errors (category and message, with numbers left out) and
/// successes a case produced. The supervisor keeps a case that gives a signature it has not
/// seen, which steers the mutator towards new error paths without coverage instrumentation.
#[derive(Default)]
pub struct Sig(DefaultHasher);

impl Sig {
    /// A new, empty signature.
    pub fn new() -> Sig {
        Sig::default()
    }

    /// Adds one result.
    pub fn add<T>(&mut self, r: &Result<T, Error>) -> &mut Self {
        match r {
            Ok(_) => {
                if VERBOSE.load(std::sync::atomic::Ordering::Relaxed) {
                    eprintln!("ok");
                }
                1u8.hash(&mut self.0)
            }
            Err(e) => self.error(e),
        }
        self
    }

    /// Adds one error.
    pub fn error(&mut self, e: &Error) {
        if VERBOSE.load(std::sync::atomic::Ordering::Relaxed) {
            eprintln!("error ({:?}): {e}", e.category());
        }
        2u8.hash(&mut self.0);
        format!("{:?}", e.category()).hash(&mut self.0);
        self.text(e.message());
    }

    /// Adds a string, its digits left out (sizes and offsets would make every case new).
    pub fn text(&mut self, s: &str) {
        for c in s.chars().take(160).filter(|c| !c.is_ascii_digit()) {
            c.hash(&mut self.0);
        }
    }

    /// Adds any value.
    pub fn mix(&mut self, v: impl Hash) -> &mut Self {
        v.hash(&mut self.0);
        self
    }

    /// The signature.
    pub fn done(&self) -> u64 {
        self.0.finish()
    }
}

/// Fails the case: something returned a wrong answer rather than crashing.
#[track_caller]
pub fn oracle(what: std::fmt::Arguments<'_>) -> ! {
    panic!("oracle: {what}")
}

/// Splits a framed message into its segments by its table, if the table is sane; for the
/// `from_segments` variants, which take segments without a table.
pub fn segments_of(message: &[u8]) -> Option<Vec<&[u8]>> {
    let count = u32::from_le_bytes(message.get(0..4)?.try_into().ok()?) as usize + 1;
    if count > 64 {
        return None;
    }
    let mut pos = (4 + count * 4).div_ceil(8) * 8;
    let mut out = Vec::new();
    for i in 0..count {
        let words = u32::from_le_bytes(message.get(4 + i * 4..8 + i * 4)?.try_into().ok()?);
        let end = pos.checked_add(words as usize * 8)?;
        out.push(message.get(pos..end)?);
        pos = end;
    }
    Some(out)
}

/// Whether a message of this struct can hold a `Json.Value` (of `/capnp/compat/json.capnp`).
pub fn holds_json_value(st: &StructSchema) -> bool {
    const JSON_VALUE: u64 = 0xa3fa_7845_f919_dd83;
    let (pool, node) = st.pool();
    let mut seen = std::collections::HashSet::new();
    let mut todo = vec![node];
    while let Some(n) = todo.pop() {
        if !seen.insert(n) {
            continue;
        }
        if pool.node(n).id == JSON_VALUE {
            return true;
        }
        let Some(s) = pool.node(n).as_struct() else {
            continue;
        };
        for f in &s.fields {
            let mut ty = match &f.slot {
                serde_capnp::model::FieldSlot::Group { node } => {
                    todo.push(*node);
                    continue;
                }
                serde_capnp::model::FieldSlot::Pointer { ty, .. } => ty,
                _ => continue,
            };
            while let serde_capnp::model::Type::List(elem) = ty {
                ty = elem;
            }
            if let serde_capnp::model::Type::Struct(n, _) = ty {
                todo.push(*n);
            }
        }
    }
    false
}
