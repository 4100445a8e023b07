//! `bench`: runs the benchmark suite and writes the reports.
//!
//! ```text
//! bench [--fast] [--runs N] [--jobs N] [--programs a,b,...] [--configs c,d,...] [--write|--no-write]
//! ```
//! `--fast`: every program in every configuration once, no compile timing
//! (the CI correctness check); nothing is written unless `--write` is given.
//! Otherwise writes `bench/results/latest.json`, `docs/benchmarks.md` and
//! its SVG charts (`docs/benchmarks-*.svg`).
//! Exit status 1 if any configuration disagrees with wasmi or fails.

use bulkhead_bench::{report, run_suite, tools, SuiteOptions};
use std::process::ExitCode;

fn usage() -> &'static str {
    "usage: bench [--fast] [--runs N] [--jobs N] [--programs a,b,...] [--configs c,d,...] [--write | --no-write]"
}

fn main() -> ExitCode {
    let mut options = SuiteOptions::default();
    let mut write: Option<bool> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> Result<usize, String> {
            args.next()
                .and_then(|v| v.parse::<usize>().ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{name} needs a positive number"))
        };
        let parsed = match arg.as_str() {
            "--fast" => {
                options.fast = true;
                Ok(())
            }
            "--runs" => number("--runs").map(|n| options.compile_runs = n),
            "--jobs" => number("--jobs").map(|n| options.jobs = n),
            "--programs" => match args.next() {
                Some(list) => {
                    options.programs = Some(list.split(',').map(|s| s.trim().to_string()).collect());
                    Ok(())
                }
                None => Err("--programs needs a comma-separated list".to_string()),
            },
            "--configs" => match args.next() {
                Some(list) => {
                    options.configs = Some(list.split(',').map(|s| s.trim().to_string()).collect());
                    Ok(())
                }
                None => Err("--configs needs a comma-separated list".to_string()),
            },
            "--write" => {
                write = Some(true);
                Ok(())
            }
            "--no-write" => {
                write = Some(false);
                Ok(())
            }
            "-h" | "--help" => {
                println!("{}", usage());
                return ExitCode::SUCCESS;
            }
            other => Err(format!("unknown argument `{other}`")),
        };
        if let Err(message) = parsed {
            eprintln!("bench: {message}\n{}", usage());
            return ExitCode::from(2);
        }
    }
    let write = write.unwrap_or(!options.fast);

    let report = match run_suite(&options) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let env = report::Environment::collect();
    let markdown = report::to_markdown(&report, &env);
    println!("{markdown}");
    if write {
        let root = tools::workspace_root();
        let json_path = root.join("bench/results/latest.json");
        let md_path = root.join("docs/benchmarks.md");
        let json = serde_json::to_string_pretty(&report::to_json(&report, &env)).unwrap_or_default();
        let written = std::fs::create_dir_all(root.join("bench/results"))
            .and_then(|_| std::fs::write(&json_path, json + "\n"))
            .and_then(|_| std::fs::write(&md_path, &markdown))
            .and_then(|_| {
                report::charts(&report)
                    .into_iter()
                    .try_for_each(|(name, svg)| std::fs::write(root.join("docs").join(name), svg))
            });
        if let Err(e) = written {
            eprintln!("bench: writing the reports: {e}");
            return ExitCode::FAILURE;
        }
        eprintln!("bench: wrote {}, {} and its charts", json_path.display(), md_path.display());
    }
    let agreeing = report
        .measurements
        .iter()
        .filter(|m| report.reference.iter().any(|(p, r)| p == &m.program && *r == m.result))
        .count();
    eprintln!(
        "bench: {} programs × {} configurations: {agreeing} runs agree with wasmi, {} failures, {:.1} s",
        report.programs.len(),
        report.configs.len(),
        report.failures.len(),
        report.wall_time.as_secs_f64()
    );
    if report.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        for f in &report.failures {
            eprintln!("bench: FAILED: {f}");
        }
        ExitCode::FAILURE
    }
}
