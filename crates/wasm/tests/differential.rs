//! Differential test against wasmi on random modules from wasm-smith,
//! restricted to the operators bulkhead translates (modules that still use
//! something else are rejected with an error and skipped, and the test
//! requires enough of them to get through). `DIFF_VERBOSE=1` prints why
//! modules and calls are skipped.

mod common;

use arbitrary::Unstructured;
use bulkhead_wasm::TranslateOptions;
use common::{Machine, Stop};
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

fn config() -> Config {
    Config {
        allow_floats: false,
        simd_enabled: false,
        relaxed_simd_enabled: false,
        gc_enabled: false,
        exceptions_enabled: false,
        reference_types_enabled: false,
        threads_enabled: false,
        memory64_enabled: false,
        tail_call_enabled: false,
        wide_arithmetic_enabled: false,
        saturating_float_to_int_enabled: false,
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
        allowed_instructions: InstructionKinds::new(&[
            InstructionKind::NumericInt,
            InstructionKind::Parametric,
            InstructionKind::Variable,
            InstructionKind::MemoryInt,
            InstructionKind::Control,
        ]),
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
        _ => Stop::Fault(format!("wasmi: {e}")),
    }
}

#[test]
fn random_modules_match_wasmi() {
    // wasmi's interpreter recurses deeply in unoptimized builds.
    std::thread::Builder::new()
        .stack_size(512 << 20)
        .spawn(run_random_modules)
        .unwrap()
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
}

fn run_random_modules() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut compared_calls = 0;
    let mut translated = 0;
    for _ in 0..1500 {
        let bytes: Vec<u8> = (0..8192).map(|_| rng.next() as u8).collect();
        let Ok(module) = wasm_smith::Module::new(config(), &mut Unstructured::new(&bytes)) else { continue };
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
                        let v = match (args_seed + i as u64) % 4 {
                            0 => 0,
                            1 => 1,
                            2 => 0xffff_ffff_ffff_ffff,
                            _ => rng.next() % 70000,
                        };
                        if *t == bulkhead_ir::Type::I32 { v & 0xffff_ffff } else { v }
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
                        _ => wasmi::Val::I32(a as u32 as i32),
                    })
                    .collect();
                let mut out: Vec<wasmi::Val> = ty
                    .results()
                    .iter()
                    .map(|t| if *t == wasmi::ValType::I64 { wasmi::Val::I64(0) } else { wasmi::Val::I32(0) })
                    .collect();
                let theirs = match func.call(&mut store, &params, &mut out) {
                    Ok(()) => Ok(out
                        .iter()
                        .map(|v| match v {
                            wasmi::Val::I32(x) => *x as u32 as u64,
                            wasmi::Val::I64(x) => *x as u64,
                            other => panic!("unexpected {other:?}"),
                        })
                        .collect::<Vec<u64>>()),
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
                assert_eq!(ours, theirs, "{name}({args:?}) differs from wasmi\n{}\n{f}", hex(&wasm));
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
            let theirs = match instance.get_global(&store, name).unwrap().get(&store) {
                wasmi::Val::I32(x) => x as u32 as u64,
                wasmi::Val::I64(x) => x as u64,
                _ => continue,
            };
            assert_eq!(machine.globals[g], theirs, "global {g} differs");
        }
    }
    eprintln!("translated {translated} random modules, compared {compared_calls} calls");
    assert!(translated >= 50, "only {translated} random modules were translatable");
    assert!(compared_calls >= 100, "only {compared_calls} calls compared");
}

/// Module bytes as hex, for reproducing a failure.
fn hex(wasm: &[u8]) -> String {
    wasm.iter().map(|b| format!("{b:02x}")).collect()
}
