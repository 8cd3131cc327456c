//! The Cap'n Proto wire format: a bounds-checked reader over message segments and a
//! single-segment builder.
//!
//! Both work on byte offsets rather than raw pointers, so a hostile message can only ever produce
//! an error: every offset is checked against its segment before it is read.

use std::cell::Cell;

use serde_capnp_schema::{StructNode, Type};

use crate::error::{Error, Result};

use crate::framing::MAX_SEGMENTS;

/// Segment used for pointers that live outside the message (schema default values).
const DETACHED: u32 = u32::MAX;

#[inline]
fn word(seg: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(seg[off..off + 8].try_into().unwrap())
}

/// Element sizes as encoded in list pointers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ElemSize {
    Void = 0,
    Bit = 1,
    Byte = 2,
    TwoBytes = 3,
    FourBytes = 4,
    EightBytes = 5,
    Pointer = 6,
    Composite = 7,
}

impl ElemSize {
    pub(crate) fn for_bits(bits: u32) -> ElemSize {
        match bits {
            0 => ElemSize::Void,
            1 => ElemSize::Bit,
            8 => ElemSize::Byte,
            16 => ElemSize::TwoBytes,
            32 => ElemSize::FourBytes,
            _ => ElemSize::EightBytes,
        }
    }

    fn data_bits(self) -> u32 {
        match self {
            ElemSize::Void | ElemSize::Pointer | ElemSize::Composite => 0,
            ElemSize::Bit => 1,
            ElemSize::Byte => 8,
            ElemSize::TwoBytes => 16,
            ElemSize::FourBytes => 32,
            ElemSize::EightBytes => 64,
        }
    }
}

/// A followed pointer: the word describing the target, the target's segment, its ID and the
/// target's byte offset.
type Followed<'a> = (u64, &'a [u8], u32, usize);

/// What a reader expects a list's elements to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expect {
    Bits(u32),
    Pointer,
    Struct,
}

impl Expect {
    /// What a list whose elements have type `element` must hold.
    pub(crate) fn for_element(element: &Type) -> Expect {
        match element {
            Type::Struct(..) => Expect::Struct,
            t => t.data_bits().map_or(Expect::Pointer, Expect::Bits),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// Limits applied while reading a message.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub traversal_words: u64,
    pub nesting: u32,
    /// Words a read may traverse per word of the message (0: no such limit).
    pub amplification: u32,
}

/// A message counts as at least this many words when its amplification allowance is worked
/// out, so that small messages may still read their schema defaults.
pub(crate) const AMPLIFICATION_FLOOR_WORDS: u64 = 1024;

impl Limits {
    /// The traversal budget of one read of a message of `words` words: the traversal limit,
    /// or the amplification allowance if that is lower.
    pub(crate) fn budget(&self, words: u64) -> u64 {
        if self.amplification == 0 {
            return self.traversal_words;
        }
        let allowance =
            (self.amplification as u64).saturating_mul(words.max(AMPLIFICATION_FLOOR_WORDS));
        self.traversal_words.min(allowance)
    }
}

/// The error every reader gives when a message nests deeper than `Limits::nesting`, which
/// counts the root struct and each struct or list under it.
pub(crate) fn too_deep() -> Error {
    Error::limit("nesting limit exceeded: the message nests too deeply")
}

/// How much stack one read or write may use: recursion stops with [`too_deep`] past it
/// whatever the nesting limit, so that no limit a caller sets can overflow the stack of a
/// thread with the usual 2 MiB.
pub(crate) const STACK_BUDGET: usize = 1024 * 1024;

/// Where a recursive read or write started on the stack.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StackBase(usize);

impl StackBase {
    /// The current stack position.
    #[inline(always)]
    pub(crate) fn here() -> StackBase {
        StackBase(stack_position())
    }

    /// An error once the recursion started at `self` has used [`STACK_BUDGET`].
    #[inline(always)]
    pub(crate) fn check(self) -> Result<()> {
        if stack_position().abs_diff(self.0) > STACK_BUDGET {
            return Err(Error::limit(
                "nesting limit exceeded: the message nests too deeply for the stack",
            ));
        }
        Ok(())
    }
}

/// The address of a local: how far the stack has grown, whichever way it grows.
#[inline(always)]
fn stack_position() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// How much deeper a recursive read or write may go: the nesting levels left, and the stack
/// it started on, so that it stops before the stack ends whatever the nesting limit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Depth {
    left: u32,
    stack: StackBase,
}

impl Depth {
    /// Up to `levels` levels, from the current stack position.
    #[inline]
    pub(crate) fn new(levels: u32) -> Depth {
        Depth {
            left: levels,
            stack: StackBase::here(),
        }
    }

    /// Enters one more level: a struct behind a pointer, or a list.
    #[inline]
    pub(crate) fn enter(&mut self) -> Result<()> {
        if self.left == 0 {
            return Err(too_deep());
        }
        self.stack.check()?;
        self.left -= 1;
        Ok(())
    }

    #[inline]
    pub(crate) fn leave(&mut self) {
        self.left += 1;
    }

    /// Checks the stack alone, for recursion that is no nesting level (a group).
    #[inline]
    pub(crate) fn check_stack(&self) -> Result<()> {
        self.stack.check()
    }
}

/// A message being read: its segments and the remaining traversal budget.
pub(crate) struct Msg<'a> {
    segments: Segs<'a>,
    budget: Cell<u64>,
}

/// The segments of a message. Nearly every message has one, and keeping it inline saves an
/// allocation per message read, which is a visible share of reading a small message.
#[derive(Clone, Debug)]
pub(crate) enum Segs<'a> {
    One(&'a [u8]),
    Many(Vec<&'a [u8]>),
}

impl<'a> Segs<'a> {
    #[inline]
    pub(crate) fn as_slice(&self) -> &[&'a [u8]] {
        match self {
            Segs::One(s) => std::slice::from_ref(s),
            Segs::Many(v) => v,
        }
    }
}

impl<'a> From<Vec<&'a [u8]>> for Segs<'a> {
    fn from(v: Vec<&'a [u8]>) -> Self {
        match v[..] {
            [one] => Segs::One(one),
            _ => Segs::Many(v),
        }
    }
}

impl<'a> From<&[&'a [u8]]> for Segs<'a> {
    fn from(v: &[&'a [u8]]) -> Self {
        match v {
            [one] => Segs::One(one),
            _ => Segs::Many(v.to_vec()),
        }
    }
}

/// The location of a pointer word.
#[derive(Clone, Copy)]
pub(crate) struct PtrRef<'a> {
    seg: &'a [u8],
    seg_id: u32,
    off: usize,
}

/// A struct in a message.
#[derive(Clone, Copy)]
pub(crate) struct StructRef<'a> {
    pub data: &'a [u8],
    seg: &'a [u8],
    seg_id: u32,
    ptrs: usize,
    ptr_count: u16,
}

/// A list in a message.
#[derive(Clone, Copy)]
pub(crate) struct ListRef<'a> {
    seg: &'a [u8],
    seg_id: u32,
    start: usize,
    pub len: u32,
    step_bits: u64,
    data_bits: u32,
    ptr_count: u16,
}

impl<'a> Msg<'a> {
    pub(crate) fn new(segments: impl Into<Segs<'a>>, limits: Limits) -> Result<Self> {
        let segments = segments.into();
        let list = segments.as_slice();
        if list.is_empty() {
            return Err(Error::wire("message has no segments"));
        }
        if list.len() > MAX_SEGMENTS {
            return Err(Error::limit(format!(
                "message has {} segments, more than the limit of {MAX_SEGMENTS}",
                list.len()
            )));
        }
        for s in list {
            if s.len() % 8 != 0 {
                return Err(Error::wire("segment length is not a whole number of words"));
            }
        }
        let words = list.iter().map(|s| s.len() as u64 / 8).sum();
        Ok(Msg {
            budget: Cell::new(limits.budget(words)),
            segments,
        })
    }

    /// Another reader of the same segments, with the traversal budget this one has left; give
    /// what it leaves back with [`Msg::rejoin`], so that reads through both draw on one budget.
    pub(crate) fn share(&self) -> Msg<'a> {
        Msg {
            segments: self.segments.clone(),
            budget: Cell::new(self.budget.get()),
        }
    }

    /// Takes over the budget a reader made by [`Msg::share`] has left.
    pub(crate) fn rejoin(&self, shared: &Msg<'a>) {
        self.budget.set(shared.budget.get().min(self.budget.get()));
    }

    /// Charges for the fields a decoder materializes from nothing: a struct shorter than its
    /// schema (an older writer's, or a zero-size list element) costs one word per schema
    /// field, since every reader that builds a value for each field allocates for it. Without
    /// this, a list of millions of zero-size elements, which costs one word each on the wire,
    /// would decode into gigabytes.
    #[inline]
    pub(crate) fn charge_defaults(&self, s: &StructRef<'a>, node: &StructNode) -> Result<()> {
        self.charge_defaults_of(s, node.data_words, node.pointer_count, node.fields.len())
    }

    /// [`charge_defaults`](Self::charge_defaults) for a node known by its section sizes and
    /// field count.
    #[inline]
    pub(crate) fn charge_defaults_of(
        &self,
        s: &StructRef<'a>,
        data_words: u16,
        pointer_count: u16,
        fields: usize,
    ) -> Result<()> {
        if s.data.len() < data_words as usize * 8 || s.ptr_count < pointer_count {
            self.charge(fields as u64)?;
        }
        Ok(())
    }

    #[inline]
    pub(crate) fn root(&self) -> Result<PtrRef<'a>> {
        let seg = self.segments.as_slice()[0];
        if seg.len() < 8 {
            return Err(Error::wire("message has no root pointer"));
        }
        Ok(PtrRef {
            seg,
            seg_id: 0,
            off: 0,
        })
    }

    /// The root pointer of a detached single-segment message such as a schema default.
    pub(crate) fn detached(seg: &'a [u8]) -> Option<PtrRef<'a>> {
        (seg.len() >= 8).then_some(PtrRef {
            seg,
            seg_id: DETACHED,
            off: 0,
        })
    }

    #[inline]
    fn charge(&self, words: u64) -> Result<()> {
        let left = self.budget.get();
        if words > left {
            return Err(Error::limit(
                "read limit exceeded: the message is larger than the traversal limit, or its pointers overlap",
            ));
        }
        self.budget.set(left - words);
        Ok(())
    }

    #[inline]
    fn segment(&self, id: u32) -> Result<&'a [u8]> {
        self.segments
            .as_slice()
            .get(id as usize)
            .copied()
            .ok_or_else(|| {
                Error::wire(format!(
                    "far pointer names segment {id}, which does not exist"
                ))
            })
    }

    /// Follows a pointer, through far pointers, to its target. Returns the pointer word that
    /// describes the target (struct or list), the target's segment and its byte offset.
    #[inline]
    fn follow(&self, p: PtrRef<'a>) -> Result<Option<Followed<'a>>> {
        let w = word(p.seg, p.off);
        if w == 0 {
            return Ok(None);
        }
        match w & 3 {
            0 | 1 => {
                let target = target_of(w, p.off, p.seg.len())?;
                Ok(Some((w, p.seg, p.seg_id, target)))
            }
            2 => {
                if p.seg_id == DETACHED {
                    return Err(Error::wire("far pointer in a detached value"));
                }
                let double = w & 4 != 0;
                let pad = ((w as u32) >> 3) as usize * 8;
                let pad_id = (w >> 32) as u32;
                let pad_seg = self.segment(pad_id)?;
                let bad = || Error::wire("far pointer's landing pad is outside its segment");
                if !double {
                    if pad + 8 > pad_seg.len() {
                        return Err(bad());
                    }
                    let lw = word(pad_seg, pad);
                    match lw & 3 {
                        0 | 1 => {
                            let target = target_of(lw, pad, pad_seg.len())?;
                            Ok(Some((lw, pad_seg, pad_id, target)))
                        }
                        3 => Ok(Some((lw, pad_seg, pad_id, 0))),
                        _ => Err(Error::wire("far pointer points to another far pointer")),
                    }
                } else {
                    if pad + 16 > pad_seg.len() {
                        return Err(bad());
                    }
                    let first = word(pad_seg, pad);
                    let tag = word(pad_seg, pad + 8);
                    if first & 7 != 2 {
                        return Err(Error::wire(
                            "double-far landing pad does not start with a far pointer",
                        ));
                    }
                    if tag & 3 > 1 || (tag as u32) >> 2 != 0 {
                        return Err(Error::wire("double-far landing pad has a malformed tag"));
                    }
                    let tid = (first >> 32) as u32;
                    let tseg = self.segment(tid)?;
                    let target = ((first as u32) >> 3) as usize * 8;
                    Ok(Some((tag, tseg, tid, target)))
                }
            }
            _ => Ok(Some((w, p.seg, p.seg_id, 0))),
        }
    }

    /// Reads the struct behind `p` (`None` when the pointer is null).
    #[inline]
    pub(crate) fn read_struct(&self, p: PtrRef<'a>) -> Result<Option<StructRef<'a>>> {
        let Some((w, seg, seg_id, target)) = self.follow(p)? else {
            return Ok(None);
        };
        if w & 3 != 0 {
            return Err(Error::wire(format!(
                "expected a struct pointer, found a {}",
                pointer_kind(w)
            )));
        }
        let data_words = ((w >> 32) & 0xffff) as usize;
        let ptr_count = (w >> 48) as u16;
        let total = (data_words + ptr_count as usize) * 8;
        if target + total > seg.len() {
            return Err(Error::wire("struct pointer points outside its segment"));
        }
        self.charge((total as u64 / 8).max(1))?;
        Ok(Some(StructRef {
            data: &seg[target..target + data_words * 8],
            seg,
            seg_id,
            ptrs: target + data_words * 8,
            ptr_count,
        }))
    }

    /// Reads the list behind `p` (`None` when the pointer is null), checking that its elements
    /// can be read as `expect`.
    #[inline]
    pub(crate) fn read_list(&self, p: PtrRef<'a>, expect: Expect) -> Result<Option<ListRef<'a>>> {
        let Some((w, seg, seg_id, target)) = self.follow(p)? else {
            return Ok(None);
        };
        if w & 3 != 1 {
            return Err(Error::wire(format!(
                "expected a list pointer, found a {}",
                pointer_kind(w)
            )));
        }
        let size = match (w >> 32) & 7 {
            0 => ElemSize::Void,
            1 => ElemSize::Bit,
            2 => ElemSize::Byte,
            3 => ElemSize::TwoBytes,
            4 => ElemSize::FourBytes,
            5 => ElemSize::EightBytes,
            6 => ElemSize::Pointer,
            _ => ElemSize::Composite,
        };
        let count = (w >> 35) as u32;
        let list = if size == ElemSize::Composite {
            let words = count as usize;
            if target + 8 + words * 8 > seg.len() {
                return Err(Error::wire("list pointer points outside its segment"));
            }
            let tag = word(seg, target);
            if tag & 3 != 0 {
                return Err(Error::wire("struct list's tag is not a struct pointer"));
            }
            let len = ((tag as u32) as i32) >> 2;
            if len < 0 {
                return Err(Error::wire(
                    "struct list's tag has a negative element count",
                ));
            }
            let data_words = (tag >> 32) & 0xffff;
            let ptr_count = (tag >> 48) as u16;
            let elem_words = data_words + ptr_count as u64;
            if len as u64 * elem_words > words as u64 {
                return Err(Error::wire("struct list's elements overrun the list"));
            }
            // Zero-sized elements still cost one word each, so that a tiny message cannot
            // make a reader loop billions of times.
            self.charge((words as u64).max(if elem_words == 0 { len as u64 } else { 0 }) + 1)?;
            ListRef {
                seg,
                seg_id,
                start: target + 8,
                len: len as u32,
                step_bits: elem_words * 64,
                data_bits: data_words as u32 * 64,
                ptr_count,
            }
        } else {
            let (bits, ptrs) = if size == ElemSize::Pointer {
                (64u64, 1u16)
            } else {
                (size.data_bits() as u64, 0)
            };
            let bytes = (count as u64 * bits).div_ceil(8);
            let words = bytes.div_ceil(8);
            if target as u64 + words * 8 > seg.len() as u64 {
                return Err(Error::wire("list pointer points outside its segment"));
            }
            self.charge(if bits == 0 { count as u64 } else { words })?;
            ListRef {
                seg,
                seg_id,
                start: target,
                len: count,
                step_bits: bits,
                data_bits: if ptrs == 1 { 0 } else { bits as u32 },
                ptr_count: ptrs,
            }
        };
        let ok = match expect {
            Expect::Bits(1) => size == ElemSize::Bit,
            Expect::Bits(0) => true,
            Expect::Bits(b) => size != ElemSize::Bit && list.data_bits >= b,
            Expect::Pointer => list.ptr_count >= 1,
            Expect::Struct => size != ElemSize::Bit,
        };
        if !ok {
            return Err(Error::wire(format!(
                "list elements are encoded as {}, which cannot be read as {}",
                describe_size(size),
                match expect {
                    Expect::Bits(1) => "Bool".to_string(),
                    Expect::Bits(b) => format!("{b}-bit values"),
                    Expect::Pointer => "pointers".to_string(),
                    Expect::Struct => "structs".to_string(),
                }
            )));
        }
        Ok(Some(list))
    }

    /// Reads the bytes of a Text or Data blob behind `p`.
    #[inline]
    pub(crate) fn read_blob(&self, p: PtrRef<'a>) -> Result<Option<&'a [u8]>> {
        let Some(list) = self.read_list(p, Expect::Bits(8))? else {
            return Ok(None);
        };
        if list.step_bits != 8 {
            return Err(Error::wire("expected a list of bytes"));
        }
        Ok(Some(&list.seg[list.start..list.start + list.len as usize]))
    }

    /// Reads the Text behind `p`, checking its NUL terminator and UTF-8.
    #[inline]
    pub(crate) fn read_text(&self, p: PtrRef<'a>) -> Result<Option<&'a str>> {
        // Fast path: a near list pointer to bytes inside the segment.
        let w = word(p.seg, p.off);
        if w & 3 == 1 && (w >> 32) & 7 == ElemSize::Byte as u64 {
            let target = p.off as i64 + 8 + (((w as u32) as i32 >> 2) as i64) * 8;
            let len = (w >> 35) as usize;
            if target >= 0 && target as usize + len <= p.seg.len() {
                self.charge((len as u64).div_ceil(8).max(1))?;
                return text_in(p.seg, target as usize, len).map(Some);
            }
        }
        match self.read_list(p, Expect::Bits(8))? {
            None => Ok(None),
            Some(list) if list.step_bits == 8 => {
                text_in(list.seg, list.start, list.len as usize).map(Some)
            }
            Some(_) => Err(Error::wire("expected a list of bytes")),
        }
    }

    /// The bytes of the Text behind `p`, its NUL terminator checked and dropped, for printing:
    /// they need not be UTF-8.
    pub(crate) fn read_text_bytes(&self, p: PtrRef<'a>) -> Result<Option<&'a [u8]>> {
        match self.read_blob(p)? {
            None => Ok(None),
            Some(bytes) => without_nul(bytes).map(Some),
        }
    }

    /// Whether the pointer is null, without following it.
    #[inline]
    pub(crate) fn is_null(p: PtrRef<'a>) -> bool {
        word(p.seg, p.off) == 0
    }

    /// The capability index of a capability pointer.
    pub(crate) fn read_capability(&self, p: PtrRef<'a>) -> Result<Option<u32>> {
        match self.follow(p)? {
            None => Ok(None),
            Some((w, ..)) if w & 3 == 3 && (w as u32) == 3 => Ok(Some((w >> 32) as u32)),
            Some((w, ..)) => Err(Error::wire(format!(
                "expected a capability pointer, found a {}",
                pointer_kind(w)
            ))),
        }
    }
}

#[inline]
fn target_of(w: u64, at: usize, seg_len: usize) -> Result<usize> {
    let offset = ((w as u32) as i32 >> 2) as i64;
    let target = at as i64 + 8 + offset * 8;
    if target < 0 || target as u64 > seg_len as u64 {
        return Err(Error::wire("pointer points outside its segment"));
    }
    Ok(target as usize)
}

fn pointer_kind(w: u64) -> &'static str {
    match w & 3 {
        0 => "struct pointer",
        1 => "list pointer",
        2 => "far pointer",
        _ => "capability pointer",
    }
}

fn describe_size(s: ElemSize) -> &'static str {
    match s {
        ElemSize::Void => "Void",
        ElemSize::Bit => "bits",
        ElemSize::Byte => "bytes",
        ElemSize::TwoBytes => "16-bit values",
        ElemSize::FourBytes => "32-bit values",
        ElemSize::EightBytes => "64-bit values",
        ElemSize::Pointer => "pointers",
        ElemSize::Composite => "structs",
    }
}

/// The stored bits of data slot `offset` of type `ty` (the value XOR its default).
#[inline]
pub(crate) fn read_slot(data: &[u8], ty: &Type, offset: u32) -> u64 {
    read_bits(data, ty.bit_position(offset), ty.data_bits().unwrap_or(0))
}

/// The discriminant of the union of `node`, in the struct data `data`.
#[inline]
pub(crate) fn read_discriminant(data: &[u8], node: &StructNode) -> u16 {
    read_bits(data, node.discriminant_bit(), 16) as u16
}

/// Reads `bits` bits (1, 8, 16, 32 or 64) at bit offset `at` of `data`; zero past its end.
#[inline(always)]
pub(crate) fn read_bits(data: &[u8], at: u64, bits: u32) -> u64 {
    let byte = (at / 8) as usize;
    match bits {
        1 => data.get(byte).map_or(0, |b| ((b >> (at % 8)) & 1) as u64),
        8 => data.get(byte).map_or(0, |&b| b as u64),
        16 => data
            .get(byte..byte + 2)
            .map_or(0, |b| u16::from_le_bytes(b.try_into().unwrap()) as u64),
        32 => data
            .get(byte..byte + 4)
            .map_or(0, |b| u32::from_le_bytes(b.try_into().unwrap()) as u64),
        64 => data
            .get(byte..byte + 8)
            .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap())),
        _ => 0,
    }
}

impl<'a> StructRef<'a> {
    /// A struct with empty sections: every field reads as its default.
    pub(crate) fn empty() -> StructRef<'a> {
        StructRef {
            data: &[],
            seg: &[],
            seg_id: DETACHED,
            ptrs: 0,
            ptr_count: 0,
        }
    }

    /// The struct's segment, the byte offset of its data section in it, and its section sizes.
    pub(crate) fn location(&self) -> (&'a [u8], usize, u16, u16) {
        let data_words = (self.data.len() / 8) as u16;
        (
            self.seg,
            self.ptrs - self.data.len(),
            data_words,
            self.ptr_count,
        )
    }

    /// The pointer field at `index`, or `None` when the struct is too old to have it.
    #[inline]
    pub(crate) fn pointer(&self, index: u16) -> Option<PtrRef<'a>> {
        (index < self.ptr_count).then(|| PtrRef {
            seg: self.seg,
            seg_id: self.seg_id,
            off: self.ptrs + index as usize * 8,
        })
    }
}

impl<'a> ListRef<'a> {
    /// The bytes holding element `i`'s data and the bit offset of the element in them.
    #[inline]
    pub(crate) fn element_data(&self, i: u32) -> (&'a [u8], u64) {
        if self.ptr_count > 0 || self.step_bits > self.data_bits as u64 {
            (self.struct_element(i).data, 0)
        } else {
            (&self.seg[self.start..], i as u64 * self.step_bits)
        }
    }

    /// Element `i` as a struct.
    #[inline]
    pub(crate) fn struct_element(&self, i: u32) -> StructRef<'a> {
        let start = self.start + (i as u64 * self.step_bits / 8) as usize;
        let data_end = start + self.data_bits as usize / 8;
        StructRef {
            data: &self.seg[start..data_end],
            seg: self.seg,
            seg_id: self.seg_id,
            ptrs: data_end,
            ptr_count: self.ptr_count,
        }
    }

    /// Element `i`'s first pointer.
    #[inline]
    pub(crate) fn pointer_element(&self, i: u32) -> PtrRef<'a> {
        let start = self.start + (i as u64 * self.step_bits / 8) as usize;
        PtrRef {
            seg: self.seg,
            seg_id: self.seg_id,
            off: start + self.data_bits as usize / 8,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------------------------

/// The largest message the single-segment builder writes: pointer offsets are 30-bit word counts.
const MAX_WORDS: usize = (1 << 29) - 1;

/// A struct pointer with offset -1 and no data or pointers: the empty struct.
pub(crate) const EMPTY_STRUCT: u64 = 0xffff_fffc;

/// A message being built as one segment, preceded by room for its segment table.
///
/// `buf` is zero-filled ahead of `used` and grows by doubling, so that allocating an object is
/// a bump of `used`: the zeroing happens in bulk, not once per object.
pub(crate) struct Out {
    pub buf: Vec<u8>,
    used: usize,
}

/// A struct being built: byte offsets of its sections.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StructB {
    pub data: usize,
    pub ptrs: usize,
}

/// A list being built.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ListB {
    pub start: usize,
    pub len: u32,
    pub step_bits: u64,
}

impl Out {
    /// A writer in `buf`'s allocation, for a message of about `hint` bytes.
    pub(crate) fn with_buffer(mut buf: Vec<u8>, hint: usize) -> Out {
        buf.clear();
        // Zero only a first stretch, as long as the message is expected to be (not as long as
        // the allocation, which may be far larger): `grow` zeroes more as the message needs
        // it, within the recycled allocation when it is large enough.
        let start = hint.clamp(256, 8192);
        buf.resize(start, 0);
        // Segment table (one segment) and the root pointer.
        Out { buf, used: 16 }
    }

    /// A writer whose first `len` bytes (at least 256) are zeroed by the allocator. The floor
    /// is small because zeroing is a visible share of writing a small message (an RPC call).
    pub(crate) fn zeroed(len: usize) -> Out {
        Out {
            buf: vec![0; len.max(256)],
            used: 16,
        }
    }

    pub(crate) const ROOT: usize = 8;

    /// How many bytes can still be allocated without growing the (already zeroed) buffer.
    pub(crate) fn zeroed_room(&self) -> usize {
        self.buf.len() - self.used
    }

    /// Writes the segment table and returns the framed message.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.buf.truncate(self.used);
        let words = ((self.buf.len() - 8) / 8) as u32;
        self.buf[0..4].copy_from_slice(&0u32.to_le_bytes());
        self.buf[4..8].copy_from_slice(&words.to_le_bytes());
        self.buf
    }

    #[inline]
    fn alloc(&mut self, words: usize) -> Result<usize> {
        let off = self.used;
        let end = off + words * 8;
        if end > self.buf.len() {
            self.grow(words)?;
        }
        self.used = end;
        Ok(off)
    }

    #[cold]
    fn grow(&mut self, words: usize) -> Result<()> {
        if (self.used - 8) / 8 + words > MAX_WORDS {
            return Err(Error::limit(
                "message exceeds 4 GiB, the largest single-segment message",
            ));
        }
        let needed = self.used + words * 8;
        // Doubling, but within the allocation while it suffices, so that a recycled buffer is
        // zeroed no further than the message reaches.
        let doubled = self.buf.len() * 2;
        let len = if needed <= self.buf.capacity() {
            doubled.min(self.buf.capacity())
        } else {
            doubled
        };
        self.buf.resize(needed.max(len), 0);
        Ok(())
    }

    #[inline]
    fn set_word(&mut self, off: usize, w: u64) {
        self.buf[off..off + 8].copy_from_slice(&w.to_le_bytes());
    }

    /// Writes the low `bits` bits of `v` at bit offset `at` from byte `base`.
    #[inline(always)]
    pub(crate) fn write_bits(&mut self, base: usize, at: u64, bits: u32, v: u64) {
        let off = base + (at / 8) as usize;
        match bits {
            1 => {
                let b = &mut self.buf[off];
                let mask = 1u8 << (at % 8);
                *b = (*b & !mask) | (((v & 1) as u8) << (at % 8));
            }
            8 => self.buf[off] = v as u8,
            16 => self.buf[off..off + 2].copy_from_slice(&(v as u16).to_le_bytes()),
            32 => self.buf[off..off + 4].copy_from_slice(&(v as u32).to_le_bytes()),
            64 => self.buf[off..off + 8].copy_from_slice(&v.to_le_bytes()),
            _ => {}
        }
    }

    #[inline]
    fn rel(ptr: usize, target: usize) -> u64 {
        ((((target - ptr - 8) / 8) as u32) << 2) as u64
    }

    /// Writes a capability pointer at `ptr`: index `index` of the message's capability table.
    pub(crate) fn set_capability(&mut self, ptr: usize, index: u32) {
        self.set_word(ptr, 3 | (index as u64) << 32);
    }

    /// Allocates a struct and points `ptr` at it.
    #[inline]
    pub(crate) fn init_struct(
        &mut self,
        ptr: usize,
        data_words: u16,
        ptr_count: u16,
    ) -> Result<StructB> {
        if data_words == 0 && ptr_count == 0 {
            // A struct of no words is a pointer with offset -1 and nothing allocated, as every
            // Cap'n Proto writer makes it: an offset to the next word would be a null pointer
            // wherever that word is the pointer's own successor.
            self.set_word(ptr, EMPTY_STRUCT);
            return Ok(StructB {
                data: self.used,
                ptrs: self.used,
            });
        }
        let off = self.alloc(data_words as usize + ptr_count as usize)?;
        self.set_word(
            ptr,
            Self::rel(ptr, off) | (data_words as u64) << 32 | (ptr_count as u64) << 48,
        );
        Ok(StructB {
            data: off,
            ptrs: off + data_words as usize * 8,
        })
    }

    /// Allocates a list of non-struct elements and points `ptr` at it.
    #[inline]
    pub(crate) fn init_list(&mut self, ptr: usize, size: ElemSize, len: u32) -> Result<ListB> {
        if len >= 1 << 29 {
            return Err(Error::limit(format!("list of {len} elements is too long")));
        }
        let bits: u64 = match size {
            ElemSize::Pointer => 64,
            s => s.data_bits() as u64,
        };
        let words = (len as u64 * bits).div_ceil(64) as usize;
        let off = self.alloc(words)?;
        self.set_word(
            ptr,
            Self::rel(ptr, off) | 1 | (size as u64) << 32 | (len as u64) << 35,
        );
        Ok(ListB {
            start: off,
            len,
            step_bits: bits,
        })
    }

    /// Allocates a list of structs and points `ptr` at it.
    #[inline]
    pub(crate) fn init_struct_list(
        &mut self,
        ptr: usize,
        len: u32,
        data_words: u16,
        ptr_count: u16,
    ) -> Result<ListB> {
        let elem = data_words as u64 + ptr_count as u64;
        let words = len as u64 * elem;
        if len >= 1 << 29 || words > MAX_WORDS as u64 {
            return Err(Error::limit(format!("list of {len} structs is too long")));
        }
        let off = self.alloc(words as usize + 1)?;
        self.set_word(
            ptr,
            Self::rel(ptr, off) | 1 | (ElemSize::Composite as u64) << 32 | words << 35,
        );
        self.set_word(
            off,
            ((len << 2) as u64) | (data_words as u64) << 32 | (ptr_count as u64) << 48,
        );
        Ok(ListB {
            start: off + 8,
            len,
            step_bits: elem * 64,
        })
    }

    /// Writes a Text or Data blob (`nul` adds the terminator Text needs).
    #[inline]
    pub(crate) fn set_blob(&mut self, ptr: usize, bytes: &[u8], nul: bool) -> Result<()> {
        let len = bytes.len() + nul as usize;
        if len >= 1 << 29 {
            return Err(Error::limit(format!(
                "blob of {} bytes is too long",
                bytes.len()
            )));
        }
        let off = self.alloc(len.div_ceil(8))?;
        self.buf[off..off + bytes.len()].copy_from_slice(bytes);
        self.set_word(
            ptr,
            Self::rel(ptr, off) | 1 | (ElemSize::Byte as u64) << 32 | (len as u64) << 35,
        );
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Packing
// ---------------------------------------------------------------------------------------------

/// Packs a framed message with the standard Cap'n Proto packing.
pub(crate) fn pack(input: &[u8], out: &mut Vec<u8>) {
    debug_assert!(input.len().is_multiple_of(8));
    let start = out.len();
    // Worst case: a tag and eight bytes per word, plus a count byte per run.
    out.resize(start + input.len() + input.len() / 8 + 16, 0);
    let mut o = start;
    let words = input.len() / 8;
    let word = |i: usize| -> [u8; 8] { input[i * 8..i * 8 + 8].try_into().unwrap() };
    let mut i = 0;
    while i < words {
        let w = word(i);
        let tag_at = o;
        o += 1;
        let mut tag = 0u8;
        for (bit, &b) in w.iter().enumerate() {
            out[o] = b;
            let nonzero = (b != 0) as u8;
            tag |= nonzero << bit;
            o += nonzero as usize;
        }
        out[tag_at] = tag;
        i += 1;
        if tag == 0 {
            // A run of further zero words.
            let run = i;
            while i < words && i - run < 255 && word(i) == [0; 8] {
                i += 1;
            }
            out[o] = (i - run) as u8;
            o += 1;
        } else if tag == 0xff {
            // A run of further words copied verbatim, while packing would not save space.
            let run = i;
            while i < words && i - run < 255 && word(i).iter().filter(|&&b| b == 0).count() < 2 {
                i += 1;
            }
            out[o] = (i - run) as u8;
            o += 1;
            let n = (i - run) * 8;
            out[o..o + n].copy_from_slice(&input[run * 8..i * 8]);
            o += n;
        }
    }
    out.truncate(o);
}

/// The Text of `len` bytes (its NUL included) at byte `start` of `seg`, as a `str`.
///
/// Text starts on a word and fills whole words, so the words that hold it, padding included,
/// are ORed together and every byte's high bit tested at once: no branch per byte, where a
/// byte-at-a-time check of short strings loses its time to mispredicted branches. Only text
/// that fails (non-ASCII, or padding with high bits set) goes to the exact UTF-8 check.
#[inline(always)]
fn text_in(seg: &[u8], start: usize, len: usize) -> Result<&str> {
    let text = without_nul(&seg[start..start + len])?;
    if let Some(padded) = seg.get(start..start + len.div_ceil(8) * 8) {
        let mut any = 0;
        for w in padded.chunks_exact(8) {
            any |= u64::from_le_bytes(w.try_into().unwrap());
        }
        if any & 0x8080_8080_8080_8080 == 0 {
            // SAFETY: every byte of the text is below 0x80: it is ASCII, which is valid UTF-8.
            return Ok(unsafe { std::str::from_utf8_unchecked(text) });
        }
    }
    exact_utf8(text)
}

/// The exact UTF-8 check, for text that is not all ASCII.
#[cold]
#[inline(never)]
fn exact_utf8(text: &[u8]) -> Result<&str> {
    std::str::from_utf8(text).map_err(|e| Error::data(format!("text is not valid UTF-8: {e}")))
}

/// Text's bytes without the NUL that must end them.
#[inline]
fn without_nul(bytes: &[u8]) -> Result<&[u8]> {
    match bytes.split_last() {
        Some((0, text)) => Ok(text),
        _ => Err(Error::wire("text is not NUL-terminated")),
    }
}
