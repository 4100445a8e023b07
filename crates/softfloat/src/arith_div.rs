//! Division.

use super::{build_routine, counted_loop, mask_if, product_operands, special_product};
use crate::pack::{or_sticky, round_pack, Format, IrExt, F32};
use bulkhead_ir::{BinaryOp, Function, FunctionBuilder, IntCC, Type, Value};

/// `name(a, b) -> a / b`.
///
/// Both significands are normalized (leading one at bit `W - 2`); if
/// `sa < sb` the dividend is doubled (and the exponent lowered) so the
/// quotient lies in [1, 2). The quotient's `F + 1` significant bits and
/// two guard bits are computed exactly, and a nonzero remainder is the
/// sticky bit (a quotient is never a tie, but the sticky bit still decides
/// between "at most half" and "above half"): f32 by four 32-bit hardware
/// divisions ([`quotient_by_udiv32`]), f64 bit by bit
/// ([`quotient_by_bits`]).
///
/// The quotient of `sa × 2^(ea - …)` by `sb × 2^(eb - …)` has exponent
/// `ea - eb + bias` (minus 1 if the dividend was doubled).
pub(super) fn build(name: &str, fmt: Format) -> Function {
    build_routine(name, fmt, 2, |b, args| {
        let (x, y) = (args[0], args[1]);
        let (sign, [(exp_x, sig_x), (exp_y, sig_y)]) = product_operands(b, fmt, x, y);
        let below = b.icmp(IntCC::LtU, sig_x, sig_y);
        let doubled = b.op_k(BinaryOp::Shl, sig_x, 1);
        let dividend = b.select(below, doubled, sig_x);
        let exp = b.binary(BinaryOp::Sub, exp_x, exp_y);
        let exp = b.op_k(BinaryOp::Add, exp, fmt.bias as u64);
        let exp = b.binary(BinaryOp::Sub, exp, below);

        let sig = match fmt.ty {
            Type::I32 => quotient_by_udiv32(b, dividend, sig_y),
            _ => quotient_by_bits(b, fmt, dividend, sig_y),
        };
        let finite = round_pack(b, fmt, sign, exp, sig);

        special_product(b, fmt, sign, [x, y], true, finite)
    })
}

/// The quotient `dividend / divisor` of two significands in the rounding
/// convention (`divisor ≤ dividend < 2 divisor`, divisor's leading one at
/// bit `W - 2`), as a `sig` for `round_pack`: leading one at bit `W - 2`,
/// at least two guard bits, sticky in bit 0.
///
/// Restoring division, one quotient bit per loop iteration, shifted in
/// from the right: `F + 3` iterations (55 for f64) give the `F + 1`
/// significant bits and two guard bits, then moved up to bit `W - 2`. The
/// remainder stays below `2 × divisor < 2^W`, so it fits the type.
fn quotient_by_bits(
    b: &mut FunctionBuilder,
    fmt: Format,
    dividend: Value,
    divisor: Value,
) -> Value {
    let ty = fmt.ty;
    let zero = b.k(ty, 0);
    let last = counted_loop(b, fmt.frac_bits + 3, &[dividend, zero], |b, state| {
        let (rem, quotient) = (state[0], state[1]);
        let fits = b.icmp(IntCC::GeU, rem, divisor);
        let mask = mask_if(b, fits, ty);
        let subtrahend = b.binary(BinaryOp::And, divisor, mask);
        let rem = b.binary(BinaryOp::Sub, rem, subtrahend);
        let rem = b.op_k(BinaryOp::Shl, rem, 1);
        let digit = b.to_type(fits, ty);
        let quotient = b.op_k(BinaryOp::Shl, quotient, 1);
        let quotient = b.binary(BinaryOp::Or, quotient, digit);
        vec![rem, quotient]
    });
    let quotient = b.op_k(BinaryOp::Shl, last[1], fmt.guard_bits() as u64 - 2);
    or_sticky(b, quotient, last[0])
}

/// [`quotient_by_bits`] for f32 with the IR's 32-bit unsigned division
/// (one UDIV on every ARMv7-M/ARMv8-M core), in four chunks: with the
/// significands as 24-bit integers (`d` in [2^23, 2^24), `n` in [d, 2d)),
/// long division in radix 2^7, 2^8, 2^8, 2^3 — each partial dividend,
/// the remainder shifted left, stays below 2^32 because the remainder is
/// below `d < 2^24` (the first, `n < 2^25`, is shifted by 7) — gives
/// `floor(n × 2^26 / d)` in [2^26, 2^27): 24 significant bits and three
/// guard bits, then moved to bit 30 with the sticky bit below.
fn quotient_by_udiv32(b: &mut FunctionBuilder, dividend: Value, divisor: Value) -> Value {
    let guard = F32.guard_bits() as u64;
    let n = b.op_k(BinaryOp::ShrU, dividend, guard);
    // The IR's DivU is total, but cores with CCR.DIV_0_TRP set (the test
    // harness sets it) fault on a hardware division by zero. A zero
    // operand's divisor is 0 (its result is picked elsewhere); setting the
    // leading bit, already set in every other divisor, keeps it nonzero.
    let d = b.op_k(BinaryOp::ShrU, divisor, guard);
    let d = b.op_k(BinaryOp::Or, d, 1 << F32.frac_bits);
    let mut quotient = b.k(Type::I32, 0);
    let mut rem = n;
    for chunk in [7, 8, 8, 3] {
        let partial = b.op_k(BinaryOp::Shl, rem, chunk);
        let digit = b.binary(BinaryOp::DivU, partial, d);
        let product = b.binary(BinaryOp::Mul, digit, d);
        rem = b.binary(BinaryOp::Sub, partial, product);
        let shifted = b.op_k(BinaryOp::Shl, quotient, chunk);
        quotient = b.binary(BinaryOp::Or, shifted, digit);
    }
    let top = b.op_k(BinaryOp::Shl, quotient, 30 - 26);
    or_sticky(b, top, rem)
}
