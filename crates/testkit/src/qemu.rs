//! Running compiled modules on QEMU Cortex-M boards.
//!
//! One image per module instance: a runtime compiled once per board
//! (`runtime/start.S`, `runtime/harness.c`: vector table, reset, fault
//! handlers that turn `UDF #code` into a trap report and resume the call
//! loop, semihosting output), a per-module call table generated here as
//! assembly (no C compiler per module: only `as` and `ld`), and the module's
//! object. The guest prints one line per call (protocol in harness.c) which
//! [`run_object`] turns into a [`RunReport`].
//!
//! Argument words are marshalled here following the AAPCS (base standard on
//! soft-float boards, VFP variant on `eabihf` boards) so the runtime's
//! generic trampoline can call any signature of up to 4 core-register words
//! plus stack words plus s0-s15.

use bulkhead_elf::SymbolNames;
use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

const START_S: &str = include_str!("../runtime/start.S");
const HARNESS_C: &str = include_str!("../runtime/harness.c");
const SPECTEST_C: &str = include_str!("../runtime/spectest.c");

/// Words in `struct bh_call` (runtime/harness.c).
const CALL_WORDS: usize = 25;

/// A QEMU MPS2 board with a Cortex-M CPU.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum Board {
    /// Cortex-M3, no FPU (soft-float ABI).
    Mps2An385,
    /// Cortex-M4 with single-precision FPU (hard-float ABI). The default.
    #[default]
    Mps2An386,
    /// Cortex-M7 with double-precision FPU (hard-float ABI).
    Mps2An500,
    /// Cortex-M33 (ARMv8-M Mainline, Security Extension: runs Secure) with
    /// single-precision FPU (hard-float ABI).
    Mps2An505,
}

/// Physical memory used by the image on a board.
#[derive(Copy, Clone, Debug)]
struct MemoryMap {
    /// Vectors, code and read-only data.
    code: (u64, u64),
    /// Harness data, stacks.
    ram: (u64, u64),
    /// The modules' linear memories (`.bulkhead.mem.*`).
    psram: (u64, u64),
}

const MIB: u64 = 1 << 20;

impl Board {
    pub const ALL: [Board; 4] = [Board::Mps2An385, Board::Mps2An386, Board::Mps2An500, Board::Mps2An505];

    /// QEMU machine name (`-M`).
    pub fn machine(self) -> &'static str {
        match self {
            Board::Mps2An385 => "mps2-an385",
            Board::Mps2An386 => "mps2-an386",
            Board::Mps2An500 => "mps2-an500",
            Board::Mps2An505 => "mps2-an505",
        }
    }

    /// LLVM-style target triple for the board's CPU and float ABI.
    pub fn target_triple(self) -> &'static str {
        match self {
            Board::Mps2An385 => "thumbv7m-none-eabi",
            Board::Mps2An386 | Board::Mps2An500 => "thumbv7em-none-eabihf",
            Board::Mps2An505 => "thumbv8m.main-none-eabihf",
        }
    }

    /// CPU name as GCC and LLVM spell it.
    pub fn cpu(self) -> &'static str {
        match self {
            Board::Mps2An385 => "cortex-m3",
            Board::Mps2An386 => "cortex-m4",
            Board::Mps2An500 => "cortex-m7",
            Board::Mps2An505 => "cortex-m33",
        }
    }

    /// Whether floats are passed in VFP registers (AAPCS-VFP).
    pub fn hard_float(self) -> bool {
        !matches!(self, Board::Mps2An385)
    }

    /// GCC flags selecting the CPU and float ABI.
    pub fn gcc_flags(self) -> &'static [&'static str] {
        match self {
            Board::Mps2An385 => &["-mthumb", "-mcpu=cortex-m3", "-mfloat-abi=soft"],
            Board::Mps2An386 => &["-mthumb", "-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"],
            Board::Mps2An500 => &["-mthumb", "-mcpu=cortex-m7", "-mfpu=fpv5-d16", "-mfloat-abi=hard"],
            Board::Mps2An505 => &["-mthumb", "-mcpu=cortex-m33", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard"],
        }
    }

    fn memory_map(self) -> MemoryMap {
        // From QEMU hw/arm/mps2.c and mps2-tz.c (checked by booting):
        // AN385/AN386: SSRAM1 4 MiB at 0, SSRAM2/3 4 MiB at 0x2000_0000,
        // PSRAM 16 MiB at 0x2100_0000. AN500: PSRAM at 0x6000_0000.
        // AN505 boots Secure: SSRAM1 at its Secure alias 0x1000_0000,
        // SSRAM2/3 at 0x3800_0000, PSRAM 16 MiB at 0x8000_0000.
        match self {
            Board::Mps2An385 | Board::Mps2An386 => {
                MemoryMap { code: (0, 4 * MIB), ram: (0x2000_0000, 4 * MIB), psram: (0x2100_0000, 16 * MIB) }
            }
            Board::Mps2An500 => {
                MemoryMap { code: (0, 4 * MIB), ram: (0x2000_0000, 4 * MIB), psram: (0x6000_0000, 16 * MIB) }
            }
            Board::Mps2An505 => MemoryMap {
                code: (0x1000_0000, 4 * MIB),
                ram: (0x3800_0000, 4 * MIB),
                psram: (0x8000_0000, 16 * MIB),
            },
        }
    }

    /// Bytes available for the linear memories of one module (all its
    /// `.bulkhead.mem.*` sections, including alignment padding).
    pub fn linear_memory_budget(self) -> u64 {
        self.memory_map().psram.1
    }
}

impl fmt::Display for Board {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.machine())
    }
}

impl FromStr for Board {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let key = s.trim().to_ascii_lowercase();
        let key = key.strip_prefix("mps2-").unwrap_or(&key);
        match key {
            "an385" | "m3" | "cortex-m3" => Ok(Board::Mps2An385),
            "an386" | "m4" | "m4f" | "cortex-m4" => Ok(Board::Mps2An386),
            "an500" | "m7" | "cortex-m7" => Ok(Board::Mps2An500),
            "an505" | "m33" | "cortex-m33" => Ok(Board::Mps2An505),
            _ => Err(format!(
                "unknown board `{s}` (expected one of mps2-an385, mps2-an386, mps2-an500, mps2-an505)"
            )),
        }
    }
}

/// A wasm value type, as the harness passes and returns it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ValType {
    I32,
    I64,
    F32,
    F64,
}

/// A wasm value; floats as their bit patterns.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Val {
    I32(u32),
    I64(u64),
    F32(u32),
    F64(u64),
}

impl Val {
    pub fn ty(self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
        }
    }
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Val::I32(v) => write!(f, "i32:{v:#x}"),
            Val::I64(v) => write!(f, "i64:{v:#x}"),
            Val::F32(v) => write!(f, "f32:{v:#010x}({})", f32::from_bits(v)),
            Val::F64(v) => write!(f, "f64:{v:#018x}({})", f64::from_bits(v)),
        }
    }
}

/// One call of an exported function.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// The wasm export name (sanitized into a symbol by the harness).
    pub export: String,
    pub params: Vec<Val>,
    pub results: Vec<ValType>,
}

/// One step of a run: a call, or reading an exported global.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Invoke(Call),
    /// Read the exported global's storage (symbol `NAME_<export>`).
    GetGlobal { export: String, ty: ValType },
    /// Read a global's storage by its symbol (e.g. a re-exported imported
    /// global, which has no `NAME_<export>` alias: read the import's symbol).
    ReadSymbol { symbol: String, ty: ValType },
}

/// What happened to one action.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Returned(Vec<Val>),
    /// `UDF #code`: a wasm trap (see `bulkhead_ir::TrapCode`).
    Trapped(u8),
    /// Any other fault (description: exception, CFSR, MMFAR, BFAR, PC).
    Fault(String),
    /// The guest was killed while this action was in progress.
    Timeout,
    /// An earlier action hung the guest, or instantiation failed.
    NotReached,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RunReport {
    /// `Err(code)`: `NAME__instantiate` returned the nonzero trap code or
    /// trapped with it; `Err(0)` if it faulted or hung (see
    /// `instantiate_outcome`).
    pub instantiate: Result<(), u8>,
    /// Detailed outcome of `NAME__instantiate`: `Returned([I32(rc)])`,
    /// `Trapped`, `Fault` or `Timeout`.
    pub instantiate_outcome: Outcome,
    /// One per action, in order.
    pub outcomes: Vec<Outcome>,
    /// Per memory after the last action: (current size in bytes, FNV-1a 64
    /// hash of bytes [0, size)). Empty if the guest did not get that far.
    pub memories: Vec<(u64, u64)>,
    /// The guest's raw output.
    pub log: String,
    /// Time spent assembling and linking / running QEMU.
    pub build_time: Duration,
    pub run_time: Duration,
}

#[derive(Debug)]
pub enum HarnessError {
    /// A tool (gcc, as, ld, qemu) could not be started or failed.
    Tool { tool: String, message: String },
    Io { what: String, error: std::io::Error },
    /// The harness cannot express this call (e.g. multiple results).
    Unsupported(String),
    /// The guest output does not follow the protocol.
    Protocol { message: String, log: String },
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HarnessError::Tool { tool, message } => write!(f, "{tool}: {message}"),
            HarnessError::Io { what, error } => write!(f, "{what}: {error}"),
            HarnessError::Unsupported(m) => write!(f, "unsupported by the test harness: {m}"),
            HarnessError::Protocol { message, log } => {
                write!(f, "unexpected guest output: {message}\n--- guest output ---\n{log}")
            }
        }
    }
}

impl std::error::Error for HarnessError {}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> HarnessError {
    let what = what.into();
    move |error| HarnessError::Io { what, error }
}

/// A relocatable object following the bulkhead embedder ABI.
#[derive(Clone, Copy, Debug)]
pub struct ObjectModule<'a> {
    pub object: &'a [u8],
    /// Module name `NAME`: symbols are `NAME_<export>`, `NAME__instantiate`,
    /// `NAME__memories`.
    pub name: &'a str,
    pub num_memories: u32,
}

#[cfg(feature = "facade")]
/// Runs `calls` in order against one instance of the compiled module.
pub fn run_module(
    artifact: &bulkhead::Artifact,
    calls: &[Call],
    board: Board,
    timeout: Duration,
) -> Result<RunReport, HarnessError> {
    let actions: Vec<Action> = calls.iter().cloned().map(Action::Invoke).collect();
    run_actions(artifact, &actions, board, timeout)
}

#[cfg(feature = "facade")]
/// Like [`run_module`], with global reads.
pub fn run_actions(
    artifact: &bulkhead::Artifact,
    actions: &[Action],
    board: Board,
    timeout: Duration,
) -> Result<RunReport, HarnessError> {
    if artifact.isa.hard_float != board.hard_float() {
        return Err(HarnessError::Unsupported(format!(
            "the module was compiled for {:?} ({} float ABI) but {board} uses the {} float ABI",
            artifact.isa.cpu,
            if artifact.isa.hard_float { "hard" } else { "soft" },
            if board.hard_float() { "hard" } else { "soft" }
        )));
    }
    let module = ObjectModule {
        object: &artifact.object,
        name: artifact.symbols.module(),
        num_memories: artifact.env.memories.len() as u32,
    };
    run_object(&module, actions, board, timeout)
}

/// One step of a multi-module run.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Call module `j`'s `NAME__instantiate`.
    Instantiate(usize),
    /// An action on module `j` (not run if its instantiation failed).
    Act(usize, Action),
}

/// Result of [`run_linked`].
#[derive(Clone, Debug, PartialEq)]
pub struct LinkedReport {
    /// One per step. An instantiation returns `Returned([I32(rc)])`; an
    /// action on a module that is not instantiated is `NotReached`.
    pub outcomes: Vec<Outcome>,
    /// Per module: its memories after the last step (empty for modules
    /// that were not instantiated, and all empty after a timeout).
    pub memories: Vec<Vec<(u64, u64)>>,
    pub log: String,
    pub build_time: Duration,
    pub run_time: Duration,
}

/// Runs `actions` in order against one instance of `module` on `board`; the
/// guest is killed after using `timeout` of CPU time (or 4× that of wall
/// time).
pub fn run_object(
    module: &ObjectModule<'_>,
    actions: &[Action],
    board: Board,
    timeout: Duration,
) -> Result<RunReport, HarnessError> {
    let steps: Vec<Step> =
        std::iter::once(Step::Instantiate(0)).chain(actions.iter().cloned().map(|a| Step::Act(0, a))).collect();
    let linked = run_linked(std::slice::from_ref(module), &steps, board, timeout)?;
    let mut outcomes = linked.outcomes.into_iter();
    let instantiate_outcome = outcomes.next().unwrap_or(Outcome::NotReached);
    let instantiate = match &instantiate_outcome {
        Outcome::Returned(v) if v == &[Val::I32(0)] => Ok(()),
        Outcome::Returned(v) => match v.first() {
            Some(Val::I32(rc)) => Err((*rc).min(255) as u8),
            _ => Err(0),
        },
        Outcome::Trapped(code) => Err(*code),
        _ => Err(0),
    };
    Ok(RunReport {
        instantiate,
        instantiate_outcome,
        outcomes: outcomes.collect(),
        memories: linked.memories.into_iter().next().unwrap_or_default(),
        log: linked.log,
        build_time: linked.build_time,
        run_time: linked.run_time,
    })
}

/// Links `modules` (their imports resolved against each other's exports,
/// the `spectest` module of the spec tests and libgcc) into one image and
/// runs `steps` in order in one boot.
pub fn run_linked(
    modules: &[ObjectModule<'_>],
    steps: &[Step],
    board: Board,
    timeout: Duration,
) -> Result<LinkedReport, HarnessError> {
    run_linked_with_aliases(modules, steps, &[], board, timeout)
}

/// [`run_linked`] with extra symbol definitions `(symbol, target symbol)`
/// (`ld --defsym`): resolves imports whose names do not follow the
/// exporter's module name (e.g. a module registered under a name that is
/// not a C identifier).
pub fn run_linked_with_aliases(
    modules: &[ObjectModule<'_>],
    steps: &[Step],
    aliases: &[(String, String)],
    board: Board,
    timeout: Duration,
) -> Result<LinkedReport, HarnessError> {
    let build_start = Instant::now();
    let table = call_table(modules, steps, board)?;
    let runtime = runtime_for(board)?;
    let dir = TempDir::new()?;
    let mut object_paths = Vec::new();
    for (j, module) in modules.iter().enumerate() {
        let path = dir.path.join(format!("module{j}.o"));
        fs::write(&path, module.object).map_err(io_err("writing a module object"))?;
        object_paths.push(path);
    }
    let table_s = dir.path.join("table.S");
    fs::write(&table_s, table).map_err(io_err("writing the call table"))?;
    let table_o = dir.path.join("table.o");
    let mut as_cmd = Command::new("arm-none-eabi-as");
    as_cmd.args(as_flags(board)).arg("-o").arg(&table_o).arg(&table_s);
    run_tool(&mut as_cmd, "arm-none-eabi-as")?;
    let image = dir.path.join("image.elf");
    let mut ld = Command::new("arm-none-eabi-ld");
    ld.arg("-T")
        .arg(&runtime.linker_script)
        .arg("--no-warn-rwx-segments")
        .arg("-o")
        .arg(&image)
        .args(&runtime.objects)
        .arg(&table_o)
        .args(&object_paths)
        .args(aliases.iter().map(|(symbol, target)| format!("--defsym={symbol}={target}")))
        .arg(&runtime.spectest)
        .args(&runtime.libgcc);
    run_tool(&mut ld, "arm-none-eabi-ld")?;
    let build_time = build_start.elapsed();

    let run_start = Instant::now();
    let (log, exit) = run_qemu(board, &image, timeout)?;
    let run_time = run_start.elapsed();
    let mut report = parse_log(&log, exit, steps, modules.len(), board.hard_float())?;
    report.build_time = build_time;
    report.run_time = run_time;
    Ok(report)
}

/// Runs an already linked image, returning its output and the exit status
/// (`None` if killed after the timeout).
pub fn run_qemu(board: Board, image: &Path, timeout: Duration) -> Result<(String, Option<i32>), HarnessError> {
    let mut child = Command::new("qemu-system-arm")
        .args(["-M", board.machine(), "-nographic", "-monitor", "none", "-serial", "none"])
        .args(["-chardev", "stdio,id=bh0"])
        // Without a chardev, semihosting output goes to QEMU's stderr mixed
        // with its diagnostics; route it to stdout instead.
        .args(["-semihosting-config", "enable=on,target=native,chardev=bh0"])
        .arg("-kernel")
        .arg(image)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| HarnessError::Tool { tool: "qemu-system-arm".into(), message: e.to_string() })?;
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    // The limit is on QEMU's CPU time where /proc tells it, so that a loaded
    // machine (parallel tests, builds) does not turn slow runs into
    // timeouts; wall-clock time is capped at a generous multiple.
    let start = Instant::now();
    let wall_limit = timeout.saturating_mul(WALL_CLOCK_FACTOR);
    let mut poll = Duration::from_millis(1);
    let status = loop {
        match child.try_wait().map_err(io_err("waiting for qemu"))? {
            Some(status) => break Some(status),
            None => {
                let elapsed = start.elapsed();
                let used = if elapsed >= timeout { process_cpu_time(child.id()).unwrap_or(elapsed) } else { elapsed };
                if used >= timeout || elapsed >= wall_limit {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                std::thread::sleep(poll);
                poll = (poll * 2).min(Duration::from_millis(20));
            }
        }
    };
    let out = String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned();
    let err = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
    match status {
        None => Ok((out, None)),
        Some(status) => match status.code() {
            Some(code) => {
                if code != 0 && !out.contains('\n') {
                    return Err(HarnessError::Tool {
                        tool: "qemu-system-arm".into(),
                        message: format!("exited with {code} without output: {}", err.trim()),
                    });
                }
                Ok((out, Some(code)))
            }
            None => Err(HarnessError::Tool {
                tool: "qemu-system-arm".into(),
                message: format!("killed by a signal: {status}; {}", err.trim()),
            }),
        },
    }
}

/// Wall-clock cap on a run, as a multiple of its CPU-time limit.
const WALL_CLOCK_FACTOR: u32 = 4;

/// User + system CPU time of a process (Linux /proc), if available.
fn process_cpu_time(pid: u32) -> Option<Duration> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesized command name; utime and stime are the
    // 14th and 15th fields overall, in clock ticks (USER_HZ, 100 on Linux).
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

fn run_tool(cmd: &mut Command, tool: &str) -> Result<(), HarnessError> {
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| HarnessError::Tool { tool: tool.into(), message: format!("cannot run: {e}") })?;
    if !output.status.success() {
        return Err(HarnessError::Tool {
            tool: tool.into(),
            message: format!(
                "failed ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stderr),
                String::from_utf8_lossy(&output.stdout)
            ),
        });
    }
    Ok(())
}

fn as_flags(board: Board) -> Vec<String> {
    board
        .gcc_flags()
        .iter()
        .filter_map(|f| {
            // `as` spells the float ABI differently and does not need it for data.
            if f.starts_with("-mfloat-abi") || *f == "-mthumb" {
                None
            } else {
                Some(f.to_string())
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Call table generation and AAPCS marshalling.

/// Argument words as the runtime's trampoline loads them.
#[derive(Debug, Default, PartialEq, Eq)]
struct Marshalled {
    core: [u32; 4],
    stack: Vec<u32>,
    vfp: [u32; 16],
}

/// AAPCS argument assignment (procedure call standard §6.5 "Parameter
/// passing"): integers in r0-r3, 64-bit values in an even register pair or
/// 8-byte aligned on the stack, never split between registers and stack;
/// with the VFP variant floats go to s0-s15/d0-d7 with back-filling, and
/// once one float went to the stack no later float uses a register.
fn marshal(params: &[Val], hard_float: bool) -> Marshalled {
    let mut m = Marshalled::default();
    let mut ncrn = 0usize; // next core register
    let mut vfp_free = [true; 16];
    let mut vfp_exhausted = false;
    let push_stack = |m: &mut Marshalled, words: &[u32], align8: bool| {
        if align8 && m.stack.len() % 2 == 1 {
            m.stack.push(0);
        }
        m.stack.extend_from_slice(words);
    };
    for &p in params {
        match p {
            Val::F32(bits) if hard_float => {
                let slot = if vfp_exhausted { None } else { vfp_free.iter().position(|f| *f) };
                match slot {
                    Some(s) => {
                        vfp_free[s] = false;
                        m.vfp[s] = bits;
                    }
                    None => {
                        vfp_exhausted = true;
                        push_stack(&mut m, &[bits], false);
                    }
                }
            }
            Val::F64(bits) if hard_float => {
                let slot =
                    if vfp_exhausted { None } else { (0..8).map(|d| 2 * d).find(|&s| vfp_free[s] && vfp_free[s + 1]) };
                match slot {
                    Some(s) => {
                        vfp_free[s] = false;
                        vfp_free[s + 1] = false;
                        m.vfp[s] = bits as u32;
                        m.vfp[s + 1] = (bits >> 32) as u32;
                    }
                    None => {
                        vfp_exhausted = true;
                        vfp_free = [false; 16];
                        push_stack(&mut m, &[bits as u32, (bits >> 32) as u32], true);
                    }
                }
            }
            Val::I32(w) | Val::F32(w) => {
                if ncrn < 4 {
                    m.core[ncrn] = w;
                    ncrn += 1;
                } else {
                    push_stack(&mut m, &[w], false);
                }
            }
            Val::I64(d) | Val::F64(d) => {
                let words = [d as u32, (d >> 32) as u32];
                ncrn += ncrn % 2;
                if ncrn + 2 <= 4 {
                    m.core[ncrn] = words[0];
                    m.core[ncrn + 1] = words[1];
                    ncrn += 2;
                } else {
                    ncrn = 4;
                    push_stack(&mut m, &words, true);
                }
            }
        }
    }
    m
}

fn call_table(modules: &[ObjectModule<'_>], steps: &[Step], board: Board) -> Result<String, HarnessError> {
    use std::fmt::Write as _;
    const MAX_MODULES: usize = 64; // BH_MAX_MODULES in harness.c
    if modules.is_empty() || modules.len() > MAX_MODULES {
        return Err(HarnessError::Unsupported(format!("{} modules in one image (1 to {MAX_MODULES})", modules.len())));
    }
    let names = modules
        .iter()
        .map(|m| SymbolNames::new(m.name).map_err(HarnessError::Unsupported))
        .collect::<Result<Vec<_>, _>>()?;
    let quoted = |symbol: String| format!("\"{symbol}\"");
    let sym = |module: usize, export: &str| quoted(names[module].export_symbol(export));
    let mut s = String::new();
    let _ = writeln!(s, "    .syntax unified\n    .section .rodata.bh_table, \"a\", %progbits\n    .align 2");
    let _ = writeln!(s, "    .global bh_num_calls\nbh_num_calls: .word {}", steps.len());
    let _ = writeln!(s, "    .global bh_num_modules\nbh_num_modules: .word {}", modules.len());
    let _ = writeln!(s, "    .global bh_modules\nbh_modules:");
    for (j, m) in modules.iter().enumerate() {
        if m.num_memories > 0 {
            let _ = writeln!(s, "    .word {}, {}", quoted(names[j].memories_table()), m.num_memories);
        } else {
            let _ = writeln!(s, "    .word 0, 0");
        }
    }
    let mut stacks = String::new();
    let _ = writeln!(s, "    .global bh_calls\nbh_calls:");
    for (i, step) in steps.iter().enumerate() {
        let module = match step {
            Step::Instantiate(j) | Step::Act(j, _) => *j,
        };
        if module >= modules.len() {
            return Err(HarnessError::Unsupported(format!("step {i} refers to module {module} of {}", modules.len())));
        }
        let mut words: Vec<String> = Vec::with_capacity(CALL_WORDS);
        match step {
            Step::Instantiate(_) => {
                words.push("3".into());
                words.push(quoted(names[module].instantiate()));
                words.extend(std::iter::repeat_n("0".to_string(), CALL_WORDS - 3));
            }
            Step::Act(_, Action::Invoke(call)) => {
                if call.results.len() > 1 {
                    return Err(HarnessError::Unsupported(format!(
                        "call of `{}` with {} results (no multi-value return ABI yet)",
                        call.export,
                        call.results.len()
                    )));
                }
                let m = marshal(&call.params, board.hard_float());
                words.push("0".into());
                words.push(sym(module, &call.export));
                words.extend(m.core.iter().map(|w| format!("{w:#x}")));
                words.push(m.stack.len().to_string());
                if m.stack.is_empty() {
                    words.push("0".into());
                } else {
                    words.push(format!("bh_stack_{i}"));
                    let list: Vec<String> = m.stack.iter().map(|w| format!("{w:#x}")).collect();
                    let _ = writeln!(stacks, "    .align 3\nbh_stack_{i}: .word {}", list.join(", "));
                }
                words.extend(m.vfp.iter().map(|w| format!("{w:#x}")));
            }
            Step::Act(_, action @ (Action::GetGlobal { ty, .. } | Action::ReadSymbol { ty, .. })) => {
                let kind = match ty {
                    ValType::I32 | ValType::F32 => 1,
                    ValType::I64 | ValType::F64 => 2,
                };
                words.push(kind.to_string());
                words.push(match action {
                    Action::GetGlobal { export, .. } => sym(module, export),
                    Action::ReadSymbol { symbol, .. } => quoted(symbol.clone()),
                    Action::Invoke(_) => unreachable!(),
                });
                words.extend(std::iter::repeat_n("0".to_string(), CALL_WORDS - 3));
            }
        }
        words.push(module.to_string());
        debug_assert_eq!(words.len(), CALL_WORDS);
        let _ = writeln!(s, "    .word {}", words.join(", "));
    }
    s.push_str(&stacks);
    Ok(s)
}

// ---------------------------------------------------------------------------
// Parsing the guest output.

fn parse_hex(tok: Option<&str>, line: &str, log: &str) -> Result<u32, HarnessError> {
    tok.and_then(|t| u32::from_str_radix(t, 16).ok()).ok_or_else(|| HarnessError::Protocol {
        message: format!("bad number in line `{line}`"),
        log: log.to_string(),
    })
}

fn decode_results(step: &Step, words: &[u32], hard_float: bool) -> Vec<Val> {
    let w = |i: usize| words.get(i).copied().unwrap_or(0);
    let pair = |lo: usize| (w(lo) as u64) | ((w(lo + 1) as u64) << 32);
    match step {
        Step::Instantiate(_) => vec![Val::I32(w(0))],
        Step::Act(_, Action::Invoke(call)) => call
            .results
            .iter()
            .take(1)
            .map(|ty| match ty {
                ValType::I32 => Val::I32(w(0)),
                ValType::I64 => Val::I64(pair(0)),
                ValType::F32 => Val::F32(if hard_float { w(2) } else { w(0) }),
                ValType::F64 => Val::F64(if hard_float { pair(2) } else { pair(0) }),
            })
            .collect(),
        Step::Act(_, Action::GetGlobal { ty, .. } | Action::ReadSymbol { ty, .. }) => vec![match ty {
            ValType::I32 => Val::I32(w(0)),
            ValType::F32 => Val::F32(w(0)),
            ValType::I64 => Val::I64(pair(0)),
            ValType::F64 => Val::F64(pair(0)),
        }],
    }
}

fn parse_log(
    log: &str,
    exit: Option<i32>,
    steps: &[Step],
    num_modules: usize,
    hard_float: bool,
) -> Result<LinkedReport, HarnessError> {
    let protocol = |message: String| HarnessError::Protocol { message, log: log.to_string() };
    let mut outcomes: Vec<Option<Outcome>> = vec![None; steps.len()];
    let mut memories: Vec<Vec<(u64, u64)>> = vec![Vec::new(); num_modules];
    let mut ended = false;
    let mut fatal = None;
    // Only complete lines count: a line cut off by the kill is ignored.
    let complete = match log.rfind('\n') {
        Some(end) => &log[..end],
        None => "",
    };
    for line in complete.lines() {
        let mut toks = line.split_whitespace();
        let Some(tag) = toks.next() else { continue };
        match tag {
            "R" | "T" | "F" | "N" => {
                let index = parse_hex(toks.next(), line, log)? as usize;
                let Some(step) = steps.get(index) else {
                    return Err(protocol(format!("result for unknown step {index}")));
                };
                let outcome = match tag {
                    "R" => {
                        let words =
                            toks.map(|t| parse_hex(Some(t), line, log)).collect::<Result<Vec<u32>, _>>()?;
                        Outcome::Returned(decode_results(step, &words, hard_float))
                    }
                    "T" => Outcome::Trapped(parse_hex(toks.next(), line, log)? as u8),
                    "N" => Outcome::NotReached,
                    _ => Outcome::Fault(toks.collect::<Vec<_>>().join(" ")),
                };
                outcomes[index] = Some(outcome);
            }
            "M" => {
                let j = parse_hex(toks.next(), line, log)? as usize;
                let k = parse_hex(toks.next(), line, log)? as usize;
                let size = parse_hex(toks.next(), line, log)?;
                let hash = toks
                    .next()
                    .and_then(|t| u64::from_str_radix(t, 16).ok())
                    .ok_or_else(|| protocol(format!("bad memory line `{line}`")))?;
                match memories.get_mut(j) {
                    Some(m) if m.len() == k => m.push((size as u64, hash)),
                    _ => return Err(protocol(format!("memory line out of order: `{line}`"))),
                }
            }
            "E" => ended = true,
            "X" => fatal = Some(line.to_string()),
            _ => return Err(protocol(format!("unknown line `{line}`"))),
        }
    }
    if let Some(fatal) = fatal {
        return Err(protocol(format!("fault outside of a call: {fatal}")));
    }
    match exit {
        Some(0) if ended => {}
        Some(code) => {
            return Err(protocol(format!("guest exited with {code}{}", if ended { "" } else { " before the end" })))
        }
        None => {}
    }
    let timed_out = exit.is_none();
    if !timed_out && outcomes.iter().any(|o| o.is_none()) {
        return Err(protocol("guest ended without reporting every step".into()));
    }
    let mut first_missing = true;
    let outcomes = outcomes
        .into_iter()
        .map(|o| match o {
            Some(o) => o,
            None if first_missing => {
                first_missing = false;
                Outcome::Timeout
            }
            None => Outcome::NotReached,
        })
        .collect();
    Ok(LinkedReport { outcomes, memories, log: log.to_string(), build_time: Duration::ZERO, run_time: Duration::ZERO })
}

/// FNV-1a 64 as the runtime computes it, for comparing memory contents.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

// ---------------------------------------------------------------------------
// The per-board runtime, built once and cached on disk.

struct Runtime {
    objects: Vec<PathBuf>,
    linker_script: PathBuf,
    /// libgcc for the board's multilib: soft-float and double-precision
    /// helpers (`__aeabi_dadd`, ...) that stand-ins and compiled code may call.
    libgcc: Option<PathBuf>,
    /// Archive with the spec tests' `spectest` module (linked on demand).
    spectest: PathBuf,
}

fn linker_script(board: Board) -> String {
    let m = board.memory_map();
    format!(
        r#"/* bulkhead testkit image for {machine} (generated by bulkhead-testkit). */
MEMORY
{{
  CODE  (rx)  : ORIGIN = {code_o:#x}, LENGTH = {code_l:#x}
  RAM   (rwx) : ORIGIN = {ram_o:#x}, LENGTH = {ram_l:#x}
  PSRAM (rw)  : ORIGIN = {ps_o:#x}, LENGTH = {ps_l:#x}
}}
ENTRY(bh_reset)
SECTIONS
{{
  .text :
  {{
    __text_start = .;
    KEEP(*(.vectors))
    *(.text .text.*)
    *(.rodata .rodata.*)
    . = ALIGN(4);
    __text_end = .;
  }} > CODE
  .ARM.exidx : {{ *(.ARM.exidx*) }} > CODE
  /* The harness stack (PSP) sits at the bottom of RAM above a 4 KiB guard
     (MPU region on ARMv7-M, PSPLIM on ARMv8-M; see harness.c) so that an
     overflow faults instead of corrupting data. */
  .stacks (NOLOAD) :
  {{
    . = ALIGN(4096);
    __stack_guard = .;
    . += 0x1000;
    __psp_limit = .;
    . += 0x100000;
    __psp_top = .;
    . += 0x2000;
    __msp_top = .;
  }} > RAM
  .data :
  {{
    . = ALIGN(4);
    __data_start = .;
    *(.data .data.*)
    . = ALIGN(4);
    __data_end = .;
  }} > RAM AT > CODE
  __data_load = LOADADDR(.data);
  .bss (NOLOAD) :
  {{
    . = ALIGN(4);
    __bss_start = .;
    *(.bss .bss.* COMMON)
    . = ALIGN(4);
    __bss_end = .;
  }} > RAM
  /* Linear memories: largest alignment first to waste the least. */
  .bulkhead.mem (NOLOAD) :
  {{
    *(SORT_BY_ALIGNMENT(.bulkhead.mem.*))
  }} > PSRAM
}}
"#,
        machine = board.machine(),
        code_o = m.code.0,
        code_l = m.code.1,
        ram_o = m.ram.0,
        ram_l = m.ram.1,
        ps_o = m.psram.0,
        ps_l = m.psram.1,
    )
}

fn fnv_str(parts: &[&str]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for p in parts {
        h = fnv1a64_continue(h, p.as_bytes());
        h = fnv1a64_continue(h, &[0]);
    }
    h
}

fn fnv1a64_continue(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Directory for cached runtimes: `$CARGO_TARGET_DIR` or the workspace's
/// `target/`, else the system temp dir.
fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join("bulkhead-testkit");
    }
    let workspace_target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    if workspace_target.is_dir() {
        return workspace_target.join("bulkhead-testkit");
    }
    std::env::temp_dir().join("bulkhead-testkit")
}

static UNIQUE: AtomicU64 = AtomicU64::new(0);

fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}-{}-{}", std::process::id(), UNIQUE.fetch_add(1, Ordering::Relaxed), nanos % 1_000_000_000)
}

/// Writes `path` atomically (write to a unique name, rename) unless it exists.
fn write_once(path: &Path, produce: impl FnOnce(&Path) -> Result<(), HarnessError>) -> Result<(), HarnessError> {
    if path.exists() {
        return Ok(());
    }
    let tmp = path.with_extension(format!("tmp-{}", unique_suffix()));
    let result = produce(&tmp);
    if result.is_ok() {
        fs::rename(&tmp, path).map_err(io_err(format!("renaming into {}", path.display())))?;
    } else {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn runtime_for(board: Board) -> Result<&'static Runtime, HarnessError> {
    static CACHE: OnceLock<Mutex<HashMap<Board, &'static Runtime>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(rt) = cache.get(&board) {
        return Ok(rt);
    }
    let script = linker_script(board);
    let mut key_parts = vec![START_S, HARNESS_C, SPECTEST_C, script.as_str()];
    key_parts.extend_from_slice(board.gcc_flags());
    let dir = cache_root().join(format!("runtime-{}-{:016x}", board.machine(), fnv_str(&key_parts)));
    fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;

    let mut objects = Vec::new();
    for (file, source) in [("start.S", START_S), ("harness.c", HARNESS_C)] {
        let src = dir.join(file);
        write_once(&src, |tmp| fs::write(tmp, source).map_err(io_err(format!("writing {}", tmp.display()))))?;
        let obj = dir.join(format!("{file}.o"));
        write_once(&obj, |tmp| {
            let mut gcc = Command::new("arm-none-eabi-gcc");
            gcc.args(board.gcc_flags())
                .args(["-O2", "-g", "-ffreestanding", "-fno-builtin", "-Wall", "-Werror", "-c"])
                // The runtime itself must not touch FP registers: the fault
                // path drops FP context (harness.c, bh_fault).
                .args(if file.ends_with(".c") { &["-mgeneral-regs-only"][..] } else { &[][..] })
                .arg("-o")
                .arg(tmp)
                .arg(&src);
            run_tool(&mut gcc, "arm-none-eabi-gcc (test runtime)")
        })?;
        objects.push(obj);
    }
    let spectest_src = dir.join("spectest.c");
    write_once(&spectest_src, |tmp| fs::write(tmp, SPECTEST_C).map_err(io_err(format!("writing {}", tmp.display()))))?;
    let spectest_obj = dir.join("spectest.o");
    write_once(&spectest_obj, |tmp| {
        let mut gcc = Command::new("arm-none-eabi-gcc");
        gcc.args(board.gcc_flags()).args(["-O2", "-ffreestanding", "-Wall", "-Werror", "-c", "-o"]).arg(tmp).arg(&spectest_src);
        run_tool(&mut gcc, "arm-none-eabi-gcc (spectest)")
    })?;
    let spectest = dir.join("libspectest.a");
    write_once(&spectest, |tmp| {
        let mut ar = Command::new("arm-none-eabi-ar");
        ar.arg("rcs").arg(tmp).arg(&spectest_obj);
        run_tool(&mut ar, "arm-none-eabi-ar")
    })?;
    let linker_script_path = dir.join("image.ld");
    write_once(&linker_script_path, |tmp| {
        fs::write(tmp, &script).map_err(io_err(format!("writing {}", tmp.display())))
    })?;
    let libgcc = Command::new("arm-none-eabi-gcc")
        .args(board.gcc_flags())
        .arg("-print-libgcc-file-name")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|p| p.is_file());
    let rt: &'static Runtime =
        Box::leak(Box::new(Runtime { objects, linker_script: linker_script_path, libgcc, spectest }));
    cache.insert(board, rt);
    Ok(rt)
}

/// A unique temporary directory removed on drop.
pub(crate) struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new() -> Result<TempDir, HarnessError> {
        let path = std::env::temp_dir().join(format!("bulkhead-run-{}", unique_suffix()));
        fs::create_dir_all(&path).map_err(io_err(format!("creating {}", path.display())))?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("BULKHEAD_KEEP_TEMP").is_none() {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Compiles C source (a stand-in for a compiled module, following the
/// embedder ABI) with arm-none-eabi-gcc for `board`; returns the object.
pub fn compile_c_standin(source: &str, board: Board, extra_flags: &[&str]) -> Result<Vec<u8>, HarnessError> {
    let dir = TempDir::new()?;
    let src = dir.path.join("standin.c");
    let mut f = fs::File::create(&src).map_err(io_err("writing the C stand-in"))?;
    f.write_all(source.as_bytes()).map_err(io_err("writing the C stand-in"))?;
    drop(f);
    let obj = dir.path.join("standin.o");
    let mut gcc = Command::new("arm-none-eabi-gcc");
    gcc.args(board.gcc_flags())
        .args(["-O2", "-ffreestanding", "-fno-builtin", "-c"])
        .args(extra_flags)
        .arg("-o")
        .arg(&obj)
        .arg(&src);
    run_tool(&mut gcc, "arm-none-eabi-gcc")?;
    fs::read(&obj).map_err(io_err("reading the stand-in object"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aapcs_soft_float() {
        // i32, i64: the i64 skips r1 and takes r2:r3.
        let m = marshal(&[Val::I32(1), Val::I64(0x0000_0003_0000_0002)], false);
        assert_eq!(m.core, [1, 0, 2, 3]);
        assert!(m.stack.is_empty());
        // i32 x3, i64: the i64 does not fit in r3 and goes 8-aligned to the stack;
        // a following i32 goes after it (r3 stays unused: NCRN = 4).
        let m = marshal(&[Val::I32(1), Val::I32(2), Val::I32(3), Val::I64(0x5_0000_0004), Val::I32(6)], false);
        assert_eq!(m.core, [1, 2, 3, 0]);
        assert_eq!(m.stack, vec![4, 5, 6]);
        // Stack i32 then i64: padding word for 8-byte alignment.
        let m = marshal(&[Val::I32(1), Val::I32(2), Val::I32(3), Val::I32(4), Val::I32(5), Val::I64(7)], false);
        assert_eq!(m.stack, vec![5, 0, 7, 0]);
        // Floats use core registers on soft-float.
        let m = marshal(&[Val::F32(0x3f80_0000), Val::F64(0x4000_0000_0000_0000)], false);
        assert_eq!(m.core, [0x3f80_0000, 0, 0, 0x4000_0000]);
    }

    #[test]
    fn aapcs_vfp_backfill() {
        // f32 s0, f64 d1 (s2,s3), f32 back-fills s1; ints unaffected.
        let m = marshal(&[Val::F32(10), Val::F64(0x0000_0021_0000_0020), Val::F32(11), Val::I32(5)], true);
        assert_eq!(&m.vfp[..4], &[10, 11, 0x20, 0x21]);
        assert_eq!(m.core, [5, 0, 0, 0]);
        // 17 f32: the last one goes to the stack.
        let params: Vec<Val> = (0..17).map(Val::F32).collect();
        let m = marshal(&params, true);
        assert_eq!(m.vfp[15], 15);
        assert_eq!(m.stack, vec![16]);
    }

    #[test]
    fn fnv_reference_values() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn board_names_round_trip() {
        for b in Board::ALL {
            assert_eq!(b.machine().parse::<Board>().unwrap(), b);
        }
        assert!("an999".parse::<Board>().is_err());
    }
}
