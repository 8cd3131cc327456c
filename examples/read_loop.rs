//! Reads the `log` benchmark dataset over and over in one process, for profilers and for
//! timing one read path without the rest of the benchmark suite around it.
//!
//! ```sh
//! cargo build --release --example read_loop
//! perf stat -e task-clock target/release/examples/read_loop borrowed 400
//! valgrind --tool=callgrind target/release/examples/read_loop owned 10
//! ```
//!
//! The first argument picks what a pass does: `borrowed` (into `LogsBorrowed`, the default),
//! `owned` (into `Logs`), `value` (into a `serde_capnp::Value`) or `write` (serialize the
//! dataset). The second is the number of passes (10 by default).

use serde_capnp::Schema;
use serde_capnp_suite::datasets::{self, log::LogsBorrowed, Logs};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "borrowed".to_owned());
    let passes: usize = match args.next() {
        Some(n) => n.parse()?,
        None => 10,
    };
    let schema =
        Schema::from_code_generator_request(include_bytes!("../schemas/compiled/bench.bin"))?
            .struct_type("Logs")?;
    let data = datasets::log::logs();
    let bytes = schema.to_vec(&data)?;

    // A sum of sizes, printed so that the optimizer keeps the work.
    let mut sum = 0;
    for _ in 0..passes {
        sum += match mode.as_str() {
            "borrowed" => schema.from_slice::<LogsBorrowed<'_>>(&bytes)?.logs.len(),
            "owned" => schema.from_slice::<Logs>(&bytes)?.logs.len(),
            "value" => schema
                .read_value(&bytes)?
                .as_struct()
                .map_or(0, |s| s.len()),
            "write" => schema.to_vec(&data)?.len(),
            other => return Err(format!("unknown mode `{other}`").into()),
        };
    }
    println!("{mode}: {passes} passes ({sum})");
    Ok(())
}
