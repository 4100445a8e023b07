//! Differential testing: random multi-memory programs run in wasmi (the
//! reference interpreter) and, compiled by bulkhead, in QEMU; results, traps,
//! every exported global and every memory's size and contents must agree.
//!
//! [`reference`] observes a [`GeneratedModule`] in wasmi, [`observe_qemu`]
//! compiles it with bulkhead and observes it on a QEMU board, [`compare`]
//! lists the differences and [`check_module`] does all three, returning a
//! [`Disagreement`] (seed, module text, both observations) on mismatch.

pub mod coverage;
pub mod gen;
pub mod smith;

pub use gen::{generate, GenConfig, GeneratedModule, MemorySpec, Rng, ENTRY_EXPORT};
pub use smith::{generate_smith, SmithConfig, SmithModule};

use std::fmt;

use wasm_encoder::ValType;

use crate::qemu::fnv1a64;

/// What one call (or the instantiation) did, in terms both sides can produce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallResult {
    /// The result (an i32 zero-extended; 0 for a function without results).
    Returned(u64),
    /// A wasm trap, as a bulkhead trap code (`bulkhead_ir::TrapCode`).
    Trapped(u8),
    /// Anything the reference never produces: a CPU fault that is not a
    /// wasm trap, a hang, a call not reached. Never equal to a reference
    /// result, so it always shows up as a disagreement.
    Abnormal(String),
}

impl fmt::Display for CallResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallResult::Returned(v) if *v <= u32::MAX as u64 => {
                write!(f, "returned {v:#x} ({})", *v as u32 as i32)
            }
            CallResult::Returned(v) => write!(f, "returned {v:#x} ({})", *v as i64),
            CallResult::Trapped(code) => write!(f, "trapped with code {code}"),
            CallResult::Abnormal(what) => write!(f, "abnormal: {what}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// `Err` when instantiation trapped (or, on QEMU, went wrong otherwise).
    pub instantiate: Result<(), CallResult>,
    /// One per call of [`GeneratedModule::calls`] (empty if instantiation failed).
    pub calls: Vec<CallResult>,
    /// Values of the exported globals `g0, g1, ...` after the last call
    /// (i32s zero-extended).
    pub globals: Vec<u64>,
    /// Per memory after the last call: (size in bytes, FNV-1a-64 of its bytes).
    pub memories: Vec<(u64, u64)>,
}

impl fmt::Display for Observation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.instantiate {
            Ok(()) => writeln!(f, "  instantiate: ok")?,
            Err(e) => writeln!(f, "  instantiate: {e}")?,
        }
        for (i, c) in self.calls.iter().enumerate() {
            writeln!(f, "  call {i}: {c}")?;
        }
        for (k, g) in self.globals.iter().enumerate() {
            writeln!(f, "  global g{k} = {g:#x}")?;
        }
        for (k, (size, hash)) in self.memories.iter().enumerate() {
            writeln!(f, "  memory mem{k}: {size} bytes, fnv1a64 {hash:#018x}")?;
        }
        Ok(())
    }
}

/// A call argument (the generators use integers only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    I32(i32),
    I64(i64),
}

/// One call of an exported function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedCall {
    pub export: String,
    pub params: Vec<Arg>,
    /// The function's result type (`None`: no result). Functions with more
    /// than one result are not called from outside (the harness cannot).
    pub result: Option<ValType>,
}

/// What to run and observe: calls in order on one instance, then the
/// exported globals `g0, g1, ...` and memories `mem0, mem1, ...`.
#[derive(Clone, Debug)]
pub struct Plan<'a> {
    pub wasm: &'a [u8],
    pub calls: Vec<PlannedCall>,
    /// Types of the globals exported as `g0, g1, ...` (i32 or i64).
    pub global_types: Vec<ValType>,
    /// Memories exported as `mem0, mem1, ...` (all of the module's).
    pub num_memories: usize,
}

impl GeneratedModule {
    /// The calls of `run` and the observations of a generated module.
    pub fn plan(&self) -> Plan<'_> {
        Plan {
            wasm: &self.wasm,
            calls: self
                .calls
                .iter()
                .map(|&[a, b]| PlannedCall {
                    export: ENTRY_EXPORT.to_string(),
                    params: vec![Arg::I32(a), Arg::I32(b)],
                    result: Some(ValType::I32),
                })
                .collect(),
            global_types: self.global_types.clone(),
            num_memories: self.memories.len(),
        }
    }
}

/// Native stack for running wasmi: some generated modules need more than
/// a test thread's default 2 MiB (wasmi recurses natively on them).
const REFERENCE_STACK_BYTES: usize = 256 << 20;

/// Runs the module in wasmi (on a thread of its own with a large stack).
pub fn reference(module: &GeneratedModule) -> Result<Observation, String> {
    reference_plan(&module.plan())
}

/// Runs a plan in wasmi (on a thread of its own with a large stack).
pub fn reference_plan(plan: &Plan<'_>) -> Result<Observation, String> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("wasmi-reference".into())
            .stack_size(REFERENCE_STACK_BYTES)
            .spawn_scoped(scope, || reference_on_this_thread(plan))
            .map_err(|e| format!("cannot start the reference thread: {e}"))?
            .join()
            .map_err(|_| "the reference (wasmi) panicked".to_string())?
    })
}

fn reference_on_this_thread(plan: &Plan<'_>) -> Result<Observation, String> {
    use wasmi::{Config, Engine, Linker, Module, Store};
    let mut config = Config::default();
    config.wasm_multi_memory(true).wasm_custom_page_sizes(true);
    // Recursion is bounded by the programs themselves (wasm-smith's fuel);
    // wasmi's own limits (1000 frames) must not trap first.
    config
        .set_max_recursion_depth(100_000)
        .set_max_stack_height(64 << 20);
    let engine = Engine::new(&config);
    let wasm_module =
        Module::new(&engine, plan.wasm).map_err(|e| format!("wasmi rejected the module: {e}"))?;
    let mut store = Store::new(&engine, ());
    let linker = <Linker<()>>::new(&engine);
    let instance = match linker.instantiate_and_start(&mut store, &wasm_module) {
        Ok(instance) => instance,
        Err(e) => {
            let code = e
                .as_trap_code()
                .map(trap_code_of)
                .or_else(|| instantiation_trap_code(&e))
                .ok_or_else(|| format!("wasmi instantiation failed: {e}"))?;
            return Ok(Observation {
                instantiate: Err(CallResult::Trapped(code)),
                calls: Vec::new(),
                globals: Vec::new(),
                memories: Vec::new(),
            });
        }
    };
    let mut calls = Vec::new();
    for call in &plan.calls {
        let func = instance
            .get_func(&store, &call.export)
            .ok_or_else(|| format!("no function export `{}`", call.export))?;
        let params: Vec<wasmi::Val> = call
            .params
            .iter()
            .map(|a| match *a {
                Arg::I32(v) => wasmi::Val::I32(v),
                Arg::I64(v) => wasmi::Val::I64(v),
            })
            .collect();
        let mut results: Vec<wasmi::Val> = match call.result {
            Some(ValType::I64) => vec![wasmi::Val::I64(0)],
            Some(_) => vec![wasmi::Val::I32(0)],
            None => Vec::new(),
        };
        calls.push(match func.call(&mut store, &params, &mut results) {
            Ok(()) => CallResult::Returned(match results.first() {
                Some(wasmi::Val::I32(v)) => *v as u32 as u64,
                Some(wasmi::Val::I64(v)) => *v as u64,
                None => 0,
                Some(other) => return Err(format!("`{}` returned {other:?}", call.export)),
            }),
            Err(e) => CallResult::Trapped(
                e.as_trap_code()
                    .map(trap_code_of)
                    .ok_or_else(|| format!("wasmi call failed without a trap: {e}"))?,
            ),
        });
    }
    let globals = (0..plan.global_types.len())
        .map(|k| {
            let global = instance
                .get_global(&store, &format!("g{k}"))
                .ok_or_else(|| format!("global g{k} not exported"))?;
            match global.get(&store) {
                wasmi::Val::I32(v) => Ok(v as u32 as u64),
                wasmi::Val::I64(v) => Ok(v as u64),
                other => Err(format!("global g{k} is not an integer: {other:?}")),
            }
        })
        .collect::<Result<Vec<_>, String>>()?;
    let memories = (0..plan.num_memories)
        .map(|k| {
            let mem = instance
                .get_memory(&store, &format!("mem{k}"))
                .ok_or_else(|| format!("memory mem{k} not exported"))?;
            let data = mem.data(&store);
            Ok((data.len() as u64, fnv1a64(data)))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Observation {
        instantiate: Ok(()),
        calls,
        globals,
        memories,
    })
}

/// The trap of an instantiation that wasmi reports as a table error rather
/// than a trap: an active element segment that does not fit its table
/// (the spec's "out of bounds table access").
fn instantiation_trap_code(e: &wasmi::Error) -> Option<u8> {
    use wasmi::errors::{ErrorKind, InstantiationError, TableError};
    match e.kind() {
        ErrorKind::Instantiation(InstantiationError::ElementSegmentDoesNotFit { .. }) => {
            Some(bulkhead_ir::TrapCode::TableAccessOutOfBounds.code())
        }
        ErrorKind::Table(
            TableError::InitOutOfBounds
            | TableError::CopyOutOfBounds
            | TableError::SetOutOfBounds
            | TableError::FillOutOfBounds,
        ) => Some(bulkhead_ir::TrapCode::TableAccessOutOfBounds.code()),
        _ => None,
    }
}

/// wasmi's trap codes mapped onto bulkhead's (`bulkhead_ir::TrapCode`).
fn trap_code_of(code: wasmi::TrapCode) -> u8 {
    use bulkhead_ir::TrapCode as B;
    use wasmi::TrapCode as W;
    let ours = match code {
        W::UnreachableCodeReached => B::Unreachable,
        W::MemoryOutOfBounds => B::MemoryOutOfBounds,
        W::TableOutOfBounds => B::TableOutOfBounds,
        W::IndirectCallToNull => B::UninitializedElement,
        W::IntegerDivisionByZero => B::IntegerDivideByZero,
        W::IntegerOverflow => B::IntegerOverflow,
        W::BadConversionToInteger => B::InvalidConversion,
        W::StackOverflow => B::StackExhausted,
        W::BadSignature => B::IndirectCallTypeMismatch,
        // Fuel and resource limits are not configured: no bulkhead trap code
        // corresponds, and 255 never matches what the compiled code reports.
        _ => return u8::MAX,
    };
    ours.code()
}

/// Every difference between the reference observation and another one, one
/// line each; empty when they agree.
pub fn compare(reference: &Observation, actual: &Observation) -> Vec<String> {
    let mut diffs = Vec::new();
    if reference.instantiate != actual.instantiate {
        let show = |r: &Result<(), CallResult>| match r {
            Ok(()) => "ok".to_string(),
            Err(e) => e.to_string(),
        };
        diffs.push(format!(
            "instantiate: expected {}, got {}",
            show(&reference.instantiate),
            show(&actual.instantiate)
        ));
    }
    let n = reference.calls.len().max(actual.calls.len());
    for i in 0..n {
        let (want, got) = (reference.calls.get(i), actual.calls.get(i));
        if want != got {
            let show = |c: Option<&CallResult>| c.map_or("nothing".to_string(), |c| c.to_string());
            diffs.push(format!(
                "call {i}: expected {}, got {}",
                show(want),
                show(got)
            ));
        }
    }
    if reference.globals.len() != actual.globals.len() {
        diffs.push(format!(
            "globals: expected {} values, got {}",
            reference.globals.len(),
            actual.globals.len()
        ));
    }
    for (k, (want, got)) in reference.globals.iter().zip(&actual.globals).enumerate() {
        if want != got {
            diffs.push(format!("global g{k}: expected {want:#x}, got {got:#x}"));
        }
    }
    if reference.memories.len() != actual.memories.len() {
        diffs.push(format!(
            "memories: expected {} memories, got {}",
            reference.memories.len(),
            actual.memories.len()
        ));
    }
    for (k, (want, got)) in reference.memories.iter().zip(&actual.memories).enumerate() {
        if want.0 != got.0 {
            diffs.push(format!(
                "memory mem{k}: expected size {} bytes, got {}",
                want.0, got.0
            ));
        } else if want.1 != got.1 {
            diffs.push(format!(
                "memory mem{k}: contents differ (fnv1a64 expected {:#018x}, got {:#018x})",
                want.1, got.1
            ));
        }
    }
    diffs
}

/// One failed differential case, with everything needed to replay it.
#[derive(Clone, Debug)]
pub struct Disagreement {
    pub seed: u64,
    /// The optimization level bulkhead compiled with (`None`: the failure is
    /// not specific to one level, e.g. the reference itself failed).
    pub opt_level: Option<u8>,
    /// What went wrong, one line per difference.
    pub differences: Vec<String>,
    pub reference: Option<Observation>,
    pub actual: Option<Observation>,
    /// The calls made, in order on one instance (for `run` in the
    /// `BULKHEAD_DIFF_CALLS` syntax).
    pub calls: String,
    /// The module as text (or the printer's error).
    pub wat: String,
    /// Where the binary module was saved, if it could be.
    pub wasm_path: Option<std::path::PathBuf>,
}

impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seed {:#x}", self.seed)?;
        if let Some(level) = self.opt_level {
            write!(f, " at -O{level}")?;
        }
        writeln!(f, ":")?;
        for d in &self.differences {
            writeln!(f, "  {d}")?;
        }
        if let Some(r) = &self.reference {
            writeln!(f, "reference (wasmi):\n{r}")?;
        }
        if let Some(a) = &self.actual {
            writeln!(f, "bulkhead (QEMU):\n{a}")?;
        }
        writeln!(f, "{}", self.calls)?;
        if let Some(p) = &self.wasm_path {
            writeln!(f, "module saved to {}", p.display())?;
        }
        writeln!(f, "module:\n{}", self.wat)
    }
}

impl std::error::Error for Disagreement {}

/// The module in the text format, for reports.
pub fn module_text(module: &GeneratedModule) -> String {
    wasmprinter::print_bytes(&module.wasm).unwrap_or_else(|e| format!("(wasmprinter failed: {e})"))
}

#[cfg(feature = "facade")]
pub use self::qemu_side::*;

#[cfg(feature = "facade")]
mod qemu_side {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::qemu::{
        run_actions, run_linked, Action, Board, Call, ObjectModule, Outcome, RunReport, Step, Val,
        ValType,
    };

    /// Compile options for a generated module on `board`: the defaults
    /// (which reserve each memory's declared maximum, the same limit wasmi
    /// enforces on `memory.grow`) at the given mid-end level, for the
    /// board's core.
    pub fn compile_options(opt_level: u8, board: Board) -> bulkhead::Options {
        let cpu = match board {
            // The triple's default core is the Cortex-M4F.
            Board::Mps2An500 => Some("cortex-m7".to_string()),
            _ => None,
        };
        bulkhead::Options {
            opt_level,
            target: board.target_triple().to_string(),
            cpu,
            name: "diff".to_string(),
            ..bulkhead::Options::default()
        }
    }

    fn harness_type(ty: wasm_encoder::ValType) -> ValType {
        if ty == wasm_encoder::ValType::I64 {
            ValType::I64
        } else {
            ValType::I32
        }
    }

    /// The calls and global reads of a run, in the order the reference makes them.
    fn actions(plan: &Plan<'_>) -> Vec<Action> {
        let calls = plan.calls.iter().map(|call| {
            Action::Invoke(Call {
                export: call.export.clone(),
                params: call
                    .params
                    .iter()
                    .map(|a| match *a {
                        Arg::I32(v) => Val::I32(v as u32),
                        Arg::I64(v) => Val::I64(v as u64),
                    })
                    .collect(),
                results: call.result.map(harness_type).into_iter().collect(),
            })
        });
        let globals = plan
            .global_types
            .iter()
            .enumerate()
            .map(|(k, &ty)| Action::GetGlobal {
                export: format!("g{k}"),
                ty: harness_type(ty),
            });
        calls.chain(globals).collect()
    }

    fn call_result(outcome: &Outcome) -> CallResult {
        match outcome {
            Outcome::Returned(v) if v.is_empty() => CallResult::Returned(0),
            Outcome::Returned(v) if v.len() == 1 => match v[0] {
                Val::I32(x) => CallResult::Returned(x as u64),
                Val::I64(x) => CallResult::Returned(x),
                other => CallResult::Abnormal(format!("returned a non-integer value {other}")),
            },
            Outcome::Returned(v) => CallResult::Abnormal(format!("returned {} values", v.len())),
            Outcome::Trapped(code) => CallResult::Trapped(*code),
            Outcome::Fault(what) => CallResult::Abnormal(format!("fault: {what}")),
            Outcome::Timeout => CallResult::Abnormal("timeout".to_string()),
            Outcome::NotReached => CallResult::Abnormal("not reached".to_string()),
        }
    }

    /// Converts a harness report into an observation.
    pub fn observation_of(module: &GeneratedModule, report: &RunReport) -> Observation {
        observation_of_plan(&module.plan(), report)
    }

    /// Converts a harness report of a plan's run into an observation.
    pub fn observation_of_plan(plan: &Plan<'_>, report: &RunReport) -> Observation {
        let instantiate = match &report.instantiate_outcome {
            Outcome::Returned(v) if v == &[Val::I32(0)] => Ok(()),
            // `NAME_instantiate` returns the trap code of a failed data
            // segment instead of trapping.
            Outcome::Returned(v) => match v.as_slice() {
                [Val::I32(code)] if *code <= u8::MAX as u32 => {
                    Err(CallResult::Trapped(*code as u8))
                }
                _ => Err(CallResult::Abnormal(format!("instantiate returned {v:?}"))),
            },
            other => Err(call_result(other)),
        };
        if instantiate.is_err() {
            // Like the reference: no instance, nothing else to observe.
            return Observation {
                instantiate,
                calls: Vec::new(),
                globals: Vec::new(),
                memories: Vec::new(),
            };
        }
        let n = plan.calls.len();
        let calls = (0..n)
            .map(|i| {
                report
                    .outcomes
                    .get(i)
                    .map_or(CallResult::Abnormal("no outcome".into()), call_result)
            })
            .collect();
        // A global read that failed leaves the list short, which
        // `compare` reports.
        let mut globals = Vec::new();
        for (k, &ty) in plan.global_types.iter().enumerate() {
            match report.outcomes.get(n + k) {
                Some(Outcome::Returned(v)) if v.len() == 1 => match (v[0], ty) {
                    (Val::I32(x), wasm_encoder::ValType::I32) => globals.push(x as u64),
                    (Val::I64(x), wasm_encoder::ValType::I64) => globals.push(x),
                    _ => break,
                },
                _ => break,
            }
        }
        Observation {
            instantiate,
            calls,
            globals,
            memories: report.memories.clone(),
        }
    }

    /// Why a module could not be observed on QEMU.
    #[derive(Debug, Clone)]
    pub enum ObserveError {
        /// bulkhead refused the module (`Unsupported`: a known gap, which
        /// callers count separately; any other kind is a failure).
        Compile(bulkhead::ErrorKind, String),
        /// Assembling, linking or running the image failed.
        Harness(String),
    }

    impl fmt::Display for ObserveError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                ObserveError::Compile(kind, e) => {
                    write!(f, "bulkhead failed to compile the module ({kind:?}): {e}")
                }
                ObserveError::Harness(e) => write!(f, "the QEMU harness failed: {e}"),
            }
        }
    }

    /// Compiles `module` with bulkhead at `opt_level` and observes it on `board`.
    pub fn observe_qemu(
        module: &GeneratedModule,
        opt_level: u8,
        board: Board,
        timeout: Duration,
    ) -> Result<Observation, String> {
        observe_qemu_with(module, compile_options(opt_level, board), board, timeout)
    }

    /// [`observe_qemu`] with explicit compile options (which must target
    /// `board`'s core).
    pub fn observe_qemu_with(
        module: &GeneratedModule,
        options: bulkhead::Options,
        board: Board,
        timeout: Duration,
    ) -> Result<Observation, String> {
        observe_plan(&module.plan(), options, board, timeout).map_err(|e| e.to_string())
    }

    /// Compiles the plan's module with `options` (which must target
    /// `board`'s core) and observes it on `board`.
    pub fn observe_plan(
        plan: &Plan<'_>,
        options: bulkhead::Options,
        board: Board,
        timeout: Duration,
    ) -> Result<Observation, ObserveError> {
        let artifact = bulkhead::Compiler::new(options)
            .compile(plan.wasm)
            .map_err(|e| ObserveError::Compile(e.kind(), e.to_string()))?;
        let report = run_actions(&artifact, &actions(plan), board, timeout)
            .map_err(|e| ObserveError::Harness(e.to_string()))?;
        Ok(observation_of_plan(plan, &report))
    }

    /// Whether bulkhead compiles i64 code for `board` yet: compiles a small
    /// module using i64 arithmetic, division, extend/wrap, an i64 global and
    /// an i64 load and store. `Ok(false)` iff it is refused as unsupported;
    /// any other compile error is returned.
    pub fn compiler_accepts_i64(board: Board) -> Result<bool, String> {
        let wat = r#"(module
            (memory 1 1)
            (global $g (mut i64) (i64.const 0x1_0000_0001))
            (func (export "f") (param i64 i32) (result i64)
                (i64.store (i32.const 8) (i64.div_s (local.get 0) (i64.extend_i32_s (local.get 1))))
                (global.set $g (i64.add (global.get $g) (i64.load32_u (i32.const 8))))
                (i64.extend_i32_u (i32.wrap_i64 (global.get $g)))))"#;
        match bulkhead::Compiler::new(compile_options(2, board)).compile(wat.as_bytes()) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == bulkhead::ErrorKind::Unsupported => Ok(false),
            Err(e) => Err(format!(
                "the i64 probe module failed to compile ({:?}): {e}",
                e.kind()
            )),
        }
    }

    /// Where failing modules are saved: `target/difftest-failures` of the
    /// workspace.
    pub fn failure_dir() -> PathBuf {
        let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        // crates/testkit -> the workspace root.
        manifest
            .ancestors()
            .nth(2)
            .unwrap_or(manifest)
            .join("target/difftest-failures")
    }

    /// Generates the module of `seed`, observes it in wasmi and, at every
    /// level of `opt_levels`, on QEMU; returns every disagreement (at most
    /// one per level). Failing modules are saved under [`failure_dir`].
    pub fn check_seed(
        seed: u64,
        cfg: &GenConfig,
        opt_levels: &[u8],
        board: Board,
        timeout: Duration,
    ) -> Vec<Disagreement> {
        let module = generate(seed, cfg);
        check_module(seed, &module, opt_levels, board, timeout)
    }

    /// [`check_seed`] for an already generated module.
    pub fn check_module(
        seed: u64,
        module: &GeneratedModule,
        opt_levels: &[u8],
        board: Board,
        timeout: Duration,
    ) -> Vec<Disagreement> {
        // A module bulkhead refuses, even as unsupported, is a failure here:
        // the generator only emits what bulkhead must compile.
        let plan = module.plan();
        check_plan(seed, &plan, opt_levels, board, timeout).unsupported_as_failures(seed, &plan)
    }

    /// What [`check_plan`] found.
    #[derive(Debug, Default)]
    pub struct PlanCheck {
        /// Disagreements and failures (any compile error other than
        /// `Unsupported`, harness errors, reference errors).
        pub disagreements: Vec<Disagreement>,
        /// Levels at which bulkhead refused the module as unsupported, with
        /// the message: neither a pass nor a disagreement.
        pub unsupported: Vec<(u8, String)>,
    }

    impl PlanCheck {
        /// The disagreements, plus one for every level at which bulkhead
        /// refused the module as unsupported (for generators that only
        /// emit what bulkhead must compile).
        pub fn unsupported_as_failures(self, seed: u64, plan: &Plan<'_>) -> Vec<Disagreement> {
            let mut out = self.disagreements;
            for (level, e) in self.unsupported {
                out.push(disagreement(
                    seed,
                    Some(level),
                    plan,
                    vec![format!("bulkhead refused the module as unsupported: {e}")],
                    None,
                    None,
                ));
            }
            out
        }
    }

    /// Observes the plan in wasmi and, at every level of `opt_levels`, on
    /// QEMU, and compares. Failing modules are saved under [`failure_dir`].
    pub fn check_plan(
        seed: u64,
        plan: &Plan<'_>,
        opt_levels: &[u8],
        board: Board,
        timeout: Duration,
    ) -> PlanCheck {
        let mut out = PlanCheck::default();
        let reference = match reference_plan(plan) {
            Ok(r) => r,
            Err(e) => {
                out.disagreements.push(disagreement(
                    seed,
                    None,
                    plan,
                    vec![format!("reference: {e}")],
                    None,
                    None,
                ));
                return out;
            }
        };
        for &level in opt_levels {
            match observe_plan(plan, compile_options(level, board), board, timeout) {
                Ok(actual) => {
                    let diffs = compare(&reference, &actual);
                    if !diffs.is_empty() {
                        out.disagreements.push(disagreement(
                            seed,
                            Some(level),
                            plan,
                            diffs,
                            Some(reference.clone()),
                            Some(actual),
                        ));
                    }
                }
                Err(ObserveError::Compile(bulkhead::ErrorKind::Unsupported, e)) => {
                    out.unsupported.push((level, e))
                }
                Err(e) => out.disagreements.push(disagreement(
                    seed,
                    Some(level),
                    plan,
                    vec![e.to_string()],
                    Some(reference.clone()),
                    None,
                )),
            }
        }
        out
    }

    /// Linear memory one image of a batch may reserve: half the board's
    /// PSRAM, leaving room for alignment padding.
    fn batch_memory_budget(board: Board) -> u64 {
        board.linear_memory_budget() / 2
    }

    /// Bytes a module's memories reserve (declared maximum, else minimum,
    /// rounded up to a power of two for alignment).
    fn reservation_bytes(wasm: &[u8]) -> u64 {
        let mut total = 0u64;
        for payload in wasmparser::Parser::new(0).parse_all(wasm) {
            if let Ok(wasmparser::Payload::MemorySection(reader)) = payload {
                for mem in reader.into_iter().flatten() {
                    let pages = mem.maximum.unwrap_or(mem.initial);
                    let bytes = pages.saturating_mul(1 << mem.page_size_log2.unwrap_or(16));
                    total = total.saturating_add(bytes.max(1).next_power_of_two());
                }
            }
        }
        total
    }

    /// [`check_plan`] for several plans at once, with far fewer QEMU
    /// boots: at each level the modules (compiled under the names `d0`,
    /// `d1`, ...) are linked into as few images as their memories allow and
    /// run one after the other in one boot, each on its own instance. Any
    /// difference is confirmed by running that module alone (the result
    /// reported is the solo run's, so a module cannot be blamed for
    /// another's wild store), and a hung or failed batch falls back to solo
    /// runs. One [`PlanCheck`] per plan, in order.
    pub fn check_plans_batched(
        plans: &[(u64, Plan<'_>)],
        opt_levels: &[u8],
        board: Board,
        timeout: Duration,
    ) -> Vec<PlanCheck> {
        let mut checks: Vec<PlanCheck> = plans.iter().map(|_| PlanCheck::default()).collect();
        let mut references: Vec<Option<Observation>> = Vec::new();
        for (i, (seed, plan)) in plans.iter().enumerate() {
            references.push(match reference_plan(plan) {
                Ok(r) => Some(r),
                Err(e) => {
                    checks[i].disagreements.push(disagreement(
                        *seed,
                        None,
                        plan,
                        vec![format!("reference: {e}")],
                        None,
                        None,
                    ));
                    None
                }
            });
        }
        for &level in opt_levels {
            // Compile every plan that has a reference observation.
            let mut compiled: Vec<(usize, bulkhead::Artifact)> = Vec::new();
            for (i, (seed, plan)) in plans.iter().enumerate() {
                let Some(reference) = &references[i] else {
                    continue;
                };
                let options = bulkhead::Options {
                    name: format!("d{i}"),
                    ..compile_options(level, board)
                };
                match bulkhead::Compiler::new(options).compile(plan.wasm) {
                    Ok(artifact) => compiled.push((i, artifact)),
                    Err(e) if e.kind() == bulkhead::ErrorKind::Unsupported => {
                        checks[i].unsupported.push((level, e.to_string()))
                    }
                    Err(e) => checks[i].disagreements.push(disagreement(
                        *seed,
                        Some(level),
                        plan,
                        vec![ObserveError::Compile(e.kind(), e.to_string()).to_string()],
                        Some(reference.clone()),
                        None,
                    )),
                }
            }
            // Group into images within the memory budget.
            let mut groups: Vec<Vec<usize>> = Vec::new();
            let mut used = u64::MAX;
            for (k, (i, _)) in compiled.iter().enumerate() {
                let need = reservation_bytes(plans[*i].1.wasm);
                if used.saturating_add(need) > batch_memory_budget(board) {
                    groups.push(Vec::new());
                    used = 0;
                }
                used = used.saturating_add(need);
                if let Some(g) = groups.last_mut() {
                    g.push(k);
                }
            }
            for group in groups {
                let observed = run_group(plans, &compiled, &group, board, timeout);
                for (&k, batched) in group.iter().zip(observed) {
                    let i = compiled[k].0;
                    let (seed, plan) = &plans[i];
                    let Some(reference) = &references[i] else {
                        continue;
                    };
                    if let Some(actual) = &batched {
                        if compare(reference, actual).is_empty() {
                            continue;
                        }
                    }
                    // A difference, or no usable batched result: the solo
                    // run decides.
                    match observe_plan(plan, compile_options(level, board), board, timeout) {
                        Ok(actual) => {
                            let diffs = compare(reference, &actual);
                            if !diffs.is_empty() {
                                checks[i].disagreements.push(disagreement(
                                    *seed,
                                    Some(level),
                                    plan,
                                    diffs,
                                    Some(reference.clone()),
                                    Some(actual),
                                ));
                            } else if batched.is_some() {
                                // Agrees alone but not in the batch: another
                                // module's code reached into this one's state.
                                checks[i].disagreements.push(disagreement(
                                    *seed,
                                    Some(level),
                                    plan,
                                    vec![format!(
                                        "agrees when run alone but not when linked with other modules \
                                         (batch observation:\n{})",
                                        batched.as_ref().map(|o| o.to_string()).unwrap_or_default()
                                    )],
                                    Some(reference.clone()),
                                    batched.clone(),
                                ));
                            }
                        }
                        Err(ObserveError::Compile(bulkhead::ErrorKind::Unsupported, e)) => {
                            checks[i].unsupported.push((level, e))
                        }
                        Err(e) => checks[i].disagreements.push(disagreement(
                            *seed,
                            Some(level),
                            plan,
                            vec![e.to_string()],
                            Some(reference.clone()),
                            None,
                        )),
                    }
                }
            }
        }
        checks
    }

    /// Runs the compiled modules `group` (indices into `compiled`) in one
    /// image; per module its observation, `None` where the batch cannot
    /// tell (the image failed to build or run, or the guest hung).
    fn run_group(
        plans: &[(u64, Plan<'_>)],
        compiled: &[(usize, bulkhead::Artifact)],
        group: &[usize],
        board: Board,
        timeout: Duration,
    ) -> Vec<Option<Observation>> {
        let modules: Vec<ObjectModule<'_>> = group
            .iter()
            .map(|&k| {
                let artifact = &compiled[k].1;
                ObjectModule {
                    object: &artifact.object,
                    name: artifact.symbols.module(),
                    num_memories: artifact.env.memories.len() as u32,
                }
            })
            .collect();
        let mut steps = Vec::new();
        let mut ranges = Vec::new();
        for (j, &k) in group.iter().enumerate() {
            let start = steps.len();
            steps.push(Step::Instantiate(j));
            steps.extend(
                actions(&plans[compiled[k].0].1)
                    .into_iter()
                    .map(|a| Step::Act(j, a)),
            );
            ranges.push(start..steps.len());
        }
        // The whole batch gets the time of all its modules.
        let budget = timeout.saturating_mul(group.len().max(1) as u32);
        let report = match run_linked(&modules, &steps, board, budget) {
            Ok(r) if !r.outcomes.iter().any(|o| *o == Outcome::Timeout) => r,
            _ => return group.iter().map(|_| None).collect(),
        };
        group
            .iter()
            .enumerate()
            .map(|(j, &k)| {
                let outcomes = report.outcomes.get(ranges[j].clone())?;
                let (first, rest) = outcomes.split_first()?;
                let single = RunReport {
                    instantiate: Ok(()),
                    instantiate_outcome: first.clone(),
                    outcomes: rest.to_vec(),
                    memories: report.memories.get(j).cloned().unwrap_or_default(),
                    log: String::new(),
                    build_time: Duration::ZERO,
                    run_time: Duration::ZERO,
                };
                Some(observation_of_plan(&plans[compiled[k].0].1, &single))
            })
            .collect()
    }

    fn disagreement(
        seed: u64,
        opt_level: Option<u8>,
        plan: &Plan<'_>,
        differences: Vec<String>,
        reference: Option<Observation>,
        actual: Option<Observation>,
    ) -> Disagreement {
        let dir = failure_dir();
        let path = dir.join(format!("{seed:#x}.wasm"));
        let wasm_path = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&path, plan.wasm))
            .ok()
            .map(|()| path);
        Disagreement {
            seed,
            opt_level,
            differences,
            reference,
            actual,
            wat: wasmprinter::print_bytes(plan.wasm)
                .unwrap_or_else(|e| format!("(wasmprinter failed: {e})")),
            wasm_path,
            calls: describe_calls(plan),
        }
    }

    /// The calls of a plan: `a,b;c,d` (the `BULKHEAD_DIFF_CALLS` syntax)
    /// when all go to `run`, otherwise `export(args) ...`.
    fn describe_calls(plan: &Plan<'_>) -> String {
        let show = |a: &Arg| match a {
            Arg::I32(v) => v.to_string(),
            Arg::I64(v) => format!("{v}i64"),
        };
        let only_run = plan.calls.iter().all(|c| {
            c.export == ENTRY_EXPORT
                && c.params.len() == 2
                && c.params.iter().all(|a| matches!(a, Arg::I32(_)))
        });
        let calls: Vec<String> = plan
            .calls
            .iter()
            .map(|c| {
                let args: Vec<String> = c.params.iter().map(show).collect();
                if only_run {
                    args.join(",")
                } else {
                    format!("{}({})", c.export, args.join(", "))
                }
            })
            .collect();
        if only_run {
            format!("calls of run (BULKHEAD_DIFF_CALLS): {}", calls.join(";"))
        } else {
            format!("calls: {}", calls.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference runs every generated module, and the programs are not
    /// degenerate: most calls return normally, and traps of several kinds
    /// and failed instantiations also occur.
    #[test]
    fn reference_runs_generated_modules_with_a_useful_mix_of_outcomes() {
        let cfg = GenConfig::default();
        let (mut returned, mut trapped, mut inst_failed, mut total) = (0, 0, 0, 0);
        // Calls that returned normally in modules with all 8 memories.
        let mut returned_with_8_memories = 0;
        let mut codes = std::collections::BTreeMap::new();
        let mut bytes = 0;
        for seed in 0..300 {
            let m = generate(seed, &cfg);
            bytes += m.wasm.len();
            let obs = reference(&m).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            if obs.instantiate.is_err() {
                inst_failed += 1;
            }
            for c in &obs.calls {
                total += 1;
                match c {
                    CallResult::Returned(_) => {
                        returned += 1;
                        returned_with_8_memories += (m.memories.len() == 8) as u32;
                    }
                    CallResult::Trapped(code) => {
                        trapped += 1;
                        *codes.entry(*code).or_insert(0) += 1;
                    }
                    CallResult::Abnormal(w) => panic!("seed {seed}: reference reported {w}"),
                }
            }
        }
        eprintln!(
            "{total} calls: {returned} returned, {trapped} trapped {codes:?}; {inst_failed} failed instantiations; \
             {} bytes of wasm per module on average",
            bytes / 300
        );
        assert!(
            returned * 100 >= total * 40,
            "too few calls return normally"
        );
        assert!(trapped * 100 >= total * 5, "too few calls trap");
        assert!(codes.len() >= 3, "too few kinds of traps: {codes:?}");
        assert!(
            inst_failed > 0 && inst_failed < 30,
            "{inst_failed} of 300 instantiations failed"
        );
        assert!(
            returned_with_8_memories >= 40,
            "only {returned_with_8_memories} calls returned in modules with 8 memories"
        );
    }

    /// i64 generation on its own, independent of the backend: modules with
    /// i64 locals, globals, params/results and operators validate and run
    /// in wasmi, which observes the i64 globals as i64s.
    #[test]
    fn i64_modules_validate_and_run_in_wasmi() {
        let cfg = GenConfig {
            i64: true,
            ..GenConfig::default()
        };
        let (mut with_i64, mut i64_globals_read) = (0, 0);
        for seed in 0..200 {
            let m = generate(seed, &cfg);
            wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
                .validate_all(&m.wasm)
                .unwrap_or_else(|e| panic!("seed {seed}: invalid module: {e}"));
            if coverage::uses_i64(&m.wasm).unwrap() {
                with_i64 += 1;
            }
            let obs = reference(&m).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            if obs.instantiate.is_ok() {
                for (k, ty) in m.global_types.iter().enumerate() {
                    if *ty == wasm_encoder::ValType::I64 {
                        i64_globals_read += 1;
                        assert!(
                            k < obs.globals.len(),
                            "seed {seed}: global g{k} not observed"
                        );
                    }
                }
            }
        }
        assert!(with_i64 >= 190, "only {with_i64} of 200 modules use i64");
        assert!(
            i64_globals_read >= 50,
            "only {i64_globals_read} i64 globals observed"
        );
    }

    /// wasmi 2.0.0 evaluates `select(a, b, i32.eqz(c))` (and `c == 0`,
    /// `c != 0`) wrongly; the generator avoids the pattern (see
    /// `gen.rs`, the `select` case). When this test fails, wasmi is fixed:
    /// remove the workaround and this test.
    #[test]
    fn wasmi_select_of_eqz_is_still_wrong() {
        let wat = r#"(module
            (global (export "g0") (mut i32) (i32.const 0x12345678))
            (func (export "run") (param i32 i32) (result i32)
                (select (global.get 0) (local.get 0) (i32.eqz (local.get 1)))))"#;
        let wasm = wat::parse_str(wat).unwrap();
        let module = GeneratedModule::from_wasm(wasm, vec![[5, 0], [5, 1]]).unwrap();
        let obs = reference(&module).unwrap();
        // The spec: b == 0 selects the global, b != 0 selects a.
        let correct = [CallResult::Returned(0x12345678), CallResult::Returned(5)];
        assert_ne!(
            obs.calls, correct,
            "wasmi now gets select(eqz) right: remove the generator's workaround"
        );
    }

    /// [`compare`] notices every kind of difference (the differential test
    /// relies on it; this is its self-check).
    #[test]
    fn compare_catches_each_kind_of_corruption() {
        let m = generate(7, &GenConfig::default());
        let good = reference(&m).unwrap();
        assert!(compare(&good, &good).is_empty());
        let mut corruptions: Vec<Observation> = Vec::new();
        let mut o = good.clone();
        o.instantiate = Err(CallResult::Trapped(2));
        corruptions.push(o);
        for i in 0..good.calls.len() {
            let mut o = good.clone();
            o.calls[i] = match &o.calls[i] {
                CallResult::Returned(v) => CallResult::Returned(v ^ 1),
                CallResult::Trapped(c) => CallResult::Trapped(c + 1),
                CallResult::Abnormal(_) => CallResult::Returned(0),
            };
            corruptions.push(o);
            let mut o = good.clone();
            o.calls[i] = CallResult::Abnormal("fault".into());
            corruptions.push(o);
        }
        let mut o = good.clone();
        o.calls.pop();
        corruptions.push(o);
        let mut o = good.clone();
        o.globals.push(0);
        corruptions.push(o);
        for k in 0..good.memories.len() {
            let mut o = good.clone();
            o.memories[k].0 += 1;
            corruptions.push(o);
            let mut o = good.clone();
            o.memories[k].1 ^= 1 << 40;
            corruptions.push(o);
        }
        let mut o = good.clone();
        o.memories.pop();
        corruptions.push(o);
        for (i, bad) in corruptions.iter().enumerate() {
            assert!(
                !compare(&good, bad).is_empty(),
                "corruption {i} not caught: {bad:?}"
            );
        }
    }
}

#[cfg(test)]
mod print {
    /// `BULKHEAD_DIFF_PRINT=<seed> cargo test -p bulkhead-testkit --lib print_module -- --ignored --nocapture`
    /// prints the module of a seed in the text format.
    #[test]
    #[ignore]
    fn print_module() {
        let seed = std::env::var("BULKHEAD_DIFF_PRINT").expect("set BULKHEAD_DIFF_PRINT to a seed");
        let seed = super::parse_seed(&seed).expect("a seed (decimal or 0x hex)");
        let module = super::generate(seed, &super::GenConfig::default());
        let calls: Vec<String> = module
            .calls
            .iter()
            .map(|[a, b]| format!("{a},{b}"))
            .collect();
        println!(";; calls of run (BULKHEAD_DIFF_CALLS): {}", calls.join(";"));
        println!("{}", super::module_text(&module));
    }
}

impl GeneratedModule {
    /// Wraps a hand-written (e.g. minimized) module for [`reference`] and
    /// `check_module`: it must export `run: (i32, i32) -> i32`; its
    /// memories are observed through exports `mem0, mem1, ...` and its
    /// globals through `g0, g1, ...` (as many of each as are exported).
    pub fn from_wasm(wasm: Vec<u8>, calls: Vec<[i32; 2]>) -> Result<GeneratedModule, String> {
        let mut memories = Vec::new();
        let mut exports = Vec::new();
        let mut all_global_types = Vec::new();
        for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
            match payload.map_err(|e| format!("invalid module: {e}"))? {
                wasmparser::Payload::MemorySection(reader) => {
                    for mem in reader {
                        let mem = mem.map_err(|e| format!("invalid memory: {e}"))?;
                        let log2 = mem.page_size_log2.unwrap_or(16);
                        memories.push(MemorySpec {
                            page_size_log2: log2,
                            min_pages: mem.initial,
                            max_pages: mem.maximum.unwrap_or(mem.initial),
                        });
                    }
                }
                wasmparser::Payload::GlobalSection(reader) => {
                    for g in reader {
                        let g = g.map_err(|e| format!("invalid global: {e}"))?;
                        all_global_types.push(match g.ty.content_type {
                            wasmparser::ValType::I32 => wasm_encoder::ValType::I32,
                            wasmparser::ValType::I64 => wasm_encoder::ValType::I64,
                            other => return Err(format!("global of unsupported type {other}")),
                        });
                    }
                }
                wasmparser::Payload::ExportSection(reader) => {
                    for e in reader {
                        exports.push(
                            e.map_err(|e| format!("invalid export: {e}"))?
                                .name
                                .to_string(),
                        );
                    }
                }
                _ => {}
            }
        }
        let count = |prefix: &str| {
            (0u32..)
                .take_while(|k| exports.iter().any(|e| *e == format!("{prefix}{k}")))
                .count()
        };
        memories.truncate(count("mem"));
        // Exported globals `gK` are assumed to be global K (no imports).
        all_global_types.truncate(count("g"));
        let global_types = all_global_types;
        Ok(GeneratedModule {
            wasm,
            memories,
            global_types,
            calls,
        })
    }
}

/// Parses a seed written in decimal or as `0x` hex.
pub fn parse_seed(text: &str) -> Option<u64> {
    let t = text.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => t.parse().ok(),
    }
}
