//! bulkhead benchmark driver.
//!
//! Every program in `bench/programs/` (C, see `bench/programs/bench.h`) is
//! compiled to wasm with clang and then run in several configurations on
//! QEMU (mps2-an386, Cortex-M4F): compiled by bulkhead with each bounds
//! mode and optimization level, and the same C compiled natively by
//! arm-none-eabi-gcc. Each run's `run()` result must equal wasmi's (the
//! reference) and the program's recorded known answer; a QEMU TCG plugin
//! (`bench/icount`) counts the instructions `run()` executes. Code size is
//! the executable sections of the module's object; compile time is the
//! median wall time of several in-process compilations.

pub mod image;
pub mod program;
pub mod report;
pub mod svg;
pub mod tools;

use bulkhead::BoundsMode;
use program::Program;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub enum BenchError {
    Tool {
        tool: String,
        message: String,
    },
    Io {
        what: String,
        error: std::io::Error,
    },
    Program {
        program: String,
        message: String,
    },
    Compile {
        program: String,
        config: String,
        message: String,
    },
    Elf(String),
    /// The guest did not report a result (trap, fault, hang, bad output).
    Guest {
        image: String,
        message: String,
    },
    Reference {
        program: String,
        message: String,
    },
    /// Bad options (unknown configuration, no programs).
    Usage(String),
}

impl BenchError {
    pub fn io(what: impl Into<String>, error: std::io::Error) -> BenchError {
        BenchError::Io { what: what.into(), error }
    }
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::Tool { tool, message } => write!(f, "{tool}: {message}"),
            BenchError::Io { what, error } => write!(f, "{what}: {error}"),
            BenchError::Program { program, message } => write!(f, "program {program}: {message}"),
            BenchError::Compile { program, config, message } => {
                write!(f, "program {program}, configuration {config}: bulkhead failed: {message}")
            }
            BenchError::Elf(m) => write!(f, "ELF: {m}"),
            BenchError::Guest { image, message } => write!(f, "running {image}: {message}"),
            BenchError::Reference { program, message } => {
                write!(f, "program {program}: wasmi: {message}")
            }
            BenchError::Usage(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for BenchError {}

/// How a program is compiled and run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Config {
    /// bulkhead's default memory model: one native region per memory.
    Structural { bounds: BoundsMode, opt_level: u8 },
    /// The C source compiled by arm-none-eabi-gcc with `opt` (`-O2`, `-Os`).
    Native { opt: &'static str },
    /// The wasm module through wabt's wasm2c, then arm-none-eabi-gcc `-O2`
    /// (the usual peer path; range checks in C on every access).
    Wasm2c,
}

impl Config {
    /// Every configuration, in table order.
    pub fn all() -> Vec<Config> {
        vec![
            Config::Structural { bounds: BoundsMode::Checked, opt_level: 2 },
            Config::Structural { bounds: BoundsMode::None, opt_level: 2 },
            Config::Structural { bounds: BoundsMode::Checked, opt_level: 0 },
            Config::Structural { bounds: BoundsMode::None, opt_level: 0 },
            Config::Wasm2c,
            Config::Native { opt: "-O2" },
            Config::Native { opt: "-Os" },
        ]
    }

    pub fn name(&self) -> String {
        match self {
            Config::Structural { bounds, opt_level } => {
                let bounds = match bounds {
                    BoundsMode::Checked => "checked",
                    BoundsMode::None => "none",
                    _ => "mask",
                };
                format!("structural-{bounds}-O{opt_level}")
            }
            Config::Native { opt } => format!("native-gcc{opt}"),
            Config::Wasm2c => "wasm2c-gcc-O2".into(),
        }
    }

    fn is_bulkhead(&self) -> bool {
        matches!(self, Config::Structural { .. })
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct SuiteOptions {
    /// One iteration, no compile timing: the CI correctness check.
    pub fast: bool,
    /// Compilations timed per bulkhead configuration (median reported).
    pub compile_runs: usize,
    /// Program names to run (all if `None`).
    pub programs: Option<Vec<String>>,
    /// Configuration names to run (all if `None`).
    pub configs: Option<Vec<String>>,
    /// Worker threads (programs run in parallel).
    pub jobs: usize,
    /// Wall-clock limit of one QEMU run.
    pub run_limit: Duration,
}

impl Default for SuiteOptions {
    fn default() -> Self {
        SuiteOptions {
            fast: false,
            compile_runs: 9,
            programs: None,
            configs: None,
            jobs: 2,
            run_limit: Duration::from_secs(60),
        }
    }
}

/// One program in one configuration.
#[derive(Clone, Debug)]
pub struct Measurement {
    pub program: String,
    pub config: String,
    pub result: u32,
    pub instructions: u64,
    /// Executable bytes of the module's object (bulkhead: all functions,
    /// `instantiate` and runtime helpers; gcc: the program's functions).
    pub text_bytes: u64,
    /// Median compile wall time (bulkhead configurations, not in fast mode).
    pub compile_time: Option<Duration>,
}

/// Everything one suite run produced. `failures` lists every mismatch or
/// error; the run failed iff it is not empty.
#[derive(Debug, Default)]
pub struct SuiteReport {
    pub programs: Vec<String>,
    pub configs: Vec<String>,
    pub measurements: Vec<Measurement>,
    /// Per program: the reference (wasmi) result.
    pub reference: Vec<(String, u32)>,
    pub failures: Vec<String>,
    pub wall_time: Duration,
}

const WORKER_STACK: usize = 64 << 20;

pub fn programs_dir() -> PathBuf {
    tools::workspace_root().join("bench/programs")
}

/// Runs the suite. Errors of single programs or configurations are
/// collected in [`SuiteReport::failures`]; `Err` only for set-up problems.
pub fn run_suite(options: &SuiteOptions) -> Result<SuiteReport, BenchError> {
    let start = Instant::now();
    let programs = program::discover(&programs_dir(), options.programs.as_deref())?;
    if programs.is_empty() {
        return Err(BenchError::Usage(format!("no programs found in {}", programs_dir().display())));
    }
    // Set-up failures (tools, plugin) are reported once, not per program.
    image::runtime()?;
    image::plugin()?;
    let work = tools::target_dir().join("bulkhead-bench").join(format!("work-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| BenchError::io(format!("creating {}", work.display()), e))?;

    let mut configs = Config::all();
    if let Some(only) = &options.configs {
        for wanted in only {
            if !configs.iter().any(|c| &c.name() == wanted) {
                let known: Vec<String> = configs.iter().map(Config::name).collect();
                return Err(BenchError::Usage(format!(
                    "unknown configuration `{wanted}` (known: {})",
                    known.join(", ")
                )));
            }
        }
        configs.retain(|c| only.contains(&c.name()));
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    let spawn_error = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.max(1) {
            // The compiler recurses deeply on big functions: give workers
            // the main thread's stack size, not the 2 MiB default.
            let worker = std::thread::Builder::new().stack_size(WORKER_STACK).spawn_scoped(scope, || loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(p) = programs.get(i) else { break };
                let outcome = run_program(p, &configs, options, &work);
                results.lock().unwrap_or_else(|e| e.into_inner()).push((i, outcome));
            });
            if let Err(e) = worker {
                spawn_error.lock().unwrap_or_else(|e| e.into_inner()).replace(e);
            }
        }
    });
    let _ = std::fs::remove_dir_all(&work);
    if let Some(e) = spawn_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(BenchError::io("starting a worker thread", e));
    }

    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(i, _)| *i);
    let mut report = SuiteReport {
        programs: programs.iter().map(|p| p.name.clone()).collect(),
        configs: configs.iter().map(Config::name).collect(),
        ..SuiteReport::default()
    };
    for (_, outcome) in results {
        report.measurements.extend(outcome.measurements);
        report.reference.extend(outcome.reference);
        report.failures.extend(outcome.failures);
    }
    report.wall_time = start.elapsed();
    Ok(report)
}

#[derive(Default)]
struct ProgramOutcome {
    measurements: Vec<Measurement>,
    reference: Option<(String, u32)>,
    failures: Vec<String>,
}

fn run_program(p: &Program, configs: &[Config], options: &SuiteOptions, work: &Path) -> ProgramOutcome {
    let mut out = ProgramOutcome::default();
    let wasm = match program::build_wasm(p, work) {
        Ok(w) => w,
        Err(e) => {
            out.failures.push(e.to_string());
            return out;
        }
    };
    let reference = match reference_result(&p.name, &wasm) {
        Ok(r) => r,
        Err(e) => {
            out.failures.push(e.to_string());
            return out;
        }
    };
    out.reference = Some((p.name.clone(), reference));
    match p.expected {
        Some(expected) if expected != reference => out.failures.push(format!(
            "program {}: wasmi returned {reference:#010x}, the source's `expect:` line says {expected:#010x}",
            p.name
        )),
        Some(_) => {}
        None => out.failures.push(format!(
            "program {}: no `// expect: 0x...` line in {} (wasmi returned {reference:#010x})",
            p.name,
            p.source.display()
        )),
    }
    if reference == program_kat_failed() {
        out.failures.push(format!("program {}: its known-answer self-check failed under wasmi", p.name));
    }
    for config in configs {
        match measure(p, &wasm, config, options, work) {
            Ok(m) => {
                if m.result != reference {
                    out.failures.push(format!(
                        "program {}, configuration {}: run() returned {:#010x}, wasmi {reference:#010x}",
                        p.name, m.config, m.result
                    ));
                }
                out.measurements.push(m);
            }
            Err(e) => out.failures.push(format!("program {}, configuration {}: {e}", p.name, config.name())),
        }
    }
    out
}

/// `BENCH_KAT_FAILED` in bench.h.
fn program_kat_failed() -> u32 {
    0xBAD0_BAD0
}

/// Stack of the thread running wasmi. wasmi 2's executor relies on its
/// handlers' calls being turned into jumps; with debug assertions (our dev
/// profile) they are not, and its native stack grows with the number of
/// executed instructions (wasmi issue #1807): `ringbuf` overflows 64 MiB
/// and needs about 100 MiB. The reservation is virtual; only the touched
/// part costs memory.
const REFERENCE_STACK: usize = 1 << 30;

/// `run()` under wasmi (on its own thread, see [`REFERENCE_STACK`]).
pub fn reference_result(program: &str, wasm: &[u8]) -> Result<u32, BenchError> {
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .stack_size(REFERENCE_STACK)
            .spawn_scoped(scope, || reference_on_this_thread(program, wasm))
            .map_err(|e| BenchError::io("starting the wasmi thread", e))?;
        worker.join().unwrap_or_else(|_| {
            Err(BenchError::Reference { program: program.into(), message: "wasmi panicked".into() })
        })
    })
}

fn reference_on_this_thread(program: &str, wasm: &[u8]) -> Result<u32, BenchError> {
    use wasmi::{Engine, Linker, Module, Store};
    let err = |message: String| BenchError::Reference { program: program.into(), message };
    let engine = Engine::default();
    let module = Module::new(&engine, wasm).map_err(|e| err(format!("rejected the module: {e}")))?;
    let mut store = Store::new(&engine, ());
    let linker = <Linker<()>>::new(&engine);
    let instance =
        linker.instantiate_and_start(&mut store, &module).map_err(|e| err(format!("instantiation failed: {e}")))?;
    let run = instance
        .get_typed_func::<(), i32>(&store, "run")
        .map_err(|e| err(format!("no export `run: () -> i32`: {e}")))?;
    run.call(&mut store, ()).map(|v| v as u32).map_err(|e| err(format!("run() trapped: {e}")))
}

fn bulkhead_options(bounds: BoundsMode, opt_level: u8) -> bulkhead::Options {
    bulkhead::Options {
        target: image::TARGET_TRIPLE.into(),
        bounds,
        opt_level,
        name: "bench".into(),
        ..bulkhead::Options::default()
    }
}

fn measure(
    p: &Program,
    wasm: &[u8],
    config: &Config,
    options: &SuiteOptions,
    work: &Path,
) -> Result<Measurement, BenchError> {
    let stem = format!("{}.{}", p.name, config.name());
    let (object_path, compile_time) = match config {
        Config::Structural { bounds, opt_level } => {
            let compiler = bulkhead::Compiler::new(bulkhead_options(*bounds, *opt_level));
            let runs = if options.fast { 1 } else { options.compile_runs.max(1) };
            let mut times = Vec::with_capacity(runs);
            let mut artifact = None;
            for _ in 0..runs {
                let t = Instant::now();
                let a = compiler.compile(wasm).map_err(|e| BenchError::Compile {
                    program: p.name.clone(),
                    config: config.name(),
                    message: e.to_string(),
                })?;
                times.push(t.elapsed());
                artifact = Some(a);
            }
            times.sort();
            let artifact = artifact.expect("at least one compilation");
            let path = work.join(format!("{stem}.o"));
            std::fs::write(&path, &artifact.object)
                .map_err(|e| BenchError::io(format!("writing {}", path.display()), e))?;
            (path, if options.fast { None } else { Some(times[times.len() / 2]) })
        }
        Config::Native { opt } => (program::build_native(p, opt, image::GCC_FLAGS, work)?, None),
        Config::Wasm2c => (program::build_wasm2c(p, wasm, image::GCC_FLAGS, work)?, None),
    };
    let object =
        std::fs::read(&object_path).map_err(|e| BenchError::io(format!("reading {}", object_path.display()), e))?;
    let text_bytes = image::text_bytes(&object)?;
    let image_path = work.join(format!("{stem}.elf"));
    let mut objects = vec![object_path.as_path()];
    let wasm2c_runtime;
    if *config == Config::Wasm2c {
        wasm2c_runtime = object_path.with_file_name("wasm2c_rt.o");
        objects.push(&wasm2c_runtime);
    }
    image::link(&objects, &image_path)?;
    let outcome = image::run_counted(&image_path, work, options.run_limit)?;
    debug_assert!(config.is_bulkhead() || compile_time.is_none());
    Ok(Measurement {
        program: p.name.clone(),
        config: config.name(),
        result: outcome.result,
        instructions: outcome.instructions,
        text_bytes,
        compile_time,
    })
}
