//! The benchmark datasets encode to the sizes the public rust_serialization_benchmark reports.

use serde_capnp::Schema;
use serde_capnp_suite::datasets;

fn schema() -> Schema {
    Schema::from_code_generator_request(include_bytes!("../schemas/compiled/bench.bin")).unwrap()
}

#[test]
fn log_capnp_size_and_round_trip() {
    let schema = schema();
    let st = schema.struct_type("Logs").unwrap();
    let logs = datasets::log::logs();
    let bytes = st.to_vec(&logs).unwrap();
    // The size rust_serialization_benchmark publishes for capnp on this dataset.
    assert_eq!(bytes.len(), 1_443_216);
    let back: datasets::Logs = st.from_slice(&bytes).unwrap();
    assert!(back == logs);
    let borrowed: datasets::LogsBorrowed<'_> = st.from_slice(&bytes).unwrap();
    assert_eq!(borrowed.logs.len(), logs.logs.len());
}
