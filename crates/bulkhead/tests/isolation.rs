//! Firmware images on QEMU, and the two-tenant MPU isolation demonstration
//! (examples/two_tenants.wat) on mps2-an385 (PMSAv7) and mps2-an505
//! (PMSAv8).

use bulkhead::image::{build_image, Board, EntryRequest, Image, ImageOptions};
use bulkhead::{BoundsMode, Compiler, Options};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn compile(wat: &str, board: Board, bounds: BoundsMode) -> bulkhead::Artifact {
    let (target, cpu) = board.target();
    let options = Options {
        target: target.into(),
        cpu: cpu.map(String::from),
        bounds,
        name: "two_tenants".into(),
        ..Default::default()
    };
    Compiler::new(options).compile(wat.as_bytes()).unwrap_or_else(|e| panic!("compile: {e}"))
}

fn image(artifact: &bulkhead::Artifact, board: Board, entries: &[EntryRequest]) -> Image {
    let mut options = ImageOptions::new(board);
    options.entries = entries.to_vec();
    build_image(artifact, &options).unwrap_or_else(|e| panic!("image: {e}"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bulkhead-images");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Boots the image on QEMU with semihosting; returns (output, exit status).
fn run(image: &Image, name: &str) -> (String, i32) {
    let path = scratch(&format!("{name}.elf"));
    std::fs::write(&path, &image.elf).unwrap();
    let mut child = Command::new("qemu-system-arm")
        .args(["-M", image.board.machine(), "-nographic", "-monitor", "none", "-serial", "none"])
        .args(["-semihosting-config", "enable=on,target=native"])
        .arg("-kernel")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qemu-system-arm");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name}: qemu timed out; output so far:\n{}", reader.join().unwrap());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let out = reader.join().unwrap();
    let mut err = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    (out + &err, status.code().unwrap_or(-1))
}

/// Entries returning values, `() -> ()`, a trap, a data segment read, on
/// every board.
#[test]
fn entries_on_every_board() {
    let wat = r#"(module (memory 1 1)
      (func (export "seven") (result i32) i32.const 7)
      (func (export "neg") (result i32) i32.const -2147483648)
      (func (export "nothing"))
      (func (export "boom") (result i32) unreachable)
      (func (export "load") (result i32) (i32.load (i32.const 100)))
      (data (i32.const 100) "\2a\00\00\00"))"#;
    for board in Board::ALL {
        let a = compile(wat, board, BoundsMode::Checked);
        let entries: Vec<EntryRequest> =
            ["seven", "neg", "nothing", "boom", "load"].iter().map(|e| EntryRequest::new(e)).collect();
        let img = image(&a, board, &entries);
        let (out, code) = run(&img, &format!("entries-{}", board.machine()));
        let expected = "bulkhead image two_tenants\n\
            entry seven returned 7\n\
            entry neg returned -2147483648\n\
            entry nothing returned\n\
            entry boom trapped: unreachable (code 1) PC=0x";
        assert!(out.starts_with(expected), "{board}:\n{out}");
        let trap_pc = hex_field(out.lines().nth(4).unwrap(), "PC").unwrap();
        // The trap's PC is inside `boom`.
        let boom = img.symbols["two_tenants_boom"] & !1;
        assert!(trap_pc >= boom && trap_pc < boom + 64, "{board}: {trap_pc:#x} vs boom at {boom:#x}");
        assert!(out.ends_with("entry load returned 42\ndone: 1 entries faulted or trapped\n"), "{board}:\n{out}");
        assert_eq!(code, 1, "{board}");
    }
}

// ---------------------------------------------------------------------------
// The two-tenant demonstration
// ---------------------------------------------------------------------------

const TWO_TENANTS: &str = include_str!("../../../examples/two_tenants.wat");
const PAGE: usize = 65536;
/// Where `a_attack` stores (a wasm address of memory 0) and what.
const ATTACK_ADDRESS: usize = 65792;
const ATTACK_VALUE: u32 = 0xdead_beef;

/// Host-side model of the tenants' bytes, written from the comments in
/// examples/two_tenants.wat (not from the compiled code).
fn a_bytes() -> Vec<u8> {
    (0..PAGE).map(|i| (i.wrapping_mul(7) + 3) as u8).collect()
}
fn b_bytes() -> Vec<u8> {
    (0..PAGE).map(|i| (i ^ (i >> 8)) as u8).collect()
}
fn checksum(bytes: &[u8]) -> i32 {
    bytes.iter().fold(1u32, |h, &b| h.wrapping_mul(31).wrapping_add(u32::from(b))) as i32
}

/// `(export, value)` of every "entry NAME returned N" line, in order.
fn returns(out: &str) -> Vec<(String, i32)> {
    out.lines()
        .filter_map(|l| l.strip_prefix("entry "))
        .filter_map(|l| {
            let (name, value) = l.split_once(" returned ")?;
            Some((name.to_string(), value.trim().parse().ok()?))
        })
        .collect()
}

fn hex_field(line: &str, field: &str) -> Option<u32> {
    let at = line.find(&format!(" {field}=0x"))? + field.len() + 4;
    u32::from_str_radix(&line[at..at + 8], 16).ok()
}

const SEQUENCE: [&str; 7] = ["a_fill", "b_init", "b_checksum", "a_attack", "b_checksum", "adapter_copy", "b_checksum"];

fn two_tenants_image(board: Board, attack_grant: Option<Vec<u32>>) -> Image {
    let artifact = compile(TWO_TENANTS, board, BoundsMode::None);
    let entries: Vec<EntryRequest> = SEQUENCE
        .iter()
        .map(|e| EntryRequest {
            export: e.to_string(),
            grant: if *e == "a_attack" { attack_grant.clone() } else { None },
        })
        .collect();
    image(&artifact, board, &entries)
}

fn isolation(board: Board) {
    let img = two_tenants_image(board, None);
    let mem0 = *img.layout.memory(0).unwrap();
    let mem1 = *img.layout.memory(1).unwrap();
    let region1 = img.layout.memory_region(1).unwrap().clone();
    // The attack aims at memory 1 only if the planner put it right after
    // memory 0 (the example relies on it).
    assert_eq!(mem0.base as usize + PAGE, mem1.base as usize, "plan changed: {:#x?}", img.layout.memories);
    // Footprints from the compiler: each tenant's functions touch only its
    // own memory, the adapter both.
    let granted: Vec<(&str, Vec<u32>)> = img.entries.iter().map(|e| (e.export.as_str(), e.granted.clone())).collect();
    assert_eq!(granted[0], ("a_fill", vec![0]));
    assert_eq!(granted[1], ("b_init", vec![1]));
    assert_eq!(granted[3], ("a_attack", vec![0]));
    assert_eq!(granted[5], ("adapter_copy", vec![0, 1]));

    let (out, status) = run(&img, &format!("two_tenants-{}", board.machine()));
    let initial = checksum(&b_bytes());
    let mut copied = b_bytes();
    copied[8192..8192 + 1024].copy_from_slice(&a_bytes()[4096..4096 + 1024]);
    let expected: Vec<(String, i32)> = [
        ("a_fill", 0),
        ("b_init", 0),
        ("b_checksum", initial),
        // a_attack does not return
        ("b_checksum", initial),
        ("adapter_copy", 1024),
        ("b_checksum", checksum(&copied)),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), *v))
    .collect();
    assert_eq!(returns(&out), expected, "{board}:\n{out}");
    // The attack is a MemManage fault at exactly the byte it aimed at,
    // inside memory 1's planned region.
    let fault = out
        .lines()
        .find(|l| l.starts_with("entry a_attack faulted: MemManage "))
        .unwrap_or_else(|| panic!("{board}: no MemManage fault for a_attack:\n{out}"));
    let mmfar = hex_field(fault, "MMFAR").unwrap_or_else(|| panic!("{board}: no MMFAR in `{fault}`"));
    assert_eq!(mmfar as usize, mem0.base as usize + ATTACK_ADDRESS, "{fault}");
    assert!(u64::from(mmfar) >= u64::from(region1.base) && u64::from(mmfar) < region1.end(), "{fault}: {region1:#x?}");
    let cfsr = hex_field(fault, "CFSR").unwrap();
    assert_eq!(cfsr & 0x82, 0x82, "DACCVIOL with MMARVALID: {fault}");
    assert!(out.contains("done: 1 entries faulted or trapped\n"), "{out}");
    assert_eq!(status, 1, "{out}");
}

#[test]
fn isolation_mps2_an385_pmsav7() {
    isolation(Board::Mps2An385);
}

#[test]
fn isolation_mps2_an505_pmsav8() {
    isolation(Board::Mps2An505);
}

/// The control experiment: grant memory 1 to `a_attack` as well, and the
/// very same store does land in B — so the isolation test above can fail.
#[test]
fn without_the_region_boundary_the_attack_succeeds() {
    for board in [Board::Mps2An385, Board::Mps2An505] {
        let img = two_tenants_image(board, Some(vec![0, 1]));
        let (out, status) = run(&img, &format!("two_tenants-granted-{}", board.machine()));
        let mut attacked = b_bytes();
        attacked[ATTACK_ADDRESS - PAGE..ATTACK_ADDRESS - PAGE + 4].copy_from_slice(&ATTACK_VALUE.to_le_bytes());
        let mut copied = attacked.clone();
        copied[8192..8192 + 1024].copy_from_slice(&a_bytes()[4096..4096 + 1024]);
        let values: Vec<i32> = returns(&out).into_iter().map(|(_, v)| v).collect();
        assert_eq!(
            values,
            vec![0, 0, checksum(&b_bytes()), 1, checksum(&attacked), 1024, checksum(&copied)],
            "{board}:\n{out}"
        );
        assert_ne!(checksum(&attacked), checksum(&b_bytes()));
        assert!(out.contains("done: all entries returned\n"), "{out}");
        assert_eq!(status, 0, "{out}");
    }
}

#[test]
fn images_are_deterministic() {
    for board in [Board::Mps2An385, Board::Mps2An505] {
        let first = two_tenants_image(board, None);
        let second = two_tenants_image(board, None);
        assert!(first.elf == second.elf, "{board}: two compilations gave different images");
    }
}

/// GNU readelf (an independent ELF reader) accepts the image, and its view
/// of the entry point, segments and symbols matches what bulkhead planned.
#[test]
fn image_is_a_well_formed_executable() {
    let img = two_tenants_image(Board::Mps2An505, None);
    let path = scratch("two_tenants-readelf.elf");
    std::fs::write(&path, &img.elf).unwrap();
    let out = Command::new("arm-none-eabi-readelf").args(["-h", "-l", "-S", "-s", "-W"]).arg(&path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.trim().is_empty(), "{err}");
    assert!(text.contains("Type:                              EXEC"), "{text}");
    let reset = img.symbols["__bulkhead_image_reset"];
    assert!(text.contains(&format!("Entry point address:               {reset:#x}")), "{text}");
    assert!(text.contains("LOAD           0x") && text.contains("0x10000000 0x10000000"), "{text}");
    for k in 0..2 {
        let base = img.layout.memory(k).unwrap().base;
        let line = text
            .lines()
            .find(|l| l.ends_with(&format!(" two_tenants__mem{k}")))
            .unwrap_or_else(|| panic!("no symbol two_tenants__mem{k}:\n{text}"));
        assert!(line.contains(&format!("{base:08x}")), "{line}");
        assert!(text.contains(&format!(".bulkhead.mem.{k}")), "{text}");
    }
    // objdump disassembles the startup code without unknown instructions.
    let dis = Command::new("arm-none-eabi-objdump").args(["-d"]).arg(&path).output().unwrap();
    let dis = String::from_utf8_lossy(&dis.stdout);
    assert!(dis.contains("<__bulkhead_image_reset>:"), "{dis}");
    assert!(!dis.contains("UNDEFINED") && !dis.contains("<illegal"), "{dis}");
}

/// An entry that overflows its stack is stopped — by the compiled code's
/// stack check against `__bulkhead_stack_limit` (trap 9), or, for code
/// without checks, by the MPU: the stack lies at the bottom of the RAM
/// region and below it no region grants anything (MemManage) — is
/// abandoned, and the next entry still runs.
#[test]
fn stack_overflow_is_contained() {
    let wat = r#"(module (memory 1 1)
      (func $deep (export "deep") (result i32) (i32.add (call $deep) (i32.const 1)))
      (func (export "after") (result i32) i32.const 5))"#;
    for board in [Board::Mps2An386, Board::Mps2An505] {
        let a = compile(wat, board, BoundsMode::Checked);
        let img = image(&a, board, &[EntryRequest::new("deep"), EntryRequest::new("after")]);
        let (out, status) = run(&img, &format!("stack-overflow-{}", board.machine()));
        let line = out.lines().find(|l| l.starts_with("entry deep ")).unwrap_or_else(|| panic!("{board}:\n{out}"));
        let trapped = line.starts_with("entry deep trapped: call stack exhausted (code 9) PC=0x");
        let faulted = line.starts_with("entry deep faulted: MemManage ")
            && hex_field(line, "CFSR").is_some_and(|cfsr| cfsr & 0x12 != 0);
        assert!(trapped || faulted, "{board}: {line}");
        assert!(out.contains("entry after returned 5\n"), "{board}:\n{out}");
        assert_eq!(status, 1);
    }
}

#[test]
fn instantiation_failure_is_reported() {
    let wat = r#"(module (memory 1 1) (data (i32.const 65535) "ab")
      (func (export "f") (result i32) i32.const 1))"#;
    let a = compile(wat, Board::Mps2An386, BoundsMode::Checked);
    let img = image(&a, Board::Mps2An386, &[EntryRequest::new("f")]);
    let (out, status) = run(&img, "instantiate-fails");
    assert!(out.contains("instantiate failed: out of bounds memory access (code 2)\n"), "{out}");
    assert!(!out.contains("entry f"), "{out}");
    assert_eq!(status, 2, "{out}");
}

#[test]
fn image_errors_are_precise() {
    let board = Board::Mps2An386;
    let with_import =
        r#"(module (import "env" "log" (func (param i32))) (func (export "f") (result i32) i32.const 1))"#;
    let a = compile(with_import, board, BoundsMode::Checked);
    let e = build_image(&a, &ImageOptions { entries: vec![EntryRequest::new("f")], ..ImageOptions::new(board) })
        .unwrap_err()
        .to_string();
    assert!(e.contains("function env.log") && e.contains("env_log"), "{e}");

    let plain = r#"(module (func (export "add") (param i32 i32) (result i32) local.get 0) (func (export "f") (result i32) i32.const 1))"#;
    let a = compile(plain, board, BoundsMode::Checked);
    let e = build_image(&a, &ImageOptions { entries: vec![EntryRequest::new("add")], ..ImageOptions::new(board) })
        .unwrap_err()
        .to_string();
    assert!(e.contains("--entry add") && e.contains("() -> i32"), "{e}");
    let e = build_image(&a, &ImageOptions { entries: vec![EntryRequest::new("nope")], ..ImageOptions::new(board) })
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope") && e.contains("add, f"), "{e}");
    // Code for the M4F does not run on the M3 board.
    let e = build_image(&a, &ImageOptions::new(Board::Mps2An385)).unwrap_err().to_string();
    assert!(e.contains("mps2-an385") && e.contains("thumbv7m-none-eabi"), "{e}");
}

/// Without entries the image only instantiates, which runs the start
/// function: a start function that traps shows it ran (a trap outside the
/// entries ends the run with status 2); one that returns exits with 0.
#[test]
fn start_function_only() {
    let board = Board::Mps2An385;
    let returns = r#"(module (memory 1 1) (func $start (i32.store (i32.const 0) (i32.const 5))) (start $start))"#;
    let img = image(&compile(returns, board, BoundsMode::Checked), board, &[]);
    let (out, status) = run(&img, "start-returns");
    assert_eq!(out, "bulkhead image two_tenants\ndone: all entries returned\n");
    assert_eq!(status, 0, "{out}");
    let traps = r#"(module (memory 1 1) (func $start unreachable) (start $start))"#;
    let img = image(&compile(traps, board, BoundsMode::Checked), board, &[]);
    let (out, status) = run(&img, "start-traps");
    assert!(out.starts_with("bulkhead image two_tenants\ninstantiate trapped: unreachable (code 1) PC=0x"), "{out}");
    assert!(!out.contains("done:"), "{out}");
    assert_eq!(status, 2, "{out}");
}

/// The relocations the image linker resolved agree with GNU ld's: the
/// module's object linked by `arm-none-eabi-ld` with every input section at
/// the address bulkhead chose gives byte-identical code and data.
#[test]
fn relocations_agree_with_gnu_ld() {
    let board = Board::Mps2An385;
    let artifact = compile(TWO_TENANTS, board, BoundsMode::Checked);
    let img = image(&artifact, board, &[EntryRequest::new("adapter_copy")]);
    let object = scratch("two_tenants-gnu.o");
    std::fs::write(&object, &artifact.object).unwrap();
    let mut script = String::from("SECTIONS {\n");
    for (i, s) in img.module_sections.iter().enumerate() {
        script.push_str(&format!("  out{i} {:#x} : {{ KEEP(*({})) }}\n", s.address, s.name));
    }
    script.push_str("  /DISCARD/ : { *(.ARM.attributes) }\n}\n");
    let script_path = scratch("two_tenants-gnu.ld");
    std::fs::write(&script_path, &script).unwrap();
    let linked = scratch("two_tenants-gnu.elf");
    let stack_limit = img.symbols[bulkhead::SymbolNames::STACK_LIMIT];
    let out = Command::new("arm-none-eabi-ld")
        .arg(format!("--defsym={}={stack_limit:#x}", bulkhead::SymbolNames::STACK_LIMIT))
        .arg("-T")
        .arg(&script_path)
        .arg(&object)
        .arg("-o")
        .arg(&linked)
        .output()
        .unwrap();
    assert!(out.status.success(), "ld: {}", String::from_utf8_lossy(&out.stderr));
    // Read both with the object crate and compare the bytes at each
    // module section's address.
    use object::{Object as _, ObjectSection as _};
    let reference = std::fs::read(&linked).unwrap();
    let reference = object::File::parse(&*reference).unwrap();
    let ours = object::File::parse(&*img.elf).unwrap();
    let bytes_at = |file: &object::File, address: u64, size: u64| -> Option<Vec<u8>> {
        file.sections().find_map(|s| {
            let data = s.data().ok()?;
            (s.address() <= address && address + size <= s.address() + data.len() as u64 && !data.is_empty())
                .then(|| data[(address - s.address()) as usize..][..size as usize].to_vec())
        })
    };
    let mut compared = 0;
    for s in &img.module_sections {
        if s.name.starts_with(".bulkhead.mem") || s.name == ".bss" || s.size == 0 {
            continue;
        }
        let expected = bytes_at(&reference, u64::from(s.address), u64::from(s.size))
            .unwrap_or_else(|| panic!("ld output has no {} at {:#x}", s.name, s.address));
        let got = bytes_at(&ours, u64::from(s.address), u64::from(s.size))
            .unwrap_or_else(|| panic!("image has no {} at {:#x}", s.name, s.address));
        assert!(expected == got, "{} at {:#x} differs from GNU ld's", s.name, s.address);
        compared += 1;
    }
    assert!(compared >= 2, "compared .text and .rodata at least: {:?}", img.module_sections);
}
