//! What `#[interface]` generates: the trait unchanged, a client type, one call type per
//! method, and (out of sight in an anonymous `const`) the server glue and every impl.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};

use super::{snake, span_of, ClientAssert, Method, Results};
use crate::internals::rust_ty::{classify, RustTy};
use crate::schema::Loaded;

/// A supertrait, which must be bound to one of the interfaces `ids`.
pub struct Super {
    pub path: syn::Path,
    pub ids: Vec<u64>,
    pub message: String,
}

pub struct Input<'a> {
    pub t: &'a syn::ItemTrait,
    pub loaded: &'a Loaded,
    pub interface_id: u64,
    pub interface_name: String,
    pub krate: &'a Option<syn::Path>,
    pub methods: &'a [Method<'a>],
    pub supers: &'a [Super],
    pub node_asserts: &'a [(syn::Type, u64, String)],
    pub client_asserts: &'a [ClientAssert],
}

/// `Calculator` → `CalculatorClient`, keeping the path: a supertrait's client sits beside it.
fn client_path(path: &syn::Path) -> syn::Path {
    let mut p = path.clone();
    if let Some(last) = p.segments.last_mut() {
        last.ident = format_ident!("{}Client", last.ident);
        last.arguments = syn::PathArguments::None;
    }
    p
}

/// `def_function` → `DefFunction`.
fn pascal(name: &str) -> String {
    crate::internals::case::RenameRule::Pascal.apply_to_field(name)
}

/// A method name for a schema field, raw when it is a keyword.
fn field_ident(name: &str) -> syn::Ident {
    let s = snake(name);
    syn::parse_str::<syn::Ident>(&s).unwrap_or_else(|_| syn::Ident::new_raw(&s, Span::call_site()))
}

pub fn generate(input: &Input) -> TokenStream {
    let t = input.t;
    let vis = &t.vis;
    let tname = &t.ident;
    let client = format_ident!("{}Client", tname);
    let outer = match input.krate {
        Some(p) => p.to_token_stream(),
        None => quote!(::serde_capnp),
    };
    let alias = match input.krate {
        Some(path) => quote!(use #path as _serde_capnp;),
        None => quote! {
            #[allow(unused_extern_crates, clippy::useless_attribute)]
            extern crate serde_capnp as _serde_capnp;
        },
    };
    let rebuild = input.loaded.files.iter().map(|f| {
        let path = f.to_string_lossy().into_owned();
        quote!(
            const _: &[u8] = ::core::include_bytes!(#path);
        )
    });
    let bytes = Literal::byte_string(&input.loaded.request);
    let hash = Literal::u64_suffixed(input.loaded.hash);
    let id = Literal::u64_suffixed(input.interface_id);
    let rpc = quote!(_serde_capnp::rpc);
    let typed = quote!(_serde_capnp::rpc::typed);
    let iface = quote!(__SERDE_CAPNP_INTERFACE);
    let iname = &input.interface_name;
    let file = input.loaded.file_name();

    let super_clients: Vec<syn::Path> = input.supers.iter().map(|s| client_path(&s.path)).collect();
    let super_fields: Vec<syn::Ident> = (0..super_clients.len())
        .map(|i| format_ident!("__serde_capnp_super{}", i))
        .collect();

    let client_doc = format!(
        "A client of the Cap'n Proto interface `{iname}` (`{file}`), whose server implements [`{tname}`].\n\n\
         Each method sends a call and returns it in flight: await it for the result, or call the \
         capabilities its results will hold at once (promise pipelining). A client is a serde \
         value, so it can sit in the parameters and results of calls. Clones share the capability."
    );
    let mut call_types = Vec::new();
    let mut call_impls = Vec::new();
    let mut client_methods = Vec::new();
    let mut handlers = Vec::new();
    let mut names = Vec::new();

    for m in input.methods {
        let mident = &m.item.sig.ident;
        let schema_name = &m.name;
        let ord = Literal::u16_suffixed(m.ordinal);
        let ok = m.ok;
        let pascal_name = pascal(&super::snake(schema_name));
        let pnames = format_ident!("__{}{}Params", tname, pascal_name);
        let rnames = format_ident!("__{}{}Results", tname, pascal_name);
        let param_names = m.params.iter().map(|(_, _, n)| n);
        let params_struct = format!("{schema_name}$Params");
        names.push(quote! {
            enum #pnames {}
            impl #typed::FieldNames for #pnames {
                const STRUCT: &'static str = #params_struct;
                const NAMES: &'static [&'static str] = &[#(#param_names),*];
            }
        });
        if let Results::Single { name, .. } = &m.results {
            let results_struct = format!("{schema_name}$Results");
            names.push(quote! {
                enum #rnames {}
                impl #typed::FieldNames for #rnames {
                    const STRUCT: &'static str = #results_struct;
                    const NAMES: &'static [&'static str] = &[#name];
                }
            });
        }
        let pidents: Vec<&syn::Ident> = m.params.iter().map(|(i, _, _)| *i).collect();
        let ptys: Vec<&syn::Type> = m.params.iter().map(|(_, t, _)| *t).collect();
        let pvars: Vec<syn::Ident> = (0..m.params.len())
            .map(|i| format_ident!("__p{}", i))
            .collect();

        // The server's handler.
        let reply = match &m.results {
            Results::Stream | Results::Empty => quote!({
                let () = value;
                request.reply_empty()
            }),
            Results::Single { .. } => {
                quote!(request.reply(&#typed::Fields::<#rnames, (#ok,)>::new((value,))))
            }
            Results::Several { .. } => quote!(request.reply(&value)),
        };
        handlers.push(quote! {
            let __server = ::core::clone::Clone::clone(&server);
            let builder = builder.method(#schema_name, move |request: #rpc::Request| {
                let server = ::core::clone::Clone::clone(&__server);
                async move {
                    let params: #typed::Fields<#pnames, (#(#ptys,)*)> = match request.params() {
                        ::core::result::Result::Ok(p) => p,
                        ::core::result::Result::Err(e) => return ::core::result::Result::Err(e),
                    };
                    let (#(#pvars,)*) = params.values;
                    match <__Server as #tname>::#mident(&*server, #(#pvars),*).await {
                        ::core::result::Result::Ok(value) => #reply,
                        ::core::result::Result::Err(e) => ::core::result::Result::Err(
                            ::core::convert::Into::<_serde_capnp::Error>::into(e),
                        ),
                    }
                }
            })?;
        });

        // The trait method's own documentation, then where the call goes.
        let user_docs: Vec<&syn::Attribute> = m
            .item
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("doc"))
            .collect();
        let method_doc = format!(
            "{}Calls `{iname}.{schema_name}`; see [`{tname}::{mident}`].",
            if user_docs.is_empty() { "" } else { "\n\n" }
        );
        let fields = quote!(#typed::Fields::<#pnames, (#(#ptys,)*)>::new((#(#pidents,)*)));
        if let Results::Stream = m.results {
            let doc = format!(
                "{method_doc}\n\nA `-> stream` method: the future resolves when flow control lets the next call go; an error ends the stream."
            );
            client_methods.push(quote! {
                #(#user_docs)*
                #[doc = #doc]
                pub fn #mident(&self, #(#pidents: #ptys),*)
                    -> impl ::core::future::Future<Output = _serde_capnp::Result<()>> + 'static
                {
                    #typed::stream(
                        &#iface,
                        ::core::clone::Clone::clone(&self.capability),
                        #id,
                        #ord,
                        #fields,
                    )
                }
            });
            continue;
        }
        let call = format_ident!("{}{}Call", tname, pascal_name);
        let convert = match &m.results {
            Results::Single { .. } => quote! {
                |response: #rpc::Response| -> _serde_capnp::Result<#ok> {
                    let results: #typed::Fields<#rnames, (#ok,)> = response.get()?;
                    ::core::result::Result::Ok(results.values.0)
                }
            },
            Results::Several { .. } => quote! {
                |response: #rpc::Response| -> _serde_capnp::Result<#ok> { response.get() }
            },
            _ => quote! {
                |_: #rpc::Response| -> _serde_capnp::Result<#ok> { ::core::result::Result::Ok(()) }
            },
        };
        client_methods.push(quote! {
            #(#user_docs)*
            #[doc = #method_doc]
            pub fn #mident(&self, #(#pidents: #ptys),*) -> #call {
                #call {
                    pending: #typed::call(&#iface, &self.capability, #id, #ord, &#fields, #convert),
                }
            }
        });
        let call_doc = format!(
            "A call of `{iname}.{schema_name}` in flight, made by [`{client}::{mident}`]: await it for the result{}. Dropping it unawaited cancels the call.",
            match &m.results {
                Results::Single { cap: Some(_), .. } | Results::Several { .. } => ", or call the capabilities of its results at once with the methods named after them",
                _ => "",
            }
        );
        call_types.push(quote! {
            #[doc = #call_doc]
            #[must_use = "a call does nothing useful unless it is awaited or pipelined"]
            #vis struct #call {
                pending: #outer::rpc::Pending<#ok>,
            }
        });
        let mut pipelined = Vec::new();
        let pipe_doc = |field: &str| {
            format!("The capability the result `{field}` will hold, callable before the call returns (promise pipelining).")
        };
        match &m.results {
            Results::Single {
                name,
                cap: Some(slot),
            } => {
                let f = field_ident(name);
                let doc = pipe_doc(name);
                let slot = Literal::u16_suffixed(*slot);
                if matches!(classify(ok, &[]), RustTy::Opaque { .. }) {
                    pipelined.push(quote! {
                        #[doc = #doc]
                        pub fn #f(&self) -> #ok {
                            <#ok as #rpc::FromCapability>::from_capability(
                                self.pending.pipeline_slots(&[#slot]),
                            )
                        }
                    });
                } else {
                    pipelined.push(generic_pipeline(&rpc, &f, &doc, &slot));
                }
            }
            Results::Several { caps } => {
                for (name, slot) in caps {
                    let f = field_ident(name);
                    let doc = pipe_doc(name);
                    let slot = Literal::u16_suffixed(*slot);
                    pipelined.push(generic_pipeline(&rpc, &f, &doc, &slot));
                }
            }
            _ => {}
        }
        call_impls.push(quote! {
            impl ::core::future::IntoFuture for #call {
                type Output = _serde_capnp::Result<#ok>;
                type IntoFuture = #rpc::Pending<#ok>;
                fn into_future(self) -> #rpc::Pending<#ok> {
                    self.pending
                }
            }
            impl #call {
                #(#pipelined)*
            }
            impl ::core::fmt::Debug for #call {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    f.write_str(::core::stringify!(#call))
                }
            }
        });
    }

    let supers = super_clients.iter().zip(&super_fields).map(|(c, f)| {
        quote! {
            impl ::core::convert::AsRef<#c> for #client {
                fn as_ref(&self) -> &#c {
                    &self.#f
                }
            }
            impl ::core::convert::From<#client> for #c {
                fn from(client: #client) -> #c {
                    client.#f
                }
            }
        }
    });
    let deref = match (super_clients.first(), super_fields.first()) {
        (Some(c), Some(f)) => quote! {
            impl ::core::ops::Deref for #client {
                type Target = #c;
                fn deref(&self) -> &#c {
                    &self.#f
                }
            }
        },
        _ => TokenStream::new(),
    };
    let super_asserts = input.supers.iter().zip(&super_clients).map(|(s, c)| {
        let ids = s.ids.iter().map(|i| Literal::u64_suffixed(*i));
        let message = &s.message;
        quote_spanned! {s.path.segments.last().map_or_else(Span::call_site, |l| l.ident.span())=>
            const _: () = {
                let id = <#c as _serde_capnp::rpc::FromCapability>::INTERFACE_ID;
                if !(false #(|| id == #ids)*) {
                    ::core::panic!(#message);
                }
            };
        }
    });
    let client_asserts = input.client_asserts.iter().map(|a| {
        let ty = &a.ty;
        let want = Literal::u64_suffixed(a.id);
        let message = &a.message;
        quote_spanned! {span_of(ty)=>
            const _: () = {
                let id = <#ty as _serde_capnp::rpc::FromCapability>::INTERFACE_ID;
                if id != 0 && id != #want {
                    ::core::panic!(#message);
                }
            };
        }
    });
    let node_asserts = input.node_asserts.iter().map(|(ty, id, message)| {
        let id = Literal::u64_suffixed(*id);
        let message = format!(
            "`{}` is bound to another node: {message}",
            quote!(#ty).to_string().replace(' ', "")
        );
        quote_spanned! {span_of(ty)=>
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
    let from_server_doc = format!(
        "A client whose calls `server` answers, in this process: the capability to hand to \
         `serde_capnp::rpc::serve`, or to put in the results of a call. Methods of `{iname}` \
         that the trait leaves out answer `unimplemented`."
    );

    // Handlers run on the connection's thread, so their futures need not be `Send`, which is
    // all the lint warns about.
    let trait_tokens = quote!(#[allow(async_fn_in_trait)] #t);
    quote! {
        #trait_tokens

        #[doc = #client_doc]
        #vis struct #client {
            capability: #outer::rpc::Capability,
            #(#super_fields: #super_clients,)*
        }

        #(#call_types)*

        #[doc(hidden)]
        #[allow(non_upper_case_globals, non_camel_case_types, unused_qualifications, clippy::all)]
        const _: () = {
            #alias
            #(#rebuild)*
            static #iface: #typed::TypedInterface = #typed::TypedInterface::new(
                _serde_capnp::__private::Embedded { request: #bytes, hash: #hash },
                #id,
            );
            #(#names)*

            impl #client {
                #[doc = #from_server_doc]
                pub fn from_server<S: #tname + 'static>(server: S) -> Self {
                    Self::from_rc(#typed::Rc::new(server))
                }

                /// [`from_server`](Self::from_server) for a server shared with other code.
                pub fn from_rc<S: #tname + 'static>(server: #typed::Rc<S>) -> Self {
                    <Self as #rpc::FromCapability>::from_capability(#typed::serve(
                        &#iface,
                        move |builder| Self::__serde_capnp_register(server, builder),
                    ))
                }

                /// The capability this client calls.
                pub fn into_capability(self) -> #rpc::Capability {
                    self.capability
                }

                #[doc(hidden)]
                pub fn __serde_capnp_register<__Server: #tname + 'static>(
                    server: #typed::Rc<__Server>,
                    builder: #rpc::Server,
                ) -> _serde_capnp::Result<#rpc::Server> {
                    #(let builder = #super_clients::__serde_capnp_register::<__Server>(
                        ::core::clone::Clone::clone(&server),
                        builder,
                    )?;)*
                    #(#handlers)*
                    let _ = server;
                    ::core::result::Result::Ok(builder)
                }

                #(#client_methods)*
            }

            impl #rpc::FromCapability for #client {
                const INTERFACE_ID: u64 = #id;
                fn from_capability(capability: #rpc::Capability) -> Self {
                    #client {
                        #(#super_fields: <#super_clients as #rpc::FromCapability>::from_capability(
                            ::core::clone::Clone::clone(&capability),
                        ),)*
                        capability,
                    }
                }
                fn capability(&self) -> &#rpc::Capability {
                    &self.capability
                }
            }

            impl ::core::clone::Clone for #client {
                fn clone(&self) -> Self {
                    <Self as #rpc::FromCapability>::from_capability(
                        ::core::clone::Clone::clone(&self.capability),
                    )
                }
            }

            impl ::core::fmt::Debug for #client {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    f.debug_tuple(::core::stringify!(#client)).field(&self.capability).finish()
                }
            }

            impl #typed::serde::Serialize for #client {
                fn serialize<__S: #typed::serde::Serializer>(
                    &self,
                    serializer: __S,
                ) -> ::core::result::Result<__S::Ok, __S::Error> {
                    #typed::serde::Serialize::serialize(&self.capability, serializer)
                }
            }

            impl<'de> #typed::serde::Deserialize<'de> for #client {
                fn deserialize<__D: #typed::serde::Deserializer<'de>>(
                    deserializer: __D,
                ) -> ::core::result::Result<Self, __D::Error> {
                    ::core::result::Result::map(
                        <#rpc::Capability as #typed::serde::Deserialize<'de>>::deserialize(deserializer),
                        <Self as #rpc::FromCapability>::from_capability,
                    )
                }
            }

            #deref
            #(#supers)*
            #(#call_impls)*
            #(#super_asserts)*
            #(#client_asserts)*
            #(#node_asserts)*
        };
    }
}

fn generic_pipeline(rpc: &TokenStream, f: &syn::Ident, doc: &str, slot: &Literal) -> TokenStream {
    let doc = format!("{doc} `C` is the client of the field's interface, or `Capability`.");
    quote! {
        #[doc = #doc]
        pub fn #f<C: #rpc::FromCapability>(&self) -> C {
            C::from_capability(self.pending.pipeline_slots(&[#slot]))
        }
    }
}
