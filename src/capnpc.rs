//! The capnpc baseline: each dataset written with capnpc-generated builders and read back into
//! the dataset structs with generated readers, the way a hand-written program using generated
//! code would do it. The benchmarks compare serde_capnp against these functions, and tests can
//! compare serde_capnp's bytes with these bytes.
//!
//! The generated code lives in the `capnpc_baseline` crate (it holds nothing else, so it does not
//! depend on this package); this module owns the glue between it and [`crate::datasets`].

use capnpc_baseline::bench_capnp;
use capnpc_baseline::capnp::message::{self, Allocator, ReaderOptions};
use capnpc_baseline::capnp::{serialize, serialize_packed, Result};

pub use capnpc_baseline::capnp;

/// A message builder with capnp's default allocator (first segment of 1024 words, later
/// segments growing with the message).
pub fn builder() -> message::Builder<message::HeapAllocator> {
    message::Builder::new_default()
}

/// Writes `message` in the standard (unpacked) stream framing.
pub fn write<A: Allocator>(message: &message::Builder<A>) -> Vec<u8> {
    let words = serialize::compute_serialized_size_in_words(message);
    let mut out = Vec::with_capacity(words * 8);
    serialize::write_message(&mut out, message).expect("writing to a Vec cannot fail");
    out
}

/// Writes `message` in the packed stream framing.
pub fn write_packed<A: Allocator>(message: &message::Builder<A>) -> Vec<u8> {
    let mut out = Vec::new();
    serialize_packed::write_message(&mut out, message).expect("writing to a Vec cannot fail");
    out
}

/// Reads an unpacked message without copying its segments (`bytes` should be 8-byte aligned,
/// as a `Vec<u8>` from the global allocator is in practice).
fn read_flat(bytes: &[u8]) -> Result<message::Reader<serialize::BufferSegments<&[u8]>>> {
    let mut slice = bytes;
    serialize::read_message_from_flat_slice(&mut slice, ReaderOptions::new())
}

/// Reads a packed message (unpacking it into owned segments).
fn read_packed(bytes: &[u8]) -> Result<message::Reader<serialize::OwnedSegments>> {
    let mut slice = bytes;
    serialize_packed::read_message(&mut slice, ReaderOptions::new())
}

/// Generates, for one dataset, the functions that go through the generated code.
macro_rules! dataset_functions {
    ($data:ty, $root:ident, $populate_root:path, $convert_root:path) => {
        /// Sets the root of `message` to `data`.
        pub fn populate<A: Allocator>(message: &mut message::Builder<A>, data: &$data) {
            $populate_root(message.init_root::<bench_capnp::$root::Builder<'_>>(), data);
        }

        /// Builds the message with [`builder()`](super::builder) and writes it unpacked.
        pub fn populate_and_write(data: &$data) -> Vec<u8> {
            let mut message = super::builder();
            populate(&mut message, data);
            super::write(&message)
        }

        /// Builds the message with [`builder()`](super::builder) and writes it packed.
        pub fn populate_and_write_packed(data: &$data) -> Vec<u8> {
            let mut message = super::builder();
            populate(&mut message, data);
            super::write_packed(&message)
        }

        /// Reads an unpacked message and converts it into the owned dataset struct.
        pub fn read_and_convert(bytes: &[u8]) -> Result<$data> {
            let message = super::read_flat(bytes)?;
            $convert_root(message.get_root::<bench_capnp::$root::Reader<'_>>()?)
        }

        /// Reads a packed message and converts it into the owned dataset struct.
        pub fn read_packed_and_convert(bytes: &[u8]) -> Result<$data> {
            let message = super::read_packed(bytes)?;
            $convert_root(message.get_root::<bench_capnp::$root::Reader<'_>>()?)
        }
    };
}

/// The `log` dataset through `Logs`.
pub mod log {
    use super::*;
    use crate::datasets::{Address, Log, Logs};
    use bench_capnp::{address, logs};

    dataset_functions!(Logs, logs, fill_logs, convert_logs);

    fn fill_address(mut b: address::Builder<'_>, a: &Address) {
        b.set_x0(a.x0);
        b.set_x1(a.x1);
        b.set_x2(a.x2);
        b.set_x3(a.x3);
    }

    fn fill_logs(b: logs::Builder<'_>, data: &Logs) {
        let mut list = b.init_logs(data.logs.len() as u32);
        for (i, log) in data.logs.iter().enumerate() {
            let mut b = list.reborrow().get(i as u32);
            fill_address(b.reborrow().init_address(), &log.address);
            b.set_identity(log.identity.as_str());
            b.set_userid(log.userid.as_str());
            b.set_date(log.date.as_str());
            b.set_request(log.request.as_str());
            b.set_code(log.code);
            b.set_size(log.size);
        }
    }

    fn convert_address(r: address::Reader<'_>) -> Address {
        Address {
            x0: r.get_x0(),
            x1: r.get_x1(),
            x2: r.get_x2(),
            x3: r.get_x3(),
        }
    }

    fn convert_logs(r: logs::Reader<'_>) -> Result<Logs> {
        let list = r.get_logs()?;
        let mut logs = Vec::with_capacity(list.len() as usize);
        for r in list.iter() {
            logs.push(Log {
                address: convert_address(r.get_address()?),
                identity: r.get_identity()?.to_str()?.to_owned(),
                userid: r.get_userid()?.to_str()?.to_owned(),
                date: r.get_date()?.to_str()?.to_owned(),
                request: r.get_request()?.to_str()?.to_owned(),
                code: r.get_code(),
                size: r.get_size(),
            });
        }
        Ok(Logs { logs })
    }
}

/// The `mesh` dataset through `Mesh`.
pub mod mesh {
    use super::*;
    use crate::datasets::{Mesh, Triangle, Vector3};
    use bench_capnp::{mesh, vector3};

    dataset_functions!(Mesh, mesh, fill_mesh, convert_mesh);

    fn fill_vector3(mut b: vector3::Builder<'_>, v: &Vector3) {
        b.set_x(v.x);
        b.set_y(v.y);
        b.set_z(v.z);
    }

    fn fill_mesh(b: mesh::Builder<'_>, data: &Mesh) {
        let mut list = b.init_triangles(data.triangles.len() as u32);
        for (i, t) in data.triangles.iter().enumerate() {
            let mut b = list.reborrow().get(i as u32);
            fill_vector3(b.reborrow().init_v0(), &t.v0);
            fill_vector3(b.reborrow().init_v1(), &t.v1);
            fill_vector3(b.reborrow().init_v2(), &t.v2);
            fill_vector3(b.reborrow().init_normal(), &t.normal);
        }
    }

    fn convert_vector3(r: vector3::Reader<'_>) -> Vector3 {
        Vector3 {
            x: r.get_x(),
            y: r.get_y(),
            z: r.get_z(),
        }
    }

    fn convert_mesh(r: mesh::Reader<'_>) -> Result<Mesh> {
        let list = r.get_triangles()?;
        let mut triangles = Vec::with_capacity(list.len() as usize);
        for r in list.iter() {
            triangles.push(Triangle {
                v0: convert_vector3(r.get_v0()?),
                v1: convert_vector3(r.get_v1()?),
                v2: convert_vector3(r.get_v2()?),
                normal: convert_vector3(r.get_normal()?),
            });
        }
        Ok(Mesh { triangles })
    }
}

/// The `carsales` dataset through `ParkingLot`.
pub mod carsales {
    use super::*;
    use crate::datasets::{Car, Color, Engine, ParkingLot, Wheel};
    use bench_capnp::{engine, parking_lot};

    dataset_functions!(
        ParkingLot,
        parking_lot,
        fill_parking_lot,
        convert_parking_lot
    );

    fn color_to_capnp(c: Color) -> bench_capnp::Color {
        match c {
            Color::Black => bench_capnp::Color::Black,
            Color::White => bench_capnp::Color::White,
            Color::Red => bench_capnp::Color::Red,
            Color::Green => bench_capnp::Color::Green,
            Color::Blue => bench_capnp::Color::Blue,
            Color::Cyan => bench_capnp::Color::Cyan,
            Color::Magenta => bench_capnp::Color::Magenta,
            Color::Yellow => bench_capnp::Color::Yellow,
            Color::Silver => bench_capnp::Color::Silver,
        }
    }

    fn color_from_capnp(c: bench_capnp::Color) -> Color {
        match c {
            bench_capnp::Color::Black => Color::Black,
            bench_capnp::Color::White => Color::White,
            bench_capnp::Color::Red => Color::Red,
            bench_capnp::Color::Green => Color::Green,
            bench_capnp::Color::Blue => Color::Blue,
            bench_capnp::Color::Cyan => Color::Cyan,
            bench_capnp::Color::Magenta => Color::Magenta,
            bench_capnp::Color::Yellow => Color::Yellow,
            bench_capnp::Color::Silver => Color::Silver,
        }
    }

    fn fill_engine(mut b: engine::Builder<'_>, e: &Engine) {
        b.set_horsepower(e.horsepower);
        b.set_cylinders(e.cylinders);
        b.set_cc(e.cc);
        b.set_uses_gas(e.uses_gas);
        b.set_uses_electric(e.uses_electric);
    }

    fn fill_parking_lot(b: parking_lot::Builder<'_>, data: &ParkingLot) {
        let mut cars = b.init_cars(data.cars.len() as u32);
        for (i, car) in data.cars.iter().enumerate() {
            let mut b = cars.reborrow().get(i as u32);
            b.set_make(car.make.as_str());
            b.set_model(car.model.as_str());
            b.set_color(color_to_capnp(car.color));
            b.set_seats(car.seats);
            b.set_doors(car.doors);
            let mut wheels = b.reborrow().init_wheels(car.wheels.len() as u32);
            for (j, w) in car.wheels.iter().enumerate() {
                let mut b = wheels.reborrow().get(j as u32);
                b.set_diameter(w.diameter);
                b.set_air_pressure(w.air_pressure);
                b.set_snow_tires(w.snow_tires);
            }
            b.set_length(car.length);
            b.set_width(car.width);
            b.set_height(car.height);
            b.set_weight(car.weight);
            fill_engine(b.reborrow().init_engine(), &car.engine);
            b.set_fuel_capacity(car.fuel_capacity);
            b.set_fuel_level(car.fuel_level);
            b.set_has_power_windows(car.has_power_windows);
            b.set_has_power_steering(car.has_power_steering);
            b.set_has_cruise_control(car.has_cruise_control);
            b.set_cup_holders(car.cup_holders);
            b.set_has_nav_system(car.has_nav_system);
        }
    }

    fn convert_engine(r: engine::Reader<'_>) -> Engine {
        Engine {
            horsepower: r.get_horsepower(),
            cylinders: r.get_cylinders(),
            cc: r.get_cc(),
            uses_gas: r.get_uses_gas(),
            uses_electric: r.get_uses_electric(),
        }
    }

    fn convert_parking_lot(r: parking_lot::Reader<'_>) -> Result<ParkingLot> {
        let list = r.get_cars()?;
        let mut cars = Vec::with_capacity(list.len() as usize);
        for r in list.iter() {
            let wheel_list = r.get_wheels()?;
            let mut wheels = Vec::with_capacity(wheel_list.len() as usize);
            for w in wheel_list.iter() {
                wheels.push(Wheel {
                    diameter: w.get_diameter(),
                    air_pressure: w.get_air_pressure(),
                    snow_tires: w.get_snow_tires(),
                });
            }
            cars.push(Car {
                make: r.get_make()?.to_str()?.to_owned(),
                model: r.get_model()?.to_str()?.to_owned(),
                color: color_from_capnp(r.get_color()?),
                seats: r.get_seats(),
                doors: r.get_doors(),
                wheels,
                length: r.get_length(),
                width: r.get_width(),
                height: r.get_height(),
                weight: r.get_weight(),
                engine: convert_engine(r.get_engine()?),
                fuel_capacity: r.get_fuel_capacity(),
                fuel_level: r.get_fuel_level(),
                has_power_windows: r.get_has_power_windows(),
                has_power_steering: r.get_has_power_steering(),
                has_cruise_control: r.get_has_cruise_control(),
                cup_holders: r.get_cup_holders(),
                has_nav_system: r.get_has_nav_system(),
            });
        }
        Ok(ParkingLot { cars })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets;

    /// A builder whose first segment holds the whole message: one segment, no far pointers.
    fn one_segment_builder(words: u32) -> message::Builder<message::HeapAllocator> {
        message::Builder::new(message::HeapAllocator::new().first_segment_words(words))
    }

    /// Builds the message the way the public benchmark does: in a scratch space of 1,000,000
    /// words, spilling over into heap segments. Its published sizes are of these bytes.
    fn published_bytes(
        populate: impl FnOnce(&mut message::Builder<message::ScratchSpaceHeapAllocator<'_>>),
    ) -> (Vec<u8>, Vec<u8>) {
        let mut scratch = capnp::Word::allocate_zeroed_vec(1_000_000);
        let allocator =
            message::ScratchSpaceHeapAllocator::new(capnp::Word::words_to_bytes_mut(&mut scratch));
        let mut message = message::Builder::new(allocator);
        populate(&mut message);
        (write(&message), write_packed(&message))
    }

    #[test]
    fn log_round_trips_and_matches_published_sizes() {
        let data = datasets::log::logs();
        let bytes = log::populate_and_write(&data);
        assert_eq!(log::read_and_convert(&bytes).unwrap(), data);
        let packed = log::populate_and_write_packed(&data);
        assert_eq!(log::read_packed_and_convert(&packed).unwrap(), data);

        // The published message fits in the scratch space, so it is one segment.
        let (bytes, packed) = published_bytes(|m| log::populate(m, &data));
        assert_eq!(bytes.len(), 1_443_216);
        assert_eq!(packed.len(), 1_046_865);

        let mut message = one_segment_builder(1 << 20);
        log::populate(&mut message, &data);
        assert_eq!(message.get_segments_for_output().len(), 1);
        assert_eq!(write(&message), bytes);
    }

    #[test]
    fn mesh_round_trips_and_matches_published_sizes() {
        let data = datasets::mesh::mesh();
        let bytes = mesh::populate_and_write(&data);
        assert_eq!(mesh::read_and_convert(&bytes).unwrap(), data);

        // The published message overflows the scratch space: more segments, far pointers.
        let (bytes, packed) = published_bytes(|m| mesh::populate(m, &data));
        assert_eq!(bytes.len(), 14_000_088);
        assert_eq!(packed.len(), 10_401_737);
        assert_eq!(mesh::read_packed_and_convert(&packed).unwrap(), data);

        // In one segment: 12 words per triangle (4 pointers, 4 two-word `Vector3`s) + 4 words.
        let mut message = one_segment_builder(1 << 21);
        mesh::populate(&mut message, &data);
        assert_eq!(message.get_segments_for_output().len(), 1);
        assert_eq!(write(&message).len(), 12_000_032);
    }

    #[test]
    fn carsales_round_trips() {
        let data = datasets::carsales::parking_lot();
        let bytes = carsales::populate_and_write(&data);
        assert_eq!(carsales::read_and_convert(&bytes).unwrap(), data);
        let packed = carsales::populate_and_write_packed(&data);
        assert_eq!(carsales::read_packed_and_convert(&packed).unwrap(), data);
    }
}
