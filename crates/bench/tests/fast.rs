//! The CI correctness check: every program in every configuration, once.
//! Every configuration's `run()` must equal wasmi's result and the
//! program's recorded known answer (see `bulkhead_bench::run_suite`).
//!
//! Needs clang (wasm32), wasm-ld, arm-none-eabi-gcc and qemu-system-arm 10
//! with plugin support (scripts/setup.sh installs them).

use bulkhead_bench::{run_suite, SuiteOptions};

#[test]
fn every_program_agrees_with_wasmi_in_every_configuration() {
    let options = SuiteOptions { fast: true, ..SuiteOptions::default() };
    let report = run_suite(&options).unwrap_or_else(|e| panic!("benchmark set-up failed: {e}"));
    assert!(report.programs.len() >= 12, "expected at least 12 programs, found {:?}", report.programs);
    assert!(report.failures.is_empty(), "{} failures:\n{}", report.failures.len(), report.failures.join("\n"));
    assert_eq!(report.measurements.len(), report.programs.len() * report.configs.len());
    for m in &report.measurements {
        assert!(
            m.instructions > 1000,
            "{} / {}: implausible instruction count {}",
            m.program,
            m.config,
            m.instructions
        );
        assert!(m.text_bytes > 0, "{} / {}: no code", m.program, m.config);
    }
    eprintln!(
        "fast mode: {} programs × {} configurations in {:.1} s",
        report.programs.len(),
        report.configs.len(),
        report.wall_time.as_secs_f64()
    );
}
