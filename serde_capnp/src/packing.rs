//! The standard Cap'n Proto packing (zero-byte compression), for bytes that are not a framed
//! stream message: `flat-packed` data, or a packed stream read by hand.

use crate::error::{Error, Result};
use crate::io::{Input, Unpack};
use crate::ReadOptions;

/// Packs whole words (`bytes.len()` must be a multiple of 8; a partial last word is dropped).
pub fn pack(bytes: &[u8]) -> Vec<u8> {
    let whole = &bytes[..bytes.len() / 8 * 8];
    let mut out = Vec::with_capacity(whole.len() / 2 + 16);
    crate::wire::pack(whole, &mut out);
    out
}

/// Unpacks packed bytes into words. Every tag's promised bytes must be present, and the result
/// may not exceed the default traversal limit ([`ReadOptions::default`], 64 MiB): two packed
/// bytes can stand for 2 KiB of zeros, so unpacking untrusted input needs a bound.
pub fn unpack(packed: &[u8]) -> Result<Vec<u8>> {
    unpack_with_limit(packed, ReadOptions::default().traversal_limit_in_words)
}

/// Unpacks packed bytes into at most `limit_in_words` words (pass a [`ReadOptions`]'s
/// `traversal_limit_in_words` to unpack what it would let a reader read). The output starts at
/// the input's length and doubles as it fills, so it never holds more than the larger of twice
/// what was unpacked and the input's length.
pub fn unpack_with_limit(packed: &[u8], limit_in_words: u64) -> Result<Vec<u8>> {
    let mut input =
        Unpack::with_truncation_message(packed, "packed data ends in the middle of a word");
    let limit = usize::try_from(limit_in_words.saturating_mul(8)).unwrap_or(usize::MAX);
    let too_long = || {
        Error::limit(format!(
            "packed data unpacks to more than the limit of {limit_in_words} words"
        ))
    };
    // A packed byte stands for at least one byte, so the input's length is a fair start.
    let mut out = vec![0; packed.len().min(limit).max(8)];
    let mut filled = 0;
    loop {
        let n = input.fill(&mut out[filled..])?;
        filled += n;
        if filled < out.len() {
            break;
        }
        if out.len() > limit {
            return Err(too_long());
        }
        // One byte beyond the limit tells a result at the limit from one past it.
        let size = out.len().saturating_mul(2).min(limit.saturating_add(1));
        out.resize(size, 0);
    }
    if filled > limit {
        return Err(too_long());
    }
    out.truncate(filled);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpack_inverts_pack() {
        let mut words = vec![0u8; 8 * 40];
        for (i, b) in words.iter_mut().enumerate() {
            if i % 3 == 0 || (80..200).contains(&i) {
                *b = (i % 251) as u8 + 1;
            }
        }
        assert_eq!(unpack(&pack(&words)).unwrap(), words);
        assert!(unpack(&[0xff, 1, 2]).is_err());
        assert!(unpack(&[0x00]).is_err());
        assert_eq!(unpack(&[]).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn unpacking_stops_at_the_limit() {
        // 1 + 255 zero words from every two bytes: 2 KiB each.
        let bomb = [0u8, 255].repeat(512);
        let err = unpack_with_limit(&bomb, 1000).unwrap_err();
        assert_eq!(err.category(), crate::Category::Limit);
        assert_eq!(
            err.message(),
            "packed data unpacks to more than the limit of 1000 words"
        );
        assert_eq!(
            unpack_with_limit(&bomb, 512 * 256).unwrap().len(),
            512 * 2048
        );
        assert!(unpack_with_limit(&bomb, 512 * 256 - 1).is_err());
        assert_eq!(unpack_with_limit(&[0, 0], 1).unwrap(), [0; 8]);
        assert!(unpack_with_limit(&[0, 1], 1).is_err());
    }
}
