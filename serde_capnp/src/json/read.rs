//! Reading JSON: the per-struct reading plans, and the reader that builds a message while it
//! parses.

use super::*;

/// What a JSON name stands for in a struct's object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Name {
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

pub(super) struct Plan {
    /// JSON names; `None` when they are exactly the Cap'n Proto names.
    pub(super) names: Option<FastMap<Box<str>, Name>>,
    /// Tag values: union members by JSON name.
    pub(super) tags: FastMap<Box<str>, u16>,
    /// For each field, the plan of the struct or group it flattens.
    pub(super) flat: Vec<Option<u32>>,
}

/// The plans of the structs met so far, built as the reference codec builds its handlers: a
/// group's plan with its parent's (it takes the discriminator from the group's field), a
/// struct's from its own annotations.
/// Refuses, as the reference does before it writes anything, a root struct from which a
/// struct with `$Json` annotations the codec cannot honour is reachable, whether the message
/// holds a value of it or not. The checks are the ones reading makes (see [`Plans`]); the
/// result depends on the schema only, so a handle keeps it. The structs a branded root binds
/// its parameters to are reachable too.
pub(super) fn check_annotations(pool: &SchemaPool, root: &Type) -> std::result::Result<(), String> {
    pub(super) fn structs_in(ty: &Type, found: &mut Vec<NodeIndex>) {
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

pub(super) struct Plans<'p> {
    pub(super) pool: &'p SchemaPool,
    pub(super) list: Vec<Plan>,
    pub(super) of: Vec<u32>,
}

pub(super) const NO_PLAN: u32 = u32::MAX;
pub(super) const BUILDING: u32 = u32::MAX - 1;

impl<'p> Plans<'p> {
    pub(super) fn new(pool: &'p SchemaPool) -> Self {
        Plans {
            pool,
            list: Vec::new(),
            of: vec![NO_PLAN; pool.nodes().len()],
        }
    }

    pub(super) fn get(&mut self, node: NodeIndex) -> Result<u32> {
        self.build(node, None, None)
    }

    pub(super) fn lookup(&self, plan: u32, node: &StructNode, key: &str) -> Option<Name> {
        match &self.list[plan as usize].names {
            None => node.field_index(key).map(Name::Field),
            Some(names) => names.get(key).copied(),
        }
    }

    /// The JSON names a plan answers to.
    pub(super) fn names(&self, plan: u32, node: &'p StructNode) -> Vec<Box<str>> {
        match &self.list[plan as usize].names {
            None => node.fields.iter().map(|f| f.name.as_str().into()).collect(),
            Some(names) => names.keys().cloned().collect(),
        }
    }

    pub(super) fn build(
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
pub(super) struct View<'p> {
    pub(super) data: usize,
    pub(super) ptrs: usize,
    pub(super) idx: NodeIndex,
    pub(super) node: &'p StructNode,
    pub(super) brand: Option<Arc<Brand>>,
}

pub(super) struct Dec<'p, 'j> {
    pub(super) pool: &'p SchemaPool,
    pub(super) plans: Plans<'p>,
    pub(super) p: Parser<'j>,
    pub(super) out: Out,
    /// Values of a list of primitives, gathered before the list is allocated.
    pub(super) scratch: Vec<u64>,
    /// The bytes of a Data value.
    pub(super) bytes: Vec<u8>,
}

/// A deferred entry: a key whose value waits for its union's tag, and where that value starts.
pub(super) type Deferred<'j> = (Cow<'j, str>, usize);

impl<'p, 'j> Dec<'p, 'j> {
    /// Fills a struct from the object whose `{` was just read.
    pub(super) fn object(&mut self, v: &View<'p>) -> Result<()> {
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
    pub(super) fn member(
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
    pub(super) fn active(&self, v: &View<'p>) -> Result<u16> {
        let d = read_discriminant(&self.out.buf[v.data..], v.node);
        v.node
            .union_members
            .get(d as usize)
            .copied()
            .ok_or_else(|| Error::data("union discriminant out of range"))
    }

    pub(super) fn set_in_union(&mut self, v: &View<'p>, f: &Field) {
        if let Some(d) = f.discriminant {
            self.out
                .write_bits(v.data, v.node.discriminant_bit(), 16, d as u64);
        }
    }

    /// Resets a field to its default (activating it, for a union member), as the reference's
    /// `clear` does: a group gets its first union member and its other fields cleared.
    pub(super) fn clear(&mut self, v: &View<'p>, fi: u16) {
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

    pub(super) fn clear_group(&mut self, g: &View<'p>) {
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
    pub(super) fn scratch_struct(&mut self, node: &StructNode) -> Result<(usize, usize)> {
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
    pub(super) fn move_group(&mut self, src: &View<'p>, dst: &View<'p>) -> Result<()> {
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
    pub(super) fn materialize(
        &mut self,
        at: usize,
        ty: &Type,
        default: Option<&SchemaValue>,
    ) -> Result<()> {
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

    pub(super) fn move_field(&mut self, src: &View<'p>, dst: &View<'p>, fi: u16) -> Result<()> {
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
    pub(super) fn move_pointer(&mut self, from: usize, to: usize) {
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
    pub(super) fn flattened(&mut self, v: &View<'p>, fi: u16) -> Result<View<'p>> {
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
    pub(super) fn fill_from_default(
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
    pub(super) fn field(&mut self, v: &View<'p>, fi: u16) -> Result<()> {
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
    pub(super) fn scalar(&mut self, ty: &Type, tok: Tok<'j>) -> Result<u64> {
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
    pub(super) fn pointer(&mut self, at: usize, ty: &Type, tok: Tok<'j>, blob: Blob) -> Result<()> {
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
    pub(super) fn raw(&mut self, data: usize, ptrs: usize, tok: Tok<'j>) -> Result<()> {
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
    pub(super) fn byte_array(&mut self) -> Result<Vec<u8>> {
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
    pub(super) fn list(&mut self, at: usize, elem: &Type) -> Result<()> {
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
pub(super) fn discriminant_at(v: &View<'_>) -> usize {
    v.data + (v.node.discriminant_bit() / 8) as usize
}

pub(super) fn expected(what: &str, found: &Tok<'_>) -> Error {
    Error::data(format!("expected {what}, found {}", found.describe()))
}

/// An integer value: a number, or a string as `strtoll`/`strtoull` read it.
pub(super) fn integer(tok: &Tok<'_>, signed: bool) -> Result<i128> {
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
pub(super) fn float(tok: &Tok<'_>) -> Result<f64> {
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
pub(super) fn copy_pointer(
    src: &[u8],
    from: usize,
    dst: &mut Out,
    to: usize,
    depth: u32,
) -> Result<()> {
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

pub(super) fn copy_sections(
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

    pub(super) fn float(v: f64) -> String {
        let mut out = Vec::new();
        push_float(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    pub(super) fn floats_print_as_c_does() {
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
    pub(super) fn slow_float(v: f64) -> String {
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
    pub(super) fn fast_float_paths_agree_with_exact_formatting() {
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
    pub(super) fn base64_and_hex() {
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
    pub(super) fn integers_in_strings_read_as_c_does() {
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
    pub(super) fn escape_detection_sees_every_byte() {
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
    pub(super) fn escaping() {
        let mut out = Vec::new();
        escape_into(&mut out, "a\"b\\c\n\u{1}\u{1f}é\u{7f}".as_bytes());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a\\\"b\\\\c\\n\\u0001\\u001fé\u{7f}"
        );
    }
}
