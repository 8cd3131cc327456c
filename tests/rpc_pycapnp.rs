//! RPC interop with pycapnp: its unchanged calculator example client against our calculator
//! servers, and our calculator clients against its unchanged example server, for the
//! calculator written with the `interface` macro and the one on the dynamic API.

mod common;

#[path = "../examples/common/calculator.rs"]
#[allow(dead_code)]
mod calculator;

#[path = "../examples/common/calculator_typed.rs"]
#[allow(dead_code)]
mod calculator_typed;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_capnp::rpc;

/// Every child process is killed by then.
const CHILD_TIMEOUT: Duration = Duration::from_secs(120);

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn pycapnp_example(python: &Path, dir: &Path, script: &str, address: SocketAddr) -> Killed {
    Killed(
        Command::new(python)
            .arg(script)
            .arg(address.to_string())
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python starts"),
    )
}

/// Waits (a bounded time) for `child` to exit, and returns its stdout and stderr.
fn wait(mut child: Killed) -> (std::process::ExitStatus, String, String) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.0.try_wait().expect("wait on the child") {
            let mut out = String::new();
            let mut err = String::new();
            use std::io::Read;
            child
                .0
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            child
                .0
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status, out, err);
        }
        assert!(
            start.elapsed() < CHILD_TIMEOUT,
            "the pycapnp script did not finish in time"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// pycapnp's client against a server on `listener` serving what `bootstrap` makes.
fn pycapnp_client_against(bootstrap: fn() -> serde_capnp::Result<rpc::Capability>) {
    let python = common::require_tool!(common::python_with_pycapnp(), "pycapnp is not installed");
    let dir = common::require_tool!(common::pycapnp_example_dir(), common::NO_PYCAPNP_EXAMPLE);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        rpc::run(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            rpc::serve(listener, bootstrap()?).await
        })
    });
    let client = pycapnp_example(&python, &dir, "async_calculator_client.py", address);
    let (status, out, err) = wait(client);
    assert!(
        status.success(),
        "pycapnp's client failed ({status}):\n{out}\n{err}"
    );
    for check in [
        "Evaluating a literal... PASS",
        "Using add and subtract... PASS",
        "Pipelining eval() calls... PASS",
        "Defining functions... PASS",
        "Using a callback... PASS",
    ] {
        assert!(out.contains(check), "missing `{check}` in:\n{out}\n{err}");
    }
}

#[test]
fn pycapnp_calculator_client_against_our_trait_server() {
    pycapnp_client_against(|| {
        let server = calculator_typed::CalculatorServer;
        Ok(calculator_typed::CalculatorClient::from_server(server).into_capability())
    });
}

#[test]
fn pycapnp_calculator_client_against_our_dynamic_server() {
    pycapnp_client_against(|| calculator::calculator(&calculator::Interfaces::load()?));
}

/// Starts pycapnp's calculator server and returns it with its address once it listens.
fn pycapnp_server() -> Option<(Killed, SocketAddr)> {
    let python = common::require_tool!(
        common::python_with_pycapnp(),
        "pycapnp is not installed",
        None
    );
    let dir = common::require_tool!(
        common::pycapnp_example_dir(),
        common::NO_PYCAPNP_EXAMPLE,
        None
    );
    // A free port: bound, then released for the server to take.
    let address = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = pycapnp_example(&python, &dir, "async_calculator_server.py", address);
    let start = Instant::now();
    while TcpStream::connect(address).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "pycapnp's server never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some((server, address))
}

/// Runs `client` (which reports each check that passes) against pycapnp's server.
fn against_pycapnp_server<F>(client: F)
where
    F: AsyncFnOnce(rpc::Capability, &mut Vec<String>) -> serde_capnp::Result<()>,
{
    let Some((_server, address)) = pycapnp_server() else {
        return;
    };
    let mut passed = Vec::new();
    rpc::run(async {
        let connection = rpc::connect(address).await?;
        tokio::time::timeout(CHILD_TIMEOUT, client(connection.bootstrap(), &mut passed))
            .await
            .map_err(|_| serde_capnp::Error::failed("timed out"))??;
        connection.disconnect().await
    })
    .unwrap();
    assert_eq!(passed.len(), 5, "{passed:?}");
}

#[test]
fn our_trait_calculator_client_against_pycapnp_server() {
    against_pycapnp_server(async |calculator, passed| {
        let calculator: calculator_typed::CalculatorClient = calculator.cast();
        calculator_typed::run_client(&calculator, |l| passed.push(l.to_string())).await
    });
}

#[test]
fn our_dynamic_calculator_client_against_pycapnp_server() {
    against_pycapnp_server(async |calculator, passed| {
        let ifaces = calculator::Interfaces::load()?;
        calculator::run_client(&ifaces, calculator, |l| passed.push(l.to_string())).await
    });
}
