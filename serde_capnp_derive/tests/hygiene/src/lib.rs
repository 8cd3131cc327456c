//! Bound types and traits in a crate with no prelude and `serde_capnp` renamed to `capnp_serde`: the
//! generated code names everything by absolute path and reaches the runtime through
//! `#[capnp(crate = "...")]`, so neither the prelude nor the crate's usual name is needed.
#![no_implicit_prelude]

/// A user type named like the prelude's, which generated code must not pick up.
#[allow(dead_code)]
pub struct Option;
/// Another.
#[allow(dead_code)]
pub struct Result;

/// `Person.PhoneNumber`.
#[derive(
    ::serde::Serialize,
    ::serde::Deserialize,
    ::capnp_serde::Capnp,
    ::core::fmt::Debug,
    ::core::cmp::PartialEq,
)]
#[capnp(
    schema = "../../../schemas/addressbook.capnp",
    name = "Person.PhoneNumber",
    crate = "::capnp_serde"
)]
pub struct PhoneNumber {
    /// `number`.
    pub number: ::std::string::String,
    /// `type`.
    #[serde(rename = "type")]
    pub kind: PhoneType,
}

/// `Person.PhoneNumber.Type`.
#[derive(
    ::serde::Serialize,
    ::serde::Deserialize,
    ::capnp_serde::Capnp,
    ::core::fmt::Debug,
    ::core::cmp::PartialEq,
)]
#[capnp(
    schema = "../../../schemas/addressbook.capnp",
    name = "Person.PhoneNumber.Type",
    crate = "::capnp_serde"
)]
pub enum PhoneType {
    /// `mobile`.
    Mobile,
    /// `home`.
    Home,
    /// `work`.
    Work,
}

/// `Person`, with fields that borrow from the message.
#[derive(
    ::serde::Serialize,
    ::serde::Deserialize,
    ::capnp_serde::Capnp,
    ::core::fmt::Debug,
    ::core::cmp::PartialEq,
)]
#[capnp(
    schema = "../../../schemas/addressbook.capnp",
    name = "Person",
    crate = "::capnp_serde"
)]
pub struct PersonBorrowed<'a> {
    /// `id`.
    pub id: u32,
    /// `name`.
    pub name: &'a str,
    /// `email`.
    pub email: ::core::option::Option<&'a str>,
    /// `phones`.
    #[serde(borrow)]
    pub phones: ::std::vec::Vec<PhoneNumberBorrowed<'a>>,
}

/// `Person.PhoneNumber`, with a number that borrows from the message.
#[derive(
    ::serde::Serialize,
    ::serde::Deserialize,
    ::capnp_serde::Capnp,
    ::core::fmt::Debug,
    ::core::cmp::PartialEq,
)]
#[capnp(
    schema = "../../../schemas/addressbook.capnp",
    name = "Person.PhoneNumber",
    crate = "::capnp_serde"
)]
pub struct PhoneNumberBorrowed<'a> {
    /// `number`.
    #[serde(borrow)]
    pub number: ::std::borrow::Cow<'a, str>,
    /// `type`.
    #[serde(rename = "type")]
    pub kind: PhoneType,
}

/// The schema, through the renamed crate's `include_schema!`.
pub fn schema() -> ::capnp_serde::Result<&'static ::capnp_serde::Schema> {
    ::capnp_serde::include_schema!("../../../schemas/addressbook.capnp")
}

/// `Calculator.Value`.
#[::capnp_serde::rpc::interface(
    schema = "../../../schemas/calculator.capnp",
    name = "Calculator.Value",
    crate = "::capnp_serde"
)]
pub trait Value {
    /// `read`.
    async fn read(&self) -> ::core::result::Result<f64, ::capnp_serde::Error>;
}

/// `Calculator.Function`.
#[::capnp_serde::rpc::interface(
    schema = "../../../schemas/calculator.capnp",
    name = "Calculator.Function",
    crate = "::capnp_serde"
)]
pub trait Function {
    /// `call`.
    async fn call(&self, params: ::std::vec::Vec<f64>) -> ::capnp_serde::Result<f64>;
}

/// `Shape`.
#[::capnp_serde::rpc::interface(
    schema = "../../../tests/schemas/rpc_macro.capnp",
    name = "Shape",
    crate = "::capnp_serde"
)]
pub trait Shape {
    /// `area`.
    async fn area(&self) -> ::capnp_serde::Result<f64>;
}

/// `Square`, which extends `Shape`.
#[::capnp_serde::rpc::interface(
    schema = "../../../tests/schemas/rpc_macro.capnp",
    name = "Square",
    crate = "::capnp_serde"
)]
pub trait Square: Shape {
    /// `side`.
    async fn side(&self) -> ::capnp_serde::Result<f64>;
    /// `grow`.
    async fn grow(&self, by: f64) -> ::capnp_serde::Result<()>;
}

/// `Sink`, with a `-> stream` method.
#[::capnp_serde::rpc::interface(
    schema = "../../../tests/schemas/rpc_macro.capnp",
    name = "Sink",
    crate = "::capnp_serde"
)]
pub trait Sink {
    /// `write`.
    async fn write(&self, chunk: ::std::vec::Vec<u8>) -> ::capnp_serde::Result<()>;
    /// `total`.
    async fn total(&self) -> ::capnp_serde::Result<Totals>;
}

/// The results of `Sink.total`.
#[derive(::serde::Serialize, ::serde::Deserialize, ::core::fmt::Debug, ::core::cmp::PartialEq)]
pub struct Totals {
    /// `bytes`.
    pub bytes: u64,
    /// `chunks`.
    pub chunks: u32,
}

/// The results of `Store.open`: a capability among other fields.
#[derive(::serde::Serialize, ::serde::Deserialize)]
pub struct Opened {
    /// `sink`.
    pub sink: SinkClient,
    /// `label`.
    pub label: ::std::string::String,
}

/// `Store`, whose results have several fields.
#[::capnp_serde::rpc::interface(
    schema = "../../../tests/schemas/rpc_macro.capnp",
    name = "Store",
    crate = "::capnp_serde"
)]
pub trait Store {
    /// `open`.
    async fn open(&self, label: ::std::string::String) -> ::capnp_serde::Result<Opened>;
}
