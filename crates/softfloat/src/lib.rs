//! Soft-float routines for targets (or precisions) without an FPU, written
//! as bulkhead IR functions that use integer operations only, so the
//! backend compiles them like any wasm function and a bulkhead image never
//! depends on libgcc's `__aeabi_*` or the embedder's libc.
//!
//! Floats travel as their bits: f32 as `i32`, f64 as `i64`. Every routine
//! follows wasm semantics exactly (round to nearest, ties to even; signed
//! zeros; subnormals — no flushing) and returns the *canonical* NaN
//! (positive, quiet, zero payload: `0x7fc0_0000` / `0x7ff8_0000_0000_0000`)
//! whenever its result is a NaN, like the IR interpreter
//! ([`bulkhead_ir::interp`]), which is the oracle in the tests.
//!
//! Routine names and signatures (the backend calls them by name through
//! `RelocTarget::Runtime`):
//!
//! | name | signature | meaning |
//! |---|---|---|
//! | `f32_add` `f32_sub` `f32_mul` `f32_div` | (i32, i32) -> i32 | arithmetic |
//! | `f64_add` `f64_sub` `f64_mul` `f64_div` | (i64, i64) -> i64 | arithmetic |
//! | `f32_sqrt` / `f64_sqrt` | (i32) -> i32 / (i64) -> i64 | correctly rounded square root |
//! | `f32_min` `f32_max` / `f64_…` | (x, x) -> x | wasm min/max: NaN if either is NaN, -0 < +0 |
//! | `f32_ceil` `f32_floor` `f32_trunc` `f32_nearest` / `f64_…` | (x) -> x | round to integral (nearest: ties to even) |
//! | `f32_eq` `f32_lt` `f32_le` / `f64_…` | (x, x) -> i32 | 1 or 0; false when unordered (ne = !eq, gt/ge swap operands) |
//! | `f32_from_i32` `f32_from_u32` `f32_from_i64` `f32_from_u64` | (i32 or i64) -> i32 | int → f32, nearest-even |
//! | `f64_from_i32` `f64_from_u32` `f64_from_i64` `f64_from_u64` | (i32 or i64) -> i64 | int → f64, nearest-even |
//! | `f32_to_i32_sat` `f32_to_u32_sat` `f32_to_i64_sat` `f32_to_u64_sat` | (i32) -> i32 or i64 | truncate, saturate, NaN → 0 |
//! | `f64_to_i32_sat` `f64_to_u32_sat` `f64_to_i64_sat` `f64_to_u64_sat` | (i64) -> i32 or i64 | truncate, saturate, NaN → 0 |
//! | `f64_promote_f32` | (i32) -> i64 | exact; NaN → canonical |
//! | `f32_demote_f64` | (i64) -> i32 | nearest-even, overflow to ±inf, NaN → canonical |
//!
//! Calling convention: the backend's, i.e. AAPCS with i64 in even/odd
//! register pairs (r0:r1, r2:r3), result in r0 or r0:r1.

use bulkhead_ir::Function;

mod arith;
mod conv;
mod pack;
#[cfg(test)]
mod testutil;

/// One routine: its runtime name and a builder of its IR.
pub struct Routine {
    pub name: &'static str,
    pub build: fn() -> Function,
}

/// Every routine, in a fixed order.
pub fn routines() -> impl Iterator<Item = &'static Routine> {
    arith::ROUTINES.iter().chain(conv::ROUTINES.iter())
}

/// The IR of the routine called `name`, if there is one.
pub fn routine(name: &str) -> Option<Function> {
    routines().find(|r| r.name == name).map(|r| (r.build)())
}
