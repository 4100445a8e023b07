//! Structure of the produced IR, module environment and error precision.

mod common;

use bulkhead_ir::*;
use bulkhead_wasm::{translate, BoundsMode, ConstExpr, DataKind, TranslateOptions, WasmError};
use common::*;

fn translate_err(text: &str, opts: &TranslateOptions) -> WasmError {
    match translate(&wasm(text), opts) {
        Ok(_) => panic!("translation unexpectedly succeeded:\n{text}"),
        Err(e) => e,
    }
}

fn insts<'f>(f: &'f Function) -> impl Iterator<Item = (Inst, &'f InstData)> + 'f {
    f.layout.iter().flat_map(move |&b| f.block_insts(b).iter().map(move |&i| (i, f.inst(i))))
}

/// Offset of the first occurrence of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).position(|w| w == needle).expect("byte pattern not found")
}

#[test]
fn accesses_use_addresses_of_their_own_memory() {
    let text = r#"(module
        (memory 1) (memory 1) (memory 2 2 (pagesize 1))
        (func (export "f") (param i32) (result i32)
            local.get 0 i32.load 2 offset=1
            local.get 0 i32.load16_u 0 offset=7
            i32.add
            local.get 0 i32.load8_s 1
            i32.add
            local.get 0 i32.const 9 i32.store8 2
            local.get 0 local.get 0 i32.store16 1 offset=100
            local.get 0 local.get 0 i32.store 0 offset=65532))"#;
    let tr = common::translate(text);
    let f = func(&tr, "f");
    let mut loads = Vec::new();
    let mut stores = Vec::new();
    let mut checks = Vec::new();
    for (_, data) in insts(f) {
        match data {
            InstData::Load { mem, kind, addr, offset } => {
                assert_eq!(f.value_type(*addr), Type::Addr(*mem), "{f}");
                loads.push((mem.0, *kind, *offset));
            }
            InstData::Store { mem, kind, args, offset } => {
                assert_eq!(f.value_type(args[0]), Type::Addr(*mem), "{f}");
                stores.push((mem.0, *kind, *offset));
            }
            InstData::BoundsCheck { mem, end, .. } => checks.push((mem.0, *end)),
            _ => {}
        }
    }
    assert_eq!(loads, vec![(2, LoadKind::I32, 1), (0, LoadKind::I32_16U, 7), (1, LoadKind::I32_8S, 0)]);
    assert_eq!(stores, vec![(2, StoreKind::I32_8, 0), (1, StoreKind::I32_16, 100), (0, StoreKind::I32, 65532)]);
    // end = static offset + access width, on the accessed memory.
    assert_eq!(checks, vec![(2, 5), (0, 9), (1, 1), (2, 1), (1, 102), (0, 65536)]);
    let text_ir = f.to_string();
    assert!(text_ir.contains("mem_base.2"), "{text_ir}");

    let unchecked = common::translate_with(text, &TranslateOptions { bounds: BoundsMode::None, ..Default::default() });
    let f = func(&unchecked, "f");
    assert!(!insts(f).any(|(_, d)| matches!(d, InstData::BoundsCheck { .. } | InstData::BoundsCheckDyn { .. })));
    assert_eq!(insts(f).filter(|(_, d)| matches!(d, InstData::Load { .. } | InstData::Store { .. })).count(), 6);
}

#[test]
fn bulk_operations_check_every_memory_before_writing() {
    let text = r#"(module (memory 1) (memory 1)
        (func (export "copy") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 memory.copy 1 0)
        (func (export "fill") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 memory.fill 1))"#;
    let tr = common::translate(text);
    let f = func(&tr, "copy");
    let effects: Vec<String> = insts(f)
        .filter_map(|(_, d)| match d {
            InstData::BoundsCheckDyn { mem, .. } => Some(format!("check{}", mem.0)),
            InstData::MemoryCopy { dst_mem, src_mem, .. } => Some(format!("copy{}<-{}", dst_mem.0, src_mem.0)),
            _ => None,
        })
        .collect();
    assert_eq!(effects, ["check1", "check0", "copy1<-0"]);
    let f = func(&tr, "fill");
    let effects: Vec<String> = insts(f)
        .filter_map(|(_, d)| match d {
            InstData::BoundsCheckDyn { mem, .. } => Some(format!("check{}", mem.0)),
            InstData::MemoryFill { mem, .. } => Some(format!("fill{}", mem.0)),
            _ => None,
        })
        .collect();
    assert_eq!(effects, ["check1", "fill1"]);
}

#[test]
fn memory_grow_on_custom_page_size_memory_is_straight_line_ir() {
    let text = r#"(module (memory 1) (memory 3 40 (pagesize 1))
        (func (export "grow") (param i32) (result i32) local.get 0 memory.grow 1)
        (func (export "size") (result i32) memory.size 1))"#;
    let tr = common::translate(text);
    assert_eq!(tr.env.memories[1].page_size_log2, 0);
    assert_eq!(tr.env.memories[1].reserved_bytes, 40);
    let f = func(&tr, "grow");
    assert_eq!(f.layout.len(), 1, "{f}");
    assert!(insts(f).any(|(_, d)| matches!(d, InstData::MemSetSize { mem: MemIdx(1), .. })), "{f}");
    assert!(insts(f).all(|(_, d)| d.memories().iter().all(|m| m.0 == 1)), "{f}");
    // Page size 1: no shifts at all.
    assert!(!insts(f).any(|(_, d)| matches!(d, InstData::Binary { op: BinaryOp::ShrU | BinaryOp::Shl, .. })), "{f}");
    let f = func(&tr, "size");
    assert_eq!(f.to_string().matches("mem_size.1").count(), 1, "{f}");
    assert!(!f.to_string().contains("ushr"), "{f}");

    let mut m = Machine::new(&tr);
    m.instantiate().unwrap();
    assert_eq!(m.call_export("grow", &[37]), Ok(vec![3]));
    assert_eq!(m.call_export("size", &[]), Ok(vec![40]));
    assert_eq!(m.call_export("grow", &[1]), Ok(vec![u32::MAX as u64]));
    assert_eq!(m.call_export("grow", &[0]), Ok(vec![40]));
}

#[test]
fn instantiate_for_two_memories_and_data_segments() {
    let text = r#"(module
        (import "env" "shared" (memory 1 2))
        (memory 2 3)
        (memory 5 9 (pagesize 1))
        (global $g (mut i32) (i32.const 7))
        (data (memory 2) (i32.const 1) "abc")
        (data "passive")
        (data (memory 0) (i32.const 8) "imp")
        (data (memory 1) (i32.add (i32.const 60000) (i32.const 16)) "xy"))"#;
    let tr = common::translate(text);
    let f = &tr.instantiate;
    assert_eq!(f.index, FuncIdx(u32::MAX));
    assert_eq!(f.name, "instantiate");
    assert_eq!(f.sig, Signature { params: vec![], results: vec![Type::I32] });
    let iconst = |v: Value| match f.value_def(v) {
        ValueDef::Result(i, _) => match f.inst(i) {
            InstData::Iconst { imm, .. } => Some(*imm),
            _ => None,
        },
        _ => None,
    };
    let effects: Vec<String> = insts(f)
        .filter_map(|(_, d)| match d {
            InstData::MemSetSize { mem, arg } => Some(format!("size{}={}", mem.0, iconst(*arg).unwrap())),
            InstData::MemoryFill { mem, args } => Some(format!("zero{}:{}", mem.0, iconst(args[2]).unwrap())),
            InstData::GlobalSet { global, arg } => Some(format!("g{}={}", global.0, iconst(*arg).unwrap())),
            InstData::MemoryInit { mem, seg, args } => {
                Some(format!("init{}<-d{}:{}", mem.0, seg.0, iconst(args[2]).unwrap()))
            }
            InstData::Return { .. } => Some("ret".into()),
            _ => None,
        })
        .collect();
    // The imported memory 0 is neither resized nor zeroed, but gets its data.
    assert_eq!(
        effects,
        [
            "size1=196608",
            "zero1:196608",
            "size1=131072",
            "size2=9",
            "zero2:9",
            "size2=5",
            "g0=7",
            "init2<-d0:3",
            "init0<-d2:3",
            "init1<-d3:2",
            "ret",
            "ret"
        ]
    );
    assert!(matches!(tr.env.data[3].kind, DataKind::Active { memory: 1, offset: ConstExpr::Extended(_) }));
    assert!(matches!(tr.env.data[1].kind, DataKind::Passive));

    // Run it: the imported memory must be sized by its owner first.
    let mut m = Machine::new(&tr);
    m.sizes[0] = 65536;
    assert_eq!(m.instantiate(), Ok(0));
    assert_eq!(&m.memory(0)[8..11], b"imp");
    assert_eq!(&m.memory(1)[60016..60018], b"xy");
    assert_eq!(m.memory(2), b"\0abc\0");
    assert_eq!(m.globals[0], 7);
}

#[test]
fn environment_records_imports_exports_and_names() {
    let text = r#"(module
        (import "env" "log" (func $log (param i32)))
        (import "env" "g" (global $ig i32))
        (memory (export "mem") (export "mem_alias") 1)
        (global (export "counter") (mut i32) (global.get $ig))
        (func (export "main") (export "alias") (result i32) global.get 1)
        (func $helper (param i32) local.get 0 call $log)
        (start $helper2)
        (func $helper2))"#;
    let tr = common::translate(text);
    let env = &tr.env;
    assert_eq!(env.num_imported_funcs, 1);
    assert_eq!(env.funcs[0].import.as_ref().unwrap().name, "log");
    assert_eq!(env.funcs[1].exports, ["main", "alias"]);
    assert_eq!(env.memories[0].exports, ["mem", "mem_alias"]);
    assert_eq!(env.globals[1].exports, ["counter"]);
    assert_eq!(env.globals[1].init, Some(ConstExpr::GlobalGet(0)));
    assert_eq!(env.start, Some(3));
    let names: Vec<(u32, &str)> = tr.functions.iter().map(|f| (f.index.0, f.name.as_str())).collect();
    assert_eq!(names, [(1, "main"), (2, "f2"), (3, "f3")]);
    assert!(tr.instantiate.to_string().contains("call fn3"), "{}", tr.instantiate);
}

#[test]
fn unsupported_operators_are_named_with_function_and_offset() {
    // Function 2 (after one import) tail-calls itself (tail calls are not
    // supported yet).
    let text = r#"(module
        (import "env" "f" (func))
        (func (param i32) (result i32) local.get 0)
        (func (param i64) (result i64) local.get 0 return_call 2))"#;
    let bytes = wasm(text);
    let e = translate(&bytes, &TranslateOptions::default()).unwrap_err();
    assert_eq!(e.message, "unsupported operator return_call");
    assert_eq!(e.func_index, Some(2));
    let at = find(&bytes, &[0x20, 0x00, 0x12, 0x02, 0x0b]) + 2;
    assert_eq!(e.offset, Some(at));
    let shown = e.to_string();
    assert!(shown.contains("function 2") && shown.contains(&format!("{at:#x}")), "{shown}");

    for (body, name) in [
        ("return_call 0", "return_call"),
        ("i32.const 0 i32.atomic.load drop", "i32.atomic.load"),
    ] {
        let text = format!(
            "(module (type (func)) (memory 1) (table 1 funcref) (data \"x\") (func (type 0) {body}))"
        );
        let e = translate_err(&text, &TranslateOptions::default());
        assert_eq!(e.message, format!("unsupported operator {name}"), "{body}");
        assert_eq!(e.func_index, Some(0));
        assert!(e.offset.is_some());
    }
}

#[test]
fn unsupported_module_features_are_precise_errors() {
    let cases = [
        (r#"(module (table 1 anyref))"#, "table 0 of type anyref"),
        (r#"(module (elem anyref (ref.null any)))"#, "element segment 0 of type"),
        (r#"(module (type (func (param anyref))))"#, "unsupported value type"),
        (r#"(module (func (local v128)))"#, "unsupported local type v128 (local 0)"),
    ];
    for (text, expected) in cases {
        let e = translate_err(text, &TranslateOptions::default());
        assert!(e.message.contains(expected), "{text}: {e}");
        assert!(e.offset.is_some(), "{text}: {e}");
    }
}

#[test]
fn invalid_modules_are_rejected() {
    let e = translate_err(
        r#"(module (import "a" "b" (func)) (func) (func (result i32) i64.const 0))"#,
        &TranslateOptions::default(),
    );
    assert!(e.message.contains("type mismatch"), "{e}");
    assert_eq!(e.func_index, Some(2), "{e}");
    let mut bytes = wasm("(module (func))");
    bytes.truncate(bytes.len() - 1);
    assert!(translate(&bytes, &TranslateOptions::default()).is_err());
    assert!(translate(b"\0asm\x02\0\0\0", &TranslateOptions::default()).is_err());
    // Page sizes other than 1 and 64 KiB are invalid.
    let e = translate(&wasm("(module (memory 1 (pagesize 65536)))"), &Default::default());
    assert!(e.is_ok());
    assert!(wat::parse_str("(module (memory 1 (pagesize 2)))")
        .map(|b| translate(&b, &Default::default()).is_err())
        .unwrap_or(true));
}

#[test]
fn memory_reservations_follow_the_rules() {
    let reserved = |text: &str, opts: TranslateOptions| -> Result<Vec<u64>, WasmError> {
        translate(&wasm(text), &opts).map(|t| t.env.memories.iter().map(|m| m.reserved_bytes).collect())
    };
    let d = TranslateOptions::default;
    // Declared maximum; else the minimum.
    assert_eq!(reserved("(module (memory 1 3) (memory 2))", d()).unwrap(), [3 << 16, 2 << 16]);
    // Default for memories without a maximum, never below the minimum.
    let o = TranslateOptions { default_memory_max: Some(5 << 16), ..d() };
    assert_eq!(reserved("(module (memory 1 3) (memory 2) (memory 9))", o).unwrap(), [3 << 16, 5 << 16, 9 << 16]);
    // Per-memory override, rounded down to whole pages.
    let o = TranslateOptions { memory_max: vec![(1, (4 << 16) + 100)], default_memory_max: Some(1 << 20), ..d() };
    assert_eq!(reserved("(module (memory 1 3) (memory 2))", o).unwrap(), [3 << 16, 4 << 16]);
    let o = TranslateOptions { memory_max: vec![(0, 1 << 20)], ..d() };
    assert_eq!(reserved("(module (memory 1 65536))", o).unwrap(), [1 << 20]);
    // Too large for a 32-bit MCU without an override.
    let e = reserved("(module (memory 1 65536))", d()).unwrap_err();
    assert!(e.message.contains("--memory-max") && e.message.contains("memory 0"), "{e}");
    let e = reserved("(module (memory 40000))", d()).unwrap_err();
    assert!(e.message.contains("--memory-max"), "{e}");
    // Overrides outside [min, declared max].
    let o = TranslateOptions { memory_max: vec![(0, 1 << 16)], ..d() };
    let e = reserved("(module (memory 2 4))", o).unwrap_err();
    assert!(e.message.contains("below its minimum"), "{e}");
    let o = TranslateOptions { memory_max: vec![(0, 5 << 16)], ..d() };
    let e = reserved("(module (memory 2 4))", o).unwrap_err();
    assert!(e.message.contains("above its declared maximum"), "{e}");
    // Exactly 2 GiB is allowed.
    assert_eq!(reserved("(module (memory 0 32768))", d()).unwrap(), [1 << 31]);
}

#[test]
fn locals_become_ssa_values_without_redundant_parameters() {
    // The loop carries only the locals it changes; `c` is loop-invariant.
    let text = r#"(module (func (export "f") (param $n i32) (param $c i32) (result i32) (local $acc i32)
        block
          loop
            local.get $n i32.eqz br_if 1
            local.get $acc local.get $c i32.add local.set $acc
            local.get $n i32.const 1 i32.sub local.set $n
            br 0
          end
        end
        local.get $acc))"#;
    let tr = common::translate(text);
    let f = func(&tr, "f");
    let header = f.layout.iter().copied().find(|&b| f.block_params(b).len() == 2);
    assert!(header.is_some(), "loop header should carry exactly $n and $acc:\n{f}");
    assert!(f.layout.iter().all(|&b| b == f.entry() || f.block_params(b).len() <= 2), "{f}");
    let mut m = Machine::new(&tr);
    m.instantiate().unwrap();
    assert_eq!(m.call_export("f", &[10, 3]), Ok(vec![30]));
}

/// A small deterministic PRNG (xorshift64*), so the test needs no crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const SEEDS: [&str; 4] = [
    r#"(module
        (memory 1 2) (memory 1 10 (pagesize 1))
        (global (mut i32) (i32.const 1))
        (data (memory 1) (i32.const 0) "ab") (data "p")
        (func (export "f") (param i32 i32) (result i32) (local i32)
            block (result i32)
              loop
                local.get 0 i32.load8_u 1 local.get 1 i32.add local.set 2
                local.get 0 i32.const 1 i32.sub local.tee 0 br_if 0
              end
              local.get 2 local.get 0 br_table 0 0 0
            end
            local.get 0 memory.grow 1 i32.add
            global.get 0 i32.div_s)
        (func (param i32) (result i32 i32)
            local.get 0 local.get 0 if (param i32) (result i32) i32.const 3 i32.rem_u else i32.const 1 i32.shl end
            local.get 0 i32.const 0 i32.const 4 memory.copy 0 1
            local.get 0 i32.const 0 i32.const 1 memory.init 0 1
            local.get 0))"#,
    r#"(module (memory 1)
        (func $a (param i32) (result i32)
            block block block local.get 0 br_table 0 1 2 end unreachable end i32.const 1 return end
            local.get 0 call $a i32.const 5 i32.const 6 local.get 0 select i32.add))"#,
    r#"(module (func (export "x") (param i64 i32) (result i32)
            local.get 1 i32.eqz if (result i32) i32.const 7 else local.get 1 i32.popcnt end
            i32.extend8_s local.get 0 drop))"#,
    r#"(module (memory 0 1) (func (param i32 i32 i32) local.get 0 local.get 1 local.get 2 memory.fill
            local.get 0 i32.load16_s offset=3 local.get 1 i32.store16 offset=9 local.get 2 i32.ctz drop))"#,
];

#[test]
fn byte_mutated_modules_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut translated = 0;
    let mut runs = 0;
    for seed in SEEDS {
        let original = wasm(seed);
        translate(&original, &TranslateOptions::default()).unwrap_or_else(|e| panic!("seed fails: {e}"));
        for _ in 0..1500 {
            let mut bytes = original.clone();
            for _ in 0..1 + rng.below(3) {
                let i = 8 + rng.below(bytes.len() - 8);
                match rng.below(4) {
                    0 => bytes[i] = rng.next() as u8,
                    1 => bytes[i] ^= 1 << rng.below(8),
                    2 => bytes[i] = [0x00, 0x01, 0x0b, 0x7f, 0x80, 0xff][rng.below(6)],
                    _ => {
                        let v = rng.next() as u8;
                        bytes.insert(i, v)
                    }
                }
            }
            let result = std::panic::catch_unwind(|| translate(&bytes, &TranslateOptions::default()));
            let result = result.unwrap_or_else(|_| panic!("translate panicked on {bytes:02x?}"));
            runs += 1;
            match result {
                Ok(tr) => {
                    translated += 1;
                    for f in tr.functions.iter().chain([&tr.instantiate]) {
                        verify_with(f, &bulkhead_wasm::EnvCallees(&tr.env)).unwrap();
                    }
                }
                Err(e) => assert!(!e.message.contains("internal error"), "{e} on {bytes:02x?}"),
            }
        }
    }
    assert_eq!(runs, 6000);
    // Some mutants must still be valid, or the test exercises only the validator.
    assert!(translated > 100, "only {translated} mutants translated");
}

#[test]
fn printed_ir_of_a_checked_load_on_memory_1() {
    let text = r#"(module (memory 1) (memory 1)
        (func (export "load") (param i32) (result i32) local.get 0 i32.load 1 offset=4))"#;
    let tr = common::translate(text);
    let expected = "\
function %load(i32) -> i32 {
block0(v0: i32):
    bounds_check.1 v0, 8
    v2 = mem_base.1
    v3 = addr_add v2, v0
    v4 = load.1.i32 v3+4
    return v4
}
";
    assert_eq!(func(&tr, "load").to_string(), expected);
    let unchecked = common::translate_with(text, &TranslateOptions { bounds: BoundsMode::None, ..Default::default() });
    assert!(!func(&unchecked, "load").to_string().contains("bounds_check"));
}

#[test]
fn division_emits_wasm_traps_before_the_total_ir_division() {
    let text = r#"(module
        (func (export "div_s") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)
        (func (export "rem_u") (param i32 i32) (result i32) local.get 0 local.get 1 i32.rem_u))"#;
    let tr = common::translate(text);
    let f = func(&tr, "div_s");
    let traps: Vec<(bool, TrapCode)> = insts(f)
        .filter_map(|(_, d)| match d {
            InstData::TrapIf { nonzero, code, .. } => Some((*nonzero, *code)),
            _ => None,
        })
        .collect();
    assert_eq!(traps, [(false, TrapCode::IntegerDivideByZero), (true, TrapCode::IntegerOverflow)]);
    let f = func(&tr, "rem_u");
    let traps = insts(f).filter(|(_, d)| matches!(d, InstData::TrapIf { .. })).count();
    assert_eq!(traps, 1, "{f}");
}

#[test]
fn deep_nesting_and_long_functions_translate_quickly() {
    // 2000 nested loops around a local update: long single-predecessor
    // chains and many unsealed headers, all resolved without recursion.
    let depth = 2000;
    let mut text = String::from("(module (func (export \"deep\") (param i32) (result i32) (local i32)\n");
    for _ in 0..depth {
        text += "loop ";
    }
    text += "local.get 1 local.get 0 i32.add local.set 1 local.get 0 i32.const 1 i32.sub local.tee 0 br_if 0 ";
    for _ in 0..depth {
        text += "end ";
    }
    text += "local.get 1))";
    let start = std::time::Instant::now();
    let tr = translate(&wasm(&text), &TranslateOptions::default()).unwrap();
    let f = func(&tr, "deep");
    assert!(f.layout.len() >= 2);
    let mut m = Machine::new(&tr);
    m.instantiate().unwrap();
    assert_eq!(m.call_export("deep", &[10]), Ok(vec![55]));

    // 20000 sequential br_ifs, each followed by a local update.
    let mut text = String::from("(module (func (export \"long\") (param i32) (result i32) (local i32) block\n");
    for i in 0..20000 {
        text += &format!("local.get 0 i32.const {i} i32.eq br_if 0 local.get 1 i32.const 1 i32.add local.set 1\n");
    }
    text += "end local.get 1))";
    let tr = translate(&wasm(&text), &TranslateOptions::default()).unwrap();
    let mut m = Machine::new(&tr);
    m.instantiate().unwrap();
    assert_eq!(m.call_export("long", &[1234]), Ok(vec![1234]));
    assert!(start.elapsed() < std::time::Duration::from_secs(20), "took {:?}", start.elapsed());
}

#[test]
fn memory64_beyond_the_address_space_is_a_limit_and_small_ones_unsupported() {
    let huge = translate_err("(module (memory i64 0x1_0000_0000_0000))", &TranslateOptions::default());
    assert_eq!(huge.kind, bulkhead_wasm::WasmErrorKind::Limit, "{huge}");
    let small = translate_err("(module (memory i64 1))", &TranslateOptions::default());
    assert_eq!(small.kind, bulkhead_wasm::WasmErrorKind::Unsupported, "{small}");
}

#[test]
fn mask_mode_masks_the_effective_address_and_keeps_bulk_checks() {
    let text = "(module (memory 3 3) (func (param i32) (result i32) (i32.load offset=4 (local.get 0)))
                (func (param i32) (memory.fill (local.get 0) (i32.const 0) (i32.const 4))))";
    let tr = common::translate_with(text, &TranslateOptions { bounds: BoundsMode::Mask, ..Default::default() });
    assert_eq!(tr.env.memories[0].mask_span, Some(4 << 16));
    assert_eq!(tr.env.memories[0].region_bytes(), (4 << 16) + bulkhead_wasm::MASK_GUARD_BYTES);
    let load = &tr.functions[0];
    assert!(!insts(load).any(|(_, d)| matches!(d, InstData::BoundsCheck { .. })), "{load}");
    let mask = (4u64 << 16) - 1;
    assert!(insts(load).any(|(_, d)| matches!(d, InstData::Iconst { imm, .. } if *imm == mask)), "{load}");
    assert!(insts(load).any(|(_, d)| matches!(d, InstData::Load { offset: 0, .. })), "{load}");
    let fill = &tr.functions[1];
    assert!(insts(fill).any(|(_, d)| matches!(d, InstData::BoundsCheckDyn { .. })), "{fill}");
}
