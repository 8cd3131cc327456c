//! What `capnp eval FILE NAME` compiles: the file's own node, the declaration the name leads
//! to and whatever printing its value looks at, in the order the reference tool looks at them,
//! with annotations left out as that command leaves them out. Errors anywhere else in the
//! file are never met, so they neither print nor stop the evaluation.

use super::*;

/// What an evaluation's value is printed as, which decides which types `capnp eval` compiles
/// on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalOutput {
    /// The text format: printing a struct looks at the type of every field it prints.
    Text,
    /// JSON: the codec looks at the types of all fields of every struct type reachable from
    /// the value's type before it prints.
    Json,
    /// A message (binary, packed, flat or canonical): the struct is copied without looking at
    /// any type.
    Message,
}

/// Compiles what evaluating `name` in unit `file` needs. The errors are those the reference
/// tool reports on the way; the request also holds what a schema pool needs to load the nodes
/// compiled (their dependencies, compiled without reporting anything), so it is not the
/// reference's set of nodes.
pub(crate) fn evaluate(
    program: Program<'_>,
    file: usize,
    name: &str,
    output: EvalOutput,
) -> (out::Request, Vec<Error>) {
    let mut t = Translator::new(program);
    t.annotations = false;
    let root = t.file_root(file);
    t.finished(root);
    if let Some(parts) = parse_name(name) {
        t.eval_path(root, &parts, output);
    }
    let errors = std::mem::take(&mut t.errors);
    t.complete_dependencies();
    let request = t.eval_request(root, file);
    (request, errors)
}

/// One `name[1][2]` part of an evaluated name.
struct Part<'n> {
    name: &'n str,
    subscripts: Vec<u64>,
}

/// Splits `a.b[1][2].c` into parts, or `None` when it is not such a name (the evaluation then
/// reports it; nothing but the file is compiled).
fn parse_name(name: &str) -> Option<Vec<Part<'_>>> {
    let mut parts = Vec::new();
    let mut rest = name;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let ident = &rest[..end];
        if ident.is_empty() || ident.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        rest = &rest[end..];
        let mut subscripts = Vec::new();
        while let Some(inner) = rest.strip_prefix('[') {
            let close = inner.find(']')?;
            subscripts.push(parse_integer(&inner[..close])?);
            rest = &inner[close + 1..];
        }
        parts.push(Part {
            name: ident,
            subscripts,
        });
        if let Some(next) = rest.strip_prefix('.') {
            if next.is_empty() {
                return None;
            }
            rest = next;
        } else if !rest.is_empty() {
            return None;
        }
    }
    (!parts.is_empty()).then_some(parts)
}

/// A subscript as the reference reads integers: decimal, `0x` hexadecimal or `0` octal.
fn parse_integer(s: &str) -> Option<u64> {
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u64::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse().ok()
    }
}

/// A value met while following a name: its type and where it is (`Obj::Null` for an unset
/// pointer or an empty struct).
struct Reached {
    ty: out::Type,
    obj: Obj,
}

impl Translator<'_> {
    /// Follows the name as `capnp eval` does: declarations first, each looked up in the last,
    /// then fields and list positions of the value. Stops where the name goes wrong; the
    /// evaluation says why.
    fn eval_path(&mut self, root: usize, parts: &[Part<'_>], output: EvalOutput) {
        let mut scope = root;
        let mut pos = 0;
        let mut stopped_at_subscript = false;
        while let Some(part) = parts.get(pos) {
            self.expand(scope);
            match self.nodes[scope].members.get(part.name).copied() {
                Some(Member::Node(child)) => {
                    scope = child;
                    if !part.subscripts.is_empty() {
                        stopped_at_subscript = true;
                        break;
                    }
                }
                Some(Member::Alias(a)) => {
                    // Looking a name up compiles the alias it names, which the reference's
                    // lookup then does not follow.
                    self.compile_alias(a);
                    break;
                }
                None => break,
            }
            pos += 1;
        }
        let Some(found) = self.finished(scope) else {
            return;
        };
        let mut value = match (&found.node.kind, self.nodes[scope].kind) {
            (out::NodeKind::Const { type_, value }, _) => {
                let (ty, value) = (type_.clone(), value.clone());
                self.look_at_type(&ty);
                Reached {
                    obj: pointer_obj(&value),
                    ty,
                }
            }
            (out::NodeKind::Struct(_), Kind::Struct) if pos < parts.len() => Reached {
                ty: out::Type::Struct(found.node.id, out::Brand::default()),
                obj: Obj::Null,
            },
            _ => return,
        };
        for part in &parts[pos..] {
            if !stopped_at_subscript {
                match self.field_value(&value, part.name) {
                    Some(v) => value = v,
                    None => return,
                }
            }
            stopped_at_subscript = false;
            for &i in &part.subscripts {
                match list_element(&value, i) {
                    Some(v) => value = v,
                    None => return,
                }
            }
        }
        match output {
            EvalOutput::Text => self.look_at_printed(&value, 0),
            EvalOutput::Json => {
                if let out::Type::Struct(id, brand) = &value.ty {
                    let mut seen = Vec::new();
                    self.look_at_json_types(*id, brand, &mut seen, 0);
                }
            }
            EvalOutput::Message => {}
        }
    }

    /// Compiles the declaration behind a type, as asking a schema for a field's type does.
    fn look_at_type(&mut self, ty: &out::Type) {
        match ty {
            out::Type::List(element) => self.look_at_type(element),
            out::Type::Struct(id, _) | out::Type::Enum(id, _) | out::Type::Interface(id, _) => {
                self.node_by_id(*id);
            }
            _ => {}
        }
    }

    /// The fields of struct (or group) `id`, shared.
    fn struct_fields(&mut self, id: u64) -> Option<NodeRef> {
        let node = self.node_by_id(id)?;
        matches!(node.kind, out::NodeKind::Struct(_)).then_some(node)
    }

    /// The value of field `name` of a struct value, its type compiled.
    fn field_value(&mut self, value: &Reached, name: &str) -> Option<Reached> {
        let out::Type::Struct(id, brand) = &value.ty else {
            return None;
        };
        let node = self.struct_fields(*id)?;
        let out::NodeKind::Struct(s) = &node.kind else {
            return None;
        };
        let field = s.fields.iter().find(|f| f.name == name)?;
        self.member_value(value, brand, field)
    }

    /// The value of one field of a struct value, its type compiled: a group is the struct
    /// itself seen through the group's node; an unset pointer reads as the field's default.
    fn member_value(
        &mut self,
        value: &Reached,
        brand: &out::Brand,
        field: &out::Field,
    ) -> Option<Reached> {
        match &field.kind {
            out::FieldKind::Group { type_id } => Some(Reached {
                ty: out::Type::Struct(*type_id, brand.clone()),
                obj: value.obj.clone(),
            }),
            out::FieldKind::Slot {
                offset,
                type_,
                default_value,
                ..
            } => {
                let ty = substitute(type_, brand);
                self.look_at_type(&ty);
                let obj = match &value.obj {
                    Obj::Struct(s) if is_pointer(&ty) => s.ptrs.get(*offset as usize).cloned(),
                    _ => None,
                }
                .filter(|o| *o != Obj::Null)
                .unwrap_or_else(|| pointer_obj(default_value));
                Some(Reached { ty, obj })
            }
        }
    }

    /// Compiles what printing `value` in the text format looks at: for each struct printed,
    /// the types of the fields outside its union and of the union's active member.
    fn look_at_printed(&mut self, value: &Reached, depth: u32) {
        if depth > MAX_EVAL_DEPTH {
            return;
        }
        match &value.ty {
            out::Type::Struct(id, brand) => {
                let Some(node) = self.struct_fields(*id) else {
                    return;
                };
                let out::NodeKind::Struct(s) = &node.kind else {
                    return;
                };
                let active = match &value.obj {
                    Obj::Struct(o) => read_u16(&o.data, s.discriminant_offset),
                    _ => 0,
                };
                for field in &s.fields {
                    let in_union = field.discriminant_value != out::NO_DISCRIMINANT;
                    if in_union && field.discriminant_value != active {
                        continue;
                    }
                    let Some(member) = self.member_value(value, brand, field) else {
                        continue;
                    };
                    // An unset pointer is not printed, unless it is the union's member (then
                    // its default is).
                    let printed = match &field.kind {
                        out::FieldKind::Group { .. } => true,
                        out::FieldKind::Slot { offset, .. } => {
                            let set = match &value.obj {
                                Obj::Struct(o) => {
                                    !matches!(o.ptrs.get(*offset as usize), None | Some(Obj::Null))
                                }
                                _ => false,
                            };
                            set || (in_union && field.discriminant_value != 0)
                        }
                    };
                    if printed {
                        self.look_at_printed(&member, depth + 1);
                    }
                }
            }
            out::Type::List(element) => {
                let Obj::List(list) = &value.obj else {
                    return;
                };
                for i in 0..list_len(list) {
                    if let Some(item) = list_item(list, element, i) {
                        self.look_at_printed(&item, depth + 1);
                    }
                }
            }
            _ => {}
        }
    }

    /// Compiles what the JSON codec looks at before it prints a struct: the types of all the
    /// fields of every struct type (and group) reachable from it, each brand once.
    fn look_at_json_types(
        &mut self,
        id: u64,
        brand: &out::Brand,
        seen: &mut Vec<(u64, out::Brand)>,
        depth: u32,
    ) {
        if depth > MAX_EVAL_DEPTH || seen.iter().any(|(i, b)| *i == id && b == brand) {
            return;
        }
        seen.push((id, brand.clone()));
        let Some(node) = self.struct_fields(id) else {
            return;
        };
        let out::NodeKind::Struct(s) = &node.kind else {
            return;
        };
        for field in &s.fields {
            match &field.kind {
                out::FieldKind::Group { type_id } => {
                    self.look_at_json_types(*type_id, brand, seen, depth + 1)
                }
                out::FieldKind::Slot { type_, .. } => {
                    let mut ty = substitute(type_, brand);
                    self.look_at_type(&ty);
                    while let out::Type::List(element) = ty {
                        ty = *element;
                    }
                    if let out::Type::Struct(inner, inner_brand) = &ty {
                        self.look_at_json_types(*inner, inner_brand, seen, depth + 1);
                    }
                }
            }
        }
    }

    /// Compiles, without reporting anything, whatever the compiled nodes refer to, so that the
    /// request loads into a schema pool. The reference tool compiles these only if something
    /// looks at them; their errors are not its errors.
    fn complete_dependencies(&mut self) {
        let mut next = 0;
        while next < self.states.len() {
            let idx = next;
            next += 1;
            let Some(done) = (match &self.states[idx] {
                State::Done(Some(f)) => Some(f.clone()),
                _ => None,
            }) else {
                continue;
            };
            let mut deps = Vec::new();
            node_dependencies(&done.node, &mut deps);
            for aux in &done.aux {
                node_dependencies(aux, &mut deps);
            }
            for id in deps {
                let Some(&d) = self.by_id.get(&id) else {
                    continue;
                };
                if matches!(self.states[d], State::Pending) {
                    self.finished(d);
                    // A node compiled now may come before `next`: look at it again.
                    next = next.min(d);
                }
            }
        }
        self.errors.clear();
    }

    /// Every node compiled, with the evaluated file as the requested one.
    fn eval_request(&mut self, root: usize, file: usize) -> out::Request {
        let mut request = out::Request::default();
        for state in &self.states {
            if let State::Done(Some(done)) = state {
                request.nodes.push(done.node.clone());
                request.nodes.extend(done.aux.iter().cloned());
            }
        }
        request.requested_files.push(out::RequestedFile {
            id: self.nodes[root].id,
            filename: self.p.units[file].name.clone(),
            imports: Vec::new(),
        });
        request
    }
}

/// How deep printing a value is followed: values compiled from schema text nest as deep as
/// the text does, which an evaluation does not need to follow further than this.
const MAX_EVAL_DEPTH: u32 = 64;

/// The object a pointer value holds (`Obj::Null` for a null pointer or a non-pointer value).
fn pointer_obj(v: &out::Value) -> Obj {
    match v {
        out::Value::List(m) | out::Value::Struct(m) | out::Value::AnyPointer(m) => {
            m.as_deref().and_then(Obj::from_flat).unwrap_or(Obj::Null)
        }
        _ => Obj::Null,
    }
}

/// The 16-bit word at `offset` (in 16-bit units) of a data section; 0 beyond its end.
fn read_u16(data: &[u8], offset: u32) -> u16 {
    let at = offset as usize * 2;
    match data.get(at..at + 2) {
        Some(b) => u16::from_le_bytes([b[0], b[1]]),
        None => 0,
    }
}

fn list_len(list: &LObj) -> usize {
    match list {
        LObj::Void(n) => *n as usize,
        LObj::Bits { count, .. } => *count as usize,
        LObj::Pointers(items) => items.len(),
        LObj::Structs { elems, .. } => elems.len(),
    }
}

/// Element `i` of a list of type `List(element)`: structs as they are laid out, pointers as
/// they point. Other elements hold nothing to look at.
fn list_item(list: &LObj, element: &out::Type, i: usize) -> Option<Reached> {
    let obj = match list {
        LObj::Structs { elems, .. } => Obj::Struct(elems.get(i)?.clone()),
        LObj::Pointers(items) => items.get(i)?.clone(),
        _ => Obj::Null,
    };
    Some(Reached {
        ty: element.clone(),
        obj,
    })
}

/// Position `i` of a list value, or `None` when the value is no list or too short.
fn list_element(value: &Reached, i: u64) -> Option<Reached> {
    let out::Type::List(element) = &value.ty else {
        return None;
    };
    let Obj::List(list) = &value.obj else {
        return None;
    };
    let i = usize::try_from(i).ok().filter(|&i| i < list_len(list))?;
    list_item(list, element, i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_as_the_reference_splits_them() {
        let parse = |s: &str| {
            parse_name(s).map(|parts| {
                parts
                    .iter()
                    .map(|p| format!("{}{:?}", p.name, p.subscripts))
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(parse("a"), Some(vec!["a[]".to_string()]));
        assert_eq!(
            parse("a.b[1][0x10].c"),
            Some(vec!["a[]".into(), "b[1, 16]".into(), "c[]".into()])
        );
        assert_eq!(parse("a[010]"), Some(vec!["a[8]".to_string()]));
        for bad in ["", "a.", ".a", "a..b", "a[", "a[x]", "1a", "a b", "a[1]x"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
