//! Lowering driver: walks the IR backwards (so pure values are lowered only
//! when some user needs them in a register, and fused patterns such as
//! compare-and-branch or base+index addressing leave their inputs' defining
//! instructions unlowered), calls the ISLE-generated `lower` for every
//! non-terminator, lowers terminators itself (they need the block layout and
//! critical-edge splitting), and builds the [`VCode`].

use crate::isa::asm::{Cond, DpOp, MemSize, ShiftKind, VcvtOp, VfpOp, VfpUnaryOp};
use crate::isa::encode::modified_imm;
use crate::machinst::{preg, BitOp, BlockIndex, Cmp64, FCmpOps, MInst, Reg, Rhs};
use crate::output::RelocTarget;
use crate::target::{Cpu, ModuleInfo, TargetIsa};
use crate::vcode::{VBlockBuilder, VCode};
use bulkhead_ir::{
    BinaryOp, Block, ConvertOp, FloatBinaryOp, FloatCC, FloatUnaryOp, Function, Inst, InstData,
    IntCC, LoadKind, StoreKind, TrapCode, Type, UnaryOp, Value, ValueDef,
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

/// The registers of one value: one for i32, f32 and addresses, a (low,
/// high) pair for i64 and f64 (like Cranelift's `ValueRegs`).
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
/// `cmp rn, rhs`, a 64-bit ordered comparison of register pairs, or a VFP
/// comparison of two f32 values (`vcmp.f32` + `vmrs`).
#[derive(Copy, Clone, Debug)]
pub enum Flags {
    Cmp { cond: Cond, rn: Reg, rhs: Rhs },
    Cmp64 { cond: Cond, a: ValueRegs, b: ValueRegs },
    Fcmp { cond: Cond, a: Reg, b: Reg },
    /// `vcmp.f64` of two f64 register pairs (double-precision FPU).
    Fcmp64 { cond: Cond, a: ValueRegs, b: ValueRegs },
}

impl Flags {
    /// The condition and operands of a VFP comparison.
    fn fcmp(&self) -> Option<(Cond, FCmpOps)> {
        match *self {
            Flags::Fcmp { cond, a, b } => Some((
                cond,
                FCmpOps {
                    a,
                    ahi: None,
                    b,
                    bhi: None,
                },
            )),
            Flags::Fcmp64 { cond, a, b } => Some((
                cond,
                FCmpOps {
                    a: a.lo,
                    ahi: Some(a.hi.unwrap_or(a.lo)),
                    b: b.lo,
                    bhi: Some(b.hi.unwrap_or(b.lo)),
                },
            )),
            _ => None,
        }
    }
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
    /// The target has a single-precision FPU and uses the AAPCS-VFP
    /// (`TargetIsa::hard_float`): f32 arithmetic, comparisons and
    /// conversions to/from 32-bit integers use VFP instructions, floats
    /// are passed in S/D registers.
    hard_float: bool,
    /// The FPU also does double precision (FPv5-D16: Cortex-M7): f64
    /// add/sub/mul/div/sqrt, comparisons, conversions to/from i32/u32 and
    /// promote/demote are VFP instructions too.
    double_float: bool,
    /// Values read by an already-lowered user (lowering goes backwards).
    used: Vec<bool>,
    /// Value `v`'s register is vreg `v` (the low half for i64/f64, whose
    /// high half is vreg `values.len() + v`); a lowered instruction aliases its
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
    /// A valid function that uses something the backend cannot lower yet;
    /// otherwise a bug.
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

    /// The vreg of the high half of i64/f64 value `v`.
    fn value_vreg_hi(&self, v: Value) -> Reg {
        Reg::virt(self.func.values.len() + v.index())
    }

    /// Whether `v` lives in a register pair (i64, f64).
    fn is_pair(&self, v: Value) -> bool {
        is_pair_type(self.func.value_type(v))
    }

    /// The registers of `v`: a pair for i64 and f64.
    fn use_value_regs(&mut self, v: Value) -> ValueRegs {
        let lo = self.use_value(v);
        if self.is_pair(v) {
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
        let locs = abi_locations(&tys, self.hard_float);
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
    /// call. AAPCS-VFP words go to their S registers last, right before
    /// the call (no MInst in between uses S registers), and come back
    /// right after it.
    fn call_to(&mut self, callee: Callee, args: &[Word], results: &[ArgLoc]) -> Vec<Reg> {
        self.has_calls = true;
        let mut reg_args = Vec::new();
        let mut vfp_args = Vec::new();
        let mut stack_bytes = 0;
        for &(r, loc) in args {
            match loc {
                ArgLoc::Reg(n) => reg_args.push((r, n)),
                ArgLoc::Vfp(s) => vfp_args.push(MInst::VmovToS { s, rm: r }),
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
                ArgLoc::Vfp(s) => loads.insert(0, MInst::VmovFromS { rd: r, s }),
                ArgLoc::Stack(offset) => loads.push(MInst::LoadOutArg { rd: r, offset }),
            }
        }
        for v in vfp_args {
            self.emit(v);
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
    /// Single-precision register s0-s15 (AAPCS-VFP; an f64 in d<n> is the
    /// words s<2n> (low) and s<2n+1> (high)).
    Vfp(u8),
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

/// Whether values of type `ty` live in a register pair.
pub fn is_pair_type(ty: Type) -> bool {
    matches!(ty, Type::I64 | Type::F64)
}

/// The argument locations of the target's procedure call standard:
/// [`aapcs_vfp_locations`] on hard-float targets, else
/// [`aapcs_locations`].
pub fn abi_locations(tys: &[Type], hard_float: bool) -> Vec<Vec<ArgLoc>> {
    if hard_float {
        aapcs_vfp_locations(tys)
    } else {
        aapcs_locations(tys)
    }
}

/// The base AAPCS allocation state: next core register (NCRN) and next
/// stacked argument address (NSAA).
#[derive(Default)]
struct CoreArgs {
    ncrn: u8,
    nsaa: u32,
}

impl CoreArgs {
    /// A 4-byte stack slot.
    fn stack_word(&mut self) -> Vec<ArgLoc> {
        self.nsaa += 4;
        vec![ArgLoc::Stack(self.nsaa - 4)]
    }
    /// An 8-byte aligned 8-byte stack slot.
    fn stack_pair(&mut self) -> Vec<ArgLoc> {
        let at = self.nsaa.next_multiple_of(8);
        self.nsaa = at + 8;
        vec![ArgLoc::Stack(at), ArgLoc::Stack(at + 4)]
    }
    /// A 32-bit value: the next core register, else the stack.
    fn word(&mut self) -> Vec<ArgLoc> {
        if self.ncrn < 4 {
            self.ncrn += 1;
            vec![ArgLoc::Reg(self.ncrn - 1)]
        } else {
            self.stack_word()
        }
    }
    /// A 64-bit value: an even/odd register pair, else (never split) the
    /// stack, after which no argument uses a core register.
    fn pair(&mut self) -> Vec<ArgLoc> {
        self.ncrn += self.ncrn % 2;
        if self.ncrn + 2 <= 4 {
            self.ncrn += 2;
            vec![ArgLoc::Reg(self.ncrn - 2), ArgLoc::Reg(self.ncrn - 1)]
        } else {
            self.ncrn = 4;
            self.stack_pair()
        }
    }
}

/// AAPCS (base standard, §6.5) locations of the words of each value:
/// 32-bit values (i32, f32) take the next core register or the next stack
/// word; 64-bit values (i64, f64) take an even/odd register pair (skipping
/// an odd register) or, once the registers are exhausted, an 8-byte
/// aligned stack slot, and are never split between registers and stack;
/// after the first stack argument no later one uses a register.
pub fn aapcs_locations(tys: &[Type]) -> Vec<Vec<ArgLoc>> {
    let mut core = CoreArgs::default();
    tys.iter()
        .map(|&ty| if is_pair_type(ty) { core.pair() } else { core.word() })
        .collect()
}

/// AAPCS-VFP (procedure call standard §6.1.2, §6.5 with the VFP
/// co-processor rules) locations: f32 takes the lowest free single
/// register of s0-s15 and f64 the lowest free double register of d0-d7
/// (its words s2n, s2n+1), so an f32 can back-fill a single register an
/// f64 skipped; once a float goes to the stack, no later float uses a
/// VFP register. Integers follow [`aapcs_locations`]; both share the
/// stack area in argument order (f64 8-byte aligned).
pub fn aapcs_vfp_locations(tys: &[Type]) -> Vec<Vec<ArgLoc>> {
    let mut core = CoreArgs::default();
    let mut free = [true; 16];
    let mut vfp_exhausted = false;
    let mut out = Vec::with_capacity(tys.len());
    for &ty in tys {
        let words = match ty {
            Type::F32 | Type::F64 => {
                // Singles: any free register; doubles: an aligned free pair.
                let (step, width) = if ty == Type::F64 { (2, 2) } else { (1, 1) };
                let slot = (!vfp_exhausted)
                    .then(|| (0..16).step_by(step).find(|&s| free[s..s + width].iter().all(|&f| f)))
                    .flatten();
                match slot {
                    Some(s) => {
                        free[s..s + width].iter_mut().for_each(|f| *f = false);
                        (s..s + width).map(|r| ArgLoc::Vfp(r as u8)).collect()
                    }
                    None => {
                        vfp_exhausted = true;
                        if ty == Type::F64 {
                            core.stack_pair()
                        } else {
                            core.stack_word()
                        }
                    }
                }
            }
            Type::I64 => core.pair(),
            _ => core.word(),
        };
        out.push(words);
    }
    out
}

/// Where results go: bulkhead assigns results like arguments (AAPCS
/// rules, [`abi_locations`]), so one i32 is in r0 and one i64 in r0:r1 as
/// the AAPCS requires (and with the AAPCS-VFP one f32 in s0, one f64 in
/// d0);
/// several results (wasm multi-value, bulkhead's own convention) take
/// r0-r3 in order (i64 in even pairs) and then stack words in a *result
/// area* the caller reserves in its outgoing-argument area right after the
/// stack arguments (at the 8-aligned end of the argument words). The
/// callee stores them there before returning; the offsets are from SP at
/// the call, i.e. from the callee's incoming-argument base.
pub fn result_locations(params: &[Type], results: &[Type], hard_float: bool) -> Vec<Vec<ArgLoc>> {
    let args_end = abi_locations(params, hard_float)
        .iter()
        .flatten()
        .filter_map(|l| match l {
            ArgLoc::Stack(o) => Some(o + 4),
            ArgLoc::Reg(_) | ArgLoc::Vfp(_) => None,
        })
        .max()
        .unwrap_or(0)
        .next_multiple_of(8);
    abi_locations(results, hard_float)
        .into_iter()
        .map(|words| {
            words
                .into_iter()
                .map(|l| match l {
                    ArgLoc::Stack(o) => ArgLoc::Stack(args_end + o),
                    other => other,
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
        Some(inst_kind(self.func, i, self.hard_float, self.double_float))
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
    fn low_bits_mask_shift(&mut self, x: u32) -> Option<u8> {
        let n = x.trailing_ones();
        let is_low_mask = (1..32).contains(&n) && x.checked_shr(n) == Some(0);
        (is_low_mask && modified_imm(x).is_none() && modified_imm(!x).is_none()).then_some((32 - n) as u8)
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
            Flags::Fcmp { .. } | Flags::Fcmp64 { .. } => {
                let Some((cond, c)) = fl.fcmp() else { unreachable!() };
                let rd = self.fresh();
                self.emit(MInst::FCmpSet { cond, rd, c });
                rd
            }
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
            Flags::Fcmp { .. } | Flags::Fcmp64 { .. } => {
                let Some((cond, c)) = fl.fcmp() else { unreachable!() };
                let rd = self.fresh();
                self.emit(MInst::FCmpSelect {
                    cond,
                    rd,
                    c,
                    rt,
                    rf,
                });
                rd
            }
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
            Flags::Fcmp { .. } | Flags::Fcmp64 { .. } => {
                // No fused form: the 0/1 result, then a trap on non-zero.
                let r = self.cmp_set_flags(fl);
                self.trap_if_cmp(&Cond::Ne, r, &Rhs::Imm { imm: 0 }, code)
            }
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
    fn vfp_arith(&mut self, op: &VfpOp, rn: Reg, rm: Reg) -> Reg {
        let rd = self.fresh();
        self.emit(MInst::VfpArith { op: *op, rd, rn, rm });
        rd
    }
    fn vfp_arith64(&mut self, op: &VfpOp, n: ValueRegs, m: ValueRegs) -> ValueRegs {
        let (dlo, dhi) = (self.fresh(), self.fresh());
        let (nhi, mhi) = (self.regs_hi(n), self.regs_hi(m));
        self.emit(MInst::VfpArith64 {
            op: *op,
            dlo,
            dhi,
            nlo: n.lo,
            nhi,
            mlo: m.lo,
            mhi,
        });
        ValueRegs::pair(dlo, dhi)
    }
    fn vfp_sqrt64(&mut self, m: ValueRegs) -> ValueRegs {
        let (dlo, dhi) = (self.fresh(), self.fresh());
        let mhi = self.regs_hi(m);
        self.emit(MInst::VfpSqrt64 {
            dlo,
            dhi,
            mlo: m.lo,
            mhi,
        });
        ValueRegs::pair(dlo, dhi)
    }
    /// A VCVT with an f64 side; operand and result widths follow `op`.
    fn lower_vfp_cvt(&mut self, op: &VcvtOp, x: Value) -> InstOutput {
        let src = self.use_value_regs(x);
        let rd = self.fresh();
        let rd_hi = matches!(op, VcvtOp::S32ToF64 | VcvtOp::U32ToF64 | VcvtOp::F32ToF64).then(|| self.fresh());
        self.emit(MInst::VfpCvt {
            op: *op,
            rd,
            rd_hi,
            rm: src.lo,
            rm_hi: src.hi,
        });
        Some(match rd_hi {
            Some(hi) => ValueRegs::pair(rd, hi),
            None => ValueRegs::one(rd),
        })
    }
    fn vfp_unary(&mut self, op: &VfpUnaryOp, rm: Reg) -> Reg {
        let rd = self.fresh();
        self.emit(MInst::VfpUnary { op: *op, rd, rm });
        rd
    }
    /// A float operation done by a soft-float runtime routine (see
    /// `bulkhead_softfloat`): floats travel as their bits in core
    /// registers, so the call is an ordinary AAPCS call with i32/i64
    /// words. Comparisons call `fNN_eq/lt/le`: `ne` is `eq ^ 1`, `gt`/`ge`
    /// swap the operands of `lt`/`le`.
    fn lower_softfloat(&mut self, i: Inst) -> InstOutput {
        let func = self.func;
        let prefix = |ty: Type| if ty == Type::F64 { "f64" } else { "f32" };
        let (name, args, negate) = match *func.inst(i) {
            InstData::FBinary { op, args } => {
                let op = match op {
                    FloatBinaryOp::Add => "add",
                    FloatBinaryOp::Sub => "sub",
                    FloatBinaryOp::Mul => "mul",
                    FloatBinaryOp::Div => "div",
                    FloatBinaryOp::Min => "min",
                    FloatBinaryOp::Max => "max",
                    FloatBinaryOp::Copysign => {
                        self.fail("internal error: copysign has no soft-float routine".into());
                        return None;
                    }
                };
                (format!("{}_{op}", prefix(func.value_type(args[0]))), vec![args[0], args[1]], false)
            }
            InstData::FUnary { op, arg } => {
                let op = match op {
                    FloatUnaryOp::Sqrt => "sqrt",
                    FloatUnaryOp::Ceil => "ceil",
                    FloatUnaryOp::Floor => "floor",
                    FloatUnaryOp::Trunc => "trunc",
                    FloatUnaryOp::Nearest => "nearest",
                    FloatUnaryOp::Abs | FloatUnaryOp::Neg => {
                        self.fail("internal error: abs/neg have no soft-float routine".into());
                        return None;
                    }
                };
                (format!("{}_{op}", prefix(func.value_type(arg))), vec![arg], false)
            }
            InstData::Fcmp { cc, args: [x, y] } => {
                let p = prefix(func.value_type(x));
                match cc {
                    FloatCC::Eq => (format!("{p}_eq"), vec![x, y], false),
                    FloatCC::Ne => (format!("{p}_eq"), vec![x, y], true),
                    FloatCC::Lt => (format!("{p}_lt"), vec![x, y], false),
                    FloatCC::Le => (format!("{p}_le"), vec![x, y], false),
                    FloatCC::Gt => (format!("{p}_lt"), vec![y, x], false),
                    FloatCC::Ge => (format!("{p}_le"), vec![y, x], false),
                }
            }
            InstData::Convert { op, to, arg } => {
                let from = func.value_type(arg);
                let int = |ty: Type| if ty == Type::I64 { "64" } else { "32" };
                let name = match op {
                    ConvertOp::FPromote => "f64_promote_f32".to_string(),
                    ConvertOp::FDemote => "f32_demote_f64".to_string(),
                    ConvertOp::SIntToFloat => format!("{}_from_i{}", prefix(to), int(from)),
                    ConvertOp::UIntToFloat => format!("{}_from_u{}", prefix(to), int(from)),
                    ConvertOp::FloatToSIntSat => format!("{}_to_i{}_sat", prefix(from), int(to)),
                    ConvertOp::FloatToUIntSat => format!("{}_to_u{}_sat", prefix(from), int(to)),
                    other => {
                        self.fail(format!("internal error: {other} has no soft-float routine"));
                        return None;
                    }
                };
                (name, vec![arg], false)
            }
            _ => {
                self.fail("internal error: not a soft-float operation".into());
                return None;
            }
        };
        let Some(routine) = crate::runtime::softfloat_routine_name(&name) else {
            self.fail(format!("internal error: no soft-float routine `{name}`"));
            return None;
        };
        let mut words = Vec::new();
        for a in args {
            let r = self.use_value_regs(a);
            words.push(r.lo);
            words.extend(r.hi);
        }
        let Some(&result) = func.inst_results(i).first() else {
            self.fail("internal error: soft-float operation without a result".into());
            return None;
        };
        let pair = self.is_pair(result);
        let out = self.call(RelocTarget::Runtime(routine), &words, if pair { 2 } else { 1 });
        if pair {
            Some(ValueRegs::pair(out[0], out[1]))
        } else if negate {
            Some(ValueRegs::one(self.alu_rri(&DpOp::Eor, out[0], 1)))
        } else {
            Some(ValueRegs::one(out[0]))
        }
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
        let rets = result_locations(&arg_tys, &tys, self.hard_float);
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
    /// Floats (f32 in one register, f64 in a pair; constants, loads,
    /// stores, selects, globals are the integer kinds). `wide`: f64.
    /// Sign-bit operations, which keep NaN payloads.
    FAbs {
        wide: bool,
        x: Value,
    },
    FNeg {
        wide: bool,
        x: Value,
    },
    FCopysign {
        wide: bool,
        x: Value,
        y: Value,
    },
    /// Reinterpretation between an integer and a float of one width: the
    /// same registers.
    Bitcast {
        wide: bool,
        x: Value,
    },
    /// f32 arithmetic on the FPU (hard-float targets).
    VfpBinary {
        op: VfpOp,
        x: Value,
        y: Value,
    },
    /// f32 sqrt and f32 <-> 32-bit integer conversions on the FPU.
    VfpUnary {
        op: VfpUnaryOp,
        x: Value,
    },
    /// f32 comparison on the FPU; `cond` is the APSR condition after
    /// `vcmp` + `vmrs` that is exactly the IEEE predicate.
    VfpCmp {
        cond: Cond,
        x: Value,
        y: Value,
    },
    /// f64 on a double-precision FPU (Cortex-M7).
    VfpBinary64 {
        op: VfpOp,
        x: Value,
        y: Value,
    },
    VfpSqrt64 {
        x: Value,
    },
    VfpCmp64 {
        cond: Cond,
        x: Value,
        y: Value,
    },
    VfpCvt {
        op: VcvtOp,
        x: Value,
    },
    /// A call of a soft-float runtime routine.
    SoftFloat,
    Terminator,
    /// Not lowered yet (no rule matches).
    Unsupported,
}

/// The APSR condition that, after `vcmp.f32 a, b; vmrs APSR_nzcv, fpscr`,
/// holds exactly when `a <cc> b` (ARMv7-M ARM A7.7.229 VCMP: equal sets
/// Z and C, less N, greater C, unordered C and V): each is false when
/// unordered, except `ne`, which is true then as wasm requires.
pub fn float_cond(cc: FloatCC) -> Cond {
    match cc {
        FloatCC::Eq => Cond::Eq,
        FloatCC::Ne => Cond::Ne,
        FloatCC::Lt => Cond::Mi,
        FloatCC::Le => Cond::Ls,
        FloatCC::Gt => Cond::Gt,
        FloatCC::Ge => Cond::Ge,
    }
}

/// The ISLE view of a float instruction, `None` for anything else. With
/// `vfp` (a single-precision FPU), f32 add/sub/mul/div/sqrt, comparisons
/// and conversions between f32 and i32/u32 are VFP instructions; every
/// other float operation calls a soft-float routine.
fn float_inst_kind(func: &Function, i: Inst, vfp: bool, dp: bool) -> Option<InstKind> {
    let ty = |v: Value| func.value_type(v);
    let vfp_op = |op: FloatBinaryOp| match op {
        FloatBinaryOp::Add => VfpOp::Add,
        FloatBinaryOp::Sub => VfpOp::Sub,
        FloatBinaryOp::Mul => VfpOp::Mul,
        _ => VfpOp::Div,
    };
    let arith = |op: FloatBinaryOp| {
        matches!(op, FloatBinaryOp::Add | FloatBinaryOp::Sub | FloatBinaryOp::Mul | FloatBinaryOp::Div)
    };
    Some(match *func.inst(i) {
        // Double precision on FPv5-D16.
        InstData::FUnary {
            op: FloatUnaryOp::Sqrt,
            arg,
        } if dp && ty(arg) == Type::F64 => InstKind::VfpSqrt64 { x: arg },
        InstData::FBinary { op, args: [x, y] } if dp && arith(op) && ty(x) == Type::F64 => {
            InstKind::VfpBinary64 { op: vfp_op(op), x, y }
        }
        InstData::Fcmp { cc, args: [x, y] } if dp && ty(x) == Type::F64 => InstKind::VfpCmp64 {
            cond: float_cond(cc),
            x,
            y,
        },
        InstData::Convert { op, to, arg } if dp => {
            let cvt = match (op, ty(arg), to) {
                (ConvertOp::FloatToSIntSat, Type::F64, Type::I32) => Some(VcvtOp::F64ToS32),
                (ConvertOp::FloatToUIntSat, Type::F64, Type::I32) => Some(VcvtOp::F64ToU32),
                (ConvertOp::SIntToFloat, Type::I32, Type::F64) => Some(VcvtOp::S32ToF64),
                (ConvertOp::UIntToFloat, Type::I32, Type::F64) => Some(VcvtOp::U32ToF64),
                (ConvertOp::FPromote, _, _) => Some(VcvtOp::F32ToF64),
                (ConvertOp::FDemote, _, _) => Some(VcvtOp::F64ToF32),
                _ => None,
            };
            match cvt {
                Some(op) => InstKind::VfpCvt { op, x: arg },
                None => return float_inst_kind(func, i, vfp, false),
            }
        }
        InstData::Fconst { ty: Type::F64, bits } => InstKind::Iconst64 {
            lo: bits as u32,
            hi: (bits >> 32) as u32,
        },
        InstData::Fconst { bits, .. } => InstKind::Iconst { imm: bits as u32 },
        InstData::FUnary {
            op: FloatUnaryOp::Abs,
            arg,
        } => InstKind::FAbs {
            wide: ty(arg) == Type::F64,
            x: arg,
        },
        InstData::FUnary {
            op: FloatUnaryOp::Neg,
            arg,
        } => InstKind::FNeg {
            wide: ty(arg) == Type::F64,
            x: arg,
        },
        InstData::FUnary {
            op: FloatUnaryOp::Sqrt,
            arg,
        } if vfp && ty(arg) == Type::F32 => InstKind::VfpUnary {
            op: VfpUnaryOp::Sqrt,
            x: arg,
        },
        InstData::FBinary {
            op: FloatBinaryOp::Copysign,
            args: [x, y],
        } => InstKind::FCopysign {
            wide: ty(x) == Type::F64,
            x,
            y,
        },
        InstData::FBinary {
            op: op @ (FloatBinaryOp::Add | FloatBinaryOp::Sub | FloatBinaryOp::Mul | FloatBinaryOp::Div),
            args: [x, y],
        } if vfp && ty(x) == Type::F32 => InstKind::VfpBinary {
            op: match op {
                FloatBinaryOp::Add => VfpOp::Add,
                FloatBinaryOp::Sub => VfpOp::Sub,
                FloatBinaryOp::Mul => VfpOp::Mul,
                _ => VfpOp::Div,
            },
            x,
            y,
        },
        InstData::Fcmp { cc, args: [x, y] } if vfp && ty(x) == Type::F32 => InstKind::VfpCmp {
            cond: float_cond(cc),
            x,
            y,
        },
        InstData::Convert {
            op: ConvertOp::Bitcast,
            to,
            arg,
        } => InstKind::Bitcast {
            wide: is_pair_type(to),
            x: arg,
        },
        InstData::Convert { op, to, arg }
            if vfp && matches!((ty(arg), to), (Type::I32, Type::F32) | (Type::F32, Type::I32)) =>
        {
            let op = match op {
                ConvertOp::SIntToFloat => VfpUnaryOp::FromS32,
                ConvertOp::UIntToFloat => VfpUnaryOp::FromU32,
                ConvertOp::FloatToSIntSat => VfpUnaryOp::ToS32,
                ConvertOp::FloatToUIntSat => VfpUnaryOp::ToU32,
                // Bitcast (the only other i32 <-> f32 conversion).
                _ => return float_inst_kind(func, i, false, false),
            };
            InstKind::VfpUnary { op, x: arg }
        }
        InstData::Convert {
            op:
                ConvertOp::FDemote
                | ConvertOp::FPromote
                | ConvertOp::SIntToFloat
                | ConvertOp::UIntToFloat
                | ConvertOp::FloatToSIntSat
                | ConvertOp::FloatToUIntSat,
            ..
        }
        | InstData::FUnary { .. }
        | InstData::FBinary { .. }
        | InstData::Fcmp { .. } => InstKind::SoftFloat,
        _ => return None,
    })
}

/// The ISLE view of an instruction on register pairs (one whose first
/// operand or result is an i64 or f64), `None` for anything else.
fn inst_kind64(func: &Function, i: Inst) -> Option<InstKind> {
    let is64 = |v: Value| is_pair_type(func.value_type(v));
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
        } if is_pair_type(kind.ty()) => InstKind::Load64 {
            kind: *kind,
            addr: *addr,
            offset: *offset,
        },
        InstData::Store {
            kind, args, offset, ..
        } if is_pair_type(kind.ty()) => InstKind::Store64 {
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

fn inst_kind(func: &Function, i: Inst, vfp: bool, dp: bool) -> InstKind {
    if let Some(k) = float_inst_kind(func, i, vfp, dp) {
        return k;
    }
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
        } if matches!(kind.ty(), Type::I32 | Type::F32) => InstKind::Load {
            kind: *kind,
            addr: *addr,
            offset: *offset,
        },
        InstData::Store {
            kind, args, offset, ..
        } if matches!(kind.ty(), Type::I32 | Type::F32) => InstKind::Store {
            kind: *kind,
            addr: args[0],
            value: args[1],
            offset: *offset,
        },
        InstData::Load { .. } | InstData::Store { .. } => InstKind::Unsupported,
        // Every float instruction has a kind above; integer conversions
        // are in inst_kind64.
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

/// The value types the backend lowers (all of them, today).
fn lowered_type(ty: Type) -> bool {
    matches!(ty, Type::I32 | Type::I64 | Type::F32 | Type::F64 | Type::Addr(_))
}

/// Reports values of types the backend does not lower.
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
    isa: &TargetIsa,
) -> Result<Lowered, LowerError> {
    let hard_float = isa.hard_float;
    // Like LLVM's and GCC's `-mcpu=cortex-m7`, bulkhead's Cortex-M7 has
    // the double-precision FPv5-D16 (an M7 with only single precision is
    // targeted as cortex-m4f, whose FPv4-SP instructions it has).
    let double_float = hard_float && isa.cpu == Cpu::CortexM7;
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
        if !matches!(ty, Type::I32 | Type::I64 | Type::F32 | Type::F64) {
            return Err(format!("parameter of type {ty}: not a wasm value type").into());
        }
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
        hard_float,
        double_float,
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
                        if cx.is_pair(v) != r.hi.is_some() {
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
                let hi = is_pair_type(func.value_type(p))
                    .then(|| VReg::new(func.values.len() + p.index(), regalloc2::RegClass::Int));
                core::iter::once(lo).chain(hi)
            })
            .collect();
        blk.insts = chunks.into_iter().rev().flatten().collect();
    }

    // Synthetic entry: parameters from r0-r3, s0-s15 (AAPCS-VFP) and the
    // caller's stack. The S registers are read first, before anything
    // could use them as scratch.
    {
        let mut insts = Vec::new();
        let mut vfp = Vec::new();
        let mut reg_args = Vec::new();
        let mut args = Vec::new();
        let tys: Vec<Type> = sig_params.iter().map(|&p| func.value_type(p)).collect();
        for loc in abi_locations(&tys, hard_float).into_iter().flatten() {
            let r = cx.fresh();
            match loc {
                ArgLoc::Reg(n) => reg_args.push((r, n)),
                ArgLoc::Vfp(s) => vfp.push(MInst::VmovFromS { rd: r, s }),
                ArgLoc::Stack(offset) => insts.push(MInst::LoadArg {
                    rd: r,
                    slot: offset / 4,
                }),
            }
            args.push(r.as_virt().unwrap());
        }
        insts.splice(0..0, vfp);
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
                Flags::Fcmp { .. } | Flags::Fcmp64 { .. } => {
                    let Some((cond, c)) = flags.fcmp() else { unreachable!() };
                    cx.emit(MInst::FCondBr {
                        cond,
                        c,
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
            let locs = result_locations(&func.sig.params, &tys, cx.hard_float);
            let mut words = Vec::new();
            let mut vfp = Vec::new();
            for (&a, loc) in args.iter().zip(locs) {
                let regs = cx.value_words(a);
                for (r, l) in regs.into_iter().zip(loc) {
                    match l {
                        ArgLoc::Reg(n) => words.push((r, n)),
                        // Last before the return (see `call_to`).
                        ArgLoc::Vfp(s) => vfp.push(MInst::VmovToS { s, rm: r }),
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
            for v in vfp {
                cx.emit(v);
            }
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
    if cx.is_pair(arg) {
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
