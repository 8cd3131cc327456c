//! Reading the text format: the lexer, expressions, and their translation into values.

use super::*;

// ---------------------------------------------------------------------------------------------
// Reading: lexer
// ---------------------------------------------------------------------------------------------

/// How deeply brackets may nest in text input (the reader recurses once per level).
pub(super) const MAX_NESTING: usize = 256;

/// A syntax or type error at byte `at` of `src`, located by line and column.
pub(super) fn syntax(src: &str, at: usize, message: impl fmt::Display) -> Error {
    let at = at.min(src.len());
    let before = &src.as_bytes()[..at];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = src
        .get(line_start..at)
        .map_or(at - line_start, |s| s.chars().count())
        + 1;
    Error::data(format!("text line {line}, column {column}: {message}"))
}

#[derive(Debug)]
pub(super) enum Tok {
    Ident,
    Str(Vec<u8>),
    Binary(Vec<u8>),
    Int(u64),
    Float(f64),
    Op,
    /// `( ... )`: the comma-separated items.
    Paren(Vec<Vec<Token>>),
    /// `[ ... ]`: the comma-separated items.
    Bracket(Vec<Vec<Token>>),
}

#[derive(Debug)]
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) start: usize,
    pub(super) end: usize,
}

pub(super) struct Lexer<'s> {
    pub(super) src: &'s str,
    pub(super) bytes: &'s [u8],
    pub(super) pos: usize,
    pub(super) depth: usize,
}

pub(super) fn is_op_char(b: u8) -> bool {
    b"!$%&*+-./:<=>?@^|~".contains(&b)
}

pub(super) fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

pub(super) fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

impl<'s> Lexer<'s> {
    pub(super) fn new(src: &'s str) -> Self {
        Lexer {
            src,
            bytes: src.as_bytes(),
            pos: 0,
            depth: 0,
        }
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    pub(super) fn peek_at(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.pos + offset).copied()
    }

    pub(super) fn error(&self, at: usize, message: impl fmt::Display) -> Error {
        syntax(self.src, at, message)
    }

    /// The whole input: a sequence of tokens.
    pub(super) fn run(mut self) -> Result<Vec<Token>> {
        let tokens = self.sequence()?;
        match self.peek() {
            None => Ok(tokens),
            Some(b')') | Some(b']') => Err(self.error(self.pos, "unbalanced closing bracket")),
            Some(b',') => Err(self.error(self.pos, "`,` outside brackets")),
            Some(_) => Err(self.unexpected()),
        }
    }

    pub(super) fn unexpected(&self) -> Error {
        match self.src[self.pos..].chars().next() {
            Some('\0') => self.error(self.pos, "NUL byte in the input"),
            Some(c) => self.error(
                self.pos,
                format!("unexpected character `{}`", c.escape_default()),
            ),
            None => self.error(self.pos, "unexpected end of input"),
        }
    }

    /// Skips whitespace, `#` comments and UTF-8 byte order marks.
    pub(super) fn skip_space(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => self.pos += 1,
                b'#' => {
                    while let Some(b) = self.peek() {
                        self.pos += 1;
                        if b == b'\n' {
                            break;
                        }
                    }
                }
                0xef if self.bytes[self.pos..].starts_with(&[0xef, 0xbb, 0xbf]) => self.pos += 3,
                _ => break,
            }
        }
    }

    /// Tokens up to something that does not start one (a closing bracket, `,`, the end).
    pub(super) fn sequence(&mut self) -> Result<Vec<Token>> {
        let mut tokens = Vec::new();
        loop {
            self.skip_space();
            match self.token()? {
                Some(t) => tokens.push(t),
                None => return Ok(tokens),
            }
        }
    }

    pub(super) fn token(&mut self) -> Result<Option<Token>> {
        let start = self.pos;
        let Some(b) = self.peek() else {
            return Ok(None);
        };
        let tok = if is_ident_start(b) {
            while self
                .peek()
                .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                self.pos += 1;
            }
            Tok::Ident
        } else if b == b'"' {
            Tok::Str(self.string()?)
        } else if b == b'0' && self.peek_at(1) == Some(b'x') && self.peek_at(2) == Some(b'"') {
            Tok::Binary(self.binary()?)
        } else if b.is_ascii_digit() {
            self.number()?
        } else if is_op_char(b) {
            while self.peek().is_some_and(is_op_char) {
                self.pos += 1;
            }
            Tok::Op
        } else if b == b'(' || b == b'[' {
            let close = if b == b'(' { b')' } else { b']' };
            if self.depth >= MAX_NESTING {
                return Err(self.error(start, "brackets nest too deeply"));
            }
            self.depth += 1;
            self.pos += 1;
            let items = self.items(close, start)?;
            self.depth -= 1;
            if b == b'(' {
                Tok::Paren(items)
            } else {
                Tok::Bracket(items)
            }
        } else {
            return Ok(None);
        };
        Ok(Some(Token {
            tok,
            start,
            end: self.pos,
        }))
    }

    /// The comma-separated items of a bracketed list, after its opening bracket. A trailing
    /// comma is allowed; `()` has no items.
    pub(super) fn items(&mut self, close: u8, open: usize) -> Result<Vec<Vec<Token>>> {
        let mut items = Vec::new();
        loop {
            let item_start = self.pos;
            let item = self.sequence()?;
            match self.peek() {
                Some(b',') => {
                    if item.is_empty() {
                        return Err(self.error(item_start, "empty list item"));
                    }
                    items.push(item);
                    self.pos += 1;
                }
                Some(c) if c == close => {
                    if !item.is_empty() {
                        items.push(item);
                    }
                    self.pos += 1;
                    return Ok(items);
                }
                Some(b')') | Some(b']') => {
                    return Err(self.error(self.pos, "mismatched closing bracket"))
                }
                None => {
                    return Err(self.error(
                        open,
                        format!(
                            "`{}` is never closed",
                            if close == b')' { '(' } else { '[' }
                        ),
                    ))
                }
                Some(_) => return Err(self.unexpected()),
            }
        }
    }

    /// A string literal; returns its bytes with escapes decoded.
    pub(super) fn string(&mut self) -> Result<Vec<u8>> {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\n') => return Err(self.error(start, "unterminated string literal")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let at = self.pos;
                    self.pos += 1;
                    let Some(c) = self.peek() else {
                        return Err(self.error(start, "unterminated string literal"));
                    };
                    self.pos += 1;
                    let byte = match c {
                        b'a' => 0x07,
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'v' => 0x0b,
                        b'\'' | b'"' | b'\\' | b'?' => c,
                        b'x' => match (
                            self.peek().and_then(hex_value),
                            self.peek_at(1).and_then(hex_value),
                        ) {
                            (Some(h), Some(l)) => {
                                self.pos += 2;
                                (h << 4) | l
                            }
                            _ => return Err(self.error(at, "`\\x` needs two hexadecimal digits")),
                        },
                        b'0'..=b'7' => {
                            // Up to three octal digits; the value keeps its low 8 bits.
                            let mut v = (c - b'0') as u32;
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        v = (v << 3) | (d - b'0') as u32;
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            v as u8
                        }
                        _ => {
                            return Err(self.error(
                                at,
                                format!(
                                    "unknown escape sequence `\\{}`",
                                    self.src[self.pos - 1..]
                                        .chars()
                                        .next()
                                        .unwrap_or('?')
                                        .escape_default()
                                ),
                            ))
                        }
                    };
                    out.push(byte);
                }
                Some(b) => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
    }

    /// `0x"..."`: pairs of hex digits, whitespace allowed between pairs; at least one byte.
    pub(super) fn binary(&mut self) -> Result<Vec<u8>> {
        let start = self.pos;
        self.pos += 3;
        let mut out = Vec::new();
        loop {
            while matches!(
                self.peek(),
                Some(b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
            ) {
                self.pos += 1;
            }
            match (
                self.peek().and_then(hex_value),
                self.peek_at(1).and_then(hex_value),
            ) {
                (Some(h), Some(l)) => {
                    out.push((h << 4) | l);
                    self.pos += 2;
                }
                _ => break,
            }
        }
        if self.peek() != Some(b'"') {
            return Err(self.error(
                self.pos.min(self.src.len()),
                "malformed binary literal: expected pairs of hexadecimal digits and a closing `\"`",
            ));
        }
        if out.is_empty() {
            return Err(self.error(start, "a binary literal needs at least one byte"));
        }
        self.pos += 1;
        Ok(out)
    }

    /// Whether the byte after a number makes it malformed (a letter, `_` or `.`).
    pub(super) fn glued(&self) -> bool {
        self.peek()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'.')
    }

    /// An integer (decimal, `0x` hex, `0` octal; wrapping to 64 bits) or a float literal.
    pub(super) fn number(&mut self) -> Result<Tok> {
        let start = self.pos;
        // Integer forms first.
        let (digits_start, radix) = if self.peek() == Some(b'0')
            && self.peek_at(1) == Some(b'x')
            && self.peek_at(2).is_some_and(|b| b.is_ascii_hexdigit())
        {
            (start + 2, 16)
        } else if self.peek() == Some(b'0') {
            (start + 1, 8)
        } else {
            (start, 10)
        };
        let mut end = digits_start;
        while self
            .bytes
            .get(end)
            .is_some_and(|&b| (b as char).is_digit(radix))
        {
            end += 1;
        }
        let integer_end = end;
        let saved = self.pos;
        self.pos = integer_end;
        if !self.glued() {
            let mut v: u64 = 0;
            for &b in &self.bytes[digits_start..integer_end] {
                let d = (b as char).to_digit(radix).unwrap_or(0) as u64;
                v = v.wrapping_mul(radix as u64).wrapping_add(d);
            }
            return Ok(Tok::Int(v));
        }
        if radix == 16 {
            return Err(self.error(start, "malformed number"));
        }
        // A float: digits, optional fraction, optional exponent.
        self.pos = saved;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                self.pos += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            let exponent_start = self.pos;
            while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                self.pos += 1;
            }
            if self.pos == exponent_start {
                return Err(self.error(start, "malformed number: the exponent has no digits"));
            }
        }
        if self.glued() {
            return Err(self.error(start, "malformed number"));
        }
        let text = self.src[start..self.pos].replace('E', "e");
        text.parse::<f64>()
            .map(Tok::Float)
            .map_err(|_| self.error(start, "malformed number"))
    }
}

// ---------------------------------------------------------------------------------------------
// Reading: expressions
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
pub(super) struct Expr {
    pub(super) kind: ExprKind,
    pub(super) start: usize,
}

#[derive(Debug)]
pub(super) enum ExprKind {
    PositiveInt(u64),
    /// `-N`, by magnitude.
    NegativeInt(u64),
    Float(f64),
    Str(Vec<u8>),
    Binary(Vec<u8>),
    /// A bare name: `void`, `true`, an enumerant...
    Name(String),
    List(Vec<Expr>),
    Tuple(Vec<Param>),
    /// A form the schema language has but a message cannot use (imports, qualified names,
    /// generic applications): the text names what it was.
    External(&'static str),
}

#[derive(Debug)]
pub(super) struct Param {
    pub(super) name: Option<(String, usize)>,
    pub(super) value: Expr,
}

pub(super) struct Parser<'s> {
    pub(super) src: &'s str,
    pub(super) depth: usize,
}

impl<'s> Parser<'s> {
    pub(super) fn text(&self, t: &Token) -> &'s str {
        &self.src[t.start..t.end]
    }

    pub(super) fn is_op(&self, t: Option<&Token>, op: &str) -> bool {
        t.is_some_and(|t| matches!(t.tok, Tok::Op) && self.text(t) == op)
    }

    /// One expression starting at `tokens[*pos]`; `end` is where the enclosing item ends (for
    /// errors about a missing expression).
    pub(super) fn expression(
        &mut self,
        tokens: &[Token],
        pos: &mut usize,
        end: usize,
    ) -> Result<Expr> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(syntax(self.src, end, "the input nests too deeply"));
        }
        let result = self.expression_inner(tokens, pos, end);
        self.depth -= 1;
        result
    }

    pub(super) fn expression_inner(
        &mut self,
        tokens: &[Token],
        pos: &mut usize,
        end: usize,
    ) -> Result<Expr> {
        let Some(first) = tokens.get(*pos) else {
            return Err(syntax(self.src, end, "expected a value"));
        };
        let start = first.start;
        *pos += 1;
        let mut kind = match &first.tok {
            Tok::Int(v) => ExprKind::PositiveInt(*v),
            Tok::Float(v) => ExprKind::Float(*v),
            Tok::Op if self.text(first) == "-" => {
                let next = tokens.get(*pos);
                let kind = match next.map(|t| &t.tok) {
                    Some(Tok::Int(v)) => ExprKind::NegativeInt(*v),
                    Some(Tok::Float(v)) => ExprKind::Float(-*v),
                    Some(Tok::Ident) if next.is_some_and(|t| self.text(t) == "inf") => {
                        ExprKind::Float(f64::NEG_INFINITY)
                    }
                    _ => {
                        return Err(syntax(
                            self.src,
                            next.map_or(end, |t| t.start),
                            "expected a number after `-`",
                        ))
                    }
                };
                *pos += 1;
                kind
            }
            Tok::Op if self.text(first) == "." => match tokens.get(*pos) {
                Some(Token {
                    tok: Tok::Ident, ..
                }) => {
                    *pos += 1;
                    ExprKind::External("a constant")
                }
                other => {
                    return Err(syntax(
                        self.src,
                        other.map_or(end, |t| t.start),
                        "expected a name after `.`",
                    ))
                }
            },
            Tok::Op => {
                return Err(syntax(
                    self.src,
                    start,
                    format!("unexpected `{}`", self.text(first)),
                ))
            }
            Tok::Str(s) => {
                let mut bytes = s.clone();
                while let Some(Token {
                    tok: Tok::Str(more),
                    ..
                }) = tokens.get(*pos)
                {
                    bytes.extend_from_slice(more);
                    *pos += 1;
                }
                ExprKind::Str(bytes)
            }
            Tok::Binary(b) => ExprKind::Binary(b.clone()),
            Tok::Bracket(items) => {
                let mut list = Vec::with_capacity(items.len());
                for item in items {
                    list.push(self.whole_item(item, first.end)?);
                }
                ExprKind::List(list)
            }
            Tok::Paren(items) => {
                let mut params = self.params(items, first.end)?;
                match params.pop() {
                    // `(x)` is just `x`.
                    Some(only) if params.is_empty() && only.name.is_none() => only.value.kind,
                    Some(last) => {
                        params.push(last);
                        ExprKind::Tuple(params)
                    }
                    None => ExprKind::Tuple(params),
                }
            }
            Tok::Ident => {
                let name = self.text(first);
                let next = tokens.get(*pos);
                match next.map(|t| &t.tok) {
                    Some(Tok::Str(_)) if name == "import" => {
                        *pos += 1;
                        ExprKind::External("an import")
                    }
                    Some(Tok::Str(_)) if name == "embed" => {
                        *pos += 1;
                        ExprKind::External("an embedded file")
                    }
                    _ => ExprKind::Name(name.to_string()),
                }
            }
        };
        // Suffixes: `.member` and `(arguments)`.
        loop {
            let next = tokens.get(*pos);
            if self.is_op(next, ".") {
                match tokens.get(*pos + 1) {
                    Some(Token {
                        tok: Tok::Ident, ..
                    }) => {
                        *pos += 2;
                        kind = ExprKind::External("a qualified name");
                    }
                    other => {
                        return Err(syntax(
                            self.src,
                            other.map_or(end, |t| t.start),
                            "expected a name after `.`",
                        ))
                    }
                }
            } else if let Some(Token {
                tok: Tok::Paren(items),
                end: close,
                ..
            }) = next
            {
                self.params(items, *close)?;
                *pos += 1;
                kind = ExprKind::External("a generic application");
            } else {
                break;
            }
        }
        Ok(Expr { kind, start })
    }

    /// A list item: exactly one expression.
    pub(super) fn whole_item(&mut self, item: &[Token], end: usize) -> Result<Expr> {
        let mut pos = 0;
        let item_end = item.last().map_or(end, |t| t.end);
        let expr = self.expression(item, &mut pos, item_end)?;
        if let Some(extra) = item.get(pos) {
            return Err(syntax(
                self.src,
                extra.start,
                "expected `,` or a closing bracket",
            ));
        }
        Ok(expr)
    }

    /// The items of a parenthesized list: `name = value` or `value`.
    pub(super) fn params(&mut self, items: &[Vec<Token>], end: usize) -> Result<Vec<Param>> {
        let mut params = Vec::with_capacity(items.len());
        for item in items {
            let named = matches!(
                item.first(),
                Some(Token {
                    tok: Tok::Ident,
                    ..
                })
            ) && self.is_op(item.get(1), "=");
            if named {
                let name = (self.text(&item[0]).to_string(), item[0].start);
                let value = self.whole_item(&item[2..], item[1].end)?;
                params.push(Param {
                    name: Some(name),
                    value,
                });
            } else {
                params.push(Param {
                    name: None,
                    value: self.whole_item(item, end)?,
                });
            }
        }
        Ok(params)
    }
}

// ---------------------------------------------------------------------------------------------
// Reading: values
// ---------------------------------------------------------------------------------------------

pub(super) struct Translator<'a> {
    pub(super) pool: &'a SchemaPool,
    pub(super) src: &'a str,
}

impl Translator<'_> {
    pub(super) fn error(&self, at: usize, message: impl fmt::Display) -> Error {
        syntax(self.src, at, message)
    }

    pub(super) fn mismatch(&self, expr: &Expr, ty: &Type) -> Error {
        self.error(
            expr.start,
            format!("type mismatch: expected {}", ty.describe(self.pool)),
        )
    }

    /// The struct `(name = value, ...)` assigns, as a [`Value::Struct`].
    pub(super) fn fill_struct(
        &self,
        params: &[Param],
        node: NodeIndex,
        brand: Option<&Brand>,
    ) -> Result<Value> {
        let pool = self.pool;
        let schema = struct_node(pool, node)?;
        let mut fields: Vec<(String, Value)> = Vec::new();
        for param in params {
            let Some((name, at)) = &param.name else {
                return Err(self.error(
                    param.value.start,
                    "missing field name: expected `name = value`",
                ));
            };
            let Some(index) = schema.field_index(name) else {
                return Err(self.error(
                    *at,
                    format!(
                        "struct `{}` has no field named `{name}`",
                        pool.node(node).short_name()
                    ),
                ));
            };
            let field = &schema.fields[index as usize];
            let value = match &field.slot {
                FieldSlot::Group { node: group } => match &param.value.kind {
                    ExprKind::Tuple(inner) => self.fill_struct(inner, *group, brand),
                    _ => Err(self.error(param.value.start, "type mismatch: expected a group")),
                },
                slot => {
                    let ty = slot.ty().unwrap_or(&Type::Void).resolved(brand);
                    self.value(&param.value, &ty)
                }
            }
            .map_err(|e| e.in_field(name.clone()))?;
            // Setting a union member makes it the active one: the others go.
            if field.discriminant.is_some() {
                fields.retain(|(n, _)| {
                    n == name
                        || schema
                            .field_index(n)
                            .is_none_or(|i| schema.fields[i as usize].discriminant.is_none())
                });
            }
            match fields.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = value,
                None => fields.push((name.clone(), value)),
            }
        }
        Ok(Value::structure(fields))
    }

    /// The value `expr` denotes as a `ty`.
    pub(super) fn value(&self, expr: &Expr, ty: &Type) -> Result<Value> {
        match &expr.kind {
            ExprKind::External(what) => Err(self.error(
                expr.start,
                format!("{what} cannot be used in a message: only literal values can"),
            )),
            ExprKind::Name(name) => self.name(expr, name, ty),
            ExprKind::PositiveInt(v) => self.integer(expr, *v as i128, ty),
            ExprKind::NegativeInt(v) => {
                if *v > 1u64 << 63 {
                    return Err(self.error(expr.start, "integer is too big to be negative"));
                }
                self.integer(expr, -(*v as i128), ty)
            }
            ExprKind::Float(v) => match ty {
                Type::Float32 => Ok(Value::Float32(*v as f32)),
                Type::Float64 => Ok(Value::Float64(*v)),
                _ => Err(self.mismatch(expr, ty)),
            },
            ExprKind::Str(bytes) => match ty {
                Type::Text => match String::from_utf8(bytes.clone()) {
                    Ok(s) => Ok(Value::Text(s)),
                    Err(_) => Err(self.error(expr.start, "Text must be UTF-8")),
                },
                Type::Data => Ok(Value::Data(bytes.clone())),
                _ => Err(self.mismatch(expr, ty)),
            },
            ExprKind::Binary(bytes) => match ty {
                Type::Data => Ok(Value::Data(bytes.clone())),
                _ => Err(self.mismatch(expr, ty)),
            },
            ExprKind::List(items) => {
                let Type::List(element) = ty else {
                    return Err(self.mismatch(expr, ty));
                };
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(
                        self.value(item, element)
                            .map_err(|e| e.at_index(i as u64))?,
                    );
                }
                Ok(Value::List(out))
            }
            ExprKind::Tuple(params) => match ty {
                Type::Struct(node, brand) => self.fill_struct(params, *node, brand.as_deref()),
                _ => Err(self.mismatch(expr, ty)),
            },
        }
    }

    pub(super) fn name(&self, expr: &Expr, name: &str, ty: &Type) -> Result<Value> {
        if let Type::Enum(node) = ty {
            let schema = self.pool.node(*node).as_enum();
            return match schema.and_then(|e| e.enumerant_index(name)) {
                Some(ordinal) => Ok(Value::Enum(Enumerant {
                    ordinal,
                    name: Some(name.to_string()),
                })),
                None => Err(self.error(
                    expr.start,
                    format!(
                        "`{name}` is not an enumerant of `{}`",
                        self.pool.node(*node).short_name()
                    ),
                )),
            };
        }
        let value = match name {
            "void" => Value::Void,
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "nan" | "inf" => {
                let v = if name == "nan" {
                    f64::NAN
                } else {
                    f64::INFINITY
                };
                return match ty {
                    Type::Float32 => Ok(Value::Float32(v as f32)),
                    Type::Float64 => Ok(Value::Float64(v)),
                    _ => Err(self.mismatch(expr, ty)),
                };
            }
            _ => {
                return Err(self.error(
                    expr.start,
                    format!("unknown name `{name}`: a message cannot refer to constants"),
                ))
            }
        };
        let fits = matches!(
            (&value, ty),
            (Value::Void, Type::Void) | (Value::Bool(_), Type::Bool)
        );
        if fits {
            Ok(value)
        } else {
            Err(self.mismatch(expr, ty))
        }
    }

    pub(super) fn integer(&self, expr: &Expr, v: i128, ty: &Type) -> Result<Value> {
        let out_of_range = || {
            self.error(
                expr.start,
                format!("integer {v} is out of range for {}", ty.describe(self.pool)),
            )
        };
        Ok(match ty {
            Type::Int8 => Value::Int8(i8::try_from(v).map_err(|_| out_of_range())?),
            Type::Int16 => Value::Int16(i16::try_from(v).map_err(|_| out_of_range())?),
            Type::Int32 => Value::Int32(i32::try_from(v).map_err(|_| out_of_range())?),
            Type::Int64 => Value::Int64(i64::try_from(v).map_err(|_| out_of_range())?),
            Type::UInt8 => Value::UInt8(u8::try_from(v).map_err(|_| out_of_range())?),
            Type::UInt16 => Value::UInt16(u16::try_from(v).map_err(|_| out_of_range())?),
            Type::UInt32 => Value::UInt32(u32::try_from(v).map_err(|_| out_of_range())?),
            Type::UInt64 => Value::UInt64(u64::try_from(v).map_err(|_| out_of_range())?),
            // Integers convert to floats as C++ converts them: from the 64-bit integer, rounded.
            Type::Float32 => Value::Float32(if v < 0 {
                v as i64 as f32
            } else {
                v as u64 as f32
            }),
            Type::Float64 => Value::Float64(if v < 0 {
                v as i64 as f64
            } else {
                v as u64 as f64
            }),
            _ => return Err(self.mismatch(expr, ty)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::float::push_g;

    pub(super) fn printed(push: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = String::new();
        push_ascii(&mut out, push);
        out
    }

    pub(super) fn format_g(v: f64, precision: i32) -> String {
        printed(|o| push_g(o, v, precision))
    }

    pub(super) fn format_f32(v: f32) -> String {
        printed(|o| push_f32(o, v))
    }

    pub(super) fn format_f64(v: f64) -> String {
        printed(|o| push_f64(o, v))
    }

    #[test]
    pub(super) fn printf_g() {
        assert_eq!(format_g(0.0, 6), "0");
        assert_eq!(format_g(-0.0, 15), "-0");
        assert_eq!(format_g(1e30, 6), "1e30");
        assert_eq!(format_g(1e-5, 6), "1e-05");
        assert_eq!(format_g(0.0001, 6), "0.0001");
        assert_eq!(format_g(123456.0, 6), "123456");
        assert_eq!(format_g(1234567.0, 6), "1.23457e06");
        assert_eq!(format_g(1e300, 15), "1e300");
        assert_eq!(format_g(0.125, 2), "0.12");
        assert_eq!(format_g(2.5, 1), "2");
        assert_eq!(format_g(-1.5, 6), "-1.5");
        assert_eq!(format_g(100000.0, 6), "100000");
        assert_eq!(format_g(999999.5, 6), "1e06");
    }

    #[test]
    pub(super) fn floats_as_the_reference_prints_them() {
        assert_eq!(format_f32(0.1), "0.1");
        assert_eq!(format_f32(1e30), "1e30");
        assert_eq!(format_f32(-0.0), "-0");
        assert_eq!(format_f32(f32::INFINITY), "inf");
        assert_eq!(format_f32(f32::NEG_INFINITY), "-inf");
        assert_eq!(format_f32(f32::NAN), "nan");
        assert_eq!(format_f32(1e-40), "9.9999461e-41");
        assert_eq!(format_f32(f32::from_bits(1)), "1.4012985e-45");
        assert_eq!(format_f32(123456789.0), "1.2345679e08");
        assert_eq!(format_f32(f32::MAX), "3.4028235e38");
        assert_eq!(format_f64(0.1), "0.1");
        assert_eq!(format_f64(1e-320), "9.99988867182683e-321");
        assert_eq!(format_f64(5e-324), "4.94065645841247e-324");
        assert_eq!(format_f64(123456789012345678.0), "1.2345678901234568e17");
        assert_eq!(format_f64(1e15), "1e15");
        assert_eq!(format_f64(-0.0), "-0");
    }

    #[test]
    pub(super) fn escapes() {
        let mut s = String::new();
        escape_bytes(b"a\x01\x7f\"\\'\xff\n", &mut s);
        assert_eq!(s, "a\\001\\177\\\"\\\\\\'\\377\\n");
        let mut s = String::new();
        escape_text("é\0\t".as_bytes(), &mut s);
        assert_eq!(s, "é\\000\\t");
        let mut s = String::new();
        escape_text(b"a\xffb", &mut s);
        assert_eq!(s, "a\\377b");
    }

    #[test]
    pub(super) fn line_breaking() {
        // Prints `items` after a two-byte prefix as `lay_out` expects them, and lays them out.
        let lay = |items: &[&str], indent: usize, mode: Mode, record: bool| {
            let mut out = String::from("((");
            let mut spans = Vec::new();
            for item in items {
                if !spans.is_empty() {
                    out.push_str(", ");
                }
                spans.push((out.len(), out.len() + item.len()));
                out.push_str(item);
            }
            lay_out(&mut out, 2, &spans, Indent(indent), mode, record);
            out[2..].to_string()
        };
        assert_eq!(
            lay(&["a = 1", "b = 2"], 1, Mode::Bare, true),
            "a = 1, b = 2"
        );
        assert_eq!(
            lay(
                &["a = 1", "b = \"a long string of text\""],
                1,
                Mode::Bare,
                true
            ),
            " a = 1,\n  b = \"a long string of text\" "
        );
        assert_eq!(
            lay(
                &["1", "\"a long string of some text\""],
                2,
                Mode::Prefixed,
                false
            ),
            "\n    1,\n    \"a long string of some text\" "
        );
        assert_eq!(
            lay(
                &["x", "\"a long string of some text\""],
                0,
                Mode::Bare,
                false
            ),
            "x, \"a long string of some text\""
        );
        assert_eq!(lay(&[], 1, Mode::Bare, true), "");
    }

    #[test]
    pub(super) fn lexer_numbers() {
        let lex = |s: &str| {
            Lexer::new(s)
                .run()
                .map(|t| t.into_iter().map(|t| t.tok).collect::<Vec<_>>())
        };
        assert!(matches!(lex("0x1F").unwrap()[..], [Tok::Int(31)]));
        assert!(matches!(lex("0755").unwrap()[..], [Tok::Int(493)]));
        assert!(matches!(lex("0").unwrap()[..], [Tok::Int(0)]));
        assert!(matches!(lex("1.5e3").unwrap()[..], [Tok::Float(v)] if v == 1500.0));
        assert!(matches!(lex("1e5").unwrap()[..], [Tok::Float(v)] if v == 1e5));
        assert!(matches!(lex("5.").unwrap()[..], [Tok::Float(v)] if v == 5.0));
        assert!(matches!(lex("0.5").unwrap()[..], [Tok::Float(v)] if v == 0.5));
        assert!(matches!(
            lex("18446744073709551617").unwrap()[..],
            [Tok::Int(1)]
        ));
        assert!(lex("1e").is_err());
        assert!(lex("1.2.3").is_err());
        assert!(lex("0x1g").is_err());
        assert!(lex("12ab").is_err());
        assert!(matches!(lex("-1").unwrap()[..], [Tok::Op, Tok::Int(1)]));
        assert!(matches!(lex("0x\"0a 1B\"").unwrap()[..], [Tok::Binary(ref b)] if b == &[10, 27]));
        assert!(lex("0x\"\"").is_err());
        assert!(
            matches!(lex("\"a\\x41\\101\\?\" # comment").unwrap()[..], [Tok::Str(ref s)] if s == b"aAA?")
        );
        assert!(lex("\"a\nb\"").is_err());
        assert!(lex("(a,,b)").is_err());
        assert!(matches!(lex("(a,)").unwrap()[..], [Tok::Paren(ref items)] if items.len() == 1));
        assert!(matches!(lex("()").unwrap()[..], [Tok::Paren(ref items)] if items.is_empty()));
        assert!(lex("(]").is_err());
        assert!(lex("{").is_err());
        assert!(lex("(").is_err());
        assert!(lex(")").is_err());
    }
}
