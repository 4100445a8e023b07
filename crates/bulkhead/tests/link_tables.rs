//! Function descriptors and type ids across separately compiled modules:
//! two objects are linked with GNU ld (the oracle for symbol resolution) and
//! the linked image is read back with the `object` crate.

use bulkhead::{Compiler, Options};
use object::{Object, ObjectSection, ObjectSymbol, SymbolSection};
use std::path::PathBuf;
use std::process::Command;

fn compile(name: &str, wat: &str) -> Vec<u8> {
    Compiler::new(Options { name: name.into(), ..Default::default() })
        .compile(wat.as_bytes())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .object
}

const A: &str = r#"(module
    (type $ii (func (param i32) (result i32)))
    (table 2 funcref)
    (func $neg (type $ii) i32.const 0 local.get 0 i32.sub)
    (func $nullary (result i32) i32.const 1)
    (elem (i32.const 0) $neg $nullary)
    (func (export "dispatch") (param i32 i32) (result i32)
        local.get 1 local.get 0 call_indirect (type $ii)))"#;

// Same signature, spelled with a different type index.
const B: &str = r#"(module
    (type $v (func))
    (type $other (func (param i32) (result i32)))
    (table 1 funcref)
    (func $id (type $other) local.get 0)
    (elem (i32.const 0) $id)
    (func (export "dispatch") (param i32 i32) (result i32)
        local.get 1 local.get 0 call_indirect (type $other)))"#;

fn tools() -> bool {
    Command::new("arm-none-eabi-ld").arg("--version").output().is_ok()
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bulkhead-link-tables-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Address of `name` in a linked image (for Thumb functions, bit 0 set as
/// in the symbol table).
fn address(file: &object::File<'_>, name: &str) -> u64 {
    file.symbols()
        .find(|s| s.name() == Ok(name))
        .unwrap_or_else(|| panic!("no symbol {name}"))
        .address()
}

fn word_at(file: &object::File<'_>, addr: u64) -> u32 {
    for section in file.sections() {
        let start = section.address();
        if addr >= start && addr + 4 <= start + section.size() {
            let data = section.data().unwrap();
            let at = (addr - start) as usize;
            return u32::from_le_bytes(data[at..at + 4].try_into().unwrap());
        }
    }
    panic!("no section holds {addr:#x}")
}

#[test]
fn type_ids_are_weak_and_merge_across_modules() {
    let a = compile("ma", A);
    let b = compile("mb", B);
    // In each object: a weak definition in .rodata.bulkhead.types.
    for (name, bytes) in [("ma", &a), ("mb", &b)] {
        let file = object::File::parse(&bytes[..]).unwrap();
        let sym = file
            .symbols()
            .find(|s| s.name() == Ok("__bulkhead_type_i_i"))
            .unwrap_or_else(|| panic!("{name}: no type symbol"));
        assert!(sym.is_weak() && sym.is_global(), "{name}: {sym:?}");
        let SymbolSection::Section(index) = sym.section() else { panic!("{name}: undefined type symbol") };
        assert_eq!(file.section_by_index(index).unwrap().name(), Ok(".rodata.bulkhead.types"));
        // The nullary type is used by a descriptor only in `ma`.
        let nullary = file.symbols().any(|s| s.name() == Ok("__bulkhead_type_v_i"));
        assert_eq!(nullary, name == "ma", "{name}");
    }
    if !tools() {
        eprintln!("skipping the link: arm-none-eabi-ld not installed");
        return;
    }
    let dir = temp_dir();
    let (pa, pb, out) = (dir.join("a.o"), dir.join("b.o"), dir.join("linked.elf"));
    std::fs::write(&pa, &a).unwrap();
    std::fs::write(&pb, &b).unwrap();
    let status = Command::new("arm-none-eabi-ld")
        // The stack-limit word's address: the link only has to resolve it.
        .args(["--no-warn-rwx-segments", "-e", "0", "-Ttext=0x10000", "--defsym=__bulkhead_stack_limit=0x20000000", "-o"])
        .arg(&out)
        .arg(&pa)
        .arg(&pb)
        .output()
        .unwrap();
    assert!(status.status.success(), "ld: {}", String::from_utf8_lossy(&status.stderr));
    let image = std::fs::read(&out).unwrap();
    let file = object::File::parse(&image[..]).unwrap();

    // One definition survives; both modules' descriptors point at it.
    let defs = file.symbols().filter(|s| s.name() == Ok("__bulkhead_type_i_i")).count();
    assert_eq!(defs, 1);
    let ii = address(&file, "__bulkhead_type_i_i") as u32;
    let vi = address(&file, "__bulkhead_type_v_i") as u32;
    assert_ne!(ii, vi);
    for (descriptor, function, type_id) in
        [("ma.fd0", "ma.f0", ii), ("ma.fd1", "ma.f1", vi), ("mb.fd0", "mb.f0", ii)]
    {
        let at = address(&file, descriptor);
        let code = address(&file, function) as u32;
        assert_eq!(code & 1, 1, "{function} is a Thumb function");
        assert_eq!(word_at(&file, at), code, "{descriptor}: code word");
        assert_eq!(word_at(&file, at + 4), type_id, "{descriptor}: type id word");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `memory.grow` on an imported memory reads the exporter's reservation
/// word: the exporter defines `NAME_<export>__max` (same address as
/// `NAME__mem0_max`), the importer references `<mod>_<field>__max`.
#[test]
fn imported_memories_read_the_exporters_reservation() {
    let exporter = compile("owner", r#"(module (memory (export "mem") 1 3))"#);
    let importer = compile(
        "user",
        r#"(module (memory (import "owner" "mem") 1 8)
             (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#,
    );
    let file = object::File::parse(&exporter[..]).unwrap();
    let alias = file.symbols().find(|s| s.name() == Ok("owner_mem__max")).expect("export alias of the max word");
    let own = file.symbols().find(|s| s.name() == Ok("owner__mem0_max")).expect("max word");
    assert_eq!((alias.address(), alias.section()), (own.address(), own.section()));
    assert!(alias.is_global());
    let file = object::File::parse(&importer[..]).unwrap();
    let max = file.symbols().find(|s| s.name() == Ok("owner_mem__max")).expect("reference to the exporter's max");
    assert!(max.is_undefined());
    // The importer's own declared maximum (8 pages) appears nowhere as a
    // constant: no `user__mem0_max` either.
    assert!(!file.symbols().any(|s| s.name() == Ok("user__mem0_max")));
}
