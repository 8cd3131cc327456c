//! Serves the calculator of `schemas/calculator.capnp` on ADDRESS (default 127.0.0.1:7000).
//!
//! ```sh
//! cargo run --features rpc --example calculator_server -- 127.0.0.1:7000
//! ```
//! Any calculator client talks to it: `calculator_client`, or pycapnp's
//! `async_calculator_client.py 127.0.0.1:7000`.

#[path = "common/calculator.rs"]
#[allow(dead_code)]
mod calculator;

use serde_capnp::rpc;

fn main() -> serde_capnp::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7000".into());
    let ifaces = calculator::Interfaces::load()?;
    rpc::run(async move {
        let listener = tokio::net::TcpListener::bind(&address).await?;
        // Printed for scripts that wait for the server to be ready.
        println!("listening on {}", listener.local_addr()?);
        rpc::serve(listener, calculator::calculator(&ifaces)?).await
    })
}
