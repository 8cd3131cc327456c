//! Where in a request something is, for errors that name the node and member at fault.

use std::fmt;

use super::{TRAVERSAL_BASE, TRAVERSAL_PER_WORD};
use crate::SchemaError;

/// Where in the request something is: a node (or the request itself) and a member of it.
#[derive(Clone, Copy)]
pub(super) struct Place<'a> {
    node: Option<(&'a str, u64)>,
    member: Option<Member<'a>>,
}

#[derive(Clone, Copy)]
pub(super) struct Member<'a> {
    kind: &'static str,
    name: Option<&'a str>,
    index: usize,
}

impl<'a> Place<'a> {
    pub(super) const REQUEST: Place<'static> = Place {
        node: None,
        member: None,
    };

    pub(super) fn node(display_name: &'a str, id: u64) -> Self {
        Place {
            node: Some((display_name, id)),
            member: None,
        }
    }

    pub(super) fn member(self, kind: &'static str, name: &'a str) -> Self {
        Place {
            member: Some(Member {
                kind,
                name: Some(name),
                index: 0,
            }),
            ..self
        }
    }

    /// A member whose name could not be read: it is named by its position.
    pub(super) fn nth(self, kind: &'static str, index: usize) -> Self {
        Place {
            member: Some(Member {
                kind,
                name: None,
                index,
            }),
            ..self
        }
    }

    pub(super) fn error(&self, message: impl fmt::Display) -> SchemaError {
        SchemaError::new(format!("invalid schema: in {self}: {message}"))
    }
}

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.node {
            Some((name, id)) => write!(f, "`{name}` (@{id:#x})")?,
            None => f.write_str("the request")?,
        }
        match self.member {
            Some(Member {
                kind,
                name: Some(name),
                ..
            }) => write!(f, ", {kind} `{name}`"),
            Some(Member { kind, index, .. }) => write!(f, ", {kind} {index}"),
            None => Ok(()),
        }
    }
}

/// Reading errors of the `capnp` crate, placed.
pub(super) trait At<T> {
    fn at(self, place: &Place<'_>) -> Result<T, SchemaError>;
}

impl<T> At<T> for capnp::Result<T> {
    fn at(self, place: &Place<'_>) -> Result<T, SchemaError> {
        self.map_err(|e| match e.kind {
            capnp::ErrorKind::ReadLimitExceeded => place.error(format_args!(
                "the request claims far more than it holds: reading it goes past the traversal \
                 limit of {TRAVERSAL_PER_WORD} words per word of request plus {TRAVERSAL_BASE} \
                 (lists of zero-sized elements, or pointers that overlap)"
            )),
            _ => place.error(format_args!("the request is malformed: {e}")),
        })
    }
}

impl<T> At<T> for Result<T, capnp::NotInSchema> {
    fn at(self, place: &Place<'_>) -> Result<T, SchemaError> {
        self.map_err(|e| {
            place.error(format_args!(
                "the request uses a schema feature this version does not know ({e})"
            ))
        })
    }
}

/// `n` things, in English.
pub(super) fn plural(n: u16, unit: &str) -> String {
    match n {
        1 => format!("1 {unit}"),
        n => format!("{n} {unit}s"),
    }
}
