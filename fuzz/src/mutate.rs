//! Mutations: generic byte edits, edits that know Cap'n Proto's words (pointer kinds, offsets,
//! struct and list sizes, far pointers, the segment table), edits of text by tokens, and
//! splicing with other cases of the corpus.

use crate::rng::Rng;

/// What a target's case bytes are, so that the mutator can edit them meaningfully.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// `header` bytes, then one framed message (segment table first).
    Message { header: usize },
    /// `header` bytes, then one or more framed messages back to back.
    Stream { header: usize },
    /// `header` bytes, then packed message bytes.
    Packed { header: usize },
    /// `header` bytes, then text (JSON, the text format, a schema).
    Text { header: usize },
    /// Bytes read one at a time as decisions (the serializer's programs).
    Program,
}

impl Shape {
    fn header(self) -> usize {
        match self {
            Shape::Message { header }
            | Shape::Stream { header }
            | Shape::Packed { header }
            | Shape::Text { header } => header,
            Shape::Program => 0,
        }
    }
}

/// Mutates `case` in place with a few stacked edits; `corpus` is where splices come from and
/// `dict` holds tokens worth inserting into text.
pub fn mutate(
    shape: Shape,
    case: &mut Vec<u8>,
    rng: &mut Rng,
    corpus: &[Vec<u8>],
    dict: &[String],
    max_len: usize,
) {
    let spread = 1 << rng.below(4);
    let edits = 1 + rng.below(spread);
    for _ in 0..edits {
        let header = shape.header().min(case.len());
        if header > 0 && rng.one_in(12) {
            case[rng.below(header)] = rng.byte();
            continue;
        }
        let (head, body) = case.split_at(header);
        let mut body = body.to_vec();
        match shape {
            Shape::Message { .. } | Shape::Stream { .. } if rng.below(3) != 0 => {
                words(&mut body, rng)
            }
            Shape::Packed { .. } if rng.one_in(2) => {
                let mut plain = unpack_bounded(&body, 1 << 20);
                words(&mut plain, rng);
                body = pack(&plain);
            }
            Shape::Text { .. } if rng.below(4) != 0 => text(&mut body, rng, dict),
            _ => bytes(&mut body, rng),
        }
        if rng.one_in(10) && !corpus.is_empty() {
            let other = &corpus[rng.below(corpus.len())];
            splice(&mut body, rng, other, header);
        }
        let mut joined = head.to_vec();
        joined.extend_from_slice(&body);
        *case = joined;
    }
    case.truncate(max_len);
}

// -------------------------------------------------------------------------------------------
// Bytes
// -------------------------------------------------------------------------------------------

const INTERESTING_32: &[u32] = &[
    0,
    1,
    2,
    7,
    8,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0xffff,
    0x1fff_ffff,
    0x2000_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
];

fn bytes(body: &mut Vec<u8>, rng: &mut Rng) {
    let len = body.len();
    match rng.below(11) {
        0 if len > 0 => {
            let i = rng.below(len);
            body[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            let any = rng.byte();
            body[i] = *rng.pick(&[0, 1, 0x7f, 0x80, 0xfe, 0xff, any]);
        }
        2 if len >= 4 => {
            let i = rng.below(len - 3);
            let v = *rng.pick(INTERESTING_32);
            body[i..i + 4].copy_from_slice(&v.to_le_bytes());
        }
        3 if len > 0 => {
            let i = rng.below(len);
            body[i] = body[i].wrapping_add(rng.below(9) as u8).wrapping_sub(4);
        }
        4 if len > 0 => {
            let at = rng.below(len);
            let n = rng.small_len(len - at);
            body.drain(at..at + n);
        }
        5 => {
            let at = rng.below(len + 1);
            let n = rng.small_len(64);
            let fresh: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
            body.splice(at..at, fresh);
        }
        6 if len > 0 => {
            let from = rng.below(len);
            let n = rng.small_len(len - from);
            let chunk = body[from..from + n].to_vec();
            let at = rng.below(len + 1);
            body.splice(at..at, chunk);
        }
        7 if len > 0 => {
            let from = rng.below(len);
            let n = rng.small_len(len - from);
            let chunk = body[from..from + n].to_vec();
            let at = rng.below(len);
            let end = (at + n).min(len);
            body[at..end].copy_from_slice(&chunk[..end - at]);
        }
        8 if len > 0 => body.truncate(rng.below(len)),
        9 => {
            let n = rng.small_len(256);
            let fill = if rng.one_in(2) { 0 } else { rng.byte() };
            body.extend(std::iter::repeat_n(fill, n));
        }
        _ => {
            if len > 0 {
                let i = rng.below(len);
                body[i] = rng.byte();
            } else {
                body.push(rng.byte());
            }
        }
    }
}

fn splice(body: &mut Vec<u8>, rng: &mut Rng, other: &[u8], header: usize) {
    let other = other.get(header..).unwrap_or(&[]);
    if other.is_empty() {
        return;
    }
    if rng.one_in(2) {
        // Keep a prefix of this case and continue with a suffix of the other.
        let cut = rng.below(body.len() + 1);
        let from = rng.below(other.len());
        body.truncate(cut);
        body.extend_from_slice(&other[from..]);
    } else {
        let from = rng.below(other.len());
        let n = rng.small_len(other.len() - from);
        let at = rng.below(body.len() + 1);
        body.splice(at..at, other[from..from + n].iter().copied());
    }
}

// -------------------------------------------------------------------------------------------
// Cap'n Proto words
// -------------------------------------------------------------------------------------------

fn get_word(body: &[u8], w: usize) -> u64 {
    u64::from_le_bytes(body[w * 8..w * 8 + 8].try_into().unwrap())
}

fn set_word(body: &mut [u8], w: usize, v: u64) {
    body[w * 8..w * 8 + 8].copy_from_slice(&v.to_le_bytes());
}

/// Where the segments start: the table's length in words, when the table fits.
fn table_words(body: &[u8]) -> usize {
    if body.len() < 4 {
        return 0;
    }
    let count = u32::from_le_bytes(body[0..4].try_into().unwrap()) as usize + 1;
    if count > 512 {
        return 1;
    }
    ((4 + count * 4).div_ceil(8)).min(body.len() / 8)
}

/// A new 30-bit signed pointer offset: near the old one, at an edge, or anywhere.
fn offset(rng: &mut Rng, old: i32) -> i32 {
    let v = match rng.below(6) {
        0 => old + rng.below(9) as i32 - 4,
        1 => 0,
        2 => -1,
        3 => (1 << 29) - 1,
        4 => -(1 << 29),
        _ => (rng.next_u64() as i32) >> 2,
    };
    v.clamp(-(1 << 29), (1 << 29) - 1)
}

fn count16(rng: &mut Rng, old: u16) -> u16 {
    match rng.below(5) {
        0 => old.wrapping_add(rng.below(5) as u16).wrapping_sub(2),
        1 => 0,
        2 => u16::MAX,
        3 => rng.below(4) as u16,
        _ => rng.next_u64() as u16,
    }
}

fn count29(rng: &mut Rng, old: u32) -> u32 {
    let v = match rng.below(6) {
        0 => old.wrapping_add(rng.below(9) as u32).wrapping_sub(4),
        1 => 0,
        2 => (1 << 29) - 1,
        3 => 1 << rng.below(29),
        4 => rng.below(16) as u32,
        _ => rng.next_u64() as u32,
    };
    v & ((1 << 29) - 1)
}

/// Edits one word as a pointer, or the segment table, or inserts and removes whole words.
fn words(body: &mut Vec<u8>, rng: &mut Rng) {
    let n = body.len() / 8;
    if n == 0 {
        bytes(body, rng);
        return;
    }
    let table = table_words(body);
    // Mostly a word of a segment, sometimes one of the table.
    let w = if table < n && !rng.one_in(8) {
        table + rng.below(n - table)
    } else {
        rng.below(n)
    };
    let old = get_word(body, w);
    let off = (old as u32 as i32) >> 2;
    let kind = old & 3;
    let new = match rng.below(14) {
        // The kind: struct, list, far, other (capability).
        0 => (old & !3) | rng.below(4) as u64,
        1 => (old & !0xffff_fffc) | ((offset(rng, off) as u32 as u64) << 2 & 0xffff_fffc),
        2 if kind == 0 => {
            let data = count16(rng, (old >> 32) as u16) as u64;
            (old & !(0xffff << 32)) | data << 32
        }
        3 if kind == 0 => {
            let ptrs = count16(rng, (old >> 48) as u16) as u64;
            (old & !(0xffff << 48)) | ptrs << 48
        }
        2 | 3 => {
            // A list's element size.
            (old & !(7 << 32)) | (rng.below(8) as u64) << 32
        }
        4 => {
            // A list's element count (or a composite tag's word count).
            let count = count29(rng, (old >> 35) as u32) as u64;
            (old & !(0x1fff_ffff << 35)) | count << 35
        }
        5 => {
            // A far pointer: landing pad offset, single or double, segment.
            let pad = (rng.below(4) as u64)
                | if rng.one_in(2) {
                    0
                } else {
                    rng.next_u64() & 0x1fff_ffff
                };
            let any = rng.next_u64() & 0xffff_ffff;
            let seg = *rng.pick(&[0u64, 1, 2, 3, 511, 512, any]);
            2 | (rng.below(2) as u64) << 2 | pad << 3 | seg << 32
        }
        6 => {
            // A composite list tag: element count in the offset, sizes of each element.
            let count = count29(rng, off as u32) as u64;
            count << 2 | (rng.below(4) as u64) << 32 | (rng.below(4) as u64) << 48
        }
        7 => {
            // A fresh list pointer.
            let size = rng.below(8) as u64;
            let count = count29(rng, 0) as u64;
            1 | ((offset(rng, 0) as u32 as u64) << 2 & 0xffff_fffc) | size << 32 | count << 35
        }
        8 => {
            // A fresh struct pointer, often pointing at itself or its neighbours.
            let o = if rng.one_in(2) {
                -1 - rng.below(3) as i32
            } else {
                offset(rng, 0)
            };
            ((o as u32 as u64) << 2 & 0xffff_fffc)
                | (rng.below(3) as u64) << 32
                | (rng.below(3) as u64) << 48
        }
        9 => get_word(body, rng.below(n)),
        10 => 0,
        11 => {
            table_edit(body, rng);
            return;
        }
        12 => {
            resize_segment(body, rng, table);
            return;
        }
        _ => old ^ 1 << rng.below(64),
    };
    set_word(body, w, new);
}

/// Changes the segment count or a segment's size, or makes the table agree with the body again.
fn table_edit(body: &mut [u8], rng: &mut Rng) {
    if body.len() < 8 {
        return;
    }
    let count = u32::from_le_bytes(body[0..4].try_into().unwrap()) as usize + 1;
    match rng.below(4) {
        0 => {
            let any = rng.next_u64() as u32;
            let v = *rng.pick(&[0u32, 1, 2, 3, 511, 512, u32::MAX, any]);
            body[0..4].copy_from_slice(&v.to_le_bytes());
        }
        1 => {
            let i = rng.below(count.min(64));
            if let Some(slot) = body.get_mut(4 + i * 4..8 + i * 4) {
                let v = *rng.pick(INTERESTING_32);
                slot.copy_from_slice(&v.to_le_bytes());
            }
        }
        _ => fix_table(body),
    }
}

/// Sets the last segment's size so that the segments end where the bytes do.
fn fix_table(body: &mut [u8]) {
    let count = u32::from_le_bytes(body[0..4].try_into().unwrap()) as usize + 1;
    let table = (4 + count * 4).div_ceil(8) * 8;
    if count > 512 || table > body.len() {
        return;
    }
    let mut used = table;
    for i in 0..count - 1 {
        used += u32::from_le_bytes(body[4 + i * 4..8 + i * 4].try_into().unwrap()) as usize * 8;
    }
    if used <= body.len() {
        let last = ((body.len() - used) / 8) as u32;
        body[4 + (count - 1) * 4..8 + (count - 1) * 4].copy_from_slice(&last.to_le_bytes());
    }
}

/// Inserts or removes whole words in the segments, then fixes the table.
fn resize_segment(body: &mut Vec<u8>, rng: &mut Rng, table: usize) {
    let n = body.len() / 8;
    if n <= table {
        return;
    }
    let w = table + rng.below(n - table);
    if rng.one_in(2) {
        let k = rng.small_len(n - w);
        body.drain(w * 8..(w + k) * 8);
    } else {
        let k = rng.small_len(16);
        let fresh: Vec<u8> = (0..k * 8)
            .map(|_| if rng.one_in(3) { rng.byte() } else { 0 })
            .collect();
        body.splice(w * 8..w * 8, fresh);
    }
    fix_table(body);
}

// -------------------------------------------------------------------------------------------
// Packing (the fuzzer's own, so that a bug in the library's cannot hit the supervisor)
// -------------------------------------------------------------------------------------------

/// Packs whole words with the standard Cap'n Proto packing.
pub fn pack(plain: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(plain.len() + 16);
    let words: Vec<&[u8]> = plain.chunks_exact(8).collect();
    let mut i = 0;
    while i < words.len() {
        let word = words[i];
        let tag = word
            .iter()
            .enumerate()
            .fold(0u8, |t, (b, &v)| if v != 0 { t | 1 << b } else { t });
        out.push(tag);
        out.extend(word.iter().filter(|&&b| b != 0));
        i += 1;
        if tag == 0 {
            let run = words[i..]
                .iter()
                .take(255)
                .take_while(|w| w.iter().all(|&b| b == 0))
                .count();
            out.push(run as u8);
            i += run;
        } else if tag == 0xff {
            let run = words[i..]
                .iter()
                .take(255)
                .take_while(|w| w.iter().filter(|&&b| b == 0).count() < 2)
                .count();
            out.push(run as u8);
            for w in &words[i..i + run] {
                out.extend_from_slice(w);
            }
            i += run;
        }
    }
    out
}

/// Unpacks as far as the bytes go and at most `limit` bytes; whatever is malformed ends it.
pub fn unpack_bounded(packed: &[u8], limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < packed.len() && out.len() < limit {
        let tag = packed[i];
        i += 1;
        for bit in 0..8 {
            if tag & 1 << bit != 0 {
                out.push(packed.get(i).copied().unwrap_or(0));
                i += 1;
            } else {
                out.push(0);
            }
        }
        let run = packed.get(i).copied().unwrap_or(0) as usize;
        if tag == 0 {
            i += 1;
            out.resize((out.len() + run * 8).min(limit), 0);
        } else if tag == 0xff {
            let start = (i + 1).min(packed.len());
            let end = (start + run * 8).min(packed.len());
            out.extend_from_slice(&packed[start..end]);
            i = end;
        }
    }
    out.truncate(out.len() / 8 * 8);
    out
}

// -------------------------------------------------------------------------------------------
// Text
// -------------------------------------------------------------------------------------------

const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "-1",
    "127",
    "-129",
    "255",
    "256",
    "65535",
    "65536",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
    "1e308",
    "1e309",
    "-1e-400",
    "3.4028236e38",
    "0x7fffffff",
    "0xffffffffffffffff",
    "0x1ffffffffffffffff",
    "0777",
    "nan",
    "inf",
    "-inf",
    "1.5",
    "1e",
    ".5",
];

/// Text that nests: repeating one of these many times probes recursion depth.
const OPENERS: &[&str] = &[
    "(",
    "[",
    "{",
    "List(",
    "[[",
    "(a = ",
    "{\"a\": ",
    "(x = (",
    "struct S {",
];

fn text(body: &mut Vec<u8>, rng: &mut Rng, dict: &[String]) {
    let len = body.len();
    // Positions at ASCII boundaries keep multi-byte characters intact most of the time.
    let boundary = |rng: &mut Rng, body: &[u8]| -> usize {
        let mut at = rng.below(body.len() + 1);
        while at < body.len() && body[at] & 0xc0 == 0x80 {
            at += 1;
        }
        at
    };
    match rng.below(9) {
        0 | 1 if !dict.is_empty() => {
            let at = boundary(rng, body);
            let token = rng.pick(dict).clone();
            let pad = if rng.one_in(2) { " " } else { "" };
            body.splice(at..at, format!("{pad}{token}{pad}").into_bytes());
        }
        2 => {
            // Replace a word or number with an interesting number or a dictionary word.
            let at = boundary(rng, body);
            let start = body[..at]
                .iter()
                .rposition(|b| !b.is_ascii_alphanumeric() && *b != b'.' && *b != b'-')
                .map_or(0, |p| p + 1);
            let end = body[at..]
                .iter()
                .position(|b| !b.is_ascii_alphanumeric() && *b != b'.')
                .map_or(body.len(), |p| at + p);
            let with = if rng.one_in(2) || dict.is_empty() {
                rng.pick(NUMBERS).to_string()
            } else {
                rng.pick(dict).clone()
            };
            body.splice(start..end, with.into_bytes());
        }
        3 => {
            // Whole lines: delete, duplicate, or swap two.
            let mut lines: Vec<Vec<u8>> = body.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
            let i = rng.below(lines.len());
            match rng.below(3) {
                0 if lines.len() > 1 => {
                    lines.remove(i);
                }
                1 => {
                    let line = lines[i].clone();
                    lines.insert(rng.below(lines.len() + 1), line);
                }
                _ => {
                    let j = rng.below(lines.len());
                    lines.swap(i, j);
                }
            }
            *body = lines.join(&b'\n');
        }
        4 => {
            // Deep nesting: many openers, sometimes closed again.
            let at = boundary(rng, body);
            let opener = *rng.pick(OPENERS);
            let times = *rng.pick(&[2usize, 10, 100, 1000, 20_000]);
            let mut chunk = opener.repeat(times);
            if rng.one_in(2) {
                let closer: String = opener
                    .chars()
                    .rev()
                    .filter_map(|c| match c {
                        '(' => Some(')'),
                        '[' => Some(']'),
                        '{' => Some('}'),
                        _ => None,
                    })
                    .collect();
                chunk.push_str(&closer.repeat(times));
            }
            body.splice(at..at, chunk.into_bytes());
        }
        5 if len > 0 => {
            // Repeat a piece many times (long lists, long names).
            let from = boundary(rng, body).min(len - 1);
            let n = rng.small_len((len - from).min(64));
            let chunk = body[from..from + n].to_vec();
            let times = *rng.pick(&[2usize, 16, 256, 4096]);
            let at = boundary(rng, body);
            body.splice(at..at, chunk.repeat(times));
        }
        6 => {
            // Quote and escape trouble.
            let at = boundary(rng, body);
            let piece = *rng.pick(&[
                "\"",
                "\\",
                "\\u",
                "\\ud800",
                "\\x",
                "\\0",
                "\\\"",
                "'",
                "#",
                "\n",
                "\r\n",
                "\t",
                "\u{0}",
                "\u{feff}",
                "\u{10ffff}",
                "é",
                "0x\"",
                "0x\"0\"",
                "\"\"\"",
            ]);
            body.splice(at..at, piece.bytes());
        }
        _ => bytes(body, rng),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_and_unpack_agree() {
        let mut rng = Rng::new(1);
        for _ in 0..200 {
            let words = rng.below(40);
            let plain: Vec<u8> = (0..words * 8)
                .map(|_| if rng.one_in(2) { 0 } else { rng.byte() })
                .collect();
            assert_eq!(unpack_bounded(&pack(&plain), 1 << 20), plain);
        }
    }
}
