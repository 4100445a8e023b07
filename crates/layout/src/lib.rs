//! bulkhead memory layout planner.
//!
//! Every wasm linear memory a module defines becomes its own NOBITS section
//! `.bulkhead.mem.<k>`; this crate decides *where in RAM* each one goes and
//! which memory-protection region grants it, so that the memory boundary is
//! the MPU/PMP region boundary:
//!
//! - ARMv7-M PMSAv7 (Cortex-M3/M4/M4F/M7): one region per memory, a power of
//!   two ≥ 32 B aligned to its size, with subregion-disable bits trimming the
//!   tail so that the granted bytes are the reservation rounded up to the
//!   subregion size;
//! - ARMv8-M PMSAv8 (Cortex-M33): one base/limit region per memory, 32-byte
//!   granular, no overlaps, attributes through MAIR0;
//! - RISC-V PMP (planning only; there is no RISC-V backend): one NAPOT entry
//!   for a naturally aligned power of two, a TOR pair otherwise.
//!
//! Input: a [`LayoutRequest`] (target, RAM range, memories, extra regions the
//! image writer needs such as flash and stack). Output: a [`Layout`] with each
//! memory's base address and every region with its register values. The plan
//! guarantees (and the property tests check) that each memory's reserved bytes
//! lie inside exactly its own region, that no region grants a byte of another
//! memory or (for RAM-placed regions) outside RAM, and that the register
//! values decode back to the planned ranges and attributes.
//!
//! The crate depends on nothing else in bulkhead: the facade translates its
//! `Cpu` and `ModuleEnv` into a request.
//!
//! ```
//! use bulkhead_layout::*;
//! let request = LayoutRequest {
//!     target: MpuTarget::CORTEX_M4,
//!     ram: RamRange::new(0x2000_0000, 256 * 1024).unwrap(),
//!     memories: vec![MemoryRequest { index: 0, reserved_bytes: 40 * 1024 }],
//!     regions: vec![],
//! };
//! let layout = plan(&request).unwrap();
//! let mem = layout.memory(0).unwrap();
//! assert_eq!(mem.base % 65536, 0);            // aligned like its section
//! assert_eq!(mem.granted_bytes, 40 * 1024);  // 5 of 8 subregions of 64 KiB
//! ```

use core::fmt;

mod encode;
mod place;

pub use encode::{pmp_napot_addr, pmsav7_rasr, pmsav7_rbar, pmsav7_region_for, pmsav8_rbar, pmsav8_rlar, Pmsav7Shape};

/// Which memory-protection architecture a target has.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum MpuArch {
    /// ARMv7-M Protected Memory System Architecture (Cortex-M3/M4/M7).
    Pmsav7,
    /// ARMv8-M Protected Memory System Architecture (Cortex-M33).
    Pmsav8,
    /// RISC-V Physical Memory Protection (planning only).
    RiscvPmp,
}

impl MpuArch {
    /// Short lower-case name used in the manifest: `pmsav7`, `pmsav8`, `pmp`.
    pub fn name(self) -> &'static str {
        match self {
            MpuArch::Pmsav7 => "pmsav7",
            MpuArch::Pmsav8 => "pmsav8",
            MpuArch::RiscvPmp => "pmp",
        }
    }

    /// The smallest address granule a region boundary can have: 32 B for
    /// the ARM MPUs, 4 B for PMP (the architectural minimum; G = 0).
    pub fn granule(self) -> u64 {
        match self {
            MpuArch::Pmsav7 | MpuArch::Pmsav8 => 32,
            MpuArch::RiscvPmp => 4,
        }
    }
}

/// The protection unit of one core: its architecture and how many regions
/// (PMP: entries) it has. The constants give the usual configurations; the
/// fields are public so that an implementation with more regions (a 16-region
/// Cortex-M7, say) can be described.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct MpuTarget {
    /// Human-readable core name used in messages and the manifest
    /// (`"Cortex-M4"`).
    pub name: &'static str,
    pub arch: MpuArch,
    /// Number of MPU regions (PMP: number of pmpaddr/pmpcfg entries).
    pub regions: u32,
}

impl MpuTarget {
    pub const CORTEX_M3: MpuTarget = MpuTarget { name: "Cortex-M3", arch: MpuArch::Pmsav7, regions: 8 };
    pub const CORTEX_M4: MpuTarget = MpuTarget { name: "Cortex-M4", arch: MpuArch::Pmsav7, regions: 8 };
    pub const CORTEX_M4F: MpuTarget = MpuTarget { name: "Cortex-M4F", arch: MpuArch::Pmsav7, regions: 8 };
    pub const CORTEX_M7: MpuTarget = MpuTarget { name: "Cortex-M7", arch: MpuArch::Pmsav7, regions: 8 };
    pub const CORTEX_M33: MpuTarget = MpuTarget { name: "Cortex-M33", arch: MpuArch::Pmsav8, regions: 8 };
    /// A RISC-V hart with `entries` PMP entries (16 or 64 on real parts).
    pub const fn riscv_pmp(entries: u32) -> MpuTarget {
        MpuTarget { name: "RISC-V", arch: MpuArch::RiscvPmp, regions: entries }
    }

    /// The target of a core named as on the command line (`cortex-m3`,
    /// `cortex-m4`, `cortex-m4f`, `cortex-m7`, `cortex-m33`; `riscv` gives
    /// a 16-entry PMP).
    pub fn from_cpu_name(name: &str) -> Option<MpuTarget> {
        Some(match name.to_ascii_lowercase().as_str() {
            "cortex-m3" => MpuTarget::CORTEX_M3,
            "cortex-m4" => MpuTarget::CORTEX_M4,
            "cortex-m4f" => MpuTarget::CORTEX_M4F,
            "cortex-m7" => MpuTarget::CORTEX_M7,
            "cortex-m33" => MpuTarget::CORTEX_M33,
            "riscv" | "riscv32" => MpuTarget::riscv_pmp(16),
            _ => return None,
        })
    }

    /// The RAM range memories are placed in when no `--ram` is given: the
    /// upper 2 MiB of the 4 MiB SSRAM2/3 of the QEMU MPS2 boards
    /// (`0x2020_0000..0x2040_0000` on AN385/AN386/AN500 for M3/M4/M4F/M7,
    /// `0x3820_0000..0x3840_0000` on AN505 for M33, its Secure alias). The
    /// lower 2 MiB are left to the embedder (`.data`, `.bss`, heap, stacks).
    /// `None` for RISC-V, which has no default board: give the RAM.
    pub fn default_ram(&self) -> Option<RamRange> {
        match self.arch {
            MpuArch::Pmsav7 => Some(RamRange { base: 0x2020_0000, size: 2 << 20 }),
            MpuArch::Pmsav8 => Some(RamRange { base: 0x3820_0000, size: 2 << 20 }),
            MpuArch::RiscvPmp => None,
        }
    }
}

/// A range of RAM `[base, base + size)` in the 32-bit address space.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct RamRange {
    pub base: u32,
    /// Size in bytes; `base + size` is at most 2^32.
    pub size: u64,
}

impl RamRange {
    /// Checks that the range is non-empty and ends within the 32-bit
    /// address space.
    pub fn new(base: u32, size: u64) -> Result<RamRange, LayoutError> {
        if size == 0 {
            return Err(LayoutError::invalid(format!("RAM range at {base:#010x} is empty")));
        }
        if base as u64 + size > 1 << 32 {
            return Err(LayoutError::invalid(format!(
                "RAM range {base:#010x} + {} ends beyond the 32-bit address space",
                format_size(size)
            )));
        }
        Ok(RamRange { base, size })
    }

    /// Parses `BASE:SIZE` as given to `--ram`: BASE in hex (`0x2000_0000`)
    /// or decimal, SIZE in bytes, decimal or hex, optionally with a binary
    /// unit (`K`/`KiB`, `M`/`MiB`, `G`/`GiB`). `_` separators are allowed.
    pub fn parse(text: &str) -> Result<RamRange, LayoutError> {
        let bad = |why: &str| {
            LayoutError::invalid(format!(
                "invalid RAM range `{text}`: {why} (expected BASE:SIZE, e.g. 0x20000000:256KiB)"
            ))
        };
        let (base, size) = text.split_once(':').ok_or_else(|| bad("no `:`"))?;
        let base = parse_number(base).map_err(|e| bad(&format!("base: {e}")))?;
        let base = u32::try_from(base).map_err(|_| bad("base beyond the 32-bit address space"))?;
        let size = parse_number(size).map_err(|e| bad(&format!("size: {e}")))?;
        RamRange::new(base, size)
    }

    /// One past the last byte.
    pub fn end(&self) -> u64 {
        self.base as u64 + self.size
    }
}

impl fmt::Display for RamRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#010x}..{:#010x} ({})", self.base, self.end(), format_size(self.size))
    }
}

/// A memory to place: a wasm memory the module *defines* (imported
/// memories are placed by their owner and are not part of a request).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct MemoryRequest {
    /// The wasm memory index.
    pub index: u32,
    /// The reservation (`ModuleEnv` `MemoryDecl::reserved_bytes`), at most
    /// 2 GiB. The base is aligned to [`section_alignment`] of it, the
    /// alignment of the `.bulkhead.mem.<k>` section in the object.
    pub reserved_bytes: u64,
}

/// Access rights and memory type of a region.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Attributes {
    /// Writable (otherwise read-only).
    pub write: bool,
    /// Instruction fetches allowed (otherwise execute-never, XN).
    pub execute: bool,
    /// Unprivileged code gets the same access as privileged code (otherwise
    /// unprivileged code gets none).
    pub unprivileged: bool,
    pub memory_type: MemoryType,
}

impl Attributes {
    /// What every wasm memory gets: read/write for privileged and
    /// unprivileged code, execute-never, normal write-back memory.
    pub const MEMORY: Attributes =
        Attributes { write: true, execute: false, unprivileged: true, memory_type: MemoryType::NormalWriteBack };
    /// Code in flash: read-only, executable, for everyone; write-through.
    pub const FLASH: Attributes =
        Attributes { write: false, execute: true, unprivileged: true, memory_type: MemoryType::NormalWriteThrough };
    /// A stack: read/write for everyone, execute-never.
    pub const STACK: Attributes = Attributes::MEMORY;
}

/// Memory type / cacheability of a region.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum MemoryType {
    /// Normal memory, inner and outer write-back, read- and write-allocate
    /// (PMSAv7 TEX=001 C=1 B=1; PMSAv8 MAIR attribute 0 = 0xFF).
    NormalWriteBack,
    /// Normal memory, inner and outer write-through, no write-allocate
    /// (PMSAv7 TEX=000 C=1 B=0; PMSAv8 MAIR attribute 1 = 0xAA).
    NormalWriteThrough,
    /// Device memory (PMSAv7 TEX=000 C=0 B=1 shareable device; PMSAv8 MAIR
    /// attribute 2 = 0x04, Device-nGnRE).
    Device,
}

impl MemoryType {
    pub fn name(self) -> &'static str {
        match self {
            MemoryType::NormalWriteBack => "normal-write-back",
            MemoryType::NormalWriteThrough => "normal-write-through",
            MemoryType::Device => "device",
        }
    }
    /// The PMSAv8 `AttrIndx` this type uses (its attribute in [`MAIR0`]).
    pub fn attr_index(self) -> u32 {
        match self {
            MemoryType::NormalWriteBack => 0,
            MemoryType::NormalWriteThrough => 1,
            MemoryType::Device => 2,
        }
    }
}

/// The PMSAv8 MAIR0 value every plan uses: Attr0 = 0xFF (normal,
/// write-back non-transient, read/write-allocate, inner and outer), Attr1 =
/// 0xAA (normal write-through non-transient, read-allocate), Attr2 = 0x04
/// (Device-nGnRE), Attr3 = 0.
pub const MAIR0: u32 = 0x0004_AAFF;

/// Where an extra region goes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Placement {
    /// At a fixed address (flash, a stack the image writer placed itself).
    /// It may lie outside the RAM range; inside it, memories avoid it.
    At(u32),
    /// Anywhere in the RAM range, aligned as its region needs (planned like
    /// a memory; e.g. a stack the planner should place).
    InRam,
}

/// An extra region the image writer needs besides the memories' regions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RegionRequest {
    /// A name for messages and the manifest (`flash`, `stack`).
    pub name: String,
    pub placement: Placement,
    /// Bytes to grant. For `Placement::At` the range must be exactly one
    /// region of the architecture (PMSAv7: a power of two ≥ 32 aligned to
    /// itself, or a contiguous run of its subregions; PMSAv8: 32-byte
    /// aligned base and size; PMP: 4-byte aligned); for `InRam` it is
    /// rounded up to the granule like a memory.
    pub size: u64,
    pub attributes: Attributes,
}

/// Everything the planner needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutRequest {
    pub target: MpuTarget,
    pub ram: RamRange,
    /// Defined memories, any order, distinct indices.
    pub memories: Vec<MemoryRequest>,
    /// Extra regions; they get the lowest region numbers, in this order.
    pub regions: Vec<RegionRequest>,
}

/// Who a region is for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RegionOwner {
    /// Wasm memory `index`.
    Memory(u32),
    /// The extra region of this name.
    Extra(String),
}

/// The register values programming one region.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RegionRegisters {
    /// Write `rbar` (ADDR | VALID | REGION: it selects the region itself)
    /// then `rasr` (XN, AP, TEX, S, C, B, SRD, SIZE, ENABLE).
    Pmsav7 { rbar: u32, rasr: u32 },
    /// Write RNR = region number, then `rbar` (BASE, SH, AP, XN) and `rlar`
    /// (LIMIT, AttrIndx, EN); MAIR0 = [`MAIR0`].
    Pmsav8 { rbar: u32, rlar: u32 },
    /// One (NAPOT) or two (TOR: the first entry only sets the bottom
    /// address, its cfg is 0 = OFF) PMP entries.
    Pmp { entries: Vec<PmpEntry> },
}

/// One PMP entry: `pmpaddr<index>` = `addr`, byte `index % 4` of
/// `pmpcfg<index / 4>` = `cfg` (R=bit0, W=bit1, X=bit2, A=bits 3-4 with
/// OFF=0, TOR=1, NA4=2, NAPOT=3, L=bit7).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct PmpEntry {
    pub index: u32,
    /// The pmpaddr value: address bits [33:2] (plus the NAPOT size ones).
    pub addr: u32,
    pub cfg: u8,
}

/// One planned protection region.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Region {
    /// The MPU region number (PMP: the index of its first entry).
    pub number: u32,
    pub owner: RegionOwner,
    /// First granted byte.
    pub base: u32,
    /// Number of granted bytes: `[base, base + size)` is exactly what the
    /// region grants (PMSAv7: the enabled subregions).
    pub size: u64,
    pub attributes: Attributes,
    /// PMSAv7 only: the aligned power-of-two window the region's RBAR/RASR
    /// describe, `(window_base, window_size)`, and the SRD bits (bit i set:
    /// subregion i disabled). `None` otherwise.
    pub pmsav7: Option<Pmsav7Shape>,
    pub registers: RegionRegisters,
}

impl Region {
    /// One past the last granted byte.
    pub fn end(&self) -> u64 {
        self.base as u64 + self.size
    }
}

/// Where a memory went.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct PlacedMemory {
    pub index: u32,
    /// Address of the memory's first byte (its section's address).
    pub base: u32,
    pub reserved_bytes: u64,
    /// Section alignment ([`section_alignment`]); `base` is a multiple.
    pub alignment: u64,
    /// Bytes its region grants from `base` on: the reservation rounded up
    /// to the region granule (PMSAv7: the subregion size). Nothing else is
    /// placed in `[base, base + granted_bytes)`.
    pub granted_bytes: u64,
    /// Its region's number, `None` for a memory reserving 0 bytes (it needs
    /// no region; its base is still aligned and inside RAM).
    pub region: Option<u32>,
}

/// A complete plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub target: MpuTarget,
    pub ram: RamRange,
    /// Sorted by memory index.
    pub memories: Vec<PlacedMemory>,
    /// Sorted by region number: the extra regions first, in request order,
    /// then the memories' regions by memory index. Regions not listed (up
    /// to `target.regions`) must be disabled by whoever programs the MPU.
    pub regions: Vec<Region>,
    /// PMSAv8: [`MAIR0`]; `None` otherwise.
    pub mair0: Option<u32>,
}

impl Layout {
    /// The placement of memory `index`.
    pub fn memory(&self, index: u32) -> Option<&PlacedMemory> {
        self.memories.iter().find(|m| m.index == index)
    }

    /// The region granting memory `index`.
    pub fn memory_region(&self, index: u32) -> Option<&Region> {
        self.regions.iter().find(|r| r.owner == RegionOwner::Memory(index))
    }

    /// The extra region called `name`.
    pub fn extra_region(&self, name: &str) -> Option<&Region> {
        self.regions.iter().find(|r| matches!(&r.owner, RegionOwner::Extra(n) if n == name))
    }

    /// Number of MPU regions (PMP: entries) the plan uses.
    pub fn regions_used(&self) -> u32 {
        self.regions
            .iter()
            .map(|r| match &r.registers {
                RegionRegisters::Pmp { entries } => entries.len() as u32,
                _ => 1,
            })
            .sum()
    }

    /// PMP only: the pmpcfg register values (RV32: pmpcfg0..pmpcfgN, four
    /// entries each) covering every entry used; empty for the ARM MPUs.
    pub fn pmpcfg(&self) -> Vec<u32> {
        let mut cfgs: Vec<u32> = Vec::new();
        for region in &self.regions {
            if let RegionRegisters::Pmp { entries } = &region.registers {
                for e in entries {
                    let reg = (e.index / 4) as usize;
                    if cfgs.len() <= reg {
                        cfgs.resize(reg + 1, 0);
                    }
                    cfgs[reg] |= (e.cfg as u32) << (8 * (e.index % 4));
                }
            }
        }
        cfgs
    }
}

/// Broad classes of [`LayoutError`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum LayoutErrorKind {
    /// The memories and regions do not fit in the RAM range.
    DoesNotFit,
    /// More regions are needed than the MPU/PMP has.
    TooManyRegions,
    /// The request itself is wrong (bad RAM range, duplicate memory index,
    /// a fixed region the architecture cannot express, overlapping fixed
    /// regions, a reservation over 2 GiB).
    Invalid,
}

/// Why a plan is impossible; the message says what would fit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutError {
    pub kind: LayoutErrorKind,
    pub message: String,
}

impl LayoutError {
    fn invalid(message: String) -> LayoutError {
        LayoutError { kind: LayoutErrorKind::Invalid, message }
    }
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LayoutError {}

/// Alignment of memory section `.bulkhead.mem.<k>` for a reservation:
/// the next power of two ≥ max(32, reserved_bytes) — the same rule as
/// `bulkhead_elf::memory_alignment` (docs/embedder-abi.md), so a planned
/// base always satisfies the section's alignment.
pub fn section_alignment(reserved_bytes: u64) -> u64 {
    reserved_bytes.max(32).next_power_of_two()
}

/// Plans the layout: places every memory (and every `InRam` extra region)
/// in the RAM range and computes every region's registers.
pub fn plan(request: &LayoutRequest) -> Result<Layout, LayoutError> {
    place::plan(request)
}

/// Formats a byte count for messages: whole binary units exactly (`40 KiB`,
/// `1 MiB`, `96 B`), anything else as bytes with an approximation
/// (`182976 B (178.7 KiB)`).
pub fn format_size(bytes: u64) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if bytes >= 1 << shift {
            return format!("{bytes} B ({:.1} {unit})", bytes as f64 / (1u64 << shift) as f64);
        }
    }
    format!("{bytes} B")
}

/// A decimal or `0x` hex number with `_` separators and an optional
/// binary unit suffix.
fn parse_number(text: &str) -> Result<u64, String> {
    let t: String = text.trim().chars().filter(|c| *c != '_').collect();
    let lower = t.to_ascii_lowercase();
    let (digits, radix) = match lower.strip_prefix("0x") {
        Some(hex) => (hex.to_string(), 16),
        None => (lower.clone(), 10),
    };
    let split = digits.find(|c: char| !c.is_digit(radix)).unwrap_or(digits.len());
    let (number, unit) = digits.split_at(split);
    if number.is_empty() {
        return Err(format!("`{}` is not a number", text.trim()));
    }
    let value = u64::from_str_radix(number, radix).map_err(|_| format!("`{}` is too large", text.trim()))?;
    let shift = match unit.trim() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        other => return Err(format!("unknown unit `{other}` (use KiB, MiB or GiB)")),
    };
    value.checked_mul(1 << shift).ok_or_else(|| format!("`{}` is too large", text.trim()))
}
