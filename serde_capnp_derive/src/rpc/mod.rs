//! `#[interface]`: a Rust trait bound to a Cap'n Proto interface, checked against the schema
//! when the crate is built, with a typed client and the server glue generated beside it.
//!
//! The schema is compiled and searched exactly as `#[derive(Capnp)]` does it (`schema.rs`), and
//! parameter and result types go through the derive's own field check, so a trait accepted
//! here sends and receives what the runtime accepts. What the macro cannot see (a struct
//! returned for several result fields, the fields of a bound type) is left to the runtime and
//! to compile-time assertions on the types' bindings.

mod expand;

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use serde_capnp_schema::{
    names_match, AnyPointerKind, Field, FieldSlot, NodeIndex, StructNode, Type,
};
use syn::spanned::Spanned;
use syn::{FnArg, LitStr, Pat, ReturnType, TraitItem, TraitItemFn};

use crate::internals::check::{find_field, Checker};
use crate::internals::ctxt::Ctxt;
use crate::internals::rust_ty::{classify, RustTy};
use crate::schema::{self, Loaded};

/// The ID of `StreamResult`, the result struct of every `-> stream` method.
const STREAM_RESULT_ID: u64 = 0x995f_9a33_77c0_b16e;

/// The most parameters a method may take (the runtime's tuples go that far).
const MAX_PARAMS: usize = 12;

/// Names of the client's own methods, which no trait method may take.
const CLIENT_METHODS: &[&str] = &["from_server", "from_rc", "into_capability"];

/// `#[interface(...)]`'s arguments.
#[derive(Default)]
struct Args {
    schema: Option<LitStr>,
    name: Option<LitStr>,
    imports: Vec<LitStr>,
    krate: Option<syn::Path>,
}

fn parse_args(cx: &Ctxt, attr: TokenStream) -> Args {
    let mut args = Args::default();
    let parser = syn::meta::parser(|meta| {
        let key = meta
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        match key.as_str() {
            "schema" | "name" => {
                let lit: LitStr = meta.value()?.parse()?;
                let slot = if key == "schema" {
                    &mut args.schema
                } else {
                    &mut args.name
                };
                if slot.is_some() {
                    cx.error_spanned_by(&meta.path, format!("`{key}` is given twice"));
                }
                *slot = Some(lit);
            }
            "import" => args.imports.push(meta.value()?.parse()?),
            "crate" => {
                let lit: LitStr = meta.value()?.parse()?;
                match lit.parse::<syn::Path>() {
                    Ok(p) => args.krate = Some(p),
                    Err(_) => cx.error_spanned_by(
                        &lit,
                        format!(
                            "`crate` takes a path, such as `\"serde_capnp\"`; `{}` is not one",
                            lit.value()
                        ),
                    ),
                }
            }
            _ => {
                cx.error_spanned_by(
                    &meta.path,
                    format!(
                        "unknown `interface` option `{}`: expected `schema`, `name`, `import` or `crate`",
                        meta.path.to_token_stream().to_string().replace(' ', "")
                    ),
                );
                if meta.input.peek(syn::Token![=]) {
                    let _: syn::Expr = meta.value()?.parse()?;
                }
            }
        }
        Ok(())
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, attr) {
        cx.syn_error(e);
    }
    args
}

/// What a method's results become in Rust.
enum Results {
    /// `-> stream`: `Result<(), E>`, sent with flow control.
    Stream,
    /// No result fields: `Result<(), E>`.
    Empty,
    /// One field, returned bare; `cap` is its pointer slot when it holds a capability.
    Single { name: String, cap: Option<u16> },
    /// Several fields, returned as a struct; the capability fields, for pipelining.
    Several { caps: Vec<(String, u16)> },
}

/// A trait method bound to a method of the interface.
struct Method<'a> {
    item: &'a TraitItemFn,
    name: String,
    ordinal: u16,
    /// (Rust name, Rust type, schema field name), in the trait's order.
    params: Vec<(&'a syn::Ident, &'a syn::Type, String)>,
    /// `R` of `Result<R, E>`.
    ok: &'a syn::Type,
    results: Results,
}

/// A type that must be a client of the interface `id`, checked by the compiler.
struct ClientAssert {
    ty: syn::Type,
    id: u64,
    message: String,
}

pub fn interface(attr: TokenStream, item: TokenStream) -> TokenStream {
    let trait_item: syn::ItemTrait = match syn::parse2(item.clone()) {
        Ok(t) => t,
        Err(_) => {
            let e = syn::Error::new(
                Span::call_site(),
                "`interface` binds a trait: put it on `trait Name { async fn method(&self, ...) -> Result<T, Error>; }`",
            );
            let mut out = item;
            out.extend(e.into_compile_error());
            return out;
        }
    };
    match bind(attr, &trait_item) {
        Ok(out) => out,
        Err(e) => {
            // The trait stays, so that its uses elsewhere do not add errors of their own.
            let mut out = trait_item.to_token_stream();
            out.extend(e.into_compile_error());
            out
        }
    }
}

fn bind(attr: TokenStream, t: &syn::ItemTrait) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let args = parse_args(&cx, attr);
    let Some(schema_lit) = &args.schema else {
        cx.error_at(
            Span::call_site(),
            "`interface` needs the schema file: `#[interface(schema = \"path/to/file.capnp\", name = \"Interface\")]`, with the path relative to the crate's `Cargo.toml`",
        );
        return cx.check().map(|_| TokenStream::new());
    };
    let Some(name_lit) = &args.name else {
        cx.error_spanned_by(
            schema_lit,
            "`interface` needs the interface to bind: add `name = \"Interface\"` (or `\"Outer.Inner\"`)",
        );
        return cx.check().map(|_| TokenStream::new());
    };
    let imports: Vec<String> = args.imports.iter().map(|l| l.value()).collect();
    let loaded =
        match schema::Request::new(&schema_lit.value(), &imports).and_then(|r| schema::load(&r)) {
            Ok(l) => l,
            Err(message) => {
                cx.error_spanned_by(schema_lit, message);
                return cx.check().map(|_| TokenStream::new());
            }
        };
    let node = match loaded.find(&name_lit.value()) {
        Ok((_, Some(_))) => {
            cx.error_spanned_by(
                name_lit,
                "a trait binds an interface without generic arguments; generic interfaces are not supported",
            );
            return cx.check().map(|_| TokenStream::new());
        }
        Ok((n, None)) => n,
        Err(m) => {
            cx.error_spanned_by(name_lit, format!("{m} (`{}`)", loaded.file_name()));
            return cx.check().map(|_| TokenStream::new());
        }
    };
    let n = loaded.pool.node(node);
    let Some(iface) = n.as_interface() else {
        cx.error_spanned_by(
            name_lit,
            format!(
                "`{}` ({}) is not an interface: `interface` binds a trait to an interface, and `#[derive(Capnp)]` binds structs and enums",
                path_in_file(&loaded, node),
                location(&loaded, node, None)
            ),
        );
        return cx.check().map(|_| TokenStream::new());
    };
    let iface = iface.clone();

    let dummy: syn::DeriveInput = syn::parse_quote!(
        struct Params;
    );
    let mut checker = Checker::new(&cx, &loaded, &dummy);
    let mut client_asserts = Vec::new();
    let mut binder = Binder {
        cx: &cx,
        loaded: &loaded,
        node,
        checker: &mut checker,
        client_asserts: &mut client_asserts,
    };
    binder.trait_shape(t);
    let mut methods: Vec<Method> = Vec::new();
    for item in &t.items {
        match item {
            TraitItem::Fn(f) => {
                if let Some(m) = binder.method(f, &iface) {
                    if let Some(other) = methods.iter().find(|o| o.ordinal == m.ordinal) {
                        cx.error_spanned_by(
                            &f.sig.ident,
                            format!(
                                "`{}` and `{}` both stand for the method `{}`",
                                f.sig.ident, other.item.sig.ident, m.name
                            ),
                        );
                    }
                    methods.push(m);
                }
            }
            other => cx.error_spanned_by(
                other,
                "a trait bound to an interface holds only the interface's methods, as `async fn`",
            ),
        }
    }
    let supers = binder.supertraits(t, &iface);
    let node_asserts: Vec<(syn::Type, u64, String)> = checker
        .asserts
        .iter()
        .map(|a| (a.ty.clone(), a.id, a.message.clone()))
        .collect();
    drop(checker);
    // Generated before the errors are known, as the methods borrow what `cx` checked;
    // thrown away if there are any.
    let out = expand::generate(&expand::Input {
        t,
        loaded: &loaded,
        interface_id: n.id,
        interface_name: path_in_file(&loaded, node),
        krate: &args.krate,
        methods: &methods,
        supers: &supers,
        node_asserts: &node_asserts,
        client_asserts: &client_asserts,
    });
    drop(methods);
    cx.check()?;
    Ok(out)
}

struct Binder<'a, 'c> {
    cx: &'a Ctxt,
    loaded: &'a Loaded,
    node: NodeIndex,
    checker: &'c mut Checker<'a>,
    client_asserts: &'c mut Vec<ClientAssert>,
}

impl<'a> Binder<'a, '_> {
    fn iface_name(&self) -> String {
        path_in_file(self.loaded, self.node)
    }

    fn trait_shape(&self, t: &syn::ItemTrait) {
        if !t.generics.params.is_empty() {
            self.cx.error_spanned_by(
                &t.generics,
                "a trait bound to an interface cannot have generic parameters: its methods' types are those of the schema",
            );
        }
    }

    /// One trait method against the interface's own methods.
    fn method(
        &mut self,
        f: &'a TraitItemFn,
        iface: &serde_capnp_schema::InterfaceNode,
    ) -> Option<Method<'a>> {
        let cx = self.cx;
        let sig = &f.sig;
        let rust_name = crate::internals::ast::unraw(&sig.ident);
        if CLIENT_METHODS.contains(&rust_name.as_str()) {
            cx.error_spanned_by(
                &sig.ident,
                format!("`{rust_name}` is a method of the generated client; an interface method cannot take that name"),
            );
        }
        if !sig.generics.params.is_empty() {
            cx.error_spanned_by(
                &sig.generics,
                "a method of a bound trait cannot be generic: its types are those of the schema",
            );
        }
        let Some((ordinal, m)) = iface
            .methods
            .iter()
            .enumerate()
            .find(|(_, m)| names_match(&rust_name, &m.name))
        else {
            let inherited = self.inherited(&rust_name);
            let known = iface
                .methods
                .iter()
                .map(|m| format!("`{}`", snake(&m.name)))
                .collect::<Vec<_>>();
            let msg = match inherited {
                Some(owner) => format!(
                    "`{rust_name}` is a method of `{owner}`, which `{}` extends: declare it in the trait bound to `{owner}`, a supertrait of this one",
                    self.iface_name()
                ),
                None => format!(
                    "`{rust_name}` is not a method of `{}` ({}); its methods are {}",
                    self.iface_name(),
                    location(self.loaded, self.node, None),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            };
            cx.error_spanned_by(&sig.ident, msg);
            return None;
        };
        let ordinal = ordinal as u16;
        let method_at = location(self.loaded, self.node, Some(&m.name));
        let what = format!("`{}.{}` ({method_at})", self.iface_name(), m.name);

        // `&self`, then named parameters.
        let mut inputs = sig.inputs.iter();
        match inputs.next() {
            Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_none() => {}
            Some(other) => cx.error_spanned_by(
                other,
                "a method of a bound trait takes `&self`: a server is shared by every call in flight",
            ),
            None => cx.error_spanned_by(
                sig,
                "a method of a bound trait takes `&self`: a server is shared by every call in flight",
            ),
        }
        let mut raw_params = Vec::new();
        for arg in inputs {
            let FnArg::Typed(pt) = arg else { continue };
            match &*pt.pat {
                Pat::Ident(p) if p.subpat.is_none() => raw_params.push((&p.ident, &*pt.ty)),
                other => cx.error_spanned_by(
                    other,
                    "name each parameter (`name: Type`): the names are those of the method's parameters in the schema",
                ),
            }
            self.no_self(&pt.ty);
        }
        if raw_params.len() > MAX_PARAMS {
            cx.error_spanned_by(
                &sig.inputs,
                format!("a method of a bound trait takes at most {MAX_PARAMS} parameters; declare a struct as the method's parameters in the schema instead"),
            );
        }

        let ok = self.output(f)?;
        let pool = &self.loaded.pool;
        let params_node = pool.index_of(m.param_struct);
        let params_struct = params_node.and_then(|p| pool.struct_node(p)).cloned();
        let mut params = Vec::new();
        if let Some(ps) = &params_struct {
            let brand = m.param_brand.as_deref();
            let mut covered = vec![false; ps.fields.len()];
            for (ident, ty) in &raw_params {
                let name = crate::internals::ast::unraw(ident);
                let Some(index) = find_field(ps, &name) else {
                    cx.error_spanned_by(
                        ident,
                        format!(
                            "`{name}` is not a parameter of {what}; its parameters are {}",
                            list_fields(ps)
                        ),
                    );
                    continue;
                };
                let field = &ps.fields[index as usize];
                if covered[index as usize] {
                    cx.error_spanned_by(
                        ident,
                        format!("two parameters stand for `{}`", field.name),
                    );
                }
                covered[index as usize] = true;
                self.value(
                    ty,
                    field,
                    brand,
                    &format!("the parameter `{name}`"),
                    &what,
                    "parameter",
                );
                params.push((*ident, *ty, field.name.clone()));
            }
            let missing: Vec<String> = ps
                .fields
                .iter()
                .zip(&covered)
                .filter(|(f, c)| !**c && f.discriminant.is_none())
                .map(|(f, _)| format!("`{}`", snake(&f.name)))
                .collect();
            if !missing.is_empty() {
                cx.error_spanned_by(
                    &sig.ident,
                    format!(
                        "`{rust_name}` lacks the parameter{} {} of {what}",
                        if missing.len() == 1 { "" } else { "s" },
                        missing.join(", ")
                    ),
                );
            }
        }

        let rust_ok = classify(ok, &[]);
        let results = if m.result_struct == STREAM_RESULT_ID {
            if !matches!(rust_ok, RustTy::Unit) {
                cx.error_spanned_by(
                    ok,
                    format!("{what} is a `-> stream` method: it returns nothing, so its result is `()` (`Result<(), E>`)"),
                );
            }
            Results::Stream
        } else {
            let Some(rs) = pool
                .index_of(m.result_struct)
                .and_then(|r| pool.struct_node(r))
                .cloned()
            else {
                cx.error_spanned_by(
                    &sig.ident,
                    format!("the result struct of {what} is missing from the schema"),
                );
                return None;
            };
            let brand = m.result_brand.as_deref();
            match rs.fields.len() {
                0 => {
                    if !matches!(rust_ok, RustTy::Unit) {
                        cx.error_spanned_by(
                            ok,
                            format!("{what} has no results: return `Result<(), E>`"),
                        );
                    }
                    Results::Empty
                }
                1 => {
                    let field = &rs.fields[0];
                    self.value(ok, field, brand, "the result", &what, "result");
                    Results::Single {
                        name: field.name.clone(),
                        cap: cap_slot(field),
                    }
                }
                _ => {
                    if !matches!(rust_ok, RustTy::Opaque { .. }) {
                        cx.error_spanned_by(
                            ok,
                            format!(
                                "{what} has the results {}: return a struct with these fields, not {}",
                                list_fields(&rs),
                                rust_ok.describe()
                            ),
                        );
                    }
                    Results::Several {
                        caps: rs
                            .fields
                            .iter()
                            .filter_map(|f| cap_slot(f).map(|s| (f.name.clone(), s)))
                            .collect(),
                    }
                }
            }
        };
        Some(Method {
            item: f,
            name: m.name.clone(),
            ordinal,
            params,
            ok,
            results,
        })
    }

    /// `R` of the method's `Result<R, E>`.
    fn output(&self, f: &'a TraitItemFn) -> Option<&'a syn::Type> {
        let sig = &f.sig;
        let wanted = "a method of a bound trait is `async fn name(&self, ...) -> Result<T, E>`, with `E` convertible into `serde_capnp::Error`";
        let ret = match &sig.output {
            ReturnType::Type(_, ty) => &**ty,
            ReturnType::Default => {
                self.cx.error_spanned_by(sig, wanted);
                return None;
            }
        };
        let result = if sig.asyncness.is_some() {
            ret
        } else {
            match future_output(ret) {
                Some(t) => t,
                None => {
                    self.cx.error_spanned_by(sig, wanted);
                    return None;
                }
            }
        };
        self.no_self(result);
        match ok_type(result) {
            Some(t) => Some(t),
            None => {
                self.cx.error_spanned_by(
                    result,
                    format!(
                        "{wanted}; `{}` is not a `Result`",
                        result.to_token_stream().to_string().replace(' ', "")
                    ),
                );
                None
            }
        }
    }

    /// A parameter or result type against its schema field.
    fn value(
        &mut self,
        ty: &'a syn::Type,
        field: &Field,
        brand: Option<&serde_capnp_schema::Brand>,
        who: &str,
        what: &str,
        kind: &str,
    ) {
        let rust = classify(ty, &[]);
        let field_ty = field.slot.ty().map(|t| t.resolve(brand));
        let describe = field_ty
            .as_ref()
            .map(|t| t.describe(&self.loaded.pool))
            .unwrap_or_else(|| "a group".into());
        let fail = |m: String| {
            self.cx.error_spanned_by(
                ty,
                format!(
                    "{who} does not fit the {kind} `{}` of {what}, which is `{describe}`: {m}",
                    field.name
                ),
            )
        };
        if let Some(t @ (Type::Interface(..) | Type::AnyPointer(AnyPointerKind::Capability))) =
            &field_ty
        {
            let inner = match &rust {
                RustTy::Option(inner) => inner,
                _ => &rust,
            };
            match (inner, t) {
                (RustTy::Opaque { ty, .. }, Type::Interface(n, _)) => {
                    let id = self.loaded.pool.node(*n).id;
                    let short = self.loaded.pool.node(*n).short_name().to_string();
                    let msg = format!(
                        "`{}` is not a client of `{short}`: {who} of {what} is `{describe}`; use `{short}Client`, the client of the trait bound to it, or `Capability`",
                        ty.to_token_stream().to_string().replace(' ', "")
                    );
                    self.client_asserts.push(ClientAssert {
                        ty: (*ty).clone(),
                        id,
                        message: msg,
                    });
                }
                (RustTy::Opaque { .. }, _) => {}
                (other, Type::Interface(n, _)) => {
                    let short = self.loaded.pool.node(*n).short_name();
                    fail(format!(
                        "{} cannot hold a capability; use `{short}Client`, the client of the trait bound to `{short}`, or `serde_capnp::rpc::Capability`",
                        other.describe()
                    ))
                }
                (other, _) => fail(format!(
                    "{} cannot hold a capability; use `serde_capnp::rpc::Capability`",
                    other.describe()
                )),
            }
            return;
        }
        if let Err(m) = self.checker.slot(&rust, field, brand) {
            fail(m.0);
        }
    }

    /// Rejects `Self` in a type the generated client repeats outside the trait.
    fn no_self(&self, ty: &syn::Type) {
        fn find(ts: TokenStream) -> Option<Span> {
            for tt in ts {
                match tt {
                    proc_macro2::TokenTree::Ident(i) if i == "Self" => return Some(i.span()),
                    proc_macro2::TokenTree::Group(g) => {
                        if let Some(s) = find(g.stream()) {
                            return Some(s);
                        }
                    }
                    _ => {}
                }
            }
            None
        }
        if let Some(span) = find(ty.to_token_stream()) {
            self.cx.error_at(
                span,
                "the types of a bound trait's methods cannot name `Self`: the generated client repeats them outside the trait",
            );
        }
    }

    /// The interface, among those this one extends, that declares a method named `name`.
    fn inherited(&self, name: &str) -> Option<String> {
        let pool = &self.loaded.pool;
        let mut todo = vec![self.node];
        let mut seen = Vec::new();
        while let Some(n) = todo.pop() {
            if seen.contains(&n) || seen.len() > 64 {
                continue;
            }
            seen.push(n);
            let Some(i) = pool.node(n).as_interface() else {
                continue;
            };
            if n != self.node && i.methods.iter().any(|m| names_match(name, &m.name)) {
                return Some(path_in_file(self.loaded, n));
            }
            todo.extend(
                i.superclasses
                    .iter()
                    .filter_map(|(id, _)| pool.index_of(*id)),
            );
        }
        None
    }

    /// The trait's supertraits against the interfaces the interface extends: as many, each
    /// bound to one of them (checked by the compiler through the supertrait's client).
    fn supertraits(
        &mut self,
        t: &'a syn::ItemTrait,
        iface: &serde_capnp_schema::InterfaceNode,
    ) -> Vec<expand::Super> {
        let pool = &self.loaded.pool;
        let ids: Vec<u64> = iface.superclasses.iter().map(|(id, _)| *id).collect();
        let names: Vec<String> = ids
            .iter()
            .map(|id| {
                pool.index_of(*id)
                    .map(|n| format!("`{}`", pool.node(n).short_name()))
                    .unwrap_or_else(|| format!("{id:#x}"))
            })
            .collect();
        let mut out = Vec::new();
        for bound in &t.supertraits {
            match bound {
                syn::TypeParamBound::Trait(tb)
                    if tb.lifetimes.is_none()
                        && matches!(tb.modifier, syn::TraitBoundModifier::None) =>
                {
                    out.push(expand::Super {
                        path: tb.path.clone(),
                        ids: ids.clone(),
                        message: format!(
                            "`{}` is not bound to an interface that `{}` extends ({})",
                            tb.path.to_token_stream().to_string().replace(' ', ""),
                            self.iface_name(),
                            if names.is_empty() {
                                "it extends none".to_string()
                            } else {
                                names.join(", ")
                            }
                        ),
                    })
                }
                syn::TypeParamBound::Lifetime(_) => {}
                other => self.cx.error_spanned_by(
                    other,
                    "the supertraits of a bound trait are the traits bound to the interfaces it extends",
                ),
            }
        }
        if out.len() != ids.len() {
            let span = if t.supertraits.is_empty() {
                t.ident.to_token_stream()
            } else {
                t.supertraits.to_token_stream()
            };
            let want = if ids.is_empty() {
                "extends no interface, so the trait takes no supertraits".to_string()
            } else {
                format!(
                    "extends {}, so the trait takes the trait{} bound to {} as supertrait{}",
                    names.join(", "),
                    if ids.len() == 1 { "" } else { "s" },
                    if ids.len() == 1 { "it" } else { "them" },
                    if ids.len() == 1 { "" } else { "s" },
                )
            };
            self.cx.error_spanned_by(
                span,
                format!(
                    "`{}` ({}) {want}; the trait has {} supertrait{}",
                    self.iface_name(),
                    location(self.loaded, self.node, None),
                    out.len(),
                    if out.len() == 1 { "" } else { "s" }
                ),
            );
        }
        self.name_clashes(t);
        out
    }

    /// The runtime serves methods by name: a method that hides an inherited one of the same
    /// name could not be served beside it.
    fn name_clashes(&self, t: &syn::ItemTrait) {
        let pool = &self.loaded.pool;
        let Some(own) = pool.node(self.node).as_interface() else {
            return;
        };
        for m in &own.methods {
            if let Some(owner) = self.inherited(&m.name) {
                self.cx.error_spanned_by(
                    &t.ident,
                    format!(
                        "`{}` declares a method `{}`, and so does `{owner}`, which it extends: a server of both cannot tell them apart by name",
                        self.iface_name(),
                        m.name
                    ),
                );
            }
        }
    }
}

/// The pointer slot of a field that holds a capability, for pipelining.
fn cap_slot(field: &Field) -> Option<u16> {
    match &field.slot {
        FieldSlot::Pointer {
            ty:
                Type::Interface(..) | Type::AnyPointer(AnyPointerKind::Capability | AnyPointerKind::Any),
            index,
            ..
        } => Some(*index),
        _ => None,
    }
}

/// `X` of `impl Future<Output = X>`.
fn future_output(ty: &syn::Type) -> Option<&syn::Type> {
    let syn::Type::ImplTrait(it) = ty else {
        return None;
    };
    it.bounds.iter().find_map(|b| match b {
        syn::TypeParamBound::Trait(tb) => {
            let last = tb.path.segments.last()?;
            if last.ident != "Future" {
                return None;
            }
            let syn::PathArguments::AngleBracketed(a) = &last.arguments else {
                return None;
            };
            a.args.iter().find_map(|g| match g {
                syn::GenericArgument::AssocType(at) if at.ident == "Output" => Some(&at.ty),
                _ => None,
            })
        }
        _ => None,
    })
}

/// `R` of `Result<R, E>` (or of an alias `Result<R>`).
fn ok_type(ty: &syn::Type) -> Option<&syn::Type> {
    let syn::Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(a) = &last.arguments else {
        return None;
    };
    match a.args.first()? {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

fn list_fields(s: &StructNode) -> String {
    if s.fields.is_empty() {
        return "none".into();
    }
    s.fields
        .iter()
        .map(|f| format!("`{}`", snake(&f.name)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A Cap'n Proto (camelCase) name in snake_case, as a Rust method or parameter is named.
pub(crate) fn snake(name: &str) -> String {
    serde_capnp_schema::to_snake_case(name)
}

fn path_in_file(loaded: &Loaded, n: NodeIndex) -> String {
    let d = &loaded.pool.node(n).display_name;
    d.split_once(':').map_or(d.as_str(), |(_, p)| p).to_string()
}

fn location(loaded: &Loaded, node: NodeIndex, member: Option<&str>) -> String {
    loaded
        .location(node, member)
        .unwrap_or_else(|| loaded.pool.node(node).display_name.clone())
}

/// Spans of a type, for assertions placed on it.
pub(crate) fn span_of(ty: &syn::Type) -> Span {
    ty.span()
}
