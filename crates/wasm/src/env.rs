//! The module environment: everything about a wasm module that later stages
//! need besides function bodies (types, imports, memories, globals, data,
//! exports). Produced by the frontend, read by the backend, the object
//! writer and the test tooling.

use bulkhead_ir::{Signature, Type};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    pub module: String,
    pub name: String,
}

#[derive(Clone, Debug)]
pub struct FuncDecl {
    pub sig: Signature,
    /// Index into [`ModuleEnv::types`].
    pub type_index: u32,
    pub import: Option<Import>,
    pub exports: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct MemoryDecl {
    /// log2 of the page size in bytes (16 for 64 KiB pages; custom page sizes
    /// allow 0, i.e. 1-byte pages).
    pub page_size_log2: u32,
    pub min_pages: u64,
    /// Declared maximum, if any.
    pub max_pages: Option<u64>,
    /// Bytes reserved for the region at link time: the memory can grow up to
    /// this size (see `TranslateOptions::memory_max`); `memory.grow` beyond
    /// it returns -1.
    pub reserved_bytes: u64,
    pub import: Option<Import>,
    pub exports: Vec<String>,
}

impl MemoryDecl {
    pub fn page_size(&self) -> u64 {
        1u64 << self.page_size_log2
    }
    pub fn min_bytes(&self) -> u64 {
        self.min_pages << self.page_size_log2
    }
}

/// A constant expression (global initializers, segment offsets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConstExpr {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    GlobalGet(u32),
    /// Extended constant expression (`i32.add` etc. over the above), in
    /// postfix order.
    Extended(Vec<ConstOp>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConstOp {
    I32(i32),
    I64(i64),
    GlobalGet(u32),
    I32Add,
    I32Sub,
    I32Mul,
    I64Add,
    I64Sub,
    I64Mul,
}

#[derive(Clone, Debug)]
pub struct GlobalDecl {
    pub ty: Type,
    pub mutable: bool,
    /// `None` for imported globals.
    pub init: Option<ConstExpr>,
    pub import: Option<Import>,
    pub exports: Vec<String>,
}

#[derive(Clone, Debug)]
pub enum DataKind {
    Active { memory: u32, offset: ConstExpr },
    Passive,
}

#[derive(Clone, Debug)]
pub struct DataSegment {
    pub kind: DataKind,
    pub bytes: Vec<u8>,
}

/// A defined table of function references, `funcref` or `(ref func)`
/// (imported and exported tables are not supported yet).
#[derive(Clone, Debug)]
pub struct TableDecl {
    /// What every entry holds after instantiation, before the element
    /// segments: null, or the table's initializer (`ref.func`).
    pub init: ElemItem,
    pub min_entries: u32,
    /// Declared maximum, if any.
    pub max_entries: Option<u32>,
    /// Entries reserved in `.bss`: the declared maximum, else the minimum
    /// (without `table.grow` support the size never exceeds the minimum).
    pub reserved_entries: u32,
}

/// One entry of an element segment.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ElemItem {
    /// `ref.func n` (or a plain function index).
    Func(u32),
    /// `ref.null func`.
    Null,
}

#[derive(Clone, Debug)]
pub enum ElemKind {
    Active { table: u32, offset: ConstExpr },
    Passive,
    Declared,
}

#[derive(Clone, Debug)]
pub struct ElemSegment {
    pub kind: ElemKind,
    pub items: Vec<ElemItem>,
}

#[derive(Clone, Debug, Default)]
pub struct ModuleEnv {
    /// Function types by type index.
    pub types: Vec<Signature>,
    /// All functions: imports first, then defined ones.
    pub funcs: Vec<FuncDecl>,
    pub num_imported_funcs: u32,
    pub memories: Vec<MemoryDecl>,
    pub globals: Vec<GlobalDecl>,
    pub data: Vec<DataSegment>,
    pub start: Option<u32>,
    /// Defined tables, by table index.
    pub tables: Vec<TableDecl>,
    /// Element segments, by element index.
    pub elements: Vec<ElemSegment>,
}

impl ModuleEnv {
    pub fn is_imported_func(&self, index: u32) -> bool {
        index < self.num_imported_funcs
    }
    pub fn defined_funcs(&self) -> impl Iterator<Item = (u32, &FuncDecl)> {
        self.funcs.iter().enumerate().skip(self.num_imported_funcs as usize).map(|(i, f)| (i as u32, f))
    }
}
