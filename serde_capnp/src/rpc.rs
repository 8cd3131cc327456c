//! Cap'n Proto RPC: serve and call interfaces of a schema, with parameters and results that
//! are ordinary serde values. Enabled by the `rpc` feature.
//!
//! - [`Server`] serves an interface loaded at run time, one handler per method name;
//!   [`DynamicClient`] calls one by method name, as pycapnp does. The
//!   [`interface`] attribute macro turns a Rust trait bound to a `.capnp` interface into a
//!   typed server and client on top of these.
//! - [`Capability`] (and every typed client) is a serde value: it travels inside parameters,
//!   results, structs and lists.
//! - A call's [`Pending`] result can be awaited or *pipelined*: the capabilities its results
//!   will hold can be called at once, and a chain of dependent calls costs one round trip.
//! - [`connect`] and [`serve`] run the two-party protocol over TCP or Unix sockets on tokio;
//!   [`Connection::over`] over any byte stream.
//! - A call on a capability served in this process (made by [`Server::into_capability`] or a
//!   typed client's `from_server`, also after it travelled in a message that stayed in the
//!   process) skips `capnp-rpc`: the server reads the caller's message where it was written,
//!   and the caller reads the server's. Calls through a connection, `-> stream` calls and
//!   calls on capabilities pipelined on a result go through `capnp-rpc`, which copies each
//!   message into a message of its own and back out. Order of delivery, results, errors,
//!   cancellation and pipelining are the same either way.
//!
//! `capnp-rpc` is single-threaded: connections, capabilities and calls live on the thread
//! of a [`tokio::task::LocalSet`] ([`run`] makes one). [`SharedClient`] is a `Send + Sync`
//! handle for code on a multi-threaded runtime, at the cost of a hand-off between threads
//! each way per call.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use serde_capnp::rpc::{self, DynamicClient, Server};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Sum { a: i64, b: i64 }
//! #[derive(Serialize, Deserialize)]
//! struct Total { value: i64 }
//!
//! # fn main() -> serde_capnp::Result<()> {
//! let schema = serde_capnp::Schema::parse("adder.capnp", r#"
//!     @0xc0ffee12c0ffee12;
//!     interface Adder { add @0 (a :Int64, b :Int64) -> (value :Int64); }
//! "#)?;
//! let adder = schema.interface("Adder")?;
//! let server = Server::new(&adder).method("add", |call| async move {
//!     let Sum { a, b } = call.params()?;
//!     call.reply(&Total { value: a + b })
//! })?;
//!
//! rpc::run(async move {
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//!     let address = listener.local_addr()?;
//!     tokio::task::spawn_local(rpc::serve(listener, server.into_capability()));
//!
//!     let connection = rpc::connect(address).await?;
//!     let client = connection.bootstrap_dynamic(&adder);
//!     let total: Total = client.call("add", &Sum { a: 2, b: 3 }).await?.get()?;
//!     assert_eq!(total.value, 5);
//!     Ok(())
//! })
//! # }
//! ```

mod cap;
mod client;
mod glue;
mod interface;
mod net;
mod server;
mod shared;
#[doc(hidden)]
pub mod typed;

pub use cap::{Capability, FromCapability};
pub use client::{call, stream, DynamicClient, Pending, Response};
pub use interface::{InterfaceSchema, MethodSchema};
pub use net::{connect, connect_with, run, serve, serve_with, Connection, Options};
#[cfg(unix)]
pub use net::{connect_unix, serve_unix};
pub use server::{Reply, Request, Server};
pub use shared::{SharedClient, SharedResponse};

#[cfg(feature = "derive")]
pub use serde_capnp_derive::interface;
