//! Addition and subtraction.

use super::build_routine;
use crate::pack::{
    canonical_nan, is_inf, is_nan, magnitude, normalize_round_pack, shift_right_jam, sign_of,
    unpack, Format, IrExt,
};
use bulkhead_ir::{BinaryOp, Function, IntCC};

/// `name(a, b) -> a + b`, or `a - b` when `subtract`.
///
/// The operand of larger magnitude is `big`, the other `small`; `small`'s
/// significand is shifted right by the exponent difference with jamming
/// (G ≥ 7 guard bits keep the sum correctly roundable, even after a
/// one-bit cancellation), then added or subtracted (never negative: `big`
/// dominates), and [`normalize_round_pack`] renormalizes a carry or a
/// cancellation and rounds once. Unnormalized subnormal operands need no
/// special case: they share the scale of exponent 1.
///
/// An exact zero sum is +0 (round to nearest), except that -0 + -0 keeps
/// its sign: a true addition of two zeros keeps `big`'s sign.
pub(super) fn build(name: &str, fmt: Format, subtract: bool) -> Function {
    build_routine(name, fmt, 2, |b, args| {
        let a = args[0];
        let y = if subtract {
            b.op_k(BinaryOp::Xor, args[1], fmt.sign_mask())
        } else {
            args[1]
        };
        let mag_a = magnitude(b, fmt, a);
        let mag_y = magnitude(b, fmt, y);
        let swap = b.icmp(IntCC::GtU, mag_y, mag_a);
        let big = b.select(swap, y, a);
        let small = b.select(swap, a, y);

        let (exp_big, sig_big) = unpack(b, fmt, big);
        let (exp_small, sig_small) = unpack(b, fmt, small);
        let distance = b.binary(BinaryOp::Sub, exp_big, exp_small);
        let aligned = shift_right_jam(b, sig_small, distance);
        let sign_big = sign_of(b, fmt, big);
        let sign_small = sign_of(b, fmt, small);
        let signs = b.binary(BinaryOp::Xor, sign_big, sign_small);
        let opposite = b.cmp_k(IntCC::Ne, signs, 0);
        let sum = b.binary(BinaryOp::Add, sig_big, aligned);
        let difference = b.binary(BinaryOp::Sub, sig_big, aligned);
        let sig = b.select(opposite, difference, sum);
        // normalize_round_pack returns `sign` itself for a zero sig.
        let cancelled = b.cmp_k(IntCC::Eq, sig, 0);
        let cancelled = b.binary(BinaryOp::And, cancelled, opposite);
        let plus = b.k(fmt.ty, 0);
        let sign = b.select(cancelled, plus, sign_big);
        let finite = normalize_round_pack(b, fmt, sign, exp_big, sig);

        // Magnitudes order NaNs above infinities: `big` is a NaN if either
        // operand is, and an infinite `small` means both are infinite.
        let nan_operand = is_nan(b, fmt, big);
        let small_inf = is_inf(b, fmt, small);
        let inf_minus_inf = b.binary(BinaryOp::And, small_inf, opposite);
        let nan = b.binary(BinaryOp::Or, nan_operand, inf_minus_inf);
        let big_inf = is_inf(b, fmt, big);
        let result = b.select(big_inf, big, finite);
        let qnan = canonical_nan(b, fmt);
        b.select(nan, qnan, result)
    })
}
