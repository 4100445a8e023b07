//! f32 ↔ f64.

use super::{build_routine, is_nan, IrExt, F32, F64};
use crate::pack::{magnitude, normalize_round_pack, sign_of, unpack};
use bulkhead_ir::{BinaryOp, Function, IntCC, Type, UnaryOp};

/// `name(x: f32 bits) -> f64 bits`, exact.
///
/// A normal f32 becomes an f64 by moving its fields: the significand field
/// shifted left by the difference of the field widths, the exponent rebiased
/// (adding the bias difference, pre-shifted, to the moved bits). A
/// subnormal f32 is first normalized: shifting its magnitude left by `s`
/// (so the leading one reaches the hidden-bit position, which reads as
/// exponent field 1) and subtracting `s` from the exponent. Normal inputs
/// have `s = 0`, so one formula serves both. Zeros, infinities and NaNs are
/// picked separately.
pub(super) fn promote(name: &str) -> Function {
    build_routine(name, &[Type::I32], Type::I64, |b, args| {
        let x = args[0];
        let mag = magnitude(b, F32, x);
        // A normal's magnitude has its leading one at the hidden-bit
        // position or above (at most `exp_bits` leading zeros: the sign and
        // the exponent field); a subnormal's needs shifting left by the
        // excess.
        let lz = b.unary(UnaryOp::Clz, mag);
        let field_lz = F32.exp_bits;
        let is_subnormal = b.cmp_k(IntCC::GtU, lz, u64::from(field_lz));
        let excess = b.op_k(BinaryOp::Sub, lz, u64::from(field_lz));
        let zero32 = b.k(b.ty(lz), 0);
        let s32 = b.select(is_subnormal, excess, zero32);
        let s = b.to_type(s32, Type::I64);

        let mag64 = b.to_type(mag, Type::I64);
        let move_amount = b.op_k(BinaryOp::Add, s, u64::from(F64.frac_bits - F32.frac_bits));
        let moved = b.binary(BinaryOp::Shl, mag64, move_amount);
        let rebias = b.k(b.ty(s), (F64.bias - F32.bias) as u64);
        let exp_adjust = b.binary(BinaryOp::Sub, rebias, s);
        let exp_adjust = b.op_k(BinaryOp::Shl, exp_adjust, u64::from(F64.frac_bits));
        let finite = b.binary(BinaryOp::Add, moved, exp_adjust);

        let is_zero = b.cmp_k(IntCC::Eq, mag, 0);
        let zero64 = b.k(b.ty(finite), 0);
        let nonzero = b.select(is_zero, zero64, finite);
        let is_inf = b.cmp_k(IntCC::Eq, mag, F32.inf());
        let inf64 = b.k(b.ty(finite), F64.inf());
        let mag_result = b.select(is_inf, inf64, nonzero);
        let sign = sign_of(b, F32, x);
        let sign64 = b.to_type(sign, Type::I64);
        let sign64 = b.op_k(BinaryOp::Shl, sign64, u64::from(F64.width() - F32.width()));
        let result = b.binary(BinaryOp::Or, sign64, mag_result);
        let nan = is_nan(b, F32, x);
        let canonical = b.k(b.ty(result), F64.canonical_nan());
        b.select(nan, canonical, result)
    })
}

/// `name(x: f64 bits) -> f32 bits`, rounding to nearest, ties to even,
/// with subnormal results and overflow to infinity: pack.rs's
/// [`normalize_round_pack`] rounds the f64's exact significand and
/// exponent ([`unpack`]) to f32. Infinity's exponent is far beyond f32's
/// range, so it overflows to infinity like any huge value; only NaNs need
/// a case of their own.
pub(super) fn demote(name: &str) -> Function {
    build_routine(name, &[Type::I64], Type::I32, |b, args| {
        let x = args[0];
        // f64 value = sig × 2^(exp - bias64 - (64 - 2)); in f32's convention
        // that is exponent exp - bias64 - 62 + bias32 + (32 - 2).
        let (exp, sig) = unpack(b, F64, x);
        let rebias = (F64.bias - F32.bias) + (F64.width() as i32 - 2) - (F32.width() as i32 - 2);
        let exp = b.op_k(BinaryOp::Sub, exp, rebias as u64);
        let high = b.op_k(BinaryOp::ShrU, x, u64::from(F64.width() - F32.width()));
        let high = b.to_type(high, Type::I32);
        let sign = sign_of(b, F32, high);
        let result = normalize_round_pack(b, F32, sign, exp, sig);
        let nan = is_nan(b, F64, x);
        let canonical = b.k(Type::I32, F32.canonical_nan());
        b.select(nan, canonical, result)
    })
}

#[cfg(test)]
mod tests {
    use super::super::testgen::{self, float_bits, specials};
    use crate::pack::{F32, F64};
    use bulkhead_ir::interp::{eval_convert, Val};
    use bulkhead_ir::{ConvertOp, Type};
    use proptest::prelude::*;

    fn check_promote(x: u64) {
        testgen::check_on_float("f64_promote_f32", F32, x, |v| eval_convert(ConvertOp::FPromote, Type::F64, v));
    }

    #[test]
    fn promote_special_values_and_every_subnormal_leading_bit() {
        for x in specials(F32) {
            check_promote(x);
        }
        for k in 0..23 {
            for low in [0, 1, (1u64 << k) - 1] {
                let x = (1u64 << k) | (low & ((1 << k) - 1));
                check_promote(x);
                check_promote(x | F32.sign_mask());
            }
        }
        // 0x1p-149 (spec value) and the largest subnormal.
        testgen::check("f64_promote_f32", &[Val::I32(1)], Val::I64(0x36a0_0000_0000_0000));
        testgen::check("f64_promote_f32", &[Val::I32(0x807f_ffff)], Val::I64(0xb80f_ffff_c000_0000));
    }

    fn check_demote(x: u64) {
        testgen::check_on_float("f32_demote_f64", F64, x, |v| eval_convert(ConvertOp::FDemote, Type::F32, v));
    }

    #[test]
    fn demote_special_values_and_f32_boundaries() {
        for x in specials(F64) {
            check_demote(x);
        }
        // Every f32 boundary (promoted, so exact), its f64 neighbours, and
        // the exact ties halfway between it and its f32 neighbours.
        for x32 in specials(F32) {
            let x = f64::from(f32::from_bits(x32 as u32)).to_bits();
            if f64::from_bits(x).is_nan() {
                continue;
            }
            let half_ulp32 = 1u64 << (F64.frac_bits - F32.frac_bits - 1);
            for y in [x, x + 1, x.wrapping_sub(1), x + half_ulp32, x.wrapping_sub(half_ulp32), x + half_ulp32 + 1] {
                check_demote(y);
            }
        }
    }

    #[test]
    fn demote_hand_picked() {
        use testgen::check;
        // f32.wast / conversions.wast values: just below the overflow tie,
        // exactly on it, the smallest subnormal and the tie below it.
        check("f32_demote_f64", &[Val::I64(0x47ef_ffff_efff_ffff)], Val::I32(0x7f7f_ffff));
        check("f32_demote_f64", &[Val::I64(0x47ef_ffff_f000_0000)], Val::I32(0x7f80_0000));
        check("f32_demote_f64", &[Val::I64(0x36a0_0000_0000_0000)], Val::I32(1));
        check("f32_demote_f64", &[Val::I64(0x3690_0000_0000_0000)], Val::I32(0));
        check("f32_demote_f64", &[Val::I64(0x3690_0000_0000_0001)], Val::I32(1));
        check("f32_demote_f64", &[Val::I64(0xb6a8_0000_0000_0000)], Val::I32(0x8000_0002));
        check("f32_demote_f64", &[Val::I64(0x0000_0000_0000_0001)], Val::I32(0));
        check("f32_demote_f64", &[Val::I64(0xfff0_0000_0000_0000)], Val::I32(0xff80_0000));
        check("f32_demote_f64", &[Val::I64(0xfff0_0000_0000_0001)], Val::I32(0x7fc0_0000));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn demote_random(x in float_bits(F64)) {
            check_demote(x);
        }
        #[test]
        fn promote_random(x in float_bits(F32)) {
            check_promote(x);
        }
    }
}
