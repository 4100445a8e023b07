//! Unit tests: specific rules fire, CSE respects the memory index,
//! placement, limits and options.

use crate::*;
use bulkhead_ir::{
    BinaryOp, Block, FuncIdx, FunctionBuilder, IntCC, LoadKind, MemIdx, Signature, StoreKind, Type, UnaryOp,
};

pub(crate) fn func(
    params: &[Type],
    results: &[Type],
    body: impl FnOnce(&mut FunctionBuilder, Block, &[Value]),
) -> Function {
    let sig = Signature { params: params.to_vec(), results: results.to_vec() };
    let mut f = Function::new(FuncIdx(0), "t", sig);
    let mut b = FunctionBuilder::new(&mut f);
    let entry = b.create_block();
    let args: Vec<Value> = params.iter().map(|&t| b.append_block_param(entry, t)).collect();
    b.switch_to_block(entry);
    body(&mut b, entry, &args);
    bulkhead_ir::verify(&f).unwrap();
    f
}

pub(crate) fn opt(f: &Function) -> (Function, FunctionStats) {
    opt_with(f, &EgraphOptions::default())
}

pub(crate) fn opt_with(f: &Function, opts: &EgraphOptions) -> (Function, FunctionStats) {
    let (g, stats) = optimize(f, opts);
    if let Err(e) = bulkhead_ir::verify(&g) {
        panic!("optimized function does not verify: {e}\nbefore:\n{f}\nafter:\n{g}");
    }
    (g, stats)
}

pub(crate) fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

fn lines_of(f: &Function) -> Vec<String> {
    f.to_string().lines().map(|l| l.trim().to_string()).collect()
}

#[test]
fn constant_addition_folds_and_is_counted() {
    let f = func(&[], &[Type::I32], |b, _, _| {
        let two = b.iconst(Type::I32, 2);
        let three = b.iconst(Type::I32, 3);
        let sum = b.binary(BinaryOp::Add, two, three);
        b.ret(&[sum]);
    });
    let (g, stats) = opt(&f);
    let text = g.to_string();
    assert_eq!(lines_of(&g)[2..], ["v0 = iconst.i32 5", "return v0", "}"], "{text}");
    assert!(stats.rewrites["const-fold"] >= 1, "{stats}");
    assert_eq!((stats.insts_before, stats.insts_after), (4, 2));
}

#[test]
fn folding_uses_the_total_division_and_masked_shift_semantics() {
    let f = func(&[], &[Type::I32, Type::I32, Type::I64, Type::I32], |b, _, _| {
        let min = b.iconst(Type::I32, 0x8000_0000);
        let m1 = b.iconst(Type::I32, 0xffff_ffff);
        let zero = b.iconst(Type::I32, 0);
        let q = b.binary(BinaryOp::DivS, min, m1);
        let r = b.binary(BinaryOp::RemU, m1, zero);
        let one64 = b.iconst(Type::I64, 1);
        let sixty_five = b.iconst(Type::I64, 65);
        let s = b.binary(BinaryOp::Shl, one64, sixty_five);
        let c = b.icmp(IntCC::LtS, min, zero);
        b.ret(&[q, r, s, c]);
    });
    let (g, _) = opt(&f);
    let text = g.to_string();
    // (The printer shows i32 constants unsigned.)
    assert!(text.contains("iconst.i32 2147483648"), "{text}");
    assert!(text.contains("iconst.i32 4294967295"), "{text}");
    assert!(text.contains("iconst.i64 2"), "{text}");
    assert!(text.contains("iconst.i32 1"), "{text}");
    assert_eq!(count(&text, "iconst"), 4, "{text}");
    assert_eq!(g.num_insts_in_layout(), 5, "{text}");
}

fn three_bases() -> Function {
    func(&[Type::I32], &[Type::I32], |b, _, a| {
        let x = a[0];
        let base1 = b.mem_base(MemIdx(1));
        let p = b.addr_add(base1, x);
        let v1 = b.load(LoadKind::I32, p, 0);
        let base1_again = b.mem_base(MemIdx(1));
        let q = b.addr_add(base1_again, x);
        let v2 = b.load(LoadKind::I32, q, 4);
        let base0 = b.mem_base(MemIdx(0));
        let r = b.addr_add(base0, x);
        b.store(StoreKind::I32, r, v1, 0);
        let s = b.binary(BinaryOp::Add, v1, v2);
        b.ret(&[s]);
    })
}

#[test]
fn identical_mem_bases_merge_but_memories_stay_apart() {
    let (g, stats) = opt(&three_bases());
    let text = g.to_string();
    assert_eq!(count(&text, "mem_base.1"), 1, "{text}");
    assert_eq!(count(&text, "mem_base.0"), 1, "{text}");
    // One addr_add into memory 1 (shared by both loads), one into memory 0.
    assert_eq!(count(&text, "addr_add"), 2, "{text}");
    assert_eq!(stats.rewrites["cse"], 2, "{stats}");
    assert!(text.contains("load.1.i32 v2+0"), "{text}");
    assert!(text.contains("load.1.i32 v2+4"), "{text}");
}

#[test]
fn cse_can_be_switched_off() {
    let opts = EgraphOptions { cse: false, ..EgraphOptions::default() };
    let (g, stats) = opt_with(&three_bases(), &opts);
    let text = g.to_string();
    assert_eq!(count(&text, "mem_base.1"), 2, "{text}");
    assert!(!stats.rewrites.contains_key("cse"));
}

#[test]
fn disabled_returns_the_function_unchanged() {
    let f = three_bases();
    let opts = EgraphOptions { enabled: false, ..EgraphOptions::default() };
    let (g, stats) = optimize(&f, &opts);
    assert_eq!(g.to_string(), f.to_string());
    assert_eq!(stats.insts_before, stats.insts_after);
    assert!(stats.rewrites.is_empty());
}

#[test]
fn algebraic_identities_fire_by_name() {
    let f = func(&[Type::I32, Type::I32], &[Type::I32], |b, _, a| {
        let (x, y) = (a[0], a[1]);
        let zero = b.iconst(Type::I32, 0);
        let one = b.iconst(Type::I32, 1);
        let t1 = b.binary(BinaryOp::Add, x, zero); // x
        let t2 = b.binary(BinaryOp::Mul, one, t1); // x
        let t3 = b.binary(BinaryOp::Sub, y, y); // 0
        let t4 = b.binary(BinaryOp::Or, t2, t3); // x
        let thirty_two = b.iconst(Type::I32, 32);
        let t5 = b.binary(BinaryOp::Shl, t4, thirty_two); // x (amount mod 32)
        let t6 = b.binary(BinaryOp::Xor, t5, t5); // 0
        let t7 = b.binary(BinaryOp::Add, t5, t6); // x
        b.ret(&[t7]);
    });
    let (g, stats) = opt(&f);
    assert_eq!(lines_of(&g)[1..], ["block0(v0: i32, v1: i32):", "return v0", "}"], "{g}");
    for rule in ["add-zero", "mul-one", "sub-self", "or-zero", "shift-by-zero", "xor-self"] {
        assert!(stats.rewrites[rule] >= 1, "{rule} did not fire: {stats}");
    }
}

#[test]
fn algebraic_rules_can_be_switched_off() {
    let f = func(&[Type::I32], &[Type::I32], |b, _, a| {
        let zero = b.iconst(Type::I32, 0);
        let t = b.binary(BinaryOp::Add, a[0], zero);
        b.ret(&[t]);
    });
    let opts = EgraphOptions { algebraic: false, ..EgraphOptions::default() };
    let (g, stats) = opt_with(&f, &opts);
    assert!(g.to_string().contains("iadd"), "{g}");
    assert!(!stats.rewrites.contains_key("add-zero"));
    let (g, _) = opt(&f);
    assert!(!g.to_string().contains("iadd"), "{g}");
}

#[test]
fn eqz_of_icmp_inverts_the_condition() {
    let f = func(&[Type::I64, Type::I64], &[Type::I32], |b, _, a| {
        let c = b.icmp(IntCC::LtS, a[0], a[1]);
        let n = b.unary(UnaryOp::Eqz, c);
        b.ret(&[n]);
    });
    let (g, stats) = opt(&f);
    let text = g.to_string();
    assert!(text.contains("icmp sge v0, v1"), "{text}");
    assert!(!text.contains("eqz"), "{text}");
    assert_eq!(stats.rewrites["eqz-icmp"], 1);
}

#[test]
fn select_with_constant_condition_or_equal_arms() {
    let f = func(&[Type::I32, Type::I32], &[Type::I32, Type::I32], |b, _, a| {
        let one = b.iconst(Type::I32, 1);
        let s = b.select(one, a[0], a[1]);
        let t = b.select(a[0], a[1], a[1]);
        b.ret(&[s, t]);
    });
    let (g, stats) = opt(&f);
    assert_eq!(lines_of(&g)[2], "return v0, v1", "{g}");
    assert_eq!(stats.rewrites["select-const-cond"], 1);
    assert_eq!(stats.rewrites["select-same-arms"], 1);
}

#[test]
fn constant_address_offsets_fold_when_they_cannot_wrap() {
    let build = |c1: u64, c2: u64| {
        func(&[], &[Type::I32], move |b, _, _| {
            let base = b.mem_base(MemIdx(2));
            let k1 = b.iconst(Type::I32, c1);
            let a1 = b.addr_add(base, k1);
            let k2 = b.iconst(Type::I32, c2);
            let a2 = b.addr_add(a1, k2);
            let v = b.load(LoadKind::I32, a2, 0);
            b.ret(&[v]);
        })
    };
    let (g, stats) = opt(&build(8, 4));
    let text = g.to_string();
    assert_eq!(count(&text, "addr_add"), 1, "{text}");
    assert!(text.contains("iconst.i32 12"), "{text}");
    assert_eq!(stats.rewrites["addr-add-fold"], 1);
    // 0xffff_fff0 + 0x20 does not fit 32 bits: folding would wrap.
    let (g, stats) = opt(&build(0xffff_fff0, 0x20));
    assert_eq!(count(&g.to_string(), "addr_add"), 2, "{g}");
    assert_eq!(stats.rewrites["addr-add-fold"], 0);
}

#[test]
fn index_arithmetic_is_not_pulled_out_of_addr_add() {
    // addr_add(base, x + 4) must stay: x + 4 wraps modulo 2^32.
    let f = func(&[Type::I32], &[Type::I32], |b, _, a| {
        let four = b.iconst(Type::I32, 4);
        let i = b.binary(BinaryOp::Add, a[0], four);
        let p = b.mem_addr(MemIdx(0), i);
        let v = b.load(LoadKind::I32, p, 0);
        b.ret(&[v]);
    });
    let (g, _) = opt(&f);
    let text = g.to_string();
    assert_eq!(count(&text, "addr_add"), 1, "{text}");
    assert!(text.contains("iadd v0, v2"), "{text}");
}

/// entry(x, y) -> header(i) -> body -> header; header -> exit.
fn loop_with_invariant() -> Function {
    func(&[Type::I32, Type::I32], &[Type::I32], |b, entry, a| {
        let (x, y) = (a[0], a[1]);
        let header = b.create_block();
        let body = b.create_block();
        let exit = b.create_block();
        let i = b.append_block_param(header, Type::I32);
        let _ = entry;
        b.jump(header, &[x]);
        b.switch_to_block(header);
        b.brif(i, body, &[], exit, &[]);
        b.switch_to_block(body);
        let inv = b.binary(BinaryOp::Mul, x, y); // loop invariant
        let base = b.mem_base(MemIdx(0));
        let p = b.addr_add(base, inv);
        b.store(StoreKind::I32_8, p, i, 0);
        let one = b.iconst(Type::I32, 1);
        let next = b.binary(BinaryOp::Sub, i, one);
        b.jump(header, &[next]);
        b.switch_to_block(exit);
        b.ret(&[i]);
    })
}

#[test]
fn loop_invariant_pure_values_are_placed_before_the_loop() {
    let f = loop_with_invariant();
    let (g, _) = opt(&f);
    let entry = g.block_insts(g.entry());
    let text = g.to_string();
    let in_entry = |pred: &dyn Fn(&InstData) -> bool| entry.iter().any(|&i| pred(g.inst(i)));
    assert!(in_entry(&|d| matches!(d, InstData::Binary { op: BinaryOp::Mul, .. })), "{text}");
    assert!(in_entry(&|d| matches!(d, InstData::AddrAdd { .. })), "{text}");
    // The induction variable's update depends on the loop and stays inside,
    // with its constant operand rematerialized there, not hoisted.
    assert!(!in_entry(&|d| matches!(d, InstData::Binary { op: BinaryOp::Sub, .. })), "{text}");
    assert!(!in_entry(&|d| matches!(d, InstData::Iconst { .. })), "{text}");
}

#[test]
fn values_used_in_sibling_blocks_are_available_in_each() {
    let f = func(&[Type::I32, Type::I32], &[Type::I32], |b, _, a| {
        let t = b.binary(BinaryOp::Mul, a[0], a[1]);
        let left = b.create_block();
        let right = b.create_block();
        let join = b.create_block();
        let r = b.append_block_param(join, Type::I32);
        b.brif(a[0], left, &[], right, &[]);
        b.switch_to_block(left);
        let one = b.iconst(Type::I32, 1);
        let l = b.binary(BinaryOp::Add, t, one);
        b.jump(join, &[l]);
        b.switch_to_block(right);
        let two = b.iconst(Type::I32, 2);
        let rr = b.binary(BinaryOp::Add, t, two);
        b.jump(join, &[rr]);
        b.switch_to_block(join);
        let s = b.binary(BinaryOp::Add, r, t);
        b.ret(&[s]);
    });
    // verification (in opt) checks that every use is dominated.
    let (g, _) = opt(&f);
    assert_eq!(g.layout.len(), 4, "{g}");
    // The product is computed once, in the entry block, where both arms and
    // the join can use it (it is not used in the entry itself).
    let text = g.to_string();
    assert_eq!(count(&text, "imul"), 1, "{text}");
}

#[test]
fn unreachable_blocks_are_dropped() {
    let f = func(&[Type::I32], &[Type::I32], |b, _, a| {
        let dead = b.create_block();
        b.ret(&[a[0]]);
        b.switch_to_block(dead);
        let k = b.iconst(Type::I32, 7);
        b.ret(&[k]);
    });
    let (g, stats) = opt(&f);
    assert_eq!(g.layout.len(), 1);
    assert_eq!((stats.insts_before, stats.insts_after), (3, 1));
}

#[test]
fn skeleton_order_and_srclocs_are_kept() {
    let mut f = three_bases();
    for (n, node) in f.insts.iter_mut().enumerate() {
        node.srcloc = 100 + n as u32;
    }
    let (g, _) = opt(&f);
    let skeleton = |h: &Function| -> Vec<(String, u32)> {
        h.layout
            .iter()
            .flat_map(|&b| h.block_insts(b).iter().copied())
            .filter(|&i| !h.inst(i).is_pure())
            .map(|i| {
                let mut s = String::new();
                bulkhead_ir::print::write_inst(&mut s, h, h.inst(i)).unwrap();
                (s.split(' ').next().unwrap().to_string(), h.insts[i.index()].srcloc)
            })
            .collect()
    };
    assert_eq!(skeleton(&g), skeleton(&f));
}

#[test]
fn output_is_deterministic() {
    let f = loop_with_invariant();
    let a = opt(&f);
    let b = opt(&f);
    assert_eq!(a.0.to_string(), b.0.to_string());
    assert_eq!(a.1, b.1);
}

#[test]
fn limits_are_reported() {
    // A chain that needs several rounds: each fold enables the next.
    let f = func(&[], &[Type::I32], |b, _, _| {
        let mut v = b.iconst(Type::I32, 1);
        for _ in 0..6 {
            let k = b.iconst(Type::I32, 3);
            let s = b.binary(BinaryOp::Mul, v, k);
            let z = b.iconst(Type::I32, 0);
            v = b.binary(BinaryOp::Add, s, z);
        }
        b.ret(&[v]);
    });
    let (_, stats) = opt_with(&f, &EgraphOptions { iter_limit: 1, ..EgraphOptions::default() });
    assert!(stats.limit_hit.as_deref().unwrap_or("").contains("iteration limit"), "{stats}");
    let (_, stats) = opt_with(&f, &EgraphOptions { node_limit: 3, ..EgraphOptions::default() });
    assert!(stats.limit_hit.as_deref().unwrap_or("").contains("node limit"), "{stats}");
    let (g, stats) = opt(&f);
    assert_eq!(stats.limit_hit, None, "{stats}");
    assert!(g.to_string().contains("iconst.i32 729"), "{g}");
    let shown = stats.to_string();
    assert!(shown.contains("const-fold"), "{shown}");
    assert!(shown.starts_with("instructions 26 -> 2"), "{shown}");
}

#[test]
fn invalid_input_is_returned_unchanged_with_a_reason() {
    let mut f = three_bases();
    // Make a load use a value defined after it.
    let last_add = f.insts.iter().rposition(|n| matches!(n.data, InstData::Binary { .. })).unwrap();
    let late = f.insts[last_add].results[0];
    let first_load = f.insts.iter().position(|n| matches!(n.data, InstData::Load { .. })).unwrap();
    if let InstData::Load { addr, .. } = &mut f.insts[first_load].data {
        *addr = late;
    }
    let (g, stats) = optimize(&f, &EgraphOptions::default());
    assert_eq!(g.to_string(), f.to_string());
    assert!(stats.limit_hit.unwrap().contains("does not verify"));
}

/// Large inputs: a long dependency chain (deep expression), many loads,
/// and a wide switch whose arms all use the same constants. Guards against
/// recursion depth and quadratic behaviour.
#[test]
fn large_functions() {
    let f = func(&[Type::I32], &[Type::I32], |b, _, a| {
        let mut acc = a[0];
        for n in 0..6000u64 {
            let k = b.iconst(Type::I32, n % 7);
            acc = b.binary(if n % 3 == 0 { BinaryOp::Xor } else { BinaryOp::Add }, acc, k);
            if n % 10 == 0 {
                let mask = b.iconst(Type::I32, 0xff);
                let i = b.binary(BinaryOp::And, acc, mask);
                b.bounds_check(MemIdx((n % 3) as u32), i, 4);
                let p = b.mem_addr(MemIdx((n % 3) as u32), i);
                let v = b.load(LoadKind::I32, p, 0);
                acc = b.binary(BinaryOp::Add, acc, v);
            }
        }
        let arms: Vec<Block> = (0..400).map(|_| b.create_block()).collect();
        let exit = b.create_block();
        let r = b.append_block_param(exit, Type::I32);
        b.br_table(acc, arms[1..].to_vec(), arms[0]);
        for (n, &arm) in arms.iter().enumerate() {
            b.switch_to_block(arm);
            let k = b.iconst(Type::I32, 12345);
            let m = b.binary(BinaryOp::Mul, acc, k);
            let j = b.iconst(Type::I32, n as u64);
            let s = b.binary(BinaryOp::Add, m, j);
            b.jump(exit, &[s]);
        }
        b.switch_to_block(exit);
        b.ret(&[r]);
    });
    let start = std::time::Instant::now();
    let (g, stats) = opt(&f);
    eprintln!("large function: {stats} in {:?}", start.elapsed());
    assert!(stats.insts_after < stats.insts_before);
    assert_eq!(g.layout.len(), f.layout.len());
}

#[test]
fn float_arithmetic_and_conversions_fold_to_exact_bits() {
    use bulkhead_ir::{ConvertOp, FloatBinaryOp, FloatCC, FloatUnaryOp};
    // Expected bits from the spec suite (f32.wast, f64.wast,
    // conversions.wast), written out.
    let f = func(&[], &[Type::F32, Type::F64, Type::F32, Type::I32, Type::I64, Type::F64, Type::I32], |b, _, _| {
        let one = b.fconst(Type::F32, 0x3f80_0000);
        let half = b.fconst(Type::F32, 0x3f00_0000);
        let sum = b.fbinary(FloatBinaryOp::Add, one, half); // 1.5
        let neg_zero = b.fconst(Type::F64, 0x8000_0000_0000_0000);
        let zero = b.fconst(Type::F64, 0);
        let min = b.fbinary(FloatBinaryOp::Min, zero, neg_zero); // -0
        let payload_nan = b.fconst(Type::F32, 0x7fa0_0001);
        let nan_sum = b.fbinary(FloatBinaryOp::Mul, payload_nan, one); // canonical NaN
        let ne = b.fcmp(FloatCC::Ne, nan_sum, nan_sum); // 1
        let big = b.fconst(Type::F64, 0x43e0_0000_0000_0000); // 2^63
        let sat = b.convert(ConvertOp::FloatToSIntSat, Type::I64, big); // i64::MAX
        let two_and_half = b.fconst(Type::F64, 0x4004_0000_0000_0000);
        let nearest = b.funary(FloatUnaryOp::Nearest, two_and_half); // 2.0
        let bits = b.convert(ConvertOp::Bitcast, Type::I32, payload_nan); // payload kept
        b.ret(&[sum, min, nan_sum, ne, sat, nearest, bits]);
    });
    let (g, stats) = opt(&f);
    let text = g.to_string();
    for expected in [
        "fconst.f32 0x3fc00000",
        "fconst.f64 0x8000000000000000",
        "fconst.f32 0x7fc00000",
        "iconst.i32 1\n",
        "iconst.i64 9223372036854775807",
        "fconst.f64 0x4000000000000000",
        "iconst.i32 2141192193",
    ] {
        assert!(text.contains(expected), "missing {expected}:\n{text}");
    }
    for op in ["fadd", "fmin", "fmul", "fcmp", "float_to_sint_sat", "nearest", "bitcast"] {
        assert_eq!(count(&text, op), 0, "{op} left:\n{text}");
    }
    assert!(stats.rewrites["const-fold"] >= 7, "{stats}");
}

#[test]
fn float_folding_can_be_switched_off_and_identical_float_ops_merge() {
    use bulkhead_ir::{FloatBinaryOp, FloatUnaryOp};
    let f = func(&[Type::F64], &[Type::F64, Type::F64, Type::F32], |b, _, args| {
        let x = args[0];
        let s1 = b.funary(FloatUnaryOp::Sqrt, x);
        let s2 = b.funary(FloatUnaryOp::Sqrt, x);
        let sum = b.fbinary(FloatBinaryOp::Add, s1, s2);
        let c = b.fconst(Type::F32, 0x4000_0000);
        let d = b.fbinary(FloatBinaryOp::Div, c, c);
        b.ret(&[sum, s1, d]);
    });
    let (g, _) = opt(&f);
    let text = g.to_string();
    assert_eq!(count(&text, "sqrt"), 1, "{text}");
    assert_eq!(count(&text, "fdiv"), 0, "{text}");
    assert!(text.contains("fconst.f32 0x3f800000"), "{text}");
    let (g, _) = opt_with(&f, &EgraphOptions { const_fold: false, ..EgraphOptions::default() });
    assert_eq!(count(&g.to_string(), "fdiv"), 1, "{g}");
}

#[test]
fn i64_division_stays_guarded_and_trapping_checks_are_kept() {
    // The frontend's i64 division: trapnz (eqz y); sdiv x, y. The division
    // must stay in the skeleton after its guard; a constant NaN truncation
    // keeps its trap (trapping is not folded away).
    use bulkhead_ir::{FloatCC, TrapCode};
    let f = func(&[Type::I64, Type::I64], &[Type::I64, Type::I32], |b, _, args| {
        let is_zero = b.unary(UnaryOp::Eqz, args[1]);
        b.trapnz(is_zero, TrapCode::IntegerDivideByZero);
        let q = b.binary(BinaryOp::DivS, args[0], args[1]);
        let nan = b.fconst(Type::F32, 0x7fc0_0000);
        let ordered = b.fcmp(FloatCC::Eq, nan, nan);
        b.trapz(ordered, TrapCode::InvalidConversion);
        let z = b.iconst(Type::I32, 0);
        b.ret(&[q, z]);
    });
    let (g, _) = opt(&f);
    let lines = lines_of(&g);
    let trap = lines.iter().position(|l| l.starts_with("trapnz")).expect("division guard kept");
    let div = lines.iter().position(|l| l.contains("sdiv")).expect("division kept");
    assert!(trap < div, "{g}");
    // fcmp eq NaN, NaN folds to 0: the trap is now unconditional-by-value
    // but still there.
    assert!(g.to_string().contains("trapz"), "{g}");
}
