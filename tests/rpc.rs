//! The RPC layer: capabilities in messages, pipelining, streams, exceptions and the faults a
//! server must survive, over loopback TCP, a Unix socket, and raw frames.

use std::cell::Cell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_capnp::rpc::{self, Capability, DynamicClient, InterfaceSchema, Server};
use serde_capnp::{Category, Error, ReadOptions, Result, Schema};

const SCHEMA: &str = r#"
@0xf1e2d3c4b5a69788;
interface Base { ping @0 (n :UInt32) -> (n :UInt32); }
interface Store extends(Base) {
  get @0 (key :Text) -> (value :Text);
  slow @1 (ms :UInt32) -> ();
  boom @2 () -> ();
  holder @3 (caps :List(Base), inner :Inner) -> (count :UInt32, first :Base, inner :Inner);
  write @4 (chunk :Data) -> stream;
  total @5 () -> (bytes :UInt64);
  make @6 (fail :Bool) -> (store :Store);
  missing @7 () -> ();
}
struct Inner { cap @0 :Base; name @1 :Text; }
"#;

/// Every test's whole run is bounded by this.
const LIMIT: Duration = Duration::from_secs(120);

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct N {
    n: u32,
}

#[derive(Serialize, Deserialize)]
struct Key {
    key: String,
}

#[derive(Serialize, Deserialize)]
struct Text {
    value: String,
}

#[derive(Serialize, Deserialize)]
struct Inner {
    cap: Option<Capability>,
    name: String,
}

#[derive(Serialize, Deserialize)]
struct HolderParams {
    caps: Vec<Option<Capability>>,
    inner: Inner,
}

#[derive(Serialize, Deserialize)]
struct HolderResults {
    count: u32,
    first: Option<Capability>,
    inner: Inner,
}

#[derive(Serialize, Deserialize)]
struct Chunk {
    #[serde(with = "serde_bytes")]
    chunk: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Total {
    bytes: u64,
}

#[derive(Serialize, Deserialize)]
struct Ms {
    ms: u32,
}

#[derive(Serialize, Deserialize)]
struct Make {
    fail: bool,
}

#[derive(Clone)]
struct Ifaces {
    base: InterfaceSchema,
    store: InterfaceSchema,
}

fn ifaces() -> Ifaces {
    let schema = Schema::parse("rpc_test.capnp", SCHEMA).unwrap();
    Ifaces {
        base: schema.interface("Base").unwrap(),
        store: schema.interface("Store").unwrap(),
    }
}

/// What the test server saw, for the tests to check.
#[derive(Default)]
struct Seen {
    cancelled: Cell<u32>,
    streamed: Cell<u64>,
}

struct DropFlag(Rc<Seen>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.cancelled.set(self.0.cancelled.get() + 1);
    }
}

fn base_server(ifaces: &Ifaces, add: u32) -> Capability {
    Server::new(&ifaces.base)
        .method("ping", move |call| async move {
            let N { n } = call.params()?;
            call.reply(&N { n: n + add })
        })
        .unwrap()
        .into_capability()
}

fn store_server(ifaces: &Ifaces, seen: Rc<Seen>) -> Capability {
    let (i2, s1, s2, s3) = (ifaces.clone(), seen.clone(), seen.clone(), seen);
    Server::new(&ifaces.store)
        .method("ping", |call| async move {
            let N { n } = call.params()?;
            call.reply(&N { n: n * 2 })
        })
        .unwrap()
        .method("get", |call| async move {
            let Key { key } = call.params()?;
            call.reply(&Text {
                value: key.to_uppercase(),
            })
        })
        .unwrap()
        .method("slow", move |call| {
            let seen = s1.clone();
            async move {
                let flag = DropFlag(seen);
                let Ms { ms } = call.params()?;
                tokio::time::sleep(Duration::from_millis(ms.into())).await;
                std::mem::forget(flag);
                call.reply_empty()
            }
        })
        .unwrap()
        .method("boom", |_call| async move {
            panic!("the handler blew up");
        })
        .unwrap()
        .method("holder", |call| async move {
            let HolderParams { caps, inner } = call.params()?;
            call.reply(&HolderResults {
                count: caps.iter().filter(|c| c.is_some()).count() as u32,
                first: caps.into_iter().next().flatten(),
                inner,
            })
        })
        .unwrap()
        .method("write", move |call| {
            let seen = s2.clone();
            async move {
                let Chunk { chunk } = call.params()?;
                seen.streamed.set(seen.streamed.get() + chunk.len() as u64);
                call.reply_empty()
            }
        })
        .unwrap()
        .method("total", move |call| {
            let seen = s3.clone();
            async move {
                call.reply(&Total {
                    bytes: seen.streamed.get(),
                })
            }
        })
        .unwrap()
        .method("make", move |call| {
            let ifaces = i2.clone();
            async move {
                let Make { fail } = call.params()?;
                if fail {
                    return Err(Error::overloaded("no more stores today"));
                }
                #[derive(Serialize)]
                struct Made {
                    store: Capability,
                }
                call.reply(&Made {
                    store: store_server(&ifaces, Rc::default()),
                })
            }
        })
        .unwrap()
        .into_capability()
}

/// Runs `test` with a connection to a store server on loopback TCP, in one `LocalSet`.
fn with_store<F, Fut>(options: rpc::Options, test: F)
where
    F: FnOnce(Ifaces, DynamicClient, Rc<Seen>, std::net::SocketAddr) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let ifaces = ifaces();
    let seen = Rc::new(Seen::default());
    rpc::run(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let cap = store_server(&ifaces, seen.clone());
        tokio::task::spawn_local(rpc::serve_with(listener, cap, options));
        let connection = rpc::connect(address).await?;
        let client = connection.bootstrap_dynamic(&ifaces.store);
        tokio::time::timeout(LIMIT, test(ifaces.clone(), client, seen.clone(), address))
            .await
            .map_err(|_| Error::failed("the test timed out"))?
    })
    .unwrap();
}

/// Runs `test` twice: over loopback TCP as [`with_store`] does, then with the store as a
/// capability served in this process, called directly (no connection: the path on which
/// calls skip `capnp-rpc`'s copies). Tests that open connections of their own use
/// [`with_store`] alone.
fn with_store_both<F, Fut>(test: F)
where
    F: Fn(Ifaces, DynamicClient, Rc<Seen>, std::net::SocketAddr) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    with_store(opts(), &test);
    let ifaces = ifaces();
    let seen = Rc::new(Seen::default());
    rpc::run(async {
        let client = DynamicClient::new(store_server(&ifaces, seen.clone()), ifaces.store.clone());
        let unused = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        tokio::time::timeout(LIMIT, test(ifaces.clone(), client, seen.clone(), unused))
            .await
            .map_err(|_| Error::failed("the in-process test timed out"))?
    })
    .unwrap();
}

fn opts() -> rpc::Options {
    rpc::Options::default()
}

#[test]
fn calls_and_superclass_methods() {
    with_store_both(|ifaces, store, _, _| async move {
        let value: Text = store.call("get", &Key { key: "abc".into() }).await?.get()?;
        assert_eq!(value.value, "ABC");
        // `ping` is `Base`'s: it travels with `Base`'s interface ID.
        let n: N = store.call("ping", &N { n: 21 }).await?.get()?;
        assert_eq!(n, N { n: 42 });
        // The same capability called through `Base`.
        let base = DynamicClient::new(store.capability().clone(), ifaces.base.clone());
        let n: N = base.call("ping", &N { n: 5 }).await?.get()?;
        assert_eq!(n, N { n: 10 });
        // Results as a `Value`, parameters as a `Value` or any other serde value.
        let v = store.call("ping", &N { n: 1 }).await?.value()?;
        assert_eq!(serde_json::to_value(&v).unwrap()["n"], 2);
        let n: N = store.call("ping", &v).await?.get()?;
        assert_eq!(n.n, 4);
        let json = serde_json::json!({ "n": 8 });
        let n: N = store.call("ping", &json).await?.get()?;
        assert_eq!(n.n, 16);
        let e = store
            .call("ping", &serde_json::json!({ "n": -1 }))
            .await
            .err()
            .unwrap();
        assert_eq!(e.category(), Category::Data);
        assert!(e.message().contains("parameters of `Base.ping`"), "{e}");
        Ok(())
    });
}

/// Messages of every size cross: empty and data-only structs (which skip `capnp`'s copy on
/// their way into and out of `capnp-rpc`'s messages), and texts far larger than the first
/// segment a call or return is given, pipelined calls' messages among them.
#[test]
fn messages_of_every_size_cross() {
    with_store_both(|_, store, _, _| async move {
        store.call("total", &()).await?;
        for len in [0, 1, 7, 8, 1000, 9000, 300_000] {
            let key: String = "abcdefgh".chars().cycle().take(len).collect();
            let value: Text = store.call("get", &Key { key: key.clone() }).await?.get()?;
            assert_eq!(value.value, key.to_uppercase(), "{len} bytes");
        }
        let n: N = store.call("ping", &N { n: u32::MAX / 2 }).await?.get()?;
        assert_eq!(n.n, u32::MAX - 1);
        let made = store.call("make", &Make { fail: false });
        let key: String = "xyz".repeat(5000);
        let made = DynamicClient::new(made.pipeline("store"), store.interface().clone());
        let value: Text = made.call("get", &Key { key: key.clone() }).await?.get()?;
        assert_eq!(value.value, key.to_uppercase());
        Ok(())
    });
}

#[test]
fn unknown_method_and_interface_are_unimplemented() {
    with_store_both(|ifaces, store, _, _| async move {
        let e = store.call("missing", &()).await.err().unwrap();
        assert_eq!(e.category(), Category::Unimplemented, "{e}");
        assert!(
            e.message().contains("`Store.missing` is not implemented"),
            "{e}"
        );
        let e = store.call("nonesuch", &()).await.err().unwrap();
        assert_eq!(e.category(), Category::Unimplemented);
        assert!(e.message().contains("has no method `nonesuch`"), "{e}");
        // A `Base`-only object called as a `Store`.
        let base_only = DynamicClient::new(base_server(&ifaces, 1), ifaces.store.clone());
        let e = base_only
            .call("get", &Key { key: "k".into() })
            .await
            .err()
            .unwrap();
        assert_eq!(e.category(), Category::Unimplemented, "{e}");
        Ok(())
    });
}

#[test]
fn a_panicking_handler_fails_its_call_and_the_server_goes_on() {
    with_store_both(|_, store, _, _| async move {
        let e = store.call("boom", &()).await.err().unwrap();
        assert_eq!(e.category(), Category::Failed);
        assert!(
            e.message()
                .contains("the handler of `Store.boom` panicked: the handler blew up"),
            "{e}"
        );
        let n: N = store.call("ping", &N { n: 1 }).await?.get()?;
        assert_eq!(n.n, 2);
        Ok(())
    });
}

#[test]
fn capabilities_travel_in_lists_and_structs_and_may_be_null() {
    with_store_both(|ifaces, store, _, _| async move {
        let plus1 = base_server(&ifaces, 1);
        let plus100 = base_server(&ifaces, 100);
        let params = HolderParams {
            caps: vec![Some(plus100.clone()), None, Some(plus1.clone())],
            inner: Inner {
                cap: Some(plus1),
                name: "inner".into(),
            },
        };
        let reply = store.call("holder", &params).await?;
        let HolderResults {
            count,
            first,
            inner,
        } = reply.get()?;
        assert_eq!(count, 2);
        assert_eq!(inner.name, "inner");
        // The capabilities came back: calls on them reach the objects served here.
        let first = DynamicClient::new(first.unwrap(), ifaces.base.clone());
        assert_eq!(first.call("ping", &N { n: 1 }).await?.get::<N>()?.n, 101);
        let cap = DynamicClient::new(inner.cap.unwrap(), ifaces.base.clone());
        assert_eq!(cap.call("ping", &N { n: 1 }).await?.get::<N>()?.n, 2);

        // A null first capability reads as `None`, or, when required, as the null capability.
        let params = HolderParams {
            caps: vec![None],
            inner: Inner {
                cap: None,
                name: String::new(),
            },
        };
        let reply = store.call("holder", &params).await?;
        assert!(reply.get::<HolderResults>()?.first.is_none());
        #[derive(Deserialize)]
        struct Required {
            first: Capability,
        }
        let required: Required = reply.get()?;

        // Through serde's `flatten`, which buffers what it writes and reads.
        #[derive(Serialize, Deserialize)]
        struct Caps {
            caps: Vec<Option<Capability>>,
        }
        #[derive(Serialize, Deserialize)]
        struct Flattened {
            #[serde(flatten)]
            caps: Caps,
            inner: Inner,
        }
        let flat = Flattened {
            caps: Caps {
                caps: vec![Some(base_server(&ifaces, 1000))],
            },
            inner: Inner {
                cap: None,
                name: "flat".into(),
            },
        };
        #[derive(Deserialize)]
        struct FirstOnly {
            #[serde(flatten)]
            rest: FirstFlat,
        }
        #[derive(Deserialize)]
        struct FirstFlat {
            first: Option<Capability>,
        }
        let back: FirstOnly = store.call("holder", &flat).await?.get()?;
        let first = DynamicClient::new(back.rest.first.unwrap(), ifaces.base.clone());
        assert_eq!(first.call("ping", &N { n: 1 }).await?.get::<N>()?.n, 1001);
        let null = DynamicClient::new(required.first, ifaces.base.clone());
        let e = null.call("ping", &N { n: 1 }).await.err().unwrap();
        assert!(e.message().contains("null capability"), "{e}");
        Ok(())
    });
}

#[test]
fn capabilities_outside_rpc_messages_are_errors() {
    let ifaces = ifaces();
    let schema = Schema::parse("rpc_test.capnp", SCHEMA).unwrap();
    let inner = schema.struct_type("Inner").unwrap();
    let value = Inner {
        cap: Some(base_server(&ifaces, 1)),
        name: "x".into(),
    };
    let e = inner.to_vec(&value).err().unwrap();
    assert!(
        e.message()
            .contains("only be written into the parameters or results"),
        "{e}"
    );
    let e = serde_json::to_string(&value).err().unwrap();
    assert!(e.to_string().contains("RPC call"), "{e}");
}

#[test]
fn pipelining_on_results_and_on_a_failed_promise() {
    with_store_both(|ifaces, store, _, _| async move {
        // A store made by `make`, called before `make` has answered.
        let made = store.call("make", &Make { fail: false });
        let inner = DynamicClient::new(made.pipeline("store"), ifaces.store.clone());
        let value: Text = inner
            .call("get", &Key { key: "pipe".into() })
            .await?
            .get()?;
        assert_eq!(value.value, "PIPE");
        drop(made);

        // The call goes on for its pipelined capability after its own result is dropped.
        let made = store.call("make", &Make { fail: false });
        let pipelined = made.pipeline("store");
        drop(made);
        let inner = DynamicClient::new(pipelined, ifaces.store.clone());
        let value: Text = inner
            .call("get", &Key { key: "late".into() })
            .await?
            .get()?;
        assert_eq!(value.value, "LATE");

        let failed = store.call("make", &Make { fail: true });
        let inner = DynamicClient::new(failed.pipeline("store"), ifaces.store.clone());
        let e = inner
            .call("get", &Key { key: "x".into() })
            .await
            .err()
            .unwrap();
        assert_eq!(e.category(), Category::Overloaded, "{e}");
        assert!(e.message().contains("no more stores today"), "{e}");
        let e = failed.await.err().unwrap();
        assert_eq!(e.category(), Category::Overloaded);

        // A field that is not a capability.
        let bad = store
            .call("get", &Key { key: "x".into() })
            .pipeline("value");
        let e = DynamicClient::new(bad, ifaces.base.clone())
            .call("ping", &N { n: 1 })
            .await
            .err()
            .unwrap();
        assert!(e.message().contains("cannot pipeline on `value`"), "{e}");
        Ok(())
    });
}

#[test]
fn streams_are_flow_controlled_and_ordered() {
    with_store_both(|_, store, seen, _| async move {
        let chunk = Chunk {
            chunk: vec![7; 4096],
        };
        for _ in 0..256 {
            store.stream("write", &chunk).await?;
        }
        let total: Total = store.call("total", &()).await?.get()?;
        assert_eq!(total.bytes, 256 * 4096);
        assert_eq!(seen.streamed.get(), 256 * 4096);
        let e = store
            .stream("get", &Key { key: "k".into() })
            .await
            .err()
            .unwrap();
        assert!(e.message().contains("not a `-> stream` method"), "{e}");
        Ok(())
    });
}

#[test]
fn a_timeout_cancels_the_call_on_the_server() {
    with_store_both(|_, store, seen, _| async move {
        let slow = store.call("slow", &Ms { ms: 30_000 });
        assert!(tokio::time::timeout(Duration::from_millis(200), slow)
            .await
            .is_err());
        // The dropped call's `Finish` reaches the server, which drops the handler.
        for _ in 0..200 {
            if seen.cancelled.get() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(seen.cancelled.get(), 1);
        let n: N = store.call("ping", &N { n: 3 }).await?.get()?;
        assert_eq!(n.n, 6);
        Ok(())
    });
}

#[test]
fn ten_thousand_calls_in_flight_on_one_connection() {
    with_store_both(|_, store, _, _| async move {
        let calls: Vec<_> = (0..10_000u32)
            .map(|n| store.call("ping", &N { n }))
            .collect();
        let mut sum = 0u64;
        for (n, call) in calls.into_iter().enumerate() {
            let r: N = call.await?.get()?;
            assert_eq!(r.n, 2 * n as u32);
            sum += 1;
        }
        assert_eq!(sum, 10_000);
        Ok(())
    });
}

#[test]
fn a_client_gone_mid_call_leaves_the_server_serving_others() {
    with_store(opts(), |ifaces, store, seen, address| async move {
        let other = rpc::connect(address).await?;
        let other_store = other.bootstrap_dynamic(&ifaces.store);
        let pending = other_store.call("slow", &Ms { ms: 30_000 });
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(pending);
        drop(other_store);
        other.disconnect().await?;
        assert!(other.is_closed() || other.closed().await.is_ok());
        for _ in 0..200 {
            if seen.cancelled.get() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(seen.cancelled.get(), 1);
        let n: N = store.call("ping", &N { n: 4 }).await?.get()?;
        assert_eq!(n.n, 8);
        Ok(())
    });
}

#[test]
fn a_message_over_the_traversal_limit_fails_only_its_connection() {
    let options = rpc::Options::default()
        .read_options(ReadOptions::default().traversal_limit_in_words(2_000));
    with_store(options, |_, store, _, _| async move {
        let big = Chunk {
            chunk: vec![1; 64 * 1024],
        };
        let e = store.call("write", &big).await.err().unwrap();
        assert!(
            matches!(e.category(), Category::Failed | Category::Disconnected),
            "{e:?}"
        );
        Ok(())
    });
}

#[test]
fn a_dropped_server_is_detected() {
    let schema = ifaces();
    let ifaces = schema.clone();
    rpc::run(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let server = tokio::task::spawn_local(async move {
            // Serves exactly one connection, then drops it.
            let (stream, _) = listener.accept().await?;
            let connection = rpc::Connection::over(
                stream,
                Some(base_server(&schema, 1)),
                true,
                rpc::Options::default(),
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
            connection.disconnect().await
        });
        let connection = rpc::connect(address).await?;
        let base = connection.bootstrap_dynamic(&ifaces.base);
        assert_eq!(base.call("ping", &N { n: 1 }).await?.get::<N>()?.n, 2);
        tokio::time::timeout(LIMIT, connection.closed())
            .await
            .unwrap()
            .ok();
        assert!(connection.is_closed());
        let e = base.call("ping", &N { n: 1 }).await.err().unwrap();
        assert_eq!(e.category(), Category::Disconnected, "{e}");
        server.await.unwrap()
    })
    .unwrap();
}

#[cfg(unix)]
#[test]
fn unix_sockets() {
    let ifaces = ifaces();
    let dir = std::env::temp_dir().join(format!("serde_capnp_rpc_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("store.sock");
    let _ = std::fs::remove_file(&path);
    rpc::run(async {
        let listener = tokio::net::UnixListener::bind(&path)?;
        tokio::task::spawn_local(rpc::serve_unix(
            listener,
            store_server(&ifaces, Rc::default()),
        ));
        let connection = rpc::connect_unix(&path).await?;
        let store = connection.bootstrap_dynamic(&ifaces.store);
        let v: Text = store
            .call("get", &Key { key: "unix".into() })
            .await?
            .get()?;
        assert_eq!(v.value, "UNIX");
        Ok(())
    })
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends `bytes` on a raw connection and checks that the server closes that connection (and
/// only that one) within a bounded time.
fn raw_connection_closes(bytes: &[u8]) {
    with_store(opts(), |_, store, _, address| {
        let bytes = bytes.to_vec();
        async move {
            let closed = tokio::task::spawn_blocking(move || {
                let mut raw = std::net::TcpStream::connect(address).unwrap();
                raw.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                raw.write_all(&bytes).unwrap();
                let mut buf = [0u8; 1024];
                // The server answers garbage with at most an `Abort` message, then closes.
                let mut total = 0;
                loop {
                    match raw.read(&mut buf) {
                        Ok(0) => return true,
                        Ok(n) => {
                            total += n;
                            if total > 1 << 20 {
                                return false;
                            }
                        }
                        Err(_) => return false,
                    }
                }
            })
            .await
            .unwrap();
            assert!(closed, "the server kept the bad connection open");
            let n: N = store.call("ping", &N { n: 5 }).await?.get()?;
            assert_eq!(n.n, 10);
            Ok(())
        }
    });
}

#[test]
fn garbage_closes_only_its_connection() {
    // A segment table that claims 2^31 segments, then noise.
    let mut bytes = vec![0xff, 0xff, 0xff, 0x7f];
    bytes.extend((0..256u32).map(|i| (i * 7919 % 251) as u8));
    raw_connection_closes(&bytes);
    // A well-framed message that is not an RPC message: its root is a list.
    raw_connection_closes(&[
        0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0x17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
}

#[test]
fn a_truncated_frame_closes_only_its_connection() {
    // A header announcing 100 words, then 16 bytes and the end of the stream.
    let mut bytes = vec![0, 0, 0, 0, 100, 0, 0, 0];
    bytes.extend([0u8; 16]);
    with_store(opts(), |_, store, _, address| async move {
        let mut raw = tokio::net::TcpStream::connect(address).await?;
        tokio::io::AsyncWriteExt::write_all(&mut raw, &bytes).await?;
        drop(raw);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let n: N = store.call("ping", &N { n: 6 }).await?.get()?;
        assert_eq!(n.n, 12);
        Ok(())
    });
}

#[test]
fn a_shared_client_serves_a_multi_threaded_runtime() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<rpc::SharedClient>();

    let ifaces = ifaces();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let server_ifaces = ifaces.clone();
    std::thread::spawn(move || {
        rpc::run(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            rpc::serve(listener, store_server(&server_ifaces, Rc::default())).await
        })
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = rpc::SharedClient::connect(&address, &ifaces.store)
            .await
            .unwrap();
        let tasks: Vec<_> = (0..8u32)
            .map(|t| {
                let client = client.clone();
                tokio::spawn(async move {
                    for i in 0..100u32 {
                        let n: N = client.call("ping", &N { n: t * 1000 + i }).await?.get()?;
                        assert_eq!(n.n, 2 * (t * 1000 + i));
                    }
                    Ok::<_, Error>(())
                })
            })
            .collect();
        for t in tasks {
            tokio::time::timeout(LIMIT, t)
                .await
                .unwrap()
                .unwrap()
                .unwrap();
        }
        // Capabilities stay on their thread.
        let params = HolderParams {
            caps: vec![],
            inner: Inner {
                cap: None,
                name: "x".into(),
            },
        };
        assert!(client.call("holder", &params).await.is_ok());
        let e = client.call("nonesuch", &()).await.err().unwrap();
        assert_eq!(e.category(), Category::Unimplemented);
    });
    let e = runtime
        .block_on(rpc::SharedClient::connect("127.0.0.1:1", &ifaces.store))
        .err()
        .unwrap();
    assert_eq!(e.category(), Category::Io, "{e}");
}

/// A `Call` whose parameters are a capability pointer with index 5 while the message's
/// capability table is empty: the call fails with an exception naming the bad pointer, and
/// the connection and the server go on.
#[test]
fn a_bad_capability_index_in_a_call_is_an_exception() {
    use capnp::traits::ImbueMut;
    use capnp_rpc::rpc_capnp::{message, return_};

    with_store(opts(), |ifaces, store, _, address| async move {
        let store_id = ifaces.store.id();
        let answers = tokio::task::spawn_blocking(move || {
            let mut raw = std::net::TcpStream::connect(address).unwrap();
            raw.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let mut bootstrap = capnp::message::Builder::new_default();
            bootstrap
                .init_root::<message::Builder>()
                .init_bootstrap()
                .set_question_id(0);
            capnp::serialize::write_message(&mut raw, &bootstrap).unwrap();

            let mut call_message = capnp::message::Builder::new_default();
            let mut caps: Vec<Option<Box<capnp::capability::DynClientHook>>> =
                (0..5).map(|_| None).collect();
            {
                let mut call = call_message.init_root::<message::Builder>().init_call();
                call.set_question_id(1);
                call.set_interface_id(store_id);
                call.set_method_id(0);
                call.reborrow()
                    .init_target()
                    .init_promised_answer()
                    .set_question_id(0);
                let mut content = call.init_params().init_content();
                content.imbue_mut(&mut caps);
                let hook = capnp_rpc::new_broken_cap(capnp::Error::failed("x".into())).hook;
                content.set_as_capability(hook);
            }
            capnp::serialize::write_message(&mut raw, &call_message).unwrap();

            // Read answers until the call's `Return` (bounded in count).
            let mut out = Vec::new();
            for _ in 0..8 {
                let reader =
                    capnp::serialize::read_message(&mut raw, capnp::message::ReaderOptions::new())
                        .unwrap();
                let m = reader.get_root::<message::Reader>().unwrap();
                if let Ok(message::Return(r)) = m.which() {
                    let r = r.unwrap();
                    if r.get_answer_id() == 1 {
                        if let Ok(return_::Exception(e)) = r.which() {
                            let e = e.unwrap();
                            out.push(e.get_reason().unwrap().to_string().unwrap());
                        } else {
                            out.push("a return that is not an exception".into());
                        }
                        break;
                    }
                }
            }
            out
        })
        .await
        .unwrap();
        assert_eq!(answers.len(), 1, "{answers:?}");
        assert!(
            answers[0].contains("cannot read the call's parameters"),
            "{answers:?}"
        );
        let n: N = store.call("ping", &N { n: 7 }).await?.get()?;
        assert_eq!(n.n, 14);
        Ok(())
    });
}

/// Relays `from` to `to`, delivering each chunk `delay` after it was read (a delay line, so
/// chunks in flight do not wait for each other).
async fn delay_line<R, W>(mut from: R, mut to: W, delay: Duration)
where
    R: tokio::io::AsyncRead + Unpin + 'static,
    W: tokio::io::AsyncWrite + Unpin + 'static,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    tokio::task::spawn_local(async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = from.read(&mut buf).await {
            if n == 0
                || tx
                    .send((tokio::time::Instant::now() + delay, buf[..n].to_vec()))
                    .is_err()
            {
                break;
            }
        }
    });
    while let Some((due, chunk)) = rx.recv().await {
        tokio::time::sleep_until(due).await;
        if to.write_all(&chunk).await.is_err() {
            break;
        }
    }
}

/// With 40 ms of latency each way, a chain of three dependent calls costs one round trip
/// when pipelined and three when each result is awaited first.
#[test]
fn a_pipelined_chain_costs_one_round_trip() {
    const ONE_WAY: Duration = Duration::from_millis(40);
    let ifaces = ifaces();
    rpc::run(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        tokio::task::spawn_local(rpc::serve(listener, store_server(&ifaces, Rc::default())));
        // The client talks to the server through a relay that delays both directions.
        let relay = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let relay_address = relay.local_addr()?;
        tokio::task::spawn_local(async move {
            let (client_side, _) = relay.accept().await.unwrap();
            let server_side = tokio::net::TcpStream::connect(address).await.unwrap();
            client_side.set_nodelay(true).unwrap();
            server_side.set_nodelay(true).unwrap();
            let (cr, cw) = client_side.into_split();
            let (sr, sw) = server_side.into_split();
            tokio::task::spawn_local(delay_line(cr, sw, ONE_WAY));
            tokio::task::spawn_local(delay_line(sr, cw, ONE_WAY));
        });
        let connection = rpc::connect(relay_address).await?;
        let store = connection.bootstrap_dynamic(&ifaces.store);
        // Warm up: the bootstrap itself resolves in the first round trip.
        let _: N = store.call("ping", &N { n: 1 }).await?.get()?;

        let start = std::time::Instant::now();
        let first = store.call("make", &Make { fail: false });
        let second = DynamicClient::new(first.pipeline("store"), ifaces.store.clone())
            .call("make", &Make { fail: false });
        let third = DynamicClient::new(second.pipeline("store"), ifaces.store.clone()).call(
            "get",
            &Key {
                key: "chain".into(),
            },
        );
        let value: Text = third.await?.get()?;
        let pipelined = start.elapsed();
        assert_eq!(value.value, "CHAIN");

        let start = std::time::Instant::now();
        #[derive(Deserialize)]
        struct Made {
            store: Capability,
        }
        let first: Made = store.call("make", &Make { fail: false }).await?.get()?;
        let first = DynamicClient::new(first.store, ifaces.store.clone());
        let second: Made = first.call("make", &Make { fail: false }).await?.get()?;
        let second = DynamicClient::new(second.store, ifaces.store.clone());
        let value: Text = second
            .call(
                "get",
                &Key {
                    key: "chain".into(),
                },
            )
            .await?
            .get()?;
        let awaited = start.elapsed();
        assert_eq!(value.value, "CHAIN");

        let round_trip = 2 * ONE_WAY;
        assert!(
            pipelined < round_trip + round_trip / 2,
            "pipelined chain took {pipelined:?}, more than 1.5 round trips of {round_trip:?}"
        );
        assert!(
            awaited >= round_trip * 3 - round_trip / 4,
            "awaited chain took {awaited:?}, expected about 3 round trips of {round_trip:?}"
        );
        Ok(())
    })
    .unwrap();
}
