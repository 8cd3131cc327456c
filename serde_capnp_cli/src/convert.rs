//! `serde-capnp convert FROM:TO [SCHEMA TYPE]`: a stream of messages from stdin to stdout, in the
//! formats and with the output of `capnp convert`.

use capnp::message::{Builder, HeapAllocator, ReaderOptions, ReaderSegments};
use capnp::{any_pointer, serialize, serialize_packed, Word};

mod layout;
use std::io::{self, BufRead, Write};

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

/// One message in hand: its segments, owned.
struct Message {
    segments: Vec<Vec<u8>>,
}

impl ReaderSegments for Message {
    fn get_segment(&self, id: u32) -> Option<&[u8]> {
        self.segments.get(id as usize).map(|s| s.as_slice())
    }

    fn len(&self) -> usize {
        self.segments.len()
    }
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
    match opts.from {
        Format::Binary | Format::Packed => loop {
            if input.fill_buf().map_err(io_error)?.is_empty() {
                return Ok(());
            }
            let reader = if opts.from == Format::Binary {
                serialize::read_message(&mut *input, reader_options())
            } else {
                serialize_packed::read_message(&mut *input, reader_options())
            }
            .map_err(|e| format!("reading a message: {e}"))?;
            let message = owned_segments(reader)?;
            write_conversion(opts, message, output)?;
        },
        Format::Flat | Format::Canonical | Format::FlatPacked => {
            let mut bytes = Vec::new();
            input.read_to_end(&mut bytes).map_err(io_error)?;
            if bytes.is_empty() {
                return Ok(());
            }
            if opts.from == Format::FlatPacked {
                bytes = unpack(&bytes)?;
            }
            // A partial last word cannot belong to the message; the reference ignores it too.
            bytes.truncate(bytes.len() / 8 * 8);
            write_conversion(
                opts,
                Message {
                    segments: vec![bytes],
                },
                output,
            )
        }
        Format::Text | Format::Json => {
            let root = opts.root.as_ref().expect("checked above");
            let mut text = String::new();
            input.read_to_string(&mut text).map_err(io_error)?;
            let messages = if opts.from == Format::Text {
                root.messages_from_text(&text).map_err(|e| e.to_string())?
            } else {
                split_json(&text)
                    .into_iter()
                    .map(|chunk| root.from_json(chunk))
                    .collect::<serde_capnp::Result<Vec<_>>>()
                    .map_err(|e| e.to_string())?
            };
            for bytes in messages {
                let (segments, _) = split_frame(&bytes)?;
                write_conversion(opts, Message { segments }, output)?;
            }
            Ok(())
        }
    }
}

fn io_error(e: io::Error) -> String {
    format!("reading stdin: {e}")
}

/// The reference tool lifts the reading limits for conversions; a limit is still kept here so
/// that a hostile message cannot make the tool loop, but it is far above any real message.
fn reader_options() -> ReaderOptions {
    ReaderOptions {
        traversal_limit_in_words: Some(1 << 40),
        nesting_limit: 1024,
    }
}

fn owned_segments<S: ReaderSegments>(reader: capnp::message::Reader<S>) -> Result<Message, String> {
    let segments = reader.into_segments();
    let mut out = Vec::new();
    for i in 0..segments.len() as u32 {
        out.push(
            segments
                .get_segment(i)
                .ok_or("a segment is missing")?
                .to_vec(),
        );
    }
    Ok(Message { segments: out })
}

/// A framed (stream) message's segments.
fn split_frame(bytes: &[u8]) -> Result<(Vec<Vec<u8>>, usize), String> {
    let mut slice = bytes;
    let reader = serialize::read_message_from_flat_slice(&mut slice, reader_options())
        .map_err(|e| e.to_string())?;
    Ok((owned_segments(reader)?.segments, bytes.len() - slice.len()))
}

fn unpack(bytes: &[u8]) -> Result<Vec<u8>, String> {
    serde_capnp::packing::unpack(bytes).map_err(|e| format!("unpacking: {e}"))
}

/// Writes one message, given as its segments, in the output format of `opts`.
pub fn write_segments(
    opts: &Options,
    segments: Vec<Vec<u8>>,
    output: &mut dyn Write,
) -> Result<(), String> {
    write_conversion(opts, Message { segments }, output)
}

fn write_conversion(
    opts: &Options,
    mut message: Message,
    output: &mut dyn Write,
) -> Result<(), String> {
    let root_is_null = message
        .segments
        .first()
        .is_some_and(|s| s.get(..8) == Some(&[0; 8][..]));
    if root_is_null {
        // The reference reads the root as a struct, so a null root is an empty struct: the
        // pointer to nothing at offset -1.
        message.segments = vec![vec![0xfc, 0xff, 0xff, 0xff, 0, 0, 0, 0]];
    }
    let reader = capnp::message::Reader::new(message, reader_options());
    let root: any_pointer::Reader<'_> = reader
        .get_root()
        .map_err(|e| format!("reading the root: {e}"))?;
    let write_err = |e: capnp::Error| format!("writing: {e}");
    match opts.to {
        Format::Binary | Format::Packed => {
            // The message copied as the reference copies it: a 1024-word first segment
            // growing heuristically, or fixed segments of `--segment-size` words, and the
            // reference's choice of segment for each object.
            let mut copy = match opts.segment_size {
                Some(words) => layout::Copy::new(words, true),
                None => layout::Copy::new(layout::FIRST_SEGMENT_WORDS, false),
            };
            copy.root(&reader.into_segments().segments)
                .map_err(|e| format!("writing: {e}"))?;
            let pieces = copy.framed();
            let written = if opts.to == Format::Binary {
                pieces.iter().try_for_each(|p| output.write_all(p))
            } else {
                // Packed piece by piece, as the reference packs: no run crosses the end of the
                // segment table or of a segment.
                pieces
                    .iter()
                    .try_for_each(|p| output.write_all(&serde_capnp::packing::pack(p)))
            };
            written.map_err(|e| format!("writing: {e}"))?;
        }
        Format::Flat | Format::FlatPacked => {
            let words = flat_words(root)?;
            let bytes = Word::words_to_bytes(&words);
            if opts.to == Format::Flat {
                output
                    .write_all(bytes)
                    .map_err(|e| format!("writing: {e}"))?;
            } else {
                output
                    .write_all(&serde_capnp::packing::pack(bytes))
                    .map_err(|e| format!("writing: {e}"))?;
            }
        }
        Format::Canonical => {
            let words = reader.canonicalize().map_err(write_err)?;
            output
                .write_all(Word::words_to_bytes(&words))
                .map_err(|e| format!("writing: {e}"))?;
        }
        Format::Text | Format::Json => {
            let schema = opts.root.as_ref().expect("checked above");
            let mut builder = Builder::new_default();
            builder.set_root(root).map_err(write_err)?;
            let bytes = serialize::write_message_to_words(&builder);
            let text = match (opts.to, opts.short) {
                (Format::Text, false) => schema.to_text(&bytes),
                (Format::Text, true) => schema.to_text_short(&bytes),
                (_, false) => schema.to_json(&bytes),
                (_, true) => schema.to_json_short(&bytes),
            }
            .map_err(|e| e.to_string())?;
            output
                .write_all(text.as_bytes())
                .and_then(|()| output.write_all(b"\n"))
                .map_err(|e| format!("writing: {e}"))?;
        }
    }
    Ok(())
}

/// The message copied into one segment of exactly its size, with the root pointer first: what
/// the reference writes for `flat` output.
fn flat_words(root: any_pointer::Reader<'_>) -> Result<Vec<Word>, String> {
    let size = root
        .target_size()
        .map_err(|e| format!("measuring the message: {e}"))?;
    let words = size.word_count as u32 + 1;
    let mut builder = Builder::new(
        HeapAllocator::new()
            .first_segment_words(words)
            .allocation_strategy(capnp::message::AllocationStrategy::FixedSize),
    );
    builder
        .set_root(root)
        .map_err(|e| format!("copying the message: {e}"))?;
    let segments = builder.get_segments_for_output();
    let mut out = Word::allocate_zeroed_vec(words as usize);
    let first = segments.first().copied().unwrap_or(&[]);
    Word::words_to_bytes_mut(&mut out)[..first.len()].copy_from_slice(first);
    Ok(out)
}

/// Splits a stream of JSON messages into one string per message: each is a balanced `{ … }`,
/// strings taken into account.
fn split_json(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0u32;
    let mut start = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'{' => {
                if depth == 0 {
                    start = Some(i);
                }
                depth += 1;
            }
            b'}' if depth > 0 => {
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
    out
}
