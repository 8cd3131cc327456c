//! `serde-capnp convert FROM:TO [SCHEMA TYPE]`: a stream of messages from stdin to stdout, in the
//! formats and with the output of `capnp convert`.
//!
//! Every message is read through the library's framing, within [`read_options`]: a segment
//! table is checked before anything is allocated, and the segments are read into a buffer that
//! grows as their bytes arrive, so that what the input claims costs nothing until it is sent.
//! Every message is then copied once by our own checked copy ([`layout`]) before any output is
//! made, within a traversal budget tied to the message's own size ([`traversal_budget`]): a
//! message whose pointers overlap cannot make a small input into a huge output.

use capnp::message::{Builder, HeapAllocator};
use capnp::{any_pointer, Word};
use serde_capnp::framing::{self, Segments};
use serde_capnp::{Category, ReadOptions};

mod layout;
use std::io::{self, BufRead, Read, Write};

/// The message formats `capnp convert` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Binary,
    Packed,
    Flat,
    FlatPacked,
    Canonical,
    Text,
    Json,
}

impl Format {
    pub fn parse(name: &str) -> Result<Format, String> {
        Ok(match name {
            "binary" => Format::Binary,
            "packed" => Format::Packed,
            "flat" => Format::Flat,
            "flat-packed" => Format::FlatPacked,
            "canonical" => Format::Canonical,
            "text" => Format::Text,
            "json" => Format::Json,
            other => return Err(format!("unknown format: {other}")),
        })
    }

    fn needs_schema(self) -> bool {
        matches!(self, Format::Text | Format::Json)
    }

    fn name(self) -> &'static str {
        match self {
            Format::Canonical => "canonical",
            other => other.framed().name(),
        }
    }

    /// The format as the library's format guesses know it (canonical is flat to them).
    fn framed(self) -> framing::Format {
        match self {
            Format::Binary => framing::Format::Binary,
            Format::Packed => framing::Format::Packed,
            Format::Flat | Format::Canonical => framing::Format::Flat,
            Format::FlatPacked => framing::Format::FlatPacked,
            Format::Text => framing::Format::Text,
            Format::Json => framing::Format::Json,
        }
    }
}

/// How the conversion runs.
pub struct Options {
    pub from: Format,
    pub to: Format,
    /// `--short`: text and JSON on one line per message.
    pub short: bool,
    /// `--segment-size`: fixed segment size for binary output, in words.
    pub segment_size: Option<u32>,
    /// The root type, when a format needs one.
    pub root: Option<serde_capnp::StructSchema>,
}

/// How deeply objects may nest in a message being converted.
const NESTING_LIMIT: u32 = 1024;

/// The limits messages are read with. The reference lifts its limits for conversions; here the
/// traversal limit is as high as a segment table can reach, so that any message the input
/// really holds converts, while memory stays in step with the input: the framing allocates only
/// for bytes that arrive, and each message is traversed within [`traversal_budget`].
// `..default()` keeps the options complete when the library adds to them.
#[allow(clippy::needless_update)]
pub fn read_options() -> ReadOptions {
    ReadOptions {
        traversal_limit_in_words: 1 << 40,
        nesting_limit: NESTING_LIMIT,
        ..ReadOptions::default()
    }
}

/// How many words copying a message of `words` words may traverse: four times its size, plus
/// a million words for lists of empty elements, which take no room in the message. A message
/// traverses each of its words once unless its pointers overlap, and overlapping pointers are
/// how a small message would otherwise make a huge copy.
pub fn traversal_budget(words: u64) -> u64 {
    words
        .saturating_mul(4)
        .saturating_add(1 << 20)
        .min(read_options().traversal_limit_in_words)
}

/// How many bytes at the start of a message the format guesses look at (the library looks at
/// no more).
const INSPECTED_BYTES: usize = 1024;

/// Stdin, remembering the first bytes of the message being read, for a guess at its format.
struct Recorder<'a> {
    inner: &'a mut dyn BufRead,
    seen: Vec<u8>,
}

impl Recorder<'_> {
    fn restart(&mut self) {
        self.seen.clear();
    }

    /// Adds what stdin already holds beyond the bytes read, without consuming it: more to go
    /// on for a guess at the format (the library's packed readers look as far).
    fn look_ahead(&mut self) -> &[u8] {
        if let Ok(buf) = self.inner.fill_buf() {
            Self::record(&mut self.seen, buf);
        }
        &self.seen
    }

    fn record(seen: &mut Vec<u8>, bytes: &[u8]) {
        let n = bytes
            .len()
            .min(INSPECTED_BYTES - seen.len().min(INSPECTED_BYTES));
        seen.extend_from_slice(&bytes[..n]);
    }
}

impl Read for Recorder<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        Self::record(&mut self.seen, &buf[..n]);
        Ok(n)
    }
}

impl BufRead for Recorder<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        if self.seen.len() < INSPECTED_BYTES {
            // Hands back what is already buffered: no I/O.
            if let Ok(buf) = self.inner.fill_buf() {
                Self::record(&mut self.seen, &buf[..amount.min(buf.len())]);
            }
        }
        self.inner.consume(amount);
    }
}

/// Whether an error still needs a guess at the input's format.
#[derive(Clone, Copy, PartialEq)]
enum Hint {
    /// The library's readers add their own (see [`from_library`]).
    Given,
    Needed,
    /// Not about the input's bytes.
    None,
}

/// A library error, and whether the library already added a guess at the input's format: it
/// does for errors about the bytes at the root of the message.
fn from_library(e: &serde_capnp::Error) -> (String, Hint) {
    match e.category() {
        Category::Io => (format!("stdin: {e}"), Hint::None),
        Category::Schema => (e.to_string(), Hint::None),
        _ if e.path().is_empty() => (e.to_string(), Hint::Given),
        _ => (e.to_string(), Hint::Needed),
    }
}

/// `problem`, and, when the input does not look like the format it was read as but like
/// another, what it looks like and the conversion to try instead.
fn explain(opts: &Options, problem: String, hint: Hint, input: &[u8]) -> String {
    let expected = opts.from.framed();
    let guess = match hint {
        Hint::None => None,
        _ => framing::format_mismatch(input, expected),
    };
    let Some(guess) = guess else {
        return problem;
    };
    let said = match hint {
        Hint::Given => String::new(),
        _ => format!("; the input looks like {guess}, not {expected}"),
    };
    format!(
        "{problem}{said} (try `{}:{}`)",
        guess.name(),
        opts.to.name()
    )
}

/// Converts every message of `input` and writes the results to `output`.
pub fn run(opts: &Options, input: &mut dyn BufRead, output: &mut dyn Write) -> Result<(), String> {
    for f in [opts.from, opts.to] {
        if f.needs_schema() && opts.root.is_none() {
            return Err(format!(
                "format requires schema: {}",
                format!("{f:?}").to_lowercase()
            ));
        }
    }
    let options = read_options();
    let mut input = Recorder {
        inner: input,
        seen: Vec::with_capacity(INSPECTED_BYTES),
    };
    match opts.from {
        Format::Binary | Format::Packed => {
            for n in 1.. {
                input.restart();
                let read = if opts.from == Format::Binary {
                    framing::read_message(&mut input, &options)
                } else {
                    framing::read_packed_message(&mut input, &options)
                };
                let message = match read {
                    Ok(Some(message)) => message,
                    Ok(None) => break,
                    Err(e) => {
                        let (problem, hint) = from_library(&e);
                        let problem = format!("reading message {n}: {problem}");
                        // The same bytes as the library's guess went on.
                        let seen = match opts.from {
                            Format::Binary => &input.seen,
                            _ => input.look_ahead(),
                        };
                        return Err(explain(opts, problem, hint, seen));
                    }
                };
                write_conversion(opts, message, output).map_err(|(problem, hint)| {
                    let problem = format!("message {n}: {problem}");
                    explain(opts, problem, hint, input.look_ahead())
                })?;
            }
            Ok(())
        }
        Format::Flat | Format::Canonical | Format::FlatPacked => {
            let read = if opts.from == Format::FlatPacked {
                framing::read_flat_packed(&mut input, &options)
            } else {
                framing::read_flat(&mut input, &options)
            };
            let message = read.map_err(|e| {
                let (problem, hint) = from_library(&e);
                let problem = format!("reading the message: {problem}");
                explain(opts, problem, hint, input.look_ahead())
            })?;
            if input.seen.is_empty() {
                return Ok(());
            }
            write_conversion(opts, message, output)
                .map_err(|(problem, hint)| explain(opts, problem, hint, &input.seen))
        }
        Format::Text | Format::Json => {
            let root = opts.root.as_ref().expect("checked above");
            let mut bytes = Vec::new();
            input.read_to_end(&mut bytes).map_err(io_error)?;
            let fail = |problem: String| explain(opts, problem, Hint::Needed, &bytes);
            let text = std::str::from_utf8(&bytes).map_err(|e| {
                fail(format!(
                    "the input is not UTF-8: byte {} is not part of a character",
                    e.valid_up_to()
                ))
            })?;
            let messages = if opts.from == Format::Text {
                root.messages_from_text(text)
            } else {
                split_json(text)
                    .map_err(fail)?
                    .into_iter()
                    .map(|chunk| root.from_json(chunk))
                    .collect::<serde_capnp::Result<Vec<_>>>()
            }
            .map_err(|e| fail(e.to_string()))?;
            for (n, bytes) in messages.iter().enumerate() {
                let message = framing::split_exact(bytes, &options)
                    .and_then(|segments| Segments::copy_of(&segments))
                    .map_err(|e| format!("message {}: {e}", n + 1))?;
                write_conversion(opts, message, output)
                    .map_err(|(problem, _)| format!("message {}: {problem}", n + 1))?;
            }
            Ok(())
        }
    }
}

fn io_error(e: io::Error) -> String {
    format!("reading stdin: {e}")
}

/// Writes one message, given as its segments, in the output format of `opts`.
pub fn write_segments(
    opts: &Options,
    segments: Vec<Vec<u8>>,
    output: &mut dyn Write,
) -> Result<(), String> {
    let slices: Vec<&[u8]> = segments.iter().map(|s| s.as_slice()).collect();
    let message = Segments::copy_of(&slices).map_err(|e| e.to_string())?;
    write_conversion(opts, message, output).map_err(|(problem, _)| problem)
}

/// What the `capnp` crate found wrong, in our words where its own would name its internals.
fn capnp_error(e: capnp::Error) -> String {
    match e.kind {
        capnp::ErrorKind::ReadLimitExceeded => {
            "the message is too large to copy (read limit exceeded)".into()
        }
        capnp::ErrorKind::MessageIsTooDeeplyNested
        | capnp::ErrorKind::MessageIsTooDeeplyNestedOrContainsCycles
        | capnp::ErrorKind::NestingLimitExceeded => "the message is nested too deeply".into(),
        _ => serde_capnp::Error::from(e).to_string(),
    }
}

/// Writes one message in the output format of `opts`; an error says whether it is about the
/// input's bytes (and so may come from input in another format).
fn write_conversion(
    opts: &Options,
    message: Segments,
    output: &mut dyn Write,
) -> Result<(), (String, Hint)> {
    let input_fault = |e: String| (e, Hint::Needed);
    let write_fault = |e: io::Error| (format!("writing: {e}"), Hint::None);
    let root_word = message.get(0).and_then(|s| s.get(..8));
    let message = match root_word {
        None => return Err(input_fault("message has no root pointer".into())),
        // The reference reads the root as a struct, so a null root is an empty struct: the
        // pointer to nothing at offset -1.
        Some(word) if word == [0; 8] => {
            Segments::copy_of(&[&[0xfc, 0xff, 0xff, 0xff, 0, 0, 0, 0]]).map_err(|e| {
                // Unreachable: the segment is one whole word.
                (e.to_string(), Hint::None)
            })?
        }
        Some(_) => message,
    };
    let budget = traversal_budget(message.word_count());
    // Our own checked copy comes first whatever the output: it finds any fault of the message
    // in our words, within the budget, before the `capnp` crate reads it. Binary output is the
    // copy, laid out as the reference lays it out: a 1024-word first segment growing
    // heuristically, or fixed segments of `--segment-size` words.
    let mut copy = match (opts.to, opts.segment_size) {
        (Format::Binary | Format::Packed, Some(words)) => layout::Copy::new(words, true, budget),
        _ => layout::Copy::new(layout::FIRST_SEGMENT_WORDS, false, budget),
    };
    copy.root(&message.to_slices()).map_err(input_fault)?;
    #[allow(clippy::needless_update)]
    let capnp_options = ReadOptions {
        // The `capnp` crate's copies traverse the message twice (measuring, then copying).
        traversal_limit_in_words: budget.saturating_mul(2),
        nesting_limit: NESTING_LIMIT,
        ..ReadOptions::default()
    };
    let crate_fault = |e: capnp::Error| (capnp_error(e), Hint::Needed);
    match opts.to {
        Format::Binary | Format::Packed => {
            let pieces = copy.framed();
            if opts.to == Format::Binary {
                pieces.iter().try_for_each(|p| output.write_all(p))
            } else {
                // Packed piece by piece, as the reference packs: no run crosses the end of the
                // segment table or of a segment.
                pieces
                    .iter()
                    .try_for_each(|p| output.write_all(&serde_capnp::packing::pack(p)))
            }
            .map_err(write_fault)?;
        }
        Format::Flat | Format::FlatPacked => {
            let reader = message.into_capnp_reader(&capnp_options);
            let root: any_pointer::Reader<'_> = reader.get_root().map_err(crate_fault)?;
            let words = flat_words(root).map_err(crate_fault)?;
            let bytes = Word::words_to_bytes(&words);
            if opts.to == Format::Flat {
                output.write_all(bytes)
            } else {
                output.write_all(&serde_capnp::packing::pack(bytes))
            }
            .map_err(write_fault)?;
        }
        Format::Canonical => {
            let reader = message.into_capnp_reader(&capnp_options);
            let words = reader.canonicalize().map_err(crate_fault)?;
            output
                .write_all(Word::words_to_bytes(&words))
                .map_err(write_fault)?;
        }
        Format::Text | Format::Json => {
            let schema = opts.root.as_ref().expect("checked above");
            let bytes = copy.framed().concat();
            let text = match (opts.to, opts.short) {
                (Format::Text, false) => schema.to_text(&bytes),
                (Format::Text, true) => schema.to_text_short(&bytes),
                (_, false) => schema.to_json(&bytes),
                (_, true) => schema.to_json_short(&bytes),
            }
            .map_err(|e| (e.to_string(), Hint::None))?;
            output
                .write_all(text.as_bytes())
                .and_then(|()| output.write_all(b"\n"))
                .map_err(write_fault)?;
        }
    }
    Ok(())
}

/// The message copied into one segment of exactly its size, with the root pointer first: what
/// the reference writes for `flat` output.
fn flat_words(root: any_pointer::Reader<'_>) -> capnp::Result<Vec<Word>> {
    let words = u32::try_from(root.target_size()?.word_count + 1)
        .map_err(|_| capnp::Error::failed("the message is too large for one segment".into()))?;
    let mut builder = Builder::new(
        HeapAllocator::new()
            .first_segment_words(words)
            .allocation_strategy(capnp::message::AllocationStrategy::FixedSize),
    );
    builder.set_root(root)?;
    let segments = builder.get_segments_for_output();
    let mut out = Word::allocate_zeroed_vec(words as usize);
    let first = segments.first().copied().unwrap_or(&[]);
    Word::words_to_bytes_mut(&mut out)[..first.len()].copy_from_slice(first);
    Ok(out)
}

/// Splits a stream of JSON messages into one string per message: each is a balanced `{ … }`,
/// strings taken into account, and only blanks may come between them.
fn split_json(text: &str) -> Result<Vec<&str>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0u32;
    let mut start = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b if depth == 0 && b.is_ascii_whitespace() => {}
            b'{' if depth == 0 => {
                start = Some(i);
                depth = 1;
            }
            b if depth == 0 => {
                let found = match b {
                    b' '..=b'~' => format!("`{}`", b as char),
                    _ => format!("byte {b:#04x}"),
                };
                return Err(format!(
                    "JSON message {} should start with `{{` at byte {i}, found {found}",
                    out.len() + 1
                ));
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    if let Some(s) = start.take() {
                        out.push(&text[s..=i]);
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    if let Some(s) = start {
        // An unterminated message: hand it on so that the parser says what is wrong.
        out.push(&text[s..]);
    }
    Ok(out)
}
