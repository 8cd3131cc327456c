//! The benchmark datasets.
//!
//! `log` and `mesh` are generated exactly as the public
//! [rust_serialization_benchmark](https://github.com/djkoloski/rust_serialization_benchmark)
//! generates them: the same PCG stream, the same distributions, drawn in the same order and with
//! the same integer types (`rand` samples a `usize` range through `u64` and an `i32` range through
//! `u32`, so the types decide how much of the stream each draw consumes). That makes the encoded
//! sizes comparable with the numbers that project publishes.
//!
//! `carsales` is our own batch of records in the spirit of Cap'n Proto's C++ carsales benchmark:
//! short texts, an enum, small integers, floats, booleans, a nested struct and a short list of
//! structs per record.
//!
//! Every dataset starts from a fresh [`rng()`].

pub mod carsales;
pub mod log;
pub mod mesh;

use core::ops::Range;

use rand::Rng;
use rand_pcg::Lcg64Xsh32;

pub use carsales::{parking_lot, Car, Color, Engine, ParkingLot, Wheel};
pub use log::{logs, Address, Log, LogBorrowed, Logs, LogsBorrowed};
pub use mesh::{mesh, Mesh, Triangle, Vector3};

/// PCG state: the first ten digits of pi.
pub const STATE: u64 = 3141592653;
/// PCG stream: the next ten digits of pi.
pub const STREAM: u64 = 5897932384;

/// The generator every dataset starts from.
pub fn rng() -> Lcg64Xsh32 {
    Lcg64Xsh32::new(STATE, STREAM)
}

/// Draws the length from `len` (consuming the stream even for a one-value range, as the
/// original does), then generates that many elements.
pub(crate) fn generate_vec<R: Rng, T>(
    rng: &mut R,
    len: Range<usize>,
    mut element: impl FnMut(&mut R) -> T,
) -> Vec<T> {
    let len = rng.gen_range(len);
    let mut out = Vec::with_capacity(len);
    for _ in 0..len {
        out.push(element(rng));
    }
    out
}
