//! Float ↔ integer conversions.

use super::{build_routine, is_nan, IrExt};
use crate::pack::{exp_field, frac_field, normalize_round_pack, Format};
use bulkhead_ir::{BinaryOp, Function, IntCC, Type, UnaryOp};

fn int_bits(ty: Type) -> u32 {
    if ty == Type::I64 {
        64
    } else {
        32
    }
}

/// `name(x) -> dst`: wasm `trunc_sat` of a float of format `fmt` to the
/// signed or unsigned N-bit integer type `dst`.
///
/// With biased exponent `e` and `E = e - bias`, |x| = 1.f × 2^E. Only
/// `0 <= E < N` gives an in-range nonzero result, and then at most N
/// integer bits, so the significand (hidden bit included) is placed with
/// its leading one at bit N - 1 of a `dst` word — shifted left, or for
/// f64 → 32-bit right, dropping only fraction bits — and the truncated
/// value is that word shifted right by `N - 1 - E`. The work stays in
/// `dst`'s width (an f64 → i32 conversion needs one 64-bit shift).
///
/// |x| < 1 (E < 0: zeros and subnormals too) and NaN give 0. Signed:
/// E >= N - 1 saturates to MIN or MAX by sign (for -2^(N-1) itself MIN is
/// also the exact result). Unsigned: any negative gives 0 (those in
/// (-1, 0] truncate to 0, the rest saturate to 0) and E >= N saturates to
/// MAX.
pub(super) fn float_to_int_sat(name: &str, fmt: Format, dst: Type, signed: bool) -> Function {
    build_routine(name, &[fmt.ty], dst, |b, args| {
        let x = args[0];
        let n = int_bits(dst);
        let frac_bits = fmt.frac_bits;
        let exp = exp_field(b, fmt, x);
        let negative = b.cmp_k(IntCC::LtS, x, 0);

        let fraction = frac_field(b, fmt, x);
        let sig = b.op_k(BinaryOp::Or, fraction, fmt.hidden_bit());
        let top = if n > frac_bits {
            let sig = b.to_type(sig, dst);
            b.op_k(BinaryOp::Shl, sig, u64::from(n - 1 - frac_bits))
        } else {
            let high = b.op_k(BinaryOp::ShrU, sig, u64::from(frac_bits - (n - 1)));
            b.to_type(high, dst)
        };
        // N - 1 - E = bias + N - 1 - e, in range whenever it is used.
        let k_amount = b.k(Type::I32, fmt.bias as u64 + u64::from(n) - 1);
        let amount = b.binary(BinaryOp::Sub, k_amount, exp);
        let amount = b.to_type(amount, dst);
        let magnitude = b.binary(BinaryOp::ShrU, top, amount);

        let zero = b.k(dst, 0);
        let in_range = if signed {
            let saturates = b.cmp_k(IntCC::GeU, exp, fmt.bias as u64 + u64::from(n) - 1);
            let min = b.k(dst, 1 << (n - 1));
            let max = b.k(dst, (1 << (n - 1)) - 1);
            let limit = b.select(negative, min, max);
            let negated = b.binary(BinaryOp::Sub, zero, magnitude);
            let value = b.select(negative, negated, magnitude);
            b.select(saturates, limit, value)
        } else {
            let saturates = b.cmp_k(IntCC::GeU, exp, fmt.bias as u64 + u64::from(n));
            let max = b.k(dst, u64::MAX >> (64 - n));
            let value = b.select(saturates, max, magnitude);
            b.select(negative, zero, value)
        };
        let below_one = b.cmp_k(IntCC::LtU, exp, fmt.bias as u64);
        let nan = is_nan(b, fmt, x);
        let zero_result = b.binary(BinaryOp::Or, below_one, nan);
        b.select(zero_result, zero, in_range)
    })
}

/// `name(x: src) -> fmt`: the signed or unsigned integer `x` rounded to
/// the nearest float (ties to even).
///
/// The sign is split off and the magnitude (|MIN| = 2^(N-1) reads
/// correctly as unsigned) converted. When the integer type has more bits
/// than the significand, rounding may be needed: pack.rs's
/// [`normalize_round_pack`] does it (`|x| = |x| × 2^0`, exponent
/// `bias + W - 2` in its convention). Otherwise the conversion is exact and
/// done here directly: the magnitude, in the format's integer type (W
/// bits), is shifted so its leading one lands on the hidden bit, and added
/// to `(exponent - 1) << frac_bits` with exponent `bias + W - 1 - clz`, so
/// the hidden bit completes the exponent field.
pub(super) fn int_to_float(name: &str, src: Type, signed: bool, fmt: Format) -> Function {
    build_routine(name, &[src], fmt.ty, |b, args| {
        let x = args[0];
        let zero_sign = b.k(fmt.ty, 0);
        let (sign, magnitude) = if signed {
            let negative = b.cmp_k(IntCC::LtS, x, 0);
            let zero = b.k(src, 0);
            let negated = b.binary(BinaryOp::Sub, zero, x);
            let sign_bit = b.k(fmt.ty, fmt.sign_mask());
            (b.select(negative, sign_bit, zero_sign), b.select(negative, negated, x))
        } else {
            (zero_sign, x)
        };
        let width = u64::from(fmt.width());
        if int_bits(src) > fmt.frac_bits + 1 {
            let exp = b.k(Type::I32, fmt.bias as u64 + width - 2);
            return normalize_round_pack(b, fmt, sign, exp, magnitude);
        }
        let magnitude = b.to_type(magnitude, fmt.ty);
        let lz = b.unary(UnaryOp::Clz, magnitude);
        let normalized = b.binary(BinaryOp::Shl, magnitude, lz);
        let sig = b.op_k(BinaryOp::ShrU, normalized, width - 1 - u64::from(fmt.frac_bits));
        // (biased exponent - 1) = bias + W - 2 - clz.
        let k_exp = b.k(fmt.ty, fmt.bias as u64 + width - 2);
        let exp_minus_one = b.binary(BinaryOp::Sub, k_exp, lz);
        let exp_field = b.op_k(BinaryOp::Shl, exp_minus_one, u64::from(fmt.frac_bits));
        let packed = b.binary(BinaryOp::Add, exp_field, sig);
        let is_zero = b.cmp_k(IntCC::Eq, magnitude, 0);
        let packed = b.select(is_zero, zero_sign, packed);
        b.binary(BinaryOp::Or, packed, sign)
    })
}

#[cfg(test)]
mod tests {
    use super::super::testgen::{self, float_bits};
    use crate::pack::{Format, F32, F64};
    use bulkhead_ir::interp::{eval_convert, Val};
    use bulkhead_ir::{ConvertOp, Type};
    use proptest::prelude::*;

    const TARGETS: [(&str, Type, ConvertOp); 4] = [
        ("i32", Type::I32, ConvertOp::FloatToSIntSat),
        ("u32", Type::I32, ConvertOp::FloatToUIntSat),
        ("i64", Type::I64, ConvertOp::FloatToSIntSat),
        ("u64", Type::I64, ConvertOp::FloatToUIntSat),
    ];

    fn check_to_int(fmt: Format, x: u64) {
        let prefix = testgen::prefix(fmt);
        for (int, ty, op) in TARGETS {
            testgen::check_on_float(&format!("{prefix}_to_{int}_sat"), fmt, x, |v| eval_convert(op, ty, v));
        }
    }

    #[test]
    fn to_int_special_values() {
        testgen::on_all_specials(check_to_int);
    }

    #[test]
    fn to_int_saturation_boundaries() {
        use testgen::{check, f32_arg as f, f64_arg as d};
        // The largest in-range values and the first out-of-range ones.
        check("f64_to_i32_sat", &[d(2147483647.9)], Val::I32(0x7fff_ffff));
        check("f64_to_i32_sat", &[d(2147483648.0)], Val::I32(0x7fff_ffff));
        check("f64_to_i32_sat", &[d(-2147483648.9)], Val::I32(0x8000_0000));
        check("f64_to_i32_sat", &[d(-2147483649.0)], Val::I32(0x8000_0000));
        check("f64_to_i32_sat", &[d(-2147483647.5)], Val::I32(0x8000_0001));
        check("f64_to_u32_sat", &[d(4294967295.5)], Val::I32(0xffff_ffff));
        check("f64_to_u32_sat", &[d(4294967296.0)], Val::I32(0xffff_ffff));
        check("f64_to_u32_sat", &[d(2147483648.5)], Val::I32(0x8000_0000));
        check("f64_to_u32_sat", &[d(-0.99)], Val::I32(0));
        check("f32_to_i32_sat", &[f(2147483520.0)], Val::I32(2147483520));
        check("f32_to_i32_sat", &[f(-2147483648.0)], Val::I32(0x8000_0000));
        check("f32_to_u32_sat", &[f(4294967040.0)], Val::I32(4294967040));
        check("f64_to_i64_sat", &[d(9223372036854774784.0)], Val::I64(9223372036854774784));
        check("f64_to_i64_sat", &[d(-9223372036854775808.0)], Val::I64(1 << 63));
        check("f64_to_u64_sat", &[d(18446744073709549568.0)], Val::I64(18446744073709549568));
        check("f64_to_u64_sat", &[d(18446744073709551616.0)], Val::I64(u64::MAX));
        check("f32_to_u64_sat", &[f(f32::NEG_INFINITY)], Val::I64(0));
        check("f32_to_i64_sat", &[Val::I32(0xffc0_0001)], Val::I64(0));
        check("f64_to_i64_sat", &[d(-1.5)], Val::I64(-1i64 as u64));
        check("f32_to_i32_sat", &[f(1e-40)], Val::I32(0));
    }

    const SOURCES: [(&str, Type, ConvertOp); 4] = [
        ("i32", Type::I32, ConvertOp::SIntToFloat),
        ("u32", Type::I32, ConvertOp::UIntToFloat),
        ("i64", Type::I64, ConvertOp::SIntToFloat),
        ("u64", Type::I64, ConvertOp::UIntToFloat),
    ];

    /// Checks `f32_from_*` and `f64_from_*` of the integer `x` of type `ty`.
    fn check_from_int(ty: Type, x: u64) {
        for (int, src, op) in SOURCES.into_iter().filter(|s| s.1 == ty) {
            let arg = testgen::int_val(src, x);
            for (prefix, to) in [("f32", Type::F32), ("f64", Type::F64)] {
                let want = testgen::as_int(eval_convert(op, to, arg).unwrap());
                testgen::check(&format!("{prefix}_from_{int}"), &[arg], want);
            }
        }
    }

    #[test]
    fn from_int_hand_picked() {
        use testgen::{check, f32_arg as f, f64_arg as d};
        // Ties to even at 2^24 + 1 / 2^53 + 1, and up past the tie.
        check("f32_from_i32", &[Val::I32(16777217)], f(16777216.0));
        check("f32_from_i32", &[Val::I32(16777219)], f(16777220.0));
        check("f32_from_u32", &[Val::I32(0xffff_ff80)], Val::I32(0x4f80_0000));
        check("f32_from_u32", &[Val::I32(0xffff_ff7f)], Val::I32(0x4f7f_ffff));
        check("f32_from_i32", &[Val::I32(0x8000_0000)], f(-2147483648.0));
        check("f32_from_i64", &[Val::I64(0x7fff_ff40_0000_0001)], Val::I32(0x5eff_ffff));
        check("f32_from_i64", &[Val::I64(1 << 63)], f(-9223372036854775808.0));
        check("f32_from_u64", &[Val::I64(u64::MAX)], f(18446744073709551616.0));
        check("f64_from_i64", &[Val::I64(9007199254740993)], d(9007199254740992.0));
        check("f64_from_i64", &[Val::I64(9007199254740995)], d(9007199254740996.0));
        check("f64_from_u64", &[Val::I64(u64::MAX)], Val::I64(0x43f0_0000_0000_0000));
        check("f64_from_i64", &[Val::I64(-1i64 as u64)], d(-1.0));
        check("f64_from_i32", &[Val::I32(0x8000_0000)], d(-2147483648.0));
        check("f64_from_u32", &[Val::I32(0xffff_ffff)], d(4294967295.0));
        check("f64_from_u32", &[Val::I32(0)], d(0.0));
        check("f32_from_i64", &[Val::I64(0)], f(0.0));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn from_i32_random(x in testgen::int_bits(Type::I32)) {
            check_from_int(Type::I32, x);
        }
        #[test]
        fn from_i64_random(x in testgen::int_bits(Type::I64)) {
            check_from_int(Type::I64, x);
        }
        #[test]
        fn f32_to_int_random(x in float_bits(F32)) {
            check_to_int(F32, x);
        }
        #[test]
        fn f64_to_int_random(x in float_bits(F64)) {
            check_to_int(F64, x);
        }
    }
}
