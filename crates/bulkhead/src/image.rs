//! Self-contained firmware images (`bulkhead compile --image`): a compiled
//! [`Artifact`] plus a memory [`Layout`] from the planner become a complete
//! Cortex-M ELF executable — vector table, reset, MPU programming,
//! instantiation, unprivileged entries, fault reporting — linked by
//! bulkhead itself ([`bulkhead_elf::image`]) around the startup code of
//! [`bulkhead_thumb::startup`]. See docs/embedder-abi.md, "Firmware images".

use crate::{Artifact, Error};
use bulkhead_elf::image::{link_image, ram_usage, ImageInput, ImageMap, PlacedSection};
use bulkhead_layout::{
    plan, Attributes, Layout, LayoutRequest, MemoryRequest, MpuTarget, Placement, RamRange, RegionOwner,
    RegionRegisters, RegionRequest,
};
use bulkhead_thumb::startup::{generate, RegWrite, StartupConfig, StartupEntry};
use bulkhead_thumb::Cpu;
use core::fmt;
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

const KIB: u32 = 1024;
const MIB: u32 = 1024 * 1024;

/// A QEMU board an image is built for. The memory maps are QEMU 10's
/// (hw/arm/mps2.c, mps2-tz.c; the same the testkit uses).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Board {
    /// Cortex-M3, PMSAv7, no FPU.
    Mps2An385,
    /// Cortex-M4F, PMSAv7.
    Mps2An386,
    /// Cortex-M7, PMSAv7.
    Mps2An500,
    /// Cortex-M33 (booting in Secure state), PMSAv8.
    Mps2An505,
}

impl Board {
    pub const ALL: [Board; 4] = [Board::Mps2An385, Board::Mps2An386, Board::Mps2An500, Board::Mps2An505];

    /// The QEMU machine name (`-M`).
    pub fn machine(self) -> &'static str {
        match self {
            Board::Mps2An385 => "mps2-an385",
            Board::Mps2An386 => "mps2-an386",
            Board::Mps2An500 => "mps2-an500",
            Board::Mps2An505 => "mps2-an505",
        }
    }

    /// The target triple and CPU to compile for.
    pub fn target(self) -> (&'static str, Option<&'static str>) {
        match self {
            Board::Mps2An385 => ("thumbv7m-none-eabi", None),
            Board::Mps2An386 => ("thumbv7em-none-eabihf", None),
            Board::Mps2An500 => ("thumbv7em-none-eabihf", Some("cortex-m7")),
            Board::Mps2An505 => ("thumbv8m.main-none-eabihf", None),
        }
    }

    pub fn cpu(self) -> Cpu {
        match self {
            Board::Mps2An385 => Cpu::CortexM3,
            Board::Mps2An386 => Cpu::CortexM4F,
            Board::Mps2An500 => Cpu::CortexM7,
            Board::Mps2An505 => Cpu::CortexM33,
        }
    }

    pub fn has_fpu(self) -> bool {
        self != Board::Mps2An385
    }

    /// Code memory `(base, size)`: the vector table goes at `base`. AN505
    /// boots Secure, so its code is the Secure alias of SSRAM1.
    pub fn code(self) -> (u32, u32) {
        match self {
            Board::Mps2An505 => (0x1000_0000, 4 * MIB),
            _ => (0, 4 * MIB),
        }
    }

    /// On-chip SRAM `(base, size)`: the image's stacks, `.data` and `.bss`
    /// go at its start; the planner's default RAM range for the memories
    /// ([`MpuTarget::default_ram`]) is its upper half.
    pub fn sram(self) -> (u32, u32) {
        match self {
            Board::Mps2An505 => (0x3800_0000, 4 * MIB),
            _ => (0x2000_0000, 4 * MIB),
        }
    }

    pub fn mpu(self) -> MpuTarget {
        match self {
            Board::Mps2An385 => MpuTarget::CORTEX_M3,
            Board::Mps2An386 => MpuTarget::CORTEX_M4F,
            Board::Mps2An500 => MpuTarget::CORTEX_M7,
            Board::Mps2An505 => MpuTarget::CORTEX_M33,
        }
    }
}

impl fmt::Display for Board {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.machine())
    }
}

impl FromStr for Board {
    type Err = String;
    fn from_str(s: &str) -> Result<Board, String> {
        let key = s.trim().to_ascii_lowercase();
        let key = key.strip_prefix("mps2-").unwrap_or(&key);
        Ok(match key {
            "an385" => Board::Mps2An385,
            "an386" => Board::Mps2An386,
            "an500" => Board::Mps2An500,
            "an505" => Board::Mps2An505,
            _ => return Err(format!("unknown board `{s}` (use mps2-an385, mps2-an386, mps2-an500 or mps2-an505)")),
        })
    }
}

/// An export to run after instantiation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryRequest {
    /// The wasm export name (a function `() -> i32` or `() -> ()`).
    pub export: String,
    /// The memories whose regions are enabled while it runs; `None`: its
    /// footprint ([`crate::FunctionInfo::memories`]). An explicit grant is
    /// for experiments (e.g. showing that without the MPU boundary an
    /// attack succeeds).
    pub grant: Option<Vec<u32>>,
}

impl EntryRequest {
    pub fn new(export: &str) -> EntryRequest {
        EntryRequest { export: export.to_string(), grant: None }
    }
}

/// How to build an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageOptions {
    pub board: Board,
    /// Run in this order after instantiation; empty: only instantiate
    /// (which runs the start function) and exit.
    pub entries: Vec<EntryRequest>,
    /// RAM the planner places the memories in; `None`: the MPU target's
    /// default ([`MpuTarget::default_ram`]).
    pub ram: Option<RamRange>,
    /// Bytes of the entries' (unprivileged) stack.
    pub stack_size: u32,
}

impl ImageOptions {
    pub fn new(board: Board) -> ImageOptions {
        ImageOptions { board, entries: Vec::new(), ram: None, stack_size: 16 * KIB }
    }
}

/// What an entry was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedEntry {
    pub export: String,
    pub symbol: String,
    /// The export's memory footprint.
    pub footprint: Vec<u32>,
    /// The memories whose regions are enabled while it runs.
    pub granted: Vec<u32>,
    pub returns_i32: bool,
}

/// A linked firmware image.
#[derive(Clone, Debug)]
pub struct Image {
    /// The ELF executable (`qemu-system-arm -M <board> -kernel image.elf`).
    pub elf: Vec<u8>,
    pub board: Board,
    /// The memory plan: each memory's base and every MPU region.
    pub layout: Layout,
    pub entries: Vec<PlannedEntry>,
    /// Final addresses of the global symbols.
    pub symbols: BTreeMap<String, u32>,
    pub sections: Vec<PlacedSection>,
    /// Where each section of the module's object went.
    pub module_sections: Vec<PlacedSection>,
    /// The RAM region unprivileged code shares: entries' stack, `.data`, `.bss`.
    pub ram_region: (u32, u32),
}

/// Privileged (main) stack bytes.
const PRIVATE_STACK: u32 = 4 * KIB;

/// MPU registers (the same addresses on PMSAv7 and PMSAv8; on the AN505
/// in Secure state they are the Secure MPU's).
const MPU_CTRL: u32 = 0xE000_ED94;
const MPU_RNR: u32 = 0xE000_ED98;
const MPU_RBAR: u32 = 0xE000_ED9C;
/// PMSAv7 RASR / PMSAv8 RLAR.
const MPU_RASR_RLAR: u32 = 0xE000_EDA0;
const MPU_MAIR0: u32 = 0xE000_EDC0;
/// MPU_CTRL: ENABLE | PRIVDEFENA (privileged code keeps the default map).
const MPU_ENABLE_PRIVDEFENA: u32 = 0b101;

fn target_error(m: String) -> Error {
    Error::Target(m)
}

/// Builds the firmware image of a compiled module.
pub fn build_image(artifact: &Artifact, options: &ImageOptions) -> Result<Image, Error> {
    let board = options.board;
    let env = &artifact.env;
    check_isa(artifact, board)?;
    check_no_imports(artifact)?;

    // Entries and their grants.
    let mut entries = Vec::new();
    for request in &options.entries {
        entries.push(plan_entry(artifact, request)?);
    }

    // The plan: flash (RX) and the shared RAM region (RW, XN) first, then
    // one region per memory.
    let (code_base, code_size) = board.code();
    let (sram_base, sram_size) = board.sram();
    let object_ram = ram_usage(&artifact.object).map_err(Error::Object)?;
    let stack = u64::from(options.stack_size.next_multiple_of(8));
    let ram_region_size = (stack + object_ram).max(32 * u64::from(KIB)).next_power_of_two();
    if ram_region_size + u64::from(PRIVATE_STACK) + 64 > u64::from(sram_size) {
        return Err(target_error(format!(
            "the image's stack ({stack} bytes), .data and .bss ({object_ram} bytes) do not fit {board}'s SRAM"
        )));
    }
    let mpu = board.mpu();
    let ram = match options.ram {
        Some(r) => r,
        None => mpu.default_ram().ok_or_else(|| target_error(format!("no default RAM for {}", mpu.name)))?,
    };
    let request = LayoutRequest {
        target: mpu,
        ram,
        memories: env
            .memories
            .iter()
            .enumerate()
            .map(|(k, m)| MemoryRequest { index: k as u32, reserved_bytes: m.region_bytes() })
            .collect(),
        regions: vec![
            RegionRequest {
                name: "flash".into(),
                placement: Placement::At(code_base),
                size: u64::from(code_size),
                attributes: Attributes::FLASH,
            },
            RegionRequest {
                name: "ram".into(),
                placement: Placement::At(sram_base),
                size: ram_region_size,
                attributes: Attributes::STACK,
            },
        ],
    };
    let layout = plan(&request).map_err(Error::Layout)?;

    let setup = mpu_setup(&layout)?;
    let mut startup_entries = Vec::new();
    for entry in &entries {
        startup_entries.push(StartupEntry {
            symbol: entry.symbol.clone(),
            name: entry.export.clone(),
            returns_i32: entry.returns_i32,
            grant: grant_writes(&layout, &entry.granted)?,
        });
    }
    let startup = generate(&StartupConfig {
        module_name: artifact.symbols.module().to_string(),
        instantiate: artifact.symbols.instantiate(),
        entries: startup_entries,
        setup,
        fpu: board.has_fpu(),
        stack_limit_symbol: bulkhead_elf::SymbolNames::STACK_LIMIT.to_string(),
    })
    .map_err(|e| Error::Internal(bulkhead_wasm::WasmError::new(format!("internal error: {e}"))))?;

    let memory_bases: Vec<(u32, u32)> = layout.memories.iter().map(|m| (m.index, m.base)).collect();
    let linked = link_image(&ImageInput {
        object: &artifact.object,
        startup: &startup,
        map: ImageMap {
            code_base,
            code_size,
            ram_base: sram_base,
            ram_region_size: ram_region_size as u32,
            stack_size: stack as u32,
            private_stack_size: PRIVATE_STACK,
        },
        memory_bases: &memory_bases,
    })
    .map_err(Error::Object)?;
    Ok(Image {
        elf: linked.elf,
        board,
        layout,
        entries,
        symbols: linked.symbols,
        sections: linked.sections,
        module_sections: linked.module_sections,
        ram_region: (sram_base, ram_region_size as u32),
    })
}

/// The code must run on the board's core.
fn check_isa(artifact: &Artifact, board: Board) -> Result<(), Error> {
    let cpu = artifact.isa.cpu;
    let ok = match board {
        Board::Mps2An385 => cpu == Cpu::CortexM3 && !artifact.isa.hard_float,
        Board::Mps2An386 | Board::Mps2An500 => cpu != Cpu::CortexM33,
        Board::Mps2An505 => true,
    };
    if ok {
        Ok(())
    } else {
        let (triple, cpu_name) = board.target();
        Err(target_error(format!(
            "code compiled for {}{} does not run on {board} ({}); compile with --target {triple}{}",
            cpu.name(),
            if artifact.isa.hard_float { " (hard-float ABI)" } else { "" },
            board.cpu().name(),
            cpu_name.map(|c| format!(" --cpu {c}")).unwrap_or_default(),
        )))
    }
}

/// A firmware image has nothing to link against: every import is an error.
fn check_no_imports(artifact: &Artifact) -> Result<(), Error> {
    let env = &artifact.env;
    let imports = env
        .funcs
        .iter()
        .filter_map(|f| f.import.as_ref().map(|i| ("function", i)))
        .chain(env.memories.iter().filter_map(|m| m.import.as_ref().map(|i| ("memory", i))))
        .chain(env.globals.iter().filter_map(|g| g.import.as_ref().map(|i| ("global", i))));
    let listed: Vec<String> = imports
        .map(|(what, i)| {
            format!("{what} {}.{} (symbol `{}`)", i.module, i.name, artifact.symbols.import_symbol(&i.module, &i.name))
        })
        .collect();
    if listed.is_empty() {
        Ok(())
    } else {
        Err(target_error(format!(
            "a firmware image must be self-contained, but the module imports {}; link the object with the \
             embedder's code instead (docs/embedder-abi.md, \"Linking\")",
            listed.join(", ")
        )))
    }
}

fn plan_entry(artifact: &Artifact, request: &EntryRequest) -> Result<PlannedEntry, Error> {
    let env = &artifact.env;
    let (index, decl) =
        env.funcs.iter().enumerate().find(|(_, f)| f.exports.contains(&request.export)).ok_or_else(|| {
            let exported: Vec<&str> = env.funcs.iter().flat_map(|f| f.exports.iter().map(String::as_str)).collect();
            target_error(format!(
                "--entry {}: the module exports no function of that name (exported functions: {})",
                request.export,
                if exported.is_empty() { "none".to_string() } else { exported.join(", ") }
            ))
        })?;
    let sig = &decl.sig;
    let returns_i32 = match (sig.params.as_slice(), sig.results.as_slice()) {
        ([], []) => false,
        ([], [bulkhead_ir::Type::I32]) => true,
        _ => {
            return Err(target_error(format!(
                "--entry {}: entries must have the signature () -> i32 or () -> (), not ({}) -> ({})",
                request.export,
                types(&sig.params),
                types(&sig.results)
            )))
        }
    };
    let footprint = artifact
        .functions
        .iter()
        .find(|f| f.index == Some(index as u32))
        .map(|f| f.memories.clone())
        // An exported import: reaches anything (imports are rejected before).
        .unwrap_or_else(|| (0..env.memories.len() as u32).collect());
    let granted = match &request.grant {
        None => footprint.clone(),
        Some(list) => {
            let set: BTreeSet<u32> = list.iter().copied().collect();
            if let Some(bad) = set.iter().find(|&&k| k as usize >= env.memories.len()) {
                return Err(target_error(format!(
                    "--grant {}: memory {bad} does not exist (the module has {} memories)",
                    request.export,
                    env.memories.len()
                )));
            }
            set.into_iter().collect()
        }
    };
    Ok(PlannedEntry {
        export: request.export.clone(),
        symbol: artifact.symbols.export_symbol(&request.export),
        footprint,
        granted,
        returns_i32,
    })
}

/// Reset-time MPU programming: disable the MPU, program every planned
/// region (memory regions disabled: entries enable theirs), disable the
/// unused ones, MAIR0 on PMSAv8, then enable with PRIVDEFENA.
fn mpu_setup(layout: &Layout) -> Result<Vec<RegWrite>, Error> {
    let w = |addr, value| RegWrite { addr, value };
    let mut writes = vec![w(MPU_CTRL, 0)];
    if let Some(mair0) = layout.mair0 {
        writes.push(w(MPU_MAIR0, mair0));
    }
    for region in &layout.regions {
        let enabled = !matches!(region.owner, RegionOwner::Memory(_));
        let (rbar, second) = registers(region)?;
        writes.push(w(MPU_RNR, region.number));
        writes.push(w(MPU_RBAR, rbar));
        writes.push(w(MPU_RASR_RLAR, if enabled { second | 1 } else { second & !1 }));
    }
    let used: BTreeSet<u32> = layout.regions.iter().map(|r| r.number).collect();
    for n in (0..layout.target.regions).filter(|n| !used.contains(n)) {
        writes.push(w(MPU_RNR, n));
        writes.push(w(MPU_RASR_RLAR, 0));
    }
    writes.push(w(MPU_CTRL, MPU_ENABLE_PRIVDEFENA));
    Ok(writes)
}

/// `(RBAR, RASR or RLAR)` of an ARM MPU region.
fn registers(region: &bulkhead_layout::Region) -> Result<(u32, u32), Error> {
    match &region.registers {
        RegionRegisters::Pmsav7 { rbar, rasr } => Ok((*rbar, *rasr)),
        RegionRegisters::Pmsav8 { rbar, rlar } => Ok((*rbar, *rlar)),
        RegionRegisters::Pmp { .. } => {
            Err(target_error("firmware images are for ARM MPUs; the plan is for RISC-V PMP".into()))
        }
    }
}

/// The writes that enable exactly the regions of `granted` memories (the
/// ENABLE bit of RASR on PMSAv7, EN of RLAR on PMSAv8).
fn grant_writes(layout: &Layout, granted: &[u32]) -> Result<Vec<RegWrite>, Error> {
    let mut writes = Vec::new();
    for region in &layout.regions {
        let RegionOwner::Memory(k) = region.owner else { continue };
        let (_, second) = registers(region)?;
        let value = if granted.contains(&k) { second | 1 } else { second & !1 };
        writes.push(RegWrite { addr: MPU_RNR, value: region.number });
        writes.push(RegWrite { addr: MPU_RASR_RLAR, value });
    }
    Ok(writes)
}

fn types(list: &[bulkhead_ir::Type]) -> String {
    list.iter().map(|t| format!("{t}")).collect::<Vec<_>>().join(", ")
}
