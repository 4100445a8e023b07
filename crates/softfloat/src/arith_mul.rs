//! Multiplication.

use super::{build_routine, product_operands, special_product};
use crate::pack::{normalize_round_pack, Format, IrExt};
use bulkhead_ir::{BinaryOp, ConvertOp, Function, FunctionBuilder, IntCC, Type, Value};

/// `name(a, b) -> a × b`.
///
/// Both significands are normalized (leading one at bit `W - 2`, so
/// subnormal operands are exact too) and multiplied into their full
/// `2W`-bit product; [`normalize_round_pack`] rounds it once. The product
/// of values `sa × 2^(ea - bias - (W-2))` and `sb × 2^(eb - bias - (W-2))`
/// is `P × 2^((ea + eb - bias - (W-2)) - bias - (W-2))`, so the exponent
/// handed on is `ea + eb - bias - (W-2)`, plus the bits dropped from `P`.
pub(super) fn build(name: &str, fmt: Format) -> Function {
    build_routine(name, fmt, 2, |b, args| {
        let (x, y) = (args[0], args[1]);
        let (sign, [(exp_x, sig_x), (exp_y, sig_y)]) = product_operands(b, fmt, x, y);
        let (product, dropped) = wide_product(b, fmt, sig_x, sig_y);
        let exp = b.binary(BinaryOp::Add, exp_x, exp_y);
        let adjust = dropped as i64 - fmt.bias as i64 - (fmt.width() as i64 - 2);
        let exp = b.op_k(BinaryOp::Add, exp, adjust as u64);
        let finite = normalize_round_pack(b, fmt, sign, exp, product);

        special_product(b, fmt, sign, [x, y], false, finite)
    })
}

/// The product of two `W`-bit unsigned significands, as a value for
/// [`normalize_round_pack`] and the number of low bits dropped from it:
/// f32's 64-bit product is returned whole (an i64, dropped 0); f64's
/// 128-bit product is returned as its high 64 bits with the low 64 jammed
/// into bit 0 (dropped 64).
fn wide_product(b: &mut FunctionBuilder, fmt: Format, x: Value, y: Value) -> (Value, u32) {
    match fmt.ty {
        Type::I32 => {
            let x = b.to_type(x, Type::I64);
            let y = b.to_type(y, Type::I64);
            (b.binary(BinaryOp::Mul, x, y), 0)
        }
        _ => {
            let (hi, lo_nonzero) = mul_64x64(b, x, y);
            let sticky = b.convert(ConvertOp::UExtend, Type::I64, lo_nonzero);
            (b.binary(BinaryOp::Or, hi, sticky), 64)
        }
    }
}

/// The 128-bit product of two i64 values taken as unsigned: its high 64
/// bits and whether its low 64 bits are nonzero (i32 0 or 1). Built from
/// four 32×32→64 partial products (the IR has no multiply-high).
fn mul_64x64(b: &mut FunctionBuilder, x: Value, y: Value) -> (Value, Value) {
    let (x_lo, x_hi) = halves(b, x);
    let (y_lo, y_hi) = halves(b, y);
    let ll = b.binary(BinaryOp::Mul, x_lo, y_lo);
    let lh = b.binary(BinaryOp::Mul, x_lo, y_hi);
    let hl = b.binary(BinaryOp::Mul, x_hi, y_lo);
    let hh = b.binary(BinaryOp::Mul, x_hi, y_hi);
    let (ll_lo, ll_hi) = halves(b, ll);
    let (lh_lo, lh_hi) = halves(b, lh);
    let (hl_lo, hl_hi) = halves(b, hl);
    // Bits 32..95 gather the middle terms and ll's carry-in; each summand
    // is below 2^32, so the 64-bit sum cannot overflow.
    let mid = b.binary(BinaryOp::Add, ll_hi, lh_lo);
    let mid = b.binary(BinaryOp::Add, mid, hl_lo);
    let (mid_lo, mid_hi) = halves(b, mid);
    let hi = b.binary(BinaryOp::Add, hh, lh_hi);
    let hi = b.binary(BinaryOp::Add, hi, hl_hi);
    let hi = b.binary(BinaryOp::Add, hi, mid_hi);
    // The low 64 bits are mid_lo:ll_lo.
    let lo = b.binary(BinaryOp::Or, ll_lo, mid_lo);
    let lo_nonzero = b.cmp_k(IntCC::Ne, lo, 0);
    (hi, lo_nonzero)
}

/// The low and high 32 bits of an i64, each as an i64.
fn halves(b: &mut FunctionBuilder, x: Value) -> (Value, Value) {
    let lo = b.op_k(BinaryOp::And, x, 0xffff_ffff);
    let hi = b.op_k(BinaryOp::ShrU, x, 32);
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::mul_64x64;
    use bulkhead_ir::interp::{self, NoCalls, State, Val};
    use bulkhead_ir::{FuncIdx, Function, FunctionBuilder, IntCC, Signature, Type};
    use proptest::prelude::*;

    /// `(x, y) -> (hi, lo != 0)` through the interpreter, against u128.
    fn check(f: &Function, x: u64, y: u64) {
        let out = interp::run(
            f,
            &[Val::I64(x), Val::I64(y)],
            &mut State::default(),
            &mut NoCalls,
            10_000,
        )
        .unwrap();
        let p = x as u128 * y as u128;
        assert_eq!(
            out,
            vec![Val::I64((p >> 64) as u64), Val::I32((p as u64 != 0) as u32)],
            "{x:#x} × {y:#x}"
        );
    }

    fn wrapper() -> Function {
        let sig = Signature {
            params: vec![Type::I64, Type::I64],
            results: vec![Type::I64, Type::I32],
        };
        let mut f = Function::new(FuncIdx(0), "mul_64x64", sig);
        {
            let mut b = FunctionBuilder::new(&mut f);
            let entry = b.create_block();
            b.switch_to_block(entry);
            let x = b.append_block_param(entry, Type::I64);
            let y = b.append_block_param(entry, Type::I64);
            let (hi, lo_nonzero) = mul_64x64(&mut b, x, y);
            // Keep `icmp` in the signature's i32 result type.
            let zero = b.iconst(Type::I32, 0);
            let lo_nonzero = b.icmp(IntCC::Ne, lo_nonzero, zero);
            b.ret(&[hi, lo_nonzero]);
        }
        bulkhead_ir::verify(&f).unwrap();
        f
    }

    #[test]
    fn mul_64x64_edges() {
        let f = wrapper();
        for &x in &[
            0,
            1,
            u32::MAX as u64,
            1 << 32,
            u64::MAX,
            1 << 63,
            (1 << 63) - 1,
            0x8000_0001_8000_0001,
        ] {
            for &y in &[
                0,
                1,
                u32::MAX as u64,
                1 << 32,
                u64::MAX,
                1 << 63,
                (1 << 63) - 1,
                0xffff_0000_ffff_0000,
            ] {
                check(&f, x, y);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn mul_64x64_matches_u128(x: u64, y: u64, sx in 0u32..64, sy in 0u32..64) {
            check(&wrapper(), x >> sx, y >> sy);
        }
    }
}
