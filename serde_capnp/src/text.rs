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

mod print;
mod read;

use print::*;
use read::*;

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
        let segments = crate::framing::split_exact_segs(bytes, &self.options)?;
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
