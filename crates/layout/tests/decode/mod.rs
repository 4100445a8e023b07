//! Register decoders written from the architecture manuals' field tables,
//! independently of the crate's encoders (they share no code with it): the
//! property tests decode every planned register back and compare the result
//! with the plan.
//!
//! - ARMv7-M ARM, B3.5.9 MPU_RBAR, B3.5.10 MPU_RASR, table B3-15 (AP), table
//!   B3-13 (TEX/C/B).
//! - ARMv8-M ARM, MPU_RBAR, MPU_RLAR, MPU_MAIR0.
//! - RISC-V privileged spec, "Physical Memory Protection" (pmpcfg A field,
//!   NAPOT trailing-ones encoding).
#![allow(dead_code)]

/// Access rights of one privilege level.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Rights {
    None,
    ReadOnly,
    ReadWrite,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Granted byte ranges `[start, end)`, sorted, merged.
    pub spans: Vec<(u64, u64)>,
    pub privileged: Rights,
    pub unprivileged: Rights,
    pub execute: bool,
    /// "normal-write-back", "normal-write-through", "device", "other".
    pub memory_type: &'static str,
}

fn merge(mut spans: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    spans.sort();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (s, e) in spans {
        match out.last_mut() {
            Some(last) if last.1 == s => last.1 = e,
            _ => out.push((s, e)),
        }
    }
    out
}

/// PMSAv7: RBAR/RASR to the region number RBAR selects (if VALID), and what
/// the region grants. Err if the values break an architectural rule.
pub fn pmsav7(rbar: u32, rasr: u32) -> Result<(Option<u32>, Decoded), String> {
    let enable = rasr & 1;
    if enable == 0 {
        return Err("ENABLE is 0".into());
    }
    let size_field = (rasr >> 1) & 0x1F;
    if size_field < 4 {
        return Err(format!("SIZE {size_field} is reserved (minimum region is 32 B, SIZE = 4)"));
    }
    let size: u64 = 1u64 << (size_field + 1);
    let addr = (rbar & !0x1F) as u64;
    if !addr.is_multiple_of(size) {
        return Err(format!("ADDR {addr:#x} not aligned to region size {size:#x}"));
    }
    let region = ((rbar >> 4) & 1 == 1).then_some(rbar & 0xF);
    let srd = (rasr >> 8) & 0xFF;
    if size < 256 && srd != 0 {
        return Err("SRD must be 0 for regions below 256 B".into());
    }
    let mut spans = Vec::new();
    if size < 256 {
        spans.push((addr, addr + size));
    } else {
        let sub = size / 8;
        for i in 0..8 {
            if srd & (1 << i) == 0 {
                spans.push((addr + i * sub, addr + (i + 1) * sub));
            }
        }
    }
    let ap = (rasr >> 24) & 7;
    let (privileged, unprivileged) = match ap {
        0b000 => (Rights::None, Rights::None),
        0b001 => (Rights::ReadWrite, Rights::None),
        0b010 => (Rights::ReadWrite, Rights::ReadOnly),
        0b011 => (Rights::ReadWrite, Rights::ReadWrite),
        0b101 => (Rights::ReadOnly, Rights::None),
        0b110 | 0b111 => (Rights::ReadOnly, Rights::ReadOnly),
        _ => return Err("AP 0b100 is reserved".into()),
    };
    let xn = (rasr >> 28) & 1 == 1;
    let tex = (rasr >> 19) & 7;
    let c = (rasr >> 17) & 1;
    let b = (rasr >> 16) & 1;
    let memory_type = match (tex, c, b) {
        (0b001, 1, 1) => "normal-write-back",
        (0b000, 1, 0) => "normal-write-through",
        (0b000, 0, 1) => "device",
        _ => "other",
    };
    Ok((region, Decoded { spans: merge(spans), privileged, unprivileged, execute: !xn, memory_type }))
}

/// PMSAv8: RBAR/RLAR (+ MAIR0 for the memory type).
pub fn pmsav8(rbar: u32, rlar: u32, mair0: u32) -> Result<Decoded, String> {
    if rlar & 1 == 0 {
        return Err("EN is 0".into());
    }
    let base = (rbar & 0xFFFF_FFE0) as u64;
    let limit = (rlar | 0x1F) as u64; // last byte: LIMIT:0b11111
    if limit < base {
        return Err(format!("limit {limit:#x} below base {base:#x}: the region matches nothing"));
    }
    let xn = rbar & 1 == 1;
    let ap = (rbar >> 1) & 3;
    let (privileged, unprivileged) = match ap {
        0b00 => (Rights::ReadWrite, Rights::None),
        0b01 => (Rights::ReadWrite, Rights::ReadWrite),
        0b10 => (Rights::ReadOnly, Rights::None),
        _ => (Rights::ReadOnly, Rights::ReadOnly),
    };
    let attr_index = (rlar >> 1) & 7;
    if attr_index > 3 {
        return Err(format!("AttrIndx {attr_index} is in MAIR1, which the plan does not set"));
    }
    let attr = (mair0 >> (8 * attr_index)) & 0xFF;
    let memory_type = match attr {
        0xFF => "normal-write-back",
        0xAA => "normal-write-through",
        0x04 => "device",
        _ => "other",
    };
    Ok(Decoded { spans: vec![(base, limit + 1)], privileged, unprivileged, execute: !xn, memory_type })
}

/// RISC-V PMP: decodes entries `addrs[i]`/`cfgs[i]` (all entries, in
/// order) into what each matching entry grants to S/U mode. Returns, per
/// active entry index, its span and rights.
pub fn pmp(addrs: &[u32], cfgs: &[u8]) -> Result<Vec<(usize, Decoded)>, String> {
    let mut out = Vec::new();
    for i in 0..addrs.len() {
        let cfg = cfgs[i];
        let r = cfg & 1 != 0;
        let w = cfg & 2 != 0;
        let x = cfg & 4 != 0;
        if w && !r {
            return Err(format!("entry {i}: W without R is reserved"));
        }
        let a = (cfg >> 3) & 3;
        let span = match a {
            0 => continue,
            1 => {
                let bottom = if i == 0 { 0 } else { (addrs[i - 1] as u64) << 2 };
                let top = (addrs[i] as u64) << 2;
                if top <= bottom {
                    return Err(format!("entry {i}: TOR top {top:#x} not above bottom {bottom:#x}"));
                }
                (bottom, top)
            }
            2 => {
                let base = (addrs[i] as u64) << 2;
                (base, base + 4)
            }
            _ => {
                let ones = addrs[i].trailing_ones() as u64;
                let size = 1u64 << (ones + 3);
                let base = ((addrs[i] as u64) & !((1u64 << ones) - 1)) << 2;
                (base, base + size)
            }
        };
        let rights = match (r, w) {
            (true, true) => Rights::ReadWrite,
            (true, false) => Rights::ReadOnly,
            _ => Rights::None,
        };
        out.push((
            i,
            Decoded {
                spans: vec![span],
                // M mode is not constrained by unlocked entries.
                privileged: Rights::ReadWrite,
                unprivileged: rights,
                execute: x,
                memory_type: "pmp",
            },
        ));
    }
    Ok(out)
}
