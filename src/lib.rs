//! Shared support for the serde_capnp integration tests, examples and benchmarks.

#[cfg(feature = "capnpc-baseline")]
pub mod capnpc;
pub mod datasets;
pub mod fixtures;
