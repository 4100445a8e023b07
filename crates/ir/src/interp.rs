//! A reference interpreter for the IR: the oracle that optimized code is
//! checked against.
//!
//! It follows the documented semantics of every instruction literally and
//! prefers clarity over speed. Memory `k` is a byte array (its whole
//! reservation) plus a current size; an `addr<k>` value is modelled as the
//! pair (k, byte offset from the start of memory k), so `mem_base.k` is
//! (k, 0) and `addr_add` adds the zero-extended index.
//!
//! Traps are reported as [`InterpError::Trap`]. Situations that have no
//! defined meaning in the IR (an unchecked access outside the reservation, a
//! value of the wrong type, running out of fuel) are [`InterpError::Fault`] or
//! [`InterpError::OutOfFuel`], so a test can tell a wasm trap from a broken
//! program.
//!
//! Function references are modelled as `func index + 1` (0 is null); their
//! type ids come from [`Tables::func_type_ids`], `type_id` from
//! [`Tables::sig_type_ids`], and `call_ref` calls the host like `call`.

use crate::entity::{Block, DataIdx, FuncIdx, GlobalIdx, SigIdx, TableIdx, Value};
use crate::function::Function;
use crate::inst::{
    BinaryOp, BlockCall, ConvertOp, FloatBinaryOp, FloatCC, FloatUnaryOp, InstData, IntCC, LoadKind, StoreKind,
    TrapCode, UnaryOp,
};
use crate::types::{MemIdx, Type};
use core::fmt;

/// A runtime value. Floats are carried as raw IEEE bits so NaN payloads
/// survive moves, loads and stores.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Val {
    I32(u32),
    I64(u64),
    F32(u32),
    F64(u64),
    /// A byte address inside memory `mem`, counted from the memory's base.
    Addr {
        mem: MemIdx,
        offset: u64,
    },
}

impl Val {
    pub fn ty(self) -> Type {
        match self {
            Val::I32(_) => Type::I32,
            Val::I64(_) => Type::I64,
            Val::F32(_) => Type::F32,
            Val::F64(_) => Type::F64,
            Val::Addr { mem, .. } => Type::Addr(mem),
        }
    }

    /// A value of an integer or float type from its bits (the low 32 for
    /// 32-bit types); `None` for addresses.
    pub fn from_bits(ty: Type, bits: u64) -> Option<Val> {
        match ty {
            Type::I32 => Some(Val::I32(bits as u32)),
            Type::I64 => Some(Val::I64(bits)),
            Type::F32 => Some(Val::F32(bits as u32)),
            Type::F64 => Some(Val::F64(bits)),
            Type::Addr(_) => None,
        }
    }

    /// The bits of an integer or float value, zero-extended; an address's
    /// offset.
    pub fn bits(self) -> u64 {
        match self {
            Val::I32(x) | Val::F32(x) => x as u64,
            Val::I64(x) | Val::F64(x) => x,
            Val::Addr { offset, .. } => offset,
        }
    }

    /// The all-zero value of a type (addresses: the base of the memory).
    pub fn zero(ty: Type) -> Val {
        match ty {
            Type::I32 => Val::I32(0),
            Type::I64 => Val::I64(0),
            Type::F32 => Val::F32(0),
            Type::F64 => Val::F64(0),
            Type::Addr(mem) => Val::Addr { mem, offset: 0 },
        }
    }
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::I32(x) => write!(f, "i32:{:#x}", x),
            Val::I64(x) => write!(f, "i64:{:#x}", x),
            Val::F32(x) => write!(f, "f32-bits:{:#x}", x),
            Val::F64(x) => write!(f, "f64-bits:{:#x}", x),
            Val::Addr { mem, offset } => write!(f, "addr<{mem}>:{:#x}", offset),
        }
    }
}

/// Why execution stopped without returning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InterpError {
    /// A wasm trap (`trap`, `trapz`/`trapnz`, a failed bounds check).
    Trap(TrapCode),
    /// Behaviour the IR leaves undefined, or a malformed function.
    Fault(String),
    /// More than the allowed number of instructions were executed.
    OutOfFuel,
}

impl fmt::Display for InterpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InterpError::Trap(code) => write!(f, "trap: {}", code.spec_message()),
            InterpError::Fault(msg) => write!(f, "fault: {msg}"),
            InterpError::OutOfFuel => f.write_str("out of fuel"),
        }
    }
}

impl std::error::Error for InterpError {}

/// Linear memories: `bytes[k]` is memory k's whole reservation, `sizes[k]`
/// its current size in bytes (what bounds checks and `mem_size` see).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Memories {
    pub bytes: Vec<Vec<u8>>,
    pub sizes: Vec<u64>,
}

impl Memories {
    /// Memories with the given reservations (zeroed) and current sizes.
    pub fn new(reserved_and_size: &[(usize, u64)]) -> Memories {
        Memories {
            bytes: reserved_and_size.iter().map(|&(r, _)| vec![0; r]).collect(),
            sizes: reserved_and_size.iter().map(|&(_, s)| s).collect(),
        }
    }

    fn range(&self, mem: MemIdx, start: u64, len: u64) -> Result<core::ops::Range<usize>, InterpError> {
        let bytes =
            self.bytes.get(mem.0 as usize).ok_or_else(|| InterpError::Fault(format!("memory {mem} does not exist")))?;
        let end = start.checked_add(len).filter(|&e| e <= bytes.len() as u64).ok_or_else(|| {
            InterpError::Fault(format!(
                "access of {len} bytes at {start:#x} is outside memory {mem}'s reservation of {} bytes",
                bytes.len()
            ))
        })?;
        Ok(start as usize..end as usize)
    }

    /// Reads `len` bytes at `start` of memory `mem` (unchecked against the
    /// current size, like a load; checked against the reservation).
    pub fn read(&self, mem: MemIdx, start: u64, len: u64) -> Result<&[u8], InterpError> {
        let r = self.range(mem, start, len)?;
        Ok(&self.bytes[mem.0 as usize][r])
    }

    pub fn write(&mut self, mem: MemIdx, start: u64, data: &[u8]) -> Result<(), InterpError> {
        let r = self.range(mem, start, data.len() as u64)?;
        self.bytes[mem.0 as usize][r].copy_from_slice(data);
        Ok(())
    }

    pub fn size(&self, mem: MemIdx) -> Result<u64, InterpError> {
        self.sizes
            .get(mem.0 as usize)
            .copied()
            .ok_or_else(|| InterpError::Fault(format!("memory {mem} does not exist")))
    }
}

/// Tables and the type ids of function references.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tables {
    /// `entries[t]` is table t's whole reservation (funcrefs as modelled
    /// above), `sizes[t]` its current number of entries.
    pub entries: Vec<Vec<u32>>,
    pub sizes: Vec<u32>,
    /// Type id of every function, by function index.
    pub func_type_ids: Vec<u32>,
    /// Type id of every signature, by type index.
    pub sig_type_ids: Vec<u32>,
}

impl Tables {
    /// The funcref of function `func` in this model.
    pub fn func_ref(func: FuncIdx) -> u32 {
        func.0.wrapping_add(1)
    }

    fn func_of(funcref: u32) -> Result<FuncIdx, InterpError> {
        match funcref {
            0 => fault("null funcref used where the IR requires a non-null one"),
            r => Ok(FuncIdx(r - 1)),
        }
    }

    fn entry(&mut self, table: TableIdx, index: u32) -> Result<&mut u32, InterpError> {
        let Some(entries) = self.entries.get_mut(table.index()) else {
            return fault(format!("{table} does not exist"));
        };
        let len = entries.len();
        entries.get_mut(index as usize).ok_or_else(|| {
            InterpError::Fault(format!("entry {index} is outside {table}'s reservation of {len} entries"))
        })
    }
}

/// Everything a function can observe besides its arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    pub memories: Memories,
    pub globals: Vec<Val>,
    /// Data segments, for `memory_init`.
    pub data: Vec<Vec<u8>>,
    pub tables: Tables,
}

/// Executes `call` instructions.
pub trait Host {
    fn call(&mut self, func: FuncIdx, args: &[Val], state: &mut State) -> Result<Vec<Val>, InterpError>;
}

impl<F> Host for F
where
    F: FnMut(FuncIdx, &[Val], &mut State) -> Result<Vec<Val>, InterpError>,
{
    fn call(&mut self, func: FuncIdx, args: &[Val], state: &mut State) -> Result<Vec<Val>, InterpError> {
        self(func, args, state)
    }
}

/// A host that faults on every call (for functions that make none).
pub struct NoCalls;

impl Host for NoCalls {
    fn call(&mut self, func: FuncIdx, _: &[Val], _: &mut State) -> Result<Vec<Val>, InterpError> {
        Err(InterpError::Fault(format!("unexpected call to {func}")))
    }
}

/// Runs `func` on `args`, executing at most `fuel` instructions.
pub fn run(
    func: &Function,
    args: &[Val],
    state: &mut State,
    host: &mut dyn Host,
    fuel: u64,
) -> Result<Vec<Val>, InterpError> {
    Interp { func, state, host, env: vec![None; func.values.len()] }.run(args, fuel)
}

struct Interp<'a> {
    func: &'a Function,
    state: &'a mut State,
    host: &'a mut dyn Host,
    env: Vec<Option<Val>>,
}

fn fault<T>(msg: impl Into<String>) -> Result<T, InterpError> {
    Err(InterpError::Fault(msg.into()))
}

impl Interp<'_> {
    fn get(&self, v: Value) -> Result<Val, InterpError> {
        match self.env.get(v.index()) {
            Some(Some(x)) => Ok(*x),
            _ => fault(format!("{v} read before it was defined")),
        }
    }

    fn get_i32(&self, v: Value) -> Result<u32, InterpError> {
        match self.get(v)? {
            Val::I32(x) => Ok(x),
            other => fault(format!("{v} is {other}, expected i32")),
        }
    }

    fn get_addr(&self, v: Value, expect: MemIdx) -> Result<u64, InterpError> {
        match self.get(v)? {
            Val::Addr { mem, offset } if mem == expect => Ok(offset),
            other => fault(format!("{v} is {other}, expected addr<{expect}>")),
        }
    }

    fn set(&mut self, v: Value, x: Val) -> Result<(), InterpError> {
        let ty = self.func.value_type(v);
        if x.ty() != ty {
            return fault(format!("{v}: {ty} assigned a {}", x.ty()));
        }
        self.env[v.index()] = Some(x);
        Ok(())
    }

    fn enter(&mut self, call: &BlockCall) -> Result<Block, InterpError> {
        let vals = call.args.iter().map(|&a| self.get(a)).collect::<Result<Vec<_>, _>>()?;
        self.bind_params(call.block, &vals)?;
        Ok(call.block)
    }

    fn bind_params(&mut self, b: Block, vals: &[Val]) -> Result<(), InterpError> {
        let params = self.func.block_params(b).to_vec();
        if params.len() != vals.len() {
            return fault(format!("{b} takes {} arguments, given {}", params.len(), vals.len()));
        }
        for (p, x) in params.into_iter().zip(vals.iter().copied()) {
            self.set(p, x)?;
        }
        Ok(())
    }

    fn run(mut self, args: &[Val], mut fuel: u64) -> Result<Vec<Val>, InterpError> {
        let func = self.func;
        if func.layout.is_empty() {
            return fault("function has no blocks");
        }
        let mut block = func.entry();
        self.bind_params(block, args)?;
        loop {
            let mut next = None;
            for &inst in func.block_insts(block) {
                if fuel == 0 {
                    return Err(InterpError::OutOfFuel);
                }
                fuel -= 1;
                match self.step(inst)? {
                    Flow::Continue => {}
                    Flow::Goto(b) => {
                        next = Some(b);
                        break;
                    }
                    Flow::Return(vals) => return Ok(vals),
                }
            }
            match next {
                Some(b) => block = b,
                None => return fault(format!("{block} fell through without a terminator")),
            }
        }
    }

    fn step(&mut self, inst: crate::Inst) -> Result<Flow, InterpError> {
        use InstData::*;
        let func = self.func;
        let data = func.inst(inst);
        let results = func.inst_results(inst);
        let produced: Vec<Val> = match data {
            Iconst { ty, imm } => match ty {
                Type::I32 if *imm <= u32::MAX as u64 => vec![Val::I32(*imm as u32)],
                Type::I64 => vec![Val::I64(*imm)],
                _ => return fault(format!("{inst}: bad iconst")),
            },
            Unary { op, arg } => vec![eval_unary(*op, self.get(*arg)?)?],
            Binary { op, args } => vec![eval_binary(*op, self.get(args[0])?, self.get(args[1])?)?],
            Icmp { cc, args } => vec![eval_icmp(*cc, self.get(args[0])?, self.get(args[1])?)?],
            Convert { op, to, arg } => vec![eval_convert(*op, *to, self.get(*arg)?)?],
            Fconst { ty, bits } => match ty {
                Type::F32 if *bits <= u32::MAX as u64 => vec![Val::F32(*bits as u32)],
                Type::F64 => vec![Val::F64(*bits)],
                _ => return fault(format!("{inst}: bad fconst")),
            },
            FUnary { op, arg } => vec![eval_funary(*op, self.get(*arg)?)?],
            FBinary { op, args } => vec![eval_fbinary(*op, self.get(args[0])?, self.get(args[1])?)?],
            Fcmp { cc, args } => vec![eval_fcmp(*cc, self.get(args[0])?, self.get(args[1])?)?],
            Select { args } => {
                let c = self.get_i32(args[0])?;
                vec![self.get(if c != 0 { args[1] } else { args[2] })?]
            }
            MemBase { mem } => vec![Val::Addr { mem: *mem, offset: 0 }],
            AddrAdd { args } => match self.get(args[0])? {
                Val::Addr { mem, offset } => {
                    let index = self.get_i32(args[1])? as u64;
                    let Some(offset) = offset.checked_add(index) else {
                        return fault(format!("{inst}: address overflow"));
                    };
                    vec![Val::Addr { mem, offset }]
                }
                other => return fault(format!("{inst}: addr_add of {other}")),
            },
            BoundsCheck { mem, index, end } => {
                let index = self.get_i32(*index)? as u64;
                check_bounds(index as u128 + *end as u128, self.state.memories.size(*mem)?)?;
                vec![]
            }
            BoundsCheckDyn { mem, args } => {
                let index = self.get_i32(args[0])? as u128;
                let len = self.get_i32(args[1])? as u128;
                check_bounds(index + len, self.state.memories.size(*mem)?)?;
                vec![]
            }
            Load { mem, kind, addr, offset } => {
                let at = self.get_addr(*addr, *mem)? + *offset as u64;
                let bytes = self.state.memories.read(*mem, at, kind.width() as u64)?;
                vec![decode_load(*kind, bytes)]
            }
            Store { mem, kind, args, offset } => {
                let at = self.get_addr(args[0], *mem)? + *offset as u64;
                let bytes = encode_store(*kind, self.get(args[1])?)?;
                self.state.memories.write(*mem, at, &bytes)?;
                vec![]
            }
            MemSize { mem } => {
                let size = self.state.memories.size(*mem)?;
                let Ok(size) = u32::try_from(size) else {
                    return fault(format!("memory {mem} size {size} does not fit i32"));
                };
                vec![Val::I32(size)]
            }
            MemMax { mem } => {
                let Some(bytes) = self.state.memories.bytes.get(mem.0 as usize) else {
                    return fault(format!("memory {mem} does not exist"));
                };
                let Ok(max) = u32::try_from(bytes.len()) else {
                    return fault(format!("memory {mem} reservation {} does not fit i32", bytes.len()));
                };
                vec![Val::I32(max)]
            }
            MemSetSize { mem, arg } => {
                let bytes = self.get_i32(*arg)? as u64;
                match self.state.memories.sizes.get_mut(mem.0 as usize) {
                    Some(s) => *s = bytes,
                    None => return fault(format!("memory {mem} does not exist")),
                }
                vec![]
            }
            MemoryFill { mem, args } => {
                let dst = self.get_addr(args[0], *mem)?;
                let val = self.get_i32(args[1])? as u8;
                let len = self.get_i32(args[2])? as usize;
                self.state.memories.write(*mem, dst, &vec![val; len])?;
                vec![]
            }
            MemoryCopy { dst_mem, src_mem, args } => {
                let dst = self.get_addr(args[0], *dst_mem)?;
                let src = self.get_addr(args[1], *src_mem)?;
                let len = self.get_i32(args[2])? as u64;
                // Copy through a temporary: correct for overlap.
                let tmp = self.state.memories.read(*src_mem, src, len)?.to_vec();
                self.state.memories.write(*dst_mem, dst, &tmp)?;
                vec![]
            }
            MemoryInit { mem, seg, args } => {
                let dst = self.get_addr(args[0], *mem)?;
                let src = self.get_i32(args[1])? as usize;
                let len = self.get_i32(args[2])? as usize;
                let bytes = self.segment(*seg, src, len)?.to_vec();
                self.state.memories.write(*mem, dst, &bytes)?;
                vec![]
            }
            GlobalGet { global } => vec![self.global(*global)?],
            GlobalSet { global, arg } => {
                let x = self.get(*arg)?;
                let old = self.global(*global)?;
                if old.ty() != x.ty() {
                    return fault(format!("{global}: {} assigned a {}", old.ty(), x.ty()));
                }
                self.state.globals[global.index()] = x;
                vec![]
            }
            Call { func: callee, args } => {
                let args = args.iter().map(|&a| self.get(a)).collect::<Result<Vec<_>, _>>()?;
                self.host.call(*callee, &args, self.state)?
            }
            TableSize { table } => match self.state.tables.sizes.get(table.index()) {
                Some(&n) => vec![Val::I32(n)],
                None => return fault(format!("{table} does not exist")),
            },
            TableSetSize { table, arg } => {
                let n = self.get_i32(*arg)?;
                let tables = &mut self.state.tables;
                match (tables.sizes.get_mut(table.index()), tables.entries.get(table.index())) {
                    (Some(s), Some(e)) if n as usize <= e.len() => *s = n,
                    (Some(_), Some(e)) => {
                        return fault(format!("size of {table} set to {n}, beyond its reservation of {}", e.len()))
                    }
                    _ => return fault(format!("{table} does not exist")),
                }
                vec![]
            }
            TableGet { table, index } => {
                let index = self.get_i32(*index)?;
                vec![Val::I32(*self.state.tables.entry(*table, index)?)]
            }
            TableSet { table, args } => {
                let index = self.get_i32(args[0])?;
                let r = self.get_i32(args[1])?;
                *self.state.tables.entry(*table, index)? = r;
                vec![]
            }
            FuncRef { func } => vec![Val::I32(Tables::func_ref(*func))],
            FuncRefTypeId { arg } => {
                let f = Tables::func_of(self.get_i32(*arg)?)?;
                match self.state.tables.func_type_ids.get(f.index()) {
                    Some(&id) => vec![Val::I32(id)],
                    None => return fault(format!("no type id for {f}")),
                }
            }
            TypeId { sig } => vec![Val::I32(self.sig_type_id(*sig)?)],
            CallRef { args, .. } => {
                let f = Tables::func_of(self.get_i32(args[0])?)?;
                let args = args[1..].iter().map(|&a| self.get(a)).collect::<Result<Vec<_>, _>>()?;
                self.host.call(f, &args, self.state)?
            }
            Trap { code } => return Err(InterpError::Trap(*code)),
            TrapIf { nonzero, arg, code } => {
                if (self.get_i32(*arg)? != 0) == *nonzero {
                    return Err(InterpError::Trap(*code));
                }
                vec![]
            }
            Jump { dest } => return Ok(Flow::Goto(self.enter(dest)?)),
            Brif { arg, then_dest, else_dest } => {
                let dest = if self.get_i32(*arg)? != 0 { then_dest } else { else_dest };
                return Ok(Flow::Goto(self.enter(dest)?));
            }
            BrTable { arg, targets, default } => {
                let i = self.get_i32(*arg)? as usize;
                let b = targets.get(i).copied().unwrap_or(*default);
                self.bind_params(b, &[])?;
                return Ok(Flow::Goto(b));
            }
            Return { args } => {
                let vals = args.iter().map(|&a| self.get(a)).collect::<Result<Vec<_>, _>>()?;
                return Ok(Flow::Return(vals));
            }
        };
        if produced.len() != results.len() {
            return fault(format!("{inst} produced {} values for {} results", produced.len(), results.len()));
        }
        for (&r, x) in results.iter().zip(produced) {
            self.set(r, x)?;
        }
        Ok(Flow::Continue)
    }

    fn sig_type_id(&self, sig: SigIdx) -> Result<u32, InterpError> {
        match self.state.tables.sig_type_ids.get(sig.index()) {
            Some(&id) => Ok(id),
            None => fault(format!("no type id for {sig}")),
        }
    }

    fn global(&self, g: GlobalIdx) -> Result<Val, InterpError> {
        match self.state.globals.get(g.index()) {
            Some(x) => Ok(*x),
            None => fault(format!("global {g} does not exist")),
        }
    }

    fn segment(&self, seg: DataIdx, start: usize, len: usize) -> Result<&[u8], InterpError> {
        let Some(bytes) = self.state.data.get(seg.index()) else {
            return fault(format!("data segment {seg} does not exist"));
        };
        match start.checked_add(len) {
            Some(end) if end <= bytes.len() => Ok(&bytes[start..end]),
            _ => fault(format!("memory_init reads past the end of {seg}")),
        }
    }
}

enum Flow {
    Continue,
    Goto(Block),
    Return(Vec<Val>),
}

fn check_bounds(end: u128, size: u64) -> Result<(), InterpError> {
    if end > size as u128 {
        Err(InterpError::Trap(TrapCode::MemoryOutOfBounds))
    } else {
        Ok(())
    }
}

fn decode_load(kind: LoadKind, bytes: &[u8]) -> Val {
    let mut raw = [0u8; 8];
    raw[..bytes.len()].copy_from_slice(bytes);
    let x = u64::from_le_bytes(raw);
    use LoadKind::*;
    match kind {
        I32 => Val::I32(x as u32),
        I32_8S => Val::I32(x as u8 as i8 as i32 as u32),
        I32_8U => Val::I32(x as u8 as u32),
        I32_16S => Val::I32(x as u16 as i16 as i32 as u32),
        I32_16U => Val::I32(x as u16 as u32),
        I64 => Val::I64(x),
        I64_8S => Val::I64(x as u8 as i8 as i64 as u64),
        I64_8U => Val::I64(x as u8 as u64),
        I64_16S => Val::I64(x as u16 as i16 as i64 as u64),
        I64_16U => Val::I64(x as u16 as u64),
        I64_32S => Val::I64(x as u32 as i32 as i64 as u64),
        I64_32U => Val::I64(x as u32 as u64),
        F32 => Val::F32(x as u32),
        F64 => Val::F64(x),
    }
}

fn encode_store(kind: StoreKind, x: Val) -> Result<Vec<u8>, InterpError> {
    let bits = match (kind.ty(), x) {
        (Type::I32, Val::I32(v)) | (Type::F32, Val::F32(v)) => v as u64,
        (Type::I64, Val::I64(v)) | (Type::F64, Val::F64(v)) => v,
        (t, other) => return fault(format!("store of {t} given {other}")),
    };
    Ok(bits.to_le_bytes()[..kind.width() as usize].to_vec())
}

/// Evaluates a unary operation with the IR's semantics.
pub fn eval_unary(op: UnaryOp, x: Val) -> Result<Val, InterpError> {
    Ok(match (op, x) {
        (UnaryOp::Clz, Val::I32(a)) => Val::I32(a.leading_zeros()),
        (UnaryOp::Ctz, Val::I32(a)) => Val::I32(a.trailing_zeros()),
        (UnaryOp::Popcnt, Val::I32(a)) => Val::I32(a.count_ones()),
        (UnaryOp::Eqz, Val::I32(a)) => Val::I32((a == 0) as u32),
        (UnaryOp::Extend8S, Val::I32(a)) => Val::I32(a as u8 as i8 as i32 as u32),
        (UnaryOp::Extend16S, Val::I32(a)) => Val::I32(a as u16 as i16 as i32 as u32),
        (UnaryOp::Clz, Val::I64(a)) => Val::I64(a.leading_zeros() as u64),
        (UnaryOp::Ctz, Val::I64(a)) => Val::I64(a.trailing_zeros() as u64),
        (UnaryOp::Popcnt, Val::I64(a)) => Val::I64(a.count_ones() as u64),
        (UnaryOp::Eqz, Val::I64(a)) => Val::I32((a == 0) as u32),
        (UnaryOp::Extend8S, Val::I64(a)) => Val::I64(a as u8 as i8 as i64 as u64),
        (UnaryOp::Extend16S, Val::I64(a)) => Val::I64(a as u16 as i16 as i64 as u64),
        (UnaryOp::Extend32S, Val::I64(a)) => Val::I64(a as u32 as i32 as i64 as u64),
        (op, x) => return fault(format!("{op} of {x}")),
    })
}

/// Evaluates a binary operation with the IR's semantics (total division,
/// shift amounts taken modulo the bit width).
pub fn eval_binary(op: BinaryOp, x: Val, y: Val) -> Result<Val, InterpError> {
    match (x, y) {
        (Val::I32(a), Val::I32(b)) => Ok(Val::I32(binary32(op, a, b))),
        (Val::I64(a), Val::I64(b)) => Ok(Val::I64(binary64(op, a, b))),
        _ => fault(format!("{op} of {x} and {y}")),
    }
}

/// One integer binary operation per width: the IR's total semantics written
/// once, instantiated for i32 and i64.
macro_rules! int_binary {
    ($name:ident, $u:ty, $s:ty) => {
        fn $name(op: BinaryOp, a: $u, b: $u) -> $u {
            const BITS: $u = <$u>::BITS as $u;
            let (sa, sb) = (a as $s, b as $s);
            match op {
                BinaryOp::Add => a.wrapping_add(b),
                BinaryOp::Sub => a.wrapping_sub(b),
                BinaryOp::Mul => a.wrapping_mul(b),
                BinaryOp::DivS => {
                    if sb == 0 {
                        0
                    } else if sa == <$s>::MIN && sb == -1 {
                        <$s>::MIN as $u
                    } else {
                        (sa / sb) as $u
                    }
                }
                BinaryOp::DivU => a.checked_div(b).unwrap_or(0),
                BinaryOp::RemS => {
                    if sb == 0 {
                        a
                    } else if sb == -1 {
                        0
                    } else {
                        (sa % sb) as $u
                    }
                }
                BinaryOp::RemU => {
                    if b == 0 {
                        a
                    } else {
                        a % b
                    }
                }
                BinaryOp::And => a & b,
                BinaryOp::Or => a | b,
                BinaryOp::Xor => a ^ b,
                BinaryOp::Shl => a << (b % BITS),
                BinaryOp::ShrS => (sa >> (b % BITS)) as $u,
                BinaryOp::ShrU => a >> (b % BITS),
                BinaryOp::Rotl => a.rotate_left((b % BITS) as u32),
                BinaryOp::Rotr => a.rotate_right((b % BITS) as u32),
            }
        }
    };
}

int_binary!(binary32, u32, i32);
int_binary!(binary64, u64, i64);

/// The NaN every float operation of the IR produces when its result is NaN
/// and it is not a pure sign operation (abs, neg, copysign): the wasm
/// canonical NaN, so constant folding is deterministic across hosts and
/// agrees with Cortex-M VFP in default-NaN mode.
pub const CANONICAL_NAN32: u32 = 0x7fc0_0000;
pub const CANONICAL_NAN64: u64 = 0x7ff8_0000_0000_0000;

fn f32_result(x: f32) -> Val {
    Val::F32(if x.is_nan() { CANONICAL_NAN32 } else { x.to_bits() })
}

fn f64_result(x: f64) -> Val {
    Val::F64(if x.is_nan() { CANONICAL_NAN64 } else { x.to_bits() })
}

/// Evaluates a conversion to type `to` with the IR's (total) semantics.
pub fn eval_convert(op: ConvertOp, to: Type, x: Val) -> Result<Val, InterpError> {
    use ConvertOp::*;
    Ok(match (op, x, to) {
        (SExtend, Val::I32(a), Type::I64) => Val::I64(a as i32 as i64 as u64),
        (UExtend, Val::I32(a), Type::I64) => Val::I64(a as u64),
        (Wrap, Val::I64(a), Type::I32) => Val::I32(a as u32),
        (FDemote, Val::F64(a), Type::F32) => f32_result(f64::from_bits(a) as f32),
        (FPromote, Val::F32(a), Type::F64) => f64_result(f32::from_bits(a) as f64),
        (SIntToFloat, Val::I32(a), Type::F32) => f32_result(a as i32 as f32),
        (SIntToFloat, Val::I32(a), Type::F64) => f64_result(a as i32 as f64),
        (SIntToFloat, Val::I64(a), Type::F32) => f32_result(a as i64 as f32),
        (SIntToFloat, Val::I64(a), Type::F64) => f64_result(a as i64 as f64),
        (UIntToFloat, Val::I32(a), Type::F32) => f32_result(a as f32),
        (UIntToFloat, Val::I32(a), Type::F64) => f64_result(a as f64),
        (UIntToFloat, Val::I64(a), Type::F32) => f32_result(a as f32),
        (UIntToFloat, Val::I64(a), Type::F64) => f64_result(a as f64),
        // Rust's float-to-int `as` truncates, saturates and maps NaN to 0:
        // exactly wasm's trunc_sat.
        (FloatToSIntSat, Val::F32(a), Type::I32) => Val::I32(f32::from_bits(a) as i32 as u32),
        (FloatToSIntSat, Val::F32(a), Type::I64) => Val::I64(f32::from_bits(a) as i64 as u64),
        (FloatToSIntSat, Val::F64(a), Type::I32) => Val::I32(f64::from_bits(a) as i32 as u32),
        (FloatToSIntSat, Val::F64(a), Type::I64) => Val::I64(f64::from_bits(a) as i64 as u64),
        (FloatToUIntSat, Val::F32(a), Type::I32) => Val::I32(f32::from_bits(a) as u32),
        (FloatToUIntSat, Val::F32(a), Type::I64) => Val::I64(f32::from_bits(a) as u64),
        (FloatToUIntSat, Val::F64(a), Type::I32) => Val::I32(f64::from_bits(a) as u32),
        (FloatToUIntSat, Val::F64(a), Type::I64) => Val::I64(f64::from_bits(a) as u64),
        (Bitcast, Val::I32(a), Type::F32) => Val::F32(a),
        (Bitcast, Val::F32(a), Type::I32) => Val::I32(a),
        (Bitcast, Val::I64(a), Type::F64) => Val::F64(a),
        (Bitcast, Val::F64(a), Type::I64) => Val::I64(a),
        (op, x, to) => return fault(format!("{op} of {x} to {to}")),
    })
}

/// Evaluates a one-operand float operation.
pub fn eval_funary(op: FloatUnaryOp, x: Val) -> Result<Val, InterpError> {
    use FloatUnaryOp::*;
    Ok(match x {
        Val::F32(bits) => {
            let a = f32::from_bits(bits);
            match op {
                Abs => Val::F32(bits & 0x7fff_ffff),
                Neg => Val::F32(bits ^ 0x8000_0000),
                Sqrt => f32_result(a.sqrt()),
                Ceil => f32_result(a.ceil()),
                Floor => f32_result(a.floor()),
                Trunc => f32_result(a.trunc()),
                Nearest => f32_result(a.round_ties_even()),
            }
        }
        Val::F64(bits) => {
            let a = f64::from_bits(bits);
            match op {
                Abs => Val::F64(bits & 0x7fff_ffff_ffff_ffff),
                Neg => Val::F64(bits ^ 0x8000_0000_0000_0000),
                Sqrt => f64_result(a.sqrt()),
                Ceil => f64_result(a.ceil()),
                Floor => f64_result(a.floor()),
                Trunc => f64_result(a.trunc()),
                Nearest => f64_result(a.round_ties_even()),
            }
        }
        other => return fault(format!("{op} of {other}")),
    })
}

/// Evaluates a two-operand float operation.
pub fn eval_fbinary(op: FloatBinaryOp, x: Val, y: Val) -> Result<Val, InterpError> {
    use FloatBinaryOp::*;
    Ok(match (x, y) {
        (Val::F32(a), Val::F32(b)) => {
            let (fa, fb) = (f32::from_bits(a), f32::from_bits(b));
            match op {
                Add => f32_result(fa + fb),
                Sub => f32_result(fa - fb),
                Mul => f32_result(fa * fb),
                Div => f32_result(fa / fb),
                Min | Max if fa.is_nan() || fb.is_nan() => Val::F32(CANONICAL_NAN32),
                // Equal operands differ only in the sign of zero: min takes
                // the set sign bit, max the clear one.
                Min if fa == fb => Val::F32(a | b),
                Max if fa == fb => Val::F32(a & b),
                Min => f32_result(fa.min(fb)),
                Max => f32_result(fa.max(fb)),
                Copysign => Val::F32((a & 0x7fff_ffff) | (b & 0x8000_0000)),
            }
        }
        (Val::F64(a), Val::F64(b)) => {
            let (fa, fb) = (f64::from_bits(a), f64::from_bits(b));
            match op {
                Add => f64_result(fa + fb),
                Sub => f64_result(fa - fb),
                Mul => f64_result(fa * fb),
                Div => f64_result(fa / fb),
                Min | Max if fa.is_nan() || fb.is_nan() => Val::F64(CANONICAL_NAN64),
                Min if fa == fb => Val::F64(a | b),
                Max if fa == fb => Val::F64(a & b),
                Min => f64_result(fa.min(fb)),
                Max => f64_result(fa.max(fb)),
                Copysign => Val::F64((a & 0x7fff_ffff_ffff_ffff) | (b & 0x8000_0000_0000_0000)),
            }
        }
        _ => return fault(format!("{op} of {x} and {y}")),
    })
}

/// Evaluates a float comparison (result i32 0 or 1).
pub fn eval_fcmp(cc: FloatCC, x: Val, y: Val) -> Result<Val, InterpError> {
    let (a, b) = match (x, y) {
        (Val::F32(a), Val::F32(b)) => (f32::from_bits(a) as f64, f32::from_bits(b) as f64),
        (Val::F64(a), Val::F64(b)) => (f64::from_bits(a), f64::from_bits(b)),
        _ => return fault(format!("fcmp {cc} of {x} and {y}")),
    };
    let r = match cc {
        FloatCC::Eq => a == b,
        FloatCC::Ne => a != b,
        FloatCC::Lt => a < b,
        FloatCC::Gt => a > b,
        FloatCC::Le => a <= b,
        FloatCC::Ge => a >= b,
    };
    Ok(Val::I32(r as u32))
}

/// Evaluates an integer comparison (result i32 0 or 1).
pub fn eval_icmp(cc: IntCC, x: Val, y: Val) -> Result<Val, InterpError> {
    // Widen both operands so one comparison serves i32 and i64.
    let (ua, ub, sa, sb) = match (x, y) {
        (Val::I32(a), Val::I32(b)) => (a as u64, b as u64, a as i32 as i64, b as i32 as i64),
        (Val::I64(a), Val::I64(b)) => (a, b, a as i64, b as i64),
        _ => return fault(format!("icmp {cc} of {x} and {y}")),
    };
    let r = match cc {
        IntCC::Eq => ua == ub,
        IntCC::Ne => ua != ub,
        IntCC::LtS => sa < sb,
        IntCC::LtU => ua < ub,
        IntCC::GtS => sa > sb,
        IntCC::GtU => ua > ub,
        IntCC::LeS => sa <= sb,
        IntCC::LeU => ua <= ub,
        IntCC::GeS => sa >= sb,
        IntCC::GeU => ua >= ub,
    };
    Ok(Val::I32(r as u32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FunctionBuilder, Signature};

    // Expected values below are taken from the wasm spec test suite
    // (i32.wast / i64.wast), not computed by this file's code.
    #[test]
    fn i32_arithmetic_matches_spec_values() {
        let b = |op, a: u32, b: u32| eval_binary(op, Val::I32(a), Val::I32(b)).unwrap();
        assert_eq!(b(BinaryOp::Rotl, 0xfe00dc00, 4), Val::I32(0xe00dc00f));
        assert_eq!(b(BinaryOp::Rotr, 0xb0c1d2e3, 5), Val::I32(0x1d860e97));
        assert_eq!(b(BinaryOp::Rotl, 0xabcd9876, 1), Val::I32(0x579b30ed));
        assert_eq!(b(BinaryOp::Shl, 1, 32), Val::I32(1));
        assert_eq!(b(BinaryOp::ShrS, 0x80000000, 31), Val::I32(0xffffffff));
        assert_eq!(b(BinaryOp::ShrS, 0xffffffff, 33), Val::I32(0xffffffff));
        assert_eq!(b(BinaryOp::ShrU, 0x80000000, 63), Val::I32(1));
        assert_eq!(b(BinaryOp::DivS, (-7i32) as u32, 2), Val::I32((-3i32) as u32));
        assert_eq!(b(BinaryOp::RemS, (-7i32) as u32, 2), Val::I32((-1i32) as u32));
        assert_eq!(b(BinaryOp::RemS, 7, (-2i32) as u32), Val::I32(1));
        assert_eq!(b(BinaryOp::DivU, 0x80000000, 2), Val::I32(0x40000000));
        assert_eq!(b(BinaryOp::RemU, 0x8ff00ff0, 0x10001), Val::I32(0x8001));
        // The IR's total division (ARMv7-M SDIV/UDIV + MLS results).
        assert_eq!(b(BinaryOp::DivS, 5, 0), Val::I32(0));
        assert_eq!(b(BinaryOp::DivU, 5, 0), Val::I32(0));
        assert_eq!(b(BinaryOp::RemS, 5, 0), Val::I32(5));
        assert_eq!(b(BinaryOp::RemU, 5, 0), Val::I32(5));
        assert_eq!(b(BinaryOp::DivS, 0x80000000, 0xffffffff), Val::I32(0x80000000));
        assert_eq!(b(BinaryOp::RemS, 0x80000000, 0xffffffff), Val::I32(0));
    }

    #[test]
    fn i64_and_unary_match_spec_values() {
        let b = |op, a: u64, b: u64| eval_binary(op, Val::I64(a), Val::I64(b)).unwrap();
        assert_eq!(b(BinaryOp::Rotl, 0xabd1234ef567809c, 63), Val::I64(0x55e891a77ab3c04e));
        assert_eq!(b(BinaryOp::Rotr, 0xabd1234ef567809c, 63), Val::I64(0x57a2469deacf0139));
        assert_eq!(b(BinaryOp::Shl, 1, 64), Val::I64(1));
        assert_eq!(b(BinaryOp::RemS, 0x8000000000000000, u64::MAX), Val::I64(0));
        let u = |op, x| eval_unary(op, x).unwrap();
        assert_eq!(u(UnaryOp::Clz, Val::I32(0x00008000)), Val::I32(16));
        assert_eq!(u(UnaryOp::Ctz, Val::I32(0)), Val::I32(32));
        assert_eq!(u(UnaryOp::Popcnt, Val::I64(0xaaaaaaaa55555555)), Val::I64(32));
        assert_eq!(u(UnaryOp::Extend8S, Val::I32(0x80)), Val::I32(0xffffff80));
        assert_eq!(u(UnaryOp::Extend16S, Val::I64(0x7fff)), Val::I64(0x7fff));
        assert_eq!(u(UnaryOp::Extend16S, Val::I64(0x8000)), Val::I64(0xffffffffffff8000));
        assert_eq!(u(UnaryOp::Eqz, Val::I64(0)), Val::I32(1));
        let c = |cc, a: u32, b: u32| eval_icmp(cc, Val::I32(a), Val::I32(b)).unwrap();
        assert_eq!(c(IntCC::LtS, 0x80000000, 0), Val::I32(1));
        assert_eq!(c(IntCC::LtU, 0x80000000, 0), Val::I32(0));
        assert_eq!(c(IntCC::GeU, 0, 0), Val::I32(1));
    }

    // Float and conversion values below are the spec suite's (f32.wast,
    // f64.wast, conversions.wast, float_misc.wast), written out as bits.
    const NAN32: u32 = 0x7fc0_0000;
    const NAN64: u64 = 0x7ff8_0000_0000_0000;

    fn f32v(x: f32) -> Val {
        Val::F32(x.to_bits())
    }
    fn f64v(x: f64) -> Val {
        Val::F64(x.to_bits())
    }

    #[test]
    fn min_and_max_order_signed_zeros_and_propagate_nan() {
        let b = |op, x, y| eval_fbinary(op, x, y).unwrap();
        use FloatBinaryOp::{Max, Min};
        // f32.wast: min(-0, +0) = -0 either way round; max gives +0.
        assert_eq!(b(Min, f32v(-0.0), f32v(0.0)), Val::F32(0x8000_0000));
        assert_eq!(b(Min, f32v(0.0), f32v(-0.0)), Val::F32(0x8000_0000));
        assert_eq!(b(Max, f32v(-0.0), f32v(0.0)), Val::F32(0));
        assert_eq!(b(Max, f32v(0.0), f32v(-0.0)), Val::F32(0));
        assert_eq!(b(Min, f64v(-0.0), f64v(0.0)), Val::F64(0x8000_0000_0000_0000));
        assert_eq!(b(Max, f64v(0.0), f64v(-0.0)), Val::F64(0));
        // A NaN operand (any payload, either side) gives the canonical NaN,
        // even against infinity (Rust's f32::min would return the other).
        assert_eq!(b(Min, Val::F32(0x7fa0_0000), f32v(f32::NEG_INFINITY)), Val::F32(NAN32));
        assert_eq!(b(Max, f32v(1.0), Val::F32(0xffc0_0000)), Val::F32(NAN32));
        assert_eq!(b(Max, Val::F64(0x7ff4_0000_0000_0000), f64v(0.0)), Val::F64(NAN64));
        assert_eq!(b(Min, f64v(-1.0), f64v(1.0)), f64v(-1.0));
    }

    #[test]
    fn rounding_operations_break_ties_to_even_and_keep_signs() {
        let u = |op, x| eval_funary(op, x).unwrap();
        use FloatUnaryOp::*;
        // f32.wast / float_misc.wast: nearest rounds half to even.
        assert_eq!(u(Nearest, f32v(0.5)), f32v(0.0));
        assert_eq!(u(Nearest, f32v(-0.5)), Val::F32(0x8000_0000));
        assert_eq!(u(Nearest, f32v(1.5)), f32v(2.0));
        assert_eq!(u(Nearest, f32v(2.5)), f32v(2.0));
        assert_eq!(u(Nearest, f32v(-3.5)), f32v(-4.0));
        assert_eq!(u(Nearest, f64v(4.5)), f64v(4.0));
        // float_misc.wast: nearest(0x1.fffffep+22) = 0x1p+23 (not 2^23 - 1).
        assert_eq!(u(Nearest, Val::F32(0x4aff_ffff)), Val::F32(0x4b00_0000));
        assert_eq!(u(Nearest, f64v(4503599627370497.0)), f64v(4503599627370497.0));
        // ceil(-0.5) = -0, floor(0.5) = +0, trunc(-1.5) = -1.
        assert_eq!(u(Ceil, f32v(-0.5)), Val::F32(0x8000_0000));
        assert_eq!(u(Floor, f64v(-0.5)), f64v(-1.0));
        assert_eq!(u(Trunc, f32v(-1.5)), f32v(-1.0));
        assert_eq!(u(Sqrt, f64v(-0.0)), Val::F64(0x8000_0000_0000_0000));
        assert_eq!(u(Sqrt, f32v(-1.0)), Val::F32(NAN32));
        // abs/neg touch only the sign bit, NaN payloads included.
        assert_eq!(u(Neg, Val::F32(0x7fa0_0001)), Val::F32(0xffa0_0001));
        assert_eq!(u(Abs, Val::F64(0xfff4_0000_0000_0001)), Val::F64(0x7ff4_0000_0000_0001));
        // Any other operation of a NaN gives the canonical one.
        assert_eq!(u(Ceil, Val::F32(0xffa0_0001)), Val::F32(NAN32));
        assert_eq!(u(Floor, Val::F64(0x7ff0_0000_0000_0001)), Val::F64(NAN64));
    }

    #[test]
    fn nan_results_are_canonical_and_copysign_keeps_payloads() {
        let b = |op, x, y| eval_fbinary(op, x, y).unwrap();
        use FloatBinaryOp::*;
        assert_eq!(b(Add, f32v(f32::INFINITY), f32v(f32::NEG_INFINITY)), Val::F32(NAN32));
        assert_eq!(b(Div, f64v(0.0), f64v(0.0)), Val::F64(NAN64));
        assert_eq!(b(Sub, Val::F32(0x7f80_0001), f32v(1.0)), Val::F32(NAN32));
        assert_eq!(b(Mul, Val::F64(0xfff8_0000_0000_0001), f64v(2.0)), Val::F64(NAN64));
        assert_eq!(b(Copysign, Val::F32(0x7fa0_0001), f32v(-1.0)), Val::F32(0xffa0_0001));
        assert_eq!(b(Copysign, f64v(1.0), Val::F64(0xfff8_0000_0000_0000)), f64v(-1.0));
        // f32.wast: 0x1p-149 + 0x1p-149 (subnormals are not flushed).
        assert_eq!(b(Add, Val::F32(1), Val::F32(1)), Val::F32(2));
        let c = |cc, x, y| eval_fcmp(cc, x, y).unwrap();
        assert_eq!(c(FloatCC::Eq, f32v(-0.0), f32v(0.0)), Val::I32(1));
        assert_eq!(c(FloatCC::Lt, Val::F32(NAN32), f32v(0.0)), Val::I32(0));
        assert_eq!(c(FloatCC::Ne, Val::F64(NAN64), Val::F64(NAN64)), Val::I32(1));
        assert_eq!(c(FloatCC::Ge, f64v(f64::INFINITY), f64v(f64::MAX)), Val::I32(1));
    }

    #[test]
    fn conversions_match_spec_values() {
        let c = |op, to, x| eval_convert(op, to, x).unwrap();
        use ConvertOp::*;
        // trunc_sat: saturates at the range, NaN → 0.
        assert_eq!(c(FloatToSIntSat, Type::I32, f32v(2147483520.0)), Val::I32(2147483520));
        assert_eq!(c(FloatToSIntSat, Type::I32, f32v(2147483648.0)), Val::I32(0x7fff_ffff));
        assert_eq!(c(FloatToSIntSat, Type::I32, f32v(-2147483904.0)), Val::I32(0x8000_0000));
        assert_eq!(c(FloatToSIntSat, Type::I32, Val::F32(0xffa0_0000)), Val::I32(0));
        assert_eq!(c(FloatToUIntSat, Type::I32, f64v(4294967295.9)), Val::I32(0xffff_ffff));
        assert_eq!(c(FloatToUIntSat, Type::I32, f64v(-0.9)), Val::I32(0));
        assert_eq!(c(FloatToUIntSat, Type::I32, f64v(-1.0)), Val::I32(0));
        assert_eq!(c(FloatToSIntSat, Type::I64, f64v(9223372036854775808.0)), Val::I64(0x7fff_ffff_ffff_ffff));
        assert_eq!(c(FloatToSIntSat, Type::I64, f32v(-9223373136366403584.0)), Val::I64(0x8000_0000_0000_0000));
        assert_eq!(c(FloatToUIntSat, Type::I64, f32v(18446742974197923840.0)), Val::I64(18446742974197923840));
        assert_eq!(c(FloatToUIntSat, Type::I64, f64v(f64::INFINITY)), Val::I64(u64::MAX));
        assert_eq!(c(FloatToUIntSat, Type::I64, Val::F64(NAN64)), Val::I64(0));
        // Integer to float rounds to nearest even (conversions.wast).
        assert_eq!(c(SIntToFloat, Type::F32, Val::I32(16777217)), f32v(16777216.0));
        assert_eq!(c(SIntToFloat, Type::F32, Val::I64(0x7fff_ff40_0000_0001)), Val::F32(0x5eff_ffff));
        assert_eq!(c(UIntToFloat, Type::F32, Val::I32(0xffff_ff80)), Val::F32(0x4f80_0000));
        assert_eq!(c(UIntToFloat, Type::F64, Val::I64(u64::MAX)), Val::F64(0x43f0_0000_0000_0000));
        assert_eq!(c(SIntToFloat, Type::F64, Val::I64(9007199254740993)), f64v(9007199254740992.0));
        // Demote rounds, overflows to infinity, canonicalizes NaN; promote
        // is exact.
        assert_eq!(c(FDemote, Type::F32, Val::F64(0x47ef_ffff_efff_ffff)), Val::F32(0x7f7f_ffff));
        assert_eq!(c(FDemote, Type::F32, Val::F64(0x47ef_ffff_f000_0000)), f32v(f32::INFINITY));
        assert_eq!(c(FDemote, Type::F32, Val::F64(0x7ff4_0000_0000_0001)), Val::F32(NAN32));
        assert_eq!(c(FPromote, Type::F64, Val::F32(1)), Val::F64(0x36a0_0000_0000_0000));
        assert_eq!(c(FPromote, Type::F64, Val::F32(0xffa0_0000)), Val::F64(NAN64));
        // Extend/wrap and bitcasts.
        assert_eq!(c(SExtend, Type::I64, Val::I32(0x8000_0000)), Val::I64(0xffff_ffff_8000_0000));
        assert_eq!(c(UExtend, Type::I64, Val::I32(0x8000_0000)), Val::I64(0x8000_0000));
        assert_eq!(c(Wrap, Type::I32, Val::I64(0xffff_ffff_0000_0005)), Val::I32(5));
        assert_eq!(c(Bitcast, Type::F32, Val::I32(0x7fa0_0001)), Val::F32(0x7fa0_0001));
        assert_eq!(c(Bitcast, Type::I64, Val::F64(0xfff4_0000_0000_0001)), Val::I64(0xfff4_0000_0000_0001));
        // Wrong pairs are faults, not values.
        assert!(eval_convert(Wrap, Type::I32, Val::I32(1)).is_err());
        assert!(eval_convert(FDemote, Type::F64, Val::F64(0)).is_err());
    }

    fn copy_word() -> Function {
        // fn(x: i32) -> i32 { bounds check x on both; mem1[x+2] = mem0[x]; mem0[x] }
        let sig = Signature { params: vec![Type::I32], results: vec![Type::I32] };
        let mut f = Function::new(FuncIdx(0), "copy_word", sig);
        let mut b = FunctionBuilder::new(&mut f);
        let entry = b.create_block();
        b.switch_to_block(entry);
        let x = b.append_block_param(entry, Type::I32);
        b.bounds_check(MemIdx(0), x, 4);
        let a0 = b.mem_addr(MemIdx(0), x);
        let v = b.load(LoadKind::I32, a0, 0);
        b.bounds_check(MemIdx(1), x, 6);
        let a1 = b.mem_addr(MemIdx(1), x);
        b.store(StoreKind::I32, a1, v, 2);
        b.ret(&[v]);
        f
    }

    #[test]
    fn loads_stores_and_bounds_checks() {
        let f = copy_word();
        let mut state = State { memories: Memories::new(&[(16, 16), (16, 8)]), ..State::default() };
        state.memories.bytes[0][..8].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let r = run(&f, &[Val::I32(1)], &mut state, &mut NoCalls, 100).unwrap();
        assert_eq!(r, vec![Val::I32(0x05040302)]);
        assert_eq!(&state.memories.bytes[1][..8], &[0, 0, 0, 2, 3, 4, 5, 0]);
        // index 3 + end 6 = 9 > size 8 of memory 1: traps after the load.
        let e = run(&f, &[Val::I32(3)], &mut state, &mut NoCalls, 100).unwrap_err();
        assert_eq!(e, InterpError::Trap(TrapCode::MemoryOutOfBounds));
        // index 0xffff_fffe + 4 does not wrap around.
        let e = run(&f, &[Val::I32(0xffff_fffe)], &mut state, &mut NoCalls, 100).unwrap_err();
        assert_eq!(e, InterpError::Trap(TrapCode::MemoryOutOfBounds));
        // Exactly at the end is in bounds.
        let r = run(&f, &[Val::I32(2)], &mut state, &mut NoCalls, 100);
        assert_eq!(r, Ok(vec![Val::I32(0x06050403)]));
    }

    #[test]
    fn loops_branch_arguments_and_fuel() {
        // fn(n: i32) -> i32 { let s = 0; while n != 0 { s += n; n -= 1 } s }
        let sig = Signature { params: vec![Type::I32], results: vec![Type::I32] };
        let mut f = Function::new(FuncIdx(0), "sum", sig);
        let mut b = FunctionBuilder::new(&mut f);
        let entry = b.create_block();
        let header = b.create_block();
        let exit = b.create_block();
        let n0 = b.append_block_param(entry, Type::I32);
        let n = b.append_block_param(header, Type::I32);
        let s = b.append_block_param(header, Type::I32);
        let r = b.append_block_param(exit, Type::I32);
        b.switch_to_block(entry);
        let zero = b.iconst(Type::I32, 0);
        b.jump(header, &[n0, zero]);
        b.switch_to_block(header);
        let s2 = b.binary(BinaryOp::Add, s, n);
        let one = b.iconst(Type::I32, 1);
        let n2 = b.binary(BinaryOp::Sub, n, one);
        // Parallel assignment: header(n2, s2) reads the old n and s.
        b.brif(n2, header, &[n2, s2], exit, &[s2]);
        b.switch_to_block(exit);
        b.ret(&[r]);
        crate::verify(&f).unwrap();
        let mut st = State::default();
        assert_eq!(run(&f, &[Val::I32(4)], &mut st, &mut NoCalls, 1000), Ok(vec![Val::I32(10)]));
        assert_eq!(run(&f, &[Val::I32(1000)], &mut st, &mut NoCalls, 100), Err(InterpError::OutOfFuel));
    }

    #[test]
    fn calls_go_to_the_host_and_see_state() {
        let sig = Signature { params: vec![], results: vec![Type::I32] };
        let mut f = Function::new(FuncIdx(0), "caller", sig);
        let mut b = FunctionBuilder::new(&mut f);
        let entry = b.create_block();
        b.switch_to_block(entry);
        let g = b.global_get(GlobalIdx(0), Type::I32);
        let r = b.call(FuncIdx(7), &[g], &[Type::I32]);
        b.global_set(GlobalIdx(0), r[0]);
        b.ret(&[r[0]]);
        let mut st = State { globals: vec![Val::I32(5)], ..State::default() };
        let mut host = |callee: FuncIdx, args: &[Val], _: &mut State| {
            assert_eq!(callee, FuncIdx(7));
            match args {
                [Val::I32(x)] => Ok(vec![Val::I32(x * 3)]),
                _ => Err(InterpError::Fault("bad args".into())),
            }
        };
        assert_eq!(run(&f, &[], &mut st, &mut host, 100), Ok(vec![Val::I32(15)]));
        assert_eq!(st.globals, vec![Val::I32(15)]);
    }

    #[test]
    fn bulk_memory_sizes_and_br_table() {
        // fn(sel: i32) -> i32: fill mem0[0..4) with 0x11, copy mem0[2..6) to
        // mem1[1..5), init mem0[8..11) from data0[1..4), grow mem1 to 32
        // bytes, then br_table on sel: 0 → mem_size.1, 1 → load mem1[1],
        // default → select(sel, 7, 9) (sel != 0 here, so 7).
        let sig = Signature { params: vec![Type::I32], results: vec![Type::I32] };
        let mut f = Function::new(FuncIdx(0), "bulk", sig);
        let mut b = FunctionBuilder::new(&mut f);
        let entry = b.create_block();
        let (arm0, arm1, other) = (b.create_block(), b.create_block(), b.create_block());
        b.switch_to_block(entry);
        let sel = b.append_block_param(entry, Type::I32);
        let k = |b: &mut FunctionBuilder, x: u64| b.iconst(Type::I32, x);
        let (zero, one, two, three, four, eight) =
            (k(&mut b, 0), k(&mut b, 1), k(&mut b, 2), k(&mut b, 3), k(&mut b, 4), k(&mut b, 8));
        let fill_val = k(&mut b, 0x311);
        let dst0 = b.mem_addr(MemIdx(0), zero);
        b.memory_fill(MemIdx(0), dst0, fill_val, four);
        let src = b.mem_addr(MemIdx(0), two);
        let dst1 = b.mem_addr(MemIdx(1), one);
        b.memory_copy(MemIdx(1), MemIdx(0), dst1, src, four);
        let dst_init = b.mem_addr(MemIdx(0), eight);
        b.memory_init(MemIdx(0), DataIdx(0), dst_init, one, three);
        let thirty_two = k(&mut b, 32);
        b.mem_set_size(MemIdx(1), thirty_two);
        b.br_table(sel, vec![arm0, arm1], other);
        b.switch_to_block(arm0);
        let size = b.mem_size(MemIdx(1));
        b.ret(&[size]);
        b.switch_to_block(arm1);
        let a = b.mem_addr(MemIdx(1), one);
        let v = b.load(LoadKind::I32, a, 0);
        b.ret(&[v]);
        b.switch_to_block(other);
        let (seven, nine) = (k(&mut b, 7), k(&mut b, 9));
        let s = b.select(sel, seven, nine);
        b.ret(&[s]);
        crate::verify(&f).unwrap();
        let fresh = || State {
            memories: Memories::new(&[(16, 16), (16, 16)]),
            data: vec![vec![0xa0, 0xa1, 0xa2, 0xa3, 0xa4]],
            ..State::default()
        };
        let mut st = fresh();
        assert_eq!(run(&f, &[Val::I32(0)], &mut st, &mut NoCalls, 100), Ok(vec![Val::I32(32)]));
        assert_eq!(&st.memories.bytes[0][..12], &[0x11, 0x11, 0x11, 0x11, 0, 0, 0, 0, 0xa1, 0xa2, 0xa3, 0]);
        assert_eq!(&st.memories.bytes[1][..6], &[0, 0x11, 0x11, 0, 0, 0]);
        assert_eq!(st.memories.sizes, vec![16, 32]);
        let mut st = fresh();
        assert_eq!(run(&f, &[Val::I32(1)], &mut st, &mut NoCalls, 100), Ok(vec![Val::I32(0x1111)]));
        let mut st = fresh();
        assert_eq!(run(&f, &[Val::I32(5)], &mut st, &mut NoCalls, 100), Ok(vec![Val::I32(7)]));
    }

    #[test]
    fn unchecked_access_outside_the_reservation_is_a_fault_not_a_trap() {
        let sig = Signature { params: vec![Type::I32], results: vec![Type::I32] };
        let mut f = Function::new(FuncIdx(0), "raw", sig);
        let mut b = FunctionBuilder::new(&mut f);
        let entry = b.create_block();
        b.switch_to_block(entry);
        let x = b.append_block_param(entry, Type::I32);
        let a = b.mem_addr(MemIdx(0), x);
        let v = b.load(LoadKind::I32, a, 0);
        b.ret(&[v]);
        let mut st = State { memories: Memories::new(&[(8, 8)]), ..State::default() };
        assert_eq!(run(&f, &[Val::I32(4)], &mut st, &mut NoCalls, 10), Ok(vec![Val::I32(0)]));
        assert!(matches!(run(&f, &[Val::I32(5)], &mut st, &mut NoCalls, 10), Err(InterpError::Fault(_))));
    }
}
