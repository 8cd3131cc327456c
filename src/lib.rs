//! Shared support for the serde_capnp integration tests, examples and benchmarks.

pub mod datasets;
