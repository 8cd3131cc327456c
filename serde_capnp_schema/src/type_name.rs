//! Node names with generic arguments (`Pair(Text, Inner)`), in the schema language's type
//! syntax: how a caller names a generic struct with its parameters bound.

use std::sync::Arc;

use crate::model::{AnyPointerKind, Brand, BrandScope, NodeIndex, NodeKind, SchemaPool, Type};
use crate::SchemaError;

impl SchemaPool {
    /// Finds a node by name, as [`find`](Self::find) does, with the generic arguments that may
    /// follow it in the schema language's syntax: `Pair(Text, Inner)`,
    /// `Pair(Text, Pair(Data, List(Inner)))`. Returns the node and, when arguments are given,
    /// the brand binding them.
    ///
    /// Arguments are built-in types, `List(T)` and node names (with arguments of their own).
    /// Their number must be the node's number of parameters, and each must be a pointer type
    /// (Text, Data, a list, a struct, an interface or `AnyPointer`), as in a schema. A generic
    /// node named without arguments has its parameters unbound (they read as `AnyPointer`).
    ///
    /// ```
    /// # fn main() -> Result<(), serde_capnp_schema::SchemaError> {
    /// # let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/compiled/alltypes.bin")).unwrap();
    /// # let pool = serde_capnp_schema::SchemaPool::from_code_generator_request(&bytes)?;
    /// let (pair, brand) = pool.find_branded("Pair(Text, Inner)")?;
    /// assert_eq!(pool.node(pair).short_name(), "Pair");
    /// assert!(brand.is_some());
    /// assert!(pool.find_branded("Pair(Text)").is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn find_branded(&self, name: &str) -> Result<(NodeIndex, Option<Brand>), SchemaError> {
        let mut p = TypeParser {
            s: name.trim(),
            pos: 0,
            pool: self,
        };
        let (node, brand) = p.named()?;
        p.skip_ws();
        if p.pos != p.s.len() {
            return Err(SchemaError::new(format!(
                "unexpected `{}` after the node's name in `{name}`",
                &p.s[p.pos..]
            )));
        }
        Ok((node, brand))
    }
}

/// Parses a node name with optional generic arguments.
struct TypeParser<'a> {
    s: &'a str,
    pos: usize,
    pool: &'a SchemaPool,
}

impl TypeParser<'_> {
    fn skip_ws(&mut self) {
        let rest = &self.s[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn word(&mut self) -> &str {
        self.skip_ws();
        let rest = &self.s[self.pos..];
        let len = rest
            .find(|c: char| !(c.is_alphanumeric() || "_.:/-".contains(c)))
            .unwrap_or(rest.len());
        self.pos += len;
        &rest[..len]
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.s[self.pos..].starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expected(&self, what: &str) -> SchemaError {
        let found = match self.s[self.pos..].chars().next() {
            Some(c) => format!("`{c}`"),
            None => "the end".to_string(),
        };
        SchemaError::new(format!(
            "expected {what} at offset {} of `{}`, found {found}",
            self.pos, self.s
        ))
    }

    /// `Name` or `Name(T, ...)`.
    fn named(&mut self) -> Result<(NodeIndex, Option<Brand>), SchemaError> {
        let word = self.word().to_string();
        if word.is_empty() {
            return Err(self.expected("a node name"));
        }
        let node = self.pool.find(&word)?;
        if !self.eat('(') {
            return Ok((node, None));
        }
        let mut args = Vec::new();
        loop {
            args.push(self.ty()?);
            if self.eat(')') {
                break;
            }
            if !self.eat(',') {
                return Err(self.expected("`,` or `)`"));
            }
        }
        Ok((node, Some(brand_of(self.pool, node, args)?)))
    }

    fn ty(&mut self) -> Result<Type, SchemaError> {
        let save = self.pos;
        let builtin = match self.word() {
            "Void" => Type::Void,
            "Bool" => Type::Bool,
            "Int8" => Type::Int8,
            "Int16" => Type::Int16,
            "Int32" => Type::Int32,
            "Int64" => Type::Int64,
            "UInt8" => Type::UInt8,
            "UInt16" => Type::UInt16,
            "UInt32" => Type::UInt32,
            "UInt64" => Type::UInt64,
            "Float32" => Type::Float32,
            "Float64" => Type::Float64,
            "Text" => Type::Text,
            "Data" => Type::Data,
            "AnyPointer" => Type::AnyPointer(AnyPointerKind::Any),
            "AnyStruct" => Type::AnyPointer(AnyPointerKind::Struct),
            "AnyList" => Type::AnyPointer(AnyPointerKind::List),
            "Capability" => Type::AnyPointer(AnyPointerKind::Capability),
            "List" => {
                if !self.eat('(') {
                    return Err(self.expected("`(` and the element type after `List`"));
                }
                let elem = self.ty()?;
                if !self.eat(')') {
                    return Err(self.expected("`)`"));
                }
                return Ok(Type::List(Box::new(elem)));
            }
            _ => {
                self.pos = save;
                let (node, brand) = self.named()?;
                let brand = brand.map(Arc::new);
                return match &self.pool.node(node).kind {
                    NodeKind::Struct(_) => Ok(Type::Struct(node, brand)),
                    NodeKind::Enum(_) => Ok(Type::Enum(node)),
                    NodeKind::Interface(_) => Ok(Type::Interface(node, brand)),
                    _ => Err(SchemaError::new(format!(
                        "`{}` is not a type",
                        self.pool.node(node).display_name
                    ))),
                };
            }
        };
        Ok(builtin)
    }
}

/// The brand binding the parameters of `node` to `args`, checked as a schema would be.
fn brand_of(pool: &SchemaPool, node: NodeIndex, args: Vec<Type>) -> Result<Brand, SchemaError> {
    let n = pool.node(node);
    if n.parameters.is_empty() {
        return Err(SchemaError::new(format!(
            "`{}` is not generic: it takes no parameters, {} given",
            n.short_name(),
            args.len()
        )));
    }
    if n.parameters.len() != args.len() {
        return Err(SchemaError::new(format!(
            "`{}` takes {} generic parameters ({}), {} given",
            n.short_name(),
            n.parameters.len(),
            n.parameters.join(", "),
            args.len()
        )));
    }
    for (param, arg) in n.parameters.iter().zip(&args) {
        if arg.is_data() {
            return Err(SchemaError::new(format!(
                "generic parameter `{param}` of `{}` must be a pointer type (Text, Data, a list, a struct or AnyPointer), not `{}`",
                n.short_name(),
                arg.describe(pool)
            )));
        }
    }
    Ok(Brand {
        scopes: vec![BrandScope {
            scope_id: n.id,
            bindings: Some(args.into_iter().map(Some).collect()),
        }],
    })
}
