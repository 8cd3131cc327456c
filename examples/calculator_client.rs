//! Calls the calculator served at ADDRESS (default 127.0.0.1:7000) and checks its answers, as
//! the calculator example client of Cap'n Proto and pycapnp does.
//!
//! ```sh
//! cargo run --example calculator_client -- 127.0.0.1:7000
//! ```
//! Any calculator server answers it: `calculator_server`, or pycapnp's
//! `async_calculator_server.py 127.0.0.1:7000`.

#[path = "common/calculator_typed.rs"]
#[allow(dead_code)]
mod calculator;

use calculator::CalculatorClient;
use serde_capnp::rpc;

fn main() -> serde_capnp::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7000".into());
    rpc::run(async move {
        let connection = rpc::connect(&address).await?;
        let calculator: CalculatorClient = connection.bootstrap();
        calculator::run_client(&calculator, |line| println!("{line}")).await?;
        connection.disconnect().await
    })
}
