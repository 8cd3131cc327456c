//! The direct path: code that writes and reads a bound type at its fields' offsets, without
//! serde's per-field protocol (see `serde_capnp`'s `direct` module for the runtime half).
//!
//! It is generated only where it can do exactly what serde's derived code does through the
//! serde path: the type must be one serde's derive would write as a plain struct (no
//! `transparent`, `from`/`into`, other enum representations, `flatten`, aliases or fields
//! standing for union members), so that its fields go in declaration order, each into the
//! schema field its serde name resolves to. A field the macro cannot write itself (a
//! `serialize_with` function, a type it cannot see into, a schema default behind a pointer)
//! goes through the serde path for that field alone.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use serde_capnp_schema::{names_match, FieldSlot, NodeIndex, NodeKind, SchemaPool, Type};
use syn::{GenericArgument, PathArguments};

use crate::internals::ast::{Body, Container, Field, Style};
use crate::internals::check::find_field;
use crate::internals::rust_ty::{classify, RustTy};

/// What the direct path adds: items beside the `CapnpStruct` impl, and items inside it.
#[derive(Default)]
pub struct Direct {
    pub items: TokenStream,
    pub capnp_items: TokenStream,
    /// Whether `items` implement `CapnpRead` (with the direct path); the caller adds an empty
    /// implementation (the serde path) otherwise.
    pub reads: bool,
}

/// The lifetime of the message in the read impls: one no user type names, as serde reserves
/// `'de` for its own.
fn de_lifetime() -> syn::Lifetime {
    syn::Lifetime::new("'__de", proc_macro2::Span::call_site())
}

/// `generics` with the message's lifetime first, outliving `borrowed`: the generics of a read
/// impl, as serde's derive builds those of `Deserialize<'de>`.
pub fn read_generics(generics: &syn::Generics, borrowed: &[syn::Lifetime]) -> syn::Generics {
    let mut g = generics.clone();
    let mut de = syn::LifetimeParam::new(de_lifetime());
    de.bounds.extend(borrowed.iter().cloned());
    if !borrowed.is_empty() {
        de.colon_token = Some(Default::default());
    }
    g.params.insert(0, syn::GenericParam::Lifetime(de));
    g
}

/// The lifetimes serde's derive lets the type borrow from the input, which the message's
/// lifetime must outlive: for each field it reads, those its `#[serde(borrow)]` names (all of
/// the field's type's when it names none), or those of a `&str`, `&[u8]` or an `Option` of
/// either, which serde borrows unasked. `None` when a field's type is a macro, whose lifetimes
/// the macro cannot see.
fn borrowed_lifetimes(fields: &[Field]) -> Option<Vec<syn::Lifetime>> {
    let mut out: Vec<syn::Lifetime> = Vec::new();
    for f in fields.iter().filter(|f| !f.serde.skip_de) {
        let mut these = Vec::new();
        if !lifetimes_of(f.ty, &mut these) {
            return None;
        }
        match &f.serde.borrow {
            Some(Some(named)) => these = named.clone(),
            Some(None) => {}
            None if implicitly_borrowed(f.ty) => {}
            None => these.clear(),
        }
        for l in these {
            if !out.contains(&l) {
                out.push(l);
            }
        }
    }
    Some(out)
}

/// Collects the lifetimes written in `ty` into `out`; false when it holds a macro.
fn lifetimes_of(ty: &syn::Type, out: &mut Vec<syn::Lifetime>) -> bool {
    match ty {
        syn::Type::Reference(r) => {
            out.extend(r.lifetime.iter().cloned());
            lifetimes_of(&r.elem, out)
        }
        syn::Type::Slice(t) => lifetimes_of(&t.elem, out),
        syn::Type::Array(t) => lifetimes_of(&t.elem, out),
        syn::Type::Ptr(t) => lifetimes_of(&t.elem, out),
        syn::Type::Paren(t) => lifetimes_of(&t.elem, out),
        syn::Type::Group(t) => lifetimes_of(&t.elem, out),
        syn::Type::Tuple(t) => t.elems.iter().all(|e| lifetimes_of(e, out)),
        syn::Type::Path(p) => {
            if let Some(q) = &p.qself {
                if !lifetimes_of(&q.ty, out) {
                    return false;
                }
            }
            p.path.segments.iter().all(|seg| match &seg.arguments {
                PathArguments::AngleBracketed(a) => a.args.iter().all(|arg| match arg {
                    GenericArgument::Lifetime(l) => {
                        out.push(l.clone());
                        true
                    }
                    GenericArgument::Type(t) => lifetimes_of(t, out),
                    GenericArgument::AssocType(b) => lifetimes_of(&b.ty, out),
                    _ => true,
                }),
                _ => true,
            })
        }
        syn::Type::Macro(_) => false,
        _ => true,
    }
}

/// Whether `ty` is a shared reference to `str`.
fn is_ref_str(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Reference(r) if r.mutability.is_none() && is_primitive(&r.elem, "str"))
}

/// Whether `ty` is a shared reference to `[u8]`.
fn is_ref_bytes(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Reference(r) if r.mutability.is_none()
        && matches!(&*r.elem, syn::Type::Slice(s) if is_primitive(&s.elem, "u8")))
}

/// Whether `ty` is the one-segment path `name` (`str`, `u8`).
fn is_primitive(ty: &syn::Type, name: &str) -> bool {
    matches!(ty, syn::Type::Path(p) if p.qself.is_none()
        && p.path.leading_colon.is_none()
        && p.path.segments.len() == 1
        && p.path.segments[0].ident == name
        && p.path.segments[0].arguments.is_empty())
}

/// What serde borrows without `#[serde(borrow)]`: `&str`, `&[u8]` and `Option`s of them.
fn implicitly_borrowed(ty: &syn::Type) -> bool {
    let direct = |t: &syn::Type| is_ref_str(t) || is_ref_bytes(t);
    direct(ty) || argument_of(ty, "Option").is_some_and(direct)
}

/// Whether `ty` is `Cow<'a, T>` with `T` passing `elem`, as serde's derive recognizes it.
fn is_cow(ty: &syn::Type, elem: fn(&syn::Type) -> bool) -> bool {
    let syn::Type::Path(p) = ty else { return false };
    let Some(last) = p.path.segments.last() else {
        return false;
    };
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return false;
    };
    last.ident == "Cow"
        && args.args.len() == 2
        && matches!(
            (&args.args[0], &args.args[1]),
            (GenericArgument::Lifetime(_), GenericArgument::Type(t)) if elem(t)
        )
}

fn is_str(ty: &syn::Type) -> bool {
    is_primitive(ty, "str")
}

fn is_u8_slice(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Slice(s) if is_primitive(&s.elem, "u8"))
}

/// The direct path of `c`, bound to `node`; empty when it cannot have one.
pub fn generate(
    c: &Container,
    input: &syn::DeriveInput,
    pool: &SchemaPool,
    node: NodeIndex,
    branded: bool,
) -> Direct {
    if branded
        || c.capnp.no_direct
        || input.generics.type_params().next().is_some()
        || input.generics.const_params().next().is_some()
        || c.serde.transparent
        || c.serde.representation.is_some()
        || c.serde.proxy.is_some()
        || pool.node(node).is_generic
    {
        return Direct::default();
    }
    match (&pool.node(node).kind, &c.body) {
        (NodeKind::Struct(s), Body::Struct(Style::Struct, fields)) if !s.is_group => {
            structure(c, input, pool, node, fields)
        }
        (NodeKind::Enum(_), Body::Enum(_)) => enumeration(c, pool, node),
        _ => Direct::default(),
    }
}

/// The schema type a Rust primitive is written as, when it is exactly that primitive.
fn primitive(rust: &RustTy) -> Option<Type> {
    Some(match rust {
        RustTy::Bool => Type::Bool,
        RustTy::Int {
            signed,
            bits,
            pointer: false,
        } => match (signed, bits) {
            (true, 8) => Type::Int8,
            (true, 16) => Type::Int16,
            (true, 32) => Type::Int32,
            (true, 64) => Type::Int64,
            (false, 8) => Type::UInt8,
            (false, 16) => Type::UInt16,
            (false, 32) => Type::UInt32,
            (false, 64) => Type::UInt64,
            _ => return None,
        },
        RustTy::Float(32) => Type::Float32,
        RustTy::Float(64) => Type::Float64,
        _ => return None,
    })
}

/// The one type argument of `ty` when its last path segment is `name` (`Vec<T>`, `Option<T>`).
fn argument_of<'a>(ty: &'a syn::Type, name: &str) -> Option<&'a syn::Type> {
    let syn::Type::Path(p) = ty else { return None };
    if p.qself.is_some() {
        return None;
    }
    let last = p.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    if args.args.len() != 1 {
        return None;
    }
    match args.args.first()? {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

/// Whether `ty` is spelled `String`.
fn is_string(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| s.ident == "String" && s.arguments.is_empty()))
}

/// Whether `ty` is a path the macro cannot see into (another bound type, perhaps).
fn is_opaque(ty: &syn::Type) -> bool {
    matches!(classify(ty, &[]), RustTy::Opaque { generic: false, .. })
}

fn lit16(v: u16) -> Literal {
    Literal::u16_suffixed(v)
}

fn lit64(v: u64) -> Literal {
    Literal::u64_suffixed(v)
}

/// How a Rust field converts from the wire's bits of `ty`.
fn from_bits(ty: &Type, raw: TokenStream) -> TokenStream {
    match ty {
        Type::Bool => quote!((#raw != 0)),
        Type::Int8 => quote!((#raw as u8 as i8)),
        Type::Int16 => quote!((#raw as u16 as i16)),
        Type::Int32 => quote!((#raw as u32 as i32)),
        Type::Int64 => quote!((#raw as i64)),
        Type::UInt8 => quote!((#raw as u8)),
        Type::UInt16 => quote!((#raw as u16)),
        Type::UInt32 => quote!((#raw as u32)),
        Type::UInt64 => quote!((#raw)),
        Type::Float32 => quote!(::core::primitive::f32::from_bits(#raw as u32)),
        _ => quote!(::core::primitive::f64::from_bits(#raw)),
    }
}

/// How a Rust field converts to the wire's bits of `ty`.
fn to_bits(ty: &Type, value: TokenStream) -> TokenStream {
    match ty {
        Type::Bool => quote!((#value as u64)),
        Type::Int8 => quote!((#value as u8 as u64)),
        Type::Int16 => quote!((#value as u16 as u64)),
        Type::Int32 => quote!((#value as u32 as u64)),
        Type::Int64 => quote!((#value as u64)),
        Type::UInt8 | Type::UInt16 | Type::UInt32 => quote!((#value as u64)),
        Type::UInt64 => quote!((#value)),
        Type::Float32 => quote!((::core::primitive::f32::to_bits(#value) as u64)),
        _ => quote!(::core::primitive::f64::to_bits(#value)),
    }
}

/// The Rust spelling of primitive `ty`, so that a field whose type is another `u32` (shadowed)
/// does not compile rather than being written as the primitive.
fn primitive_tokens(ty: &Type) -> TokenStream {
    match ty {
        Type::Bool => quote!(::core::primitive::bool),
        Type::Int8 => quote!(::core::primitive::i8),
        Type::Int16 => quote!(::core::primitive::i16),
        Type::Int32 => quote!(::core::primitive::i32),
        Type::Int64 => quote!(::core::primitive::i64),
        Type::UInt8 => quote!(::core::primitive::u8),
        Type::UInt16 => quote!(::core::primitive::u16),
        Type::UInt32 => quote!(::core::primitive::u32),
        Type::UInt64 => quote!(::core::primitive::u64),
        Type::Float32 => quote!(::core::primitive::f32),
        _ => quote!(::core::primitive::f64),
    }
}

/// A plain struct's direct writing and reading (reading for every message that outlives what
/// the type borrows).
fn structure(
    c: &Container,
    input: &syn::DeriveInput,
    pool: &SchemaPool,
    node: NodeIndex,
    fields: &[Field],
) -> Direct {
    let s = pool.node(node).as_struct().expect("struct node");
    // The schema field each Rust field stands for when written and when read; any field the
    // serde path would not take as a plain field in order leaves the type to it.
    let mut ser_targets = Vec::new();
    let mut de_targets = Vec::new();
    let plain = |name: &str| -> Option<u16> {
        let i = find_field(s, name)?;
        s.fields[i as usize].discriminant.is_none().then_some(i)
    };
    let borrows = input.generics.lifetimes().next().is_some();
    for f in fields {
        if f.serde.flatten || !f.serde.aliases.is_empty() || (borrows && f.serde.ser_with.is_some())
        {
            return Direct::default();
        }
        let ser = if f.serde.skip_ser {
            None
        } else {
            match plain(&f.ser_name) {
                Some(i) => Some(i),
                None => return Direct::default(),
            }
        };
        let de = if f.serde.skip_de {
            None
        } else {
            match plain(&f.de_name) {
                Some(i) if !de_targets.contains(&Some(i)) => Some(i),
                _ => return Direct::default(),
            }
        };
        ser_targets.push(ser);
        de_targets.push(de);
    }
    let ident = c.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let node_id = lit64(pool.node(node).id);
    let data_words = lit16(s.data_words);
    let pointer_count = lit16(s.pointer_count);
    let field_count = s.fields.len();

    let mut writes = Vec::new();
    let mut helpers = Vec::new();
    for (n, (f, target)) in fields.iter().zip(&ser_targets).enumerate() {
        let Some(index) = *target else { continue };
        let member = member(f, n);
        let value = quote!(self.#member);
        let key = &f.ser_name;
        let write = write_field(
            pool,
            &s.fields[index as usize].slot,
            f,
            index,
            key,
            &value,
            &node_id,
            n,
            &mut helpers,
        );
        let write = match &f.serde.skip_ser_if {
            Some(path) => quote!(if !#path(&#value) { #write }),
            None => write,
        };
        writes.push(write);
    }
    let mut out = Direct::default();
    out.items.extend(quote! {
        #[automatically_derived]
        impl #impl_generics _serde_capnp::__private::DirectWrite for #ident #ty_generics #where_clause {
            const DATA_WORDS: u16 = #data_words;
            const POINTER_COUNT: u16 = #pointer_count;
            #[inline]
            fn write_fields(
                &self,
                __w: &mut _serde_capnp::__private::Writer<'_>,
                __at: _serde_capnp::__private::At,
            ) -> _serde_capnp::Result<()> {
                #[allow(unused_imports)]
                use _serde_capnp::__private::{ViaSerdeEnumWrite as _, ViaSerdeWrite as _};
                #(#helpers)*
                #(#writes)*
                ::core::result::Result::Ok(())
            }
        }
    });
    out.capnp_items.extend(quote! {
        const __DIRECT_WRITE: bool = true;
        #[inline]
        fn __write_direct(&self, __w: &mut _serde_capnp::__private::Writer<'_>) -> _serde_capnp::Result<()> {
            _serde_capnp::__private::write_root_fields(__w, self)
        }
    });

    // A type that borrows reads as serde's derive does: its read impls are for every message
    // that outlives what the fields borrow. A field read by a function of the user's is left
    // to it, whose wrapper type could not name the type's lifetimes.
    if c.serde.default
        || (borrows
            && fields
                .iter()
                .any(|f| !f.serde.skip_de && f.serde.de_with.is_some()))
    {
        return out;
    }
    let Some(borrowed) = borrowed_lifetimes(fields) else {
        return out;
    };
    let mut reads = Vec::new();
    let mut inits = Vec::new();
    let mut de_helpers = Vec::new();
    for (n, (f, target)) in fields.iter().zip(&de_targets).enumerate() {
        let member = member(f, n);
        let var = format_ident!("__field{}", n);
        match *target {
            Some(index) => {
                let key = &f.de_name;
                let read = read_field(
                    pool,
                    &s.fields[index as usize].slot,
                    f,
                    index,
                    key,
                    &node_id,
                    n,
                    &mut de_helpers,
                );
                reads.push(quote!(let #var = #read;));
            }
            None => {
                let default = match &f.serde.default_path {
                    Some(path) => quote!(#path()),
                    None => quote!(::core::default::Default::default()),
                };
                reads.push(quote!(let #var = #default;));
            }
        }
        inits.push(quote!(#member: #var));
    }
    let de = de_lifetime();
    let generics = read_generics(&input.generics, &borrowed);
    let (read_generics, _, _) = generics.split_for_impl();
    out.items.extend(quote! {
        #[automatically_derived]
        impl #read_generics _serde_capnp::__private::DirectRead<#de> for #ident #ty_generics #where_clause {
            const DATA_WORDS: u16 = #data_words;
            const POINTER_COUNT: u16 = #pointer_count;
            const FIELD_COUNT: usize = #field_count;
            #[inline]
            fn read_fields(
                __r: &mut _serde_capnp::__private::Reader<#de>,
                __s: _serde_capnp::__private::In<#de>,
            ) -> _serde_capnp::Result<Self> {
                #[allow(unused_imports)]
                use _serde_capnp::__private::{ViaSerdeEnumRead as _, ViaSerdeRead as _};
                #(#de_helpers)*
                #(#reads)*
                ::core::result::Result::Ok(#ident { #(#inits),* })
            }
        }

        #[automatically_derived]
        impl #read_generics _serde_capnp::CapnpRead<#de> for #ident #ty_generics #where_clause {
            const __DIRECT_READ: bool = true;
            #[inline]
            fn __read_direct(
                __r: &mut _serde_capnp::__private::Reader<#de>,
                __s: _serde_capnp::__private::In<#de>,
            ) -> _serde_capnp::Result<Self> {
                _serde_capnp::__private::read_root_fields(__r, __s)
            }
        }
    });
    out.reads = true;
    out
}

fn member(f: &Field, n: usize) -> TokenStream {
    match &f.original.ident {
        Some(i) => quote!(#i),
        None => {
            let i = syn::Index::from(n);
            quote!(#i)
        }
    }
}

/// The statement that writes one field.
#[allow(clippy::too_many_arguments)]
fn write_field(
    pool: &SchemaPool,
    slot: &FieldSlot,
    f: &Field,
    index: u16,
    key: &str,
    value: &TokenStream,
    node_id: &Literal,
    n: usize,
    helpers: &mut Vec<TokenStream>,
) -> TokenStream {
    let index_lit = lit16(index);
    let ty = f.ty;
    let wrap = |op: TokenStream| {
        quote! {
            if let ::core::result::Result::Err(__e) = #op {
                return ::core::result::Result::Err(_serde_capnp::__private::in_field(__e, #key));
            }
        }
    };
    if let Some(path) = &f.serde.ser_with {
        // serde's derive calls the function through a wrapper; so does this.
        let wrapper = format_ident!("__SerializeWith{}", n);
        helpers.push(quote! {
            struct #wrapper<'__a>(&'__a #ty);
            impl _serde_capnp::__private::Serialize for #wrapper<'_> {
                fn serialize<__S: _serde_capnp::__private::Serializer>(
                    &self,
                    __serializer: __S,
                ) -> ::core::result::Result<__S::Ok, __S::Error> {
                    #path(self.0, __serializer)
                }
            }
        });
        return wrap(quote!(__w.fallback(__at, #node_id, #index_lit, #key, &#wrapper(&#value))));
    }
    let fallback = || wrap(quote!(__w.fallback(__at, #node_id, #index_lit, #key, &#value)));
    if f.serde.custom.is_some() || f.serde.bytes {
        return fallback();
    }
    let rust = classify(ty, &[]);
    match slot {
        FieldSlot::Data {
            ty: schema,
            offset,
            default_bits,
        } => {
            let bit = Literal::u64_suffixed(schema.bit_position(*offset));
            let default = lit64(*default_bits);
            if let Some(p) = primitive(&rust).filter(|p| p == schema) {
                let bits = Literal::u32_suffixed(p.data_bits().unwrap_or(0));
                let spelled = primitive_tokens(&p);
                let raw = to_bits(&p, quote!(__v));
                return quote! {{
                    let __v: #spelled = #value;
                    __w.bits(__at, #bit, #bits, #raw ^ #default);
                }};
            }
            if let (Type::Enum(_), true) = (schema, is_opaque(ty)) {
                return quote! {
                    <_serde_capnp::__private::Via<#ty>>::write_enum(__w, &#value, __at, #bit, #default, #node_id, #index_lit, #key)?;
                };
            }
            fallback()
        }
        FieldSlot::Pointer {
            ty: schema,
            index: ptr,
            default: None,
        } => {
            let ptr = lit16(*ptr);
            match (schema, &rust) {
                (Type::Text, RustTy::Str) => wrap(quote!(__w.text(__at, #ptr, &*#value))),
                (Type::Text, RustTy::Option(inner)) if matches!(**inner, RustTy::Str) => {
                    let write = wrap(quote!(__w.text(__at, #ptr, &**__v)));
                    quote!(if let ::core::option::Option::Some(__v) = &#value { #write })
                }
                (Type::Struct(n, None), _) if pool.node(*n).as_struct().is_some() => {
                    if is_opaque(ty) {
                        return quote! {
                            <_serde_capnp::__private::Via<#ty>>::write_struct(__w, &#value, __at, #ptr, #node_id, #index_lit, #key)?;
                        };
                    }
                    if let Some(inner) = argument_of(ty, "Option").filter(|t| is_opaque(t)) {
                        return quote! {
                            if let ::core::option::Option::Some(__v) = &#value {
                                <_serde_capnp::__private::Via<#inner>>::write_struct(__w, __v, __at, #ptr, #node_id, #index_lit, #key)?;
                            }
                        };
                    }
                    fallback()
                }
                (Type::List(e), _) if matches!(**e, Type::Struct(_, None)) => {
                    match argument_of(ty, "Vec").filter(|t| is_opaque(t)) {
                        Some(inner) => quote! {
                            <_serde_capnp::__private::Via<#inner>>::write_list(__w, &#value, __at, #ptr, #node_id, #index_lit, #key)?;
                        },
                        None => fallback(),
                    }
                }
                _ => fallback(),
            }
        }
        _ => fallback(),
    }
}

/// The expression that reads one field.
#[allow(clippy::too_many_arguments)]
fn read_field(
    pool: &SchemaPool,
    slot: &FieldSlot,
    f: &Field,
    index: u16,
    key: &str,
    node_id: &Literal,
    n: usize,
    helpers: &mut Vec<TokenStream>,
) -> TokenStream {
    let index_lit = lit16(index);
    let ty = f.ty;
    let wrap = |op: TokenStream| {
        quote! {
            match #op {
                ::core::result::Result::Ok(__v) => __v,
                ::core::result::Result::Err(__e) => {
                    return ::core::result::Result::Err(_serde_capnp::__private::in_field(__e, #key));
                }
            }
        }
    };
    if let Some(path) = &f.serde.de_with {
        let wrapper = format_ident!("__DeserializeWith{}", n);
        helpers.push(quote! {
            struct #wrapper(#ty);
            impl<'__w> _serde_capnp::__private::Deserialize<'__w> for #wrapper {
                fn deserialize<__D: _serde_capnp::__private::Deserializer<'__w>>(
                    __deserializer: __D,
                ) -> ::core::result::Result<Self, __D::Error> {
                    #path(__deserializer).map(#wrapper)
                }
            }
        });
        return quote!(__r.fallback::<#wrapper>(__s, #node_id, #index_lit, #key)?.0);
    }
    let fallback = || quote!(__r.fallback::<#ty>(__s, #node_id, #index_lit, #key)?);
    if f.serde.custom.is_some() || f.serde.bytes {
        return fallback();
    }
    let rust = classify(ty, &[]);
    match slot {
        FieldSlot::Data {
            ty: schema,
            offset,
            default_bits,
        } => {
            let bit = Literal::u64_suffixed(schema.bit_position(*offset));
            let default = lit64(*default_bits);
            if let Some(p) = primitive(&rust).filter(|p| p == schema) {
                let bits = Literal::u32_suffixed(p.data_bits().unwrap_or(0));
                let spelled = primitive_tokens(&p);
                let conv = from_bits(&p, quote!((__r.bits(__s, #bit, #bits) ^ #default)));
                return quote!({ let __v: #spelled = #conv; __v });
            }
            if let (Type::Enum(_), true) = (schema, is_opaque(ty)) {
                return quote! {
                    <_serde_capnp::__private::Via<#ty>>::read_enum(__r, __s, #bit, #default, #node_id, #index_lit, #key)?
                };
            }
            fallback()
        }
        FieldSlot::Pointer {
            ty: schema,
            index: ptr,
            default: None,
        } => {
            let ptr = lit16(*ptr);
            let borrow = f.serde.borrow.is_some();
            match schema {
                Type::Text if is_string(ty) => {
                    let text = wrap(quote!(__r.text(__s, #ptr)));
                    quote!(<::std::string::String as ::core::convert::From<&str>>::from(#text))
                }
                // The message's `&'__de str` is the field's `&'a str`: the read impl has
                // `'__de: 'a`, as serde's `Deserialize` has.
                Type::Text if is_ref_str(ty) => {
                    let text = wrap(quote!(__r.text(__s, #ptr)));
                    quote!({ let __v: &::core::primitive::str = #text; __v })
                }
                Type::Text if argument_of(ty, "Option").is_some_and(is_ref_str) => {
                    let text = wrap(quote!(__r.text_option(__s, #ptr)));
                    quote!({ let __v: ::core::option::Option<&::core::primitive::str> = #text; __v })
                }
                // serde's `Cow<str>` is always owned; `#[serde(borrow)]` makes it borrow.
                Type::Text if is_cow(ty, is_str) => {
                    let text = wrap(quote!(__r.text(__s, #ptr)));
                    if borrow {
                        quote!(::std::borrow::Cow::Borrowed(#text))
                    } else {
                        quote!(::std::borrow::Cow::Owned(
                            <::std::string::String as ::core::convert::From<&str>>::from(#text)
                        ))
                    }
                }
                Type::Data if is_ref_bytes(ty) => {
                    let data = wrap(quote!(__r.data(__s, #ptr)));
                    quote!({ let __v: &[::core::primitive::u8] = #data; __v })
                }
                Type::Data if argument_of(ty, "Option").is_some_and(is_ref_bytes) => {
                    let data = wrap(quote!(__r.data_option(__s, #ptr)));
                    quote!({ let __v: ::core::option::Option<&[::core::primitive::u8]> = #data; __v })
                }
                Type::Data if borrow && is_cow(ty, is_u8_slice) => {
                    let data = wrap(quote!(__r.data(__s, #ptr)));
                    quote!(::std::borrow::Cow::Borrowed(#data))
                }
                Type::Struct(n, None) if pool.node(*n).as_struct().is_some() => {
                    if is_opaque(ty) {
                        return quote! {
                            <_serde_capnp::__private::Via<#ty>>::read_struct(__r, __s, #ptr, #node_id, #index_lit, #key)?
                        };
                    }
                    if let Some(inner) = argument_of(ty, "Option").filter(|t| is_opaque(t)) {
                        return quote! {
                            <_serde_capnp::__private::Via<#inner>>::read_option(__r, __s, #ptr, #node_id, #index_lit, #key)?
                        };
                    }
                    fallback()
                }
                Type::List(e) if matches!(**e, Type::Struct(_, None)) => {
                    match argument_of(ty, "Vec").filter(|t| is_opaque(t)) {
                        Some(inner) => quote! {
                            <_serde_capnp::__private::Via<#inner>>::read_list(__r, __s, #ptr, #node_id, #index_lit, #key)?
                        },
                        None => fallback(),
                    }
                }
                _ => fallback(),
            }
        }
        _ => fallback(),
    }
}

/// A unit enum bound to a schema enum: its variants' ordinals, both ways, as the serde path
/// finds them by name.
fn enumeration(c: &Container, pool: &SchemaPool, node: NodeIndex) -> Direct {
    let Body::Enum(variants) = &c.body else {
        return Direct::default();
    };
    let e = pool.node(node).as_enum().expect("enum node");
    if variants.iter().any(|v| {
        v.style != Style::Unit
            || v.serde.skip_ser
            || v.serde.skip_de
            || v.serde.other
            || v.serde.untagged
            || !v.serde.aliases.is_empty()
    }) {
        return Direct::default();
    }
    let mut to = Vec::new();
    for v in variants {
        let name = &v.ser_name;
        let Some(ord) = e.enumerant_by_rust_name(name).or_else(|| {
            e.enumerants
                .iter()
                .position(|en| names_match(name, &en.name))
                .map(|i| i as u16)
        }) else {
            return Direct::default();
        };
        let vi = &v.original.ident;
        let ord = lit16(ord);
        to.push(quote!(Self::#vi => #ord));
    }
    let short = pool.node(node).short_name().to_string();
    let names: Vec<&str> = variants.iter().map(|v| v.de_name.as_str()).collect();
    let expected = names.join(", ");
    let mut from = Vec::new();
    for (ord, en) in e.enumerants.iter().enumerate() {
        let ord = lit16(ord as u16);
        match variants.iter().find(|v| names_match(&v.de_name, &en.name)) {
            Some(v) => {
                let vi = &v.original.ident;
                from.push(quote!(#ord => ::core::result::Result::Ok(Self::#vi)));
            }
            None => {
                let message = format!(
                    "enumerant `{}` has no matching variant in the Rust enum (expected one of {expected})",
                    en.name
                );
                from.push(quote!(#ord => ::core::result::Result::Err(
                    _serde_capnp::__private::data_error(<::std::string::String as ::core::convert::From<&str>>::from(#message))
                )));
            }
        }
    }
    let ident = c.ident;
    let unknown = format!("{{}} is not an enumerant of `{short}`");
    Direct {
        items: quote! {
            #[automatically_derived]
            impl _serde_capnp::__private::DirectEnum for #ident {
                #[inline]
                fn ordinal(&self) -> _serde_capnp::Result<u16> {
                    ::core::result::Result::Ok(match self { #(#to,)* })
                }
                #[inline]
                fn from_ordinal(__value: u16) -> _serde_capnp::Result<Self> {
                    match __value {
                        #(#from,)*
                        _ => ::core::result::Result::Err(_serde_capnp::__private::data_error(
                            ::std::format!(#unknown, __value),
                        )),
                    }
                }
            }
        },
        capnp_items: TokenStream::new(),
        reads: false,
    }
}
