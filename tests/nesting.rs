//! Cycles and deep nesting, with a recursive schema compiled by the reference tool at test
//! time: every reader stops at the nesting limit, and a cycle stops at the traversal limit.

#[allow(unused_macros, unused_imports)]
mod common;

use serde::{Deserialize, Serialize};
use serde_capnp::{Category, ReadOptions, Schema, StructSchema};

use common::words::*;

const NODE_SCHEMA: &str = "@0xd6b1c0d3e2f4a5b7;

struct Node {
  value @0 :UInt32;
  next @1 :Node;
  children @2 :List(Node);
}
";

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Node {
    value: u32,
    next: Option<Box<Node>>,
    /// Left null when empty, so that a node nests only as deep as its content.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    children: Vec<Node>,
}

impl Drop for Node {
    // Dropping a long chain recursively could overflow the stack; unlink it first.
    fn drop(&mut self) {
        let mut next = self.next.take();
        while let Some(mut n) = next {
            next = n.next.take();
        }
    }
}

fn node_schema() -> Option<StructSchema> {
    common::capnp_tool()?;
    let dir = common::scratch_dir("hostile-node");
    let path = dir.join("node.capnp");
    std::fs::write(&path, NODE_SCHEMA).unwrap();
    let request = common::try_capnp_compile(&path, &[]).unwrap();
    Some(
        Schema::from_code_generator_request(&request)
            .unwrap()
            .struct_type("Node")
            .unwrap(),
    )
}

/// Runs `f` on a thread with a large stack, so that a bug that recurses too deeply shows as
/// a test failure rather than a crash of the whole test binary.
fn on_big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

fn chain(depth: u32) -> Node {
    let mut node = Node {
        value: depth - 1,
        next: None,
        children: vec![],
    };
    for v in (0..depth - 1).rev() {
        node = Node {
            value: v,
            next: Some(Box::new(node)),
            children: vec![],
        };
    }
    node
}

fn chain_len(n: &Node) -> usize {
    let mut len = 1;
    let mut at = n;
    while let Some(next) = &at.next {
        len += 1;
        at = next;
    }
    len
}

#[test]
fn deep_nesting_hits_the_nesting_limit() {
    let st = common::require_tool!(node_schema(), "the `capnp` tool is not installed");
    on_big_stack(move || {
        // Writing is held to the handle's nesting limit too.
        let err = st.to_vec(&chain(100)).unwrap_err();
        assert_eq!(err.category(), Category::Limit, "{err:?}");
        let bytes = with_nesting(&st, 100).to_vec(&chain(100)).unwrap();
        // The default limit is 64 levels.
        let err = st.from_slice::<Node>(&bytes).unwrap_err();
        assert_eq!(err.category(), Category::Limit, "{err:?}");
        assert!(err.path().starts_with("next.next.next"), "{err:?}");
        let err = st.from_slice::<serde_json::Value>(&bytes).unwrap_err();
        assert_eq!(err.category(), Category::Limit, "{err:?}");
        // A chain of 100 structs needs 100 levels, no more.
        let v: Node = with_nesting(&st, 100).from_slice(&bytes).unwrap();
        assert_eq!(chain_len(&v), 100);
        let err = with_nesting(&st, 99)
            .from_slice::<Node>(&bytes)
            .unwrap_err();
        assert_eq!(err.category(), Category::Limit, "{err:?}");
        // Skipping the deep field does not count.
        #[derive(Deserialize)]
        struct Shallow {
            value: u32,
        }
        assert_eq!(st.from_slice::<Shallow>(&bytes).unwrap().value, 0);
    });
}

#[test]
fn deep_nesting_through_lists_hits_the_nesting_limit() {
    let st = common::require_tool!(node_schema(), "the `capnp` tool is not installed");
    on_big_stack(move || {
        // Each level is a list of one node: the list is one level, its elements (which live
        // inside it) none.
        let mut node = Node {
            value: 0,
            next: None,
            children: vec![],
        };
        for v in 1..100 {
            node = Node {
                value: v,
                next: None,
                children: vec![node],
            };
        }
        let bytes = with_nesting(&st, 200).to_vec(&node).unwrap();
        let err = st.from_slice::<Node>(&bytes).unwrap_err();
        assert_eq!(err.category(), Category::Limit, "{err:?}");
        assert!(err.path().starts_with("children[0].children[0]"), "{err:?}");
        let back: Node = with_nesting(&st, 200).from_slice(&bytes).unwrap();
        assert_eq!(back, node);
    });
}

#[test]
fn a_very_long_hand_built_chain_stops_at_the_limit() {
    let st = common::require_tool!(node_schema(), "the `capnp` tool is not installed");
    on_big_stack(move || {
        // 200,000 nodes of one data word and two pointers, each `next` pointing to the node
        // right after it.
        let n = 200_000;
        let mut seg = vec![struct_ptr(0, 1, 2)];
        for i in 0..n {
            seg.push(i as u64);
            seg.push(if i + 1 < n { struct_ptr(1, 1, 2) } else { 0 });
            seg.push(0);
        }
        let bytes = frame(&[seg]);
        for result in [
            st.from_slice::<Node>(&bytes).map(|_| ()),
            st.from_slice::<serde_json::Value>(&bytes).map(|_| ()),
            st.from_slice::<Anything>(&bytes).map(|_| ()),
        ] {
            let err = result.unwrap_err();
            assert_eq!(err.category(), Category::Limit, "{err:?}");
        }
    });
}

#[test]
fn a_struct_pointing_to_itself() {
    let st = common::require_tool!(node_schema(), "the `capnp` tool is not installed");
    on_big_stack(move || {
        // Root at word 0 → node at word 1; its `next` (word 2) points back to word 1.
        let bytes = frame(&[vec![struct_ptr(0, 1, 2), 7, struct_ptr(-2, 1, 2), 0]]);
        let err = st.from_slice::<Node>(&bytes).unwrap_err();
        assert_eq!(err.category(), Category::Limit, "{err:?}");
        let err = st.from_slice::<Anything>(&bytes).unwrap_err();
        assert_eq!(err.category(), Category::Limit, "{err:?}");
        // With no nesting limit to speak of, the traversal limit stops the cycle.
        let st = st.with_read_options(ReadOptions {
            traversal_limit_in_words: 3_000,
            nesting_limit: 100_000,
            ..ReadOptions::default()
        });
        let err = st.from_slice::<Node>(&bytes).unwrap_err();
        assert_eq!(err.category(), Category::Limit, "{err:?}");
    });
}

#[test]
fn a_struct_list_containing_itself() {
    let st = common::require_tool!(node_schema(), "the `capnp` tool is not installed");
    on_big_stack(move || {
        // Root node (word 1..4) whose `children` (word 3) is a list at word 4: a tag and one
        // node (words 5..8) whose own `children` (word 7) points back to the same list.
        let bytes = frame(&[vec![
            struct_ptr(0, 1, 2),
            1,
            0,
            list_ptr(0, 7, 3),
            tag(1, 1, 2),
            2,
            0,
            list_ptr(-4, 7, 3),
        ]]);
        for nesting_limit in [64, 1000] {
            let st = st.clone().with_read_options(ReadOptions {
                traversal_limit_in_words: 10_000,
                nesting_limit,
                ..ReadOptions::default()
            });
            let err = st.from_slice::<Node>(&bytes).unwrap_err();
            assert_eq!(err.category(), Category::Limit, "{err:?}");
            let err = st.from_slice::<serde_json::Value>(&bytes).unwrap_err();
            assert_eq!(err.category(), Category::Limit, "{err:?}");
        }
        // With no nesting limit to speak of, the traversal limit stops the cycle. (Not tried
        // through `deserialize_any` here: see `null_recursive_pointers_through_deserialize_any`.)
        let st = st.with_read_options(ReadOptions {
            traversal_limit_in_words: 10_000,
            nesting_limit: 1_000_000,
            ..ReadOptions::default()
        });
        let err = st.from_slice::<Node>(&bytes).unwrap_err();
        assert_eq!(err.category(), Category::Limit, "{err:?}");
    });
}

/// A small, valid message of a recursive struct read through `deserialize_any`: the null
/// `next` of the last node must read as null, not as an empty `Node` whose own `next` is
/// null in turn, and so on.
#[test]
fn a_recursive_struct_as_a_json_value() {
    let st = common::require_tool!(node_schema(), "the `capnp` tool is not installed");
    on_big_stack(move || {
        let bytes = st.to_vec(&chain(3)).unwrap();
        assert_eq!(chain_len(&st.from_slice::<Node>(&bytes).unwrap()), 3);
        let v: serde_json::Value = st
            .from_slice(&bytes)
            .unwrap_or_else(|e| panic!("a chain of 3 nodes as serde_json::Value: {e:?}"));
        assert_eq!(v["value"], 0);
        assert_eq!(v["next"]["value"], 1);
        assert_eq!(v["next"]["next"]["value"], 2);
        assert!(v["next"]["next"]["next"].is_null(), "{v}");
    });
}

const CHILD_PROBE: &str = "SERDE_CAPNP_HOSTILE_CHILD";

/// The work of [`null_recursive_pointers_through_deserialize_any`], run in a child process
/// because a failure there is a stack overflow, which aborts the process.
#[test]
fn child_probe_null_recursive_pointer() {
    if std::env::var_os(CHILD_PROBE).is_none() {
        return;
    }
    let Some(st) = node_schema() else { return };
    let st = st.with_read_options(ReadOptions {
        traversal_limit_in_words: 10_000,
        nesting_limit: 1_000_000,
        ..ReadOptions::default()
    });
    let bytes = st.to_vec(&chain(1)).unwrap();
    let r = on_big_stack(move || st.from_slice::<Anything>(&bytes).map(|_| ()));
    // Either answer will do, as long as there is one.
    let _ = r;
}

/// With a generous nesting limit, reading a recursive struct through `deserialize_any` must
/// still end: the traversal limit bounds the work. The check runs in a child process (this
/// test binary, running `child_probe_null_recursive_pointer`), which must exit normally.
#[test]
fn null_recursive_pointers_through_deserialize_any() {
    common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "child_probe_null_recursive_pointer",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_PROBE, "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "reading one `Node` (its `next` null) as a dynamic value with traversal limit 10,000 \
         words and nesting limit 1,000,000 did not finish: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| l.contains("overflow") || l.contains("panicked"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Every reader counts the root struct and each struct under it towards the nesting limit,
/// and stops with the same error.
#[test]
fn every_reader_counts_nesting_alike() {
    let st = common::require_tool!(node_schema(), "the `capnp` tool is not installed");
    let bytes = st.to_vec(&chain(10)).unwrap();
    type Read = fn(&StructSchema, &[u8]) -> serde_capnp::Result<()>;
    let readers: [(&str, Read); 6] = [
        ("from_slice", |st, b| st.from_slice::<Node>(b).map(drop)),
        ("from_slice into serde_json::Value", |st, b| {
            st.from_slice::<serde_json::Value>(b).map(drop)
        }),
        ("read_value", |st, b| st.read_value(b).map(drop)),
        ("to_json", |st, b| st.to_json(b).map(drop)),
        ("to_text", |st, b| st.to_text(b).map(drop)),
        ("reader", |st, b| st.reader(b)?.root()?.to_value().map(drop)),
    ];
    for (name, read) in readers {
        read(&with_nesting(&st, 10), &bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let err = read(&with_nesting(&st, 9), &bytes).unwrap_err();
        assert_eq!(err.category(), Category::Limit, "{name}: {err:?}");
        assert_eq!(
            err.message(),
            "nesting limit exceeded: the message nests too deeply",
            "{name}"
        );
    }
}
