//! Embedder outputs: `manifest.json`, `bulkhead.h` and `memory.ld`, produced
//! from an [`Artifact`] and the [`Layout`] the planner (`bulkhead-layout`)
//! computes for it. Formats: docs/manifest.md (manifest schema) and
//! docs/embedder-abi.md ("Embedder outputs").
//!
//! All three are deterministic: the same artifact and layout give the same
//! bytes (keys in a fixed order, no timestamps, no paths).
//!
//! ```no_run
//! let compiler = bulkhead::Compiler::new(bulkhead::Options { name: "demo".into(), ..Default::default() });
//! let artifact = compiler.compile(br#"(module (memory 1 1) (func (export "f")))"#)?;
//! let layout = bulkhead::emit::plan_layout(&artifact, None)?;
//! std::fs::write("manifest.json", bulkhead::emit::manifest(&artifact, &layout))?;
//! std::fs::write("bulkhead.h", bulkhead::emit::header(&artifact, &layout))?;
//! std::fs::write("memory.ld", bulkhead::emit::linker_script(&artifact, &layout))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::{Artifact, Cpu, Error, Layout, RamRange};
use bulkhead_ir::Type;
use bulkhead_layout::{LayoutRequest, MemoryRequest, MpuTarget};
pub use bulkhead_layout::{MpuArch, PlacedMemory, Region, RegionOwner, RegionRegisters};
use std::fmt::Write as _;

/// Version of the manifest schema (docs/manifest.md). Bumped on any change
/// an existing reader could misread; additions of keys do not bump it.
pub const MANIFEST_SCHEMA_VERSION: u32 = 1;

/// File names the CLI writes the outputs to.
pub const MANIFEST_FILE: &str = "manifest.json";
pub const HEADER_FILE: &str = "bulkhead.h";
pub const LINKER_SCRIPT_FILE: &str = "memory.ld";

/// The MPU of a core.
pub fn mpu_target(cpu: Cpu) -> MpuTarget {
    match cpu {
        Cpu::CortexM3 => MpuTarget::CORTEX_M3,
        Cpu::CortexM4 => MpuTarget::CORTEX_M4,
        Cpu::CortexM4F => MpuTarget::CORTEX_M4F,
        Cpu::CortexM7 => MpuTarget::CORTEX_M7,
        Cpu::CortexM33 => MpuTarget::CORTEX_M33,
    }
}

/// The planner request for an artifact: its core's MPU, `ram` (or the
/// core's default RAM), and every memory the module defines (imported
/// memories are placed by their owner).
pub fn layout_request(artifact: &Artifact, ram: Option<RamRange>) -> Result<LayoutRequest, Error> {
    let target = mpu_target(artifact.isa.cpu);
    let ram = match ram.or_else(|| target.default_ram()) {
        Some(ram) => ram,
        None => return Err(Error::Target(format!("{} has no default RAM range; give --ram BASE:SIZE", target.name))),
    };
    let memories = artifact
        .env
        .memories
        .iter()
        .enumerate()
        .filter(|(_, m)| m.import.is_none())
        .map(|(k, m)| MemoryRequest { index: k as u32, reserved_bytes: m.region_bytes() })
        .collect();
    Ok(LayoutRequest { target, ram, memories, regions: Vec::new() })
}

/// Plans the artifact's memories (see [`layout_request`]) and checks the
/// plan against the object's section alignments.
pub fn plan_layout(artifact: &Artifact, ram: Option<RamRange>) -> Result<Layout, Error> {
    let request = layout_request(artifact, ram)?;
    let layout = bulkhead_layout::plan(&request).map_err(Error::Layout)?;
    for m in &layout.memories {
        // The ELF writer aligns `.bulkhead.mem.<k>` by its own rule; a
        // planned base that broke it would be moved by the linker.
        let section_align = crate::memory_alignment(m.reserved_bytes);
        if section_align.is_none_or(|a| !(m.base as u64).is_multiple_of(a)) {
            return Err(Error::Target(format!(
                "internal error: memory {} planned at {:#010x}, not aligned to its section ({section_align:?})",
                m.index, m.base
            )));
        }
    }
    Ok(layout)
}

// ---------------------------------------------------------------------------
// A minimal JSON writer: insertion-ordered objects, deterministic layout.

enum Json {
    Null,
    Bool(bool),
    Num(u64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(&'static str, Json)>),
}

fn hex(v: u32) -> Json {
    Json::Str(format!("{v:#010x}"))
}

fn s(text: impl Into<String>) -> Json {
    Json::Str(text.into())
}

fn write_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn is_scalar(j: &Json) -> bool {
    !matches!(j, Json::Arr(_) | Json::Obj(_))
}

fn write_json(out: &mut String, j: &Json, indent: usize) {
    match j {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Num(n) => {
            let _ = write!(out, "{n}");
        }
        Json::Str(t) => write_json_string(out, t),
        Json::Arr(items) if items.is_empty() => out.push_str("[]"),
        // Arrays of scalars on one line (memory sets, signatures).
        Json::Arr(items) if items.iter().all(is_scalar) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json(out, item, indent);
            }
            out.push(']');
        }
        Json::Arr(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&"  ".repeat(indent + 1));
                write_json(out, item, indent + 1);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&"  ".repeat(indent));
            out.push(']');
        }
        Json::Obj(fields) if fields.is_empty() => out.push_str("{}"),
        Json::Obj(fields) => {
            out.push_str("{\n");
            for (i, (key, value)) in fields.iter().enumerate() {
                out.push_str(&"  ".repeat(indent + 1));
                write_json_string(out, key);
                out.push_str(": ");
                write_json(out, value, indent + 1);
                out.push_str(if i + 1 < fields.len() { ",\n" } else { "\n" });
            }
            out.push_str(&"  ".repeat(indent));
            out.push('}');
        }
    }
}

// ---------------------------------------------------------------------------
// What the three outputs share.

fn type_name(t: &Type) -> String {
    match t {
        Type::I32 => "i32".into(),
        Type::I64 => "i64".into(),
        Type::F32 => "f32".into(),
        Type::F64 => "f64".into(),
        Type::Addr(k) => format!("addr<{}>", k.0),
    }
}

fn c_type(t: &Type) -> &'static str {
    match t {
        Type::I32 => "int32_t",
        Type::I64 => "int64_t",
        Type::F32 => "float",
        Type::F64 => "double",
        Type::Addr(_) => "uint32_t",
    }
}

/// One exported function: export name, its symbol, wasm index, signature
/// and memory footprint.
struct ExportedFunction<'a> {
    export: &'a str,
    symbol: String,
    index: u32,
    sig: &'a bulkhead_ir::Signature,
    /// `None` for a re-exported import: it may touch anything.
    memories: Vec<u32>,
    reexported_import: bool,
}

/// Exported functions in wasm function order, then export order.
fn exported_functions(artifact: &Artifact) -> Vec<ExportedFunction<'_>> {
    let env = &artifact.env;
    let all: Vec<u32> = (0..env.memories.len() as u32).collect();
    let mut out = Vec::new();
    for (index, func) in env.funcs.iter().enumerate() {
        let index = index as u32;
        let memories = if func.import.is_some() {
            all.clone()
        } else {
            artifact
                .functions
                .iter()
                .find(|f| f.index == Some(index))
                .map(|f| f.memories.clone())
                .unwrap_or_else(|| all.clone())
        };
        for export in &func.exports {
            out.push(ExportedFunction {
                export,
                symbol: artifact.symbols.export_symbol(export),
                index,
                sig: &func.sig,
                memories: memories.clone(),
                reexported_import: func.import.is_some(),
            });
        }
    }
    out
}

fn instantiate_memories(artifact: &Artifact) -> Vec<u32> {
    artifact.functions.iter().find(|f| f.index.is_none()).map(|f| f.memories.clone()).unwrap_or_default()
}

fn memory_mask(memories: &[u32]) -> String {
    // Bit k = memory k; modules with more than 64 memories get a list in
    // the manifest only.
    if memories.iter().any(|&k| k >= 64) {
        return "/* more than 64 memories: see manifest.json */ 0u".into();
    }
    let mask: u64 = memories.iter().fold(0, |m, &k| m | 1u64 << k);
    if mask > u32::MAX as u64 {
        format!("{mask:#x}ull")
    } else {
        format!("{mask:#x}u")
    }
}

fn cpu_name(cpu: Cpu) -> &'static str {
    cpu.name()
}

fn arch_name(cpu: Cpu) -> &'static str {
    match crate::arch_of(cpu) {
        crate::ArmArch::V7M => "armv7-m",
        crate::ArmArch::V7EM => "armv7e-m",
        crate::ArmArch::V8MMain => "armv8-m.main",
    }
}

// ---------------------------------------------------------------------------
// manifest.json

/// `manifest.json` (schema: docs/manifest.md).
pub fn manifest(artifact: &Artifact, layout: &Layout) -> String {
    let env = &artifact.env;
    let symbols = &artifact.symbols;
    let target = Json::Obj(vec![
        ("cpu", s(cpu_name(artifact.isa.cpu))),
        ("arch", s(arch_name(artifact.isa.cpu))),
        ("float_abi", s(if artifact.isa.hard_float { "hard" } else { "soft" })),
        (
            "mpu",
            Json::Obj(vec![
                ("kind", s(layout.target.arch.name())),
                ("core", s(layout.target.name)),
                ("regions", Json::Num(layout.target.regions as u64)),
                ("regions_used", Json::Num(layout.regions_used() as u64)),
            ]),
        ),
    ]);

    let memories = env
        .memories
        .iter()
        .enumerate()
        .map(|(k, m)| {
            let k = k as u32;
            let placed = layout.memory(k);
            let syms = symbols.memory_symbols(env, k);
            let (base_sym, size_sym, max_sym) = match (&m.import, &syms) {
                (Some(import), Some(syms)) => {
                    (syms.base.clone(), syms.size.clone(), symbols.import_max_symbol(&import.module, &import.name))
                }
                (None, Some(syms)) => {
                    (syms.base.clone(), syms.size.clone(), syms.max.clone().unwrap_or_else(|| symbols.memory_max(k)))
                }
                _ => (symbols.memory_base(k), symbols.memory_size(k), symbols.memory_max(k)),
            };
            let mut fields = vec![
                ("index", Json::Num(k as u64)),
                ("defined", Json::Bool(m.import.is_none())),
                ("symbols", Json::Obj(vec![("base", s(base_sym)), ("size", s(size_sym)), ("max", s(max_sym))])),
                ("section", if m.import.is_none() { s(symbols.memory_section(k)) } else { Json::Null }),
                ("base", placed.map_or(Json::Null, |p| hex(p.base))),
                ("reserved_bytes", Json::Num(m.reserved_bytes)),
                ("granted_bytes", placed.map_or(Json::Null, |p| Json::Num(p.granted_bytes))),
                ("alignment", placed.map_or(Json::Null, |p| Json::Num(p.alignment))),
                ("region", placed.and_then(|p| p.region).map_or(Json::Null, |r| Json::Num(r as u64))),
                ("page_size", Json::Num(m.page_size())),
                ("initial_pages", Json::Num(m.min_pages)),
                ("max_pages", m.max_pages.map_or(Json::Null, Json::Num)),
                (
                    "import",
                    match &m.import {
                        Some(i) => Json::Obj(vec![("module", s(&i.module)), ("name", s(&i.name))]),
                        None => Json::Null,
                    },
                ),
            ];
            fields.push((
                "exports",
                Json::Arr(
                    m.exports
                        .iter()
                        .map(|e| {
                            Json::Obj(vec![
                                ("name", s(e)),
                                ("symbol", s(symbols.export_symbol(e))),
                                ("size_symbol", s(symbols.export_size_symbol(e))),
                                ("max_symbol", s(symbols.export_max_symbol(e))),
                            ])
                        })
                        .collect(),
                ),
            ));
            Json::Obj(fields)
        })
        .collect();

    let regions = layout
        .regions
        .iter()
        .map(|r| {
            let owner = match &r.owner {
                RegionOwner::Memory(k) => Json::Obj(vec![("memory", Json::Num(*k as u64))]),
                RegionOwner::Extra(name) => Json::Obj(vec![("extra", s(name))]),
            };
            let a = r.attributes;
            let mut fields = vec![
                ("number", Json::Num(r.number as u64)),
                ("owner", owner),
                ("base", hex(r.base)),
                ("size", Json::Num(r.size)),
                ("limit", hex((r.end() - 1) as u32)),
                (
                    "attributes",
                    Json::Obj(vec![
                        ("read", Json::Bool(true)),
                        ("write", Json::Bool(a.write)),
                        ("execute", Json::Bool(a.execute)),
                        ("unprivileged", Json::Bool(a.unprivileged)),
                        ("memory_type", s(a.memory_type.name())),
                    ]),
                ),
            ];
            if let Some(shape) = &r.pmsav7 {
                fields.push((
                    "pmsav7",
                    Json::Obj(vec![
                        ("window_base", hex(shape.window_base)),
                        ("window_size", Json::Num(shape.window_size())),
                        ("srd", s(format!("{:#04x}", shape.srd))),
                    ]),
                ));
            }
            let registers = match &r.registers {
                RegionRegisters::Pmsav7 { rbar, rasr } => Json::Obj(vec![("rbar", hex(*rbar)), ("rasr", hex(*rasr))]),
                RegionRegisters::Pmsav8 { rbar, rlar } => {
                    Json::Obj(vec![("rnr", Json::Num(r.number as u64)), ("rbar", hex(*rbar)), ("rlar", hex(*rlar))])
                }
                RegionRegisters::Pmp { entries } => Json::Obj(vec![(
                    "entries",
                    Json::Arr(
                        entries
                            .iter()
                            .map(|e| {
                                Json::Obj(vec![
                                    ("index", Json::Num(e.index as u64)),
                                    ("pmpaddr", hex(e.addr)),
                                    ("pmpcfg", s(format!("{:#04x}", e.cfg))),
                                ])
                            })
                            .collect(),
                    ),
                )]),
            };
            fields.push(("registers", registers));
            Json::Obj(fields)
        })
        .collect();

    let functions = exported_functions(artifact)
        .into_iter()
        .map(|f| {
            Json::Obj(vec![
                ("export", s(f.export)),
                ("symbol", s(f.symbol)),
                ("index", Json::Num(f.index as u64)),
                ("params", Json::Arr(f.sig.params.iter().map(|t| s(type_name(t))).collect())),
                ("results", Json::Arr(f.sig.results.iter().map(|t| s(type_name(t))).collect())),
                ("memories", Json::Arr(f.memories.iter().map(|&k| Json::Num(k as u64)).collect())),
                ("reexported_import", Json::Bool(f.reexported_import)),
            ])
        })
        .collect();

    let mut top = vec![
        ("schema_version", Json::Num(MANIFEST_SCHEMA_VERSION as u64)),
        ("generator", s(format!("bulkhead {}", env!("CARGO_PKG_VERSION")))),
        ("module", s(symbols.module())),
        ("target", target),
        (
            "ram",
            Json::Obj(vec![
                ("base", hex(layout.ram.base)),
                ("size", Json::Num(layout.ram.size)),
                ("end", s(format!("{:#010x}", layout.ram.end()))),
            ]),
        ),
        ("memory_table", s(symbols.memories_table())),
        ("memories", Json::Arr(memories)),
        ("regions", Json::Arr(regions)),
        ("mair0", layout.mair0.map_or(Json::Null, hex)),
    ];
    if layout.target.arch == MpuArch::RiscvPmp {
        top.push(("pmpcfg", Json::Arr(layout.pmpcfg().into_iter().map(hex).collect())));
    }
    top.push(("functions", Json::Arr(functions)));
    top.push((
        "instantiate",
        Json::Obj(vec![
            ("symbol", s(symbols.instantiate())),
            ("memories", Json::Arr(instantiate_memories(artifact).into_iter().map(|k| Json::Num(k as u64)).collect())),
        ]),
    ));
    let mut out = String::new();
    write_json(&mut out, &Json::Obj(top), 0);
    out.push('\n');
    out
}

// ---------------------------------------------------------------------------
// bulkhead.h

/// `bulkhead.h`: declarations of the module's symbols, the plan as
/// `#define`s, and prototypes of every exported function.
pub fn header(artifact: &Artifact, layout: &Layout) -> String {
    let env = &artifact.env;
    let symbols = &artifact.symbols;
    let name = symbols.module();
    let up = name.to_ascii_uppercase();
    let mut h = String::new();
    let w = &mut h;
    let _ = writeln!(
        w,
        "/* bulkhead.h for module `{name}`: generated by bulkhead {}; do not edit.",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        w,
        " * Target {} ({}, {} float ABI), {} MPU with {} regions.",
        cpu_name(artifact.isa.cpu),
        arch_name(artifact.isa.cpu),
        if artifact.isa.hard_float { "hard" } else { "soft" },
        layout.target.arch.name(),
        layout.target.regions
    );
    let _ = writeln!(w, " * RAM planned: {}. The embedder ABI: docs/embedder-abi.md. */", layout.ram);
    let _ = writeln!(w, "#ifndef BULKHEAD_{up}_H");
    let _ = writeln!(w, "#define BULKHEAD_{up}_H\n");
    let _ = writeln!(w, "#include <stdint.h>\n");
    let _ = writeln!(w, "#ifdef __cplusplus\nextern \"C\" {{\n#endif\n");
    let _ = writeln!(w, "#ifndef BULKHEAD_MEMORY_STRUCT_DEFINED");
    let _ = writeln!(w, "#define BULKHEAD_MEMORY_STRUCT_DEFINED");
    let _ = writeln!(w, "/* An entry of NAME__memories (12 bytes). */");
    let _ = writeln!(w, "struct bulkhead_memory {{\n    uint8_t *base;\n    uint32_t *size;\n    uint32_t max;\n}};");
    let _ = writeln!(w, "#endif\n");

    // Memories.
    let _ = writeln!(w, "/* ---- Memories ---- */\n");
    let _ = writeln!(w, "#define {up}_MEMORY_COUNT {}u", env.memories.len());
    if !env.memories.is_empty() {
        let _ =
            writeln!(w, "extern const struct bulkhead_memory {}[{}];", symbols.memories_table(), env.memories.len());
    }
    for (k, m) in env.memories.iter().enumerate() {
        let k = k as u32;
        let _ = writeln!(w);
        match &m.import {
            Some(import) => {
                let _ = writeln!(
                    w,
                    "/* memory {k}: imported from \"{}\".\"{}\"; the embedder defines these. */",
                    c_comment(&import.module),
                    c_comment(&import.name)
                );
                let _ = writeln!(w, "extern uint8_t {}[];", symbols.import_symbol(&import.module, &import.name));
                let _ = writeln!(w, "extern uint32_t {};", symbols.import_size_symbol(&import.module, &import.name));
                let _ =
                    writeln!(w, "extern const uint32_t {};", symbols.import_max_symbol(&import.module, &import.name));
            }
            None => {
                let exports: Vec<String> = m.exports.iter().map(|e| format!("\"{}\"", c_comment(e))).collect();
                let _ = writeln!(
                    w,
                    "/* memory {k}{}: section {} */",
                    if exports.is_empty() { String::new() } else { format!(", exported as {}", exports.join(", ")) },
                    symbols.memory_section(k)
                );
                let _ = writeln!(w, "extern uint8_t {}[];", symbols.memory_base(k));
                let _ = writeln!(w, "extern uint32_t {};", symbols.memory_size(k));
                let _ = writeln!(w, "extern const uint32_t {};", symbols.memory_max(k));
                for e in &m.exports {
                    let _ = writeln!(w, "extern uint8_t {}[];", symbols.export_symbol(e));
                    let _ = writeln!(w, "extern uint32_t {};", symbols.export_size_symbol(e));
                    let _ = writeln!(w, "extern const uint32_t {};", symbols.export_max_symbol(e));
                }
            }
        }
        let _ = writeln!(w, "#define {up}_MEM{k}_RESERVED {}u", m.reserved_bytes);
        let _ = writeln!(w, "#define {up}_MEM{k}_PAGE_SIZE {}u", m.page_size());
        let _ = writeln!(w, "#define {up}_MEM{k}_INITIAL_PAGES {}u", m.min_pages);
        if let Some(p) = layout.memory(k) {
            let _ = writeln!(w, "#define {up}_MEM{k}_BASE {:#010x}u", p.base);
            let _ = writeln!(w, "#define {up}_MEM{k}_ALIGNMENT {}u", p.alignment);
            let _ = writeln!(w, "#define {up}_MEM{k}_GRANTED {}u", p.granted_bytes);
            if let Some(r) = p.region {
                let _ = writeln!(w, "#define {up}_MEM{k}_REGION {r}u");
            }
        }
    }

    // MPU.
    let _ = writeln!(
        w,
        "\n/* ---- {} regions (program them in this order; disable the others) ---- */\n",
        mpu_title(layout.target.arch)
    );
    let _ = writeln!(w, "#define {up}_MPU_REGIONS_USED {}u", layout.regions_used());
    if let Some(mair0) = layout.mair0 {
        let _ = writeln!(w, "#define {up}_MPU_MAIR0 {mair0:#010x}u");
    }
    for r in &layout.regions {
        let n = r.number;
        let owner = match &r.owner {
            RegionOwner::Memory(k) => format!("memory {k}"),
            RegionOwner::Extra(e) => format!("region `{}`", c_comment(e)),
        };
        let _ = writeln!(w, "/* region {n}: {owner}, {:#010x}..{:#010x} */", r.base, r.end());
        let _ = writeln!(w, "#define {up}_MPU_REGION{n}_BASE {:#010x}u", r.base);
        let _ = writeln!(w, "#define {up}_MPU_REGION{n}_SIZE {}u", r.size);
        match &r.registers {
            RegionRegisters::Pmsav7 { rbar, rasr } => {
                let _ = writeln!(w, "#define {up}_MPU_REGION{n}_RBAR {rbar:#010x}u");
                let _ = writeln!(w, "#define {up}_MPU_REGION{n}_RASR {rasr:#010x}u");
            }
            RegionRegisters::Pmsav8 { rbar, rlar } => {
                let _ = writeln!(w, "#define {up}_MPU_REGION{n}_RBAR {rbar:#010x}u");
                let _ = writeln!(w, "#define {up}_MPU_REGION{n}_RLAR {rlar:#010x}u");
            }
            RegionRegisters::Pmp { entries } => {
                for e in entries {
                    let _ = writeln!(w, "#define {up}_PMPADDR{} {:#010x}u", e.index, e.addr);
                    let _ = writeln!(w, "#define {up}_PMP{}_CFG {:#04x}u", e.index, e.cfg);
                }
            }
        }
    }
    // One initializer for a programming loop: {RBAR, RASR} (PMSAv7) or
    // {RBAR, RLAR} (PMSAv8, index = RNR) per region, in region order.
    match layout.target.arch {
        MpuArch::Pmsav7 | MpuArch::Pmsav8 => {
            let pairs: Vec<String> = layout
                .regions
                .iter()
                .filter_map(|r| match r.registers {
                    RegionRegisters::Pmsav7 { rbar, rasr } => Some(format!("{{{rbar:#010x}u, {rasr:#010x}u}}")),
                    RegionRegisters::Pmsav8 { rbar, rlar } => Some(format!("{{{rbar:#010x}u, {rlar:#010x}u}}")),
                    RegionRegisters::Pmp { .. } => None,
                })
                .collect();
            let what = if layout.target.arch == MpuArch::Pmsav7 { "RBAR, RASR" } else { "RBAR, RLAR" };
            let _ = writeln!(w, "/* {{{what}}} per region, in region-number order. */");
            if pairs.is_empty() {
                let _ = writeln!(w, "#define {up}_MPU_REGION_INIT {{{{0u, 0u}}}} /* no regions */");
            } else {
                let _ = writeln!(w, "#define {up}_MPU_REGION_INIT {{{}}}", pairs.join(", "));
            }
        }
        MpuArch::RiscvPmp => {
            for (i, cfg) in layout.pmpcfg().iter().enumerate() {
                let _ = writeln!(w, "#define {up}_PMPCFG{i} {cfg:#010x}u");
            }
        }
    }

    // Functions.
    let _ = writeln!(w, "\n/* ---- Functions (AAPCS{}) ---- */\n", if artifact.isa.hard_float { "-VFP" } else { "" });
    let _ = writeln!(w, "/* Instantiates the module: 0, or a trap code (docs/embedder-abi.md). */");
    let _ = writeln!(w, "int32_t {}(void);", symbols.instantiate());
    let _ = writeln!(w, "/* The lowest address the stack pointer may reach; compiled functions check");
    let _ = writeln!(w, "   it in their prologue and trap (code 9) below it. The embedder defines it,");
    let _ = writeln!(w, "   once per program. */");
    let _ = writeln!(w, "extern uint32_t {};", crate::SymbolNames::STACK_LIMIT);
    let _ = writeln!(w, "#define {up}_INSTANTIATE_MEMORIES {}", memory_mask(&instantiate_memories(artifact)));
    for f in exported_functions(artifact) {
        let _ = writeln!(w);
        let touched = match f.memories.as_slice() {
            [] => "no memory".to_string(),
            [k] => format!("memory {k}"),
            ks => format!("memories {}", ks.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", ")),
        };
        let _ = writeln!(
            w,
            "/* export \"{}\" (function {}{}): may touch {touched}. */",
            c_comment(f.export),
            f.index,
            if f.reexported_import { ", a re-exported import" } else { "" }
        );
        let params: Vec<&str> = f.sig.params.iter().map(c_type).collect();
        let params = if params.is_empty() { "void".to_string() } else { params.join(", ") };
        match f.sig.results.as_slice() {
            [] => {
                let _ = writeln!(w, "void {}({params});", f.symbol);
            }
            [one] => {
                let _ = writeln!(w, "{} {}({params});", c_type(one), f.symbol);
            }
            [Type::I32, Type::I32] => {
                // Two i32 results come back in r0 and r1, which is how AAPCS
                // returns a 64-bit integer: result 0 is the low word.
                let _ = writeln!(
                    w,
                    "/* Two i32 results in r0, r1: result 0 = (int32_t)r, result 1 = (int32_t)(r >> 32). */"
                );
                let _ = writeln!(w, "uint64_t {}({params});", f.symbol);
            }
            results => {
                let names: Vec<String> = results.iter().map(type_name).collect();
                let _ = writeln!(
                    w,
                    "/* {}({params}) returns ({}) in r0-r3, which no C return type expresses: call it from assembly. */",
                    f.symbol,
                    names.join(", ")
                );
            }
        }
        // Bit k set: the function may touch memory k.
        let _ = writeln!(w, "#define {up}_FOOTPRINT_{} {}", crate::sanitize(f.export), memory_mask(&f.memories));
    }

    // Exported globals.
    let globals: Vec<_> =
        env.globals.iter().enumerate().filter(|(_, g)| !g.exports.is_empty() && g.import.is_none()).collect();
    if !globals.is_empty() {
        let _ = writeln!(w, "\n/* ---- Globals ---- */\n");
        for (i, g) in globals {
            for e in &g.exports {
                let _ = writeln!(
                    w,
                    "extern {}{} {}; /* global {i}, export \"{}\" */",
                    if g.mutable { "" } else { "const " },
                    c_type(&g.ty),
                    symbols.export_symbol(e),
                    c_comment(e)
                );
            }
        }
    }

    let _ = writeln!(w, "\n#ifdef __cplusplus\n}}\n#endif\n\n#endif /* BULKHEAD_{up}_H */");
    h
}

fn mpu_title(arch: MpuArch) -> &'static str {
    match arch {
        MpuArch::Pmsav7 => "ARMv7-M MPU (PMSAv7)",
        MpuArch::Pmsav8 => "ARMv8-M MPU (PMSAv8)",
        MpuArch::RiscvPmp => "RISC-V PMP",
    }
}

/// Text safe inside a C block comment (and a string literal in one): wasm
/// names are arbitrary UTF-8.
fn c_comment(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '*' | '/' | '"' | '\\' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_ascii_graphic() || c == ' ' => out.push(c),
            c => {
                for b in c.to_string().bytes() {
                    let _ = write!(out, "\\x{b:02x}");
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// memory.ld

/// `memory.ld`: a linker script placing every defined memory's section at
/// its planned address (`NOLOAD`), with `ASSERT`s that the linker kept the
/// plan. It is a complete `SECTIONS` command: `INCLUDE memory.ld` at the
/// top level of the firmware's script, or pass it as a second `-T`.
pub fn linker_script(artifact: &Artifact, layout: &Layout) -> String {
    let name = artifact.symbols.module();
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "/* memory.ld for module `{name}`: generated by bulkhead {}; do not edit.",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(w, " * Places each wasm memory's section at the address the layout planner chose");
    let _ = writeln!(w, " * in RAM {}; keep that range out of the MEMORY", layout.ram);
    let _ = writeln!(w, " * regions the rest of the image is placed in. */\n");
    // The planned range as its own memory region: sections placed in it
    // explicitly (`> region`) never fall back to the embedder's regions
    // (ld.lld otherwise assigns them to the first matching region and
    // reports an overflow), and nothing else is placed in it.
    let region = format!("bulkhead_{name}");
    let _ = writeln!(w, "MEMORY\n{{");
    let _ = writeln!(w, "  {region} (rw) : ORIGIN = {:#010x}, LENGTH = {:#x}", layout.ram.base, layout.ram.size);
    let _ = writeln!(w, "}}\n");
    let _ = writeln!(w, "SECTIONS\n{{");
    for m in &layout.memories {
        let section = artifact.symbols.memory_section(m.index);
        let base = artifact.symbols.memory_base(m.index);
        let _ = writeln!(
            w,
            "  /* memory {}: {} bytes reserved, {} */",
            m.index,
            m.reserved_bytes,
            m.region.map_or("no MPU region (empty)".to_string(), |r| format!(
                "{} bytes granted by MPU region {r}",
                m.granted_bytes
            ))
        );
        let _ = writeln!(w, "  {section} {:#010x} (NOLOAD) : {{ KEEP(*({section})) }} > {region}", m.base);
        let _ =
            writeln!(w, "  ASSERT(ADDR({section}) == {:#010x}, \"{section} is not at its planned address\")", m.base);
        let _ = writeln!(
            w,
            "  ASSERT(ADDR({section}) % {} == 0, \"{section} is not aligned to {} for its MPU region\")",
            m.alignment, m.alignment
        );
        let _ = writeln!(
            w,
            "  ASSERT(SIZEOF({section}) == {}, \"{section} does not have its planned size {} (two modules' sections merged?)\")",
            m.reserved_bytes, m.reserved_bytes
        );
        let _ = writeln!(w, "  ASSERT({base} == {:#010x}, \"{base} is not at its planned address\")", m.base);
    }
    let _ = writeln!(w, "}}");
    out
}
