//! The index of per-Rust-type plans shared by the serializer and the deserializer.
//!
//! A plan is found by (struct node, address of a `&'static` that serde hands over: the struct
//! name when writing, the field list when reading). A few recently used plans are checked first
//! by comparing those addresses, so that alternating nested types (a record and its address)
//! never reach the hash map.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde_capnp_schema::NodeIndex;

const RECENT: usize = 4;

/// A hash map keyed by small integers, with the fast hasher below.
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

pub(crate) struct PlanIndex {
    map: FastMap<(NodeIndex, usize), u32>,
    recent: [(NodeIndex, usize, u32); RECENT],
    next: usize,
}

impl PlanIndex {
    pub(crate) fn new() -> Self {
        PlanIndex {
            map: FastMap::default(),
            recent: [(NodeIndex::MAX, 0, 0); RECENT],
            next: 0,
        }
    }

    /// The plan for `(node, key)`; `make` adds it, as plan number `count`, when it is new.
    #[inline]
    pub(crate) fn get_or_make(
        &mut self,
        node: NodeIndex,
        key: usize,
        count: usize,
        make: impl FnOnce(),
    ) -> u32 {
        for &(n, k, p) in &self.recent {
            if n == node && k == key {
                return p;
            }
        }
        let next = count as u32;
        let p = *self.map.entry((node, key)).or_insert(next);
        if p == next {
            make();
        }
        self.recent[self.next] = (node, key, p);
        self.next = (self.next + 1) % RECENT;
        p
    }
}

/// A small, fast hasher for integer keys (the multiply-rotate scheme of rustc's FxHash).
#[derive(Default)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.write_u64(v as u64)
    }
    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64)
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}
