//! What `#[derive(Capnp)]` and `include_schema!` generate.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::DeriveInput;

use crate::direct;
use crate::internals::ast::Container;
use crate::internals::check::Checker;
use crate::internals::ctxt::Ctxt;
use crate::schema::{self, Loaded};

pub fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let Some(container) = Container::from_ast(&cx, input) else {
        cx.check()?;
        return Ok(TokenStream::new());
    };
    let c = &container;
    let attr_span = c.capnp.span.unwrap_or_else(Span::call_site);
    let Some(schema_lit) = &c.capnp.schema else {
        cx.error_spanned_by(
            c.ident,
            "`Capnp` needs the schema file: add `#[capnp(schema = \"path/to/file.capnp\", name = \"Struct\")]`, with the path relative to the crate's `Cargo.toml`",
        );
        cx.check()?;
        return unreachable_ok();
    };
    let imports: Vec<String> = c.capnp.imports.iter().map(|l| l.value()).collect();
    let loaded =
        match schema::Request::new(&schema_lit.value(), &imports).and_then(|r| schema::load(&r)) {
            Ok(l) => l,
            Err(message) => {
                cx.error_spanned_by(schema_lit, message);
                cx.check()?;
                return unreachable_ok();
            }
        };
    let found = match (&c.capnp.name, &c.capnp.id) {
        (Some(name), None) => loaded
            .find(&name.value())
            .map_err(|m| cx.error_spanned_by(name, format!("{m} (`{}`)", loaded.file_name()))),
        (None, Some(id)) => match id.base10_parse::<u64>() {
            Ok(v) => loaded
                .find_id(v)
                .map(|n| (n, None))
                .map_err(|m| cx.error_spanned_by(id, format!("{m} (`{}`)", loaded.file_name()))),
            Err(e) => {
                cx.syn_error(e);
                Err(())
            }
        },
        (Some(name), Some(_)) => {
            cx.error_spanned_by(name, "give the node by `name` or by `id`, not both");
            Err(())
        }
        (None, None) => {
            cx.error_at(
                attr_span,
                "`Capnp` needs the node to bind: add `name = \"Struct\"` (or `\"Outer.Inner\"`, `\"file.capnp:Name\"`) or `id = 0x...`",
            );
            Err(())
        }
    };
    let Ok((node, brand)) = found else {
        cx.check()?;
        return unreachable_ok();
    };
    let mut checker = Checker::new(&cx, &loaded, input);
    checker.container(c, node, brand.as_ref());
    let asserts: Vec<(syn::Type, u64, String)> = checker
        .asserts
        .iter()
        .map(|a| (a.ty.clone(), a.id, a.message.clone()))
        .collect();
    let deferred = std::mem::take(&mut checker.deferred);
    drop(checker);
    cx.check()?;
    let direct = direct::generate(c, input, &loaded.pool, node, brand.is_some());
    let (mut direct_items, direct_capnp) = (direct.items, direct.capnp_items);
    if !direct.reads {
        // Read through its `Deserialize`, for messages of any lifetime its bounds allow.
        let generics = direct::read_generics(&input.generics, &[]);
        let (read_generics, _, _) = generics.split_for_impl();
        let (_, ty_generics, where_clause) = input.generics.split_for_impl();
        let ident = c.ident;
        direct_items.extend(quote! {
            #[automatically_derived]
            impl #read_generics _serde_capnp::CapnpRead<'__de> for #ident #ty_generics #where_clause {}
        });
    }

    let krate = crate_alias(&c.capnp.krate);
    let ident = c.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let node_id = Literal::u64_suffixed(loaded.pool.node(node).id);
    let embedded = embedded(&loaded);
    let shared = shared_name(&loaded);
    let rebuild = rebuild_on_change(&loaded);
    let rust_name = ident.to_string();
    // A generic struct bound with its parameters gets a handle with their brand, so that it
    // works as a message's root too: the runtime finds it again by the name the macro was
    // given, in the same compiled schema.
    let (getter, brand_name) = match (&brand, &c.capnp.name) {
        (Some(_), Some(name)) => (quote!(get_branded), Some(name.value())),
        _ => (quote!(get), None),
    };
    let brand_name = brand_name.iter();
    // A type with lifetimes is never `DeserializeOwned`, and the probe's choice between the
    // two `TRACE`s is made before lifetimes are checked: such a type is not traced.
    let trace = if input.generics.lifetimes().next().is_some() {
        quote!(::core::option::Option::None)
    } else {
        quote!(_serde_capnp::__private::Probe::<Self>::TRACE)
    };
    let deferred = deferred.iter().map(|d| {
        let key = &d.key;
        let field = d.field.unwrap_or(u16::MAX);
        quote!(_serde_capnp::__private::Deferred { key: #key, field: #field })
    });
    let asserts = asserts.iter().map(|(ty, id, message)| {
        let id = Literal::u64_suffixed(*id);
        let message = format!("`{}` is bound to another node: {message}", quote!(#ty).to_string().replace(' ', ""));
        quote_spanned! {ty.span()=>
            const _: () = {
                #[allow(unused_imports)]
                use _serde_capnp::__private::NotBound as _;
                if let ::core::option::Option::Some(id) = _serde_capnp::__private::Probe::<#ty>::NODE_ID {
                    if id != #id {
                        ::core::panic!(#message);
                    }
                }
            };
        }
    });
    Ok(quote! {
        #[doc(hidden)]
        #[allow(non_upper_case_globals, unused_qualifications, clippy::all)]
        const _: () = {
            #krate
            #rebuild
            // This type's own copy of the compiled schema, used when no `include_schema!` static
            // of the same schema is in scope: the glob import below finds such a static (by
            // the name its hash gives it) in the module and shadows this one, so that the
            // crate's binary holds the schema once.
            const #shared: _serde_capnp::__private::Embedded = #embedded;
            const _: () = {
                #[allow(unused_imports)]
                use self::*;
                #[automatically_derived]
                impl #impl_generics _serde_capnp::CapnpStruct for #ident #ty_generics #where_clause {
                    const NODE_ID: u64 = #node_id;

                    fn struct_schema() -> _serde_capnp::Result<&'static _serde_capnp::StructSchema> {
                        #[allow(unused_imports)]
                        use _serde_capnp::__private::NotTraceable as _;
                        static BINDING: _serde_capnp::__private::Binding =
                            _serde_capnp::__private::Binding::new();
                        BINDING.#getter(
                            _serde_capnp::__private::AsEmbedded::embedded(&#shared),
                            #node_id,
                            #(#brand_name,)*
                            #rust_name,
                            #trace,
                            &[#(#deferred),*],
                        )
                    }

                    #direct_capnp
                }

                #direct_items
            };
            #(#asserts)*
        };
    })
}

/// Never reached: `cx.check()` returned the errors just recorded.
fn unreachable_ok() -> syn::Result<TokenStream> {
    Ok(TokenStream::new())
}

/// `_serde_capnp`: the runtime crate under a name nothing in the user's scope can shadow.
fn crate_alias(krate: &Option<syn::Path>) -> TokenStream {
    match krate {
        Some(path) => quote!(use #path as _serde_capnp;),
        None => quote! {
            #[allow(unused_extern_crates, clippy::useless_attribute)]
            extern crate serde_capnp as _serde_capnp;
        },
    }
}

/// The name a shared copy of the compiled schema goes by, from its hash.
fn shared_name(loaded: &Loaded) -> syn::Ident {
    syn::Ident::new(
        &format!("__SERDE_CAPNP_SCHEMA_{:016X}", loaded.hash),
        Span::call_site(),
    )
}

/// The compiled schema as an `Embedded` value.
fn embedded(loaded: &Loaded) -> TokenStream {
    let bytes = Literal::byte_string(&loaded.request);
    let hash = Literal::u64_suffixed(loaded.hash);
    quote!(_serde_capnp::__private::Embedded { request: #bytes, hash: #hash })
}

/// Includes every file the schema was compiled from, so that Cargo builds the crate again
/// when one of them changes. The bytes are never used, so none reach the binary.
fn rebuild_on_change(loaded: &Loaded) -> TokenStream {
    let files = loaded.files.iter().map(|f| {
        let path = f.to_string_lossy().into_owned();
        quote!(
            const _: &[u8] = ::core::include_bytes!(#path);
        )
    });
    quote!(#(#files)*)
}

/// `include_schema!(($crate) "path", import = "dir", ...)`, an expression, or
/// `include_schema!(($crate) VIS static NAME = "path", ...)`, an item.
pub fn include_schema(input: TokenStream) -> syn::Result<TokenStream> {
    use syn::parse::Parser;
    type Parsed = (
        TokenStream,
        Option<(syn::Visibility, syn::Ident)>,
        syn::LitStr,
        Vec<syn::LitStr>,
    );
    let parser = |stream: syn::parse::ParseStream| -> syn::Result<Parsed> {
        let content;
        syn::parenthesized!(content in stream);
        let krate: TokenStream = content.parse()?;
        let item = if stream.peek(syn::Token![static])
            || (stream.peek(syn::Token![pub]) && !stream.peek(syn::LitStr))
        {
            let vis: syn::Visibility = stream.parse()?;
            stream.parse::<syn::Token![static]>()?;
            let name: syn::Ident = stream.parse()?;
            stream.parse::<syn::Token![=]>()?;
            Some((vis, name))
        } else {
            None
        };
        let path: syn::LitStr = stream.parse().map_err(|e| {
            syn::Error::new(e.span(), "`include_schema!` takes the schema's path, relative to the crate's `Cargo.toml`: `include_schema!(\"schemas/x.capnp\")`, or `include_schema!(static NAME = \"schemas/x.capnp\")`")
        })?;
        let mut imports = Vec::new();
        while !stream.is_empty() {
            stream.parse::<syn::Token![,]>()?;
            if stream.is_empty() {
                break;
            }
            let key: syn::Ident = stream.parse()?;
            if key != "import" {
                return Err(syn::Error::new(
                    key.span(),
                    format!("unknown option `{key}`: expected `import = \"dir\"`"),
                ));
            }
            stream.parse::<syn::Token![=]>()?;
            imports.push(stream.parse()?);
        }
        Ok((krate, item, path, imports))
    };
    let (krate, item, path, imports) = parser.parse2(input)?;
    let imports: Vec<String> = imports.iter().map(|l| l.value()).collect();
    let loaded = schema::Request::new(&path.value(), &imports)
        .and_then(|r| schema::load(&r))
        .map_err(|m| syn::Error::new(path.span(), m))?;
    let rebuild = rebuild_on_change(&loaded);
    let bytes = Literal::byte_string(&loaded.request);
    let hash = Literal::u64_suffixed(loaded.hash);
    let embedded = quote!(#krate::__private::Embedded { request: #bytes, hash: #hash });
    if let Some((vis, name)) = item {
        let shared = shared_name(&loaded);
        return Ok(quote! {
            #rebuild
            #vis static #name: #krate::IncludedSchema = #krate::IncludedSchema::new(#embedded);
            // The name derives of the same schema look for (see `#[derive(Capnp)]`).
            #[doc(hidden)]
            #[allow(unused_imports)]
            #vis use self::#name as #shared;
        });
    }
    Ok(quote! {
        {
            #rebuild
            static SCHEMA: #krate::__private::OnceLock<
                ::core::result::Result<#krate::Schema, #krate::__private::String>,
            > = #krate::__private::OnceLock::new();
            #krate::__private::schema_once(&SCHEMA, &#embedded)
        }
    })
}
