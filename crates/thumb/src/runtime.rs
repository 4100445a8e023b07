//! Runtime routines the backend calls (`RelocTarget::Runtime`), emitted
//! through the same MachBuffer as compiled code so bulkhead never depends on
//! the embedder's libc. AAPCS: arguments in r0-r2, r0-r3/r12/lr clobbered,
//! no relocations.

use crate::emit::{Label, MachBuffer};
use crate::isa::asm::{Asm, Cond, DpOp, MemSize, Reg, Shift, ShiftKind};
use crate::output::CompiledFunction;
use crate::target::TargetIsa;

const R0: Reg = Reg(0);
const R1: Reg = Reg(1);
const R2: Reg = Reg(2);
const R3: Reg = Reg(3);

/// The runtime routines, by the name used in `RelocTarget::Runtime`.
pub fn runtime_functions(isa: &TargetIsa) -> Vec<(&'static str, CompiledFunction)> {
    let _ = isa; // ARMv7-M and ARMv8-M Mainline share these sequences.
    vec![
        ("memmove", build(emit_memmove).expect("memmove encodes")),
        ("memset", build(emit_memset).expect("memset encodes")),
    ]
}

fn build(f: fn(&mut Asmb) -> Result<(), String>) -> Result<CompiledFunction, String> {
    crate::emit::emit_relaxed(true, |buf| f(&mut Asmb { buf }))
}

/// Small assembler helper over the MachBuffer.
struct Asmb<'a> {
    buf: &'a mut MachBuffer,
}

impl Asmb<'_> {
    fn label(&mut self) -> Label {
        self.buf.new_label()
    }
    fn bind(&mut self, l: Label, name: &'static str) {
        self.buf.bind(l, || name.to_string());
    }
    fn i(&mut self, a: Asm) -> Result<(), String> {
        self.buf.put(a)
    }
    fn b(&mut self, cond: Option<Cond>, l: Label) -> Result<(), String> {
        self.buf.put_branch(Asm::BranchW { cond, offset: 0 }, l)
    }
    fn cmp_imm(&mut self, rn: Reg, imm: u32) -> Result<(), String> {
        self.i(Asm::DpImm {
            op: DpOp::Cmp,
            s: true,
            rd: Reg::PC,
            rn,
            imm,
        })
    }
    fn tst_imm(&mut self, rn: Reg, imm: u32) -> Result<(), String> {
        self.i(Asm::DpImm {
            op: DpOp::Tst,
            s: true,
            rd: Reg::PC,
            rn,
            imm,
        })
    }
    fn add_imm(&mut self, rd: Reg, imm: u16) -> Result<(), String> {
        self.i(Asm::AddW {
            rd,
            rn: rd,
            imm12: imm,
        })
    }
    fn sub_imm(&mut self, rd: Reg, imm: u16) -> Result<(), String> {
        self.i(Asm::SubW {
            rd,
            rn: rd,
            imm12: imm,
        })
    }
    fn dp(&mut self, op: DpOp, rd: Reg, rn: Reg, rm: Reg, shift: Shift) -> Result<(), String> {
        self.i(Asm::DpReg {
            op,
            s: false,
            rd,
            rn,
            rm,
            shift,
        })
    }
    fn ldr(&mut self, size: MemSize, rt: Reg, rn: Reg) -> Result<(), String> {
        self.i(Asm::Ldr {
            size,
            signed: false,
            rt,
            rn,
            imm: 0,
        })
    }
    fn str(&mut self, size: MemSize, rt: Reg, rn: Reg) -> Result<(), String> {
        self.i(Asm::Str {
            size,
            rt,
            rn,
            imm: 0,
        })
    }
}

/// `memset(dst: r0, val: r1, len: r2)`: bytes until `dst` is word aligned,
/// then words, then the tail bytes.
fn emit_memset(a: &mut Asmb) -> Result<(), String> {
    let (head, words, tail, done) = (a.label(), a.label(), a.label(), a.label());
    a.i(Asm::Uxtb { rd: R1, rm: R1 })?;
    a.dp(
        DpOp::Orr,
        R1,
        R1,
        R1,
        Shift {
            kind: ShiftKind::Lsl,
            amount: 8,
        },
    )?;
    a.dp(
        DpOp::Orr,
        R1,
        R1,
        R1,
        Shift {
            kind: ShiftKind::Lsl,
            amount: 16,
        },
    )?;
    a.bind(head, "head");
    a.cmp_imm(R2, 0)?;
    a.b(Some(Cond::Eq), done)?;
    a.tst_imm(R0, 3)?;
    a.b(Some(Cond::Eq), words)?;
    a.str(MemSize::Byte, R1, R0)?;
    a.add_imm(R0, 1)?;
    a.sub_imm(R2, 1)?;
    a.b(None, head)?;
    a.bind(words, "words");
    a.cmp_imm(R2, 4)?;
    a.b(Some(Cond::Lo), tail)?;
    a.str(MemSize::Word, R1, R0)?;
    a.add_imm(R0, 4)?;
    a.sub_imm(R2, 4)?;
    a.b(None, words)?;
    a.bind(tail, "tail");
    a.cmp_imm(R2, 0)?;
    a.b(Some(Cond::Eq), done)?;
    a.str(MemSize::Byte, R1, R0)?;
    a.add_imm(R0, 1)?;
    a.sub_imm(R2, 1)?;
    a.b(None, tail)?;
    a.bind(done, "done");
    a.i(Asm::Bx { rm: Reg::LR })
}

/// `memmove(dst: r0, src: r1, len: r2)`, correct for overlap: copies
/// forwards when `dst < src`, backwards from the end when `dst > src`, by
/// words when both pointers are word aligned (then they are at least 4
/// bytes apart, so a word copy cannot overwrite unread source bytes).
fn emit_memmove(a: &mut Asmb) -> Result<(), String> {
    let (backward, fwords, fbytes, bwords, bbytes, done) = (
        a.label(),
        a.label(),
        a.label(),
        a.label(),
        a.label(),
        a.label(),
    );
    a.i(Asm::DpReg {
        op: DpOp::Cmp,
        s: true,
        rd: Reg::PC,
        rn: R0,
        rm: R1,
        shift: Shift::NONE,
    })?;
    a.b(Some(Cond::Eq), done)?;
    a.b(Some(Cond::Hi), backward)?;
    // Forward.
    a.dp(DpOp::Orr, R3, R0, R1, Shift::NONE)?;
    a.tst_imm(R3, 3)?;
    a.b(Some(Cond::Ne), fbytes)?;
    a.bind(fwords, "fwords");
    a.cmp_imm(R2, 4)?;
    a.b(Some(Cond::Lo), fbytes)?;
    a.ldr(MemSize::Word, R3, R1)?;
    a.str(MemSize::Word, R3, R0)?;
    a.add_imm(R1, 4)?;
    a.add_imm(R0, 4)?;
    a.sub_imm(R2, 4)?;
    a.b(None, fwords)?;
    a.bind(fbytes, "fbytes");
    a.cmp_imm(R2, 0)?;
    a.b(Some(Cond::Eq), done)?;
    a.ldr(MemSize::Byte, R3, R1)?;
    a.str(MemSize::Byte, R3, R0)?;
    a.add_imm(R1, 1)?;
    a.add_imm(R0, 1)?;
    a.sub_imm(R2, 1)?;
    a.b(None, fbytes)?;
    // Backward, from one past the end.
    a.bind(backward, "backward");
    a.dp(DpOp::Add, R0, R0, R2, Shift::NONE)?;
    a.dp(DpOp::Add, R1, R1, R2, Shift::NONE)?;
    a.dp(DpOp::Orr, R3, R0, R1, Shift::NONE)?;
    a.tst_imm(R3, 3)?;
    a.b(Some(Cond::Ne), bbytes)?;
    a.bind(bwords, "bwords");
    a.cmp_imm(R2, 4)?;
    a.b(Some(Cond::Lo), bbytes)?;
    a.sub_imm(R1, 4)?;
    a.sub_imm(R0, 4)?;
    a.ldr(MemSize::Word, R3, R1)?;
    a.str(MemSize::Word, R3, R0)?;
    a.sub_imm(R2, 4)?;
    a.b(None, bwords)?;
    a.bind(bbytes, "bbytes");
    a.cmp_imm(R2, 0)?;
    a.b(Some(Cond::Eq), done)?;
    a.sub_imm(R1, 1)?;
    a.sub_imm(R0, 1)?;
    a.ldr(MemSize::Byte, R3, R1)?;
    a.str(MemSize::Byte, R3, R0)?;
    a.sub_imm(R2, 1)?;
    a.b(None, bbytes)?;
    a.bind(done, "done");
    a.i(Asm::Bx { rm: Reg::LR })
}
