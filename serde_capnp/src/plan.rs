//! The index of per-Rust-type plans shared by the serializer and the deserializer.
//!
//! A plan is found by (struct node, address of a `&'static` that serde hands over: the struct
//! name when writing, the field list when reading). A few recently used plans are checked first
//! by comparing those addresses, so that alternating nested types (a record and its address)
//! never reach the hash map.

use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
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
    read: Slots<KeptRead>,
    write: Slots<ser::Plans<'static>>,
    /// Whether the root's `$Json` annotations can be honoured (the reason when not).
    json: OnceLock<Result<(), String>>,
}

/// How many sets of plans a cache keeps for calls that overlap.
const KEPT: usize = 8;

/// Kept sets of plans. The set of the last call sits in `last`, which one atomic swap takes
/// and one atomic exchange puts back: a small message is written or read in a few hundred
/// instructions, and a lock taken and released twice per call was a visible share of that.
/// Sets of overlapping calls go to `more`.
struct Slots<P> {
    last: AtomicPtr<Kept<P>>,
    more: Mutex<Vec<Box<Kept<P>>>>,
}

impl<P> Default for Slots<P> {
    fn default() -> Self {
        Slots {
            last: AtomicPtr::new(ptr::null_mut()),
            more: Mutex::new(Vec::new()),
        }
    }
}

impl<P> Drop for Slots<P> {
    fn drop(&mut self) {
        let last = *self.last.get_mut();
        if !last.is_null() {
            // SAFETY: `last` holds either null or a pointer from `Box::into_raw` that no one
            // else holds (every taker swaps it out first).
            drop(unsafe { Box::from_raw(last) });
        }
    }
}

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

impl<P> Slots<P> {
    /// Takes a set of plans kept here, if it was made from `pool`.
    fn take(&self, pool: &SchemaPool) -> Option<P> {
        let last = self.last.swap(ptr::null_mut(), Ordering::Acquire);
        let kept = if last.is_null() {
            self.more.lock().ok()?.pop()?
        } else {
            // SAFETY: see `Drop`; the swap made this thread the pointer's only holder.
            unsafe { Box::from_raw(last) }
        };
        (kept.pool == address(pool)).then_some(kept.plans)
    }

    fn put(&self, pool: &SchemaPool, plans: P) {
        let kept = Box::into_raw(Box::new(Kept {
            pool: address(pool),
            plans,
        }));
        let placed =
            self.last
                .compare_exchange(ptr::null_mut(), kept, Ordering::Release, Ordering::Relaxed);
        if placed.is_ok() {
            return;
        }
        // SAFETY: `kept` came from `Box::into_raw` above and was not placed.
        let kept = unsafe { Box::from_raw(kept) };
        if let Ok(mut more) = self.more.lock() {
            if more.len() < KEPT {
                more.push(kept);
            }
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
        match self.read.take(pool) {
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
        self.read.put(pool, KeptRead(plans));
    }

    /// The writing plans kept for `pool`, or new ones.
    pub(crate) fn take_write<'p>(&self, pool: &'p SchemaPool) -> ser::Plans<'p> {
        match self.write.take(pool) {
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
        self.write.put(pool, plans);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Calls that overlap each get a set back, up to `KEPT` sets and the last one; plans of
    /// another pool are never handed out.
    #[test]
    fn overlapping_calls_keep_their_plans() {
        let (pool, other) = (SchemaPool::default(), SchemaPool::default());
        let slots = Slots::default();
        assert_eq!(slots.take(&pool), None);
        for plans in 0..KEPT as u32 + 2 {
            slots.put(&pool, plans);
        }
        let mut back: Vec<u32> = std::iter::from_fn(|| slots.take(&pool)).collect();
        back.sort();
        assert_eq!(back, (0..KEPT as u32 + 1).collect::<Vec<_>>());
        slots.put(&other, 7);
        assert_eq!(slots.take(&pool), None);
        slots.put(&pool, 3);
        drop(slots);
    }
}
