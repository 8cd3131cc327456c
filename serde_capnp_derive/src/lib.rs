//! `#[derive(Capnp)]` and `include_schema!` for `serde_capnp`: bind Rust types to the nodes of
//! a Cap'n Proto schema compiled when the crate is built, with every field checked.
//!
//! Use them through `serde_capnp` (feature `derive`, on by default), which documents them:
//! `serde_capnp::Capnp` and `serde_capnp::include_schema!`.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use serde_capnp::Capnp;
//!
//! #[derive(Serialize, Deserialize, Capnp)]
//! #[capnp(schema = "../schemas/addressbook.capnp", name = "Person.PhoneNumber.Type")]
//! enum PhoneType { Mobile, Home, Work }
//! ```
#![warn(missing_docs)]

mod direct;
mod expand;
mod internals;
mod locate;
mod schema;

use proc_macro::TokenStream;

/// Binds a Rust struct or enum to a node of a Cap'n Proto schema and implements
/// `serde_capnp::CapnpStruct` for it.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use serde_capnp::Capnp;
///
/// #[derive(Serialize, Deserialize, Capnp)]
/// #[capnp(schema = "../schemas/addressbook.capnp", name = "Person")]
/// struct Person {
///     id: u32,
///     name: String,
///     email: String,
///     phones: Vec<PhoneNumber>,
///     employment: Employment,
/// }
///
/// #[derive(Serialize, Deserialize, Capnp)]
/// #[capnp(schema = "../schemas/addressbook.capnp", name = "Person.PhoneNumber")]
/// struct PhoneNumber { number: String, #[serde(rename = "type")] kind: PhoneType }
///
/// #[derive(Serialize, Deserialize, Capnp)]
/// #[capnp(schema = "../schemas/addressbook.capnp", name = "Person.PhoneNumber.Type")]
/// enum PhoneType { Mobile, Home, Work }
///
/// #[derive(Serialize, Deserialize, Capnp)]
/// #[capnp(schema = "../schemas/addressbook.capnp", name = "Person.employment")]
/// enum Employment { Unemployed, Employer(String), School(String), SelfEmployed }
/// ```
///
/// Attributes, in `#[capnp(...)]`:
///
/// - `schema = "path"`: the `.capnp` file, relative to the crate's `Cargo.toml`;
/// - `name = "Node"`: the node, as `Outer.Inner`, `file.capnp:Name`, a named union or group
///   (`Person.employment`), or a generic struct with its parameters (`Pair(Text, Inner)`);
///   or `id = 0x...`, the node's ID;
/// - `import = "dir"` (repeatable): a directory searched by absolute imports;
/// - `crate = "path"`: where `serde_capnp` is, when it is renamed or re-exported;
/// - `direct = false`: no direct path (see `serde_capnp::CapnpStruct`), for a type whose
///   `Serialize` or `Deserialize` is not serde's derived one.
#[proc_macro_derive(Capnp, attributes(capnp))]
pub fn derive_capnp(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// The implementation of `serde_capnp::include_schema!`, which passes its own path first.
///
/// ```
/// let schema = serde_capnp::include_schema!("../schemas/addressbook.capnp")?;
/// assert!(schema.struct_type("AddressBook").is_ok());
/// # Ok::<(), serde_capnp::Error>(())
/// ```
#[proc_macro]
pub fn include_schema(input: TokenStream) -> TokenStream {
    expand::include_schema(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
