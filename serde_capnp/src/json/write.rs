//! Writing JSON: a message walked in schema order and printed as `capnp convert binary:json`
//! prints it.

use super::*;

/// A struct being written: where it is, its schema, and the names of its union's tag and value.
pub(super) struct Ctx<'a, 't> {
    pub(super) s: StructRef<'a>,
    pub(super) node: &'a StructNode,
    pub(super) brand: Option<&'t Brand>,
    pub(super) names: UnionNames<'a>,
}

/// The prefixes flattening adds to names, innermost last.
pub(super) struct Prefix<'x> {
    pub(super) outer: Option<&'x Prefix<'x>>,
    pub(super) text: &'x str,
}

/// What a walk over a struct's entries does: count them (stopping at two, which is all the
/// layout needs to know) or write them.
pub(super) enum Walk {
    Count(usize),
    Write(List, u32),
}

impl Walk {
    #[inline]
    pub(super) fn done(&self) -> bool {
        matches!(self, Walk::Count(n) if *n >= 2)
    }
}

/// An array or object being written: enough to break it into lines once its elements are known.
pub(super) struct List {
    pub(super) content: usize,
    pub(super) delim_base: usize,
    pub(super) count: usize,
    pub(super) widest: usize,
    pub(super) start: usize,
    pub(super) child_multiline: bool,
}

/// The value of an object entry: a field, or the text of a union's tag.
pub(super) enum Entry<'a, 'x> {
    Field(&'a Field, Blob),
    Text(&'x str),
}

pub(super) enum Target<'a> {
    Null,
    Ptr(PtrRef<'a>),
    Text(&'a str),
    Data(&'a [u8]),
}

pub(super) fn target<'a>(p: Option<PtrRef<'a>>, default: Option<&'a SchemaValue>) -> Target<'a> {
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

pub(super) struct Enc<'a> {
    pub(super) pool: &'a SchemaPool,
    pub(super) msg: Msg<'a>,
    pub(super) out: Vec<u8>,
    pub(super) pretty: bool,
    /// Where the `, ` between elements of the open lists were written (pretty only).
    pub(super) delims: Vec<usize>,
    pub(super) depth: u32,
    pub(super) nesting_limit: u32,
    pub(super) stack: StackBase,
    /// Per struct node (by address), what compact output needs of it, made on first use.
    pub(super) keys: crate::plan::FastMap<usize, Rc<Keys<'a>>>,
}

/// What the compact fast path needs of a struct: its fields outside the union, each with its
/// key escaped and quoted once (`,"name":`), and whether the path applies at all (no field
/// outside the union is flattened).
pub(super) struct Keys<'a> {
    pub(super) plain: Vec<Compact<'a>>,
    pub(super) direct: bool,
}

pub(super) struct Compact<'a> {
    pub(super) field: &'a Field,
    /// `,"name":`; the comma is left out before the first entry.
    pub(super) quoted: Box<[u8]>,
    pub(super) blob: Blob,
    pub(super) kind: Kind<'a>,
}

/// How the fast path reads a field.
pub(super) enum Kind<'a> {
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
    pub(super) fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > self.nesting_limit {
            return Err(too_deep());
        }
        self.stack.check()
    }

    #[inline]
    pub(super) fn leave(&mut self) {
        self.depth -= 1;
    }

    pub(super) fn struct_at(&self, t: Target<'a>) -> Result<StructRef<'a>> {
        Ok(match t {
            Target::Ptr(p) => self.msg.read_struct(p)?.unwrap_or_else(StructRef::empty),
            _ => StructRef::empty(),
        })
    }

    // --- lists and their layout ---

    #[inline]
    pub(super) fn open_list(&self) -> List {
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
    pub(super) fn element(&mut self, list: &mut List) {
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
    pub(super) fn element_done(&mut self, list: &mut List) {
        list.count += 1;
        list.widest = list.widest.max(self.out.len() - list.start);
    }

    pub(super) fn close_list(
        &mut self,
        list: List,
        indent: u32,
        multiline: &mut bool,
        has_prefix: bool,
    ) {
        if self.pretty && list.count > 1 && (list.child_multiline || list.widest > 50) {
            *multiline = true;
            self.break_lines(list.content, list.delim_base, indent, has_prefix);
        }
        self.delims.truncate(list.delim_base);
    }

    /// Rewrites the elements written since `content` one to a line: each `, ` becomes a comma,
    /// a newline and the indentation; the first element moves to its own line when something
    /// precedes the list on its line (a field name), and a space closes the list.
    pub(super) fn break_lines(
        &mut self,
        content: usize,
        delim_base: usize,
        indent: u32,
        has_prefix: bool,
    ) {
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
    pub(super) fn null(&mut self) {
        self.out.extend_from_slice(b"null");
    }

    #[inline]
    pub(super) fn string(&mut self, s: &[u8]) {
        self.out.push(b'"');
        escape_into(&mut self.out, s);
        self.out.push(b'"');
    }

    pub(super) fn key(&mut self, prefix: Option<&Prefix<'_>>, name: &str) {
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

    pub(super) fn scalar(&mut self, ty: &Type, bits: u64) -> Result<()> {
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

    pub(super) fn bytes(&mut self, data: &[u8], blob: Blob) {
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

    pub(super) fn pointer(
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

    pub(super) fn list(
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
    pub(super) fn raw(
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
    pub(super) fn raw_elements(
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

    pub(super) fn object(
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

    pub(super) fn keys_of(&mut self, node: &'a StructNode) -> Rc<Keys<'a>> {
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
    pub(super) fn object_compact(&mut self, cx: &Ctx<'a, '_>, keys: &Keys<'a>) -> Result<()> {
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
    pub(super) fn walk(
        &mut self,
        cx: &Ctx<'a, '_>,
        prefix: Option<&Prefix<'_>>,
        w: &mut Walk,
    ) -> Result<()> {
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
    pub(super) fn walk_union(
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
    pub(super) fn entry(
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

    pub(super) fn flatten(
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

    pub(super) fn field(
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
pub(super) fn has(s: StructRef<'_>, f: &Field) -> bool {
    match &f.slot {
        FieldSlot::Pointer { index, .. } => s.pointer(*index).is_some_and(|p| !Msg::is_null(p)),
        _ => true,
    }
}

pub(super) fn flatten_error(f: &Field) -> Error {
    Error::schema(format!(
        "field `{}` is marked `$Json.flatten`, but only structs and groups can be flattened",
        f.name
    ))
}

pub(super) fn blob_error(f: &Field) -> Error {
    Error::schema(format!(
        "field `{}` is marked `$Json.base64` or `$Json.hex`, which only Data fields can be",
        f.name
    ))
}

pub(super) const HEX: &[u8; 16] = b"0123456789abcdef";

/// Which bytes a JSON string cannot hold as they are.
pub(super) static ESCAPE: [bool; 256] = {
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
pub(super) fn needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_in = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    control | zero_in(w ^ (ONES * b'"' as u64)) | zero_in(w ^ (ONES * b'\\' as u64)) != 0
}

pub(super) fn escape_into(out: &mut Vec<u8>, s: &[u8]) {
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
pub(super) fn push_float(out: &mut Vec<u8>, v: f64) {
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

pub(super) fn base64_into(out: &mut Vec<u8>, data: &[u8]) {
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
pub(super) fn base64_decode(s: &str) -> Vec<u8> {
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
pub(super) fn hex_decode(s: &str) -> Vec<u8> {
    let digit = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
    s.as_bytes()
        .chunks_exact(2)
        .map(|p| digit(p[0]) << 4 | digit(p[1]))
        .collect()
}
