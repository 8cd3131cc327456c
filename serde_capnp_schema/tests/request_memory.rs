//! The memory a request makes the loader take, measured by a counting allocator: at most
//! `MEMORY_PER_REQUEST_BYTE` bytes per byte of request plus `MEMORY_BASE` for the pool, plus a
//! copy of the request while it is read, for real requests, for requests made as dense as the
//! schema language allows, and for requests whose lists claim far more than they hold.
//!
//! This binary holds one test, so that nothing else allocates while it measures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use capnp::message::Builder;
use capnp::schema_capnp::code_generator_request;
use serde_capnp_schema::compiler::Compiler;
use serde_capnp_schema::{SchemaPool, MEMORY_BASE, MEMORY_PER_REQUEST_BYTE};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = CURRENT.fetch_add(by, Ordering::SeqCst) + by;
    PEAK.fetch_max(now, Ordering::SeqCst);
}

// SAFETY: every call is passed on to the system allocator unchanged; the counters only
// observe the sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, new_size) };
        if !q.is_null() {
            // While it moves, both blocks may exist.
            grew(new_size);
            CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most the loader takes for a request of `bytes` bytes: the pool, and the request's copy.
fn bound(bytes: usize) -> usize {
    MEMORY_PER_REQUEST_BYTE * bytes + MEMORY_BASE + bytes.next_multiple_of(8)
}

/// The peak memory loading `bytes` takes above what was in use before, and whether it loaded.
fn peak_of_loading(bytes: &[u8]) -> (usize, bool) {
    let before = CURRENT.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let loaded = SchemaPool::from_code_generator_request(bytes).is_ok();
    (PEAK.load(Ordering::SeqCst) - before, loaded)
}

fn compile(name: &str, source: &str) -> Vec<u8> {
    Compiler::new()
        .add_source(name, source)
        .compile(&[name])
        .unwrap_or_else(|e| panic!("{}", e.render()))
        .into_request_bytes()
}

/// Requests as dense in model per byte as the language makes them: many members with names of
/// one or two letters.
fn dense_requests() -> Vec<(String, Vec<u8>)> {
    let name = |i: usize| {
        let letters = b"abcdefghijklmnopqrstuvwxyz";
        let mut s = String::new();
        let mut i = i;
        loop {
            s.push(letters[i % 26] as char);
            i /= 26;
            if i == 0 {
                break s;
            }
        }
    };
    let mut out = Vec::new();
    let enumerants: String = (0..5000).map(|i| format!("{} @{i};", name(i))).collect();
    out.push((
        "an enum of 5000 enumerants".to_string(),
        compile(
            "e.capnp",
            &format!("@0xe1e2e3e4e5e6e7e8;\nenum E {{ {enumerants} }}\n"),
        ),
    ));
    let fields: String = (0..3000)
        .map(|i| format!("{} @{i} :Bool;", name(i)))
        .collect();
    out.push((
        "a struct of 3000 fields".to_string(),
        compile(
            "f.capnp",
            &format!("@0xf1f2f3f4f5f6f7f8;\nstruct F {{ {fields} }}\n"),
        ),
    ));
    let structs: String = (0..2000)
        .map(|i| format!("struct {} {{}}\n", name(i).to_uppercase()))
        .collect();
    out.push((
        "2000 empty structs".to_string(),
        compile("s.capnp", &format!("@0xd1d2d3d4d5d6d7d8;\n{structs}")),
    ));
    let generic: String = (0..300)
        .map(|i| format!("{} @{i} :G(G(G(Text)));", name(i)))
        .collect();
    out.push((
        "300 fields of a nested generic type".to_string(),
        compile(
            "g.capnp",
            &format!(
                "@0xc1c2c3c4c5c6c7c8;\nstruct G(T) {{ t @0 :T; }}\nstruct H {{ {generic} }}\n"
            ),
        ),
    ));
    out
}

/// A request with one node whose list of `data`-word, `pointers`-pointer structs, the only one
/// of one element, claims `count` zero-sized elements.
fn zero_sized(bytes: &[u8], data: u16, pointers: u16, count: u32) -> Vec<u8> {
    let mut w: Vec<u64> = bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let tag = 1u64 << 2 | (data as u64) << 32 | (pointers as u64) << 48;
    let lists: Vec<(usize, usize)> = (1..w.len())
        .filter(|&p| w[p] & 3 == 1 && (w[p] >> 32) & 7 == 7)
        .filter_map(|p| {
            let t = usize::try_from(p as i64 + 1 + ((w[p] as u32) as i32 >> 2) as i64).ok()?;
            (w.get(t) == Some(&tag)).then_some((p, t))
        })
        .collect();
    assert_eq!(lists.len(), 1);
    let (p, t) = lists[0];
    w[p] &= (1 << 35) - 1;
    w[t] = (count as u64) << 2;
    w.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn hostile_requests() -> Vec<(String, Vec<u8>)> {
    let mut message = Builder::new_default();
    let request = message.init_root::<code_generator_request::Builder>();
    let mut nodes = request.init_nodes(1);
    let mut node = nodes.reborrow().get(0);
    node.set_id(0xf000_0000_0000_0002);
    node.set_display_name("z.capnp:Z");
    let mut f = node.init_struct().init_fields(1).get(0);
    f.set_name("a");
    f.set_discriminant_value(0xffff);
    let fields = capnp::serialize::write_message_to_words(&message);
    let mut out = Vec::new();
    for count in [2_000, 4_000, 60_000, 1 << 28] {
        out.push((
            format!("{count} zero-sized fields"),
            zero_sized(&fields, 3, 4, count),
        ));
    }
    out
}

#[test]
fn loading_takes_at_most_the_documented_memory() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for entry in std::fs::read_dir(root.join("schemas/compiled")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "bin") {
            cases.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    let json =
        std::fs::read_to_string(root.join("serde_capnp_schema/std/capnp/schema.capnp")).unwrap();
    cases.push(("schema.capnp".to_string(), compile("schema.capnp", &json)));
    cases.extend(dense_requests());
    let real = cases.len();
    cases.extend(hostile_requests());
    let mut worst = 0.0f64;
    let mut failures = Vec::new();
    for (i, (what, bytes)) in cases.iter().enumerate() {
        let (peak, loaded) = peak_of_loading(bytes);
        if i < real {
            assert!(loaded, "{what} did not load");
            worst = worst.max(peak as f64 / bytes.len() as f64);
        }
        if peak > bound(bytes.len()) {
            failures.push(format!(
                "{what}: {peak} bytes for a request of {} bytes, more than {}",
                bytes.len(),
                bound(bytes.len())
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!(
        "real requests took at most {worst:.1} bytes per byte of request \
         (the bound is {MEMORY_PER_REQUEST_BYTE} plus {MEMORY_BASE} bytes)"
    );
}
