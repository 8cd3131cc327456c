//! Turns parsed files into schema nodes: names, IDs, generic brands, struct layouts, values and
//! annotations, with the reference compiler's rules and error messages.

use super::ast::*;
use super::out;
use super::{ids, layout};
use crate::FastMap;
use std::collections::HashMap;
use std::rc::Rc;

mod eval;
pub(crate) use eval::evaluate;
pub use eval::EvalOutput;

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

// ---------------------------------------------------------------------------------------------
// Node translation

/// One member of a struct being translated (the struct itself is member 0).
struct MInfo<'a> {
    parent: Option<usize>,
    code_order: u16,
    name: &'a str,
    kind: MKind,
    is_in_union: bool,
    span: Span,
    ordinal: Option<Located<u64>>,
    annotations: &'a [AnnotationUse],
    doc: Option<&'a str>,
    field_type: Option<&'a Expr>,
    default: Option<&'a Expr>,
    is_param: bool,
    child_count: usize,
    /// Index in the parent's field list, once the member has been reached in ordinal order.
    index: Option<usize>,
    union_discriminants: u16,
    /// Fields of this group (or of the struct), in the order they were reached.
    fields: Vec<out::Field>,
    field_docs: Vec<Option<String>>,
    /// Depth-first index of this field among the layout tree's fields.
    layout_field: usize,
    /// Depth-first index of the union this member owns (named union, or the unnamed union of a
    /// group or struct).
    layout_union: Option<usize>,
    node_id: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MKind {
    Root,
    Field,
    Union,
    Group,
}

fn slot_size(t: &out::Type) -> layout::SlotSize {
    use out::Type::*;
    match t {
        Void => layout::SlotSize::Void,
        Bool => layout::SlotSize::Data { lg_bits: 0 },
        Int8 | UInt8 => layout::SlotSize::Data { lg_bits: 3 },
        Int16 | UInt16 | Enum(..) => layout::SlotSize::Data { lg_bits: 4 },
        Int32 | UInt32 | Float32 => layout::SlotSize::Data { lg_bits: 5 },
        Int64 | UInt64 | Float64 => layout::SlotSize::Data { lg_bits: 6 },
        _ => layout::SlotSize::Pointer,
    }
}

struct StructBuild<'a> {
    members: Vec<MInfo<'a>>,
    layout_fields: usize,
    layout_unions: usize,
    by_ordinal: Vec<(u64, usize)>,
    all: Vec<usize>,
    /// Field types, resolved before layout.
    types: HashMap<usize, Option<out::Type>>,
}

/// Where members being traversed go: under which member, whether inside a union, and the file
/// that reports errors.
#[derive(Clone, Copy)]
struct Place {
    parent: usize,
    in_union: bool,
    unit: usize,
}

impl<'a> StructBuild<'a> {
    fn add(&mut self, m: MInfo<'a>) -> usize {
        if let Some(p) = m.parent {
            self.members[p].child_count += 1;
        }
        self.members.push(m);
        self.members.len() - 1
    }

    /// Adds a field member of type `t` and returns what the layout needs to know of it.
    /// `ordinal` places it: its `@N`, or its position in a parameter list.
    fn add_field(
        &mut self,
        mut m: MInfo<'a>,
        ordinal: u64,
        t: Option<out::Type>,
    ) -> layout::LayoutMember {
        m.layout_field = self.layout_fields;
        self.layout_fields += 1;
        let mi = self.add(m);
        self.all.push(mi);
        self.by_ordinal.push((ordinal, mi));
        let member = layout::LayoutMember::Field {
            ordinal: ordinal.min(u16::MAX as u64) as u16,
            size: t.as_ref().map(slot_size).unwrap_or(layout::SlotSize::Void),
        };
        self.types.insert(mi, t);
        member
    }
}

fn new_member<'a>(
    parent: usize,
    code_order: u16,
    d: &'a Decl,
    kind: MKind,
    in_union: bool,
) -> MInfo<'a> {
    let (field_type, default) = match &d.kind {
        DeclKind::Field {
            type_,
            default_value,
        } => (Some(type_), default_value.as_ref()),
        _ => (None, None),
    };
    MInfo {
        parent: Some(parent),
        code_order,
        name: &d.name.value,
        kind,
        is_in_union: in_union,
        span: d.span,
        ordinal: match d.id {
            DeclId::Ordinal(o) => Some(o),
            _ => None,
        },
        annotations: &d.annotations,
        doc: d.doc_comment.as_deref(),
        field_type,
        default,
        is_param: false,
        child_count: 0,
        index: None,
        union_discriminants: 0,
        fields: Vec::new(),
        field_docs: Vec::new(),
        layout_field: 0,
        layout_union: None,
        node_id: 0,
    }
}

fn root_member<'a>() -> MInfo<'a> {
    MInfo {
        parent: None,
        code_order: 0,
        name: "",
        kind: MKind::Root,
        is_in_union: false,
        span: Span::default(),
        ordinal: None,
        annotations: &[],
        doc: None,
        field_type: None,
        default: None,
        is_param: false,
        child_count: 0,
        index: None,
        union_discriminants: 0,
        fields: Vec::new(),
        field_docs: Vec::new(),
        layout_field: 0,
        layout_union: None,
        node_id: 0,
    }
}

impl<'a> Translator<'a> {
    fn finished(&mut self, idx: usize) -> Option<Rc<Finished>> {
        match &self.states[idx] {
            State::Done(f) => return f.clone(),
            State::InProgress if self.bootstrap[idx].is_some() => {
                return self.bootstrap[idx].clone();
            }
            State::InProgress => {
                let (unit, span) = (self.nodes[idx].unit, node_span(self.nodes[idx].decl));
                self.error(unit, span, "Declaration recursively depends on itself.");
                return None;
            }
            State::Pending => {}
        }
        self.states[idx] = State::InProgress;
        let result = self.translate_node(idx).map(Rc::new);
        if let Some(f) = &result {
            for aux in &f.aux {
                self.aux_owner.insert(aux.id, idx);
            }
        }
        self.states[idx] = State::Done(result.clone());
        result
    }

    /// The number of the enumerant `name` of enum `id`, from the declaration itself: an enum
    /// value must not wait for the enum's annotations, which may hold values of types that are
    /// still being laid out.
    fn enumerant_number(&self, id: u64, name: &str) -> Option<u16> {
        let idx = *self.by_id.get(&id)?;
        let mut enumerants: Vec<(u64, &str)> = self.nodes[idx]
            .decl
            .nested
            .iter()
            .filter_map(|d| match (&d.kind, d.id) {
                (DeclKind::Enumerant, DeclId::Ordinal(o)) => Some((o.value, d.name.value.as_str())),
                (DeclKind::Enumerant, _) => Some((u64::MAX, d.name.value.as_str())),
                _ => None,
            })
            .collect();
        enumerants.sort_by_key(|e| e.0);
        enumerants
            .iter()
            .position(|(_, n)| *n == name)
            .map(|i| i as u16)
    }

    /// Makes a node's layout visible to values compiled while the node is still in progress.
    fn publish_bootstrap(&mut self, idx: usize, node: out::Node, aux: Vec<out::Node>) {
        for g in &aux {
            self.aux_owner.insert(g.id, idx);
        }
        self.bootstrap[idx] = Some(Rc::new(Finished {
            node,
            aux,
            source_info: Vec::new(),
        }));
    }

    /// The translated node (or group / parameter struct) with this ID, shared, not copied.
    fn node_by_id(&mut self, id: u64) -> Option<NodeRef> {
        if let Some(&idx) = self.by_id.get(&id) {
            return self.finished(idx).map(|f| NodeRef(f, None));
        }
        let owner = *self.aux_owner.get(&id)?;
        let f = self.finished(owner)?;
        let aux = f.aux.iter().position(|n| n.id == id)?;
        Some(NodeRef(f, Some(aux)))
    }

    fn translate_node(&mut self, idx: usize) -> Option<Finished> {
        self.expand(idx);
        let n = &self.nodes[idx];
        let decl = n.decl;
        let unit = n.unit;
        let mut node = out::Node {
            id: n.id,
            display_name: n.display_name.clone(),
            scope_id: n.parent.map(|p| self.nodes[p].id).unwrap_or(0),
            nested: n
                .nested
                .iter()
                .map(|&c| (self.nodes[c].decl.name.value.clone(), self.nodes[c].id))
                .collect(),
            parameters: decl.parameters.iter().map(|p| p.value.clone()).collect(),
            ..Default::default()
        };
        node.display_name_prefix_length = prefix_length(&node.display_name);
        let scope = self.starting_scope(idx);
        node.is_generic = is_generic(&scope);
        let mut finished = Finished {
            node,
            aux: Vec::new(),
            source_info: Vec::new(),
        };
        let mut names = FastMap::default();
        self.check_names(unit, &decl.nested, &decl.kind, &mut names);
        let mut info = out::SourceInfo {
            id: finished.node.id,
            doc_comment: decl.doc_comment.clone(),
            members: Vec::new(),
        };
        let mut annotations: Vec<&AnnotationUse> = decl.annotations.iter().collect();
        let targets_flag = match &decl.kind {
            DeclKind::File => {
                for d in &decl.nested {
                    if let DeclKind::NakedAnnotation(a) = &d.kind {
                        annotations.push(a);
                    }
                    if info.doc_comment.is_none() {
                        if let DeclKind::NakedId(_) = &d.kind {
                            info.doc_comment = d.doc_comment.clone();
                        }
                    }
                }
                finished.node.kind = out::NodeKind::File;
                Tgt::File
            }
            DeclKind::Const { type_, value } => {
                let t = self.compile_type(&scope, type_, idx, NO_IMPLICIT);
                let v = match &t {
                    Some(t) => self.compile_value_to_out(&scope, value, t, idx),
                    None => out::Value::Void,
                };
                finished.node.kind = out::NodeKind::Const {
                    type_: t.unwrap_or_default(),
                    value: v,
                };
                Tgt::Const
            }
            DeclKind::Annotation { type_, targets } => {
                let t = self.compile_type(&scope, type_, idx, NO_IMPLICIT);
                finished.node.kind = out::NodeKind::Annotation {
                    type_: t.unwrap_or_default(),
                    targets: *targets,
                };
                Tgt::Annotation
            }
            DeclKind::Enum => {
                let mut enumerants: Vec<(u64, u16, &Decl)> = Vec::new();
                for (code, d) in decl
                    .nested
                    .iter()
                    .filter(|d| matches!(d.kind, DeclKind::Enumerant))
                    .enumerate()
                {
                    let ordinal = match d.id {
                        DeclId::Ordinal(o) => o.value,
                        _ => u64::MAX,
                    };
                    enumerants.push((ordinal, code as u16, d));
                }
                enumerants.sort_by_key(|e| e.0);
                let mut dup = OrdinalCheck::default();
                let mut list = Vec::new();
                for (_, code, d) in &enumerants {
                    if let DeclId::Ordinal(o) = d.id {
                        dup.check(self, unit, o);
                    }
                    info.members.push(d.doc_comment.clone());
                    list.push(out::Enumerant {
                        name: d.name.value.clone(),
                        code_order: *code,
                        annotations: Vec::new(),
                    });
                }
                // The enumerants are known before their annotations, whose values may use them.
                let mut node = finished.node.clone();
                node.kind = out::NodeKind::Enum(list.clone());
                self.publish_bootstrap(idx, node, Vec::new());
                let id = finished.node.id;
                for (i, (e, (_, _, d))) in list.iter_mut().zip(&enumerants).enumerate() {
                    e.annotations = self.compile_annotations(
                        &scope,
                        idx,
                        d.annotations.iter(),
                        Tgt::Enumerant,
                        id,
                        Site::Member(i),
                    );
                }
                finished.node.kind = out::NodeKind::Enum(list);
                Tgt::Enum
            }
            DeclKind::Struct => {
                let root = self.translate_struct(
                    &scope,
                    idx,
                    &decl.nested,
                    None,
                    NO_IMPLICIT,
                    &mut finished,
                    &mut info,
                );
                finished.node.kind = out::NodeKind::Struct(root);
                Tgt::Struct
            }
            DeclKind::Interface { superclasses } => {
                self.translate_interface(&scope, idx, superclasses, &mut finished, &mut info);
                Tgt::Interface
            }
            _ => Tgt::File,
        };
        // The node's own annotations come last and may hold values whose types use this node
        // (an annotation's type, a struct's layout), so those see it as it is now.
        if self.bootstrap[idx].is_none() {
            self.publish_bootstrap(idx, finished.node.clone(), finished.aux.clone());
        }
        finished.node.annotations = self.compile_annotations(
            &scope,
            idx,
            annotations.into_iter(),
            targets_flag,
            finished.node.id,
            Site::Node,
        );
        finished.source_info.insert(0, info);
        Some(finished)
    }

    /// The reference compiler's checks on the declarations directly inside one scope: no name
    /// twice, type names capitalized and others not, no underscores, and each kind of
    /// declaration only where it belongs. Struct members open scopes of their own (an unnamed
    /// union's members share the enclosing one).
    fn check_names(
        &mut self,
        unit: usize,
        nested: &'a [Decl],
        parent: &DeclKind,
        names: &mut FastMap<&'a str, Span>,
    ) {
        for d in nested {
            if matches!(d.kind, DeclKind::NakedId(_) | DeclKind::NakedAnnotation(_)) {
                continue;
            }
            let name = d.name.value.as_str();
            if let Some(&previous) = names.get(name) {
                if name.is_empty() && matches!(d.kind, DeclKind::Union) {
                    self.error(
                        unit,
                        d.name.span,
                        "An unnamed union is already defined in this scope.",
                    );
                    self.error(unit, previous, "Previously defined here.");
                } else {
                    self.error(
                        unit,
                        d.name.span,
                        format!("'{name}' is already defined in this scope."),
                    );
                    self.error(unit, previous, format!("'{name}' previously defined here."));
                }
            } else {
                names.insert(name, d.name.span);
            }
            let first = name.bytes().next();
            let type_name = "Type names must begin with a capital letter.";
            let value_name = "Non-type names must begin with a lower-case letter.";
            match &d.kind {
                DeclKind::Using { target } => {
                    let target_name = match &target.kind {
                        ExprKind::AbsoluteName(n) | ExprKind::RelativeName(n) => {
                            Some(n.value.as_str())
                        }
                        ExprKind::Application { function, .. } => match &function.kind {
                            ExprKind::AbsoluteName(n) | ExprKind::RelativeName(n) => {
                                Some(n.value.as_str())
                            }
                            ExprKind::Member { name, .. } => Some(name.value.as_str()),
                            _ => None,
                        },
                        ExprKind::Member { name, .. } => Some(name.value.as_str()),
                        _ => None,
                    };
                    let lower_target = target_name
                        .and_then(|t| t.bytes().next())
                        .is_some_and(|c| c.is_ascii_lowercase());
                    if lower_target {
                        if first.is_some_and(|c| !c.is_ascii_lowercase()) {
                            self.error(unit, d.name.span, value_name);
                        }
                    } else if first.is_some_and(|c| !c.is_ascii_uppercase()) {
                        self.error(unit, d.name.span, type_name);
                    }
                }
                DeclKind::Enum | DeclKind::Struct | DeclKind::Interface { .. } => {
                    if first.is_some_and(|c| !c.is_ascii_uppercase()) {
                        self.error(unit, d.name.span, type_name);
                    }
                }
                _ => {
                    if first.is_some_and(|c| !c.is_ascii_lowercase()) {
                        self.error(unit, d.name.span, value_name);
                    }
                }
            }
            if name.contains('_') {
                self.error(
                    unit,
                    d.name.span,
                    "Cap'n Proto declaration names should use camelCase and must not contain \
                     underscores. (Code generators may convert names to the appropriate style \
                     for the target language.)",
                );
            }
            let container = matches!(
                parent,
                DeclKind::File | DeclKind::Struct | DeclKind::Interface { .. }
            );
            match &d.kind {
                DeclKind::Using { .. }
                | DeclKind::Const { .. }
                | DeclKind::Enum
                | DeclKind::Struct
                | DeclKind::Interface { .. }
                | DeclKind::Annotation { .. } => {
                    if !container {
                        self.error(
                            unit,
                            d.span,
                            "This kind of declaration doesn't belong here.",
                        );
                    }
                }
                DeclKind::Enumerant => {
                    if !matches!(parent, DeclKind::Enum) {
                        self.error(unit, d.span, "Enumerants can only appear in enums.");
                    }
                }
                DeclKind::Method { .. } => {
                    if !matches!(parent, DeclKind::Interface { .. }) {
                        self.error(unit, d.span, "Methods can only appear in interfaces.");
                    }
                }
                DeclKind::Field { .. } | DeclKind::Union | DeclKind::Group => {
                    if !matches!(parent, DeclKind::Struct | DeclKind::Union | DeclKind::Group) {
                        self.error(unit, d.span, "This declaration can only appear in structs.");
                    }
                    if name.is_empty() {
                        self.check_names(unit, &d.nested, &d.kind, names);
                    } else {
                        let mut inner = FastMap::default();
                        self.check_names(unit, &d.nested, &d.kind, &mut inner);
                    }
                }
                _ => self.error(
                    unit,
                    d.span,
                    "This kind of declaration doesn't belong here.",
                ),
            }
        }
    }

    /// Builds a struct's (or parameter list's) fields and groups. Group nodes and their source
    /// info go into `finished.aux` / `finished.source_info`.
    #[allow(clippy::too_many_arguments)]
    fn translate_struct(
        &mut self,
        scope: &Rc<BrandScope>,
        resolver: usize,
        members: &'a [Decl],
        params: Option<&'a [MethodParam]>,
        implicit: Implicit<'_>,
        finished: &mut Finished,
        info: &mut out::SourceInfo,
    ) -> out::Struct {
        let unit = self.nodes[resolver].unit;
        let mut b = StructBuild {
            members: vec![root_member()],
            layout_fields: 0,
            layout_unions: 0,
            by_ordinal: Vec::new(),
            all: Vec::new(),
            types: HashMap::new(),
        };
        b.members[0].node_id = finished.node.id;
        let tree = match params {
            Some(params) => {
                let mut tree = Vec::new();
                for (i, p) in params.iter().enumerate() {
                    let mut m = root_member();
                    m.parent = Some(0);
                    m.code_order = i as u16;
                    m.name = &p.name.value;
                    m.kind = MKind::Field;
                    m.span = p.span;
                    m.annotations = &p.annotations;
                    m.field_type = Some(&p.type_);
                    m.default = p.default_value.as_ref();
                    m.is_param = true;
                    let t = self.compile_type(scope, &p.type_, resolver, implicit);
                    tree.push(b.add_field(m, i as u64, t));
                }
                tree
            }
            None => {
                let place = Place {
                    parent: 0,
                    in_union: false,
                    unit,
                };
                self.traverse_members(&mut b, scope, resolver, implicit, members, place, &mut 0)
            }
        };
        b.by_ordinal.sort_by_key(|e| e.0);
        let result = layout::lay_out(&tree);
        for e in &result.errors {
            // The union-ordinal error points at that union's ordinal.
            if let layout::LayoutError::UnionOrdinalTooLate { union_index } = e {
                let at = b
                    .members
                    .iter()
                    .find(|m| m.layout_union == Some(*union_index))
                    .and_then(|m| m.ordinal)
                    .map(|o| o.span);
                if let Some(span) = at {
                    self.error(
                        unit,
                        span,
                        "Union ordinal, if specified, must be greater than no more than one of \
                         its member ordinals (i.e. there can only be one field retroactively \
                         unionized).",
                    );
                    continue;
                }
            }
            let message = match e {
                layout::LayoutError::UnionOrdinalTooLate { .. } => {
                    "Union ordinal, if specified, must be greater than no more than one of its \
                     member ordinals (i.e. there can only be one field retroactively unionized)."
                }
                layout::LayoutError::Issue344 { .. } => {
                    "This schema triggers a bug in older versions of Cap'n Proto that affects \
                     the layout of unions; see https://github.com/capnproto/capnproto/issues/344"
                }
                layout::LayoutError::TooLarge => "Struct is too large.",
                layout::LayoutError::TooDeep => "Groups and unions are nested too deeply.",
                _ => "Struct layout failed.",
            };
            let span = finished_span(self.nodes[resolver].decl);
            self.error(unit, span, message);
        }

        // Members in ordinal order: each one reached gets its place in its parent's field list.
        let mut dup = OrdinalCheck::default();
        let order = b.by_ordinal.clone();
        let mut defaults: Vec<usize> = Vec::new();
        for (_, mi) in order {
            if let Some(o) = b.members[mi].ordinal {
                dup.check(self, unit, o);
            }
            self.touch(&mut b, mi);
            if b.members[mi].kind == MKind::Field {
                let t = b.types.get(&mi).cloned().flatten();
                let offset = match t.as_ref().map(slot_size) {
                    Some(layout::SlotSize::Void) | None => 0,
                    _ => result
                        .field_offsets
                        .get(b.members[mi].layout_field)
                        .copied()
                        .unwrap_or(0),
                };
                let (p, index) = (
                    b.members[mi].parent.unwrap_or(0),
                    b.members[mi].index.unwrap_or(0),
                );
                let ordinal = b.members[mi].ordinal.map(|o| o.value as u16);
                let is_param = b.members[mi].is_param;
                let field = &mut b.members[p].fields[index];
                field.ordinal = if is_param {
                    Some(index as u16)
                } else {
                    ordinal
                };
                field.kind = out::FieldKind::Slot {
                    offset,
                    type_: t.unwrap_or_default(),
                    default_value: out::Value::Void,
                    had_explicit_default: false,
                };
                defaults.push(mi);
            } else if let Some(o) = b.members[mi].ordinal {
                let (p, index) = (
                    b.members[mi].parent.unwrap_or(0),
                    b.members[mi].index.unwrap_or(0),
                );
                if b.members[mi].kind == MKind::Union && b.members[mi].index.is_some() && p != mi {
                    b.members[p].fields[index].ordinal = Some(o.value as u16);
                }
            }
        }
        // Params are numbered by position.
        if params.is_some() {
            for f in &mut b.members[0].fields {
                f.ordinal = Some(f.code_order);
            }
        }

        // Groups and unions get their IDs and discriminants, parents before children.
        let mut groups: Vec<(usize, out::Node, out::SourceInfo)> = Vec::new();
        let order: Vec<usize> = std::iter::once(0).chain(b.all.iter().copied()).collect();
        for &mi in &order {
            if !matches!(
                b.members[mi].kind,
                MKind::Root | MKind::Union | MKind::Group
            ) {
                continue;
            }
            if mi != 0 {
                let Some(p) = b.members[mi].parent else {
                    continue;
                };
                let Some(index) = b.members[mi].index else {
                    continue;
                };
                let parent_id = b.members[p].node_id;
                let id = ids::group_id(parent_id, index as u16);
                b.members[mi].node_id = id;
                b.members[p].fields[index].kind = out::FieldKind::Group { type_id: id };
            }
        }
        for &mi in &order {
            if !matches!(b.members[mi].kind, MKind::Union | MKind::Group)
                || b.members[mi].index.is_none()
            {
                continue;
            }
            let parent_display = {
                // The group's display name extends its parent's.
                let mut chain = Vec::new();
                let mut cur = mi;
                while let Some(p) = b.members[cur].parent {
                    chain.push(b.members[cur].name);
                    cur = p;
                }
                chain.reverse();
                format!("{}.{}", finished.node.display_name, chain.join("."))
            };
            let name_len = b.members[mi].name.len() as u32;
            let node = out::Node {
                id: b.members[mi].node_id,
                display_name_prefix_length: parent_display.len() as u32 - name_len,
                display_name: parent_display,
                scope_id: b.members[b.members[mi].parent.unwrap_or(0)].node_id,
                is_generic: finished.node.is_generic,
                is_aux: true,
                ..Default::default()
            };
            groups.push((
                mi,
                node,
                out::SourceInfo {
                    id: b.members[mi].node_id,
                    doc_comment: b.members[mi].doc.map(str::to_string),
                    members: Vec::new(),
                },
            ));
        }

        let top = |m: &MInfo<'_>| -> (u16, u32) {
            match m.layout_union {
                Some(u) => (
                    m.union_discriminants,
                    result.discriminant_offsets.get(u).copied().unwrap_or(0),
                ),
                None => (0, 0),
            }
        };

        // Defaults in two passes, as the reference compiler does: values of data fields first;
        // then, with the struct's layout published (a struct value of this very type, or of a
        // type that refers back to it, needs it), pointer values.
        let (pointers, data): (Vec<usize>, Vec<usize>) = defaults.into_iter().partition(|&mi| {
            b.types
                .get(&mi)
                .and_then(|t| t.as_ref())
                .is_some_and(is_pointer)
        });
        for pass in [data, pointers] {
            for mi in pass {
                let (p, index) = (
                    b.members[mi].parent.unwrap_or(0),
                    b.members[mi].index.unwrap_or(0),
                );
                let default = b.members[mi].default;
                let is_param = b.members[mi].is_param;
                let out::FieldKind::Slot { type_, .. } = &b.members[p].fields[index].kind else {
                    continue;
                };
                let type_ = type_.clone();
                let (value, explicit) = match default {
                    None => (default_default(&type_), false),
                    Some(e) => {
                        let is_null =
                            matches!(&e.kind, ExprKind::RelativeName(n) if n.value == "null");
                        if is_param && is_null {
                            if !is_pointer(&type_) {
                                self.error(
                                    unit,
                                    e.span,
                                    "Only pointer parameters can declare their default as 'null'.",
                                );
                            }
                            (default_default(&type_), true)
                        } else {
                            (self.compile_value_to_out(scope, e, &type_, resolver), true)
                        }
                    }
                };
                if let out::FieldKind::Slot {
                    default_value,
                    had_explicit_default,
                    ..
                } = &mut b.members[p].fields[index].kind
                {
                    *default_value = value;
                    *had_explicit_default = explicit;
                }
            }

            if params.is_none() {
                let (count, offset) = top(&b.members[0]);
                let mut node = finished.node.clone();
                node.kind = out::NodeKind::Struct(out::Struct {
                    data_words: result.data_words,
                    pointers: result.pointers,
                    is_group: false,
                    discriminant_count: count,
                    discriminant_offset: offset,
                    fields: b.members[0].fields.clone(),
                });
                let aux = groups
                    .iter()
                    .map(|(mi, g, _)| {
                        let (count, offset) = top(&b.members[*mi]);
                        let mut g = g.clone();
                        g.kind = out::NodeKind::Struct(out::Struct {
                            data_words: result.data_words,
                            pointers: result.pointers,
                            is_group: true,
                            discriminant_count: count,
                            discriminant_offset: offset,
                            fields: b.members[*mi].fields.clone(),
                        });
                        g
                    })
                    .collect();
                self.publish_bootstrap(resolver, node, aux);
            }
        }

        // Annotations on members.
        for &mi in &b.all {
            let (Some(p), Some(index)) = (b.members[mi].parent, b.members[mi].index) else {
                continue;
            };
            let flag = if b.members[mi].is_param {
                Tgt::Param
            } else {
                match b.members[mi].kind {
                    MKind::Union => Tgt::Union,
                    MKind::Group => Tgt::Group,
                    _ => Tgt::Field,
                }
            };
            let anns = self.compile_annotations(
                scope,
                resolver,
                b.members[mi].annotations.iter(),
                flag,
                b.members[p].node_id,
                Site::Member(index),
            );
            b.members[p].fields[index].annotations = anns;
        }

        for (mi, mut node, mut si) in groups {
            let (count, offset) = top(&b.members[mi]);
            node.kind = out::NodeKind::Struct(out::Struct {
                data_words: result.data_words,
                pointers: result.pointers,
                is_group: true,
                discriminant_count: count,
                discriminant_offset: offset,
                fields: std::mem::take(&mut b.members[mi].fields),
            });
            si.members = std::mem::take(&mut b.members[mi].field_docs);
            finished.aux.push(node);
            finished.source_info.push(si);
        }
        let (count, offset) = top(&b.members[0]);
        info.members = std::mem::take(&mut b.members[0].field_docs);
        out::Struct {
            data_words: result.data_words,
            pointers: result.pointers,
            is_group: false,
            discriminant_count: count,
            discriminant_offset: offset,
            fields: std::mem::take(&mut b.members[0].fields),
        }
    }

    /// Gives member `mi` its place in its parent's field list (and its parent, first, if the
    /// parent has none yet), as the reference compiler does when it first reaches a member.
    fn touch(&mut self, b: &mut StructBuild<'a>, mi: usize) {
        if b.members[mi].index.is_some() {
            return;
        }
        let Some(p) = b.members[mi].parent else {
            return;
        };
        if b.members[p].fields.is_empty() && b.members[p].parent.is_some() {
            self.touch(b, p);
        }
        let index = b.members[p].fields.len();
        b.members[mi].index = Some(index);
        let discriminant_value = if b.members[mi].is_in_union {
            let d = b.members[p].union_discriminants;
            b.members[p].union_discriminants += 1;
            d
        } else {
            out::NO_DISCRIMINANT
        };
        let m = &b.members[mi];
        let field = out::Field {
            name: m.name.to_string(),
            code_order: m.code_order,
            annotations: Vec::new(),
            discriminant_value,
            ordinal: None,
            kind: out::FieldKind::Group { type_id: 0 },
        };
        let doc = m.doc.map(str::to_string);
        b.members[p].fields.push(field);
        b.members[p].field_docs.push(doc);
    }

    /// The members of a struct, group or union, in order: fields, unions and groups become
    /// members under `place.parent`, numbered in code order from `code`, and the layout tree
    /// they make is returned. An unnamed union shares its parent's code order.
    #[allow(clippy::too_many_arguments)]
    fn traverse_members(
        &mut self,
        b: &mut StructBuild<'a>,
        scope: &Rc<BrandScope>,
        resolver: usize,
        implicit: Implicit<'_>,
        members: &'a [Decl],
        place: Place,
        code: &mut u16,
    ) -> Vec<layout::LayoutMember> {
        let Place {
            parent,
            in_union,
            unit,
        } = place;
        let mut tree = Vec::new();
        for d in members {
            match &d.kind {
                DeclKind::Field { type_, .. } => {
                    let m = new_member(parent, *code, d, MKind::Field, in_union);
                    *code += 1;
                    let t = self.compile_type(scope, type_, resolver, implicit);
                    let ordinal = m.ordinal.map(|o| o.value).unwrap_or(0);
                    tree.push(b.add_field(m, ordinal, t));
                }
                DeclKind::Union => {
                    let unnamed = d.name.value.is_empty();
                    if unnamed && in_union {
                        self.error(unit, d.span, "Unions cannot contain unnamed unions.");
                        continue;
                    }
                    let union_index = b.layout_unions;
                    b.layout_unions += 1;
                    let owner = if unnamed {
                        parent
                    } else {
                        let m = new_member(parent, *code, d, MKind::Union, in_union);
                        *code += 1;
                        let mi = b.add(m);
                        b.all.push(mi);
                        mi
                    };
                    b.members[owner].layout_union = Some(union_index);
                    if d.nested.iter().filter(|n| is_member(n)).count() < 2 {
                        self.error(unit, d.span, "Union must have at least two members.");
                    }
                    let mut sub_code = 0u16;
                    let inner_place = Place {
                        parent: owner,
                        in_union: true,
                        unit,
                    };
                    let inner_code = if unnamed { &mut *code } else { &mut sub_code };
                    let inner = self.traverse_members(
                        b,
                        scope,
                        resolver,
                        implicit,
                        &d.nested,
                        inner_place,
                        inner_code,
                    );
                    let ordinal = match d.id {
                        DeclId::Ordinal(o) => {
                            b.by_ordinal.push((o.value, owner));
                            Some(o.value.min(u16::MAX as u64) as u16)
                        }
                        _ => None,
                    };
                    tree.push(layout::LayoutMember::Union {
                        ordinal,
                        members: inner,
                    });
                }
                DeclKind::Group => {
                    let m = new_member(parent, *code, d, MKind::Group, in_union);
                    *code += 1;
                    let mi = b.add(m);
                    b.all.push(mi);
                    if d.nested.iter().all(|n| !is_member(n)) {
                        self.error(unit, d.span, "Group must have at least one member.");
                    }
                    // A group numbers its members from zero, in its own code order.
                    let place = Place {
                        parent: mi,
                        in_union: false,
                        unit,
                    };
                    let inner = self
                        .traverse_members(b, scope, resolver, implicit, &d.nested, place, &mut 0);
                    tree.push(layout::LayoutMember::Group { members: inner });
                }
                _ => {}
            }
        }
        tree
    }

    fn translate_interface(
        &mut self,
        scope: &Rc<BrandScope>,
        idx: usize,
        superclasses: &'a [Expr],
        finished: &mut Finished,
        info: &mut out::SourceInfo,
    ) {
        let unit = self.nodes[idx].unit;
        let decl = self.nodes[idx].decl;
        let mut supers = Vec::new();
        for s in superclasses {
            let Some(d) = self.compile_decl_expr(scope, s, idx, NO_IMPLICIT) else {
                supers.push((0, out::Brand::default()));
                continue;
            };
            match &d {
                BDecl::Decl {
                    decl: rd, brand, ..
                } => {
                    let is_interface = matches!(rd.target, Target::Node(i) if self.nodes[i].kind == Kind::Interface);
                    if is_interface {
                        let b = self.compile_brand(brand, idx);
                        supers.push((rd.id, b));
                    } else {
                        self.error(
                            unit,
                            s.span,
                            format!("'{}' is not an interface.", expr_string(s)),
                        );
                        supers.push((0, out::Brand::default()));
                    }
                }
                BDecl::Param { .. } => {
                    self.error(
                        unit,
                        s.span,
                        format!(
                            "'{}' is an unbound generic parameter. Currently we don't support \
                             extending these.",
                            expr_string(s)
                        ),
                    );
                    supers.push((0, out::Brand::default()));
                }
            }
        }
        let mut methods: Vec<(u64, u16, &'a Decl)> = decl
            .nested
            .iter()
            .filter(|d| matches!(d.kind, DeclKind::Method { .. }))
            .enumerate()
            .map(|(code, d)| {
                let ordinal = match d.id {
                    DeclId::Ordinal(o) => o.value,
                    _ => u64::MAX,
                };
                (ordinal, code as u16, d)
            })
            .collect();
        methods.sort_by_key(|m| m.0);
        let mut dup = OrdinalCheck::default();
        let mut list = Vec::new();
        for (ordinal, code, d) in methods {
            if let DeclId::Ordinal(o) = d.id {
                dup.check(self, unit, o);
            }
            let ordinal = ordinal.min(u16::MAX as u64) as u16;
            info.members.push(d.doc_comment.clone());
            let DeclKind::Method { params, results } = &d.kind else {
                continue;
            };
            if matches!(params.kind, ParamListKind::Stream) {
                self.error(
                    unit,
                    params.span,
                    "'stream' can only appear after '->', not before.",
                );
            }
            let (param_struct_type, param_brand) =
                self.compile_param_list(scope, idx, d, ordinal, false, Some(params), finished);
            let (result_struct_type, result_brand) =
                self.compile_param_list(scope, idx, d, ordinal, true, results.as_ref(), finished);
            let annotations = self.compile_annotations(
                scope,
                idx,
                d.annotations.iter(),
                Tgt::Method,
                finished.node.id,
                Site::Member(list.len()),
            );
            list.push(out::Method {
                name: d.name.value.clone(),
                code_order: code,
                implicit_parameters: d.parameters.iter().map(|p| p.value.clone()).collect(),
                param_struct_type,
                param_brand,
                result_struct_type,
                result_brand,
                annotations,
            });
        }
        finished.node.kind = out::NodeKind::Interface {
            methods: list,
            superclasses: supers,
        };
    }

    #[allow(clippy::too_many_arguments)]
    fn compile_param_list(
        &mut self,
        scope: &Rc<BrandScope>,
        idx: usize,
        method: &'a Decl,
        ordinal: u16,
        is_results: bool,
        list: Option<&'a ParamList>,
        finished: &mut Finished,
    ) -> (u64, out::Brand) {
        let unit = self.nodes[idx].unit;
        let implicit_names = &method.parameters;
        const EMPTY: &[MethodParam] = &[];
        let named: &'a [MethodParam] = match list.map(|l| &l.kind) {
            None => EMPTY,
            Some(ParamListKind::Named(ps)) => ps,
            Some(ParamListKind::Type(e)) => {
                let implicit = Implicit {
                    scope_id: 0,
                    names: implicit_names,
                };
                let Some(d) = self.compile_decl_expr(scope, e, idx, implicit) else {
                    return (0, out::Brand::default());
                };
                return match &d {
                    BDecl::Decl { decl, brand, .. } => {
                        if matches!(decl.target, Target::Node(i) if self.nodes[i].kind == Kind::Struct)
                        {
                            let b = self.compile_brand(brand, idx);
                            (decl.id, b)
                        } else {
                            self.error(
                                unit,
                                e.span,
                                format!("'{}' is not a struct type.", expr_string(e)),
                            );
                            (0, out::Brand::default())
                        }
                    }
                    BDecl::Param { .. } => {
                        self.error(
                            unit,
                            e.span,
                            "Cannot use generic parameter as whole input or output of a method. \
                             Instead, use a parameter/result list containing a field with this type.",
                        );
                        (0, out::Brand::default())
                    }
                };
            }
            Some(ParamListKind::Stream) => {
                let span = list.map(|l| l.span).unwrap_or_default();
                let stream = self
                    .p
                    .imports
                    .get(&(unit, "/capnp/stream.capnp".to_string()))
                    .copied();
                match stream {
                    Some(u) => {
                        let root = self.file_root(u);
                        if self.resolve_member(root, "StreamResult").is_none() {
                            self.error(
                                unit,
                                span,
                                "The version of '/capnp/stream.capnp' found in your import path \
                                 does not appear to be the official one; it is missing the \
                                 declaration of StreamResult.",
                            );
                        }
                    }
                    None => self.error(
                        unit,
                        span,
                        "A method declaration uses streaming, but '/capnp/stream.capnp' is not \
                         found in the import path. This is a standard file that should always \
                         be installed with the Cap'n Proto compiler.",
                    ),
                }
                return (STREAM_RESULT_ID, out::Brand::default());
            }
        };
        let type_name = format!(
            "{}{}",
            method.name.value,
            if is_results { "$Results" } else { "$Params" }
        );
        let id = ids::method_params_id(finished.node.id, ordinal, is_results);
        let display_name = format!("{}.{}", finished.node.display_name, type_name);
        let mut node = out::Node {
            id,
            display_name_prefix_length: (display_name.len() - type_name.len()) as u32,
            display_name,
            scope_id: 0,
            is_generic: finished.node.is_generic || !implicit_names.is_empty(),
            is_aux: true,
            parameters: implicit_names.iter().map(|p| p.value.clone()).collect(),
            ..Default::default()
        };
        let mut sub = Finished {
            node: node.clone(),
            aux: Vec::new(),
            source_info: Vec::new(),
        };
        // The reference compiler never sets the ID of a parameter struct's source info, so all of
        // them share ID 0 (and the request keeps one).
        let mut si = out::SourceInfo {
            id: 0,
            doc_comment: None,
            members: Vec::new(),
        };
        let implicit = Implicit {
            scope_id: id,
            names: implicit_names,
        };
        let s = self.translate_struct(scope, idx, &[], Some(named), implicit, &mut sub, &mut si);
        node.kind = out::NodeKind::Struct(s);
        finished.aux.push(node);
        finished.aux.extend(sub.aux);
        finished.source_info.push(si);
        finished.source_info.extend(sub.source_info);

        // The reference compiler means to bind the struct's parameters to the method's implicit
        // ones here, but drops the result, so the brand never carries them; so do we.
        let pushed = Self::push_scope(scope, id, implicit_names.len() as u16);
        let brand = self.compile_brand(&pushed, idx);
        (id, brand)
    }
}

/// `StreamResult` of `/capnp/stream.capnp`: the result type of every `-> stream` method.
const STREAM_RESULT_ID: u64 = 0x995f_9a33_77c0_b16e;

fn is_member(d: &Decl) -> bool {
    matches!(
        d.kind,
        DeclKind::Field { .. } | DeclKind::Union | DeclKind::Group
    )
}

fn finished_span(decl: &Decl) -> Span {
    node_span(decl)
}

fn is_generic(scope: &Rc<BrandScope>) -> bool {
    let mut cur = Some(scope);
    while let Some(s) = cur {
        if s.leaf_params > 0 {
            return true;
        }
        cur = s.parent.as_ref();
    }
    false
}

fn prefix_length(display_name: &str) -> u32 {
    let dot = display_name.rfind('.').map(|i| i + 1).unwrap_or(0);
    let colon = display_name.rfind(':').map(|i| i + 1).unwrap_or(0);
    dot.max(colon) as u32
}

fn is_pointer(t: &out::Type) -> bool {
    matches!(
        t,
        out::Type::Text
            | out::Type::Data
            | out::Type::List(_)
            | out::Type::Struct(..)
            | out::Type::Interface(..)
            | out::Type::AnyPointer(_)
    )
}

fn default_default(t: &out::Type) -> out::Value {
    use out::Type as T;
    use out::Value as V;
    match t {
        T::Void => V::Void,
        T::Bool => V::Bool(false),
        T::Int8 => V::Int8(0),
        T::Int16 => V::Int16(0),
        T::Int32 => V::Int32(0),
        T::Int64 => V::Int64(0),
        T::UInt8 => V::UInt8(0),
        T::UInt16 => V::UInt16(0),
        T::UInt32 => V::UInt32(0),
        T::UInt64 => V::UInt64(0),
        T::Float32 => V::Float32(0.0),
        T::Float64 => V::Float64(0.0),
        T::Enum(..) => V::Enum(0),
        T::Interface(..) => V::Interface,
        T::Text => V::Text(None),
        T::Data => V::Data(None),
        T::Struct(..) => V::Struct(None),
        T::List(_) => V::List(None),
        T::AnyPointer(_) => V::AnyPointer(None),
    }
}

/// Which `targets…` flag an annotation needs to be applied here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tgt {
    File,
    Const,
    Enum,
    Enumerant,
    Struct,
    Field,
    Union,
    Group,
    Interface,
    Method,
    Param,
    Annotation,
}

impl Tgt {
    fn allowed(self, t: &Targets) -> bool {
        match self {
            Tgt::File => t.file,
            Tgt::Const => t.const_,
            Tgt::Enum => t.enum_,
            Tgt::Enumerant => t.enumerant,
            Tgt::Struct => t.struct_,
            Tgt::Field => t.field,
            Tgt::Union => t.union_,
            Tgt::Group => t.group,
            Tgt::Interface => t.interface,
            Tgt::Method => t.method,
            Tgt::Param => t.param,
            Tgt::Annotation => t.annotation,
        }
    }
}

/// Checks that ordinals, visited in order, run 0, 1, 2, … with no gaps or repeats.
#[derive(Default)]
struct OrdinalCheck {
    expected: u64,
    last: Option<Located<u64>>,
}

impl OrdinalCheck {
    fn check(&mut self, t: &mut Translator<'_>, unit: usize, o: Located<u64>) {
        if o.value < self.expected {
            t.error(unit, o.span, "Duplicate ordinal number.");
            if let Some(last) = self.last.take() {
                t.error(
                    unit,
                    last.span,
                    format!("Ordinal @{} originally used here.", last.value),
                );
            }
        } else if o.value > self.expected {
            t.error(
                unit,
                o.span,
                format!(
                    "Skipped ordinal @{}.  Ordinals must be sequential with no holes.",
                    self.expected
                ),
            );
            self.expected = o.value.saturating_add(1);
        } else {
            self.expected = self.expected.saturating_add(1);
            self.last = Some(o);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Values

/// A value before it is checked against the type it is assigned to.
#[derive(Debug, Clone)]
enum Val {
    Void,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Text(Vec<u8>),
    Data(Vec<u8>),
    Enum(u64, out::Brand, u16),
    /// A list of the given type.
    List(out::Type, Obj),
    /// A struct of the given type.
    Struct(u64, out::Brand, Obj),
    /// A pointer of unknown type (from an `AnyPointer` constant).
    Any(Obj),
}

impl<'a> Translator<'a> {
    fn compile_value_to_out(
        &mut self,
        scope: &Rc<BrandScope>,
        e: &Expr,
        t: &out::Type,
        resolver: usize,
    ) -> out::Value {
        match self.compile_value(scope, e, t, resolver) {
            Some(v) => val_to_out(v, t),
            None => default_default(t),
        }
    }

    /// Evaluates `e` for type `t` and checks that the result fits `t`.
    fn compile_value(
        &mut self,
        scope: &Rc<BrandScope>,
        e: &Expr,
        t: &out::Type,
        resolver: usize,
    ) -> Option<Val> {
        let unit = self.nodes[resolver].unit;
        if let out::Type::AnyPointer(
            out::AnyPointer::Parameter { .. } | out::AnyPointer::ImplicitMethodParameter { .. },
        ) = t
        {
            self.error(
                unit,
                e.span,
                "Cannot interpret value because the type is a generic type parameter which is not \
                 yet bound. We don't know what type to expect here.",
            );
            return None;
        }
        let v = self.compile_value_inner(scope, e, t, resolver)?;
        use out::Type as T;
        let (min, max): (i128, i128) = match t {
            T::Int8 => (i8::MIN.into(), i8::MAX.into()),
            T::Int16 => (i16::MIN.into(), i16::MAX.into()),
            T::Int32 => (i32::MIN.into(), i32::MAX.into()),
            T::Int64 => (i64::MIN.into(), i64::MAX.into()),
            T::UInt8 => (0, u8::MAX.into()),
            T::UInt16 => (0, u16::MAX.into()),
            T::UInt32 => (0, u32::MAX.into()),
            T::UInt64 => (0, u64::MAX.into()),
            T::Float32 | T::Float64 => (i64::MIN.into(), u64::MAX.into()),
            _ => (1, 0),
        };
        match v {
            Val::Int(_) | Val::UInt(_) => {
                let x: i128 = match v {
                    Val::Int(i) => i.into(),
                    Val::UInt(u) => u.into(),
                    _ => 0,
                };
                if min > max {
                    return self.type_mismatch(unit, e.span, t);
                }
                if x < min || x > max {
                    self.error(unit, e.span, "Integer value out of range.");
                    let clamped = x.clamp(min, max);
                    return Some(if clamped < 0 {
                        Val::Int(clamped as i64)
                    } else {
                        Val::UInt(clamped as u64)
                    });
                }
                Some(v)
            }
            Val::Void if *t == T::Void => Some(v),
            Val::Bool(_) if *t == T::Bool => Some(v),
            Val::Float(_) if matches!(t, T::Float32 | T::Float64) => Some(v),
            Val::Text(_) if *t == T::Text => Some(v),
            Val::Data(_) if *t == T::Data => Some(v),
            Val::Enum(id, ref b, _) if matches!(t, T::Enum(tid, tb) if *tid == id && tb == b) => {
                Some(v)
            }
            Val::List(ref lt, _) if matches!(t, T::List(_)) && lt == t => Some(v),
            Val::List(..) if matches!(t, T::AnyPointer(a) if !matches!(a, out::AnyPointer::AnyStruct | out::AnyPointer::Capability)) => {
                Some(v)
            }
            Val::Struct(id, ref b, _) if matches!(t, T::Struct(tid, tb) if *tid == id && tb == b) => {
                Some(v)
            }
            Val::Struct(..) if matches!(t, T::AnyPointer(a) if !matches!(a, out::AnyPointer::AnyList | out::AnyPointer::Capability)) => {
                Some(v)
            }
            Val::Any(_) if matches!(t, T::AnyPointer(_)) => Some(v),
            _ => self.type_mismatch(unit, e.span, t),
        }
    }

    fn compile_value_inner(
        &mut self,
        scope: &Rc<BrandScope>,
        e: &Expr,
        t: &out::Type,
        resolver: usize,
    ) -> Option<Val> {
        let unit = self.nodes[resolver].unit;
        match &e.kind {
            ExprKind::Unknown => None,
            ExprKind::RelativeName(name) => {
                let id = name.value.as_str();
                if let out::Type::Enum(eid, brand) = t {
                    if let Some(i) = self.enumerant_number(*eid, id) {
                        return Some(Val::Enum(*eid, brand.clone(), i));
                    }
                } else {
                    match id {
                        "void" => return Some(Val::Void),
                        "true" => return Some(Val::Bool(true)),
                        "false" => return Some(Val::Bool(false)),
                        "nan" => return Some(Val::Float(f64::NAN)),
                        "inf" => return Some(Val::Float(f64::INFINITY)),
                        _ => {}
                    }
                }
                self.read_constant(scope, e, resolver)
            }
            ExprKind::AbsoluteName(_)
            | ExprKind::Import(_)
            | ExprKind::Application { .. }
            | ExprKind::Member { .. } => self.read_constant(scope, e, resolver),
            ExprKind::Embed(path) => {
                let Some(bytes) = self.p.embeds.get(&(unit, path.value.clone())).cloned() else {
                    self.error(
                        unit,
                        path.span,
                        format!("Couldn't read file for embed: {}", path.value),
                    );
                    return None;
                };
                match t {
                    out::Type::Text => Some(Val::Text(bytes)),
                    out::Type::Data => Some(Val::Data(bytes)),
                    out::Type::Struct(id, brand) => match Obj::from_message(&bytes) {
                        Some(obj) => Some(Val::Struct(*id, brand.clone(), obj)),
                        None => {
                            self.error(
                                unit,
                                e.span,
                                "Embedded file is not a valid Cap'n Proto message.",
                            );
                            None
                        }
                    },
                    _ => {
                        self.error(
                            unit,
                            e.span,
                            "Embeds can only be used when Text, Data, or a struct is expected.",
                        );
                        None
                    }
                }
            }
            ExprKind::PositiveInt(v) => Some(Val::UInt(*v)),
            ExprKind::NegativeInt(v) => {
                if *v > (1u64 << 63) {
                    self.error(unit, e.span, "Integer is too big to be negative.");
                    None
                } else {
                    Some(Val::Int((*v as i64).wrapping_neg()))
                }
            }
            ExprKind::Float(f) => Some(Val::Float(*f)),
            ExprKind::String(s) => Some(if *t == out::Type::Data {
                Val::Data(s.as_bytes().to_vec())
            } else {
                Val::Text(s.as_bytes().to_vec())
            }),
            ExprKind::StringBytes(b) => Some(if *t == out::Type::Data {
                Val::Data(b.clone())
            } else {
                Val::Text(b.clone())
            }),
            ExprKind::Binary(b) => {
                if *t != out::Type::Data {
                    return self.type_mismatch(unit, e.span, t);
                }
                Some(Val::Data(b.clone()))
            }
            ExprKind::List(items) => {
                let out::Type::List(element) = t else {
                    return self.type_mismatch(unit, e.span, t);
                };
                let mut values = Vec::new();
                for item in items {
                    values.push(self.compile_value(scope, item, element, resolver));
                }
                let obj = self.encode_list(element, values)?;
                Some(Val::List(t.clone(), obj))
            }
            ExprKind::Tuple(params) => {
                let out::Type::Struct(id, brand) = t else {
                    return self.type_mismatch(unit, e.span, t);
                };
                let node = self.node_by_id(*id)?;
                let out::NodeKind::Struct(s) = &node.kind else {
                    return None;
                };
                let mut obj = SObj::new(s.data_words, s.pointers);
                self.fill_struct(scope, &mut obj, *id, brand, params, resolver);
                Some(Val::Struct(*id, brand.clone(), Obj::Struct(obj)))
            }
        }
    }

    fn fill_struct(
        &mut self,
        scope: &Rc<BrandScope>,
        obj: &mut SObj,
        struct_id: u64,
        brand: &out::Brand,
        assignments: &[Param],
        resolver: usize,
    ) {
        let unit = self.nodes[resolver].unit;
        let Some(node) = self.node_by_id(struct_id) else {
            return;
        };
        let out::NodeKind::Struct(s) = &node.kind else {
            return;
        };
        for a in assignments {
            let Some(name) = &a.name else {
                self.error(unit, a.value.span, "Missing field name.");
                continue;
            };
            let Some(field) = s.fields.iter().find(|f| f.name == name.value) else {
                self.error(
                    unit,
                    name.span,
                    format!("Struct has no field named '{}'.", name.value),
                );
                continue;
            };
            if field.discriminant_value != out::NO_DISCRIMINANT {
                obj.set_bits(
                    s.discriminant_offset as u64 * 16,
                    16,
                    field.discriminant_value as u64,
                );
            }
            match &field.kind {
                out::FieldKind::Slot {
                    offset,
                    type_,
                    default_value,
                    ..
                } => {
                    // Generic fields take the types the struct's brand binds.
                    let type_ = substitute(type_, brand);
                    if let Some(v) = self.compile_value(scope, &a.value, &type_, resolver) {
                        obj.set_field(*offset, &type_, default_value, v);
                    }
                }
                out::FieldKind::Group { type_id } => match &a.value.kind {
                    ExprKind::Tuple(inner) => {
                        // Initializing a group clears what an earlier union member left.
                        if let Some(g) = self.node_by_id(*type_id) {
                            if let out::NodeKind::Struct(gs) = &g.kind {
                                clear_group(obj, gs, self, 0);
                            }
                        }
                        self.fill_struct(scope, obj, *type_id, brand, inner, resolver);
                    }
                    _ => self.error(unit, a.value.span, "Type mismatch; expected group."),
                },
            }
        }
    }

    fn encode_list(&mut self, element: &out::Type, values: Vec<Option<Val>>) -> Option<Obj> {
        use out::Type as T;
        let n = values.len();
        let list = match element {
            T::Void => LObj::Void(n as u32),
            T::Bool
            | T::Int8
            | T::UInt8
            | T::Int16
            | T::UInt16
            | T::Enum(..)
            | T::Int32
            | T::UInt32
            | T::Float32
            | T::Int64
            | T::UInt64
            | T::Float64 => {
                let bits = data_bits(element);
                let mut bytes = vec![0u8; (n * bits as usize).div_ceil(8)];
                for (i, v) in values.into_iter().enumerate() {
                    if let Some(v) = v {
                        write_bits(
                            &mut bytes,
                            (i * bits as usize) as u64,
                            bits,
                            scalar_bits(&v, element),
                        );
                    }
                }
                LObj::Bits {
                    bits,
                    count: n as u32,
                    bytes,
                }
            }
            T::Struct(id, _) => {
                let node = self.node_by_id(*id)?;
                let out::NodeKind::Struct(s) = &node.kind else {
                    return None;
                };
                // An element keeps what fits the list's sections, as copying a struct into a
                // list element does: an embedded struct may come from a larger version.
                let elems = values
                    .into_iter()
                    .map(|v| match v {
                        Some(Val::Struct(_, _, Obj::Struct(mut o))) => {
                            o.data.resize(s.data_words as usize * 8, 0);
                            o.ptrs.resize(s.pointers as usize, Obj::Null);
                            o
                        }
                        _ => SObj::new(s.data_words, s.pointers),
                    })
                    .collect();
                LObj::Structs {
                    data_words: s.data_words,
                    pointers: s.pointers,
                    elems,
                }
            }
            _ => LObj::Pointers(
                values
                    .into_iter()
                    .map(|v| v.map(val_to_obj).unwrap_or(Obj::Null))
                    .collect(),
            ),
        };
        Some(Obj::List(list))
    }

    fn read_constant(&mut self, scope: &Rc<BrandScope>, e: &Expr, resolver: usize) -> Option<Val> {
        let unit = self.nodes[resolver].unit;
        let d = self.compile_decl_expr(scope, e, resolver, NO_IMPLICIT)?;
        let idx = match &d {
            BDecl::Decl { decl, .. } => match decl.target {
                Target::Node(i) if self.nodes[i].kind == Kind::Const => Some(i),
                _ => None,
            },
            _ => None,
        };
        let Some(idx) = idx else {
            self.error(
                unit,
                e.span,
                format!("'{}' does not refer to a constant.", expr_string(e)),
            );
            return None;
        };
        let f = self.finished(idx)?;
        let out::NodeKind::Const { type_, value } = &f.node.kind else {
            return None;
        };
        if let ExprKind::RelativeName(name) = &e.kind {
            let parent = self.nodes[idx].parent.map(|p| {
                let n = &self.nodes[p];
                if n.kind == Kind::File {
                    String::new()
                } else {
                    n.display_name[prefix_length(&n.display_name) as usize..].to_string()
                }
            });
            self.error(
                unit,
                e.span,
                format!(
                    "Constant names must be qualified to avoid confusion.  Please replace '{}' \
                     with '{}.{}', if that's what you intended.",
                    name.value,
                    parent.unwrap_or_default(),
                    name.value
                ),
            );
        }
        Some(out_to_val(value, type_))
    }

    /// Reports a value that does not fit type `t`.
    fn type_mismatch<T>(&mut self, unit: usize, span: Span, t: &out::Type) -> Option<T> {
        let name = self.type_name(t);
        self.error(unit, span, format!("Type mismatch; expected {name}."));
        None
    }

    fn type_name(&mut self, t: &out::Type) -> String {
        use out::Type as T;
        match t {
            T::Void => "Void".into(),
            T::Bool => "Bool".into(),
            T::Int8 => "Int8".into(),
            T::Int16 => "Int16".into(),
            T::Int32 => "Int32".into(),
            T::Int64 => "Int64".into(),
            T::UInt8 => "UInt8".into(),
            T::UInt16 => "UInt16".into(),
            T::UInt32 => "UInt32".into(),
            T::UInt64 => "UInt64".into(),
            T::Float32 => "Float32".into(),
            T::Float64 => "Float64".into(),
            T::Text => "Text".into(),
            T::Data => "Data".into(),
            T::List(e) => format!("List({})", self.type_name(e)),
            T::Enum(id, _) | T::Struct(id, _) | T::Interface(id, _) => match self.by_id.get(id) {
                Some(&i) => {
                    let n = &self.nodes[i].display_name;
                    n[prefix_length(n) as usize..].to_string()
                }
                None => format!("@0x{id:x}"),
            },
            T::AnyPointer(_) => "AnyPointer".into(),
        }
    }

    /// Resolves annotation applications. Their values are compiled later ([`ValueJob`]), once
    /// every node they might need is laid out; only their IDs, brands and checks happen here.
    #[allow(clippy::too_many_arguments)]
    fn compile_annotations(
        &mut self,
        scope: &Rc<BrandScope>,
        resolver: usize,
        uses: impl Iterator<Item = &'a AnnotationUse>,
        flag: Tgt,
        owner: u64,
        site: Site,
    ) -> Vec<out::Annotation> {
        if !self.annotations {
            return Vec::new();
        }
        let unit = self.nodes[resolver].unit;
        let mut result = Vec::new();
        for a in uses {
            let mut ann = out::Annotation {
                id: 0,
                brand: out::Brand::default(),
                value: out::Value::Void,
            };
            let Some(d) = self.compile_decl_expr(scope, &a.name, resolver, NO_IMPLICIT) else {
                result.push(ann);
                continue;
            };
            let target = match &d {
                BDecl::Decl { decl, brand, .. } => match decl.target {
                    Target::Node(i) if self.nodes[i].kind == Kind::Annotation => {
                        Some((i, decl.id, brand.clone()))
                    }
                    _ => None,
                },
                _ => None,
            };
            let Some((idx, id, brand)) = target else {
                self.error(
                    unit,
                    a.name.span,
                    format!("'{}' is not an annotation.", expr_string(&a.name)),
                );
                result.push(ann);
                continue;
            };
            ann.id = id;
            ann.brand = self.compile_brand(&brand, resolver);
            if let Some(f) = self.finished(idx) {
                if let out::NodeKind::Annotation { type_, targets } = &f.node.kind {
                    if !flag.allowed(targets) {
                        self.error(
                            unit,
                            a.name.span,
                            format!(
                                "'{}' cannot be applied to this kind of declaration.",
                                expr_string(&a.name)
                            ),
                        );
                    }
                    // A generic annotation's value has the type its brand binds.
                    let type_ = substitute(type_, &ann.brand);
                    match &a.value {
                        None => {
                            if type_ == out::Type::Void {
                                ann.value = out::Value::Void;
                            } else {
                                self.error(
                                    unit,
                                    a.name.span,
                                    format!("'{}' requires a value.", expr_string(&a.name)),
                                );
                                ann.value = default_default(&type_);
                            }
                        }
                        Some(v) => {
                            ann.value = default_default(&type_);
                            self.jobs.push(ValueJob {
                                owner,
                                site,
                                index: result.len(),
                                expr: v,
                                type_,
                                scope: scope.clone(),
                                resolver,
                            });
                        }
                    }
                }
            }
            result.push(ann);
        }
        result
    }

    // ---------------------------------------------------------------------------------------
    // Which nodes go into the request

    fn traverse(
        &mut self,
        idx: usize,
        eagerness: u32,
        seen: &mut FastMap<usize, u32>,
        order: &mut Vec<usize>,
    ) {
        let slot = seen.entry(idx).or_insert(0);
        if *slot & eagerness == eagerness {
            return;
        }
        *slot |= eagerness;
        if let Some(f) = self.finished(idx) {
            if eagerness / DEPENDENCIES != 0 {
                let next = (eagerness & !(DEPENDENCIES - 1)) | (eagerness / DEPENDENCIES);
                let mut deps = Vec::new();
                node_dependencies(&f.node, &mut deps);
                for aux in &f.aux {
                    node_dependencies(aux, &mut deps);
                }
                for id in deps {
                    if let Some(&d) = self.by_id.get(&id) {
                        self.traverse(d, next, seen, order);
                    }
                }
            }
            order.push(idx);
        }
        if eagerness & PARENTS != 0 {
            if let Some(p) = self.nodes[idx].parent {
                self.traverse(p, eagerness, seen, order);
            }
        }
        if eagerness & CHILDREN != 0 {
            self.expand(idx);
            for child in self.nodes[idx].nested.clone() {
                self.traverse(child, eagerness, seen, order);
            }
            // Every `using` of the node, also one that lost a name clash, is compiled and
            // checked.
            for a in self.nodes[idx].aliases.clone() {
                self.compile_alias(a);
            }
        }
    }
}

/// `t` with the generic parameters `brand` binds replaced by their bindings (unbound ones become
/// `AnyPointer`).
fn substitute(t: &out::Type, brand: &out::Brand) -> out::Type {
    use out::Type as T;
    match t {
        T::AnyPointer(out::AnyPointer::Parameter { scope_id, index }) => {
            match brand.scopes.iter().find(|s| s.scope_id == *scope_id) {
                Some(out::BrandScope { bind: Some(b), .. }) => b
                    .get(*index as usize)
                    .cloned()
                    .flatten()
                    .unwrap_or(T::AnyPointer(out::AnyPointer::Any)),
                Some(_) => t.clone(),
                None => T::AnyPointer(out::AnyPointer::Any),
            }
        }
        T::List(e) => T::List(Box::new(substitute(e, brand))),
        T::Struct(id, b) => T::Struct(*id, substitute_brand(b, brand)),
        T::Enum(id, b) => T::Enum(*id, substitute_brand(b, brand)),
        T::Interface(id, b) => T::Interface(*id, substitute_brand(b, brand)),
        other => other.clone(),
    }
}

fn substitute_brand(b: &out::Brand, brand: &out::Brand) -> out::Brand {
    out::Brand {
        scopes: b
            .scopes
            .iter()
            .map(|s| out::BrandScope {
                scope_id: s.scope_id,
                bind: match &s.bind {
                    Some(bind) => Some(
                        bind.iter()
                            .map(|t| t.as_ref().map(|t| substitute(t, brand)))
                            .collect(),
                    ),
                    // An inherited scope takes the bindings of the context.
                    None => brand
                        .scopes
                        .iter()
                        .find(|o| o.scope_id == s.scope_id)
                        .and_then(|o| o.bind.clone()),
                },
            })
            .collect(),
    }
}

fn node_dependencies(n: &out::Node, deps: &mut Vec<u64>) {
    fn ty(t: &out::Type, deps: &mut Vec<u64>) {
        match t {
            out::Type::List(e) => ty(e, deps),
            out::Type::Struct(id, b) | out::Type::Enum(id, b) | out::Type::Interface(id, b) => {
                deps.push(*id);
                brand(b, deps);
            }
            _ => {}
        }
    }
    fn brand(b: &out::Brand, deps: &mut Vec<u64>) {
        for s in &b.scopes {
            for t in s.bind.iter().flatten().flatten() {
                ty(t, deps);
            }
        }
    }
    fn annotations(a: &[out::Annotation], deps: &mut Vec<u64>) {
        deps.extend(a.iter().map(|a| a.id));
    }
    match &n.kind {
        out::NodeKind::Struct(s) => {
            for f in &s.fields {
                if let out::FieldKind::Slot { type_, .. } = &f.kind {
                    ty(type_, deps);
                }
                annotations(&f.annotations, deps);
            }
        }
        out::NodeKind::Enum(list) => {
            for e in list {
                annotations(&e.annotations, deps);
            }
        }
        out::NodeKind::Interface {
            methods,
            superclasses,
        } => {
            for (id, b) in superclasses {
                if *id != 0 {
                    deps.push(*id);
                }
                brand(b, deps);
            }
            for m in methods {
                deps.push(m.param_struct_type);
                brand(&m.param_brand, deps);
                deps.push(m.result_struct_type);
                brand(&m.result_brand, deps);
                annotations(&m.annotations, deps);
            }
        }
        out::NodeKind::Const { type_, .. } | out::NodeKind::Annotation { type_, .. } => {
            ty(type_, deps)
        }
        out::NodeKind::File => {}
    }
    annotations(&n.annotations, deps);
}

fn clear_group(obj: &mut SObj, group: &out::Struct, t: &mut Translator<'_>, depth: u32) {
    if depth > 64 {
        return;
    }
    if group.discriminant_count > 0 {
        obj.set_bits(group.discriminant_offset as u64 * 16, 16, 0);
    }
    for f in &group.fields {
        match &f.kind {
            out::FieldKind::Slot { offset, type_, .. } => {
                if is_pointer(type_) {
                    if let Some(p) = obj.ptrs.get_mut(*offset as usize) {
                        *p = Obj::Null;
                    }
                } else {
                    let bits = data_bits(type_);
                    if bits > 0 {
                        obj.set_bits(*offset as u64 * bits as u64, bits, 0);
                    }
                }
            }
            out::FieldKind::Group { type_id } => {
                if let Some(g) = t.node_by_id(*type_id) {
                    if let out::NodeKind::Struct(gs) = &g.kind {
                        clear_group(obj, gs, t, depth + 1);
                    }
                }
            }
        }
    }
}

fn data_bits(t: &out::Type) -> u8 {
    use out::Type as T;
    match t {
        T::Bool => 1,
        T::Int8 | T::UInt8 => 8,
        T::Int16 | T::UInt16 | T::Enum(..) => 16,
        T::Int32 | T::UInt32 | T::Float32 => 32,
        T::Int64 | T::UInt64 | T::Float64 => 64,
        _ => 0,
    }
}

/// The bits a checked scalar value is stored as, for a field or element of type `t`.
fn scalar_bits(v: &Val, t: &out::Type) -> u64 {
    use out::Type as T;
    let as_f64 = |v: &Val| match v {
        Val::Float(f) => *f,
        Val::Int(i) => *i as f64,
        Val::UInt(u) => *u as f64,
        _ => 0.0,
    };
    let as_u64 = |v: &Val| match v {
        Val::Int(i) => *i as u64,
        Val::UInt(u) => *u,
        Val::Bool(b) => *b as u64,
        Val::Enum(_, _, x) => *x as u64,
        _ => 0,
    };
    match t {
        T::Float32 => (as_f64(v) as f32).to_bits() as u64,
        T::Float64 => as_f64(v).to_bits(),
        _ => {
            let bits = data_bits(t);
            let x = as_u64(v);
            if bits == 64 {
                x
            } else {
                x & ((1u64 << bits) - 1)
            }
        }
    }
}

fn out_scalar_bits(v: &out::Value) -> u64 {
    use out::Value as V;
    match v {
        V::Bool(b) => *b as u64,
        V::Int8(x) => *x as u8 as u64,
        V::Int16(x) => *x as u16 as u64,
        V::Int32(x) => *x as u32 as u64,
        V::Int64(x) => *x as u64,
        V::UInt8(x) => *x as u64,
        V::UInt16(x) => *x as u64,
        V::UInt32(x) => *x as u64,
        V::UInt64(x) => *x,
        V::Float32(x) => x.to_bits() as u64,
        V::Float64(x) => x.to_bits(),
        V::Enum(x) => *x as u64,
        _ => 0,
    }
}

fn val_to_out(v: Val, t: &out::Type) -> out::Value {
    use out::Type as T;
    use out::Value as V;
    let i = |v: &Val| match v {
        Val::Int(i) => *i as i128,
        Val::UInt(u) => *u as i128,
        _ => 0,
    };
    match t {
        T::Void => V::Void,
        T::Bool => V::Bool(matches!(v, Val::Bool(true))),
        T::Int8 => V::Int8(i(&v) as i8),
        T::Int16 => V::Int16(i(&v) as i16),
        T::Int32 => V::Int32(i(&v) as i32),
        T::Int64 => V::Int64(i(&v) as i64),
        T::UInt8 => V::UInt8(i(&v) as u8),
        T::UInt16 => V::UInt16(i(&v) as u16),
        T::UInt32 => V::UInt32(i(&v) as u32),
        T::UInt64 => V::UInt64(i(&v) as u64),
        T::Float32 => V::Float32(f32::from_bits(scalar_bits(&v, t) as u32)),
        T::Float64 => V::Float64(f64::from_bits(scalar_bits(&v, t))),
        T::Enum(..) => V::Enum(match v {
            Val::Enum(_, _, x) => x,
            _ => 0,
        }),
        T::Interface(..) => V::Interface,
        T::Text => V::Text(match v {
            Val::Text(s) => Some(s),
            _ => None,
        }),
        T::Data => V::Data(match v {
            Val::Data(d) => Some(d),
            _ => None,
        }),
        T::List(_) => V::List(Some(val_to_obj(v).to_message())),
        T::Struct(..) => V::Struct(Some(val_to_obj(v).to_message())),
        T::AnyPointer(_) => {
            let obj = val_to_obj(v);
            V::AnyPointer((!matches!(obj, Obj::Null)).then(|| obj.to_message()))
        }
    }
}

fn val_to_obj(v: Val) -> Obj {
    match v {
        Val::Text(s) => {
            let mut bytes = s;
            bytes.push(0);
            Obj::List(LObj::Bits {
                bits: 8,
                count: bytes.len() as u32,
                bytes,
            })
        }
        Val::Data(d) => Obj::List(LObj::Bits {
            bits: 8,
            count: d.len() as u32,
            bytes: d,
        }),
        Val::List(_, o) | Val::Struct(_, _, o) | Val::Any(o) => o,
        _ => Obj::Null,
    }
}

/// Turns a constant's stored value back into a value to assign elsewhere.
fn out_to_val(v: &out::Value, t: &out::Type) -> Val {
    use out::Value as V;
    let obj = |m: &Option<Vec<u8>>| m.as_deref().and_then(Obj::from_flat).unwrap_or(Obj::Null);
    match v {
        V::Void => Val::Void,
        V::Bool(b) => Val::Bool(*b),
        V::Int8(x) => Val::Int(*x as i64),
        V::Int16(x) => Val::Int(*x as i64),
        V::Int32(x) => Val::Int(*x as i64),
        V::Int64(x) => Val::Int(*x),
        V::UInt8(x) => Val::UInt(*x as u64),
        V::UInt16(x) => Val::UInt(*x as u64),
        V::UInt32(x) => Val::UInt(*x as u64),
        V::UInt64(x) => Val::UInt(*x),
        V::Float32(x) => Val::Float(*x as f64),
        V::Float64(x) => Val::Float(*x),
        V::Text(s) => Val::Text(s.clone().unwrap_or_default()),
        V::Data(d) => Val::Data(d.clone().unwrap_or_default()),
        // The reference compiler reads an enum constant back as its number, which then fits no
        // enum type: enum constants cannot be used as values there, nor here.
        V::Enum(x) => Val::UInt(*x as u64),
        V::Interface => Val::Void,
        V::List(m) => Val::List(t.clone(), obj(m)),
        V::Struct(m) => match t {
            out::Type::Struct(id, b) => Val::Struct(*id, b.clone(), obj(m)),
            _ => Val::Any(obj(m)),
        },
        V::AnyPointer(m) => Val::Any(obj(m)),
    }
}

// ---------------------------------------------------------------------------------------------
// Encoded pointer values

/// A pointer value as a tree of objects, encoded into a flat message at the end.
#[derive(Debug, Clone, PartialEq)]
enum Obj {
    Null,
    Struct(SObj),
    List(LObj),
}

#[derive(Debug, Clone, PartialEq)]
struct SObj {
    data: Vec<u8>,
    ptrs: Vec<Obj>,
}

#[derive(Debug, Clone, PartialEq)]
enum LObj {
    Void(u32),
    Bits {
        bits: u8,
        count: u32,
        bytes: Vec<u8>,
    },
    Pointers(Vec<Obj>),
    Structs {
        data_words: u16,
        pointers: u16,
        elems: Vec<SObj>,
    },
}

fn write_bits(bytes: &mut [u8], offset: u64, bits: u8, value: u64) {
    if bits == 1 {
        let (byte, bit) = ((offset / 8) as usize, offset % 8);
        if let Some(b) = bytes.get_mut(byte) {
            if value & 1 != 0 {
                *b |= 1 << bit;
            } else {
                *b &= !(1 << bit);
            }
        }
        return;
    }
    let start = (offset / 8) as usize;
    let n = bits as usize / 8;
    if let Some(slot) = bytes.get_mut(start..start + n) {
        slot.copy_from_slice(&value.to_le_bytes()[..n]);
    }
}

impl SObj {
    fn new(data_words: u16, pointers: u16) -> Self {
        SObj {
            data: vec![0; data_words as usize * 8],
            ptrs: vec![Obj::Null; pointers as usize],
        }
    }

    fn set_bits(&mut self, offset: u64, bits: u8, value: u64) {
        write_bits(&mut self.data, offset, bits, value);
    }

    fn set_field(&mut self, offset: u32, t: &out::Type, default: &out::Value, v: Val) {
        if is_pointer(t) {
            if let Some(p) = self.ptrs.get_mut(offset as usize) {
                *p = val_to_obj(v);
            }
            return;
        }
        let bits = data_bits(t);
        if bits == 0 {
            return;
        }
        let value = scalar_bits(&v, t) ^ out_scalar_bits(default);
        self.set_bits(offset as u64 * bits as u64, bits, value);
    }
}

impl Obj {
    /// Encodes the object as a single-segment message whose root pointer points at it.
    fn to_message(&self) -> Vec<u8> {
        let mut words: Vec<u64> = vec![0];
        encode(self, 0, &mut words);
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// Decodes a message written by [`Obj::to_message`] (one segment, no far pointers).
    fn from_flat(bytes: &[u8]) -> Option<Obj> {
        let words: Vec<u64> = bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        decode(&words, 0, 0)
    }

    /// Decodes a stream-framed message (an `embed`ded file) into its root struct, copied as
    /// the reference compiler copies it: each struct keeps the section sizes it has in the file
    /// (trailing zeros included, which canonicalizing would drop), and the objects come in
    /// depth-first order whatever their order and segments in the file. A null root is an
    /// empty struct there too.
    fn from_message(bytes: &[u8]) -> Option<Obj> {
        // The reference reads the file as words and refuses a partial one.
        if !bytes.len().is_multiple_of(8) {
            return None;
        }
        let options = capnp::message::ReaderOptions {
            traversal_limit_in_words: None,
            nesting_limit: 64,
        };
        let reader =
            capnp::serialize::read_message_from_flat_slice(&mut &bytes[..], options).ok()?;
        let root: capnp::any_pointer::Reader<'_> = reader.get_root().ok()?;
        let words = root.target_size().ok()?.word_count;
        let mut copy = capnp::message::Builder::new(
            capnp::message::HeapAllocator::new()
                .first_segment_words(u32::try_from(words + 1).ok()?),
        );
        copy.set_root(root).ok()?;
        let segments = copy.get_segments_for_output();
        let [segment] = &segments[..] else {
            return None;
        };
        match Obj::from_flat(segment)? {
            Obj::Null => Some(Obj::Struct(SObj::new(0, 0))),
            Obj::List(_) => None,
            s => Some(s),
        }
    }
}

fn encode(obj: &Obj, at: usize, words: &mut Vec<u64>) {
    let alloc = |words: &mut Vec<u64>, n: usize| {
        let start = words.len();
        words.resize(start + n, 0);
        start
    };
    let offset =
        |at: usize, target: usize| (((target as i64 - at as i64 - 1) as u64) << 2) & 0xffff_fffc;
    match obj {
        Obj::Null => {}
        // A struct with no data and no pointers is encoded pointing just before itself, so that
        // it is not mistaken for a null pointer.
        Obj::Struct(s) if s.data.is_empty() && s.ptrs.is_empty() => {
            words[at] = 0xffff_fffc;
        }
        Obj::Struct(s) => {
            let dw = s.data.len().div_ceil(8);
            let start = alloc(words, dw + s.ptrs.len());
            words[at] = offset(at, start) | ((dw as u64) << 32) | ((s.ptrs.len() as u64) << 48);
            write_struct_body(s, start, words);
        }
        Obj::List(l) => match l {
            LObj::Void(n) => {
                words[at] = offset(at, at + 1) | 1 | ((*n as u64) << 35);
            }
            LObj::Bits { bits, count, bytes } => {
                let size_code = match bits {
                    1 => 1,
                    8 => 2,
                    16 => 3,
                    32 => 4,
                    _ => 5,
                };
                let start = alloc(words, bytes.len().div_ceil(8));
                for (i, b) in bytes.iter().enumerate() {
                    words[start + i / 8] |= (*b as u64) << ((i % 8) * 8);
                }
                words[at] = offset(at, start) | 1 | (size_code << 32) | ((*count as u64) << 35);
            }
            LObj::Pointers(items) => {
                let start = alloc(words, items.len());
                words[at] = offset(at, start) | 1 | (6 << 32) | ((items.len() as u64) << 35);
                for (i, item) in items.iter().enumerate() {
                    encode(item, start + i, words);
                }
            }
            LObj::Structs {
                data_words,
                pointers,
                elems,
            } => {
                let per = *data_words as usize + *pointers as usize;
                let start = alloc(words, 1 + per * elems.len());
                words[at] =
                    offset(at, start) | 1 | (7 << 32) | (((per * elems.len()) as u64) << 35);
                words[start] = ((elems.len() as u64) << 2)
                    | ((*data_words as u64) << 32)
                    | ((*pointers as u64) << 48);
                for (i, e) in elems.iter().enumerate() {
                    write_struct_body(e, start + 1 + i * per, words);
                }
            }
        },
    }
}

fn write_struct_body(s: &SObj, start: usize, words: &mut Vec<u64>) {
    let dw = s.data.len().div_ceil(8);
    for (i, b) in s.data.iter().enumerate() {
        words[start + i / 8] |= (*b as u64) << ((i % 8) * 8);
    }
    for (i, p) in s.ptrs.iter().enumerate() {
        encode(p, start + dw + i, words);
    }
}

fn decode(words: &[u64], at: usize, depth: u32) -> Option<Obj> {
    if depth > 64 {
        return None;
    }
    let p = *words.get(at)?;
    if p == 0 {
        return Some(Obj::Null);
    }
    let target = (at as i64 + 1 + ((p as u32 as i32) >> 2) as i64) as usize;
    match p & 3 {
        0 => {
            let dw = ((p >> 32) & 0xffff) as usize;
            let pc = (p >> 48) as usize;
            decode_struct(words, target, dw, pc, depth).map(Obj::Struct)
        }
        1 => {
            let code = (p >> 32) & 7;
            let count = (p >> 35) as usize;
            Some(Obj::List(match code {
                0 => LObj::Void(count as u32),
                1..=5 => {
                    let bits = [0u8, 1, 8, 16, 32, 64][code as usize];
                    let nbytes = (count * bits as usize).div_ceil(8);
                    let bytes = (0..nbytes)
                        .map(|i| {
                            words
                                .get(target + i / 8)
                                .map(|w| (w >> ((i % 8) * 8)) as u8)
                        })
                        .collect::<Option<Vec<u8>>>()?;
                    LObj::Bits {
                        bits,
                        count: count as u32,
                        bytes,
                    }
                }
                6 => LObj::Pointers(
                    (0..count)
                        .map(|i| decode(words, target + i, depth + 1))
                        .collect::<Option<Vec<_>>>()?,
                ),
                _ => {
                    let tag = *words.get(target)?;
                    let n = ((tag as u32) >> 2) as usize;
                    let dw = ((tag >> 32) & 0xffff) as usize;
                    let pc = (tag >> 48) as usize;
                    let per = dw + pc;
                    LObj::Structs {
                        data_words: dw as u16,
                        pointers: pc as u16,
                        elems: (0..n)
                            .map(|i| decode_struct(words, target + 1 + i * per, dw, pc, depth))
                            .collect::<Option<Vec<_>>>()?,
                    }
                }
            }))
        }
        _ => None,
    }
}

fn decode_struct(words: &[u64], start: usize, dw: usize, pc: usize, depth: u32) -> Option<SObj> {
    let data = (0..dw * 8)
        .map(|i| words.get(start + i / 8).map(|w| (w >> ((i % 8) * 8)) as u8))
        .collect::<Option<Vec<u8>>>()?;
    let ptrs = (0..pc)
        .map(|i| decode(words, start + dw + i, depth + 1))
        .collect::<Option<Vec<_>>>()?;
    Some(SObj { data, ptrs })
}
