//! Checks a Rust type against a schema node, field by field, as the runtime will use it.
//!
//! Names are matched exactly as `serde_capnp` matches them when it writes and reads
//! (`StructNode::field_by_rust_name`, then `names_match`), so a type this accepts is a type the
//! runtime accepts, and the reverse. What the macro cannot see (another type's fields, a
//! `serialize_with` function) is handed on: to a const assertion on the other type's `NODE_ID`
//! when it is bound, and to the check the handle runs when it is first built.

use quote::ToTokens;
use serde_capnp_schema::{
    names_match, Brand, Field, FieldSlot, NodeIndex, NodeKind, StructNode, Type,
};
use syn::spanned::Spanned;

use super::ast::{Body, Container, Style, Variant};
use super::ctxt::Ctxt;
use super::rust_ty::{classify, RustTy};
use crate::schema::Loaded;

/// The Rust field name that stands for a struct's unnamed union, as the runtime spells it.
pub const UNION_FIELD: &str = "which";

/// A field of another type that must be bound to a given node, checked by the compiler.
pub struct NodeAssert<'a> {
    pub ty: &'a syn::Type,
    pub id: u64,
    pub message: String,
}

/// A field the handle checks when it is first built, by reading the shape its `Deserialize`
/// asks for: `key` is the name serde reads it by; `field` the schema field (`None`: the
/// unnamed union).
pub struct Deferred {
    pub key: String,
    pub field: Option<u16>,
}

pub struct Checker<'a> {
    cx: &'a Ctxt,
    schema: &'a Loaded,
    params: Vec<String>,
    /// Whether the bound type has generic parameters of its own (const assertions cannot name
    /// them).
    generic: bool,
    pub asserts: Vec<NodeAssert<'a>>,
    pub deferred: Vec<Deferred>,
}

/// Where a value sits, which decides whether `Option` has a meaning there.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pos {
    /// A data-section field or a data list element: always holds a value.
    Data,
    /// A pointer field or a pointer list element: may be null.
    Pointer,
    /// An element of a list of data values.
    Element,
}

/// A reason a Rust type does not fit a schema type.
pub struct Misfit(pub String);

impl<'a> Checker<'a> {
    pub fn new(cx: &'a Ctxt, schema: &'a Loaded, input: &'a syn::DeriveInput) -> Self {
        Checker {
            cx,
            schema,
            params: input
                .generics
                .type_params()
                .map(|p| p.ident.to_string())
                .collect(),
            generic: input
                .generics
                .params
                .iter()
                .any(|p| !matches!(p, syn::GenericParam::Lifetime(_))),
            asserts: Vec::new(),
            deferred: Vec::new(),
        }
    }

    fn loc(&self, node: NodeIndex, member: Option<&str>) -> String {
        self.schema
            .location(node, member)
            .unwrap_or_else(|| self.schema.pool.node(node).display_name.clone())
    }

    fn short(&self, node: NodeIndex) -> &str {
        let n = self.schema.pool.node(node);
        // A group's name is its path inside its struct, which says more than its short name.
        n.display_name
            .split_once(':')
            .map_or(n.short_name(), |(_, p)| p)
    }

    /// Checks the whole container against `node`.
    pub fn container(&mut self, c: &'a Container<'a>, node: NodeIndex, brand: Option<&Brand>) {
        let pool = &self.schema.pool;
        if let Some((span, what)) = c.serde.proxy {
            // The type is written as another one; that one's own binding checks it.
            let _ = (span, what);
            return;
        }
        match (&pool.node(node).kind, &c.body) {
            (NodeKind::Struct(s), Body::Struct(Style::Struct, fields)) if !c.serde.transparent => {
                self.fields(fields, node, s, brand)
            }
            (NodeKind::Struct(_), Body::Struct(_, fields))
                if c.serde.transparent || fields.len() == 1 =>
            {
                // A newtype (or a transparent struct) is written as its one field.
                let Some(inner) = fields
                    .iter()
                    .find(|f| !(f.serde.skip_ser && f.serde.skip_de))
                else {
                    return;
                };
                let rust = classify(inner.ty, &self.params);
                let ty = Type::Struct(node, brand.map(|b| std::sync::Arc::new(b.clone())));
                if let Err(m) = self.value(&rust, &ty, Pos::Pointer) {
                    self.cx.error_spanned_by(
                        inner.ty,
                        format!(
                            "`{}` is written as its one field, which must then fit `{}` ({}): {}",
                            c.ident,
                            self.short(node),
                            self.loc(node, None),
                            m.0
                        ),
                    );
                }
                if contains_opaque(&rust) {
                    self.deferred.push(Deferred {
                        key: String::new(),
                        field: None,
                    });
                }
            }
            (NodeKind::Struct(s), Body::Enum(variants)) => {
                if let Some(span) = c.serde.representation {
                    self.cx.error_at(
                        span,
                        "a union is written as serde's default (externally tagged) enum: `tag`, `content` and `untagged` change that, and the schema's union cannot hold the result",
                    );
                    return;
                }
                if !s.has_union() {
                    self.cx.error_spanned_by(
                        c.ident,
                        format!(
                            "`{}` ({}) has no unnamed union for the enum `{}` to stand for: an enum binds to a schema enum, a named union (`Struct.unionName`) or a struct's unnamed union",
                            self.short(node),
                            self.loc(node, None),
                            c.ident
                        ),
                    );
                    return;
                }
                self.union(c.ident, variants, node, s, brand);
            }
            (NodeKind::Struct(_), Body::Struct(style, _)) => {
                let what = if *style == Style::Unit {
                    "a unit struct has no fields to hold"
                } else {
                    "a tuple struct is written as a list, not a struct"
                };
                self.cx.error_spanned_by(
                    c.ident,
                    format!(
                        "`{}` cannot stand for the struct `{}` ({}): {what}; use named fields",
                        c.ident,
                        self.short(node),
                        self.loc(node, None)
                    ),
                );
            }
            (NodeKind::Enum(_), Body::Enum(variants)) => self.enumerants(c.ident, variants, node),
            (NodeKind::Enum(_), Body::Struct(..)) => self.cx.error_spanned_by(
                c.ident,
                format!(
                    "`{}` ({}) is an enum: bind a Rust enum with one unit variant per enumerant",
                    self.short(node),
                    self.loc(node, None)
                ),
            ),
            (kind, _) => {
                let what = match kind {
                    NodeKind::File => "a file",
                    NodeKind::Interface(_) => "an interface",
                    NodeKind::Const(_) => "a constant",
                    NodeKind::Annotation(_) => "an annotation",
                    _ => "not a struct",
                };
                self.cx.error_spanned_by(
                    c.ident,
                    format!(
                        "`{}` is {what}: `Capnp` binds structs, groups, unions and enums",
                        pool.node(node).display_name
                    ),
                );
            }
        }
    }

    /// The fields of a Rust struct (or struct variant) against a struct or group.
    fn fields(
        &mut self,
        fields: &'a [super::ast::Field<'a>],
        node: NodeIndex,
        s: &StructNode,
        brand: Option<&Brand>,
    ) {
        // Which Rust field names each schema field, to find two naming one.
        let mut seen: Vec<(Option<u16>, &syn::Field, bool)> = Vec::new();
        for f in fields {
            if f.serde.skip_ser && f.serde.skip_de {
                continue;
            }
            let rust_name = f
                .original
                .ident
                .as_ref()
                .map_or_else(|| f.ser_name.clone(), super::ast::unraw);
            if f.serde.flatten {
                // A flattened field's keys are the inner type's: its variants name members of
                // the unnamed union, or its fields name fields of this struct. Only a bound
                // inner type can be checked, through its node.
                let rust = classify(f.ty, &self.params);
                if let RustTy::Opaque { ty, generic: false } = rust {
                    if s.has_union() {
                        let message = format!(
                            "`{rust_name}` is flattened into `{}`; use an enum bound to `{}` itself (`#[capnp(name = \"{}\")]`), whose variants are its union's members",
                            self.short(node), self.short(node), self.short(node)
                        );
                        self.assert(ty, node, message);
                    }
                }
                continue;
            }
            let mut targets: Vec<Option<u16>> = Vec::new();
            for (name, on) in [
                (&f.ser_name, !f.serde.skip_ser),
                (&f.de_name, !f.serde.skip_de),
            ] {
                if !on {
                    continue;
                }
                match self.resolve(s, name) {
                    Some(t) => {
                        if !targets.contains(&t) {
                            targets.push(t)
                        }
                    }
                    None => {
                        let renamed = if *name != rust_name {
                            format!(" (serde's name for `{rust_name}`)")
                        } else {
                            String::new()
                        };
                        self.cx.error_spanned_by(
                            field_name_tokens(f.original),
                            format!(
                                "`{name}`{renamed} is not a field of `{}` ({}); its fields are {}{}",
                                self.short(node),
                                self.loc(node, None),
                                list_fields(s),
                                if s.has_union() {
                                    ", and `which` for its unnamed union"
                                } else {
                                    ""
                                }
                            ),
                        );
                    }
                }
            }
            if !f.serde.skip_de {
                if let Some(Some(primary)) = self.resolve(s, &f.de_name).map(Some) {
                    for alias in &f.serde.aliases {
                        if let Some(other) = self.resolve(s, &alias.value()) {
                            if other != primary {
                                self.cx.error_spanned_by(
                                    alias,
                                    format!(
                                        "the alias `{}` names the schema's field {}, not the field {} that `{rust_name}` stands for: a message always carries both, so reading would be ambiguous",
                                        alias.value(),
                                        self.describe_target(s, other),
                                        self.describe_target(s, primary)
                                    ),
                                );
                            }
                        }
                    }
                }
            }
            for &t in &targets {
                if let Some((_, other, _)) = seen.iter().find(|(x, _, _)| *x == t) {
                    let other_name = other
                        .ident
                        .as_ref()
                        .map_or_else(String::new, super::ast::unraw);
                    self.cx.error_spanned_by(
                        field_name_tokens(f.original),
                        format!(
                            "`{rust_name}` and `{other_name}` both stand for the schema's field {}",
                            self.describe_target(s, t)
                        ),
                    );
                }
                seen.push((t, f.original, true));
            }
            if f.serde.custom.is_some() {
                // A function decides the shape: the handle checks it.
                if let Some(&t) = targets.first() {
                    self.deferred.push(Deferred {
                        key: f.de_name.clone(),
                        field: t,
                    });
                }
                continue;
            }
            let rust = if f.serde.bytes {
                match classify(f.ty, &self.params) {
                    RustTy::Option(_) => RustTy::Option(Box::new(RustTy::Bytes)),
                    _ => RustTy::Bytes,
                }
            } else {
                classify(f.ty, &self.params)
            };
            for &t in &targets {
                match t {
                    Some(index) => self.field(&rust, f, node, s, index, brand),
                    None => self.which(&rust, f, node),
                }
                if contains_opaque(&rust) && !f.serde.skip_de {
                    self.deferred.push(Deferred {
                        key: f.de_name.clone(),
                        field: t,
                    });
                }
            }
        }
    }

    /// The schema field a Rust name stands for: `Some(index)`, `None` for the unnamed union
    /// (`which`); the outer `None` when it stands for nothing.
    fn resolve(&self, s: &StructNode, name: &str) -> Option<Option<u16>> {
        if let Some(i) = find_field(s, name) {
            return Some(Some(i));
        }
        if s.has_union() && name == UNION_FIELD {
            return Some(None);
        }
        None
    }

    fn describe_target(&self, s: &StructNode, t: Option<u16>) -> String {
        match t {
            Some(i) => format!("`{}`", s.fields[i as usize].name),
            None => "the unnamed union (`which`)".into(),
        }
    }

    /// A Rust field against the schema field `index` of `node`.
    fn field(
        &mut self,
        rust: &RustTy<'a>,
        f: &super::ast::Field<'a>,
        node: NodeIndex,
        s: &StructNode,
        index: u16,
        brand: Option<&Brand>,
    ) {
        let field = &s.fields[index as usize];
        if let Err(m) = self.slot(rust, field, brand) {
            self.cx.error_spanned_by(
                f.ty,
                format!(
                    "`{}` does not fit the schema's field `{}` ({}), which is {}: {}",
                    f.original
                        .ident
                        .as_ref()
                        .map_or_else(|| f.ser_name.clone(), super::ast::unraw),
                    field.name,
                    self.loc(node, Some(&field.name)),
                    self.slot_type_name(field, brand),
                    m.0
                ),
            );
        }
    }

    fn slot_type_name(&self, field: &Field, brand: Option<&Brand>) -> String {
        match &field.slot {
            FieldSlot::Group { node } => {
                let n = self.schema.pool.node(*node).as_struct();
                if n.is_some_and(|g| g.has_union() && g.plain_fields.is_empty()) {
                    "a union".into()
                } else {
                    "a group".into()
                }
            }
            slot => slot
                .ty()
                .map(|t| format!("`{}`", t.resolve(brand).describe(&self.schema.pool)))
                .unwrap_or_default(),
        }
    }

    /// The field named `which`, standing for the unnamed union of `node`.
    fn which(&mut self, rust: &RustTy<'a>, f: &super::ast::Field<'a>, node: NodeIndex) {
        match rust {
            RustTy::Opaque { ty, generic: false } => self.assert(
                ty,
                node,
                format!(
                    "`which` stands for the unnamed union of `{}`; use an enum bound to it (`#[capnp(name = \"{}\")]`)",
                    self.short(node),
                    self.short(node)
                ),
            ),
            RustTy::Opaque { .. } => {}
            other => self.cx.error_spanned_by(
                f.ty,
                format!(
                    "`which` stands for the unnamed union of `{}` ({}): its type must be an enum with one variant per member, not {}",
                    self.short(node),
                    self.loc(node, None),
                    other.describe()
                ),
            ),
        }
    }

    pub fn slot(
        &mut self,
        rust: &RustTy<'a>,
        field: &Field,
        brand: Option<&Brand>,
    ) -> Result<(), Misfit> {
        match &field.slot {
            FieldSlot::Void => self.value(rust, &Type::Void, Pos::Data),
            FieldSlot::Data {
                ty, default_bits, ..
            } => self
                .value(rust, ty, Pos::Data)
                .map_err(|m| self.explain_default(m, ty, *default_bits)),
            FieldSlot::Pointer { ty, .. } => self.value(rust, &ty.resolve(brand), Pos::Pointer),
            FieldSlot::Group { node: group } => self.group(rust, *group),
        }
    }

    /// Fills in the default a data field reads as, for the `Option` message.
    fn explain_default(&self, m: Misfit, ty: &Type, bits: u64) -> Misfit {
        Misfit(m.0.replace("{default}", &self.format_default(ty, bits)))
    }

    fn format_default(&self, ty: &Type, bits: u64) -> String {
        match ty {
            Type::Bool => (bits != 0).to_string(),
            Type::Int8 => (bits as i8).to_string(),
            Type::Int16 => (bits as i16).to_string(),
            Type::Int32 => (bits as i32).to_string(),
            Type::Int64 => (bits as i64).to_string(),
            Type::UInt8 | Type::UInt16 | Type::UInt32 | Type::UInt64 => bits.to_string(),
            Type::Float32 => format!("{:?}", f32::from_bits(bits as u32)),
            Type::Float64 => format!("{:?}", f64::from_bits(bits)),
            Type::Enum(n) => self
                .schema
                .pool
                .node(*n)
                .as_enum()
                .and_then(|e| e.enumerants.get(bits as usize))
                .map_or_else(|| bits.to_string(), |e| e.name.clone()),
            _ => "its default".into(),
        }
    }

    fn group(&mut self, rust: &RustTy<'a>, group: NodeIndex) -> Result<(), Misfit> {
        let is_union = self
            .schema
            .pool
            .node(group)
            .as_struct()
            .is_some_and(|g| g.has_union() && g.plain_fields.is_empty());
        let what = if is_union {
            "an enum bound to the union"
        } else {
            "a struct bound to the group"
        };
        match rust {
            RustTy::Opaque { ty, generic } => {
                if !generic {
                    self.assert(
                        ty,
                        group,
                        format!(
                            "the schema has the {} `{}` here; use a type bound to it (`#[capnp(name = \"{}\")]`)",
                            if is_union { "union" } else { "group" },
                            self.short(group),
                            self.short(group)
                        ),
                    );
                }
                Ok(())
            }
            RustTy::Option(_) => Err(Misfit(format!(
                "a {} is part of its struct and always present, so `Option` has nothing to leave out; use {what} (`#[capnp(name = \"{}\")]`)",
                if is_union { "union" } else { "group" },
                self.short(group)
            ))),
            RustTy::Map(k, _) if matches!(**k, RustTy::Str) => Ok(()),
            other => Err(Misfit(format!(
                "{} cannot stand for it; use {what} (`#[capnp(name = \"{}\")]`)",
                other.describe(),
                self.short(group)
            ))),
        }
    }

    /// A Rust type against a schema type.
    fn value(&mut self, rust: &RustTy<'a>, ty: &Type, pos: Pos) -> Result<(), Misfit> {
        let pool = &self.schema.pool;
        let suggest = suggestion(pool, ty);
        let mismatch = |rust: &RustTy| {
            Misfit(format!(
                "{} cannot stand for it; use {suggest}",
                rust.describe()
            ))
        };
        match (rust, ty) {
            (RustTy::Option(inner), _) => {
                if pos == Pos::Element {
                    return Err(Misfit(format!(
                        "`Option` needs pointer elements, and every element of a list of `{}` holds a value, so `None` cannot be written; use {suggest}",
                        ty.describe(pool)
                    )));
                }
                if pos == Pos::Data {
                    return Err(Misfit(format!(
                        "`Option` needs a pointer field, and `{}` is stored in the data section, which always holds a value: an unset field reads as its default ({{default}}), so `None` would come back as `Some({{default}})`; use {suggest}, or a union with a `Void` member where \"no value\" must be told apart",
                        ty.describe(pool)
                    )));
                }
                if matches!(**inner, RustTy::Option(_)) {
                    return Err(Misfit(
                        "a pointer is null or not: `Option<Option<_>>` has one state too many; use a single `Option`".into(),
                    ));
                }
                self.value(inner, ty, pos)
            }
            (RustTy::Opaque { ty: rty, generic }, _) => {
                match ty {
                    Type::Struct(n, _) | Type::Enum(n) if !generic => {
                        let n = *n;
                        self.assert(
                            rty,
                            n,
                            format!(
                                "the schema has `{}` here; use a type bound to it (`#[capnp(name = \"{}\")]`)",
                                self.short(n),
                                self.short(n)
                            ),
                        );
                    }
                    _ => {}
                }
                Ok(())
            }
            (RustTy::Unit, Type::Void | Type::AnyPointer(_) | Type::Param { .. } | Type::MethodParam(_) | Type::Interface(..)) => Ok(()),
            (RustTy::Bool, Type::Bool) => Ok(()),
            (RustTy::Int { signed, bits, pointer }, _) => {
                let want = match ty {
                    Type::Int8 => Some((true, 8)),
                    Type::Int16 => Some((true, 16)),
                    Type::Int32 => Some((true, 32)),
                    Type::Int64 => Some((true, 64)),
                    Type::UInt8 => Some((false, 8)),
                    Type::UInt16 => Some((false, 16)),
                    Type::UInt32 => Some((false, 32)),
                    Type::UInt64 => Some((false, 64)),
                    _ => None,
                };
                match want {
                    Some(w) if w == (*signed, *bits) && !pointer => Ok(()),
                    Some(_) if *pointer => Err(Misfit(format!(
                        "the width of {} depends on the target; use {suggest}",
                        rust.describe()
                    ))),
                    Some((ws, wb)) => {
                        let why = if *bits > wb || (*signed && !ws && *bits == wb) {
                            format!("some values of {} do not fit `{}`", rust.describe(), ty.describe(pool))
                        } else if *bits < wb || (!signed && ws) {
                            format!("some values of `{}` do not fit {}", ty.describe(pool), rust.describe())
                        } else {
                            format!("{} and `{}` differ in sign", rust.describe(), ty.describe(pool))
                        };
                        Err(Misfit(format!("{why}; use {suggest}")))
                    }
                    None => Err(mismatch(rust)),
                }
            }
            (RustTy::Float(b), Type::Float32) if *b == 32 => Ok(()),
            (RustTy::Float(b), Type::Float64) if *b == 64 => Ok(()),
            (RustTy::Str | RustTy::Char, Type::Text) => Ok(()),
            (RustTy::Bytes, Type::Data) => Ok(()),
            (RustTy::Bytes, Type::List(e)) if **e == Type::UInt8 => Ok(()),
            (RustTy::Seq(_), Type::Data) if rust.is_u8_seq() => Ok(()),
            (RustTy::Seq(elem), Type::List(e)) => {
                let epos = if e.is_data() { Pos::Element } else { Pos::Pointer };
                self.value(elem, e, epos)
                    .map_err(|m| Misfit(format!("its elements are `{}`: {}", e.describe(pool), m.0)))
            }
            (RustTy::Tuple(elems), Type::List(e)) => {
                let epos = if e.is_data() { Pos::Element } else { Pos::Pointer };
                for elem in elems {
                    self.value(elem, e, epos).map_err(|m| {
                        Misfit(format!("its elements are `{}`: {}", e.describe(pool), m.0))
                    })?;
                }
                Ok(())
            }
            (RustTy::Map(k, v), Type::List(e)) => {
                let Type::Struct(entry, entry_brand) = &**e else {
                    return Err(mismatch(rust));
                };
                let (entry, entry_brand) = (*entry, entry_brand.clone());
                let Some(es) = self.schema.pool.node(entry).as_struct() else {
                    return Err(mismatch(rust));
                };
                let (Some(ki), Some(vi)) = (es.field_index("key"), es.field_index("value")) else {
                    return Err(Misfit(format!(
                        "a map is written as a list of entries with `key` and `value` fields, and `{}` lacks them",
                        self.short(entry)
                    )));
                };
                let es = es.clone();
                let brand = entry_brand.as_deref();
                self.slot(k, &es.fields[ki as usize], brand)
                    .map_err(|m| Misfit(format!("the map's keys go to `key`: {}", m.0)))?;
                self.slot(v, &es.fields[vi as usize], brand)
                    .map_err(|m| Misfit(format!("the map's values go to `value`: {}", m.0)))
            }
            // A map with string keys is a struct whose fields the keys name.
            (RustTy::Map(k, _), Type::Struct(..)) if matches!(**k, RustTy::Str) => Ok(()),
            (_, Type::AnyPointer(_) | Type::Param { .. } | Type::MethodParam(_)) => Err(Misfit(format!(
                "an `AnyPointer` has no schema for its content, so only `()` (always null) can stand for it, not {}",
                rust.describe()
            ))),
            (RustTy::Unit, Type::Text | Type::Data | Type::List(_) | Type::Struct(..)) => {
                Err(mismatch(rust))
            }
            _ => Err(mismatch(rust)),
        }
    }

    /// Requires `ty`, when it is bound, to be bound to `node`.
    fn assert(&mut self, ty: &'a syn::Type, node: NodeIndex, message: String) {
        if self.generic || mentions_lifetime_or_param(ty, &self.params) {
            return;
        }
        self.asserts.push(NodeAssert {
            ty,
            id: self.schema.pool.node(node).id,
            message,
        });
    }

    /// The variants of a Rust enum against a schema enum.
    fn enumerants(&mut self, ident: &syn::Ident, variants: &'a [Variant<'a>], node: NodeIndex) {
        let pool = &self.schema.pool;
        let Some(e) = pool.node(node).as_enum() else {
            return;
        };
        let names: Vec<String> = e.enumerants.iter().map(|en| en.name.clone()).collect();
        let list = names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut covered = vec![false; names.len()];
        for v in variants {
            if v.serde.skip_ser && v.serde.skip_de {
                continue;
            }
            if v.style != Style::Unit {
                self.cx.error_spanned_by(
                    &v.original.ident,
                    format!(
                        "`{}` carries data, but `{}` ({}) is an enum: each variant must be a unit variant naming one of its enumerants",
                        v.original.ident,
                        self.short(node),
                        self.loc(node, None)
                    ),
                );
                continue;
            }
            let mut found = None;
            for (name, on) in [
                (&v.ser_name, !v.serde.skip_ser),
                (&v.de_name, !v.serde.skip_de),
            ] {
                if !on {
                    continue;
                }
                let ser = e.enumerant_by_rust_name(name).or_else(|| {
                    names
                        .iter()
                        .position(|n| names_match(name, n))
                        .map(|i| i as u16)
                });
                match ser {
                    Some(i) => {
                        covered[i as usize] = true;
                        found = Some(i);
                    }
                    None if v.serde.other => {}
                    None => self.cx.error_spanned_by(
                        &v.original.ident,
                        format!(
                            "`{name}` is not an enumerant of `{}` ({}); its enumerants are {list}",
                            self.short(node),
                            self.loc(node, None)
                        ),
                    ),
                }
            }
            let _ = found;
        }
        let missing: Vec<String> = names
            .iter()
            .zip(&covered)
            .filter(|(_, c)| !**c)
            .map(|(n, _)| format!("`{n}`"))
            .collect();
        if !missing.is_empty() {
            self.cx.error_spanned_by(
                ident,
                format!(
                    "`{ident}` has no variant for {} of `{}` ({}): reading {} would fail; add {}",
                    missing.join(", "),
                    self.short(node),
                    self.loc(node, None),
                    if missing.len() == 1 { "it" } else { "them" },
                    suggest_variants(&missing)
                ),
            );
        }
    }

    /// The variants of a Rust enum against the unnamed union of `node` (a struct, or a named
    /// union's group).
    fn union(
        &mut self,
        ident: &syn::Ident,
        variants: &'a [Variant<'a>],
        node: NodeIndex,
        s: &StructNode,
        brand: Option<&Brand>,
    ) {
        let members: Vec<u16> = s.union_members.clone();
        let list = members
            .iter()
            .map(|&i| format!("`{}`", s.fields[i as usize].name))
            .collect::<Vec<_>>()
            .join(", ");
        let mut covered = vec![false; members.len()];
        for v in variants {
            if v.serde.skip_ser && v.serde.skip_de {
                continue;
            }
            let mut member = None;
            for (name, on) in [
                (&v.ser_name, !v.serde.skip_ser),
                (&v.de_name, !v.serde.skip_de),
            ] {
                if !on {
                    continue;
                }
                match members
                    .iter()
                    .position(|&i| names_match(name, &s.fields[i as usize].name))
                {
                    Some(p) => {
                        covered[p] = true;
                        member = Some(members[p]);
                    }
                    None => self.cx.error_spanned_by(
                        &v.original.ident,
                        format!(
                            "`{name}` is not a member of the union of `{}` ({}); its members are {list}",
                            self.short(node),
                            self.loc(node, None)
                        ),
                    ),
                }
            }
            let Some(m) = member else { continue };
            let field = s.fields[m as usize].clone();
            self.variant(v, &field, node, brand);
        }
        let missing: Vec<String> = members
            .iter()
            .zip(&covered)
            .filter(|(_, c)| !**c)
            .map(|(&i, _)| format!("`{}`", s.fields[i as usize].name))
            .collect();
        if !missing.is_empty() {
            self.cx.error_spanned_by(
                ident,
                format!(
                    "`{ident}` has no variant for the member{} {} of the union of `{}` ({}): reading {} would fail; add {}",
                    if missing.len() == 1 { "" } else { "s" },
                    missing.join(", "),
                    self.short(node),
                    self.loc(node, None),
                    if missing.len() == 1 { "it" } else { "them" },
                    suggest_variants(&missing)
                ),
            );
        }
    }

    /// One variant against its union member.
    fn variant(
        &mut self,
        v: &'a Variant<'a>,
        member: &Field,
        node: NodeIndex,
        brand: Option<&Brand>,
    ) {
        let at = format!(
            "the member `{}` ({}) is {}",
            member.name,
            self.loc(node, Some(&member.name)),
            self.slot_type_name(member, brand)
        );
        match (v.style, &member.slot) {
            (Style::Unit, FieldSlot::Void) => {}
            (Style::Unit, _) => self.cx.error_spanned_by(
                &v.original.ident,
                format!(
                    "`{}` is a unit variant, which can only select a `Void` member, and {at}; give it the member's value: {}",
                    v.original.ident,
                    match &member.slot {
                        FieldSlot::Group { .. } => format!("make it a struct variant with the group's fields, or a newtype variant of a type bound to `{}.{}`", self.short(node), member.name),
                        slot => format!("`{}({})`", v.original.ident, rust_spelling(&self.schema.pool, &slot.ty().cloned().unwrap_or(Type::Void).resolve(brand))),
                    }
                ),
            ),
            (Style::Struct, FieldSlot::Group { node: group }) => {
                let group = *group;
                let Some(gs) = self.schema.pool.node(group).as_struct() else {
                    return;
                };
                let gs = gs.clone();
                self.fields(&v.fields, group, &gs, brand);
            }
            (Style::Struct, _) => self.cx.error_spanned_by(
                &v.original.ident,
                format!(
                    "`{}` is a struct variant, which fills a group member, and {at}",
                    v.original.ident
                ),
            ),
            (Style::Newtype | Style::Tuple, _) => {
                let f = &v.fields[0];
                let rust = if v.style == Style::Tuple {
                    RustTy::Tuple(
                        v.fields.iter().map(|f| classify(f.ty, &self.params)).collect(),
                    )
                } else if f.serde.bytes {
                    RustTy::Bytes
                } else {
                    classify(f.ty, &self.params)
                };
                if f.serde.custom.is_some() {
                    return;
                }
                if let Err(m) = self.slot(&rust, member, brand) {
                    self.cx.error_spanned_by(
                        f.ty,
                        format!("`{}` does not fit: {at}: {}", v.original.ident, m.0),
                    );
                }
            }
        }
    }
}

/// Finds a schema field by its Rust name exactly as the runtime does: the exact name or a
/// derived spelling, then the looser `names_match` rule.
pub fn find_field(s: &StructNode, key: &str) -> Option<u16> {
    s.field_by_rust_name(key).or_else(|| {
        s.fields
            .iter()
            .position(|f| names_match(key, &f.name))
            .map(|i| i as u16)
    })
}

fn list_fields(s: &StructNode) -> String {
    if s.fields.is_empty() {
        return "none".into();
    }
    s.fields
        .iter()
        .map(|f| format!("`{}`", f.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn suggest_variants(missing: &[String]) -> String {
    let v: Vec<String> = missing
        .iter()
        .map(|m| {
            let name = m.trim_matches('`');
            let mut c = name.chars();
            let pascal = c
                .next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default();
            format!("`{pascal}`")
        })
        .collect();
    v.join(", ")
}

/// The Rust type to use for a schema type, for messages.
fn suggestion(pool: &serde_capnp_schema::SchemaPool, ty: &Type) -> String {
    let rust = rust_spelling;
    match ty {
        Type::Enum(n) => format!(
            "a Rust enum bound to `{}` (`#[capnp(name = \"{}\")]`)",
            pool.node(*n).short_name(),
            path_in_file(pool, *n)
        ),
        Type::Struct(n, _) => format!(
            "a type bound to `{}` (`#[capnp(name = \"{}\")]`)",
            pool.node(*n).short_name(),
            path_in_file(pool, *n)
        ),
        Type::Data => "`Vec<u8>` or `serde_bytes::ByteBuf`".into(),
        Type::AnyPointer(_) | Type::Param { .. } | Type::MethodParam(_) => "`()`".into(),
        t => format!("`{}`", rust(pool, t)),
    }
}

/// A Rust type spelled for a schema type.
fn rust_spelling(pool: &serde_capnp_schema::SchemaPool, ty: &Type) -> String {
    match ty {
        Type::Void => "()".into(),
        Type::Bool => "bool".into(),
        Type::Int8 => "i8".into(),
        Type::Int16 => "i16".into(),
        Type::Int32 => "i32".into(),
        Type::Int64 => "i64".into(),
        Type::UInt8 => "u8".into(),
        Type::UInt16 => "u16".into(),
        Type::UInt32 => "u32".into(),
        Type::UInt64 => "u64".into(),
        Type::Float32 => "f32".into(),
        Type::Float64 => "f64".into(),
        Type::Text => "String".into(),
        Type::Data => "Vec<u8>".into(),
        Type::List(e) => format!("Vec<{}>", rust_spelling(pool, e)),
        Type::Enum(n) | Type::Struct(n, _) | Type::Interface(n, _) => {
            pool.node(*n).short_name().to_string()
        }
        _ => "()".into(),
    }
}

fn path_in_file(pool: &serde_capnp_schema::SchemaPool, n: NodeIndex) -> String {
    let d = &pool.node(n).display_name;
    d.split_once(':').map_or(d.as_str(), |(_, p)| p).to_string()
}

fn contains_opaque(rust: &RustTy) -> bool {
    match rust {
        RustTy::Opaque { .. } => true,
        RustTy::Option(t) | RustTy::Seq(t) => contains_opaque(t),
        RustTy::Map(k, v) => contains_opaque(k) || contains_opaque(v),
        RustTy::Tuple(t) => t.iter().any(contains_opaque),
        _ => false,
    }
}

/// Whether a const item could not name `ty`: it has a lifetime or a generic parameter.
fn mentions_lifetime_or_param(ty: &syn::Type, params: &[String]) -> bool {
    let text = ty.to_token_stream().to_string();
    text.contains('\'')
        || text
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .any(|w| params.iter().any(|p| p == w))
}

/// The tokens of a field's name (or its type, for an unnamed field), to span errors on.
fn field_name_tokens(f: &syn::Field) -> proc_macro2::TokenStream {
    match &f.ident {
        Some(i) => i.to_token_stream(),
        None => f.ty.span().unwrap_or_default_tokens(),
    }
}

trait SpanTokens {
    fn unwrap_or_default_tokens(self) -> proc_macro2::TokenStream;
}

impl SpanTokens for proc_macro2::Span {
    fn unwrap_or_default_tokens(self) -> proc_macro2::TokenStream {
        let mut t = proc_macro2::TokenStream::new();
        t.extend([proc_macro2::TokenTree::Ident(proc_macro2::Ident::new(
            "_", self,
        ))]);
        t
    }
}
