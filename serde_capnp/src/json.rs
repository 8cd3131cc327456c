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
        let segments = crate::framing::split_exact(bytes, &self.options)?;
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
            out: Out::with_buffer(Vec::new()),
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
        let mut fresh = Out::with_buffer(Vec::with_capacity(dec.out.buf.len()));
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

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// A struct being written: where it is, its schema, and the names of its union's tag and value.
struct Ctx<'a, 't> {
    s: StructRef<'a>,
    node: &'a StructNode,
    brand: Option<&'t Brand>,
    names: UnionNames<'a>,
}

/// The prefixes flattening adds to names, innermost last.
struct Prefix<'x> {
    outer: Option<&'x Prefix<'x>>,
    text: &'x str,
}

/// What a walk over a struct's entries does: count them (stopping at two, which is all the
/// layout needs to know) or write them.
enum Walk {
    Count(usize),
    Write(List, u32),
}

impl Walk {
    #[inline]
    fn done(&self) -> bool {
        matches!(self, Walk::Count(n) if *n >= 2)
    }
}

/// An array or object being written: enough to break it into lines once its elements are known.
struct List {
    content: usize,
    delim_base: usize,
    count: usize,
    widest: usize,
    start: usize,
    child_multiline: bool,
}

/// The value of an object entry: a field, or the text of a union's tag.
enum Entry<'a, 'x> {
    Field(&'a Field, Blob),
    Text(&'x str),
}

enum Target<'a> {
    Null,
    Ptr(PtrRef<'a>),
    Text(&'a str),
    Data(&'a [u8]),
}

fn target<'a>(p: Option<PtrRef<'a>>, default: Option<&'a SchemaValue>) -> Target<'a> {
    match p {
        Some(p) if !Msg::is_null(p) => Target::Ptr(p),
        _ => match default {
            Some(SchemaValue::Text(t)) => Target::Text(t),
            Some(SchemaValue::Data(d)) => Target::Data(d),
            Some(SchemaValue::List(r) | SchemaValue::Struct(r)) => {
                Msg::detached(r.segment()).map_or(Target::Null, Target::Ptr)
            }
            _ => Target::Null,
        },
    }
}

struct Enc<'a> {
    pool: &'a SchemaPool,
    msg: Msg<'a>,
    out: Vec<u8>,
    pretty: bool,
    /// Where the `, ` between elements of the open lists were written (pretty only).
    delims: Vec<usize>,
    depth: u32,
    nesting_limit: u32,
    stack: StackBase,
    /// Per struct node (by address), what compact output needs of it, made on first use.
    keys: crate::plan::FastMap<usize, Rc<Keys<'a>>>,
}

/// What the compact fast path needs of a struct: its fields outside the union, each with its
/// key escaped and quoted once (`,"name":`), and whether the path applies at all (no field
/// outside the union is flattened).
struct Keys<'a> {
    plain: Vec<Compact<'a>>,
    direct: bool,
}

struct Compact<'a> {
    field: &'a Field,
    /// `,"name":`; the comma is left out before the first entry.
    quoted: Box<[u8]>,
    blob: Blob,
    kind: Kind<'a>,
}

/// How the fast path reads a field.
enum Kind<'a> {
    /// A primitive or enum in the data section: its type, bit offset, width and default bits.
    Data(&'a Type, u64, u32, u64),
    /// An unsigned integer of up to 32 bits (JSON writes it as a number): its bit offset, width
    /// and default bits.
    Unsigned(u64, u32, u64),
    /// Text with no default, behind pointer `index`.
    Text(u16),
    /// Any other pointer of a non-generic type with no default, behind pointer `index`.
    Pointer(u16, &'a Type),
    /// Anything else, through [`Enc::field`].
    Other,
}

impl<'a> Enc<'a> {
    #[inline]
    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > self.nesting_limit {
            return Err(too_deep());
        }
        self.stack.check()
    }

    #[inline]
    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn struct_at(&self, t: Target<'a>) -> Result<StructRef<'a>> {
        Ok(match t {
            Target::Ptr(p) => self.msg.read_struct(p)?.unwrap_or_else(StructRef::empty),
            _ => StructRef::empty(),
        })
    }

    // --- lists and their layout ---

    #[inline]
    fn open_list(&self) -> List {
        List {
            content: self.out.len(),
            delim_base: self.delims.len(),
            count: 0,
            widest: 0,
            start: 0,
            child_multiline: false,
        }
    }

    #[inline]
    fn element(&mut self, list: &mut List) {
        if list.count > 0 {
            if self.pretty {
                self.delims.push(self.out.len());
                self.out.extend_from_slice(b", ");
            } else {
                self.out.push(b',');
            }
        }
        list.start = self.out.len();
    }

    #[inline]
    fn element_done(&mut self, list: &mut List) {
        list.count += 1;
        list.widest = list.widest.max(self.out.len() - list.start);
    }

    fn close_list(&mut self, list: List, indent: u32, multiline: &mut bool, has_prefix: bool) {
        if self.pretty && list.count > 1 && (list.child_multiline || list.widest > 50) {
            *multiline = true;
            self.break_lines(list.content, list.delim_base, indent, has_prefix);
        }
        self.delims.truncate(list.delim_base);
    }

    /// Rewrites the elements written since `content` one to a line: each `, ` becomes a comma,
    /// a newline and the indentation; the first element moves to its own line when something
    /// precedes the list on its line (a field name), and a space closes the list.
    fn break_lines(&mut self, content: usize, delim_base: usize, indent: u32, has_prefix: bool) {
        let width = (indent as usize + 1) * 2;
        let delims = self.delims.len() - delim_base;
        let lead = if has_prefix { 1 + width } else { 1 };
        let old_len = self.out.len();
        let new_len = old_len + lead + delims * width + 1;
        self.out.resize(new_len, b' ');
        let buf = &mut self.out[..];
        // Move the pieces to their places, last first, so nothing is overwritten before it moves.
        let mut write = new_len - 1; // the closing space is already in place
        let mut read = old_len;
        for &d in self.delims[delim_base..].iter().rev() {
            let piece = d + 2..read;
            let len = piece.len();
            buf.copy_within(piece, write - len);
            write -= len;
            buf[write - width..write].fill(b' ');
            write -= width;
            buf[write - 2..write].copy_from_slice(b",\n");
            write -= 2;
            read = d;
        }
        let len = read - content;
        buf.copy_within(content..read, write - len);
        write -= len;
        if has_prefix {
            buf[write - width..write].fill(b' ');
            buf[content] = b'\n';
        } else {
            buf[content] = b' ';
        }
        debug_assert_eq!(write - lead, content);
    }

    // --- scalars ---

    #[inline]
    fn null(&mut self) {
        self.out.extend_from_slice(b"null");
    }

    #[inline]
    fn string(&mut self, s: &[u8]) {
        self.out.push(b'"');
        escape_into(&mut self.out, s);
        self.out.push(b'"');
    }

    fn key(&mut self, prefix: Option<&Prefix<'_>>, name: &str) {
        fn parts(out: &mut Vec<u8>, p: Option<&Prefix<'_>>) {
            if let Some(p) = p {
                parts(out, p.outer);
                escape_into(out, p.text.as_bytes());
            }
        }
        self.out.push(b'"');
        parts(&mut self.out, prefix);
        escape_into(&mut self.out, name.as_bytes());
        self.out
            .extend_from_slice(if self.pretty { b"\": " } else { b"\":" });
    }

    fn scalar(&mut self, ty: &Type, bits: u64) -> Result<()> {
        match ty {
            Type::Void => self.null(),
            Type::Bool => {
                self.out
                    .extend_from_slice(if bits & 1 != 0 { b"true" } else { b"false" })
            }
            Type::Int8 => push_i64(&mut self.out, bits as u8 as i8 as i64),
            Type::Int16 => push_i64(&mut self.out, bits as u16 as i16 as i64),
            Type::Int32 => push_i64(&mut self.out, bits as u32 as i32 as i64),
            Type::UInt8 => push_u64(&mut self.out, bits as u8 as u64),
            Type::UInt16 => push_u64(&mut self.out, bits as u16 as u64),
            Type::UInt32 => push_u64(&mut self.out, bits as u32 as u64),
            Type::Int64 => {
                self.out.push(b'"');
                push_i64(&mut self.out, bits as i64);
                self.out.push(b'"');
            }
            Type::UInt64 => {
                self.out.push(b'"');
                push_u64(&mut self.out, bits);
                self.out.push(b'"');
            }
            Type::Float32 => push_float(&mut self.out, f32::from_bits(bits as u32) as f64),
            Type::Float64 => push_float(&mut self.out, f64::from_bits(bits)),
            Type::Enum(n) => match enumerant_name(self.pool, *n, bits as u16) {
                Some(name) => self.string(name.as_bytes()),
                None => push_u64(&mut self.out, bits as u16 as u64),
            },
            other => return Err(unsupported(other, self.pool)),
        }
        Ok(())
    }

    fn bytes(&mut self, data: &[u8], blob: Blob) {
        match blob {
            Blob::Array => {
                self.out.push(b'[');
                for (i, &b) in data.iter().enumerate() {
                    if i > 0 {
                        self.out
                            .extend_from_slice(if self.pretty { b", " } else { b"," });
                    }
                    push_u64(&mut self.out, b as u64);
                }
                self.out.push(b']');
            }
            Blob::Base64 => {
                self.out.push(b'"');
                base64_into(&mut self.out, data);
                self.out.push(b'"');
            }
            Blob::Hex => {
                self.out.push(b'"');
                for &b in data {
                    self.out.push(HEX[(b >> 4) as usize]);
                    self.out.push(HEX[(b & 15) as usize]);
                }
                self.out.push(b'"');
            }
        }
    }

    // --- pointers ---

    fn pointer(
        &mut self,
        ty: &Type,
        t: Target<'a>,
        blob: Blob,
        indent: u32,
        multiline: &mut bool,
        has_prefix: bool,
    ) -> Result<()> {
        match ty {
            Type::Text => {
                let text = match t {
                    Target::Null | Target::Data(_) => "",
                    Target::Text(s) => s,
                    Target::Ptr(p) => self.msg.read_text(p)?.unwrap_or(""),
                };
                self.string(text.as_bytes());
            }
            Type::Data => {
                let data = match t {
                    Target::Null => &[][..],
                    Target::Data(d) => d,
                    Target::Text(s) => s.as_bytes(),
                    Target::Ptr(p) => self.msg.read_blob(p)?.unwrap_or(&[]),
                };
                self.bytes(data, blob);
            }
            Type::List(elem) => {
                let list = match t {
                    Target::Ptr(p) => self.msg.read_list(p, Expect::for_element(elem))?,
                    _ => None,
                };
                self.list(list, elem, indent, multiline, has_prefix)?;
            }
            Type::Struct(n, _) if self.pool.node(*n).id == JSON_VALUE_ID => {
                let s = self.struct_at(t)?;
                self.enter()?;
                self.raw(s, indent, multiline, has_prefix)?;
                self.leave();
            }
            Type::Struct(n, brand) => {
                let s = self.struct_at(t)?;
                self.enter()?;
                let cx = Ctx {
                    s,
                    node: struct_node(self.pool, *n)?,
                    brand: brand.as_deref(),
                    names: union_names(struct_discriminator(self.pool, *n), None),
                };
                self.object(&cx, indent, multiline, has_prefix)?;
                self.leave();
            }
            other => return Err(unsupported(other, self.pool)),
        }
        Ok(())
    }

    fn list(
        &mut self,
        list: Option<ListRef<'a>>,
        elem: &Type,
        indent: u32,
        multiline: &mut bool,
        has_prefix: bool,
    ) -> Result<()> {
        self.out.push(b'[');
        if let Some(l) = list.filter(|l| l.len > 0) {
            self.enter()?;
            let sub = indent + (l.len > 1) as u32;
            let mut st = self.open_list();
            match elem {
                Type::Struct(n, _) if self.pool.node(*n).id == JSON_VALUE_ID => {
                    for i in 0..l.len {
                        self.element(&mut st);
                        self.raw(l.struct_element(i), sub, &mut st.child_multiline, false)
                            .map_err(|e| e.at_index(i as u64))?;
                        self.element_done(&mut st);
                    }
                }
                Type::Struct(n, brand) => {
                    let node = struct_node(self.pool, *n)?;
                    let names = union_names(struct_discriminator(self.pool, *n), None);
                    let compact = (!self.pretty).then(|| self.keys_of(node));
                    if let Some(keys) = compact.filter(|k| k.direct) {
                        for i in 0..l.len {
                            if i > 0 {
                                self.out.push(b',');
                            }
                            let cx = Ctx {
                                s: l.struct_element(i),
                                node,
                                brand: brand.as_deref(),
                                names,
                            };
                            self.object_compact(&cx, &keys)
                                .map_err(|e| e.at_index(i as u64))?;
                        }
                        self.leave();
                        self.out.push(b']');
                        return Ok(());
                    }
                    for i in 0..l.len {
                        self.element(&mut st);
                        let cx = Ctx {
                            s: l.struct_element(i),
                            node,
                            brand: brand.as_deref(),
                            names,
                        };
                        self.object(&cx, sub, &mut st.child_multiline, false)
                            .map_err(|e| e.at_index(i as u64))?;
                        self.element_done(&mut st);
                    }
                }
                t if t.is_data() => {
                    let bits = t.data_bits().unwrap_or(0);
                    for i in 0..l.len {
                        self.element(&mut st);
                        let (bytes, at) = l.element_data(i);
                        self.scalar(t, read_bits(bytes, at, bits))?;
                        self.element_done(&mut st);
                    }
                }
                t => {
                    for i in 0..l.len {
                        self.element(&mut st);
                        let p = l.pointer_element(i);
                        self.pointer(
                            t,
                            target(Some(p), None),
                            Blob::Array,
                            sub,
                            &mut st.child_multiline,
                            false,
                        )
                        .map_err(|e| e.at_index(i as u64))?;
                        self.element_done(&mut st);
                    }
                }
            }
            self.close_list(st, indent, multiline, has_prefix);
            self.leave();
        }
        self.out.push(b']');
        Ok(())
    }

    // --- Json.Value ---

    /// A `capnp::json::Value` as the JSON it stands for.
    fn raw(
        &mut self,
        s: StructRef<'a>,
        indent: u32,
        multiline: &mut bool,
        has_prefix: bool,
    ) -> Result<()> {
        let p = s.pointer(0);
        match read_bits(s.data, 0, 16) {
            0 => self.null(),
            1 => self
                .out
                .extend_from_slice(if read_bits(s.data, 16, 1) != 0 {
                    b"true"
                } else {
                    b"false"
                }),
            2 => push_f64(&mut self.out, f64::from_bits(read_bits(s.data, 64, 64))),
            3 => {
                let text = match p {
                    Some(p) => self.msg.read_text(p)?.unwrap_or(""),
                    None => "",
                };
                self.string(text.as_bytes());
            }
            4 => {
                self.out.push(b'[');
                self.raw_elements(p, indent, multiline, has_prefix)?;
                self.out.push(b']');
            }
            5 => {
                self.out.push(b'{');
                let list = match p {
                    Some(p) => self.msg.read_list(p, Expect::Struct)?,
                    None => None,
                };
                if let Some(l) = list.filter(|l| l.len > 0) {
                    self.enter()?;
                    let sub = indent + (l.len > 1) as u32;
                    let mut st = self.open_list();
                    for i in 0..l.len {
                        let field = l.struct_element(i);
                        self.element(&mut st);
                        let name = match field.pointer(0) {
                            Some(p) => self.msg.read_text(p)?.unwrap_or(""),
                            None => "",
                        };
                        self.key(None, name);
                        let value = self.struct_at(target(field.pointer(1), None))?;
                        self.enter()?;
                        self.raw(value, sub, &mut st.child_multiline, true)?;
                        self.leave();
                        self.element_done(&mut st);
                    }
                    self.close_list(st, indent, multiline, has_prefix);
                    self.leave();
                }
                self.out.push(b'}');
            }
            6 => {
                let call = self.struct_at(target(p, None))?;
                self.enter()?;
                let function = match call.pointer(0) {
                    Some(p) => self.msg.read_text(p)?.unwrap_or(""),
                    None => "",
                };
                self.out.extend_from_slice(function.as_bytes());
                self.out.push(b'(');
                self.raw_elements(call.pointer(1), indent, multiline, true)?;
                self.out.push(b')');
                self.leave();
            }
            d => return Err(Error::data(format!("a JSON value of unknown kind {d}"))),
        }
        Ok(())
    }

    /// The elements of a `List(Json.Value)`, laid out as a list.
    fn raw_elements(
        &mut self,
        p: Option<PtrRef<'a>>,
        indent: u32,
        multiline: &mut bool,
        has_prefix: bool,
    ) -> Result<()> {
        let list = match p {
            Some(p) => self.msg.read_list(p, Expect::Struct)?,
            None => None,
        };
        if let Some(l) = list.filter(|l| l.len > 0) {
            self.enter()?;
            let sub = indent + (l.len > 1) as u32;
            let mut st = self.open_list();
            for i in 0..l.len {
                self.element(&mut st);
                self.raw(l.struct_element(i), sub, &mut st.child_multiline, false)?;
                self.element_done(&mut st);
            }
            self.close_list(st, indent, multiline, has_prefix);
            self.leave();
        }
        Ok(())
    }

    // --- structs ---

    fn object(
        &mut self,
        cx: &Ctx<'a, '_>,
        indent: u32,
        multiline: &mut bool,
        has_prefix: bool,
    ) -> Result<()> {
        self.msg.charge_defaults(&cx.s, cx.node)?;
        if !self.pretty {
            let keys = self.keys_of(cx.node);
            if keys.direct {
                return self.object_compact(cx, &keys);
            }
        }
        self.out.push(b'{');
        let sub = if self.pretty {
            let mut count = Walk::Count(0);
            self.walk(cx, None, &mut count)?;
            indent + matches!(count, Walk::Count(n) if n > 1) as u32
        } else {
            indent
        };
        let mut w = Walk::Write(self.open_list(), sub);
        self.walk(cx, None, &mut w)?;
        if let Walk::Write(st, _) = w {
            self.close_list(st, indent, multiline, has_prefix);
        }
        self.out.push(b'}');
        Ok(())
    }

    fn keys_of(&mut self, node: &'a StructNode) -> Rc<Keys<'a>> {
        let at = node as *const StructNode as usize;
        if let Some(k) = self.keys.get(&at) {
            return k.clone();
        }
        let mut plain = Vec::with_capacity(node.plain_fields.len());
        let mut direct = true;
        for f in node.fields.iter().filter(|f| f.discriminant.is_none()) {
            let a = Attrs::of(&f.annotations);
            direct &= a.flatten.is_none();
            let mut quoted = b",\"".to_vec();
            escape_into(&mut quoted, a.name.unwrap_or(&f.name).as_bytes());
            quoted.extend_from_slice(b"\":");
            let kind = match &f.slot {
                FieldSlot::Data {
                    ty,
                    offset,
                    default_bits,
                } => {
                    let width = ty.data_bits().unwrap_or(0);
                    let at = ty.bit_position(*offset);
                    match ty {
                        Type::UInt8 | Type::UInt16 | Type::UInt32 => {
                            Kind::Unsigned(at, width, *default_bits)
                        }
                        _ => Kind::Data(ty, at, width, *default_bits),
                    }
                }
                FieldSlot::Pointer {
                    ty: Type::Text,
                    index,
                    default: None,
                } => Kind::Text(*index),
                FieldSlot::Pointer {
                    ty,
                    index,
                    default: None,
                } if !ty.has_params() => Kind::Pointer(*index, ty),
                _ => Kind::Other,
            };
            plain.push(Compact {
                field: f,
                quoted: quoted.into_boxed_slice(),
                blob: a.blob,
                kind,
            });
        }
        let keys = Rc::new(Keys { plain, direct });
        self.keys.insert(at, keys.clone());
        keys
    }

    /// A compact object whose entries outside the union are plain fields: each is its quoted
    /// key and its value; the union's tag and member go as in [`Enc::walk`].
    fn object_compact(&mut self, cx: &Ctx<'a, '_>, keys: &Keys<'a>) -> Result<()> {
        self.out.push(b'{');
        let mut count = 0;
        let mut multiline = false;
        for c in &keys.plain {
            let key = &c.quoted[(count == 0) as usize..];
            match c.kind {
                Kind::Data(ty, at, width, default) => {
                    self.out.extend_from_slice(key);
                    let v = read_bits(cx.s.data, at, width) ^ default;
                    self.scalar(ty, v)
                }
                Kind::Unsigned(at, width, default) => {
                    self.out.extend_from_slice(key);
                    push_u64(&mut self.out, read_bits(cx.s.data, at, width) ^ default);
                    Ok(())
                }
                Kind::Text(index) => {
                    let Some(p) = cx.s.pointer(index).filter(|p| !Msg::is_null(*p)) else {
                        continue;
                    };
                    self.out.extend_from_slice(key);
                    match self.msg.read_text(p) {
                        Ok(text) => {
                            self.string(text.unwrap_or("").as_bytes());
                            Ok(())
                        }
                        Err(e) => Err(e),
                    }
                }
                Kind::Pointer(index, ty) => {
                    let Some(p) = cx.s.pointer(index).filter(|p| !Msg::is_null(*p)) else {
                        continue;
                    };
                    self.out.extend_from_slice(key);
                    self.pointer(ty, Target::Ptr(p), c.blob, 0, &mut multiline, false)
                }
                Kind::Other => {
                    if !has(cx.s, c.field) {
                        continue;
                    }
                    self.out.extend_from_slice(key);
                    self.field(cx, c.field, c.blob, 0, &mut multiline)
                }
            }
            .map_err(|e| e.in_field(c.field.name.clone()))?;
            count += 1;
        }
        if cx.node.has_union() {
            let mut list = self.open_list();
            list.count = count;
            let mut w = Walk::Write(list, 0);
            self.walk_union(cx, None, &mut w)?;
        }
        self.out.push(b'}');
        Ok(())
    }

    /// Visits the entries of a struct's object in order: the fields outside the union (those
    /// that are set), then the union's tag and its active member; flattened structs and groups
    /// contribute their own entries in place.
    fn walk(&mut self, cx: &Ctx<'a, '_>, prefix: Option<&Prefix<'_>>, w: &mut Walk) -> Result<()> {
        // Groups recurse here without a nesting level; they still take stack.
        self.stack.check()?;
        let node = cx.node;
        for f in &node.fields {
            if w.done() {
                return Ok(());
            }
            if f.discriminant.is_some() || !has(cx.s, f) {
                continue;
            }
            let a = Attrs::of(&f.annotations);
            if a.flatten.is_some() {
                self.flatten(cx, f, &a, prefix, w)?;
            } else {
                self.entry(
                    w,
                    prefix,
                    a.name.unwrap_or(&f.name),
                    cx,
                    Entry::Field(f, a.blob),
                )?;
            }
        }
        if !node.has_union() || w.done() {
            return Ok(());
        }
        self.walk_union(cx, prefix, w)
    }

    /// The union's part of [`Enc::walk`]: its tag and its active member.
    fn walk_union(
        &mut self,
        cx: &Ctx<'a, '_>,
        prefix: Option<&Prefix<'_>>,
        w: &mut Walk,
    ) -> Result<()> {
        let node = cx.node;
        let d = read_discriminant(cx.s.data, node) as usize;
        let Some(f) = node.union_members.get(d).map(|&i| &node.fields[i as usize]) else {
            return Ok(());
        };
        let a = Attrs::of(&f.annotations);
        let name = a.name.unwrap_or(&f.name);
        if let Some(tag) = cx.names.tag {
            self.entry(w, prefix, tag, cx, Entry::Text(name))?;
        }
        if a.flatten.is_some() {
            self.flatten(cx, f, &a, prefix, w)
        } else if matches!(f.slot, FieldSlot::Void) && cx.names.tag.is_some() {
            Ok(())
        } else {
            let name = cx.names.value.unwrap_or(name);
            self.entry(w, prefix, name, cx, Entry::Field(f, a.blob))
        }
    }

    /// One entry: `"name": value`.
    fn entry(
        &mut self,
        w: &mut Walk,
        prefix: Option<&Prefix<'_>>,
        name: &str,
        cx: &Ctx<'a, '_>,
        value: Entry<'a, '_>,
    ) -> Result<()> {
        match w {
            Walk::Count(n) => *n += 1,
            Walk::Write(st, indent) => {
                self.element(st);
                self.key(prefix, name);
                match value {
                    Entry::Field(f, blob) => self
                        .field(cx, f, blob, *indent, &mut st.child_multiline)
                        .map_err(|e| e.in_field(f.name.clone()))?,
                    Entry::Text(t) => self.string(t.as_bytes()),
                }
                self.element_done(st);
            }
        }
        Ok(())
    }

    fn flatten(
        &mut self,
        cx: &Ctx<'a, '_>,
        f: &'a Field,
        a: &Attrs<'a>,
        prefix: Option<&Prefix<'_>>,
        w: &mut Walk,
    ) -> Result<()> {
        let text = a.prefix();
        let joined = Prefix {
            outer: prefix,
            text,
        };
        let prefix = if text.is_empty() {
            prefix
        } else {
            Some(&joined)
        };
        match &f.slot {
            FieldSlot::Group { node } => {
                let inner = Ctx {
                    s: cx.s,
                    node: struct_node(self.pool, *node)?,
                    brand: cx.brand,
                    names: union_names(a.discriminator, Some(&f.name)),
                };
                self.walk(&inner, prefix, w)
            }
            FieldSlot::Pointer { ty, index, default } => {
                let ty = ty.resolved(cx.brand);
                let Type::Struct(n, brand) = &*ty else {
                    return Err(flatten_error(f));
                };
                let s = self.struct_at(target(cx.s.pointer(*index), default.as_ref()))?;
                self.enter()?;
                let inner = Ctx {
                    s,
                    node: struct_node(self.pool, *n)?,
                    brand: brand.as_deref(),
                    names: union_names(struct_discriminator(self.pool, *n), None),
                };
                self.walk(&inner, prefix, w)
                    .map_err(|e| e.in_field(f.name.clone()))?;
                self.leave();
                Ok(())
            }
            _ => Err(flatten_error(f)),
        }
    }

    fn field(
        &mut self,
        cx: &Ctx<'a, '_>,
        f: &'a Field,
        blob: Blob,
        indent: u32,
        multiline: &mut bool,
    ) -> Result<()> {
        match &f.slot {
            FieldSlot::Void => {
                self.null();
                Ok(())
            }
            FieldSlot::Data {
                ty,
                offset,
                default_bits,
            } => self.scalar(ty, read_slot(cx.s.data, ty, *offset) ^ default_bits),
            FieldSlot::Pointer { ty, index, default } => {
                // `check_annotations` refused base64 and hex on anything but Data.
                let ty = ty.resolved(cx.brand);
                let t = target(cx.s.pointer(*index), default.as_ref());
                self.pointer(&ty, t, blob, indent, multiline, true)
            }
            FieldSlot::Group { node } => {
                let a = Attrs::of(&f.annotations);
                let inner = Ctx {
                    s: cx.s,
                    node: struct_node(self.pool, *node)?,
                    brand: cx.brand,
                    names: union_names(a.discriminator, None),
                };
                self.object(&inner, indent, multiline, true)
            }
        }
    }
}

/// Whether a field outside the union is written: everything but null pointers.
#[inline]
fn has(s: StructRef<'_>, f: &Field) -> bool {
    match &f.slot {
        FieldSlot::Pointer { index, .. } => s.pointer(*index).is_some_and(|p| !Msg::is_null(p)),
        _ => true,
    }
}

fn flatten_error(f: &Field) -> Error {
    Error::schema(format!(
        "field `{}` is marked `$Json.flatten`, but only structs and groups can be flattened",
        f.name
    ))
}

fn blob_error(f: &Field) -> Error {
    Error::schema(format!(
        "field `{}` is marked `$Json.base64` or `$Json.hex`, which only Data fields can be",
        f.name
    ))
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Which bytes a JSON string cannot hold as they are.
static ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Whether any of the eight bytes of `w` must be escaped: a control character, `"` or `\`.
#[inline]
fn needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_in = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    control | zero_in(w ^ (ONES * b'"' as u64)) | zero_in(w ^ (ONES * b'\\' as u64)) != 0
}

fn escape_into(out: &mut Vec<u8>, s: &[u8]) {
    // Most text needs no escape: skip it eight bytes at a time.
    let mut clean = 0;
    while clean + 8 <= s.len()
        && !needs_escape(u64::from_le_bytes(s[clean..clean + 8].try_into().unwrap()))
    {
        clean += 8;
    }
    if clean == s.len() {
        out.extend_from_slice(s);
        return;
    }
    if s.len() - clean < 8 {
        // The tail, padded with spaces (which need no escape), checked as one more word.
        let mut tail = [b' '; 8];
        tail[..s.len() - clean].copy_from_slice(&s[clean..]);
        if !needs_escape(u64::from_le_bytes(tail)) {
            out.extend_from_slice(s);
            return;
        }
    }
    let mut start = 0;
    for (i, &b) in s.iter().enumerate().skip(clean) {
        if !ESCAPE[b as usize] {
            continue;
        }
        out.extend_from_slice(&s[start..i]);
        start = i + 1;
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 15) as usize],
            ]),
        }
    }
    out.extend_from_slice(&s[start..]);
}

/// A float as the reference writes it: the strings `NaN`, `Infinity`, `-Infinity`, or C's
/// `%.15g` when that reads back as the same double, else `%.17g` (without `+` signs).
fn push_float(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 {
            b"\"Infinity\""
        } else {
            b"\"-Infinity\""
        });
    } else {
        push_number(out, v);
    }
}

fn base64_into(out: &mut Vec<u8>, data: &[u8]) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut chunks = data.chunks_exact(3);
    for c in &mut chunks {
        let n = (c[0] as u32) << 16 | (c[1] as u32) << 8 | c[2] as u32;
        out.extend_from_slice(&[
            ALPHABET[(n >> 18) as usize & 63],
            ALPHABET[(n >> 12) as usize & 63],
            ALPHABET[(n >> 6) as usize & 63],
            ALPHABET[n as usize & 63],
        ]);
    }
    match *chunks.remainder() {
        [a] => out.extend_from_slice(&[
            ALPHABET[(a >> 2) as usize],
            ALPHABET[((a & 3) << 4) as usize],
            b'=',
            b'=',
        ]),
        [a, b] => out.extend_from_slice(&[
            ALPHABET[(a >> 2) as usize],
            ALPHABET[(((a & 3) << 4) | (b >> 4)) as usize],
            ALPHABET[((b & 15) << 2) as usize],
            b'=',
        ]),
        _ => {}
    }
}

/// Base64 as the reference reads it: characters outside the alphabet are skipped, and bits that
/// do not fill a last byte are dropped.
fn base64_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 2);
    let (mut acc, mut n) = (0u32, 0);
    for &c in s.as_bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        acc = acc << 6 | v as u32;
        n += 1;
        if n == 4 {
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            acc = 0;
            n = 0;
        }
    }
    match n {
        2 => out.push((acc >> 4) as u8),
        3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        _ => {}
    }
    out
}

/// Hex as the reference reads it: pairs of digits, a digit that is not one counting as zero, and
/// an odd last character ignored.
fn hex_decode(s: &str) -> Vec<u8> {
    let digit = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
    s.as_bytes()
        .chunks_exact(2)
        .map(|p| digit(p[0]) << 4 | digit(p[1]))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// One JSON value's start: scalars whole, arrays and objects by their opening bracket.
enum Tok<'j> {
    Null,
    Bool(bool),
    Num(&'j str),
    Str(Cow<'j, str>),
    Arr,
    Obj,
}

impl Tok<'_> {
    fn describe(&self) -> &'static str {
        match self {
            Tok::Null => "null",
            Tok::Bool(_) => "a boolean",
            Tok::Num(_) => "a number",
            Tok::Str(_) => "a string",
            Tok::Arr => "an array",
            Tok::Obj => "an object",
        }
    }
}

/// The grammar the reference parser accepts: standard JSON, except that a number may end in a
/// bare `.` (`1.`) and that strings may hold raw control characters.
struct Parser<'j> {
    src: &'j str,
    b: &'j [u8],
    pos: usize,
    depth: u32,
}

impl<'j> Parser<'j> {
    fn err(&self, what: &str) -> Error {
        Error::data(format!("invalid JSON at byte {}: {what}", self.pos))
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.pos) {
            self.pos += 1;
        }
    }

    fn nest(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_JSON_NESTING {
            return Err(self.err("nested too deeply"));
        }
        Ok(())
    }

    fn literal(&mut self, word: &str, tok: Tok<'j>) -> Result<Tok<'j>> {
        if self.b[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(tok)
        } else {
            Err(self.err("unexpected character"))
        }
    }

    fn token(&mut self) -> Result<Tok<'j>> {
        self.ws();
        match self.b.get(self.pos) {
            None => Err(self.err("the text ends before the value")),
            Some(b'n') => self.literal("null", Tok::Null),
            Some(b't') => self.literal("true", Tok::Bool(true)),
            Some(b'f') => self.literal("false", Tok::Bool(false)),
            Some(b'"') => {
                self.pos += 1;
                Ok(Tok::Str(self.string()?))
            }
            Some(b'[') => {
                self.pos += 1;
                self.nest()?;
                Ok(Tok::Arr)
            }
            Some(b'{') => {
                self.pos += 1;
                self.nest()?;
                Ok(Tok::Obj)
            }
            Some(b'-' | b'0'..=b'9') => Ok(Tok::Num(self.number()?)),
            Some(_) => Err(self.err("unexpected character")),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.b.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<&'j str> {
        let start = self.pos;
        if self.b.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match self.b.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("expected a digit")),
        }
        if self.b.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            self.digits();
        }
        if let Some(b'e' | b'E') = self.b.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.b.get(self.pos) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("expected a digit in the exponent"));
            }
        }
        Ok(&self.src[start..self.pos])
    }

    /// The rest of a string whose opening quote is consumed.
    fn string(&mut self) -> Result<Cow<'j, str>> {
        let start = self.pos;
        loop {
            match self.b.get(self.pos) {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Borrowed(&self.src[start..self.pos - 1]));
                }
                Some(b'\\') => break,
                Some(_) => self.pos += 1,
            }
        }
        let mut s = String::from(&self.src[start..self.pos]);
        loop {
            match self.b.get(self.pos) {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Owned(s));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = match self.b.get(self.pos) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let unit = self.hex4()?;
                            s.push(self.utf16(unit));
                            continue;
                        }
                        _ => return Err(self.err("invalid escape in a string")),
                    };
                    self.pos += 1;
                    s.push(c);
                }
                Some(_) => {
                    let run = self.pos;
                    while !matches!(self.b.get(self.pos), None | Some(b'"' | b'\\')) {
                        self.pos += 1;
                    }
                    s.push_str(&self.src[run..self.pos]);
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u16> {
        let Some(h) = self.b.get(self.pos..self.pos + 4) else {
            return Err(self.err("the text ends inside a \\u escape"));
        };
        let mut v = 0u16;
        for &c in h {
            let d = (c as char)
                .to_digit(16)
                .ok_or_else(|| self.err("invalid hex digit in a \\u escape"))?;
            v = v << 4 | d as u16;
        }
        self.pos += 4;
        Ok(v)
    }

    /// A UTF-16 unit from a `\u` escape, joined with a following low surrogate when it is a
    /// high one. A surrogate without its other half becomes U+FFFD.
    fn utf16(&mut self, unit: u16) -> char {
        if (0xd800..0xdc00).contains(&unit) && self.b[self.pos..].starts_with(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            if let Ok(low @ 0xdc00..=0xdfff) = self.hex4() {
                let c = 0x10000 + (((unit as u32) - 0xd800) << 10) + (low as u32 - 0xdc00);
                return char::from_u32(c).unwrap_or('\u{fffd}');
            }
            self.pos = save;
        }
        char::from_u32(unit as u32).unwrap_or('\u{fffd}')
    }

    /// Inside an array: whether another element follows, consuming the comma before it.
    fn more(&mut self, first: bool) -> Result<bool> {
        self.ws();
        match self.b.get(self.pos) {
            Some(b']') => {
                self.pos += 1;
                self.depth -= 1;
                Ok(false)
            }
            None => Err(self.err("the text ends inside an array")),
            _ if first => Ok(true),
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(_) => Err(self.err("expected `,` or `]`")),
        }
    }

    /// Inside an object: the next key, consuming the comma before it and the colon after it.
    fn key(&mut self, first: bool) -> Result<Option<Cow<'j, str>>> {
        self.ws();
        match self.b.get(self.pos) {
            Some(b'}') => {
                self.pos += 1;
                self.depth -= 1;
                return Ok(None);
            }
            None => return Err(self.err("the text ends inside an object")),
            _ if first => {}
            Some(b',') => {
                self.pos += 1;
                self.ws();
            }
            Some(_) => return Err(self.err("expected `,` or `}`")),
        }
        if self.b.get(self.pos) != Some(&b'"') {
            return Err(self.err("expected a string as the key"));
        }
        self.pos += 1;
        let key = self.string()?;
        self.ws();
        if self.b.get(self.pos) != Some(&b':') {
            return Err(self.err("expected `:`"));
        }
        self.pos += 1;
        Ok(Some(key))
    }

    /// Skips what remains of a value whose first token is `tok`.
    fn finish(&mut self, tok: &Tok<'j>) -> Result<()> {
        match tok {
            Tok::Arr => {
                let mut first = true;
                while self.more(first)? {
                    first = false;
                    self.skip()?;
                }
            }
            Tok::Obj => {
                let mut first = true;
                while self.key(first)?.is_some() {
                    first = false;
                    self.skip()?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn skip(&mut self) -> Result<()> {
        let tok = self.token()?;
        self.finish(&tok)
    }

    /// Steps to the next of the items [`count`](Self::count) found in the array being read.
    fn counted_item(&mut self, first: bool) -> Result<()> {
        match self.more(first)? {
            true => Ok(()),
            false => Err(self.err("the array ends before the items counted in it")),
        }
    }

    /// How many elements the array whose `[` was just read holds, without consuming them.
    fn count(&mut self) -> Result<u32> {
        self.count_items(b']')
    }

    /// How many entries the object whose `{` was just read holds, without consuming them.
    fn count_entries(&mut self) -> Result<u32> {
        self.count_items(b'}')
    }

    /// Counts the items of the array or object just opened (`close` ends it) by its structure
    /// alone: the commas outside strings and nested values, plus one unless it is empty. The
    /// scan looks at each byte of the array (and again for each array it is nested in), where
    /// counting by tokenizing would parse every number and string an extra time. For
    /// well-formed JSON the count is exact. For anything else the pass that reads the items
    /// reports the fault where it is, with the words counting by tokenizing used.
    fn count_items(&self, close: u8) -> Result<u32> {
        let b = &self.b[self.pos.min(self.b.len())..];
        let Some(first) = b
            .iter()
            .position(|c| !matches!(c, b' ' | b'\n' | b'\r' | b'\t'))
        else {
            return Ok(0);
        };
        if b[first] == close {
            return Ok(0);
        }
        let (mut depth, mut commas, mut i) = (0usize, 0u64, first);
        while let Some(&c) = b.get(i) {
            match c {
                b'"' => {
                    // To the closing quote, stepping over escaped characters.
                    i += 1;
                    while let Some(&c) = b.get(i) {
                        match c {
                            b'"' => break,
                            b'\\' => i += 2,
                            _ => i += 1,
                        }
                    }
                }
                b'[' | b'{' => depth += 1,
                b']' | b'}' if depth == 0 => break,
                b']' | b'}' => depth -= 1,
                b',' if depth == 0 => commas += 1,
                _ => {}
            }
            i += 1;
        }
        u32::try_from(commas + 1).map_err(|_| Error::limit("JSON array or object is too long"))
    }
}

/// An integer as C's `strtoll`/`strtoull` read it, as the reference does for integers in
/// strings: leading white space, a sign, decimal or (after `0x`) hexadecimal digits, nothing
/// after. Unsigned values wrap when negated, but a string that starts with `-` is refused.
fn parse_c_integer(s: &str, signed: bool) -> Option<i128> {
    let b = s.as_bytes();
    let unsigned_part = b.strip_prefix(b"-").unwrap_or(b);
    let hex =
        unsigned_part.len() >= 2 && unsigned_part[0] == b'0' && unsigned_part[1] | 0x20 == b'x';
    let mut i = 0;
    while let Some(b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') = b.get(i) {
        i += 1;
    }
    let negative = match b.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let radix = if hex { 16 } else { 10 };
    if hex
        && b.get(i) == Some(&b'0')
        && b.get(i + 1).is_some_and(|c| c | 0x20 == b'x')
        && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    {
        i += 2;
    }
    let start = i;
    let mut magnitude: u128 = 0;
    while let Some(d) = b.get(i).and_then(|&c| (c as char).to_digit(radix)) {
        magnitude = (magnitude * radix as u128 + d as u128).min(u64::MAX as u128 + 1);
        i += 1;
    }
    if i == start || i != b.len() {
        return None;
    }
    if signed {
        let v = if negative {
            -(magnitude as i128)
        } else {
            magnitude as i128
        };
        (i64::MIN as i128..=i64::MAX as i128)
            .contains(&v)
            .then_some(v)
    } else {
        if magnitude > u64::MAX as u128 || b.first() == Some(&b'-') {
            return None;
        }
        let v = magnitude as u64;
        Some(if negative { v.wrapping_neg() } else { v } as i128)
    }
}

/// A float as C's `strtod` reads it (for floats in strings): leading white space, then a
/// decimal number, `inf`, `infinity` or `nan` in any case, nothing after.
fn parse_c_float(s: &str) -> Option<f64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\u{b}', '\u{c}', '\r']);
    if t.is_empty() || t.starts_with("+-") || t.starts_with("-+") {
        return None;
    }
    t.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// Reading: how JSON names map to fields
// ---------------------------------------------------------------------------------------------

/// What a JSON name stands for in a struct's object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Name {
    /// The field with this index.
    Field(u16),
    /// A name inside the flattened field with this index, after `prefix` bytes.
    Flattened { field: u16, prefix: u32 },
    /// The union's tag.
    Tag,
    /// A name inside one of the flattened union members (which, the tag says), after `prefix`.
    InMember { prefix: u32 },
    /// The union's value, under a fixed name.
    UnionValue,
}

struct Plan {
    /// JSON names; `None` when they are exactly the Cap'n Proto names.
    names: Option<FastMap<Box<str>, Name>>,
    /// Tag values: union members by JSON name.
    tags: FastMap<Box<str>, u16>,
    /// For each field, the plan of the struct or group it flattens.
    flat: Vec<Option<u32>>,
}

/// The plans of the structs met so far, built as the reference codec builds its handlers: a
/// group's plan with its parent's (it takes the discriminator from the group's field), a
/// struct's from its own annotations.
/// Refuses, as the reference does before it writes anything, a root struct from which a
/// struct with `$Json` annotations the codec cannot honour is reachable, whether the message
/// holds a value of it or not. The checks are the ones reading makes (see [`Plans`]); the
/// result depends on the schema only, so a handle keeps it. The structs a branded root binds
/// its parameters to are reachable too.
fn check_annotations(pool: &SchemaPool, root: &Type) -> std::result::Result<(), String> {
    fn structs_in(ty: &Type, found: &mut Vec<NodeIndex>) {
        match ty {
            Type::Struct(n, brand) => {
                found.push(*n);
                for scope in brand.iter().flat_map(|b| &b.scopes) {
                    for bound in scope.bindings.iter().flatten().flatten() {
                        structs_in(bound, found);
                    }
                }
            }
            Type::List(element) => structs_in(element, found),
            _ => {}
        }
    }
    let mut plans = Plans::new(pool);
    let mut seen = vec![false; pool.nodes().len()];
    let mut todo = Vec::new();
    structs_in(root, &mut todo);
    while let Some(n) = todo.pop() {
        if std::mem::replace(&mut seen[n as usize], true) {
            continue;
        }
        plans.get(n).map_err(|e| e.message().to_string())?;
        let node = struct_node(pool, n).map_err(|e| e.message().to_string())?;
        for f in &node.fields {
            match &f.slot {
                FieldSlot::Group { node } => todo.push(*node),
                FieldSlot::Pointer { ty, .. } => structs_in(ty, &mut todo),
                _ => {}
            }
        }
    }
    Ok(())
}

struct Plans<'p> {
    pool: &'p SchemaPool,
    list: Vec<Plan>,
    of: Vec<u32>,
}

const NO_PLAN: u32 = u32::MAX;
const BUILDING: u32 = u32::MAX - 1;

impl<'p> Plans<'p> {
    fn new(pool: &'p SchemaPool) -> Self {
        Plans {
            pool,
            list: Vec::new(),
            of: vec![NO_PLAN; pool.nodes().len()],
        }
    }

    fn get(&mut self, node: NodeIndex) -> Result<u32> {
        self.build(node, None, None)
    }

    fn lookup(&self, plan: u32, node: &StructNode, key: &str) -> Option<Name> {
        match &self.list[plan as usize].names {
            None => node.field_index(key).map(Name::Field),
            Some(names) => names.get(key).copied(),
        }
    }

    /// The JSON names a plan answers to.
    fn names(&self, plan: u32, node: &'p StructNode) -> Vec<Box<str>> {
        match &self.list[plan as usize].names {
            None => node.fields.iter().map(|f| f.name.as_str().into()).collect(),
            Some(names) => names.keys().cloned().collect(),
        }
    }

    fn build(
        &mut self,
        idx: NodeIndex,
        disc: Option<Option<&'p RawPointer>>,
        decl: Option<&'p str>,
    ) -> Result<u32> {
        let pool = self.pool;
        match self.of[idx as usize] {
            NO_PLAN => {}
            BUILDING => {
                return Err(Error::schema(format!(
                    "`{}` flattens itself (cyclic `$Json.flatten`)",
                    pool.node(idx).display_name
                )))
            }
            id => return Ok(id),
        }
        self.of[idx as usize] = BUILDING;
        let node = struct_node(pool, idx)?;
        let disc = disc.or_else(|| struct_discriminator(pool, idx));
        let un = union_names(disc, decl);
        let plain = un.tag.is_none()
            && un.value.is_none()
            && node.fields.iter().all(|f| {
                let a = Attrs::of(&f.annotations);
                a.name.is_none() && a.flatten.is_none()
            });
        let mut names = FastMap::default();
        let mut tags = FastMap::default();
        let mut flat = vec![None; node.fields.len()];
        let collide = |name: &str| {
            Error::schema(format!(
                "two fields of `{}` have the JSON name `{name}`",
                pool.node(idx).display_name
            ))
        };
        let insert = |names: &mut FastMap<Box<str>, Name>, key: &str, v: Name| {
            if names.insert(key.into(), v).is_some() {
                return Err(collide(key));
            }
            Ok(())
        };
        if let Some(tag) = un.tag {
            insert(&mut names, tag, Name::Tag)?;
        }
        if let Some(value) = un.value {
            insert(&mut names, value, Name::UnionValue)?;
        }
        for (i, f) in node.fields.iter().enumerate() {
            let fi = i as u16;
            let a = Attrs::of(&f.annotations);
            let json = a.name.unwrap_or(&f.name);
            let member = f.discriminant.is_some();
            if a.blob != Blob::Array && f.slot.ty() != Some(&Type::Data) {
                return Err(blob_error(f));
            }
            let child = match &f.slot {
                FieldSlot::Group { node: g } => {
                    let decl = a.flatten.map(|_| f.name.as_str());
                    let sub = self.build(*g, a.discriminator, decl)?;
                    a.flatten.map(|_| sub)
                }
                _ if a.discriminator.is_some() => {
                    return Err(Error::schema(format!(
                        "field `{}` has a `$Json.discriminator`, which only unions can have",
                        f.name
                    )))
                }
                FieldSlot::Pointer {
                    ty: Type::Struct(n, _),
                    ..
                } if a.flatten.is_some() => Some(self.get(*n)?),
                _ if a.flatten.is_some() => return Err(flatten_error(f)),
                _ => None,
            };
            if plain {
                continue;
            }
            if let Some(sub) = child {
                flat[i] = Some(sub);
                let prefix = a.prefix();
                let sub_node = match &f.slot {
                    FieldSlot::Group { node } => *node,
                    FieldSlot::Pointer {
                        ty: Type::Struct(n, _),
                        ..
                    } => *n,
                    _ => unreachable!("only structs and groups flatten"),
                };
                for inner in self.names(sub, struct_node(pool, sub_node)?) {
                    let full: Box<str> = [prefix, &*inner].concat().into();
                    let kind = if member {
                        Name::InMember {
                            prefix: prefix.len() as u32,
                        }
                    } else {
                        Name::Flattened {
                            field: fi,
                            prefix: prefix.len() as u32,
                        }
                    };
                    match names.get(&full) {
                        None => {
                            names.insert(full, kind);
                        }
                        // Members of one union are never set together, so they may share names.
                        Some(Name::InMember { .. }) if member => {}
                        Some(_) => return Err(collide(&full)),
                    }
                }
            } else if !(member && un.value.is_some()) {
                insert(&mut names, json, Name::Field(fi))?;
            }
            if member && tags.insert(Box::<str>::from(json), fi).is_some() {
                return Err(collide(json));
            }
        }
        let id = self.list.len() as u32;
        self.list.push(Plan {
            names: (!plain).then_some(names),
            tags,
            flat,
        });
        self.of[idx as usize] = id;
        Ok(id)
    }
}

// ---------------------------------------------------------------------------------------------
// Reading: building the message
// ---------------------------------------------------------------------------------------------

/// A struct being built: byte offsets of its sections in the message, and its schema.
#[derive(Clone)]
struct View<'p> {
    data: usize,
    ptrs: usize,
    idx: NodeIndex,
    node: &'p StructNode,
    brand: Option<Arc<Brand>>,
}

struct Dec<'p, 'j> {
    pool: &'p SchemaPool,
    plans: Plans<'p>,
    p: Parser<'j>,
    out: Out,
    /// Values of a list of primitives, gathered before the list is allocated.
    scratch: Vec<u64>,
    /// The bytes of a Data value.
    bytes: Vec<u8>,
}

/// A deferred entry: a key whose value waits for its union's tag, and where that value starts.
type Deferred<'j> = (Cow<'j, str>, usize);

impl<'p, 'j> Dec<'p, 'j> {
    /// Fills a struct from the object whose `{` was just read.
    fn object(&mut self, v: &View<'p>) -> Result<()> {
        let plan = self.plans.get(v.idx)?;
        let depth = self.p.depth;
        let mut seen: Vec<usize> = Vec::new();
        let mut deferred: Vec<Deferred<'j>> = Vec::new();
        let mut first = true;
        while let Some(key) = self.p.key(first)? {
            first = false;
            let at = self.p.pos;
            let done = self
                .member(v, plan, &key, &mut seen)
                .map_err(|e| e.in_field(key.to_string()))?;
            if !done {
                self.p.skip()?;
                deferred.push((key, at));
            }
        }
        // Entries that needed a tag which came later: try again while that gets somewhere.
        while !deferred.is_empty() {
            let (end, end_depth) = (self.p.pos, self.p.depth);
            let before = deferred.len();
            let mut left = Vec::new();
            for (key, at) in deferred {
                self.p.pos = at;
                self.p.depth = depth;
                let done = self
                    .member(v, plan, &key, &mut seen)
                    .map_err(|e| e.in_field(key.to_string()))?;
                if !done {
                    left.push((key, at));
                }
            }
            self.p.pos = end;
            self.p.depth = end_depth;
            if left.len() == before {
                break;
            }
            deferred = left;
        }
        Ok(())
    }

    /// Reads the value of entry `key` into `v`; `false` when it must wait for its union's tag
    /// (the value is then left unread).
    fn member(
        &mut self,
        v: &View<'p>,
        plan: u32,
        key: &str,
        seen: &mut Vec<usize>,
    ) -> Result<bool> {
        match self.plans.lookup(plan, v.node, key) {
            None => {
                self.p.skip()?;
                Ok(true)
            }
            Some(Name::Field(fi)) => {
                self.field(v, fi)?;
                Ok(true)
            }
            Some(Name::Flattened { field, prefix }) => {
                let sub = self.plans.list[plan as usize].flat[field as usize];
                let inner = self.flattened(v, field)?;
                match (sub, key.get(prefix as usize..)) {
                    (Some(sub), Some(rest)) => self.member(&inner, sub, rest, seen),
                    _ => {
                        self.p.skip()?;
                        Ok(true)
                    }
                }
            }
            Some(Name::Tag) => {
                let tok = self.p.token()?;
                let Tok::Str(tag) = tok else {
                    return Err(Error::data(format!(
                        "a union's tag must be a string, not {}",
                        tok.describe()
                    )));
                };
                if let Some(&fi) = self.plans.list[plan as usize].tags.get(&*tag) {
                    self.clear(v, fi);
                    let at = discriminant_at(v);
                    if seen.contains(&at) {
                        // The reference fails here too (it records each union once).
                        return Err(Error::data("a union's tag appears twice"));
                    }
                    seen.push(at);
                }
                Ok(true)
            }
            Some(Name::InMember { prefix }) => {
                if !seen.contains(&discriminant_at(v)) {
                    return Ok(false);
                }
                let fi = self.active(v)?;
                let Some(sub) = self.plans.list[plan as usize].flat[fi as usize] else {
                    return Err(Error::data(format!(
                        "`{key}` belongs to a flattened union member, but the tag selects `{}`",
                        v.node.fields[fi as usize].name
                    )));
                };
                let inner = self.flattened(v, fi)?;
                match key.get(prefix as usize..) {
                    Some(rest) => self.member(&inner, sub, rest, seen),
                    None => {
                        self.p.skip()?;
                        Ok(true)
                    }
                }
            }
            Some(Name::UnionValue) => {
                if !seen.contains(&discriminant_at(v)) {
                    return Ok(false);
                }
                let fi = self.active(v)?;
                self.field(v, fi)?;
                Ok(true)
            }
        }
    }

    /// The active member of the union of `v`.
    fn active(&self, v: &View<'p>) -> Result<u16> {
        let d = read_discriminant(&self.out.buf[v.data..], v.node);
        v.node
            .union_members
            .get(d as usize)
            .copied()
            .ok_or_else(|| Error::data("union discriminant out of range"))
    }

    fn set_in_union(&mut self, v: &View<'p>, f: &Field) {
        if let Some(d) = f.discriminant {
            self.out
                .write_bits(v.data, v.node.discriminant_bit(), 16, d as u64);
        }
    }

    /// Resets a field to its default (activating it, for a union member), as the reference's
    /// `clear` does: a group gets its first union member and its other fields cleared.
    fn clear(&mut self, v: &View<'p>, fi: u16) {
        let f = &v.node.fields[fi as usize];
        self.set_in_union(v, f);
        match &f.slot {
            FieldSlot::Void => {}
            FieldSlot::Data { ty, offset, .. } => {
                let bits = ty.data_bits().unwrap_or(0);
                self.out
                    .write_bits(v.data, ty.bit_position(*offset), bits, 0);
            }
            FieldSlot::Pointer { index, .. } => {
                let at = v.ptrs + *index as usize * 8;
                self.out.buf[at..at + 8].fill(0);
            }
            FieldSlot::Group { node } => {
                if let Some(g) = self.pool.node(*node).as_struct() {
                    let gv = View {
                        idx: *node,
                        node: g,
                        ..v.clone()
                    };
                    self.clear_group(&gv);
                }
            }
        }
    }

    fn clear_group(&mut self, g: &View<'p>) {
        if let Some(&first) = g.node.union_members.first() {
            self.clear(g, first);
        }
        for (i, f) in g.node.fields.iter().enumerate() {
            if f.discriminant.is_none() {
                self.clear(g, i as u16);
            }
        }
    }

    /// A struct with the sections of `node`, reachable from nothing (it is left out of the
    /// final message): room to read a group in.
    fn scratch_struct(&mut self, node: &StructNode) -> Result<(usize, usize)> {
        let root = Out::ROOT;
        let saved: [u8; 8] = self.out.buf[root..root + 8].try_into().unwrap();
        let s = self
            .out
            .init_struct(root, node.data_words, node.pointer_count)?;
        self.out.buf[root..root + 8].copy_from_slice(&saved);
        Ok((s.data, s.ptrs))
    }

    /// Moves a group's value from `src` to `dst` as the reference adopts a group: `dst` is
    /// cleared, then gets the active union member and the fields outside the union that are set.
    fn move_group(&mut self, src: &View<'p>, dst: &View<'p>) -> Result<()> {
        self.clear_group(dst);
        let node = dst.node;
        if node.has_union() {
            let d = read_discriminant(&self.out.buf[src.data..], node);
            if let Some(&fi) = node.union_members.get(d as usize) {
                self.move_field(src, dst, fi)?;
                // Moving a member goes through reading it, which makes a null struct (or a
                // null pointer with a default) into a real one.
                let f = &node.fields[fi as usize];
                if let FieldSlot::Pointer { ty, index, default } = &f.slot {
                    let at = dst.ptrs + *index as usize * 8;
                    if self.out.buf[at..at + 8] == [0; 8] {
                        self.materialize(at, &ty.resolved(dst.brand.as_deref()), default.as_ref())?;
                    }
                }
            }
        }
        for (i, f) in node.fields.iter().enumerate() {
            if f.discriminant.is_some() {
                continue;
            }
            if let FieldSlot::Pointer { index, .. } = &f.slot {
                let at = src.ptrs + *index as usize * 8;
                if self.out.buf[at..at + 8] == [0; 8] {
                    continue;
                }
            }
            self.move_field(src, dst, i as u16)?;
        }
        Ok(())
    }

    /// Fills a null pointer with its field's default, or with an empty struct.
    fn materialize(&mut self, at: usize, ty: &Type, default: Option<&SchemaValue>) -> Result<()> {
        match (ty, default) {
            (Type::Struct(n, _), default) => {
                let node = struct_node(self.pool, *n)?;
                let s = self
                    .out
                    .init_struct(at, node.data_words, node.pointer_count)?;
                if let Some(SchemaValue::Struct(raw)) = default {
                    self.fill_from_default(s.data, node, raw)?;
                }
            }
            (_, Some(SchemaValue::Text(t))) if !t.is_empty() => {
                self.out.set_blob(at, t.as_bytes(), true)?;
            }
            (_, Some(SchemaValue::Data(d))) if !d.is_empty() => self.out.set_blob(at, d, false)?,
            (_, Some(SchemaValue::List(raw))) if !raw.is_null() => {
                copy_pointer(raw.segment(), 0, &mut self.out, at, 0)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn move_field(&mut self, src: &View<'p>, dst: &View<'p>, fi: u16) -> Result<()> {
        let f = &dst.node.fields[fi as usize];
        self.set_in_union(dst, f);
        match &f.slot {
            FieldSlot::Void => {}
            FieldSlot::Data { ty, offset, .. } => {
                let v = read_slot(&self.out.buf[src.data..], ty, *offset);
                let bits = ty.data_bits().unwrap_or(0);
                self.out
                    .write_bits(dst.data, ty.bit_position(*offset), bits, v);
            }
            FieldSlot::Pointer { index, .. } => {
                let from = src.ptrs + *index as usize * 8;
                let to = dst.ptrs + *index as usize * 8;
                self.move_pointer(from, to);
            }
            FieldSlot::Group { node } => {
                if let Some(g) = self.pool.node(*node).as_struct() {
                    let s = View {
                        idx: *node,
                        node: g,
                        ..src.clone()
                    };
                    let d = View {
                        idx: *node,
                        node: g,
                        ..dst.clone()
                    };
                    self.move_group(&s, &d)?;
                }
            }
        }
        Ok(())
    }

    /// Copies the pointer at byte `from` to byte `to`, keeping its target (a near pointer's
    /// offset is relative to where it sits).
    fn move_pointer(&mut self, from: usize, to: usize) {
        let w = u64::from_le_bytes(self.out.buf[from..from + 8].try_into().unwrap());
        let moved = if w == 0 {
            0
        } else {
            let target = from as i64 + 8 + (((w as u32) as i32 >> 2) as i64) * 8;
            let offset = ((target - to as i64 - 8) / 8) as i32;
            (w & !0xffff_ffff) | ((offset as u32) << 2) as u64 | (w & 3)
        };
        self.out.buf[to..to + 8].copy_from_slice(&moved.to_le_bytes());
    }

    /// The struct a flattened field's names go into: the group itself, or the struct its
    /// pointer holds (made, from the field's default, when the pointer is null).
    fn flattened(&mut self, v: &View<'p>, fi: u16) -> Result<View<'p>> {
        let f = &v.node.fields[fi as usize];
        match &f.slot {
            FieldSlot::Group { node } => Ok(View {
                idx: *node,
                node: struct_node(self.pool, *node)?,
                ..v.clone()
            }),
            FieldSlot::Pointer { ty, index, default } => {
                let ty = ty.resolved(v.brand.as_deref());
                let Type::Struct(n, brand) = &*ty else {
                    return Err(flatten_error(f));
                };
                let node = struct_node(self.pool, *n)?;
                let at = v.ptrs + *index as usize * 8;
                let w = u64::from_le_bytes(self.out.buf[at..at + 8].try_into().unwrap());
                let (data, ptrs) = if w == 0 {
                    let s = self
                        .out
                        .init_struct(at, node.data_words, node.pointer_count)?;
                    if let Some(SchemaValue::Struct(raw)) = default {
                        self.fill_from_default(s.data, node, raw)?;
                    }
                    (s.data, s.ptrs)
                } else {
                    let off = ((w as u32) as i32 >> 2) as i64;
                    let data = (at as i64 + 8 + off * 8) as usize;
                    let words = ((w >> 32) & 0xffff) as u16;
                    let count = (w >> 48) as u16;
                    let ptrs = data + words as usize * 8;
                    if words >= node.data_words && count >= node.pointer_count {
                        (data, ptrs)
                    } else {
                        // Smaller than the schema says (a default value written compactly):
                        // move it into a struct of full size.
                        let s = self.out.init_struct(
                            at,
                            words.max(node.data_words),
                            count.max(node.pointer_count),
                        )?;
                        self.out.buf.copy_within(data..ptrs, s.data);
                        for i in 0..count as usize {
                            self.move_pointer(ptrs + i * 8, s.ptrs + i * 8);
                        }
                        (s.data, s.ptrs)
                    }
                };
                Ok(View {
                    data,
                    ptrs,
                    idx: *n,
                    node,
                    brand: brand.clone(),
                })
            }
            _ => Err(flatten_error(f)),
        }
    }

    /// Copies a struct default into a struct just made with the schema's sizes.
    fn fill_from_default(
        &mut self,
        data: usize,
        node: &StructNode,
        raw: &RawPointer,
    ) -> Result<()> {
        let seg = raw.segment();
        let Some(w) = word_at(seg, 0).filter(|w| *w != 0 && w & 3 == 0) else {
            return Ok(());
        };
        let src = 8 + (((w as u32) as i32 >> 2) as i64) * 8;
        let src = usize::try_from(src).map_err(|_| Error::wire("bad default value"))?;
        let src_words = ((w >> 32) & 0xffff) as usize;
        let src_ptrs = (w >> 48) as usize;
        let words = src_words.min(node.data_words as usize);
        let bytes = seg
            .get(src..src + words * 8)
            .ok_or_else(|| Error::wire("default value is truncated"))?;
        self.out.buf[data..data + words * 8].copy_from_slice(bytes);
        let ptrs = data + node.data_words as usize * 8;
        for i in 0..src_ptrs.min(node.pointer_count as usize) {
            copy_pointer(
                seg,
                src + src_words * 8 + i * 8,
                &mut self.out,
                ptrs + i * 8,
                0,
            )?;
        }
        Ok(())
    }

    /// Reads a field's value and stores it, activating the field when it is a union member.
    fn field(&mut self, v: &View<'p>, fi: u16) -> Result<()> {
        let f: &'p Field = &v.node.fields[fi as usize];
        let tok = self.p.token()?;
        match &f.slot {
            FieldSlot::Void => {
                self.p.finish(&tok)?;
                self.set_in_union(v, f);
            }
            FieldSlot::Data {
                ty,
                offset,
                default_bits,
            } => {
                let value = self.scalar(ty, tok)?;
                self.set_in_union(v, f);
                let bits = ty.data_bits().unwrap_or(0);
                self.out
                    .write_bits(v.data, ty.bit_position(*offset), bits, value ^ default_bits);
            }
            FieldSlot::Pointer { ty, index, .. } => {
                let ty = ty.resolved(v.brand.as_deref());
                let blob = Attrs::of(&f.annotations).blob;
                self.pointer(v.ptrs + *index as usize * 8, &ty, tok, blob)?;
                self.set_in_union(v, f);
            }
            FieldSlot::Group { node } => {
                if !matches!(tok, Tok::Obj) {
                    return Err(Error::data(format!(
                        "expected an object for a group, found {}",
                        tok.describe()
                    )));
                }
                // The group is read on its own, then its active member and its other fields
                // are moved in (so that what other union members left behind is dropped, as
                // the reference does).
                let g = struct_node(self.pool, *node)?;
                let tmp = self.scratch_struct(v.node)?;
                let read = View {
                    data: tmp.0,
                    ptrs: tmp.1,
                    idx: *node,
                    node: g,
                    brand: v.brand.clone(),
                };
                self.object(&read)?;
                self.set_in_union(v, f);
                let dst = View {
                    idx: *node,
                    node: g,
                    ..v.clone()
                };
                self.move_group(&read, &dst)?;
            }
        }
        Ok(())
    }

    /// The bits of a primitive or enum value.
    fn scalar(&mut self, ty: &Type, tok: Tok<'j>) -> Result<u64> {
        let range = |lo: i128, hi: i128, v: i128| {
            if (lo..=hi).contains(&v) {
                Ok(v as u64)
            } else {
                Err(Error::data(format!(
                    "{v} is out of range for {}",
                    ty.describe(self.pool)
                )))
            }
        };
        match ty {
            Type::Void => {
                self.p.finish(&tok)?;
                Ok(0)
            }
            Type::Bool => match tok {
                Tok::Bool(b) => Ok(b as u64),
                t => Err(expected("a boolean", &t)),
            },
            Type::Int8 => range(-128, 127, integer(&tok, true)?).map(|v| v & 0xff),
            Type::Int16 => range(-32768, 32767, integer(&tok, true)?).map(|v| v & 0xffff),
            Type::Int32 => range(i32::MIN as i128, i32::MAX as i128, integer(&tok, true)?)
                .map(|v| v & 0xffff_ffff),
            Type::Int64 => range(i64::MIN as i128, i64::MAX as i128, integer(&tok, true)?),
            Type::UInt8 => range(0, 255, integer(&tok, false)?),
            Type::UInt16 => range(0, 65535, integer(&tok, false)?),
            Type::UInt32 => range(0, u32::MAX as i128, integer(&tok, false)?),
            Type::UInt64 => range(0, u64::MAX as i128, integer(&tok, false)?),
            Type::Float32 => Ok((float(&tok)? as f32).to_bits() as u64),
            Type::Float64 => Ok(float(&tok)?.to_bits()),
            Type::Enum(n) => match &tok {
                Tok::Str(name) => {
                    let e = self.pool.node(*n).as_enum();
                    e.and_then(|e| {
                        e.enumerants
                            .iter()
                            .position(|x| Attrs::of(&x.annotations).name.unwrap_or(&x.name) == name)
                    })
                    .map(|i| i as u64)
                    .ok_or_else(|| {
                        Error::data(format!(
                            "`{name}` is not an enumerant of `{}`",
                            self.pool.node(*n).short_name()
                        ))
                    })
                }
                // As the reference does, a number is taken as the enumerant's ordinal.
                Tok::Num(s) => Ok(s.parse::<f64>().map_or(0, |f| f as i64 as u16) as u64),
                t => Err(expected("an enumerant name", t)),
            },
            other => Err(unsupported(other, self.pool)),
        }
    }

    /// Stores a pointer value at byte `at`.
    fn pointer(&mut self, at: usize, ty: &Type, tok: Tok<'j>, blob: Blob) -> Result<()> {
        match ty {
            Type::Text => match tok {
                Tok::Str(s) => self.out.set_blob(at, s.as_bytes(), true),
                t => Err(expected("a string", &t)),
            },
            Type::Data => {
                let bytes = match (blob, tok) {
                    (Blob::Array, Tok::Arr) => self.byte_array()?,
                    (Blob::Array, t) => return Err(expected("an array of bytes", &t)),
                    (Blob::Base64, Tok::Str(s)) => base64_decode(&s),
                    (Blob::Hex, Tok::Str(s)) => hex_decode(&s),
                    // The reference reads a missing string as an empty one here.
                    (_, Tok::Null | Tok::Bool(_) | Tok::Num(_)) => Vec::new(),
                    (_, t) => return Err(expected("a string", &t)),
                };
                let r = self.out.set_blob(at, &bytes, false);
                self.bytes = bytes;
                r
            }
            Type::List(elem) => match tok {
                Tok::Arr => self.list(at, elem),
                t => Err(expected("an array", &t)),
            },
            Type::Struct(n, _) if self.pool.node(*n).id == JSON_VALUE_ID => {
                let node = struct_node(self.pool, *n)?;
                let s = self
                    .out
                    .init_struct(at, node.data_words, node.pointer_count)?;
                self.raw(s.data, s.ptrs, tok)
            }
            Type::Struct(n, brand) => match tok {
                Tok::Obj => {
                    let node = struct_node(self.pool, *n)?;
                    let s = self
                        .out
                        .init_struct(at, node.data_words, node.pointer_count)?;
                    self.object(&View {
                        data: s.data,
                        ptrs: s.ptrs,
                        idx: *n,
                        node,
                        brand: brand.clone(),
                    })
                }
                t => Err(expected("an object", &t)),
            },
            other => Err(unsupported(other, self.pool)),
        }
    }

    /// Stores a JSON value as a `capnp::json::Value` in the (zeroed) struct at `data`/`ptrs`.
    fn raw(&mut self, data: usize, ptrs: usize, tok: Tok<'j>) -> Result<()> {
        // The layout of `capnp::json::Value`: the kind in bits 0..16, a boolean at bit 16, a
        // number in the second word, and one pointer for a string, an array or an object (whose
        // entries are `Field`s: a name and a value).
        const VALUE: (u16, u16) = (2, 1);
        const FIELD: (u16, u16) = (0, 2);
        let kind = match tok {
            Tok::Null => 0,
            Tok::Bool(b) => {
                self.out.write_bits(data, 16, 1, b as u64);
                1
            }
            Tok::Num(s) => {
                let v: f64 = s
                    .parse()
                    .map_err(|_| Error::data(format!("`{s}` is not a number")))?;
                self.out.write_bits(data, 64, 64, v.to_bits());
                2
            }
            Tok::Str(s) => {
                self.out.set_blob(ptrs, s.as_bytes(), true)?;
                3
            }
            Tok::Arr => {
                let count = self.p.count()?;
                let l = self.out.init_struct_list(ptrs, count, VALUE.0, VALUE.1)?;
                for i in 0..count as usize {
                    self.p.counted_item(i == 0)?;
                    let tok = self.p.token()?;
                    let at = l.start + i * 24;
                    self.raw(at, at + 16, tok)
                        .map_err(|e| e.at_index(i as u64))?;
                }
                self.p.more(count == 0)?;
                4
            }
            Tok::Obj => {
                let count = self.p.count_entries()?;
                let l = self.out.init_struct_list(ptrs, count, FIELD.0, FIELD.1)?;
                for i in 0..count as usize {
                    let Some(key) = self.p.key(i == 0)? else {
                        return Err(self.p.err("expected an entry"));
                    };
                    let at = l.start + i * 16;
                    self.out.set_blob(at, key.as_bytes(), true)?;
                    let value = self.out.init_struct(at + 8, VALUE.0, VALUE.1)?;
                    let tok = self.p.token()?;
                    self.raw(value.data, value.ptrs, tok)
                        .map_err(|e| e.in_field(key.to_string()))?;
                }
                if self.p.key(count == 0)?.is_some() {
                    return Err(self.p.err("expected the end of the object"));
                }
                5
            }
        };
        self.out.write_bits(data, 0, 16, kind);
        Ok(())
    }

    /// The bytes of a Data array whose `[` was just read. Elements that are not numbers read as
    /// zero, as in the reference.
    fn byte_array(&mut self) -> Result<Vec<u8>> {
        let mut bytes = std::mem::take(&mut self.bytes);
        bytes.clear();
        let mut first = true;
        while self.p.more(first)? {
            first = false;
            let tok = self.p.token()?;
            let b = match &tok {
                Tok::Num(s) => {
                    let x: f64 = s.parse().unwrap_or(f64::NAN);
                    if !(0.0..=255.0).contains(&x) || x.fract() != 0.0 {
                        return Err(Error::data(format!(
                            "{s} in a Data array is not an integer in [0, 255]"
                        ))
                        .at_index(bytes.len() as u64));
                    }
                    x as u8
                }
                t => {
                    self.p.finish(t)?;
                    0
                }
            };
            bytes.push(b);
        }
        Ok(bytes)
    }

    /// Fills the list at byte `at` from the array whose `[` was just read.
    fn list(&mut self, at: usize, elem: &Type) -> Result<()> {
        match elem {
            Type::Struct(n, brand) => {
                let node = struct_node(self.pool, *n)?;
                let count = self.p.count()?;
                let l =
                    self.out
                        .init_struct_list(at, count, node.data_words, node.pointer_count)?;
                let step = (node.data_words as usize + node.pointer_count as usize) * 8;
                let raw = self.pool.node(*n).id == JSON_VALUE_ID;
                for i in 0..count {
                    self.p.counted_item(i == 0)?;
                    let data = l.start + i as usize * step;
                    match self.p.token()? {
                        tok if raw => self.raw(data, data + node.data_words as usize * 8, tok),
                        Tok::Obj => self.object(&View {
                            data,
                            ptrs: data + node.data_words as usize * 8,
                            idx: *n,
                            node,
                            brand: brand.clone(),
                        }),
                        t => Err(expected("an object", &t)),
                    }
                    .map_err(|e| e.at_index(i as u64))?;
                }
                self.p.more(count == 0)?;
            }
            t if t.is_data() => {
                let bits = t.data_bits().unwrap_or(0);
                let mut values = std::mem::take(&mut self.scratch);
                values.clear();
                let mut first = true;
                while self.p.more(first)? {
                    first = false;
                    let tok = self.p.token()?;
                    let v = self
                        .scalar(t, tok)
                        .map_err(|e| e.at_index(values.len() as u64))?;
                    values.push(v);
                }
                let len = u32::try_from(values.len())
                    .map_err(|_| Error::limit("JSON array is too long"))?;
                let l = self.out.init_list(at, ElemSize::for_bits(bits), len)?;
                if bits > 0 {
                    for (i, &v) in values.iter().enumerate() {
                        self.out
                            .write_bits(l.start, i as u64 * bits as u64, bits, v);
                    }
                }
                self.scratch = values;
            }
            t => {
                let count = self.p.count()?;
                let l = self.out.init_list(at, ElemSize::Pointer, count)?;
                for i in 0..count {
                    self.p.counted_item(i == 0)?;
                    let tok = self.p.token()?;
                    self.pointer(l.start + i as usize * 8, t, tok, Blob::Array)
                        .map_err(|e| e.at_index(i as u64))?;
                }
                self.p.more(count == 0)?;
            }
        }
        Ok(())
    }
}

/// Where a struct's union discriminant lives: what tells one union instance from another.
fn discriminant_at(v: &View<'_>) -> usize {
    v.data + (v.node.discriminant_bit() / 8) as usize
}

fn expected(what: &str, found: &Tok<'_>) -> Error {
    Error::data(format!("expected {what}, found {}", found.describe()))
}

/// An integer value: a number, or a string as `strtoll`/`strtoull` read it.
fn integer(tok: &Tok<'_>, signed: bool) -> Result<i128> {
    let out_of_range = |s: &str| Error::data(format!("`{s}` is not an integer in range"));
    match tok {
        Tok::Num(s) if !s.contains(['.', 'e', 'E']) => {
            s.parse::<i128>().map_err(|_| out_of_range(s))
        }
        Tok::Num(s) => {
            let f: f64 = s.parse().map_err(|_| out_of_range(s))?;
            if f.fract() != 0.0 || f.abs() >= 1.7e38 {
                return Err(out_of_range(s));
            }
            Ok(f as i128)
        }
        Tok::Str(s) => parse_c_integer(s, signed).ok_or_else(|| out_of_range(s)),
        t => Err(expected("an integer", t)),
    }
}

/// A float value: a number, `null` (NaN), or a string as `strtod` reads it.
fn float(tok: &Tok<'_>) -> Result<f64> {
    match tok {
        Tok::Null => Ok(f64::NAN),
        Tok::Num(s) => s
            .parse()
            .map_err(|_| Error::data(format!("`{s}` is not a number"))),
        Tok::Str(s) => {
            parse_c_float(s).ok_or_else(|| Error::data(format!("`{s}` is not a number")))
        }
        t => Err(expected("a number", t)),
    }
}

/// Copies the object behind the pointer at `from` in `src` (a single segment holding only near
/// pointers) to a new pointer at `to` in `dst`: structs and lists keep their sizes, and objects
/// are laid out depth first, in pointer order, as the reference lays out a message it copies.
fn copy_pointer(src: &[u8], from: usize, dst: &mut Out, to: usize, depth: u32) -> Result<()> {
    let bad = || Error::wire("malformed pointer while laying out the message");
    let w = word_at(src, from).ok_or_else(bad)?;
    if w == 0 {
        return Ok(());
    }
    if depth > 128 {
        return Err(Error::limit("message nests too deeply"));
    }
    let target = from as i64 + 8 + (((w as u32) as i32 >> 2) as i64) * 8;
    let target = usize::try_from(target).map_err(|_| bad())?;
    match w & 3 {
        0 => {
            let data_words = ((w >> 32) & 0xffff) as u16;
            let ptr_count = (w >> 48) as u16;
            copy_struct(src, target, data_words, ptr_count, dst, to, depth)
        }
        1 => {
            let count = (w >> 35) as u32;
            match (w >> 32) & 7 {
                7 => {
                    let tag = word_at(src, target).ok_or_else(bad)?;
                    let n = ((tag as u32) as i32 >> 2).max(0) as u32;
                    let data_words = ((tag >> 32) & 0xffff) as u16;
                    let ptr_count = (tag >> 48) as u16;
                    let step = (data_words as usize + ptr_count as usize) * 8;
                    if n as usize * step > count as usize * 8 {
                        return Err(bad());
                    }
                    let l = dst.init_struct_list(to, n, data_words, ptr_count)?;
                    for i in 0..n as usize {
                        let from = target + 8 + i * step;
                        let at = l.start + i * step;
                        copy_sections(src, from, data_words, ptr_count, dst, at, depth)?;
                    }
                    Ok(())
                }
                6 => {
                    let l = dst.init_list(to, ElemSize::Pointer, count)?;
                    for i in 0..count as usize {
                        copy_pointer(src, target + i * 8, dst, l.start + i * 8, depth + 1)?;
                    }
                    Ok(())
                }
                size => {
                    let (es, bits) = match size {
                        0 => (ElemSize::Void, 0),
                        1 => (ElemSize::Bit, 1),
                        2 => (ElemSize::Byte, 8),
                        3 => (ElemSize::TwoBytes, 16),
                        4 => (ElemSize::FourBytes, 32),
                        _ => (ElemSize::EightBytes, 64),
                    };
                    let len = (count as usize * bits).div_ceil(8);
                    let bytes = src.get(target..target + len).ok_or_else(bad)?;
                    let l = dst.init_list(to, es, count)?;
                    dst.buf[l.start..l.start + len].copy_from_slice(bytes);
                    Ok(())
                }
            }
        }
        _ => Err(bad()),
    }
}

pub(crate) fn copy_struct(
    src: &[u8],
    from: usize,
    data_words: u16,
    ptr_count: u16,
    dst: &mut Out,
    to: usize,
    depth: u32,
) -> Result<()> {
    let s = dst.init_struct(to, data_words, ptr_count)?;
    if data_words == 0 && ptr_count == 0 {
        // An empty struct points just before itself, as the reference encodes it.
        dst.buf[to..to + 8].copy_from_slice(&0xffff_fffcu64.to_le_bytes());
        return Ok(());
    }
    copy_sections(src, from, data_words, ptr_count, dst, s.data, depth)
}

fn copy_sections(
    src: &[u8],
    from: usize,
    data_words: u16,
    ptr_count: u16,
    dst: &mut Out,
    at: usize,
    depth: u32,
) -> Result<()> {
    let data = data_words as usize * 8;
    let bytes = src
        .get(from..from + data)
        .ok_or_else(|| Error::wire("struct outside its segment while laying out the message"))?;
    dst.buf[at..at + data].copy_from_slice(bytes);
    for i in 0..ptr_count as usize {
        copy_pointer(src, from + data + i * 8, dst, at + data + i * 8, depth + 1)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::float::Decimal;

    fn float(v: f64) -> String {
        let mut out = Vec::new();
        push_float(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn floats_print_as_c_does() {
        assert_eq!(float(0.0), "0");
        assert_eq!(float(-0.0), "-0");
        assert_eq!(float(1.5), "1.5");
        assert_eq!(float(0.1), "0.1");
        assert_eq!(float(0.1f32 as f64), "0.10000000149011612");
        assert_eq!(float(1e-5), "1e-05");
        assert_eq!(float(1e300), "1e300");
        assert_eq!(float(1e15), "1e15");
        assert_eq!(float(123456789012345.0), "123456789012345");
        assert_eq!(float(1e20f32 as f64), "1.0000000200408773e20");
        assert_eq!(float(5e-324), "4.94065645841247e-324");
        assert_eq!(float(-2.5e300), "-2.5e300");
        assert_eq!(float(0.0001), "0.0001");
        assert_eq!(float(0.00012345), "0.00012345");
        assert_eq!(float(f64::MAX), "1.7976931348623157e308");
        assert_eq!(float(f64::NAN), "\"NaN\"");
        assert_eq!(float(f64::NEG_INFINITY), "\"-Infinity\"");
        assert_eq!(float(1234.5), "1234.5");
        assert_eq!(float(-1.25e-10), "-1.25e-10");
    }

    /// `%.15g` if it reads back, else `%.17g`, from the standard library's exact digits.
    fn slow_float(v: f64) -> String {
        let mut out = Vec::new();
        let d = Decimal::formatted(format_args!("{:.14e}", v.abs()));
        d.write_g(&mut out, v < 0.0, 15);
        if std::str::from_utf8(&out).unwrap().parse::<f64>().unwrap() != v {
            out.clear();
            let d = Decimal::formatted(format_args!("{:.16e}", v.abs()));
            d.write_g(&mut out, v < 0.0, 17);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    #[allow(clippy::excessive_precision)]
    fn fast_float_paths_agree_with_exact_formatting() {
        let mut x = 0x1234_5678_9abc_def1u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut values = vec![
            1000000000000000.25,
            1e15 + 0.5,
            9.999999999999999e22,
            1e23,
            0.30000000000000004,
            1.0000000000000002,
            2.2250738585072014e-308,
            4.9406564584124654e-324,
            1.7976931348623157e308,
        ];
        for _ in 0..20000 {
            let r = next();
            values.push(f64::from_bits(r));
            values.push(f32::from_bits(r as u32) as f64);
            values.push((r % 1_000_000_000) as f64 / 1000.0);
            values.push((r >> 11) as f64 * 2f64.powi((r % 200) as i32 - 100));
        }
        for v in values {
            if !v.is_finite() || (v == v.trunc() && v.abs() < 1e15) {
                continue;
            }
            assert_eq!(float(v), slow_float(v), "{v:e} ({:#x})", v.to_bits());
        }
    }

    #[test]
    fn base64_and_hex() {
        for data in [&b""[..], b"a", b"ab", b"abc", b"abcd", &[0, 1, 2, 255, 254]] {
            let mut out = Vec::new();
            base64_into(&mut out, data);
            assert_eq!(base64_decode(std::str::from_utf8(&out).unwrap()), data);
        }
        let mut out = Vec::new();
        base64_into(&mut out, &[0, 1, 2, 255, 254]);
        assert_eq!(out, b"AAEC//4=");
        assert_eq!(base64_decode("AA EC\n//4="), [0, 1, 2, 255, 254]);
        assert_eq!(hex_decode("deadBEEF1"), [0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(hex_decode("zz"), [0]);
    }

    #[test]
    fn integers_in_strings_read_as_c_does() {
        assert_eq!(parse_c_integer("0x10", true), Some(16));
        assert_eq!(parse_c_integer("-0x10", true), Some(-16));
        assert_eq!(parse_c_integer(" +12", true), Some(12));
        assert_eq!(parse_c_integer("12 ", true), None);
        assert_eq!(parse_c_integer("", true), None);
        assert_eq!(parse_c_integer("0x", true), None);
        assert_eq!(parse_c_integer("9223372036854775808", true), None);
        assert_eq!(
            parse_c_integer("-9223372036854775808", true),
            Some(i64::MIN as i128)
        );
        assert_eq!(
            parse_c_integer("18446744073709551615", false),
            Some(u64::MAX as i128)
        );
        assert_eq!(parse_c_integer("18446744073709551616", false), None);
        assert_eq!(parse_c_integer("-1", false), None);
        assert_eq!(parse_c_integer(" -1", false), Some(u64::MAX as i128));
        assert_eq!(parse_c_float(" 1.5"), Some(1.5));
        assert_eq!(parse_c_float("-Infinity"), Some(f64::NEG_INFINITY));
        assert!(parse_c_float("NaN").unwrap().is_nan());
        assert_eq!(parse_c_float("1.5x"), None);
    }

    #[test]
    fn escape_detection_sees_every_byte() {
        for b in 0..=255u8 {
            for at in 0..8 {
                let mut w = [b'a'; 8];
                w[at] = b;
                assert_eq!(
                    needs_escape(u64::from_le_bytes(w)),
                    ESCAPE[b as usize],
                    "{b}"
                );
            }
        }
    }

    #[test]
    fn escaping() {
        let mut out = Vec::new();
        escape_into(&mut out, "a\"b\\c\n\u{1}\u{1f}é\u{7f}".as_bytes());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a\\\"b\\\\c\\n\\u0001\\u001fé\u{7f}"
        );
    }
}
