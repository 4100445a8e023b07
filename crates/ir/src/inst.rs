//! Instruction set of the IR.
//!
//! Pure instructions (constants, arithmetic, `mem_base`, `addr_add`) may be
//! freely moved, merged and folded by the mid-end. Everything else is part of
//! the effect skeleton and stays in program order *per memory*: see
//! [`InstData::effect`].

use crate::entity::{Block, DataIdx, FuncIdx, GlobalIdx, SigIdx, TableIdx, Value};
use crate::types::{MemIdx, Type};
use core::fmt;
use smallvec::SmallVec;

/// Wasm trap reasons. The discriminant is the `UDF #imm8` code the backend
/// emits; embedders decode it from the faulting instruction (documented in
/// docs/embedder-abi.md, keep stable).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TrapCode {
    Unreachable = 1,
    MemoryOutOfBounds = 2,
    IntegerDivideByZero = 3,
    IntegerOverflow = 4,
    InvalidConversion = 5,
    IndirectCallTypeMismatch = 6,
    UninitializedElement = 7,
    TableOutOfBounds = 8,
    StackExhausted = 9,
    /// A table access (element segment at instantiation, later
    /// `table.get`/`set`/...) outside the table's size. Distinct from
    /// `TableOutOfBounds`, which the spec words "undefined element" for
    /// `call_indirect`.
    TableAccessOutOfBounds = 10,
    /// `ref.as_non_null` or `call_ref` on a null reference.
    NullReference = 11,
}

impl TrapCode {
    pub const ALL: [TrapCode; 11] = [
        TrapCode::Unreachable,
        TrapCode::MemoryOutOfBounds,
        TrapCode::IntegerDivideByZero,
        TrapCode::IntegerOverflow,
        TrapCode::InvalidConversion,
        TrapCode::IndirectCallTypeMismatch,
        TrapCode::UninitializedElement,
        TrapCode::TableOutOfBounds,
        TrapCode::StackExhausted,
        TrapCode::TableAccessOutOfBounds,
        TrapCode::NullReference,
    ];
    pub fn code(self) -> u8 {
        self as u8
    }
    pub fn from_code(code: u8) -> Option<TrapCode> {
        Self::ALL.iter().copied().find(|t| t.code() == code)
    }
    pub fn name(self) -> &'static str {
        match self {
            TrapCode::Unreachable => "unreachable",
            TrapCode::MemoryOutOfBounds => "heap_oob",
            TrapCode::IntegerDivideByZero => "int_divz",
            TrapCode::IntegerOverflow => "int_ovf",
            TrapCode::InvalidConversion => "bad_toint",
            TrapCode::IndirectCallTypeMismatch => "bad_sig",
            TrapCode::UninitializedElement => "null_elem",
            TrapCode::TableOutOfBounds => "table_oob",
            TrapCode::StackExhausted => "stk_ovf",
            TrapCode::TableAccessOutOfBounds => "table_access_oob",
            TrapCode::NullReference => "null_ref",
        }
    }
    /// The message the wasm spec tests expect for this trap.
    pub fn spec_message(self) -> &'static str {
        match self {
            TrapCode::Unreachable => "unreachable",
            TrapCode::MemoryOutOfBounds => "out of bounds memory access",
            TrapCode::IntegerDivideByZero => "integer divide by zero",
            TrapCode::IntegerOverflow => "integer overflow",
            TrapCode::InvalidConversion => "invalid conversion to integer",
            TrapCode::IndirectCallTypeMismatch => "indirect call type mismatch",
            TrapCode::UninitializedElement => "uninitialized element",
            TrapCode::TableOutOfBounds => "undefined element",
            TrapCode::StackExhausted => "call stack exhausted",
            TrapCode::TableAccessOutOfBounds => "out of bounds table access",
            TrapCode::NullReference => "null reference",
        }
    }
}

/// One-operand integer operations; the operand type (i32 or i64) is the
/// result type except for `Eqz` (always i32).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Clz,
    Ctz,
    Popcnt,
    Eqz,
    Extend8S,
    Extend16S,
    /// i64 only: sign-extends the low 32 bits.
    Extend32S,
}

/// Conversions between value types: `Convert { op, to, arg }` produces a
/// value of type `to` from `arg`; the pair (type of `arg`, `to`) selects the
/// width. All are total: the frontend emits the wasm traps of the trapping
/// float-to-int conversions explicitly before a saturating conversion.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ConvertOp {
    /// i32 → i64, sign-extending.
    SExtend,
    /// i32 → i64, zero-extending.
    UExtend,
    /// i64 → i32, keeping the low 32 bits.
    Wrap,
    /// f64 → f32, rounding to nearest-even.
    FDemote,
    /// f32 → f64 (exact).
    FPromote,
    /// Signed integer (i32/i64) → float (f32/f64), rounding to nearest-even.
    SIntToFloat,
    /// Unsigned integer (i32/i64) → float (f32/f64), rounding to nearest-even.
    UIntToFloat,
    /// Float → signed integer, truncating toward zero, saturating at the
    /// integer range, NaN → 0 (wasm `trunc_sat_s`).
    FloatToSIntSat,
    /// Float → unsigned integer, truncating, saturating, NaN → 0.
    FloatToUIntSat,
    /// Reinterprets the bits between an integer and a float of one width.
    Bitcast,
}

/// One-operand float operations (f32 or f64; result type = operand type).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum FloatUnaryOp {
    Abs,
    Neg,
    Sqrt,
    Ceil,
    Floor,
    Trunc,
    /// Round to nearest, ties to even.
    Nearest,
}

/// Two-operand float operations on operands of one type. `Min`/`Max` follow
/// wasm: NaN if either operand is NaN, and -0 < +0.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum FloatBinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Min,
    Max,
    Copysign,
}

/// Ordered float comparisons except `Ne`, which is true when unordered
/// (wasm `f32.ne`); results are i32 0 or 1.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum FloatCC {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

/// Two-operand integer operations on operands of one type.
///
/// Division and remainder are *total* in the IR (the frontend emits the wasm
/// traps as explicit `trapz`/`trapnz` before them): `x / 0 = 0`, `x % 0 = x`
/// unsigned and signed, `MIN / -1 = MIN`, `MIN % -1 = 0` — the results of
/// ARMv7-M SDIV/UDIV+MLS, so constant folding and hardware agree.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    DivS,
    DivU,
    RemS,
    RemU,
    And,
    Or,
    Xor,
    Shl,
    ShrS,
    ShrU,
    Rotl,
    Rotr,
}

/// Integer comparison; results are i32 0 or 1.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum IntCC {
    Eq,
    Ne,
    LtS,
    LtU,
    GtS,
    GtU,
    LeS,
    LeU,
    GeS,
    GeU,
}

impl IntCC {
    pub fn swap_args(self) -> IntCC {
        use IntCC::*;
        match self {
            Eq => Eq,
            Ne => Ne,
            LtS => GtS,
            LtU => GtU,
            GtS => LtS,
            GtU => LtU,
            LeS => GeS,
            LeU => GeU,
            GeS => LeS,
            GeU => LeU,
        }
    }
    pub fn invert(self) -> IntCC {
        use IntCC::*;
        match self {
            Eq => Ne,
            Ne => Eq,
            LtS => GeS,
            LtU => GeU,
            GtS => LeS,
            GtU => LeU,
            LeS => GtS,
            LeU => GtU,
            GeS => LtS,
            GeU => LtU,
        }
    }
}

/// Width and extension of a load. The result type is given by [`LoadKind::ty`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum LoadKind {
    I32,
    I32_8S,
    I32_8U,
    I32_16S,
    I32_16U,
    I64,
    I64_8S,
    I64_8U,
    I64_16S,
    I64_16U,
    I64_32S,
    I64_32U,
    F32,
    F64,
}

impl LoadKind {
    pub fn ty(self) -> Type {
        use LoadKind::*;
        match self {
            I32 | I32_8S | I32_8U | I32_16S | I32_16U => Type::I32,
            I64 | I64_8S | I64_8U | I64_16S | I64_16U | I64_32S | I64_32U => Type::I64,
            F32 => Type::F32,
            F64 => Type::F64,
        }
    }
    /// Bytes read from memory.
    pub fn width(self) -> u32 {
        use LoadKind::*;
        match self {
            I32_8S | I32_8U | I64_8S | I64_8U => 1,
            I32_16S | I32_16U | I64_16S | I64_16U => 2,
            I32 | I64_32S | I64_32U | F32 => 4,
            I64 | F64 => 8,
        }
    }
    pub fn name(self) -> &'static str {
        use LoadKind::*;
        match self {
            I32 => "i32",
            I32_8S => "i32_8s",
            I32_8U => "i32_8u",
            I32_16S => "i32_16s",
            I32_16U => "i32_16u",
            I64 => "i64",
            I64_8S => "i64_8s",
            I64_8U => "i64_8u",
            I64_16S => "i64_16s",
            I64_16U => "i64_16u",
            I64_32S => "i64_32s",
            I64_32U => "i64_32u",
            F32 => "f32",
            F64 => "f64",
        }
    }
}

/// Width of a store; the stored value's type is given by [`StoreKind::ty`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum StoreKind {
    I32,
    I32_8,
    I32_16,
    I64,
    I64_8,
    I64_16,
    I64_32,
    F32,
    F64,
}

impl StoreKind {
    pub fn ty(self) -> Type {
        use StoreKind::*;
        match self {
            I32 | I32_8 | I32_16 => Type::I32,
            I64 | I64_8 | I64_16 | I64_32 => Type::I64,
            F32 => Type::F32,
            F64 => Type::F64,
        }
    }
    pub fn width(self) -> u32 {
        use StoreKind::*;
        match self {
            I32_8 | I64_8 => 1,
            I32_16 | I64_16 => 2,
            I32 | I64_32 | F32 => 4,
            I64 | F64 => 8,
        }
    }
    pub fn name(self) -> &'static str {
        use StoreKind::*;
        match self {
            I32 => "i32",
            I32_8 => "i32_8",
            I32_16 => "i32_16",
            I64 => "i64",
            I64_8 => "i64_8",
            I64_16 => "i64_16",
            I64_32 => "i64_32",
            F32 => "f32",
            F64 => "f64",
        }
    }
}

/// A branch target with the arguments passed to the block's parameters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BlockCall {
    pub block: Block,
    pub args: SmallVec<[Value; 4]>,
}

impl BlockCall {
    pub fn new(block: Block, args: &[Value]) -> Self {
        BlockCall { block, args: SmallVec::from_slice(args) }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum InstData {
    /// Integer constant of type `ty` (i32 or i64); `imm` holds the bits.
    Iconst { ty: Type, imm: u64 },
    Unary { op: UnaryOp, arg: Value },
    Binary { op: BinaryOp, args: [Value; 2] },
    Icmp { cc: IntCC, args: [Value; 2] },
    /// `args = [cond, if_nonzero, if_zero]`.
    Select { args: [Value; 3] },
    /// See [`ConvertOp`]; the result has type `to`.
    Convert { op: ConvertOp, to: Type, arg: Value },
    /// Float constant of type `ty` (f32 or f64); `bits` holds the IEEE bits
    /// (the low 32 for f32), so NaN payloads survive.
    Fconst { ty: Type, bits: u64 },
    FUnary { op: FloatUnaryOp, arg: Value },
    FBinary { op: FloatBinaryOp, args: [Value; 2] },
    Fcmp { cc: FloatCC, args: [Value; 2] },

    /// The native base address of memory `mem`. Pure: regions never move.
    MemBase { mem: MemIdx },
    /// `addr + zext(index)`: `args = [addr<k>, i32]`, result `addr<k>`.
    AddrAdd { args: [Value; 2] },
    /// Traps with `MemoryOutOfBounds` unless `index + end <= size(mem)`,
    /// computed without wrap-around. `end` is the wasm static offset plus the
    /// access width.
    BoundsCheck { mem: MemIdx, index: Value, end: u64 },
    /// Traps unless `index + len <= size(mem)` (both i32, no wrap-around).
    BoundsCheckDyn { mem: MemIdx, args: [Value; 2] },
    /// Reads `kind.width()` bytes at `addr + offset` (the address must be in
    /// bounds: a `BoundsCheck` precedes it unless the bounds mode says not).
    /// `mem` repeats the memory of `addr`'s type (the verifier checks it) so
    /// rewrite rules can match on it.
    Load { mem: MemIdx, kind: LoadKind, addr: Value, offset: u32 },
    /// `args = [addr, value]`.
    Store { mem: MemIdx, kind: StoreKind, args: [Value; 2], offset: u32 },
    /// Current size of memory `mem` in bytes (i32).
    MemSize { mem: MemIdx },
    /// The reservation of memory `mem` in bytes (i32): the size it can grow
    /// to. Pure: reservations are fixed at link time. The frontend uses it
    /// for imported memories, whose reservation is the exporter's and only
    /// known at run time; a defined memory's is a constant.
    MemMax { mem: MemIdx },
    /// Sets the current size of memory `mem` in bytes. Used by `memory.grow`
    /// and instantiation; growth never moves or clears the region (the region
    /// is zeroed at instantiation and nothing can write past the size).
    MemSetSize { mem: MemIdx, arg: Value },
    /// Fills `len` bytes at `dst` with the low byte of `val`.
    /// `args = [dst: addr<k>, val: i32, len: i32]`; unchecked.
    MemoryFill { mem: MemIdx, args: [Value; 3] },
    /// Copies `len` bytes from `src` (memory `src_mem`) to `dst` (memory
    /// `dst_mem`), correct for overlap. `args = [dst, src, len]`; unchecked.
    MemoryCopy { dst_mem: MemIdx, src_mem: MemIdx, args: [Value; 3] },
    /// Copies `len` bytes of data segment `seg`, starting at `src_offset`,
    /// to `dst` (memory `mem`). `args = [dst, src_offset: i32, len: i32]`;
    /// unchecked (the frontend checks against the segment's length).
    MemoryInit { mem: MemIdx, seg: DataIdx, args: [Value; 3] },

    GlobalGet { global: GlobalIdx },
    GlobalSet { global: GlobalIdx, arg: Value },
    /// Direct call; results are this instruction's results.
    Call { func: FuncIdx, args: SmallVec<[Value; 4]> },

    // Tables and function references. A funcref is carried as an i32: the
    // address of the function's read-only descriptor `{ code | 1, type id }`
    // (see docs/embedder-abi.md), 0 for null.
    /// Current number of entries of table `table` (i32).
    TableSize { table: TableIdx },
    /// Sets the current number of entries (instantiation, `table.grow`).
    TableSetSize { table: TableIdx, arg: Value },
    /// Entry `index` (i32) of the table, a funcref; unchecked (the frontend
    /// checks `index < size` first).
    TableGet { table: TableIdx, index: Value },
    /// Stores the funcref `args[1]` at entry `args[0]`; unchecked.
    TableSet { table: TableIdx, args: [Value; 2] },
    /// The (non-null) funcref of function `func`. Pure: descriptors are
    /// constants.
    FuncRef { func: FuncIdx },
    /// The type id of the function a non-null funcref designates. Pure:
    /// descriptors are immutable.
    FuncRefTypeId { arg: Value },
    /// The type id of signature `sig` (a type index of the module); equal
    /// signatures have equal ids across separately compiled modules.
    TypeId { sig: SigIdx },
    /// Calls the function of the non-null funcref `args[0]` with
    /// `args[1..]`; its type must be `sig` (for `call_indirect` the frontend
    /// checks the type id first; a wasm `call_ref`'s type is guaranteed by
    /// validation). Results are this instruction's results.
    CallRef { sig: SigIdx, args: SmallVec<[Value; 4]> },

    /// Unconditional trap (terminator).
    Trap { code: TrapCode },
    /// Traps when `arg` is nonzero (`trapnz`) or zero (`trapz`).
    TrapIf { nonzero: bool, arg: Value, code: TrapCode },

    Jump { dest: BlockCall },
    /// Branches to `then_dest` when `arg` (i32) is nonzero.
    Brif { arg: Value, then_dest: BlockCall, else_dest: BlockCall },
    /// `targets[arg]`, or `default` when out of range. Targets take no arguments.
    BrTable { arg: Value, targets: Vec<Block>, default: Block },
    Return { args: SmallVec<[Value; 2]> },
}

/// How an instruction interacts with program state. The mid-end keeps the
/// order of instructions whose effects conflict; a write to memory 1 does not
/// conflict with a read of memory 0.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    Pure,
    /// May trap but touches no state (`trapif`, bounds checks read the size).
    Trap,
    ReadMem(MemIdx),
    WriteMem(MemIdx),
    /// Reads the size of a memory (bounds checks, `mem_size`).
    ReadSize(MemIdx),
    WriteSize(MemIdx),
    ReadGlobal(GlobalIdx),
    WriteGlobal(GlobalIdx),
    /// Reads a table's entries or size.
    ReadTable(TableIdx),
    /// Writes a table's entries or size.
    WriteTable(TableIdx),
    /// Calls: read and write everything.
    All,
    Terminator,
}

impl InstData {
    pub fn is_terminator(&self) -> bool {
        matches!(
            self,
            InstData::Jump { .. }
                | InstData::Brif { .. }
                | InstData::BrTable { .. }
                | InstData::Return { .. }
                | InstData::Trap { .. }
        )
    }

    pub fn effect(&self) -> Effect {
        use InstData::*;
        match self {
            Iconst { .. } | Unary { .. } | Binary { .. } | Icmp { .. } | Select { .. } => {
                Effect::Pure
            }
            Convert { .. } | Fconst { .. } | FUnary { .. } | FBinary { .. } | Fcmp { .. } => Effect::Pure,
            MemBase { .. } | AddrAdd { .. } | MemMax { .. } => Effect::Pure,
            FuncRef { .. } | FuncRefTypeId { .. } | TypeId { .. } => Effect::Pure,
            TableSize { table } | TableGet { table, .. } => Effect::ReadTable(*table),
            TableSetSize { table, .. } | TableSet { table, .. } => Effect::WriteTable(*table),
            CallRef { .. } => Effect::All,
            BoundsCheck { mem, .. } | BoundsCheckDyn { mem, .. } => Effect::ReadSize(*mem),
            TrapIf { .. } => Effect::Trap,
            Load { mem, .. } => Effect::ReadMem(*mem),
            Store { mem, .. } => Effect::WriteMem(*mem),
            MemSize { mem } => Effect::ReadSize(*mem),
            MemSetSize { mem, .. } => Effect::WriteSize(*mem),
            MemoryFill { mem, .. } | MemoryInit { mem, .. } => Effect::WriteMem(*mem),
            // A copy reads src_mem and writes dst_mem; treat as a write of
            // dst plus (conservatively) ordered with everything on src via
            // `memories_touched`.
            MemoryCopy { dst_mem, .. } => Effect::WriteMem(*dst_mem),
            GlobalGet { global } => Effect::ReadGlobal(*global),
            GlobalSet { global, .. } => Effect::WriteGlobal(*global),
            Call { .. } => Effect::All,
            Trap { .. } | Jump { .. } | Brif { .. } | BrTable { .. } | Return { .. } => {
                Effect::Terminator
            }
        }
    }

    pub fn is_pure(&self) -> bool {
        self.effect() == Effect::Pure
    }

    /// Value operands, in order.
    pub fn args(&self) -> SmallVec<[Value; 4]> {
        let mut out = SmallVec::new();
        self.for_each_arg(|v| out.push(v));
        out
    }

    pub fn for_each_arg(&self, mut f: impl FnMut(Value)) {
        self.clone().map_args(|v| {
            f(v);
            v
        });
    }

    /// Rewrites every value operand (including block-call arguments).
    pub fn map_args(mut self, mut f: impl FnMut(Value) -> Value) -> InstData {
        self.map_args_in_place(&mut f);
        self
    }

    pub fn map_args_in_place(&mut self, f: &mut impl FnMut(Value) -> Value) {
        use InstData::*;
        match self {
            Iconst { .. }
            | Fconst { .. }
            | MemBase { .. }
            | MemSize { .. }
            | MemMax { .. }
            | GlobalGet { .. }
            | TableSize { .. }
            | FuncRef { .. }
            | TypeId { .. }
            | Trap { .. } => {}
            TableSetSize { arg, .. } | FuncRefTypeId { arg } => *arg = f(*arg),
            TableGet { index, .. } => *index = f(*index),
            TableSet { args, .. } => args.iter_mut().for_each(|a| *a = f(*a)),
            CallRef { args, .. } => args.iter_mut().for_each(|a| *a = f(*a)),
            Unary { arg, .. }
            | Convert { arg, .. }
            | FUnary { arg, .. }
            | MemSetSize { arg, .. }
            | GlobalSet { arg, .. }
            | TrapIf { arg, .. } => *arg = f(*arg),
            Load { addr, .. } => *addr = f(*addr),
            BoundsCheck { index, .. } => *index = f(*index),
            Binary { args, .. }
            | Icmp { args, .. }
            | FBinary { args, .. }
            | Fcmp { args, .. }
            | AddrAdd { args }
            | BoundsCheckDyn { args, .. }
            | Store { args, .. } => args.iter_mut().for_each(|a| *a = f(*a)),
            Select { args }
            | MemoryFill { args, .. }
            | MemoryCopy { args, .. }
            | MemoryInit { args, .. } => {
                args.iter_mut().for_each(|a| *a = f(*a))
            }
            Call { args, .. } => args.iter_mut().for_each(|a| *a = f(*a)),
            Return { args } => args.iter_mut().for_each(|a| *a = f(*a)),
            Jump { dest } => dest.args.iter_mut().for_each(|a| *a = f(*a)),
            Brif { arg, then_dest, else_dest } => {
                *arg = f(*arg);
                then_dest.args.iter_mut().for_each(|a| *a = f(*a));
                else_dest.args.iter_mut().for_each(|a| *a = f(*a));
            }
            BrTable { arg, .. } => *arg = f(*arg),
        }
    }

    /// Successor blocks of a terminator, in order (with duplicates).
    pub fn successors(&self) -> SmallVec<[Block; 2]> {
        match self {
            InstData::Jump { dest } => smallvec::smallvec![dest.block],
            InstData::Brif { then_dest, else_dest, .. } => {
                smallvec::smallvec![then_dest.block, else_dest.block]
            }
            InstData::BrTable { targets, default, .. } => {
                let mut s: SmallVec<[Block; 2]> = targets.iter().copied().collect();
                s.push(*default);
                s
            }
            _ => SmallVec::new(),
        }
    }

    /// The memories this instruction reads or writes (for per-memory
    /// effect ordering and per-function memory footprints).
    pub fn memories(&self) -> SmallVec<[MemIdx; 2]> {
        use InstData::*;
        match self {
            MemBase { mem }
            | BoundsCheck { mem, .. }
            | BoundsCheckDyn { mem, .. }
            | MemSize { mem }
            | MemMax { mem }
            | MemSetSize { mem, .. }
            | MemoryFill { mem, .. }
            | MemoryInit { mem, .. }
            | Load { mem, .. }
            | Store { mem, .. } => smallvec::smallvec![*mem],
            MemoryCopy { dst_mem, src_mem, .. } => {
                if dst_mem == src_mem {
                    smallvec::smallvec![*dst_mem]
                } else {
                    smallvec::smallvec![*dst_mem, *src_mem]
                }
            }
            _ => SmallVec::new(),
        }
    }
}

impl fmt::Display for UnaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnaryOp::Clz => "clz",
            UnaryOp::Ctz => "ctz",
            UnaryOp::Popcnt => "popcnt",
            UnaryOp::Eqz => "eqz",
            UnaryOp::Extend8S => "sextend8",
            UnaryOp::Extend16S => "sextend16",
            UnaryOp::Extend32S => "sextend32",
        })
    }
}

impl fmt::Display for BinaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BinaryOp::Add => "iadd",
            BinaryOp::Sub => "isub",
            BinaryOp::Mul => "imul",
            BinaryOp::DivS => "sdiv",
            BinaryOp::DivU => "udiv",
            BinaryOp::RemS => "srem",
            BinaryOp::RemU => "urem",
            BinaryOp::And => "band",
            BinaryOp::Or => "bor",
            BinaryOp::Xor => "bxor",
            BinaryOp::Shl => "ishl",
            BinaryOp::ShrS => "sshr",
            BinaryOp::ShrU => "ushr",
            BinaryOp::Rotl => "rotl",
            BinaryOp::Rotr => "rotr",
        })
    }
}

impl fmt::Display for IntCC {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IntCC::Eq => "eq",
            IntCC::Ne => "ne",
            IntCC::LtS => "slt",
            IntCC::LtU => "ult",
            IntCC::GtS => "sgt",
            IntCC::GtU => "ugt",
            IntCC::LeS => "sle",
            IntCC::LeU => "ule",
            IntCC::GeS => "sge",
            IntCC::GeU => "uge",
        })
    }
}

impl fmt::Display for ConvertOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConvertOp::SExtend => "sextend",
            ConvertOp::UExtend => "uextend",
            ConvertOp::Wrap => "wrap",
            ConvertOp::FDemote => "fdemote",
            ConvertOp::FPromote => "fpromote",
            ConvertOp::SIntToFloat => "sint_to_float",
            ConvertOp::UIntToFloat => "uint_to_float",
            ConvertOp::FloatToSIntSat => "float_to_sint_sat",
            ConvertOp::FloatToUIntSat => "float_to_uint_sat",
            ConvertOp::Bitcast => "bitcast",
        })
    }
}

impl ConvertOp {
    /// Whether converting a value of type `from` to `to` is a valid use of
    /// this operation.
    pub fn accepts(self, from: Type, to: Type) -> bool {
        use Type::*;
        match self {
            ConvertOp::SExtend | ConvertOp::UExtend => from == I32 && to == I64,
            ConvertOp::Wrap => from == I64 && to == I32,
            ConvertOp::FDemote => from == F64 && to == F32,
            ConvertOp::FPromote => from == F32 && to == F64,
            ConvertOp::SIntToFloat | ConvertOp::UIntToFloat => from.is_int() && to.is_float(),
            ConvertOp::FloatToSIntSat | ConvertOp::FloatToUIntSat => from.is_float() && to.is_int(),
            ConvertOp::Bitcast => matches!((from, to), (I32, F32) | (F32, I32) | (I64, F64) | (F64, I64)),
        }
    }
}

impl fmt::Display for FloatUnaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FloatUnaryOp::Abs => "fabs",
            FloatUnaryOp::Neg => "fneg",
            FloatUnaryOp::Sqrt => "sqrt",
            FloatUnaryOp::Ceil => "ceil",
            FloatUnaryOp::Floor => "floor",
            FloatUnaryOp::Trunc => "trunc",
            FloatUnaryOp::Nearest => "nearest",
        })
    }
}

impl fmt::Display for FloatBinaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FloatBinaryOp::Add => "fadd",
            FloatBinaryOp::Sub => "fsub",
            FloatBinaryOp::Mul => "fmul",
            FloatBinaryOp::Div => "fdiv",
            FloatBinaryOp::Min => "fmin",
            FloatBinaryOp::Max => "fmax",
            FloatBinaryOp::Copysign => "fcopysign",
        })
    }
}

impl fmt::Display for FloatCC {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FloatCC::Eq => "eq",
            FloatCC::Ne => "ne",
            FloatCC::Lt => "lt",
            FloatCC::Gt => "gt",
            FloatCC::Le => "le",
            FloatCC::Ge => "ge",
        })
    }
}
