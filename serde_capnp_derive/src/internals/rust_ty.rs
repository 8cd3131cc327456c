//! What serde does with a Rust type, as far as its spelling shows.
//!
//! A proc macro sees syntax, not resolved types: `u32` is taken to be the primitive and
//! `Vec<T>` the standard vector, as every serde user writes them. Any other path is
//! [`RustTy::Opaque`]: another bound type (checked through its `NODE_ID`), or a type checked
//! when the handle is first built.

use syn::{GenericArgument, PathArguments, Type};

#[derive(Clone)]
pub enum RustTy<'a> {
    Unit,
    Bool,
    /// An integer of `bits` bits; `pointer` for `usize`/`isize`, whose width is the target's.
    Int {
        signed: bool,
        bits: u32,
        pointer: bool,
    },
    Float(u32),
    Char,
    /// `String`, `str`, `Cow<str>`, `Box<str>`, `Rc<str>`, `Arc<str>`.
    Str,
    /// Written with `serialize_bytes`: `serde_bytes::ByteBuf`, `serde_bytes::Bytes`, or a field
    /// with `#[serde(with = "serde_bytes")]`.
    Bytes,
    Option(Box<RustTy<'a>>),
    /// A sequence: `Vec`, `VecDeque`, `LinkedList`, sets, `BinaryHeap`, slices and arrays.
    Seq(Box<RustTy<'a>>),
    /// `HashMap`, `BTreeMap`.
    Map(Box<RustTy<'a>>, Box<RustTy<'a>>),
    Tuple(Vec<RustTy<'a>>),
    /// A type the macro cannot see through. `generic` when it names one of the bound type's
    /// generic parameters (nothing about it is known until it is instantiated).
    Opaque {
        ty: &'a Type,
        generic: bool,
    },
}

/// Classifies `ty`. `params` are the bound type's generic type parameters.
pub fn classify<'a>(ty: &'a Type, params: &[String]) -> RustTy<'a> {
    match ty {
        Type::Paren(p) => classify(&p.elem, params),
        Type::Group(g) => classify(&g.elem, params),
        Type::Tuple(t) if t.elems.is_empty() => RustTy::Unit,
        Type::Tuple(t) => RustTy::Tuple(t.elems.iter().map(|e| classify(e, params)).collect()),
        Type::Reference(r) => classify(&r.elem, params),
        Type::Slice(s) => RustTy::Seq(Box::new(classify(&s.elem, params))),
        Type::Array(a) => RustTy::Seq(Box::new(classify(&a.elem, params))),
        Type::Path(p) if p.qself.is_none() => classify_path(ty, &p.path, params),
        _ => RustTy::Opaque { ty, generic: false },
    }
}

fn classify_path<'a>(ty: &'a Type, path: &'a syn::Path, params: &[String]) -> RustTy<'a> {
    let opaque = RustTy::Opaque { ty, generic: false };
    let Some(last) = path.segments.last() else {
        return opaque;
    };
    let name = last.ident.to_string();
    if path.segments.len() == 1 && params.contains(&name) {
        return RustTy::Opaque { ty, generic: true };
    }
    // Only the standard library's and serde_bytes' types are recognized, by their last
    // segment: `std::vec::Vec` and `Vec` alike.
    let args: Vec<&'a Type> = match &last.arguments {
        PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .filter_map(|g| match g {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        PathArguments::None => Vec::new(),
        PathArguments::Parenthesized(_) => return opaque,
    };
    let int = |signed, bits| RustTy::Int {
        signed,
        bits,
        pointer: false,
    };
    match (name.as_str(), args.as_slice()) {
        ("bool", []) => RustTy::Bool,
        ("i8", []) => int(true, 8),
        ("i16", []) => int(true, 16),
        ("i32", []) => int(true, 32),
        ("i64", []) => int(true, 64),
        ("i128", []) => int(true, 128),
        ("u8", []) => int(false, 8),
        ("u16", []) => int(false, 16),
        ("u32", []) => int(false, 32),
        ("u64", []) => int(false, 64),
        ("u128", []) => int(false, 128),
        ("isize", []) => RustTy::Int {
            signed: true,
            bits: 64,
            pointer: true,
        },
        ("usize", []) => RustTy::Int {
            signed: false,
            bits: 64,
            pointer: true,
        },
        ("f32", []) => RustTy::Float(32),
        ("f64", []) => RustTy::Float(64),
        ("char", []) => RustTy::Char,
        ("String" | "str", []) => RustTy::Str,
        ("ByteBuf" | "Bytes", []) => RustTy::Bytes,
        ("PhantomData", _) => RustTy::Unit,
        ("Option", [t]) => RustTy::Option(Box::new(classify(t, params))),
        ("Box" | "Rc" | "Arc" | "Cow", [t]) => classify(t, params),
        ("Vec" | "VecDeque" | "LinkedList" | "HashSet" | "BTreeSet" | "BinaryHeap", [t, ..]) => {
            RustTy::Seq(Box::new(classify(t, params)))
        }
        ("HashMap" | "BTreeMap", [k, v, ..]) => {
            RustTy::Map(Box::new(classify(k, params)), Box::new(classify(v, params)))
        }
        _ => opaque,
    }
}

impl RustTy<'_> {
    /// How the type is spelled in messages.
    pub fn describe(&self) -> String {
        match self {
            RustTy::Unit => "`()`".into(),
            RustTy::Bool => "`bool`".into(),
            RustTy::Int {
                signed,
                bits,
                pointer,
            } => match (signed, pointer) {
                (true, true) => "`isize`".into(),
                (false, true) => "`usize`".into(),
                (true, false) => format!("`i{bits}`"),
                (false, false) => format!("`u{bits}`"),
            },
            RustTy::Float(b) => format!("`f{b}`"),
            RustTy::Char => "`char`".into(),
            RustTy::Str => "a string".into(),
            RustTy::Bytes => "bytes".into(),
            RustTy::Option(_) => "an `Option`".into(),
            RustTy::Seq(_) => "a sequence".into(),
            RustTy::Map(..) => "a map".into(),
            RustTy::Tuple(_) => "a tuple".into(),
            RustTy::Opaque { ty, .. } => {
                format!("`{}`", quote::quote!(#ty).to_string().replace(' ', ""))
            }
        }
    }

    /// Whether serde writes it as a sequence of `u8` (which a `Data` field takes as bytes).
    pub fn is_u8_seq(&self) -> bool {
        matches!(self, RustTy::Seq(e) if matches!(**e, RustTy::Int { signed: false, bits: 8, pointer: false }))
    }
}
