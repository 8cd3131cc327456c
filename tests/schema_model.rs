//! The schema model built from a `CodeGeneratorRequest`: name lookup, layouts, constants,
//! annotations, generics and interfaces.

mod common;

use serde_capnp::model::{FieldSlot, NodeKind, Type, Value};
use serde_capnp::{Category, Schema};

fn schema(name: &str) -> Schema {
    Schema::from_code_generator_request(&common::compiled_schema(name)).unwrap()
}

#[test]
fn lookup_by_short_nested_and_file_qualified_names() {
    let s = schema("addressbook");
    let by_short = s.struct_type("PhoneNumber").unwrap();
    let by_path = s.struct_type("Person.PhoneNumber").unwrap();
    let by_file = s
        .struct_type("addressbook.capnp:Person.PhoneNumber")
        .unwrap();
    assert_eq!(by_short.id(), by_path.id());
    assert_eq!(by_short.id(), by_file.id());
    assert_eq!(
        by_file.display_name(),
        "addressbook.capnp:Person.PhoneNumber"
    );
    assert_eq!(s.struct_by_id(by_short.id()).unwrap().name(), "PhoneNumber");

    let err = s.struct_type("Nobody").unwrap_err();
    assert_eq!(err.category(), Category::Schema);
    assert!(err.message().contains("`Nobody`"), "{err}");
    let err = s.struct_type("Person.PhoneNumber.Type").unwrap_err();
    assert!(err.message().contains("is not a struct"), "{err}");
}

#[test]
fn layouts_unions_and_groups() {
    let s = schema("addressbook");
    let person = s.struct_type("Person").unwrap();
    let (pool, index) = person.pool();
    let person = pool.node(index).as_struct().unwrap();
    // The layout capnp assigns: id in the data section, four pointers.
    assert_eq!(person.pointer_count, 4);
    assert_eq!(person.data_words, 1);
    let employment = &person.fields[person.field_index("employment").unwrap() as usize];
    let FieldSlot::Group { node } = employment.slot else {
        panic!("employment is a group");
    };
    let group = pool.node(node).as_struct().unwrap();
    assert!(group.is_group);
    assert_eq!(group.discriminant_count, 4);
    let names: Vec<&str> = group
        .union_members
        .iter()
        .map(|&i| group.fields[i as usize].name.as_str())
        .collect();
    assert_eq!(names, ["unemployed", "employer", "school", "selfEmployed"]);
}

#[test]
fn constants_and_defaults_are_loaded() {
    let s = schema("alltypes");
    let pool = s.pool();
    let answer = pool.node(pool.find("answer").unwrap());
    let NodeKind::Const(c) = &answer.kind else {
        panic!("answer is a constant");
    };
    assert_eq!(c.ty, Type::Int32);
    assert_eq!(c.value, Value::Int32(42));

    let defaults = pool
        .node(pool.find("Defaults").unwrap())
        .as_struct()
        .unwrap();
    let f = &defaults.fields[defaults.field_index("int8Default").unwrap() as usize];
    let FieldSlot::Data { default_bits, .. } = f.slot else {
        panic!("int8Default is data");
    };
    assert_eq!(default_bits, (-123i8) as u8 as u64);
    let f = &defaults.fields[defaults.field_index("textDefault").unwrap() as usize];
    let FieldSlot::Pointer { default, .. } = &f.slot else {
        panic!("textDefault is a pointer");
    };
    assert_eq!(default, &Some(Value::Text("hello, defaults".into())));
}

#[test]
fn generic_brands_resolve_field_types() {
    let s = schema("alltypes");
    let pool = s.pool();
    let all = pool
        .node(pool.find("AllTypes").unwrap())
        .as_struct()
        .unwrap();
    let f = &all.fields[all.field_index("textInnerPair").unwrap() as usize];
    let Some(Type::Struct(pair, Some(brand))) = f.slot.ty() else {
        panic!("textInnerPair is a branded struct");
    };
    let pair_node = pool.node(*pair).as_struct().unwrap();
    let key = pair_node.fields[pair_node.field_index("key").unwrap() as usize]
        .slot
        .ty()
        .unwrap();
    assert!(matches!(key, Type::Param { .. }));
    assert_eq!(key.resolve(Some(brand)), Type::Text);
    let value = pair_node.fields[pair_node.field_index("value").unwrap() as usize]
        .slot
        .ty()
        .unwrap();
    assert_eq!(
        value.resolve(Some(brand)).describe(pool),
        "Inner",
        "the second parameter is bound to Inner"
    );
}

/// Interfaces, methods, superclasses and annotations, from a schema compiled at test time.
#[test]
fn interfaces_and_annotations() {
    let _capnp = common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let dir = common::scratch_dir("interfaces");
    let path = dir.join("calc.capnp");
    std::fs::write(
        &path,
        r#"@0xd6a3a4bbc4b2c0f1;
annotation label(struct, field, method, interface) :Text;
interface Base { ping @0 () -> (); }
interface Calculator extends(Base) $label("calc") {
  add @0 (a :Int64, b :Int64) -> (sum :Int64);
  echo @1 [T] (value :T) -> (value :T);
}
struct Tagged $label("tagged") { x @0 :UInt8 $label("x"); }
struct Left { struct Leaf { a @0 :Bool; } }
struct Right { struct Leaf { b @0 :Bool; } }
"#,
    )
    .unwrap();
    let bytes = common::capnp_compile(&path, &[]);
    let s = Schema::from_code_generator_request(&bytes).unwrap();
    let pool = s.pool();
    let calc = pool.node(pool.find("Calculator").unwrap());
    let NodeKind::Interface(i) = &calc.kind else {
        panic!("Calculator is an interface");
    };
    assert_eq!(i.methods.len(), 2);
    assert_eq!(i.methods[0].name, "add");
    assert_eq!(i.methods[1].implicit_parameters, ["T"]);
    assert_eq!(i.superclasses.len(), 1);
    assert_eq!(
        i.superclasses[0].0,
        pool.node(pool.find("Base").unwrap()).id
    );
    let params = pool.node(pool.index_of(i.methods[0].param_struct).unwrap());
    let params = params.as_struct().unwrap();
    assert_eq!(params.fields.len(), 2);
    assert_eq!(calc.annotations[0].value, Value::Text("calc".into()));
    let tagged = pool.node(pool.find("Tagged").unwrap());
    assert_eq!(tagged.annotations[0].value, Value::Text("tagged".into()));
    let x = &tagged.as_struct().unwrap().fields[0];
    assert_eq!(x.annotations[0].value, Value::Text("x".into()));

    // Two nested structs share a short name: it is ambiguous, their paths are not.
    let err = s.struct_type("Leaf").unwrap_err();
    assert!(err.message().contains("ambiguous"), "{err}");
    assert!(
        err.message().contains("Left.Leaf") && err.message().contains("Right.Leaf"),
        "{err}"
    );
    assert!(s.struct_type("Left.Leaf").is_ok());

    // The method's parameter struct serializes like any struct.
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Add {
        a: i64,
        b: i64,
    }
    let st = s.struct_by_id(i.methods[0].param_struct).unwrap();
    let bytes = st.to_vec(&Add { a: 2, b: 40 }).unwrap();
    assert_eq!(st.from_slice::<Add>(&bytes).unwrap(), Add { a: 2, b: 40 });
}

#[test]
fn malformed_requests_are_errors() {
    // Empty, truncated, a segment table claiming more than there is, and a root that is a list.
    let list_root = [
        0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    for bytes in [
        &[][..],
        &[1, 2, 3],
        &[0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0],
        &list_root,
    ] {
        let err = Schema::from_code_generator_request(bytes).unwrap_err();
        assert_eq!(err.category(), Category::Schema, "{err:?}");
    }
}
