//! Semantic tests: translate, run the IR in the reference interpreter and
//! compare every result, trap and memory byte with wasmi.

mod common;

use bulkhead_ir::TrapCode;
use bulkhead_wasm::{BoundsMode, TranslateOptions};
use common::*;

fn opts() -> TranslateOptions {
    TranslateOptions::default()
}

const INTERESTING: [u64; 12] = [
    0,
    1,
    2,
    3,
    7,
    31,
    32,
    33,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0xffff_fff9,
];

#[test]
fn i32_operators_match_wasmi() {
    let binops = [
        "add", "sub", "mul", "div_s", "div_u", "rem_s", "rem_u", "and", "or", "xor", "shl", "shr_s", "shr_u", "rotl",
        "rotr", "eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u",
    ];
    let unops = ["eqz", "clz", "ctz", "popcnt", "extend8_s", "extend16_s"];
    let mut text = String::from("(module\n");
    for op in binops {
        text += &format!("(func (export \"{op}\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.{op})\n");
    }
    for op in unops {
        text += &format!("(func (export \"{op}\") (param i32) (result i32) local.get 0 i32.{op})\n");
    }
    text += ")";
    let mut calls = Vec::new();
    for op in binops {
        for &a in &INTERESTING {
            for &b in &INTERESTING {
                calls.push((op, vec![a, b]));
            }
        }
    }
    for op in unops {
        for &a in INTERESTING.iter().chain(&[0x80, 0xff, 0x7f, 0x8000, 0xffff, 0x1234_5680]) {
            calls.push((op, vec![a]));
        }
    }
    assert_same_as_wasmi(&text, &opts(), &calls, &[]);
}

#[test]
fn division_traps_are_explicit_and_precise() {
    let text = r#"(module
        (func (export "div_s") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)
        (func (export "rem_s") (param i32 i32) (result i32) local.get 0 local.get 1 i32.rem_s)
        (func (export "div_u") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_u))"#;
    let tr = translate(text);
    let mut m = Machine::new(&tr);
    m.instantiate().unwrap();
    assert_eq!(m.call_export("div_s", &[0x8000_0000, 0xffff_ffff]), Err(Stop::Trap(TrapCode::IntegerOverflow)));
    assert_eq!(m.call_export("div_s", &[0x8000_0000, 0]), Err(Stop::Trap(TrapCode::IntegerDivideByZero)));
    assert_eq!(m.call_export("rem_s", &[0x8000_0000, 0xffff_ffff]), Ok(vec![0]));
    assert_eq!(m.call_export("rem_s", &[5, 0]), Err(Stop::Trap(TrapCode::IntegerDivideByZero)));
    assert_eq!(m.call_export("div_u", &[5, 0]), Err(Stop::Trap(TrapCode::IntegerDivideByZero)));
    assert_eq!(m.call_export("div_s", &[0xffff_fff9, 2]), Ok(vec![0xffff_fffd]));
}

#[test]
fn loops_with_locals() {
    let text = r#"(module
        (func (export "fact") (param i32) (result i32) (local i32)
            i32.const 1 local.set 1
            block
              loop
                local.get 0 i32.eqz br_if 1
                local.get 1 local.get 0 i32.mul local.set 1
                local.get 0 i32.const 1 i32.sub local.set 0
                br 0
              end
            end
            local.get 1)
        (func (export "fib") (param i32) (result i32) (local i32 i32 i32)
            i32.const 1 local.set 2
            block
              local.get 0 i32.eqz br_if 0
              loop
                local.get 1 local.get 2 i32.add local.set 3
                local.get 2 local.set 1
                local.get 3 local.set 2
                local.get 0 i32.const 1 i32.sub local.tee 0
                br_if 0
              end
            end
            local.get 1)
        (func (export "nested") (param i32 i32) (result i32) (local i32 i32 i32)
            ;; sum over i < a, j < b of (i ^ j), with an early exit when the sum passes 1000
            block $out
              loop $li
                local.get 2 local.get 0 i32.ge_u br_if $out
                i32.const 0 local.set 3
                loop $lj
                  local.get 3 local.get 1 i32.lt_u
                  if
                    local.get 4 local.get 2 local.get 3 i32.xor i32.add local.tee 4
                    i32.const 1000 i32.gt_u br_if $out
                    local.get 3 i32.const 1 i32.add local.set 3
                    br $lj
                  end
                end
                local.get 2 i32.const 1 i32.add local.set 2
                br $li
              end
            end
            local.get 4)
        (func (export "collatz") (param i32) (result i32) (local i32)
            block
              loop
                local.get 0 i32.const 1 i32.le_u br_if 1
                local.get 1 i32.const 1 i32.add local.set 1
                local.get 0 i32.const 1 i32.and
                if (result i32)
                  local.get 0 i32.const 3 i32.mul i32.const 1 i32.add
                else
                  local.get 0 i32.const 1 i32.shr_u
                end
                local.set 0
                br 0
              end
            end
            local.get 1))"#;
    let mut calls = Vec::new();
    for n in [0, 1, 2, 5, 10, 12] {
        calls.push(("fact", vec![n]));
    }
    for n in [0, 1, 2, 3, 10, 40] {
        calls.push(("fib", vec![n]));
    }
    for (a, b) in [(0, 0), (3, 4), (10, 10), (40, 40), (5, 0)] {
        calls.push(("nested", vec![a, b]));
    }
    for n in [1, 6, 27, 97] {
        calls.push(("collatz", vec![n]));
    }
    assert_same_as_wasmi(text, &opts(), &calls, &[]);
}

#[test]
fn br_table_and_multi_value_blocks() {
    let text = r#"(module
        (func (export "switch") (param i32) (result i32) (local i32)
            block $d
              block $c
                block $b
                  block $a
                    local.get 0
                    br_table $a $b $c $b $d
                  end
                  i32.const 10 local.set 1 br $d
                end
                i32.const 20 local.set 1 br $d
              end
              i32.const 30 local.set 1
            end
            local.get 1 local.get 0 i32.add)
        (func (export "table_values") (param i32) (result i32)
            block (result i32)
              block (result i32)
                i32.const 7
                local.get 0
                br_table 0 1 1
              end
              i32.const 100 i32.add
            end)
        (func $swap (param i32 i32) (result i32 i32) local.get 1 local.get 0)
        (func (export "multi") (param i32 i32) (result i32)
            local.get 0 local.get 1 call $swap i32.sub)
        (func (export "block_params") (param i32) (result i32)
            i32.const 5 local.get 0
            block (param i32 i32) (result i32) i32.add end
            i32.const 3
            loop (param i32) (result i32)
              i32.const 1 i32.sub
              local.tee 0 local.get 0 i32.const 10 i32.gt_u br_if 0
            end
            i32.add)
        (func (export "if_params") (param i32 i32) (result i32)
            local.get 1
            local.get 0
            if (param i32) (result i32) i32.const 2 i32.mul else i32.const 3 i32.add end)
        (func (export "if_no_else") (param i32) (result i32) (local i32)
            i32.const 9 local.set 1
            local.get 0 if i32.const 4 local.set 1 end
            local.get 1))"#;
    let mut calls = Vec::new();
    for n in [0, 1, 2, 3, 4, 5, 100, 0xffff_ffff] {
        calls.push(("switch", vec![n]));
        calls.push(("table_values", vec![n]));
        calls.push(("block_params", vec![n]));
        calls.push(("if_no_else", vec![n]));
        calls.push(("if_params", vec![n, 11]));
        calls.push(("multi", vec![n, 3]));
    }
    assert_same_as_wasmi(text, &opts(), &calls, &[]);
}

#[test]
fn unreachable_code_is_skipped() {
    let text = r#"(module
        (func (export "f") (param i32) (result i32)
            block (result i32)
              local.get 0
              br 0
              i32.const 1 i32.add
              block
                i64.const 3 drop
                loop unreachable end
              end
              f32.const 1 drop
            end)
        (func (export "g") (param i32) (result i32)
            local.get 0
            if (result i32)
              i32.const 1
              return
            else
              i32.const 2
            end
            i32.const 10 i32.add)
        (func (export "h") (param i32) (result i32)
            local.get 0 i32.eqz
            if unreachable end
            block unreachable end
            i32.const 0)
        (func (export "k") (result i32)
            i32.const 1
            return
            drop
            i64.const 0 i64.const 1 i64.add drop))"#;
    let calls =
        vec![("f", vec![5]), ("g", vec![0]), ("g", vec![1]), ("h", vec![0]), ("h", vec![1]), ("k", vec![])];
    assert_same_as_wasmi(text, &opts(), &calls, &[]);
}

#[test]
fn two_memories_loads_stores_and_data() {
    let text = r#"(module
        (memory $a (export "a") 1 2)
        (memory $b (export "b") 1 1)
        (data (memory $a) (i32.const 8) "\01\02\03\04\85\86\87\88")
        (data (memory $b) (i32.const 65530) "xyz")
        (func (export "copy_word") (param i32 i32)
            local.get 1 local.get 0 i32.load $a offset=0 i32.store $b offset=4)
        (func (export "loads") (param i32) (result i32)
            local.get 0 i32.load8_s $a
            local.get 0 i32.load8_u $a offset=1 i32.add
            local.get 0 i32.load16_s $a offset=2 i32.add
            local.get 0 i32.load16_u $a offset=4 i32.add
            local.get 0 i32.load $b offset=65530 i32.add)
        (func (export "stores") (param i32 i32)
            local.get 0 local.get 1 i32.store8 $b
            local.get 0 local.get 1 i32.store16 $b offset=1
            local.get 0 local.get 1 i32.store $a offset=3))"#;
    let mut calls = Vec::new();
    for (src, dst) in [(8, 0), (8, 65528), (8, 65532), (65532, 0), (65533, 0), (0xffff_fffc, 0)] {
        calls.push(("copy_word", vec![src, dst]));
    }
    for i in [0, 5, 8, 9, 12, 65531, 65532, 65535, 0xffff_ffff] {
        calls.push(("loads", vec![i]));
    }
    for (i, v) in [(100, 0xdead_beef), (65531, 0x1234_5678), (65532, 7), (65535, 1), (0x8000_0000, 1)] {
        calls.push(("stores", vec![i, v]));
    }
    assert_same_as_wasmi(text, &opts(), &calls, &["a", "b"]);
}

#[test]
fn memory_grow_and_size_with_custom_page_size() {
    let text = r#"(module
        (memory $big (export "big") 1 3)
        (memory $tiny (export "tiny") 10 100 (pagesize 1))
        (func (export "size0") (result i32) memory.size $big)
        (func (export "size1") (result i32) memory.size $tiny)
        (func (export "grow0") (param i32) (result i32) local.get 0 memory.grow $big)
        (func (export "grow1") (param i32) (result i32) local.get 0 memory.grow $tiny)
        (func (export "poke1") (param i32) (result i32)
            local.get 0 i32.const 0x5a i32.store8 $tiny
            local.get 0 i32.load8_u $tiny))"#;
    let calls = vec![
        ("size1", vec![]),
        ("poke1", vec![9]),
        ("poke1", vec![10]),
        ("grow1", vec![5]),
        ("size1", vec![]),
        ("poke1", vec![14]),
        ("poke1", vec![15]),
        ("grow1", vec![86]),
        ("grow1", vec![85]),
        ("grow1", vec![0]),
        ("grow1", vec![0xffff_ffff]),
        ("grow1", vec![0x8000_0000]),
        ("size1", vec![]),
        ("size0", vec![]),
        ("grow0", vec![3]),
        ("grow0", vec![2]),
        ("grow0", vec![0]),
        ("size0", vec![]),
        ("grow0", vec![0xffff_ffff]),
    ];
    assert_same_as_wasmi(text, &opts(), &calls, &["big", "tiny"]);
}

#[test]
fn bulk_memory_across_memories() {
    let text = r#"(module
        (memory $a (export "a") 1 1)
        (memory $b (export "b") 2 2 (pagesize 1))
        (memory $c (export "c") 0 1)
        (data $p "hello, passive")
        (data (memory $a) (i32.const 0) "0123456789")
        (func (export "fill") (param i32 i32 i32)
            local.get 0 local.get 1 local.get 2 memory.fill $a)
        (func (export "copy_within") (param i32 i32 i32)
            local.get 0 local.get 1 local.get 2 memory.copy $a $a)
        (func (export "copy_a_to_b") (param i32 i32 i32)
            local.get 0 local.get 1 local.get 2 memory.copy $b $a)
        (func (export "copy_b_to_a") (param i32 i32 i32)
            local.get 0 local.get 1 local.get 2 memory.copy $a $b)
        (func (export "init") (param i32 i32 i32)
            local.get 0 local.get 1 local.get 2 memory.init $a $p)
        (func (export "init_active") (param i32 i32 i32)
            local.get 0 local.get 1 local.get 2 memory.init $a 1)
        (func (export "fill_c") (param i32 i32 i32)
            local.get 0 local.get 1 local.get 2 memory.fill $c))"#;
    let calls = vec![
        ("fill", vec![20, 0x41, 5]),
        ("fill", vec![65530, 0x42, 6]),
        ("fill", vec![65530, 0x43, 7]),
        ("fill", vec![65536, 0x43, 0]),
        ("fill", vec![65537, 0x43, 0]),
        ("copy_within", vec![2, 0, 8]),
        ("copy_within", vec![0, 3, 8]),
        ("copy_within", vec![65530, 0, 7]),
        ("copy_a_to_b", vec![0, 0, 2]),
        ("copy_a_to_b", vec![1, 0, 2]),
        ("copy_a_to_b", vec![0, 65535, 2]),
        ("copy_b_to_a", vec![100, 0, 2]),
        ("init", vec![40, 0, 14]),
        ("init", vec![60, 7, 7]),
        ("init", vec![60, 7, 8]),
        ("init", vec![65530, 0, 7]),
        ("init", vec![0, 14, 0]),
        ("init", vec![0, 15, 0]),
        ("init_active", vec![0, 0, 0]),
        ("init_active", vec![0, 0, 1]),
        ("fill_c", vec![0, 1, 0]),
        ("fill_c", vec![0, 1, 1]),
    ];
    assert_same_as_wasmi(text, &opts(), &calls, &["a", "b", "c"]);
}

#[test]
fn globals_and_calls() {
    let text = r#"(module
        (global $counter (mut i32) (i32.const 5))
        (global $base i32 (i32.add (i32.const 40) (i32.const 2)))
        (global $derived (mut i32) (i32.mul (i32.const 7) (i32.sub (i32.const 2) (i32.const 5))))
        (func $bump (param i32) (result i32)
            global.get $counter local.get 0 i32.add global.set $counter
            global.get $counter)
        (func (export "run") (param i32) (result i32)
            local.get 0 call $bump drop
            local.get 0 call $bump
            global.get $base i32.add
            global.get $derived i32.add)
        (func (export "select") (param i32 i32 i32) (result i32)
            local.get 0 local.get 1 local.get 2 select)
        (func (export "typed_select") (param i32 i32 i32) (result i32)
            local.get 0 local.get 1 local.get 2 select (result i32)))"#;
    let calls = vec![
        ("run", vec![1]),
        ("run", vec![100]),
        ("select", vec![1, 2, 0]),
        ("select", vec![1, 2, 5]),
        ("typed_select", vec![1, 2, 0]),
        ("typed_select", vec![1, 2, 0x8000_0000]),
    ];
    assert_same_as_wasmi(text, &opts(), &calls, &[]);
}

#[test]
fn start_function_runs_after_data() {
    let text = r#"(module
        (memory (export "m") 1)
        (global $g (mut i32) (i32.const 0))
        (data (i32.const 16) "\2a")
        (func $start i32.const 0 i32.const 16 i32.load8_u i32.store8 global.get $g drop)
        (start $start)
        (func (export "peek") (result i32) i32.const 0 i32.load8_u))"#;
    assert_same_as_wasmi(text, &opts(), &[("peek", vec![])], &["m"]);
}

#[test]
fn data_segment_out_of_bounds_fails_instantiation_with_code_2() {
    for text in [
        r#"(module (memory 1) (data (i32.const 65535) "ab"))"#,
        r#"(module (memory 1) (data (i32.const -1) "a"))"#,
        r#"(module (memory 0) (data (i32.const 1) ""))"#,
        r#"(module (memory 1) (memory 1 1 (pagesize 1)) (data (memory 1) (i32.const 0) "ab"))"#,
    ] {
        let tr = translate(text);
        let mut m = Machine::new(&tr);
        assert_eq!(m.instantiate(), Ok(2), "{text}\n{}", tr.instantiate);
        let (w, _, _) = run_wasmi(&wasm(text), &[], &[]);
        assert_eq!(w, 2);
    }
    // Earlier segments stay written when a later one fails.
    let text = r#"(module (memory (export "m") 1) (data (i32.const 0) "ok") (data (i32.const 65536) "x"))"#;
    let tr = translate(text);
    let mut m = Machine::new(&tr);
    assert_eq!(m.instantiate(), Ok(2));
    assert_eq!(&m.memory(0)[..2], b"ok");
    // Zero-length segment exactly at the end is fine.
    let tr = translate(r#"(module (memory 1) (data (i32.const 65536) ""))"#);
    assert_eq!(Machine::new(&tr).instantiate(), Ok(0));
}

#[test]
fn instantiate_zeroes_the_whole_reservation_and_sets_sizes() {
    let text = r#"(module
        (memory (export "a") 1 4)
        (memory (export "b") 3 (pagesize 1))
        (data (memory 1) (i32.const 1) "\ff"))"#;
    let opts = TranslateOptions { default_memory_max: Some(100), ..Default::default() };
    let tr = translate_with(text, &opts);
    assert_eq!(tr.env.memories[0].reserved_bytes, 4 * 65536);
    assert_eq!(tr.env.memories[1].reserved_bytes, 100);
    let mut m = Machine::new(&tr);
    assert_eq!(m.instantiate(), Ok(0));
    assert_eq!(m.sizes, vec![65536, 3]);
    assert!(m.mems[0].iter().all(|&b| b == 0), "memory 0 reservation not zeroed");
    assert_eq!(m.mems[1].iter().filter(|&&b| b != 0).count(), 1);
    assert_eq!(m.memory(1), &[0, 0xff, 0]);
}

#[test]
fn bounds_mode_none_omits_checks_but_computes_the_same_in_bounds() {
    let text = r#"(module (memory 1 1)
        (func (export "f") (param i32) (result i32)
            local.get 0 i32.const 77 i32.store offset=4
            local.get 0 i32.load offset=4))"#;
    let tr = translate_with(text, &TranslateOptions { bounds: BoundsMode::None, ..Default::default() });
    let mut m = Machine::new(&tr);
    m.instantiate().unwrap();
    assert_eq!(m.call_export("f", &[100]), Ok(vec![77]));
    // Out of bounds but inside the reservation: no trap, no check.
    let tr = translate_with(text, &TranslateOptions { bounds: BoundsMode::None, ..Default::default() });
    let mut m = Machine::new(&tr);
    m.instantiate().unwrap();
    m.sizes[0] = 0;
    assert_eq!(m.call_export("f", &[100]), Ok(vec![77]));
}

#[test]
fn data_drop_empties_passive_segments_only_where_dropped() {
    let text = r#"(module
        (memory (export "m") 1 1)
        (data $kept "keep")
        (data $gone "gone!")
        (data $active (i32.const 0) "act")
        (func (export "init_kept") (param i32 i32 i32)
            local.get 0 local.get 1 local.get 2 memory.init $kept)
        (func (export "init_gone") (param i32 i32 i32)
            local.get 0 local.get 1 local.get 2 memory.init $gone)
        (func (export "init_active") (param i32 i32 i32)
            local.get 0 local.get 1 local.get 2 memory.init $active)
        (func (export "drop_gone") data.drop $gone)
        (func (export "drop_active") data.drop $active))"#;
    let calls = vec![
        ("init_gone", vec![10, 0, 5]),
        ("init_gone", vec![20, 1, 5]),
        ("drop_active", vec![]),
        ("init_active", vec![0, 0, 0]),
        ("init_active", vec![0, 0, 1]),
        ("init_kept", vec![30, 0, 4]),
        ("drop_gone", vec![]),
        ("init_gone", vec![40, 0, 1]),
        ("init_gone", vec![40, 0, 0]),
        ("drop_gone", vec![]),
        ("init_kept", vec![50, 2, 2]),
    ];
    assert_same_as_wasmi(text, &opts(), &calls, &["m"]);
    // Only the dropped passive segment needs a length global.
    let tr = translate(text);
    assert_eq!(tr.env.globals.len(), 1);
    assert_eq!(tr.env.globals[0].init, Some(bulkhead_wasm::ConstExpr::I32(5)));
    assert!(tr.env.globals[0].exports.is_empty() && tr.env.globals[0].import.is_none());
}

const INTERESTING64: [u64; 14] = [
    0,
    1,
    2,
    7,
    63,
    64,
    65,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    0xffff_ffff_ffff_fff9,
    u64::MAX,
];

#[test]
fn i64_operators_match_wasmi() {
    let binops = [
        "add", "sub", "mul", "div_s", "div_u", "rem_s", "rem_u", "and", "or", "xor", "shl", "shr_s", "shr_u", "rotl",
        "rotr",
    ];
    let cmps = ["eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u"];
    let unops = ["clz", "ctz", "popcnt", "extend8_s", "extend16_s", "extend32_s"];
    let mut text = String::from("(module\n");
    for op in binops {
        text += &format!("(func (export \"{op}\") (param i64 i64) (result i64) local.get 0 local.get 1 i64.{op})\n");
    }
    for op in cmps {
        text += &format!("(func (export \"{op}\") (param i64 i64) (result i32) local.get 0 local.get 1 i64.{op})\n");
    }
    for op in unops {
        text += &format!("(func (export \"{op}\") (param i64) (result i64) local.get 0 i64.{op})\n");
    }
    text += r#"(func (export "eqz") (param i64) (result i32) local.get 0 i64.eqz)
        (func (export "extend_s") (param i32) (result i64) local.get 0 i64.extend_i32_s)
        (func (export "extend_u") (param i32) (result i64) local.get 0 i64.extend_i32_u)
        (func (export "wrap") (param i64) (result i32) local.get 0 i32.wrap_i64))"#;
    let mut calls = Vec::new();
    for op in binops.iter().chain(&cmps) {
        for &a in &INTERESTING64 {
            for &b in &INTERESTING64 {
                calls.push((*op, vec![a, b]));
            }
        }
    }
    let unary_inputs: Vec<u64> =
        INTERESTING64.iter().copied().chain([0x80, 0xff, 0x8000, 0xffff, 0x1234_5678_9abc_def0]).collect();
    for op in unops.iter().chain(&["eqz", "wrap"]) {
        for &a in &unary_inputs {
            calls.push((*op, vec![a]));
        }
    }
    for op in ["extend_s", "extend_u"] {
        for &a in &INTERESTING {
            calls.push((op, vec![a]));
        }
    }
    assert_same_as_wasmi(&text, &opts(), &calls, &[]);
}

#[test]
fn i64_division_traps_are_explicit_and_precise() {
    let text = r#"(module
        (func (export "div_s") (param i64 i64) (result i64) local.get 0 local.get 1 i64.div_s)
        (func (export "rem_s") (param i64 i64) (result i64) local.get 0 local.get 1 i64.rem_s)
        (func (export "div_u") (param i64 i64) (result i64) local.get 0 local.get 1 i64.div_u)
        (func (export "rem_u") (param i64 i64) (result i64) local.get 0 local.get 1 i64.rem_u))"#;
    let tr = translate(text);
    let mut m = Machine::new(&tr);
    m.instantiate().unwrap();
    let min = 0x8000_0000_0000_0000;
    // i64.wast: div_s(MIN, -1) traps "integer overflow"; rem_s(MIN, -1) = 0.
    assert_eq!(m.call_export("div_s", &[min, u64::MAX]), Err(Stop::Trap(TrapCode::IntegerOverflow)));
    assert_eq!(m.call_export("rem_s", &[min, u64::MAX]), Ok(vec![0]));
    // A divisor with only high bits set is not zero.
    assert_eq!(m.call_export("div_u", &[1 << 40, 1 << 32]), Ok(vec![256]));
    for f in ["div_s", "rem_s", "div_u", "rem_u"] {
        assert_eq!(m.call_export(f, &[1, 0]), Err(Stop::Trap(TrapCode::IntegerDivideByZero)), "{f}");
    }
    // i64.wast: div_s(0x8000000000000001, 1000) = 0xffdf3b645a1cac09.
    assert_eq!(m.call_export("div_s", &[0x8000_0000_0000_0001, 1000]), Ok(vec![0xffdf_3b64_5a1c_ac09]));
}

fn f32s() -> Vec<u64> {
    [
        0.0f32, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.5, 0.49999997, 1e-45, -1e-45, 1.1754942e-38,
        3.4028235e38, -3.4028235e38, f32::INFINITY, f32::NEG_INFINITY, 2147483520.0, 2147483648.0, -2147483648.0,
        -2147483904.0, 4294967040.0, 4294967296.0, 9223371487098961920.0, 9223372036854775808.0,
        -9223372036854775808.0, -9223373136366403584.0, 18446742974197923840.0, 18446744073709551616.0, -0.99999994,
        -1.0, 123456.79, 16777217.0,
    ]
    .iter()
    .map(|x| x.to_bits() as u64)
    // A canonical NaN, a negative NaN, a NaN with a payload, a signalling NaN.
    .chain([0x7fc0_0000, 0xffc0_0000, 0x7fe0_0001, 0x7f80_0001])
    .collect()
}

fn f64s() -> Vec<u64> {
    [
        0.0f64,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        1.5,
        2.5,
        -2.5,
        0.49999999999999994,
        5e-324,
        -5e-324,
        2.2250738585072014e-308,
        1.7976931348623157e308,
        f64::INFINITY,
        f64::NEG_INFINITY,
        2147483647.0,
        2147483647.9999998,
        2147483648.0,
        -2147483648.0,
        -2147483648.9999998,
        -2147483649.0,
        4294967295.0,
        4294967296.0,
        9223372036854774784.0,
        9223372036854775808.0,
        -9223372036854775808.0,
        -9223372036854777856.0,
        18446744073709549568.0,
        18446744073709551616.0,
        -0.9999999999999999,
        4503599627370497.0,
        1e16,
        123456.789,
    ]
    .iter()
    .map(|x| x.to_bits())
    .chain([0x7ff8_0000_0000_0000, 0xfff8_0000_0000_0000, 0x7ff4_0000_0000_0001, 0x7ff0_0000_0000_0001])
    .collect()
}

#[test]
fn float_operators_match_wasmi() {
    let binops = ["add", "sub", "mul", "div", "min", "max", "copysign"];
    let cmps = ["eq", "ne", "lt", "gt", "le", "ge"];
    let unops = ["abs", "neg", "sqrt", "ceil", "floor", "trunc", "nearest"];
    let mut text = String::from("(module\n");
    for t in ["f32", "f64"] {
        for op in binops {
            text += &format!("(func (export \"{t}.{op}\") (param {t} {t}) (result {t}) local.get 0 local.get 1 {t}.{op})\n");
        }
        for op in cmps {
            text += &format!("(func (export \"{t}.{op}\") (param {t} {t}) (result i32) local.get 0 local.get 1 {t}.{op})\n");
        }
        for op in unops {
            text += &format!("(func (export \"{t}.{op}\") (param {t}) (result {t}) local.get 0 {t}.{op})\n");
        }
    }
    text += ")";
    let mut calls: Vec<(String, Vec<u64>)> = Vec::new();
    for (t, values) in [("f32", f32s()), ("f64", f64s())] {
        for op in binops.iter().chain(&cmps) {
            for &a in &values {
                for &b in &values {
                    calls.push((format!("{t}.{op}"), vec![a, b]));
                }
            }
        }
        for op in unops {
            for &a in &values {
                calls.push((format!("{t}.{op}"), vec![a]));
            }
        }
    }
    let calls: Vec<(&str, Vec<u64>)> = calls.iter().map(|(n, a)| (n.as_str(), a.clone())).collect();
    assert_same_as_wasmi(&text, &opts(), &calls, &[]);
}

#[test]
fn conversions_match_wasmi_at_every_boundary() {
    // (name, operator, param type, result type)
    let convs = [
        ("i32.trunc_f32_s", "f32", "i32"),
        ("i32.trunc_f32_u", "f32", "i32"),
        ("i32.trunc_f64_s", "f64", "i32"),
        ("i32.trunc_f64_u", "f64", "i32"),
        ("i64.trunc_f32_s", "f32", "i64"),
        ("i64.trunc_f32_u", "f32", "i64"),
        ("i64.trunc_f64_s", "f64", "i64"),
        ("i64.trunc_f64_u", "f64", "i64"),
        ("i32.trunc_sat_f32_s", "f32", "i32"),
        ("i32.trunc_sat_f32_u", "f32", "i32"),
        ("i32.trunc_sat_f64_s", "f64", "i32"),
        ("i32.trunc_sat_f64_u", "f64", "i32"),
        ("i64.trunc_sat_f32_s", "f32", "i64"),
        ("i64.trunc_sat_f32_u", "f32", "i64"),
        ("i64.trunc_sat_f64_s", "f64", "i64"),
        ("i64.trunc_sat_f64_u", "f64", "i64"),
        ("f32.demote_f64", "f64", "f32"),
        ("f64.promote_f32", "f32", "f64"),
        ("i32.reinterpret_f32", "f32", "i32"),
        ("i64.reinterpret_f64", "f64", "i64"),
        ("f32.reinterpret_i32", "i32", "f32"),
        ("f64.reinterpret_i64", "i64", "f64"),
        ("f32.convert_i32_s", "i32", "f32"),
        ("f32.convert_i32_u", "i32", "f32"),
        ("f32.convert_i64_s", "i64", "f32"),
        ("f32.convert_i64_u", "i64", "f32"),
        ("f64.convert_i32_s", "i32", "f64"),
        ("f64.convert_i32_u", "i32", "f64"),
        ("f64.convert_i64_s", "i64", "f64"),
        ("f64.convert_i64_u", "i64", "f64"),
    ];
    let mut text = String::from("(module\n");
    for (op, from, to) in convs {
        text += &format!("(func (export \"{op}\") (param {from}) (result {to}) local.get 0 {op})\n");
    }
    text += ")";
    // Neighbours of every boundary too: one ulp either side.
    let around = |v: &[u64], wide: bool| -> Vec<u64> {
        let mut out = Vec::new();
        for &x in v {
            out.push(x);
            if !is_nan(if wide { bulkhead_ir::Type::F64 } else { bulkhead_ir::Type::F32 }, x) {
                out.push(x + 1);
                if x & if wide { 0x7fff_ffff_ffff_ffff } else { 0x7fff_ffff } != 0 {
                    out.push(x - 1);
                }
            }
        }
        out
    };
    let (f32v, f64v) = (around(&f32s(), false), around(&f64s(), true));
    let i32v: Vec<u64> = INTERESTING.iter().copied().chain([16777217, 0x7fff_ff80, 0xffff_ff80]).collect();
    let i64v: Vec<u64> = INTERESTING64.iter().copied().chain([9007199254740993, 0x7fff_fe00_0000_0001]).collect();
    let mut calls = Vec::new();
    for (op, from, _) in convs {
        let inputs = match from {
            "f32" => &f32v,
            "f64" => &f64v,
            "i32" => &i32v,
            _ => &i64v,
        };
        for &x in inputs {
            calls.push((op, vec![x]));
        }
    }
    assert_same_as_wasmi(&text, &opts(), &calls, &[]);
}

#[test]
fn trapping_truncations_trap_exactly_outside_their_ranges() {
    // Boundaries from conversions.wast: the last value that converts and
    // the first that traps, on both sides, for all eight conversions.
    let text = r#"(module
        (func (export "i32_f32_s") (param f32) (result i32) local.get 0 i32.trunc_f32_s)
        (func (export "i32_f32_u") (param f32) (result i32) local.get 0 i32.trunc_f32_u)
        (func (export "i32_f64_s") (param f64) (result i32) local.get 0 i32.trunc_f64_s)
        (func (export "i32_f64_u") (param f64) (result i32) local.get 0 i32.trunc_f64_u)
        (func (export "i64_f32_s") (param f32) (result i64) local.get 0 i64.trunc_f32_s)
        (func (export "i64_f32_u") (param f32) (result i64) local.get 0 i64.trunc_f32_u)
        (func (export "i64_f64_s") (param f64) (result i64) local.get 0 i64.trunc_f64_s)
        (func (export "i64_f64_u") (param f64) (result i64) local.get 0 i64.trunc_f64_u))"#;
    let tr = translate(text);
    let mut m = Machine::new(&tr);
    m.instantiate().unwrap();
    let f = |x: f32| x.to_bits() as u64;
    let d = |x: f64| x.to_bits();
    let ovf = Err(Stop::Trap(TrapCode::IntegerOverflow));
    let nan = Err(Stop::Trap(TrapCode::InvalidConversion));
    let cases: Vec<(&str, u64, CallResult)> = vec![
        ("i32_f32_s", f(-2147483648.0), Ok(vec![0x8000_0000])),
        ("i32_f32_s", f(2147483520.0), Ok(vec![2147483520])),
        ("i32_f32_s", f(2147483648.0), ovf.clone()),
        ("i32_f32_s", f(-2147483904.0), ovf.clone()),
        ("i32_f32_s", 0x7fc0_0000, nan.clone()),
        ("i32_f32_s", 0xffa0_0000, nan.clone()),
        ("i32_f32_u", f(-0.9), Ok(vec![0])),
        ("i32_f32_u", f(4294967040.0), Ok(vec![4294967040])),
        ("i32_f32_u", f(4294967296.0), ovf.clone()),
        ("i32_f32_u", f(-1.0), ovf.clone()),
        ("i32_f32_u", f(f32::INFINITY), ovf.clone()),
        ("i32_f64_s", d(-2147483648.9), Ok(vec![0x8000_0000])),
        ("i32_f64_s", d(2147483647.9), Ok(vec![2147483647])),
        ("i32_f64_s", d(2147483648.0), ovf.clone()),
        ("i32_f64_s", d(-2147483649.0), ovf.clone()),
        ("i32_f64_u", d(-0.9), Ok(vec![0])),
        ("i32_f64_u", d(4294967295.9), Ok(vec![4294967295])),
        ("i32_f64_u", d(4294967296.0), ovf.clone()),
        ("i32_f64_u", d(-1.0), ovf.clone()),
        ("i32_f64_u", 0x7ff8_0000_0000_0000, nan.clone()),
        ("i64_f32_s", f(-9223372036854775808.0), Ok(vec![0x8000_0000_0000_0000])),
        ("i64_f32_s", f(9223371487098961920.0), Ok(vec![9223371487098961920])),
        ("i64_f32_s", f(9223372036854775808.0), ovf.clone()),
        ("i64_f32_s", f(-9223373136366403584.0), ovf.clone()),
        ("i64_f32_u", f(-0.9), Ok(vec![0])),
        ("i64_f32_u", f(18446742974197923840.0), Ok(vec![18446742974197923840])),
        ("i64_f32_u", f(18446744073709551616.0), ovf.clone()),
        ("i64_f32_u", f(-1.0), ovf.clone()),
        ("i64_f64_s", d(-9223372036854775808.0), Ok(vec![0x8000_0000_0000_0000])),
        ("i64_f64_s", d(9223372036854774784.0), Ok(vec![9223372036854774784])),
        ("i64_f64_s", d(9223372036854775808.0), ovf.clone()),
        ("i64_f64_s", d(-9223372036854777856.0), ovf.clone()),
        ("i64_f64_u", d(-0.9999999999999999), Ok(vec![0])),
        ("i64_f64_u", d(18446744073709549568.0), Ok(vec![18446744073709549568])),
        ("i64_f64_u", d(18446744073709551616.0), ovf.clone()),
        ("i64_f64_u", d(-1.0), ovf.clone()),
        ("i64_f64_u", 0xfff8_0000_0000_0000, nan.clone()),
    ];
    for (name, x, expected) in cases {
        assert_eq!(m.call_export(name, &[x]), expected, "{name}({x:#x})");
    }
}

#[test]
fn i64_and_float_memory_globals_calls_and_blocks_match_wasmi() {
    let text = r#"(module
        (memory (export "m0") 1 1)
        (memory (export "m1") 1 1)
        (global $g64 (mut i64) (i64.const -5))
        (global $gf32 (mut f32) (f32.const nan:0x200001))
        (global $gf64 f64 (f64.const -0x1.8p+3))
        (global $copy (mut f64) (f64.const -12))
        (data (memory 1) (i32.const 8) "\01\02\03\04\05\06\07\08\89\8a\8b\8c\8d\8e\8f\ff")
        (func (export "loads") (param i32) (result i64)
            (i64.add (i64.load (local.get 0))
              (i64.add (i64.load8_s 1 offset=1 (local.get 0))
                (i64.add (i64.load8_u 1 offset=9 (local.get 0))
                  (i64.add (i64.load16_s 1 offset=10 (local.get 0))
                    (i64.add (i64.load16_u 1 offset=2 (local.get 0))
                      (i64.add (i64.load32_s 1 offset=12 (local.get 0))
                               (i64.load32_u 1 offset=4 (local.get 0)))))))))
        (func (export "stores") (param i32 i64 f32 f64)
            (i64.store (local.get 0) (local.get 1))
            (i64.store8 1 offset=1 (local.get 0) (local.get 1))
            (i64.store16 1 offset=3 (local.get 0) (local.get 1))
            (i64.store32 1 offset=5 (local.get 0) (local.get 1))
            (f32.store 1 offset=16 (local.get 0) (local.get 2))
            (f64.store offset=24 (local.get 0) (local.get 3)))
        (func (export "float_loads") (param i32) (result f64)
            (f64.add (f64.load offset=24 (local.get 0))
                     (f64.promote_f32 (f32.load 1 offset=16 (local.get 0)))))
        (func (export "float_bits") (param i32) (result i64)
            (i64.reinterpret_f64 (f64.load offset=24 (local.get 0))))
        (func (export "globals") (param i64) (result i64)
            (global.set $g64 (i64.mul (global.get $g64) (local.get 0)))
            (global.set $gf32 (f32.neg (global.get $gf32)))
            (global.set $copy (f64.add (global.get $copy) (global.get $gf64)))
            (i64.add (global.get $g64)
              (i64.add (i64.extend_i32_u (i32.reinterpret_f32 (global.get $gf32)))
                       (i64.reinterpret_f64 (global.get $copy)))))
        (func $mix (param i64 f32 f64 i32) (result f64 i64)
            (f64.add (f64.convert_i64_s (local.get 0))
                     (f64.add (f64.promote_f32 (local.get 1)) (local.get 2)))
            (i64.add (local.get 0) (i64.extend_i32_s (local.get 3))))
        (func (export "calls") (param i64 f32) (result i64)
            (local f64 i64)
            (call $mix (local.get 0) (local.get 1) (f64.const 0.25) (i32.const -3))
            local.set 3 local.set 2
            (i64.add (local.get 3) (i64.trunc_sat_f64_s (local.get 2))))
        (func (export "select_floats") (param i32 f32 f32 f64 f64) (result f64)
            (f64.add (f64.promote_f32 (select (local.get 1) (local.get 2) (local.get 0)))
                     (select (result f64) (local.get 3) (local.get 4) (local.get 0))))
        (func (export "float_loop") (param i32) (result f64)
            (local f64)
            (block (result f64)
              (loop (param) (result f64)
                (local.set 1 (f64.add (f64.mul (local.get 1) (f64.const 1.5)) (f64.const 1)))
                (br_if 1 (local.get 1) (i32.eqz (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
                (br 0))))
        (func (export "block_params") (param f32 i64) (result f32)
            (local.get 0) (local.get 1)
            (block (param f32 i64) (result f32)
              (f32.convert_i64_u)
              (f32.add))))"#;
    let nan_payload = 0x7fa0_0001u64;
    let calls = vec![
        ("loads", vec![0]),
        ("loads", vec![8]),
        ("stores", vec![0, 0x0123_4567_89ab_cdef, nan_payload, 0xfff4_0000_0000_0001]),
        ("float_bits", vec![0]),
        ("stores", vec![100, u64::MAX, (-1.5f32).to_bits() as u64, 2.75f64.to_bits()]),
        ("float_loads", vec![100]),
        ("loads", vec![65528]),
        ("loads", vec![65529]),
        ("stores", vec![65530, 1, 0, 0]),
        ("globals", vec![3]),
        ("globals", vec![u64::MAX]),
        ("calls", vec![10, 2.5f32.to_bits() as u64]),
        ("calls", vec![u64::MAX, 0x7fc0_0000]),
        ("select_floats", vec![1, 1.5f32.to_bits() as u64, 2.5f32.to_bits() as u64, 1f64.to_bits(), 2f64.to_bits()]),
        ("select_floats", vec![0, 1.5f32.to_bits() as u64, 2.5f32.to_bits() as u64, 1f64.to_bits(), 2f64.to_bits()]),
        ("float_loop", vec![1]),
        ("float_loop", vec![20]),
        ("block_params", vec![0.5f32.to_bits() as u64, u64::MAX]),
    ];
    assert_same_as_wasmi(text, &opts(), &calls, &["m0", "m1"]);
    // Reinterpret, neg, loads and stores keep NaN payloads exactly.
    let tr = translate(text);
    let mut m = Machine::new(&tr);
    m.instantiate().unwrap();
    m.call_export("stores", &[0, 0, nan_payload, 0xfff4_0000_0000_0001]).unwrap();
    assert_eq!(m.call_export("float_bits", &[0]), Ok(vec![0xfff4_0000_0000_0001]));
    assert_eq!(&m.memory(1)[16..20], &(nan_payload as u32).to_le_bytes());
    // -(nan:0x200001) keeps the payload; global $copy = -12 + -12.
    assert_eq!(
        m.call_export("globals", &[1]),
        Ok(vec![(-5i64 as u64).wrapping_add(0xffa0_0001).wrapping_add((-24f64).to_bits())])
    );
}

#[test]
fn float_and_i64_global_initializers_may_read_earlier_globals() {
    // Wasm 3.0 lets a constant expression read an immutable defined global
    // (wasmi 2 does not yet, so the expected values are written out).
    let text = r#"(module
        (global $a f64 (f64.const nan:0x4000000000001))
        (global $b (mut f64) (global.get $a))
        (global $c f32 (f32.const -0x1p-149))
        (global $d (mut f32) (global.get $c))
        (global $e i64 (i64.const 0x7fffffffffffffff))
        (global $f (mut i64) (i64.add (global.get $e) (i64.const 2)))
        (func (export "b") (result f64) global.get $b)
        (func (export "d") (result f32) global.get $d)
        (func (export "f") (result i64) global.get $f))"#;
    let tr = translate(text);
    let mut m = Machine::new(&tr);
    assert_eq!(m.instantiate(), Ok(0));
    assert_eq!(m.call_export("b", &[]), Ok(vec![0x7ff4_0000_0000_0001]));
    assert_eq!(m.call_export("d", &[]), Ok(vec![0x8000_0001]));
    assert_eq!(m.call_export("f", &[]), Ok(vec![0x8000_0000_0000_0001]));
}
