//! Decimal text for floating-point numbers without Rust's float formatting.
//!
//! The page writes every number through this module: [`Fixed`] gives the text of
//! `format!("{x:.N}")`, [`shortest`] a decimal that reads back as the same `f64` (the
//! link's custom parameter count). Both come from a little integer arithmetic, so the
//! page's wasm carries neither of the standard library's float printers (Grisu with a
//! Dragon fallback, about 5 KB gzip). Property tests hold the text equal to std's.

use std::fmt;

/// `x` with `PLACES` decimals, the text `format!("{x:.PLACES$}")` writes: the exact
/// binary value rounded half to even, `-` kept on negative values (`-0.0`), `NaN`,
/// `inf`. Honours width and alignment (`{:>8}`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fixed<const PLACES: u32>(pub f64);

impl<const PLACES: u32> fmt::Display for Fixed<PLACES> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&fixed(self.0, PLACES))
    }
}

/// The shortest decimal in plain notation (no exponent) that reads back as `x`: what
/// `x.to_string()` writes for the numbers a person types, such as `7.5` or
/// `32.763876352`. (For a power of two, an exact tie or an integer beyond 2^53, std
/// may write another decimal of the same length that reads back as the same `x`.)
pub fn shortest(x: f64) -> String {
    if !x.is_finite() {
        return fixed(x, 0);
    }
    // Subnormals need up to 1074 places; the first that reads back is the shortest, as
    // a decimal with fewer places that reads back would round to the same digits.
    (0..=1074)
        .map(|places| fixed(x, places))
        .find(|text| text.parse::<f64>() == Ok(x))
        .unwrap_or_else(|| fixed(x, 1074))
}

/// `x` with `places` decimals, rounded half to even from its exact binary value.
fn fixed(x: f64, places: u32) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    let mut out = String::new();
    if x.is_sign_negative() {
        out.push('-');
    }
    if x.is_infinite() {
        out.push_str("inf");
        return out;
    }
    let digits = scaled_rounded(x.abs(), places).to_decimal();
    let places = places as usize;
    // At least one digit before the point: 0.05 at one place is "0.1", not ".1".
    let zeros = (places + 1).saturating_sub(digits.len());
    out.extend(std::iter::repeat_n('0', zeros));
    out.push_str(&digits);
    if places > 0 {
        out.insert(out.len() - places, '.');
    }
    out
}

/// `a * 10^places` rounded half to even to a whole number, for a finite `a >= 0`.
fn scaled_rounded(a: f64, places: u32) -> Big {
    let bits = a.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    // a = mantissa * 2^exponent exactly (IEEE 754 binary64; subnormals have no
    // implicit bit).
    let (mantissa, exponent) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | 1 << 52, biased - 1075)
    };
    let mut n = Big::from(mantissa);
    for _ in 0..places {
        n.mul_small(10);
    }
    if exponent >= 0 {
        n.shl(exponent.unsigned_abs());
    } else {
        n.shr_round_half_even(exponent.unsigned_abs());
    }
    n
}

/// An unsigned integer of any size: little-endian base-2^32 limbs, u64 arithmetic
/// only (wasm has no 128-bit division).
struct Big(Vec<u32>);

impl Big {
    fn from(value: u64) -> Big {
        Big(vec![value as u32, (value >> 32) as u32])
    }

    fn mul_small(&mut self, factor: u32) {
        let mut carry = 0u64;
        for limb in &mut self.0 {
            let wide = u64::from(*limb) * u64::from(factor) + carry;
            *limb = wide as u32;
            carry = wide >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }

    fn bit(&self, i: u32) -> bool {
        self.0
            .get((i / 32) as usize)
            .is_some_and(|limb| limb >> (i % 32) & 1 == 1)
    }

    fn any_bit_below(&self, i: u32) -> bool {
        let (whole, part) = ((i / 32) as usize, i % 32);
        self.0.iter().take(whole).any(|&l| l != 0)
            || (part > 0
                && self
                    .0
                    .get(whole)
                    .is_some_and(|l| l & ((1 << part) - 1) != 0))
    }

    fn shl(&mut self, bits: u32) {
        let mut limbs = vec![0; (bits / 32) as usize];
        limbs.append(&mut self.0);
        let part = bits % 32;
        if part > 0 {
            let mut carry = 0u32;
            for limb in &mut limbs {
                let wide = (u64::from(*limb) << part) | u64::from(carry);
                *limb = wide as u32;
                carry = (wide >> 32) as u32;
            }
            limbs.push(carry);
        }
        self.0 = limbs;
    }

    /// Divide by 2^bits, rounding half to even.
    fn shr_round_half_even(&mut self, bits: u32) {
        let half = bits > 0 && self.bit(bits - 1);
        let beyond_half = bits > 1 && self.any_bit_below(bits - 1);
        let whole = (bits / 32) as usize;
        let part = bits % 32;
        let mut limbs: Vec<u32> = self.0.iter().skip(whole).copied().collect();
        if part > 0 {
            for i in 0..limbs.len() {
                let high = limbs.get(i + 1).copied().unwrap_or(0);
                limbs[i] = (limbs[i] >> part) | (high << (32 - part));
            }
        }
        self.0 = limbs;
        let odd = self.0.first().is_some_and(|l| l & 1 == 1);
        if half && (beyond_half || odd) {
            self.add_one();
        }
    }

    fn add_one(&mut self) {
        for limb in &mut self.0 {
            let (sum, overflow) = limb.overflowing_add(1);
            *limb = sum;
            if !overflow {
                return;
            }
        }
        self.0.push(1);
    }

    fn to_decimal(&self) -> String {
        let mut limbs = self.0.clone();
        let mut chunks = Vec::new();
        while limbs.iter().any(|&l| l != 0) {
            let mut rest = 0u64;
            for limb in limbs.iter_mut().rev() {
                let wide = (rest << 32) | u64::from(*limb);
                *limb = (wide / 1_000_000_000) as u32;
                rest = wide % 1_000_000_000;
            }
            chunks.push(rest as u32);
        }
        let mut out = chunks
            .pop()
            .map_or_else(|| "0".to_string(), |c| c.to_string());
        for chunk in chunks.iter().rev() {
            let chunk = chunk.to_string();
            out.extend(std::iter::repeat_n('0', 9 - chunk.len()));
            out.push_str(&chunk);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::{shortest, Fixed};
    use proptest::prelude::*;

    fn same_as_std(x: f64) {
        assert_eq!(Fixed::<0>(x).to_string(), format!("{x:.0}"), "{x:e}");
        assert_eq!(Fixed::<1>(x).to_string(), format!("{x:.1}"), "{x:e}");
        assert_eq!(Fixed::<2>(x).to_string(), format!("{x:.2}"), "{x:e}");
        assert_eq!(Fixed::<3>(x).to_string(), format!("{x:.3}"), "{x:e}");
        assert_eq!(Fixed::<9>(x).to_string(), format!("{x:.9}"), "{x:e}");
        assert_eq!(Fixed::<20>(x).to_string(), format!("{x:.20}"), "{x:e}");
    }

    fn reads_back(x: f64) {
        let text = shortest(x);
        assert_eq!(text.parse::<f64>(), Ok(x), "{text}");
        assert!(!text.contains(['e', 'E']), "{text}");
    }

    const EDGES: [f64; 41] = [
        0.0,
        -0.0,
        0.5,
        1.5,
        2.5,
        -2.5,
        0.05,
        0.15,
        0.25,
        0.125,
        0.375,
        1.005,
        2.675,
        9.95,
        99.95,
        999.9995,
        0.0005,
        1e-10,
        5e-324,
        f64::MIN_POSITIVE,
        1e15,
        1e16,
        4503599627370495.5,
        9007199254740993.0,
        18446744073709551615.0,
        1e20,
        1e38,
        3.4e38,
        1e100,
        1e300,
        f64::MAX,
        -f64::MAX,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        12.345,
        0.6821,
        131072.0,
        39.92,
        7.5,
        32.763876352,
    ];

    #[test]
    fn writes_what_std_writes_at_the_edges() {
        for x in EDGES {
            same_as_std(x);
            if x.is_finite() {
                reads_back(x);
            }
        }
        for k in -40..=40 {
            let power = 2f64.powi(k);
            same_as_std(power);
            // Exact ties (2^-25 ends in ...3125) may end in another digit than std's.
            reads_back(power);
        }
        assert_eq!(format!("[{:>7}]", Fixed::<1>(12.34)), "[   12.3]");
        assert_eq!(shortest(f64::NAN), "NaN");
        assert_eq!(shortest(-0.0), "-0");
    }

    proptest! {
        #[test]
        fn writes_what_std_writes_for_any_bits(bits in any::<u64>()) {
            let x = f64::from_bits(bits);
            same_as_std(x);
            if x.is_finite() {
                reads_back(x);
            }
        }

        #[test]
        fn writes_what_std_writes_for_display_sized_numbers(x in -1e7f64..1e7) {
            same_as_std(x);
            prop_assert_eq!(shortest(x), x.to_string());
        }

        #[test]
        fn the_links_parameter_counts_read_as_std_writes_them(x in 0.0001f64..2000.0) {
            prop_assert_eq!(shortest(x), x.to_string());
        }

        #[test]
        fn writes_what_std_writes_for_exact_halves(n in 0u64..2_000_000, places in 0u32..4) {
            // n + 0.5 units of the last place, and its neighbours, are where rounding
            // rules differ.
            let unit = 10f64.powi(-(places as i32));
            let x = (n as f64 + 0.5) * unit;
            for y in [x, f64::from_bits(x.to_bits() + 1), f64::from_bits(x.to_bits() - 1)] {
                same_as_std(y);
            }
        }
    }
}
