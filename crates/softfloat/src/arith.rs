//! add, sub, mul, div, sqrt for f32 and f64.
//!
//! Each algorithm is written once, generic over the [`Format`], on top of
//! pack.rs: operands are unpacked into the rounding convention (leading one
//! at bit `W - 2`, guard bits below), combined exactly or with a sticky
//! bit, and rounded once by [`crate::pack::round_pack`] or
//! [`crate::pack::normalize_round_pack`]. Special operands (NaN, ±inf, ±0)
//! are decided from the bits and picked with `select` at the end; the
//! finite path is computed regardless (the IR's arithmetic is total, so
//! it is merely unused for them).
//!
//! - [`add`]: `add`/`sub` (sub = add with b's sign flipped).
//! - [`mul`]: `mul`, with the full double-width product of the
//!   significands (f64: 128 bits from 32×32→64 partial products).
//! - [`div`]: `div`; f32 by long division in four 32-bit hardware
//!   divisions (UDIV, on every ARMv7-M/ARMv8-M core), f64 by restoring
//!   shift-subtract division, one quotient bit per loop iteration (F + 3 =
//!   55 iterations).
//! - [`sqrt`]: `sqrt` bit by bit, one root bit per iteration (F + 3: 26 for
//!   f32, 55 for f64).
//!
//! The loops are select-free (a compare turned into an all-ones mask) with
//! an i32 counter: compiled for Cortex-M3 the f64 division step is about 27
//! instructions, so an f64 divide or square root costs roughly 1,500–2,000
//! cycles; add and mul are straight-line (f32_add about 150 instructions).

#[path = "arith_add.rs"]
mod add;
#[path = "arith_div.rs"]
mod div;
#[path = "arith_mul.rs"]
mod mul;
#[path = "arith_sqrt.rs"]
mod sqrt;
#[cfg(test)]
#[path = "arith_tests.rs"]
mod tests;

use crate::pack::{
    canonical_nan, is_inf, is_nan, is_zero, sign_of, signed_inf, unpack_normalized, Format, IrExt,
    F32, F64,
};
use crate::Routine;
use bulkhead_ir::{BinaryOp, FuncIdx, Function, FunctionBuilder, IntCC, Signature, Type, Value};

/// `Routine` `$name` built by `$module::build($name, args...)`.
macro_rules! routine {
    ($name:literal => $module:ident $(, $arg:expr)*) => {
        Routine { name: $name, build: || $module::build($name $(, $arg)*) }
    };
}

#[rustfmt::skip]
pub(crate) static ROUTINES: &[Routine] = &[
    routine!("f32_add" => add, F32, false),
    routine!("f32_sub" => add, F32, true),
    routine!("f32_mul" => mul, F32),
    routine!("f32_div" => div, F32),
    routine!("f32_sqrt" => sqrt, F32),
    routine!("f64_add" => add, F64, false),
    routine!("f64_sub" => add, F64, true),
    routine!("f64_mul" => mul, F64),
    routine!("f64_div" => div, F64),
    routine!("f64_sqrt" => sqrt, F64),
];

/// The index routines carry; runtime routines are not wasm functions (the
/// backend's own runtime IR uses the indices just below `u32::MAX`).
const ROUTINE_INDEX: FuncIdx = FuncIdx(u32::MAX - 2);

/// `name(x, ...) -> x` over `arity` operands of `fmt`'s integer type. `body`
/// builds from the operands (it may create blocks) and returns the result
/// value, which the block it leaves current returns.
fn build_routine(
    name: &str,
    fmt: Format,
    arity: usize,
    body: impl FnOnce(&mut FunctionBuilder, &[Value]) -> Value,
) -> Function {
    let sig = Signature {
        params: vec![fmt.ty; arity],
        results: vec![fmt.ty],
    };
    let mut f = Function::new(ROUTINE_INDEX, name, sig);
    {
        let mut b = FunctionBuilder::new(&mut f);
        let entry = b.create_block();
        b.switch_to_block(entry);
        let args: Vec<Value> = (0..arity)
            .map(|_| b.append_block_param(entry, fmt.ty))
            .collect();
        let result = body(&mut b, &args);
        b.ret(&[result]);
    }
    f
}

/// The result of `x × y` (or `x / y` when `divide`) with sign `sign` (0 or
/// the sign bit in place) and finite-path result `finite`: the canonical
/// NaN for a NaN operand or inf × 0 (inf / inf, 0 / 0), else ±infinity if
/// an operand is infinite (x infinite or y zero), else ±0 if an operand is
/// zero (x zero or y infinite), else `finite`. Division is multiplication
/// by the reciprocal, which swaps y's roles of infinity and zero.
fn special_product(
    b: &mut FunctionBuilder,
    fmt: Format,
    sign: Value,
    [x, y]: [Value; 2],
    divide: bool,
    finite: Value,
) -> Value {
    let x_nan = is_nan(b, fmt, x);
    let y_nan = is_nan(b, fmt, y);
    let x_inf = is_inf(b, fmt, x);
    let x_zero = is_zero(b, fmt, x);
    let (y_inf, y_zero) = {
        let inf = is_inf(b, fmt, y);
        let zero = is_zero(b, fmt, y);
        if divide {
            (zero, inf)
        } else {
            (inf, zero)
        }
    };
    let any_nan = b.binary(BinaryOp::Or, x_nan, y_nan);
    let inf_zero = b.binary(BinaryOp::And, x_inf, y_zero);
    let zero_inf = b.binary(BinaryOp::And, x_zero, y_inf);
    let nan = b.binary(BinaryOp::Or, any_nan, inf_zero);
    let nan = b.binary(BinaryOp::Or, nan, zero_inf);
    let to_inf = b.binary(BinaryOp::Or, x_inf, y_inf);
    let to_zero = b.binary(BinaryOp::Or, x_zero, y_zero);

    let result = b.select(to_zero, sign, finite);
    let inf = signed_inf(b, fmt, sign);
    let result = b.select(to_inf, inf, result);
    let qnan = canonical_nan(b, fmt);
    b.select(nan, qnan, result)
}

/// The sign of `x × y` (or `x / y`) and both operands normalized
/// ([`unpack_normalized`]: `(exp, sig)` with the leading one at bit
/// `W - 2`), so the significands' product or quotient has a known scale.
fn product_operands(
    b: &mut FunctionBuilder,
    fmt: Format,
    x: Value,
    y: Value,
) -> (Value, [(Value, Value); 2]) {
    let sign_x = sign_of(b, fmt, x);
    let sign_y = sign_of(b, fmt, y);
    let sign = b.binary(BinaryOp::Xor, sign_x, sign_y);
    let x = unpack_normalized(b, fmt, x);
    let y = unpack_normalized(b, fmt, y);
    (sign, [x, y])
}

/// A loop running `step` `iterations` times (at least once) on a state
/// of values (any types), from `init`; returns the final state and leaves
/// the builder in the block after the loop. The count is an i32 in a
/// register, so the state carries only what the step needs.
fn counted_loop(
    b: &mut FunctionBuilder,
    iterations: u32,
    init: &[Value],
    step: impl FnOnce(&mut FunctionBuilder, &[Value]) -> Vec<Value>,
) -> Vec<Value> {
    let types: Vec<Type> = init.iter().map(|&v| b.ty(v)).collect();
    let body = b.create_block();
    let state: Vec<Value> = types
        .iter()
        .map(|&t| b.append_block_param(body, t))
        .collect();
    let remaining = b.append_block_param(body, Type::I32);
    let done = b.create_block();
    let results: Vec<Value> = types
        .iter()
        .map(|&t| b.append_block_param(done, t))
        .collect();
    let count = b.k(Type::I32, iterations as u64);
    let mut entry_args = init.to_vec();
    entry_args.push(count);
    b.jump(body, &entry_args);

    b.switch_to_block(body);
    let next = step(b, &state);
    let remaining = b.op_k(BinaryOp::Sub, remaining, 1);
    let more = b.cmp_k(IntCC::Ne, remaining, 0);
    let mut loop_args = next.clone();
    loop_args.push(remaining);
    b.brif(more, body, &loop_args, done, &next);
    b.switch_to_block(done);
    results
}

/// All ones if `cond` (i32 0 or 1) is 1, else 0, in type `ty`: lets a
/// loop step pick `x` or 0 with an AND instead of a `select` per value.
fn mask_if(b: &mut FunctionBuilder, cond: Value, ty: Type) -> Value {
    let wide = b.to_type(cond, ty);
    let zero = b.k(ty, 0);
    b.binary(BinaryOp::Sub, zero, wide)
}
