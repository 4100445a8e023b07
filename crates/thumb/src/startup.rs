//! Startup code of a self-contained firmware image (`bulkhead compile
//! --image`): vector table, reset handler, the unprivileged entry runner,
//! exception handlers that report faults and wasm traps, and semihosting
//! output. Built with the ordinary encoder ([`Asm`]) and the system
//! instructions of [`crate::isa::system`]; the image linker
//! (`bulkhead_elf::image`) places it and resolves its relocations, which
//! name symbols by string (see [`StartupCode`]).
//!
//! The code is fixed; everything per image is data in `rodata`: the MPU
//! register writes of the plan, the entries and their region grants, and
//! the messages. Architecture knowledge (PMSAv7 vs PMSAv8 register values)
//! lives with the caller: here a region change is just a list of
//! [`RegWrite`]s.
//!
//! # Symbols the linker must define
//!
//! `__bulkhead_data_load` (flash copy of `.data`), `__bulkhead_data_start`,
//! `__bulkhead_data_end`, `__bulkhead_bss_start`, `__bulkhead_bss_end`
//! (word aligned), `__bulkhead_msp_top` (initial main stack pointer: the
//! privileged stack), `__bulkhead_psp_top` and `__bulkhead_psp_bottom`
//! (the process stack of `instantiate` and the entries, 8-byte aligned),
//! and `__bulkhead_private`: 64 bytes of privileged-only scratch
//! RAM (no MPU region grants it to unprivileged code).
//!
//! # Run-time behaviour
//!
//! Reset copies `.data`, zeroes `.bss`, optionally enables the FPU (without
//! lazy state preservation, so that an abandoned exception frame leaves no
//! pending FP save behind; FPDSCR = default-NaN mode, round to nearest,
//! no flush-to-zero, so every FP context compiled code runs in has that
//! FPSCR), enables the MemManage, BusFault and UsageFault
//! exceptions (SHCSR), executes the MPU setup writes (followed by DSB/ISB),
//! prints `bulkhead image NAME`, calls the module's `instantiate`
//! (privileged, on the process stack, so that the compiled code's stack
//! checks against the stack limit hold) and then runs every entry:
//!
//! 1. the entry's grant writes (enable exactly its memories' regions);
//! 2. PSP = `__bulkhead_psp_top`, CONTROL = nPRIV | SPSEL: unprivileged
//!    Thread mode on the process stack; `blx` the export;
//! 3. on return, `svc #0`: the SVC handler checks that the SVC came from
//!    exactly that instruction and returns to a privileged continuation
//!    (a fresh exception frame on the main stack, EXC_RETURN 0xFFFFFFF9),
//!    which prints `entry NAME returned N` (or `entry NAME returned` for
//!    `() -> ()`).
//!
//! A fault (HardFault, MemManage, BusFault, UsageFault, an unexpected SVC or
//! any other exception) prints one line:
//!
//! ```text
//! entry NAME faulted: MemManage CFSR=0x00000082 MMFAR=0x20210100 PC=0x0000012c
//! entry NAME trapped: out of bounds memory access (code 2) PC=0x0000012c
//! ```
//!
//! (`instantiate` / `startup` instead of `entry NAME` outside entries;
//! MMFAR/BFAR only when CFSR marks them valid, HFSR for HardFaults; PC=0
//! when the frame could not be stacked, e.g. on a stack overflow). A
//! `UDF #code` (CFSR.UNDEFINSTR with the halfword 0xDExx at the stacked PC)
//! is reported as the wasm trap `code`. In an entry, the handler abandons
//! the entry (the same continuation as SVC, with a failure status) and the
//! next entry runs; outside entries it exits. `instantiate` returning
//! non-zero prints `instantiate failed: NAME (code N)` and exits.
//!
//! Finally `done: all entries returned` or `done: N entries faulted or
//! trapped`, and semihosting `SYS_EXIT_EXTENDED` with
//! `ADP_Stopped_ApplicationExit` and the status: 0 all entries returned,
//! 1 some entry faulted or trapped, 2 instantiation failed or a fault
//! outside the entries.

use crate::isa::asm::{Asm, Cond, DpOp, MemSize, Reg, ShiftKind};
use crate::isa::system::{SpecialReg, SysInsn};
use crate::RelocKind;

/// One 32-bit store to a memory-mapped register: `*(u32 *)addr = value`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct RegWrite {
    pub addr: u32,
    pub value: u32,
}

/// An export the image runs after instantiation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartupEntry {
    /// The export's symbol (a Thumb function, signature `() -> i32` or `() -> ()`).
    pub symbol: String,
    /// Its wasm export name, for the messages.
    pub name: String,
    /// `() -> i32` (print the value) rather than `() -> ()`.
    pub returns_i32: bool,
    /// Register writes run (privileged) right before dropping privilege:
    /// they enable exactly the regions the entry may use. A DSB and ISB
    /// follow.
    pub grant: Vec<RegWrite>,
}

/// What the startup code needs to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartupConfig {
    /// The module name, for the banner.
    pub module_name: String,
    /// Symbol of `int32_t NAME__instantiate(void)`.
    pub instantiate: String,
    /// Run in order after instantiation.
    pub entries: Vec<StartupEntry>,
    /// Register writes at reset (MPU programming), then DSB and ISB.
    pub setup: Vec<RegWrite>,
    /// Enable CP10/CP11 (the core has an FPU).
    pub fpu: bool,
    /// Name of the `const uint32_t` the compiled code's stack checks read
    /// (`bulkhead_elf::SymbolNames::STACK_LIMIT`): defined here, in
    /// read-only data, as the bottom of the process stack plus
    /// [`STACK_LIMIT_MARGIN`].
    pub stack_limit_symbol: String,
}

/// Bytes kept free below the stack limit, so that the exception frame of
/// the stack-exhaustion trap (up to 104 bytes with FP state) still fits.
pub const STACK_LIMIT_MARGIN: i32 = 256;

/// Which output section a piece of startup code goes to.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum StartupSection {
    /// Machine code, placed first at the image's code base: it begins with
    /// the vector table.
    Text,
    /// Read-only data (tables, messages).
    Rodata,
}

/// A relocation against a symbol named by string. The field holds the
/// instruction (or a zero word) with a zero immediate; the linker computes
/// the value from `symbol + addend` as for the ELF relocation of `kind`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolReloc {
    pub section: StartupSection,
    pub offset: u32,
    pub kind: RelocKind,
    pub symbol: String,
    pub addend: i32,
}

/// A symbol the startup code defines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartupSymbol {
    pub name: String,
    pub section: StartupSection,
    pub offset: u32,
    pub size: u32,
    /// A Thumb function: its value (and ABS32/MOVW references to it) has
    /// bit 0 set.
    pub thumb_function: bool,
    /// Visible outside the image's symbol table as a global.
    pub global: bool,
}

/// The generated startup code.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartupCode {
    /// Vector table (`vector_table_size` bytes) followed by code.
    pub text: Vec<u8>,
    pub rodata: Vec<u8>,
    pub relocs: Vec<SymbolReloc>,
    pub symbols: Vec<StartupSymbol>,
    /// Data ranges inside `text` (the vector table), for `$d` mapping symbols.
    pub text_data_ranges: Vec<(u32, u32)>,
    /// The reset handler's symbol (the ELF entry point).
    pub entry_symbol: String,
}

/// Bytes of the vector table: 16 system exception words (initial SP, reset,
/// NMI ... SysTick). External interrupts are never enabled.
pub const VECTOR_TABLE_SIZE: u32 = 16 * 4;

/// Offsets in the private scratch area (`__bulkhead_private`).
const P_SAVED_MSP: i32 = 0;
const P_CONTEXT: i32 = 4;
const P_IN_ENTRY: i32 = 8;
const P_EXIT_BLOCK: i32 = 16;
const P_NUMBUF: i32 = 32;
/// Size of the private area the linker must reserve.
pub const PRIVATE_AREA_SIZE: u32 = 64;

/// Bytes per entry-table record: {code|1, context string, grant writes, grant count, returns_i32}.
const ENTRY_RECORD: u32 = 20;

/// Semihosting operations (ARM semihosting specification v2).
const SYS_WRITE0: u32 = 0x04;
const SYS_EXIT: u32 = 0x18;
const SYS_EXIT_EXTENDED: u32 = 0x20;
const ADP_STOPPED_APPLICATION_EXIT: u32 = 0x20026;

/// System control block registers.
const SCB_CPACR: u32 = 0xE000_ED88;
const SCB_SHCSR: u32 = 0xE000_ED24;
const SCB_CFSR: u32 = 0xE000_ED28;
const SCB_HFSR: u32 = 0xE000_ED2C;
const SCB_MMFAR: u32 = 0xE000_ED34;
const SCB_BFAR: u32 = 0xE000_ED38;
const FPU_FPCCR: u32 = 0xE000_EF34;
/// FPDSCR: the FPSCR value a new floating-point context starts with.
const FPU_FPDSCR: u32 = 0xE000_EF3C;
/// FPSCR.DN, default NaN mode.
const FPSCR_DN: u32 = 1 << 25;
/// CFSR bits meaning the exception frame was not (or not fully) stacked or
/// unstacked: MUNSTKERR (3), MSTKERR (4), UNSTKERR (11), STKERR (12),
/// STKOF (20, ARMv8-M).
const STACKING_ERRORS: u32 = (1 << 3) | (1 << 4) | (1 << 11) | (1 << 12) | (1 << 20);

/// Exit statuses (documented in docs/embedder-abi.md, "Firmware images").
pub const EXIT_ALL_RETURNED: u32 = 0;
pub const EXIT_ENTRY_FAILED: u32 = 1;
pub const EXIT_STARTUP_FAILED: u32 = 2;

const R0: Reg = Reg(0);
const R1: Reg = Reg(1);
const R2: Reg = Reg(2);
const R3: Reg = Reg(3);
const R4: Reg = Reg(4);
const R5: Reg = Reg(5);
const R6: Reg = Reg(6);
const R7: Reg = Reg(7);
const R8: Reg = Reg(8);

fn regs(list: &[u8]) -> u16 {
    list.iter().fold(0, |m, r| m | (1 << r))
}

/// Why startup code could not be generated (a bug: every instruction is
/// fixed; only the table sizes vary).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartupError {
    pub message: String,
}

impl core::fmt::Display for StartupError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "startup code: {}", self.message)
    }
}

impl std::error::Error for StartupError {}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Label(usize);

enum Item {
    Asm(Asm),
    Sys(SysInsn),
    Bind(Label),
    /// `b<cond>.w label` / `b.w label`.
    Branch(Option<Cond>, Label),
    /// `bl label`.
    Call(Label),
    /// `movw rd, #:lower16:sym+addend; movt rd, #:upper16:sym+addend`.
    MovAddr(Reg, String, i32),
    /// A 32-bit word with an ABS32 relocation (vector table).
    Word(String, i32),
    /// A symbol defined here (at the current offset).
    Symbol {
        name: String,
        thumb_function: bool,
        global: bool,
    },
}

impl Item {
    fn size(&self) -> u32 {
        match self {
            Item::Asm(a) => a.size(),
            Item::Sys(s) => s.size(),
            Item::Bind(_) | Item::Symbol { .. } => 0,
            Item::Branch(..) | Item::Call(_) | Item::Word(..) => 4,
            Item::MovAddr(..) => 8,
        }
    }
}

/// A tiny assembler: fixed-size items, labels resolved in a second pass.
struct Code {
    items: Vec<Item>,
    labels: usize,
}

impl Code {
    fn new() -> Code {
        Code { items: Vec::new(), labels: 0 }
    }
    fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }
    fn bind(&mut self, l: Label) {
        self.items.push(Item::Bind(l));
    }
    fn a(&mut self, a: Asm) {
        self.items.push(Item::Asm(a));
    }
    fn sys(&mut self, s: SysInsn) {
        self.items.push(Item::Sys(s));
    }
    fn b(&mut self, cond: Option<Cond>, l: Label) {
        self.items.push(Item::Branch(cond, l));
    }
    fn bl(&mut self, l: Label) {
        self.items.push(Item::Call(l));
    }
    fn addr(&mut self, rd: Reg, symbol: &str, addend: i32) {
        self.items.push(Item::MovAddr(rd, symbol.to_string(), addend));
    }
    fn func(&mut self, name: &str) {
        self.items.push(Item::Symbol { name: name.to_string(), thumb_function: true, global: false });
    }
    /// A code address used as data (stacked PC values): no Thumb bit.
    fn code_label_symbol(&mut self, name: &str) {
        self.items.push(Item::Symbol { name: name.to_string(), thumb_function: false, global: false });
    }
    /// `rd = value` (MOVW, plus MOVT when the upper half is non-zero).
    fn imm(&mut self, rd: Reg, value: u32) {
        self.a(Asm::MovW { rd, imm16: value as u16 });
        if value >> 16 != 0 {
            self.a(Asm::MovT { rd, imm16: (value >> 16) as u16 });
        }
    }
    fn mov(&mut self, rd: Reg, rm: Reg) {
        self.a(Asm::MovReg { rd, rm });
    }
    fn ldr(&mut self, rt: Reg, rn: Reg, imm: i32) {
        self.a(Asm::Ldr { size: MemSize::Word, signed: false, rt, rn, imm });
    }
    fn str(&mut self, rt: Reg, rn: Reg, imm: i32) {
        self.a(Asm::Str { size: MemSize::Word, rt, rn, imm });
    }
    fn dp_imm(&mut self, op: DpOp, rd: Reg, rn: Reg, imm: u32) {
        let s = matches!(op, DpOp::Cmp | DpOp::Tst);
        let rd = if s { Reg::PC } else { rd };
        self.a(Asm::DpImm { op, s, rd, rn, imm });
    }
    fn cmp(&mut self, rn: Reg, imm: u32) {
        self.dp_imm(DpOp::Cmp, Reg::PC, rn, imm);
    }
    fn cmp_reg(&mut self, rn: Reg, rm: Reg) {
        self.a(Asm::DpReg { op: DpOp::Cmp, s: true, rd: Reg::PC, rn, rm, shift: crate::isa::asm::Shift::NONE });
    }
    fn tst(&mut self, rn: Reg, imm: u32) {
        self.dp_imm(DpOp::Tst, Reg::PC, rn, imm);
    }
    /// `puts(symbol)` of a string in rodata.
    fn print(&mut self, symbol: &str, puts: Label) {
        self.addr(R0, symbol, 0);
        self.bl(puts);
    }

    /// Encodes into `out` (text), returning relocations and symbols.
    fn finish(
        self,
        base: u32,
        out: &mut Vec<u8>,
        relocs: &mut Vec<SymbolReloc>,
        symbols: &mut Vec<StartupSymbol>,
    ) -> Result<(), StartupError> {
        let mut at = base;
        let mut label_at = vec![None; self.labels];
        for item in &self.items {
            if let Item::Bind(l) = item {
                label_at[l.0] = Some(at);
            }
            at += item.size();
        }
        let target = |l: Label| -> Result<i64, StartupError> {
            label_at[l.0].map(i64::from).ok_or_else(|| StartupError { message: format!("label {} never bound", l.0) })
        };
        let enc = |a: &Asm, out: &mut Vec<u8>| a.encode(out).map_err(|e| StartupError { message: e.to_string() });
        for item in &self.items {
            let pc = out.len() as i64 + 4;
            match item {
                Item::Asm(a) => enc(a, out)?,
                Item::Sys(s) => s.encode(out).map_err(|e| StartupError { message: e.to_string() })?,
                Item::Bind(_) => {}
                Item::Branch(cond, l) => {
                    enc(&Asm::BranchW { cond: *cond, offset: (target(*l)? - pc) as i32 }, out)?;
                }
                Item::Call(l) => enc(&Asm::Bl { offset: (target(*l)? - pc) as i32 }, out)?,
                Item::MovAddr(rd, symbol, addend) => {
                    for (kind, insn) in [
                        (RelocKind::ThumbMovwAbsNc, Asm::MovW { rd: *rd, imm16: 0 }),
                        (RelocKind::ThumbMovtAbs, Asm::MovT { rd: *rd, imm16: 0 }),
                    ] {
                        relocs.push(SymbolReloc {
                            section: StartupSection::Text,
                            offset: out.len() as u32,
                            kind,
                            symbol: symbol.clone(),
                            addend: *addend,
                        });
                        enc(&insn, out)?;
                    }
                }
                Item::Word(symbol, addend) => {
                    relocs.push(SymbolReloc {
                        section: StartupSection::Text,
                        offset: out.len() as u32,
                        kind: RelocKind::Abs32,
                        symbol: symbol.clone(),
                        addend: *addend,
                    });
                    out.extend_from_slice(&[0; 4]);
                }
                Item::Symbol { name, thumb_function, global } => symbols.push(StartupSymbol {
                    name: name.clone(),
                    section: StartupSection::Text,
                    offset: out.len() as u32,
                    size: 0,
                    thumb_function: *thumb_function,
                    global: *global,
                }),
            }
        }
        Ok(())
    }
}

/// Read-only data under construction.
struct Rodata {
    bytes: Vec<u8>,
    relocs: Vec<SymbolReloc>,
    symbols: Vec<StartupSymbol>,
}

impl Rodata {
    fn align(&mut self, n: usize) {
        while !self.bytes.len().is_multiple_of(n) {
            self.bytes.push(0);
        }
    }
    fn define(&mut self, name: &str, size: u32) {
        self.symbols.push(StartupSymbol {
            name: name.to_string(),
            section: StartupSection::Rodata,
            offset: self.bytes.len() as u32,
            size,
            thumb_function: false,
            global: false,
        });
    }
    /// A NUL-terminated string.
    fn string(&mut self, name: &str, text: &str) {
        self.define(name, text.len() as u32 + 1);
        self.bytes.extend_from_slice(text.as_bytes());
        self.bytes.push(0);
    }
    fn word(&mut self, value: u32) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }
    fn word_reloc(&mut self, symbol: &str, addend: i32) {
        self.relocs.push(SymbolReloc {
            section: StartupSection::Rodata,
            offset: self.bytes.len() as u32,
            kind: RelocKind::Abs32,
            symbol: symbol.to_string(),
            addend,
        });
        self.word(0);
    }
    fn writes(&mut self, name: &str, writes: &[RegWrite]) {
        self.align(4);
        self.define(name, writes.len() as u32 * 8);
        for w in writes {
            self.word(w.addr);
            self.word(w.value);
        }
    }
}

/// Symbol names of the startup code (all start with `__bulkhead_image_`,
/// which no module symbol can: module symbols start with the module name,
/// a C identifier without `__`).
pub mod symbols {
    pub const RESET: &str = "__bulkhead_image_reset";
    pub const VECTORS: &str = "__bulkhead_image_vectors";
    pub const DATA_LOAD: &str = "__bulkhead_data_load";
    pub const DATA_START: &str = "__bulkhead_data_start";
    pub const DATA_END: &str = "__bulkhead_data_end";
    pub const BSS_START: &str = "__bulkhead_bss_start";
    pub const BSS_END: &str = "__bulkhead_bss_end";
    pub const MSP_TOP: &str = "__bulkhead_msp_top";
    pub const PSP_TOP: &str = "__bulkhead_psp_top";
    pub const PSP_BOTTOM: &str = "__bulkhead_psp_bottom";
    pub const PRIVATE: &str = "__bulkhead_private";
    /// The symbols the linker defines.
    pub const LINKER_DEFINED: [&str; 9] =
        [DATA_LOAD, DATA_START, DATA_END, BSS_START, BSS_END, MSP_TOP, PSP_TOP, PSP_BOTTOM, PRIVATE];
}

use symbols as sym;

const S_BANNER: &str = "__bulkhead_image_s_banner";
const S_STARTUP: &str = "__bulkhead_image_s_startup";
const S_INSTANTIATE: &str = "__bulkhead_image_s_instantiate";
const S_INST_FAILED: &str = "__bulkhead_image_s_instfailed";
const S_CODE: &str = "__bulkhead_image_s_code";
const S_CLOSE_NL: &str = "__bulkhead_image_s_closenl";
const S_RETURNED: &str = "__bulkhead_image_s_returned";
const S_RETURNED_NL: &str = "__bulkhead_image_s_returnednl";
const S_NL: &str = "__bulkhead_image_s_nl";
const S_TRAPPED: &str = "__bulkhead_image_s_trapped";
const S_FAULTED: &str = "__bulkhead_image_s_faulted";
const S_CFSR: &str = "__bulkhead_image_s_cfsr";
const S_MMFAR: &str = "__bulkhead_image_s_mmfar";
const S_BFAR: &str = "__bulkhead_image_s_bfar";
const S_HFSR: &str = "__bulkhead_image_s_hfsr";
const S_PC: &str = "__bulkhead_image_s_pc";
const S_CLOSE_PC: &str = "__bulkhead_image_s_closepc";
const S_DONE_OK: &str = "__bulkhead_image_s_doneok";
const S_DONE_BAD: &str = "__bulkhead_image_s_donebad";
const S_DONE_BAD_TAIL: &str = "__bulkhead_image_s_donebadtail";
const T_TRAP_NAMES: &str = "__bulkhead_image_trap_names";
const T_EXC_NAMES: &str = "__bulkhead_image_exception_names";
const T_ENTRIES: &str = "__bulkhead_image_entries";
const T_SETUP: &str = "__bulkhead_image_setup";
const L_SVC_RETURN: &str = "__bulkhead_image_svc_return";
const L_CONTINUE: &str = "__bulkhead_image_continue";

/// The largest trap code; the name table has one entry per code up to it.
fn max_trap_code() -> u8 {
    bulkhead_ir::TrapCode::ALL.iter().map(|t| t.code()).max().unwrap_or(0)
}

/// Names of the trap codes (index = code), as the spec words them.
fn trap_names() -> Vec<&'static str> {
    let mut names = vec!["unknown trap"; max_trap_code() as usize + 1];
    for t in bulkhead_ir::TrapCode::ALL {
        if let Some(slot) = names.get_mut(t.code() as usize) {
            *slot = t.spec_message();
        }
    }
    names
}

/// Names of the system exceptions by number (IPSR value).
const EXCEPTION_NAMES: [&str; 16] = [
    "exception 0",
    "reset",
    "NMI",
    "HardFault",
    "MemManage",
    "BusFault",
    "UsageFault",
    "SecureFault",
    "exception 8",
    "exception 9",
    "exception 10",
    "unexpected SVC",
    "DebugMonitor",
    "exception 13",
    "PendSV",
    "SysTick",
];

/// Generates the startup code for `config`.
pub fn generate(config: &StartupConfig) -> Result<StartupCode, StartupError> {
    let mut ro = Rodata { bytes: Vec::new(), relocs: Vec::new(), symbols: Vec::new() };
    ro.string(S_BANNER, &format!("bulkhead image {}\n", config.module_name));
    ro.string(S_STARTUP, "startup");
    ro.string(S_INSTANTIATE, "instantiate");
    ro.string(S_INST_FAILED, "instantiate failed: ");
    ro.string(S_CODE, " (code ");
    ro.string(S_CLOSE_NL, ")\n");
    ro.string(S_RETURNED, " returned ");
    ro.string(S_RETURNED_NL, " returned\n");
    ro.string(S_NL, "\n");
    ro.string(S_TRAPPED, " trapped: ");
    ro.string(S_FAULTED, " faulted: ");
    ro.string(S_CFSR, " CFSR=");
    ro.string(S_MMFAR, " MMFAR=");
    ro.string(S_BFAR, " BFAR=");
    ro.string(S_HFSR, " HFSR=");
    ro.string(S_PC, " PC=");
    ro.string(S_CLOSE_PC, ") PC=");
    ro.string(S_DONE_OK, "done: all entries returned\n");
    ro.string(S_DONE_BAD, "done: ");
    ro.string(S_DONE_BAD_TAIL, " entries faulted or trapped\n");
    let trap_names = trap_names();
    for (i, name) in trap_names.iter().enumerate() {
        ro.string(&format!("__bulkhead_image_s_trap{i}"), name);
    }
    for (i, name) in EXCEPTION_NAMES.iter().enumerate() {
        ro.string(&format!("__bulkhead_image_s_exc{i}"), name);
    }
    for (i, entry) in config.entries.iter().enumerate() {
        ro.string(&format!("__bulkhead_image_s_entry{i}"), &format!("entry {}", entry.name));
    }
    ro.align(4);
    ro.define(T_TRAP_NAMES, trap_names.len() as u32 * 4);
    for i in 0..trap_names.len() {
        ro.word_reloc(&format!("__bulkhead_image_s_trap{i}"), 0);
    }
    ro.define(T_EXC_NAMES, 64);
    for i in 0..EXCEPTION_NAMES.len() {
        ro.word_reloc(&format!("__bulkhead_image_s_exc{i}"), 0);
    }
    ro.align(4);
    ro.symbols.push(StartupSymbol {
        name: config.stack_limit_symbol.clone(),
        section: StartupSection::Rodata,
        offset: ro.bytes.len() as u32,
        size: 4,
        thumb_function: false,
        global: true,
    });
    ro.word_reloc(sym::PSP_BOTTOM, STACK_LIMIT_MARGIN);
    ro.writes(T_SETUP, &config.setup);
    for (i, entry) in config.entries.iter().enumerate() {
        ro.writes(&format!("__bulkhead_image_grant{i}"), &entry.grant);
    }
    ro.align(4);
    ro.define(T_ENTRIES, config.entries.len() as u32 * ENTRY_RECORD);
    for (i, entry) in config.entries.iter().enumerate() {
        ro.word_reloc(&entry.symbol, 0);
        ro.word_reloc(&format!("__bulkhead_image_s_entry{i}"), 0);
        ro.word_reloc(&format!("__bulkhead_image_grant{i}"), 0);
        ro.word(entry.grant.len() as u32);
        ro.word(u32::from(entry.returns_i32));
    }

    let mut c = Code::new();
    let puts = c.label();
    let put_hex = c.label();
    let put_dec = c.label();
    let exit = c.label();
    let apply_writes = c.label();
    let run_entry = c.label();
    let fault_common = c.label();
    let abandon = c.label();

    // --- vector table -----------------------------------------------------
    c.items.push(Item::Symbol { name: sym::VECTORS.into(), thumb_function: false, global: true });
    c.items.push(Item::Word(sym::MSP_TOP.into(), 0));
    c.items.push(Item::Word(sym::RESET.into(), 0));
    for n in 2..16 {
        c.items.push(Item::Word(format!("__bulkhead_image_exc{n}"), 0));
    }

    // --- reset ----------------------------------------------------------------
    c.items.push(Item::Symbol { name: sym::RESET.into(), thumb_function: true, global: true });
    // .data: copy words from flash.
    c.addr(R0, sym::DATA_LOAD, 0);
    c.addr(R1, sym::DATA_START, 0);
    c.addr(R2, sym::DATA_END, 0);
    let (copy, copied) = (c.label(), c.label());
    c.bind(copy);
    c.cmp_reg(R1, R2);
    c.b(Some(Cond::Hs), copied);
    c.ldr(R3, R0, 0);
    c.str(R3, R1, 0);
    c.dp_imm(DpOp::Add, R0, R0, 4);
    c.dp_imm(DpOp::Add, R1, R1, 4);
    c.b(None, copy);
    c.bind(copied);
    // .bss: zero.
    c.addr(R1, sym::BSS_START, 0);
    c.addr(R2, sym::BSS_END, 0);
    c.imm(R3, 0);
    let (zero, zeroed) = (c.label(), c.label());
    c.bind(zero);
    c.cmp_reg(R1, R2);
    c.b(Some(Cond::Hs), zeroed);
    c.str(R3, R1, 0);
    c.dp_imm(DpOp::Add, R1, R1, 4);
    c.b(None, zero);
    c.bind(zeroed);
    if config.fpu {
        // CPACR: full access to CP10/CP11. FPCCR: ASPEN only (no lazy
        // stacking), so that abandoning a frame leaves no pending FP save.
        c.imm(R0, SCB_CPACR);
        c.ldr(R1, R0, 0);
        c.dp_imm(DpOp::Orr, R1, R1, 0x00F0_0000);
        c.str(R1, R0, 0);
        c.imm(R0, FPU_FPCCR);
        c.imm(R1, 0x8000_0000);
        c.str(R1, R0, 0);
        // FPDSCR: default NaN mode, round to nearest, no flush-to-zero.
        // Startup runs no FP instruction, so the first one (in compiled
        // code, CONTROL.FPCA clear) loads FPSCR from here: VFP NaN results
        // are then the canonical NaN, as from the soft-float routines.
        c.imm(R0, FPU_FPDSCR);
        c.imm(R1, FPSCR_DN);
        c.str(R1, R0, 0);
        c.sys(SysInsn::Dsb);
        c.sys(SysInsn::Isb);
    }
    // SHCSR: MEMFAULTENA | BUSFAULTENA | USGFAULTENA.
    c.imm(R0, SCB_SHCSR);
    c.ldr(R1, R0, 0);
    c.dp_imm(DpOp::Orr, R1, R1, 0x0007_0000);
    c.str(R1, R0, 0);
    // The context for fault messages: "startup" until instantiate.
    c.addr(R4, sym::PRIVATE, 0);
    c.addr(R0, S_STARTUP, 0);
    c.str(R0, R4, P_CONTEXT);
    c.imm(R0, 0);
    c.str(R0, R4, P_IN_ENTRY);
    // MPU.
    c.addr(R0, T_SETUP, 0);
    c.imm(R1, config.setup.len() as u32);
    c.bl(apply_writes);
    c.print(S_BANNER, puts);
    // instantiate (privileged).
    c.addr(R0, S_INSTANTIATE, 0);
    c.str(R0, R4, P_CONTEXT);
    // On the process stack (still privileged): SPSEL only.
    c.addr(R0, sym::PSP_TOP, 0);
    c.sys(SysInsn::Msr { spec: SpecialReg::Psp, rn: R0 });
    c.imm(R0, 2);
    c.sys(SysInsn::Msr { spec: SpecialReg::Control, rn: R0 });
    c.sys(SysInsn::Isb);
    c.addr(R3, &config.instantiate, 0);
    c.a(Asm::Blx { rm: R3 });
    c.imm(R1, 0);
    c.sys(SysInsn::Msr { spec: SpecialReg::Control, rn: R1 });
    c.sys(SysInsn::Isb);
    let instantiated = c.label();
    c.cmp(R0, 0);
    c.b(Some(Cond::Eq), instantiated);
    c.mov(R5, R0);
    c.print(S_INST_FAILED, puts);
    c.mov(R0, R5);
    c.cmp(R0, max_trap_code().into());
    let known = c.label();
    c.b(Some(Cond::Ls), known);
    c.imm(R0, 0);
    c.bind(known);
    c.addr(R1, T_TRAP_NAMES, 0);
    c.a(Asm::LdrReg { size: MemSize::Word, signed: false, rt: R0, rn: R1, rm: R0, shift: 2 });
    c.bl(puts);
    c.print(S_CODE, puts);
    c.mov(R0, R5);
    c.bl(put_dec);
    c.print(S_CLOSE_NL, puts);
    c.imm(R0, EXIT_STARTUP_FAILED);
    c.bl(exit);
    c.bind(instantiated);
    // Entries: r4 = record, r5 = remaining, r6 = failures.
    c.addr(R4, T_ENTRIES, 0);
    c.imm(R5, config.entries.len() as u32);
    c.imm(R6, 0);
    let (next_entry, entries_done, entry_failed, entry_void, entry_advance) =
        (c.label(), c.label(), c.label(), c.label(), c.label());
    c.bind(next_entry);
    c.cmp(R5, 0);
    c.b(Some(Cond::Eq), entries_done);
    c.addr(R1, sym::PRIVATE, 0);
    c.ldr(R0, R4, 4);
    c.str(R0, R1, P_CONTEXT);
    c.ldr(R0, R4, 0);
    c.ldr(R1, R4, 8);
    c.ldr(R2, R4, 12);
    c.bl(run_entry);
    c.cmp(R0, 0);
    c.b(Some(Cond::Ne), entry_failed);
    c.mov(R7, R1);
    c.ldr(R0, R4, 4);
    c.bl(puts);
    c.ldr(R0, R4, 16);
    c.cmp(R0, 0);
    c.b(Some(Cond::Eq), entry_void);
    c.print(S_RETURNED, puts);
    c.mov(R0, R7);
    c.bl(put_dec);
    c.print(S_NL, puts);
    c.b(None, entry_advance);
    c.bind(entry_void);
    c.print(S_RETURNED_NL, puts);
    c.b(None, entry_advance);
    c.bind(entry_failed);
    c.dp_imm(DpOp::Add, R6, R6, 1);
    c.bind(entry_advance);
    c.dp_imm(DpOp::Add, R4, R4, ENTRY_RECORD);
    c.dp_imm(DpOp::Sub, R5, R5, 1);
    c.b(None, next_entry);
    c.bind(entries_done);
    let some_failed = c.label();
    c.addr(R1, sym::PRIVATE, 0);
    c.addr(R0, S_STARTUP, 0);
    c.str(R0, R1, P_CONTEXT);
    c.cmp(R6, 0);
    c.b(Some(Cond::Ne), some_failed);
    c.print(S_DONE_OK, puts);
    c.imm(R0, EXIT_ALL_RETURNED);
    c.bl(exit);
    c.bind(some_failed);
    c.print(S_DONE_BAD, puts);
    c.mov(R0, R6);
    c.bl(put_dec);
    c.print(S_DONE_BAD_TAIL, puts);
    c.imm(R0, EXIT_ENTRY_FAILED);
    c.bl(exit);

    // --- run_entry(r0 = code, r1 = grant writes, r2 = count) -> (r0 = 0 returned / 1 faulted / 2 trapped, r1 = value)
    c.bind(run_entry);
    // Ten registers keep SP 8-byte aligned; the continuation pops them.
    c.a(Asm::Push { regs: regs(&[3, 4, 5, 6, 7, 8, 9, 10, 11, 14]) });
    c.mov(R4, R0);
    c.mov(R0, R1);
    c.mov(R1, R2);
    c.bl(apply_writes);
    c.addr(R5, sym::PRIVATE, 0);
    c.mov(R6, Reg::SP);
    c.str(R6, R5, P_SAVED_MSP);
    c.imm(R6, 1);
    c.str(R6, R5, P_IN_ENTRY);
    c.addr(R6, sym::PSP_TOP, 0);
    c.sys(SysInsn::Msr { spec: SpecialReg::Psp, rn: R6 });
    // CONTROL = nPRIV | SPSEL: unprivileged, on the process stack.
    c.imm(R6, 3);
    c.sys(SysInsn::Msr { spec: SpecialReg::Control, rn: R6 });
    c.sys(SysInsn::Isb);
    c.a(Asm::Blx { rm: R4 });
    // Back to privileged: the SVC handler checks the return address.
    c.sys(SysInsn::Svc { imm8: 0 });
    c.code_label_symbol(L_SVC_RETURN);
    c.a(Asm::Udf { imm8: 0xFF });
    // The privileged continuation (Thread mode, MSP = the saved SP).
    c.code_label_symbol(L_CONTINUE);
    c.addr(R5, sym::PRIVATE, 0);
    c.imm(R6, 0);
    c.str(R6, R5, P_IN_ENTRY);
    c.a(Asm::Pop { regs: regs(&[3, 4, 5, 6, 7, 8, 9, 10, 11, 15]) });

    // --- exception stubs: r0 = exception number, LR = EXC_RETURN intact.
    let svc_handler = c.label();
    for n in 2..16u32 {
        c.func(&format!("__bulkhead_image_exc{n}"));
        if n == 11 {
            c.b(None, svc_handler);
        } else {
            c.imm(R0, n);
            c.b(None, fault_common);
        }
    }

    // --- SVC: the return of an entry, or an unexpected SVC (a fault).
    c.bind(svc_handler);
    let bad_svc = c.label();
    c.tst(Reg::LR, 4);
    c.b(Some(Cond::Eq), bad_svc);
    c.sys(SysInsn::Mrs { rd: R0, spec: SpecialReg::Psp });
    c.ldr(R1, R0, 24);
    c.addr(R2, L_SVC_RETURN, 0);
    c.cmp_reg(R1, R2);
    c.b(Some(Cond::Ne), bad_svc);
    c.addr(R1, sym::PRIVATE, 0);
    c.ldr(R1, R1, P_IN_ENTRY);
    c.cmp(R1, 0);
    c.b(Some(Cond::Eq), bad_svc);
    c.imm(R4, 0);
    c.ldr(R5, R0, 0);
    c.b(None, abandon);
    c.bind(bad_svc);
    c.imm(R0, 11);
    c.b(None, fault_common);

    // --- fault_common: r0 = exception number.
    c.bind(fault_common);
    c.mov(R4, R0);
    let on_msp = c.label();
    c.sys(SysInsn::Mrs { rd: R5, spec: SpecialReg::Msp });
    c.tst(Reg::LR, 4);
    c.b(Some(Cond::Eq), on_msp);
    c.sys(SysInsn::Mrs { rd: R5, spec: SpecialReg::Psp });
    c.bind(on_msp);
    c.imm(R7, SCB_CFSR);
    c.ldr(R7, R7, 0);
    // The stacked PC, unless pushing or popping the frame failed (MSTKERR,
    // MUNSTKERR, STKERR, UNSTKERR; ARMv8-M STKOF): then there is no frame
    // to read, and reading below the stack could fault again.
    c.imm(R6, 0);
    let no_frame = c.label();
    c.imm(R0, STACKING_ERRORS);
    c.a(Asm::DpReg { op: DpOp::Tst, s: true, rd: Reg::PC, rn: R7, rm: R0, shift: crate::isa::asm::Shift::NONE });
    c.b(Some(Cond::Ne), no_frame);
    c.ldr(R6, R5, 24);
    c.bind(no_frame);
    c.addr(R0, sym::PRIVATE, 0);
    c.ldr(R0, R0, P_CONTEXT);
    c.bl(puts);
    let not_trap = c.label();
    let reported = c.label();
    // A trap: UNDEFINSTR and `udf #code` (0xDExx) at the stacked PC.
    c.tst(R7, 0x0001_0000);
    c.b(Some(Cond::Eq), not_trap);
    c.cmp(R6, 0);
    c.b(Some(Cond::Eq), not_trap);
    c.dp_imm(DpOp::Bic, R0, R6, 1);
    c.a(Asm::Ldr { size: MemSize::Half, signed: false, rt: R0, rn: R0, imm: 0 });
    c.dp_imm(DpOp::And, R1, R0, 0xFF00);
    c.cmp(R1, 0xDE00);
    c.b(Some(Cond::Ne), not_trap);
    c.dp_imm(DpOp::And, R8, R0, 0xFF);
    c.print(S_TRAPPED, puts);
    c.mov(R0, R8);
    c.cmp(R0, max_trap_code().into());
    let known_trap = c.label();
    c.b(Some(Cond::Ls), known_trap);
    c.imm(R0, 0);
    c.bind(known_trap);
    c.addr(R1, T_TRAP_NAMES, 0);
    c.a(Asm::LdrReg { size: MemSize::Word, signed: false, rt: R0, rn: R1, rm: R0, shift: 2 });
    c.bl(puts);
    c.print(S_CODE, puts);
    c.mov(R0, R8);
    c.bl(put_dec);
    c.print(S_CLOSE_PC, puts);
    c.mov(R0, R6);
    c.bl(put_hex);
    c.print(S_NL, puts);
    c.imm(R4, 2);
    c.mov(R5, R8);
    c.b(None, reported);
    c.bind(not_trap);
    c.print(S_FAULTED, puts);
    c.addr(R1, T_EXC_NAMES, 0);
    c.dp_imm(DpOp::And, R0, R4, 15);
    c.a(Asm::LdrReg { size: MemSize::Word, signed: false, rt: R0, rn: R1, rm: R0, shift: 2 });
    c.bl(puts);
    c.print(S_CFSR, puts);
    c.mov(R0, R7);
    c.bl(put_hex);
    let (no_mmfar, no_bfar, no_hfsr) = (c.label(), c.label(), c.label());
    c.tst(R7, 0x80); // MMARVALID
    c.b(Some(Cond::Eq), no_mmfar);
    c.print(S_MMFAR, puts);
    c.imm(R0, SCB_MMFAR);
    c.ldr(R0, R0, 0);
    c.bl(put_hex);
    c.bind(no_mmfar);
    c.tst(R7, 0x8000); // BFARVALID
    c.b(Some(Cond::Eq), no_bfar);
    c.print(S_BFAR, puts);
    c.imm(R0, SCB_BFAR);
    c.ldr(R0, R0, 0);
    c.bl(put_hex);
    c.bind(no_bfar);
    c.cmp(R4, 3);
    c.b(Some(Cond::Ne), no_hfsr);
    c.print(S_HFSR, puts);
    c.imm(R0, SCB_HFSR);
    c.ldr(R0, R0, 0);
    c.bl(put_hex);
    // Clear HFSR (write one to clear) so the next report is fresh.
    c.imm(R1, SCB_HFSR);
    c.ldr(R0, R1, 0);
    c.str(R0, R1, 0);
    c.bind(no_hfsr);
    c.print(S_PC, puts);
    c.mov(R0, R6);
    c.bl(put_hex);
    c.print(S_NL, puts);
    c.mov(R5, R4);
    c.imm(R4, 1);
    c.bind(reported);
    // Clear the CFSR bits reported (write one to clear).
    c.imm(R0, SCB_CFSR);
    c.str(R7, R0, 0);
    let outside = c.label();
    c.addr(R0, sym::PRIVATE, 0);
    c.ldr(R0, R0, P_IN_ENTRY);
    c.cmp(R0, 0);
    c.b(Some(Cond::Eq), outside);
    c.b(None, abandon);
    c.bind(outside);
    c.imm(R0, EXIT_STARTUP_FAILED);
    c.bl(exit);

    // --- abandon(r4 = status, r5 = value): return from the exception to
    // the continuation, privileged, on the main stack as run_entry left it.
    c.bind(abandon);
    c.addr(R6, sym::PRIVATE, 0);
    c.ldr(R6, R6, P_SAVED_MSP);
    c.dp_imm(DpOp::Sub, R6, R6, 32);
    c.mov(Reg::SP, R6);
    c.str(R4, Reg::SP, 0);
    c.str(R5, Reg::SP, 4);
    c.imm(R0, 0);
    for off in [8, 12, 16, 20] {
        c.str(R0, Reg::SP, off);
    }
    c.addr(R0, L_CONTINUE, 0);
    c.str(R0, Reg::SP, 24);
    c.imm(R0, 0x0100_0000); // xPSR: Thumb bit only
    c.str(R0, Reg::SP, 28);
    c.imm(R0, 0);
    c.sys(SysInsn::Msr { spec: SpecialReg::Control, rn: R0 });
    c.sys(SysInsn::Isb);
    // EXC_RETURN: Thread mode, main stack, basic frame (and on ARMv8-M:
    // Secure, default callee-register rules).
    c.imm(Reg::LR, 0xFFFF_FFF9);
    c.a(Asm::Bx { rm: Reg::LR });

    // --- apply_writes(r0 = pairs, r1 = count): *addr = value for each, then DSB/ISB.
    c.bind(apply_writes);
    let (aw_loop, aw_done) = (c.label(), c.label());
    c.bind(aw_loop);
    c.cmp(R1, 0);
    c.b(Some(Cond::Eq), aw_done);
    c.ldr(R2, R0, 0);
    c.ldr(R3, R0, 4);
    c.str(R3, R2, 0);
    c.dp_imm(DpOp::Add, R0, R0, 8);
    c.dp_imm(DpOp::Sub, R1, R1, 1);
    c.b(None, aw_loop);
    c.bind(aw_done);
    c.sys(SysInsn::Dsb);
    c.sys(SysInsn::Isb);
    c.a(Asm::Bx { rm: Reg::LR });

    // --- puts(r0 = NUL-terminated string): SYS_WRITE0.
    c.bind(puts);
    c.mov(R1, R0);
    c.imm(R0, SYS_WRITE0);
    c.a(Asm::Bkpt { imm8: 0xAB });
    c.a(Asm::Bx { rm: Reg::LR });

    // --- put_hex(r0): "0x" and eight hex digits.
    c.bind(put_hex);
    c.a(Asm::Push { regs: regs(&[4, 14]) });
    c.addr(R1, sym::PRIVATE, P_NUMBUF);
    c.imm(R2, u32::from(b'0'));
    c.a(Asm::Str { size: MemSize::Byte, rt: R2, rn: R1, imm: 0 });
    c.imm(R2, u32::from(b'x'));
    c.a(Asm::Str { size: MemSize::Byte, rt: R2, rn: R1, imm: 1 });
    c.dp_imm(DpOp::Add, R1, R1, 2);
    c.imm(R3, 28);
    let (hex_loop, hex_digit) = (c.label(), c.label());
    c.bind(hex_loop);
    c.a(Asm::ShiftReg { kind: ShiftKind::Lsr, s: false, rd: R2, rn: R0, rm: R3 });
    c.dp_imm(DpOp::And, R2, R2, 15);
    c.dp_imm(DpOp::Add, R2, R2, u32::from(b'0'));
    c.cmp(R2, u32::from(b'9'));
    c.b(Some(Cond::Ls), hex_digit);
    c.dp_imm(DpOp::Add, R2, R2, u32::from(b'a' - b'0' - 10));
    c.bind(hex_digit);
    c.a(Asm::Str { size: MemSize::Byte, rt: R2, rn: R1, imm: 0 });
    c.dp_imm(DpOp::Add, R1, R1, 1);
    c.a(Asm::DpImm { op: DpOp::Sub, s: true, rd: R3, rn: R3, imm: 4 });
    c.b(Some(Cond::Ge), hex_loop);
    c.imm(R2, 0);
    c.a(Asm::Str { size: MemSize::Byte, rt: R2, rn: R1, imm: 0 });
    c.addr(R0, sym::PRIVATE, P_NUMBUF);
    c.bl(puts);
    c.a(Asm::Pop { regs: regs(&[4, 15]) });

    // --- put_dec(r0): signed decimal.
    c.bind(put_dec);
    c.a(Asm::Push { regs: regs(&[4, 5, 6, 14]) });
    c.addr(R1, sym::PRIVATE, P_NUMBUF + 15);
    c.imm(R2, 0);
    c.a(Asm::Str { size: MemSize::Byte, rt: R2, rn: R1, imm: 0 });
    c.mov(R4, R0);
    let (positive, dec_loop, dec_unsigned) = (c.label(), c.label(), c.label());
    c.cmp(R0, 0);
    c.b(Some(Cond::Ge), positive);
    // |INT_MIN| = 0x8000_0000, right as an unsigned number.
    c.dp_imm(DpOp::Rsb, R0, R0, 0);
    c.bind(positive);
    c.imm(R5, 10);
    c.bind(dec_loop);
    c.a(Asm::Udiv { rd: R2, rn: R0, rm: R5 });
    c.a(Asm::Mls { rd: R3, rn: R2, rm: R5, ra: R0 });
    c.dp_imm(DpOp::Add, R3, R3, u32::from(b'0'));
    c.dp_imm(DpOp::Sub, R1, R1, 1);
    c.a(Asm::Str { size: MemSize::Byte, rt: R3, rn: R1, imm: 0 });
    c.mov(R0, R2);
    c.cmp(R0, 0);
    c.b(Some(Cond::Ne), dec_loop);
    c.cmp(R4, 0);
    c.b(Some(Cond::Ge), dec_unsigned);
    c.imm(R3, u32::from(b'-'));
    c.dp_imm(DpOp::Sub, R1, R1, 1);
    c.a(Asm::Str { size: MemSize::Byte, rt: R3, rn: R1, imm: 0 });
    c.bind(dec_unsigned);
    c.mov(R0, R1);
    c.bl(puts);
    c.a(Asm::Pop { regs: regs(&[4, 5, 6, 15]) });

    // --- exit(r0 = status): SYS_EXIT_EXTENDED, then plain SYS_EXIT.
    c.bind(exit);
    c.addr(R1, sym::PRIVATE, P_EXIT_BLOCK);
    c.imm(R2, ADP_STOPPED_APPLICATION_EXIT);
    c.str(R2, R1, 0);
    c.str(R0, R1, 4);
    c.imm(R0, SYS_EXIT_EXTENDED);
    c.a(Asm::Bkpt { imm8: 0xAB });
    c.imm(R0, SYS_EXIT);
    c.imm(R1, ADP_STOPPED_APPLICATION_EXIT);
    c.a(Asm::Bkpt { imm8: 0xAB });
    let hang = c.label();
    c.bind(hang);
    c.b(None, hang);

    let mut out = StartupCode {
        entry_symbol: sym::RESET.to_string(),
        text_data_ranges: vec![(0, VECTOR_TABLE_SIZE)],
        ..Default::default()
    };
    c.finish(0, &mut out.text, &mut out.relocs, &mut out.symbols)?;
    out.rodata = ro.bytes;
    out.relocs.extend(ro.relocs);
    out.symbols.extend(ro.symbols);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> StartupConfig {
        StartupConfig {
            module_name: "m".into(),
            instantiate: "m__instantiate".into(),
            entries: vec![StartupEntry {
                symbol: "m_run".into(),
                name: "run".into(),
                returns_i32: true,
                grant: vec![RegWrite { addr: 0xE000_ED98, value: 2 }],
            }],
            setup: vec![RegWrite { addr: 0xE000_ED94, value: 5 }],
            fpu: true,
            stack_limit_symbol: "__bulkhead_stack_limit".into(),
        }
    }

    #[test]
    fn vector_table_then_code() {
        let code = generate(&config()).unwrap();
        assert!(code.text.len() as u32 > VECTOR_TABLE_SIZE);
        // Initial SP and all 15 handler words carry an ABS32 relocation.
        let vector_relocs: Vec<_> =
            code.relocs.iter().filter(|r| r.section == StartupSection::Text && r.offset < VECTOR_TABLE_SIZE).collect();
        assert_eq!(vector_relocs.len(), 16);
        assert_eq!(vector_relocs[0].symbol, symbols::MSP_TOP);
        assert_eq!(vector_relocs[1].symbol, symbols::RESET);
        assert!(vector_relocs.iter().all(|r| r.kind == RelocKind::Abs32));
        // Every relocated symbol is defined here, by the linker, or is the module's.
        for r in &code.relocs {
            let known = code.symbols.iter().any(|s| s.name == r.symbol)
                || symbols::LINKER_DEFINED.contains(&r.symbol.as_str())
                || r.symbol == "m__instantiate"
                || r.symbol == "m_run";
            assert!(known, "relocation against unknown symbol {}", r.symbol);
        }
        let reset = code.symbols.iter().find(|s| s.name == symbols::RESET).unwrap();
        assert_eq!(reset.offset, VECTOR_TABLE_SIZE);
        assert!(reset.thumb_function);
    }

    #[test]
    fn deterministic() {
        assert_eq!(generate(&config()).unwrap(), generate(&config()).unwrap());
    }
}
