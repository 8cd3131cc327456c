//! The Cap'n Proto text format: what `capnp convert binary:text` prints and `text:binary` reads.
//!
//! Printing follows the reference implementation (version 0.9.2) byte for byte:
//!
//! - A struct prints as `(name = value, ...)`. Fields appear in the order of the schema's field
//!   list; fields outside the union always print, except null pointers; the active union member
//!   prints in its place in that order, unless it is the member with discriminant 0 holding a
//!   null pointer (another member holding a null pointer prints its schema default). A union
//!   whose discriminant the schema does not know prints nothing.
//! - Numbers print as C's `printf` does: integers in decimal, `Float32` with 6 significant digits
//!   (8 when 6 do not read back the same value, and always for subnormals), `Float64` with 15
//!   (else 17), in `%g` style without the `+` of the exponent (`1e30`, `1e-05`); `inf`, `-inf` and
//!   `nan` for the special values.
//! - Text and Data print as `"..."` with C escapes; bytes outside printable ASCII use 3-digit
//!   octal escapes (`\000`, and in Data `\377`), UTF-8 in Text prints as is.
//! - Enums print their enumerant's name, or `(N)` for a number the schema does not know.
//!   `AnyPointer` values print as `<opaque pointer>`, capabilities as `<external capability>`.
//!
//! The short form puts everything on one line, items separated by `, `. The pretty form (the
//! tool's default) keeps a struct or list on one line when each of its items is at most 24
//! bytes long without a line break, and, for a struct, all of them together at most 64 bytes;
//! otherwise it puts one item a line, indented by two spaces a level, the first one after a
//! space (for a value on a line of its own: the message, a list element) or on a new line (for
//! a field's value), with a space before the closing bracket.
//!
//! Reading accepts the language `capnp convert text:binary` accepts: one parenthesized struct
//! literal, with the schema language's literals (decimal, `0x` hex and `0` octal integers, a
//! leading `-`, floats, `inf`, `-inf`, `nan`, `true`, `false`, `void`, string literals with C
//! escapes, adjacent strings concatenated, `0x"hex"` data, enumerant names, `[lists]`, nested
//! `(field = value)` structs and groups) and `#` comments. Later assignments replace earlier
//! ones; assigning a union member makes it the active one; assigning a group starts it afresh.
//! Two differences: Text must be UTF-8 (the reference stores any bytes `\xNN` escapes make),
//! and replacing one union member by another leaves no trace of the first in the encoding.

use std::fmt;

use serde_capnp_schema::{
    AnyPointerKind, Brand, FieldSlot, NodeIndex, SchemaPool, Type, Value as SchemaValue,
};

use crate::dynamic::DynamicValue;
use crate::error::{Error, Result};
use crate::float::{push_f32, push_f64, push_i64, push_u64};
use crate::schema::{struct_node, StructSchema};
use crate::value::{Enumerant, Value};
use crate::wire::{
    read_bits, read_discriminant, read_slot, Depth, Expect, ListRef, Msg, PtrRef, StructRef,
};

impl StructSchema {
    /// Prints a message (segment table included) in the text format, as
    /// `capnp convert binary:text` does: the pretty, multi-line form. The tool ends the text with
    /// a newline; this string does not.
    ///
    /// ```
    /// # fn main() -> serde_capnp::Result<()> {
    /// let schema = serde_capnp::Schema::parse(
    ///     "point.capnp",
    ///     "@0xbf5147cbbecf40c1;\nstruct Point { x @0 :Int32; y @1 :Float32; tag @2 :Text; }\n",
    /// )?;
    /// let point = schema.struct_type("Point")?;
    /// let bytes = point.from_text("(x = -3, y = 0.1, tag = \"a\\tb\")")?;
    /// assert_eq!(point.to_text(&bytes)?, "(x = -3, y = 0.1, tag = \"a\\tb\")");
    /// # Ok(())
    /// # }
    /// ```
    pub fn to_text(&self, bytes: &[u8]) -> Result<String> {
        self.print_message(bytes, true)
    }

    /// Prints a message in the short, one-line text form (`capnp convert --short binary:text`).
    pub fn to_text_short(&self, bytes: &[u8]) -> Result<String> {
        self.print_message(bytes, false)
    }

    /// Prints a [`Value`] in the text format: what [`to_text`](Self::to_text) (`pretty`) or
    /// [`to_text_short`](Self::to_text_short) print for the message the value writes.
    pub fn value_to_text(&self, value: &Value, pretty: bool) -> Result<String> {
        let bytes = self.to_vec(value)?;
        self.print_message(&bytes, pretty)
    }

    /// A [`Value`] as something to format with `{}` (the short text form) or `{:#}` (the
    /// pretty one). A value that does not fit the schema formats as `<error: ...>`.
    pub fn display<'a>(&'a self, value: &'a Value) -> impl fmt::Display + 'a {
        TextDisplay {
            schema: self,
            value,
        }
    }

    /// Reads a message written in the text format (`capnp convert text:binary`) and returns it
    /// encoded (segment table included).
    pub fn from_text(&self, text: &str) -> Result<Vec<u8>> {
        let value = self.parse_text(text)?;
        self.to_vec(&value)
    }

    /// Reads a message written in the text format into a [`Value`] (as
    /// [`read_value`](Self::read_value) reads the message [`from_text`](Self::from_text)
    /// encodes).
    pub fn value_from_text(&self, text: &str) -> Result<Value> {
        self.read_value(&self.from_text(text)?)
    }

    /// Reads a stream of messages in the text format, one `( ... )` after another, as
    /// `capnp convert text:binary` reads its input: a message ends where the next top-level
    /// `(` starts. Returns each message encoded. (Unlike the tool, parentheses and `#` inside
    /// string literals do not confuse the splitting.)
    pub fn messages_from_text(&self, text: &str) -> Result<Vec<Vec<u8>>> {
        let tokens = Lexer::new(text).run()?;
        let mut messages = Vec::new();
        let mut start = 0;
        let mut seen_struct = false;
        for (i, token) in tokens.iter().enumerate() {
            if matches!(token.tok, Tok::Paren(_)) {
                if seen_struct {
                    messages.push(self.to_vec(&self.parse_message(text, &tokens[start..i])?)?);
                    start = i;
                }
                seen_struct = true;
            }
        }
        if start < tokens.len() {
            messages.push(self.to_vec(&self.parse_message(text, &tokens[start..])?)?);
        }
        Ok(messages)
    }

    fn print_message(&self, bytes: &[u8], pretty: bool) -> Result<String> {
        let segments = crate::framing::split_exact(bytes, &self.options)?;
        let limits = self.options.limits();
        let msg = Msg::new(segments, limits)?;
        let root = msg.root()?;
        let (pool, node) = self.pool();
        let mut printer = Printer::new(pool, msg, limits.nesting);
        printer.out.reserve(bytes.len());
        let indent = Indent(if pretty { 1 } else { 0 });
        printer.enter()?;
        let s = printer
            .msg
            .read_struct(root)?
            .unwrap_or_else(StructRef::empty);
        printer.print_struct(s, node, self.brand(), indent, Mode::Bare)?;
        Ok(printer.out)
    }

    fn parse_text(&self, text: &str) -> Result<Value> {
        let tokens = Lexer::new(text).run()?;
        if tokens.is_empty() {
            return Err(syntax(text, text.len(), "the input holds no message"));
        }
        self.parse_message(text, &tokens)
    }

    /// One message from its tokens: a single `( ... )` struct expression.
    fn parse_message(&self, text: &str, tokens: &[Token]) -> Result<Value> {
        let mut parser = Parser {
            src: text,
            depth: 0,
        };
        let mut pos = 0;
        let end = tokens.last().map_or(text.len(), |t| t.end);
        let expr = parser.expression(tokens, &mut pos, end)?;
        if pos != tokens.len() {
            return Err(syntax(
                text,
                tokens[pos].start,
                "extra tokens after the message",
            ));
        }
        let (pool, node) = self.pool();
        let ExprKind::Tuple(params) = &expr.kind else {
            return Err(syntax(
                text,
                expr.start,
                "the input does not hold a struct: expected `(field = value, ...)`",
            ));
        };
        let translator = Translator { pool, src: text };
        translator.fill_struct(params, node, self.brand())
    }
}

impl crate::schema::Schema {
    /// The value of the constant `name` (a short, nested or `file.capnp:Name` name) in the text
    /// format, as `capnp eval SCHEMA NAME` prints it: pretty when `pretty` is set and the value
    /// is a struct or a list, on one line otherwise.
    pub fn eval_text(&self, name: &str, pretty: bool) -> Result<String> {
        let (node, path) = self.eval_target(name)?;
        self.eval_at(node, path, |pool, value| dynamic_text(pool, &value, pretty))
    }
}

/// A value a `capnp eval` path reached, in the text format: structs and lists laid out as a
/// constant's value is, on one line when `pretty` is unset.
fn dynamic_text(pool: &SchemaPool, value: &DynamicValue<'_>, pretty: bool) -> Result<String> {
    let limits = crate::schema::ReadOptions::default().limits();
    let indent = Indent(pretty as usize);
    let data = |ty: Type, bits: u64| {
        let mut out = String::new();
        write_data(pool, &ty, bits, &mut out).map(|()| out)
    };
    let quoted = |bytes: &[u8], text: bool| {
        let mut out = String::new();
        write_quoted(bytes, text, &mut out);
        out
    };
    Ok(match value {
        DynamicValue::Struct(s) => {
            let (msg, node, brand, at) = s.parts();
            let mut printer = Printer::new(pool, msg.share(), limits.nesting);
            printer.print_struct(at, node, brand, indent, Mode::Bare)?;
            msg.rejoin(&printer.msg);
            printer.out
        }
        DynamicValue::List(l) => {
            let (msg, element, list) = l.parts();
            let mut printer = Printer::new(pool, msg.share(), limits.nesting);
            printer.print_list_ref(element, list, indent, Mode::Bare)?;
            msg.rejoin(&printer.msg);
            printer.out
        }
        DynamicValue::Text(t) => quoted(t.as_bytes(), true),
        DynamicValue::Data(d) => quoted(d, false),
        DynamicValue::Void => "void".to_string(),
        DynamicValue::Bool(v) => data(Type::Bool, *v as u64)?,
        DynamicValue::Int8(v) => data(Type::Int8, *v as u8 as u64)?,
        DynamicValue::Int16(v) => data(Type::Int16, *v as u16 as u64)?,
        DynamicValue::Int32(v) => data(Type::Int32, *v as u32 as u64)?,
        DynamicValue::Int64(v) => data(Type::Int64, *v as u64)?,
        DynamicValue::UInt8(v) => data(Type::UInt8, *v as u64)?,
        DynamicValue::UInt16(v) => data(Type::UInt16, *v as u64)?,
        DynamicValue::UInt32(v) => data(Type::UInt32, *v as u64)?,
        DynamicValue::UInt64(v) => data(Type::UInt64, *v)?,
        // A lone Float32 prints as the double it converts to, as the reference does.
        DynamicValue::Float32(v) => data(Type::Float64, (*v as f64).to_bits())?,
        DynamicValue::Float64(v) => data(Type::Float64, v.to_bits())?,
        DynamicValue::Enum(_, Some(name)) => name.to_string(),
        DynamicValue::Enum(ordinal, None) => format!("({ordinal})"),
        DynamicValue::Capability(_) => "<external capability>".to_string(),
        DynamicValue::AnyPointer => "<opaque pointer>".to_string(),
    })
}

struct TextDisplay<'a> {
    schema: &'a StructSchema,
    value: &'a Value,
}

impl fmt::Display for TextDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.schema.value_to_text(self.value, f.alternate()) {
            Ok(text) => f.write_str(&text),
            Err(e) => write!(f, "<error: {e}>"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------------------------

/// Where a value is printed: after a `name = ` prefix, or on its own (the message itself, a list
/// element). It decides what comes before the first item when a value spreads over lines.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bare,
    Prefixed,
}

/// Indentation level of the pretty form: 0 means one-line output; the message is at level 1.
#[derive(Clone, Copy)]
struct Indent(usize);

impl Indent {
    fn next(self) -> Indent {
        if self.0 == 0 {
            self
        } else {
            Indent(self.0 + 1)
        }
    }
}

/// Longest item (in bytes) that may share a line with its siblings in the pretty form.
const INLINE_ITEM: usize = 24;
/// Longest total of a struct's items (separators not counted) kept on one line.
const INLINE_STRUCT: usize = 64;

/// Lays out the items of a struct (`record`) or a list that were printed into `out` from
/// `start` on, one line apart as the pretty form wants; `spans` are where each item is in
/// `out`. Items are printed as if they share a line (joined by `, `): that is how most come
/// out, and then `out` is left as it is. The brackets are the caller's.
fn lay_out(
    out: &mut String,
    start: usize,
    spans: &[(usize, usize)],
    indent: Indent,
    mode: Mode,
    record: bool,
) {
    let mut total = 0usize;
    let inline = indent.0 == 0
        || spans.iter().all(|&(from, to)| {
            let item = &out[from..to];
            total += item.len();
            item.len() <= INLINE_ITEM && !item.contains('\n') && (!record || total <= INLINE_STRUCT)
        });
    if inline {
        return;
    }
    let printed = out.split_off(start);
    let pad = " ".repeat(indent.0 * 2);
    match mode {
        Mode::Bare => out.push(' '),
        Mode::Prefixed => {
            out.push('\n');
            out.push_str(&pad);
        }
    }
    for (i, &(from, to)) in spans.iter().enumerate() {
        if i > 0 {
            out.push_str(",\n");
            out.push_str(&pad);
        }
        out.push_str(&printed[from - start..to - start]);
    }
    out.push(' ');
}

/// Prints values into one buffer.
struct Printer<'a> {
    pool: &'a SchemaPool,
    msg: Msg<'a>,
    depth: Depth,
    out: String,
    /// Where the items of the structs and lists being printed are in `out`, innermost last.
    spans: Vec<(usize, usize)>,
}

impl<'a> Printer<'a> {
    fn new(pool: &'a SchemaPool, msg: Msg<'a>, nesting: u32) -> Self {
        Printer {
            pool,
            msg,
            depth: Depth::new(nesting),
            out: String::new(),
            spans: Vec::new(),
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth.enter()
    }

    fn leave(&mut self) {
        self.depth.leave();
    }

    /// Starts an item of the struct or list whose first item span is `first`.
    fn item(&mut self, first: usize) -> usize {
        if self.spans.len() > first {
            self.out.push_str(", ");
        }
        self.out.len()
    }

    /// Ends the items opened at `start` (in `out`) and `first` (in `spans`).
    fn close(&mut self, start: usize, first: usize, indent: Indent, mode: Mode, record: bool) {
        lay_out(
            &mut self.out,
            start,
            &self.spans[first..],
            indent,
            mode,
            record,
        );
        self.spans.truncate(first);
    }

    fn print_struct(
        &mut self,
        s: StructRef<'a>,
        node: NodeIndex,
        brand: Option<&Brand>,
        indent: Indent,
        mode: Mode,
    ) -> Result<()> {
        let schema = struct_node(self.pool, node)?;
        // Groups recurse here without a nesting level; they still take stack.
        self.depth.check_stack()?;
        self.msg.charge_defaults(&s, schema)?;
        let active = schema
            .has_union()
            .then(|| read_discriminant(s.data, schema));
        let inner = indent.next();
        self.out.push('(');
        let (start, first) = (self.out.len(), self.spans.len());
        for field in &schema.fields {
            let present = match &field.slot {
                FieldSlot::Pointer { index, .. } => {
                    s.pointer(*index).is_some_and(|p| !Msg::is_null(p))
                }
                _ => true,
            };
            match field.discriminant {
                // A union member prints when it is the active one, unless it is the first
                // member (the state of an unset union) and a null pointer.
                Some(d) if Some(d) != active || (d == 0 && !present) => continue,
                Some(_) => {}
                None if !present => continue,
                None => {}
            }
            let item = self.item(first);
            self.out.push_str(&field.name);
            self.out.push_str(" = ");
            match &field.slot {
                FieldSlot::Void => self.out.push_str("void"),
                FieldSlot::Data {
                    ty,
                    offset,
                    default_bits,
                } => write_data(
                    self.pool,
                    ty,
                    read_slot(s.data, ty, *offset) ^ default_bits,
                    &mut self.out,
                )?,
                FieldSlot::Pointer { ty, index, default } => {
                    let ty = ty.resolved(brand);
                    let p = s.pointer(*index).filter(|p| !Msg::is_null(*p));
                    match (p, default) {
                        // Only a union member gets here while null: it reads as its default.
                        (None, Some(default)) => self.print_default(&ty, default, inner)?,
                        _ => self.print_pointer(&ty, p, inner, Mode::Prefixed)?,
                    }
                }
                FieldSlot::Group { node } => {
                    self.print_struct(s, *node, brand, inner, Mode::Prefixed)?
                }
            }
            self.spans.push((item, self.out.len()));
        }
        self.close(start, first, indent, mode, true);
        self.out.push(')');
        Ok(())
    }

    /// A pointer field's schema default, printed as the field's value.
    fn print_default(&mut self, ty: &Type, default: &'a SchemaValue, indent: Indent) -> Result<()> {
        match default {
            SchemaValue::Text(t) => write_quoted(t.as_bytes(), true, &mut self.out),
            SchemaValue::Data(d) => write_quoted(d, false, &mut self.out),
            SchemaValue::List(r) | SchemaValue::Struct(r) | SchemaValue::AnyPointer(r) => {
                self.print_pointer(ty, Msg::detached(r.segment()), indent, Mode::Prefixed)?
            }
            _ => self.print_pointer(ty, None, indent, Mode::Prefixed)?,
        }
        Ok(())
    }

    fn blob(&self, p: Option<PtrRef<'a>>) -> Result<&'a [u8]> {
        match p {
            Some(p) => Ok(self.msg.read_blob(p)?.unwrap_or(&[])),
            None => Ok(&[]),
        }
    }

    fn print_pointer(
        &mut self,
        ty: &Type,
        p: Option<PtrRef<'a>>,
        indent: Indent,
        mode: Mode,
    ) -> Result<()> {
        match ty {
            Type::Text => {
                let text = match p {
                    Some(p) => self.msg.read_text_bytes(p)?.unwrap_or_default(),
                    None => &[],
                };
                write_quoted(text, true, &mut self.out);
            }
            Type::Data => {
                let bytes = self.blob(p)?;
                write_quoted(bytes, false, &mut self.out);
            }
            Type::List(element) => {
                self.enter()?;
                let result = self.print_list(element, p, indent, mode);
                self.leave();
                result?
            }
            Type::Struct(node, brand) => {
                self.enter()?;
                let result = match p {
                    Some(p) => self.msg.read_struct(p),
                    None => Ok(None),
                }
                .and_then(|s| {
                    let s = s.unwrap_or_else(StructRef::empty);
                    self.print_struct(s, *node, brand.as_deref(), indent, mode)
                });
                self.leave();
                result?
            }
            Type::Interface(..) | Type::AnyPointer(AnyPointerKind::Capability) => {
                self.out.push_str("<external capability>")
            }
            Type::AnyPointer(_) | Type::Param { .. } | Type::MethodParam(_) => {
                self.out.push_str("<opaque pointer>")
            }
            other => {
                return Err(Error::schema(format!(
                    "`{}` is not a pointer type",
                    other.describe(self.pool)
                )))
            }
        }
        Ok(())
    }

    fn print_list(
        &mut self,
        element: &Type,
        p: Option<PtrRef<'a>>,
        indent: Indent,
        mode: Mode,
    ) -> Result<()> {
        let expect = Expect::for_element(element);
        let list = match p {
            Some(p) => self.msg.read_list(p, expect)?,
            None => None,
        };
        self.print_list_ref(element, list, indent, mode)
    }

    fn print_list_ref(
        &mut self,
        element: &Type,
        list: Option<ListRef<'a>>,
        indent: Indent,
        mode: Mode,
    ) -> Result<()> {
        let inner = indent.next();
        self.out.push('[');
        let (start, first) = (self.out.len(), self.spans.len());
        if let Some(list) = list {
            for i in 0..list.len {
                let item = self.item(first);
                match element {
                    Type::Void => self.out.push_str("void"),
                    Type::Struct(node, brand) => self.print_struct(
                        list.struct_element(i),
                        *node,
                        brand.as_deref(),
                        inner,
                        Mode::Bare,
                    )?,
                    t => match t.data_bits() {
                        Some(width) => {
                            let (bytes, at) = list.element_data(i);
                            write_data(self.pool, t, read_bits(bytes, at, width), &mut self.out)?
                        }
                        None => {
                            self.print_pointer(t, Some(list.pointer_element(i)), inner, Mode::Bare)?
                        }
                    },
                }
                self.spans.push((item, self.out.len()));
            }
        }
        self.close(start, first, indent, mode, false);
        self.out.push(']');
        Ok(())
    }
}

/// Appends `bytes` as a quoted string: escaped as text (`text`) or as data.
fn write_quoted(bytes: &[u8], text: bool, out: &mut String) {
    out.reserve(bytes.len() + 2);
    out.push('"');
    if text {
        escape_text(bytes, out);
    } else {
        escape_bytes(bytes, out);
    }
    out.push('"');
}

/// Appends a data-section value of type `ty` whose bits are `bits`, in the text format.
fn write_data(pool: &SchemaPool, ty: &Type, bits: u64, out: &mut String) -> Result<()> {
    match ty {
        Type::Void => out.push_str("void"),
        Type::Bool => out.push_str(if bits != 0 { "true" } else { "false" }),
        Type::Int8 => push_ascii(out, |o| push_i64(o, bits as u8 as i8 as i64)),
        Type::Int16 => push_ascii(out, |o| push_i64(o, bits as u16 as i16 as i64)),
        Type::Int32 => push_ascii(out, |o| push_i64(o, bits as u32 as i32 as i64)),
        Type::Int64 => push_ascii(out, |o| push_i64(o, bits as i64)),
        Type::UInt8 => push_ascii(out, |o| push_u64(o, bits as u8 as u64)),
        Type::UInt16 => push_ascii(out, |o| push_u64(o, bits as u16 as u64)),
        Type::UInt32 => push_ascii(out, |o| push_u64(o, bits as u32 as u64)),
        Type::UInt64 => push_ascii(out, |o| push_u64(o, bits)),
        Type::Float32 => push_ascii(out, |o| push_f32(o, f32::from_bits(bits as u32))),
        Type::Float64 => push_ascii(out, |o| push_f64(o, f64::from_bits(bits))),
        Type::Enum(n) => {
            let ordinal = bits as u16;
            match pool
                .node(*n)
                .as_enum()
                .and_then(|e| e.enumerants.get(ordinal as usize))
            {
                Some(e) => out.push_str(&e.name),
                None => {
                    out.push('(');
                    push_ascii(out, |o| push_u64(o, ordinal as u64));
                    out.push(')');
                }
            }
        }
        other => {
            return Err(Error::schema(format!(
                "`{}` is not a data-section type",
                other.describe(pool)
            )))
        }
    }
    Ok(())
}

/// Appends what one of the number printers of [`crate::float`] writes, straight into `out`.
fn push_ascii(out: &mut String, push: impl FnOnce(&mut Vec<u8>)) {
    // SAFETY: the number printers append only ASCII (digits, signs, `.`, `e`, `nan`, `inf`),
    // so `out` stays UTF-8.
    push(unsafe { out.as_mut_vec() })
}

/// Appends the C escape of one byte, or returns false when the byte prints as itself.
fn escape_byte(b: u8, binary: bool, out: &mut String) -> bool {
    let named = match b {
        0x07 => "\\a",
        0x08 => "\\b",
        0x0c => "\\f",
        b'\n' => "\\n",
        b'\r' => "\\r",
        b'\t' => "\\t",
        0x0b => "\\v",
        b'\'' => "\\'",
        b'"' => "\\\"",
        b'\\' => "\\\\",
        _ => {
            if b < 0x20 || b == 0x7f || (binary && b > 0x7f) {
                out.push('\\');
                out.push((b'0' + (b >> 6)) as char);
                out.push((b'0' + ((b >> 3) & 7)) as char);
                out.push((b'0' + (b & 7)) as char);
                return true;
            }
            return false;
        }
    };
    out.push_str(named);
    true
}

/// Escapes Data: every byte outside printable ASCII becomes an escape.
fn escape_bytes(bytes: &[u8], out: &mut String) {
    for &b in bytes {
        if !escape_byte(b, true, out) {
            out.push(b as char);
        }
    }
}

/// Escapes Text: UTF-8 stays as it is. Bytes that are not UTF-8 (which Text should never hold;
/// the reference prints them raw) become octal escapes, so the output stays a string and reads
/// back to the same bytes.
fn escape_text(bytes: &[u8], out: &mut String) {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if !(c.is_ascii() && escape_byte(c as u8, false, out)) {
                out.push(c);
            }
        }
        for &b in chunk.invalid() {
            escape_byte(b, true, out);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading: lexer
// ---------------------------------------------------------------------------------------------

/// How deeply brackets may nest in text input (the reader recurses once per level).
const MAX_NESTING: usize = 256;

/// A syntax or type error at byte `at` of `src`, located by line and column.
fn syntax(src: &str, at: usize, message: impl fmt::Display) -> Error {
    let at = at.min(src.len());
    let before = &src.as_bytes()[..at];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = src
        .get(line_start..at)
        .map_or(at - line_start, |s| s.chars().count())
        + 1;
    Error::data(format!("text line {line}, column {column}: {message}"))
}

#[derive(Debug)]
enum Tok {
    Ident,
    Str(Vec<u8>),
    Binary(Vec<u8>),
    Int(u64),
    Float(f64),
    Op,
    /// `( ... )`: the comma-separated items.
    Paren(Vec<Vec<Token>>),
    /// `[ ... ]`: the comma-separated items.
    Bracket(Vec<Vec<Token>>),
}

#[derive(Debug)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

struct Lexer<'s> {
    src: &'s str,
    bytes: &'s [u8],
    pos: usize,
    depth: usize,
}

fn is_op_char(b: u8) -> bool {
    b"!$%&*+-./:<=>?@^|~".contains(&b)
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

impl<'s> Lexer<'s> {
    fn new(src: &'s str) -> Self {
        Lexer {
            src,
            bytes: src.as_bytes(),
            pos: 0,
            depth: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.pos + offset).copied()
    }

    fn error(&self, at: usize, message: impl fmt::Display) -> Error {
        syntax(self.src, at, message)
    }

    /// The whole input: a sequence of tokens.
    fn run(mut self) -> Result<Vec<Token>> {
        let tokens = self.sequence()?;
        match self.peek() {
            None => Ok(tokens),
            Some(b')') | Some(b']') => Err(self.error(self.pos, "unbalanced closing bracket")),
            Some(b',') => Err(self.error(self.pos, "`,` outside brackets")),
            Some(_) => Err(self.unexpected()),
        }
    }

    fn unexpected(&self) -> Error {
        match self.src[self.pos..].chars().next() {
            Some('\0') => self.error(self.pos, "NUL byte in the input"),
            Some(c) => self.error(
                self.pos,
                format!("unexpected character `{}`", c.escape_default()),
            ),
            None => self.error(self.pos, "unexpected end of input"),
        }
    }

    /// Skips whitespace, `#` comments and UTF-8 byte order marks.
    fn skip_space(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => self.pos += 1,
                b'#' => {
                    while let Some(b) = self.peek() {
                        self.pos += 1;
                        if b == b'\n' {
                            break;
                        }
                    }
                }
                0xef if self.bytes[self.pos..].starts_with(&[0xef, 0xbb, 0xbf]) => self.pos += 3,
                _ => break,
            }
        }
    }

    /// Tokens up to something that does not start one (a closing bracket, `,`, the end).
    fn sequence(&mut self) -> Result<Vec<Token>> {
        let mut tokens = Vec::new();
        loop {
            self.skip_space();
            match self.token()? {
                Some(t) => tokens.push(t),
                None => return Ok(tokens),
            }
        }
    }

    fn token(&mut self) -> Result<Option<Token>> {
        let start = self.pos;
        let Some(b) = self.peek() else {
            return Ok(None);
        };
        let tok = if is_ident_start(b) {
            while self
                .peek()
                .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                self.pos += 1;
            }
            Tok::Ident
        } else if b == b'"' {
            Tok::Str(self.string()?)
        } else if b == b'0' && self.peek_at(1) == Some(b'x') && self.peek_at(2) == Some(b'"') {
            Tok::Binary(self.binary()?)
        } else if b.is_ascii_digit() {
            self.number()?
        } else if is_op_char(b) {
            while self.peek().is_some_and(is_op_char) {
                self.pos += 1;
            }
            Tok::Op
        } else if b == b'(' || b == b'[' {
            let close = if b == b'(' { b')' } else { b']' };
            if self.depth >= MAX_NESTING {
                return Err(self.error(start, "brackets nest too deeply"));
            }
            self.depth += 1;
            self.pos += 1;
            let items = self.items(close, start)?;
            self.depth -= 1;
            if b == b'(' {
                Tok::Paren(items)
            } else {
                Tok::Bracket(items)
            }
        } else {
            return Ok(None);
        };
        Ok(Some(Token {
            tok,
            start,
            end: self.pos,
        }))
    }

    /// The comma-separated items of a bracketed list, after its opening bracket. A trailing
    /// comma is allowed; `()` has no items.
    fn items(&mut self, close: u8, open: usize) -> Result<Vec<Vec<Token>>> {
        let mut items = Vec::new();
        loop {
            let item_start = self.pos;
            let item = self.sequence()?;
            match self.peek() {
                Some(b',') => {
                    if item.is_empty() {
                        return Err(self.error(item_start, "empty list item"));
                    }
                    items.push(item);
                    self.pos += 1;
                }
                Some(c) if c == close => {
                    if !item.is_empty() {
                        items.push(item);
                    }
                    self.pos += 1;
                    return Ok(items);
                }
                Some(b')') | Some(b']') => {
                    return Err(self.error(self.pos, "mismatched closing bracket"))
                }
                None => {
                    return Err(self.error(
                        open,
                        format!(
                            "`{}` is never closed",
                            if close == b')' { '(' } else { '[' }
                        ),
                    ))
                }
                Some(_) => return Err(self.unexpected()),
            }
        }
    }

    /// A string literal; returns its bytes with escapes decoded.
    fn string(&mut self) -> Result<Vec<u8>> {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\n') => return Err(self.error(start, "unterminated string literal")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let at = self.pos;
                    self.pos += 1;
                    let Some(c) = self.peek() else {
                        return Err(self.error(start, "unterminated string literal"));
                    };
                    self.pos += 1;
                    let byte = match c {
                        b'a' => 0x07,
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'v' => 0x0b,
                        b'\'' | b'"' | b'\\' | b'?' => c,
                        b'x' => match (
                            self.peek().and_then(hex_value),
                            self.peek_at(1).and_then(hex_value),
                        ) {
                            (Some(h), Some(l)) => {
                                self.pos += 2;
                                (h << 4) | l
                            }
                            _ => return Err(self.error(at, "`\\x` needs two hexadecimal digits")),
                        },
                        b'0'..=b'7' => {
                            // Up to three octal digits; the value keeps its low 8 bits.
                            let mut v = (c - b'0') as u32;
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        v = (v << 3) | (d - b'0') as u32;
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            v as u8
                        }
                        _ => {
                            return Err(self.error(
                                at,
                                format!(
                                    "unknown escape sequence `\\{}`",
                                    self.src[self.pos - 1..]
                                        .chars()
                                        .next()
                                        .unwrap_or('?')
                                        .escape_default()
                                ),
                            ))
                        }
                    };
                    out.push(byte);
                }
                Some(b) => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
    }

    /// `0x"..."`: pairs of hex digits, whitespace allowed between pairs; at least one byte.
    fn binary(&mut self) -> Result<Vec<u8>> {
        let start = self.pos;
        self.pos += 3;
        let mut out = Vec::new();
        loop {
            while matches!(
                self.peek(),
                Some(b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
            ) {
                self.pos += 1;
            }
            match (
                self.peek().and_then(hex_value),
                self.peek_at(1).and_then(hex_value),
            ) {
                (Some(h), Some(l)) => {
                    out.push((h << 4) | l);
                    self.pos += 2;
                }
                _ => break,
            }
        }
        if self.peek() != Some(b'"') {
            return Err(self.error(
                self.pos.min(self.src.len()),
                "malformed binary literal: expected pairs of hexadecimal digits and a closing `\"`",
            ));
        }
        if out.is_empty() {
            return Err(self.error(start, "a binary literal needs at least one byte"));
        }
        self.pos += 1;
        Ok(out)
    }

    /// Whether the byte after a number makes it malformed (a letter, `_` or `.`).
    fn glued(&self) -> bool {
        self.peek()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'.')
    }

    /// An integer (decimal, `0x` hex, `0` octal; wrapping to 64 bits) or a float literal.
    fn number(&mut self) -> Result<Tok> {
        let start = self.pos;
        // Integer forms first.
        let (digits_start, radix) = if self.peek() == Some(b'0')
            && self.peek_at(1) == Some(b'x')
            && self.peek_at(2).is_some_and(|b| b.is_ascii_hexdigit())
        {
            (start + 2, 16)
        } else if self.peek() == Some(b'0') {
            (start + 1, 8)
        } else {
            (start, 10)
        };
        let mut end = digits_start;
        while self
            .bytes
            .get(end)
            .is_some_and(|&b| (b as char).is_digit(radix))
        {
            end += 1;
        }
        let integer_end = end;
        let saved = self.pos;
        self.pos = integer_end;
        if !self.glued() {
            let mut v: u64 = 0;
            for &b in &self.bytes[digits_start..integer_end] {
                let d = (b as char).to_digit(radix).unwrap_or(0) as u64;
                v = v.wrapping_mul(radix as u64).wrapping_add(d);
            }
            return Ok(Tok::Int(v));
        }
        if radix == 16 {
            return Err(self.error(start, "malformed number"));
        }
        // A float: digits, optional fraction, optional exponent.
        self.pos = saved;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                self.pos += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            let exponent_start = self.pos;
            while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                self.pos += 1;
            }
            if self.pos == exponent_start {
                return Err(self.error(start, "malformed number: the exponent has no digits"));
            }
        }
        if self.glued() {
            return Err(self.error(start, "malformed number"));
        }
        let text = self.src[start..self.pos].replace('E', "e");
        text.parse::<f64>()
            .map(Tok::Float)
            .map_err(|_| self.error(start, "malformed number"))
    }
}

// ---------------------------------------------------------------------------------------------
// Reading: expressions
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct Expr {
    kind: ExprKind,
    start: usize,
}

#[derive(Debug)]
enum ExprKind {
    PositiveInt(u64),
    /// `-N`, by magnitude.
    NegativeInt(u64),
    Float(f64),
    Str(Vec<u8>),
    Binary(Vec<u8>),
    /// A bare name: `void`, `true`, an enumerant...
    Name(String),
    List(Vec<Expr>),
    Tuple(Vec<Param>),
    /// A form the schema language has but a message cannot use (imports, qualified names,
    /// generic applications): the text names what it was.
    External(&'static str),
}

#[derive(Debug)]
struct Param {
    name: Option<(String, usize)>,
    value: Expr,
}

struct Parser<'s> {
    src: &'s str,
    depth: usize,
}

impl<'s> Parser<'s> {
    fn text(&self, t: &Token) -> &'s str {
        &self.src[t.start..t.end]
    }

    fn is_op(&self, t: Option<&Token>, op: &str) -> bool {
        t.is_some_and(|t| matches!(t.tok, Tok::Op) && self.text(t) == op)
    }

    /// One expression starting at `tokens[*pos]`; `end` is where the enclosing item ends (for
    /// errors about a missing expression).
    fn expression(&mut self, tokens: &[Token], pos: &mut usize, end: usize) -> Result<Expr> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(syntax(self.src, end, "the input nests too deeply"));
        }
        let result = self.expression_inner(tokens, pos, end);
        self.depth -= 1;
        result
    }

    fn expression_inner(&mut self, tokens: &[Token], pos: &mut usize, end: usize) -> Result<Expr> {
        let Some(first) = tokens.get(*pos) else {
            return Err(syntax(self.src, end, "expected a value"));
        };
        let start = first.start;
        *pos += 1;
        let mut kind = match &first.tok {
            Tok::Int(v) => ExprKind::PositiveInt(*v),
            Tok::Float(v) => ExprKind::Float(*v),
            Tok::Op if self.text(first) == "-" => {
                let next = tokens.get(*pos);
                let kind = match next.map(|t| &t.tok) {
                    Some(Tok::Int(v)) => ExprKind::NegativeInt(*v),
                    Some(Tok::Float(v)) => ExprKind::Float(-*v),
                    Some(Tok::Ident) if next.is_some_and(|t| self.text(t) == "inf") => {
                        ExprKind::Float(f64::NEG_INFINITY)
                    }
                    _ => {
                        return Err(syntax(
                            self.src,
                            next.map_or(end, |t| t.start),
                            "expected a number after `-`",
                        ))
                    }
                };
                *pos += 1;
                kind
            }
            Tok::Op if self.text(first) == "." => match tokens.get(*pos) {
                Some(Token {
                    tok: Tok::Ident, ..
                }) => {
                    *pos += 1;
                    ExprKind::External("a constant")
                }
                other => {
                    return Err(syntax(
                        self.src,
                        other.map_or(end, |t| t.start),
                        "expected a name after `.`",
                    ))
                }
            },
            Tok::Op => {
                return Err(syntax(
                    self.src,
                    start,
                    format!("unexpected `{}`", self.text(first)),
                ))
            }
            Tok::Str(s) => {
                let mut bytes = s.clone();
                while let Some(Token {
                    tok: Tok::Str(more),
                    ..
                }) = tokens.get(*pos)
                {
                    bytes.extend_from_slice(more);
                    *pos += 1;
                }
                ExprKind::Str(bytes)
            }
            Tok::Binary(b) => ExprKind::Binary(b.clone()),
            Tok::Bracket(items) => {
                let mut list = Vec::with_capacity(items.len());
                for item in items {
                    list.push(self.whole_item(item, first.end)?);
                }
                ExprKind::List(list)
            }
            Tok::Paren(items) => {
                let mut params = self.params(items, first.end)?;
                match params.pop() {
                    // `(x)` is just `x`.
                    Some(only) if params.is_empty() && only.name.is_none() => only.value.kind,
                    Some(last) => {
                        params.push(last);
                        ExprKind::Tuple(params)
                    }
                    None => ExprKind::Tuple(params),
                }
            }
            Tok::Ident => {
                let name = self.text(first);
                let next = tokens.get(*pos);
                match next.map(|t| &t.tok) {
                    Some(Tok::Str(_)) if name == "import" => {
                        *pos += 1;
                        ExprKind::External("an import")
                    }
                    Some(Tok::Str(_)) if name == "embed" => {
                        *pos += 1;
                        ExprKind::External("an embedded file")
                    }
                    _ => ExprKind::Name(name.to_string()),
                }
            }
        };
        // Suffixes: `.member` and `(arguments)`.
        loop {
            let next = tokens.get(*pos);
            if self.is_op(next, ".") {
                match tokens.get(*pos + 1) {
                    Some(Token {
                        tok: Tok::Ident, ..
                    }) => {
                        *pos += 2;
                        kind = ExprKind::External("a qualified name");
                    }
                    other => {
                        return Err(syntax(
                            self.src,
                            other.map_or(end, |t| t.start),
                            "expected a name after `.`",
                        ))
                    }
                }
            } else if let Some(Token {
                tok: Tok::Paren(items),
                end: close,
                ..
            }) = next
            {
                self.params(items, *close)?;
                *pos += 1;
                kind = ExprKind::External("a generic application");
            } else {
                break;
            }
        }
        Ok(Expr { kind, start })
    }

    /// A list item: exactly one expression.
    fn whole_item(&mut self, item: &[Token], end: usize) -> Result<Expr> {
        let mut pos = 0;
        let item_end = item.last().map_or(end, |t| t.end);
        let expr = self.expression(item, &mut pos, item_end)?;
        if let Some(extra) = item.get(pos) {
            return Err(syntax(
                self.src,
                extra.start,
                "expected `,` or a closing bracket",
            ));
        }
        Ok(expr)
    }

    /// The items of a parenthesized list: `name = value` or `value`.
    fn params(&mut self, items: &[Vec<Token>], end: usize) -> Result<Vec<Param>> {
        let mut params = Vec::with_capacity(items.len());
        for item in items {
            let named = matches!(
                item.first(),
                Some(Token {
                    tok: Tok::Ident,
                    ..
                })
            ) && self.is_op(item.get(1), "=");
            if named {
                let name = (self.text(&item[0]).to_string(), item[0].start);
                let value = self.whole_item(&item[2..], item[1].end)?;
                params.push(Param {
                    name: Some(name),
                    value,
                });
            } else {
                params.push(Param {
                    name: None,
                    value: self.whole_item(item, end)?,
                });
            }
        }
        Ok(params)
    }
}

// ---------------------------------------------------------------------------------------------
// Reading: values
// ---------------------------------------------------------------------------------------------

struct Translator<'a> {
    pool: &'a SchemaPool,
    src: &'a str,
}

impl Translator<'_> {
    fn error(&self, at: usize, message: impl fmt::Display) -> Error {
        syntax(self.src, at, message)
    }

    fn mismatch(&self, expr: &Expr, ty: &Type) -> Error {
        self.error(
            expr.start,
            format!("type mismatch: expected {}", ty.describe(self.pool)),
        )
    }

    /// The struct `(name = value, ...)` assigns, as a [`Value::Struct`].
    fn fill_struct(
        &self,
        params: &[Param],
        node: NodeIndex,
        brand: Option<&Brand>,
    ) -> Result<Value> {
        let pool = self.pool;
        let schema = struct_node(pool, node)?;
        let mut fields: Vec<(String, Value)> = Vec::new();
        for param in params {
            let Some((name, at)) = &param.name else {
                return Err(self.error(
                    param.value.start,
                    "missing field name: expected `name = value`",
                ));
            };
            let Some(index) = schema.field_index(name) else {
                return Err(self.error(
                    *at,
                    format!(
                        "struct `{}` has no field named `{name}`",
                        pool.node(node).short_name()
                    ),
                ));
            };
            let field = &schema.fields[index as usize];
            let value = match &field.slot {
                FieldSlot::Group { node: group } => match &param.value.kind {
                    ExprKind::Tuple(inner) => self.fill_struct(inner, *group, brand),
                    _ => Err(self.error(param.value.start, "type mismatch: expected a group")),
                },
                slot => {
                    let ty = slot.ty().unwrap_or(&Type::Void).resolved(brand);
                    self.value(&param.value, &ty)
                }
            }
            .map_err(|e| e.in_field(name.clone()))?;
            // Setting a union member makes it the active one: the others go.
            if field.discriminant.is_some() {
                fields.retain(|(n, _)| {
                    n == name
                        || schema
                            .field_index(n)
                            .is_none_or(|i| schema.fields[i as usize].discriminant.is_none())
                });
            }
            match fields.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = value,
                None => fields.push((name.clone(), value)),
            }
        }
        Ok(Value::structure(fields))
    }

    /// The value `expr` denotes as a `ty`.
    fn value(&self, expr: &Expr, ty: &Type) -> Result<Value> {
        match &expr.kind {
            ExprKind::External(what) => Err(self.error(
                expr.start,
                format!("{what} cannot be used in a message: only literal values can"),
            )),
            ExprKind::Name(name) => self.name(expr, name, ty),
            ExprKind::PositiveInt(v) => self.integer(expr, *v as i128, ty),
            ExprKind::NegativeInt(v) => {
                if *v > 1u64 << 63 {
                    return Err(self.error(expr.start, "integer is too big to be negative"));
                }
                self.integer(expr, -(*v as i128), ty)
            }
            ExprKind::Float(v) => match ty {
                Type::Float32 => Ok(Value::Float32(*v as f32)),
                Type::Float64 => Ok(Value::Float64(*v)),
                _ => Err(self.mismatch(expr, ty)),
            },
            ExprKind::Str(bytes) => match ty {
                Type::Text => match String::from_utf8(bytes.clone()) {
                    Ok(s) => Ok(Value::Text(s)),
                    Err(_) => Err(self.error(expr.start, "Text must be UTF-8")),
                },
                Type::Data => Ok(Value::Data(bytes.clone())),
                _ => Err(self.mismatch(expr, ty)),
            },
            ExprKind::Binary(bytes) => match ty {
                Type::Data => Ok(Value::Data(bytes.clone())),
                _ => Err(self.mismatch(expr, ty)),
            },
            ExprKind::List(items) => {
                let Type::List(element) = ty else {
                    return Err(self.mismatch(expr, ty));
                };
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(
                        self.value(item, element)
                            .map_err(|e| e.at_index(i as u64))?,
                    );
                }
                Ok(Value::List(out))
            }
            ExprKind::Tuple(params) => match ty {
                Type::Struct(node, brand) => self.fill_struct(params, *node, brand.as_deref()),
                _ => Err(self.mismatch(expr, ty)),
            },
        }
    }

    fn name(&self, expr: &Expr, name: &str, ty: &Type) -> Result<Value> {
        if let Type::Enum(node) = ty {
            let schema = self.pool.node(*node).as_enum();
            return match schema.and_then(|e| e.enumerant_index(name)) {
                Some(ordinal) => Ok(Value::Enum(Enumerant {
                    ordinal,
                    name: Some(name.to_string()),
                })),
                None => Err(self.error(
                    expr.start,
                    format!(
                        "`{name}` is not an enumerant of `{}`",
                        self.pool.node(*node).short_name()
                    ),
                )),
            };
        }
        let value = match name {
            "void" => Value::Void,
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "nan" | "inf" => {
                let v = if name == "nan" {
                    f64::NAN
                } else {
                    f64::INFINITY
                };
                return match ty {
                    Type::Float32 => Ok(Value::Float32(v as f32)),
                    Type::Float64 => Ok(Value::Float64(v)),
                    _ => Err(self.mismatch(expr, ty)),
                };
            }
            _ => {
                return Err(self.error(
                    expr.start,
                    format!("unknown name `{name}`: a message cannot refer to constants"),
                ))
            }
        };
        let fits = matches!(
            (&value, ty),
            (Value::Void, Type::Void) | (Value::Bool(_), Type::Bool)
        );
        if fits {
            Ok(value)
        } else {
            Err(self.mismatch(expr, ty))
        }
    }

    fn integer(&self, expr: &Expr, v: i128, ty: &Type) -> Result<Value> {
        let out_of_range = || {
            self.error(
                expr.start,
                format!("integer {v} is out of range for {}", ty.describe(self.pool)),
            )
        };
        Ok(match ty {
            Type::Int8 => Value::Int8(i8::try_from(v).map_err(|_| out_of_range())?),
            Type::Int16 => Value::Int16(i16::try_from(v).map_err(|_| out_of_range())?),
            Type::Int32 => Value::Int32(i32::try_from(v).map_err(|_| out_of_range())?),
            Type::Int64 => Value::Int64(i64::try_from(v).map_err(|_| out_of_range())?),
            Type::UInt8 => Value::UInt8(u8::try_from(v).map_err(|_| out_of_range())?),
            Type::UInt16 => Value::UInt16(u16::try_from(v).map_err(|_| out_of_range())?),
            Type::UInt32 => Value::UInt32(u32::try_from(v).map_err(|_| out_of_range())?),
            Type::UInt64 => Value::UInt64(u64::try_from(v).map_err(|_| out_of_range())?),
            // Integers convert to floats as C++ converts them: from the 64-bit integer, rounded.
            Type::Float32 => Value::Float32(if v < 0 {
                v as i64 as f32
            } else {
                v as u64 as f32
            }),
            Type::Float64 => Value::Float64(if v < 0 {
                v as i64 as f64
            } else {
                v as u64 as f64
            }),
            _ => return Err(self.mismatch(expr, ty)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::float::push_g;

    fn printed(push: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = String::new();
        push_ascii(&mut out, push);
        out
    }

    fn format_g(v: f64, precision: i32) -> String {
        printed(|o| push_g(o, v, precision))
    }

    fn format_f32(v: f32) -> String {
        printed(|o| push_f32(o, v))
    }

    fn format_f64(v: f64) -> String {
        printed(|o| push_f64(o, v))
    }

    #[test]
    fn printf_g() {
        assert_eq!(format_g(0.0, 6), "0");
        assert_eq!(format_g(-0.0, 15), "-0");
        assert_eq!(format_g(1e30, 6), "1e30");
        assert_eq!(format_g(1e-5, 6), "1e-05");
        assert_eq!(format_g(0.0001, 6), "0.0001");
        assert_eq!(format_g(123456.0, 6), "123456");
        assert_eq!(format_g(1234567.0, 6), "1.23457e06");
        assert_eq!(format_g(1e300, 15), "1e300");
        assert_eq!(format_g(0.125, 2), "0.12");
        assert_eq!(format_g(2.5, 1), "2");
        assert_eq!(format_g(-1.5, 6), "-1.5");
        assert_eq!(format_g(100000.0, 6), "100000");
        assert_eq!(format_g(999999.5, 6), "1e06");
    }

    #[test]
    fn floats_as_the_reference_prints_them() {
        assert_eq!(format_f32(0.1), "0.1");
        assert_eq!(format_f32(1e30), "1e30");
        assert_eq!(format_f32(-0.0), "-0");
        assert_eq!(format_f32(f32::INFINITY), "inf");
        assert_eq!(format_f32(f32::NEG_INFINITY), "-inf");
        assert_eq!(format_f32(f32::NAN), "nan");
        assert_eq!(format_f32(1e-40), "9.9999461e-41");
        assert_eq!(format_f32(f32::from_bits(1)), "1.4012985e-45");
        assert_eq!(format_f32(123456789.0), "1.2345679e08");
        assert_eq!(format_f32(f32::MAX), "3.4028235e38");
        assert_eq!(format_f64(0.1), "0.1");
        assert_eq!(format_f64(1e-320), "9.99988867182683e-321");
        assert_eq!(format_f64(5e-324), "4.94065645841247e-324");
        assert_eq!(format_f64(123456789012345678.0), "1.2345678901234568e17");
        assert_eq!(format_f64(1e15), "1e15");
        assert_eq!(format_f64(-0.0), "-0");
    }

    #[test]
    fn escapes() {
        let mut s = String::new();
        escape_bytes(b"a\x01\x7f\"\\'\xff\n", &mut s);
        assert_eq!(s, "a\\001\\177\\\"\\\\\\'\\377\\n");
        let mut s = String::new();
        escape_text("é\0\t".as_bytes(), &mut s);
        assert_eq!(s, "é\\000\\t");
        let mut s = String::new();
        escape_text(b"a\xffb", &mut s);
        assert_eq!(s, "a\\377b");
    }

    #[test]
    fn line_breaking() {
        // Prints `items` after a two-byte prefix as `lay_out` expects them, and lays them out.
        let lay = |items: &[&str], indent: usize, mode: Mode, record: bool| {
            let mut out = String::from("((");
            let mut spans = Vec::new();
            for item in items {
                if !spans.is_empty() {
                    out.push_str(", ");
                }
                spans.push((out.len(), out.len() + item.len()));
                out.push_str(item);
            }
            lay_out(&mut out, 2, &spans, Indent(indent), mode, record);
            out[2..].to_string()
        };
        assert_eq!(
            lay(&["a = 1", "b = 2"], 1, Mode::Bare, true),
            "a = 1, b = 2"
        );
        assert_eq!(
            lay(
                &["a = 1", "b = \"a long string of text\""],
                1,
                Mode::Bare,
                true
            ),
            " a = 1,\n  b = \"a long string of text\" "
        );
        assert_eq!(
            lay(
                &["1", "\"a long string of some text\""],
                2,
                Mode::Prefixed,
                false
            ),
            "\n    1,\n    \"a long string of some text\" "
        );
        assert_eq!(
            lay(
                &["x", "\"a long string of some text\""],
                0,
                Mode::Bare,
                false
            ),
            "x, \"a long string of some text\""
        );
        assert_eq!(lay(&[], 1, Mode::Bare, true), "");
    }

    #[test]
    fn lexer_numbers() {
        let lex = |s: &str| {
            Lexer::new(s)
                .run()
                .map(|t| t.into_iter().map(|t| t.tok).collect::<Vec<_>>())
        };
        assert!(matches!(lex("0x1F").unwrap()[..], [Tok::Int(31)]));
        assert!(matches!(lex("0755").unwrap()[..], [Tok::Int(493)]));
        assert!(matches!(lex("0").unwrap()[..], [Tok::Int(0)]));
        assert!(matches!(lex("1.5e3").unwrap()[..], [Tok::Float(v)] if v == 1500.0));
        assert!(matches!(lex("1e5").unwrap()[..], [Tok::Float(v)] if v == 1e5));
        assert!(matches!(lex("5.").unwrap()[..], [Tok::Float(v)] if v == 5.0));
        assert!(matches!(lex("0.5").unwrap()[..], [Tok::Float(v)] if v == 0.5));
        assert!(matches!(
            lex("18446744073709551617").unwrap()[..],
            [Tok::Int(1)]
        ));
        assert!(lex("1e").is_err());
        assert!(lex("1.2.3").is_err());
        assert!(lex("0x1g").is_err());
        assert!(lex("12ab").is_err());
        assert!(matches!(lex("-1").unwrap()[..], [Tok::Op, Tok::Int(1)]));
        assert!(matches!(lex("0x\"0a 1B\"").unwrap()[..], [Tok::Binary(ref b)] if b == &[10, 27]));
        assert!(lex("0x\"\"").is_err());
        assert!(
            matches!(lex("\"a\\x41\\101\\?\" # comment").unwrap()[..], [Tok::Str(ref s)] if s == b"aAA?")
        );
        assert!(lex("\"a\nb\"").is_err());
        assert!(lex("(a,,b)").is_err());
        assert!(matches!(lex("(a,)").unwrap()[..], [Tok::Paren(ref items)] if items.len() == 1));
        assert!(matches!(lex("()").unwrap()[..], [Tok::Paren(ref items)] if items.is_empty()));
        assert!(lex("(]").is_err());
        assert!(lex("{").is_err());
        assert!(lex("(").is_err());
        assert!(lex(")").is_err());
    }
}
