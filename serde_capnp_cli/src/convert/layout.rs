//! Copying a message into new segments exactly as the reference's `MallocMessageBuilder` does
//! in `capnp convert`, so that binary and packed output match it byte for byte, also when the
//! message takes more than one segment.
//!
//! What decides the bytes: objects are copied depth first, a struct's data before its pointers
//! and each element of a struct list in turn; an object goes into the segment of the pointer
//! to it when it fits there, and otherwise into the segment allocated last (the reference never
//! goes back to an earlier one), or into a new segment, behind a landing pad for a far pointer.
//! New segments are as large as everything allocated so far (or `--segment-size` words each).
//! A null root reads as an empty struct, as the reference reads its root as a struct.

/// The reference's first segment size when none is given.
pub const FIRST_SEGMENT_WORDS: u32 = 1024;

/// The largest segment the reference allocates, in words.
const MAX_SEGMENT_WORDS: u32 = (1 << 29) - 1;

/// How deeply objects may nest (the reference lifts its limits for conversions; this only
/// keeps a hostile message from exhausting the stack).
const NESTING_LIMIT: u32 = 1024;

const STRUCT: u64 = 0;
const LIST: u64 = 1;
const FAR: u64 = 2;
const INLINE_COMPOSITE: u64 = 7;

/// A segment being filled: its words and how many are in use.
struct Segment {
    words: Vec<u64>,
    used: u32,
}

/// A position in the message being written: (segment, word).
type At = (usize, u32);

/// The copy under construction.
pub struct Copy {
    segments: Vec<Segment>,
    /// The segment allocated last: the only one the arena tries besides the pointer's own.
    with_space: usize,
    next_size: u32,
    fixed: bool,
    budget: u64,
}

impl Copy {
    /// A copy whose first segment has `first_words` words; later segments have as many words
    /// (`fixed`) or as many as everything so far. It may read `budget` words in all: what it
    /// writes is bounded by that, however the message's pointers overlap.
    pub fn new(first_words: u32, fixed: bool, budget: u64) -> Copy {
        Copy {
            segments: Vec::new(),
            with_space: 0,
            next_size: first_words.clamp(1, MAX_SEGMENT_WORDS),
            fixed,
            budget,
        }
    }

    /// Copies the root struct of the message held in `source` (its segments).
    pub fn root(&mut self, source: &[&[u8]]) -> Result<(), String> {
        let src = Source { segments: source };
        let root = self.arena_allocate(1);
        let word = src.word(0, 0)?;
        if word == 0 {
            // The reference reads a null root as an empty struct and writes that.
            self.set_empty_struct(root);
            return Ok(());
        }
        let (target, pointer) = src.follow(0, 0)?;
        if pointer & 3 != STRUCT {
            return Err("the root is not a struct".into());
        }
        self.copy_struct(&src, target, pointer, root, NESTING_LIMIT)
    }

    /// The message with its segment table, as the pieces the reference writes one at a time:
    /// the table, then each segment.
    pub fn framed(&self) -> Vec<Vec<u8>> {
        let n = self.segments.len().max(1);
        let mut table = Vec::with_capacity((n + 2) / 2 * 8);
        table.extend_from_slice(&(n as u32 - 1).to_le_bytes());
        for s in &self.segments {
            table.extend_from_slice(&s.used.to_le_bytes());
        }
        if self.segments.is_empty() {
            table.extend_from_slice(&0u32.to_le_bytes());
        }
        if table.len() % 8 != 0 {
            table.extend_from_slice(&[0; 4]);
        }
        let mut pieces = vec![table];
        for s in &self.segments {
            pieces.push(
                s.words[..s.used as usize]
                    .iter()
                    .flat_map(|w| w.to_le_bytes())
                    .collect(),
            );
        }
        pieces
    }

    fn new_segment(&mut self, minimum: u32) -> usize {
        let size = minimum.max(self.next_size);
        if !self.fixed {
            if self.segments.is_empty() {
                self.next_size = size;
            } else {
                self.next_size = self.next_size.saturating_add(size).min(MAX_SEGMENT_WORDS);
            }
        }
        self.segments.push(Segment {
            words: vec![0; size as usize],
            used: 0,
        });
        self.segments.len() - 1
    }

    fn allocate_in(&mut self, segment: usize, amount: u32) -> Option<u32> {
        let s = &mut self.segments[segment];
        let free = s.words.len() as u32 - s.used;
        (amount <= free).then(|| {
            s.used += amount;
            s.used - amount
        })
    }

    /// Room anywhere: the segment allocated last, else a new one.
    fn arena_allocate(&mut self, amount: u32) -> At {
        if !self.segments.is_empty() {
            if let Some(at) = self.allocate_in(self.with_space, amount) {
                return (self.with_space, at);
            }
        }
        let segment = self.new_segment(amount);
        self.with_space = segment;
        let at = self
            .allocate_in(segment, amount)
            .expect("a new segment is large enough");
        (segment, at)
    }

    fn set(&mut self, (segment, at): At, word: u64) {
        self.segments[segment].words[at as usize] = word;
    }

    fn set_empty_struct(&mut self, at: At) {
        // Offset -1: the target is the pointer itself, with no data and no pointers.
        self.set(at, 0xffff_fffc);
    }

    /// Room for an object the pointer at `pointer` refers to, and the pointer set to its kind
    /// and place (a far pointer and a landing pad when it goes into another segment). Returns
    /// where the object goes and where the pointer whose upper half describes it is.
    fn allocate(&mut self, pointer: At, amount: u32, kind: u64) -> (At, At) {
        if let Some(at) = self.allocate_in(pointer.0, amount) {
            let offset = at as i64 - (pointer.1 as i64 + 1);
            self.set(pointer, ((offset as u64) << 2 & 0xffff_ffff) | kind);
            return ((pointer.0, at), pointer);
        }
        let (segment, pad) = self.arena_allocate(amount + 1);
        self.set(
            pointer,
            (u64::from(pad) << 3) | FAR | (segment as u64) << 32,
        );
        self.set((segment, pad), kind);
        ((segment, pad + 1), (segment, pad))
    }

    fn describe(&mut self, pointer: At, upper: u64) {
        let word = &mut self.segments[pointer.0].words[pointer.1 as usize];
        *word = (*word & 0xffff_ffff) | upper << 32;
    }

    fn charge(&mut self, words: u64) -> Result<(), String> {
        self.budget = self
            .budget
            .checked_sub(words)
            .ok_or("the message is too large to copy (read limit exceeded)")?;
        Ok(())
    }

    fn copy_pointer(
        &mut self,
        src: &Source<'_>,
        from: SrcAt,
        to: At,
        nesting: u32,
    ) -> Result<(), String> {
        if src.word(from.0, from.1)? == 0 {
            return Ok(());
        }
        let (target, pointer) = src.follow(from.0, from.1)?;
        match pointer & 3 {
            STRUCT => self.copy_struct(src, target, pointer, to, nesting),
            LIST => self.copy_list(src, target, pointer, to, nesting),
            _ => Err("the message holds a capability, which cannot be copied".into()),
        }
    }

    fn copy_struct(
        &mut self,
        src: &Source<'_>,
        (segment, at): SrcAt,
        pointer: u64,
        to: At,
        nesting: u32,
    ) -> Result<(), String> {
        let nesting = nesting
            .checked_sub(1)
            .ok_or("the message is nested too deeply")?;
        let data = (pointer >> 32 & 0xffff) as u32;
        let pointers = (pointer >> 48) as u32;
        src.check(segment, at, u64::from(data + pointers))?;
        self.charge(u64::from(data + pointers).max(1))?;
        if data + pointers == 0 {
            self.set_empty_struct(to);
            return Ok(());
        }
        let (dst, described) = self.allocate(to, data + pointers, STRUCT);
        self.describe(described, u64::from(data) | u64::from(pointers) << 16);
        self.copy_struct_body(src, (segment, at), data, pointers, dst, nesting)
    }

    /// A struct's data words, then each of its pointers in turn.
    fn copy_struct_body(
        &mut self,
        src: &Source<'_>,
        (segment, at): SrcAt,
        data: u32,
        pointers: u32,
        dst: At,
        nesting: u32,
    ) -> Result<(), String> {
        for i in 0..data {
            let w = src.word(segment, at + i)?;
            self.set((dst.0, dst.1 + i), w);
        }
        for i in 0..pointers {
            self.copy_pointer(
                src,
                (segment, at + data + i),
                (dst.0, dst.1 + data + i),
                nesting,
            )?;
        }
        Ok(())
    }

    fn copy_list(
        &mut self,
        src: &Source<'_>,
        (segment, at): SrcAt,
        pointer: u64,
        to: At,
        nesting: u32,
    ) -> Result<(), String> {
        let nesting = nesting
            .checked_sub(1)
            .ok_or("the message is nested too deeply")?;
        let size = pointer >> 32 & 7;
        let count = (pointer >> 35) as u32;
        if size == INLINE_COMPOSITE {
            src.check(segment, at, u64::from(count) + 1)?;
            let tag = src.word(segment, at)?;
            if tag & 3 != STRUCT {
                return Err("a list of structs has a tag that is not a struct".into());
            }
            let elements = (tag as u32) >> 2;
            let data = (tag >> 32 & 0xffff) as u32;
            let pointers = (tag >> 48) as u32;
            let per_element = u64::from(data + pointers);
            if per_element * u64::from(elements) > u64::from(count) {
                return Err("a list of structs overruns its word count".into());
            }
            self.charge((per_element * u64::from(elements)).max(u64::from(elements)) + 1)?;
            let total = (per_element * u64::from(elements)) as u32;
            let (dst, described) = self.allocate(to, total + 1, LIST);
            self.describe(described, INLINE_COMPOSITE | u64::from(total) << 3);
            self.set(
                dst,
                u64::from(elements) << 2 | u64::from(data) << 32 | u64::from(pointers) << 48,
            );
            for e in 0..elements {
                let offset = e * (data + pointers);
                self.copy_struct_body(
                    src,
                    (segment, at + 1 + offset),
                    data,
                    pointers,
                    (dst.0, dst.1 + 1 + offset),
                    nesting,
                )?;
            }
            return Ok(());
        }
        let bits: u64 = [0, 1, 8, 16, 32, 64, 64][size as usize];
        let words = (u64::from(count) * bits).div_ceil(64);
        src.check(segment, at, words)?;
        self.charge(words.max(u64::from(count) * u64::from(bits == 0)))?;
        let (dst, described) = self.allocate(to, words as u32, LIST);
        self.describe(described, size | u64::from(count) << 3);
        if size == 6 {
            for i in 0..count {
                self.copy_pointer(src, (segment, at + i), (dst.0, dst.1 + i), nesting)?;
            }
            return Ok(());
        }
        // Data: whole bytes, and the bits of a partial last byte (a list of Bool).
        let total_bits = u64::from(count) * bits;
        let bytes = src.bytes(segment, at, total_bits.div_ceil(8) as usize)?;
        let mut out: Vec<u8> = bytes.to_vec();
        if !total_bits.is_multiple_of(8) {
            let last = out.len() - 1;
            out[last] &= (1u8 << (total_bits % 8)) - 1;
        }
        for (i, chunk) in out.chunks(8).enumerate() {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.set((dst.0, dst.1 + i as u32), u64::from_le_bytes(w));
        }
        Ok(())
    }
}

/// A position in the message being read: (segment, word).
type SrcAt = (u32, u32);

/// The message being copied, every access bounds-checked.
struct Source<'a> {
    segments: &'a [&'a [u8]],
}

impl Source<'_> {
    fn segment(&self, segment: u32) -> Result<&[u8], String> {
        self.segments
            .get(segment as usize)
            .copied()
            .ok_or_else(|| format!("a far pointer names segment {segment}, which is missing"))
    }

    fn check(&self, segment: u32, at: u32, words: u64) -> Result<(), String> {
        let len = self.segment(segment)?.len() as u64 / 8;
        if u64::from(at) + words > len {
            return Err("the message contains an out-of-bounds pointer".into());
        }
        Ok(())
    }

    fn word(&self, segment: u32, at: u32) -> Result<u64, String> {
        let bytes = self.bytes(segment, at, 8)?;
        Ok(u64::from_le_bytes(bytes.try_into().expect("eight bytes")))
    }

    fn bytes(&self, segment: u32, at: u32, len: usize) -> Result<&[u8], String> {
        let s = self.segment(segment)?;
        let start = at as usize * 8;
        s.get(start..start + len)
            .ok_or_else(|| "the message contains an out-of-bounds pointer".into())
    }

    /// The object a (non-null) pointer refers to, following far pointers: where its content
    /// starts, and the pointer word that describes it.
    fn follow(&self, segment: u32, at: u32) -> Result<(SrcAt, u64), String> {
        let pointer = self.word(segment, at)?;
        if pointer & 3 != FAR {
            let offset = (pointer as u32 as i32) >> 2;
            let target = i64::from(at) + 1 + i64::from(offset);
            let target = u32::try_from(target)
                .map_err(|_| "the message contains an out-of-bounds pointer")?;
            return Ok(((segment, target), pointer));
        }
        let pad_segment = (pointer >> 32) as u32;
        let pad = (pointer as u32) >> 3;
        let landing = self.word(pad_segment, pad)?;
        if pointer & 4 == 0 {
            // One landing pad: an ordinary pointer in the target's segment.
            if landing & 3 == FAR {
                return Err("a far pointer lands on another far pointer".into());
            }
            let offset = (landing as u32 as i32) >> 2;
            let target = i64::from(pad) + 1 + i64::from(offset);
            let target = u32::try_from(target)
                .map_err(|_| "the message contains an out-of-bounds pointer")?;
            return Ok(((pad_segment, target), landing));
        }
        // Two words: a far pointer to the content, then the tag that describes it.
        if landing & 7 != FAR {
            return Err("a double-far landing pad does not hold a far pointer".into());
        }
        let tag = self.word(pad_segment, pad + 1)?;
        Ok((((landing >> 32) as u32, (landing as u32) >> 3), tag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn struct_ptr(offset: i32, data: u16, pointers: u16) -> u64 {
        u64::from((offset as u32) << 2) | u64::from(data) << 32 | u64::from(pointers) << 48
    }

    fn list_ptr(offset: i32, size: u64, count: u32) -> u64 {
        u64::from((offset as u32) << 2) | LIST | size << 32 | u64::from(count) << 35
    }

    fn far_ptr(segment: u32, pad: u32, double: bool) -> u64 {
        FAR | u64::from(double) << 2 | u64::from(pad) << 3 | u64::from(segment) << 32
    }

    fn segments(words: &[&[u64]]) -> Vec<Vec<u8>> {
        words
            .iter()
            .map(|s| s.iter().flat_map(|w| w.to_le_bytes()).collect())
            .collect()
    }

    fn copy(source: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, String> {
        let mut copy = Copy::new(FIRST_SEGMENT_WORDS, false, 1 << 20);
        let slices: Vec<&[u8]> = source.iter().map(|s| s.as_slice()).collect();
        copy.root(&slices)?;
        Ok(copy.framed())
    }

    fn error(source: &[&[u64]]) -> String {
        copy(&segments(source)).expect_err("the copy should fail")
    }

    /// A root struct with one data word and one pointer, the pointer being `p`, followed by
    /// `rest`.
    fn with_pointer(p: u64, rest: &[u64]) -> Vec<u64> {
        let mut words = vec![struct_ptr(0, 1, 1), 7, p];
        words.extend_from_slice(rest);
        words
    }

    #[test]
    fn pointers_through_far_pointers_copy_as_if_they_were_near() {
        // Root { data 42, text "hi" }, all in one segment.
        let near = segments(&[&with_pointer(list_ptr(0, 2, 3), &[0x6968])]);
        // The same, with the root behind a single-far pointer and the text behind a
        // double-far one whose content sits in a third segment.
        let far = segments(&[
            &[far_ptr(1, 0, false)],
            &[struct_ptr(0, 1, 1), 7, far_ptr(2, 0, true)],
            &[far_ptr(2, 2, false), list_ptr(0, 2, 3), 0x6968],
        ]);
        assert_eq!(copy(&far).unwrap(), copy(&near).unwrap());
    }

    #[test]
    fn a_null_root_copies_as_an_empty_struct() {
        let framed = copy(&segments(&[&[0]])).unwrap();
        assert_eq!(framed[1], 0xffff_fffcu64.to_le_bytes());
    }

    #[test]
    fn overlapping_pointers_cannot_copy_more_than_the_budget() {
        // 256 pointers to one list of 8192 words: 2 Mi words to copy from a message of 8 Ki.
        let shared = 8192u32;
        let mut words = vec![struct_ptr(0, 0, 1), list_ptr(0, 6, 256)];
        words.extend((0..256).map(|i| list_ptr(255 - i, 5, shared)));
        words.extend(std::iter::repeat_n(7, shared as usize));
        let source = segments(&[&words]);
        let slices: Vec<&[u8]> = source.iter().map(|s| s.as_slice()).collect();
        let mut copy = Copy::new(FIRST_SEGMENT_WORDS, false, 1 << 20);
        let err = copy.root(&slices).unwrap_err();
        assert!(err.contains("too large to copy"), "{err}");
        // What was copied before the budget ran out is no more than the budget.
        let written: usize = copy.segments.iter().map(|s| s.words.len()).sum();
        assert!(written <= 3 << 20, "{written}");
        // With room for every copy, it goes through.
        let mut copy = Copy::new(FIRST_SEGMENT_WORDS, false, 3 << 20);
        copy.root(&slices).unwrap();
    }

    #[test]
    fn malformed_messages_are_errors_naming_the_fault() {
        let cases: Vec<(Vec<Vec<u64>>, &str)> = vec![
            (vec![vec![list_ptr(0, 2, 0)]], "the root is not a struct"),
            (vec![with_pointer(3, &[])], "capability"),
            (
                vec![vec![far_ptr(4, 0, false)]],
                "segment 4, which is missing",
            ),
            (
                vec![vec![far_ptr(1, 0, false)], vec![far_ptr(0, 0, false)]],
                "lands on another far pointer",
            ),
            (
                vec![vec![far_ptr(1, 0, true)], vec![struct_ptr(0, 0, 0), 0]],
                "double-far landing pad does not hold a far pointer",
            ),
            (vec![vec![struct_ptr(0, 4, 0)]], "out-of-bounds"),
            (vec![vec![struct_ptr(-5, 0, 1)]], "out-of-bounds"),
            (
                vec![with_pointer(list_ptr(0, 7, 1), &[list_ptr(0, 2, 1), 0])],
                "tag that is not a struct",
            ),
            (
                vec![with_pointer(
                    list_ptr(0, 7, 1),
                    &[struct_ptr(2, 1, 0), 0, 0],
                )],
                "overruns its word count",
            ),
            // A struct whose only pointer points back at the struct itself.
            (
                vec![vec![struct_ptr(0, 0, 1), struct_ptr(-1, 0, 1)]],
                "nested too deeply",
            ),
        ];
        for (source, want) in cases {
            let source: Vec<&[u64]> = source.iter().map(|s| s.as_slice()).collect();
            let err = error(&source);
            assert!(
                err.contains(want),
                "{source:x?}: `{err}` should say `{want}`"
            );
        }
    }
}
