//! The capnpc-generated code for `schemas/bench.capnp`, `schemas/calculator.capnp` and
//! `schemas/rpc_bench.capnp`, and capnp-rpc servers and clients written on it.
//!
//! This crate depends on nothing of ours, so that it is the baseline as any capnp-rust user
//! would write it. The code that fills and reads the `bench.capnp` builders from the dataset
//! structs lives next to the datasets, in `serde_capnp_suite::capnpc` (behind the suite's
//! `capnpc-baseline` feature); the RPC code (a calculator server and client, the `Bench`
//! server, TCP connections) lives here, in [`calculator`], [`bench`] and [`net`].

pub use capnp;
pub use capnp_rpc;

pub mod bench;
pub mod calculator;
pub mod net;

#[allow(clippy::all, clippy::pedantic, unused, unreachable_pub)]
pub mod bench_capnp {
    include!(concat!(env!("OUT_DIR"), "/bench_capnp.rs"));
}

#[allow(clippy::all, clippy::pedantic, unused, unreachable_pub)]
pub mod calculator_capnp {
    include!(concat!(env!("OUT_DIR"), "/calculator_capnp.rs"));
}

#[allow(clippy::all, clippy::pedantic, unused, unreachable_pub)]
pub mod rpc_bench_capnp {
    include!(concat!(env!("OUT_DIR"), "/rpc_bench_capnp.rs"));
}
