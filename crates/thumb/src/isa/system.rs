//! System instructions of ARMv7-M / ARMv8-M Mainline that compiled wasm
//! code never needs but startup code and exception handlers do: moves to
//! and from special registers, interrupt masking, barriers and supervisor
//! calls. (`BKPT` and `UDF` are ordinary [`Asm`](super::asm::Asm) variants.)
//!
//! Encodings follow the ARMv7-M Architecture Reference Manual (A7.7.82
//! MRS, A7.7.83 MSR (register), B5.2.1 CPS, A7.7.33 DSB, A7.7.37 ISB,
//! A7.7.175 SVC); the tests compare every form with `llvm-mc -show-encoding`.
//! `Display` prints unified syntax that llvm-mc assembles to the same bytes.

use core::fmt;

use super::asm::Reg;

/// A special register reachable with MRS/MSR (the `SYSm` field).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum SpecialReg {
    Apsr,
    Ipsr,
    Msp,
    Psp,
    Primask,
    Basepri,
    Faultmask,
    Control,
}

impl SpecialReg {
    /// The SYSm encoding (ARMv7-M ARM B5.1.1).
    pub fn sysm(self) -> u16 {
        match self {
            SpecialReg::Apsr => 0,
            SpecialReg::Ipsr => 5,
            SpecialReg::Msp => 8,
            SpecialReg::Psp => 9,
            SpecialReg::Primask => 16,
            SpecialReg::Basepri => 17,
            SpecialReg::Faultmask => 19,
            SpecialReg::Control => 20,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            // `apsr_nzcvq` is the unambiguous UAL spelling of the MSR mask
            // 0b10 for the APSR; for MRS `apsr` suffices.
            SpecialReg::Apsr => "apsr",
            SpecialReg::Ipsr => "ipsr",
            SpecialReg::Msp => "msp",
            SpecialReg::Psp => "psp",
            SpecialReg::Primask => "primask",
            SpecialReg::Basepri => "basepri",
            SpecialReg::Faultmask => "faultmask",
            SpecialReg::Control => "control",
        }
    }
}

/// A system instruction (barriers: only the full-system `sy` form).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum SysInsn {
    /// `mrs rd, spec_reg` (32-bit).
    Mrs {
        rd: Reg,
        spec: SpecialReg,
    },
    /// `msr spec_reg, rn` (32-bit; for the APSR it writes NZCVQ).
    Msr {
        spec: SpecialReg,
        rn: Reg,
    },
    /// `cpsid i` / `cpsie i` (16-bit): set / clear PRIMASK.
    CpsidI,
    CpsieI,
    /// `dsb sy`, `isb sy`, `dmb sy` (32-bit).
    Dsb,
    Isb,
    Dmb,
    /// `svc #imm8` (16-bit).
    Svc {
        imm8: u8,
    },
}

/// Why a [`SysInsn`] cannot be encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysEncodeError {
    pub instruction: String,
    pub why: &'static str,
}

impl fmt::Display for SysEncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot encode `{}`: {}", self.instruction, self.why)
    }
}

impl std::error::Error for SysEncodeError {}

impl SysInsn {
    /// Encoded size in bytes.
    pub fn size(&self) -> u32 {
        match self {
            SysInsn::CpsidI | SysInsn::CpsieI | SysInsn::Svc { .. } => 2,
            _ => 4,
        }
    }

    /// Appends the little-endian halfwords in fetch order.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), SysEncodeError> {
        let err = |why| SysEncodeError { instruction: self.to_string(), why };
        // MRS/MSR: d/n in {13, 15} is UNPREDICTABLE (A7.7.82, A7.7.83).
        let check = |r: Reg| {
            if r.0 > 15 {
                Err(err("no such register"))
            } else if r == Reg::SP || r == Reg::PC {
                Err(err("SP and PC are UNPREDICTABLE here"))
            } else {
                Ok(u16::from(r.0))
            }
        };
        let halves: &[u16] = &match *self {
            SysInsn::Mrs { rd, spec } => [0xF3EF, 0x8000 | (check(rd)? << 8) | spec.sysm()],
            // mask = 0b10 (bits 11:10): write the whole register (for the
            // APSR: NZCVQ).
            SysInsn::Msr { spec, rn } => [0xF380 | check(rn)?, 0x8800 | spec.sysm()],
            SysInsn::CpsidI => [0xB672, 0],
            SysInsn::CpsieI => [0xB662, 0],
            SysInsn::Dsb => [0xF3BF, 0x8F4F],
            SysInsn::Dmb => [0xF3BF, 0x8F5F],
            SysInsn::Isb => [0xF3BF, 0x8F6F],
            SysInsn::Svc { imm8 } => [0xDF00 | u16::from(imm8), 0],
        };
        let n = (self.size() / 2) as usize;
        for h in &halves[..n] {
            out.extend_from_slice(&h.to_le_bytes());
        }
        Ok(())
    }
}

impl fmt::Display for SysInsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SysInsn::Mrs { rd, spec } => write!(f, "mrs {}, {}", reg_name(rd), spec.name()),
            SysInsn::Msr { spec: SpecialReg::Apsr, rn } => write!(f, "msr apsr_nzcvq, {}", reg_name(rn)),
            SysInsn::Msr { spec, rn } => write!(f, "msr {}, {}", spec.name(), reg_name(rn)),
            SysInsn::CpsidI => f.write_str("cpsid i"),
            SysInsn::CpsieI => f.write_str("cpsie i"),
            SysInsn::Dsb => f.write_str("dsb sy"),
            SysInsn::Dmb => f.write_str("dmb sy"),
            SysInsn::Isb => f.write_str("isb sy"),
            SysInsn::Svc { imm8 } => write!(f, "svc #{imm8}"),
        }
    }
}

fn reg_name(r: Reg) -> String {
    match r.0 {
        13 => "sp".into(),
        14 => "lr".into(),
        15 => "pc".into(),
        n => format!("r{n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    const SPECIALS: [SpecialReg; 8] = [
        SpecialReg::Apsr,
        SpecialReg::Ipsr,
        SpecialReg::Msp,
        SpecialReg::Psp,
        SpecialReg::Primask,
        SpecialReg::Basepri,
        SpecialReg::Faultmask,
        SpecialReg::Control,
    ];

    /// Every form with every allowed register, and boundary SVC numbers.
    fn all_forms() -> Vec<SysInsn> {
        let mut forms = vec![SysInsn::CpsidI, SysInsn::CpsieI, SysInsn::Dsb, SysInsn::Isb, SysInsn::Dmb];
        for spec in SPECIALS {
            for r in (0u8..=14).filter(|&r| r != 13) {
                forms.push(SysInsn::Mrs { rd: Reg(r), spec });
                forms.push(SysInsn::Msr { spec, rn: Reg(r) });
            }
        }
        for imm8 in [0u8, 1, 0x55, 0xAB, 0xFF] {
            forms.push(SysInsn::Svc { imm8 });
        }
        forms
    }

    fn llvm_mc() -> String {
        if let Ok(path) = std::env::var("LLVM_MC") {
            return path;
        }
        for candidate in ["llvm-mc", "llvm-mc-14"] {
            if Command::new(candidate).arg("--version").output().is_ok() {
                return candidate.to_string();
            }
        }
        panic!("llvm-mc not found (set LLVM_MC)");
    }

    /// Parses `encoding: [0x..,0x..]` from each line of llvm-mc's output.
    fn encodings(output: &str) -> Vec<Vec<u8>> {
        output
            .lines()
            .filter_map(|l| l.split("encoding: [").nth(1))
            .map(|rest| {
                rest.trim_end_matches(']')
                    .split(',')
                    .map(|b| u8::from_str_radix(b.trim().trim_start_matches("0x"), 16).unwrap())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn encodings_match_llvm_mc() {
        let forms = all_forms();
        let text: String = forms.iter().map(|f| format!("{f}\n")).collect();
        for triple in ["thumbv7m-none-eabi", "thumbv8m.main-none-eabi"] {
            let mut child = Command::new(llvm_mc())
                .args([&format!("-triple={triple}"), "-show-encoding"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run llvm-mc");
            child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success() && stderr.trim().is_empty(), "llvm-mc ({triple}) rejected:\n{stderr}");
            let got = encodings(&String::from_utf8_lossy(&out.stdout));
            assert_eq!(got.len(), forms.len(), "one encoding per line");
            for (form, expected) in forms.iter().zip(got) {
                let mut ours = Vec::new();
                form.encode(&mut ours).unwrap();
                assert_eq!(ours, expected, "`{form}` ({triple})");
                assert_eq!(ours.len() as u32, form.size());
            }
        }
    }

    #[test]
    fn rejects_sp_and_pc() {
        let mut out = Vec::new();
        assert!(SysInsn::Mrs { rd: Reg::SP, spec: SpecialReg::Msp }.encode(&mut out).is_err());
        assert!(SysInsn::Msr { spec: SpecialReg::Psp, rn: Reg::PC }.encode(&mut out).is_err());
        assert!(SysInsn::Msr { spec: SpecialReg::Psp, rn: Reg(16) }.encode(&mut out).is_err());
        assert!(out.is_empty());
    }
}
