//! Symbol names of the embedder ABI (docs/embedder-abi.md).
//!
//! This module is the single source of truth for every name a compiled
//! module exposes or references: the object writer, the facade, the test
//! tooling and the C header generator all call these functions, so a name
//! can never be spelled two ways.

use bulkhead_wasm::{FuncType, Import, ModuleEnv};
use core::fmt::Write as _;

/// Sanitizes a wasm name (export, import module or field) for use inside a
/// symbol: bytes in `[A-Za-z0-9]` are kept, and so is `_` unless it is the
/// first byte or follows another `_`; every other byte (including `$`
/// itself and each byte of a multi-byte UTF-8 character) becomes `$XX` with
/// two uppercase hex digits. The mapping is injective, so distinct wasm names
/// never collide after sanitization, and its output never starts with `_`
/// nor contains `__`: the double underscore after the module name is
/// reserved for bulkhead's own symbols (`NAME__mem0`, `NAME__instantiate`),
/// which therefore can never collide with an export.
pub fn sanitize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut previous: Option<u8> = None;
    for &byte in name.as_bytes() {
        let keep = byte.is_ascii_alphanumeric() || (byte == b'_' && previous.is_some_and(|p| p != b'_'));
        previous = Some(byte);
        if keep {
            out.push(byte as char);
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "${byte:02X}");
        }
    }
    out
}

/// The default module name for an input file stem: runs of bytes outside
/// `[A-Za-z0-9]` become one `_`, leading and trailing ones are dropped, and a
/// name that would not start with a letter gets an `m` prefix, so that the
/// result passes [`validate_module_name`].
pub fn module_name_from_stem(stem: &str) -> String {
    let mut name = String::with_capacity(stem.len() + 1);
    for b in stem.bytes() {
        if b.is_ascii_alphanumeric() {
            name.push(b as char);
        } else if !name.is_empty() && !name.ends_with('_') {
            name.push('_');
        }
    }
    while name.ends_with('_') {
        name.pop();
    }
    if !name.as_bytes().first().is_some_and(|b| b.is_ascii_alphabetic()) {
        name.insert(0, 'm');
    }
    name
}

/// Checks that `name` can be a module name: a C identifier that starts with
/// a letter and has no `__` and no trailing `_` (`[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*`),
/// so that every symbol derived from it is a C identifier too (apart from
/// `$` escapes in sanitized wasm names, which GCC accepts) and `NAME__` is a
/// prefix nothing but bulkhead's own symbols can have.
pub fn validate_module_name(name: &str) -> Result<(), String> {
    let bytes = name.as_bytes();
    let Some(&first) = bytes.first() else {
        return Err("the module name is empty".to_string());
    };
    if !first.is_ascii_alphabetic() {
        return Err(format!("module name `{name}` must start with a letter"));
    }
    if let Some(bad) = bytes.iter().find(|b| !(b.is_ascii_alphanumeric() || **b == b'_')) {
        return Err(format!("module name `{name}` contains {:?}; only [A-Za-z0-9_] are allowed", *bad as char));
    }
    if name.contains("__") || name.ends_with('_') {
        return Err(format!(
            "module name `{name}` must not contain `__` or end in `_` (`NAME__` prefixes bulkhead's own symbols)"
        ));
    }
    Ok(())
}

/// Symbols of one memory, resolved for defined and imported memories alike.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemorySymbols {
    /// First byte of the region.
    pub base: String,
    /// The `uint32_t` holding the current size in bytes.
    pub size: String,
    /// The `const uint32_t` holding the reserved bytes; `None` for imported
    /// memories (the defining module or the embedder owns that symbol).
    pub max: Option<String>,
    /// Whether the symbols are defined by this module (`false`: undefined
    /// references to an imported memory).
    pub defined: bool,
}

/// The type-id symbol of a function type: `__bulkhead_type_<spelling>`
/// ([`bulkhead_wasm::type_spelling`]: one letter per value type, params and
/// results joined by `_`), e.g. `(i32, i32) -> i32` is
/// `__bulkhead_type_ii_i` and `() -> ()` is `__bulkhead_type_v_v`. `types`
/// are the module's types (typed references spell the type they refer to).
/// Every module using the type defines the symbol weak, so the linker keeps
/// one definition and its address is a type id shared by all modules:
/// structurally equal types get equal ids.
pub fn type_id_symbol(ty: &FuncType, types: &[FuncType]) -> String {
    format!("__bulkhead_type_{}", bulkhead_wasm::type_spelling(ty, types))
}

/// Symbols of one table, resolved for defined and imported tables alike.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSymbols {
    /// The entries (`uint32_t[]`).
    pub entries: String,
    /// The `uint32_t` holding the current number of entries.
    pub size: String,
    /// The `const uint32_t` holding the reserved entries (what `table.grow`
    /// may reach): defined only for exported tables (`NAME_<export>__max`)
    /// and read by importers (`<mod>_<field>__max`); `None` for a defined
    /// table (its reservation is a constant in the code).
    pub max: Option<String>,
    pub defined: bool,
}

/// The names of a module's symbols. Cheap to clone; carries only the module
/// name, so it can be built before or without compiling anything.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SymbolNames {
    module: String,
}

impl SymbolNames {
    /// The embedder's `uint32_t` holding the lowest address the stack
    /// pointer may reach; every compiled function that uses stack checks
    /// it in its prologue and traps (code 9) below it (embedder ABI,
    /// "Stack limit"). One symbol shared by all modules of a program.
    pub const STACK_LIMIT: &'static str = "__bulkhead_stack_limit";

    /// `module` must be a C identifier (see [`validate_module_name`]).
    pub fn new(module: &str) -> Result<SymbolNames, String> {
        validate_module_name(module)?;
        Ok(SymbolNames { module: module.to_string() })
    }

    /// The module name (`NAME`), the prefix of every symbol it defines.
    pub fn module(&self) -> &str {
        &self.module
    }

    /// Global alias of an export (function, memory base or global storage):
    /// `NAME_<sanitized export>`.
    pub fn export_symbol(&self, export: &str) -> String {
        format!("{}_{}", self.module, sanitize(export))
    }

    /// Global alias of an exported memory's size word: `NAME_<export>__size`,
    /// the name a module importing that memory references.
    pub fn export_size_symbol(&self, export: &str) -> String {
        format!("{}_{}__size", self.module, sanitize(export))
    }

    /// Undefined symbol of an import `module.field`: `<sanitized module>_<sanitized field>`.
    /// The import module is not prefixed with `NAME`: a module importing
    /// `a.f` links against whatever defines `a_f`, e.g. module `a`'s export `f`.
    pub fn import_symbol(&self, module: &str, field: &str) -> String {
        format!("{}_{}", sanitize(module), sanitize(field))
    }

    /// Global alias of an exported memory's reservation word:
    /// `NAME_<export>__max`, the name a module importing that memory reads
    /// its reservation from.
    pub fn export_max_symbol(&self, export: &str) -> String {
        format!("{}_{}__max", self.module, sanitize(export))
    }

    /// Undefined symbol of an imported memory's reservation word (a
    /// `const uint32_t`, bytes): `<mod>_<field>__max`.
    pub fn import_max_symbol(&self, module: &str, field: &str) -> String {
        format!("{}__max", self.import_symbol(module, field))
    }

    /// Entries of defined table `t` (u32 funcrefs): local `NAME.t<t>`.
    pub fn table_local(&self, t: u32) -> String {
        format!("{}.t{t}", self.module)
    }

    /// Current number of entries of defined table `t`: `NAME__table<t>_size`.
    pub fn table_size(&self, t: u32) -> String {
        format!("{}__table{t}_size", self.module)
    }

    /// The symbols of table `t` of `env`: an imported table `mod.field`
    /// references `<mod>_<field>` (entries), `<mod>_<field>__size` and
    /// `<mod>_<field>__max`; a defined one is `NAME.t<t>` and
    /// `NAME__table<t>_size`. `None` if the module has no table `t`.
    pub fn table_symbols(&self, env: &ModuleEnv, t: u32) -> Option<TableSymbols> {
        let table = env.tables.get(t as usize)?;
        Some(match &table.import {
            Some(Import { module, name }) => TableSymbols {
                entries: self.import_symbol(module, name),
                size: self.import_size_symbol(module, name),
                max: Some(self.import_max_symbol(module, name)),
                defined: false,
            },
            None => TableSymbols { entries: self.table_local(t), size: self.table_size(t), max: None, defined: true },
        })
    }

    /// The read-only descriptor `{ code | 1, type id }` of function `index`
    /// (its funcref): local `NAME.fd<index>`.
    pub fn func_descriptor_local(&self, index: u32) -> String {
        format!("{}.fd{index}", self.module)
    }

    /// Undefined symbol of an imported memory's size word: `<mod>_<field>__size`.
    pub fn import_size_symbol(&self, module: &str, field: &str) -> String {
        format!("{}__size", self.import_symbol(module, field))
    }

    /// Local symbol of defined function `index`: `NAME.f<index>`.
    pub fn function_local(&self, index: u32) -> String {
        format!("{}.f{index}", self.module)
    }

    /// Local symbol of global `index`'s storage: `NAME.g<index>`.
    pub fn global_local(&self, index: u32) -> String {
        format!("{}.g{index}", self.module)
    }

    /// Local symbol of data segment `index`'s bytes: `NAME.d<index>`.
    pub fn data_local(&self, index: u32) -> String {
        format!("{}.d{index}", self.module)
    }

    /// Local symbol of a backend runtime routine: `NAME.rt.<name>`.
    pub fn runtime_local(&self, routine: &str) -> String {
        format!("{}.rt.{routine}", self.module)
    }

    /// Local symbol of the thunk that re-exports imported function `index`.
    pub fn reexport_thunk_local(&self, index: u32) -> String {
        format!("{}.f{index}.thunk", self.module)
    }

    /// Base of defined memory `k`: `NAME__mem<k>`.
    pub fn memory_base(&self, k: u32) -> String {
        format!("{}__mem{k}", self.module)
    }

    /// Current size in bytes of defined memory `k`: `NAME__mem<k>_size`.
    pub fn memory_size(&self, k: u32) -> String {
        format!("{}__mem{k}_size", self.module)
    }

    /// Reserved bytes of defined memory `k`: `NAME__mem<k>_max`.
    pub fn memory_max(&self, k: u32) -> String {
        format!("{}__mem{k}_max", self.module)
    }

    /// Section of defined memory `k`: `.bulkhead.mem.<k>`.
    pub fn memory_section(&self, k: u32) -> String {
        format!(".bulkhead.mem.{k}")
    }

    /// The table of all memories: `NAME__memories`.
    pub fn memories_table(&self) -> String {
        format!("{}__memories", self.module)
    }

    /// `int32_t NAME__instantiate(void)`.
    pub fn instantiate(&self) -> String {
        format!("{}__instantiate", self.module)
    }

    /// The symbols of memory `k` of `env`, for defined and imported memories.
    /// `None` if the module has no memory `k`.
    pub fn memory_symbols(&self, env: &ModuleEnv, k: u32) -> Option<MemorySymbols> {
        let memory = env.memories.get(k as usize)?;
        Some(match &memory.import {
            Some(Import { module, name }) => MemorySymbols {
                base: self.import_symbol(module, name),
                size: self.import_size_symbol(module, name),
                max: None,
                defined: false,
            },
            None => MemorySymbols {
                base: self.memory_base(k),
                size: self.memory_size(k),
                max: Some(self.memory_max(k)),
                defined: true,
            },
        })
    }

    /// The symbol a call to wasm function `index` of `env` resolves to: the
    /// import's undefined symbol or the local `NAME.f<index>`. `None` if the
    /// module has no such function.
    pub fn function_symbol(&self, env: &ModuleEnv, index: u32) -> Option<String> {
        let func = env.funcs.get(index as usize)?;
        Some(match &func.import {
            Some(Import { module, name }) => self.import_symbol(module, name),
            None => self.function_local(index),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_keeps_identifier_bytes_and_escapes_the_rest() {
        assert_eq!(sanitize("add_one"), "add_one");
        assert_eq!(sanitize("Abc09_"), "Abc09_");
        // No leading `_` and no `__` in the output: `NAME__` stays reserved.
        assert_eq!(sanitize("_start"), "$5Fstart");
        assert_eq!(sanitize("a__b"), "a_$5Fb");
        assert_eq!(sanitize("mem0"), "mem0");
        assert_eq!(sanitize("a.b"), "a$2Eb");
        assert_eq!(sanitize("$"), "$24");
        assert_eq!(sanitize("a-b c"), "a$2Db$20c");
        assert_eq!(sanitize(""), "");
        // Multi-byte UTF-8: each byte is escaped.
        assert_eq!(sanitize("é"), "$C3$A9");
    }

    #[test]
    fn type_id_symbols_spell_the_signature() {
        use bulkhead_wasm::{RefKind, RefType, ValueType::{self, *}};
        let sig = |params: &[ValueType], results: &[ValueType]| FuncType { params: params.to_vec(), results: results.to_vec() };
        assert_eq!(type_id_symbol(&sig(&[I32, I32], &[I32]), &[]), "__bulkhead_type_ii_i");
        assert_eq!(type_id_symbol(&sig(&[], &[]), &[]), "__bulkhead_type_v_v");
        assert_eq!(type_id_symbol(&sig(&[I64, F32, F64], &[I32, I64]), &[]), "__bulkhead_type_lfd_il");
        // References are distinct from the i32 that carries them, and
        // nullability is part of the type.
        let non_null_func = Ref(RefType { kind: RefKind::Func, nullable: false });
        let non_null_extern = Ref(RefType { kind: RefKind::Extern, nullable: false });
        assert_eq!(
            type_id_symbol(&sig(&[Ref(RefType::FUNCREF), non_null_func], &[Ref(RefType::EXTERNREF), non_null_extern]), &[]),
            "__bulkhead_type_rR_eE"
        );
        // Parameters and results never run together.
        assert_ne!(type_id_symbol(&sig(&[I32], &[]), &[]), type_id_symbol(&sig(&[], &[I32]), &[]));
        // Typed references spell the referenced type, whatever its index;
        // a self-reference spells its depth.
        let typed = |n: u32, nullable: bool| Ref(RefType { kind: RefKind::Typed(n), nullable });
        let types = [sig(&[I32], &[]), sig(&[], &[]), sig(&[typed(2, true)], &[])];
        assert_eq!(type_id_symbol(&sig(&[typed(0, true)], &[typed(1, false)]), &types), "__bulkhead_type_ni_vZ_cv_vZ");
        let other_order = [sig(&[], &[]), sig(&[I32], &[])];
        assert_eq!(
            type_id_symbol(&sig(&[typed(0, true)], &[]), &types),
            type_id_symbol(&sig(&[typed(1, true)], &[]), &other_order)
        );
        assert_eq!(type_id_symbol(&types[2], &types), "__bulkhead_type_nnS0Z_vZ_v");
        let n = SymbolNames::new("m").unwrap();
        assert_eq!(n.import_max_symbol("a", "mem"), "a_mem__max");
        assert_eq!(n.export_max_symbol("mem"), "m_mem__max");
        assert_eq!(n.table_local(1), "m.t1");
        assert_eq!(n.table_size(1), "m__table1_size");
        assert_eq!(n.func_descriptor_local(3), "m.fd3");
    }

    #[test]
    fn table_symbols_follow_the_abi() {
        use bulkhead_wasm::{ElemItem, RefType, TableDecl};
        let table = |import: Option<Import>| TableDecl {
            elem: RefType::FUNCREF,
            init: ElemItem::Null,
            min_entries: 1,
            max_entries: None,
            reserved_entries: 1,
            import,
            exports: Vec::new(),
            segment: None,
        };
        let env = ModuleEnv {
            tables: vec![table(Some(Import { module: "other".into(), name: "tab-1".into() })), table(None)],
            ..ModuleEnv::default()
        };
        let n = SymbolNames::new("m").unwrap();
        let imported = n.table_symbols(&env, 0).unwrap();
        assert_eq!(
            (imported.entries.as_str(), imported.size.as_str(), imported.max.as_deref(), imported.defined),
            ("other_tab$2D1", "other_tab$2D1__size", Some("other_tab$2D1__max"), false)
        );
        let defined = n.table_symbols(&env, 1).unwrap();
        assert_eq!((defined.entries.as_str(), defined.size.as_str(), defined.max, defined.defined), ("m.t1", "m__table1_size", None, true));
        assert!(n.table_symbols(&env, 2).is_none());
    }

    #[test]
    fn sanitize_is_injective_on_tricky_pairs() {
        // `$` itself is escaped, so an escape sequence in the input cannot
        // imitate an escaped byte.
        assert_ne!(sanitize("$2E"), sanitize("."));
        assert_ne!(sanitize("a_b"), sanitize("a.b"));
        assert_ne!(sanitize("_"), sanitize("$5F"));
        assert_ne!(sanitize("a__b"), sanitize("a_$5Fb"));
    }

    #[test]
    fn exports_never_collide_with_bulkhead_symbols() {
        let n = SymbolNames::new("m").unwrap();
        for export in ["mem0", "_mem0", "mem0_size", "_instantiate", "instantiate", "memories", "_memories", "__mem0"] {
            let sym = n.export_symbol(export);
            for own in [n.memory_base(0), n.memory_size(0), n.memory_max(0), n.memories_table(), n.instantiate()] {
                assert_ne!(sym, own, "export {export:?}");
            }
            assert!(!sym.starts_with("m__"), "{sym}");
        }
    }

    #[test]
    fn module_names() {
        assert_eq!(module_name_from_stem("two-memories"), "two_memories");
        assert_eq!(module_name_from_stem("2mem"), "m2mem");
        assert_eq!(module_name_from_stem(""), "m");
        assert_eq!(module_name_from_stem("__a--b_"), "a_b");
        for stem in ["two-memories", "2mem", "", "__a--b_", "_", "x__y"] {
            assert!(validate_module_name(&module_name_from_stem(stem)).is_ok(), "{stem:?}");
        }
        assert!(validate_module_name("two_memories").is_ok());
        assert!(validate_module_name("_x1").is_err());
        assert!(validate_module_name("a__b").is_err());
        assert!(validate_module_name("a_").is_err());
        assert!(validate_module_name("").is_err());
        assert!(validate_module_name("1x").is_err());
        assert!(validate_module_name("a.b").is_err());
    }

    #[test]
    fn symbol_names_follow_the_abi() {
        let n = SymbolNames::new("m").unwrap();
        assert_eq!(n.export_symbol("run.fast"), "m_run$2Efast");
        assert_eq!(n.import_symbol("env", "log-it"), "env_log$2Dit");
        assert_eq!(n.import_size_symbol("a", "mem"), "a_mem__size");
        assert_eq!(n.export_size_symbol("mem"), "m_mem__size");
        assert_eq!(n.function_local(3), "m.f3");
        assert_eq!(n.global_local(0), "m.g0");
        assert_eq!(n.data_local(1), "m.d1");
        assert_eq!(n.runtime_local("memmove"), "m.rt.memmove");
        assert_eq!(n.memory_base(1), "m__mem1");
        assert_eq!(n.memory_size(1), "m__mem1_size");
        assert_eq!(n.memory_max(1), "m__mem1_max");
        assert_eq!(n.memory_section(1), ".bulkhead.mem.1");
        assert_eq!(n.memories_table(), "m__memories");
        assert_eq!(n.instantiate(), "m__instantiate");
        assert!(SymbolNames::new("bad name").is_err());
    }
}
