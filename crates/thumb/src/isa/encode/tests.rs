//! Unit tests of the encoder. The exhaustive cross-check against llvm-mc is
//! in `tests/encoding_llvm_mc.rs`; the byte vectors below were worked out by
//! hand from the ARMv7-M ARM field layouts (and agree with llvm-mc).

use super::*;
use crate::isa::asm::{Asm, Cond, DpOp, MemSize, Reg, Shift, ShiftKind};
use std::collections::BTreeSet;

fn enc(a: &Asm) -> Vec<u8> {
    let mut out = Vec::new();
    a.encode(&mut out).unwrap_or_else(|e| panic!("{a:?}: {e}"));
    assert_eq!(
        out.len() as u32,
        a.size(),
        "{a:?}: size() disagrees with the encoding"
    );
    out
}

/// Every value with a modified-immediate encoding, enumerated from the
/// ThumbExpandImm definition (independently of `modified_imm`).
fn encodable_values() -> BTreeSet<u32> {
    let mut set = BTreeSet::new();
    for b in 0u32..256 {
        set.insert(b);
        if b != 0 {
            set.insert(b * 0x0001_0001);
            set.insert(b * 0x0100_0100);
            set.insert(b * 0x0101_0101);
        }
    }
    for b in 0x80u32..0x100 {
        for rot in 8..32 {
            set.insert(b.rotate_right(rot));
        }
    }
    set
}

#[test]
fn modified_imm_finds_exactly_the_encodable_values() {
    let set = encodable_values();
    for &v in &set {
        let imm12 = modified_imm(v).unwrap_or_else(|| panic!("{v:#x} is encodable"));
        assert!(imm12 <= 0xFFF);
        assert_eq!(thumb_expand_imm(imm12), Some(v), "{v:#x} -> {imm12:#x}");
    }
    // Neighbours of encodable values and a pseudo-random sweep.
    let mut x: u32 = 0x1234_5678;
    let mut probes: Vec<u32> = set
        .iter()
        .flat_map(|&v| [v.wrapping_add(1), v.wrapping_sub(1), v ^ 0x100])
        .collect();
    for _ in 0..200_000 {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        probes.push(x);
        probes.push(x >> (x & 31));
    }
    for v in probes {
        assert_eq!(modified_imm(v).is_some(), set.contains(&v), "{v:#x}");
    }
}

#[test]
fn thumb_expand_imm_round_trips_every_field() {
    for imm12 in 0u16..0x1000 {
        if let Some(v) = thumb_expand_imm(imm12) {
            let back = modified_imm(v).expect("expanded value is encodable");
            assert_eq!(thumb_expand_imm(back), Some(v));
        }
    }
    assert_eq!(
        thumb_expand_imm(0x100),
        None,
        "splat of zero is UNPREDICTABLE"
    );
    assert_eq!(thumb_expand_imm(0x1000), None);
    assert_eq!(modified_imm(0xFF00_FF00), Some(0x2FF));
    assert_eq!(modified_imm(0x8000_0000), Some(0x400));
    assert_eq!(modified_imm(0x0000_0100), Some(0xF80));
    assert_eq!(modified_imm(0x0000_0101), None);
}

#[test]
fn hand_checked_vectors() {
    use Asm::*;
    let r = Reg;
    let cases: Vec<(Asm, &[u8])> = vec![
        // lsl.w r0, r1, #3 = MOV (register) with shift: EA4F 00C1.
        (
            DpReg {
                op: DpOp::Mov,
                s: false,
                rd: r(0),
                rn: r(0),
                rm: r(1),
                shift: Shift {
                    kind: ShiftKind::Lsl,
                    amount: 3,
                },
            },
            &[0x4f, 0xea, 0xc1, 0x00],
        ),
        // add.w r0, r1, r2, lsr #32: imm5 = 0 for 32.
        (
            DpReg {
                op: DpOp::Add,
                s: false,
                rd: r(0),
                rn: r(1),
                rm: r(2),
                shift: Shift {
                    kind: ShiftKind::Lsr,
                    amount: 32,
                },
            },
            &[0x01, 0xeb, 0x12, 0x00],
        ),
        // cmp.w sp, #4
        (
            DpImm {
                op: DpOp::Cmp,
                s: true,
                rd: r(0),
                rn: Reg::SP,
                imm: 4,
            },
            &[0xbd, 0xf1, 0x04, 0x0f],
        ),
        // and r0, r1, #0xff00ff00 (splat 0b10)
        (
            DpImm {
                op: DpOp::And,
                s: false,
                rd: r(0),
                rn: r(1),
                imm: 0xFF00_FF00,
            },
            &[0x01, 0xf0, 0xff, 0x20],
        ),
        (
            AddW {
                rd: r(0),
                rn: r(1),
                imm12: 4095,
            },
            &[0x01, 0xf6, 0xff, 0x70],
        ),
        (SubSp { imm: 16 }, &[0xad, 0xf2, 0x10, 0x0d]),
        // movw r1, #0xABCD: imm4 = A, i = 1, imm3 = 3, imm8 = CD.
        (
            MovW {
                rd: r(1),
                imm16: 0xABCD,
            },
            &[0x4a, 0xf6, 0xcd, 0x31],
        ),
        (
            MovT {
                rd: r(1),
                imm16: 0xABCD,
            },
            &[0xca, 0xf6, 0xcd, 0x31],
        ),
        (
            Mul {
                rd: r(0),
                rn: r(1),
                rm: r(0),
            },
            &[0x01, 0xfb, 0x00, 0xf0],
        ),
        (Sxtb { rd: r(0), rm: r(1) }, &[0x4f, 0xfa, 0x81, 0xf0]),
        (Rev { rd: r(0), rm: r(1) }, &[0x91, 0xfa, 0x81, 0xf0]),
        // ldr.w r0, [r1, #4095] (T3) and ldr r0, [r1, #-4] (T4: P=1 U=0 W=0).
        (
            Ldr {
                size: MemSize::Word,
                signed: false,
                rt: r(0),
                rn: r(1),
                imm: 4095,
            },
            &[0xd1, 0xf8, 0xff, 0x0f],
        ),
        (
            Ldr {
                size: MemSize::Word,
                signed: false,
                rt: r(0),
                rn: r(1),
                imm: -4,
            },
            &[0x51, 0xf8, 0x04, 0x0c],
        ),
        (
            Ldr {
                size: MemSize::Word,
                signed: false,
                rt: r(0),
                rn: Reg::PC,
                imm: -8,
            },
            &[0x5f, 0xf8, 0x08, 0x00],
        ),
        (
            Ldr {
                size: MemSize::Half,
                signed: true,
                rt: r(0),
                rn: r(1),
                imm: 4,
            },
            &[0xb1, 0xf9, 0x04, 0x00],
        ),
        (
            Ldrd {
                rt: r(0),
                rt2: r(1),
                rn: r(2),
                imm: -1020,
            },
            &[0x52, 0xe9, 0xff, 0x01],
        ),
        (
            Strd {
                rt: r(0),
                rt2: r(1),
                rn: r(2),
                imm: 1020,
            },
            &[0xc2, 0xe9, 0xff, 0x01],
        ),
        (Push { regs: 0x4010 }, &[0x10, 0xb5]),
        (Push { regs: 0x4110 }, &[0x2d, 0xe9, 0x10, 0x41]),
        // Single high register: str r8, [sp, #-4]!
        (Push { regs: 1 << 8 }, &[0x4d, 0xf8, 0x04, 0x8d]),
        (Pop { regs: 1 << 8 }, &[0x5d, 0xf8, 0x04, 0x8b]),
        (Pop { regs: 0x8100 }, &[0xbd, 0xe8, 0x00, 0x81]),
        (MovReg { rd: r(0), rm: r(1) }, &[0x08, 0x46]),
        (
            MovReg {
                rd: Reg::PC,
                rm: r(0),
            },
            &[0x87, 0x46],
        ),
        // Branches: offsets relative to PC (= address + 4).
        (
            BranchW {
                cond: None,
                offset: -8,
            },
            &[0xff, 0xf7, 0xfc, 0xbf],
        ),
        (
            BranchW {
                cond: None,
                offset: 16_777_214,
            },
            &[0xff, 0xf3, 0xff, 0x97],
        ),
        (
            BranchW {
                cond: Some(Cond::Eq),
                offset: -8,
            },
            &[0x3f, 0xf4, 0xfc, 0xaf],
        ),
        (
            BranchW {
                cond: Some(Cond::Eq),
                offset: 1_048_574,
            },
            &[0x3f, 0xf0, 0xff, 0xaf],
        ),
        (
            Bl {
                offset: -16_777_216,
            },
            &[0x00, 0xf4, 0x00, 0xd0],
        ),
        (Bl { offset: -8 }, &[0xff, 0xf7, 0xfc, 0xff]),
        (
            BranchN {
                cond: None,
                offset: 2046,
            },
            &[0xff, 0xe3],
        ),
        (
            BranchN {
                cond: Some(Cond::Eq),
                offset: -256,
            },
            &[0x80, 0xd0],
        ),
        (
            Cbz {
                nonzero: false,
                rn: r(0),
                offset: 126,
            },
            &[0xf8, 0xb3],
        ),
        (
            Cbz {
                nonzero: true,
                rn: r(7),
                offset: 4,
            },
            &[0x17, 0xb9],
        ),
        (
            It {
                firstcond: Cond::Gt,
                mask: 0b0101,
            },
            &[0xc5, 0xbf],
        ),
        (Tbb { rn: r(0), rm: r(1) }, &[0xd0, 0xe8, 0x01, 0xf0]),
        (Tbh { rn: r(0), rm: r(1) }, &[0xd0, 0xe8, 0x11, 0xf0]),
        (Udf { imm8: 2 }, &[0x02, 0xde]),
        (Bkpt { imm8: 255 }, &[0xff, 0xbe]),
        (Nop, &[0x00, 0xbf]),
    ];
    for (insn, bytes) in cases {
        assert_eq!(enc(&insn), bytes, "{insn:?} (`{insn}`)");
    }
}

#[test]
fn printed_syntax_follows_the_documented_conventions() {
    use Asm::*;
    let r = Reg;
    let cases: Vec<(Asm, &str)> = vec![
        (
            BranchW {
                cond: None,
                offset: -8,
            },
            "b.w #-8",
        ),
        (
            BranchW {
                cond: Some(Cond::Hs),
                offset: 4,
            },
            "bhs.w #4",
        ),
        (
            BranchN {
                cond: Some(Cond::Le),
                offset: 254,
            },
            "ble #254",
        ),
        (
            BranchN {
                cond: None,
                offset: 0,
            },
            "b #0",
        ),
        (Bl { offset: 1024 }, "bl #1024"),
        (
            Cbz {
                nonzero: true,
                rn: r(3),
                offset: 12,
            },
            "cbnz r3, #12",
        ),
        (
            It {
                firstcond: Cond::Gt,
                mask: 0b0101,
            },
            "ittet gt",
        ),
        (
            It {
                firstcond: Cond::Eq,
                mask: 0b1000,
            },
            "it eq",
        ),
        (
            It {
                firstcond: Cond::Ne,
                mask: 0b0100,
            },
            "ite ne",
        ),
        (
            DpReg {
                op: DpOp::Sub,
                s: true,
                rd: r(0),
                rn: Reg::SP,
                rm: r(12),
                shift: Shift {
                    kind: ShiftKind::Asr,
                    amount: 32,
                },
            },
            "subs.w r0, sp, r12, asr #32",
        ),
        (
            DpReg {
                op: DpOp::Cmp,
                s: true,
                rd: r(9),
                rn: r(1),
                rm: r(2),
                shift: Shift::NONE,
            },
            "cmp.w r1, r2",
        ),
        (
            DpReg {
                op: DpOp::Mov,
                s: true,
                rd: r(1),
                rn: r(9),
                rm: r(2),
                shift: Shift {
                    kind: ShiftKind::Ror,
                    amount: 7,
                },
            },
            "rors.w r1, r2, #7",
        ),
        (
            DpImm {
                op: DpOp::Adc,
                s: false,
                rd: r(1),
                rn: r(2),
                imm: 0x1FE,
            },
            "adc r1, r2, #0x1fe",
        ),
        (
            DpImm {
                op: DpOp::Orr,
                s: true,
                rd: r(1),
                rn: r(2),
                imm: 7,
            },
            "orrs.w r1, r2, #7",
        ),
        (
            Ldr {
                size: MemSize::Byte,
                signed: true,
                rt: r(1),
                rn: r(2),
                imm: -3,
            },
            "ldrsb r1, [r2, #-3]",
        ),
        (
            Ldr {
                size: MemSize::Word,
                signed: false,
                rt: r(1),
                rn: Reg::PC,
                imm: -3000,
            },
            "ldr.w r1, [pc, #-0xbb8]",
        ),
        (
            Str {
                size: MemSize::Half,
                rt: r(1),
                rn: Reg::SP,
                imm: 8,
            },
            "strh.w r1, [sp, #8]",
        ),
        (
            LdrReg {
                size: MemSize::Word,
                signed: false,
                rt: r(1),
                rn: r(2),
                rm: r(3),
                shift: 2,
            },
            "ldr.w r1, [r2, r3, lsl #2]",
        ),
        (Push { regs: 0x40F0 }, "push {r4, r5, r6, r7, lr}"),
        (Pop { regs: 0x8F00 }, "pop.w {r8, r9, r10, r11, pc}"),
        (SubSp { imm: 8 }, "subw sp, sp, #8"),
        (
            MovW {
                rd: r(0),
                imm16: 0xFFFF,
            },
            "movw r0, #0xffff",
        ),
        (Udf { imm8: 3 }, "udf #3"),
    ];
    for (insn, text) in cases {
        assert_eq!(insn.to_string(), text, "{insn:?}");
    }
    let add = DpReg {
        op: DpOp::Add,
        s: true,
        rd: r(0),
        rn: r(1),
        rm: r(2),
        shift: Shift::NONE,
    };
    assert_eq!(
        add.display_predicated(Cond::Eq).to_string(),
        "addseq.w r0, r1, r2"
    );
    assert_eq!(Nop.display_predicated(Cond::Le).to_string(), "nople");
}

#[test]
fn errors_name_the_instruction_and_the_reason() {
    let insn = Asm::Ldr {
        size: MemSize::Word,
        signed: false,
        rt: Reg(0),
        rn: Reg(1),
        imm: -256,
    };
    let mut out = Vec::new();
    let err = insn.encode(&mut out).unwrap_err();
    assert!(out.is_empty());
    assert_eq!(
        err.to_string(),
        "cannot encode `ldr r0, [r1, #-0x100]`: offset -256 out of range (allowed: -255..=4095)"
    );

    let err = Asm::Mul {
        rd: Reg::SP,
        rn: Reg(1),
        rm: Reg(2),
    }
    .encode(&mut out)
    .unwrap_err();
    assert_eq!(err.to_string(), "cannot encode `mul sp, r1, r2`: register sp not allowed as rd: SP and PC are UNPREDICTABLE here");

    let err = Asm::Push { regs: 0 }.encode(&mut out).unwrap_err();
    assert!(
        err.to_string()
            .contains("register list {} (0x0000) not encodable: empty"),
        "{err}"
    );

    let err = Asm::BranchN {
        cond: None,
        offset: 2047,
    }
    .encode(&mut out)
    .unwrap_err();
    assert_eq!(
        err.kind,
        EncodeErrorKind::ImmediateOutOfRange {
            operand: "branch offset",
            value: 2047,
            allowed: "even, -2048..=2046"
        }
    );
    let _: &dyn std::error::Error = &err;
}

#[test]
fn sizes_are_fixed_by_the_variant() {
    assert_eq!(
        Asm::BranchN {
            cond: None,
            offset: 1 << 30
        }
        .size(),
        2
    );
    assert_eq!(
        Asm::BranchW {
            cond: None,
            offset: 0
        }
        .size(),
        4
    );
    assert_eq!(Asm::Push { regs: 0x40FF }.size(), 2);
    assert_eq!(Asm::Push { regs: 0x0100 }.size(), 4);
    assert_eq!(Asm::Pop { regs: 0x80FF }.size(), 2);
    assert_eq!(Asm::Pop { regs: 0x4001 }.size(), 4);
    for form in [
        BranchForm::NarrowCond,
        BranchForm::NarrowUncond,
        BranchForm::WideCond,
        BranchForm::WideUncond,
        BranchForm::Bl,
        BranchForm::Cbz,
    ] {
        let (lo, hi) = form.range();
        assert!(branch_in_range(form, lo.into()) && branch_in_range(form, hi.into()));
        assert!(
            !branch_in_range(form, i64::from(lo) - 2) && !branch_in_range(form, i64::from(hi) + 2)
        );
        assert!(!branch_in_range(form, 1));
    }
}
