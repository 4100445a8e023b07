//! Per-export memory footprints (computed from the IR, transitively through
//! calls), the manifest's structure read back with serde_json, determinism
//! of all three outputs, and the C header on its own (compiled with
//! arm-none-eabi-gcc -Wall -Wextra -Werror).

use bulkhead::{emit, Artifact, Compiler, ErrorKind, Options, RamRange};
use std::path::Path;
use std::process::Command;

fn compile(name: &str, wat: &str) -> Artifact {
    Compiler::new(Options { name: name.into(), ..Default::default() })
        .compile(wat.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"))
}

const CALLS_WAT: &str = r#"
(module
  (import "env" "log" (func $log (param i32)))
  (import "env" "shared" (memory 1 4))
  (memory $a 1 1)
  (memory $b 1 1)
  (memory $c 1 1)
  (type $t (func (result i32)))
  (table 1 funcref)
  (elem (i32.const 0) $leaf)
  (func $leaf (result i32) (i32.load $c (i32.const 0)))
  (func $mid (result i32) (call $leaf))
  (func (export "top") (export "top_again") (result i32)
    (i32.add (call $mid) (i32.load $a (i32.const 0))))
  (func $r1 (export "rec") (param i32) (result i32)
    (if (result i32) (local.get 0)
      (then (call $r2 (i32.sub (local.get 0) (i32.const 1))))
      (else (i32.const 0))))
  (func $r2 (param i32) (result i32)
    (i32.store8 $b (i32.const 0) (local.get 0))
    (call $r1 (local.get 0)))
  (func (export "calls_import") (call $log (i32.const 1)))
  (func (export "indirect") (result i32) (call_indirect (type $t) (i32.const 0)))
  (func (export "pure") (result i32) (i32.const 1))
  (func (export "size_only") (result i32) (memory.size $b))
  (func (export "copy_c_to_a") (memory.copy $a $c (i32.const 0) (i32.const 0) (i32.const 4)))
  (export "log_again" (func $log)))
"#;

fn manifest_json(artifact: &Artifact) -> serde_json::Value {
    let layout = emit::plan_layout(artifact, None).unwrap();
    serde_json::from_str(&emit::manifest(artifact, &layout)).expect("manifest.json is valid JSON")
}

fn footprint(manifest: &serde_json::Value, export: &str) -> Vec<u64> {
    let f = manifest["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["export"] == export)
        .unwrap_or_else(|| panic!("export {export} missing"));
    f["memories"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect()
}

#[test]
fn footprints_follow_calls_and_are_conservative_for_unknown_callees() {
    let artifact = compile("calls", CALLS_WAT);
    let m = manifest_json(&artifact);
    // Memory 0 is imported, 1..3 are $a, $b, $c.
    assert_eq!(footprint(&m, "top"), [1, 3], "own load of $a plus $leaf's load of $c via $mid");
    assert_eq!(footprint(&m, "top_again"), [1, 3], "every export of a function is listed");
    assert_eq!(footprint(&m, "rec"), [2], "mutual recursion converges");
    assert_eq!(footprint(&m, "calls_import"), [0, 1, 2, 3], "an import may touch anything");
    assert_eq!(footprint(&m, "indirect"), [0, 1, 2, 3], "so may a call through a table");
    assert_eq!(footprint(&m, "pure"), Vec::<u64>::new());
    assert_eq!(footprint(&m, "size_only"), [2], "memory.size reads the size word");
    assert_eq!(footprint(&m, "copy_c_to_a"), [1, 3], "cross-memory copy touches both");
    assert_eq!(footprint(&m, "log_again"), [0, 1, 2, 3], "a re-exported import");
    let reexported = m["functions"].as_array().unwrap().iter().find(|f| f["export"] == "log_again").unwrap();
    assert_eq!(reexported["reexported_import"], true);
    assert_eq!(reexported["params"], serde_json::json!(["i32"]));
    assert_eq!(reexported["results"], serde_json::json!([]));
    // The facade's FunctionInfo carries the same sets.
    let top = artifact.functions.iter().find(|f| f.symbol == "calls_top").unwrap();
    assert_eq!(top.memories, [1, 3]);
    let instantiate = artifact.functions.iter().find(|f| f.index.is_none()).unwrap();
    assert_eq!(m["instantiate"]["memories"], serde_json::json!(instantiate.memories));
}

#[test]
fn manifest_describes_memories_and_regions() {
    let artifact = compile("calls", CALLS_WAT);
    let layout = emit::plan_layout(&artifact, None).unwrap();
    let m = manifest_json(&artifact);
    assert_eq!(m["schema_version"], 1);
    assert_eq!(m["module"], "calls");
    assert_eq!(m["target"]["cpu"], "cortex-m4f");
    assert_eq!(m["target"]["mpu"]["regions_used"], 3);
    assert_eq!(m["ram"]["base"], "0x20200000");
    let memories = m["memories"].as_array().unwrap();
    assert_eq!(memories.len(), 4);
    // The imported memory: its symbols, no placement.
    let shared = &memories[0];
    assert_eq!(shared["defined"], false);
    assert_eq!(shared["symbols"]["base"], "env_shared");
    assert_eq!(shared["symbols"]["size"], "env_shared__size");
    assert_eq!(shared["symbols"]["max"], "env_shared__max");
    assert_eq!(shared["import"], serde_json::json!({"module": "env", "name": "shared"}));
    assert!(shared["base"].is_null() && shared["region"].is_null() && shared["section"].is_null());
    assert_eq!(shared["max_pages"], 4);
    // Defined memories: base, region, and the region's registers as hex.
    for (k, mem) in memories.iter().enumerate().skip(1) {
        let planned = layout.memory(k as u32).unwrap();
        assert_eq!(mem["base"], format!("{:#010x}", planned.base));
        assert_eq!(mem["section"], format!(".bulkhead.mem.{k}"));
        assert_eq!(mem["symbols"]["base"], format!("calls__mem{k}"));
        let number = mem["region"].as_u64().unwrap();
        let region = &m["regions"][number as usize];
        assert_eq!(region["number"], number);
        assert_eq!(region["owner"]["memory"], k as u64);
        let planned_region = layout.memory_region(k as u32).unwrap();
        let bulkhead_layout_regs = match planned_region.registers {
            bulkhead::emit::RegionRegisters::Pmsav7 { rbar, rasr } => (rbar, rasr),
            _ => unreachable!("Cortex-M4F is PMSAv7"),
        };
        assert_eq!(region["registers"]["rbar"], format!("{:#010x}", bulkhead_layout_regs.0));
        assert_eq!(region["registers"]["rasr"], format!("{:#010x}", bulkhead_layout_regs.1));
        assert_eq!(region["attributes"]["unprivileged"], true);
        assert_eq!(region["attributes"]["execute"], false);
    }
    assert!(m["mair0"].is_null());
}

#[test]
fn outputs_are_deterministic() {
    let outputs = || {
        let artifact = compile("calls", CALLS_WAT);
        let layout = emit::plan_layout(&artifact, None).unwrap();
        (emit::manifest(&artifact, &layout), emit::header(&artifact, &layout), emit::linker_script(&artifact, &layout))
    };
    let first = outputs();
    for _ in 0..3 {
        assert!(first == outputs(), "outputs differ between identical compilations");
    }
}

#[test]
fn ram_option_and_layout_errors() {
    let artifact = compile("calls", CALLS_WAT);
    let ram = RamRange::parse("0x20000000:128KiB").unwrap();
    let e = emit::plan_layout(&artifact, Some(ram)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Layout);
    let text = e.to_string();
    assert!(
        text.contains("memory 3 needs 64 KiB") && text.contains("192 KiB of RAM at 0x20000000 would fit"),
        "{text}"
    );
    let layout = emit::plan_layout(&artifact, RamRange::parse("0x30000000:192KiB").ok()).unwrap();
    assert_eq!(layout.memory(1).unwrap().base, 0x3000_0000);
}

const HEADER_WAT: &str = r#"
(module
  (memory (export "mem") 1)
  (global (export "counter") (mut i32) (i32.const 0))
  (global (export "limit") i32 (i32.const 9))
  (func (export "pair") (param i32) (result i32 i32) (local.get 0) (i32.const 7))
  (func (export "nothing"))
  (func (export "run.fast") (param i32 i32 i32 i32 i32) (result i32) (local.get 4)))
"#;

#[test]
fn header_compiles_with_gcc_werror() {
    let artifact = compile("hdr", HEADER_WAT);
    let layout = emit::plan_layout(&artifact, None).unwrap();
    let header = emit::header(&artifact, &layout);
    assert!(header.contains("uint64_t hdr_pair(int32_t);"), "{header}");
    assert!(header.contains("void hdr_nothing(void);"), "{header}");
    assert!(header.contains("int32_t hdr_run$2Efast(int32_t, int32_t, int32_t, int32_t, int32_t);"), "{header}");
    assert!(
        header.contains("extern int32_t hdr_counter;") && header.contains("extern const int32_t hdr_limit;"),
        "{header}"
    );
    assert!(header.contains("#define HDR_FOOTPRINT_run$2Efast 0x0u"), "{header}");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("emit-header");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("bulkhead.h"), &header).unwrap();
    let c = dir.join("use.c");
    std::fs::write(
        &c,
        r#"#include "bulkhead.h"
#include "bulkhead.h" /* the include guard works */
uint32_t __bulkhead_stack_limit = 0x20100000u;
int32_t use(void) {
    if (hdr__instantiate() != 0) return -1;
    uint64_t both = hdr_pair(5);
    hdr_nothing();
    hdr_counter += hdr_limit;
    return (int32_t)both + (int32_t)(both >> 32) + hdr_run$2Efast(1, 2, 3, 4, 5)
        + (int32_t)(HDR_MEM0_BASE + HDR_MPU_REGION0_RASR) + (int32_t)hdr__mem0_size + hdr_mem[0]
        + (int32_t)HDR_FOOTPRINT_pair;
}
"#,
    )
    .unwrap();
    for std in ["-std=gnu11", "-std=gnu99"] {
        let out = Command::new("arm-none-eabi-gcc")
            .args(["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-O2", std])
            .args(["-Wall", "-Wextra", "-Werror", "-c"])
            .arg(&c)
            .arg("-o")
            .arg(dir.join("use.o"))
            .output()
            .expect("arm-none-eabi-gcc");
        assert!(out.status.success(), "{std}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn empty_memory_needs_no_region_and_still_links() {
    let artifact = compile(
        "z",
        r#"(module (memory 0 0) (memory 1 1)
             (func (export "f") (result i32) (drop (i32.load 1 (i32.const 0))) (memory.size 0)))"#,
    );
    let layout = emit::plan_layout(&artifact, None).unwrap();
    let empty = layout.memory(0).unwrap();
    assert_eq!((empty.reserved_bytes, empty.granted_bytes, empty.region), (0, 0, None));
    assert_eq!(layout.regions_used(), 1);
    let m = manifest_json(&artifact);
    assert!(m["memories"][0]["region"].is_null());
    assert_eq!(m["memories"][1]["region"], 0);

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("emit-empty");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("z.o"), &artifact.object).unwrap();
    std::fs::write(dir.join("memory.ld"), emit::linker_script(&artifact, &layout)).unwrap();
    std::fs::write(
        dir.join("link.ld"),
        "MEMORY { FLASH (rx) : ORIGIN = 0, LENGTH = 4M\n RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 2M }\n\
         SECTIONS { .text : { *(.text*) } > FLASH\n .rodata : { *(.rodata*) } > FLASH\n\
         .bss (NOLOAD) : { *(.bss*) } > RAM }\nINCLUDE memory.ld\n",
    )
    .unwrap();
    for linker in ["arm-none-eabi-ld", "ld.lld"] {
        let out = Command::new(linker)
            .current_dir(&dir)
            .args(["-T", "link.ld", "z.o", "--defsym=__bulkhead_stack_limit=0", "-e", "z_f", "-o"])
            .arg(format!("{linker}.elf"))
            .output()
            .expect(linker);
        assert!(out.status.success(), "{linker}: {}", String::from_utf8_lossy(&out.stderr));
    }
}
