//! Message framing: the segment table in front of a message's segments, read from a slice or a
//! stream within the limits of [`ReadOptions`], and a guess at the real format of input that
//! fails to read.
//!
//! The segment table is checked before anything else: at most [`MAX_SEGMENTS`] segments, and
//! no more words in all than the traversal limit. A stream reader then never allocates what the
//! table claims: it reads the segments into a buffer that starts at 64 KiB (or the message's
//! size, when smaller) and doubles only when the bytes received have filled it. Whatever the
//! table says, a message's buffer is never larger than twice the bytes that actually arrived
//! plus 64 KiB, and while it grows the allocator holds at most three times what arrived (the
//! old buffer and the new); the table itself is read into 2 KiB on the stack. Packed input is
//! measured after unpacking: two packed bytes can stand for 2 KiB of zeros, so for packed input
//! the bound is in unpacked bytes, which the traversal limit caps.
//!
//! ```
//! use serde_capnp::framing::{self, Format};
//! use serde_capnp::ReadOptions;
//!
//! // A table claiming one segment of 4 Gi words, and nothing after it.
//! let hostile = [0, 0, 0, 0, 0x1d, 0, 0, 0xf6];
//! let err = framing::read_message(&hostile[..], &ReadOptions::default()).unwrap_err();
//! assert!(err.message().starts_with("message claims 4127195165 words"));
//!
//! // Packed bytes read as unpacked ones: a root struct with one data word.
//! let message = [0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
//! let packed = serde_capnp::packing::pack(&message);
//! let err = framing::read_message(&packed[..], &ReadOptions::default()).unwrap_err();
//! assert!(err.message().ends_with("the input looks like a packed message, not an unpacked message"));
//! assert_eq!(framing::format_mismatch(&packed, Format::Binary), Some(Format::Packed));
//! ```

use std::fmt;
use std::io::{self, BufRead, Read};

use capnp::Word;

use crate::error::{Category, Error, Result};
use crate::io::{Input, Plain, Unpack};
use crate::wire::Segs;
use crate::ReadOptions;

/// The most segments a message may have: the limit of the reference implementation.
pub const MAX_SEGMENTS: usize = 512;

/// How many bytes at the start of a message the format guesses look at.
pub(crate) const INSPECTED_BYTES: usize = 1024;

/// What every reader says when a message ends before its segment table says it does.
pub(crate) const TRUNCATED: &str = "message is truncated";

/// The size of a stream reader's first buffer for a message's segments.
const FIRST_BUFFER_BYTES: usize = 64 * 1024;

/// The longest segment table, in bytes: the count, a size per segment, and padding to a word.
const MAX_TABLE_BYTES: usize = (4 + 4 * MAX_SEGMENTS).div_ceil(8) * 8;

const ZERO: Word = capnp::word(0, 0, 0, 0, 0, 0, 0, 0);

// ---------------------------------------------------------------------------------------------
// Formats
// ---------------------------------------------------------------------------------------------

/// The forms a message is exchanged in (the formats of `capnp convert`, less `canonical`, which
/// is `flat` with more rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// A segment table, then the segments ([`StructSchema::from_slice`](crate::StructSchema::from_slice)).
    Binary,
    /// `Binary`, packed ([`StructSchema::from_slice_packed`](crate::StructSchema::from_slice_packed)).
    Packed,
    /// One segment and no segment table.
    Flat,
    /// `Flat`, packed.
    FlatPacked,
    /// The Cap'n Proto text format.
    Text,
    /// JSON.
    Json,
}

impl Format {
    /// The name `capnp convert` knows the format by (`binary`, `flat-packed`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Format::Binary => "binary",
            Format::Packed => "packed",
            Format::Flat => "flat",
            Format::FlatPacked => "flat-packed",
            Format::Text => "text",
            Format::Json => "json",
        }
    }
}

/// What the input is, in words: `an unpacked message`, `JSON`, ...
impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Binary => "an unpacked message",
            Format::Packed => "a packed message",
            Format::Flat => "a flat message",
            Format::FlatPacked => "a packed flat message",
            Format::Text => "Cap'n Proto text",
            Format::Json => "JSON",
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Owned segments
// ---------------------------------------------------------------------------------------------

/// A message read from a stream: its segments, in one buffer aligned to words (so that the
/// `capnp` crate reads them as they are, too).
pub struct Segments {
    words: Vec<Word>,
    /// Where each segment ends, in words from the start of `words`.
    ends: Vec<usize>,
}

impl Segments {
    /// How many segments the message has.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the message has no segments (only [`copy_of`](Self::copy_of) makes such).
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The segment at `index`.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let end = *self.ends.get(index)?;
        let start = index.checked_sub(1).map_or(0, |i| self.ends[i]);
        Some(Word::words_to_bytes(&self.words[start..end]))
    }

    /// The segments in order.
    pub fn to_slices(&self) -> Vec<&[u8]> {
        (0..self.len()).filter_map(|i| self.get(i)).collect()
    }

    /// The message's size in words, all segments together.
    pub fn word_count(&self) -> u64 {
        self.words.len() as u64
    }

    /// Copies segments into a new buffer. Each must be a whole number of words.
    pub fn copy_of(segments: &[&[u8]]) -> Result<Segments> {
        let mut words = Vec::new();
        let mut ends = Vec::with_capacity(segments.len());
        for s in segments {
            if s.len() % 8 != 0 {
                return Err(Error::wire("segment length is not a whole number of words"));
            }
            let start = words.len();
            words.resize(start + s.len() / 8, ZERO);
            Word::words_to_bytes_mut(&mut words[start..]).copy_from_slice(s);
            ends.push(words.len());
        }
        Ok(Segments { words, ends })
    }

    /// The message as a reader of the `capnp` crate, with the same limits.
    pub fn into_capnp_reader(self, options: &ReadOptions) -> capnp::message::Reader<Segments> {
        capnp::message::Reader::new(self, options.capnp())
    }
}

impl capnp::message::ReaderSegments for Segments {
    fn get_segment(&self, index: u32) -> Option<&[u8]> {
        self.get(index as usize)
    }

    fn len(&self) -> usize {
        self.ends.len()
    }
}

impl fmt::Debug for Segments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<usize> = (0..self.len())
            .map(|i| self.get(i).map_or(0, |s| s.len() / 8))
            .collect();
        f.debug_struct("Segments").field("words", &words).finish()
    }
}

// ---------------------------------------------------------------------------------------------
// The segment table
// ---------------------------------------------------------------------------------------------

pub(crate) fn truncated() -> Error {
    Error::wire(TRUNCATED)
}

/// The error of a stream that ends before a message starts: an I/O error of kind
/// `UnexpectedEof`, so that callers can tell it from bad data.
pub(crate) fn empty_stream() -> Error {
    Error::io(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "message is empty",
    ))
}

fn le32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("four bytes"))
}

/// The segment count in the first word of a table.
fn segment_count(first: &[u8]) -> Result<usize> {
    let count = u64::from(le32(first, 0)) + 1;
    if count > MAX_SEGMENTS as u64 {
        return Err(Error::limit(format!(
            "message claims {count} segments, more than the limit of {MAX_SEGMENTS}"
        )));
    }
    Ok(count as usize)
}

/// The size in bytes of the table of a message with `count` segments.
fn table_bytes(count: usize) -> usize {
    (4 + 4 * count).div_ceil(8) * 8
}

/// Where each segment ends (in words from the first), after checking that the message is
/// within the traversal limit.
fn segment_ends(table: &[u8], count: usize, options: &ReadOptions) -> Result<Vec<usize>> {
    let total: u64 = (0..count).map(|i| u64::from(le32(table, 4 + 4 * i))).sum();
    let limit = options.traversal_limit_in_words;
    if total > limit || usize::try_from(total.saturating_mul(8)).is_err() {
        return Err(Error::limit(format!(
            "message claims {total} words, more than the traversal limit of {limit} words"
        )));
    }
    let mut end = 0;
    Ok((0..count)
        .map(|i| {
            end += le32(table, 4 + 4 * i) as usize;
            end
        })
        .collect())
}

/// Splits the message at the start of `bytes` into its segments, and says how many bytes it
/// takes; what follows it is left alone. The errors are those of the stream readers:
/// `message is empty`, `message is truncated`, and the limits on segments and words.
pub fn split_message<'a>(bytes: &'a [u8], options: &ReadOptions) -> Result<(Vec<&'a [u8]>, usize)> {
    if bytes.is_empty() {
        return Err(Error::wire("message is empty"));
    }
    if bytes.len() < 8 {
        return Err(truncated());
    }
    let count = segment_count(bytes)?;
    let table = table_bytes(count);
    if bytes.len() < table {
        return Err(truncated());
    }
    let ends = segment_ends(bytes, count, options)?;
    let end = table + ends.last().copied().unwrap_or(0) * 8;
    if bytes.len() < end {
        return Err(truncated());
    }
    let mut start = table;
    let segments = ends
        .iter()
        .map(|&e| {
            let s = &bytes[start..table + e * 8];
            start = table + e * 8;
            s
        })
        .collect();
    Ok((segments, end))
}

/// Splits `bytes`, which must hold exactly one message, into its segments; bytes after the
/// message are an error.
pub fn split_exact<'a>(bytes: &'a [u8], options: &ReadOptions) -> Result<Vec<&'a [u8]>> {
    split_exact_plain(bytes, options).map_err(|e| hint_format(e, bytes, Format::Binary))
}

/// [`split_exact`] without allocating for a single-segment message: what the readers of a
/// whole message in a slice use.
pub(crate) fn split_exact_segs<'a>(bytes: &'a [u8], options: &ReadOptions) -> Result<Segs<'a>> {
    if bytes.len() >= 8 && le32(bytes, 0) == 0 {
        let words = u64::from(le32(bytes, 4));
        if words <= options.traversal_limit_in_words && bytes.len() as u64 == 8 + words * 8 {
            return Ok(Segs::One(&bytes[8..]));
        }
    }
    // Anything else, errors included, takes the general path.
    split_exact(bytes, options).map(Segs::from)
}

/// [`split_exact`] without the format hint.
fn split_exact_plain<'a>(bytes: &'a [u8], options: &ReadOptions) -> Result<Vec<&'a [u8]>> {
    let (segments, end) = split_message(bytes, options)?;
    if end != bytes.len() {
        return Err(Error::wire(format!(
            "{} bytes follow the message",
            bytes.len() - end
        )));
    }
    Ok(segments)
}

// ---------------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------------

/// Reads one message from `input`: `None` if the input is at its end. Errors carry a guess at
/// the input's format when it does not look like `format`.
pub(crate) fn next_message(
    input: &mut impl Input,
    options: &ReadOptions,
    format: Format,
) -> Result<Option<Segments>> {
    read_frame(input, options).map_err(|e| hinted(e, input, format))
}

/// `error`, with a guess at the format of what `input` holds when it does not look like
/// `format`.
pub(crate) fn hinted(error: Error, input: &mut impl Input, format: Format) -> Error {
    input.look_ahead();
    hint_format(error, input.prefix(), format)
}

fn read_frame(input: &mut impl Input, options: &ReadOptions) -> Result<Option<Segments>> {
    let mut first = [0u8; 8];
    match input.fill(&mut first)? {
        0 => return Ok(None),
        8 => {}
        _ => return Err(truncated()),
    }
    let count = segment_count(&first)?;
    let ends = if count == 1 {
        segment_ends(&first, 1, options)?
    } else {
        let len = table_bytes(count);
        let mut table = [0u8; MAX_TABLE_BYTES];
        table[..8].copy_from_slice(&first);
        if input.fill(&mut table[8..len])? < len - 8 {
            return Err(truncated());
        }
        segment_ends(&table, count, options)?
    };
    let words = read_words(input, ends.last().copied().unwrap_or(0))?;
    input.finish()?;
    Ok(Some(Segments { words, ends }))
}

/// Reads `count` words, into a buffer that grows as they arrive.
fn read_words(input: &mut impl Input, count: usize) -> Result<Vec<Word>> {
    let mut words: Vec<Word> = Vec::new();
    let mut filled = 0;
    while filled < count * 8 {
        if filled == words.len() * 8 {
            grow(&mut words, count);
        }
        let room = &mut Word::words_to_bytes_mut(&mut words)[filled..];
        let wanted = room.len();
        if input.fill(room)? < wanted {
            return Err(truncated());
        }
        filled += wanted;
    }
    Ok(words)
}

/// Doubles `words` (starting at the first buffer's size), up to `cap` words.
fn grow(words: &mut Vec<Word>, cap: usize) {
    let size = (words.len() * 2).max(FIRST_BUFFER_BYTES / 8).min(cap);
    words.reserve_exact(size - words.len());
    words.resize(size, ZERO);
}

/// Reads everything left in `input` as the one segment of a flat message. A partial last word
/// cannot belong to the message and is left out.
fn read_flat_from(input: &mut impl Input, options: &ReadOptions) -> Result<Segments> {
    let limit = options.traversal_limit_in_words;
    // One word more than the limit, to tell a message at the limit from one beyond it.
    let cap = usize::try_from(limit.saturating_add(1))
        .unwrap_or(usize::MAX)
        .min(usize::MAX / 8);
    let mut words: Vec<Word> = Vec::new();
    let mut filled = 0;
    loop {
        if filled == words.len() * 8 {
            if words.len() == cap {
                return Err(Error::limit(format!(
                    "message is larger than the traversal limit of {limit} words"
                )));
            }
            grow(&mut words, cap);
        }
        let room = &mut Word::words_to_bytes_mut(&mut words)[filled..];
        let wanted = room.len();
        let n = input.fill(room)?;
        filled += n;
        if n < wanted {
            break;
        }
    }
    input.finish()?;
    if filled / 8 > limit as usize {
        return Err(Error::limit(format!(
            "message is larger than the traversal limit of {limit} words"
        )));
    }
    words.truncate(filled / 8);
    let ends = vec![words.len()];
    Ok(Segments { words, ends })
}

/// Reads one message (segment table and segments) from `reader`; `None` if the reader is at its
/// end. Only the message's bytes are read: what follows stays in the reader.
///
/// The reader never allocates what the segment table claims; see the [module](self) notes.
pub fn read_message<R: Read>(reader: R, options: &ReadOptions) -> Result<Option<Segments>> {
    next_message(&mut Plain::new(reader), options, Format::Binary)
}

/// Reads one packed message from `reader`; `None` if the reader is at its end. Only the
/// message's bytes are consumed.
pub fn read_packed_message<R: BufRead>(
    reader: R,
    options: &ReadOptions,
) -> Result<Option<Segments>> {
    let mut input = Unpack::new(reader);
    next_message(&mut input, options, Format::Packed)
}

/// Reads a flat message (one segment, no segment table) to the end of `reader`. A partial last
/// word is left out, as `capnp convert` leaves it out; a message longer than the traversal limit
/// is an error, found without reading more than a word past the limit.
pub fn read_flat<R: Read>(reader: R, options: &ReadOptions) -> Result<Segments> {
    let mut input = Plain::new(reader);
    read_flat_from(&mut input, options).map_err(|e| hinted(e, &mut input, Format::Flat))
}

/// Reads a packed flat message to the end of `reader`, unpacking it within the traversal limit.
pub fn read_flat_packed<R: BufRead>(reader: R, options: &ReadOptions) -> Result<Segments> {
    let mut input = Unpack::new(reader);
    read_flat_from(&mut input, options).map_err(|e| hinted(e, &mut input, Format::FlatPacked))
}

// ---------------------------------------------------------------------------------------------
// Guessing at formats
// ---------------------------------------------------------------------------------------------

/// Adds a guess at the real format of `input` to `error`, an error reading it as `expected`,
/// when the input does not look like `expected` but does look like another format:
/// `message claims 72362513 segments, more than the limit of 512; the input looks like a packed
/// message, not an unpacked message`.
///
/// `input` is the start of the message as it came in (the first kilobyte is enough). I/O and
/// schema errors, errors found inside the message (with a field path), and errors about input
/// that looks like `expected` come back unchanged.
pub fn hint_format(error: Error, input: &[u8], expected: Format) -> Error {
    let rebuild: fn(String) -> Error = match error.category() {
        Category::Wire => |m| Error::wire(m),
        Category::Limit => |m| Error::limit(m),
        Category::Data => |m| Error::data(m),
        _ => return error,
    };
    if !error.path().is_empty() {
        return error;
    }
    match format_mismatch(input, expected) {
        Some(guess) => rebuild(format!(
            "{}; the input looks like {guess}, not {expected}",
            error.message()
        )),
        None => error,
    }
}

/// The format `input` seems to be in, when it does not look like `expected`.
pub fn format_mismatch(input: &[u8], expected: Format) -> Option<Format> {
    (judge(input, expected) == Some(false))
        .then(|| guess_format(input))
        .flatten()
}

/// Whether `input` (the start of a message) could be in `format`. Too little input to tell
/// counts as could.
pub fn looks_like(input: &[u8], format: Format) -> bool {
    judge(input, format) != Some(false)
}

/// The format `input` (the start of a message) most likely is in, if it looks like any.
///
/// The first word of an unpacked message also looks like the root of a flat one, so a flat
/// format is only guessed once its framed counterpart is ruled out.
pub fn guess_format(input: &[u8]) -> Option<Format> {
    let ruled_out = |format| judge(input, format) == Some(false);
    [
        Format::Binary,
        Format::Packed,
        Format::Text,
        Format::Json,
        Format::Flat,
        Format::FlatPacked,
    ]
    .into_iter()
    .filter(|&format| match format {
        Format::Flat => ruled_out(Format::Binary),
        Format::FlatPacked => ruled_out(Format::Packed),
        _ => true,
    })
    .find(|&format| judge(input, format) == Some(true))
}

/// Whether `input` looks like `format`; `None` when there is too little of it to tell.
fn judge(input: &[u8], format: Format) -> Option<bool> {
    let input = &input[..input.len().min(INSPECTED_BYTES)];
    match format {
        Format::Binary => judge_binary(input),
        Format::Flat => judge_flat(input),
        Format::Packed => unpack_leniently(input).map_or(Some(false), |u| judge_binary(&u)),
        Format::FlatPacked => unpack_leniently(input).map_or(Some(false), |u| judge_flat(&u)),
        Format::Text => judge_textual(input, b'('),
        Format::Json => judge_textual(input, b'{'),
    }
}

/// A segment table with a sane count and a first segment holding a root pointer, followed by
/// a root pointer that could be one.
fn judge_binary(input: &[u8]) -> Option<bool> {
    if input.len() < 8 {
        return None;
    }
    let count = u64::from(le32(input, 0)) + 1;
    if count > MAX_SEGMENTS as u64 || le32(input, 4) == 0 {
        return Some(false);
    }
    let root = table_bytes(count as usize);
    judge_root(input.get(root..root + 8)?, count)
}

fn judge_flat(input: &[u8]) -> Option<bool> {
    judge_root(input.get(..8)?, 1)
}

/// Whether `word` is the root pointer of a message with `segments` segments as writers write
/// them: a struct right after it, the canonical empty struct, or a far pointer to another
/// segment. `None` when it cannot tell: a null root, a list (the wrong root, but in a message
/// of the format), or a struct further away. A root struct over 16 KiB, or before its pointer,
/// says the input is something else.
fn judge_root(word: &[u8], segments: u64) -> Option<bool> {
    let w = u64::from_le_bytes(word.try_into().expect("one word"));
    let offset = (w as u32 as i32) >> 2;
    let words = (w >> 32 & 0xffff) + (w >> 48);
    match w & 3 {
        0 if w == 0 => None,
        0 if offset == -1 => Some(words == 0),
        0 if offset < 0 || words > 2048 => Some(false),
        0 if offset == 0 => Some(true),
        // Over a gigabyte away.
        0 | 1 if offset >= 1 << 27 => Some(false),
        0 | 1 => None,
        2 => Some((1..segments).contains(&(w >> 32))),
        _ => Some(false),
    }
}

/// The start of `input` unpacked, as far as it goes; `None` if it cannot be packed data: a
/// byte the tag marks as present is zero, which no packer writes.
fn unpack_leniently(input: &[u8]) -> Option<Vec<u8>> {
    const ENOUGH: usize = 4 * INSPECTED_BYTES;
    let mut out = Vec::new();
    let mut bytes = input.iter().copied();
    while out.len() < ENOUGH {
        let Some(tag) = bytes.next() else { break };
        for bit in 0..8 {
            if tag & (1 << bit) == 0 {
                out.push(0);
                continue;
            }
            match bytes.next() {
                Some(0) => return None,
                Some(b) => out.push(b),
                None => return Some(out),
            }
        }
        let run = match tag {
            0 | 0xff => bytes.next().map_or(0, usize::from) * 8,
            _ => 0,
        };
        if tag == 0 {
            out.resize(out.len() + run, 0);
        } else {
            out.extend(bytes.by_ref().take(run));
        }
    }
    Some(out)
}

/// Text that opens with `open` after blanks and comments, with no control characters.
fn judge_textual(input: &[u8], open: u8) -> Option<bool> {
    let mut i = 0;
    loop {
        while input
            .get(i)
            .is_some_and(|b| b.is_ascii_whitespace() || *b == 0x0b)
        {
            i += 1;
        }
        let comment = match input.get(i..)? {
            [b'#', ..] => true,
            [b'/', b'/', ..] => open == b'{',
            _ => false,
        };
        if !comment {
            break;
        }
        i += input[i..].iter().position(|&b| b == b'\n')?;
    }
    let first = *input.get(i)?;
    let printable = input[i..]
        .iter()
        .all(|&b| (b >= 0x20 && b != 0x7f) || b"\t\n\r\x0b\x0c".contains(&b));
    Some(first == open && printable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(sizes: &[u32]) -> Vec<u8> {
        let mut out = (sizes.len() as u32 - 1).to_le_bytes().to_vec();
        for s in sizes {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out.resize(table_bytes(sizes.len()), 0);
        out
    }

    #[test]
    fn a_slice_splits_into_its_segments() {
        let mut bytes = table(&[1, 2]);
        bytes.extend((0..24).map(|i| i as u8));
        bytes.extend_from_slice(b"after");
        let (segments, end) = split_message(&bytes, &ReadOptions::default()).unwrap();
        assert_eq!(segments, [&bytes[16..24], &bytes[24..40]]);
        assert_eq!(end, 40);
        let err = split_exact(&bytes, &ReadOptions::default()).unwrap_err();
        assert_eq!(err.message(), "5 bytes follow the message");
    }

    #[test]
    fn tables_are_checked_before_their_segments_are_read() {
        let options = ReadOptions {
            traversal_limit_in_words: 10,
            ..ReadOptions::default()
        };
        let bytes = table(&[6, 5]);
        let err = split_message(&bytes, &options).unwrap_err();
        assert_eq!(err.category(), Category::Limit);
        assert_eq!(
            err.message(),
            "message claims 11 words, more than the traversal limit of 10 words"
        );
        let err = read_message(&bytes[..], &options).unwrap_err();
        assert_eq!(
            err.message(),
            "message claims 11 words, more than the traversal limit of 10 words"
        );
        let err = split_message(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0], &options).unwrap_err();
        assert_eq!(
            err.message(),
            "message claims 4294967296 segments, more than the limit of 512"
        );
    }

    #[test]
    fn a_stream_reads_one_message_at_a_time() {
        let mut stream = table(&[1]);
        stream.extend_from_slice(&[1; 8]);
        stream.extend_from_slice(&table(&[0, 1]));
        stream.extend_from_slice(&[2; 8]);
        let mut reader = &stream[..];
        let options = ReadOptions::default();
        let one = read_message(&mut reader, &options).unwrap().unwrap();
        assert_eq!(one.to_slices(), [&[1; 8][..]]);
        let two = read_message(&mut reader, &options).unwrap().unwrap();
        assert_eq!(two.to_slices(), [&[][..], &[2; 8][..]]);
        assert!(read_message(&mut reader, &options).unwrap().is_none());
    }

    #[test]
    fn segments_are_aligned_to_words() {
        let copy = Segments::copy_of(&[&[1; 8], &[], &[2; 16]]).unwrap();
        for i in 0..copy.len() {
            assert_eq!(copy.get(i).unwrap().as_ptr() as usize % 8, 0);
        }
        assert_eq!(copy.word_count(), 3);
        assert!(Segments::copy_of(&[&[1; 7]]).is_err());
    }

    #[test]
    fn formats_are_told_apart() {
        // A root struct with a data word (1.5) and a text pointer, unpacked and packed.
        let binary = [
            0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 1, 0, 0,
            0, 0x12, 0, 0, 0, b'a', 0, 0, 0, 0, 0, 0, 0,
        ];
        let packed = crate::packing::pack(&binary);
        let flat = &binary[8..];
        let flat_packed = crate::packing::pack(flat);
        for (input, format) in [
            (&binary[..], Format::Binary),
            (&packed, Format::Packed),
            (flat, Format::Flat),
            (&flat_packed, Format::FlatPacked),
            (b"  # comment\n(id = 1)", Format::Text),
            (b"{\"id\": 1}", Format::Json),
        ] {
            assert_eq!(guess_format(input), Some(format), "{format:?}");
            assert!(looks_like(input, format), "{format:?}");
        }
        assert_eq!(
            format_mismatch(&packed, Format::Binary),
            Some(Format::Packed)
        );
        assert_eq!(
            format_mismatch(&binary, Format::Packed),
            Some(Format::Binary)
        );
        assert_eq!(format_mismatch(&binary, Format::Binary), None);
        assert_eq!(
            format_mismatch(b"{\"id\": 1}", Format::Text),
            Some(Format::Json)
        );
        // Every prefix of a message looks like its format: a truncated message gets no hint.
        for (input, format) in [
            (&binary[..], Format::Binary),
            (&packed, Format::Packed),
            (flat, Format::Flat),
            (&flat_packed, Format::FlatPacked),
        ] {
            for len in 0..input.len() {
                assert!(looks_like(&input[..len], format), "{format:?} {len}");
            }
        }
        assert!(looks_like(b"", Format::Text));
    }
}
