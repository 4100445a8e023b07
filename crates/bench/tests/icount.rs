//! The instruction counter against an independent oracle: a hand-written
//! Thumb-2 `bench_run` whose dynamic instruction count is known exactly
//! from its source, linked into the same runtime as the benchmarks.

use bulkhead_bench::image;
use std::process::Command;
use std::time::Duration;

/// Assembles `body` as `bench_run`, links and runs it; returns the count.
fn count(name: &str, body: &str) -> (u32, u64) {
    let work = bulkhead_bench::tools::target_dir()
        .join("bulkhead-bench")
        .join(format!("icount-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let src = work.join("run.S");
    std::fs::write(
        &src,
        format!(
            "    .syntax unified\n    .thumb\n    .text\n    .global bench_run\n    .type bench_run, %function\n    .thumb_func\nbench_run:\n{body}\n"
        ),
    )
    .unwrap();
    let obj = work.join("run.o");
    let status = Command::new("arm-none-eabi-as").args(["-mcpu=cortex-m4", "-o"]).arg(&obj).arg(&src).status().unwrap();
    assert!(status.success(), "assembling {name}");
    let elf = work.join("run.elf");
    image::link(&[&obj], &elf).unwrap_or_else(|e| panic!("{e}"));
    let outcome = image::run_counted(&elf, &work, Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::remove_dir_all(&work);
    (outcome.result, outcome.instructions)
}

#[test]
fn counts_exactly_the_instructions_run_executes() {
    // `bx lr` alone: the window's fixed overhead (markers and call).
    let (r0, empty) = count("empty", "    movs r0, #7\n    bx lr");
    assert_eq!(r0, 7);
    // 1 + 1000 * 3 (adds, subs, bne) + 1 (bx) = 3002 instructions, i.e.
    // 3000 more than the two-instruction empty body.
    let (r1, looped) = count(
        "loop",
        "    movw r1, #1000\n    movs r0, #0\n1:  adds r0, r0, #2\n    subs r1, r1, #1\n    bne 1b\n    bx lr",
    );
    assert_eq!(r1, 2000);
    assert_eq!(looped - empty, 1 + 3 * 1000, "empty window {empty}, loop {looped}");
    assert!(empty <= 8, "the window's fixed overhead should be a few instructions, is {empty}");
}
