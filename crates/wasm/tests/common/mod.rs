//! Test support: a reference interpreter for the bulkhead IR (written from
//! the IR's documented semantics, independently of the frontend) and a
//! wasmi runner, so translated functions can be checked against wasmi.

#![allow(dead_code)]

use bulkhead_ir::*;
use bulkhead_wasm::{DataKind, Translation, TranslateOptions};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    Trap(TrapCode),
    /// Something the IR does not allow (an unchecked access outside the
    /// reservation, a missing import, running out of fuel).
    Fault(String),
}

pub struct Machine<'a> {
    pub tr: &'a Translation,
    pub mems: Vec<Vec<u8>>,
    pub sizes: Vec<u64>,
    pub globals: Vec<u64>,
    pub fuel: u64,
    /// Current call depth (bounded so runaway recursion is a fault, not a
    /// native stack overflow).
    pub depth: u32,
}

fn mask(ty: Type, v: u64) -> u64 {
    if ty.bytes() == 8 {
        v
    } else {
        v & 0xffff_ffff
    }
}

impl<'a> Machine<'a> {
    pub fn new(tr: &'a Translation) -> Self {
        Machine {
            tr,
            mems: tr.env.memories.iter().map(|m| vec![0xAA; m.reserved_bytes as usize]).collect(),
            sizes: vec![0; tr.env.memories.len()],
            globals: vec![0; tr.env.globals.len()],
            fuel: 10_000_000,
            depth: 0,
        }
    }

    pub fn instantiate(&mut self) -> Result<u64, Stop> {
        let f = &self.tr.instantiate;
        Ok(self.exec(f, &[])?[0])
    }

    pub fn call_export(&mut self, name: &str, args: &[u64]) -> Result<Vec<u64>, Stop> {
        let idx = self
            .tr
            .env
            .funcs
            .iter()
            .position(|f| f.exports.iter().any(|e| e == name))
            .unwrap_or_else(|| panic!("no export {name}"));
        self.call(idx as u32, args)
    }

    pub fn call(&mut self, idx: u32, args: &[u64]) -> Result<Vec<u64>, Stop> {
        if self.tr.env.is_imported_func(idx) {
            return Err(Stop::Fault(format!("call to imported function {idx}")));
        }
        let f = &self.tr.functions[(idx - self.tr.env.num_imported_funcs) as usize];
        assert_eq!(f.index, FuncIdx(idx));
        if self.depth >= 200 {
            return Err(Stop::Fault("call depth limit".into()));
        }
        self.depth += 1;
        let r = self.exec(f, args);
        self.depth -= 1;
        r
    }

    fn mem_range(&self, k: MemIdx, addr: u64, len: u64) -> Result<std::ops::Range<usize>, Stop> {
        let mem = &self.mems[k.0 as usize];
        if addr + len > mem.len() as u64 {
            return Err(Stop::Fault(format!("access to memory {k} at {addr}+{len} outside its reservation")));
        }
        Ok(addr as usize..(addr + len) as usize)
    }

    pub fn exec(&mut self, f: &Function, args: &[u64]) -> Result<Vec<u64>, Stop> {
        let mut vals = vec![0u64; f.values.len()];
        let mut block = f.entry();
        for (p, a) in f.block_params(block).iter().zip(args) {
            vals[p.index()] = *a;
        }
        loop {
            let insts = f.block_insts(block);
            let mut next = None;
            for &inst in insts {
                if self.fuel == 0 {
                    return Err(Stop::Fault("out of fuel".into()));
                }
                self.fuel -= 1;
                let res = f.inst_results(inst);
                let ty = |v: Value| f.value_type(v);
                let g = |v: Value| vals[v.index()];
                let set = |vals: &mut Vec<u64>, v: u64| vals[res[0].index()] = mask(f.value_type(res[0]), v);
                match f.inst(inst) {
                    InstData::Iconst { imm, .. } => set(&mut vals, *imm),
                    InstData::Unary { op, arg } => {
                        let x = g(*arg);
                        let r = if ty(*arg) == Type::I64 {
                            match op {
                                UnaryOp::Clz => x.leading_zeros() as u64,
                                UnaryOp::Ctz => x.trailing_zeros() as u64,
                                UnaryOp::Popcnt => x.count_ones() as u64,
                                UnaryOp::Eqz => (x == 0) as u64,
                                UnaryOp::Extend8S => x as u8 as i8 as i64 as u64,
                                UnaryOp::Extend16S => x as u16 as i16 as i64 as u64,
                                UnaryOp::Extend32S => x as u32 as i32 as i64 as u64,
                            }
                        } else {
                            let x = x as u32;
                            (match op {
                                UnaryOp::Clz => x.leading_zeros(),
                                UnaryOp::Ctz => x.trailing_zeros(),
                                UnaryOp::Popcnt => x.count_ones(),
                                UnaryOp::Eqz => (x == 0) as u32,
                                UnaryOp::Extend8S => x as u8 as i8 as i32 as u32,
                                UnaryOp::Extend16S => x as u16 as i16 as i32 as u32,
                                UnaryOp::Extend32S => return Err(Stop::Fault("sextend32 of an i32".into())),
                            }) as u64
                        };
                        set(&mut vals, r);
                    }
                    InstData::Binary { op, args } => {
                        let (a, b) = (g(args[0]), g(args[1]));
                        let r = if ty(args[0]) == Type::I64 { binop64(*op, a, b) } else { binop32(*op, a as u32, b as u32) as u64 };
                        set(&mut vals, r);
                    }
                    InstData::Icmp { cc, args } => {
                        let (a, b) = (g(args[0]), g(args[1]));
                        let (sa, sb) = if ty(args[0]) == Type::I64 {
                            (a as i64, b as i64)
                        } else {
                            (a as u32 as i32 as i64, b as u32 as i32 as i64)
                        };
                        let r = match cc {
                            IntCC::Eq => a == b,
                            IntCC::Ne => a != b,
                            IntCC::LtS => sa < sb,
                            IntCC::LtU => a < b,
                            IntCC::GtS => sa > sb,
                            IntCC::GtU => a > b,
                            IntCC::LeS => sa <= sb,
                            IntCC::LeU => a <= b,
                            IntCC::GeS => sa >= sb,
                            IntCC::GeU => a >= b,
                        };
                        set(&mut vals, r as u64);
                    }
                    // Conversions and floats: the IR crate's evaluators.
                    InstData::Convert { .. }
                    | InstData::Fconst { .. }
                    | InstData::FUnary { .. }
                    | InstData::FBinary { .. }
                    | InstData::Fcmp { .. } => {
                        use bulkhead_ir::interp::{self as ir_interp, Val};
                        let val = |v: Value| Val::from_bits(ty(v), g(v)).expect("a non-address operand");
                        let r = match f.inst(inst) {
                            InstData::Convert { op, to, arg } => ir_interp::eval_convert(*op, *to, val(*arg)),
                            InstData::Fconst { ty, bits } => Ok(Val::from_bits(*ty, *bits).expect("a float type")),
                            InstData::FUnary { op, arg } => ir_interp::eval_funary(*op, val(*arg)),
                            InstData::FBinary { op, args } => ir_interp::eval_fbinary(*op, val(args[0]), val(args[1])),
                            InstData::Fcmp { cc, args } => ir_interp::eval_fcmp(*cc, val(args[0]), val(args[1])),
                            _ => unreachable!(),
                        };
                        let r = r.map_err(|e| Stop::Fault(format!("{e:?}")))?;
                        set(&mut vals, r.bits());
                    }
                    InstData::Select { args } => {
                        let r = if g(args[0]) != 0 { g(args[1]) } else { g(args[2]) };
                        set(&mut vals, r);
                    }
                    InstData::MemBase { .. } => set(&mut vals, 0),
                    InstData::AddrAdd { args } => {
                        let r = g(args[0]) + (g(args[1]) & 0xffff_ffff);
                        vals[res[0].index()] = r;
                    }
                    InstData::BoundsCheck { mem, index, end } => {
                        if g(*index) + end > self.sizes[mem.0 as usize] {
                            return Err(Stop::Trap(TrapCode::MemoryOutOfBounds));
                        }
                    }
                    InstData::BoundsCheckDyn { mem, args } => {
                        if g(args[0]) + g(args[1]) > self.sizes[mem.0 as usize] {
                            return Err(Stop::Trap(TrapCode::MemoryOutOfBounds));
                        }
                    }
                    InstData::Load { mem, kind, addr, offset } => {
                        let r = self.mem_range(*mem, g(*addr) + *offset as u64, kind.width() as u64)?;
                        let bytes = &self.mems[mem.0 as usize][r];
                        let mut raw = 0u64;
                        for (i, b) in bytes.iter().enumerate() {
                            raw |= (*b as u64) << (8 * i);
                        }
                        let v = match kind {
                            LoadKind::I32_8S => raw as u8 as i8 as i32 as u32 as u64,
                            LoadKind::I32_16S => raw as u16 as i16 as i32 as u32 as u64,
                            LoadKind::I64_8S => raw as u8 as i8 as i64 as u64,
                            LoadKind::I64_16S => raw as u16 as i16 as i64 as u64,
                            LoadKind::I64_32S => raw as u32 as i32 as i64 as u64,
                            _ => raw,
                        };
                        set(&mut vals, v);
                    }
                    InstData::Store { mem, kind, args, offset } => {
                        let r = self.mem_range(*mem, g(args[0]) + *offset as u64, kind.width() as u64)?;
                        let v = g(args[1]);
                        for (i, b) in self.mems[mem.0 as usize][r].iter_mut().enumerate() {
                            *b = (v >> (8 * i)) as u8;
                        }
                    }
                    InstData::MemSize { mem } => set(&mut vals, self.sizes[mem.0 as usize]),
                    InstData::MemSetSize { mem, arg } => {
                        let s = g(*arg);
                        if s > self.mems[mem.0 as usize].len() as u64 {
                            return Err(Stop::Fault(format!("size of memory {mem} set beyond its reservation")));
                        }
                        self.sizes[mem.0 as usize] = s;
                    }
                    InstData::MemoryFill { mem, args } => {
                        let r = self.mem_range(*mem, g(args[0]), g(args[2]))?;
                        let v = g(args[1]) as u8;
                        self.mems[mem.0 as usize][r].fill(v);
                    }
                    InstData::MemoryCopy { dst_mem, src_mem, args } => {
                        let len = g(args[2]);
                        let s = self.mem_range(*src_mem, g(args[1]), len)?;
                        let d = self.mem_range(*dst_mem, g(args[0]), len)?;
                        let bytes = self.mems[src_mem.0 as usize][s].to_vec();
                        self.mems[dst_mem.0 as usize][d].copy_from_slice(&bytes);
                    }
                    InstData::MemoryInit { mem, seg, args } => {
                        let (src, len) = (g(args[1]) as usize, g(args[2]) as usize);
                        let data = &self.tr.env.data[seg.index()].bytes;
                        if src + len > data.len() {
                            return Err(Stop::Fault(format!("memory_init reads past data segment {seg}")));
                        }
                        let d = self.mem_range(*mem, g(args[0]), len as u64)?;
                        self.mems[mem.0 as usize][d].copy_from_slice(&data[src..src + len]);
                    }
                    InstData::GlobalGet { global } => set(&mut vals, self.globals[global.index()]),
                    InstData::GlobalSet { global, arg } => self.globals[global.index()] = g(*arg),
                    InstData::MemMax { mem } => set(&mut vals, self.mems[mem.0 as usize].len() as u64),
                    InstData::TableSize { .. }
                    | InstData::TableSetSize { .. }
                    | InstData::TableGet { .. }
                    | InstData::TableSet { .. }
                    | InstData::FuncRef { .. }
                    | InstData::FuncRefTypeId { .. }
                    | InstData::TypeId { .. }
                    | InstData::CallRef { .. } => {
                        return Err(Stop::Fault(format!("this test interpreter does not model tables ({:?})", f.inst(inst))))
                    }
                    InstData::Call { func, args } => {
                        let a: Vec<u64> = args.iter().map(|&v| g(v)).collect();
                        let r = self.call(func.0, &a)?;
                        for (v, x) in res.iter().zip(r) {
                            vals[v.index()] = x;
                        }
                    }
                    InstData::Trap { code } => return Err(Stop::Trap(*code)),
                    InstData::TrapIf { nonzero, arg, code } => {
                        if (g(*arg) != 0) == *nonzero {
                            return Err(Stop::Trap(*code));
                        }
                    }
                    InstData::Jump { dest } => next = Some(dest.clone()),
                    InstData::Brif { arg, then_dest, else_dest } => {
                        next = Some(if g(*arg) != 0 { then_dest.clone() } else { else_dest.clone() })
                    }
                    InstData::BrTable { arg, targets, default } => {
                        let t = targets.get(g(*arg) as usize).copied().unwrap_or(*default);
                        next = Some(BlockCall::new(t, &[]));
                    }
                    InstData::Return { args } => return Ok(args.iter().map(|&v| g(v)).collect()),
                }
            }
            let call = next.expect("block without a branch");
            let args: Vec<u64> = call.args.iter().map(|v| vals[v.index()]).collect();
            for (p, a) in f.block_params(call.block).iter().zip(args) {
                vals[p.index()] = a;
            }
            block = call.block;
        }
    }

    /// The bytes of memory `k` up to its current size.
    pub fn memory(&self, k: usize) -> &[u8] {
        &self.mems[k][..self.sizes[k] as usize]
    }
}

fn binop32(op: BinaryOp, a: u32, b: u32) -> u32 {
    let (sa, sb) = (a as i32, b as i32);
    match op {
        BinaryOp::Add => a.wrapping_add(b),
        BinaryOp::Sub => a.wrapping_sub(b),
        BinaryOp::Mul => a.wrapping_mul(b),
        BinaryOp::DivS => {
            if b == 0 {
                0
            } else {
                sa.wrapping_div(sb) as u32
            }
        }
        BinaryOp::DivU => a.checked_div(b).unwrap_or(0),
        BinaryOp::RemS => {
            if b == 0 {
                a
            } else {
                sa.wrapping_rem(sb) as u32
            }
        }
        BinaryOp::RemU => a.checked_rem(b).unwrap_or(a),
        BinaryOp::And => a & b,
        BinaryOp::Or => a | b,
        BinaryOp::Xor => a ^ b,
        BinaryOp::Shl => a.wrapping_shl(b),
        BinaryOp::ShrS => sa.wrapping_shr(b) as u32,
        BinaryOp::ShrU => a.wrapping_shr(b),
        BinaryOp::Rotl => a.rotate_left(b % 32),
        BinaryOp::Rotr => a.rotate_right(b % 32),
    }
}

fn binop64(op: BinaryOp, a: u64, b: u64) -> u64 {
    let (sa, sb) = (a as i64, b as i64);
    match op {
        BinaryOp::Add => a.wrapping_add(b),
        BinaryOp::Sub => a.wrapping_sub(b),
        BinaryOp::Mul => a.wrapping_mul(b),
        BinaryOp::DivS => if b == 0 { 0 } else { sa.wrapping_div(sb) as u64 },
        BinaryOp::DivU => a.checked_div(b).unwrap_or(0),
        BinaryOp::RemS => if b == 0 { a } else { sa.wrapping_rem(sb) as u64 },
        BinaryOp::RemU => a.checked_rem(b).unwrap_or(a),
        BinaryOp::And => a & b,
        BinaryOp::Or => a | b,
        BinaryOp::Xor => a ^ b,
        BinaryOp::Shl => a.wrapping_shl(b as u32),
        BinaryOp::ShrS => sa.wrapping_shr(b as u32) as u64,
        BinaryOp::ShrU => a.wrapping_shr(b as u32),
        BinaryOp::Rotl => a.rotate_left((b % 64) as u32),
        BinaryOp::Rotr => a.rotate_right((b % 64) as u32),
    }
}

pub fn wasm(text: &str) -> Vec<u8> {
    wat::parse_str(text).unwrap_or_else(|e| panic!("bad wat: {e}"))
}

pub fn translate(text: &str) -> Translation {
    translate_with(text, &TranslateOptions::default())
}

pub fn translate_with(text: &str, opts: &TranslateOptions) -> Translation {
    let tr = bulkhead_wasm::translate(&wasm(text), opts).unwrap_or_else(|e| panic!("translate: {e}"));
    for f in tr.functions.iter().chain(std::iter::once(&tr.instantiate)) {
        verify_with(f, &bulkhead_wasm::EnvCallees(&tr.env)).unwrap_or_else(|e| panic!("{e}\n{f}"));
    }
    tr
}

pub fn func<'t>(tr: &'t Translation, export: &str) -> &'t Function {
    tr.functions
        .iter()
        .find(|f| tr.env.funcs[f.index.index()].exports.iter().any(|e| e == export))
        .unwrap_or_else(|| panic!("no export {export}"))
}

/// Result of one call: the i32/i64 results as raw bits, or how it stopped.
pub type CallResult = Result<Vec<u64>, Stop>;

fn wasmi_trap(e: &wasmi::Error) -> Stop {
    use wasmi::TrapCode as W;
    match e.as_trap_code() {
        Some(W::UnreachableCodeReached) => Stop::Trap(TrapCode::Unreachable),
        Some(W::MemoryOutOfBounds) => Stop::Trap(TrapCode::MemoryOutOfBounds),
        Some(W::IntegerDivisionByZero) => Stop::Trap(TrapCode::IntegerDivideByZero),
        Some(W::IntegerOverflow) => Stop::Trap(TrapCode::IntegerOverflow),
        Some(W::BadConversionToInteger) => Stop::Trap(TrapCode::InvalidConversion),
        _ => Stop::Fault(format!("wasmi: {e}")),
    }
}

/// Runs instantiation and then `calls` in order on wasmi. Returns the
/// instantiation result (0, or 2 for a failed data segment), each call's
/// result, and the final contents of the exported memories named in `mems`.
pub fn run_wasmi(bytes: &[u8], calls: &[(&str, Vec<u64>)], mems: &[&str]) -> (u64, Vec<CallResult>, Vec<Vec<u8>>) {
    let mut config = wasmi::Config::default();
    config.wasm_custom_page_sizes(true).wasm_multi_memory(true).wasm_extended_const(true);
    let engine = wasmi::Engine::new(&config);
    let module = wasmi::Module::new(&engine, bytes).expect("wasmi rejects the module");
    let mut store = wasmi::Store::new(&engine, ());
    let linker = wasmi::Linker::<()>::new(&engine);
    let instance = match linker.instantiate_and_start(&mut store, &module) {
        Ok(i) => i,
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("out of bounds"), "wasmi instantiation: {msg}");
            return (2, Vec::new(), Vec::new());
        }
    };
    let mut results = Vec::new();
    for (name, args) in calls {
        let func = instance.get_func(&store, name).unwrap_or_else(|| panic!("no export {name}"));
        let ty = func.ty(&store);
        let params: Vec<wasmi::Val> = ty
            .params()
            .iter()
            .zip(args)
            .map(|(t, &a)| match t {
                wasmi::ValType::I64 => wasmi::Val::I64(a as i64),
                wasmi::ValType::F32 => wasmi::Val::F32(wasmi::F32::from_bits(a as u32)),
                wasmi::ValType::F64 => wasmi::Val::F64(wasmi::F64::from_bits(a)),
                _ => wasmi::Val::I32(a as u32 as i32),
            })
            .collect();
        let mut out: Vec<wasmi::Val> = ty.results().iter().map(|_| wasmi::Val::I32(0)).collect();
        let r = match func.call(&mut store, &params, &mut out) {
            Ok(()) => Ok(out
                .iter()
                .map(|v| match v {
                    wasmi::Val::I32(x) => *x as u32 as u64,
                    wasmi::Val::I64(x) => *x as u64,
                    wasmi::Val::F32(x) => x.to_bits() as u64,
                    wasmi::Val::F64(x) => x.to_bits(),
                    other => panic!("unexpected result {other:?}"),
                })
                .collect()),
            Err(e) => Err(wasmi_trap(&e)),
        };
        results.push(r);
    }
    let memories = mems
        .iter()
        .map(|m| instance.get_memory(&store, m).unwrap_or_else(|| panic!("no memory {m}")).data(&store).to_vec())
        .collect();
    (0, results, memories)
}

/// Runs the same sequence on the translated IR and on wasmi and asserts
/// identical results, traps and exported memory contents.
pub fn assert_same_as_wasmi(text: &str, opts: &TranslateOptions, calls: &[(&str, Vec<u64>)], mems: &[&str]) {
    let bytes = wasm(text);
    let tr = translate_with(text, opts);
    let (w_inst, w_results, w_mems) = run_wasmi(&bytes, calls, mems);
    let mut m = Machine::new(&tr);
    let inst = m.instantiate().expect("instantiate stopped");
    assert_eq!(inst, w_inst, "instantiate result differs from wasmi");
    if inst != 0 {
        return;
    }
    for ((name, args), expected) in calls.iter().zip(&w_results) {
        let got = m.call_export(name, args);
        let types = &func(&tr, name).sig.results;
        assert!(same_results(types, &got, expected), "{name}({args:?}) differs from wasmi: got {got:x?}, wasmi {expected:x?}\n{}", func(&tr, name));
    }
    for (name, expected) in mems.iter().zip(&w_mems) {
        let k = tr.env.memories.iter().position(|mm| mm.exports.iter().any(|e| e == name)).unwrap();
        assert!(m.memory(k) == &expected[..], "memory {name} differs from wasmi");
    }
}

/// True when `tr` has an active data segment (used by a few tests).
pub fn has_active_data(tr: &Translation) -> bool {
    tr.env.data.iter().any(|d| matches!(d.kind, DataKind::Active { .. }))
}

/// Is `x` (bits of a value of type `ty`) a NaN?
pub fn is_nan(ty: Type, x: u64) -> bool {
    match ty {
        Type::F32 => f32::from_bits(x as u32).is_nan(),
        Type::F64 => f64::from_bits(x).is_nan(),
        _ => false,
    }
}

/// The IR's NaN for results of float arithmetic (the wasm canonical NaN).
pub fn is_ir_canonical_nan(ty: Type, x: u64) -> bool {
    match ty {
        Type::F32 => x == 0x7fc0_0000,
        Type::F64 => x == 0x7ff8_0000_0000_0000,
        _ => false,
    }
}

/// Results agree with wasmi's: bit for bit, except that where wasmi
/// returns some NaN the IR may return its canonical NaN. The spec lets a
/// float operation return any arithmetic NaN when an operand is a
/// non-canonical NaN (wasmi propagates payloads), and the canonical NaN is
/// always among the allowed results. Payload-preserving operations (neg,
/// abs, copysign, reinterpret, loads, stores, select) have exact checks of
/// their own in the spec scripts (`spec_numeric.rs`).
pub fn same_results(types: &[Type], got: &CallResult, wasmi: &CallResult) -> bool {
    match (got, wasmi) {
        (Ok(g), Ok(w)) => {
            g.len() == w.len()
                && types.len() == g.len()
                && types.iter().zip(g.iter().zip(w)).all(|(&ty, (&g, &w))| {
                    g == w || (is_nan(ty, w) && is_ir_canonical_nan(ty, g))
                })
        }
        _ => got == wasmi,
    }
}
