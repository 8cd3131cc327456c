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

/// Renders diagnostics with a labelled excerpt of the source, for terminals and logs.
pub fn render(diagnostics: &[Diagnostic], source_of: &dyn Fn(&str) -> Option<String>) -> String {
    use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
    use codespan_reporting::files::SimpleFiles;
    use codespan_reporting::term::{self, Config};

    let mut files = SimpleFiles::new();
    let mut ids = std::collections::HashMap::new();
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&d.to_string());
        out.push('\n');
        if d.line == 0 {
            continue;
        }
        let id = *ids
            .entry(d.file.clone())
            .or_insert_with(|| source_of(&d.file).map(|source| files.add(d.file.clone(), source)));
        let Some(id) = id else { continue };
        let diagnostic = CsDiagnostic::error().with_labels(vec![Label::primary(
            id,
            d.span.start as usize..d.span.end.max(d.span.start) as usize,
        )
        .with_message(d.message.clone())]);
        if let Ok(text) = term::emit_into_string(&Config::default(), &files, &diagnostic) {
            out.extend(text.lines().skip(1).map(|l| format!("{l}\n")));
        }
    }
    out
}
