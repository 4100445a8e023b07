//! End-to-end tests of the object writer against independent oracles:
//! GNU readelf/objdump read the object, GNU ld and LLVM lld link it with
//! GCC-compiled C, and objdump's disassembly of the linked image shows where
//! every relocated instruction ended up.

use bulkhead_elf::{write_object, ArmArch, ObjectInput};
use bulkhead_ir::{Signature, Type};
use bulkhead_thumb::{CompiledFunction, Reloc, RelocKind, RelocTarget};
use bulkhead_wasm::{ConstExpr, DataKind, DataSegment, FuncDecl, GlobalDecl, Import, MemoryDecl, ModuleEnv};
use object::{Object, ObjectSection, ObjectSymbol};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn import(module: &str, name: &str) -> Option<Import> {
    Some(Import { module: module.into(), name: name.into() })
}

fn func(import_: Option<Import>, exports: &[&str]) -> FuncDecl {
    FuncDecl {
        sig: Signature { params: vec![], results: vec![Type::I32] },
        type_index: 0,
        import: import_,
        exports: exports.iter().map(|s| s.to_string()).collect(),
    }
}

fn memory(reserved: u64, import_: Option<Import>, exports: &[&str]) -> MemoryDecl {
    MemoryDecl {
        page_size_log2: 0,
        min_pages: 0,
        max_pages: Some(reserved),
        reserved_bytes: reserved,
        mask_span: None,
        import: import_,
        exports: exports.iter().map(|s| s.to_string()).collect(),
    }
}

fn global(ty: Type, import_: Option<Import>, exports: &[&str]) -> GlobalDecl {
    GlobalDecl {
        ty,
        value_type: match ty {
            Type::I64 => bulkhead_wasm::ValueType::I64,
            Type::F32 => bulkhead_wasm::ValueType::F32,
            Type::F64 => bulkhead_wasm::ValueType::F64,
            _ => bulkhead_wasm::ValueType::I32,
        },
        mutable: true,
        init: if import_.is_some() { None } else { Some(ConstExpr::I32(0)) },
        import: import_,
        exports: exports.iter().map(|s| s.to_string()).collect(),
    }
}

/// A module with imports and exports of every kind, two defined memories of
/// different sizes and one imported memory.
fn test_env() -> ModuleEnv {
    ModuleEnv {
        types: vec![Signature { params: vec![], results: vec![Type::I32] }],
        funcs: vec![
            func(import("env", "log"), &[]),
            func(import("env", "re-exported"), &["reexp"]),
            func(None, &["run"]),
            func(None, &["helper$x"]),
        ],
        num_imported_funcs: 2,
        memories: vec![
            memory(65536, None, &["mem"]),
            memory(100, None, &[]),
            memory(4096, import("other", "heap"), &[]),
        ],
        globals: vec![
            global(Type::I32, None, &["counter"]),
            global(Type::I64, None, &[]),
            global(Type::I32, import("env", "g"), &[]),
        ],
        data: vec![
            DataSegment { kind: DataKind::Active { memory: 0, offset: ConstExpr::I32(8) }, bytes: b"hello".to_vec() },
            DataSegment { kind: DataKind::Passive, bytes: vec![1, 2, 3] },
        ],
        start: None,
        ..ModuleEnv::default()
    }
}

fn reloc(offset: u32, kind: RelocKind, target: RelocTarget, addend: i32) -> Reloc {
    Reloc { offset, kind, target, addend }
}

fn halfwords(hws: &[u16]) -> Vec<u8> {
    hws.iter().flat_map(|h| h.to_le_bytes()).collect()
}

/// Function 2 (`run`): MOVW/MOVT of memory 1's base + 0x10, calls to the
/// re-exported import and to `env.log`, and a literal pool word holding the
/// address of memory 0's size.
fn run_function() -> CompiledFunction {
    let mut code = halfwords(&[
        0xB580, // 0: push {r7, lr}
        0xF240, 0x0000, // 2: movw r0, #0
        0xF2C0, 0x0000, // 6: movt r0, #0
        0x6800, // 10: ldr r0, [r0]
        0xF000, 0xF800, // 12: bl
        0xF000, 0xF800, // 16: bl
        0x4801, // 20: ldr r0, [pc, #4]  (literal at 28)
        0xBD80, // 22: pop {r7, pc}
        0xBF00, 0xBF00, // 24: nop; nop
    ]);
    code.extend_from_slice(&0xDEADBEEFu32.to_le_bytes()); // 28: literal
    CompiledFunction {
        code,
        relocs: vec![
            reloc(2, RelocKind::ThumbMovwAbsNc, RelocTarget::MemoryBase(1), 0x10),
            reloc(6, RelocKind::ThumbMovtAbs, RelocTarget::MemoryBase(1), 0x10),
            reloc(12, RelocKind::ThumbCall, RelocTarget::Function(1), -4),
            reloc(16, RelocKind::ThumbCall, RelocTarget::Function(0), -4),
            reloc(28, RelocKind::Abs32, RelocTarget::MemorySize(0), 0),
        ],
        data_ranges: vec![(28, 32)],
        dominant_memory: Some(1),
        asm: None,
    }
}

/// Function 3: loads global 0, tail-calls the memmove runtime routine.
fn helper_function() -> CompiledFunction {
    CompiledFunction {
        code: halfwords(&[
            0xF240, 0x0100, // 0: movw r1, #0
            0xF2C0, 0x0100, // 4: movt r1, #0
            0x6808, // 8: ldr r0, [r1]
            0xF000, 0xB800, // 10: b.w
        ]),
        relocs: vec![
            reloc(0, RelocKind::ThumbMovwAbsNc, RelocTarget::Global(0), 0),
            reloc(4, RelocKind::ThumbMovtAbs, RelocTarget::Global(0), 0),
            reloc(10, RelocKind::ThumbJump24, RelocTarget::Runtime("memmove"), -4),
        ],
        data_ranges: vec![],
        dominant_memory: None,
        asm: None,
    }
}

fn instantiate_function() -> CompiledFunction {
    CompiledFunction {
        code: halfwords(&[
            0xF240, 0x0200, // movw r2, #0
            0xF2C0, 0x0200, // movt r2, #0
            0xF000, 0xF800, // bl run
            0x2000, // movs r0, #0
            0xBD00, // pop {pc}
        ]),
        relocs: vec![
            reloc(0, RelocKind::ThumbMovwAbsNc, RelocTarget::DataSegment(0), 0),
            reloc(4, RelocKind::ThumbMovtAbs, RelocTarget::DataSegment(0), 0),
            reloc(8, RelocKind::ThumbCall, RelocTarget::Function(2), -4),
        ],
        ..Default::default()
    }
}

fn bx_lr() -> CompiledFunction {
    CompiledFunction { code: halfwords(&[0x4770]), ..Default::default() }
}

struct Fixture {
    env: ModuleEnv,
    functions: Vec<(u32, CompiledFunction)>,
    instantiate: CompiledFunction,
    runtime: Vec<(&'static str, CompiledFunction)>,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            env: test_env(),
            functions: vec![(3, helper_function()), (2, run_function())],
            instantiate: instantiate_function(),
            runtime: vec![("memmove", bx_lr()), ("memset", bx_lr())],
        }
    }

    fn input(&self, hard_float: bool) -> ObjectInput<'_> {
        ObjectInput {
            name: "tst",
            env: &self.env,
            functions: &self.functions,
            instantiate: &self.instantiate,
            runtime: &self.runtime,
            hard_float,
            arch: ArmArch::V7EM,
        }
    }

    fn write(&self, hard_float: bool) -> Vec<u8> {
        write_object(&self.input(hard_float)).expect("write_object")
    }
}

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bulkhead-elf-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} (is the ARM toolchain installed? scripts/setup.sh): {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

fn readelf(obj: &Path, flags: &[&str]) -> String {
    run(Command::new("arm-none-eabi-readelf").args(["-W"]).args(flags).arg(obj))
}

/// The line of `readelf -s` output for `name`, split into fields
/// (Num, Value, Size, Type, Bind, Vis, Ndx, Name).
fn symbol_line(symbols: &str, name: &str) -> Vec<String> {
    symbols
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .find(|f| f.len() == 8 && f[7] == name)
        .unwrap_or_else(|| panic!("symbol {name} not in:\n{symbols}"))
}

#[test]
fn object_has_the_abi_sections_symbols_and_relocations() {
    let fx = Fixture::new();
    let dir = temp_dir("sections");
    let obj = dir.join("tst.o");
    std::fs::write(&obj, fx.write(true)).unwrap();

    let header = readelf(&obj, &["-h"]);
    assert!(header.contains("ELF32"), "{header}");
    assert!(header.contains("ARM"), "{header}");
    assert!(header.contains("REL (Relocatable file)"), "{header}");
    assert!(header.contains("Version5 EABI, hard-float ABI"), "{header}");

    // Large section alignments must not pad the file.
    assert!(std::fs::metadata(&obj).unwrap().len() < 8192, "object file is padded");
    let sections = readelf(&obj, &["-S"]);
    let section = |name: &str| -> Vec<String> {
        sections
            .lines()
            .find(|l| l.split_whitespace().any(|w| w == name))
            .unwrap_or_else(|| panic!("section {name} missing:\n{sections}"))
            .split(']')
            .nth(1)
            .unwrap()
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    // Fields: Name Type Addr Off Size ES Flg Lk Inf Al
    let mem0 = section(".bulkhead.mem.0");
    assert_eq!(&mem0[1], "NOBITS");
    assert_eq!(&mem0[4], "010000"); // 65536 bytes
    assert_eq!(&mem0[6], "WA");
    assert_eq!(&mem0[9], "65536");
    let mem1 = section(".bulkhead.mem.1");
    assert_eq!(&mem1[1], "NOBITS");
    assert_eq!(&mem1[4], "000064"); // 100 bytes
    assert_eq!(&mem1[9], "128");
    assert!(!sections.contains(".bulkhead.mem.2"), "imported memory must not get a section:\n{sections}");
    assert_eq!(&section(".text")[6], "AX");
    assert_eq!(&section(".rodata")[6], "A");
    assert_eq!(&section(".bss")[1], "NOBITS");
    assert_eq!(&section(".bss")[9], "8"); // holds an i64 global
    assert_eq!(&section(".ARM.attributes")[1], "ARM_ATTRIBUTES");
    assert_eq!(&section(".rel.text")[1], "REL");
    assert_eq!(&section(".rel.rodata")[1], "REL");

    let symbols = readelf(&obj, &["-s"]);
    let sym = |name: &str| symbol_line(&symbols, name);
    // Thumb functions: odd values, FUNC type.
    for (name, bind) in [
        ("tst_run", "GLOBAL"),
        ("tst.f2", "LOCAL"),
        ("tst_helper$24x", "GLOBAL"),
        ("tst.f3", "LOCAL"),
        ("tst_reexp", "GLOBAL"),
        ("tst__instantiate", "GLOBAL"),
        ("tst.rt.memmove", "LOCAL"),
    ] {
        let f = sym(name);
        assert_eq!(f[3], "FUNC", "{name}: {f:?}");
        assert_eq!(f[4], bind, "{name}: {f:?}");
        let value = u32::from_str_radix(&f[1], 16).unwrap();
        assert_eq!(value & 1, 1, "{name} must have the Thumb bit: {f:?}");
        assert_eq!((value & !1) % 4, 0, "{name} must be 4-byte aligned: {f:?}");
    }
    assert_eq!(sym("tst_run")[1], sym("tst.f2")[1]);
    assert_eq!(sym("tst_run")[2], "32");
    assert!(!symbols.contains("tst.rt.memset"), "unreferenced runtime routine must be dropped");
    // Memories.
    let mem0 = sym("tst__mem0");
    assert_eq!((mem0[2].as_str(), mem0[3].as_str(), mem0[4].as_str()), ("65536", "OBJECT", "GLOBAL"));
    assert_eq!(sym("tst_mem")[1], mem0[1], "export alias of memory 0");
    assert_eq!(sym("tst__mem1")[2], "100");
    for name in ["tst__mem0_size", "tst__mem1_size", "tst_mem__size", "tst__mem0_max", "tst__mem1_max"] {
        let f = sym(name);
        assert_eq!((f[2].as_str(), f[3].as_str(), f[4].as_str()), ("4", "OBJECT", "GLOBAL"), "{name}");
    }
    assert_eq!(sym("tst_mem__size")[1], sym("tst__mem0_size")[1]);
    assert_eq!(sym("tst__memories")[2], "36"); // 3 memories x 12 bytes
    assert!(!symbols.contains("tst__mem2"), "imported memory has no NAME_mem2 symbols");
    // Imports are undefined.
    for name in ["env_log", "env_re$2Dexported", "other_heap", "other_heap__size", "env_g"] {
        assert_eq!(sym(name)[6], "UND", "{name}");
    }
    // Globals and data.
    assert_eq!(sym("tst.g0")[4], "LOCAL");
    assert_eq!(sym("tst_counter")[1], sym("tst.g0")[1]);
    assert_eq!(sym("tst.g1")[2], "8");
    assert_eq!(sym("tst.d0")[2], "5");
    assert_eq!(sym("tst.d1")[2], "3");
    assert_eq!(symbols.matches(" $d").count(), 1, "{symbols}");

    let relocs = readelf(&obj, &["-r"]);
    let has = |ty: &str, target: &str| {
        relocs.lines().any(|l| {
            let f: Vec<_> = l.split_whitespace().collect();
            f.len() >= 5 && f[2] == ty && f[4] == target
        })
    };
    for (ty, target) in [
        ("R_ARM_THM_MOVW_ABS_NC", "tst__mem1"),
        ("R_ARM_THM_MOVT_ABS", "tst__mem1"),
        ("R_ARM_THM_CALL", "env_log"),
        ("R_ARM_THM_CALL", "tst.f2"),
        ("R_ARM_THM_JUMP24", "tst.rt.memmove"),
        ("R_ARM_THM_JUMP24", "env_re$2Dexported"),
        ("R_ARM_ABS32", "tst__mem0_size"),
        ("R_ARM_THM_MOVW_ABS_NC", "tst.g0"),
        ("R_ARM_THM_MOVW_ABS_NC", "tst.d0"),
        ("R_ARM_ABS32", "tst__mem0"),
        ("R_ARM_ABS32", "other_heap"),
        ("R_ARM_ABS32", "other_heap__size"),
    ] {
        assert!(has(ty, target), "missing {ty} against {target}:\n{relocs}");
    }

    let attrs = readelf(&obj, &["-A"]);
    for expected in [
        "Tag_CPU_name: \"7E-M\"",
        "Tag_CPU_arch: v7E-M",
        "Tag_CPU_arch_profile: Microcontroller",
        "Tag_THUMB_ISA_use: Thumb-2",
        "Tag_ABI_VFP_args: VFP registers",
    ] {
        assert!(attrs.contains(expected), "missing {expected}:\n{attrs}");
    }

    // The disassembler honours the mapping symbols and sees the REL addends.
    let disasm = run(Command::new("arm-none-eabi-objdump").args(["-dr"]).arg(&obj));
    assert!(disasm.contains(".word\t0x00000000"), "literal pool must be data:\n{disasm}");
    assert!(disasm.contains("movw\tr0, #16"), "MOVW must carry the addend 0x10:\n{disasm}");
    assert!(disasm.contains("movt\tr0, #16"), "MOVT must carry the addend 0x10:\n{disasm}");
    assert!(disasm.contains("f7ff fffe \tbl"), "BL addend must be -4:\n{disasm}");
    assert!(disasm.contains("f7ff bffe \tb.w"), "B.W addend must be -4:\n{disasm}");
}

#[test]
fn mask_mode_memory_section_holds_the_span_and_the_guard() {
    let mut fx = Fixture::new();
    // Memory 1 reserves 100 bytes: its mask span is 128, its region 128 + 8.
    fx.env.memories[1].mask_span = Some(128);
    let dir = temp_dir("mask");
    let obj = dir.join("tst.o");
    std::fs::write(&obj, fx.write(true)).unwrap();
    let sections = readelf(&obj, &["-S"]);
    let mem1: Vec<&str> = sections
        .lines()
        .find(|l| l.split_whitespace().any(|w| w == ".bulkhead.mem.1"))
        .unwrap_or_else(|| panic!("no .bulkhead.mem.1:\n{sections}"))
        .split(']')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(mem1[4], "000088", "size = span + guard:\n{sections}");
    assert_eq!(mem1[9], "128", "aligned to the span:\n{sections}");
    let symbols = readelf(&obj, &["-s"]);
    let base = symbol_line(&symbols, "tst__mem1");
    assert_eq!(base[2], "136", "the base symbol covers the region: {base:?}");
}

#[test]
fn soft_float_objects_say_so() {
    let fx = Fixture::new();
    let dir = temp_dir("soft");
    let obj = dir.join("tst.o");
    std::fs::write(&obj, fx.write(false)).unwrap();
    let header = readelf(&obj, &["-h"]);
    assert!(header.contains("Version5 EABI, soft-float ABI"), "{header}");
    let attrs = readelf(&obj, &["-A"]);
    assert!(!attrs.contains("Tag_ABI_VFP_args"), "{attrs}");
}

#[test]
fn architectures_are_recorded() {
    for (arch, cpu_arch, gcc_cpu) in [
        (ArmArch::V7M, "Tag_CPU_arch: v7\n", "cortex-m3"),
        (ArmArch::V8MMain, "Tag_CPU_arch: v8-M.mainline", "cortex-m33"),
    ] {
        let fx = Fixture::new();
        let dir = temp_dir(&format!("arch-{gcc_cpu}"));
        let obj = dir.join("tst.o");
        let mut input = fx.input(false);
        input.arch = arch;
        std::fs::write(&obj, write_object(&input).unwrap()).unwrap();
        let attrs = readelf(&obj, &["-A"]);
        assert!(attrs.contains(cpu_arch), "{arch:?}:\n{attrs}");
        // Links warning-free with GCC code for the same CPU.
        let c = dir.join("stubs.o");
        compile_stubs(&dir, &c, &[&format!("-mcpu={gcc_cpu}"), "-mfloat-abi=soft"]);
        link_gnu(&dir, &obj, &c, "gnu.elf");
    }
}

#[test]
fn output_is_deterministic() {
    let fx = Fixture::new();
    assert_eq!(fx.write(true), fx.write(true));
    // Function order in the input does not matter either.
    let mut fx2 = Fixture::new();
    fx2.functions.reverse();
    assert_eq!(fx.write(true), fx2.write(true));
}

const STUBS_C: &str = r#"
#include <stdint.h>
/* The imports of the test module, as an embedder would define them. */
int env_log(void) { return 1; }
int env_re$2Dexported(void) { return 2; }
int32_t env_g;
uint8_t other_heap[4096] __attribute__((aligned(4096)));
uint32_t other_heap__size;
extern int tst_run(void);
extern int tst_reexp(void);
extern int32_t tst__instantiate(void);
#ifdef __ARM_FP
/* Floating point in the C code, so GCC records its float ABI attributes. */
float scale(float x) { return x * 2.0f; }
#endif
int use_module(void) { return tst__instantiate() + tst_run() + tst_reexp(); }
"#;

const LINKER_SCRIPT: &str = r#"
ENTRY(use_module)
MEMORY {
  FLASH (rx) : ORIGIN = 0x00000000, LENGTH = 256K
  RAM (rwx)  : ORIGIN = 0x20000000, LENGTH = 256K
}
SECTIONS {
  .text : { *(.text*) } > FLASH
  .rodata : { *(.rodata*) } > FLASH
  .ARM.exidx : { *(.ARM.exidx*) } > FLASH
  .bss (NOLOAD) : { *(.bss*) *(COMMON) } > RAM
  .bulkhead.mem.0 (NOLOAD) : { *(.bulkhead.mem.0) } > RAM
  .bulkhead.mem.1 (NOLOAD) : { *(.bulkhead.mem.1) } > RAM
}
"#;

fn compile_stubs(dir: &Path, out: &Path, flags: &[&str]) {
    let c = dir.join("stubs.c");
    std::fs::write(&c, STUBS_C).unwrap();
    run(Command::new("arm-none-eabi-gcc").args(["-O2", "-mthumb", "-c"]).args(flags).arg(&c).arg("-o").arg(out));
}

fn link_gnu(dir: &Path, obj: &Path, stubs: &Path, out: &str) -> PathBuf {
    let script = dir.join("link.ld");
    std::fs::write(&script, LINKER_SCRIPT).unwrap();
    let elf = dir.join(out);
    // --fatal-warnings: attribute mismatches are warnings in GNU ld.
    let text = run(Command::new("arm-none-eabi-ld")
        .arg("--fatal-warnings")
        .arg("-T")
        .arg(&script)
        .arg(obj)
        .arg(stubs)
        .arg("-o")
        .arg(&elf));
    assert!(text.trim().is_empty(), "ld printed diagnostics:\n{text}");
    elf
}

fn link_lld(dir: &Path, obj: &Path, stubs: &Path, out: &str) -> PathBuf {
    let script = dir.join("link.ld");
    std::fs::write(&script, LINKER_SCRIPT).unwrap();
    let elf = dir.join(out);
    let text = run(Command::new("ld.lld").arg("-T").arg(&script).arg(obj).arg(stubs).arg("-o").arg(&elf));
    assert!(text.trim().is_empty(), "ld.lld printed diagnostics:\n{text}");
    elf
}

/// Checks a linked image: every relocated instruction, read back through
/// objdump's disassembly, points at the symbol's final address.
fn check_linked(elf: &Path) {
    let data = std::fs::read(elf).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let addr: BTreeMap<String, u64> =
        file.symbols().filter_map(|s| Some((s.name().ok()?.to_string(), s.address()))).collect();
    let a = |name: &str| *addr.get(name).unwrap_or_else(|| panic!("{name} not in linked image"));

    let disasm = run(Command::new("arm-none-eabi-objdump").arg("-d").arg(elf));
    // Instruction at a given address: (raw bytes, mnemonic + operands).
    let insn_at = |address: u64| -> String {
        let prefix = format!("{address:x}:");
        disasm
            .lines()
            .map(str::trim_start)
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no instruction at {address:#x}:\n{disasm}"))
            .to_string()
    };

    let run_fn = a("tst_run") & !1;
    assert_eq!(a("tst_run") & 1, 1, "linked Thumb symbol keeps bit 0");
    let mem1 = a("tst__mem1");
    assert_eq!(mem1 % 128, 0, "memory 1 aligned for its MPU region");
    assert_eq!(a("tst__mem0") % 65536, 0, "memory 0 aligned for its MPU region");
    let movw = insn_at(run_fn + 2);
    let movt = insn_at(run_fn + 6);
    let target = mem1 + 0x10;
    assert!(movw.contains(&format!("movw\tr0, #{}", target & 0xFFFF)), "{movw} vs {target:#x}");
    assert!(movt.contains(&format!("movt\tr0, #{}", target >> 16)), "{movt} vs {target:#x}");
    let bl1 = insn_at(run_fn + 12);
    // A call of an imported function goes straight to the import, not
    // through the re-export thunk.
    assert!(bl1.contains(&format!("bl\t{:x} <env_re$2Dexported>", a("env_re$2Dexported") & !1)), "{bl1}");
    let bl2 = insn_at(run_fn + 16);
    assert!(bl2.contains(&format!("bl\t{:x} <env_log>", a("env_log") & !1)), "{bl2}");
    let literal = insn_at(run_fn + 28);
    assert!(literal.contains(&format!("{:08x}", a("tst__mem0_size"))), "{literal}");

    let helper = a("tst_helper$24x") & !1;
    let bw = insn_at(helper + 10);
    assert!(bw.contains(&format!("b.w\t{:x} <tst.rt.memmove>", a("tst.rt.memmove") & !1)), "{bw}");
    let g0 = a("tst.g0");
    assert!(insn_at(helper).contains(&format!("movw\tr1, #{}", g0 & 0xFFFF)));
    assert!(insn_at(helper + 4).contains(&format!("movt\tr1, #{}", g0 >> 16)));

    let thunk = a("tst_reexp") & !1;
    let jump = insn_at(thunk);
    assert!(jump.contains(&format!("b.w\t{:x} <env_re$2Dexported>", a("env_re$2Dexported") & !1)), "{jump}");

    let inst = a("tst__instantiate") & !1;
    assert!(
        insn_at(inst + 8).contains(&format!("bl\t{run_fn:x} <tst_run>"))
            || insn_at(inst + 8).contains(&format!("bl\t{run_fn:x} <tst.f2>"))
    );

    // The memory table: {base, size*, max} per memory.
    let rodata = file.section_by_name(".rodata").unwrap();
    let bytes = rodata.data().unwrap();
    let word = |address: u64| {
        let off = (address - rodata.address()) as usize;
        u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap()) as u64
    };
    let table = a("tst__memories");
    let expected = [
        (a("tst__mem0"), a("tst__mem0_size"), 65536),
        (a("tst__mem1"), a("tst__mem1_size"), 100),
        (a("other_heap"), a("other_heap__size"), 4096),
    ];
    for (k, (base, size, max)) in expected.into_iter().enumerate() {
        let entry = table + 12 * k as u64;
        assert_eq!((word(entry), word(entry + 4), word(entry + 8)), (base, size, max), "memory {k}");
    }
    assert_eq!(word(a("tst__mem1_max")), 100);
    let d0 = a("tst.d0");
    let off = (d0 - rodata.address()) as usize;
    assert_eq!(&bytes[off..off + 5], b"hello");
}

#[test]
fn links_with_gnu_ld_and_gcc_code() {
    let fx = Fixture::new();
    let dir = temp_dir("gnu");
    let obj = dir.join("tst.o");
    std::fs::write(&obj, fx.write(true)).unwrap();
    let stubs = dir.join("stubs.o");
    compile_stubs(&dir, &stubs, &["-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]);
    let elf = link_gnu(&dir, &obj, &stubs, "gnu.elf");
    check_linked(&elf);
}

#[test]
fn links_with_lld() {
    let fx = Fixture::new();
    let dir = temp_dir("lld");
    let obj = dir.join("tst.o");
    std::fs::write(&obj, fx.write(true)).unwrap();
    let stubs = dir.join("stubs.o");
    compile_stubs(&dir, &stubs, &["-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]);
    let elf = link_lld(&dir, &obj, &stubs, "lld.elf");
    check_linked(&elf);
}

#[test]
fn float_abi_mismatch_is_caught_by_the_linker() {
    // A soft-float module whose interface has floats, linked with hard-float
    // C code: the build attributes must make GNU ld refuse the mix.
    let mut fx = Fixture::new();
    fx.env.funcs[2].sig.params.push(Type::F32);
    let dir = temp_dir("mismatch");
    let obj = dir.join("tst.o");
    std::fs::write(&obj, fx.write(false)).unwrap();
    let attrs = readelf(&obj, &["-A"]);
    assert!(attrs.contains("Tag_ABI_FP_number_model: IEEE 754"), "{attrs}");
    let stubs = dir.join("stubs.o");
    compile_stubs(&dir, &stubs, &["-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]);
    let script = dir.join("link.ld");
    std::fs::write(&script, LINKER_SCRIPT).unwrap();
    let link = |obj: &Path| {
        Command::new("arm-none-eabi-ld")
            .arg("-T")
            .arg(&script)
            .arg(obj)
            .arg(&stubs)
            .arg("-o")
            .arg(dir.join("out.elf"))
            .output()
            .unwrap()
    };
    let out = link(&obj);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "ld accepted a float ABI mismatch");
    assert!(text.contains("VFP register arguments"), "{text}");

    // The same module compiled hard-float links.
    std::fs::write(&obj, fx.write(true)).unwrap();
    let out = link(&obj);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // An integer-only interface is compatible with either float ABI.
    let int_only = Fixture::new();
    std::fs::write(&obj, int_only.write(false)).unwrap();
    let out = link(&obj);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn error_of(input: &ObjectInput) -> String {
    write_object(input).expect_err("must be rejected").to_string()
}

#[test]
fn bad_input_is_reported_not_panicked() {
    let fx = Fixture::new();

    let mut missing = Fixture::new();
    missing.functions.pop();
    assert!(error_of(&missing.input(true)).contains("no code given for defined function 2"));

    let mut import_code = Fixture::new();
    import_code.functions.push((0, bx_lr()));
    assert!(error_of(&import_code.input(true)).contains("function 0, which is imported"));

    let mut bad_offset = Fixture::new();
    bad_offset.functions[0].1.relocs[0].offset = 12; // points at b.w's second half
    let msg = error_of(&bad_offset.input(true));
    assert!(msg.contains("function 3") && msg.contains("outside"), "{msg}");

    let mut wrong_insn = Fixture::new();
    wrong_insn.functions[0].1.relocs[0].offset = 8; // ldr, not movw
    let msg = error_of(&wrong_insn.input(true));
    assert!(msg.contains("function 3") && msg.contains("expected a MOVW"), "{msg}");

    let mut bad_target = Fixture::new();
    bad_target.functions[0].1.relocs[0].target = RelocTarget::Global(9);
    let msg = error_of(&bad_target.input(true));
    assert!(msg.contains("global 9"), "{msg}");

    let mut no_runtime = Fixture::new();
    no_runtime.runtime.clear();
    assert!(error_of(&no_runtime.input(true)).contains("runtime routine `memmove`"));

    let mut bad_range = Fixture::new();
    bad_range.functions[1].1.data_ranges = vec![(28, 40)];
    assert!(error_of(&bad_range.input(true)).contains("data range"));

    // Exports that look like bulkhead's own symbols cannot clash with them
    // (`NAME__` is reserved); only a hand-built environment with one export
    // name on two items can.
    let mut lookalike = Fixture::new();
    lookalike.env.funcs[2].exports.extend(["mem0".into(), "_mem0".into(), "_instantiate".into()]);
    write_object(&lookalike.input(true)).expect("look-alike export names are fine");
    let mut clash = Fixture::new();
    let taken = clash.env.funcs.iter().flat_map(|f| f.exports.clone()).next().expect("fixture has an export");
    clash.env.funcs[2].exports.push(taken.clone());
    let msg = error_of(&clash.input(true));
    assert!(msg.contains(&format!("tst_{taken}")) && msg.contains("defined twice"), "{msg}");

    let mut huge = Fixture::new();
    huge.env.memories[0].reserved_bytes = 1 << 32;
    assert!(error_of(&huge.input(true)).contains("memory 0 reserves"));

    let mut bad_name = fx.input(true);
    bad_name.name = "not a name";
    assert!(error_of(&bad_name).contains("module name"));
}
