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

/// What a reference points to: the abstract heap types bulkhead supports.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum RefKind {
    /// A function (`funcref`): the address of its read-only descriptor.
    Func,
    /// An opaque host value (`externref`), see docs/embedder-abi.md.
    Extern,
    /// A function of the module's type `n` (typed function references,
    /// `(ref $t)`): carried like a funcref.
    Typed(u32),
}

/// A reference type: `funcref` = `(ref null func)`, `(ref func)`,
/// `externref` = `(ref null extern)`, `(ref extern)`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct RefType {
    pub kind: RefKind,
    pub nullable: bool,
}

impl RefType {
    pub const FUNCREF: RefType = RefType { kind: RefKind::Func, nullable: true };
    pub const EXTERNREF: RefType = RefType { kind: RefKind::Extern, nullable: true };
}

impl core::fmt::Display for RefType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match (self.kind, self.nullable) {
            (RefKind::Func, true) => f.write_str("funcref"),
            (RefKind::Func, false) => f.write_str("(ref func)"),
            (RefKind::Extern, true) => f.write_str("externref"),
            (RefKind::Extern, false) => f.write_str("(ref extern)"),
            (RefKind::Typed(n), true) => write!(f, "(ref null {n})"),
            (RefKind::Typed(n), false) => write!(f, "(ref {n})"),
        }
    }
}

/// A value type as the module declares it. The IR carries every reference
/// as an i32 (a funcref is a descriptor address, an externref the host's
/// 32-bit value; 0 is null), so [`Signature`]s and [`GlobalDecl::ty`] say
/// `i32` where this says what the embedder sees.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    I32,
    I64,
    F32,
    F64,
    Ref(RefType),
}

impl ValueType {
    /// How the IR (and the calling convention) carries the value.
    pub fn ir_type(self) -> Type {
        match self {
            ValueType::I32 | ValueType::Ref(_) => Type::I32,
            ValueType::I64 => Type::I64,
            ValueType::F32 => Type::F32,
            ValueType::F64 => Type::F64,
        }
    }
}

impl core::fmt::Display for ValueType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ValueType::I32 => f.write_str("i32"),
            ValueType::I64 => f.write_str("i64"),
            ValueType::F32 => f.write_str("f32"),
            ValueType::F64 => f.write_str("f64"),
            ValueType::Ref(r) => write!(f, "{r}"),
        }
    }
}

/// A function type with the module's value types (the IR [`Signature`] of
/// the same index has references as i32).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FuncType {
    pub params: Vec<ValueType>,
    pub results: Vec<ValueType>,
}

impl FuncType {
    pub fn signature(&self) -> Signature {
        Signature {
            params: self.params.iter().map(|t| t.ir_type()).collect(),
            results: self.results.iter().map(|t| t.ir_type()).collect(),
        }
    }
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
    /// With `BoundsMode::Mask` (defined memories only): the power-of-two
    /// span that load/store addresses are masked to, max(32, next power of
    /// two ≥ `reserved_bytes`).
    pub mask_span: Option<u64>,
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
    /// Bytes of the memory's native region (its section): the reservation,
    /// or with a mask span that span plus `MASK_GUARD_BYTES`. Layout and MPU
    /// planning cover all of them.
    pub fn region_bytes(&self) -> u64 {
        self.mask_span.map_or(self.reserved_bytes, |span| span + crate::MASK_GUARD_BYTES)
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
    /// `ref.null` (any reference type): 0.
    RefNull,
    /// `ref.func n`: function `n`'s descriptor address.
    RefFunc(u32),
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
    /// How the IR carries the value (i32 for references).
    pub ty: Type,
    /// The declared type (`funcref` where `ty` is i32).
    pub value_type: ValueType,
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

/// A table of references (`funcref`, `(ref func)`, `externref`, `(ref
/// extern)`): an array of 32-bit entries plus its current size.
#[derive(Clone, Debug)]
pub struct TableDecl {
    pub elem: RefType,
    /// What every entry holds after instantiation, before the element
    /// segments: null, or the table's initializer (`ref.func`, `global.get`).
    /// Unused for imported tables.
    pub init: ElemItem,
    pub min_entries: u32,
    /// Declared maximum, if any.
    pub max_entries: Option<u32>,
    /// Entries reserved (`.bss`): `table.grow` beyond it returns -1. See
    /// `TranslateOptions::table_max`; for an imported table, the
    /// exporter's reservation is read at run time instead.
    pub reserved_entries: u32,
    pub import: Option<Import>,
    pub exports: Vec<String>,
    /// `Some(e)`: not a table of the module but the read-only image of
    /// passive element segment `e`, synthesized for `table.init` (entries in
    /// `.rodata`, size = the segment's current length: set by `instantiate`,
    /// 0 after `elem.drop`). These come after the module's own tables.
    pub segment: Option<u32>,
}

/// One entry of an element segment.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ElemItem {
    /// `ref.func n` (or a plain function index).
    Func(u32),
    /// `ref.null` (of the segment's reference type).
    Null,
    /// `global.get g` of an (imported) reference global: read at
    /// instantiation.
    GlobalGet(u32),
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
    pub elem: RefType,
    pub items: Vec<ElemItem>,
}

#[derive(Clone, Debug, Default)]
pub struct ModuleEnv {
    /// Function types by type index, as the IR sees them (references as i32).
    pub types: Vec<Signature>,
    /// The same types with the module's value types (`funcref`, ...).
    pub func_types: Vec<FuncType>,
    /// All functions: imports first, then defined ones.
    pub funcs: Vec<FuncDecl>,
    pub num_imported_funcs: u32,
    pub memories: Vec<MemoryDecl>,
    pub globals: Vec<GlobalDecl>,
    pub data: Vec<DataSegment>,
    pub start: Option<u32>,
    /// Tables by table index: imports first, then the defined ones, then
    /// the synthesized element-segment images (`TableDecl::segment`).
    pub tables: Vec<TableDecl>,
    /// Element segments, by element index.
    pub elements: Vec<ElemSegment>,
    /// `(global, table)`: synthesized i32 globals (after the module's own,
    /// no import, no initializer, no export) that *are* the reservation
    /// word of an imported table, `<mod>_<field>__max`: `table.grow` of an
    /// imported table reads its owner's reservation from there. The object
    /// writer binds them to that undefined symbol instead of storage.
    pub imported_table_max: Vec<(u32, u32)>,
}

impl ModuleEnv {
    pub fn is_imported_func(&self, index: u32) -> bool {
        index < self.num_imported_funcs
    }
    /// The declared type of function `index`.
    pub fn func_type(&self, index: u32) -> Option<&FuncType> {
        let decl = self.funcs.get(index as usize)?;
        self.func_types.get(decl.type_index as usize)
    }
    /// The module's own tables (imported and defined), without the
    /// synthesized element-segment images.
    pub fn module_tables(&self) -> impl Iterator<Item = (u32, &TableDecl)> {
        self.tables.iter().enumerate().filter(|(_, t)| t.segment.is_none()).map(|(i, t)| (i as u32, t))
    }
    pub fn defined_funcs(&self) -> impl Iterator<Item = (u32, &FuncDecl)> {
        self.funcs.iter().enumerate().skip(self.num_imported_funcs as usize).map(|(i, f)| (i as u32, f))
    }
}
