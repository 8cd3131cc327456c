//! The `carsales` dataset: a parking lot full of cars.
//!
//! Modelled on the record Cap'n Proto's C++ carsales benchmark uses, with value ranges in the
//! same spirit (a car's weight follows from its dimensions, the fuel level is below the
//! capacity, four wheels per car). Drawn from the same PCG as the other datasets.

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::generate_vec;

/// Number of cars in [`parking_lot()`].
pub const CARS: usize = 10_000;

/// Paint colour (unit variants; the schema's enumerants are the camelCase names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Wheel {
    pub diameter: u16,
    pub air_pressure: f32,
    pub snow_tires: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Engine {
    pub horsepower: u16,
    pub cylinders: u8,
    pub cc: u32,
    pub uses_gas: bool,
    pub uses_electric: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

/// The whole dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParkingLot {
    pub cars: Vec<Car>,
}

const MAKES: [&str; 5] = ["Toyota", "GM", "Ford", "Honda", "Tesla"];
const MODELS: [&str; 6] = ["Camry", "Prius", "Volt", "Accord", "Leaf", "Model S"];
const COLORS: [Color; 9] = [
    Color::Black,
    Color::White,
    Color::Red,
    Color::Green,
    Color::Blue,
    Color::Cyan,
    Color::Magenta,
    Color::Yellow,
    Color::Silver,
];

impl Wheel {
    pub fn generate<R: Rng>(rng: &mut R) -> Self {
        Wheel {
            diameter: rng.gen_range(25..40u16),
            air_pressure: rng.gen_range(30.0..50.0f32),
            snow_tires: rng.gen_range(0..16u32) == 0,
        }
    }
}

impl Engine {
    pub fn generate<R: Rng>(rng: &mut R) -> Self {
        Engine {
            horsepower: 100 * rng.gen_range(1..400u16),
            cylinders: 4 + 2 * rng.gen_range(0..3u8),
            cc: rng.gen_range(800..10_800u32),
            uses_gas: true,
            uses_electric: rng.gen(),
        }
    }
}

impl Car {
    /// Draws one car, field by field in declaration order.
    pub fn generate<R: Rng>(rng: &mut R) -> Self {
        let make = MAKES[rng.gen_range(0..MAKES.len())].to_owned();
        let model = MODELS[rng.gen_range(0..MODELS.len())].to_owned();
        let color = COLORS[rng.gen_range(0..COLORS.len())];
        let seats = rng.gen_range(2..8u8);
        let doors = rng.gen_range(2..5u8);
        let wheels = (0..4).map(|_| Wheel::generate(rng)).collect();
        let length = rng.gen_range(170..320u16);
        let width = rng.gen_range(48..84u16);
        let height = rng.gen_range(54..102u16);
        // At most 319 * 83 * 101 / 200 = 13370.
        let weight = (u32::from(length) * u32::from(width) * u32::from(height) / 200) as u16;
        let engine = Engine::generate(rng);
        let fuel_capacity = rng.gen_range(10.0..40.0f32);
        let fuel_level = rng.gen_range(0.0..fuel_capacity);
        Car {
            make,
            model,
            color,
            seats,
            doors,
            wheels,
            length,
            width,
            height,
            weight,
            engine,
            fuel_capacity,
            fuel_level,
            has_power_windows: rng.gen(),
            has_power_steering: rng.gen(),
            has_cruise_control: rng.gen(),
            cup_holders: rng.gen_range(0..12u8),
            has_nav_system: rng.gen(),
        }
    }
}

impl ParkingLot {
    /// `count` cars drawn from `rng` (the count itself is drawn from `count..count + 1`).
    pub fn generate<R: Rng>(rng: &mut R, count: usize) -> Self {
        ParkingLot {
            cars: generate_vec(rng, count..count + 1, Car::generate),
        }
    }
}

/// The benchmark dataset: [`CARS`] cars from a fresh [`rng()`](super::rng).
pub fn parking_lot() -> ParkingLot {
    ParkingLot::generate(&mut super::rng(), CARS)
}
