//! Differential tests: random programs run in wasmi (the reference) and,
//! compiled by bulkhead at every optimization level, on QEMU (mps2-an386,
//! Cortex-M4F by default); return values, traps, exported globals and every
//! memory's size and contents must agree. Two independent generators:
//!
//! - `random_multi_memory_programs_agree_with_wasmi`: `difftest::gen`, up
//!   to 8 memories with every memory operation on each and memory.copy
//!   between any two, i32 and i64 (500 modules by default);
//! - `wasm_smith_modules_agree_with_wasmi`: wasm-smith for breadth
//!   (`difftest::smith`; 100 modules by default; modules bulkhead refuses
//!   as unsupported are counted and listed, never passed).
//!
//! i64 is generated only once bulkhead compiles it (probed at start; until
//! then both run without i64 and say so loudly).
//!
//! Environment:
//! - `BULKHEAD_DIFF_CASES`: number of modules of the first generator
//!   (default 500);
//! - `BULKHEAD_DIFF_SEED`: first seed, decimal or 0x hex (default
//!   [`DEFAULT_SEED`]); seeds are consecutive;
//! - `BULKHEAD_DIFF_OPT`: comma-separated optimization levels to compile
//!   each module at (default `0,1,2`);
//! - `BULKHEAD_DIFF_THREADS`: worker threads per test (default 2);
//! - `BULKHEAD_DIFF_I64=0`: no i64 even if bulkhead supports it;
//! - `BULKHEAD_DIFF_BATCH`: modules linked into one image per QEMU boot
//!   (default 8; 1: one boot per module and level);
//! - `BULKHEAD_DIFF_RESULT_WORDS`: most core registers a generated
//!   function's results may take (i64s in even-aligned pairs; default: no
//!   limit);
//! - `BULKHEAD_DIFF_MEMORIES`, `BULKHEAD_DIFF_FUNCS`,
//!   `BULKHEAD_DIFF_STMT_DEPTH`, `BULKHEAD_DIFF_EXPR_DEPTH`,
//!   `BULKHEAD_DIFF_RISKY`: generator limits (defaults: those of
//!   `GenConfig::default()`), for longer hunts with bigger programs;
//! - `BULKHEAD_DIFF_BOARD`: the QEMU board (default mps2-an386; also
//!   mps2-an385 (Cortex-M3), mps2-an500 (M7), mps2-an505 (M33));
//! - `BULKHEAD_SMITH_CASES`, `BULKHEAD_SMITH_SEED`,
//!   `BULKHEAD_SMITH_REFTYPES`, `BULKHEAD_SMITH_MEMORIES`: see
//!   `wasm_smith_modules_agree_with_wasmi`.
//!
//! Every disagreement is listed with its seed and module text, and the
//! module is saved under `target/difftest-failures/<seed>.wasm`. Replay one
//! seed with `BULKHEAD_DIFF_SEED=<seed> BULKHEAD_DIFF_CASES=1` (or the
//! `BULKHEAD_SMITH_*` equivalents).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use bulkhead_testkit::difftest::{self, CallResult, Disagreement, GenConfig, SmithConfig};
use bulkhead_testkit::Board;

const DEFAULT_SEED: u64 = 0xB01C_0000;
const DEFAULT_CASES: u64 = 500;
const DEFAULT_SMITH_CASES: u64 = 100;
/// CPU time QEMU may use per module; generated programs run in
/// milliseconds, so only a miscompiled infinite loop gets near this.
const TIMEOUT: Duration = Duration::from_secs(10);

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => difftest::parse_seed(&v).unwrap_or_else(|| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

fn opt_levels() -> Vec<u8> {
    match std::env::var("BULKHEAD_DIFF_OPT") {
        Ok(v) => v
            .split(',')
            .map(|l| {
                l.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("BULKHEAD_DIFF_OPT={v:?}: not a level list"))
            })
            .collect(),
        Err(_) => vec![0, 1, 2],
    }
}

fn board() -> Board {
    match std::env::var("BULKHEAD_DIFF_BOARD") {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|e| panic!("BULKHEAD_DIFF_BOARD: {e}")),
        Err(_) => Board::default(),
    }
}

/// Whether to generate i64: wanted unless `BULKHEAD_DIFF_I64=0`, and only
/// if bulkhead compiles i64 yet (probed once: an `Unsupported` error on a
/// small i64 module means not yet, and then the run goes on without i64
/// after a loud notice; modules bulkhead refuses are never counted as
/// passed).
fn i64_enabled(board: Board) -> bool {
    static PROBE: OnceLock<bool> = OnceLock::new();
    *PROBE.get_or_init(|| {
        if env_u64("BULKHEAD_DIFF_I64", 1) == 0 {
            eprintln!("differential test: i64 generation switched off by BULKHEAD_DIFF_I64=0");
            return false;
        }
        match difftest::compiler_accepts_i64(board) {
            Ok(true) => true,
            Ok(false) => {
                eprintln!(
                    "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
                     !!! NOTICE: bulkhead rejects i64 as unsupported: the differential\n\
                     !!! tests run WITHOUT i64 (no i64 values, operators, globals or\n\
                     !!! signatures). They switch i64 on by themselves once it compiles.\n\
                     !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
                );
                false
            }
            Err(e) => panic!("{e}"),
        }
    })
}

fn failure_report(failures: &mut [Disagreement]) -> String {
    failures.sort_by_key(|d| (d.seed, d.opt_level));
    let seeds: Vec<String> = failures
        .iter()
        .map(|d| {
            format!(
                "{:#x}@O{}",
                d.seed,
                d.opt_level.map_or("?".into(), |l| l.to_string())
            )
        })
        .collect();
    let mut report = format!("{}\n\n", seeds.join(" "));
    for d in failures.iter() {
        report.push_str(&format!("==== {d}\n"));
    }
    report
}

/// Modules per QEMU boot (`BULKHEAD_DIFF_BATCH`, default 8; 1 boots once
/// per module and level). Each batch is linked into one image and its
/// modules run one after the other; a difference is confirmed by running
/// the module alone (see `difftest::check_plans_batched`).
fn batch_size() -> u64 {
    env_u64("BULKHEAD_DIFF_BATCH", 8).clamp(1, 32)
}

/// Runs `check` on `cases` consecutive seeds from `first`, handing out
/// batches of [`batch_size`] seeds to `threads` workers; returns all
/// results in no particular order.
fn on_workers<T: Send>(
    cases: u64,
    first: u64,
    threads: u64,
    check: impl Fn(&[u64]) -> Vec<T> + Sync,
) -> Vec<T> {
    let batch = batch_size();
    let next = AtomicU64::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(batch, Ordering::Relaxed);
                if i >= cases {
                    break;
                }
                let seeds: Vec<u64> = (i..cases.min(i + batch))
                    .map(|k| first.wrapping_add(k))
                    .collect();
                let r = check(&seeds);
                results.lock().unwrap_or_else(|e| e.into_inner()).extend(r);
            });
        }
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn random_multi_memory_programs_agree_with_wasmi() {
    let cases = env_u64("BULKHEAD_DIFF_CASES", DEFAULT_CASES);
    let first = env_u64("BULKHEAD_DIFF_SEED", DEFAULT_SEED);
    let threads = env_u64("BULKHEAD_DIFF_THREADS", 2).max(1);
    let levels = opt_levels();
    let board = board();
    let defaults = GenConfig::default();
    let cfg = GenConfig {
        max_memories: env_u64("BULKHEAD_DIFF_MEMORIES", defaults.max_memories as u64) as u32,
        max_functions: env_u64("BULKHEAD_DIFF_FUNCS", defaults.max_functions as u64) as u32,
        max_stmt_depth: env_u64("BULKHEAD_DIFF_STMT_DEPTH", defaults.max_stmt_depth as u64) as u32,
        max_expr_depth: env_u64("BULKHEAD_DIFF_EXPR_DEPTH", defaults.max_expr_depth as u64) as u32,
        risky_percent: env_u64("BULKHEAD_DIFF_RISKY", defaults.risky_percent),
        max_result_words: env_u64(
            "BULKHEAD_DIFF_RESULT_WORDS",
            defaults.max_result_words as u64,
        ) as u32,
        i64: i64_enabled(board),
        ..defaults
    };

    let start = Instant::now();
    let results = on_workers(cases, first, threads, |seeds| {
        let modules: Vec<_> = seeds
            .iter()
            .map(|&seed| (seed, difftest::generate(seed, &cfg)))
            .collect();
        let plans: Vec<_> = modules.iter().map(|(seed, m)| (*seed, m.plan())).collect();
        difftest::check_plans_batched(&plans, &levels, board, TIMEOUT)
            .into_iter()
            .zip(&plans)
            // The generator only emits what bulkhead must compile: a
            // refusal, even as unsupported, is a failure here.
            .map(|(checked, (seed, plan))| checked.unsupported_as_failures(*seed, plan))
            .collect()
    });
    let elapsed = start.elapsed();
    let failed_modules = results.iter().filter(|r| !r.is_empty()).count();
    let mut failures: Vec<Disagreement> = results.into_iter().flatten().collect();
    eprintln!(
        "differential test (generator): {cases} modules (up to {} memories, i64 {}) from seed {first:#x}, \
         each at -O{levels:?} on {board}: {} agreed at every level, {failed_modules} with disagreements \
         ({} in all), {elapsed:.1?}",
        cfg.max_memories,
        if cfg.i64 { "on" } else { "OFF" },
        cases as usize - failed_modules,
        failures.len(),
    );
    if !failures.is_empty() {
        panic!(
            "{} disagreement(s) between bulkhead on QEMU and wasmi: {}",
            failures.len(),
            failure_report(&mut failures)
        );
    }
}

/// What happened to one wasm-smith module.
enum SmithResult {
    /// Agreed at every level.
    Agreed,
    /// Refused as unsupported at some level (the first message).
    Unsupported(String),
    /// Uses `select` on a comparison with zero and disagreed: wasmi 2.0.0
    /// may be at fault (see the generator's workaround), not counted.
    ReferenceSuspect,
    /// The reference could not run the module (wasmi 2.0.0 panics on some
    /// valid modules, see tests/repros/wasmi-store-ptr-equals-value-panics.wat):
    /// nothing to compare against, not counted.
    ReferenceFailed(u64, String),
    Failed(Vec<Disagreement>),
}

/// The second generator: wasm-smith modules (see `difftest::smith`), every
/// exported integer function called in wasmi and on QEMU. Modules bulkhead
/// rejects as unsupported are counted and listed by reason, never passed;
/// any other compile error or any disagreement fails.
///
/// Environment: `BULKHEAD_SMITH_CASES` (default 100), `BULKHEAD_SMITH_SEED`
/// (default 0x5317_0000), `BULKHEAD_SMITH_REFTYPES=1` (reference types:
/// bulkhead does not support funcref/externref values yet, so off by
/// default), `BULKHEAD_SMITH_MEMORIES` (default 8), and `BULKHEAD_DIFF_OPT`,
/// `BULKHEAD_DIFF_THREADS`, `BULKHEAD_DIFF_BOARD`, `BULKHEAD_DIFF_I64` as
/// above.
#[test]
fn wasm_smith_modules_agree_with_wasmi() {
    let cases = env_u64("BULKHEAD_SMITH_CASES", DEFAULT_SMITH_CASES);
    let first = env_u64("BULKHEAD_SMITH_SEED", 0x5317_0000);
    let threads = env_u64("BULKHEAD_DIFF_THREADS", 2).max(1);
    let levels = opt_levels();
    let board = board();
    let defaults = SmithConfig::default();
    let cfg = SmithConfig {
        i64: i64_enabled(board),
        reference_types: env_u64("BULKHEAD_SMITH_REFTYPES", 0) != 0,
        max_memories: env_u64("BULKHEAD_SMITH_MEMORIES", defaults.max_memories as u64) as usize,
        ..defaults
    };

    let start = Instant::now();
    let results = on_workers(cases, first, threads, |seeds| {
        let modules: Vec<_> = seeds
            .iter()
            .map(|&seed| match difftest::generate_smith(seed, &cfg) {
                Ok(m) => (seed, m),
                Err(e) => panic!("wasm-smith could not produce a module: {e}"),
            })
            .collect();
        let plans: Vec<_> = modules.iter().map(|(seed, m)| (*seed, m.plan())).collect();
        let checks = difftest::check_plans_batched(&plans, &levels, board, TIMEOUT);
        checks
            .into_iter()
            .zip(&modules)
            .map(|(checked, (seed, module))| {
                if let [only] = checked.disagreements.as_slice() {
                    if only.opt_level.is_none() {
                        return SmithResult::ReferenceFailed(*seed, only.differences.join("; "));
                    }
                }
                if !checked.disagreements.is_empty() {
                    let mut cov = difftest::coverage::Coverage::default();
                    let _ = cov.add(&module.wasm);
                    if cov.select_on_zero_compare > 0
                        && checked.disagreements.iter().all(|d| d.actual.is_some())
                    {
                        return SmithResult::ReferenceSuspect;
                    }
                    return SmithResult::Failed(checked.disagreements);
                }
                match checked.unsupported.into_iter().next() {
                    Some((_, message)) => SmithResult::Unsupported(message),
                    None => SmithResult::Agreed,
                }
            })
            .collect()
    });
    let elapsed = start.elapsed();
    let (mut agreed, mut suspect) = (0, 0);
    let mut reference_failed = Vec::new();
    let mut reasons: std::collections::BTreeMap<String, u32> = Default::default();
    let mut failures = Vec::new();
    for r in results {
        match r {
            SmithResult::Agreed => agreed += 1,
            SmithResult::ReferenceSuspect => suspect += 1,
            SmithResult::ReferenceFailed(seed, why) => {
                reference_failed.push(format!("{seed:#x}: {why}"))
            }
            SmithResult::Unsupported(m) => *reasons.entry(unsupported_reason(&m)).or_insert(0) += 1,
            SmithResult::Failed(d) => failures.extend(d),
        }
    }
    let unsupported: u32 = reasons.values().sum();
    eprintln!(
        "differential test (wasm-smith): {cases} modules (up to {} memories, i64 {}, reference types {}) \
         from seed {first:#x}, each at -O{levels:?} on {board}: {agreed} agreed at every level, \
         {unsupported} refused as unsupported (not passed), {suspect} disagreed only where wasmi's \
         select bug may be at fault (not passed), {} the reference could not run (not passed), \
         {} disagreement(s); {elapsed:.1?}",
        cfg.max_memories,
        if cfg.i64 { "on" } else { "OFF" },
        if cfg.reference_types { "on" } else { "off" },
        reference_failed.len(),
        failures.len()
    );
    for r in &reference_failed {
        eprintln!("  reference failed on seed {r}");
    }
    for (reason, n) in &reasons {
        eprintln!("  unsupported ({n}): {reason}");
    }
    if !failures.is_empty() {
        panic!(
            "{} disagreement(s) between bulkhead on QEMU and wasmi on wasm-smith modules: {}",
            failures.len(),
            failure_report(&mut failures)
        );
    }
}

/// An unsupported-error message without what varies per module (function
/// index, offset), for tallying.
fn unsupported_reason(message: &str) -> String {
    let text = message.lines().next().unwrap_or("");
    // "wasm function 3 at offset 0x2a: unsupported operator ..." -> the part
    // after the last ": ", without "(instruction inst12 `clz`, ...)".
    let reason = text.rsplit(": ").next().unwrap_or(text);
    let reason = reason.split(" (instruction").next().unwrap_or(reason);
    // "results [I32, I64, I32] do not fit" -> "results [..] do not fit".
    match (reason.find('['), reason.find(']')) {
        (Some(a), Some(b)) if a < b => format!("{}[..]{}", &reason[..a], &reason[b + 1..]),
        _ => reason.to_string(),
    }
}

/// The comparison catches a wrong observation from a real QEMU run: the
/// test above cannot pass vacuously (e.g. by comparing nothing).
#[test]
fn a_corrupted_qemu_observation_is_caught() {
    let cfg = GenConfig {
        i64: i64_enabled(Board::default()),
        ..GenConfig::default()
    };
    let module = difftest::generate(DEFAULT_SEED, &cfg);
    let reference = difftest::reference(&module).expect("wasmi runs the module");
    let actual = difftest::observe_qemu(&module, 2, Board::default(), TIMEOUT)
        .expect("QEMU runs the module");
    assert!(
        difftest::compare(&reference, &actual).is_empty(),
        "seed {DEFAULT_SEED:#x} disagrees already (see the main test)"
    );
    assert!(
        !actual.calls.is_empty() && !actual.memories.is_empty(),
        "nothing observed: {actual}"
    );

    let mut bad = actual.clone();
    bad.calls[0] = match &bad.calls[0] {
        CallResult::Returned(v) => CallResult::Returned(v.wrapping_add(1)),
        _ => CallResult::Returned(0),
    };
    assert!(
        !difftest::compare(&reference, &bad).is_empty(),
        "a wrong return value was not caught"
    );

    let mut bad = actual.clone();
    bad.memories[0].1 ^= 1;
    assert!(
        !difftest::compare(&reference, &bad).is_empty(),
        "a wrong memory content was not caught"
    );

    let mut bad = actual.clone();
    if let Some(c) = bad.calls.last_mut() {
        *c = CallResult::Abnormal("injected fault".into());
    }
    assert!(
        !difftest::compare(&reference, &bad).is_empty(),
        "a fault was not caught"
    );
}

/// Replays a hand-written module (for minimizing a disagreement):
/// `BULKHEAD_DIFF_WAT=path.wat [BULKHEAD_DIFF_CALLS="a,b;c,d"] cargo test -p
/// bulkhead-testkit --test differential_qemu replay -- --ignored --nocapture`.
/// Exit status tells whether wasmi and bulkhead (at the levels of
/// `BULKHEAD_DIFF_OPT`) agree.
#[test]
#[ignore]
fn replay() {
    let path =
        std::env::var("BULKHEAD_DIFF_WAT").expect("set BULKHEAD_DIFF_WAT to a .wat or .wasm file");
    let wasm = wat::parse_file(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let calls: Vec<[i32; 2]> = match std::env::var("BULKHEAD_DIFF_CALLS") {
        Ok(text) => text
            .split(';')
            .map(|pair| {
                let v: Vec<i32> = pair
                    .split(',')
                    .map(|x| x.trim().parse().expect("i32 argument"))
                    .collect();
                [v[0], v[1]]
            })
            .collect(),
        Err(_) => vec![[0, 0]],
    };
    let module = difftest::GeneratedModule::from_wasm(wasm, calls).expect("a module");
    let failures = difftest::check_module(0, &module, &opt_levels(), board(), TIMEOUT);
    match difftest::reference(&module) {
        Ok(r) => eprintln!("reference:\n{r}"),
        Err(e) => eprintln!("reference failed: {e}"),
    }
    for d in &failures {
        eprintln!("{}", d.differences.join("\n"));
        if let Some(a) = &d.actual {
            eprintln!("bulkhead at -O{:?}:\n{a}", d.opt_level);
        }
    }
    assert!(failures.is_empty(), "{} disagreement(s)", failures.len());
}

/// End to end, a real miscompilation is caught: compiled without bounds
/// checks, an out-of-bounds store returns normally (and writes past the
/// memory) instead of trapping, and the comparison reports it.
#[test]
fn a_miscompiled_module_is_caught() {
    let wat = r#"(module
        (memory (export "mem0") 1 1)
        (func (export "run") (param i32 i32) (result i32)
            (i32.store (local.get 0) (i32.const 0x5a5a5a5a))
            (i32.load (i32.const 0))))"#;
    let wasm = wat::parse_str(wat).expect("valid wat");
    let module =
        difftest::GeneratedModule::from_wasm(wasm, vec![[0, 0], [65536, 0]]).expect("a module");
    let reference = difftest::reference(&module).expect("wasmi runs the module");
    assert_eq!(
        reference.calls,
        [CallResult::Returned(0x5a5a5a5a), CallResult::Trapped(2)]
    );

    let board = Board::default();
    let checked = difftest::observe_qemu(&module, 2, board, TIMEOUT).expect("QEMU runs the module");
    assert!(
        difftest::compare(&reference, &checked).is_empty(),
        "bounds-checked build disagrees:\n{checked}"
    );

    let unchecked = bulkhead::Options {
        bounds: bulkhead::BoundsMode::None,
        ..difftest::compile_options(2, board)
    };
    let actual = difftest::observe_qemu_with(&module, unchecked, board, TIMEOUT)
        .expect("QEMU runs the module");
    let diffs = difftest::compare(&reference, &actual);
    assert!(
        diffs.iter().any(|d| d.starts_with("call 1:")),
        "the missing trap was not reported: {diffs:?}\n{actual}"
    );
}

/// Minimized disagreements found by this test, kept as fixed cases at
/// every level of `BULKHEAD_DIFF_OPT`.
#[test]
fn regressions_found_by_the_differential_test() {
    // Seed 0xb01c0018 (generator of 2026-11-22), -O2: the mid-end hoisted a
    // loop-invariant `udiv` above the loop's divide-by-zero guard, so
    // run(7, 0) hit the hardware divide-by-zero fault (CCR.DIV_0_TRP)
    // instead of trapping with code 3. Fixed in bulkhead-egraph (divisions
    // whose divisor may be zero stay in the effect skeleton).
    let division_in_loop = r#"(module
        (memory (export "mem0") 1 1)
        (func (export "run") (param i32 i32) (result i32)
            (local i32 i32)
            (local.set 3 (i32.const 3))
            (loop
                (local.set 2 (i32.add (local.get 2) (i32.div_u (local.get 0) (local.get 1))))
                (br_if 0 (local.tee 3 (i32.sub (local.get 3) (i32.const 1)))))
            (local.get 2)))"#;
    let cases = [(division_in_loop, vec![[7, 0], [7, 2], [-1, 1]])];
    let mut failures = Vec::new();
    for (i, (wat, calls)) in cases.into_iter().enumerate() {
        let wasm = wat::parse_str(wat).expect("valid wat");
        let module = difftest::GeneratedModule::from_wasm(wasm, calls).expect("a module");
        failures.extend(difftest::check_module(
            i as u64,
            &module,
            &opt_levels(),
            board(),
            TIMEOUT,
        ));
    }
    let report: Vec<String> = failures.iter().map(|d| d.to_string()).collect();
    assert!(failures.is_empty(), "{}", report.join("\n"));
}

/// `select` on `i32.eqz` / `== 0` / `!= 0` conditions: the generator does
/// not emit this pattern because the reference (wasmi 2.0.0) gets it wrong,
/// so bulkhead is checked here against values worked out from the spec.
#[test]
fn select_on_comparisons_with_zero_follows_the_spec() {
    let wat = r#"(module
        (global (export "g0") (mut i32) (i32.const 0x12345678))
        (func (export "run") (param i32 i32) (result i32)
            ;; 0x100 * select(g0, a, b == 0) + ... folded into one value
            (i32.add
                (i32.add
                    (select (global.get 0) (local.get 0) (i32.eqz (local.get 1)))
                    (i32.mul (i32.const 3) (select (i32.const 7) (local.get 0) (i32.eq (local.get 1) (i32.const 0)))))
                (i32.mul (i32.const 5) (select (local.get 1) (local.get 0) (i32.ne (local.get 1) (i32.const 0)))))))"#;
    let wasm = wat::parse_str(wat).expect("valid wat");
    let spec = |a: i32, b: i32| -> u32 {
        let g = 0x1234_5678i32;
        let first = if b == 0 { g } else { a };
        let second = if b == 0 { 7 } else { a };
        let third = if b != 0 { b } else { a };
        first
            .wrapping_add(3i32.wrapping_mul(second))
            .wrapping_add(5i32.wrapping_mul(third)) as u32
    };
    let calls = vec![[5, 0], [5, 1], [-9, 0], [-9, -1]];
    let module = difftest::GeneratedModule::from_wasm(wasm, calls.clone()).expect("a module");
    let expected: Vec<CallResult> = calls
        .iter()
        .map(|&[a, b]| CallResult::Returned(spec(a, b) as u64))
        .collect();
    for level in opt_levels() {
        let actual =
            difftest::observe_qemu(&module, level, board(), TIMEOUT).expect("QEMU runs the module");
        assert_eq!(actual.calls, expected, "at -O{level}");
    }
}

/// Batched runs attribute differences to the right module: three modules
/// in one image, the middle one hitting the reference's known `select`
/// bug (wasmi returns the wrong value, bulkhead the spec's), so exactly that
/// one disagrees, at every level, and the others agree.
#[test]
fn batched_runs_attribute_differences_to_the_right_module() {
    let cfg = GenConfig {
        i64: i64_enabled(Board::default()),
        ..GenConfig::default()
    };
    let good_a = difftest::generate(DEFAULT_SEED + 1, &cfg);
    let good_b = difftest::generate(DEFAULT_SEED + 2, &cfg);
    let wasmi_bug = r#"(module
        (memory (export "mem0") 1 1)
        (global (export "g0") (mut i32) (i32.const 0x12345678))
        (func (export "run") (param i32 i32) (result i32)
            (i32.store (i32.const 16) (local.get 0))
            (select (global.get 0) (local.get 0) (i32.eqz (local.get 1)))))"#;
    let bad = difftest::GeneratedModule::from_wasm(
        wat::parse_str(wasmi_bug).unwrap(),
        vec![[5, 0], [5, 1]],
    )
    .expect("a module");
    let plans = vec![(1, good_a.plan()), (2, bad.plan()), (3, good_b.plan())];
    let levels = opt_levels();
    let checks = difftest::check_plans_batched(&plans, &levels, Board::default(), TIMEOUT);
    assert_eq!(checks.len(), 3);
    for (k, check) in checks.iter().enumerate() {
        assert!(
            check.unsupported.is_empty(),
            "module {k}: {:?}",
            check.unsupported
        );
    }
    assert!(
        checks[0].disagreements.is_empty(),
        "{}",
        checks[0]
            .disagreements
            .iter()
            .map(|d| d.to_string())
            .collect::<String>()
    );
    assert!(
        checks[2].disagreements.is_empty(),
        "{}",
        checks[2]
            .disagreements
            .iter()
            .map(|d| d.to_string())
            .collect::<String>()
    );
    assert_eq!(checks[1].disagreements.len(), levels.len());
    for d in &checks[1].disagreements {
        assert!(
            d.differences.iter().any(|x| x.starts_with("call 0:")),
            "{:?}",
            d.differences
        );
    }
}

/// The module wasmi 2.0.0 panics on (tests/repros/wasmi-store-ptr-equals-value-panics.wat:
/// a store to memory 1 whose address and value are the same value), so
/// bulkhead is checked here against values worked out from the spec.
#[test]
fn store_whose_address_is_its_value_follows_the_spec() {
    let wat = r#"(module
        (memory (export "mem0") 1 1)
        (memory (export "mem1") 1 1)
        (func (export "run") (param i32 i32) (result i32)
            (local i32)
            (i32.store 1 offset=134 (local.tee 2 (i32.popcnt (local.get 0))) (local.get 2))
            (i32.add (local.get 2) (i32.mul (i32.const 0x100) (i32.load 1 offset=134 (local.get 2))))))"#;
    let wasm = wat::parse_str(wat).expect("valid wat");
    // popcnt(5) = 2: stores 2 at 136, reads it back; popcnt(-1) = 32.
    let calls = vec![[5, 0], [-1, 0]];
    let module = difftest::GeneratedModule::from_wasm(wasm, calls).expect("a module");
    let expected = vec![
        CallResult::Returned(2 + 0x200),
        CallResult::Returned(32 + 0x2000),
    ];
    let mut mem1 = vec![0u8; 65536];
    mem1[136..140].copy_from_slice(&2u32.to_le_bytes());
    mem1[166..170].copy_from_slice(&32u32.to_le_bytes());
    for level in opt_levels() {
        let actual =
            difftest::observe_qemu(&module, level, board(), TIMEOUT).expect("QEMU runs the module");
        assert_eq!(actual.calls, expected, "at -O{level}");
        assert_eq!(
            actual.memories.get(1),
            Some(&(65536, bulkhead_testkit::qemu::fnv1a64(&mem1))),
            "memory 1 at -O{level}"
        );
    }
}
