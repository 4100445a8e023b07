//! The results file (`bench/results/latest.json`) and the markdown table
//! (`docs/benchmarks.md`).

use crate::{image, svg, tools, SuiteReport};
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;

/// Where and with what the suite ran.
#[derive(Clone, Debug)]
pub struct Environment {
    pub date: String,
    pub machine: String,
    pub commit: String,
    pub tools: Vec<(String, String)>,
}

impl Environment {
    pub fn collect() -> Environment {
        let sh = |cmd: &str, args: &[&str]| {
            Command::new(cmd)
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_else(|| "unknown".into())
        };
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|m| m.trim().to_string())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let root = tools::workspace_root();
        let root_s = root.to_string_lossy().to_string();
        let commit = sh("git", &["-C", &root_s, "rev-parse", "--short", "HEAD"]);
        let dirty = !sh("git", &["-C", &root_s, "status", "--porcelain", "--untracked-files=no"]).is_empty();
        let clang = tools::clang().unwrap_or_else(|_| "clang".into());
        Environment {
            date: sh("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
            machine: format!(
                "{} ({cpu}, {cores} cores; load average {} when the report was written)",
                sh("uname", &["-srm"]),
                std::fs::read_to_string("/proc/loadavg")
                    .ok()
                    .and_then(|l| l.split_whitespace().next().map(str::to_string))
                    .unwrap_or_else(|| "unknown".into())
            ),
            commit: if dirty { format!("{commit} + uncommitted changes") } else { commit },
            tools: vec![
                ("rustc".into(), tools::version_line("rustc")),
                ("clang".into(), tools::version_line(&clang)),
                ("arm-none-eabi-gcc".into(), tools::version_line("arm-none-eabi-gcc")),
                ("qemu".into(), tools::version_line("qemu-system-arm")),
                ("wasm2c (wabt)".into(), tools::version_line("wasm2c")),
                ("wasmi".into(), locked_version("wasmi").unwrap_or_else(|| "2".into())),
            ],
        }
    }
}

/// The version of `package` in the workspace's Cargo.lock.
fn locked_version(package: &str) -> Option<String> {
    let lock = std::fs::read_to_string(tools::workspace_root().join("Cargo.lock")).ok()?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{package}\"") {
            let v = lines.next()?.trim().strip_prefix("version = \"")?.strip_suffix('"')?;
            return Some(v.to_string());
        }
    }
    None
}

fn geomean(values: &[f64]) -> Option<f64> {
    if values.is_empty() || values.iter().any(|v| *v <= 0.0) {
        return None;
    }
    Some((values.iter().map(|v| v.ln()).sum::<f64>() / values.len() as f64).exp())
}

type Table = BTreeMap<(String, String), crate::Measurement>;

fn table(report: &SuiteReport) -> Table {
    report.measurements.iter().map(|m| ((m.program.clone(), m.config.clone()), m.clone())).collect()
}

/// Per configuration: the geometric mean over the programs of
/// `metric(config) / metric(baseline)` (programs missing either are skipped).
fn geomean_ratio(
    report: &SuiteReport,
    t: &Table,
    config: &str,
    baseline: &str,
    metric: impl Fn(&crate::Measurement) -> f64,
) -> Option<f64> {
    let ratios: Vec<f64> = ratios_per_program(report, t, config, baseline, &metric).into_iter().flatten().collect();
    geomean(&ratios)
}

/// Per program (in report order): `metric(config) / metric(baseline)`, or
/// `None` where either was not measured.
fn ratios_per_program(
    report: &SuiteReport,
    t: &Table,
    config: &str,
    baseline: &str,
    metric: &dyn Fn(&crate::Measurement) -> f64,
) -> Vec<Option<f64>> {
    report
        .programs
        .iter()
        .map(|p| {
            let a = t.get(&(p.clone(), config.to_string()))?;
            let b = t.get(&(p.clone(), baseline.to_string()))?;
            Some(metric(a) / metric(b))
        })
        .collect()
}

pub fn to_json(report: &SuiteReport, env: &Environment) -> serde_json::Value {
    let t = table(report);
    let measurements: Vec<_> = report
        .measurements
        .iter()
        .map(|m| {
            json!({
                "program": m.program,
                "config": m.config,
                "result": format!("{:#010x}", m.result),
                "instructions": m.instructions,
                "text_bytes": m.text_bytes,
                "compile_ms": m.compile_time.map(|d| d.as_secs_f64() * 1000.0),
            })
        })
        .collect();
    let mut summary = serde_json::Map::new();
    for config in &report.configs {
        summary.insert(
            config.clone(),
            json!({
                "instructions_vs_native_gcc_O2": geomean_ratio(report, &t, config, "native-gcc-O2", |m| m.instructions as f64),
                "text_vs_native_gcc_Os": geomean_ratio(report, &t, config, "native-gcc-Os", |m| m.text_bytes as f64),
            }),
        );
    }
    json!({
        "schema": 1,
        "date": env.date,
        "machine": env.machine,
        "commit": env.commit,
        "board": image::MACHINE,
        "target": image::TARGET_TRIPLE,
        "tools": env.tools.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "programs": report.programs,
        "configs": report.configs,
        "reference": report.reference.iter().map(|(p, r)| (p.clone(), json!(format!("{r:#010x}")))).collect::<serde_json::Map<_, _>>(),
        "measurements": measurements,
        "geomean": summary,
        "failures": report.failures,
    })
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map(|r| format!("{r:.2}×")).unwrap_or_else(|| "—".into())
}

/// One markdown table: a row per program, a column per configuration,
/// `cell` formats a value and its ratio to `baseline`.
fn metric_table(
    out: &mut String,
    report: &SuiteReport,
    t: &Table,
    baseline: &str,
    metric: &dyn Fn(&crate::Measurement) -> Option<f64>,
    unit: &dyn Fn(f64) -> String,
) {
    let configs: Vec<&String> = report.configs.iter().collect();
    let _ = write!(out, "| program |");
    for c in &configs {
        let _ = write!(out, " {c} |");
    }
    let _ = write!(out, "\n|---|");
    for _ in &configs {
        let _ = write!(out, "---:|");
    }
    out.push('\n');
    let mut ratios: BTreeMap<&String, Vec<f64>> = BTreeMap::new();
    for p in &report.programs {
        let _ = write!(out, "| {p} |");
        let base = t.get(&(p.clone(), baseline.to_string())).and_then(metric);
        for c in &configs {
            match t.get(&(p.clone(), (*c).clone())).and_then(metric) {
                Some(v) => {
                    let ratio = base.filter(|b| *b > 0.0).map(|b| v / b);
                    if let Some(r) = ratio {
                        ratios.entry(c).or_default().push(r);
                    }
                    if c.as_str() == baseline {
                        let _ = write!(out, " {} |", unit(v));
                    } else {
                        let _ = write!(out, " {} ({}) |", unit(v), fmt_ratio(ratio));
                    }
                }
                None => {
                    let _ = write!(out, " — |");
                }
            }
        }
        out.push('\n');
    }
    let _ = write!(out, "| **geomean vs {baseline}** |");
    for c in &configs {
        let _ = write!(out, " **{}** |", fmt_ratio(ratios.get(c).and_then(|r| geomean(r))));
    }
    out.push_str("\n\n");
}

/// Chart files (name in docs/, SVG text): instructions vs `native-gcc-O2`
/// and code size vs `native-gcc-Os`, per program and geometric mean.
pub fn charts(report: &SuiteReport) -> Vec<(&'static str, String)> {
    let t = table(report);
    let mut rows = report.programs.clone();
    rows.push("geomean".into());
    let chart = |title: &str, baseline: &str, shown: &[&str], metric: &dyn Fn(&crate::Measurement) -> f64| {
        let series: Vec<svg::Series> = shown
            .iter()
            .filter(|c| report.configs.iter().any(|k| k == *c))
            .enumerate()
            .map(|(k, config)| {
                let mut values = ratios_per_program(report, &t, config, baseline, metric);
                values.push(geomean_ratio(report, &t, config, baseline, metric));
                svg::Series { name: config.to_string(), color: svg::PALETTE[k % svg::PALETTE.len()], values }
            })
            .collect();
        svg::ratio_chart(title, baseline, &rows, &series)
    };
    vec![
        (
            CHART_INSTRUCTIONS,
            chart(
                "Dynamic instructions",
                "native-gcc-O2",
                &["structural-checked-O2", "structural-none-O2", "wasm2c-gcc-O2", "native-gcc-Os"],
                &|m| m.instructions as f64,
            ),
        ),
        (
            CHART_SIZE,
            chart(
                "Code size",
                "native-gcc-Os",
                &["structural-checked-O2", "structural-none-O2", "wasm2c-gcc-O2", "native-gcc-O2"],
                &|m| m.text_bytes as f64,
            ),
        ),
    ]
}

/// (what, configuration, baseline, metric, target ratio).
type TargetRow<'a> = (&'a str, &'a str, &'a str, &'a dyn Fn(&crate::Measurement) -> f64, f64);

/// The issue-5/issue-6 targets, each with the measured geometric mean and
/// whether it is met; targets whose configurations were not run say so.
fn targets_section(s: &mut String, report: &SuiteReport, t: &Table) {
    let insns = |m: &crate::Measurement| m.instructions as f64;
    let size = |m: &crate::Measurement| m.text_bytes as f64;
    let rows: [TargetRow; 6] = [
        (
            "dynamic instructions, structural vs shared (checked)",
            "structural-checked-O2",
            "shared-checked-O2",
            &insns,
            1.02,
        ),
        (
            "dynamic instructions, structural vs binaryen-lowered (checked)",
            "structural-checked-O2",
            "binaryen-lowered-checked-O2",
            &insns,
            0.85,
        ),
        (
            "dynamic instructions, structural vs native gcc -O2 (checked)",
            "structural-checked-O2",
            "native-gcc-O2",
            &insns,
            1.3,
        ),
        (
            "dynamic instructions, structural vs native gcc -O2 (bounds none)",
            "structural-none-O2",
            "native-gcc-O2",
            &insns,
            1.3,
        ),
        ("code size, structural vs gcc -Os (checked)", "structural-checked-O2", "native-gcc-Os", &size, 1.5),
        ("code size, structural vs gcc -Os (bounds none)", "structural-none-O2", "native-gcc-Os", &size, 1.5),
    ];
    let _ = writeln!(s, "## Where bulkhead stands\n");
    let _ = writeln!(s, "Geometric means over the programs; targets from issues #5 and #6.\n");
    let _ = writeln!(s, "| measure | configuration / baseline | measured | target | met |\n|---|---|---:|---:|---|");
    for (what, config, baseline, metric, target) in rows {
        let measured = geomean_ratio(report, t, config, baseline, metric);
        let (value, met) = match measured {
            Some(r) => (format!("{r:.2}×"), if r <= target { "yes" } else { "**no**" }),
            None => ("not measured".to_string(), "—"),
        };
        let _ = writeln!(s, "| {what} | `{config}` / `{baseline}` | {value} | ≤ {target:.2}× | {met} |");
    }
    // Issue #6: the whole suite at -O2 compiles in at most 2x the time of -O0.
    let total_ms = |config: &str| -> Option<f64> {
        report
            .measurements
            .iter()
            .filter(|m| m.config == config)
            .map(|m| m.compile_time.map(|d| d.as_secs_f64() * 1000.0))
            .sum::<Option<f64>>()
            .filter(|ms| *ms > 0.0)
    };
    let (value, met) = match (total_ms("structural-checked-O2"), total_ms("structural-checked-O0")) {
        (Some(o2), Some(o0)) => {
            let r = o2 / o0;
            (format!("{r:.2}× ({o2:.0} / {o0:.0} ms)"), if r <= 2.0 { "yes" } else { "**no**" })
        }
        _ => ("not measured (fast mode)".to_string(), "—"),
    };
    let _ = writeln!(
        s,
        "| compile time of the whole suite, -O2 vs -O0 (checked; medians) | `structural-checked-O2` / `structural-checked-O0` | {value} | ≤ 2.00× | {met} |"
    );
    let informational: [(&str, &str, &str); 3] = [
        (
            "dynamic instructions, structural vs wasm2c + gcc -O2 (both checked)",
            "structural-checked-O2",
            "wasm2c-gcc-O2",
        ),
        (
            "dynamic instructions, -O2 vs -O0 (checked; issue #6: must be below 1)",
            "structural-checked-O2",
            "structural-checked-O0",
        ),
        (
            "dynamic instructions, bounds checks' cost (checked vs none, -O2)",
            "structural-checked-O2",
            "structural-none-O2",
        ),
    ];
    for (what, config, baseline) in informational {
        let value = geomean_ratio(report, t, config, baseline, insns)
            .map(|r| format!("{r:.2}×"))
            .unwrap_or_else(|| "not measured".into());
        let _ = writeln!(s, "| {what} | `{config}` / `{baseline}` | {value} | — | — |");
    }
    s.push('\n');
}

pub const CHART_INSTRUCTIONS: &str = "benchmarks-instructions.svg";
pub const CHART_SIZE: &str = "benchmarks-size.svg";

pub fn to_markdown(report: &SuiteReport, env: &Environment) -> String {
    let t = table(report);
    let mut s = String::new();
    let _ = writeln!(s, "# Benchmarks\n");
    let _ = writeln!(
        s,
        "Generated by `scripts/bench.sh` (crate `bulkhead-bench`); raw data in \
         [`bench/results/latest.json`](../bench/results/latest.json). Do not edit by hand.\n"
    );
    let _ = writeln!(s, "- date: {}", env.date);
    let _ = writeln!(s, "- machine: {}", env.machine);
    let _ = writeln!(s, "- bulkhead commit: {}", env.commit);
    let _ = writeln!(s, "- board: QEMU `{}` (Cortex-M4F), target `{}`", image::MACHINE, image::TARGET_TRIPLE);
    for (tool, version) in &env.tools {
        let _ = writeln!(s, "- {tool}: {version}");
    }
    let _ = writeln!(
        s,
        "\nPrograms: `bench/programs/*.c` (C, integer only), compiled to wasm by clang `--target=wasm32 -O2 \
         -mbulk-memory` + wasm-ld (one 128 KiB memory), and natively by arm-none-eabi-gcc. Every \
         configuration's `run()` result equals wasmi's and the program's recorded known answer \
         (checksums in the JSON file)."
    );
    let _ = writeln!(s, "\nConfigurations:\n");
    let _ = writeln!(s, "- `structural-<bounds>-O<n>`: bulkhead, one native region per memory, bounds mode `checked` (precise traps) or `none` (trusted), mid-end level 0 or 2;");
    let _ = writeln!(s, "- `wasm2c-gcc-O2`: the same wasm module through wabt's `wasm2c`, compiled by arm-none-eabi-gcc `-O2` with a bare-metal runtime (`bench/runtime/wasm2c_rt.c`); on 32-bit targets wasm2c range-checks every access in C (there is no guard-page mode), so compare it with `structural-checked-O2`;");
    let _ = writeln!(s, "- `native-gcc-O2`, `native-gcc-Os`: the same C with arm-none-eabi-gcc (`-mcpu=cortex-m4 -mfloat-abi=hard`), no wasm sandbox at all.\n");
    targets_section(&mut s, report, &t);
    let _ = writeln!(s, "## Dynamic instructions\n");
    let _ = writeln!(
        s,
        "Guest instructions executed by one call of `run()` (QEMU TCG plugin `bench/icount`: \
         everything between two marker functions around the call, helpers and libgcc included). \
         In parentheses: ratio to `native-gcc-O2`.\n"
    );
    let _ = writeln!(s, "![dynamic instructions relative to gcc -O2]({CHART_INSTRUCTIONS})\n");
    metric_table(&mut s, report, &t, "native-gcc-O2", &|m| Some(m.instructions as f64), &|v| format!("{v:.0}"));
    let _ = writeln!(s, "## Code size\n");
    let _ = writeln!(
        s,
        "Bytes of executable sections in the module's relocatable object (bulkhead: every function, \
         `instantiate` and the runtime helpers it emits; wasm2c: the generated module, without the runtime; gcc: the \
         program's functions). In parentheses: \
         ratio to `native-gcc-Os`.\n"
    );
    let _ = writeln!(s, "![code size relative to gcc -Os]({CHART_SIZE})\n");
    metric_table(&mut s, report, &t, "native-gcc-Os", &|m| Some(m.text_bytes as f64), &|v| format!("{v:.0}"));
    if report.measurements.iter().any(|m| m.compile_time.is_some()) {
        let _ = writeln!(s, "## Compile time\n");
        let _ = writeln!(
            s,
            "Median wall time of in-process `bulkhead::Compiler::compile` calls (debug build of the \
             compiler with `opt-level = 1`, dependencies at 2, as `cargo run` builds it), in ms. In \
             parentheses: ratio to `structural-checked-O0`.\n"
        );
        let mut timed = SuiteReport {
            programs: report.programs.clone(),
            configs: report.configs.iter().filter(|c| c.starts_with("structural")).cloned().collect(),
            ..SuiteReport::default()
        };
        timed.measurements = report.measurements.iter().filter(|m| m.compile_time.is_some()).cloned().collect();
        let tt = table(&timed);
        metric_table(
            &mut s,
            &timed,
            &tt,
            "structural-checked-O0",
            &|m| m.compile_time.map(|d| d.as_secs_f64() * 1000.0),
            &|v| format!("{v:.1}"),
        );
    }
    if !report.failures.is_empty() {
        let _ = writeln!(s, "## Failures\n");
        for f in &report.failures {
            let _ = writeln!(s, "- {f}");
        }
        s.push('\n');
    }
    s
}
