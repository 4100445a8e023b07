//! Concrete Thumb-2 instructions over physical registers: the encoder's
//! input. Each variant is one machine instruction of a fixed encoding size
//! (see [`Asm::size`]); the encoder never picks a different form on its own,
//! so sizes are known before branch offsets are.
//!
//! Branch offsets are byte offsets relative to the branch's PC value
//! (instruction address + 4), as in the ARM ARM.

/// A core register number, 0..=15 (13 = SP, 14 = LR, 15 = PC).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reg(pub u8);

impl Reg {
    pub const SP: Reg = Reg(13);
    pub const LR: Reg = Reg(14);
    pub const PC: Reg = Reg(15);
    pub const R11: Reg = Reg(11);
    pub const R12: Reg = Reg(12);
    pub fn is_low(self) -> bool {
        self.0 < 8
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Cond {
    Eq = 0,
    Ne = 1,
    Hs = 2,
    Lo = 3,
    Mi = 4,
    Pl = 5,
    Vs = 6,
    Vc = 7,
    Hi = 8,
    Ls = 9,
    Ge = 10,
    Lt = 11,
    Gt = 12,
    Le = 13,
}

impl Cond {
    pub fn invert(self) -> Cond {
        use Cond::*;
        match self {
            Eq => Ne,
            Ne => Eq,
            Hs => Lo,
            Lo => Hs,
            Mi => Pl,
            Pl => Mi,
            Vs => Vc,
            Vc => Vs,
            Hi => Ls,
            Ls => Hi,
            Ge => Lt,
            Lt => Ge,
            Gt => Le,
            Le => Gt,
        }
    }
}

/// Data-processing operations that have both register (T2/T3 32-bit) and
/// modified-immediate (T1 32-bit) encodings.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum DpOp {
    And,
    Bic,
    Orr,
    Orn,
    Eor,
    Add,
    Adc,
    Sbc,
    Sub,
    Rsb,
    /// `rn` is ignored (encoded as 0b1111).
    Mov,
    /// `rn` is ignored (encoded as 0b1111).
    Mvn,
    /// Compare forms: `rd` is ignored (encoded as 0b1111) and `s` must be true.
    Tst,
    Teq,
    Cmn,
    Cmp,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ShiftKind {
    Lsl,
    Lsr,
    Asr,
    Ror,
}

/// Immediate shift applied to the second register operand.
/// `amount` is 0..=31 for Lsl/Ror (Ror 0 is invalid: use Lsl 0), 1..=32 for
/// Lsr/Asr.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Shift {
    pub kind: ShiftKind,
    pub amount: u8,
}

impl Shift {
    pub const NONE: Shift = Shift { kind: ShiftKind::Lsl, amount: 0 };
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum MemSize {
    Byte,
    Half,
    Word,
}

/// Two-operand single-precision VFP arithmetic (`v<op>.f32 sd, sn, sm`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum VfpOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// One-operand single-precision VFP operations (`sd = op(sm)`). The
/// float-to-integer conversions are the VCVT forms that round toward zero
/// (independently of FPSCR) and saturate, with NaN giving 0; the
/// integer-to-float ones round as FPSCR says (nearest-even at reset).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum VfpUnaryOp {
    /// `vsqrt.f32`.
    Sqrt,
    /// `vcvt.s32.f32`.
    ToS32,
    /// `vcvt.u32.f32`.
    ToU32,
    /// `vcvt.f32.s32`.
    FromS32,
    /// `vcvt.f32.u32`.
    FromU32,
}

/// VCVT forms with a double-precision side (FPv5-D16, Cortex-M7): to
/// integer rounds toward zero and saturates (NaN gives 0).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum VcvtOp {
    /// `vcvt.s32.f64 sd, dm`.
    F64ToS32,
    /// `vcvt.u32.f64 sd, dm`.
    F64ToU32,
    /// `vcvt.f64.s32 dd, sm`.
    S32ToF64,
    /// `vcvt.f64.u32 dd, sm`.
    U32ToF64,
    /// `vcvt.f64.f32 dd, sm`.
    F32ToF64,
    /// `vcvt.f32.f64 sd, dm`.
    F64ToF32,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Asm {
    /// `op{s}.w rd, rn, rm{, shift}` (32-bit encoding).
    DpReg { op: DpOp, s: bool, rd: Reg, rn: Reg, rm: Reg, shift: Shift },
    /// `op{s}.w rd, rn, #imm` with a Thumb-2 modified immediate; `imm` must
    /// satisfy [`crate::isa::encode::modified_imm`].
    DpImm { op: DpOp, s: bool, rd: Reg, rn: Reg, imm: u32 },
    /// `addw rd, rn, #imm12` / `subw rd, rn, #imm12` (no flags).
    AddW { rd: Reg, rn: Reg, imm12: u16 },
    SubW { rd: Reg, rn: Reg, imm12: u16 },
    /// `movw rd, #imm16` (32-bit).
    MovW { rd: Reg, imm16: u16 },
    /// `movt rd, #imm16`.
    MovT { rd: Reg, imm16: u16 },
    /// Register-controlled shift: `lsl{s}.w rd, rn, rm` etc.
    ShiftReg { kind: ShiftKind, s: bool, rd: Reg, rn: Reg, rm: Reg },
    /// `mul rd, rn, rm` (32-bit T2 encoding, no flags).
    Mul { rd: Reg, rn: Reg, rm: Reg },
    /// `mla rd, rn, rm, ra`: rd = ra + rn*rm.
    Mla { rd: Reg, rn: Reg, rm: Reg, ra: Reg },
    /// `mls rd, rn, rm, ra`: rd = ra - rn*rm.
    Mls { rd: Reg, rn: Reg, rm: Reg, ra: Reg },
    /// `umull rdlo, rdhi, rn, rm`.
    Umull { rdlo: Reg, rdhi: Reg, rn: Reg, rm: Reg },
    /// `smull rdlo, rdhi, rn, rm`.
    Smull { rdlo: Reg, rdhi: Reg, rn: Reg, rm: Reg },
    /// `umlal rdlo, rdhi, rn, rm`.
    Umlal { rdlo: Reg, rdhi: Reg, rn: Reg, rm: Reg },
    Sdiv { rd: Reg, rn: Reg, rm: Reg },
    Udiv { rd: Reg, rn: Reg, rm: Reg },
    Clz { rd: Reg, rm: Reg },
    Rbit { rd: Reg, rm: Reg },
    Rev { rd: Reg, rm: Reg },
    /// `sxtb.w`, `sxth.w`, `uxtb.w`, `uxth.w` (no rotation).
    Sxtb { rd: Reg, rm: Reg },
    Sxth { rd: Reg, rm: Reg },
    Uxtb { rd: Reg, rm: Reg },
    Uxth { rd: Reg, rm: Reg },
    /// Load with immediate offset. `imm` in 0..=4095 uses the T3 (imm12)
    /// form, -255..=-1 the T4 (negative imm8) form. `signed` only with Byte/Half.
    Ldr { size: MemSize, signed: bool, rt: Reg, rn: Reg, imm: i32 },
    /// Store with immediate offset; same immediate ranges as `Ldr`.
    Str { size: MemSize, rt: Reg, rn: Reg, imm: i32 },
    /// `ldr{size}.w rt, [rn, rm, lsl #shift]`, shift 0..=3.
    LdrReg { size: MemSize, signed: bool, rt: Reg, rn: Reg, rm: Reg, shift: u8 },
    StrReg { size: MemSize, rt: Reg, rn: Reg, rm: Reg, shift: u8 },
    /// `ldrd rt, rt2, [rn, #imm]`, imm a multiple of 4 in -1020..=1020.
    Ldrd { rt: Reg, rt2: Reg, rn: Reg, imm: i32 },
    Strd { rt: Reg, rt2: Reg, rn: Reg, imm: i32 },
    /// `push {regs}` / `pop {regs}`: 16-bit form when only r0-r7 plus LR
    /// (push) or PC (pop) are in the mask, else the 32-bit `.w` form. A
    /// single-register 32-bit push/pop is encoded as `str/ldr rt, [sp, #-4]!`
    /// / `[sp], #4` (the T3 form, as assemblers do).
    Push { regs: u16 },
    Pop { regs: u16 },
    /// `sub sp, sp, #imm` / `add sp, sp, #imm` via SUBW/ADDW (imm 0..=4095).
    SubSp { imm: u16 },
    AddSp { imm: u16 },
    /// 16-bit `mov rd, rm` (T1, any registers, no flags).
    MovReg { rd: Reg, rm: Reg },
    /// `b<cond>.w label` (T3, ±1 MiB) or `b.w label` (T4, ±16 MiB) when
    /// `cond` is None.
    BranchW { cond: Option<Cond>, offset: i32 },
    /// 16-bit `b<cond> label` (T1, -256..=254) / `b label` (T2, -2048..=2046).
    BranchN { cond: Option<Cond>, offset: i32 },
    /// `bl label` (±16 MiB).
    Bl { offset: i32 },
    Bx { rm: Reg },
    Blx { rm: Reg },
    /// `cbz/cbnz rn, label`: rn low, offset 0..=126, even.
    Cbz { nonzero: bool, rn: Reg, offset: i32 },
    /// `it` block: `firstcond` and the 4-bit `mask` as encoded (ARM ARM).
    It { firstcond: Cond, mask: u8 },
    /// `tbb [rn, rm]` / `tbh [rn, rm, lsl #1]`.
    Tbb { rn: Reg, rm: Reg },
    Tbh { rn: Reg, rm: Reg },
    /// 16-bit `udf #imm8`: the trap instruction.
    Udf { imm8: u8 },
    /// 16-bit `nop`.
    Nop,
    /// 16-bit `bkpt #imm8`.
    Bkpt { imm8: u8 },
    // ---- Floating-point extension (FPv4-SP / FPv5; S registers s0-s31) ----
    /// `vmov sn, rt`: core register to single-precision register.
    VmovToS { sn: u8, rt: Reg },
    /// `vmov rt, sn`: single-precision register to core register.
    VmovFromS { rt: Reg, sn: u8 },
    /// `v<op>.f32 sd, sn, sm`.
    VArith { op: VfpOp, sd: u8, sn: u8, sm: u8 },
    /// `vsqrt.f32 sd, sm` and the VCVT forms between f32 and 32-bit integers.
    VUnary { op: VfpUnaryOp, sd: u8, sm: u8 },
    /// `vcmp.f32 sd, sm` (quiet compare: sets the FPSCR flags).
    Vcmp { sd: u8, sm: u8 },
    /// `vmrs APSR_nzcv, fpscr`: copies the FPSCR flags to the APSR.
    VmrsApsr,
    // ---- Double precision (FPv5-D16; D registers d0-d15) ----
    /// `vmov dm, rt, rt2`: rt to the low word, rt2 to the high word.
    VmovToD { dm: u8, rt: Reg, rt2: Reg },
    /// `vmov rt, rt2, dm` (rt != rt2).
    VmovFromD { rt: Reg, rt2: Reg, dm: u8 },
    /// `v<op>.f64 dd, dn, dm`.
    VArith64 { op: VfpOp, dd: u8, dn: u8, dm: u8 },
    /// `vsqrt.f64 dd, dm`.
    VSqrt64 { dd: u8, dm: u8 },
    /// `vcmp.f64 dd, dm`.
    Vcmp64 { dd: u8, dm: u8 },
    /// A VCVT with a double-precision operand or result; `d` and `m` are
    /// S or D register numbers as the form says (see [`VcvtOp`]).
    VCvt { op: VcvtOp, d: u8, m: u8 },
}
