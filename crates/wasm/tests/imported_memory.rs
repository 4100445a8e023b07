//! `memory.grow` on an imported memory uses the exporter's reservation,
//! read at run time (`mem_max`), not the importer's declared maximum.

mod common;

use bulkhead_ir::interp::{self, Memories, NoCalls, State, Val};
use bulkhead_ir::*;
use common::{func, translate};

#[test]
fn grow_of_an_imported_memory_reads_the_reservation() {
    let tr = translate(
        r#"(module (memory (import "m" "mem") 1 8)
             (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#,
    );
    let f = func(&tr, "grow");
    let uses_max = f.layout.iter().flat_map(|&b| f.block_insts(b)).any(|&i| matches!(f.inst(i), InstData::MemMax { .. }));
    assert!(uses_max, "{f}");
    // The exporter reserved 3 pages and the memory is at 1: the importer's
    // declared maximum of 8 must not matter.
    let mut state = State { memories: Memories::new(&[(3 << 16, 1 << 16)]), ..State::default() };
    let mut grow = |delta: u32| interp::run(f, &[Val::I32(delta)], &mut state, &mut NoCalls, 10_000).unwrap();
    assert_eq!(grow(3), [Val::I32(u32::MAX)]);
    assert_eq!(grow(2), [Val::I32(1)]);
    assert_eq!(grow(1), [Val::I32(u32::MAX)]);
    assert_eq!(grow(0), [Val::I32(3)]);
}

#[test]
fn grow_of_a_defined_memory_keeps_the_constant() {
    let tr = translate(r#"(module (memory 1 2) (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#);
    let f = func(&tr, "grow");
    let uses_max = f.layout.iter().flat_map(|&b| f.block_insts(b)).any(|&i| matches!(f.inst(i), InstData::MemMax { .. }));
    assert!(!uses_max, "{f}");
}
