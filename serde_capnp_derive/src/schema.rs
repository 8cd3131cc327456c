//! Compiling the schema a macro names, once per rustc process, and finding nodes in it.
//!
//! Nothing here is specific to structs, so the interface macros build on the same loader.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use serde_capnp_schema::compiler::Compiler;
use serde_capnp_schema::{Brand, NodeIndex, SchemaPool};

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
        self.pool
            .find_branded(name)
            .map_err(|e| e.message().to_string())
    }

    /// The node with this ID.
    pub fn find_id(&self, id: u64) -> Result<NodeIndex, String> {
        self.pool
            .index_of(id)
            .ok_or_else(|| format!("no node with ID {id:#x} in the schema"))
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
