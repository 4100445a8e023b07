//! Differential testing: random multi-memory programs run in wasmi (the
//! reference interpreter) and, compiled by bulkhead, in QEMU; results, traps,
//! every exported global and every memory's size and contents must agree.
//!
//! [`reference`] observes a [`GeneratedModule`] in wasmi, [`observe_qemu`]
//! compiles it with bulkhead and observes it on a QEMU board, [`compare`]
//! lists the differences and [`check_module`] does all three, returning a
//! [`Disagreement`] (seed, module text, both observations) on mismatch.

pub mod gen;

pub use gen::{generate, GenConfig, GeneratedModule, MemorySpec, Rng, ENTRY_EXPORT};

use std::fmt;

use crate::qemu::fnv1a64;

/// What one call (or the instantiation) did, in terms both sides can produce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallResult {
    Returned(u32),
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
            CallResult::Returned(v) => write!(f, "returned {v:#x} ({})", *v as i32),
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
    /// Values of the exported globals `g0, g1, ...` after the last call.
    pub globals: Vec<u32>,
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

/// Native stack for running wasmi: some generated modules need more than
/// a test thread's default 2 MiB (wasmi recurses natively on them).
const REFERENCE_STACK_BYTES: usize = 256 << 20;

/// Runs the module in wasmi (on a thread of its own with a large stack).
pub fn reference(module: &GeneratedModule) -> Result<Observation, String> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("wasmi-reference".into())
            .stack_size(REFERENCE_STACK_BYTES)
            .spawn_scoped(scope, || reference_on_this_thread(module))
            .map_err(|e| format!("cannot start the reference thread: {e}"))?
            .join()
            .map_err(|_| "the reference (wasmi) panicked".to_string())?
    })
}

fn reference_on_this_thread(module: &GeneratedModule) -> Result<Observation, String> {
    use wasmi::{Config, Engine, Linker, Module, Store};
    let mut config = Config::default();
    config.wasm_multi_memory(true).wasm_custom_page_sizes(true);
    let engine = Engine::new(&config);
    let wasm_module = Module::new(&engine, &module.wasm[..])
        .map_err(|e| format!("wasmi rejected the module: {e}"))?;
    let mut store = Store::new(&engine, ());
    let linker = <Linker<()>>::new(&engine);
    let instance = match linker.instantiate_and_start(&mut store, &wasm_module) {
        Ok(instance) => instance,
        Err(e) => {
            let code = e
                .as_trap_code()
                .map(trap_code_of)
                .ok_or_else(|| format!("wasmi instantiation failed: {e}"))?;
            return Ok(Observation {
                instantiate: Err(CallResult::Trapped(code)),
                calls: Vec::new(),
                globals: Vec::new(),
                memories: Vec::new(),
            });
        }
    };
    let run = instance
        .get_typed_func::<(i32, i32), i32>(&store, ENTRY_EXPORT)
        .map_err(|e| format!("no `{ENTRY_EXPORT}` export: {e}"))?;
    let mut calls = Vec::new();
    for &[a, b] in &module.calls {
        calls.push(match run.call(&mut store, (a, b)) {
            Ok(r) => CallResult::Returned(r as u32),
            Err(e) => CallResult::Trapped(
                e.as_trap_code()
                    .map(trap_code_of)
                    .ok_or_else(|| format!("wasmi call failed without a trap: {e}"))?,
            ),
        });
    }
    let globals = (0..module.num_globals)
        .map(|k| {
            let global = instance
                .get_global(&store, &format!("g{k}"))
                .ok_or_else(|| format!("global g{k} not exported"))?;
            match global.get(&store) {
                wasmi::Val::I32(v) => Ok(v as u32),
                other => Err(format!("global g{k} is not an i32: {other:?}")),
            }
        })
        .collect::<Result<Vec<_>, String>>()?;
    let memories = (0..module.memories.len())
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
    /// The calls of `run`, in order on one instance.
    pub calls: Vec<[i32; 2]>,
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
        let calls: Vec<String> = self.calls.iter().map(|[a, b]| format!("{a},{b}")).collect();
        writeln!(f, "calls of run (BULKHEAD_DIFF_CALLS): {}", calls.join(";"))?;
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
    use crate::qemu::{run_actions, Action, Board, Call, Outcome, RunReport, Val, ValType};

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

    /// The calls and global reads of a run, in the order the reference makes them.
    fn actions(module: &GeneratedModule) -> Vec<Action> {
        let calls = module.calls.iter().map(|&[a, b]| {
            Action::Invoke(Call {
                export: ENTRY_EXPORT.to_string(),
                params: vec![Val::I32(a as u32), Val::I32(b as u32)],
                results: vec![ValType::I32],
            })
        });
        let globals = (0..module.num_globals).map(|k| Action::GetGlobal {
            export: format!("g{k}"),
            ty: ValType::I32,
        });
        calls.chain(globals).collect()
    }

    fn call_result(outcome: &Outcome) -> CallResult {
        match outcome {
            Outcome::Returned(v) if v.len() == 1 => match v[0] {
                Val::I32(x) => CallResult::Returned(x),
                other => CallResult::Abnormal(format!("returned a non-i32 value {other}")),
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
        let n = module.calls.len();
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
        for k in 0..module.num_globals as usize {
            match report.outcomes.get(n + k) {
                Some(Outcome::Returned(v)) if v.len() == 1 => match v[0] {
                    Val::I32(x) => globals.push(x),
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
        let artifact = bulkhead::Compiler::new(options)
            .compile(&module.wasm)
            .map_err(|e| format!("bulkhead failed to compile the module: {e}"))?;
        let report = run_actions(&artifact, &actions(module), board, timeout)
            .map_err(|e| format!("the QEMU harness failed: {e}"))?;
        Ok(observation_of(module, &report))
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
        let reference = match reference(module) {
            Ok(r) => r,
            Err(e) => {
                return vec![disagreement(
                    seed,
                    None,
                    module,
                    vec![format!("reference: {e}")],
                    None,
                    None,
                )]
            }
        };
        let mut out = Vec::new();
        for &level in opt_levels {
            match observe_qemu(module, level, board, timeout) {
                Ok(actual) => {
                    let diffs = compare(&reference, &actual);
                    if !diffs.is_empty() {
                        out.push(disagreement(
                            seed,
                            Some(level),
                            module,
                            diffs,
                            Some(reference.clone()),
                            Some(actual),
                        ));
                    }
                }
                Err(e) => out.push(disagreement(
                    seed,
                    Some(level),
                    module,
                    vec![e],
                    Some(reference.clone()),
                    None,
                )),
            }
        }
        out
    }

    fn disagreement(
        seed: u64,
        opt_level: Option<u8>,
        module: &GeneratedModule,
        differences: Vec<String>,
        reference: Option<Observation>,
        actual: Option<Observation>,
    ) -> Disagreement {
        let dir = failure_dir();
        let path = dir.join(format!("{seed:#x}.wasm"));
        let wasm_path = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&path, &module.wasm))
            .ok()
            .map(|()| path);
        Disagreement {
            seed,
            opt_level,
            differences,
            reference,
            actual,
            wat: module_text(module),
            wasm_path,
            calls: module.calls.clone(),
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
                    CallResult::Returned(_) => returned += 1,
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
        assert_ne!(obs.calls, correct, "wasmi now gets select(eqz) right: remove the generator's workaround");
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
        let calls: Vec<String> = module.calls.iter().map(|[a, b]| format!("{a},{b}")).collect();
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
        let num_globals = count("g") as u32;
        Ok(GeneratedModule {
            wasm,
            memories,
            num_globals,
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
