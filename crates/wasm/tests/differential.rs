//! Differential test against wasmi on random modules from wasm-smith,
//! restricted to the operators bulkhead translates (modules that still use
//! something else are rejected with an error and skipped, and the test
//! requires enough of them to get through). `DIFF_VERBOSE=1` prints why
//! modules and calls are skipped.

mod common;

use arbitrary::Unstructured;
use bulkhead_wasm::TranslateOptions;
use common::{same_results, Machine, Stop};
use wasm_smith::{Config, InstructionKind, InstructionKinds};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Integer-only programs, or (`floats`) programs with every float and
/// conversion operator and float memory accesses. wasm-smith canonicalizes
/// NaNs in float programs (as the spec's nondeterminism needs for a
/// bit-exact comparison of memories and globals); the NaN rules themselves
/// are checked against the spec scripts (`spec_numeric.rs`) and wasmi
/// (`semantics.rs`).
fn config(floats: bool) -> Config {
    Config {
        allow_floats: floats,
        canonicalize_nans: floats,
        simd_enabled: false,
        relaxed_simd_enabled: false,
        gc_enabled: false,
        exceptions_enabled: false,
        reference_types_enabled: false,
        threads_enabled: false,
        memory64_enabled: false,
        tail_call_enabled: false,
        wide_arithmetic_enabled: false,
        saturating_float_to_int_enabled: floats,
        compact_imports_enabled: false,
        custom_page_sizes_enabled: true,
        max_memories: 3,
        max_tables: 0,
        max_imports: 0,
        max_memory32_bytes: 1 << 18,
        memory_max_size_required: true,
        export_everything: true,
        min_funcs: 1,
        max_funcs: 6,
        max_instructions: 40,
        max_data_segments: 4,
        max_element_segments: 0,
        allowed_instructions: InstructionKinds::new(if floats {
            &[
                InstructionKind::Numeric,
                InstructionKind::Parametric,
                InstructionKind::Variable,
                InstructionKind::Memory,
                InstructionKind::Control,
            ]
        } else {
            &[
                InstructionKind::NumericInt,
                InstructionKind::Parametric,
                InstructionKind::Variable,
                InstructionKind::MemoryInt,
                InstructionKind::Control,
            ]
        }),
        ..Config::default()
    }
}

fn wasmi_stop(e: &wasmi::Error) -> Stop {
    use bulkhead_ir::TrapCode as T;
    use wasmi::TrapCode as W;
    match e.as_trap_code() {
        Some(W::UnreachableCodeReached) => Stop::Trap(T::Unreachable),
        Some(W::MemoryOutOfBounds) => Stop::Trap(T::MemoryOutOfBounds),
        Some(W::IntegerDivisionByZero) => Stop::Trap(T::IntegerDivideByZero),
        Some(W::IntegerOverflow) => Stop::Trap(T::IntegerOverflow),
        Some(W::BadConversionToInteger) => Stop::Trap(T::InvalidConversion),
        _ => Stop::Fault(format!("wasmi: {e}")),
    }
}

fn on_big_stack(f: impl FnOnce() + Send + 'static) {
    // wasmi's interpreter recurses deeply in unoptimized builds.
    std::thread::Builder::new()
        .stack_size(512 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
}

#[test]
fn random_modules_match_wasmi() {
    on_big_stack(|| run_random_modules(false, 0x1234_5678_9abc_def1));
}

#[test]
fn random_float_modules_match_wasmi() {
    on_big_stack(|| run_random_modules(true, 0x0f10_a7f1_0a75_0001));
}

/// Interesting bits of float arguments: zeros, ones, halves (nearest's
/// ties), the trap boundaries of i32 truncation, infinities, NaNs.
const F32_ARGS: [u32; 10] =
    [0, 0x8000_0000, 0x3f80_0000, 0xbf00_0000, 0x4020_0000, 0x4f00_0000, 0xcf00_0001, 0x7f80_0000, 0xff80_0000, 0x7fc0_0000];
const F64_ARGS: [u64; 10] = [
    0,
    0x8000_0000_0000_0000,
    0x3ff0_0000_0000_0000,
    0xbfe0_0000_0000_0000,
    0x4004_0000_0000_0000,
    0x41e0_0000_0000_0000,
    0xc1e0_0000_0020_0000,
    0x7ff0_0000_0000_0000,
    0xfff0_0000_0000_0000,
    0x7ff8_0000_0000_0000,
];

fn run_random_modules(floats: bool, seed: u64) {
    let mut rng = Rng(seed);
    let mut compared_calls = 0;
    let mut translated = 0;
    for _ in 0..1500 {
        let bytes: Vec<u8> = (0..8192).map(|_| rng.next() as u8).collect();
        let Ok(module) = wasm_smith::Module::new(config(floats), &mut Unstructured::new(&bytes)) else { continue };
        let wasm = module.to_bytes();
        let tr = match bulkhead_wasm::translate(&wasm, &TranslateOptions::default()) {
            Ok(tr) => tr,
            Err(e) => {
                if std::env::var("DIFF_VERBOSE").is_ok() {
                    eprintln!("rejected: {}", e.message);
                }
                assert!(e.message.starts_with("unsupported"), "{e}");
                continue;
            }
        };
        translated += 1;

        let mut wconfig = wasmi::Config::default();
        wconfig.wasm_custom_page_sizes(true).consume_fuel(true);
        let engine = wasmi::Engine::new(&wconfig);
        let wmodule = wasmi::Module::new(&engine, &wasm).expect("wasmi rejects a valid module");
        let mut store = wasmi::Store::new(&engine, ());
        store.set_fuel(1_000_000).unwrap();
        let linker = wasmi::Linker::<()>::new(&engine);
        let mut machine = Machine::new(&tr);
        let ours = machine.instantiate();
        let instance = match linker.instantiate_and_start(&mut store, &wmodule) {
            Ok(i) => {
                assert_eq!(ours, Ok(0), "instantiation differs");
                i
            }
            Err(e) => {
                if std::env::var("DIFF_VERBOSE").is_ok() {
                    eprintln!("instantiation failed: {e}");
                }
                let stop = e.as_trap_code().map(|_| wasmi_stop(&e));
                match stop {
                    // The start function trapped or ran out of fuel.
                    Some(Stop::Trap(_)) | Some(Stop::Fault(_)) => {}
                    None => assert_eq!(ours, Ok(2), "wasmi failed instantiation ({e}), we did not"),
                }
                continue;
            }
        };

        let mut diverged = false;
        for (k, decl) in tr.env.funcs.iter().enumerate() {
            let Some(name) = decl.exports.first() else { continue };
            for args_seed in 0..3u64 {
                let args: Vec<u64> = decl
                    .sig
                    .params
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        let r = rng.next();
                        let v = match (args_seed + i as u64) % 4 {
                            0 => 0,
                            1 => 1,
                            2 => 0xffff_ffff_ffff_ffff,
                            _ => r % 70000,
                        };
                        match t {
                            bulkhead_ir::Type::I32 => v & 0xffff_ffff,
                            bulkhead_ir::Type::F32 if r.is_multiple_of(3) => r >> 32,
                            bulkhead_ir::Type::F32 => F32_ARGS[(r % 10) as usize] as u64,
                            bulkhead_ir::Type::F64 if r.is_multiple_of(3) => r,
                            bulkhead_ir::Type::F64 => F64_ARGS[(r % 10) as usize],
                            _ => v,
                        }
                    })
                    .collect();
                let func = instance.get_func(&store, name).unwrap();
                let ty = func.ty(&store);
                let params: Vec<wasmi::Val> = ty
                    .params()
                    .iter()
                    .zip(&args)
                    .map(|(t, &a)| match t {
                        wasmi::ValType::I64 => wasmi::Val::I64(a as i64),
                        wasmi::ValType::F32 => wasmi::Val::F32(wasmi::F32::from_bits(a as u32)),
                        wasmi::ValType::F64 => wasmi::Val::F64(wasmi::F64::from_bits(a)),
                        _ => wasmi::Val::I32(a as u32 as i32),
                    })
                    .collect();
                let mut out: Vec<wasmi::Val> = ty.results().iter().map(|_| wasmi::Val::I32(0)).collect();
                let theirs = match func.call(&mut store, &params, &mut out) {
                    Ok(()) => Ok(out.iter().map(wasmi_bits).collect::<Vec<u64>>()),
                    Err(e) => Err(wasmi_stop(&e)),
                };
                machine.fuel = 2_000_000;
                let ours = machine.call(k as u32, &args);
                machine.depth = 0;
                if matches!(theirs, Err(Stop::Fault(_))) || matches!(ours, Err(Stop::Fault(_))) {
                    // Out of fuel or stack on one side: states may differ from here on.
                    if std::env::var("DIFF_VERBOSE").is_ok() {
                        eprintln!("stopped: ours {ours:?} theirs {theirs:?}");
                    }
                    diverged = true;
                    break;
                }
                compared_calls += 1;
                let f = &tr.functions[k - tr.env.num_imported_funcs as usize];
                assert!(
                    same_results(&decl.sig.results, &ours, &theirs),
                    "{name}({args:x?}): ours {ours:x?}, wasmi {theirs:x?}\n{}\n{f}",
                    hex(&wasm)
                );
            }
            if diverged {
                break;
            }
        }
        if diverged {
            continue;
        }
        for (k, decl) in tr.env.memories.iter().enumerate() {
            let Some(name) = decl.exports.first() else { continue };
            let mem = instance.get_memory(&store, name).unwrap();
            assert!(mem.data(&store) == machine.memory(k), "memory {k} differs from wasmi\n{}", hex(&wasm));
        }
        for (g, decl) in tr.env.globals.iter().enumerate() {
            let Some(name) = decl.exports.first() else { continue };
            let theirs = wasmi_bits(&instance.get_global(&store, name).unwrap().get(&store));
            let ours = Ok(vec![machine.globals[g]]);
            assert!(same_results(&[decl.ty], &ours, &Ok(vec![theirs])), "global {g} differs: ours {ours:x?}, wasmi {theirs:#x}\n{}", hex(&wasm));
        }
    }
    eprintln!("translated {translated} random modules (floats: {floats}), compared {compared_calls} calls");
    assert!(translated >= 50, "only {translated} random modules were translatable");
    assert!(compared_calls >= 100, "only {compared_calls} calls compared");
}

/// Module bytes as hex, for reproducing a failure.
fn hex(wasm: &[u8]) -> String {
    wasm.iter().map(|b| format!("{b:02x}")).collect()
}

fn wasmi_bits(v: &wasmi::Val) -> u64 {
    match v {
        wasmi::Val::I32(x) => *x as u32 as u64,
        wasmi::Val::I64(x) => *x as u64,
        wasmi::Val::F32(x) => x.to_bits() as u64,
        wasmi::Val::F64(x) => x.to_bits(),
        other => panic!("unexpected {other:?}"),
    }
}
