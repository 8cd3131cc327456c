//! Writes the compiler's output as a `CodeGeneratorRequest` message.

use super::out::*;
use capnp::schema_capnp::{brand, code_generator_request, node, type_, value};

/// The reference compiler version the output claims to match (`capnpVersion`).
const CAPNP_VERSION: (u16, u8, u8) = (0, 9, 2);

/// Serializes `request` as an unpacked stream message, exactly the framing `capnp compile -o-`
/// writes to stdout.
pub(crate) fn write_request(request: &Request) -> Result<Vec<u8>, capnp::Error> {
    // One segment sized for the whole request saves growing it node by node.
    let estimate = 256 + 128 * request.nodes.len() as u32;
    let mut message = capnp::message::Builder::new(
        capnp::message::HeapAllocator::new().first_segment_words(estimate),
    );
    build(request, message.init_root())?;
    let mut bytes =
        Vec::with_capacity(8 * capnp::serialize::compute_serialized_size_in_words(&message) + 8);
    capnp::serialize::write_message(&mut bytes, &message)?;
    Ok(bytes)
}

fn build(request: &Request, mut root: code_generator_request::Builder<'_>) -> capnp::Result<()> {
    {
        let mut version = root.reborrow().init_capnp_version();
        version.set_major(CAPNP_VERSION.0);
        version.set_minor(CAPNP_VERSION.1);
        version.set_micro(CAPNP_VERSION.2);
    }
    let mut nodes = root.reborrow().init_nodes(len(request.nodes.len())?);
    for (i, n) in request.nodes.iter().enumerate() {
        build_node(n, nodes.reborrow().get(i as u32))?;
    }
    let mut files = root
        .reborrow()
        .init_requested_files(len(request.requested_files.len())?);
    for (i, f) in request.requested_files.iter().enumerate() {
        let mut b = files.reborrow().get(i as u32);
        b.set_id(f.id);
        b.set_filename(f.filename.as_str());
        let mut imports = b.init_imports(len(f.imports.len())?);
        for (j, (id, name)) in f.imports.iter().enumerate() {
            let mut imp = imports.reborrow().get(j as u32);
            imp.set_id(*id);
            imp.set_name(name.as_str());
        }
    }
    let mut infos = root.init_source_info(len(request.source_info.len())?);
    for (i, s) in request.source_info.iter().enumerate() {
        let mut b = infos.reborrow().get(i as u32);
        b.set_id(s.id);
        if let Some(doc) = &s.doc_comment {
            b.set_doc_comment(doc.as_str());
        }
        let mut members = b.init_members(len(s.members.len())?);
        for (j, doc) in s.members.iter().enumerate() {
            if let Some(doc) = doc {
                members
                    .reborrow()
                    .get(j as u32)
                    .set_doc_comment(doc.as_str());
            }
        }
    }
    Ok(())
}

fn len(n: usize) -> capnp::Result<u32> {
    u32::try_from(n).map_err(|_| capnp::Error::failed("list too long".into()))
}

fn build_node(n: &Node, mut b: node::Builder<'_>) -> capnp::Result<()> {
    b.set_id(n.id);
    b.set_display_name(n.display_name.as_str());
    b.set_display_name_prefix_length(n.display_name_prefix_length);
    b.set_scope_id(n.scope_id);
    if !n.is_aux {
        let mut nested = b.reborrow().init_nested_nodes(len(n.nested.len())?);
        for (i, (name, id)) in n.nested.iter().enumerate() {
            let mut e = nested.reborrow().get(i as u32);
            e.set_name(name.as_str());
            e.set_id(*id);
        }
    }
    if !n.annotations.is_empty() {
        build_annotations(
            &n.annotations,
            b.reborrow().init_annotations(len(n.annotations.len())?),
        )?;
    }
    if !n.parameters.is_empty() {
        let mut params = b.reborrow().init_parameters(len(n.parameters.len())?);
        for (i, p) in n.parameters.iter().enumerate() {
            params.reborrow().get(i as u32).set_name(p.as_str());
        }
    }
    b.set_is_generic(n.is_generic);
    match &n.kind {
        NodeKind::File => b.set_file(()),
        NodeKind::Struct(s) => {
            let mut sb = b.init_struct();
            sb.set_data_word_count(s.data_words);
            sb.set_pointer_count(s.pointers);
            sb.set_preferred_list_encoding(capnp::schema_capnp::ElementSize::InlineComposite);
            sb.set_is_group(s.is_group);
            sb.set_discriminant_count(s.discriminant_count);
            sb.set_discriminant_offset(s.discriminant_offset);
            if s.fields.is_empty() {
                return Ok(());
            }
            let mut fields = sb.init_fields(len(s.fields.len())?);
            for (i, f) in s.fields.iter().enumerate() {
                let mut fb = fields.reborrow().get(i as u32);
                fb.set_name(f.name.as_str());
                fb.set_code_order(f.code_order);
                if !f.annotations.is_empty() {
                    build_annotations(
                        &f.annotations,
                        fb.reborrow().init_annotations(len(f.annotations.len())?),
                    )?;
                }
                fb.set_discriminant_value(f.discriminant_value);
                match f.ordinal {
                    Some(o) => fb.reborrow().init_ordinal().set_explicit(o),
                    None => fb.reborrow().init_ordinal().set_implicit(()),
                }
                match &f.kind {
                    FieldKind::Slot {
                        offset,
                        type_,
                        default_value,
                        had_explicit_default,
                    } => {
                        let mut slot = fb.init_slot();
                        slot.set_offset(*offset);
                        build_type(type_, slot.reborrow().init_type())?;
                        build_value(default_value, slot.reborrow().init_default_value())?;
                        slot.set_had_explicit_default(*had_explicit_default);
                    }
                    FieldKind::Group { type_id } => fb.init_group().set_type_id(*type_id),
                }
            }
        }
        NodeKind::Enum(enumerants) => {
            let mut list = b.init_enum().init_enumerants(len(enumerants.len())?);
            for (i, e) in enumerants.iter().enumerate() {
                let mut eb = list.reborrow().get(i as u32);
                eb.set_name(e.name.as_str());
                eb.set_code_order(e.code_order);
                if !e.annotations.is_empty() {
                    build_annotations(
                        &e.annotations,
                        eb.reborrow().init_annotations(len(e.annotations.len())?),
                    )?;
                }
            }
        }
        NodeKind::Interface {
            methods,
            superclasses,
        } => {
            let mut ib = b.init_interface();
            let mut list = ib.reborrow().init_methods(len(methods.len())?);
            for (i, m) in methods.iter().enumerate() {
                let mut mb = list.reborrow().get(i as u32);
                mb.set_name(m.name.as_str());
                mb.set_code_order(m.code_order);
                let mut params = mb
                    .reborrow()
                    .init_implicit_parameters(len(m.implicit_parameters.len())?);
                for (j, p) in m.implicit_parameters.iter().enumerate() {
                    params.reborrow().get(j as u32).set_name(p.as_str());
                }
                mb.set_param_struct_type(m.param_struct_type);
                if !m.param_brand.scopes.is_empty() {
                    build_brand(&m.param_brand, mb.reborrow().init_param_brand())?;
                }
                mb.set_result_struct_type(m.result_struct_type);
                if !m.result_brand.scopes.is_empty() {
                    build_brand(&m.result_brand, mb.reborrow().init_result_brand())?;
                }
                if !m.annotations.is_empty() {
                    build_annotations(
                        &m.annotations,
                        mb.reborrow().init_annotations(len(m.annotations.len())?),
                    )?;
                }
            }
            let mut list = ib.init_superclasses(len(superclasses.len())?);
            for (i, (id, brand)) in superclasses.iter().enumerate() {
                let mut sb = list.reborrow().get(i as u32);
                sb.set_id(*id);
                if !brand.scopes.is_empty() {
                    build_brand(brand, sb.init_brand())?;
                }
            }
        }
        NodeKind::Const { type_, value } => {
            let mut cb = b.init_const();
            build_type(type_, cb.reborrow().init_type())?;
            build_value(value, cb.init_value())?;
        }
        NodeKind::Annotation { type_, targets } => {
            let mut ab = b.init_annotation();
            build_type(type_, ab.reborrow().init_type())?;
            ab.set_targets_file(targets.file);
            ab.set_targets_const(targets.const_);
            ab.set_targets_enum(targets.enum_);
            ab.set_targets_enumerant(targets.enumerant);
            ab.set_targets_struct(targets.struct_);
            ab.set_targets_field(targets.field);
            ab.set_targets_union(targets.union_);
            ab.set_targets_group(targets.group);
            ab.set_targets_interface(targets.interface);
            ab.set_targets_method(targets.method);
            ab.set_targets_param(targets.param);
            ab.set_targets_annotation(targets.annotation);
        }
    }
    Ok(())
}

fn build_annotations(
    annotations: &[Annotation],
    mut list: capnp::struct_list::Builder<'_, capnp::schema_capnp::annotation::Owned>,
) -> capnp::Result<()> {
    for (i, a) in annotations.iter().enumerate() {
        let mut ab = list.reborrow().get(i as u32);
        ab.set_id(a.id);
        // The reference compiler always gives an annotation a brand, empty when not generic.
        build_brand(&a.brand, ab.reborrow().init_brand())?;
        build_value(&a.value, ab.init_value())?;
    }
    Ok(())
}

fn build_brand(brand: &Brand, b: brand::Builder<'_>) -> capnp::Result<()> {
    if brand.scopes.is_empty() {
        return Ok(());
    }
    let mut scopes = b.init_scopes(len(brand.scopes.len())?);
    for (i, scope) in brand.scopes.iter().enumerate() {
        let mut sb = scopes.reborrow().get(i as u32);
        sb.set_scope_id(scope.scope_id);
        match &scope.bind {
            None => sb.set_inherit(()),
            Some(bindings) => {
                let mut list = sb.init_bind(len(bindings.len())?);
                for (j, binding) in bindings.iter().enumerate() {
                    let mut bb = list.reborrow().get(j as u32);
                    match binding {
                        None => bb.set_unbound(()),
                        Some(t) => build_type(t, bb.init_type())?,
                    }
                }
            }
        }
    }
    Ok(())
}

fn build_type(t: &Type, mut b: type_::Builder<'_>) -> capnp::Result<()> {
    match t {
        Type::Void => b.set_void(()),
        Type::Bool => b.set_bool(()),
        Type::Int8 => b.set_int8(()),
        Type::Int16 => b.set_int16(()),
        Type::Int32 => b.set_int32(()),
        Type::Int64 => b.set_int64(()),
        Type::UInt8 => b.set_uint8(()),
        Type::UInt16 => b.set_uint16(()),
        Type::UInt32 => b.set_uint32(()),
        Type::UInt64 => b.set_uint64(()),
        Type::Float32 => b.set_float32(()),
        Type::Float64 => b.set_float64(()),
        Type::Text => b.set_text(()),
        Type::Data => b.set_data(()),
        Type::List(element) => build_type(element, b.init_list().init_element_type())?,
        Type::Enum(id, brand) => {
            let mut e = b.init_enum();
            e.set_type_id(*id);
            if !brand.scopes.is_empty() {
                build_brand(brand, e.init_brand())?;
            }
        }
        Type::Struct(id, brand) => {
            let mut s = b.init_struct();
            s.set_type_id(*id);
            if !brand.scopes.is_empty() {
                build_brand(brand, s.init_brand())?;
            }
        }
        Type::Interface(id, brand) => {
            let mut s = b.init_interface();
            s.set_type_id(*id);
            if !brand.scopes.is_empty() {
                build_brand(brand, s.init_brand())?;
            }
        }
        Type::AnyPointer(kind) => {
            let a = b.init_any_pointer();
            match *kind {
                AnyPointer::Any => a.init_unconstrained().set_any_kind(()),
                AnyPointer::AnyStruct => a.init_unconstrained().set_struct(()),
                AnyPointer::AnyList => a.init_unconstrained().set_list(()),
                AnyPointer::Capability => a.init_unconstrained().set_capability(()),
                AnyPointer::Parameter { scope_id, index } => {
                    let mut p = a.init_parameter();
                    p.set_scope_id(scope_id);
                    p.set_parameter_index(index);
                }
                AnyPointer::ImplicitMethodParameter { index } => {
                    a.init_implicit_method_parameter()
                        .set_parameter_index(index);
                }
            }
        }
    }
    Ok(())
}

fn build_value(v: &Value, mut b: value::Builder<'_>) -> capnp::Result<()> {
    match v {
        Value::Void => b.set_void(()),
        Value::Bool(x) => b.set_bool(*x),
        Value::Int8(x) => b.set_int8(*x),
        Value::Int16(x) => b.set_int16(*x),
        Value::Int32(x) => b.set_int32(*x),
        Value::Int64(x) => b.set_int64(*x),
        Value::UInt8(x) => b.set_uint8(*x),
        Value::UInt16(x) => b.set_uint16(*x),
        Value::UInt32(x) => b.set_uint32(*x),
        Value::UInt64(x) => b.set_uint64(*x),
        Value::Float32(x) => b.set_float32(*x),
        Value::Float64(x) => b.set_float64(*x),
        Value::Text(None) => clear_member(b, "text")?,
        Value::Text(Some(s)) => b.set_text(capnp::text::Reader(s)),
        Value::Data(None) => clear_member(b, "data")?,
        Value::Data(Some(d)) => b.set_data(d),
        Value::List(p) => copy_pointer(p, b.init_list())?,
        Value::Enum(x) => b.set_enum(*x),
        Value::Struct(p) => copy_pointer(p, b.init_struct())?,
        Value::Interface => b.set_interface(()),
        Value::AnyPointer(p) => copy_pointer(p, b.init_any_pointer())?,
    }
    Ok(())
}

/// Selects a pointer member of `Value` and leaves it null, as the reference compiler does for a
/// Text or Data field without a default. The generated setters cannot express a null Text.
fn clear_member(b: value::Builder<'_>, member: &str) -> capnp::Result<()> {
    let dynamic: capnp::dynamic_value::Builder<'_> = b.into();
    let mut dynamic: capnp::dynamic_struct::Builder<'_> = dynamic.downcast();
    dynamic.clear_named(member)
}

fn copy_pointer(
    flat: &Option<Vec<u8>>,
    mut target: capnp::any_pointer::Builder<'_>,
) -> capnp::Result<()> {
    match flat {
        None => {
            target.clear();
            Ok(())
        }
        Some(bytes) => {
            let words = capnp::Word::allocate_zeroed_vec(bytes.len().div_ceil(8));
            let mut words = words;
            capnp::Word::words_to_bytes_mut(&mut words)[..bytes.len()].copy_from_slice(bytes);
            let segments: [&[u8]; 1] = [capnp::Word::words_to_bytes(&words)];
            let reader = capnp::message::Reader::new(
                capnp::message::SegmentArray::new(&segments),
                capnp::message::ReaderOptions {
                    traversal_limit_in_words: None,
                    nesting_limit: 128,
                },
            );
            target.set_as(reader.get_root::<capnp::any_pointer::Reader<'_>>()?)
        }
    }
}
