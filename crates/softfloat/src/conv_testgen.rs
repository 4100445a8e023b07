//! Test inputs for the conversion routines: special values and proptest
//! strategies biased towards the places where soft-float code goes wrong
//! (zeros, infinities, NaN payloads, subnormals, halfway ties, the
//! boundaries of the integer ranges), and a checker that runs a routine on
//! the IR interpreter and compares bit-exactly.

use crate::pack::{Format, F32, F64};
use bulkhead_ir::interp::{InterpError, Val};
use bulkhead_ir::Type;
use proptest::prelude::*;
use proptest::sample::select;

pub fn prefix(fmt: Format) -> &'static str {
    if fmt.ty == Type::I32 {
        "f32"
    } else {
        "f64"
    }
}

/// The float value (for the oracle) with bits `bits` of format `fmt`.
pub fn float_val(fmt: Format, bits: u64) -> Val {
    if fmt.ty == Type::I32 {
        Val::F32(bits as u32)
    } else {
        Val::F64(bits)
    }
}

/// The integer value of type `ty` with bits `bits` (truncated to i32).
pub fn int_val(ty: Type, bits: u64) -> Val {
    if ty == Type::I32 {
        Val::I32(bits as u32)
    } else {
        Val::I64(bits)
    }
}

/// A float value's bits as the integer the routines traffic in.
pub fn as_int(v: Val) -> Val {
    match v {
        Val::F32(b) => Val::I32(b),
        Val::F64(b) => Val::I64(b),
        other => other,
    }
}

/// Runs routine `name` on `args` and fails unless it returns exactly `want`.
pub fn check(name: &str, args: &[Val], want: Val) {
    let got = crate::testutil::run(name, args);
    assert_eq!(got, want, "{name}({}) = {got}, want {want}", args.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", "));
}

/// An f32's bits as the `i32` argument or result of a routine.
pub fn f32_arg(x: f32) -> Val {
    Val::I32(x.to_bits())
}

/// An f64's bits as the `i64` argument or result of a routine.
pub fn f64_arg(x: f64) -> Val {
    Val::I64(x.to_bits())
}

/// Checks routine `name` on the float bits `x` of format `fmt` against
/// `oracle` applied to the float itself (float results compared as bits).
pub fn check_on_float(name: &str, fmt: Format, x: u64, oracle: impl FnOnce(Val) -> Result<Val, InterpError>) {
    let want = as_int(oracle(float_val(fmt, x)).unwrap_or_else(|e| panic!("oracle for {name}: {e}")));
    check(name, &[int_val(fmt.ty, x)], want);
}

/// Runs `check` on every special value of both formats.
pub fn on_all_specials(check: impl Fn(Format, u64)) {
    for fmt in [F32, F64] {
        for x in specials(fmt) {
            check(fmt, x);
        }
    }
}

fn float_bits_of(fmt: Format, x: f64) -> u64 {
    if fmt.ty == Type::I32 {
        u64::from((x as f32).to_bits())
    } else {
        x.to_bits()
    }
}

/// Values where conversions and rounding change behaviour, with both signs
/// and (as bit patterns) their neighbours one ulp up and down.
pub fn specials(fmt: Format) -> Vec<u64> {
    let two = |e: i32| 2f64.powi(e);
    let mut bases: Vec<u64> = [
        0.0,
        0.5,
        1.0,
        1.5,
        2.5,
        3.5,
        0.25,
        0.75,
        100.5,
        101.5,
        two(fmt.frac_bits as i32 - 1) + 0.5,
        two(fmt.frac_bits as i32),
        two(fmt.frac_bits as i32 + 1),
        two(31),
        two(31) - 1.0,
        two(31) + 1.0,
        two(31) + 0.5,
        two(32),
        two(32) - 1.0,
        two(63),
        two(64),
        f64::INFINITY,
    ]
    .iter()
    .map(|&x| float_bits_of(fmt, x))
    .collect();
    bases.extend([
        1,                          // smallest subnormal
        fmt.frac_mask(),            // largest subnormal
        fmt.hidden_bit(),           // smallest normal
        fmt.inf() - 1,              // largest finite
        fmt.canonical_nan(),        // quiet NaN
        fmt.inf() | 1,              // signalling NaN with payload 1
        fmt.inf() | fmt.frac_mask(), // all-ones payload
        fmt.canonical_nan() | 0x5a, // quiet NaN with payload
    ]);
    let mut out = Vec::new();
    for base in bases {
        for bits in [base.wrapping_sub(1), base, base + 1] {
            let bits = bits & (fmt.sign_mask() | fmt.mag_mask());
            out.push(bits);
            out.push(bits | fmt.sign_mask());
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Float bits of format `fmt`: uniformly random patterns, special values,
/// and values assembled from a sign, an exponent near a boundary and a
/// significand with a tie or near-tie below some bit.
pub fn float_bits(fmt: Format) -> impl Strategy<Value = u64> {
    let width_mask = fmt.sign_mask() | fmt.mag_mask();
    let (bias, mant) = (fmt.bias as u64, u64::from(fmt.frac_bits));
    let max_exp = (1u64 << fmt.exp_bits) - 1;
    let exponent = prop_oneof![
        Just(0u64),
        Just(max_exp),
        0..=max_exp,
        // Where rounding to integral works on fraction bits.
        bias - 2..=bias + mant + 1,
        // Around 2^31, 2^32, 2^63, 2^64: the integer ranges' edges.
        bias + 29..=bias + 33,
        bias + 61..=bias + 65,
        // Where a demotion to f32 lands near subnormal/overflow.
        bias.saturating_sub(152)..=bias.saturating_sub(124),
        bias + 126..=bias + 129,
    ];
    let significand = prop_oneof![
        Just(0u64),
        Just(fmt.frac_mask()),
        any::<u64>(),
        (any::<u64>(), 1..=mant, -1i64..=1).prop_map(|(r, k, d)| tie_pattern(r, k, d)),
        (0..mant).prop_map(|k| 1u64 << k),
    ];
    let assembled = (any::<bool>(), exponent, significand).prop_map(move |(neg, e, m)| {
        let sign = if neg { fmt.sign_mask() } else { 0 };
        sign | (e.min(max_exp) << mant) | (m & fmt.frac_mask())
    });
    prop_oneof![
        2 => any::<u64>().prop_map(move |x| x & width_mask),
        1 => select(specials(fmt)),
        4 => assembled,
    ]
}

/// Random high bits `r`, then bit `k-1` set and the bits below it clear:
/// exactly half a unit of bit `k`; `d` = ±1 moves one ulp off the tie.
fn tie_pattern(r: u64, k: u64, d: i64) -> u64 {
    let low = (1u64 << k) - 1;
    ((r & !low) | (1 << (k - 1))).wrapping_add(d as u64)
}

/// A value close to `x`: `x` moved by -2..=2 ulps, sometimes with the sign
/// flipped, chosen by the random `r`.
pub fn nudge(fmt: Format, x: u64, r: u64) -> u64 {
    let width_mask = fmt.sign_mask() | fmt.mag_mask();
    let moved = x.wrapping_add((r % 5).wrapping_sub(2)) & width_mask;
    if r & 0x100 != 0 {
        moved ^ fmt.sign_mask()
    } else {
        moved
    }
}

/// Integer inputs of type `ty`: special values, uniformly random ones,
/// random ones of random magnitude, and ones whose bits below a float's
/// precision are exactly (or one off) a halfway tie.
pub fn int_bits(ty: Type) -> impl Strategy<Value = u64> {
    let bits: u32 = if ty == Type::I32 { 32 } else { 64 };
    let mask = if bits == 32 { 0xffff_ffff } else { u64::MAX };
    let mut special: Vec<u64> = vec![0, 1, 2, 3, mask, mask - 1, mask >> 1, (mask >> 1) + 1, (mask >> 1) - 1];
    for p in [24u32, 25, 31, 32, 53, 54, 63] {
        if p < bits {
            let x = 1u64 << p;
            special.extend([x - 1, x, x + 1, x + 2, x + 3, x.wrapping_neg() & mask, (x.wrapping_neg() - 1) & mask]);
        }
    }
    // Both precisions' ties at the top of the range.
    for precision in [24u32, 53] {
        for lead in [bits - 2, bits - 1] {
            if precision <= lead {
                let cut = lead - precision; // the round bit
                let tie = (mask >> (bits - 1 - lead)) >> (cut + 1) << (cut + 1) | 1 << cut;
                special.extend([tie, tie - 1, tie + 1]);
            }
        }
    }
    let magnitude = (any::<u64>(), 0..bits).prop_map(move |(r, shift)| (r & mask) >> shift);
    let ties = (any::<u64>(), 1..bits, prop::sample::select(vec![24u64, 53]), -1i64..=1, any::<bool>())
        .prop_map(move |(r, lead, precision, d, neg)| {
            // Leading one at bit `lead`, and the bits below the float's
            // precision a tie (± 1).
            let top = (r | 1 << lead) & ((1u64 << lead) | ((1u64 << lead) - 1));
            let cut = u64::from(lead).saturating_sub(precision - 1);
            let x = if cut == 0 { top } else { tie_pattern(top, cut, d) };
            let x = if neg { x.wrapping_neg() } else { x };
            x & mask
        });
    prop_oneof![
        1 => select(special),
        1 => any::<u64>().prop_map(move |x| x & mask),
        1 => magnitude,
        2 => ties,
    ]
}
