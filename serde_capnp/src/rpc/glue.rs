//! Everything that touches `capnp`'s capability types and `capnp-rpc`: copying messages and
//! their capability tables in and out of RPC messages, the server hook, calls and pipelines,
//! and the two-party RPC system. The rest of the RPC layer sees only the types defined here,
//! and this is the crate's one user of `capnp::private`.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use capnp::any_pointer;
use capnp::capability::DynClientHook;
use capnp::capability::{self, FromClientHook, Promise};
use capnp::message::{self, ReaderOptions};
use capnp::traits::{Imbue, ImbueMut};
use capnp_rpc::{rpc_twoparty_capnp, twoparty, RpcSystem};
use futures::{AsyncRead, AsyncWrite, FutureExt};

use crate::wire::{Msg, Out, Segs};
use crate::{Category, Error, Result};

/// A future of this crate's result, on the connection's thread.
pub(crate) type LocalFuture<T> = Pin<Box<dyn Future<Output = Result<T>>>>;

/// A reference to a capability: local or remote, resolved or a promise.
pub(crate) struct Hook {
    client: Box<DynClientHook>,
    /// The server, when this is a capability of a server in this process made by
    /// [`local_capability`]. Calls through such a reference go straight to the server with
    /// the caller's message, which the server reads in place and answers with its own, read
    /// in place by the caller: the copy into a `capnp-rpc` message and back out that a call
    /// through `capnp-rpc` costs on each side is skipped. What the call does (order of
    /// delivery, results, errors, cancellation on drop, pipelining) is the same.
    local: Option<Rc<dyn Dispatch>>,
}

/// The capability table of a message: the capability pointer with index `i` stands for entry
/// `i` (`None` for a null capability).
#[derive(Default)]
pub(crate) struct CapTable {
    /// The entries as `capnp-rpc` reads and writes them.
    hooks: Vec<Option<Box<DynClientHook>>>,
    /// For each entry that is a capability served in this process, its server: a capability
    /// that travels in a message that never leaves the process keeps its direct path (see
    /// [`Hook`]). Shorter than `hooks` when the last entries have none.
    local: Vec<Option<Rc<dyn Dispatch>>>,
}

impl CapTable {
    pub(crate) const fn new() -> CapTable {
        CapTable {
            hooks: Vec::new(),
            local: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.hooks.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.hooks.is_empty()
    }

    /// Adds `hook` and returns its index.
    pub(crate) fn push(&mut self, hook: &Hook) -> u32 {
        if let Some(server) = &hook.local {
            self.local.resize(self.hooks.len(), None);
            self.local.push(Some(server.clone()));
        }
        self.hooks.push(Some(hook.client.add_ref()));
        (self.hooks.len() - 1) as u32
    }

    /// The capability at `index`, or `None` when the table has no such entry.
    pub(crate) fn get(&self, index: u32) -> Option<Option<Hook>> {
        let i = index as usize;
        let entry = self.hooks.get(i)?;
        Some(entry.as_ref().map(|h| Hook {
            client: h.add_ref(),
            local: self.local.get(i).cloned().flatten(),
        }))
    }
}

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
    Built(message::Builder<Recycling>),
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
    pub(crate) fn into_frame(mut self) -> Vec<u8> {
        match &mut self.body {
            Body::Frame(frame) => std::mem::take(frame),
            Body::Built(builder) => frame_of(&builder.get_segments_for_output()),
        }
    }

    /// [`into_frame`](Self::into_frame) for a message that may still be shared (a local
    /// call's results that a pipelined capability holds too): copied if it is.
    pub(crate) fn shared_into_frame(message: Rc<Message>) -> Vec<u8> {
        match Rc::try_unwrap(message) {
            Ok(message) => message.into_frame(),
            Err(shared) => match &shared.body {
                Body::Frame(frame) => frame.clone(),
                Body::Built(builder) => frame_of(&builder.get_segments_for_output()),
            },
        }
    }

    fn words(&self) -> usize {
        match &self.body {
            Body::Frame(frame) => frame.len() / 8,
            Body::Built(builder) => builder.size_in_words(),
        }
    }
}

thread_local! {
    /// The allocation of the last message this thread dropped, for the next one it writes:
    /// a peer frees its messages as fast as it makes them, and reusing one saves an
    /// allocation and a free per message.
    static SPARE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// The largest allocation kept for reuse.
const SPARE_MAX: usize = 64 * 1024;

/// An allocation for the next message written on this thread (empty if there is none).
pub(crate) fn spare_buffer() -> Vec<u8> {
    SPARE.with(|s| s.take())
}

impl Drop for Message {
    fn drop(&mut self) {
        if let Body::Frame(frame) = &mut self.body {
            if frame.capacity() <= SPARE_MAX {
                let frame = std::mem::take(frame);
                // A thread being torn down has no spare to keep.
                let _ = SPARE.try_with(|s| {
                    let kept = s.take();
                    s.set(if kept.capacity() >= frame.capacity() {
                        kept
                    } else {
                        frame
                    });
                });
            }
        }
    }
}

impl Clone for Hook {
    fn clone(&self) -> Self {
        Hook {
            client: self.client.add_ref(),
            local: self.local.clone(),
        }
    }
}

impl Hook {
    /// A capability that fails every call with `error`.
    pub(crate) fn broken(error: Error) -> Hook {
        Hook::remote(capnp_rpc::new_broken_cap(to_exception(error)).hook)
    }

    /// A capability reached through `capnp-rpc`.
    fn remote(client: Box<DynClientHook>) -> Hook {
        Hook {
            client,
            local: None,
        }
    }

    /// An identity for `Debug` output and for comparing references to one object.
    pub(crate) fn brand(&self) -> usize {
        self.client.get_ptr()
    }

    /// Resolves once the capability, if it is a promise, has resolved (or failed).
    pub(crate) fn when_resolved(&self) -> impl Future<Output = Result<()>> {
        self.client
            .when_resolved()
            .map(|r| r.map_err(from_exception))
    }

    /// Starts a call of method `ordinal` of interface `interface_id` with `params`.
    pub(crate) fn call(&self, interface_id: u64, ordinal: u16, params: Message) -> RawCall {
        if let Some(server) = &self.local {
            // Dispatched when first polled, as `capnp-rpc` dispatches a local call: the callee
            // has no side effects before the caller holds the promise.
            let server = server.clone();
            let reply: LocalFuture<Rc<Message>> = Box::pin(async move {
                let reply = server.dispatch(interface_id, ordinal, params);
                reply.await.map(Rc::new)
            });
            return RawCall {
                state: Call::Local(SharedReply::new(reply)),
            };
        }
        let client = capability::Client::new(self.client.add_ref());
        let mut request = sized_for(&params, || {
            client.new_call::<any_pointer::Owned, any_pointer::Owned>(
                interface_id,
                ordinal,
                Some(size_of(&params)),
            )
        });
        if let Err(e) = put(request.get(), &params) {
            return RawCall::failed(e);
        }
        let capability::RemotePromise { promise, pipeline } = request.send();
        RawCall {
            state: Call::Remote(promise, pipeline),
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
        let client = capability::Client::new(self.client.add_ref());
        let mut request = sized_for(params, || {
            client.new_streaming_call::<any_pointer::Owned>(interface_id, ordinal, None)
        });
        if let Err(e) = put(request.get(), params) {
            return Box::pin(std::future::ready(Err(e)));
        }
        Box::pin(request.send().map(|r| r.map_err(from_exception)))
    }
}

/// `segments` framed: the segment table, then the segments.
fn frame_of(segments: &[&[u8]]) -> Vec<u8> {
    let table_words = (segments.len() + 2) / 2;
    let body: usize = segments.iter().map(|s| s.len()).sum();
    let mut frame = Vec::with_capacity(table_words * 8 + body);
    frame.extend_from_slice(&(segments.len() as u32 - 1).to_le_bytes());
    for s in segments {
        frame.extend_from_slice(&((s.len() / 8) as u32).to_le_bytes());
    }
    frame.resize(table_words * 8, 0);
    for s in segments {
        frame.extend_from_slice(s);
    }
    frame
}

fn size_of(message: &Message) -> capnp::MessageSize {
    capnp::MessageSize {
        word_count: message.words() as u64,
        cap_count: message.caps.len() as u32,
    }
}

/// A call in flight: its result, and the pipeline on its result struct.
pub(crate) struct RawCall {
    state: Call,
}

enum Call {
    Remote(
        Promise<capability::Response<any_pointer::Owned>, capnp::Error>,
        any_pointer::Pipeline,
    ),
    /// A call of a server in this process (see [`Hook`]), whose reply the caller and the
    /// capabilities pipelined on it share.
    Local(SharedReply),
    Failed(Error),
    /// Awaited to the end.
    Done,
}

/// A local call's reply, for the caller and every pipelined capability. Errors are kept as
/// `capnp-rpc` exceptions, which can be cloned, so that they reach the caller as they would
/// through `capnp-rpc`.
type SharedReply =
    futures::future::Shared<Pin<Box<dyn Future<Output = Result<Rc<Message>, capnp::Error>>>>>;

trait NewShared {
    fn new(reply: LocalFuture<Rc<Message>>) -> Self;
}

impl NewShared for SharedReply {
    fn new(reply: LocalFuture<Rc<Message>>) -> Self {
        let reply: Pin<Box<dyn Future<Output = Result<Rc<Message>, capnp::Error>>>> =
            Box::pin(reply.map(|r| r.map_err(to_exception)));
        reply.shared()
    }
}

impl RawCall {
    fn failed(error: Error) -> RawCall {
        RawCall {
            state: Call::Failed(error),
        }
    }

    /// The capability that the pointer field at `slots` (a path of pointer indices from the
    /// result struct) will hold, usable before the call returns.
    pub(crate) fn pipelined(&self, slots: &[u16]) -> Hook {
        match &self.state {
            Call::Remote(_, pipeline) => {
                let mut p = pipeline.noop();
                for &slot in slots {
                    p = p.get_pointer_field(slot);
                }
                Hook::remote(p.as_cap())
            }
            Call::Local(reply) => {
                let reply = reply.clone();
                let slots = slots.to_vec();
                let client: capability::Client = capnp_rpc::new_future_client(async move {
                    let message = reply.await?;
                    capability_at(&message, &slots)
                        .map(capability::Client::new)
                        .map_err(to_exception)
                });
                Hook::remote(client.hook)
            }
            Call::Failed(e) => Hook::broken(Error::failed(format!(
                "the call failed before it was sent: {e}"
            ))),
            Call::Done => Hook::broken(Error::failed(
                "pipelined on a call whose results were already awaited",
            )),
        }
    }
}

/// Waits for the result and copies it out of the RPC message (a local call's is read where
/// the server wrote it). Polled in place by the caller's future, so that a call boxes no
/// future of its own.
impl Future for RawCall {
    type Output = Result<Rc<Message>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let r = match &mut self.state {
            Call::Remote(promise, _) => match Pin::new(promise).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r.map_err(from_exception).and_then(|response| {
                    let root = response.get().map_err(from_exception)?;
                    take(root).map(Rc::new)
                }),
            },
            Call::Local(reply) => match Pin::new(reply).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r.map_err(from_exception),
            },
            Call::Failed(_) => match std::mem::replace(&mut self.state, Call::Done) {
                Call::Failed(e) => Err(e),
                _ => unreachable!("matched above"),
            },
            Call::Done => Err(Error::failed("the call was already awaited")),
        };
        self.state = Call::Done;
        Poll::Ready(r)
    }
}

/// The capability that the pointer at `slots` (pointer indices, from the root struct down)
/// of `message` holds; a null one is a capability whose calls fail, as `capnp-rpc` makes it.
fn capability_at(message: &Message, slots: &[u16]) -> Result<Box<DynClientHook>> {
    let segments = message.segments()?;
    let msg = Msg::new(segments, crate::ReadOptions::default().limits())?;
    let mut ptr = msg.root()?;
    let bad = || Error::failed("a pipelined capability's path leaves the results");
    let (last, path) = slots.split_last().ok_or_else(bad)?;
    for &slot in path {
        let Some(s) = msg.read_struct(ptr)? else {
            return Err(bad());
        };
        ptr = s.pointer(slot).ok_or_else(bad)?;
    }
    let Some(s) = msg.read_struct(ptr)? else {
        return Err(bad());
    };
    let entry = match s.pointer(*last) {
        Some(p) => match msg.read_capability(p)? {
            Some(i) => message.caps.get(i).ok_or_else(|| {
                Error::failed(format!(
                    "capability index {i} is beyond the message's {} capabilities",
                    message.caps.len()
                ))
            })?,
            None => None,
        },
        None => None,
    };
    Ok(match entry {
        Some(hook) => hook.client,
        None => {
            capnp_rpc::new_broken_cap(capnp::Error::failed("called a null capability".into())).hook
        }
    })
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
    let client: capability::Client =
        capnp_rpc::new_client_from_rc(Rc::new(ServerRef(server.clone())));
    Hook {
        client: client.hook,
        local: Some(server),
    }
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
            sized_for(&message, || put(results.get(), &message)).map_err(to_exception)
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
    match take_data_only(src)? {
        Some(message) => Ok(message),
        None => take_copy(src),
    }
}

/// [`take`] through `capnp`'s deep copy, for any struct.
fn take_copy(src: any_pointer::Reader<'_>) -> Result<Message> {
    let size = src.target_size().map_err(from_exception)?;
    let words = size.word_count.saturating_add(1);
    let words = u32::try_from(words).map_err(|_| Error::limit("the message exceeds 4 GiB"))?;
    let mut builder = message::Builder::new(Recycling { next: words.max(8) });
    let mut caps = CapTable::new();
    {
        let mut root: any_pointer::Builder<'_> = builder.init_root();
        root.imbue_mut(&mut caps.hooks);
        root.set_as(src).map_err(from_exception)?;
    }
    Ok(Message {
        body: Body::Built(builder),
        caps,
    })
}

/// [`take`] for a struct with no pointers, the common case of small parameters and results:
/// its data section written as the root of a message of this crate's own, with none of the
/// traversal and allocation a general copy costs. `None` for a null pointer or a struct with
/// pointers.
fn take_data_only(src: any_pointer::Reader<'_>) -> Result<Option<Message>> {
    if src.is_null() {
        return Ok(None);
    }
    let raw: RawStruct<'_> = src.get_as().map_err(from_exception)?;
    if !capnp::raw::get_struct_pointer_section(raw).is_empty() {
        return Ok(None);
    }
    let data = capnp::raw::get_struct_data_section(raw);
    // A struct's data section is whole words unless it is a list element, which a
    // pointer never points at; be safe if it is not.
    if !data.len().is_multiple_of(8) {
        return Ok(None);
    }
    let words = data.len() / 8;
    let Ok(data_words) = u16::try_from(words) else {
        return Ok(None);
    };
    let mut out = Out::with_buffer(spare_buffer(), 16 + data.len());
    let b = out.init_struct(Out::ROOT, data_words, 0)?;
    out.buf[b.data..b.data + data.len()].copy_from_slice(data);
    Ok(Some(Message::from_frame(out.finish(), CapTable::new())))
}

/// A struct as `capnp` reads it: what [`take_data_only`] asks `capnp::raw` about.
#[derive(Clone, Copy)]
struct RawStruct<'a>(capnp::private::layout::StructReader<'a>);

impl<'a> capnp::traits::FromPointerReader<'a> for RawStruct<'a> {
    fn get_from_pointer(
        reader: &capnp::private::layout::PointerReader<'a>,
        default: Option<&'a [capnp::Word]>,
    ) -> capnp::Result<Self> {
        reader.get_struct(default).map(RawStruct)
    }
}

impl<'a> capnp::traits::IntoInternalStructReader<'a> for RawStruct<'a> {
    fn into_internal_struct_reader(self) -> capnp::private::layout::StructReader<'a> {
        self.0
    }
}

thread_local! {
    /// Cleared segments for [`Recycling`], each as long as its allocation.
    static SEGMENTS: RefCell<Vec<Vec<capnp::Word>>> = const { RefCell::new(Vec::new()) };
}

/// How many cleared segments a thread keeps, and the largest kept.
const SEGMENTS_KEPT: usize = 8;
const SEGMENT_MAX_WORDS: usize = 8 * 1024;

/// The allocator of the messages [`take`] copies into. A peer copies one message out of
/// `capnp-rpc` per call on each side and drops it soon after; the segments come back to a
/// per-thread pool, cleared as far as they were written, so that the next copy neither
/// allocates nor has the allocator zero a whole segment (`calloc` bypasses the allocator's
/// per-thread cache).
pub(crate) struct Recycling {
    next: u32,
}

// SAFETY: every segment handed out is a live `Vec<Word>` allocation of exactly the length
// returned, fully zeroed, leaked until `deallocate_segment` rebuilds the same `Vec` (same
// pointer, length and capacity) from what `capnp` hands back.
unsafe impl message::Allocator for Recycling {
    fn allocate_segment(&mut self, minimum_size: u32) -> (std::ptr::NonNull<u8>, u32) {
        let size = minimum_size.max(self.next).max(1) as usize;
        let pooled = SEGMENTS
            .try_with(|pool| {
                let mut pool = pool.borrow_mut();
                let i = pool.iter().position(|s| s.len() >= size)?;
                Some(pool.swap_remove(i))
            })
            .ok()
            .flatten();
        let mut segment = pooled.unwrap_or_else(|| {
            let mut v = capnp::Word::allocate_zeroed_vec(size);
            v.shrink_to_fit();
            v
        });
        debug_assert_eq!(segment.len(), segment.capacity());
        self.next = u32::try_from(segment.len().saturating_mul(2)).unwrap_or(u32::MAX);
        let words = segment.len() as u32;
        let ptr = segment.as_mut_ptr() as *mut u8;
        std::mem::forget(segment);
        (
            std::ptr::NonNull::new(ptr).expect("a vector's pointer"),
            words,
        )
    }

    unsafe fn deallocate_segment(
        &mut self,
        ptr: std::ptr::NonNull<u8>,
        word_size: u32,
        words_used: u32,
    ) {
        let len = word_size as usize;
        // SAFETY: `ptr` and `word_size` are those `allocate_segment` returned for a vector
        // whose length equals its capacity (see the impl's safety comment).
        let mut segment =
            unsafe { Vec::from_raw_parts(ptr.as_ptr() as *mut capnp::Word, len, len) };
        if len > SEGMENT_MAX_WORDS {
            return;
        }
        let used = (words_used as usize).min(len);
        capnp::Word::words_to_bytes_mut(&mut segment[..used]).fill(0);
        let _ = SEGMENTS.try_with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < SEGMENTS_KEPT {
                pool.push(segment);
            }
        });
    }
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
    if let Some(data) = data_only_root(&segments)? {
        // A struct with no pointers, the common case of small parameters and results: its
        // data words stored into a struct of the same size, with none of the traversal a
        // deep copy costs.
        let words = data.len() / 8;
        let built: RawStructBuilder<'_> = dst.initn_as(words as u32);
        for (i, word) in data.chunks_exact(8).enumerate() {
            let word = u64::from_le_bytes(word.try_into().expect("a word"));
            built.0.set_data_field::<u64>(i, word);
        }
        return Ok(());
    }
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
    root.imbue(&message.caps.hooks);
    dst.set_as(root).map_err(from_exception)
}

/// The data section of the root struct of `segments`, a message this crate wrote, when that
/// struct has no pointers (and so no capabilities).
fn data_only_root<'a>(segments: &Segs<'a>) -> Result<Option<&'a [u8]>> {
    let limits = crate::wire::Limits {
        // The message is this crate's own, already within its limits.
        traversal_words: u64::MAX,
        nesting: u32::MAX,
        amplification: 0,
    };
    let msg = Msg::new(segments.clone(), limits)?;
    let Some(root) = msg.read_struct(msg.root()?)? else {
        return Ok(None);
    };
    let fits = root.data.len() / 8 <= usize::from(u16::MAX);
    Ok((root.location().3 == 0 && fits).then_some(root.data))
}

/// A struct `capnp` builds: what [`put`] stores a data-only struct into. `initn_as` passes
/// the struct's data size in words as the length it hands `init_pointer`.
struct RawStructBuilder<'a>(capnp::private::layout::StructBuilder<'a>);

impl<'a> capnp::traits::FromPointerBuilder<'a> for RawStructBuilder<'a> {
    fn init_pointer(builder: capnp::private::layout::PointerBuilder<'a>, words: u32) -> Self {
        RawStructBuilder(builder.init_struct(capnp::private::layout::StructSize {
            data: words as u16,
            pointers: 0,
        }))
    }

    fn get_from_pointer(
        builder: capnp::private::layout::PointerBuilder<'a>,
        default: Option<&'a [capnp::Word]>,
    ) -> capnp::Result<Self> {
        let size = capnp::private::layout::StructSize {
            data: 0,
            pointers: 0,
        };
        builder.get_struct(size, default).map(RawStructBuilder)
    }
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

thread_local! {
    /// The first-segment size, in words, for the next message `capnp-rpc` asks a
    /// connection of this thread to build (0: none known). `capnp-rpc` builds every call
    /// message with a first segment of 8 KiB, whatever its size hint says; a call or a
    /// return of this crate knows how large it will be, and says so here just before
    /// `capnp-rpc` builds it.
    static NEXT_OUTGOING_WORDS: Cell<u32> = const { Cell::new(0) };
}

/// What a `Call` or `Return` message adds around its payload's content, in words (the
/// message, call or return, target and payload structs with their pointers: 14 for a call on
/// an imported capability, a few more for a pipelined one's transform), and per entry of its
/// capability table. An underestimate costs a second segment, not an error.
const ENVELOPE_WORDS: usize = 24;
const CAP_DESCRIPTOR_WORDS: usize = 4;

/// The largest first segment a connection gives a message of unknown size: below the
/// allocator's threshold for large blocks (1 KiB with glibc), whose every allocation first
/// sweeps the cache of freed small blocks into its bins. A larger message gets more
/// segments.
const UNKNOWN_SIZE_MAX_WORDS: u32 = 120;
// glibc's block for it (the request, a word of header, rounded to 16 bytes) stays under 1 KiB.
const _: () = assert!((UNKNOWN_SIZE_MAX_WORDS * 8 + 8).next_multiple_of(16) < 1024);

/// Runs `build`, which has `capnp-rpc` build the message that will carry `payload`, with the
/// size of that message noted for the connection (see [`NEXT_OUTGOING_WORDS`]).
fn sized_for<R>(payload: &Message, build: impl FnOnce() -> R) -> R {
    let words = payload
        .words()
        .saturating_add(ENVELOPE_WORDS)
        .saturating_add(payload.caps.len().saturating_mul(CAP_DESCRIPTOR_WORDS));
    NEXT_OUTGOING_WORDS.set(u32::try_from(words).unwrap_or(u32::MAX));
    let r = build();
    // Not left for another message when `capnp-rpc` built none (a local or broken target).
    NEXT_OUTGOING_WORDS.set(0);
    r
}

/// The first segment, in words, of the next message built on this thread, for which
/// `capnp-rpc` asked `requested`: the size [`sized_for`] noted, or `requested` capped.
fn first_segment_words(requested: u32) -> u32 {
    match NEXT_OUTGOING_WORDS.replace(0) {
        0 => requested.min(UNKNOWN_SIZE_MAX_WORDS),
        noted => noted,
    }
}

/// `capnp-rpc`'s two-party network, with the first segment of each outgoing message sized
/// by [`NEXT_OUTGOING_WORDS`] or capped by [`UNKNOWN_SIZE_MAX_WORDS`].
struct SizedNetwork<T: AsyncRead + Unpin + 'static>(twoparty::VatNetwork<T>);

struct SizedConnection(Box<dyn capnp_rpc::Connection<rpc_twoparty_capnp::Side>>);

impl<T: AsyncRead + Unpin + 'static> capnp_rpc::VatNetwork<rpc_twoparty_capnp::Side>
    for SizedNetwork<T>
{
    fn connect(
        &mut self,
        host_id: rpc_twoparty_capnp::Side,
    ) -> Option<Box<dyn capnp_rpc::Connection<rpc_twoparty_capnp::Side>>> {
        let inner = self.0.connect(host_id)?;
        Some(Box::new(SizedConnection(inner)))
    }

    fn accept(
        &mut self,
    ) -> Promise<Box<dyn capnp_rpc::Connection<rpc_twoparty_capnp::Side>>, capnp::Error> {
        Promise::from_future(self.0.accept().map(|r| {
            r.map(|inner| {
                Box::new(SizedConnection(inner))
                    as Box<dyn capnp_rpc::Connection<rpc_twoparty_capnp::Side>>
            })
        }))
    }

    fn drive_until_shutdown(&mut self) -> Promise<(), capnp::Error> {
        self.0.drive_until_shutdown()
    }
}

impl capnp_rpc::Connection<rpc_twoparty_capnp::Side> for SizedConnection {
    fn get_peer_vat_id(&self) -> rpc_twoparty_capnp::Side {
        self.0.get_peer_vat_id()
    }

    fn new_outgoing_message(
        &mut self,
        first_segment_word_size: u32,
    ) -> Box<dyn capnp_rpc::OutgoingMessage> {
        self.0
            .new_outgoing_message(first_segment_words(first_segment_word_size))
    }

    fn receive_incoming_message(
        &mut self,
    ) -> Promise<Option<Box<dyn capnp_rpc::IncomingMessage>>, capnp::Error> {
        self.0.receive_incoming_message()
    }

    fn new_stream(
        &mut self,
    ) -> (
        Box<dyn capnp_rpc::FlowController>,
        Promise<(), capnp::Error>,
    ) {
        self.0.new_stream()
    }

    fn shutdown(&mut self, result: capnp::Result<()>) -> Promise<(), capnp::Error> {
        self.0.shutdown(result)
    }
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
    let network = SizedNetwork(twoparty::VatNetwork::new(read, write, side, options));
    let mut system = RpcSystem::new(
        Box::new(network),
        bootstrap.map(|h| capability::Client::new(h.client)),
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
        peer: Hook::remote(peer.into_client_hook()),
        disconnect: Box::pin(disconnector.map(|r| r.map_err(from_exception))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Nothing;

    impl Dispatch for Nothing {
        fn is_streaming(&self, _: u64, _: u16) -> Option<bool> {
            None
        }
        fn dispatch(&self, _: u64, _: u16, _: Message) -> LocalFuture<Message> {
            Box::pin(std::future::ready(Err(Error::failed("nothing"))))
        }
        fn unimplemented(&self, _: u64, _: u16) -> Error {
            Error::unimplemented("nothing")
        }
    }

    /// The root struct's data section and pointer count, as this crate's reader sees them.
    fn root_of(message: &Message) -> (Vec<u8>, u16) {
        let segments = message.segments().unwrap();
        let limits = crate::wire::Limits {
            traversal_words: 1 << 20,
            nesting: 64,
            amplification: 0,
        };
        let msg = Msg::new(segments, limits).unwrap();
        let s = msg.read_struct(msg.root().unwrap()).unwrap().unwrap();
        (s.data.to_vec(), s.location().3)
    }

    /// A struct with no pointers is taken without `capnp`'s copy, into the same struct: empty
    /// (whose pointer is not a null one), one word and several words of data.
    #[test]
    fn data_only_structs_are_taken_as_the_deep_copy_takes_them() {
        for words in [0u16, 1, 3] {
            let mut segment = vec![0u8; 8 * (1 + words as usize)];
            let offset: i32 = if words == 0 { -1 } else { 0 };
            segment[..4].copy_from_slice(&((offset << 2) as u32).to_le_bytes());
            segment[4..6].copy_from_slice(&words.to_le_bytes());
            for (i, b) in segment[8..].iter_mut().enumerate() {
                *b = i as u8 ^ 0x5a;
            }
            let segments: [&[u8]; 1] = [&segment];
            let reader =
                message::Reader::new(message::SegmentArray::new(&segments), ReaderOptions::new());
            let root: any_pointer::Reader<'_> = reader.get_root().unwrap();
            let fast = take_data_only(root).unwrap().expect("a data-only struct");
            let copied = take_copy(root).unwrap();
            assert_eq!(root_of(&fast), root_of(&copied), "{words} words");
            assert_eq!(root_of(&fast).0, segment[8..], "{words} words");
        }
    }

    /// A data-only struct put into a `capnp` message comes back out the same.
    #[test]
    fn data_only_structs_are_put_whole() {
        for words in [0u16, 1, 3] {
            let mut frame = vec![0u8; 16 + 8 * words as usize];
            frame[4..8].copy_from_slice(&(1 + u32::from(words)).to_le_bytes());
            let offset: i32 = if words == 0 { -1 } else { 0 };
            frame[8..12].copy_from_slice(&((offset << 2) as u32).to_le_bytes());
            frame[12..14].copy_from_slice(&words.to_le_bytes());
            for (i, b) in frame[16..].iter_mut().enumerate() {
                *b = i as u8 ^ 0xa5;
            }
            let message = Message::from_frame(frame.clone(), CapTable::new());
            let mut builder = message::Builder::new_default();
            put(builder.init_root(), &message).unwrap();
            let back = take_copy(builder.get_root_as_reader().unwrap()).unwrap();
            assert_eq!(root_of(&back), (frame[16..].to_vec(), 0), "{words} words");
        }
    }

    /// A call or return states its size for the one message `capnp-rpc` builds for it; any
    /// other message, and one built after, gets a first segment capped below 1 KiB.
    #[test]
    fn outgoing_messages_are_sized_by_what_they_carry() {
        let frame = |words: u32| {
            let mut f = vec![0u8; 8 + 8 * words as usize];
            f[4..8].copy_from_slice(&words.to_le_bytes());
            f
        };
        let payload = Message::from_frame(frame(300), CapTable::new());
        let size = 301 + ENVELOPE_WORDS as u32;
        assert_eq!(sized_for(&payload, || first_segment_words(1024)), size);
        assert_eq!(first_segment_words(1024), UNKNOWN_SIZE_MAX_WORDS);
        assert_eq!(first_segment_words(5), 5);
        // A call whose target builds no message (a local or broken one) leaves nothing noted.
        sized_for(&payload, || ());
        assert_eq!(first_segment_words(1024), UNKNOWN_SIZE_MAX_WORDS);
    }

    /// A struct with pointers, and a null pointer, take the deep copy.
    #[test]
    fn structs_with_pointers_and_null_pointers_are_copied() {
        let segment = {
            let mut s = vec![0u8; 16];
            s[..4].copy_from_slice(&0u32.to_le_bytes());
            s[6..8].copy_from_slice(&1u16.to_le_bytes());
            s
        };
        let segments: [&[u8]; 1] = [&segment];
        let reader =
            message::Reader::new(message::SegmentArray::new(&segments), ReaderOptions::new());
        let root: any_pointer::Reader<'_> = reader.get_root().unwrap();
        assert!(take_data_only(root).unwrap().is_none());
        let null = [0u8; 8];
        let segments: [&[u8]; 1] = [&null];
        let reader =
            message::Reader::new(message::SegmentArray::new(&segments), ReaderOptions::new());
        let root: any_pointer::Reader<'_> = reader.get_root().unwrap();
        assert!(take_data_only(root).unwrap().is_none());
    }

    /// A local capability written into a message and read back out of it keeps its server,
    /// so calls on it still take the direct path; a remote one and a null one stay what they
    /// were.
    #[test]
    fn a_capability_table_keeps_local_servers() {
        let server: Rc<dyn Dispatch> = Rc::new(Nothing);
        let local = local_capability(server.clone());
        let remote = Hook::broken(Error::failed("remote"));
        let mut table = CapTable::new();
        assert_eq!(table.push(&remote), 0);
        assert_eq!(table.push(&local), 1);
        table.hooks.push(None);
        let back = table.get(1).unwrap().unwrap();
        assert!(Rc::ptr_eq(back.local.as_ref().unwrap(), &server));
        assert_eq!(back.brand(), local.brand());
        assert!(table.get(0).unwrap().unwrap().local.is_none());
        assert!(table.get(2).unwrap().is_none());
        assert!(table.get(3).is_none());
    }
}
