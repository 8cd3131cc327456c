//! Values: expressions checked against their types, generic substitution, and the encoding of
//! struct and list values as pointer words.

use super::*;

/// A value before it is checked against the type it is assigned to.
#[derive(Debug, Clone)]
pub(super) enum Val {
    Void,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Text(Vec<u8>),
    Data(Vec<u8>),
    Enum(u64, out::Brand, u16),
    /// A list of the given type.
    List(out::Type, Obj),
    /// A struct of the given type.
    Struct(u64, out::Brand, Obj),
    /// A pointer of unknown type (from an `AnyPointer` constant).
    Any(Obj),
}

impl<'a> Translator<'a> {
    pub(super) fn compile_value_to_out(
        &mut self,
        scope: &Rc<BrandScope>,
        e: &Expr,
        t: &out::Type,
        resolver: usize,
    ) -> out::Value {
        match self.compile_value(scope, e, t, resolver) {
            Some(v) => val_to_out(v, t),
            None => default_default(t),
        }
    }

    /// Evaluates `e` for type `t` and checks that the result fits `t`.
    pub(super) fn compile_value(
        &mut self,
        scope: &Rc<BrandScope>,
        e: &Expr,
        t: &out::Type,
        resolver: usize,
    ) -> Option<Val> {
        let unit = self.nodes[resolver].unit;
        if let out::Type::AnyPointer(
            out::AnyPointer::Parameter { .. } | out::AnyPointer::ImplicitMethodParameter { .. },
        ) = t
        {
            self.error(
                unit,
                e.span,
                "Cannot interpret value because the type is a generic type parameter which is not \
                 yet bound. We don't know what type to expect here.",
            );
            return None;
        }
        let v = self.compile_value_inner(scope, e, t, resolver)?;
        use out::Type as T;
        let (min, max): (i128, i128) = match t {
            T::Int8 => (i8::MIN.into(), i8::MAX.into()),
            T::Int16 => (i16::MIN.into(), i16::MAX.into()),
            T::Int32 => (i32::MIN.into(), i32::MAX.into()),
            T::Int64 => (i64::MIN.into(), i64::MAX.into()),
            T::UInt8 => (0, u8::MAX.into()),
            T::UInt16 => (0, u16::MAX.into()),
            T::UInt32 => (0, u32::MAX.into()),
            T::UInt64 => (0, u64::MAX.into()),
            T::Float32 | T::Float64 => (i64::MIN.into(), u64::MAX.into()),
            _ => (1, 0),
        };
        match v {
            Val::Int(_) | Val::UInt(_) => {
                let x: i128 = match v {
                    Val::Int(i) => i.into(),
                    Val::UInt(u) => u.into(),
                    _ => 0,
                };
                if min > max {
                    return self.type_mismatch(unit, e.span, t);
                }
                if x < min || x > max {
                    self.error(unit, e.span, "Integer value out of range.");
                    let clamped = x.clamp(min, max);
                    return Some(if clamped < 0 {
                        Val::Int(clamped as i64)
                    } else {
                        Val::UInt(clamped as u64)
                    });
                }
                Some(v)
            }
            Val::Void if *t == T::Void => Some(v),
            Val::Bool(_) if *t == T::Bool => Some(v),
            Val::Float(_) if matches!(t, T::Float32 | T::Float64) => Some(v),
            Val::Text(_) if *t == T::Text => Some(v),
            Val::Data(_) if *t == T::Data => Some(v),
            Val::Enum(id, ref b, _) if matches!(t, T::Enum(tid, tb) if *tid == id && tb == b) => {
                Some(v)
            }
            Val::List(ref lt, _) if matches!(t, T::List(_)) && lt == t => Some(v),
            Val::List(..) if matches!(t, T::AnyPointer(a) if !matches!(a, out::AnyPointer::AnyStruct | out::AnyPointer::Capability)) => {
                Some(v)
            }
            Val::Struct(id, ref b, _) if matches!(t, T::Struct(tid, tb) if *tid == id && tb == b) => {
                Some(v)
            }
            Val::Struct(..) if matches!(t, T::AnyPointer(a) if !matches!(a, out::AnyPointer::AnyList | out::AnyPointer::Capability)) => {
                Some(v)
            }
            Val::Any(_) if matches!(t, T::AnyPointer(_)) => Some(v),
            _ => self.type_mismatch(unit, e.span, t),
        }
    }

    pub(super) fn compile_value_inner(
        &mut self,
        scope: &Rc<BrandScope>,
        e: &Expr,
        t: &out::Type,
        resolver: usize,
    ) -> Option<Val> {
        let unit = self.nodes[resolver].unit;
        match &e.kind {
            ExprKind::Unknown => None,
            ExprKind::RelativeName(name) => {
                let id = name.value.as_str();
                if let out::Type::Enum(eid, brand) = t {
                    if let Some(i) = self.enumerant_number(*eid, id) {
                        return Some(Val::Enum(*eid, brand.clone(), i));
                    }
                } else {
                    match id {
                        "void" => return Some(Val::Void),
                        "true" => return Some(Val::Bool(true)),
                        "false" => return Some(Val::Bool(false)),
                        "nan" => return Some(Val::Float(f64::NAN)),
                        "inf" => return Some(Val::Float(f64::INFINITY)),
                        _ => {}
                    }
                }
                self.read_constant(scope, e, resolver)
            }
            ExprKind::AbsoluteName(_)
            | ExprKind::Import(_)
            | ExprKind::Application { .. }
            | ExprKind::Member { .. } => self.read_constant(scope, e, resolver),
            ExprKind::Embed(path) => {
                let Some(bytes) = self.p.embeds.get(&(unit, path.value.clone())).cloned() else {
                    self.error(
                        unit,
                        path.span,
                        format!("Couldn't read file for embed: {}", path.value),
                    );
                    return None;
                };
                match t {
                    out::Type::Text => Some(Val::Text(bytes)),
                    out::Type::Data => Some(Val::Data(bytes)),
                    out::Type::Struct(id, brand) => match Obj::from_message(&bytes) {
                        Some(obj) => Some(Val::Struct(*id, brand.clone(), obj)),
                        None => {
                            self.error(
                                unit,
                                e.span,
                                "Embedded file is not a valid Cap'n Proto message.",
                            );
                            None
                        }
                    },
                    _ => {
                        self.error(
                            unit,
                            e.span,
                            "Embeds can only be used when Text, Data, or a struct is expected.",
                        );
                        None
                    }
                }
            }
            ExprKind::PositiveInt(v) => Some(Val::UInt(*v)),
            ExprKind::NegativeInt(v) => {
                if *v > (1u64 << 63) {
                    self.error(unit, e.span, "Integer is too big to be negative.");
                    None
                } else {
                    Some(Val::Int((*v as i64).wrapping_neg()))
                }
            }
            ExprKind::Float(f) => Some(Val::Float(*f)),
            ExprKind::String(s) => Some(if *t == out::Type::Data {
                Val::Data(s.as_bytes().to_vec())
            } else {
                Val::Text(s.as_bytes().to_vec())
            }),
            ExprKind::StringBytes(b) => Some(if *t == out::Type::Data {
                Val::Data(b.clone())
            } else {
                Val::Text(b.clone())
            }),
            ExprKind::Binary(b) => {
                if *t != out::Type::Data {
                    return self.type_mismatch(unit, e.span, t);
                }
                Some(Val::Data(b.clone()))
            }
            ExprKind::List(items) => {
                let out::Type::List(element) = t else {
                    return self.type_mismatch(unit, e.span, t);
                };
                let mut values = Vec::new();
                for item in items {
                    values.push(self.compile_value(scope, item, element, resolver));
                }
                let obj = self.encode_list(element, values)?;
                Some(Val::List(t.clone(), obj))
            }
            ExprKind::Tuple(params) => {
                let out::Type::Struct(id, brand) = t else {
                    return self.type_mismatch(unit, e.span, t);
                };
                let node = self.node_by_id(*id)?;
                let out::NodeKind::Struct(s) = &node.kind else {
                    return None;
                };
                let mut obj = SObj::new(s.data_words, s.pointers);
                self.fill_struct(scope, &mut obj, *id, brand, params, resolver);
                Some(Val::Struct(*id, brand.clone(), Obj::Struct(obj)))
            }
        }
    }

    pub(super) fn fill_struct(
        &mut self,
        scope: &Rc<BrandScope>,
        obj: &mut SObj,
        struct_id: u64,
        brand: &out::Brand,
        assignments: &[Param],
        resolver: usize,
    ) {
        let unit = self.nodes[resolver].unit;
        let Some(node) = self.node_by_id(struct_id) else {
            return;
        };
        let out::NodeKind::Struct(s) = &node.kind else {
            return;
        };
        for a in assignments {
            let Some(name) = &a.name else {
                self.error(unit, a.value.span, "Missing field name.");
                continue;
            };
            let Some(field) = s.fields.iter().find(|f| f.name == name.value) else {
                self.error(
                    unit,
                    name.span,
                    format!("Struct has no field named '{}'.", name.value),
                );
                continue;
            };
            if field.discriminant_value != out::NO_DISCRIMINANT {
                obj.set_bits(
                    s.discriminant_offset as u64 * 16,
                    16,
                    field.discriminant_value as u64,
                );
            }
            match &field.kind {
                out::FieldKind::Slot {
                    offset,
                    type_,
                    default_value,
                    ..
                } => {
                    // Generic fields take the types the struct's brand binds.
                    let type_ = substitute(type_, brand);
                    if let Some(v) = self.compile_value(scope, &a.value, &type_, resolver) {
                        obj.set_field(*offset, &type_, default_value, v);
                    }
                }
                out::FieldKind::Group { type_id } => match &a.value.kind {
                    ExprKind::Tuple(inner) => {
                        // Initializing a group clears what an earlier union member left.
                        if let Some(g) = self.node_by_id(*type_id) {
                            if let out::NodeKind::Struct(gs) = &g.kind {
                                clear_group(obj, gs, self, 0);
                            }
                        }
                        self.fill_struct(scope, obj, *type_id, brand, inner, resolver);
                    }
                    _ => self.error(unit, a.value.span, "Type mismatch; expected group."),
                },
            }
        }
    }

    pub(super) fn encode_list(
        &mut self,
        element: &out::Type,
        values: Vec<Option<Val>>,
    ) -> Option<Obj> {
        use out::Type as T;
        let n = values.len();
        let list = match element {
            T::Void => LObj::Void(n as u32),
            T::Bool
            | T::Int8
            | T::UInt8
            | T::Int16
            | T::UInt16
            | T::Enum(..)
            | T::Int32
            | T::UInt32
            | T::Float32
            | T::Int64
            | T::UInt64
            | T::Float64 => {
                let bits = data_bits(element);
                let mut bytes = vec![0u8; (n * bits as usize).div_ceil(8)];
                for (i, v) in values.into_iter().enumerate() {
                    if let Some(v) = v {
                        write_bits(
                            &mut bytes,
                            (i * bits as usize) as u64,
                            bits,
                            scalar_bits(&v, element),
                        );
                    }
                }
                LObj::Bits {
                    bits,
                    count: n as u32,
                    bytes,
                }
            }
            T::Struct(id, _) => {
                let node = self.node_by_id(*id)?;
                let out::NodeKind::Struct(s) = &node.kind else {
                    return None;
                };
                // An element keeps what fits the list's sections, as copying a struct into a
                // list element does: an embedded struct may come from a larger version.
                let elems = values
                    .into_iter()
                    .map(|v| match v {
                        Some(Val::Struct(_, _, Obj::Struct(mut o))) => {
                            o.data.resize(s.data_words as usize * 8, 0);
                            o.ptrs.resize(s.pointers as usize, Obj::Null);
                            o
                        }
                        _ => SObj::new(s.data_words, s.pointers),
                    })
                    .collect();
                LObj::Structs {
                    data_words: s.data_words,
                    pointers: s.pointers,
                    elems,
                }
            }
            _ => LObj::Pointers(
                values
                    .into_iter()
                    .map(|v| v.map(val_to_obj).unwrap_or(Obj::Null))
                    .collect(),
            ),
        };
        Some(Obj::List(list))
    }

    pub(super) fn read_constant(
        &mut self,
        scope: &Rc<BrandScope>,
        e: &Expr,
        resolver: usize,
    ) -> Option<Val> {
        let unit = self.nodes[resolver].unit;
        let d = self.compile_decl_expr(scope, e, resolver, NO_IMPLICIT)?;
        let idx = match &d {
            BDecl::Decl { decl, .. } => match decl.target {
                Target::Node(i) if self.nodes[i].kind == Kind::Const => Some(i),
                _ => None,
            },
            _ => None,
        };
        let Some(idx) = idx else {
            self.error(
                unit,
                e.span,
                format!("'{}' does not refer to a constant.", expr_string(e)),
            );
            return None;
        };
        let f = self.finished(idx)?;
        let out::NodeKind::Const { type_, value } = &f.node.kind else {
            return None;
        };
        if let ExprKind::RelativeName(name) = &e.kind {
            let parent = self.nodes[idx].parent.map(|p| {
                let n = &self.nodes[p];
                if n.kind == Kind::File {
                    String::new()
                } else {
                    n.display_name[prefix_length(&n.display_name) as usize..].to_string()
                }
            });
            self.error(
                unit,
                e.span,
                format!(
                    "Constant names must be qualified to avoid confusion.  Please replace '{}' \
                     with '{}.{}', if that's what you intended.",
                    name.value,
                    parent.unwrap_or_default(),
                    name.value
                ),
            );
        }
        Some(out_to_val(value, type_))
    }

    /// Reports a value that does not fit type `t`.
    pub(super) fn type_mismatch<T>(&mut self, unit: usize, span: Span, t: &out::Type) -> Option<T> {
        let name = self.type_name(t);
        self.error(unit, span, format!("Type mismatch; expected {name}."));
        None
    }

    pub(super) fn type_name(&mut self, t: &out::Type) -> String {
        use out::Type as T;
        match t {
            T::Void => "Void".into(),
            T::Bool => "Bool".into(),
            T::Int8 => "Int8".into(),
            T::Int16 => "Int16".into(),
            T::Int32 => "Int32".into(),
            T::Int64 => "Int64".into(),
            T::UInt8 => "UInt8".into(),
            T::UInt16 => "UInt16".into(),
            T::UInt32 => "UInt32".into(),
            T::UInt64 => "UInt64".into(),
            T::Float32 => "Float32".into(),
            T::Float64 => "Float64".into(),
            T::Text => "Text".into(),
            T::Data => "Data".into(),
            T::List(e) => format!("List({})", self.type_name(e)),
            T::Enum(id, _) | T::Struct(id, _) | T::Interface(id, _) => match self.by_id.get(id) {
                Some(&i) => {
                    let n = &self.nodes[i].display_name;
                    n[prefix_length(n) as usize..].to_string()
                }
                None => format!("@0x{id:x}"),
            },
            T::AnyPointer(_) => "AnyPointer".into(),
        }
    }

    /// Resolves annotation applications. Their values are compiled later ([`ValueJob`]), once
    /// every node they might need is laid out; only their IDs, brands and checks happen here.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn compile_annotations(
        &mut self,
        scope: &Rc<BrandScope>,
        resolver: usize,
        uses: impl Iterator<Item = &'a AnnotationUse>,
        flag: Tgt,
        owner: u64,
        site: Site,
    ) -> Vec<out::Annotation> {
        if !self.annotations {
            return Vec::new();
        }
        let unit = self.nodes[resolver].unit;
        let mut result = Vec::new();
        for a in uses {
            let mut ann = out::Annotation {
                id: 0,
                brand: out::Brand::default(),
                value: out::Value::Void,
            };
            let Some(d) = self.compile_decl_expr(scope, &a.name, resolver, NO_IMPLICIT) else {
                result.push(ann);
                continue;
            };
            let target = match &d {
                BDecl::Decl { decl, brand, .. } => match decl.target {
                    Target::Node(i) if self.nodes[i].kind == Kind::Annotation => {
                        Some((i, decl.id, brand.clone()))
                    }
                    _ => None,
                },
                _ => None,
            };
            let Some((idx, id, brand)) = target else {
                self.error(
                    unit,
                    a.name.span,
                    format!("'{}' is not an annotation.", expr_string(&a.name)),
                );
                result.push(ann);
                continue;
            };
            ann.id = id;
            ann.brand = self.compile_brand(&brand, resolver);
            if let Some(f) = self.finished(idx) {
                if let out::NodeKind::Annotation { type_, targets } = &f.node.kind {
                    if !flag.allowed(targets) {
                        self.error(
                            unit,
                            a.name.span,
                            format!(
                                "'{}' cannot be applied to this kind of declaration.",
                                expr_string(&a.name)
                            ),
                        );
                    }
                    // A generic annotation's value has the type its brand binds.
                    let type_ = substitute(type_, &ann.brand);
                    match &a.value {
                        None => {
                            if type_ == out::Type::Void {
                                ann.value = out::Value::Void;
                            } else {
                                self.error(
                                    unit,
                                    a.name.span,
                                    format!("'{}' requires a value.", expr_string(&a.name)),
                                );
                                ann.value = default_default(&type_);
                            }
                        }
                        Some(v) => {
                            ann.value = default_default(&type_);
                            self.jobs.push(ValueJob {
                                owner,
                                site,
                                index: result.len(),
                                expr: v,
                                type_,
                                scope: scope.clone(),
                                resolver,
                            });
                        }
                    }
                }
            }
            result.push(ann);
        }
        result
    }

    // ---------------------------------------------------------------------------------------
    // Which nodes go into the request

    pub(super) fn traverse(
        &mut self,
        idx: usize,
        eagerness: u32,
        seen: &mut FastMap<usize, u32>,
        order: &mut Vec<usize>,
    ) {
        let slot = seen.entry(idx).or_insert(0);
        if *slot & eagerness == eagerness {
            return;
        }
        *slot |= eagerness;
        if let Some(f) = self.finished(idx) {
            if eagerness / DEPENDENCIES != 0 {
                let next = (eagerness & !(DEPENDENCIES - 1)) | (eagerness / DEPENDENCIES);
                let mut deps = Vec::new();
                node_dependencies(&f.node, &mut deps);
                for aux in &f.aux {
                    node_dependencies(aux, &mut deps);
                }
                for id in deps {
                    if let Some(&d) = self.by_id.get(&id) {
                        self.traverse(d, next, seen, order);
                    }
                }
            }
            order.push(idx);
        }
        if eagerness & PARENTS != 0 {
            if let Some(p) = self.nodes[idx].parent {
                self.traverse(p, eagerness, seen, order);
            }
        }
        if eagerness & CHILDREN != 0 {
            self.expand(idx);
            for child in self.nodes[idx].nested.clone() {
                self.traverse(child, eagerness, seen, order);
            }
            // Every `using` of the node, also one that lost a name clash, is compiled and
            // checked.
            for a in self.nodes[idx].aliases.clone() {
                self.compile_alias(a);
            }
        }
    }
}

/// `t` with the generic parameters `brand` binds replaced by their bindings (unbound ones become
/// `AnyPointer`).
pub(super) fn substitute(t: &out::Type, brand: &out::Brand) -> out::Type {
    use out::Type as T;
    match t {
        T::AnyPointer(out::AnyPointer::Parameter { scope_id, index }) => {
            match brand.scopes.iter().find(|s| s.scope_id == *scope_id) {
                Some(out::BrandScope { bind: Some(b), .. }) => b
                    .get(*index as usize)
                    .cloned()
                    .flatten()
                    .unwrap_or(T::AnyPointer(out::AnyPointer::Any)),
                Some(_) => t.clone(),
                None => T::AnyPointer(out::AnyPointer::Any),
            }
        }
        T::List(e) => T::List(Box::new(substitute(e, brand))),
        T::Struct(id, b) => T::Struct(*id, substitute_brand(b, brand)),
        T::Enum(id, b) => T::Enum(*id, substitute_brand(b, brand)),
        T::Interface(id, b) => T::Interface(*id, substitute_brand(b, brand)),
        other => other.clone(),
    }
}

pub(super) fn substitute_brand(b: &out::Brand, brand: &out::Brand) -> out::Brand {
    out::Brand {
        scopes: b
            .scopes
            .iter()
            .map(|s| out::BrandScope {
                scope_id: s.scope_id,
                bind: match &s.bind {
                    Some(bind) => Some(
                        bind.iter()
                            .map(|t| t.as_ref().map(|t| substitute(t, brand)))
                            .collect(),
                    ),
                    // An inherited scope takes the bindings of the context.
                    None => brand
                        .scopes
                        .iter()
                        .find(|o| o.scope_id == s.scope_id)
                        .and_then(|o| o.bind.clone()),
                },
            })
            .collect(),
    }
}

pub(super) fn node_dependencies(n: &out::Node, deps: &mut Vec<u64>) {
    pub(super) fn ty(t: &out::Type, deps: &mut Vec<u64>) {
        match t {
            out::Type::List(e) => ty(e, deps),
            out::Type::Struct(id, b) | out::Type::Enum(id, b) | out::Type::Interface(id, b) => {
                deps.push(*id);
                brand(b, deps);
            }
            _ => {}
        }
    }
    pub(super) fn brand(b: &out::Brand, deps: &mut Vec<u64>) {
        for s in &b.scopes {
            for t in s.bind.iter().flatten().flatten() {
                ty(t, deps);
            }
        }
    }
    pub(super) fn annotations(a: &[out::Annotation], deps: &mut Vec<u64>) {
        deps.extend(a.iter().map(|a| a.id));
    }
    match &n.kind {
        out::NodeKind::Struct(s) => {
            for f in &s.fields {
                if let out::FieldKind::Slot { type_, .. } = &f.kind {
                    ty(type_, deps);
                }
                annotations(&f.annotations, deps);
            }
        }
        out::NodeKind::Enum(list) => {
            for e in list {
                annotations(&e.annotations, deps);
            }
        }
        out::NodeKind::Interface {
            methods,
            superclasses,
        } => {
            for (id, b) in superclasses {
                if *id != 0 {
                    deps.push(*id);
                }
                brand(b, deps);
            }
            for m in methods {
                deps.push(m.param_struct_type);
                brand(&m.param_brand, deps);
                deps.push(m.result_struct_type);
                brand(&m.result_brand, deps);
                annotations(&m.annotations, deps);
            }
        }
        out::NodeKind::Const { type_, .. } | out::NodeKind::Annotation { type_, .. } => {
            ty(type_, deps)
        }
        out::NodeKind::File => {}
    }
    annotations(&n.annotations, deps);
}

pub(super) fn clear_group(obj: &mut SObj, group: &out::Struct, t: &mut Translator<'_>, depth: u32) {
    if depth > 64 {
        return;
    }
    if group.discriminant_count > 0 {
        obj.set_bits(group.discriminant_offset as u64 * 16, 16, 0);
    }
    for f in &group.fields {
        match &f.kind {
            out::FieldKind::Slot { offset, type_, .. } => {
                if is_pointer(type_) {
                    if let Some(p) = obj.ptrs.get_mut(*offset as usize) {
                        *p = Obj::Null;
                    }
                } else {
                    let bits = data_bits(type_);
                    if bits > 0 {
                        obj.set_bits(*offset as u64 * bits as u64, bits, 0);
                    }
                }
            }
            out::FieldKind::Group { type_id } => {
                if let Some(g) = t.node_by_id(*type_id) {
                    if let out::NodeKind::Struct(gs) = &g.kind {
                        clear_group(obj, gs, t, depth + 1);
                    }
                }
            }
        }
    }
}

pub(super) fn data_bits(t: &out::Type) -> u8 {
    use out::Type as T;
    match t {
        T::Bool => 1,
        T::Int8 | T::UInt8 => 8,
        T::Int16 | T::UInt16 | T::Enum(..) => 16,
        T::Int32 | T::UInt32 | T::Float32 => 32,
        T::Int64 | T::UInt64 | T::Float64 => 64,
        _ => 0,
    }
}

/// The bits a checked scalar value is stored as, for a field or element of type `t`.
pub(super) fn scalar_bits(v: &Val, t: &out::Type) -> u64 {
    use out::Type as T;
    let as_f64 = |v: &Val| match v {
        Val::Float(f) => *f,
        Val::Int(i) => *i as f64,
        Val::UInt(u) => *u as f64,
        _ => 0.0,
    };
    let as_u64 = |v: &Val| match v {
        Val::Int(i) => *i as u64,
        Val::UInt(u) => *u,
        Val::Bool(b) => *b as u64,
        Val::Enum(_, _, x) => *x as u64,
        _ => 0,
    };
    match t {
        T::Float32 => (as_f64(v) as f32).to_bits() as u64,
        T::Float64 => as_f64(v).to_bits(),
        _ => {
            let bits = data_bits(t);
            let x = as_u64(v);
            if bits == 64 {
                x
            } else {
                x & ((1u64 << bits) - 1)
            }
        }
    }
}

pub(super) fn out_scalar_bits(v: &out::Value) -> u64 {
    use out::Value as V;
    match v {
        V::Bool(b) => *b as u64,
        V::Int8(x) => *x as u8 as u64,
        V::Int16(x) => *x as u16 as u64,
        V::Int32(x) => *x as u32 as u64,
        V::Int64(x) => *x as u64,
        V::UInt8(x) => *x as u64,
        V::UInt16(x) => *x as u64,
        V::UInt32(x) => *x as u64,
        V::UInt64(x) => *x,
        V::Float32(x) => x.to_bits() as u64,
        V::Float64(x) => x.to_bits(),
        V::Enum(x) => *x as u64,
        _ => 0,
    }
}

pub(super) fn val_to_out(v: Val, t: &out::Type) -> out::Value {
    use out::Type as T;
    use out::Value as V;
    let i = |v: &Val| match v {
        Val::Int(i) => *i as i128,
        Val::UInt(u) => *u as i128,
        _ => 0,
    };
    match t {
        T::Void => V::Void,
        T::Bool => V::Bool(matches!(v, Val::Bool(true))),
        T::Int8 => V::Int8(i(&v) as i8),
        T::Int16 => V::Int16(i(&v) as i16),
        T::Int32 => V::Int32(i(&v) as i32),
        T::Int64 => V::Int64(i(&v) as i64),
        T::UInt8 => V::UInt8(i(&v) as u8),
        T::UInt16 => V::UInt16(i(&v) as u16),
        T::UInt32 => V::UInt32(i(&v) as u32),
        T::UInt64 => V::UInt64(i(&v) as u64),
        T::Float32 => V::Float32(f32::from_bits(scalar_bits(&v, t) as u32)),
        T::Float64 => V::Float64(f64::from_bits(scalar_bits(&v, t))),
        T::Enum(..) => V::Enum(match v {
            Val::Enum(_, _, x) => x,
            _ => 0,
        }),
        T::Interface(..) => V::Interface,
        T::Text => V::Text(match v {
            Val::Text(s) => Some(s),
            _ => None,
        }),
        T::Data => V::Data(match v {
            Val::Data(d) => Some(d),
            _ => None,
        }),
        T::List(_) => V::List(Some(val_to_obj(v).to_message())),
        T::Struct(..) => V::Struct(Some(val_to_obj(v).to_message())),
        T::AnyPointer(_) => {
            let obj = val_to_obj(v);
            V::AnyPointer((!matches!(obj, Obj::Null)).then(|| obj.to_message()))
        }
    }
}

pub(super) fn val_to_obj(v: Val) -> Obj {
    match v {
        Val::Text(s) => {
            let mut bytes = s;
            bytes.push(0);
            Obj::List(LObj::Bits {
                bits: 8,
                count: bytes.len() as u32,
                bytes,
            })
        }
        Val::Data(d) => Obj::List(LObj::Bits {
            bits: 8,
            count: d.len() as u32,
            bytes: d,
        }),
        Val::List(_, o) | Val::Struct(_, _, o) | Val::Any(o) => o,
        _ => Obj::Null,
    }
}

/// Turns a constant's stored value back into a value to assign elsewhere.
pub(super) fn out_to_val(v: &out::Value, t: &out::Type) -> Val {
    use out::Value as V;
    let obj = |m: &Option<Vec<u8>>| m.as_deref().and_then(Obj::from_flat).unwrap_or(Obj::Null);
    match v {
        V::Void => Val::Void,
        V::Bool(b) => Val::Bool(*b),
        V::Int8(x) => Val::Int(*x as i64),
        V::Int16(x) => Val::Int(*x as i64),
        V::Int32(x) => Val::Int(*x as i64),
        V::Int64(x) => Val::Int(*x),
        V::UInt8(x) => Val::UInt(*x as u64),
        V::UInt16(x) => Val::UInt(*x as u64),
        V::UInt32(x) => Val::UInt(*x as u64),
        V::UInt64(x) => Val::UInt(*x),
        V::Float32(x) => Val::Float(*x as f64),
        V::Float64(x) => Val::Float(*x),
        V::Text(s) => Val::Text(s.clone().unwrap_or_default()),
        V::Data(d) => Val::Data(d.clone().unwrap_or_default()),
        // The reference compiler reads an enum constant back as its number, which then fits no
        // enum type: enum constants cannot be used as values there, nor here.
        V::Enum(x) => Val::UInt(*x as u64),
        V::Interface => Val::Void,
        V::List(m) => Val::List(t.clone(), obj(m)),
        V::Struct(m) => match t {
            out::Type::Struct(id, b) => Val::Struct(*id, b.clone(), obj(m)),
            _ => Val::Any(obj(m)),
        },
        V::AnyPointer(m) => Val::Any(obj(m)),
    }
}

// ---------------------------------------------------------------------------------------------
// Encoded pointer values

/// A pointer value as a tree of objects, encoded into a flat message at the end.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Obj {
    Null,
    Struct(SObj),
    List(LObj),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct SObj {
    pub(super) data: Vec<u8>,
    pub(super) ptrs: Vec<Obj>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum LObj {
    Void(u32),
    Bits {
        bits: u8,
        count: u32,
        bytes: Vec<u8>,
    },
    Pointers(Vec<Obj>),
    Structs {
        data_words: u16,
        pointers: u16,
        elems: Vec<SObj>,
    },
}

pub(super) fn write_bits(bytes: &mut [u8], offset: u64, bits: u8, value: u64) {
    if bits == 1 {
        let (byte, bit) = ((offset / 8) as usize, offset % 8);
        if let Some(b) = bytes.get_mut(byte) {
            if value & 1 != 0 {
                *b |= 1 << bit;
            } else {
                *b &= !(1 << bit);
            }
        }
        return;
    }
    let start = (offset / 8) as usize;
    let n = bits as usize / 8;
    if let Some(slot) = bytes.get_mut(start..start + n) {
        slot.copy_from_slice(&value.to_le_bytes()[..n]);
    }
}

impl SObj {
    pub(super) fn new(data_words: u16, pointers: u16) -> Self {
        SObj {
            data: vec![0; data_words as usize * 8],
            ptrs: vec![Obj::Null; pointers as usize],
        }
    }

    pub(super) fn set_bits(&mut self, offset: u64, bits: u8, value: u64) {
        write_bits(&mut self.data, offset, bits, value);
    }

    pub(super) fn set_field(&mut self, offset: u32, t: &out::Type, default: &out::Value, v: Val) {
        if is_pointer(t) {
            if let Some(p) = self.ptrs.get_mut(offset as usize) {
                *p = val_to_obj(v);
            }
            return;
        }
        let bits = data_bits(t);
        if bits == 0 {
            return;
        }
        let value = scalar_bits(&v, t) ^ out_scalar_bits(default);
        self.set_bits(offset as u64 * bits as u64, bits, value);
    }
}

impl Obj {
    /// Encodes the object as a single-segment message whose root pointer points at it.
    pub(super) fn to_message(&self) -> Vec<u8> {
        let mut words: Vec<u64> = vec![0];
        encode(self, 0, &mut words);
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// Decodes a message written by [`Obj::to_message`] (one segment, no far pointers).
    pub(super) fn from_flat(bytes: &[u8]) -> Option<Obj> {
        let words: Vec<u64> = bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        decode(&words, 0, 0)
    }

    /// Decodes a stream-framed message (an `embed`ded file) into its root struct, copied as
    /// the reference compiler copies it: each struct keeps the section sizes it has in the file
    /// (trailing zeros included, which canonicalizing would drop), and the objects come in
    /// depth-first order whatever their order and segments in the file. A null root is an
    /// empty struct there too.
    pub(super) fn from_message(bytes: &[u8]) -> Option<Obj> {
        // The reference reads the file as words and refuses a partial one.
        if !bytes.len().is_multiple_of(8) {
            return None;
        }
        let options = capnp::message::ReaderOptions {
            traversal_limit_in_words: None,
            nesting_limit: 64,
        };
        let reader =
            capnp::serialize::read_message_from_flat_slice(&mut &bytes[..], options).ok()?;
        let root: capnp::any_pointer::Reader<'_> = reader.get_root().ok()?;
        let words = root.target_size().ok()?.word_count;
        let mut copy = capnp::message::Builder::new(
            capnp::message::HeapAllocator::new()
                .first_segment_words(u32::try_from(words + 1).ok()?),
        );
        copy.set_root(root).ok()?;
        let segments = copy.get_segments_for_output();
        let [segment] = &segments[..] else {
            return None;
        };
        match Obj::from_flat(segment)? {
            Obj::Null => Some(Obj::Struct(SObj::new(0, 0))),
            Obj::List(_) => None,
            s => Some(s),
        }
    }
}

pub(super) fn encode(obj: &Obj, at: usize, words: &mut Vec<u64>) {
    let alloc = |words: &mut Vec<u64>, n: usize| {
        let start = words.len();
        words.resize(start + n, 0);
        start
    };
    let offset =
        |at: usize, target: usize| (((target as i64 - at as i64 - 1) as u64) << 2) & 0xffff_fffc;
    match obj {
        Obj::Null => {}
        // A struct with no data and no pointers is encoded pointing just before itself, so that
        // it is not mistaken for a null pointer.
        Obj::Struct(s) if s.data.is_empty() && s.ptrs.is_empty() => {
            words[at] = 0xffff_fffc;
        }
        Obj::Struct(s) => {
            let dw = s.data.len().div_ceil(8);
            let start = alloc(words, dw + s.ptrs.len());
            words[at] = offset(at, start) | ((dw as u64) << 32) | ((s.ptrs.len() as u64) << 48);
            write_struct_body(s, start, words);
        }
        Obj::List(l) => match l {
            LObj::Void(n) => {
                words[at] = offset(at, at + 1) | 1 | ((*n as u64) << 35);
            }
            LObj::Bits { bits, count, bytes } => {
                let size_code = match bits {
                    1 => 1,
                    8 => 2,
                    16 => 3,
                    32 => 4,
                    _ => 5,
                };
                let start = alloc(words, bytes.len().div_ceil(8));
                for (i, b) in bytes.iter().enumerate() {
                    words[start + i / 8] |= (*b as u64) << ((i % 8) * 8);
                }
                words[at] = offset(at, start) | 1 | (size_code << 32) | ((*count as u64) << 35);
            }
            LObj::Pointers(items) => {
                let start = alloc(words, items.len());
                words[at] = offset(at, start) | 1 | (6 << 32) | ((items.len() as u64) << 35);
                for (i, item) in items.iter().enumerate() {
                    encode(item, start + i, words);
                }
            }
            LObj::Structs {
                data_words,
                pointers,
                elems,
            } => {
                let per = *data_words as usize + *pointers as usize;
                let start = alloc(words, 1 + per * elems.len());
                words[at] =
                    offset(at, start) | 1 | (7 << 32) | (((per * elems.len()) as u64) << 35);
                words[start] = ((elems.len() as u64) << 2)
                    | ((*data_words as u64) << 32)
                    | ((*pointers as u64) << 48);
                for (i, e) in elems.iter().enumerate() {
                    write_struct_body(e, start + 1 + i * per, words);
                }
            }
        },
    }
}

pub(super) fn write_struct_body(s: &SObj, start: usize, words: &mut Vec<u64>) {
    let dw = s.data.len().div_ceil(8);
    for (i, b) in s.data.iter().enumerate() {
        words[start + i / 8] |= (*b as u64) << ((i % 8) * 8);
    }
    for (i, p) in s.ptrs.iter().enumerate() {
        encode(p, start + dw + i, words);
    }
}

pub(super) fn decode(words: &[u64], at: usize, depth: u32) -> Option<Obj> {
    if depth > 64 {
        return None;
    }
    let p = *words.get(at)?;
    if p == 0 {
        return Some(Obj::Null);
    }
    let target = (at as i64 + 1 + ((p as u32 as i32) >> 2) as i64) as usize;
    match p & 3 {
        0 => {
            let dw = ((p >> 32) & 0xffff) as usize;
            let pc = (p >> 48) as usize;
            decode_struct(words, target, dw, pc, depth).map(Obj::Struct)
        }
        1 => {
            let code = (p >> 32) & 7;
            let count = (p >> 35) as usize;
            Some(Obj::List(match code {
                0 => LObj::Void(count as u32),
                1..=5 => {
                    let bits = [0u8, 1, 8, 16, 32, 64][code as usize];
                    let nbytes = (count * bits as usize).div_ceil(8);
                    let bytes = (0..nbytes)
                        .map(|i| {
                            words
                                .get(target + i / 8)
                                .map(|w| (w >> ((i % 8) * 8)) as u8)
                        })
                        .collect::<Option<Vec<u8>>>()?;
                    LObj::Bits {
                        bits,
                        count: count as u32,
                        bytes,
                    }
                }
                6 => LObj::Pointers(
                    (0..count)
                        .map(|i| decode(words, target + i, depth + 1))
                        .collect::<Option<Vec<_>>>()?,
                ),
                _ => {
                    let tag = *words.get(target)?;
                    let n = ((tag as u32) >> 2) as usize;
                    let dw = ((tag >> 32) & 0xffff) as usize;
                    let pc = (tag >> 48) as usize;
                    let per = dw + pc;
                    LObj::Structs {
                        data_words: dw as u16,
                        pointers: pc as u16,
                        elems: (0..n)
                            .map(|i| decode_struct(words, target + 1 + i * per, dw, pc, depth))
                            .collect::<Option<Vec<_>>>()?,
                    }
                }
            }))
        }
        _ => None,
    }
}

pub(super) fn decode_struct(
    words: &[u64],
    start: usize,
    dw: usize,
    pc: usize,
    depth: u32,
) -> Option<SObj> {
    let data = (0..dw * 8)
        .map(|i| words.get(start + i / 8).map(|w| (w >> ((i % 8) * 8)) as u8))
        .collect::<Option<Vec<u8>>>()?;
    let ptrs = (0..pc)
        .map(|i| decode(words, start + dw + i, depth + 1))
        .collect::<Option<Vec<_>>>()?;
    Some(SObj { data, ptrs })
}
