//! Compares two `CodeGeneratorRequest`s (e.g. from `capnp compile -o-` and
//! from our compiler) and explains the differences in readable form.
//!
//! Nodes are matched by ID, so the order of the node list does not matter.
//! Matched nodes are compared through their canonical encoding, which is
//! independent of how each encoder laid out the message; when they differ,
//! the report shows a line diff of the two nodes as printed by capnp-rust's
//! reflection (`{:#?}`), plus the pointer-typed values (struct, list and
//! `AnyPointer` defaults, constants and annotation values) which that
//! printing shows only as `<opaque pointer>`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use capnp::message::{self, HeapAllocator, ReaderOptions};
use capnp::schema_capnp::{annotation, code_generator_request, node, value};

/// What [`diff_requests`] compares besides the nodes themselves.
#[derive(Clone, Debug)]
pub struct CompareOptions {
    /// Compare `sourceInfo`: doc comments of nodes and of their members.
    pub source_info: bool,
    /// Compare `requestedFiles`: which files, and the IDs of their imports.
    pub requested_files: bool,
    /// With `requested_files`, also compare each file's `filename` and the
    /// names its imports were written with. Turn off when the two requests
    /// name the same files differently (other paths or `--src-prefix`).
    pub requested_filenames: bool,
    /// Compare `capnpVersion`. Off by default: it names the compiler that
    /// produced a request, not anything of the schema.
    pub capnp_version: bool,
    /// The most lines one node's diff may take in the report.
    pub max_diff_lines: usize,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            source_info: true,
            requested_files: true,
            requested_filenames: true,
            capnp_version: false,
            max_diff_lines: 60,
        }
    }
}

impl CompareOptions {
    /// Only the nodes (and, by default, the requested files): for checking
    /// that two schemas declare the same things, whatever their comments.
    pub fn nodes_only() -> Self {
        CompareOptions {
            source_info: false,
            ..CompareOptions::default()
        }
    }
}

/// Compares two CodeGeneratorRequests node by node (nodes matched by id;
/// node list order not significant). Returns human-readable differences
/// (empty = equal).
///
/// Each entry is one difference and may span several lines (a node's diff).
/// Unreadable input is reported as a difference, not a panic.
pub fn diff_requests(expected: &[u8], actual: &[u8], opts: &CompareOptions) -> Vec<String> {
    let expected_msg = match read_request(expected) {
        Ok(m) => m,
        Err(e) => return vec![format!("cannot read the expected request: {e}")],
    };
    let actual_msg = match read_request(actual) {
        Ok(m) => m,
        Err(e) => return vec![format!("cannot read the actual request: {e}")],
    };
    let mut diffs = Vec::new();
    if let Err(e) = diff_readers(&expected_msg, &actual_msg, opts, &mut diffs) {
        diffs.push(format!("cannot read a request: {e}"));
    }
    diffs
}

/// Panics with the report of [`diff_requests`] unless the requests match.
#[track_caller]
pub fn assert_same_requests(expected: &[u8], actual: &[u8], opts: &CompareOptions) {
    let diffs = diff_requests(expected, actual, opts);
    if !diffs.is_empty() {
        panic!(
            "the requests differ ({} differences):\n\n{}",
            diffs.len(),
            diffs.join("\n\n")
        );
    }
}

/// A line diff of two texts: `-` lines only in `expected`, `+` lines only
/// in `actual`, two lines of context, `@@` headers with 1-based line
/// numbers. Empty when the texts are equal. At most `max_lines` lines (the
/// rest is summarized in a last line).
pub fn line_diff(expected: &str, actual: &str, max_lines: usize) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let ops = diff_ops(&a, &b);
    render_hunks(&a, &b, &ops, 2, max_lines)
}

// ---------------------------------------------------------------------------

type Message = message::Reader<capnp::serialize::OwnedSegments>;

fn read_request(bytes: &[u8]) -> capnp::Result<Message> {
    // Schema requests are trusted test data, and big ones (schema.capnp with
    // its imports) can exceed the default traversal limit.
    let mut options = ReaderOptions::new();
    options.traversal_limit_in_words(None).nesting_limit(512);
    let message = capnp::serialize::read_message(&mut &bytes[..], options)?;
    // Fail early on a root that is not a request.
    message.get_root::<code_generator_request::Reader>()?;
    Ok(message)
}

fn diff_readers(
    expected: &Message,
    actual: &Message,
    opts: &CompareOptions,
    diffs: &mut Vec<String>,
) -> capnp::Result<()> {
    let expected = expected.get_root::<code_generator_request::Reader>()?;
    let actual = actual.get_root::<code_generator_request::Reader>()?;

    let expected_nodes = index_nodes(expected, "expected", diffs)?;
    let actual_nodes = index_nodes(actual, "actual", diffs)?;
    diff_nodes(&expected_nodes, &actual_nodes, opts, diffs)?;
    if opts.requested_files {
        diff_requested_files(expected, actual, opts, diffs)?;
    }
    if opts.source_info {
        diff_source_info(expected, actual, &expected_nodes, &actual_nodes, diffs)?;
    }
    if opts.capnp_version {
        let version = |r: code_generator_request::Reader| -> capnp::Result<String> {
            if !r.has_capnp_version() {
                return Ok("(none)".to_owned());
            }
            let v = r.get_capnp_version()?;
            Ok(format!(
                "{}.{}.{}",
                v.get_major(),
                v.get_minor(),
                v.get_micro()
            ))
        };
        let (e, a) = (version(expected)?, version(actual)?);
        if e != a {
            diffs.push(format!("capnpVersion: expected {e}, actual {a}"));
        }
    }
    Ok(())
}

fn index_nodes<'a>(
    request: code_generator_request::Reader<'a>,
    side: &str,
    diffs: &mut Vec<String>,
) -> capnp::Result<BTreeMap<u64, node::Reader<'a>>> {
    let mut nodes = BTreeMap::new();
    for node in request.get_nodes()? {
        if let Some(previous) = nodes.insert(node.get_id(), node) {
            diffs.push(format!(
                "the {side} request lists node {} twice ({} and {})",
                id_hex(node.get_id()),
                display_name(previous),
                display_name(node)
            ));
        }
    }
    Ok(nodes)
}

fn diff_nodes(
    expected: &BTreeMap<u64, node::Reader>,
    actual: &BTreeMap<u64, node::Reader>,
    opts: &CompareOptions,
    diffs: &mut Vec<String>,
) -> capnp::Result<()> {
    for (id, node) in expected {
        if !actual.contains_key(id) {
            diffs.push(format!(
                "missing node {} ({}): in expected only",
                id_hex(*id),
                display_name(*node)
            ));
        }
    }
    for (id, node) in actual {
        if !expected.contains_key(id) {
            diffs.push(format!(
                "extra node {} ({}): in actual only",
                id_hex(*id),
                display_name(*node)
            ));
        }
    }
    for (id, e) in expected {
        let Some(a) = actual.get(id) else { continue };
        if canonical_node(*e)? == canonical_node(*a)? {
            continue;
        }
        let mut report = format!("node {} ({}) differs", id_hex(*id), display_name(*e));
        let name_a = display_name(*a);
        if name_a != display_name(*e) {
            let _ = write!(report, " (actual displayName {name_a})");
        }
        report.push_str(":\n");
        let text_diff = line_diff(&format!("{e:#?}"), &format!("{a:#?}"), opts.max_diff_lines);
        report.push_str(&text_diff);
        let pointer_diff = diff_pointer_values(*e, *a, opts.max_diff_lines)?;
        report.push_str(&pointer_diff);
        if text_diff.is_empty() && pointer_diff.is_empty() {
            // Same printed fields and pointer values: the difference is in
            // something reflection does not show (e.g. fields unknown to
            // this capnp-rust), so fall back to the words.
            report.push_str("  (printed forms are equal; canonical words differ)\n");
            report.push_str(&line_diff(
                &super::hex_words(&canonical_node(*e)?),
                &super::hex_words(&canonical_node(*a)?),
                opts.max_diff_lines,
            ));
        }
        diffs.push(report.trim_end().to_owned());
    }
    Ok(())
}

fn diff_requested_files(
    expected: code_generator_request::Reader,
    actual: code_generator_request::Reader,
    opts: &CompareOptions,
    diffs: &mut Vec<String>,
) -> capnp::Result<()> {
    type Files = BTreeMap<u64, (String, BTreeSet<(u64, String)>)>;
    let collect = |r: code_generator_request::Reader| -> capnp::Result<Files> {
        let mut files = BTreeMap::new();
        for file in r.get_requested_files()? {
            let mut imports = BTreeSet::new();
            for import in file.get_imports()? {
                let name = if opts.requested_filenames {
                    text(import.get_name())
                } else {
                    String::new()
                };
                imports.insert((import.get_id(), name));
            }
            files.insert(file.get_id(), (text(file.get_filename()), imports));
        }
        Ok(files)
    };
    let (expected, actual) = (collect(expected)?, collect(actual)?);
    for (id, (name, _)) in &expected {
        if !actual.contains_key(id) {
            diffs.push(format!(
                "requestedFiles: missing {} ({name}): in expected only",
                id_hex(*id)
            ));
        }
    }
    for (id, (name, _)) in &actual {
        if !expected.contains_key(id) {
            diffs.push(format!(
                "requestedFiles: extra {} ({name}): in actual only",
                id_hex(*id)
            ));
        }
    }
    for (id, (e_name, e_imports)) in &expected {
        let Some((a_name, a_imports)) = actual.get(id) else {
            continue;
        };
        if opts.requested_filenames && e_name != a_name {
            diffs.push(format!(
                "requestedFiles {}: filename expected {e_name:?}, actual {a_name:?}",
                id_hex(*id)
            ));
        }
        let show = |(id, name): &(u64, String)| {
            if name.is_empty() {
                id_hex(*id)
            } else {
                format!("{} {name:?}", id_hex(*id))
            }
        };
        for missing in e_imports.difference(a_imports) {
            diffs.push(format!(
                "requestedFiles {e_name}: import {} in expected only",
                show(missing)
            ));
        }
        for extra in a_imports.difference(e_imports) {
            diffs.push(format!(
                "requestedFiles {e_name}: import {} in actual only",
                show(extra)
            ));
        }
    }
    Ok(())
}

/// A node's doc comment and its members' doc comments.
#[derive(PartialEq)]
struct Docs {
    doc: String,
    members: Vec<String>,
}

fn diff_source_info(
    expected: code_generator_request::Reader,
    actual: code_generator_request::Reader,
    expected_nodes: &BTreeMap<u64, node::Reader>,
    actual_nodes: &BTreeMap<u64, node::Reader>,
    diffs: &mut Vec<String>,
) -> capnp::Result<()> {
    let collect = |r: code_generator_request::Reader| -> capnp::Result<BTreeMap<u64, Docs>> {
        let mut infos = BTreeMap::new();
        for info in r.get_source_info()? {
            let members = info
                .get_members()?
                .iter()
                .map(|m| text(m.get_doc_comment()))
                .collect();
            let docs = Docs {
                doc: text(info.get_doc_comment()),
                members,
            };
            infos.insert(info.get_id(), docs);
        }
        Ok(infos)
    };
    let (expected, actual) = (collect(expected)?, collect(actual)?);
    // Name an entry by the node it describes, from either request.
    let name = |id: u64| {
        expected_nodes
            .get(&id)
            .or_else(|| actual_nodes.get(&id))
            .map(|n| display_name(*n))
            .unwrap_or_else(|| "no such node".to_owned())
    };
    for id in expected.keys().filter(|id| !actual.contains_key(id)) {
        diffs.push(format!(
            "sourceInfo {} ({}): in expected only",
            id_hex(*id),
            name(*id)
        ));
    }
    for id in actual.keys().filter(|id| !expected.contains_key(id)) {
        diffs.push(format!(
            "sourceInfo {} ({}): in actual only",
            id_hex(*id),
            name(*id)
        ));
    }
    for (id, e) in &expected {
        let Some(a) = actual.get(id) else { continue };
        if e == a {
            continue;
        }
        let mut report = format!("sourceInfo {} ({}) differs:\n", id_hex(*id), name(*id));
        if e.doc != a.doc {
            let _ = writeln!(
                report,
                "  docComment: expected {:?}\n              actual   {:?}",
                e.doc, a.doc
            );
        }
        if e.members.len() != a.members.len() {
            let _ = writeln!(
                report,
                "  members: expected {}, actual {}",
                e.members.len(),
                a.members.len()
            );
        }
        for (i, (em, am)) in e.members.iter().zip(&a.members).enumerate() {
            if em != am {
                let _ = writeln!(
                    report,
                    "  member {i} docComment: expected {em:?}\n                        actual   {am:?}"
                );
            }
        }
        diffs.push(report.trim_end().to_owned());
    }
    Ok(())
}

/// The canonical encoding of one node, as a message of its own.
fn canonical_node(node: node::Reader) -> capnp::Result<Vec<u8>> {
    let words = node.total_size()?.word_count + 1;
    let mut builder =
        message::Builder::new(HeapAllocator::new().first_segment_words(clamp_words(words)));
    builder.set_root_canonical(node)?;
    Ok(builder.get_segments_for_output().concat())
}

/// The canonical encoding of a pointer-typed value.
fn canonical_pointer(pointer: capnp::any_pointer::Reader) -> capnp::Result<Vec<u8>> {
    let words = pointer.target_size()?.word_count + 1;
    let mut builder =
        message::Builder::new(HeapAllocator::new().first_segment_words(clamp_words(words)));
    builder.set_root_canonical::<capnp::any_pointer::Owned>(pointer)?;
    Ok(builder.get_segments_for_output().concat())
}

fn clamp_words(words: u64) -> u32 {
    u32::try_from(words).unwrap_or(u32::MAX)
}

/// Reports pointer-typed values that differ between two versions of a
/// node, as word dumps: reflection prints them as `<opaque pointer>`.
fn diff_pointer_values(
    expected: node::Reader,
    actual: node::Reader,
    max_lines: usize,
) -> capnp::Result<String> {
    let expected = pointer_values(expected)?;
    let actual = pointer_values(actual)?;
    let mut out = String::new();
    let paths: BTreeSet<&String> = expected.keys().chain(actual.keys()).collect();
    for path in paths {
        let (e, a) = (expected.get(path), actual.get(path));
        if e == a {
            continue;
        }
        let dump = |v: Option<&Vec<u8>>| v.map(|b| super::hex_words(b)).unwrap_or_default();
        let _ = writeln!(out, "  pointer value {path} (canonical words):");
        out.push_str(&line_diff(&dump(e), &dump(a), max_lines));
    }
    Ok(out)
}

/// The pointer-typed values in a node, keyed by where they are (e.g.
/// `field items default`, `annotation 0x... on field x`), canonicalized.
fn pointer_values(node: node::Reader) -> capnp::Result<BTreeMap<String, Vec<u8>>> {
    let mut values = BTreeMap::new();
    add_annotations(&mut values, "node", node.get_annotations()?)?;
    match node.which()? {
        node::Struct(s) => {
            for field in s.get_fields()? {
                let name = text(field.get_name());
                let place = format!("field {name}");
                add_annotations(&mut values, &place, field.get_annotations()?)?;
                if let capnp::schema_capnp::field::Slot(slot) = field.which()? {
                    add_value(
                        &mut values,
                        format!("{place} default"),
                        slot.get_default_value()?,
                    )?;
                }
            }
        }
        node::Enum(e) => {
            for enumerant in e.get_enumerants()? {
                let place = format!("enumerant {}", text(enumerant.get_name()));
                add_annotations(&mut values, &place, enumerant.get_annotations()?)?;
            }
        }
        node::Interface(i) => {
            for method in i.get_methods()? {
                let place = format!("method {}", text(method.get_name()));
                add_annotations(&mut values, &place, method.get_annotations()?)?;
            }
        }
        node::Const(c) => add_value(&mut values, "const value".to_owned(), c.get_value()?)?,
        node::File(()) | node::Annotation(_) => {}
    }
    Ok(values)
}

fn add_annotations(
    values: &mut BTreeMap<String, Vec<u8>>,
    place: &str,
    annotations: capnp::struct_list::Reader<annotation::Owned>,
) -> capnp::Result<()> {
    for (i, a) in annotations.iter().enumerate() {
        let key = format!("annotation #{i} ({}) on {place}", id_hex(a.get_id()));
        add_value(values, key, a.get_value()?)?;
    }
    Ok(())
}

fn add_value(
    values: &mut BTreeMap<String, Vec<u8>>,
    key: String,
    v: value::Reader,
) -> capnp::Result<()> {
    let pointer = match v.which()? {
        value::List(p) | value::Struct(p) | value::AnyPointer(p) => p,
        _ => return Ok(()),
    };
    values.insert(key, canonical_pointer(pointer)?);
    Ok(())
}

fn display_name(node: node::Reader) -> String {
    text(node.get_display_name())
}

/// A text field as a `String`; unreadable text shows as a marker rather
/// than aborting the comparison.
fn text(t: capnp::Result<capnp::text::Reader>) -> String {
    match t.and_then(|t| t.to_str().map_err(Into::into)) {
        Ok(s) => s.to_owned(),
        Err(e) => format!("<unreadable text: {e}>"),
    }
}

fn id_hex(id: u64) -> String {
    format!("@{id:#018x}")
}

// ---------------------------------------------------------------------------
// Line diff

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Same,
    Delete,
    Insert,
}

/// Edit script from `a` to `b`: the common prefix and suffix, and a longest
/// common subsequence of the middle. The middle is small for the texts this
/// compares (one node); past a size limit it is shown as replaced wholesale
/// rather than spending quadratic time.
fn diff_ops(a: &[&str], b: &[&str]) -> Vec<Op> {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);

    let mut ops = vec![Op::Same; prefix];
    if ma.len().saturating_mul(mb.len()) > 4_000_000 {
        ops.extend(std::iter::repeat_n(Op::Delete, ma.len()));
        ops.extend(std::iter::repeat_n(Op::Insert, mb.len()));
    } else {
        // lcs[i][j]: length of the LCS of ma[i..] and mb[j..].
        let (n, m) = (ma.len(), mb.len());
        let mut lcs = vec![0u32; (n + 1) * (m + 1)];
        let at = |i: usize, j: usize| i * (m + 1) + j;
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                lcs[at(i, j)] = if ma[i] == mb[j] {
                    lcs[at(i + 1, j + 1)] + 1
                } else {
                    lcs[at(i + 1, j)].max(lcs[at(i, j + 1)])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && ma[i] == mb[j] {
                ops.push(Op::Same);
                i += 1;
                j += 1;
            } else if j == m || (i < n && lcs[at(i + 1, j)] >= lcs[at(i, j + 1)]) {
                ops.push(Op::Delete);
                i += 1;
            } else {
                ops.push(Op::Insert);
                j += 1;
            }
        }
    }
    ops.extend(std::iter::repeat_n(Op::Same, suffix));
    ops
}

/// Renders an edit script as hunks with `context` lines around changes.
fn render_hunks(a: &[&str], b: &[&str], ops: &[Op], context: usize, max_lines: usize) -> String {
    // Line numbers in a and b before each op.
    let mut pos = Vec::with_capacity(ops.len());
    let (mut i, mut j) = (0, 0);
    for op in ops {
        pos.push((i, j));
        match op {
            Op::Same => {
                i += 1;
                j += 1;
            }
            Op::Delete => i += 1,
            Op::Insert => j += 1,
        }
    }
    // Which ops to show: changes and their context.
    let mut show = vec![false; ops.len()];
    for (k, op) in ops.iter().enumerate() {
        if *op != Op::Same {
            let from = k.saturating_sub(context);
            let to = (k + context + 1).min(ops.len());
            show[from..to].iter_mut().for_each(|s| *s = true);
        }
    }
    let mut lines: Vec<String> = Vec::new();
    let mut k = 0;
    while k < ops.len() {
        if !show[k] {
            k += 1;
            continue;
        }
        let (i, j) = pos[k];
        lines.push(format!(
            "@@ expected line {}, actual line {} @@",
            i + 1,
            j + 1
        ));
        while k < ops.len() && show[k] {
            let (i, j) = pos[k];
            lines.push(match ops[k] {
                Op::Same => format!("   {}", a[i]),
                Op::Delete => format!(" - {}", a[i]),
                Op::Insert => format!(" + {}", b[j]),
            });
            k += 1;
        }
    }
    let total = lines.len();
    if total > max_lines {
        lines.truncate(max_lines);
        lines.push(format!("[... {} more diff lines]", total - max_lines));
    }
    let mut out = String::new();
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    out
}
