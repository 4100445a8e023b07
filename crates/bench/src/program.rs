//! Benchmark programs (`bench/programs/<name>.c`): discovery, the recorded
//! expected checksum, and building the wasm module and native objects.

use crate::tools;
use crate::BenchError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One benchmark program.
#[derive(Clone, Debug)]
pub struct Program {
    pub name: String,
    pub source: PathBuf,
    /// The checksum recorded in the source's `// expect: 0x...` line.
    pub expected: Option<u32>,
}

/// Linear memory of every program: 128 KiB (two 64 KiB pages), declared as
/// its maximum too, so bulkhead reserves exactly that.
pub const WASM_MEMORY_BYTES: u32 = 128 * 1024;
/// Shadow stack inside that memory (clang's `__stack_pointer`).
pub const WASM_STACK_BYTES: u32 = 16 * 1024;

/// The programs in `dir`, sorted by name; `only` selects by name.
pub fn discover(dir: &Path, only: Option<&[String]>) -> Result<Vec<Program>, BenchError> {
    let entries = std::fs::read_dir(dir).map_err(|e| BenchError::io(format!("reading {}", dir.display()), e))?;
    let mut programs = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| BenchError::io(format!("reading {}", dir.display()), e))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("c") {
            continue;
        }
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        if only.is_some_and(|only| !only.iter().any(|o| o == &name)) {
            continue;
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| BenchError::io(format!("reading {}", path.display()), e))?;
        let expected = parse_expect(&text).map_err(|m| BenchError::Program { program: name.clone(), message: m })?;
        programs.push(Program { name, source: path, expected });
    }
    programs.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(only) = only {
        for wanted in only {
            if !programs.iter().any(|p| &p.name == wanted) {
                return Err(BenchError::Program {
                    program: wanted.clone(),
                    message: format!("no such program in {}", dir.display()),
                });
            }
        }
    }
    Ok(programs)
}

/// Reads `// expect: 0xHEX` (the first such line).
fn parse_expect(text: &str) -> Result<Option<u32>, String> {
    for line in text.lines() {
        if let Some(rest) = line.trim().strip_prefix("// expect:") {
            let value = rest.split_whitespace().next().unwrap_or("");
            let hex = value.strip_prefix("0x").ok_or_else(|| format!("`expect:` value `{value}` is not 0x-hex"))?;
            return u32::from_str_radix(hex, 16)
                .map(Some)
                .map_err(|_| format!("`expect:` value `{value}` is not a 32-bit hex number"));
        }
    }
    Ok(None)
}

/// Compiles `program` to a wasm module exporting `run` (clang
/// `--target=wasm32 -O2`, wasm-ld). Bulk memory is on so that clang's
/// memcpy/memset become `memory.copy`/`memory.fill` instead of imports.
pub fn build_wasm(program: &Program, work: &Path) -> Result<Vec<u8>, BenchError> {
    let object = work.join(format!("{}.wasm.o", program.name));
    let wasm = work.join(format!("{}.wasm", program.name));
    let clang = tools::clang()?;
    tools::run(
        Command::new(&clang)
            .args(["--target=wasm32", "-O2", "-nostdlib", "-mbulk-memory", "-Wall", "-Wextra", "-Werror", "-c"])
            .arg(&program.source)
            .arg("-o")
            .arg(&object),
        &clang,
    )?;
    let wasm_ld = tools::wasm_ld()?;
    tools::run(
        Command::new(&wasm_ld)
            .args(["--no-entry", "--export=run", "-z"])
            .arg(format!("stack-size={WASM_STACK_BYTES}"))
            .arg(format!("--initial-memory={WASM_MEMORY_BYTES}"))
            .arg(format!("--max-memory={WASM_MEMORY_BYTES}"))
            .arg(&object)
            .arg("-o")
            .arg(&wasm),
        &wasm_ld,
    )?;
    std::fs::read(&wasm).map_err(|e| BenchError::io(format!("reading {}", wasm.display()), e))
}

/// Compiles `program` natively with arm-none-eabi-gcc at `opt` (`-O2`,
/// `-Os`) for `gcc_flags` (CPU and float ABI); returns the object's path.
pub fn build_native(program: &Program, opt: &str, gcc_flags: &[&str], work: &Path) -> Result<PathBuf, BenchError> {
    let object = work.join(format!("{}.native{}.o", program.name, opt));
    tools::run(
        Command::new("arm-none-eabi-gcc")
            .args(gcc_flags)
            .arg(opt)
            .args(["-DBENCH_NATIVE", "-ffunction-sections", "-Wall", "-Wextra", "-Werror", "-c"])
            .arg(&program.source)
            .arg("-o")
            .arg(&object),
        "arm-none-eabi-gcc",
    )?;
    Ok(object)
}

const WASM2C_RUNTIME_C: &str = include_str!("../../../bench/runtime/wasm2c_rt.c");

/// wasm2c's runtime header, as the `wabt` package installs it.
fn wasm_rt_header() -> Result<PathBuf, BenchError> {
    ["/usr/include/wasm-rt.h", "/usr/local/include/wasm-rt.h", "/usr/share/wabt/wasm2c/wasm-rt.h"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| BenchError::Tool { tool: "wasm2c".into(), message: "wasm-rt.h not found (install wabt)".into() })
}

/// Translates `wasm` with `wasm2c -n bench` and compiles the C with
/// arm-none-eabi-gcc `-O2`, next to bench/runtime/wasm2c_rt.c (bare-metal
/// runtime and glue). Returns the generated module's object; the runtime's
/// object is `wasm2c_rt.o` in the same directory.
pub fn build_wasm2c(program: &Program, wasm: &[u8], gcc_flags: &[&str], work: &Path) -> Result<PathBuf, BenchError> {
    let dir = work.join(format!("{}.wasm2c", program.name));
    let include = dir.join("include");
    std::fs::create_dir_all(&include).map_err(|e| BenchError::io(format!("creating {}", include.display()), e))?;
    // Only the header, not the host's /usr/include, goes on the include path.
    std::fs::copy(wasm_rt_header()?, include.join("wasm-rt.h")).map_err(|e| BenchError::io("copying wasm-rt.h", e))?;
    let wasm_path = dir.join("module.wasm");
    std::fs::write(&wasm_path, wasm).map_err(|e| BenchError::io(format!("writing {}", wasm_path.display()), e))?;
    tools::run(Command::new("wasm2c").arg(&wasm_path).args(["-n", "bench", "-o"]).arg(dir.join("module.c")), "wasm2c")?;
    let rt = dir.join("wasm2c_rt.c");
    std::fs::write(&rt, WASM2C_RUNTIME_C).map_err(|e| BenchError::io(format!("writing {}", rt.display()), e))?;
    for (source, object) in [("module.c", "module.o"), ("wasm2c_rt.c", "wasm2c_rt.o")] {
        tools::run(
            Command::new("arm-none-eabi-gcc")
                .args(gcc_flags)
                .args(["-O2", "-ffunction-sections", "-I"])
                .arg(&include)
                .arg("-I")
                .arg(&dir)
                .arg("-c")
                .arg(dir.join(source))
                .arg("-o")
                .arg(dir.join(object)),
            "arm-none-eabi-gcc (wasm2c output)",
        )?;
    }
    Ok(dir.join("module.o"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expect_lines_parse_and_bad_ones_are_rejected() {
        assert_eq!(parse_expect("x\n// expect: 0x0000abcd\n"), Ok(Some(0xabcd)));
        assert_eq!(parse_expect("// expect: 0x12 (a note)\n// expect: 0x34"), Ok(Some(0x12)));
        assert_eq!(parse_expect("int x;\n"), Ok(None));
        assert!(parse_expect("// expect: 1234").is_err());
        assert!(parse_expect("// expect: 0x123456789").is_err());
    }
}
