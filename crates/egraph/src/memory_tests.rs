//! Unit tests of redundant bounds-check elimination, per-memory load CSE
//! and store-to-load forwarding: what is removed, what must stay (a write
//! to the same memory, a size change, a call, a non-dominating access),
//! the switches and the statistics.

use crate::tests::{count, func, opt, opt_with};
use crate::*;
use bulkhead_ir::{Block, FuncIdx, FunctionBuilder, LoadKind, MemIdx, StoreKind, Type};

const M0: MemIdx = MemIdx(0);
const M1: MemIdx = MemIdx(1);

/// `bounds_check; load` at `x + offset` of memory `mem`, as the frontend
/// emits a checked wasm load.
fn checked_load(b: &mut FunctionBuilder, mem: MemIdx, kind: LoadKind, x: Value, offset: u32) -> Value {
    b.bounds_check(mem, x, offset as u64 + kind.width() as u64);
    let addr = b.mem_addr(mem, x);
    b.load(kind, addr, offset)
}

fn checked_store(b: &mut FunctionBuilder, mem: MemIdx, kind: StoreKind, x: Value, v: Value, offset: u32) {
    b.bounds_check(mem, x, offset as u64 + kind.width() as u64);
    let addr = b.mem_addr(mem, x);
    b.store(kind, addr, v, offset);
}

fn no_memory_rules() -> EgraphOptions {
    EgraphOptions { bounds_checks: false, loads: false, ..EgraphOptions::default() }
}

/// Two loads of memory 0 at the same place with a store to memory 1 in
/// between, then `between` (a closure adding what else sits in between).
fn reload_across(between: impl FnOnce(&mut FunctionBuilder, Value)) -> Function {
    func(&[Type::I32, Type::I32], &[Type::I32], |b, _, a| {
        let (x, y) = (a[0], a[1]);
        let first = checked_load(b, M0, LoadKind::I32, x, 8);
        checked_store(b, M1, StoreKind::I32, x, y, 8);
        between(b, x);
        let second = checked_load(b, M0, LoadKind::I32, x, 8);
        let sum = b.binary(bulkhead_ir::BinaryOp::Add, first, second);
        b.ret(&[sum]);
    })
}

#[test]
fn a_store_to_another_memory_does_not_invalidate_a_load() {
    let f = reload_across(|_, _| {});
    let (g, stats) = opt(&f);
    let text = g.to_string();
    assert_eq!(count(&text, "load.0.i32"), 1, "{text}");
    assert_eq!(count(&text, "store.1.i32"), 1, "{text}");
    // One check per memory is left; the second check of memory 0 is implied.
    assert_eq!(count(&text, "bounds_check.0"), 1, "{text}");
    assert_eq!(count(&text, "bounds_check.1"), 1, "{text}");
    assert_eq!((stats.loads_merged, stats.loads_forwarded), (1, 0), "{stats}");
    assert_eq!((stats.bounds_checks_kept, stats.bounds_checks_removed), (2, 1), "{stats}");
    assert_eq!(stats.rewrites["load-cse"], 1);
    assert_eq!(stats.rewrites["bounds-check-dominated"], 1);
    // The two loads are one value now: `first + second` is `v + v`.
    assert!(
        text.lines().any(|l| l.contains("iadd") && {
            let ops: Vec<&str> = l.split("iadd").nth(1).unwrap().split(',').map(str::trim).collect();
            ops.len() == 2 && ops[0] == ops[1]
        }),
        "{text}"
    );
}

#[test]
fn writes_to_the_same_memory_and_calls_keep_the_reload() {
    type Between = Box<dyn Fn(&mut FunctionBuilder, Value)>;
    let cases: Vec<(&str, Between)> = vec![
        ("store to memory 0", Box::new(|b, x| checked_store(b, M0, StoreKind::I32_8, x, x, 100))),
        (
            "call",
            Box::new(|b, x| {
                b.call(FuncIdx(3), &[x], &[]);
            }),
        ),
        (
            "fill of memory 0",
            Box::new(|b, x| {
                let base = b.mem_base(M0);
                b.memory_fill(M0, base, x, x);
            }),
        ),
        (
            "copy into memory 0",
            Box::new(|b, x| {
                let (d, s) = (b.mem_base(M0), b.mem_base(M1));
                b.memory_copy(M0, M1, d, s, x);
            }),
        ),
    ];
    for (what, between) in cases {
        let f = reload_across(between);
        let (g, stats) = opt(&f);
        assert_eq!(count(&g.to_string(), "load.0.i32"), 2, "{what}:\n{g}");
        assert_eq!(stats.loads_merged, 0, "{what}: {stats}");
    }
    // A copy *out of* memory 0 into memory 1 reads memory 0 only.
    let f = reload_across(|b, x| {
        let (d, s) = (b.mem_base(M1), b.mem_base(M0));
        b.memory_copy(M1, M0, d, s, x);
    });
    let (g, _) = opt(&f);
    assert_eq!(count(&g.to_string(), "load.0.i32"), 1, "{g}");
}

#[test]
fn size_changes_and_calls_keep_later_checks() {
    for size_change in [true, false] {
        let f = func(&[Type::I32], &[Type::I32, Type::I32], |b, _, a| {
            let x = a[0];
            let first = checked_load(b, M0, LoadKind::I32, x, 0);
            if size_change {
                b.mem_set_size(M0, x);
            } else {
                b.call(FuncIdx(0), &[], &[]);
            }
            let second = checked_load(b, M0, LoadKind::I32_8U, x, 0);
            b.ret(&[first, second]);
        });
        let (g, stats) = opt(&f);
        assert_eq!(count(&g.to_string(), "bounds_check.0"), 2, "{g}");
        assert_eq!((stats.bounds_checks_kept, stats.bounds_checks_removed), (2, 0), "{stats}");
    }
    // A size change of another memory does not matter.
    let f = func(&[Type::I32], &[Type::I32, Type::I32], |b, _, a| {
        let x = a[0];
        let first = checked_load(b, M0, LoadKind::I32, x, 0);
        b.mem_set_size(M1, x);
        let second = checked_load(b, M0, LoadKind::I32_8U, x, 0);
        b.ret(&[first, second]);
    });
    let (g, _) = opt(&f);
    assert_eq!(count(&g.to_string(), "bounds_check.0"), 1, "{g}");
}

#[test]
fn a_check_needs_a_dominating_check_with_a_larger_end() {
    let f = func(&[Type::I32], &[Type::I32, Type::I32, Type::I32], |b, _, a| {
        let x = a[0];
        let narrow = checked_load(b, M0, LoadKind::I32_8U, x, 0); // end 1
        let wide = checked_load(b, M0, LoadKind::I32, x, 0); // end 4: kept
        let narrow_again = checked_load(b, M0, LoadKind::I32_16U, x, 2); // end 4: removed
        b.ret(&[narrow, wide, narrow_again]);
    });
    let (g, stats) = opt(&f);
    let text = g.to_string();
    assert!(text.contains("bounds_check.0 v0, 1") && text.contains("bounds_check.0 v0, 4"), "{text}");
    assert_eq!((stats.bounds_checks_kept, stats.bounds_checks_removed), (2, 1), "{stats}");
    let (g, stats) = opt_with(&f, &no_memory_rules());
    assert_eq!(count(&g.to_string(), "bounds_check"), 3, "{g}");
    assert_eq!((stats.bounds_checks_kept, stats.bounds_checks_removed), (3, 0), "{stats}");
    assert!(!stats.rewrites.contains_key("bounds-check-dominated"), "{stats}");
}

#[test]
fn checks_in_one_arm_do_not_cover_the_join() {
    // if c { check x } ; check x: the first does not dominate the second.
    let f = func(&[Type::I32, Type::I32], &[Type::I32], |b, _, a| {
        let (x, c) = (a[0], a[1]);
        let then = b.create_block();
        let join = b.create_block();
        b.brif(c, then, &[], join, &[]);
        b.switch_to_block(then);
        checked_store(b, M0, StoreKind::I32, x, c, 0);
        b.jump(join, &[]);
        b.switch_to_block(join);
        let v = checked_load(b, M0, LoadKind::I32, x, 0);
        b.ret(&[v]);
    });
    let (g, stats) = opt(&f);
    assert_eq!(count(&g.to_string(), "bounds_check.0"), 2, "{g}");
    assert_eq!(count(&g.to_string(), "load.0"), 1, "{g}");
    assert_eq!(stats.loads_forwarded + stats.loads_merged + stats.bounds_checks_removed, 0, "{stats}");
}

/// A load before a loop and the same load inside it; the loop body stores
/// to `store_mem`.
fn loop_reload(store_mem: MemIdx) -> Function {
    func(&[Type::I32, Type::I32], &[Type::I32], |b, _, a| {
        let (x, n) = (a[0], a[1]);
        let before = checked_load(b, M0, LoadKind::I32, x, 0);
        let header = b.create_block();
        let body = b.create_block();
        let exit = b.create_block();
        let i = b.append_block_param(header, Type::I32);
        let acc = b.append_block_param(header, Type::I32);
        b.jump(header, &[n, before]);
        b.switch_to_block(header);
        b.brif(i, body, &[], exit, &[]);
        b.switch_to_block(body);
        let inside = checked_load(b, M0, LoadKind::I32, x, 0);
        checked_store(b, store_mem, StoreKind::I32, i, inside, 0);
        let sum = b.binary(bulkhead_ir::BinaryOp::Add, acc, inside);
        let one = b.iconst(Type::I32, 1);
        let next = b.binary(bulkhead_ir::BinaryOp::Sub, i, one);
        b.jump(header, &[next, sum]);
        b.switch_to_block(exit);
        b.ret(&[acc]);
    })
}

#[test]
fn a_loop_storing_to_another_memory_reuses_the_value_loaded_before_it() {
    let (g, stats) = opt(&loop_reload(M1));
    assert_eq!(count(&g.to_string(), "load.0"), 1, "{g}");
    assert_eq!(count(&g.to_string(), "bounds_check.0"), 1, "{g}");
    assert_eq!(stats.loads_merged, 1, "{stats}");
    // Storing to memory 0 in the loop: the load inside stays (its check is
    // still implied: the size did not change).
    let (g, stats) = opt(&loop_reload(M0));
    let text = g.to_string();
    assert_eq!(count(&text, "load.0"), 2, "{text}");
    assert_eq!(stats.loads_merged, 0, "{stats}");
    assert_eq!(count(&text, "bounds_check.0 v0"), 1, "{text}");
}

#[test]
fn stores_forward_to_loads_of_the_same_width() {
    let f = func(
        &[Type::I32, Type::I32, Type::I64],
        &[Type::I32, Type::I32, Type::I32, Type::F32, Type::I64],
        |b, _, a| {
            let (x, y, z) = (a[0], a[1], a[2]);
            checked_store(b, M0, StoreKind::I32, x, y, 0);
            checked_store(b, M1, StoreKind::I32_8, x, y, 0); // another memory
            let same = checked_load(b, M0, LoadKind::I32, x, 0);
            let as_float = checked_load(b, M0, LoadKind::F32, x, 0);
            checked_store(b, M1, StoreKind::I32_16, y, y, 6);
            let low = checked_load(b, M1, LoadKind::I32_16S, y, 6);
            checked_store(b, M1, StoreKind::I64_8, y, z, 9);
            let byte = checked_load(b, M1, LoadKind::I64_8U, y, 9);
            // A load at another offset is not the stored value.
            let other = checked_load(b, M1, LoadKind::I32_8U, y, 10);
            b.ret(&[same, low, other, as_float, byte]);
        },
    );
    let (g, stats) = opt(&f);
    let text = g.to_string();
    assert_eq!(stats.loads_forwarded, 4, "{stats}\n{text}");
    assert_eq!(count(&text, "load."), 1, "{text}");
    assert!(text.contains("bitcast") && text.contains("sextend16") && text.contains("band"), "{text}");
    // The interpreter agrees (here, with everything in bounds).
    use bulkhead_ir::interp::{self, Memories, NoCalls, State, Val};
    let run = |h: &Function| {
        let mut state = State { memories: Memories::new(&[(64, 64), (64, 64)]), ..State::default() };
        let r = interp::run(
            h,
            &[Val::I32(4), Val::I32(0xfedc_ba98), Val::I64(0x1234_5678_9abc_def0)],
            &mut state,
            &mut NoCalls,
            1000,
        );
        (r, state)
    };
    assert_eq!(run(&f), run(&g));
    // A store of another width is not forwarded.
    let f = func(&[Type::I32], &[Type::I32], |b, _, a| {
        checked_store(b, M0, StoreKind::I32_16, a[0], a[0], 0);
        let v = checked_load(b, M0, LoadKind::I32, a[0], 0);
        b.ret(&[v]);
    });
    let (g, stats) = opt(&f);
    assert_eq!((stats.loads_forwarded, count(&g.to_string(), "load.0")), (0, 1), "{g}");
}

#[test]
fn constant_indices_below_a_proven_or_given_size_are_not_checked() {
    let body = |b: &mut FunctionBuilder, _: Block, a: &[Value]| {
        let x = a[0];
        let _ = checked_load(b, M0, LoadKind::I32, x, 28); // proves size >= 32
        let c = b.iconst(Type::I32, 24);
        let in_range = checked_load(b, M0, LoadKind::I64, c, 0); // 24 + 8 <= 32
        let c2 = b.iconst(Type::I32, 30);
        let beyond = checked_load(b, M1, LoadKind::I32, c2, 0); // memory 1: nothing known
        b.ret(&[in_range, beyond]);
    };
    let f = func(&[Type::I32], &[Type::I64, Type::I32], body);
    let (g, stats) = opt(&f);
    assert_eq!((stats.bounds_checks_kept, stats.bounds_checks_removed), (2, 1), "{stats}\n{g}");
    // Given minimum sizes: memory 1 has at least 64 bytes.
    let opts = EgraphOptions { memory_min_bytes: vec![0, 64], ..EgraphOptions::default() };
    let (g, stats) = opt_with(&f, &opts);
    assert_eq!((stats.bounds_checks_kept, stats.bounds_checks_removed), (1, 2), "{stats}\n{g}");
    assert_eq!(stats.rewrites["bounds-check-below-min"], 1, "{stats}");
    // 30 + 4 > 32: a minimum of 32 bytes is not enough.
    let opts = EgraphOptions { memory_min_bytes: vec![0, 32], ..EgraphOptions::default() };
    let (_, stats) = opt_with(&f, &opts);
    assert_eq!(stats.bounds_checks_kept, 2, "{stats}");
    // A function that sets memory 1's size (like `instantiate`) cannot rely
    // on the minimum.
    let f = func(&[Type::I32], &[Type::I32], |b, _, a| {
        let c = b.iconst(Type::I32, 0);
        let v = checked_load(b, M1, LoadKind::I32, c, 0);
        b.mem_set_size(M1, a[0]);
        b.ret(&[v]);
    });
    let opts = EgraphOptions { memory_min_bytes: vec![64, 64], ..EgraphOptions::default() };
    let (g, stats) = opt_with(&f, &opts);
    assert_eq!(count(&g.to_string(), "bounds_check.1"), 1, "{stats}\n{g}");
}

#[test]
fn dynamic_checks_are_implied_by_identical_or_constant_ones() {
    let f = func(&[Type::I32, Type::I32], &[], |b, _, a| {
        let (d, n) = (a[0], a[1]);
        b.bounds_check_dyn(M0, d, n);
        b.bounds_check_dyn(M0, d, n); // identical: removed
        let eight = b.iconst(Type::I32, 8);
        b.bounds_check_dyn(M0, d, eight);
        b.bounds_check(M0, d, 4); // implied by the constant-length one
        b.ret(&[]);
    });
    let (g, stats) = opt(&f);
    assert_eq!((stats.bounds_checks_kept, stats.bounds_checks_removed), (2, 2), "{stats}\n{g}");
}

#[test]
fn base_materializations_are_counted_per_memory() {
    let f = reload_across(|_, _| {});
    let (_, stats) = opt(&f);
    assert_eq!(stats.base_materializations, BTreeMap::from([(0, 1), (1, 1)]), "{stats}");
    let shown = stats.to_string();
    assert!(shown.contains("bounds checks 2 kept, 1 removed; loads 0 forwarded, 1 merged"), "{shown}");
    assert!(shown.contains("bases: memory 0 x1, memory 1 x1"), "{shown}");
}

#[test]
fn memory_rules_can_be_switched_off() {
    let f = reload_across(|_, _| {});
    let (g, stats) = opt_with(&f, &EgraphOptions { loads: false, ..EgraphOptions::default() });
    assert_eq!(count(&g.to_string(), "load.0"), 2, "{g}");
    assert_eq!(count(&g.to_string(), "bounds_check.0"), 1, "{g}");
    assert!(!stats.rewrites.contains_key("load-cse"));
    let (g, stats) = opt_with(&f, &EgraphOptions { bounds_checks: false, ..EgraphOptions::default() });
    assert_eq!(count(&g.to_string(), "load.0"), 1, "{g}");
    assert_eq!(count(&g.to_string(), "bounds_check.0"), 2, "{g}");
    assert_eq!(stats.bounds_checks_removed, 0);
    assert!(rule_names().contains(&"store-to-load"));
}

#[test]
fn a_store_in_one_arm_of_a_diamond_invalidates_loads_after_the_join() {
    // load x; if c { store x } else { }; load x  — and the arms swapped.
    for store_in_then in [true, false] {
        let f = func(&[Type::I32, Type::I32], &[Type::I32, Type::I32], |b, _, a| {
            let (x, c) = (a[0], a[1]);
            let before = checked_load(b, M0, LoadKind::I32, x, 0);
            let then = b.create_block();
            let els = b.create_block();
            let join = b.create_block();
            b.brif(c, then, &[], els, &[]);
            for (arm, stores) in [(then, store_in_then), (els, !store_in_then)] {
                b.switch_to_block(arm);
                if stores {
                    checked_store(b, M0, StoreKind::I32, x, c, 0);
                } else {
                    checked_store(b, M1, StoreKind::I32, x, c, 0);
                }
                b.jump(join, &[]);
            }
            b.switch_to_block(join);
            let after = checked_load(b, M0, LoadKind::I32, x, 0);
            b.ret(&[before, after]);
        });
        let (g, stats) = opt(&f);
        assert_eq!(count(&g.to_string(), "load.0"), 2, "{g}");
        assert_eq!(stats.loads_merged + stats.loads_forwarded, 0, "{stats}");
        // The check after the join is still implied (no size change).
        assert_eq!(count(&g.to_string(), "bounds_check.0"), 1, "{g}");
    }
}

#[test]
fn a_check_of_x_plus_c_is_implied_by_a_wider_check_of_x() {
    // check x, 12 proves x + 12 <= size: x + 4 (no wrap) up to 8 is inside;
    // up to 9 it is not. A check of x + 4 says nothing about x.
    let f = func(&[Type::I32], &[Type::I64, Type::I32, Type::I32, Type::I32, Type::I32], |b, _, a| {
        let x = a[0];
        let wide = checked_load(b, M0, LoadKind::I64, x, 4); // end 12
        let four = b.iconst(Type::I32, 4);
        let y = b.binary(bulkhead_ir::BinaryOp::Add, x, four);
        let inside = checked_load(b, M0, LoadKind::I32, y, 4); // end 8: removed
        let beyond = checked_load(b, M0, LoadKind::I32_8U, y, 8); // end 9: kept
        let z = b.binary(bulkhead_ir::BinaryOp::Add, four, x);
        let lo = checked_load(b, M1, LoadKind::I32, z, 0); // memory 1: kept
        let again = checked_load(b, M1, LoadKind::I32_8U, x, 0); // not implied by x + 4
        b.ret(&[wide, inside, beyond, lo, again]);
    });
    let (g, stats) = opt(&f);
    assert_eq!((stats.bounds_checks_kept, stats.bounds_checks_removed), (4, 1), "{stats}\n{g}");
}
