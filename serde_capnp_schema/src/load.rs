//! Building a [`SchemaPool`] from a `CodeGeneratorRequest`, and checking it.
//!
//! A request is input like any other: it may come from a file or a peer, and it may be
//! hostile. Everything the readers and writers of `serde_capnp` take for granted about the model
//! (the list is on [`SchemaPool`]) is checked here, once, so that they need no checks of their
//! own; a request that breaks a rule is an error naming the node and the member where it does.
//!
//! Memory is bounded by the size of the request: every list is charged for, at a generous
//! estimate of what the model keeps of it, before anything is allocated for it, against a
//! budget of [`MEMORY_PER_REQUEST_BYTE`] bytes per byte of request plus [`MEMORY_BASE`]. A list
//! of zero-sized structs can claim hundreds of millions of elements in a few bytes; it is
//! refused before a single element is read.

use std::collections::HashMap;
use std::fmt;
use std::mem::size_of;
use std::sync::Arc;

use capnp::schema_capnp::{self as sc, brand, node, type_, value};

use crate::model::*;
use crate::SchemaError;

mod budget;
mod check;
mod place;

use budget::{by_name_cost, map_cost, names_cost, str_cost, vec_cost, Budget};
use check::{check, check_value, distinct_position, first_repeat, members};
use place::{plural, At, Place};

/// Bytes of memory a pool may take per byte of the request it is loaded from.
///
/// The charge for each part of the model is an overestimate (hash tables at their emptiest,
/// an allocator's overhead on every allocation); real requests need well under a third of it.
pub const MEMORY_PER_REQUEST_BYTE: usize = 48;

/// Bytes of memory any pool may take, whatever the size of its request.
pub const MEMORY_BASE: usize = 256 * 1024;

/// How deeply groups (and named unions) may nest inside one struct: enough for any real schema
/// (the compiler's tests nest five deep), few enough that reading one struct recurses a bounded
/// number of times.
///
/// A group is read in place, without the nesting a message's pointers are charged for, so a
/// reader that does not count groups against its nesting limit recurses through up to this
/// many levels of groups at each level of a message's nesting.
pub const MAX_GROUP_NESTING: usize = 16;

/// The most members one node may have: fields, enumerants, methods or generic parameters.
/// Positions and discriminants are 16-bit, and a discriminant of `0xffff` means "no union".
pub const MAX_MEMBERS: usize = u16::MAX as usize;

const NO_DISCRIMINANT: u16 = 0xffff;

/// How deeply the request's own message may nest (the `capnp` crate's default).
const REQUEST_NESTING: i32 = 64;

/// Words of the request the loader may read per word the request has, plus a few: each part is
/// read once, a pointer value twice more (once to size it, once to copy it), and a list of
/// zero-sized elements costs a word per element.
const TRAVERSAL_PER_WORD: usize = 4;
const TRAVERSAL_BASE: usize = 1 << 16;

/// What an allocation costs beyond the bytes asked for, at most.
const ALLOC: usize = 16;

impl SchemaPool {
    /// Builds a pool from the bytes of a `CodeGeneratorRequest` message (what
    /// `capnp compile -o- FILE...` writes to standard output). Bytes after the message are
    /// ignored.
    ///
    /// The request is checked as described on [`SchemaPool`]; any error is a [`SchemaError`]
    /// naming the node and member at fault.
    pub fn from_code_generator_request(bytes: &[u8]) -> Result<Self, SchemaError> {
        // An aligned copy of exactly the input: reading it allocates nothing more, whatever the
        // segment table claims (bytes from `include_bytes!` are not aligned).
        let mut words = capnp::Word::allocate_zeroed_vec(bytes.len().div_ceil(8));
        capnp::Word::words_to_bytes_mut(&mut words)[..bytes.len()].copy_from_slice(bytes);
        let mut slice = &capnp::Word::words_to_bytes(&words)[..bytes.len()];
        let options = capnp::message::ReaderOptions {
            traversal_limit_in_words: Some(
                (bytes.len() / 8)
                    .saturating_mul(TRAVERSAL_PER_WORD)
                    .saturating_add(TRAVERSAL_BASE),
            ),
            nesting_limit: REQUEST_NESTING,
        };
        let message = capnp::serialize::read_message_from_flat_slice(&mut slice, options)?;
        let request: sc::code_generator_request::Reader = message.get_root()?;
        Loader::load(request, Budget::new(bytes.len()))
    }

    /// Builds a pool from a `CodeGeneratorRequest` reader, checked as
    /// [`from_code_generator_request`](Self::from_code_generator_request) checks it.
    ///
    /// The memory bound counts the request's size as the reader sees it (its total size, which
    /// the reader's own traversal limit bounds).
    pub fn from_request_reader(
        request: sc::code_generator_request::Reader<'_>,
    ) -> Result<Self, SchemaError> {
        let words = request.total_size()?.word_count;
        let bytes = usize::try_from(words.saturating_mul(8)).unwrap_or(usize::MAX);
        Loader::load(request, Budget::new(bytes))
    }
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/// The kind of a node, known for every node before any is loaded, so that a type can be
/// checked where it is read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    File,
    Struct,
    Enum,
    Interface,
    Const,
    Annotation,
    Unknown,
}

impl Kind {
    fn of(n: node::Reader<'_>) -> Kind {
        match n.which() {
            Ok(node::File(())) => Kind::File,
            Ok(node::Struct(_)) => Kind::Struct,
            Ok(node::Enum(_)) => Kind::Enum,
            Ok(node::Interface(_)) => Kind::Interface,
            Ok(node::Const(_)) => Kind::Const,
            Ok(node::Annotation(_)) => Kind::Annotation,
            Err(_) => Kind::Unknown,
        }
    }

    fn article(self) -> &'static str {
        match self {
            Kind::File => "a file",
            Kind::Struct => "a struct",
            Kind::Enum => "an enum",
            Kind::Interface => "an interface",
            Kind::Const => "a constant",
            Kind::Annotation => "an annotation",
            Kind::Unknown => "a node of a kind this version does not know",
        }
    }
}

/// What the loader knows of a node before loading it.
struct Known {
    kind: Kind,
    /// How many generic parameters it declares.
    parameters: u32,
}

struct Loader<'r> {
    nodes: capnp::struct_list::Reader<'r, node::Owned>,
    by_id: HashMap<u64, NodeIndex>,
    known: Vec<Known>,
    docs: HashMap<u64, String>,
    budget: Budget,
}

impl<'r> Loader<'r> {
    fn load(
        request: sc::code_generator_request::Reader<'r>,
        mut budget: Budget,
    ) -> Result<SchemaPool, SchemaError> {
        let at = Place::REQUEST;
        let nodes = request.get_nodes().at(&at)?;
        let count = nodes.len() as usize;
        budget.take(
            vec_cost::<Node>(count)
                .saturating_add(map_cost::<u64, NodeIndex>(count))
                .saturating_add(vec_cost::<Known>(count))
                // What the checks across nodes keep while they walk scopes.
                .saturating_add(vec_cost::<(u8, usize)>(count)),
            &at,
            format_args!("its {count} nodes"),
        )?;
        let mut by_id = HashMap::with_capacity(count);
        let mut known = Vec::with_capacity(count);
        for (i, n) in nodes.iter().enumerate() {
            let id = n.get_id();
            let at = at.nth("node", i);
            if id == 0 {
                return Err(at.error("its ID is 0, which stands for \"no node\""));
            }
            if let Some(first) = by_id.insert(id, i as NodeIndex) {
                return Err(at.error(format_args!(
                    "its ID @{id:#x} is the ID of node {first} too; IDs must be distinct"
                )));
            }
            let parameters = if n.has_parameters() {
                n.get_parameters().at(&at)?.len()
            } else {
                0
            };
            known.push(Known {
                kind: Kind::of(n),
                parameters,
            });
        }
        let mut loader = Loader {
            nodes,
            by_id,
            known,
            docs: HashMap::new(),
            budget,
        };
        loader.load_docs(request)?;
        let mut nodes = Vec::with_capacity(count);
        for (i, n) in loader.nodes.iter().enumerate() {
            nodes.push(loader.load_node(i, n)?);
        }
        let mut pool = SchemaPool {
            nodes,
            requested_files: loader.load_requested_files(request)?,
            by_id: std::mem::take(&mut loader.by_id),
            by_name: HashMap::new(),
        };
        check(&pool)?;
        let names_len = pool
            .nodes
            .iter()
            .fold(0usize, |sum, n| sum.saturating_add(n.display_name.len()));
        loader.budget.take(
            by_name_cost(pool.nodes.len(), names_len),
            &at,
            "the index of its node names",
        )?;
        pool.index_names();
        Ok(pool)
    }

    /// The doc comments, by node ID, each to be moved into its node.
    fn load_docs(
        &mut self,
        request: sc::code_generator_request::Reader<'r>,
    ) -> Result<(), SchemaError> {
        if !request.has_source_info() {
            return Ok(());
        }
        let at = Place::REQUEST;
        let infos = request.get_source_info().at(&at)?;
        let count = infos.len() as usize;
        self.budget.take(
            map_cost::<u64, String>(count),
            &at,
            format_args!("its {count} source infos"),
        )?;
        self.docs.reserve(count);
        for (i, info) in infos.iter().enumerate() {
            let doc = self.text(
                info.get_doc_comment(),
                &at.nth("source info", i),
                "its doc comment",
            )?;
            if !doc.is_empty() {
                self.docs.insert(info.get_id(), doc);
            }
        }
        Ok(())
    }

    fn load_requested_files(
        &mut self,
        request: sc::code_generator_request::Reader<'r>,
    ) -> Result<Vec<RequestedFile>, SchemaError> {
        let at = Place::REQUEST;
        let files = request.get_requested_files().at(&at)?;
        let count = files.len() as usize;
        self.budget.take(
            vec_cost::<RequestedFile>(count),
            &at,
            format_args!("its {count} requested files"),
        )?;
        let mut out = Vec::with_capacity(count);
        for (i, f) in files.iter().enumerate() {
            let filename = self.text(f.get_filename(), &at.nth("requested file", i), "its name")?;
            let at = at.member("requested file", &filename);
            let list = f.get_imports().at(&at)?;
            let count = list.len() as usize;
            self.budget.take(
                vec_cost::<(u64, String)>(count),
                &at,
                format_args!("its {count} imports"),
            )?;
            let mut imports = Vec::with_capacity(count);
            for (j, imp) in list.iter().enumerate() {
                let name =
                    self.text(imp.get_name(), &at, format_args!("the name of import {j}"))?;
                imports.push((imp.get_id(), name));
            }
            out.push(RequestedFile {
                id: f.get_id(),
                filename,
                imports,
            });
        }
        Ok(out)
    }

    /// A text, charged for and checked to be UTF-8.
    fn text(
        &mut self,
        t: capnp::Result<capnp::text::Reader<'_>>,
        at: &Place<'_>,
        what: impl fmt::Display,
    ) -> Result<String, SchemaError> {
        let t = t.at(at)?;
        self.budget.take(str_cost(t.len()), at, &what)?;
        match t.to_str() {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => Err(at.error(format_args!("{what} is not UTF-8: {e}"))),
        }
    }

    /// The names of a node's or a method's generic parameters, charged for.
    fn parameter_names(
        &mut self,
        list: capnp::Result<capnp::struct_list::Reader<'_, node::parameter::Owned>>,
        at: &Place<'_>,
    ) -> Result<Vec<String>, SchemaError> {
        let list = list.at(at)?;
        let count = list.len() as usize;
        members(count, MAX_MEMBERS, "generic parameters", at)?;
        self.budget.take(
            vec_cost::<String>(count),
            at,
            format_args!("its {count} generic parameters"),
        )?;
        let mut names = Vec::with_capacity(count);
        for (j, p) in list.iter().enumerate() {
            names.push(self.text(
                p.get_name(),
                at,
                format_args!("the name of generic parameter {j}"),
            )?);
        }
        Ok(names)
    }

    /// Names a node of the request for a message: its display name if it can be read.
    fn describe(&self, index: NodeIndex) -> String {
        let n = self.nodes.get(index);
        match n.get_display_name().ok().and_then(|t| t.to_str().ok()) {
            Some(name) => format!("`{name}` (@{:#x})", n.get_id()),
            None => format!("node {index} (@{:#x})", n.get_id()),
        }
    }

    /// Names the node with ID `id` for a message.
    fn describe_id(&self, id: u64) -> String {
        match self.by_id.get(&id) {
            Some(&index) => self.describe(index),
            None => format!("@{id:#x}"),
        }
    }

    /// The node with ID `id`, which must be of kind `kind`.
    fn reference(
        &self,
        id: u64,
        kind: Kind,
        at: &Place<'_>,
        what: &str,
    ) -> Result<NodeIndex, SchemaError> {
        let Some(&index) = self.by_id.get(&id) else {
            return Err(at.error(format_args!(
                "{what} names node @{id:#x}, which the request does not contain"
            )));
        };
        let found = self.known[index as usize].kind;
        if found != kind {
            return Err(at.error(format_args!(
                "{what} names {}, which is {}, not {}",
                self.describe(index),
                found.article(),
                kind.article()
            )));
        }
        Ok(index)
    }

    /// A generic node of the request, with the number of parameters it declares.
    fn generic_scope(&self, id: u64, at: &Place<'_>, what: &str) -> Result<u32, SchemaError> {
        let Some(&index) = self.by_id.get(&id) else {
            return Err(at.error(format_args!(
                "{what} names the generic scope @{id:#x}, which the request does not contain"
            )));
        };
        match self.known[index as usize].parameters {
            0 => Err(at.error(format_args!(
                "{what} names {} as a generic scope, but it declares no generic parameters",
                self.describe(index)
            ))),
            n => Ok(n),
        }
    }

    fn load_node(&mut self, i: usize, n: node::Reader<'r>) -> Result<Node, SchemaError> {
        let id = n.get_id();
        let display_name = self.text(
            n.get_display_name(),
            &Place::REQUEST.nth("node", i),
            "its display name",
        )?;
        let at = Place::node(&display_name, id);
        let prefix = n.get_display_name_prefix_length() as usize;
        if !display_name.is_char_boundary(prefix) {
            return Err(at.error(format_args!(
                "its display name prefix length {prefix} is not a position in its display name \
                 of {} bytes",
                display_name.len()
            )));
        }
        let mut parameters = Vec::new();
        if n.has_parameters() {
            parameters = self.parameter_names(n.get_parameters(), &at)?;
        }
        if !parameters.is_empty() && !n.get_is_generic() {
            return Err(at.error("it declares generic parameters but is not marked generic"));
        }
        let mut nested = Vec::new();
        if n.has_nested_nodes() {
            let list = n.get_nested_nodes().at(&at)?;
            let count = list.len() as usize;
            self.budget.take(
                vec_cost::<(String, u64)>(count),
                &at,
                format_args!("its {count} nested nodes"),
            )?;
            nested.reserve_exact(count);
            for (j, nn) in list.iter().enumerate() {
                let name = self.text(
                    nn.get_name(),
                    &at,
                    format_args!("the name of nested node {j}"),
                )?;
                nested.push((name, nn.get_id()));
            }
        }
        let kind = match n.which().at(&at)? {
            node::File(()) => NodeKind::File,
            node::Struct(s) => NodeKind::Struct(self.load_struct(s, &at)?),
            node::Enum(e) => NodeKind::Enum(self.load_enum(e, &at)?),
            node::Interface(i) => NodeKind::Interface(self.load_interface(i, &at)?),
            node::Const(c) => {
                let ty = self.load_type(c.get_type().at(&at)?, &at)?;
                let value = self.load_value(c.get_value().at(&at)?, &at)?;
                check_value(&ty, &value, &at, "its value")?;
                NodeKind::Const(ConstNode { ty, value })
            }
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
                    ty: self.load_type(a.get_type().at(&at)?, &at)?,
                    targets: flags.iter().filter(|f| f.0).map(|f| f.1).collect(),
                })
            }
        };
        let annotations = self.load_annotations(n.get_annotations(), &at)?;
        Ok(Node {
            id,
            display_name_prefix_length: prefix,
            scope_id: n.get_scope_id(),
            parameters,
            is_generic: n.get_is_generic(),
            nested,
            annotations,
            doc_comment: self.docs.remove(&id),
            kind,
            display_name,
        })
    }

    fn load_struct(
        &mut self,
        s: node::struct_::Reader<'r>,
        at: &Place<'_>,
    ) -> Result<StructNode, SchemaError> {
        let list = s.get_fields().at(at)?;
        let count = list.len() as usize;
        members(count, MAX_MEMBERS, "fields", at)?;
        self.budget.take(
            vec_cost::<Field>(count)
                .saturating_add(vec_cost::<u16>(count).saturating_mul(2))
                .saturating_add(vec_cost::<(u16, u16)>(count).saturating_mul(2))
                .saturating_add(vec_cost::<bool>(count).saturating_mul(2)),
            at,
            format_args!("its {count} fields"),
        )?;
        let data_words = s.get_data_word_count();
        let pointer_count = s.get_pointer_count();
        let data_bits = data_words as u64 * 64;
        let discriminant_count = s.get_discriminant_count();
        let discriminant_offset = s.get_discriminant_offset();
        match discriminant_count as usize {
            0 => {}
            1 => return Err(at.error("its union has 1 member; a union has at least two")),
            n if n > count => {
                return Err(at.error(format_args!(
                    "its union has {n} members but the struct has only {count} fields"
                )))
            }
            _ if (discriminant_offset as u64 + 1) * 16 > data_bits => {
                return Err(at.error(format_args!(
                    "its union discriminant at offset {discriminant_offset} (bits {} to {}) lies \
                     outside its data section of {}",
                    discriminant_offset as u64 * 16,
                    discriminant_offset as u64 * 16 + 16,
                    plural(data_words, "word")
                )))
            }
            _ => {}
        }
        let mut fields = Vec::with_capacity(count);
        let mut union_members: Vec<(u16, u16)> = Vec::with_capacity(discriminant_count as usize);
        let mut plain: Vec<(u16, u16)> = Vec::with_capacity(count);
        let mut code_orders = vec![false; count];
        let mut next_ordinal = 0u32;
        for (i, f) in list.iter().enumerate() {
            let name = self.text(f.get_name(), &at.nth("field", i), "its name")?;
            let at = at.member("field", &name);
            let code_order = f.get_code_order();
            distinct_position(&mut code_orders, code_order, &at, "fields")?;
            let discriminant = match f.get_discriminant_value() {
                NO_DISCRIMINANT => None,
                d if d >= discriminant_count => {
                    return Err(at.error(format_args!(
                        "its discriminant {d} is not below the {discriminant_count} members of \
                         the union"
                    )))
                }
                d => Some(d),
            };
            let ordinal = match f.get_ordinal().which().at(&at)? {
                sc::field::ordinal::Implicit(()) => None,
                sc::field::ordinal::Explicit(o) => {
                    if (o as u32) < next_ordinal {
                        return Err(at.error(format_args!(
                            "its ordinal @{o} comes after @{}: fields are listed by ordinal",
                            next_ordinal - 1
                        )));
                    }
                    next_ordinal = o as u32 + 1;
                    Some(o)
                }
            };
            let slot = match f.which().at(&at)? {
                sc::field::Slot(slot) => {
                    self.load_slot(slot, &at, data_bits, data_words, pointer_count)?
                }
                sc::field::Group(g) => FieldSlot::Group {
                    node: self.reference(g.get_type_id(), Kind::Struct, &at, "its group")?,
                },
            };
            let index = i as u16;
            match discriminant {
                Some(d) => union_members.push((d, index)),
                None => plain.push((code_order, index)),
            }
            let annotations = self.load_annotations(f.get_annotations(), &at)?;
            fields.push(Field {
                name,
                code_order,
                discriminant,
                ordinal,
                annotations,
                slot,
            });
        }
        union_members.sort_unstable();
        if let Some(w) = union_members.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(at
                .member("field", &fields[w[1].1 as usize].name)
                .error(format_args!(
                    "its discriminant {} is the discriminant of field `{}` too",
                    w[1].0, fields[w[0].1 as usize].name
                )));
        }
        if union_members.len() != discriminant_count as usize {
            return Err(at.error(format_args!(
                "its union has {discriminant_count} members but {} fields have a discriminant",
                union_members.len()
            )));
        }
        plain.sort_unstable();
        let by_name = self.name_index(fields.iter().map(|f| f.name.as_str()), "field", at)?;
        Ok(StructNode {
            data_words,
            pointer_count,
            is_group: s.get_is_group(),
            discriminant_count,
            discriminant_offset,
            fields,
            union_members: union_members.into_iter().map(|(_, i)| i).collect(),
            plain_fields: plain.into_iter().map(|(_, i)| i).collect(),
            by_name,
        })
    }

    fn load_slot(
        &mut self,
        slot: sc::field::slot::Reader<'r>,
        at: &Place<'_>,
        data_bits: u64,
        data_words: u16,
        pointer_count: u16,
    ) -> Result<FieldSlot, SchemaError> {
        let ty = self.load_type(slot.get_type().at(at)?, at)?;
        let default = if slot.has_default_value() {
            let v = self.load_value(slot.get_default_value().at(at)?, at)?;
            check_value(&ty, &v, at, "its default value")?;
            Some(v)
        } else {
            None
        };
        let offset = slot.get_offset();
        if matches!(ty, Type::Void) {
            return Ok(FieldSlot::Void);
        }
        if let Some(bits) = ty.data_bits() {
            let end = (offset as u64 + 1) * bits as u64;
            if end > data_bits {
                return Err(at.error(format_args!(
                    "its {bits}-bit value at offset {offset} (bits {} to {end}) lies outside its \
                     struct's data section of {}",
                    end - bits as u64,
                    plural(data_words, "word")
                )));
            }
            return Ok(FieldSlot::Data {
                offset,
                default_bits: default.as_ref().map_or(0, Value::data_bits),
                ty,
            });
        }
        let index = match u16::try_from(offset) {
            Ok(index) if index < pointer_count => index,
            _ => {
                return Err(at.error(format_args!(
                    "its pointer at offset {offset} lies outside its struct's pointer section of \
                     {}",
                    plural(pointer_count, "pointer")
                )))
            }
        };
        // Null pointers and empty blobs read as their type's own default: no need to keep them.
        let default = default.filter(|v| match v {
            Value::Text(t) => !t.is_empty() || slot.get_had_explicit_default(),
            Value::Data(d) => !d.is_empty() || slot.get_had_explicit_default(),
            Value::List(p) | Value::Struct(p) | Value::AnyPointer(p) => !p.is_null(),
            _ => false,
        });
        Ok(FieldSlot::Pointer { ty, index, default })
    }

    fn load_enum(
        &mut self,
        e: node::enum_::Reader<'r>,
        at: &Place<'_>,
    ) -> Result<EnumNode, SchemaError> {
        let list = e.get_enumerants().at(at)?;
        let count = list.len() as usize;
        members(count, MAX_MEMBERS, "enumerants", at)?;
        self.budget.take(
            vec_cost::<Enumerant>(count).saturating_add(vec_cost::<bool>(count)),
            at,
            format_args!("its {count} enumerants"),
        )?;
        let mut enumerants = Vec::with_capacity(count);
        let mut code_orders = vec![false; count];
        for (i, en) in list.iter().enumerate() {
            let name = self.text(en.get_name(), &at.nth("enumerant", i), "its name")?;
            let at = at.member("enumerant", &name);
            let code_order = en.get_code_order();
            distinct_position(&mut code_orders, code_order, &at, "enumerants")?;
            let annotations = self.load_annotations(en.get_annotations(), &at)?;
            enumerants.push(Enumerant {
                name,
                code_order,
                annotations,
            });
        }
        let by_name =
            self.name_index(enumerants.iter().map(|e| e.name.as_str()), "enumerant", at)?;
        Ok(EnumNode {
            enumerants,
            by_name,
        })
    }

    fn load_interface(
        &mut self,
        i: node::interface::Reader<'r>,
        at: &Place<'_>,
    ) -> Result<InterfaceNode, SchemaError> {
        let list = i.get_methods().at(at)?;
        let count = list.len() as usize;
        members(count, MAX_MEMBERS, "methods", at)?;
        self.budget.take(
            vec_cost::<Method>(count)
                .saturating_add(vec_cost::<bool>(count))
                .saturating_add(map_cost::<&str, ()>(count)),
            at,
            format_args!("its {count} methods"),
        )?;
        let mut methods = Vec::with_capacity(count);
        let mut code_orders = vec![false; count];
        for (j, m) in list.iter().enumerate() {
            let name = self.text(m.get_name(), &at.nth("method", j), "its name")?;
            let at = at.member("method", &name);
            let code_order = m.get_code_order();
            distinct_position(&mut code_orders, code_order, &at, "methods")?;
            let mut implicit_parameters = Vec::new();
            if m.has_implicit_parameters() {
                implicit_parameters = self.parameter_names(m.get_implicit_parameters(), &at)?;
            }
            let param_struct = m.get_param_struct_type();
            self.reference(param_struct, Kind::Struct, &at, "its parameter struct")?;
            let result_struct = m.get_result_struct_type();
            self.reference(result_struct, Kind::Struct, &at, "its result struct")?;
            methods.push(Method {
                code_order,
                param_struct,
                param_brand: self.load_brand(m.get_param_brand(), &at)?,
                result_struct,
                result_brand: self.load_brand(m.get_result_brand(), &at)?,
                implicit_parameters,
                annotations: self.load_annotations(m.get_annotations(), &at)?,
                name,
            });
        }
        if let Some(j) = first_repeat(methods.iter().map(|m| m.name.as_str())) {
            return Err(at.error(format_args!(
                "it has two methods named `{}`",
                methods[j].name
            )));
        }
        let list = i.get_superclasses().at(at)?;
        let count = list.len() as usize;
        self.budget.take(
            vec_cost::<(u64, Option<Arc<Brand>>)>(count),
            at,
            format_args!("its {count} superclasses"),
        )?;
        let mut superclasses = Vec::with_capacity(count);
        for s in list {
            self.reference(s.get_id(), Kind::Interface, at, "a superclass")?;
            superclasses.push((s.get_id(), self.load_brand(s.get_brand(), at)?));
        }
        Ok(InterfaceNode {
            methods,
            superclasses,
        })
    }

    /// The name index of a node's members, which must have distinct names.
    fn name_index<'n>(
        &mut self,
        names: impl Iterator<Item = &'n str> + Clone,
        kind: &'static str,
        at: &Place<'_>,
    ) -> Result<NameIndex, SchemaError> {
        let (count, len) = names.clone().fold((0usize, 0usize), |(c, l), n| {
            (c + 1, l.saturating_add(n.len()))
        });
        self.budget.take(
            names_cost(count, len),
            at,
            format_args!("the index of its {count} names"),
        )?;
        NameIndex::distinct(names.clone()).map_err(|i| {
            let name = names.clone().nth(i).unwrap_or_default();
            at.member(kind, name)
                .error(format_args!("another {kind} has the name `{name}` too"))
        })
    }

    fn load_annotations(
        &mut self,
        list: capnp::Result<capnp::struct_list::Reader<'r, sc::annotation::Owned>>,
        at: &Place<'_>,
    ) -> Result<Vec<Annotation>, SchemaError> {
        let list = list.at(at)?;
        let count = list.len() as usize;
        if count == 0 {
            return Ok(Vec::new());
        }
        self.budget.take(
            vec_cost::<Annotation>(count),
            at,
            format_args!("its {count} annotations"),
        )?;
        let mut out = Vec::with_capacity(count);
        for a in list {
            let id = a.get_id();
            self.reference(id, Kind::Annotation, at, "an annotation")?;
            out.push(Annotation {
                id,
                brand: self.load_brand(a.get_brand(), at)?,
                value: self.load_value(a.get_value().at(at)?, at)?,
            });
        }
        Ok(out)
    }

    fn load_brand(
        &mut self,
        b: capnp::Result<brand::Reader<'r>>,
        at: &Place<'_>,
    ) -> Result<Option<Arc<Brand>>, SchemaError> {
        let b = b.at(at)?;
        if !b.has_scopes() {
            return Ok(None);
        }
        let scopes = b.get_scopes().at(at)?;
        if scopes.is_empty() {
            return Ok(None);
        }
        let count = scopes.len() as usize;
        self.budget.take(
            vec_cost::<BrandScope>(count).saturating_add(str_cost(size_of::<Brand>() + 16)),
            at,
            format_args!("a brand of {count} scopes"),
        )?;
        let mut out = Vec::with_capacity(count);
        for s in scopes {
            let scope_id = s.get_scope_id();
            let declared = self.generic_scope(scope_id, at, "a brand")?;
            let bindings = match s.which().at(at)? {
                brand::scope::Bind(list) => {
                    let list = list.at(at)?;
                    if list.len() != declared {
                        return Err(at.error(format_args!(
                            "a brand binds {} parameters of {}, which declares {declared}",
                            list.len(),
                            self.describe_id(scope_id)
                        )));
                    }
                    self.budget.take(
                        vec_cost::<Option<Type>>(list.len() as usize),
                        at,
                        format_args!("a brand binding {} parameters", list.len()),
                    )?;
                    let mut v = Vec::with_capacity(list.len() as usize);
                    for binding in list {
                        v.push(match binding.which().at(at)? {
                            brand::binding::Unbound(()) => None,
                            brand::binding::Type(t) => {
                                let ty = self.load_type(t.at(at)?, at)?;
                                if ty.is_data() {
                                    return Err(at.error(format_args!(
                                        "a brand binds a parameter of {} to {}, which is not \
                                         a pointer type",
                                        self.describe_id(scope_id),
                                        self.spell_data_type(&ty)
                                    )));
                                }
                                Some(ty)
                            }
                        });
                    }
                    Some(v)
                }
                brand::scope::Inherit(()) => None,
            };
            out.push(BrandScope { scope_id, bindings });
        }
        Ok(Some(Arc::new(Brand { scopes: out })))
    }

    fn load_type(&mut self, t: type_::Reader<'r>, at: &Place<'_>) -> Result<Type, SchemaError> {
        use type_::any_pointer as ap;
        Ok(match t.which().at(at)? {
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
            type_::List(l) => {
                self.budget.take(vec_cost::<Type>(1), at, "a list type")?;
                Type::List(Box::new(self.load_type(l.get_element_type().at(at)?, at)?))
            }
            type_::Enum(e) => {
                Type::Enum(self.reference(e.get_type_id(), Kind::Enum, at, "its type")?)
            }
            type_::Struct(s) => Type::Struct(
                self.reference(s.get_type_id(), Kind::Struct, at, "its type")?,
                self.load_brand(s.get_brand(), at)?,
            ),
            type_::Interface(i) => Type::Interface(
                self.reference(i.get_type_id(), Kind::Interface, at, "its type")?,
                self.load_brand(i.get_brand(), at)?,
            ),
            type_::AnyPointer(a) => match a.which().at(at)? {
                ap::Unconstrained(u) => Type::AnyPointer(match u.which().at(at)? {
                    ap::unconstrained::AnyKind(()) => AnyPointerKind::Any,
                    ap::unconstrained::Struct(()) => AnyPointerKind::Struct,
                    ap::unconstrained::List(()) => AnyPointerKind::List,
                    ap::unconstrained::Capability(()) => AnyPointerKind::Capability,
                }),
                ap::Parameter(p) => {
                    let scope_id = p.get_scope_id();
                    let index = p.get_parameter_index();
                    let declared = self.generic_scope(scope_id, at, "its type")?;
                    if index as u32 >= declared {
                        return Err(at.error(format_args!(
                            "its type is generic parameter {index} of {}, which declares {declared}",
                            self.describe_id(scope_id)
                        )));
                    }
                    Type::Param { scope_id, index }
                }
                ap::ImplicitMethodParameter(p) => Type::MethodParam(p.get_parameter_index()),
            },
        })
    }

    /// A type that is not a pointer type, for a message.
    fn spell_data_type(&self, ty: &Type) -> String {
        match ty {
            Type::Enum(n) => format!("the enum {}", self.describe(*n)),
            other => format!("`{other:?}`"),
        }
    }

    fn load_value(&mut self, v: value::Reader<'r>, at: &Place<'_>) -> Result<Value, SchemaError> {
        Ok(match v.which().at(at)? {
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
            value::Text(t) => Value::Text(self.text(t, at, "a text value")?),
            value::Data(d) => {
                let d = d.at(at)?;
                self.budget.take(str_cost(d.len()), at, "a data value")?;
                Value::Data(d.to_vec())
            }
            value::List(p) => Value::List(self.raw_pointer(p, at)?),
            value::Enum(e) => Value::Enum(e),
            value::Struct(p) => Value::Struct(self.raw_pointer(p, at)?),
            value::Interface(()) => Value::Interface,
            value::AnyPointer(p) => Value::AnyPointer(self.raw_pointer(p, at)?),
        })
    }

    /// Copies the object behind `p` into a fresh single-segment message.
    fn raw_pointer(
        &mut self,
        p: capnp::any_pointer::Reader<'r>,
        at: &Place<'_>,
    ) -> Result<RawPointer, SchemaError> {
        let size = p.target_size().at(at)?;
        if size.cap_count > 0 {
            return Err(at.error("a pointer value holds a capability, which a schema value cannot"));
        }
        // The root pointer, and room for a zero-sized root struct.
        let words = size.word_count.saturating_add(1).max(2);
        let bytes = usize::try_from(words.saturating_mul(8)).unwrap_or(usize::MAX);
        // The builder's segment and the copy kept.
        self.budget.take(
            bytes.saturating_mul(2).saturating_add(4 * ALLOC),
            at,
            "a pointer value",
        )?;
        let words = u32::try_from(words)
            .map_err(|_| at.error("a pointer value is larger than one segment can hold"))?;
        let mut message = capnp::message::Builder::new(
            capnp::message::HeapAllocator::new().first_segment_words(words),
        );
        message.set_root(p).at(at)?;
        let segments = message.get_segments_for_output();
        if segments.len() != 1 {
            return Err(at.error("a pointer value does not fit in one segment"));
        }
        Ok(RawPointer(Arc::from(segments[0])))
    }
}

impl SchemaPool {
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
        assert_eq!(
            err.message(),
            "invalid schema: in `bad.capnp:Bad` (@0xabcd), field `x`: its 32-bit value at \
             offset 2 (bits 64 to 96) lies outside its struct's data section of 1 word"
        );
    }
}
