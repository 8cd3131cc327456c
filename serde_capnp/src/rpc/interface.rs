//! Interfaces of a runtime schema: their methods, superclass methods included, with the
//! struct handles of their parameters and results.

use std::fmt;
use std::sync::Arc;

use serde_capnp_schema::{names_match, FastMap, NodeIndex, SchemaPool, Type};

use crate::{Error, Result, Schema, StructSchema};

/// The ID of `StreamResult`, the result struct of every `-> stream` method.
pub(crate) const STREAM_RESULT_ID: u64 = 0x995f_9a33_77c0_b16e;

/// How deep `extends` may chain: a deeper (or cyclic) hierarchy is refused when the interface
/// is looked up.
const MAX_SUPERCLASS_DEPTH: usize = 64;

/// An interface type of a [`Schema`]: its methods, those it inherits through `extends`
/// included, each with the handles of its parameter and result structs.
///
/// Clones are cheap.
///
/// ```
/// # fn main() -> serde_capnp::Result<()> {
/// let schema = serde_capnp::Schema::parse("shapes.capnp", r#"
///     @0xd2a6b1c9e5f40a13;
///     interface Shape { area @0 () -> (value :Float64); }
///     interface Square extends(Shape) { side @0 () -> (length :Float64); }
/// "#)?;
/// let square = schema.interface("Square")?;
/// assert_eq!(square.method("area")?.name(), "area");
/// assert_eq!(square.methods().count(), 2);
/// assert!(square.method("volume").is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct InterfaceSchema {
    inner: Arc<InterfaceInner>,
}

struct InterfaceInner {
    id: u64,
    name: String,
    methods: Vec<MethodSchema>,
    by_name: FastMap<Box<str>, usize>,
    /// `(interface ID, ordinal)` → index in `methods`. Looked up on every call, with keys
    /// that only the schema inserts, so a fast hash without flood resistance is the right one.
    by_ordinal: FastMap<(u64, u16), usize>,
}

/// One method of an [`InterfaceSchema`]. Clones are cheap: every call holds one.
#[derive(Clone)]
pub struct MethodSchema(Arc<MethodParts>);

/// What a [`MethodSchema`] shares between its clones.
#[doc(hidden)]
pub struct MethodParts {
    pub(crate) interface_id: u64,
    pub(crate) interface_name: Arc<str>,
    pub(crate) ordinal: u16,
    pub(crate) name: Arc<str>,
    pub(crate) params: StructSchema,
    pub(crate) results: StructSchema,
    pub(crate) streaming: bool,
}

impl Schema {
    /// The interface named `name` (`Calculator`, or a nested `Calculator.Function`), with the
    /// methods of every interface it extends.
    pub fn interface(&self, name: &str) -> Result<InterfaceSchema> {
        let index = self.pool().find(name)?;
        InterfaceSchema::new(self, index)
    }

    /// The interface with this 64-bit ID.
    pub fn interface_by_id(&self, id: u64) -> Result<InterfaceSchema> {
        let index = self
            .pool()
            .index_of(id)
            .ok_or_else(|| Error::schema(format!("no node with ID {id:#x} in the schema")))?;
        InterfaceSchema::new(self, index)
    }
}

impl InterfaceSchema {
    fn new(schema: &Schema, index: NodeIndex) -> Result<InterfaceSchema> {
        let pool = schema.pool();
        let node = pool.node(index);
        if node.as_interface().is_none() {
            return Err(Error::schema(format!(
                "`{}` is not an interface",
                node.display_name
            )));
        }
        let mut inner = InterfaceInner {
            id: node.id,
            name: node.short_name().to_string(),
            methods: Vec::new(),
            by_name: FastMap::default(),
            by_ordinal: FastMap::default(),
        };
        let mut seen = Vec::new();
        collect(schema, pool, index, &mut inner, &mut seen, 0)?;
        Ok(InterfaceSchema {
            inner: Arc::new(inner),
        })
    }

    /// The interface's 64-bit ID.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The interface's short name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The method named `name` (its Cap'n Proto name, or the snake_case form of it), declared
    /// here or in an interface this one extends. A method of this interface hides an
    /// inherited one of the same name.
    pub fn method(&self, name: &str) -> Result<&MethodSchema> {
        if let Some(&i) = self.inner.by_name.get(name) {
            return Ok(&self.inner.methods[i]);
        }
        self.inner
            .methods
            .iter()
            .find(|m| names_match(name, &m.name))
            .ok_or_else(|| {
                let known: Vec<_> = self.inner.methods.iter().map(|m| &*m.name).collect();
                Error::unimplemented(format!(
                    "interface `{}` has no method `{name}` (it has: {})",
                    self.inner.name,
                    known.join(", ")
                ))
            })
    }

    /// All methods: this interface's by ordinal, then those of the interfaces it extends.
    pub fn methods(&self) -> impl Iterator<Item = &MethodSchema> {
        self.inner.methods.iter()
    }

    /// The method a call names by interface ID and ordinal.
    pub(crate) fn by_ordinal(&self, interface_id: u64, ordinal: u16) -> Option<usize> {
        self.inner.by_ordinal.get(&(interface_id, ordinal)).copied()
    }

    pub(crate) fn method_at(&self, index: usize) -> &MethodSchema {
        &self.inner.methods[index]
    }

    /// Whether a capability of this interface also serves `id` (itself or a superclass).
    pub fn extends(&self, id: u64) -> bool {
        id == self.inner.id || self.inner.by_ordinal.keys().any(|(i, _)| *i == id)
    }
}

fn collect(
    schema: &Schema,
    pool: &SchemaPool,
    index: NodeIndex,
    out: &mut InterfaceInner,
    seen: &mut Vec<u64>,
    depth: usize,
) -> Result<()> {
    let node = pool.node(index);
    if depth > MAX_SUPERCLASS_DEPTH {
        return Err(Error::schema(format!(
            "interface `{}` extends more than {MAX_SUPERCLASS_DEPTH} levels of interfaces",
            out.name
        )));
    }
    if seen.contains(&node.id) {
        // Diamond inheritance reaches one interface twice; its methods are already in.
        return Ok(());
    }
    seen.push(node.id);
    let Some(iface) = node.as_interface() else {
        return Err(Error::schema(format!(
            "`{}` extends `{}`, which is not an interface",
            out.name, node.display_name
        )));
    };
    let interface_name: Arc<str> = node.short_name().into();
    for (ordinal, m) in iface.methods.iter().enumerate() {
        let ordinal = ordinal as u16;
        let params = struct_handle(schema, m.param_struct, m.param_brand.clone(), &m.name)?;
        let results = struct_handle(schema, m.result_struct, m.result_brand.clone(), &m.name)?;
        let method = MethodSchema::new(MethodParts {
            interface_id: node.id,
            interface_name: interface_name.clone(),
            ordinal,
            name: m.name.as_str().into(),
            params,
            results,
            streaming: m.result_struct == STREAM_RESULT_ID,
        });
        let i = out.methods.len();
        out.by_ordinal.insert((node.id, ordinal), i);
        out.by_name.entry(m.name.as_str().into()).or_insert(i);
        out.methods.push(method);
    }
    for (id, _) in &iface.superclasses {
        let Some(sup) = pool.index_of(*id) else {
            return Err(Error::schema(format!(
                "`{}` extends the interface {id:#x}, which the schema lacks",
                out.name
            )));
        };
        collect(schema, pool, sup, out, seen, depth + 1)?;
    }
    Ok(())
}

fn struct_handle(
    schema: &Schema,
    id: u64,
    brand: Option<Arc<serde_capnp_schema::Brand>>,
    method: &str,
) -> Result<StructSchema> {
    if id == STREAM_RESULT_ID && schema.pool().index_of(id).is_none() {
        // `StreamResult` lives in `stream.capnp`, which a request need not carry: an empty
        // struct stands in for it.
        return Ok(empty_struct());
    }
    let mut handle = schema.struct_by_id(id).map_err(|e| {
        Error::schema(format!(
            "the parameter or result struct of method `{method}` is unusable: {e}"
        ))
    })?;
    handle.brand = brand;
    Ok(handle)
}

/// A handle on an empty struct, for methods whose result struct the schema does not carry.
fn empty_struct() -> StructSchema {
    static EMPTY: std::sync::OnceLock<Schema> = std::sync::OnceLock::new();
    let schema = EMPTY.get_or_init(|| {
        Schema::parse(
            "stream.capnp",
            "@0x86c366a91393f3f8;\nstruct StreamResult @0x995f9a3377c0b16e {}\n",
        )
        .expect("the built-in `StreamResult` schema compiles")
    });
    schema
        .struct_by_id(STREAM_RESULT_ID)
        .expect("the built-in schema holds `StreamResult`")
}

impl std::ops::Deref for MethodSchema {
    type Target = MethodParts;
    fn deref(&self) -> &MethodParts {
        &self.0
    }
}

impl MethodSchema {
    pub(crate) fn new(parts: MethodParts) -> MethodSchema {
        MethodSchema(Arc::new(parts))
    }

    /// The method's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The method's ordinal in the interface that declares it.
    pub fn ordinal(&self) -> u16 {
        self.ordinal
    }

    /// The ID of the interface that declares the method (a superclass, for an inherited one).
    pub fn interface_id(&self) -> u64 {
        self.interface_id
    }

    /// The handle of the parameter struct.
    pub fn params(&self) -> &StructSchema {
        &self.params
    }

    /// The handle of the result struct.
    pub fn results(&self) -> &StructSchema {
        &self.results
    }

    /// Whether the method is declared `-> stream`.
    pub fn is_streaming(&self) -> bool {
        self.streaming
    }

    /// The pointer slots that lead from the result struct to the field named by `path`
    /// (`["value"]`, or `["inner", "cap"]` through struct fields), for pipelining.
    pub(crate) fn pipeline_path(&self, path: &[&str]) -> Result<Vec<u16>> {
        let pool = &*self.results.pool;
        let mut node = self.results.node;
        let mut slots = Vec::with_capacity(path.len());
        for (i, name) in path.iter().enumerate() {
            let Some(st) = pool.struct_node(node) else {
                return Err(Error::schema(format!(
                    "cannot pipeline through `{name}`: the field before it is not a struct"
                )));
            };
            let Some(f) = st
                .field_index(name)
                .or_else(|| st.field_by_rust_name(name))
                .map(|f| &st.fields[f as usize])
            else {
                return Err(Error::schema(format!(
                    "the results of `{}` have no field `{name}`",
                    self.name
                )));
            };
            match &f.slot {
                serde_capnp_schema::FieldSlot::Pointer { ty, index, .. } => {
                    let last = i + 1 == path.len();
                    match ty {
                        Type::Struct(n, _) if !last => node = *n,
                        Type::Interface(..) | Type::AnyPointer(_) if last => {}
                        _ => {
                            return Err(Error::schema(format!(
                                "cannot pipeline on `{name}` of `{}`: it is `{}`, not {}",
                                self.name,
                                ty.describe(pool),
                                if last { "a capability" } else { "a struct" }
                            )))
                        }
                    }
                    slots.push(*index);
                }
                serde_capnp_schema::FieldSlot::Group { node: n } if i + 1 < path.len() => {
                    // A group lives in its parent's sections: no pointer to follow.
                    node = *n;
                }
                _ => {
                    return Err(Error::schema(format!(
                        "cannot pipeline on `{name}` of `{}`: it is not a pointer field",
                        self.name
                    )))
                }
            }
        }
        Ok(slots)
    }
}

impl fmt::Debug for InterfaceSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InterfaceSchema")
            .field("name", &self.inner.name)
            .field("id", &format_args!("{:#x}", self.inner.id))
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for MethodSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.interface_name, self.name)
    }
}
