//! A client handle that any thread can use: the connection lives on a thread of its own, and
//! calls cross to it over a channel.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::cap::{encode, read_segments_with};
use super::glue::{segments_of, CapTable, Message};
use super::interface::{InterfaceSchema, MethodSchema};
use super::net;
use super::server::in_call;
use crate::{Error, Result, Value};

/// A `Send + Sync` client of the bootstrap capability of one connection, for code that runs
/// on a multi-threaded runtime (`capnp-rpc`'s own clients are `!Send`).
///
/// The connection runs on a thread of its own, with its own single-threaded runtime; each
/// call hands its serialized parameters to that thread and gets the serialized results back,
/// two channel hand-offs that cost a few microseconds next to the round trip. Clones share
/// the connection, which closes when the last clone is dropped.
///
/// Capabilities cannot cross threads: parameters that hold one are an error, and so is
/// reading one out of results.
///
/// ```no_run
/// # async fn demo(calculator: serde_capnp::rpc::InterfaceSchema) -> serde_capnp::Result<()> {
/// let client = serde_capnp::rpc::SharedClient::connect("127.0.0.1:7000", &calculator).await?;
/// let handles: Vec<_> = (0..4)
///     .map(|i| {
///         let client = client.clone();
///         tokio::spawn(async move {
///             client.call("getOperator", &serde_json::json!({"op": "add"})).await.map(|_| i)
///         })
///     })
///     .collect();
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SharedClient {
    inner: Arc<Inner>,
}

struct Inner {
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
    interface: InterfaceSchema,
}

struct Job {
    method: MethodSchema,
    frame: Vec<u8>,
    reply: tokio::sync::oneshot::Sender<Result<Vec<u8>>>,
}

/// The results of a call made through a [`SharedClient`].
pub struct SharedResponse {
    method: MethodSchema,
    frame: Vec<u8>,
}

impl SharedClient {
    /// Connects over TCP on a new thread, and returns once the connection is up.
    pub async fn connect(address: &str, interface: &InterfaceSchema) -> Result<SharedClient> {
        let (jobs, mut queue) = tokio::sync::mpsc::unbounded_channel::<Job>();
        let (ready, up) = tokio::sync::oneshot::channel::<Result<()>>();
        let address = address.to_string();
        std::thread::Builder::new()
            .name("serde_capnp-rpc".into())
            .spawn(move || {
                let mut ready = Some(ready);
                let result = net::run(async {
                    let connection = match net::connect(&address).await {
                        Ok(c) => c,
                        Err(e) => {
                            let _ = ready.take().map(|r| r.send(Err(e)));
                            return Ok(());
                        }
                    };
                    let _ = ready.take().map(|r| r.send(Ok(())));
                    let peer: super::Capability = connection.bootstrap();
                    while let Some(job) = queue.recv().await {
                        let message = Message::from_frame(job.frame, CapTable::new());
                        let call =
                            peer.hook
                                .call(job.method.interface_id, job.method.ordinal, message);
                        tokio::task::spawn_local(async move {
                            let result = call.await.map(Message::shared_into_frame);
                            let _ = job.reply.send(result);
                        });
                    }
                    connection.disconnect().await
                });
                if let (Some(r), Err(e)) = (ready, result) {
                    let _ = r.send(Err(e));
                }
            })?;
        up.await
            .map_err(|_| Error::disconnected("the connection thread ended"))??;
        Ok(SharedClient {
            inner: Arc::new(Inner {
                jobs,
                interface: interface.clone(),
            }),
        })
    }

    /// Calls the method named `method` with `params`, as
    /// [`DynamicClient::call`](super::DynamicClient::call) does.
    pub async fn call<P: ?Sized + Serialize>(
        &self,
        method: &str,
        params: &P,
    ) -> Result<SharedResponse> {
        let method = self.inner.interface.method(method)?.clone();
        let frame = encode_without_caps(&method, params)?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Job {
            method: method.clone(),
            frame,
            reply,
        };
        self.inner
            .jobs
            .send(job)
            .map_err(|_| Error::disconnected("the connection is closed"))?;
        let frame = answer
            .await
            .map_err(|_| Error::disconnected("the connection is closed"))??;
        Ok(SharedResponse { method, frame })
    }

    /// The interface called through.
    pub fn interface(&self) -> &InterfaceSchema {
        &self.inner.interface
    }
}

/// The parameters' frame: this step is synchronous, so no capability table is held across
/// an `await` (it would make the call's future `!Send`).
fn encode_without_caps<P: ?Sized + Serialize>(
    method: &MethodSchema,
    params: &P,
) -> Result<Vec<u8>> {
    let message = encode(&method.params, params).map_err(|e| in_call(e, method, "parameters"))?;
    if !message.caps.is_empty() {
        return Err(Error::data(format!(
            "parameters of `{method:?}`: a `SharedClient` cannot send capabilities, which \
             live on one thread"
        )));
    }
    Ok(message.into_frame())
}

/// Reads `frame`, whose capabilities stayed on the connection's thread.
fn read_frame<'a, R>(frame: &'a [u8], f: impl FnOnce(&[&'a [u8]]) -> Result<R>) -> Result<R> {
    let segments = segments_of(frame)?;
    read_segments_with(segments.as_slice(), &CapTable::new(), f)
}

impl SharedResponse {
    /// The results as a Rust value.
    pub fn get<'a, T: Deserialize<'a>>(&'a self) -> Result<T> {
        let schema = &self.method.results;
        read_frame(&self.frame, |segments| schema.from_segments(segments))
            .map_err(|e| in_call(e, &self.method, "results"))
    }

    /// The results as a [`Value`].
    pub fn value(&self) -> Result<Value> {
        read_frame(&self.frame, |segments| {
            self.method.results.read_value_segments(segments)
        })
        .map_err(|e| in_call(e, &self.method, "results"))
    }
}
