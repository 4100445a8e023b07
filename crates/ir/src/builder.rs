//! Appends instructions to a current block, with typed helpers.

use crate::entity::{Block, DataIdx, FuncIdx, GlobalIdx, Inst, SigIdx, TableIdx, Value};
use crate::function::Function;
use crate::inst::*;
use crate::types::{MemIdx, Type};
use smallvec::SmallVec;

pub struct FunctionBuilder<'f> {
    pub func: &'f mut Function,
    current: Option<Block>,
    /// Attached to every instruction created (wasm byte offset).
    pub srcloc: u32,
}

impl<'f> FunctionBuilder<'f> {
    pub fn new(func: &'f mut Function) -> Self {
        FunctionBuilder { func, current: None, srcloc: 0 }
    }

    /// Creates a block and appends it to the layout.
    pub fn create_block(&mut self) -> Block {
        let b = self.func.create_block();
        self.func.layout.push(b);
        b
    }

    pub fn switch_to_block(&mut self, b: Block) {
        self.current = Some(b);
    }

    pub fn current_block(&self) -> Option<Block> {
        self.current
    }

    /// True when the current block already ends in a terminator.
    pub fn is_filled(&self) -> bool {
        match self.current {
            Some(b) => self.func.terminator(b).is_some(),
            None => true,
        }
    }

    pub fn append_block_param(&mut self, b: Block, ty: Type) -> Value {
        self.func.append_block_param(b, ty)
    }

    pub fn ins(&mut self, data: InstData, result_types: &[Type]) -> Inst {
        let b = self.current.expect("no current block");
        debug_assert!(self.func.terminator(b).is_none(), "appending after a terminator");
        let inst = self.func.make_inst(data, result_types, self.srcloc);
        self.func.append_inst(b, inst);
        inst
    }

    fn ins1(&mut self, data: InstData, ty: Type) -> Value {
        let i = self.ins(data, &[ty]);
        self.func.inst_results(i)[0]
    }

    pub fn iconst(&mut self, ty: Type, imm: u64) -> Value {
        let imm = if ty == Type::I32 { imm & 0xffff_ffff } else { imm };
        self.ins1(InstData::Iconst { ty, imm }, ty)
    }

    pub fn unary(&mut self, op: UnaryOp, arg: Value) -> Value {
        let ty = if op == UnaryOp::Eqz { Type::I32 } else { self.func.value_type(arg) };
        self.ins1(InstData::Unary { op, arg }, ty)
    }

    pub fn binary(&mut self, op: BinaryOp, a: Value, b: Value) -> Value {
        let ty = self.func.value_type(a);
        self.ins1(InstData::Binary { op, args: [a, b] }, ty)
    }

    pub fn convert(&mut self, op: ConvertOp, to: Type, arg: Value) -> Value {
        self.ins1(InstData::Convert { op, to, arg }, to)
    }

    /// A float constant from its IEEE bits (the low 32 for f32).
    pub fn fconst(&mut self, ty: Type, bits: u64) -> Value {
        let bits = if ty == Type::F32 { bits & 0xffff_ffff } else { bits };
        self.ins1(InstData::Fconst { ty, bits }, ty)
    }

    pub fn funary(&mut self, op: FloatUnaryOp, arg: Value) -> Value {
        let ty = self.func.value_type(arg);
        self.ins1(InstData::FUnary { op, arg }, ty)
    }

    pub fn fbinary(&mut self, op: FloatBinaryOp, a: Value, b: Value) -> Value {
        let ty = self.func.value_type(a);
        self.ins1(InstData::FBinary { op, args: [a, b] }, ty)
    }

    pub fn fcmp(&mut self, cc: FloatCC, a: Value, b: Value) -> Value {
        self.ins1(InstData::Fcmp { cc, args: [a, b] }, Type::I32)
    }

    pub fn icmp(&mut self, cc: IntCC, a: Value, b: Value) -> Value {
        self.ins1(InstData::Icmp { cc, args: [a, b] }, Type::I32)
    }

    pub fn select(&mut self, cond: Value, if_nonzero: Value, if_zero: Value) -> Value {
        let ty = self.func.value_type(if_nonzero);
        self.ins1(InstData::Select { args: [cond, if_nonzero, if_zero] }, ty)
    }

    pub fn mem_base(&mut self, mem: MemIdx) -> Value {
        self.ins1(InstData::MemBase { mem }, Type::Addr(mem))
    }

    pub fn addr_add(&mut self, addr: Value, index: Value) -> Value {
        let ty = self.func.value_type(addr);
        self.ins1(InstData::AddrAdd { args: [addr, index] }, ty)
    }

    /// `mem_base.k` + zero-extended `index`: the `mem_addr.k` of the design.
    pub fn mem_addr(&mut self, mem: MemIdx, index: Value) -> Value {
        let base = self.mem_base(mem);
        self.addr_add(base, index)
    }

    pub fn bounds_check(&mut self, mem: MemIdx, index: Value, end: u64) {
        self.ins(InstData::BoundsCheck { mem, index, end }, &[]);
    }

    pub fn bounds_check_dyn(&mut self, mem: MemIdx, index: Value, len: Value) {
        self.ins(InstData::BoundsCheckDyn { mem, args: [index, len] }, &[]);
    }

    pub fn load(&mut self, kind: LoadKind, addr: Value, offset: u32) -> Value {
        let mem = self.func.value_type(addr).mem().expect("load address must be addr<k>");
        self.ins1(InstData::Load { mem, kind, addr, offset }, kind.ty())
    }

    pub fn store(&mut self, kind: StoreKind, addr: Value, value: Value, offset: u32) {
        let mem = self.func.value_type(addr).mem().expect("store address must be addr<k>");
        self.ins(InstData::Store { mem, kind, args: [addr, value], offset }, &[]);
    }

    pub fn mem_size(&mut self, mem: MemIdx) -> Value {
        self.ins1(InstData::MemSize { mem }, Type::I32)
    }

    /// The reservation of memory `mem` in bytes (see `InstData::MemMax`).
    pub fn mem_max(&mut self, mem: MemIdx) -> Value {
        self.ins1(InstData::MemMax { mem }, Type::I32)
    }

    pub fn mem_set_size(&mut self, mem: MemIdx, bytes: Value) {
        self.ins(InstData::MemSetSize { mem, arg: bytes }, &[]);
    }

    pub fn memory_fill(&mut self, mem: MemIdx, dst: Value, val: Value, len: Value) {
        self.ins(InstData::MemoryFill { mem, args: [dst, val, len] }, &[]);
    }

    pub fn memory_copy(&mut self, dst_mem: MemIdx, src_mem: MemIdx, dst: Value, src: Value, len: Value) {
        self.ins(InstData::MemoryCopy { dst_mem, src_mem, args: [dst, src, len] }, &[]);
    }

    pub fn memory_init(&mut self, mem: MemIdx, seg: DataIdx, dst: Value, src_offset: Value, len: Value) {
        self.ins(InstData::MemoryInit { mem, seg, args: [dst, src_offset, len] }, &[]);
    }

    pub fn global_get(&mut self, global: GlobalIdx, ty: Type) -> Value {
        self.ins1(InstData::GlobalGet { global }, ty)
    }

    pub fn global_set(&mut self, global: GlobalIdx, value: Value) {
        self.ins(InstData::GlobalSet { global, arg: value }, &[]);
    }

    pub fn call(&mut self, func: FuncIdx, args: &[Value], result_types: &[Type]) -> SmallVec<[Value; 1]> {
        let i = self.ins(InstData::Call { func, args: SmallVec::from_slice(args) }, result_types);
        self.func.inst_results(i).iter().copied().collect()
    }

    pub fn table_size(&mut self, table: TableIdx) -> Value {
        self.ins1(InstData::TableSize { table }, Type::I32)
    }

    pub fn table_set_size(&mut self, table: TableIdx, entries: Value) {
        self.ins(InstData::TableSetSize { table, arg: entries }, &[]);
    }

    pub fn table_get(&mut self, table: TableIdx, index: Value) -> Value {
        self.ins1(InstData::TableGet { table, index }, Type::I32)
    }

    pub fn table_set(&mut self, table: TableIdx, index: Value, funcref: Value) {
        self.ins(InstData::TableSet { table, args: [index, funcref] }, &[]);
    }

    pub fn func_ref(&mut self, func: FuncIdx) -> Value {
        self.ins1(InstData::FuncRef { func }, Type::I32)
    }

    pub fn func_ref_type_id(&mut self, funcref: Value) -> Value {
        self.ins1(InstData::FuncRefTypeId { arg: funcref }, Type::I32)
    }

    pub fn type_id(&mut self, sig: SigIdx) -> Value {
        self.ins1(InstData::TypeId { sig }, Type::I32)
    }

    /// `args` are the call's parameters (without the funcref).
    pub fn call_ref(&mut self, sig: SigIdx, funcref: Value, args: &[Value], result_types: &[Type]) -> SmallVec<[Value; 1]> {
        let mut all: SmallVec<[Value; 4]> = SmallVec::new();
        all.push(funcref);
        all.extend_from_slice(args);
        let i = self.ins(InstData::CallRef { sig, args: all }, result_types);
        self.func.inst_results(i).iter().copied().collect()
    }

    pub fn trap(&mut self, code: TrapCode) {
        self.ins(InstData::Trap { code }, &[]);
    }

    pub fn trapnz(&mut self, arg: Value, code: TrapCode) {
        self.ins(InstData::TrapIf { nonzero: true, arg, code }, &[]);
    }

    pub fn trapz(&mut self, arg: Value, code: TrapCode) {
        self.ins(InstData::TrapIf { nonzero: false, arg, code }, &[]);
    }

    pub fn jump(&mut self, block: Block, args: &[Value]) {
        self.ins(InstData::Jump { dest: BlockCall::new(block, args) }, &[]);
    }

    pub fn brif(&mut self, cond: Value, then_block: Block, then_args: &[Value], else_block: Block, else_args: &[Value]) {
        self.ins(
            InstData::Brif {
                arg: cond,
                then_dest: BlockCall::new(then_block, then_args),
                else_dest: BlockCall::new(else_block, else_args),
            },
            &[],
        );
    }

    pub fn br_table(&mut self, index: Value, targets: Vec<Block>, default: Block) {
        self.ins(InstData::BrTable { arg: index, targets, default }, &[]);
    }

    pub fn ret(&mut self, args: &[Value]) {
        self.ins(InstData::Return { args: SmallVec::from_slice(args) }, &[]);
    }
}

