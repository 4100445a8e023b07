//! Constant evaluation with exactly the IR's semantics, on raw bits.
//!
//! Every fold calls `bulkhead_ir::interp`'s evaluators, the single
//! definition of what an operation computes, so folded code cannot drift
//! from the interpreter the differential tests check it with (those tests
//! compare against wasmi, an independent implementation, at the frontend;
//! the evaluators have their own spec-value tests). Float results are the
//! evaluators' bits, NaNs canonical. Nothing here can trap: IR operations
//! are total (the wasm traps are separate instructions the e-graph never
//! folds away); an evaluator error (operands of the wrong type) folds
//! nothing.
//!
//! 32-bit values live in the low 32 bits of a `u64` with the high bits zero.

use bulkhead_ir::interp::{eval_binary, eval_convert, eval_fbinary, eval_fcmp, eval_funary, eval_icmp, eval_unary, Val};
use bulkhead_ir::{BinaryOp, ConvertOp, FloatBinaryOp, FloatCC, FloatUnaryOp, IntCC, Type, UnaryOp};

/// Number of bits of an integer or float type.
pub fn bits(ty: Type) -> u32 {
    ty.bytes() * 8
}

/// All ones in the width of `ty`.
pub fn mask(ty: Type) -> u64 {
    if bits(ty) == 64 {
        u64::MAX
    } else {
        u32::MAX as u64
    }
}

fn val(ty: Type, x: u64) -> Option<Val> {
    Val::from_bits(ty, x & mask(ty))
}

pub fn unary(op: UnaryOp, ty: Type, x: u64) -> Option<u64> {
    eval_unary(op, val(ty, x)?).ok().map(Val::bits)
}

pub fn binary(op: BinaryOp, ty: Type, a: u64, b: u64) -> Option<u64> {
    eval_binary(op, val(ty, a)?, val(ty, b)?).ok().map(Val::bits)
}

pub fn icmp(cc: IntCC, ty: Type, a: u64, b: u64) -> Option<u64> {
    eval_icmp(cc, val(ty, a)?, val(ty, b)?).ok().map(Val::bits)
}

pub fn convert(op: ConvertOp, from: Type, to: Type, x: u64) -> Option<u64> {
    eval_convert(op, to, val(from, x)?).ok().map(Val::bits)
}

pub fn funary(op: FloatUnaryOp, ty: Type, x: u64) -> Option<u64> {
    eval_funary(op, val(ty, x)?).ok().map(Val::bits)
}

pub fn fbinary(op: FloatBinaryOp, ty: Type, a: u64, b: u64) -> Option<u64> {
    eval_fbinary(op, val(ty, a)?, val(ty, b)?).ok().map(Val::bits)
}

pub fn fcmp(cc: FloatCC, ty: Type, a: u64, b: u64) -> Option<u64> {
    eval_fcmp(cc, val(ty, a)?, val(ty, b)?).ok().map(Val::bits)
}

/// Is `icmp cc x, x` true?
pub fn icmp_reflexive(cc: IntCC) -> bool {
    matches!(cc, IntCC::Eq | IntCC::LeS | IntCC::LeU | IntCC::GeS | IntCC::GeU)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values from the wasm spec suite (i32.wast, i64.wast,
    // f32.wast, f64.wast, conversions.wast) or the IR's documented total
    // division, not from the evaluators.
    #[test]
    fn integer_folds_give_spec_values() {
        // ARMv7-M SDIV: 0x80000000 / -1 = 0x80000000; the IR adopts it.
        assert_eq!(binary(BinaryOp::DivS, Type::I32, 0x8000_0000, 0xffff_ffff), Some(0x8000_0000));
        assert_eq!(binary(BinaryOp::RemS, Type::I32, 0x8000_0000, 0xffff_ffff), Some(0));
        assert_eq!(binary(BinaryOp::RemU, Type::I64, 9, 0), Some(9));
        assert_eq!(binary(BinaryOp::Rotr, Type::I32, 1, 1), Some(0x8000_0000));
        assert_eq!(binary(BinaryOp::Rotl, Type::I32, 0x8000_0000, 33), Some(1));
        assert_eq!(binary(BinaryOp::ShrS, Type::I32, 0x8000_0000, 4), Some(0xf800_0000));
        assert_eq!(binary(BinaryOp::Rotl, Type::I64, 0xabd1234ef567809c, 63), Some(0x55e891a77ab3c04e));
        assert_eq!(binary(BinaryOp::Mul, Type::I64, 0x0123456789abcdef, 0xfedcba9876543210), Some(0x2236d88fe5618cf0));
        assert_eq!(binary(BinaryOp::DivS, Type::I64, (-7i64) as u64, 2), Some((-3i64) as u64));
        assert_eq!(unary(UnaryOp::Clz, Type::I32, 0), Some(32));
        assert_eq!(unary(UnaryOp::Ctz, Type::I64, 0), Some(64));
        assert_eq!(unary(UnaryOp::Extend8S, Type::I32, 0xff), Some(0xffff_ffff));
        assert_eq!(unary(UnaryOp::Extend32S, Type::I64, 0x8000_0000), Some(0xffff_ffff_8000_0000));
        assert_eq!(unary(UnaryOp::Eqz, Type::I64, 0), Some(1));
        assert_eq!(icmp(IntCC::LtS, Type::I32, 0xffff_ffff, 0), Some(1));
        assert_eq!(icmp(IntCC::LtU, Type::I32, 0xffff_ffff, 0), Some(0));
        assert_eq!(icmp(IntCC::LtS, Type::I64, 0x8000_0000_0000_0000, 0), Some(1));
        // Operands of a type the operation does not take fold nothing.
        assert_eq!(unary(UnaryOp::Extend32S, Type::I32, 1), None);
        assert_eq!(binary(BinaryOp::Add, Type::F32, 1, 1), None);
    }

    #[test]
    fn float_folds_give_spec_bits() {
        let f32b = |x: f32| x.to_bits() as u64;
        // f32.wast: (f32.add (f32.const 0x1p-149) (f32.const 0x1p-149)) = 0x1p-148
        assert_eq!(fbinary(FloatBinaryOp::Add, Type::F32, 1, 1), Some(2));
        // f32.wast: min(-0, +0) = -0, max(-0, +0) = +0.
        assert_eq!(fbinary(FloatBinaryOp::Min, Type::F32, 0x8000_0000, 0), Some(0x8000_0000));
        assert_eq!(fbinary(FloatBinaryOp::Max, Type::F32, 0x8000_0000, 0), Some(0));
        // NaN results are canonical, whatever the operand's payload.
        assert_eq!(fbinary(FloatBinaryOp::Add, Type::F32, 0x7fa0_0000, f32b(1.0)), Some(0x7fc0_0000));
        assert_eq!(fbinary(FloatBinaryOp::Sub, Type::F64, 0xfff8_0000_0000_0001, 0), Some(0x7ff8_0000_0000_0000));
        // neg/abs/copysign keep payloads (f32.wast: neg of nan:0x200000).
        assert_eq!(funary(FloatUnaryOp::Neg, Type::F32, 0x7fa0_0000), Some(0xffa0_0000));
        assert_eq!(funary(FloatUnaryOp::Abs, Type::F64, 0xfff4_0000_0000_0000), Some(0x7ff4_0000_0000_0000));
        // f32.wast: nearest(2.5) = 2.0, nearest(-3.5) = -4.0.
        assert_eq!(funary(FloatUnaryOp::Nearest, Type::F32, f32b(2.5)), Some(f32b(2.0)));
        assert_eq!(funary(FloatUnaryOp::Nearest, Type::F32, f32b(-3.5)), Some(f32b(-4.0)));
        // fcmp: NaN is unordered; ne is true.
        assert_eq!(fcmp(FloatCC::Eq, Type::F32, 0x7fc0_0000, 0x7fc0_0000), Some(0));
        assert_eq!(fcmp(FloatCC::Ne, Type::F32, 0x7fc0_0000, 0x7fc0_0000), Some(1));
        assert_eq!(fcmp(FloatCC::Eq, Type::F64, 0x8000_0000_0000_0000, 0), Some(1));
        // conversions.wast: i32.trunc_sat_f32_s(nan) = 0, (-inf) = MIN.
        assert_eq!(convert(ConvertOp::FloatToSIntSat, Type::F32, Type::I32, 0x7fc0_0000), Some(0));
        assert_eq!(convert(ConvertOp::FloatToSIntSat, Type::F32, Type::I32, 0xff80_0000), Some(0x8000_0000));
        // conversions.wast: f32.convert_i64_u(0xffffffffffffffff) = 0x1p+64.
        assert_eq!(convert(ConvertOp::UIntToFloat, Type::I64, Type::F32, u64::MAX), Some(0x5f80_0000));
        // conversions.wast: f64.promote_f32(nan) is a NaN (canonical here).
        assert_eq!(convert(ConvertOp::FPromote, Type::F32, Type::F64, 0x7fa0_0000), Some(0x7ff8_0000_0000_0000));
        assert_eq!(convert(ConvertOp::Bitcast, Type::F32, Type::I32, 0x7fa0_0001), Some(0x7fa0_0001));
        assert_eq!(convert(ConvertOp::Wrap, Type::I64, Type::I32, 0x1_2345_6789), Some(0x2345_6789));
    }
}
