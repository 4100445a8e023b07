//! Lowering driver: walks the IR backwards (so pure values are lowered only
//! when some user needs them in a register, and fused patterns such as
//! compare-and-branch or base+index addressing leave their inputs' defining
//! instructions unlowered), calls the ISLE-generated `lower` for every
//! non-terminator, lowers terminators itself (they need the block layout and
//! critical-edge splitting), and builds the [`VCode`].

use crate::isa::asm::{Cond, DpOp, MemSize, ShiftKind};
use crate::isa::encode::modified_imm;
use crate::machinst::{preg, BitOp, BlockIndex, MInst, Reg, Rhs};
use crate::output::RelocTarget;
use crate::target::ModuleInfo;
use crate::vcode::{VBlockBuilder, VCode};
use bulkhead_ir::{
    BinaryOp, Block, Function, Inst, InstData, IntCC, LoadKind, StoreKind, TrapCode, Type, UnaryOp,
    Value, ValueDef,
};
use regalloc2::{PRegSet, VReg};

#[allow(
    dead_code,
    unused_variables,
    unused_imports,
    non_snake_case,
    unreachable_patterns
)]
#[allow(
    irrefutable_let_patterns,
    unused_assignments,
    non_camel_case_types,
    unused_mut
)]
#[allow(clippy::all)]
mod generated {
    extern crate alloc;
    include!(concat!(env!("OUT_DIR"), "/isle_thumb2.rs"));
}

pub type Unit = ();
/// The result register of an instruction, if it has a result. Calls with
/// several results alias the extra ones themselves.
pub type InstOutput = Option<Reg>;

/// The physical register holding the pinned memory base.
pub const PINNED_BASE: u8 = 11;

pub struct Lowered {
    pub vcode: VCode,
    /// Bytes of the outgoing stack-argument area (calls with > 4 args).
    pub outgoing_args: u32,
    pub has_calls: bool,
}

struct Lower<'a> {
    func: &'a Function,
    module: &'a ModuleInfo,
    pinned: Option<u32>,
    /// Values read by an already-lowered user (lowering goes backwards).
    used: Vec<bool>,
    /// Value `v`'s register is vreg `v`; a lowered instruction aliases its
    /// result vreg to the register the rules produced.
    aliases: Vec<Option<Reg>>,
    next_vreg: usize,
    /// MInsts of the IR instruction being lowered, in forward order.
    cur: Vec<MInst>,
    error: Option<String>,
    /// Whether `error` reports an unsupported construct (see [`LowerError`]).
    error_unsupported: bool,
    outgoing_args: u32,
    has_calls: bool,
    /// VCode block of each IR block.
    vblock_of: Vec<BlockIndex>,
}

/// Why a function could not be lowered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LowerError {
    /// A valid function that uses something the backend cannot lower yet
    /// (i64/float values, more than four results); otherwise a bug.
    pub unsupported: bool,
    pub message: String,
}

impl LowerError {
    fn unsupported(message: String) -> LowerError {
        LowerError { unsupported: true, message }
    }
}

/// Plain messages are internal errors (broken IR or a backend bug).
impl From<String> for LowerError {
    fn from(message: String) -> LowerError {
        LowerError { unsupported: false, message }
    }
}

fn err_at(func: &Function, inst: Inst, msg: String) -> String {
    let srcloc = func.insts[inst.index()].srcloc;
    if srcloc != 0 {
        format!(
            "{msg} (instruction {inst} `{}`, wasm offset {srcloc:#x})",
            describe(func, inst)
        )
    } else {
        format!("{msg} (instruction {inst} `{}`)", describe(func, inst))
    }
}

fn describe(func: &Function, inst: Inst) -> String {
    match func.inst(inst) {
        InstData::Iconst { ty, .. } => format!("iconst.{ty}"),
        InstData::Unary { op, .. } => format!("{op}"),
        InstData::Binary { op, .. } => format!("{op}"),
        InstData::Icmp { cc, .. } => format!("icmp {cc}"),
        InstData::Load { kind, .. } => format!("load.{}", kind.name()),
        InstData::Store { kind, .. } => format!("store.{}", kind.name()),
        other => {
            let s = format!("{other:?}");
            s.split(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or("")
                .to_string()
        }
    }
}

impl<'a> Lower<'a> {
    fn fresh(&mut self) -> Reg {
        let r = Reg::virt(self.next_vreg);
        self.next_vreg += 1;
        r
    }

    fn value_vreg(&self, v: Value) -> Reg {
        Reg::virt(v.index())
    }

    fn is_pinned_base(&self, v: Value) -> bool {
        match (self.pinned, self.func.value_def(v)) {
            (Some(k), ValueDef::Result(i, 0)) => {
                matches!(self.func.inst(i), InstData::MemBase { mem } if mem.0 == k)
            }
            _ => false,
        }
    }

    fn use_value(&mut self, v: Value) -> Reg {
        if self.is_pinned_base(v) {
            return Reg::Phys(PINNED_BASE);
        }
        self.used[v.index()] = true;
        self.value_vreg(v)
    }

    /// A virtual register holding `v` (copies the pinned base out of R11:
    /// block arguments and fixed-register uses need vregs).
    fn use_value_vreg(&mut self, v: Value) -> Reg {
        let r = self.use_value(v);
        match r {
            Reg::Virt(_) => r,
            Reg::Phys(_) => {
                let d = self.fresh();
                self.cur.push(MInst::Mov { rd: d, rm: r });
                d
            }
        }
    }

    fn emit(&mut self, inst: MInst) {
        self.cur.push(inst);
    }

    fn def_inst(&self, v: Value) -> Option<Inst> {
        match self.func.value_def(v) {
            ValueDef::Result(i, _) => Some(i),
            ValueDef::Param(..) => None,
        }
    }

    fn fail(&mut self, msg: String) {
        if self.error.is_none() {
            self.error = Some(msg);
        }
    }

    /// Like [`Lower::fail`], for a valid construct not lowered yet.
    fn fail_unsupported(&mut self, msg: String) {
        if self.error.is_none() {
            self.error = Some(msg);
            self.error_unsupported = true;
        }
    }

    /// Fixed-register uses need distinct vregs (the same value passed twice
    /// gets a copy) and no physical registers.
    fn fixed_uses(&mut self, regs: &[Reg]) -> Vec<(Reg, u8)> {
        let mut out: Vec<(Reg, u8)> = Vec::new();
        for (n, &r) in regs.iter().enumerate() {
            let r = if matches!(r, Reg::Phys(_)) || out.iter().any(|(o, _)| *o == r) {
                let d = self.fresh();
                self.emit(MInst::Mov { rd: d, rm: r });
                d
            } else {
                r
            };
            out.push((r, n as u8));
        }
        out
    }

    fn call(&mut self, target: RelocTarget, args: &[Reg], nresults: usize) -> Vec<Reg> {
        self.call_to(Callee::Direct(target), args, nresults)
    }

    /// An AAPCS call: stack arguments stored, register arguments and
    /// results as fixed operands, the other caller-saved registers clobbered.
    fn call_to(&mut self, callee: Callee, args: &[Reg], nresults: usize) -> Vec<Reg> {
        self.has_calls = true;
        let (reg_args, stack_args) = args.split_at(args.len().min(4));
        for (i, &r) in stack_args.iter().enumerate() {
            let r = if let Reg::Phys(_) = r {
                let d = self.fresh();
                self.emit(MInst::Mov { rd: d, rm: r });
                d
            } else {
                r
            };
            self.emit(MInst::StoreOutArg {
                rt: r,
                offset: 4 * i as u32,
            });
        }
        self.outgoing_args = self.outgoing_args.max(4 * stack_args.len() as u32);
        let uses = self.fixed_uses(reg_args);
        let defs: Vec<(Reg, u8)> = (0..nresults).map(|n| (self.fresh(), n as u8)).collect();
        let mut clobbers = PRegSet::empty();
        for n in [0u8, 1, 2, 3, 12] {
            if !defs.iter().any(|&(_, d)| d == n) {
                clobbers.add(preg(n));
            }
        }
        let results = defs.iter().map(|&(r, _)| r).collect();
        match callee {
            Callee::Direct(target) => self.emit(MInst::Call {
                target,
                uses,
                defs,
                clobbers,
            }),
            Callee::Indirect(callee) => self.emit(MInst::CallInd {
                callee,
                uses,
                defs,
                clobbers,
            }),
        }
        results
    }

    fn mov_addr(&mut self, target: RelocTarget) -> Reg {
        let rd = self.fresh();
        self.emit(MInst::MovAddr {
            rd,
            target,
            addend: 0,
        });
        rd
    }
}

/// What a call branches to.
enum Callee {
    /// `bl` with a relocation.
    Direct(RelocTarget),
    /// `blx` through a register holding the code address | 1.
    Indirect(Reg),
}

fn cond_of(cc: IntCC) -> Cond {
    match cc {
        IntCC::Eq => Cond::Eq,
        IntCC::Ne => Cond::Ne,
        IntCC::LtS => Cond::Lt,
        IntCC::LtU => Cond::Lo,
        IntCC::GtS => Cond::Gt,
        IntCC::GtU => Cond::Hi,
        IntCC::LeS => Cond::Le,
        IntCC::LeU => Cond::Ls,
        IntCC::GeS => Cond::Ge,
        IntCC::GeU => Cond::Hs,
    }
}

impl<'a> generated::Context for Lower<'a> {
    // ---- IR extractors ----
    fn inst_kind(&mut self, i: Inst) -> Option<InstKind> {
        Some(inst_kind(self.func, i))
    }
    fn def_inst(&mut self, v: Value) -> Option<Inst> {
        Lower::def_inst(self, v)
    }

    // ---- immediates ----
    fn modified_imm(&mut self, x: u32) -> Option<u32> {
        modified_imm(x).map(|_| x)
    }
    fn neg_modified_imm(&mut self, x: u32) -> Option<u32> {
        // Zero and MIN are their own negation: `cmn` would set C/V
        // differently from `cmp`.
        let n = x.wrapping_neg();
        if n == x {
            return None;
        }
        modified_imm(n).map(|_| n)
    }
    fn inverted_modified_imm(&mut self, x: u32) -> Option<u32> {
        modified_imm(!x).map(|_| !x)
    }
    fn imm12(&mut self, x: u32) -> Option<u32> {
        (x <= 4095).then_some(x)
    }
    fn neg_imm12(&mut self, x: u32) -> Option<u32> {
        let n = x.wrapping_neg();
        (n != 0 && n <= 4095).then_some(n)
    }
    fn u32_and(&mut self, a: u32, b: u32) -> u32 {
        a & b
    }
    fn u32_add(&mut self, a: u32, b: u32) -> u32 {
        // Native address arithmetic: base + k + off wraps like base + (k + off).
        a.wrapping_add(b)
    }
    fn u32_sub(&mut self, a: u32, b: u32) -> u32 {
        a.wrapping_sub(b)
    }
    fn u32_as_u8(&mut self, a: u32) -> u8 {
        a as u8
    }
    fn u64_as_u32(&mut self, a: u64) -> Option<u32> {
        u32::try_from(a).ok()
    }
    fn intcc_invert(&mut self, cc: &IntCC) -> IntCC {
        cc.invert()
    }

    // ---- values and outputs ----
    fn put_in_reg(&mut self, v: Value) -> Reg {
        self.use_value(v)
    }
    fn output_reg(&mut self, r: Reg) -> InstOutput {
        Some(r)
    }
    fn output_none(&mut self) -> InstOutput {
        None
    }

    // ---- machine instructions ----
    fn alu_rrr(&mut self, op: &DpOp, rn: Reg, rm: Reg) -> Reg {
        let rd = self.fresh();
        self.emit(MInst::AluRRR {
            op: *op,
            rd,
            rn,
            rm,
            shift: ShiftKind::Lsl,
            amount: 0,
        });
        rd
    }
    fn alu_rrr_shift(&mut self, op: &DpOp, rn: Reg, rm: Reg, kind: &ShiftKind, amount: u8) -> Reg {
        let rd = self.fresh();
        self.emit(MInst::AluRRR {
            op: *op,
            rd,
            rn,
            rm,
            shift: *kind,
            amount,
        });
        rd
    }
    fn alu_rri(&mut self, op: &DpOp, rn: Reg, imm: u32) -> Reg {
        if modified_imm(imm).is_some() {
            let rd = self.fresh();
            self.emit(MInst::AluRRI {
                op: *op,
                rd,
                rn,
                imm,
            });
            rd
        } else {
            let k = self.mov_imm(imm);
            self.alu_rrr(op, rn, k)
        }
    }
    fn addw(&mut self, rn: Reg, imm: u32) -> Reg {
        let rd = self.fresh();
        self.emit(MInst::AddImm12 {
            rd,
            rn,
            imm: imm as u16,
        });
        rd
    }
    fn subw(&mut self, rn: Reg, imm: u32) -> Reg {
        let rd = self.fresh();
        self.emit(MInst::SubImm12 {
            rd,
            rn,
            imm: imm as u16,
        });
        rd
    }
    fn shift_ri(&mut self, kind: &ShiftKind, rm: Reg, amount: u8) -> Reg {
        let rd = self.fresh();
        self.emit(MInst::AluRRR {
            op: DpOp::Mov,
            rd,
            rn: rm,
            rm,
            shift: *kind,
            amount,
        });
        rd
    }
    fn shift_rr(&mut self, kind: &ShiftKind, rn: Reg, rm: Reg) -> Reg {
        let rd = self.fresh();
        self.emit(MInst::ShiftRR {
            kind: *kind,
            rd,
            rn,
            rm,
        });
        rd
    }
    fn mov_imm(&mut self, imm: u32) -> Reg {
        let rd = self.fresh();
        self.emit(MInst::MovImm { rd, imm });
        rd
    }
    fn mov_rr(&mut self, rm: Reg) -> Reg {
        let rd = self.fresh();
        self.emit(MInst::Mov { rd, rm });
        rd
    }
    fn mul(&mut self, rn: Reg, rm: Reg) -> Reg {
        let rd = self.fresh();
        self.emit(MInst::Mul { rd, rn, rm });
        rd
    }
    fn mls(&mut self, rn: Reg, rm: Reg, ra: Reg) -> Reg {
        let rd = self.fresh();
        self.emit(MInst::Mls { rd, rn, rm, ra });
        rd
    }
    fn div(&mut self, signed: bool, rn: Reg, rm: Reg) -> Reg {
        let rd = self.fresh();
        self.emit(MInst::Div { signed, rd, rn, rm });
        rd
    }
    fn bit_op(&mut self, op: &BitOp, rm: Reg) -> Reg {
        let rd = self.fresh();
        self.emit(MInst::Bit { op: *op, rd, rm });
        rd
    }
    fn cmp_set(&mut self, cond: &Cond, rn: Reg, rhs: &Rhs) -> Reg {
        let rd = self.fresh();
        self.emit(MInst::CmpSet {
            cond: *cond,
            rd,
            rn,
            rhs: *rhs,
        });
        rd
    }
    fn cmp_select(&mut self, cond: &Cond, rn: Reg, rhs: &Rhs, rt: Reg, rf: Reg) -> Reg {
        let rd = self.fresh();
        self.emit(MInst::CmpSelect {
            cond: *cond,
            rd,
            rn,
            rhs: *rhs,
            rt,
            rf,
        });
        rd
    }
    fn load_imm(&mut self, size: &MemSize, signed: bool, rn: Reg, imm: u32) -> Reg {
        let rt = self.fresh();
        self.emit(MInst::Load {
            size: *size,
            signed,
            rt,
            rn,
            imm: imm as i32,
        });
        rt
    }
    fn load_reg(&mut self, size: &MemSize, signed: bool, rn: Reg, rm: Reg) -> Reg {
        let rt = self.fresh();
        self.emit(MInst::LoadReg {
            size: *size,
            signed,
            rt,
            rn,
            rm,
        });
        rt
    }
    fn store_imm(&mut self, size: &MemSize, rt: Reg, rn: Reg, imm: u32) -> Unit {
        self.emit(MInst::Store {
            size: *size,
            rt,
            rn,
            imm: imm as i32,
        });
    }
    fn store_reg(&mut self, size: &MemSize, rt: Reg, rn: Reg, rm: Reg) -> Unit {
        self.emit(MInst::StoreReg {
            size: *size,
            rt,
            rn,
            rm,
        });
    }
    fn trap_if_cmp(&mut self, cond: &Cond, rn: Reg, rhs: &Rhs, code: &TrapCode) -> Unit {
        self.emit(MInst::TrapIf {
            cond: *cond,
            rn,
            rhs: *rhs,
            code: *code,
        });
    }
    fn trap_inline(&mut self, code: &TrapCode) -> Unit {
        self.emit(MInst::TrapInline { code: *code });
    }
    fn bounds_check_trap(&mut self, index: Reg, end: &Rhs, size: Reg) -> Unit {
        let tmp = self.fresh();
        self.emit(MInst::BoundsCheck {
            index,
            end: *end,
            size,
            tmp,
        });
    }
    fn mem_base_addr(&mut self, k: u32) -> Reg {
        self.mov_addr(RelocTarget::MemoryBase(k))
    }
    fn mem_size_addr(&mut self, k: u32) -> Reg {
        self.mov_addr(RelocTarget::MemorySize(k))
    }
    fn global_addr(&mut self, n: u32) -> Reg {
        self.mov_addr(RelocTarget::Global(n))
    }
    fn data_segment_addr(&mut self, n: u32) -> Reg {
        self.mov_addr(RelocTarget::DataSegment(n))
    }
    fn mem_max_addr(&mut self, k: u32) -> Reg {
        self.mov_addr(RelocTarget::MemoryMax(k))
    }
    fn table_addr(&mut self, t: u32) -> Reg {
        self.mov_addr(RelocTarget::Table(t))
    }
    fn table_size_addr(&mut self, t: u32) -> Reg {
        self.mov_addr(RelocTarget::TableSize(t))
    }
    fn func_descriptor_addr(&mut self, n: u32) -> Reg {
        self.mov_addr(RelocTarget::FuncDescriptor(n))
    }
    fn type_id_addr(&mut self, n: u32) -> Reg {
        self.mov_addr(RelocTarget::TypeId(n))
    }
    /// `call_ref`: the descriptor's first word is the code address (Thumb
    /// bit set); the call itself is like a direct one.
    fn lower_call_ref(&mut self, i: Inst) -> InstOutput {
        let InstData::CallRef { sig, args } = self.func.inst(i) else {
            return None;
        };
        let Some(signature) = self.module.types.get(sig.index()) else {
            self.fail(format!("call_ref with unknown type {sig}"));
            return None;
        };
        let Some((&funcref, params)) = args.split_first() else {
            self.fail("call_ref without a funcref operand".to_string());
            return None;
        };
        if signature.params.len() != params.len() {
            self.fail(format!(
                "call_ref of type {sig} passes {} arguments but the type has {}",
                params.len(),
                signature.params.len()
            ));
            return None;
        }
        let results = self.func.inst_results(i).to_vec();
        if results.len() > 4 {
            self.fail_unsupported(format!(
                "indirect call with {} results (at most 4 i32 results are supported)",
                results.len()
            ));
            return None;
        }
        let params = params.to_vec();
        let descriptor = self.use_value(funcref);
        let code = self.load_imm(&MemSize::Word, false, descriptor, 0);
        let regs: Vec<Reg> = params.iter().map(|&a| self.use_value(a)).collect();
        let outs = self.call_to(Callee::Indirect(code), &regs, results.len());
        for (k, (&v, &r)) in results.iter().zip(outs.iter()).enumerate() {
            if k > 0 {
                self.aliases[v.index()] = Some(r);
            }
        }
        outs.first().copied()
    }
    fn lower_call(&mut self, i: Inst) -> InstOutput {
        let InstData::Call { func, args } = self.func.inst(i) else {
            return None;
        };
        let Some(sig) = self.module.funcs.get(func.index()) else {
            self.fail(format!("call to unknown function {func}"));
            return None;
        };
        if sig.params.len() != args.len() {
            self.fail(format!(
                "call to {func} passes {} arguments but its signature has {}",
                args.len(),
                sig.params.len()
            ));
            return None;
        }
        let results = self.func.inst_results(i).to_vec();
        if results.len() > 4 {
            self.fail_unsupported(format!(
                "call with {} results (at most 4 i32 results are supported)",
                results.len()
            ));
            return None;
        }
        let regs: Vec<Reg> = args.clone().iter().map(|&a| self.use_value(a)).collect();
        let outs = self.call(RelocTarget::Function(func.0), &regs, results.len());
        // Results after the first are aliased here; the first is the output.
        for (k, (&v, &r)) in results.iter().zip(outs.iter()).enumerate() {
            if k > 0 {
                self.aliases[v.index()] = Some(r);
            }
        }
        outs.first().copied()
    }
    fn call_memset(&mut self, dst: Reg, val: Reg, len: Reg) -> Unit {
        self.call(RelocTarget::Runtime("memset"), &[dst, val, len], 0);
    }
    fn call_memmove(&mut self, dst: Reg, src: Reg, len: Reg) -> Unit {
        self.call(RelocTarget::Runtime("memmove"), &[dst, src, len], 0);
    }
}

/// The ISLE view of an instruction (see `InstKind` in isle/prelude.isle).
#[derive(Clone, Debug)]
pub enum InstKind {
    Iconst {
        imm: u32,
    },
    Unary {
        op: UnaryOp,
        arg: Value,
    },
    Binary {
        op: BinaryOp,
        x: Value,
        y: Value,
    },
    Icmp {
        cc: IntCC,
        x: Value,
        y: Value,
    },
    Select {
        c: Value,
        t: Value,
        f: Value,
    },
    MemBase {
        mem: u32,
    },
    AddrAdd {
        base: Value,
        index: Value,
    },
    BoundsCheck {
        mem: u32,
        index: Value,
        end: u64,
    },
    BoundsCheckDyn {
        mem: u32,
        index: Value,
        len: Value,
    },
    Load {
        kind: LoadKind,
        addr: Value,
        offset: u32,
    },
    Store {
        kind: StoreKind,
        addr: Value,
        value: Value,
        offset: u32,
    },
    MemSize {
        mem: u32,
    },
    MemSetSize {
        mem: u32,
        value: Value,
    },
    MemoryFill {
        dst: Value,
        val: Value,
        len: Value,
    },
    MemoryCopy {
        dst: Value,
        src: Value,
        len: Value,
    },
    MemoryInit {
        seg: u32,
        dst: Value,
        offset: Value,
        len: Value,
    },
    GlobalGet {
        global: u32,
    },
    MemMax {
        mem: u32,
    },
    TableSize {
        table: u32,
    },
    TableSetSize {
        table: u32,
        value: Value,
    },
    TableGet {
        table: u32,
        index: Value,
    },
    TableSet {
        table: u32,
        index: Value,
        value: Value,
    },
    FuncRef {
        func: u32,
    },
    FuncRefTypeId {
        funcref: Value,
    },
    TypeId {
        sig: u32,
    },
    CallRef,
    GlobalSet {
        global: u32,
        value: Value,
    },
    Call,
    TrapIf {
        nonzero: bool,
        arg: Value,
        code: TrapCode,
    },
    Terminator,
    /// Not lowered yet (no rule matches).
    Unsupported,
}

fn inst_kind(func: &Function, i: Inst) -> InstKind {
    match func.inst(i) {
        // i64 constants never get here (check_types); keep the low bits.
        InstData::Iconst { imm, .. } => InstKind::Iconst { imm: *imm as u32 },
        InstData::Unary { op, arg } => InstKind::Unary { op: *op, arg: *arg },
        InstData::Binary { op, args } => InstKind::Binary {
            op: *op,
            x: args[0],
            y: args[1],
        },
        InstData::Icmp { cc, args } => InstKind::Icmp {
            cc: *cc,
            x: args[0],
            y: args[1],
        },
        InstData::Select { args } => InstKind::Select {
            c: args[0],
            t: args[1],
            f: args[2],
        },
        InstData::MemBase { mem } => InstKind::MemBase { mem: mem.0 },
        InstData::AddrAdd { args } => InstKind::AddrAdd {
            base: args[0],
            index: args[1],
        },
        InstData::BoundsCheck { mem, index, end } => InstKind::BoundsCheck {
            mem: mem.0,
            index: *index,
            end: *end,
        },
        InstData::BoundsCheckDyn { mem, args } => InstKind::BoundsCheckDyn {
            mem: mem.0,
            index: args[0],
            len: args[1],
        },
        // Only the i32 widths have rules; other kinds reach no rule (an
        // error) instead of an exhaustiveness panic in a helper term.
        InstData::Load {
            kind, addr, offset, ..
        } if kind.ty() == Type::I32 => InstKind::Load {
            kind: *kind,
            addr: *addr,
            offset: *offset,
        },
        InstData::Store {
            kind, args, offset, ..
        } if kind.ty() == Type::I32 => InstKind::Store {
            kind: *kind,
            addr: args[0],
            value: args[1],
            offset: *offset,
        },
        InstData::Load { .. } | InstData::Store { .. } => InstKind::Unsupported,
        InstData::Convert { .. }
        | InstData::Fconst { .. }
        | InstData::FUnary { .. }
        | InstData::FBinary { .. }
        | InstData::Fcmp { .. } => InstKind::Unsupported,
        InstData::MemSize { mem } => InstKind::MemSize { mem: mem.0 },
        InstData::MemSetSize { mem, arg } => InstKind::MemSetSize {
            mem: mem.0,
            value: *arg,
        },
        InstData::MemoryFill { args, .. } => InstKind::MemoryFill {
            dst: args[0],
            val: args[1],
            len: args[2],
        },
        InstData::MemoryCopy { args, .. } => InstKind::MemoryCopy {
            dst: args[0],
            src: args[1],
            len: args[2],
        },
        InstData::MemoryInit { seg, args, .. } => InstKind::MemoryInit {
            seg: seg.0,
            dst: args[0],
            offset: args[1],
            len: args[2],
        },
        InstData::GlobalGet { global } => InstKind::GlobalGet { global: global.0 },
        InstData::GlobalSet { global, arg } => InstKind::GlobalSet {
            global: global.0,
            value: *arg,
        },
        InstData::Call { .. } => InstKind::Call,
        InstData::MemMax { mem } => InstKind::MemMax { mem: mem.0 },
        InstData::TableSize { table } => InstKind::TableSize { table: table.0 },
        InstData::TableSetSize { table, arg } => InstKind::TableSetSize {
            table: table.0,
            value: *arg,
        },
        InstData::TableGet { table, index } => InstKind::TableGet {
            table: table.0,
            index: *index,
        },
        InstData::TableSet { table, args } => InstKind::TableSet {
            table: table.0,
            index: args[0],
            value: args[1],
        },
        InstData::FuncRef { func } => InstKind::FuncRef { func: func.0 },
        InstData::FuncRefTypeId { arg } => InstKind::FuncRefTypeId { funcref: *arg },
        InstData::TypeId { sig } => InstKind::TypeId { sig: sig.0 },
        InstData::CallRef { .. } => InstKind::CallRef,
        InstData::TrapIf { nonzero, arg, code } => InstKind::TrapIf {
            nonzero: *nonzero,
            arg: *arg,
            code: *code,
        },
        InstData::Trap { .. }
        | InstData::Jump { .. }
        | InstData::Brif { .. }
        | InstData::BrTable { .. }
        | InstData::Return { .. } => InstKind::Terminator,
    }
}

/// Only i32 and addresses are lowered so far; report anything else.
fn check_types(func: &Function, inst: Inst) -> Result<(), LowerError> {
    let data = func.inst(inst);
    let mut bad = None;
    data.for_each_arg(|v| {
        let ty = func.value_type(v);
        if !matches!(ty, Type::I32 | Type::Addr(_)) && bad.is_none() {
            bad = Some(ty);
        }
    });
    for &r in func.inst_results(inst) {
        let ty = func.value_type(r);
        if !matches!(ty, Type::I32 | Type::Addr(_)) && bad.is_none() {
            bad = Some(ty);
        }
    }
    if let InstData::Iconst { ty, .. } = data {
        if *ty != Type::I32 {
            bad = Some(*ty);
        }
    }
    match bad {
        Some(ty) => Err(LowerError::unsupported(err_at(
            func,
            inst,
            format!("the Thumb-2 backend cannot lower {ty} values yet"),
        ))),
        None => Ok(()),
    }
}

/// Where a terminator's edge goes in the VCode: straight to the target's
/// block, or through a split-edge block that carries the arguments.
#[derive(Clone, Copy)]
struct Edge {
    vblock: BlockIndex,
    split: bool,
}

pub fn lower_function(
    func: &Function,
    module: &ModuleInfo,
    pinned: Option<u32>,
) -> Result<Lowered, LowerError> {
    if func.layout.is_empty() {
        return Err("function has no blocks".to_string().into());
    }
    let rpo = func.reverse_postorder();
    let mut reachable = vec![false; func.blocks.len()];
    for b in &rpo {
        reachable[b.index()] = true;
    }
    for &b in &rpo {
        if func.terminator(b).is_none() {
            return Err(format!("block {b} has no terminator").into());
        }
    }
    let entry = func.entry();
    let sig_params = func.block_params(entry);
    for &p in sig_params {
        if func.value_type(p) != Type::I32 {
            return Err(LowerError::unsupported(format!(
                "the Thumb-2 backend cannot lower {} parameters yet",
                func.value_type(p)
            )));
        }
    }
    if func.sig.results.len() > 4 || func.sig.results.iter().any(|t| *t != Type::I32) {
        return Err(LowerError::unsupported(format!(
            "the Thumb-2 backend can only return up to four i32 results yet (signature returns {:?})",
            func.sig.results
        )));
    }

    // Predecessor edge counts among reachable blocks.
    let mut pred_count = vec![0u32; func.blocks.len()];
    for &b in &rpo {
        for s in func.successors(b) {
            pred_count[s.index()] += 1;
        }
    }

    // Block numbering: 0 = synthetic entry (defines the parameters), then
    // each reachable IR block in layout order followed by its split edges.
    let mut vblock_of = vec![u32::MAX; func.blocks.len()];
    let mut n: u32 = 1;
    let order: Vec<Block> = func
        .layout
        .iter()
        .copied()
        .filter(|b| reachable[b.index()])
        .collect();
    if order.len() != rpo.len() {
        let missing = rpo.iter().find(|b| !func.layout.contains(b)).copied();
        return Err(format!(
            "block {} is reachable but not in the layout",
            missing.map_or("?".to_string(), |b| b.to_string())
        )
        .into());
    }
    // First pass: IR block indices with room for their edge blocks.
    let mut edges: Vec<Vec<Edge>> = vec![Vec::new(); func.blocks.len()];
    for &b in &order {
        vblock_of[b.index()] = n;
        n += 1;
        let term = func.terminator(b).unwrap();
        match func.inst(term) {
            InstData::Brif {
                then_dest,
                else_dest,
                ..
            } => {
                for d in [then_dest, else_dest] {
                    let split = pred_count[d.block.index()] > 1 || !d.args.is_empty();
                    if split {
                        edges[b.index()].push(Edge {
                            vblock: n,
                            split: true,
                        });
                        n += 1;
                    } else {
                        edges[b.index()].push(Edge {
                            vblock: u32::MAX,
                            split: false,
                        });
                    }
                }
            }
            InstData::BrTable {
                targets, default, ..
            } => {
                // Every distinct target of a jump table is reached through
                // its own block right after the table: TBH only branches
                // forward. Entries with the same target share that block.
                for _ in distinct_targets(targets, *default) {
                    edges[b.index()].push(Edge {
                        vblock: n,
                        split: true,
                    });
                    n += 1;
                }
            }
            _ => {}
        }
    }
    let num_vblocks = n as usize;
    for &b in &order {
        let succs = func.successors(b);
        for (e, s) in edges[b.index()].iter_mut().zip(succs.iter()) {
            if !e.split {
                e.vblock = vblock_of[s.index()];
            }
        }
    }

    let mut cx = Lower {
        func,
        module,
        pinned,
        used: vec![false; func.values.len()],
        aliases: vec![None; func.values.len()],
        next_vreg: func.values.len(),
        cur: Vec::new(),
        error: None,
        error_unsupported: false,
        outgoing_args: 0,
        has_calls: false,
        vblock_of: vblock_of.clone(),
    };
    let mut vblocks: Vec<VBlockBuilder> = vec![VBlockBuilder::default(); num_vblocks];

    // Lower in reverse RPO so that every use is seen before its definition.
    for &b in rpo.iter().rev() {
        let vb = vblock_of[b.index()] as usize;
        let mut chunks: Vec<Vec<MInst>> = Vec::new();
        let insts = func.block_insts(b);
        for &inst in insts.iter().rev() {
            check_types(func, inst)?;
            let data = func.inst(inst);
            cx.cur.clear();
            if data.is_terminator() {
                lower_terminator(&mut cx, b, inst, &edges[b.index()], &mut vblocks)?;
            } else {
                let results = func.inst_results(inst);
                let needed = !data.is_pure() || results.iter().any(|r| cx.used[r.index()]);
                if !needed {
                    continue;
                }
                let out = generated::constructor_lower(&mut cx, inst);
                if let Some(e) = cx.error.take() {
                    return Err(LowerError {
                        unsupported: cx.error_unsupported,
                        message: err_at(func, inst, e),
                    });
                }
                match out {
                    None => {
                        return Err(err_at(func, inst, "no lowering rule matches".to_string()).into());
                    }
                    Some(r) => {
                        if let Some(&v) = results.first() {
                            cx.aliases[v.index()] = r;
                        }
                    }
                }
            }
            chunks.push(core::mem::take(&mut cx.cur));
        }
        let blk = &mut vblocks[vb];
        blk.params = func
            .block_params(b)
            .iter()
            .map(|p| VReg::new(p.index(), regalloc2::RegClass::Int))
            .collect();
        blk.insts = chunks.into_iter().rev().flatten().collect();
    }

    // Synthetic entry: parameters from r0-r3 and the caller's stack.
    {
        let mut insts = Vec::new();
        let mut reg_args = Vec::new();
        let mut args = Vec::new();
        for (i, _) in sig_params.iter().enumerate() {
            let r = cx.fresh();
            if i < 4 {
                reg_args.push((r, i as u8));
            } else {
                insts.push(MInst::LoadArg {
                    rd: r,
                    slot: (i - 4) as u32,
                });
            }
            args.push(r.as_virt().unwrap());
        }
        insts.insert(0, MInst::Args { args: reg_args });
        let target = vblock_of[entry.index()];
        insts.push(MInst::Jump { target });
        vblocks[0] = VBlockBuilder {
            params: Vec::new(),
            insts,
            succs: vec![(target, args)],
        };
    }

    // Resolve aliases (a lowered instruction's result vreg stands for the
    // register its rules produced).
    let aliases = cx.aliases;
    let resolve = |r: &mut Reg| {
        let mut guard = 0;
        while let Reg::Virt(v) = *r {
            match aliases.get(v.vreg()).copied().flatten() {
                Some(t) if guard < 1000 => {
                    *r = t;
                    guard += 1;
                }
                _ => break,
            }
        }
    };
    for blk in &mut vblocks {
        for inst in &mut blk.insts {
            inst.visit_regs(&mut |r, _| resolve(r));
        }
        for (_, args) in &mut blk.succs {
            for a in args.iter_mut() {
                let mut r = Reg::Virt(*a);
                resolve(&mut r);
                match r {
                    Reg::Virt(v) => *a = v,
                    Reg::Phys(_) => {
                        return Err("internal error: physical register as block argument".to_string().into())
                    }
                }
            }
        }
    }
    Ok(Lowered {
        vcode: VCode::new(vblocks, cx.next_vreg),
        outgoing_args: cx.outgoing_args,
        has_calls: cx.has_calls,
    })
}

fn lower_terminator(
    cx: &mut Lower<'_>,
    b: Block,
    inst: Inst,
    edges: &[Edge],
    vblocks: &mut [VBlockBuilder],
) -> Result<(), LowerError> {
    let func = cx.func;
    let mut succs: Vec<(BlockIndex, Vec<VReg>)> = Vec::new();
    // Arguments of a jump from the current block to `target`.
    fn args_of(cx: &mut Lower<'_>, args: &[Value]) -> Vec<VReg> {
        args.iter()
            .map(|&a| cx.use_value_vreg(a).as_virt().unwrap())
            .collect()
    }
    match func.inst(inst).clone() {
        InstData::Jump { dest } => {
            let target = block_index(cx, dest.block);
            let args = args_of(cx, &dest.args);
            cx.emit(MInst::Jump { target });
            succs.push((target, args));
        }
        InstData::Brif {
            arg,
            then_dest,
            else_dest,
        } => {
            let (cond, rn, rhs) = branch_condition(cx, arg);
            let mut targets = [0; 2];
            for (k, d) in [&then_dest, &else_dest].into_iter().enumerate() {
                let e = edges[k];
                targets[k] = e.vblock;
                if e.split {
                    // The split block passes the arguments.
                    let tgt = block_index(cx, d.block);
                    let saved = core::mem::take(&mut cx.cur);
                    let args = args_of(cx, &d.args);
                    let mut insts = core::mem::replace(&mut cx.cur, saved);
                    insts.push(MInst::Jump { target: tgt });
                    vblocks[e.vblock as usize] = VBlockBuilder {
                        params: Vec::new(),
                        insts,
                        succs: vec![(tgt, args)],
                    };
                }
                succs.push((e.vblock, Vec::new()));
            }
            cx.emit(MInst::CondBr {
                cond,
                rn,
                rhs,
                taken: targets[0],
                not_taken: targets[1],
            });
        }
        InstData::BrTable {
            arg,
            targets,
            default,
        } => {
            let idx = cx.use_value(arg);
            let tmp = cx.fresh();
            let uniq = distinct_targets(&targets, default);
            for (k, t) in uniq.iter().enumerate() {
                let e = edges[k];
                let tgt = block_index(cx, *t);
                vblocks[e.vblock as usize] = VBlockBuilder {
                    params: Vec::new(),
                    insts: vec![MInst::Jump { target: tgt }],
                    succs: vec![(tgt, Vec::new())],
                };
                succs.push((e.vblock, Vec::new()));
            }
            let edge_of = |t: Block| edges[uniq.iter().position(|&u| u == t).unwrap()].vblock;
            let vts = targets.iter().map(|&t| edge_of(t)).collect();
            cx.emit(MInst::BrTable {
                idx,
                tmp,
                targets: vts,
                default: edge_of(default),
            });
        }
        InstData::Return { args } => {
            if args.len() > 4 {
                return Err(LowerError::unsupported(err_at(
                    func,
                    inst,
                    "returning more than four results is not supported yet".into(),
                )));
            }
            let regs: Vec<Reg> = args.iter().map(|&a| cx.use_value(a)).collect();
            let rets = cx.fixed_uses(&regs);
            cx.emit(MInst::Ret { rets });
        }
        InstData::Trap { code } => cx.emit(MInst::Trap { code }),
        _ => return Err(err_at(func, inst, "unknown terminator".into()).into()),
    }
    let vbi = block_index(cx, b) as usize;
    vblocks[vbi].succs = succs;
    Ok(())
}

/// The targets of a jump table (entries, then the default), each once, in
/// order of first appearance.
fn distinct_targets(targets: &[Block], default: Block) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    for &t in targets.iter().chain(core::iter::once(&default)) {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

fn block_index(cx: &Lower<'_>, b: Block) -> BlockIndex {
    cx.vblock_of[b.index()]
}

/// Condition, register and right-hand side for branching on `arg != 0`,
/// fusing a comparison that defines `arg`.
fn branch_condition(cx: &mut Lower<'_>, arg: Value) -> (Cond, Reg, Rhs) {
    if let Some(i) = cx.def_inst(arg) {
        if let InstData::Icmp { cc, args } = cx.func.inst(i).clone() {
            let rn = cx.use_value(args[0]);
            let rhs = generated::constructor_rhs(cx, args[1]);
            return (cond_of(cc), rn, rhs);
        }
    }
    (Cond::Ne, cx.use_value(arg), Rhs::Imm { imm: 0 })
}
