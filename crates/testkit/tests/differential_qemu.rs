//! Differential test: random multi-memory programs (difftest::gen) run in
//! wasmi and, compiled by bulkhead, on QEMU (mps2-an386, Cortex-M4F); return
//! values, traps, exported globals and every memory's size and contents must
//! agree.
//!
//! Environment:
//! - `BULKHEAD_DIFF_CASES`: number of modules (default 200);
//! - `BULKHEAD_DIFF_SEED`: first seed, decimal or 0x hex (default
//!   [`DEFAULT_SEED`]); seeds are consecutive;
//! - `BULKHEAD_DIFF_OPT`: comma-separated optimization levels to compile
//!   each module at (default `0,1,2`);
//! - `BULKHEAD_DIFF_THREADS`: worker threads (default 2);
//! - `BULKHEAD_DIFF_BOARD`: the QEMU board (default mps2-an386; also
//!   mps2-an385 (Cortex-M3), mps2-an500 (M7), mps2-an505 (M33)).
//!
//! Every disagreement is listed with its seed and module text, and the
//! module is saved under `target/difftest-failures/<seed>.wasm`. Replay one
//! seed with `BULKHEAD_DIFF_SEED=<seed> BULKHEAD_DIFF_CASES=1`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bulkhead_testkit::difftest::{self, CallResult, Disagreement, GenConfig};
use bulkhead_testkit::Board;

const DEFAULT_SEED: u64 = 0xB01C_0000;
const DEFAULT_CASES: u64 = 200;
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
            .map(|l| l.trim().parse().unwrap_or_else(|_| panic!("BULKHEAD_DIFF_OPT={v:?}: not a level list")))
            .collect(),
        Err(_) => vec![0, 1, 2],
    }
}

fn board() -> Board {
    match std::env::var("BULKHEAD_DIFF_BOARD") {
        Ok(v) => v.parse().unwrap_or_else(|e| panic!("BULKHEAD_DIFF_BOARD: {e}")),
        Err(_) => Board::default(),
    }
}

#[test]
fn random_multi_memory_programs_agree_with_wasmi() {
    let cases = env_u64("BULKHEAD_DIFF_CASES", DEFAULT_CASES);
    let first = env_u64("BULKHEAD_DIFF_SEED", DEFAULT_SEED);
    let threads = env_u64("BULKHEAD_DIFF_THREADS", 2).max(1);
    let levels = opt_levels();
    let cfg = GenConfig::default();
    let board = board();

    let next = AtomicU64::new(0);
    let failures: Mutex<Vec<Disagreement>> = Mutex::new(Vec::new());
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= cases {
                    break;
                }
                let seed = first.wrapping_add(i);
                let found = difftest::check_seed(seed, &cfg, &levels, board, TIMEOUT);
                if !found.is_empty() {
                    failures.lock().unwrap_or_else(|e| e.into_inner()).extend(found);
                }
            });
        }
    });
    let elapsed = start.elapsed();
    let mut failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    failures.sort_by_key(|d| (d.seed, d.opt_level));
    eprintln!(
        "differential test: {cases} modules from seed {first:#x} at -O{levels:?} on {board}, {} disagreement(s), {:.1?}",
        failures.len(),
        elapsed
    );
    if !failures.is_empty() {
        let seeds: Vec<String> =
            failures.iter().map(|d| format!("{:#x}@O{}", d.seed, d.opt_level.map_or("?".into(), |l| l.to_string()))).collect();
        let mut report = String::new();
        for d in &failures {
            report.push_str(&format!("==== {d}\n"));
        }
        panic!("{} disagreement(s) between bulkhead on QEMU and wasmi: {}\n\n{report}", failures.len(), seeds.join(" "));
    }
}

/// The comparison catches a wrong observation from a real QEMU run: the
/// test above cannot pass vacuously (e.g. by comparing nothing).
#[test]
fn a_corrupted_qemu_observation_is_caught() {
    let module = difftest::generate(DEFAULT_SEED, &GenConfig::default());
    let reference = difftest::reference(&module).expect("wasmi runs the module");
    let actual = difftest::observe_qemu(&module, 2, Board::default(), TIMEOUT).expect("QEMU runs the module");
    assert!(
        difftest::compare(&reference, &actual).is_empty(),
        "seed {DEFAULT_SEED:#x} disagrees already (see the main test)"
    );
    assert!(!actual.calls.is_empty() && !actual.memories.is_empty(), "nothing observed: {actual}");

    let mut bad = actual.clone();
    bad.calls[0] = match &bad.calls[0] {
        CallResult::Returned(v) => CallResult::Returned(v.wrapping_add(1)),
        _ => CallResult::Returned(0),
    };
    assert!(!difftest::compare(&reference, &bad).is_empty(), "a wrong return value was not caught");

    let mut bad = actual.clone();
    bad.memories[0].1 ^= 1;
    assert!(!difftest::compare(&reference, &bad).is_empty(), "a wrong memory content was not caught");

    let mut bad = actual.clone();
    bad.calls.last_mut().map(|c| *c = CallResult::Abnormal("injected fault".into()));
    assert!(!difftest::compare(&reference, &bad).is_empty(), "a fault was not caught");
}

/// Replays a hand-written module (for minimizing a disagreement):
/// `BULKHEAD_DIFF_WAT=path.wat [BULKHEAD_DIFF_CALLS="a,b;c,d"] cargo test -p
/// bulkhead-testkit --test differential_qemu replay -- --ignored --nocapture`.
/// Exit status tells whether wasmi and bulkhead (at the levels of
/// `BULKHEAD_DIFF_OPT`) agree.
#[test]
#[ignore]
fn replay() {
    let path = std::env::var("BULKHEAD_DIFF_WAT").expect("set BULKHEAD_DIFF_WAT to a .wat or .wasm file");
    let wasm = wat::parse_file(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let calls: Vec<[i32; 2]> = match std::env::var("BULKHEAD_DIFF_CALLS") {
        Ok(text) => text
            .split(';')
            .map(|pair| {
                let v: Vec<i32> = pair.split(',').map(|x| x.trim().parse().expect("i32 argument")).collect();
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
