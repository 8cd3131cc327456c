//! Hostile `CodeGeneratorRequest`s: each breaks one rule the loader checks (the list is on
//! `SchemaPool`), and each must be refused with an error naming the node and member at fault.
//!
//! The requests are a small schema compiled by the built-in compiler, edited with the `capnp`
//! crate's builders for the schema types; lists of zero-sized structs, which no builder writes,
//! are made by editing the encoded words.

use capnp::message::{Builder, HeapAllocator, ReaderOptions};
use capnp::schema_capnp::{brand, code_generator_request, field, node, type_};
use serde_capnp_schema::compiler::Compiler;
use serde_capnp_schema::{SchemaPool, MAX_GROUP_NESTING, MAX_MEMBERS};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SCHEMA: &str = r#"@0xd0a4b8c2e6f81357;

annotation tag(struct, field) :Text;
annotation mark(enum) :Void;

enum Color $mark {
  red @0;
  green @1;
  blue @2;
}

struct Inner {
  id @0 :UInt32;
}

struct Box(T) {
  value @0 :T;
}

struct Shape $tag("shape") {
  color @0 :Color;
  inner @1 :Inner = (id = 7);
  boxed @2 :Box(Text);
  label @3 :Text $tag("label");
  point :group {
    x @4 :Int32;
    y @5 :Int32;
  }
  union {
    none @6 :Void;
    radius @7 :Float64;
    rect :group {
      width @8 :Float32;
      height @9 :Float32;
    }
  }
  inners @10 :List(Inner);
  calc @11 :Calc;
}

interface Base {
  ping @0 () -> ();
}

interface Calc extends(Base) {
  add @0 (a :Int64, b :Int64) -> (sum :Int64);
}

const answer :Int32 = 42;
"#;

fn compile(name: &str, source: &str) -> Vec<u8> {
    Compiler::new()
        .add_source(name, source)
        .compile(&[name])
        .unwrap_or_else(|e| panic!("{}", e.render()))
        .into_request_bytes()
}

fn base() -> Vec<u8> {
    compile("hostile.capnp", SCHEMA)
}

/// The ID of the node `name` (a path inside `hostile.capnp`).
fn id(name: &str) -> u64 {
    let pool = SchemaPool::from_code_generator_request(&base()).unwrap();
    pool.node(pool.find(&format!("hostile.capnp:{name}")).unwrap())
        .id
}

/// How an error about `node` (a path inside `hostile.capnp`) begins.
fn at(node: &str) -> String {
    format!(
        "invalid schema: in `hostile.capnp:{node}` (@{:#x})",
        id(node)
    )
}

/// How an error about `field` of `node` begins.
fn at_field(node: &str, field: &str) -> String {
    format!("{}, field `{field}`", at(node))
}

/// The loader's error for `bytes`.
fn error(bytes: &[u8]) -> String {
    match SchemaPool::from_code_generator_request(bytes) {
        Ok(_) => panic!("the request was accepted"),
        Err(e) => e.message().to_string(),
    }
}

/// The compiled schema, open for editing.
struct Edit(Builder<HeapAllocator>);

impl Edit {
    fn new() -> Edit {
        Self::of(&base())
    }

    fn of(bytes: &[u8]) -> Edit {
        let message =
            capnp::serialize::read_message(&mut &bytes[..], ReaderOptions::new()).unwrap();
        let root: code_generator_request::Reader = message.get_root().unwrap();
        let mut builder = Builder::new_default();
        builder.set_root(root).unwrap();
        Edit(builder)
    }

    fn bytes(&self) -> Vec<u8> {
        capnp::serialize::write_message_to_words(&self.0)
    }

    fn request(&mut self) -> code_generator_request::Builder<'_> {
        self.0.get_root().unwrap()
    }

    fn index(&self, name: &str) -> u32 {
        let full = format!("hostile.capnp:{name}");
        let request: code_generator_request::Reader = self.0.get_root_as_reader().unwrap();
        let position = request
            .get_nodes()
            .unwrap()
            .iter()
            .position(|n| n.get_display_name().unwrap().to_str().unwrap() == full);
        position.unwrap_or_else(|| panic!("no node {full}")) as u32
    }

    fn node(&mut self, name: &str) -> node::Builder<'_> {
        let i = self.index(name);
        self.request().get_nodes().unwrap().get(i)
    }

    fn fields(&mut self, name: &str) -> capnp::struct_list::Builder<'_, field::Owned> {
        match self.node(name).which().unwrap() {
            node::Struct(s) => s.get_fields().unwrap(),
            _ => panic!("{name} is not a struct"),
        }
    }

    fn field(&mut self, name: &str, field: &str) -> field::Builder<'_> {
        let mut fields = self.fields(name);
        let i = (0..fields.len())
            .find(|&i| fields.reborrow().get(i).get_name().unwrap() == field)
            .unwrap_or_else(|| panic!("no field {field}"));
        fields.get(i)
    }

    fn slot_type(&mut self, name: &str, field: &str) -> type_::Builder<'_> {
        match self.field(name, field).which().unwrap() {
            field::Slot(s) => s.get_type().unwrap(),
            field::Group(_) => panic!("{field} is a group"),
        }
    }

    fn structure(&mut self, name: &str) -> node::struct_::Builder<'_> {
        match self.node(name).which().unwrap() {
            node::Struct(s) => s,
            _ => panic!("{name} is not a struct"),
        }
    }
}

/// Edits the compiled schema and returns the loader's error for it.
fn refused(edit: impl FnOnce(&mut Edit)) -> String {
    let mut e = Edit::new();
    edit(&mut e);
    error(&e.bytes())
}

#[test]
fn the_unedited_request_loads() {
    let pool = SchemaPool::from_code_generator_request(&base()).unwrap();
    assert!(pool.find("Shape").is_ok());
    // Rebuilding it through the builder changes nothing that matters.
    assert!(SchemaPool::from_code_generator_request(&Edit::new().bytes()).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Type IDs name nodes of the right kind
// ---------------------------------------------------------------------------------------------

#[test]
fn an_enum_type_naming_a_struct() {
    let inner = id("Inner");
    let err = refused(|e| e.slot_type("Shape", "color").init_enum().set_type_id(inner));
    assert_eq!(
        err,
        format!(
            "{}: its type names `hostile.capnp:Inner` (@{inner:#x}), which is a struct, not an enum",
            at_field("Shape", "color")
        )
    );
}

#[test]
fn a_struct_type_naming_an_enum() {
    let color = id("Color");
    let err = refused(|e| {
        e.slot_type("Shape", "inner")
            .init_struct()
            .set_type_id(color)
    });
    assert_eq!(
        err,
        format!(
            "{}: its type names `hostile.capnp:Color` (@{color:#x}), which is an enum, not a struct",
            at_field("Shape", "inner")
        )
    );
}

#[test]
fn an_interface_type_naming_a_struct() {
    let inner = id("Inner");
    let err = refused(|e| {
        e.slot_type("Shape", "calc")
            .init_interface()
            .set_type_id(inner)
    });
    assert_eq!(
        err,
        format!(
            "{}: its type names `hostile.capnp:Inner` (@{inner:#x}), which is a struct, not an \
             interface",
            at_field("Shape", "calc")
        )
    );
}

#[test]
fn a_list_element_type_naming_nothing() {
    let err = refused(|e| {
        e.slot_type("Shape", "inners")
            .init_list()
            .init_element_type()
            .init_struct()
            .set_type_id(0x1234);
    });
    assert_eq!(
        err,
        format!(
            "{}: its type names node @0x1234, which the request does not contain",
            at_field("Shape", "inners")
        )
    );
}

#[test]
fn a_group_naming_an_enum() {
    let color = id("Color");
    let err = refused(|e| e.field("Shape", "point").init_group().set_type_id(color));
    assert_eq!(
        err,
        format!(
            "{}: its group names `hostile.capnp:Color` (@{color:#x}), which is an enum, not a struct",
            at_field("Shape", "point")
        )
    );
}

#[test]
fn a_method_whose_parameters_are_an_enum_and_a_superclass_that_is_a_struct() {
    let color = id("Color");
    let err = refused(|e| match e.node("Calc").which().unwrap() {
        node::Interface(i) => i.get_methods().unwrap().get(0).set_param_struct_type(color),
        _ => unreachable!(),
    });
    assert_eq!(
        err,
        format!(
            "{}, method `add`: its parameter struct names `hostile.capnp:Color` (@{color:#x}), \
             which is an enum, not a struct",
            at("Calc")
        )
    );
    let inner = id("Inner");
    let err = refused(|e| match e.node("Calc").which().unwrap() {
        node::Interface(i) => i.get_superclasses().unwrap().get(0).set_id(inner),
        _ => unreachable!(),
    });
    assert_eq!(
        err,
        format!(
            "{}: a superclass names `hostile.capnp:Inner` (@{inner:#x}), which is a struct, not \
             an interface",
            at("Calc")
        )
    );
}

#[test]
fn an_annotation_naming_a_struct() {
    let inner = id("Inner");
    let err = refused(|e| {
        e.node("Shape")
            .get_annotations()
            .unwrap()
            .get(0)
            .set_id(inner)
    });
    assert_eq!(
        err,
        format!(
            "{}: an annotation names `hostile.capnp:Inner` (@{inner:#x}), which is a struct, not \
             an annotation",
            at("Shape")
        )
    );
}

#[test]
fn a_requested_file_that_is_a_struct() {
    let inner = id("Inner");
    let err = refused(|e| {
        e.request()
            .get_requested_files()
            .unwrap()
            .get(0)
            .set_id(inner)
    });
    assert_eq!(
        err,
        format!(
            "invalid schema: in the request, requested file `hostile.capnp`: its ID \
             @{inner:#x} names a node that is not a file"
        )
    );
}

// ---------------------------------------------------------------------------------------------
// Groups
// ---------------------------------------------------------------------------------------------

#[test]
fn a_group_field_naming_a_plain_struct() {
    let inner = id("Inner");
    let err = refused(|e| e.field("Shape", "point").init_group().set_type_id(inner));
    assert_eq!(
        err,
        format!(
            "{}: its group `hostile.capnp:Inner` (@{inner:#x}) is not a group",
            at_field("Shape", "point")
        )
    );
}

#[test]
fn a_group_of_another_struct() {
    let inner = id("Inner");
    let err = refused(|e| e.node("Shape.point").set_scope_id(inner));
    assert_eq!(
        err,
        format!(
            "{}: its group `hostile.capnp:Shape.point` (@{:#x}) belongs to @{inner:#x}, not to \
             this struct",
            at_field("Shape", "point"),
            id("Shape.point")
        )
    );
}

#[test]
fn a_group_with_sections_of_its_own() {
    let err = refused(|e| e.structure("Shape.point").set_pointer_count(6));
    assert_eq!(
        err,
        format!(
            "{}: its group `hostile.capnp:Shape.point` (@{:#x}) has sections of 3 words and 6 \
             pointers, the struct 3 words and 5 pointers; a group shares its struct's sections",
            at_field("Shape", "point"),
            id("Shape.point")
        )
    );
}

#[test]
fn a_group_that_contains_itself() {
    // The group's field `x` becomes the group itself, which then has to be its own scope.
    let point = id("Shape.point");
    let err = refused(|e| {
        e.field("Shape.point", "x").init_group().set_type_id(point);
        e.node("Shape.point").set_scope_id(point);
    });
    assert_eq!(
        err,
        format!(
            "{}: its scope is itself, or a node in its own scope",
            at("Shape.point")
        )
    );
    // Two groups that contain each other.
    let rect = id("Shape.rect");
    let err = refused(|e| {
        e.field("Shape.point", "x").init_group().set_type_id(rect);
        e.field("Shape.rect", "width")
            .init_group()
            .set_type_id(point);
        e.node("Shape.point").set_scope_id(rect);
        e.node("Shape.rect").set_scope_id(point);
    });
    assert!(
        err.ends_with("its scope is itself, or a node in its own scope"),
        "{err}"
    );
}

/// A struct whose groups nest `depth` deep.
fn nested_groups(depth: usize) -> String {
    let mut s = "@0xe5d1c3b7a9f02468;\nstruct Deep {\n".to_string();
    for i in 0..depth {
        s += &format!("g{i} :group {{\n");
    }
    s += "leaf @0 :Int32;\n";
    s += &"}\n".repeat(depth + 1);
    s
}

#[test]
fn groups_nest_a_bounded_depth() {
    let ok = compile("deep.capnp", &nested_groups(MAX_GROUP_NESTING));
    SchemaPool::from_code_generator_request(&ok).unwrap();
    let deep = compile("deep.capnp", &nested_groups(MAX_GROUP_NESTING + 1));
    let err = error(&deep);
    assert!(
        err.ends_with(&format!(
            "it is a group nested more than {MAX_GROUP_NESTING} deep"
        )),
        "{err}"
    );
    assert!(err.contains(&format!(".g{MAX_GROUP_NESTING}`")), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Unions
// ---------------------------------------------------------------------------------------------

#[test]
fn a_union_of_one_member() {
    let err = refused(|e| e.structure("Shape").set_discriminant_count(1));
    assert_eq!(
        err,
        format!(
            "{}: its union has 1 member; a union has at least two",
            at("Shape")
        )
    );
}

#[test]
fn a_union_with_more_members_than_fields() {
    let err = refused(|e| e.structure("Shape").set_discriminant_count(40));
    assert_eq!(
        err,
        format!(
            "{}: its union has 40 members but the struct has only 10 fields",
            at("Shape")
        )
    );
}

#[test]
fn a_union_with_fewer_members_than_discriminants() {
    let err = refused(|e| e.structure("Shape").set_discriminant_count(4));
    assert_eq!(
        err,
        format!(
            "{}: its union has 4 members but 3 fields have a discriminant",
            at("Shape")
        )
    );
}

#[test]
fn a_discriminant_outside_the_data_section() {
    let err = refused(|e| e.structure("Shape").set_discriminant_offset(12));
    assert_eq!(
        err,
        format!(
            "{}: its union discriminant at offset 12 (bits 192 to 208) lies outside its data \
             section of 3 words",
            at("Shape")
        )
    );
    // A huge offset does not overflow.
    let err = refused(|e| e.structure("Shape").set_discriminant_offset(u32::MAX));
    assert!(err.contains("lies outside its data section"), "{err}");
}

#[test]
fn a_discriminant_value_past_the_members() {
    let err = refused(|e| e.field("Shape", "radius").set_discriminant_value(3));
    assert_eq!(
        err,
        format!(
            "{}: its discriminant 3 is not below the 3 members of the union",
            at_field("Shape", "radius")
        )
    );
}

#[test]
fn two_members_with_one_discriminant() {
    let err = refused(|e| e.field("Shape", "radius").set_discriminant_value(0));
    assert_eq!(
        err,
        format!(
            "{}: its discriminant 0 is the discriminant of field `none` too",
            at_field("Shape", "radius")
        )
    );
}

// ---------------------------------------------------------------------------------------------
// Slots
// ---------------------------------------------------------------------------------------------

fn set_offset(e: &mut Edit, node: &str, field: &str, offset: u32) {
    match e.field(node, field).which().unwrap() {
        field::Slot(mut s) => s.set_offset(offset),
        field::Group(_) => unreachable!(),
    }
}

#[test]
fn a_data_field_outside_the_data_section() {
    // `radius` is a Float64: offset 3 is the fourth word, past the three the struct has.
    let err = refused(|e| set_offset(e, "Shape", "radius", 3));
    assert_eq!(
        err,
        format!(
            "{}: its 64-bit value at offset 3 (bits 192 to 256) lies outside its struct's data \
             section of 3 words",
            at_field("Shape", "radius")
        )
    );
    // The largest offset does not overflow the computation.
    let err = refused(|e| set_offset(e, "Shape", "radius", u32::MAX));
    assert!(
        err.contains("at offset 4294967295 (bits 274877906880 to 274877906944)"),
        "{err}"
    );
    // A Bool counts its offset in bits.
    let err = refused(|e| {
        e.slot_type("Shape.point", "x").set_bool(());
        match e.field("Shape.point", "x").which().unwrap() {
            field::Slot(s) => s.init_default_value().set_bool(false),
            field::Group(_) => unreachable!(),
        }
        set_offset(e, "Shape.point", "x", 192);
    });
    assert!(
        err.contains("its 1-bit value at offset 192 (bits 192 to 193)"),
        "{err}"
    );
}

#[test]
fn a_pointer_field_outside_the_pointer_section() {
    let err = refused(|e| set_offset(e, "Shape", "label", 5));
    assert_eq!(
        err,
        format!(
            "{}: its pointer at offset 5 lies outside its struct's pointer section of 5 pointers",
            at_field("Shape", "label")
        )
    );
    let err = refused(|e| set_offset(e, "Shape", "label", 70_000));
    assert!(
        err.contains("its pointer at offset 70000 lies outside"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Brands and generic parameters
// ---------------------------------------------------------------------------------------------

fn boxed_brand(e: &mut Edit) -> brand::Builder<'_> {
    match e.slot_type("Shape", "boxed").which().unwrap() {
        type_::Struct(s) => s.get_brand().unwrap(),
        _ => unreachable!(),
    }
}

#[test]
fn a_brand_for_a_node_that_is_not_generic() {
    let inner = id("Inner");
    let err = refused(|e| {
        boxed_brand(e)
            .get_scopes()
            .unwrap()
            .get(0)
            .set_scope_id(inner);
    });
    assert_eq!(
        err,
        format!(
            "{}: a brand names `hostile.capnp:Inner` (@{inner:#x}) as a generic scope, but it \
             declares no generic parameters",
            at_field("Shape", "boxed")
        )
    );
    let err = refused(|e| {
        boxed_brand(e)
            .get_scopes()
            .unwrap()
            .get(0)
            .set_scope_id(0x77);
    });
    assert_eq!(
        err,
        format!(
            "{}: a brand names the generic scope @0x77, which the request does not contain",
            at_field("Shape", "boxed")
        )
    );
}

#[test]
fn a_brand_binding_too_many_parameters() {
    let err = refused(|e| {
        let mut bindings = boxed_brand(e).get_scopes().unwrap().get(0).init_bind(2);
        bindings.reborrow().get(0).init_type().set_text(());
        bindings.get(1).init_type().set_text(());
    });
    assert_eq!(
        err,
        format!(
            "{}: a brand binds 2 parameters of `hostile.capnp:Box` (@{:#x}), which declares 1",
            at_field("Shape", "boxed"),
            id("Box")
        )
    );
}

#[test]
fn a_brand_binding_a_parameter_to_a_data_type() {
    let err = refused(|e| {
        let bindings = boxed_brand(e).get_scopes().unwrap().get(0).init_bind(1);
        bindings.get(0).init_type().set_uint32(());
    });
    assert_eq!(
        err,
        format!(
            "{}: a brand binds a parameter of `hostile.capnp:Box` (@{:#x}) to `UInt32`, which is \
             not a pointer type",
            at_field("Shape", "boxed"),
            id("Box")
        )
    );
}

#[test]
fn a_generic_parameter_out_of_range() {
    let err = refused(|e| match e.slot_type("Box", "value").which().unwrap() {
        type_::AnyPointer(a) => match a.which().unwrap() {
            type_::any_pointer::Parameter(mut p) => p.set_parameter_index(1),
            _ => unreachable!(),
        },
        _ => unreachable!(),
    });
    assert_eq!(
        err,
        format!(
            "{}: its type is generic parameter 1 of `hostile.capnp:Box` (@{:#x}), which declares 1",
            at_field("Box", "value"),
            id("Box")
        )
    );
    let inner = id("Inner");
    let err = refused(|e| match e.slot_type("Box", "value").which().unwrap() {
        type_::AnyPointer(a) => match a.which().unwrap() {
            type_::any_pointer::Parameter(mut p) => p.set_scope_id(inner),
            _ => unreachable!(),
        },
        _ => unreachable!(),
    });
    assert!(err.ends_with("declares no generic parameters"), "{err}");
}

#[test]
fn generic_parameters_on_a_node_not_marked_generic() {
    let err = refused(|e| e.node("Box").set_is_generic(false));
    assert_eq!(
        err,
        format!(
            "{}: it declares generic parameters but is not marked generic",
            at("Box")
        )
    );
}

// ---------------------------------------------------------------------------------------------
// Scopes and nesting
// ---------------------------------------------------------------------------------------------

#[test]
fn a_scope_that_is_not_in_the_request() {
    // A group must be in its struct. Any other node may come without the node it is nested
    // in, as a request made for an evaluation does (the CLI's eval tests load such requests).
    let err = refused(|e| e.node("Shape.point").set_scope_id(0x55));
    assert_eq!(
        err,
        format!(
            "{}: it is a group, yet its scope @0x55 is no node of the request",
            at("Shape.point")
        )
    );
}

#[test]
fn a_file_with_a_scope() {
    let inner = id("Inner");
    let file = id_of_file();
    let err = refused(|e| {
        let request: code_generator_request::Reader = e.0.get_root_as_reader().unwrap();
        let i = request
            .get_nodes()
            .unwrap()
            .iter()
            .position(|n| n.get_id() == file)
            .unwrap() as u32;
        e.request().get_nodes().unwrap().get(i).set_scope_id(inner);
    });
    assert_eq!(
        err,
        format!(
            "invalid schema: in `hostile.capnp` (@{file:#x}): it is a file, yet its scope is \
             @{inner:#x}; files have no scope"
        )
    );
}

fn id_of_file() -> u64 {
    let pool = SchemaPool::from_code_generator_request(&base()).unwrap();
    pool.nodes()
        .iter()
        .find(|n| n.display_name == "hostile.capnp")
        .unwrap()
        .id
}

#[test]
fn scopes_in_a_cycle() {
    let (inner, shape) = (id("Inner"), id("Shape"));
    let err = refused(|e| {
        e.node("Inner").set_scope_id(shape);
        e.node("Shape").set_scope_id(inner);
    });
    assert!(
        err.ends_with("its scope is itself, or a node in its own scope"),
        "{err}"
    );
}

#[test]
fn a_nested_node_of_another_scope() {
    let file = id_of_file();
    let err = refused(|e| e.node("Inner").set_scope_id(id("Shape")));
    assert_eq!(
        err,
        format!(
            "invalid schema: in `hostile.capnp` (@{file:#x}), nested node `Inner`: it names \
             `hostile.capnp:Inner` (@{:#x}), whose scope is @{:#x}, not this node",
            id("Inner"),
            id("Shape")
        )
    );
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

#[test]
fn a_default_of_the_wrong_kind() {
    let err = refused(|e| match e.field("Shape", "radius").which().unwrap() {
        field::Slot(s) => s.init_default_value().set_text("far"),
        field::Group(_) => unreachable!(),
    });
    assert_eq!(
        err,
        format!(
            "{}: its default value is Text, but its type is `Float64`",
            at_field("Shape", "radius")
        )
    );
}

#[test]
fn a_struct_default_that_is_a_list() {
    let err = refused(|e| match e.field("Shape", "inner").which().unwrap() {
        field::Slot(s) => {
            let list: capnp::primitive_list::Builder<u32> =
                s.init_default_value().init_struct().initn_as(3);
            let _ = list;
        }
        field::Group(_) => unreachable!(),
    });
    assert_eq!(
        err,
        format!(
            "{}: its default value is a struct, but its pointer is not a struct pointer",
            at_field("Shape", "inner")
        )
    );
}

#[test]
fn a_constant_of_the_wrong_kind() {
    let err = refused(|e| match e.node("answer").which().unwrap() {
        node::Const(c) => c.get_value().unwrap().set_int64(42),
        _ => unreachable!(),
    });
    assert_eq!(
        err,
        format!(
            "{}: its value is an Int64, but its type is `Int32`",
            at("answer")
        )
    );
}

/// The words of `bytes` (a framed one-segment message) after its segment table.
fn words(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(8)
        .map(|w| u64::from_le_bytes(w.try_into().unwrap()))
        .collect()
}

fn from_words(words: &[u64]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// The position of the pointer word in `words` that points at word `target`.
fn pointer_to(words: &[u64], target: usize) -> usize {
    let found: Vec<usize> = (1..words.len())
        .filter(|&i| {
            let w = words[i];
            w & 3 < 2 && w != 0 && {
                let offset = ((w as u32) as i32 >> 2) as i64;
                i as i64 + 1 + offset == target as i64
            }
        })
        .collect();
    assert_eq!(found.len(), 1, "pointers to word {target}: {found:?}");
    found[0]
}

#[test]
fn a_value_holding_a_capability() {
    // The constant becomes an AnyPointer whose value is a list holding a marker word; the
    // pointer to that list then becomes a capability pointer.
    const MARKER: u64 = 0x1122_3344_5566_7788;
    let mut e = Edit::new();
    match e.node("answer").which().unwrap() {
        node::Const(c) => {
            let mut c = c;
            c.reborrow()
                .init_type()
                .init_any_pointer()
                .init_unconstrained()
                .set_any_kind(());
            let mut list: capnp::primitive_list::Builder<u64> =
                c.init_value().init_any_pointer().initn_as(1);
            list.set(0, MARKER);
        }
        _ => unreachable!(),
    }
    let mut w = words(&e.bytes());
    let marker = w.iter().position(|&x| x == MARKER).unwrap();
    let p = pointer_to(&w, marker);
    w[p] = 3;
    let err = error(&from_words(&w));
    assert_eq!(
        err,
        format!(
            "{}: a pointer value holds a capability, which a schema value cannot",
            at("answer")
        )
    );
}

// ---------------------------------------------------------------------------------------------
// Annotations
// ---------------------------------------------------------------------------------------------

#[test]
fn an_annotation_on_a_target_it_does_not_allow() {
    // `mark` is for enums only.
    let mark = id("mark");
    let err = refused(|e| {
        e.node("Shape")
            .get_annotations()
            .unwrap()
            .get(0)
            .set_id(mark)
    });
    assert_eq!(
        err,
        format!(
            "{}: the annotation `hostile.capnp:mark` (@{mark:#x}) is applied to a struct, which \
             it does not allow (it allows: enum)",
            at("Shape")
        )
    );
}

#[test]
fn an_annotation_value_of_the_wrong_kind() {
    let err = refused(|e| {
        e.field("Shape", "label")
            .get_annotations()
            .unwrap()
            .get(0)
            .init_value()
            .set_uint8(1)
    });
    assert_eq!(
        err,
        format!(
            "{}: the value of annotation `hostile.capnp:tag` is a UInt8, but its type is `Text`",
            at_field("Shape", "label")
        )
    );
}

#[test]
fn an_annotation_that_is_not_in_the_request() {
    let err = refused(|e| {
        e.field("Shape", "label")
            .get_annotations()
            .unwrap()
            .get(0)
            .set_id(0x99)
    });
    assert_eq!(
        err,
        format!(
            "{}: an annotation names node @0x99, which the request does not contain",
            at_field("Shape", "label")
        )
    );
}

// ---------------------------------------------------------------------------------------------
// IDs, names and positions
// ---------------------------------------------------------------------------------------------

#[test]
fn two_nodes_with_one_id() {
    let shape = id("Shape");
    let first = Edit::new().index("Shape");
    let err = refused(|e| e.node("Inner").set_id(shape));
    let second = Edit::new().index("Inner");
    let (a, b) = (first.min(second), first.max(second));
    assert_eq!(
        err,
        format!(
            "invalid schema: in the request, node {b}: its ID @{shape:#x} is the ID of node {a} \
             too; IDs must be distinct"
        )
    );
}

#[test]
fn a_node_with_id_zero() {
    let i = Edit::new().index("Inner");
    let err = refused(|e| e.node("Inner").set_id(0));
    assert_eq!(
        err,
        format!(
            "invalid schema: in the request, node {i}: its ID is 0, which stands for \"no node\""
        )
    );
}

#[test]
fn two_fields_with_one_name() {
    let err = refused(|e| e.field("Shape", "label").set_name("color"));
    assert_eq!(
        err,
        format!(
            "{}: another field has the name `color` too",
            at_field("Shape", "color")
        )
    );
}

#[test]
fn two_enumerants_with_one_name() {
    let err = refused(|e| match e.node("Color").which().unwrap() {
        node::Enum(en) => en.get_enumerants().unwrap().get(2).set_name("red"),
        _ => unreachable!(),
    });
    assert_eq!(
        err,
        format!(
            "{}, enumerant `red`: another enumerant has the name `red` too",
            at("Color")
        )
    );
}

#[test]
fn code_orders_that_are_not_a_permutation() {
    let err = refused(|e| e.field("Shape", "label").set_code_order(0));
    assert_eq!(
        err,
        format!(
            "{}: its code order 0 is not a distinct position among the 10 fields",
            at_field("Shape", "label")
        )
    );
    let err = refused(|e| match e.node("Color").which().unwrap() {
        node::Enum(en) => en.get_enumerants().unwrap().get(1).set_code_order(9),
        _ => unreachable!(),
    });
    assert_eq!(
        err,
        format!(
            "{}, enumerant `green`: its code order 9 is not a distinct position among the 3 \
             enumerants",
            at("Color")
        )
    );
}

#[test]
fn ordinals_out_of_order() {
    let err = refused(|e| e.field("Shape", "label").get_ordinal().set_explicit(1));
    assert_eq!(
        err,
        format!(
            "{}: its ordinal @1 comes after @2: fields are listed by ordinal",
            at_field("Shape", "label")
        )
    );
}

#[test]
fn a_display_name_prefix_outside_the_name() {
    let err = refused(|e| e.node("Inner").set_display_name_prefix_length(99));
    assert_eq!(
        err,
        format!(
            "{}: its display name prefix length 99 is not a position in its display name of 19 \
             bytes",
            at("Inner")
        )
    );
    // Inside a character that takes two bytes.
    let err = refused(|e| {
        let mut n = e.node("Inner");
        n.set_display_name("hostile.capnp:Ïnner");
        n.set_display_name_prefix_length(15);
    });
    assert!(
        err.starts_with("invalid schema: in `hostile.capnp:Ïnner`")
            && err.ends_with("its display name prefix length 15 is not a position in its display name of 20 bytes"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Lists longer than their encoding
// ---------------------------------------------------------------------------------------------

/// Makes the only list of one struct of `data` words and `pointers` pointers claim `count`
/// zero-sized elements: its pointer then counts no words, and its tag that many elements.
fn zero_sized(bytes: &[u8], data: u16, pointers: u16, count: u32) -> Vec<u8> {
    let mut w = words(bytes);
    let tag = 1u64 << 2 | (data as u64) << 32 | (pointers as u64) << 48;
    // (pointer, tag) pairs: a pointer to a list of structs whose tag says one such struct.
    let lists: Vec<(usize, usize)> = (1..w.len())
        .filter(|&p| w[p] & 3 == 1 && (w[p] >> 32) & 7 == 7)
        .filter_map(|p| {
            let t = p as i64 + 1 + ((w[p] as u32) as i32 >> 2) as i64;
            let t = usize::try_from(t).ok()?;
            (w.get(t) == Some(&tag)).then_some((p, t))
        })
        .collect();
    assert_eq!(
        lists.len(),
        1,
        "lists of one ({data}, {pointers}) struct: {lists:?}"
    );
    let (p, t) = lists[0];
    w[p] &= (1 << 35) - 1;
    w[t] = (count as u64) << 2;
    from_words(&w)
}

/// A request built by hand: a file, and a struct with one field.
fn one_struct(edit: impl FnOnce(node::Builder<'_>)) -> Vec<u8> {
    let mut message = Builder::new_default();
    let request = message.init_root::<code_generator_request::Builder>();
    let mut nodes = request.init_nodes(2);
    let mut file = nodes.reborrow().get(0);
    file.set_id(0xf000_0000_0000_0001);
    file.set_display_name("z.capnp");
    file.set_file(());
    let mut node = nodes.get(1);
    node.set_id(0xf000_0000_0000_0002);
    node.set_display_name("z.capnp:Z");
    node.set_display_name_prefix_length(8);
    node.set_scope_id(0xf000_0000_0000_0001);
    edit(node);
    capnp::serialize::write_message_to_words(&message)
}

/// Loads `bytes` and returns the error and how long it took.
fn timed_error(bytes: &[u8]) -> (String, Duration) {
    let start = Instant::now();
    let err = error(bytes);
    (err, start.elapsed())
}

const CLAIMED: [u32; 3] = [60_000, 1 << 20, (1 << 29) - 1];

#[test]
fn zero_sized_fields_are_refused_before_they_are_read() {
    let bytes = one_struct(|n| {
        let mut f = n.init_struct().init_fields(1).get(0);
        f.set_name("a");
        f.set_discriminant_value(0xffff);
    });
    assert!(SchemaPool::from_code_generator_request(&bytes).is_ok());
    for count in CLAIMED {
        let hostile = zero_sized(&bytes, 3, 4, count);
        let (err, took) = timed_error(&hostile);
        assert!(
            err.starts_with("invalid schema: in `z.capnp:Z` (@0xf000000000000002): "),
            "{err}"
        );
        assert!(
            err.contains(&format!("its {count} fields would take the schema past"))
                || err.contains(&format!(
                    "it has {count} fields, more than the {MAX_MEMBERS}"
                ))
                || err.contains("reading it goes past the traversal limit"),
            "{err}"
        );
        assert!(
            took < Duration::from_secs(1),
            "{count} fields took {took:?}"
        );
    }
    let (err, _) = timed_error(&zero_sized(&bytes, 3, 4, 60_000));
    assert!(
        err.ends_with(&format!(
            "its 60000 fields would take the schema past {} bytes of memory, the most a request \
             of {} bytes may use (48 bytes per byte of request plus 262144); the request claims \
             far more than it holds",
            serde_capnp_schema::MEMORY_PER_REQUEST_BYTE * bytes.len()
                + serde_capnp_schema::MEMORY_BASE,
            bytes.len()
        )),
        "{err}"
    );
}

#[test]
fn zero_sized_enumerants_and_annotations_are_refused() {
    let bytes = one_struct(|n| {
        let mut e = n.init_enum().init_enumerants(1).get(0);
        e.set_name("a");
    });
    assert!(SchemaPool::from_code_generator_request(&bytes).is_ok());
    let (err, took) = timed_error(&zero_sized(&bytes, 1, 2, 60_000));
    assert!(
        err.contains("its 60000 enumerants would take the schema past"),
        "{err}"
    );
    assert!(took < Duration::from_secs(1));

    // An annotation list, on a struct with no fields.
    let bytes = one_struct(|mut n| {
        n.reborrow().init_struct();
        n.init_annotations(1).get(0).set_id(0x1);
    });
    for count in CLAIMED {
        let (err, took) = timed_error(&zero_sized(&bytes, 1, 2, count));
        assert!(
            err.contains(&format!(
                "its {count} annotations would take the schema past"
            )) || err.contains("reading it goes past the traversal limit"),
            "{err}"
        );
        assert!(took < Duration::from_secs(1));
    }
}

#[test]
fn zero_sized_nodes_and_brands_are_refused() {
    // The node list itself.
    let mut message = Builder::new_default();
    let request = message.init_root::<code_generator_request::Builder>();
    let mut file = request.init_nodes(1).get(0);
    file.set_id(0xf000_0000_0000_0001);
    file.set_display_name("z.capnp");
    let bytes = capnp::serialize::write_message_to_words(&message);
    assert!(SchemaPool::from_code_generator_request(&bytes).is_ok());
    let (err, took) = timed_error(&zero_sized(&bytes, 5, 6, 60_000));
    assert!(
        err.starts_with(
            "invalid schema: in the request: its 60000 nodes would take the schema past"
        ),
        "{err}"
    );
    assert!(took < Duration::from_secs(1));

    // The scopes of a brand.
    let bytes = one_struct(|n| {
        let mut s = n.init_struct();
        s.set_pointer_count(1);
        let mut f = s.init_fields(1).get(0);
        f.set_name("a");
        f.set_discriminant_value(0xffff);
        let mut st = f.init_slot().init_type().init_struct();
        st.set_type_id(0xf000_0000_0000_0002);
        let mut scope = st.init_brand().init_scopes(1).get(0);
        scope.set_scope_id(0xf000_0000_0000_0002);
        scope.set_inherit(());
    });
    let err = error(&bytes);
    assert!(err.ends_with("declares no generic parameters"), "{err}");
    let (err, took) = timed_error(&zero_sized(&bytes, 2, 1, 60_000));
    assert!(
        err.contains("a brand of 60000 scopes would take the schema past"),
        "{err}"
    );
    assert!(took < Duration::from_secs(1));
}

// ---------------------------------------------------------------------------------------------
// Every real request loads
// ---------------------------------------------------------------------------------------------

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn capnp_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            capnp_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "capnp") {
            out.push(p);
        }
    }
}

/// The checks refuse nothing a compiler writes: the requests `capnp compile` wrote for the
/// repository's schemas, and what the built-in compiler writes for the repository's schemas,
/// its compiler test schemas and the standard schemas.
#[test]
fn every_real_request_loads() {
    let root = workspace();
    let mut loaded = 0;
    for entry in std::fs::read_dir(root.join("schemas/compiled")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "bin") {
            let bytes = std::fs::read(&path).unwrap();
            SchemaPool::from_code_generator_request(&bytes)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            loaded += 1;
        }
    }
    // Each directory is the source prefix of its files, and for the compiler's tests the
    // import path too, as the conformance tests compile them.
    for (dir, import) in [
        ("schemas", false),
        ("tests/compiler/valid", true),
        ("serde_capnp_schema/std", false),
    ] {
        let dir = std::fs::canonicalize(root.join(dir)).unwrap();
        let mut compiler = Compiler::new().src_prefix(&dir);
        if import {
            compiler = compiler.import_path(&dir);
        }
        let mut files = Vec::new();
        capnp_files(&dir, &mut files);
        for file in files {
            let compiled = compiler
                .compile(&[file.to_string_lossy()])
                .unwrap_or_else(|e| panic!("{}", e.render()));
            compiled
                .schema_pool()
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            loaded += 1;
        }
    }
    assert!(loaded > 30, "only {loaded} requests");
}

/// A reader the caller made is checked the same way, its memory bounded by its total size.
#[test]
fn a_request_reader_is_checked_too() {
    let read = |bytes: &[u8]| {
        let message =
            capnp::serialize::read_message(&mut &bytes[..], ReaderOptions::new()).unwrap();
        let request: code_generator_request::Reader = message.get_root().unwrap();
        SchemaPool::from_request_reader(request).map_err(|e| e.message().to_string())
    };
    assert!(read(&base()).is_ok());
    let color = id("Color");
    let mut e = Edit::new();
    e.slot_type("Shape", "inner")
        .init_struct()
        .set_type_id(color);
    assert!(read(&e.bytes())
        .unwrap_err()
        .ends_with("which is an enum, not a struct"));
    let bytes = one_struct(|n| {
        let mut f = n.init_struct().init_fields(1).get(0);
        f.set_name("a");
        f.set_discriminant_value(0xffff);
    });
    let err = read(&zero_sized(&bytes, 3, 4, 60_000)).unwrap_err();
    assert!(
        err.contains("its 60000 fields would take the schema past"),
        "{err}"
    );
}
