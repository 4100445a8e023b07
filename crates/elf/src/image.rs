//! A small static linker for self-contained firmware images
//! (`bulkhead compile --image`): it links the module's relocatable object
//! (as [`write_object`](crate::write_object) wrote it) with the startup code
//! of [`bulkhead_thumb::startup`] into an `ET_EXEC` ELF that QEMU (`-kernel`)
//! and debuggers load directly. No external linker, libc or libgcc.
//!
//! # Layout
//!
//! ```text
//! code_base:  .text    startup text (vector table first, then reset and
//!                      handlers), then the module's executable sections
//!             .rodata  startup tables and messages, then the module's
//!                      read-only sections (.rodata, .rodata.bulkhead.types)
//!             (flash copy of .data, if any)
//! ram_base:   stack    `stack_size` bytes, the process stack (PSP) of
//!                      `instantiate` and the entries; the stack limit the
//!                      compiled code checks is near its bottom, and an
//!                      unchecked overflow runs below ram_base, into no region
//!             .data    (copied from flash at reset)
//!             .bss     (zeroed at reset)
//!             ...      up to ram_base + ram_region_size: the RAM region the
//!                      MPU grants unprivileged code (RW, XN)
//! ram_base + ram_region_size:
//!             private  64 bytes of startup state, then the privileged main
//!                      stack (MSP), `private_stack_size` bytes: no region
//!                      grants them to unprivileged code
//! memories:   .bulkhead.mem.<k> at the planner's addresses (NOBITS; the
//!             module's `instantiate` zeroes them)
//! ```
//!
//! Every relocation of the object (REL: addends read from the field with
//! [`read_addend`](crate::patch::read_addend)) and of the startup code is
//! resolved; a symbol nobody defines is an error naming it. Two program
//! headers load the flash contents and the `.data` initializer (its load
//! address in flash, its run address in RAM); NOBITS sections need none.
//! Output is deterministic.

use crate::patch::{read_addend, write_resolved};
use bulkhead_thumb::startup::{symbols as startup_symbols, StartupCode, StartupSection, PRIVATE_AREA_SIZE};
use bulkhead_thumb::RelocKind;
use object::read::elf::{ElfFile32, FileHeader as _};
use object::{
    Endianness, Object as _, ObjectSection as _, ObjectSymbol as _, RelocationFlags, RelocationTarget, SectionFlags,
    SectionKind, SymbolKind, SymbolSection,
};
use std::collections::BTreeMap;

use crate::ElfError;

/// Raw ELF constants for the hand-written executable (object's typed
/// constants are for its own writer).
mod raw {
    pub const SHF_WRITE: u32 = 1;
    pub const SHF_ALLOC: u32 = 2;
    pub const SHF_EXECINSTR: u32 = 4;
    pub const SHT_PROGBITS: u32 = 1;
    pub const SHT_SYMTAB: u32 = 2;
    pub const SHT_STRTAB: u32 = 3;
    pub const SHT_NOBITS: u32 = 8;
    pub const SHT_ARM_ATTRIBUTES: u32 = 0x7000_0003;
    pub const SHN_ABS: u16 = 0xFFF1;
    pub const STB_LOCAL: u8 = 0;
    pub const STB_GLOBAL: u8 = 1;
    pub const STB_WEAK: u8 = 2;
    pub const STT_NOTYPE: u8 = 0;
    pub const STT_OBJECT: u8 = 1;
    pub const STT_FUNC: u8 = 2;
    pub const ET_EXEC: u16 = 2;
    pub const EM_ARM: u16 = 40;
    pub const EV_CURRENT: u8 = 1;
    pub const ELFCLASS32: u8 = 1;
    pub const ELFDATA2LSB: u8 = 1;
    pub const PT_LOAD: u32 = 1;
    pub const PF_X: u32 = 1;
    pub const PF_W: u32 = 2;
    pub const PF_R: u32 = 4;
    pub const EF_ARM_EABI_VER5: u32 = 0x0500_0000;
    pub const R_ARM_ABS32: u32 = 2;
    pub const R_ARM_THM_CALL: u32 = 10;
    pub const R_ARM_THM_JUMP24: u32 = 30;
    pub const R_ARM_THM_MOVW_ABS_NC: u32 = 47;
    pub const R_ARM_THM_MOVT_ABS: u32 = 48;
}

/// Where things go on the board.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ImageMap {
    /// Address of the vector table and code (the boot address).
    pub code_base: u32,
    /// Bytes of code memory available.
    pub code_size: u32,
    /// Start of the RAM region shared with unprivileged code: the entries'
    /// stack, `.data` and `.bss`.
    pub ram_base: u32,
    /// Size of that region (what the MPU grants).
    pub ram_region_size: u32,
    /// Bytes of the entries' stack at the bottom of the region (multiple of 8).
    pub stack_size: u32,
    /// Bytes of the privileged main stack above the region (multiple of 8).
    pub private_stack_size: u32,
}

/// Everything the image linker needs.
#[derive(Clone, Copy, Debug)]
pub struct ImageInput<'a> {
    /// The module's relocatable object.
    pub object: &'a [u8],
    pub startup: &'a StartupCode,
    pub map: ImageMap,
    /// `(memory index, address)` of every `.bulkhead.mem.<k>` section.
    pub memory_bases: &'a [(u32, u32)],
}

/// A placed output section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacedSection {
    pub name: String,
    pub address: u32,
    pub size: u32,
}

/// The linked image.
#[derive(Clone, Debug)]
pub struct LinkedImage {
    /// The ELF executable.
    pub elf: Vec<u8>,
    /// Final address of every symbol resolvable by name: the module's
    /// globals, the startup code's symbols and the linker-defined ones
    /// (Thumb functions with bit 0 set).
    pub symbols: BTreeMap<String, u32>,
    pub sections: Vec<PlacedSection>,
    /// Where each allocated section of the module's object went (by its
    /// input name; the memories included).
    pub module_sections: Vec<PlacedSection>,
    /// The ELF entry point (the reset handler, Thumb bit set).
    pub entry: u32,
}

/// Bytes of RAM the object's writable sections (`.data`, `.bss`, not the
/// memories) need, alignment padding included (from a 4-aligned start).
pub fn ram_usage(object: &[u8]) -> Result<u64, ElfError> {
    let file = parse(object)?;
    let mut at = 0u64;
    for section in file.sections() {
        if classify(&section)?.is_some_and(|c| matches!(c, Class::Data | Class::Bss)) {
            at = at.next_multiple_of(section.align().max(1)) + section.size();
        }
    }
    Ok(at)
}

fn parse(object: &[u8]) -> Result<ElfFile32<'_, Endianness>, ElfError> {
    ElfFile32::<Endianness>::parse(object)
        .map_err(|e| ElfError::new(format!("image linker: the module object is not a 32-bit ELF: {e}")))
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Class {
    Text,
    Rodata,
    Data,
    Bss,
    Memory(u32),
}

fn classify(section: &object::read::elf::ElfSection32<'_, '_, Endianness>) -> Result<Option<Class>, ElfError> {
    let SectionFlags::Elf { sh_flags, .. } = section.flags() else { return Ok(None) };
    let sh_flags = sh_flags.0 as u32;
    if sh_flags & raw::SHF_ALLOC == 0 {
        return Ok(None);
    }
    let name = section.name().map_err(|e| ElfError::new(format!("image linker: bad section name: {e}")))?;
    if let Some(k) = name.strip_prefix(".bulkhead.mem.") {
        let k = k.parse::<u32>().map_err(|_| ElfError::new(format!("image linker: bad memory section `{name}`")))?;
        return Ok(Some(Class::Memory(k)));
    }
    let nobits = section.kind() == SectionKind::UninitializedData;
    Ok(Some(if sh_flags & raw::SHF_EXECINSTR != 0 {
        Class::Text
    } else if nobits {
        Class::Bss
    } else if sh_flags & raw::SHF_WRITE != 0 {
        Class::Data
    } else {
        Class::Rodata
    }))
}

/// Output section indices in the ELF file (section header order).
const SEC_TEXT: u16 = 1;
const SEC_RODATA: u16 = 2;
const SEC_DATA: u16 = 3;
const SEC_BSS: u16 = 4;
/// Memories follow from index 5 on.
const SEC_FIRST_MEMORY: u16 = 5;

/// A symbol's resolved value: address (bit 0 clear) and whether it is a
/// Thumb function (T in the AAELF32 relocation formulas).
#[derive(Copy, Clone, Debug)]
struct Resolved {
    address: u32,
    thumb: bool,
}

struct OutSymbol {
    name: String,
    value: u32,
    size: u32,
    /// STB_* << 4 | STT_*.
    info: u8,
    shndx: u16,
}

fn align_up(value: u64, align: u64) -> u64 {
    value.next_multiple_of(align.max(1))
}

/// Links the image.
pub fn link_image(input: &ImageInput) -> Result<LinkedImage, ElfError> {
    let err = |m: String| ElfError::new(format!("image linker: {m}"));
    let map = input.map;
    let file = parse(input.object)?;
    let endian = file.endian();
    let e_flags = file.elf_header().e_flags(endian).0;

    // ---- place sections ---------------------------------------------------
    let code_base = u64::from(map.code_base);
    let startup = input.startup;
    let mut text = startup.text.clone();
    // (object section index, output section, address)
    let mut placed: BTreeMap<usize, (Class, u64)> = BTreeMap::new();
    let mut memory_sections: Vec<(u32, u64, u64, String)> = Vec::new();
    let mut attributes: Option<Vec<u8>> = None;
    let section_data = |s: &object::read::elf::ElfSection32<'_, '_, Endianness>| {
        s.data().map(|d| d.to_vec()).map_err(|e| err(format!("cannot read section {}: {e}", s.name().unwrap_or("?"))))
    };
    for section in file.sections() {
        if section.name() == Ok(".ARM.attributes") {
            attributes = Some(section_data(&section)?);
        }
        if classify(&section)? == Some(Class::Text) {
            let at = align_up(code_base + text.len() as u64, section.align());
            text.resize((at - code_base) as usize, 0);
            text.extend_from_slice(&section_data(&section)?);
            placed.insert(section.index().0, (Class::Text, at));
        }
    }
    let rodata_base = align_up(code_base + text.len() as u64, 8);
    let mut rodata = startup.rodata.clone();
    for section in file.sections() {
        if classify(&section)? == Some(Class::Rodata) {
            let at = align_up(rodata_base + rodata.len() as u64, section.align());
            rodata.resize((at - rodata_base) as usize, 0);
            rodata.extend_from_slice(&section_data(&section)?);
            placed.insert(section.index().0, (Class::Rodata, at));
        }
    }
    let ram_base = u64::from(map.ram_base);
    let psp_top = ram_base + u64::from(map.stack_size);
    let data_start = align_up(psp_top, 8);
    let mut data = Vec::new();
    for section in file.sections() {
        if classify(&section)? == Some(Class::Data) {
            let at = align_up(data_start + data.len() as u64, section.align());
            data.resize((at - data_start) as usize, 0);
            data.extend_from_slice(&section_data(&section)?);
            placed.insert(section.index().0, (Class::Data, at));
        }
    }
    data.resize(align_up(data.len() as u64, 4) as usize, 0);
    let data_end = data_start + data.len() as u64;
    let mut bss_end = data_end;
    for section in file.sections() {
        match classify(&section)? {
            Some(Class::Bss) => {
                let at = align_up(bss_end, section.align());
                bss_end = at + section.size();
                placed.insert(section.index().0, (Class::Bss, at));
            }
            Some(Class::Memory(k)) => {
                let &(_, base) = input
                    .memory_bases
                    .iter()
                    .find(|(i, _)| *i == k)
                    .ok_or_else(|| err(format!("no address planned for memory {k}")))?;
                let base = u64::from(base);
                if base % section.align().max(1) != 0 {
                    return Err(err(format!(
                        "memory {k} planned at {base:#x}, not a multiple of its alignment {:#x}",
                        section.align()
                    )));
                }
                placed.insert(section.index().0, (Class::Memory(k), base));
                memory_sections.push((k, base, section.size(), section.name().unwrap_or("").to_string()));
            }
            _ => {}
        }
    }
    let bss_end = align_up(bss_end, 4);
    let region_end = ram_base + u64::from(map.ram_region_size);
    if bss_end > region_end {
        return Err(err(format!(
            "stack ({} bytes), .data and .bss need {} bytes, more than the {}-byte RAM region at {:#x}",
            map.stack_size,
            bss_end - ram_base,
            map.ram_region_size,
            map.ram_base
        )));
    }
    let private = region_end;
    let msp_top = align_up(private + u64::from(PRIVATE_AREA_SIZE) + u64::from(map.private_stack_size), 8);
    let data_load = align_up(rodata_base + rodata.len() as u64, 8);
    let flash_end = data_load + data.len() as u64;
    if flash_end > code_base + u64::from(map.code_size) {
        return Err(err(format!(
            "code, read-only data and .data need {} bytes, more than the board's {} bytes of code memory",
            flash_end - code_base,
            map.code_size
        )));
    }
    // The memories must not overlap what the linker placed in RAM.
    for (k, base, size, _) in &memory_sections {
        if *base < msp_top && ram_base < base + size {
            return Err(err(format!(
                "memory {k} at {base:#x} overlaps the image's stack/.data/.bss area [{ram_base:#x}, {msp_top:#x})"
            )));
        }
    }

    // ---- symbols ------------------------------------------------------------
    let mut globals: BTreeMap<String, Resolved> = BTreeMap::new();
    let mut defined_by: BTreeMap<String, &'static str> = BTreeMap::new();
    let mut define = |name: &str, r: Resolved, by: &'static str| -> Result<(), ElfError> {
        if let Some(previous) = defined_by.insert(name.to_string(), by) {
            return Err(err(format!("symbol `{name}` is defined by both {previous} and {by}")));
        }
        globals.insert(name.to_string(), r);
        Ok(())
    };
    let linker_defined: [(&str, u64); 9] = [
        (startup_symbols::DATA_LOAD, data_load),
        (startup_symbols::DATA_START, data_start),
        (startup_symbols::DATA_END, data_end),
        (startup_symbols::BSS_START, data_end),
        (startup_symbols::BSS_END, bss_end),
        (startup_symbols::MSP_TOP, msp_top),
        (startup_symbols::PSP_TOP, psp_top),
        (startup_symbols::PSP_BOTTOM, ram_base),
        (startup_symbols::PRIVATE, private),
    ];
    for (name, value) in linker_defined {
        define(name, Resolved { address: value as u32, thumb: false }, "the image linker")?;
    }
    let startup_section_base = |s: StartupSection| match s {
        StartupSection::Text => code_base,
        StartupSection::Rodata => rodata_base,
    };
    let mut out_symbols: Vec<OutSymbol> = Vec::new();
    // Startup symbols. Local ones are still unique by name (`__bulkhead_image_`).
    for s in &startup.symbols {
        let address = (startup_section_base(s.section) + u64::from(s.offset)) as u32;
        define(&s.name, Resolved { address, thumb: s.thumb_function }, "the startup code")?;
        let kind = if s.thumb_function {
            raw::STT_FUNC
        } else if s.section == StartupSection::Rodata {
            raw::STT_OBJECT
        } else {
            raw::STT_NOTYPE
        };
        let bind = if s.global { raw::STB_GLOBAL } else { raw::STB_LOCAL };
        out_symbols.push(OutSymbol {
            name: s.name.clone(),
            value: address | u32::from(s.thumb_function),
            size: s.size,
            info: (bind << 4) | kind,
            shndx: if s.section == StartupSection::Text { SEC_TEXT } else { SEC_RODATA },
        });
    }
    for &(start, end) in &startup.text_data_ranges {
        out_symbols.push(mapping("$d", (code_base + u64::from(start)) as u32));
        if u64::from(end) < startup.text.len() as u64 {
            out_symbols.push(mapping("$t", (code_base + u64::from(end)) as u32));
        }
    }
    for (name, value) in linker_defined {
        out_symbols.push(OutSymbol {
            name: name.to_string(),
            value: value as u32,
            size: 0,
            info: (raw::STB_GLOBAL << 4) | raw::STT_NOTYPE,
            shndx: raw::SHN_ABS,
        });
    }
    // Module symbols.
    let out_index = |class: Class| -> u16 {
        match class {
            Class::Text => SEC_TEXT,
            Class::Rodata => SEC_RODATA,
            Class::Data => SEC_DATA,
            Class::Bss => SEC_BSS,
            Class::Memory(k) => SEC_FIRST_MEMORY + memory_sections.iter().position(|m| m.0 == k).unwrap_or(0) as u16,
        }
    };
    let mut module_resolved: BTreeMap<usize, Resolved> = BTreeMap::new();
    for symbol in file.symbols() {
        let name = symbol.name().map_err(|e| err(format!("bad symbol name: {e}")))?;
        let SymbolSection::Section(index) = symbol.section() else { continue };
        let Some(&(class, base)) = placed.get(&index.0) else {
            // A symbol in a section the image does not keep (none today).
            continue;
        };
        let thumb = symbol.kind() == SymbolKind::Text && symbol.address() & 1 == 1;
        let address = (base + (symbol.address() & !1)) as u32;
        let resolved = Resolved { address, thumb };
        module_resolved.insert(symbol.index().0, resolved);
        if symbol.kind() == SymbolKind::Section {
            continue;
        }
        if symbol.is_global() {
            define(name, resolved, "the module")?;
        }
        let kind = match symbol.kind() {
            SymbolKind::Text => raw::STT_FUNC,
            SymbolKind::Data => raw::STT_OBJECT,
            _ => raw::STT_NOTYPE,
        };
        let bind = if symbol.is_weak() {
            raw::STB_WEAK
        } else if symbol.is_global() {
            raw::STB_GLOBAL
        } else {
            raw::STB_LOCAL
        };
        out_symbols.push(OutSymbol {
            name: name.to_string(),
            value: address | u32::from(thumb),
            size: symbol.size() as u32,
            info: (bind << 4) | kind,
            shndx: out_index(class),
        });
    }

    // ---- relocations ----------------------------------------------------------
    let lookup = |name: &str, what: &str| -> Result<Resolved, ElfError> {
        globals.get(name).copied().ok_or_else(|| {
            err(format!(
                "unresolved symbol `{name}` ({what}): a firmware image must be self-contained, nothing defines it"
            ))
        })
    };
    // Patches as (output section, address of the field, kind, S, A, T).
    let apply = |bytes: &mut Vec<u8>,
                 section_base: u64,
                 place: u64,
                 kind: RelocKind,
                 target: Resolved,
                 addend: i64,
                 what: &str|
     -> Result<(), ElfError> {
        let s_plus_a = i64::from(target.address) + addend;
        let t = u32::from(target.thumb);
        let value = match kind {
            RelocKind::Abs32 | RelocKind::ThumbMovwAbsNc => (s_plus_a as u32) | t,
            RelocKind::ThumbMovtAbs => s_plus_a as u32,
            RelocKind::ThumbCall | RelocKind::ThumbJump24 => {
                if !target.thumb {
                    return Err(err(format!("{what}: branch to a symbol that is not a Thumb function")));
                }
                (s_plus_a - place as i64) as u32
            }
        };
        let at = (place - section_base) as usize;
        write_resolved(bytes, at, kind, value).map_err(|m| err(format!("{what}: {m}")))
    };
    let mut data_bytes = data;
    for section in file.sections() {
        let Some(&(class, base)) = placed.get(&section.index().0) else { continue };
        for (offset, reloc) in section.relocations() {
            let what = format!("relocation at {}+{offset:#x}", section.name().unwrap_or("?"));
            let RelocationFlags::Elf { r_type } = reloc.flags() else {
                return Err(err(format!("{what}: not an ELF relocation")));
            };
            let kind = match r_type.0 {
                raw::R_ARM_THM_CALL => RelocKind::ThumbCall,
                raw::R_ARM_THM_JUMP24 => RelocKind::ThumbJump24,
                raw::R_ARM_THM_MOVW_ABS_NC => RelocKind::ThumbMovwAbsNc,
                raw::R_ARM_THM_MOVT_ABS => RelocKind::ThumbMovtAbs,
                raw::R_ARM_ABS32 => RelocKind::Abs32,
                other => return Err(err(format!("{what}: unsupported relocation type {other}"))),
            };
            let RelocationTarget::Symbol(sym_index) = reloc.target() else {
                return Err(err(format!("{what}: relocation without a symbol")));
            };
            let target = match module_resolved.get(&sym_index.0) {
                Some(r) => *r,
                None => {
                    let symbol =
                        file.symbol_by_index(sym_index).map_err(|e| err(format!("{what}: bad symbol index: {e}")))?;
                    let name = symbol.name().map_err(|e| err(format!("{what}: bad symbol name: {e}")))?;
                    lookup(name, &format!("referenced by {what}"))?
                }
            };
            let place = base + offset;
            let (bytes, section_base) = match class {
                Class::Text => (&mut text, code_base),
                Class::Rodata => (&mut rodata, rodata_base),
                Class::Data => (&mut data_bytes, data_start),
                _ => return Err(err(format!("{what}: relocation in a section without contents"))),
            };
            let at = (place - section_base) as usize;
            let addend = if reloc.has_implicit_addend() {
                i64::from(read_addend(bytes, at, kind).map_err(|m| err(format!("{what}: {m}")))?) + reloc.addend()
            } else {
                reloc.addend()
            };
            apply(bytes, section_base, place, kind, target, addend, &what)?;
        }
    }
    for r in &startup.relocs {
        let what = format!("startup relocation against `{}`", r.symbol);
        let target = lookup(&r.symbol, "referenced by the startup code")?;
        let section_base = startup_section_base(r.section);
        let place = section_base + u64::from(r.offset);
        let bytes = match r.section {
            StartupSection::Text => &mut text,
            StartupSection::Rodata => &mut rodata,
        };
        apply(bytes, section_base, place, r.kind, target, i64::from(r.addend), &what)?;
    }

    // ---- write the ELF --------------------------------------------------------
    let mut sections = vec![
        PlacedSection { name: ".text".into(), address: map.code_base, size: text.len() as u32 },
        PlacedSection { name: ".rodata".into(), address: rodata_base as u32, size: rodata.len() as u32 },
        PlacedSection { name: ".data".into(), address: data_start as u32, size: data_bytes.len() as u32 },
        PlacedSection { name: ".bss".into(), address: data_end as u32, size: (bss_end - data_end) as u32 },
    ];
    for (_, base, size, name) in &memory_sections {
        sections.push(PlacedSection { name: name.clone(), address: *base as u32, size: *size as u32 });
    }
    let entry = globals
        .get(&startup.entry_symbol)
        .map(|r| r.address | 1)
        .ok_or_else(|| err(format!("the startup code does not define its entry `{}`", startup.entry_symbol)))?;
    let mut flash = text;
    flash.resize((rodata_base - code_base) as usize, 0);
    flash.extend_from_slice(&rodata);
    flash.resize((data_load - code_base) as usize, 0);
    let text_rodata_len = flash.len() as u32;
    flash.extend_from_slice(&data_bytes);
    let elf_bytes = write_exec(&ExecParts {
        e_flags,
        entry,
        code_base: map.code_base,
        flash: &flash,
        text_rodata_len,
        data_load: data_load as u32,
        sections: &sections,
        attributes: attributes.as_deref(),
        symbols: out_symbols,
    });
    let symbols = globals.iter().map(|(n, r)| (n.clone(), r.address | u32::from(r.thumb))).collect();
    let module_sections = file
        .sections()
        .filter_map(|s| {
            let &(_, address) = placed.get(&s.index().0)?;
            Some(PlacedSection { name: s.name().ok()?.to_string(), address: address as u32, size: s.size() as u32 })
        })
        .collect();
    Ok(LinkedImage { elf: elf_bytes, symbols, sections, module_sections, entry })
}

fn mapping(name: &str, value: u32) -> OutSymbol {
    OutSymbol { name: name.into(), value, size: 0, info: (raw::STB_LOCAL << 4) | raw::STT_NOTYPE, shndx: SEC_TEXT }
}

struct ExecParts<'a> {
    e_flags: u32,
    entry: u32,
    code_base: u32,
    /// Text, rodata and the .data initializer, from `code_base`.
    flash: &'a [u8],
    /// Bytes of `flash` before the .data initializer.
    text_rodata_len: u32,
    data_load: u32,
    /// .text, .rodata, .data, .bss, memories (output section order).
    sections: &'a [PlacedSection],
    attributes: Option<&'a [u8]>,
    symbols: Vec<OutSymbol>,
}

struct Bytes(Vec<u8>);

impl Bytes {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn align(&mut self, n: usize) {
        while !self.0.len().is_multiple_of(n) {
            self.0.push(0);
        }
    }
}

struct StrTab(Vec<u8>);

impl StrTab {
    fn new() -> StrTab {
        StrTab(vec![0])
    }
    fn add(&mut self, s: &str) -> u32 {
        let at = self.0.len() as u32;
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(0);
        at
    }
}

/// Writes an ELF32 little-endian ARM executable by hand: the format is
/// small, and doing it here keeps every byte (and its order) deterministic.
fn write_exec(p: &ExecParts) -> Vec<u8> {
    const EHDR: usize = 52;
    const PHDR: usize = 32;
    const SHDR: usize = 40;
    let data = &p.sections[2];
    let has_data = data.size > 0;
    let phnum = 1 + usize::from(has_data);
    let flash_offset = (EHDR + phnum * PHDR).next_multiple_of(16);

    // Symbols: locals first (sh_info = first global).
    let mut symbols = p.symbols.iter().collect::<Vec<_>>();
    symbols.sort_by_key(|s| (s.info >> 4 != raw::STB_LOCAL, s.shndx, s.value, s.name.clone()));
    let first_global = 1 + symbols.iter().take_while(|s| s.info >> 4 == raw::STB_LOCAL).count();
    let mut strtab = StrTab::new();
    let mut symtab = Bytes(vec![0; 16]);
    for s in &symbols {
        symtab.u32(strtab.add(&s.name));
        symtab.u32(s.value);
        symtab.u32(s.size);
        symtab.u8(s.info);
        symtab.u8(0);
        symtab.u16(s.shndx);
    }

    let mut out = Bytes(Vec::new());
    out.0.resize(flash_offset, 0);
    out.0.extend_from_slice(p.flash);
    let attributes_offset = out.0.len();
    if let Some(a) = p.attributes {
        out.0.extend_from_slice(a);
    }
    out.align(4);
    let symtab_offset = out.0.len();
    out.0.extend_from_slice(&symtab.0);
    let strtab_offset = out.0.len();
    out.0.extend_from_slice(&strtab.0);

    // Section headers: NULL, .text, .rodata, .data, .bss, memories...,
    // .ARM.attributes, .symtab, .strtab, .shstrtab.
    let mut shstrtab = StrTab::new();
    struct Sh {
        name: u32,
        ty: u32,
        flags: u32,
        addr: u32,
        offset: u32,
        size: u32,
        link: u32,
        info: u32,
        align: u32,
        entsize: u32,
    }
    let mut shdrs: Vec<Sh> = Vec::new();
    let alloc = raw::SHF_ALLOC;
    for (i, s) in p.sections.iter().enumerate() {
        let (ty, flags, offset, align) = match i {
            0 => (raw::SHT_PROGBITS, alloc | raw::SHF_EXECINSTR, flash_offset as u32, 4),
            1 => (raw::SHT_PROGBITS, alloc, (flash_offset as u32) + (s.address - p.code_base), 8),
            2 => (raw::SHT_PROGBITS, alloc | raw::SHF_WRITE, (flash_offset as u32) + (p.data_load - p.code_base), 8),
            3 => (raw::SHT_NOBITS, alloc | raw::SHF_WRITE, (flash_offset + p.flash.len()) as u32, 4),
            _ => (
                raw::SHT_NOBITS,
                alloc | raw::SHF_WRITE,
                (flash_offset + p.flash.len()) as u32,
                (s.size.max(32)).next_power_of_two(),
            ),
        };
        shdrs.push(Sh {
            name: shstrtab.add(&s.name),
            ty,
            flags,
            addr: s.address,
            offset,
            size: s.size,
            link: 0,
            info: 0,
            align,
            entsize: 0,
        });
    }
    if let Some(a) = p.attributes {
        shdrs.push(Sh {
            name: shstrtab.add(".ARM.attributes"),
            ty: raw::SHT_ARM_ATTRIBUTES,
            flags: 0,
            addr: 0,
            offset: attributes_offset as u32,
            size: a.len() as u32,
            link: 0,
            info: 0,
            align: 1,
            entsize: 0,
        });
    }
    let symtab_index = shdrs.len() as u32 + 1;
    shdrs.push(Sh {
        name: shstrtab.add(".symtab"),
        ty: raw::SHT_SYMTAB,
        flags: 0,
        addr: 0,
        offset: symtab_offset as u32,
        size: symtab.0.len() as u32,
        link: symtab_index + 1,
        info: first_global as u32,
        align: 4,
        entsize: 16,
    });
    shdrs.push(Sh {
        name: shstrtab.add(".strtab"),
        ty: raw::SHT_STRTAB,
        flags: 0,
        addr: 0,
        offset: strtab_offset as u32,
        size: strtab.0.len() as u32,
        link: 0,
        info: 0,
        align: 1,
        entsize: 0,
    });
    let shstrndx = shdrs.len() as u16 + 1;
    let shstr_name = shstrtab.add(".shstrtab");
    let shstrtab_offset = out.0.len();
    out.0.extend_from_slice(&shstrtab.0);
    shdrs.push(Sh {
        name: shstr_name,
        ty: raw::SHT_STRTAB,
        flags: 0,
        addr: 0,
        offset: shstrtab_offset as u32,
        size: shstrtab.0.len() as u32,
        link: 0,
        info: 0,
        align: 1,
        entsize: 0,
    });
    out.align(4);
    let shoff = out.0.len();
    out.0.extend_from_slice(&[0; SHDR]);
    for sh in &shdrs {
        for v in [sh.name, sh.ty, sh.flags, sh.addr, sh.offset, sh.size, sh.link, sh.info, sh.align, sh.entsize] {
            out.u32(v);
        }
    }

    // ELF header and program headers.
    let mut head = Bytes(Vec::new());
    head.0.extend_from_slice(&[0x7F, b'E', b'L', b'F', raw::ELFCLASS32, raw::ELFDATA2LSB, raw::EV_CURRENT, 0]);
    head.0.extend_from_slice(&[0; 8]);
    head.u16(raw::ET_EXEC);
    head.u16(raw::EM_ARM);
    head.u32(u32::from(raw::EV_CURRENT));
    head.u32(p.entry);
    head.u32(EHDR as u32);
    head.u32(shoff as u32);
    head.u32(p.e_flags | raw::EF_ARM_EABI_VER5);
    head.u16(EHDR as u16);
    head.u16(PHDR as u16);
    head.u16(phnum as u16);
    head.u16(SHDR as u16);
    head.u16(shdrs.len() as u16 + 1);
    head.u16(shstrndx);
    // Flash: text + rodata, read/execute.
    for v in [
        raw::PT_LOAD,
        flash_offset as u32,
        p.code_base,
        p.code_base,
        p.text_rodata_len,
        p.text_rodata_len,
        raw::PF_R | raw::PF_X,
        4,
    ] {
        head.u32(v);
    }
    if has_data {
        for v in [
            raw::PT_LOAD,
            flash_offset as u32 + (p.data_load - p.code_base),
            data.address,
            p.data_load,
            data.size,
            data.size,
            raw::PF_R | raw::PF_W,
            4,
        ] {
            head.u32(v);
        }
    }
    out.0[..head.0.len()].copy_from_slice(&head.0);
    out.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulkhead_thumb::startup::{StartupSymbol, VECTOR_TABLE_SIZE};
    use object::write::{Object, Relocation, Symbol, SymbolSection as WSymbolSection};
    use object::{Architecture, BinaryFormat, SymbolFlags, SymbolScope};

    const MAP: ImageMap = ImageMap {
        code_base: 0x1000_0000,
        code_size: 0x40_0000,
        ram_base: 0x3800_0000,
        ram_region_size: 0x8000,
        stack_size: 0x1000,
        private_stack_size: 0x1000,
    };

    /// An object whose `.text` is `bl <target>` (REL addend -4) and whose
    /// `.rodata` holds an ABS32 to it plus 8.
    fn object_calling(target: &str, defined: bool) -> Vec<u8> {
        let mut obj = Object::new(BinaryFormat::Elf, Architecture::Arm, object::Endianness::Little);
        let text = obj.add_section(Vec::new(), b".text".to_vec(), SectionKind::Text);
        obj.append_section_data(text, &[0x00, 0xBF, 0x00, 0xBF, 0xFF, 0xF7, 0xFE, 0xFF], 4);
        let rodata = obj.add_section(Vec::new(), b".rodata".to_vec(), SectionKind::ReadOnlyData);
        obj.append_section_data(rodata, &8u32.to_le_bytes(), 4);
        let symbol = obj.add_symbol(Symbol {
            name: target.as_bytes().to_vec(),
            value: if defined { 1 } else { 0 },
            size: 0,
            kind: object::SymbolKind::Text,
            scope: SymbolScope::Dynamic,
            weak: false,
            section: if defined { WSymbolSection::Section(text) } else { WSymbolSection::Undefined },
            flags: SymbolFlags::None,
        });
        let rel = |r_type| object::RelocationFlags::Elf { r_type: object::elf::RelocationType(r_type) };
        obj.add_relocation(text, Relocation { offset: 4, symbol, addend: 0, flags: rel(raw::R_ARM_THM_CALL) }).unwrap();
        obj.add_relocation(rodata, Relocation { offset: 0, symbol, addend: 0, flags: rel(raw::R_ARM_ABS32) }).unwrap();
        obj.write().unwrap()
    }

    fn startup() -> StartupCode {
        let mut text = vec![0; VECTOR_TABLE_SIZE as usize];
        text.extend_from_slice(&[0x70, 0x47]); // bx lr
        StartupCode {
            text,
            symbols: vec![StartupSymbol {
                name: "reset".into(),
                section: StartupSection::Text,
                offset: VECTOR_TABLE_SIZE,
                size: 2,
                thumb_function: true,
                global: true,
            }],
            entry_symbol: "reset".into(),
            ..Default::default()
        }
    }

    #[test]
    fn resolves_branches_and_words() {
        let object = object_calling("reset", false);
        let startup = startup();
        let image =
            link_image(&ImageInput { object: &object, startup: &startup, map: MAP, memory_bases: &[] }).unwrap();
        let reset = 0x1000_0000 + VECTOR_TABLE_SIZE;
        assert_eq!(image.entry, reset | 1);
        let text = image.module_sections.iter().find(|s| s.name == ".text").unwrap();
        let rodata = image.module_sections.iter().find(|s| s.name == ".rodata").unwrap();
        let file = object::File::parse(&*image.elf).unwrap();
        let read = |address: u32, len: usize| -> Vec<u8> {
            file.sections()
                .find_map(|s| {
                    let data = s.data().ok()?;
                    let start = s.address() as u32;
                    (start <= address && address + len as u32 <= start + data.len() as u32)
                        .then(|| data[(address - start) as usize..][..len].to_vec())
                })
                .unwrap()
        };
        // BL at text+4: target = P + 4 + offset.
        let place = text.address + 4;
        let offset = read_addend(&read(place, 4), 0, RelocKind::ThumbCall).unwrap();
        assert_eq!((place as i64 + 4 + i64::from(offset)) as u32, reset);
        // ABS32 = (S + A) | T with A = 8 from the word.
        assert_eq!(u32::from_le_bytes(read(rodata.address, 4).try_into().unwrap()), (reset + 8) | 1);
    }

    #[test]
    fn unresolved_symbols_are_named() {
        let object = object_calling("env_log", false);
        let startup = startup();
        let e = link_image(&ImageInput { object: &object, startup: &startup, map: MAP, memory_bases: &[] })
            .unwrap_err()
            .to_string();
        assert!(e.contains("unresolved symbol `env_log`") && e.contains(".text+0x4"), "{e}");
    }

    #[test]
    fn duplicate_definitions_and_overflows_are_errors() {
        let object = object_calling("reset", true);
        let startup = startup();
        let e = link_image(&ImageInput { object: &object, startup: &startup, map: MAP, memory_bases: &[] })
            .unwrap_err()
            .to_string();
        assert!(e.contains("`reset`") && e.contains("defined by both"), "{e}");
        let object = object_calling("reset", false);
        let tiny = ImageMap { ram_region_size: 0x800, ..MAP };
        let e = link_image(&ImageInput { object: &object, startup: &startup, map: tiny, memory_bases: &[] })
            .unwrap_err()
            .to_string();
        assert!(e.contains("RAM region"), "{e}");
    }

    /// `.data` runs in RAM after the stack and loads from flash after
    /// `.rodata`: a second PT_LOAD with p_paddr = the flash copy, and the
    /// startup's copy bounds describe it.
    #[test]
    fn data_is_loaded_from_flash_and_relocated() {
        use object::read::elf::ProgramHeader as _;
        let mut obj = Object::new(BinaryFormat::Elf, Architecture::Arm, object::Endianness::Little);
        let data = obj.add_section(Vec::new(), b".data".to_vec(), SectionKind::Data);
        obj.append_section_data(data, &[0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44], 4);
        let symbol = obj.add_symbol(Symbol {
            name: b"reset".to_vec(),
            value: 0,
            size: 0,
            kind: object::SymbolKind::Text,
            scope: SymbolScope::Dynamic,
            weak: false,
            section: WSymbolSection::Undefined,
            flags: SymbolFlags::None,
        });
        let flags = object::RelocationFlags::Elf { r_type: object::elf::RelocationType(raw::R_ARM_ABS32) };
        obj.add_relocation(data, Relocation { offset: 0, symbol, addend: 0, flags }).unwrap();
        let object = obj.write().unwrap();
        let startup = startup();
        let image =
            link_image(&ImageInput { object: &object, startup: &startup, map: MAP, memory_bases: &[] }).unwrap();
        let placed = image.module_sections.iter().find(|s| s.name == ".data").unwrap();
        assert_eq!(placed.address, MAP.ram_base + MAP.stack_size);
        assert_eq!(image.symbols[startup_symbols::DATA_START], placed.address);
        assert_eq!(image.symbols[startup_symbols::DATA_END], placed.address + 8);
        assert_eq!(image.symbols[startup_symbols::PSP_TOP], placed.address);
        assert_eq!(image.symbols[startup_symbols::PRIVATE], MAP.ram_base + MAP.ram_region_size);
        let load = image.symbols[startup_symbols::DATA_LOAD];
        let file = ElfFile32::<Endianness>::parse(&*image.elf).unwrap();
        let endian = file.endian();
        let segments: Vec<_> = file
            .elf_program_headers()
            .iter()
            .map(|p| (p.p_vaddr(endian), p.p_paddr(endian), p.p_filesz(endian), p.p_offset(endian)))
            .collect();
        assert_eq!(segments.len(), 2, "{segments:x?}");
        let (vaddr, paddr, filesz, offset) = segments[1];
        assert_eq!((vaddr, paddr, filesz), (placed.address, load, 8));
        let bytes = &image.elf[offset as usize..][..8];
        let reset = MAP.code_base + VECTOR_TABLE_SIZE;
        assert_eq!(bytes, [((reset | 1).to_le_bytes()), [0x11, 0x22, 0x33, 0x44]].concat());
        // The flash segment ends where the .data copy begins.
        assert_eq!(segments[0].0 + segments[0].2, load);
    }
}
