//! Capabilities as Rust values, and the capability tables of the messages being written and
//! read: serde has no notion of a capability, so a capability serializes as its index in the
//! table of the message in progress, which this module keeps per thread.

use std::cell::{Cell, RefCell};
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{self, Serialize, Serializer};

use super::glue::{CapTable, Hook, Message};
use crate::{Error, Result, StructSchema};

/// A reference to an object that may be called: served in this process or by a peer, or a
/// promise for one (a pipelined result).
///
/// A `Capability` is a serde value: put it (or a typed client) in the parameters or results
/// of a call and the peer receives a capability it can call; read one out of a message and
/// the calls go back to whoever sent it. It serializes only into messages of the RPC layer;
/// anywhere else it is an error. Clones are cheap references to the same object.
///
/// Like everything in `capnp-rpc`, it is `!Send`: it lives on the thread whose
/// [`LocalSet`](tokio::task::LocalSet) runs its connection.
#[derive(Clone)]
pub struct Capability {
    pub(crate) hook: Hook,
}

/// A typed client: a [`Capability`] that is known to implement an interface.
///
/// The [`interface`](super::interface) attribute macro implements it for the client types
/// it generates.
pub trait FromCapability: Sized {
    /// The ID of the interface the client calls.
    const INTERFACE_ID: u64;
    /// Wraps a capability.
    fn from_capability(capability: Capability) -> Self;
    /// The capability the client calls.
    fn capability(&self) -> &Capability;
}

impl FromCapability for Capability {
    const INTERFACE_ID: u64 = 0;
    fn from_capability(capability: Capability) -> Self {
        capability
    }
    fn capability(&self) -> &Capability {
        self
    }
}

impl Capability {
    /// The null capability: every call on it fails. Cap'n Proto reads a null capability
    /// pointer as this.
    pub fn null() -> Capability {
        Capability::broken(Error::failed("called a null capability"))
    }

    /// A capability whose every call fails with `error`.
    pub fn broken(error: Error) -> Capability {
        Capability {
            hook: Hook::broken(error),
        }
    }

    /// This capability as the typed client `C` (no check is made: calls of methods the
    /// object lacks fail with an `unimplemented` error).
    pub fn cast<C: FromCapability>(self) -> C {
        C::from_capability(self)
    }

    /// Waits until the capability, if it is a promise (a pipelined result), has resolved; an
    /// error if it resolved to an exception.
    pub async fn when_resolved(&self) -> Result<()> {
        self.hook.when_resolved().await
    }
}

impl fmt::Debug for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Capability({:#x})", self.hook.brand())
    }
}

thread_local! {
    /// The capability table of the message being serialized on this thread, if any.
    static WRITING: RefCell<Option<CapTable>> = const { RefCell::new(None) };
    /// The capability table of the message being deserialized on this thread, if any: set
    /// only for the duration of one synchronous `deserialize` call, by [`read_with`].
    static READING: Cell<*const CapTable> = const { Cell::new(std::ptr::null()) };
}

/// Serializes `value` as a message of `schema`, collecting the capabilities it holds.
pub(crate) fn encode<T: ?Sized + Serialize>(schema: &StructSchema, value: &T) -> Result<Message> {
    let saved = WRITING.with(|w| w.replace(Some(CapTable::new())));
    let frame = schema.to_vec_in(value, super::glue::spare_buffer());
    let caps = WRITING.with(|w| w.replace(saved)).unwrap_or_default();
    Ok(Message::from_frame(frame?, caps))
}

/// Runs `f`, which deserializes from `message`, with the message's capability table in reach.
pub(crate) fn read_with<'a, R>(
    message: &'a Message,
    f: impl FnOnce(&[&'a [u8]]) -> Result<R>,
) -> Result<R> {
    let segments = message.segments()?;
    read_segments_with(segments.as_slice(), &message.caps, f)
}

/// [`read_with`] for segments and a capability table given apart.
pub(crate) fn read_segments_with<'a, R>(
    segments: &[&'a [u8]],
    caps: &CapTable,
    f: impl FnOnce(&[&'a [u8]]) -> Result<R>,
) -> Result<R> {
    struct Restore(*const CapTable);
    impl Drop for Restore {
        fn drop(&mut self) {
            READING.with(|r| r.set(self.0));
        }
    }
    let _restore = Restore(READING.with(|r| r.replace(caps as *const CapTable)));
    f(segments)
}

impl Serialize for Capability {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let index = WRITING.with(|w| w.borrow_mut().as_mut().map(|caps| caps.push(&self.hook)));
        match index {
            Some(i) => serializer.serialize_newtype_struct(crate::ser::CAPABILITY, &i),
            None => Err(ser::Error::custom(
                "a capability can only be written into the parameters or results of an RPC call",
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Capability {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(crate::ser::CAPABILITY, CapVisitor)
    }
}

struct CapVisitor;

impl<'de> Visitor<'de> for CapVisitor {
    type Value = Capability;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a capability")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Capability, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<Capability, E> {
        Ok(Capability::null())
    }

    fn visit_none<E: de::Error>(self) -> std::result::Result<Capability, E> {
        Ok(Capability::null())
    }

    fn visit_u32<E: de::Error>(self, index: u32) -> std::result::Result<Capability, E> {
        let table = READING.with(|r| r.get());
        if table.is_null() {
            return Err(E::custom(
                "a capability can only be read from the parameters or results of an RPC call",
            ));
        }
        // SAFETY: `read_with` sets the pointer to a table that outlives the synchronous call
        // it wraps, and puts the previous value back before returning (or unwinding).
        let table = unsafe { &*table };
        match table.get(index) {
            Some(Some(hook)) => Ok(Capability { hook }),
            Some(None) => Ok(Capability::null()),
            None => Err(E::custom(format!(
                "capability index {index} is out of range: the message carries {} capabilities",
                table.len()
            ))),
        }
    }

    fn visit_u64<E: de::Error>(self, index: u64) -> std::result::Result<Capability, E> {
        match u32::try_from(index) {
            Ok(i) => self.visit_u32(i),
            Err(_) => Err(E::custom(format!(
                "capability index {index} is out of range"
            ))),
        }
    }
}
