//! Constant evaluation with exactly the IR's semantics, on raw bits.
//!
//! Written independently of `bulkhead_ir::interp` on purpose: the
//! differential tests run folded code under the interpreter, so a shared
//! implementation would hide a shared mistake.
//!
//! i32 values live in the low 32 bits of a `u64` with the high bits zero.

use bulkhead_ir::{BinaryOp, IntCC, Type, UnaryOp};

/// Number of bits of an integer type.
pub fn bits(ty: Type) -> u32 {
    if ty == Type::I64 {
        64
    } else {
        32
    }
}

/// All ones in the width of `ty`.
pub fn mask(ty: Type) -> u64 {
    if ty == Type::I64 {
        u64::MAX
    } else {
        u32::MAX as u64
    }
}

/// Sign-extends the `ty`-wide value `x` to i64.
fn signed(ty: Type, x: u64) -> i64 {
    if ty == Type::I64 {
        x as i64
    } else {
        x as u32 as i32 as i64
    }
}

pub fn unary(op: UnaryOp, ty: Type, x: u64) -> u64 {
    let w = bits(ty);
    let x = x & mask(ty);
    let r = match op {
        // Count in the type's width: the value sits in the low `w` bits.
        UnaryOp::Clz => (x.leading_zeros() - (64 - w)) as u64,
        UnaryOp::Ctz => x.trailing_zeros().min(w) as u64,
        UnaryOp::Popcnt => x.count_ones() as u64,
        UnaryOp::Eqz => return (x == 0) as u64,
        UnaryOp::Extend8S => x as u8 as i8 as i64 as u64,
        UnaryOp::Extend16S => x as u16 as i16 as i64 as u64,
        UnaryOp::Extend32S => x as u32 as i32 as i64 as u64,
    };
    r & mask(ty)
}

pub fn binary(op: BinaryOp, ty: Type, a: u64, b: u64) -> u64 {
    let m = mask(ty);
    let w = bits(ty);
    let (a, b) = (a & m, b & m);
    let (sa, sb) = (signed(ty, a), signed(ty, b));
    // The most negative value of the type, sign-extended to i64.
    let min = signed(ty, 1u64 << (w - 1));
    let amount = (b % w as u64) as u32;
    let r = match op {
        BinaryOp::Add => a.wrapping_add(b),
        BinaryOp::Sub => a.wrapping_sub(b),
        BinaryOp::Mul => a.wrapping_mul(b),
        BinaryOp::DivU => a.checked_div(b).unwrap_or(0),
        BinaryOp::RemU => a.checked_rem(b).unwrap_or(a),
        BinaryOp::DivS => match (sa, sb) {
            (_, 0) => 0,
            (x, -1) if x == min => x as u64,
            (x, y) => (x / y) as u64,
        },
        BinaryOp::RemS => match (sa, sb) {
            (x, 0) => x as u64,
            (_, -1) => 0,
            (x, y) => (x % y) as u64,
        },
        BinaryOp::And => a & b,
        BinaryOp::Or => a | b,
        BinaryOp::Xor => a ^ b,
        BinaryOp::Shl => a << amount,
        BinaryOp::ShrU => a >> amount,
        BinaryOp::ShrS => (sa >> amount) as u64,
        BinaryOp::Rotl | BinaryOp::Rotr => {
            let left = if op == BinaryOp::Rotl { amount } else { (w - amount) % w };
            if left == 0 {
                a
            } else {
                (a << left) | (a >> (w - left))
            }
        }
    };
    r & m
}

pub fn icmp(cc: IntCC, ty: Type, a: u64, b: u64) -> bool {
    let (a, b) = (a & mask(ty), b & mask(ty));
    let (sa, sb) = (signed(ty, a), signed(ty, b));
    match cc {
        IntCC::Eq => a == b,
        IntCC::Ne => a != b,
        IntCC::LtS => sa < sb,
        IntCC::LtU => a < b,
        IntCC::GtS => sa > sb,
        IntCC::GtU => a > b,
        IntCC::LeS => sa <= sb,
        IntCC::LeU => a <= b,
        IntCC::GeS => sa >= sb,
        IntCC::GeU => a >= b,
    }
}

/// Is `icmp cc x, x` true?
pub fn icmp_reflexive(cc: IntCC) -> bool {
    matches!(cc, IntCC::Eq | IntCC::LeS | IntCC::LeU | IntCC::GeS | IntCC::GeU)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulkhead_ir::interp::{eval_binary, eval_icmp, eval_unary, Val};

    const I32_SAMPLES: [u64; 12] = [0, 1, 2, 3, 5, 31, 32, 33, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff];
    const I64_SAMPLES: [u64; 12] =
        [0, 1, 2, 7, 63, 64, 65, 0x8000_0000, 0xffff_ffff, 0x7fff_ffff_ffff_ffff, 0x8000_0000_0000_0000, u64::MAX];
    const BINOPS: [BinaryOp; 15] = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::DivS,
        BinaryOp::DivU,
        BinaryOp::RemS,
        BinaryOp::RemU,
        BinaryOp::And,
        BinaryOp::Or,
        BinaryOp::Xor,
        BinaryOp::Shl,
        BinaryOp::ShrS,
        BinaryOp::ShrU,
        BinaryOp::Rotl,
        BinaryOp::Rotr,
    ];
    const UNOPS: [UnaryOp; 6] =
        [UnaryOp::Clz, UnaryOp::Ctz, UnaryOp::Popcnt, UnaryOp::Eqz, UnaryOp::Extend8S, UnaryOp::Extend16S];
    const CCS: [IntCC; 10] = [
        IntCC::Eq,
        IntCC::Ne,
        IntCC::LtS,
        IntCC::LtU,
        IntCC::GtS,
        IntCC::GtU,
        IntCC::LeS,
        IntCC::LeU,
        IntCC::GeS,
        IntCC::GeU,
    ];

    fn val(ty: Type, x: u64) -> Val {
        if ty == Type::I64 {
            Val::I64(x)
        } else {
            Val::I32(x as u32)
        }
    }

    /// Exhaustive over edge-case operands: the folder agrees with the
    /// reference interpreter on every operation.
    #[test]
    fn folding_agrees_with_the_interpreter_on_edge_cases() {
        for (ty, samples) in [(Type::I32, &I32_SAMPLES), (Type::I64, &I64_SAMPLES)] {
            for &a in samples.iter() {
                for op in UNOPS {
                    let rty = if op == UnaryOp::Eqz { Type::I32 } else { ty };
                    assert_eq!(val(rty, unary(op, ty, a)), eval_unary(op, val(ty, a)).unwrap(), "{op} {a:#x}");
                }
                for &b in samples.iter() {
                    for op in BINOPS {
                        assert_eq!(
                            val(ty, binary(op, ty, a, b)),
                            eval_binary(op, val(ty, a), val(ty, b)).unwrap(),
                            "{ty} {op} {a:#x} {b:#x}"
                        );
                    }
                    for cc in CCS {
                        assert_eq!(
                            Val::I32(icmp(cc, ty, a, b) as u32),
                            eval_icmp(cc, val(ty, a), val(ty, b)).unwrap(),
                            "{ty} {cc} {a:#x} {b:#x}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn hand_checked_values() {
        // ARMv7-M SDIV: 0x80000000 / -1 = 0x80000000; the IR adopts it.
        assert_eq!(binary(BinaryOp::DivS, Type::I32, 0x8000_0000, 0xffff_ffff), 0x8000_0000);
        assert_eq!(binary(BinaryOp::RemS, Type::I32, 0x8000_0000, 0xffff_ffff), 0);
        assert_eq!(binary(BinaryOp::RemU, Type::I64, 9, 0), 9);
        assert_eq!(binary(BinaryOp::Rotr, Type::I32, 1, 1), 0x8000_0000);
        assert_eq!(binary(BinaryOp::Rotl, Type::I32, 0x8000_0000, 33), 1);
        assert_eq!(binary(BinaryOp::ShrS, Type::I32, 0x8000_0000, 4), 0xf800_0000);
        assert_eq!(unary(UnaryOp::Clz, Type::I32, 0), 32);
        assert_eq!(unary(UnaryOp::Ctz, Type::I64, 0), 64);
        assert_eq!(unary(UnaryOp::Extend8S, Type::I32, 0xff), 0xffff_ffff);
        assert!(icmp(IntCC::LtS, Type::I32, 0xffff_ffff, 0));
        assert!(!icmp(IntCC::LtU, Type::I32, 0xffff_ffff, 0));
    }
}
