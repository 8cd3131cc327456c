//! capnpc-generated baseline for the benchmarks.
