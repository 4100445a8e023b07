//! Square root.

use super::{build_routine, counted_loop, mask_if};
use crate::pack::{
    canonical_nan, is_nan, is_zero, or_sticky, round_pack, sign_of, unpack_normalized, Format,
    IrExt,
};
use bulkhead_ir::{BinaryOp, Function, IntCC};

/// `name(a) -> sqrt(a)`, correctly rounded.
///
/// The normalized significand (leading one at bit `W - 2`) is read as a
/// fixed-point `x` in [1, 4) with 1.0 at bit `L = W - 3`: `sig >> 1` when
/// the unbiased exponent `u` is even, `sig` itself (2 × the value) when it
/// is odd, so the root's exponent is `floor(u / 2)`.
///
/// The root `y` is then found bit by bit, from 1.0 down: with `s = 2y` and
/// `r` the trial bit, both scaled by 2^L, and `ix = (x - y²) × 2^i × 2^L`
/// at step `i`, the bit is set when `s + r ≤ ix` (then `ix -= s + r`,
/// `s += 2r`); the loop keeps `s`, whose value is the root scaled to 1.0 at
/// bit `W - 2`. Invariant: `ix < 8 ×
/// 2^L = 2^W`, so everything fits the format's type. `F + 3` iterations
/// (26 for f32, 55 for f64) give the `F + 1` significant bits and two guard
/// bits; a nonzero final `ix` (x ≠ y²) is the sticky bit. A square root is
/// never a tie, so this rounds correctly.
///
/// Specials: NaN and any negative nonzero (including -inf) → NaN; ±0 and
/// +inf are their own roots.
pub(super) fn build(name: &str, fmt: Format) -> Function {
    build_routine(name, fmt, 1, |b, args| {
        let ty = fmt.ty;
        let a = args[0];
        let (exp, sig) = unpack_normalized(b, fmt, a);
        let unbiased = b.op_k(BinaryOp::Sub, exp, fmt.bias as u64);
        let odd = b.op_k(BinaryOp::And, unbiased, 1);
        let halved = b.op_k(BinaryOp::ShrU, sig, 1);
        let x = b.select(odd, sig, halved);
        let half_exp = b.op_k(BinaryOp::ShrS, unbiased, 1);
        let exp = b.op_k(BinaryOp::Add, half_exp, fmt.bias as u64);

        let zero = b.k(ty, 0);
        let one = b.k(ty, 1 << (fmt.width() - 3));
        let last = counted_loop(b, fmt.frac_bits + 3, &[x, zero, one], |b, state| {
            let (ix, s, bit) = (state[0], state[1], state[2]);
            let trial = b.binary(BinaryOp::Add, s, bit);
            let fits = b.icmp(IntCC::LeU, trial, ix);
            let mask = mask_if(b, fits, ty);
            let taken = b.binary(BinaryOp::And, trial, mask);
            let ix = b.binary(BinaryOp::Sub, ix, taken);
            let ix = b.op_k(BinaryOp::Shl, ix, 1);
            // s = 2y: a set bit adds 2 × bit.
            let twice = b.op_k(BinaryOp::Shl, bit, 1);
            let added = b.binary(BinaryOp::And, twice, mask);
            let s = b.binary(BinaryOp::Add, s, added);
            let bit = b.op_k(BinaryOp::ShrU, bit, 1);
            vec![ix, s, bit]
        });
        // s = 2y is the root with 1.0 at bit W - 2, its bits from 2^(G-2)
        // up, so bit 0 is free for the sticky bit.
        let sig = or_sticky(b, last[1], last[0]);
        let positive = b.k(ty, 0);
        let finite = round_pack(b, fmt, positive, exp, sig);

        let nan_operand = is_nan(b, fmt, a);
        let zero = is_zero(b, fmt, a);
        let sign = sign_of(b, fmt, a);
        let negative = b.cmp_k(IntCC::Ne, sign, 0);
        let nonzero = b.cmp_k(IntCC::Eq, zero, 0);
        let negative_nonzero = b.binary(BinaryOp::And, negative, nonzero);
        let nan = b.binary(BinaryOp::Or, nan_operand, negative_nonzero);
        // ±0 and +inf (the only non-NaN input with an all-ones exponent
        // left) return themselves.
        let inf_bits = b.k(ty, fmt.inf());
        let is_pos_inf = b.icmp(IntCC::Eq, a, inf_bits);
        let itself = b.binary(BinaryOp::Or, zero, is_pos_inf);
        let result = b.select(itself, a, finite);
        let qnan = canonical_nan(b, fmt);
        b.select(nan, qnan, result)
    })
}
