use crate::*;

fn two_memory_copy_word() -> Function {
    // fn(x: i32) -> i32 { mem1[x] = mem0[x]; mem0[x] }
    let sig = Signature { params: vec![Type::I32], results: vec![Type::I32] };
    let mut f = Function::new(FuncIdx(0), "copy_word", sig);
    let mut b = FunctionBuilder::new(&mut f);
    let entry = b.create_block();
    b.switch_to_block(entry);
    let x = b.append_block_param(entry, Type::I32);
    b.bounds_check(MemIdx(0), x, 4);
    let a0 = b.mem_addr(MemIdx(0), x);
    let v = b.load(LoadKind::I32, a0, 0);
    b.bounds_check(MemIdx(1), x, 4);
    let a1 = b.mem_addr(MemIdx(1), x);
    b.store(StoreKind::I32, a1, v, 0);
    b.ret(&[v]);
    f
}

#[test]
fn verifies_and_prints_two_memory_function() {
    let f = two_memory_copy_word();
    verify(&f).unwrap();
    let text = f.to_string();
    assert!(text.contains("v1 = mem_base.0"), "{text}");
    assert!(text.contains("v2 = addr_add v1, v0"), "{text}");
    assert!(text.contains("v3 = load.0.i32 v2+0"), "{text}");
    assert!(text.contains("store.1.i32 v5+0, v3"), "{text}");
}

#[test]
fn rejects_store_through_another_memorys_address() {
    let mut f = two_memory_copy_word();
    // Point the store (on memory 1) at the memory-0 address v2.
    let store = f
        .insts
        .iter_mut()
        .find(|n| matches!(n.data, InstData::Store { .. }))
        .unwrap();
    if let InstData::Store { args, .. } = &mut store.data {
        args[0] = Value(2);
    }
    let err = verify(&f).unwrap_err();
    assert!(err.message.contains("addr<0> but the access is on memory 1"), "{err}");
}

#[test]
fn rejects_use_not_dominated_by_definition() {
    let sig = Signature { params: vec![Type::I32], results: vec![Type::I32] };
    let mut f = Function::new(FuncIdx(0), "bad", sig);
    let mut b = FunctionBuilder::new(&mut f);
    let entry = b.create_block();
    let left = b.create_block();
    let right = b.create_block();
    let join = b.create_block();
    b.switch_to_block(entry);
    let x = b.append_block_param(entry, Type::I32);
    b.brif(x, left, &[], right, &[]);
    b.switch_to_block(left);
    let one = b.iconst(Type::I32, 1);
    b.jump(join, &[]);
    b.switch_to_block(right);
    b.jump(join, &[]);
    b.switch_to_block(join);
    b.ret(&[one]);
    let err = verify(&f).unwrap_err();
    assert!(err.message.contains("not dominated"), "{err}");
}

#[test]
fn rejects_branch_argument_type_mismatch() {
    let sig = Signature { params: vec![Type::I32], results: vec![] };
    let mut f = Function::new(FuncIdx(0), "bad", sig);
    let mut b = FunctionBuilder::new(&mut f);
    let entry = b.create_block();
    let next = b.create_block();
    b.append_block_param(next, Type::I64);
    b.switch_to_block(entry);
    let x = b.append_block_param(entry, Type::I32);
    b.jump(next, &[x]);
    b.switch_to_block(next);
    b.ret(&[]);
    let err = verify(&f).unwrap_err();
    assert!(err.message.contains("passed to"), "{err}");
}

#[test]
fn table_instructions_verify_print_and_declare_their_effects() {
    let sig = Signature { params: vec![Type::I32], results: vec![Type::I32] };
    let mut f = Function::new(FuncIdx(0), "tables", sig);
    let mut b = FunctionBuilder::new(&mut f);
    let entry = b.create_block();
    b.switch_to_block(entry);
    let x = b.append_block_param(entry, Type::I32);
    let t = TableIdx(0);
    let n = b.iconst(Type::I32, 2);
    b.table_set_size(t, n);
    let r = b.func_ref(FuncIdx(1));
    b.table_set(t, x, r);
    let got = b.table_get(t, x);
    let actual = b.func_ref_type_id(got);
    let expected = b.type_id(SigIdx(0));
    let same = b.icmp(IntCC::Eq, actual, expected);
    b.trapz(same, TrapCode::IndirectCallTypeMismatch);
    let size = b.table_size(t);
    let max = b.mem_max(MemIdx(0));
    let res = b.call_ref(SigIdx(0), got, &[size], &[Type::I32])[0];
    let sum = b.binary(BinaryOp::Add, res, max);
    b.ret(&[sum]);
    verify(&f).unwrap_or_else(|e| panic!("{e}\n{f}"));
    let text = f.to_string();
    for piece in [
        "table_set_size.table0",
        "func_ref fn1",
        "table_set.table0",
        "table_get.table0",
        "func_ref_type_id",
        "type_id sig0",
        "table_size.table0",
        "mem_max.0",
        "call_ref sig0",
    ] {
        assert!(text.contains(piece), "{piece}: {text}");
    }
    let effects: Vec<Effect> = f.block_insts(entry).iter().map(|&i| f.inst(i).effect()).collect();
    assert!(effects.contains(&Effect::WriteTable(t)) && effects.contains(&Effect::ReadTable(t)));
    assert!(effects.contains(&Effect::All));

    // Semantics: entries, sizes and type ids come from the state; call_ref
    // calls the host with the designated function.
    let mut state = interp::State {
        memories: interp::Memories::new(&[(65536, 0)]),
        tables: interp::Tables {
            entries: vec![vec![0; 4]],
            sizes: vec![0],
            func_type_ids: vec![7, 7],
            sig_type_ids: vec![7],
        },
        ..Default::default()
    };
    let mut host = |callee: FuncIdx, args: &[interp::Val], _: &mut interp::State| {
        assert_eq!(callee, FuncIdx(1));
        Ok(vec![args[0]])
    };
    let out = interp::run(&f, &[interp::Val::I32(3)], &mut state, &mut host, 100).unwrap();
    assert_eq!(out, [interp::Val::I32(2 + 65536)]);
    assert_eq!(state.tables.entries[0][3], interp::Tables::func_ref(FuncIdx(1)));
    // A mismatching type id traps; an entry beyond the reservation faults.
    state.tables.func_type_ids[1] = 8;
    let trap = interp::run(&f, &[interp::Val::I32(3)], &mut state, &mut host, 100).unwrap_err();
    assert_eq!(trap, interp::InterpError::Trap(TrapCode::IndirectCallTypeMismatch));
    let fault = interp::run(&f, &[interp::Val::I32(4)], &mut state, &mut host, 100).unwrap_err();
    assert!(matches!(fault, interp::InterpError::Fault(_)), "{fault:?}");
}

#[test]
fn call_ref_is_checked_against_the_type_when_known() {
    struct Types;
    impl CalleeSignatures for Types {
        fn callee_signature(&self, _: FuncIdx) -> Option<(Vec<Type>, Vec<Type>)> {
            None
        }
        fn type_signature(&self, _: SigIdx) -> Option<(Vec<Type>, Vec<Type>)> {
            Some((vec![Type::I32, Type::I32], vec![Type::I32]))
        }
    }
    let sig = Signature { params: vec![Type::I32], results: vec![] };
    let mut f = Function::new(FuncIdx(0), "bad_call_ref", sig);
    let mut b = FunctionBuilder::new(&mut f);
    let entry = b.create_block();
    b.switch_to_block(entry);
    let r = b.append_block_param(entry, Type::I32);
    b.call_ref(SigIdx(0), r, &[r], &[Type::I32]);
    b.ret(&[]);
    verify(&f).expect("unchecked without a type table");
    let err = verify_with(&f, &Types).unwrap_err();
    assert!(err.message.contains("call_ref sig0"), "{err}");
}
