//! Cap'n Proto as a serde data format, driven by schemas loaded at run time.
//!
//! Load a compiled schema, pick a struct, and serialize any `#[derive(Serialize)]` value into
//! real Cap'n Proto bytes that every other implementation reads — or read such bytes back into
//! a `#[derive(Deserialize)]` value.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct PhoneNumber { number: String, #[serde(rename = "type")] kind: PhoneType }
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! #[serde(rename_all = "camelCase")]
//! enum PhoneType { Mobile, Home, Work }
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! enum Employment { Unemployed, Employer(String), School(String), SelfEmployed }
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct Person {
//!     id: u32,
//!     name: String,
//!     email: String,
//!     phones: Vec<PhoneNumber>,
//!     employment: Employment,
//! }
//!
//! # fn main() -> serde_capnp::Result<()> {
//! let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/compiled/addressbook.bin"))?;
//! let schema = serde_capnp::Schema::from_code_generator_request(&bytes)?;
//! let person = schema.struct_type("Person")?;
//!
//! let alice = Person {
//!     id: 123,
//!     name: "Alice".into(),
//!     email: "alice@example.com".into(),
//!     phones: vec![PhoneNumber { number: "555-1212".into(), kind: PhoneType::Mobile }],
//!     employment: Employment::School("MIT".into()),
//! };
//! let message: Vec<u8> = person.to_vec(&alice)?;
//! let back: Person = person.from_slice(&message)?;
//! assert_eq!(back, alice);
//! # Ok(())
//! # }
//! ```
//!
//! # The mapping
//!
//! | Rust / serde | Cap'n Proto |
//! |---|---|
//! | struct, map with string keys | struct; fields matched by name (`first_name` ↔ `firstName`) |
//! | nested struct | struct field or group |
//! | enum with unit variants | enum (`SelfEmployed` ↔ `selfEmployed`), or an integer (variant index) |
//! | enum with data | union: unit variant ↔ Void member, newtype ↔ member, struct variant ↔ group |
//! | `Option<T>` | pointer: `None` ↔ null; data field: `None` leaves the default |
//! | `String`, `&str`, `char` | Text |
//! | bytes (`serde_bytes`) | Data (a sequence of `u8` works too) |
//! | `Vec<T>`, slices, arrays, sets, tuples | List(T) |
//! | map with non-string keys | List of structs with `key` and `value` fields |
//! | `()`, unit struct | Void |
//! | integers, floats, bool | the field's own width; out-of-range values are errors |
//!
//! A struct's unnamed union is reached through a Rust field named `which` whose type is an enum
//! (or through `#[serde(flatten)]` on such a field). Reading is tolerant, as schema evolution
//! requires: fields missing from an older message read as their defaults, and fields the Rust
//! type does not know are skipped. Writing is strict: a Rust field the schema lacks is an error.
//!
//! `#[serde(alias)]` names another name a field may be read from. Cap'n Proto always carries
//! every field of the schema, so a derived type with an alias that is itself a field of the
//! schema can never be read unambiguously: reading it is an error. A struct whose `Deserialize`
//! serde derived, and whose field list names only distinct plain fields of the schema (no union
//! members, no aliases the schema lacks), is read field by field in the order of that list: no
//! field names are matched. Any other struct, and any other `Deserialize`, gets its fields as a
//! map keyed by name.
#![warn(missing_docs)]

/// Implements serde's tuple serializer traits for a type by its `SerializeSeq`: Cap'n Proto
/// writes tuples, tuple structs and tuple variants as lists.
macro_rules! tuples_as_seq {
    ($ty:ty, $ok:ty) => {
        impl serde::ser::SerializeTuple for $ty {
            type Ok = $ok;
            type Error = crate::Error;
            fn serialize_element<T: ?Sized + serde::Serialize>(
                &mut self,
                value: &T,
            ) -> crate::Result<()> {
                serde::ser::SerializeSeq::serialize_element(self, value)
            }
            fn end(self) -> crate::Result<$ok> {
                serde::ser::SerializeSeq::end(self)
            }
        }

        impl serde::ser::SerializeTupleStruct for $ty {
            type Ok = $ok;
            type Error = crate::Error;
            fn serialize_field<T: ?Sized + serde::Serialize>(
                &mut self,
                value: &T,
            ) -> crate::Result<()> {
                serde::ser::SerializeSeq::serialize_element(self, value)
            }
            fn end(self) -> crate::Result<$ok> {
                serde::ser::SerializeSeq::end(self)
            }
        }

        impl serde::ser::SerializeTupleVariant for $ty {
            type Ok = $ok;
            type Error = crate::Error;
            fn serialize_field<T: ?Sized + serde::Serialize>(
                &mut self,
                value: &T,
            ) -> crate::Result<()> {
                serde::ser::SerializeSeq::serialize_element(self, value)
            }
            fn end(self) -> crate::Result<$ok> {
                serde::ser::SerializeSeq::end(self)
            }
        }
    };
}

mod bound;
mod content;
mod de;
mod de_fast;
mod de_list;
mod direct;
pub mod dynamic;
mod error;
mod float;
pub mod framing;
mod io;
mod json;
pub mod packing;
mod plan;
#[cfg(feature = "rpc")]
pub mod rpc;
mod schema;
mod ser;
mod ser_fast;
mod ser_list;
mod text;
mod value;
mod wire;

use std::io::{BufRead, Read, Write};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use bound::IncludedSchema;
pub use error::{Category, Error, Result};
pub use json::JsonStyle;
pub use schema::{ReadOptions, Schema, StructSchema};
pub use serde_capnp_schema as model;
/// The built-in schema compiler, for [`Schema::compile`] with import paths or in-memory files.
pub use serde_capnp_schema::compiler::{CompileError, Compiler};
pub use value::{from_value, to_value, Enumerant, Struct, Value};

impl StructSchema {
    /// Serializes `value` as a message (segment table included) into a new vector.
    pub fn to_vec<T: ?Sized + Serialize>(&self, value: &T) -> Result<Vec<u8>> {
        use std::sync::atomic::Ordering::Relaxed;
        // A buffer the size of the last message, zeroed by the allocator: a large one comes
        // from fresh zero pages, so the writer never clears it again.
        self.write_into(wire::Out::zeroed(self.size_hint.load(Relaxed)), value)
    }

    fn write_into<T: ?Sized + Serialize>(&self, out: wire::Out, value: &T) -> Result<Vec<u8>> {
        use std::sync::atomic::Ordering::Relaxed;
        let bytes = ser::serialize(
            &self.pool,
            self.root_type(),
            value,
            out,
            &self.plans,
            self.options.nesting_limit,
        )?;
        self.size_hint.store(bytes.len(), Relaxed);
        Ok(bytes)
    }

    /// Serializes `value` into `buffer`, reusing its allocation, and returns it.
    pub fn to_vec_in<T: ?Sized + Serialize>(&self, value: &T, buffer: Vec<u8>) -> Result<Vec<u8>> {
        use std::sync::atomic::Ordering::Relaxed;
        self.write_into(
            wire::Out::with_buffer(buffer, self.size_hint.load(Relaxed)),
            value,
        )
    }

    /// Serializes `value` as a packed message.
    pub fn to_vec_packed<T: ?Sized + Serialize>(&self, value: &T) -> Result<Vec<u8>> {
        let flat = self.to_vec(value)?;
        let mut out = Vec::new();
        wire::pack(&flat, &mut out);
        Ok(out)
    }

    /// Serializes `value` as a message into `writer`.
    pub fn to_writer<W: Write, T: ?Sized + Serialize>(
        &self,
        mut writer: W,
        value: &T,
    ) -> Result<()> {
        writer.write_all(&self.to_vec(value)?)?;
        Ok(())
    }

    /// Serializes `value` as a packed message into `writer`.
    pub fn to_writer_packed<W: Write, T: ?Sized + Serialize>(
        &self,
        mut writer: W,
        value: &T,
    ) -> Result<()> {
        writer.write_all(&self.to_vec_packed(value)?)?;
        Ok(())
    }

    /// Serializes `value` and returns the message's segments, without the segment table.
    pub fn to_segments<T: ?Sized + Serialize>(&self, value: &T) -> Result<Vec<Vec<u8>>> {
        let flat = self.to_vec(value)?;
        Ok(vec![flat[8..].to_vec()])
    }

    /// Deserializes a message (segment table included) from a slice.
    ///
    /// Text and Data can be borrowed from `bytes` (`&str`, `&[u8]`, `Cow`) with no copy.
    /// Bytes after the message are an error.
    pub fn from_slice<'de, T: Deserialize<'de>>(&'de self, bytes: &'de [u8]) -> Result<T> {
        let segments = framing::split_exact_segs(bytes, &self.options)?;
        de::deserialize(
            &self.pool,
            self.root_type(),
            segments,
            self.options.limits(),
            &self.plans,
        )
        .map_err(|e| framing::hint_format(e, bytes, framing::Format::Binary))
    }

    /// Deserializes a message from its segments (no segment table), as given by
    /// [`to_segments`](Self::to_segments) or another implementation's segment API.
    pub fn from_segments<'de, T: Deserialize<'de>>(&'de self, segments: &[&'de [u8]]) -> Result<T> {
        de::deserialize(
            &self.pool,
            self.root_type(),
            segments,
            self.options.limits(),
            &self.plans,
        )
    }

    /// Deserializes a packed message from a slice.
    pub fn from_slice_packed<T: DeserializeOwned>(&self, mut bytes: &[u8]) -> Result<T> {
        let value = self.from_reader_packed(&mut bytes)?;
        if !bytes.is_empty() {
            return Err(Error::wire(format!(
                "{} bytes follow the message",
                bytes.len()
            )));
        }
        Ok(value)
    }

    /// Deserializes one message from `reader`. Only the message's bytes are read: what follows
    /// it stays in the reader.
    ///
    /// The segment table is checked against the read options before anything is allocated, and
    /// the segments are read into a buffer that grows as their bytes arrive, so that a table
    /// claiming more than is sent costs nothing (see [`framing`]).
    pub fn from_reader<R: Read, T: DeserializeOwned>(&self, reader: R) -> Result<T> {
        let mut input = io::Plain::new(reader);
        self.read_next(&mut input, framing::Format::Binary)?
            .ok_or_else(framing::empty_stream)?
    }

    /// Deserializes one packed message from `reader`, consuming only its bytes.
    pub fn from_reader_packed<R: BufRead, T: DeserializeOwned>(&self, reader: R) -> Result<T> {
        let mut input = io::Unpack::new(reader);
        self.read_next(&mut input, framing::Format::Packed)?
            .ok_or_else(framing::empty_stream)?
    }

    /// Reads a stream of messages, one after another, from `reader` (like pycapnp's
    /// `read_multiple`). The iterator ends at a clean end of input.
    pub fn iter_from_reader<R: Read, T: DeserializeOwned>(
        &self,
        reader: R,
    ) -> StreamDeserializer<'_, R, T> {
        StreamDeserializer {
            schema: self,
            reader,
            done: false,
            _marker: std::marker::PhantomData,
        }
    }

    /// Reads a stream of packed messages from `reader`.
    pub fn iter_from_reader_packed<R: BufRead, T: DeserializeOwned>(
        &self,
        reader: R,
    ) -> PackedStreamDeserializer<'_, R, T> {
        PackedStreamDeserializer(StreamDeserializer {
            schema: self,
            reader,
            done: false,
            _marker: std::marker::PhantomData,
        })
    }

    /// Reads the next message of `input` (`None` at its end) and deserializes it; an error
    /// about input that is not in `format` says what it looks like instead.
    fn read_next<T: DeserializeOwned>(
        &self,
        input: &mut impl io::Input,
        format: framing::Format,
    ) -> Result<Option<Result<T>>> {
        let Some(segments) = framing::next_message(input, &self.options, format)? else {
            return Ok(None);
        };
        Ok(Some(
            self.read_segments(&segments)
                .map_err(|e| framing::hinted(e, input, format)),
        ))
    }

    fn read_segments<T: DeserializeOwned>(&self, segments: &framing::Segments) -> Result<T> {
        de::deserialize(
            &self.pool,
            self.root_type(),
            segments.to_slices(),
            self.options.limits(),
            &self.plans,
        )
    }
}

/// An iterator over the messages of a stream; see [`StructSchema::iter_from_reader`].
pub struct StreamDeserializer<'s, R, T> {
    schema: &'s StructSchema,
    reader: R,
    done: bool,
    _marker: std::marker::PhantomData<fn() -> T>,
}

/// An iterator over the messages of a packed stream; see
/// [`StructSchema::iter_from_reader_packed`].
pub struct PackedStreamDeserializer<'s, R, T>(StreamDeserializer<'s, R, T>);

impl<R, T: DeserializeOwned> StreamDeserializer<'_, R, T> {
    /// The item for what reading the next message gave.
    fn item(&mut self, next: Result<Option<Result<T>>>) -> Option<Result<T>> {
        let item = match next {
            Ok(Some(Ok(value))) => return Some(Ok(value)),
            Ok(None) => None,
            Ok(Some(Err(e))) | Err(e) => Some(Err(e)),
        };
        // A stream cannot resynchronize after a bad message.
        self.done = true;
        item
    }
}

impl<R: Read, T: DeserializeOwned> Iterator for StreamDeserializer<'_, R, T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        if self.done {
            return None;
        }
        let mut input = io::Plain::new(&mut self.reader);
        let next = self.schema.read_next(&mut input, framing::Format::Binary);
        self.item(next)
    }
}

impl<R: BufRead, T: DeserializeOwned> Iterator for PackedStreamDeserializer<'_, R, T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        let this = &mut self.0;
        if this.done {
            return None;
        }
        let mut input = io::Unpack::new(&mut this.reader);
        let next = this.schema.read_next(&mut input, framing::Format::Packed);
        this.item(next)
    }
}

/// A Rust type bound to its Cap'n Proto struct, so that the schema need not be passed around:
/// [`to_vec`] and [`from_slice`] work like `serde_json::to_vec` and `serde_json::from_slice`.
///
/// `#[derive(Capnp)]` implements it from a schema compiled at build time, after checking every
/// field against the schema:
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use serde_capnp::Capnp;
///
/// #[derive(Serialize, Deserialize, Capnp, Debug, PartialEq)]
/// #[capnp(schema = "../schemas/addressbook.capnp", name = "Person.PhoneNumber")]
/// struct PhoneNumber { number: String, #[serde(rename = "type")] kind: PhoneType }
///
/// #[derive(Serialize, Deserialize, Capnp, Debug, PartialEq)]
/// #[capnp(schema = "../schemas/addressbook.capnp", name = "Person.PhoneNumber.Type")]
/// enum PhoneType { Mobile, Home, Work }
///
/// # fn main() -> serde_capnp::Result<()> {
/// let phone = PhoneNumber { number: "555-1212".into(), kind: PhoneType::Home };
/// let bytes = serde_capnp::to_vec(&phone)?;
/// assert_eq!(serde_capnp::from_slice::<PhoneNumber>(&bytes)?, phone);
///
/// use serde_capnp::CapnpStruct;
/// assert_eq!(PhoneNumber::NODE_ID, PhoneNumber::struct_schema()?.id());
/// # Ok(())
/// # }
/// ```
///
/// It can also be implemented by hand, for a schema loaded some other way; such a type is read
/// by the free functions once it also implements [`CapnpRead`] (with an empty body).
///
/// For a derived type, [`to_vec`], [`from_slice`] and the other free functions skip serde's
/// per-field protocol: the derive also generates code that stores and loads each field at its
/// offset and calls the nested bound types' own such code, as capnpc's generated code does. The
/// messages, values and errors are those of the serde path (the handle's
/// [`StructSchema::to_vec`] and [`StructSchema::from_slice`], which always take it), with every
/// read limit applied alike. The derive assumes the type's `Serialize` and `Deserialize` are
/// serde's derived ones, whose attributes it reads; a field it cannot reproduce (a
/// `serialize_with` function, a type it cannot see into) goes through the serde path on its
/// own, and a type it cannot reproduce as a whole (`flatten`, aliases, `transparent`, generic
/// parameters, fields of a union) goes through it entirely. Types that borrow from the message
/// take the direct path too (see [`CapnpRead`], which has an example). `#[capnp(direct =
/// false)]` turns the direct path off, for a type whose `Serialize` or `Deserialize` is written
/// by hand.
pub trait CapnpStruct {
    /// The 64-bit ID of the node the type is bound to: a struct, a group, a named union, or
    /// (for a Rust enum) an enum.
    const NODE_ID: u64;

    /// The handle of the struct the type is bound to.
    ///
    /// A Rust enum bound to a schema enum has none (an enum is no message), and gets an error
    /// that says so; its `NODE_ID` is what the structs holding it check at compile time.
    ///
    /// A derived implementation builds it on the first call from the schema embedded at
    /// compile time, and returns the same handle after that. It fails only if what the macro
    /// could not see (a field whose type is an alias, a newtype or has a `deserialize_with`)
    /// turns out not to fit the schema, and then fails the same way on every call.
    fn struct_schema() -> Result<&'static StructSchema>;

    /// Whether [`__write_direct`](Self::__write_direct) writes the type (the derive's direct
    /// path); the free functions use the serde path otherwise.
    #[doc(hidden)]
    const __DIRECT_WRITE: bool = false;

    /// Writes the value as a message's root without serde; see `__DIRECT_WRITE`.
    #[doc(hidden)]
    fn __write_direct(&self, _w: &mut __private::Writer<'_>) -> Result<()> {
        Err(direct::no_direct_path())
    }
}

/// The reading half of a binding: [`from_slice`] and the other free read functions read a
/// [`CapnpStruct`] type that implements it from a message whose bytes live for `'de`.
///
/// `#[derive(Capnp)]` implements it as serde's derive implements `Deserialize<'de>`: for every
/// `'de` for an owned type, and with `'de` outliving the lifetimes the fields borrow for a type
/// that borrows from the message (`impl<'de: 'a, 'a> CapnpRead<'de> for LogBorrowed<'a>`). A
/// type that borrows reads by the direct path all the same: its `&str` and `&[u8]` fields
/// (`Option`s of them, and `Cow`s with `#[serde(borrow)]`) point into the message, and its
/// nested bound structs and lists of them are read in place, with no copy and no serde call.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use serde_capnp::Capnp;
///
/// #[derive(Serialize, Deserialize, Capnp, Debug, PartialEq)]
/// #[capnp(schema = "../schemas/addressbook.capnp", name = "Person.PhoneNumber")]
/// struct PhoneNumber<'a> { number: &'a str, #[serde(rename = "type")] kind: PhoneType }
///
/// #[derive(Serialize, Deserialize, Capnp, Debug, PartialEq)]
/// #[capnp(schema = "../schemas/addressbook.capnp", name = "Person.PhoneNumber.Type")]
/// enum PhoneType { Mobile, Home, Work }
///
/// #[derive(Serialize, Deserialize, Capnp, Debug, PartialEq)]
/// #[capnp(schema = "../schemas/addressbook.capnp", name = "Person")]
/// struct Person<'a> {
///     id: u32,
///     name: &'a str,
///     email: Option<&'a str>,
///     #[serde(borrow)]
///     phones: Vec<PhoneNumber<'a>>,
/// }
///
/// # fn main() -> serde_capnp::Result<()> {
/// let alice = Person {
///     id: 123,
///     name: "Alice",
///     email: None,
///     phones: vec![PhoneNumber { number: "555-1212", kind: PhoneType::Mobile }],
/// };
/// let bytes = serde_capnp::to_vec(&alice)?;
/// let back: Person<'_> = serde_capnp::from_slice(&bytes)?;
/// assert_eq!(back, alice);
/// // `name` points into `bytes`.
/// assert!(bytes.as_ptr_range().contains(&back.name.as_ptr()));
/// # Ok(())
/// # }
/// ```
///
/// A type that implements [`CapnpStruct`] by hand implements this trait with an empty body,
/// `impl<'de> serde_capnp::CapnpRead<'de> for MyType {}`, and is read through its
/// `Deserialize`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not bound for reading: it does not implement `CapnpRead`",
    note = "`#[derive(Capnp)]` implements `CapnpRead`; a type bound by implementing `CapnpStruct` by hand adds `impl<'de> serde_capnp::CapnpRead<'de> for {Self} {{}}`"
)]
pub trait CapnpRead<'de>: CapnpStruct + Sized {
    /// Whether [`__read_direct`](Self::__read_direct) reads the type (the derive's direct
    /// path); the free functions use the serde path otherwise.
    #[doc(hidden)]
    const __DIRECT_READ: bool = false;

    /// Reads the value from a message's root struct without serde; see `__DIRECT_READ`.
    #[doc(hidden)]
    fn __read_direct(_r: &mut __private::Reader<'de>, _s: __private::In<'de>) -> Result<Self> {
        Err(direct::no_direct_path())
    }
}

impl StructSchema {
    /// Serializes a bound value by its direct path when it has one.
    fn to_vec_bound<T: ?Sized + Serialize + CapnpStruct>(&self, value: &T) -> Result<Vec<u8>> {
        if !T::__DIRECT_WRITE {
            return self.to_vec(value);
        }
        use std::sync::atomic::Ordering::Relaxed;
        let out = wire::Out::zeroed(self.size_hint.load(Relaxed));
        let bytes = direct::write_root(self, value, out)?;
        self.size_hint.store(bytes.len(), Relaxed);
        Ok(bytes)
    }

    /// Deserializes a bound value from a slice by its direct path when it has one.
    fn read_slice_bound<'de, T: Deserialize<'de> + CapnpRead<'de>>(
        &'de self,
        bytes: &'de [u8],
    ) -> Result<T> {
        if !T::__DIRECT_READ {
            return self.from_slice(bytes);
        }
        let segments = framing::split_exact(bytes, &self.options)?;
        self.read_bound(segments)
            .map_err(|e| framing::hint_format(e, bytes, framing::Format::Binary))
    }

    /// Reads a bound value that has a direct path from a message's segments.
    fn read_bound<'de, T: CapnpRead<'de>>(&'de self, segments: Vec<&'de [u8]>) -> Result<T> {
        direct::read_root(self, segments)
    }
}

/// Serializes a bound value; see [`CapnpStruct`].
pub fn to_vec<T: ?Sized + Serialize + CapnpStruct>(value: &T) -> Result<Vec<u8>> {
    T::struct_schema()?.to_vec_bound(value)
}

/// Serializes a bound value as a packed message.
pub fn to_vec_packed<T: ?Sized + Serialize + CapnpStruct>(value: &T) -> Result<Vec<u8>> {
    let flat = to_vec(value)?;
    let mut out = Vec::new();
    wire::pack(&flat, &mut out);
    Ok(out)
}

/// Serializes a bound value into a writer.
pub fn to_writer<W: Write, T: ?Sized + Serialize + CapnpStruct>(
    mut writer: W,
    value: &T,
) -> Result<()> {
    writer.write_all(&to_vec(value)?)?;
    Ok(())
}

/// Deserializes a bound value from a slice; see [`CapnpRead`].
///
/// Text and Data can be borrowed from `bytes` (`&str`, `&[u8]`, `Cow`) with no copy.
pub fn from_slice<'de, T: Deserialize<'de> + CapnpRead<'de>>(bytes: &'de [u8]) -> Result<T> {
    T::struct_schema()?.read_slice_bound(bytes)
}

/// Deserializes a bound value from a packed slice.
pub fn from_slice_packed<T>(mut bytes: &[u8]) -> Result<T>
where
    T: DeserializeOwned + for<'de> CapnpRead<'de>,
{
    let st = T::struct_schema()?;
    if !<T as CapnpRead<'_>>::__DIRECT_READ {
        return st.from_slice_packed(bytes);
    }
    let mut input = io::Unpack::new(&mut bytes);
    let value = read_next_bound(st, &mut input, framing::Format::Packed)?
        .ok_or_else(framing::empty_stream)??;
    if !bytes.is_empty() {
        return Err(Error::wire(format!(
            "{} bytes follow the message",
            bytes.len()
        )));
    }
    Ok(value)
}

/// Deserializes a bound value from a reader.
pub fn from_reader<R: Read, T>(reader: R) -> Result<T>
where
    T: DeserializeOwned + for<'de> CapnpRead<'de>,
{
    let st = T::struct_schema()?;
    if !<T as CapnpRead<'_>>::__DIRECT_READ {
        return st.from_reader(reader);
    }
    let mut input = io::Plain::new(reader);
    read_next_bound(st, &mut input, framing::Format::Binary)?.ok_or_else(framing::empty_stream)?
}

/// [`StructSchema::read_next`] by the direct path.
fn read_next_bound<T: DeserializeOwned + for<'de> CapnpRead<'de>>(
    st: &StructSchema,
    input: &mut impl io::Input,
    format: framing::Format,
) -> Result<Option<Result<T>>> {
    let Some(segments) = framing::next_message(input, &st.options, format)? else {
        return Ok(None);
    };
    Ok(Some(
        st.read_bound(segments.to_slices())
            .map_err(|e| framing::hinted(e, input, format)),
    ))
}

/// Compiles a `.capnp` file when the crate is built and embeds it: pycapnp's `capnp.load`, at
/// compile time. The expression is a `Result<&'static Schema>`, loaded on first use.
///
/// As an item, `include_schema!(static NAME = "schemas/x.capnp");` declares an
/// [`IncludedSchema`] static (`pub` and other visibilities work too), which also holds the
/// schema once for every `#[derive(Capnp)]` of that file in the module.
///
/// The path is relative to the crate's manifest directory; `import = "dir"` (repeatable) adds
/// a directory for absolute imports, as in `include_schema!("x.capnp", import = "include")`.
/// A schema that does not compile is a compile error that quotes the schema's own line and
/// column, and Cargo builds again when the file or anything it imports changes. Nothing is read
/// at run time.
///
/// Loading the embedded bytes repeats what the macro already did, so it fails only when the
/// `serde_capnp` linked differs from the one the macro was built with; that failure is the
/// `Err`, on every use.
///
/// ```
/// let schema: &'static serde_capnp::Schema =
///     serde_capnp::include_schema!("../schemas/addressbook.capnp")?;
/// assert_eq!(schema.struct_type("Person")?.name(), "Person");
/// # Ok::<(), serde_capnp::Error>(())
/// ```
#[cfg(feature = "derive")]
#[macro_export]
macro_rules! include_schema {
    ($($input:tt)*) => {
        $crate::__private::include_schema! { ($crate) $($input)* }
    };
}

#[cfg(feature = "derive")]
pub use serde_capnp_derive::Capnp;

#[doc(hidden)]
pub mod __private {
    pub use crate::bound::{
        AsEmbedded, Binding, Deferred, Embedded, NotBound, NotTraceable, Probe, Trace,
    };
    pub use crate::direct::{
        data_error, in_field, read_root_fields, write_root_fields, At, DirectEnum, DirectRead,
        DirectWrite, In, Reader, Via, ViaSerdeEnumRead, ViaSerdeEnumWrite, ViaSerdeRead,
        ViaSerdeWrite, Writer,
    };
    pub use crate::{CapnpRead, CapnpStruct, Error, Result, Schema, StructSchema};
    pub use serde::{Deserialize, Deserializer, Serialize, Serializer};
    #[cfg(feature = "derive")]
    pub use serde_capnp_derive::include_schema;
    pub use std::string::String;
    pub use std::sync::OnceLock;

    /// Backs [`include_schema!`](crate::include_schema): the schema, loaded on first use.
    pub fn schema_once(
        cell: &'static std::sync::OnceLock<std::result::Result<Schema, String>>,
        schema: &Embedded,
    ) -> Result<&'static Schema> {
        match cell.get_or_init(|| schema.schema().map_err(|e| e.message().to_string())) {
            Ok(s) => Ok(s),
            Err(message) => Err(Error::schema(message.clone())),
        }
    }
}
