//! ELF32 writer for bulkhead: one relocatable ARM object per wasm module.
//!
//! The layout follows the embedder ABI (docs/embedder-abi.md):
//!
//! - `.text`: every defined function (`NAME.f<i>`, plus a global
//!   `NAME_<export>` per export), thunks re-exporting imported functions,
//!   `NAME_instantiate`, and the backend runtime routines that are actually
//!   referenced (`NAME.rt.<name>`). Functions are 4-byte aligned, their
//!   symbols carry the Thumb bit, and `$t`/`$d` mapping symbols mark code and
//!   data (literal pools).
//! - `.bulkhead.mem.<k>`: one NOBITS section per defined memory, aligned to
//!   `max(32, next_power_of_two(reserved))` so that one MPU region covers it.
//! - `.rodata`: data segments (`NAME.d<i>`), `NAME_mem<k>_max`, the memory
//!   table `NAME_memories`.
//! - `.bss`: `NAME_mem<k>_size` words and global storage (`NAME.g<i>`),
//!   table entries (`NAME.t<t>`) and size words (`NAME__table<t>_size`).
//! - `.rodata`: also function descriptors `NAME.fd<i>` = `{ code | 1, type
//!   id }` for the functions whose funcref the code takes.
//! - `.rodata.bulkhead.types`: one weak 1-byte `__bulkhead_type_<sig>` per
//!   signature used by `call_indirect` or a descriptor; the linker keeps one
//!   definition per name, so its address is a type id shared by all modules.
//! - `.ARM.attributes`: architecture and float ABI for the linker.
//!
//! Symbol names come from [`SymbolNames`]; nothing here spells a name itself.
//! Output is deterministic: iteration is over vectors and ordered maps only.

mod attributes;
mod names;
mod patch;
pub mod image;

pub use attributes::{build_attributes, ArmArch};
pub use names::{module_name_from_stem, sanitize, type_id_symbol, validate_module_name, MemorySymbols, SymbolNames, TableSymbols};

use bulkhead_thumb::{CompiledFunction, Reloc, RelocKind, RelocTarget};
use bulkhead_wasm::{ElemItem, FuncType, Import, ModuleEnv, ValueType};
use core::fmt;
use object::write::{Object, Relocation, SectionId, Symbol, SymbolId, SymbolSection};
use object::{
    elf, Architecture, BinaryFormat, Endianness, FileFlags, RelocationFlags, SectionFlags, SectionKind, SymbolFlags,
    SymbolKind, SymbolScope,
};
use std::collections::{BTreeMap, BTreeSet};

/// Everything the object writer needs for one module.
#[derive(Clone, Copy, Debug)]
pub struct ObjectInput<'a> {
    /// Module name (`NAME`), a C identifier.
    pub name: &'a str,
    pub env: &'a ModuleEnv,
    /// Every defined function exactly once, as `(wasm function index, code)`.
    pub functions: &'a [(u32, CompiledFunction)],
    /// The compiled `instantiate` function.
    pub instantiate: &'a CompiledFunction,
    /// Backend runtime routines (`bulkhead_thumb::referenced_runtime_functions`); only
    /// those referenced by a relocation end up in the object.
    pub runtime: &'a [(&'static str, CompiledFunction)],
    /// Floats are passed in VFP registers (`eabihf`).
    pub hard_float: bool,
    /// Architecture recorded in the build attributes.
    pub arch: ArmArch,
}

/// Why an object could not be written. The message names the function,
/// relocation or symbol at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfError {
    pub message: String,
}

impl ElfError {
    fn new(message: impl Into<String>) -> ElfError {
        ElfError { message: message.into() }
    }
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "object writer: {}", self.message)
    }
}

impl std::error::Error for ElfError {}

/// Size of one `NAME_memories` entry: `{ uint8_t *base; uint32_t *size; uint32_t max; }`.
pub const MEMORY_TABLE_ENTRY_SIZE: u32 = 12;

/// Alignment (and therefore the smallest MPU region) of defined memory
/// sections: `max(32, next_power_of_two(reserved_bytes))`, or `None` when
/// the reservation cannot be a region of the 32-bit address space.
pub fn memory_alignment(reserved_bytes: u64) -> Option<u64> {
    if reserved_bytes > 1 << 31 {
        return None;
    }
    Some(reserved_bytes.max(32).next_power_of_two())
}

/// Whether floats cross the module's interface: a function signature or a
/// global of type f32/f64.
pub fn uses_float(env: &ModuleEnv) -> bool {
    let is_float = |t: &bulkhead_ir::Type| matches!(t, bulkhead_ir::Type::F32 | bulkhead_ir::Type::F64);
    env.funcs.iter().any(|f| f.sig.params.iter().chain(&f.sig.results).any(is_float))
        || env.globals.iter().any(|g| is_float(&g.ty))
}

/// Writes the relocatable object for a compiled module.
pub fn write_object(input: &ObjectInput) -> Result<Vec<u8>, ElfError> {
    let names = SymbolNames::new(input.name).map_err(ElfError::new)?;
    let mut w = Writer::new(input, names);
    w.layout_text()?;
    w.layout_memories()?;
    w.layout_globals()?;
    w.layout_rodata()?;
    w.layout_descriptors()?;
    w.layout_tables()?;
    w.add_text_relocations()?;
    w.check_undefined_names()?;
    let mut bytes = w.obj.write().map_err(|e| ElfError::new(e.to_string()))?;
    set_section_alignments(&mut bytes, &w.memory_alignments)?;
    Ok(bytes)
}

/// Writes the real `sh_addralign` of the memory sections into the finished
/// object. They are handed to `object` with alignment 1 because it aligns
/// the *file offset* of every section, NOBITS included, which would pad the
/// file with up to the alignment (e.g. 1 MiB for a 1 MiB memory) of zeros.
/// A NOBITS section's file offset is meaningless, so only the header field
/// matters to the linker.
fn set_section_alignments(bytes: &mut [u8], alignments: &[(String, u64)]) -> Result<(), ElfError> {
    use object::read::elf::{ElfFile32, FileHeader};
    use object::{Object as _, ObjectSection as _};
    let bad = |m: String| ElfError::new(format!("internal error patching section alignment: {m}"));
    let mut patches = Vec::new();
    {
        let file = ElfFile32::<Endianness>::parse(&*bytes).map_err(|e| bad(e.to_string()))?;
        let header = file.elf_header();
        let endian = file.endian();
        let shoff = header.e_shoff(endian) as u64;
        let shentsize = u64::from(header.e_shentsize(endian));
        for (name, align) in alignments {
            let section = file.section_by_name(name).ok_or_else(|| bad(format!("no section {name}")))?;
            // Elf32_Shdr: sh_addralign is the ninth 32-bit field.
            let at = shoff + section.index().0 as u64 * shentsize + 32;
            patches.push((at as usize, *align as u32));
        }
    }
    for (at, align) in patches {
        let field = bytes.get_mut(at..at + 4).ok_or_else(|| bad("header out of range".into()))?;
        field.copy_from_slice(&align.to_le_bytes());
    }
    Ok(())
}

/// A piece of code placed in `.text`.
struct TextItem<'a> {
    /// For messages: "function 3", "instantiate", "runtime routine memmove".
    what: String,
    code: &'a CompiledFunction,
    /// Offset in `.text`.
    offset: u32,
}

struct Writer<'a> {
    input: &'a ObjectInput<'a>,
    env: &'a ModuleEnv,
    names: SymbolNames,
    obj: Object<'static>,
    text: SectionId,
    rodata: Option<SectionId>,
    bss: Option<SectionId>,
    items: Vec<TextItem<'a>>,
    /// Thunks for re-exported imported functions: (offset, import symbol).
    thunks: Vec<(u32, String)>,
    functions: BTreeMap<u32, SymbolId>,
    instantiate: Option<SymbolId>,
    runtime: BTreeMap<&'static str, SymbolId>,
    memory_base: BTreeMap<u32, SymbolId>,
    memory_size: BTreeMap<u32, SymbolId>,
    memory_max: BTreeMap<u32, SymbolId>,
    tables: BTreeMap<u32, SymbolId>,
    table_sizes: BTreeMap<u32, SymbolId>,
    descriptors: BTreeMap<u32, SymbolId>,
    /// Weak type-id symbols by name, and their section.
    type_ids: BTreeMap<String, SymbolId>,
    types_section: Option<SectionId>,
    globals: BTreeMap<u32, SymbolId>,
    data: BTreeMap<u32, SymbolId>,
    undefined: BTreeMap<String, SymbolId>,
    /// Memory sections and their alignment, applied after writing.
    memory_alignments: Vec<(String, u64)>,
    /// Global symbols defined so far, with what they are (for collision errors).
    defined_globals: BTreeMap<String, String>,
}

fn text_symbol(name: String, section: SectionId, offset: u32, size: u32, scope: SymbolScope) -> Symbol {
    Symbol {
        name: name.into_bytes(),
        // ELF for the ARM architecture: the value of a Thumb STT_FUNC symbol
        // has bit 0 set.
        value: u64::from(offset) | 1,
        size: u64::from(size),
        kind: SymbolKind::Text,
        scope,
        weak: false,
        section: SymbolSection::Section(section),
        flags: SymbolFlags::None,
    }
}

fn data_symbol(name: String, section: SectionId, offset: u64, size: u64, scope: SymbolScope) -> Symbol {
    Symbol {
        name: name.into_bytes(),
        value: offset,
        size,
        kind: SymbolKind::Data,
        scope,
        weak: false,
        section: SymbolSection::Section(section),
        flags: SymbolFlags::None,
    }
}

fn mapping_symbol(name: &str, section: SectionId, offset: u32) -> Symbol {
    Symbol {
        name: name.as_bytes().to_vec(),
        value: u64::from(offset),
        size: 0,
        kind: SymbolKind::Label,
        scope: SymbolScope::Compilation,
        weak: false,
        section: SymbolSection::Section(section),
        flags: SymbolFlags::None,
    }
}

fn reloc_type(kind: RelocKind) -> elf::RelocationType {
    match kind {
        RelocKind::ThumbCall => elf::R_ARM_THM_PC22,
        RelocKind::ThumbJump24 => elf::R_ARM_THM_JUMP24,
        RelocKind::ThumbMovwAbsNc => elf::R_ARM_THM_MOVW_ABS_NC,
        RelocKind::ThumbMovtAbs => elf::R_ARM_THM_MOVT_ABS,
        RelocKind::Abs32 => elf::R_ARM_ABS32,
    }
}

/// The Thumb NOP used to pad between functions.
const THUMB_NOP: [u8; 2] = [0x00, 0xBF];

impl<'a> Writer<'a> {
    fn new(input: &'a ObjectInput<'a>, names: SymbolNames) -> Writer<'a> {
        let mut obj = Object::new(BinaryFormat::Elf, Architecture::Arm, Endianness::Little);
        let float_abi = if input.hard_float { elf::EF_ARM_ABI_FLOAT_HARD } else { elf::EF_ARM_ABI_FLOAT_SOFT };
        obj.flags = FileFlags::Elf {
            os_abi: elf::ELFOSABI_NONE,
            abi_version: 0,
            e_flags: elf::FileFlags(elf::EF_ARM_EABI_VER5.0 | float_abi),
        };
        let text = obj.add_section(Vec::new(), b".text".to_vec(), SectionKind::Text);
        let attrs = obj.add_section(Vec::new(), b".ARM.attributes".to_vec(), SectionKind::Other);
        obj.section_mut(attrs).flags =
            SectionFlags::Elf { sh_type: elf::SHT_ARM_ATTRIBUTES, sh_flags: elf::SectionFlags(0) };
        obj.set_section_data(attrs, build_attributes(input.arch, input.hard_float, uses_float(input.env)), 1);
        Writer {
            input,
            env: input.env,
            names,
            obj,
            text,
            rodata: None,
            bss: None,
            items: Vec::new(),
            thunks: Vec::new(),
            functions: BTreeMap::new(),
            instantiate: None,
            runtime: BTreeMap::new(),
            memory_base: BTreeMap::new(),
            memory_size: BTreeMap::new(),
            memory_max: BTreeMap::new(),
            tables: BTreeMap::new(),
            table_sizes: BTreeMap::new(),
            descriptors: BTreeMap::new(),
            type_ids: BTreeMap::new(),
            types_section: None,
            globals: BTreeMap::new(),
            data: BTreeMap::new(),
            undefined: BTreeMap::new(),
            memory_alignments: Vec::new(),
            defined_globals: BTreeMap::new(),
        }
    }

    fn rodata(&mut self) -> SectionId {
        *self
            .rodata
            .get_or_insert_with(|| self.obj.add_section(Vec::new(), b".rodata".to_vec(), SectionKind::ReadOnlyData))
    }

    fn bss(&mut self) -> SectionId {
        *self
            .bss
            .get_or_insert_with(|| self.obj.add_section(Vec::new(), b".bss".to_vec(), SectionKind::UninitializedData))
    }

    /// Adds a global symbol, refusing a name that is already defined.
    fn add_global(&mut self, symbol: Symbol, what: String) -> Result<SymbolId, ElfError> {
        let name = String::from_utf8_lossy(&symbol.name).into_owned();
        if let Some(previous) = self.defined_globals.get(&name) {
            return Err(ElfError::new(format!(
                "symbol `{name}` would be defined twice: by {previous} and by {what}; rename one of the exports"
            )));
        }
        self.defined_globals.insert(name, what);
        Ok(self.obj.add_symbol(symbol))
    }

    fn undefined_symbol(&mut self, name: String) -> SymbolId {
        if let Some(&id) = self.undefined.get(&name) {
            return id;
        }
        let id = self.obj.add_symbol(Symbol {
            name: name.clone().into_bytes(),
            value: 0,
            size: 0,
            kind: SymbolKind::Unknown,
            scope: SymbolScope::Unknown,
            weak: false,
            section: SymbolSection::Undefined,
            flags: SymbolFlags::None,
        });
        self.undefined.insert(name, id);
        id
    }

    /// Checks the function list against the module and orders it by index.
    fn defined_functions(&self) -> Result<Vec<(u32, &'a CompiledFunction)>, ElfError> {
        let mut by_index: BTreeMap<u32, &'a CompiledFunction> = BTreeMap::new();
        for (index, code) in self.input.functions {
            let index = *index;
            if index as usize >= self.env.funcs.len() {
                return Err(ElfError::new(format!(
                    "code given for function {index}, but the module has {} functions",
                    self.env.funcs.len()
                )));
            }
            if self.env.is_imported_func(index) {
                return Err(ElfError::new(format!("code given for function {index}, which is imported")));
            }
            if by_index.insert(index, code).is_some() {
                return Err(ElfError::new(format!("code given twice for function {index}")));
            }
        }
        if let Some((missing, _)) = self.env.defined_funcs().find(|(i, _)| !by_index.contains_key(i)) {
            return Err(ElfError::new(format!("no code given for defined function {missing}")));
        }
        Ok(by_index.into_iter().collect())
    }

    /// Runtime routines reachable through relocations from the module's code.
    fn referenced_runtime(&self) -> Result<Vec<(&'static str, &'a CompiledFunction)>, ElfError> {
        let mut available: BTreeMap<&'static str, &'a CompiledFunction> = BTreeMap::new();
        for (name, code) in self.input.runtime {
            if available.insert(*name, code).is_some() {
                return Err(ElfError::new(format!("runtime routine `{name}` given twice")));
            }
        }
        let mut wanted: BTreeSet<&'static str> = BTreeSet::new();
        let mut work: Vec<&'a CompiledFunction> =
            self.input.functions.iter().map(|(_, c)| c).chain([self.input.instantiate]).collect();
        while let Some(code) = work.pop() {
            for reloc in &code.relocs {
                if let RelocTarget::Runtime(name) = reloc.target {
                    let routine = available.get(name).ok_or_else(|| {
                        ElfError::new(format!(
                            "relocation to runtime routine `{name}`, which the backend did not provide"
                        ))
                    })?;
                    if wanted.insert(name) {
                        work.push(routine);
                    }
                }
            }
        }
        // Keep the backend's order (deterministic and meaningful to it).
        Ok(self.input.runtime.iter().filter(|(n, _)| wanted.contains(n)).map(|(n, c)| (*n, c)).collect())
    }

    fn layout_text(&mut self) -> Result<(), ElfError> {
        let mut text: Vec<u8> = Vec::new();
        let text_section = self.text;
        // Places `code` at the next 4-byte boundary; returns its offset.
        fn place(text: &mut Vec<u8>, code: &[u8], what: &str) -> Result<u32, ElfError> {
            if !code.len().is_multiple_of(2) {
                return Err(ElfError::new(format!(
                    "{what}: code size {} is odd; Thumb code is a sequence of halfwords",
                    code.len()
                )));
            }
            while !text.len().is_multiple_of(4) {
                text.extend_from_slice(&THUMB_NOP);
            }
            let offset = u32::try_from(text.len())
                .ok()
                .filter(|o| o.checked_add(code.len() as u32).is_some())
                .ok_or_else(|| ElfError::new("the code does not fit in 4 GiB"))?;
            text.extend_from_slice(code);
            Ok(offset)
        }

        // Defined functions.
        for (index, code) in self.defined_functions()? {
            let what = format!("function {index}");
            let offset = place(&mut text, &code.code, &what)?;
            let size = code.code.len() as u32;
            let local = self.obj.add_symbol(text_symbol(
                self.names.function_local(index),
                text_section,
                offset,
                size,
                SymbolScope::Compilation,
            ));
            for export in &self.env.funcs[index as usize].exports {
                let sym =
                    text_symbol(self.names.export_symbol(export), text_section, offset, size, SymbolScope::Dynamic);
                self.add_global(sym, format!("the export \"{export}\" of function {index}"))?;
            }
            self.functions.insert(index, local);
            self.items.push(TextItem { what, code, offset });
        }

        // Re-exported imports: a B.W thunk to the import, since an ELF
        // symbol cannot alias an undefined one.
        for (index, decl) in self.env.funcs.iter().enumerate() {
            let (Some(Import { module, name }), false) = (&decl.import, decl.exports.is_empty()) else {
                continue;
            };
            let index = index as u32;
            let offset = place(&mut text, &patch::B_W_TO_RELOC_TARGET, "thunk")?;
            self.obj.add_symbol(text_symbol(
                self.names.reexport_thunk_local(index),
                text_section,
                offset,
                4,
                SymbolScope::Compilation,
            ));
            for export in &decl.exports {
                let sym = text_symbol(self.names.export_symbol(export), text_section, offset, 4, SymbolScope::Dynamic);
                self.add_global(sym, format!("the export \"{export}\" of imported function {index}"))?;
            }
            self.thunks.push((offset, self.names.import_symbol(module, name)));
        }

        // instantiate.
        let code = self.input.instantiate;
        let offset = place(&mut text, &code.code, "instantiate")?;
        let sym =
            text_symbol(self.names.instantiate(), text_section, offset, code.code.len() as u32, SymbolScope::Dynamic);
        let id = self.add_global(sym, "the instantiate function".to_string())?;
        self.instantiate = Some(id);
        self.items.push(TextItem { what: "instantiate".to_string(), code, offset });

        // Runtime routines.
        for (name, code) in self.referenced_runtime()? {
            let what = format!("runtime routine {name}");
            let offset = place(&mut text, &code.code, &what)?;
            let id = self.obj.add_symbol(text_symbol(
                self.names.runtime_local(name),
                text_section,
                offset,
                code.code.len() as u32,
                SymbolScope::Compilation,
            ));
            self.runtime.insert(name, id);
            self.items.push(TextItem { what, code, offset });
        }

        // Relocation addends go into the instructions (REL), and mapping
        // symbols mark code and data.
        for item in &self.items {
            let start = item.offset as usize;
            let code = &mut text[start..start + item.code.code.len()];
            for reloc in &item.code.relocs {
                let end = reloc.offset as u64 + u64::from(patch::field_size(reloc.kind));
                if end > code.len() as u64 {
                    return Err(ElfError::new(format!(
                        "{}: relocation at offset {:#x} lies outside the {}-byte code",
                        item.what,
                        reloc.offset,
                        code.len()
                    )));
                }
                patch::write_addend(code, reloc.offset as usize, reloc.kind, reloc.addend).map_err(|m| {
                    ElfError::new(format!(
                        "{}: {:?} relocation at offset {:#x}: {m}",
                        item.what, reloc.kind, reloc.offset
                    ))
                })?;
            }
        }
        let mut mapping: Vec<(&'static str, u32)> = Vec::new();
        for item in &self.items {
            mapping.extend(mapping_symbols(item)?);
        }
        for (offset, _) in &self.thunks {
            mapping.push(("$t", *offset));
        }
        mapping.sort_by_key(|&(_, offset)| offset);
        for (name, offset) in mapping {
            self.obj.add_symbol(mapping_symbol(name, text_section, offset));
        }

        self.obj.set_section_data(text_section, text, 4);
        Ok(())
    }

    fn layout_memories(&mut self) -> Result<(), ElfError> {
        for (k, memory) in self.env.memories.iter().enumerate() {
            let k = k as u32;
            let syms = self.names.memory_symbols(self.env, k).expect("memory exists");
            if let Some(Import { module, name }) = &memory.import {
                let base = self.undefined_symbol(syms.base);
                let size = self.undefined_symbol(syms.size);
                let max = self.undefined_symbol(self.names.import_max_symbol(module, name));
                self.memory_base.insert(k, base);
                self.memory_size.insert(k, size);
                self.memory_max.insert(k, max);
                continue;
            }
            let reserved = memory.reserved_bytes;
            let align = memory_alignment(reserved).ok_or_else(|| {
                ElfError::new(format!(
                    "memory {k} reserves {reserved} bytes; a region can be at most 2 GiB on a 32-bit target \
                     (lower it with --memory-max {k}=SIZE)"
                ))
            })?;
            let section_name = self.names.memory_section(k);
            let section =
                self.obj.add_section(Vec::new(), section_name.clone().into_bytes(), SectionKind::UninitializedData);
            // The section is the whole native region: with mask bounds also
            // the span above the reservation and the tail guard.
            let region = memory.region_bytes();
            let offset = self.obj.append_section_bss(section, region, 1);
            self.memory_alignments.push((section_name, align));
            let base = self.add_global(
                data_symbol(syms.base, section, offset, region, SymbolScope::Dynamic),
                format!("the base of memory {k}"),
            )?;
            for export in &memory.exports {
                self.add_global(
                    data_symbol(self.names.export_symbol(export), section, offset, region, SymbolScope::Dynamic),
                    format!("the export \"{export}\" of memory {k}"),
                )?;
            }
            let bss = self.bss();
            let size_offset = self.obj.append_section_bss(bss, 4, 4);
            let size = self.add_global(
                data_symbol(syms.size, bss, size_offset, 4, SymbolScope::Dynamic),
                format!("the size word of memory {k}"),
            )?;
            for export in &memory.exports {
                self.add_global(
                    data_symbol(self.names.export_size_symbol(export), bss, size_offset, 4, SymbolScope::Dynamic),
                    format!("the size word of export \"{export}\" of memory {k}"),
                )?;
            }
            self.memory_base.insert(k, base);
            self.memory_size.insert(k, size);
        }
        Ok(())
    }

    fn layout_globals(&mut self) -> Result<(), ElfError> {
        for (index, global) in self.env.globals.iter().enumerate() {
            let index = index as u32;
            if let Some(Import { module, name }) = &global.import {
                let id = self.undefined_symbol(self.names.import_symbol(module, name));
                self.globals.insert(index, id);
                continue;
            }
            // The reservation word of an imported table (`<mod>_<field>__max`).
            if let Some(&(_, t)) = self.env.imported_table_max.iter().find(|(g, _)| *g == index) {
                let max = self.names.table_symbols(self.env, t).and_then(|s| s.max).ok_or_else(|| {
                    ElfError::new(format!("global {index} stands for the reservation of table {t}, which is not imported"))
                })?;
                let id = self.undefined_symbol(max);
                self.globals.insert(index, id);
                continue;
            }
            let bytes = u64::from(global.ty.bytes());
            let bss = self.bss();
            let offset = self.obj.append_section_bss(bss, bytes, bytes);
            let id = self.obj.add_symbol(data_symbol(
                self.names.global_local(index),
                bss,
                offset,
                bytes,
                SymbolScope::Compilation,
            ));
            for export in &global.exports {
                self.add_global(
                    data_symbol(self.names.export_symbol(export), bss, offset, bytes, SymbolScope::Dynamic),
                    format!("the export \"{export}\" of global {index}"),
                )?;
            }
            self.globals.insert(index, id);
        }
        Ok(())
    }

    fn layout_rodata(&mut self) -> Result<(), ElfError> {
        let rodata = self.rodata();
        for (index, segment) in self.env.data.iter().enumerate() {
            let index = index as u32;
            let offset = self.obj.append_section_data(rodata, &segment.bytes, 4);
            let id = self.obj.add_symbol(data_symbol(
                self.names.data_local(index),
                rodata,
                offset,
                segment.bytes.len() as u64,
                SymbolScope::Compilation,
            ));
            self.data.insert(index, id);
        }

        let mut table = Vec::new();
        let mut table_relocs = Vec::new();
        for (k, memory) in self.env.memories.iter().enumerate() {
            let k = k as u32;
            let max = u32::try_from(memory.reserved_bytes).map_err(|_| {
                ElfError::new(format!("memory {k} reserves {} bytes, more than 4 GiB", memory.reserved_bytes))
            })?;
            if memory.import.is_none() {
                let offset = self.obj.append_section_data(rodata, &max.to_le_bytes(), 4);
                let name = self.names.memory_max(k);
                let id = self.add_global(
                    data_symbol(name, rodata, offset, 4, SymbolScope::Dynamic),
                    format!("the maximum of memory {k}"),
                )?;
                for export in &memory.exports {
                    self.add_global(
                        data_symbol(self.names.export_max_symbol(export), rodata, offset, 4, SymbolScope::Dynamic),
                        format!("the maximum of export \"{export}\" of memory {k}"),
                    )?;
                }
                self.memory_max.insert(k, id);
            }
            let entry = table.len() as u64;
            table.extend_from_slice(&[0; 8]);
            table.extend_from_slice(&max.to_le_bytes());
            table_relocs.push((entry, self.memory_base[&k]));
            table_relocs.push((entry + 4, self.memory_size[&k]));
        }
        let table_offset = self.obj.append_section_data(rodata, &table, 4);
        let name = self.names.memories_table();
        self.add_global(
            data_symbol(name, rodata, table_offset, table.len() as u64, SymbolScope::Dynamic),
            "the memory table".to_string(),
        )?;
        for (at, symbol) in table_relocs {
            self.add_relocation(rodata, table_offset + at, symbol, RelocKind::Abs32)?;
        }
        Ok(())
    }

    /// Tables. Imported: undefined references to the owner's entries and
    /// size word (`<mod>_<field>`, `<mod>_<field>__size`). Defined: the
    /// entries (written by `instantiate`) and the size word in `.bss`; an
    /// export adds global aliases `NAME_<export>` (entries) and
    /// `NAME_<export>__size`, and a `const uint32_t NAME_<export>__max` (the
    /// reservation in entries, which importers' `table.grow` reads).
    /// Element-segment images (`TableDecl::segment`): the segment's funcrefs
    /// in `.rodata` (descriptors must be laid out first), size word in `.bss`.
    fn layout_tables(&mut self) -> Result<(), ElfError> {
        for (t, table) in self.env.tables.iter().enumerate() {
            let t = t as u32;
            let syms = self.names.table_symbols(self.env, t).expect("table exists");
            if table.import.is_some() {
                let entries = self.undefined_symbol(syms.entries);
                let size = self.undefined_symbol(syms.size);
                self.tables.insert(t, entries);
                self.table_sizes.insert(t, size);
                continue;
            }
            let bytes = u64::from(table.reserved_entries) * 4;
            let (section, offset) = match table.segment {
                Some(e) => self.segment_image(t, e)?,
                None => {
                    let bss = self.bss();
                    (bss, self.obj.append_section_bss(bss, bytes.max(4), 4))
                }
            };
            let id = self.obj.add_symbol(data_symbol(syms.entries, section, offset, bytes, SymbolScope::Compilation));
            self.tables.insert(t, id);
            for export in &table.exports {
                self.add_global(
                    data_symbol(self.names.export_symbol(export), section, offset, bytes, SymbolScope::Dynamic),
                    format!("the export \"{export}\" of table {t}"),
                )?;
            }
            let bss = self.bss();
            let size_offset = self.obj.append_section_bss(bss, 4, 4);
            let size = self.add_global(
                data_symbol(syms.size, bss, size_offset, 4, SymbolScope::Dynamic),
                format!("the size word of table {t}"),
            )?;
            for export in &table.exports {
                self.add_global(
                    data_symbol(self.names.export_size_symbol(export), bss, size_offset, 4, SymbolScope::Dynamic),
                    format!("the size word of export \"{export}\" of table {t}"),
                )?;
            }
            self.table_sizes.insert(t, size);
            if !table.exports.is_empty() {
                let rodata = self.rodata();
                let max_offset = self.obj.append_section_data(rodata, &table.reserved_entries.to_le_bytes(), 4);
                for export in &table.exports {
                    self.add_global(
                        data_symbol(self.names.export_max_symbol(export), rodata, max_offset, 4, SymbolScope::Dynamic),
                        format!("the maximum of export \"{export}\" of table {t}"),
                    )?;
                }
            }
        }
        Ok(())
    }

    /// The `.rodata` entries of table `t`, the image of element segment
    /// `e`: one word per item, an ABS32 to the function's descriptor or 0.
    fn segment_image(&mut self, t: u32, e: u32) -> Result<(SectionId, u64), ElfError> {
        let segment = self
            .env
            .elements
            .get(e as usize)
            .ok_or_else(|| ElfError::new(format!("table {t} is the image of missing element segment {e}")))?;
        let rodata = self.rodata();
        let offset = self.obj.append_section_data(rodata, &vec![0; segment.items.len().max(1) * 4], 4);
        for (k, item) in segment.items.iter().enumerate() {
            match *item {
                ElemItem::Null => {}
                ElemItem::Func(f) => {
                    let descriptor = self.descriptors.get(&f).copied().ok_or_else(|| {
                        ElfError::new(format!("element segment {e} refers to function {f}, which has no descriptor"))
                    })?;
                    self.add_relocation(rodata, offset + 4 * k as u64, descriptor, RelocKind::Abs32)?;
                }
                ElemItem::GlobalGet(g) => {
                    return Err(ElfError::new(format!(
                        "element segment {e} reads global {g}: its image cannot be read-only"
                    )))
                }
            }
        }
        Ok((rodata, offset))
    }

    /// The weak type-id symbol of type index `n`, defined on first use.
    fn type_id(&mut self, n: u32) -> Result<SymbolId, String> {
        let missing = || format!("relocation to the type id of type {n}, but the module has {}", self.env.types.len());
        // An environment built without the module-level types (tests) spells
        // the IR signature: it has no references.
        let ty = match self.env.func_types.get(n as usize) {
            Some(ty) => ty.clone(),
            None => {
                let sig = self.env.types.get(n as usize).ok_or_else(missing)?;
                let value = |t: &bulkhead_ir::Type| match t {
                    bulkhead_ir::Type::I32 => Ok(ValueType::I32),
                    bulkhead_ir::Type::I64 => Ok(ValueType::I64),
                    bulkhead_ir::Type::F32 => Ok(ValueType::F32),
                    bulkhead_ir::Type::F64 => Ok(ValueType::F64),
                    bulkhead_ir::Type::Addr(_) => Err(format!("type {n} has an address type")),
                };
                FuncType {
                    params: sig.params.iter().map(value).collect::<Result<_, _>>()?,
                    results: sig.results.iter().map(value).collect::<Result<_, _>>()?,
                }
            }
        };
        let name = type_id_symbol(&ty, &self.env.func_types);
        if let Some(&id) = self.type_ids.get(&name) {
            return Ok(id);
        }
        let section = *self.types_section.get_or_insert_with(|| {
            self.obj.add_section(Vec::new(), b".rodata.bulkhead.types".to_vec(), SectionKind::ReadOnlyData)
        });
        // One distinct byte per signature: the address is the id.
        let offset = self.obj.append_section_data(section, &[0], 1);
        let id = self.obj.add_symbol(Symbol {
            name: name.clone().into_bytes(),
            value: offset,
            size: 1,
            kind: SymbolKind::Data,
            scope: SymbolScope::Dynamic,
            weak: true,
            section: SymbolSection::Section(section),
            flags: SymbolFlags::None,
        });
        self.type_ids.insert(name, id);
        Ok(id)
    }

    /// Descriptors `{ code | 1, type id }` of the functions whose funcref
    /// some code takes (`RelocTarget::FuncDescriptor`). The ABS32 to a
    /// Thumb function symbol sets bit 0 (ELF for the ARM architecture).
    fn layout_descriptors(&mut self) -> Result<(), ElfError> {
        let wanted: BTreeSet<u32> = self
            .items
            .iter()
            .flat_map(|i| i.code.relocs.iter())
            .filter_map(|r| match r.target {
                RelocTarget::FuncDescriptor(n) => Some(n),
                _ => None,
            })
            .chain(self.image_functions())
            .collect();
        for n in wanted {
            let decl = self.env.funcs.get(n as usize).ok_or_else(|| {
                ElfError::new(format!("descriptor of function {n}, but the module has {}", self.env.funcs.len()))
            })?;
            let type_index = decl.type_index;
            let code = self.target_symbol(&RelocTarget::Function(n)).map_err(ElfError::new)?;
            let type_id = self.type_id(type_index).map_err(ElfError::new)?;
            let rodata = self.rodata();
            let offset = self.obj.append_section_data(rodata, &[0; 8], 4);
            let id = self.obj.add_symbol(data_symbol(
                self.names.func_descriptor_local(n),
                rodata,
                offset,
                8,
                SymbolScope::Compilation,
            ));
            self.add_relocation(rodata, offset, code, RelocKind::Abs32)?;
            self.add_relocation(rodata, offset + 4, type_id, RelocKind::Abs32)?;
            self.descriptors.insert(n, id);
        }
        Ok(())
    }

    /// Functions named by element segments that have a read-only image.
    fn image_functions(&self) -> Vec<u32> {
        let env = self.env;
        env.tables
            .iter()
            .filter_map(|t| t.segment)
            .filter_map(|e| env.elements.get(e as usize))
            .flat_map(|seg| seg.items.iter())
            .filter_map(|item| match item {
                ElemItem::Func(f) => Some(*f),
                _ => None,
            })
            .collect()
    }

    fn add_relocation(
        &mut self,
        section: SectionId,
        offset: u64,
        symbol: SymbolId,
        kind: RelocKind,
    ) -> Result<(), ElfError> {
        self.obj
            .add_relocation(
                section,
                Relocation { offset, symbol, addend: 0, flags: RelocationFlags::Elf { r_type: reloc_type(kind) } },
            )
            .map_err(|e| ElfError::new(e.to_string()))
    }

    fn target_symbol(&mut self, target: &RelocTarget) -> Result<SymbolId, String> {
        let env = self.env;
        let missing =
            |what: &str, index: u32, count: usize| format!("relocation to {what} {index}, but the module has {count}");
        match *target {
            RelocTarget::Function(u32::MAX) => Ok(self.instantiate.expect("instantiate is laid out first")),
            RelocTarget::Function(index) => match env.funcs.get(index as usize) {
                None => Err(missing("function", index, env.funcs.len())),
                Some(decl) => match &decl.import {
                    Some(Import { module, name }) => Ok(self.undefined_symbol(self.names.import_symbol(module, name))),
                    None => Ok(self.functions[&index]),
                },
            },
            RelocTarget::MemoryBase(k) => {
                self.memory_base.get(&k).copied().ok_or_else(|| missing("memory", k, env.memories.len()))
            }
            RelocTarget::MemorySize(k) => {
                self.memory_size.get(&k).copied().ok_or_else(|| missing("the size of memory", k, env.memories.len()))
            }
            RelocTarget::Global(n) => {
                self.globals.get(&n).copied().ok_or_else(|| missing("global", n, env.globals.len()))
            }
            RelocTarget::DataSegment(n) => {
                self.data.get(&n).copied().ok_or_else(|| missing("data segment", n, env.data.len()))
            }
            RelocTarget::MemoryMax(k) => self
                .memory_max
                .get(&k)
                .copied()
                .ok_or_else(|| missing("the maximum of memory", k, env.memories.len())),
            RelocTarget::Table(t) => self.tables.get(&t).copied().ok_or_else(|| missing("table", t, env.tables.len())),
            RelocTarget::TableSize(t) => {
                self.table_sizes.get(&t).copied().ok_or_else(|| missing("the size of table", t, env.tables.len()))
            }
            RelocTarget::FuncDescriptor(n) => self
                .descriptors
                .get(&n)
                .copied()
                .ok_or_else(|| missing("the descriptor of function", n, env.funcs.len())),
            RelocTarget::TypeId(n) => self.type_id(n),
            RelocTarget::Runtime(name) => self
                .runtime
                .get(name)
                .copied()
                .ok_or_else(|| format!("relocation to runtime routine `{name}`, which the backend did not provide")),
            RelocTarget::StackLimit => Ok(self.undefined_symbol(SymbolNames::STACK_LIMIT.to_string())),
        }
    }

    fn add_text_relocations(&mut self) -> Result<(), ElfError> {
        let text = self.text;
        let items: Vec<(String, u32, &'a [Reloc])> =
            self.items.iter().map(|i| (i.what.clone(), i.offset, i.code.relocs.as_slice())).collect();
        for (what, base, relocs) in items {
            for reloc in relocs {
                let symbol = self
                    .target_symbol(&reloc.target)
                    .map_err(|m| ElfError::new(format!("{what}: at offset {:#x}: {m}", reloc.offset)))?;
                self.add_relocation(text, u64::from(base + reloc.offset), symbol, reloc.kind)?;
            }
        }
        for (offset, import) in std::mem::take(&mut self.thunks) {
            let symbol = self.undefined_symbol(import);
            self.add_relocation(text, u64::from(offset), symbol, RelocKind::ThumbJump24)?;
        }
        Ok(())
    }

    /// An import whose symbol this module defines itself would bind to the
    /// module's own definition (or clash at link time): reject it.
    fn check_undefined_names(&self) -> Result<(), ElfError> {
        for name in self.undefined.keys() {
            if let Some(what) = self.defined_globals.get(name) {
                return Err(ElfError::new(format!(
                    "the import symbol `{name}` is also defined by this module ({what})"
                )));
            }
        }
        Ok(())
    }
}

/// `$t`/`$d` mapping symbols for one text item, after validating its data ranges.
fn mapping_symbols(item: &TextItem) -> Result<Vec<(&'static str, u32)>, ElfError> {
    let len = item.code.code.len() as u32;
    let mut ranges = item.code.data_ranges.clone();
    ranges.sort_unstable();
    let mut out: Vec<(&'static str, u32)> = Vec::new();
    // End of the last data range; code resumes there.
    let mut pos = 0u32;
    for (start, end) in ranges {
        if start < pos || start >= end || end > len {
            return Err(ElfError::new(format!(
                "{}: data range [{start:#x}, {end:#x}) is empty, overlaps another or exceeds the {len}-byte code",
                item.what
            )));
        }
        if start > pos || out.is_empty() {
            if start > pos {
                out.push(("$t", item.offset + pos));
            }
            out.push(("$d", item.offset + start));
        }
        // Adjacent data ranges stay under one `$d`.
        pos = end;
    }
    if pos < len || out.is_empty() {
        out.push(("$t", item.offset + pos));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_alignment_is_the_mpu_region_size() {
        assert_eq!(memory_alignment(0), Some(32));
        assert_eq!(memory_alignment(1), Some(32));
        assert_eq!(memory_alignment(32), Some(32));
        assert_eq!(memory_alignment(33), Some(64));
        assert_eq!(memory_alignment(65536), Some(65536));
        assert_eq!(memory_alignment(65537), Some(131072));
        assert_eq!(memory_alignment(1 << 31), Some(1 << 31));
        assert_eq!(memory_alignment((1 << 31) + 1), None);
    }

    #[test]
    fn module_without_memories_still_has_a_table() {
        let env = ModuleEnv::default();
        let instantiate = CompiledFunction { code: vec![0x00, 0x20, 0x70, 0x47], ..Default::default() };
        let input = ObjectInput {
            name: "empty",
            env: &env,
            functions: &[],
            instantiate: &instantiate,
            runtime: &[],
            hard_float: false,
            arch: ArmArch::V7M,
        };
        let bytes = write_object(&input).unwrap();
        use object::{Object as _, ObjectSymbol as _};
        let file = object::File::parse(&*bytes).unwrap();
        let table = file.symbols().find(|s| s.name() == Ok("empty__memories")).unwrap();
        assert_eq!(table.size(), 0);
        let inst = file.symbols().find(|s| s.name() == Ok("empty__instantiate")).unwrap();
        assert_eq!(inst.address(), 1);
        assert!(!uses_float(&env));
    }
}
