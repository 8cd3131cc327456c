//! The one error type of the crate.

use std::borrow::Cow;
use std::fmt;

/// Alias for a `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, broadly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Category {
    /// Reading or writing the underlying stream failed.
    Io,
    /// The bytes are not a well-formed Cap'n Proto message.
    Wire,
    /// The schema is unusable, or it does not fit the Rust type.
    Schema,
    /// A traversal, nesting or size limit was exceeded.
    Limit,
    /// The data does not fit: a wrong type, an out-of-range value, an unknown enumerant.
    Data,
    /// An RPC call failed: the exception of type `failed` (a remote error, or a handler that
    /// returned an error or panicked).
    Failed,
    /// An RPC exception of type `overloaded`: the peer is out of some resource; retrying later
    /// may succeed.
    Overloaded,
    /// An RPC exception of type `disconnected`: the connection to the peer is gone.
    Disconnected,
    /// An RPC exception of type `unimplemented`: the peer does not implement the method, or
    /// the capability does not implement the interface.
    Unimplemented,
}

/// An error serializing or deserializing a Cap'n Proto message.
///
/// It carries a [`Category`], a message that says what was expected and what was found, and the
/// path of the field where it happened (`people[1].phones[0].number`).
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    category: Category,
    message: Cow<'static, str>,
    /// Path segments, innermost first (they are added as the error travels outwards).
    path: Vec<Segment>,
    source: Option<std::io::Error>,
    /// The field a Rust type found missing (serde's `missing_field`), for the reader to
    /// explain when the schema has no such field.
    missing_field: Option<&'static str>,
}

enum Segment {
    Field(Cow<'static, str>),
    Index(u64),
}

impl Error {
    fn new(category: Category, message: impl Into<Cow<'static, str>>) -> Self {
        Error {
            inner: Box::new(Inner {
                category,
                message: message.into(),
                path: Vec::new(),
                source: None,
                missing_field: None,
            }),
        }
    }

    pub(crate) fn wire(message: impl Into<Cow<'static, str>>) -> Self {
        Error::new(Category::Wire, message)
    }

    pub(crate) fn schema(message: impl Into<Cow<'static, str>>) -> Self {
        Error::new(Category::Schema, message)
    }

    pub(crate) fn limit(message: impl Into<Cow<'static, str>>) -> Self {
        Error::new(Category::Limit, message)
    }

    pub(crate) fn data(message: impl Into<Cow<'static, str>>) -> Self {
        Error::new(Category::Data, message)
    }

    /// An RPC exception of type `failed` with this message: what a server handler returns
    /// when it cannot carry out a call.
    pub fn failed(message: impl Into<Cow<'static, str>>) -> Self {
        Error::new(Category::Failed, message)
    }

    /// An RPC exception of type `overloaded`: the caller may retry later.
    pub fn overloaded(message: impl Into<Cow<'static, str>>) -> Self {
        Error::new(Category::Overloaded, message)
    }

    /// An RPC exception of type `disconnected`.
    pub fn disconnected(message: impl Into<Cow<'static, str>>) -> Self {
        Error::new(Category::Disconnected, message)
    }

    /// An RPC exception of type `unimplemented`.
    pub fn unimplemented(message: impl Into<Cow<'static, str>>) -> Self {
        Error::new(Category::Unimplemented, message)
    }

    pub(crate) fn io(e: std::io::Error) -> Self {
        let mut err = Error::new(Category::Io, e.to_string());
        err.inner.source = Some(e);
        err
    }

    /// The broad category of the error.
    pub fn category(&self) -> Category {
        self.inner.category
    }

    /// The message, without the path.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The path of the field where the error happened, e.g. `people[1].phones[0].number`
    /// (empty at the root).
    pub fn path(&self) -> String {
        let mut out = String::new();
        for seg in self.inner.path.iter().rev() {
            match seg {
                Segment::Field(name) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(name);
                }
                Segment::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        out
    }

    /// Adds the enclosing field's name to the path.
    pub(crate) fn in_field(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.inner.path.push(Segment::Field(name.into()));
        self
    }

    /// Adds the enclosing list index to the path.
    /// The field serde reported missing, if this error says so.
    pub(crate) fn missing_field(&self) -> Option<&'static str> {
        self.inner.missing_field
    }

    /// The path's steps from the outermost: a field name, or a list index.
    pub(crate) fn steps(&self) -> impl Iterator<Item = Result<&str, u64>> {
        self.inner.path.iter().rev().map(|s| match s {
            Segment::Field(name) => Ok(&**name),
            Segment::Index(i) => Err(*i),
        })
    }

    /// This error with another message and category, its path kept.
    pub(crate) fn reworded(mut self, category: Category, message: String) -> Self {
        self.inner.category = category;
        self.inner.message = message.into();
        self.inner.missing_field = None;
        self
    }

    /// This error with its message rewritten by `f`, its path kept.
    #[cfg_attr(not(feature = "rpc"), allow(dead_code))]
    pub(crate) fn reworded_keep(
        mut self,
        category: Category,
        f: impl FnOnce(&str) -> String,
    ) -> Self {
        self.inner.message = f(&self.inner.message).into();
        self.inner.category = category;
        self
    }

    pub(crate) fn at_index(mut self, index: u64) -> Self {
        self.inner.path.push(Segment::Index(index));
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.inner.path.is_empty() {
            f.write_str(&self.inner.message)
        } else {
            write!(f, "{} at `{}`", self.inner.message, self.path())
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Error({:?}, {:?}",
            self.inner.category, self.inner.message
        )?;
        if !self.inner.path.is_empty() {
            write!(f, ", path: {:?}", self.path())?;
        }
        f.write_str(")")
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl serde::ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::data(msg.to_string())
    }
}

impl serde::de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::data(msg.to_string())
    }

    fn missing_field(field: &'static str) -> Self {
        let mut err = Error::data(format!("missing field `{field}`"));
        err.inner.missing_field = Some(field);
        err
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::io(e)
    }
}

impl From<serde_capnp_schema::SchemaError> for Error {
    fn from(e: serde_capnp_schema::SchemaError) -> Self {
        Error::schema(e.message().to_string())
    }
}

impl From<capnp::Error> for Error {
    fn from(e: capnp::Error) -> Self {
        use capnp::ErrorKind as K;
        let category = match e.kind {
            K::MessageTooLarge(_)
            | K::MessageSizeOverflow
            | K::ReadLimitExceeded
            | K::NestingLimitExceeded
            | K::InvalidNumberOfSegments(_)
            | K::MessageIsTooDeeplyNested
            | K::MessageIsTooDeeplyNestedOrContainsCycles => Category::Limit,
            K::Failed
            | K::Overloaded
            | K::Disconnected
            | K::Unimplemented
            | K::PrematureEndOfFile => Category::Io,
            _ => Category::Wire,
        };
        Error::new(category, restyle(&e.to_string()))
    }
}

/// Brings a message from the `capnp` crate to this crate's style: lower-case first, no
/// trailing period, no `Failed: ` prefix.
fn restyle(message: &str) -> String {
    let message = message.strip_prefix("Failed: ").unwrap_or(message);
    let message = message.trim_end().trim_end_matches('.');
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "unknown error".to_string(),
    }
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        match e.inner.category {
            Category::Io => match e.inner.source {
                Some(source) => source,
                None => std::io::Error::other(e.to_string()),
            },
            Category::Wire | Category::Limit => {
                std::io::Error::new(std::io::ErrorKind::InvalidData, e)
            }
            _ => std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
        }
    }
}
