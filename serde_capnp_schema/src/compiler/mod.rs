//! A Cap'n Proto schema compiler written in Rust: `.capnp` source to a `CodeGeneratorRequest`.

pub mod ast;
mod compile;
pub(crate) mod diag;
pub(crate) mod emit;
pub(crate) mod ids;
pub(crate) mod layout;
pub(crate) mod lex;
pub(crate) mod out;
pub(crate) mod parse;
pub(crate) mod translate;

pub use compile::{CompileError, Compiled, Compiler, Evaluated};
pub use diag::Diagnostic;
pub use translate::EvalOutput;

/// A fresh random file ID (the top bit set, as every Cap'n Proto ID has), like `capnp id` prints.
pub fn random_file_id() -> u64 {
    ids::random_file_id()
}
