//! Conversions, comparisons, min/max and rounding to integral.
//!
//! Every routine here works on the float's bits with integer operations,
//! mostly without branches: the cases (NaN, zero, small, large) are all
//! computed and the right one picked with `select`, because the IR's shifts
//! and arithmetic are total (shift amounts wrap modulo the width), so a
//! value computed for a case that does not apply is merely unused. Field
//! layouts and the one shared rounding step ([`crate::pack`]'s
//! `normalize_round_pack`, for int → float and f64 → f32) come from
//! pack.rs; below, `F` is a format's number of fraction bits (23 or 52).
//!
//! - [`cmp`]: `eq`/`lt`/`le` and wasm `min`/`max`, through an integer key
//!   whose signed order is the float order (with -0 < +0).
//! - [`round`]: `ceil`/`floor`/`trunc`/`nearest` by masking the fraction
//!   bits of the significand field.
//! - [`int`]: float → integer (truncating, saturating) and integer → float.
//! - [`prec`]: f32 ↔ f64.

#[path = "conv_cmp.rs"]
mod cmp;
#[path = "conv_int.rs"]
mod int;
#[path = "conv_prec.rs"]
mod prec;
#[path = "conv_round.rs"]
mod round;
#[cfg(test)]
#[path = "conv_testgen.rs"]
mod testgen;

use crate::pack::{is_nan, IrExt, F32, F64};
use crate::Routine;
use bulkhead_ir::{FuncIdx, Function, FunctionBuilder, Signature, Type, Value};

/// `Routine` for `$name`, built by `$build($name, args...)`.
macro_rules! routine {
    ($name:literal => $build:path $(, $arg:expr)*) => {
        Routine { name: $name, build: || $build($name $(, $arg)*) }
    };
}

pub(crate) static ROUTINES: &[Routine] = &[
    routine!("f32_eq" => cmp::compare, F32, cmp::Relation::Eq),
    routine!("f32_lt" => cmp::compare, F32, cmp::Relation::Lt),
    routine!("f32_le" => cmp::compare, F32, cmp::Relation::Le),
    routine!("f64_eq" => cmp::compare, F64, cmp::Relation::Eq),
    routine!("f64_lt" => cmp::compare, F64, cmp::Relation::Lt),
    routine!("f64_le" => cmp::compare, F64, cmp::Relation::Le),
    routine!("f32_min" => cmp::min_max, F32, cmp::Pick::Min),
    routine!("f32_max" => cmp::min_max, F32, cmp::Pick::Max),
    routine!("f64_min" => cmp::min_max, F64, cmp::Pick::Min),
    routine!("f64_max" => cmp::min_max, F64, cmp::Pick::Max),
    routine!("f32_ceil" => round::round_integral, F32, round::Mode::Ceil),
    routine!("f32_floor" => round::round_integral, F32, round::Mode::Floor),
    routine!("f32_trunc" => round::round_integral, F32, round::Mode::Trunc),
    routine!("f32_nearest" => round::round_integral, F32, round::Mode::Nearest),
    routine!("f64_ceil" => round::round_integral, F64, round::Mode::Ceil),
    routine!("f64_floor" => round::round_integral, F64, round::Mode::Floor),
    routine!("f64_trunc" => round::round_integral, F64, round::Mode::Trunc),
    routine!("f64_nearest" => round::round_integral, F64, round::Mode::Nearest),
    routine!("f32_to_i32_sat" => int::float_to_int_sat, F32, Type::I32, true),
    routine!("f32_to_u32_sat" => int::float_to_int_sat, F32, Type::I32, false),
    routine!("f32_to_i64_sat" => int::float_to_int_sat, F32, Type::I64, true),
    routine!("f32_to_u64_sat" => int::float_to_int_sat, F32, Type::I64, false),
    routine!("f64_to_i32_sat" => int::float_to_int_sat, F64, Type::I32, true),
    routine!("f64_to_u32_sat" => int::float_to_int_sat, F64, Type::I32, false),
    routine!("f64_to_i64_sat" => int::float_to_int_sat, F64, Type::I64, true),
    routine!("f64_to_u64_sat" => int::float_to_int_sat, F64, Type::I64, false),
    routine!("f32_from_i32" => int::int_to_float, Type::I32, true, F32),
    routine!("f32_from_u32" => int::int_to_float, Type::I32, false, F32),
    routine!("f32_from_i64" => int::int_to_float, Type::I64, true, F32),
    routine!("f32_from_u64" => int::int_to_float, Type::I64, false, F32),
    routine!("f64_from_i32" => int::int_to_float, Type::I32, true, F64),
    routine!("f64_from_u32" => int::int_to_float, Type::I32, false, F64),
    routine!("f64_from_i64" => int::int_to_float, Type::I64, true, F64),
    routine!("f64_from_u64" => int::int_to_float, Type::I64, false, F64),
    routine!("f64_promote_f32" => prec::promote),
    routine!("f32_demote_f64" => prec::demote),
];

/// The index routines carry; runtime routines are not wasm functions (the
/// backend's own runtime IR uses the indices just below `u32::MAX`).
const ROUTINE_INDEX: FuncIdx = FuncIdx(u32::MAX - 2);

/// A one-block-entry function `name(params) -> result` whose body `body`
/// builds from the parameters, returning the result value (in whatever
/// block it leaves current).
fn build_routine(
    name: &str,
    params: &[Type],
    result: Type,
    body: impl FnOnce(&mut FunctionBuilder, &[Value]) -> Value,
) -> Function {
    let sig = Signature { params: params.to_vec(), results: vec![result] };
    let mut f = Function::new(ROUTINE_INDEX, name, sig);
    {
        let mut b = FunctionBuilder::new(&mut f);
        let entry = b.create_block();
        b.switch_to_block(entry);
        let args: Vec<Value> = params.iter().map(|&t| b.append_block_param(entry, t)).collect();
        let r = body(&mut b, &args);
        b.ret(&[r]);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_routine_of_the_crate_doc_table_is_here_once() {
        let mut expected = Vec::new();
        for f in ["f32", "f64"] {
            for op in ["min", "max", "ceil", "floor", "trunc", "nearest", "eq", "lt", "le"] {
                expected.push(format!("{f}_{op}"));
            }
            for int in ["i32", "u32", "i64", "u64"] {
                expected.push(format!("{f}_from_{int}"));
                expected.push(format!("{f}_to_{int}_sat"));
            }
        }
        expected.extend(["f64_promote_f32".to_string(), "f32_demote_f64".to_string()]);
        let mut have: Vec<String> = ROUTINES.iter().map(|r| r.name.to_string()).collect();
        expected.sort();
        have.sort();
        assert_eq!(have, expected);
    }

    #[test]
    fn every_routine_verifies_and_has_the_documented_signature() {
        use Type::{I32, I64};
        for r in ROUTINES {
            let f = (r.build)();
            assert_eq!(f.name, r.name);
            bulkhead_ir::verify(&f).unwrap_or_else(|e| panic!("{} does not verify: {e}", r.name));
            let ty = |s: &str| if s.starts_with("f32") || s.ends_with("32") { I32 } else { I64 };
            // Parameter and result types follow from the name: `fN_op`
            // takes fN bits; `fN_to_T` returns T; `fN_from_T`/`_promote_`
            // `_demote_` take their source's width.
            let (params, result) = if let Some((src, dst)) = r.name.split_once("_to_") {
                (vec![ty(src)], ty(dst.trim_end_matches("_sat")))
            } else if let Some((dst, src)) = r.name.split_once("_from_") {
                (vec![ty(src)], ty(dst))
            } else if let Some((dst, src)) = r.name.split_once("_promote_").or(r.name.split_once("_demote_")) {
                (vec![ty(src)], ty(dst))
            } else {
                let op = &r.name[4..];
                let n = if matches!(op, "eq" | "lt" | "le" | "min" | "max") { 2 } else { 1 };
                let result = if matches!(op, "eq" | "lt" | "le") { I32 } else { ty(r.name) };
                (vec![ty(r.name); n], result)
            };
            assert_eq!(f.sig.params, params, "{}", r.name);
            assert_eq!(f.sig.results, vec![result], "{}", r.name);
        }
    }
}
