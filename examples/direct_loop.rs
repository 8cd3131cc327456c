//! Repeats one operation on one benchmark dataset in one process, for callgrind: capnpc's
//! generated code, bound types (the derive's direct path) and the serde path, side by side.
//!
//! ```sh
//! cargo build --release --features capnpc-baseline --example direct_loop
//! valgrind --tool=callgrind target/release/examples/direct_loop mesh bound-write 3
//! ```
//!
//! Arguments: the dataset (`log`, `mesh`, `carsales`), the operation (`capnpc-write` into one
//! pre-sized segment, `capnpc-read` and convert, `bound-write`, `bound-read`, `bound-borrowed`
//! (`log` only: a bound type whose texts borrow from the message), `serde-write`,
//! `serde-read`) and the number of passes. The difference between the counts of 3 passes and
//! 1 pass, halved, is the work of one pass without the dataset's generation.

#[cfg(feature = "capnpc-baseline")]
#[path = "../benches/bound/mod.rs"]
mod bound;

#[cfg(feature = "capnpc-baseline")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use serde_capnp::CapnpStruct;
    use serde_capnp_suite::capnpc::{self, capnp};
    use serde_capnp_suite::datasets;
    use std::hint::black_box;

    macro_rules! run {
        ($op:expr, $passes:expr, $data:expr, $m:path, $bound:ty, $plain:ty, $root:expr
            $(, borrowed: $borrowed:ty)?) => {{
            use $m as m;
            let data = $data;
            let bound_data: $bound = bound::bind(&data);
            let bytes = serde_capnp::to_vec(&bound_data)?;
            let handle = serde_capnp::Schema::from_code_generator_request(include_bytes!(
                "../schemas/compiled/bench.bin"
            ))?
            .struct_type($root)?;
            let mut sum = 0usize;
            for _ in 0..$passes {
                sum += match $op {
                    "capnpc-write" => {
                        let words = u32::try_from(bytes.len() / 8)?;
                        let mut message = capnp::message::Builder::new(
                            capnp::message::HeapAllocator::new().first_segment_words(words),
                        );
                        m::populate(&mut message, black_box(&data));
                        capnpc::write(&message).len()
                    }
                    "capnpc-read" => {
                        std::mem::size_of_val(&m::read_and_convert(black_box(&bytes))?)
                    }
                    "bound-write" => serde_capnp::to_vec(black_box(&bound_data))?.len(),
                    "bound-read" => {
                        let v: $bound = serde_capnp::from_slice(black_box(&bytes))?;
                        std::mem::size_of_val(&v)
                    }
                    $("bound-borrowed" => {
                        let v: $borrowed = serde_capnp::from_slice(black_box(&bytes))?;
                        std::mem::size_of_val(&v)
                    })?
                    "serde-write" => handle.to_vec(black_box(&data))?.len(),
                    "serde-read" => {
                        let v: $plain = handle.from_slice(black_box(&bytes))?;
                        std::mem::size_of_val(&v)
                    }
                    other => return Err(format!("unknown operation `{other}`").into()),
                };
            }
            assert!(<$bound>::struct_schema().is_ok());
            println!("{} {}: {} passes ({sum})", $root, $op, $passes);
        }};
    }

    let mut args = std::env::args().skip(1);
    let dataset = args.next().unwrap_or_else(|| "log".to_owned());
    let op = args.next().unwrap_or_else(|| "bound-read".to_owned());
    let passes: usize = args.next().map_or(Ok(10), |n| n.parse())?;
    match dataset.as_str() {
        "log" => run!(
            op.as_str(),
            passes,
            datasets::log::logs(),
            capnpc::log,
            bound::Logs,
            datasets::Logs,
            "Logs",
            borrowed: bound::LogsBorrowed<'_>
        ),
        "mesh" => run!(
            op.as_str(),
            passes,
            datasets::mesh::mesh(),
            capnpc::mesh,
            bound::Mesh,
            datasets::Mesh,
            "Mesh"
        ),
        "carsales" => run!(
            op.as_str(),
            passes,
            datasets::carsales::parking_lot(),
            capnpc::carsales,
            bound::ParkingLot,
            datasets::ParkingLot,
            "ParkingLot"
        ),
        other => return Err(format!("unknown dataset `{other}`").into()),
    }
    Ok(())
}

#[cfg(not(feature = "capnpc-baseline"))]
fn main() {
    eprintln!("direct_loop compares with capnpc's generated code: build it with `--features capnpc-baseline`");
    std::process::exit(2);
}
