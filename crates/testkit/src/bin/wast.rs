//! `wast [--board B] [--target T] [--jobs N] [-O0|-O1|-O2] [--timeout SECS]
//!       [--verbose] FILES_OR_DIRS...`
//!
//! Runs WebAssembly spec-test scripts against bulkhead-compiled code on QEMU
//! (see `bulkhead_testkit::wast_runner`). Prints one line per file, failure
//! details and skip reasons, and as the last line `N passed, M failed, K
//! skipped`. Exits non-zero iff a command failed.

use bulkhead_testkit::wast_runner::{run_file, FileResult, RunnerOptions, Verdict};
use bulkhead_testkit::Board;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const USAGE: &str = "usage: wast [--board mps2-an385|mps2-an386|mps2-an500|mps2-an505] [--target TRIPLE] \
[--jobs N] [-O0|-O1|-O2] [--timeout SECS] [--verbose] FILES_OR_DIRS...";

struct Args {
    opts: RunnerOptions,
    jobs: usize,
    verbose: bool,
    inputs: Vec<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut opts = RunnerOptions::default();
    let mut jobs = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut verbose = false;
    let mut inputs = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--board" => opts.board = value("--board")?.parse::<Board>()?,
            "--target" => opts.target = Some(value("--target")?),
            "--jobs" | "-j" => {
                jobs = value("--jobs")?
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("--jobs needs a positive number\n{USAGE}"))?
            }
            "--timeout" => {
                let secs: f64 = value("--timeout")?
                    .parse()
                    .ok()
                    .filter(|s: &f64| *s > 0.0 && s.is_finite())
                    .ok_or_else(|| format!("--timeout needs a positive number of seconds\n{USAGE}"))?;
                opts.timeout = Duration::from_secs_f64(secs);
            }
            "-O0" => opts.opt_level = 0,
            "-O1" => opts.opt_level = 1,
            "-O2" => opts.opt_level = 2,
            "--verbose" | "-v" => verbose = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            s if s.starts_with('-') => return Err(format!("unknown option `{s}`\n{USAGE}")),
            _ => inputs.push(PathBuf::from(arg)),
        }
    }
    if inputs.is_empty() {
        return Err(format!("no input files\n{USAGE}"));
    }
    Ok(Args { opts, jobs, verbose, inputs })
}

/// `.wast` files under `path` (recursively, sorted), or `path` itself.
fn collect(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for entry in entries {
            if entry.is_dir() || entry.extension().is_some_and(|x| x == "wast") {
                collect(&entry, out)?;
            }
        }
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}

/// `println!` that exits quietly when stdout is closed (`wast ... | head`).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout().lock(), $($arg)*).is_err() {
            std::process::exit(141);
        }
    }};
}

fn print_file(result: &FileResult, verbose: bool) {
    let (p, f, s) = (result.passed(), result.failed(), result.skipped());
    let status = if f == 0 { "PASS" } else { "FAIL" };
    out!("{status} {}: {p} passed, {f} failed, {s} skipped", result.path.display());
    if let Some(e) = &result.error {
        out!("  {}: {e}", result.path.display());
    }
    for c in &result.commands {
        match &c.verdict {
            Verdict::Fail(why) => out!("  {}:{}: {}: {why}", result.path.display(), c.line, c.what),
            Verdict::Skip(why) if verbose => {
                out!("  skipped {}:{}: {}: {why}", result.path.display(), c.line, c.what)
            }
            _ => {}
        }
    }
    for (reason, n) in result.skip_summary() {
        out!("  skipped {n}: {reason}");
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("wast: {e}");
            return ExitCode::from(2);
        }
    };
    let mut files = Vec::new();
    for input in &args.inputs {
        if let Err(e) = collect(input, &mut files) {
            eprintln!("wast: {e}");
            return ExitCode::from(2);
        }
    }

    // Workers take files from a shared queue; results are printed in input
    // order as soon as every earlier file is done.
    let queue = Arc::new(Mutex::new(files.iter().cloned().enumerate().collect::<Vec<_>>().into_iter()));
    let (tx, rx) = mpsc::channel::<(usize, FileResult)>();
    let mut workers = Vec::new();
    for _ in 0..args.jobs.min(files.len().max(1)) {
        let queue = Arc::clone(&queue);
        let tx = tx.clone();
        let opts = args.opts.clone();
        workers.push(std::thread::spawn(move || loop {
            let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
            let Some((index, path)) = next else { break };
            let result = std::panic::catch_unwind(|| run_file(&path, &opts)).unwrap_or_else(|panic| {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                FileResult { path: path.clone(), commands: Vec::new(), error: Some(format!("runner panicked: {msg}")) }
            });
            if tx.send((index, result)).is_err() {
                break;
            }
        }));
    }
    drop(tx);

    let mut done: Vec<Option<FileResult>> = files.iter().map(|_| None).collect();
    let mut next_to_print = 0;
    let (mut passed, mut failed, mut skipped) = (0usize, 0usize, 0usize);
    for (index, result) in rx {
        done[index] = Some(result);
        while let Some(Some(result)) = done.get(next_to_print) {
            print_file(result, args.verbose);
            passed += result.passed();
            failed += result.failed();
            skipped += result.skipped();
            next_to_print += 1;
        }
    }
    for w in workers {
        let _ = w.join();
    }
    out!("{passed} passed, {failed} failed, {skipped} skipped");
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
