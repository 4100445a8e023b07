//! Placement: validate the request, count regions, pack the memories into
//! RAM, then encode every region.

use crate::encode::{self, pmsav7_region_for};
use crate::{
    format_size, section_alignment, Attributes, Layout, LayoutError, LayoutErrorKind, LayoutRequest, MpuArch,
    PlacedMemory, Placement, PmpEntry, RamRange, Region, RegionOwner, RegionRegisters, MAIR0,
};

/// Largest reservation a memory may have (the ABI's limit).
const MAX_RESERVATION: u64 = 1 << 31;

/// Something that gets a range of addresses and (unless empty) a region.
#[derive(Clone, Debug)]
struct Item {
    owner: RegionOwner,
    /// Memories: the reservation; extras: the requested size.
    requested: u64,
    /// Required alignment of the first granted byte.
    align: u64,
    /// Bytes granted from the base on (≥ requested).
    granted: u64,
    attributes: Attributes,
    /// Fixed base (extras placed `At`), else planned.
    fixed: Option<u32>,
}

impl Item {
    fn describe(&self) -> String {
        match &self.owner {
            RegionOwner::Memory(k) => format!("memory {k}"),
            RegionOwner::Extra(name) => format!("region `{name}`"),
        }
    }
}

pub(crate) fn plan(request: &LayoutRequest) -> Result<Layout, LayoutError> {
    match plan_inner(request) {
        Err(mut e) if e.kind == LayoutErrorKind::DoesNotFit => {
            if let Some(size) = smallest_fitting_ram(request) {
                e.message.push_str(&format!(
                    "; {} of RAM at {:#010x} would fit everything",
                    format_size(size),
                    request.ram.base
                ));
            } else {
                e.message.push_str(&format!(
                    "; no RAM size at {:#010x} fits everything (try another base)",
                    request.ram.base
                ));
            }
            Err(e)
        }
        other => other,
    }
}

/// The smallest RAM size (a multiple of 32 B) at the same base for which the
/// request plans, if any. Placement is not strictly monotone in the RAM
/// size, so the size found is verified by planning it.
fn smallest_fitting_ram(request: &LayoutRequest) -> Option<u64> {
    let limit = (1u64 << 32) - request.ram.base as u64;
    let fits = |size: u64| {
        let mut r = request.clone();
        r.ram = RamRange { base: request.ram.base, size };
        plan_inner(&r).is_ok()
    };
    let mut hi = request.ram.size.max(32);
    loop {
        if hi >= limit {
            hi = limit;
            if !fits(hi) {
                return None;
            }
            break;
        }
        if fits(hi) {
            break;
        }
        hi = hi.saturating_mul(2);
    }
    // Invariant: fits(hi); search downwards over multiples of 32.
    let mut lo = request.ram.size; // does not fit (the caller's failure)
    while hi - lo > 32 {
        let mid = (lo + (hi - lo) / 2) & !31;
        if mid <= lo {
            break;
        }
        if fits(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

fn err(kind: LayoutErrorKind, message: String) -> LayoutError {
    LayoutError { kind, message }
}

/// Rounds `x` up to a multiple of the power of two `to`.
fn round_up(x: u64, to: u64) -> u64 {
    (x + to - 1) & !(to - 1)
}

/// The bytes a region starting at a `align`-aligned base grants for
/// `requested` bytes on `arch` (for PMSAv7 `align` is the window size).
fn granted_for(arch: MpuArch, requested: u64, align: u64) -> u64 {
    match arch {
        MpuArch::Pmsav7 if align < 256 => align,
        MpuArch::Pmsav7 => round_up(requested, align / 8),
        MpuArch::Pmsav8 => round_up(requested, 32),
        MpuArch::RiscvPmp => round_up(requested, 4),
    }
}

/// Number of regions (PMP entries) an item needs at `base`.
fn entries_for(arch: MpuArch, base: u64, granted: u64) -> u32 {
    match arch {
        MpuArch::Pmsav7 | MpuArch::Pmsav8 => 1,
        MpuArch::RiscvPmp if pmp_single_entry(base, granted) => 1,
        MpuArch::RiscvPmp => 2,
    }
}

/// NA4 or NAPOT: a naturally aligned power of two.
fn pmp_single_entry(base: u64, size: u64) -> bool {
    size.is_power_of_two() && size >= 4 && base.is_multiple_of(size)
}

fn plan_inner(request: &LayoutRequest) -> Result<Layout, LayoutError> {
    use LayoutErrorKind::*;
    let target = request.target;
    let arch = target.arch;
    let ram = RamRange::new(request.ram.base, request.ram.size)?;

    // Memories: distinct indices, representable reservations.
    let mut memories = request.memories.clone();
    memories.sort_by_key(|m| m.index);
    for pair in memories.windows(2) {
        if pair[0].index == pair[1].index {
            return Err(err(Invalid, format!("memory {} is listed twice", pair[0].index)));
        }
    }
    let mut items: Vec<Item> = Vec::new();

    // Extras first: they get the lowest region numbers, in request order.
    for (i, extra) in request.regions.iter().enumerate() {
        if extra.name.is_empty() {
            return Err(err(Invalid, format!("extra region {i} has no name")));
        }
        if request.regions[..i].iter().any(|r| r.name == extra.name) {
            return Err(err(Invalid, format!("two extra regions are called `{}`", extra.name)));
        }
        if extra.size == 0 {
            return Err(err(Invalid, format!("region `{}` is empty", extra.name)));
        }
        let item = match extra.placement {
            Placement::At(base) => {
                let b = base as u64;
                if b + extra.size > 1 << 32 {
                    return Err(err(
                        Invalid,
                        format!(
                            "region `{}` at {base:#010x} + {} ends beyond the 32-bit address space",
                            extra.name,
                            format_size(extra.size)
                        ),
                    ));
                }
                check_fixed_encodable(arch, &extra.name, base, extra.size)?;
                Item {
                    owner: RegionOwner::Extra(extra.name.clone()),
                    requested: extra.size,
                    align: 1,
                    granted: extra.size,
                    attributes: extra.attributes,
                    fixed: Some(base),
                }
            }
            Placement::InRam => {
                if extra.size > 1 << 32 {
                    return Err(err(
                        Invalid,
                        format!("region `{}` of {} exceeds the address space", extra.name, format_size(extra.size)),
                    ));
                }
                let align = match arch {
                    MpuArch::Pmsav7 => extra.size.max(32).next_power_of_two(),
                    MpuArch::Pmsav8 => 32,
                    MpuArch::RiscvPmp => {
                        let r4 = round_up(extra.size, 4);
                        if r4.is_power_of_two() {
                            r4
                        } else {
                            4
                        }
                    }
                };
                Item {
                    owner: RegionOwner::Extra(extra.name.clone()),
                    requested: extra.size,
                    align,
                    granted: granted_for(arch, extra.size, align),
                    attributes: extra.attributes,
                    fixed: None,
                }
            }
        };
        items.push(item);
    }
    for m in &memories {
        if m.reserved_bytes > MAX_RESERVATION {
            return Err(err(
                Invalid,
                format!("memory {} reserves {}; at most 2 GiB can be placed", m.index, format_size(m.reserved_bytes)),
            ));
        }
        let align = section_alignment(m.reserved_bytes);
        items.push(Item {
            owner: RegionOwner::Memory(m.index),
            requested: m.reserved_bytes,
            align,
            granted: if m.reserved_bytes == 0 { 0 } else { granted_for(arch, m.reserved_bytes, align) },
            attributes: Attributes::MEMORY,
            fixed: None,
        });
    }

    // Region budget. A planned item's PMP entry count depends only on its
    // size here: its alignment makes a power of two naturally aligned.
    let needed: u32 = items
        .iter()
        .filter(|it| it.granted > 0)
        .map(|it| entries_for(arch, it.fixed.map_or(0, |b| b as u64), it.granted))
        .sum();
    if needed > target.regions {
        let memories_with_region = items.iter().filter(|it| it.granted > 0 && it.fixed.is_none()).count();
        let what = match arch {
            MpuArch::RiscvPmp => format!(
                "{needed} PMP entries needed ({} regions: a naturally aligned power of two takes one entry, \
                 any other size a TOR pair), the {} PMP has {}",
                items.iter().filter(|it| it.granted > 0).count(),
                target.name,
                target.regions
            ),
            _ => format!(
                "{needed} regions needed ({} for memories and planned regions, {} fixed), the {} MPU has {}",
                memories_with_region,
                needed as usize - memories_with_region,
                target.name,
                target.regions
            ),
        };
        return Err(err(
            TooManyRegions,
            format!("{what}; remove {} region(s), e.g. by merging memories", needed - target.regions),
        ));
    }

    // Fixed extras must not overlap each other.
    let mut fixed: Vec<(u64, u64, String)> =
        items.iter().filter_map(|it| it.fixed.map(|b| (b as u64, b as u64 + it.granted, it.describe()))).collect();
    fixed.sort();
    for pair in fixed.windows(2) {
        if pair[1].0 < pair[0].1 {
            return Err(err(
                Invalid,
                format!(
                    "{} ({:#010x}..{:#010x}) overlaps {} ({:#010x}..{:#010x}); regions must not overlap",
                    pair[0].2, pair[0].0, pair[0].1, pair[1].2, pair[1].0, pair[1].1
                ),
            ));
        }
    }

    // Free RAM: the range minus the fixed extras.
    let mut free: Vec<(u64, u64)> = vec![(ram.base as u64, ram.end())];
    for (start, end, _) in &fixed {
        take(&mut free, *start, *end);
    }

    // Largest alignment first, then largest grant, then request order:
    // big aligned blocks leave tails that smaller ones fill.
    let mut order: Vec<usize> = (0..items.len()).filter(|&i| items[i].fixed.is_none()).collect();
    order.sort_by(|&a, &b| (items[b].align, items[b].granted).cmp(&(items[a].align, items[a].granted)).then(a.cmp(&b)));
    let mut bases: Vec<Option<u64>> = items.iter().map(|it| it.fixed.map(|b| b as u64)).collect();
    for &i in &order {
        let item = &items[i];
        if item.granted == 0 {
            continue; // placed after everything else, where it takes nothing
        }
        match first_fit(&free, item.align, item.granted) {
            Some(base) => {
                take(&mut free, base, base + item.granted);
                bases[i] = Some(base);
            }
            None => return Err(does_not_fit(arch, item, &ram, &free)),
        }
    }
    for &i in &order {
        if items[i].granted == 0 {
            // An empty memory needs no region; give its section an aligned
            // address in RAM that no other memory starts at if possible.
            let base = first_fit(&free, items[i].align, 0)
                .or_else(|| {
                    let b = round_up(ram.base as u64, items[i].align);
                    (b <= ram.end() && b < 1 << 32).then_some(b)
                })
                .ok_or_else(|| {
                    err(
                        DoesNotFit,
                        format!(
                            "{} reserves 0 bytes but RAM {ram} has no {}-aligned address",
                            items[i].describe(),
                            format_size(items[i].align)
                        ),
                    )
                })?;
            bases[i] = Some(base);
        }
    }

    // Regions in order: extras (request order), then memories by index.
    let mut regions = Vec::new();
    let mut placed = Vec::new();
    let mut next_number = 0u32;
    for (item, base) in items.iter().zip(&bases) {
        let Some(base) = *base else {
            return Err(err(LayoutErrorKind::Invalid, format!("internal error: {} was not placed", item.describe())));
        };
        let base = base as u32;
        let number = (item.granted > 0).then_some(next_number);
        if let RegionOwner::Memory(index) = item.owner {
            placed.push(PlacedMemory {
                index,
                base,
                reserved_bytes: item.requested,
                alignment: item.align,
                granted_bytes: item.granted,
                region: number,
            });
        }
        let Some(number) = number else { continue };
        let region = encode_region(arch, number, item, base)?;
        next_number += match &region.registers {
            RegionRegisters::Pmp { entries } => entries.len() as u32,
            _ => 1,
        };
        regions.push(region);
    }

    Ok(Layout { target, ram, memories: placed, regions, mair0: (arch == MpuArch::Pmsav8).then_some(MAIR0) })
}

/// Checks that a fixed range is exactly one region of `arch`.
fn check_fixed_encodable(arch: MpuArch, name: &str, base: u32, size: u64) -> Result<(), LayoutError> {
    let b = base as u64;
    let problem = match arch {
        MpuArch::Pmsav7 => match pmsav7_region_for(base, size) {
            Some(_) => None,
            None => {
                // Suggest the smallest enclosing power-of-two region.
                let mut window = size.max(32).next_power_of_two();
                while (b & !(window - 1)) + window < b + size {
                    window *= 2;
                }
                Some(format!(
                    "PMSAv7 regions are powers of two ≥ 32 B aligned to their size, trimmed by eighths \
                     (subregions) from 256 B on; the smallest enclosing region is {} at {:#010x}",
                    format_size(window),
                    b & !(window - 1)
                ))
            }
        },
        MpuArch::Pmsav8 => (!b.is_multiple_of(32) || !size.is_multiple_of(32))
            .then(|| "PMSAv8 regions start and end on 32-byte boundaries".to_string()),
        MpuArch::RiscvPmp => (!b.is_multiple_of(4) || !size.is_multiple_of(4))
            .then(|| "PMP regions start and end on 4-byte boundaries".to_string()),
    };
    match problem {
        None => Ok(()),
        Some(why) => Err(err(
            LayoutErrorKind::Invalid,
            format!("region `{name}` ({base:#010x}, {}) cannot be one MPU region: {why}", format_size(size)),
        )),
    }
}

/// Lowest `align`-aligned address in a free block with `size` bytes after it.
fn first_fit(free: &[(u64, u64)], align: u64, size: u64) -> Option<u64> {
    free.iter().find_map(|&(start, end)| {
        let base = round_up(start, align);
        (base + size <= end && base < 1 << 32).then_some(base)
    })
}

/// Removes `[start, end)` from the sorted free list.
fn take(free: &mut Vec<(u64, u64)>, start: u64, end: u64) {
    let mut out = Vec::with_capacity(free.len() + 1);
    for &(s, e) in free.iter() {
        if e <= start || s >= end {
            out.push((s, e));
            continue;
        }
        if s < start {
            out.push((s, start));
        }
        if end < e {
            out.push((end, e));
        }
    }
    *free = out;
}

fn does_not_fit(arch: MpuArch, item: &Item, ram: &RamRange, free: &[(u64, u64)]) -> LayoutError {
    let total_free: u64 = free.iter().map(|(s, e)| e - s).sum();
    // The most this item could get at its alignment anywhere.
    let best_aligned: u64 = free
        .iter()
        .map(|&(s, e)| {
            let b = round_up(s, item.align);
            e.saturating_sub(b)
        })
        .max()
        .unwrap_or(0);
    let region = match arch {
        MpuArch::Pmsav7 if item.align >= 256 && item.granted < item.align => format!(
            " (a {} region with {} of 8 subregions enabled)",
            format_size(item.align),
            item.granted / (item.align / 8)
        ),
        MpuArch::Pmsav7 => format!(" (a {} region)", format_size(item.align)),
        _ => String::new(),
    };
    let needs = if item.align > arch.granule() {
        format!("{}{region} at a {}-aligned address", format_size(item.granted), format_size(item.align))
    } else {
        format!("{}{region}", format_size(item.granted))
    };
    LayoutError {
        kind: LayoutErrorKind::DoesNotFit,
        message: format!(
            "{} needs {needs}; RAM {ram} has {} left{}",
            item.describe(),
            format_size(total_free),
            if total_free >= item.granted {
                format!(", but at most {} of it at such an address", format_size(best_aligned))
            } else {
                String::new()
            }
        ),
    }
}

fn encode_region(arch: MpuArch, number: u32, item: &Item, base: u32) -> Result<Region, LayoutError> {
    let attributes = item.attributes;
    let internal = |what: &str| {
        err(
            LayoutErrorKind::Invalid,
            format!("internal error: {} at {base:#010x} (+{}) {what}", item.describe(), item.granted),
        )
    };
    let (pmsav7, registers) = match arch {
        MpuArch::Pmsav7 => {
            let shape = pmsav7_region_for(base, item.granted)
                .ok_or_else(|| internal("is not expressible as a PMSAv7 region"))?;
            // Region numbers above 15 do not fit RBAR.REGION; such
            // regions are selected through RNR and RBAR.VALID stays 0.
            let rbar = if number < 16 { encode::pmsav7_rbar(&shape, number) } else { shape.window_base };
            (Some(shape), RegionRegisters::Pmsav7 { rbar, rasr: encode::pmsav7_rasr(&shape, &attributes) })
        }
        MpuArch::Pmsav8 => {
            let last = (base as u64 + item.granted - 1) as u32;
            (
                None,
                RegionRegisters::Pmsav8 {
                    rbar: encode::pmsav8_rbar(base, &attributes),
                    rlar: encode::pmsav8_rlar(last, &attributes),
                },
            )
        }
        MpuArch::RiscvPmp => {
            let rwx = encode::pmp_rwx(&attributes);
            let size = item.granted;
            let entries = if pmp_single_entry(base as u64, size) && size == 4 {
                vec![PmpEntry { index: number, addr: base >> 2, cfg: rwx | encode::PMP_A_NA4 }]
            } else if pmp_single_entry(base as u64, size) {
                vec![PmpEntry {
                    index: number,
                    addr: encode::pmp_napot_addr(base, size),
                    cfg: rwx | encode::PMP_A_NAPOT,
                }]
            } else {
                vec![
                    PmpEntry { index: number, addr: base >> 2, cfg: 0 },
                    PmpEntry {
                        index: number + 1,
                        addr: ((base as u64 + size) >> 2) as u32,
                        cfg: rwx | encode::PMP_A_TOR,
                    },
                ]
            };
            (None, RegionRegisters::Pmp { entries })
        }
    };
    Ok(Region { number, owner: item.owner.clone(), base, size: item.granted, attributes, pmsav7, registers })
}
