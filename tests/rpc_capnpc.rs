//! RPC interop with capnp-rpc and capnpc-generated code (the `capnpc_baseline` crate): our
//! dynamic calculator client against a generated calculator server, and the generated client's
//! checks against our calculator server. Each pair runs in this process, over loopback TCP (each
//! server on its own thread and runtime) and over an in-memory pipe (both sides on one
//! `LocalSet`).

#[path = "../examples/common/calculator.rs"]
#[allow(dead_code)]
mod calculator;

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use capnpc_baseline::calculator_capnp::calculator as generated;
use capnpc_baseline::{calculator::CalculatorImpl, net};
use serde_capnp::rpc::{self, Capability, Connection, Options};

/// Every check finishes well within this; a hang fails the test instead.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The five checks of the calculator example's client, as both clients report them.
const CHECKS: [&str; 5] = [
    "evaluating a literal: pass",
    "using add and subtract: pass",
    "pipelining eval() calls: pass",
    "defining functions: pass",
    "using a callback: pass",
];

/// Runs `future` on a new single-threaded runtime inside a `LocalSet`, failing on a timeout.
fn local<T>(future: impl Future<Output = T>) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new()
        .block_on(&runtime, async {
            tokio::time::timeout(TIMEOUT, future).await
        })
        .expect("the calculator checks timed out")
}

/// A listener on a free loopback port, ready to hand to a server thread.
fn loopback() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap();
    (listener, address)
}

/// The generated calculator, served on `listener` from a thread of its own (which lives as
/// long as the test process).
fn generated_server(listener: TcpListener) {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&runtime, async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let calculator: generated::Client =
                capnpc_baseline::capnp_rpc::new_client(CalculatorImpl);
            net::serve(listener, calculator.client).await
        })
    });
}

/// Our calculator, served on `listener` from a thread of its own.
fn our_server(listener: TcpListener) {
    std::thread::spawn(move || {
        let ifaces = calculator::Interfaces::load().unwrap();
        rpc::run(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            rpc::serve(listener, calculator::calculator(&ifaces)?).await
        })
    });
}

/// Our client's checks against `calc`.
async fn our_client(calc: Capability) -> Vec<String> {
    let ifaces = calculator::Interfaces::load().unwrap();
    let mut passed = Vec::new();
    calculator::run_client(&ifaces, calc, |line| passed.push(line.to_string()))
        .await
        .unwrap_or_else(|e| panic!("our client's checks failed: {e}"));
    passed
}

/// The generated client's checks against `calc`.
async fn generated_client(calc: generated::Client) -> Vec<String> {
    let mut passed = Vec::new();
    capnpc_baseline::calculator::run_client(calc, |line| passed.push(line.to_string()))
        .await
        .unwrap_or_else(|e| panic!("the generated client's checks failed: {e}"));
    passed
}

#[test]
fn our_client_against_generated_server_over_tcp() {
    let (listener, address) = loopback();
    generated_server(listener);
    let passed = local(async {
        let connection = rpc::connect(address).await.unwrap();
        let passed = our_client(connection.bootstrap()).await;
        connection.disconnect().await.unwrap();
        passed
    });
    assert_eq!(passed, CHECKS);
}

#[test]
fn generated_client_against_our_server_over_tcp() {
    let (listener, address) = loopback();
    our_server(listener);
    let passed = local(async {
        let connection = net::connect(address).await.unwrap();
        let passed = generated_client(connection.bootstrap()).await;
        connection.disconnector.await.unwrap();
        passed
    });
    assert_eq!(passed, CHECKS);
}

#[test]
fn our_client_against_generated_server_in_one_local_set() {
    let passed = local(async {
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        let calculator: generated::Client = capnpc_baseline::capnp_rpc::new_client(CalculatorImpl);
        let _server = net::over(theirs, Some(calculator.client), true);
        let connection = Connection::over(ours, None, false, Options::default());
        let passed = our_client(connection.bootstrap()).await;
        connection.disconnect().await.unwrap();
        passed
    });
    assert_eq!(passed, CHECKS);
}

#[test]
fn generated_client_against_our_server_in_one_local_set() {
    let passed = local(async {
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        let ifaces = calculator::Interfaces::load().unwrap();
        let _server = Connection::over(
            ours,
            Some(calculator::calculator(&ifaces).unwrap()),
            true,
            Options::default(),
        );
        let connection = net::over(theirs, None, false);
        let passed = generated_client(connection.bootstrap()).await;
        connection.disconnector.await.unwrap();
        passed
    });
    assert_eq!(passed, CHECKS);
}
