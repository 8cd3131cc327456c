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
    write: Slots<KeptWrite>,
    /// Whether the root's `$Json` annotations can be honoured (the reason when not).
    json: OnceLock<Result<(), String>>,
}

/// How many sets of plans a cache keeps for calls that overlap.
const KEPT: usize = 8;

/// Kept sets of plans. The set of the last call sits in `last`, which one atomic swap takes
/// and one atomic exchange puts back: a small message is written or read in a few hundred
/// instructions, and a lock taken and released twice per call was a visible share of that.
/// Sets of overlapping calls go to `more`. A set stays in its box while a call holds it, so
/// that moving it costs no allocation.
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

/// A set of plans with the address of the pool their references point into. `repr(C)`: the
/// cache turns a `Box<Kept<KeptRead>>` into a `Box<Kept<de::Plans>>` and back, which needs
/// the two instantiations to lay their fields out alike (`KeptRead` is transparent).
#[repr(C)]
pub(crate) struct Kept<P> {
    pool: usize,
    pub(crate) set: P,
}

/// A set of plans as a call holds it.
pub(crate) type Held<P> = Box<Kept<P>>;

/// `set`, held by a call that does not keep it afterwards.
pub(crate) fn hold<P>(set: P) -> Held<P> {
    Box::new(Kept { pool: 0, set })
}

impl<P> std::ops::Deref for Kept<P> {
    type Target = P;
    fn deref(&self) -> &P {
        &self.set
    }
}

impl<P> std::ops::DerefMut for Kept<P> {
    fn deref_mut(&mut self) -> &mut P {
        &mut self.set
    }
}

/// Reading plans between reads.
#[repr(transparent)]
struct KeptRead(de::Plans<'static>);

/// Writing plans between writes.
#[repr(transparent)]
struct KeptWrite(ser::Plans<'static>);

// SAFETY: reading and writing plans are `!Send` for their `Rc`s and `Cell`s only. Both are
// touched by the one call that has the plans taken out of the cache; when the plans go back,
// every `Rc` clone the call made has been dropped (each lives in the reader or writer of one
// struct), so the thread that takes the plans next is the only one that can reach them.
unsafe impl Send for KeptRead {}
// SAFETY: as for `KeptRead`.
unsafe impl Send for KeptWrite {}

fn address(pool: &SchemaPool) -> usize {
    pool as *const SchemaPool as usize
}

impl<P> Slots<P> {
    /// Takes a set of plans kept here, if it was made from `pool`.
    fn take(&self, pool: &SchemaPool) -> Option<Held<P>> {
        let last = self.last.swap(ptr::null_mut(), Ordering::Acquire);
        let kept = if last.is_null() {
            self.more.lock().ok()?.pop()?
        } else {
            // SAFETY: see `Drop`; the swap made this thread the pointer's only holder.
            unsafe { Box::from_raw(last) }
        };
        (kept.pool == address(pool)).then_some(kept)
    }

    fn put(&self, pool: &SchemaPool, mut kept: Held<P>) {
        kept.pool = address(pool);
        let kept = Box::into_raw(kept);
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
    pub(crate) fn take_read<'p>(&self, pool: &'p SchemaPool) -> Held<de::Plans<'p>> {
        match self.read.take(pool) {
            // SAFETY: made from `pool` (see the type's documentation), borrowed for 'p; `KeptRead`
            // is a transparent wrapper of the plans.
            Some(kept) => unsafe {
                std::mem::transmute::<Held<KeptRead>, Held<de::Plans<'p>>>(kept)
            },
            None => hold(de::Plans::new()),
        }
    }

    /// Keeps reading plans made from `pool` for the next read.
    pub(crate) fn put_read<'p>(&self, pool: &'p SchemaPool, plans: Held<de::Plans<'p>>) {
        // SAFETY: their references point into `pool` only (schema types, nodes and defaults,
        // never message data); see the type's documentation.
        let kept = unsafe { std::mem::transmute::<Held<de::Plans<'p>>, Held<KeptRead>>(plans) };
        self.read.put(pool, kept);
    }

    /// The writing plans kept for `pool`, or new ones.
    pub(crate) fn take_write<'p>(&self, pool: &'p SchemaPool) -> Held<ser::Plans<'p>> {
        match self.write.take(pool) {
            // SAFETY: as in `take_read`.
            Some(kept) => unsafe {
                std::mem::transmute::<Held<KeptWrite>, Held<ser::Plans<'p>>>(kept)
            },
            None => hold(ser::Plans::new()),
        }
    }

    /// Keeps writing plans made from `pool` for the next write.
    pub(crate) fn put_write<'p>(&self, pool: &'p SchemaPool, plans: Held<ser::Plans<'p>>) {
        // SAFETY: as in `put_read`.
        let kept = unsafe { std::mem::transmute::<Held<ser::Plans<'p>>, Held<KeptWrite>>(plans) };
        self.write.put(pool, kept);
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
        assert!(slots.take(&pool).is_none());
        for plans in 0..KEPT as u32 + 2 {
            slots.put(&pool, hold(plans));
        }
        let mut back: Vec<u32> = std::iter::from_fn(|| slots.take(&pool).map(|k| k.set)).collect();
        back.sort();
        assert_eq!(back, (0..KEPT as u32 + 1).collect::<Vec<_>>());
        slots.put(&other, hold(7));
        assert!(slots.take(&pool).is_none());
        slots.put(&pool, hold(3));
        drop(slots);
    }
}
