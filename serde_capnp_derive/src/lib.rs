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
mod rpc;
mod schema;

use proc_macro::TokenStream;

/// Binds a Rust struct or enum to a node of a Cap'n Proto schema and implements
/// `serde_capnp::CapnpStruct` and `serde_capnp::CapnpRead` for it (the latter for the messages
/// that outlive what the type borrows, as serde's derive does for `Deserialize`).
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

/// Binds a trait to an interface of a Cap'n Proto schema, checked when the crate is built, and
/// generates a typed client and the server glue. Used as `serde_capnp::rpc::interface`
/// (features `rpc` and `derive`).
///
/// ```
/// use serde_capnp::rpc::{self, interface};
/// use serde_capnp::Result;
///
/// #[derive(serde::Serialize, serde::Deserialize, serde_capnp::Capnp)]
/// #[capnp(schema = "../schemas/calculator.capnp", name = "Calculator.Operator")]
/// enum Operator { Add, Subtract, Multiply, Divide }
///
/// #[interface(schema = "../schemas/calculator.capnp", name = "Calculator")]
/// trait Calculator {
///     // `evaluate` and `defFunction` are left out: they answer `unimplemented`.
///     async fn get_operator(&self, op: Operator) -> Result<FunctionClient>;
/// }
///
/// #[interface(schema = "../schemas/calculator.capnp", name = "Calculator.Function")]
/// trait Function {
///     async fn call(&self, params: Vec<f64>) -> Result<f64>;
/// }
///
/// struct Calc;
/// impl Calculator for Calc {
///     async fn get_operator(&self, op: Operator) -> Result<FunctionClient> {
///         Ok(FunctionClient::from_server(Op(op)))
///     }
/// }
///
/// struct Op(Operator);
/// impl Function for Op {
///     async fn call(&self, params: Vec<f64>) -> Result<f64> {
///         let (a, b) = (params[0], params[1]);
///         Ok(match self.0 {
///             Operator::Add => a + b,
///             Operator::Subtract => a - b,
///             Operator::Multiply => a * b,
///             Operator::Divide => a / b,
///         })
///     }
/// }
///
/// # fn main() -> Result<()> {
/// rpc::run(async {
///     // In process here; `rpc::serve(listener, calc.into_capability())` serves it on TCP,
///     // and `rpc::connect(address).await?.bootstrap::<CalculatorClient>()` calls it.
///     let calc = CalculatorClient::from_server(Calc);
///     // `func()` is the function the result will hold, called before it arrives.
///     let product = calc.get_operator(Operator::Multiply).func().call(vec![6.0, 7.0]);
///     assert_eq!(product.await?, 42.0);
///     Ok(())
/// })
/// # }
/// ```
///
/// Attributes: `schema = "path"` (relative to the crate's `Cargo.toml`), `name = "Interface"`
/// (or `"Outer.Inner"`), `import = "dir"` (repeatable) and `crate = "path"`, as for
/// `#[derive(Capnp)]`.
///
/// The trait's methods are `async fn name(&self, param: T, ...) -> Result<R, E>` (or `fn`
/// returning `impl Future<Output = Result<R, E>>`), with `E: Into<serde_capnp::Error>`:
///
/// - the method is the interface's method of that name (`def_function` for `defFunction`);
///   methods the trait leaves out answer `unimplemented`;
/// - the parameters are the fields of the method's parameter struct, by name, all of them;
///   their types are checked against the schema as a bound struct's fields are;
/// - `R` is the bare type of a single result field, `()` for no results and for `-> stream`
///   methods, and a struct with the fields (checked at run time) for several;
/// - an interface type is the client generated for the trait bound to it (checked by the
///   compiler), or `serde_capnp::rpc::Capability`;
/// - `trait Sub: Base` when the interface `extends(Base)`: one supertrait per interface
///   extended, each bound to one of them.
///
/// Beside the trait (`Calculator`), the macro generates:
///
/// - `CalculatorClient`: `Clone`, `Debug`, serde `Serialize` and `Deserialize` (as a
///   capability, so it can sit in parameters, results, structs and lists), and
///   `FromCapability`. `from_server(server)` (or `from_rc`) makes a client of a local
///   server, `into_capability()` gives the capability to serve. One method per trait method,
///   returning `CalculatorGetOperatorCall` for `get_operator`; a `-> stream` method returns a
///   future that resolves when flow control lets the next call go. A client of `Sub`
///   dereferences to the client of its first supertrait, and converts (`From`, `AsRef`) to
///   that of every supertrait, so the base interface's methods are called through it.
/// - `CalculatorGetOperatorCall`: `IntoFuture` for `Result<R>`, and one method per
///   capability field of the results (`func()`), which gives that capability before the call
///   returns: the client `R` for a single result field, any client (`func::<C>()`) for a
///   result struct.
///
/// Servers and clients are those of `capnp-rpc`: single-threaded, on the thread of a tokio
/// `LocalSet` (`serde_capnp::rpc::run` makes one).
#[proc_macro_attribute]
pub fn interface(attr: TokenStream, item: TokenStream) -> TokenStream {
    rpc::interface(attr.into(), item.into()).into()
}
