//! Everything that touches `capnp`'s capability types and `capnp-rpc`: copying messages and
//! their capability tables in and out of RPC messages, the server hook, calls and pipelines,
//! and the two-party RPC system. The rest of the RPC layer sees only the types defined here.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use capnp::any_pointer;
use capnp::capability::DynClientHook;
use capnp::capability::{self, FromClientHook, Promise};
use capnp::message::{self, ReaderOptions};
use capnp::traits::{Imbue, ImbueMut};
use capnp_rpc::{rpc_twoparty_capnp, twoparty, RpcSystem};
use futures::{AsyncRead, AsyncWrite, FutureExt};

use crate::wire::Segs;
use crate::{Category, Error, Result};

/// A future of this crate's result, on the connection's thread.
pub(crate) type LocalFuture<T> = Pin<Box<dyn Future<Output = Result<T>>>>;

/// A reference to a capability: local or remote, resolved or a promise.
pub(crate) struct Hook(Box<DynClientHook>);

/// The capability table of a message: the capability pointer with index `i` stands for entry
/// `i` (`None` for a null capability).
pub(crate) type CapTable = Vec<Option<Box<DynClientHook>>>;

/// A message as this crate reads and writes it, with the capabilities its capability
/// pointers index.
pub(crate) struct Message {
    body: Body,
    pub(crate) caps: CapTable,
}

enum Body {
    /// Framed (segment table first), as this crate's serializer writes it.
    Frame(Vec<u8>),
    /// Copied out of an RPC message: read in place, with no second copy to frame it.
    Built(message::Builder<message::HeapAllocator>),
}

impl Message {
    pub(crate) fn from_frame(frame: Vec<u8>, caps: CapTable) -> Message {
        Message {
            body: Body::Frame(frame),
            caps,
        }
    }

    /// The message's segments.
    pub(crate) fn segments(&self) -> Result<Segs<'_>> {
        match &self.body {
            Body::Frame(frame) => segments_of(frame),
            Body::Built(builder) => Ok(Segs::from(&builder.get_segments_for_output()[..])),
        }
    }

    /// The message framed, without its capabilities.
    pub(crate) fn into_frame(self) -> Vec<u8> {
        match self.body {
            Body::Frame(frame) => frame,
            Body::Built(builder) => {
                let segments = builder.get_segments_for_output();
                let table_words = (segments.len() + 2) / 2;
                let body: usize = segments.iter().map(|s| s.len()).sum();
                let mut frame = Vec::with_capacity(table_words * 8 + body);
                frame.extend_from_slice(&(segments.len() as u32 - 1).to_le_bytes());
                for s in segments.iter() {
                    frame.extend_from_slice(&((s.len() / 8) as u32).to_le_bytes());
                }
                frame.resize(table_words * 8, 0);
                for s in segments.iter() {
                    frame.extend_from_slice(s);
                }
                frame
            }
        }
    }

    fn words(&self) -> usize {
        match &self.body {
            Body::Frame(frame) => frame.len() / 8,
            Body::Built(builder) => builder.size_in_words(),
        }
    }
}

impl Clone for Hook {
    fn clone(&self) -> Self {
        Hook(self.0.add_ref())
    }
}

impl Hook {
    /// A capability that fails every call with `error`.
    pub(crate) fn broken(error: Error) -> Hook {
        Hook(capnp_rpc::new_broken_cap(to_exception(error)).hook)
    }

    /// The entry of a capability table for this capability.
    pub(crate) fn to_entry(&self) -> Option<Box<DynClientHook>> {
        Some(self.0.add_ref())
    }

    /// The capability at `index` of a table, or `None` when the table has no such entry.
    pub(crate) fn from_table(caps: &CapTable, index: u32) -> Option<Option<Hook>> {
        caps.get(index as usize)
            .map(|entry| entry.as_ref().map(|h| Hook(h.add_ref())))
    }

    /// An identity for `Debug` output and for comparing references to one object.
    pub(crate) fn brand(&self) -> usize {
        self.0.get_ptr()
    }

    /// Resolves once the capability, if it is a promise, has resolved (or failed).
    pub(crate) fn when_resolved(&self) -> impl Future<Output = Result<()>> {
        self.0.when_resolved().map(|r| r.map_err(from_exception))
    }

    /// Starts a call of method `ordinal` of interface `interface_id` with `params`.
    pub(crate) fn call(&self, interface_id: u64, ordinal: u16, params: &Message) -> RawCall {
        let client = capability::Client::new(self.0.add_ref());
        let mut request = client.new_call::<any_pointer::Owned, any_pointer::Owned>(
            interface_id,
            ordinal,
            Some(size_of(params)),
        );
        if let Err(e) = put(request.get(), params) {
            return RawCall::failed(e);
        }
        let capability::RemotePromise { promise, pipeline } = request.send();
        RawCall {
            promise: Some(promise),
            pipeline: Some(pipeline),
            error: None,
        }
    }

    /// Starts a call of a `-> stream` method: it resolves when flow control lets the caller
    /// send the next one.
    pub(crate) fn stream_call(
        &self,
        interface_id: u64,
        ordinal: u16,
        params: &Message,
    ) -> LocalFuture<()> {
        let client = capability::Client::new(self.0.add_ref());
        let mut request =
            client.new_streaming_call::<any_pointer::Owned>(interface_id, ordinal, None);
        if let Err(e) = put(request.get(), params) {
            return Box::pin(std::future::ready(Err(e)));
        }
        Box::pin(request.send().map(|r| r.map_err(from_exception)))
    }
}

fn size_of(message: &Message) -> capnp::MessageSize {
    capnp::MessageSize {
        word_count: message.words() as u64,
        cap_count: message.caps.len() as u32,
    }
}

/// A call in flight: its result, and the pipeline on its result struct.
pub(crate) struct RawCall {
    promise: Option<Promise<capability::Response<any_pointer::Owned>, capnp::Error>>,
    pipeline: Option<any_pointer::Pipeline>,
    error: Option<Error>,
}

impl RawCall {
    fn failed(error: Error) -> RawCall {
        RawCall {
            promise: None,
            pipeline: None,
            error: Some(error),
        }
    }

    /// The capability that the pointer field at `slots` (a path of pointer indices from the
    /// result struct) will hold, usable before the call returns.
    pub(crate) fn pipelined(&self, slots: &[u16]) -> Hook {
        match &self.pipeline {
            Some(p) => {
                let mut p = p.noop();
                for &slot in slots {
                    p = p.get_pointer_field(slot);
                }
                Hook(p.as_cap())
            }
            None => Hook::broken(match &self.error {
                Some(e) => Error::failed(format!("the call failed before it was sent: {e}")),
                None => Error::failed("the call was already awaited"),
            }),
        }
    }

    /// Waits for the result and copies it out of the RPC message.
    pub(crate) fn finish(mut self) -> impl Future<Output = Result<Message>> {
        let promise = self.promise.take();
        let error = self.error.take();
        async move {
            if let Some(e) = error {
                return Err(e);
            }
            let response = promise
                .expect("a call that was sent has a promise")
                .await
                .map_err(from_exception)?;
            let root = response.get().map_err(from_exception)?;
            take(root)
        }
    }
}

/// What a server does with one call: `dispatch` copies nothing and must return quickly; the
/// future does the work.
pub(crate) trait Dispatch: 'static {
    /// Whether calls of `(interface_id, ordinal)` are `-> stream` calls, or `None` when the
    /// server has no such method.
    fn is_streaming(&self, interface_id: u64, ordinal: u16) -> Option<bool>;

    /// Serves one call.
    fn dispatch(&self, interface_id: u64, ordinal: u16, params: Message) -> LocalFuture<Message>;

    /// The error for a call of a method the server lacks.
    fn unimplemented(&self, interface_id: u64, ordinal: u16) -> Error;
}

/// A capability served in this process by `server`.
pub(crate) fn local_capability(server: Rc<dyn Dispatch>) -> Hook {
    let client: capability::Client = capnp_rpc::new_client_from_rc(Rc::new(ServerRef(server)));
    Hook(client.hook)
}

/// What `capnp-rpc` holds of a server: `dispatch_call` takes the server by value.
struct ServerRef(Rc<dyn Dispatch>);

impl capability::FromServer<ServerRef> for capability::Client {
    type Dispatch = ServerRefRc;
    fn from_server(s: Rc<ServerRef>) -> ServerRefRc {
        ServerRefRc(s)
    }
}

#[derive(Clone)]
struct ServerRefRc(Rc<ServerRef>);

impl std::ops::Deref for ServerRefRc {
    type Target = ServerRef;
    fn deref(&self) -> &ServerRef {
        &self.0
    }
}

impl capability::Server for ServerRefRc {
    fn dispatch_call(
        self,
        interface_id: u64,
        method_id: u16,
        params: capability::Params<any_pointer::Owned>,
        mut results: capability::Results<any_pointer::Owned>,
    ) -> capability::DispatchCallResult {
        let server = &(self.0).0;
        let Some(streaming) = server.is_streaming(interface_id, method_id) else {
            let e = server.unimplemented(interface_id, method_id);
            return capability::DispatchCallResult::new(Promise::err(to_exception(e)), false);
        };
        let message = match params.get().map_err(from_exception).and_then(take) {
            Ok(m) => m,
            Err(e) => {
                let e = Error::failed(format!("cannot read the call's parameters: {e}"));
                return capability::DispatchCallResult::new(
                    Promise::err(to_exception(e)),
                    streaming,
                );
            }
        };
        drop(params);
        let reply = server.dispatch(interface_id, method_id, message);
        let promise = Promise::from_future(async move {
            let message = reply.await.map_err(to_exception)?;
            put(results.get(), &message).map_err(to_exception)
        });
        capability::DispatchCallResult::new(promise, streaming)
    }

    fn as_ptr(&self) -> usize {
        Rc::as_ptr(&self.0) as *const () as usize
    }
}

/// Copies the struct at `src` (with the capabilities it points at) into a message of this
/// crate's own: one segment sized for it.
fn take(src: any_pointer::Reader<'_>) -> Result<Message> {
    let size = src.target_size().map_err(from_exception)?;
    let words = size.word_count.saturating_add(1);
    let words = u32::try_from(words).map_err(|_| Error::limit("the message exceeds 4 GiB"))?;
    let mut builder =
        message::Builder::new(message::HeapAllocator::new().first_segment_words(words.max(8)));
    let mut caps = CapTable::new();
    {
        let mut root: any_pointer::Builder<'_> = builder.init_root();
        root.imbue_mut(&mut caps);
        root.set_as(src).map_err(from_exception)?;
    }
    Ok(Message {
        body: Body::Built(builder),
        caps,
    })
}

/// The segments of a framed message this crate wrote.
pub(crate) fn segments_of(frame: &[u8]) -> Result<Segs<'_>> {
    let bad = || Error::wire("malformed segment table in an outgoing message");
    let word = |i: usize| -> Result<usize> {
        let b = frame.get(i * 4..i * 4 + 4).ok_or_else(bad)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let count = word(0)? + 1;
    let mut at = (count + 2) / 2 * 8;
    if count == 1 {
        let len = word(1)?.checked_mul(8).ok_or_else(bad)?;
        return Ok(Segs::One(frame.get(at..at + len).ok_or_else(bad)?));
    }
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let len = word(i + 1)?.checked_mul(8).ok_or_else(bad)?;
        out.push(frame.get(at..at + len).ok_or_else(bad)?);
        at += len;
    }
    Ok(Segs::Many(out))
}

/// Copies `message` into `dst`, an RPC message's params or results.
fn put(mut dst: any_pointer::Builder<'_>, message: &Message) -> Result<()> {
    let segments = message.segments()?;
    let aligned: Vec<Vec<capnp::Word>>;
    let mut slices: &[&[u8]] = segments.as_slice();
    let copies: Vec<&[u8]>;
    if !slices
        .iter()
        .all(|s| (s.as_ptr() as usize).is_multiple_of(8))
    {
        aligned = slices
            .iter()
            .map(|s| {
                let mut w = capnp::Word::allocate_zeroed_vec(s.len().div_ceil(8));
                capnp::Word::words_to_bytes_mut(&mut w)[..s.len()].copy_from_slice(s);
                w
            })
            .collect();
        copies = aligned
            .iter()
            .map(|w| capnp::Word::words_to_bytes(w))
            .collect();
        slices = &copies;
    }
    let mut options = ReaderOptions::new();
    // The message is this crate's own, already within its limits.
    options.traversal_limit_in_words(None);
    let reader = message::Reader::new(message::SegmentArray::new(slices), options);
    let mut root: any_pointer::Reader<'_> = reader.get_root().map_err(from_exception)?;
    root.imbue(&message.caps);
    dst.set_as(root).map_err(from_exception)
}

/// The exception a peer receives for `e`.
pub(crate) fn to_exception(e: Error) -> capnp::Error {
    let message = e.to_string();
    match e.category() {
        Category::Overloaded => capnp::Error::overloaded(message),
        Category::Disconnected => capnp::Error::disconnected(message),
        Category::Unimplemented => capnp::Error::unimplemented(message),
        _ => capnp::Error::failed(message),
    }
}

/// The error for an exception from `capnp` or a peer.
pub(crate) fn from_exception(e: capnp::Error) -> Error {
    use capnp::ErrorKind as K;
    let message = e.extra.clone();
    match e.kind {
        K::Failed => Error::failed(message),
        K::Overloaded => Error::overloaded(message),
        K::Disconnected => Error::disconnected(message),
        K::Unimplemented => Error::unimplemented(message),
        _ => Error::from(e),
    }
}

/// One side of a two-party connection: the future that drives it, the peer's bootstrap
/// capability, and a handle that closes it.
pub(crate) struct TwoParty {
    pub(crate) system: LocalFuture<()>,
    pub(crate) peer: Hook,
    pub(crate) disconnect: LocalFuture<()>,
}

/// Limits on what a peer's messages may cost to read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WireLimits {
    pub(crate) traversal_limit_in_words: u64,
    pub(crate) nesting_limit: u32,
}

/// Sets up the RPC system of one two-party connection over `read`/`write`, offering
/// `bootstrap` to the peer.
pub(crate) fn two_party<R, W>(
    read: R,
    write: W,
    is_server: bool,
    bootstrap: Option<Hook>,
    limits: WireLimits,
    mut on_error: impl FnMut(Error) + 'static,
) -> TwoParty
where
    R: AsyncRead + Unpin + 'static,
    W: AsyncWrite + Unpin + 'static,
{
    let mut options = ReaderOptions::new();
    options.traversal_limit_in_words(usize::try_from(limits.traversal_limit_in_words).ok());
    options.nesting_limit(i32::try_from(limits.nesting_limit).unwrap_or(i32::MAX));
    let side = if is_server {
        rpc_twoparty_capnp::Side::Server
    } else {
        rpc_twoparty_capnp::Side::Client
    };
    let network = twoparty::VatNetwork::new(read, write, side, options);
    let mut system = RpcSystem::new(
        Box::new(network),
        bootstrap.map(|h| capability::Client::new(h.0)),
    );
    system.set_background_error_handler(move |e| on_error(from_exception(e)));
    let peer_side = if is_server {
        rpc_twoparty_capnp::Side::Client
    } else {
        rpc_twoparty_capnp::Side::Server
    };
    let peer: capability::Client = system.bootstrap(peer_side);
    let disconnector = system.get_disconnector();
    TwoParty {
        system: Box::pin(system.map(|r| r.map_err(from_exception))),
        peer: Hook(peer.into_client_hook()),
        disconnect: Box::pin(disconnector.map(|r| r.map_err(from_exception))),
    }
}
