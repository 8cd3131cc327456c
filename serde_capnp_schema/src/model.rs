use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::SchemaError;

/// Index of a node inside a [`SchemaPool`].
pub type NodeIndex = u32;

/// Every node of a set of compiled schema files.
///
/// # What a pool guarantees
///
/// A pool is built only by the loader ([`SchemaPool::from_code_generator_request`], which the
/// compiler goes through too), and the loader refuses any request that breaks one of the rules
/// below. Code that reads the model may rely on them; the accessors that return `Option`
/// ([`SchemaPool::struct_node`], [`StructNode::union_member`], ...) never return `None` where
/// a rule says the thing exists.
///
/// - **Indices.** Every [`NodeIndex`] in the model (in [`Type`]s and [`FieldSlot::Group`]) is
///   an index into [`nodes`](SchemaPool::nodes). `Type::Struct` names a struct node,
///   `Type::Enum` an enum node, `Type::Interface` an interface node, `FieldSlot::Group` a group
///   node. Method parameter and result structs, superclasses and annotations name nodes of the
///   pool of the right kind (struct, interface, annotation), and requested files name files.
/// - **Groups.** A group's node has `is_group` set, its `scope_id` is the struct (or group)
///   holding the field, and its data and pointer sections are that struct's. Groups nest at most
///   [`MAX_GROUP_NESTING`](crate::MAX_GROUP_NESTING) deep, so following groups always ends:
///   no struct contains itself through groups. A group is no pointer: a reader that bounds its
///   recursion by a message's nesting should count the groups it enters too.
/// - **Unions.** `discriminant_count` is 0 or at least 2. `union_members` has exactly
///   `discriminant_count` entries; `union_members[d]` is the field whose discriminant is `d`,
///   and every field with a discriminant is listed there; `plain_fields` lists all the others,
///   in code order.
/// - **Layout.** Every data field lies inside its struct's data section (`offset × width +
///   width ≤ data_words × 64`, computed without overflow), every pointer field's index is below
///   `pointer_count`, and a union's discriminant lies inside the data section.
/// - **Members.** A struct has at most [`MAX_MEMBERS`](crate::MAX_MEMBERS) fields, an enum
///   that many enumerants, an interface that many methods, a node that many generic
///   parameters. Within a node, the names of fields, enumerants and methods are distinct and
///   their code orders are a permutation of their positions; explicit field ordinals increase.
/// - **Types and values.** Brand scopes name generic nodes of the pool and bind as many types
///   as those declare parameters, all of them pointer types; a `Type::Param` names a generic
///   node of the pool and a parameter it declares. A default value, a constant's value and an
///   annotation's value have the kind of their type (Text for `Text`, a struct for a struct
///   type, ...; a generic parameter takes any pointer value). Struct and list values are
///   single-segment messages with no far pointers and no capabilities, whose root pointer is
///   null or of the value's kind; their size counts towards the memory bound below.
/// - **Scopes.** A file's `scope_id` is 0; any other node's is 0 or names a node of the pool,
///   and following scope IDs ends. A nested node present in the pool has the nesting node as
///   its scope. `parameters` is empty unless `is_generic` is set.
/// - **Interfaces.** Superclasses are interfaces of the pool, but they may extend each other
///   in a cycle (the reference compiler accepts `interface A extends(B)` with `B extends(A)`):
///   a walk over superclasses must remember the interfaces it has seen.
/// - **Annotations.** Every annotation applied names an annotation declaration that allows
///   the kind of declaration it is applied to, and its value has the declaration's type.
/// - **Names.** `display_name_prefix_length` is a character boundary of `display_name`. Node
///   IDs are distinct and not 0.
/// - **Memory.** Loading a request of `n` bytes takes at most
///   [`MEMORY_PER_REQUEST_BYTE`](crate::MEMORY_PER_REQUEST_BYTE)` × n + `
///   [`MEMORY_BASE`](crate::MEMORY_BASE) bytes for the pool, plus a copy of the request while
///   it is read: lists are charged for before anything is allocated for them, so a request
///   whose lists claim far more elements than it holds is refused early.
#[derive(Debug, Clone, Default)]
pub struct SchemaPool {
    pub(crate) nodes: Vec<Node>,
    pub(crate) by_id: HashMap<u64, NodeIndex>,
    pub(crate) by_name: HashMap<String, Vec<NodeIndex>>,
    pub(crate) requested_files: Vec<RequestedFile>,
}

/// A file named on the compiler's command line.
#[derive(Debug, Clone)]
pub struct RequestedFile {
    /// The file node's ID.
    pub id: u64,
    /// The file name as given to the compiler.
    pub filename: String,
    /// The files it imports: (ID, name as written).
    pub imports: Vec<(u64, String)>,
}

impl SchemaPool {
    /// All nodes, in the order the request listed them.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The node at `index`.
    ///
    /// # Panics
    /// If `index` did not come from this pool.
    pub fn node(&self, index: NodeIndex) -> &Node {
        &self.nodes[index as usize]
    }

    /// The node at `index`, or `None` if the pool has no such node.
    pub fn get(&self, index: NodeIndex) -> Option<&Node> {
        self.nodes.get(index as usize)
    }

    /// The index of the node with this 64-bit ID.
    pub fn index_of(&self, id: u64) -> Option<NodeIndex> {
        self.by_id.get(&id).copied()
    }

    /// The struct (or group) at `index`; `None` if that node is not a struct.
    pub fn struct_node(&self, index: NodeIndex) -> Option<&StructNode> {
        self.get(index)?.as_struct()
    }

    /// The enum at `index`; `None` if that node is not an enum.
    pub fn enum_node(&self, index: NodeIndex) -> Option<&EnumNode> {
        self.get(index)?.as_enum()
    }

    /// The interface at `index`; `None` if that node is not an interface.
    pub fn interface_node(&self, index: NodeIndex) -> Option<&InterfaceNode> {
        self.get(index)?.as_interface()
    }

    /// The struct a struct type names, with its index; `None` for other types.
    pub fn struct_of(&self, ty: &Type) -> Option<(NodeIndex, &StructNode)> {
        match ty {
            Type::Struct(n, _) => Some((*n, self.struct_node(*n)?)),
            _ => None,
        }
    }

    /// The enum an enum type names, with its index; `None` for other types.
    pub fn enum_of(&self, ty: &Type) -> Option<(NodeIndex, &EnumNode)> {
        match ty {
            Type::Enum(n) => Some((*n, self.enum_node(*n)?)),
            _ => None,
        }
    }

    /// The group a group field holds, with its index; `None` for other fields.
    pub fn group_of(&self, slot: &FieldSlot) -> Option<(NodeIndex, &StructNode)> {
        match slot {
            FieldSlot::Group { node } => Some((*node, self.struct_node(*node)?)),
            _ => None,
        }
    }

    /// The files the request asked to compile.
    pub fn requested_files(&self) -> &[RequestedFile] {
        &self.requested_files
    }

    /// Finds a node by name: the full display name (`addressbook.capnp:Person.PhoneNumber`), the
    /// name path inside its file (`Person.PhoneNumber`), or a short name (`PhoneNumber`) when only
    /// one node has it. A file name without directories (`addressbook.capnp:Person`) works too.
    pub fn find(&self, name: &str) -> Result<NodeIndex, SchemaError> {
        let key = match name.split_once(':') {
            Some((file, path)) => {
                let file = file.rsplit('/').next().unwrap_or(file);
                format!("{file}:{path}")
            }
            None => name.to_string(),
        };
        match self.by_name.get(&key).map(Vec::as_slice) {
            Some([one]) => Ok(*one),
            Some(many) if !many.is_empty() => {
                let names: Vec<String> = many
                    .iter()
                    .map(|&i| format!("`{}`", self.node(i).display_name))
                    .collect();
                Err(SchemaError::new(format!(
                    "name `{name}` is ambiguous: it could be {}",
                    names.join(", ")
                )))
            }
            _ => Err(SchemaError::new(format!(
                "no node named `{name}` in the schema"
            ))),
        }
    }
}

/// One schema node: a file, struct, enum, interface, constant or annotation.
#[derive(Debug, Clone)]
pub struct Node {
    /// The 64-bit ID.
    pub id: u64,
    /// The display name, e.g. `addressbook.capnp:Person.PhoneNumber`.
    pub display_name: String,
    /// Where in `display_name` the node's own short name starts.
    pub display_name_prefix_length: usize,
    /// The ID of the enclosing node (0 for files).
    pub scope_id: u64,
    /// Names of the generic parameters this node declares.
    pub parameters: Vec<String>,
    /// Whether this node or any enclosing scope is generic.
    pub is_generic: bool,
    /// Nested declarations: (name, ID).
    pub nested: Vec<(String, u64)>,
    /// Annotations applied to this node.
    pub annotations: Vec<Annotation>,
    /// The documentation comment, when the request carried source info.
    pub doc_comment: Option<String>,
    /// What kind of node it is.
    pub kind: NodeKind,
}

impl Node {
    /// The node's own name, e.g. `PhoneNumber`.
    pub fn short_name(&self) -> &str {
        self.display_name
            .get(self.display_name_prefix_length..)
            .unwrap_or(&self.display_name)
    }

    /// The struct part, when this node is a struct.
    pub fn as_struct(&self) -> Option<&StructNode> {
        match &self.kind {
            NodeKind::Struct(s) => Some(s),
            _ => None,
        }
    }

    /// The enum part, when this node is an enum.
    pub fn as_enum(&self) -> Option<&EnumNode> {
        match &self.kind {
            NodeKind::Enum(e) => Some(e),
            _ => None,
        }
    }

    /// The interface part, when this node is an interface.
    pub fn as_interface(&self) -> Option<&InterfaceNode> {
        match &self.kind {
            NodeKind::Interface(i) => Some(i),
            _ => None,
        }
    }

    /// The constant part, when this node is a constant.
    pub fn as_const(&self) -> Option<&ConstNode> {
        match &self.kind {
            NodeKind::Const(c) => Some(c),
            _ => None,
        }
    }

    /// The annotation declaration part, when this node declares an annotation.
    pub fn as_annotation(&self) -> Option<&AnnotationNode> {
        match &self.kind {
            NodeKind::Annotation(a) => Some(a),
            _ => None,
        }
    }
}

/// The kind-specific part of a node.
#[derive(Debug, Clone)]
pub enum NodeKind {
    /// A schema file.
    File,
    /// A struct or group.
    Struct(StructNode),
    /// An enum.
    Enum(EnumNode),
    /// An interface.
    Interface(InterfaceNode),
    /// A constant.
    Const(ConstNode),
    /// An annotation declaration.
    Annotation(AnnotationNode),
}

/// A struct (or a group, which shares its parent's sections).
#[derive(Debug, Clone)]
pub struct StructNode {
    /// Size of the data section in 64-bit words.
    pub data_words: u16,
    /// Number of pointers in the pointer section.
    pub pointer_count: u16,
    /// Whether this node is a group inside another struct.
    pub is_group: bool,
    /// Number of union members (0 when the struct has no unnamed union).
    pub discriminant_count: u16,
    /// Offset of the union discriminant, in 16-bit units of the data section.
    pub discriminant_offset: u32,
    /// The fields, in code order of their ordinals as the request lists them.
    pub fields: Vec<Field>,
    /// Indices into `fields` of the members of the unnamed union, by discriminant value.
    pub union_members: Vec<u16>,
    /// Indices into `fields` of the fields outside the union, in code order.
    pub plain_fields: Vec<u16>,
    pub(crate) by_name: NameIndex,
}

impl StructNode {
    /// The index of the field named `name` (exact Cap'n Proto name).
    pub fn field_index(&self, name: &str) -> Option<u16> {
        self.by_name.exact(name)
    }

    /// The index of the field a Rust name denotes: the exact name, or its snake_case or
    /// PascalCase form (`first_name`, `FirstName` for `firstName`).
    pub fn field_by_rust_name(&self, name: &str) -> Option<u16> {
        self.by_name.rust(name)
    }

    /// The field at `index` (an index from [`field_index`](Self::field_index),
    /// `union_members` or `plain_fields`).
    pub fn field(&self, index: u16) -> Option<&Field> {
        self.fields.get(index as usize)
    }

    /// The member of the unnamed union whose discriminant is `discriminant`, with its index in
    /// `fields`; `None` past the last member (a discriminant written by a newer schema).
    pub fn union_member(&self, discriminant: u16) -> Option<(u16, &Field)> {
        let index = *self.union_members.get(discriminant as usize)?;
        Some((index, self.field(index)?))
    }

    /// Whether the struct has an unnamed union.
    pub fn has_union(&self) -> bool {
        self.discriminant_count > 0
    }

    /// Where the union discriminant sits in the data section, in bits.
    pub fn discriminant_bit(&self) -> u64 {
        self.discriminant_offset as u64 * 16
    }
}

/// A struct field.
#[derive(Debug, Clone)]
pub struct Field {
    /// The Cap'n Proto name, e.g. `firstName`.
    pub name: String,
    /// Position in the source code.
    pub code_order: u16,
    /// The discriminant value when the field is a member of the struct's unnamed union.
    pub discriminant: Option<u16>,
    /// The `@N` ordinal (groups and unions have none).
    pub ordinal: Option<u16>,
    /// Annotations on the field.
    pub annotations: Vec<Annotation>,
    /// Where the field lives and what it holds.
    pub slot: FieldSlot,
}

/// Where a field's value lives in the struct.
#[derive(Debug, Clone)]
pub enum FieldSlot {
    /// A Void field: it occupies no space.
    Void,
    /// A value in the data section.
    Data {
        /// The type: a primitive or an enum.
        ty: Type,
        /// The offset in multiples of the type's width (bits for Bool).
        offset: u32,
        /// The default value's bit pattern (the wire holds `value ^ default`).
        default_bits: u64,
    },
    /// A value behind a pointer.
    Pointer {
        /// The type: Text, Data, List, Struct, Interface or AnyPointer.
        ty: Type,
        /// Index in the pointer section.
        index: u16,
        /// The schema default, read when the pointer is null.
        default: Option<Value>,
    },
    /// A group: a nested struct node laid out inside this struct.
    Group {
        /// The group's node.
        node: NodeIndex,
    },
}

impl FieldSlot {
    /// The field's type (`None` for groups).
    pub fn ty(&self) -> Option<&Type> {
        match self {
            FieldSlot::Void => Some(&Type::Void),
            FieldSlot::Data { ty, .. } | FieldSlot::Pointer { ty, .. } => Some(ty),
            FieldSlot::Group { .. } => None,
        }
    }
}

/// A Cap'n Proto type.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    /// `Void`
    Void,
    /// `Bool`
    Bool,
    /// `Int8`
    Int8,
    /// `Int16`
    Int16,
    /// `Int32`
    Int32,
    /// `Int64`
    Int64,
    /// `UInt8`
    UInt8,
    /// `UInt16`
    UInt16,
    /// `UInt32`
    UInt32,
    /// `UInt64`
    UInt64,
    /// `Float32`
    Float32,
    /// `Float64`
    Float64,
    /// `Text`
    Text,
    /// `Data`
    Data,
    /// `List(T)`
    List(Box<Type>),
    /// An enum.
    Enum(NodeIndex),
    /// A struct, with the generic bindings it was used with.
    Struct(NodeIndex, Option<Arc<Brand>>),
    /// An interface, with the generic bindings it was used with.
    Interface(NodeIndex, Option<Arc<Brand>>),
    /// `AnyPointer` and its constrained forms.
    AnyPointer(AnyPointerKind),
    /// A generic parameter of an enclosing scope.
    Param {
        /// The ID of the node declaring the parameter.
        scope_id: u64,
        /// The parameter's position.
        index: u16,
    },
    /// A generic parameter of a method.
    MethodParam(u16),
}

/// The constrained forms of `AnyPointer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnyPointerKind {
    /// `AnyPointer`
    Any,
    /// `AnyStruct`
    Struct,
    /// `AnyList`
    List,
    /// `Capability`
    Capability,
}

/// The generic bindings of a branded type, by scope.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Brand {
    /// One entry per scope that binds parameters.
    pub scopes: Vec<BrandScope>,
}

/// The bindings of one generic scope.
#[derive(Debug, Clone, PartialEq)]
pub struct BrandScope {
    /// The ID of the node declaring the parameters.
    pub scope_id: u64,
    /// `None`: inherit the bindings of the scope in effect where the type is used.
    /// `Some`: one binding per parameter, `None` for an unbound parameter (`AnyPointer`).
    pub bindings: Option<Vec<Option<Type>>>,
}

impl Type {
    /// Whether the type is one of the eight integer types.
    pub fn is_integer(&self) -> bool {
        matches!(
            self,
            Type::Int8
                | Type::Int16
                | Type::Int32
                | Type::Int64
                | Type::UInt8
                | Type::UInt16
                | Type::UInt32
                | Type::UInt64
        )
    }

    /// Whether the value lives in the data section (primitives and enums).
    pub fn is_data(&self) -> bool {
        self.data_bits().is_some()
    }

    /// Width on the wire in bits, for types stored in the data section.
    pub fn data_bits(&self) -> Option<u32> {
        Some(match self {
            Type::Void => 0,
            Type::Bool => 1,
            Type::Int8 | Type::UInt8 => 8,
            Type::Int16 | Type::UInt16 | Type::Enum(_) => 16,
            Type::Int32 | Type::UInt32 | Type::Float32 => 32,
            Type::Int64 | Type::UInt64 | Type::Float64 => 64,
            _ => return None,
        })
    }

    /// Where data slot `offset` of this type sits in a data section, in bits: slot offsets
    /// count in units of the type's width.
    pub fn bit_position(&self, offset: u32) -> u64 {
        offset as u64 * self.data_bits().unwrap_or(0) as u64
    }

    /// Whether the type mentions a generic parameter anywhere.
    pub fn has_params(&self) -> bool {
        match self {
            Type::Param { .. } | Type::MethodParam(_) => true,
            Type::List(t) => t.has_params(),
            Type::Struct(_, Some(b)) | Type::Interface(_, Some(b)) => b.scopes.iter().any(|s| {
                s.bindings.is_none()
                    || s.bindings
                        .iter()
                        .flatten()
                        .flatten()
                        .any(|t: &Type| t.has_params())
            }),
            _ => false,
        }
    }

    /// Like [`resolve`](Self::resolve), borrowing the type when it has no generic parameter to
    /// substitute, so that reading a field of a plain type allocates nothing.
    pub fn resolved(&self, brand: Option<&Brand>) -> Cow<'_, Type> {
        if self.has_params() {
            Cow::Owned(self.resolve(brand))
        } else {
            Cow::Borrowed(self)
        }
    }

    /// Substitutes generic parameters with the bindings of `brand` (the brand of the struct in
    /// which the type is used). Unbound parameters become `AnyPointer`.
    pub fn resolve(&self, brand: Option<&Brand>) -> Type {
        match self {
            Type::Param { scope_id, index } => brand
                .and_then(|b| b.binding(*scope_id, *index))
                .cloned()
                .unwrap_or(Type::AnyPointer(AnyPointerKind::Any)),
            Type::MethodParam(_) => Type::AnyPointer(AnyPointerKind::Any),
            Type::List(t) => Type::List(Box::new(t.resolve(brand))),
            Type::Struct(n, Some(b)) => Type::Struct(*n, Some(Arc::new(b.resolve(brand)))),
            Type::Interface(n, Some(b)) => Type::Interface(*n, Some(Arc::new(b.resolve(brand)))),
            other => other.clone(),
        }
    }

    /// The Cap'n Proto spelling of the type, for messages.
    pub fn describe(&self, pool: &SchemaPool) -> String {
        match self {
            Type::Void => "Void".into(),
            Type::Bool => "Bool".into(),
            Type::Int8 => "Int8".into(),
            Type::Int16 => "Int16".into(),
            Type::Int32 => "Int32".into(),
            Type::Int64 => "Int64".into(),
            Type::UInt8 => "UInt8".into(),
            Type::UInt16 => "UInt16".into(),
            Type::UInt32 => "UInt32".into(),
            Type::UInt64 => "UInt64".into(),
            Type::Float32 => "Float32".into(),
            Type::Float64 => "Float64".into(),
            Type::Text => "Text".into(),
            Type::Data => "Data".into(),
            Type::List(t) => format!("List({})", t.describe(pool)),
            Type::Enum(n) | Type::Struct(n, _) | Type::Interface(n, _) => {
                pool.node(*n).short_name().to_string()
            }
            Type::AnyPointer(AnyPointerKind::Any) => "AnyPointer".into(),
            Type::AnyPointer(AnyPointerKind::Struct) => "AnyStruct".into(),
            Type::AnyPointer(AnyPointerKind::List) => "AnyList".into(),
            Type::AnyPointer(AnyPointerKind::Capability) => "Capability".into(),
            Type::Param { .. } | Type::MethodParam(_) => "AnyPointer".into(),
        }
    }
}

impl Brand {
    /// The binding of parameter `index` of scope `scope_id`, if bound.
    pub fn binding(&self, scope_id: u64, index: u16) -> Option<&Type> {
        let scope = self.scopes.iter().find(|s| s.scope_id == scope_id)?;
        scope.bindings.as_ref()?.get(index as usize)?.as_ref()
    }

    /// Resolves the bindings against the brand in effect where this brand is written.
    pub fn resolve(&self, outer: Option<&Brand>) -> Brand {
        let mut scopes: Vec<BrandScope> = Vec::with_capacity(self.scopes.len());
        for s in &self.scopes {
            match &s.bindings {
                Some(b) => scopes.push(BrandScope {
                    scope_id: s.scope_id,
                    bindings: Some(
                        b.iter()
                            .map(|t| t.as_ref().map(|t| t.resolve(outer)))
                            .collect(),
                    ),
                }),
                None => {
                    if let Some(o) = outer.and_then(|o| {
                        o.scopes
                            .iter()
                            .find(|os| os.scope_id == s.scope_id && os.bindings.is_some())
                    }) {
                        scopes.push(o.clone());
                    }
                }
            }
        }
        // Scopes the inner brand does not mention are inherited from the outer one, so that a
        // nested struct of a generic struct sees its parent's bindings.
        if let Some(o) = outer {
            for os in &o.scopes {
                if !scopes.iter().any(|s| s.scope_id == os.scope_id) {
                    scopes.push(os.clone());
                }
            }
        }
        Brand { scopes }
    }
}

/// An enum.
#[derive(Debug, Clone)]
pub struct EnumNode {
    /// The enumerants, by ordinal.
    pub enumerants: Vec<Enumerant>,
    pub(crate) by_name: NameIndex,
}

impl EnumNode {
    /// The ordinal of the enumerant named `name`.
    pub fn enumerant_index(&self, name: &str) -> Option<u16> {
        self.by_name.exact(name)
    }

    /// The ordinal of the enumerant a Rust name denotes (`SelfEmployed` for `selfEmployed`).
    pub fn enumerant_by_rust_name(&self, name: &str) -> Option<u16> {
        self.by_name.rust(name)
    }

    /// The enumerant with ordinal `ordinal`; `None` for an ordinal the enum does not have (a
    /// message may hold one written by a newer schema).
    pub fn enumerant(&self, ordinal: u16) -> Option<&Enumerant> {
        self.enumerants.get(ordinal as usize)
    }
}

/// A hash map with [`FastHasher`], for the model's small keys.
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// A small, fast, non-cryptographic hasher (the multiply-rotate scheme of rustc's FxHash) for
/// integer and short string keys. Not for keys an attacker chooses.
#[derive(Default, Clone, Copy, Debug)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.write_u64(u64::from_le_bytes(c.try_into().unwrap()));
        }
        for &b in chunks.remainder() {
            self.write_u64(b as u64);
        }
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.write_u64(v as u64)
    }
    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64)
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Names to indices: the exact Cap'n Proto names, and the Rust spellings derived from them.
#[derive(Debug, Clone, Default)]
pub(crate) struct NameIndex {
    exact: FastMap<String, u16>,
    rust: FastMap<String, u16>,
}

impl NameIndex {
    /// Indexes `names`, which must be distinct: the position of the first name that repeats an
    /// earlier one is the error.
    pub(crate) fn distinct<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, usize> {
        let mut repeated = None;
        let index = Self::build(names, &mut repeated);
        match repeated {
            Some(i) => Err(i),
            None => Ok(index),
        }
    }

    #[cfg(test)]
    pub(crate) fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        Self::build(names, &mut None)
    }

    fn build<'a>(names: impl IntoIterator<Item = &'a str>, repeated: &mut Option<usize>) -> Self {
        let mut index = NameIndex::default();
        let mut ambiguous = Vec::new();
        for (i, name) in names.into_iter().enumerate() {
            if index.exact.insert(name.to_string(), i as u16).is_some() && repeated.is_none() {
                *repeated = Some(i);
            }
            let mut pascal = name.to_string();
            if let Some(first) = pascal.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            for form in [to_snake_case(name), pascal] {
                if form != name && index.rust.insert(form.clone(), i as u16).is_some() {
                    ambiguous.push(form);
                }
            }
        }
        // A derived spelling two names share denotes neither.
        for form in ambiguous {
            index.rust.remove(&form);
        }
        index
    }

    fn exact(&self, name: &str) -> Option<u16> {
        self.exact.get(name).copied()
    }

    fn rust(&self, name: &str) -> Option<u16> {
        self.exact(name).or_else(|| self.rust.get(name).copied())
    }
}

/// One enumerant.
#[derive(Debug, Clone)]
pub struct Enumerant {
    /// The name, e.g. `selfEmployed`.
    pub name: String,
    /// Position in the source code.
    pub code_order: u16,
    /// Annotations on the enumerant.
    pub annotations: Vec<Annotation>,
}

/// An interface.
#[derive(Debug, Clone)]
pub struct InterfaceNode {
    /// The methods, by ordinal.
    pub methods: Vec<Method>,
    /// The interfaces this one extends: (ID, brand).
    pub superclasses: Vec<(u64, Option<Arc<Brand>>)>,
}

/// One interface method.
#[derive(Debug, Clone)]
pub struct Method {
    /// The name.
    pub name: String,
    /// Position in the source code.
    pub code_order: u16,
    /// The parameter struct's ID.
    pub param_struct: u64,
    /// The brand of the parameter struct.
    pub param_brand: Option<Arc<Brand>>,
    /// The result struct's ID.
    pub result_struct: u64,
    /// The brand of the result struct.
    pub result_brand: Option<Arc<Brand>>,
    /// Names of the method's own generic parameters.
    pub implicit_parameters: Vec<String>,
    /// Annotations on the method.
    pub annotations: Vec<Annotation>,
}

/// A constant.
#[derive(Debug, Clone)]
pub struct ConstNode {
    /// The constant's type.
    pub ty: Type,
    /// The constant's value.
    pub value: Value,
}

/// An annotation declaration.
#[derive(Debug, Clone)]
pub struct AnnotationNode {
    /// The type of the annotation's value.
    pub ty: Type,
    /// Which kinds of declaration it may be applied to, as names (`struct`, `field`, …).
    pub targets: Vec<&'static str>,
}

/// An annotation applied to a declaration.
#[derive(Debug, Clone)]
pub struct Annotation {
    /// The annotation declaration's ID.
    pub id: u64,
    /// The brand of a generic annotation.
    pub brand: Option<Arc<Brand>>,
    /// The value.
    pub value: Value,
}

/// A value written in a schema: a default, a constant or an annotation value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `void`
    Void,
    /// A Bool.
    Bool(bool),
    /// An Int8.
    Int8(i8),
    /// An Int16.
    Int16(i16),
    /// An Int32.
    Int32(i32),
    /// An Int64.
    Int64(i64),
    /// A UInt8.
    UInt8(u8),
    /// A UInt16.
    UInt16(u16),
    /// A UInt32.
    UInt32(u32),
    /// A UInt64.
    UInt64(u64),
    /// A Float32.
    Float32(f32),
    /// A Float64.
    Float64(f64),
    /// Text.
    Text(String),
    /// Data.
    Data(Vec<u8>),
    /// An enumerant's ordinal.
    Enum(u16),
    /// A list literal, encoded as a message.
    List(RawPointer),
    /// A struct literal, encoded as a message.
    Struct(RawPointer),
    /// An interface (always null in a schema).
    Interface,
    /// An `AnyPointer` value, encoded as a message.
    AnyPointer(RawPointer),
}

impl Value {
    /// The bit pattern of a data-section value (primitives and enums).
    pub fn data_bits(&self) -> u64 {
        match *self {
            Value::Bool(b) => b as u64,
            Value::Int8(v) => v as u8 as u64,
            Value::Int16(v) => v as u16 as u64,
            Value::Int32(v) => v as u32 as u64,
            Value::Int64(v) => v as u64,
            Value::UInt8(v) => v as u64,
            Value::UInt16(v) => v as u64,
            Value::UInt32(v) => v as u64,
            Value::UInt64(v) => v,
            Value::Float32(v) => v.to_bits() as u64,
            Value::Float64(v) => v.to_bits(),
            Value::Enum(v) => v as u64,
            _ => 0,
        }
    }
}

/// A pointer value kept as a single-segment message whose first word is the root pointer.
#[derive(Clone, PartialEq, Eq)]
pub struct RawPointer(pub Arc<[u8]>);

impl RawPointer {
    /// The message's only segment (the root pointer is its first word).
    pub fn segment(&self) -> &[u8] {
        &self.0
    }

    /// Whether the pointer is null.
    pub fn is_null(&self) -> bool {
        self.0.len() < 8 || self.0[..8] == [0; 8]
    }
}

impl std::fmt::Debug for RawPointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RawPointer({} bytes)", self.0.len())
    }
}

/// Converts a Cap'n Proto name to the Rust convention for fields: `firstName` → `first_name`.
pub fn to_snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.char_indices() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether a Rust name (`first_name`, `FirstName`, `firstName`) denotes the Cap'n Proto name
/// `capnp` (`firstName`) under the snake_case ↔ camelCase and PascalCase ↔ camelCase rules.
pub fn names_match(rust: &str, capnp: &str) -> bool {
    if rust == capnp {
        return true;
    }
    let mut r = rust.chars().peekable();
    let mut c = capnp.chars();
    let mut first = true;
    loop {
        match (r.next(), c.next()) {
            (None, None) => return true,
            (Some('_'), Some(cc)) if !first => match r.next() {
                Some(rc) if rc.to_ascii_uppercase() == cc && cc.is_ascii_uppercase() => {}
                Some(rc) if rc.is_ascii_digit() && rc == cc => {}
                _ => return false,
            },
            (Some(rc), Some(cc)) if first => {
                if rc.to_ascii_lowercase() != cc {
                    return false;
                }
            }
            (Some(rc), Some(cc)) => {
                if rc != cc {
                    return false;
                }
            }
            _ => return false,
        }
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rules() {
        assert!(names_match("first_name", "firstName"));
        assert!(names_match("FirstName", "firstName"));
        assert!(names_match("firstName", "firstName"));
        assert!(names_match("id", "id"));
        assert!(names_match("self_employed", "selfEmployed"));
        assert!(names_match("SelfEmployed", "selfEmployed"));
        assert!(names_match("list_of_u8", "listOfU8"));
        assert!(!names_match("firstname", "firstName"));
        assert!(!names_match("first_name", "firstname"));
        assert!(!names_match("_x", "X"));
        assert!(names_match("int8_field", "int8Field"));
        assert_eq!(to_snake_case("selfEmployed"), "self_employed");
    }

    #[test]
    fn rust_spellings_find_names_and_ambiguity_finds_none() {
        let index = NameIndex::new(["firstName", "selfEmployed", "aBC", "aB_c", "a_b"]);
        assert_eq!(index.rust("firstName"), Some(0));
        assert_eq!(index.rust("first_name"), Some(0));
        assert_eq!(index.rust("SelfEmployed"), Some(1));
        assert_eq!(index.exact("first_name"), None);
        // An exact name wins over another name's derived spelling.
        assert_eq!(index.rust("a_b"), Some(4));
        // `a_b_c` is the snake_case spelling of both `aBC` and `aB_c`: it denotes neither.
        assert_eq!(index.rust("a_b_c"), None);
        assert_eq!(index.rust("ABC"), Some(2));
        assert_eq!(index.rust("nothing"), None);
    }
}
