//! The `.wast` runner end to end (needs the compiler): a crafted script with
//! known right and wrong expectations, a few spec-suite files that must pass
//! completely, and the whole spec core suite (fails while the compiler still
//! has bugs: that test reports them).
#![cfg(feature = "facade")]

use bulkhead_testkit::wast_runner::{run_file, run_script, FileResult, RunnerOptions, Verdict};
use bulkhead_testkit::Board;
use std::path::{Path, PathBuf};

/// scripts/test.sh sets BULKHEAD_SPEC_DIR; by default the suite sits next to
/// the repository (../shared), as on CI.
fn spec_dir() -> PathBuf {
    std::env::var_os("BULKHEAD_SPEC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/spec-testsuite"))
}

fn verdicts(result: &FileResult) -> Vec<(usize, &'static str)> {
    result
        .commands
        .iter()
        .map(|c| {
            (
                c.line,
                match c.verdict {
                    Verdict::Pass => "pass",
                    Verdict::Fail(_) => "fail",
                    Verdict::Skip(_) => "skip",
                },
            )
        })
        .collect()
}

/// Every expectation here is decided by the wasm spec, not by bulkhead:
/// wrong expectations must be reported as failures, right ones as passes.
#[test]
fn crafted_script_right_and_wrong_expectations() {
    let script = r#"(module
  (memory 1)
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "st") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
  (func (export "ld") (param i32) (result i32) (i32.load (local.get 0)))
  (global (export "g") (mut i32) (i32.const 7))
  (func (export "inc") (global.set 0 (i32.add (global.get 0) (i32.const 1))))
)
(assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 3))
(assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 4))
(assert_trap (invoke "div" (i32.const 1) (i32.const 0)) "integer divide by zero")
(assert_trap (invoke "div" (i32.const 1) (i32.const 0)) "integer overflow")
(assert_return (invoke "div" (i32.const 7) (i32.const 2)) (i32.const 3))
(invoke "st" (i32.const 8) (i32.const 99))
(assert_return (invoke "ld" (i32.const 8)) (i32.const 99))
(assert_trap (invoke "ld" (i32.const 65534)) "out of bounds memory access")
(assert_return (get "g") (i32.const 7))
(invoke "inc")
(assert_return (get "g") (i32.const 8))
(assert_invalid (module (func (result i32) (i64.const 1))) "type mismatch")
(assert_malformed (module quote "(func (result i32) (i32.const))") "unexpected token")
(register "x")
(module $second (func (export "seven") (result i32) (i32.const 7)) (func (export "spin") (loop (br 0))))
(assert_return (invoke $second "seven") (i32.const 7))
(assert_return (invoke "seven") (i32.const 8))
(invoke "spin")
(assert_return (invoke "seven") (i32.const 7))
(assert_return (invoke "eight") (i32.const 8))
"#;
    let opts = RunnerOptions { timeout: std::time::Duration::from_secs(3), ..RunnerOptions::default() };
    let mut result = FileResult::default();
    run_script(Path::new("crafted.wast"), script, &opts, &mut result);
    assert_eq!(result.error, None);
    let expected = vec![
        (1, "pass"),  // module
        (10, "pass"),
        (11, "fail"), // 1 + 2 is not 4
        (12, "pass"),
        (13, "fail"), // divide by zero is not an overflow
        (14, "pass"),
        (15, "pass"),
        (16, "pass"), // state carried over from the store
        (17, "pass"),
        (18, "pass"),
        (19, "pass"),
        (20, "pass"), // the global was incremented
        (21, "pass"),
        (22, "pass"),
        // (register "x") at line 23 is not a command
        (24, "pass"),
        (25, "pass"),
        (26, "fail"),
        (27, "fail"), // hangs: timeout
        (28, "skip"), // not reached after the hang
        (29, "fail"), // no such export
    ];
    assert_eq!(verdicts(&result), expected, "{:#?}", result.commands);
}

#[test]
fn selected_spec_files_pass() {
    let dir = spec_dir().join("core");
    for file in ["i32.wast", "address0.wast", "memory_size0.wast", "memory_trap0.wast", "memory_fill.wast", "memory-multi.wast"]
    {
        for board in [Board::Mps2An386, Board::Mps2An385] {
            let opts = RunnerOptions { board, ..RunnerOptions::default() };
            let result = run_file(&dir.join(file), &opts);
            let failures: Vec<_> =
                result.commands.iter().filter(|c| matches!(c.verdict, Verdict::Fail(_))).collect();
            assert!(result.error.is_none() && failures.is_empty(), "{file} on {board}: {:?} {failures:#?}", result.error);
            assert!(result.passed() > 0, "{file}: nothing passed");
        }
    }
}

/// Tables, references and linking run completely (nothing skipped but the
/// GC module at the end of table_init.wast) on the Cortex-M3 board (the
/// core suite test covers the default board).
#[test]
fn table_and_linking_spec_files_run_completely() {
    let dir = spec_dir().join("core");
    for file in ["table_init.wast", "table_copy.wast", "table_grow.wast", "elem.wast", "linking.wast", "ref_func.wast"] {
        let opts = RunnerOptions { board: Board::Mps2An385, ..RunnerOptions::default() };
        let result = run_file(&dir.join(file), &opts);
        let gc = |v: &Verdict| matches!(v, Verdict::Skip(why) if why.contains("gc proposal not supported"));
        let not_passed: Vec<_> = result.commands.iter().filter(|c| c.verdict != Verdict::Pass && !gc(&c.verdict)).collect();
        assert!(result.error.is_none() && not_passed.is_empty(), "{file}: {:?} {not_passed:#?}", result.error);
    }
}

/// The whole core suite on the default board: no failures allowed. Fails
/// while the compiler has bugs or rejects valid modules.
#[test]
fn spec_core_suite_has_no_failures() {
    let dir = spec_dir().join("core");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("spec test suite (set BULKHEAD_SPEC_DIR)")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wast"))
        .collect();
    files.sort();
    let opts = RunnerOptions::default();
    // Two workers: QEMU boots dominate, and the machine is shared.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(file) = files.get(i) else { break };
                let result = run_file(file, &opts);
                results.lock().unwrap().push((i, result));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);
    let mut report = String::new();
    let (mut passed, mut failed) = (0, 0);
    for (i, result) in &results {
        let file = &files[*i];
        passed += result.passed();
        failed += result.failed();
        if let Some(e) = &result.error {
            report.push_str(&format!("{}: {e}\n", file.display()));
        }
        for c in &result.commands {
            if let Verdict::Fail(why) = &c.verdict {
                report.push_str(&format!("{}:{}: {}: {why}\n", file.display(), c.line, c.what));
            }
        }
    }
    assert!(passed > 0);
    assert_eq!(failed, 0, "{passed} passed, {failed} failed:\n{report}");
}

/// Modules linked through `register` + imports (and `spectest`) share state
/// in script order inside one boot.
#[test]
fn crafted_script_linked_instances() {
    let script = r#"(module $A
  (memory (export "mem") 1 2)
  (global (export "g") (mut i32) (i32.const 5))
  (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "setg") (param i32) (global.set 0 (local.get 0)))
)
(register "A")
(assert_return (invoke $A "load" (i32.const 3)) (i32.const 0))
(module $B
  (import "A" "mem" (memory 1))
  (import "A" "load" (func $load (param i32) (result i32)))
  (import "spectest" "global_i32" (global $sg i32))
  (import "A" "g" (global $ag (mut i32)))
  (export "ag" (global $ag))
  (data (i32.const 3) "\2a")
  (func (export "store") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
  (func (export "via") (param i32) (result i32) (i32.add (call $load (local.get 0)) (global.get $sg)))
)
(assert_return (invoke $A "load" (i32.const 3)) (i32.const 42))
(invoke $B "store" (i32.const 4) (i32.const 7))
(assert_return (invoke $A "load" (i32.const 4)) (i32.const 7))
(assert_return (invoke $B "via" (i32.const 4)) (i32.const 673))
(invoke $A "setg" (i32.const 9))
(assert_return (get $B "ag") (i32.const 9))
(assert_return (get $A "g") (i32.const 9))
(module $C (import "nope" "f" (func)))
(register "not-an-identifier" $B)
(module $D
  (import "not-an-identifier" "ag" (global $g (mut i32)))
  (import "not-an-identifier" "via" (func $via (param i32) (result i32)))
  (func (export "d") (param i32) (result i32) (i32.add (call $via (local.get 0)) (global.get $g)))
)
(assert_return (invoke $D "d" (i32.const 4)) (i32.const 682))
"#;
    let opts = RunnerOptions::default();
    let mut result = FileResult::default();
    run_script(Path::new("linked.wast"), script, &opts, &mut result);
    assert_eq!(result.error, None);
    let expected = vec![
        (1, "pass"),
        (8, "pass"),  // before $B's data segment
        (9, "pass"),  // $B instantiates (writes A's memory)
        (19, "pass"), // sees the data segment
        (20, "pass"),
        (21, "pass"), // sees $B's store
        (22, "pass"), // 7 + 666 through the imported function and spectest global
        (23, "pass"),
        (24, "pass"), // re-exported imported global: A's storage
        (25, "pass"),
        (26, "skip"), // imports from an unregistered module
        (28, "pass"), // linked through aliases; the global is $A's, re-exported by $B
        (33, "pass"), // 7 + 666 + 9
    ];
    assert_eq!(verdicts(&result), expected, "{:#?}", result.commands);
}
