//! Lowering driver: walks the IR backwards (so pure values are lowered only
//! when some user needs them in a register, and fused patterns such as
//! compare-and-branch or base+index addressing leave their inputs' defining
//! instructions unlowered), calls the ISLE-generated `lower` for every
//! non-terminator, lowers terminators itself (they need the block layout and
//! critical-edge splitting), and builds the [`VCode`].

use crate::isa::asm::{Cond, DpOp, MemSize, ShiftKind};
use crate::isa::encode::modified_imm;
use crate::machinst::{preg, BitOp, BlockIndex, Cmp64, MInst, Reg, Rhs};
use crate::output::RelocTarget;
use crate::target::ModuleInfo;
use crate::vcode::{VBlockBuilder, VCode};
use bulkhead_ir::{
    BinaryOp, Block, ConvertOp, Function, Inst, InstData, IntCC, LoadKind, StoreKind, TrapCode,
    Type, UnaryOp, Value, ValueDef,
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
/// The result registers of an instruction, if it has a result. Calls with
/// several results alias all of them themselves and output nothing.
pub type InstOutput = Option<ValueRegs>;

/// The registers of one value: one for i32 and addresses, a (low, high)
/// pair for i64 (like Cranelift's `ValueRegs`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ValueRegs {
    pub lo: Reg,
    pub hi: Option<Reg>,
}

impl ValueRegs {
    pub fn one(r: Reg) -> ValueRegs {
        ValueRegs { lo: r, hi: None }
    }
    pub fn pair(lo: Reg, hi: Reg) -> ValueRegs {
        ValueRegs { lo, hi: Some(hi) }
    }
}

/// A comparison whose flags a conditional instruction consumes: 32-bit
/// `cmp rn, rhs`, or a 64-bit ordered comparison of register pairs.
#[derive(Copy, Clone, Debug)]
pub enum Flags {
    Cmp { cond: Cond, rn: Reg, rhs: Rhs },
    Cmp64 { cond: Cond, a: ValueRegs, b: ValueRegs },
}

/// A base register plus an immediate offset for word accesses (for an i64
/// pair, `off + 4` fits the immediate too).
#[derive(Copy, Clone, Debug)]
pub enum AMode {
    RegOff { base: Reg, off: u32 },
}

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
    /// Value `v`'s register is vreg `v` (the low half for i64, whose high
    /// half is vreg `values.len() + v`); a lowered instruction aliases its
    /// result vregs to the registers the rules produced.
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

    /// The vreg of the high half of i64 value `v`.
    fn value_vreg_hi(&self, v: Value) -> Reg {
        Reg::virt(self.func.values.len() + v.index())
    }

    fn is_i64(&self, v: Value) -> bool {
        self.func.value_type(v) == Type::I64
    }

    /// The registers of `v`: a pair for i64.
    fn use_value_regs(&mut self, v: Value) -> ValueRegs {
        let lo = self.use_value(v);
        if self.is_i64(v) {
            ValueRegs::pair(lo, self.value_vreg_hi(v))
        } else {
            ValueRegs::one(lo)
        }
    }

    /// Aliases the result vregs of value `v` to `regs`.
    fn alias_value(&mut self, v: Value, regs: ValueRegs) {
        self.aliases[v.index()] = Some(regs.lo);
        if let Some(hi) = regs.hi {
            let h = self.func.values.len() + v.index();
            self.aliases[h] = Some(hi);
        }
    }

    /// The vregs of `v` as register words (one, or lo/hi), for block
    /// arguments and fixed-register operands.
    fn value_words(&mut self, v: Value) -> Vec<Reg> {
        let r = self.use_value_regs(v);
        let lo = match r.lo {
            Reg::Virt(_) => r.lo,
            Reg::Phys(_) => {
                let d = self.fresh();
                self.cur.push(MInst::Mov { rd: d, rm: r.lo });
                d
            }
        };
        match r.hi {
            Some(hi) => vec![lo, hi],
            None => vec![lo],
        }
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

    /// Fixed-register uses need distinct vregs (the same value passed twice
    /// gets a copy) and no physical registers.
    fn fixed_uses(&mut self, regs: &[(Reg, u8)]) -> Vec<(Reg, u8)> {
        let mut out: Vec<(Reg, u8)> = Vec::new();
        for &(r, n) in regs {
            let r = if matches!(r, Reg::Phys(_)) || out.iter().any(|(o, _)| *o == r) {
                let d = self.fresh();
                self.emit(MInst::Mov { rd: d, rm: r });
                d
            } else {
                r
            };
            out.push((r, n));
        }
        out
    }

    /// A call with i32-sized arguments and results only (runtime routines).
    fn call(&mut self, target: RelocTarget, args: &[Reg], nresults: usize) -> Vec<Reg> {
        let words: Vec<Word> = args
            .iter()
            .enumerate()
            .map(|(n, &r)| (r, aapcs_word(n)))
            .collect();
        let results: Vec<ArgLoc> = (0..nresults as u8).map(ArgLoc::Reg).collect();
        self.call_to(Callee::Direct(target), &words, &results)
    }

    /// The argument words of a call with arguments `args` (AAPCS
    /// locations), or an unsupported-construct error.
    fn arg_words(&mut self, args: &[Value]) -> Vec<Word> {
        let tys: Vec<Type> = args.iter().map(|&a| self.func.value_type(a)).collect();
        let locs = aapcs_locations(&tys);
        let mut words = Vec::new();
        for (&a, loc) in args.iter().zip(locs) {
            let regs = self.value_words(a);
            for (r, l) in regs.into_iter().zip(loc) {
                words.push((r, l));
            }
        }
        words
    }

    /// An AAPCS call: stack arguments stored, register arguments and
    /// register results as fixed operands, the other caller-saved
    /// registers clobbered; result words on the stack (see
    /// [`result_locations`]) are loaded from the outgoing area after the
    /// call.
    fn call_to(&mut self, callee: Callee, args: &[Word], results: &[ArgLoc]) -> Vec<Reg> {
        self.has_calls = true;
        let mut reg_args = Vec::new();
        let mut stack_bytes = 0;
        for &(r, loc) in args {
            match loc {
                ArgLoc::Reg(n) => reg_args.push((r, n)),
                ArgLoc::Stack(offset) => {
                    let r = if let Reg::Phys(_) = r {
                        let d = self.fresh();
                        self.emit(MInst::Mov { rd: d, rm: r });
                        d
                    } else {
                        r
                    };
                    self.emit(MInst::StoreOutArg { rt: r, offset });
                    stack_bytes = stack_bytes.max(offset + 4);
                }
            }
        }
        for &loc in results {
            if let ArgLoc::Stack(offset) = loc {
                stack_bytes = stack_bytes.max(offset + 4);
            }
        }
        // The outgoing area keeps SP 8-byte aligned (the frame rounds it).
        self.outgoing_args = self.outgoing_args.max(stack_bytes);
        let uses = self.fixed_uses(&reg_args);
        let mut out_regs = Vec::with_capacity(results.len());
        let mut defs: Vec<(Reg, u8)> = Vec::new();
        let mut loads = Vec::new();
        for &loc in results {
            let r = self.fresh();
            out_regs.push(r);
            match loc {
                ArgLoc::Reg(n) => defs.push((r, n)),
                ArgLoc::Stack(offset) => loads.push(MInst::LoadOutArg { rd: r, offset }),
            }
        }
        let mut clobbers = PRegSet::empty();
        for n in [0u8, 1, 2, 3, 12] {
            if !defs.iter().any(|&(_, d)| d == n) {
                clobbers.add(preg(n));
            }
        }
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
        for l in loads {
            self.emit(l);
        }
        out_regs
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

/// Where one 32-bit word of an argument goes (AAPCS).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ArgLoc {
    /// Core register r0-r3.
    Reg(u8),
    /// Byte offset in the stack argument area (from SP at the call).
    Stack(u32),
}

/// A register word and where it is passed.
type Word = (Reg, ArgLoc);

/// The location of the `n`th of a list of i32 words.
fn aapcs_word(n: usize) -> ArgLoc {
    if n < 4 {
        ArgLoc::Reg(n as u8)
    } else {
        ArgLoc::Stack(4 * (n as u32 - 4))
    }
}

/// AAPCS (base standard, §6.5) locations of the words of each value:
/// 32-bit values take the next core register or the next stack word; i64
/// takes an even/odd register pair (skipping an odd register) or, once the
/// registers are exhausted, an 8-byte aligned stack slot, and is never
/// split between registers and stack; after the first stack argument no
/// later one uses a register.
pub fn aapcs_locations(tys: &[Type]) -> Vec<Vec<ArgLoc>> {
    let mut ncrn = 0u8;
    let mut nsaa = 0u32;
    let mut out = Vec::with_capacity(tys.len());
    for &ty in tys {
        if ty == Type::I64 {
            ncrn += ncrn % 2;
            if ncrn + 2 <= 4 {
                out.push(vec![ArgLoc::Reg(ncrn), ArgLoc::Reg(ncrn + 1)]);
                ncrn += 2;
            } else {
                ncrn = 4;
                nsaa = nsaa.next_multiple_of(8);
                out.push(vec![ArgLoc::Stack(nsaa), ArgLoc::Stack(nsaa + 4)]);
                nsaa += 8;
            }
        } else if ncrn < 4 {
            out.push(vec![ArgLoc::Reg(ncrn)]);
            ncrn += 1;
        } else {
            out.push(vec![ArgLoc::Stack(nsaa)]);
            nsaa += 4;
        }
    }
    out
}

/// Where results go: bulkhead assigns results like arguments (AAPCS
/// rules), so one i32 is in r0 and one i64 in r0:r1 as the AAPCS requires;
/// several results (wasm multi-value, bulkhead's own convention) take
/// r0-r3 in order (i64 in even pairs) and then stack words in a *result
/// area* the caller reserves in its outgoing-argument area right after the
/// stack arguments (at the 8-aligned end of the argument words). The
/// callee stores them there before returning; the offsets are from SP at
/// the call, i.e. from the callee's incoming-argument base.
pub fn result_locations(params: &[Type], results: &[Type]) -> Vec<Vec<ArgLoc>> {
    let args_end = aapcs_locations(params)
        .iter()
        .flatten()
        .filter_map(|l| match l {
            ArgLoc::Stack(o) => Some(o + 4),
            ArgLoc::Reg(_) => None,
        })
        .max()
        .unwrap_or(0)
        .next_multiple_of(8);
    aapcs_locations(results)
        .into_iter()
        .map(|words| {
            words
                .into_iter()
                .map(|l| match l {
                    ArgLoc::Reg(n) => ArgLoc::Reg(n),
                    ArgLoc::Stack(o) => ArgLoc::Stack(args_end + o),
                })
                .collect()
        })
        .collect()
}

/// What a call branches to.
enum Callee {
    /// `bl` with a relocation.
    Direct(RelocTarget),
    /// `blx` through a register holding the code address | 1.
    Indirect(Reg),
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
        Some(ValueRegs::one(r))
    }
    fn output_regs(&mut self, r: ValueRegs) -> InstOutput {
        Some(r)
    }
    fn put_in_regs(&mut self, v: Value) -> ValueRegs {
        let r = self.use_value_regs(v);
        if r.hi.is_none() {
            self.fail(format!("internal error: {v} is not an i64 value"));
            return ValueRegs::pair(r.lo, r.lo);
        }
        r
    }
    fn value_regs(&mut self, lo: Reg, hi: Reg) -> ValueRegs {
        ValueRegs::pair(lo, hi)
    }
    fn regs_lo(&mut self, r: ValueRegs) -> Reg {
        r.lo
    }
    fn regs_hi(&mut self, r: ValueRegs) -> Reg {
        match r.hi {
            Some(h) => h,
            None => {
                self.fail("internal error: high half of a 32-bit value".to_string());
                r.lo
            }
        }
    }
    fn shift_small(&mut self, k: u32) -> Option<u8> {
        (1..=31).contains(&k).then_some(k as u8)
    }
    fn shift_big(&mut self, k: u32) -> Option<u8> {
        (32..=63).contains(&k).then(|| (k - 32) as u8)
    }
    fn u8_rsub32(&mut self, k: u8) -> u8 {
        32 - k
    }
    fn u32_neg_mod64(&mut self, k: u32) -> u32 {
        k.wrapping_neg() & 63
    }
    fn imm12_pair(&mut self, x: u32) -> Option<u32> {
        (x <= 4091).then_some(x)
    }
    fn amode_base(&mut self, a: &AMode) -> Reg {
        match *a {
            AMode::RegOff { base, .. } => base,
        }
    }
    fn amode_off(&mut self, a: &AMode, extra: u32) -> u32 {
        match *a {
            AMode::RegOff { off, .. } => off + extra,
        }
    }
    fn umull(&mut self, rn: Reg, rm: Reg) -> ValueRegs {
        let (rdlo, rdhi) = (self.fresh(), self.fresh());
        self.emit(MInst::Umull { rdlo, rdhi, rn, rm });
        ValueRegs::pair(rdlo, rdhi)
    }
    fn mla(&mut self, rn: Reg, rm: Reg, ra: Reg) -> Reg {
        let rd = self.fresh();
        self.emit(MInst::Mla { rd, rn, rm, ra });
        rd
    }
    fn alu64(&mut self, sub: bool, a: ValueRegs, b: ValueRegs) -> ValueRegs {
        let (dlo, dhi) = (self.fresh(), self.fresh());
        let (ahi, bhi) = (self.regs_hi(a), self.regs_hi(b));
        self.emit(MInst::Alu64 {
            sub,
            dlo,
            dhi,
            alo: a.lo,
            ahi,
            blo: b.lo,
            bhi,
        });
        ValueRegs::pair(dlo, dhi)
    }
    /// 64-bit division and remainder: a call of the backend's runtime
    /// routine `udivmod64`/`sdivmod64` (total, like the IR's division:
    /// see [`crate::runtime`]), which returns the quotient in r0:r1 and
    /// the remainder in r2:r3.
    fn divmod64(&mut self, signed: bool, rem: bool, a: ValueRegs, b: ValueRegs) -> ValueRegs {
        let (ahi, bhi) = (self.regs_hi(a), self.regs_hi(b));
        let name = if signed { "sdivmod64" } else { "udivmod64" };
        let out = self.call(RelocTarget::Runtime(name), &[a.lo, ahi, b.lo, bhi], 4);
        if rem {
            ValueRegs::pair(out[2], out[3])
        } else {
            ValueRegs::pair(out[0], out[1])
        }
    }
    fn cmp_set_flags(&mut self, fl: &Flags) -> Reg {
        match *fl {
            Flags::Cmp { cond, rn, rhs } => self.cmp_set(&cond, rn, &rhs),
            Flags::Cmp64 { cond, a, b } => {
                let c = self.cmp64_operands(a, b);
                let rd = self.fresh();
                self.emit(MInst::CmpSet64 { cond, rd, c });
                rd
            }
        }
    }
    fn cmp_select_flags(&mut self, fl: &Flags, rt: Reg, rf: Reg) -> Reg {
        match *fl {
            Flags::Cmp { cond, rn, rhs } => self.cmp_select(&cond, rn, &rhs, rt, rf),
            Flags::Cmp64 { cond, a, b } => {
                let c = self.cmp64_operands(a, b);
                let (rd, tmp) = (self.fresh(), self.fresh());
                self.emit(MInst::CmpSelect64 {
                    cond,
                    rd,
                    c,
                    tmp,
                    rt,
                    rf,
                });
                rd
            }
        }
    }
    fn trap_if_flags(&mut self, fl: &Flags, code: &TrapCode) -> Unit {
        match *fl {
            Flags::Cmp { cond, rn, rhs } => self.trap_if_cmp(&cond, rn, &rhs, code),
            Flags::Cmp64 { cond, a, b } => {
                let c = self.cmp64_operands(a, b);
                let tmp = self.fresh();
                self.emit(MInst::TrapIf64 {
                    cond,
                    c,
                    tmp,
                    code: *code,
                });
            }
        }
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
        let params = params.to_vec();
        let descriptor = self.use_value(funcref);
        let code = self.load_imm(&MemSize::Word, false, descriptor, 0);
        self.lower_any_call(i, Callee::Indirect(code), &params);
        None
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
        let args = args.to_vec();
        self.lower_any_call(i, Callee::Direct(RelocTarget::Function(func.0)), &args);
        None
    }
    fn call_memset(&mut self, dst: Reg, val: Reg, len: Reg) -> Unit {
        self.call(RelocTarget::Runtime("memset"), &[dst, val, len], 0);
    }
    fn call_memmove(&mut self, dst: Reg, src: Reg, len: Reg) -> Unit {
        self.call(RelocTarget::Runtime("memmove"), &[dst, src, len], 0);
    }
}

impl Lower<'_> {
    fn regs_hi_or_lo(&self, r: ValueRegs) -> Reg {
        r.hi.unwrap_or(r.lo)
    }

    fn cmp64_operands(&mut self, a: ValueRegs, b: ValueRegs) -> Cmp64 {
        use generated::Context as _;
        let (ahi, bhi) = (self.regs_hi(a), self.regs_hi(b));
        Cmp64 {
            alo: a.lo,
            ahi,
            blo: b.lo,
            bhi,
        }
    }

    /// A direct or indirect call of IR instruction `i` with arguments
    /// `args`: AAPCS argument words, results per [`result_locations`],
    /// every result aliased here.
    fn lower_any_call(&mut self, i: Inst, callee: Callee, args: &[Value]) {
        let results = self.func.inst_results(i).to_vec();
        let tys: Vec<Type> = results.iter().map(|&r| self.func.value_type(r)).collect();
        let arg_tys: Vec<Type> = args.iter().map(|&a| self.func.value_type(a)).collect();
        let rets = result_locations(&arg_tys, &tys);
        let words = self.arg_words(args);
        let flat: Vec<ArgLoc> = rets.iter().flatten().copied().collect();
        let outs = self.call_to(callee, &words, &flat);
        let mut k = 0;
        for (&v, regs) in results.iter().zip(&rets) {
            let vr = if regs.len() == 2 {
                ValueRegs::pair(outs[k], outs[k + 1])
            } else {
                ValueRegs::one(outs[k])
            };
            k += regs.len();
            self.alias_value(v, vr);
        }
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
    /// i64 operations (operands and results are register pairs).
    Iconst64 {
        lo: u32,
        hi: u32,
    },
    Unary64 {
        op: UnaryOp,
        arg: Value,
    },
    /// `eqz` of an i64 (an i32 result).
    Eqz64 {
        arg: Value,
    },
    Binary64 {
        op: BinaryOp,
        x: Value,
        y: Value,
    },
    Icmp64 {
        cc: IntCC,
        x: Value,
        y: Value,
    },
    Select64 {
        c: Value,
        t: Value,
        f: Value,
    },
    Load64 {
        kind: LoadKind,
        addr: Value,
        offset: u32,
    },
    Store64 {
        kind: StoreKind,
        addr: Value,
        value: Value,
        offset: u32,
    },
    GlobalGet64 {
        global: u32,
    },
    GlobalSet64 {
        global: u32,
        value: Value,
    },
    /// i32 -> i64.
    Extend {
        signed: bool,
        arg: Value,
    },
    /// i64 -> i32.
    Wrap {
        arg: Value,
    },
    Terminator,
    /// Not lowered yet (no rule matches).
    Unsupported,
}

/// The ISLE view of an i64 instruction (one whose first operand or
/// result is an i64), `None` for anything else.
fn inst_kind64(func: &Function, i: Inst) -> Option<InstKind> {
    let is64 = |v: Value| func.value_type(v) == Type::I64;
    let result64 = func.inst_results(i).first().is_some_and(|&r| is64(r));
    Some(match func.inst(i) {
        InstData::Iconst { ty: Type::I64, imm } => InstKind::Iconst64 {
            lo: *imm as u32,
            hi: (*imm >> 32) as u32,
        },
        InstData::Unary {
            op: UnaryOp::Eqz,
            arg,
        } if is64(*arg) => InstKind::Eqz64 { arg: *arg },
        InstData::Unary { op, arg } if is64(*arg) => InstKind::Unary64 { op: *op, arg: *arg },
        InstData::Binary { op, args } if is64(args[0]) => InstKind::Binary64 {
            op: *op,
            x: args[0],
            y: args[1],
        },
        InstData::Icmp { cc, args } if is64(args[0]) => InstKind::Icmp64 {
            cc: *cc,
            x: args[0],
            y: args[1],
        },
        InstData::Select { args } if result64 => InstKind::Select64 {
            c: args[0],
            t: args[1],
            f: args[2],
        },
        InstData::Load {
            kind, addr, offset, ..
        } if kind.ty() == Type::I64 => InstKind::Load64 {
            kind: *kind,
            addr: *addr,
            offset: *offset,
        },
        InstData::Store {
            kind, args, offset, ..
        } if kind.ty() == Type::I64 => InstKind::Store64 {
            kind: *kind,
            addr: args[0],
            value: args[1],
            offset: *offset,
        },
        InstData::GlobalGet { global } if result64 => InstKind::GlobalGet64 { global: global.0 },
        InstData::GlobalSet { global, arg } if is64(*arg) => InstKind::GlobalSet64 {
            global: global.0,
            value: *arg,
        },
        InstData::Convert {
            op: op @ (ConvertOp::SExtend | ConvertOp::UExtend),
            to: Type::I64,
            arg,
        } if func.value_type(*arg) == Type::I32 => InstKind::Extend {
            signed: *op == ConvertOp::SExtend,
            arg: *arg,
        },
        InstData::Convert {
            op: ConvertOp::Wrap,
            to: Type::I32,
            arg,
        } if is64(*arg) => InstKind::Wrap { arg: *arg },
        _ => return None,
    })
}

fn inst_kind(func: &Function, i: Inst) -> InstKind {
    if let Some(k) = inst_kind64(func, i) {
        return k;
    }
    match func.inst(i) {
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

/// i32, i64 and addresses are lowered; floats are not yet.
fn lowered_type(ty: Type) -> bool {
    matches!(ty, Type::I32 | Type::I64 | Type::Addr(_))
}

/// Reports values of types the backend does not lower yet (floats).
fn check_types(func: &Function, inst: Inst) -> Result<(), LowerError> {
    let data = func.inst(inst);
    let mut bad = None;
    data.for_each_arg(|v| {
        let ty = func.value_type(v);
        if !lowered_type(ty) && bad.is_none() {
            bad = Some(ty);
        }
    });
    for &r in func.inst_results(inst) {
        let ty = func.value_type(r);
        if !lowered_type(ty) && bad.is_none() {
            bad = Some(ty);
        }
    }
    if let InstData::Iconst { ty, .. } = data {
        if !lowered_type(*ty) {
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
        let ty = func.value_type(p);
        if !matches!(ty, Type::I32 | Type::I64) {
            return Err(LowerError::unsupported(format!(
                "the Thumb-2 backend cannot lower {ty} parameters yet"
            )));
        }
    }
    if let Some(ty) = func.sig.results.iter().find(|t| !matches!(t, Type::I32 | Type::I64)) {
        return Err(LowerError::unsupported(format!(
            "the Thumb-2 backend cannot return {ty} results yet (signature returns {:?})",
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
        aliases: vec![None; 2 * func.values.len()],
        next_vreg: 2 * func.values.len(),
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
                    Some(Some(r)) => {
                        let Some(&v) = results.first() else {
                            return Err(err_at(func, inst, "internal error: output for an instruction without results".to_string()).into());
                        };
                        if cx.is_i64(v) != r.hi.is_some() {
                            return Err(err_at(func, inst, "internal error: lowering produced the wrong number of registers".to_string()).into());
                        }
                        cx.alias_value(v, r);
                    }
                    // Side effects, and calls (which alias their results).
                    Some(None) => {}
                }
            }
            chunks.push(core::mem::take(&mut cx.cur));
        }
        let blk = &mut vblocks[vb];
        blk.params = func
            .block_params(b)
            .iter()
            .flat_map(|&p| {
                let lo = VReg::new(p.index(), regalloc2::RegClass::Int);
                let hi = (func.value_type(p) == Type::I64)
                    .then(|| VReg::new(func.values.len() + p.index(), regalloc2::RegClass::Int));
                core::iter::once(lo).chain(hi)
            })
            .collect();
        blk.insts = chunks.into_iter().rev().flatten().collect();
    }

    // Synthetic entry: parameters from r0-r3 and the caller's stack.
    {
        let mut insts = Vec::new();
        let mut reg_args = Vec::new();
        let mut args = Vec::new();
        let tys: Vec<Type> = sig_params.iter().map(|&p| func.value_type(p)).collect();
        for loc in aapcs_locations(&tys).into_iter().flatten() {
            let r = cx.fresh();
            match loc {
                ArgLoc::Reg(n) => reg_args.push((r, n)),
                ArgLoc::Stack(offset) => insts.push(MInst::LoadArg {
                    rd: r,
                    slot: offset / 4,
                }),
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
            .flat_map(|&a| cx.value_words(a))
            .map(|r| r.as_virt().unwrap())
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
            let flags = branch_condition(cx, arg);
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
            match flags {
                Flags::Cmp { cond, rn, rhs } => cx.emit(MInst::CondBr {
                    cond,
                    rn,
                    rhs,
                    taken: targets[0],
                    not_taken: targets[1],
                }),
                Flags::Cmp64 { cond, a, b } => {
                    let c = cx.cmp64_operands(a, b);
                    let tmp = cx.fresh();
                    cx.emit(MInst::CondBr64 {
                        cond,
                        c,
                        tmp,
                        taken: targets[0],
                        not_taken: targets[1],
                    })
                }
            }
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
            let tys: Vec<Type> = args.iter().map(|&a| func.value_type(a)).collect();
            let locs = result_locations(&func.sig.params, &tys);
            let mut words = Vec::new();
            for (&a, loc) in args.iter().zip(locs) {
                let regs = cx.value_words(a);
                for (r, l) in regs.into_iter().zip(loc) {
                    match l {
                        ArgLoc::Reg(n) => words.push((r, n)),
                        // One store each: a Ret using them all at once could
                        // need more registers than there are.
                        ArgLoc::Stack(offset) => cx.emit(MInst::StoreResult {
                            rt: r,
                            slot: offset / 4,
                        }),
                    }
                }
            }
            let rets = cx.fixed_uses(&words);
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

/// The comparison for branching on `arg != 0`, fusing an (i32 or i64)
/// comparison that defines `arg` (ISLE's `select_flags`, shared with
/// `select`).
fn branch_condition(cx: &mut Lower<'_>, arg: Value) -> Flags {
    if cx.is_i64(arg) {
        // Not produced from wasm (conditions are i32), but valid IR.
        let r = cx.use_value_regs(arg);
        let hi = cx.regs_hi_or_lo(r);
        let rd = cx.fresh();
        cx.emit(MInst::AluRRR {
            op: DpOp::Orr,
            rd,
            rn: r.lo,
            rm: hi,
            shift: ShiftKind::Lsl,
            amount: 0,
        });
        return Flags::Cmp {
            cond: Cond::Ne,
            rn: rd,
            rhs: Rhs::Imm { imm: 0 },
        };
    }
    generated::constructor_select_flags(cx, arg)
}
