//! Building a [`SchemaPool`] from a `CodeGeneratorRequest`.

use std::collections::HashMap;
use std::sync::Arc;

use capnp::schema_capnp::{self as sc, brand, node, type_, value};

use crate::model::*;
use crate::SchemaError;

const NO_DISCRIMINANT: u16 = 0xffff;

impl SchemaPool {
    /// Builds a pool from the bytes of a `CodeGeneratorRequest` message (what
    /// `capnp compile -o- FILE...` writes to standard output).
    pub fn from_code_generator_request(bytes: &[u8]) -> Result<Self, SchemaError> {
        let mut slice = bytes;
        let options = capnp::message::ReaderOptions {
            // A compiled schema can legitimately be large (every node of every import).
            traversal_limit_in_words: Some(1 << 28),
            nesting_limit: 64,
        };
        // Copying into owned segments keeps the words aligned whatever the input's alignment
        // (bytes from `include_bytes!` are not).
        let message = capnp::serialize::read_message(&mut slice, options)?;
        let request: sc::code_generator_request::Reader = message.get_root()?;
        Self::from_request_reader(request)
    }

    /// Builds a pool from a `CodeGeneratorRequest` reader.
    pub fn from_request_reader(
        request: sc::code_generator_request::Reader<'_>,
    ) -> Result<Self, SchemaError> {
        let nodes = request.get_nodes()?;
        let mut pool = SchemaPool::default();
        for (i, n) in nodes.iter().enumerate() {
            if pool.by_id.insert(n.get_id(), i as NodeIndex).is_some() {
                return Err(SchemaError::new(format!(
                    "node @{:#x} appears twice in the request",
                    n.get_id()
                )));
            }
        }
        let mut docs: HashMap<u64, String> = HashMap::new();
        if request.has_source_info() {
            for info in request.get_source_info()? {
                let doc = info.get_doc_comment()?.to_string()?;
                if !doc.is_empty() {
                    docs.insert(info.get_id(), doc);
                }
            }
        }
        for n in nodes.iter() {
            let node = pool.load_node(n, &docs)?;
            pool.nodes.push(node);
        }
        for f in request.get_requested_files()? {
            let mut imports = Vec::new();
            for imp in f.get_imports()? {
                imports.push((imp.get_id(), imp.get_name()?.to_string()?));
            }
            pool.requested_files.push(RequestedFile {
                id: f.get_id(),
                filename: f.get_filename()?.to_string()?,
                imports,
            });
        }
        pool.index_names();
        pool.check_layouts()?;
        Ok(pool)
    }

    fn index_names(&mut self) {
        let mut by_name: HashMap<String, Vec<NodeIndex>> = HashMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if matches!(n.kind, NodeKind::File) {
                continue;
            }
            let i = i as NodeIndex;
            let full = &n.display_name;
            let mut keys = vec![full.clone()];
            if let Some((file, path)) = full.split_once(':') {
                let base = file.rsplit('/').next().unwrap_or(file);
                keys.push(format!("{base}:{path}"));
                keys.push(path.to_string());
                if let Some((_, last)) = path.rsplit_once('.') {
                    keys.push(last.to_string());
                }
            }
            keys.dedup();
            for k in keys {
                let e = by_name.entry(k).or_default();
                if !e.contains(&i) {
                    e.push(i);
                }
            }
        }
        self.by_name = by_name;
    }

    /// Rejects layouts that would make the serializer write outside a struct's sections.
    fn check_layouts(&self) -> Result<(), SchemaError> {
        for n in &self.nodes {
            let Some(s) = n.as_struct() else { continue };
            let data_bits = s.data_words as u64 * 64;
            if s.discriminant_count > 0 && (s.discriminant_offset as u64 + 1) * 16 > data_bits {
                return Err(self.layout_error(n, "the union discriminant"));
            }
            for f in &s.fields {
                let ok = match &f.slot {
                    FieldSlot::Void => true,
                    FieldSlot::Data { ty, offset, .. } => {
                        (*offset as u64 + 1) * ty.data_bits().unwrap_or(0) as u64 <= data_bits
                    }
                    FieldSlot::Pointer { index, .. } => *index < s.pointer_count,
                    FieldSlot::Group { node } => self.node(*node).as_struct().is_some_and(|g| {
                        g.data_words == s.data_words && g.pointer_count == s.pointer_count
                    }),
                };
                if !ok {
                    return Err(self.layout_error(n, &format!("field `{}`", f.name)));
                }
            }
        }
        Ok(())
    }

    fn layout_error(&self, n: &Node, what: &str) -> SchemaError {
        SchemaError::new(format!(
            "invalid layout in `{}`: {what} lies outside the struct's sections",
            n.display_name
        ))
    }

    fn index(&self, id: u64) -> Result<NodeIndex, SchemaError> {
        self.by_id.get(&id).copied().ok_or_else(|| {
            SchemaError::new(format!(
                "the request refers to node @{id:#x}, which it does not contain"
            ))
        })
    }

    fn load_node(
        &self,
        n: node::Reader<'_>,
        docs: &HashMap<u64, String>,
    ) -> Result<Node, SchemaError> {
        let display_name = n.get_display_name()?.to_string()?;
        let mut parameters = Vec::new();
        for p in n.get_parameters()? {
            parameters.push(p.get_name()?.to_string()?);
        }
        let mut nested = Vec::new();
        for nn in n.get_nested_nodes()? {
            nested.push((nn.get_name()?.to_string()?, nn.get_id()));
        }
        let kind = match n.which()? {
            node::File(()) => NodeKind::File,
            node::Struct(s) => NodeKind::Struct(self.load_struct(s, &display_name)?),
            node::Enum(e) => {
                let mut enumerants = Vec::new();
                for en in e.get_enumerants()?.iter() {
                    let name = en.get_name()?.to_string()?;
                    enumerants.push(Enumerant {
                        name,
                        code_order: en.get_code_order(),
                        annotations: self.load_annotations(en.get_annotations()?)?,
                    });
                }
                let by_name = NameIndex::new(enumerants.iter().map(|e| e.name.as_str()));
                NodeKind::Enum(EnumNode {
                    enumerants,
                    by_name,
                })
            }
            node::Interface(i) => {
                let mut methods = Vec::new();
                for m in i.get_methods()? {
                    let mut implicit_parameters = Vec::new();
                    for p in m.get_implicit_parameters()? {
                        implicit_parameters.push(p.get_name()?.to_string()?);
                    }
                    methods.push(Method {
                        name: m.get_name()?.to_string()?,
                        code_order: m.get_code_order(),
                        param_struct: m.get_param_struct_type(),
                        param_brand: self.load_brand(m.get_param_brand()?)?,
                        result_struct: m.get_result_struct_type(),
                        result_brand: self.load_brand(m.get_result_brand()?)?,
                        implicit_parameters,
                        annotations: self.load_annotations(m.get_annotations()?)?,
                    });
                }
                let mut superclasses = Vec::new();
                for s in i.get_superclasses()? {
                    superclasses.push((s.get_id(), self.load_brand(s.get_brand()?)?));
                }
                NodeKind::Interface(InterfaceNode {
                    methods,
                    superclasses,
                })
            }
            node::Const(c) => NodeKind::Const(ConstNode {
                ty: self.load_type(c.get_type()?)?,
                value: self.load_value(c.get_value()?)?,
            }),
            node::Annotation(a) => {
                let flags = [
                    (a.get_targets_file(), "file"),
                    (a.get_targets_const(), "const"),
                    (a.get_targets_enum(), "enum"),
                    (a.get_targets_enumerant(), "enumerant"),
                    (a.get_targets_struct(), "struct"),
                    (a.get_targets_field(), "field"),
                    (a.get_targets_union(), "union"),
                    (a.get_targets_group(), "group"),
                    (a.get_targets_interface(), "interface"),
                    (a.get_targets_method(), "method"),
                    (a.get_targets_param(), "param"),
                    (a.get_targets_annotation(), "annotation"),
                ];
                NodeKind::Annotation(AnnotationNode {
                    ty: self.load_type(a.get_type()?)?,
                    targets: flags.iter().filter(|f| f.0).map(|f| f.1).collect(),
                })
            }
        };
        Ok(Node {
            id: n.get_id(),
            display_name_prefix_length: n.get_display_name_prefix_length() as usize,
            display_name,
            scope_id: n.get_scope_id(),
            parameters,
            is_generic: n.get_is_generic(),
            nested,
            annotations: self.load_annotations(n.get_annotations()?)?,
            doc_comment: docs.get(&n.get_id()).cloned(),
            kind,
        })
    }

    fn load_struct(
        &self,
        s: node::struct_::Reader<'_>,
        display_name: &str,
    ) -> Result<StructNode, SchemaError> {
        let mut fields = Vec::new();
        let mut union_members: Vec<(u16, u16)> = Vec::new();
        let mut plain: Vec<(u16, u16)> = Vec::new();
        for (i, f) in s.get_fields()?.iter().enumerate() {
            let i = i as u16;
            let name = f.get_name()?.to_string()?;
            let discriminant = match f.get_discriminant_value() {
                NO_DISCRIMINANT => None,
                d => Some(d),
            };
            let ordinal = match f.get_ordinal().which()? {
                sc::field::ordinal::Implicit(()) => None,
                sc::field::ordinal::Explicit(o) => Some(o),
            };
            let slot = match f.which()? {
                sc::field::Slot(slot) => {
                    let ty = self.load_type(slot.get_type()?)?;
                    let default = if slot.has_default_value() {
                        Some(self.load_value(slot.get_default_value()?)?)
                    } else {
                        None
                    };
                    if matches!(ty, Type::Void) {
                        FieldSlot::Void
                    } else if ty.is_data() {
                        FieldSlot::Data {
                            offset: slot.get_offset(),
                            default_bits: default.as_ref().map_or(0, Value::data_bits),
                            ty,
                        }
                    } else {
                        let index = u16::try_from(slot.get_offset()).map_err(|_| {
                            SchemaError::new(format!(
                                "field `{name}` of `{display_name}` has pointer offset {} out of range",
                                slot.get_offset()
                            ))
                        })?;
                        let default = default.filter(|v| match v {
                            Value::Text(t) => !t.is_empty() || slot.get_had_explicit_default(),
                            Value::Data(d) => !d.is_empty() || slot.get_had_explicit_default(),
                            Value::List(p) | Value::Struct(p) | Value::AnyPointer(p) => {
                                !p.is_null()
                            }
                            _ => false,
                        });
                        FieldSlot::Pointer { ty, index, default }
                    }
                }
                sc::field::Group(g) => FieldSlot::Group {
                    node: self.index(g.get_type_id())?,
                },
            };
            match discriminant {
                Some(d) => union_members.push((d, i)),
                None => plain.push((f.get_code_order(), i)),
            }
            fields.push(Field {
                name,
                code_order: f.get_code_order(),
                discriminant,
                ordinal,
                annotations: self.load_annotations(f.get_annotations()?)?,
                slot,
            });
        }
        union_members.sort_unstable();
        plain.sort_unstable();
        let discriminant_count = s.get_discriminant_count();
        if union_members.len() != discriminant_count as usize
            || union_members
                .iter()
                .enumerate()
                .any(|(i, (d, _))| *d as usize != i)
        {
            return Err(SchemaError::new(format!(
                "`{display_name}` has inconsistent union discriminants"
            )));
        }
        let by_name = NameIndex::new(fields.iter().map(|f| f.name.as_str()));
        Ok(StructNode {
            data_words: s.get_data_word_count(),
            pointer_count: s.get_pointer_count(),
            is_group: s.get_is_group(),
            discriminant_count,
            discriminant_offset: s.get_discriminant_offset(),
            fields,
            union_members: union_members.into_iter().map(|(_, i)| i).collect(),
            plain_fields: plain.into_iter().map(|(_, i)| i).collect(),
            by_name,
        })
    }

    fn load_annotations(
        &self,
        list: capnp::struct_list::Reader<'_, sc::annotation::Owned>,
    ) -> Result<Vec<Annotation>, SchemaError> {
        let mut out = Vec::with_capacity(list.len() as usize);
        for a in list {
            out.push(Annotation {
                id: a.get_id(),
                brand: self.load_brand(a.get_brand()?)?,
                value: self.load_value(a.get_value()?)?,
            });
        }
        Ok(out)
    }

    fn load_brand(&self, b: brand::Reader<'_>) -> Result<Option<Arc<Brand>>, SchemaError> {
        let scopes = b.get_scopes()?;
        if scopes.is_empty() {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(scopes.len() as usize);
        for s in scopes {
            let bindings = match s.which()? {
                brand::scope::Bind(list) => {
                    let list = list?;
                    let mut v = Vec::with_capacity(list.len() as usize);
                    for binding in list {
                        v.push(match binding.which()? {
                            brand::binding::Unbound(()) => None,
                            brand::binding::Type(t) => Some(self.load_type(t?)?),
                        });
                    }
                    Some(v)
                }
                brand::scope::Inherit(()) => None,
            };
            out.push(BrandScope {
                scope_id: s.get_scope_id(),
                bindings,
            });
        }
        Ok(Some(Arc::new(Brand { scopes: out })))
    }

    fn load_type(&self, t: type_::Reader<'_>) -> Result<Type, SchemaError> {
        use type_::any_pointer as ap;
        Ok(match t.which()? {
            type_::Void(()) => Type::Void,
            type_::Bool(()) => Type::Bool,
            type_::Int8(()) => Type::Int8,
            type_::Int16(()) => Type::Int16,
            type_::Int32(()) => Type::Int32,
            type_::Int64(()) => Type::Int64,
            type_::Uint8(()) => Type::UInt8,
            type_::Uint16(()) => Type::UInt16,
            type_::Uint32(()) => Type::UInt32,
            type_::Uint64(()) => Type::UInt64,
            type_::Float32(()) => Type::Float32,
            type_::Float64(()) => Type::Float64,
            type_::Text(()) => Type::Text,
            type_::Data(()) => Type::Data,
            type_::List(l) => Type::List(Box::new(self.load_type(l.get_element_type()?)?)),
            type_::Enum(e) => Type::Enum(self.index(e.get_type_id())?),
            type_::Struct(s) => Type::Struct(
                self.index(s.get_type_id())?,
                self.load_brand(s.get_brand()?)?,
            ),
            type_::Interface(i) => Type::Interface(
                self.index(i.get_type_id())?,
                self.load_brand(i.get_brand()?)?,
            ),
            type_::AnyPointer(a) => match a.which()? {
                ap::Unconstrained(u) => Type::AnyPointer(match u.which()? {
                    ap::unconstrained::AnyKind(()) => AnyPointerKind::Any,
                    ap::unconstrained::Struct(()) => AnyPointerKind::Struct,
                    ap::unconstrained::List(()) => AnyPointerKind::List,
                    ap::unconstrained::Capability(()) => AnyPointerKind::Capability,
                }),
                ap::Parameter(p) => Type::Param {
                    scope_id: p.get_scope_id(),
                    index: p.get_parameter_index(),
                },
                ap::ImplicitMethodParameter(p) => Type::MethodParam(p.get_parameter_index()),
            },
        })
    }

    fn load_value(&self, v: value::Reader<'_>) -> Result<Value, SchemaError> {
        Ok(match v.which()? {
            value::Void(()) => Value::Void,
            value::Bool(b) => Value::Bool(b),
            value::Int8(x) => Value::Int8(x),
            value::Int16(x) => Value::Int16(x),
            value::Int32(x) => Value::Int32(x),
            value::Int64(x) => Value::Int64(x),
            value::Uint8(x) => Value::UInt8(x),
            value::Uint16(x) => Value::UInt16(x),
            value::Uint32(x) => Value::UInt32(x),
            value::Uint64(x) => Value::UInt64(x),
            value::Float32(x) => Value::Float32(x),
            value::Float64(x) => Value::Float64(x),
            value::Text(t) => Value::Text(t?.to_string()?),
            value::Data(d) => Value::Data(d?.to_vec()),
            value::List(p) => Value::List(raw_pointer(p)?),
            value::Enum(e) => Value::Enum(e),
            value::Struct(p) => Value::Struct(raw_pointer(p)?),
            value::Interface(()) => Value::Interface,
            value::AnyPointer(p) => Value::AnyPointer(raw_pointer(p)?),
        })
    }
}

/// Copies the object behind `p` into a fresh single-segment message.
fn raw_pointer(p: capnp::any_pointer::Reader<'_>) -> Result<RawPointer, SchemaError> {
    let words = p.target_size()?.word_count as u32 + 1;
    let mut message = capnp::message::Builder::new(
        capnp::message::HeapAllocator::new().first_segment_words(words.max(2)),
    );
    message.set_root(p)?;
    let segments = message.get_segments_for_output();
    if segments.len() != 1 {
        return Err(SchemaError::new(
            "a pointer value in the schema did not fit in one segment",
        ));
    }
    Ok(RawPointer(Arc::from(segments[0])))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request with one struct whose only field is a `UInt32` at `offset`, in a struct of
    /// `data_words` words.
    fn request(data_words: u16, offset: u32) -> Vec<u8> {
        let mut message = capnp::message::Builder::new_default();
        let request = message.init_root::<sc::code_generator_request::Builder>();
        let mut nodes = request.init_nodes(1);
        let mut node = nodes.reborrow().get(0);
        node.set_id(0xabcd);
        node.set_display_name("bad.capnp:Bad");
        node.set_display_name_prefix_length(10);
        let mut st = node.init_struct();
        st.set_data_word_count(data_words);
        st.set_pointer_count(0);
        let mut field = st.init_fields(1).get(0);
        field.set_name("x");
        field.set_discriminant_value(NO_DISCRIMINANT);
        let mut slot = field.init_slot();
        slot.set_offset(offset);
        slot.init_type().set_uint32(());
        capnp::serialize::write_message_to_words(&message)
    }

    #[test]
    fn a_field_outside_its_struct_is_rejected() {
        assert!(SchemaPool::from_code_generator_request(&request(1, 1)).is_ok());
        let err = SchemaPool::from_code_generator_request(&request(1, 2)).unwrap_err();
        assert!(
            err.message().contains("field `x` lies outside"),
            "{}",
            err.message()
        );
    }
}
