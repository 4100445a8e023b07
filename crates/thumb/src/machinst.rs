//! Machine instructions over virtual registers (`MInst`), before and after
//! register allocation. Each `MInst` expands to one or more concrete [`Asm`]
//! instructions at emission; everything an `MInst` needs from the flags is
//! produced inside the same `MInst` (compare + IT/branch), because regalloc2
//! may insert moves, spills and reloads between any two `MInst`s.
//!
//! [`Asm`]: crate::isa::asm::Asm

use crate::isa::asm::{Cond, DpOp, MemSize, ShiftKind, VcvtOp, VfpOp, VfpUnaryOp};
use crate::output::RelocTarget;
use bulkhead_ir::TrapCode;
use regalloc2::{Operand, PReg, PRegSet, RegClass, VReg};

/// A register operand: a virtual register before allocation, or a physical
/// register. Physical registers in an `MInst` before allocation are
/// non-allocatable ones (the pinned memory base in R11, SP) and become
/// `fixed_nonallocatable` operands.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Reg {
    Virt(VReg),
    Phys(u8),
}

impl Reg {
    pub fn virt(index: usize) -> Reg {
        Reg::Virt(VReg::new(index, RegClass::Int))
    }
    /// The physical register number; only valid after allocation.
    pub fn hw(self) -> u8 {
        match self {
            Reg::Phys(n) => n,
            Reg::Virt(v) => panic!("virtual register {v} survived register allocation"),
        }
    }
    pub fn as_virt(self) -> Option<VReg> {
        match self {
            Reg::Virt(v) => Some(v),
            Reg::Phys(_) => None,
        }
    }
}

pub fn preg(n: u8) -> PReg {
    PReg::new(n as usize, RegClass::Int)
}

/// Second operand of a comparison.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Rhs {
    Reg {
        r: Reg,
    },
    /// `cmp rn, #imm` with a modified immediate.
    Imm {
        imm: u32,
    },
    /// `cmn rn, #imm`: compares with `-imm` (a modified immediate).
    NegImm {
        imm: u32,
    },
}

/// Two-register bit operations with one source.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum BitOp {
    Clz,
    Rbit,
    Sxtb,
    Sxth,
}

/// The operands of a 64-bit comparison `a <cond> b` (register pairs).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cmp64 {
    pub alo: Reg,
    pub ahi: Reg,
    pub blo: Reg,
    pub bhi: Reg,
}

impl Cmp64 {
    fn visit(&mut self, f: &mut dyn FnMut(&mut Reg, Role)) {
        f(&mut self.alo, Role::Use);
        f(&mut self.ahi, Role::Use);
        f(&mut self.blo, Role::Use);
        f(&mut self.bhi, Role::Use);
    }
}

/// The operands of a VFP comparison `a - b`: f32 bits (`ahi`/`bhi`
/// `None`) or f64 register pairs (double-precision FPU only).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct FCmpOps {
    pub a: Reg,
    pub ahi: Option<Reg>,
    pub b: Reg,
    pub bhi: Option<Reg>,
}

impl FCmpOps {
    fn visit(&mut self, f: &mut dyn FnMut(&mut Reg, Role)) {
        f(&mut self.a, Role::Use);
        if let Some(r) = &mut self.ahi {
            f(r, Role::Use);
        }
        f(&mut self.b, Role::Use);
        if let Some(r) = &mut self.bhi {
            f(r, Role::Use);
        }
    }
}

/// Index of a block in the [`crate::vcode::VCode`].
pub type BlockIndex = u32;

#[derive(Clone, Debug)]
pub enum MInst {
    /// Defines the register parameters of the function (fixed r0-r3).
    Args {
        args: Vec<(Reg, u8)>,
    },
    /// Loads incoming stack argument number `slot` (0 = the first one on
    /// the stack), relative to the caller's SP.
    LoadArg {
        rd: Reg,
        slot: u32,
    },
    /// `op rd, rn, rm{, shift #amount}` (`rn` ignored for Mov/Mvn).
    AluRRR {
        op: DpOp,
        rd: Reg,
        rn: Reg,
        rm: Reg,
        shift: ShiftKind,
        amount: u8,
    },
    /// `op rd, rn, #imm` with a modified immediate (`rn` ignored for Mov/Mvn).
    AluRRI {
        op: DpOp,
        rd: Reg,
        rn: Reg,
        imm: u32,
    },
    /// `rd = rn + imm12` / `rd = rn - imm12`.
    AddImm12 {
        rd: Reg,
        rn: Reg,
        imm: u16,
    },
    SubImm12 {
        rd: Reg,
        rn: Reg,
        imm: u16,
    },
    /// Moves a register (16-bit `mov`).
    Mov {
        rd: Reg,
        rm: Reg,
    },
    /// Any 32-bit constant (mov/mvn with a modified immediate, movw, or
    /// movw+movt).
    MovImm {
        rd: Reg,
        imm: u32,
    },
    /// The absolute address `target + addend`: movw/movt with relocations.
    MovAddr {
        rd: Reg,
        target: RelocTarget,
        addend: i32,
    },
    /// Register-controlled shift (uses the bottom byte of `rm`).
    ShiftRR {
        kind: ShiftKind,
        rd: Reg,
        rn: Reg,
        rm: Reg,
    },
    Mul {
        rd: Reg,
        rn: Reg,
        rm: Reg,
    },
    /// `rd = ra - rn * rm`.
    Mls {
        rd: Reg,
        rn: Reg,
        rm: Reg,
        ra: Reg,
    },
    /// `rd = ra + rn * rm`.
    Mla {
        rd: Reg,
        rn: Reg,
        rm: Reg,
        ra: Reg,
    },
    /// `umull rdlo, rdhi, rn, rm`: the 64-bit product of two u32.
    Umull {
        rdlo: Reg,
        rdhi: Reg,
        rn: Reg,
        rm: Reg,
    },
    /// 64-bit add/subtract with carry: `adds/subs dlo, alo, blo;
    /// adc/sbc dhi, ahi, bhi` (`sub` = true for the subtraction). `dlo` is
    /// written before `ahi`/`bhi` are read.
    Alu64 {
        sub: bool,
        dlo: Reg,
        dhi: Reg,
        alo: Reg,
        ahi: Reg,
        blo: Reg,
        bhi: Reg,
    },
    Div {
        signed: bool,
        rd: Reg,
        rn: Reg,
        rm: Reg,
    },
    Bit {
        op: BitOp,
        rd: Reg,
        rm: Reg,
    },
    /// `rd = (rn <cond> rhs) ? 1 : 0` (cmp; ite; mov #1; mov #0).
    CmpSet {
        cond: Cond,
        rd: Reg,
        rn: Reg,
        rhs: Rhs,
    },
    /// `rd = (rn <cond> rhs) ? rt : rf` (cmp; ite; mov; mov).
    CmpSelect {
        cond: Cond,
        rd: Reg,
        rn: Reg,
        rhs: Rhs,
        rt: Reg,
        rf: Reg,
    },
    Load {
        size: MemSize,
        signed: bool,
        rt: Reg,
        rn: Reg,
        imm: i32,
    },
    LoadReg {
        size: MemSize,
        signed: bool,
        rt: Reg,
        rn: Reg,
        rm: Reg,
    },
    Store {
        size: MemSize,
        rt: Reg,
        rn: Reg,
        imm: i32,
    },
    StoreReg {
        size: MemSize,
        rt: Reg,
        rn: Reg,
        rm: Reg,
    },
    /// Stores a result into the caller's result area: incoming-argument
    /// word `slot` (see `lower::result_locations`), before the return.
    StoreResult {
        rt: Reg,
        slot: u32,
    },
    /// Loads a stack result of the preceding call from `[sp, #offset]`.
    LoadOutArg {
        rd: Reg,
        offset: u32,
    },
    /// Stores an outgoing stack argument at `[sp, #offset]`.
    StoreOutArg {
        rt: Reg,
        offset: u32,
    },
    /// `bl target` (AAPCS call): argument registers are fixed uses, results
    /// fixed defs; `clobbers` are the other caller-saved registers.
    Call {
        target: RelocTarget,
        uses: Vec<(Reg, u8)>,
        defs: Vec<(Reg, u8)>,
        clobbers: PRegSet,
    },
    /// `blx callee` (AAPCS call through a register), operands as for
    /// `Call`. `callee` holds the code address with the Thumb bit set.
    CallInd {
        callee: Reg,
        uses: Vec<(Reg, u8)>,
        defs: Vec<(Reg, u8)>,
        clobbers: PRegSet,
    },
    /// `cmp rn, rhs; b<cond>.w trap_island(code)`.
    TrapIf {
        cond: Cond,
        rn: Reg,
        rhs: Rhs,
        code: TrapCode,
    },
    /// Wasm bounds check `index + end <= size` without wrap-around:
    /// `adds tmp, index, end; bcs trap; cmp tmp, size; bhi trap`.
    BoundsCheck {
        index: Reg,
        end: Rhs,
        size: Reg,
        tmp: Reg,
    },
    /// 64-bit ordered comparisons (see [`Cmp64`]): `cmp alo, blo; sbcs
    /// tmp, ahi, bhi` sets N, V and C as a 64-bit `a - b` would (Z is not
    /// meaningful, so `cond` is one of Lt, Ge, Lo, Hs), then as the 32-bit
    /// forms: `rd = cond ? 1 : 0` (the `sbcs` writes `rd`).
    CmpSet64 {
        cond: Cond,
        rd: Reg,
        c: Cmp64,
    },
    /// `rd = cond ? rt : rf` after a 64-bit comparison.
    CmpSelect64 {
        cond: Cond,
        rd: Reg,
        c: Cmp64,
        tmp: Reg,
        rt: Reg,
        rf: Reg,
    },
    /// Trap unless `!cond` after a 64-bit comparison.
    TrapIf64 {
        cond: Cond,
        c: Cmp64,
        tmp: Reg,
        code: TrapCode,
    },
    /// `udf #code` in the middle of a block (statically out of bounds).
    TrapInline {
        code: TrapCode,
    },

    // ---- Single-precision VFP (hard-float targets) ----
    //
    // f32 values live in core registers; S registers are never allocated.
    // Each of these moves its operands into scratch registers s0/s1
    // (caller-saved, so free inside one MInst), operates there and moves
    // the result back, so no value stays in an S register across MInsts
    // (regalloc2's moves and spills only use core registers and the stack).
    /// `vmov s0, rn; vmov s1, rm; v<op>.f32 s0, s0, s1; vmov rd, s0`.
    VfpArith {
        op: VfpOp,
        rd: Reg,
        rn: Reg,
        rm: Reg,
    },
    /// `vmov s0, rm; <op> s0, s0; vmov rd, s0` (vsqrt, vcvt).
    VfpUnary {
        op: VfpUnaryOp,
        rd: Reg,
        rm: Reg,
    },
    /// `rd = (a <cond> b) ? 1 : 0` on float bits: `vmov s0, a; vmov s1, b;
    /// vcmp.f32 s0, s1` (f64: `vmov d0/d1` and `vcmp.f64 d0, d1`), `vmrs
    /// APSR_nzcv, fpscr; ite; mov; mov`.
    FCmpSet {
        cond: Cond,
        rd: Reg,
        c: FCmpOps,
    },
    /// `rd = (a <cond> b) ? rt : rf` after a VFP comparison.
    FCmpSelect {
        cond: Cond,
        rd: Reg,
        c: FCmpOps,
        rt: Reg,
        rf: Reg,
    },
    /// f64 arithmetic on a double-precision FPU: `vmov d0, nlo, nhi;
    /// vmov d1, mlo, mhi; v<op>.f64 d0, d0, d1; vmov dlo, dhi, d0`.
    VfpArith64 {
        op: VfpOp,
        dlo: Reg,
        dhi: Reg,
        nlo: Reg,
        nhi: Reg,
        mlo: Reg,
        mhi: Reg,
    },
    /// `vmov d0, mlo, mhi; vsqrt.f64 d0, d0; vmov dlo, dhi, d0`.
    VfpSqrt64 {
        dlo: Reg,
        dhi: Reg,
        mlo: Reg,
        mhi: Reg,
    },
    /// A VCVT with an f64 side: the operand into s0 or d0, `vcvt` into s0
    /// or d0, the result back (`rd_hi`/`rm_hi` present for f64 words).
    VfpCvt {
        op: VcvtOp,
        rd: Reg,
        rd_hi: Option<Reg>,
        rm: Reg,
        rm_hi: Option<Reg>,
    },
    /// `vmov s<s>, rm`: a float argument or result word into its AAPCS-VFP
    /// register. Emitted right before the call or return that reads it,
    /// after every other MInst that could use S registers as scratch.
    VmovToS {
        s: u8,
        rm: Reg,
    },
    /// `vmov rd, s<s>`: an incoming float parameter or call result word,
    /// right at function entry / right after the call.
    VmovFromS {
        rd: Reg,
        s: u8,
    },

    // ---- terminators ----
    /// Unconditional trap: `udf #code`.
    Trap {
        code: TrapCode,
    },
    Jump {
        target: BlockIndex,
    },
    /// `cmp rn, rhs; b<cond>.w taken; b.w not_taken` (the last branch is
    /// dropped when `not_taken` is the next block).
    CondBr {
        cond: Cond,
        rn: Reg,
        rhs: Rhs,
        taken: BlockIndex,
        not_taken: BlockIndex,
    },
    /// Conditional branch on a VFP comparison.
    FCondBr {
        cond: Cond,
        c: FCmpOps,
        taken: BlockIndex,
        not_taken: BlockIndex,
    },
    /// Conditional branch on a 64-bit comparison.
    CondBr64 {
        cond: Cond,
        c: Cmp64,
        tmp: Reg,
        taken: BlockIndex,
        not_taken: BlockIndex,
    },
    /// Jump table: `targets[idx]` or `default` (`tbh` + halfword table).
    BrTable {
        idx: Reg,
        tmp: Reg,
        targets: Vec<BlockIndex>,
        default: BlockIndex,
    },
    /// Epilogue + return; `rets` are the result registers (fixed r0..).
    Ret {
        rets: Vec<(Reg, u8)>,
    },
}

/// How an instruction accesses a register operand.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Role {
    Use,
    /// Written after all uses are read.
    Def,
    /// Written before some use is read: must not share a register with uses.
    EarlyDef,
    FixedUse(u8),
    FixedDef(u8),
}

impl MInst {
    pub fn is_term(&self) -> bool {
        matches!(
            self,
            MInst::Trap { .. }
                | MInst::Jump { .. }
                | MInst::CondBr { .. }
                | MInst::CondBr64 { .. }
                | MInst::FCondBr { .. }
                | MInst::BrTable { .. }
                | MInst::Ret { .. }
        )
    }

    pub fn is_branch(&self) -> bool {
        matches!(
            self,
            MInst::Jump { .. }
                | MInst::CondBr { .. }
                | MInst::CondBr64 { .. }
                | MInst::FCondBr { .. }
                | MInst::BrTable { .. }
        )
    }

    pub fn is_ret(&self) -> bool {
        matches!(self, MInst::Ret { .. } | MInst::Trap { .. })
    }

    fn visit_rhs(rhs: &mut Rhs, f: &mut dyn FnMut(&mut Reg, Role)) {
        if let Rhs::Reg { r } = rhs {
            f(r, Role::Use)
        }
    }

    /// Visits every register operand, uses first, in a fixed order. Operand
    /// collection for regalloc2 and the rewrite to physical registers after
    /// allocation both go through this one function, so they agree.
    pub fn visit_regs(&mut self, f: &mut dyn FnMut(&mut Reg, Role)) {
        use Role::*;
        match self {
            MInst::Args { args } => {
                for (r, n) in args {
                    f(r, FixedDef(*n))
                }
            }
            MInst::LoadArg { rd, .. } | MInst::LoadOutArg { rd, .. } => f(rd, Def),
            MInst::AluRRR { op, rd, rn, rm, .. } => {
                if !matches!(op, DpOp::Mov | DpOp::Mvn) {
                    f(rn, Use);
                }
                f(rm, Use);
                f(rd, Def);
            }
            MInst::AluRRI { op, rd, rn, .. } => {
                if !matches!(op, DpOp::Mov | DpOp::Mvn) {
                    f(rn, Use);
                }
                f(rd, Def);
            }
            MInst::AddImm12 { rd, rn, .. } | MInst::SubImm12 { rd, rn, .. } => {
                f(rn, Use);
                f(rd, Def);
            }
            MInst::Mov { rd, rm } => {
                f(rm, Use);
                f(rd, Def);
            }
            MInst::MovImm { rd, .. } | MInst::MovAddr { rd, .. } => f(rd, Def),
            MInst::ShiftRR { rd, rn, rm, .. }
            | MInst::Mul { rd, rn, rm }
            | MInst::Div { rd, rn, rm, .. } => {
                f(rn, Use);
                f(rm, Use);
                f(rd, Def);
            }
            MInst::Mls { rd, rn, rm, ra } | MInst::Mla { rd, rn, rm, ra } => {
                f(rn, Use);
                f(rm, Use);
                f(ra, Use);
                f(rd, Def);
            }
            MInst::Umull { rdlo, rdhi, rn, rm } => {
                f(rn, Use);
                f(rm, Use);
                f(rdlo, Def);
                f(rdhi, Def);
            }
            MInst::Alu64 {
                dlo,
                dhi,
                alo,
                ahi,
                blo,
                bhi,
                ..
            } => {
                f(alo, Use);
                f(ahi, Use);
                f(blo, Use);
                f(bhi, Use);
                f(dlo, EarlyDef);
                f(dhi, Def);
            }
            MInst::CmpSet64 { rd, c, .. } => {
                c.visit(f);
                f(rd, Def);
            }
            MInst::CmpSelect64 {
                rd, c, tmp, rt, rf, ..
            } => {
                c.visit(f);
                f(rt, Use);
                f(rf, Use);
                // Written by `sbcs` before `rt`/`rf` are read.
                f(tmp, EarlyDef);
                f(rd, Def);
            }
            MInst::TrapIf64 { c, tmp, .. } | MInst::CondBr64 { c, tmp, .. } => {
                c.visit(f);
                f(tmp, EarlyDef);
            }
            MInst::Bit { rd, rm, .. } => {
                f(rm, Use);
                f(rd, Def);
            }
            MInst::CmpSet { rd, rn, rhs, .. } => {
                f(rn, Use);
                Self::visit_rhs(rhs, f);
                f(rd, Def);
            }
            MInst::CmpSelect {
                rd,
                rn,
                rhs,
                rt,
                rf,
                ..
            } => {
                f(rn, Use);
                Self::visit_rhs(rhs, f);
                f(rt, Use);
                f(rf, Use);
                f(rd, Def);
            }
            MInst::Load { rt, rn, .. } => {
                f(rn, Use);
                f(rt, Def);
            }
            MInst::LoadReg { rt, rn, rm, .. } => {
                f(rn, Use);
                f(rm, Use);
                f(rt, Def);
            }
            MInst::Store { rt, rn, .. } => {
                f(rt, Use);
                f(rn, Use);
            }
            MInst::StoreReg { rt, rn, rm, .. } => {
                f(rt, Use);
                f(rn, Use);
                f(rm, Use);
            }
            MInst::StoreOutArg { rt, .. } | MInst::StoreResult { rt, .. } => f(rt, Use),
            MInst::Call { uses, defs, .. } => {
                for (r, n) in uses {
                    f(r, FixedUse(*n))
                }
                for (r, n) in defs {
                    f(r, FixedDef(*n))
                }
            }
            MInst::CallInd {
                callee, uses, defs, ..
            } => {
                f(callee, Use);
                for (r, n) in uses {
                    f(r, FixedUse(*n))
                }
                for (r, n) in defs {
                    f(r, FixedDef(*n))
                }
            }
            MInst::TrapIf { rn, rhs, .. } => {
                f(rn, Use);
                Self::visit_rhs(rhs, f);
            }
            MInst::BoundsCheck {
                index,
                end,
                size,
                tmp,
            } => {
                f(index, Use);
                Self::visit_rhs(end, f);
                f(size, Use);
                // Written by `adds` before `size` is read.
                f(tmp, EarlyDef);
            }
            MInst::TrapInline { .. } | MInst::Trap { .. } | MInst::Jump { .. } => {}
            MInst::CondBr { rn, rhs, .. } => {
                f(rn, Use);
                Self::visit_rhs(rhs, f);
            }
            MInst::VfpArith { rd, rn, rm, .. } => {
                f(rn, Use);
                f(rm, Use);
                f(rd, Def);
            }
            MInst::VfpUnary { rd, rm, .. } => {
                f(rm, Use);
                f(rd, Def);
            }
            MInst::FCmpSet { rd, c, .. } => {
                c.visit(f);
                f(rd, Def);
            }
            MInst::FCmpSelect { rd, c, rt, rf, .. } => {
                c.visit(f);
                f(rt, Use);
                f(rf, Use);
                f(rd, Def);
            }
            MInst::FCondBr { c, .. } => c.visit(f),
            MInst::VfpArith64 {
                dlo,
                dhi,
                nlo,
                nhi,
                mlo,
                mhi,
                ..
            } => {
                f(nlo, Use);
                f(nhi, Use);
                f(mlo, Use);
                f(mhi, Use);
                f(dlo, Def);
                f(dhi, Def);
            }
            MInst::VfpSqrt64 { dlo, dhi, mlo, mhi } => {
                f(mlo, Use);
                f(mhi, Use);
                f(dlo, Def);
                f(dhi, Def);
            }
            MInst::VfpCvt {
                rd, rd_hi, rm, rm_hi, ..
            } => {
                f(rm, Use);
                if let Some(r) = rm_hi {
                    f(r, Use);
                }
                f(rd, Def);
                if let Some(r) = rd_hi {
                    f(r, Def);
                }
            }
            MInst::VmovToS { rm, .. } => f(rm, Use),
            MInst::VmovFromS { rd, .. } => f(rd, Def),
            MInst::BrTable { idx, tmp, .. } => {
                f(idx, Use);
                f(tmp, EarlyDef);
            }
            MInst::Ret { rets } => {
                for (r, n) in rets {
                    f(r, FixedUse(*n))
                }
            }
        }
    }

    /// regalloc2 operands in `visit_regs` order.
    pub fn operands(&self, out: &mut Vec<Operand>) {
        let mut copy = self.clone();
        copy.visit_regs(&mut |r, role| {
            out.push(match (*r, role) {
                (Reg::Phys(n), _) => Operand::fixed_nonallocatable(preg(n)),
                (Reg::Virt(v), Role::Use) => Operand::reg_use(v),
                (Reg::Virt(v), Role::Def) => Operand::reg_def(v),
                (Reg::Virt(v), Role::EarlyDef) => Operand::reg_temp(v),
                (Reg::Virt(v), Role::FixedUse(n)) => Operand::reg_fixed_use(v, preg(n)),
                (Reg::Virt(v), Role::FixedDef(n)) => Operand::reg_fixed_def(v, preg(n)),
            })
        });
    }

    pub fn clobbers(&self) -> PRegSet {
        match self {
            MInst::Call { clobbers, .. } | MInst::CallInd { clobbers, .. } => *clobbers,
            _ => PRegSet::empty(),
        }
    }
}
