//! Against capnpc-generated code (built with the `capnpc-baseline` feature, which needs the
//! `capnp` tool): our messages are byte for byte what generated code writes into one segment,
//! and we read what it writes with its default allocator (several segments, far pointers).
//!
//! `cargo test --features capnpc-baseline --test capnpc_bytes`
#![cfg(feature = "capnpc-baseline")]

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_capnp::Schema;
use serde_capnp_suite::capnpc;
use serde_capnp_suite::datasets;

fn check<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    root: &str,
    data: &T,
    populate: fn(&mut capnp::message::Builder<capnp::message::HeapAllocator>, &T),
    populate_and_write: fn(&T) -> Vec<u8>,
) {
    let schema =
        Schema::from_code_generator_request(include_bytes!("../schemas/compiled/bench.bin"))
            .unwrap();
    let st = schema.struct_type(root).unwrap();
    let ours = st.to_vec(data).unwrap();

    let mut one_segment = capnp::message::Builder::new(
        capnp::message::HeapAllocator::new().first_segment_words((ours.len() / 8) as u32),
    );
    populate(&mut one_segment, data);
    assert_eq!(one_segment.get_segments_for_output().len(), 1);
    let theirs = capnpc::write(&one_segment);
    assert!(ours == theirs, "{root}: bytes differ from capnpc's");

    let multi = populate_and_write(data);
    let back: T = st.from_slice(&multi).unwrap();
    assert!(
        back == *data,
        "{root}: capnpc's multi-segment message reads back"
    );
    let packed = capnpc::write_packed(&one_segment);
    assert_eq!(
        st.to_vec_packed(data).unwrap(),
        packed,
        "{root}: packed bytes"
    );
}

#[test]
fn log_matches_generated_code() {
    check(
        "Logs",
        &datasets::log::logs(),
        capnpc::log::populate,
        capnpc::log::populate_and_write,
    );
}

#[test]
fn mesh_matches_generated_code() {
    check(
        "Mesh",
        &datasets::mesh::mesh(),
        capnpc::mesh::populate,
        capnpc::mesh::populate_and_write,
    );
}

#[test]
fn carsales_matches_generated_code() {
    check(
        "ParkingLot",
        &datasets::carsales::parking_lot(),
        capnpc::carsales::populate,
        capnpc::carsales::populate_and_write,
    );
}
