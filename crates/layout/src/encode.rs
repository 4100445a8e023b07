//! Register encoders: PMSAv7 RBAR/RASR, PMSAv8 RBAR/RLAR, RISC-V PMP.
//!
//! Field layouts (ARMv7-M ARM B3.5.9/B3.5.10 MPU_RBAR/MPU_RASR; ARMv8-M ARM
//! D1.2.xx MPU_RBAR/MPU_RLAR; RISC-V privileged spec 3.7):
//!
//! ```text
//! PMSAv7 RBAR  [31:5] ADDR  [4] VALID  [3:0] REGION
//! PMSAv7 RASR  [28] XN  [26:24] AP  [21:19] TEX  [18] S  [17] C  [16] B
//!              [15:8] SRD  [5:1] SIZE (region = 2^(SIZE+1) bytes)  [0] ENABLE
//! PMSAv8 RBAR  [31:5] BASE  [4:3] SH  [2:1] AP  [0] XN
//! PMSAv8 RLAR  [31:5] LIMIT (last byte = LIMIT:11111)  [3:1] AttrIndx  [0] EN
//! pmpcfg byte  [7] L  [4:3] A (OFF, TOR, NA4, NAPOT)  [2] X  [1] W  [0] R
//! ```

use crate::{Attributes, MemoryType};

/// A PMSAv7 region: an aligned power-of-two window and its subregion
/// disable bits.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pmsav7Shape {
    /// Window base, a multiple of the window size.
    pub window_base: u32,
    /// log2 of the window size, 5 (32 B) ..= 32 (4 GiB); RASR.SIZE is
    /// this minus one.
    pub window_log2: u32,
    /// Subregion disable bits: bit i set disables the i-th eighth of the
    /// window. Always 0 for windows below 256 B (no subregions).
    pub srd: u8,
}

impl Pmsav7Shape {
    pub fn window_size(&self) -> u64 {
        1u64 << self.window_log2
    }
}

/// The smallest PMSAv7 region granting exactly `[base, base + size)`: an
/// aligned power-of-two window in which the range is a contiguous run of
/// enabled subregions (or the whole window, below 256 B). `None` if no
/// region can express the range (e.g. it is not 32-byte aligned, or its
/// ends do not fall on one window's subregion boundaries).
pub fn pmsav7_region_for(base: u32, size: u64) -> Option<Pmsav7Shape> {
    let base64 = base as u64;
    if size == 0 || base64 + size > 1 << 32 {
        return None;
    }
    for log2 in 5..=32u32 {
        let window = 1u64 << log2;
        let window_base = base64 & !(window - 1);
        if base64 + size > window_base + window {
            continue;
        }
        if log2 < 8 {
            if window_base == base64 && size == window {
                return Some(Pmsav7Shape { window_base: window_base as u32, window_log2: log2, srd: 0 });
            }
            continue;
        }
        let sub = window / 8;
        let offset = base64 - window_base;
        if !offset.is_multiple_of(sub) || !size.is_multiple_of(sub) {
            continue;
        }
        let first = (offset / sub) as u32;
        let count = (size / sub) as u32;
        let enabled: u32 = ((1u32 << count) - 1) << first;
        return Some(Pmsav7Shape { window_base: window_base as u32, window_log2: log2, srd: !(enabled as u8) });
    }
    None
}

/// MPU_RBAR for region `number` (< 16): ADDR | VALID | REGION, so that one
/// write selects the region and sets its base.
pub fn pmsav7_rbar(shape: &Pmsav7Shape, number: u32) -> u32 {
    debug_assert!(number < 16);
    shape.window_base | 1 << 4 | (number & 0xF)
}

/// MPU_RASR: XN, AP, TEX/S/C/B from the attributes, SRD, SIZE, ENABLE.
pub fn pmsav7_rasr(shape: &Pmsav7Shape, attributes: &Attributes) -> u32 {
    // AP (ARMv7-M ARM table B3-15): 0b001 priv RW / unpriv none, 0b011 RW
    // for both, 0b101 priv RO / unpriv none, 0b110 RO for both.
    let ap: u32 = match (attributes.write, attributes.unprivileged) {
        (true, false) => 0b001,
        (true, true) => 0b011,
        (false, false) => 0b101,
        (false, true) => 0b110,
    };
    // TEX, C, B (table B3-13): normal write-back read/write-allocate is
    // TEX=001 C=1 B=1; normal write-through no-write-allocate TEX=000 C=1
    // B=0; shareable device TEX=000 C=0 B=1. S = 0: one core, nothing to
    // keep coherent with.
    let (tex, c, b): (u32, u32, u32) = match attributes.memory_type {
        MemoryType::NormalWriteBack => (0b001, 1, 1),
        MemoryType::NormalWriteThrough => (0b000, 1, 0),
        MemoryType::Device => (0b000, 0, 1),
    };
    let xn = !attributes.execute as u32;
    (xn << 28)
        | (ap << 24)
        | (tex << 19)
        | (c << 17)
        | (b << 16)
        | ((shape.srd as u32) << 8)
        | ((shape.window_log2 - 1) << 1)
        | 1
}

/// PMSAv8 MPU_RBAR: BASE (32-byte aligned), SH = non-shareable, AP, XN.
pub fn pmsav8_rbar(base: u32, attributes: &Attributes) -> u32 {
    // AP[2:1] (ARMv8-M ARM): 00 RW privileged only, 01 RW any privilege,
    // 10 RO privileged only, 11 RO any privilege.
    let ap: u32 = ((!attributes.write as u32) << 1) | attributes.unprivileged as u32;
    (base & !0x1F) | (ap << 1) | (!attributes.execute as u32)
}

/// PMSAv8 MPU_RLAR for a region whose last byte is `last` (its LIMIT field
/// keeps bits [31:5]; the low five bits of the limit are implicitly ones):
/// LIMIT | AttrIndx | EN.
pub fn pmsav8_rlar(last: u32, attributes: &Attributes) -> u32 {
    (last & !0x1F) | (attributes.memory_type.attr_index() << 1) | 1
}

/// The pmpaddr value of a NAPOT range (`size` a power of two ≥ 8, `base`
/// a multiple of it): address bits [33:2] with the low log2(size) − 3 bits
/// set to one.
pub fn pmp_napot_addr(base: u32, size: u64) -> u32 {
    debug_assert!(size.is_power_of_two() && size >= 8 && (base as u64).is_multiple_of(size));
    ((base as u64 >> 2) | ((size >> 3) - 1)) as u32
}

/// The R/W/X bits of a pmpcfg byte. PMP has no privileged-only rights:
/// entries constrain S and U mode (M mode is unaffected by unlocked
/// entries), so a privileged-only region is an entry granting nothing.
pub(crate) fn pmp_rwx(attributes: &Attributes) -> u8 {
    if !attributes.unprivileged {
        return 0;
    }
    1 | (attributes.write as u8) << 1 | (attributes.execute as u8) << 2
}

pub(crate) const PMP_A_TOR: u8 = 1 << 3;
pub(crate) const PMP_A_NA4: u8 = 2 << 3;
pub(crate) const PMP_A_NAPOT: u8 = 3 << 3;
