//! wasm → bulkhead IR.
//!
//! [`translate`] validates a module (wasmparser, with the feature set
//! bulkhead targets), builds its [`ModuleEnv`], translates every defined
//! function into one SSA [`bulkhead_ir::Function`] and synthesizes the
//! module's `instantiate` function. Anything bulkhead does not support yet is
//! reported as a [`WasmError`] naming the construct, the function and the
//! byte offset in the module; nothing here panics on bad input.
//!
//! What the produced IR looks like (later stages may rely on it):
//!
//! - One IR function per defined wasm function, `Function::index` = its
//!   wasm function index, name = its first export name or `f<index>`.
//!   Locals are SSA values (block parameters at merge points; parameters
//!   whose incoming values all agree are removed), branches through empty
//!   forwarding blocks are threaded, unreachable blocks are dropped. Value
//!   numbers may have gaps.
//! - A load/store with `BoundsMode::Checked` is `bounds_check.k index,
//!   offset+width`, `mem_base.k`, `addr_add`, then the access with the wasm
//!   offset as immediate. Bulk operations check each involved memory with
//!   `bounds_check_dyn` before the unchecked bulk instruction.
//! - With `BoundsMode::Mask` a load/store on a defined memory is
//!   `and (index + offset), span - 1`, `mem_base.k`, `addr_add`, then the
//!   access with immediate 0 (no check); bulk operations are checked.
//! - `i32.div_s`/`div_u`/`rem_s`/`rem_u` emit `trapz divisor` (and for
//!   `div_s` a `trapnz` on `MIN / -1`) before the total IR division.
//! - `memory.grow` is branch-free: `mem_set_size` to `ok ? old + delta·page
//!   : old`, result `ok ? old pages : -1`, where `ok` compares `delta` with
//!   the room left in the reservation.
//! - `data.drop` of a passive segment: the segment's current length lives in
//!   a synthesized mutable i32 global appended after the module's globals
//!   (no import, no export; `instantiate` sets it to the segment's length,
//!   `data.drop` to 0, `memory.init` checks against it). Segments never
//!   dropped have a static length; active segments have length 0 once
//!   instantiation is over.
//! - `memory.grow` of an imported memory compares with `mem_max.k` (the
//!   exporter's reservation, read at run time) instead of a constant.
//! - `call_indirect` is `table_size` + `trapz` (undefined element),
//!   `table_get` + `trapz` (uninitialized element), `func_ref_type_id` vs
//!   `type_id` + `trapz` (type mismatch), then `call_ref`. Funcrefs are i32
//!   descriptor addresses (0 = null). `instantiate` sets every defined
//!   table's size to its minimum, clears it, and writes the active element
//!   segments (returning 10, "out of bounds table access", if one does not
//!   fit) before the data segments.
//! - Every reference value (funcref, externref, typed function references)
//!   is an i32 in the IR (externref: the host's 32-bit value, 0 = null);
//!   `ModuleEnv::func_types`/`GlobalDecl::value_type`/`TableDecl::elem`
//!   keep the declared types.
//! - `table.grow/fill/copy/init` are range checks (`trapz`, code 10) then a
//!   counted loop of `table_get`/`table_set` in fresh IR blocks; `table.grow`
//!   is -1 beyond the reservation (an imported table's is read from a
//!   synthesized global bound to the owner's `__max` word,
//!   `ModuleEnv::imported_table_max`). `table.init` copies from the
//!   segment's read-only image, a synthesized table after the module's own
//!   (`TableDecl::segment`) whose size `elem.drop` sets to 0.
//! - Shifts and rotates are the IR's `ishl`/`sshr`/`ushr`/`rotl`/`rotr` with
//!   wasm semantics assumed (the amount is taken modulo the bit width).

pub mod env;
pub use env::*;
pub use link::{check_imports, type_spelling, LinkError};

mod func;
mod instantiate;
pub mod link;
mod module;
mod ssa;

use bulkhead_ir::{CalleeSignatures, FuncIdx, Function, Type};
use core::fmt;

/// How linear-memory accesses are guarded.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum BoundsMode {
    /// Every access is preceded by an explicit bounds check that traps with
    /// `MemoryOutOfBounds` (precise wasm semantics).
    #[default]
    Checked,
    /// No checks at all: the code is trusted.
    None,
    /// Containment without traps: a load/store's effective address
    /// (`index + offset`, modulo 2^32) is ANDed with `span - 1`, where
    /// `span` = max(32, next power of two ≥ the reservation), so every access
    /// lands inside the memory's own region, whose last [`MASK_GUARD_BYTES`]
    /// bytes absorb the tail of an access at the end of the span. Accesses
    /// in bounds behave exactly as in wasm; out-of-bounds ones wrap instead
    /// of trapping. Bulk operations (`memory.copy/fill/init`) stay checked
    /// (a masked range has no meaning), and so do accesses to imported
    /// memories, whose reservation is only known at link time.
    Mask,
}

/// Bytes after a mask-mode memory's power-of-two span: the widest access
/// (8 bytes) at the last masked address ends inside them.
pub const MASK_GUARD_BYTES: u64 = 8;

impl BoundsMode {
    /// Whether bulk operations (and accesses that cannot be masked) check
    /// their bounds.
    pub fn checks_bulk(self) -> bool {
        self != BoundsMode::None
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TranslateOptions {
    pub bounds: BoundsMode,
    /// Per-memory reservation in bytes, `(memory index, bytes)`. Must lie
    /// between the memory's minimum and its declared maximum; rounded down
    /// to a whole number of pages.
    pub memory_max: Vec<(u32, u64)>,
    /// Reservation in bytes for memories that declare no maximum and have no
    /// entry in `memory_max` (raised to the minimum when smaller).
    pub default_memory_max: Option<u64>,
    /// Per-table reservation in entries, `(table index, entries)`: at least
    /// the table's minimum, at most its declared maximum. `table.grow`
    /// beyond the reservation returns -1.
    pub table_max: Vec<(u32, u32)>,
    /// Reservation in entries for tables that declare no maximum and have
    /// no entry in `table_max` (raised to the minimum); without it such a
    /// table reserves its minimum and cannot grow.
    pub default_table_max: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct Translation {
    pub env: ModuleEnv,
    /// Defined functions, in index order; `Function::index` is the wasm FuncIdx.
    pub functions: Vec<Function>,
    /// Synthesized: index `FuncIdx(u32::MAX)`, name "instantiate", `() -> i32`
    /// (0 on success, the trap code 10 when an element segment does not fit
    /// its table, 2 when a data segment does not fit its memory).
    pub instantiate: Function,
}

/// What kind of problem a [`WasmError`] reports; callers act differently on
/// each (a spec-test runner expects `Invalid` for `assert_invalid`, and skips
/// `Unsupported`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum WasmErrorKind {
    /// The module is malformed or fails validation.
    Invalid,
    /// A valid module uses something bulkhead does not compile yet.
    Unsupported,
    /// A valid module does not fit a 32-bit microcontroller (e.g. its
    /// memory reservation).
    Limit,
    /// The translation options do not fit the module (e.g. `--memory-max`).
    Options,
    /// A bug in bulkhead.
    Internal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WasmError {
    pub kind: WasmErrorKind,
    pub message: String,
    /// The wasm function the error is in, if any.
    pub func_index: Option<u32>,
    /// Byte offset in the module.
    pub offset: Option<usize>,
}

impl WasmError {
    /// The kind follows from how this crate words its messages: it is the
    /// one place that writes them ("unsupported…", "internal error…",
    /// "--memory-max…", "memory N would reserve…").
    fn kind_of_message(message: &str) -> WasmErrorKind {
        if message.starts_with("unsupported") {
            WasmErrorKind::Unsupported
        } else if message.starts_with("internal error") {
            WasmErrorKind::Internal
        } else if message.starts_with("--") {
            WasmErrorKind::Options
        } else if (message.starts_with("memory ") || message.starts_with("table ")) && message.contains(" would reserve ")
        {
            WasmErrorKind::Limit
        } else {
            WasmErrorKind::Invalid
        }
    }
    /// An error whose kind follows from its wording (see above).
    pub fn new(message: impl Into<String>) -> Self {
        let message = message.into();
        WasmError { kind: Self::kind_of_message(&message), message, func_index: None, offset: None }
    }
    pub fn at(message: impl Into<String>, offset: u64) -> Self {
        WasmError { offset: Some(offset as usize), ..WasmError::new(message) }
    }
    pub fn in_func(message: impl Into<String>, func: u32, offset: usize) -> Self {
        WasmError { func_index: Some(func), offset: Some(offset), ..WasmError::new(message) }
    }
    pub(crate) fn from_parser(e: wasmparser::BinaryReaderError) -> Self {
        // wasmparser's readers refuse some proposals outright (e.g. GC types
        // through `into_iter_err_on_gc_types`) even when validation accepts
        // them: that is a limitation of bulkhead, not an invalid module.
        let message = e.message().to_string();
        let kind = if message.ends_with("proposal not supported") {
            WasmErrorKind::Unsupported
        } else {
            WasmErrorKind::Invalid
        };
        let message = if kind == WasmErrorKind::Unsupported { format!("unsupported: {message}") } else { message };
        WasmError { kind, message, func_index: None, offset: usize::try_from(e.offset()).ok() }
    }
}

impl fmt::Display for WasmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.func_index, self.offset) {
            (Some(func), Some(off)) => write!(f, "wasm function {func} at offset {off:#x}: {}", self.message),
            (Some(func), None) => write!(f, "wasm function {func}: {}", self.message),
            (None, Some(off)) => write!(f, "wasm at offset {off:#x}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for WasmError {}

/// The wasm features the validator accepts.
pub fn wasm_features() -> wasmparser::WasmFeatures {
    // Validate against the whole Wasm 3.0 language (plus custom page sizes),
    // so that a valid module using a feature bulkhead does not compile yet
    // (GC, SIMD, exceptions, memory64, threads) is reported as unsupported,
    // never as invalid: the two mean different things to a user.
    wasmparser::WasmFeatures::WASM3 | wasmparser::WasmFeatures::CUSTOM_PAGE_SIZES
}

/// Signatures of every function in the module, for the IR verifier.
pub struct EnvCallees<'a>(pub &'a ModuleEnv);

impl CalleeSignatures for EnvCallees<'_> {
    fn callee_signature(&self, func: FuncIdx) -> Option<(Vec<Type>, Vec<Type>)> {
        self.0.funcs.get(func.index()).map(|f| (f.sig.params.clone(), f.sig.results.clone()))
    }
    fn type_signature(&self, sig: bulkhead_ir::SigIdx) -> Option<(Vec<Type>, Vec<Type>)> {
        self.0.types.get(sig.index()).map(|s| (s.params.clone(), s.results.clone()))
    }
}

/// Validates and translates a wasm module.
pub fn translate(wasm: &[u8], opts: &TranslateOptions) -> Result<Translation, WasmError> {
    let mut validator = wasmparser::Validator::new_with_features(wasm_features());
    validator.validate_all(wasm).map_err(|e| {
        let mut err = WasmError::from_parser(e);
        err.func_index = err.offset.and_then(|off| module::function_at_offset(wasm, off));
        err
    })?;

    let parsed = module::parse_module(wasm, opts)?;
    let mut env = parsed.env;
    let segment_lengths = module::add_segment_length_globals(&mut env, &parsed.bodies)?;
    module::add_segment_images(&mut env, &parsed.bodies)?;
    module::add_imported_table_max_globals(&mut env, &parsed.bodies)?;
    let mut functions = Vec::with_capacity(parsed.bodies.len());
    for (i, body) in parsed.bodies.iter().enumerate() {
        let index = env.num_imported_funcs + i as u32;
        let func = func::translate_function(&env, opts, &segment_lengths, index, body)?;
        check_ir(&env, &func, Some(index))?;
        functions.push(func);
    }
    let instantiate = instantiate::build_instantiate(&env)?;
    check_ir(&env, &instantiate, None)?;
    Ok(Translation { env, functions, instantiate })
}

/// Runs the IR verifier in debug builds: a failure is a frontend bug, reported
/// as an error rather than a panic so that callers (and fuzzing) see it.
fn check_ir(env: &ModuleEnv, func: &Function, index: Option<u32>) -> Result<(), WasmError> {
    if cfg!(debug_assertions) {
        if let Err(e) = bulkhead_ir::verify_with(func, &EnvCallees(env)) {
            return Err(WasmError {
                func_index: index,
                ..WasmError::new(format!("internal error: the frontend produced invalid IR: {e}"))
            });
        }
    }
    Ok(())
}
