//! The compiler's output, shaped like `schema.capnp`'s `Node`, before it is written as a
//! `CodeGeneratorRequest`.
//!
//! Keeping a plain Rust copy lets translation fill nodes in any order (a struct's layout first, its
//! defaults later) and keeps the capnp builder code in one place ([`super::emit`]).

/// One schema node.
#[derive(Debug, Clone, Default)]
pub(crate) struct Node {
    pub id: u64,
    pub display_name: String,
    pub display_name_prefix_length: u32,
    pub scope_id: u64,
    pub nested: Vec<(String, u64)>,
    pub annotations: Vec<Annotation>,
    pub parameters: Vec<String>,
    pub is_generic: bool,
    /// A group or parameter struct: the reference compiler leaves its nested-node list null.
    pub is_aux: bool,
    pub kind: NodeKind,
}

#[derive(Debug, Clone, Default)]
pub(crate) enum NodeKind {
    #[default]
    File,
    Struct(Struct),
    Enum(Vec<Enumerant>),
    Interface {
        methods: Vec<Method>,
        superclasses: Vec<(u64, Brand)>,
    },
    Const {
        type_: Type,
        value: Value,
    },
    Annotation {
        type_: Type,
        targets: super::ast::Targets,
    },
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Struct {
    pub data_words: u16,
    pub pointers: u16,
    pub is_group: bool,
    pub discriminant_count: u16,
    pub discriminant_offset: u32,
    pub fields: Vec<Field>,
}

/// `Field.noDiscriminant`.
pub(crate) const NO_DISCRIMINANT: u16 = 0xffff;

#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub name: String,
    pub code_order: u16,
    pub annotations: Vec<Annotation>,
    pub discriminant_value: u16,
    pub ordinal: Option<u16>,
    pub kind: FieldKind,
}

#[derive(Debug, Clone)]
pub(crate) enum FieldKind {
    Slot {
        offset: u32,
        type_: Type,
        default_value: Value,
        had_explicit_default: bool,
    },
    Group {
        type_id: u64,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Enumerant {
    pub name: String,
    pub code_order: u16,
    pub annotations: Vec<Annotation>,
}

#[derive(Debug, Clone)]
pub(crate) struct Method {
    pub name: String,
    pub code_order: u16,
    pub implicit_parameters: Vec<String>,
    pub param_struct_type: u64,
    pub param_brand: Brand,
    pub result_struct_type: u64,
    pub result_brand: Brand,
    pub annotations: Vec<Annotation>,
}

#[derive(Debug, Clone)]
pub(crate) struct Annotation {
    pub id: u64,
    pub brand: Brand,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) enum Type {
    #[default]
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
    Text,
    Data,
    List(Box<Type>),
    Enum(u64, Brand),
    Struct(u64, Brand),
    Interface(u64, Brand),
    AnyPointer(AnyPointer),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AnyPointer {
    Any,
    AnyStruct,
    AnyList,
    Capability,
    Parameter { scope_id: u64, index: u16 },
    ImplicitMethodParameter { index: u16 },
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Brand {
    pub scopes: Vec<BrandScope>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BrandScope {
    pub scope_id: u64,
    /// `None`: the scope inherits its bindings from the context the type is used in.
    pub bind: Option<Vec<Option<Type>>>,
}

/// A value. Pointer values are kept as flat single-segment messages whose root pointer is the
/// value (`None` for a null pointer), ready to be copied into the request.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) enum Value {
    #[default]
    Void,
    Bool(bool),
    Int8(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    UInt8(u8),
    UInt16(u16),
    UInt32(u32),
    UInt64(u64),
    Float32(f32),
    Float64(f64),
    /// Text bytes, without the NUL; not always UTF-8 (escapes in a literal can make any byte).
    Text(Option<Vec<u8>>),
    Data(Option<Vec<u8>>),
    List(Option<Vec<u8>>),
    Enum(u16),
    Struct(Option<Vec<u8>>),
    Interface,
    AnyPointer(Option<Vec<u8>>),
}

/// Doc comments of one node and its members, for `CodeGeneratorRequest.sourceInfo`.
#[derive(Debug, Clone, Default)]
pub(crate) struct SourceInfo {
    pub id: u64,
    pub doc_comment: Option<String>,
    pub members: Vec<Option<String>>,
}

/// One `CodeGeneratorRequest.requestedFiles` entry.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestedFile {
    pub id: u64,
    pub filename: String,
    pub imports: Vec<(u64, String)>,
}

/// Everything a `CodeGeneratorRequest` carries.
#[derive(Debug, Clone, Default)]
pub(crate) struct Request {
    pub nodes: Vec<Node>,
    pub requested_files: Vec<RequestedFile>,
    pub source_info: Vec<SourceInfo>,
}
