//! The index of per-Rust-type plans shared by the serializer and the deserializer.
//!
//! A plan is found by (struct node, address of a `&'static` that serde hands over: the struct
//! name when writing, the field list when reading). A few recently used plans are checked first
//! by comparing those addresses, so that alternating nested types (a record and its address)
//! never reach the hash map.

use std::sync::{Mutex, OnceLock};

pub(crate) use serde_capnp_schema::FastMap;
use serde_capnp_schema::{NodeIndex, SchemaPool};

use crate::{de, ser};

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

/// The plans of a [`StructSchema`](crate::StructSchema) handle and its clones, kept between
/// messages. Each call takes a set of plans out and puts it back when done; calls that run at
/// the same time (threads sharing the handle) each take their own, and up to [`KEPT`] sets are
/// kept, so that concurrent calls do not start from nothing.
///
/// Plans hold references into the schema pool they were made from, and their lifetime is that
/// of a borrow of the pool. Between calls they are kept with that lifetime erased, with the
/// pool's address, and handed out again only for that same pool, with the lifetime of the
/// caller's borrow of it. The pool outlives the cache: every handle owns an `Arc` of the pool
/// and one of the cache, and declares the cache first, so that the handle that drops the
/// cache last still holds the pool while it does.
#[derive(Default)]
pub(crate) struct PlanCache {
    read: Mutex<Vec<Kept<KeptRead>>>,
    write: Mutex<Vec<Kept<ser::Plans<'static>>>>,
    /// Whether the root's `$Json` annotations can be honoured (the reason when not).
    json: OnceLock<Result<(), String>>,
}

/// How many sets of plans a cache keeps for calls that overlap.
const KEPT: usize = 8;

/// Plans between calls, with the address of the pool their references point into.
struct Kept<P> {
    pool: usize,
    plans: P,
}

/// Reading plans between reads.
struct KeptRead(de::Plans<'static>);

// SAFETY: reading plans are `!Send` for their `Rc`s and `Cell`s only. Both are touched by the
// one read that has the plans taken out of the cache; when the plans go back, every `Rc` clone
// the read made has been dropped (each lives in the access to one struct being read), so the
// thread that takes the plans next is the only one that can reach them.
unsafe impl Send for KeptRead {}

fn address(pool: &SchemaPool) -> usize {
    pool as *const SchemaPool as usize
}

/// Takes a set of plans that `slot` keeps, if it was made from `pool`.
fn take<P>(slot: &Mutex<Vec<Kept<P>>>, pool: &SchemaPool) -> Option<P> {
    match slot.lock().ok()?.pop() {
        Some(kept) if kept.pool == address(pool) => Some(kept.plans),
        _ => None,
    }
}

fn put<P>(slot: &Mutex<Vec<Kept<P>>>, pool: &SchemaPool, plans: P) {
    if let Ok(mut slot) = slot.lock() {
        if slot.len() < KEPT {
            slot.push(Kept {
                pool: address(pool),
                plans,
            });
        }
    }
}

impl PlanCache {
    /// The outcome of `check`, made by the first call.
    pub(crate) fn json_check(
        &self,
        check: impl FnOnce() -> Result<(), String>,
    ) -> Result<(), String> {
        self.json.get_or_init(check).clone()
    }

    /// The reading plans kept for `pool`, or new ones.
    pub(crate) fn take_read<'p>(&self, pool: &'p SchemaPool) -> de::Plans<'p> {
        match take(&self.read, pool) {
            // SAFETY: made from `pool` (see the type's documentation), borrowed for 'p.
            Some(KeptRead(plans)) => unsafe {
                std::mem::transmute::<de::Plans<'static>, de::Plans<'p>>(plans)
            },
            None => de::Plans::new(),
        }
    }

    /// Keeps reading plans made from `pool` for the next read.
    pub(crate) fn put_read<'p>(&self, pool: &'p SchemaPool, plans: de::Plans<'p>) {
        // SAFETY: their references point into `pool` only (schema types, nodes and defaults,
        // never message data); see the type's documentation.
        let plans = unsafe { std::mem::transmute::<de::Plans<'p>, de::Plans<'static>>(plans) };
        put(&self.read, pool, KeptRead(plans));
    }

    /// The writing plans kept for `pool`, or new ones.
    pub(crate) fn take_write<'p>(&self, pool: &'p SchemaPool) -> ser::Plans<'p> {
        match take(&self.write, pool) {
            // SAFETY: as in `take_read`.
            Some(plans) => unsafe {
                std::mem::transmute::<ser::Plans<'static>, ser::Plans<'p>>(plans)
            },
            None => ser::Plans::new(),
        }
    }

    /// Keeps writing plans made from `pool` for the next write.
    pub(crate) fn put_write<'p>(&self, pool: &'p SchemaPool, plans: ser::Plans<'p>) {
        // SAFETY: as in `put_read`.
        let plans = unsafe { std::mem::transmute::<ser::Plans<'p>, ser::Plans<'static>>(plans) };
        put(&self.write, pool, plans);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Calls that overlap each get a set back, up to `KEPT` sets; plans of another pool are
    /// never handed out.
    #[test]
    fn overlapping_calls_keep_their_plans() {
        let (pool, other) = (SchemaPool::default(), SchemaPool::default());
        let slot = Mutex::new(Vec::new());
        assert_eq!(take::<u32>(&slot, &pool), None);
        for plans in 0..KEPT as u32 + 2 {
            put(&slot, &pool, plans);
        }
        let mut back: Vec<u32> = std::iter::from_fn(|| take(&slot, &pool)).collect();
        back.sort();
        assert_eq!(back, (0..KEPT as u32).collect::<Vec<_>>());
        put(&slot, &other, 7);
        assert_eq!(take(&slot, &pool), None);
    }
}
