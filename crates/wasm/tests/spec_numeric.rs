//! The spec test suite's numeric scripts, run on the translated IR.
//!
//! Every module of the listed scripts is translated (translation must
//! succeed: these scripts use only what the frontend supports), and every
//! `assert_return` / `assert_trap` / `invoke` on it runs `instantiate` and
//! the export under `bulkhead_ir::interp`. Expected values come from the
//! scripts, so this checks the frontend (and the IR's evaluators) against
//! the spec's own numbers: i64 arithmetic, float arithmetic with its NaN
//! rules, every conversion with its trap boundaries, loads and stores of
//! every width.
//!
//! Modules with imports are not run (nothing here models the `spectest`
//! host); those assertions are counted as skipped.

use bulkhead_ir::interp::{self, Host, InterpError, Memories, State, Tables, Val};
use bulkhead_ir::{FuncIdx, TrapCode};
use bulkhead_wasm::WasmErrorKind;
use bulkhead_wasm::{TranslateOptions, Translation};
use std::path::{Path, PathBuf};
use wast::core::{NanPattern, WastArgCore, WastRetCore};
use wast::{QuoteWat, WastArg, WastDirective, WastExecute, WastRet};

const FUEL: u64 = 50_000_000;

/// Scripts whose every module must translate (no unsupported feature):
/// the numeric ones this frontend exists to get right.
const STRICT: &[&str] = &[
    "i64.wast",
    "f32.wast",
    "f64.wast",
    "f32_bitwise.wast",
    "f64_bitwise.wast",
    "f32_cmp.wast",
    "f64_cmp.wast",
    "conversions.wast",
    "float_exprs.wast",
    "float_exprs0.wast",
    "float_exprs1.wast",
    "float_misc.wast",
    "float_memory.wast",
    "float_literals.wast",
    "int_exprs.wast",
    "int_literals.wast",
    "const.wast",
    "endianness.wast",
    "left-to-right.wast",
    "local_get.wast",
    "local_set.wast",
    "local_tee.wast",
];

/// The scripts run. In those not in [`STRICT`], a module using something
/// the frontend rejects as unsupported (reference types, a 4 GiB memory)
/// is skipped with its assertions; every assertion that runs must pass.
const SCRIPTS: &[&str] = &[
    "i64.wast",
    "f32.wast",
    "f64.wast",
    "f32_bitwise.wast",
    "f64_bitwise.wast",
    "f32_cmp.wast",
    "f64_cmp.wast",
    "conversions.wast",
    "float_exprs.wast",
    "float_exprs0.wast",
    "float_exprs1.wast",
    "float_misc.wast",
    "float_memory.wast",
    "float_literals.wast",
    "int_exprs.wast",
    "int_literals.wast",
    "const.wast",
    "endianness.wast",
    "left-to-right.wast",
    "load.wast",
    "store.wast",
    "local_get.wast",
    "local_set.wast",
    "local_tee.wast",
    "select.wast",
    "global.wast",
    "memory.wast",
    "traps.wast",
    "address.wast",
];

fn spec_dir() -> PathBuf {
    std::env::var_os("BULKHEAD_SPEC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/spec-testsuite"))
        .join("core")
}

struct ModuleHost<'a> {
    tr: &'a Translation,
    depth: u32,
}

impl Host for ModuleHost<'_> {
    fn call(&mut self, func: FuncIdx, args: &[Val], state: &mut State) -> Result<Vec<Val>, InterpError> {
        let Some(f) = func.0.checked_sub(self.tr.env.num_imported_funcs).and_then(|i| self.tr.functions.get(i as usize))
        else {
            return Err(InterpError::Fault(format!("call to {func}, not a defined function")));
        };
        if self.depth > 200 {
            return Err(InterpError::Fault("call depth".into()));
        }
        self.depth += 1;
        let r = interp::run(f, args, state, self, FUEL);
        self.depth -= 1;
        r
    }
}

fn fresh_state(tr: &Translation) -> State {
    let env = &tr.env;
    let id = |sig: &bulkhead_ir::Signature| env.types.iter().position(|t| t == sig).unwrap_or(usize::MAX) as u32;
    State {
        memories: Memories::new(&env.memories.iter().map(|m| (m.reserved_bytes as usize, 0)).collect::<Vec<_>>()),
        globals: env.globals.iter().map(|g| Val::zero(g.ty)).collect(),
        data: env.data.iter().map(|d| d.bytes.clone()).collect(),
        tables: Tables {
            entries: env.tables.iter().map(|t| vec![0; t.reserved_entries as usize]).collect(),
            sizes: vec![0; env.tables.len()],
            func_type_ids: env.funcs.iter().map(|f| id(&f.sig)).collect(),
            sig_type_ids: env.types.iter().map(id).collect(),
        },
    }
}

struct Instance {
    tr: Translation,
    state: State,
}

fn arg(a: &WastArg<'_>) -> Option<Val> {
    match a {
        WastArg::Core(WastArgCore::I32(x)) => Some(Val::I32(*x as u32)),
        WastArg::Core(WastArgCore::I64(x)) => Some(Val::I64(*x as u64)),
        WastArg::Core(WastArgCore::F32(x)) => Some(Val::F32(x.bits)),
        WastArg::Core(WastArgCore::F64(x)) => Some(Val::F64(x.bits)),
        // References are i32 in the IR: null is 0, the host value N of
        // `ref.extern N` is N + 1 (the wast runner's encoding).
        WastArg::Core(WastArgCore::RefNull(_)) => Some(Val::I32(0)),
        WastArg::Core(WastArgCore::RefExtern(n)) => n.checked_add(1).map(Val::I32),
        _ => None,
    }
}

/// Does `got` match the script's expected result? NaN patterns follow the
/// spec: canonical = exponent all ones and only the quiet bit in the
/// payload (either sign); arithmetic = the quiet bit set.
fn matches(expected: &WastRet<'_>, got: Val) -> bool {
    match (expected, got) {
        (WastRet::Core(WastRetCore::I32(x)), Val::I32(y)) => *x as u32 == y,
        (WastRet::Core(WastRetCore::I64(x)), Val::I64(y)) => *x as u64 == y,
        (WastRet::Core(WastRetCore::F32(p)), Val::F32(y)) => match p {
            NanPattern::Value(x) => x.bits == y,
            NanPattern::CanonicalNan => y & 0x7fff_ffff == 0x7fc0_0000,
            NanPattern::ArithmeticNan => y & 0x7fc0_0000 == 0x7fc0_0000,
        },
        (WastRet::Core(WastRetCore::F64(p)), Val::F64(y)) => match p {
            NanPattern::Value(x) => x.bits == y,
            NanPattern::CanonicalNan => y & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
            NanPattern::ArithmeticNan => y & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
        },
        (WastRet::Core(WastRetCore::RefNull(_)), Val::I32(y)) => y == 0,
        // A non-null funcref is a descriptor address: only non-null-ness
        // can be checked.
        (WastRet::Core(WastRetCore::RefFunc(_)), Val::I32(y)) => y != 0,
        (WastRet::Core(WastRetCore::RefExtern(Some(n))), Val::I32(y)) => n.checked_add(1) == Some(y),
        (WastRet::Core(WastRetCore::RefExtern(None)), Val::I32(y)) => y != 0,
        _ => false,
    }
}

#[derive(Default)]
struct Tally {
    passed: usize,
    skipped: usize,
    skipped_modules: Vec<String>,
    failures: Vec<String>,
}

fn instantiate(bytes: &[u8], what: &str, strict: bool, tally: &mut Tally) -> Option<Instance> {
    // Room to grow for memories without a declared maximum.
    let opts = TranslateOptions { default_memory_max: Some(64 << 16), ..TranslateOptions::default() };
    let tr = match bulkhead_wasm::translate(bytes, &opts) {
        Ok(tr) => tr,
        Err(e) if !strict && matches!(e.kind, WasmErrorKind::Unsupported | WasmErrorKind::Limit) => {
            tally.skipped_modules.push(format!("{what}: {e}"));
            return None;
        }
        Err(e) => {
            tally.failures.push(format!("{what}: translation failed: {e}"));
            return None;
        }
    };
    for f in tr.functions.iter().chain([&tr.instantiate]) {
        if let Err(e) = bulkhead_ir::verify_with(f, &bulkhead_wasm::EnvCallees(&tr.env)) {
            tally.failures.push(format!("{what}: {} does not verify: {e}", f.name));
            return None;
        }
    }
    let has_imports = tr.env.num_imported_funcs > 0
        || tr.env.globals.iter().any(|g| g.import.is_some())
        || tr.env.memories.iter().any(|m| m.import.is_some());
    if has_imports {
        return None;
    }
    let mut state = fresh_state(&tr);
    let r = interp::run(&tr.instantiate, &[], &mut state, &mut ModuleHost { tr: &tr, depth: 0 }, FUEL);
    if r != Ok(vec![Val::I32(0)]) {
        tally.failures.push(format!("{what}: instantiation returned {r:?}"));
        return None;
    }
    Some(Instance { tr, state })
}

fn invoke(inst: &mut Instance, name: &str, args: &[WastArg<'_>]) -> Result<Result<Vec<Val>, InterpError>, String> {
    let args: Vec<Val> = args.iter().map(arg).collect::<Option<_>>().ok_or("argument type")?;
    let index = inst
        .tr
        .env
        .funcs
        .iter()
        .position(|f| f.exports.iter().any(|e| e == name))
        .ok_or_else(|| format!("no export {name}"))?;
    let mut host = ModuleHost { tr: &inst.tr, depth: 0 };
    Ok(host.call(FuncIdx(index as u32), &args, &mut inst.state))
}

fn run_script(path: &Path, tally: &mut Tally) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let buf = wast::parser::ParseBuffer::new(&text).unwrap();
    let script: wast::Wast = wast::parser::parse(&buf).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = path.file_name().unwrap().to_string_lossy().to_string();
    let mut current: Option<Instance> = None;
    for directive in script.directives {
        let line = directive.span().linecol_in(&text).0 + 1;
        let at = format!("{file}:{line}");
        match directive {
            WastDirective::Module(mut module) => {
                current = match module.encode() {
                    Ok(bytes) if matches!(module, QuoteWat::Wat(_) | QuoteWat::QuoteModule(..)) => {
                        instantiate(&bytes, &at, STRICT.contains(&file.as_str()), tally)
                    }
                    _ => None,
                };
            }
            WastDirective::Invoke(inv) => {
                let Some(inst) = current.as_mut().filter(|_| inv.module.is_none()) else {
                    tally.skipped += 1;
                    continue;
                };
                match invoke(inst, inv.name, &inv.args) {
                    Ok(Ok(_)) => tally.passed += 1,
                    Ok(Err(e)) => tally.failures.push(format!("{at}: invoke {}: {e}", inv.name)),
                    Err(e) => tally.failures.push(format!("{at}: invoke {}: {e}", inv.name)),
                }
            }
            WastDirective::AssertReturn { exec: WastExecute::Invoke(inv), results, .. } => {
                let Some(inst) = current.as_mut().filter(|_| inv.module.is_none()) else {
                    tally.skipped += 1;
                    continue;
                };
                match invoke(inst, inv.name, &inv.args) {
                    Ok(Ok(got))
                        if got.len() == results.len() && results.iter().zip(&got).all(|(e, g)| matches(e, *g)) =>
                    {
                        tally.passed += 1
                    }
                    Ok(got) => tally.failures.push(format!(
                        "{at}: {}({:?}) returned {got:?}, expected {results:?}",
                        inv.name,
                        inv.args.iter().map(arg).collect::<Vec<_>>()
                    )),
                    Err(e) => tally.failures.push(format!("{at}: {}: {e}", inv.name)),
                }
            }
            WastDirective::AssertTrap { exec: WastExecute::Invoke(inv), message, .. } => {
                let Some(inst) = current.as_mut().filter(|_| inv.module.is_none()) else {
                    tally.skipped += 1;
                    continue;
                };
                match invoke(inst, inv.name, &inv.args) {
                    Ok(Err(InterpError::Trap(code))) if message.starts_with(code.spec_message()) => tally.passed += 1,
                    // The frontend's trap codes differ from the spec's
                    // wording only where the spec's is ambiguous.
                    Ok(Err(InterpError::Trap(TrapCode::UninitializedElement))) if message.contains("uninitialized") => {
                        tally.passed += 1
                    }
                    other => tally.failures.push(format!(
                        "{at}: {}({:?}) gave {other:?}, expected trap \"{message}\"",
                        inv.name,
                        inv.args.iter().map(arg).collect::<Vec<_>>()
                    )),
                }
            }
            WastDirective::AssertReturn { .. } | WastDirective::AssertTrap { .. } => tally.skipped += 1,
            _ => {}
        }
    }
}

#[test]
fn numeric_spec_scripts_pass_on_the_translated_ir() {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(|| {
            let dir = spec_dir();
            assert!(dir.is_dir(), "spec test suite not found at {} (set BULKHEAD_SPEC_DIR)", dir.display());
            let mut tally = Tally::default();
            for script in SCRIPTS {
                run_script(&dir.join(script), &mut tally);
            }
            eprintln!("{} passed, {} skipped, {} failed", tally.passed, tally.skipped, tally.failures.len());
            for m in &tally.skipped_modules {
                eprintln!("skipped module {m}");
            }
            assert!(
                tally.failures.is_empty(),
                "{} failures:\n{}",
                tally.failures.len(),
                tally.failures.iter().take(60).cloned().collect::<Vec<_>>().join("\n")
            );
            // The scripts hold thousands of numeric assertions; most run.
            assert!(tally.passed > 10_000, "only {} assertions ran", tally.passed);
        })
        .unwrap()
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
}
