//! Tables, element segments and `call_indirect`: the shape of the IR the
//! frontend emits, and its meaning under the IR reference interpreter
//! (`bulkhead_ir::interp`) checked against wasmi.

mod common;

use bulkhead_ir::interp::{self, InterpError, Memories, State, Tables, Val};
use bulkhead_ir::*;
use bulkhead_wasm::{translate, TranslateOptions, Translation, WasmErrorKind};
use common::{func, translate as translate_ok, wasm};

fn insts(f: &Function) -> Vec<&InstData> {
    f.layout.iter().flat_map(|&b| f.block_insts(b).iter().map(|&i| f.inst(i))).collect()
}

/// Interpreter state for a fresh instance: memories and tables reserved,
/// type ids modelled as the index of the first type with an equal
/// signature (so structurally equal types share an id, like the weak
/// `__bulkhead_type_*` symbols do at link time).
fn fresh_state(tr: &Translation) -> State {
    let env = &tr.env;
    let canonical = |sig: &Signature| env.types.iter().position(|t| t == sig).unwrap() as u32 + 100;
    State {
        memories: Memories::new(&env.memories.iter().map(|m| (m.reserved_bytes as usize, 0)).collect::<Vec<_>>()),
        globals: env.globals.iter().map(|g| Val::zero(g.ty)).collect(),
        data: env.data.iter().map(|d| d.bytes.clone()).collect(),
        tables: Tables {
            entries: env.tables.iter().map(|t| vec![0xdead_beef; t.reserved_entries as usize]).collect(),
            sizes: vec![0; env.tables.len()],
            func_type_ids: env.funcs.iter().map(|f| canonical(&f.sig)).collect(),
            sig_type_ids: env.types.iter().map(canonical).collect(),
        },
    }
}

struct ModuleHost<'t> {
    tr: &'t Translation,
}

impl interp::Host for ModuleHost<'_> {
    fn call(&mut self, f: FuncIdx, args: &[Val], state: &mut State) -> Result<Vec<Val>, InterpError> {
        let callee = self
            .tr
            .functions
            .iter()
            .find(|g| g.index == f)
            .ok_or_else(|| InterpError::Fault(format!("call to {f}, which is not defined")))?;
        interp::run(callee, args, state, &mut ModuleHost { tr: self.tr }, 1_000_000)
    }
}

/// Result of a call on the IR: i32 results, or the trap.
type Outcome = Result<Vec<u32>, TrapCode>;

fn run_ir(tr: &Translation, calls: &[(&str, Vec<u32>)]) -> (u32, Vec<Outcome>) {
    let mut state = fresh_state(tr);
    let inst = interp::run(&tr.instantiate, &[], &mut state, &mut ModuleHost { tr }, 1_000_000)
        .unwrap_or_else(|e| panic!("instantiate: {e:?}"));
    let [Val::I32(code)] = inst[..] else { panic!("instantiate returned {inst:?}") };
    if code != 0 {
        return (code, Vec::new());
    }
    let outcomes = calls
        .iter()
        .map(|(name, args)| {
            let f = func(tr, name);
            let args: Vec<Val> = args.iter().map(|&a| Val::I32(a)).collect();
            match interp::run(f, &args, &mut state, &mut ModuleHost { tr }, 1_000_000) {
                Ok(vals) => Ok(vals
                    .iter()
                    .map(|v| match v {
                        Val::I32(x) => *x,
                        other => panic!("unexpected result {other}"),
                    })
                    .collect()),
                Err(InterpError::Trap(code)) => Err(code),
                Err(e) => panic!("{name}{args:?}: {e:?}\n{f}"),
            }
        })
        .collect();
    (0, outcomes)
}

/// The same on wasmi (the independent oracle). Instantiation failures are
/// reported with bulkhead's `instantiate` codes.
fn run_wasmi(bytes: &[u8], calls: &[(&str, Vec<u32>)]) -> (u32, Vec<Outcome>) {
    let engine = wasmi::Engine::default();
    let module = wasmi::Module::new(&engine, bytes).expect("wasmi rejects the module");
    let mut store = wasmi::Store::new(&engine, ());
    let linker = wasmi::Linker::<()>::new(&engine);
    let instance = match linker.instantiate_and_start(&mut store, &module) {
        Ok(i) => i,
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("out of bounds") || msg.contains("table"), "wasmi instantiation: {msg}");
            return (TrapCode::TableAccessOutOfBounds.code() as u32, Vec::new());
        }
    };
    let outcomes = calls
        .iter()
        .map(|(name, args)| {
            let f = instance.get_func(&store, name).unwrap();
            let params: Vec<wasmi::Val> = args.iter().map(|&a| wasmi::Val::I32(a as i32)).collect();
            let mut out: Vec<wasmi::Val> = f.ty(&store).results().iter().map(|_| wasmi::Val::I32(0)).collect();
            match f.call(&mut store, &params, &mut out) {
                Ok(()) => Ok(out.iter().map(|v| v.i32().unwrap() as u32).collect()),
                Err(e) => Err(match e.as_trap_code() {
                    Some(wasmi::TrapCode::TableOutOfBounds) => TrapCode::TableOutOfBounds,
                    Some(wasmi::TrapCode::IndirectCallToNull) => TrapCode::UninitializedElement,
                    Some(wasmi::TrapCode::BadSignature) => TrapCode::IndirectCallTypeMismatch,
                    Some(wasmi::TrapCode::UnreachableCodeReached) => TrapCode::Unreachable,
                    other => panic!("unexpected wasmi outcome {other:?}: {e}"),
                }),
            }
        })
        .collect();
    (0, outcomes)
}

fn assert_same_as_wasmi(text: &str, calls: &[(&str, Vec<u32>)]) -> Vec<Outcome> {
    let tr = translate_ok(text);
    let ours = run_ir(&tr, calls);
    let theirs = run_wasmi(&wasm(text), calls);
    assert_eq!(ours, theirs, "IR interpreter and wasmi disagree");
    ours.1
}

const DISPATCH: &str = r#"(module
    (type $i2i (func (param i32) (result i32)))
    (type $i2i_again (func (param i32) (result i32)))
    (type $v2i (func (result i32)))
    (table 6 funcref)
    (func $double (type $i2i) local.get 0 i32.const 2 i32.mul)
    (func $inc (type $i2i_again) local.get 0 i32.const 1 i32.add)
    (func $seven (type $v2i) i32.const 7)
    (elem (i32.const 1) $double $inc)
    (elem (i32.const 4) funcref (ref.func $seven) (ref.null func))
    (func (export "call") (param i32 i32) (result i32)
        local.get 1 local.get 0 call_indirect (type $i2i))
    (func (export "call0") (param i32) (result i32)
        local.get 0 call_indirect (type $v2i)))"#;

#[test]
fn call_indirect_checks_are_explicit_before_call_ref() {
    let tr = translate_ok(DISPATCH);
    let f = func(&tr, "call");
    let kinds: Vec<String> = insts(f)
        .iter()
        .filter_map(|d| match d {
            InstData::TableSize { table } => Some(format!("size {table}")),
            InstData::TrapIf { nonzero: false, code, .. } => Some(format!("trapz {}", code.name())),
            InstData::TableGet { .. } => Some("get".into()),
            InstData::FuncRefTypeId { .. } => Some("actual".into()),
            InstData::TypeId { sig } => Some(format!("expected {sig}")),
            InstData::CallRef { sig, args } => Some(format!("call_ref {sig} {}", args.len())),
            _ => None,
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "size table0",
            "trapz table_oob",
            "get",
            "trapz null_elem",
            "actual",
            "expected sig0",
            "trapz bad_sig",
            "call_ref sig0 2"
        ],
        "{f}"
    );
    // Instantiation sets the size to the minimum and stores descriptors.
    let init = insts(&tr.instantiate);
    assert!(init.iter().any(|d| matches!(d, InstData::TableSetSize { .. })), "{}", tr.instantiate);
    let refs: Vec<u32> =
        init.iter().filter_map(|d| if let InstData::FuncRef { func } = d { Some(func.0) } else { None }).collect();
    assert_eq!(refs, [0, 1, 2], "{}", tr.instantiate);
}

#[test]
fn call_indirect_semantics_match_wasmi() {
    let outcomes = assert_same_as_wasmi(
        DISPATCH,
        &[
            ("call", vec![1, 21]),       // $double
            ("call", vec![2, 41]),       // $inc: a distinct but equal type
            ("call", vec![4, 0]),        // $seven: wrong type
            ("call", vec![0, 0]),        // never initialized: null
            ("call", vec![5, 0]),        // ref.null
            ("call", vec![6, 0]),        // index == size
            ("call", vec![u32::MAX, 0]), // far out of bounds
            ("call0", vec![4]),
            ("call0", vec![1]),
        ],
    );
    // The oracle agrees; also pin the expectations so a wasmi change
    // cannot silently hide a regression.
    use TrapCode::*;
    assert_eq!(
        outcomes,
        [
            Ok(vec![42]),
            Ok(vec![42]),
            Err(IndirectCallTypeMismatch),
            Err(UninitializedElement),
            Err(UninitializedElement),
            Err(TableOutOfBounds),
            Err(TableOutOfBounds),
            Ok(vec![7]),
            Err(IndirectCallTypeMismatch),
        ]
    );
}

#[test]
fn out_of_bounds_element_segment_fails_instantiation() {
    let text = r#"(module
        (table 2 funcref)
        (func $f)
        (elem (i32.const 1) $f $f))"#;
    let tr = translate_ok(text);
    let (code, _) = run_ir(&tr, &[]);
    assert_eq!(code, TrapCode::TableAccessOutOfBounds.code() as u32);
    assert_eq!(TrapCode::TableAccessOutOfBounds.spec_message(), "out of bounds table access");
    assert_eq!(run_wasmi(&wasm(text), &[]).0, code);
    // table.size reads the size instantiation set.
    assert_same_as_wasmi(
        r#"(module (table 3 7 funcref) (func (export "n") (result i32) table.size 0))"#,
        &[("n", vec![])],
    );
    // Passive and declarative segments are accepted and do nothing.
    let text = r#"(module
        (table 1 funcref)
        (func $f)
        (elem func $f)
        (elem declare func $f)
        (func (export "t") (result i32) i32.const 0 call_indirect (result i32)))"#;
    assert_same_as_wasmi(text, &[("t", vec![])]);
}

#[test]
fn table_get_set_and_refs_on_the_operand_stack_match_wasmi() {
    let text = r#"(module
        (type $t (func (result i32)))
        (table $a 3 funcref)
        (table $b 2 funcref)
        (func $one (result i32) i32.const 1)
        (func $two (result i32) i32.const 2)
        (elem (table $a) (i32.const 1) func $one)
        (elem declare func $two)
        (func (export "is_null") (param i32) (result i32) local.get 0 table.get $a ref.is_null)
        (func (export "null_is_null") (result i32) ref.null func ref.is_null)
        (func (export "func_is_null") (result i32) ref.func $two ref.is_null)
        (func (export "set_two") (param i32) local.get 0 ref.func $two table.set $a)
        (func (export "clear") (param i32) local.get 0 ref.null func table.set $a)
        (func (export "copy_to_b") (param i32 i32) local.get 1 local.get 0 table.get $a table.set $b)
        (func (export "call_a") (param i32) (result i32) local.get 0 call_indirect $a (type $t))
        (func (export "call_b") (param i32) (result i32) local.get 0 call_indirect $b (type $t)))"#;
    let oob = Err(TrapCode::TableAccessOutOfBounds);
    let calls: &[(&str, Vec<u32>)] = &[
            ("is_null", vec![0]),
            ("is_null", vec![1]),
            ("is_null", vec![3]),
            ("is_null", vec![u32::MAX]),
            ("null_is_null", vec![]),
            ("func_is_null", vec![]),
            ("set_two", vec![0]),
            ("call_a", vec![0]),
            ("set_two", vec![3]),
            ("copy_to_b", vec![1, 1]),
            ("call_b", vec![1]),
            ("copy_to_b", vec![1, 2]),
            ("copy_to_b", vec![3, 0]),
            ("clear", vec![1]),
            ("call_a", vec![1]),
            ("is_null", vec![1]),
    ];
    let tr = translate_ok(text);
    let (code, outcomes) = run_ir(&tr, calls);
    assert_eq!(code, 0);
    // wasmi reports one trap code for both "undefined element" and "out of
    // bounds table access"; the spec (table_get.wast) words table.get/set
    // traps "out of bounds table access", pinned below.
    let merged: Vec<Outcome> = outcomes
        .iter()
        .map(|o| match o {
            Err(TrapCode::TableAccessOutOfBounds) => Err(TrapCode::TableOutOfBounds),
            other => other.clone(),
        })
        .collect();
    assert_eq!((0, merged), run_wasmi(&wasm(text), calls), "IR interpreter and wasmi disagree");
    assert_eq!(
        outcomes,
        [
            Ok(vec![1]),
            Ok(vec![0]),
            oob.clone(),
            oob.clone(),
            Ok(vec![1]),
            Ok(vec![0]),
            Ok(vec![]),
            Ok(vec![2]),
            oob.clone(),
            Ok(vec![]),
            Ok(vec![1]),
            oob.clone(),
            oob,
            Ok(vec![]),
            Err(TrapCode::UninitializedElement),
            Ok(vec![1]),
        ]
    );
}

#[test]
fn elem_drop_without_table_init_has_no_effect() {
    // Dropping passive, declarative and active segments (twice: dropping is
    // idempotent) must not disturb the table that active segments filled.
    let text = r#"(module
        (type $t (func (result i32)))
        (table 3 funcref)
        (func $one (result i32) i32.const 1)
        (func $two (result i32) i32.const 2)
        (elem (i32.const 1) $one $two)
        (elem func $two)
        (elem declare func $one)
        (func (export "drop_all") elem.drop 0 elem.drop 1 elem.drop 2 elem.drop 1)
        (func (export "call") (param i32) (result i32) local.get 0 call_indirect (type $t)))"#;
    let outcomes = assert_same_as_wasmi(
        text,
        &[("call", vec![1]), ("drop_all", vec![]), ("drop_all", vec![]), ("call", vec![2]), ("call", vec![0])],
    );
    assert_eq!(
        outcomes,
        [Ok(vec![1]), Ok(vec![]), Ok(vec![]), Ok(vec![2]), Err(TrapCode::UninitializedElement)]
    );
    // table.init in the same module still rejects the whole module.
    let e = translate(
        &wasm("(module (table 1 funcref) (elem func) (func elem.drop 0) (func i32.const 0 i32.const 0 i32.const 0 table.init 0 0))"),
        &TranslateOptions::default(),
    )
    .expect_err("table.init is unsupported");
    assert_eq!(e.kind, WasmErrorKind::Unsupported, "{e}");
}

#[test]
fn other_table_features_are_precise_unsupported_errors() {
    let cases = [
        ("(module (table 1 funcref) (elem func) (func i32.const 0 i32.const 0 i32.const 0 table.init 0 0))", "table.init"),
        ("(module (table 1 funcref) (func (result funcref) i32.const 0 table.get 0))", "funcref"),
        ("(module (table 1 funcref) (func (param funcref)))", "funcref"),
        ("(module (table 1 funcref) (func (local funcref)))", "funcref"),
        ("(module (table 1 funcref) (func i32.const 0 i32.const 0 i32.const 0 table.copy 0 0))", "table.copy"),
        ("(module (table (export \"t\") 1 funcref))", "table export"),
        ("(module (import \"m\" \"t\" (table 1 funcref)))", "table import"),
        ("(module (table 1 externref))", "externref"),
    ];
    for (text, what) in cases {
        let e = translate(&wasm(text), &TranslateOptions::default()).expect_err(text);
        assert_eq!(e.kind, WasmErrorKind::Unsupported, "{text}: {e}");
        assert!(e.to_string().contains(what), "{text}: {e}");
        assert!(e.offset.is_some(), "{text}: {e}");
    }
}

#[test]
fn table_initializers_fill_every_entry() {
    // `(ref func)` tables must have an initializer; element segments
    // overwrite it afterwards.
    let text = r#"(module
        (type $v2i (func (result i32)))
        (func $one (type $v2i) i32.const 1)
        (func $two (type $v2i) i32.const 2)
        (table 3 (ref func) (ref.func $one))
        (elem (i32.const 1) $two)
        (func (export "call") (param i32) (result i32) local.get 0 call_indirect (type $v2i)))"#;
    let tr = translate_ok(text);
    let calls = [("call", vec![0]), ("call", vec![1]), ("call", vec![2]), ("call", vec![3])];
    let (code, outcomes) = run_ir(&tr, &calls);
    assert_eq!(code, 0);
    assert_eq!(outcomes, [Ok(vec![1]), Ok(vec![2]), Ok(vec![1]), Err(TrapCode::TableOutOfBounds)]);
    // A nullable table with an explicit null initializer behaves like one
    // without (wasmi lacks the function-references proposal: expectations
    // from the spec's semantics).
    let text = r#"(module
        (type $v2i (func (result i32)))
        (table 2 funcref (ref.null func))
        (func (export "call") (param i32) (result i32) local.get 0 call_indirect (type $v2i)))"#;
    let (code, outcomes) = run_ir(&translate_ok(text), &[("call", vec![1])]);
    assert_eq!((code, outcomes), (0, vec![Err(TrapCode::UninitializedElement)]));
}
