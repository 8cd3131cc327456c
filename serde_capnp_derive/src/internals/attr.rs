//! The attributes the macro reads: its own `#[capnp(...)]`, and the `#[serde(...)]` attributes
//! that change which names and shapes serde gives the schema.
//!
//! serde's attributes are read without judging them: serde_derive reports its own mistakes, so
//! anything this module does not need is skipped, whatever its form.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, LitInt, LitStr, Token};

use super::case::RenameRule;
use super::ctxt::Ctxt;

/// `#[capnp(...)]` on the bound type.
#[derive(Default)]
pub struct Capnp {
    /// `schema = "path/x.capnp"`, relative to the crate's manifest directory.
    pub schema: Option<LitStr>,
    /// `name = "Outer.Inner"`, `name = "file.capnp:Name"` or `name = "Pair(Text, Inner)"`.
    pub name: Option<LitStr>,
    /// `id = 0x...`.
    pub id: Option<LitInt>,
    /// `import = "dir"`, repeatable: directories searched by absolute imports.
    pub imports: Vec<LitStr>,
    /// `crate = "path"`: where `serde_capnp` is, when it is renamed or re-exported.
    pub krate: Option<syn::Path>,
    /// Where the attribute is, for errors about what it lacks.
    pub span: Option<Span>,
    /// `direct = false`: no direct path, every field through serde (for a type whose
    /// `Serialize` or `Deserialize` is written by hand).
    pub no_direct: bool,
}

impl Capnp {
    pub fn from_attrs(cx: &Ctxt, attrs: &[Attribute]) -> Capnp {
        let mut out = Capnp::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("capnp")) {
            out.span
                .get_or_insert(attr.path().get_ident().unwrap().span());
            let r = attr.parse_nested_meta(|meta| {
                let key = meta.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
                match key.as_str() {
                    "schema" => set_once(cx, &meta, &mut out.schema, meta.value()?.parse()?),
                    "name" => set_once(cx, &meta, &mut out.name, meta.value()?.parse()?),
                    "id" => set_once(cx, &meta, &mut out.id, meta.value()?.parse()?),
                    "import" => out.imports.push(meta.value()?.parse()?),
                    "direct" => {
                        let lit: syn::LitBool = meta.value()?.parse()?;
                        out.no_direct = !lit.value;
                    }
                    "crate" => {
                        let lit: LitStr = meta.value()?.parse()?;
                        match lit.parse::<syn::Path>() {
                            Ok(p) => set_once(cx, &meta, &mut out.krate, p),
                            Err(_) => cx.error_spanned_by(
                                &lit,
                                format!("`crate` takes a path, such as `\"serde_capnp\"`; `{}` is not one", lit.value()),
                            ),
                        }
                    }
                    _ => {
                        cx.error_spanned_by(
                            &meta.path,
                            format!(
                                "unknown `capnp` attribute `{}`: expected `schema`, `name`, `id`, `import`, `crate` or `direct`",
                                path_text(&meta.path)
                            ),
                        );
                        skip_meta(&meta)?;
                    }
                }
                Ok(())
            });
            if let Err(e) = r {
                cx.syn_error(e);
            }
        }
        out
    }
}

fn set_once<T>(cx: &Ctxt, meta: &ParseNestedMeta, slot: &mut Option<T>, value: T) {
    if slot.is_some() {
        cx.error_spanned_by(
            &meta.path,
            format!("`{}` is given twice", path_text(&meta.path)),
        );
    }
    *slot = Some(value);
}

fn path_text(path: &syn::Path) -> String {
    quote::quote!(#path).to_string().replace(' ', "")
}

/// Consumes whatever follows a key serde owns: `= value`, `(nested)` or nothing.
fn skip_meta(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        let _: syn::Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.parse_nested_meta(|inner| skip_meta(&inner))?;
    }
    Ok(())
}

/// A name serde may spell differently when writing and when reading.
#[derive(Clone, Debug)]
pub struct Pair<T> {
    pub ser: Option<T>,
    pub de: Option<T>,
}

impl<T> Default for Pair<T> {
    fn default() -> Self {
        Pair {
            ser: None,
            de: None,
        }
    }
}

/// Reads `key = "x"` or `key(serialize = "x", deserialize = "y")`.
fn parse_pair(meta: &ParseNestedMeta) -> syn::Result<Pair<LitStr>> {
    if meta.input.peek(Token![=]) {
        let lit: LitStr = meta.value()?.parse()?;
        return Ok(Pair {
            ser: Some(lit.clone()),
            de: Some(lit),
        });
    }
    let mut pair = Pair::default();
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("serialize") {
            pair.ser = Some(inner.value()?.parse()?);
        } else if inner.path.is_ident("deserialize") {
            pair.de = Some(inner.value()?.parse()?);
        } else {
            skip_meta(&inner)?;
        }
        Ok(())
    })?;
    Ok(pair)
}

/// A `rename_all` rule; an unknown one is serde_derive's to report.
fn parse_rule(lit: &LitStr) -> Option<RenameRule> {
    RenameRule::from_str(&lit.value())
}

/// serde's attributes on a struct or enum.
#[derive(Default)]
pub struct SerdeContainer {
    pub rename_all: Pair<RenameRule>,
    pub rename_all_fields: Pair<RenameRule>,
    pub transparent: bool,
    /// `untagged`, `tag`, `content`: an enum representation other than serde's default.
    pub representation: Option<Span>,
    /// `from`, `try_from`, `into`, `remote`: the type is (de)serialized as another one.
    pub proxy: Option<(Span, &'static str)>,
    /// `#[serde(default)]` on the container: a skipped field takes the container's default's.
    pub default: bool,
}

impl SerdeContainer {
    pub fn from_attrs(cx: &Ctxt, attrs: &[Attribute]) -> SerdeContainer {
        let mut out = SerdeContainer::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
            let r = attr.parse_nested_meta(|meta| {
                let span = meta
                    .path
                    .get_ident()
                    .map_or_else(Span::call_site, |i| i.span());
                let key = meta
                    .path
                    .get_ident()
                    .map(|i| i.to_string())
                    .unwrap_or_default();
                match key.as_str() {
                    "rename_all" | "rename_all_fields" => {
                        let pair = parse_pair(&meta)?;
                        let rules = Pair {
                            ser: pair.ser.as_ref().and_then(parse_rule),
                            de: pair.de.as_ref().and_then(parse_rule),
                        };
                        if key == "rename_all" {
                            out.rename_all = rules;
                        } else {
                            out.rename_all_fields = rules;
                        }
                    }
                    "transparent" => out.transparent = true,
                    "default" => {
                        out.default = true;
                        skip_meta(&meta)?;
                    }
                    "untagged" | "tag" | "content" => {
                        out.representation = Some(span);
                        skip_meta(&meta)?;
                    }
                    "from" | "try_from" | "into" | "remote" => {
                        out.proxy = Some((
                            span,
                            match key.as_str() {
                                "from" => "from",
                                "try_from" => "try_from",
                                "into" => "into",
                                _ => "remote",
                            },
                        ));
                        skip_meta(&meta)?;
                    }
                    _ => skip_meta(&meta)?,
                }
                Ok(())
            });
            if let Err(e) = r {
                cx.syn_error(e);
            }
        }
        out
    }
}

/// serde's attributes on a field or a variant.
#[derive(Default)]
pub struct SerdeMember {
    pub rename: Pair<LitStr>,
    pub aliases: Vec<LitStr>,
    pub rename_all: Pair<RenameRule>,
    pub skip_ser: bool,
    pub skip_de: bool,
    pub flatten: bool,
    pub default: bool,
    /// `with = "serde_bytes"`: the value is written as bytes.
    pub bytes: bool,
    /// `with`, `serialize_with`, `deserialize_with` (other than serde_bytes): a function the
    /// macro cannot see into decides the shape.
    pub custom: Option<Span>,
    /// `#[serde(other)]` on a unit variant.
    pub other: bool,
    /// `#[serde(untagged)]` on a variant.
    pub untagged: bool,
    /// The function that writes the field: `serialize_with`, or `serialize` in the module of
    /// `with` (serde_bytes included).
    pub ser_with: Option<syn::ExprPath>,
    /// The function that reads the field: `deserialize_with`, or `with`'s `deserialize`.
    pub de_with: Option<syn::ExprPath>,
    /// `skip_serializing_if = "path"`.
    pub skip_ser_if: Option<syn::ExprPath>,
    /// `default = "path"`.
    pub default_path: Option<syn::ExprPath>,
    /// `borrow` (`Some(None)`: every lifetime of the field's type) or `borrow = "'a + 'b"`.
    pub borrow: Option<Option<Vec<syn::Lifetime>>>,
}

/// `path` as an expression path, or `path::function` when `function` is given.
fn parse_fn_path(lit: &LitStr, function: Option<&str>) -> Option<syn::ExprPath> {
    let text = match function {
        Some(f) => format!("{}::{f}", lit.value()),
        None => lit.value(),
    };
    syn::parse_str::<syn::ExprPath>(&text).ok()
}

impl SerdeMember {
    pub fn from_attrs(cx: &Ctxt, attrs: &[Attribute]) -> SerdeMember {
        let mut out = SerdeMember::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
            let r = attr.parse_nested_meta(|meta| {
                let span = meta
                    .path
                    .get_ident()
                    .map_or_else(Span::call_site, |i| i.span());
                let key = meta
                    .path
                    .get_ident()
                    .map(|i| i.to_string())
                    .unwrap_or_default();
                match key.as_str() {
                    "rename" => {
                        let pair = parse_pair(&meta)?;
                        if pair.ser.is_some() {
                            out.rename.ser = pair.ser;
                        }
                        if pair.de.is_some() {
                            out.rename.de = pair.de;
                        }
                    }
                    "alias" => out.aliases.push(meta.value()?.parse()?),
                    "rename_all" => {
                        let pair = parse_pair(&meta)?;
                        out.rename_all = Pair {
                            ser: pair.ser.as_ref().and_then(parse_rule),
                            de: pair.de.as_ref().and_then(parse_rule),
                        };
                    }
                    "skip" => {
                        out.skip_ser = true;
                        out.skip_de = true;
                    }
                    "skip_serializing" => out.skip_ser = true,
                    "skip_deserializing" => out.skip_de = true,
                    "flatten" => out.flatten = true,
                    "default" => {
                        out.default = true;
                        if meta.input.peek(Token![=]) {
                            let lit: LitStr = meta.value()?.parse()?;
                            out.default_path = parse_fn_path(&lit, None);
                        } else {
                            skip_meta(&meta)?;
                        }
                    }
                    "other" => out.other = true,
                    "untagged" => out.untagged = true,
                    "with" => {
                        let lit: LitStr = meta.value()?.parse()?;
                        if lit.value() == "serde_bytes" {
                            out.bytes = true;
                        } else {
                            out.custom = Some(span);
                        }
                        out.ser_with = parse_fn_path(&lit, Some("serialize"));
                        out.de_with = parse_fn_path(&lit, Some("deserialize"));
                    }
                    "serialize_with" | "deserialize_with" => {
                        out.custom = Some(span);
                        if meta.input.peek(Token![=]) {
                            let lit: LitStr = meta.value()?.parse()?;
                            let path = parse_fn_path(&lit, None);
                            if key == "serialize_with" {
                                out.ser_with = path;
                            } else {
                                out.de_with = path;
                            }
                        } else {
                            skip_meta(&meta)?;
                        }
                    }
                    "borrow" => {
                        out.borrow = Some(None);
                        if meta.input.peek(Token![=]) {
                            let lit: LitStr = meta.value()?.parse()?;
                            let named = lit
                                .value()
                                .split('+')
                                .map(|l| syn::parse_str::<syn::Lifetime>(l.trim()))
                                .collect::<syn::Result<Vec<_>>>();
                            // serde reports a list it cannot parse; the direct path leaves
                            // such a field's type to the serde path.
                            out.borrow = Some(Some(named.unwrap_or_default()));
                        }
                    }
                    "skip_serializing_if" => {
                        let lit: LitStr = meta.value()?.parse()?;
                        out.skip_ser_if = parse_fn_path(&lit, None);
                    }
                    _ => skip_meta(&meta)?,
                }
                Ok(())
            });
            if let Err(e) = r {
                cx.syn_error(e);
            }
        }
        out
    }
}
