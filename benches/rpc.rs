//! Cap'n Proto RPC: serde_capnp's dynamic server and client against capnp-rpc with
//! capnpc-generated code, on the `Bench` interface of `schemas/rpc_bench.capnp`.
//!
//! Two transports: loopback TCP (`TCP_NODELAY`, each server on a thread with its own runtime, the
//! clients on this thread's `LocalSet`) and in-process (a local capability on the clients'
//! `LocalSet`, no socket). For each: one small call at a time (criterion's estimate, and the
//! p50 and p99 of single calls measured one by one), a 1 KiB and a 64 KiB `Data` echo, 1, 16
//! and 100 calls in flight, and a chain of 3 dependent calls, pipelined and awaited one by one.
//!
//! ```sh
//! cargo bench --features capnpc-baseline --bench rpc -- \
//!     --warm-up-time 1 --measurement-time 3 --sample-size 10 --noplot
//! ```
//!
//! `RPC_BENCH_TIMED_CALLS=N` changes the number of single calls timed for the percentiles (0
//! skips them and the paired batches, which keeps a run under callgrind short).

#[path = "paired/mod.rs"]
mod paired;

use std::cell::RefCell;
use std::future::Future;
use std::hint::black_box;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use capnpc_baseline::rpc_bench_capnp::bench;
use criterion::{BenchmarkId, Criterion, Throughput};
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use serde_capnp::rpc::{self, Capability, DynamicClient, InterfaceSchema, Server};
use serde_capnp::Schema;

/// Calls timed one by one for the latency percentiles, after as many again to warm up.
const TIMED_CALLS: usize = 20_000;

fn timed_calls() -> usize {
    std::env::var("RPC_BENCH_TIMED_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(TIMED_CALLS)
}

/// The clients' runtime and `LocalSet`, kept for the whole run so that connections live
/// between measurements.
struct Env {
    runtime: tokio::runtime::Runtime,
    local: tokio::task::LocalSet,
}

impl Env {
    fn new() -> Env {
        Env {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime"),
            local: tokio::task::LocalSet::new(),
        }
    }

    fn run<F: Future>(&self, future: F) -> F::Output {
        self.local.block_on(&self.runtime, future)
    }
}

/// What one iteration does.
enum Op {
    Ping,
    Echo(Vec<u8>),
    InFlight(u64),
    Chain { pipelined: bool },
}

/// One client of the `Bench` interface: ours or the generated one.
trait Side {
    async fn ping(&self, n: u64) -> u64;
    async fn echo(&self, data: &[u8]) -> usize;
    async fn chain(&self, pipelined: bool) -> u64;

    async fn run(&self, op: &Op) -> u64 {
        match op {
            Op::Ping => self.ping(1).await,
            Op::Echo(data) => self.echo(data).await as u64,
            Op::InFlight(k) => join_all((0..*k).map(|i| self.ping(i)))
                .await
                .into_iter()
                .sum(),
            Op::Chain { pipelined } => self.chain(*pipelined).await,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct N {
    n: u64,
}

#[derive(Serialize, Deserialize)]
struct Echo<'a> {
    #[serde(borrow, with = "serde_bytes")]
    data: &'a [u8],
}

#[derive(Serialize, Deserialize)]
struct Next {
    next: Capability,
}

/// The `Bench` interface of `schemas/rpc_bench.capnp`.
fn bench_interface() -> InterfaceSchema {
    let bytes = include_bytes!("../schemas/compiled/rpc_bench.bin");
    Schema::from_code_generator_request(bytes)
        .and_then(|s| s.interface("Bench"))
        .expect("schemas/compiled/rpc_bench.bin holds `Bench`")
}

/// Our `Bench` object made with `base`, as `BenchImpl` serves it for the generated side.
fn our_server(iface: &InterfaceSchema, base: u64) -> serde_capnp::Result<Capability> {
    let for_next = iface.clone();
    Ok(Server::new(iface)
        .method("ping", move |call| async move {
            let N { n } = call.params()?;
            call.reply(&N {
                n: base.wrapping_add(n),
            })
        })?
        .method("echo", |call| async move {
            let echo: Echo<'_> = call.params()?;
            call.reply(&echo)
        })?
        .method("next", move |call| {
            let iface = for_next.clone();
            async move {
                let N { n } = call.params()?;
                call.reply(&Next {
                    next: our_server(&iface, base.wrapping_add(n))?,
                })
            }
        })?
        .into_capability())
}

struct Ours {
    client: DynamicClient,
    iface: InterfaceSchema,
}

impl Side for Ours {
    async fn ping(&self, n: u64) -> u64 {
        let response = self.client.call("ping", &N { n }).await.unwrap();
        response.get::<N>().unwrap().n
    }

    async fn echo(&self, data: &[u8]) -> usize {
        let response = self.client.call("echo", &Echo { data }).await.unwrap();
        response.get::<Echo<'_>>().unwrap().data.len()
    }

    async fn chain(&self, pipelined: bool) -> u64 {
        let next = |client: &DynamicClient, n: u64| client.call("next", &N { n });
        let third = if pipelined {
            let first = next(&self.client, 1);
            let second = next(
                &DynamicClient::new(first.pipeline("next"), self.iface.clone()),
                2,
            );
            let third = DynamicClient::new(second.pipeline("next"), self.iface.clone())
                .call("ping", &N { n: 3 })
                .await;
            drop((first, second));
            third
        } else {
            let first = next(&self.client, 1).await.unwrap().get::<Next>().unwrap();
            let first = DynamicClient::new(first.next, self.iface.clone());
            let second = next(&first, 2).await.unwrap().get::<Next>().unwrap();
            DynamicClient::new(second.next, self.iface.clone())
                .call("ping", &N { n: 3 })
                .await
        };
        third.unwrap().get::<N>().unwrap().n
    }
}

struct Generated {
    client: bench::Client,
}

impl Side for Generated {
    async fn ping(&self, n: u64) -> u64 {
        let mut request = self.client.ping_request();
        request.get().set_n(n);
        let response = request.send().promise.await.unwrap();
        response.get().unwrap().get_n()
    }

    async fn echo(&self, data: &[u8]) -> usize {
        let mut request = self.client.echo_request();
        request.get().set_data(data);
        let response = request.send().promise.await.unwrap();
        response.get().unwrap().get_data().unwrap().len()
    }

    async fn chain(&self, pipelined: bool) -> u64 {
        let next = |client: &bench::Client, n: u64| {
            let mut request = client.next_request();
            request.get().set_n(n);
            request.send()
        };
        let ping = |client: &bench::Client| {
            let mut request = client.ping_request();
            request.get().set_n(3);
            request.send()
        };
        let third = if pipelined {
            let first = next(&self.client, 1);
            let second = next(&first.pipeline.get_next(), 2);
            let third = ping(&second.pipeline.get_next()).promise.await;
            drop((first, second));
            third
        } else {
            let first = next(&self.client, 1).promise.await.unwrap();
            let first = first.get().unwrap().get_next().unwrap();
            let second = next(&first, 2).promise.await.unwrap();
            let second = second.get().unwrap().get_next().unwrap();
            ping(&second).promise.await
        };
        third.unwrap().get().unwrap().get_n()
    }
}

/// A listener on a free loopback port, for a server thread.
fn loopback() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap();
    (listener, address)
}

/// Our `Bench` server on a thread of its own, for the rest of the run.
fn spawn_our_server(iface: &InterfaceSchema) -> SocketAddr {
    let (listener, address) = loopback();
    let iface = iface.clone();
    std::thread::spawn(move || {
        rpc::run(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            rpc::serve(listener, our_server(&iface, 0)?).await
        })
    });
    address
}

/// The generated `Bench` server on a thread of its own, for the rest of the run.
fn spawn_generated_server() -> SocketAddr {
    let (listener, address) = loopback();
    std::thread::spawn(move || {
        let env = Env::new();
        env.run(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            capnpc_baseline::net::serve(listener, capnpc_baseline::bench::bootstrap().client).await
        })
    });
    address
}

/// p50 and p99 of single calls, one at a time.
#[derive(Clone, Copy)]
struct Percentiles {
    p50: Duration,
    p99: Duration,
}

/// The percentiles of single calls, one at a time, of each side: the two sides' calls
/// alternate, so that a change in the machine's speed during the run weighs on both alike.
fn percentiles<O: Side, G: Side>(
    env: &Env,
    ours: &O,
    generated: &G,
) -> Option<(Percentiles, Percentiles)> {
    let calls = timed_calls();
    if calls == 0 {
        return None;
    }
    let (mut ours_times, mut generated_times) = env.run(async {
        for _ in 0..calls {
            black_box(ours.ping(1).await);
            black_box(generated.ping(1).await);
        }
        let mut ours_times = Vec::with_capacity(calls);
        let mut generated_times = Vec::with_capacity(calls);
        for _ in 0..calls {
            let start = Instant::now();
            black_box(ours.ping(1).await);
            ours_times.push(start.elapsed());
            let start = Instant::now();
            black_box(generated.ping(1).await);
            generated_times.push(start.elapsed());
        }
        (ours_times, generated_times)
    });
    let summary = |times: &mut Vec<Duration>| {
        times.sort_unstable();
        Percentiles {
            p50: times[times.len() / 2],
            p99: times[times.len() * 99 / 100],
        }
    };
    Some((summary(&mut ours_times), summary(&mut generated_times)))
}

/// Checks that `side` answers correctly before it is timed.
fn check<S: Side>(env: &Env, side: &S, what: &str) {
    env.run(async {
        assert_eq!(side.ping(1).await, 1, "{what}: ping");
        assert_eq!(side.echo(&[7; 1024]).await, 1024, "{what}: echo");
        assert_eq!(
            side.run(&Op::InFlight(16)).await,
            120,
            "{what}: 16 in flight"
        );
        assert_eq!(side.chain(true).await, 6, "{what}: pipelined chain");
        assert_eq!(side.chain(false).await, 6, "{what}: awaited chain");
    });
}

/// The operations measured, with their criterion names and throughputs.
fn ops() -> Vec<(String, Op, Option<Throughput>)> {
    let mut ops = vec![("ping".to_string(), Op::Ping, None)];
    for (name, len) in [("echo 1 KiB", 1024), ("echo 64 KiB", 64 * 1024)] {
        ops.push((
            name.into(),
            Op::Echo(vec![0xa5; len]),
            Some(Throughput::Bytes(len as u64)),
        ));
    }
    for k in [1, 16, 100] {
        ops.push((
            format!("{k} in flight"),
            Op::InFlight(k),
            Some(Throughput::Elements(k)),
        ));
    }
    ops.push((
        "chain of 3, pipelined".into(),
        Op::Chain { pipelined: true },
        None,
    ));
    ops.push((
        "chain of 3, awaited".into(),
        Op::Chain { pipelined: false },
        None,
    ));
    ops
}

/// Times `side` doing `op`, as the benchmark `library` of `group`.
fn measure<S: Side>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    env: &Env,
    library: &str,
    side: &S,
    op: &Op,
) {
    group.bench_function(BenchmarkId::from_parameter(library), |b| {
        b.iter_custom(|iters| {
            env.run(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(side.run(op).await);
                }
                start.elapsed()
            })
        })
    });
}

/// Rounds of [`paired_op`] per operation.
const PAIRED_ROUNDS: usize = 41;

/// How long a batch of an operation lasts in [`paired_op`] (capnp-rpc's side).
const PAIRED_BATCH: Duration = Duration::from_millis(15);

/// Our time ÷ the generated code's for `op`, from [`PAIRED_ROUNDS`] rounds of a batch of
/// each (see [`paired::paired`]).
fn paired_op<O: Side, G: Side>(env: &Env, ours: &O, generated: &G, op: &Op) -> [f64; 3] {
    paired::paired(
        &mut |n| timed(env, ours, op, n),
        &mut |n| timed(env, generated, op, n),
        PAIRED_ROUNDS,
        PAIRED_BATCH,
    )
}

/// How long `side` takes to do `op` `n` times, one after the other.
fn timed<S: Side>(env: &Env, side: &S, op: &Op, n: usize) -> Duration {
    env.run(async {
        let start = Instant::now();
        for _ in 0..n {
            black_box(side.run(op).await);
        }
        start.elapsed()
    })
}

/// Per transport: the percentiles of our calls and of the generated ones.
type Latencies = Vec<(String, Percentiles, Percentiles)>;

/// Per transport and operation: [`paired_op`]'s ratios.
type Pairs = Vec<(String, [f64; 3])>;

thread_local! {
    static LATENCIES: RefCell<Latencies> = const { RefCell::new(Vec::new()) };
    static PAIRS: RefCell<Pairs> = const { RefCell::new(Vec::new()) };
}

fn transport<O: Side, G: Side>(c: &mut Criterion, env: &Env, name: &str, ours: O, generated: G) {
    check(env, &ours, &format!("serde_capnp over {name}"));
    check(env, &generated, &format!("capnp-rpc over {name}"));
    if let Some((p_ours, p_generated)) = percentiles(env, &ours, &generated) {
        LATENCIES.with(|l| l.borrow_mut().push((name.to_string(), p_ours, p_generated)));
    }
    // Each operation is timed on both sides back to back, so that the two figures a ratio
    // compares come from the same minute of the run.
    for (op_name, op, throughput) in ops() {
        let mut group = c.benchmark_group(format!("rpc {name}/{op_name}"));
        if let Some(t) = throughput {
            group.throughput(t);
        }
        measure(&mut group, env, "serde_capnp", &ours, &op);
        measure(&mut group, env, "capnp-rpc", &generated, &op);
        group.finish();
        if timed_calls() != 0 {
            let ratios = paired_op(env, &ours, &generated, &op);
            PAIRS.with(|p| p.borrow_mut().push((format!("{name}/{op_name}"), ratios)));
        }
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let env = Env::new();
    let iface = bench_interface();

    let (our_address, generated_address) = (spawn_our_server(&iface), spawn_generated_server());
    let (ours, generated) = env.run(async {
        let ours = rpc::connect(our_address)
            .await
            .expect("connect to our server");
        let generated = capnpc_baseline::net::connect(generated_address)
            .await
            .expect("connect to the generated server");
        (ours, generated)
    });
    transport(
        &mut c,
        &env,
        "tcp",
        Ours {
            client: ours.bootstrap_dynamic(&iface),
            iface: iface.clone(),
        },
        Generated {
            client: generated.bootstrap(),
        },
    );

    transport(
        &mut c,
        &env,
        "in-process",
        Ours {
            client: DynamicClient::new(our_server(&iface, 0).unwrap(), iface.clone()),
            iface: iface.clone(),
        },
        Generated {
            client: capnpc_baseline::bench::bootstrap(),
        },
    );

    c.final_summary();
    let calls = timed_calls();
    println!("\nsingle calls timed one by one ({calls} after {calls} to warm up):");
    println!("transport | serde_capnp p50 | p99 | capnp-rpc p50 | p99 | p50 ratio | p99 ratio");
    LATENCIES.with(|l| {
        for (name, ours, generated) in l.borrow().iter() {
            println!(
                "{name} | {:.2} µs | {:.2} µs | {:.2} µs | {:.2} µs | {:.2}× | {:.2}×",
                ours.p50.as_secs_f64() * 1e6,
                ours.p99.as_secs_f64() * 1e6,
                generated.p50.as_secs_f64() * 1e6,
                generated.p99.as_secs_f64() * 1e6,
                ours.p50.as_secs_f64() / generated.p50.as_secs_f64(),
                ours.p99.as_secs_f64() / generated.p99.as_secs_f64(),
            );
        }
    });
    println!(
        "\nour time ÷ generated, in paired batches ({PAIRED_ROUNDS} rounds of about {} ms a side):",
        PAIRED_BATCH.as_millis()
    );
    println!("operation | median | quartiles | throughput ratio (median)");
    PAIRS.with(|p| {
        for (name, [median, low, high]) in p.borrow().iter() {
            println!(
                "{name} | {median:.2}× | {low:.2}–{high:.2} | {:.2}",
                1.0 / median
            );
        }
    });
}
