//! The benchmark datasets as types bound to `schemas/bench.capnp` with `#[derive(Capnp)]`: the
//! same fields as `serde_capnp_suite::datasets`, so that the derive's direct path can be
//! measured and checked against the serde path on the same data. [`bind`] converts a dataset
//! value (through postcard, as both types serialize alike).

#![allow(dead_code)]

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_capnp::Capnp;

/// The bound twin of a dataset value: the same serde data model, read back as `B`.
pub fn bind<A: Serialize, B: DeserializeOwned>(a: &A) -> B {
    postcard::from_bytes(&postcard::to_allocvec(a).expect("postcard writes the dataset"))
        .expect("the bound type reads what the dataset type writes")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/bench.capnp", name = "Address")]
pub struct Address {
    pub x0: u8,
    pub x1: u8,
    pub x2: u8,
    pub x3: u8,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/bench.capnp", name = "Log")]
pub struct Log {
    pub address: Address,
    pub identity: String,
    pub userid: String,
    pub date: String,
    pub request: String,
    pub code: u16,
    pub size: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/bench.capnp", name = "Logs")]
pub struct Logs {
    pub logs: Vec<Log>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/bench.capnp", name = "Log")]
pub struct LogBorrowed<'a> {
    pub address: Address,
    pub identity: &'a str,
    pub userid: &'a str,
    pub date: &'a str,
    pub request: &'a str,
    pub code: u16,
    pub size: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/bench.capnp", name = "Logs")]
pub struct LogsBorrowed<'a> {
    #[serde(borrow)]
    pub logs: Vec<LogBorrowed<'a>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/bench.capnp", name = "Vector3")]
pub struct Vector3 {
    pub x: f32,
    pub y: f32,
    pub z: f32,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/bench.capnp", name = "Triangle")]
pub struct Triangle {
    pub v0: Vector3,
    pub v1: Vector3,
    pub v2: Vector3,
    pub normal: Vector3,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/bench.capnp", name = "Mesh")]
pub struct Mesh {
    pub triangles: Vec<Triangle>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/bench.capnp", name = "Color")]
pub enum Color {
    Black,
    White,
    Red,
    Green,
    Blue,
    Cyan,
    Magenta,
    Yellow,
    Silver,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/bench.capnp", name = "Wheel")]
pub struct Wheel {
    pub diameter: u16,
    pub air_pressure: f32,
    pub snow_tires: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/bench.capnp", name = "Engine")]
pub struct Engine {
    pub horsepower: u16,
    pub cylinders: u8,
    pub cc: u32,
    pub uses_gas: bool,
    pub uses_electric: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/bench.capnp", name = "Car")]
pub struct Car {
    pub make: String,
    pub model: String,
    pub color: Color,
    pub seats: u8,
    pub doors: u8,
    pub wheels: Vec<Wheel>,
    pub length: u16,
    pub width: u16,
    pub height: u16,
    pub weight: u16,
    pub engine: Engine,
    pub fuel_capacity: f32,
    pub fuel_level: f32,
    pub has_power_windows: bool,
    pub has_power_steering: bool,
    pub has_cruise_control: bool,
    pub cup_holders: u8,
    pub has_nav_system: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/bench.capnp", name = "ParkingLot")]
pub struct ParkingLot {
    pub cars: Vec<Car>,
}
