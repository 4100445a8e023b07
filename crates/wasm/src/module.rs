//! Module-level sections → [`ModuleEnv`]. Runs after validation, so index
//! spaces and types are consistent; what is left to report is what bulkhead
//! does not support and memory reservations that cannot be honoured.

use crate::env::*;
use crate::{BoundsMode, TranslateOptions, WasmError};
use bulkhead_ir::{Signature, Type};
use wasmparser::{ExternalKind, FunctionBody, Operator, Parser, Payload, TypeRef, ValType};

pub(crate) struct ParsedModule<'a> {
    pub env: ModuleEnv,
    /// Bodies of the defined functions, in index order.
    pub bodies: Vec<FunctionBody<'a>>,
}

/// Largest reservation a memory may have: a 32-bit MCU address space cannot
/// hold more than 2 GiB of RAM in one region (and `memory.grow` arithmetic
/// relies on sizes fitting in 31 bits).
pub(crate) const MAX_RESERVED_BYTES: u64 = 1 << 31;

/// The module-level value type of `t`, if bulkhead supports it: numbers and
/// the abstract `func`/`extern` references (nullable or not).
pub(crate) fn value_type(t: ValType) -> Option<ValueType> {
    match t {
        ValType::I32 => Some(ValueType::I32),
        ValType::I64 => Some(ValueType::I64),
        ValType::F32 => Some(ValueType::F32),
        ValType::F64 => Some(ValueType::F64),
        ValType::Ref(r) => ref_type(r).map(ValueType::Ref),
        ValType::V128 => None,
    }
}

/// `funcref`/`externref`, typed function references `(ref null $t)` and
/// their non-null forms; GC types (and the bottom types) are not supported.
pub(crate) fn ref_type(r: wasmparser::RefType) -> Option<RefType> {
    use wasmparser::{AbstractHeapType, HeapType, UnpackedIndex};
    let kind = match r.heap_type() {
        HeapType::Abstract { shared: false, ty: AbstractHeapType::Func } => RefKind::Func,
        HeapType::Abstract { shared: false, ty: AbstractHeapType::Extern } => RefKind::Extern,
        // GC types are refused earlier, so a concrete type is a function type.
        HeapType::Concrete(UnpackedIndex::Module(n)) => RefKind::Typed(n),
        _ => return None,
    };
    Some(RefType { kind, nullable: r.is_nullable() })
}

/// How the IR carries a value of type `t` (references as i32).
pub(crate) fn val_type(t: ValType) -> Option<Type> {
    value_type(t).map(ValueType::ir_type)
}

pub(crate) fn val_type_name(t: ValType) -> String {
    match t {
        ValType::I32 => "i32".into(),
        ValType::I64 => "i64".into(),
        ValType::F32 => "f32".into(),
        ValType::F64 => "f64".into(),
        ValType::V128 => "v128".into(),
        ValType::Ref(r) => format!("{r}"),
    }
}

fn err<T>(e: wasmparser::BinaryReaderError) -> Result<T, WasmError> {
    Err(WasmError::from_parser(e))
}

pub(crate) fn parse_module<'a>(wasm: &'a [u8], opts: &TranslateOptions) -> Result<ParsedModule<'a>, WasmError> {
    let mut env = ModuleEnv::default();
    let mut bodies = Vec::new();

    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(WasmError::from_parser)?;
        match payload {
            Payload::TypeSection(reader) => {
                let start = reader.range().start;
                for (i, ty) in reader.into_iter_err_on_gc_types().enumerate() {
                    let ty = ty.map_err(WasmError::from_parser)?;
                    let mut func_type = FuncType::default();
                    for (list, out) in [(ty.params(), &mut func_type.params), (ty.results(), &mut func_type.results)] {
                        for &t in list {
                            match value_type(t) {
                                Some(t) => out.push(t),
                                None => {
                                    return Err(WasmError::at(
                                        format!("unsupported value type {} in type {i}", val_type_name(t)),
                                        start,
                                    ))
                                }
                            }
                        }
                    }
                    env.types.push(func_type.signature());
                    env.func_types.push(func_type);
                }
            }
            Payload::ImportSection(reader) => {
                for item in reader.into_imports_with_offsets() {
                    let (offset, import) = item.map_err(WasmError::from_parser)?;
                    let imp = Import { module: import.module.to_string(), name: import.name.to_string() };
                    match import.ty {
                        TypeRef::Func(type_index) | TypeRef::FuncExact(type_index) => {
                            let sig = lookup_type(&env, type_index, offset)?;
                            env.funcs.push(FuncDecl { sig, type_index, import: Some(imp), exports: Vec::new() });
                            env.num_imported_funcs += 1;
                        }
                        TypeRef::Memory(mt) => {
                            let decl = memory_decl(&mt, env.memories.len() as u32, opts, offset, Some(imp))?;
                            env.memories.push(decl);
                        }
                        TypeRef::Global(gt) => {
                            let value_type = global_type(gt.content_type, env.globals.len() as u32, offset)?;
                            env.globals.push(GlobalDecl {
                                ty: value_type.ir_type(),
                                value_type,
                                mutable: gt.mutable,
                                init: None,
                                import: Some(imp),
                                exports: Vec::new(),
                            });
                        }
                        TypeRef::Table(ty) => {
                            let index = env.tables.len() as u32;
                            let table = wasmparser::Table { ty, init: wasmparser::TableInit::RefNull };
                            env.tables.push(table_decl(&table, index, opts, offset, Some(imp))?);
                        }
                        TypeRef::Tag(_) => {
                            return Err(WasmError::at(
                                format!("unsupported: tag import {}.{} (exceptions)", import.module, import.name),
                                offset,
                            ))
                        }
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for item in reader.into_iter_with_offsets() {
                    let (offset, type_index) = item.map_err(WasmError::from_parser)?;
                    let sig = lookup_type(&env, type_index, offset)?;
                    env.funcs.push(FuncDecl { sig, type_index, import: None, exports: Vec::new() });
                }
            }
            Payload::TableSection(reader) => {
                for item in reader.into_iter_with_offsets() {
                    let (offset, table) = item.map_err(WasmError::from_parser)?;
                    let index = env.tables.len() as u32;
                    env.tables.push(table_decl(&table, index, opts, offset, None)?);
                }
            }
            Payload::MemorySection(reader) => {
                for item in reader.into_iter_with_offsets() {
                    let (offset, mt) = item.map_err(WasmError::from_parser)?;
                    let decl = memory_decl(&mt, env.memories.len() as u32, opts, offset, None)?;
                    env.memories.push(decl);
                }
            }
            Payload::TagSection(reader) => {
                return Err(WasmError::at("unsupported: tag section (exceptions)", reader.range().start));
            }
            Payload::GlobalSection(reader) => {
                for item in reader.into_iter_with_offsets() {
                    let (offset, g) = item.map_err(WasmError::from_parser)?;
                    let index = env.globals.len() as u32;
                    let value_type = global_type(g.ty.content_type, index, offset)?;
                    let init = const_expr(&g.init_expr, &format!("initializer of global {index}"))?;
                    env.globals.push(GlobalDecl {
                        ty: value_type.ir_type(),
                        value_type,
                        mutable: g.ty.mutable,
                        init: Some(init),
                        import: None,
                        exports: Vec::new(),
                    });
                }
            }
            Payload::ExportSection(reader) => {
                for item in reader.into_iter_with_offsets() {
                    let (offset, export) = item.map_err(WasmError::from_parser)?;
                    let name = export.name.to_string();
                    let index = export.index as usize;
                    let missing = || WasmError::at(format!("export {name:?} refers to a missing item"), offset);
                    match export.kind {
                        ExternalKind::Func | ExternalKind::FuncExact => {
                            env.funcs.get_mut(index).ok_or_else(missing)?.exports.push(name)
                        }
                        ExternalKind::Memory => env.memories.get_mut(index).ok_or_else(missing)?.exports.push(name),
                        ExternalKind::Global => env.globals.get_mut(index).ok_or_else(missing)?.exports.push(name),
                        ExternalKind::Table => env.tables.get_mut(index).ok_or_else(missing)?.exports.push(name),
                        ExternalKind::Tag => {
                            return Err(WasmError::at(format!("unsupported: tag export {name:?} (exceptions)"), offset))
                        }
                    }
                }
            }
            Payload::StartSection { func, .. } => env.start = Some(func),
            Payload::ElementSection(reader) => {
                for item in reader.into_iter_with_offsets() {
                    let (offset, elem) = item.map_err(WasmError::from_parser)?;
                    let index = env.elements.len() as u32;
                    env.elements.push(elem_segment(elem, index, offset)?);
                }
            }
            Payload::DataSection(reader) => {
                for item in reader {
                    let data = item.map_err(WasmError::from_parser)?;
                    let index = env.data.len();
                    let kind = match data.kind {
                        wasmparser::DataKind::Passive => DataKind::Passive,
                        wasmparser::DataKind::Active { memory_index, offset_expr } => {
                            let offset = const_expr(&offset_expr, &format!("offset of data segment {index}"))?;
                            DataKind::Active { memory: memory_index, offset }
                        }
                    };
                    env.data.push(DataSegment { kind, bytes: data.data.to_vec() });
                }
            }
            Payload::CodeSectionEntry(body) => bodies.push(body),
            _ => {}
        }
    }
    if bodies.len() + env.num_imported_funcs as usize != env.funcs.len() {
        return Err(WasmError::new("function and code section sizes disagree"));
    }
    Ok(ParsedModule { env, bodies })
}

fn lookup_type(env: &ModuleEnv, type_index: u32, offset: u64) -> Result<Signature, WasmError> {
    env.types
        .get(type_index as usize)
        .cloned()
        .ok_or_else(|| WasmError::at(format!("type index {type_index} out of range"), offset))
}

fn global_type(t: ValType, index: u32, offset: u64) -> Result<ValueType, WasmError> {
    value_type(t).ok_or_else(|| WasmError::at(format!("unsupported global type {} (global {index})", val_type_name(t)), offset))
}

/// The reservation rules: an explicit per-memory `memory_max` wins (it must
/// lie between the minimum and the declared maximum), then the declared
/// maximum, then `default_memory_max` (raised to the minimum), then the
/// minimum. The result must fit a 32-bit MCU address space.
fn memory_decl(
    mt: &wasmparser::MemoryType,
    index: u32,
    opts: &TranslateOptions,
    offset: u64,
    import: Option<Import>,
) -> Result<MemoryDecl, WasmError> {
    if mt.memory64 {
        // A minimum beyond the 32-bit address space can never be placed,
        // whatever support for 64-bit indices bulkhead grows.
        let page_size = 1u128 << mt.page_size_log2.unwrap_or(16);
        let min_bytes = u128::from(mt.initial) * page_size;
        if min_bytes > u128::from(MAX_RESERVED_BYTES) {
            return Err(WasmError::at(
                format!(
                    "memory {index} would reserve at least {min_bytes} bytes (its minimum), more than the \
                     {MAX_RESERVED_BYTES} bytes a 32-bit microcontroller address space can hold"
                ),
                offset,
            ));
        }
        return Err(WasmError::at(format!("unsupported: 64-bit memory {index}"), offset));
    }
    if mt.shared {
        return Err(WasmError::at(format!("unsupported: shared memory {index}"), offset));
    }
    let page_size_log2 = mt.page_size_log2.unwrap_or(16);
    if page_size_log2 > 16 {
        return Err(WasmError::at(format!("unsupported page size 2^{page_size_log2} of memory {index}"), offset));
    }
    let page_size = 1u64 << page_size_log2;
    // Validation bounds 32-bit memory sizes by 2^32 bytes, so these products
    // cannot overflow; saturate anyway rather than trust it blindly.
    let min_bytes = mt.initial.saturating_mul(page_size);
    let max_bytes = mt.maximum.map(|m| m.saturating_mul(page_size));
    let override_bytes = opts.memory_max.iter().rev().find(|(k, _)| *k == index).map(|&(_, b)| b);
    let reserved = if let Some(requested) = override_bytes {
        // A partial page can never be used.
        let bytes = requested & !(page_size - 1);
        if bytes < min_bytes {
            return Err(WasmError::at(
                format!(
                    "--memory-max of {requested} bytes for memory {index} is below its minimum size of {min_bytes} bytes"
                ),
                offset,
            ));
        }
        if let Some(max) = max_bytes {
            if bytes > max {
                return Err(WasmError::at(
                    format!(
                        "--memory-max of {requested} bytes for memory {index} is above its declared maximum of {max} bytes"
                    ),
                    offset,
                ));
            }
        }
        bytes
    } else if let Some(max) = max_bytes {
        max
    } else if let Some(default) = opts.default_memory_max {
        (default & !(page_size - 1)).max(min_bytes)
    } else {
        min_bytes
    };
    if reserved > MAX_RESERVED_BYTES {
        return Err(WasmError::at(
            format!(
                "memory {index} would reserve {reserved} bytes, more than the {MAX_RESERVED_BYTES} bytes a 32-bit \
                 microcontroller address space can hold; pass a smaller --memory-max for it (at least its minimum \
                 of {min_bytes} bytes)"
            ),
            offset,
        ));
    }
    Ok(MemoryDecl {
        page_size_log2,
        min_pages: mt.initial,
        max_pages: mt.maximum,
        reserved_bytes: reserved,
        mask_span: (opts.bounds == BoundsMode::Mask && import.is_none()).then(|| reserved.max(32).next_power_of_two()),
        import,
        exports: Vec::new(),
    })
}

/// Largest table bulkhead reserves, in entries (4 bytes each).
pub(crate) const MAX_TABLE_ENTRIES: u64 = 1 << 20;

/// A table of `funcref`/`externref` (nullable or not) with an initializer
/// that is `ref.func`, `ref.null` or `global.get`, if any. The reservation
/// rules mirror those of memories: an explicit `table_max` entry (between
/// the minimum and the declared maximum), else the declared maximum, else
/// `default_table_max` (raised to the minimum), else the minimum; at most
/// [`MAX_TABLE_ENTRIES`]. An imported table's reservation is its owner's
/// (read at run time); the value computed here only bounds the importer's
/// view.
fn table_decl(
    table: &wasmparser::Table<'_>,
    index: u32,
    opts: &TranslateOptions,
    offset: u64,
    import: Option<Import>,
) -> Result<TableDecl, WasmError> {
    let ty = &table.ty;
    if ty.table64 {
        return Err(WasmError::at(format!("unsupported: 64-bit table {index}"), offset));
    }
    if ty.shared {
        return Err(WasmError::at(format!("unsupported: shared table {index}"), offset));
    }
    let elem = ref_type(ty.element_type).ok_or_else(|| {
        WasmError::at(
            format!(
                "unsupported: table {index} of type {} (only funcref and externref tables are supported)",
                ty.element_type
            ),
            offset,
        )
    })?;
    let init = match &table.init {
        wasmparser::TableInit::RefNull => ElemItem::Null,
        wasmparser::TableInit::Expr(expr) => {
            elem_item(expr, offset).map_err(|e| WasmError { message: format!("{} (initializer of table {index})", e.message), ..e })?
        }
    };
    let too_big = |entries: u64| {
        WasmError::at(
            format!(
                "table {index} would reserve {entries} entries, more than the {MAX_TABLE_ENTRIES} bulkhead reserves \
                 at most; pass a smaller --table-max {index}=N (at least its minimum of {} entries)",
                ty.initial
            ),
            offset,
        )
    };
    if ty.initial > MAX_TABLE_ENTRIES {
        return Err(too_big(ty.initial));
    }
    let min = ty.initial as u32;
    let max = ty.maximum;
    let requested = opts.table_max.iter().rev().find(|(t, _)| *t == index).map(|&(_, n)| n);
    let reserved: u64 = if let Some(n) = requested {
        if n < min {
            return Err(WasmError::at(
                format!("--table-max of {n} entries for table {index} is below its minimum size of {min} entries"),
                offset,
            ));
        }
        if max.is_some_and(|m| u64::from(n) > m) {
            return Err(WasmError::at(
                format!(
                    "--table-max of {n} entries for table {index} is above its declared maximum of {} entries",
                    max.unwrap_or_default()
                ),
                offset,
            ));
        }
        n.into()
    } else if let Some(m) = max {
        m
    } else if let Some(default) = opts.default_table_max {
        u64::from(default.max(min))
    } else {
        min.into()
    };
    // An import's reservation is its owner's business: clamp rather than
    // refuse (the importer never writes past the owner's size).
    let reserved = if import.is_some() { reserved.min(MAX_TABLE_ENTRIES) } else { reserved };
    if reserved > MAX_TABLE_ENTRIES {
        return Err(too_big(reserved));
    }
    Ok(TableDecl {
        elem,
        init,
        min_entries: min,
        max_entries: max.map(|m| u32::try_from(m).unwrap_or(u32::MAX)),
        reserved_entries: reserved as u32,
        import,
        exports: Vec::new(),
        segment: None,
    })
}

/// An element segment of function references (indices, `ref.func` or
/// `ref.null func` expressions).
fn elem_segment(elem: wasmparser::Element<'_>, index: u32, offset: u64) -> Result<ElemSegment, WasmError> {
    let kind = match elem.kind {
        wasmparser::ElementKind::Passive => ElemKind::Passive,
        wasmparser::ElementKind::Declared => ElemKind::Declared,
        wasmparser::ElementKind::Active { table_index, offset_expr } => ElemKind::Active {
            table: table_index.unwrap_or(0),
            offset: const_expr(&offset_expr, &format!("offset of element segment {index}"))?,
        },
    };
    let mut items = Vec::new();
    let elem_type = match &elem.items {
        wasmparser::ElementItems::Functions(_) => RefType::FUNCREF,
        wasmparser::ElementItems::Expressions(ty, _) => ref_type(*ty).ok_or_else(|| {
            WasmError::at(
                format!("unsupported: element segment {index} of type {ty} (only funcref and externref segments are supported)"),
                offset,
            )
        })?,
    };
    match elem.items {
        wasmparser::ElementItems::Functions(reader) => {
            for f in reader {
                items.push(ElemItem::Func(f.map_err(WasmError::from_parser)?));
            }
        }
        wasmparser::ElementItems::Expressions(_, reader) => {
            for expr in reader.into_iter_with_offsets() {
                let (at, expr) = expr.map_err(WasmError::from_parser)?;
                items.push(elem_item(&expr, at).map_err(|e| WasmError {
                    message: format!("{} (element segment {index})", e.message),
                    ..e
                })?);
            }
        }
    }
    Ok(ElemSegment { kind, elem: elem_type, items })
}

/// `ref.func n`, `ref.null` or `global.get g`. The caller names the
/// expression.
fn elem_item(expr: &wasmparser::ConstExpr<'_>, offset: u64) -> Result<ElemItem, WasmError> {
    let mut reader = expr.get_operators_reader();
    let first = reader.read().map_err(WasmError::from_parser)?;
    let item = match first {
        Operator::RefFunc { function_index } => ElemItem::Func(function_index),
        Operator::RefNull { .. } => ElemItem::Null,
        Operator::GlobalGet { global_index } => ElemItem::GlobalGet(global_index),
        other => {
            return Err(WasmError::at(
                format!("unsupported operator {} in a reference expression", crate::func::operator_name(&other)),
                offset,
            ))
        }
    };
    match reader.read().map_err(WasmError::from_parser)? {
        Operator::End => Ok(item),
        _ => Err(WasmError::at("unsupported constant expression (more than one operator)", offset)),
    }
}

/// Decodes a constant expression. `what` names it for error messages.
pub(crate) fn const_expr(expr: &wasmparser::ConstExpr<'_>, what: &str) -> Result<ConstExpr, WasmError> {
    let mut reader = expr.get_operators_reader();
    let mut ops = Vec::new();
    loop {
        let (op, offset) = match reader.read_with_offset() {
            Ok(x) => x,
            Err(e) => return err(e),
        };
        let c = match op {
            Operator::End => break,
            Operator::I32Const { value } => ConstOp::I32(value),
            Operator::I64Const { value } => ConstOp::I64(value),
            Operator::GlobalGet { global_index } => ConstOp::GlobalGet(global_index),
            Operator::RefNull { .. } | Operator::RefFunc { .. } if ops.is_empty() => {
                let rest = reader.read().map_err(WasmError::from_parser)?;
                if !matches!(rest, Operator::End) {
                    return Err(WasmError::at(format!("unsupported constant expression in {what}"), offset));
                }
                return Ok(match op {
                    Operator::RefFunc { function_index } => ConstExpr::RefFunc(function_index),
                    _ => ConstExpr::RefNull,
                });
            }
            Operator::I32Add => ConstOp::I32Add,
            Operator::I32Sub => ConstOp::I32Sub,
            Operator::I32Mul => ConstOp::I32Mul,
            Operator::I64Add => ConstOp::I64Add,
            Operator::I64Sub => ConstOp::I64Sub,
            Operator::I64Mul => ConstOp::I64Mul,
            Operator::F32Const { value } if ops.is_empty() => {
                let rest = reader.read().map_err(WasmError::from_parser)?;
                if !matches!(rest, Operator::End) {
                    return Err(WasmError::at(format!("unsupported constant expression in {what}"), offset));
                }
                return Ok(ConstExpr::F32(value.bits()));
            }
            Operator::F64Const { value } if ops.is_empty() => {
                let rest = reader.read().map_err(WasmError::from_parser)?;
                if !matches!(rest, Operator::End) {
                    return Err(WasmError::at(format!("unsupported constant expression in {what}"), offset));
                }
                return Ok(ConstExpr::F64(value.bits()));
            }
            other => {
                return Err(WasmError::at(
                    format!("unsupported operator {} in {what}", crate::func::operator_name(&other)),
                    offset,
                ))
            }
        };
        ops.push(c);
    }
    Ok(match ops.as_slice() {
        [ConstOp::I32(v)] => ConstExpr::I32(*v),
        [ConstOp::I64(v)] => ConstExpr::I64(*v),
        [ConstOp::GlobalGet(g)] => ConstExpr::GlobalGet(*g),
        _ => ConstExpr::Extended(ops),
    })
}

/// Calls `visit` with every operator of every body and its byte offset.
fn for_each_operator(bodies: &[FunctionBody<'_>], mut visit: impl FnMut(Operator<'_>, u64)) -> Result<(), WasmError> {
    for body in bodies {
        let mut reader = body.get_operators_reader().map_err(WasmError::from_parser)?;
        while !reader.eof() {
            let (op, offset) = reader.read_with_offset().map_err(WasmError::from_parser)?;
            visit(op, offset);
        }
    }
    Ok(())
}

/// `data.drop` needs run-time state: for every passive segment that some
/// function drops, a synthesized mutable i32 global holding the segment's
/// current length (its byte length, set by `instantiate`; 0 once dropped).
/// These globals come after the module's own, have no import and no export,
/// and are ordinary globals for every later stage. Returns data index →
/// global index. Segments never dropped keep a static length, and active
/// segments are always of length 0 once instantiation is over, so neither
/// needs a global.
pub(crate) fn add_segment_length_globals(
    env: &mut ModuleEnv,
    bodies: &[FunctionBody<'_>],
) -> Result<std::collections::BTreeMap<u32, u32>, WasmError> {
    let mut dropped = std::collections::BTreeSet::new();
    for_each_operator(bodies, |op, _| {
        if let Operator::DataDrop { data_index } = op {
            dropped.insert(data_index);
        }
    })?;
    let mut globals = std::collections::BTreeMap::new();
    for seg in dropped {
        let Some(segment) = env.data.get(seg as usize) else { continue };
        if !matches!(segment.kind, DataKind::Passive) {
            continue;
        }
        let len = i32::try_from(segment.bytes.len())
            .map_err(|_| WasmError::new(format!("data segment {seg} is larger than 2 GiB")))?;
        globals.insert(seg, env.globals.len() as u32);
        env.globals.push(GlobalDecl {
            ty: Type::I32,
            value_type: ValueType::I32,
            mutable: true,
            init: Some(ConstExpr::I32(len)),
            import: None,
            exports: Vec::new(),
        });
    }
    Ok(globals)
}

/// `table.grow` of an imported table needs its owner's reservation, only
/// known at link time: for every imported table some function grows, a
/// synthesized global stands for the owner's `const uint32_t` reservation
/// word (see `ModuleEnv::imported_table_max`).
pub(crate) fn add_imported_table_max_globals(env: &mut ModuleEnv, bodies: &[FunctionBody<'_>]) -> Result<(), WasmError> {
    let mut grown = std::collections::BTreeSet::new();
    for_each_operator(bodies, |op, _| {
        if let Operator::TableGrow { table } = op {
            grown.insert(table);
        }
    })?;
    for t in grown {
        if env.tables.get(t as usize).is_some_and(|table| table.import.is_some()) {
            env.imported_table_max.push((env.globals.len() as u32, t));
            env.globals.push(GlobalDecl {
                ty: Type::I32,
                value_type: ValueType::I32,
                mutable: false,
                init: None,
                import: None,
                exports: Vec::new(),
            });
        }
    }
    Ok(())
}

/// `table.init` reads element segments at run time: every passive segment
/// some function initializes a table from gets a synthesized table, its
/// *image*, appended after the module's tables (`TableDecl::segment`). The
/// object writer puts the image's entries in `.rodata`; `instantiate` sets
/// its size to the segment's length and `elem.drop` to 0, so `table.init`
/// bounds-checks against the size and copies with `table.get`/`table.set`.
/// Active and declarative segments have length 0 once instantiation is
/// over and need no image.
pub(crate) fn add_segment_images(env: &mut ModuleEnv, bodies: &[FunctionBody<'_>]) -> Result<(), WasmError> {
    let mut used = std::collections::BTreeMap::new();
    for_each_operator(bodies, |op, offset| {
        if let Operator::TableInit { elem_index, .. } = op {
            used.entry(elem_index).or_insert(offset);
        }
    })?;
    for (e, offset) in used {
        let Some(segment) = env.elements.get(e as usize) else { continue };
        if !matches!(segment.kind, ElemKind::Passive) {
            continue;
        }
        if segment.items.iter().any(|item| matches!(item, ElemItem::GlobalGet(_))) {
            return Err(WasmError::at(
                format!("unsupported: table.init from element segment {e}, which has global.get items"),
                offset,
            ));
        }
        let len = u32::try_from(segment.items.len())
            .ok()
            .filter(|&n| u64::from(n) <= MAX_TABLE_ENTRIES)
            .ok_or_else(|| WasmError::at(format!("unsupported: element segment {e} has more than {MAX_TABLE_ENTRIES} items"), offset))?;
        env.tables.push(TableDecl {
            elem: segment.elem,
            init: ElemItem::Null,
            min_entries: len,
            max_entries: Some(len),
            reserved_entries: len,
            import: None,
            exports: Vec::new(),
            segment: Some(e),
        });
    }
    Ok(())
}

/// The index of the function whose body contains byte `offset`, if any
/// (best effort, for locating validation errors; a module too malformed to
/// parse up to that body yields `None`).
pub(crate) fn function_at_offset(wasm: &[u8], offset: usize) -> Option<u32> {
    let mut imported = 0u32;
    let mut defined = 0u32;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.ok()? {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if matches!(import.ok()?.ty, TypeRef::Func(_) | TypeRef::FuncExact(_)) {
                        imported += 1;
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let range = body.range();
                if (range.start as usize..range.end as usize).contains(&offset) {
                    return Some(imported + defined);
                }
                defined += 1;
            }
            _ => {}
        }
    }
    None
}
