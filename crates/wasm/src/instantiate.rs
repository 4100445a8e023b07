//! The synthesized `instantiate` function, `() -> i32`:
//!
//! 1. every defined memory: zero its whole reservation, then set its size to
//!    the minimum (imported memories belong to their owner, who does that);
//! 2. every defined global: evaluate its initializer;
//! 3. every defined table: set its size to the minimum and store null (or
//!    the table's `ref.func` initializer) in every entry;
//! 4. every active element segment, in order: check that it fits the
//!    table's size (return 10, `TableAccessOutOfBounds`, "out of bounds
//!    table access", if not) and store its funcrefs;
//! 5. every active data segment, in order: check that it fits the current
//!    size of its memory (return 2, the out-of-bounds trap code, if not) and
//!    copy it (segments before a failing one stay written, as the spec
//!    requires);
//! 6. call the start function, if any; return 0.

use crate::env::{ConstExpr, ConstOp, DataKind, ElemItem, ElemKind, ModuleEnv};
use crate::WasmError;
use bulkhead_ir::{
    BinaryOp, Block, DataIdx, FuncIdx, Function, FunctionBuilder, GlobalIdx, IntCC, MemIdx, Signature, TableIdx,
    TrapCode, Type, Value,
};

pub(crate) fn build_instantiate(env: &ModuleEnv) -> Result<Function, WasmError> {
    let sig = Signature { params: Vec::new(), results: vec![Type::I32] };
    let mut func = Function::new(FuncIdx(u32::MAX), "instantiate", sig);
    let mut b = FunctionBuilder::new(&mut func);
    let entry = b.create_block();
    b.switch_to_block(entry);

    for (k, mem) in env.memories.iter().enumerate() {
        if mem.import.is_some() {
            continue;
        }
        let m = MemIdx(k as u32);
        // Reservations are capped at 2^31 bytes (module.rs), so they fit an
        // unsigned i32.
        let reserved = u32::try_from(mem.reserved_bytes)
            .map_err(|_| WasmError::new(format!("memory {k}: reservation does not fit 32 bits")))?;
        let min = u32::try_from(mem.min_bytes())
            .map_err(|_| WasmError::new(format!("memory {k}: minimum size does not fit 32 bits")))?;
        // The size is raised to the reservation first so the fill is in
        // bounds by the IR's own rules, then lowered to the minimum.
        let reserved_v = b.iconst(Type::I32, reserved as u64);
        b.mem_set_size(m, reserved_v);
        let base = b.mem_base(m);
        let zero = b.iconst(Type::I32, 0);
        b.memory_fill(m, base, zero, reserved_v);
        let min_v = b.iconst(Type::I32, min as u64);
        b.mem_set_size(m, min_v);
    }

    for (g, global) in env.globals.iter().enumerate() {
        let Some(init) = &global.init else { continue };
        let v = const_value(&mut b, env, init, &format!("initializer of global {g}"))?;
        if b.func.value_type(v) != global.ty {
            return Err(WasmError::new(format!("initializer of global {g} has the wrong type")));
        }
        b.global_set(GlobalIdx(g as u32), v);
    }

    // Tables: size = minimum, every entry null or the table's initializer
    // (a loop: tables can be long). Imported tables belong to their owner;
    // element-segment images are read-only, only their length is set.
    for (t, table) in env.tables.iter().enumerate() {
        if table.import.is_some() {
            continue;
        }
        if let Some(e) = table.segment {
            let len = env.elements.get(e as usize).map_or(0, |seg| seg.items.len());
            let len = b.iconst(Type::I32, len as u64);
            b.table_set_size(TableIdx(t as u32), len);
            continue;
        }
        let init = elem_value(&mut b, env, table.init, &format!("initializer of table {t}"))?;
        let t = TableIdx(t as u32);
        let min = b.iconst(Type::I32, table.min_entries as u64);
        b.table_set_size(t, min);
        let header = b.create_block();
        let i = b.append_block_param(header, Type::I32);
        let body = b.create_block();
        let done = b.create_block();
        let zero = b.iconst(Type::I32, 0);
        b.jump(header, &[zero]);
        b.switch_to_block(header);
        let more = b.icmp(IntCC::LtU, i, min);
        b.brif(more, body, &[], done, &[]);
        b.switch_to_block(body);
        b.table_set(t, i, init);
        let one = b.iconst(Type::I32, 1);
        let next = b.binary(BinaryOp::Add, i, one);
        b.jump(header, &[next]);
        b.switch_to_block(done);
    }

    let mut table_fail_block: Option<Block> = None;
    for (e, seg) in env.elements.iter().enumerate() {
        let ElemKind::Active { table, offset } = &seg.kind else { continue };
        if env.tables.get(*table as usize).is_none() {
            return Err(WasmError::new(format!("element segment {e} targets missing table {table}")));
        }
        let t = TableIdx(*table);
        let len = u32::try_from(seg.items.len())
            .map_err(|_| WasmError::new(format!("element segment {e} has more than 2^32 entries")))?;
        let off = const_value(&mut b, env, offset, &format!("offset of element segment {e}"))?;
        if b.func.value_type(off) != Type::I32 {
            return Err(WasmError::new(format!("offset of element segment {e} is not an i32")));
        }
        // off + len <= size, without 32-bit wrap.
        let size = b.table_size(t);
        let len_v = b.iconst(Type::I32, len as u64);
        let len_fits = b.icmp(IntCC::LeU, len_v, size);
        let room = b.binary(BinaryOp::Sub, size, len_v);
        let off_fits = b.icmp(IntCC::LeU, off, room);
        let fits = b.binary(BinaryOp::And, len_fits, off_fits);
        let fail = *table_fail_block.get_or_insert_with(|| b.create_block());
        let next = b.create_block();
        b.brif(fits, next, &[], fail, &[]);
        b.switch_to_block(next);
        for (k, item) in seg.items.iter().enumerate() {
            let r = elem_value(&mut b, env, *item, &format!("element segment {e}"))?;
            let k_v = b.iconst(Type::I32, k as u64);
            let at = b.binary(BinaryOp::Add, off, k_v);
            b.table_set(t, at, r);
        }
    }

    let mut fail_block = None;
    for (i, seg) in env.data.iter().enumerate() {
        let DataKind::Active { memory, offset } = &seg.kind else { continue };
        let m = MemIdx(*memory);
        if env.memories.get(*memory as usize).is_none() {
            return Err(WasmError::new(format!("data segment {i} targets missing memory {memory}")));
        }
        let len = u32::try_from(seg.bytes.len())
            .map_err(|_| WasmError::new(format!("data segment {i} is larger than 4 GiB")))?;
        let off = const_value(&mut b, env, offset, &format!("offset of data segment {i}"))?;
        if b.func.value_type(off) != Type::I32 {
            return Err(WasmError::new(format!("offset of data segment {i} is not an i32")));
        }
        // off + len <= size, without 32-bit wrap: len <= size && off <= size - len.
        let size = b.mem_size(m);
        let len_v = b.iconst(Type::I32, len as u64);
        let len_fits = b.icmp(IntCC::LeU, len_v, size);
        let room = b.binary(BinaryOp::Sub, size, len_v);
        let off_fits = b.icmp(IntCC::LeU, off, room);
        let fits = b.binary(BinaryOp::And, len_fits, off_fits);
        let fail = *fail_block.get_or_insert_with(|| b.create_block());
        let next = b.create_block();
        b.brif(fits, next, &[], fail, &[]);
        b.switch_to_block(next);
        let dst = b.mem_addr(m, off);
        let src_offset = b.iconst(Type::I32, 0);
        b.memory_init(m, DataIdx(i as u32), dst, src_offset, len_v);
    }

    if let Some(start) = env.start {
        let callee = env
            .funcs
            .get(start as usize)
            .ok_or_else(|| WasmError::new(format!("start function {start} does not exist")))?;
        if !callee.sig.params.is_empty() || !callee.sig.results.is_empty() {
            return Err(WasmError::new(format!("start function {start} must have type [] -> []")));
        }
        b.call(FuncIdx(start), &[], &[]);
    }
    let ok = b.iconst(Type::I32, 0);
    b.ret(&[ok]);

    let mut fails = Vec::new();
    for (block, code) in [(table_fail_block, TrapCode::TableAccessOutOfBounds), (fail_block, TrapCode::MemoryOutOfBounds)]
    {
        let Some(fail) = block else { continue };
        b.switch_to_block(fail);
        let code = b.iconst(Type::I32, code.code() as u64);
        b.ret(&[code]);
        fails.push(fail);
    }
    // Keep the failure paths last in the layout.
    for fail in fails {
        func.layout.retain(|&x| x != fail);
        func.layout.push(fail);
    }
    Ok(func)
}

/// The funcref of an element item: a descriptor address, or 0 for null.
fn elem_value(b: &mut FunctionBuilder<'_>, env: &ModuleEnv, item: ElemItem, what: &str) -> Result<Value, WasmError> {
    Ok(match item {
        ElemItem::Func(f) => {
            if env.funcs.get(f as usize).is_none() {
                return Err(WasmError::new(format!("{what} refers to missing function {f}")));
            }
            b.func_ref(FuncIdx(f))
        }
        ElemItem::Null => b.iconst(Type::I32, 0),
        ElemItem::GlobalGet(g) => {
            let global = env.globals.get(g as usize).ok_or_else(|| WasmError::new(format!("{what} reads missing global {g}")))?;
            b.global_get(GlobalIdx(g), global.ty)
        }
    })
}

/// Emits a constant expression; `what` names it for errors.
fn const_value(b: &mut FunctionBuilder<'_>, env: &ModuleEnv, expr: &ConstExpr, what: &str) -> Result<Value, WasmError> {
    let ops: Vec<ConstOp> = match expr {
        ConstExpr::I32(v) => vec![ConstOp::I32(*v)],
        ConstExpr::I64(v) => vec![ConstOp::I64(*v)],
        ConstExpr::GlobalGet(g) => vec![ConstOp::GlobalGet(*g)],
        ConstExpr::Extended(ops) => ops.clone(),
        // Bits as written: NaN payloads survive.
        ConstExpr::F32(bits) => return Ok(b.fconst(Type::F32, *bits as u64)),
        ConstExpr::F64(bits) => return Ok(b.fconst(Type::F64, *bits)),
        ConstExpr::RefNull => return Ok(b.iconst(Type::I32, 0)),
        ConstExpr::RefFunc(f) => return elem_value(b, env, ElemItem::Func(*f), what),
    };
    let mut stack: Vec<Value> = Vec::new();
    let bad = || WasmError::new(format!("malformed constant expression in {what}"));
    for op in ops {
        let v = match op {
            ConstOp::I32(v) => b.iconst(Type::I32, v as u32 as u64),
            ConstOp::I64(v) => b.iconst(Type::I64, v as u64),
            ConstOp::GlobalGet(g) => {
                let ty = env.globals.get(g as usize).ok_or_else(bad)?.ty;
                b.global_get(GlobalIdx(g), ty)
            }
            ConstOp::I32Add | ConstOp::I32Sub | ConstOp::I32Mul | ConstOp::I64Add | ConstOp::I64Sub
            | ConstOp::I64Mul => {
                let rhs = stack.pop().ok_or_else(bad)?;
                let lhs = stack.pop().ok_or_else(bad)?;
                let op = match op {
                    ConstOp::I32Add | ConstOp::I64Add => BinaryOp::Add,
                    ConstOp::I32Sub | ConstOp::I64Sub => BinaryOp::Sub,
                    _ => BinaryOp::Mul,
                };
                if b.func.value_type(lhs) != b.func.value_type(rhs) {
                    return Err(bad());
                }
                b.binary(op, lhs, rhs)
            }
        };
        stack.push(v);
    }
    match stack.as_slice() {
        [v] => Ok(*v),
        _ => Err(bad()),
    }
}
