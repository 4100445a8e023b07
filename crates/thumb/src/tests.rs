//! Lower + allocate (with regalloc2's checker) + emit for IR functions
//! covering every instruction the backend handles. Execution against
//! independent expectations is in tests/exec_qemu.rs.

use crate::*;
use bulkhead_ir::*;

pub(crate) fn isa() -> TargetIsa {
    TargetIsa {
        cpu: Cpu::CortexM4,
        hard_float: false,
    }
}

pub(crate) fn module(funcs: Vec<Signature>) -> ModuleInfo {
    ModuleInfo {
        funcs,
        types: Vec::new(),
        globals: vec![Type::I32; 4],
        num_memories: 3,
    }
}

fn sig(params: usize, results: usize) -> Signature {
    Signature {
        params: vec![Type::I32; params],
        results: vec![Type::I32; results],
    }
}

fn compile(f: &Function) -> CompiledFunction {
    verify(f).unwrap_or_else(|e| panic!("IR does not verify: {e}"));
    let m = module(vec![sig(2, 1), sig(6, 1), sig(1, 2)]);
    compile_function_checked(f, &m, &isa(), &BackendOptions { emit_asm: true })
        .unwrap_or_else(|e| panic!("{e}"))
}

fn new_fn(name: &str, params: usize, results: usize) -> Function {
    Function::new(FuncIdx(0), name, sig(params, results))
}

#[test]
fn add_two_params() {
    let mut f = new_fn("add", 2, 1);
    let mut b = FunctionBuilder::new(&mut f);
    let e = b.create_block();
    b.switch_to_block(e);
    let x = b.append_block_param(e, Type::I32);
    let y = b.append_block_param(e, Type::I32);
    let s = b.binary(BinaryOp::Add, x, y);
    b.ret(&[s]);
    let c = compile(&f);
    let asm = c.asm.unwrap();
    println!("{asm}");
    assert!(
        asm.contains("add.w r0, r0, r1") || asm.contains("add.w r0, r1, r0"),
        "{asm}"
    );
    assert!(asm.contains("bx lr"), "{asm}");
}

fn mem_fn() -> Function {
    // fn(i, v) { bounds(mem0, i, 4); mem0[i+8] = v; bounds(mem1,i,4); r = mem1[i]; r + mem0[i] }
    let mut f = new_fn("mem", 2, 1);
    let mut b = FunctionBuilder::new(&mut f);
    let e = b.create_block();
    b.switch_to_block(e);
    let i = b.append_block_param(e, Type::I32);
    let v = b.append_block_param(e, Type::I32);
    b.bounds_check(MemIdx(0), i, 12);
    let a0 = b.mem_addr(MemIdx(0), i);
    b.store(StoreKind::I32, a0, v, 8);
    b.bounds_check(MemIdx(1), i, 4);
    let a1 = b.mem_addr(MemIdx(1), i);
    let r = b.load(LoadKind::I32, a1, 0);
    let r0 = b.load(LoadKind::I32, a0, 0);
    let s = b.binary(BinaryOp::Add, r, r0);
    b.ret(&[s]);
    f
}

#[test]
fn pinned_memory_base_is_r11_and_other_bases_are_materialized() {
    let c = compile(&mem_fn());
    let asm = c.asm.clone().unwrap();
    assert_eq!(c.dominant_memory, Some(0), "{asm}");
    // R11 saved, loaded once from mem0 in the prologue, used for accesses.
    assert!(asm.contains("push.w {r11, lr}"), "{asm}");
    assert!(asm.contains("pop.w {r11, pc}"), "{asm}");
    let mem0_relocs: Vec<_> = c
        .relocs
        .iter()
        .filter(|r| r.target == RelocTarget::MemoryBase(0))
        .collect();
    assert_eq!(mem0_relocs.len(), 2, "{asm}");
    assert_eq!(mem0_relocs[0].kind, RelocKind::ThumbMovwAbsNc);
    assert_eq!(mem0_relocs[1].kind, RelocKind::ThumbMovtAbs);
    assert_eq!(mem0_relocs[1].offset, mem0_relocs[0].offset + 4);
    assert!(
        asm.contains("r11, r0]") || asm.contains("add.w r2, r11"),
        "{asm}"
    );
    // Memory 1's base is a MOVW/MOVT pair in the body.
    assert_eq!(
        c.relocs
            .iter()
            .filter(|r| r.target == RelocTarget::MemoryBase(1))
            .count(),
        2
    );
    // One shared out-of-bounds island at the end.
    assert!(asm.trim_end().ends_with("udf #2"), "{asm}");
    assert_eq!(&c.code[c.code.len() - 2..], &[0x02, 0xde]);
}

#[test]
fn dominant_memory_weights_accesses_by_loop_depth() {
    // Memory 0: three accesses outside any loop; memory 1: one in a loop.
    let mut f = new_fn("loopy", 1, 1);
    let mut b = FunctionBuilder::new(&mut f);
    let e = b.create_block();
    let head = b.create_block();
    let exit = b.create_block();
    b.switch_to_block(e);
    let i = b.append_block_param(e, Type::I32);
    let a0 = b.mem_addr(MemIdx(0), i);
    let x = b.load(LoadKind::I32, a0, 0);
    b.store(StoreKind::I32, a0, x, 4);
    b.store(StoreKind::I32, a0, x, 8);
    b.jump(head, &[i]);
    b.switch_to_block(head);
    let n = b.append_block_param(head, Type::I32);
    let a1 = b.mem_addr(MemIdx(1), n);
    let y = b.load(LoadKind::I32, a1, 0);
    b.brif(y, head, &[y], exit, &[]);
    b.switch_to_block(exit);
    b.ret(&[x]);
    assert_eq!(crate::dominant::loop_depths(&f)[head.index()], 1);
    assert_eq!(crate::dominant::loop_depths(&f)[e.index()], 0);
    let c = compile(&f);
    assert_eq!(c.dominant_memory, Some(1), "{}", c.asm.unwrap());
}

#[test]
fn functions_without_memory_do_not_pin_r11() {
    let mut f = new_fn("pure", 1, 1);
    let mut b = FunctionBuilder::new(&mut f);
    let e = b.create_block();
    b.switch_to_block(e);
    let x = b.append_block_param(e, Type::I32);
    let m = b.mem_size(MemIdx(0));
    let r = b.binary(BinaryOp::Add, x, m);
    b.ret(&[r]);
    let c = compile(&f);
    assert_eq!(c.dominant_memory, None);
    assert!(!c.asm.unwrap().contains("r11"));
}

/// Runtime routines come from a process-wide cache; an unknown name is a
/// backend bug (Internal), and compiling the same routine twice gives the
/// same code.
#[test]
fn runtime_function_is_cached_and_names_are_checked() {
    let err = runtime_function("no_such_routine", &isa()).unwrap_err();
    assert_eq!(err.kind, BackendErrorKind::Internal, "{err}");
    let (name, a) = runtime_function("udivmod64", &isa()).unwrap();
    assert_eq!(name, "udivmod64");
    let (_, b) = runtime_function("udivmod64", &isa()).unwrap();
    assert_eq!(a, b);
    // Referenced routines, transitively, each once.
    let mut caller = a.clone();
    caller.relocs.push(Reloc {
        offset: 0,
        kind: RelocKind::ThumbCall,
        target: RelocTarget::Runtime("memset"),
        addend: -4,
    });
    let used = referenced_runtime_functions([&caller, &caller], &isa()).unwrap();
    let names: Vec<_> = used.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["memset"]);
}

#[test]
fn calls_use_bl_with_a_rel_addend_and_align_the_stack() {
    let mut f = new_fn("caller", 6, 1);
    let mut b = FunctionBuilder::new(&mut f);
    let e = b.create_block();
    b.switch_to_block(e);
    let p: Vec<Value> = (0..6).map(|_| b.append_block_param(e, Type::I32)).collect();
    let r = b.call(FuncIdx(1), &p, &[Type::I32])[0];
    let s = b.binary(BinaryOp::Add, r, p[5]);
    b.ret(&[s]);
    let c = compile(&f);
    let asm = c.asm.clone().unwrap();
    let call = c
        .relocs
        .iter()
        .find(|r| r.kind == RelocKind::ThumbCall)
        .expect("call reloc");
    assert_eq!(call.target, RelocTarget::Function(1));
    assert_eq!(call.addend, -4);
    let at = call.offset as usize;
    // `bl .` with the -4 addend: f7ff fffe.
    assert_eq!(&c.code[at..at + 4], &[0xff, 0xf7, 0xfe, 0xff], "{asm}");
    assert!(asm.contains("lr}"), "{asm}");
    // Two stack arguments stored below SP.
    assert!(
        asm.contains("[sp, #0]") && asm.contains("[sp, #4]"),
        "{asm}"
    );
}

#[test]
fn jump_tables_are_data_ranges() {
    let mut f = new_fn("table", 1, 1);
    let mut b = FunctionBuilder::new(&mut f);
    let e = b.create_block();
    b.switch_to_block(e);
    let x = b.append_block_param(e, Type::I32);
    let blocks: Vec<Block> = (0..3).map(|_| b.create_block()).collect();
    b.br_table(x, vec![blocks[0], blocks[1], blocks[0]], blocks[2]);
    for (k, blk) in blocks.iter().enumerate() {
        b.switch_to_block(*blk);
        let c = b.iconst(Type::I32, k as u64);
        b.ret(&[c]);
    }
    let c = compile(&f);
    let asm = c.asm.clone().unwrap();
    assert!(asm.contains("tbh [pc, r0, lsl #1]"), "{asm}");
    assert_eq!(c.data_ranges.len(), 1, "{asm}");
    let (s, e) = c.data_ranges[0];
    assert_eq!(e - s, 6, "three halfword entries: {asm}");
}

#[test]
fn trap_codes_are_udf_immediates() {
    let mut f = new_fn("traps", 2, 1);
    let mut b = FunctionBuilder::new(&mut f);
    let e = b.create_block();
    b.switch_to_block(e);
    let x = b.append_block_param(e, Type::I32);
    let y = b.append_block_param(e, Type::I32);
    b.trapz(y, TrapCode::IntegerDivideByZero);
    let c = b.icmp(IntCC::Eq, x, y);
    b.trapnz(c, TrapCode::IntegerOverflow);
    let d = b.binary(BinaryOp::DivS, x, y);
    b.ret(&[d]);
    let c = compile(&f);
    let asm = c.asm.unwrap();
    assert!(asm.contains("udf #3") && asm.contains("udf #4"), "{asm}");
    // The fused compare does not materialize the icmp result.
    assert!(!asm.contains("ite"), "{asm}");
}

#[test]
fn runtime_functions_are_relocation_free() {
    let rt = runtime_functions(&isa());
    let names: Vec<_> = rt.iter().map(|(n, _)| *n).collect();
    assert_eq!(names[..4], ["memmove", "memset", "udivmod64", "sdivmod64"]);
    for (name, c) in &rt[..2] {
        assert!(c.relocs.is_empty(), "{name}");
        assert!(!c.code.is_empty());
        assert!(
            c.asm.as_ref().unwrap().trim_end().ends_with("bx lr"),
            "{name}"
        );
    }
}

#[test]
fn target_triples() {
    use std::str::FromStr;
    let t = |s: &str, cpu: Option<&str>| {
        TargetIsa::from_triple(&target_lexicon::Triple::from_str(s).unwrap(), cpu)
    };
    assert_eq!(
        t("thumbv7m-none-eabi", None).unwrap(),
        TargetIsa {
            cpu: Cpu::CortexM3,
            hard_float: false
        }
    );
    assert_eq!(
        t("thumbv7em-none-eabi", None).unwrap(),
        TargetIsa {
            cpu: Cpu::CortexM4,
            hard_float: false
        }
    );
    assert_eq!(
        t("thumbv7em-none-eabihf", None).unwrap(),
        TargetIsa {
            cpu: Cpu::CortexM4F,
            hard_float: true
        }
    );
    assert_eq!(
        t("thumbv8m.main-none-eabi", None).unwrap(),
        TargetIsa {
            cpu: Cpu::CortexM33,
            hard_float: false
        }
    );
    assert_eq!(
        t("thumbv7em-none-eabihf", Some("cortex-m7")).unwrap().cpu,
        Cpu::CortexM7
    );
    assert!(t("thumbv7em-none-eabi", Some("cortex-a53"))
        .unwrap_err()
        .contains("cortex-a53"));
    assert!(t("x86_64-unknown-linux-gnu", None).is_err());
    assert!(t("thumbv7m-none-eabihf", None).is_err());
}

#[test]
fn constant_addresses_fold_into_the_load_immediate() {
    let mut f = new_fn("const_addr", 1, 1);
    let mut b = FunctionBuilder::new(&mut f);
    let e = b.create_block();
    b.switch_to_block(e);
    let x = b.append_block_param(e, Type::I32);
    let k = b.iconst(Type::I32, 100);
    let a = b.mem_addr(MemIdx(0), k);
    b.store(StoreKind::I32, a, x, 8);
    let far = b.iconst(Type::I32, 5000);
    let a2 = b.mem_addr(MemIdx(0), far);
    let y = b.load(LoadKind::I32_16S, a2, 0);
    b.ret(&[y]);
    let c = compile(&f);
    let asm = c.asm.unwrap();
    assert!(asm.contains("str.w r0, [r11, #108]"), "{asm}");
    // 5000 is not an imm12: materialized, then register-offset addressing.
    assert!(asm.contains("ldrsh.w r0, [r11, r"), "{asm}");
}

#[test]
fn jump_table_entries_share_edge_blocks() {
    let mut f = new_fn("big_table", 1, 1);
    let mut b = FunctionBuilder::new(&mut f);
    let e = b.create_block();
    b.switch_to_block(e);
    let x = b.append_block_param(e, Type::I32);
    let blocks: Vec<Block> = (0..3).map(|_| b.create_block()).collect();
    let targets = (0..50).map(|i| blocks[i % 2]).collect();
    b.br_table(x, targets, blocks[2]);
    for (k, blk) in blocks.iter().enumerate() {
        b.switch_to_block(*blk);
        let c = b.iconst(Type::I32, k as u64);
        b.ret(&[c]);
    }
    let c = compile(&f);
    let asm = c.asm.clone().unwrap();
    assert_eq!(c.data_ranges.len(), 1);
    let (s, e) = c.data_ranges[0];
    assert_eq!(e - s, 100, "{asm}");
    // Only two distinct edge targets after the table (the default is
    // reached by the bounds branch); everything else is the three returns.
    let after_table = &c.code[e as usize..];
    assert!(after_table.len() <= 40, "{} bytes after the table:\n{asm}", after_table.len());
}

/// `call_indirect` as the frontend emits it: size check, null check, type
/// id check, then `call_ref` (5 parameters: one on the stack; 2 results).
#[test]
fn call_ref_lowers_to_blx_through_the_descriptor() {
    let mut f = new_fn("dispatch", 6, 2);
    let mut b = FunctionBuilder::new(&mut f);
    let e = b.create_block();
    b.switch_to_block(e);
    let p: Vec<Value> = (0..6).map(|_| b.append_block_param(e, Type::I32)).collect();
    let t = TableIdx(0);
    let size = b.table_size(t);
    let ok = b.icmp(IntCC::LtU, p[5], size);
    b.trapz(ok, TrapCode::TableOutOfBounds);
    let r = b.table_get(t, p[5]);
    b.trapz(r, TrapCode::UninitializedElement);
    let actual = b.func_ref_type_id(r);
    let expected = b.type_id(SigIdx(0));
    let same = b.icmp(IntCC::Eq, actual, expected);
    b.trapz(same, TrapCode::IndirectCallTypeMismatch);
    let res = b.call_ref(SigIdx(0), r, &p[..5], &[Type::I32, Type::I32]);
    // Use a parameter after the call so it must survive the clobbers.
    let s = b.binary(BinaryOp::Add, res[1], p[0]);
    b.ret(&[res[0], s]);
    verify(&f).unwrap_or_else(|e| panic!("{e}"));
    let mut m = module(vec![sig(6, 2)]);
    m.types = vec![sig(5, 2)];
    let c = compile_function_checked(&f, &m, &isa(), &BackendOptions { emit_asm: true })
        .unwrap_or_else(|e| panic!("{e}"));
    let asm = c.asm.clone().unwrap();
    assert!(asm.contains("blx r"), "{asm}");
    assert!(asm.contains("[sp, #0]"), "stack argument: {asm}");
    assert!(asm.contains("lsl #2"), "scaled table index: {asm}");
    assert!(asm.contains(", #4]"), "type id load from the descriptor: {asm}");
    for target in [RelocTarget::Table(0), RelocTarget::TableSize(0), RelocTarget::TypeId(0)] {
        assert!(c.relocs.iter().any(|r| r.target == target), "no reloc to {target:?}: {asm}");
    }
    for code in [8, 7, 6] {
        assert!(asm.contains(&format!("udf #{code}")), "trap {code}: {asm}");
    }
}

#[test]
fn tables_func_refs_and_mem_max_use_their_symbols() {
    let mut f = new_fn("misc", 2, 1);
    let mut b = FunctionBuilder::new(&mut f);
    let e = b.create_block();
    b.switch_to_block(e);
    let x = b.append_block_param(e, Type::I32);
    let _y = b.append_block_param(e, Type::I32);
    let r = b.func_ref(FuncIdx(2));
    b.table_set(TableIdx(1), x, r);
    let n = b.iconst(Type::I32, 3);
    b.table_set_size(TableIdx(1), n);
    let max = b.mem_max(MemIdx(1));
    b.ret(&[max]);
    let c = compile(&f);
    for target in [
        RelocTarget::FuncDescriptor(2),
        RelocTarget::Table(1),
        RelocTarget::TableSize(1),
        RelocTarget::MemoryMax(1),
    ] {
        assert_eq!(
            c.relocs.iter().filter(|r| r.target == target).count(),
            2,
            "MOVW+MOVT to {target:?}: {:?}",
            c.asm
        );
    }
}

#[test]
fn backend_gaps_are_unsupported_and_bugs_are_internal() {
    let m = module(vec![sig(2, 1)]);
    let mut f = Function::new(FuncIdx(0), "five", sig(0, 5));
    let mut b = FunctionBuilder::new(&mut f);
    let e = b.create_block();
    b.switch_to_block(e);
    let c = b.iconst(Type::I32, 5);
    b.ret(&[c, c, c, c, c]);
    // Five results: the fifth goes to the caller's result area.
    let five = compile_function(&f, &m, &isa(), &BackendOptions { emit_asm: true }).unwrap();
    assert!(five.asm.unwrap().contains("str.w r"), "fifth result stored");

    // Broken IR (a block without a terminator) is a bug, not a gap.
    let mut f = new_fn("broken", 0, 0);
    let mut b = FunctionBuilder::new(&mut f);
    let e = b.create_block();
    b.switch_to_block(e);
    let _ = b.iconst(Type::I32, 1);
    let err = compile_function(&f, &m, &isa(), &BackendOptions::default()).unwrap_err();
    assert_eq!(err.kind, BackendErrorKind::Internal, "{err}");
}

fn sig64(params: &[Type], results: &[Type]) -> Signature {
    Signature {
        params: params.to_vec(),
        results: results.to_vec(),
    }
}

/// i64 add is ADDS/ADC; a leaf without a frame has no stack check.
#[test]
fn i64_add_is_adds_adc_and_leaf_has_no_stack_check() {
    let mut f = Function::new(FuncIdx(0), "add64", sig64(&[Type::I64, Type::I64], &[Type::I64]));
    let mut b = FunctionBuilder::new(&mut f);
    let e = b.create_block();
    b.switch_to_block(e);
    let x = b.append_block_param(e, Type::I64);
    let y = b.append_block_param(e, Type::I64);
    let s = b.binary(BinaryOp::Add, x, y);
    b.ret(&[s]);
    let c = compile(&f);
    let asm = c.asm.unwrap();
    println!("{asm}");
    assert!(asm.contains("adds.w r0, "), "{asm}");
    assert!(asm.contains("adc.w r1, r1, r3") || asm.contains("adc.w r1, r3, r1"), "{asm}");
    assert!(!asm.contains("udf"), "{asm}");
    assert!(c.relocs.is_empty());
}

/// A function that calls checks `SP - frame >= __bulkhead_stack_limit`
/// before pushing anything, and traps with `udf #9`.
#[test]
fn calls_check_the_stack_limit_first() {
    let mut f = new_fn("calls", 2, 1);
    let mut b = FunctionBuilder::new(&mut f);
    let e = b.create_block();
    b.switch_to_block(e);
    let x = b.append_block_param(e, Type::I32);
    let y = b.append_block_param(e, Type::I32);
    let r = b.call(FuncIdx(0), &[y, x], &[Type::I32])[0];
    let s = b.binary(BinaryOp::Add, r, x);
    b.ret(&[s]);
    let c = compile(&f);
    let asm = c.asm.unwrap();
    println!("{asm}");
    let lines: Vec<&str> = asm.lines().filter(|l| l.starts_with("  ")).map(|l| &l[25..]).collect();
    assert!(lines[0].starts_with("movw r12, #0"), "{asm}");
    assert!(lines[1].starts_with("movt r12, #0"), "{asm}");
    assert!(lines[2].starts_with("ldr.w r12, [r12"), "{asm}");
    assert!(lines[3].starts_with("addw r12, r12, #"), "{asm}");
    assert!(lines[4].starts_with("cmp.w sp, r12"), "{asm}");
    assert!(lines[5].starts_with("blo"), "{asm}");
    assert!(lines[6].starts_with("push"), "{asm}");
    assert!(asm.contains("udf #9"), "{asm}");
    let limit: Vec<_> = c.relocs.iter().filter(|r| r.target == RelocTarget::StackLimit).collect();
    assert_eq!(limit.len(), 2);
    assert_eq!(limit[0].kind, RelocKind::ThumbMovwAbsNc);
    assert_eq!(limit[1].kind, RelocKind::ThumbMovtAbs);
}

/// 64-bit ordered comparisons fuse into branches: cmp + sbcs, no 0/1.
#[test]
fn i64_compare_fuses_into_brif() {
    let mut f = Function::new(FuncIdx(0), "lt64", sig64(&[Type::I64, Type::I64], &[Type::I32]));
    let mut b = FunctionBuilder::new(&mut f);
    let e = b.create_block();
    b.switch_to_block(e);
    let x = b.append_block_param(e, Type::I64);
    let y = b.append_block_param(e, Type::I64);
    let c = b.icmp(IntCC::GtS, x, y);
    return_one_if(&mut b, c);
    let c = compile(&f);
    let asm = c.asm.unwrap();
    println!("{asm}");
    assert!(asm.contains("sbcs.w"), "{asm}");
    assert!(!asm.contains("ite"), "{asm}");
}

/// i64 parameters follow the AAPCS: (i32, i64) puts the i64 in r2:r3,
/// (i32, i32, i32, i64) puts it 8-byte aligned on the stack.
#[test]
fn aapcs_locations_of_i64() {
    use crate::lower::{aapcs_locations, ArgLoc::*};
    assert_eq!(aapcs_locations(&[Type::I32, Type::I64]), vec![vec![Reg(0)], vec![Reg(2), Reg(3)]]);
    assert_eq!(
        aapcs_locations(&[Type::I32, Type::I32, Type::I32, Type::I64, Type::I32]),
        vec![vec![Reg(0)], vec![Reg(1)], vec![Reg(2)], vec![Stack(0), Stack(4)], vec![Stack(8)]]
    );
    assert_eq!(
        aapcs_locations(&[Type::I64, Type::I64, Type::I32, Type::I64]),
        vec![vec![Reg(0), Reg(1)], vec![Reg(2), Reg(3)], vec![Stack(0)], vec![Stack(8), Stack(12)]]
    );
}

/// The 64-bit division runtime routines pass regalloc2's checker.
#[test]
fn divmod64_runtime_routines_pass_the_checker() {
    for signed in [false, true] {
        let f = crate::runtime::divmod64_ir(signed);
        verify(&f).unwrap();
        let c = compile_function_checked(&f, &ModuleInfo::default(), &isa(), &BackendOptions { emit_asm: true })
            .unwrap_or_else(|e| panic!("{e}"));
        let asm = c.asm.unwrap();
        // No libgcc: nothing but the stack limit is referenced.
        assert!(c.relocs.iter().all(|r| r.target == RelocTarget::StackLimit), "{asm}");
        assert!(asm.contains("udiv"), "{asm}");
    }
}

/// Ends the current block with `brif c` to two blocks returning 1 and 2.
fn return_one_if(b: &mut FunctionBuilder, c: Value) {
    let t = b.create_block();
    let el = b.create_block();
    b.brif(c, t, &[], el, &[]);
    b.switch_to_block(t);
    let one = b.iconst(Type::I32, 1);
    b.ret(&[one]);
    b.switch_to_block(el);
    let two = b.iconst(Type::I32, 2);
    b.ret(&[two]);
}

// ---- Floats ----

fn hard_isa() -> TargetIsa {
    TargetIsa {
        cpu: Cpu::CortexM4F,
        hard_float: true,
    }
}

fn compile_for(f: &Function, isa: &TargetIsa) -> CompiledFunction {
    verify(f).unwrap_or_else(|e| panic!("IR does not verify: {e}"));
    let m = module(vec![f.sig.clone()]);
    compile_function_checked(f, &m, isa, &BackendOptions { emit_asm: true }).unwrap_or_else(|e| panic!("{e}"))
}

fn float_fn(name: &str, params: &[Type], results: &[Type]) -> Function {
    Function::new(
        FuncIdx(0),
        name,
        Signature {
            params: params.to_vec(),
            results: results.to_vec(),
        },
    )
}

fn runtime_calls(c: &CompiledFunction) -> Vec<&'static str> {
    c.relocs
        .iter()
        .filter_map(|r| match r.target {
            RelocTarget::Runtime(n) => Some(n),
            _ => None,
        })
        .collect()
}

/// AAPCS-VFP: f32 in the lowest free single register, f64 in the lowest
/// free double register (an f32 back-fills the gap), integers unaffected;
/// once a float went to the stack no later float uses a VFP register.
/// The same example as testkit's `aapcs_vfp_backfill`.
#[test]
fn aapcs_vfp_locations_back_fill() {
    use crate::lower::{aapcs_vfp_locations, ArgLoc::*};
    assert_eq!(
        aapcs_vfp_locations(&[Type::F32, Type::F64, Type::F32, Type::I32]),
        vec![vec![Vfp(0)], vec![Vfp(2), Vfp(3)], vec![Vfp(1)], vec![Reg(0)]]
    );
    // 15 f32 fill s0-s14; an f64 then needs a free pair: none, so the
    // stack, and the next f32 may not back-fill s15.
    let mut tys = vec![Type::F32; 15];
    tys.extend([Type::F64, Type::F32, Type::I64]);
    let locs = aapcs_vfp_locations(&tys);
    assert_eq!(locs[14], vec![Vfp(14)]);
    assert_eq!(locs[15], vec![Stack(0), Stack(4)]);
    assert_eq!(locs[16], vec![Stack(8)]);
    assert_eq!(locs[17], vec![Reg(0), Reg(1)]);
    // Soft float: floats are i32/i64 words.
    assert_eq!(
        crate::lower::aapcs_locations(&[Type::F32, Type::F64]),
        vec![vec![Reg(0)], vec![Reg(2), Reg(3)]]
    );
}

fn f32_binary_fn(op: FloatBinaryOp) -> Function {
    let mut f = float_fn("fadd", &[Type::F32, Type::F32], &[Type::F32]);
    {
        let mut b = FunctionBuilder::new(&mut f);
        let e = b.create_block();
        b.switch_to_block(e);
        let x = b.append_block_param(e, Type::F32);
        let y = b.append_block_param(e, Type::F32);
        let r = b.fbinary(op, x, y);
        b.ret(&[r]);
    }
    f
}

/// On a hard-float target f32 arithmetic is VFP through s0/s1, with the
/// parameters read from s0/s1 and the result returned in s0; on a soft
/// target it is a call of the soft-float routine with the bits in r0/r1.
#[test]
fn f32_add_uses_vfp_or_the_soft_routine() {
    let f = f32_binary_fn(FloatBinaryOp::Add);
    let hard = compile_for(&f, &hard_isa());
    let asm = hard.asm.clone().unwrap();
    assert!(asm.contains("vadd.f32 s0, s0, s1"), "{asm}");
    assert!(asm.contains(", s0\n") && asm.contains(", s1\n"), "parameters from s0/s1: {asm}");
    assert!(runtime_calls(&hard).is_empty(), "{asm}");
    let soft = compile_for(&f, &isa());
    assert_eq!(runtime_calls(&soft), ["f32_add"], "{:?}", soft.asm);
    // min has no VFP instruction on these cores: a call on both.
    let min = compile_for(&f32_binary_fn(FloatBinaryOp::Min), &hard_isa());
    assert_eq!(runtime_calls(&min), ["f32_min"]);
}

/// abs/neg/copysign are sign-bit operations (payload-preserving), never
/// calls; the f64 forms only touch the high word.
#[test]
fn sign_operations_are_bit_operations() {
    let mut f = float_fn("signs", &[Type::F64, Type::F64], &[Type::F64]);
    {
        let mut b = FunctionBuilder::new(&mut f);
        let e = b.create_block();
        b.switch_to_block(e);
        let x = b.append_block_param(e, Type::F64);
        let y = b.append_block_param(e, Type::F64);
        let a = b.funary(FloatUnaryOp::Abs, x);
        let n = b.funary(FloatUnaryOp::Neg, a);
        let c = b.fbinary(FloatBinaryOp::Copysign, n, y);
        b.ret(&[c]);
    }
    for isa in [isa(), hard_isa()] {
        let c = compile_for(&f, &isa);
        let asm = c.asm.clone().unwrap();
        assert!(runtime_calls(&c).is_empty(), "{asm}");
        assert!(asm.contains("bic.w") && asm.contains("eor.w") && asm.contains("#0x80000000"), "{asm}");
    }
}

/// A brif on an f32 comparison is `vcmp` + `vmrs` + a conditional branch
/// (no 0/1 materialization); `lt` uses MI (false when unordered).
#[test]
fn f32_compare_and_branch_is_fused() {
    let mut f = float_fn("fcmp", &[Type::F32, Type::F32], &[Type::I32]);
    {
        let mut b = FunctionBuilder::new(&mut f);
        let e = b.create_block();
        b.switch_to_block(e);
        let x = b.append_block_param(e, Type::F32);
        let y = b.append_block_param(e, Type::F32);
        let c = b.fcmp(FloatCC::Lt, x, y);
        return_one_if(&mut b, c);
    }
    let c = compile_for(&f, &hard_isa());
    let asm = c.asm.unwrap();
    assert!(asm.contains("vcmp.f32 s0, s1") && asm.contains("vmrs APSR_nzcv, fpscr"), "{asm}");
    assert!(asm.contains("bmi") || asm.contains("bpl"), "{asm}");
    assert!(!asm.contains("ite"), "{asm}");
    let soft = compile_for(&f, &isa());
    assert_eq!(runtime_calls(&soft), ["f32_lt"]);
}

/// Many mixed float and integer parameters (more than the VFP and core
/// argument registers) pass the regalloc2 checker on both ABIs, and a
/// call passes them on.
#[test]
fn many_float_parameters_compile() {
    let mut tys = Vec::new();
    for k in 0..30 {
        tys.push([Type::F32, Type::F64, Type::I32, Type::I64, Type::F64][k % 5]);
    }
    let mut f = float_fn("many", &tys, &[Type::F64, Type::F32, Type::I64]);
    {
        let mut b = FunctionBuilder::new(&mut f);
        let e = b.create_block();
        b.switch_to_block(e);
        let ps: Vec<Value> = tys.iter().map(|&t| b.append_block_param(e, t)).collect();
        let r = b.call(FuncIdx(0), &ps, &[Type::F64, Type::F32, Type::I64]);
        b.ret(&r);
    }
    for isa in [isa(), hard_isa()] {
        compile_for(&f, &isa);
    }
}

/// The backend's list of soft-float routine names covers every routine
/// `bulkhead_softfloat` defines (the two must agree on names).
#[test]
fn softfloat_routine_names_agree() {
    for r in bulkhead_softfloat::routines() {
        assert!(
            crate::runtime::SOFTFLOAT_ROUTINES.contains(&r.name),
            "bulkhead_softfloat defines `{}`, which the backend never calls",
            r.name
        );
    }
}

/// On Cortex-M7 (FPv5-D16) f64 arithmetic, sqrt, comparisons (fused into
/// branches), i32 conversions and promote/demote are VFP instructions
/// through d0/d1; on Cortex-M4F they call the soft-float routines.
#[test]
fn f64_uses_vfp_on_cortex_m7_only() {
    let mut f = float_fn("f64ops", &[Type::F64, Type::F64, Type::I32], &[Type::F64, Type::I32, Type::F32]);
    {
        let mut b = FunctionBuilder::new(&mut f);
        let e = b.create_block();
        let t = b.create_block();
        let el = b.create_block();
        b.switch_to_block(e);
        let x = b.append_block_param(e, Type::F64);
        let y = b.append_block_param(e, Type::F64);
        let n = b.append_block_param(e, Type::I32);
        let s = b.fbinary(FloatBinaryOp::Add, x, y);
        let q = b.funary(FloatUnaryOp::Sqrt, s);
        let c = b.convert(ConvertOp::SIntToFloat, Type::F64, n);
        let m = b.fbinary(FloatBinaryOp::Div, q, c);
        let i = b.convert(ConvertOp::FloatToUIntSat, Type::I32, m);
        let d = b.convert(ConvertOp::FDemote, Type::F32, m);
        let p = b.convert(ConvertOp::FPromote, Type::F64, d);
        let lt = b.fcmp(FloatCC::Lt, p, y);
        b.brif(lt, t, &[], el, &[]);
        b.switch_to_block(t);
        b.ret(&[m, i, d]);
        b.switch_to_block(el);
        b.ret(&[p, i, d]);
    }
    let m7 = TargetIsa {
        cpu: Cpu::CortexM7,
        hard_float: true,
    };
    let c = compile_for(&f, &m7);
    let asm = c.asm.clone().unwrap();
    assert!(runtime_calls(&c).is_empty(), "{asm}");
    for insn in [
        "vadd.f64 d0, d0, d1",
        "vsqrt.f64 d0, d0",
        "vcvt.f64.s32 d0, s0",
        "vdiv.f64 d0, d0, d1",
        "vcvt.u32.f64 s0, d0",
        "vcvt.f32.f64 s0, d0",
        "vcvt.f64.f32 d0, s0",
        "vcmp.f64 d0, d1",
    ] {
        assert!(asm.contains(insn), "{insn} missing:\n{asm}");
    }
    let m4f = compile_for(&f, &hard_isa());
    let mut calls = runtime_calls(&m4f);
    calls.sort_unstable();
    assert_eq!(
        calls,
        ["f32_demote_f64", "f64_add", "f64_div", "f64_from_i32", "f64_lt", "f64_promote_f32", "f64_sqrt", "f64_to_u32_sat"]
    );
}
