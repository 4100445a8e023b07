//! Tables, element segments and `call_indirect`: the shape of the IR the
//! frontend emits, and its meaning under the IR reference interpreter
//! (`bulkhead_ir::interp`) checked against wasmi.

mod common;

use bulkhead_ir::interp::{self, InterpError, Memories, State, Tables, Val};
use bulkhead_ir::*;
use bulkhead_wasm::{translate, ElemItem, TranslateOptions, Translation, WasmErrorKind};
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
            // Element-segment images are read-only data (the object writer
            // puts the descriptors there); every other table starts as junk
            // that instantiation must overwrite.
            entries: env
                .tables
                .iter()
                .map(|t| match t.segment {
                    Some(e) => env.elements[e as usize]
                        .items
                        .iter()
                        .map(|item| match item {
                            ElemItem::Func(f) => Tables::func_ref(FuncIdx(*f)),
                            ElemItem::Null => 0,
                            ElemItem::GlobalGet(_) => panic!("images hold no global.get items"),
                        })
                        .collect(),
                    None => vec![0xdead_beef; t.reserved_entries as usize],
                })
                .collect(),
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

/// wasmi reports one trap code for "undefined element" (call_indirect) and
/// "out of bounds table access" (table.get/set/init/copy/fill); the spec
/// tells them apart. Merges ours for the comparison.
fn merge_table_traps(outcomes: &[Outcome]) -> Vec<Outcome> {
    outcomes
        .iter()
        .map(|o| match o {
            Err(TrapCode::TableAccessOutOfBounds) => Err(TrapCode::TableOutOfBounds),
            other => other.clone(),
        })
        .collect()
}

fn assert_same_as_wasmi_modulo_table_traps(text: &str, calls: &[(&str, Vec<u32>)]) -> Vec<Outcome> {
    let tr = translate_ok(text);
    let (code, outcomes) = run_ir(&tr, calls);
    let (their_code, theirs) = run_wasmi(&wasm(text), calls);
    assert_eq!(code, their_code, "instantiation");
    assert_eq!(merge_table_traps(&outcomes), theirs, "IR interpreter and wasmi disagree");
    outcomes
}

/// A table of 10 (max 16) whose entries are observed through
/// `call_indirect` (function `$fK` returns K; null traps, out of range
/// traps), with every bulk operation exported.
const BULK: &str = r#"(module
    (type $v2i (func (result i32)))
    (table $t 10 16 funcref)
    (table $u 4 8 funcref)
    (func $f0 (type $v2i) i32.const 0)
    (func $f1 (type $v2i) i32.const 1)
    (func $f2 (type $v2i) i32.const 2)
    (func $f3 (type $v2i) i32.const 3)
    (func $f4 (type $v2i) i32.const 4)
    (elem (table $t) (i32.const 2) func $f0 $f1)
    (elem $p funcref (ref.func $f2) (ref.null func) (ref.func $f3) (ref.func $f4))
    (elem $q func $f1 $f1)
    (elem $d declare func $f0)
    (elem $a (table $u) (i32.const 0) func $f4)
    (func (export "call") (param i32) (result i32) local.get 0 call_indirect $t (type $v2i))
    (func (export "call_u") (param i32) (result i32) local.get 0 call_indirect $u (type $v2i))
    (func (export "init") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 table.init $t $p)
    (func (export "init_q_u") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 table.init $u $q)
    (func (export "init_active") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 table.init $t $a)
    (func (export "init_declared") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 table.init $t $d)
    (func (export "drop_p") elem.drop $p)
    (func (export "drop_active") elem.drop $a)
    (func (export "copy") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 table.copy $t $t)
    (func (export "copy_t_to_u") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 table.copy $u $t)
    (func (export "fill") (param i32 i32) local.get 0 ref.func $f3 local.get 1 table.fill $t)
    (func (export "clear") (param i32 i32) local.get 0 ref.null func local.get 1 table.fill $t)
    (func (export "grow") (param i32) (result i32) ref.func $f4 local.get 0 table.grow $t)
    (func (export "grow_u") (param i32) (result i32) ref.null func local.get 0 table.grow $u)
    (func (export "size") (result i32) table.size $t)
    (func (export "size_u") (result i32) table.size $u))"#;

/// Every entry of `$t` (and one past the end) through `call`.
fn observe_t(calls: &mut Vec<(&'static str, Vec<u32>)>, upto: u32) {
    for i in 0..=upto {
        calls.push(("call", vec![i]));
    }
}

#[test]
fn table_init_copy_fill_grow_and_drop_match_wasmi() {
    let mut calls: Vec<(&str, Vec<u32>)> = Vec::new();
    observe_t(&mut calls, 10);
    // table.init: in range, empty at the ends, and every kind of overrun
    // (nothing may be written when it traps).
    calls.extend([
        ("init", vec![0, 0, 4]),
        ("init", vec![7, 1, 3]),
        ("init", vec![9, 0, 2]),
        ("init", vec![8, 3, 2]),
        ("init", vec![10, 4, 0]),
        ("init", vec![11, 0, 0]),
        ("init", vec![0, 5, 0]),
        ("init", vec![u32::MAX, 0, 1]),
        ("init", vec![0, u32::MAX, 1]),
        ("init_q_u", vec![2, 0, 2]),
        ("call_u", vec![0]),
        ("call_u", vec![3]),
        ("init_active", vec![0, 0, 0]),
        ("init_active", vec![0, 0, 1]),
        ("init_declared", vec![0, 0, 0]),
        ("init_declared", vec![0, 0, 1]),
        ("drop_active", vec![]),
        ("call_u", vec![0]),
    ]);
    observe_t(&mut calls, 10);
    // Overlapping copies in both directions, then out-of-range ones.
    calls.extend([
        ("copy", vec![1, 0, 5]),
        ("copy", vec![4, 6, 4]),
        ("copy", vec![0, 0, 10]),
        ("copy", vec![5, 6, 5]),
        ("copy", vec![6, 5, 5]),
        ("copy", vec![10, 0, 0]),
        ("copy", vec![0, 11, 0]),
        ("copy_t_to_u", vec![0, 6, 4]),
        ("copy_t_to_u", vec![1, 0, 4]),
        ("call_u", vec![1]),
    ]);
    observe_t(&mut calls, 10);
    calls.extend([("fill", vec![8, 2]), ("fill", vec![9, 2]), ("clear", vec![0, 3]), ("clear", vec![10, 0])]);
    observe_t(&mut calls, 10);
    // Grow up to the declared maximum, then refuse.
    calls.extend([
        ("grow", vec![0]),
        ("grow", vec![3]),
        ("size", vec![]),
        ("grow", vec![4]),
        ("grow", vec![3]),
        ("grow", vec![u32::MAX]),
        ("size", vec![]),
        ("grow_u", vec![2]),
        ("size_u", vec![]),
        ("call_u", vec![5]),
        ("init", vec![13, 0, 3]),
        ("drop_p", vec![]),
        ("init", vec![0, 0, 1]),
        ("init", vec![0, 0, 0]),
        ("drop_p", vec![]),
    ]);
    observe_t(&mut calls, 16);
    let outcomes = assert_same_as_wasmi_modulo_table_traps(BULK, &calls);
    // Pin a few against the spec, independent of the oracle.
    let at = |name: &str, args: &[u32]| {
        let i = calls.iter().position(|(n, a)| *n == name && a == args).unwrap();
        outcomes[i].clone()
    };
    assert_eq!(at("init", &[9, 0, 2]), Err(TrapCode::TableAccessOutOfBounds));
    assert_eq!(at("init_active", &[0, 0, 1]), Err(TrapCode::TableAccessOutOfBounds));
    assert_eq!(at("grow", &[3]), Ok(vec![10]));
    assert_eq!(at("grow", &[u32::MAX]), Ok(vec![u32::MAX]));
}

#[test]
fn table_reservations_follow_the_options() {
    let text = r#"(module
        (table $a 2 funcref) (table $b 2 5 funcref) (table $c 3 externref)
        (func (export "grow_a") (param i32) (result i32) ref.null func local.get 0 table.grow $a))"#;
    let reserved = |opts: &TranslateOptions| -> Vec<u32> {
        let tr = translate(&wasm(text), opts).unwrap();
        tr.env.tables.iter().map(|t| t.reserved_entries).collect()
    };
    // Declared maximum, else the minimum.
    assert_eq!(reserved(&TranslateOptions::default()), [2, 5, 3]);
    // The default applies to tables without a maximum (raised to the minimum).
    let o = TranslateOptions { default_table_max: Some(4), ..Default::default() };
    assert_eq!(reserved(&o), [4, 5, 4]);
    let o = TranslateOptions { default_table_max: Some(1), table_max: vec![(1, 3)], ..Default::default() };
    assert_eq!(reserved(&o), [2, 3, 3]);
    for (bad, what) in [((1, 6), "above its declared maximum"), ((0, 1), "below its minimum")] {
        let o = TranslateOptions { table_max: vec![bad], ..Default::default() };
        let e = translate(&wasm(text), &o).unwrap_err();
        assert_eq!(e.kind, WasmErrorKind::Options, "{e}");
        assert!(e.message.contains(what), "{e}");
    }
    let e = translate(&wasm("(module (table 0 0x200000 funcref))"), &TranslateOptions::default()).unwrap_err();
    assert_eq!(e.kind, WasmErrorKind::Limit, "{e}");
    // Growth stops at the reservation: without a default, a table with no
    // maximum cannot grow at all (as the spec allows).
    let tr = translate_ok(text);
    let (_, outcomes) = run_ir(&tr, &[("grow_a", vec![0]), ("grow_a", vec![1])]);
    assert_eq!(outcomes, [Ok(vec![2]), Ok(vec![u32::MAX])]);
}

#[test]
fn elem_drop_is_idempotent_and_leaves_tables_alone() {
    // Dropping passive, declarative and active segments (twice) must not
    // disturb the table that active segments filled.
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
    assert_eq!(outcomes, [Ok(vec![1]), Ok(vec![]), Ok(vec![]), Ok(vec![2]), Err(TrapCode::UninitializedElement)]);
}

#[test]
fn reference_values_flow_through_locals_globals_blocks_and_calls() {
    // funcref/externref parameters, results, locals (null by default),
    // globals with ref.func/ref.null initializers, block results, typed
    // select: all i32 in the IR.
    let text = r#"(module
        (type $v2i (func (result i32)))
        (table $t 2 funcref)
        (table $x 2 externref)
        (func $seven (type $v2i) i32.const 7)
        (elem declare func $seven)
        (global $g (mut funcref) (ref.func $seven))
        (global $n funcref (ref.null func))
        (func $id (param funcref) (result funcref) local.get 0)
        (func $pick (param i32) (result funcref)
            (block (result funcref) (select (result funcref) (global.get $g) (global.get $n) (local.get 0))))
        (func (export "local_null") (result i32) (local funcref) local.get 0 ref.is_null)
        (func (export "store") (param i32 i32) local.get 0 (call $id (call $pick (local.get 1))) table.set $t)
        (func (export "call") (param i32) (result i32) local.get 0 call_indirect $t (type $v2i))
        (func (export "clear_g") ref.null func global.set $g)
        (func (export "ext") (param i32) (result i32) (local externref)
            (table.set $x (i32.const 1) (local.get 1))
            (ref.is_null (table.get $x (local.get 0)))))"#;
    let tr = translate_ok(text);
    // The module-level types still say funcref.
    use bulkhead_wasm::{RefType, ValueType};
    let id = tr.env.func_type(1).unwrap();
    assert_eq!(id.params, [ValueType::Ref(RefType::FUNCREF)]);
    assert_eq!(tr.env.funcs[1].sig.params, [Type::I32]);
    assert_eq!(tr.env.globals[0].value_type, ValueType::Ref(RefType::FUNCREF));
    assert_same_as_wasmi_modulo_table_traps(
        text,
        &[
            ("local_null", vec![]),
            ("call", vec![0]),
            ("store", vec![0, 1]),
            ("call", vec![0]),
            ("store", vec![1, 0]),
            ("call", vec![1]),
            ("clear_g", vec![]),
            ("store", vec![0, 1]),
            ("call", vec![0]),
            ("store", vec![2, 1]),
            ("ext", vec![1]),
            ("ext", vec![2]),
        ],
    );
}

#[test]
fn growing_an_imported_table_reads_the_owners_reservation() {
    let text = r#"(module
        (import "m" "t" (table 1 funcref))
        (global $g i32 (i32.const 3))
        (func (export "grow") (param i32) (result i32) ref.null func local.get 0 table.grow 0))"#;
    let tr = translate_ok(text);
    // A synthesized global after the module's own stands for `m_t__max`.
    assert_eq!(tr.env.imported_table_max, [(1, 0)]);
    assert!(tr.env.globals[1].init.is_none() && tr.env.globals[1].import.is_none());
    let reads: Vec<u32> = insts(func(&tr, "grow"))
        .iter()
        .filter_map(|d| if let InstData::GlobalGet { global } = d { Some(global.0) } else { None })
        .collect();
    assert_eq!(reads, [1]);
    // Run it with the owner's state: size 1, reservation 4.
    let mut state = fresh_state(&tr);
    state.tables.sizes[0] = 1;
    state.tables.entries[0] = vec![0xdead_beef; 4];
    state.globals[1] = Val::I32(4);
    let f = func(&tr, "grow");
    let mut grow = |n: u32| interp::run(f, &[Val::I32(n)], &mut state, &mut ModuleHost { tr: &tr }, 100_000).unwrap();
    assert_eq!(grow(2), [Val::I32(1)]);
    assert_eq!(grow(2), [Val::I32(u32::MAX)]);
    assert_eq!(grow(1), [Val::I32(3)]);
    assert_eq!(grow(0), [Val::I32(4)]);
    assert_eq!(state.tables.sizes[0], 4);
    assert_eq!(&state.tables.entries[0][1..4], [0, 0, 0]);
}

/// Typed function references: `call_ref`, `ref.as_non_null`, `br_on_null`
/// and `br_on_non_null` on the IR interpreter. Expected values follow the
/// spec's semantics (written out by hand: wasmi has no typed function
/// references); the same module runs on QEMU in the wast runner.
#[test]
fn typed_function_references_null_checks_and_branches() {
    let text = r#"(module
        (type $ii (func (param i32) (result i32)))
        (func $inc (type $ii) (i32.add (local.get 0) (i32.const 1)))
        (func $dbl (type $ii) (i32.mul (local.get 0) (i32.const 2)))
        (elem declare func $inc $dbl)
        (func $pick (param $n i32) (result (ref null $ii))
            (if (result (ref null $ii)) (i32.eqz (local.get $n))
                (then (ref.func $inc))
                (else (if (result (ref null $ii)) (i32.eq (local.get $n) (i32.const 1))
                    (then (ref.func $dbl)) (else (ref.null $ii))))))
        (func (export "call") (param $n i32) (param $x i32) (result i32)
            (call_ref $ii (local.get $x) (call $pick (local.get $n))))
        (func (export "as_non_null") (param $n i32) (result i32)
            (call_ref $ii (i32.const 41) (ref.as_non_null (call $pick (local.get $n)))))
        (func (export "on_null") (param $n i32) (result i32)
            (block $l (result i32)
                (br_on_null $l (i32.const 99) (call $pick (local.get $n)))
                (call_ref $ii)))
        (func (export "on_non_null") (param $n i32) (result i32)
            (block $l (result i32 (ref $ii))
                (br_on_non_null $l (i32.const 7) (call $pick (local.get $n)))
                (return (i32.const -1)))
            (call_ref $ii)))"#;
    let null: Outcome = Err(TrapCode::NullReference);
    let calls: &[(&str, Vec<u32>)] = &[
        ("call", vec![0, 5]),
        ("call", vec![1, 5]),
        ("call", vec![2, 5]),
        ("as_non_null", vec![1]),
        ("as_non_null", vec![2]),
        ("on_null", vec![0]),
        ("on_null", vec![2]),
        ("on_non_null", vec![1]),
        ("on_non_null", vec![2]),
    ];
    let tr = translate_ok(text);
    let (code, outcomes) = run_ir(&tr, calls);
    assert_eq!(code, 0);
    assert_eq!(
        outcomes,
        [Ok(vec![6]), Ok(vec![10]), null.clone(), Ok(vec![82]), null, Ok(vec![100]), Ok(vec![99]), Ok(vec![14]), Ok(vec![u32::MAX])]
    );
    assert_eq!(TrapCode::NullReference.spec_message(), "null reference");
    assert_eq!(TrapCode::from_code(TrapCode::NullReference.code()), Some(TrapCode::NullReference));
    // The only new check is the null test on the reference: `call_ref` does
    // not compare type ids (validation guarantees the type).
    let call = func(&tr, "call");
    let kinds = insts(call);
    assert!(kinds.iter().any(|i| matches!(i, InstData::TrapIf { nonzero: false, code: TrapCode::NullReference, .. })), "{call}");
    assert!(!kinds.iter().any(|i| matches!(i, InstData::TypeId { .. } | InstData::FuncRefTypeId { .. })), "{call}");
}

#[test]
fn unsupported_table_features_are_precise_errors() {
    let cases = [
        // Tail calls are separate work.
        ("(module (type $t (func)) (func (param (ref null $t)) local.get 0 return_call_ref $t))", "return_call_ref"),
        ("(module (table 1 anyref))", "table 0 of type"),
        ("(module (func (param anyref)))", "anyref"),
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
