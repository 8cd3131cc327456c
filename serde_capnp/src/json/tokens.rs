//! The JSON tokenizer, with the reference's leniencies (C integer and float syntax in strings).

use super::*;

/// One JSON value's start: scalars whole, arrays and objects by their opening bracket.
pub(super) enum Tok<'j> {
    Null,
    Bool(bool),
    Num(&'j str),
    Str(Cow<'j, str>),
    Arr,
    Obj,
}

impl Tok<'_> {
    pub(super) fn describe(&self) -> &'static str {
        match self {
            Tok::Null => "null",
            Tok::Bool(_) => "a boolean",
            Tok::Num(_) => "a number",
            Tok::Str(_) => "a string",
            Tok::Arr => "an array",
            Tok::Obj => "an object",
        }
    }
}

/// The grammar the reference parser accepts: standard JSON, except that a number may end in a
/// bare `.` (`1.`) and that strings may hold raw control characters.
pub(super) struct Parser<'j> {
    pub(super) src: &'j str,
    pub(super) b: &'j [u8],
    pub(super) pos: usize,
    pub(super) depth: u32,
}

impl<'j> Parser<'j> {
    pub(super) fn err(&self, what: &str) -> Error {
        Error::data(format!("invalid JSON at byte {}: {what}", self.pos))
    }

    #[inline]
    pub(super) fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.pos) {
            self.pos += 1;
        }
    }

    pub(super) fn nest(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_JSON_NESTING {
            return Err(self.err("nested too deeply"));
        }
        Ok(())
    }

    pub(super) fn literal(&mut self, word: &str, tok: Tok<'j>) -> Result<Tok<'j>> {
        if self.b[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(tok)
        } else {
            Err(self.err("unexpected character"))
        }
    }

    pub(super) fn token(&mut self) -> Result<Tok<'j>> {
        self.ws();
        match self.b.get(self.pos) {
            None => Err(self.err("the text ends before the value")),
            Some(b'n') => self.literal("null", Tok::Null),
            Some(b't') => self.literal("true", Tok::Bool(true)),
            Some(b'f') => self.literal("false", Tok::Bool(false)),
            Some(b'"') => {
                self.pos += 1;
                Ok(Tok::Str(self.string()?))
            }
            Some(b'[') => {
                self.pos += 1;
                self.nest()?;
                Ok(Tok::Arr)
            }
            Some(b'{') => {
                self.pos += 1;
                self.nest()?;
                Ok(Tok::Obj)
            }
            Some(b'-' | b'0'..=b'9') => Ok(Tok::Num(self.number()?)),
            Some(_) => Err(self.err("unexpected character")),
        }
    }

    pub(super) fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.b.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        self.pos - start
    }

    pub(super) fn number(&mut self) -> Result<&'j str> {
        let start = self.pos;
        if self.b.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match self.b.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("expected a digit")),
        }
        if self.b.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            self.digits();
        }
        if let Some(b'e' | b'E') = self.b.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.b.get(self.pos) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("expected a digit in the exponent"));
            }
        }
        Ok(&self.src[start..self.pos])
    }

    /// The rest of a string whose opening quote is consumed.
    pub(super) fn string(&mut self) -> Result<Cow<'j, str>> {
        let start = self.pos;
        loop {
            match self.b.get(self.pos) {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Borrowed(&self.src[start..self.pos - 1]));
                }
                Some(b'\\') => break,
                Some(_) => self.pos += 1,
            }
        }
        let mut s = String::from(&self.src[start..self.pos]);
        loop {
            match self.b.get(self.pos) {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Owned(s));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = match self.b.get(self.pos) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let unit = self.hex4()?;
                            s.push(self.utf16(unit));
                            continue;
                        }
                        _ => return Err(self.err("invalid escape in a string")),
                    };
                    self.pos += 1;
                    s.push(c);
                }
                Some(_) => {
                    let run = self.pos;
                    while !matches!(self.b.get(self.pos), None | Some(b'"' | b'\\')) {
                        self.pos += 1;
                    }
                    s.push_str(&self.src[run..self.pos]);
                }
            }
        }
    }

    pub(super) fn hex4(&mut self) -> Result<u16> {
        let Some(h) = self.b.get(self.pos..self.pos + 4) else {
            return Err(self.err("the text ends inside a \\u escape"));
        };
        let mut v = 0u16;
        for &c in h {
            let d = (c as char)
                .to_digit(16)
                .ok_or_else(|| self.err("invalid hex digit in a \\u escape"))?;
            v = v << 4 | d as u16;
        }
        self.pos += 4;
        Ok(v)
    }

    /// A UTF-16 unit from a `\u` escape, joined with a following low surrogate when it is a
    /// high one. A surrogate without its other half becomes U+FFFD.
    pub(super) fn utf16(&mut self, unit: u16) -> char {
        if (0xd800..0xdc00).contains(&unit) && self.b[self.pos..].starts_with(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            if let Ok(low @ 0xdc00..=0xdfff) = self.hex4() {
                let c = 0x10000 + (((unit as u32) - 0xd800) << 10) + (low as u32 - 0xdc00);
                return char::from_u32(c).unwrap_or('\u{fffd}');
            }
            self.pos = save;
        }
        char::from_u32(unit as u32).unwrap_or('\u{fffd}')
    }

    /// Inside an array: whether another element follows, consuming the comma before it.
    pub(super) fn more(&mut self, first: bool) -> Result<bool> {
        self.ws();
        match self.b.get(self.pos) {
            Some(b']') => {
                self.pos += 1;
                self.depth -= 1;
                Ok(false)
            }
            None => Err(self.err("the text ends inside an array")),
            _ if first => Ok(true),
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(_) => Err(self.err("expected `,` or `]`")),
        }
    }

    /// Inside an object: the next key, consuming the comma before it and the colon after it.
    pub(super) fn key(&mut self, first: bool) -> Result<Option<Cow<'j, str>>> {
        self.ws();
        match self.b.get(self.pos) {
            Some(b'}') => {
                self.pos += 1;
                self.depth -= 1;
                return Ok(None);
            }
            None => return Err(self.err("the text ends inside an object")),
            _ if first => {}
            Some(b',') => {
                self.pos += 1;
                self.ws();
            }
            Some(_) => return Err(self.err("expected `,` or `}`")),
        }
        if self.b.get(self.pos) != Some(&b'"') {
            return Err(self.err("expected a string as the key"));
        }
        self.pos += 1;
        let key = self.string()?;
        self.ws();
        if self.b.get(self.pos) != Some(&b':') {
            return Err(self.err("expected `:`"));
        }
        self.pos += 1;
        Ok(Some(key))
    }

    /// Skips what remains of a value whose first token is `tok`.
    pub(super) fn finish(&mut self, tok: &Tok<'j>) -> Result<()> {
        match tok {
            Tok::Arr => {
                let mut first = true;
                while self.more(first)? {
                    first = false;
                    self.skip()?;
                }
            }
            Tok::Obj => {
                let mut first = true;
                while self.key(first)?.is_some() {
                    first = false;
                    self.skip()?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    pub(super) fn skip(&mut self) -> Result<()> {
        let tok = self.token()?;
        self.finish(&tok)
    }

    /// Steps to the next of the items [`count`](Self::count) found in the array being read.
    pub(super) fn counted_item(&mut self, first: bool) -> Result<()> {
        match self.more(first)? {
            true => Ok(()),
            false => Err(self.err("the array ends before the items counted in it")),
        }
    }

    /// How many elements the array whose `[` was just read holds, without consuming them.
    pub(super) fn count(&mut self) -> Result<u32> {
        self.count_items(b']')
    }

    /// How many entries the object whose `{` was just read holds, without consuming them.
    pub(super) fn count_entries(&mut self) -> Result<u32> {
        self.count_items(b'}')
    }

    /// Counts the items of the array or object just opened (`close` ends it) by its structure
    /// alone: the commas outside strings and nested values, plus one unless it is empty. The
    /// scan looks at each byte of the array (and again for each array it is nested in), where
    /// counting by tokenizing would parse every number and string an extra time. For
    /// well-formed JSON the count is exact. For anything else the pass that reads the items
    /// reports the fault where it is, with the words counting by tokenizing used.
    pub(super) fn count_items(&self, close: u8) -> Result<u32> {
        let b = &self.b[self.pos.min(self.b.len())..];
        let Some(first) = b
            .iter()
            .position(|c| !matches!(c, b' ' | b'\n' | b'\r' | b'\t'))
        else {
            return Ok(0);
        };
        if b[first] == close {
            return Ok(0);
        }
        let (mut depth, mut commas, mut i) = (0usize, 0u64, first);
        while let Some(&c) = b.get(i) {
            match c {
                b'"' => {
                    // To the closing quote, stepping over escaped characters.
                    i += 1;
                    while let Some(&c) = b.get(i) {
                        match c {
                            b'"' => break,
                            b'\\' => i += 2,
                            _ => i += 1,
                        }
                    }
                }
                b'[' | b'{' => depth += 1,
                b']' | b'}' if depth == 0 => break,
                b']' | b'}' => depth -= 1,
                b',' if depth == 0 => commas += 1,
                _ => {}
            }
            i += 1;
        }
        u32::try_from(commas + 1).map_err(|_| Error::limit("JSON array or object is too long"))
    }
}

/// An integer as C's `strtoll`/`strtoull` read it, as the reference does for integers in
/// strings: leading white space, a sign, decimal or (after `0x`) hexadecimal digits, nothing
/// after. Unsigned values wrap when negated, but a string that starts with `-` is refused.
pub(super) fn parse_c_integer(s: &str, signed: bool) -> Option<i128> {
    let b = s.as_bytes();
    let unsigned_part = b.strip_prefix(b"-").unwrap_or(b);
    let hex =
        unsigned_part.len() >= 2 && unsigned_part[0] == b'0' && unsigned_part[1] | 0x20 == b'x';
    let mut i = 0;
    while let Some(b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') = b.get(i) {
        i += 1;
    }
    let negative = match b.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let radix = if hex { 16 } else { 10 };
    if hex
        && b.get(i) == Some(&b'0')
        && b.get(i + 1).is_some_and(|c| c | 0x20 == b'x')
        && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    {
        i += 2;
    }
    let start = i;
    let mut magnitude: u128 = 0;
    while let Some(d) = b.get(i).and_then(|&c| (c as char).to_digit(radix)) {
        magnitude = (magnitude * radix as u128 + d as u128).min(u64::MAX as u128 + 1);
        i += 1;
    }
    if i == start || i != b.len() {
        return None;
    }
    if signed {
        let v = if negative {
            -(magnitude as i128)
        } else {
            magnitude as i128
        };
        (i64::MIN as i128..=i64::MAX as i128)
            .contains(&v)
            .then_some(v)
    } else {
        if magnitude > u64::MAX as u128 || b.first() == Some(&b'-') {
            return None;
        }
        let v = magnitude as u64;
        Some(if negative { v.wrapping_neg() } else { v } as i128)
    }
}

/// A float as C's `strtod` reads it (for floats in strings): leading white space, then a
/// decimal number, `inf`, `infinity` or `nan` in any case, nothing after.
pub(super) fn parse_c_float(s: &str) -> Option<f64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\u{b}', '\u{c}', '\r']);
    if t.is_empty() || t.starts_with("+-") || t.starts_with("-+") {
        return None;
    }
    t.parse().ok()
}
