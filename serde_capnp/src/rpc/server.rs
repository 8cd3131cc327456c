//! Serving an interface: handlers by method name, dispatched by interface ID and ordinal.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;

use futures::FutureExt;
use serde::{Deserialize, Serialize};

use super::cap::{encode, read_with, Capability};
use super::glue::{self, Message};
use super::interface::{InterfaceSchema, MethodSchema};
use crate::{Error, Result, Value};

/// A handler wrapped to catch its panics: one boxed future per call.
type Handler = Rc<dyn Fn(Request) -> glue::LocalFuture<Message>>;

/// An object that serves an interface loaded at run time: one handler per method, found by
/// name. Methods without a handler answer `unimplemented`.
///
/// ```
/// # fn main() -> serde_capnp::Result<()> {
/// use serde_capnp::rpc::{DynamicClient, Server};
/// let schema = serde_capnp::Schema::parse("echo.capnp", r#"
///     @0xe1b2c3d4a5968778;
///     interface Echo { echo @0 (text :Text) -> (text :Text); }
/// "#)?;
/// let echo = schema.interface("Echo")?;
/// let server = Server::new(&echo).method("echo", |request| async move {
///     #[derive(serde::Deserialize, serde::Serialize)]
///     struct Text { text: String }
///     let Text { text } = request.params()?;
///     request.reply(&Text { text: text.to_uppercase() })
/// })?;
/// let client = DynamicClient::new(server.into_capability(), echo);
/// let reply = futures::executor::block_on(client.call("echo", &serde_json::json!({"text": "hi"})))?;
/// let text: serde_json::Value = reply.get()?;
/// assert_eq!(text["text"], "HI");
/// # Ok(())
/// # }
/// ```
pub struct Server {
    interface: InterfaceSchema,
    handlers: Vec<Option<Handler>>,
}

/// One incoming call, as its handler sees it.
pub struct Request {
    method: MethodSchema,
    params: Message,
}

/// The results of a call, ready to send: made by [`Request::reply`].
pub struct Reply(pub(crate) Message);

impl Server {
    /// A server of `interface` with no methods implemented yet.
    pub fn new(interface: &InterfaceSchema) -> Server {
        Server {
            interface: interface.clone(),
            handlers: vec![None; interface.methods().count()],
        }
    }

    /// Serves the method named `name` (declared by the interface or one it extends) with
    /// `handler`. The handler runs on the connection's thread; a panic in it fails that call
    /// alone, with a `failed` exception.
    pub fn method<F, Fut>(mut self, name: &str, handler: F) -> Result<Server>
    where
        F: Fn(Request) -> Fut + 'static,
        Fut: Future<Output = Result<Reply>> + 'static,
    {
        let method = self
            .interface
            .method(name)
            .map_err(|e| Error::schema(format!("cannot serve `{name}`: {}", e.message())))?;
        let index = self
            .interface
            .by_ordinal(method.interface_id, method.ordinal)
            .expect("a method found by name has an ordinal");
        let method = method.clone();
        self.handlers[index] = Some(Rc::new(move |request| -> glue::LocalFuture<Message> {
            let started = std::panic::catch_unwind(AssertUnwindSafe(|| handler(request)));
            // Named only when a handler panics: formatting costs more than a small call.
            let method = method.clone();
            Box::pin(async move {
                let future = started.map_err(|p| panicked(&method, p))?;
                match AssertUnwindSafe(future).catch_unwind().await {
                    Ok(reply) => Ok(reply?.0),
                    Err(p) => Err(panicked(&method, p)),
                }
            })
        }));
        Ok(self)
    }

    /// The capability that calls this server.
    pub fn into_capability(self) -> Capability {
        Capability {
            hook: glue::local_capability(Rc::new(self)),
        }
    }
}

impl glue::Dispatch for Server {
    fn is_streaming(&self, interface_id: u64, ordinal: u16) -> Option<bool> {
        let i = self.interface.by_ordinal(interface_id, ordinal)?;
        Some(self.interface.method_at(i).streaming)
    }

    fn dispatch(
        &self,
        interface_id: u64,
        ordinal: u16,
        params: Message,
    ) -> glue::LocalFuture<Message> {
        let Some(index) = self.interface.by_ordinal(interface_id, ordinal) else {
            let e = self.unimplemented(interface_id, ordinal);
            return Box::pin(std::future::ready(Err(e)));
        };
        let method = self.interface.method_at(index).clone();
        let Some(handler) = &self.handlers[index] else {
            let e = Error::unimplemented(format!("method `{method:?}` is not implemented"));
            return Box::pin(std::future::ready(Err(e)));
        };
        handler(Request { method, params })
    }

    fn unimplemented(&self, interface_id: u64, ordinal: u16) -> Error {
        if self.interface.extends(interface_id) {
            Error::unimplemented(format!(
                "interface `{}` has no method @{ordinal} in interface {interface_id:#x}",
                self.interface.name()
            ))
        } else {
            Error::unimplemented(format!(
                "`{}` does not implement the interface {interface_id:#x}",
                self.interface.name()
            ))
        }
    }
}

fn panicked(method: &MethodSchema, payload: Box<dyn std::any::Any + Send>) -> Error {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text payload".to_string());
    Error::failed(format!("the handler of `{method:?}` panicked: {what}"))
}

impl Request {
    /// The method called.
    pub fn method(&self) -> &MethodSchema {
        &self.method
    }

    /// The parameters as a Rust value (strings may borrow from the request).
    pub fn params<'a, T: Deserialize<'a>>(&'a self) -> Result<T> {
        let schema = &self.method.params;
        read_with(&self.params, |segments| schema.from_segments(segments))
            .map_err(|e| in_call(e, &self.method, "parameters"))
    }

    /// The parameters as a [`Value`] (capabilities read as `Value::Null`).
    pub fn params_value(&self) -> Result<Value> {
        read_with(&self.params, |segments| {
            self.method.params.read_value_segments(segments)
        })
        .map_err(|e| in_call(e, &self.method, "parameters"))
    }

    /// The results to send back: any serializable value that fits the result struct (a
    /// [`Value`] too); capabilities in it go to the caller.
    pub fn reply<T: ?Sized + Serialize>(&self, results: &T) -> Result<Reply> {
        encode(&self.method.results, results)
            .map(Reply)
            .map_err(|e| in_call(e, &self.method, "results"))
    }

    /// Empty results: all fields at their defaults (what a `-> stream` method returns).
    pub fn reply_empty(&self) -> Result<Reply> {
        self.reply(&std::collections::BTreeMap::<String, ()>::new())
    }
}

/// `e`, said to be about the parameters or results of `method`.
pub(crate) fn in_call(e: Error, method: &MethodSchema, what: &str) -> Error {
    let category = e.category();
    e.reworded_keep(category, |m| format!("{what} of `{method:?}`: {m}"))
}
