//! Node translation: structs and their layouts, groups and unions, enums, interfaces and
//! methods, annotations, and the ordinal checks.

use super::*;

/// One member of a struct being translated (the struct itself is member 0).
pub(super) struct MInfo<'a> {
    pub(super) parent: Option<usize>,
    pub(super) code_order: u16,
    pub(super) name: &'a str,
    pub(super) kind: MKind,
    pub(super) is_in_union: bool,
    pub(super) span: Span,
    pub(super) ordinal: Option<Located<u64>>,
    pub(super) annotations: &'a [AnnotationUse],
    pub(super) doc: Option<&'a str>,
    pub(super) field_type: Option<&'a Expr>,
    pub(super) default: Option<&'a Expr>,
    pub(super) is_param: bool,
    pub(super) child_count: usize,
    /// Index in the parent's field list, once the member has been reached in ordinal order.
    pub(super) index: Option<usize>,
    pub(super) union_discriminants: u16,
    /// Fields of this group (or of the struct), in the order they were reached.
    pub(super) fields: Vec<out::Field>,
    pub(super) field_docs: Vec<Option<String>>,
    /// Depth-first index of this field among the layout tree's fields.
    pub(super) layout_field: usize,
    /// Depth-first index of the union this member owns (named union, or the unnamed union of a
    /// group or struct).
    pub(super) layout_union: Option<usize>,
    pub(super) node_id: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MKind {
    Root,
    Field,
    Union,
    Group,
}

pub(super) fn slot_size(t: &out::Type) -> layout::SlotSize {
    use out::Type::*;
    match t {
        Void => layout::SlotSize::Void,
        Bool => layout::SlotSize::Data { lg_bits: 0 },
        Int8 | UInt8 => layout::SlotSize::Data { lg_bits: 3 },
        Int16 | UInt16 | Enum(..) => layout::SlotSize::Data { lg_bits: 4 },
        Int32 | UInt32 | Float32 => layout::SlotSize::Data { lg_bits: 5 },
        Int64 | UInt64 | Float64 => layout::SlotSize::Data { lg_bits: 6 },
        _ => layout::SlotSize::Pointer,
    }
}

pub(super) struct StructBuild<'a> {
    pub(super) members: Vec<MInfo<'a>>,
    pub(super) layout_fields: usize,
    pub(super) layout_unions: usize,
    pub(super) by_ordinal: Vec<(u64, usize)>,
    pub(super) all: Vec<usize>,
    /// Field types, resolved before layout.
    pub(super) types: HashMap<usize, Option<out::Type>>,
}

/// Where members being traversed go: under which member, whether inside a union, and the file
/// that reports errors.
#[derive(Clone, Copy)]
pub(super) struct Place {
    pub(super) parent: usize,
    pub(super) in_union: bool,
    pub(super) unit: usize,
}

impl<'a> StructBuild<'a> {
    pub(super) fn add(&mut self, m: MInfo<'a>) -> usize {
        if let Some(p) = m.parent {
            self.members[p].child_count += 1;
        }
        self.members.push(m);
        self.members.len() - 1
    }

    /// Adds a field member of type `t` and returns what the layout needs to know of it.
    /// `ordinal` places it: its `@N`, or its position in a parameter list.
    pub(super) fn add_field(
        &mut self,
        mut m: MInfo<'a>,
        ordinal: u64,
        t: Option<out::Type>,
    ) -> layout::LayoutMember {
        m.layout_field = self.layout_fields;
        self.layout_fields += 1;
        let mi = self.add(m);
        self.all.push(mi);
        self.by_ordinal.push((ordinal, mi));
        let member = layout::LayoutMember::Field {
            ordinal: ordinal.min(u16::MAX as u64) as u16,
            size: t.as_ref().map(slot_size).unwrap_or(layout::SlotSize::Void),
        };
        self.types.insert(mi, t);
        member
    }
}

pub(super) fn new_member<'a>(
    parent: usize,
    code_order: u16,
    d: &'a Decl,
    kind: MKind,
    in_union: bool,
) -> MInfo<'a> {
    let (field_type, default) = match &d.kind {
        DeclKind::Field {
            type_,
            default_value,
        } => (Some(type_), default_value.as_ref()),
        _ => (None, None),
    };
    MInfo {
        parent: Some(parent),
        code_order,
        name: &d.name.value,
        kind,
        is_in_union: in_union,
        span: d.span,
        ordinal: match d.id {
            DeclId::Ordinal(o) => Some(o),
            _ => None,
        },
        annotations: &d.annotations,
        doc: d.doc_comment.as_deref(),
        field_type,
        default,
        is_param: false,
        child_count: 0,
        index: None,
        union_discriminants: 0,
        fields: Vec::new(),
        field_docs: Vec::new(),
        layout_field: 0,
        layout_union: None,
        node_id: 0,
    }
}

pub(super) fn root_member<'a>() -> MInfo<'a> {
    MInfo {
        parent: None,
        code_order: 0,
        name: "",
        kind: MKind::Root,
        is_in_union: false,
        span: Span::default(),
        ordinal: None,
        annotations: &[],
        doc: None,
        field_type: None,
        default: None,
        is_param: false,
        child_count: 0,
        index: None,
        union_discriminants: 0,
        fields: Vec::new(),
        field_docs: Vec::new(),
        layout_field: 0,
        layout_union: None,
        node_id: 0,
    }
}

impl<'a> Translator<'a> {
    pub(super) fn finished(&mut self, idx: usize) -> Option<Rc<Finished>> {
        match &self.states[idx] {
            State::Done(f) => return f.clone(),
            State::InProgress if self.bootstrap[idx].is_some() => {
                return self.bootstrap[idx].clone();
            }
            State::InProgress => {
                let (unit, span) = (self.nodes[idx].unit, node_span(self.nodes[idx].decl));
                self.error(unit, span, "Declaration recursively depends on itself.");
                return None;
            }
            State::Pending => {}
        }
        self.states[idx] = State::InProgress;
        let result = self.translate_node(idx).map(Rc::new);
        if let Some(f) = &result {
            for aux in &f.aux {
                self.aux_owner.insert(aux.id, idx);
            }
        }
        self.states[idx] = State::Done(result.clone());
        result
    }

    /// The number of the enumerant `name` of enum `id`, from the declaration itself: an enum
    /// value must not wait for the enum's annotations, which may hold values of types that are
    /// still being laid out.
    pub(super) fn enumerant_number(&self, id: u64, name: &str) -> Option<u16> {
        let idx = *self.by_id.get(&id)?;
        let mut enumerants: Vec<(u64, &str)> = self.nodes[idx]
            .decl
            .nested
            .iter()
            .filter_map(|d| match (&d.kind, d.id) {
                (DeclKind::Enumerant, DeclId::Ordinal(o)) => Some((o.value, d.name.value.as_str())),
                (DeclKind::Enumerant, _) => Some((u64::MAX, d.name.value.as_str())),
                _ => None,
            })
            .collect();
        enumerants.sort_by_key(|e| e.0);
        enumerants
            .iter()
            .position(|(_, n)| *n == name)
            .map(|i| i as u16)
    }

    /// Makes a node's layout visible to values compiled while the node is still in progress.
    pub(super) fn publish_bootstrap(&mut self, idx: usize, node: out::Node, aux: Vec<out::Node>) {
        for g in &aux {
            self.aux_owner.insert(g.id, idx);
        }
        self.bootstrap[idx] = Some(Rc::new(Finished {
            node,
            aux,
            source_info: Vec::new(),
        }));
    }

    /// The translated node (or group / parameter struct) with this ID, shared, not copied.
    pub(super) fn node_by_id(&mut self, id: u64) -> Option<NodeRef> {
        if let Some(&idx) = self.by_id.get(&id) {
            return self.finished(idx).map(|f| NodeRef(f, None));
        }
        let owner = *self.aux_owner.get(&id)?;
        let f = self.finished(owner)?;
        let aux = f.aux.iter().position(|n| n.id == id)?;
        Some(NodeRef(f, Some(aux)))
    }

    pub(super) fn translate_node(&mut self, idx: usize) -> Option<Finished> {
        self.expand(idx);
        let n = &self.nodes[idx];
        let decl = n.decl;
        let unit = n.unit;
        let mut node = out::Node {
            id: n.id,
            display_name: n.display_name.clone(),
            scope_id: n.parent.map(|p| self.nodes[p].id).unwrap_or(0),
            nested: n
                .nested
                .iter()
                .map(|&c| (self.nodes[c].decl.name.value.clone(), self.nodes[c].id))
                .collect(),
            parameters: decl.parameters.iter().map(|p| p.value.clone()).collect(),
            ..Default::default()
        };
        node.display_name_prefix_length = prefix_length(&node.display_name);
        let scope = self.starting_scope(idx);
        node.is_generic = is_generic(&scope);
        let mut finished = Finished {
            node,
            aux: Vec::new(),
            source_info: Vec::new(),
        };
        let mut names = FastMap::default();
        self.check_names(unit, &decl.nested, &decl.kind, &mut names);
        let mut info = out::SourceInfo {
            id: finished.node.id,
            doc_comment: decl.doc_comment.clone(),
            members: Vec::new(),
        };
        let mut annotations: Vec<&AnnotationUse> = decl.annotations.iter().collect();
        let targets_flag = match &decl.kind {
            DeclKind::File => {
                for d in &decl.nested {
                    if let DeclKind::NakedAnnotation(a) = &d.kind {
                        annotations.push(a);
                    }
                    if info.doc_comment.is_none() {
                        if let DeclKind::NakedId(_) = &d.kind {
                            info.doc_comment = d.doc_comment.clone();
                        }
                    }
                }
                finished.node.kind = out::NodeKind::File;
                Tgt::File
            }
            DeclKind::Const { type_, value } => {
                let t = self.compile_type(&scope, type_, idx, NO_IMPLICIT);
                let v = match &t {
                    Some(t) => self.compile_value_to_out(&scope, value, t, idx),
                    None => out::Value::Void,
                };
                finished.node.kind = out::NodeKind::Const {
                    type_: t.unwrap_or_default(),
                    value: v,
                };
                Tgt::Const
            }
            DeclKind::Annotation { type_, targets } => {
                let t = self.compile_type(&scope, type_, idx, NO_IMPLICIT);
                finished.node.kind = out::NodeKind::Annotation {
                    type_: t.unwrap_or_default(),
                    targets: *targets,
                };
                Tgt::Annotation
            }
            DeclKind::Enum => {
                let mut enumerants: Vec<(u64, u16, &Decl)> = Vec::new();
                for (code, d) in decl
                    .nested
                    .iter()
                    .filter(|d| matches!(d.kind, DeclKind::Enumerant))
                    .enumerate()
                {
                    let ordinal = match d.id {
                        DeclId::Ordinal(o) => o.value,
                        _ => u64::MAX,
                    };
                    enumerants.push((ordinal, code as u16, d));
                }
                enumerants.sort_by_key(|e| e.0);
                let mut dup = OrdinalCheck::default();
                let mut list = Vec::new();
                for (_, code, d) in &enumerants {
                    if let DeclId::Ordinal(o) = d.id {
                        dup.check(self, unit, o);
                    }
                    info.members.push(d.doc_comment.clone());
                    list.push(out::Enumerant {
                        name: d.name.value.clone(),
                        code_order: *code,
                        annotations: Vec::new(),
                    });
                }
                // The enumerants are known before their annotations, whose values may use them.
                let mut node = finished.node.clone();
                node.kind = out::NodeKind::Enum(list.clone());
                self.publish_bootstrap(idx, node, Vec::new());
                let id = finished.node.id;
                for (i, (e, (_, _, d))) in list.iter_mut().zip(&enumerants).enumerate() {
                    e.annotations = self.compile_annotations(
                        &scope,
                        idx,
                        d.annotations.iter(),
                        Tgt::Enumerant,
                        id,
                        Site::Member(i),
                    );
                }
                finished.node.kind = out::NodeKind::Enum(list);
                Tgt::Enum
            }
            DeclKind::Struct => {
                let root = self.translate_struct(
                    &scope,
                    idx,
                    &decl.nested,
                    None,
                    NO_IMPLICIT,
                    &mut finished,
                    &mut info,
                );
                finished.node.kind = out::NodeKind::Struct(root);
                Tgt::Struct
            }
            DeclKind::Interface { superclasses } => {
                self.translate_interface(&scope, idx, superclasses, &mut finished, &mut info);
                Tgt::Interface
            }
            _ => Tgt::File,
        };
        // The node's own annotations come last and may hold values whose types use this node
        // (an annotation's type, a struct's layout), so those see it as it is now.
        if self.bootstrap[idx].is_none() {
            self.publish_bootstrap(idx, finished.node.clone(), finished.aux.clone());
        }
        finished.node.annotations = self.compile_annotations(
            &scope,
            idx,
            annotations.into_iter(),
            targets_flag,
            finished.node.id,
            Site::Node,
        );
        finished.source_info.insert(0, info);
        Some(finished)
    }

    /// The reference compiler's checks on the declarations directly inside one scope: no name
    /// twice, type names capitalized and others not, no underscores, and each kind of
    /// declaration only where it belongs. Struct members open scopes of their own (an unnamed
    /// union's members share the enclosing one).
    pub(super) fn check_names(
        &mut self,
        unit: usize,
        nested: &'a [Decl],
        parent: &DeclKind,
        names: &mut FastMap<&'a str, Span>,
    ) {
        for d in nested {
            if matches!(d.kind, DeclKind::NakedId(_) | DeclKind::NakedAnnotation(_)) {
                continue;
            }
            let name = d.name.value.as_str();
            if let Some(&previous) = names.get(name) {
                if name.is_empty() && matches!(d.kind, DeclKind::Union) {
                    self.error(
                        unit,
                        d.name.span,
                        "An unnamed union is already defined in this scope.",
                    );
                    self.error(unit, previous, "Previously defined here.");
                } else {
                    self.error(
                        unit,
                        d.name.span,
                        format!("'{name}' is already defined in this scope."),
                    );
                    self.error(unit, previous, format!("'{name}' previously defined here."));
                }
            } else {
                names.insert(name, d.name.span);
            }
            let first = name.bytes().next();
            let type_name = "Type names must begin with a capital letter.";
            let value_name = "Non-type names must begin with a lower-case letter.";
            match &d.kind {
                DeclKind::Using { target } => {
                    let target_name = match &target.kind {
                        ExprKind::AbsoluteName(n) | ExprKind::RelativeName(n) => {
                            Some(n.value.as_str())
                        }
                        ExprKind::Application { function, .. } => match &function.kind {
                            ExprKind::AbsoluteName(n) | ExprKind::RelativeName(n) => {
                                Some(n.value.as_str())
                            }
                            ExprKind::Member { name, .. } => Some(name.value.as_str()),
                            _ => None,
                        },
                        ExprKind::Member { name, .. } => Some(name.value.as_str()),
                        _ => None,
                    };
                    let lower_target = target_name
                        .and_then(|t| t.bytes().next())
                        .is_some_and(|c| c.is_ascii_lowercase());
                    if lower_target {
                        if first.is_some_and(|c| !c.is_ascii_lowercase()) {
                            self.error(unit, d.name.span, value_name);
                        }
                    } else if first.is_some_and(|c| !c.is_ascii_uppercase()) {
                        self.error(unit, d.name.span, type_name);
                    }
                }
                DeclKind::Enum | DeclKind::Struct | DeclKind::Interface { .. } => {
                    if first.is_some_and(|c| !c.is_ascii_uppercase()) {
                        self.error(unit, d.name.span, type_name);
                    }
                }
                _ => {
                    if first.is_some_and(|c| !c.is_ascii_lowercase()) {
                        self.error(unit, d.name.span, value_name);
                    }
                }
            }
            if name.contains('_') {
                self.error(
                    unit,
                    d.name.span,
                    "Cap'n Proto declaration names should use camelCase and must not contain \
                     underscores. (Code generators may convert names to the appropriate style \
                     for the target language.)",
                );
            }
            let container = matches!(
                parent,
                DeclKind::File | DeclKind::Struct | DeclKind::Interface { .. }
            );
            match &d.kind {
                DeclKind::Using { .. }
                | DeclKind::Const { .. }
                | DeclKind::Enum
                | DeclKind::Struct
                | DeclKind::Interface { .. }
                | DeclKind::Annotation { .. } => {
                    if !container {
                        self.error(
                            unit,
                            d.span,
                            "This kind of declaration doesn't belong here.",
                        );
                    }
                }
                DeclKind::Enumerant => {
                    if !matches!(parent, DeclKind::Enum) {
                        self.error(unit, d.span, "Enumerants can only appear in enums.");
                    }
                }
                DeclKind::Method { .. } => {
                    if !matches!(parent, DeclKind::Interface { .. }) {
                        self.error(unit, d.span, "Methods can only appear in interfaces.");
                    }
                }
                DeclKind::Field { .. } | DeclKind::Union | DeclKind::Group => {
                    if !matches!(parent, DeclKind::Struct | DeclKind::Union | DeclKind::Group) {
                        self.error(unit, d.span, "This declaration can only appear in structs.");
                    }
                    if name.is_empty() {
                        self.check_names(unit, &d.nested, &d.kind, names);
                    } else {
                        let mut inner = FastMap::default();
                        self.check_names(unit, &d.nested, &d.kind, &mut inner);
                    }
                }
                _ => self.error(
                    unit,
                    d.span,
                    "This kind of declaration doesn't belong here.",
                ),
            }
        }
    }

    /// Builds a struct's (or parameter list's) fields and groups. Group nodes and their source
    /// info go into `finished.aux` / `finished.source_info`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn translate_struct(
        &mut self,
        scope: &Rc<BrandScope>,
        resolver: usize,
        members: &'a [Decl],
        params: Option<&'a [MethodParam]>,
        implicit: Implicit<'_>,
        finished: &mut Finished,
        info: &mut out::SourceInfo,
    ) -> out::Struct {
        let unit = self.nodes[resolver].unit;
        let mut b = StructBuild {
            members: vec![root_member()],
            layout_fields: 0,
            layout_unions: 0,
            by_ordinal: Vec::new(),
            all: Vec::new(),
            types: HashMap::new(),
        };
        b.members[0].node_id = finished.node.id;
        let tree = match params {
            Some(params) => {
                let mut tree = Vec::new();
                for (i, p) in params.iter().enumerate() {
                    let mut m = root_member();
                    m.parent = Some(0);
                    m.code_order = i as u16;
                    m.name = &p.name.value;
                    m.kind = MKind::Field;
                    m.span = p.span;
                    m.annotations = &p.annotations;
                    m.field_type = Some(&p.type_);
                    m.default = p.default_value.as_ref();
                    m.is_param = true;
                    let t = self.compile_type(scope, &p.type_, resolver, implicit);
                    tree.push(b.add_field(m, i as u64, t));
                }
                tree
            }
            None => {
                let place = Place {
                    parent: 0,
                    in_union: false,
                    unit,
                };
                self.traverse_members(&mut b, scope, resolver, implicit, members, place, &mut 0)
            }
        };
        b.by_ordinal.sort_by_key(|e| e.0);
        let result = layout::lay_out(&tree);
        for e in &result.errors {
            // The union-ordinal error points at that union's ordinal.
            if let layout::LayoutError::UnionOrdinalTooLate { union_index } = e {
                let at = b
                    .members
                    .iter()
                    .find(|m| m.layout_union == Some(*union_index))
                    .and_then(|m| m.ordinal)
                    .map(|o| o.span);
                if let Some(span) = at {
                    self.error(
                        unit,
                        span,
                        "Union ordinal, if specified, must be greater than no more than one of \
                         its member ordinals (i.e. there can only be one field retroactively \
                         unionized).",
                    );
                    continue;
                }
            }
            let message = match e {
                layout::LayoutError::UnionOrdinalTooLate { .. } => {
                    "Union ordinal, if specified, must be greater than no more than one of its \
                     member ordinals (i.e. there can only be one field retroactively unionized)."
                }
                layout::LayoutError::Issue344 { .. } => {
                    "This schema triggers a bug in older versions of Cap'n Proto that affects \
                     the layout of unions; see https://github.com/capnproto/capnproto/issues/344"
                }
                layout::LayoutError::TooLarge => "Struct is too large.",
                layout::LayoutError::TooDeep => "Groups and unions are nested too deeply.",
                _ => "Struct layout failed.",
            };
            let span = finished_span(self.nodes[resolver].decl);
            self.error(unit, span, message);
        }

        // Members in ordinal order: each one reached gets its place in its parent's field list.
        let mut dup = OrdinalCheck::default();
        let order = b.by_ordinal.clone();
        let mut defaults: Vec<usize> = Vec::new();
        for (_, mi) in order {
            if let Some(o) = b.members[mi].ordinal {
                dup.check(self, unit, o);
            }
            self.touch(&mut b, mi);
            if b.members[mi].kind == MKind::Field {
                let t = b.types.get(&mi).cloned().flatten();
                let offset = match t.as_ref().map(slot_size) {
                    Some(layout::SlotSize::Void) | None => 0,
                    _ => result
                        .field_offsets
                        .get(b.members[mi].layout_field)
                        .copied()
                        .unwrap_or(0),
                };
                let (p, index) = (
                    b.members[mi].parent.unwrap_or(0),
                    b.members[mi].index.unwrap_or(0),
                );
                let ordinal = b.members[mi].ordinal.map(|o| o.value as u16);
                let is_param = b.members[mi].is_param;
                let field = &mut b.members[p].fields[index];
                field.ordinal = if is_param {
                    Some(index as u16)
                } else {
                    ordinal
                };
                field.kind = out::FieldKind::Slot {
                    offset,
                    type_: t.unwrap_or_default(),
                    default_value: out::Value::Void,
                    had_explicit_default: false,
                };
                defaults.push(mi);
            } else if let Some(o) = b.members[mi].ordinal {
                let (p, index) = (
                    b.members[mi].parent.unwrap_or(0),
                    b.members[mi].index.unwrap_or(0),
                );
                if b.members[mi].kind == MKind::Union && b.members[mi].index.is_some() && p != mi {
                    b.members[p].fields[index].ordinal = Some(o.value as u16);
                }
            }
        }
        // Params are numbered by position.
        if params.is_some() {
            for f in &mut b.members[0].fields {
                f.ordinal = Some(f.code_order);
            }
        }

        // Groups and unions get their IDs and discriminants, parents before children.
        let mut groups: Vec<(usize, out::Node, out::SourceInfo)> = Vec::new();
        let order: Vec<usize> = std::iter::once(0).chain(b.all.iter().copied()).collect();
        for &mi in &order {
            if !matches!(
                b.members[mi].kind,
                MKind::Root | MKind::Union | MKind::Group
            ) {
                continue;
            }
            if mi != 0 {
                let Some(p) = b.members[mi].parent else {
                    continue;
                };
                let Some(index) = b.members[mi].index else {
                    continue;
                };
                let parent_id = b.members[p].node_id;
                let id = ids::group_id(parent_id, index as u16);
                b.members[mi].node_id = id;
                b.members[p].fields[index].kind = out::FieldKind::Group { type_id: id };
            }
        }
        for &mi in &order {
            if !matches!(b.members[mi].kind, MKind::Union | MKind::Group)
                || b.members[mi].index.is_none()
            {
                continue;
            }
            let parent_display = {
                // The group's display name extends its parent's.
                let mut chain = Vec::new();
                let mut cur = mi;
                while let Some(p) = b.members[cur].parent {
                    chain.push(b.members[cur].name);
                    cur = p;
                }
                chain.reverse();
                format!("{}.{}", finished.node.display_name, chain.join("."))
            };
            let name_len = b.members[mi].name.len() as u32;
            let node = out::Node {
                id: b.members[mi].node_id,
                display_name_prefix_length: parent_display.len() as u32 - name_len,
                display_name: parent_display,
                scope_id: b.members[b.members[mi].parent.unwrap_or(0)].node_id,
                is_generic: finished.node.is_generic,
                is_aux: true,
                ..Default::default()
            };
            groups.push((
                mi,
                node,
                out::SourceInfo {
                    id: b.members[mi].node_id,
                    doc_comment: b.members[mi].doc.map(str::to_string),
                    members: Vec::new(),
                },
            ));
        }

        let top = |m: &MInfo<'_>| -> (u16, u32) {
            match m.layout_union {
                Some(u) => (
                    m.union_discriminants,
                    result.discriminant_offsets.get(u).copied().unwrap_or(0),
                ),
                None => (0, 0),
            }
        };

        // Defaults in two passes, as the reference compiler does: values of data fields first;
        // then, with the struct's layout published (a struct value of this very type, or of a
        // type that refers back to it, needs it), pointer values.
        let (pointers, data): (Vec<usize>, Vec<usize>) = defaults.into_iter().partition(|&mi| {
            b.types
                .get(&mi)
                .and_then(|t| t.as_ref())
                .is_some_and(is_pointer)
        });
        for pass in [data, pointers] {
            for mi in pass {
                let (p, index) = (
                    b.members[mi].parent.unwrap_or(0),
                    b.members[mi].index.unwrap_or(0),
                );
                let default = b.members[mi].default;
                let is_param = b.members[mi].is_param;
                let out::FieldKind::Slot { type_, .. } = &b.members[p].fields[index].kind else {
                    continue;
                };
                let type_ = type_.clone();
                let (value, explicit) = match default {
                    None => (default_default(&type_), false),
                    Some(e) => {
                        let is_null =
                            matches!(&e.kind, ExprKind::RelativeName(n) if n.value == "null");
                        if is_param && is_null {
                            if !is_pointer(&type_) {
                                self.error(
                                    unit,
                                    e.span,
                                    "Only pointer parameters can declare their default as 'null'.",
                                );
                            }
                            (default_default(&type_), true)
                        } else {
                            (self.compile_value_to_out(scope, e, &type_, resolver), true)
                        }
                    }
                };
                if let out::FieldKind::Slot {
                    default_value,
                    had_explicit_default,
                    ..
                } = &mut b.members[p].fields[index].kind
                {
                    *default_value = value;
                    *had_explicit_default = explicit;
                }
            }

            if params.is_none() {
                let (count, offset) = top(&b.members[0]);
                let mut node = finished.node.clone();
                node.kind = out::NodeKind::Struct(out::Struct {
                    data_words: result.data_words,
                    pointers: result.pointers,
                    is_group: false,
                    discriminant_count: count,
                    discriminant_offset: offset,
                    fields: b.members[0].fields.clone(),
                });
                let aux = groups
                    .iter()
                    .map(|(mi, g, _)| {
                        let (count, offset) = top(&b.members[*mi]);
                        let mut g = g.clone();
                        g.kind = out::NodeKind::Struct(out::Struct {
                            data_words: result.data_words,
                            pointers: result.pointers,
                            is_group: true,
                            discriminant_count: count,
                            discriminant_offset: offset,
                            fields: b.members[*mi].fields.clone(),
                        });
                        g
                    })
                    .collect();
                self.publish_bootstrap(resolver, node, aux);
            }
        }

        // Annotations on members.
        for &mi in &b.all {
            let (Some(p), Some(index)) = (b.members[mi].parent, b.members[mi].index) else {
                continue;
            };
            let flag = if b.members[mi].is_param {
                Tgt::Param
            } else {
                match b.members[mi].kind {
                    MKind::Union => Tgt::Union,
                    MKind::Group => Tgt::Group,
                    _ => Tgt::Field,
                }
            };
            let anns = self.compile_annotations(
                scope,
                resolver,
                b.members[mi].annotations.iter(),
                flag,
                b.members[p].node_id,
                Site::Member(index),
            );
            b.members[p].fields[index].annotations = anns;
        }

        for (mi, mut node, mut si) in groups {
            let (count, offset) = top(&b.members[mi]);
            node.kind = out::NodeKind::Struct(out::Struct {
                data_words: result.data_words,
                pointers: result.pointers,
                is_group: true,
                discriminant_count: count,
                discriminant_offset: offset,
                fields: std::mem::take(&mut b.members[mi].fields),
            });
            si.members = std::mem::take(&mut b.members[mi].field_docs);
            finished.aux.push(node);
            finished.source_info.push(si);
        }
        let (count, offset) = top(&b.members[0]);
        info.members = std::mem::take(&mut b.members[0].field_docs);
        out::Struct {
            data_words: result.data_words,
            pointers: result.pointers,
            is_group: false,
            discriminant_count: count,
            discriminant_offset: offset,
            fields: std::mem::take(&mut b.members[0].fields),
        }
    }

    /// Gives member `mi` its place in its parent's field list (and its parent, first, if the
    /// parent has none yet), as the reference compiler does when it first reaches a member.
    pub(super) fn touch(&mut self, b: &mut StructBuild<'a>, mi: usize) {
        if b.members[mi].index.is_some() {
            return;
        }
        let Some(p) = b.members[mi].parent else {
            return;
        };
        if b.members[p].fields.is_empty() && b.members[p].parent.is_some() {
            self.touch(b, p);
        }
        let index = b.members[p].fields.len();
        b.members[mi].index = Some(index);
        let discriminant_value = if b.members[mi].is_in_union {
            let d = b.members[p].union_discriminants;
            b.members[p].union_discriminants += 1;
            d
        } else {
            out::NO_DISCRIMINANT
        };
        let m = &b.members[mi];
        let field = out::Field {
            name: m.name.to_string(),
            code_order: m.code_order,
            annotations: Vec::new(),
            discriminant_value,
            ordinal: None,
            kind: out::FieldKind::Group { type_id: 0 },
        };
        let doc = m.doc.map(str::to_string);
        b.members[p].fields.push(field);
        b.members[p].field_docs.push(doc);
    }

    /// The members of a struct, group or union, in order: fields, unions and groups become
    /// members under `place.parent`, numbered in code order from `code`, and the layout tree
    /// they make is returned. An unnamed union shares its parent's code order.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn traverse_members(
        &mut self,
        b: &mut StructBuild<'a>,
        scope: &Rc<BrandScope>,
        resolver: usize,
        implicit: Implicit<'_>,
        members: &'a [Decl],
        place: Place,
        code: &mut u16,
    ) -> Vec<layout::LayoutMember> {
        let Place {
            parent,
            in_union,
            unit,
        } = place;
        let mut tree = Vec::new();
        for d in members {
            match &d.kind {
                DeclKind::Field { type_, .. } => {
                    let m = new_member(parent, *code, d, MKind::Field, in_union);
                    *code += 1;
                    let t = self.compile_type(scope, type_, resolver, implicit);
                    let ordinal = m.ordinal.map(|o| o.value).unwrap_or(0);
                    tree.push(b.add_field(m, ordinal, t));
                }
                DeclKind::Union => {
                    let unnamed = d.name.value.is_empty();
                    if unnamed && in_union {
                        self.error(unit, d.span, "Unions cannot contain unnamed unions.");
                        continue;
                    }
                    let union_index = b.layout_unions;
                    b.layout_unions += 1;
                    let owner = if unnamed {
                        parent
                    } else {
                        let m = new_member(parent, *code, d, MKind::Union, in_union);
                        *code += 1;
                        let mi = b.add(m);
                        b.all.push(mi);
                        mi
                    };
                    b.members[owner].layout_union = Some(union_index);
                    if d.nested.iter().filter(|n| is_member(n)).count() < 2 {
                        self.error(unit, d.span, "Union must have at least two members.");
                    }
                    let mut sub_code = 0u16;
                    let inner_place = Place {
                        parent: owner,
                        in_union: true,
                        unit,
                    };
                    let inner_code = if unnamed { &mut *code } else { &mut sub_code };
                    let inner = self.traverse_members(
                        b,
                        scope,
                        resolver,
                        implicit,
                        &d.nested,
                        inner_place,
                        inner_code,
                    );
                    let ordinal = match d.id {
                        DeclId::Ordinal(o) => {
                            b.by_ordinal.push((o.value, owner));
                            Some(o.value.min(u16::MAX as u64) as u16)
                        }
                        _ => None,
                    };
                    tree.push(layout::LayoutMember::Union {
                        ordinal,
                        members: inner,
                    });
                }
                DeclKind::Group => {
                    let m = new_member(parent, *code, d, MKind::Group, in_union);
                    *code += 1;
                    let mi = b.add(m);
                    b.all.push(mi);
                    if d.nested.iter().all(|n| !is_member(n)) {
                        self.error(unit, d.span, "Group must have at least one member.");
                    }
                    // A group numbers its members from zero, in its own code order.
                    let place = Place {
                        parent: mi,
                        in_union: false,
                        unit,
                    };
                    let inner = self
                        .traverse_members(b, scope, resolver, implicit, &d.nested, place, &mut 0);
                    tree.push(layout::LayoutMember::Group { members: inner });
                }
                _ => {}
            }
        }
        tree
    }

    pub(super) fn translate_interface(
        &mut self,
        scope: &Rc<BrandScope>,
        idx: usize,
        superclasses: &'a [Expr],
        finished: &mut Finished,
        info: &mut out::SourceInfo,
    ) {
        let unit = self.nodes[idx].unit;
        let decl = self.nodes[idx].decl;
        let mut supers = Vec::new();
        for s in superclasses {
            let Some(d) = self.compile_decl_expr(scope, s, idx, NO_IMPLICIT) else {
                supers.push((0, out::Brand::default()));
                continue;
            };
            match &d {
                BDecl::Decl {
                    decl: rd, brand, ..
                } => {
                    let is_interface = matches!(rd.target, Target::Node(i) if self.nodes[i].kind == Kind::Interface);
                    if is_interface {
                        let b = self.compile_brand(brand, idx);
                        supers.push((rd.id, b));
                    } else {
                        self.error(
                            unit,
                            s.span,
                            format!("'{}' is not an interface.", expr_string(s)),
                        );
                        supers.push((0, out::Brand::default()));
                    }
                }
                BDecl::Param { .. } => {
                    self.error(
                        unit,
                        s.span,
                        format!(
                            "'{}' is an unbound generic parameter. Currently we don't support \
                             extending these.",
                            expr_string(s)
                        ),
                    );
                    supers.push((0, out::Brand::default()));
                }
            }
        }
        let mut methods: Vec<(u64, u16, &'a Decl)> = decl
            .nested
            .iter()
            .filter(|d| matches!(d.kind, DeclKind::Method { .. }))
            .enumerate()
            .map(|(code, d)| {
                let ordinal = match d.id {
                    DeclId::Ordinal(o) => o.value,
                    _ => u64::MAX,
                };
                (ordinal, code as u16, d)
            })
            .collect();
        methods.sort_by_key(|m| m.0);
        let mut dup = OrdinalCheck::default();
        let mut list = Vec::new();
        for (ordinal, code, d) in methods {
            if let DeclId::Ordinal(o) = d.id {
                dup.check(self, unit, o);
            }
            let ordinal = ordinal.min(u16::MAX as u64) as u16;
            info.members.push(d.doc_comment.clone());
            let DeclKind::Method { params, results } = &d.kind else {
                continue;
            };
            if matches!(params.kind, ParamListKind::Stream) {
                self.error(
                    unit,
                    params.span,
                    "'stream' can only appear after '->', not before.",
                );
            }
            let (param_struct_type, param_brand) =
                self.compile_param_list(scope, idx, d, ordinal, false, Some(params), finished);
            let (result_struct_type, result_brand) =
                self.compile_param_list(scope, idx, d, ordinal, true, results.as_ref(), finished);
            let annotations = self.compile_annotations(
                scope,
                idx,
                d.annotations.iter(),
                Tgt::Method,
                finished.node.id,
                Site::Member(list.len()),
            );
            list.push(out::Method {
                name: d.name.value.clone(),
                code_order: code,
                implicit_parameters: d.parameters.iter().map(|p| p.value.clone()).collect(),
                param_struct_type,
                param_brand,
                result_struct_type,
                result_brand,
                annotations,
            });
        }
        finished.node.kind = out::NodeKind::Interface {
            methods: list,
            superclasses: supers,
        };
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn compile_param_list(
        &mut self,
        scope: &Rc<BrandScope>,
        idx: usize,
        method: &'a Decl,
        ordinal: u16,
        is_results: bool,
        list: Option<&'a ParamList>,
        finished: &mut Finished,
    ) -> (u64, out::Brand) {
        let unit = self.nodes[idx].unit;
        let implicit_names = &method.parameters;
        const EMPTY: &[MethodParam] = &[];
        let named: &'a [MethodParam] = match list.map(|l| &l.kind) {
            None => EMPTY,
            Some(ParamListKind::Named(ps)) => ps,
            Some(ParamListKind::Type(e)) => {
                let implicit = Implicit {
                    scope_id: 0,
                    names: implicit_names,
                };
                let Some(d) = self.compile_decl_expr(scope, e, idx, implicit) else {
                    return (0, out::Brand::default());
                };
                return match &d {
                    BDecl::Decl { decl, brand, .. } => {
                        if matches!(decl.target, Target::Node(i) if self.nodes[i].kind == Kind::Struct)
                        {
                            let b = self.compile_brand(brand, idx);
                            (decl.id, b)
                        } else {
                            self.error(
                                unit,
                                e.span,
                                format!("'{}' is not a struct type.", expr_string(e)),
                            );
                            (0, out::Brand::default())
                        }
                    }
                    BDecl::Param { .. } => {
                        self.error(
                            unit,
                            e.span,
                            "Cannot use generic parameter as whole input or output of a method. \
                             Instead, use a parameter/result list containing a field with this type.",
                        );
                        (0, out::Brand::default())
                    }
                };
            }
            Some(ParamListKind::Stream) => {
                let span = list.map(|l| l.span).unwrap_or_default();
                let stream = self
                    .p
                    .imports
                    .get(&(unit, "/capnp/stream.capnp".to_string()))
                    .copied();
                match stream {
                    Some(u) => {
                        let root = self.file_root(u);
                        if self.resolve_member(root, "StreamResult").is_none() {
                            self.error(
                                unit,
                                span,
                                "The version of '/capnp/stream.capnp' found in your import path \
                                 does not appear to be the official one; it is missing the \
                                 declaration of StreamResult.",
                            );
                        }
                    }
                    None => self.error(
                        unit,
                        span,
                        "A method declaration uses streaming, but '/capnp/stream.capnp' is not \
                         found in the import path. This is a standard file that should always \
                         be installed with the Cap'n Proto compiler.",
                    ),
                }
                return (STREAM_RESULT_ID, out::Brand::default());
            }
        };
        let type_name = format!(
            "{}{}",
            method.name.value,
            if is_results { "$Results" } else { "$Params" }
        );
        let id = ids::method_params_id(finished.node.id, ordinal, is_results);
        let display_name = format!("{}.{}", finished.node.display_name, type_name);
        let mut node = out::Node {
            id,
            display_name_prefix_length: (display_name.len() - type_name.len()) as u32,
            display_name,
            scope_id: 0,
            is_generic: finished.node.is_generic || !implicit_names.is_empty(),
            is_aux: true,
            parameters: implicit_names.iter().map(|p| p.value.clone()).collect(),
            ..Default::default()
        };
        let mut sub = Finished {
            node: node.clone(),
            aux: Vec::new(),
            source_info: Vec::new(),
        };
        // The reference compiler never sets the ID of a parameter struct's source info, so all of
        // them share ID 0 (and the request keeps one).
        let mut si = out::SourceInfo {
            id: 0,
            doc_comment: None,
            members: Vec::new(),
        };
        let implicit = Implicit {
            scope_id: id,
            names: implicit_names,
        };
        let s = self.translate_struct(scope, idx, &[], Some(named), implicit, &mut sub, &mut si);
        node.kind = out::NodeKind::Struct(s);
        finished.aux.push(node);
        finished.aux.extend(sub.aux);
        finished.source_info.push(si);
        finished.source_info.extend(sub.source_info);

        // The reference compiler means to bind the struct's parameters to the method's implicit
        // ones here, but drops the result, so the brand never carries them; so do we.
        let pushed = Self::push_scope(scope, id, implicit_names.len() as u16);
        let brand = self.compile_brand(&pushed, idx);
        (id, brand)
    }
}

/// `StreamResult` of `/capnp/stream.capnp`: the result type of every `-> stream` method.
pub(super) const STREAM_RESULT_ID: u64 = 0x995f_9a33_77c0_b16e;

pub(super) fn is_member(d: &Decl) -> bool {
    matches!(
        d.kind,
        DeclKind::Field { .. } | DeclKind::Union | DeclKind::Group
    )
}

pub(super) fn finished_span(decl: &Decl) -> Span {
    node_span(decl)
}

pub(super) fn is_generic(scope: &Rc<BrandScope>) -> bool {
    let mut cur = Some(scope);
    while let Some(s) = cur {
        if s.leaf_params > 0 {
            return true;
        }
        cur = s.parent.as_ref();
    }
    false
}

pub(super) fn prefix_length(display_name: &str) -> u32 {
    let dot = display_name.rfind('.').map(|i| i + 1).unwrap_or(0);
    let colon = display_name.rfind(':').map(|i| i + 1).unwrap_or(0);
    dot.max(colon) as u32
}

pub(super) fn is_pointer(t: &out::Type) -> bool {
    matches!(
        t,
        out::Type::Text
            | out::Type::Data
            | out::Type::List(_)
            | out::Type::Struct(..)
            | out::Type::Interface(..)
            | out::Type::AnyPointer(_)
    )
}

pub(super) fn default_default(t: &out::Type) -> out::Value {
    use out::Type as T;
    use out::Value as V;
    match t {
        T::Void => V::Void,
        T::Bool => V::Bool(false),
        T::Int8 => V::Int8(0),
        T::Int16 => V::Int16(0),
        T::Int32 => V::Int32(0),
        T::Int64 => V::Int64(0),
        T::UInt8 => V::UInt8(0),
        T::UInt16 => V::UInt16(0),
        T::UInt32 => V::UInt32(0),
        T::UInt64 => V::UInt64(0),
        T::Float32 => V::Float32(0.0),
        T::Float64 => V::Float64(0.0),
        T::Enum(..) => V::Enum(0),
        T::Interface(..) => V::Interface,
        T::Text => V::Text(None),
        T::Data => V::Data(None),
        T::Struct(..) => V::Struct(None),
        T::List(_) => V::List(None),
        T::AnyPointer(_) => V::AnyPointer(None),
    }
}

/// Which `targets…` flag an annotation needs to be applied here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tgt {
    File,
    Const,
    Enum,
    Enumerant,
    Struct,
    Field,
    Union,
    Group,
    Interface,
    Method,
    Param,
    Annotation,
}

impl Tgt {
    pub(super) fn allowed(self, t: &Targets) -> bool {
        match self {
            Tgt::File => t.file,
            Tgt::Const => t.const_,
            Tgt::Enum => t.enum_,
            Tgt::Enumerant => t.enumerant,
            Tgt::Struct => t.struct_,
            Tgt::Field => t.field,
            Tgt::Union => t.union_,
            Tgt::Group => t.group,
            Tgt::Interface => t.interface,
            Tgt::Method => t.method,
            Tgt::Param => t.param,
            Tgt::Annotation => t.annotation,
        }
    }
}

/// Checks that ordinals, visited in order, run 0, 1, 2, … with no gaps or repeats.
#[derive(Default)]
pub(super) struct OrdinalCheck {
    pub(super) expected: u64,
    pub(super) last: Option<Located<u64>>,
}

impl OrdinalCheck {
    pub(super) fn check(&mut self, t: &mut Translator<'_>, unit: usize, o: Located<u64>) {
        if o.value < self.expected {
            t.error(unit, o.span, "Duplicate ordinal number.");
            if let Some(last) = self.last.take() {
                t.error(
                    unit,
                    last.span,
                    format!("Ordinal @{} originally used here.", last.value),
                );
            }
        } else if o.value > self.expected {
            t.error(
                unit,
                o.span,
                format!(
                    "Skipped ordinal @{}.  Ordinals must be sequential with no holes.",
                    self.expected
                ),
            );
            self.expected = o.value.saturating_add(1);
        } else {
            self.expected = self.expected.saturating_add(1);
            self.last = Some(o);
        }
    }
}
