//! Compiler diagnostics: where and what, rendered like the reference compiler's first line plus a
//! labelled source excerpt.

use super::ast::Span;
use std::fmt;

/// One error found while compiling, located in a source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file's name as the compiler knows it (the name given, or the import path).
    pub file: String,
    /// 1-based line of the start of the span (0 when the error has no location).
    pub line: u32,
    /// 1-based column of the start of the span, in bytes (as the reference compiler counts).
    pub column: u32,
    /// 1-based column one past the end of the span, when the span ends on the same line.
    pub end_column: Option<u32>,
    /// Byte range in the file.
    pub span: Span,
    /// The message, in the reference compiler's wording where there is one.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    /// `file:LINE:COL-ENDCOL: error: message`, the reference compiler's format.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(f, "{}: error: {}", self.file, self.message);
        }
        match self.end_column {
            None => write!(f, "{}:{}", self.file, self.line)?,
            Some(end) if end == self.column => {
                write!(f, "{}:{}:{}", self.file, self.line, self.column)?
            }
            Some(end) => write!(f, "{}:{}:{}-{}", self.file, self.line, self.column, end)?,
        }
        write!(f, ": error: {}", self.message)
    }
}

/// Line starts of one file, to turn byte offsets into lines and columns.
#[derive(Debug, Clone)]
pub(crate) struct LineIndex {
    starts: Vec<u32>,
}

impl LineIndex {
    pub fn new(source: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            source
                .bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i as u32 + 1),
        );
        LineIndex { starts }
    }

    /// 0-based line and 0-based byte column of a byte offset.
    pub fn position(&self, source: &str, offset: u32) -> (u32, u32) {
        let offset = offset.min(source.len() as u32);
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        (line as u32, offset - self.starts[line])
    }

    pub fn diagnostic(&self, file: &str, source: &str, span: Span, message: String) -> Diagnostic {
        let (line, column) = self.position(source, span.start);
        let (end_line, end_column) = self.position(source, span.end.max(span.start));
        Diagnostic {
            file: file.to_string(),
            line: line + 1,
            column: column + 1,
            end_column: (end_line == line).then_some(end_column + 1),
            span,
            message,
        }
    }
}

/// How many diagnostics [`render`] shows; it counts the others in a closing line,
/// `and N more errors`.
pub(crate) const RENDER_LIMIT: usize = 100;

/// The most bytes of a source line an excerpt shows: a longer line is cut to a window around the
/// error's column, with `…` on each side that was cut.
pub(crate) const EXCERPT_WIDTH: usize = 120;

/// How much of the window lies before the error's column when a line is cut.
const LEAD: usize = EXCERPT_WIDTH / 3;

/// Renders diagnostics with a labelled excerpt of the source, for terminals and logs.
///
/// The work and the output are bounded by [`RENDER_LIMIT`] and [`EXCERPT_WIDTH`], not by the
/// number of errors or the length of the lines: each excerpt is cut from its line alone.
pub fn render<'s>(
    diagnostics: &[Diagnostic],
    source_of: &dyn Fn(&str) -> Option<&'s str>,
) -> String {
    use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
    use codespan_reporting::term::{self, Config};

    let config = Config::default();
    let mut out = String::new();
    for d in diagnostics.iter().take(RENDER_LIMIT) {
        out.push_str(&d.to_string());
        out.push('\n');
        if d.line == 0 {
            continue;
        }
        let Some(excerpt) = source_of(&d.file).map(|source| Excerpt::cut(d, source)) else {
            continue;
        };
        let diagnostic =
            CsDiagnostic::error().with_labels(vec![
                Label::primary((), excerpt.label.clone()).with_message(shorten(&d.message))
            ]);
        if let Ok(text) = term::emit_into_string(&config, &excerpt, &diagnostic) {
            out.extend(text.lines().skip(1).map(|l| format!("{l}\n")));
        }
    }
    let hidden = diagnostics.len().saturating_sub(RENDER_LIMIT);
    if hidden > 0 {
        let s = if hidden == 1 { "" } else { "s" };
        out.push_str(&format!("and {hidden} more error{s}\n"));
    }
    out
}

/// A label message of at most [`EXCERPT_WIDTH`] characters; the full one heads the diagnostic.
fn shorten(message: &str) -> String {
    match message.char_indices().nth(EXCERPT_WIDTH) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_string(),
    }
}

/// The part of one source line shown for a diagnostic, as a one-line file for
/// `codespan_reporting` that reports the real file name, line and (byte) column.
struct Excerpt<'a> {
    name: &'a str,
    line: usize,
    /// 0-based byte column in the real line of `text[skip]`.
    first_column: usize,
    /// Bytes of `text` before the source (the leading `…`).
    skip: usize,
    text: String,
    /// The label's byte range in `text`.
    label: std::ops::Range<usize>,
}

impl<'a> Excerpt<'a> {
    fn cut(d: &'a Diagnostic, source: &str) -> Self {
        let floor = |mut i: usize| {
            i = i.min(source.len());
            while !source.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let start = floor(d.span.start as usize);
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let mut line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        if line_end > start && source.as_bytes()[line_end - 1] == b'\r' {
            line_end -= 1;
        }
        let (from, to) = if line_end - line_start <= EXCERPT_WIDTH {
            (line_start, line_end)
        } else {
            let from = floor(start.saturating_sub(LEAD).max(line_start));
            (from, floor((from + EXCERPT_WIDTH).min(line_end)).max(start))
        };
        // A span that runs past the window (or onto later lines) is marked to the window's end.
        let end = floor((d.span.end as usize).clamp(start, to));
        let mut text = String::with_capacity(to - from + 8);
        if from > line_start {
            text.push('…');
        }
        let skip = text.len();
        // Control characters would act on the terminal: show them as `?`, byte for byte, so the
        // offsets stay put.
        for c in source[from..to].chars() {
            if c.is_control() && c != '\t' {
                text.extend(std::iter::repeat_n('?', c.len_utf8()));
            } else {
                text.push(c);
            }
        }
        if to < line_end {
            text.push('…');
        }
        Excerpt {
            name: &d.file,
            line: d.line as usize,
            first_column: from - line_start,
            skip,
            text,
            label: skip + (start - from)..skip + (end - from),
        }
    }
}

impl<'e> codespan_reporting::files::Files<'e> for Excerpt<'_> {
    type FileId = ();
    type Name = &'e str;
    type Source = &'e str;

    fn name(&'e self, (): ()) -> Result<&'e str, codespan_reporting::files::Error> {
        Ok(self.name)
    }

    fn source(&'e self, (): ()) -> Result<&'e str, codespan_reporting::files::Error> {
        Ok(&self.text)
    }

    fn line_index(&'e self, (): (), _: usize) -> Result<usize, codespan_reporting::files::Error> {
        Ok(0)
    }

    fn line_number(&'e self, (): (), _: usize) -> Result<usize, codespan_reporting::files::Error> {
        Ok(self.line)
    }

    fn column_number(
        &'e self,
        (): (),
        _: usize,
        byte_index: usize,
    ) -> Result<usize, codespan_reporting::files::Error> {
        Ok(self.first_column + byte_index.saturating_sub(self.skip) + 1)
    }

    fn line_range(
        &'e self,
        (): (),
        _: usize,
    ) -> Result<std::ops::Range<usize>, codespan_reporting::files::Error> {
        Ok(0..self.text.len())
    }
}
