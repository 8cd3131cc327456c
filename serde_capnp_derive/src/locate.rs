//! Where declarations are in a `.capnp` file, for messages that point at the schema
//! (`schemas/x.capnp:12:3`).
//!
//! The compiled schema carries no source positions (`capnp compile` 0.9 writes none), so the
//! text is scanned once for declarations: a light pass over the tokens that tracks the nesting
//! of `struct`, `enum`, `interface`, groups and unions. It needs no more than the grammar's
//! shape, and a file it cannot follow only costs positions, never a wrong check.

use std::collections::HashMap;

/// Declaration positions of one file: (dotted scope path, name) → (line, column), 1-based.
#[derive(Default, Debug)]
pub struct Positions {
    map: HashMap<(String, String), (u32, u32)>,
}

impl Positions {
    pub fn get(&self, scope: &str, name: &str) -> Option<(u32, u32)> {
        self.map
            .get(&(scope.to_string(), name.to_string()))
            .copied()
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok<'s> {
    Ident(&'s str),
    Punct(char),
    Other,
}

fn tokens(src: &str) -> Vec<(Tok<'_>, u32, u32)> {
    let mut out = Vec::new();
    let bytes = src.as_bytes();
    let (mut i, mut line, mut line_start) = (0usize, 1u32, 0usize);
    while i < bytes.len() {
        let c = bytes[i];
        let col = (src[line_start..i].chars().count() + 1) as u32;
        match c {
            b'\n' => {
                i += 1;
                line += 1;
                line_start = i;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    if i < bytes.len() && bytes[i] == b'\n' {
                        line += 1;
                        line_start = i + 1;
                    }
                    i += 1;
                }
                i += 1;
                out.push((Tok::Other, line, col));
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                out.push((Tok::Ident(&src[start..i]), line, col));
            }
            c if c.is_ascii_whitespace() => i += 1,
            c if c.is_ascii_digit() => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                    i += 1;
                }
                out.push((Tok::Other, line, col));
            }
            c if c.is_ascii() => {
                out.push((Tok::Punct(c as char), line, col));
                i += 1;
            }
            _ => {
                // A non-ASCII character outside strings and comments: skip the whole of it.
                i += src[i..].chars().next().map_or(1, char::len_utf8);
                out.push((Tok::Other, line, col));
            }
        }
    }
    out
}

/// Scans `src` for declarations.
pub fn scan(src: &str) -> Positions {
    let toks = tokens(src);
    let mut positions = Positions::default();
    // Named scopes enclosing the current position; `None` for a brace that adds no name (the
    // unnamed union, or one this scan does not understand).
    let mut scopes: Vec<Option<String>> = Vec::new();
    let mut start = 0usize;
    for (i, (tok, _, _)) in toks.iter().enumerate() {
        match tok {
            Tok::Punct(';') => start = i + 1,
            Tok::Punct('}') => {
                scopes.pop();
                start = i + 1;
            }
            Tok::Punct('{') => {
                let stmt = &toks[start..i];
                let scope_path = path_of(&scopes);
                let mut pushed = None;
                match stmt {
                    [(Tok::Ident("struct" | "enum" | "interface"), ..), (Tok::Ident(name), line, col), ..] =>
                    {
                        positions
                            .map
                            .insert((scope_path, name.to_string()), (*line, *col));
                        pushed = Some(name.to_string());
                    }
                    [(Tok::Ident(name), line, col), (Tok::Punct(':'), ..), (Tok::Ident("group" | "union"), ..), ..] =>
                    {
                        positions
                            .map
                            .insert((scope_path, name.to_string()), (*line, *col));
                        pushed = Some(name.to_string());
                    }
                    _ => {}
                }
                let transparent = matches!(stmt, [(Tok::Ident("union"), ..)]);
                scopes.push(if transparent {
                    Some(String::new())
                } else {
                    pushed
                });
                start = i + 1;
            }
            Tok::Punct('@') if i == start + 1 => {
                if let (Tok::Ident(name), line, col) = &toks[start] {
                    positions
                        .map
                        .insert((path_of(&scopes), name.to_string()), (*line, *col));
                }
            }
            _ => {}
        }
    }
    positions
}

/// The dotted path of the named scopes; an unnamed union adds nothing.
fn path_of(scopes: &[Option<String>]) -> String {
    let mut parts = Vec::new();
    for s in scopes {
        match s {
            Some(s) if s.is_empty() => {}
            Some(s) => parts.push(s.as_str()),
            None => parts.push("?"),
        }
    }
    parts.join(".")
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_nested_declarations() {
        let p = super::scan(
            "@0x86d2c231cd9f46ee;\nstruct Person {\n  id @0 :UInt32; # a \"comment\" {\n  phones @3 :List(PhoneNumber);\n  struct PhoneNumber {\n    number @0 :Text = \"}\";\n    enum Type { mobile @0; home @1; }\n  }\n  employment :union {\n    unemployed @4 :Void;\n  }\n  union { a @5 :Void; b @6 :Text; }\n}\n",
        );
        assert_eq!(p.get("", "Person"), Some((2, 8)));
        assert_eq!(p.get("Person", "id"), Some((3, 3)));
        assert_eq!(p.get("Person", "PhoneNumber"), Some((5, 10)));
        assert_eq!(p.get("Person.PhoneNumber", "number"), Some((6, 5)));
        assert_eq!(p.get("Person.PhoneNumber.Type", "home"), Some((7, 28)));
        assert_eq!(p.get("Person", "employment"), Some((9, 3)));
        assert_eq!(p.get("Person.employment", "unemployed"), Some((10, 5)));
        assert_eq!(p.get("Person", "b"), Some((12, 23)));
    }
}
