//! What a module exercises, read back from its binary with wasmparser (so it
//! checks the generators' output, not their intentions): operators by name,
//! memory operations by memory index, `memory.copy` pairs, overlapping
//! copies within one memory, and whether i64 appears anywhere.

use std::collections::{BTreeMap, BTreeSet};

use wasmparser::{Operator, Parser, Payload, ValType};

/// The kinds of memory operation counted per memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MemOp {
    Load,
    Store,
    Size,
    Grow,
    Fill,
    CopyDst,
    CopySrc,
    Init,
}

impl MemOp {
    pub const ALL: [MemOp; 8] = [
        MemOp::Load,
        MemOp::Store,
        MemOp::Size,
        MemOp::Grow,
        MemOp::Fill,
        MemOp::CopyDst,
        MemOp::CopySrc,
        MemOp::Init,
    ];
}

#[derive(Clone, Debug, Default)]
pub struct Coverage {
    /// Operator name (wasmparser's, e.g. `I64Load16S`) -> occurrences.
    pub ops: BTreeMap<String, u64>,
    /// (memory, kind) -> occurrences.
    pub per_memory: BTreeMap<(u32, MemOp), u64>,
    /// Load/store operator name and memory index that occur together.
    pub access_on_memory: BTreeSet<(String, u32)>,
    /// (destination, source) memory of every `memory.copy`.
    pub copy_pairs: BTreeMap<(u32, u32), u64>,
    /// Copies within one memory whose constant operands make the ranges
    /// overlap, by direction: source below / above the destination.
    pub overlapping_copies_src_below: u64,
    pub overlapping_copies_src_above: u64,
    /// An i64 in a function type, local or global declaration.
    pub i64_declared: bool,
    /// Function types with an i64 parameter / result.
    pub i64_params: u64,
    pub i64_results: u64,
    pub i64_globals: u64,
    pub i64_locals: u64,
    pub modules: u64,
    pub max_memories: u32,
    /// `select` right after `i32.eqz`/`i32.eq`/`i32.ne` (or the i64 ones):
    /// the pattern wasmi 2.0.0 evaluates wrongly (see the generator's
    /// workaround), so a disagreement there may be the reference's fault.
    pub select_on_zero_compare: u64,
    /// Name of the previous operator while scanning a body.
    prev: String,
}

impl Coverage {
    /// Adds what `wasm` exercises.
    pub fn add(&mut self, wasm: &[u8]) -> Result<(), String> {
        self.modules += 1;
        // The last three operators: the constant operands of a copy.
        let mut recent: Vec<Option<i64>> = Vec::new();
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.map_err(|e| e.to_string())? {
                Payload::TypeSection(reader) => {
                    for ty in reader.into_iter_err_on_gc_types() {
                        let ty = ty.map_err(|e| e.to_string())?;
                        if ty.params().contains(&ValType::I64) {
                            self.i64_params += 1;
                            self.i64_declared = true;
                        }
                        if ty.results().contains(&ValType::I64) {
                            self.i64_results += 1;
                            self.i64_declared = true;
                        }
                    }
                }
                Payload::GlobalSection(reader) => {
                    for g in reader {
                        if g.map_err(|e| e.to_string())?.ty.content_type == ValType::I64 {
                            self.i64_globals += 1;
                            self.i64_declared = true;
                        }
                    }
                }
                Payload::MemorySection(reader) => {
                    self.max_memories = self.max_memories.max(reader.count());
                }
                Payload::CodeSectionEntry(body) => {
                    for local in body.get_locals_reader().map_err(|e| e.to_string())? {
                        let (n, ty) = local.map_err(|e| e.to_string())?;
                        if ty == ValType::I64 && n > 0 {
                            self.i64_locals += 1;
                            self.i64_declared = true;
                        }
                    }
                    let mut ops = body.get_operators_reader().map_err(|e| e.to_string())?;
                    while !ops.eof() {
                        let op = ops.read().map_err(|e| e.to_string())?;
                        self.operator(&op, &recent);
                        recent.push(match op {
                            Operator::I32Const { value } => Some(value as i64),
                            _ => None,
                        });
                        if recent.len() > 3 {
                            recent.remove(0);
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn operator(&mut self, op: &Operator<'_>, recent: &[Option<i64>]) {
        let debug = format!("{op:?}");
        let name = debug
            .split(|c: char| c == ' ' || c == '{' || c == '(')
            .next()
            .unwrap_or("")
            .to_string();
        *self.ops.entry(name.clone()).or_insert(0) += 1;
        if name.starts_with("Select") || name == "TypedSelect" {
            if matches!(
                self.prev.as_str(),
                "I32Eqz" | "I32Eq" | "I32Ne" | "I64Eqz" | "I64Eq" | "I64Ne"
            ) {
                self.select_on_zero_compare += 1;
            }
        }
        self.prev = name.clone();
        let mut count =
            |mem: u32, kind: MemOp| *self.per_memory.entry((mem, kind)).or_insert(0) += 1;
        match *op {
            Operator::MemorySize { mem } => count(mem, MemOp::Size),
            Operator::MemoryGrow { mem } => count(mem, MemOp::Grow),
            Operator::MemoryFill { mem } => count(mem, MemOp::Fill),
            Operator::MemoryInit { mem, .. } => count(mem, MemOp::Init),
            Operator::MemoryCopy { dst_mem, src_mem } => {
                count(dst_mem, MemOp::CopyDst);
                count(src_mem, MemOp::CopySrc);
                *self.copy_pairs.entry((dst_mem, src_mem)).or_insert(0) += 1;
                if let (true, [Some(dst), Some(src), Some(len)]) = (dst_mem == src_mem, recent) {
                    let overlap = *len > 1 && (dst - src).abs() < *len;
                    if overlap && src < dst {
                        self.overlapping_copies_src_below += 1;
                    } else if overlap && src > dst {
                        self.overlapping_copies_src_above += 1;
                    }
                }
            }
            _ => {
                if let Some(wasmparser::MemArgTarget::Memory(mem)) = memarg_of(op).map(|m| m.target)
                {
                    let kind = if name.contains("Store") {
                        MemOp::Store
                    } else {
                        MemOp::Load
                    };
                    count(mem, kind);
                    self.access_on_memory.insert((name, mem));
                }
            }
        }
    }

    /// Whether the module uses i64 anywhere (declarations or operators).
    pub fn uses_i64(&self) -> bool {
        self.i64_declared || self.ops.keys().any(|op| op.starts_with("I64"))
    }

    pub fn count(&self, op: &str) -> u64 {
        self.ops.get(op).copied().unwrap_or(0)
    }
}

/// The memory argument of an integer load or store.
fn memarg_of(op: &Operator<'_>) -> Option<wasmparser::MemArg> {
    use Operator as O;
    match *op {
        O::I32Load { memarg }
        | O::I64Load { memarg }
        | O::F32Load { memarg }
        | O::F64Load { memarg }
        | O::I32Load8S { memarg }
        | O::I32Load8U { memarg }
        | O::I32Load16S { memarg }
        | O::I32Load16U { memarg }
        | O::I64Load8S { memarg }
        | O::I64Load8U { memarg }
        | O::I64Load16S { memarg }
        | O::I64Load16U { memarg }
        | O::I64Load32S { memarg }
        | O::I64Load32U { memarg }
        | O::I32Store { memarg }
        | O::I64Store { memarg }
        | O::F32Store { memarg }
        | O::F64Store { memarg }
        | O::I32Store8 { memarg }
        | O::I32Store16 { memarg }
        | O::I64Store8 { memarg }
        | O::I64Store16 { memarg }
        | O::I64Store32 { memarg } => Some(memarg),
        _ => None,
    }
}

/// Every integer load and store operator, by wasmparser's name.
pub const INTEGER_ACCESSES: [&str; 23 - 4] = [
    "I32Load",
    "I64Load",
    "I32Load8S",
    "I32Load8U",
    "I32Load16S",
    "I32Load16U",
    "I64Load8S",
    "I64Load8U",
    "I64Load16S",
    "I64Load16U",
    "I64Load32S",
    "I64Load32U",
    "I32Store",
    "I64Store",
    "I32Store8",
    "I32Store16",
    "I64Store8",
    "I64Store16",
    "I64Store32",
];

/// Whether `wasm` uses i64 anywhere.
pub fn uses_i64(wasm: &[u8]) -> Result<bool, String> {
    let mut c = Coverage::default();
    c.add(wasm)?;
    Ok(c.uses_i64())
}
