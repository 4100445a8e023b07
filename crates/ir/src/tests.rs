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
