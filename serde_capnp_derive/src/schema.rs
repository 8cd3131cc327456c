//! Compiling the schema a macro names, once per rustc process, and finding nodes in it.
//!
//! Nothing here is specific to structs, so the interface macros build on the same loader.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use serde_capnp_schema::compiler::Compiler;
use serde_capnp_schema::{Brand, BrandScope, NodeIndex, SchemaPool, Type};

use crate::locate::{self, Positions};

/// A compiled schema file and everything the macros need from it.
pub struct Loaded {
    /// The `CodeGeneratorRequest`, as embedded in the generated code.
    pub request: Vec<u8>,
    pub pool: SchemaPool,
    /// Every file the compile read, canonical: the generated code includes each, so Cargo
    /// builds again when one changes.
    pub files: Vec<PathBuf>,
    /// A hash of `request`, which names the schema in the generated code.
    pub hash: u64,
    /// Declaration positions, by the file name the compiled schema knows the file by.
    positions: HashMap<String, Positions>,
    /// What the files looked like when they were read, to tell whether a cached compile is
    /// still good (rust-analyzer keeps a macro's process alive across edits).
    stamps: Vec<(PathBuf, Option<SystemTime>, u64)>,
}

/// What a macro asked for: a file relative to the crate, and import directories.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Request {
    pub file: PathBuf,
    pub imports: Vec<PathBuf>,
    /// The path as written, for messages.
    pub written: String,
}

type Cache = Mutex<HashMap<Request, Arc<Loaded>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Cache::default)
}

/// The crate's manifest directory, which schema paths are relative to.
pub fn manifest_dir() -> Result<PathBuf, String> {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .ok_or_else(|| "`CARGO_MANIFEST_DIR` is not set: schema paths are relative to the crate's manifest directory, so the macro runs only under Cargo".to_string())
}

impl Request {
    /// `file` and `imports` as written, relative to the crate's manifest directory.
    pub fn new(file: &str, imports: &[String]) -> Result<Request, String> {
        let dir = manifest_dir()?;
        Ok(Request {
            written: file.to_string(),
            file: normalize(&dir.join(file)),
            imports: imports.iter().map(|i| normalize(&dir.join(i))).collect(),
        })
    }
}

/// Compiles the schema, or takes it from this process's cache when its files have not changed.
pub fn load(request: &Request) -> Result<Arc<Loaded>, String> {
    if let Some(hit) = cache().lock().ok().and_then(|c| c.get(request).cloned()) {
        if hit.is_fresh() {
            return Ok(hit);
        }
    }
    let loaded = Arc::new(compile(request)?);
    if let Ok(mut c) = cache().lock() {
        c.insert(request.clone(), loaded.clone());
    }
    Ok(loaded)
}

fn compile(request: &Request) -> Result<Loaded, String> {
    let dir = manifest_dir()?;
    if !request.file.is_file() {
        return Err(format!(
            "cannot find the schema `{}`: its path is relative to the directory of the crate's `Cargo.toml` (`{}`)",
            request.written,
            dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned())
        ));
    }
    // Files are named relative to the nearest directory above the crate that holds the file,
    // so names in the compiled schema do not depend on where the build runs.
    let prefix = dir
        .ancestors()
        .find(|a| request.file.starts_with(a))
        .unwrap_or(&dir)
        .to_path_buf();
    let mut compiler = Compiler::new().src_prefix(&prefix);
    for i in &request.imports {
        compiler = compiler.import_path(i);
    }
    let file = request.file.to_string_lossy().into_owned();
    let compiled = compiler.compile(&[&file]).map_err(|e| {
        format!(
            "the schema `{}` does not compile:\n{}",
            request.written,
            e.render()
        )
    })?;
    let pool = compiled.schema_pool().map_err(|e| e.to_string())?;
    let files = compiled.files_read().to_vec();
    let mut positions = HashMap::new();
    for f in &files {
        if f.extension().is_some_and(|e| e == "capnp") {
            if let Ok(text) = std::fs::read_to_string(f) {
                if let Some(name) = known_name(&pool, f) {
                    positions.insert(name, locate::scan(&text));
                }
            }
        }
    }
    let stamps = files.iter().map(|f| stamp(f)).collect();
    let request = compiled.into_request_bytes();
    Ok(Loaded {
        hash: fnv1a(&request),
        request,
        pool,
        files,
        positions,
        stamps,
    })
}

/// The name the compiled schema knows a file on disk by: the file part of a node's display
/// name that the path ends with.
fn known_name(pool: &SchemaPool, path: &Path) -> Option<String> {
    let mut best: Option<&str> = None;
    for n in pool.nodes() {
        if n.scope_id != 0 {
            continue;
        }
        let name = n.display_name.as_str();
        let rel = Path::new(name.trim_start_matches('/'));
        if path.ends_with(rel) && best.is_none_or(|b| b.len() < name.len()) {
            best = Some(name);
        }
    }
    best.map(str::to_string)
}

fn stamp(f: &Path) -> (PathBuf, Option<SystemTime>, u64) {
    let meta = std::fs::metadata(f).ok();
    (
        f.to_path_buf(),
        meta.as_ref().and_then(|m| m.modified().ok()),
        meta.map_or(0, |m| m.len()),
    )
}

impl Loaded {
    fn is_fresh(&self) -> bool {
        self.stamps.iter().all(|s| stamp(&s.0) == *s)
    }

    /// The node `name` denotes (`Outer.Inner`, `file.capnp:Name`), with the brand given by
    /// generic arguments (`Pair(Text, Inner)`).
    pub fn find(&self, name: &str) -> Result<(NodeIndex, Option<Brand>), String> {
        let mut p = TypeParser {
            s: name.trim(),
            pos: 0,
            pool: &self.pool,
        };
        let (node, args) = p.named()?;
        p.skip_ws();
        if p.pos != p.s.len() {
            return Err(format!(
                "unexpected `{}` after the node's name in `{name}`",
                &p.s[p.pos..]
            ));
        }
        let brand = match args {
            None => None,
            Some(args) => Some(self.brand_of(node, args)?),
        };
        Ok((node, brand))
    }

    /// The node with this ID.
    pub fn find_id(&self, id: u64) -> Result<NodeIndex, String> {
        self.pool
            .index_of(id)
            .ok_or_else(|| format!("no node with ID {id:#x} in the schema"))
    }

    fn brand_of(&self, node: NodeIndex, args: Vec<Type>) -> Result<Brand, String> {
        let n = self.pool.node(node);
        for (param, arg) in n.parameters.iter().zip(&args) {
            if arg.is_data() {
                return Err(format!(
                    "generic parameter `{param}` of `{}` must be a pointer type (Text, Data, a list, a struct or AnyPointer), not `{}`",
                    n.short_name(),
                    arg.describe(&self.pool)
                ));
            }
        }
        Loaded::brand_of_pool(&self.pool, node, args)
    }

    /// `file:LINE:COL` of the declaration of `member` in `node` (or of `node` itself).
    pub fn location(&self, node: NodeIndex, member: Option<&str>) -> Option<String> {
        let n = self.pool.node(node);
        let (file, path) = n.display_name.split_once(':')?;
        let positions = self.positions.get(file)?;
        let (line, col) = match member {
            Some(m) => positions.get(path, m)?,
            None => {
                let (scope, name) = path.rsplit_once('.').unwrap_or(("", path));
                positions.get(scope, name)?
            }
        };
        Some(format!("{file}:{line}:{col}"))
    }

    /// The file name the schema knows the requested file by.
    pub fn file_name(&self) -> &str {
        self.pool
            .requested_files()
            .first()
            .map_or("", |f| f.filename.as_str())
    }
}

/// Parses a node name with optional generic arguments, in the schema language's type syntax.
struct TypeParser<'a> {
    s: &'a str,
    pos: usize,
    pool: &'a SchemaPool,
}

impl TypeParser<'_> {
    fn skip_ws(&mut self) {
        while self.s[self.pos..].starts_with(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn word(&mut self) -> &str {
        self.skip_ws();
        let rest = &self.s[self.pos..];
        let len = rest
            .find(|c: char| !(c.is_alphanumeric() || "_.:/-".contains(c)))
            .unwrap_or(rest.len());
        self.pos += len;
        &rest[..len]
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.s[self.pos..].starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// `Name` or `Name(T, ...)`.
    fn named(&mut self) -> Result<(NodeIndex, Option<Vec<Type>>), String> {
        let word = self.word().to_string();
        if word.is_empty() {
            return Err(format!("expected a node name in `{}`", self.s));
        }
        let node = self.pool.find(&word).map_err(|e| e.message().to_string())?;
        if !self.eat('(') {
            return Ok((node, None));
        }
        let mut args = Vec::new();
        loop {
            args.push(self.ty()?);
            if self.eat(')') {
                break;
            }
            if !self.eat(',') {
                return Err(format!("expected `,` or `)` in `{}`", self.s));
            }
        }
        Ok((node, Some(args)))
    }

    fn ty(&mut self) -> Result<Type, String> {
        let save = self.pos;
        let word = self.word().to_string();
        let builtin = match word.as_str() {
            "Void" => Some(Type::Void),
            "Bool" => Some(Type::Bool),
            "Int8" => Some(Type::Int8),
            "Int16" => Some(Type::Int16),
            "Int32" => Some(Type::Int32),
            "Int64" => Some(Type::Int64),
            "UInt8" => Some(Type::UInt8),
            "UInt16" => Some(Type::UInt16),
            "UInt32" => Some(Type::UInt32),
            "UInt64" => Some(Type::UInt64),
            "Float32" => Some(Type::Float32),
            "Float64" => Some(Type::Float64),
            "Text" => Some(Type::Text),
            "Data" => Some(Type::Data),
            "AnyPointer" => Some(Type::AnyPointer(serde_capnp_schema::AnyPointerKind::Any)),
            "List" => {
                if !self.eat('(') {
                    return Err(format!("`List` needs its element type in `{}`", self.s));
                }
                let elem = self.ty()?;
                if !self.eat(')') {
                    return Err(format!("expected `)` in `{}`", self.s));
                }
                return Ok(Type::List(Box::new(elem)));
            }
            _ => None,
        };
        if let Some(t) = builtin {
            return Ok(t);
        }
        self.pos = save;
        let (node, args) = self.named()?;
        let brand = match args {
            Some(a) => Some(Arc::new(Loaded::brand_of_pool(self.pool, node, a)?)),
            None => None,
        };
        match &self.pool.node(node).kind {
            serde_capnp_schema::NodeKind::Struct(_) => Ok(Type::Struct(node, brand)),
            serde_capnp_schema::NodeKind::Enum(_) => Ok(Type::Enum(node)),
            serde_capnp_schema::NodeKind::Interface(_) => Ok(Type::Interface(node, brand)),
            _ => Err(format!(
                "`{}` is not a type",
                self.pool.node(node).display_name
            )),
        }
    }
}

impl Loaded {
    fn brand_of_pool(pool: &SchemaPool, node: NodeIndex, args: Vec<Type>) -> Result<Brand, String> {
        let n = pool.node(node);
        if n.parameters.len() != args.len() {
            return Err(format!(
                "`{}` takes {} generic parameters ({}), {} given",
                n.short_name(),
                n.parameters.len(),
                n.parameters.join(", "),
                args.len()
            ));
        }
        Ok(Brand {
            scopes: vec![BrandScope {
                scope_id: n.id,
                bindings: Some(args.into_iter().map(Some).collect()),
            }],
        })
    }
}

/// `path` with `.` and `..` resolved lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// 64-bit FNV-1a: a stable name for a compiled schema's bytes.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second macro naming the same file in the same process gets the same compile; an
    /// edited file is compiled again.
    #[test]
    fn one_compile_per_process_until_a_file_changes() {
        let dir =
            std::env::temp_dir().join(format!("serde_capnp_derive-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("x.capnp");
        let imported = dir.join("y.capnp");
        std::fs::write(
            &imported,
            "@0xd1b7f5c2a9e8d301;\nstruct Y { a @0 :UInt8; }\n",
        )
        .unwrap();
        std::fs::write(
            &file,
            "@0xd1b7f5c2a9e8d302;\nusing import \"y.capnp\".Y;\nstruct X { y @0 :Y; }\n",
        )
        .unwrap();
        let request = Request {
            file: file.clone(),
            imports: Vec::new(),
            written: "x.capnp".into(),
        };
        let first = load(&request).unwrap();
        let second = load(&request).unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        let mut files = first.files.clone();
        files.sort();
        assert_eq!(
            files,
            vec![
                file.canonicalize().unwrap(),
                imported.canonicalize().unwrap()
            ]
        );
        let x = first.find("X").unwrap().0;
        let at = first.location(x, Some("y")).unwrap();
        assert!(at.ends_with("x.capnp:3:12"), "{at}");

        std::fs::write(
            &imported,
            "@0xd1b7f5c2a9e8d301;\nstruct Y { a @0 :UInt8; b @1 :Text; }\n",
        )
        .unwrap();
        let third = load(&request).unwrap();
        assert!(!Arc::ptr_eq(&first, &third));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
