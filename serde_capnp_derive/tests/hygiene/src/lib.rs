//! Bound types in a crate with no prelude and `serde_capnp` renamed to `capnp_serde`: the
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

/// The schema, through the renamed crate's `include_schema!`.
pub fn schema() -> ::capnp_serde::Result<&'static ::capnp_serde::Schema> {
    ::capnp_serde::include_schema!("../../../schemas/addressbook.capnp")
}
