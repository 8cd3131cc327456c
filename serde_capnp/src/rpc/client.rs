//! Calling an interface: by method name on a schema loaded at run time, with results that
//! can be awaited or pipelined.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use serde::{Deserialize, Serialize};

use super::cap::{encode, read_with, Capability, FromCapability};
use super::glue::{Message, RawCall};
use super::interface::{InterfaceSchema, MethodSchema};
use super::server::in_call;
use crate::{Error, Result, Value};

/// A capability with the interface it is called through: calls by method name, with any
/// serializable value (a [`Value`], a `serde_json::Value`, a Rust struct) as parameters, as
/// pycapnp calls a capability.
#[derive(Clone, Debug)]
pub struct DynamicClient {
    capability: Capability,
    interface: InterfaceSchema,
}

/// The results of a call, read on demand into a Rust value or a [`Value`].
pub struct Response {
    method: MethodSchema,
    message: Rc<Message>,
}

/// A call in flight. Await it for its results; before that, [`pipeline`](Self::pipeline)
/// gives the capabilities its results will hold, to call at once (promise pipelining: the
/// dependent call travels without waiting for this one's answer). Dropping it cancels the
/// call.
#[must_use = "a call does nothing useful unless it is awaited or pipelined"]
pub struct Pending<T> {
    /// `None` only for a call that failed before it could name a method.
    method: Option<MethodSchema>,
    call: Option<RawCall>,
    error: Option<Error>,
    convert: fn(Response) -> Result<T>,
    _marker: PhantomData<fn() -> T>,
}

impl DynamicClient {
    /// Calls `capability` through `interface`.
    pub fn new(capability: Capability, interface: InterfaceSchema) -> DynamicClient {
        DynamicClient {
            capability,
            interface,
        }
    }

    /// The capability called.
    pub fn capability(&self) -> &Capability {
        &self.capability
    }

    /// The interface called through.
    pub fn interface(&self) -> &InterfaceSchema {
        &self.interface
    }

    /// Calls the method named `method` with `params`. An unknown method or parameters that do
    /// not fit its parameter struct make the call fail when awaited.
    pub fn call<P: ?Sized + Serialize>(&self, method: &str, params: &P) -> Pending<Response> {
        match self.interface.method(method) {
            Ok(m) => call(&self.capability, m, params, Ok),
            Err(e) => Pending::failed(None, e),
        }
    }

    /// Calls a `-> stream` method: resolves when flow control lets the next call go, which
    /// keeps a fast sender from queueing without bound. An error ends the stream.
    pub async fn stream<P: ?Sized + Serialize>(&self, method: &str, params: &P) -> Result<()> {
        let m = self.interface.method(method)?;
        stream(&self.capability, m, params).await
    }
}

/// Calls `method` on `capability` with `params`; `convert` turns the response into `T`.
pub fn call<P: ?Sized + Serialize, T>(
    capability: &Capability,
    method: &MethodSchema,
    params: &P,
    convert: fn(Response) -> Result<T>,
) -> Pending<T> {
    let message = match encode(&method.params, params) {
        Ok(m) => m,
        Err(e) => return Pending::failed(Some(method.clone()), in_call(e, method, "parameters")),
    };
    let raw = capability
        .hook
        .call(method.interface_id, method.ordinal, message);
    Pending {
        method: Some(method.clone()),
        call: Some(raw),
        error: None,
        convert,
        _marker: PhantomData,
    }
}

/// Calls the `-> stream` method `method` on `capability` with `params`.
pub async fn stream<P: ?Sized + Serialize>(
    capability: &Capability,
    method: &MethodSchema,
    params: &P,
) -> Result<()> {
    if !method.streaming {
        return Err(Error::schema(format!(
            "`{method:?}` is not a `-> stream` method"
        )));
    }
    let message = encode(&method.params, params).map_err(|e| in_call(e, method, "parameters"))?;
    capability
        .hook
        .stream_call(method.interface_id, method.ordinal, &message)
        .await
}

impl<T> Pending<T> {
    fn failed(method: Option<MethodSchema>, error: Error) -> Pending<T> {
        Pending {
            method,
            call: None,
            error: Some(error),
            convert: |_| Err(Error::failed("the call failed")),
            _marker: PhantomData,
        }
    }

    /// The capability that the result field `path` will hold (`"value"`, or `"a.b"` through
    /// struct fields), callable at once. A path that names no capability field gives a
    /// capability whose calls fail with the reason.
    pub fn pipeline(&self, path: &str) -> Capability {
        let fields: Vec<&str> = path.split('.').collect();
        match self.method.as_ref().map(|m| m.pipeline_path(&fields)) {
            Some(Ok(slots)) => self.pipeline_slots(&slots),
            Some(Err(e)) => Capability::broken(e),
            None => self.pipeline_slots(&[]),
        }
    }

    /// The typed client that the result field `path` will hold; see
    /// [`pipeline`](Self::pipeline).
    pub fn pipeline_as<C: FromCapability>(&self, path: &str) -> C {
        C::from_capability(self.pipeline(path))
    }

    /// The capability at a path of pointer slots from the result struct.
    #[doc(hidden)]
    pub fn pipeline_slots(&self, slots: &[u16]) -> Capability {
        match (&self.call, &self.error) {
            (Some(call), _) => Capability {
                hook: call.pipelined(slots),
            },
            (None, Some(e)) => Capability::broken(Error::failed(format!(
                "pipelined on a call that failed: {e}"
            ))),
            (None, None) => Capability::broken(Error::failed(
                "pipelined on a call whose results were already awaited",
            )),
        }
    }

    /// The same call, with its results converted by `convert` instead.
    #[doc(hidden)]
    pub fn with_convert<U>(self, convert: fn(Response) -> Result<U>) -> Pending<U> {
        Pending {
            method: self.method,
            call: self.call,
            error: self.error,
            convert,
            _marker: PhantomData,
        }
    }
}

impl<T> Future for Pending<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let this = &mut *self;
        if let Some(e) = this.error.take() {
            return Poll::Ready(Err(e));
        }
        let Some(call) = this.call.as_mut() else {
            return Poll::Ready(Err(Error::failed("the call was already awaited")));
        };
        match Pin::new(call).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(r) => {
                let message = r?;
                let Some(method) = this.method.clone() else {
                    return Poll::Ready(Err(Error::failed("the call names no method")));
                };
                Poll::Ready((this.convert)(Response { method, message }))
            }
        }
    }
}

impl Response {
    /// The results as a Rust value (strings may borrow from the response).
    pub fn get<'a, T: Deserialize<'a>>(&'a self) -> Result<T> {
        let schema = &self.method.results;
        read_with(&self.message, |segments| schema.from_segments(segments))
            .map_err(|e| in_call(e, &self.method, "results"))
    }

    /// The results as a [`Value`] (capabilities read as `Value::Null`).
    pub fn value(&self) -> Result<Value> {
        read_with(&self.message, |segments| {
            self.method.results.read_value_segments(segments)
        })
        .map_err(|e| in_call(e, &self.method, "results"))
    }

    /// The method whose results these are.
    pub fn method(&self) -> &MethodSchema {
        &self.method
    }
}
