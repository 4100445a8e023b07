//! Ordered comparisons and wasm min/max.
//!
//! Both rest on one integer key per operand, `x ^ ((x >>s (w-1)) >>u 1)`:
//! non-negative floats keep their bits, negative ones get their magnitude
//! bits flipped, so for non-NaN operands the *signed* integer order of the
//! keys is the float order, except that it puts -0 (key -1) just below +0
//! (key 0). Comparisons correct that with an explicit "both zero" test;
//! min/max want exactly that order.

use super::{build_routine, is_nan, IrExt};
use crate::pack::Format;
use bulkhead_ir::{BinaryOp, Function, FunctionBuilder, IntCC, Type, Value};

#[derive(Copy, Clone, Debug)]
pub(super) enum Relation {
    Eq,
    Lt,
    Le,
}

#[derive(Copy, Clone, Debug)]
pub(super) enum Pick {
    Min,
    Max,
}

/// The order key described in the module doc.
fn order_key(b: &mut FunctionBuilder, fmt: Format, x: Value) -> Value {
    let sign_fill = b.op_k(BinaryOp::ShrS, x, u64::from(fmt.width() - 1));
    let flip = b.op_k(BinaryOp::ShrU, sign_fill, 1);
    b.binary(BinaryOp::Xor, x, flip)
}

/// 1 when neither operand is a NaN.
fn ordered(b: &mut FunctionBuilder, fmt: Format, x: Value, y: Value) -> Value {
    let x_nan = is_nan(b, fmt, x);
    let y_nan = is_nan(b, fmt, y);
    let any_nan = b.binary(BinaryOp::Or, x_nan, y_nan);
    b.op_k(BinaryOp::Xor, any_nan, 1)
}

/// `name(x, y) -> i32`: 1 when `x rel y`, 0 otherwise or when unordered.
pub(super) fn compare(name: &str, fmt: Format, rel: Relation) -> Function {
    build_routine(name, &[fmt.ty, fmt.ty], Type::I32, |b, args| {
        let (x, y) = (args[0], args[1]);
        let ordered = ordered(b, fmt, x, y);
        // -0 and +0 are equal: the magnitudes of both are zero.
        let either = b.binary(BinaryOp::Or, x, y);
        let either_mag = b.op_k(BinaryOp::And, either, fmt.mag_mask());
        let both_zero = b.cmp_k(IntCC::Eq, either_mag, 0);
        let holds = match rel {
            Relation::Eq => {
                let same = b.icmp(IntCC::Eq, x, y);
                b.binary(BinaryOp::Or, same, both_zero)
            }
            Relation::Lt | Relation::Le => {
                let kx = order_key(b, fmt, x);
                let ky = order_key(b, fmt, y);
                if let Relation::Lt = rel {
                    let less = b.icmp(IntCC::LtS, kx, ky);
                    let not_both_zero = b.op_k(BinaryOp::Xor, both_zero, 1);
                    b.binary(BinaryOp::And, less, not_both_zero)
                } else {
                    let less_eq = b.icmp(IntCC::LeS, kx, ky);
                    b.binary(BinaryOp::Or, less_eq, both_zero)
                }
            }
        };
        b.binary(BinaryOp::And, holds, ordered)
    })
}

/// `name(x, y) -> x`: wasm `min`/`max` (canonical NaN if either operand is
/// a NaN; -0 < +0).
pub(super) fn min_max(name: &str, fmt: Format, pick: Pick) -> Function {
    build_routine(name, &[fmt.ty, fmt.ty], fmt.ty, |b, args| {
        let (x, y) = (args[0], args[1]);
        let kx = order_key(b, fmt, x);
        let ky = order_key(b, fmt, y);
        let take_x = match pick {
            Pick::Min => b.icmp(IntCC::LeS, kx, ky),
            Pick::Max => b.icmp(IntCC::GeS, kx, ky),
        };
        let picked = b.select(take_x, x, y);
        let ordered = ordered(b, fmt, x, y);
        let nan = b.iconst(fmt.ty, fmt.canonical_nan());
        b.select(ordered, picked, nan)
    })
}

#[cfg(test)]
mod tests {
    use super::super::testgen::{self, float_bits, specials};
    use crate::pack::{F32, F64};
    use bulkhead_ir::interp::{eval_fbinary, eval_fcmp};
    use bulkhead_ir::{FloatBinaryOp, FloatCC};
    use proptest::prelude::*;

    const CMPS: [(&str, FloatCC); 3] = [("eq", FloatCC::Eq), ("lt", FloatCC::Lt), ("le", FloatCC::Le)];
    const PICKS: [(&str, FloatBinaryOp); 2] = [("min", FloatBinaryOp::Min), ("max", FloatBinaryOp::Max)];

    /// Checks every comparison and min/max of format `fmt` on `(x, y)`
    /// against the interpreter's float evaluators.
    fn check_pair(fmt: super::Format, x: u64, y: u64) {
        let prefix = testgen::prefix(fmt);
        let (fx, fy) = (testgen::float_val(fmt, x), testgen::float_val(fmt, y));
        let (ix, iy) = (testgen::int_val(fmt.ty, x), testgen::int_val(fmt.ty, y));
        for (op, cc) in CMPS {
            let want = eval_fcmp(cc, fx, fy).unwrap();
            testgen::check(&format!("{prefix}_{op}"), &[ix, iy], want);
        }
        for (op, fop) in PICKS {
            let want = testgen::as_int(eval_fbinary(fop, fx, fy).unwrap());
            testgen::check(&format!("{prefix}_{op}"), &[ix, iy], want);
        }
    }

    #[test]
    fn all_pairs_of_special_values() {
        for fmt in [F32, F64] {
            let s = specials(fmt);
            for &x in &s {
                for &y in &s {
                    check_pair(fmt, x, y);
                }
            }
        }
    }

    #[test]
    fn hand_picked() {
        use testgen::check;
        use bulkhead_ir::interp::Val::{I32, I64};
        // -0 == +0, but NaN != NaN even bit-identical.
        check("f32_eq", &[I32(0x8000_0000), I32(0)], I32(1));
        check("f32_eq", &[I32(0x7fc0_0000), I32(0x7fc0_0000)], I32(0));
        check("f64_le", &[I64(0x8000_0000_0000_0000), I64(0)], I32(1));
        check("f64_lt", &[I64(0x8000_0000_0000_0000), I64(0)], I32(0));
        // -1 < -0.5 (negative keys order by reversed magnitude).
        check("f32_lt", &[I32(0xbf80_0000), I32(0xbf00_0000)], I32(1));
        check("f32_lt", &[I32(0xbf00_0000), I32(0xbf80_0000)], I32(0));
        check("f64_min", &[I64(0), I64(0x8000_0000_0000_0000)], I64(0x8000_0000_0000_0000));
        check("f64_max", &[I64(0x8000_0000_0000_0000), I64(0)], I64(0));
        check("f32_max", &[I32(0x7f80_0000), I32(0x7f80_0001)], I32(0x7fc0_0000));
        check("f32_min", &[I32(0xff80_0000), I32(0x8000_0001)], I32(0xff80_0000));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn f32_pairs(x in float_bits(F32), y in float_bits(F32), same in any::<bool>()) {
            // Half the time compare near-equal values: y is x with its
            // low bits perturbed, so equal and adjacent keys are common.
            let y = if same { testgen::nudge(F32, x, y) } else { y };
            check_pair(F32, x, y);
        }
        #[test]
        fn f64_pairs(x in float_bits(F64), y in float_bits(F64), same in any::<bool>()) {
            let y = if same { testgen::nudge(F64, x, y) } else { y };
            check_pair(F64, x, y);
        }
    }
}
