//! The compiler's public entry point: finding and reading files, then parsing and translating.

use super::diag::{Diagnostic, LineIndex};
use super::translate::{self, Program, Unit};
use super::{emit, parse};
use crate::{SchemaError, SchemaPool};
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Compiles `.capnp` schema files into a `CodeGeneratorRequest`, with no external tool.
///
/// Files are read from disk or from sources added with [`Compiler::add_source`]. Absolute imports
/// (`import "/capnp/c++.capnp"`) are searched in the import paths, then (unless
/// [`Compiler::no_standard_import`] was called) in `/usr/local/include` and `/usr/include`, and
/// finally among the standard schemas bundled with this crate, so they resolve on machines with
/// no Cap'n Proto installation.
///
/// ```
/// use serde_capnp_schema::compiler::Compiler;
///
/// let compiled = Compiler::new()
///     .add_source("point.capnp", "@0xbf5147cbbecf40c1;\nstruct Point { x @0 :Float64; y @1 :Float64; }\n")
///     .compile(&["point.capnp"])
///     .unwrap();
/// let pool = compiled.schema_pool().unwrap();
/// assert!(pool.find("Point").is_ok());
/// ```
///
/// # Where imports and embeds may reach
///
/// A schema names other files with `import` and `embed`; the compiler reads them only inside
/// these trees, as the reference compiler does:
///
/// - An absolute name (`/dir/x.capnp`) is looked up under each import directory in turn, and its
///   `..` may not climb above that directory.
/// - A relative name is resolved from the importing file's directory, inside the tree that file
///   was found in: the import directory it came from, or for a file named to
///   [`Compiler::compile`], the [`Compiler::src_prefix`] that covers it, else the current
///   directory if the file is under it (and the current directory is not `/`), else the file's
///   own directory. Its `..` may climb to the root of that tree, not above.
/// - Symbolic links inside a tree are followed only to files that are inside the same tree
///   (the reference compiler follows them anywhere). The files named to [`Compiler::compile`]
///   are read wherever their links point: the caller chose them.
/// - Only regular files are read (no devices, pipes or directories), and each read stops at a
///   size limit: [`Compiler::max_source_size`] for schema files,
///   [`Compiler::max_embed_size`] for embedded files and [`Compiler::max_total_size`] for all the
///   files one compile loads together.
///
/// A refused name is an error at the `import` or `embed` that wrote it. For schemas from
/// untrusted sources, [`Compiler::no_file_system`] removes the file system altogether.
#[derive(Debug, Clone)]
pub struct Compiler {
    import_paths: Vec<PathBuf>,
    standard_import: bool,
    src_prefixes: Vec<PathBuf>,
    sources: BTreeMap<String, String>,
    file_system: bool,
    max_source_size: u64,
    max_embed_size: u64,
    max_total_size: u64,
}

/// The result of a successful compile.
#[derive(Debug, Clone)]
pub struct Compiled {
    request: Vec<u8>,
    files_read: Vec<PathBuf>,
}

/// The result of [`Compiler::compile_for_eval`]: what the evaluation needs, and the errors met
/// compiling it.
#[derive(Debug, Clone)]
pub struct Evaluated {
    compiled: Compiled,
    errors: Option<CompileError>,
}

/// A compile that found errors: every diagnostic, in source order per file.
#[derive(Debug, Clone)]
pub struct CompileError {
    diagnostics: Vec<Diagnostic>,
    sources: HashMap<String, String>,
}

impl Default for Compiler {
    fn default() -> Self {
        Self::new()
    }
}

/// Standard schemas shipped with the crate, by import path.
const BUNDLED: &[(&str, &str)] = &[
    ("capnp/c++.capnp", include_str!("../../std/capnp/c++.capnp")),
    (
        "capnp/stream.capnp",
        include_str!("../../std/capnp/stream.capnp"),
    ),
    (
        "capnp/persistent.capnp",
        include_str!("../../std/capnp/persistent.capnp"),
    ),
    (
        "capnp/compat/json.capnp",
        include_str!("../../std/capnp/compat/json.capnp"),
    ),
    (
        "capnp/schema.capnp",
        include_str!("../../std/capnp/schema.capnp"),
    ),
    ("capnp/rpc.capnp", include_str!("../../std/capnp/rpc.capnp")),
    (
        "capnp/rpc-twoparty.capnp",
        include_str!("../../std/capnp/rpc-twoparty.capnp"),
    ),
];

const STANDARD_DIRS: &[&str] = &["/usr/local/include", "/usr/include"];

impl Compiler {
    /// The default of [`Compiler::max_source_size`]: 8 MiB, a hundred times the largest standard
    /// schema file.
    pub const DEFAULT_MAX_SOURCE_SIZE: u64 = 8 << 20;
    /// The default of [`Compiler::max_embed_size`]: 16 MiB.
    pub const DEFAULT_MAX_EMBED_SIZE: u64 = 16 << 20;
    /// The default of [`Compiler::max_total_size`]: 64 MiB, the most a Cap'n Proto reader with
    /// default options accepts in one message, so the most a code generator could read back.
    pub const DEFAULT_MAX_TOTAL_SIZE: u64 = 64 << 20;

    /// A compiler with the standard import directories and the bundled standard schemas.
    pub fn new() -> Self {
        Compiler {
            import_paths: Vec::new(),
            standard_import: true,
            src_prefixes: Vec::new(),
            sources: BTreeMap::new(),
            file_system: true,
            max_source_size: Self::DEFAULT_MAX_SOURCE_SIZE,
            max_embed_size: Self::DEFAULT_MAX_EMBED_SIZE,
            max_total_size: Self::DEFAULT_MAX_TOTAL_SIZE,
        }
    }

    /// Adds a directory searched by absolute imports (`-I`).
    pub fn import_path(mut self, dir: impl Into<PathBuf>) -> Self {
        self.import_paths.push(dir.into());
        self
    }

    /// Stops searching `/usr/local/include`, `/usr/include` and the bundled standard schemas
    /// (`--no-standard-import`).
    pub fn no_standard_import(mut self) -> Self {
        self.standard_import = false;
        self
    }

    /// A prefix removed from requested file names (`--src-prefix`).
    pub fn src_prefix(mut self, prefix: impl Into<PathBuf>) -> Self {
        self.src_prefixes.push(prefix.into());
        self
    }

    /// Adds a file held in memory under `name` (a relative path such as `"x.capnp"` or
    /// `"dir/y.capnp"`). It is found by that name when requested, by relative imports from other
    /// in-memory files, and by absolute imports (`/dir/y.capnp`) before the import paths.
    pub fn add_source(mut self, name: impl Into<String>, source: impl Into<String>) -> Self {
        self.sources.insert(normalize(&name.into()), source.into());
        self
    }

    /// Reads nothing from the file system: the files compiled and everything they import or embed
    /// must be sources added with [`Compiler::add_source`] or (unless
    /// [`Compiler::no_standard_import`] was called) the standard schemas bundled with this crate.
    /// Import paths and source prefixes are ignored.
    ///
    /// This is the setting for a service that compiles schemas it was sent: whatever their
    /// `import` and `embed` name, no file of the machine is opened.
    ///
    /// ```
    /// use serde_capnp_schema::compiler::Compiler;
    ///
    /// let untrusted = "@0xbf5147cbbecf40c1;\n\
    ///     using Cxx = import \"/capnp/c++.capnp\";\n\
    ///     $Cxx.namespace(\"geo\");\n\
    ///     const secret :Text = embed \"/etc/hostname\";\n";
    /// let err = Compiler::new()
    ///     .no_file_system()
    ///     .add_source("upload.capnp", untrusted)
    ///     .compile(&["upload.capnp"])
    ///     .unwrap_err();
    /// // The bundled `c++.capnp` resolved; the embed found no file.
    /// assert_eq!(
    ///     err.to_string(),
    ///     "upload.capnp:4:28-43: error: Couldn't read file for embed: /etc/hostname"
    /// );
    /// ```
    pub fn no_file_system(mut self) -> Self {
        self.file_system = false;
        self
    }

    /// The largest schema file, in bytes, that is compiled: a larger one (named to
    /// [`Compiler::compile`] or imported) is an error, found without reading past the limit.
    /// The default is [`Compiler::DEFAULT_MAX_SOURCE_SIZE`].
    pub fn max_source_size(mut self, bytes: u64) -> Self {
        self.max_source_size = bytes;
        self
    }

    /// The largest file, in bytes, that `embed` reads: a larger one is an error at the `embed`,
    /// found without reading past the limit. The default is [`Compiler::DEFAULT_MAX_EMBED_SIZE`].
    pub fn max_embed_size(mut self, bytes: u64) -> Self {
        self.max_embed_size = bytes;
        self
    }

    /// The most bytes one compile loads in all, counting every schema file and every embedded
    /// file (once for each file and path that embeds it). The default is
    /// [`Compiler::DEFAULT_MAX_TOTAL_SIZE`].
    pub fn max_total_size(mut self, bytes: u64) -> Self {
        self.max_total_size = bytes;
        self
    }

    /// Compiles the given files (paths on disk, or names given to [`Compiler::add_source`]).
    pub fn compile<S: AsRef<str>>(&self, files: &[S]) -> Result<Compiled, CompileError> {
        let (loader, requested) = self.load(files);
        let Loader {
            units,
            imports,
            embeds,
            refused,
            mut diagnostics,
            files_read,
            ..
        } = loader;
        let (request, errors) = translate::translate(
            Program {
                units: &units,
                imports: &imports,
                embeds: &embeds,
            },
            &requested,
        );
        diagnostics.extend(locate(&units, &refused, errors));
        if !diagnostics.is_empty() {
            return Err(CompileError {
                diagnostics,
                sources: units.into_iter().map(|u| (u.name, u.source)).collect(),
            });
        }
        Ok(Compiled {
            request: write(&request)?,
            files_read,
        })
    }

    /// Compiles what `capnp eval FILE NAME` compiles to print the value `name` leads to as
    /// `output`: the file's own node, the declaration the name leads to and the types printing
    /// its value looks at, without annotations. Errors anywhere else in the file are not met,
    /// and errors that are met do not stop the evaluation (the reference tool prints them, then
    /// the value). The request holds the nodes compiled and what they refer to, enough to load
    /// a [`SchemaPool`] and evaluate `name` in it. Only a file that cannot be read is an `Err`.
    pub fn compile_for_eval(
        &self,
        file: &str,
        name: &str,
        output: translate::EvalOutput,
    ) -> Result<Evaluated, CompileError> {
        let (loader, requested) = self.load(&[file]);
        let Loader {
            units,
            imports,
            embeds,
            refused,
            mut diagnostics,
            files_read,
            ..
        } = loader;
        let Some(&unit) = requested.first() else {
            return Err(CompileError {
                diagnostics,
                sources: HashMap::new(),
            });
        };
        let (request, errors) = translate::evaluate(
            Program {
                units: &units,
                imports: &imports,
                embeds: &embeds,
            },
            unit,
            name,
            output,
        );
        diagnostics.extend(locate(&units, &refused, errors));
        let errors = (!diagnostics.is_empty()).then(|| CompileError {
            diagnostics,
            sources: units.into_iter().map(|u| (u.name, u.source)).collect(),
        });
        Ok(Evaluated {
            compiled: Compiled {
                request: write(&request)?,
                files_read,
            },
            errors,
        })
    }

    /// Reads the requested files and everything they import; the requested ones' units.
    fn load<S: AsRef<str>>(&self, files: &[S]) -> (Loader<'_>, Vec<usize>) {
        let mut loader = Loader::new(self);
        let mut requested = Vec::new();
        for f in files {
            let f = f.as_ref();
            match loader.requested(f) {
                Ok(u) => requested.push(u),
                Err(message) => loader.diagnostics.push(Diagnostic {
                    file: f.to_string(),
                    line: 0,
                    column: 0,
                    end_column: None,
                    span: Default::default(),
                    message,
                }),
            }
        }
        loader.load_imports();
        (loader, requested)
    }
}

/// The translator's errors as diagnostics, in the order they were found (an error before its
/// "originally used here"), each once: a node can be reached on several paths.
fn locate(
    units: &[Unit],
    refused: &HashMap<(usize, String, bool), String>,
    errors: Vec<translate::Error>,
) -> Vec<Diagnostic> {
    // Line tables only for files that have errors: building them costs more than lexing.
    let mut lines: HashMap<usize, LineIndex> = HashMap::new();
    let mut translated: Vec<Diagnostic> = errors
        .into_iter()
        .map(|e| {
            let u = &units[e.unit];
            // The translator says an import or embed failed where it is used; when the loader
            // refused the path (rather than not finding it), say why instead.
            let message = refusal_for(refused, e.unit, &e.message).unwrap_or(e.message);
            lines
                .entry(e.unit)
                .or_insert_with(|| LineIndex::new(&u.source))
                .diagnostic(&u.name, &u.source, e.span, message)
        })
        .collect();
    let mut said = std::collections::HashSet::new();
    translated.retain(|d| said.insert((d.file.clone(), d.span, d.message.clone())));
    translated
}

fn write(request: &super::out::Request) -> Result<Vec<u8>, CompileError> {
    emit::write_request(request).map_err(|e| CompileError {
        diagnostics: vec![Diagnostic {
            file: String::new(),
            line: 0,
            column: 0,
            end_column: None,
            span: Default::default(),
            message: format!("internal error writing the request: {e}"),
        }],
        sources: HashMap::new(),
    })
}

/// The loader's reason for refusing the path of a translator's "Import failed" or "Couldn't read
/// file for embed" error, if it refused it.
fn refusal_for(
    refused: &HashMap<(usize, String, bool), String>,
    unit: usize,
    message: &str,
) -> Option<String> {
    let (path, embed) = if let Some(p) = message.strip_prefix("Import failed: ") {
        (p, false)
    } else {
        (
            message.strip_prefix("Couldn't read file for embed: ")?,
            true,
        )
    };
    refused.get(&(unit, path.to_string(), embed)).cloned()
}

impl Compiled {
    /// The `CodeGeneratorRequest`, framed as `capnp compile -o-` writes it.
    pub fn request_bytes(&self) -> &[u8] {
        &self.request
    }

    /// Takes the request bytes.
    pub fn into_request_bytes(self) -> Vec<u8> {
        self.request
    }

    /// Every file read from disk, schema or embedded, by its canonical path, in the order it
    /// was read: what a build must watch to know when to compile again.
    pub fn files_read(&self) -> &[PathBuf] {
        &self.files_read
    }

    /// Loads the result into a [`SchemaPool`].
    pub fn schema_pool(&self) -> Result<SchemaPool, SchemaError> {
        SchemaPool::from_code_generator_request(&self.request)
    }
}

impl Evaluated {
    /// The nodes compiled, as a request: load it to evaluate the name.
    pub fn compiled(&self) -> &Compiled {
        &self.compiled
    }

    /// The errors met on the way, if any; `capnp eval` prints them and exits with status 1,
    /// after printing the value.
    pub fn errors(&self) -> Option<&CompileError> {
        self.errors.as_ref()
    }
}

impl CompileError {
    /// How many errors [`CompileError::render`] shows.
    pub const RENDER_LIMIT: usize = super::diag::RENDER_LIMIT;
    /// The most bytes of a source line [`CompileError::render`] shows in one excerpt.
    pub const EXCERPT_WIDTH: usize = super::diag::EXCERPT_WIDTH;

    /// Every error found.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// The errors with labelled source excerpts, for a terminal.
    ///
    /// The output stays small whatever the input: the first [`CompileError::RENDER_LIMIT`] errors
    /// are shown, then a line `and N more errors`; an excerpt shows at most
    /// [`CompileError::EXCERPT_WIDTH`] bytes of its line, around the error, with `…` where the
    /// line was cut. [`Display`](fmt::Display) lists every error, one line each.
    pub fn render(&self) -> String {
        super::diag::render(&self.diagnostics, &|f| {
            self.sources.get(f).map(String::as_str)
        })
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CompileError {}

impl From<CompileError> for SchemaError {
    fn from(e: CompileError) -> Self {
        SchemaError::new(e.to_string())
    }
}

/// Which file a unit is: the same file reached by two names is loaded once, as the reference
/// compiler does. A file on disk is known by its canonical path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Location {
    Disk(PathBuf),
    Memory(String),
    Bundled(&'static str),
}

/// Where a unit's relative imports resolve: the tree it was found in and its directory there.
#[derive(Debug, Clone)]
struct Origin {
    tree: Tree,
    /// The file's directory, as components under the tree's root.
    dir: Vec<OsString>,
}

#[derive(Debug, Clone)]
enum Tree {
    /// A directory on disk, canonical.
    Disk(PathBuf),
    Memory,
    Bundled,
}

impl Tree {
    /// Says what `..` may not climb above.
    fn describe(&self) -> String {
        match self {
            Tree::Disk(root) => format!(
                "`{}`, the root of the source tree this file was found in",
                root.display()
            ),
            Tree::Memory => "the root of the in-memory sources".into(),
            Tree::Bundled => "the root of the bundled standard schemas".into(),
        }
    }
}

/// A file found for a name, not yet read.
struct Found {
    location: Location,
    origin: Origin,
}

/// Which limit a read is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    Source,
    Embed,
}

/// Why a name was not loaded. `NotFound` leaves the error to the translator, which says it in the
/// reference compiler's words; the others are explained at the `import` or `embed`.
#[derive(Debug)]
enum Refusal {
    NotFound,
    /// A `..` climbs above the tree's root (the reference compiler refuses it too).
    Climbs(String),
    /// A path component the file system would read differently than `/`-separated names.
    BadComponent(String),
    /// The name resolves, through a symbolic link, to a file outside its tree.
    Outside {
        file: PathBuf,
        root: PathBuf,
    },
    NotRegular(PathBuf),
    TooLarge {
        file: String,
        size: Option<u64>,
        limit: u64,
        what: &'static str,
    },
    Unreadable {
        file: String,
        error: String,
    },
    NotUtf8(String),
}

impl Refusal {
    fn explain(&self) -> String {
        match self {
            Refusal::NotFound => "no such file".into(),
            Refusal::Climbs(root) => format!("its `..` climbs above {root}"),
            Refusal::BadComponent(why) => why.clone(),
            Refusal::Outside { file, root } => format!(
                "it leads through a symbolic link to `{}`, outside `{}`",
                file.display(),
                root.display()
            ),
            Refusal::NotRegular(file) => format!("`{}` is not a regular file", file.display()),
            Refusal::TooLarge {
                file,
                size: Some(size),
                limit,
                what,
            } => format!("`{file}` is {size} bytes, over the limit of {limit} bytes ({what})"),
            Refusal::TooLarge {
                file,
                size: None,
                limit,
                what,
            } => format!("`{file}` holds more than the limit of {limit} bytes ({what})"),
            Refusal::Unreadable { file, error } => format!("cannot read `{file}`: {error}"),
            Refusal::NotUtf8(file) => format!("`{file}` is not UTF-8 text"),
        }
    }
}

struct Loader<'c> {
    compiler: &'c Compiler,
    units: Vec<Unit>,
    origins: Vec<Origin>,
    by_location: HashMap<Location, usize>,
    imports: HashMap<(usize, String), usize>,
    embeds: HashMap<(usize, String), Vec<u8>>,
    /// `(unit, path, is_embed)` → why the loader refused it.
    refused: HashMap<(usize, String, bool), String>,
    diagnostics: Vec<Diagnostic>,
    /// Canonical directories searched by absolute imports, in order.
    search: Vec<PathBuf>,
    /// Bytes of sources and embedded files loaded so far, against `max_total_size`.
    loaded: u64,
    /// Files read from disk, canonical, each once.
    files_read: Vec<PathBuf>,
}

impl<'c> Loader<'c> {
    fn new(compiler: &'c Compiler) -> Self {
        let mut search = Vec::new();
        if compiler.file_system {
            let standard = STANDARD_DIRS.iter().map(PathBuf::from);
            let dirs = compiler
                .import_paths
                .iter()
                .cloned()
                .chain(standard.filter(|_| compiler.standard_import));
            // A directory that does not exist holds nothing to find.
            search.extend(dirs.filter_map(|d| std::fs::canonicalize(d).ok()));
        }
        Loader {
            compiler,
            units: Vec::new(),
            origins: Vec::new(),
            by_location: HashMap::new(),
            imports: HashMap::new(),
            embeds: HashMap::new(),
            refused: HashMap::new(),
            diagnostics: Vec::new(),
            search,
            loaded: 0,
            files_read: Vec::new(),
        }
    }

    /// Loads a file named to [`Compiler::compile`], or says why not.
    fn requested(&mut self, f: &str) -> Result<usize, String> {
        let key = normalize(f);
        if self.compiler.sources.contains_key(&key) {
            let found = memory_found(key.clone());
            return self.source(found, key).map_err(|r| r.explain());
        }
        if !self.compiler.file_system {
            return Err(
                "no such in-memory source, and this compiler reads no files (`no_file_system`)"
                    .into(),
            );
        }
        let cwd = std::env::current_dir().map_err(|e| format!("no current directory: {e}"))?;
        let absolute = PathBuf::from(normalize_path(&cwd.join(f)));
        let mut root = None;
        for prefix in &self.compiler.src_prefixes {
            let prefix = PathBuf::from(normalize_path(&cwd.join(prefix)));
            if let Ok(rest) = absolute.strip_prefix(&prefix) {
                if rest.components().next().is_some() {
                    root = Some(prefix);
                    break;
                }
            }
        }
        let name = match &root {
            Some(prefix) => absolute.strip_prefix(prefix).unwrap_or(&absolute),
            None => absolute.strip_prefix(&cwd).unwrap_or(&absolute),
        }
        .to_string_lossy()
        .into_owned();
        // Without a source prefix, the tree is the current directory, as the reference compiler
        // has it, except when that is the whole file system; then it is the file's directory.
        let root = root.unwrap_or_else(|| {
            if absolute.starts_with(&cwd) && cwd.parent().is_some() {
                cwd.clone()
            } else {
                absolute.parent().map(Path::to_path_buf).unwrap_or_default()
            }
        });
        let Ok(canonical_root) = std::fs::canonicalize(&root) else {
            return Err("no such file".into());
        };
        let parts: Vec<OsString> = absolute
            .strip_prefix(&root)
            .unwrap_or(&absolute)
            .iter()
            .map(OsString::from)
            .collect();
        let found = disk_found(&canonical_root, parts, false).map_err(|r| r.explain())?;
        self.source(found, name).map_err(|r| r.explain())
    }

    /// Finds `path`, an import or embed written in unit `from`, and the name a schema file found
    /// there is known by.
    fn find(&self, from: usize, path: &str) -> Result<(Found, String), Refusal> {
        if let Some(absolute) = path.strip_prefix('/') {
            let (_, added) =
                walk(0, absolute).map_err(|e| e.refusal(|| "the import directories".into()))?;
            let key = added.join("/");
            if self.compiler.sources.contains_key(&key) {
                return Ok((memory_found(key.clone()), key));
            }
            let parts: Vec<OsString> = added.iter().map(OsString::from).collect();
            for dir in &self.search {
                match disk_found(dir, parts.clone(), true) {
                    Err(Refusal::NotFound) => continue,
                    found => return found.map(|f| (f, key)),
                }
            }
            if self.compiler.standard_import {
                if let Some((n, _)) = BUNDLED.iter().find(|(n, _)| *n == key) {
                    return Ok((bundled_found(n), key));
                }
            }
            return Err(Refusal::NotFound);
        }
        let origin = &self.origins[from];
        let (kept, added) =
            walk(origin.dir.len(), path).map_err(|e| e.refusal(|| origin.tree.describe()))?;
        let mut parts = origin.dir[..kept].to_vec();
        parts.extend(added.iter().map(OsString::from));
        let name = normalize(&join_dir(&self.units[from].name, path));
        let found = match &origin.tree {
            Tree::Disk(root) => disk_found(root, parts, true)?,
            Tree::Memory => {
                let key = join_parts(&parts);
                if !self.compiler.sources.contains_key(&key) {
                    return Err(Refusal::NotFound);
                }
                memory_found(key)
            }
            Tree::Bundled => {
                let key = join_parts(&parts);
                let (n, _) = BUNDLED
                    .iter()
                    .find(|(b, _)| *b == key)
                    .ok_or(Refusal::NotFound)?;
                bundled_found(n)
            }
        };
        Ok((found, name))
    }

    /// Reads a found file, held to its own limit and to what is left of the total.
    fn read(&mut self, found: &Found, limit: Limit) -> Result<Vec<u8>, Refusal> {
        let (own, what) = match limit {
            Limit::Source => (self.compiler.max_source_size, "`max_source_size`"),
            Limit::Embed => (self.compiler.max_embed_size, "`max_embed_size`"),
        };
        let left = self.compiler.max_total_size.saturating_sub(self.loaded);
        let (limit, what) = if own <= left {
            (own, what)
        } else {
            (left, "`max_total_size`, for all the files of this compile")
        };
        let too_large = |file: String, size| Refusal::TooLarge {
            file,
            size,
            limit,
            what,
        };
        let bytes = match &found.location {
            Location::Disk(path) => read_bounded(path, limit)
                .map_err(|size| too_large(path.display().to_string(), size))??,
            Location::Memory(name) => {
                let text = &self.compiler.sources[name];
                if text.len() as u64 > limit {
                    return Err(too_large(name.clone(), Some(text.len() as u64)));
                }
                text.clone().into_bytes()
            }
            Location::Bundled(name) => {
                let (_, text) = BUNDLED
                    .iter()
                    .find(|(b, _)| b == name)
                    .ok_or(Refusal::NotFound)?;
                if text.len() as u64 > limit {
                    return Err(too_large(name.to_string(), Some(text.len() as u64)));
                }
                text.as_bytes().to_vec()
            }
        };
        self.loaded += bytes.len() as u64;
        if let Location::Disk(path) = &found.location {
            if !self.files_read.contains(path) {
                self.files_read.push(path.clone());
            }
        }
        Ok(bytes)
    }

    /// Loads a schema file once, however many names reach it, and parses it.
    fn source(&mut self, found: Found, name: String) -> Result<usize, Refusal> {
        if let Some(&u) = self.by_location.get(&found.location) {
            return Ok(u);
        }
        let bytes = self.read(&found, Limit::Source)?;
        let source =
            String::from_utf8(bytes).map_err(|_| Refusal::NotUtf8(found.location.describe()))?;
        let (ast, errors) = parse::parse_file(&name, &source);
        if !errors.is_empty() {
            let lines = LineIndex::new(&source);
            for e in &errors {
                self.diagnostics
                    .push(lines.diagnostic(&name, &source, e.span, e.message.clone()));
            }
        }
        let u = self.units.len();
        self.units.push(Unit {
            name,
            source,
            ast,
            had_syntax_errors: !errors.is_empty(),
        });
        self.origins.push(found.origin);
        self.by_location.insert(found.location, u);
        Ok(u)
    }

    /// Loads every file the loaded files import, transitively, and reads embedded files.
    fn load_imports(&mut self) {
        let mut next = 0;
        while next < self.units.len() {
            let mut wanted = Vec::new();
            collect_paths(&self.units[next].ast, &mut wanted);
            for (path, is_embed) in wanted {
                let key = (next, path.clone());
                let done = if is_embed {
                    self.embeds.contains_key(&key)
                } else {
                    self.imports.contains_key(&key)
                };
                if done || self.refused.contains_key(&(next, path.clone(), is_embed)) {
                    continue;
                }
                let loaded = self.find(next, &path).and_then(|(found, name)| {
                    if is_embed {
                        let bytes = self.read(&found, Limit::Embed)?;
                        self.embeds.insert(key, bytes);
                    } else {
                        let u = self.source(found, name)?;
                        self.imports.insert(key, u);
                    }
                    Ok(())
                });
                match loaded {
                    Ok(()) | Err(Refusal::NotFound) => {}
                    Err(refusal) => {
                        let verb = if is_embed { "embed" } else { "import" };
                        let message = format!("cannot {verb} `{path}`: {}", refusal.explain());
                        self.refused.insert((next, path, is_embed), message);
                    }
                }
            }
            next += 1;
        }
    }
}

impl Location {
    fn describe(&self) -> String {
        match self {
            Location::Disk(p) => p.display().to_string(),
            Location::Memory(n) => n.clone(),
            Location::Bundled(n) => n.to_string(),
        }
    }
}

fn memory_found(key: String) -> Found {
    let dir = dir_of(&key);
    Found {
        location: Location::Memory(key),
        origin: Origin {
            tree: Tree::Memory,
            dir,
        },
    }
}

fn bundled_found(name: &'static str) -> Found {
    Found {
        location: Location::Bundled(name),
        origin: Origin {
            tree: Tree::Bundled,
            dir: dir_of(name),
        },
    }
}

/// The directory components of a `/`-separated name.
fn dir_of(name: &str) -> Vec<OsString> {
    let mut parts: Vec<OsString> = name.split('/').map(OsString::from).collect();
    parts.pop();
    parts
}

fn join_parts(parts: &[OsString]) -> String {
    let parts: Vec<_> = parts.iter().map(|p| p.to_string_lossy()).collect();
    parts.join("/")
}

/// Finds the file at `parts` under the canonical directory `root`. With `confine`, the file must
/// be inside `root` once symbolic links are followed; it must be a regular file either way.
fn disk_found(root: &Path, parts: Vec<OsString>, confine: bool) -> Result<Found, Refusal> {
    let candidate: PathBuf = std::iter::once(root.as_os_str())
        .chain(parts.iter().map(OsString::as_os_str))
        .collect();
    let canonical = match std::fs::canonicalize(&candidate) {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Refusal::NotFound),
        // A component that is a file, not a directory, also means there is no such file.
        Err(_) if !candidate.exists() => return Err(Refusal::NotFound),
        Err(e) => {
            return Err(Refusal::Unreadable {
                file: candidate.display().to_string(),
                error: e.to_string(),
            })
        }
    };
    if confine && !canonical.starts_with(root) {
        return Err(Refusal::Outside {
            file: canonical,
            root: root.to_path_buf(),
        });
    }
    // `metadata` follows no further links: `canonical` has none left. Checking before opening
    // keeps a pipe or a device from being opened at all.
    match std::fs::metadata(&canonical) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(Refusal::NotRegular(canonical)),
        Err(e) => {
            return Err(Refusal::Unreadable {
                file: canonical.display().to_string(),
                error: e.to_string(),
            })
        }
    }
    let mut dir = parts;
    dir.pop();
    Ok(Found {
        location: Location::Disk(canonical),
        origin: Origin {
            tree: Tree::Disk(root.to_path_buf()),
            dir,
        },
    })
}

/// Reads at most `limit` bytes of a regular file. `Err(size)` when the file is larger (its size,
/// when the file system tells it up front); the inner result is any other failure.
fn read_bounded(path: &Path, limit: u64) -> Result<Result<Vec<u8>, Refusal>, Option<u64>> {
    let unreadable = |e: std::io::Error| Refusal::Unreadable {
        file: path.display().to_string(),
        error: e.to_string(),
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return Ok(Err(unreadable(e))),
    };
    let size = match file.metadata() {
        Ok(m) if m.is_file() => m.len(),
        Ok(_) => return Ok(Err(Refusal::NotRegular(path.to_path_buf()))),
        Err(e) => return Ok(Err(unreadable(e))),
    };
    if size > limit {
        return Err(Some(size));
    }
    // The size is only a hint: files under /proc say 0, and a file can grow while it is read.
    let mut bytes = Vec::with_capacity(size as usize);
    if let Err(e) = file.take(limit.saturating_add(1)).read_to_end(&mut bytes) {
        return Ok(Err(unreadable(e)));
    }
    if bytes.len() as u64 > limit {
        return Err(None);
    }
    Ok(Ok(bytes))
}

/// A `..` that climbs above the root, or a component the file system would misread.
enum WalkError {
    Climbs,
    BadComponent(&'static str),
}

impl WalkError {
    fn refusal(self, root: impl FnOnce() -> String) -> Refusal {
        match self {
            WalkError::Climbs => Refusal::Climbs(root()),
            WalkError::BadComponent(why) => Refusal::BadComponent(why.into()),
        }
    }
}

/// Applies a `/`-separated relative `path` to a directory `depth` components below a root:
/// how many of those components remain, and the components `path` adds. As in the reference
/// compiler, `.` and empty components are skipped and `..` may not climb above the root.
fn walk(depth: usize, path: &str) -> Result<(usize, Vec<&str>), WalkError> {
    let mut kept = depth;
    let mut added = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if added.pop().is_none() {
                    kept = kept.checked_sub(1).ok_or(WalkError::Climbs)?;
                }
            }
            p if p.contains('\0') => return Err(WalkError::BadComponent("it holds a NUL byte")),
            p if cfg!(windows) && p.contains(['\\', ':']) => {
                return Err(WalkError::BadComponent(
                    "a `\\` or `:` in a name would be read as a path separator or drive",
                ))
            }
            p => added.push(p),
        }
    }
    Ok((kept, added))
}

/// Every `import` and `embed` path in a file.
fn collect_paths(decl: &super::ast::Decl, out: &mut Vec<(String, bool)>) {
    use super::ast::*;
    fn expr(e: &Expr, out: &mut Vec<(String, bool)>) {
        match &e.kind {
            ExprKind::Import(p) => out.push((p.value.clone(), false)),
            ExprKind::Embed(p) => out.push((p.value.clone(), true)),
            ExprKind::List(items) => items.iter().for_each(|i| expr(i, out)),
            ExprKind::Tuple(ps) => ps.iter().for_each(|p| expr(&p.value, out)),
            ExprKind::Application { function, params } => {
                expr(function, out);
                params.iter().for_each(|p| expr(&p.value, out));
            }
            ExprKind::Member { parent, .. } => expr(parent, out),
            _ => {}
        }
    }
    fn ann(a: &AnnotationUse, out: &mut Vec<(String, bool)>) {
        expr(&a.name, out);
        if let Some(v) = &a.value {
            expr(v, out);
        }
    }
    fn params(l: &ParamList, out: &mut Vec<(String, bool)>) {
        match &l.kind {
            ParamListKind::Named(ps) => {
                for p in ps {
                    expr(&p.type_, out);
                    if let Some(d) = &p.default_value {
                        expr(d, out);
                    }
                    p.annotations.iter().for_each(|a| ann(a, out));
                }
            }
            ParamListKind::Type(e) => expr(e, out),
            ParamListKind::Stream => out.push(("/capnp/stream.capnp".into(), false)),
        }
    }
    match &decl.kind {
        DeclKind::Using { target } => expr(target, out),
        DeclKind::Const { type_, value } => {
            expr(type_, out);
            expr(value, out);
        }
        DeclKind::Field {
            type_,
            default_value,
        } => {
            expr(type_, out);
            if let Some(d) = default_value {
                expr(d, out);
            }
        }
        DeclKind::Interface { superclasses } => superclasses.iter().for_each(|s| expr(s, out)),
        DeclKind::Method { params: p, results } => {
            params(p, out);
            if let Some(r) = results {
                params(r, out);
            }
        }
        DeclKind::Annotation { type_, .. } => expr(type_, out),
        DeclKind::NakedAnnotation(a) => ann(a, out),
        _ => {}
    }
    decl.annotations.iter().for_each(|a| ann(a, out));
    for n in &decl.nested {
        collect_paths(n, out);
    }
}

/// `dir/of/file.capnp` + `x.capnp` → `dir/of/x.capnp`.
fn join_dir(file: &str, relative: &str) -> String {
    match file.rfind('/') {
        Some(i) => format!("{}/{}", &file[..i], relative),
        None => relative.to_string(),
    }
}

/// Removes `.` and resolves `..` in a `/`-separated name; keeps a leading `/`.
fn normalize(name: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !name.starts_with('/') {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    if name.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

fn normalize_path(p: &Path) -> String {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out.to_string_lossy().into_owned()
}
