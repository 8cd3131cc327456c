//! Serves the calculator of `schemas/calculator.capnp` on ADDRESS (default 127.0.0.1:7000).
//!
//! ```sh
//! cargo run --example calculator_server -- 127.0.0.1:7000
//! ```
//! Any calculator client talks to it: `calculator_client`, or pycapnp's
//! `async_calculator_client.py 127.0.0.1:7000`. The calculator itself is three Rust traits
//! bound to the schema's interfaces, in `common/calculator_typed.rs`.

#[path = "common/calculator_typed.rs"]
#[allow(dead_code)]
mod calculator;

use calculator::{CalculatorClient, CalculatorServer};
use serde_capnp::rpc;

fn main() -> serde_capnp::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7000".into());
    rpc::run(async move {
        let listener = tokio::net::TcpListener::bind(&address).await?;
        // Printed for scripts that wait for the server to be ready.
        println!("listening on {}", listener.local_addr()?);
        let calculator = CalculatorClient::from_server(CalculatorServer);
        rpc::serve(listener, calculator.into_capability()).await
    })
}
