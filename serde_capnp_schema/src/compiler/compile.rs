//! The compiler's public entry point: finding and reading files, then parsing and translating.

use super::diag::{Diagnostic, LineIndex};
use super::translate::{self, Program, Unit};
use super::{emit, parse};
use crate::{SchemaError, SchemaPool};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
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
#[derive(Debug, Clone)]
pub struct Compiler {
    import_paths: Vec<PathBuf>,
    standard_import: bool,
    src_prefixes: Vec<PathBuf>,
    sources: BTreeMap<String, String>,
}

/// The result of a successful compile.
#[derive(Debug, Clone)]
pub struct Compiled {
    request: Vec<u8>,
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
    /// A compiler with the standard import directories and the bundled standard schemas.
    pub fn new() -> Self {
        Compiler {
            import_paths: Vec::new(),
            standard_import: true,
            src_prefixes: Vec::new(),
            sources: BTreeMap::new(),
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

    /// Compiles the given files (paths on disk, or names given to [`Compiler::add_source`]).
    pub fn compile<S: AsRef<str>>(&self, files: &[S]) -> Result<Compiled, CompileError> {
        let (loader, requested) = self.load(files);
        let Loader {
            units,
            imports,
            embeds,
            mut diagnostics,
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
        diagnostics.extend(locate(&units, errors));
        if !diagnostics.is_empty() {
            return Err(CompileError {
                diagnostics,
                sources: units.into_iter().map(|u| (u.name, u.source)).collect(),
            });
        }
        Ok(Compiled {
            request: write(&request)?,
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
            mut diagnostics,
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
        diagnostics.extend(locate(&units, errors));
        let errors = (!diagnostics.is_empty()).then(|| CompileError {
            diagnostics,
            sources: units.into_iter().map(|u| (u.name, u.source)).collect(),
        });
        Ok(Evaluated {
            compiled: Compiled {
                request: write(&request)?,
            },
            errors,
        })
    }

    /// Reads the requested files and everything they import; the requested ones' units.
    fn load<S: AsRef<str>>(&self, files: &[S]) -> (Loader<'_>, Vec<usize>) {
        let mut loader = Loader {
            compiler: self,
            units: Vec::new(),
            by_location: HashMap::new(),
            imports: HashMap::new(),
            embeds: HashMap::new(),
            locations: Vec::new(),
            diagnostics: Vec::new(),
        };
        let mut requested = Vec::new();
        for f in files {
            let f = f.as_ref();
            match loader.requested(f) {
                Some(u) => requested.push(u),
                None => loader.diagnostics.push(Diagnostic {
                    file: f.to_string(),
                    line: 0,
                    column: 0,
                    end_column: None,
                    span: Default::default(),
                    message: "no such file".into(),
                }),
            }
        }
        loader.load_imports();
        (loader, requested)
    }
}

/// The translator's errors as diagnostics, in the order they were found (an error before its
/// "originally used here"), each once: a node can be reached on several paths.
fn locate(units: &[Unit], errors: Vec<translate::Error>) -> Vec<Diagnostic> {
    // Line tables only for files that have errors: building them costs more than lexing.
    let mut lines: HashMap<usize, LineIndex> = HashMap::new();
    let mut translated: Vec<Diagnostic> = errors
        .into_iter()
        .map(|e| {
            let u = &units[e.unit];
            lines
                .entry(e.unit)
                .or_insert_with(|| LineIndex::new(&u.source))
                .diagnostic(&u.name, &u.source, e.span, e.message)
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

impl Compiled {
    /// The `CodeGeneratorRequest`, framed as `capnp compile -o-` writes it.
    pub fn request_bytes(&self) -> &[u8] {
        &self.request
    }

    /// Takes the request bytes.
    pub fn into_request_bytes(self) -> Vec<u8> {
        self.request
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
    /// Every error found.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// The errors with labelled source excerpts, for a terminal.
    pub fn render(&self) -> String {
        super::diag::render(&self.diagnostics, &|f| self.sources.get(f).cloned())
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

/// Where a unit's text came from; imports are resolved relative to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Location {
    Disk(PathBuf),
    Memory(String),
    Bundled(&'static str),
}

struct Loader<'c> {
    compiler: &'c Compiler,
    units: Vec<Unit>,
    locations: Vec<Location>,
    by_location: HashMap<Location, usize>,
    imports: HashMap<(usize, String), usize>,
    embeds: HashMap<(usize, String), Vec<u8>>,
    diagnostics: Vec<Diagnostic>,
}

impl Loader<'_> {
    fn requested(&mut self, f: &str) -> Option<usize> {
        let key = normalize(f);
        if self.compiler.sources.contains_key(&key) {
            return self.unit(Location::Memory(key.clone()), key);
        }
        let path = PathBuf::from(f);
        let absolute = if path.is_absolute() {
            PathBuf::from(normalize_path(&path))
        } else {
            PathBuf::from(normalize_path(&std::env::current_dir().ok()?.join(&path)))
        };
        let mut name = None;
        for prefix in &self.compiler.src_prefixes {
            let prefix = if prefix.is_absolute() {
                PathBuf::from(normalize_path(prefix))
            } else {
                PathBuf::from(normalize_path(&std::env::current_dir().ok()?.join(prefix)))
            };
            if let Ok(rest) = absolute.strip_prefix(&prefix) {
                if rest.components().next().is_some() {
                    name = Some(rest.to_string_lossy().into_owned());
                    break;
                }
            }
        }
        let name = name.unwrap_or_else(|| {
            match std::env::current_dir()
                .ok()
                .and_then(|d| absolute.strip_prefix(d).ok().map(|p| p.to_path_buf()))
            {
                Some(rel) => rel.to_string_lossy().into_owned(),
                None => absolute.to_string_lossy().into_owned(),
            }
        });
        self.unit(Location::Disk(absolute), name)
    }

    fn read(&self, location: &Location) -> Option<String> {
        match location {
            Location::Disk(p) => std::fs::read_to_string(p).ok(),
            Location::Memory(n) => self.compiler.sources.get(n).cloned(),
            Location::Bundled(n) => BUNDLED
                .iter()
                .find(|(b, _)| b == n)
                .map(|(_, s)| s.to_string()),
        }
    }

    fn unit(&mut self, location: Location, name: String) -> Option<usize> {
        if let Some(&u) = self.by_location.get(&location) {
            return Some(u);
        }
        let source = self.read(&location)?;
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
        self.locations.push(location.clone());
        self.by_location.insert(location, u);
        Some(u)
    }

    /// Finds `path` as seen from unit `from`: its location and the name the file gets.
    fn find(&self, from: usize, path: &str) -> Option<(Location, String)> {
        if let Some(abs) = path.strip_prefix('/') {
            let rel = normalize(abs);
            if self.compiler.sources.contains_key(&rel) {
                return Some((Location::Memory(rel.clone()), rel));
            }
            let mut dirs: Vec<PathBuf> = self.compiler.import_paths.clone();
            if self.compiler.standard_import {
                dirs.extend(STANDARD_DIRS.iter().map(PathBuf::from));
            }
            for d in dirs {
                let candidate = d.join(&rel);
                if candidate.is_file() {
                    return Some((Location::Disk(candidate), rel));
                }
            }
            if self.compiler.standard_import {
                if let Some((n, _)) = BUNDLED.iter().find(|(n, _)| *n == rel) {
                    return Some((Location::Bundled(n), rel));
                }
            }
            return None;
        }
        let name = normalize(&join_dir(&self.units[from].name, path));
        match &self.locations[from] {
            Location::Disk(p) => {
                let candidate = p.parent().unwrap_or(Path::new("/")).join(path);
                candidate.is_file().then(|| {
                    (
                        Location::Disk(PathBuf::from(normalize_path(&candidate))),
                        name,
                    )
                })
            }
            Location::Memory(n) => {
                let key = normalize(&join_dir(n, path));
                self.compiler
                    .sources
                    .contains_key(&key)
                    .then_some((Location::Memory(key), name))
            }
            Location::Bundled(n) => {
                let key = normalize(&join_dir(n, path));
                BUNDLED
                    .iter()
                    .find(|(b, _)| *b == key)
                    .map(|(b, _)| (Location::Bundled(b), name))
            }
        }
    }

    /// Loads every file the loaded files import, transitively, and reads embedded files.
    fn load_imports(&mut self) {
        let mut next = 0;
        while next < self.units.len() {
            let mut wanted = Vec::new();
            collect_paths(&self.units[next].ast, &mut wanted);
            for (path, is_embed) in wanted {
                let done = if is_embed {
                    self.embeds.contains_key(&(next, path.clone()))
                } else {
                    self.imports.contains_key(&(next, path.clone()))
                };
                if done {
                    continue;
                }
                let Some((location, name)) = self.find(next, &path) else {
                    continue;
                };
                if is_embed {
                    let bytes = match &location {
                        Location::Disk(p) => std::fs::read(p).ok(),
                        other => self.read(other).map(String::into_bytes),
                    };
                    if let Some(bytes) = bytes {
                        self.embeds.insert((next, path), bytes);
                    }
                } else if let Some(u) = self.unit(location, name) {
                    self.imports.insert((next, path), u);
                }
            }
            next += 1;
        }
    }
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
