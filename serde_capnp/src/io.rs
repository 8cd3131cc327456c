//! Keeps the reader's own I/O errors, which the `capnp` crate's framing code would otherwise
//! flatten into its own error type (losing the kind: a reset connection would look like bad data).

use std::io::{self, BufRead, Read};

use crate::error::Error;

pub(crate) struct Recording<R> {
    inner: R,
    error: Option<io::Error>,
}

impl<R> Recording<R> {
    pub(crate) fn new(inner: R) -> Self {
        Recording { inner, error: None }
    }

    /// The error to report for a failed read: the reader's own, when it failed.
    pub(crate) fn error(&mut self, e: capnp::Error) -> Error {
        match self.error.take() {
            Some(io) => Error::io(io),
            None => e.into(),
        }
    }

    fn record(&mut self, e: io::Error) -> io::Error {
        let copy = io::Error::new(e.kind(), e.to_string());
        self.error = Some(e);
        copy
    }
}

impl<R: Read> Read for Recording<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Err(e) if e.kind() != io::ErrorKind::Interrupted => Err(self.record(e)),
            other => other,
        }
    }
}

impl<R: BufRead> BufRead for Recording<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        // Two steps, so that the borrow of `inner` ends before an error is recorded.
        if let Err(e) = self.inner.fill_buf() {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(self.record(e));
            }
            return Err(e);
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount)
    }
}
