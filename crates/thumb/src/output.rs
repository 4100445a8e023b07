//! What the backend hands to the object writer: machine code plus the
//! relocations and symbol references it needs. Symbol *names* are not decided
//! here; targets are semantic ([`RelocTarget`]) and the ELF stage names them.

/// What a relocation points at.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RelocTarget {
    /// Entry of wasm function `n` (imported or defined).
    Function(u32),
    /// First byte of memory `k`'s region.
    MemoryBase(u32),
    /// The 32-bit word holding memory `k`'s current size in bytes.
    MemorySize(u32),
    /// The storage of wasm global `n`.
    Global(u32),
    /// First byte of data segment `n`'s bytes (in flash).
    DataSegment(u32),
    /// The 32-bit word holding memory `k`'s reservation in bytes (a
    /// constant of the memory's owner; imported memories read the
    /// exporter's).
    MemoryMax(u32),
    /// First entry of table `t` (an array of u32 funcrefs).
    Table(u32),
    /// The 32-bit word holding table `t`'s current number of entries.
    TableSize(u32),
    /// The read-only descriptor `{ code | 1, type id }` of wasm function `n`
    /// (its funcref).
    FuncDescriptor(u32),
    /// The type-id symbol of the module's type (signature) index `n`; its
    /// address is the id, equal for equal signatures across modules.
    TypeId(u32),
    /// A routine of the bulkhead runtime that the backend emitted itself
    /// (e.g. `memmove`), by name without prefix.
    Runtime(&'static str),
    /// The `uint32_t` holding the lowest stack address compiled code may
    /// use, defined by the embedder (`bulkhead_elf::SymbolNames::STACK_LIMIT`,
    /// docs/embedder-abi.md "Stack limit"); read by function prologues.
    StackLimit,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum RelocKind {
    /// `R_ARM_THM_CALL` on a BL instruction (object calls it `R_ARM_THM_PC22`).
    ThumbCall,
    /// `R_ARM_THM_JUMP24` on a B.W instruction (tail calls).
    ThumbJump24,
    /// `R_ARM_THM_MOVW_ABS_NC` on a MOVW.
    ThumbMovwAbsNc,
    /// `R_ARM_THM_MOVT_ABS` on a MOVT.
    ThumbMovtAbs,
    /// `R_ARM_ABS32` on a 32-bit data word (literal pools, tables).
    Abs32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reloc {
    /// Byte offset of the instruction or word within the function's code.
    pub offset: u32,
    pub kind: RelocKind,
    pub target: RelocTarget,
    /// Added to the target address. For Thumb instruction relocations the
    /// addend is also encoded in the instruction (REL-style), as the ELF
    /// writer emits `.rel` sections.
    pub addend: i32,
}

/// One function's machine code.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompiledFunction {
    pub code: Vec<u8>,
    pub relocs: Vec<Reloc>,
    /// Byte ranges `[start, end)` of data inside the code (literal pools,
    /// jump tables), for `$d` mapping symbols; the rest is Thumb code (`$t`).
    pub data_ranges: Vec<(u32, u32)>,
    /// The memory whose base was pinned in R11, if any (for `--stats` and
    /// the manifest).
    pub dominant_memory: Option<u32>,
    /// Assembly listing (llvm-mc syntax with offsets), when requested.
    pub asm: Option<String>,
}
