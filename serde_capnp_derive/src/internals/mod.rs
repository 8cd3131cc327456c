//! Reading the bound type and checking it, in serde_derive's layout: `ast` and `attr` read
//! without failing early, `ctxt` gathers every error, `check` compares with the schema.

pub mod ast;
pub mod attr;
pub mod case;
pub mod check;
pub mod ctxt;
pub mod rust_ty;
