//! The lexer: `.capnp` source text to a flat list of tokens.
//!
//! The reference compiler lexes into nested statements; here the token list stays flat and the
//! parser finds statement boundaries itself, which lets it recover from unbalanced brackets.
//! Doc comments are the one piece of layout the parser cannot see, so the lexer attaches them to
//! the `;`, `{` and `}` tokens they follow.

use super::ast::Span;
use super::parse::SyntaxError;

/// What a token is, with its value where it has one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Tok {
    /// `[A-Za-z_][A-Za-z0-9_]*`; the text is the token's span.
    Ident,
    /// A string literal; the index of its decoded bytes in [`Lexed::strings`].
    Str(u32),
    /// `0x"…"`; the index of its bytes in [`Lexed::binaries`].
    Binary(u32),
    /// An integer literal.
    Int(u64),
    /// A float literal.
    Float(f64),
    /// A run of operator characters (`!$%&*+-./:<=>?@^|~`), e.g. `@`, `:`, `->`, `$`; the text is
    /// the token's span.
    Op,
    /// `(`.
    LParen,
    /// `)`.
    RParen,
    /// `[`.
    LBracket,
    /// `]`.
    RBracket,
    /// `{`.
    LBrace,
    /// `}`.
    RBrace,
    /// `,`.
    Comma,
    /// `;`.
    Semi,
    /// Something the lexer already reported an error for.
    Invalid,
}

/// One token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Token {
    /// What it is.
    pub tok: Tok,
    /// Where it is.
    pub span: Span,
    /// On `;`, `{` and `}`: the index in [`Lexed::docs`] of the doc comment that follows.
    pub doc: Option<u32>,
}

/// The lexer's output.
#[derive(Debug, Default)]
pub(crate) struct Lexed {
    /// The tokens, in source order.
    pub tokens: Vec<Token>,
    /// Decoded string literals, indexed by [`Tok::Str`]. Bytes, not text: escapes such as `\xff`
    /// may make a literal invalid UTF-8, which is fine where it is used as `Data`.
    pub strings: Vec<Vec<u8>>,
    /// Binary literals, indexed by [`Tok::Binary`].
    pub binaries: Vec<Vec<u8>>,
    /// Doc comments, indexed by [`Token::doc`].
    pub docs: Vec<String>,
    /// Lexical errors; each one's span is also covered by a [`Tok::Invalid`] token or skipped.
    pub errors: Vec<SyntaxError>,
}

/// Lexes a whole file. `source` must be shorter than 4 GiB (spans are `u32`).
pub(crate) fn lex(source: &str) -> Lexed {
    let mut lexer = Lexer {
        src: source.as_bytes(),
        text: source,
        pos: 0,
        out: Lexed::default(),
    };
    lexer.run();
    lexer.out
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_op_char(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$'
            | b'%'
            | b'&'
            | b'*'
            | b'+'
            | b'-'
            | b'.'
            | b'/'
            | b':'
            | b'<'
            | b'='
            | b'>'
            | b'?'
            | b'@'
            | b'^'
            | b'|'
            | b'~'
    )
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Whitespace that does not end a line; doc comments may not skip a blank line.
fn is_line_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | 0x0b | 0x0c)
}

/// A character a number may not run into: `1x`, `1_000` and `1.2.3` are all errors, not two
/// tokens, as in the reference lexer.
fn ends_number_badly(b: Option<u8>) -> bool {
    matches!(b, Some(b) if is_ident_char(b) || b == b'.')
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A character as an error message shows it: invisible ones escaped.
fn show_char(c: char) -> String {
    if c.is_control() || c.is_whitespace() {
        c.escape_debug().to_string()
    } else {
        c.to_string()
    }
}

const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

struct Lexer<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    out: Lexed,
}

impl Lexer<'_> {
    fn peek_at(&self, i: usize) -> Option<u8> {
        self.src.get(i).copied()
    }

    fn span(start: usize, end: usize) -> Span {
        // The caller guarantees the source fits in u32, so these never truncate.
        Span::new(start as u32, end as u32)
    }

    fn error(&mut self, start: usize, end: usize, message: impl Into<String>) {
        self.out.errors.push(SyntaxError {
            span: Self::span(start, end),
            message: message.into(),
        });
    }

    fn push(&mut self, tok: Tok, start: usize) {
        self.out.tokens.push(Token {
            tok,
            span: Self::span(start, self.pos),
            doc: None,
        });
    }

    fn run(&mut self) {
        loop {
            self.skip_space_and_comments();
            let start = self.pos;
            let Some(b) = self.peek_at(start) else { break };
            match b {
                b'(' | b')' | b'[' | b']' | b',' => {
                    self.pos += 1;
                    let tok = match b {
                        b'(' => Tok::LParen,
                        b')' => Tok::RParen,
                        b'[' => Tok::LBracket,
                        b']' => Tok::RBracket,
                        _ => Tok::Comma,
                    };
                    self.push(tok, start);
                }
                b';' | b'{' | b'}' => {
                    self.pos += 1;
                    let tok = match b {
                        b';' => Tok::Semi,
                        b'{' => Tok::LBrace,
                        _ => Tok::RBrace,
                    };
                    self.push(tok, start);
                    self.doc_comment();
                }
                b'"' => self.string(),
                b'0' if self.peek_at(start + 1) == Some(b'x')
                    && self.peek_at(start + 2) == Some(b'"') =>
                {
                    self.binary()
                }
                b'0'..=b'9' => self.number(),
                _ if is_ident_start(b) => {
                    while self.peek_at(self.pos).is_some_and(is_ident_char) {
                        self.pos += 1;
                    }
                    self.push(Tok::Ident, start);
                }
                _ if is_op_char(b) => {
                    while self.peek_at(self.pos).is_some_and(is_op_char) {
                        self.pos += 1;
                    }
                    self.push(Tok::Op, start);
                }
                _ => self.stray_characters(),
            }
        }
    }

    fn skip_space_and_comments(&mut self) {
        loop {
            match self.peek_at(self.pos) {
                Some(b) if is_space(b) => self.pos += 1,
                Some(b'#') => self.skip_line(),
                // A byte-order mark counts as whitespace anywhere, so concatenated files work.
                Some(0xef) if self.src[self.pos..].starts_with(UTF8_BOM) => self.pos += 3,
                _ => return,
            }
        }
    }

    /// Skips to just past the next `\n` (or to the end).
    fn skip_line(&mut self) {
        match self.src[self.pos..].iter().position(|&b| b == b'\n') {
            Some(i) => self.pos += i + 1,
            None => self.pos = self.src.len(),
        }
    }

    /// After `;`, `{` or `}`: comment lines on the same line or starting on the next one, with no
    /// blank line in between, document the statement.
    fn doc_comment(&mut self) {
        let mut p = self.pos;
        while self.peek_at(p).is_some_and(is_line_space) {
            p += 1;
        }
        match self.peek_at(p) {
            Some(b'\n') => p += 1,
            Some(b'\r') => {
                p += 1;
                if self.peek_at(p) == Some(b'\n') {
                    p += 1;
                }
            }
            _ => {}
        }
        let mut doc = String::new();
        loop {
            let mut q = p;
            while self.peek_at(q).is_some_and(is_line_space) {
                q += 1;
            }
            if self.peek_at(q) != Some(b'#') {
                break;
            }
            q += 1;
            if self.peek_at(q) == Some(b' ') {
                q += 1;
            }
            let line_end = self.src[q..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(self.src.len(), |i| q + i);
            // `\r` is kept, as the reference does; `q` and `line_end` sit on ASCII bytes, so the
            // slice is on char boundaries.
            doc.push_str(&self.text[q..line_end]);
            doc.push('\n');
            p = (line_end + 1).min(self.src.len());
        }
        if !doc.is_empty() {
            self.pos = p;
            let index = self.out.docs.len() as u32;
            self.out.docs.push(doc);
            if let Some(last) = self.out.tokens.last_mut() {
                last.doc = Some(index);
            }
        }
    }

    /// A run of characters that start no token: one error for the whole run.
    fn stray_characters(&mut self) {
        let start = self.pos;
        let first = self.text[start..].chars().next().unwrap_or('\u{fffd}');
        let mut end = start;
        while let Some(c) = self.text[end..].chars().next() {
            let ascii_ok = c.is_ascii()
                && (is_space(c as u8)
                    || is_ident_start(c as u8)
                    || c.is_ascii_digit()
                    || is_op_char(c as u8)
                    || b"()[]{},;\"#".contains(&(c as u8)));
            if ascii_ok || (c == '\u{feff}') {
                break;
            }
            end += c.len_utf8();
        }
        // The loop always takes at least `first`, which is not an acceptable start.
        end = end.max(start + first.len_utf8());
        self.pos = end;
        let message = if first == '\0' {
            "unexpected NUL character; Cap'n Proto schema files must be UTF-8 text".to_string()
        } else {
            format!("unexpected character `{}`", show_char(first))
        };
        self.error(start, end, message);
        self.push(Tok::Invalid, start);
    }

    fn number(&mut self) {
        let start = self.pos;
        let src = self.src;
        let digits_end = |mut p: usize, ok: fn(u8) -> bool| {
            while src.get(p).copied().is_some_and(ok) {
                p += 1;
            }
            p
        };

        if src[start] == b'0' && self.peek_at(start + 1) == Some(b'x') {
            let end = digits_end(start + 2, |b| b.is_ascii_hexdigit());
            if end == start + 2 {
                return self.bad_number(start, "expected hexadecimal digits after `0x`");
            }
            self.pos = end;
            return self.integer(start, start + 2, 16);
        }

        let int_end = digits_end(start, |b| b.is_ascii_digit());
        let mut end = int_end;
        let mut is_float = false;
        if self.peek_at(end) == Some(b'.') {
            is_float = true;
            end = digits_end(end + 1, |b| b.is_ascii_digit());
        }
        let mut exponent_digits = true;
        if matches!(self.peek_at(end), Some(b'e' | b'E')) {
            is_float = true;
            end += 1;
            if matches!(self.peek_at(end), Some(b'+' | b'-')) {
                end += 1;
            }
            let digits_start = end;
            end = digits_end(end, |b| b.is_ascii_digit());
            exponent_digits = end > digits_start;
        }
        self.pos = end;
        if !exponent_digits {
            // The reference's lexer takes `1e` but its conversion then fails (it aborts).
            return self.bad_number(start, "expected digits after the exponent's `e`");
        }
        if is_float {
            return self.float(start, int_end);
        }
        if src[start] == b'0' {
            if src[start..end].iter().any(|&b| b > b'7') {
                return self.bad_number(start, "invalid digit in octal literal");
            }
            self.integer(start, start, 8)
        } else {
            self.integer(start, start, 10)
        }
    }

    /// Reports a malformed number and swallows the rest of it, so `12abc` is one error.
    fn bad_number(&mut self, start: usize, message: &str) {
        let mut end = self.pos.max(start + 1);
        while self
            .peek_at(end)
            .is_some_and(|b| is_ident_char(b) || b == b'.')
        {
            end += 1;
        }
        self.pos = end;
        self.error(start, end, message);
        self.push(Tok::Invalid, start);
    }

    fn integer(&mut self, start: usize, digits_start: usize, radix: u64) {
        if ends_number_badly(self.peek_at(self.pos)) {
            return self.bad_number(start, "invalid number");
        }
        let mut value: u64 = 0;
        for &b in &self.src[digits_start..self.pos] {
            let digit = u64::from(hex_value(b).unwrap_or(0));
            // The reference compiler keeps the low 64 bits of a literal too big for 64 bits; so
            // do we, so that the same schemas compile to the same values.
            value = value.wrapping_mul(radix).wrapping_add(digit);
        }
        self.push(Tok::Int(value), start);
    }

    fn float(&mut self, start: usize, int_end: usize) {
        if ends_number_badly(self.peek_at(self.pos)) {
            return self.bad_number(start, "invalid number");
        }
        // The reference accepts `1.`; Rust's parser wants a digit after the point.
        let text = &self.text[start..self.pos];
        let mut buf = String::with_capacity(text.len() + 1);
        let rest = match text[int_end - start..].strip_prefix('.') {
            Some(rest) => {
                buf.push_str(&text[..=int_end - start]);
                if !rest.starts_with(|c: char| c.is_ascii_digit()) {
                    buf.push('0');
                }
                rest
            }
            None => {
                buf.push_str(&text[..int_end - start]);
                &text[int_end - start..]
            }
        };
        buf.push_str(rest);
        match buf.parse::<f64>() {
            Ok(value) => self.push(Tok::Float(value), start),
            Err(_) => {
                self.error(start, self.pos, "invalid number");
                self.push(Tok::Invalid, start);
            }
        }
    }

    fn string(&mut self) {
        let start = self.pos;
        let mut p = start + 1;
        let mut bytes: Vec<u8> = Vec::new();
        let mut chunk_start = p;
        let mut ok = true;
        loop {
            match self.peek_at(p) {
                None | Some(b'\n') => {
                    self.pos = p;
                    self.error(start, p, "unterminated string literal");
                    return self.push(Tok::Invalid, start);
                }
                Some(b'"') => {
                    bytes.extend_from_slice(&self.src[chunk_start..p]);
                    p += 1;
                    break;
                }
                Some(b'\\') => {
                    bytes.extend_from_slice(&self.src[chunk_start..p]);
                    let (value, len) = self.escape(p + 1);
                    match value {
                        Some(v) => bytes.push(v),
                        None => {
                            ok = false;
                            let bad = self.text[p + 1..].chars().next();
                            let shown = bad.map_or(String::new(), show_char);
                            let end = p + 1 + bad.map_or(0, char::len_utf8);
                            self.error(p, end, format!("invalid escape sequence `\\{shown}`"));
                        }
                    }
                    p += 1 + len;
                    chunk_start = p;
                }
                Some(_) => p += 1,
            }
        }
        self.pos = p;
        if !ok {
            return self.push(Tok::Invalid, start);
        }
        let index = self.out.strings.len() as u32;
        self.out.strings.push(bytes);
        self.push(Tok::Str(index), start);
    }

    /// Decodes the escape whose character is at `p` (just past the `\`): the byte it stands for
    /// (`None` if invalid) and how many bytes it spans after the `\`.
    fn escape(&self, p: usize) -> (Option<u8>, usize) {
        let Some(c) = self.peek_at(p) else {
            return (None, 0);
        };
        let simple = match c {
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(0x0b),
            b'\'' | b'"' | b'\\' | b'?' => Some(c),
            _ => None,
        };
        if simple.is_some() {
            return (simple, 1);
        }
        if c == b'x' {
            let hi = self.peek_at(p + 1).and_then(hex_value);
            let lo = self.peek_at(p + 2).and_then(hex_value);
            return match (hi, lo) {
                (Some(hi), Some(lo)) => (Some(hi << 4 | lo), 3),
                // Invalid; do not swallow the closing quote or a newline.
                _ => (None, 1),
            };
        }
        if (b'0'..=b'7').contains(&c) {
            let mut value: u32 = 0;
            let mut len = 0;
            while len < 3
                && self
                    .peek_at(p + len)
                    .is_some_and(|b| (b'0'..=b'7').contains(&b))
            {
                value = value << 3 | u32::from(self.src[p + len] - b'0');
                len += 1;
            }
            // Like the reference (a C `char`), `\777` keeps the low eight bits.
            return (Some(value as u8), len);
        }
        // Any other character: report it and skip it, unless it ends the literal or line.
        let len = match c {
            b'"' | b'\n' => 0,
            _ => self.text[p..].chars().next().map_or(1, char::len_utf8),
        };
        (None, len)
    }

    /// `0x"0a 1b"`: pairs of hex digits, whitespace between the pairs.
    fn binary(&mut self) {
        let start = self.pos;
        let mut p = start + 3;
        let mut bytes = Vec::new();
        // On a problem: the message, and whether `p` is still inside the literal (so the rest of
        // it should be skipped rather than lexed as a cascade of other errors).
        let problem = loop {
            while self.peek_at(p).is_some_and(is_space) {
                p += 1;
            }
            match self.peek_at(p) {
                Some(b'"') => {
                    p += 1;
                    if bytes.is_empty() {
                        break Some(("binary literal must contain at least one byte", false));
                    }
                    break None;
                }
                None => break Some(("unterminated binary literal", false)),
                Some(b) => match (hex_value(b), self.peek_at(p + 1).and_then(hex_value)) {
                    (Some(hi), Some(lo)) => {
                        bytes.push(hi << 4 | lo);
                        p += 2;
                    }
                    (Some(_), None) => {
                        break Some(("binary literal digits must come in pairs", true));
                    }
                    (None, _) => break Some(("invalid character in binary literal", true)),
                },
            }
        };
        if let Some((message, inside)) = problem {
            if inside {
                // Resume after the closing quote if it is on this line, else at the line's end.
                let rest = &self.src[p..];
                p = match rest.iter().position(|&b| b == b'"' || b == b'\n') {
                    Some(i) if rest[i] == b'"' => p + i + 1,
                    Some(i) => p + i,
                    None => self.src.len(),
                };
            }
            self.pos = p;
            self.error(start, p, message);
            return self.push(Tok::Invalid, start);
        }
        self.pos = p;
        let index = self.out.binaries.len() as u32;
        self.out.binaries.push(bytes);
        self.push(Tok::Binary(index), start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        let lexed = lex(src);
        assert!(lexed.errors.is_empty(), "{:?}", lexed.errors);
        lexed.tokens.iter().map(|t| t.tok).collect()
    }

    fn texts(src: &str) -> Vec<&str> {
        lex(src)
            .tokens
            .iter()
            .map(|t| &src[t.span.start as usize..t.span.end as usize])
            .collect()
    }

    fn errors(src: &str) -> Vec<String> {
        lex(src).errors.into_iter().map(|e| e.message).collect()
    }

    #[test]
    fn token_kinds_and_spans() {
        let src = "foo @0 :List(Int32) = [1, 2]; # c\n{ } ->";
        assert_eq!(
            texts(src),
            [
                "foo", "@", "0", ":", "List", "(", "Int32", ")", "=", "[", "1", ",", "2", "]", ";",
                "{", "}", "->"
            ]
        );
        let t = toks(src);
        assert_eq!(t[0], Tok::Ident);
        assert_eq!(t[2], Tok::Int(0));
        assert_eq!(t[5], Tok::LParen);
        assert_eq!(t[14], Tok::Semi);
        assert_eq!(lex(src).tokens[17].span, Span::new(38, 40));
    }

    #[test]
    fn operators_are_greedy_like_the_reference() {
        assert_eq!(
            texts("x=-1 $a.b @0!:"),
            ["x", "=-", "1", "$", "a", ".", "b", "@", "0", "!:"]
        );
    }

    #[test]
    fn integers() {
        assert_eq!(
            toks("0 7 010 0x1F 0xffffffffffffffff 18446744073709551615"),
            [
                Tok::Int(0),
                Tok::Int(7),
                Tok::Int(8),
                Tok::Int(31),
                Tok::Int(u64::MAX),
                Tok::Int(u64::MAX)
            ]
        );
        assert_eq!(toks("18446744073709551616"), [Tok::Int(0)]);
        assert_eq!(toks("0x1ffffffffffffffff"), [Tok::Int(u64::MAX)]);
        assert_eq!(errors("08"), ["invalid digit in octal literal"]);
        assert_eq!(errors("12abc"), ["invalid number"]);
        assert_eq!(errors("0x"), ["expected hexadecimal digits after `0x`"]);
        assert_eq!(errors("0X1"), ["invalid number"]);
        // Each bad number is one error and one invalid token.
        assert_eq!(lex("1_000 x").tokens.len(), 2);
    }

    #[test]
    fn floats() {
        assert_eq!(
            toks("1.5 1e3 2.5e-2 1. 1.e2 0.25 09.5 1E+2"),
            [
                Tok::Float(1.5),
                Tok::Float(1000.0),
                Tok::Float(0.025),
                Tok::Float(1.0),
                Tok::Float(100.0),
                Tok::Float(0.25),
                Tok::Float(9.5),
                Tok::Float(100.0)
            ]
        );
        assert_eq!(toks("1e999"), [Tok::Float(f64::INFINITY)]);
        assert_eq!(errors("1.2.3"), ["invalid number"]);
        assert_eq!(errors("1.5x"), ["invalid number"]);
        assert_eq!(errors("1e x"), ["expected digits after the exponent's `e`"]);
        assert_eq!(
            errors("1.5e+ x"),
            ["expected digits after the exponent's `e`"]
        );
    }

    #[test]
    fn strings_and_escapes() {
        let lexed = lex(r#""a\tb\n\"q\" \\ \x41\101\0\?\' é""#);
        assert!(lexed.errors.is_empty(), "{:?}", lexed.errors);
        assert_eq!(lexed.strings, ["a\tb\n\"q\" \\ AA\0?' é".as_bytes()]);
        // Escapes are bytes, whether or not they form UTF-8.
        let lexed = lex(r#""\xc3\xa9\xff\777""#);
        assert_eq!(lexed.strings, [b"\xc3\xa9\xff\xff"]);
        assert_eq!(errors(r#""a\qb" x"#), ["invalid escape sequence `\\q`"]);
        assert_eq!(errors(r#""\x4" x"#), ["invalid escape sequence `\\x`"]);
        assert_eq!(errors("\"abc\nx"), ["unterminated string literal"]);
        assert_eq!(errors("\"abc"), ["unterminated string literal"]);
        assert_eq!(
            errors("\"abc\\"),
            [
                "invalid escape sequence `\\`",
                "unterminated string literal"
            ]
        );
        // After an unterminated string the next line lexes normally.
        assert_eq!(lex("\"abc\nx;").tokens.len(), 3);
    }

    #[test]
    fn binary_literals() {
        let lexed = lex("0x\"0a 1B\n ff\" 0x\"00\"");
        assert!(lexed.errors.is_empty(), "{:?}", lexed.errors);
        assert_eq!(lexed.binaries, [vec![0x0a, 0x1b, 0xff], vec![0]]);
        assert_eq!(
            errors("0x\"\""),
            ["binary literal must contain at least one byte"]
        );
        assert_eq!(
            errors("0x\"0 a\" x"),
            ["binary literal digits must come in pairs"]
        );
        assert_eq!(
            errors("0x\"zz\" x"),
            ["invalid character in binary literal"]
        );
        assert_eq!(errors("0x\"00"), ["unterminated binary literal"]);
        // The bad literal is skipped through its closing quote.
        assert_eq!(texts("0x\"zz\" x"), ["0x\"zz\"", "x"]);
    }

    #[test]
    fn comments_boms_and_stray_characters() {
        assert_eq!(texts("\u{feff}a # comment ; {\n\u{feff}b"), ["a", "b"]);
        assert_eq!(errors("a é€ b"), ["unexpected character `é`"]);
        assert_eq!(
            errors("a \0 b"),
            ["unexpected NUL character; Cap'n Proto schema files must be UTF-8 text"]
        );
        assert_eq!(
            errors("'x'"),
            ["unexpected character `'`", "unexpected character `'`"]
        );
    }

    fn doc_of(src: &str, token_index: usize) -> Option<String> {
        let lexed = lex(src);
        lexed.tokens[token_index]
            .doc
            .map(|i| lexed.docs[i as usize].clone())
    }

    #[test]
    fn doc_comments() {
        // Same line, then continuation lines; one optional space after `#` is removed.
        assert_eq!(
            doc_of("a; # one\n  #two\n#  three\nb;", 1).as_deref(),
            Some("one\ntwo\n three\n")
        );
        // Starting on the next line.
        assert_eq!(doc_of("a;\n  # next\nb;", 1).as_deref(), Some("next\n"));
        // Not after a blank line.
        assert_eq!(doc_of("a;\n\n# far\nb;", 1), None);
        // A blank line ends it.
        assert_eq!(doc_of("a; # one\n\n# two\nb;", 1).as_deref(), Some("one\n"));
        // CRLF: the `\r` stays, as in the reference.
        assert_eq!(doc_of("a;\r\n# x\r\nb;", 1).as_deref(), Some("x\r\n"));
        // At end of file without a newline.
        assert_eq!(doc_of("a; # end", 1).as_deref(), Some("end\n"));
        // After braces.
        assert_eq!(
            doc_of("s {\n  # inner\n}  # late\n", 1).as_deref(),
            Some("inner\n")
        );
        assert_eq!(
            doc_of("s {\n  # inner\n}  # late\n", 2).as_deref(),
            Some("late\n")
        );
        // A comment elsewhere is not kept.
        assert_eq!(lex("# top\na # x\n;").docs.len(), 0);
    }
}
