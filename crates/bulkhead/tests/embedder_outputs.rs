//! The embedder outputs (`bulkhead::emit`): a C program written against
//! the generated `bulkhead.h` compiles with `-Wall -Wextra -Werror`, links
//! with GNU ld through `memory.ld`, lands every memory at the address the
//! manifest (parsed back with serde_json) plans, and runs on QEMU with the
//! MPU programmed from the header's register values: unprivileged calls
//! into the module work, and an access one byte past a memory's grant
//! raises a MemManage fault at exactly that address (QEMU's MPU model is
//! the oracle for the register values). Runs on mps2-an386 (Cortex-M4F,
//! PMSAv7) and mps2-an505 (Cortex-M33, PMSAv8).

use bulkhead::{emit, Artifact, Compiler, Options};
use object::{Object, ObjectSection, ObjectSymbol};
use std::path::{Path, PathBuf};
use std::process::Command;

fn example_text() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/two_memories.wat")).unwrap()
}

fn compile(options: Options, wat: &str) -> Artifact {
    Compiler::new(options).compile(wat.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

fn temp_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("emit-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{cmd:?} failed ({}):\n{text}", out.status);
    text
}

fn hex(v: &serde_json::Value) -> u64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a hex string: {v}"));
    u64::from_str_radix(s.strip_prefix("0x").unwrap(), 16).unwrap()
}

const STARTUP_C: &str = r#"
#include <stdint.h>
extern int main(void);
extern uint32_t __stack_top;
extern volatile uint32_t expected_fault_address;

__attribute__((noreturn)) static void semihost_exit(uint32_t code) {
    /* SYS_EXIT_EXTENDED: {ADP_Stopped_ApplicationExit, code}. */
    volatile uint32_t block[2] = {0x20026, code};
    register uint32_t r0 __asm__("r0") = 0x20;
    register volatile uint32_t *r1 __asm__("r1") = block;
    __asm__ volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
    for (;;) {}
}

/* The stack (top of the embedder's 2 MiB) may grow down to 1 MiB. */
uint32_t __bulkhead_stack_limit = RAM_BASE + 0x100000u;

void Reset_Handler(void) { semihost_exit((uint32_t)main()); }

/* MemManage: 50 if it is the expected data access violation at the
   expected address (CFSR.DACCVIOL and MMARVALID set, MMFAR matches). */
void MemManage_Handler(void) {
    uint32_t cfsr = *(volatile uint32_t *)0xE000ED28;
    uint32_t mmfar = *(volatile uint32_t *)0xE000ED34;
    if ((cfsr & 0x82) == 0x82 && mmfar == expected_fault_address) semihost_exit(50);
    semihost_exit(51);
}
/* Any other fault: print the fault status (SYS_WRITE0) and exit 99. */
static void put_hex(char *at, uint32_t v) {
    for (int i = 0; i < 8; i++) at[i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 0xF];
}
void other_fault_c(uint32_t *frame) {
    /* QEMU does not take semihosting calls from unprivileged code: an exit
       from there arrives as a breakpoint fault; forward it. */
    uint16_t insn = *(uint16_t *)(frame[6] & ~1u);
    if (insn == 0xBEAB && frame[0] == 0x20) semihost_exit(((uint32_t *)frame[1])[1]);
    static char line[] = "fault: icsr ........ cfsr ........ hfsr ........ mmfar ........ pc ........\n";
    put_hex(line + 12, *(volatile uint32_t *)0xE000ED04);
    put_hex(line + 26, *(volatile uint32_t *)0xE000ED28);
    put_hex(line + 40, *(volatile uint32_t *)0xE000ED2C);
    put_hex(line + 55, *(volatile uint32_t *)0xE000ED34);
    put_hex(line + 67, frame[6]);
    register uint32_t r0 __asm__("r0") = 0x04;
    register char *r1 __asm__("r1") = line;
    __asm__ volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
    semihost_exit(99);
}
__attribute__((naked)) void Other_Fault(void) {
    __asm__ volatile("tst lr, #4\n ite eq\n mrseq r0, msp\n mrsne r0, psp\n b other_fault_c\n");
}

__attribute__((section(".vectors"), used)) const void *vectors[16] = {
    &__stack_top, Reset_Handler, Other_Fault, Other_Fault, MemManage_Handler, Other_Fault, Other_Fault,
};
"#;

/// Written against bulkhead.h only: symbols, defines, prototypes.
const MAIN_C: &str = r#"
#include <stdint.h>
#include "bulkhead.h"

#define REG(a) (*(volatile uint32_t *)(a))
#define MPU_TYPE REG(0xE000ED90)
#define MPU_CTRL REG(0xE000ED94)
#define MPU_RNR REG(0xE000ED98)
#define MPU_RBAR REG(0xE000ED9C)
#define MPU_RASR_RLAR REG(0xE000EDA0)
#define MPU_MAIR0 REG(0xE000EDC0)
#define SHCSR REG(0xE000ED24)

volatile uint32_t expected_fault_address;

static const uint32_t planned[][2] = TWO_MEMORIES_MPU_REGION_INIT;
_Static_assert(sizeof planned / sizeof planned[0] == TWO_MEMORIES_MPU_REGIONS_USED, "one pair per region");
_Static_assert(TWO_MEMORIES_MEM0_BASE % TWO_MEMORIES_MEM0_ALIGNMENT == 0, "memory 0 aligned");
_Static_assert(TWO_MEMORIES_MEMORY_COUNT == 2, "two memories");
_Static_assert(TWO_MEMORIES_FOOTPRINT_sum_a == 1u, "sum_a reads tenant A only");
_Static_assert(TWO_MEMORIES_FOOTPRINT_deliver == 3u, "the adapter touches both");

static void set_region(uint32_t number, uint32_t rbar, uint32_t rasr_rlar) {
    MPU_RNR = number;
    MPU_RBAR = rbar;
    MPU_RASR_RLAR = rasr_rlar;
}

int main(void) {
    if ((uint32_t)two_memories__mem0 != TWO_MEMORIES_MEM0_BASE) return 10;
    if ((uint32_t)two_memories__mem1 != TWO_MEMORIES_MEM1_BASE) return 11;
    if (two_memories__mem0_max != TWO_MEMORIES_MEM0_RESERVED) return 12;
    if (two_memories__memories[1].base != two_memories_tenant_b) return 13;
    if (two_memories__instantiate() != 0) return 14;
    if (two_memories__mem0_size != TWO_MEMORIES_MEM0_INITIAL_PAGES * TWO_MEMORIES_MEM0_PAGE_SIZE) return 15;

    /* The memories' regions exactly as planned, then code (read-only,
       executable) and the embedder's RAM (stack, .bss) for the tenant. */
    uint32_t regions = (MPU_TYPE >> 8) & 0xFF;
    for (uint32_t i = 0; i < regions; i++) set_region(i, 0, 0);
    for (uint32_t i = 0; i < TWO_MEMORIES_MPU_REGIONS_USED; i++) set_region(i, planned[i][0], planned[i][1]);
    uint32_t n = TWO_MEMORIES_MPU_REGIONS_USED;
#ifdef TWO_MEMORIES_MPU_MAIR0
    MPU_MAIR0 = TWO_MEMORIES_MPU_MAIR0;
    set_region(n, FLASH_BASE | 0x6u, (FLASH_BASE + 0x3FFFE0u) | 0x3u);    /* RO any, exec; AttrIndx 1 */
    set_region(n + 1, RAM_BASE | 0x3u, (RAM_BASE + 0x1FFFE0u) | 0x1u);   /* RW any, XN; AttrIndx 0 */
#else
    set_region(n, FLASH_BASE, 0x0602002Bu);      /* 4 MiB, AP=RO/RO, C, executable */
    set_region(n + 1, RAM_BASE, 0x130B0029u);    /* 2 MiB, AP=RW/RW, XN, WB */
#endif
    SHCSR |= 1u << 16;      /* MEMFAULTENA */
    MPU_CTRL = 5u;          /* ENABLE | PRIVDEFENA */
    __asm__ volatile("dsb\n isb" ::: "memory");

    /* Drop to unprivileged: from here on only the planned grants apply. */
    __asm__ volatile("msr control, %0\n isb" : : "r"(1u) : "memory");
    if (two_memories_sum_a(16, 5) != 532) return 20;           /* "hello" */
    if (two_memories_deliver(16, 8, 64) != 20) return 21;
    if (two_memories__mem1[8] != 'h' || two_memories__mem1[26] != 'A') return 22;
    /* The last granted byte, written through the memory symbol and read
       back through the export alias (volatile: GCC may assume two declared
       objects never overlap). */
    ((volatile uint8_t *)two_memories__mem1)[TWO_MEMORIES_MEM1_GRANTED - 1] = 7;
    if (((volatile uint8_t *)two_memories_tenant_b)[TWO_MEMORIES_MEM1_GRANTED - 1] != 7) return 23;

    /* One byte past memory 0's grant: MemManage at exactly that address. */
    expected_fault_address = TWO_MEMORIES_MEM0_BASE + TWO_MEMORIES_MEM0_GRANTED;
    (void)*(volatile uint8_t *)expected_fault_address;
    return 30;
}
"#;

struct Board {
    machine: &'static str,
    target: &'static str,
    cflags: &'static [&'static str],
    flash: u32,
    ram: u32,
}

const AN386: Board = Board {
    machine: "mps2-an386",
    target: "thumbv7em-none-eabihf",
    cflags: &["-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
    flash: 0,
    ram: 0x2000_0000,
};

const AN505: Board = Board {
    machine: "mps2-an505",
    target: "thumbv8m.main-none-eabihf",
    cflags: &["-mcpu=cortex-m33", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"],
    flash: 0x1000_0000,
    ram: 0x3800_0000,
};

/// Compiles, emits, builds, links and runs the example on `board`; returns
/// the manifest and the linked ELF's bytes.
fn build_and_run(board: &Board, test: &str) -> (serde_json::Value, Vec<u8>) {
    let artifact = compile(
        Options { name: "two_memories".into(), target: board.target.into(), ..Default::default() },
        &example_text(),
    );
    // 50: the expected MemManage fault after every check passed (10..30:
    // a check in main.c failed, 51: a fault elsewhere, 99: another fault).
    build_and_run_with(board, test, &artifact, MAIN_C, STARTUP_C, 50)
}

fn build_and_run_with(
    board: &Board,
    test: &str,
    artifact: &Artifact,
    main_c: &str,
    startup_c: &str,
    expected_exit: i32,
) -> (serde_json::Value, Vec<u8>) {
    let dir = temp_dir(test);
    let layout = emit::plan_layout(artifact, None).unwrap();
    let manifest_text = emit::manifest(artifact, &layout);
    let module_o = dir.join(format!("{}.o", artifact.symbols.module()));
    std::fs::write(&module_o, &artifact.object).unwrap();
    std::fs::write(dir.join(emit::MANIFEST_FILE), &manifest_text).unwrap();
    std::fs::write(dir.join(emit::HEADER_FILE), emit::header(artifact, &layout)).unwrap();
    std::fs::write(dir.join(emit::LINKER_SCRIPT_FILE), emit::linker_script(artifact, &layout)).unwrap();

    let mut objects = vec![module_o];
    for (name, source) in [("startup", startup_c), ("main", main_c)] {
        let c = dir.join(format!("{name}.c"));
        let o = dir.join(format!("{name}.o"));
        std::fs::write(&c, source).unwrap();
        run_ok(
            Command::new("arm-none-eabi-gcc")
                .args(board.cflags)
                .args(["-mthumb", "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", "-ffreestanding"])
                .arg(format!("-DFLASH_BASE={:#x}u", board.flash))
                .arg(format!("-DRAM_BASE={:#x}u", board.ram))
                .arg("-I")
                .arg(&dir)
                .arg("-c")
                .arg(&c)
                .arg("-o")
                .arg(&o),
        );
        objects.push(o);
    }
    // The embedder keeps the planned range (the upper 2 MiB of SRAM) out of
    // its own RAM region and INCLUDEs memory.ld.
    let link = format!(
        r#"
MEMORY {{
  FLASH (rx) : ORIGIN = {flash:#x}, LENGTH = 4M
  RAM (rwx)  : ORIGIN = {ram:#x}, LENGTH = 2M
}}
ENTRY(Reset_Handler)
SECTIONS {{
  .text : {{ KEEP(*(.vectors)) *(.text*) }} > FLASH
  .rodata : {{ *(.rodata*) }} > FLASH
  .ARM.exidx : {{ *(.ARM.exidx*) }} > FLASH
  .data : {{ *(.data*) }} > RAM AT > FLASH
  .bss (NOLOAD) : {{ *(.bss*) *(COMMON) }} > RAM
  __stack_top = ORIGIN(RAM) + LENGTH(RAM);
}}
INCLUDE memory.ld
"#,
        flash = board.flash,
        ram = board.ram
    );
    std::fs::write(dir.join("link.ld"), link).unwrap();
    let elf = dir.join("firmware.elf");
    let diagnostics = run_ok(
        Command::new("arm-none-eabi-ld")
            .current_dir(&dir)
            .args(["--fatal-warnings", "-T", "link.ld"])
            .args(&objects)
            .arg("-o")
            .arg(&elf),
    );
    assert!(diagnostics.trim().is_empty(), "ld diagnostics:\n{diagnostics}");

    // LLVM's linker takes the same script and must give the same layout.
    let lld_elf = dir.join("firmware-lld.elf");
    run_ok(Command::new("ld.lld").current_dir(&dir).args(["-T", "link.ld"]).args(&objects).arg("-o").arg(&lld_elf));

    for elf in [&elf, &lld_elf] {
        run_on_qemu(board, elf, expected_exit);
    }
    let manifest: serde_json::Value = serde_json::from_str(&manifest_text).expect("manifest.json is JSON");
    check_linked_addresses(&manifest, &std::fs::read(&lld_elf).unwrap());
    (manifest, std::fs::read(&elf).unwrap())
}

fn run_on_qemu(board: &Board, elf: &Path, expected_exit: i32) {
    let out = Command::new("timeout")
        .args(["20", "qemu-system-arm", "-M", board.machine, "-nographic", "-monitor", "none", "-serial", "none"])
        .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
        .arg(elf)
        .output()
        .expect("qemu-system-arm");
    assert_eq!(
        out.status.code(),
        Some(expected_exit),
        "{} ({}): the program's checks or the MPU plan failed (see the program for the exit codes)\n{}",
        board.machine,
        elf.display(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    );
}

fn check_linked_addresses(manifest: &serde_json::Value, elf: &[u8]) {
    let file = object::File::parse(elf).unwrap();
    for memory in manifest["memories"].as_array().unwrap() {
        let section = memory["section"].as_str().unwrap();
        let planned = hex(&memory["base"]);
        let linked = file.section_by_name(section).unwrap_or_else(|| panic!("{section} missing"));
        assert_eq!(linked.address(), planned, "{section}");
        assert_eq!(linked.size(), memory["reserved_bytes"].as_u64().unwrap(), "{section}");
        let symbol = memory["symbols"]["base"].as_str().unwrap();
        let sym = file.symbols().find(|s| s.name() == Ok(symbol)).unwrap_or_else(|| panic!("{symbol} missing"));
        assert_eq!(sym.address(), planned, "{symbol}");
    }
}

#[test]
fn c_program_against_the_header_runs_with_the_planned_pmsav7_mpu() {
    let (manifest, elf) = build_and_run(&AN386, "an386");
    assert_eq!(manifest["target"]["mpu"]["kind"], "pmsav7");
    check_linked_addresses(&manifest, &elf);
}

#[test]
fn c_program_against_the_header_runs_with_the_planned_pmsav8_mpu() {
    let (manifest, elf) = build_and_run(&AN505, "an505");
    assert_eq!(manifest["target"]["mpu"]["kind"], "pmsav8");
    assert_eq!(manifest["mair0"], "0x0004aaff");
    check_linked_addresses(&manifest, &elf);
}

/// Startup for the probe programs: MemManage faults at the expected
/// address are counted and the faulting 16-bit `ldrb` is skipped.
const PROBE_STARTUP_C: &str = r#"
#include <stdint.h>
extern int main(void);
extern uint32_t __stack_top;
volatile uint32_t expected_fault_address;
volatile uint32_t faults_seen;

__attribute__((noreturn)) static void semihost_exit(uint32_t code) {
    volatile uint32_t block[2] = {0x20026, code};
    register uint32_t r0 __asm__("r0") = 0x20;
    register volatile uint32_t *r1 __asm__("r1") = block;
    __asm__ volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
    for (;;) {}
}

/* The stack (top of the embedder's 2 MiB) may grow down to 1 MiB. */
uint32_t __bulkhead_stack_limit = RAM_BASE + 0x100000u;

void Reset_Handler(void) { semihost_exit((uint32_t)main()); }

void mem_manage_c(uint32_t *frame) {
    volatile uint32_t *cfsr = (volatile uint32_t *)0xE000ED28;
    uint32_t mmfar = *(volatile uint32_t *)0xE000ED34;
    if ((*cfsr & 0x82) != 0x82 || mmfar != expected_fault_address) semihost_exit(251);
    *cfsr = 0xFF;           /* clear MMFSR (write one to clear) */
    faults_seen++;
    frame[6] += 2;          /* skip the 16-bit ldrb */
}
__attribute__((naked)) void MemManage_Handler(void) {
    __asm__ volatile("tst lr, #4\n ite eq\n mrseq r0, msp\n mrsne r0, psp\n push {r4, lr}\n bl mem_manage_c\n pop {r4, pc}\n");
}
void other_fault_c(uint32_t *frame) {
    uint16_t insn = *(uint16_t *)(frame[6] & ~1u);
    if (insn == 0xBEAB && frame[0] == 0x20) semihost_exit(((uint32_t *)frame[1])[1]);
    semihost_exit(252);
}
__attribute__((naked)) void Other_Fault(void) {
    __asm__ volatile("tst lr, #4\n ite eq\n mrseq r0, msp\n mrsne r0, psp\n b other_fault_c\n");
}
__attribute__((section(".vectors"), used)) const void *vectors[16] = {
    &__stack_top, Reset_Handler, Other_Fault, Other_Fault, MemManage_Handler, Other_Fault, Other_Fault,
};
"#;

/// A probe program for any module: programs the MPU from the header,
/// drops to unprivileged, touches the first and last granted byte of every
/// memory (must not fault), then reads every address in `outside` (must
/// fault, at exactly that address). Exit 0: all as planned.
fn probe_main_c(artifact: &Artifact, layout: &bulkhead::Layout, board: &Board) -> String {
    let up = artifact.symbols.module().to_ascii_uppercase();
    let mut inside = Vec::new();
    let mut outside = Vec::new();
    let granted: Vec<(u64, u64)> =
        layout.memories.iter().map(|m| (m.base as u64, m.base as u64 + m.granted_bytes)).collect();
    // The embedder's own regions in the program below.
    let embedder =
        [(board.flash as u64, board.flash as u64 + (4 << 20)), (board.ram as u64, board.ram as u64 + (2 << 20))];
    let allowed = |a: u64| granted.iter().chain(&embedder).any(|&(s, e)| s <= a && a < e);
    for m in &layout.memories {
        if m.granted_bytes == 0 {
            continue;
        }
        let k = m.index;
        inside.push(format!("{up}_MEM{k}_BASE"));
        inside.push(format!("{up}_MEM{k}_BASE + {up}_MEM{k}_GRANTED - 1"));
        let below = m.base as u64 - 1;
        let above = m.base as u64 + m.granted_bytes;
        assert!(!allowed(above) || granted.iter().any(|&(s, _)| s == above), "probe set-up");
        if !allowed(above) {
            outside.push(format!("{up}_MEM{k}_BASE + {up}_MEM{k}_GRANTED"));
        }
        if !allowed(below) {
            outside.push(format!("{up}_MEM{k}_BASE - 1"));
        }
    }
    // The last byte of each PMSAv7 window: inside the region's aligned
    // span but (when trimmed) in a disabled subregion.
    for region in &layout.regions {
        if let Some(shape) = region.pmsav7 {
            let last = shape.window_base as u64 + shape.window_size() - 1;
            if !allowed(last) {
                outside.push(format!("{last:#010x}u"));
            }
        }
    }
    assert!(!outside.is_empty(), "no address to probe outside the grants");
    format!(
        r#"
#include <stdint.h>
#include "bulkhead.h"
#define REG(a) (*(volatile uint32_t *)(a))
extern volatile uint32_t expected_fault_address, faults_seen;
static const uint32_t planned[][2] = {up}_MPU_REGION_INIT;
static const uint32_t inside[] = {{ {inside} }};
static const uint32_t outside[] = {{ {outside} }};

static void set_region(uint32_t number, uint32_t rbar, uint32_t rasr_rlar) {{
    REG(0xE000ED98) = number;
    REG(0xE000ED9C) = rbar;
    REG(0xE000EDA0) = rasr_rlar;
}}
static uint32_t load_byte(uint32_t address) {{
    uint32_t value;
    __asm__ volatile("ldrb %0, [%1]" : "=l"(value) : "l"(address) : "memory");  /* 16-bit LDRB */
    return value;
}}

int main(void) {{
    if ({instantiate}() != 0) return 1;
    uint32_t regions = (REG(0xE000ED90) >> 8) & 0xFF;
    for (uint32_t i = 0; i < regions; i++) set_region(i, 0, 0);
    for (uint32_t i = 0; i < {up}_MPU_REGIONS_USED; i++) set_region(i, planned[i][0], planned[i][1]);
    uint32_t n = {up}_MPU_REGIONS_USED;
#ifdef {up}_MPU_MAIR0
    REG(0xE000EDC0) = {up}_MPU_MAIR0;
    set_region(n, FLASH_BASE | 0x6u, (FLASH_BASE + 0x3FFFE0u) | 0x3u);
    set_region(n + 1, RAM_BASE | 0x3u, (RAM_BASE + 0x1FFFE0u) | 0x1u);
#else
    set_region(n, FLASH_BASE, 0x0602002Bu);
    set_region(n + 1, RAM_BASE, 0x130B0029u);
#endif
    REG(0xE000ED24) |= 1u << 16;
    REG(0xE000ED94) = 5u;
    __asm__ volatile("dsb\n isb" ::: "memory");
    __asm__ volatile("msr control, %0\n isb" : : "r"(1u) : "memory");

    for (uint32_t i = 0; i < sizeof inside / sizeof inside[0]; i++) {{
        *(volatile uint8_t *)inside[i] = (uint8_t)(i + 1);
        if (load_byte(inside[i]) != (uint8_t)(i + 1) || faults_seen != 0) return 10 + i;
    }}
    for (uint32_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {{
        expected_fault_address = outside[i];
        (void)load_byte(outside[i]);
        if (faults_seen != i + 1) return 100 + i;
    }}
    return 0;
}}
"#,
        inside = inside.join(", "),
        outside = outside.join(", "),
        instantiate = artifact.symbols.instantiate()
    )
}

const PACKED_WAT: &str = r#"
(module
  (memory $a 40960 40960 (pagesize 1))
  (memory $b 100 100 (pagesize 1))
  (memory $c 1 1)
  (memory $d 3000 3000 (pagesize 1))
  (memory $e 32 32 (pagesize 1))
  (func (export "touch") (param i32) (result i32)
    (i32.store8 $a (local.get 0) (i32.const 1))
    (i32.load8_u $d (i32.const 0))))
"#;

fn probe(board: &Board, test: &str) {
    let artifact =
        compile(Options { name: "packed".into(), target: board.target.into(), ..Default::default() }, PACKED_WAT);
    let layout = emit::plan_layout(&artifact, None).unwrap();
    // Subregions do trim: memory 0 (40 KiB) is granted less than its window.
    if board.machine == "mps2-an386" {
        let region = layout.memory_region(0).unwrap();
        assert_eq!(region.pmsav7.unwrap().srd, 0xE0);
    }
    let main_c = probe_main_c(&artifact, &layout, board);
    // Exit 0: every probe behaved as planned; 10+i: inside probe i faulted
    // or read back wrong; 100+i: outside probe i did not fault; 251: a
    // fault at another address; 252: another fault.
    let out_of_probe = build_and_run_with(board, test, &artifact, &main_c, PROBE_STARTUP_C, 0);
    check_linked_addresses(&out_of_probe.0, &out_of_probe.1);
}

#[test]
fn every_grant_boundary_is_enforced_by_the_pmsav7_mpu() {
    probe(&AN386, "probe-an386");
}

#[test]
fn every_grant_boundary_is_enforced_by_the_pmsav8_mpu() {
    probe(&AN505, "probe-an505");
}
