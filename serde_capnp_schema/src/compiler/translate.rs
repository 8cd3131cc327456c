//! Turns parsed files into schema nodes: names, IDs, generic brands, struct layouts, values and
//! annotations, with the reference compiler's rules and error messages.

use super::ast::*;
use super::out;
use super::{ids, layout};
use crate::FastMap;
use std::collections::HashMap;
use std::rc::Rc;

mod eval;
mod nodes;
mod values;
pub(crate) use eval::evaluate;
pub use eval::EvalOutput;
use nodes::*;
use values::*;

/// One parsed source file.
pub(crate) struct Unit {
    /// The name the file is known by (as given, or its import path without the leading `/`).
    pub name: String,
    pub source: String,
    pub ast: Decl,
    /// Whether the parser reported errors (then a missing file ID is not reported again).
    pub had_syntax_errors: bool,
}

/// What the translator reads: the files and how their imports resolved.
pub(crate) struct Program<'a> {
    pub units: &'a [Unit],
    /// `(importing unit, import string)` → imported unit; absent when the import failed.
    pub imports: &'a HashMap<(usize, String), usize>,
    /// Bytes of `embed` targets, by `(unit, path string)`.
    pub embeds: &'a HashMap<(usize, String), Vec<u8>>,
}

/// An error at a place in a unit.
pub(crate) struct Error {
    pub unit: usize,
    pub span: Span,
    pub message: String,
}

/// Translates `requested` units (and whatever they need from the others) into a request.
pub(crate) fn translate(program: Program<'_>, requested: &[usize]) -> (out::Request, Vec<Error>) {
    let mut t = Translator::new(program);
    let mut request = out::Request::default();
    let mut seen: FastMap<usize, u32> = FastMap::default();
    let mut order: Vec<usize> = Vec::new();
    // Files are added one at a time and each is compiled before the next is added, as the
    // reference compiler does: which node keeps a duplicated ID depends on that order.
    for &u in requested {
        let root = t.file_root(u);
        t.traverse(
            root,
            NODE | CHILDREN | DEPENDENCIES | DEPENDENCY_PARENTS,
            &mut seen,
            &mut order,
        );
    }
    // Source info in the order the reference compiler collects it, first one per ID kept (which
    // matters for the parameter structs, whose source info all has ID 0).
    let mut seen_info = std::collections::HashSet::new();
    for &idx in &order {
        if let Some(done) = t.finished(idx) {
            for info in &done.source_info {
                if seen_info.insert(info.id) {
                    request.source_info.push(info.clone());
                }
            }
        }
    }
    let mut nodes: Vec<usize> = seen.keys().copied().collect();
    nodes.sort_unstable();
    for idx in nodes {
        if let Some(done) = t.finished(idx) {
            request.nodes.push(done.node.clone());
            request.nodes.extend(done.aux.iter().cloned());
        }
    }
    // Annotation values, now that every node they could need is laid out. Only the values of
    // nodes in the request matter (others were translated just for their layout).
    let positions: FastMap<u64, usize> = request
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id, i))
        .collect();
    let mut next = 0;
    while next < t.jobs.len() {
        let job = t.jobs[next].clone();
        next += 1;
        let Some(&at) = positions.get(&job.owner) else {
            continue;
        };
        let value = t.compile_value_to_out(&job.scope, job.expr, &job.type_, job.resolver);
        let node = &mut request.nodes[at];
        let annotations = match (job.site, &mut node.kind) {
            (Site::Node, _) => Some(&mut node.annotations),
            (Site::Member(i), out::NodeKind::Struct(s)) => {
                s.fields.get_mut(i).map(|f| &mut f.annotations)
            }
            (Site::Member(i), out::NodeKind::Enum(list)) => {
                list.get_mut(i).map(|e| &mut e.annotations)
            }
            (Site::Member(i), out::NodeKind::Interface { methods, .. }) => {
                methods.get_mut(i).map(|m| &mut m.annotations)
            }
            _ => None,
        };
        if let Some(a) = annotations.and_then(|a| a.get_mut(job.index)) {
            a.value = value;
        }
    }
    for &u in requested {
        let root = t.file_root(u);
        let mut imports: Vec<(u64, String)> = Vec::new();
        let mut names = std::collections::BTreeSet::new();
        find_imports(&t.p.units[u].ast, &mut names);
        for name in names {
            if let Some(&target) = t.p.imports.get(&(u, name.clone())) {
                let target = t.file_root(target);
                imports.push((t.nodes[target].id, name));
            }
        }
        request.requested_files.push(out::RequestedFile {
            id: t.nodes[root].id,
            filename: t.p.units[u].name.clone(),
            imports,
        });
    }
    (request, t.errors)
}

// Eagerness bits, as the reference compiler's `compile` command uses them: the requested files,
// all their children, and everything they depend on together with the parents of those.
const NODE: u32 = 1;
const PARENTS: u32 = 2;
const CHILDREN: u32 = 4;
const DEPENDENCIES: u32 = NODE << 15;
const DEPENDENCY_PARENTS: u32 = PARENTS * DEPENDENCIES;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Struct,
    Enum,
    Interface,
    Const,
    Annotation,
}

struct DNode<'a> {
    unit: usize,
    parent: Option<usize>,
    decl: &'a Decl,
    id: u64,
    display_name: String,
    kind: Kind,
    param_count: u16,
    nested: Vec<usize>,
    members: FastMap<&'a str, Member>,
    /// The `using` declarations in this node, in code order, including any whose name clashes.
    aliases: Vec<usize>,
    /// Whether the nested declarations have been made nodes (and their IDs claimed).
    expanded: bool,
}

#[derive(Debug, Clone, Copy)]
enum Member {
    Node(usize),
    Alias(usize),
}

struct Alias<'a> {
    /// The node the `using` is declared in.
    scope: usize,
    target: &'a Expr,
    state: AliasState,
}

#[derive(Clone)]
enum AliasState {
    Pending,
    InProgress,
    Done(Option<Resolved>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Node(usize),
    Builtin(Builtin),
}

#[derive(Debug, Clone)]
struct RDecl {
    target: Target,
    id: u64,
    param_count: u16,
    /// The ID of the scope the name was found in (its lexical parent, or the alias's scope).
    scope_id: u64,
    /// Bindings carried by a `using` alias.
    brand: Option<out::Brand>,
}

#[derive(Debug, Clone)]
enum Resolved {
    Decl(RDecl),
    /// A generic parameter: `scope_id` 0 means an implicit method parameter.
    Param {
        scope_id: u64,
        index: u16,
    },
}

/// The generic bindings in effect for a name, one level per enclosing generic scope.
#[derive(Debug)]
struct BrandScope {
    parent: Option<Rc<BrandScope>>,
    leaf_id: u64,
    leaf_params: u16,
    /// The bindings come from wherever the type is used.
    inherited: bool,
    params: Vec<BDecl>,
}

/// A resolved name together with its generic bindings.
#[derive(Debug, Clone)]
enum BDecl {
    Decl {
        decl: RDecl,
        brand: Rc<BrandScope>,
        span: Span,
    },
    Param {
        scope_id: u64,
        index: u16,
        span: Span,
    },
}

impl BDecl {
    fn span(&self) -> Span {
        match self {
            BDecl::Decl { span, .. } | BDecl::Param { span, .. } => *span,
        }
    }
}

#[derive(Clone, Copy)]
struct Implicit<'a> {
    scope_id: u64,
    names: &'a [Located<String>],
}

const NO_IMPLICIT: Implicit<'static> = Implicit {
    scope_id: 0,
    names: &[],
};

/// A translated node with the groups and parameter structs it owns.
#[derive(Debug, Clone)]
struct Finished {
    node: out::Node,
    aux: Vec<out::Node>,
    source_info: Vec<out::SourceInfo>,
}

/// A translated node inside the `Finished` that holds it: the node itself, or one of its
/// auxiliary nodes (groups, parameter structs).
struct NodeRef(Rc<Finished>, Option<usize>);

impl std::ops::Deref for NodeRef {
    type Target = out::Node;

    fn deref(&self) -> &out::Node {
        match self.1 {
            Some(aux) => &self.0.aux[aux],
            None => &self.0.node,
        }
    }
}

enum State {
    Pending,
    InProgress,
    Done(Option<Rc<Finished>>),
}

struct Translator<'a> {
    p: Program<'a>,
    nodes: Vec<DNode<'a>>,
    aliases: Vec<Alias<'a>>,
    by_id: FastMap<u64, usize>,
    /// Each unit's file node, once something has imported or requested the unit.
    file_roots: Vec<Option<usize>>,
    states: Vec<State>,
    /// A node's layout (and its data fields' defaults), available while its pointer values and
    /// annotations are still being compiled: those may refer back to the node itself.
    bootstrap: Vec<Option<Rc<Finished>>>,
    /// Group and parameter-struct IDs → the node that owns them.
    aux_owner: FastMap<u64, usize>,
    next_bogus_id: u64,
    errors: Vec<Error>,
    /// Annotation values still to compile.
    jobs: Vec<ValueJob<'a>>,
    /// Whether annotations are compiled; `capnp eval` leaves them out (and so does not even
    /// import the files that declare them).
    annotations: bool,
}

/// Where an annotation sits in a node: on the node, or on its field, enumerant or method number
/// N.
#[derive(Debug, Clone, Copy)]
enum Site {
    Node,
    Member(usize),
}

/// An annotation value compiled after the nodes are translated: it may be a value of a type that
/// is still being laid out when the annotation is met (the annotated struct itself, say).
#[derive(Clone)]
struct ValueJob<'a> {
    owner: u64,
    site: Site,
    index: usize,
    expr: &'a Expr,
    type_: out::Type,
    scope: Rc<BrandScope>,
    resolver: usize,
}

const BUILTINS: &[(&str, Builtin)] = &[
    ("Void", Builtin::Void),
    ("Bool", Builtin::Bool),
    ("Int8", Builtin::Int8),
    ("Int16", Builtin::Int16),
    ("Int32", Builtin::Int32),
    ("Int64", Builtin::Int64),
    ("UInt8", Builtin::UInt8),
    ("UInt16", Builtin::UInt16),
    ("UInt32", Builtin::UInt32),
    ("UInt64", Builtin::UInt64),
    ("Float32", Builtin::Float32),
    ("Float64", Builtin::Float64),
    ("Text", Builtin::Text),
    ("Data", Builtin::Data),
    ("List", Builtin::List),
    ("Object", Builtin::Object),
    ("AnyPointer", Builtin::AnyPointer),
    ("AnyStruct", Builtin::AnyStruct),
    ("AnyList", Builtin::AnyList),
    ("Capability", Builtin::Capability),
];

fn builtin_decl(b: Builtin) -> RDecl {
    let index = BUILTINS.iter().position(|(_, x)| *x == b).unwrap_or(0);
    RDecl {
        target: Target::Builtin(b),
        // Never a real ID (those have the top bit set); unique per builtin.
        id: 1000 + index as u64,
        param_count: u16::from(b == Builtin::List),
        scope_id: 0,
        brand: None,
    }
}

fn builtin_name(b: Builtin) -> &'static str {
    BUILTINS
        .iter()
        .find(|(_, x)| *x == b)
        .map(|(n, _)| *n)
        .unwrap_or("?")
}

/// Renders an expression the way it was written, for error messages.
fn expr_string(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Unknown => "<error>".into(),
        ExprKind::PositiveInt(v) => v.to_string(),
        ExprKind::NegativeInt(v) => format!("-{v}"),
        ExprKind::Float(v) => v.to_string(),
        ExprKind::String(s) => format!("{s:?}"),
        ExprKind::StringBytes(b) => format!("{:?}", String::from_utf8_lossy(b)),
        ExprKind::Binary(b) => format!(
            "0x\"{}\"",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ),
        ExprKind::RelativeName(n) => n.value.clone(),
        ExprKind::AbsoluteName(n) => format!(".{}", n.value),
        ExprKind::Import(n) => format!("import {:?}", n.value),
        ExprKind::Embed(n) => format!("embed {:?}", n.value),
        ExprKind::List(items) => format!(
            "[{}]",
            items.iter().map(expr_string).collect::<Vec<_>>().join(", ")
        ),
        ExprKind::Tuple(params) => format!("({})", params_string(params)),
        ExprKind::Application { function, params } => {
            format!("{}({})", expr_string(function), params_string(params))
        }
        ExprKind::Member { parent, name } => format!("{}.{}", expr_string(parent), name.value),
    }
}

fn params_string(params: &[Param]) -> String {
    params
        .iter()
        .map(|p| match &p.name {
            Some(n) => format!("{} = {}", n.value, expr_string(&p.value)),
            None => expr_string(&p.value),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Collects the names of imports a file's declarations use as types (not in values), which is
/// what `RequestedFile.imports` lists.
fn find_imports(decl: &Decl, out: &mut std::collections::BTreeSet<String>) {
    fn expr(e: &Expr, out: &mut std::collections::BTreeSet<String>) {
        match &e.kind {
            ExprKind::Import(name) => {
                out.insert(name.value.clone());
            }
            ExprKind::Application { function, params } => {
                expr(function, out);
                for p in params {
                    expr(&p.value, out);
                }
            }
            ExprKind::Member { parent, .. } => expr(parent, out),
            _ => {}
        }
    }
    fn params(list: &ParamList, out: &mut std::collections::BTreeSet<String>) {
        match &list.kind {
            ParamListKind::Named(ps) => {
                for p in ps {
                    expr(&p.type_, out);
                    for a in &p.annotations {
                        expr(&a.name, out);
                    }
                }
            }
            ParamListKind::Type(e) => expr(e, out),
            ParamListKind::Stream => {
                out.insert("/capnp/stream.capnp".to_string());
            }
        }
    }
    match &decl.kind {
        DeclKind::Using { target } => expr(target, out),
        DeclKind::Const { type_, .. } => expr(type_, out),
        DeclKind::Field { type_, .. } => expr(type_, out),
        DeclKind::Interface { superclasses } => {
            for s in superclasses {
                expr(s, out);
            }
        }
        DeclKind::Method { params: p, results } => {
            params(p, out);
            if let Some(r) = results {
                params(r, out);
            }
        }
        // An annotation declaration's type is not listed, as the reference compiler does not.
        DeclKind::NakedAnnotation(a) => expr(&a.name, out),
        _ => {}
    }
    for a in &decl.annotations {
        expr(&a.name, out);
    }
    for n in &decl.nested {
        find_imports(n, out);
    }
}

impl<'a> Translator<'a> {
    fn new(p: Program<'a>) -> Self {
        Translator {
            file_roots: vec![None; p.units.len()],
            p,
            nodes: Vec::new(),
            aliases: Vec::new(),
            by_id: FastMap::default(),
            states: Vec::new(),
            bootstrap: Vec::new(),
            aux_owner: FastMap::default(),
            next_bogus_id: 1000,
            errors: Vec::new(),
            jobs: Vec::new(),
            annotations: true,
        }
    }

    fn error(&mut self, unit: usize, span: Span, message: impl Into<String>) {
        self.errors.push(Error {
            unit,
            span,
            message: message.into(),
        });
    }

    // ---------------------------------------------------------------------------------------
    // The declaration tree

    fn file_id(&mut self, u: usize) -> u64 {
        let unit = &self.p.units[u];
        if let DeclId::Uid(id) = unit.ast.id {
            return id.value;
        }
        for d in &unit.ast.nested {
            if let DeclKind::NakedId(id) = &d.kind {
                return id.value;
            }
        }
        let id = ids::random_file_id();
        if !unit.had_syntax_errors {
            self.error(
                u,
                Span::new(0, 0),
                format!(
                    "File does not declare an ID.  I've generated one for you.  Add this line to \
                     your file: @0x{id:016x};"
                ),
            );
        }
        id
    }

    /// The file node of unit `u`, added (and its ID claimed) the first time the unit is
    /// requested or an import of it is resolved. Its declarations become nodes only when
    /// something looks inside it: the reference compiler is lazy in the same way, so a file
    /// that is loaded but never used cannot clash with another one over an ID.
    fn file_root(&mut self, u: usize) -> usize {
        if let Some(idx) = self.file_roots[u] {
            return idx;
        }
        let id = self.file_id(u);
        let units = self.p.units;
        let unit = &units[u];
        let idx = self.add_node(DNode {
            unit: u,
            parent: None,
            decl: &unit.ast,
            id,
            display_name: unit.name.clone(),
            kind: Kind::File,
            param_count: 0,
            nested: Vec::new(),
            members: FastMap::default(),
            aliases: Vec::new(),
            expanded: false,
        });
        self.file_roots[u] = Some(idx);
        idx
    }

    fn add_node(&mut self, node: DNode<'a>) -> usize {
        let idx = self.nodes.len();
        let mut id = node.id;
        let (unit, span) = (node.unit, node_span(node.decl));
        self.nodes.push(node);
        self.states.push(State::Pending);
        self.bootstrap.push(None);
        loop {
            match self.by_id.get(&id) {
                None => break,
                Some(&other) => {
                    if id & (1 << 63) != 0 {
                        self.error(unit, span, format!("Duplicate ID @0x{id:x}."));
                        let (ou, os) = (self.nodes[other].unit, node_span(self.nodes[other].decl));
                        self.error(ou, os, format!("ID @0x{id:x} originally used here."));
                    }
                    id = self.next_bogus_id;
                    self.next_bogus_id += 1;
                }
            }
        }
        self.by_id.insert(id, idx);
        self.nodes[idx].id = id;
        idx
    }

    /// Makes the declarations nested in node `idx` nodes of their own, claiming their IDs in
    /// declaration order; their own nested declarations wait until they are looked into.
    fn expand(&mut self, idx: usize) {
        if self.nodes[idx].expanded {
            return;
        }
        self.nodes[idx].expanded = true;
        let decl = self.nodes[idx].decl;
        for nested in &decl.nested {
            let kind = match nested.kind {
                DeclKind::Const { .. } => Kind::Const,
                DeclKind::Annotation { .. } => Kind::Annotation,
                DeclKind::Enum => Kind::Enum,
                DeclKind::Struct => Kind::Struct,
                DeclKind::Interface { .. } => Kind::Interface,
                DeclKind::Using { ref target } => {
                    let a = self.aliases.len();
                    self.aliases.push(Alias {
                        scope: idx,
                        target,
                        state: AliasState::Pending,
                    });
                    self.nodes[idx].aliases.push(a);
                    self.nodes[idx]
                        .members
                        .entry(nested.name.value.as_str())
                        .or_insert(Member::Alias(a));
                    continue;
                }
                _ => continue,
            };
            let parent = &self.nodes[idx];
            let id = match nested.id {
                DeclId::Uid(id) => id.value,
                _ => ids::child_id(parent.id, &nested.name.value),
            };
            let separator = if parent.parent.is_none() { ':' } else { '.' };
            let display_name = format!("{}{}{}", parent.display_name, separator, nested.name.value);
            let child = self.add_node(DNode {
                unit: self.nodes[idx].unit,
                parent: Some(idx),
                decl: nested,
                id,
                display_name,
                kind,
                param_count: nested.parameters.len().min(u16::MAX as usize) as u16,
                nested: Vec::new(),
                members: FastMap::default(),
                aliases: Vec::new(),
                expanded: false,
            });
            self.nodes[idx].nested.push(child);
            self.nodes[idx]
                .members
                .entry(nested.name.value.as_str())
                .or_insert(Member::Node(child));
        }
    }

    fn rdecl_of(&self, idx: usize) -> RDecl {
        let n = &self.nodes[idx];
        RDecl {
            target: Target::Node(idx),
            id: n.id,
            param_count: n.param_count,
            scope_id: n.parent.map(|p| self.nodes[p].id).unwrap_or(0),
            brand: None,
        }
    }

    // ---------------------------------------------------------------------------------------
    // Names

    fn resolve(&mut self, idx: usize, name: &str) -> Option<Resolved> {
        let mut cur = idx;
        loop {
            if let Some(r) = self.resolve_member(cur, name) {
                return Some(r);
            }
            let n = &self.nodes[cur];
            if let Some(i) = n.decl.parameters.iter().position(|p| p.value == name) {
                return Some(Resolved::Param {
                    scope_id: n.id,
                    index: i as u16,
                });
            }
            match n.parent {
                Some(p) => cur = p,
                None => {
                    return BUILTINS
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, b)| Resolved::Decl(builtin_decl(*b)))
                }
            }
        }
    }

    fn resolve_member(&mut self, idx: usize, name: &str) -> Option<Resolved> {
        self.expand(idx);
        match self.nodes[idx].members.get(name).copied()? {
            Member::Node(child) => {
                let mut d = self.rdecl_of(child);
                d.scope_id = self.nodes[idx].id;
                Some(Resolved::Decl(d))
            }
            Member::Alias(a) => self.compile_alias(a),
        }
    }

    fn compile_alias(&mut self, a: usize) -> Option<Resolved> {
        match &self.aliases[a].state {
            AliasState::Done(r) => return r.clone(),
            // A `using` that refers back to itself resolves to nothing; the names involved are
            // then reported as not defined.
            AliasState::InProgress => return None,
            AliasState::Pending => {}
        }
        self.aliases[a].state = AliasState::InProgress;
        let scope = self.aliases[a].scope;
        let target = self.aliases[a].target;
        let brand = self.starting_scope(scope);
        let result = self
            .compile_decl_expr(&brand, target, scope, NO_IMPLICIT)
            .map(|d| match d {
                BDecl::Decl {
                    mut decl, brand, ..
                } => {
                    decl.scope_id = self.nodes[scope].id;
                    let compiled = self.compile_brand(&brand, scope);
                    decl.brand = (!compiled.scopes.is_empty()).then_some(compiled);
                    Resolved::Decl(decl)
                }
                BDecl::Param {
                    scope_id, index, ..
                } => Resolved::Param { scope_id, index },
            });
        self.aliases[a].state = AliasState::Done(result.clone());
        result
    }

    // ---------------------------------------------------------------------------------------
    // Brands

    /// The brand scope of code inside node `idx`: every generic parameter of it and its parents is
    /// bound to itself (inherited).
    fn starting_scope(&self, idx: usize) -> Rc<BrandScope> {
        let n = &self.nodes[idx];
        Rc::new(BrandScope {
            parent: n.parent.map(|p| self.starting_scope(p)),
            leaf_id: n.id,
            leaf_params: n.param_count,
            inherited: true,
            params: Vec::new(),
        })
    }

    fn push_scope(parent: &Rc<BrandScope>, id: u64, params: u16) -> Rc<BrandScope> {
        Rc::new(BrandScope {
            parent: Some(parent.clone()),
            leaf_id: id,
            leaf_params: params,
            inherited: false,
            params: Vec::new(),
        })
    }

    /// The innermost scope of `scope`'s chain that binds the parameters of `id`.
    fn find_scope(scope: &Rc<BrandScope>, id: u64) -> Option<&Rc<BrandScope>> {
        let mut cur = scope;
        loop {
            if cur.leaf_id == id {
                return Some(cur);
            }
            cur = cur.parent.as_ref()?;
        }
    }

    fn pop_scope(scope: &Rc<BrandScope>, id: u64) -> Rc<BrandScope> {
        match Self::find_scope(scope, id) {
            Some(found) => found.clone(),
            None => Rc::new(BrandScope {
                parent: None,
                leaf_id: id,
                leaf_params: 0,
                inherited: false,
                params: Vec::new(),
            }),
        }
    }

    fn any_pointer_decl() -> BDecl {
        let decl = builtin_decl(Builtin::AnyPointer);
        BDecl::Decl {
            brand: Rc::new(BrandScope {
                parent: None,
                leaf_id: decl.id,
                leaf_params: 0,
                inherited: false,
                params: Vec::new(),
            }),
            decl,
            span: Span::default(),
        }
    }

    /// `None`: the parameter is inherited from the context the type is used in.
    fn lookup_parameter(scope: &Rc<BrandScope>, scope_id: u64, index: u16) -> Option<BDecl> {
        let found = Self::find_scope(scope, scope_id)?;
        if let Some(p) = found.params.get(index as usize) {
            Some(p.clone())
        } else if found.inherited {
            None
        } else {
            Some(Self::any_pointer_decl())
        }
    }

    fn scope_params(scope: &Rc<BrandScope>, scope_id: u64) -> Option<Vec<BDecl>> {
        let found = Self::find_scope(scope, scope_id)?;
        (!found.inherited).then(|| found.params.clone())
    }

    fn interpret_resolve(
        &mut self,
        scope: &Rc<BrandScope>,
        resolved: Resolved,
        span: Span,
        resolver: usize,
    ) -> BDecl {
        match resolved {
            Resolved::Decl(decl) => {
                let base = Self::pop_scope(scope, decl.scope_id);
                let brand = match &decl.brand {
                    Some(b) => self.evaluate_brand(&base, &decl, &b.scopes, 0, resolver),
                    None => Self::push_scope(&base, decl.id, decl.param_count),
                };
                BDecl::Decl { decl, brand, span }
            }
            Resolved::Param { scope_id, index } => Self::lookup_parameter(scope, scope_id, index)
                .unwrap_or(BDecl::Param {
                    scope_id,
                    index,
                    span,
                }),
        }
    }

    fn parent_rdecl(&self, decl: &RDecl) -> Option<RDecl> {
        match decl.target {
            Target::Node(i) => self.nodes[i].parent.map(|p| self.rdecl_of(p)),
            Target::Builtin(_) => None,
        }
    }

    fn evaluate_brand(
        &mut self,
        context: &Rc<BrandScope>,
        decl: &RDecl,
        scopes: &[out::BrandScope],
        mut index: usize,
        resolver: usize,
    ) -> Rc<BrandScope> {
        let mut result = BrandScope {
            parent: None,
            leaf_id: decl.id,
            leaf_params: decl.param_count,
            inherited: false,
            params: Vec::new(),
        };
        if let Some(next) = scopes.get(index) {
            if next.scope_id == decl.id {
                match &next.bind {
                    Some(bindings) => {
                        result.params = bindings
                            .iter()
                            .map(|b| match b {
                                None => Self::any_pointer_decl(),
                                Some(t) => self.decompile_type(context, t, resolver),
                            })
                            .collect();
                    }
                    None => match Self::scope_params(context, decl.id) {
                        Some(p) => result.params = p,
                        None => result.inherited = true,
                    },
                }
                index += 1;
            }
        }
        if let Some(parent) = self.parent_rdecl(decl) {
            result.parent = Some(self.evaluate_brand(context, &parent, scopes, index, resolver));
        }
        Rc::new(result)
    }

    fn decompile_type(
        &mut self,
        context: &Rc<BrandScope>,
        t: &out::Type,
        resolver: usize,
    ) -> BDecl {
        let builtin = |b: Builtin| {
            let decl = builtin_decl(b);
            BDecl::Decl {
                brand: Rc::new(BrandScope {
                    parent: None,
                    leaf_id: decl.id,
                    leaf_params: decl.param_count,
                    inherited: false,
                    params: Vec::new(),
                }),
                decl,
                span: Span::default(),
            }
        };
        let named = |this: &mut Self, id: u64, brand: &out::Brand| match this.by_id.get(&id) {
            Some(&i) => {
                let decl = this.rdecl_of(i);
                let scope = this.evaluate_brand(context, &decl, &brand.scopes, 0, resolver);
                BDecl::Decl {
                    decl,
                    brand: scope,
                    span: Span::default(),
                }
            }
            None => builtin(Builtin::AnyPointer),
        };
        match t {
            out::Type::Void => builtin(Builtin::Void),
            out::Type::Bool => builtin(Builtin::Bool),
            out::Type::Int8 => builtin(Builtin::Int8),
            out::Type::Int16 => builtin(Builtin::Int16),
            out::Type::Int32 => builtin(Builtin::Int32),
            out::Type::Int64 => builtin(Builtin::Int64),
            out::Type::UInt8 => builtin(Builtin::UInt8),
            out::Type::UInt16 => builtin(Builtin::UInt16),
            out::Type::UInt32 => builtin(Builtin::UInt32),
            out::Type::UInt64 => builtin(Builtin::UInt64),
            out::Type::Float32 => builtin(Builtin::Float32),
            out::Type::Float64 => builtin(Builtin::Float64),
            out::Type::Text => builtin(Builtin::Text),
            out::Type::Data => builtin(Builtin::Data),
            out::Type::Enum(id, b) | out::Type::Struct(id, b) | out::Type::Interface(id, b) => {
                named(self, *id, b)
            }
            out::Type::List(element) => {
                let element = self.decompile_type(context, element, resolver);
                let decl = builtin_decl(Builtin::List);
                BDecl::Decl {
                    brand: Rc::new(BrandScope {
                        parent: None,
                        leaf_id: decl.id,
                        leaf_params: 1,
                        inherited: false,
                        params: vec![element],
                    }),
                    decl,
                    span: Span::default(),
                }
            }
            out::Type::AnyPointer(out::AnyPointer::Parameter { scope_id, index }) => {
                Self::lookup_parameter(context, *scope_id, *index).unwrap_or(BDecl::Param {
                    scope_id: *scope_id,
                    index: *index,
                    span: Span::default(),
                })
            }
            out::Type::AnyPointer(out::AnyPointer::AnyStruct) => builtin(Builtin::AnyStruct),
            out::Type::AnyPointer(out::AnyPointer::AnyList) => builtin(Builtin::AnyList),
            out::Type::AnyPointer(out::AnyPointer::Capability) => builtin(Builtin::Capability),
            out::Type::AnyPointer(_) => builtin(Builtin::AnyPointer),
        }
    }

    fn set_params(
        &mut self,
        unit: usize,
        base: &Rc<BrandScope>,
        params: Vec<BDecl>,
        generic: &RDecl,
        span: Span,
    ) -> Option<Rc<BrandScope>> {
        if !base.params.is_empty() {
            self.error(unit, span, "Double-application of generic parameters.");
            return None;
        }
        if params.len() > base.leaf_params as usize {
            let message = if base.leaf_params == 0 {
                "Declaration does not accept generic parameters."
            } else {
                "Too many generic parameters."
            };
            self.error(unit, span, message);
            return None;
        }
        if params.len() < base.leaf_params as usize {
            self.error(unit, span, "Not enough generic parameters.");
            return None;
        }
        if generic.target != Target::Builtin(Builtin::List) {
            for p in &params {
                if let BDecl::Decl { decl, span, .. } = p {
                    let ok = match decl.target {
                        Target::Builtin(b) => matches!(
                            b,
                            Builtin::List | Builtin::Text | Builtin::Data | Builtin::AnyPointer
                        ),
                        Target::Node(i) => {
                            matches!(self.nodes[i].kind, Kind::Struct | Kind::Interface)
                        }
                    };
                    if !ok {
                        self.error(
                            unit,
                            *span,
                            "Sorry, only pointer types can be used as generic parameters.",
                        );
                    }
                }
            }
        }
        Some(Rc::new(BrandScope {
            parent: base.parent.clone(),
            leaf_id: base.leaf_id,
            leaf_params: base.leaf_params,
            inherited: false,
            params,
        }))
    }

    /// Resolves a name expression in the brand context `scope`, looking names up from node
    /// `resolver`.
    fn compile_decl_expr(
        &mut self,
        scope: &Rc<BrandScope>,
        e: &Expr,
        resolver: usize,
        implicit: Implicit<'_>,
    ) -> Option<BDecl> {
        let unit = self.nodes[resolver].unit;
        match &e.kind {
            ExprKind::Unknown => None,
            ExprKind::RelativeName(name) => {
                if let Some(i) = implicit.names.iter().position(|n| n.value == name.value) {
                    return Some(BDecl::Param {
                        scope_id: implicit.scope_id,
                        index: i as u16,
                        span: e.span,
                    });
                }
                match self.resolve(resolver, &name.value) {
                    Some(r) => Some(self.interpret_resolve(scope, r, e.span, resolver)),
                    None => {
                        self.error(unit, name.span, format!("Not defined: {}", name.value));
                        None
                    }
                }
            }
            ExprKind::AbsoluteName(name) => {
                let top = self.top_scope(resolver);
                match self.resolve_member(top, &name.value) {
                    Some(r) => Some(self.interpret_resolve(scope, r, e.span, resolver)),
                    None => {
                        self.error(unit, name.span, format!("Not defined: {}", name.value));
                        None
                    }
                }
            }
            ExprKind::Import(name) => {
                match self.p.imports.get(&(unit, name.value.clone())).copied() {
                    Some(u) => {
                        let root = self.file_root(u);
                        let decl = self.rdecl_of(root);
                        Some(BDecl::Decl {
                            brand: self.starting_scope(root),
                            decl,
                            span: e.span,
                        })
                    }
                    None => {
                        self.error(unit, name.span, format!("Import failed: {}", name.value));
                        None
                    }
                }
            }
            ExprKind::Application { function, params } => {
                let decl = self.compile_decl_expr(scope, function, resolver, implicit)?;
                let mut compiled = Vec::new();
                let mut failed = false;
                for p in params {
                    if let Some(n) = &p.name {
                        self.error(unit, n.span, "Named parameter not allowed here.");
                    }
                    match self.compile_decl_expr(scope, &p.value, resolver, implicit) {
                        Some(d) => compiled.push(d),
                        None => failed = true,
                    }
                }
                if failed {
                    return Some(decl);
                }
                match &decl {
                    BDecl::Decl {
                        decl: rdecl, brand, ..
                    } => match self.set_params(unit, brand, compiled, rdecl, e.span) {
                        Some(b) => Some(BDecl::Decl {
                            decl: rdecl.clone(),
                            brand: b,
                            span: e.span,
                        }),
                        None => Some(decl),
                    },
                    BDecl::Param { .. } => Some(decl),
                }
            }
            ExprKind::Member { parent, name } => {
                let decl = self.compile_decl_expr(scope, parent, resolver, implicit)?;
                let found = match &decl {
                    BDecl::Decl {
                        decl: rdecl, brand, ..
                    } => match rdecl.target {
                        Target::Node(i) => self
                            .resolve_member(i, &name.value)
                            .map(|r| (r, brand.clone())),
                        Target::Builtin(_) => None,
                    },
                    BDecl::Param { .. } => None,
                };
                match found {
                    Some((r, brand)) => Some(self.interpret_resolve(&brand, r, e.span, resolver)),
                    None => {
                        self.error(
                            unit,
                            name.span,
                            format!(
                                "'{}' has no member named '{}'",
                                expr_string(parent),
                                name.value
                            ),
                        );
                        None
                    }
                }
            }
            _ => {
                self.error(unit, e.span, "Expected name.");
                None
            }
        }
    }

    fn top_scope(&self, idx: usize) -> usize {
        let mut cur = idx;
        while let Some(p) = self.nodes[cur].parent {
            cur = p;
        }
        cur
    }

    fn compile_brand(&mut self, scope: &Rc<BrandScope>, resolver: usize) -> out::Brand {
        let mut levels = Vec::new();
        let mut cur = Some(scope);
        while let Some(s) = cur {
            if !s.params.is_empty() || (s.inherited && s.leaf_params > 0) {
                levels.push(s.clone());
            }
            cur = s.parent.as_ref();
        }
        let mut brand = out::Brand::default();
        for level in levels {
            let bind = if level.inherited {
                None
            } else {
                Some(
                    level
                        .params
                        .iter()
                        .map(|p| Some(self.compile_as_type(p, resolver).unwrap_or_default()))
                        .collect(),
                )
            };
            brand.scopes.push(out::BrandScope {
                scope_id: level.leaf_id,
                bind,
            });
        }
        brand
    }

    fn decl_name(&self, d: &BDecl) -> String {
        match d {
            BDecl::Decl { decl, .. } => match decl.target {
                Target::Node(i) => self.nodes[i].decl.name.value.clone(),
                Target::Builtin(b) => builtin_name(b).to_string(),
            },
            BDecl::Param { .. } => "parameter".into(),
        }
    }

    fn compile_as_type(&mut self, d: &BDecl, resolver: usize) -> Option<out::Type> {
        let unit = self.nodes[resolver].unit;
        let (decl, brand) = match d {
            BDecl::Param {
                scope_id, index, ..
            } => {
                return Some(out::Type::AnyPointer(if *scope_id == 0 {
                    out::AnyPointer::ImplicitMethodParameter { index: *index }
                } else {
                    out::AnyPointer::Parameter {
                        scope_id: *scope_id,
                        index: *index,
                    }
                }))
            }
            BDecl::Decl { decl, brand, .. } => (decl, brand),
        };
        Some(match decl.target {
            Target::Node(i) => {
                let kind = self.nodes[i].kind;
                let b = self.compile_brand(brand, resolver);
                match kind {
                    Kind::Struct => out::Type::Struct(decl.id, b),
                    Kind::Enum => out::Type::Enum(decl.id, b),
                    Kind::Interface => out::Type::Interface(decl.id, b),
                    _ => {
                        let name = self.display_of_use(d);
                        self.error(unit, d.span(), format!("'{name}' is not a type."));
                        return None;
                    }
                }
            }
            Target::Builtin(b) => match b {
                Builtin::Void => out::Type::Void,
                Builtin::Bool => out::Type::Bool,
                Builtin::Int8 => out::Type::Int8,
                Builtin::Int16 => out::Type::Int16,
                Builtin::Int32 => out::Type::Int32,
                Builtin::Int64 => out::Type::Int64,
                Builtin::UInt8 => out::Type::UInt8,
                Builtin::UInt16 => out::Type::UInt16,
                Builtin::UInt32 => out::Type::UInt32,
                Builtin::UInt64 => out::Type::UInt64,
                Builtin::Float32 => out::Type::Float32,
                Builtin::Float64 => out::Type::Float64,
                Builtin::Text => out::Type::Text,
                Builtin::Data => out::Type::Data,
                Builtin::List => {
                    let Some(param) = Self::scope_params(brand, decl.id)
                        .filter(|p| p.len() == 1)
                        .map(|mut p| p.remove(0))
                    else {
                        self.error(unit, d.span(), "'List' requires exactly one parameter.");
                        return None;
                    };
                    let element = self.compile_as_type(&param, resolver)?;
                    match element {
                        // A generic parameter counts as AnyPointer here, as in the reference.
                        out::Type::AnyPointer(
                            out::AnyPointer::Any
                            | out::AnyPointer::Parameter { .. }
                            | out::AnyPointer::ImplicitMethodParameter { .. },
                        ) => {
                            self.error(unit, d.span(), "'List(AnyPointer)' is not supported.");
                            return None;
                        }
                        out::Type::AnyPointer(out::AnyPointer::AnyStruct) => {
                            self.error(unit, d.span(), "'List(AnyStruct)' is not supported.");
                            return None;
                        }
                        _ => {}
                    }
                    out::Type::List(Box::new(element))
                }
                Builtin::Object => {
                    self.error(
                        unit,
                        d.span(),
                        "As of Cap'n Proto 0.4, 'Object' has been renamed to 'AnyPointer'.  \
                         Sorry for the inconvenience, and thanks for being an early adopter.  :)",
                    );
                    out::Type::AnyPointer(out::AnyPointer::Any)
                }
                Builtin::AnyPointer => out::Type::AnyPointer(out::AnyPointer::Any),
                Builtin::AnyStruct => out::Type::AnyPointer(out::AnyPointer::AnyStruct),
                Builtin::AnyList => out::Type::AnyPointer(out::AnyPointer::AnyList),
                Builtin::Capability => out::Type::AnyPointer(out::AnyPointer::Capability),
            },
        })
    }

    fn display_of_use(&self, d: &BDecl) -> String {
        self.decl_name(d)
    }

    fn compile_type(
        &mut self,
        scope: &Rc<BrandScope>,
        e: &Expr,
        resolver: usize,
        implicit: Implicit<'_>,
    ) -> Option<out::Type> {
        // Errors about the type point where the reference points: at the generic itself when
        // its parameters were rejected, at the whole expression otherwise.
        let d = self.compile_decl_expr(scope, e, resolver, implicit)?;
        match &d {
            BDecl::Decl { decl, .. } if matches!(decl.target, Target::Node(_)) => {
                let Target::Node(i) = decl.target else {
                    unreachable!()
                };
                if !matches!(
                    self.nodes[i].kind,
                    Kind::Struct | Kind::Enum | Kind::Interface
                ) {
                    let unit = self.nodes[resolver].unit;
                    self.error(unit, e.span, format!("'{}' is not a type.", expr_string(e)));
                    return None;
                }
                self.compile_as_type(&d, resolver)
            }
            _ => self.compile_as_type(&d, resolver),
        }
    }
}

fn node_span(decl: &Decl) -> Span {
    if decl.name.value.is_empty() {
        decl.span
    } else {
        decl.name.span
    }
}
