//! Targets that read a message written as text: JSON (`from_json`) and the Cap'n Proto text
//! format (`from_text`). A case is two header bytes (see [`Header`]) and then the text; bytes
//! that are not UTF-8 are replaced, so every case reaches the parser.

use super::{holds_json_value, oracle, seeds, split_header, Ctx, Header, Sig, Target};
use crate::mutate::Shape;

pub fn targets() -> Vec<Target> {
    vec![
        Target {
            name: "from_json",
            shape: Shape::Text { header: 2 },
            about: "`from_json` and `from_json_value`, then printing what they read",
            seeds: |ctx| printed(ctx, |st, m, short| {
                if short {
                    st.to_json_short(m)
                } else {
                    st.to_json(m)
                }
            }),
            dict: dictionary,
            run: from_json,
        },
        Target {
            name: "from_text",
            shape: Shape::Text { header: 2 },
            about: "`from_text`, `value_from_text` and `messages_from_text`, then printing what they read",
            seeds: |ctx| printed(ctx, |st, m, short| {
                if short {
                    st.to_text_short(m)
                } else {
                    st.to_text(m)
                }
            }),
            dict: dictionary,
            run: from_text,
        },
    ]
}

type Print = fn(&serde_capnp::StructSchema, &[u8], bool) -> serde_capnp::Result<String>;

fn printed(ctx: &Ctx, print: Print) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (n, m) in seeds::messages(ctx).into_iter().enumerate() {
        let st = &ctx.root(m.root);
        if let Ok(text) = print(st, &m.bytes, n % 2 == 1) {
            let mut case = Header::bytes(m.root, [0, 4, 8][n % 3]).to_vec();
            case.extend(text.into_bytes());
            out.push(case);
        }
    }
    out
}

/// Tokens worth inserting into JSON or text: punctuation, literals, and every name the
/// schemas know.
pub fn dictionary(ctx: &Ctx) -> Vec<String> {
    let mut out: Vec<String> = [
        "{",
        "}",
        "[",
        "]",
        "(",
        ")",
        ":",
        ",",
        "=",
        "\"",
        "null",
        "true",
        "false",
        "void",
        "\"NaN\"",
        "\"Infinity\"",
        "\"-Infinity\"",
        "nan",
        "inf",
        "-inf",
        "0x\"ff\"",
        "\"\\u0000\"",
        "\"\\ud800\"",
        "\"\\udc00\\ud800\"",
        "\"\"",
        "\"AAAA\"",
        "\"=\"",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (_, schema) in &ctx.schemas {
        for node in schema.pool().nodes() {
            if let Some(s) = node.as_struct() {
                for f in &s.fields {
                    out.push(f.name.clone());
                    out.push(format!("\"{}\"", f.name));
                }
            }
            if let Some(e) = node.as_enum() {
                out.extend(e.enumerants.iter().map(|e| e.name.clone()));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn from_json(ctx: &Ctx, case: &[u8]) -> u64 {
    let (header, body) = split_header(case);
    let json = String::from_utf8_lossy(body);
    let st = ctx
        .root(header.root as usize)
        .with_read_options(header.options());
    let mut sig = Sig::new();
    if header.variant() == 1 {
        sig.add(&st.from_json_value(&json));
        return sig.done();
    }
    let r = st.from_json(&json);
    sig.add(&r);
    // A `Json.Value` prints as the reference prints it, NaN and infinities as `nan` and
    // `inf`, which are not JSON: no round trip for those.
    if let Some(bytes) = r.ok().filter(|_| !holds_json_value(&st)) {
        let st = st.with_read_options(Default::default());
        let printed = st.to_json(&bytes).unwrap_or_else(|e| {
            oracle(format_args!(
                "`to_json` rejects what `from_json` wrote: {e}"
            ))
        });
        let again = st.from_json(&printed).unwrap_or_else(|e| {
            oracle(format_args!(
                "`from_json` rejects what `to_json` printed: {e}\n{printed}"
            ))
        });
        // Compared as printed: a field given twice leaves unreachable words behind, which is
        // a valid message that needs no round trip.
        let reprinted = st.to_json(&again).unwrap_or_else(|e| {
            oracle(format_args!(
                "`to_json` rejects what `from_json` wrote: {e}"
            ))
        });
        if reprinted != printed {
            oracle(format_args!(
                "JSON read, printed and read again prints otherwise: {}",
                difference(&st, &bytes, &again)
            ));
        }
    }
    sig.done()
}

fn from_text(ctx: &Ctx, case: &[u8]) -> u64 {
    let (header, body) = split_header(case);
    let text = String::from_utf8_lossy(body);
    let st = ctx
        .root(header.root as usize)
        .with_read_options(header.options());
    let mut sig = Sig::new();
    match header.variant() {
        1 => {
            sig.add(&st.value_from_text(&text));
        }
        2 => {
            let r = st.messages_from_text(&text);
            sig.add(&r);
            if let Ok(messages) = r {
                sig.mix(messages.len().min(4));
                for m in messages.iter().take(8) {
                    sig.add(&st.read_value(m));
                }
            }
        }
        _ => {
            let r = st.from_text(&text);
            sig.add(&r);
            if let Ok(bytes) = r {
                let st = st.with_read_options(Default::default());
                let printed = st.to_text(&bytes).unwrap_or_else(|e| {
                    oracle(format_args!(
                        "`to_text` rejects what `from_text` wrote: {e}"
                    ))
                });
                let again = st.from_text(&printed).unwrap_or_else(|e| {
                    oracle(format_args!(
                        "`from_text` rejects what `to_text` printed: {e}\n{printed}"
                    ))
                });
                let reprinted = st.to_text(&again).unwrap_or_else(|e| {
                    oracle(format_args!(
                        "`to_text` rejects what `from_text` wrote: {e}"
                    ))
                });
                // `-0` reads back as the integer 0, as it does for the reference.
                let same = |a: &str, b: &str| {
                    super::messages::without_negative_zero(a)
                        == super::messages::without_negative_zero(b)
                };
                if !same(&reprinted, &printed) {
                    oracle(format_args!(
                        "text read, printed and read again prints otherwise: {}",
                        difference(&st, &bytes, &again)
                    ));
                }
            }
        }
    }
    sig.done()
}

/// Where two messages differ, and both in the short text form.
fn difference(st: &serde_capnp::StructSchema, a: &[u8], b: &[u8]) -> String {
    let at = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let text = |m: &[u8]| st.to_text_short(m).unwrap_or_else(|e| format!("<{e}>"));
    format!(
        "first at byte {at} of {} and {}\nfirst:  {}\nsecond: {}",
        a.len(),
        b.len(),
        text(a),
        text(b)
    )
}
