//! The bound type as the macro sees it: its fields or variants with the names serde gives them.

use syn::{Data, DeriveInput, Fields, Ident, Type};

use super::attr::{Capnp, Pair, SerdeContainer, SerdeMember};
use super::case::RenameRule;
use super::ctxt::Ctxt;

/// The type the derive is on.
pub struct Container<'a> {
    pub ident: &'a Ident,
    pub capnp: Capnp,
    pub serde: SerdeContainer,
    pub body: Body<'a>,
}

pub enum Body<'a> {
    Struct(Style, Vec<Field<'a>>),
    Enum(Vec<Variant<'a>>),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Style {
    /// Named fields.
    Struct,
    /// Several unnamed fields.
    Tuple,
    /// One unnamed field.
    Newtype,
    /// No fields.
    Unit,
}

pub struct Field<'a> {
    /// The field as written.
    pub original: &'a syn::Field,
    pub ty: &'a Type,
    pub serde: SerdeMember,
    /// The key serde writes it under, and the one it reads it by (aliases aside).
    pub ser_name: String,
    pub de_name: String,
}

pub struct Variant<'a> {
    pub original: &'a syn::Variant,
    pub style: Style,
    pub fields: Vec<Field<'a>>,
    pub serde: SerdeMember,
    pub ser_name: String,
    pub de_name: String,
}

impl<'a> Container<'a> {
    pub fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Option<Container<'a>> {
        let capnp = Capnp::from_attrs(cx, &input.attrs);
        let serde = SerdeContainer::from_attrs(cx, &input.attrs);
        let body = match &input.data {
            Data::Struct(s) => {
                let (style, fields) = fields_of(cx, &s.fields, &serde.rename_all);
                Body::Struct(style, fields)
            }
            Data::Enum(e) => Body::Enum(
                e.variants
                    .iter()
                    .map(|v| {
                        let attrs = SerdeMember::from_attrs(cx, &v.attrs);
                        let name = unraw(&v.ident);
                        let (ser_name, de_name) =
                            names(&name, &attrs.rename, &serde.rename_all, true);
                        // A variant's own `rename_all` wins over the container's
                        // `rename_all_fields`.
                        let rule = Pair {
                            ser: attrs.rename_all.ser.or(serde.rename_all_fields.ser),
                            de: attrs.rename_all.de.or(serde.rename_all_fields.de),
                        };
                        let (style, fields) = fields_of(cx, &v.fields, &rule);
                        Variant {
                            original: v,
                            style,
                            fields,
                            serde: attrs,
                            ser_name,
                            de_name,
                        }
                    })
                    .collect(),
            ),
            Data::Union(u) => {
                cx.error_spanned_by(
                    u.union_token,
                    "`Capnp` binds structs and enums; serde has no representation for a Rust union",
                );
                return None;
            }
        };
        Some(Container {
            ident: &input.ident,
            capnp,
            serde,
            body,
        })
    }
}

fn fields_of<'a>(
    cx: &Ctxt,
    fields: &'a Fields,
    rule: &Pair<RenameRule>,
) -> (Style, Vec<Field<'a>>) {
    let style = match fields {
        Fields::Named(_) => Style::Struct,
        Fields::Unnamed(f) if f.unnamed.len() == 1 => Style::Newtype,
        Fields::Unnamed(_) => Style::Tuple,
        Fields::Unit => Style::Unit,
    };
    let list = fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let serde = SerdeMember::from_attrs(cx, &f.attrs);
            let name = f.ident.as_ref().map_or_else(|| i.to_string(), unraw);
            let (ser_name, de_name) = names(&name, &serde.rename, rule, false);
            Field {
                original: f,
                ty: &f.ty,
                serde,
                ser_name,
                de_name,
            }
        })
        .collect();
    (style, list)
}

/// The names serde writes and reads: `rename` wins, then `rename_all`, then the Rust name.
fn names(
    name: &str,
    rename: &Pair<syn::LitStr>,
    rule: &Pair<RenameRule>,
    variant: bool,
) -> (String, String) {
    let apply = |r: Option<RenameRule>| match r {
        Some(r) if variant => r.apply_to_variant(name),
        Some(r) => r.apply_to_field(name),
        None => name.to_string(),
    };
    (
        rename
            .ser
            .as_ref()
            .map_or_else(|| apply(rule.ser), |l| l.value()),
        rename
            .de
            .as_ref()
            .map_or_else(|| apply(rule.de), |l| l.value()),
    )
}

/// The identifier without `r#`, as serde names it.
pub fn unraw(ident: &Ident) -> String {
    let s = ident.to_string();
    s.strip_prefix("r#").map(str::to_string).unwrap_or(s)
}
