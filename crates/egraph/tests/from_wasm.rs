//! End-to-end checks on IR made by the wasm frontend: wasm modules (the
//! spec test suite's, and random ones from wasm-smith restricted to what the
//! frontend translates) are translated, every function is optimized, and
//! functions are run before and after optimization under the IR
//! interpreter, calls included, each from a freshly instantiated state.
//! Results, traps, memories and globals must agree.

use arbitrary::Unstructured;
use bulkhead_egraph::{optimize, EgraphOptions};
use bulkhead_ir::interp::{self, Host, InterpError, Memories, State, Tables, Val};
use bulkhead_ir::{FuncIdx, Function, Type};
use bulkhead_wasm::{TranslateOptions, Translation};
use wasm_smith::{Config, InstructionKind, InstructionKinds};

/// Instructions per call; calls per top-level run.
const FUEL: u64 = 20_000;
const MAX_CALLS: u32 = 2_000;

/// All numeric operators, floats and conversions included; wasm-smith's
/// NaN canonicalization is off: both sides run under the IR's own
/// (deterministic) semantics, so any NaN must come out with the same bits.
fn config() -> Config {
    Config {
        allow_floats: true,
        simd_enabled: false,
        relaxed_simd_enabled: false,
        gc_enabled: false,
        exceptions_enabled: false,
        reference_types_enabled: false,
        threads_enabled: false,
        memory64_enabled: false,
        tail_call_enabled: false,
        wide_arithmetic_enabled: false,
        saturating_float_to_int_enabled: true,
        compact_imports_enabled: false,
        custom_page_sizes_enabled: true,
        max_memories: 3,
        max_tables: 0,
        max_imports: 0,
        max_memory32_bytes: 1 << 17,
        memory_max_size_required: true,
        export_everything: true,
        min_funcs: 1,
        max_funcs: 6,
        max_instructions: 60,
        max_data_segments: 4,
        max_element_segments: 0,
        allowed_instructions: InstructionKinds::new(&[
            InstructionKind::Numeric,
            InstructionKind::Parametric,
            InstructionKind::Variable,
            InstructionKind::Memory,
            InstructionKind::Control,
        ]),
        ..Config::default()
    }
}

/// Runs calls by interpreting the module's own functions.
struct ModuleHost<'a> {
    functions: &'a [Function],
    num_imported: u32,
    calls: u32,
    depth: u32,
}

impl Host for ModuleHost<'_> {
    fn call(&mut self, func: FuncIdx, args: &[Val], state: &mut State) -> Result<Vec<Val>, InterpError> {
        self.calls += 1;
        if self.calls > MAX_CALLS || self.depth > 40 {
            return Err(InterpError::OutOfFuel);
        }
        let Some(f) = func.0.checked_sub(self.num_imported).and_then(|i| self.functions.get(i as usize)) else {
            return Err(InterpError::Fault(format!("call to {func}, not a defined function")));
        };
        self.depth += 1;
        let r = interp::run(f, args, state, self, FUEL);
        self.depth -= 1;
        r
    }
}

/// Tables reserved as declared; a type id per structurally distinct
/// signature (like the linker-merged `__bulkhead_type_*` symbols).
fn tables(tr: &Translation) -> Tables {
    let env = &tr.env;
    let id = |sig: &bulkhead_ir::Signature| env.types.iter().position(|t| t == sig).unwrap_or(usize::MAX) as u32;
    Tables {
        entries: env.tables.iter().map(|t| vec![0; t.reserved_entries as usize]).collect(),
        sizes: vec![0; env.tables.len()],
        func_type_ids: env.funcs.iter().map(|f| id(&f.sig)).collect(),
        sig_type_ids: env.types.iter().map(id).collect(),
    }
}

fn fresh_state(tr: &Translation) -> State {
    let mems: Vec<(usize, u64)> = tr.env.memories.iter().map(|m| (m.reserved_bytes as usize, 0)).collect();
    State {
        memories: Memories::new(&mems),
        globals: tr.env.globals.iter().map(|g| Val::zero(g.ty)).collect(),
        data: tr.env.data.iter().map(|d| d.bytes.clone()).collect(),
        tables: tables(tr),
    }
}

/// Instantiates, then calls `func` (a module function index).
fn run(tr: &Translation, functions: &[Function], func: u32, args: &[Val]) -> (Result<Vec<Val>, InterpError>, State) {
    let mut state = fresh_state(tr);
    let mut host = ModuleHost { functions, num_imported: tr.env.num_imported_funcs, calls: 0, depth: 0 };
    match interp::run(&tr.instantiate, &[], &mut state, &mut host, FUEL) {
        Ok(r) if r == vec![Val::I32(0)] => {}
        other => return (other.map(|_| Vec::new()), state),
    }
    let r = host.call(FuncIdx(func), args, &mut state);
    (r, state)
}

/// What the optimizer did to a set of modules.
#[derive(Default)]
struct Totals {
    shrunk: usize,
    insts_before: usize,
    insts_after: usize,
    checks_removed: usize,
    checks_kept: usize,
    loads_replaced: usize,
}

impl std::fmt::Display for Totals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} functions shrunk, instructions {} -> {}, bounds checks {} kept, {} removed, {} loads replaced",
            self.shrunk,
            self.insts_before,
            self.insts_after,
            self.checks_kept,
            self.checks_removed,
            self.loads_replaced
        )
    }
}

/// Optimizes every function, with the module's defined memories' minimum
/// sizes as known lower bounds (functions run after `instantiate`, which
/// sets every defined memory to its minimum; an imported memory's size is
/// its owner's business, and the tests leave it at 0). Each function must
/// verify and the rewriting must saturate. Returns the optimized functions.
fn optimize_all(tr: &Translation, totals: &mut Totals) -> Vec<Function> {
    let memory_min_bytes = tr.env.memories.iter().map(|m| if m.import.is_none() { m.min_bytes() } else { 0 }).collect();
    let opts = EgraphOptions { memory_min_bytes, ..EgraphOptions::default() };
    tr.functions
        .iter()
        .map(|f| {
            let (g, stats) = optimize(f, &opts);
            if let Err(e) = bulkhead_ir::verify(&g) {
                panic!("{e}\noriginal:\n{f}\noptimized:\n{g}");
            }
            assert_eq!(stats.limit_hit, None, "{stats}\n{f}");
            totals.shrunk += (stats.insts_after < stats.insts_before) as usize;
            totals.insts_before += stats.insts_before;
            totals.insts_after += stats.insts_after;
            totals.checks_kept += stats.bounds_checks_kept;
            totals.checks_removed += stats.bounds_checks_removed;
            totals.loads_replaced += stats.loads_forwarded + stats.loads_merged;
            g
        })
        .collect()
}

/// Compares one call before and after optimization and returns the
/// optimized run's result; `None` when the original did not finish (fuel,
/// call depth, imports), so nothing was compared.
fn compare(tr: &Translation, optimized: &[Function], func: u32, args: &[Val]) -> Option<Result<Vec<Val>, InterpError>> {
    let (want, want_state) = run(tr, &tr.functions, func, args);
    if matches!(want, Err(InterpError::OutOfFuel | InterpError::Fault(_))) {
        return None;
    }
    let (got, got_state) = run(tr, optimized, func, args);
    let k = (func - tr.env.num_imported_funcs) as usize;
    assert!(
        got == want && got_state == want_state,
        "{}({args:?}): expected {want:?}, got {got:?} (states equal: {})\noriginal:\n{}\noptimized:\n{}",
        tr.functions[k].name,
        got_state == want_state,
        tr.functions[k],
        optimized[k]
    );
    Some(got)
}

/// Does `got` match a script's expected result? NaN patterns as the spec
/// defines them (canonical: only the quiet bit in the payload, either sign;
/// arithmetic: the quiet bit set).
fn spec_matches(expected: &wast::WastRet<'_>, got: Val) -> bool {
    use wast::core::{NanPattern, WastRetCore};
    match (expected, got) {
        (wast::WastRet::Core(WastRetCore::I32(x)), Val::I32(y)) => *x as u32 == y,
        (wast::WastRet::Core(WastRetCore::I64(x)), Val::I64(y)) => *x as u64 == y,
        (wast::WastRet::Core(WastRetCore::F32(p)), Val::F32(y)) => match p {
            NanPattern::Value(x) => x.bits == y,
            NanPattern::CanonicalNan => y & 0x7fff_ffff == 0x7fc0_0000,
            NanPattern::ArithmeticNan => y & 0x7fc0_0000 == 0x7fc0_0000,
        },
        (wast::WastRet::Core(WastRetCore::F64(p)), Val::F64(y)) => match p {
            NanPattern::Value(x) => x.bits == y,
            NanPattern::CanonicalNan => y & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
            NanPattern::ArithmeticNan => y & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
        },
        _ => false,
    }
}

/// Scripts whose expected values the optimized code is checked against:
/// integer and float arithmetic and conversions, in functions that depend
/// on their arguments only (every call here starts from a freshly
/// instantiated state, so scripts that set up memory in one call and read
/// it in the next are compared before/after optimization only).
const NUMERIC_SCRIPTS: &[&str] = &[
    "core/i32.wast",
    "core/i64.wast",
    "core/f32.wast",
    "core/f64.wast",
    "core/f32_bitwise.wast",
    "core/f64_bitwise.wast",
    "core/f32_cmp.wast",
    "core/f64_cmp.wast",
    "core/conversions.wast",
    "core/float_misc.wast",
    "core/float_literals.wast",
    "core/int_exprs.wast",
    "core/int_literals.wast",
    "core/const.wast",
];

#[test]
fn spec_suite_functions_behave_like_the_originals() {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(check_spec_suite)
        .unwrap()
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
}

fn check_spec_suite() {
    // scripts/test.sh sets BULKHEAD_SPEC_DIR; by default the suite sits next
    // to the repository (../shared), as on CI.
    let root = std::env::var_os("BULKHEAD_SPEC_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/spec-testsuite"));
    let mut files: Vec<_> = ["core", "custom-page-sizes"]
        .iter()
        .filter_map(|dir| std::fs::read_dir(root.join(dir)).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wast"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "spec test suite not found under {} (set BULKHEAD_SPEC_DIR)", root.display());
    let (mut modules, mut compared, mut totals) = (0, 0, Totals::default());
    let mut checked_against_spec = 0usize;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let Ok(buf) = wast::parser::ParseBuffer::new(&text) else { continue };
        let Ok(script) = wast::parser::parse::<wast::Wast>(&buf) else { continue };
        let mut current: Option<(Translation, Vec<Function>)> = None;
        for directive in script.directives {
            use wast::{WastDirective as D, WastExecute as E};
            let (invoke, expected) = match directive {
                D::Module(mut quoted) => {
                    current = quoted
                        .encode()
                        .ok()
                        .and_then(|wasm| bulkhead_wasm::translate(&wasm, &TranslateOptions::default()).ok())
                        .map(|tr| {
                            let optimized = optimize_all(&tr, &mut totals);
                            modules += 1;
                            (tr, optimized)
                        });
                    continue;
                }
                D::Invoke(invoke) => (invoke, None),
                D::AssertReturn { exec: E::Invoke(invoke), results, .. } => (invoke, Some(results)),
                D::AssertTrap { exec: E::Invoke(invoke), .. } => (invoke, None),
                _ => continue,
            };
            let Some((tr, optimized)) = &current else { continue };
            if invoke.module.is_some() {
                continue;
            }
            let args: Option<Vec<Val>> = invoke
                .args
                .iter()
                .map(|a| match a {
                    wast::WastArg::Core(wast::core::WastArgCore::I32(x)) => Some(Val::I32(*x as u32)),
                    wast::WastArg::Core(wast::core::WastArgCore::I64(x)) => Some(Val::I64(*x as u64)),
                    wast::WastArg::Core(wast::core::WastArgCore::F32(x)) => Some(Val::F32(x.bits)),
                    wast::WastArg::Core(wast::core::WastArgCore::F64(x)) => Some(Val::F64(x.bits)),
                    _ => None,
                })
                .collect();
            let Some(args) = args else { continue };
            let Some(func) = tr.env.funcs.iter().position(|f| f.exports.iter().any(|e| e == invoke.name)) else {
                continue;
            };
            if tr.env.funcs[func].import.is_some() {
                continue;
            }
            let Some(got) = compare(tr, optimized, func as u32, &args) else { continue };
            compared += 1;
            // The optimized code against the script's own values, where
            // nothing depends on a host (imports would be zero here).
            // Only in the numeric scripts: elsewhere results can depend on
            // translation options (memory reservations) rather than code.
            let standalone = NUMERIC_SCRIPTS.iter().any(|n| path.ends_with(n))
                && tr.env.num_imported_funcs == 0
                && tr.env.globals.iter().all(|g| g.import.is_none());
            if let (Some(expected), true) = (expected, standalone) {
                let ok = matches!(&got, Ok(vals) if vals.len() == expected.len()
                    && expected.iter().zip(vals).all(|(e, v)| spec_matches(e, *v)));
                assert!(
                    ok,
                    "{}: {}({args:?}) = {got:?} after optimization, the script expects {expected:?}",
                    path.display(),
                    invoke.name
                );
                checked_against_spec += 1;
            }
        }
    }
    eprintln!("{checked_against_spec} optimized results checked against the scripts' expected values");
    assert!(checked_against_spec > 10_000, "only {checked_against_spec} results checked against the scripts");
    eprintln!("spec suite: {} files, {modules} modules, {compared} calls compared; {totals}", files.len());
    assert!(modules > 300 && compared > 5000, "{modules} modules, {compared} calls compared");
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn optimized_wasm_functions_behave_like_the_originals() {
    // The interpreter recurses once per wasm call.
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(check_random_modules)
        .unwrap()
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
}

fn check_random_modules() {
    let mut rng = Rng(0x0e99_a7b1_5eed_0001);
    let (mut modules, mut compared, mut totals) = (0, 0, Totals::default());
    for _ in 0..3000 {
        let bytes: Vec<u8> = (0..32768).map(|_| rng.next() as u8).collect();
        let Ok(module) = wasm_smith::Module::new(config(), &mut Unstructured::new(&bytes)) else { continue };
        let Ok(tr) = bulkhead_wasm::translate(&module.to_bytes(), &TranslateOptions::default()) else { continue };
        modules += 1;
        let optimized = optimize_all(&tr, &mut totals);
        for k in 0..tr.functions.len() {
            let index = tr.env.num_imported_funcs + k as u32;
            for seed in 0..3u64 {
                let args: Vec<Val> = tr.functions[k]
                    .sig
                    .params
                    .iter()
                    .enumerate()
                    .map(|(i, &ty)| {
                        let r = rng.next();
                        let v = match (seed + i as u64) % 4 {
                            0 => 0,
                            1 => 1,
                            2 => u64::MAX,
                            _ => r % 70_000,
                        };
                        // Floats: ±0, ±1, NaNs (with a payload, negative),
                        // infinities, halves, random bits.
                        const F32S: [u32; 8] = [
                            0,
                            0x8000_0000,
                            0x3f80_0000,
                            0xbfc0_0000,
                            0x7fa0_0001,
                            0xff80_0000,
                            0x4f00_0000,
                            0xffc0_0000,
                        ];
                        const F64S: [u64; 8] = [
                            0,
                            0x8000_0000_0000_0000,
                            0x3ff0_0000_0000_0000,
                            0xbff8_0000_0000_0000,
                            0x7ff4_0000_0000_0001,
                            0xfff0_0000_0000_0000,
                            0x43e0_0000_0000_0000,
                            0xfff8_0000_0000_0000,
                        ];
                        match ty {
                            Type::I64 => Val::I64(v),
                            Type::F32 if r.is_multiple_of(4) => Val::F32((r >> 32) as u32),
                            Type::F32 => Val::F32(F32S[(r % 8) as usize]),
                            Type::F64 if r.is_multiple_of(4) => Val::F64(r),
                            Type::F64 => Val::F64(F64S[(r % 8) as usize]),
                            _ => Val::I32(v as u32),
                        }
                    })
                    .collect();
                compared += compare(&tr, &optimized, index, &args).is_some() as usize;
            }
        }
    }
    eprintln!("wasm-smith: {modules} modules, {compared} calls compared; {totals}");
    assert!(modules > 1000 && compared > 500, "{modules} modules, {compared} calls compared");
}

/// An adapter between two memories: it reads a record from memory 0 and
/// writes a transformed copy into memory 1, rereading the source after
/// each store, as straightforward code generators do. Stores to memory 1
/// cannot change memory 0, so every reread is the value loaded before;
/// the same code with one memory keeps every load. (The rereads' bounds
/// checks go in both: stores do not change sizes.)
#[test]
fn cross_memory_rereads_are_merged_and_their_checks_removed() {
    let adapter = |dst: &str| {
        format!(
            r#"(module
              (memory $src 1) (memory $dst 1)
              (func (export "adapt") (param $p i32) (param $q i32) (result i32)
                (i32.store {dst} (local.get $q) (i32.add (i32.load $src (local.get $p)) (i32.const 1)))
                (i32.store {dst} offset=4 (local.get $q) (i32.mul (i32.load $src (local.get $p)) (i32.const 3)))
                (i32.store {dst} offset=8 (local.get $q) (i32.load $src offset=4 (local.get $p)))
                (i32.store {dst} offset=12 (local.get $q) (i32.load $src (local.get $p)))
                (i32.load $src offset=4 (local.get $p))))"#
        )
    };
    let mut results = Vec::new();
    for dst in ["$dst", "$src"] {
        let wasm = wat::parse_str(adapter(dst)).unwrap_or_else(|e| panic!("{e}"));
        let tr = bulkhead_wasm::translate(&wasm, &TranslateOptions::default()).unwrap();
        let mut totals = Totals::default();
        let optimized = optimize_all(&tr, &mut totals);
        for args in [[0u32, 0], [16, 32], [65532, 0], [0, 65530], [7, 7]] {
            let args = [Val::I32(args[0]), Val::I32(args[1])];
            assert!(compare(&tr, &optimized, 0, &args).is_some());
        }
        results.push(totals);
    }
    let (cross, same) = (&results[0], &results[1]);
    // Five loads of two places: the three rereads are merged across the
    // stores to memory 1, and kept when the stores go to memory 0.
    assert_eq!(cross.loads_replaced, 3, "{cross}");
    assert_eq!(same.loads_replaced, 0, "{same}");
    // Checks: 4 loads and 4 stores plus the final load; the rereads' three
    // are implied by the first loads' in both versions.
    assert_eq!((cross.checks_kept, cross.checks_removed), (6, 3), "{cross}");
    assert_eq!((same.checks_kept, same.checks_removed), (6, 3), "{same}");
    assert!(cross.insts_after < same.insts_after, "{cross}\n{same}");
}
