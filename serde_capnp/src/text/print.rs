//! Printing messages in the text format, laid out as `capnp convert binary:text` lays them out.

use super::*;

/// Where a value is printed: after a `name = ` prefix, or on its own (the message itself, a list
/// element). It decides what comes before the first item when a value spreads over lines.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Bare,
    Prefixed,
}

/// Indentation level of the pretty form: 0 means one-line output; the message is at level 1.
#[derive(Clone, Copy)]
pub(super) struct Indent(pub(super) usize);

impl Indent {
    pub(super) fn next(self) -> Indent {
        if self.0 == 0 {
            self
        } else {
            Indent(self.0 + 1)
        }
    }
}

/// Longest item (in bytes) that may share a line with its siblings in the pretty form.
pub(super) const INLINE_ITEM: usize = 24;
/// Longest total of a struct's items (separators not counted) kept on one line.
pub(super) const INLINE_STRUCT: usize = 64;

/// Lays out the items of a struct (`record`) or a list that were printed into `out` from
/// `start` on, one line apart as the pretty form wants; `spans` are where each item is in
/// `out`. Items are printed as if they share a line (joined by `, `): that is how most come
/// out, and then `out` is left as it is. The brackets are the caller's.
pub(super) fn lay_out(
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
pub(super) struct Printer<'a> {
    pub(super) pool: &'a SchemaPool,
    pub(super) msg: Msg<'a>,
    pub(super) depth: Depth,
    pub(super) out: String,
    /// Where the items of the structs and lists being printed are in `out`, innermost last.
    pub(super) spans: Vec<(usize, usize)>,
}

impl<'a> Printer<'a> {
    pub(super) fn new(pool: &'a SchemaPool, msg: Msg<'a>, nesting: u32) -> Self {
        Printer {
            pool,
            msg,
            depth: Depth::new(nesting),
            out: String::new(),
            spans: Vec::new(),
        }
    }

    pub(super) fn enter(&mut self) -> Result<()> {
        self.depth.enter()
    }

    pub(super) fn leave(&mut self) {
        self.depth.leave();
    }

    /// Starts an item of the struct or list whose first item span is `first`.
    pub(super) fn item(&mut self, first: usize) -> usize {
        if self.spans.len() > first {
            self.out.push_str(", ");
        }
        self.out.len()
    }

    /// Ends the items opened at `start` (in `out`) and `first` (in `spans`).
    pub(super) fn close(
        &mut self,
        start: usize,
        first: usize,
        indent: Indent,
        mode: Mode,
        record: bool,
    ) {
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

    pub(super) fn print_struct(
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
    pub(super) fn print_default(
        &mut self,
        ty: &Type,
        default: &'a SchemaValue,
        indent: Indent,
    ) -> Result<()> {
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

    pub(super) fn blob(&self, p: Option<PtrRef<'a>>) -> Result<&'a [u8]> {
        match p {
            Some(p) => Ok(self.msg.read_blob(p)?.unwrap_or(&[])),
            None => Ok(&[]),
        }
    }

    pub(super) fn print_pointer(
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

    pub(super) fn print_list(
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

    pub(super) fn print_list_ref(
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
pub(super) fn write_quoted(bytes: &[u8], text: bool, out: &mut String) {
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
pub(super) fn write_data(pool: &SchemaPool, ty: &Type, bits: u64, out: &mut String) -> Result<()> {
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
pub(super) fn push_ascii(out: &mut String, push: impl FnOnce(&mut Vec<u8>)) {
    // SAFETY: the number printers append only ASCII (digits, signs, `.`, `e`, `nan`, `inf`),
    // so `out` stays UTF-8.
    push(unsafe { out.as_mut_vec() })
}

/// Appends the C escape of one byte, or returns false when the byte prints as itself.
pub(super) fn escape_byte(b: u8, binary: bool, out: &mut String) -> bool {
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
pub(super) fn escape_bytes(bytes: &[u8], out: &mut String) {
    for &b in bytes {
        if !escape_byte(b, true, out) {
            out.push(b as char);
        }
    }
}

/// Escapes Text: UTF-8 stays as it is. Bytes that are not UTF-8 (which Text should never hold;
/// the reference prints them raw) become octal escapes, so the output stays a string and reads
/// back to the same bytes.
pub(super) fn escape_text(bytes: &[u8], out: &mut String) {
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
