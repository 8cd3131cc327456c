//! The derive's direct path against the serde path: the same bytes, the same values and the
//! same errors, on the benchmark datasets, on types with serde attributes, and on hostile input.
//!
//! `serde_capnp::to_vec`/`from_slice` take a bound type's direct path; the handle's own
//! `StructSchema::to_vec`/`from_slice` always take the serde path.

#[path = "../benches/bound/mod.rs"]
mod bound;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_capnp::CapnpStruct;
use serde_capnp_suite::datasets;

/// Writes `value` both ways, checks the bytes are equal, and reads them back both ways.
fn same_both_ways<T>(value: &T) -> Vec<u8>
where
    T: Serialize + DeserializeOwned + CapnpStruct + PartialEq + std::fmt::Debug,
{
    let st = T::struct_schema().unwrap();
    let serde_bytes = st.to_vec(value).unwrap();
    let direct_bytes = serde_capnp::to_vec(value).unwrap();
    assert_eq!(direct_bytes, serde_bytes, "direct and serde bytes differ");
    let direct: T = serde_capnp::from_slice(&serde_bytes).unwrap();
    let serde: T = st.from_slice(&serde_bytes).unwrap();
    assert_eq!(direct, serde);
    assert_eq!(&direct, value);
    direct_bytes
}

#[test]
fn datasets_give_the_same_bytes_and_values() {
    assert!(<bound::Logs as CapnpStruct>::__DIRECT_WRITE);
    assert!(<bound::Logs as CapnpStruct>::__DIRECT_READ);
    let logs: bound::Logs = bound::bind(&datasets::log::logs());
    let bytes = same_both_ways(&logs);
    let st = bound::Logs::struct_schema().unwrap();
    let borrowed: bound::LogsBorrowed = serde_capnp::from_slice(&bytes).unwrap();
    assert_eq!(borrowed, st.from_slice::<bound::LogsBorrowed>(&bytes).unwrap());
    assert_eq!(serde_capnp::to_vec(&borrowed).unwrap(), bytes);
    let mesh: bound::Mesh = bound::bind(&datasets::mesh::mesh());
    same_both_ways(&mesh);
    let lot: bound::ParkingLot = bound::bind(&datasets::carsales::parking_lot());
    same_both_ways(&lot);
}
