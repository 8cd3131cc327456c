//! The rules a model must keep that the loader checks once it has every node, and the small
//! checks it makes as it reads.

use super::place::Place;
use super::MAX_GROUP_NESTING;
use crate::model::*;
use crate::SchemaError;

/// Fails if a node has more than `max` members of a kind.
pub(super) fn members(
    count: usize,
    max: usize,
    what: &str,
    at: &Place<'_>,
) -> Result<(), SchemaError> {
    if count > max {
        return Err(at.error(format_args!(
            "it has {count} {what}, more than the {max} a node may have"
        )));
    }
    Ok(())
}

/// Marks `code_order` seen, failing unless it is a position among `seen` not seen before.
pub(super) fn distinct_position(
    seen: &mut [bool],
    code_order: u16,
    at: &Place<'_>,
    what: &str,
) -> Result<(), SchemaError> {
    match seen.get_mut(code_order as usize) {
        Some(s) if !*s => {
            *s = true;
            Ok(())
        }
        _ => Err(at.error(format_args!(
            "its code order {code_order} is not a distinct position among the {} {what}",
            seen.len()
        ))),
    }
}

/// The position of the first name that repeats an earlier one.
pub(super) fn first_repeat<'n>(names: impl IntoIterator<Item = &'n str>) -> Option<usize> {
    let mut seen = std::collections::HashSet::new();
    names.into_iter().position(|n| !seen.insert(n))
}

/// What kind of value a type takes, for messages.
fn value_kind(v: &Value) -> &'static str {
    match v {
        Value::Void => "Void",
        Value::Bool(_) => "a Bool",
        Value::Int8(_) => "an Int8",
        Value::Int16(_) => "an Int16",
        Value::Int32(_) => "an Int32",
        Value::Int64(_) => "an Int64",
        Value::UInt8(_) => "a UInt8",
        Value::UInt16(_) => "a UInt16",
        Value::UInt32(_) => "a UInt32",
        Value::UInt64(_) => "a UInt64",
        Value::Float32(_) => "a Float32",
        Value::Float64(_) => "a Float64",
        Value::Text(_) => "Text",
        Value::Data(_) => "Data",
        Value::Enum(_) => "an enumerant",
        Value::List(_) => "a list",
        Value::Struct(_) => "a struct",
        Value::Interface => "an interface",
        Value::AnyPointer(_) => "an AnyPointer",
    }
}

/// A type, for messages that cannot name nodes (they may not be loaded yet).
fn type_kind(ty: &Type) -> String {
    match ty {
        Type::List(t) => format!("`List({})`", type_kind(t).trim_matches('`')),
        Type::Enum(_) => "an enum".into(),
        Type::Struct(..) => "a struct".into(),
        Type::Interface(..) => "an interface".into(),
        Type::AnyPointer(_) => "`AnyPointer`".into(),
        Type::Param { .. } | Type::MethodParam(_) => "a generic parameter".into(),
        primitive => format!("`{primitive:?}`"),
    }
}

/// Fails unless `v` is a value of type `ty`, and a struct or list value's root pointer is null
/// or of its kind.
pub(super) fn check_value(
    ty: &Type,
    v: &Value,
    at: &Place<'_>,
    what: &str,
) -> Result<(), SchemaError> {
    let fits = match (ty, v) {
        (Type::Void, Value::Void)
        | (Type::Bool, Value::Bool(_))
        | (Type::Int8, Value::Int8(_))
        | (Type::Int16, Value::Int16(_))
        | (Type::Int32, Value::Int32(_))
        | (Type::Int64, Value::Int64(_))
        | (Type::UInt8, Value::UInt8(_))
        | (Type::UInt16, Value::UInt16(_))
        | (Type::UInt32, Value::UInt32(_))
        | (Type::UInt64, Value::UInt64(_))
        | (Type::Float32, Value::Float32(_))
        | (Type::Float64, Value::Float64(_))
        | (Type::Text, Value::Text(_))
        | (Type::Data, Value::Data(_))
        | (Type::Enum(_), Value::Enum(_))
        | (Type::List(_), Value::List(_))
        | (Type::Struct(..), Value::Struct(_))
        | (Type::Interface(..), Value::Interface)
        | (Type::AnyPointer(_), Value::AnyPointer(_)) => true,
        // A generic parameter is bound to some pointer type.
        (Type::Param { .. } | Type::MethodParam(_), v) => matches!(
            v,
            Value::Text(_)
                | Value::Data(_)
                | Value::List(_)
                | Value::Struct(_)
                | Value::Interface
                | Value::AnyPointer(_)
        ),
        _ => false,
    };
    if !fits {
        return Err(at.error(format_args!(
            "{what} is {}, but its type is {}",
            value_kind(v),
            type_kind(ty)
        )));
    }
    let root_kind = |raw: &RawPointer| {
        raw.segment()
            .get(..8)
            .map_or(0, |w| u64::from_le_bytes(w.try_into().unwrap_or_default()))
    };
    match v {
        Value::Struct(raw) if !raw.is_null() && root_kind(raw) & 3 != 0 => Err(at.error(
            format_args!("{what} is a struct, but its pointer is not a struct pointer"),
        )),
        Value::List(raw) if !raw.is_null() && root_kind(raw) & 3 != 1 => Err(at.error(
            format_args!("{what} is a list, but its pointer is not a list pointer"),
        )),
        _ => Ok(()),
    }
}

/// The rules that involve more than one node: scopes, groups, annotations and requested files.
pub(super) fn check(pool: &SchemaPool) -> Result<(), SchemaError> {
    check_scopes(pool)?;
    for n in &pool.nodes {
        let at = Place::node(&n.display_name, n.id);
        check_annotations(pool, &n.annotations, &at, node_targets(n))?;
        match &n.kind {
            NodeKind::Struct(s) => check_struct(pool, n, s)?,
            NodeKind::Enum(e) => {
                for en in &e.enumerants {
                    let at = at.member("enumerant", &en.name);
                    check_annotations(pool, &en.annotations, &at, &["enumerant"])?;
                }
            }
            NodeKind::Interface(i) => {
                for m in &i.methods {
                    let at = at.member("method", &m.name);
                    check_annotations(pool, &m.annotations, &at, &["method"])?;
                }
            }
            _ => {}
        }
    }
    for f in &pool.requested_files {
        let at = Place::REQUEST.member("requested file", &f.filename);
        match pool.index_of(f.id).map(|i| &pool.node(i).kind) {
            Some(NodeKind::File) => {}
            Some(_) => {
                return Err(at.error(format_args!(
                    "its ID @{:#x} names a node that is not a file",
                    f.id
                )))
            }
            None => {
                return Err(at.error(format_args!(
                    "its ID @{:#x} names no node of the request",
                    f.id
                )))
            }
        }
    }
    Ok(())
}

/// Every scope chain ends at a node with no scope; files have none; nested nodes name their
/// nesting node as their scope.
fn check_scopes(pool: &SchemaPool) -> Result<(), SchemaError> {
    const UNSEEN: u8 = 0;
    const ON_PATH: u8 = 1;
    const ENDS: u8 = 2;
    let mut state = vec![UNSEEN; pool.nodes.len()];
    let mut path = Vec::new();
    for start in 0..pool.nodes.len() {
        let mut i = start;
        while state[i] == UNSEEN {
            state[i] = ON_PATH;
            path.push(i);
            let n = &pool.nodes[i];
            let at = Place::node(&n.display_name, n.id);
            if n.scope_id == 0 {
                break;
            }
            if matches!(n.kind, NodeKind::File) {
                return Err(at.error(format_args!(
                    "it is a file, yet its scope is @{:#x}; files have no scope",
                    n.scope_id
                )));
            }
            let Some(scope) = pool.index_of(n.scope_id) else {
                // A request may hold a node without the one it is nested in (an evaluation
                // compiles only what a value needs), but a group lives in its struct.
                if n.as_struct().is_some_and(|s| s.is_group) {
                    return Err(at.error(format_args!(
                        "it is a group, yet its scope @{:#x} is no node of the request",
                        n.scope_id
                    )));
                }
                break;
            };
            i = scope as usize;
            if state[i] == ON_PATH {
                return Err(at.error("its scope is itself, or a node in its own scope"));
            }
        }
        for j in path.drain(..) {
            state[j] = ENDS;
        }
    }
    for n in &pool.nodes {
        for (name, id) in &n.nested {
            let Some(child) = pool.index_of(*id) else {
                // Nested declarations of imported files that nothing used are left out.
                continue;
            };
            let child = pool.node(child);
            if child.scope_id != n.id {
                return Err(Place::node(&n.display_name, n.id)
                    .member("nested node", name)
                    .error(format_args!(
                        "it names `{}` (@{id:#x}), whose scope is @{:#x}, not this node",
                        child.display_name, child.scope_id
                    )));
            }
        }
    }
    Ok(())
}

/// The targets an annotation on node `n` may have.
fn node_targets(n: &Node) -> &'static [&'static str] {
    match &n.kind {
        NodeKind::File => &["file"],
        NodeKind::Struct(_) => &["struct", "group", "union"],
        NodeKind::Enum(_) => &["enum"],
        NodeKind::Interface(_) => &["interface"],
        NodeKind::Const(_) => &["const"],
        NodeKind::Annotation(_) => &["annotation"],
    }
}

/// A group's node is a group of this struct, shares its sections and does not nest too deeply;
/// the annotations of fields fit them.
fn check_struct(pool: &SchemaPool, n: &Node, s: &StructNode) -> Result<(), SchemaError> {
    let at = Place::node(&n.display_name, n.id);
    for f in &s.fields {
        let at = at.member("field", &f.name);
        // A parameter of a method is a field of its parameter struct; a group or union field is
        // annotated as one.
        check_annotations(
            pool,
            &f.annotations,
            &at,
            &["field", "param", "group", "union"],
        )?;
        let FieldSlot::Group { node } = f.slot else {
            continue;
        };
        let g = pool.node(node);
        let Some(gs) = g.as_struct().filter(|gs| gs.is_group) else {
            return Err(at.error(format_args!(
                "its group `{}` (@{:#x}) is not a group",
                g.display_name, g.id
            )));
        };
        if g.scope_id != n.id {
            return Err(at.error(format_args!(
                "its group `{}` (@{:#x}) belongs to @{:#x}, not to this struct",
                g.display_name, g.id, g.scope_id
            )));
        }
        if gs.data_words != s.data_words || gs.pointer_count != s.pointer_count {
            return Err(at.error(format_args!(
                "its group `{}` (@{:#x}) has sections of {} words and {} pointers, the struct \
                 {} words and {} pointers; a group shares its struct's sections",
                g.display_name,
                g.id,
                gs.data_words,
                gs.pointer_count,
                s.data_words,
                s.pointer_count
            )));
        }
    }
    if s.is_group {
        // Scopes end, so this walk does; it stops at the first struct that is not a group.
        let mut depth = 0;
        let mut scope = n.scope_id;
        while let Some(parent) = pool.index_of(scope).map(|i| pool.node(i)) {
            depth += 1;
            if depth > MAX_GROUP_NESTING {
                return Err(at.error(format_args!(
                    "it is a group nested more than {MAX_GROUP_NESTING} deep"
                )));
            }
            if !parent.as_struct().is_some_and(|p| p.is_group) {
                break;
            }
            scope = parent.scope_id;
        }
    }
    Ok(())
}

/// Each annotation is declared for one of `targets`, and its value has the declared type.
fn check_annotations(
    pool: &SchemaPool,
    annotations: &[Annotation],
    at: &Place<'_>,
    targets: &[&str],
) -> Result<(), SchemaError> {
    for a in annotations {
        // The loader checked that the ID names an annotation declaration.
        let Some(decl) = pool.index_of(a.id).map(|i| pool.node(i)) else {
            continue;
        };
        let NodeKind::Annotation(d) = &decl.kind else {
            continue;
        };
        if !targets.iter().any(|t| d.targets.contains(t)) {
            return Err(at.error(format_args!(
                "the annotation `{}` (@{:#x}) is applied to a {}, which it does not allow \
                 (it allows: {})",
                decl.display_name,
                decl.id,
                targets[0],
                if d.targets.is_empty() {
                    "nothing".to_string()
                } else {
                    d.targets.join(", ")
                }
            )));
        }
        let what = format!("the value of annotation `{}`", decl.display_name);
        check_value(&d.ty, &a.value, at, &what)?;
    }
    Ok(())
}
