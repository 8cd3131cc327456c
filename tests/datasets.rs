//! The generated datasets match the public rust_serialization_benchmark's: the encoded sizes
//! below are the numbers that project publishes (postcard 1.1.3, serde_json 1.0), so any change in
//! how the data is drawn from the PCG shows up here.

use serde_capnp_suite::datasets::{self, carsales, log, mesh};

#[test]
fn log_matches_published_sizes() {
    let data = log::logs();
    assert_eq!(data.logs.len(), log::LOGS);
    assert_eq!(postcard::to_allocvec(&data).unwrap().len(), 724_953);
    assert_eq!(serde_json::to_vec(&data).unwrap().len(), 1_827_461);
}

#[test]
fn log_first_record() {
    let data = log::logs();
    let first = &data.logs[0];
    println!("{first:?}");
    assert_eq!(first.identity, "-");
    // Dates are not zero padded: "D/Mon/YYYY:h:m:s +zzzz".
    let (day, rest) = first.date.split_once('/').unwrap();
    assert!((1..=28).contains(&day.parse::<u8>().unwrap()));
    assert_eq!(rest.split(' ').count(), 2);
    assert_eq!(first.request.split(' ').count(), 3);
}

#[test]
fn mesh_matches_published_sizes() {
    let data = mesh::mesh();
    assert_eq!(data.triangles.len(), mesh::TRIANGLES);
    // 125,000 triangles of 12 `f32`s, plus a 3-byte varint length.
    assert_eq!(postcard::to_allocvec(&data).unwrap().len(), 6_000_003);
    // Depends on every float's shortest decimal form, so it checks the values themselves.
    assert_eq!(serde_json::to_vec(&data).unwrap().len(), 26_192_883);
}

/// Our own dataset: these sizes are pinned so that a change in its generation is noticed.
#[test]
fn carsales_sizes() {
    let data = carsales::parking_lot();
    assert_eq!(data.cars.len(), carsales::CARS);
    let postcard = postcard::to_allocvec(&data).unwrap();
    let json = serde_json::to_vec(&data).unwrap();
    assert_eq!(postcard.len(), 661_634);
    assert_eq!(json.len(), 6_247_057);
    for car in &data.cars {
        assert_eq!(car.wheels.len(), 4);
        assert!(car.fuel_level < car.fuel_capacity);
    }
}

#[test]
fn generation_is_deterministic() {
    assert_eq!(log::logs(), log::logs());
    assert_eq!(carsales::parking_lot(), carsales::parking_lot());
    let mut rng = datasets::rng();
    // The length draw consumes the stream the same way for any one-value range, so a shorter
    // mesh is a prefix of the full one.
    let short = mesh::Mesh::generate(&mut rng, 10);
    assert_eq!(short.triangles, mesh::mesh().triangles[..10]);
}

#[test]
fn borrowed_log_round_trips() {
    let data = log::logs();
    let bytes = postcard::to_allocvec(&data).unwrap();
    let borrowed: datasets::LogsBorrowed<'_> = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(borrowed, data.borrowed());
    assert_eq!(borrowed.to_owned(), data);
    // Both forms encode identically.
    assert_eq!(postcard::to_allocvec(&borrowed).unwrap(), bytes);
}
