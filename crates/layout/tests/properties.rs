//! Property tests: every plan the planner returns for random memory sets,
//! RAM ranges and extra regions is checked through the independent register
//! decoders in `decode/`.

mod decode;

use bulkhead_layout::*;
use decode::{Decoded, Rights};
use proptest::prelude::*;

/// What a region's registers grant, decoded without the crate's encoders.
fn decode_region(layout: &Layout, region: &Region) -> Result<Vec<(usize, Decoded)>, String> {
    match &region.registers {
        RegionRegisters::Pmsav7 { rbar, rasr } => {
            let (selected, d) = decode::pmsav7(*rbar, *rasr)?;
            if region.number < 16 && selected != Some(region.number) {
                return Err(format!("RBAR selects {selected:?}, region is {}", region.number));
            }
            Ok(vec![(region.number as usize, d)])
        }
        RegionRegisters::Pmsav8 { rbar, rlar } => {
            let mair = layout.mair0.ok_or("PMSAv8 plan without MAIR0")?;
            Ok(vec![(region.number as usize, decode::pmsav8(*rbar, *rlar, mair)?)])
        }
        RegionRegisters::Pmp { .. } => {
            // Decode the whole PMP (a TOR entry reads its predecessor) and
            // keep this region's entries.
            let n = layout.regions_used() as usize;
            let mut addrs = vec![0u32; n];
            let mut cfgs = vec![0u8; n];
            let pmpcfg = layout.pmpcfg();
            for r in &layout.regions {
                if let RegionRegisters::Pmp { entries } = &r.registers {
                    for e in entries {
                        addrs[e.index as usize] = e.addr;
                        let from_reg = (pmpcfg[e.index as usize / 4] >> (8 * (e.index % 4))) as u8;
                        if from_reg != e.cfg {
                            return Err(format!("pmpcfg register disagrees with entry {}", e.index));
                        }
                        cfgs[e.index as usize] = from_reg;
                    }
                }
            }
            let RegionRegisters::Pmp { entries } = &region.registers else { unreachable!() };
            let mine: Vec<usize> = entries.iter().map(|e| e.index as usize).collect();
            Ok(decode::pmp(&addrs, &cfgs)?.into_iter().filter(|(i, _)| mine.contains(i)).collect())
        }
    }
}

fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

fn contains(spans: &[(u64, u64)], range: (u64, u64)) -> bool {
    // spans are merged and sorted by the decoders
    range.0 >= range.1 || spans.iter().any(|&(s, e)| s <= range.0 && range.1 <= e)
}

/// Every invariant of a plan. Returns a description of the first violation.
fn check_plan(request: &LayoutRequest, layout: &Layout) -> Result<(), String> {
    let arch = request.target.arch;
    let ram = (request.ram.base as u64, request.ram.end());
    if layout.regions_used() > request.target.regions {
        return Err(format!("{} regions used, {} exist", layout.regions_used(), request.target.regions));
    }
    if layout.memories.len() != request.memories.len() {
        return Err("a memory is missing from the plan".into());
    }
    // Decode every region.
    let mut decoded: Vec<(&Region, Vec<(u64, u64)>)> = Vec::new();
    for region in &layout.regions {
        let parts = decode_region(layout, region)?;
        if parts.is_empty() {
            return Err(format!("region {} decodes to no active entry", region.number));
        }
        let mut spans = Vec::new();
        for (number, d) in &parts {
            if *number as u32 >= request.target.regions {
                return Err(format!("region/entry number {number} beyond {}", request.target.regions));
            }
            spans.extend(d.spans.iter().copied());
            // Attributes decode back to the plan.
            let want = |write: bool| if write { Rights::ReadWrite } else { Rights::ReadOnly };
            let unpriv = if region.attributes.unprivileged { want(region.attributes.write) } else { Rights::None };
            if d.unprivileged != unpriv {
                return Err(format!(
                    "region {}: unprivileged rights {:?}, planned {unpriv:?}",
                    region.number, d.unprivileged
                ));
            }
            if arch != MpuArch::RiscvPmp {
                if d.privileged != want(region.attributes.write) {
                    return Err(format!("region {}: privileged rights {:?}", region.number, d.privileged));
                }
                if d.memory_type != region.attributes.memory_type.name() {
                    return Err(format!("region {}: memory type {}", region.number, d.memory_type));
                }
            }
            if region.attributes.unprivileged && d.execute != region.attributes.execute {
                return Err(format!("region {}: execute {}", region.number, d.execute));
            }
        }
        spans.sort();
        if spans != vec![(region.base as u64, region.end())] {
            return Err(format!(
                "region {} decodes to {spans:x?}, plan says {:#x}..{:#x}",
                region.number,
                region.base,
                region.end()
            ));
        }
        if arch == MpuArch::Pmsav8 && (region.base % 32 != 0 || region.size % 32 != 0) {
            return Err(format!("PMSAv8 region {} not 32-byte granular", region.number));
        }
        decoded.push((region, spans));
    }
    // No two regions grant the same byte (PMSAv8 forbids overlap; for the
    // others it would grant one owner's bytes to another).
    for (i, (a, sa)) in decoded.iter().enumerate() {
        for (b, sb) in &decoded[i + 1..] {
            for &x in sa {
                for &y in sb {
                    if overlaps(x, y) {
                        return Err(format!("regions {} and {} overlap", a.number, b.number));
                    }
                }
            }
        }
    }
    for m in &layout.memories {
        let req = request.memories.iter().find(|r| r.index == m.index).ok_or("unknown memory in plan")?;
        if m.reserved_bytes != req.reserved_bytes {
            return Err(format!("memory {}: reservation changed", m.index));
        }
        let align = req.reserved_bytes.max(32).next_power_of_two();
        if m.alignment != align || !(m.base as u64).is_multiple_of(align) {
            return Err(format!("memory {} at {:#x} not aligned to {align:#x}", m.index, m.base));
        }
        let own = (m.base as u64, m.base as u64 + m.reserved_bytes);
        if own.1 > ram.1 || own.0 < ram.0 || (m.reserved_bytes > 0 && own.0 >= ram.1) {
            return Err(format!("memory {} ({:#x}..{:#x}) outside RAM", m.index, own.0, own.1));
        }
        if m.reserved_bytes == 0 {
            if m.region.is_some() {
                return Err(format!("empty memory {} got a region", m.index));
            }
            continue;
        }
        let mut owners = 0;
        for (region, spans) in &decoded {
            let mine = region.owner == RegionOwner::Memory(m.index);
            if mine {
                owners += 1;
                if Some(region.number) != m.region {
                    return Err(format!("memory {} region number mismatch", m.index));
                }
                if !contains(spans, own) {
                    return Err(format!("memory {} not inside its region {}", m.index, region.number));
                }
                if region.size != m.granted_bytes {
                    return Err(format!("memory {}: granted {} vs region {}", m.index, m.granted_bytes, region.size));
                }
                // Memory regions stay inside RAM.
                if spans.iter().any(|&(s, e)| s < ram.0 || e > ram.1) {
                    return Err(format!("memory {}'s region leaves RAM", m.index));
                }
                // Minimal: the smallest grant the architecture allows.
                let granule = match arch {
                    MpuArch::Pmsav7 if align < 256 => align,
                    MpuArch::Pmsav7 => align / 8,
                    MpuArch::Pmsav8 => 32,
                    MpuArch::RiscvPmp => 4,
                };
                let minimal = m.reserved_bytes.div_ceil(granule) * granule;
                if m.granted_bytes != minimal {
                    return Err(format!("memory {}: grants {} bytes, {minimal} suffice", m.index, m.granted_bytes));
                }
            } else {
                // No other region grants a byte of this memory's grant.
                let grant = (m.base as u64, m.base as u64 + m.granted_bytes);
                if spans.iter().any(|&s| overlaps(s, grant)) {
                    return Err(format!("region {} grants bytes of memory {}", region.number, m.index));
                }
            }
        }
        if owners != 1 {
            return Err(format!("memory {} has {owners} regions", m.index));
        }
    }
    // Extras: present, with the requested size, RAM-placed ones inside RAM.
    for extra in &request.regions {
        let region = layout.extra_region(&extra.name).ok_or(format!("region `{}` missing", extra.name))?;
        if region.size < extra.size || region.attributes != extra.attributes {
            return Err(format!("region `{}` differs from its request", extra.name));
        }
        match extra.placement {
            Placement::At(base) => {
                if region.base != base || region.size != extra.size {
                    return Err(format!("fixed region `{}` moved or resized", extra.name));
                }
            }
            Placement::InRam => {
                if (region.base as u64) < ram.0 || region.end() > ram.1 {
                    return Err(format!("region `{}` outside RAM", extra.name));
                }
            }
        }
    }
    Ok(())
}

fn arb_target() -> impl Strategy<Value = MpuTarget> {
    prop_oneof![
        Just(MpuTarget::CORTEX_M3),
        Just(MpuTarget::CORTEX_M4),
        Just(MpuTarget { regions: 16, ..MpuTarget::CORTEX_M7 }),
        Just(MpuTarget::CORTEX_M33),
        Just(MpuTarget { regions: 16, ..MpuTarget::CORTEX_M33 }),
        Just(MpuTarget::riscv_pmp(16)),
        Just(MpuTarget::riscv_pmp(8)),
    ]
}

fn arb_reservation() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..=100,
        1u64..=5000,
        (5u32..=20).prop_map(|l| 1u64 << l),
        (1u64..=16).prop_map(|p| p * 65536),
        (1u64..=64).prop_map(|p| p * 1024),
        1u64..=(1 << 20),
    ]
}

#[derive(Clone, Debug)]
struct Case {
    request: LayoutRequest,
}

fn arb_case() -> impl Strategy<Value = Case> {
    (
        arb_target(),
        prop::collection::vec((arb_reservation(), 1u32..=3), 0..=9),
        any::<u32>(),
        0u32..=12,
        1u64..=8,
        any::<bool>(),
        prop::option::of(1u64..=16384),
        prop::option::of((8u32..=14, 0u64..8, 1u64..=8, 0u64..4)),
    )
        .prop_map(|(target, mems, base_bits, base_align_log2, factor, flash, stack, fixed)| {
            let mut index = 0;
            let memories: Vec<MemoryRequest> = mems
                .iter()
                .map(|&(reserved_bytes, gap)| {
                    index += gap; // sparse indices: imported memories are not placed
                    MemoryRequest { index, reserved_bytes }
                })
                .collect();
            let need: u64 = memories.iter().map(|m| m.reserved_bytes.max(32).next_power_of_two()).sum::<u64>()
                + stack.map_or(0, |s| s.next_power_of_two());
            let size = (need * factor / 3).clamp(1024, 1 << 31);
            let align = 32u64 << (base_align_log2 * 2);
            let mut base = (base_bits as u64) & !(align - 1);
            if base + size > 1 << 32 {
                base = ((1u64 << 32) - size) & !(align - 1);
            }
            let ram = RamRange::new(base as u32, size).unwrap();
            let mut regions = Vec::new();
            // Flash at 0 when RAM leaves room for it.
            if flash && ram.base as u64 >= 4 << 20 {
                regions.push(RegionRequest {
                    name: "flash".into(),
                    placement: Placement::At(0),
                    size: 4 << 20,
                    attributes: Attributes::FLASH,
                });
            }
            // A fixed region inside RAM: a run of subregions of an aligned
            // power-of-two window (expressible on every architecture by
            // construction), e.g. a stack the image writer placed itself.
            if let Some((log2, first, count, slot)) = fixed {
                let window = 1u64 << log2;
                let sub = window / 8;
                let count = count.min(8 - first);
                let window_base = ((ram.base as u64 + window - 1) & !(window - 1)) + slot * window;
                let base = window_base + first * sub;
                if base + count * sub <= ram.end() {
                    regions.push(RegionRequest {
                        name: "fixed".into(),
                        placement: Placement::At(base as u32),
                        size: count * sub,
                        attributes: Attributes { write: false, ..Attributes::STACK },
                    });
                }
            }
            if let Some(s) = stack {
                regions.push(RegionRequest {
                    name: "stack".into(),
                    placement: Placement::InRam,
                    size: s,
                    attributes: Attributes::STACK,
                });
            }
            Case { request: LayoutRequest { target, ram, memories, regions } }
        })
}

/// The RAM size a DoesNotFit message suggests ("...; 96 KiB of RAM at ...").
fn suggested_size(message: &str) -> Option<u64> {
    let tail = message.rsplit("; ").next()?;
    let mut words = tail.split(' ');
    let n: u64 = words.next()?.parse().ok()?;
    let unit = match words.next()? {
        "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    Some(n * unit)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn every_plan_is_sound(case in arb_case()) {
        let request = &case.request;
        match plan(request) {
            Ok(layout) => {
                if let Err(why) = check_plan(request, &layout) {
                    prop_assert!(false, "{why}\nrequest: {request:#?}\nlayout: {layout:#?}");
                }
                // Deterministic.
                prop_assert_eq!(plan(request).unwrap(), layout);
            }
            Err(e) => match e.kind {
                LayoutErrorKind::TooManyRegions => {
                    let has = format!("has {}", request.target.regions);
                    prop_assert!(e.message.contains(&has), "{}", e.message);
                }
                LayoutErrorKind::DoesNotFit => {
                    // The suggestion is real: that much RAM plans.
                    if let Some(size) = suggested_size(&e.message) {
                        prop_assert!(size > request.ram.size, "{}", e.message);
                        let mut bigger = request.clone();
                        bigger.ram.size = size;
                        let layout = plan(&bigger);
                        prop_assert!(layout.is_ok(), "{} but {:?}", e.message, layout);
                        if let Err(why) = check_plan(&bigger, &layout.unwrap()) {
                            prop_assert!(false, "{why}");
                        }
                    } else {
                        prop_assert!(e.message.contains("no RAM size"), "{}", e.message);
                    }
                }
                LayoutErrorKind::Invalid => prop_assert!(false, "unexpected invalid: {}", e.message),
            },
        }
    }

    /// Powers of two pack perfectly: if their sum fits a RAM range aligned
    /// to the largest, the plan never fails for lack of space.
    #[test]
    fn powers_of_two_pack_without_waste(
        logs in prop::collection::vec(5u32..=18, 1..=8),
        v8 in any::<bool>(),
        base_slot in 0u64..64,
    ) {
        let target = if v8 { MpuTarget::CORTEX_M33 } else { MpuTarget::CORTEX_M4 };
        let memories: Vec<MemoryRequest> =
            logs.iter().enumerate().map(|(i, &l)| MemoryRequest { index: i as u32, reserved_bytes: 1 << l }).collect();
        let sum: u64 = memories.iter().map(|m| m.reserved_bytes).sum();
        let largest = 1u64 << logs.iter().max().unwrap();
        let base = 0x2000_0000 + base_slot * largest;
        let request = LayoutRequest { target, ram: RamRange::new(base as u32, sum).unwrap(), memories, regions: vec![] };
        let layout = plan(&request);
        prop_assert!(layout.is_ok(), "{:?}", layout);
        let layout = layout.unwrap();
        prop_assert!(check_plan(&request, &layout).is_ok(), "{:?}", check_plan(&request, &layout));
    }
}
