//! External tools: finding them, running them, their versions.

use crate::BenchError;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The first of `candidates` found on `PATH`.
pub fn find_tool(candidates: &[&str]) -> Result<String, BenchError> {
    for name in candidates {
        let found = std::env::var_os("PATH")
            .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
            .unwrap_or(false);
        if found {
            return Ok(name.to_string());
        }
    }
    Err(BenchError::Tool {
        tool: candidates.join(" or "),
        message: "not found on PATH (scripts/setup.sh installs it)".into(),
    })
}

/// C compiler for wasm32 (clang 14 from Debian bookworm, or any clang).
pub fn clang() -> Result<String, BenchError> {
    find_tool(&["clang-14", "clang"])
}

pub fn wasm_ld() -> Result<String, BenchError> {
    find_tool(&["wasm-ld-14", "wasm-ld"])
}

/// Runs `cmd`, failing with its stderr if it does not succeed; returns stdout.
pub fn run(cmd: &mut Command, tool: &str) -> Result<String, BenchError> {
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| BenchError::Tool { tool: tool.into(), message: format!("cannot run: {e}") })?;
    if !output.status.success() {
        return Err(BenchError::Tool {
            tool: tool.into(),
            message: format!(
                "failed ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim(),
                String::from_utf8_lossy(&output.stdout).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Runs `cmd` with a wall-clock limit; returns (stdout, stderr, exit code),
/// or an error naming the limit if it had to be killed.
pub fn run_with_timeout(cmd: &mut Command, tool: &str, limit: Duration) -> Result<(String, String, i32), BenchError> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| BenchError::Tool { tool: tool.into(), message: format!("cannot run: {e}") })?;
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) =
            child.try_wait().map_err(|e| BenchError::Tool { tool: tool.into(), message: e.to_string() })?
        {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(BenchError::Tool { tool: tool.into(), message: format!("killed after {limit:?}") });
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let out = out_reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    let code = status
        .code()
        .ok_or_else(|| BenchError::Tool { tool: tool.into(), message: format!("killed by a signal: {err}") })?;
    Ok((out, err, code))
}

/// First line of `tool --version`, or "unavailable".
pub fn version_line(tool: &str) -> String {
    Command::new(tool)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).lines().find(|l| !l.trim().is_empty()).map(str::to_string))
        .unwrap_or_else(|| "unavailable".into())
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// Cargo's target directory for this workspace.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join("target"),
    }
}
