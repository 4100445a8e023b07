//! End-to-end tests of the `bulkhead` binary: compile the two-memory example,
//! inspect the object with GNU readelf, link it with GNU ld against
//! GCC-compiled C and run the firmware on QEMU (mps2-an386, Cortex-M4F);
//! plus the error paths (exit status, message, no panic).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bulkhead() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bulkhead"))
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/two_memories.wat")
}

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bulkhead-cli-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?} (tools from scripts/setup.sh missing?): {e}"));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{cmd:?} failed ({}):\n{stdout}{stderr}", out.status);
    stdout + &stderr
}

/// Compiles the example and returns the object's path.
fn compile_example(dir: &Path, extra: &[&str]) -> PathBuf {
    let obj = dir.join("two_memories.o");
    run_ok(bulkhead().arg("compile").arg(example()).arg("-o").arg(&obj).args(extra));
    obj
}

/// Fields of a `readelf -S -W` line: Name Type Addr Off Size ES Flg Lk Inf Al.
fn section_fields(sections: &str, name: &str) -> Vec<String> {
    let line = sections
        .lines()
        .find(|l| l.split_whitespace().any(|w| w == name))
        .unwrap_or_else(|| panic!("section {name} missing:\n{sections}"));
    line.split(']').nth(1).unwrap().split_whitespace().map(str::to_string).collect()
}

/// Fields of a `readelf -s -W` line: Num Value Size Type Bind Vis Ndx Name.
fn symbol_fields(symbols: &str, name: &str) -> Vec<String> {
    symbols
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .find(|f| f.len() == 8 && f[7] == name)
        .unwrap_or_else(|| panic!("symbol {name} missing:\n{symbols}"))
}

#[test]
fn help_and_version() {
    let help = run_ok(bulkhead().arg("--help"));
    for flag in [
        "-o",
        "--target",
        "--cpu",
        "--name",
        "-O0",
        "-O1",
        "-O2",
        "--bounds",
        "--memory-max",
        "--default-memory-max",
        "--emit",
        "--help",
        "--version",
        "KiB",
        "MiB",
    ] {
        assert!(help.contains(flag), "--help does not explain {flag}");
    }
    let version = run_ok(bulkhead().arg("--version"));
    assert_eq!(version.trim(), format!("bulkhead {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn example_object_has_both_memory_regions() {
    let dir = temp_dir("sections");
    let obj = compile_example(&dir, &[]);

    let sections = run_ok(Command::new("arm-none-eabi-readelf").args(["-S", "-W"]).arg(&obj));
    // Memory 0: exactly one 64 KiB page; memory 1: up to two pages.
    let mem0 = section_fields(&sections, ".bulkhead.mem.0");
    assert_eq!(
        (mem0[1].as_str(), mem0[4].as_str(), mem0[6].as_str(), mem0[9].as_str()),
        ("NOBITS", "010000", "WA", "65536")
    );
    let mem1 = section_fields(&sections, ".bulkhead.mem.1");
    assert_eq!(
        (mem1[1].as_str(), mem1[4].as_str(), mem1[6].as_str(), mem1[9].as_str()),
        ("NOBITS", "020000", "WA", "131072")
    );

    let symbols = run_ok(Command::new("arm-none-eabi-readelf").args(["-s", "-W"]).arg(&obj));
    for (name, size) in [
        ("two_memories__mem0", "65536"),
        ("two_memories__mem1", "0x20000"),
        ("two_memories_tenant_a", "65536"),
        ("two_memories_tenant_b", "0x20000"),
        ("two_memories__mem0_size", "4"),
        ("two_memories__mem1_size", "4"),
        ("two_memories__mem0_max", "4"),
        ("two_memories__mem1_max", "4"),
        ("two_memories__memories", "24"),
        ("two_memories_delivered", "4"),
    ] {
        let f = symbol_fields(&symbols, name);
        assert_eq!((f[2].as_str(), f[3].as_str(), f[4].as_str()), (size, "OBJECT", "GLOBAL"), "{name}");
    }
    for name in [
        "two_memories__instantiate",
        "two_memories_sum_a",
        "two_memories_deliver",
        "two_memories_copy_words",
        "two_memories_b_pages",
        "two_memories_b_grow",
    ] {
        let f = symbol_fields(&symbols, name);
        assert_eq!((f[3].as_str(), f[4].as_str()), ("FUNC", "GLOBAL"), "{name}");
        assert_eq!(u32::from_str_radix(&f[1], 16).unwrap() & 1, 1, "{name} lacks the Thumb bit");
    }
    let header = run_ok(Command::new("arm-none-eabi-readelf").args(["-h"]).arg(&obj));
    assert!(header.contains("hard-float ABI"), "{header}");
}

#[test]
fn options_change_the_object() {
    let dir = temp_dir("options");
    let obj = compile_example(
        &dir,
        &["--name", "adapter", "--memory-max", "1=64KiB", "--target", "thumbv7m-none-eabi", "-O0", "--bounds", "none"],
    );
    let sections = run_ok(Command::new("arm-none-eabi-readelf").args(["-S", "-W"]).arg(&obj));
    let mem1 = section_fields(&sections, ".bulkhead.mem.1");
    assert_eq!((mem1[4].as_str(), mem1[9].as_str()), ("010000", "65536"));
    let symbols = run_ok(Command::new("arm-none-eabi-readelf").args(["-s", "-W"]).arg(&obj));
    symbol_fields(&symbols, "adapter__mem1");
    symbol_fields(&symbols, "adapter_sum_a");
    let header = run_ok(Command::new("arm-none-eabi-readelf").args(["-h", "-A"]).arg(&obj));
    assert!(header.contains("soft-float ABI"), "{header}");
    assert!(header.contains("Tag_CPU_arch: v7\n"), "{header}");
    // --bounds none: no UDF #2 anywhere.
    let disasm = run_ok(Command::new("arm-none-eabi-objdump").arg("-d").arg(&obj));
    assert!(!disasm.contains("udf\t#2"), "bounds checks left with --bounds none:\n{disasm}");
    let checked = compile_example(&temp_dir("options-checked"), &[]);
    let disasm = run_ok(Command::new("arm-none-eabi-objdump").arg("-d").arg(&checked));
    assert!(disasm.contains("udf\t#2"), "no bounds-check traps with --bounds checked:\n{disasm}");
}

#[test]
fn emit_ir_and_asm() {
    let ir = run_ok(bulkhead().arg("compile").arg(example()).args(["--emit", "ir"]));
    // Eight exported functions plus instantiate.
    assert_eq!(ir.matches("function %").count(), 9, "{ir}");
    assert!(ir.contains("two_memories_deliver"), "{ir}");
    assert!(ir.contains("instantiate"), "{ir}");

    let dir = temp_dir("emit");
    let out = dir.join("listing.s");
    run_ok(bulkhead().arg("compile").arg(example()).args(["--emit=asm", "-o"]).arg(&out));
    let asm = std::fs::read_to_string(&out).unwrap();
    for symbol in ["two_memories_sum_a:", "two_memories_deliver:", "two_memories__instantiate:"] {
        assert!(asm.contains(symbol), "listing lacks {symbol}:\n{asm}");
    }
}

const STARTUP_C: &str = r#"
#include <stdint.h>
/* Minimal Cortex-M startup for QEMU mps2-an386 with semihosting exit. */
extern int main(void);
extern uint32_t __stack_top;
/* The lowest stack pointer bulkhead code may use (docs/embedder-abi.md,
   "Stack limit"); this firmware's stack is the whole RAM below __stack_top. */
uint32_t __bulkhead_stack_limit;

__attribute__((noreturn)) static void semihost_exit(uint32_t code) {
    /* SYS_EXIT_EXTENDED: {ADP_Stopped_ApplicationExit, code}. */
    volatile uint32_t block[2] = {0x20026, code};
    register uint32_t r0 __asm__("r0") = 0x20;
    register volatile uint32_t *r1 __asm__("r1") = block;
    __asm__ volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
    for (;;) {}
}

void Reset_Handler(void) {
    __bulkhead_stack_limit = (uint32_t)&__stack_top - 0x10000u;
    semihost_exit((uint32_t)main());
}

/* A bulkhead trap is UDF #code (0xDExx): exit with 100 + code. */
void fault_c(uint32_t *frame) {
    uint16_t insn = *(uint16_t *)(frame[6] & ~1u);
    if ((insn & 0xFF00) == 0xDE00) semihost_exit(100 + (insn & 0xFF));
    semihost_exit(99);
}

__attribute__((naked)) void Fault_Handler(void) {
    __asm__ volatile("tst lr, #4\n ite eq\n mrseq r0, msp\n mrsne r0, psp\n b fault_c\n");
}

__attribute__((section(".vectors"), used)) const void *vectors[16] = {
    &__stack_top, Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
};
"#;

const MAIN_C: &str = r#"
#include <stdint.h>
struct bulkhead_memory { uint8_t *base; uint32_t *size; uint32_t max; };
extern int32_t two_memories__instantiate(void);
extern int32_t two_memories_sum_a(int32_t ptr, int32_t len);
extern int32_t two_memories_deliver(int32_t src, int32_t dst, int32_t max);
extern int32_t two_memories_bump_inbox(void);
extern int32_t two_memories_b_pages(void);
extern int32_t two_memories_b_grow(int32_t pages);
extern int32_t two_memories_deliver_to_new_page(void);
extern int32_t two_memories_delivered_count(void);
extern void two_memories_copy_words(int32_t src, int32_t dst, int32_t words);
extern uint8_t two_memories__mem0[], two_memories__mem1[];
extern uint32_t two_memories__mem0_size, two_memories__mem1_size;
extern const uint32_t two_memories__mem1_max;
extern int32_t two_memories_delivered;
extern const struct bulkhead_memory two_memories__memories[2];

static int same(const uint8_t *a, const char *b, int n) {
    for (int i = 0; i < n; i++) if (a[i] != (uint8_t)b[i]) return 0;
    return 1;
}

int main(void) {
    two_memories__mem1[5000] = 0xAA; /* garbage that instantiate must clear */
    if (two_memories__instantiate() != 0) return 10;
    if (two_memories__mem1[5000] != 0) return 11;
    if (two_memories__mem0_size != 65536 || two_memories__mem1_size != 65536) return 12;
    if (two_memories__mem1_max != 131072) return 13;
    if (two_memories__memories[0].base != two_memories__mem0 || two_memories__memories[1].base != two_memories__mem1) return 14;
    if (two_memories__memories[1].size != &two_memories__mem1_size || two_memories__memories[1].max != 131072) return 15;
    if (!same(two_memories__mem0 + 16, "hello from tenant A", 20)) return 16;
    if (!same(two_memories__mem1, "INBX", 4)) return 17;
    if (two_memories_sum_a(16, 5) != 532) return 18; /* "hello" */
    if (two_memories_deliver(16, 100, 64) != 20) return 19;
    if (!same(two_memories__mem1 + 100, "hello from tenant A", 20)) return 20;
    if (two_memories_deliver(16, 200, 5) != 5 || two_memories__mem1[205] != 0) return 21;
    if (two_memories_delivered_count() != 2 || two_memories_delivered != 2) return 22;
    two_memories_copy_words(16, 300, 2);
    if (!same(two_memories__mem1 + 300, "hello fr", 8)) return 23;
    if (two_memories_bump_inbox() != 1 || two_memories_bump_inbox() != 2) return 24;
    if (two_memories_b_pages() != 1) return 25;
    if (two_memories_deliver_to_new_page() != 20) return 26;
    if (two_memories_b_pages() != 2 || two_memories__mem1_size != 131072) return 27;
    if (!same(two_memories__mem1 + 65536, "hello from tenant A", 20)) return 28;
    if (two_memories_b_grow(1) != -1) return 29;
    /* Out of bounds in tenant A: must trap with code 2, never return. */
    two_memories_sum_a(65530, 10);
    return 30;
}
"#;

const LINK_LD: &str = r#"
MEMORY {
  FLASH (rx) : ORIGIN = 0x00000000, LENGTH = 4M
  RAM (rwx)  : ORIGIN = 0x20000000, LENGTH = 4M
}
ENTRY(Reset_Handler)
SECTIONS {
  .text : { KEEP(*(.vectors)) *(.text*) } > FLASH
  .rodata : { *(.rodata*) } > FLASH
  .ARM.exidx : { *(.ARM.exidx*) } > FLASH
  .data : { *(.data*) } > RAM AT > FLASH
  .bss (NOLOAD) : { *(.bss*) *(COMMON) } > RAM
  .bulkhead.mem.0 (NOLOAD) : { *(.bulkhead.mem.0) } > RAM
  .bulkhead.mem.1 (NOLOAD) : { *(.bulkhead.mem.1) } > RAM
  __stack_top = ORIGIN(RAM) + LENGTH(RAM);
}
"#;

/// Links compiled modules with GCC-compiled startup code and a test driver
/// (GNU ld with --fatal-warnings: no attribute warnings allowed).
fn link_firmware(dir: &Path, modules: &[PathBuf], main_c: &str) -> PathBuf {
    link_firmware_for(dir, modules, main_c, M4F_GCC_FLAGS)
}

const M4F_GCC_FLAGS: &[&str] = &["-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"];

fn link_firmware_for(dir: &Path, modules: &[PathBuf], main_c: &str, cpu_flags: &[&str]) -> PathBuf {
    let mut objects = modules.to_vec();
    for (name, source) in [("startup", STARTUP_C), ("main", main_c)] {
        let c = dir.join(format!("{name}.c"));
        let o = dir.join(format!("{name}.o"));
        std::fs::write(&c, source).unwrap();
        run_ok(
            Command::new("arm-none-eabi-gcc").args(cpu_flags).args(["-mthumb", "-O2", "-c"]).arg(&c).arg("-o").arg(&o),
        );
        objects.push(o);
    }
    let script = dir.join("link.ld");
    std::fs::write(&script, LINK_LD).unwrap();
    let elf = dir.join("firmware.elf");
    let out = run_ok(
        Command::new("arm-none-eabi-ld")
            .arg("--fatal-warnings")
            .arg("-T")
            .arg(&script)
            .args(&objects)
            .arg("-o")
            .arg(&elf),
    );
    assert!(out.trim().is_empty(), "ld diagnostics:\n{out}");
    elf
}

/// Runs firmware on QEMU's Cortex-M4F board; the exit status is the one the
/// firmware passes to semihosting.
fn run_qemu(elf: &Path) -> Output {
    run_qemu_on(elf, "mps2-an386")
}

fn run_qemu_on(elf: &Path, machine: &str) -> Output {
    Command::new("timeout")
        .args(["20", "qemu-system-arm", "-M", machine, "-nographic", "-monitor", "none", "-serial", "none"])
        .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
        .arg(elf)
        .output()
        .expect("qemu-system-arm (scripts/setup.sh)")
}

#[test]
fn example_links_and_runs_on_qemu() {
    let dir = temp_dir("qemu");
    let obj = compile_example(&dir, &[]);
    let elf = link_firmware(&dir, &[obj], MAIN_C);

    // The linker placed each memory at an address aligned to its region size.
    let nm = run_ok(Command::new("arm-none-eabi-nm").arg(&elf));
    let addr = |name: &str| {
        let line = nm.lines().find(|l| l.ends_with(&format!(" {name}"))).unwrap_or_else(|| panic!("{name}:\n{nm}"));
        u32::from_str_radix(line.split_whitespace().next().unwrap(), 16).unwrap()
    };
    assert_eq!(addr("two_memories__mem0") % 65536, 0);
    assert_eq!(addr("two_memories__mem1") % 131072, 0);

    // LLVM's linker accepts the same objects and script and produces an
    // image that behaves identically.
    let lld_elf = dir.join("firmware-lld.elf");
    let objects: Vec<PathBuf> = ["two_memories.o", "startup.o", "main.o"].iter().map(|name| dir.join(name)).collect();
    run_ok(Command::new("ld.lld").arg("-T").arg(dir.join("link.ld")).args(&objects).arg("-o").arg(&lld_elf));
    assert_eq!(run_qemu(&lld_elf).status.code(), Some(102), "image linked by ld.lld");

    let out = run_qemu(&elf);
    let (stdout, stderr) = text(&out);
    // main returns 30 if the out-of-bounds access did not trap; the fault
    // handler exits with 100 + trap code; 10..29 name a failed check.
    assert_eq!(out.status.code(), Some(102), "expected trap 2 after all checks passed:\n{stdout}{stderr}");
}

#[test]
fn unsupported_operator_is_reported_with_function_and_offset() {
    let dir = temp_dir("unsupported");
    let wat = dir.join("uses_ref.wat");
    std::fs::write(
        &wat,
        "(module\n  (func (export \"ok\") (result i32) i32.const 1)\n  (func (export \"tail\") (result i32)\n    return_call 0))\n",
    )
    .unwrap();
    let obj = dir.join("uses_ref.o");
    let out = bulkhead().arg("compile").arg(&wat).arg("-o").arg(&obj).output().unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("bulkhead: error: "), "{stderr}");
    assert!(stderr.contains("uses_ref.wat"), "{stderr}");
    assert!(stderr.contains("function 1"), "no function index: {stderr}");
    assert!(stderr.contains("offset 0x"), "no offset: {stderr}");
    assert!(stderr.contains("return_call"), "no operator: {stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{stderr}");
    assert!(!obj.exists(), "a failed compilation must not leave an object behind");
}

#[test]
fn bad_inputs_and_usage_errors() {
    let dir = temp_dir("errors");
    let check = |args: &[&str], stdin_file: Option<&Path>, code: i32, needle: &str| {
        let mut cmd = bulkhead();
        cmd.args(args);
        if let Some(f) = stdin_file {
            cmd.stdin(std::fs::File::open(f).unwrap());
        }
        let out = cmd.output().unwrap();
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.starts_with("bulkhead: error: "), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: expected {needle:?} in {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    };

    let missing = dir.join("missing.wasm");
    check(&["compile", missing.to_str().unwrap()], None, 1, "cannot read");

    let garbage = dir.join("garbage.wasm");
    std::fs::write(&garbage, b"\0asm\x01\0\0\0\x05garbage").unwrap();
    check(&["compile", garbage.to_str().unwrap(), "-o", dir.join("g.o").to_str().unwrap()], None, 1, "invalid module");

    let bad_text = dir.join("bad.wat");
    std::fs::write(&bad_text, "(module (func (result i32) i32.const 1 i64.add))").unwrap();
    check(&["compile", bad_text.to_str().unwrap(), "-o", dir.join("b.o").to_str().unwrap()], None, 1, "invalid module");

    let unclosed = dir.join("unclosed.wat");
    std::fs::write(&unclosed, "(module (func").unwrap();
    check(&["compile", unclosed.to_str().unwrap()], None, 1, "unclosed.wat");

    let ex = example();
    let ex = ex.to_str().unwrap();
    check(&["compile", ex, "--target", "riscv32imac-unknown-none-elf", "-o", "/dev/null"], None, 1, "riscv32");
    check(&["compile", ex, "--cpu", "cortex-a53", "-o", "/dev/null"], None, 1, "cortex-a53");
    check(&["compile", ex, "--memory-max", "1=1KiB", "-o", "/dev/null"], None, 1, "memory-max");
    check(&[], None, 2, "no command");
    check(&["frobnicate"], None, 2, "unknown command");
    check(&["compile"], None, 2, "no input file");
    check(&["compile", ex, "--bounds", "maybe"], None, 2, "--bounds");
    check(&["compile", ex, "--emit", "exe"], None, 2, "--emit");
    check(&["compile", ex, "--memory-max", "x=1"], None, 2, "memory index");
    check(&["compile", ex, "--memory-max", "1=12XB"], None, 2, "unknown unit");
    check(&["compile", ex, "--name", "9lives"], None, 2, "--name");
    check(&["compile", ex, "--frobnicate"], None, 2, "unknown option");
    check(&["compile", ex, "--disable", "everything"], None, 2, "unknown rule set");
    check(&["compile", ex, "-o"], None, 2, "-o needs");

    // Reading from standard input.
    let out = bulkhead()
        .args(["compile", "-", "--name", "piped", "-o", dir.join("piped.o").to_str().unwrap()])
        .stdin(std::fs::File::open(example()).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
}

#[test]
fn default_output_and_name_come_from_the_input() {
    let dir = temp_dir("defaults");
    let input = dir.join("my-module.wat");
    std::fs::copy(example(), &input).unwrap();
    run_ok(bulkhead().current_dir(&dir).args(["compile", "my-module.wat"]));
    let obj = dir.join("my-module.o");
    assert!(obj.exists());
    let symbols = run_ok(Command::new("arm-none-eabi-readelf").args(["-s", "-W"]).arg(&obj));
    symbol_fields(&symbols, "my_module__instantiate");
    symbol_fields(&symbols, "my_module__mem1");
}

/// The example behaves the same at every optimization level and on other
/// cores (Cortex-M3 soft-float on mps2-an385, Cortex-M7 on mps2-an500).
#[test]
fn example_runs_at_every_opt_level_and_core() {
    let configs: &[(&str, &[&str], &[&str], &str)] = &[
        ("O0", &["-O0"], M4F_GCC_FLAGS, "mps2-an386"),
        ("O1", &["-O1"], M4F_GCC_FLAGS, "mps2-an386"),
        ("unchecked", &["--bounds", "none"], M4F_GCC_FLAGS, "mps2-an386"),
        ("m3", &["--target", "thumbv7m-none-eabi"], &["-mcpu=cortex-m3", "-mfloat-abi=soft"], "mps2-an385"),
        (
            "m7",
            &["--target", "thumbv7em-none-eabihf", "--cpu", "cortex-m7"],
            &["-mcpu=cortex-m7", "-mfloat-abi=hard", "-mfpu=fpv5-d16"],
            "mps2-an500",
        ),
    ];
    for (tag, bulkhead_flags, gcc_flags, machine) in configs {
        let dir = temp_dir(&format!("qemu-{tag}"));
        let obj = compile_example(&dir, bulkhead_flags);
        let elf = link_firmware_for(&dir, &[obj], MAIN_C, gcc_flags);
        let out = run_qemu_on(&elf, machine);
        let (stdout, stderr) = text(&out);
        // Without bounds checks the final out-of-bounds read does not trap
        // (it reads past tenant A inside the reserved RAM), so main returns 30.
        let expected = if *tag == "unchecked" { 30 } else { 102 };
        assert_eq!(out.status.code(), Some(expected), "{tag}: {stdout}{stderr}");
    }
}

/// Module `b` imports module `a`'s exported function and memory; the
/// documented naming rules make the two objects link with no glue.
#[test]
fn two_modules_link_through_their_exports() {
    let dir = temp_dir("two-modules");
    let a = dir.join("a.wat");
    std::fs::write(
        &a,
        r#"(module
  (memory (export "mem") 1 1)
  (data (i32.const 8) "\2a\00\00\00")
  (func (export "get") (param i32) (result i32) (i32.load (local.get 0))))"#,
    )
    .unwrap();
    let b = dir.join("b.wat");
    std::fs::write(
        &b,
        r#"(module
  (import "a" "get" (func $get (param i32) (result i32)))
  (import "a" "mem" (memory 1 1))
  (func (export "run") (result i32)
    (i32.store (i32.const 12) (i32.const 100))
    (i32.add (call $get (i32.const 8)) (i32.load (i32.const 12)))))"#,
    )
    .unwrap();
    let mut objects = Vec::new();
    for m in [&a, &b] {
        let o = m.with_extension("o");
        run_ok(bulkhead().arg("compile").arg(m).arg("-o").arg(&o));
        objects.push(o);
    }
    let symbols = run_ok(Command::new("arm-none-eabi-readelf").args(["-s", "-W"]).arg(&objects[1]));
    for undefined in ["a_get", "a_mem", "a_mem__size"] {
        assert_eq!(symbol_fields(&symbols, undefined)[6], "UND", "{undefined}");
    }
    let main_c = r#"
#include <stdint.h>
extern int32_t a__instantiate(void), b__instantiate(void), b_run(void);
extern uint8_t a_mem[];
struct bulkhead_memory { uint8_t *base; uint32_t *size; uint32_t max; };
extern const struct bulkhead_memory b__memories[1];
extern uint32_t a__mem0_size;
int main(void) {
    if (a__instantiate() != 0 || b__instantiate() != 0) return 10;
    if (b__memories[0].base != a_mem || b__memories[0].size != &a__mem0_size) return 11;
    if (b__memories[0].max != 65536) return 12;
    return b_run(); /* 42 from a's data segment via a_get, + 100 stored by b */
}
"#;
    let elf = link_firmware(&dir, &objects, main_c);
    let out = run_qemu(&elf);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(142), "{stdout}{stderr}");
}

#[test]
fn stats_and_disabled_rule_sets() {
    let dir = temp_dir("stats");
    let out = bulkhead()
        .arg("compile")
        .arg(example())
        .args(["--stats", "--disable", "const-fold", "-o"])
        .arg(dir.join("s.o"))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.is_empty());
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("bulkhead: stats: ")).collect();
    assert_eq!(lines.len(), 10, "{stderr}"); // 9 functions + total
    assert!(lines[0].starts_with("bulkhead: stats: two_memories_sum_a: "), "{stderr}");
    assert!(lines[0].contains("memory 0 in r11"), "sum_a only touches tenant A: {stderr}");
    assert!(lines[9].contains("total"), "{stderr}");
    assert!(!stderr.contains("const-fold "), "const-fold ran although disabled:\n{stderr}");
}

/// `--stats-json`: one deterministic JSON document (parsed by Python's json
/// module, an independent reader, which also checks that the totals are
/// the sums over the functions), on standard output or into a file; it
/// cannot share standard output with an IR listing.
#[test]
fn stats_json_is_one_deterministic_document() {
    let dir = temp_dir("stats-json");
    let compile = |extra: &[&str]| {
        let out =
            bulkhead().arg("compile").arg(example()).arg("-o").arg(dir.join("s.o")).args(extra).output().unwrap();
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stderr}");
        stdout
    };
    let json = compile(&["--stats-json"]);
    assert_eq!(json, compile(&["--stats-json"]), "two runs differ");
    let file = dir.join("stats.json");
    compile(&[&format!("--stats-json={}", file.display())]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), json);
    let check = r#"
import json, sys
d = json.load(sys.stdin)
assert d["schema"] == "bulkhead-stats/1" and d["opt_level"] == 2, d
fs = d["functions"]
t = d["totals"]
assert t["functions"] == len(fs)
for key in ["code_bytes"]:
    assert t[key] == sum(f[key] for f in fs), key
for key in ["bounds_checks_kept", "bounds_checks_removed", "loads_forwarded", "loads_merged", "insts_after"]:
    assert t[key] == sum(f["mid_end"][key] for f in fs), key
assert t["rewrites"]["cse"] == sum(f["mid_end"]["rewrites"]["cse"] for f in fs)
sum_a = next(f for f in fs if f["name"] == "sum_a")
assert sum_a["dominant_memory"] == 0 and sum_a["memories"] == [0], sum_a
print(len(fs), t["bounds_checks_kept"] + t["bounds_checks_removed"], "load-cse" in t["rewrites"])
"#;
    let mut python = Command::new("python3")
        .args(["-c", check])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 (the JSON oracle) is needed");
    use std::io::Write as _;
    python.stdin.take().unwrap().write_all(json.as_bytes()).unwrap();
    let out = python.wait_with_output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}\n{json}");
    let fields: Vec<&str> = stdout.split_whitespace().collect();
    assert_eq!(fields[0], "9", "{json}");
    assert!(fields[1].parse::<u32>().unwrap() > 0, "the example has bounds checks: {json}");
    assert_eq!(fields[2], "True", "{json}");
    // Switched off, the load rules are not in the document.
    assert!(!compile(&["--stats-json", "--disable", "loads"]).contains("load-cse"));
    // Standard output cannot take both.
    let out = bulkhead().arg("compile").arg(example()).args(["--emit", "ir", "--stats-json"]).output().unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--stats-json=FILE"), "{stderr}");
}
