//! Targets that read a (hostile) binary message: typed, `Value`, `deserialize_any`, the dynamic
//! reader, packed messages, streams, and printing as JSON and text.
//!
//! A case is two header bytes (see [`Header`]) and then the message.

use std::borrow::Cow;
use std::io::{BufReader, Read};

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_capnp::dynamic::DynamicValue;
use serde_capnp::model::{FieldSlot, Type};
use serde_capnp::{packing, Result, StructSchema};
use serde_capnp_suite::fixtures::addressbook::{AddressBook, Person, PhoneNumber, PhoneType};
use serde_capnp_suite::fixtures::alltypes::{AllTypes, Color, Inner, Nested};

use super::{holds_json_value, oracle, seeds, split_header, Ctx, Header, Sig, Target};
use crate::mutate::{self, Shape};

pub fn targets() -> Vec<Target> {
    let message = Shape::Message { header: 2 };
    vec![
        Target {
            name: "typed",
            shape: message,
            about: "`from_slice`, `from_reader`, `from_segments` and `reader().deserialize()` into the fixture types",
            seeds: |ctx| typed_seeds(ctx, |m| m),
            dict: |_| Vec::new(),
            run: typed,
        },
        Target {
            name: "value",
            shape: message,
            about: "`read_value` of every root struct, written back with `to_vec`",
            seeds: |ctx| root_seeds(ctx, |m| m),
            dict: |_| Vec::new(),
            run: value,
        },
        Target {
            name: "any",
            shape: message,
            about: "`deserialize_any` into `serde_json::Value` and `IgnoredAny`",
            seeds: |ctx| root_seeds(ctx, |m| m),
            dict: |_| Vec::new(),
            run: any,
        },
        Target {
            name: "dynamic",
            shape: message,
            about: "the dynamic reader: `reader`, `root`, `get`, `path`, `fields`, `to_value`, `deserialize`",
            seeds: |ctx| root_seeds(ctx, |m| m),
            dict: |_| Vec::new(),
            run: dynamic,
        },
        Target {
            name: "packed",
            shape: Shape::Packed { header: 2 },
            about: "`from_slice_packed`, `from_reader_packed` and `packing::unpack`",
            seeds: |ctx| root_seeds(ctx, |m| mutate::pack(&m)),
            dict: |_| Vec::new(),
            run: packed,
        },
        Target {
            name: "stream",
            shape: Shape::Stream { header: 2 },
            about: "`iter_from_reader` over messages back to back, read in short pieces too",
            seeds: |ctx| streams(ctx, |m| m),
            dict: |_| Vec::new(),
            run: stream,
        },
        Target {
            name: "stream_packed",
            shape: Shape::Packed { header: 2 },
            about: "`iter_from_reader_packed` over packed messages back to back",
            seeds: |ctx| streams(ctx, |m| mutate::pack(&m)),
            dict: |_| Vec::new(),
            run: stream_packed,
        },
        Target {
            name: "to_json",
            shape: message,
            about: "`to_json` and `to_json_short` of a message, then `from_json` of what they print",
            seeds: |ctx| root_seeds(ctx, |m| m),
            dict: |_| Vec::new(),
            run: to_json,
        },
        Target {
            name: "to_text",
            shape: message,
            about: "`to_text` and `to_text_short` of a message, then `from_text` of what they print",
            seeds: |ctx| root_seeds(ctx, |m| m),
            dict: |_| Vec::new(),
            run: to_text,
        },
    ]
}

// -------------------------------------------------------------------------------------------
// Seeds
// -------------------------------------------------------------------------------------------

/// The API variants a seed is written for (bits 2–3 of the second header byte), with the
/// default read options.
const HOWS: [u8; 4] = [0, 4, 8, 12];

fn root_seeds(ctx: &Ctx, encode: fn(Vec<u8>) -> Vec<u8>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (n, m) in seeds::messages(ctx).into_iter().enumerate() {
        let how = HOWS[n % HOWS.len()];
        let mut case = Header::bytes(m.root, how).to_vec();
        case.extend(encode(m.bytes));
        out.push(case);
    }
    out
}

fn typed_seeds(ctx: &Ctx, encode: fn(Vec<u8>) -> Vec<u8>) -> Vec<Vec<u8>> {
    let by_root: Vec<usize> = TYPED
        .iter()
        .map(|t| ctx.root_index(t.stem, t.name))
        .collect();
    let mut out = Vec::new();
    for m in seeds::messages(ctx) {
        for (t, _) in by_root.iter().enumerate().filter(|(_, &r)| r == m.root) {
            for how in HOWS {
                let mut case = Header::bytes(t, how).to_vec();
                case.extend(encode(m.bytes.clone()));
                out.push(case);
            }
        }
    }
    out
}

fn streams(ctx: &Ctx, encode: fn(Vec<u8>) -> Vec<u8>) -> Vec<Vec<u8>> {
    let messages = seeds::messages(ctx);
    let mut out = Vec::new();
    for (n, m) in messages.iter().enumerate() {
        let mut case = Header::bytes(m.root, HOWS[n % 4]).to_vec();
        // One, two or three messages of the same root.
        for other in messages.iter().filter(|o| o.root == m.root).take(1 + n % 3) {
            case.extend(encode(other.bytes.clone()));
        }
        out.push(case);
    }
    out
}

fn root(ctx: &Ctx, header: Header) -> StructSchema {
    ctx.root(header.root as usize)
        .with_read_options(header.options())
}

// -------------------------------------------------------------------------------------------
// Typed
// -------------------------------------------------------------------------------------------

/// A fixture type bound to its struct.
struct Typed {
    stem: &'static str,
    name: &'static str,
    read: fn(&StructSchema, &[u8], Header, &mut Sig),
}

const TYPED: &[Typed] = &[
    Typed {
        stem: "alltypes",
        name: "AllTypes",
        read: read_typed::<AllTypes>,
    },
    Typed {
        stem: "alltypes",
        name: "Inner",
        read: read_typed::<Inner>,
    },
    Typed {
        stem: "alltypes",
        name: "AllTypes.Nested",
        read: read_typed::<Nested>,
    },
    Typed {
        stem: "addressbook",
        name: "AddressBook",
        read: read_typed::<AddressBook>,
    },
    Typed {
        stem: "addressbook",
        name: "Person",
        read: read_typed::<Person>,
    },
    Typed {
        stem: "addressbook",
        name: "Person.PhoneNumber",
        read: read_typed::<PhoneNumber>,
    },
    Typed {
        stem: "addressbook",
        name: "Person.PhoneNumber",
        read: read_borrowed_phone,
    },
    Typed {
        stem: "alltypes",
        name: "Inner",
        read: read_borrowed_inner,
    },
];

fn typed(ctx: &Ctx, case: &[u8]) -> u64 {
    let (header, message) = split_header(case);
    let t = &TYPED[header.root as usize % TYPED.len()];
    let st = ctx
        .struct_type(t.stem, t.name)
        .with_read_options(header.options());
    let mut sig = Sig::new();
    (t.read)(&st, message, header, &mut sig);
    sig.done()
}

fn read_typed<T: DeserializeOwned + Serialize>(
    st: &StructSchema,
    message: &[u8],
    header: Header,
    sig: &mut Sig,
) {
    let r: Result<T> = match header.variant() {
        0 => st.from_slice(message),
        1 => st.from_reader(message),
        2 => match super::segments_of(message) {
            Some(segments) => st.from_segments(&segments),
            None => st.from_slice(message),
        },
        _ => st
            .reader(message)
            .and_then(|m| m.root().and_then(|r| r.deserialize())),
    };
    sig.add(&r);
    if let Ok(v) = r {
        round_trip::<T>(st, &v);
    }
}

/// A value read from a message must write, read back, and write the same bytes again.
fn round_trip<T: DeserializeOwned + Serialize>(st: &StructSchema, v: &T) {
    let st = st.clone().with_read_options(Default::default());
    let first = st.to_vec(v).unwrap_or_else(|e| {
        oracle(format_args!(
            "a value read from a message does not write: {e}"
        ))
    });
    let back: T = st.from_slice(&first).unwrap_or_else(|e| {
        oracle(format_args!(
            "a message the library wrote does not read back: {e}"
        ))
    });
    let second = st
        .to_vec(&back)
        .unwrap_or_else(|e| oracle(format_args!("a value read back does not write: {e}")));
    if first != second {
        oracle(format_args!(
            "writing, reading and writing again changes the bytes"
        ));
    }
}

#[derive(Serialize, Deserialize)]
struct BorrowedPhone<'a> {
    number: &'a str,
    #[serde(rename = "type")]
    kind: PhoneType,
}

#[derive(Serialize, Deserialize)]
struct BorrowedInner<'a> {
    id: u32,
    #[serde(borrow)]
    label: Cow<'a, str>,
    color: Color,
}

fn read_borrowed_phone(st: &StructSchema, message: &[u8], _: Header, sig: &mut Sig) {
    let r: Result<BorrowedPhone> = st.from_slice(message);
    sig.add(&r);
    if let Ok(v) = r {
        let bytes = st.to_vec(&v).unwrap_or_else(|e| {
            oracle(format_args!(
                "a borrowed value read from a message does not write: {e}"
            ))
        });
        let _: BorrowedPhone = st.from_slice(&bytes).unwrap_or_else(|e| {
            oracle(format_args!(
                "a message the library wrote does not read back: {e}"
            ))
        });
    }
}

fn read_borrowed_inner(st: &StructSchema, message: &[u8], _: Header, sig: &mut Sig) {
    let r: Result<BorrowedInner> = st.from_slice(message);
    sig.add(&r);
    if let Ok(v) = r {
        sig.mix(matches!(v.label, Cow::Borrowed(_)));
        st.to_vec(&v).unwrap_or_else(|e| {
            oracle(format_args!(
                "a borrowed value read from a message does not write: {e}"
            ))
        });
    }
}

// -------------------------------------------------------------------------------------------
// Value, deserialize_any, dynamic
// -------------------------------------------------------------------------------------------

fn value(ctx: &Ctx, case: &[u8]) -> u64 {
    let (header, message) = split_header(case);
    let st = root(ctx, header);
    let r = st.read_value(message);
    let mut sig = Sig::new();
    sig.add(&r);
    if let Ok(v) = r.as_ref() {
        let st = st.with_read_options(Default::default());
        let first = st.to_vec(v).unwrap_or_else(|e| {
            oracle(format_args!(
                "a `Value` read from a message does not write: {e}"
            ))
        });
        let back = st.read_value(&first).unwrap_or_else(|e| {
            oracle(format_args!(
                "a message written from a `Value` does not read back: {e}"
            ))
        });
        let second = st
            .to_vec(&back)
            .unwrap_or_else(|e| oracle(format_args!("a `Value` read back does not write: {e}")));
        if first != second {
            oracle(format_args!(
                "writing a `Value`, reading and writing again changes the bytes"
            ));
        }
    }
    sig.done()
}

fn any(ctx: &Ctx, case: &[u8]) -> u64 {
    let (header, message) = split_header(case);
    let st = root(ctx, header);
    let mut sig = Sig::new();
    match header.variant() {
        0 => {
            sig.add(&st.from_slice::<serde_json::Value>(message));
        }
        1 => {
            sig.add(&st.from_slice::<IgnoredAny>(message));
        }
        2 => {
            sig.add(&st.from_reader::<_, serde_json::Value>(message));
        }
        _ => {
            let r = st
                .reader(message)
                .and_then(|m| m.root().and_then(|r| r.deserialize::<serde_json::Value>()));
            sig.add(&r);
        }
    }
    sig.done()
}

fn dynamic(ctx: &Ctx, case: &[u8]) -> u64 {
    let (header, message) = split_header(case);
    let st = root(ctx, header);
    let mut sig = Sig::new();
    let reader = match st.reader(message) {
        Ok(r) => r,
        Err(e) => {
            sig.error(&e);
            return sig.done();
        }
    };
    let root = match reader.root() {
        Ok(r) => r,
        Err(e) => {
            sig.error(&e);
            return sig.done();
        }
    };
    match header.variant() {
        0 => {
            sig.add(&root.to_value());
        }
        1 => {
            let paths = paths(&st);
            let path = &paths[header.aux() as usize * 7 % paths.len()];
            let r = root.path(path);
            sig.add(&r);
            if let Ok(v) = r {
                sig.add(&v.to_value());
                walk(v, 3, &mut sig);
            }
        }
        2 => walk(DynamicValue::Struct(root), 6, &mut sig),
        _ => {
            sig.add(&root.deserialize::<serde_json::Value>());
        }
    }
    sig.done()
}

/// Visits a value through every accessor, down to `depth` levels.
fn walk(v: DynamicValue<'_>, depth: u32, sig: &mut Sig) {
    sig.mix((
        v.as_bool(),
        v.as_i64(),
        v.as_u64(),
        v.as_text().map(str::len),
        v.as_data().map(<[u8]>::len),
        v.as_enumerant(),
    ));
    let _ = v.as_f64();
    if depth == 0 {
        return;
    }
    match v {
        DynamicValue::Struct(s) => {
            sig.mix((s.type_name(), s.which(), s.discriminant()));
            let names: Vec<&str> = s.fields().map(|(name, _)| name).collect();
            for (name, field) in s.fields() {
                sig.add(&s.has(name));
                match field {
                    Ok(f) => walk(f, depth - 1, sig),
                    Err(e) => sig.error(&e),
                }
            }
            sig.add(&s.get("noSuchField"));
            for name in names.iter().take(4) {
                sig.add(&s.get(name));
            }
        }
        DynamicValue::List(l) => {
            sig.mix(l.len());
            for item in l.iter().take(8) {
                match item {
                    Ok(i) => walk(i, depth - 1, sig),
                    Err(e) => sig.error(&e),
                }
            }
            sig.add(&l.get(l.len()));
            sig.add(&l.get(u32::MAX));
            if depth > 2 {
                sig.add(&l.to_value());
            }
        }
        _ => {}
    }
}

/// Paths into a root: its fields, their list elements and their fields, two levels deep; and
/// some malformed ones.
fn paths(st: &StructSchema) -> Vec<String> {
    let (pool, node) = st.pool();
    let mut out: Vec<String> = [
        "",
        "[0]",
        "a..b",
        "[",
        "x[",
        "[99999999999]",
        ".",
        "a]",
        "[ 1 ]",
        "a.",
        "[-1]",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut frontier = vec![(String::new(), node)];
    for _ in 0..2 {
        let mut next = Vec::new();
        for (prefix, node) in frontier {
            let Some(s) = pool.node(node).as_struct() else {
                continue;
            };
            for f in &s.fields {
                let here = if prefix.is_empty() {
                    f.name.clone()
                } else {
                    format!("{prefix}.{}", f.name)
                };
                out.push(here.clone());
                match &f.slot {
                    FieldSlot::Group { node } => next.push((here, *node)),
                    FieldSlot::Pointer { ty, .. } => match ty {
                        Type::Struct(n, _) => next.push((here, *n)),
                        Type::List(elem) => {
                            for i in [0, 1, 3] {
                                out.push(format!("{here}[{i}]"));
                            }
                            if let Type::Struct(n, _) = &**elem {
                                next.push((format!("{here}[0]"), *n));
                            }
                            if let Type::List(_) = &**elem {
                                out.push(format!("{here}[0][0]"));
                            }
                        }
                        _ => {}
                    },
                    _ => {}
                }
            }
        }
        frontier = next;
    }
    out
}

// -------------------------------------------------------------------------------------------
// Packed and streams
// -------------------------------------------------------------------------------------------

fn packed(ctx: &Ctx, case: &[u8]) -> u64 {
    let (header, bytes) = split_header(case);
    let st = root(ctx, header);
    let mut sig = Sig::new();
    match header.variant() {
        0 => {
            sig.add(&st.from_slice_packed::<serde_json::Value>(bytes));
        }
        1 => {
            let t = &TYPED[header.root as usize % TYPED.len()];
            let st = ctx
                .struct_type(t.stem, t.name)
                .with_read_options(header.options());
            match t.name {
                "AllTypes" => sig.add(&st.from_slice_packed::<AllTypes>(bytes)),
                "AddressBook" => sig.add(&st.from_slice_packed::<AddressBook>(bytes)),
                _ => sig.add(&st.from_slice_packed::<IgnoredAny>(bytes)),
            };
        }
        2 => {
            let r = packing::unpack(bytes);
            sig.add(&r);
            if let Ok(plain) = r {
                sig.add(&st.read_value(&plain));
                let again = packing::pack(&plain);
                if packing::unpack(&again).ok().as_deref() != Some(&plain[..plain.len() / 8 * 8]) {
                    oracle(format_args!("`unpack(pack(x))` is not `x`"));
                }
            }
        }
        _ => {
            // A reader whose buffer ends in awkward places.
            let reader = BufReader::with_capacity(1 + header.aux() as usize, bytes);
            sig.add(&st.from_reader_packed::<_, serde_json::Value>(reader));
        }
    }
    sig.done()
}

/// Hands out at most `n` bytes per read, so that messages arrive in pieces.
struct Trickle<'a> {
    bytes: &'a [u8],
    n: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.n.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

const MAX_MESSAGES: usize = 64;

fn stream(ctx: &Ctx, case: &[u8]) -> u64 {
    let (header, bytes) = split_header(case);
    let st = root(ctx, header);
    let mut sig = Sig::new();
    match header.variant() {
        0 => drain(st.iter_from_reader::<_, serde_json::Value>(bytes), &mut sig),
        1 => {
            let reader = Trickle {
                bytes,
                n: 1 + header.aux() as usize,
            };
            drain(st.iter_from_reader::<_, IgnoredAny>(reader), &mut sig)
        }
        2 => {
            let book = ctx
                .struct_type("addressbook", "AddressBook")
                .with_read_options(header.options());
            drain(book.iter_from_reader::<_, AddressBook>(bytes), &mut sig)
        }
        _ => {
            let all = ctx
                .struct_type("alltypes", "AllTypes")
                .with_read_options(header.options());
            drain(all.iter_from_reader::<_, AllTypes>(bytes), &mut sig)
        }
    }
    sig.done()
}

fn stream_packed(ctx: &Ctx, case: &[u8]) -> u64 {
    let (header, bytes) = split_header(case);
    let st = root(ctx, header);
    let mut sig = Sig::new();
    match header.variant() {
        0 => drain(
            st.iter_from_reader_packed::<_, serde_json::Value>(bytes),
            &mut sig,
        ),
        1 => {
            let reader = BufReader::with_capacity(
                1 + header.aux() as usize,
                Trickle {
                    bytes,
                    n: 1 + header.aux() as usize / 2,
                },
            );
            drain(
                st.iter_from_reader_packed::<_, IgnoredAny>(reader),
                &mut sig,
            )
        }
        2 => {
            let book = ctx
                .struct_type("addressbook", "AddressBook")
                .with_read_options(header.options());
            drain(
                book.iter_from_reader_packed::<_, AddressBook>(bytes),
                &mut sig,
            )
        }
        _ => {
            let all = ctx
                .struct_type("alltypes", "AllTypes")
                .with_read_options(header.options());
            drain(all.iter_from_reader_packed::<_, AllTypes>(bytes), &mut sig)
        }
    }
    sig.done()
}

fn drain<T>(iter: impl Iterator<Item = Result<T>>, sig: &mut Sig) {
    let mut n = 0;
    for item in iter.take(MAX_MESSAGES) {
        sig.add(&item);
        n += 1;
    }
    sig.mix(n.min(4));
}

// -------------------------------------------------------------------------------------------
// Printing
// -------------------------------------------------------------------------------------------

fn to_json(ctx: &Ctx, case: &[u8]) -> u64 {
    let (header, message) = split_header(case);
    let st = root(ctx, header);
    let mut sig = Sig::new();
    let r = match header.variant() {
        0 | 2 => st.to_json(message),
        _ => st.to_json_short(message),
    };
    sig.add(&r);
    if let Ok(json) = r {
        // Only messages the library reads as a `Value` (Text that is UTF-8, say) are held to a
        // round trip, and not those holding a `Json.Value`, which prints as the reference
        // prints it: NaN as `nan` and calls as `f(...)`, neither of them JSON.
        if header.variant() >= 2 && st.read_value(message).is_ok() && !holds_json_value(&st) {
            // What the library prints it must read, and print the same again.
            let st = st.with_read_options(Default::default());
            let bytes = st.from_json(&json).unwrap_or_else(|e| {
                oracle(format_args!(
                    "`from_json` rejects what `to_json` printed: {e}\n{json}"
                ))
            });
            let again = st.to_json_short(&bytes).unwrap_or_else(|e| {
                oracle(format_args!(
                    "`to_json` rejects what `from_json` wrote: {e}"
                ))
            });
            let before = st.to_json_short(message).unwrap_or_default();
            if again != before {
                oracle(format_args!(
                    "JSON changes on a round trip:\n{before}\n{again}"
                ));
            }
        }
    }
    sig.done()
}

fn to_text(ctx: &Ctx, case: &[u8]) -> u64 {
    let (header, message) = split_header(case);
    let st = root(ctx, header);
    let mut sig = Sig::new();
    let r = match header.variant() {
        0 | 2 => st.to_text(message),
        _ => st.to_text_short(message),
    };
    sig.add(&r);
    if let Ok(text) = r {
        // An enumerant the schema does not know prints as `(7)`, and a capability as
        // `<external capability>`, which no text parser reads (the reference's neither).
        let readable = !text.contains("<external capability>")
            && st
                .read_value(message)
                .is_ok_and(|v| !has_unknown_enumerant(&v));
        if header.variant() >= 2 && readable {
            let st = st.with_read_options(Default::default());
            let bytes = st.from_text(&text).unwrap_or_else(|e| {
                oracle(format_args!(
                    "`from_text` rejects what `to_text` printed: {e}\n{text}"
                ))
            });
            let again = st.to_text_short(&bytes).unwrap_or_else(|e| {
                oracle(format_args!(
                    "`to_text` rejects what `from_text` wrote: {e}"
                ))
            });
            // `-0` reads back as the integer 0, as it does for the reference.
            let before = without_negative_zero(&st.to_text_short(message).unwrap_or_default());
            let again = without_negative_zero(&again);
            if again != before {
                oracle(format_args!(
                    "text changes on a round trip:\n{before}\n{again}"
                ));
            }
        }
    }
    sig.done()
}

/// Text with every `-0` number written `0`.
pub(crate) fn without_negative_zero(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        let zero_follows = b.get(i + 1) == Some(&b'0')
            && !b
                .get(i + 2)
                .is_some_and(|n| n.is_ascii_alphanumeric() || *n == b'.');
        let starts = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if c == '-' && zero_follows && starts {
            continue;
        }
        out.push(c);
    }
    out
}

fn has_unknown_enumerant(v: &serde_capnp::Value) -> bool {
    use serde_capnp::Value;
    match v {
        Value::Enum(e) => e.name.is_none(),
        Value::List(items) => items.iter().any(has_unknown_enumerant),
        Value::Struct(s) => s.fields().any(|(_, f)| has_unknown_enumerant(f)),
        _ => false,
    }
}
