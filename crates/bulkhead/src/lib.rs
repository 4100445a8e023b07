//! bulkhead: an optimizing ahead-of-time compiler from WebAssembly
//! (multi-memory) to ARM Thumb-2 for Cortex-M.
//!
//! This crate is the library facade over the pipeline
//!
//! ```text
//! wasm/wat ─translate─▶ IR ─optimize (egraph, opt_level > 0)─▶ IR
//!          ─compile_function (thumb)─▶ machine code ─write_object─▶ ELF .o
//! ```
//!
//! ```no_run
//! let compiler = bulkhead::Compiler::new(bulkhead::Options { name: "demo".into(), ..Default::default() });
//! let artifact = compiler.compile(br#"(module (func (export "f") (result i32) i32.const 7))"#)?;
//! std::fs::write("demo.o", &artifact.object)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;
use std::str::FromStr;

pub mod emit;
pub mod image;

/// The layout planner (memory placement, MPU/PMP registers).
pub use bulkhead_layout as layout;
pub use bulkhead_layout::{Layout, LayoutError, LayoutErrorKind, MpuTarget, RamRange};

pub use bulkhead_egraph::{EgraphOptions, FunctionStats};
pub use bulkhead_elf::{
    memory_alignment, module_name_from_stem, sanitize, validate_module_name, ArmArch, ElfError, MemorySymbols,
    SymbolNames, MEMORY_TABLE_ENTRY_SIZE,
};
pub use bulkhead_thumb::{BackendError, BackendErrorKind, CompiledFunction, Cpu, TargetIsa};
pub use bulkhead_wasm::{check_imports, BoundsMode, LinkError, ModuleEnv, WasmError, WasmErrorKind};

/// The default target triple: Cortex-M4F with hard-float calling convention.
pub const DEFAULT_TARGET: &str = "thumbv7em-none-eabihf";

/// Compilation options. `Default` gives the documented defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Target triple: `thumbv7m-none-eabi`, `thumbv7em-none-eabi[hf]` or
    /// `thumbv8m.main-none-eabi[hf]`.
    pub target: String,
    /// Core overriding the triple's default (`cortex-m3`, `cortex-m4`,
    /// `cortex-m4f`, `cortex-m7`, `cortex-m33`).
    pub cpu: Option<String>,
    pub bounds: BoundsMode,
    /// 0: no mid-end optimization; 1: the e-graph optimizer with small
    /// iteration and size limits; 2: with its default limits.
    pub opt_level: u8,
    /// Per-memory reservation in bytes: `(memory index, bytes)`.
    pub memory_max: Vec<(u32, u64)>,
    /// Reservation in bytes for memories that declare no maximum.
    pub default_memory_max: Option<u64>,
    /// Per-table reservation in entries: `(table index, entries)`.
    pub table_max: Vec<(u32, u32)>,
    /// Reservation in entries for tables that declare no maximum.
    pub default_table_max: Option<u32>,
    /// Module name, the prefix of every symbol (a C identifier).
    pub name: String,
    /// Fill [`Artifact::ir_text`] with the IR handed to the backend.
    pub emit_ir: bool,
    /// Fill [`Artifact::asm_text`] with an assembly listing.
    pub emit_asm: bool,
    /// Mid-end configuration overriding the one `opt_level` selects (used
    /// to switch individual rule sets off); ignored at `opt_level` 0.
    pub egraph: Option<EgraphOptions>,
    /// RAM the layout planner places the defined memories in (`--ram
    /// BASE:SIZE`); `None`: the core's default,
    /// [`MpuTarget::default_ram`]. Only the embedder outputs
    /// ([`emit`]) use it; the object file does not depend on it.
    pub ram: Option<RamRange>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            target: DEFAULT_TARGET.to_string(),
            cpu: None,
            bounds: BoundsMode::Checked,
            opt_level: 2,
            memory_max: Vec::new(),
            default_memory_max: None,
            table_max: Vec::new(),
            default_table_max: None,
            name: "module".to_string(),
            emit_ir: false,
            emit_asm: false,
            egraph: None,
            ram: None,
        }
    }
}

/// What was compiled for one function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionInfo {
    /// Wasm function index; `None` for the synthesized `instantiate`.
    pub index: Option<u32>,
    /// The IR function's name (for messages and listings).
    pub name: String,
    /// The symbol the function is reached by: its first export's global
    /// symbol, else its local `NAME.f<index>` (`NAME_instantiate` for
    /// `instantiate`).
    pub symbol: String,
    /// Bytes of machine code.
    pub code_size: usize,
    /// The memory whose base the function keeps in R11, if any.
    pub dominant_memory: Option<u32>,
    /// What the e-graph mid-end did (`None` at opt level 0).
    pub stats: Option<FunctionStats>,
    /// The memories the function may read or write, directly or through
    /// the functions it calls (sorted indices). A call to an imported
    /// function or through a table counts as touching every memory.
    pub memories: Vec<u32>,
}

/// The result of a compilation.
#[derive(Clone, Debug)]
pub struct Artifact {
    /// The relocatable ELF object.
    pub object: Vec<u8>,
    pub env: ModuleEnv,
    pub symbols: SymbolNames,
    /// The target the code was compiled for.
    pub isa: TargetIsa,
    /// Defined functions in index order, then `instantiate`.
    pub functions: Vec<FunctionInfo>,
    /// IR of every function as handed to the backend, when `emit_ir`.
    pub ir_text: Option<String>,
    /// Assembly listing of every function, when `emit_asm`.
    pub asm_text: Option<String>,
}

/// Broad classes of [`Error`], for callers that react differently to them
/// (a spec-test runner treats `Invalid` as an expected rejection and
/// `Unsupported` as a gap in bulkhead).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The input is not a valid (or well-formed) WebAssembly module.
    Invalid,
    /// The module is valid but uses something bulkhead does not support yet.
    Unsupported,
    /// The backend could not compile a function.
    Backend,
    /// The target triple, CPU or another option is not acceptable.
    Target,
    /// Writing the object file failed.
    Object,
    /// The memories do not fit the RAM range or the MPU (embedder outputs).
    Layout,
    /// Reading the input failed.
    Io,
    /// A bug in bulkhead (a stage produced output the next one rejects).
    Internal,
}

#[derive(Debug)]
pub enum Error {
    /// The module is malformed or fails validation.
    Invalid(WasmError),
    /// The module uses a feature bulkhead does not support yet.
    Unsupported(WasmError),
    /// A frontend invariant failed (a bulkhead bug, not the module's fault).
    Internal(WasmError),
    Backend(BackendError),
    /// Bad target triple, CPU or option.
    Target(String),
    Object(ElfError),
    /// The layout planner could not place the memories (`--ram`, MPU
    /// region count).
    Layout(LayoutError),
    /// Reading an input file failed.
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Invalid(_) => ErrorKind::Invalid,
            Error::Unsupported(_) => ErrorKind::Unsupported,
            Error::Internal(_) => ErrorKind::Internal,
            // A valid module using something the backend cannot lower yet
            // is a gap in bulkhead, like an unsupported wasm feature.
            Error::Backend(e) if e.kind == BackendErrorKind::Unsupported => ErrorKind::Unsupported,
            Error::Backend(_) => ErrorKind::Backend,
            Error::Target(_) => ErrorKind::Target,
            Error::Object(_) => ErrorKind::Object,
            Error::Layout(_) => ErrorKind::Layout,
            Error::Io { .. } => ErrorKind::Io,
        }
    }

    /// Classifies a frontend error by the conventions of its messages
    /// (`WasmError` carries no kind):
    /// - "unsupported ..." : a feature bulkhead does not implement;
    /// - "memory K would reserve ...": the module needs more address space
    ///   than a 32-bit target has (a limit of the target, not invalidity);
    /// - "internal error ...": a frontend bug;
    /// - "--memory-max ...": the option does not suit the module;
    /// - anything else comes from decoding or validation: invalid module.
    pub fn from_wasm(e: WasmError) -> Error {
        match e.kind {
            WasmErrorKind::Unsupported | WasmErrorKind::Limit => Error::Unsupported(e),
            WasmErrorKind::Internal => Error::Internal(e),
            WasmErrorKind::Options => Error::Target(e.to_string()),
            WasmErrorKind::Invalid => Error::Invalid(e),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid(e) => write!(f, "invalid module: {e}"),
            Error::Unsupported(e) => write!(f, "{e}"),
            Error::Internal(e) => write!(f, "{e}"),
            Error::Backend(e) if e.kind == BackendErrorKind::Unsupported => {
                write!(f, "unsupported by the backend {e}")
            }
            Error::Backend(e) => write!(f, "code generation failed {e}"),
            Error::Target(m) => f.write_str(m),
            Error::Object(e) => write!(f, "{e}"),
            Error::Layout(e) => write!(f, "memory layout: {e}"),
            Error::Io { path, source } => write!(f, "cannot read {}: {source}", path.display()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Invalid(e) | Error::Unsupported(e) | Error::Internal(e) => Some(e),
            Error::Backend(e) => Some(e),
            Error::Object(e) => Some(e),
            Error::Layout(e) => Some(e),
            Error::Io { source, .. } => Some(source),
            Error::Target(_) => None,
        }
    }
}

/// The mid-end configuration of an optimization level; `None` for 0.
pub fn egraph_options(opt_level: u8) -> Option<EgraphOptions> {
    match opt_level {
        0 => None,
        1 => Some(EgraphOptions { iter_limit: 4, node_limit: 10_000, ..EgraphOptions::default() }),
        _ => Some(EgraphOptions::default()),
    }
}

/// The architecture recorded in the object's build attributes for a core.
pub fn arch_of(cpu: Cpu) -> ArmArch {
    match cpu {
        Cpu::CortexM3 => ArmArch::V7M,
        Cpu::CortexM4 | Cpu::CortexM4F | Cpu::CortexM7 => ArmArch::V7EM,
        Cpu::CortexM33 => ArmArch::V8MMain,
    }
}

/// Parses the target triple and CPU of `options`.
pub fn target_isa(options: &Options) -> Result<TargetIsa, Error> {
    let triple = target_lexicon::Triple::from_str(&options.target)
        .map_err(|e| Error::Target(format!("invalid target triple `{}`: {e}", options.target)))?;
    TargetIsa::from_triple(&triple, options.cpu.as_deref()).map_err(Error::Target)
}

/// Whether `input` is a binary module (starts with the `\0asm` magic);
/// anything else is treated as the text format.
pub fn is_binary(input: &[u8]) -> bool {
    input.starts_with(b"\0asm")
}

/// The compiler: options checked once, then any number of modules.
#[derive(Clone, Debug)]
pub struct Compiler {
    options: Options,
}

impl Compiler {
    pub fn new(options: Options) -> Compiler {
        Compiler { options }
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Reads and compiles a `.wasm` or `.wat` file (text-format errors then
    /// name the file).
    pub fn compile_file(&self, path: &std::path::Path) -> Result<Artifact, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        self.compile_input(&bytes, Some(path))
    }

    /// Compiles a module given as wasm binary or wat text.
    pub fn compile(&self, input: &[u8]) -> Result<Artifact, Error> {
        self.compile_input(input, None)
    }

    fn compile_input(&self, input: &[u8], path: Option<&std::path::Path>) -> Result<Artifact, Error> {
        let opts = &self.options;
        let isa = target_isa(opts)?;
        let symbols = SymbolNames::new(&opts.name).map_err(|m| Error::Target(format!("invalid --name: {m}")))?;
        if opts.opt_level > 2 {
            return Err(Error::Target(format!("optimization level {} does not exist (use 0, 1 or 2)", opts.opt_level)));
        }

        let wasm = if is_binary(input) {
            std::borrow::Cow::Borrowed(input)
        } else {
            let text = std::str::from_utf8(input).map_err(|e| {
                Error::Invalid(WasmError::at(
                    format!("input is neither a wasm binary (no \\0asm magic) nor UTF-8 text: {e}"),
                    e.valid_up_to() as u64,
                ))
            })?;
            let binary = wat::parse_str(text).map_err(|mut e| {
                if let Some(path) = path {
                    e.set_path(path);
                }
                Error::Invalid(WasmError::new(format!("malformed text format: {e}")))
            })?;
            std::borrow::Cow::Owned(binary)
        };

        let translate_options = bulkhead_wasm::TranslateOptions {
            bounds: opts.bounds,
            memory_max: opts.memory_max.clone(),
            default_memory_max: opts.default_memory_max,
            table_max: opts.table_max.clone(),
            default_table_max: opts.default_table_max,
        };
        let translation = bulkhead_wasm::translate(&wasm, &translate_options).map_err(Error::from_wasm)?;
        let env = translation.env;

        // Mid-end.
        let egraph_options = match (&opts.egraph, opts.opt_level) {
            (_, 0) => None,
            (Some(custom), _) => Some(custom.clone()),
            (None, level) => egraph_options(level),
        };
        // Every wasm function runs after `instantiate` has set each defined
        // memory to at least its declared minimum, and memories never shrink
        // afterwards, so checks of constant addresses below it can go.
        // `instantiate` itself sets the sizes: it gets no minimums.
        let with_minimums = egraph_options.as_ref().map(|o| EgraphOptions {
            memory_min_bytes: env
                .memories
                .iter()
                .map(|m| if m.import.is_none() { m.min_bytes() } else { 0 })
                .collect(),
            ..o.clone()
        });
        let optimize = |f: bulkhead_ir::Function, options: &Option<EgraphOptions>| match options {
            None => (f, None),
            Some(o) => {
                let (f, stats) = bulkhead_egraph::optimize(&f, o);
                (f, Some(stats))
            }
        };
        let (functions, mut stats): (Vec<bulkhead_ir::Function>, Vec<Option<FunctionStats>>) =
            translation.functions.into_iter().map(|f| optimize(f, &with_minimums)).unzip();
        let (instantiate, instantiate_stats) = optimize(translation.instantiate, &egraph_options);

        let ir_text = opts.emit_ir.then(|| {
            let mut text = String::new();
            for f in functions.iter().chain([&instantiate]) {
                text.push_str(&format!("; {}\n{f}\n", describe(&env, &symbols, f)));
            }
            text
        });

        // Backend.
        let module = bulkhead_thumb::ModuleInfo {
            funcs: env.funcs.iter().map(|f| f.sig.clone()).collect(),
            types: env.types.clone(),
            globals: env.globals.iter().map(|g| g.ty).collect(),
            num_memories: env.memories.len() as u32,
        };
        let backend = bulkhead_thumb::BackendOptions { emit_asm: opts.emit_asm };
        let mut compiled = Vec::with_capacity(functions.len());
        for f in &functions {
            let code = bulkhead_thumb::compile_function(f, &module, &isa, &backend).map_err(Error::Backend)?;
            compiled.push((f.index.0, code));
        }
        let compiled_instantiate =
            bulkhead_thumb::compile_function(&instantiate, &module, &isa, &backend).map_err(Error::Backend)?;
        // Only the routines the code references, compiled on demand (cached).
        let runtime = bulkhead_thumb::referenced_runtime_functions(
            compiled.iter().map(|(_, c)| c).chain([&compiled_instantiate]),
            &isa,
        )
        .map_err(Error::Backend)?;

        let object = bulkhead_elf::write_object(&bulkhead_elf::ObjectInput {
            name: symbols.module(),
            env: &env,
            functions: &compiled,
            instantiate: &compiled_instantiate,
            runtime: &runtime,
            hard_float: isa.hard_float,
            arch: arch_of(isa.cpu),
        })
        .map_err(Error::Object)?;

        // The runtime routines the object contains: those referenced,
        // directly or through another routine.
        let mut used_runtime: std::collections::BTreeSet<&'static str> = std::collections::BTreeSet::new();
        let mut pending: Vec<&CompiledFunction> =
            compiled.iter().map(|(_, c)| c).chain([&compiled_instantiate]).collect();
        while let Some(code) = pending.pop() {
            for reloc in &code.relocs {
                if let bulkhead_thumb::RelocTarget::Runtime(name) = reloc.target {
                    if used_runtime.insert(name) {
                        pending.extend(runtime.iter().filter(|(n, _)| *n == name).map(|(_, c)| c));
                    }
                }
            }
        }

        let asm_text =
            opts.emit_asm.then(|| {
                let mut text = String::new();
                let listed =
                    functions
                        .iter()
                        .zip(&compiled)
                        .map(|(f, (_, code))| {
                            (describe(&env, &symbols, f), function_symbol(&env, &symbols, Some(f.index.0)), code)
                        })
                        .chain([(describe(&env, &symbols, &instantiate), symbols.instantiate(), &compiled_instantiate)])
                        .chain(runtime.iter().filter(|(name, _)| used_runtime.contains(name)).map(|(name, code)| {
                            (format!("runtime routine {name}"), symbols.runtime_local(name), code)
                        }));
                for (what, symbol, code) in listed {
                    text.push_str(&format!("@ {what}\n{symbol}:\n"));
                    match &code.asm {
                        Some(asm) => text.push_str(asm),
                        None => text.push_str("@ (no listing produced)\n"),
                    }
                    if !text.ends_with('\n') {
                        text.push('\n');
                    }
                    text.push('\n');
                }
                text
            });

        let footprints = memory_footprints(&env, &functions, &instantiate);
        let mut infos: Vec<FunctionInfo> = compiled
            .iter()
            .zip(&functions)
            .zip(stats.iter_mut())
            .zip(&footprints)
            .map(|((((index, code), f), stats), memories)| FunctionInfo {
                index: Some(*index),
                name: f.name.clone(),
                symbol: function_symbol(&env, &symbols, Some(*index)),
                code_size: code.code.len(),
                dominant_memory: code.dominant_memory,
                stats: stats.take(),
                memories: memories.clone(),
            })
            .collect();
        infos.push(FunctionInfo {
            index: None,
            name: instantiate.name.clone(),
            symbol: symbols.instantiate(),
            code_size: compiled_instantiate.code.len(),
            dominant_memory: compiled_instantiate.dominant_memory,
            stats: instantiate_stats,
            memories: footprints.last().cloned().unwrap_or_default(),
        });

        Ok(Artifact { object, env, symbols, isa, functions: infos, ir_text, asm_text })
    }
}

/// The memories each function may touch: `functions` in order, then
/// `instantiate`. Direct accesses come from the IR (`InstData::memories`);
/// calls add the callee's set, to a fixpoint (recursion converges because
/// the sets only grow). A call to an import or through a table
/// (`call_ref`) may reach any code, so it counts as every memory.
fn memory_footprints(
    env: &ModuleEnv,
    functions: &[bulkhead_ir::Function],
    instantiate: &bulkhead_ir::Function,
) -> Vec<Vec<u32>> {
    use std::collections::{BTreeSet, HashMap};
    let all: BTreeSet<u32> = (0..env.memories.len() as u32).collect();
    let all_funcs: Vec<&bulkhead_ir::Function> = functions.iter().chain([instantiate]).collect();
    let position: HashMap<u32, usize> = functions.iter().enumerate().map(|(i, f)| (f.index.0, i)).collect();
    let mut sets: Vec<BTreeSet<u32>> = Vec::with_capacity(all_funcs.len());
    let mut callees: Vec<Vec<usize>> = Vec::with_capacity(all_funcs.len());
    for f in &all_funcs {
        let mut set = BTreeSet::new();
        let mut calls = Vec::new();
        for &block in &f.layout {
            for &inst in f.block_insts(block) {
                let data = f.inst(inst);
                set.extend(data.memories().iter().map(|m| m.0));
                match data {
                    bulkhead_ir::InstData::Call { func, .. } => match position.get(&func.0) {
                        Some(&callee) => calls.push(callee),
                        None => set.extend(all.iter().copied()), // an import
                    },
                    bulkhead_ir::InstData::CallRef { .. } => set.extend(all.iter().copied()),
                    _ => {}
                }
            }
        }
        sets.push(set);
        callees.push(calls);
    }
    let mut changed = true;
    while changed {
        changed = false;
        for i in 0..sets.len() {
            for &c in &callees[i] {
                if c != i && !sets[c].is_subset(&sets[i]) {
                    let add: Vec<u32> = sets[c].iter().copied().collect();
                    sets[i].extend(add);
                    changed = true;
                }
            }
        }
    }
    sets.into_iter().map(|s| s.into_iter().collect()).collect()
}

/// The symbol by which a function is best known: its first export, else its
/// local symbol; `None` means `instantiate`.
fn function_symbol(env: &ModuleEnv, symbols: &SymbolNames, index: Option<u32>) -> String {
    let Some(index) = index else { return symbols.instantiate() };
    match env.funcs.get(index as usize).and_then(|f| f.exports.first()) {
        Some(export) => symbols.export_symbol(export),
        None => symbols.function_local(index),
    }
}

/// A one-line description of a function for listings: index, exports, symbol.
fn describe(env: &ModuleEnv, symbols: &SymbolNames, f: &bulkhead_ir::Function) -> String {
    if f.index.0 == u32::MAX {
        return format!("instantiate ({})", symbols.instantiate());
    }
    let exports = env.funcs.get(f.index.index()).map(|d| d.exports.as_slice()).unwrap_or(&[]);
    let mut text = format!("wasm function {}", f.index.0);
    for export in exports {
        text.push_str(&format!(" export \"{export}\""));
    }
    text.push_str(&format!(" ({})", function_symbol(env, symbols, Some(f.index.0))));
    text
}

/// Parses a byte size: a plain number of bytes, or a number with a `KiB`,
/// `MiB` or `GiB` suffix (binary units; `K`, `KB`, `M`, `MB`, `G`, `GB` and
/// lower case are accepted as the same binary units).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    if digits.is_empty() {
        return Err(format!("invalid size `{text}`: expected a number of bytes, e.g. 65536, 64KiB or 1MiB"));
    }
    let value: u64 = digits.parse().map_err(|_| format!("invalid size `{text}`: number too large"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        other => return Err(format!("invalid size `{text}`: unknown unit `{other}` (use KiB, MiB or GiB)")),
    };
    value.checked_mul(1u64 << shift).ok_or_else(|| format!("invalid size `{text}`: too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("64k"), Ok(65536));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("2 MB"), Ok(2 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert!(parse_size("").is_err());
        assert!(parse_size("KiB").is_err());
        assert!(parse_size("12XB").is_err());
        assert!(parse_size("99999999999999999999").is_err());
        assert!(parse_size("18446744073709551615GiB").is_err());
    }

    #[test]
    fn error_classification() {
        let e = |m: &str| WasmError::in_func(m, 1, 0x20);
        assert_eq!(Error::from_wasm(e("unsupported operator i64.add")).kind(), ErrorKind::Unsupported);
        assert_eq!(Error::from_wasm(e("type mismatch: expected i32")).kind(), ErrorKind::Invalid);
        assert_eq!(Error::from_wasm(e("internal error: bad IR")).kind(), ErrorKind::Internal);
        assert_eq!(Error::from_wasm(e("unsupported: floating-point constant")).kind(), ErrorKind::Unsupported);
        assert_eq!(Error::from_wasm(e("memory 0 would reserve 4294967296 bytes")).kind(), ErrorKind::Unsupported);
        assert_eq!(Error::from_wasm(e("--memory-max of 5 bytes for memory 0 is below")).kind(), ErrorKind::Target);
        let shown = Error::from_wasm(e("unsupported operator i64.add")).to_string();
        assert!(shown.contains("function 1") && shown.contains("0x20") && shown.contains("i64.add"), "{shown}");
    }

    #[test]
    fn backend_gaps_are_unsupported() {
        // A backend gap (e.g. a soft-float routine not provided yet) is
        // Unsupported, not a bug. Floats themselves compile.
        let wat = r#"(module (func (export "f") (param f32) (result f32) local.get 0 local.get 0 f32.add))"#;
        Compiler::new(Options::default()).compile(wat.as_bytes()).unwrap();
        let gap = Error::Backend(BackendError {
            kind: BackendErrorKind::Unsupported,
            function: "runtime routine f64_add".into(),
            message: "the soft-float routine is not available yet".into(),
        });
        assert_eq!(gap.kind(), ErrorKind::Unsupported);
        assert!(gap.to_string().starts_with("unsupported"), "{gap}");
        let internal = Error::Backend(BackendError {
            kind: BackendErrorKind::Internal,
            function: "f".into(),
            message: "no lowering rule matches".into(),
        });
        assert_eq!(internal.kind(), ErrorKind::Backend);
    }

    #[test]
    fn targets() {
        let isa = |target: &str, cpu: Option<&str>| {
            target_isa(&Options { target: target.into(), cpu: cpu.map(String::from), ..Default::default() })
        };
        let default = isa(DEFAULT_TARGET, None).unwrap();
        assert!(default.hard_float);
        assert_eq!(arch_of(default.cpu), ArmArch::V7EM);
        assert_eq!(arch_of(isa("thumbv7m-none-eabi", None).unwrap().cpu), ArmArch::V7M);
        assert_eq!(arch_of(isa("thumbv8m.main-none-eabihf", None).unwrap().cpu), ArmArch::V8MMain);
        assert!(!isa("thumbv7em-none-eabi", None).unwrap().hard_float);
        assert_eq!(isa("riscv32imac-unknown-none-elf", None).unwrap_err().kind(), ErrorKind::Target);
        assert_eq!(isa("not a triple", None).unwrap_err().kind(), ErrorKind::Target);
        assert_eq!(isa(DEFAULT_TARGET, Some("cortex-a53")).unwrap_err().kind(), ErrorKind::Target);
    }
}
