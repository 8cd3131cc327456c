//! The capnpc-generated code for `schemas/bench.capnp`.
//!
//! This crate holds nothing but generated code, so that it depends on nothing of ours. The code
//! that fills and reads these builders from the dataset structs lives next to the datasets, in
//! `serde_capnp_suite::capnpc` (behind the suite's `capnpc-baseline` feature).

pub use capnp;

#[allow(clippy::all, clippy::pedantic, unused, unreachable_pub)]
pub mod bench_capnp {
    include!(concat!(env!("OUT_DIR"), "/bench_capnp.rs"));
}
