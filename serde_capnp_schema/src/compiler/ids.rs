//! Node IDs: the IDs the reference compiler derives for declarations that do not state one, and
//! fresh random file IDs.
//!
//! A derived ID is the first eight bytes of an MD5 digest, read big-endian, with the top bit set
//! (every valid Cap'n Proto ID has it). The digest input is the parent's ID as eight little-endian
//! bytes followed by something naming the child. MD5 is no security measure here; it is kept only
//! because the IDs in every existing schema were computed with it.

/// The ID of a nested declaration (struct, enum, interface, const, annotation) named `name`
/// inside the node `parent` that did not give itself an explicit `@0x…` ID.
pub(crate) fn child_id(parent: u64, name: &str) -> u64 {
    let mut md5 = Md5::new();
    md5.update(&parent.to_le_bytes());
    md5.update(name.as_bytes());
    id_from_digest(&md5.finish())
}

/// The ID of a group (or named union) node; `index` is the group's position in the parent's
/// `fields` list, not in the source: fields are listed in order of the smallest ordinal each one
/// contains (for a group or union, the smallest among everything inside it, `@N!` included).
pub(crate) fn group_id(parent: u64, index: u16) -> u64 {
    let mut md5 = Md5::new();
    md5.update(&parent.to_le_bytes());
    md5.update(&index.to_le_bytes());
    id_from_digest(&md5.finish())
}

/// The ID of the implicit struct of a method's inline parameter list (`is_results == false`) or
/// result list (`is_results == true`); `parent` is the interface's ID.
pub(crate) fn method_params_id(parent: u64, method_ordinal: u16, is_results: bool) -> u64 {
    let mut md5 = Md5::new();
    md5.update(&parent.to_le_bytes());
    md5.update(&method_ordinal.to_le_bytes());
    md5.update(&[u8::from(is_results)]);
    id_from_digest(&md5.finish())
}

/// A fresh file ID, as `capnp id` would print one: 63 random bits with the top bit set.
///
/// The bits come from `/dev/urandom` where it exists; elsewhere (or if reading fails) they come
/// from std's per-process random hasher keys mixed with the time, a stack address and a counter,
/// which is enough to keep two IDs from colliding though not cryptographic.
pub(crate) fn random_file_id() -> u64 {
    let bits = os_random_u64().unwrap_or_else(fallback_random_u64);
    bits | (1 << 63)
}

fn id_from_digest(digest: &[u8; 16]) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) | (1 << 63)
}

fn os_random_u64() -> Option<u64> {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut file| file.read_exact(&mut bytes))
        .ok()?;
    Some(u64::from_ne_bytes(bytes))
}

fn fallback_random_u64() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};

    // Two calls within one clock tick must still differ, hence the counter.
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    if let Ok(since_epoch) = SystemTime::now().duration_since(UNIX_EPOCH) {
        hasher.write_u128(since_epoch.as_nanos());
    }
    let local = 0u8;
    hasher.write_usize(std::ptr::addr_of!(local) as usize);
    hasher.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// MD5 (RFC 1321), streaming.
struct Md5 {
    state: [u32; 4],
    /// Bytes waiting for a full 64-byte block.
    pending: [u8; 64],
    pending_len: usize,
    total_len: u64,
}

/// Per-step left-rotation amounts; each round uses one row of four, cycled.
const MD5_SHIFTS: [[u32; 4]; 4] = [
    [7, 12, 17, 22],
    [5, 9, 14, 20],
    [4, 11, 16, 23],
    [6, 10, 15, 21],
];

/// `floor(abs(sin(i + 1)) * 2^32)` for each step `i`.
const MD5_SINES: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];

impl Md5 {
    fn new() -> Self {
        Md5 {
            state: [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476],
            pending: [0; 64],
            pending_len: 0,
            total_len: 0,
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        self.total_len = self.total_len.wrapping_add(data.len() as u64);
        if self.pending_len > 0 {
            let take = data.len().min(64 - self.pending_len);
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&data[..take]);
            self.pending_len += take;
            data = &data[take..];
            if self.pending_len < 64 {
                return;
            }
            let block = self.pending;
            self.compress(&block);
            self.pending_len = 0;
        }
        let mut blocks = data.chunks_exact(64);
        for block in &mut blocks {
            self.compress(block.try_into().expect("chunks_exact yields 64 bytes"));
        }
        let rest = blocks.remainder();
        self.pending[..rest.len()].copy_from_slice(rest);
        self.pending_len = rest.len();
    }

    fn finish(mut self) -> [u8; 16] {
        let bit_len = self.total_len.wrapping_mul(8);
        // Pad with 0x80 then zeros up to 56 mod 64, then the message length in bits.
        let zeros = (119 - self.pending_len) % 64;
        let mut padding = [0u8; 72];
        padding[0] = 0x80;
        padding[1 + zeros..9 + zeros].copy_from_slice(&bit_len.to_le_bytes());
        let total_len = self.total_len;
        self.update(&padding[..9 + zeros]);
        debug_assert_eq!(self.pending_len, 0);
        self.total_len = total_len;

        let mut digest = [0u8; 16];
        for (chunk, word) in digest.chunks_exact_mut(4).zip(self.state) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        digest
    }

    fn compress(&mut self, block: &[u8; 64]) {
        let mut words = [0u32; 16];
        for (word, bytes) in words.iter_mut().zip(block.chunks_exact(4)) {
            *word = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        let [mut a, mut b, mut c, mut d] = self.state;
        for step in 0..64 {
            let round = step / 16;
            let (mix, word_index) = match round {
                0 => ((b & c) | (!b & d), step),
                1 => ((b & d) | (c & !d), (5 * step + 1) % 16),
                2 => (b ^ c ^ d, (3 * step + 5) % 16),
                _ => (c ^ (b | !d), (7 * step) % 16),
            };
            let sum = a
                .wrapping_add(mix)
                .wrapping_add(MD5_SINES[step])
                .wrapping_add(words[word_index]);
            let rotated = b.wrapping_add(sum.rotate_left(MD5_SHIFTS[round][step % 4]));
            a = d;
            d = c;
            c = b;
            b = rotated;
        }
        for (state, value) in self.state.iter_mut().zip([a, b, c, d]) {
            *state = state.wrapping_add(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md5_hex(data: &[u8]) -> String {
        let mut md5 = Md5::new();
        md5.update(data);
        md5.finish().iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn md5_matches_rfc_1321_test_suite() {
        let cases: [(&str, &str); 7] = [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
            (
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                "d174ab98d277d9f5a5611c2c9f419d9f",
            ),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(md5_hex(input.as_bytes()), expected, "MD5({input:?})");
        }
    }

    #[test]
    fn md5_is_independent_of_how_input_is_split() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 200, 300] {
            let whole = md5_hex(&data[..len]);
            for split in [0, 1, 7, 63, 64, 65] {
                let split = split.min(len);
                let mut md5 = Md5::new();
                md5.update(&data[..split]);
                md5.update(&data[split..len]);
                let parts: String = md5.finish().iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!(parts, whole, "len {len}, split {split}");
            }
        }
    }

    /// IDs from `capnp compile -o- /usr/include/capnp/schema.capnp` (capnp 0.9.2). That file
    /// states only its own ID, 0xa93fc509624c72d9; every other ID in it is derived.
    #[test]
    fn derived_ids_match_schema_capnp() {
        const FILE: u64 = 0xa93f_c509_624c_72d9;
        let node = child_id(FILE, "Node");
        assert_eq!(node, 0xe682_ab4c_f923_a417);
        let field = child_id(FILE, "Field");
        assert_eq!(field, 0x9aad_50a4_1f4a_f45f);
        let ty = child_id(FILE, "Type");
        assert_eq!(ty, 0xd073_78ed_e1f9_cc60);
        assert_eq!(child_id(FILE, "ElementSize"), 0xd195_8f7d_ba52_1926);
        assert_eq!(
            child_id(FILE, "CodeGeneratorRequest"),
            0xbfc5_46f6_210a_d7ce
        );
        assert_eq!(child_id(node, "Parameter"), 0xb952_1bcc_f10f_a3b1);
        assert_eq!(child_id(node, "NestedNode"), 0xdebf_55bb_fa0f_c242);
        let source_info = child_id(node, "SourceInfo");
        assert_eq!(source_info, 0xf38e_1de3_0413_57ae);
        assert_eq!(child_id(source_info, "Member"), 0xc2ba_9038_898e_1fa2);
        // A constant nested in a struct.
        assert_eq!(child_id(field, "noDiscriminant"), 0x97b1_4cbe_7cfe_c712);
        // Groups and named unions; the index is the position in the parent's `fields`.
        assert_eq!(group_id(node, 7), 0x9ea0_b19b_37fb_4435); // Node.struct
        assert_eq!(group_id(node, 8), 0xb54a_b336_4333_f598); // Node.enum
        assert_eq!(group_id(field, 4), 0xc423_0547_6bb4_746f); // Field.slot
        assert_eq!(group_id(field, 6), 0xbb90_d5c2_8787_0be6); // Field.ordinal
        assert_eq!(group_id(ty, 14), 0x87e7_3925_0a60_ea97); // Type.list
        let any_pointer = group_id(ty, 18);
        assert_eq!(any_pointer, 0xc257_3fe8_a23e_49f1); // Type.anyPointer
        assert_eq!(group_id(any_pointer, 1), 0x9dd1_f724_f461_4a85); // Type.anyPointer.parameter
    }

    /// IDs from `capnp compile -o-` (capnp 0.9.2) of this file:
    ///
    /// ```capnp
    /// @0xd8b2b49c3f1a6e45;
    /// struct Outer {
    ///   a @0 :UInt8;
    ///   struct Inner { x @0 :Text; }
    ///   g :group { y @2 :Bool; }
    ///   u :union { p @1 :Void; q @3 :Void; }
    ///   enum E { one @0; }
    /// }
    /// interface Svc {
    ///   ping @0 (n :UInt32, s :Text) -> (ok :Bool);
    ///   pong @1 () -> ();
    ///   other @2 Outer -> Outer;
    ///   big @3 (x :Bool) -> stream;
    /// }
    /// const c :UInt8 = 1;
    /// annotation ann(file) :Void;
    /// ```
    #[test]
    fn derived_ids_match_capnp_tool() {
        const FILE: u64 = 0xd8b2_b49c_3f1a_6e45;
        let outer = child_id(FILE, "Outer");
        assert_eq!(outer, 0xe9cf_c2f6_7000_fce2);
        assert_eq!(child_id(outer, "Inner"), 0xd299_33ed_a9ec_0735);
        assert_eq!(child_id(outer, "E"), 0xee11_9189_5170_8ead);
        assert_eq!(child_id(FILE, "c"), 0xa146_3963_f1fa_1fe5);
        assert_eq!(child_id(FILE, "ann"), 0xfc26_23b0_bb48_558e);
        // `u` is reached first in ordinal order (@1), so it is field 1 and `g` field 2, the
        // reverse of their order in the source.
        assert_eq!(group_id(outer, 1), 0x8eb0_c7e4_ad60_7f43);
        assert_eq!(group_id(outer, 2), 0xc902_0ece_6047_5b56);

        let svc = child_id(FILE, "Svc");
        assert_eq!(svc, 0xde99_e009_d660_e5d3);
        assert_eq!(method_params_id(svc, 0, false), 0x8b2f_b601_fb26_fd84);
        assert_eq!(method_params_id(svc, 0, true), 0xfbc0_5dd2_7fd8_f9ff);
        assert_eq!(method_params_id(svc, 1, false), 0x9118_4bc7_397c_9186);
        assert_eq!(method_params_id(svc, 1, true), 0xc5eb_aa5e_fa43_d7b0);
        assert_eq!(method_params_id(svc, 3, false), 0xeccf_264d_6120_8b36);
    }

    #[test]
    fn random_file_ids_are_valid_and_distinct() {
        let first = random_file_id();
        let second = random_file_id();
        assert_ne!(first >> 63, 0);
        assert_ne!(second >> 63, 0);
        assert_ne!(first, second);
        assert_ne!(fallback_random_u64(), fallback_random_u64());
    }
}
