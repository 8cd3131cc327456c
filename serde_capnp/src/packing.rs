//! The standard Cap'n Proto packing (zero-byte compression), for bytes that are not a framed
//! stream message: `flat-packed` data, or a packed stream read by hand.

use crate::error::{Error, Result};

/// Packs whole words (`bytes.len()` must be a multiple of 8; a partial last word is dropped).
pub fn pack(bytes: &[u8]) -> Vec<u8> {
    let whole = &bytes[..bytes.len() / 8 * 8];
    let mut out = Vec::with_capacity(whole.len() / 2 + 16);
    crate::wire::pack(whole, &mut out);
    out
}

/// Unpacks packed bytes into words. Every tag's promised bytes must be present.
pub fn unpack(packed: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(packed.len() * 2);
    let mut i = 0;
    let truncated = || Error::wire("packed data ends in the middle of a word");
    while i < packed.len() {
        let tag = packed[i];
        i += 1;
        for bit in 0..8 {
            if tag & (1 << bit) != 0 {
                out.push(*packed.get(i).ok_or_else(truncated)?);
                i += 1;
            } else {
                out.push(0);
            }
        }
        if tag == 0 {
            let run = *packed.get(i).ok_or_else(truncated)? as usize;
            i += 1;
            out.resize(out.len() + run * 8, 0);
        } else if tag == 0xff {
            let run = *packed.get(i).ok_or_else(truncated)? as usize * 8;
            i += 1;
            let words = packed.get(i..i + run).ok_or_else(truncated)?;
            out.extend_from_slice(words);
            i += run;
        }
    }
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
    }
}
