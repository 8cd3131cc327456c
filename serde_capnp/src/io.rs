//! The byte sources the framing reads messages from: a plain reader, and a reader of packed
//! data that unpacks as it goes. Both hand out exactly the bytes asked for and never read
//! ahead of the message, so that the next message (or whatever follows) stays in the reader.
//! Both remember the first bytes of the message as they came in, for a guess at the input's
//! format when it fails to read.

use std::io::{self, BufRead, Read};

use crate::error::{Error, Result};
use crate::framing::INSPECTED_BYTES;

/// A source of message bytes.
pub(crate) trait Input {
    /// Reads bytes into `out`, filling it unless the input ends first; returns how many were
    /// read (0 only at the end of the input).
    fn fill(&mut self, out: &mut [u8]) -> Result<usize>;

    /// The first bytes of the message being read, as they came in (at most
    /// [`INSPECTED_BYTES`]).
    fn prefix(&self) -> &[u8];

    /// Checks that the message just read ends where its encoding does.
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }

    /// Adds to the prefix what the input already holds beyond it, without consuming it: more
    /// to go on for a guess at the format of a message that failed to read.
    fn look_ahead(&mut self) {}
}

/// The first bytes of a message as they came in.
pub(crate) struct Prefix {
    bytes: [u8; INSPECTED_BYTES],
    len: usize,
}

impl Prefix {
    pub(crate) fn new() -> Prefix {
        Prefix {
            bytes: [0; INSPECTED_BYTES],
            len: 0,
        }
    }

    fn record(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(INSPECTED_BYTES - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    fn get(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Adds to `prefix`, which holds the first bytes of a message, those of `bytes` it lacks:
/// `bytes` start `at` bytes into the message, and the prefix may already reach past that.
#[inline]
fn note(prefix: &mut Prefix, at: usize, bytes: &[u8]) {
    let held = prefix.len.saturating_sub(at);
    if held < bytes.len() && prefix.len < INSPECTED_BYTES {
        prefix.record(&bytes[held..]);
    }
}

/// What `inner` holds, filled if it was empty; interruptions are retried.
fn buffered<R: BufRead>(inner: &mut R) -> Result<&[u8]> {
    loop {
        match inner.fill_buf() {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(e)),
        }
    }
    // The second call only hands back what the first one buffered.
    inner.fill_buf().map_err(Error::io)
}

/// Message bytes read as they are.
pub(crate) struct Plain<R> {
    inner: R,
    prefix: Prefix,
}

impl<R: Read> Plain<R> {
    pub(crate) fn new(inner: R) -> Self {
        Plain {
            inner,
            prefix: Prefix::new(),
        }
    }
}

impl<R: Read> Input for Plain<R> {
    fn fill(&mut self, out: &mut [u8]) -> Result<usize> {
        let mut n = 0;
        while n < out.len() {
            match self.inner.read(&mut out[n..]) {
                Ok(0) => break,
                Ok(k) => {
                    self.prefix.record(&out[n..n + k]);
                    n += k;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(e)),
            }
        }
        Ok(n)
    }

    fn prefix(&self) -> &[u8] {
        self.prefix.get()
    }
}

/// Packed bytes, unpacked as they are read.
///
/// Each tag byte says which bytes of the next word are not zero, and those follow it; a tag of
/// 0 is followed by a count of further zero words, and a tag of 0xff by a count of words copied
/// as they are. Runs may cross the segment table and segment boundaries, but not the end of the
/// message.
pub(crate) struct Unpack<R> {
    inner: R,
    /// The message's first bytes as they came in: taken from the reader's buffer when the
    /// message starts, and completed from what is consumed beyond that.
    prefix: Prefix,
    /// How many bytes of the message have been consumed.
    taken: usize,
    /// A decoded word, handed out from `at` on (`at == 8`: none).
    word: [u8; 8],
    at: usize,
    /// Zero bytes of a run still to hand out.
    zeros: usize,
    /// Bytes of a verbatim run still to copy from the input.
    verbatim: usize,
    /// What to say when the input ends inside a word or a run.
    truncated: &'static str,
}

impl<R: BufRead> Unpack<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self::with_truncation_message(inner, crate::framing::TRUNCATED)
    }

    pub(crate) fn with_truncation_message(inner: R, truncated: &'static str) -> Self {
        Unpack {
            inner,
            prefix: Prefix::new(),
            taken: 0,
            word: [0; 8],
            at: 8,
            zeros: 0,
            verbatim: 0,
            truncated,
        }
    }

    fn truncated(&self) -> Error {
        Error::wire(self.truncated)
    }

    /// Consumes `n` bytes of what `fill_buf` holds.
    fn consume(&mut self, n: usize) {
        if self.prefix.len < INSPECTED_BYTES {
            // Hands back what is already buffered: no I/O, and no error.
            if let Ok(buf) = self.inner.fill_buf() {
                note(&mut self.prefix, self.taken, &buf[..n.min(buf.len())]);
            }
        }
        self.taken += n;
        self.inner.consume(n);
    }

    fn byte(&mut self) -> Result<Option<u8>> {
        let b = buffered(&mut self.inner)?.first().copied();
        if b.is_some() {
            self.consume(1);
        }
        Ok(b)
    }

    /// Decodes the next tag, its word and its run count, and returns the word; `None` at the
    /// end of the input.
    fn decode(&mut self) -> Result<Option<[u8; 8]>> {
        let buf = buffered(&mut self.inner)?;
        let Some(&tag) = buf.first() else {
            return Ok(None);
        };
        if self.taken == 0 && self.prefix.len == 0 {
            // Usually the whole start of the message, in one copy.
            self.prefix.record(buf);
        }
        let run = tag == 0 || tag == 0xff;
        let needed = 1 + tag.count_ones() as usize + usize::from(run);
        let mut word = [0u8; 8];
        let count = if buf.len() >= needed {
            // The whole group is buffered: decode it in place.
            let mut i = 1;
            let mut bits = tag;
            while bits != 0 {
                word[bits.trailing_zeros() as usize] = buf[i];
                i += 1;
                bits &= bits - 1;
            }
            let count = if run { buf[i] } else { 0 };
            note(&mut self.prefix, self.taken, &buf[..needed]);
            self.taken += needed;
            self.inner.consume(needed);
            count
        } else {
            self.consume(1);
            for (bit, b) in word.iter_mut().enumerate() {
                if tag & (1 << bit) != 0 {
                    *b = self.byte()?.ok_or_else(|| self.truncated())?;
                }
            }
            if run {
                self.byte()?.ok_or_else(|| self.truncated())?
            } else {
                0
            }
        };
        match tag {
            0 => self.zeros = usize::from(count) * 8,
            0xff => self.verbatim = usize::from(count) * 8,
            _ => {}
        }
        Ok(Some(word))
    }

    /// Whether a word or a run is still being handed out.
    fn pending(&self) -> bool {
        self.at < 8 || self.zeros > 0 || self.verbatim > 0
    }
}

impl<R: BufRead> Input for Unpack<R> {
    fn fill(&mut self, out: &mut [u8]) -> Result<usize> {
        let mut n = 0;
        while n < out.len() {
            let room = out.len() - n;
            if self.at < 8 {
                let k = room.min(8 - self.at);
                out[n..n + k].copy_from_slice(&self.word[self.at..self.at + k]);
                self.at += k;
                n += k;
            } else if self.zeros > 0 {
                let k = room.min(self.zeros);
                out[n..n + k].fill(0);
                self.zeros -= k;
                n += k;
            } else if self.verbatim > 0 {
                let verbatim = self.verbatim;
                let buf = buffered(&mut self.inner)?;
                if buf.is_empty() {
                    return Err(self.truncated());
                }
                let k = room.min(verbatim).min(buf.len());
                out[n..n + k].copy_from_slice(&buf[..k]);
                self.consume(k);
                self.verbatim -= k;
                n += k;
            } else {
                let Some(word) = self.decode()? else {
                    break;
                };
                if room >= 8 {
                    out[n..][..8].copy_from_slice(&word);
                    n += 8;
                } else {
                    self.word = word;
                    self.at = 0;
                }
            }
        }
        Ok(n)
    }

    fn prefix(&self) -> &[u8] {
        self.prefix.get()
    }

    fn look_ahead(&mut self) {
        if let Ok(buf) = self.inner.fill_buf() {
            note(&mut self.prefix, self.taken, buf);
        }
    }

    fn finish(&mut self) -> Result<()> {
        if self.pending() {
            return Err(Error::wire(
                "a packed run continues past the end of the message",
            ));
        }
        Ok(())
    }
}
