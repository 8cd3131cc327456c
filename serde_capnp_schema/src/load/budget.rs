//! The memory a request may make the model take, charged before it is allocated.

use std::fmt;
use std::mem::size_of;

use super::place::Place;
use super::{ALLOC, MEMORY_BASE, MEMORY_PER_REQUEST_BYTE};
use crate::model::NodeIndex;
use crate::SchemaError;

/// The memory a request may still make the model take.
pub(super) struct Budget {
    left: usize,
    limit: usize,
    request: usize,
}

impl Budget {
    pub(super) fn new(request_bytes: usize) -> Self {
        let limit = request_bytes
            .saturating_mul(MEMORY_PER_REQUEST_BYTE)
            .saturating_add(MEMORY_BASE);
        Budget {
            left: limit,
            limit,
            request: request_bytes,
        }
    }

    /// Charges `bytes` for `what`, before they are allocated.
    pub(super) fn take(
        &mut self,
        bytes: usize,
        at: &Place<'_>,
        what: impl fmt::Display,
    ) -> Result<(), SchemaError> {
        match self.left.checked_sub(bytes) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(at.error(format_args!(
                "{what} would take the schema past {} bytes of memory, the most a request of \
                 {} bytes may use ({MEMORY_PER_REQUEST_BYTE} bytes per byte of request plus \
                 {MEMORY_BASE}); the request claims far more than it holds",
                self.limit, self.request
            ))),
        }
    }
}

/// A vector of `n` values of `T`.
pub(super) fn vec_cost<T>(n: usize) -> usize {
    n.saturating_mul(size_of::<T>()).saturating_add(ALLOC)
}

/// A string of `len` bytes.
pub(super) fn str_cost(len: usize) -> usize {
    len.saturating_add(ALLOC)
}

/// A hash map of `n` entries: a table at its emptiest holds fewer than half as many entries as
/// it has buckets, and growing it holds the old table and the new one at once.
pub(super) fn map_cost<K, V>(n: usize) -> usize {
    n.saturating_mul(4 * (size_of::<(K, V)>() + 1))
        .saturating_add(2 * ALLOC + 64)
}

/// A [`NameIndex`] of `n` names of `len` bytes in all: the exact names, and up to two derived
/// spellings each (a snake_case form is at most twice as long), with the spellings that turn
/// out ambiguous kept aside while it is built.
pub(super) fn names_cost(n: usize, len: usize) -> usize {
    map_cost::<String, u16>(n)
        .saturating_add(map_cost::<String, u16>(n.saturating_mul(2)))
        .saturating_add(vec_cost::<String>(n.saturating_mul(2)))
        .saturating_add(len.saturating_mul(8))
        .saturating_add(n.saturating_mul(6 * ALLOC))
}

/// The name index of a pool: up to four keys a node, each no longer than its display name.
pub(super) fn by_name_cost(nodes: usize, len: usize) -> usize {
    let keys = nodes.saturating_mul(4);
    map_cost::<String, Vec<NodeIndex>>(keys)
        .saturating_add(keys.saturating_mul(str_cost(0) + vec_cost::<NodeIndex>(2)))
        .saturating_add(len.saturating_mul(4))
        .saturating_add(vec_cost::<String>(keys))
}
