//! Rounding to an integral value in the float's own format.
//!
//! With biased exponent `e`, a finite `x` has `frac = bias + F - e`
//! fraction bits in its significand field. Three cases:
//! - `frac <= 0` (large, infinite or NaN): already integral; NaNs become
//!   the canonical NaN.
//! - `frac > F` (|x| < 1): the result is ±0 or ±1 with `x`'s sign.
//! - otherwise the low `frac` bits of the field are the fraction: clear
//!   them, and to round the magnitude up add one unit of the lowest integer
//!   bit (`mask + 1`) to the cleared magnitude; a carry out of the field
//!   steps the exponent, which is exactly right (e.g. 1.5 → 2.0).

use super::{build_routine, is_nan, IrExt};
use crate::pack::{magnitude, sign_of, Format};
use bulkhead_ir::{BinaryOp, Function, FunctionBuilder, IntCC, Value};

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    Ceil,
    Floor,
    Trunc,
    /// Nearest, ties to even.
    Nearest,
}

/// `name(x) -> x` rounding to integral in `mode`.
pub(super) fn round_integral(name: &str, fmt: Format, mode: Mode) -> Function {
    build_routine(name, &[fmt.ty], fmt.ty, |b, args| {
        let x = args[0];
        let sign = sign_of(b, fmt, x);
        let mag = magnitude(b, fmt, x);
        let exp = b.op_k(BinaryOp::ShrU, mag, u64::from(fmt.frac_bits));
        let integral_exp = fmt.bias as u64 + u64::from(fmt.frac_bits);
        let is_large = b.cmp_k(IntCC::GeU, exp, integral_exp);
        let is_small = b.cmp_k(IntCC::LtU, exp, fmt.bias as u64);
        let negative = b.cmp_k(IntCC::Ne, sign, 0);
        let positive = b.op_k(BinaryOp::Xor, negative, 1);

        let mid = round_fraction(b, fmt, mode, mag, exp, integral_exp, negative, positive);
        let small = round_below_one(b, fmt, mode, mag, negative, positive);
        let mag_rounded = b.select(is_small, small, mid);
        let rounded = b.binary(BinaryOp::Or, sign, mag_rounded);

        let nan = is_nan(b, fmt, x);
        let canonical = b.iconst(fmt.ty, fmt.canonical_nan());
        let large = b.select(nan, canonical, x);
        b.select(is_large, large, rounded)
    })
}

/// The rounded magnitude when `1 <= |x| < 2^F` (see the module doc).
#[allow(clippy::too_many_arguments)]
fn round_fraction(
    b: &mut FunctionBuilder,
    fmt: Format,
    mode: Mode,
    mag: Value,
    exp: Value,
    integral_exp: u64,
    negative: Value,
    positive: Value,
) -> Value {
    let integral_exp = b.k(b.ty(exp), integral_exp);
    let frac_bits = b.binary(BinaryOp::Sub, integral_exp, exp);
    let unit = b.k(b.ty(mag), 1);
    let unit = b.binary(BinaryOp::Shl, unit, frac_bits);
    let mask = b.op_k(BinaryOp::Sub, unit, 1);
    let not_mask = b.op_k(BinaryOp::Xor, mask, fmt.sign_mask() | fmt.mag_mask());
    let truncated = b.binary(BinaryOp::And, mag, not_mask);
    let fraction = b.binary(BinaryOp::And, mag, mask);
    let inexact = b.cmp_k(IntCC::Ne, fraction, 0);
    let bumped = b.binary(BinaryOp::Add, truncated, unit);
    let up = match mode {
        Mode::Trunc => return truncated,
        Mode::Floor => b.binary(BinaryOp::And, inexact, negative),
        Mode::Ceil => b.binary(BinaryOp::And, inexact, positive),
        Mode::Nearest => {
            // Up when the fraction exceeds half a unit, or equals it and
            // the integer part is odd (ties to even). For 1 <= |x| < 2 the
            // integer part is the hidden bit and `unit` selects the
            // exponent's lowest bit instead; that bit is the bias's, which
            // is odd, so the integer part 1 still reads as odd.
            let half = b.op_k(BinaryOp::ShrU, unit, 1);
            let above = b.icmp(IntCC::GtU, fraction, half);
            let tie = b.icmp(IntCC::Eq, fraction, half);
            let int_lsb = b.binary(BinaryOp::And, mag, unit);
            let odd = b.cmp_k(IntCC::Ne, int_lsb, 0);
            let tie_up = b.binary(BinaryOp::And, tie, odd);
            b.binary(BinaryOp::Or, above, tie_up)
        }
    };
    b.select(up, bumped, truncated)
}

/// The rounded magnitude (0 or 1.0) when `|x| < 1`.
fn round_below_one(
    b: &mut FunctionBuilder,
    fmt: Format,
    mode: Mode,
    mag: Value,
    negative: Value,
    positive: Value,
) -> Value {
    let nonzero = b.cmp_k(IntCC::Ne, mag, 0);
    let up = match mode {
        Mode::Trunc => return b.k(b.ty(mag), 0),
        Mode::Floor => b.binary(BinaryOp::And, nonzero, negative),
        Mode::Ceil => b.binary(BinaryOp::And, nonzero, positive),
        // Above one half; exactly one half ties to 0.
        Mode::Nearest => b.cmp_k(IntCC::GtU, mag, ((fmt.bias as u64) - 1) << fmt.frac_bits),
    };
    let one = b.k(b.ty(mag), (fmt.bias as u64) << fmt.frac_bits);
    let zero = b.k(b.ty(mag), 0);
    b.select(up, one, zero)
}

#[cfg(test)]
mod tests {
    use super::super::testgen::{self, float_bits};
    use crate::pack::{Format, F32, F64};
    use bulkhead_ir::interp::{eval_funary, Val};
    use bulkhead_ir::FloatUnaryOp;
    use proptest::prelude::*;

    const OPS: [(&str, FloatUnaryOp); 4] = [
        ("ceil", FloatUnaryOp::Ceil),
        ("floor", FloatUnaryOp::Floor),
        ("trunc", FloatUnaryOp::Trunc),
        ("nearest", FloatUnaryOp::Nearest),
    ];

    fn check_all(fmt: Format, x: u64) {
        let prefix = testgen::prefix(fmt);
        for (op, fop) in OPS {
            testgen::check_on_float(&format!("{prefix}_{op}"), fmt, x, |v| eval_funary(fop, v));
        }
    }

    #[test]
    fn special_values() {
        testgen::on_all_specials(check_all);
    }

    #[test]
    fn hand_picked() {
        use testgen::{check, f32_arg as f, f64_arg as d};
        check("f32_nearest", &[f(2.5)], f(2.0));
        check("f32_nearest", &[f(3.5)], f(4.0));
        check("f32_nearest", &[f(-0.5)], f(-0.0));
        check("f32_nearest", &[f(0.5000001)], f(1.0));
        check("f32_nearest", &[f(1.5)], f(2.0));
        check("f64_nearest", &[d(-2.5)], d(-2.0));
        check("f64_nearest", &[d(4503599627370495.5)], d(4503599627370496.0));
        check("f64_nearest", &[d(4503599627370494.5)], d(4503599627370494.0));
        check("f32_ceil", &[f(-0.5)], f(-0.0));
        check("f32_ceil", &[f(1e-45)], f(1.0));
        check("f64_floor", &[d(-1e-320)], d(-1.0));
        check("f64_floor", &[d(-0.0)], d(-0.0));
        check("f64_floor", &[d(-1.5)], d(-2.0));
        check("f64_ceil", &[d(1.5)], d(2.0));
        check("f64_trunc", &[d(-0.999)], d(-0.0));
        check("f32_trunc", &[Val::I32(0xff80_0000)], Val::I32(0xff80_0000));
        check("f32_floor", &[Val::I32(0xffa0_0001)], Val::I32(0x7fc0_0000));
        check("f64_ceil", &[Val::I64(0x7ff0_0000_0000_0001)], Val::I64(0x7ff8_0000_0000_0000));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn f32_random(x in float_bits(F32)) {
            check_all(F32, x);
        }
        #[test]
        fn f64_random(x in float_bits(F64)) {
            check_all(F64, x);
        }
    }
}
