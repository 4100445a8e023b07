//! `bulkhead compile --emit manifest,header,ld`: the CLI writes the three
//! embedder outputs next to the object (or into --emit-dir), identical to
//! the library's, honours --ram, and reports layouts that do not fit.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bulkhead() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bulkhead"))
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/two_memories.wat")
}

fn temp_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-emit-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn library_outputs(ram: Option<&str>) -> (Vec<u8>, String, String, String) {
    let options = bulkhead::Options {
        name: "two_memories".into(),
        ram: ram.map(|r| bulkhead::RamRange::parse(r).unwrap()),
        ..Default::default()
    };
    let artifact = bulkhead::Compiler::new(options.clone()).compile_file(&example()).unwrap();
    let layout = bulkhead::emit::plan_layout(&artifact, options.ram).unwrap();
    (
        artifact.object.clone(),
        bulkhead::emit::manifest(&artifact, &layout),
        bulkhead::emit::header(&artifact, &layout),
        bulkhead::emit::linker_script(&artifact, &layout),
    )
}

#[test]
fn emit_writes_the_three_files_next_to_the_object() {
    let dir = temp_dir("next-to-object");
    let out = bulkhead()
        .arg("compile")
        .arg(example())
        .args(["--emit", "manifest,header,ld", "-o"])
        .arg(dir.join("out.o"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (object, manifest, header, ld) = library_outputs(None);
    assert_eq!(std::fs::read(dir.join("out.o")).unwrap(), object, "the object is still written");
    assert_eq!(std::fs::read_to_string(dir.join("manifest.json")).unwrap(), manifest);
    assert_eq!(std::fs::read_to_string(dir.join("bulkhead.h")).unwrap(), header);
    assert_eq!(std::fs::read_to_string(dir.join("memory.ld")).unwrap(), ld);
    assert!(manifest.contains("\"module\": \"two_memories\""));
    let mut names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["bulkhead.h", "manifest.json", "memory.ld", "out.o"], "no temporary files left behind");
}

#[test]
fn emit_dir_and_ram() {
    let dir = temp_dir("emit-dir");
    let out = bulkhead()
        .arg("compile")
        .arg(example())
        .args(["--emit", "obj,header", "--ram", "0x20100000:1MiB", "--emit-dir"])
        .arg(dir.join("gen"))
        .arg("-o")
        .arg(dir.join("m.o"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let header = std::fs::read_to_string(dir.join("gen/bulkhead.h")).unwrap();
    assert_eq!(header, library_outputs(Some("0x20100000:1MiB")).2);
    assert!(header.contains("#define TWO_MEMORIES_MEM1_BASE 0x20100000u"), "{header}");
    assert!(!dir.join("gen/manifest.json").exists() && !dir.join("gen/memory.ld").exists());
}

#[test]
fn layouts_that_do_not_fit_and_bad_flags() {
    let dir = temp_dir("errors");
    // 192 KiB of memories in 64 KiB of RAM: exit 1, nothing written.
    let out = bulkhead()
        .arg("compile")
        .arg(example())
        .args(["--emit", "manifest", "--ram", "0x20000000:64KiB", "-o"])
        .arg(dir.join("m.o"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("memory 1 needs 128 KiB") && stderr.contains("192 KiB of RAM at 0x20000000 would fit"),
        "{stderr}"
    );
    assert!(!dir.join("manifest.json").exists() && !dir.join("m.o").exists());

    for (args, expect) in [
        (&["--ram", "0x20000000"][..], "--ram"),
        (&["--ram", "0x20000000:12XB"][..], "unknown unit"),
        (&["--emit", "manifest,asm"][..], "go with the object file"),
        (&["--emit", "manifest,map"][..], "unknown kind `map`"),
    ] {
        let out = bulkhead().arg("compile").arg(example()).args(args).arg("-o").arg(dir.join("x.o")).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
    }
}
