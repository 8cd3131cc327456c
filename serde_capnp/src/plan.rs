//! The index of per-Rust-type plans shared by the serializer and the deserializer.
//!
//! A plan is found by (struct node, address of a `&'static` that serde hands over: the struct
//! name when writing, the field list when reading). A few recently used plans are checked first
//! by comparing those addresses, so that alternating nested types (a record and its address)
//! never reach the hash map.

pub(crate) use serde_capnp_schema::FastMap;
use serde_capnp_schema::NodeIndex;

const RECENT: usize = 4;

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
