//! A second, independent generator for breadth: wasm-smith, configured for
//! what bulkhead targets (multi-memory with up to 8 small memories, custom
//! page sizes, bulk memory, tables and `call_indirect`, optionally reference
//! types, multi-value, sign extension; no floats, SIMD, GC, exceptions,
//! threads, memory64, tail calls or imports), made terminating with
//! wasm-smith's fuel (a global decremented at every function entry and loop
//! head, trapping when it runs out).
//!
//! wasm-smith's own exports are replaced by predictable ones so both sides
//! can observe the same things: every defined function whose parameters
//! and result are integers (at most one result: the harness cannot return
//! more) as `f<index>`, every memory as `mem<k>`, every i32/i64 global as
//! `g<j>`. Each such function is called with generated arguments, in index
//! order, twice over, on one instance.

use arbitrary::Unstructured;
use wasm_encoder::{ExportKind, ExportSection, RawSection, ValType};
use wasmparser::{Parser, Payload};

use super::{Arg, Plan, PlannedCall, Rng};

#[derive(Clone, Debug)]
pub struct SmithConfig {
    /// Memories per module (wasm-smith draws 0..=max; at least 1 here).
    pub max_memories: usize,
    /// Largest initial or maximum size of a memory, in bytes.
    pub max_memory_bytes: u64,
    /// Allow i64 anywhere. When off, modules that use i64 are drawn again
    /// (up to [`SmithConfig::attempts`] times); see [`SmithModule::uses_i64`].
    pub i64: bool,
    /// Reference types: `ref.func`/`ref.null`/`ref.is_null`, table.get/set/
    /// grow/size/fill/copy/init, elem.drop, several tables.
    pub reference_types: bool,
    pub max_funcs: usize,
    pub max_instructions: usize,
    /// Fuel for all calls together (function entries plus loop iterations).
    pub fuel: u32,
    /// Draws per module when a module is rejected (e.g. uses i64 while
    /// [`SmithConfig::i64`] is off, or wasm-smith runs out of input).
    /// wasm-smith cannot be told to avoid i64 (value types always include
    /// it, any body may use `i64.const`), so with i64 off only a few
    /// modules avoid it; the others keep it and bulkhead refuses them as
    /// unsupported until it compiles i64.
    pub attempts: u32,
}

impl Default for SmithConfig {
    fn default() -> Self {
        SmithConfig {
            max_memories: 8,
            max_memory_bytes: 2 << 16,
            i64: true,
            reference_types: false,
            max_funcs: 10,
            max_instructions: 120,
            // Also bounds recursion: at most this many nested calls, which
            // the harness's stack holds.
            fuel: 300,
            attempts: 40,
        }
    }
}

/// A module drawn by wasm-smith, with its calls and observations.
#[derive(Clone, Debug)]
pub struct SmithModule {
    pub wasm: Vec<u8>,
    pub calls: Vec<PlannedCall>,
    /// Types of the globals exported as `g0, g1, ...`.
    pub global_types: Vec<ValType>,
    pub num_memories: usize,
    /// Whether the module uses i64 (only possible with [`SmithConfig::i64`]
    /// off when every attempt used it).
    pub uses_i64: bool,
}

impl SmithModule {
    pub fn plan(&self) -> Plan<'_> {
        Plan {
            wasm: &self.wasm,
            calls: self.calls.clone(),
            global_types: self.global_types.clone(),
            num_memories: self.num_memories,
        }
    }
}

/// The wasm-smith configuration of `cfg`.
pub fn smith_config(cfg: &SmithConfig) -> wasm_smith::Config {
    wasm_smith::Config {
        allow_floats: false,
        simd_enabled: false,
        relaxed_simd_enabled: false,
        gc_enabled: false,
        exceptions_enabled: false,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        memory64_enabled: false,
        tail_call_enabled: false,
        wide_arithmetic_enabled: false,
        custom_descriptors_enabled: false,
        saturating_float_to_int_enabled: false,
        compact_imports_enabled: false,
        generate_custom_sections: false,
        reference_types_enabled: cfg.reference_types,
        bulk_memory_enabled: true,
        multi_value_enabled: true,
        sign_extension_ops_enabled: true,
        extended_const_enabled: true,
        custom_page_sizes_enabled: true,
        max_imports: 0,
        min_imports: 0,
        max_exports: 0,
        export_everything: false,
        min_funcs: 2,
        max_funcs: cfg.max_funcs,
        max_instructions: cfg.max_instructions,
        min_memories: 1,
        max_memories: cfg.max_memories,
        max_memory32_bytes: cfg.max_memory_bytes,
        // bulkhead reserves a memory's declared maximum; without one it
        // would need an explicit reservation that wasmi does not share.
        memory_max_size_required: true,
        max_tables: if cfg.reference_types { 2 } else { 1 },
        max_table_elements: 32,
        table_max_size_required: true,
        max_globals: 8,
        max_data_segments: 8,
        max_element_segments: 4,
        max_elements: 16,
        max_types: 12,
        max_type_size: 1000,
        min_types: 1,
        max_values: 4,
        max_nesting_depth: 6,
        ..wasm_smith::Config::default()
    }
}

/// Draws the module of `seed`. Errors only when no attempt gave a module
/// (which [`SmithConfig::attempts`] makes unlikely).
pub fn generate_smith(seed: u64, cfg: &SmithConfig) -> Result<SmithModule, String> {
    let mut rng = Rng::new(seed ^ 0x5317_0000_0000_0000);
    let mut last_error = String::from("no attempt");
    let mut fallback = None;
    for _ in 0..cfg.attempts.max(1) {
        let input: Vec<u8> = (0..16 * 1024).map(|_| rng.next_u64() as u8).collect();
        let mut u = Unstructured::new(&input);
        let mut module = match wasm_smith::Module::new(smith_config(cfg), &mut u) {
            Ok(m) => m,
            Err(e) => {
                last_error = format!("wasm-smith: {e}");
                continue;
            }
        };
        let fuel_global = match module.ensure_termination(cfg.fuel) {
            Ok(g) => g,
            Err(e) => {
                last_error = format!("wasm-smith ensure_termination: {e}");
                continue;
            }
        };
        let refuel = Refuel {
            global: fuel_global,
            fuel: cfg.fuel,
        };
        let smith = match with_predictable_exports(&module.to_bytes(), refuel, &mut rng) {
            Ok(m) => m,
            Err(e) => return Err(format!("seed {seed:#x}: {e}")),
        };
        if smith.uses_i64 && !cfg.i64 {
            fallback.get_or_insert(smith);
            continue;
        }
        return Ok(smith);
    }
    fallback.ok_or_else(|| format!("seed {seed:#x}: {last_error}"))
}

/// The fuel global and its initial value. An added function `refuel`
/// (exported under that name) restores it, and runs before every call, so
/// that one call that loops until the fuel runs out does not leave the
/// following calls nothing to run on.
#[derive(Clone, Copy, Debug)]
struct Refuel {
    global: u32,
    fuel: u32,
}

/// The export name of the added refuelling function.
pub const REFUEL_EXPORT: &str = "refuel";

/// Replaces the module's exports as described in the module docs, adds the
/// refuelling function and plans the calls.
fn with_predictable_exports(
    wasm: &[u8],
    refuel: Refuel,
    rng: &mut Rng,
) -> Result<SmithModule, String> {
    let mut func_types: Vec<(Vec<wasmparser::ValType>, Vec<wasmparser::ValType>)> = Vec::new();
    let mut type_of_type_index: Vec<Option<usize>> = Vec::new();
    let mut defined_funcs: Vec<u32> = Vec::new();
    let mut num_memories = 0u32;
    let mut globals: Vec<(u32, ValType)> = Vec::new();
    let mut num_globals = 0u32;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(|e| format!("wasm-smith produced an unreadable module: {e}"))? {
            Payload::TypeSection(reader) => {
                for group in reader {
                    let group = group.map_err(|e| e.to_string())?;
                    for sub in group.types() {
                        match &sub.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(f) => {
                                type_of_type_index.push(Some(func_types.len()));
                                func_types.push((f.params().to_vec(), f.results().to_vec()));
                            }
                            _ => type_of_type_index.push(None),
                        }
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for t in reader {
                    defined_funcs.push(t.map_err(|e| e.to_string())?);
                }
            }
            Payload::MemorySection(reader) => num_memories = reader.count(),
            Payload::GlobalSection(reader) => {
                for g in reader {
                    let g = g.map_err(|e| e.to_string())?;
                    match g.ty.content_type {
                        wasmparser::ValType::I32 => globals.push((num_globals, ValType::I32)),
                        wasmparser::ValType::I64 => globals.push((num_globals, ValType::I64)),
                        _ => {}
                    }
                    num_globals += 1;
                }
            }
            Payload::ImportSection(reader) if reader.count() > 0 => {
                return Err("wasm-smith produced imports".into())
            }
            _ => {}
        }
    }

    let integer = |t: &wasmparser::ValType| match t {
        wasmparser::ValType::I32 => Some(ValType::I32),
        wasmparser::ValType::I64 => Some(ValType::I64),
        _ => None,
    };
    let mut exports = ExportSection::new();
    let mut callable: Vec<(String, Vec<ValType>, Option<ValType>)> = Vec::new();
    for (index, &type_index) in defined_funcs.iter().enumerate() {
        let Some(Some(ty)) = type_of_type_index.get(type_index as usize) else {
            continue;
        };
        let (params, results) = &func_types[*ty];
        let params: Option<Vec<ValType>> = params.iter().map(integer).collect();
        let results: Option<Vec<ValType>> = results.iter().map(integer).collect();
        match (params, results) {
            (Some(params), Some(results)) if results.len() <= 1 && params.len() <= 8 => {
                let name = format!("f{index}");
                exports.export(&name, ExportKind::Func, index as u32);
                callable.push((name, params, results.first().copied()));
            }
            _ => {}
        }
    }
    let refuel_index = defined_funcs.len() as u32;
    exports.export(REFUEL_EXPORT, ExportKind::Func, refuel_index);
    for k in 0..num_memories {
        exports.export(&format!("mem{k}"), ExportKind::Memory, k);
    }
    for (j, (index, _)) in globals.iter().enumerate() {
        exports.export(&format!("g{j}"), ExportKind::Global, *index);
    }

    // Sections in order, the export section (id 7) replaced by ours, which
    // goes before the first section that must follow it.
    // The refuelling function `() -> ()`: a new type at the end of the type
    // section, its entry in the function section and its body in the code
    // section (every section exists: wasm-smith makes at least one function).
    let refuel_type = type_of_type_index.len() as u32;
    let mut refuel_body = vec![0x00, 0x41]; // no locals; i32.const
    wasm_encoder::Encode::encode(&(refuel.fuel as i32), &mut refuel_body);
    refuel_body.push(0x24); // global.set
    wasm_encoder::Encode::encode(&refuel.global, &mut refuel_body);
    refuel_body.push(0x0b); // end
    let mut refuel_code = Vec::new();
    wasm_encoder::Encode::encode(&refuel_body[..], &mut refuel_code);
    let mut refuel_type_index = Vec::new();
    wasm_encoder::Encode::encode(&refuel_type, &mut refuel_type_index);

    // Sections in the canonical order; ours (the export section and, where
    // the module has none, type/function/code sections for `refuel`) are
    // inserted before the first section that must follow them.
    const ORDER: [u8; 13] = [1, 2, 3, 4, 5, 13, 6, 7, 8, 9, 12, 10, 11];
    let rank = |id: u8| ORDER.iter().position(|&o| o == id).unwrap_or(usize::MAX);
    let new_entry = |id: u8| -> Vec<u8> {
        let entry: &[u8] = match id {
            1 => &[0x60, 0x00, 0x00],
            3 => &refuel_type_index,
            _ => &refuel_code,
        };
        let mut v = vec![1];
        v.extend_from_slice(entry);
        v
    };
    // (id, contents) of the sections still to insert, in canonical order.
    let mut pending: Vec<(u8, Vec<u8>)> = vec![
        (1, new_entry(1)),
        (3, new_entry(3)),
        (7, Vec::new()), // `exports`
        (10, new_entry(10)),
    ];
    let mut out = wasm_encoder::Module::new();
    for (id, data) in raw_sections(wasm)? {
        if id == 0 {
            continue; // custom sections: none expected, none needed
        }
        while let Some((pid, pdata)) = pending.first() {
            if rank(*pid) >= rank(id) {
                break;
            }
            if *pid == 7 {
                out.section(&exports);
            } else {
                out.section(&RawSection {
                    id: *pid,
                    data: pdata,
                });
            }
            pending.remove(0);
        }
        let extended = match id {
            1 => append_to_vector(data, &[0x60, 0x00, 0x00])?,
            3 => append_to_vector(data, &refuel_type_index)?,
            10 => append_to_vector(data, &refuel_code)?,
            // wasm-smith's exports are replaced (ours are pending).
            7 => continue,
            _ => data.to_vec(),
        };
        pending.retain(|(pid, _)| *pid != id || id == 7);
        out.section(&RawSection {
            id,
            data: &extended,
        });
    }
    for (id, data) in &pending {
        if *id == 7 {
            out.section(&exports);
        } else {
            out.section(&RawSection { id: *id, data });
        }
    }
    let wasm = out.finish();

    let mut calls = Vec::new();
    for _round in 0..2 {
        for (name, params, result) in &callable {
            calls.push(PlannedCall {
                export: REFUEL_EXPORT.to_string(),
                params: Vec::new(),
                result: None,
            });
            calls.push(PlannedCall {
                export: name.clone(),
                params: params
                    .iter()
                    .map(|t| {
                        if *t == ValType::I64 {
                            Arg::I64(rng.interesting_i64())
                        } else {
                            Arg::I32(rng.interesting_i32())
                        }
                    })
                    .collect(),
                result: *result,
            });
        }
    }
    calls.truncate(32);
    let uses_i64 = super::coverage::uses_i64(&wasm)?;
    Ok(SmithModule {
        wasm,
        calls,
        global_types: globals.iter().map(|g| g.1).collect(),
        num_memories: num_memories as usize,
        uses_i64,
    })
}

/// A vector section's contents with one more (already encoded) entry.
fn append_to_vector(section: &[u8], entry: &[u8]) -> Result<Vec<u8>, String> {
    let (count, len) = read_leb_u32(section, 0)?;
    let mut out = Vec::new();
    wasm_encoder::Encode::encode(&(count + 1), &mut out);
    out.extend_from_slice(&section[len..]);
    out.extend_from_slice(entry);
    Ok(out)
}

/// An unsigned LEB128 at `pos`: (value, bytes read).
fn read_leb_u32(bytes: &[u8], pos: usize) -> Result<(u32, usize), String> {
    let (mut value, mut shift, mut i) = (0u64, 0, pos);
    loop {
        let byte = *bytes.get(i).ok_or("truncated LEB128")?;
        i += 1;
        value |= ((byte & 0x7f) as u64) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            break;
        }
        if shift > 28 {
            return Err("LEB128 too long".into());
        }
    }
    u32::try_from(value)
        .map(|v| (v, i - pos))
        .map_err(|_| "LEB128 out of range".to_string())
}

/// The module's sections as (id, contents), in order.
fn raw_sections(wasm: &[u8]) -> Result<Vec<(u8, &[u8])>, String> {
    let mut sections = Vec::new();
    let mut pos = 8;
    if wasm.len() < 8 {
        return Err("module shorter than its header".into());
    }
    while pos < wasm.len() {
        let id = wasm[pos];
        pos += 1;
        let (size, len) = read_leb_u32(wasm, pos)?;
        pos += len;
        let size = size as usize;
        let data = wasm.get(pos..pos + size).ok_or("truncated section")?;
        sections.push((id, data));
        pos += size;
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Modules validate, keep their exports predictable, run in wasmi, and
    /// have the breadth asked for: several memories, custom page sizes,
    /// tables, bulk memory, calls with results.
    #[test]
    fn smith_modules_validate_and_run_in_wasmi() {
        let cfg = SmithConfig::default();
        let mut cov = crate::difftest::coverage::Coverage::default();
        let (mut calls, mut returned, mut custom_pages, mut inst_failed) = (0, 0, 0, 0);
        for seed in 0..60 {
            let m = generate_smith(seed, &cfg).unwrap();
            wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
                .validate_all(&m.wasm)
                .unwrap_or_else(|e| panic!("seed {seed}: invalid module: {e}"));
            cov.add(&m.wasm).unwrap();
            for payload in Parser::new(0).parse_all(&m.wasm) {
                if let Ok(Payload::MemorySection(r)) = payload {
                    for mem in r {
                        let mem = mem.unwrap();
                        assert!(mem.maximum.is_some(), "seed {seed}: memory without maximum");
                        custom_pages += mem.page_size_log2.is_some() as u32;
                    }
                }
            }
            let obs = crate::difftest::reference_plan(&m.plan())
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            calls += obs.calls.len();
            returned += obs
                .calls
                .iter()
                .filter(|c| matches!(c, crate::difftest::CallResult::Returned(_)))
                .count();
            if obs.instantiate.is_ok() {
                assert_eq!(obs.memories.len(), m.num_memories);
            } else {
                inst_failed += 1;
            }
        }
        eprintln!(
            "{calls} calls, {returned} returned; {inst_failed} failed instantiations; up to {} memories; \
             {custom_pages} with custom page sizes; {} kinds of operators: {:?}",
            cov.max_memories,
            cov.ops.len(),
            cov.ops
        );
        assert!(cov.max_memories >= 4, "too few memories");
        assert!(custom_pages > 0, "no custom page sizes");
        assert!(
            calls >= 60 && returned > 0,
            "{calls} calls, {returned} returned"
        );
        assert!(
            inst_failed < 30,
            "{inst_failed} of 60 instantiations failed"
        );
    }

    /// With i64 off, modules are redrawn until one avoids i64, and a
    /// module reported as free of i64 really is (the QEMU test relies on
    /// this to tell an i64 gap from any other refusal).
    #[test]
    fn without_i64_modules_avoid_it_or_say_so() {
        let cfg = SmithConfig {
            i64: false,
            ..SmithConfig::default()
        };
        let mut free = 0;
        for seed in 0..40 {
            let m = generate_smith(seed, &cfg).unwrap();
            let mut cov = crate::difftest::coverage::Coverage::default();
            cov.add(&m.wasm).unwrap();
            assert_eq!(m.uses_i64, cov.uses_i64(), "seed {seed}");
            free += !m.uses_i64 as u32;
        }
        eprintln!("{free} of 40 modules without i64");
    }
}
