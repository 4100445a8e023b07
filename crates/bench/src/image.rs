//! Linking a program into a QEMU image and running it under the
//! instruction-counting plugin (bench/icount).

use crate::tools;
use crate::BenchError;
use object::{Object, ObjectSection, ObjectSymbol, SectionKind};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// The board every measurement runs on: Cortex-M4F (mps2-an386), the
/// compiler's default CPU.
pub const MACHINE: &str = "mps2-an386";
pub const TARGET_TRIPLE: &str = "thumbv7em-none-eabihf";
pub const GCC_FLAGS: &[&str] = &["-mthumb", "-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"];

const RUNTIME_C: &str = include_str!("../../../bench/runtime/bench_rt.c");
const LINKER_SCRIPT: &str = include_str!("../../../bench/runtime/bench.ld");

/// The runtime object and linker script, built once per process.
pub struct Runtime {
    pub object: PathBuf,
    pub linker_script: PathBuf,
}

/// What one run of an image produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOutcome {
    /// `bench_run`'s return value.
    pub result: u32,
    /// Guest instructions executed in the measurement window.
    pub instructions: u64,
}

fn cache_dir() -> PathBuf {
    tools::target_dir().join("bulkhead-bench")
}

/// Builds bench/runtime/bench_rt.c once (per process; rebuilt when the
/// source changes, as the directory is keyed by its hash).
pub fn runtime() -> Result<&'static Runtime, BenchError> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| build_runtime().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|m| BenchError::Tool { tool: "bench runtime".into(), message: m.clone() })
}

fn build_runtime() -> Result<Runtime, BenchError> {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for b in RUNTIME_C.bytes().chain(LINKER_SCRIPT.bytes()).chain(GCC_FLAGS.concat().bytes()) {
        hash = (hash ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let dir = cache_dir().join(format!("runtime-{hash:016x}"));
    std::fs::create_dir_all(&dir).map_err(|e| BenchError::io(format!("creating {}", dir.display()), e))?;
    let source = dir.join("bench_rt.c");
    let linker_script = dir.join("bench.ld");
    let object = dir.join("bench_rt.o");
    write(&source, RUNTIME_C)?;
    write(&linker_script, LINKER_SCRIPT)?;
    // Unique output name, then rename: concurrent test processes share the dir.
    let tmp = dir.join(format!("bench_rt.{}.o", std::process::id()));
    tools::run(
        Command::new("arm-none-eabi-gcc")
            .args(GCC_FLAGS)
            .args(["-O2", "-Wall", "-Wextra", "-Werror", "-mgeneral-regs-only", "-c"])
            .arg(&source)
            .arg("-o")
            .arg(&tmp),
        "arm-none-eabi-gcc (bench runtime)",
    )?;
    std::fs::rename(&tmp, &object).map_err(|e| BenchError::io(format!("renaming into {}", object.display()), e))?;
    Ok(Runtime { object, linker_script })
}

fn write(path: &Path, text: &str) -> Result<(), BenchError> {
    std::fs::write(path, text).map_err(|e| BenchError::io(format!("writing {}", path.display()), e))
}

/// Builds the counting plugin (bench/icount, its own crate outside the
/// workspace) with cargo, once per process; returns the shared library.
pub fn plugin() -> Result<&'static Path, BenchError> {
    static PLUGIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PLUGIN
        .get_or_init(|| build_plugin().map_err(|e| e.to_string()))
        .as_deref()
        .map_err(|m| BenchError::Tool { tool: "bulkhead-icount plugin".into(), message: m.clone() })
}

fn build_plugin() -> Result<PathBuf, BenchError> {
    let manifest = tools::workspace_root().join("bench/icount/Cargo.toml");
    let target = tools::target_dir().join("bench-icount");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    tools::run(
        Command::new(cargo)
            .args(["build", "--quiet", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target),
        "cargo build (bench/icount plugin)",
    )?;
    let lib = target.join("debug/libbulkhead_icount.so");
    if !lib.is_file() {
        return Err(BenchError::Tool {
            tool: "cargo build (bench/icount plugin)".into(),
            message: format!("{} was not produced", lib.display()),
        });
    }
    Ok(lib)
}

/// Links `objects` (a bulkhead module or a gcc object of a program) with
/// the runtime into `image` (gcc driver: newlib's libc for gcc's memcpy
/// calls, libgcc for its helpers).
pub fn link(objects: &[&Path], image: &Path) -> Result<(), BenchError> {
    let rt = runtime()?;
    tools::run(
        Command::new("arm-none-eabi-gcc")
            .args(GCC_FLAGS)
            .args(["-nostdlib", "-nostartfiles", "-Wl,--no-warn-rwx-segments", "-T"])
            .arg(&rt.linker_script)
            .arg(&rt.object)
            .args(objects)
            .args(["-lc", "-lgcc", "-o"])
            .arg(image),
        "arm-none-eabi-gcc (link)",
    )?;
    Ok(())
}

/// Address of a symbol in a linked image (Thumb bit cleared).
pub fn symbol_address(image: &[u8], name: &str) -> Result<u64, BenchError> {
    let file = object::File::parse(image).map_err(|e| BenchError::Elf(format!("parsing the image: {e}")))?;
    file.symbols()
        .find(|s| s.name() == Ok(name))
        .map(|s| s.address() & !1)
        .ok_or_else(|| BenchError::Elf(format!("symbol `{name}` not in the image")))
}

/// Bytes of code in a relocatable object: the sum of its executable
/// sections (`SHF_EXECINSTR`, which `object` classifies as text).
pub fn text_bytes(object_file: &[u8]) -> Result<u64, BenchError> {
    let file = object::File::parse(object_file).map_err(|e| BenchError::Elf(format!("parsing an object: {e}")))?;
    Ok(file.sections().filter(|s| s.kind() == SectionKind::Text).map(|s| s.size()).sum())
}

/// Runs `image` on QEMU with the counting plugin; the result line and the
/// instruction count must both be there, anything else is an error that
/// quotes the guest's output.
pub fn run_counted(image: &Path, work: &Path, limit: Duration) -> Result<RunOutcome, BenchError> {
    let bytes = std::fs::read(image).map_err(|e| BenchError::io(format!("reading {}", image.display()), e))?;
    let begin = symbol_address(&bytes, "bench_window_open")?;
    let end = symbol_address(&bytes, "bench_window_close")?;
    let count_file = work.join(format!("{}.icount", image.file_name().and_then(|n| n.to_str()).unwrap_or("image")));
    let _ = std::fs::remove_file(&count_file);
    let plugin = plugin()?;
    let (out, err, code) = tools::run_with_timeout(
        Command::new("qemu-system-arm")
            .args(["-M", MACHINE, "-nographic", "-monitor", "none", "-serial", "none"])
            .args(["-chardev", "stdio,id=bh0", "-semihosting-config", "enable=on,target=native,chardev=bh0"])
            .arg("-plugin")
            .arg(format!("{},begin={begin:#x},end={end:#x},out={}", plugin.display(), count_file.display()))
            .arg("-kernel")
            .arg(image),
        "qemu-system-arm",
        limit,
    )?;
    let result = out.lines().find_map(|l| l.strip_prefix("RESULT ")).and_then(|v| parse_hex(v.trim()));
    let result = match (result, code) {
        (Some(r), 0) => r,
        _ => {
            return Err(BenchError::Guest {
                image: image.display().to_string(),
                message: format!("exit status {code}; guest output: {}; qemu stderr: {}", out.trim(), err.trim()),
            })
        }
    };
    let counts = std::fs::read_to_string(&count_file).map_err(|e| {
        BenchError::io(
            format!("reading the instruction count {} (plugin stderr: {})", count_file.display(), err.trim()),
            e,
        )
    })?;
    let instructions = parse_count(&counts).ok_or_else(|| BenchError::Guest {
        image: image.display().to_string(),
        message: format!("instruction counter reported `{}` (expected one closed window)", counts.trim()),
    })?;
    Ok(RunOutcome { result, instructions })
}

fn parse_hex(text: &str) -> Option<u32> {
    u32::from_str_radix(text.strip_prefix("0x")?, 16).ok()
}

/// `windows=1 insns=N total=M` → N (exactly one window must have closed).
fn parse_count(line: &str) -> Option<u64> {
    let mut windows = None;
    let mut insns = None;
    for field in line.split_whitespace() {
        match field.split_once('=') {
            Some(("windows", v)) => windows = v.parse::<u64>().ok(),
            Some(("insns", v)) => insns = v.parse::<u64>().ok(),
            _ => {}
        }
    }
    if windows == Some(1) {
        insns
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_lines_need_exactly_one_window() {
        assert_eq!(parse_count("windows=1 insns=42 total=100\n"), Some(42));
        assert_eq!(parse_count("windows=2 insns=42 total=100"), None);
        assert_eq!(parse_count("windows=0 insns=0 total=7"), None);
        assert_eq!(parse_hex("0x8bca71cb"), Some(0x8bca71cb));
        assert_eq!(parse_hex("8bca71cb"), None);
    }
}
