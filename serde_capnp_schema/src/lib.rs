//! The Cap'n Proto schema model used by `serde_capnp`.
//!
//! A [`SchemaPool`] holds every node of one or more compiled schema files: structs with their
//! field layout, enums, interfaces, constants and annotations. It is built from a
//! `CodeGeneratorRequest` — the message every Cap'n Proto compiler hands to its code generator
//! plugins — with [`SchemaPool::from_code_generator_request`].
//!
//! A request is untrusted input. The loader checks everything the readers and writers of
//! `serde_capnp` take for granted (the list is on [`SchemaPool`]) and bounds the memory it takes
//! by the request's size, so that a hostile request is an error naming the node and member at
//! fault, never a panic or a huge allocation.
//!
//! The model is precomputed for the serializer's hot path: node references are indices into the
//! pool (not IDs), data-field defaults are kept as the raw bit patterns that get XOR-ed on the wire,
//! and pointer defaults are kept as ready-to-read single-segment messages.
//!
//! ```
//! # fn main() -> Result<(), serde_capnp_schema::SchemaError> {
//! let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/compiled/addressbook.bin")).unwrap();
//! let pool = serde_capnp_schema::SchemaPool::from_code_generator_request(&bytes)?;
//! let person = pool.find("Person")?;
//! assert_eq!(pool.node(person).short_name(), "Person");
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod compiler;
mod load;
mod model;
mod type_name;

pub use load::{MAX_GROUP_NESTING, MAX_MEMBERS, MEMORY_BASE, MEMORY_PER_REQUEST_BYTE};
pub use model::*;

/// An error found while building or querying a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    message: String,
}

impl SchemaError {
    /// Creates an error with a message (lower-case, no trailing period).
    pub fn new(message: impl Into<String>) -> Self {
        SchemaError {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for SchemaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SchemaError {}

impl From<capnp::Error> for SchemaError {
    fn from(e: capnp::Error) -> Self {
        SchemaError::new(format!("malformed CodeGeneratorRequest: {e}"))
    }
}

impl From<capnp::NotInSchema> for SchemaError {
    fn from(e: capnp::NotInSchema) -> Self {
        SchemaError::new(format!(
            "CodeGeneratorRequest uses a schema feature this version does not know: {e}"
        ))
    }
}

impl From<std::str::Utf8Error> for SchemaError {
    fn from(e: std::str::Utf8Error) -> Self {
        SchemaError::new(format!(
            "a name in the CodeGeneratorRequest is not UTF-8: {e}"
        ))
    }
}
