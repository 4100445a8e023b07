//! Hand-checked register values. The expected constants were computed by
//! hand from the field tables of the ARMv7-M and ARMv8-M Architecture
//! Reference Manuals and agree with the CMSIS-Core macros
//! (`ARM_MPU_RBAR`/`ARM_MPU_RASR` in mpu_armv7.h with
//! `ARM_MPU_REGION_SIZE_64KB` = 0x0F, `ARM_MPU_RBAR`/`ARM_MPU_RLAR` in
//! mpu_armv8.h) and the RISC-V privileged spec's NAPOT example formula
//! `pmpaddr = (base + size/2 - 1) >> 2`.

mod decode;

use bulkhead_layout::*;

fn memories(sizes: &[(u32, u64)]) -> Vec<MemoryRequest> {
    sizes.iter().map(|&(index, reserved_bytes)| MemoryRequest { index, reserved_bytes }).collect()
}

fn regs7(r: &Region) -> (u32, u32) {
    match r.registers {
        RegionRegisters::Pmsav7 { rbar, rasr } => (rbar, rasr),
        ref other => panic!("not PMSAv7: {other:?}"),
    }
}

fn regs8(r: &Region) -> (u32, u32) {
    match r.registers {
        RegionRegisters::Pmsav8 { rbar, rlar } => (rbar, rlar),
        ref other => panic!("not PMSAv8: {other:?}"),
    }
}

#[test]
fn pmsav7_full_64k_memory() {
    // ARM_MPU_RASR(XN=1, AP=FULL(3), TEX=1, S=0, C=1, B=1, SRD=0, SIZE=64KB(0x0F))
    //   = 1<<28 | 3<<24 | 1<<19 | 1<<17 | 1<<16 | 0x0F<<1 | 1 = 0x130B001F
    let shape = pmsav7_region_for(0x2000_0000, 64 << 10).unwrap();
    assert_eq!(shape, Pmsav7Shape { window_base: 0x2000_0000, window_log2: 16, srd: 0 });
    assert_eq!(pmsav7_rbar(&shape, 0), 0x2000_0010);
    assert_eq!(pmsav7_rasr(&shape, &Attributes::MEMORY), 0x130B_001F);
}

#[test]
fn pmsav7_subregions_trim_40k() {
    // 40 KiB = 5 of the 8 KiB subregions of a 64 KiB region: SRD = 0b1110_0000.
    let shape = pmsav7_region_for(0x2001_0000, 40 << 10).unwrap();
    assert_eq!(shape, Pmsav7Shape { window_base: 0x2001_0000, window_log2: 16, srd: 0xE0 });
    assert_eq!(pmsav7_rbar(&shape, 5), 0x2001_0015);
    assert_eq!(pmsav7_rasr(&shape, &Attributes::MEMORY), 0x130B_E01F);
    // A run in the middle: 12 KiB at 0x2000_1000 = subregions 2..7 of 16 KiB.
    let shape = pmsav7_region_for(0x2000_1000, 12 << 10).unwrap();
    assert_eq!(shape, Pmsav7Shape { window_base: 0x2000_0000, window_log2: 14, srd: 0b0000_0011 });
}

#[test]
fn pmsav7_small_regions_and_flash() {
    // 32 B: SIZE = 4 (ARM_MPU_REGION_SIZE_32B), no subregions.
    let shape = pmsav7_region_for(0x2000_0020, 32).unwrap();
    assert_eq!(pmsav7_rbar(&shape, 3), 0x2000_0033);
    assert_eq!(pmsav7_rasr(&shape, &Attributes::MEMORY), 0x130B_0009);
    // 4 MiB flash, RO for everyone (AP=0b110), executable, TEX=0 C=1 B=0:
    // 6<<24 | 1<<17 | 21<<1 | 1 = 0x0602002B.
    let shape = pmsav7_region_for(0, 4 << 20).unwrap();
    assert_eq!(pmsav7_rbar(&shape, 0), 0x0000_0010);
    assert_eq!(pmsav7_rasr(&shape, &Attributes::FLASH), 0x0602_002B);
    // Not expressible: unaligned, or not a multiple of 32 B.
    assert_eq!(pmsav7_region_for(0x2000_0010, 64), None);
    assert_eq!(pmsav7_region_for(0x2000_0000, 48), None);
    // 96 B at a 256 B boundary: subregions 0..2 of a 256 B window.
    assert_eq!(
        pmsav7_region_for(0x2000_0000, 96),
        Some(Pmsav7Shape { window_base: 0x2000_0000, window_log2: 8, srd: 0b1111_1000 })
    );
    // ... but 96 B at offset 32 of a 256 B window is subregions 1..3.
    assert_eq!(
        pmsav7_region_for(0x2000_0020, 96),
        Some(Pmsav7Shape { window_base: 0x2000_0000, window_log2: 8, srd: !0b0000_1110u8 })
    );
}

#[test]
fn pmsav8_values() {
    // ARM_MPU_RBAR(BASE, SH=0, RO=0, NP=1, XN=1) = BASE | 0b01<<1 | 1
    assert_eq!(pmsav8_rbar(0x3820_0000, &Attributes::MEMORY), 0x3820_0003);
    // ARM_MPU_RLAR(LIMIT=0x3820FFFF, IDX=0) = 0x3820FFE0 | 1
    assert_eq!(pmsav8_rlar(0x3820_FFFF, &Attributes::MEMORY), 0x3820_FFE1);
    // Flash: RO=1, NP=1, XN=0; AttrIndx 1 (write-through).
    assert_eq!(pmsav8_rbar(0x1000_0000, &Attributes::FLASH), 0x1000_0006);
    assert_eq!(pmsav8_rlar(0x103F_FFFF, &Attributes::FLASH), 0x103F_FFE3);
    assert_eq!(MAIR0, 0x0004_AAFF);
}

#[test]
fn pmp_values() {
    // NAPOT 64 KiB at 0x8000_0000: (0x8000_0000 + 0x8000 - 1) >> 2.
    assert_eq!(pmp_napot_addr(0x8000_0000, 64 << 10), 0x2000_1FFF);
    assert_eq!(pmp_napot_addr(0x8000_0000, 8), 0x2000_0000);
    let request = LayoutRequest {
        target: MpuTarget::riscv_pmp(16),
        ram: RamRange::new(0x8000_0000, 256 << 10).unwrap(),
        memories: memories(&[(0, 64 << 10), (1, 40 << 10)]),
        regions: vec![],
    };
    let layout = plan(&request).unwrap();
    let m0 = layout.memory_region(0).unwrap();
    let m1 = layout.memory_region(1).unwrap();
    assert_eq!(layout.memory(0).unwrap().base, 0x8000_0000);
    assert_eq!(layout.memory(1).unwrap().base, 0x8001_0000);
    // R|W|A=NAPOT = 0b0001_1011; TOR pair: bottom entry OFF, top R|W|TOR.
    assert_eq!(
        m0.registers,
        RegionRegisters::Pmp { entries: vec![PmpEntry { index: 0, addr: 0x2000_1FFF, cfg: 0x1B }] }
    );
    assert_eq!(
        m1.registers,
        RegionRegisters::Pmp {
            entries: vec![
                PmpEntry { index: 1, addr: 0x2000_4000, cfg: 0 },
                PmpEntry { index: 2, addr: 0x2000_6800, cfg: 0x0B },
            ]
        }
    );
    assert_eq!(layout.pmpcfg(), vec![0x000B_001B]);
}

#[test]
fn two_tenants_on_cortex_m4_default_ram() {
    // examples/two_memories.wat: A = 64 KiB, B reserves 128 KiB.
    let ram = MpuTarget::CORTEX_M4.default_ram().unwrap();
    assert_eq!(ram, RamRange { base: 0x2020_0000, size: 2 << 20 });
    let request = LayoutRequest {
        target: MpuTarget::CORTEX_M4,
        ram,
        memories: memories(&[(0, 64 << 10), (1, 128 << 10)]),
        regions: vec![],
    };
    let layout = plan(&request).unwrap();
    // Largest alignment first: B at the bottom, A right after it.
    assert_eq!(layout.memory(1).unwrap().base, 0x2020_0000);
    assert_eq!(layout.memory(0).unwrap().base, 0x2022_0000);
    assert_eq!(regs7(layout.memory_region(0).unwrap()), (0x2022_0010, 0x130B_001F));
    // 128 KiB: SIZE = 16.
    assert_eq!(regs7(layout.memory_region(1).unwrap()), (0x2020_0011, 0x130B_0021));
    assert_eq!(layout.mair0, None);
}

#[test]
fn cortex_m33_with_flash_and_stack() {
    let request = LayoutRequest {
        target: MpuTarget::CORTEX_M33,
        ram: MpuTarget::CORTEX_M33.default_ram().unwrap(),
        memories: memories(&[(0, 40 << 10), (1, 100)]),
        regions: vec![
            RegionRequest {
                name: "flash".into(),
                placement: Placement::At(0x1000_0000),
                size: 4 << 20,
                attributes: Attributes::FLASH,
            },
            RegionRequest {
                name: "stack".into(),
                placement: Placement::InRam,
                size: 8 << 10,
                attributes: Attributes::STACK,
            },
        ],
    };
    let layout = plan(&request).unwrap();
    assert_eq!(layout.mair0, Some(0x0004_AAFF));
    let numbers: Vec<(u32, RegionOwner)> = layout.regions.iter().map(|r| (r.number, r.owner.clone())).collect();
    assert_eq!(
        numbers,
        vec![
            (0, RegionOwner::Extra("flash".into())),
            (1, RegionOwner::Extra("stack".into())),
            (2, RegionOwner::Memory(0)),
            (3, RegionOwner::Memory(1)),
        ]
    );
    assert_eq!(regs8(&layout.regions[0]), (0x1000_0006, 0x103F_FFE3));
    // Memory 0: 64 KiB-aligned at the RAM base, limit = base + 40 KiB - 1.
    let m0 = layout.memory(0).unwrap();
    assert_eq!(m0.base, 0x3820_0000);
    assert_eq!(m0.granted_bytes, 40 << 10);
    assert_eq!(regs8(layout.memory_region(0).unwrap()), (0x3820_0003, 0x3820_9FE1));
    // 100 B memory: 128 B aligned, 128 B granted (32-byte granule rounds 100 up).
    let m1 = layout.memory(1).unwrap();
    assert_eq!((m1.alignment, m1.granted_bytes), (128, 128));
    // The stack (8 KiB) and memory 1 fill the tail of memory 0's 64 KiB block.
    assert!(layout.extra_region("stack").unwrap().base >= 0x3820_A000);
    assert!(m1.base >= 0x3820_A000 && (m1.base as u64) < 0x3821_0000);
}

#[test]
fn errors_say_what_would_fit() {
    // Nine memories on an 8-region MPU.
    let request = LayoutRequest {
        target: MpuTarget::CORTEX_M4,
        ram: RamRange::new(0x2000_0000, 1 << 20).unwrap(),
        memories: (0..9).map(|i| MemoryRequest { index: i, reserved_bytes: 1024 }).collect(),
        regions: vec![],
    };
    let e = plan(&request).unwrap_err();
    assert_eq!(e.kind, LayoutErrorKind::TooManyRegions);
    assert!(e.message.starts_with("9 regions needed"), "{e}");
    assert!(e.message.contains("the Cortex-M4 MPU has 8"), "{e}");

    // 64 KiB of RAM for a 64 KiB and a 24 KiB memory: the larger is placed
    // first and fills it; 64 + 24 KiB (24 KiB is 32 KiB-aligned) would fit.
    let request = LayoutRequest {
        target: MpuTarget::CORTEX_M4,
        ram: RamRange::new(0x2000_0000, 64 << 10).unwrap(),
        memories: memories(&[(0, 24 << 10), (2, 64 << 10)]),
        regions: vec![],
    };
    let e = plan(&request).unwrap_err();
    assert_eq!(e.kind, LayoutErrorKind::DoesNotFit);
    assert_eq!(
        e.message,
        "memory 0 needs 24 KiB (a 32 KiB region with 6 of 8 subregions enabled) at a 32 KiB-aligned address; \
         RAM 0x20000000..0x20010000 (64 KiB) has 0 B left; 88 KiB of RAM at 0x20000000 would fit everything"
    );

    // A fixed region PMSAv7 cannot express.
    let request = LayoutRequest {
        target: MpuTarget::CORTEX_M3,
        ram: RamRange::new(0x2000_0000, 64 << 10).unwrap(),
        memories: vec![],
        regions: vec![RegionRequest {
            name: "stack".into(),
            placement: Placement::At(0x2000_0010),
            size: 3000,
            attributes: Attributes::STACK,
        }],
    };
    let e = plan(&request).unwrap_err();
    assert_eq!(e.kind, LayoutErrorKind::Invalid);
    assert!(
        e.message.contains("region `stack`") && e.message.contains("smallest enclosing region is 4 KiB at 0x20000000"),
        "{e}"
    );
}

#[test]
fn ram_ranges_parse() {
    assert_eq!(RamRange::parse("0x20000000:256KiB").unwrap(), RamRange { base: 0x2000_0000, size: 256 << 10 });
    assert_eq!(RamRange::parse("0x2020_0000:2M").unwrap(), RamRange { base: 0x2020_0000, size: 2 << 20 });
    assert_eq!(RamRange::parse("536870912:0x10000").unwrap(), RamRange { base: 0x2000_0000, size: 0x10000 });
    assert!(RamRange::parse("0x20000000").is_err());
    assert!(RamRange::parse("0x1_0000_0000:1K").is_err());
    assert!(RamRange::parse("0xFFFF0000:128KiB").unwrap_err().message.contains("beyond the 32-bit"));
    assert!(RamRange::parse("0x20000000:0").is_err());
    assert!(RamRange::parse("0x20000000:12XB").is_err());
}

#[test]
fn decoders_agree_on_hand_values() {
    // The property tests' decoders, on the hand-checked values above.
    let (sel, d) = decode::pmsav7(0x2001_0015, 0x130B_E01F).unwrap();
    assert_eq!(sel, Some(5));
    assert_eq!(d.spans, vec![(0x2001_0000, 0x2001_A000)]);
    assert_eq!(
        (d.privileged, d.unprivileged, d.execute),
        (decode::Rights::ReadWrite, decode::Rights::ReadWrite, false)
    );
    let d = decode::pmsav8(0x1000_0006, 0x103F_FFE3, MAIR0).unwrap();
    assert_eq!(d.spans, vec![(0x1000_0000, 0x1040_0000)]);
    assert_eq!((d.unprivileged, d.execute, d.memory_type), (decode::Rights::ReadOnly, true, "normal-write-through"));
    let d = decode::pmp(&[0x2000_1FFF], &[0x1B]).unwrap();
    assert_eq!(d[0].1.spans, vec![(0x8000_0000, 0x8001_0000)]);
}
