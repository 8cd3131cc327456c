//! The syntax tree of one `.capnp` file, as the parser produces it.
//!
//! The tree is purely syntactic: names are not resolved, types are expressions, ordinals are not
//! checked. Every node carries a [`Span`] so the translator can point at the source.

/// A byte range in one source file (`start..end`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// Builds a span.
    pub fn new(start: u32, end: u32) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// A value with the span it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Where it is.
    pub span: Span,
}

/// An expression: a type, a value, a name or an annotation application target.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What the expression is.
    pub kind: ExprKind,
    /// Where it is.
    pub span: Span,
}

/// The forms an expression takes.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// Could not be parsed; an error was already reported, so later stages stay quiet about it.
    Unknown,
    /// A non-negative integer literal (decimal, `0x` hex or `0` octal).
    PositiveInt(u64),
    /// `-N`; the magnitude is kept, so `-9223372036854775808` fits.
    NegativeInt(u64),
    /// A float literal. `-inf` parses to negative infinity; plain `inf`, `nan`, `true` and
    /// `false` stay relative names, which the value translator recognizes.
    Float(f64),
    /// A string literal, escapes decoded. Adjacent literals are concatenated.
    String(String),
    /// A string literal whose escapes make bytes that are not UTF-8 (`"\xff"`).
    StringBytes(Vec<u8>),
    /// `0x"0a 1b"`: binary data.
    Binary(Vec<u8>),
    /// `Foo`: a name looked up in the enclosing scopes.
    RelativeName(Located<String>),
    /// `.Foo`: a name looked up at file scope.
    AbsoluteName(Located<String>),
    /// `import "path"`.
    Import(Located<String>),
    /// `embed "path"`.
    Embed(Located<String>),
    /// `[a, b, c]`.
    List(Vec<Expr>),
    /// `(a = 1, b = 2)` or `(1, 2)`.
    Tuple(Vec<Param>),
    /// `Foo(T, U)` or `Foo(T = ..)`: a generic applied to parameters, or an annotation argument.
    Application {
        /// The generic.
        function: Box<Expr>,
        /// The arguments.
        params: Vec<Param>,
    },
    /// `parent.name`.
    Member {
        /// What the member is looked up in.
        parent: Box<Expr>,
        /// The member's name.
        name: Located<String>,
    },
}

/// One element of a tuple or an application: `value` or `name = value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// The name, when written `name = value`.
    pub name: Option<Located<String>>,
    /// The value.
    pub value: Expr,
}

/// What follows a declaration's name: `@0x…` (an ID), `@N` (an ordinal), or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclId {
    /// Nothing written.
    Unspecified,
    /// `@0x…` on a file, type, constant or annotation.
    Uid(Located<u64>),
    /// `@N` on a field, enumerant, method or union.
    Ordinal(Located<u64>),
}

/// `$name(value)` attached to a declaration or parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct AnnotationUse {
    /// The annotation's name (may be qualified or generic).
    pub name: Expr,
    /// The value; `None` when no parentheses were written (the annotation is `Void`).
    pub value: Option<Expr>,
    /// The whole application, `$` included.
    pub span: Span,
}

/// One declaration: a file, type, member, constant, annotation or `using`.
#[derive(Debug, Clone, PartialEq)]
pub struct Decl {
    /// The declared name. For the file declaration this is the file's name; for unnamed unions
    /// the name is empty and the span covers the `union` keyword.
    pub name: Located<String>,
    /// `@…` after the name.
    pub id: DeclId,
    /// `Foo(T, U)`: generic parameters.
    pub parameters: Vec<Located<String>>,
    /// Declarations inside the braces (nested types, fields, enumerants, methods, …).
    pub nested: Vec<Decl>,
    /// `$…` applications.
    pub annotations: Vec<AnnotationUse>,
    /// The whole declaration.
    pub span: Span,
    /// The `#` comment that documents it, with the `#` and one following space removed from
    /// each line, lines joined with `\n` and a trailing `\n`; `None` when absent.
    pub doc_comment: Option<String>,
    /// What kind of declaration it is.
    pub kind: DeclKind,
}

/// Built-in type names, which the translator seeds into the outermost scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// `Void`.
    Void,
    /// `Bool`.
    Bool,
    /// `Int8`.
    Int8,
    /// `Int16`.
    Int16,
    /// `Int32`.
    Int32,
    /// `Int64`.
    Int64,
    /// `UInt8`.
    UInt8,
    /// `UInt16`.
    UInt16,
    /// `UInt32`.
    UInt32,
    /// `UInt64`.
    UInt64,
    /// `Float32`.
    Float32,
    /// `Float64`.
    Float64,
    /// `Text`.
    Text,
    /// `Data`.
    Data,
    /// `List(T)`.
    List,
    /// `Object`: only so the compiler can say it was renamed.
    Object,
    /// `AnyPointer`.
    AnyPointer,
    /// `AnyStruct`.
    AnyStruct,
    /// `AnyList`.
    AnyList,
    /// `Capability`.
    Capability,
}

/// Which declarations an annotation may be applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Targets {
    /// `file`.
    pub file: bool,
    /// `const`.
    pub const_: bool,
    /// `enum`.
    pub enum_: bool,
    /// `enumerant`.
    pub enumerant: bool,
    /// `struct`.
    pub struct_: bool,
    /// `field`.
    pub field: bool,
    /// `union`.
    pub union_: bool,
    /// `group`.
    pub group: bool,
    /// `interface`.
    pub interface: bool,
    /// `method`.
    pub method: bool,
    /// `param`.
    pub param: bool,
    /// `annotation`.
    pub annotation: bool,
}

/// A method's parameter or result list.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamList {
    /// What was written.
    pub kind: ParamListKind,
    /// From `(` to `)`, or the type expression, or the `stream` keyword.
    pub span: Span,
}

/// The forms of a method's parameter or result list.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamListKind {
    /// `(a :T, b :U = 1)`.
    Named(Vec<MethodParam>),
    /// `Foo`: an existing struct type.
    Type(Expr),
    /// `stream` (results only).
    Stream,
}

/// One named parameter of a method: `name :Type = default $annotations`.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodParam {
    /// Its name.
    pub name: Located<String>,
    /// Its type.
    pub type_: Expr,
    /// `$…` applications.
    pub annotations: Vec<AnnotationUse>,
    /// `= value`.
    pub default_value: Option<Expr>,
    /// The whole parameter.
    pub span: Span,
}

/// The kinds of declarations.
#[derive(Debug, Clone, PartialEq)]
pub enum DeclKind {
    /// The file itself: the root of the tree. Its `id` is the file ID (`@0x…;`).
    File,
    /// `using Name = target;` (or `using import "x";`, where the name is empty).
    Using {
        /// What the name stands for.
        target: Expr,
    },
    /// `const name :Type = value;`
    Const {
        /// Its type.
        type_: Expr,
        /// Its value.
        value: Expr,
    },
    /// `enum Name { … }`.
    Enum,
    /// `name @N;` inside an enum.
    Enumerant,
    /// `struct Name { … }`.
    Struct,
    /// `name @N :Type = default;`
    Field {
        /// Its type.
        type_: Expr,
        /// `= value`.
        default_value: Option<Expr>,
    },
    /// `union { … }` or `name :union { … }`; may carry an ordinal (`union @N { … }`).
    Union,
    /// `name :group { … }`.
    Group,
    /// `interface Name extends(A, B) { … }`.
    Interface {
        /// The `extends(…)` list.
        superclasses: Vec<Expr>,
    },
    /// `name @N (params) -> (results);` or `name @N [T] (…) -> …;`: implicit generic parameters
    /// go into the declaration's `parameters`.
    Method {
        /// The parameters.
        params: ParamList,
        /// The results; `None` when `-> …` was left out.
        results: Option<ParamList>,
    },
    /// `annotation name(targets) :Type;`
    Annotation {
        /// The value's type.
        type_: Expr,
        /// Where it may be applied.
        targets: Targets,
    },
    /// `@0x…;` alone at file level (the file ID).
    NakedId(Located<u64>),
    /// `$foo(…);` alone at file level: an annotation on the file.
    NakedAnnotation(AnnotationUse),
}
