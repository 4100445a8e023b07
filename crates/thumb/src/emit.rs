//! Emission: the MachBuffer (bytes, labels, branch fixups, relocations, data
//! ranges, listing), the AAPCS frame, and the expansion of allocated
//! [`MInst`]s into [`Asm`] instructions.

use crate::isa::asm::{Asm, Cond, DpOp, MemSize, Reg as PReg, Shift, VcvtOp};
use crate::isa::encode::modified_imm;
use crate::machinst::{BitOp, Cmp64, FCmpOps, MInst, Reg, Rhs};
use crate::output::{CompiledFunction, Reloc, RelocKind, RelocTarget};
use bulkhead_ir::TrapCode;
use core::fmt::Write;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Label(pub u32);

enum FixupKind {
    /// A PC-relative branch: re-encode `asm` with the resolved offset.
    /// `id` numbers the branches in emission order (see [`emit_relaxed`]).
    Branch {
        asm: Asm,
        listing: Option<usize>,
        id: u32,
    },
    /// A TBH table entry: `(target - table_base) / 2`.
    TbhEntry { table_base: u32 },
}

struct Fixup {
    offset: u32,
    label: Label,
    kind: FixupKind,
}

enum ListItem {
    Insn { asm: Asm, pred: Option<Cond> },
    Data { len: u32, what: String },
    Label(String),
}

/// Code under construction.
pub struct MachBuffer {
    code: Vec<u8>,
    relocs: Vec<Reloc>,
    data_ranges: Vec<(u32, u32)>,
    labels: Vec<Option<u32>>,
    fixups: Vec<Fixup>,
    listing: Option<Vec<(u32, ListItem)>>,
    /// Branches (by id) that must use the 32-bit form; all others start
    /// out as 16-bit branches.
    wide: std::collections::HashSet<u32>,
    next_branch: u32,
}

/// Why [`MachBuffer::finish`] failed.
pub enum FinishError {
    /// These 16-bit branches are out of range: emit again with them wide.
    Relax(Vec<u32>),
    Fatal(String),
}

/// Runs `emit` (which must be deterministic) into fresh MachBuffers until
/// every branch is in range: branches start in their 16-bit forms and those
/// that do not reach become 32-bit. Each round only widens branches, so
/// this terminates.
pub fn emit_relaxed(
    listing: bool,
    mut emit: impl FnMut(&mut MachBuffer) -> Result<(), String>,
) -> Result<CompiledFunction, String> {
    let mut wide = std::collections::HashSet::new();
    loop {
        let mut buf = MachBuffer::new(listing);
        buf.wide = wide.clone();
        emit(&mut buf)?;
        match buf.finish() {
            Ok(c) => return Ok(c),
            Err(FinishError::Fatal(e)) => return Err(e),
            Err(FinishError::Relax(ids)) => wide.extend(ids),
        }
    }
}

impl MachBuffer {
    pub fn new(listing: bool) -> MachBuffer {
        MachBuffer {
            code: Vec::new(),
            relocs: Vec::new(),
            data_ranges: Vec::new(),
            labels: Vec::new(),
            fixups: Vec::new(),
            listing: listing.then(Vec::new),
            wide: std::collections::HashSet::new(),
            next_branch: 0,
        }
    }

    pub fn offset(&self) -> u32 {
        self.code.len() as u32
    }

    pub fn new_label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() as u32 - 1)
    }

    pub fn bind(&mut self, label: Label, name: impl FnOnce() -> String) {
        self.labels[label.0 as usize] = Some(self.offset());
        let off = self.offset();
        if let Some(l) = &mut self.listing {
            l.push((off, ListItem::Label(name())));
        }
    }

    fn put_inner(&mut self, asm: Asm, pred: Option<Cond>) -> Result<Option<usize>, String> {
        let off = self.offset();
        asm.encode(&mut self.code)
            .map_err(|e| format!("cannot encode: {e}"))?;
        Ok(match &mut self.listing {
            Some(l) => {
                l.push((off, ListItem::Insn { asm, pred }));
                Some(l.len() - 1)
            }
            None => None,
        })
    }

    pub fn put(&mut self, asm: Asm) -> Result<(), String> {
        self.put_inner(asm, None).map(|_| ())
    }

    /// An instruction inside an IT block (listed with its condition).
    pub fn put_pred(&mut self, asm: Asm, cond: Cond) -> Result<(), String> {
        self.put_inner(asm, Some(cond)).map(|_| ())
    }

    pub fn put_reloc(
        &mut self,
        asm: Asm,
        kind: RelocKind,
        target: RelocTarget,
        addend: i32,
    ) -> Result<(), String> {
        self.relocs.push(Reloc {
            offset: self.offset(),
            kind,
            target,
            addend,
        });
        self.put(asm)
    }

    /// A branch to `label`; the offset in `asm` is a placeholder. A
    /// `BranchW` is emitted in its 16-bit form unless relaxation asked for
    /// the wide one.
    pub fn put_branch(&mut self, asm: Asm, label: Label) -> Result<(), String> {
        let id = self.next_branch;
        self.next_branch += 1;
        let asm = match asm {
            Asm::BranchW { cond, .. } if !self.wide.contains(&id) => {
                Asm::BranchN { cond, offset: 0 }
            }
            other => other,
        };
        let offset = self.offset();
        let listing = self.put_inner(asm.clone(), None)?;
        self.fixups.push(Fixup {
            offset,
            label,
            kind: FixupKind::Branch { asm, listing, id },
        });
        Ok(())
    }

    /// A TBH table of `(label - table_base) / 2` halfwords.
    pub fn put_tbh_table(&mut self, table_base: u32, targets: &[Label]) {
        let start = self.offset();
        for &label in targets {
            let offset = self.offset();
            self.fixups.push(Fixup {
                offset,
                label,
                kind: FixupKind::TbhEntry { table_base },
            });
            self.code.extend_from_slice(&[0, 0]);
        }
        let end = self.offset();
        if end > start {
            self.data_ranges.push((start, end));
            if let Some(l) = &mut self.listing {
                l.push((
                    start,
                    ListItem::Data {
                        len: end - start,
                        what: format!("tbh table, {} entries", targets.len()),
                    },
                ));
            }
        }
    }

    /// Resolves fixups and produces the function.
    pub fn finish(mut self) -> Result<CompiledFunction, FinishError> {
        let mut relax = Vec::new();
        for f in core::mem::take(&mut self.fixups) {
            let target = self.labels[f.label.0 as usize]
                .ok_or_else(|| FinishError::Fatal("internal error: unbound label".into()))?;
            match f.kind {
                FixupKind::Branch {
                    mut asm,
                    listing,
                    id,
                } => {
                    let rel = target as i64 - (f.offset as i64 + 4);
                    asm.set_branch_offset(rel as i32);
                    let mut bytes = Vec::new();
                    if let Err(e) = asm.encode(&mut bytes) {
                        if matches!(asm, Asm::BranchN { .. }) {
                            relax.push(id);
                            continue;
                        }
                        return Err(FinishError::Fatal(format!("branch out of range: {e}")));
                    }
                    let at = f.offset as usize;
                    self.code[at..at + bytes.len()].copy_from_slice(&bytes);
                    if let (Some(l), Some(i)) = (&mut self.listing, listing) {
                        l[i].1 = ListItem::Insn { asm, pred: None };
                    }
                }
                FixupKind::TbhEntry { table_base } => {
                    let dist = target as i64 - table_base as i64;
                    if dist < 0 || dist % 2 != 0 || dist / 2 > 0xffff {
                        return Err(FinishError::Fatal(format!(
                            "jump table target at distance {dist} bytes is out of TBH range (0..=131070, even)"
                        )));
                    }
                    let at = f.offset as usize;
                    self.code[at..at + 2].copy_from_slice(&((dist / 2) as u16).to_le_bytes());
                }
            }
        }
        if !relax.is_empty() {
            return Err(FinishError::Relax(relax));
        }
        let asm = self
            .listing
            .as_ref()
            .map(|l| render_listing(&self.code, l, &self.relocs));
        Ok(CompiledFunction {
            code: self.code,
            relocs: self.relocs,
            data_ranges: self.data_ranges,
            dominant_memory: None,
            asm,
        })
    }
}

fn reloc_name(r: &Reloc) -> String {
    let kind = match r.kind {
        RelocKind::ThumbCall => "R_ARM_THM_CALL",
        RelocKind::ThumbJump24 => "R_ARM_THM_JUMP24",
        RelocKind::ThumbMovwAbsNc => "R_ARM_THM_MOVW_ABS_NC",
        RelocKind::ThumbMovtAbs => "R_ARM_THM_MOVT_ABS",
        RelocKind::Abs32 => "R_ARM_ABS32",
    };
    let target = match &r.target {
        RelocTarget::Function(n) => format!("func{n}"),
        RelocTarget::MemoryBase(k) => format!("mem{k}"),
        RelocTarget::MemorySize(k) => format!("mem{k}_size"),
        RelocTarget::Global(n) => format!("global{n}"),
        RelocTarget::DataSegment(n) => format!("data{n}"),
        RelocTarget::Runtime(name) => format!("runtime.{name}"),
        RelocTarget::MemoryMax(k) => format!("mem{k}_max"),
        RelocTarget::Table(t) => format!("table{t}"),
        RelocTarget::TableSize(t) => format!("table{t}_size"),
        RelocTarget::FuncDescriptor(n) => format!("func{n}_descriptor"),
        RelocTarget::TypeId(n) => format!("type{n}_id"),
        RelocTarget::StackLimit => "stack_limit".to_string(),
    };
    if r.addend != 0 {
        format!("{kind} {target}{:+}", r.addend)
    } else {
        format!("{kind} {target}")
    }
}

fn render_listing(code: &[u8], items: &[(u32, ListItem)], relocs: &[Reloc]) -> String {
    let mut s = String::new();
    for (off, item) in items {
        match item {
            ListItem::Label(name) => {
                let _ = writeln!(s, "{name}:");
            }
            ListItem::Insn { asm, pred } => {
                let len = asm.size() as usize;
                let bytes: String = code[*off as usize..*off as usize + len]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                let text = match pred {
                    Some(c) => asm.display_predicated(*c).to_string(),
                    None => asm.to_string(),
                };
                let _ = write!(s, "  {off:6x}:  {bytes:<12}  {text}");
                for r in relocs.iter().filter(|r| r.offset == *off) {
                    let _ = write!(s, "  @ {}", reloc_name(r));
                }
                s.push('\n');
            }
            ListItem::Data { len, what } => {
                let bytes: String = code[*off as usize..(*off + *len) as usize]
                    .chunks(2)
                    .map(|c| format!("{:#06x}", u16::from_le_bytes([c[0], c[1]])))
                    .collect::<Vec<_>>()
                    .join(", ");
                let _ = writeln!(s, "  {off:6x}:  .hword {bytes}  @ {what}");
            }
        }
    }
    s
}

/// The AAPCS frame of one function:
///
/// ```text
///   caller's SP ->  incoming stack arguments (args 4..)
///                   pushed registers (r4-r11 as used, lr)
///                   spill slots
///            SP ->  outgoing stack arguments
/// ```
/// `pushed * 4 + frame_size` is a multiple of 8, so SP is 8-byte aligned at
/// calls.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Registers pushed in the prologue (bit n = rn; includes LR).
    pub push_mask: u16,
    /// Bytes allocated below the pushed registers (`sub sp, #frame_size`).
    pub frame_size: u32,
    pub outgoing_args: u32,
    /// The memory whose base is loaded into R11 in the prologue.
    pub pinned: Option<u32>,
}

impl Frame {
    pub fn new(
        callee_saved_used: u16,
        has_calls: bool,
        outgoing_args: u32,
        spill_slots: u32,
        pinned: Option<u32>,
    ) -> Frame {
        let mut push_mask = callee_saved_used;
        if pinned.is_some() {
            push_mask |= 1 << 11;
        }
        if has_calls || push_mask != 0 {
            push_mask |= 1 << 14;
        }
        let pushed = push_mask.count_ones() * 4;
        let mut frame_size = outgoing_args + 4 * spill_slots;
        if !(pushed + frame_size).is_multiple_of(8) {
            frame_size += 4;
        }
        Frame {
            push_mask,
            frame_size,
            outgoing_args,
            pinned,
        }
    }

    fn pushed_bytes(&self) -> u32 {
        self.push_mask.count_ones() * 4
    }

    pub fn spill_offset(&self, slot: usize) -> u32 {
        self.outgoing_args + 4 * slot as u32
    }

    pub fn incoming_arg_offset(&self, slot: u32) -> u32 {
        self.frame_size + self.pushed_bytes() + 4 * slot
    }

    pub fn emit_prologue(&self, buf: &mut MachBuffer) -> Result<(), String> {
        if self.push_mask != 0 {
            buf.put(Asm::Push {
                regs: self.push_mask,
            })?;
        }
        if self.frame_size > 0 {
            let imm = u16::try_from(self.frame_size)
                .ok()
                .filter(|&i| i <= 4095)
                .ok_or_else(|| {
                    format!(
                        "stack frame of {} bytes exceeds the 4095-byte limit of this backend",
                        self.frame_size
                    )
                })?;
            buf.put(Asm::SubSp { imm })?;
        }
        if let Some(k) = self.pinned {
            let r11 = PReg::R11;
            buf.put_reloc(
                Asm::MovW { rd: r11, imm16: 0 },
                RelocKind::ThumbMovwAbsNc,
                RelocTarget::MemoryBase(k),
                0,
            )?;
            buf.put_reloc(
                Asm::MovT { rd: r11, imm16: 0 },
                RelocKind::ThumbMovtAbs,
                RelocTarget::MemoryBase(k),
                0,
            )?;
        }
        Ok(())
    }

    /// Whether the prologue checks the stack limit: every function that
    /// pushes registers or allocates stack (all non-leaf functions push
    /// LR); leaf functions with an empty frame cannot overflow.
    pub fn needs_stack_check(&self) -> bool {
        self.push_mask != 0 || self.frame_size > 0
    }

    /// Bytes the prologue moves SP down by.
    pub fn total_bytes(&self) -> u32 {
        self.pushed_bytes() + self.frame_size
    }

    /// The stack-limit check, first thing in the prologue (before anything
    /// is pushed): trap (branch to `trap`, a `udf #9` island) unless
    /// `SP - total_bytes >= limit`, i.e. `SP >= limit + total_bytes`:
    ///
    /// ```text
    ///   movw r12, #:lower16:limit ; movt r12, #:upper16:limit
    ///   ldr.w r12, [r12]
    ///   addw r12, r12, #total_bytes
    ///   cmp.w sp, r12
    ///   blo trap
    /// ```
    /// R12 (IP) is free at entry under the AAPCS (not an argument register,
    /// may be corrupted by veneers).
    pub fn emit_stack_check(&self, buf: &mut MachBuffer, trap: Label) -> Result<(), String> {
        let ip = PReg::R12;
        buf.put_reloc(
            Asm::MovW { rd: ip, imm16: 0 },
            RelocKind::ThumbMovwAbsNc,
            RelocTarget::StackLimit,
            0,
        )?;
        buf.put_reloc(
            Asm::MovT { rd: ip, imm16: 0 },
            RelocKind::ThumbMovtAbs,
            RelocTarget::StackLimit,
            0,
        )?;
        buf.put(Asm::Ldr {
            size: MemSize::Word,
            signed: false,
            rt: ip,
            rn: ip,
            imm: 0,
        })?;
        // The frame is at most 4095 + 40 bytes (emit_prologue refuses
        // more), so at most two ADDWs.
        let mut rest = self.total_bytes();
        while rest > 0 {
            let step = rest.min(4095);
            buf.put(Asm::AddW {
                rd: ip,
                rn: ip,
                imm12: step as u16,
            })?;
            rest -= step;
        }
        buf.put(Asm::DpReg {
            op: DpOp::Cmp,
            s: true,
            rd: PReg::PC,
            rn: PReg::SP,
            rm: ip,
            shift: Shift::NONE,
        })?;
        buf.put_branch(
            Asm::BranchW {
                cond: Some(Cond::Lo),
                offset: 0,
            },
            trap,
        )
    }

    pub fn emit_epilogue(&self, buf: &mut MachBuffer) -> Result<(), String> {
        if self.frame_size > 0 {
            buf.put(Asm::AddSp {
                imm: self.frame_size as u16,
            })?;
        }
        if self.push_mask & (1 << 14) != 0 {
            buf.put(Asm::Pop {
                regs: (self.push_mask & !(1 << 14)) | (1 << 15),
            })?;
        } else {
            if self.push_mask != 0 {
                buf.put(Asm::Pop {
                    regs: self.push_mask,
                })?;
            }
            buf.put(Asm::Bx { rm: PReg::LR })?;
        }
        Ok(())
    }
}

fn r(x: Reg) -> PReg {
    PReg(x.hw())
}

/// `cmp rn, rhs`.
fn put_cmp(buf: &mut MachBuffer, rn: PReg, rhs: Rhs) -> Result<(), String> {
    match rhs {
        Rhs::Reg { r: rm } => buf.put(Asm::DpReg {
            op: DpOp::Cmp,
            s: true,
            rd: PReg::PC,
            rn,
            rm: r(rm),
            shift: Shift::NONE,
        }),
        Rhs::Imm { imm } => buf.put(Asm::DpImm {
            op: DpOp::Cmp,
            s: true,
            rd: PReg::PC,
            rn,
            imm,
        }),
        Rhs::NegImm { imm } => buf.put(Asm::DpImm {
            op: DpOp::Cmn,
            s: true,
            rd: PReg::PC,
            rn,
            imm,
        }),
    }
}

/// `cmp alo, blo; sbcs tmp, ahi, bhi`: N, V and C as for the 64-bit
/// subtraction `a - b` (signed lt/ge, unsigned lo/hs); Z only reflects the
/// high word.
fn put_cmp64(buf: &mut MachBuffer, c: &Cmp64, tmp: PReg) -> Result<(), String> {
    buf.put(Asm::DpReg {
        op: DpOp::Cmp,
        s: true,
        rd: PReg::PC,
        rn: r(c.alo),
        rm: r(c.blo),
        shift: Shift::NONE,
    })?;
    buf.put(Asm::DpReg {
        op: DpOp::Sbc,
        s: true,
        rd: tmp,
        rn: r(c.ahi),
        rm: r(c.bhi),
        shift: Shift::NONE,
    })
}

/// `vmov s0, a; vmov s1, b; vcmp.f32 s0, s1; vmrs APSR_nzcv, fpscr`: the
/// APSR flags of the f32 comparison `a - b` (equal: ZC, less: N,
/// greater: C, unordered: CV), so that eq/ne/mi/ls/gt/ge are exactly the
/// IEEE predicates eq/ne(unordered true)/lt/le/gt/ge.
/// f64 operands (`ahi`/`bhi` present) go to d0/d1 and use `vcmp.f64`.
fn put_vcmp(buf: &mut MachBuffer, c: &FCmpOps) -> Result<(), String> {
    match (c.ahi, c.bhi) {
        (Some(ahi), Some(bhi)) => {
            buf.put(Asm::VmovToD { dm: 0, rt: r(c.a), rt2: r(ahi) })?;
            buf.put(Asm::VmovToD { dm: 1, rt: r(c.b), rt2: r(bhi) })?;
            buf.put(Asm::Vcmp64 { dd: 0, dm: 1 })?;
        }
        (None, None) => {
            buf.put(Asm::VmovToS { sn: 0, rt: r(c.a) })?;
            buf.put(Asm::VmovToS { sn: 1, rt: r(c.b) })?;
            buf.put(Asm::Vcmp { sd: 0, sm: 1 })?;
        }
        _ => return Err("internal error: f32/f64 comparison operands mixed".into()),
    }
    buf.put(Asm::VmrsApsr)
}

/// After a comparison: `rd = cond ? 1 : 0`.
fn put_set(buf: &mut MachBuffer, cond: Cond, rd: PReg) -> Result<(), String> {
    buf.put(Asm::It {
        firstcond: cond,
        mask: it_mask(cond, true),
    })?;
    buf.put_pred(
        Asm::DpImm {
            op: DpOp::Mov,
            s: false,
            rd,
            rn: PReg::PC,
            imm: 1,
        },
        cond,
    )?;
    buf.put_pred(
        Asm::DpImm {
            op: DpOp::Mov,
            s: false,
            rd,
            rn: PReg::PC,
            imm: 0,
        },
        cond.invert(),
    )
}

/// After a comparison: `rd = cond ? rt : rf`.
fn put_select(buf: &mut MachBuffer, cond: Cond, rd: PReg, rt: PReg, rf: PReg) -> Result<(), String> {
    match (rd == rt, rd == rf) {
        (true, true) => {}
        (true, false) => {
            let c = cond.invert();
            buf.put(Asm::It {
                firstcond: c,
                mask: it_mask(c, false),
            })?;
            buf.put_pred(Asm::MovReg { rd, rm: rf }, c)?;
        }
        (false, true) => {
            buf.put(Asm::It {
                firstcond: cond,
                mask: it_mask(cond, false),
            })?;
            buf.put_pred(Asm::MovReg { rd, rm: rt }, cond)?;
        }
        (false, false) => {
            buf.put(Asm::It {
                firstcond: cond,
                mask: it_mask(cond, true),
            })?;
            buf.put_pred(Asm::MovReg { rd, rm: rt }, cond)?;
            buf.put_pred(Asm::MovReg { rd, rm: rf }, cond.invert())?;
        }
    }
    Ok(())
}

/// Any 32-bit constant into `rd`.
pub fn put_mov_imm(buf: &mut MachBuffer, rd: PReg, imm: u32) -> Result<(), String> {
    if modified_imm(imm).is_some() {
        buf.put(Asm::DpImm {
            op: DpOp::Mov,
            s: false,
            rd,
            rn: PReg::PC,
            imm,
        })
    } else if modified_imm(!imm).is_some() {
        buf.put(Asm::DpImm {
            op: DpOp::Mvn,
            s: false,
            rd,
            rn: PReg::PC,
            imm: !imm,
        })
    } else {
        buf.put(Asm::MovW {
            rd,
            imm16: imm as u16,
        })?;
        if imm >> 16 != 0 {
            buf.put(Asm::MovT {
                rd,
                imm16: (imm >> 16) as u16,
            })?;
        }
        Ok(())
    }
}

/// IT mask for "IT" (one instruction) or "ITE" (then, else).
fn it_mask(first: Cond, with_else: bool) -> u8 {
    if with_else {
        let x = !(first as u8) & 1;
        (x << 3) | 0b0100
    } else {
        0b1000
    }
}

/// Per-function emission state.
pub struct EmitCtx<'a> {
    pub frame: &'a Frame,
    pub block_labels: Vec<Label>,
    /// Where a branch to each block really goes: blocks that hold nothing
    /// but a jump forward to its destination (see [`forwarding`]).
    pub forward: Vec<u32>,
    /// Trap islands by code, created on demand.
    pub trap_labels: Vec<(TrapCode, Label)>,
}

impl EmitCtx<'_> {
    pub fn trap_label(&mut self, buf: &mut MachBuffer, code: TrapCode) -> Label {
        if let Some(&(_, l)) = self.trap_labels.iter().find(|(c, _)| *c == code) {
            return l;
        }
        let l = buf.new_label();
        self.trap_labels.push((code, l));
        l
    }

    pub fn emit_trap_islands(&mut self, buf: &mut MachBuffer) -> Result<(), String> {
        for &(code, label) in &self.trap_labels.clone() {
            buf.bind(label, || format!("trap_{}", code.name()));
            buf.put(Asm::Udf { imm8: code.code() })?;
        }
        Ok(())
    }

    /// Emits one allocated instruction. `next_block` is the block laid out
    /// right after the current one (branches to it fall through).
    pub fn emit_inst(
        &mut self,
        buf: &mut MachBuffer,
        inst: &MInst,
        next_block: Option<u32>,
    ) -> Result<(), String> {
        match *inst {
            MInst::Args { .. } => {}
            MInst::LoadArg { rd, slot } => {
                let imm = self.frame.incoming_arg_offset(slot) as i32;
                buf.put(Asm::Ldr {
                    size: MemSize::Word,
                    signed: false,
                    rt: r(rd),
                    rn: PReg::SP,
                    imm,
                })?;
            }
            MInst::AluRRR {
                op,
                rd,
                rn,
                rm,
                shift,
                amount,
            } => {
                let rn = if matches!(op, DpOp::Mov | DpOp::Mvn) {
                    PReg::PC
                } else {
                    r(rn)
                };
                let shift = if amount == 0 {
                    Shift::NONE
                } else {
                    Shift {
                        kind: shift,
                        amount,
                    }
                };
                buf.put(Asm::DpReg {
                    op,
                    s: false,
                    rd: r(rd),
                    rn,
                    rm: r(rm),
                    shift,
                })?;
            }
            MInst::AluRRI { op, rd, rn, imm } => {
                let rn = if matches!(op, DpOp::Mov | DpOp::Mvn) {
                    PReg::PC
                } else {
                    r(rn)
                };
                buf.put(Asm::DpImm {
                    op,
                    s: false,
                    rd: r(rd),
                    rn,
                    imm,
                })?;
            }
            MInst::AddImm12 { rd, rn, imm } => buf.put(Asm::AddW {
                rd: r(rd),
                rn: r(rn),
                imm12: imm,
            })?,
            MInst::SubImm12 { rd, rn, imm } => buf.put(Asm::SubW {
                rd: r(rd),
                rn: r(rn),
                imm12: imm,
            })?,
            MInst::Mov { rd, rm } => {
                if rd.hw() != rm.hw() {
                    buf.put(Asm::MovReg {
                        rd: r(rd),
                        rm: r(rm),
                    })?;
                }
            }
            MInst::MovImm { rd, imm } => put_mov_imm(buf, r(rd), imm)?,
            MInst::MovAddr {
                rd,
                ref target,
                addend,
            } => {
                buf.put_reloc(
                    Asm::MovW {
                        rd: r(rd),
                        imm16: addend as u16,
                    },
                    RelocKind::ThumbMovwAbsNc,
                    target.clone(),
                    addend,
                )?;
                buf.put_reloc(
                    Asm::MovT {
                        rd: r(rd),
                        imm16: (addend >> 16) as u16,
                    },
                    RelocKind::ThumbMovtAbs,
                    target.clone(),
                    addend,
                )?;
            }
            MInst::ShiftRR { kind, rd, rn, rm } => buf.put(Asm::ShiftReg {
                kind,
                s: false,
                rd: r(rd),
                rn: r(rn),
                rm: r(rm),
            })?,
            MInst::Mul { rd, rn, rm } => buf.put(Asm::Mul {
                rd: r(rd),
                rn: r(rn),
                rm: r(rm),
            })?,
            MInst::Mls { rd, rn, rm, ra } => buf.put(Asm::Mls {
                rd: r(rd),
                rn: r(rn),
                rm: r(rm),
                ra: r(ra),
            })?,
            MInst::Div { signed, rd, rn, rm } => {
                let (rd, rn, rm) = (r(rd), r(rn), r(rm));
                buf.put(if signed {
                    Asm::Sdiv { rd, rn, rm }
                } else {
                    Asm::Udiv { rd, rn, rm }
                })?
            }
            MInst::Bit { op, rd, rm } => {
                let (rd, rm) = (r(rd), r(rm));
                buf.put(match op {
                    BitOp::Clz => Asm::Clz { rd, rm },
                    BitOp::Rbit => Asm::Rbit { rd, rm },
                    BitOp::Sxtb => Asm::Sxtb { rd, rm },
                    BitOp::Sxth => Asm::Sxth { rd, rm },
                })?
            }
            MInst::CmpSet { cond, rd, rn, rhs } => {
                put_cmp(buf, r(rn), rhs)?;
                put_set(buf, cond, r(rd))?;
            }
            MInst::CmpSet64 { cond, rd, ref c } => {
                put_cmp64(buf, c, r(rd))?;
                put_set(buf, cond, r(rd))?;
            }
            MInst::CmpSelect64 {
                cond,
                rd,
                ref c,
                tmp,
                rt,
                rf,
            } => {
                put_cmp64(buf, c, r(tmp))?;
                put_select(buf, cond, r(rd), r(rt), r(rf))?;
            }
            MInst::TrapIf64 {
                cond,
                ref c,
                tmp,
                code,
            } => {
                put_cmp64(buf, c, r(tmp))?;
                let l = self.trap_label(buf, code);
                buf.put_branch(
                    Asm::BranchW {
                        cond: Some(cond),
                        offset: 0,
                    },
                    l,
                )?;
            }
            MInst::Mla { rd, rn, rm, ra } => buf.put(Asm::Mla {
                rd: r(rd),
                rn: r(rn),
                rm: r(rm),
                ra: r(ra),
            })?,
            MInst::Umull { rdlo, rdhi, rn, rm } => buf.put(Asm::Umull {
                rdlo: r(rdlo),
                rdhi: r(rdhi),
                rn: r(rn),
                rm: r(rm),
            })?,
            MInst::Alu64 {
                sub,
                dlo,
                dhi,
                alo,
                ahi,
                blo,
                bhi,
            } => {
                let (lo_op, hi_op) = if sub {
                    (DpOp::Sub, DpOp::Sbc)
                } else {
                    (DpOp::Add, DpOp::Adc)
                };
                buf.put(Asm::DpReg {
                    op: lo_op,
                    s: true,
                    rd: r(dlo),
                    rn: r(alo),
                    rm: r(blo),
                    shift: Shift::NONE,
                })?;
                buf.put(Asm::DpReg {
                    op: hi_op,
                    s: false,
                    rd: r(dhi),
                    rn: r(ahi),
                    rm: r(bhi),
                    shift: Shift::NONE,
                })?;
            }
            MInst::CmpSelect {
                cond,
                rd,
                rn,
                rhs,
                rt,
                rf,
            } => {
                put_cmp(buf, r(rn), rhs)?;
                put_select(buf, cond, r(rd), r(rt), r(rf))?;
            }
            MInst::Load {
                size,
                signed,
                rt,
                rn,
                imm,
            } => buf.put(Asm::Ldr {
                size,
                signed,
                rt: r(rt),
                rn: r(rn),
                imm,
            })?,
            MInst::LoadReg {
                size,
                signed,
                rt,
                rn,
                rm,
            } => buf.put(Asm::LdrReg {
                size,
                signed,
                rt: r(rt),
                rn: r(rn),
                rm: r(rm),
                shift: 0,
            })?,
            MInst::Store { size, rt, rn, imm } => buf.put(Asm::Str {
                size,
                rt: r(rt),
                rn: r(rn),
                imm,
            })?,
            MInst::StoreReg { size, rt, rn, rm } => buf.put(Asm::StrReg {
                size,
                rt: r(rt),
                rn: r(rn),
                rm: r(rm),
                shift: 0,
            })?,
            MInst::StoreOutArg { rt, offset } => buf.put(Asm::Str {
                size: MemSize::Word,
                rt: r(rt),
                rn: PReg::SP,
                imm: offset as i32,
            })?,
            MInst::Call { ref target, .. } => {
                // REL: the addend (-4: the BL's PC is 4 bytes ahead) is also
                // encoded in the instruction, as assemblers do.
                buf.put_reloc(
                    Asm::Bl { offset: -4 },
                    RelocKind::ThumbCall,
                    target.clone(),
                    -4,
                )?;
            }
            MInst::CallInd { callee, .. } => buf.put(Asm::Blx { rm: r(callee) })?,
            MInst::TrapIf {
                cond,
                rn,
                rhs,
                code,
            } => {
                put_cmp(buf, r(rn), rhs)?;
                let l = self.trap_label(buf, code);
                buf.put_branch(
                    Asm::BranchW {
                        cond: Some(cond),
                        offset: 0,
                    },
                    l,
                )?;
            }
            MInst::BoundsCheck {
                index,
                end,
                size,
                tmp,
            } => {
                let (index, size, tmp) = (r(index), r(size), r(tmp));
                let l = self.trap_label(buf, TrapCode::MemoryOutOfBounds);
                match end {
                    Rhs::Imm { imm: 0 } => {
                        buf.put(Asm::DpReg {
                            op: DpOp::Cmp,
                            s: true,
                            rd: PReg::PC,
                            rn: index,
                            rm: size,
                            shift: Shift::NONE,
                        })?;
                    }
                    Rhs::Imm { imm } => {
                        buf.put(Asm::DpImm {
                            op: DpOp::Add,
                            s: true,
                            rd: tmp,
                            rn: index,
                            imm,
                        })?;
                        buf.put_branch(
                            Asm::BranchW {
                                cond: Some(Cond::Hs),
                                offset: 0,
                            },
                            l,
                        )?;
                        buf.put(Asm::DpReg {
                            op: DpOp::Cmp,
                            s: true,
                            rd: PReg::PC,
                            rn: tmp,
                            rm: size,
                            shift: Shift::NONE,
                        })?;
                    }
                    Rhs::Reg { r: e } => {
                        buf.put(Asm::DpReg {
                            op: DpOp::Add,
                            s: true,
                            rd: tmp,
                            rn: index,
                            rm: r(e),
                            shift: Shift::NONE,
                        })?;
                        buf.put_branch(
                            Asm::BranchW {
                                cond: Some(Cond::Hs),
                                offset: 0,
                            },
                            l,
                        )?;
                        buf.put(Asm::DpReg {
                            op: DpOp::Cmp,
                            s: true,
                            rd: PReg::PC,
                            rn: tmp,
                            rm: size,
                            shift: Shift::NONE,
                        })?;
                    }
                    Rhs::NegImm { .. } => {
                        return Err("internal error: negative bounds-check end".into())
                    }
                }
                buf.put_branch(
                    Asm::BranchW {
                        cond: Some(Cond::Hi),
                        offset: 0,
                    },
                    l,
                )?;
            }
            MInst::TrapInline { code } | MInst::Trap { code } => {
                buf.put(Asm::Udf { imm8: code.code() })?
            }
            MInst::Jump { target } => {
                let target = self.forward[target as usize];
                if next_block != Some(target) {
                    buf.put_branch(
                        Asm::BranchW {
                            cond: None,
                            offset: 0,
                        },
                        self.block_labels[target as usize],
                    )?;
                }
            }
            MInst::CondBr {
                cond,
                rn,
                rhs,
                taken,
                not_taken,
            } => {
                put_cmp(buf, r(rn), rhs)?;
                self.put_cond_branch(buf, cond, taken, not_taken, next_block)?;
            }
            MInst::CondBr64 {
                cond,
                ref c,
                tmp,
                taken,
                not_taken,
            } => {
                put_cmp64(buf, c, r(tmp))?;
                self.put_cond_branch(buf, cond, taken, not_taken, next_block)?;
            }
            MInst::FCondBr {
                cond,
                c,
                taken,
                not_taken,
            } => {
                put_vcmp(buf, &c)?;
                self.put_cond_branch(buf, cond, taken, not_taken, next_block)?;
            }
            MInst::VfpArith { op, rd, rn, rm } => {
                buf.put(Asm::VmovToS { sn: 0, rt: r(rn) })?;
                buf.put(Asm::VmovToS { sn: 1, rt: r(rm) })?;
                buf.put(Asm::VArith {
                    op,
                    sd: 0,
                    sn: 0,
                    sm: 1,
                })?;
                buf.put(Asm::VmovFromS { rt: r(rd), sn: 0 })?;
            }
            MInst::VfpUnary { op, rd, rm } => {
                buf.put(Asm::VmovToS { sn: 0, rt: r(rm) })?;
                buf.put(Asm::VUnary { op, sd: 0, sm: 0 })?;
                buf.put(Asm::VmovFromS { rt: r(rd), sn: 0 })?;
            }
            MInst::FCmpSet { cond, rd, c } => {
                put_vcmp(buf, &c)?;
                put_set(buf, cond, r(rd))?;
            }
            MInst::FCmpSelect {
                cond,
                rd,
                c,
                rt,
                rf,
            } => {
                put_vcmp(buf, &c)?;
                put_select(buf, cond, r(rd), r(rt), r(rf))?;
            }
            MInst::VfpArith64 {
                op,
                dlo,
                dhi,
                nlo,
                nhi,
                mlo,
                mhi,
            } => {
                buf.put(Asm::VmovToD { dm: 0, rt: r(nlo), rt2: r(nhi) })?;
                buf.put(Asm::VmovToD { dm: 1, rt: r(mlo), rt2: r(mhi) })?;
                buf.put(Asm::VArith64 {
                    op,
                    dd: 0,
                    dn: 0,
                    dm: 1,
                })?;
                buf.put(Asm::VmovFromD { rt: r(dlo), rt2: r(dhi), dm: 0 })?;
            }
            MInst::VfpSqrt64 { dlo, dhi, mlo, mhi } => {
                buf.put(Asm::VmovToD { dm: 0, rt: r(mlo), rt2: r(mhi) })?;
                buf.put(Asm::VSqrt64 { dd: 0, dm: 0 })?;
                buf.put(Asm::VmovFromD { rt: r(dlo), rt2: r(dhi), dm: 0 })?;
            }
            MInst::VfpCvt {
                op,
                rd,
                rd_hi,
                rm,
                rm_hi,
            } => {
                // Operand in s0 or d0, result in s0 or d0 (d0 = s1:s0, so
                // `vcvt.f64.s32 d0, s0` reads s0 before writing d0).
                match rm_hi {
                    Some(hi) => buf.put(Asm::VmovToD { dm: 0, rt: r(rm), rt2: r(hi) })?,
                    None => buf.put(Asm::VmovToS { sn: 0, rt: r(rm) })?,
                }
                let double_result = matches!(op, VcvtOp::S32ToF64 | VcvtOp::U32ToF64 | VcvtOp::F32ToF64);
                if double_result != rd_hi.is_some() || double_result == rm_hi.is_some() {
                    return Err(format!("internal error: {op:?} with the wrong operand widths"));
                }
                buf.put(Asm::VCvt { op, d: 0, m: 0 })?;
                match rd_hi {
                    Some(hi) => buf.put(Asm::VmovFromD { rt: r(rd), rt2: r(hi), dm: 0 })?,
                    None => buf.put(Asm::VmovFromS { rt: r(rd), sn: 0 })?,
                }
            }
            MInst::VmovToS { s, rm } => buf.put(Asm::VmovToS { sn: s, rt: r(rm) })?,
            MInst::VmovFromS { rd, s } => buf.put(Asm::VmovFromS { rt: r(rd), sn: s })?,
            MInst::BrTable {
                idx,
                tmp,
                ref targets,
                default,
            } => {
                let idx = r(idx);
                let n = targets.len() as u32;
                if modified_imm(n).is_some() {
                    buf.put(Asm::DpImm {
                        op: DpOp::Cmp,
                        s: true,
                        rd: PReg::PC,
                        rn: idx,
                        imm: n,
                    })?;
                } else {
                    put_mov_imm(buf, r(tmp), n)?;
                    buf.put(Asm::DpReg {
                        op: DpOp::Cmp,
                        s: true,
                        rd: PReg::PC,
                        rn: idx,
                        rm: r(tmp),
                        shift: Shift::NONE,
                    })?;
                }
                buf.put_branch(
                    Asm::BranchW {
                        cond: Some(Cond::Hs),
                        offset: 0,
                    },
                    self.block_labels[self.forward[default as usize] as usize],
                )?;
                buf.put(Asm::Tbh {
                    rn: PReg::PC,
                    rm: idx,
                })?;
                let base = buf.offset();
                let labels: Vec<Label> = targets
                    .iter()
                    .map(|&t| self.block_labels[t as usize])
                    .collect();
                buf.put_tbh_table(base, &labels);
            }
            MInst::StoreResult { rt, slot } => buf.put(Asm::Str {
                size: MemSize::Word,
                rt: r(rt),
                rn: PReg::SP,
                imm: self.frame.incoming_arg_offset(slot) as i32,
            })?,
            MInst::Ret { .. } => self.frame.emit_epilogue(buf)?,
            MInst::LoadOutArg { rd, offset } => buf.put(Asm::Ldr {
                size: MemSize::Word,
                signed: false,
                rt: r(rd),
                rn: PReg::SP,
                imm: offset as i32,
            })?,
        }
        Ok(())
    }

    /// The branches after a comparison: to `taken` if `cond` holds, else to
    /// `not_taken`, falling through to `next_block` where possible.
    fn put_cond_branch(
        &mut self,
        buf: &mut MachBuffer,
        cond: Cond,
        taken: u32,
        not_taken: u32,
        next_block: Option<u32>,
    ) -> Result<(), String> {
        let (taken, not_taken) = (
            self.forward[taken as usize],
            self.forward[not_taken as usize],
        );
        {
                if next_block == Some(taken) {
                    buf.put_branch(
                        Asm::BranchW {
                            cond: Some(cond.invert()),
                            offset: 0,
                        },
                        self.block_labels[not_taken as usize],
                    )?;
                } else {
                    buf.put_branch(
                        Asm::BranchW {
                            cond: Some(cond),
                            offset: 0,
                        },
                        self.block_labels[taken as usize],
                    )?;
                    if next_block != Some(not_taken) {
                        buf.put_branch(
                            Asm::BranchW {
                                cond: None,
                                offset: 0,
                            },
                            self.block_labels[not_taken as usize],
                        )?;
                    }
                }
            }
        Ok(())
    }
}

/// Jump threading: for each block, the block a branch to it can go to
/// directly. A block whose only content (after register allocation) is an
/// unconditional jump forwards to that jump's destination, transitively;
/// cycles of such blocks are left alone.
pub fn forwarding(vcode: &crate::vcode::VCode, out: &regalloc2::Output) -> Vec<u32> {
    let n = vcode.num_blocks();
    let direct: Vec<Option<u32>> = (0..n)
        .map(|b| {
            let mut items = out.block_insts_and_edits(vcode, regalloc2::Block::new(b));
            match (items.next(), items.next()) {
                (Some(regalloc2::InstOrEdit::Inst(i)), None) => match vcode.insts[i.index()] {
                    MInst::Jump { target } => Some(target),
                    _ => None,
                },
                _ => None,
            }
        })
        .collect();
    (0..n)
        .map(|b| {
            let mut t = b as u32;
            for _ in 0..n {
                match direct[t as usize] {
                    Some(next) => t = next,
                    None => return t,
                }
            }
            b as u32 // a cycle of empty blocks: keep it
        })
        .collect()
}

/// A regalloc2 move: register/register or register/spill slot.
pub fn emit_move(
    buf: &mut MachBuffer,
    frame: &Frame,
    from: regalloc2::Allocation,
    to: regalloc2::Allocation,
) -> Result<(), String> {
    match (from.as_reg(), from.as_stack(), to.as_reg(), to.as_stack()) {
        (Some(f), _, Some(t), _) => {
            if f.hw_enc() != t.hw_enc() {
                buf.put(Asm::MovReg {
                    rd: PReg(t.hw_enc() as u8),
                    rm: PReg(f.hw_enc() as u8),
                })?;
            }
        }
        (Some(f), _, _, Some(slot)) => buf.put(Asm::Str {
            size: MemSize::Word,
            rt: PReg(f.hw_enc() as u8),
            rn: PReg::SP,
            imm: frame.spill_offset(slot.index()) as i32,
        })?,
        (_, Some(slot), Some(t), _) => buf.put(Asm::Ldr {
            size: MemSize::Word,
            signed: false,
            rt: PReg(t.hw_enc() as u8),
            rn: PReg::SP,
            imm: frame.spill_offset(slot.index()) as i32,
        })?,
        _ => return Err(format!("internal error: unsupported move {from} -> {to}")),
    }
    Ok(())
}
