//! Thumb-2 encoder for [`Asm`], its unified-syntax printer, and the
//! branch-range helpers the MachBuffer uses to pick and relax branch forms.
//!
//! Every encoding follows the ARMv7-M Architecture Reference Manual (the
//! Thumb-2 subset that ARMv8-M Mainline keeps unchanged). Operands that the
//! manual marks UNPREDICTABLE or that would turn the bit pattern into a
//! *different* instruction (e.g. `rd = pc` with S set turning ADD into CMN,
//! `rn = pc` turning a load into a literal load) are rejected with an
//! [`EncodeError`] rather than encoded.
//!
//! # Byte order
//!
//! [`Asm::encode`] appends little-endian halfwords in fetch order: a 32-bit
//! instruction is its first halfword (the one holding `0b11101`/`0b1111x` in
//! its top bits) followed by its second halfword.
//!
//! # Printed syntax
//!
//! `Display` prints ARM unified assembler language (UAL) that `llvm-mc`
//! assembles to exactly the bytes [`Asm::encode`] produces:
//!
//! * 32-bit forms that also have a 16-bit encoding carry `.w` (`add.w`,
//!   `ldr.w`, `push.w`, `b.w`, ...). Mnemonics that only exist as 32-bit
//!   instructions (`mul`, `mla`, `sdiv`, `umull`, `ldrd`, `addw`, `movw`, ...)
//!   are printed without it, since LLVM 14 rejects `.w` on them; likewise the
//!   negative-offset load/store form (`ldr r0, [r1, #-4]`) and ADC/SBC with
//!   an immediate (`adc r0, r1, #1`), which have no 16-bit sibling and for
//!   which LLVM rejects `.w`.
//! * MOV with a shifted register prints as the shift instruction
//!   (`lsl.w r0, r1, #3`), as in UAL; the register-shift form is
//!   `lsl.w r0, r1, r2`. PUSH/POP of a single high register prints as
//!   `push.w {r8}`, which assemblers encode as `str r8, [sp, #-4]!` (T3).
//! * Branch targets are printed as `#<offset>`, the byte offset relative to
//!   the branch's PC value (instruction address + 4), exactly the `offset`
//!   field of the variant: `b.w #-8`, `beq #254`, `bl #1024`,
//!   `cbz r0, #12`. llvm-mc (and LLVM's integrated assembler) reads an
//!   immediate branch operand this way, so the text is position independent
//!   and needs no labels. GNU as does *not*: it takes the immediate as a
//!   target address, so assemble `--emit asm` output with llvm-mc.
//! * Immediates below 256 are decimal, larger ones hexadecimal.
//!
//! Instructions inside an IT block must carry their condition in UAL; use
//! [`Asm::display_predicated`] for those.

use core::fmt;

use super::asm::{Asm, Cond, DpOp, MemSize, Reg, Shift, ShiftKind, VcvtOp, VfpOp, VfpUnaryOp};

// ---------------------------------------------------------------------------
// Modified immediates
// ---------------------------------------------------------------------------

/// The 12-bit `i:imm3:imm8` Thumb-2 modified-immediate field that expands
/// (ThumbExpandImm) to `value`, or `None` if `value` has no such encoding.
///
/// Values below 256 and the byte-splat patterns are preferred over a rotated
/// byte, which is the choice assemblers make, so the result is canonical.
pub fn modified_imm(value: u32) -> Option<u16> {
    if value < 0x100 {
        return Some(value as u16);
    }
    let byte = value & 0xFF;
    if value == byte * 0x0001_0001 {
        // 0x00XY00XY
        return Some(0x100 | byte as u16);
    }
    let byte1 = (value >> 8) & 0xFF;
    if value == byte1 * 0x0100_0100 {
        // 0xXY00XY00
        return Some(0x200 | byte1 as u16);
    }
    if value == byte * 0x0101_0101 {
        // 0xXYXYXYXY
        return Some(0x300 | byte as u16);
    }
    // Otherwise `value` must be an 8-bit pattern `1bcdefgh` rotated right by
    // 8..=31 bits. Its top set bit is bit 7 of the pattern, which lands at
    // position 39 - rotation; the rotation fixes everything else.
    let top = 31 - value.leading_zeros(); // value >= 256, so top >= 8
    let rotation = 39 - top; // top in 8..=31 => rotation in 8..=31
    let unrotated = value.rotate_left(rotation);
    if unrotated <= 0xFF {
        debug_assert!(unrotated & 0x80 != 0);
        Some(((rotation as u16) << 7) | (unrotated as u16 & 0x7F))
    } else {
        None
    }
}

/// ThumbExpandImm: the 32-bit value a 12-bit modified-immediate field
/// denotes, or `None` for the UNPREDICTABLE patterns (splat forms with a zero
/// byte, and `imm12 > 0xFFF`).
pub fn thumb_expand_imm(imm12: u16) -> Option<u32> {
    if imm12 > 0xFFF {
        return None;
    }
    let imm8 = u32::from(imm12 & 0xFF);
    if imm12 >> 10 == 0 {
        if (imm12 >> 8) != 0 && imm8 == 0 {
            return None;
        }
        Some(match (imm12 >> 8) & 3 {
            0 => imm8,
            1 => imm8 * 0x0001_0001,
            2 => imm8 * 0x0100_0100,
            _ => imm8 * 0x0101_0101,
        })
    } else {
        let unrotated = 0x80 | u32::from(imm12 & 0x7F);
        Some(unrotated.rotate_right(u32::from(imm12 >> 7)))
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Why an [`Asm`] cannot be encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncodeErrorKind {
    /// An immediate (or branch offset) outside the form's range, or not a
    /// multiple of the required alignment.
    ImmediateOutOfRange {
        operand: &'static str,
        value: i64,
        /// Human-readable description of the legal values.
        allowed: &'static str,
    },
    /// A register the form does not allow in that position (UNPREDICTABLE,
    /// or would select a different instruction).
    RegisterNotAllowed {
        operand: &'static str,
        reg: Reg,
        why: &'static str,
    },
    /// A register number above 15.
    NoSuchRegister { operand: &'static str, reg: Reg },
    /// A PUSH/POP register list the instruction cannot hold.
    BadRegisterList { regs: u16, why: &'static str },
    /// Any other operand combination the form does not have.
    InvalidOperands(&'static str),
}

/// An instruction that cannot be encoded, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodeError {
    /// The instruction as printed by `Display` (may not be valid assembly,
    /// since it failed to encode).
    pub instruction: String,
    pub kind: EncodeErrorKind,
}

impl fmt::Display for EncodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeErrorKind::ImmediateOutOfRange {
                operand,
                value,
                allowed,
            } => {
                write!(f, "{operand} {value} out of range (allowed: {allowed})")
            }
            EncodeErrorKind::RegisterNotAllowed { operand, reg, why } => {
                write!(
                    f,
                    "register {} not allowed as {operand}: {why}",
                    RegName(*reg)
                )
            }
            EncodeErrorKind::NoSuchRegister { operand, reg } => {
                write!(
                    f,
                    "{operand} is r{}, which does not exist (registers are r0-r15)",
                    reg.0
                )
            }
            EncodeErrorKind::BadRegisterList { regs, why } => {
                write!(
                    f,
                    "register list {} ({regs:#06x}) not encodable: {why}",
                    RegList(*regs)
                )
            }
            EncodeErrorKind::InvalidOperands(why) => f.write_str(why),
        }
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot encode `{}`: {}", self.instruction, self.kind)
    }
}

impl std::error::Error for EncodeError {}

type EResult<T> = Result<T, EncodeErrorKind>;

const UNPRED: &str = "UNPREDICTABLE in this encoding";

fn exists(operand: &'static str, r: Reg) -> EResult<u16> {
    if r.0 <= 15 {
        Ok(u16::from(r.0))
    } else {
        Err(EncodeErrorKind::NoSuchRegister { operand, reg: r })
    }
}

/// A register that may be anything but SP and PC (the ARM ARM's `BadReg`).
fn not_sp_pc(operand: &'static str, r: Reg) -> EResult<u16> {
    let n = exists(operand, r)?;
    if n == 13 || n == 15 {
        return Err(EncodeErrorKind::RegisterNotAllowed {
            operand,
            reg: r,
            why: "SP and PC are UNPREDICTABLE here",
        });
    }
    Ok(n)
}

fn not_pc(operand: &'static str, r: Reg, why: &'static str) -> EResult<u16> {
    let n = exists(operand, r)?;
    if n == 15 {
        return Err(EncodeErrorKind::RegisterNotAllowed {
            operand,
            reg: r,
            why,
        });
    }
    Ok(n)
}

fn not_sp(operand: &'static str, r: Reg, why: &'static str) -> EResult<u16> {
    let n = exists(operand, r)?;
    if n == 13 {
        return Err(EncodeErrorKind::RegisterNotAllowed {
            operand,
            reg: r,
            why,
        });
    }
    Ok(n)
}

fn imm_range(
    operand: &'static str,
    value: i64,
    lo: i64,
    hi: i64,
    allowed: &'static str,
) -> EResult<()> {
    if value < lo || value > hi {
        Err(EncodeErrorKind::ImmediateOutOfRange {
            operand,
            value,
            allowed,
        })
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Branch ranges
// ---------------------------------------------------------------------------

/// The branch encodings, for range checks and relaxation in the MachBuffer.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum BranchForm {
    /// 16-bit `b<cond>` (T1): -256..=254.
    NarrowCond,
    /// 16-bit `b` (T2): -2048..=2046.
    NarrowUncond,
    /// 32-bit `b<cond>.w` (T3): -1048576..=1048574 (±1 MiB).
    WideCond,
    /// 32-bit `b.w` (T4): -16777216..=16777214 (±16 MiB).
    WideUncond,
    /// `bl` (T1): -16777216..=16777214.
    Bl,
    /// 16-bit `cbz`/`cbnz`: 0..=126 (forward only).
    Cbz,
}

impl BranchForm {
    /// Inclusive byte-offset range (relative to the branch's PC, i.e. its
    /// address + 4). Offsets must also be even.
    pub const fn range(self) -> (i32, i32) {
        match self {
            BranchForm::NarrowCond => (-256, 254),
            BranchForm::NarrowUncond => (-2048, 2046),
            BranchForm::WideCond => (-(1 << 20), (1 << 20) - 2),
            BranchForm::WideUncond | BranchForm::Bl => (-(1 << 24), (1 << 24) - 2),
            BranchForm::Cbz => (0, 126),
        }
    }

    /// Encoded size in bytes.
    pub const fn size(self) -> u32 {
        match self {
            BranchForm::NarrowCond | BranchForm::NarrowUncond | BranchForm::Cbz => 2,
            BranchForm::WideCond | BranchForm::WideUncond | BranchForm::Bl => 4,
        }
    }

    /// Whether `offset` (bytes, relative to PC = address + 4) is encodable.
    pub const fn in_range(self, offset: i64) -> bool {
        let (lo, hi) = self.range();
        offset % 2 == 0 && offset >= lo as i64 && offset <= hi as i64
    }

    fn allowed_text(self) -> &'static str {
        match self {
            BranchForm::NarrowCond => "even, -256..=254",
            BranchForm::NarrowUncond => "even, -2048..=2046",
            BranchForm::WideCond => "even, -1048576..=1048574",
            BranchForm::WideUncond | BranchForm::Bl => "even, -16777216..=16777214",
            BranchForm::Cbz => "even, 0..=126",
        }
    }
}

/// Whether a branch of `form` can reach `offset` (bytes from its PC value,
/// the instruction address + 4).
pub const fn branch_in_range(form: BranchForm, offset: i64) -> bool {
    form.in_range(offset)
}

fn branch_offset_check(form: BranchForm, offset: i32) -> EResult<i32> {
    if form.in_range(offset as i64) {
        Ok(offset)
    } else {
        Err(EncodeErrorKind::ImmediateOutOfRange {
            operand: "branch offset",
            value: offset as i64,
            allowed: form.allowed_text(),
        })
    }
}

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

/// One encoded instruction, as halfwords in fetch order.
enum Enc {
    Narrow(u16),
    Wide(u16, u16),
}

/// `op` field (bits 8:5 of the first halfword) shared by the
/// data-processing (shifted register) and (modified immediate) groups.
fn dp_opcode(op: DpOp) -> u16 {
    match op {
        DpOp::And | DpOp::Tst => 0b0000,
        DpOp::Bic => 0b0001,
        DpOp::Orr | DpOp::Mov => 0b0010,
        DpOp::Orn | DpOp::Mvn => 0b0011,
        DpOp::Eor | DpOp::Teq => 0b0100,
        DpOp::Add | DpOp::Cmn => 0b1000,
        DpOp::Adc => 0b1010,
        DpOp::Sbc => 0b1011,
        DpOp::Sub | DpOp::Cmp => 0b1101,
        DpOp::Rsb => 0b1110,
    }
}

fn is_compare(op: DpOp) -> bool {
    matches!(op, DpOp::Tst | DpOp::Teq | DpOp::Cmn | DpOp::Cmp)
}

/// Checks the shift and returns its (type, imm5) fields.
fn shift_fields(shift: Shift) -> EResult<(u16, u16)> {
    let amount = i64::from(shift.amount);
    let (ty, imm5) = match shift.kind {
        ShiftKind::Lsl => {
            imm_range("LSL shift amount", amount, 0, 31, "0..=31")?;
            (0, shift.amount)
        }
        ShiftKind::Lsr => {
            imm_range("LSR shift amount", amount, 1, 32, "1..=32")?;
            (1, shift.amount & 31)
        }
        ShiftKind::Asr => {
            imm_range("ASR shift amount", amount, 1, 32, "1..=32")?;
            (2, shift.amount & 31)
        }
        ShiftKind::Ror => {
            // ROR #0 is RRX, which `Shift` does not express.
            imm_range("ROR shift amount", amount, 1, 31, "1..=31")?;
            (3, shift.amount)
        }
    };
    Ok((ty, u16::from(imm5)))
}

/// Register operands of a data-processing instruction (register or
/// immediate form), checked per the ARM ARM. Returns the (Rd, Rn) fields.
/// `rm_ok_shift` is `Some(shift)` for the register form, used for the
/// SP-relative ADD/SUB rule.
fn dp_regs(op: DpOp, s: bool, rd: Reg, rn: Reg, shift: Option<Shift>) -> EResult<(u16, u16)> {
    const SP_PC_DEST: &str =
        "SP/PC as destination is UNPREDICTABLE (PC with S set selects a compare)";
    if is_compare(op) && !s {
        return Err(EncodeErrorKind::InvalidOperands(
            "compare operations (tst/teq/cmn/cmp) always set flags: `s` must be true",
        ));
    }
    match op {
        DpOp::And | DpOp::Eor | DpOp::Bic | DpOp::Adc | DpOp::Sbc | DpOp::Rsb => {
            let d = not_sp_pc("rd", rd)?;
            let n = not_sp_pc("rn", rn)?;
            Ok((d, n))
        }
        DpOp::Orr | DpOp::Orn => {
            let d = not_sp_pc("rd", rd)?;
            let n = not_sp("rn", rn, UNPRED)?;
            let n = not_pc("rn", Reg(n as u8), "rn = PC selects MOV/MVN")?;
            Ok((d, n))
        }
        DpOp::Mov | DpOp::Mvn => {
            let d = exists("rd", rd)?;
            Ok((d, 15))
        }
        DpOp::Add | DpOp::Sub => {
            let n = not_pc("rn", rn, UNPRED)?;
            if n == 13 {
                // ADD/SUB (SP plus/minus immediate/register).
                let d = not_pc("rd", rd, SP_PC_DEST)?;
                if d == 13 {
                    if let Some(sh) = shift {
                        if !(sh.kind == ShiftKind::Lsl && sh.amount <= 3) {
                            return Err(EncodeErrorKind::InvalidOperands(
                                "SP = SP +/- register only allows LSL #0..=3 (UNPREDICTABLE otherwise)",
                            ));
                        }
                    }
                }
                Ok((d, n))
            } else {
                let d = exists("rd", rd)?;
                if d == 13 || d == 15 {
                    return Err(EncodeErrorKind::RegisterNotAllowed {
                        operand: "rd",
                        reg: rd,
                        why: SP_PC_DEST,
                    });
                }
                Ok((d, n))
            }
        }
        DpOp::Tst | DpOp::Teq => Ok((15, not_sp_pc("rn", rn)?)),
        DpOp::Cmn | DpOp::Cmp => Ok((15, not_pc("rn", rn, UNPRED)?)),
    }
}

fn mem_rt_load(size: MemSize, rt: Reg) -> EResult<u16> {
    match size {
        // LDR to PC is an interworking branch; LDR to SP is allowed.
        MemSize::Word => exists("rt", rt),
        // Rt = PC selects PLD/PLI/hints; Rt = SP is UNPREDICTABLE.
        MemSize::Byte | MemSize::Half => not_sp_pc("rt", rt),
    }
}

fn mem_rt_store(size: MemSize, rt: Reg) -> EResult<u16> {
    match size {
        MemSize::Word => not_pc("rt", rt, UNPRED),
        MemSize::Byte | MemSize::Half => not_sp_pc("rt", rt),
    }
}

/// First halfword of the load/store single group without Rn:
/// `1111100 S 1 ss L 0000` for the imm12 form (`imm12 = true`), and the same
/// with bit 7 clear for the imm8/register forms.
fn ldst_hw1(size: MemSize, signed: bool, load: bool, imm12: bool) -> u16 {
    let ss = match size {
        MemSize::Byte => 0b00,
        MemSize::Half => 0b01,
        MemSize::Word => 0b10,
    };
    0xF800 | (u16::from(signed) << 8) | (u16::from(imm12) << 7) | (ss << 5) | (u16::from(load) << 4)
}

fn check_signed(size: MemSize, signed: bool) -> EResult<()> {
    if signed && size == MemSize::Word {
        Err(EncodeErrorKind::InvalidOperands(
            "`signed` is only meaningful for byte and halfword loads",
        ))
    } else {
        Ok(())
    }
}

/// Splits a 12-bit immediate into the `i`, `imm3`, `imm8` fields placed at
/// their positions in the first (i: bit 10) and second (imm3: 14:12, imm8:
/// 7:0) halfwords.
fn split_i_imm3_imm8(imm12: u16) -> (u16, u16) {
    let i = (imm12 >> 11) & 1;
    let imm3 = (imm12 >> 8) & 7;
    let imm8 = imm12 & 0xFF;
    (i << 10, (imm3 << 12) | imm8)
}

impl Asm {
    /// Encoded size in bytes (2 or 4). Determined by the variant alone (and
    /// the register mask for PUSH/POP), never by operand values that may
    /// change later, such as branch offsets.
    pub fn size(&self) -> u32 {
        match self {
            Asm::BranchN { .. }
            | Asm::MovReg { .. }
            | Asm::Bx { .. }
            | Asm::Blx { .. }
            | Asm::Cbz { .. }
            | Asm::It { .. }
            | Asm::Udf { .. }
            | Asm::Nop
            | Asm::Bkpt { .. } => 2,
            Asm::Push { regs } if push_is_narrow(*regs) => 2,
            Asm::Pop { regs } if pop_is_narrow(*regs) => 2,
            _ => 4,
        }
    }

    /// The branch form of a PC-relative branch, or `None` for other
    /// instructions (including `bx`/`blx`, `tbb`/`tbh`).
    pub fn branch_form(&self) -> Option<BranchForm> {
        match self {
            Asm::BranchN { cond: Some(_), .. } => Some(BranchForm::NarrowCond),
            Asm::BranchN { cond: None, .. } => Some(BranchForm::NarrowUncond),
            Asm::BranchW { cond: Some(_), .. } => Some(BranchForm::WideCond),
            Asm::BranchW { cond: None, .. } => Some(BranchForm::WideUncond),
            Asm::Bl { .. } => Some(BranchForm::Bl),
            Asm::Cbz { .. } => Some(BranchForm::Cbz),
            _ => None,
        }
    }

    /// The offset of a PC-relative branch.
    pub fn branch_offset(&self) -> Option<i32> {
        match self {
            Asm::BranchN { offset, .. }
            | Asm::BranchW { offset, .. }
            | Asm::Bl { offset }
            | Asm::Cbz { offset, .. } => Some(*offset),
            _ => None,
        }
    }

    /// Sets the offset of a PC-relative branch (for fixups). Returns `false`
    /// (and changes nothing) if `self` is not one. Range is checked by
    /// [`Asm::encode`] (or beforehand with [`branch_in_range`]).
    pub fn set_branch_offset(&mut self, new_offset: i32) -> bool {
        match self {
            Asm::BranchN { offset, .. }
            | Asm::BranchW { offset, .. }
            | Asm::Bl { offset }
            | Asm::Cbz { offset, .. } => {
                *offset = new_offset;
                true
            }
            _ => false,
        }
    }

    /// Appends the instruction's bytes to `out`. On error nothing is
    /// appended.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self.encoding() {
            Ok(Enc::Narrow(h)) => {
                debug_assert_eq!(self.size(), 2);
                out.extend_from_slice(&h.to_le_bytes());
                Ok(())
            }
            Ok(Enc::Wide(h1, h2)) => {
                debug_assert_eq!(self.size(), 4);
                out.extend_from_slice(&h1.to_le_bytes());
                out.extend_from_slice(&h2.to_le_bytes());
                Ok(())
            }
            Err(kind) => Err(EncodeError {
                instruction: self.to_string(),
                kind,
            }),
        }
    }

    fn encoding(&self) -> EResult<Enc> {
        use Enc::{Narrow, Wide};
        Ok(match *self {
            Asm::DpReg {
                op,
                s,
                rd,
                rn,
                rm,
                shift,
            } => {
                let (ty, imm5) = shift_fields(shift)?;
                let m = exists("rm", rm)?;
                let (d, n) = dp_regs(op, s, rd, rn, Some(shift))?;
                // Register rules beyond dp_regs that only the register form has.
                match op {
                    DpOp::Mov if shift == Shift::NONE && !s => {
                        // MOV (register) T3 without flags: SP allowed, but not
                        // SP to SP, and never PC.
                        not_pc("rd", rd, UNPRED)?;
                        not_pc("rm", rm, UNPRED)?;
                        if d == 13 && m == 13 {
                            return Err(EncodeErrorKind::InvalidOperands(
                                "mov.w sp, sp is UNPREDICTABLE",
                            ));
                        }
                    }
                    DpOp::Mov | DpOp::Mvn => {
                        not_sp_pc("rd", rd)?;
                        not_sp_pc("rm", rm)?;
                    }
                    _ => {
                        not_sp_pc("rm", rm)?;
                    }
                }
                let h1 = 0xEA00 | (dp_opcode(op) << 5) | (u16::from(s) << 4) | n;
                let h2 = ((imm5 >> 2) << 12) | (d << 8) | ((imm5 & 3) << 6) | (ty << 4) | m;
                Wide(h1, h2)
            }
            Asm::DpImm { op, s, rd, rn, imm } => {
                let (d, n) = dp_regs(op, s, rd, rn, None)?;
                if matches!(op, DpOp::Mov | DpOp::Mvn) {
                    not_sp_pc("rd", rd)?;
                }
                let imm12 = modified_imm(imm).ok_or(EncodeErrorKind::ImmediateOutOfRange {
                    operand: "immediate",
                    value: i64::from(imm),
                    allowed: "a Thumb-2 modified immediate (rotated 8-bit value or byte splat)",
                })?;
                let (i, lo) = split_i_imm3_imm8(imm12);
                let h1 = 0xF000 | i | (dp_opcode(op) << 5) | (u16::from(s) << 4) | n;
                Wide(h1, lo | (d << 8))
            }
            Asm::AddW { rd, rn, imm12 } | Asm::SubW { rd, rn, imm12 } => {
                let n = not_pc("rn", rn, "rn = PC selects ADR")?;
                let d = if n == 13 {
                    not_pc("rd", rd, UNPRED)?
                } else {
                    not_sp_pc("rd", rd)?
                };
                imm_range("imm12", i64::from(imm12), 0, 4095, "0..=4095")?;
                let (i, lo) = split_i_imm3_imm8(imm12);
                let base = if matches!(self, Asm::AddW { .. }) {
                    0xF200
                } else {
                    0xF2A0
                };
                Wide(base | i | n, lo | (d << 8))
            }
            Asm::SubSp { imm } | Asm::AddSp { imm } => {
                imm_range("immediate", i64::from(imm), 0, 4095, "0..=4095")?;
                let (i, lo) = split_i_imm3_imm8(imm);
                let base = if matches!(self, Asm::AddSp { .. }) {
                    0xF200
                } else {
                    0xF2A0
                };
                Wide(base | i | 13, lo | (13 << 8))
            }
            Asm::MovW { rd, imm16 } | Asm::MovT { rd, imm16 } => {
                let d = not_sp_pc("rd", rd)?;
                let base = if matches!(self, Asm::MovW { .. }) {
                    0xF240
                } else {
                    0xF2C0
                };
                let (i, lo) = split_i_imm3_imm8(imm16 & 0xFFF);
                Wide(base | i | (imm16 >> 12), lo | (d << 8))
            }
            Asm::ShiftReg {
                kind,
                s,
                rd,
                rn,
                rm,
            } => {
                let ty = match kind {
                    ShiftKind::Lsl => 0,
                    ShiftKind::Lsr => 1,
                    ShiftKind::Asr => 2,
                    ShiftKind::Ror => 3,
                };
                let d = not_sp_pc("rd", rd)?;
                let n = not_sp_pc("rn", rn)?;
                let m = not_sp_pc("rm", rm)?;
                Wide(
                    0xFA00 | (ty << 5) | (u16::from(s) << 4) | n,
                    0xF000 | (d << 8) | m,
                )
            }
            Asm::Mul { rd, rn, rm } => {
                let (d, n, m) = (
                    not_sp_pc("rd", rd)?,
                    not_sp_pc("rn", rn)?,
                    not_sp_pc("rm", rm)?,
                );
                Wide(0xFB00 | n, 0xF000 | (d << 8) | m)
            }
            Asm::Mla { rd, rn, rm, ra } | Asm::Mls { rd, rn, rm, ra } => {
                let (d, n, m) = (
                    not_sp_pc("rd", rd)?,
                    not_sp_pc("rn", rn)?,
                    not_sp_pc("rm", rm)?,
                );
                // Ra = PC would select MUL / be UNDEFINED.
                let a = not_sp_pc("ra", ra)?;
                let op = if matches!(self, Asm::Mls { .. }) {
                    0x10
                } else {
                    0
                };
                Wide(0xFB00 | n, (a << 12) | (d << 8) | op | m)
            }
            Asm::Umull { rdlo, rdhi, rn, rm }
            | Asm::Smull { rdlo, rdhi, rn, rm }
            | Asm::Umlal { rdlo, rdhi, rn, rm } => {
                let lo = not_sp_pc("rdlo", rdlo)?;
                let hi = not_sp_pc("rdhi", rdhi)?;
                let (n, m) = (not_sp_pc("rn", rn)?, not_sp_pc("rm", rm)?);
                if lo == hi {
                    return Err(EncodeErrorKind::InvalidOperands(
                        "rdlo and rdhi must differ (UNPREDICTABLE)",
                    ));
                }
                let base = match self {
                    Asm::Smull { .. } => 0xFB80,
                    Asm::Umull { .. } => 0xFBA0,
                    _ => 0xFBE0,
                };
                Wide(base | n, (lo << 12) | (hi << 8) | m)
            }
            Asm::Sdiv { rd, rn, rm } | Asm::Udiv { rd, rn, rm } => {
                let (d, n, m) = (
                    not_sp_pc("rd", rd)?,
                    not_sp_pc("rn", rn)?,
                    not_sp_pc("rm", rm)?,
                );
                let base = if matches!(self, Asm::Sdiv { .. }) {
                    0xFB90
                } else {
                    0xFBB0
                };
                Wide(base | n, 0xF0F0 | (d << 8) | m)
            }
            Asm::Clz { rd, rm } | Asm::Rbit { rd, rm } | Asm::Rev { rd, rm } => {
                let (d, m) = (not_sp_pc("rd", rd)?, not_sp_pc("rm", rm)?);
                // The Rm field appears in both halfwords.
                let (h1, op2) = match self {
                    Asm::Clz { .. } => (0xFAB0, 0x80),
                    Asm::Rbit { .. } => (0xFA90, 0xA0),
                    _ => (0xFA90, 0x80),
                };
                Wide(h1 | m, 0xF000 | (d << 8) | op2 | m)
            }
            Asm::Sxtb { rd, rm }
            | Asm::Sxth { rd, rm }
            | Asm::Uxtb { rd, rm }
            | Asm::Uxth { rd, rm } => {
                let (d, m) = (not_sp_pc("rd", rd)?, not_sp_pc("rm", rm)?);
                let h1 = match self {
                    Asm::Sxtb { .. } => 0xFA4F,
                    Asm::Sxth { .. } => 0xFA0F,
                    Asm::Uxtb { .. } => 0xFA5F,
                    _ => 0xFA1F,
                };
                // rotate = 0
                Wide(h1, 0xF080 | (d << 8) | m)
            }
            Asm::Ldr {
                size,
                signed,
                rt,
                rn,
                imm,
            } => {
                check_signed(size, signed)?;
                let t = mem_rt_load(size, rt)?;
                let n = exists("rn", rn)?;
                if n == 15 {
                    // Literal form: U bit (bit 7 of the first halfword)
                    // selects the sign, imm12 the magnitude.
                    imm_range(
                        "offset",
                        i64::from(imm),
                        -4095,
                        4095,
                        "-4095..=4095 (PC-relative)",
                    )?;
                    let u = u16::from(imm >= 0);
                    let h1 = ldst_hw1(size, signed, true, false) | (u << 7) | 15;
                    Wide(h1, (t << 12) | imm.unsigned_abs() as u16)
                } else {
                    ldst_imm(size, signed, true, t, n, imm)?
                }
            }
            Asm::Str { size, rt, rn, imm } => {
                let t = mem_rt_store(size, rt)?;
                let n = not_pc("rn", rn, "stores cannot be PC-relative (UNDEFINED)")?;
                ldst_imm(size, false, false, t, n, imm)?
            }
            Asm::LdrReg {
                size,
                signed,
                rt,
                rn,
                rm,
                shift,
            } => {
                check_signed(size, signed)?;
                let t = mem_rt_load(size, rt)?;
                let n = not_pc(
                    "rn",
                    rn,
                    "rn = PC selects the literal form, which has no register offset",
                )?;
                let m = not_sp_pc("rm", rm)?;
                imm_range("shift", i64::from(shift), 0, 3, "0..=3")?;
                let h1 = ldst_hw1(size, signed, true, false) | n;
                Wide(h1, (t << 12) | (u16::from(shift) << 4) | m)
            }
            Asm::StrReg {
                size,
                rt,
                rn,
                rm,
                shift,
            } => {
                let t = mem_rt_store(size, rt)?;
                let n = not_pc("rn", rn, "stores cannot be PC-relative (UNDEFINED)")?;
                let m = not_sp_pc("rm", rm)?;
                imm_range("shift", i64::from(shift), 0, 3, "0..=3")?;
                let h1 = ldst_hw1(size, false, false, false) | n;
                Wide(h1, (t << 12) | (u16::from(shift) << 4) | m)
            }
            Asm::Ldrd { rt, rt2, rn, imm } | Asm::Strd { rt, rt2, rn, imm } => {
                let load = matches!(self, Asm::Ldrd { .. });
                let t = not_sp_pc("rt", rt)?;
                let t2 = not_sp_pc("rt2", rt2)?;
                let n = not_pc(
                    "rn",
                    rn,
                    "PC-relative LDRD/STRD is not supported by this form",
                )?;
                if load && t == t2 {
                    return Err(EncodeErrorKind::InvalidOperands(
                        "ldrd with rt == rt2 is UNPREDICTABLE",
                    ));
                }
                if imm % 4 != 0 || !(-1020..=1020).contains(&imm) {
                    return Err(EncodeErrorKind::ImmediateOutOfRange {
                        operand: "offset",
                        value: i64::from(imm),
                        allowed: "multiple of 4 in -1020..=1020",
                    });
                }
                let u = u16::from(imm >= 0);
                // P = 1, W = 0 (offset addressing).
                let h1 = 0xE940 | (u << 7) | (u16::from(load) << 4) | n;
                Wide(h1, (t << 12) | (t2 << 8) | (imm.unsigned_abs() / 4) as u16)
            }
            Asm::Push { regs } => {
                if regs == 0 {
                    return Err(EncodeErrorKind::BadRegisterList { regs, why: "empty" });
                }
                if regs & (1 << 13) != 0 || regs & (1 << 15) != 0 {
                    return Err(EncodeErrorKind::BadRegisterList {
                        regs,
                        why: "push cannot include SP or PC",
                    });
                }
                if push_is_narrow(regs) {
                    Narrow(0xB400 | ((regs >> 6) & 0x100) | (regs & 0xFF))
                } else if regs.count_ones() == 1 {
                    // T3: str rt, [sp, #-4]!
                    let t = regs.trailing_zeros() as u16;
                    Wide(0xF84D, (t << 12) | 0x0D04)
                } else {
                    Wide(0xE92D, regs)
                }
            }
            Asm::Pop { regs } => {
                if regs == 0 {
                    return Err(EncodeErrorKind::BadRegisterList { regs, why: "empty" });
                }
                if regs & (1 << 13) != 0 {
                    return Err(EncodeErrorKind::BadRegisterList {
                        regs,
                        why: "pop cannot include SP",
                    });
                }
                if regs & 0xC000 == 0xC000 {
                    return Err(EncodeErrorKind::BadRegisterList {
                        regs,
                        why: "pop cannot include both LR and PC (UNPREDICTABLE)",
                    });
                }
                if pop_is_narrow(regs) {
                    Narrow(0xBC00 | ((regs >> 7) & 0x100) | (regs & 0xFF))
                } else if regs.count_ones() == 1 {
                    // T3: ldr rt, [sp], #4
                    let t = regs.trailing_zeros() as u16;
                    Wide(0xF85D, (t << 12) | 0x0B04)
                } else {
                    Wide(0xE8BD, regs)
                }
            }
            Asm::MovReg { rd, rm } => {
                let d = exists("rd", rd)?;
                let m = exists("rm", rm)?;
                Narrow(0x4600 | ((d & 8) << 4) | (m << 3) | (d & 7))
            }
            Asm::BranchW { cond, offset } => match cond {
                Some(c) => {
                    let off = branch_offset_check(BranchForm::WideCond, offset)? as u32;
                    let s = (off >> 20) & 1;
                    let j2 = (off >> 19) & 1;
                    let j1 = (off >> 18) & 1;
                    let imm6 = (off >> 12) & 0x3F;
                    let imm11 = (off >> 1) & 0x7FF;
                    let h1 = 0xF000 | (s << 10) | ((c as u32) << 6) | imm6;
                    let h2 = 0x8000 | (j1 << 13) | (j2 << 11) | imm11;
                    Wide(h1 as u16, h2 as u16)
                }
                None => {
                    let off = branch_offset_check(BranchForm::WideUncond, offset)?;
                    let (h1, h2) = t4_fields(off);
                    Wide(h1, h2 | 0x9000)
                }
            },
            Asm::Bl { offset } => {
                let off = branch_offset_check(BranchForm::Bl, offset)?;
                let (h1, h2) = t4_fields(off);
                Wide(h1, h2 | 0xD000)
            }
            Asm::BranchN { cond, offset } => match cond {
                Some(c) => {
                    let off = branch_offset_check(BranchForm::NarrowCond, offset)?;
                    Narrow(0xD000 | ((c as u16) << 8) | ((off >> 1) as u16 & 0xFF))
                }
                None => {
                    let off = branch_offset_check(BranchForm::NarrowUncond, offset)?;
                    Narrow(0xE000 | ((off >> 1) as u16 & 0x7FF))
                }
            },
            Asm::Bx { rm } => Narrow(0x4700 | (exists("rm", rm)? << 3)),
            Asm::Blx { rm } => Narrow(0x4780 | (not_pc("rm", rm, UNPRED)? << 3)),
            Asm::Cbz {
                nonzero,
                rn,
                offset,
            } => {
                let n = exists("rn", rn)?;
                if n > 7 {
                    return Err(EncodeErrorKind::RegisterNotAllowed {
                        operand: "rn",
                        reg: rn,
                        why: "cbz/cbnz take a low register (r0-r7)",
                    });
                }
                let off = branch_offset_check(BranchForm::Cbz, offset)? as u16;
                let i = (off >> 6) & 1;
                let imm5 = (off >> 1) & 0x1F;
                Narrow(0xB100 | (u16::from(nonzero) << 11) | (i << 9) | (imm5 << 3) | n)
            }
            Asm::It { firstcond, mask } => {
                imm_range(
                    "IT mask",
                    i64::from(mask),
                    1,
                    15,
                    "1..=15 (0 is not an IT instruction)",
                )?;
                Narrow(0xBF00 | ((firstcond as u16) << 4) | u16::from(mask))
            }
            Asm::Tbb { rn, rm } | Asm::Tbh { rn, rm } => {
                let n = not_sp("rn", rn, UNPRED)?;
                let m = not_sp_pc("rm", rm)?;
                let h = u16::from(matches!(self, Asm::Tbh { .. }));
                Wide(0xE8D0 | n, 0xF000 | (h << 4) | m)
            }
            Asm::Udf { imm8 } => Narrow(0xDE00 | u16::from(imm8)),
            Asm::Nop => Narrow(0xBF00),
            Asm::Bkpt { imm8 } => Narrow(0xBE00 | u16::from(imm8)),
            // VMOV (between core register and single-precision register),
            // T1: 1110 1110 000 op Vn | Rt 1010 N 001 0000 (op = 1: to core).
            Asm::VmovToS { sn, rt } | Asm::VmovFromS { rt, sn } => {
                let t = not_sp_pc("rt", rt)?;
                let (vn, n) = sreg_fields("sn", sn)?;
                let to_core = u16::from(matches!(self, Asm::VmovFromS { .. }));
                Wide(0xEE00 | (to_core << 4) | vn, (t << 12) | 0x0A10 | (n << 7))
            }
            // VADD/VSUB/VMUL/VDIV (sz = 0, single precision):
            // 1110 1110 op1 D op2 Vn | Vd 1010 N op3 M 0 Vm.
            Asm::VArith { op, sd, sn, sm } => {
                let regs = [sreg_fields("sd", sd)?, sreg_fields("sn", sn)?, sreg_fields("sm", sm)?];
                varith(op, regs, false)
            }
            // VSQRT and VCVT (between floating-point and integer), single
            // precision: 1110 1110 1D11 opc2 | Vd 101 0 op 1 M 0 Vm, where
            // op (bit 7) is "round toward zero" for conversions to integer,
            // "signed source" for conversions from integer, 1 for VSQRT.
            Asm::VUnary { op, sd, sm } => {
                let (vd, d) = sreg_fields("sd", sd)?;
                let (vm, m) = sreg_fields("sm", sm)?;
                let (opc2, op7) = match op {
                    VfpUnaryOp::Sqrt => (0b0001, 1),
                    VfpUnaryOp::ToS32 => (0b1101, 1),
                    VfpUnaryOp::ToU32 => (0b1100, 1),
                    VfpUnaryOp::FromS32 => (0b1000, 1),
                    VfpUnaryOp::FromU32 => (0b1000, 0),
                };
                Wide(
                    0xEEB0 | (d << 6) | opc2,
                    (vd << 12) | 0x0A40 | (op7 << 7) | (m << 5) | vm,
                )
            }
            // VCMP (register), E = 0: 1110 1110 1D11 0100 | Vd 1010 01M0 Vm.
            Asm::Vcmp { sd, sm } => {
                let (vd, d) = sreg_fields("sd", sd)?;
                let (vm, m) = sreg_fields("sm", sm)?;
                Wide(0xEEB4 | (d << 6), (vd << 12) | 0x0A40 | (m << 5) | vm)
            }
            // VMRS with Rt = 1111 (APSR_nzcv).
            Asm::VmrsApsr => Wide(0xEEF1, 0xFA10),
            // VMOV (between two core registers and a doubleword register),
            // T1: 1110 1100 010 op Rt2 | Rt 1011 00M1 Vm (op = 1: to core).
            Asm::VmovToD { dm, rt, rt2 } | Asm::VmovFromD { rt, rt2, dm } => {
                let t = not_sp_pc("rt", rt)?;
                let t2 = not_sp_pc("rt2", rt2)?;
                let (vm, m) = dreg_fields("dm", dm)?;
                let to_core = matches!(self, Asm::VmovFromD { .. });
                if to_core && t == t2 {
                    return Err(EncodeErrorKind::InvalidOperands(
                        "vmov rt, rt2, dm with rt == rt2 is UNPREDICTABLE",
                    ));
                }
                Wide(0xEC40 | (u16::from(to_core) << 4) | t2, (t << 12) | 0x0B10 | (m << 5) | vm)
            }
            // As the single-precision forms with sz = 1 (bit 8) and D
            // registers (Vx = bits 3:0, the extra bit = bit 4).
            Asm::VArith64 { op, dd, dn, dm } => {
                let regs = [dreg_fields("dd", dd)?, dreg_fields("dn", dn)?, dreg_fields("dm", dm)?];
                varith(op, regs, true)
            }
            Asm::VSqrt64 { dd, dm } | Asm::Vcmp64 { dd, dm } => {
                let (vd, d) = dreg_fields("dd", dd)?;
                let (vm, m) = dreg_fields("dm", dm)?;
                let (h1, op) = if matches!(self, Asm::VSqrt64 { .. }) {
                    (0xEEB1, 0x0BC0)
                } else {
                    (0xEEB4, 0x0B40)
                };
                Wide(h1 | (d << 6), (vd << 12) | op | (m << 5) | vm)
            }
            // VCVT (floating-point and integer; between double and single):
            // 1110 1110 1D11 opc2 | Vd 101 sz op 1 M 0 Vm.
            Asm::VCvt { op, d, m } => {
                let ((vd, dbit), (vm, mbit)) = match op {
                    VcvtOp::F64ToS32 | VcvtOp::F64ToU32 | VcvtOp::F64ToF32 => {
                        (sreg_fields("sd", d)?, dreg_fields("dm", m)?)
                    }
                    VcvtOp::S32ToF64 | VcvtOp::U32ToF64 | VcvtOp::F32ToF64 => {
                        (dreg_fields("dd", d)?, sreg_fields("sm", m)?)
                    }
                };
                let (opc2, sz_op) = match op {
                    VcvtOp::F64ToS32 => (0b1101, 0x0BC0),
                    VcvtOp::F64ToU32 => (0b1100, 0x0BC0),
                    VcvtOp::S32ToF64 => (0b1000, 0x0BC0),
                    VcvtOp::U32ToF64 => (0b1000, 0x0B40),
                    VcvtOp::F32ToF64 => (0b0111, 0x0AC0),
                    VcvtOp::F64ToF32 => (0b0111, 0x0BC0),
                };
                Wide(0xEEB0 | (dbit << 6) | opc2, (vd << 12) | sz_op | (mbit << 5) | vm)
            }
        })
    }
}

/// The (4-bit, 1-bit) fields of single-precision register `s`: `Vx` holds
/// bits 4:1 of the register number and the extra bit (D, N or M) bit 0.
fn sreg_fields(operand: &'static str, s: u8) -> EResult<(u16, u16)> {
    if s > 31 {
        return Err(EncodeErrorKind::InvalidOperands(match operand {
            "sd" => "sd must be s0-s31",
            "sn" => "sn must be s0-s31",
            _ => "sm must be s0-s31",
        }));
    }
    Ok((u16::from(s >> 1), u16::from(s & 1)))
}

/// VADD/VSUB/VMUL/VDIV from the (Vx, extra bit) fields of d, n, m:
/// `1110 1110 op1 D op2 Vn | Vd 101 sz N op3 M 0 Vm`.
fn varith(op: VfpOp, [(vd, d), (vn, n), (vm, m)]: [(u16, u16); 3], double: bool) -> Enc {
    let (h1, sub) = match op {
        VfpOp::Add => (0xEE30, 0),
        VfpOp::Sub => (0xEE30, 1),
        VfpOp::Mul => (0xEE20, 0),
        VfpOp::Div => (0xEE80, 0),
    };
    let sz = u16::from(double) << 8;
    Enc::Wide(
        h1 | (d << 6) | vn,
        (vd << 12) | 0x0A00 | sz | (n << 7) | (sub << 6) | (m << 5) | vm,
    )
}

/// The (4-bit, 1-bit) fields of double-precision register `d` (d0-d15,
/// the registers of FPv5-D16): `Vx` holds bits 3:0, the extra bit bit 4.
fn dreg_fields(operand: &'static str, d: u8) -> EResult<(u16, u16)> {
    if d > 15 {
        return Err(EncodeErrorKind::InvalidOperands(match operand {
            "dd" => "dd must be d0-d15",
            "dn" => "dn must be d0-d15",
            _ => "dm must be d0-d15",
        }));
    }
    Ok((u16::from(d & 15), u16::from(d >> 4)))
}

/// Immediate-offset load/store: T3 (imm12, non-negative) or T4 (negative
/// imm8 with P=1, U=0, W=0).
fn ldst_imm(size: MemSize, signed: bool, load: bool, t: u16, n: u16, imm: i32) -> EResult<Enc> {
    imm_range("offset", i64::from(imm), -255, 4095, "-255..=4095")?;
    if imm >= 0 {
        Ok(Enc::Wide(
            ldst_hw1(size, signed, load, true) | n,
            (t << 12) | imm as u16,
        ))
    } else {
        let h2 = (t << 12) | 0x0C00 | imm.unsigned_abs() as u16;
        Ok(Enc::Wide(ldst_hw1(size, signed, load, false) | n, h2))
    }
}

/// The offset fields shared by B.W (T4) and BL: `S:imm10` in the first
/// halfword and `J1`, `J2`, `imm11` in the second (with bits 15:14 and 12
/// left for the caller). `I1 = NOT(J1 XOR S)`, so `J1 = NOT(I1) XOR S`.
fn t4_fields(offset: i32) -> (u16, u16) {
    let off = offset as u32;
    let s = (off >> 24) & 1;
    let i1 = (off >> 23) & 1;
    let i2 = (off >> 22) & 1;
    let j1 = (i1 ^ 1) ^ s;
    let j2 = (i2 ^ 1) ^ s;
    let imm10 = (off >> 12) & 0x3FF;
    let imm11 = (off >> 1) & 0x7FF;
    (
        (0xF000 | (s << 10) | imm10) as u16,
        ((j1 << 13) | (j2 << 11) | imm11) as u16,
    )
}

/// PUSH T1 holds r0-r7 and LR.
fn push_is_narrow(regs: u16) -> bool {
    regs != 0 && regs & !0x40FF == 0
}

/// POP T1 holds r0-r7 and PC.
fn pop_is_narrow(regs: u16) -> bool {
    regs != 0 && regs & !0x80FF == 0
}

// ---------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------

struct RegName(Reg);

/// `mnemonic rd, rm`: the two-register forms (clz, rbit, rev, extends).
fn write_rd_rm(f: &mut fmt::Formatter<'_>, mnemonic: impl fmt::Display, rd: Reg, rm: Reg) -> fmt::Result {
    write!(f, "{mnemonic} {}, {}", RegName(rd), RegName(rm))
}

impl fmt::Display for RegName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 .0 {
            13 => f.write_str("sp"),
            14 => f.write_str("lr"),
            15 => f.write_str("pc"),
            n => write!(f, "r{n}"),
        }
    }
}

struct RegList(u16);

impl fmt::Display for RegList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        let mut first = true;
        for r in 0..16u8 {
            if self.0 & (1 << r) != 0 {
                if !first {
                    f.write_str(", ")?;
                }
                first = false;
                write!(f, "{}", RegName(Reg(r)))?;
            }
        }
        f.write_str("}")
    }
}

/// The UAL condition suffix.
pub fn cond_name(c: Cond) -> &'static str {
    match c {
        Cond::Eq => "eq",
        Cond::Ne => "ne",
        Cond::Hs => "hs",
        Cond::Lo => "lo",
        Cond::Mi => "mi",
        Cond::Pl => "pl",
        Cond::Vs => "vs",
        Cond::Vc => "vc",
        Cond::Hi => "hi",
        Cond::Ls => "ls",
        Cond::Ge => "ge",
        Cond::Lt => "lt",
        Cond::Gt => "gt",
        Cond::Le => "le",
    }
}

/// Immediate operand text: decimal below 256, hexadecimal above.
struct Imm(i64);

impl fmt::Display for Imm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if (-255..=255).contains(&self.0) {
            write!(f, "#{}", self.0)
        } else if self.0 < 0 {
            write!(f, "#-{:#x}", self.0.unsigned_abs())
        } else {
            write!(f, "#{:#x}", self.0)
        }
    }
}

fn shift_name(k: ShiftKind) -> &'static str {
    match k {
        ShiftKind::Lsl => "lsl",
        ShiftKind::Lsr => "lsr",
        ShiftKind::Asr => "asr",
        ShiftKind::Ror => "ror",
    }
}

fn dp_name(op: DpOp) -> &'static str {
    match op {
        DpOp::And => "and",
        DpOp::Bic => "bic",
        DpOp::Orr => "orr",
        DpOp::Orn => "orn",
        DpOp::Eor => "eor",
        DpOp::Add => "add",
        DpOp::Adc => "adc",
        DpOp::Sbc => "sbc",
        DpOp::Sub => "sub",
        DpOp::Rsb => "rsb",
        DpOp::Mov => "mov",
        DpOp::Mvn => "mvn",
        DpOp::Tst => "tst",
        DpOp::Teq => "teq",
        DpOp::Cmn => "cmn",
        DpOp::Cmp => "cmp",
    }
}

fn mem_suffix(size: MemSize, signed: bool) -> &'static str {
    match (size, signed) {
        (MemSize::Byte, false) => "b",
        (MemSize::Byte, true) => "sb",
        (MemSize::Half, false) => "h",
        (MemSize::Half, true) => "sh",
        (MemSize::Word, _) => "",
    }
}

/// Mnemonic in UAL order: base, `s`, condition, width qualifier.
struct Mnemonic<'a> {
    base: &'a str,
    suffix: &'a str,
    s: bool,
    cond: Option<Cond>,
    wide: bool,
}

impl fmt::Display for Mnemonic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.base)?;
        f.write_str(self.suffix)?;
        if self.s {
            f.write_str("s")?;
        }
        if let Some(c) = self.cond {
            f.write_str(cond_name(c))?;
        }
        if self.wide {
            f.write_str(".w")?;
        }
        Ok(())
    }
}

/// An instruction printed with a condition suffix, for use inside an IT
/// block. See [`Asm::display_predicated`].
pub struct Predicated<'a> {
    insn: &'a Asm,
    cond: Cond,
}

impl fmt::Display for Predicated<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.insn.write_asm(f, Some(self.cond))
    }
}

impl Asm {
    /// Prints the instruction with condition `cond` (`addeq.w r0, r1, r2`),
    /// as UAL requires inside an IT block. The encoding is unchanged: the IT
    /// instruction supplies the condition. (MUL is the exception LLVM makes:
    /// `mul<c>` inside IT may be assembled to the 16-bit form when
    /// rd == rm is low, so prefer keeping MUL out of IT blocks.)
    pub fn display_predicated(&self, cond: Cond) -> Predicated<'_> {
        Predicated { insn: self, cond }
    }

    fn write_asm(&self, f: &mut fmt::Formatter<'_>, cond: Option<Cond>) -> fmt::Result {
        let mn = |base: &'static str, s: bool, wide: bool| Mnemonic {
            base,
            suffix: "",
            s,
            cond,
            wide,
        };
        match *self {
            Asm::DpReg {
                op,
                s,
                rd,
                rn,
                rm,
                shift,
            } => {
                let sh = |f: &mut fmt::Formatter<'_>| -> fmt::Result {
                    if shift != Shift::NONE {
                        write!(f, ", {} #{}", shift_name(shift.kind), shift.amount)?;
                    }
                    Ok(())
                };
                match op {
                    DpOp::Mov if shift != Shift::NONE => {
                        // MOV with a shifted register is the shift-by-immediate
                        // instruction in UAL.
                        write!(
                            f,
                            "{} {}, {}, #{}",
                            mn(shift_name(shift.kind), s, true),
                            RegName(rd),
                            RegName(rm),
                            shift.amount
                        )
                    }
                    DpOp::Mov | DpOp::Mvn => {
                        write!(
                            f,
                            "{} {}, {}",
                            mn(dp_name(op), s, true),
                            RegName(rd),
                            RegName(rm)
                        )?;
                        sh(f)
                    }
                    DpOp::Tst | DpOp::Teq | DpOp::Cmn | DpOp::Cmp => {
                        write!(
                            f,
                            "{} {}, {}",
                            mn(dp_name(op), false, true),
                            RegName(rn),
                            RegName(rm)
                        )?;
                        sh(f)
                    }
                    _ => {
                        write!(
                            f,
                            "{} {}, {}, {}",
                            mn(dp_name(op), s, true),
                            RegName(rd),
                            RegName(rn),
                            RegName(rm)
                        )?;
                        sh(f)
                    }
                }
            }
            Asm::DpImm { op, s, rd, rn, imm } => {
                let imm = Imm(i64::from(imm));
                // LLVM 14 rejects `.w` on ADC/SBC with an immediate; neither
                // has a 16-bit immediate form, so the plain mnemonic is
                // unambiguous.
                let wide = !matches!(op, DpOp::Adc | DpOp::Sbc);
                let mn = |base: &'static str, s: bool, _wide: bool| Mnemonic {
                    base,
                    suffix: "",
                    s,
                    cond,
                    wide,
                };
                match op {
                    DpOp::Mov | DpOp::Mvn => {
                        write!(f, "{} {}, {}", mn(dp_name(op), s, true), RegName(rd), imm)
                    }
                    DpOp::Tst | DpOp::Teq | DpOp::Cmn | DpOp::Cmp => {
                        write!(
                            f,
                            "{} {}, {}",
                            mn(dp_name(op), false, true),
                            RegName(rn),
                            imm
                        )
                    }
                    _ => write!(
                        f,
                        "{} {}, {}, {}",
                        mn(dp_name(op), s, true),
                        RegName(rd),
                        RegName(rn),
                        imm
                    ),
                }
            }
            Asm::AddW { rd, rn, imm12 } => {
                write!(
                    f,
                    "{} {}, {}, {}",
                    mn("addw", false, false),
                    RegName(rd),
                    RegName(rn),
                    Imm(imm12.into())
                )
            }
            Asm::SubW { rd, rn, imm12 } => {
                write!(
                    f,
                    "{} {}, {}, {}",
                    mn("subw", false, false),
                    RegName(rd),
                    RegName(rn),
                    Imm(imm12.into())
                )
            }
            Asm::SubSp { imm } => write!(
                f,
                "{} sp, sp, {}",
                mn("subw", false, false),
                Imm(imm.into())
            ),
            Asm::AddSp { imm } => write!(
                f,
                "{} sp, sp, {}",
                mn("addw", false, false),
                Imm(imm.into())
            ),
            Asm::MovW { rd, imm16 } => write!(
                f,
                "{} {}, {}",
                mn("movw", false, false),
                RegName(rd),
                Imm(imm16.into())
            ),
            Asm::MovT { rd, imm16 } => write!(
                f,
                "{} {}, {}",
                mn("movt", false, false),
                RegName(rd),
                Imm(imm16.into())
            ),
            Asm::ShiftReg {
                kind,
                s,
                rd,
                rn,
                rm,
            } => write!(
                f,
                "{} {}, {}, {}",
                mn(shift_name(kind), s, true),
                RegName(rd),
                RegName(rn),
                RegName(rm)
            ),
            Asm::Mul { rd, rn, rm } => {
                write!(
                    f,
                    "{} {}, {}, {}",
                    mn("mul", false, false),
                    RegName(rd),
                    RegName(rn),
                    RegName(rm)
                )
            }
            Asm::Mla { rd, rn, rm, ra } | Asm::Mls { rd, rn, rm, ra } => {
                let name = if matches!(self, Asm::Mla { .. }) {
                    "mla"
                } else {
                    "mls"
                };
                write!(
                    f,
                    "{} {}, {}, {}, {}",
                    mn(name, false, false),
                    RegName(rd),
                    RegName(rn),
                    RegName(rm),
                    RegName(ra)
                )
            }
            Asm::Umull { rdlo, rdhi, rn, rm }
            | Asm::Smull { rdlo, rdhi, rn, rm }
            | Asm::Umlal { rdlo, rdhi, rn, rm } => {
                let name = match self {
                    Asm::Umull { .. } => "umull",
                    Asm::Smull { .. } => "smull",
                    _ => "umlal",
                };
                write!(
                    f,
                    "{} {}, {}, {}, {}",
                    mn(name, false, false),
                    RegName(rdlo),
                    RegName(rdhi),
                    RegName(rn),
                    RegName(rm)
                )
            }
            Asm::Sdiv { rd, rn, rm } | Asm::Udiv { rd, rn, rm } => {
                let name = if matches!(self, Asm::Sdiv { .. }) {
                    "sdiv"
                } else {
                    "udiv"
                };
                write!(
                    f,
                    "{} {}, {}, {}",
                    mn(name, false, false),
                    RegName(rd),
                    RegName(rn),
                    RegName(rm)
                )
            }
            Asm::Clz { rd, rm } => write_rd_rm(f, mn("clz", false, false), rd, rm),
            Asm::Rbit { rd, rm } => write_rd_rm(f, mn("rbit", false, false), rd, rm),
            Asm::Rev { rd, rm } => write_rd_rm(f, mn("rev", false, true), rd, rm),
            Asm::Sxtb { rd, rm } => write_rd_rm(f, mn("sxtb", false, true), rd, rm),
            Asm::Sxth { rd, rm } => write_rd_rm(f, mn("sxth", false, true), rd, rm),
            Asm::Uxtb { rd, rm } => write_rd_rm(f, mn("uxtb", false, true), rd, rm),
            Asm::Uxth { rd, rm } => write_rd_rm(f, mn("uxth", false, true), rd, rm),
            Asm::Ldr {
                size,
                signed,
                rt,
                rn,
                imm,
            } => {
                // The negative-offset (T4) form has no 16-bit sibling and LLVM
                // rejects `.w` on it; the PC-relative form accepts `.w` for
                // both signs.
                let wide = imm >= 0 || rn == Reg::PC;
                let m = Mnemonic {
                    base: "ldr",
                    suffix: mem_suffix(size, signed),
                    s: false,
                    cond,
                    wide,
                };
                write!(
                    f,
                    "{} {}, [{}, {}]",
                    m,
                    RegName(rt),
                    RegName(rn),
                    Imm(imm.into())
                )
            }
            Asm::Str { size, rt, rn, imm } => {
                let m = Mnemonic {
                    base: "str",
                    suffix: mem_suffix(size, false),
                    s: false,
                    cond,
                    wide: imm >= 0,
                };
                write!(
                    f,
                    "{} {}, [{}, {}]",
                    m,
                    RegName(rt),
                    RegName(rn),
                    Imm(imm.into())
                )
            }
            Asm::LdrReg {
                size,
                signed,
                rt,
                rn,
                rm,
                shift,
            } => {
                let m = Mnemonic {
                    base: "ldr",
                    suffix: mem_suffix(size, signed),
                    s: false,
                    cond,
                    wide: true,
                };
                write!(
                    f,
                    "{} {}, [{}, {}",
                    m,
                    RegName(rt),
                    RegName(rn),
                    RegName(rm)
                )?;
                if shift != 0 {
                    write!(f, ", lsl #{shift}")?;
                }
                f.write_str("]")
            }
            Asm::StrReg {
                size,
                rt,
                rn,
                rm,
                shift,
            } => {
                let m = Mnemonic {
                    base: "str",
                    suffix: mem_suffix(size, false),
                    s: false,
                    cond,
                    wide: true,
                };
                write!(
                    f,
                    "{} {}, [{}, {}",
                    m,
                    RegName(rt),
                    RegName(rn),
                    RegName(rm)
                )?;
                if shift != 0 {
                    write!(f, ", lsl #{shift}")?;
                }
                f.write_str("]")
            }
            Asm::Ldrd { rt, rt2, rn, imm } | Asm::Strd { rt, rt2, rn, imm } => {
                let name = if matches!(self, Asm::Ldrd { .. }) {
                    "ldrd"
                } else {
                    "strd"
                };
                write!(
                    f,
                    "{} {}, {}, [{}, {}]",
                    mn(name, false, false),
                    RegName(rt),
                    RegName(rt2),
                    RegName(rn),
                    Imm(imm.into())
                )
            }
            Asm::Push { regs } => write!(
                f,
                "{} {}",
                mn("push", false, !push_is_narrow(regs)),
                RegList(regs)
            ),
            Asm::Pop { regs } => write!(
                f,
                "{} {}",
                mn("pop", false, !pop_is_narrow(regs)),
                RegList(regs)
            ),
            Asm::MovReg { rd, rm } => write!(
                f,
                "{} {}, {}",
                mn("mov", false, false),
                RegName(rd),
                RegName(rm)
            ),
            Asm::BranchW {
                cond: bcond,
                offset,
            } => {
                // A conditional branch carries its own condition; inside an IT
                // block only the unconditional form may appear (last).
                let c = bcond.or(cond);
                write!(
                    f,
                    "{} #{}",
                    Mnemonic {
                        base: "b",
                        suffix: "",
                        s: false,
                        cond: c,
                        wide: true
                    },
                    offset
                )
            }
            Asm::BranchN {
                cond: bcond,
                offset,
            } => {
                let c = bcond.or(cond);
                write!(
                    f,
                    "{} #{}",
                    Mnemonic {
                        base: "b",
                        suffix: "",
                        s: false,
                        cond: c,
                        wide: false
                    },
                    offset
                )
            }
            Asm::Bl { offset } => write!(f, "{} #{}", mn("bl", false, false), offset),
            Asm::Bx { rm } => write!(f, "{} {}", mn("bx", false, false), RegName(rm)),
            Asm::Blx { rm } => write!(f, "{} {}", mn("blx", false, false), RegName(rm)),
            Asm::Cbz {
                nonzero,
                rn,
                offset,
            } => {
                let name = if nonzero { "cbnz" } else { "cbz" };
                write!(f, "{} {}, #{}", name, RegName(rn), offset)
            }
            Asm::It { firstcond, mask } => {
                // Bits of `mask` above its lowest set bit, from bit 3 down,
                // give the 2nd..4th instructions: equal to firstcond[0] means
                // "then", different means "else".
                f.write_str("it")?;
                let mask = mask & 0xF;
                if mask != 0 {
                    let len = 3 - mask.trailing_zeros();
                    for k in 0..len {
                        let bit = (mask >> (3 - k)) & 1;
                        f.write_str(if bit == (firstcond as u8 & 1) {
                            "t"
                        } else {
                            "e"
                        })?;
                    }
                }
                write!(f, " {}", cond_name(firstcond))
            }
            Asm::Tbb { rn, rm } => write!(
                f,
                "{} [{}, {}]",
                mn("tbb", false, false),
                RegName(rn),
                RegName(rm)
            ),
            Asm::Tbh { rn, rm } => write!(
                f,
                "{} [{}, {}, lsl #1]",
                mn("tbh", false, false),
                RegName(rn),
                RegName(rm)
            ),
            Asm::Udf { imm8 } => write!(f, "udf #{imm8}"),
            Asm::Nop => write!(f, "{}", mn("nop", false, false)),
            Asm::Bkpt { imm8 } => write!(f, "bkpt #{imm8}"),
            Asm::VmovToS { sn, rt } => write!(f, "{} s{sn}, {}", mn("vmov", false, false), RegName(rt)),
            Asm::VmovFromS { rt, sn } => write!(f, "{} {}, s{sn}", mn("vmov", false, false), RegName(rt)),
            Asm::VArith { op, sd, sn, sm } => {
                let name = match op {
                    VfpOp::Add => "vadd",
                    VfpOp::Sub => "vsub",
                    VfpOp::Mul => "vmul",
                    VfpOp::Div => "vdiv",
                };
                write!(f, "{}.f32 s{sd}, s{sn}, s{sm}", mn(name, false, false))
            }
            Asm::VUnary { op, sd, sm } => {
                let (name, types) = match op {
                    VfpUnaryOp::Sqrt => ("vsqrt", ".f32"),
                    VfpUnaryOp::ToS32 => ("vcvt", ".s32.f32"),
                    VfpUnaryOp::ToU32 => ("vcvt", ".u32.f32"),
                    VfpUnaryOp::FromS32 => ("vcvt", ".f32.s32"),
                    VfpUnaryOp::FromU32 => ("vcvt", ".f32.u32"),
                };
                write!(f, "{}{types} s{sd}, s{sm}", mn(name, false, false))
            }
            Asm::Vcmp { sd, sm } => write!(f, "{}.f32 s{sd}, s{sm}", mn("vcmp", false, false)),
            Asm::VmrsApsr => write!(f, "{} APSR_nzcv, fpscr", mn("vmrs", false, false)),
            Asm::VmovToD { dm, rt, rt2 } => {
                write!(f, "{} d{dm}, {}, {}", mn("vmov", false, false), RegName(rt), RegName(rt2))
            }
            Asm::VmovFromD { rt, rt2, dm } => {
                write!(f, "{} {}, {}, d{dm}", mn("vmov", false, false), RegName(rt), RegName(rt2))
            }
            Asm::VArith64 { op, dd, dn, dm } => {
                let name = match op {
                    VfpOp::Add => "vadd",
                    VfpOp::Sub => "vsub",
                    VfpOp::Mul => "vmul",
                    VfpOp::Div => "vdiv",
                };
                write!(f, "{}.f64 d{dd}, d{dn}, d{dm}", mn(name, false, false))
            }
            Asm::VSqrt64 { dd, dm } => write!(f, "{}.f64 d{dd}, d{dm}", mn("vsqrt", false, false)),
            Asm::Vcmp64 { dd, dm } => write!(f, "{}.f64 d{dd}, d{dm}", mn("vcmp", false, false)),
            Asm::VCvt { op, d, m } => {
                let (types, dk, mk) = match op {
                    VcvtOp::F64ToS32 => (".s32.f64", 's', 'd'),
                    VcvtOp::F64ToU32 => (".u32.f64", 's', 'd'),
                    VcvtOp::S32ToF64 => (".f64.s32", 'd', 's'),
                    VcvtOp::U32ToF64 => (".f64.u32", 'd', 's'),
                    VcvtOp::F32ToF64 => (".f64.f32", 'd', 's'),
                    VcvtOp::F64ToF32 => (".f32.f64", 's', 'd'),
                };
                write!(f, "{}{types} {dk}{d}, {mk}{m}", mn("vcvt", false, false))
            }
        }
    }
}

impl fmt::Display for Asm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_asm(f, None)
    }
}

#[cfg(test)]
#[path = "encode/tests.rs"]
mod tests;
