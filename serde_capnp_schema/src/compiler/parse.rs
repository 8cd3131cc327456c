//! The parser: a recursive descent over the lexer's tokens, producing the tree in [`ast`].
//!
//! The language is the reference compiler's (capnp 0.9.2). Its error handling is not: the reference
//! stops at the first lexical problem and says only "Parse error."; here every statement is parsed
//! on its own, a failed statement is skipped up to its `;` or `{…}` block, and a failed list item up
//! to its `,`, so one run reports every independent mistake with a message saying what was
//! expected.

use super::ast::{
    self, AnnotationUse, Decl, DeclId, DeclKind, Expr, ExprKind, Located, MethodParam, Param,
    ParamList, ParamListKind, Span, Targets,
};
use super::lex::{self, Tok, Token};

/// A syntax error: where and what (lower-case message, no trailing period, like "expected `;`").
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    /// The offending source range.
    pub span: ast::Span,
    /// What is wrong.
    pub message: String,
}

/// Parses one file. `file_name` becomes the File decl's name (span 0..0). Always returns a tree
/// (with [`ExprKind::Unknown`] / skipped statements where parsing failed) plus every error found,
/// sorted by position.
///
/// The file declaration's `id` and `doc_comment` come from its first `@0x…;` statement (the doc
/// comment is the one following that statement, as in the reference compiler); every top-level
/// statement, including `@0x…;` and `$annotation;`, is kept in `nested` in source order.
pub fn parse_file(file_name: &str, source: &str) -> (ast::Decl, Vec<SyntaxError>) {
    let mut file = new_decl(
        Located {
            value: file_name.to_string(),
            span: Span::default(),
        },
        DeclKind::File,
    );
    let Ok(len) = u32::try_from(source.len()) else {
        file.span = Span::new(0, u32::MAX);
        let error = SyntaxError {
            span: Span::new(0, 0),
            message: "file is too large (spans are limited to 4 GiB)".to_string(),
        };
        return (file, vec![error]);
    };
    file.span = Span::new(0, len);

    let lexed = lex::lex(source);
    let mut parser = Parser {
        src: source,
        tokens: lexed.tokens,
        strings: lexed.strings,
        binaries: lexed.binaries,
        docs: lexed.docs,
        pos: 0,
        prev_end: 0,
        block_depth: 0,
        expr_depth: 0,
        errors: lexed.errors,
        saw_invalid: false,
        eof: Span::new(len, len),
    };
    file.nested = parser.statements(Level::File);

    for decl in &file.nested {
        if let DeclKind::NakedId(id) = decl.kind {
            if file.id == DeclId::Unspecified {
                file.id = DeclId::Uid(id);
                file.doc_comment.clone_from(&decl.doc_comment);
            } else {
                parser.error(decl.span, "file can only have one ID");
            }
        }
    }

    let mut errors = parser.errors;
    errors.sort_by_key(|e| e.span.start);
    (file, errors)
}

/// How deeply blocks may nest, and separately expressions: deep enough for any real schema,
/// shallow enough that recursion (and dropping the tree) cannot exhaust a thread's stack.
const MAX_DEPTH: usize = 64;

/// Marks a failure that has already been reported (or deliberately left unreported because the
/// lexer reported the token it stopped at).
struct Reported;

type PResult<T> = Result<T, Reported>;

/// Which statements a block may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    File,
    Struct,
    Enum,
    Interface,
}

fn new_decl(name: Located<String>, kind: DeclKind) -> Decl {
    Decl {
        name,
        id: DeclId::Unspecified,
        parameters: Vec::new(),
        nested: Vec::new(),
        annotations: Vec::new(),
        span: Span::default(),
        doc_comment: None,
        kind,
    }
}

fn unknown(span: Span) -> Expr {
    Expr {
        kind: ExprKind::Unknown,
        span,
    }
}

/// The slot of `targets` that an annotation target name sets.
fn target_slot<'t>(targets: &'t mut Targets, name: &str) -> Option<&'t mut bool> {
    Some(match name {
        "file" => &mut targets.file,
        "const" => &mut targets.const_,
        "enum" => &mut targets.enum_,
        "enumerant" => &mut targets.enumerant,
        "struct" => &mut targets.struct_,
        "field" => &mut targets.field,
        "union" => &mut targets.union_,
        "group" => &mut targets.group,
        "interface" => &mut targets.interface,
        "method" => &mut targets.method,
        "param" => &mut targets.param,
        "annotation" => &mut targets.annotation,
        _ => return None,
    })
}

const ALL_TARGETS: [&str; 12] = [
    "file",
    "const",
    "enum",
    "enumerant",
    "struct",
    "field",
    "union",
    "group",
    "interface",
    "method",
    "param",
    "annotation",
];

/// What a declaration header leaves to its statement end: `Some(level)` if it must be followed by
/// a block of that level's statements, `None` if by `;`.
type Header = (Decl, Option<Level>);

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    strings: Vec<Vec<u8>>,
    binaries: Vec<Vec<u8>>,
    docs: Vec<String>,
    pos: usize,
    /// End of the last token consumed, for spans that end there.
    prev_end: u32,
    block_depth: usize,
    expr_depth: usize,
    errors: Vec<SyntaxError>,
    /// Whether the current statement has consumed a token the lexer rejected. Its later errors
    /// are then mostly consequences (an unterminated string swallows the `;`), so they are
    /// dropped: one run reports the lexical error, the next the rest.
    saw_invalid: bool,
    eof: Span,
}

impl Parser<'_> {
    // ---------------------------------------------------------------------------------------
    // Token access

    fn peek_at(&self, offset: usize) -> Option<Token> {
        self.tokens.get(self.pos + offset).copied()
    }

    fn peek_tok(&self) -> Option<Tok> {
        self.peek_at(0).map(|t| t.tok)
    }

    fn cur_span(&self) -> Span {
        self.peek_at(0).map_or(self.eof, |t| t.span)
    }

    fn text(&self, t: Token) -> &str {
        &self.src[t.span.start as usize..t.span.end as usize]
    }

    /// Consumes the current token; only called after a successful peek.
    fn bump(&mut self) -> Token {
        let t = self.tokens[self.pos];
        self.pos += 1;
        self.prev_end = t.span.end;
        self.saw_invalid |= t.tok == Tok::Invalid;
        t
    }

    fn is_op(&self, offset: usize, op: &str) -> bool {
        matches!(self.peek_at(offset), Some(t) if t.tok == Tok::Op && self.text(t) == op)
    }

    fn is_ident(&self, offset: usize) -> bool {
        matches!(self.peek_at(offset), Some(t) if t.tok == Tok::Ident)
    }

    fn is_keyword(&self, offset: usize, keyword: &str) -> bool {
        matches!(self.peek_at(offset), Some(t) if t.tok == Tok::Ident && self.text(t) == keyword)
    }

    /// Whether the token at `offset` ends the statement's header (or the file does).
    fn ends_statement(&self, offset: usize) -> bool {
        matches!(
            self.peek_at(offset).map(|t| t.tok),
            None | Some(Tok::Semi | Tok::LBrace | Tok::RBrace)
        )
    }

    fn doc(&self, t: Token) -> Option<String> {
        t.doc.map(|i| self.docs[i as usize].clone())
    }

    // ---------------------------------------------------------------------------------------
    // Errors

    fn error(&mut self, span: Span, message: impl Into<String>) {
        if self.saw_invalid {
            return;
        }
        self.errors.push(SyntaxError {
            span,
            message: message.into(),
        });
    }

    fn fail<T>(&mut self, span: Span, message: impl Into<String>) -> PResult<T> {
        self.error(span, message);
        Err(Reported)
    }

    /// How the current token reads in an error message.
    fn describe_current(&self) -> String {
        let Some(t) = self.peek_at(0) else {
            return "end of file".to_string();
        };
        match t.tok {
            Tok::Str(_) => "a string literal".to_string(),
            Tok::Binary(_) => "a binary literal".to_string(),
            _ => {
                let text = self.text(t);
                if text.chars().count() > 32 {
                    let short: String = text.chars().take(32).collect();
                    format!("`{short}…`")
                } else {
                    format!("`{text}`")
                }
            }
        }
    }

    /// Reports that `what` was expected at the current token.
    fn expected<T>(&mut self, what: &str) -> PResult<T> {
        if self.peek_tok() == Some(Tok::Invalid) {
            // The lexer has already explained this token.
            return Err(Reported);
        }
        let message = format!("expected {what}, found {}", self.describe_current());
        self.fail(self.cur_span(), message)
    }

    fn expect_op(&mut self, op: &str, what: &str) -> PResult<Token> {
        if self.is_op(0, op) {
            return Ok(self.bump());
        }
        if let Some(t) = self.peek_at(0) {
            if t.tok == Tok::Op && self.text(t).starts_with(op) {
                // Operator characters written together lex as one token, as in the reference.
                let message = format!(
                    "expected {what}, found `{}` (adjacent operators form one token; add a space)",
                    self.text(t)
                );
                return self.fail(t.span, message);
            }
        }
        self.expected(what)
    }

    fn name(&mut self) -> PResult<Located<String>> {
        match self.peek_at(0) {
            Some(t) if t.tok == Tok::Ident => {
                self.bump();
                Ok(Located {
                    value: self.text(t).to_string(),
                    span: t.span,
                })
            }
            _ => self.expected("a name"),
        }
    }

    // ---------------------------------------------------------------------------------------
    // Statements and blocks

    /// Statements up to the end of the file or (except at file level) an unmatched `}`.
    fn statements(&mut self, level: Level) -> Vec<Decl> {
        let mut out = Vec::new();
        while let Some(t) = self.peek_at(0) {
            if t.tok == Tok::RBrace {
                if level != Level::File {
                    break;
                }
                self.bump();
                self.error(t.span, "unexpected `}` (no block is open)");
                continue;
            }
            if let Some(decl) = self.statement(level) {
                out.push(decl);
            }
        }
        out
    }

    fn statement(&mut self, level: Level) -> Option<Decl> {
        let outer = std::mem::replace(&mut self.saw_invalid, false);
        let decl = self.statement_inner(level);
        self.saw_invalid = outer;
        decl
    }

    fn statement_inner(&mut self, level: Level) -> Option<Decl> {
        let start = self.cur_span().start;
        let Ok((mut decl, block_level)) = self.header(level) else {
            self.recover();
            return None;
        };
        let end = match self.peek_at(0) {
            Some(semi) if semi.tok == Tok::Semi => {
                self.bump();
                decl.doc_comment = self.doc(semi);
                if block_level.is_some() {
                    self.error(
                        Span::new(start, semi.span.end),
                        "this statement should end with a block, not a semicolon",
                    );
                }
                semi.span.end
            }
            Some(open) if open.tok == Tok::LBrace => {
                self.bump();
                let close = match block_level {
                    Some(inner) => {
                        let (nested, close) = self.block(open, inner);
                        decl.nested = nested;
                        close
                    }
                    None => {
                        // The skipped block's own lexical errors do not excuse this one.
                        let saw_invalid = self.saw_invalid;
                        let close = self.skip_block_rest();
                        self.saw_invalid = saw_invalid;
                        let end = close.map_or(self.prev_end, |c| c.span.end);
                        self.error(
                            Span::new(start, end),
                            "this statement should end with a semicolon, not a block",
                        );
                        if close.is_none() {
                            self.error(open.span, "unclosed `{`");
                        }
                        close
                    }
                };
                // A comment at the top of the block documents it; failing that, one after it.
                decl.doc_comment = self.doc(open).or_else(|| close.and_then(|c| self.doc(c)));
                close.map_or(self.prev_end, |c| c.span.end)
            }
            _ => {
                let _ = self.expected::<()>(if block_level.is_some() { "`{`" } else { "`;`" });
                self.recover();
                return None;
            }
        };
        decl.span = Span::new(start, end);
        Some(decl)
    }

    /// The statements of a block whose `{` was just consumed, and its `}` if present.
    fn block(&mut self, open: Token, level: Level) -> (Vec<Decl>, Option<Token>) {
        if self.block_depth >= MAX_DEPTH {
            self.error(
                open.span,
                format!("blocks are nested too deeply (the limit is {MAX_DEPTH})"),
            );
            return (Vec::new(), self.skip_block_rest());
        }
        self.block_depth += 1;
        let nested = self.statements(level);
        self.block_depth -= 1;
        if self.peek_tok() == Some(Tok::RBrace) {
            (nested, Some(self.bump()))
        } else {
            self.error(open.span, "unclosed `{`");
            (nested, None)
        }
    }

    /// Skips the rest of a block whose `{` was just consumed, through its `}` (returned).
    /// Iterative, so any depth of nesting is fine.
    fn skip_block_rest(&mut self) -> Option<Token> {
        let mut depth = 1usize;
        while let Some(t) = self.peek_at(0) {
            self.bump();
            match t.tok {
                Tok::LBrace => depth += 1,
                Tok::RBrace => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(t);
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// After an error in a statement: skips to its end, a `;` or a `{…}` block (consumed), or the
    /// `}` of the enclosing block (not consumed).
    fn recover(&mut self) {
        while let Some(t) = self.peek_at(0) {
            match t.tok {
                Tok::RBrace => return,
                Tok::Semi => {
                    self.bump();
                    return;
                }
                Tok::LBrace => {
                    self.bump();
                    self.skip_block_rest();
                    return;
                }
                _ => {
                    self.bump();
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Declaration headers

    /// Parses a statement up to its `;` or `{`. Statements are told apart by their first two or
    /// three tokens; keywords are not reserved, so `struct @0 :Int32;` is a field named `struct`.
    fn header(&mut self, level: Level) -> PResult<Header> {
        let member = self.is_ident(0) && self.is_op(1, "@");
        match level {
            Level::File => {
                if self.is_op(0, "@") {
                    let start = self.cur_span().start;
                    let id = self.uid()?;
                    let name = Located {
                        value: String::new(),
                        span: Span::new(start, id.span.end),
                    };
                    return Ok((new_decl(name, DeclKind::NakedId(id)), None));
                }
                if self.is_op(0, "$") {
                    let annotation = self.annotation()?;
                    let name = Located {
                        value: String::new(),
                        span: annotation.span,
                    };
                    return Ok((new_decl(name, DeclKind::NakedAnnotation(annotation)), None));
                }
                self.generic_decl("a declaration")
            }
            Level::Struct => {
                if member {
                    return self.field_or_union();
                }
                if self.is_ident(0) && self.is_op(1, ":") {
                    if self.is_keyword(2, "union") || self.is_keyword(2, "group") {
                        return self.named_union_or_group();
                    }
                    if !self.is_generic_keyword() {
                        self.bump();
                        return self.fail(
                            self.cur_span(),
                            "expected an ordinal (`@N`) between the field's name and its type",
                        );
                    }
                }
                if self.is_keyword(0, "union") && self.ends_statement(1) {
                    let t = self.bump();
                    let name = Located {
                        value: String::new(),
                        span: t.span,
                    };
                    return Ok((new_decl(name, DeclKind::Union), Some(Level::Struct)));
                }
                self.generic_decl("a field, union, group or nested declaration")
            }
            Level::Enum => {
                if !member {
                    return self.expected("an enumerant (`name @N;`)");
                }
                let name = self.name()?;
                let ordinal = self.ordinal()?;
                let mut decl = new_decl(name, DeclKind::Enumerant);
                decl.id = DeclId::Ordinal(ordinal);
                decl.annotations = self.annotations()?;
                Ok((decl, None))
            }
            Level::Interface => {
                if member {
                    return self.method();
                }
                self.generic_decl("a method or nested declaration")
            }
        }
    }

    fn is_generic_keyword(&self) -> bool {
        [
            "using",
            "const",
            "annotation",
            "enum",
            "struct",
            "interface",
        ]
        .iter()
        .any(|k| self.is_keyword(0, k))
    }

    /// Declarations allowed at every level; `what` describes everything the level allows.
    fn generic_decl(&mut self, what: &str) -> PResult<Header> {
        let Some(t) = self.peek_at(0).filter(|t| t.tok == Tok::Ident) else {
            return self.expected(what);
        };
        match self.text(t) {
            "using" => self.using_decl(),
            "const" => self.const_decl(),
            "annotation" => self.annotation_decl(),
            "enum" => {
                self.bump();
                let mut decl = new_decl(self.name()?, DeclKind::Enum);
                decl.id = self.optional_uid()?;
                decl.annotations = self.annotations()?;
                Ok((decl, Some(Level::Enum)))
            }
            "struct" => {
                self.bump();
                let mut decl = new_decl(self.name()?, DeclKind::Struct);
                decl.id = self.optional_uid()?;
                decl.parameters = self.optional_generic_params()?;
                decl.annotations = self.annotations()?;
                Ok((decl, Some(Level::Struct)))
            }
            "interface" => self.interface_decl(),
            _ => self.expected(what),
        }
    }

    fn using_decl(&mut self) -> PResult<Header> {
        self.bump();
        let name = if self.is_ident(0) && self.is_op(1, "=") {
            let name = self.name()?;
            self.bump();
            Some(name)
        } else {
            None
        };
        let target = self.expr()?;
        let name = match (name, &target.kind) {
            (Some(name), _) => name,
            (None, ExprKind::Member { name, .. }) => name.clone(),
            (None, _) => {
                self.error(
                    target.span,
                    "`using` without `=` must name a declaration in another scope, e.g. \
                     `using Foo.Bar;`",
                );
                Located {
                    value: String::new(),
                    span: target.span,
                }
            }
        };
        Ok((new_decl(name, DeclKind::Using { target }), None))
    }

    fn const_decl(&mut self) -> PResult<Header> {
        self.bump();
        let name = self.name()?;
        let id = self.optional_uid()?;
        self.expect_op(":", "`:` and the constant's type")?;
        let type_ = self.expr()?;
        self.expect_op("=", "`=` and the constant's value")?;
        let value = self.expr()?;
        let mut decl = new_decl(name, DeclKind::Const { type_, value });
        decl.id = id;
        decl.annotations = self.annotations()?;
        Ok((decl, None))
    }

    fn interface_decl(&mut self) -> PResult<Header> {
        self.bump();
        let name = self.name()?;
        let id = self.optional_uid()?;
        let parameters = self.optional_generic_params()?;
        let mut superclasses = Vec::new();
        if self.is_keyword(0, "extends") {
            self.bump();
            if self.peek_tok() != Some(Tok::LParen) {
                return self.expected("`(` after `extends`");
            }
            let (items, _) = self.list(Tok::RParen, Self::expr)?;
            superclasses = items
                .into_iter()
                .map(|item| item.unwrap_or_else(unknown))
                .collect();
        }
        let mut decl = new_decl(name, DeclKind::Interface { superclasses });
        decl.id = id;
        decl.parameters = parameters;
        decl.annotations = self.annotations()?;
        Ok((decl, Some(Level::Interface)))
    }

    fn annotation_decl(&mut self) -> PResult<Header> {
        self.bump();
        let name = self.name()?;
        let id = self.optional_uid()?;
        if self.peek_tok() != Some(Tok::LParen) {
            return self.expected("`(` and the annotation's targets, e.g. `(struct, field)`");
        }
        let (items, _) = self.list(Tok::RParen, Self::annotation_target)?;
        let count = items.len();
        let mut targets = Targets::default();
        for target in items.into_iter().flatten() {
            if target.value == "*" {
                if count > 1 {
                    self.error(
                        target.span,
                        "wildcard should not be specified together with other targets",
                    );
                }
                for name in ALL_TARGETS {
                    if let Some(slot) = target_slot(&mut targets, name) {
                        *slot = true;
                    }
                }
                continue;
            }
            match target_slot(&mut targets, &target.value) {
                Some(slot) if *slot => self.error(target.span, "duplicate target specification"),
                Some(slot) => *slot = true,
                None => self.error(target.span, "Not a valid annotation target."),
            }
        }
        self.expect_op(":", "`:` and the annotation's type")?;
        let type_ = self.expr()?;
        let mut decl = new_decl(name, DeclKind::Annotation { type_, targets });
        decl.id = id;
        decl.annotations = self.annotations()?;
        Ok((decl, None))
    }

    fn annotation_target(&mut self) -> PResult<Located<String>> {
        match self.peek_at(0) {
            Some(t) if t.tok == Tok::Ident || (t.tok == Tok::Op && self.text(t) == "*") => {
                self.bump();
                Ok(Located {
                    value: self.text(t).to_string(),
                    span: t.span,
                })
            }
            _ => self.expected("an annotation target or `*`"),
        }
    }

    /// `name @N …` in a struct: a field, or a union kept at an old ordinal (`name @N! :union`).
    fn field_or_union(&mut self) -> PResult<Header> {
        let name = self.name()?;
        let ordinal = self.ordinal()?;
        let bang = self.is_op(0, "!").then(|| self.bump());
        let colon = self.is_op(0, ":").then(|| self.bump());
        if self.is_keyword(0, "union") && (self.is_op(1, "$") || self.ends_statement(1)) {
            self.bump();
            if bang.is_none() {
                self.error(ordinal.span, UNION_ORDINAL);
            }
            if colon.is_none() {
                self.error(ordinal.span, UNION_COLON);
            }
            let mut decl = new_decl(name, DeclKind::Union);
            decl.id = DeclId::Ordinal(ordinal);
            decl.annotations = self.annotations()?;
            return Ok((decl, Some(Level::Struct)));
        }
        if let Some(bang) = bang {
            return self.fail(bang.span, "`!` may only follow the ordinal of a union");
        }
        if colon.is_none() {
            self.expect_op(":", "`:` and the field's type")?;
        }
        let type_ = self.expr()?;
        let default_value = if self.is_op(0, "=") {
            self.bump();
            Some(self.expr()?)
        } else {
            None
        };
        let mut decl = new_decl(
            name,
            DeclKind::Field {
                type_,
                default_value,
            },
        );
        decl.id = DeclId::Ordinal(ordinal);
        decl.annotations = self.annotations()?;
        Ok((decl, None))
    }

    /// `name :union …` or `name :group …`.
    fn named_union_or_group(&mut self) -> PResult<Header> {
        let name = self.name()?;
        self.bump();
        let keyword = self.bump();
        let kind = if self.text(keyword) == "union" {
            DeclKind::Union
        } else {
            DeclKind::Group
        };
        let mut decl = new_decl(name, kind);
        decl.annotations = self.annotations()?;
        Ok((decl, Some(Level::Struct)))
    }

    fn method(&mut self) -> PResult<Header> {
        let name = self.name()?;
        let ordinal = self.ordinal()?;
        let parameters = if self.peek_tok() == Some(Tok::LBracket) {
            let (items, _) = self.list(Tok::RBracket, Self::name)?;
            items.into_iter().flatten().collect()
        } else {
            Vec::new()
        };
        let params = self.param_list()?;
        let results = if self.is_op(0, "->") {
            self.bump();
            Some(self.param_list()?)
        } else {
            None
        };
        let mut decl = new_decl(name, DeclKind::Method { params, results });
        decl.id = DeclId::Ordinal(ordinal);
        decl.parameters = parameters;
        decl.annotations = self.annotations()?;
        Ok((decl, None))
    }

    fn param_list(&mut self) -> PResult<ParamList> {
        if self.peek_tok() == Some(Tok::LParen) {
            let (items, span) = self.list(Tok::RParen, Self::method_param)?;
            let params = items.into_iter().flatten().collect();
            return Ok(ParamList {
                kind: ParamListKind::Named(params),
                span,
            });
        }
        if self.is_keyword(0, "stream") {
            let t = self.bump();
            return Ok(ParamList {
                kind: ParamListKind::Stream,
                span: t.span,
            });
        }
        // Any expression is syntactically a type here (the translator judges it); only say what
        // was meant when the list is plainly missing.
        if self.ends_statement(0) || self.is_op(0, "$") || self.is_op(0, "->") {
            return self.expected("a parameter list `(…)` or a struct type");
        }
        let type_ = self.expr()?;
        Ok(ParamList {
            span: type_.span,
            kind: ParamListKind::Type(type_),
        })
    }

    fn method_param(&mut self) -> PResult<MethodParam> {
        let name = self.name()?;
        self.expect_op(":", "`:` and the parameter's type")?;
        let type_ = self.expr()?;
        let default_value = if self.is_op(0, "=") {
            self.bump();
            Some(self.expr()?)
        } else {
            None
        };
        let annotations = self.annotations()?;
        Ok(MethodParam {
            span: Span::new(name.span.start, self.prev_end),
            name,
            type_,
            annotations,
            default_value,
        })
    }

    fn optional_generic_params(&mut self) -> PResult<Vec<Located<String>>> {
        if self.peek_tok() != Some(Tok::LParen) {
            return Ok(Vec::new());
        }
        let (items, _) = self.list(Tok::RParen, Self::name)?;
        Ok(items.into_iter().flatten().collect())
    }

    /// `@N` after `@` has been seen: the integer and its span.
    fn at_integer(&mut self, what: &str) -> PResult<Located<u64>> {
        self.bump();
        match self.peek_at(0) {
            Some(Token {
                tok: Tok::Int(value),
                span,
                ..
            }) => {
                self.bump();
                Ok(Located { value, span })
            }
            _ => self.expected(what),
        }
    }

    fn uid(&mut self) -> PResult<Located<u64>> {
        let id = self.at_integer("an ID after `@`, e.g. `@0xdbb9ad1f14bf0b36`")?;
        if id.value < 1 << 63 {
            self.error(
                id.span,
                "invalid ID (the high bit must be set); generate a new one with `capnp id`",
            );
        }
        Ok(id)
    }

    fn optional_uid(&mut self) -> PResult<DeclId> {
        if self.is_op(0, "@") {
            Ok(DeclId::Uid(self.uid()?))
        } else {
            Ok(DeclId::Unspecified)
        }
    }

    fn ordinal(&mut self) -> PResult<Located<u64>> {
        let ordinal = self.at_integer("an ordinal after `@`")?;
        if ordinal.value > 65535 {
            self.error(ordinal.span, "ordinals cannot be greater than 65535");
        }
        Ok(ordinal)
    }

    fn annotations(&mut self) -> PResult<Vec<AnnotationUse>> {
        let mut out = Vec::new();
        while self.is_op(0, "$") {
            out.push(self.annotation()?);
        }
        Ok(out)
    }

    /// `$name` or `$name(value)`. The value's parentheses parse as an application of the name, so
    /// they are taken apart again here: one unnamed argument is the value itself, anything else
    /// a tuple.
    fn annotation(&mut self) -> PResult<AnnotationUse> {
        let dollar = self.bump();
        let (expr, parens) = self.expr_with_parens()?;
        let span = dollar.span.to(expr.span);
        let (name, value) = match expr.kind {
            ExprKind::Application {
                function,
                mut params,
            } => {
                // `$(foo(1))` has no parentheses of its own; the arguments then span from the
                // function's end.
                let parens = parens.unwrap_or(Span::new(function.span.end, expr.span.end));
                let value = if params.len() == 1 && params[0].name.is_none() {
                    params.pop().map(|p| p.value)
                } else {
                    Some(Expr {
                        kind: ExprKind::Tuple(params),
                        span: parens,
                    })
                };
                (*function, value)
            }
            kind => (
                Expr {
                    kind,
                    span: expr.span,
                },
                None,
            ),
        };
        Ok(AnnotationUse { name, value, span })
    }

    // ---------------------------------------------------------------------------------------
    // Expressions

    fn expr(&mut self) -> PResult<Expr> {
        self.expr_with_parens().map(|(expr, _)| expr)
    }

    /// An expression, and the span of its parentheses when it ends in an application.
    fn expr_with_parens(&mut self) -> PResult<(Expr, Option<Span>)> {
        let saved = self.expr_depth;
        let result = self.expr_inner();
        self.expr_depth = saved;
        result
    }

    fn enter_expr(&mut self) -> PResult<()> {
        if self.expr_depth >= MAX_DEPTH {
            let message = format!("expression is nested too deeply (the limit is {MAX_DEPTH})");
            return self.fail(self.cur_span(), message);
        }
        self.expr_depth += 1;
        Ok(())
    }

    fn expr_inner(&mut self) -> PResult<(Expr, Option<Span>)> {
        self.enter_expr()?;
        let mut expr = self.base_expr()?;
        let start = expr.span.start;
        let mut parens = None;
        // Every suffix wraps the tree one level deeper, so suffixes count towards the depth too.
        loop {
            if self.is_op(0, ".") {
                self.enter_expr()?;
                self.bump();
                let name = self.name_after_dot()?;
                expr = Expr {
                    span: Span::new(start, name.span.end),
                    kind: ExprKind::Member {
                        parent: Box::new(expr),
                        name,
                    },
                };
                parens = None;
            } else if self.peek_tok() == Some(Tok::LParen) {
                self.enter_expr()?;
                let (params, span) = self.tuple_params()?;
                expr = Expr {
                    span: Span::new(start, span.end),
                    kind: ExprKind::Application {
                        function: Box::new(expr),
                        params,
                    },
                };
                parens = Some(span);
            } else {
                return Ok((expr, parens));
            }
        }
    }

    fn name_after_dot(&mut self) -> PResult<Located<String>> {
        if self.is_ident(0) {
            self.name()
        } else {
            self.expected("a name after `.`")
        }
    }

    fn base_expr(&mut self) -> PResult<Expr> {
        let Some(t) = self.peek_at(0) else {
            return self.expected("an expression");
        };
        let simple = |kind| Expr { kind, span: t.span };
        Ok(match t.tok {
            Tok::Int(v) => {
                self.bump();
                simple(ExprKind::PositiveInt(v))
            }
            Tok::Float(v) => {
                self.bump();
                simple(ExprKind::Float(v))
            }
            Tok::Binary(i) => {
                self.bump();
                simple(ExprKind::Binary(self.binaries[i as usize].clone()))
            }
            Tok::Invalid => {
                self.bump();
                simple(ExprKind::Unknown)
            }
            Tok::Str(_) => {
                // Adjacent literals join byte-wise, so an escaped UTF-8 sequence may be split
                // across them.
                let mut bytes = Vec::new();
                while let Some(Token {
                    tok: Tok::Str(i), ..
                }) = self.peek_at(0)
                {
                    self.bump();
                    bytes.extend_from_slice(&self.strings[i as usize]);
                }
                // Escapes can make bytes that are not UTF-8; the reference keeps them as they are.
                let kind = match String::from_utf8(bytes) {
                    Ok(text) => ExprKind::String(text),
                    Err(e) => ExprKind::StringBytes(e.into_bytes()),
                };
                Expr {
                    kind,
                    span: Span::new(t.span.start, self.prev_end),
                }
            }
            Tok::Op if self.text(t) == "-" => {
                self.bump();
                let kind = match self.peek_at(0) {
                    Some(Token {
                        tok: Tok::Int(v), ..
                    }) => ExprKind::NegativeInt(v),
                    Some(Token {
                        tok: Tok::Float(v), ..
                    }) => ExprKind::Float(-v),
                    _ if self.is_keyword(0, "inf") => ExprKind::Float(f64::NEG_INFINITY),
                    Some(Token {
                        tok: Tok::Invalid, ..
                    }) => ExprKind::Unknown,
                    _ => return self.expected("a number after `-`"),
                };
                // The reference points at the number without its sign; errors about the value
                // (out of range, too big to be negative) then land where it does.
                let number = self.bump().span;
                Expr { kind, span: number }
            }
            Tok::Op if self.text(t) == "." => {
                self.bump();
                let name = self.name_after_dot()?;
                Expr {
                    span: Span::new(t.span.start, name.span.end),
                    kind: ExprKind::AbsoluteName(name),
                }
            }
            Tok::Ident => {
                let text = self.text(t);
                let file_kind = match text {
                    "import" => Some(ExprKind::Import as fn(Located<String>) -> ExprKind),
                    "embed" => Some(ExprKind::Embed as fn(Located<String>) -> ExprKind),
                    _ => None,
                };
                match (file_kind, self.peek_at(1)) {
                    // Only `import "…"` is an import; a bare `import` is an ordinary name.
                    (
                        Some(make),
                        Some(Token {
                            tok: Tok::Str(i),
                            span,
                            ..
                        }),
                    ) => {
                        self.bump();
                        self.bump();
                        let Ok(value) = String::from_utf8(self.strings[i as usize].clone()) else {
                            return self.fail(span, "file name is not valid UTF-8");
                        };
                        let path = Located { value, span };
                        Expr {
                            kind: make(path),
                            span: t.span.to(span),
                        }
                    }
                    _ => {
                        let name = self.name()?;
                        simple(ExprKind::RelativeName(name))
                    }
                }
            }
            Tok::LBracket => {
                let (items, span) = self.list(Tok::RBracket, Self::expr)?;
                Expr {
                    kind: ExprKind::List(
                        items
                            .into_iter()
                            .map(|i| i.unwrap_or_else(unknown))
                            .collect(),
                    ),
                    span,
                }
            }
            Tok::LParen => {
                let (mut params, span) = self.tuple_params()?;
                // `(x)` is just `x`; only names or several elements make a tuple.
                if params.len() == 1 && params[0].name.is_none() {
                    params.pop().map_or_else(|| unknown(span), |p| p.value)
                } else {
                    Expr {
                        kind: ExprKind::Tuple(params),
                        span,
                    }
                }
            }
            _ => return self.expected("an expression"),
        })
    }

    /// `(a = 1, b)`: the elements (failed ones as unnamed unknowns) and the parentheses' span.
    fn tuple_params(&mut self) -> PResult<(Vec<Param>, Span)> {
        let (items, span) = self.list(Tok::RParen, Self::tuple_element)?;
        let params = items
            .into_iter()
            .map(|item| {
                item.unwrap_or_else(|span| Param {
                    name: None,
                    value: unknown(span),
                })
            })
            .collect();
        Ok((params, span))
    }

    fn tuple_element(&mut self) -> PResult<Param> {
        let name = if self.is_ident(0) && self.is_op(1, "=") {
            let name = self.name()?;
            self.bump();
            Some(name)
        } else {
            None
        };
        Ok(Param {
            name,
            value: self.expr()?,
        })
    }

    /// A comma-separated list whose opening bracket is the current token, up to `close`. A trailing
    /// comma is allowed. An item that fails is reported, skipped up to its `,`, and returned as
    /// the span it covered; the list itself fails only if it is never closed.
    fn list<T>(
        &mut self,
        close: Tok,
        mut item: impl FnMut(&mut Self) -> PResult<T>,
    ) -> PResult<(Vec<Result<T, Span>>, Span)> {
        let open = self.bump();
        let close_text = if close == Tok::RParen { "`)`" } else { "`]`" };
        let mut items = Vec::new();
        // Whether an error inside this list was reported, so an unclosed list is not reported
        // again on top of it.
        let mut reported = false;
        loop {
            // At the start of an item, or after a trailing comma.
            match self.peek_tok() {
                Some(tok) if tok == close => break,
                Some(Tok::Comma) => {
                    let comma = self.bump();
                    self.error(comma.span, "empty list item");
                    reported = true;
                    items.push(Err(comma.span));
                    continue;
                }
                _ if self.ends_statement(0) => {
                    return self.unclosed(&format!("an item or {close_text}"), reported);
                }
                _ => {}
            }
            let start = self.cur_span();
            match item(self) {
                Ok(value) => items.push(Ok(value)),
                Err(Reported) => {
                    reported = true;
                    let end = self.skip_list_item(close);
                    items.push(Err(Span::new(start.start, end.max(start.start))));
                }
            }
            // After an item: `,` or the end of the list.
            loop {
                match self.peek_tok() {
                    Some(Tok::Comma) => {
                        self.bump();
                        break;
                    }
                    Some(tok) if tok == close => {
                        let end = self.bump();
                        return Ok((items, open.span.to(end.span)));
                    }
                    _ if self.ends_statement(0) => {
                        return self.unclosed(&format!("`,` or {close_text}"), reported);
                    }
                    _ => {
                        let _ = self.expected::<()>(&format!("`,` or {close_text}"));
                        reported = true;
                        let end = self.skip_list_item(close);
                        if let Some(last) = items.last_mut() {
                            *last = Err(Span::new(start.start, end));
                        }
                    }
                }
            }
        }
        let end = self.bump();
        Ok((items, open.span.to(end.span)))
    }

    /// The list ran into the end of its statement: reports that unless an error inside the list
    /// already explains it.
    fn unclosed<T>(&mut self, what: &str, reported: bool) -> PResult<T> {
        if reported {
            return Err(Reported);
        }
        self.expected(what)
    }

    /// Skips the rest of a failed list item: up to a `,` or `close` of this list (not consumed),
    /// or the end of the statement. Returns where the skipped tokens end.
    fn skip_list_item(&mut self, close: Tok) -> u32 {
        let mut depth = 0usize;
        let mut end = self.prev_end;
        while let Some(t) = self.peek_at(0) {
            match t.tok {
                Tok::Semi | Tok::LBrace | Tok::RBrace => break,
                Tok::Comma if depth == 0 => break,
                tok if tok == close && depth == 0 => break,
                Tok::LParen | Tok::LBracket => depth += 1,
                Tok::RParen | Tok::RBracket => depth = depth.saturating_sub(1),
                _ => {}
            }
            end = self.bump().span.end;
        }
        end
    }
}

/// The reference compiler's words for these two mistakes, which users may search for.
const UNION_ORDINAL: &str = "As of Cap'n Proto v0.3, it is no longer necessary to assign numbers to unions. However, removing the number will break binary compatibility. If this is an old protocol and you need to retain compatibility, please add an exclamation point after the number to indicate that it is really needed, e.g. `foo @1! :union {`. If this is a new protocol or compatibility doesn't matter, just remove the @n entirely. Sorry for the inconvenience, and thanks for being an early adopter!  :)";
const UNION_COLON: &str = "As of Cap'n Proto v0.3, the 'union' keyword should be prefixed with a colon for named unions, e.g. `foo :union {`.";

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(src: &str) -> Decl {
        let (file, errors) = parse_file("test.capnp", src);
        assert!(errors.is_empty(), "unexpected errors: {errors:#?}");
        file
    }

    /// Each error as the source text it points at and its message.
    fn located_errors(src: &str) -> Vec<(&str, String)> {
        parse_file("test.capnp", src)
            .1
            .into_iter()
            .map(|e| (&src[e.span.start as usize..e.span.end as usize], e.message))
            .collect()
    }

    fn text(src: &str, span: Span) -> &str {
        &src[span.start as usize..span.end as usize]
    }

    /// A compact rendering of an expression, to compare trees without spelling them out.
    fn show(e: &Expr) -> String {
        let params = |ps: &[Param]| {
            ps.iter()
                .map(|p| match &p.name {
                    Some(n) => format!("{} = {}", n.value, show(&p.value)),
                    None => show(&p.value),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        match &e.kind {
            ExprKind::Unknown => "?".to_string(),
            ExprKind::PositiveInt(v) => v.to_string(),
            ExprKind::NegativeInt(v) => format!("-{v}"),
            ExprKind::Float(v) => format!("float({v})"),
            ExprKind::String(s) => format!("{s:?}"),
            ExprKind::Binary(b) | ExprKind::StringBytes(b) => format!("bin{b:?}"),
            ExprKind::RelativeName(n) => n.value.clone(),
            ExprKind::AbsoluteName(n) => format!(".{}", n.value),
            ExprKind::Import(p) => format!("import {:?}", p.value),
            ExprKind::Embed(p) => format!("embed {:?}", p.value),
            ExprKind::List(items) => {
                let items: Vec<String> = items.iter().map(show).collect();
                format!("[{}]", items.join(", "))
            }
            ExprKind::Tuple(ps) => format!("tuple({})", params(ps)),
            ExprKind::Application {
                function,
                params: ps,
            } => {
                format!("{}({})", show(function), params(ps))
            }
            ExprKind::Member { parent, name } => format!("{}.{}", show(parent), name.value),
        }
    }

    fn show_annotation(a: &AnnotationUse) -> String {
        match &a.value {
            Some(v) => format!("${}={}", show(&a.name), show(v)),
            None => format!("${}", show(&a.name)),
        }
    }

    /// The value of `const x :T = <expr>;`.
    fn value(expr_src: &str) -> Expr {
        let src = format!("const x :T = {expr_src};");
        let file = parse_ok(&src);
        match &file.nested[0].kind {
            DeclKind::Const { value, .. } => value.clone(),
            other => panic!("not a const: {other:?}"),
        }
    }

    fn field_parts(d: &Decl) -> (String, Option<String>) {
        match &d.kind {
            DeclKind::Field {
                type_,
                default_value,
            } => (show(type_), default_value.as_ref().map(show)),
            other => panic!("not a field: {other:?}"),
        }
    }

    fn ordinal(d: &Decl) -> u64 {
        match d.id {
            DeclId::Ordinal(o) => o.value,
            other => panic!("no ordinal: {other:?}"),
        }
    }

    const SCHEMA: &str = r#"@0xbf5147cbbecf40c1;
# The file.

using Cxx = import "/capnp/c++.capnp";
using import "other.capnp".Thing;
$Cxx.namespace("test::ns");

const pi :Float64 = 3.14159;  # Pi.
const list :List(Int32) = [1, -2, 0x10];

enum Color @0xd1c2b3a4f5e6d7c8 $Cxx.name("Colour") {
  # Colors.
  red @0;
  green @1 $deprecated;  # Green.
  blue @2;
}

struct Pair(Key, Value) $generic {
  key @0 :Key;
  value @1 :Value = (a = 1, b = "x");
  struct Inner {}
  union {
    none @2 :Void;
    some @3 :Text;
  }
  choice :union $tag {
    a @4 :Int8;
    b :group {
      c @5 :Bool = true;
    }
  }
  legacy @6! :union {
    x @7 :Float32 = -inf;
  }
}

interface Service extends(Base, .Other.Iface(Int32)) {
  call @0 (a :Int32 = 5 $p, b :Text) -> (r :Pair(Int32, Text));
  get @1 [T] (key :T) -> Pair(T, Data);
  push @2 (chunk :Data) -> stream;
  fire @3 ();
  interface Nested {}
}

annotation tag @0x8e8a5c1c2fe2e9c0 (struct, union, field) :Text;
annotation anywhere (*) :Void;
"#;

    #[test]
    fn realistic_schema() {
        let file = parse_ok(SCHEMA);
        assert_eq!(file.name.value, "test.capnp");
        assert_eq!(file.name.span, Span::new(0, 0));
        assert_eq!(file.span, Span::new(0, SCHEMA.len() as u32));
        assert!(matches!(file.id, DeclId::Uid(id) if id.value == 0xbf5147cbbecf40c1));
        assert_eq!(file.doc_comment.as_deref(), Some("The file.\n"));
        assert!(file.annotations.is_empty());
        let names: Vec<&str> = file.nested.iter().map(|d| d.name.value.as_str()).collect();
        assert_eq!(
            names,
            ["", "Cxx", "Thing", "", "pi", "list", "Color", "Pair", "Service", "tag", "anywhere"]
        );
        assert!(
            matches!(file.nested[0].kind, DeclKind::NakedId(id) if id.value == 0xbf5147cbbecf40c1)
        );
        match &file.nested[1].kind {
            DeclKind::Using { target } => assert_eq!(show(target), "import \"/capnp/c++.capnp\""),
            k => panic!("{k:?}"),
        }
        match &file.nested[2].kind {
            DeclKind::Using { target } => assert_eq!(show(target), "import \"other.capnp\".Thing"),
            k => panic!("{k:?}"),
        }
        match &file.nested[3].kind {
            DeclKind::NakedAnnotation(a) => {
                assert_eq!(show_annotation(a), "$Cxx.namespace=\"test::ns\"")
            }
            k => panic!("{k:?}"),
        }
        assert_eq!(file.nested[4].doc_comment.as_deref(), Some("Pi.\n"));
        match &file.nested[5].kind {
            DeclKind::Const { type_, value } => {
                assert_eq!(show(type_), "List(Int32)");
                assert_eq!(show(value), "[1, -2, 16]");
            }
            k => panic!("{k:?}"),
        }

        let color = &file.nested[6];
        assert_eq!(color.kind, DeclKind::Enum);
        assert!(matches!(color.id, DeclId::Uid(id) if id.value == 0xd1c2b3a4f5e6d7c8));
        assert_eq!(color.doc_comment.as_deref(), Some("Colors.\n"));
        assert_eq!(
            show_annotation(&color.annotations[0]),
            "$Cxx.name=\"Colour\""
        );
        let enumerants: Vec<(&str, u64)> = color
            .nested
            .iter()
            .map(|d| (d.name.value.as_str(), ordinal(d)))
            .collect();
        assert_eq!(enumerants, [("red", 0), ("green", 1), ("blue", 2)]);
        assert!(color.nested.iter().all(|d| d.kind == DeclKind::Enumerant));
        assert_eq!(color.nested[1].doc_comment.as_deref(), Some("Green.\n"));
        assert_eq!(
            show_annotation(&color.nested[1].annotations[0]),
            "$deprecated"
        );

        let pair = &file.nested[7];
        assert_eq!(pair.kind, DeclKind::Struct);
        let params: Vec<&str> = pair.parameters.iter().map(|p| p.value.as_str()).collect();
        assert_eq!(params, ["Key", "Value"]);
        assert_eq!(show_annotation(&pair.annotations[0]), "$generic");
        let members = &pair.nested;
        assert_eq!(field_parts(&members[0]), ("Key".into(), None));
        assert_eq!(
            field_parts(&members[1]),
            ("Value".into(), Some("tuple(a = 1, b = \"x\")".into()))
        );
        assert_eq!(members[2].kind, DeclKind::Struct);
        assert!(members[2].nested.is_empty());
        let unnamed = &members[3];
        assert_eq!(unnamed.kind, DeclKind::Union);
        assert_eq!(unnamed.name.value, "");
        assert_eq!(text(SCHEMA, unnamed.name.span), "union");
        assert_eq!(unnamed.id, DeclId::Unspecified);
        assert_eq!(unnamed.nested.len(), 2);
        let choice = &members[4];
        assert_eq!(
            (choice.name.value.as_str(), &choice.kind),
            ("choice", &DeclKind::Union)
        );
        assert_eq!(show_annotation(&choice.annotations[0]), "$tag");
        let group = &choice.nested[1];
        assert_eq!(
            (group.name.value.as_str(), &group.kind),
            ("b", &DeclKind::Group)
        );
        assert_eq!(
            field_parts(&group.nested[0]),
            ("Bool".into(), Some("true".into()))
        );
        let legacy = &members[5];
        assert_eq!(legacy.kind, DeclKind::Union);
        assert_eq!(ordinal(legacy), 6);
        assert_eq!(
            field_parts(&legacy.nested[0]),
            ("Float32".into(), Some("float(-inf)".into()))
        );

        let service = &file.nested[8];
        match &service.kind {
            DeclKind::Interface { superclasses } => {
                let s: Vec<String> = superclasses.iter().map(show).collect();
                assert_eq!(s, ["Base", ".Other.Iface(Int32)"]);
            }
            k => panic!("{k:?}"),
        }
        let methods = &service.nested;
        match &methods[0].kind {
            DeclKind::Method { params, results } => {
                let ParamListKind::Named(ps) = &params.kind else {
                    panic!("{params:?}")
                };
                assert_eq!(ps.len(), 2);
                assert_eq!(ps[0].name.value, "a");
                assert_eq!(show(&ps[0].type_), "Int32");
                assert_eq!(ps[0].default_value.as_ref().map(show).as_deref(), Some("5"));
                assert_eq!(show_annotation(&ps[0].annotations[0]), "$p");
                assert_eq!(text(SCHEMA, ps[0].span), "a :Int32 = 5 $p");
                assert_eq!(text(SCHEMA, params.span), "(a :Int32 = 5 $p, b :Text)");
                let results = results.as_ref().unwrap();
                let ParamListKind::Named(rs) = &results.kind else {
                    panic!("{results:?}")
                };
                assert_eq!(show(&rs[0].type_), "Pair(Int32, Text)");
            }
            k => panic!("{k:?}"),
        }
        assert_eq!(methods[1].parameters[0].value, "T");
        match &methods[1].kind {
            DeclKind::Method {
                results: Some(r), ..
            } => {
                assert!(matches!(&r.kind, ParamListKind::Type(t) if show(t) == "Pair(T, Data)"));
                assert_eq!(text(SCHEMA, r.span), "Pair(T, Data)");
            }
            k => panic!("{k:?}"),
        }
        match &methods[2].kind {
            DeclKind::Method {
                results: Some(r), ..
            } => {
                assert_eq!(r.kind, ParamListKind::Stream);
                assert_eq!(text(SCHEMA, r.span), "stream");
            }
            k => panic!("{k:?}"),
        }
        match &methods[3].kind {
            DeclKind::Method { params, results } => {
                assert_eq!(params.kind, ParamListKind::Named(Vec::new()));
                assert!(results.is_none());
            }
            k => panic!("{k:?}"),
        }
        assert!(matches!(methods[4].kind, DeclKind::Interface { .. }));

        match &file.nested[9].kind {
            DeclKind::Annotation { type_, targets } => {
                assert_eq!(show(type_), "Text");
                let expected = Targets {
                    struct_: true,
                    union_: true,
                    field: true,
                    ..Targets::default()
                };
                assert_eq!(*targets, expected);
            }
            k => panic!("{k:?}"),
        }
        match &file.nested[10].kind {
            DeclKind::Annotation { targets, .. } => {
                assert!(targets.file && targets.param && targets.annotation && targets.enumerant);
            }
            k => panic!("{k:?}"),
        }
    }

    #[test]
    fn expressions() {
        let cases = [
            ("42", "42"),
            ("0x1f", "31"),
            ("017", "15"),
            ("-5", "-5"),
            ("-9223372036854775808", "-9223372036854775808"),
            ("- 5", "-5"),
            ("1.5", "float(1.5)"),
            ("-1.5", "float(-1.5)"),
            ("-inf", "float(-inf)"),
            ("inf", "inf"),
            ("nan", "nan"),
            ("true", "true"),
            ("\"a\" \"b\"\n  \"c\"", "\"abc\""),
            ("0x\"de ad\"", "bin[222, 173]"),
            ("Foo", "Foo"),
            (".Foo.Bar", ".Foo.Bar"),
            ("import \"a.capnp\"", "import \"a.capnp\""),
            ("import \"a.capnp\".Foo", "import \"a.capnp\".Foo"),
            ("embed \"data.bin\"", "embed \"data.bin\""),
            ("import", "import"),
            ("a.b.c", "a.b.c"),
            ("Foo(T)", "Foo(T)"),
            ("Foo(T, U).Bar(V)", "Foo(T, U).Bar(V)"),
            ("Foo(x = 1)", "Foo(x = 1)"),
            ("Foo()", "Foo()"),
            ("[]", "[]"),
            ("[1, 2,]", "[1, 2]"),
            ("[[1], [2, 3]]", "[[1], [2, 3]]"),
            ("(a = 1, b = (c = [2]))", "tuple(a = 1, b = tuple(c = [2]))"),
            ("(a = 1)", "tuple(a = 1)"),
            ("(1, 2)", "tuple(1, 2)"),
            ("()", "tuple()"),
            ("(5)", "5"),
            ("((Foo))", "Foo"),
            ("(5,)", "5"),
            ("\"\\xc3\" \"\\xa9\"", "\"é\""),
            ("\"raw\\x00\\xff\"", "bin[114, 97, 119, 0, 255]"),
        ];
        for (src, expected) in cases {
            assert_eq!(show(&value(src)), expected, "for {src}");
        }
    }

    #[test]
    fn expression_spans() {
        let src = "const x :Foo(T).Bar = [-1, .A.b, (p = \"s\" \"t\"), -inf, import \"x\"];";
        let file = parse_ok(src);
        let DeclKind::Const { type_, value } = &file.nested[0].kind else {
            panic!()
        };
        assert_eq!(text(src, type_.span), "Foo(T).Bar");
        let ExprKind::Member { parent, name } = &type_.kind else {
            panic!()
        };
        assert_eq!(text(src, parent.span), "Foo(T)");
        assert_eq!(text(src, name.span), "Bar");
        let ExprKind::List(items) = &value.kind else {
            panic!()
        };
        let spans: Vec<&str> = items.iter().map(|e| text(src, e.span)).collect();
        assert_eq!(
            spans,
            // A negative number's span is its digits, as in the reference.
            ["1", ".A.b", "(p = \"s\" \"t\")", "inf", "import \"x\""]
        );
        let ExprKind::Tuple(ps) = &items[2].kind else {
            panic!()
        };
        assert_eq!(text(src, ps[0].name.as_ref().unwrap().span), "p");
        assert_eq!(text(src, ps[0].value.span), "\"s\" \"t\"");
        let ExprKind::Import(path) = &items[4].kind else {
            panic!()
        };
        assert_eq!(text(src, path.span), "\"x\"");
        assert_eq!(
            text(src, value.span),
            "[-1, .A.b, (p = \"s\" \"t\"), -inf, import \"x\"]"
        );
    }

    #[test]
    fn annotation_values() {
        let src = "struct S $a $b(1) $c(x = 1, y = 2) $d() $e.f(T)(\"v\") $g((1)) $h([1]) {}";
        let file = parse_ok(src);
        let shown: Vec<String> = file.nested[0]
            .annotations
            .iter()
            .map(show_annotation)
            .collect();
        assert_eq!(
            shown,
            [
                "$a",
                "$b=1",
                "$c=tuple(x = 1, y = 2)",
                "$d=tuple()",
                "$e.f(T)=\"v\"",
                "$g=1",
                "$h=[1]"
            ]
        );
        let anns = &file.nested[0].annotations;
        assert_eq!(text(src, anns[1].span), "$b(1)");
        assert_eq!(text(src, anns[2].span), "$c(x = 1, y = 2)");
        assert_eq!(
            text(src, anns[2].value.as_ref().unwrap().span),
            "(x = 1, y = 2)"
        );
        assert_eq!(text(src, anns[4].name.span), "e.f(T)");
    }

    #[test]
    fn annotations_everywhere() {
        let src = r#"
            const c :Int32 = 1 $a;
            enum E $a { x @0 $a; }
            struct S $a {
              f @0 :Int32 = 1 $a $b;
              u :union $a { x @1 :Void; y @2 :Void; }
              g :group $a { z @3 :Void; }
            }
            interface I $a { m @0 (p :Int32 $a) -> (q :Int32 $a) $a; }
            annotation n (*) :Void $a;
        "#;
        let file = parse_ok(src);
        let mut count = 0;
        fn walk(d: &Decl, count: &mut usize) {
            *count += d.annotations.len();
            if let DeclKind::Method {
                params,
                results: Some(results),
            } = &d.kind
            {
                for list in [params, results] {
                    if let ParamListKind::Named(ps) = &list.kind {
                        *count += ps.iter().map(|p| p.annotations.len()).sum::<usize>();
                    }
                }
            }
            for n in &d.nested {
                walk(n, count);
            }
        }
        walk(&file, &mut count);
        assert_eq!(count, 13);
    }

    #[test]
    fn keywords_are_not_reserved() {
        let file = parse_ok(
            "struct S { struct @0 :Int32; union @1 :Text; using @2 :import; group @3 :group; \
             const :union { enum @4 :Void; } }\n\
             interface I { struct @0 () -> (); }",
        );
        let s = &file.nested[0].nested;
        let names: Vec<&str> = s.iter().map(|d| d.name.value.as_str()).collect();
        assert_eq!(names, ["struct", "union", "using", "group", "const"]);
        assert_eq!(field_parts(&s[1]).0, "Text");
        assert_eq!(field_parts(&s[2]).0, "import");
        assert_eq!(s[4].kind, DeclKind::Union);
        assert!(matches!(
            file.nested[1].nested[0].kind,
            DeclKind::Method { .. }
        ));
    }

    #[test]
    fn decl_spans_and_names() {
        let src = "struct Foo {\n  bar @0 :Int32;  # doc\n  baz :group {}\n}\n";
        let file = parse_ok(src);
        let foo = &file.nested[0];
        assert_eq!(text(src, foo.span), &src[..src.len() - 1]);
        assert_eq!(text(src, foo.name.span), "Foo");
        assert_eq!(text(src, foo.nested[0].span), "bar @0 :Int32;");
        assert_eq!(text(src, foo.nested[0].name.span), "bar");
        let DeclId::Ordinal(o) = foo.nested[0].id else {
            panic!()
        };
        assert_eq!(text(src, o.span), "0");
        assert_eq!(text(src, foo.nested[1].span), "baz :group {}");
        let file = parse_ok("@0xbf5147cbbecf40c1;\n$foo;");
        assert_eq!(file.nested[0].span, Span::new(0, 20));
        let DeclId::Uid(id) = file.id else { panic!() };
        assert_eq!(id.span, Span::new(1, 19));
        assert_eq!(file.nested[1].span, Span::new(21, 26));
    }

    #[test]
    fn doc_comments() {
        let src = "@0xbf5147cbbecf40c1;  # File\n# doc.\n\n\
                   struct A {  # A doc\n\
                   \x20 a @0 :Int32;\n\
                   \x20 # a doc\n\
                   \x20 b @1 :Int32;\n\
                   \n\
                   \x20 # not b's\n\
                   \x20 c @2 :Int32;\n\
                   }\n\
                   struct B {\n\n\
                   \x20 # not B's\n\
                   }  # B late\n\
                   struct C {\n\
                   \x20 # C early\n\
                   }  # C late\n\
                   struct D {}\n";
        let file = parse_ok(src);
        assert_eq!(file.doc_comment.as_deref(), Some("File\ndoc.\n"));
        let docs: Vec<Option<&str>> = file
            .nested
            .iter()
            .map(|d| d.doc_comment.as_deref())
            .collect();
        assert_eq!(
            docs,
            [
                Some("File\ndoc.\n"),
                Some("A doc\n"),
                Some("B late\n"),
                Some("C early\n"),
                None
            ]
        );
        let a: Vec<Option<&str>> = file.nested[1]
            .nested
            .iter()
            .map(|d| d.doc_comment.as_deref())
            .collect();
        assert_eq!(a, [Some("a doc\n"), None, None]);
    }

    #[test]
    fn file_without_id() {
        let file = parse_ok("struct A {}");
        assert_eq!(file.id, DeclId::Unspecified);
        assert_eq!(file.doc_comment, None);
        assert_eq!(parse_ok("").nested.len(), 0);
        assert_eq!(parse_ok("# just a comment").nested.len(), 0);
    }

    #[test]
    fn duplicate_file_id() {
        let src = "@0xbf5147cbbecf40c1;\n@0xbf5147cbbecf40c2;";
        let (file, errors) = parse_file("f", src);
        assert!(matches!(file.id, DeclId::Uid(id) if id.value == 0xbf5147cbbecf40c1));
        assert_eq!(file.nested.len(), 2);
        assert_eq!(errors.len(), 1);
        assert_eq!(text(src, errors[0].span), "@0xbf5147cbbecf40c2;");
        assert_eq!(errors[0].message, "file can only have one ID");
    }

    #[test]
    fn error_messages() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("struct Foo { a @0 :Int32 }", &[("}", "expected `;`, found `}`")]),
            ("struct Foo;", &[("struct Foo;", "this statement should end with a block, not a semicolon")]),
            (
                "const x :Int32 = 1 { }",
                &[("const x :Int32 = 1 { }", "this statement should end with a semicolon, not a block")],
            ),
            ("struct Foo { a :Int32; }", &[(":", "expected an ordinal (`@N`) between the field's name and its type")]),
            ("struct Foo { a @0 Int32; }", &[("Int32", "expected `:` and the field's type, found `Int32`")]),
            ("const x :Int32=-1;", &[("=-", "expected `=` and the constant's value, found `=-` (adjacent operators form one token; add a space)")]),
            ("const x :Int32;", &[(";", "expected `=` and the constant's value, found `;`")]),
            ("foo bar;", &[("foo", "expected a declaration, found `foo`")]),
            (";", &[(";", "expected a declaration, found `;`")]),
            ("}", &[("}", "unexpected `}` (no block is open)")]),
            ("struct Foo {", &[("{", "unclosed `{`")]),
            ("enum E { a; }", &[("a", "expected an enumerant (`name @N;`), found `a`")]),
            ("interface I { m @0; }", &[(";", "expected a parameter list `(…)` or a struct type, found `;`")]),
            ("struct S { x @0 :Int32 = ; }", &[(";", "expected an expression, found `;`")]),
            ("const x :T = -a;", &[("a", "expected a number after `-`, found `a`")]),
            ("const x :T = a.;", &[(";", "expected a name after `.`, found `;`")]),
            ("const x :T = (1, 2;", &[(";", "expected `,` or `)`, found `;`")]),
            ("const x :T = [1 2];", &[("2", "expected `,` or `]`, found `2`")]),
            ("const x :T = [1, , 2];", &[(",", "empty list item")]),
            ("const x :T = (,);", &[(",", "empty list item")]),
            ("struct S(T, 1) {}", &[("1", "expected a name, found `1`")]),
            ("struct S @5 {}", &[("5", "invalid ID (the high bit must be set); generate a new one with `capnp id`")]),
            ("struct S { a @65536 :Int32; }", &[("65536", "ordinals cannot be greater than 65535")]),
            ("struct S { a @x :Int32; }", &[("x", "expected an ordinal after `@`, found `x`")]),
            ("@;", &[(";", "expected an ID after `@`, e.g. `@0xdbb9ad1f14bf0b36`, found `;`")]),
            ("using Foo;", &[("Foo", "`using` without `=` must name a declaration in another scope, e.g. `using Foo.Bar;`")]),
            ("using import \"x\";", &[("import \"x\"", "`using` without `=` must name a declaration in another scope, e.g. `using Foo.Bar;`")]),
            ("annotation a :Void;", &[(":", "expected `(` and the annotation's targets, e.g. `(struct, field)`, found `:`")]),
            ("annotation a (*, field) :Void;", &[("*", "wildcard should not be specified together with other targets"), ("field", "duplicate target specification")]),
            ("annotation a (field, field) :Void;", &[("field", "duplicate target specification")]),
            ("annotation a (fields, Struct) :Void;", &[("fields", "Not a valid annotation target."), ("Struct", "Not a valid annotation target.")]),
            ("annotation a (1) :Void;", &[("1", "expected an annotation target or `*`, found `1`")]),
            ("interface I extends Base {}", &[("Base", "expected `(` after `extends`, found `Base`")]),
            ("struct S { a @0! :Int32; }", &[("!", "`!` may only follow the ordinal of a union")]),
            ("struct S { union $a { x @0 :Void; } }", &[("union", "expected a field, union, group or nested declaration, found `union`")]),
            ("struct S { u @0 :union { x @1 :Void; } }", &[("0", UNION_ORDINAL)]),
            ("struct S { u @0! union { x @1 :Void; } }", &[("0", UNION_COLON)]),
            ("const x :T = \"abc;\nconst y :T = 1;", &[("\"abc;", "unterminated string literal")]),
            ("struct S é {}", &[("é", "unexpected character `é`")]),
            ("using X = import \"\\xff\";", &[("\"\\xff\"", "file name is not valid UTF-8")]),
            ("$a(1 $b;", &[("$", "expected `,` or `)`, found `$`")]),
        ];
        for (src, expected) in cases {
            let got = located_errors(src);
            let expected: Vec<(&str, String)> =
                expected.iter().map(|(t, m)| (*t, m.to_string())).collect();
            assert_eq!(got, expected, "for {src:?}");
        }
    }

    #[test]
    fn recovers_and_reports_several_errors() {
        let src = r#"@0xbf5147cbbecf40c1;
struct A {
  a @0 :Int32
  b @1 :Int32;
  c @2 Text;
  d @3 :List(Int32 = 5;
  e @4 :Int32;
}
struct B { x @0 :Int32 = [1, , 3]; y @1 :Foo(1 2, 3); }
const k :Int32 = ;
struct C {
  nested :group { bad; good @5 :Void; }
  after @6 :Void;
}
struct D(T { }
enum E { ok @0; }
"#;
        let (file, errors) = parse_file("f", src);
        let got: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (text(src, e.span), e.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("b", "expected `;`, found `b`"),
                ("Text", "expected `:` and the field's type, found `Text`"),
                // `Int32 = 5` reads as a named argument; the `)` is what is missing.
                (";", "expected `,` or `)`, found `;`"),
                (",", "empty list item"),
                ("2", "expected `,` or `)`, found `2`"),
                (";", "expected an expression, found `;`"),
                (
                    "bad",
                    "expected a field, union, group or nested declaration, found `bad`"
                ),
                ("{", "expected `,` or `)`, found `{`"),
            ]
        );
        // What did parse is all there.
        let names: Vec<&str> = file.nested.iter().map(|d| d.name.value.as_str()).collect();
        assert_eq!(names, ["", "A", "B", "C", "E"]);
        let a: Vec<&str> = file.nested[1]
            .nested
            .iter()
            .map(|d| d.name.value.as_str())
            .collect();
        assert_eq!(a, ["e"]);
        let b = &file.nested[2].nested;
        assert_eq!(field_parts(&b[0]).1.as_deref(), Some("[1, ?, 3]"));
        assert_eq!(field_parts(&b[1]).0, "Foo(?, 3)");
        let c = &file.nested[3].nested;
        assert_eq!(c[0].nested.len(), 1);
        assert_eq!(c[1].name.value, "after");
        assert_eq!(file.nested[4].nested.len(), 1);
    }

    #[test]
    fn depth_limits() {
        let deep_parens = format!("const x :T = {}1{};", "(".repeat(100), ")".repeat(100));
        let (file, errors) = parse_file("f", &deep_parens);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(
            errors[0].message,
            "expression is nested too deeply (the limit is 64)"
        );
        assert_eq!(file.nested.len(), 1);

        let ok_parens = format!("const x :T = {}1{};", "[".repeat(60), "]".repeat(60));
        parse_ok(&ok_parens);

        let deep_blocks = "struct A {".repeat(100) + &"}".repeat(100) + "\nstruct Z {}";
        let (file, errors) = parse_file("f", &deep_blocks);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(
            errors[0].message,
            "blocks are nested too deeply (the limit is 64)"
        );
        assert_eq!(file.nested.len(), 2);

        let long_chain = format!("const x :T = a{};", ".b".repeat(200));
        let (_, errors) = parse_file("f", &long_chain);
        assert_eq!(errors.len(), 1, "{errors:?}");
    }

    #[test]
    fn never_panics_on_pathological_input() {
        let big = 200_000;
        let inputs = [
            "(".repeat(big),
            "[".repeat(big),
            "{".repeat(big),
            "}".repeat(big),
            ")".repeat(big),
            "struct A {".repeat(big / 10),
            format!("const x :T = {};", "a.".repeat(big)),
            format!("const x :T = a{};", "(b)".repeat(big)),
            format!("const x :T = {};", "-".repeat(big)),
            "$a(".repeat(big / 3),
            "\"".repeat(big),
            "0x\"".repeat(big),
            "#".repeat(big),
            ";".repeat(big),
            "@".repeat(big),
            "\0\u{feff}é\u{10ffff}".repeat(1000),
            "9".repeat(big),
            "1e".repeat(big),
        ];
        for input in &inputs {
            let _ = parse_file("f", input);
        }
    }

    /// A tiny deterministic generator; the test must not depend on a random seed.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    #[test]
    fn never_panics_on_truncations_and_mutations() {
        let src = SCHEMA.as_bytes();
        for end in 0..=src.len() {
            let _ = parse_file("f", &String::from_utf8_lossy(&src[..end]));
            let _ = parse_file("f", &String::from_utf8_lossy(&src[end..]));
        }
        const PIECES: &[&str] = &[
            "{",
            "}",
            "(",
            ")",
            "[",
            "]",
            ";",
            ",",
            "@",
            "$",
            ":",
            "=",
            "-",
            ".",
            "\"",
            "#",
            "\\",
            "0x\"",
            "0x",
            "!",
            "->",
            "union",
            "group",
            "struct",
            "stream",
            "import",
            "inf",
            "@0",
            "é",
            "\0",
            "\n",
            " ",
            "99999999999999999999",
            "1.5e",
            "'",
        ];
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        for _ in 0..20_000 {
            let mut bytes = src.to_vec();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len() + 1);
                match rng.below(4) {
                    0 => {
                        let len = rng.below(8).min(bytes.len() - at.min(bytes.len()));
                        bytes.drain(at..at + len);
                    }
                    1 => {
                        let piece = PIECES[rng.below(PIECES.len())].as_bytes();
                        bytes.splice(at..at, piece.iter().copied());
                    }
                    2 => {
                        if at < bytes.len() {
                            bytes[at] = rng.next() as u8;
                        }
                    }
                    _ => {
                        let len = rng.below(40).min(bytes.len() - at.min(bytes.len()));
                        let copy: Vec<u8> = bytes[at..at + len].to_vec();
                        let to = rng.below(bytes.len() + 1);
                        bytes.splice(to..to, copy);
                    }
                }
            }
            let source = String::from_utf8_lossy(&bytes);
            let (file, errors) = parse_file("f", &source);
            for e in &errors {
                assert!(e.span.start <= e.span.end && e.span.end as usize <= source.len());
                assert!(!e.message.is_empty());
            }
            assert_eq!(file.span.end as usize, source.len());
        }
    }

    /// Every schema shipped with Cap'n Proto, the reference compiler's test schema and this
    /// repository's schemas parse without error. Directories that are absent are skipped.
    #[test]
    fn parses_installed_schemas() {
        fn collect(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    collect(&path, out);
                } else if path.extension().is_some_and(|e| e == "capnp") {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        for dir in [
            "/usr/include/capnp",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas"),
            concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/compiler/valid"),
        ] {
            let dir = std::path::Path::new(dir);
            if dir.is_dir() {
                collect(dir, &mut files);
            } else {
                println!("skipping {}: not present", dir.display());
            }
        }
        let test_capnp = std::path::Path::new("/tmp/capnp-ref/test.capnp");
        if test_capnp.is_file() {
            files.push(test_capnp.to_path_buf());
        } else {
            println!("skipping {}: not present", test_capnp.display());
        }
        for path in &files {
            let source = std::fs::read_to_string(path).unwrap();
            let (file, errors) = parse_file(&path.display().to_string(), &source);
            assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
            assert!(matches!(file.id, DeclId::Uid(_)), "{}", path.display());
        }
        println!("parsed {} schema files", files.len());
    }
}
