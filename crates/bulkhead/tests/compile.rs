//! The facade's pipeline on real modules: input detection, options, the
//! artifact's contents and error classification.

use bulkhead::{Compiler, ErrorKind, Options};
use object::{Object, ObjectSection, ObjectSymbol};
use std::path::Path;

fn example_text() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/two_memories.wat")).unwrap()
}

fn compile(options: Options, input: &[u8]) -> Result<bulkhead::Artifact, bulkhead::Error> {
    Compiler::new(options).compile(input)
}

fn named(name: &str) -> Options {
    Options { name: name.into(), ..Default::default() }
}

#[test]
fn text_and_binary_input_give_the_same_object() {
    let text = example_text();
    let binary = wat::parse_str(&text).unwrap();
    let from_text = compile(named("tm"), text.as_bytes()).unwrap();
    let from_binary = compile(named("tm"), &binary).unwrap();
    assert_eq!(from_text.object, from_binary.object);
    // Deterministic across runs.
    assert_eq!(from_text.object, compile(named("tm"), &binary).unwrap().object);
}

#[test]
fn artifact_describes_the_module() {
    let artifact =
        compile(Options { emit_ir: true, emit_asm: true, ..named("tm") }, example_text().as_bytes()).unwrap();
    assert_eq!(artifact.env.memories.len(), 2);
    assert_eq!(artifact.env.memories[1].reserved_bytes, 131072);
    assert_eq!(artifact.symbols.module(), "tm");
    assert_eq!(artifact.symbols.memory_base(1), "tm__mem1");
    assert!(artifact.isa.hard_float);

    // Eight defined functions, then instantiate.
    assert_eq!(artifact.functions.len(), 9);
    let last = artifact.functions.last().unwrap();
    assert_eq!((last.index, last.symbol.as_str()), (None, "tm__instantiate"));
    let sum_a = &artifact.functions[0];
    assert_eq!((sum_a.index, sum_a.symbol.as_str()), (Some(0), "tm_sum_a"));
    assert!(sum_a.code_size > 0);
    // sum_a touches only tenant A (memory 0).
    assert_eq!(sum_a.dominant_memory, Some(0));
    assert!(sum_a.stats.is_some());

    let ir = artifact.ir_text.as_deref().unwrap();
    assert_eq!(ir.matches("function %").count(), 9);
    let asm = artifact.asm_text.as_deref().unwrap();
    assert!(asm.contains("tm_deliver:"));

    // Every function symbol in the object has the size the artifact reports.
    let file = object::File::parse(&*artifact.object).unwrap();
    for info in &artifact.functions {
        let sym = file.symbols().find(|s| s.name() == Ok(info.symbol.as_str())).unwrap();
        assert_eq!(sym.size() as usize, info.code_size, "{}", info.symbol);
    }
    assert!(file.section_by_name(".bulkhead.mem.0").is_some());
    assert!(file.section_by_name(".bulkhead.mem.1").is_some());
}

#[test]
fn every_opt_level_compiles() {
    let text = example_text();
    for level in 0..=2 {
        let artifact = compile(Options { opt_level: level, ..named("tm") }, text.as_bytes()).unwrap();
        assert!(!artifact.object.is_empty());
        assert_eq!(artifact.functions[0].stats.is_some(), level > 0);
    }
    assert_eq!(
        compile(Options { opt_level: 3, ..named("tm") }, text.as_bytes()).unwrap_err().kind(),
        ErrorKind::Target
    );
}

#[test]
fn errors_are_classified() {
    let kind = |options: Options, wat: &str| compile(options, wat.as_bytes()).unwrap_err();

    let e = kind(named("m"), "(module (func (result i32) i32.const 1 i64.add))");
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
    let e = kind(named("m"), "(module (func");
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
    let e = compile(named("m"), b"\0asm\x01\0\0\0\x01\xff").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");

    let e = kind(
        named("m"),
        "(module (func (result i32) i32.const 0) (func (result i32) return_call 0))",
    );
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    let shown = e.to_string();
    assert!(shown.contains("function 1") && shown.contains("offset 0x"), "{shown}");
    match e {
        bulkhead::Error::Unsupported(w) => {
            assert_eq!(w.func_index, Some(1));
            assert!(w.offset.is_some());
        }
        other => panic!("{other:?}"),
    }

    let e = kind(Options { target: "x86_64-unknown-linux-gnu".into(), ..named("m") }, "(module)");
    assert_eq!(e.kind(), ErrorKind::Target, "{e}");
    let e = kind(Options { cpu: Some("cortex-m3".into()), ..named("m") }, "(module)");
    assert_eq!(e.kind(), ErrorKind::Target, "{e}"); // M3 has no FPU for eabihf
    let e = kind(named("not valid"), "(module)");
    assert_eq!(e.kind(), ErrorKind::Target, "{e}");

    // An export spelled like one of bulkhead's own symbols does not clash
    // with it: `m_mem0` is the export, `m__mem0` the memory.
    let artifact = compile(named("m"), r#"(module (func (export "mem0")) (memory 1))"#.as_bytes()).unwrap();
    assert_eq!(artifact.symbols.export_symbol("mem0"), "m_mem0");
    assert_eq!(artifact.symbols.memory_base(0), "m__mem0");

    let e = Compiler::new(named("m")).compile_file(Path::new("/nonexistent/x.wasm")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
}

#[test]
fn memory_reservations_follow_the_options() {
    let wat = "(module (memory 1) (memory 1 4))";
    let a = compile(
        Options { default_memory_max: Some(3 << 16), memory_max: vec![(1, 2 << 16)], ..named("m") },
        wat.as_bytes(),
    )
    .unwrap();
    assert_eq!(a.env.memories[0].reserved_bytes, 3 << 16);
    assert_eq!(a.env.memories[1].reserved_bytes, 2 << 16);
    let file = object::File::parse(&*a.object).unwrap();
    let mem0 = file.section_by_name(".bulkhead.mem.0").unwrap();
    assert_eq!((mem0.size(), mem0.align()), (3 << 16, 4 << 16));
}
