//! The link-time checks of wasm instantiation: does every import of a module
//! find an export of the right kind and a compatible type?
//!
//! bulkhead links modules through ELF symbols (docs/embedder-abi.md), and
//! an ELF linker resolves names only: it would happily bind a function
//! import to an export of another type. Whoever links compiled modules
//! together (an embedder, the wast runner) runs [`check_imports`] on the
//! modules' [`ModuleEnv`]s first, which applies the wasm rules
//! ("unknown import", "incompatible import type").
//!
//! Limits are checked against the exporter's *declared* limits (its
//! minimum, not its current size, which only the running program knows):
//! a table or memory grown before the importer is instantiated may link in
//! wasm and still be refused here.

use crate::env::{FuncType, ModuleEnv, RefKind, RefType, ValueType};
use core::fmt;

/// Why an import does not link. `Display` starts with the wasm spec's
/// wording ("unknown import", "incompatible import type").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkError {
    /// No export of that name (of any kind) in the providing module, or no
    /// such module.
    UnknownImport { module: String, name: String },
    /// The export exists but its kind or type does not match.
    IncompatibleType { module: String, name: String, why: String },
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::UnknownImport { module, name } => write!(f, "unknown import {module}.{name}"),
            LinkError::IncompatibleType { module, name, why } => {
                write!(f, "incompatible import type for {module}.{name}: {why}")
            }
        }
    }
}

impl std::error::Error for LinkError {}

/// What an export of a module is, with its type.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Extern<'a> {
    Func(&'a FuncType),
    Global { ty: ValueType, mutable: bool },
    Memory { page_size_log2: u32, min: u64, max: Option<u64> },
    Table { elem: RefType, min: u64, max: Option<u64> },
}

impl Extern<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Extern::Func(_) => "function",
            Extern::Global { .. } => "global",
            Extern::Memory { .. } => "memory",
            Extern::Table { .. } => "table",
        }
    }
}

/// The export `name` of `env`, if any.
fn export<'a>(env: &'a ModuleEnv, name: &str) -> Option<Extern<'a>> {
    let has = |exports: &[String]| exports.iter().any(|e| e == name);
    if let Some((i, _)) = env.funcs.iter().enumerate().find(|(_, f)| has(&f.exports)) {
        return env.func_type(i as u32).map(Extern::Func);
    }
    if let Some(g) = env.globals.iter().find(|g| has(&g.exports)) {
        return Some(Extern::Global { ty: g.value_type, mutable: g.mutable });
    }
    if let Some(m) = env.memories.iter().find(|m| has(&m.exports)) {
        return Some(Extern::Memory { page_size_log2: m.page_size_log2, min: m.min_pages, max: m.max_pages });
    }
    if let Some(t) = env.tables.iter().find(|t| has(&t.exports)) {
        return Some(Extern::Table { elem: t.elem, min: t.min_entries.into(), max: t.max_entries.map(u64::from) });
    }
    None
}

/// The imports of `env`, in import order, as what they require.
fn imports(env: &ModuleEnv) -> Vec<(&str, &str, Extern<'_>)> {
    let mut out = Vec::new();
    for (i, f) in env.funcs.iter().enumerate() {
        if let (Some(imp), Some(ty)) = (&f.import, env.func_type(i as u32)) {
            out.push((imp.module.as_str(), imp.name.as_str(), Extern::Func(ty)));
        }
    }
    for g in &env.globals {
        if let Some(imp) = &g.import {
            out.push((imp.module.as_str(), imp.name.as_str(), Extern::Global { ty: g.value_type, mutable: g.mutable }));
        }
    }
    for m in &env.memories {
        if let Some(imp) = &m.import {
            let ext = Extern::Memory { page_size_log2: m.page_size_log2, min: m.min_pages, max: m.max_pages };
            out.push((imp.module.as_str(), imp.name.as_str(), ext));
        }
    }
    for t in &env.tables {
        if let Some(imp) = &t.import {
            let ext = Extern::Table { elem: t.elem, min: t.min_entries.into(), max: t.max_entries.map(u64::from) };
            out.push((imp.module.as_str(), imp.name.as_str(), ext));
        }
    }
    out
}

/// Checks every import of `importer` against the module `provider(name)`
/// returns for its import module (`None`: no such module). The first
/// problem is returned.
pub fn check_imports<'p>(
    importer: &ModuleEnv,
    provider: impl Fn(&str) -> Option<&'p ModuleEnv>,
) -> Result<(), LinkError> {
    for (module, name, wanted) in imports(importer) {
        let unknown = || LinkError::UnknownImport { module: module.to_string(), name: name.to_string() };
        let exporter = provider(module).ok_or_else(unknown)?;
        let found = export(exporter, name).ok_or_else(unknown)?;
        let incompatible =
            |why: String| LinkError::IncompatibleType { module: module.to_string(), name: name.to_string(), why };
        match (&wanted, &found) {
            (Extern::Func(want), Extern::Func(have)) => {
                // Function types without declared supertypes match only
                // structurally equal types.
                if type_spelling(want, &importer.func_types) != type_spelling(have, &exporter.func_types) {
                    return Err(incompatible(format!("expected a function of type {want}, found {have}")));
                }
            }
            (Extern::Global { ty: want, mutable: want_mut }, Extern::Global { ty: have, mutable: have_mut }) => {
                let fits = if *want_mut {
                    // Mutable globals are read and written: invariant.
                    *have_mut && same_value_type(*have, exporter, *want, importer)
                } else {
                    !*have_mut && value_subtype(*have, exporter, *want, importer)
                };
                if !fits {
                    let m = |mutable: bool| if mutable { "mut " } else { "" };
                    return Err(incompatible(format!(
                        "expected a global of type {}{want}, found {}{have}",
                        m(*want_mut),
                        m(*have_mut)
                    )));
                }
            }
            (
                Extern::Memory { page_size_log2: want_page, min: want_min, max: want_max },
                Extern::Memory { page_size_log2: have_page, min: have_min, max: have_max },
            ) => {
                if want_page != have_page {
                    return Err(incompatible(format!(
                        "expected pages of 2^{want_page} bytes, found 2^{have_page}"
                    )));
                }
                check_limits("memory", (*want_min, *want_max), (*have_min, *have_max)).map_err(incompatible)?;
            }
            (Extern::Table { elem: want, min: want_min, max: want_max }, Extern::Table { elem: have, min: have_min, max: have_max }) => {
                if !same_ref_type(*have, exporter, *want, importer) {
                    return Err(incompatible(format!("expected a table of {want}, found a table of {have}")));
                }
                check_limits("table", (*want_min, *want_max), (*have_min, *have_max)).map_err(incompatible)?;
            }
            _ => return Err(incompatible(format!("expected a {}, found a {}", wanted.kind(), found.kind()))),
        }
    }
    Ok(())
}

/// Limits `have` match `want`: at least the minimum, and within the
/// maximum if the importer declares one.
fn check_limits(what: &str, want: (u64, Option<u64>), have: (u64, Option<u64>)) -> Result<(), String> {
    if have.0 < want.0 {
        return Err(format!("expected a {what} of at least {}, found {}", want.0, have.0));
    }
    if let Some(want_max) = want.1 {
        match have.1 {
            None => return Err(format!("expected a {what} with a maximum of at most {want_max}, found none")),
            Some(have_max) if have_max > want_max => {
                return Err(format!("expected a {what} with a maximum of at most {want_max}, found {have_max}"))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn same_value_type(a: ValueType, a_env: &ModuleEnv, b: ValueType, b_env: &ModuleEnv) -> bool {
    match (a, b) {
        (ValueType::Ref(a), ValueType::Ref(b)) => same_ref_type(a, a_env, b, b_env),
        _ => a == b,
    }
}

fn same_ref_type(a: RefType, a_env: &ModuleEnv, b: RefType, b_env: &ModuleEnv) -> bool {
    a.nullable == b.nullable && same_heap(a.kind, a_env, b.kind, b_env)
}

fn same_heap(a: RefKind, a_env: &ModuleEnv, b: RefKind, b_env: &ModuleEnv) -> bool {
    match (a, b) {
        (RefKind::Typed(x), RefKind::Typed(y)) => {
            match (a_env.func_types.get(x as usize), b_env.func_types.get(y as usize)) {
                (Some(tx), Some(ty)) => type_spelling(tx, &a_env.func_types) == type_spelling(ty, &b_env.func_types),
                _ => false,
            }
        }
        _ => a == b,
    }
}

/// `sub` (a type of `sub_env`) is a subtype of `sup` (of `sup_env`):
/// numbers only of themselves; a reference if its nullability fits and its
/// heap type is the same or a typed function reference below `func`.
fn value_subtype(sub: ValueType, sub_env: &ModuleEnv, sup: ValueType, sup_env: &ModuleEnv) -> bool {
    match (sub, sup) {
        (ValueType::Ref(a), ValueType::Ref(b)) => {
            (b.nullable || !a.nullable)
                && (same_heap(a.kind, sub_env, b.kind, sup_env)
                    || matches!((a.kind, b.kind), (RefKind::Typed(_), RefKind::Func)))
        }
        _ => sub == sup,
    }
}

/// A spelling of a function type that is equal for structurally equal types
/// (typed references spell the type they refer to, recursively), and
/// different otherwise: one letter per value type (`i` i32, `l` i64, `f`
/// f32, `d` f64, `r` funcref, `R` `(ref func)`, `e` externref, `E` `(ref
/// extern)`) or `v` for an empty list, params and results joined by `_`; a
/// typed reference `(ref null $t)` / `(ref $t)` is `n` / `c`, then `$t`'s
/// spelling, then `Z`, and a reference back to a type being spelled
/// (recursive types) `S<depth>Z`. `types` are the module's types. The
/// embedder ABI's type-id symbols are `__bulkhead_type_<spelling>`.
pub fn type_spelling(ty: &FuncType, types: &[FuncType]) -> String {
    fn list(values: &[ValueType], types: &[FuncType], stack: &mut Vec<u32>, out: &mut String) {
        if values.is_empty() {
            out.push('v');
        }
        for t in values {
            let letter = match t {
                ValueType::I32 => 'i',
                ValueType::I64 => 'l',
                ValueType::F32 => 'f',
                ValueType::F64 => 'd',
                ValueType::Ref(RefType { kind: RefKind::Func, nullable: true }) => 'r',
                ValueType::Ref(RefType { kind: RefKind::Func, nullable: false }) => 'R',
                ValueType::Ref(RefType { kind: RefKind::Extern, nullable: true }) => 'e',
                ValueType::Ref(RefType { kind: RefKind::Extern, nullable: false }) => 'E',
                ValueType::Ref(RefType { kind: RefKind::Typed(n), nullable }) => {
                    out.push(if *nullable { 'n' } else { 'c' });
                    match stack.iter().rposition(|s| s == n) {
                        Some(p) => out.push_str(&format!("S{}", stack.len() - 1 - p)),
                        None => match types.get(*n as usize) {
                            Some(inner) => {
                                stack.push(*n);
                                func(inner, types, stack, out);
                                stack.pop();
                            }
                            // Validation rules this out; keep it distinct anyway.
                            None => out.push_str(&format!("T{n}")),
                        },
                    }
                    'Z'
                }
            };
            out.push(letter);
        }
    }
    fn func(ty: &FuncType, types: &[FuncType], stack: &mut Vec<u32>, out: &mut String) {
        list(&ty.params, types, stack, out);
        out.push('_');
        list(&ty.results, types, stack, out);
    }
    let mut out = String::new();
    func(ty, types, &mut Vec::new(), &mut out);
    out
}

impl fmt::Display for FuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |list: &[ValueType]| list.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ");
        write!(f, "[{}] -> [{}]", join(&self.params), join(&self.results))
    }
}
