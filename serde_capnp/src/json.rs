//! JSON in the dialect of Cap'n Proto's reference codec (`capnp convert binary:json` and
//! `json:binary`), with the `$Json` annotations of `/capnp/compat/json.capnp`.
//!
//! Both directions work on the message itself, with no [`Value`] in between: writing walks the
//! message with the schema and prints as it goes; reading parses the JSON text and builds the
//! message while it parses, then lays the message out afresh in the order the reference tool
//! uses (so a small message comes out byte for byte as the tool writes it).
//!
//! The format, as the reference tool writes it:
//!
//! - every field outside a union is written, except pointers that are null; the active union
//!   member is always written (a null pointer shows its default), after the other fields;
//! - Void is `null`; Int64 and UInt64 are strings; other integers are numbers; floats are
//!   numbers, or the strings `"NaN"`, `"Infinity"` and `"-Infinity"`;
//! - Data is an array of byte values (or a base64 or hex string with `$Json.base64`/`$Json.hex`);
//! - enums are their names (`$Json.name` renames them); an unknown value is its number;
//! - `$Json.name` renames fields, `$Json.flatten` lifts the fields of a struct or group into the
//!   enclosing object (with an optional prefix), `$Json.discriminator` adds a field naming the
//!   active union member (and with `valueName`, puts the member's value under a fixed name).
//!
//! The pretty layout is the tool's: objects and arrays stay on one line unless they hold more
//! than one element and one of them spans lines or is longer than 50 characters.

use std::borrow::Cow;
use std::io::Write;
use std::rc::Rc;
use std::sync::Arc;

use serde_capnp_schema::{
    Annotation, Brand, FastMap, Field, FieldSlot, NodeIndex, RawPointer, SchemaPool, StructNode,
    Type, Value as SchemaValue,
};

use crate::error::{Error, Result};
use crate::float::{push_f64, push_i64, push_number, push_u64};
use crate::schema::{struct_node, StructSchema};
use crate::value::Value;
mod read;
mod tokens;
mod write;

pub(crate) use read::copy_struct;
use read::*;
use tokens::*;
use write::*;

use crate::wire::{
    read_bits, read_discriminant, read_slot, too_deep, ElemSize, Expect, ListRef, Msg, Out, PtrRef,
    StackBase, StructRef,
};

const NAME_ID: u64 = 0xfa5b1fd61c2e7c3d;
const FLATTEN_ID: u64 = 0x82d3e852af0336bf;
const DISCRIMINATOR_ID: u64 = 0xcfa794e8d19a0162;
const BASE64_ID: u64 = 0xd7d879450a253e4b;
const HEX_ID: u64 = 0xf061e22f0ae5c7b5;

/// The ID of `capnp::json::Value`, which stands for JSON itself: the reference writes and reads
/// it as the JSON value it holds.
const JSON_VALUE_ID: u64 = 0xa3fa7845f919dd83;

/// How much the JSON text nests at most, as in the reference parser (the root object is level 1).
const MAX_JSON_NESTING: u32 = 64;

/// The layout of JSON text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum JsonStyle {
    /// Spaces after `:` and `,`, and a line per element for long lists, as
    /// `capnp convert binary:json` writes.
    #[default]
    Pretty,
    /// No whitespace at all, as `capnp convert --short binary:json` writes.
    Short,
}

impl StructSchema {
    /// Writes a message (segment table included) as JSON, laid out as
    /// `capnp convert binary:json` does (without the newline the tool adds at the end).
    ///
    /// The text is the reference codec's, character for character:
    ///
    /// - fields in schema order, leaving out null pointers; the active union member comes last,
    ///   and is written even when it is a null pointer (as its default);
    /// - Void is `null`; Int64 and UInt64 are strings (`"-2"`), the other integers numbers;
    ///   floats are numbers (as C's `%.15g`, or `%.17g` when that does not read back) or the
    ///   strings `"NaN"`, `"Infinity"`, `"-Infinity"`;
    /// - Data is an array of byte values, enums are names (an unknown one is its number);
    /// - the annotations of `/capnp/compat/json.capnp` apply: `$Json.name`, `$Json.flatten`
    ///   (with `prefix`), `$Json.discriminator` (with `name` and `valueName`), `$Json.base64`
    ///   and `$Json.hex`; a `capnp::json::Value` is written as the JSON it holds;
    /// - `AnyPointer` and capabilities have no JSON form: a non-null one is an error.
    ///
    /// The message is read directly, with no [`Value`] in between.
    ///
    /// ```
    /// # fn main() -> serde_capnp::Result<()> {
    /// let schema = serde_capnp::Schema::parse(
    ///     "point.capnp",
    ///     "@0xbf5147cbbecf40c1;\nstruct Point { x @0 :Int32; y @1 :Int64; label @2 :Text; }\n",
    /// )?;
    /// let point = schema.struct_type("Point")?;
    /// let bytes = point.from_json(r#"{"x": 1, "y": "-2"}"#)?;
    /// assert_eq!(point.to_json(&bytes)?, r#"{"x": 1, "y": "-2"}"#);
    /// assert_eq!(point.to_json_short(&bytes)?, r#"{"x":1,"y":"-2"}"#);
    /// # Ok(())
    /// # }
    /// ```
    pub fn to_json(&self, bytes: &[u8]) -> Result<String> {
        self.json_string(bytes, JsonStyle::Pretty)
    }

    /// Writes a message as JSON with no whitespace, as `capnp convert --short binary:json` does.
    pub fn to_json_short(&self, bytes: &[u8]) -> Result<String> {
        self.json_string(bytes, JsonStyle::Short)
    }

    /// Appends the JSON of a message to `out`, in the given style (on an error, `out` is left
    /// as it was). Reusing `out` across messages saves its allocation.
    pub fn to_json_in(&self, bytes: &[u8], style: JsonStyle, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        let r = self.write_json_into(bytes, self.brand(), style, out);
        if r.is_err() {
            out.truncate(start);
        }
        r
    }

    /// JSON of a message whose root is this struct with the generic parameters `brand` binds
    /// (a constant of a generic type, as `eval` prints it).
    pub(crate) fn branded_json(
        &self,
        bytes: &[u8],
        brand: Option<&Brand>,
        style: JsonStyle,
    ) -> Result<String> {
        let mut out = Vec::with_capacity(bytes.len() * 2);
        self.write_json_into(bytes, brand, style, &mut out)?;
        String::from_utf8(out).map_err(|_| Error::data("JSON output is not UTF-8"))
    }

    fn write_json_into(
        &self,
        bytes: &[u8],
        brand: Option<&Brand>,
        style: JsonStyle,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let segments = crate::framing::split_exact_segs(bytes, &self.options)?;
        let (pool, node) = self.pool();
        let msg = Msg::new(segments, self.options.limits())?;
        let root = msg
            .read_struct(msg.root()?)?
            .unwrap_or_else(StructRef::empty);
        self.check_json()?;
        let mut enc = Enc {
            pool,
            msg,
            out: std::mem::take(out),
            pretty: style == JsonStyle::Pretty,
            delims: Vec::new(),
            depth: 0,
            nesting_limit: self.options.nesting_limit,
            stack: StackBase::here(),
            keys: Default::default(),
        };
        let st = struct_node(pool, node)?;
        let cx = Ctx {
            s: root,
            node: st,
            brand,
            names: union_names(struct_discriminator(pool, node), None),
        };
        let mut multiline = false;
        // The root struct counts towards the nesting limit, as it does for every reader.
        let r = enc.enter().and_then(|()| {
            if pool.node(node).id == JSON_VALUE_ID {
                enc.raw(root, 0, &mut multiline, false)
            } else {
                enc.object(&cx, 0, &mut multiline, false)
            }
        });
        *out = enc.out;
        r
    }

    /// Writes the JSON of a message into `writer`. The text is put together in memory first
    /// (the pretty layout of a list depends on all of its elements), then written at once.
    pub fn write_json<W: Write>(
        &self,
        bytes: &[u8],
        style: JsonStyle,
        mut writer: W,
    ) -> Result<()> {
        let mut out = Vec::new();
        self.to_json_in(bytes, style, &mut out)?;
        writer.write_all(&out)?;
        Ok(())
    }

    /// Writes a [`Value`] as JSON (through its message).
    pub fn value_to_json(&self, value: &Value, style: JsonStyle) -> Result<String> {
        self.json_string(&self.to_vec(value)?, style)
    }

    /// Reads JSON as `capnp convert json:binary` does and returns the message, segment table
    /// included. Fields the schema does not know are ignored; fields missing from the text keep
    /// their defaults.
    ///
    /// Everything the reference writes reads back, and the reference's leniencies are kept:
    /// integers may be strings in C syntax (`"0x1f"`, `" +12"`), floats may be strings
    /// (`"Infinity"`, `"1e400"`) or `null` (NaN), a number may end in `.`, enums may be numbers,
    /// Void takes any value, a union's value may come before its tag, and a later entry for a
    /// field replaces an earlier one. The message is built while the text is parsed, then laid
    /// out as the reference lays out the messages it writes, so that for messages the tool keeps
    /// in one segment (up to 8 KiB) the bytes are the tool's.
    ///
    /// Where this differs from the reference (0.9.2), on purpose: `\u` escapes decode as JSON
    /// defines them (the tool reads the hex digits `a`-`f` as 0-5), surrogate pairs combine and
    /// a lone surrogate becomes U+FFFD; an integer given as a JSON number converts exactly (the
    /// tool goes through a double, which loses digits past 2^53); strings holding hexadecimal
    /// floats or `nan(...)`, which C's `strtod` reads, are refused.
    pub fn from_json(&self, json: &str) -> Result<Vec<u8>> {
        self.check_json()?;
        let (pool, node) = self.pool();
        let st = struct_node(pool, node)?;
        let mut dec = Dec {
            pool,
            plans: Plans::new(pool),
            p: Parser {
                src: json,
                b: json.as_bytes(),
                pos: 0,
                depth: 0,
            },
            out: Out::with_buffer(Vec::new(), 0),
            scratch: Vec::new(),
            bytes: Vec::new(),
        };
        let tok = dec.p.token()?;
        let root = dec
            .out
            .init_struct(Out::ROOT, st.data_words, st.pointer_count)?;
        if pool.node(node).id == JSON_VALUE_ID {
            dec.raw(root.data, root.ptrs, tok)?;
        } else {
            if !matches!(tok, Tok::Obj) {
                return Err(expected("an object", &tok));
            }
            dec.object(&View {
                data: root.data,
                ptrs: root.ptrs,
                idx: node,
                node: st,
                brand: self.brand.clone(),
            })?;
        }
        dec.p.ws();
        if dec.p.pos != dec.p.b.len() {
            return Err(dec.p.err("text follows the JSON value"));
        }
        let mut fresh = Out::with_buffer(Vec::with_capacity(dec.out.buf.len()), dec.out.buf.len());
        copy_pointer(&dec.out.buf, Out::ROOT, &mut fresh, Out::ROOT, 0)?;
        Ok(fresh.finish())
    }

    /// Refuses, as the reference does whichever way it converts, a root from which a struct
    /// with `$Json` annotations the codec cannot honour is reachable. Checked once per handle.
    fn check_json(&self) -> Result<()> {
        self.plans
            .json_check(|| check_annotations(&self.pool, &self.root_type()))
            .map_err(Error::schema)
    }

    /// Reads JSON into a [`Value`] (see [`from_json`](Self::from_json)).
    pub fn from_json_value(&self, json: &str) -> Result<Value> {
        self.read_value(&self.from_json(json)?)
    }

    fn json_string(&self, bytes: &[u8], style: JsonStyle) -> Result<String> {
        let mut out = Vec::with_capacity(bytes.len() * 2);
        self.to_json_in(bytes, style, &mut out)?;
        // Everything written is UTF-8: text is checked when read, the rest is ASCII.
        String::from_utf8(out).map_err(|_| Error::data("JSON output is not UTF-8"))
    }
}

// ---------------------------------------------------------------------------------------------
// Annotations
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
enum Blob {
    #[default]
    Array,
    Base64,
    Hex,
}

/// The `$Json` annotations on a field or enumerant.
#[derive(Clone, Copy, Default)]
struct Attrs<'p> {
    name: Option<&'p str>,
    flatten: Option<Option<&'p RawPointer>>,
    discriminator: Option<Option<&'p RawPointer>>,
    blob: Blob,
}

impl<'p> Attrs<'p> {
    #[inline]
    fn of(annotations: &'p [Annotation]) -> Attrs<'p> {
        let mut a = Attrs::default();
        for an in annotations {
            let raw = match &an.value {
                SchemaValue::Struct(r) => Some(r),
                _ => None,
            };
            match an.id {
                NAME_ID => {
                    if let SchemaValue::Text(t) = &an.value {
                        a.name = Some(t);
                    }
                }
                FLATTEN_ID => a.flatten = Some(raw),
                DISCRIMINATOR_ID => a.discriminator = Some(raw),
                BASE64_ID => a.blob = Blob::Base64,
                HEX_ID => a.blob = Blob::Hex,
                _ => {}
            }
        }
        a
    }

    fn prefix(&self) -> &'p str {
        self.flatten
            .flatten()
            .and_then(|r| struct_text(r, 0))
            .unwrap_or("")
    }
}

/// Text field `index` of a struct held by a schema value (an annotation's options), read from
/// its single-segment encoding; `None` when that pointer is null.
fn struct_text(raw: &RawPointer, index: u16) -> Option<&str> {
    let seg = raw.segment();
    let w = word_at(seg, 0)?;
    if w & 3 != 0 || w == 0 {
        return None;
    }
    let target = 8 + (((w as u32) as i32 >> 2) as i64) * 8;
    let data_words = ((w >> 32) & 0xffff) as i64;
    if index as u64 >= w >> 48 {
        return None;
    }
    let at = target + (data_words + index as i64) * 8;
    let p = word_at(seg, usize::try_from(at).ok()?)?;
    if p & 3 != 1 || (p >> 32) & 7 != ElemSize::Byte as u64 {
        return None;
    }
    let start = usize::try_from(at + 8 + (((p as u32) as i32 >> 2) as i64) * 8).ok()?;
    let len = (p >> 35) as usize;
    let bytes = seg.get(start..start.checked_add(len)?)?;
    std::str::from_utf8(bytes.strip_suffix(&[0])?).ok()
}

fn word_at(seg: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        seg.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// The discriminator options a struct type declares for its unnamed union.
fn struct_discriminator(pool: &SchemaPool, node: NodeIndex) -> Option<Option<&RawPointer>> {
    Attrs::of(&pool.node(node).annotations).discriminator
}

/// The names a discriminated union uses: the tag field and the value field.
#[derive(Clone, Copy, Default)]
struct UnionNames<'p> {
    tag: Option<&'p str>,
    value: Option<&'p str>,
}

/// `decl` is the union's own field name, which names the tag when the union is flattened and
/// its discriminator gives no name.
fn union_names<'p>(disc: Option<Option<&'p RawPointer>>, decl: Option<&'p str>) -> UnionNames<'p> {
    match disc {
        None => UnionNames::default(),
        Some(raw) => UnionNames {
            tag: raw.and_then(|r| struct_text(r, 0)).or(decl),
            value: raw.and_then(|r| struct_text(r, 1)),
        },
    }
}

fn unsupported(ty: &Type, pool: &SchemaPool) -> Error {
    Error::schema(format!(
        "JSON has no form for `{}` (the reference codec needs a custom handler for it)",
        ty.describe(pool)
    ))
}

fn enumerant_name(pool: &SchemaPool, node: NodeIndex, v: u16) -> Option<&str> {
    let e = pool.node(node).as_enum()?.enumerants.get(v as usize)?;
    Some(Attrs::of(&e.annotations).name.unwrap_or(&e.name))
}
