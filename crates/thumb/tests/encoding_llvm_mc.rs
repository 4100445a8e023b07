//! The Thumb-2 encoder checked against an independent oracle: LLVM's
//! assembler (`llvm-mc`, LLVM 14).
//!
//! For every variant of `Asm`, and for each operand form of it, the test
//! draws `CASES_PER_FORM` random instances (fixed-seed proptest RNG, with
//! the edge values of every range weighted in), prints them with `Display`,
//! assembles the whole batch with one `llvm-mc -show-encoding` run per
//! triple, and requires the bytes llvm-mc reports to equal `Asm::encode`'s.
//! llvm-mc must also accept every printed line without error or warning,
//! which checks the printer (`--emit asm`) at the same time.
//!
//! The legal register sets below are transcribed from the ARMv7-M ARM
//! (not from the encoder): each generator only draws operands the manual
//! allows, and the encoder must accept all of them.
//!
//! If llvm-mc is not installed the test fails (set `LLVM_MC` to its path if
//! it is not on `PATH` as `llvm-mc` or `llvm-mc-14`).

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

use bulkhead_thumb::isa::asm::{Asm, Cond, DpOp, MemSize, Reg, Shift, ShiftKind, VcvtOp, VfpOp, VfpUnaryOp};
use bulkhead_thumb::isa::encode::{branch_in_range, modified_imm, BranchForm, EncodeErrorKind};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

const CASES_PER_FORM: usize = 64;

/// Triples the whole batch is assembled for. thumbv7em (Cortex-M4/M7) is
/// the main target; v7-M (M3) and v8-M Mainline (M33) share these encodings.
const TRIPLES: &[(&str, &[&str])] = &[
    ("thumbv7em-none-eabi", &["-mattr=+thumb2"]),
    ("thumbv7m-none-eabi", &[]),
    ("thumbv8m.main-none-eabi", &[]),
];

// ---------------------------------------------------------------------------
// Variant coverage
// ---------------------------------------------------------------------------

/// Exhaustive (no wildcard): a new `Asm` variant fails to compile here until
/// it is named, and `ALL_VARIANTS` plus a generator must follow.
fn variant_name(a: &Asm) -> &'static str {
    match a {
        Asm::DpReg { .. } => "DpReg",
        Asm::DpImm { .. } => "DpImm",
        Asm::AddW { .. } => "AddW",
        Asm::SubW { .. } => "SubW",
        Asm::MovW { .. } => "MovW",
        Asm::MovT { .. } => "MovT",
        Asm::ShiftReg { .. } => "ShiftReg",
        Asm::Mul { .. } => "Mul",
        Asm::Mla { .. } => "Mla",
        Asm::Mls { .. } => "Mls",
        Asm::Umull { .. } => "Umull",
        Asm::Smull { .. } => "Smull",
        Asm::Umlal { .. } => "Umlal",
        Asm::Sdiv { .. } => "Sdiv",
        Asm::Udiv { .. } => "Udiv",
        Asm::Clz { .. } => "Clz",
        Asm::Rbit { .. } => "Rbit",
        Asm::Rev { .. } => "Rev",
        Asm::Sxtb { .. } => "Sxtb",
        Asm::Sxth { .. } => "Sxth",
        Asm::Uxtb { .. } => "Uxtb",
        Asm::Uxth { .. } => "Uxth",
        Asm::Ldr { .. } => "Ldr",
        Asm::Str { .. } => "Str",
        Asm::LdrReg { .. } => "LdrReg",
        Asm::StrReg { .. } => "StrReg",
        Asm::Ldrd { .. } => "Ldrd",
        Asm::Strd { .. } => "Strd",
        Asm::Push { .. } => "Push",
        Asm::Pop { .. } => "Pop",
        Asm::SubSp { .. } => "SubSp",
        Asm::AddSp { .. } => "AddSp",
        Asm::MovReg { .. } => "MovReg",
        Asm::BranchW { .. } => "BranchW",
        Asm::BranchN { .. } => "BranchN",
        Asm::Bl { .. } => "Bl",
        Asm::Bx { .. } => "Bx",
        Asm::Blx { .. } => "Blx",
        Asm::Cbz { .. } => "Cbz",
        Asm::It { .. } => "It",
        Asm::Tbb { .. } => "Tbb",
        Asm::Tbh { .. } => "Tbh",
        Asm::Udf { .. } => "Udf",
        Asm::Nop => "Nop",
        Asm::Bkpt { .. } => "Bkpt",
        Asm::VmovToS { .. } => "VmovToS",
        Asm::VmovFromS { .. } => "VmovFromS",
        Asm::VArith { .. } => "VArith",
        Asm::VUnary { .. } => "VUnary",
        Asm::Vcmp { .. } => "Vcmp",
        Asm::VmrsApsr => "VmrsApsr",
        Asm::VmovToD { .. } => "VmovToD",
        Asm::VmovFromD { .. } => "VmovFromD",
        Asm::VArith64 { .. } => "VArith64",
        Asm::VSqrt64 { .. } => "VSqrt64",
        Asm::Vcmp64 { .. } => "Vcmp64",
        Asm::VCvt { .. } => "VCvt",
    }
}

const ALL_VARIANTS: &[&str] = &[
    "DpReg", "DpImm", "AddW", "SubW", "MovW", "MovT", "ShiftReg", "Mul", "Mla", "Mls", "Umull",
    "Smull", "Umlal", "Sdiv", "Udiv", "Clz", "Rbit", "Rev", "Sxtb", "Sxth", "Uxtb", "Uxth", "Ldr",
    "Str", "LdrReg", "StrReg", "Ldrd", "Strd", "Push", "Pop", "SubSp", "AddSp", "MovReg",
    "BranchW", "BranchN", "Bl", "Bx", "Blx", "Cbz", "It", "Tbb", "Tbh", "Udf", "Nop", "Bkpt",
];

/// The floating-point-extension variants, checked by
/// `vfp_forms_match_llvm_mc` against the FPU triples ([`FP_TRIPLES`]).
const FP_VARIANTS: &[&str] = &["VmovToS", "VmovFromS", "VArith", "VUnary", "Vcmp", "VmrsApsr"];

/// Triples with a single-precision FPU: Cortex-M4F (FPv4-SP-D16) and
/// Cortex-M33 (FPv5-SP-D16), the hard-float targets.
const FP_TRIPLES: &[(&str, &[&str])] = &[
    ("thumbv7em-none-eabihf", &["-mattr=+vfp4d16sp"]),
    ("thumbv8m.main-none-eabihf", &["-mattr=+fp-armv8d16sp"]),
];

// ---------------------------------------------------------------------------
// Operand generators (legal sets per the ARMv7-M ARM)
// ---------------------------------------------------------------------------

const ANY: &[u8] = &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
/// Not SP, not PC (the ARM ARM's "BadReg" excluded).
const GOOD: &[u8] = &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14];
const NOT_PC: &[u8] = &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
const NOT_SP: &[u8] = &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15];
const LOW: &[u8] = &[0, 1, 2, 3, 4, 5, 6, 7];

fn reg(set: &'static [u8]) -> BoxedStrategy<Reg> {
    prop::sample::select(set).prop_map(Reg).boxed()
}

/// Uniform in lo..=hi with both ends drawn often.
fn edge_i64(lo: i64, hi: i64) -> BoxedStrategy<i64> {
    prop_oneof![1 => Just(lo), 1 => Just(hi), 1 => Just(0i64.clamp(lo, hi)), 5 => lo..=hi].boxed()
}

fn edge_u16(lo: u16, hi: u16) -> BoxedStrategy<u16> {
    edge_i64(lo.into(), hi.into())
        .prop_map(|v| v as u16)
        .boxed()
}

/// Even offsets in lo..=hi (inclusive, both even), edges weighted in.
fn branch_offset(lo: i32, hi: i32) -> BoxedStrategy<i32> {
    prop_oneof![
        1 => Just(lo),
        1 => Just(hi),
        1 => Just(0i32.clamp(lo, hi)),
        1 => Just((-2i32).clamp(lo, hi)),
        1 => Just(2i32.clamp(lo, hi)),
        5 => (lo / 2..=hi / 2).prop_map(|h| h * 2),
    ]
    .boxed()
}

fn cond() -> BoxedStrategy<Cond> {
    use Cond::*;
    prop::sample::select(&[Eq, Ne, Hs, Lo, Mi, Pl, Vs, Vc, Hi, Ls, Ge, Lt, Gt, Le][..]).boxed()
}

fn shift() -> BoxedStrategy<Shift> {
    let mk = |kind| move |amount| Shift { kind, amount };
    prop_oneof![
        Just(Shift::NONE),
        (0u8..=31).prop_map(mk(ShiftKind::Lsl)),
        prop_oneof![Just(1u8), Just(32u8), 1u8..=32].prop_map(mk(ShiftKind::Lsr)),
        prop_oneof![Just(1u8), Just(32u8), 1u8..=32].prop_map(mk(ShiftKind::Asr)),
        prop_oneof![Just(1u8), Just(31u8), 1u8..=31].prop_map(mk(ShiftKind::Ror)),
    ]
    .boxed()
}

/// Values with a modified-immediate encoding, built from the definition
/// (ThumbExpandImm) rather than from the encoder.
fn modified_value() -> BoxedStrategy<u32> {
    prop_oneof![
        prop_oneof![Just(0u32), Just(255u32), 0u32..256],
        (1u32..256).prop_map(|b| b * 0x0001_0001),
        (1u32..256).prop_map(|b| b * 0x0100_0100),
        (1u32..256).prop_map(|b| b * 0x0101_0101),
        (128u32..256, 8u32..32).prop_map(|(b, rot)| b.rotate_right(rot)),
        Just(0xFFFF_FFFFu32),
        Just(0x8000_0000u32),
    ]
    .boxed()
}

fn mem_size() -> BoxedStrategy<MemSize> {
    prop::sample::select(&[MemSize::Byte, MemSize::Half, MemSize::Word][..]).boxed()
}

/// Rt for a load of `size`: LDR may load SP or PC, byte/half loads may not.
fn load_rt(size: MemSize) -> BoxedStrategy<Reg> {
    match size {
        MemSize::Word => reg(ANY),
        _ => reg(GOOD),
    }
}

fn store_rt(size: MemSize) -> BoxedStrategy<Reg> {
    match size {
        MemSize::Word => reg(NOT_PC),
        _ => reg(GOOD),
    }
}

fn size_signed() -> BoxedStrategy<(MemSize, bool)> {
    prop::sample::select(
        &[
            (MemSize::Byte, false),
            (MemSize::Byte, true),
            (MemSize::Half, false),
            (MemSize::Half, true),
            (MemSize::Word, false),
        ][..],
    )
    .boxed()
}

type Form = (&'static str, BoxedStrategy<Asm>);

fn dp_forms() -> Vec<Form> {
    use DpOp::*;
    let mut forms: Vec<Form> = Vec::new();
    // Plain three-register forms: rd, rn, rm all BadReg-free.
    for op in [And, Bic, Orr, Orn, Eor, Adc, Sbc, Rsb, Add, Sub] {
        forms.push((
            "DpReg three-register",
            (any::<bool>(), reg(GOOD), reg(GOOD), reg(GOOD), shift())
                .prop_map(move |(s, rd, rn, rm, shift)| Asm::DpReg {
                    op,
                    s,
                    rd,
                    rn,
                    rm,
                    shift,
                })
                .boxed(),
        ));
        forms.push((
            "DpImm three-operand",
            (any::<bool>(), reg(GOOD), reg(GOOD), modified_value())
                .prop_map(move |(s, rd, rn, imm)| Asm::DpImm { op, s, rd, rn, imm })
                .boxed(),
        ));
    }
    // ADD/SUB (SP plus/minus register/immediate): rd may be SP (then only
    // LSL #0..=3 for the register form), not PC.
    for op in [Add, Sub] {
        forms.push((
            "DpReg sp-relative",
            (any::<bool>(), reg(NOT_PC), reg(GOOD), 0u8..=3)
                .prop_map(move |(s, rd, rm, amount)| Asm::DpReg {
                    op,
                    s,
                    rd,
                    rn: Reg::SP,
                    rm,
                    shift: Shift {
                        kind: ShiftKind::Lsl,
                        amount,
                    },
                })
                .boxed(),
        ));
        forms.push((
            "DpReg sp-relative, rd not sp",
            (any::<bool>(), reg(GOOD), reg(GOOD), shift())
                .prop_map(move |(s, rd, rm, shift)| Asm::DpReg {
                    op,
                    s,
                    rd,
                    rn: Reg::SP,
                    rm,
                    shift,
                })
                .boxed(),
        ));
        forms.push((
            "DpImm sp-relative",
            (any::<bool>(), reg(NOT_PC), modified_value())
                .prop_map(move |(s, rd, imm)| Asm::DpImm {
                    op,
                    s,
                    rd,
                    rn: Reg::SP,
                    imm,
                })
                .boxed(),
        ));
    }
    // MOV/MVN: rn is ignored, so draw it from all registers.
    forms.push((
        "DpReg mov (no shift, no flags): sp allowed, not both",
        (reg(NOT_PC), reg(NOT_PC), reg(ANY))
            .prop_filter("mov sp, sp", |(rd, rm, _)| !(rd.0 == 13 && rm.0 == 13))
            .prop_map(|(rd, rm, rn)| Asm::DpReg {
                op: Mov,
                s: false,
                rd,
                rn,
                rm,
                shift: Shift::NONE,
            })
            .boxed(),
    ));
    for op in [Mov, Mvn] {
        forms.push((
            "DpReg mov/mvn shifted or flag-setting",
            (any::<bool>(), reg(GOOD), reg(GOOD), reg(ANY), shift())
                .prop_map(move |(s, rd, rm, rn, shift)| Asm::DpReg {
                    op,
                    s,
                    rd,
                    rn,
                    rm,
                    shift,
                })
                .boxed(),
        ));
        forms.push((
            "DpImm mov/mvn",
            (any::<bool>(), reg(GOOD), reg(ANY), modified_value())
                .prop_map(move |(s, rd, rn, imm)| Asm::DpImm { op, s, rd, rn, imm })
                .boxed(),
        ));
    }
    // Compares: rd is ignored; TST/TEQ exclude SP and PC for rn, CMN/CMP
    // only PC.
    for (op, rn_set) in [(Tst, GOOD), (Teq, GOOD), (Cmn, NOT_PC), (Cmp, NOT_PC)] {
        forms.push((
            "DpReg compare",
            (reg(rn_set), reg(GOOD), reg(ANY), shift())
                .prop_map(move |(rn, rm, rd, shift)| Asm::DpReg {
                    op,
                    s: true,
                    rd,
                    rn,
                    rm,
                    shift,
                })
                .boxed(),
        ));
        forms.push((
            "DpImm compare",
            (reg(rn_set), reg(ANY), modified_value())
                .prop_map(move |(rn, rd, imm)| Asm::DpImm {
                    op,
                    s: true,
                    rd,
                    rn,
                    imm,
                })
                .boxed(),
        ));
    }
    forms
}

fn forms() -> Vec<Form> {
    let mut forms = dp_forms();
    let imm12 = || edge_u16(0, 4095);
    let add =
        |name: &'static str, s: BoxedStrategy<Asm>, forms: &mut Vec<Form>| forms.push((name, s));

    add(
        "AddW",
        (reg(GOOD), reg(GOOD), imm12())
            .prop_map(|(rd, rn, imm12)| Asm::AddW { rd, rn, imm12 })
            .boxed(),
        &mut forms,
    );
    add(
        "SubW",
        (reg(GOOD), reg(GOOD), imm12())
            .prop_map(|(rd, rn, imm12)| Asm::SubW { rd, rn, imm12 })
            .boxed(),
        &mut forms,
    );
    add(
        "AddW sp",
        (reg(NOT_PC), imm12())
            .prop_map(|(rd, imm12)| Asm::AddW {
                rd,
                rn: Reg::SP,
                imm12,
            })
            .boxed(),
        &mut forms,
    );
    add(
        "SubW sp",
        (reg(NOT_PC), imm12())
            .prop_map(|(rd, imm12)| Asm::SubW {
                rd,
                rn: Reg::SP,
                imm12,
            })
            .boxed(),
        &mut forms,
    );
    add(
        "AddSp",
        imm12().prop_map(|imm| Asm::AddSp { imm }).boxed(),
        &mut forms,
    );
    add(
        "SubSp",
        imm12().prop_map(|imm| Asm::SubSp { imm }).boxed(),
        &mut forms,
    );
    add(
        "MovW",
        (reg(GOOD), edge_u16(0, 0xFFFF))
            .prop_map(|(rd, imm16)| Asm::MovW { rd, imm16 })
            .boxed(),
        &mut forms,
    );
    add(
        "MovT",
        (reg(GOOD), edge_u16(0, 0xFFFF))
            .prop_map(|(rd, imm16)| Asm::MovT { rd, imm16 })
            .boxed(),
        &mut forms,
    );
    add(
        "ShiftReg",
        (
            prop::sample::select(
                &[
                    ShiftKind::Lsl,
                    ShiftKind::Lsr,
                    ShiftKind::Asr,
                    ShiftKind::Ror,
                ][..],
            ),
            any::<bool>(),
            reg(GOOD),
            reg(GOOD),
            reg(GOOD),
        )
            .prop_map(|(kind, s, rd, rn, rm)| Asm::ShiftReg {
                kind,
                s,
                rd,
                rn,
                rm,
            })
            .boxed(),
        &mut forms,
    );
    let three = || (reg(GOOD), reg(GOOD), reg(GOOD));
    let four = || (reg(GOOD), reg(GOOD), reg(GOOD), reg(GOOD));
    add(
        "Mul",
        three()
            .prop_map(|(rd, rn, rm)| Asm::Mul { rd, rn, rm })
            .boxed(),
        &mut forms,
    );
    add(
        "Sdiv",
        three()
            .prop_map(|(rd, rn, rm)| Asm::Sdiv { rd, rn, rm })
            .boxed(),
        &mut forms,
    );
    add(
        "Udiv",
        three()
            .prop_map(|(rd, rn, rm)| Asm::Udiv { rd, rn, rm })
            .boxed(),
        &mut forms,
    );
    add(
        "Mla",
        four()
            .prop_map(|(rd, rn, rm, ra)| Asm::Mla { rd, rn, rm, ra })
            .boxed(),
        &mut forms,
    );
    add(
        "Mls",
        four()
            .prop_map(|(rd, rn, rm, ra)| Asm::Mls { rd, rn, rm, ra })
            .boxed(),
        &mut forms,
    );
    let long = || four().prop_filter("rdlo == rdhi", |(lo, hi, _, _)| lo != hi);
    add(
        "Umull",
        long()
            .prop_map(|(rdlo, rdhi, rn, rm)| Asm::Umull { rdlo, rdhi, rn, rm })
            .boxed(),
        &mut forms,
    );
    add(
        "Smull",
        long()
            .prop_map(|(rdlo, rdhi, rn, rm)| Asm::Smull { rdlo, rdhi, rn, rm })
            .boxed(),
        &mut forms,
    );
    add(
        "Umlal",
        long()
            .prop_map(|(rdlo, rdhi, rn, rm)| Asm::Umlal { rdlo, rdhi, rn, rm })
            .boxed(),
        &mut forms,
    );
    let two = || (reg(GOOD), reg(GOOD));
    add(
        "Clz",
        two().prop_map(|(rd, rm)| Asm::Clz { rd, rm }).boxed(),
        &mut forms,
    );
    add(
        "Rbit",
        two().prop_map(|(rd, rm)| Asm::Rbit { rd, rm }).boxed(),
        &mut forms,
    );
    add(
        "Rev",
        two().prop_map(|(rd, rm)| Asm::Rev { rd, rm }).boxed(),
        &mut forms,
    );
    add(
        "Sxtb",
        two().prop_map(|(rd, rm)| Asm::Sxtb { rd, rm }).boxed(),
        &mut forms,
    );
    add(
        "Sxth",
        two().prop_map(|(rd, rm)| Asm::Sxth { rd, rm }).boxed(),
        &mut forms,
    );
    add(
        "Uxtb",
        two().prop_map(|(rd, rm)| Asm::Uxtb { rd, rm }).boxed(),
        &mut forms,
    );
    add(
        "Uxth",
        two().prop_map(|(rd, rm)| Asm::Uxth { rd, rm }).boxed(),
        &mut forms,
    );

    // Loads and stores, immediate offset: T3 (0..=4095), T4 (-255..=-1),
    // and PC-relative loads (literal, -4095..=4095).
    add(
        "Ldr imm",
        size_signed()
            .prop_flat_map(|(size, signed)| {
                (
                    load_rt(size),
                    reg(NOT_PC),
                    prop_oneof![edge_i64(0, 4095), edge_i64(-255, -1)],
                )
                    .prop_map(move |(rt, rn, imm)| Asm::Ldr {
                        size,
                        signed,
                        rt,
                        rn,
                        imm: imm as i32,
                    })
            })
            .boxed(),
        &mut forms,
    );
    add(
        "Ldr literal",
        size_signed()
            .prop_flat_map(|(size, signed)| {
                (load_rt(size), edge_i64(-4095, 4095)).prop_map(move |(rt, imm)| Asm::Ldr {
                    size,
                    signed,
                    rt,
                    rn: Reg::PC,
                    imm: imm as i32,
                })
            })
            .boxed(),
        &mut forms,
    );
    add(
        "Str imm",
        mem_size()
            .prop_flat_map(|size| {
                (
                    store_rt(size),
                    reg(NOT_PC),
                    prop_oneof![edge_i64(0, 4095), edge_i64(-255, -1)],
                )
                    .prop_map(move |(rt, rn, imm)| Asm::Str {
                        size,
                        rt,
                        rn,
                        imm: imm as i32,
                    })
            })
            .boxed(),
        &mut forms,
    );
    add(
        "LdrReg",
        size_signed()
            .prop_flat_map(|(size, signed)| {
                (load_rt(size), reg(NOT_PC), reg(GOOD), 0u8..=3).prop_map(
                    move |(rt, rn, rm, shift)| Asm::LdrReg {
                        size,
                        signed,
                        rt,
                        rn,
                        rm,
                        shift,
                    },
                )
            })
            .boxed(),
        &mut forms,
    );
    add(
        "StrReg",
        mem_size()
            .prop_flat_map(|size| {
                (store_rt(size), reg(NOT_PC), reg(GOOD), 0u8..=3).prop_map(
                    move |(rt, rn, rm, shift)| Asm::StrReg {
                        size,
                        rt,
                        rn,
                        rm,
                        shift,
                    },
                )
            })
            .boxed(),
        &mut forms,
    );
    let dual_imm = || edge_i64(-255, 255).prop_map(|w| (w * 4) as i32);
    add(
        "Ldrd",
        (reg(GOOD), reg(GOOD), reg(NOT_PC), dual_imm())
            .prop_filter("rt == rt2", |(t, t2, _, _)| t != t2)
            .prop_map(|(rt, rt2, rn, imm)| Asm::Ldrd { rt, rt2, rn, imm })
            .boxed(),
        &mut forms,
    );
    add(
        "Strd",
        (reg(GOOD), reg(GOOD), reg(NOT_PC), dual_imm())
            .prop_map(|(rt, rt2, rn, imm)| Asm::Strd { rt, rt2, rn, imm })
            .boxed(),
        &mut forms,
    );

    // PUSH: never SP or PC. POP: never SP, not LR and PC together.
    let push_mask = 0x5FFFu16;
    add(
        "Push narrow",
        (1u16..=0xFF, any::<bool>())
            .prop_map(|(lo, lr)| Asm::Push {
                regs: lo | (u16::from(lr) << 14),
            })
            .boxed(),
        &mut forms,
    );
    add(
        "Push wide",
        (0u16..=0xFFFF)
            .prop_map(move |m| m & push_mask | 0x0100)
            .prop_map(|regs| Asm::Push { regs })
            .boxed(),
        &mut forms,
    );
    add(
        "Push single",
        prop::sample::select(GOOD)
            .prop_map(|r| Asm::Push { regs: 1 << r })
            .boxed(),
        &mut forms,
    );
    add(
        "Pop narrow",
        (1u16..=0xFF, any::<bool>())
            .prop_map(|(lo, pc)| Asm::Pop {
                regs: lo | (u16::from(pc) << 15),
            })
            .boxed(),
        &mut forms,
    );
    add(
        "Pop wide",
        (0u16..=0xFFFF)
            .prop_map(|m| {
                let m = (m & !(1 << 13)) | 0x0200;
                // Not LR and PC together.
                if m & 0xC000 == 0xC000 {
                    m & !0x4000
                } else {
                    m
                }
            })
            .prop_map(|regs| Asm::Pop { regs })
            .boxed(),
        &mut forms,
    );
    add(
        "Pop single",
        prop::sample::select(NOT_SP)
            .prop_map(|r| Asm::Pop { regs: 1 << r })
            .boxed(),
        &mut forms,
    );

    add(
        "MovReg",
        (reg(ANY), reg(ANY))
            .prop_map(|(rd, rm)| Asm::MovReg { rd, rm })
            .boxed(),
        &mut forms,
    );

    let (lo, hi) = BranchForm::WideCond.range();
    add(
        "BranchW cond",
        (cond(), branch_offset(lo, hi))
            .prop_map(|(c, offset)| Asm::BranchW {
                cond: Some(c),
                offset,
            })
            .boxed(),
        &mut forms,
    );
    let (lo, hi) = BranchForm::WideUncond.range();
    add(
        "BranchW",
        branch_offset(lo, hi)
            .prop_map(|offset| Asm::BranchW { cond: None, offset })
            .boxed(),
        &mut forms,
    );
    add(
        "Bl",
        branch_offset(lo, hi)
            .prop_map(|offset| Asm::Bl { offset })
            .boxed(),
        &mut forms,
    );
    let (lo, hi) = BranchForm::NarrowCond.range();
    add(
        "BranchN cond",
        (cond(), branch_offset(lo, hi))
            .prop_map(|(c, offset)| Asm::BranchN {
                cond: Some(c),
                offset,
            })
            .boxed(),
        &mut forms,
    );
    let (lo, hi) = BranchForm::NarrowUncond.range();
    add(
        "BranchN",
        branch_offset(lo, hi)
            .prop_map(|offset| Asm::BranchN { cond: None, offset })
            .boxed(),
        &mut forms,
    );
    add(
        "Cbz",
        (any::<bool>(), reg(LOW), branch_offset(0, 126))
            .prop_map(|(nonzero, rn, offset)| Asm::Cbz {
                nonzero,
                rn,
                offset,
            })
            .boxed(),
        &mut forms,
    );
    add(
        "Bx",
        reg(NOT_PC).prop_map(|rm| Asm::Bx { rm }).boxed(),
        &mut forms,
    );
    add(
        "Blx",
        reg(NOT_PC).prop_map(|rm| Asm::Blx { rm }).boxed(),
        &mut forms,
    );
    add(
        "It",
        (cond(), 1u8..=15)
            .prop_map(|(firstcond, mask)| Asm::It { firstcond, mask })
            .boxed(),
        &mut forms,
    );
    add(
        "Tbb",
        (reg(NOT_SP), reg(GOOD))
            .prop_map(|(rn, rm)| Asm::Tbb { rn, rm })
            .boxed(),
        &mut forms,
    );
    add(
        "Tbh",
        (reg(NOT_SP), reg(GOOD))
            .prop_map(|(rn, rm)| Asm::Tbh { rn, rm })
            .boxed(),
        &mut forms,
    );
    add(
        "Udf",
        any::<u8>().prop_map(|imm8| Asm::Udf { imm8 }).boxed(),
        &mut forms,
    );
    add(
        "Bkpt",
        any::<u8>().prop_map(|imm8| Asm::Bkpt { imm8 }).boxed(),
        &mut forms,
    );
    add("Nop", Just(Asm::Nop).boxed(), &mut forms);
    forms
}

fn sample_forms(seed: u8) -> Vec<(&'static str, Asm)> {
    let config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
    );
    let mut cases = Vec::new();
    for (name, strategy) in forms() {
        for _ in 0..CASES_PER_FORM {
            let tree = strategy
                .new_tree(&mut runner)
                .unwrap_or_else(|e| panic!("generator for {name} failed: {e}"));
            cases.push((name, tree.current()));
        }
    }
    cases
}

// ---------------------------------------------------------------------------
// llvm-mc
// ---------------------------------------------------------------------------

fn llvm_mc_path() -> String {
    if let Ok(p) = std::env::var("LLVM_MC") {
        return p;
    }
    for candidate in ["llvm-mc", "llvm-mc-14"] {
        if Command::new(candidate)
            .arg("--version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
        {
            return candidate.to_string();
        }
    }
    panic!(
        "llvm-mc not found: this test needs LLVM's assembler (LLVM 14) as its oracle. \
         Install it (e.g. `apt-get install llvm-14`) or set LLVM_MC=/path/to/llvm-mc."
    );
}

/// Assembles `lines` (one instruction per line) and returns, per line, the
/// encoding bytes llvm-mc reports, or Err(diagnostics) with line numbers
/// counted from 0 = `lines[0]`.
fn assemble(
    triple: &str,
    extra: &[&str],
    lines: &[String],
) -> Result<Vec<Vec<u8>>, Vec<(usize, String)>> {
    const PROLOGUE: &str = ".syntax unified\n.thumb\n";
    let prologue_lines = PROLOGUE.lines().count();
    let mut input = String::from(PROLOGUE);
    for l in lines {
        input.push_str(l);
        input.push('\n');
    }
    let mc = llvm_mc_path();
    let mut child = Command::new(&mc)
        .arg(format!("-triple={triple}"))
        .args(extra)
        .arg("-show-encoding")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run llvm-mc as `{mc}`: {e}. This test needs LLVM 14's llvm-mc as its oracle; install it or set LLVM_MC.")
        });
    {
        let mut stdin = child.stdin.take().expect("stdin");
        // Write from a thread so a large stdout/stderr cannot deadlock us.
        let input = input.clone();
        std::thread::spawn(move || stdin.write_all(input.as_bytes()).expect("write to llvm-mc"));
    }
    let out = child.wait_with_output().expect("llvm-mc output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);

    // Any diagnostic (error or warning) fails the batch; attribute each to
    // its input line.
    let mut diags = Vec::new();
    for l in stderr.lines() {
        if !(l.contains(": error:") || l.contains(": warning:")) {
            continue;
        }
        if let Some(rest) = l.strip_prefix("<stdin>:") {
            let mut parts = rest.splitn(3, ':');
            let line_no: usize = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            if line_no > prologue_lines {
                diags.push((line_no - prologue_lines - 1, l.to_string()));
            } else {
                diags.push((usize::MAX, l.to_string()));
            }
        }
    }
    if !out.status.success() && diags.is_empty() {
        diags.push((
            usize::MAX,
            format!("llvm-mc failed: {}\n{stderr}", out.status),
        ));
    }
    if !diags.is_empty() {
        return Err(diags);
    }

    let mut encodings = Vec::new();
    for l in stdout.lines() {
        let Some(idx) = l.find("encoding: [") else {
            continue;
        };
        let body = &l[idx + "encoding: [".len()..];
        let body = &body[..body.find(']').expect("closing bracket")];
        let bytes: Vec<u8> = body
            .split(',')
            .map(|b| {
                let b = b.trim();
                u8::from_str_radix(b.trim_start_matches("0x"), 16)
                    .unwrap_or_else(|_| panic!("llvm-mc reported a fixup instead of bytes: {l}"))
            })
            .collect();
        encodings.push(bytes);
    }
    assert_eq!(
        encodings.len(),
        lines.len(),
        "llvm-mc printed {} encodings for {} instructions:\n{stdout}",
        encodings.len(),
        lines.len()
    );
    Ok(encodings)
}

/// Conditions of the instructions an IT block covers, from the ARM ARM's
/// definition of ITSTATE: a mask bit equal to firstcond[0] means "then".
fn it_block_conds(firstcond: Cond, mask: u8) -> Vec<Cond> {
    let mut conds = vec![firstcond];
    let n = 4 - mask.trailing_zeros() as usize; // instructions in the block
    for k in 1..n {
        let bit = (mask >> (4 - k)) & 1;
        conds.push(if bit == (firstcond as u8 & 1) {
            firstcond
        } else {
            firstcond.invert()
        });
    }
    conds
}

/// One unit of the batch: source lines, and which line's encoding is the
/// instruction under test (the others are context such as IT-block bodies).
struct Case {
    form: &'static str,
    insn: Asm,
    lines: Vec<String>,
    checked_line: usize,
}

fn case_for(form: &'static str, insn: Asm) -> Case {
    let mut lines = vec![insn.to_string()];
    if let Asm::It { firstcond, mask } = insn {
        // An IT needs its block: fill it with NOPs under the right conditions.
        for c in it_block_conds(firstcond, mask) {
            lines.push(Asm::Nop.display_predicated(c).to_string());
        }
    }
    Case {
        form,
        insn,
        lines,
        checked_line: 0,
    }
}

/// Assembles all cases for every triple and compares with `encode`.
fn check_cases(cases: &[Case]) {
    check_cases_for(cases, TRIPLES)
}

fn check_cases_for(cases: &[Case], triples: &[(&str, &[&str])]) {
    let mut lines = Vec::new();
    let mut line_owner = Vec::new();
    let mut first_line = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        first_line.push(lines.len());
        for l in &c.lines {
            lines.push(l.clone());
            line_owner.push(i);
        }
    }
    let mut failures = Vec::new();
    for (triple, extra) in triples {
        let encodings = match assemble(triple, extra, &lines) {
            Ok(e) => e,
            Err(diags) => {
                let mut msg = format!("llvm-mc ({triple}) rejected the printed assembly:\n");
                for (line, d) in diags.iter().take(40) {
                    if let Some(&owner) = line_owner.get(*line) {
                        let c = &cases[owner];
                        msg.push_str(&format!(
                            "  [{}] {:?}\n      `{}`\n      {d}\n",
                            c.form, c.insn, lines[*line]
                        ));
                    } else {
                        msg.push_str(&format!("  {d}\n"));
                    }
                }
                panic!("{msg}({} diagnostics)", diags.len());
            }
        };
        for (i, c) in cases.iter().enumerate() {
            let expected = &encodings[first_line[i] + c.checked_line];
            let mut ours = Vec::new();
            match c.insn.encode(&mut ours) {
                Ok(()) => {
                    if &ours != expected {
                        failures.push(format!(
                            "[{triple}] [{}] {:?}\n    `{}`: encode {:02x?}, llvm-mc {:02x?}",
                            c.form, c.insn, c.lines[c.checked_line], ours, expected
                        ));
                    }
                    if ours.len() as u32 != c.insn.size() {
                        failures.push(format!(
                            "[{}] {:?}: size() {} but encoded {} bytes",
                            c.form,
                            c.insn,
                            c.insn.size(),
                            ours.len()
                        ));
                    }
                }
                Err(e) => failures.push(format!(
                    "[{}] {:?}: legal operands rejected: {e}",
                    c.form, c.insn
                )),
            }
        }
    }
    if !failures.is_empty() {
        let shown: Vec<_> = failures.iter().take(40).cloned().collect();
        panic!(
            "{} mismatches against llvm-mc:\n{}",
            failures.len(),
            shown.join("\n")
        );
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn every_variant_matches_llvm_mc() {
    let sampled = sample_forms(0x5A);
    let covered: BTreeSet<&str> = sampled.iter().map(|(_, a)| variant_name(a)).collect();
    let all: BTreeSet<&str> = ALL_VARIANTS.iter().copied().collect();
    assert_eq!(covered, all, "every Asm variant must have a generator");
    let cases: Vec<Case> = sampled
        .into_iter()
        .map(|(form, a)| case_for(form, a))
        .collect();
    assert!(cases.len() >= ALL_VARIANTS.len() * CASES_PER_FORM);
    check_cases(&cases);
}

/// `display_predicated` inside a one-instruction IT block assembles to the
/// same bytes as the unpredicated instruction (the condition lives in IT).
#[test]
fn predicated_forms_match_llvm_mc() {
    let sampled = sample_forms(0xA5);
    let mut config_rng = TestRunner::new_with_rng(
        Config {
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let cond_strategy = cond();
    let mut cases = Vec::new();
    for (form, insn) in sampled.into_iter().step_by(4) {
        // Not predicable, or predicable with different rules in IT blocks
        // (branches, and MUL which LLVM narrows inside IT).
        if matches!(
            insn,
            Asm::It { .. }
                | Asm::Cbz { .. }
                | Asm::BranchN { .. }
                | Asm::BranchW { .. }
                | Asm::Bl { .. }
                | Asm::Bx { .. }
                | Asm::Blx { .. }
                | Asm::Udf { .. }
                | Asm::Bkpt { .. }
                | Asm::Mul { .. }
        ) {
            continue;
        }
        // Instructions that write PC must be last in an IT block; they are
        // here (one-instruction blocks), so they stay in.
        let c = cond_strategy.new_tree(&mut config_rng).unwrap().current();
        let it = Asm::It {
            firstcond: c,
            mask: 0b1000,
        };
        cases.push(Case {
            form,
            lines: vec![it.to_string(), insn.display_predicated(c).to_string()],
            insn,
            checked_line: 1,
        });
    }
    assert!(cases.len() > 500);
    check_cases(&cases);
}

#[test]
fn modified_immediates_match_llvm_mc() {
    // Every value with a modified-immediate encoding (there are fewer than
    // 4096), through `and.w`: LLVM must choose the same 12-bit field.
    let mut values = BTreeSet::new();
    for b in 0u32..256 {
        values.insert(b);
        if b != 0 {
            values.insert(b * 0x0001_0001);
            values.insert(b * 0x0100_0100);
            values.insert(b * 0x0101_0101);
        }
    }
    for b in 128u32..256 {
        for rot in 8..32 {
            values.insert(b.rotate_right(rot));
        }
    }
    let cases: Vec<Case> = values
        .into_iter()
        .map(|imm| {
            assert!(modified_imm(imm).is_some(), "{imm:#x} has an encoding");
            case_for(
                "and imm",
                Asm::DpImm {
                    op: DpOp::And,
                    s: false,
                    rd: Reg(1),
                    rn: Reg(2),
                    imm,
                },
            )
        })
        .collect();
    check_cases(&cases);
}

#[test]
fn illegal_operands_are_rejected() {
    use EncodeErrorKind as K;
    let sp = Reg::SP;
    let pc = Reg::PC;
    let r = Reg;
    type KindCheck = fn(&EncodeErrorKind) -> bool;
    let cases: Vec<(Asm, KindCheck)> = vec![
        (
            Asm::DpImm {
                op: DpOp::Add,
                s: false,
                rd: r(0),
                rn: r(1),
                imm: 0x101,
            },
            |k| matches!(k, K::ImmediateOutOfRange { .. }),
        ),
        (
            Asm::DpImm {
                op: DpOp::And,
                s: false,
                rd: sp,
                rn: r(1),
                imm: 1,
            },
            |k| matches!(k, K::RegisterNotAllowed { .. }),
        ),
        (
            Asm::DpImm {
                op: DpOp::Add,
                s: true,
                rd: pc,
                rn: r(1),
                imm: 1,
            },
            |k| matches!(k, K::RegisterNotAllowed { .. }),
        ),
        (
            Asm::DpImm {
                op: DpOp::Cmp,
                s: false,
                rd: pc,
                rn: r(1),
                imm: 1,
            },
            |k| matches!(k, K::InvalidOperands(_)),
        ),
        (
            Asm::DpImm {
                op: DpOp::Orr,
                s: false,
                rd: r(0),
                rn: pc,
                imm: 1,
            },
            |k| matches!(k, K::RegisterNotAllowed { .. }),
        ),
        (
            Asm::DpReg {
                op: DpOp::Add,
                s: false,
                rd: r(0),
                rn: r(1),
                rm: sp,
                shift: Shift::NONE,
            },
            |k| matches!(k, K::RegisterNotAllowed { .. }),
        ),
        (
            Asm::DpReg {
                op: DpOp::Sub,
                s: false,
                rd: sp,
                rn: sp,
                rm: r(1),
                shift: Shift {
                    kind: ShiftKind::Lsr,
                    amount: 1,
                },
            },
            |k| matches!(k, K::InvalidOperands(_)),
        ),
        (
            Asm::DpReg {
                op: DpOp::Add,
                s: false,
                rd: r(0),
                rn: r(1),
                rm: r(2),
                shift: Shift {
                    kind: ShiftKind::Ror,
                    amount: 0,
                },
            },
            |k| matches!(k, K::ImmediateOutOfRange { .. }),
        ),
        (
            Asm::DpReg {
                op: DpOp::Add,
                s: false,
                rd: r(0),
                rn: r(1),
                rm: r(2),
                shift: Shift {
                    kind: ShiftKind::Lsl,
                    amount: 32,
                },
            },
            |k| matches!(k, K::ImmediateOutOfRange { .. }),
        ),
        (
            Asm::DpReg {
                op: DpOp::Eor,
                s: false,
                rd: r(0),
                rn: r(1),
                rm: r(2),
                shift: Shift {
                    kind: ShiftKind::Lsr,
                    amount: 0,
                },
            },
            |k| matches!(k, K::ImmediateOutOfRange { .. }),
        ),
        (
            Asm::DpReg {
                op: DpOp::Mov,
                s: false,
                rd: sp,
                rn: r(0),
                rm: sp,
                shift: Shift::NONE,
            },
            |k| matches!(k, K::InvalidOperands(_)),
        ),
        (
            Asm::DpReg {
                op: DpOp::Mov,
                s: false,
                rd: pc,
                rn: r(0),
                rm: r(1),
                shift: Shift::NONE,
            },
            |k| matches!(k, K::RegisterNotAllowed { .. }),
        ),
        (
            Asm::AddW {
                rd: r(0),
                rn: pc,
                imm12: 4,
            },
            |k| matches!(k, K::RegisterNotAllowed { .. }),
        ),
        (
            Asm::AddW {
                rd: r(0),
                rn: r(1),
                imm12: 4096,
            },
            |k| matches!(k, K::ImmediateOutOfRange { .. }),
        ),
        (
            Asm::SubW {
                rd: sp,
                rn: r(1),
                imm12: 4,
            },
            |k| matches!(k, K::RegisterNotAllowed { .. }),
        ),
        (Asm::SubSp { imm: 4096 }, |k| {
            matches!(k, K::ImmediateOutOfRange { .. })
        }),
        (Asm::MovW { rd: sp, imm16: 1 }, |k| {
            matches!(k, K::RegisterNotAllowed { .. })
        }),
        (Asm::MovT { rd: pc, imm16: 1 }, |k| {
            matches!(k, K::RegisterNotAllowed { .. })
        }),
        (
            Asm::Mul {
                rd: r(0),
                rn: pc,
                rm: r(1),
            },
            |k| matches!(k, K::RegisterNotAllowed { .. }),
        ),
        (
            Asm::Mla {
                rd: r(0),
                rn: r(1),
                rm: r(2),
                ra: pc,
            },
            |k| matches!(k, K::RegisterNotAllowed { .. }),
        ),
        (
            Asm::Umull {
                rdlo: r(1),
                rdhi: r(1),
                rn: r(2),
                rm: r(3),
            },
            |k| matches!(k, K::InvalidOperands(_)),
        ),
        (
            Asm::Sdiv {
                rd: sp,
                rn: r(1),
                rm: r(2),
            },
            |k| matches!(k, K::RegisterNotAllowed { .. }),
        ),
        (
            Asm::Clz {
                rd: r(0),
                rm: Reg(16),
            },
            |k| matches!(k, K::NoSuchRegister { .. }),
        ),
        (
            Asm::Ldr {
                size: MemSize::Word,
                signed: false,
                rt: r(0),
                rn: r(1),
                imm: 4096,
            },
            |k| matches!(k, K::ImmediateOutOfRange { .. }),
        ),
        (
            Asm::Ldr {
                size: MemSize::Word,
                signed: false,
                rt: r(0),
                rn: r(1),
                imm: -256,
            },
            |k| matches!(k, K::ImmediateOutOfRange { .. }),
        ),
        (
            Asm::Ldr {
                size: MemSize::Word,
                signed: false,
                rt: r(0),
                rn: pc,
                imm: -4096,
            },
            |k| matches!(k, K::ImmediateOutOfRange { .. }),
        ),
        (
            Asm::Ldr {
                size: MemSize::Word,
                signed: true,
                rt: r(0),
                rn: r(1),
                imm: 0,
            },
            |k| matches!(k, K::InvalidOperands(_)),
        ),
        (
            Asm::Ldr {
                size: MemSize::Byte,
                signed: false,
                rt: pc,
                rn: r(1),
                imm: 0,
            },
            |k| matches!(k, K::RegisterNotAllowed { .. }),
        ),
        (
            Asm::Ldr {
                size: MemSize::Half,
                signed: true,
                rt: sp,
                rn: r(1),
                imm: 0,
            },
            |k| matches!(k, K::RegisterNotAllowed { .. }),
        ),
        (
            Asm::Str {
                size: MemSize::Word,
                rt: r(0),
                rn: pc,
                imm: 0,
            },
            |k| matches!(k, K::RegisterNotAllowed { .. }),
        ),
        (
            Asm::Str {
                size: MemSize::Word,
                rt: pc,
                rn: r(0),
                imm: 0,
            },
            |k| matches!(k, K::RegisterNotAllowed { .. }),
        ),
        (
            Asm::Str {
                size: MemSize::Byte,
                rt: sp,
                rn: r(0),
                imm: 0,
            },
            |k| matches!(k, K::RegisterNotAllowed { .. }),
        ),
        (
            Asm::LdrReg {
                size: MemSize::Word,
                signed: false,
                rt: r(0),
                rn: r(1),
                rm: r(2),
                shift: 4,
            },
            |k| matches!(k, K::ImmediateOutOfRange { .. }),
        ),
        (
            Asm::LdrReg {
                size: MemSize::Word,
                signed: false,
                rt: r(0),
                rn: r(1),
                rm: sp,
                shift: 0,
            },
            |k| matches!(k, K::RegisterNotAllowed { .. }),
        ),
        (
            Asm::StrReg {
                size: MemSize::Half,
                rt: r(0),
                rn: pc,
                rm: r(2),
                shift: 0,
            },
            |k| matches!(k, K::RegisterNotAllowed { .. }),
        ),
        (
            Asm::Ldrd {
                rt: r(0),
                rt2: r(0),
                rn: r(2),
                imm: 0,
            },
            |k| matches!(k, K::InvalidOperands(_)),
        ),
        (
            Asm::Ldrd {
                rt: r(0),
                rt2: r(1),
                rn: r(2),
                imm: 2,
            },
            |k| matches!(k, K::ImmediateOutOfRange { .. }),
        ),
        (
            Asm::Strd {
                rt: r(0),
                rt2: r(1),
                rn: r(2),
                imm: 1024,
            },
            |k| matches!(k, K::ImmediateOutOfRange { .. }),
        ),
        (
            Asm::Strd {
                rt: sp,
                rt2: r(1),
                rn: r(2),
                imm: 0,
            },
            |k| matches!(k, K::RegisterNotAllowed { .. }),
        ),
        (Asm::Push { regs: 0 }, |k| {
            matches!(k, K::BadRegisterList { .. })
        }),
        (Asm::Push { regs: 1 << 15 | 1 }, |k| {
            matches!(k, K::BadRegisterList { .. })
        }),
        (Asm::Push { regs: 1 << 13 | 1 }, |k| {
            matches!(k, K::BadRegisterList { .. })
        }),
        (Asm::Pop { regs: 0xC001 }, |k| {
            matches!(k, K::BadRegisterList { .. })
        }),
        (Asm::Pop { regs: 1 << 13 }, |k| {
            matches!(k, K::BadRegisterList { .. })
        }),
        (
            Asm::BranchN {
                cond: Some(Cond::Eq),
                offset: 256,
            },
            |k| matches!(k, K::ImmediateOutOfRange { .. }),
        ),
        (
            Asm::BranchN {
                cond: Some(Cond::Eq),
                offset: -258,
            },
            |k| matches!(k, K::ImmediateOutOfRange { .. }),
        ),
        (
            Asm::BranchN {
                cond: None,
                offset: 2048,
            },
            |k| matches!(k, K::ImmediateOutOfRange { .. }),
        ),
        (
            Asm::BranchN {
                cond: None,
                offset: 3,
            },
            |k| matches!(k, K::ImmediateOutOfRange { .. }),
        ),
        (
            Asm::BranchW {
                cond: Some(Cond::Ne),
                offset: 1 << 20,
            },
            |k| matches!(k, K::ImmediateOutOfRange { .. }),
        ),
        (
            Asm::BranchW {
                cond: None,
                offset: -(1 << 24) - 2,
            },
            |k| matches!(k, K::ImmediateOutOfRange { .. }),
        ),
        (
            Asm::BranchW {
                cond: None,
                offset: 7,
            },
            |k| matches!(k, K::ImmediateOutOfRange { .. }),
        ),
        (Asm::Bl { offset: 1 << 24 }, |k| {
            matches!(k, K::ImmediateOutOfRange { .. })
        }),
        (Asm::Bl { offset: i32::MIN }, |k| {
            matches!(k, K::ImmediateOutOfRange { .. })
        }),
        (
            Asm::Cbz {
                nonzero: false,
                rn: r(8),
                offset: 4,
            },
            |k| matches!(k, K::RegisterNotAllowed { .. }),
        ),
        (
            Asm::Cbz {
                nonzero: true,
                rn: r(0),
                offset: 128,
            },
            |k| matches!(k, K::ImmediateOutOfRange { .. }),
        ),
        (
            Asm::Cbz {
                nonzero: true,
                rn: r(0),
                offset: -2,
            },
            |k| matches!(k, K::ImmediateOutOfRange { .. }),
        ),
        (
            Asm::Cbz {
                nonzero: true,
                rn: r(0),
                offset: 5,
            },
            |k| matches!(k, K::ImmediateOutOfRange { .. }),
        ),
        (Asm::Blx { rm: pc }, |k| {
            matches!(k, K::RegisterNotAllowed { .. })
        }),
        (
            Asm::It {
                firstcond: Cond::Eq,
                mask: 0,
            },
            |k| matches!(k, K::ImmediateOutOfRange { .. }),
        ),
        (
            Asm::It {
                firstcond: Cond::Eq,
                mask: 16,
            },
            |k| matches!(k, K::ImmediateOutOfRange { .. }),
        ),
        (Asm::Tbb { rn: sp, rm: r(0) }, |k| {
            matches!(k, K::RegisterNotAllowed { .. })
        }),
        (Asm::Tbh { rn: r(0), rm: pc }, |k| {
            matches!(k, K::RegisterNotAllowed { .. })
        }),
        (
            Asm::MovReg {
                rd: Reg(200),
                rm: r(0),
            },
            |k| matches!(k, K::NoSuchRegister { .. }),
        ),
    ];
    for (insn, expected) in cases {
        let mut out = vec![0xAA];
        match insn.encode(&mut out) {
            Ok(()) => panic!("{insn:?} (`{insn}`) encoded to {out:02x?} but is illegal"),
            Err(e) => {
                assert!(
                    expected(&e.kind),
                    "{insn:?}: unexpected error kind {:?}",
                    e.kind
                );
                assert_eq!(
                    out,
                    vec![0xAA],
                    "{insn:?}: bytes appended despite the error"
                );
                let msg = e.to_string();
                assert!(
                    msg.contains(&insn.to_string()),
                    "error message names the instruction: {msg}"
                );
            }
        }
    }
}

#[test]
fn branch_ranges_agree_with_the_encoder() {
    // For every form, offsets just inside and just outside the documented
    // range (and odd ones) are accepted/rejected by both the range helper
    // and the encoder.
    let forms = [
        BranchForm::NarrowCond,
        BranchForm::NarrowUncond,
        BranchForm::WideCond,
        BranchForm::WideUncond,
        BranchForm::Bl,
        BranchForm::Cbz,
    ];
    for form in forms {
        let (lo, hi) = form.range();
        for offset in [
            lo as i64 - 2,
            lo as i64,
            lo as i64 + 1,
            0,
            1,
            hi as i64 - 1,
            hi as i64,
            hi as i64 + 2,
        ] {
            let in_range = branch_in_range(form, offset);
            let expected = offset >= lo as i64 && offset <= hi as i64 && offset % 2 == 0;
            assert_eq!(in_range, expected, "{form:?} {offset}");
            let Ok(offset32) = i32::try_from(offset) else {
                continue;
            };
            let mut insn = match form {
                BranchForm::NarrowCond => Asm::BranchN {
                    cond: Some(Cond::Gt),
                    offset: 0,
                },
                BranchForm::NarrowUncond => Asm::BranchN {
                    cond: None,
                    offset: 0,
                },
                BranchForm::WideCond => Asm::BranchW {
                    cond: Some(Cond::Gt),
                    offset: 0,
                },
                BranchForm::WideUncond => Asm::BranchW {
                    cond: None,
                    offset: 0,
                },
                BranchForm::Bl => Asm::Bl { offset: 0 },
                BranchForm::Cbz => Asm::Cbz {
                    nonzero: false,
                    rn: Reg(3),
                    offset: 0,
                },
            };
            assert_eq!(insn.branch_form(), Some(form));
            assert!(insn.set_branch_offset(offset32));
            assert_eq!(insn.branch_offset(), Some(offset32));
            let mut out = Vec::new();
            assert_eq!(insn.encode(&mut out).is_ok(), expected, "{insn:?}");
            if expected {
                assert_eq!(out.len() as u32, form.size());
            }
        }
    }
    assert!(!Asm::Nop.clone().set_branch_offset(4));
    assert_eq!(Asm::Bx { rm: Reg::LR }.branch_form(), None);
}

/// One register operand of one form, swept over r0..r15 with the other
/// operands fixed: `allowed` is the ARM ARM's legal set for that position.
struct RegSlot {
    what: String,
    make: Box<dyn Fn(Reg) -> Asm>,
    allowed: &'static [u8],
}

fn slot(
    what: impl Into<String>,
    allowed: &'static [u8],
    make: impl Fn(Reg) -> Asm + 'static,
) -> RegSlot {
    RegSlot {
        what: what.into(),
        make: Box::new(make),
        allowed,
    }
}

fn register_slots() -> Vec<RegSlot> {
    use DpOp::*;
    let r = Reg;
    let lsl2 = Shift {
        kind: ShiftKind::Lsl,
        amount: 2,
    };
    let mut s = Vec::new();
    for op in [And, Bic, Orr, Orn, Eor, Adc, Sbc, Rsb, Add, Sub] {
        s.push(slot(format!("{op:?} reg rd"), GOOD, move |x| Asm::DpReg {
            op,
            s: false,
            rd: x,
            rn: r(1),
            rm: r(2),
            shift: lsl2,
        }));
        s.push(slot(format!("{op:?} reg rm"), GOOD, move |x| Asm::DpReg {
            op,
            s: true,
            rd: r(0),
            rn: r(1),
            rm: x,
            shift: lsl2,
        }));
        s.push(slot(format!("{op:?} imm rd"), GOOD, move |x| Asm::DpImm {
            op,
            s: true,
            rd: x,
            rn: r(1),
            imm: 0x3FC,
        }));
        // ADD/SUB accept SP as rn (the SP-relative encodings), others do not.
        let rn_set = if matches!(op, Add | Sub) {
            NOT_PC
        } else {
            GOOD
        };
        s.push(slot(format!("{op:?} reg rn"), rn_set, move |x| {
            Asm::DpReg {
                op,
                s: false,
                rd: r(0),
                rn: x,
                rm: r(2),
                shift: lsl2,
            }
        }));
        s.push(slot(format!("{op:?} imm rn"), rn_set, move |x| {
            Asm::DpImm {
                op,
                s: false,
                rd: r(0),
                rn: x,
                imm: 0x3FC,
            }
        }));
    }
    for op in [Add, Sub] {
        s.push(slot(format!("{op:?} sp reg rd"), NOT_PC, move |x| {
            Asm::DpReg {
                op,
                s: false,
                rd: x,
                rn: Reg::SP,
                rm: r(2),
                shift: lsl2,
            }
        }));
        s.push(slot(format!("{op:?} sp imm rd"), NOT_PC, move |x| {
            Asm::DpImm {
                op,
                s: false,
                rd: x,
                rn: Reg::SP,
                imm: 8,
            }
        }));
    }
    for (op, rn_set) in [(Tst, GOOD), (Teq, GOOD), (Cmn, NOT_PC), (Cmp, NOT_PC)] {
        s.push(slot(format!("{op:?} reg rn"), rn_set, move |x| {
            Asm::DpReg {
                op,
                s: true,
                rd: r(0),
                rn: x,
                rm: r(2),
                shift: Shift::NONE,
            }
        }));
        s.push(slot(format!("{op:?} reg rm"), GOOD, move |x| Asm::DpReg {
            op,
            s: true,
            rd: r(0),
            rn: r(1),
            rm: x,
            shift: Shift::NONE,
        }));
        s.push(slot(format!("{op:?} reg rd (ignored)"), ANY, move |x| {
            Asm::DpReg {
                op,
                s: true,
                rd: x,
                rn: r(1),
                rm: r(2),
                shift: Shift::NONE,
            }
        }));
        s.push(slot(format!("{op:?} imm rn"), rn_set, move |x| {
            Asm::DpImm {
                op,
                s: true,
                rd: r(0),
                rn: x,
                imm: 1,
            }
        }));
    }
    // MOV (register) without shift or flags allows SP (not to SP from SP).
    s.push(slot("mov.w rd", NOT_PC, move |x| Asm::DpReg {
        op: Mov,
        s: false,
        rd: x,
        rn: r(0),
        rm: r(1),
        shift: Shift::NONE,
    }));
    s.push(slot("mov.w rm", NOT_PC, move |x| Asm::DpReg {
        op: Mov,
        s: false,
        rd: r(0),
        rn: r(0),
        rm: x,
        shift: Shift::NONE,
    }));
    s.push(slot("movs.w rd", GOOD, move |x| Asm::DpReg {
        op: Mov,
        s: true,
        rd: x,
        rn: r(0),
        rm: r(1),
        shift: Shift::NONE,
    }));
    s.push(slot("lsl.w (imm) rm", GOOD, move |x| Asm::DpReg {
        op: Mov,
        s: false,
        rd: r(0),
        rn: r(0),
        rm: x,
        shift: lsl2,
    }));
    s.push(slot("mov.w rn (ignored)", ANY, move |x| Asm::DpReg {
        op: Mov,
        s: false,
        rd: r(0),
        rn: x,
        rm: r(1),
        shift: lsl2,
    }));
    s.push(slot("mvn.w rm", GOOD, move |x| Asm::DpReg {
        op: Mvn,
        s: false,
        rd: r(0),
        rn: r(0),
        rm: x,
        shift: Shift::NONE,
    }));
    s.push(slot("mov.w imm rd", GOOD, move |x| Asm::DpImm {
        op: Mov,
        s: false,
        rd: x,
        rn: r(0),
        imm: 0xFF00,
    }));
    s.push(slot("mvn imm rd", GOOD, move |x| Asm::DpImm {
        op: Mvn,
        s: false,
        rd: x,
        rn: r(0),
        imm: 0xFF00,
    }));
    s.push(slot("addw rn", NOT_PC, move |x| Asm::AddW {
        rd: r(0),
        rn: x,
        imm12: 0xABC,
    }));
    s.push(slot("subw rn", NOT_PC, move |x| Asm::SubW {
        rd: r(0),
        rn: x,
        imm12: 0xABC,
    }));
    s.push(slot("addw rd", GOOD, move |x| Asm::AddW {
        rd: x,
        rn: r(1),
        imm12: 0xABC,
    }));
    s.push(slot("addw rd (rn = sp)", NOT_PC, move |x| Asm::AddW {
        rd: x,
        rn: Reg::SP,
        imm12: 0xABC,
    }));
    s.push(slot("subw rd (rn = sp)", NOT_PC, move |x| Asm::SubW {
        rd: x,
        rn: Reg::SP,
        imm12: 0xABC,
    }));
    s.push(slot("movw rd", GOOD, move |x| Asm::MovW {
        rd: x,
        imm16: 0x1234,
    }));
    s.push(slot("movt rd", GOOD, move |x| Asm::MovT {
        rd: x,
        imm16: 0x1234,
    }));
    for (what, pos) in [("rd", 0), ("rn", 1), ("rm", 2)] {
        let pick = move |x: Reg, i: u8| if pos == i { x } else { r(i + 4) };
        s.push(slot(format!("lsr.w (reg) {what}"), GOOD, move |x| {
            Asm::ShiftReg {
                kind: ShiftKind::Lsr,
                s: false,
                rd: pick(x, 0),
                rn: pick(x, 1),
                rm: pick(x, 2),
            }
        }));
        s.push(slot(format!("mul {what}"), GOOD, move |x| Asm::Mul {
            rd: pick(x, 0),
            rn: pick(x, 1),
            rm: pick(x, 2),
        }));
        s.push(slot(format!("sdiv {what}"), GOOD, move |x| Asm::Sdiv {
            rd: pick(x, 0),
            rn: pick(x, 1),
            rm: pick(x, 2),
        }));
        s.push(slot(format!("udiv {what}"), GOOD, move |x| Asm::Udiv {
            rd: pick(x, 0),
            rn: pick(x, 1),
            rm: pick(x, 2),
        }));
        s.push(slot(format!("mla {what}"), GOOD, move |x| Asm::Mla {
            rd: pick(x, 0),
            rn: pick(x, 1),
            rm: pick(x, 2),
            ra: r(8),
        }));
        s.push(slot(format!("mls {what}"), GOOD, move |x| Asm::Mls {
            rd: pick(x, 0),
            rn: pick(x, 1),
            rm: pick(x, 2),
            ra: r(8),
        }));
    }
    s.push(slot("mla ra", GOOD, move |x| Asm::Mla {
        rd: r(0),
        rn: r(1),
        rm: r(2),
        ra: x,
    }));
    s.push(slot("mls ra", GOOD, move |x| Asm::Mls {
        rd: r(0),
        rn: r(1),
        rm: r(2),
        ra: x,
    }));
    // Long multiplies: RdHi fixed to r9, so RdLo = r9 is also illegal.
    const GOOD_NOT_9: &[u8] = &[0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 14];
    s.push(slot("umull rdlo", GOOD_NOT_9, move |x| Asm::Umull {
        rdlo: x,
        rdhi: r(9),
        rn: r(1),
        rm: r(2),
    }));
    s.push(slot("smull rdhi", GOOD_NOT_9, move |x| Asm::Smull {
        rdlo: r(9),
        rdhi: x,
        rn: r(1),
        rm: r(2),
    }));
    s.push(slot("umlal rn", GOOD, move |x| Asm::Umlal {
        rdlo: r(10),
        rdhi: r(9),
        rn: x,
        rm: r(2),
    }));
    s.push(slot("umull rm", GOOD, move |x| Asm::Umull {
        rdlo: r(10),
        rdhi: r(9),
        rn: r(1),
        rm: x,
    }));
    type Unary = fn(Reg, Reg) -> Asm;
    let unary: [(&str, Unary); 7] = [
        ("clz", |rd, rm| Asm::Clz { rd, rm }),
        ("rbit", |rd, rm| Asm::Rbit { rd, rm }),
        ("rev", |rd, rm| Asm::Rev { rd, rm }),
        ("sxtb", |rd, rm| Asm::Sxtb { rd, rm }),
        ("sxth", |rd, rm| Asm::Sxth { rd, rm }),
        ("uxtb", |rd, rm| Asm::Uxtb { rd, rm }),
        ("uxth", |rd, rm| Asm::Uxth { rd, rm }),
    ];
    for (name, mk) in unary {
        s.push(slot(format!("{name} rd"), GOOD, move |x| mk(x, r(3))));
        s.push(slot(format!("{name} rm"), GOOD, move |x| mk(r(3), x)));
    }
    for (size, signed) in [
        (MemSize::Byte, false),
        (MemSize::Byte, true),
        (MemSize::Half, false),
        (MemSize::Half, true),
        (MemSize::Word, false),
    ] {
        let load_rt = if size == MemSize::Word { ANY } else { GOOD };
        let store_rt = if size == MemSize::Word { NOT_PC } else { GOOD };
        for imm in [8, -8] {
            s.push(slot(
                format!("ldr{size:?}{signed} #{imm} rt"),
                load_rt,
                move |x| Asm::Ldr {
                    size,
                    signed,
                    rt: x,
                    rn: r(1),
                    imm,
                },
            ));
            // rn = PC is the literal form (loads only).
            s.push(slot(
                format!("ldr{size:?}{signed} #{imm} rn"),
                ANY,
                move |x| Asm::Ldr {
                    size,
                    signed,
                    rt: r(0),
                    rn: x,
                    imm,
                },
            ));
        }
        s.push(slot(
            format!("ldr{size:?}{signed} reg rt"),
            load_rt,
            move |x| Asm::LdrReg {
                size,
                signed,
                rt: x,
                rn: r(1),
                rm: r(2),
                shift: 1,
            },
        ));
        s.push(slot(
            format!("ldr{size:?}{signed} reg rn"),
            NOT_PC,
            move |x| Asm::LdrReg {
                size,
                signed,
                rt: r(0),
                rn: x,
                rm: r(2),
                shift: 1,
            },
        ));
        s.push(slot(
            format!("ldr{size:?}{signed} reg rm"),
            GOOD,
            move |x| Asm::LdrReg {
                size,
                signed,
                rt: r(0),
                rn: r(1),
                rm: x,
                shift: 1,
            },
        ));
        if !signed {
            for imm in [8, -8] {
                s.push(slot(format!("str{size:?} #{imm} rt"), store_rt, move |x| {
                    Asm::Str {
                        size,
                        rt: x,
                        rn: r(1),
                        imm,
                    }
                }));
                s.push(slot(format!("str{size:?} #{imm} rn"), NOT_PC, move |x| {
                    Asm::Str {
                        size,
                        rt: r(0),
                        rn: x,
                        imm,
                    }
                }));
            }
            s.push(slot(format!("str{size:?} reg rt"), store_rt, move |x| {
                Asm::StrReg {
                    size,
                    rt: x,
                    rn: r(1),
                    rm: r(2),
                    shift: 3,
                }
            }));
            s.push(slot(format!("str{size:?} reg rn"), NOT_PC, move |x| {
                Asm::StrReg {
                    size,
                    rt: r(0),
                    rn: x,
                    rm: r(2),
                    shift: 3,
                }
            }));
            s.push(slot(format!("str{size:?} reg rm"), GOOD, move |x| {
                Asm::StrReg {
                    size,
                    rt: r(0),
                    rn: r(1),
                    rm: x,
                    shift: 3,
                }
            }));
        }
    }
    s.push(slot("ldrd rt", GOOD_NOT_9, move |x| Asm::Ldrd {
        rt: x,
        rt2: r(9),
        rn: r(1),
        imm: -16,
    }));
    s.push(slot("ldrd rt2", GOOD_NOT_9, move |x| Asm::Ldrd {
        rt: r(9),
        rt2: x,
        rn: r(1),
        imm: 16,
    }));
    s.push(slot("ldrd rn", NOT_PC, move |x| Asm::Ldrd {
        rt: r(2),
        rt2: r(3),
        rn: x,
        imm: 16,
    }));
    s.push(slot("strd rt", GOOD, move |x| Asm::Strd {
        rt: x,
        rt2: r(9),
        rn: r(1),
        imm: -16,
    }));
    s.push(slot("strd rt2", GOOD, move |x| Asm::Strd {
        rt: r(9),
        rt2: x,
        rn: r(1),
        imm: 16,
    }));
    s.push(slot("strd rn", NOT_PC, move |x| Asm::Strd {
        rt: r(2),
        rt2: r(3),
        rn: x,
        imm: 16,
    }));
    s.push(slot("push single", GOOD, move |x| Asm::Push {
        regs: 1 << x.0,
    }));
    s.push(slot("push with r8", GOOD, move |x| Asm::Push {
        regs: (1 << x.0) | (1 << 8),
    }));
    s.push(slot("pop single", NOT_SP, move |x| Asm::Pop {
        regs: 1 << x.0,
    }));
    s.push(slot("mov rd", ANY, move |x| Asm::MovReg {
        rd: x,
        rm: r(1),
    }));
    s.push(slot("mov rm", ANY, move |x| Asm::MovReg {
        rd: r(1),
        rm: x,
    }));
    s.push(slot("bx rm", ANY, move |x| Asm::Bx { rm: x }));
    s.push(slot("blx rm", NOT_PC, move |x| Asm::Blx { rm: x }));
    s.push(slot("cbz rn", LOW, move |x| Asm::Cbz {
        nonzero: false,
        rn: x,
        offset: 10,
    }));
    s.push(slot("tbb rn", NOT_SP, move |x| Asm::Tbb {
        rn: x,
        rm: r(1),
    }));
    s.push(slot("tbh rm", GOOD, move |x| Asm::Tbh { rn: r(0), rm: x }));
    s
}

/// Exhaustive register sweep: in every register slot each of r0..r15 is
/// accepted exactly when the ARM ARM allows it, the accepted ones assemble
/// to the same bytes with llvm-mc, and the rejected ones say which register.
#[test]
fn register_rules_match_the_architecture() {
    let mut cases = Vec::new();
    let mut wrong = Vec::new();
    for s in register_slots() {
        for n in 0..16u8 {
            let insn = (s.make)(Reg(n));
            let mut out = Vec::new();
            match (insn.encode(&mut out), s.allowed.contains(&n)) {
                (Ok(()), true) => cases.push(case_for("register sweep", insn)),
                (Err(e), true) => {
                    wrong.push(format!("{}: r{n} is legal but rejected: {e}", s.what))
                }
                (Ok(()), false) => wrong.push(format!(
                    "{}: r{n} is illegal but encoded as {out:02x?} (`{insn}`)",
                    s.what
                )),
                (Err(e), false) => {
                    if !matches!(
                        e.kind,
                        EncodeErrorKind::RegisterNotAllowed { .. }
                            | EncodeErrorKind::InvalidOperands(_)
                            | EncodeErrorKind::BadRegisterList { .. }
                    ) {
                        wrong.push(format!(
                            "{}: r{n} rejected for the wrong reason: {e}",
                            s.what
                        ));
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} register-rule violations:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    check_cases(&cases);
}

/// The exact instruction forms the i64 lowering and the stack-limit check
/// emit (besides the random draws above): ADDS/ADC, SUBS/SBC, the
/// `cmp lo; sbcs hi` comparison, UMULL + MLA, register shifts by a
/// computed amount, the prologue's `movw/movt r12; ldr.w r12, [r12];
/// addw r12, r12, #n; cmp.w sp, r12; blo`, and `udf #9`.
#[test]
fn i64_and_stack_check_forms_match_llvm_mc() {
    use DpOp::*;
    let r = Reg;
    let dp = |op, s, rd: u8, rn: u8, rm: u8| Asm::DpReg {
        op,
        s,
        rd: r(rd),
        rn: r(rn),
        rm: r(rm),
        shift: Shift::NONE,
    };
    let mut table: Vec<(&'static str, Asm)> = vec![
        ("adds.w (i64 add, low)", dp(Add, true, 0, 0, 2)),
        ("adc.w (i64 add, high)", dp(Adc, false, 1, 1, 3)),
        ("subs.w (i64 sub, low)", dp(Sub, true, 4, 12, 8)),
        ("sbc.w (i64 sub, high)", dp(Sbc, false, 10, 11, 14)),
        ("cmp.w (i64 compare, low)", dp(Cmp, true, 15, 0, 2)),
        ("sbcs.w (i64 compare, high)", dp(Sbc, true, 12, 1, 3)),
        ("orr.w lsr (i64 shift by constant)", Asm::DpReg {
            op: Orr,
            s: false,
            rd: r(1),
            rn: r(2),
            rm: r(0),
            shift: Shift { kind: ShiftKind::Lsr, amount: 31 },
        }),
        ("orr.w lsl (i64 shift by constant)", Asm::DpReg {
            op: Orr,
            s: false,
            rd: r(0),
            rn: r(3),
            rm: r(1),
            shift: Shift { kind: ShiftKind::Lsl, amount: 1 },
        }),
        ("umull (i64 mul)", Asm::Umull { rdlo: r(2), rdhi: r(3), rn: r(0), rm: r(1) }),
        ("mla (i64 mul)", Asm::Mla { rd: r(3), rn: r(0), rm: r(12), ra: r(3) }),
        ("movw r12 (stack limit)", Asm::MovW { rd: Reg::R12, imm16: 0 }),
        ("movt r12 (stack limit)", Asm::MovT { rd: Reg::R12, imm16: 0 }),
        ("ldr.w r12, [r12] (stack limit)", Asm::Ldr {
            size: MemSize::Word,
            signed: false,
            rt: Reg::R12,
            rn: Reg::R12,
            imm: 0,
        }),
        ("addw r12 (frame size)", Asm::AddW { rd: Reg::R12, rn: Reg::R12, imm12: 4095 }),
        ("addw r12 (small frame)", Asm::AddW { rd: Reg::R12, rn: Reg::R12, imm12: 8 }),
        ("cmp.w sp, r12 (stack limit)", Asm::DpReg {
            op: Cmp,
            s: true,
            rd: Reg::PC,
            rn: Reg::SP,
            rm: Reg::R12,
            shift: Shift::NONE,
        }),
        ("blo (to the trap island)", Asm::BranchN { cond: Some(Cond::Lo), offset: 22 }),
        ("blo.w (to the trap island)", Asm::BranchW { cond: Some(Cond::Lo), offset: 4000 }),
        ("udf #9 (stack exhausted)", Asm::Udf { imm8: 9 }),
    ];
    for kind in [ShiftKind::Lsl, ShiftKind::Lsr, ShiftKind::Asr] {
        table.push(("register shift (i64 variable shift)", Asm::ShiftReg {
            kind,
            s: false,
            rd: r(4),
            rn: r(5),
            rm: r(6),
        }));
    }
    let cases: Vec<Case> = table.into_iter().map(|(form, a)| case_for(form, a)).collect();
    check_cases(&cases);
}

/// Single-precision register numbers s0-s31, edges weighted in.
fn sreg() -> BoxedStrategy<u8> {
    prop_oneof![1 => Just(0u8), 1 => Just(31u8), 1 => Just(1u8), 5 => 0u8..=31].boxed()
}

/// Random instances of every floating-point-extension variant (VMOV
/// between core and S registers takes any core register but SP and PC,
/// ARMv7-M ARM A7.7.243), plus the exact forms the lowering emits, all
/// assembled for the FPU triples.
#[test]
fn vfp_forms_match_llvm_mc() {
    let vfp_op = || prop::sample::select(&[VfpOp::Add, VfpOp::Sub, VfpOp::Mul, VfpOp::Div][..]);
    let unary_op = || {
        prop::sample::select(
            &[
                VfpUnaryOp::Sqrt,
                VfpUnaryOp::ToS32,
                VfpUnaryOp::ToU32,
                VfpUnaryOp::FromS32,
                VfpUnaryOp::FromU32,
            ][..],
        )
    };
    let forms: Vec<Form> = vec![
        ("VmovToS", (sreg(), reg(GOOD)).prop_map(|(sn, rt)| Asm::VmovToS { sn, rt }).boxed()),
        ("VmovFromS", (reg(GOOD), sreg()).prop_map(|(rt, sn)| Asm::VmovFromS { rt, sn }).boxed()),
        (
            "VArith",
            (vfp_op(), sreg(), sreg(), sreg())
                .prop_map(|(op, sd, sn, sm)| Asm::VArith { op, sd, sn, sm })
                .boxed(),
        ),
        (
            "VUnary",
            (unary_op(), sreg(), sreg()).prop_map(|(op, sd, sm)| Asm::VUnary { op, sd, sm }).boxed(),
        ),
        ("Vcmp", (sreg(), sreg()).prop_map(|(sd, sm)| Asm::Vcmp { sd, sm }).boxed()),
        ("VmrsApsr", Just(Asm::VmrsApsr).boxed()),
    ];
    let mut runner = TestRunner::new_with_rng(
        Config {
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[0x3C; 32]),
    );
    let mut cases = Vec::new();
    for (name, strategy) in &forms {
        for _ in 0..CASES_PER_FORM {
            let insn = strategy.new_tree(&mut runner).unwrap().current();
            cases.push(case_for(name, insn));
        }
    }
    // What the lowering emits: operands through s0/s1, result in s0.
    for op in [VfpOp::Add, VfpOp::Sub, VfpOp::Mul, VfpOp::Div] {
        cases.push(case_for("VArith (lowering)", Asm::VArith { op, sd: 0, sn: 0, sm: 1 }));
    }
    for op in [VfpUnaryOp::Sqrt, VfpUnaryOp::ToS32, VfpUnaryOp::ToU32, VfpUnaryOp::FromS32, VfpUnaryOp::FromU32] {
        cases.push(case_for("VUnary (lowering)", Asm::VUnary { op, sd: 0, sm: 0 }));
    }
    cases.push(case_for("Vcmp (lowering)", Asm::Vcmp { sd: 0, sm: 1 }));
    let covered: BTreeSet<&str> = cases.iter().map(|c| variant_name(&c.insn)).collect();
    assert_eq!(covered, FP_VARIANTS.iter().copied().collect::<BTreeSet<_>>());
    check_cases_for(&cases, FP_TRIPLES);
}

/// S registers above 31 and SP/PC as the core register of a VMOV are
/// rejected.
#[test]
fn vfp_illegal_operands_are_rejected() {
    let bad = [
        Asm::VmovToS { sn: 32, rt: Reg(0) },
        Asm::VmovToS { sn: 0, rt: Reg::SP },
        Asm::VmovFromS { rt: Reg::PC, sn: 1 },
        Asm::VArith { op: VfpOp::Add, sd: 0, sn: 40, sm: 1 },
        Asm::VUnary { op: VfpUnaryOp::Sqrt, sd: 32, sm: 0 },
        Asm::Vcmp { sd: 0, sm: 99 },
    ];
    for a in bad {
        let mut out = Vec::new();
        assert!(a.encode(&mut out).is_err(), "{a:?} must be rejected");
        assert!(out.is_empty());
    }
}

/// The double-precision forms (FPv5-D16, Cortex-M7), against llvm-mc with
/// a double-precision FPU: random registers (d0-d15, s0-s31, core
/// registers but SP/PC; `vmov rt, rt2, dm` with rt != rt2), and the exact
/// forms the lowering emits.
#[test]
fn vfp_double_forms_match_llvm_mc() {
    const DP_TRIPLES: &[(&str, &[&str])] = &[("thumbv7em-none-eabihf", &["-mattr=+fp-armv8d16"])];
    const DP_VARIANTS: &[&str] = &["VmovToD", "VmovFromD", "VArith64", "VSqrt64", "Vcmp64", "VCvt"];
    let dreg = || prop_oneof![1 => Just(0u8), 1 => Just(15u8), 5 => 0u8..=15].boxed();
    let vfp_op = || prop::sample::select(&[VfpOp::Add, VfpOp::Sub, VfpOp::Mul, VfpOp::Div][..]);
    use VcvtOp::*;
    let to_single = || prop::sample::select(&[F64ToS32, F64ToU32, F64ToF32][..]);
    let to_double = || prop::sample::select(&[S32ToF64, U32ToF64, F32ToF64][..]);
    let forms: Vec<Form> = vec![
        (
            "VmovToD",
            (dreg(), reg(GOOD), reg(GOOD)).prop_map(|(dm, rt, rt2)| Asm::VmovToD { dm, rt, rt2 }).boxed(),
        ),
        (
            "VmovFromD",
            (reg(GOOD), reg(GOOD), dreg())
                .prop_filter("rt != rt2", |(a, b, _)| a != b)
                .prop_map(|(rt, rt2, dm)| Asm::VmovFromD { rt, rt2, dm })
                .boxed(),
        ),
        (
            "VArith64",
            (vfp_op(), dreg(), dreg(), dreg())
                .prop_map(|(op, dd, dn, dm)| Asm::VArith64 { op, dd, dn, dm })
                .boxed(),
        ),
        ("VSqrt64", (dreg(), dreg()).prop_map(|(dd, dm)| Asm::VSqrt64 { dd, dm }).boxed()),
        ("Vcmp64", (dreg(), dreg()).prop_map(|(dd, dm)| Asm::Vcmp64 { dd, dm }).boxed()),
        ("VCvt", (to_single(), sreg(), dreg()).prop_map(|(op, d, m)| Asm::VCvt { op, d, m }).boxed()),
        ("VCvt", (to_double(), dreg(), sreg()).prop_map(|(op, d, m)| Asm::VCvt { op, d, m }).boxed()),
    ];
    let mut runner = TestRunner::new_with_rng(
        Config {
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[0xD6; 32]),
    );
    let mut cases = Vec::new();
    for (name, strategy) in &forms {
        for _ in 0..CASES_PER_FORM {
            let insn = strategy.new_tree(&mut runner).unwrap().current();
            cases.push(case_for(name, insn));
        }
    }
    let covered: BTreeSet<&str> = cases.iter().map(|c| variant_name(&c.insn)).collect();
    assert_eq!(covered, DP_VARIANTS.iter().copied().collect::<BTreeSet<_>>());
    check_cases_for(&cases, DP_TRIPLES);
    for bad in [
        Asm::VmovFromD { rt: Reg(1), rt2: Reg(1), dm: 0 },
        Asm::VmovToD { dm: 16, rt: Reg(0), rt2: Reg(1) },
        Asm::VArith64 { op: VfpOp::Add, dd: 0, dn: 16, dm: 1 },
        Asm::VCvt { op: F64ToS32, d: 32, m: 0 },
    ] {
        assert!(bad.encode(&mut Vec::new()).is_err(), "{bad:?} must be rejected");
    }
}
