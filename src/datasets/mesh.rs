//! The `mesh` dataset: a triangle soup.

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::generate_vec;

/// Number of triangles in [`mesh()`].
pub const TRIANGLES: usize = 125_000;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Vector3 {
    pub x: f32,
    pub y: f32,
    pub z: f32,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Triangle {
    pub v0: Vector3,
    pub v1: Vector3,
    pub v2: Vector3,
    pub normal: Vector3,
}

/// The whole dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mesh {
    pub triangles: Vec<Triangle>,
}

impl Vector3 {
    /// Each coordinate is `rand`'s standard `f32` in `[0, 1)`.
    pub fn generate<R: Rng>(rng: &mut R) -> Self {
        Vector3 {
            x: rng.gen(),
            y: rng.gen(),
            z: rng.gen(),
        }
    }
}

impl Triangle {
    pub fn generate<R: Rng>(rng: &mut R) -> Self {
        Triangle {
            v0: Vector3::generate(rng),
            v1: Vector3::generate(rng),
            v2: Vector3::generate(rng),
            normal: Vector3::generate(rng),
        }
    }
}

impl Mesh {
    /// `count` triangles drawn from `rng` (the count itself is drawn from `count..count + 1`).
    pub fn generate<R: Rng>(rng: &mut R, count: usize) -> Self {
        Mesh {
            triangles: generate_vec(rng, count..count + 1, Triangle::generate),
        }
    }
}

/// The benchmark dataset: [`TRIANGLES`] triangles from a fresh [`rng()`](super::rng).
pub fn mesh() -> Mesh {
    Mesh::generate(&mut super::rng(), TRIANGLES)
}
