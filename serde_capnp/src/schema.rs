//! Schema handles: cheap to clone, shared between threads.

use serde_capnp_schema::compiler::Compiler;
use std::fmt;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use serde_capnp_schema::{Brand, NodeIndex, SchemaPool, StructNode, Type};

use crate::error::{Error, Result};

/// A loaded set of schema files.
///
/// ```
/// # fn main() -> serde_capnp::Result<()> {
/// let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/compiled/addressbook.bin"))?;
/// let schema = serde_capnp::Schema::from_code_generator_request(&bytes)?;
/// let person = schema.struct_type("Person")?;
/// assert_eq!(person.name(), "Person");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Schema {
    pool: Arc<SchemaPool>,
}

/// Options for reading messages: the traversal, amplification and nesting limits.
///
/// The defaults protect a reader against hostile messages; see the crate's memory contract
/// (`docs/limits.md` in the repository) for what they bound:
///
/// - at most 8 Mi words (64 MiB) traversed by one read, as in the reference implementation;
/// - at most 8 words traversed per word of the message (a message counts as at least 1,024
///   words), which bounds what overlapping pointers, zero-size list elements and default
///   values can make a small message decode into;
/// - at most 64 levels of nested structs and lists. Whatever this limit, a read also stops
///   with the same error before it uses more than 1 MiB of stack.
///
/// ```
/// use serde_capnp::ReadOptions;
/// let options = ReadOptions::default().traversal_limit_in_words(1 << 30).nesting_limit(200);
/// assert_eq!(options.amplification_limit, 8);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    /// How many words a read may traverse in all. Every struct, list element (at least one
    /// word each, even when zero-size), blob word and default value read counts, as does every
    /// schema field a reader fills from nothing when a struct is shorter than its schema.
    pub traversal_limit_in_words: u64,
    /// How many words a read may traverse per word of the message (a message counts as at
    /// least 1,024 words); 0 turns this limit off and leaves only the traversal limit.
    pub amplification_limit: u32,
    /// How deeply structs and lists may nest.
    pub nesting_limit: u32,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            traversal_limit_in_words: 8 * 1024 * 1024,
            amplification_limit: 8,
            nesting_limit: 64,
        }
    }
}

impl ReadOptions {
    /// These options with another traversal limit.
    pub fn traversal_limit_in_words(mut self, words: u64) -> Self {
        self.traversal_limit_in_words = words;
        self
    }

    /// These options with another amplification limit (0: none).
    pub fn amplification_limit(mut self, words_per_word: u32) -> Self {
        self.amplification_limit = words_per_word;
        self
    }

    /// These options with another nesting limit.
    pub fn nesting_limit(mut self, levels: u32) -> Self {
        self.nesting_limit = levels;
        self
    }

    pub(crate) fn capnp(&self) -> capnp::message::ReaderOptions {
        capnp::message::ReaderOptions {
            traversal_limit_in_words: Some(self.traversal_limit_in_words as usize),
            nesting_limit: self.nesting_limit.min(i32::MAX as u32) as i32,
        }
    }

    pub(crate) fn limits(&self) -> crate::wire::Limits {
        crate::wire::Limits {
            traversal_words: self.traversal_limit_in_words,
            nesting: self.nesting_limit,
            amplification: self.amplification_limit,
        }
    }
}

/// A struct type of a [`Schema`]: the handle that serializes and deserializes messages whose
/// root is that struct.
///
/// Keep the handle for as long as messages flow: it remembers, per Rust type, how that type's
/// fields map onto the schema, so every message after the first skips that work. Clones are
/// cheap and share what the handle learnt, across threads too.
#[derive(Clone)]
pub struct StructSchema {
    /// What reading and writing learnt about the Rust types met through this handle (or a
    /// clone of it), kept for the next message. Its plans point into `pool`, which is declared
    /// after it so that it is dropped after it.
    pub(crate) plans: Arc<crate::plan::PlanCache>,
    pub(crate) pool: Arc<SchemaPool>,
    pub(crate) node: NodeIndex,
    /// The bindings of the struct's generic parameters, when it is generic and they were
    /// given; `None` leaves them unbound (`AnyPointer`), and costs nothing per message.
    pub(crate) brand: Option<Arc<Brand>>,
    pub(crate) options: ReadOptions,
    /// The size of the last message written through this handle (or a clone of it): new
    /// messages start with that much room, so that a stream of similar messages does not
    /// grow its buffer step by step each time.
    pub(crate) size_hint: Arc<AtomicUsize>,
}

impl Schema {
    /// Loads the schema from the bytes of a `CodeGeneratorRequest`, as written by
    /// `capnp compile -o- FILE...`.
    pub fn from_code_generator_request(bytes: &[u8]) -> Result<Schema> {
        Ok(Schema {
            pool: Arc::new(SchemaPool::from_code_generator_request(bytes)?),
        })
    }

    /// Compiles a `.capnp` file and its imports with the built-in compiler; no Cap'n Proto tool
    /// is needed. Absolute imports (`/capnp/c++.capnp`) are searched in `/usr/local/include` and
    /// `/usr/include`, then among the standard schemas bundled with this crate. Use
    /// [`Schema::compile`] for import paths.
    ///
    /// ```no_run
    /// let schema = serde_capnp::Schema::load("schemas/addressbook.capnp")?;
    /// let person = schema.struct_type("Person")?;
    /// # Ok::<(), serde_capnp::Error>(())
    /// ```
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Schema> {
        let path = path.as_ref().to_string_lossy().into_owned();
        Self::compile(&Compiler::new(), &[path])
    }

    /// Compiles schema text held in memory; `name` is the file name it is known by (in errors,
    /// display names and relative imports).
    ///
    /// Nothing is read from the file system, so text from an untrusted source can be compiled
    /// safely: absolute imports (`/capnp/c++.capnp`) resolve to the standard schemas bundled
    /// with the crate, and other imports and every `embed` fail. Use [`Schema::compile`] with
    /// [`Compiler::add_source`] for several files in memory.
    ///
    /// ```
    /// let schema = serde_capnp::Schema::parse(
    ///     "point.capnp",
    ///     "@0xbf5147cbbecf40c1;\nstruct Point { x @0 :Float64; y @1 :Float64; }\n",
    /// )?;
    /// assert_eq!(schema.struct_type("Point")?.name(), "Point");
    /// # Ok::<(), serde_capnp::Error>(())
    /// ```
    pub fn parse(name: &str, source: &str) -> Result<Schema> {
        Self::compile(
            &Compiler::new().no_file_system().add_source(name, source),
            &[name],
        )
    }

    /// Compiles files with a configured [`Compiler`] (import paths, in-memory sources).
    pub fn compile<S: AsRef<str>>(compiler: &Compiler, files: &[S]) -> Result<Schema> {
        let compiled = compiler
            .compile(files)
            .map_err(|e| crate::Error::schema(format!("schema does not compile:\n{e}")))?;
        Ok(Schema::from_pool(compiled.schema_pool()?))
    }

    /// Wraps an already built pool.
    pub fn from_pool(pool: SchemaPool) -> Schema {
        Schema {
            pool: Arc::new(pool),
        }
    }

    /// The schema model.
    pub fn pool(&self) -> &SchemaPool {
        &self.pool
    }

    /// The struct named `name`: a short name (`Person`), a nested path (`Person.PhoneNumber`),
    /// or a file-qualified name (`addressbook.capnp:Person`).
    ///
    /// A generic struct takes its parameters in the schema language's syntax, as in
    /// `Pair(Text, Inner)` or `Pair(Text, Pair(Data, List(Inner)))`: messages whose root is
    /// the handle have its fields of those types. As in a schema, every parameter is given and
    /// is a pointer type; without parameters, a generic struct's parameters are unbound and
    /// hold `AnyPointer`s.
    ///
    /// ```
    /// # fn main() -> serde_capnp::Result<()> {
    /// let schema = serde_capnp::Schema::parse(
    ///     "pair.capnp",
    ///     "@0xbf5147cbbecf40c2;\nstruct Pair(K, V) { key @0 :K; value @1 :V; }\n",
    /// )?;
    /// let pair = schema.struct_type("Pair(Text, List(Int32))")?;
    /// let bytes = pair.from_json(r#"{"key": "k", "value": [1, 2]}"#)?;
    /// assert_eq!(pair.to_json_short(&bytes)?, r#"{"key":"k","value":[1,2]}"#);
    /// assert!(schema.struct_type("Pair(Text)").is_err());
    /// assert!(schema.struct_type("Pair(Text, Int32)").is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn struct_type(&self, name: &str) -> Result<StructSchema> {
        if !name.contains('(') {
            return self.struct_at(self.pool.find(name)?);
        }
        let (node, brand) = self.pool.find_branded(name)?;
        let mut st = self.struct_at(node)?;
        st.brand = brand.map(Arc::new);
        Ok(st)
    }

    /// The struct with this 64-bit ID.
    pub fn struct_by_id(&self, id: u64) -> Result<StructSchema> {
        let index = self
            .pool
            .index_of(id)
            .ok_or_else(|| Error::schema(format!("no node with ID {id:#x} in the schema")))?;
        self.struct_at(index)
    }

    fn struct_at(&self, index: NodeIndex) -> Result<StructSchema> {
        struct_node(&self.pool, index)?;
        Ok(StructSchema {
            pool: self.pool.clone(),
            node: index,
            brand: None,
            options: ReadOptions::default(),
            size_hint: Arc::new(AtomicUsize::new(0)),
            plans: Arc::default(),
        })
    }
}

impl StructSchema {
    /// The struct's short name.
    pub fn name(&self) -> &str {
        self.pool.node(self.node).short_name()
    }

    /// The struct's full display name (`addressbook.capnp:Person`).
    pub fn display_name(&self) -> &str {
        &self.pool.node(self.node).display_name
    }

    /// The struct's 64-bit ID.
    pub fn id(&self) -> u64 {
        self.pool.node(self.node).id
    }

    /// The schema model and the struct's index in it.
    pub fn pool(&self) -> (&SchemaPool, NodeIndex) {
        (&self.pool, self.node)
    }

    /// The bindings of the struct's generic parameters (see [`Schema::struct_type`]); `None`
    /// for a struct that is not generic, or whose parameters are left unbound.
    pub fn brand(&self) -> Option<&Brand> {
        self.brand.as_deref()
    }

    /// The type of the root of this handle's messages.
    #[inline]
    pub(crate) fn root_type(&self) -> Type {
        Type::Struct(self.node, self.brand.clone())
    }

    /// The same struct with other read limits.
    pub fn with_read_options(mut self, options: ReadOptions) -> StructSchema {
        self.options = options;
        self
    }

    /// The read limits in effect.
    pub fn read_options(&self) -> ReadOptions {
        self.options
    }
}

impl fmt::Debug for StructSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StructSchema")
            .field(&self.display_name())
            .finish()
    }
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schema")
            .field("nodes", &self.pool.nodes().len())
            .finish()
    }
}

/// The struct node at `node`, or an error naming it if it is another kind of node.
pub(crate) fn struct_node(pool: &SchemaPool, node: NodeIndex) -> Result<&StructNode> {
    pool.node(node).as_struct().ok_or_else(|| {
        Error::schema(format!(
            "`{}` is not a struct",
            pool.node(node).display_name
        ))
    })
}
