//! Numbers as the reference tool prints them: integers, and floats as C's `%g` with a given
//! precision, which the JSON codec and the text format both need.

pub(crate) fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    // Small numbers, the usual case, without the buffer and its copy.
    if v < 10 {
        out.push(b'0' + v as u8);
        return;
    }
    if v < 100 {
        let pair = v as usize * 2;
        out.extend_from_slice(&[PAIRS[pair], PAIRS[pair + 1]]);
        return;
    }
    if v < 1000 {
        let pair = (v % 100) as usize * 2;
        out.extend_from_slice(&[b'0' + (v / 100) as u8, PAIRS[pair], PAIRS[pair + 1]]);
        return;
    }
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while v >= 100 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        buf[i - 2..i].copy_from_slice(&PAIRS[pair..pair + 2]);
        i -= 2;
    }
    if v >= 10 {
        let pair = v as usize * 2;
        buf[i - 2..i].copy_from_slice(&PAIRS[pair..pair + 2]);
        i -= 2;
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    out.extend_from_slice(&buf[i..]);
}

pub(crate) fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

/// A finite double as C's `%.15g`, or `%.17g` when that does not read back.
pub(crate) fn push_number(out: &mut Vec<u8>, v: f64) {
    if v.abs() < 1e15 && v == (v as i64) as f64 {
        // Whole numbers below 10^15 print as integers under `%.15g`.
        if v == 0.0 && v.is_sign_negative() {
            out.extend_from_slice(b"-0");
        } else {
            push_i64(out, v as i64);
        }
    } else if let Some((digits, precision)) = exact_g(v.abs()) {
        digits.write_g(out, v < 0.0, precision);
    } else if v.abs() < f64::MIN_POSITIVE {
        // Subnormal: `%.15g` may need more digits than the shortest, so try it directly.
        let d = Decimal::formatted(format_args!("{:.14e}", v.abs()));
        let mut text = Vec::new();
        d.write_g(&mut text, v < 0.0, 15);
        let back = std::str::from_utf8(&text)
            .ok()
            .and_then(|t| t.parse::<f64>().ok());
        if back == Some(v) {
            out.extend_from_slice(&text);
        } else {
            Decimal::formatted(format_args!("{:.16e}", v.abs())).write_g(out, v < 0.0, 17);
        }
    } else {
        // For a normal number, `%.15g` reads back exactly when the shortest digits that do have
        // at most 15 digits, and it then prints those digits. Seventeen shortest digits are the
        // 17-digit rounding (no tie is possible here: a tie needs an exact expansion of 18
        // digits, which `exact_g` handles).
        let shortest = Decimal::formatted(format_args!("{:e}", v.abs()));
        match shortest.len {
            0..=15 => shortest.write_g(out, v < 0.0, 15),
            17 => shortest.write_g(out, v < 0.0, 17),
            _ => Decimal::formatted(format_args!("{:.16e}", v.abs())).write_g(out, v < 0.0, 17),
        }
    }
}

const fn powers<const N: usize>(base: u128) -> [u128; N] {
    let mut t = [1u128; N];
    let mut i = 1;
    while i < N {
        t[i] = t[i - 1].saturating_mul(base);
        i += 1;
    }
    t
}

static POW10: [u128; 39] = powers(10);

/// "00" to "99".
static PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[i * 2] = b'0' + (i / 10) as u8;
        t[i * 2 + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};
/// Up to 5^55, the last power of five below 2^128.
static POW5: [u128; 56] = powers(5);

/// `%.15g` or `%.17g`, whichever the reference prints, for a positive normal `v` whose exact
/// value `m * 2^e` has a decimal expansion that fits 128 bits (every Float32, and Float64 values
/// of moderate size and precision); `None` for the others.
///
/// With `v = n / 10^s` exactly, `%.15g` is `n` rounded to 15 digits (ties to even, as C
/// rounds), and it reads back as `v` when it is within half a unit in the last place of `v`:
/// in units of `10^-s`, half an ulp is `5^s / 2^(tz + 1)`, where `tz` counts the trailing zero
/// bits dropped from the significand (a quarter, below a power of two).
fn exact_g(v: f64) -> Option<(Decimal, i32)> {
    let bits = v.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if biased == 0 {
        return None;
    }
    let significand = bits & ((1 << 52) - 1) | 1 << 52;
    let exp2 = biased - 1075;
    let tz = significand.trailing_zeros();
    let m = significand >> tz;
    let e = exp2 + tz as i32;
    let (n, s) = if e >= 0 {
        if 64 - m.leading_zeros() as i32 + e > 127 {
            return None;
        }
        ((m as u128) << e, 0u32)
    } else {
        let s = (-e) as u32;
        let five = *POW5.get(s as usize)?;
        ((m as u128).checked_mul(five)?, s)
    };
    let count = n.ilog10() as i32 + 1;
    let exp10 = count - 1 - s as i32;
    if count <= 15 {
        return Some((Decimal::from_int(n as u64, count as usize, exp10), 15));
    }
    let (q15, diff, below) = round_digits(n, count - 15);
    let fits = if s == 0 {
        // `v` is a whole number; half an ulp is 2^(exp2 - 1).
        match u32::try_from(exp2) {
            Ok(x) => {
                let twice = diff << (1 + (below && significand == 1 << 52 && biased > 1) as u32);
                let ulp = 1u128 << x;
                twice < ulp || (twice == ulp && significand & 1 == 0)
            }
            Err(_) => diff == 0,
        }
    } else {
        let quarter = below && significand == 1 << 52 && biased > 1;
        diff <= POW5[s as usize] >> (tz + 1 + quarter as u32)
    };
    if fits {
        return Some((Decimal::rounded(q15, 15, exp10), 15));
    }
    let (q17, _, _) = round_digits(n, count - 17);
    Some((Decimal::rounded(q17, 17, exp10), 17))
}

/// `n` with its last `drop` digits rounded off (ties to even); also how far that is from `n`,
/// and whether it is below `n`.
fn round_digits(n: u128, drop: i32) -> (u128, u128, bool) {
    if drop <= 0 {
        return (n * POW10[(-drop) as usize], 0, false);
    }
    let div = POW10[drop as usize];
    let (q, r) = (n / div, n % div);
    let half = div / 2;
    if r > half || (r == half && q & 1 == 1) {
        (q + 1, div - r, false)
    } else {
        (q, r, true)
    }
}

/// A positive decimal number: up to 17 significant digits (without trailing zeros) and the
/// power of ten of the first one.
pub(crate) struct Decimal {
    digits: [u8; 17],
    len: usize,
    exp: i32,
}

impl Decimal {
    /// Reads what `{:e}` writes (`1.2345e-7`).
    pub(crate) fn formatted(args: std::fmt::Arguments<'_>) -> Decimal {
        struct Sink {
            d: Decimal,
            in_exp: bool,
            exp_negative: bool,
            exp: i32,
        }
        impl std::fmt::Write for Sink {
            fn write_str(&mut self, s: &str) -> std::fmt::Result {
                for &b in s.as_bytes() {
                    match b {
                        b'e' => self.in_exp = true,
                        b'-' if self.in_exp => self.exp_negative = true,
                        b'0'..=b'9' if self.in_exp => self.exp = self.exp * 10 + (b - b'0') as i32,
                        b'0'..=b'9' if self.d.len < 17 => {
                            self.d.digits[self.d.len] = b;
                            self.d.len += 1;
                        }
                        _ => {}
                    }
                }
                Ok(())
            }
        }
        let mut sink = Sink {
            d: Decimal {
                digits: [b'0'; 17],
                len: 0,
                exp: 0,
            },
            in_exp: false,
            exp_negative: false,
            exp: 0,
        };
        let _ = std::fmt::write(&mut sink, args);
        let mut d = sink.d;
        d.exp = if sink.exp_negative {
            -sink.exp
        } else {
            sink.exp
        };
        d.trim();
        d
    }

    /// The `len` digits of `q`, the first one standing for `10^exp`.
    fn from_int(mut q: u64, len: usize, exp: i32) -> Decimal {
        let mut d = Decimal {
            digits: [b'0'; 17],
            len,
            exp,
        };
        let mut i = len;
        while i >= 2 {
            let pair = (q % 100) as usize * 2;
            q /= 100;
            d.digits[i - 2..i].copy_from_slice(&PAIRS[pair..pair + 2]);
            i -= 2;
        }
        if i == 1 {
            d.digits[0] = b'0' + (q % 10) as u8;
        }
        d.trim();
        d
    }

    /// `q`, the result of rounding to `len` digits a number whose first digit stands for
    /// `10^exp` (rounding up may have added a digit).
    fn rounded(q: u128, len: usize, exp: i32) -> Decimal {
        if q == POW10[len] {
            Decimal::from_int((q / 10) as u64, len, exp + 1)
        } else {
            Decimal::from_int(q as u64, len, exp)
        }
    }

    fn trim(&mut self) {
        while self.len > 1 && self.digits[self.len - 1] == b'0' {
            self.len -= 1;
        }
    }

    /// Writes the number as C's `%.{precision}g` lays it out (the digits are already rounded).
    pub(crate) fn write_g(&self, out: &mut Vec<u8>, negative: bool, precision: i32) {
        let digits = &self.digits[..self.len.max(1)];
        if negative {
            out.push(b'-');
        }
        let exp = self.exp;
        if exp < -4 || exp >= precision {
            out.push(digits[0]);
            if digits.len() > 1 {
                out.push(b'.');
                out.extend_from_slice(&digits[1..]);
            }
            out.push(b'e');
            if exp < 0 {
                out.push(b'-');
            }
            let e = exp.unsigned_abs();
            if e < 10 {
                out.push(b'0');
            }
            push_u64(out, e as u64);
        } else if exp >= 0 {
            let whole = exp as usize + 1;
            for i in 0..whole {
                out.push(digits.get(i).copied().unwrap_or(b'0'));
            }
            if digits.len() > whole {
                out.push(b'.');
                out.extend_from_slice(&digits[whole..]);
            }
        } else {
            out.extend_from_slice(b"0.");
            for _ in 0..(-exp - 1) {
                out.push(b'0');
            }
            out.extend_from_slice(digits);
        }
    }
}

/// A `Float64` as the reference prints it outside JSON strings: `nan`, `inf` and `-inf` bare,
/// else as [`push_number`].
pub(crate) fn push_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"nan");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"inf" } else { b"-inf" });
    } else {
        push_number(out, v);
    }
}

/// A `Float32` as the reference's text format prints it: 6 significant digits, or 8 when 6 do
/// not read back as the same value. The C library reports every subnormal result as an
/// underflow, which the reference takes as a failed read-back, so subnormals always get 8.
pub(crate) fn push_f32(out: &mut Vec<u8>, v: f32) {
    if !v.is_finite() {
        return push_f64(out, v as f64);
    }
    let start = out.len();
    if !v.is_subnormal() {
        push_g(out, v as f64, 6);
        let back = std::str::from_utf8(&out[start..])
            .ok()
            .and_then(|t| t.parse::<f32>().ok());
        if back == Some(v) {
            return;
        }
        out.truncate(start);
    }
    push_g(out, v as f64, 8);
}

/// A finite `v` as C's `%.{precision}g` (without the `+` of a positive exponent).
pub(crate) fn push_g(out: &mut Vec<u8>, v: f64, precision: i32) {
    Decimal::formatted(format_args!("{:.*e}", precision as usize - 1, v.abs())).write_g(
        out,
        v.is_sign_negative(),
        precision,
    );
}
