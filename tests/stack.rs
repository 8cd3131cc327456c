//! No nesting limit a caller sets can overflow the stack: every reader and the writer stop with
//! a `Limit` error once a read or write has used its share of the stack (1 MiB), on a thread
//! with the usual 2 MiB, whatever `nesting_limit` says.

use serde::{Deserialize, Serialize};
use serde_capnp::{Category, ReadOptions, Schema, StructSchema, Value};

#[allow(unused_macros, unused_imports)]
mod common;

use common::words::*;

/// A one-segment message of `words`, with its segment table.
fn one_segment(words: &[u64]) -> Vec<u8> {
    frame(&[words.to_vec()])
}

const SCHEMA: &str = "@0xd1b5a1c3e0f2a4b6;
struct Node {
  value @0 :UInt32;
  next @1 :Node;
  children @2 :List(Node);
}
";

#[derive(Serialize, Deserialize, Debug)]
struct Node {
    value: u32,
    next: Option<Box<Node>>,
    children: Vec<Node>,
}

/// The node struct with limits that leave only the stack to stop a deep read.
fn unlimited() -> StructSchema {
    Schema::parse("node.capnp", SCHEMA)
        .unwrap()
        .struct_type("Node")
        .unwrap()
        .with_read_options(ReadOptions {
            traversal_limit_in_words: u64::MAX,
            amplification_limit: 0,
            nesting_limit: u32::MAX,
        })
}

/// Runs `f` on a thread with a 2 MiB stack, the default for threads Rust spawns.
fn on_2_mib_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

/// A 32-byte message whose root's `next` is the root itself: infinitely deep.
fn self_pointing() -> Vec<u8> {
    // Root pointer to a struct of one data word and two pointers at word 1; its pointer 0
    // (word 2) points back at word 1 (offset -2).
    let root = (1u64 << 32) | (2u64 << 48);
    let back = (((-2i32 as u32) << 2) as u64) | (1u64 << 32) | (2u64 << 48);
    one_segment(&[root, 7, back, 0])
}

fn assert_limit<T: std::fmt::Debug>(what: &str, r: serde_capnp::Result<T>) {
    let err = r.expect_err(what);
    assert_eq!(err.category(), Category::Limit, "{what}: {err:?}");
    assert!(err.message().contains("nest"), "{what}: {err:?}");
}

#[test]
fn an_endless_self_reference_stops_every_reader() {
    on_2_mib_stack(|| {
        let st = unlimited();
        let bytes = self_pointing();
        assert_limit("typed", st.from_slice::<Node>(&bytes));
        assert_limit("read_value", st.read_value(&bytes));
        assert_limit("any", st.from_slice::<serde_json::Value>(&bytes));
        assert_limit("to_json", st.to_json(&bytes));
        assert_limit("to_text", st.to_text(&bytes));
        let message = st.reader(&bytes).unwrap();
        assert_limit("dynamic to_value", message.root().unwrap().to_value());
        assert_limit(
            "dynamic deserialize",
            message.root().unwrap().deserialize::<Node>(),
        );
    });
}

/// A `Value` chain `depth` nodes deep, built without recursion.
fn deep_value(depth: usize) -> Value {
    let mut v = Value::structure([("value", Value::UInt32(0))]);
    for i in 1..depth {
        v = Value::structure([("value", Value::UInt32(i as u32)), ("next", v)]);
    }
    v
}

/// A Rust chain `depth` nodes deep.
fn deep_node(depth: usize) -> Node {
    let mut n = Node {
        value: 0,
        next: None,
        children: vec![],
    };
    for i in 1..depth {
        n = Node {
            value: i as u32,
            next: Some(Box::new(n)),
            children: vec![],
        };
    }
    n
}

/// Drops a chain without recursing through it.
fn drop_node(mut n: Node) {
    while let Some(next) = n.next.take() {
        n = *next;
    }
}

fn drop_value(mut v: Value) {
    loop {
        let next = match &mut v {
            Value::Struct(s) => s.get_mut("next").map(|n| std::mem::replace(n, Value::Void)),
            _ => None,
        };
        match next {
            Some(n) => v = n,
            None => break,
        }
    }
}

#[test]
fn writing_a_value_100_000_deep_stops_at_the_stack() {
    on_2_mib_stack(|| {
        let st = unlimited();
        let v = deep_value(100_000);
        assert_limit("to_vec", st.to_vec(&v));
        assert_limit("value_to_json", st.value_to_json(&v, Default::default()));
        assert_limit("value_to_text", st.value_to_text(&v, true));
        let shown = st.display(&v).to_string();
        assert!(
            shown.starts_with("<error:") && shown.contains("nest"),
            "{shown}"
        );
        drop_value(v);
        let n = deep_node(100_000);
        assert_limit("to_vec of a Rust chain", st.to_vec(&n));
        drop_node(n);
    });
}

#[test]
fn the_writer_keeps_to_the_nesting_limit() {
    let st = Schema::parse("node.capnp", SCHEMA)
        .unwrap()
        .struct_type("Node")
        .unwrap();
    // The default limit is 64 levels, counted as readers count them: what can be written can
    // be read, and one level more can be neither.
    let deepest = (1..100)
        .take_while(|&d| st.to_vec(&deep_node(d)).is_ok())
        .last()
        .unwrap();
    assert!(deepest >= 32, "{deepest}");
    let bytes = st.to_vec(&deep_node(deepest)).unwrap();
    drop_node(st.from_slice::<Node>(&bytes).unwrap());
    let err = st.to_vec(&deep_node(deepest + 1)).unwrap_err();
    assert_eq!(err.category(), Category::Limit, "{err:?}");
    let deeper = unlimited().to_vec(&deep_node(deepest + 1)).unwrap();
    let err = st.from_slice::<Node>(&deeper).unwrap_err();
    assert_eq!(err.category(), Category::Limit, "{err:?}");
}
