//! Differential testing of the mid-end against the IR interpreter.
//!
//! Random functions (pure i32/i64 arithmetic over parameters and constants,
//! including division, shifts, comparisons and selects; f32/f64 constants,
//! arithmetic, comparisons and every conversion; bounds-checked loads
//! and stores on three memories, often repeating an earlier access's place
//! so that loads are redundant and checks implied; memory size changes,
//! globals, calls, traps; if/else diamonds and counted loops) are optimized
//! under every option set that switches a rule group off (and one with
//! given minimum memory sizes). The optimized function must verify, and on random arguments,
//! memory contents and sizes it must return the same values (or trap with
//! the same code) and leave the same memories and globals as the original.
//! Values compare bit for bit, floats included: both sides run under the
//! IR's semantics, whose NaN results are canonical, so folding must produce
//! exactly the bits the evaluators would.
//! The proptest runner uses a fixed seed so CI is reproducible.

use bulkhead_egraph::{optimize, EgraphOptions};
use bulkhead_ir::interp::{self, InterpError, Memories, State, Val};
use bulkhead_ir::{
    BinaryOp, Block, ConvertOp, FloatBinaryOp, FloatCC, FloatUnaryOp, FuncIdx, Function, FunctionBuilder, GlobalIdx,
    IntCC, LoadKind, MemIdx, Signature, StoreKind, TrapCode, Type, UnaryOp, Value,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

const MEMORIES: u32 = 3;
const RESERVED: usize = 64;
const FUEL: u64 = 200_000;

/// Operand selectors are resolved modulo the size of the pool of values of
/// the needed type that dominate the current point.
#[derive(Clone, Debug)]
enum Step {
    Const {
        wide: bool,
        value: u64,
    },
    Unary {
        op: u8,
        wide: bool,
        a: u16,
    },
    Binary {
        op: u8,
        wide: bool,
        a: u16,
        b: u16,
    },
    Icmp {
        cc: u8,
        wide: bool,
        a: u16,
        b: u16,
    },
    Select {
        kind: u8,
        c: u16,
        a: u16,
        b: u16,
    },
    Fconst {
        wide: bool,
        bits: u64,
    },
    FUnary {
        op: u8,
        wide: bool,
        a: u16,
    },
    FBinary {
        op: u8,
        wide: bool,
        a: u16,
        b: u16,
    },
    Fcmp {
        cc: u8,
        wide: bool,
        a: u16,
        b: u16,
    },
    /// Conversion number `conv` of [`CONVERSIONS`].
    Convert {
        conv: u8,
        a: u16,
    },
    Load {
        mem: u8,
        kind: u8,
        index: Index,
        extra: u8,
        offset: u8,
    },
    Store {
        mem: u8,
        kind: u8,
        index: Index,
        extra: u8,
        offset: u8,
        value: u16,
    },
    /// Accesses the place of an earlier load or store again (selected
    /// modulo the visible history): a load of a kind of the same width, or
    /// a store (of the earlier store's kind, or of the load's width). This is what makes loads redundant and
    /// checks implied.
    Again {
        back: u16,
        kind: u8,
        store: Option<u16>,
    },
    MemSize {
        mem: u8,
    },
    SetSize {
        mem: u8,
        bytes: u8,
    },
    GlobalGet {
        wide: bool,
    },
    GlobalSet {
        wide: bool,
        a: u16,
    },
    Call {
        a: u16,
    },
    /// `trapnz (icmp eq a, b)` or `trapz (icmp ne a, b)`: traps when
    /// `a == b`.
    TrapIf {
        nonzero: bool,
        a: u16,
        b: u16,
    },
    If {
        cond: u16,
    },
    Else,
    End,
    Loop {
        trips: u8,
    },
}

#[derive(Clone, Debug)]
enum Index {
    /// A pool value masked to 0..=31 (usually in bounds).
    Masked(u16),
    /// A pool value as is (usually far out of bounds).
    Raw(u16),
    Const(u8),
    /// The index of a recent access (selected like [`Step::Again`]) plus a
    /// constant, as wasm code computes `p + 4` for a neighbouring field.
    Near(u16, u8),
}

const INTERESTING: [u64; 14] =
    [0, 1, 2, 3, 31, 32, 63, 64, 0xff, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x8000_0000_0000_0000, u64::MAX];

fn value_strategy() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => prop::sample::select(&INTERESTING[..]),
        1 => any::<u64>(),
        1 => 0u64..16,
    ]
}

/// Float bits: zeros, ones, halves (rounding ties), the truncation
/// boundaries, extremes, infinities and NaNs (canonical, negative, with a
/// payload, signalling), as f32 bits in the low half or as f64 bits.
const F32_BITS: [u64; 16] = [
    0,
    0x8000_0000,
    0x3f80_0000,
    0xbf80_0000,
    0x3f00_0000,
    0x4020_0000,
    0xc020_0000,
    0x4f00_0000,
    0xcf00_0001,
    0x5f00_0000,
    0x7f7f_ffff,
    0x0000_0001,
    0x7f80_0000,
    0xff80_0000,
    0x7fc0_0000,
    0x7fa0_0001,
];
const F64_BITS: [u64; 16] = [
    0,
    0x8000_0000_0000_0000,
    0x3ff0_0000_0000_0000,
    0xbff0_0000_0000_0000,
    0x3fe0_0000_0000_0000,
    0x4004_0000_0000_0000,
    0xc004_0000_0000_0000,
    0x41e0_0000_0000_0000,
    0xc1e0_0000_0020_0000,
    0x43e0_0000_0000_0000,
    0x7fef_ffff_ffff_ffff,
    0x0000_0000_0000_0001,
    0x7ff0_0000_0000_0000,
    0xfff0_0000_0000_0000,
    0xfff8_0000_0000_0000,
    0x7ff4_0000_0000_0001,
];

fn float_strategy(wide: bool) -> impl Strategy<Value = u64> {
    let (table, mask) = if wide { (&F64_BITS, u64::MAX) } else { (&F32_BITS, u32::MAX as u64) };
    prop_oneof![
        3 => prop::sample::select(&table[..]),
        1 => any::<u64>().prop_map(move |x| x & mask),
    ]
}

fn step_strategy() -> impl Strategy<Value = Step> {
    let sel = any::<u16>;
    let index = prop_oneof![
        12 => sel().prop_map(Index::Masked),
        1 => sel().prop_map(Index::Raw),
        4 => (0u8..48).prop_map(Index::Const),
        3 => (0u16..3, 0u8..12).prop_map(|(back, c)| Index::Near(back, c)),
    ];
    prop_oneof![
        6 => (any::<bool>(), value_strategy()).prop_map(|(wide, value)| Step::Const { wide, value }),
        3 => (0u8..7, any::<bool>(), sel()).prop_map(|(op, wide, a)| Step::Unary { op, wide, a }),
        12 => (0u8..15, any::<bool>(), sel(), sel()).prop_map(|(op, wide, a, b)| Step::Binary { op, wide, a, b }),
        4 => (0u8..10, any::<bool>(), sel(), sel()).prop_map(|(cc, wide, a, b)| Step::Icmp { cc, wide, a, b }),
        3 => (0u8..4, sel(), sel(), sel()).prop_map(|(kind, c, a, b)| Step::Select { kind, c, a, b }),
        3 => any::<bool>().prop_flat_map(|wide| float_strategy(wide).prop_map(move |bits| Step::Fconst { wide, bits })),
        2 => (0u8..7, any::<bool>(), sel()).prop_map(|(op, wide, a)| Step::FUnary { op, wide, a }),
        4 => (0u8..7, any::<bool>(), sel(), sel()).prop_map(|(op, wide, a, b)| Step::FBinary { op, wide, a, b }),
        2 => (0u8..6, any::<bool>(), sel(), sel()).prop_map(|(cc, wide, a, b)| Step::Fcmp { cc, wide, a, b }),
        4 => (0u8..CONVERSIONS.len() as u8, sel()).prop_map(|(conv, a)| Step::Convert { conv, a }),
        5 => (0u8..3, 0u8..14, index.clone(), 0u8..3, 0u8..12)
            .prop_map(|(mem, kind, index, extra, offset)| Step::Load { mem, kind, index, extra, offset }),
        4 => (0u8..3, 0u8..9, index, 0u8..3, 0u8..12, sel()).prop_map(|(mem, kind, index, extra, offset, value)| {
            Step::Store { mem, kind, index, extra, offset, value }
        }),
        // Mostly the latest accesses: across an `if` or into a loop body
        // that is the place accessed just before it.
        6 => (prop_oneof![3 => 0u16..2, 1 => any::<u16>()], any::<u8>(), prop::option::weighted(0.3, sel()))
            .prop_map(|(back, kind, store)| Step::Again { back, kind, store }),
        1 => (0u8..3).prop_map(|mem| Step::MemSize { mem }),
        1 => (0u8..3, 0u8..=64).prop_map(|(mem, bytes)| Step::SetSize { mem, bytes }),
        1 => any::<bool>().prop_map(|wide| Step::GlobalGet { wide }),
        1 => (any::<bool>(), sel()).prop_map(|(wide, a)| Step::GlobalSet { wide, a }),
        1 => sel().prop_map(|a| Step::Call { a }),
        1 => (any::<bool>(), sel(), sel()).prop_map(|(nonzero, a, b)| Step::TrapIf { nonzero, a, b }),
        2 => sel().prop_map(|cond| Step::If { cond }),
        1 => Just(Step::Else),
        2 => Just(Step::End),
        1 => (0u8..4).prop_map(|trips| Step::Loop { trips }),
    ]
}

/// The last one (`Extend32S`) is i64 only.
const UNARY: [UnaryOp; 7] = [
    UnaryOp::Clz,
    UnaryOp::Ctz,
    UnaryOp::Popcnt,
    UnaryOp::Eqz,
    UnaryOp::Extend8S,
    UnaryOp::Extend16S,
    UnaryOp::Extend32S,
];
const FUNARY: [FloatUnaryOp; 7] = [
    FloatUnaryOp::Abs,
    FloatUnaryOp::Neg,
    FloatUnaryOp::Sqrt,
    FloatUnaryOp::Ceil,
    FloatUnaryOp::Floor,
    FloatUnaryOp::Trunc,
    FloatUnaryOp::Nearest,
];
const FBINARY: [FloatBinaryOp; 7] = [
    FloatBinaryOp::Add,
    FloatBinaryOp::Sub,
    FloatBinaryOp::Mul,
    FloatBinaryOp::Div,
    FloatBinaryOp::Min,
    FloatBinaryOp::Max,
    FloatBinaryOp::Copysign,
];
const FCCS: [FloatCC; 6] = [FloatCC::Eq, FloatCC::Ne, FloatCC::Lt, FloatCC::Gt, FloatCC::Le, FloatCC::Ge];
/// Every conversion wasm has: (op, from, to).
const CONVERSIONS: [(ConvertOp, Type, Type); 31] = {
    use ConvertOp::*;
    use Type::*;
    [
        (SExtend, I32, I64),
        (UExtend, I32, I64),
        (Wrap, I64, I32),
        (FDemote, F64, F32),
        (FPromote, F32, F64),
        (SIntToFloat, I32, F32),
        (SIntToFloat, I32, F64),
        (SIntToFloat, I64, F32),
        (SIntToFloat, I64, F64),
        (UIntToFloat, I32, F32),
        (UIntToFloat, I32, F64),
        (UIntToFloat, I64, F32),
        (UIntToFloat, I64, F64),
        (FloatToSIntSat, F32, I32),
        (FloatToSIntSat, F32, I64),
        (FloatToSIntSat, F64, I32),
        (FloatToSIntSat, F64, I64),
        (FloatToUIntSat, F32, I32),
        (FloatToUIntSat, F32, I64),
        (FloatToUIntSat, F64, I32),
        (FloatToUIntSat, F64, I64),
        (Bitcast, I32, F32),
        (Bitcast, F32, I32),
        (Bitcast, I64, F64),
        (Bitcast, F64, I64),
        // Repeated so the common integer ones come up more often.
        (SExtend, I32, I64),
        (Wrap, I64, I32),
        (Bitcast, F32, I32),
        (Bitcast, F64, I64),
        (FloatToSIntSat, F64, I32),
        (UIntToFloat, I64, F32),
    ]
};

fn float_ty(wide: bool) -> Type {
    if wide {
        Type::F64
    } else {
        Type::F32
    }
}
const BINARY: [BinaryOp; 15] = [
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::DivS,
    BinaryOp::DivU,
    BinaryOp::RemS,
    BinaryOp::RemU,
    BinaryOp::And,
    BinaryOp::Or,
    BinaryOp::Xor,
    BinaryOp::Shl,
    BinaryOp::ShrS,
    BinaryOp::ShrU,
    BinaryOp::Rotl,
    BinaryOp::Rotr,
];
const CCS: [IntCC; 10] = [
    IntCC::Eq,
    IntCC::Ne,
    IntCC::LtS,
    IntCC::LtU,
    IntCC::GtS,
    IntCC::GtU,
    IntCC::LeS,
    IntCC::LeU,
    IntCC::GeS,
    IntCC::GeU,
];
const LOADS: [LoadKind; 14] = [
    LoadKind::I32,
    LoadKind::I32_8S,
    LoadKind::I32_8U,
    LoadKind::I32_16S,
    LoadKind::I32_16U,
    LoadKind::I64,
    LoadKind::I64_8S,
    LoadKind::I64_8U,
    LoadKind::I64_16S,
    LoadKind::I64_16U,
    LoadKind::I64_32S,
    LoadKind::I64_32U,
    LoadKind::F32,
    LoadKind::F64,
];
const STORES: [StoreKind; 9] = [
    StoreKind::I32,
    StoreKind::I32_8,
    StoreKind::I32_16,
    StoreKind::I64,
    StoreKind::I64_8,
    StoreKind::I64_16,
    StoreKind::I64_32,
    StoreKind::F32,
    StoreKind::F64,
];

/// A checked access: memory, index value, constant address offset, load
/// or store immediate, width and kind.
#[derive(Clone, Copy)]
struct Access {
    mem: MemIdx,
    idx: Value,
    extra: u8,
    offset: u8,
    width: u32,
    store: Option<StoreKind>,
}

/// Values visible at the current point, per type, and the accesses made
/// with them.
#[derive(Clone, Default)]
struct Pools {
    i32s: Vec<Value>,
    i64s: Vec<Value>,
    f32s: Vec<Value>,
    f64s: Vec<Value>,
    accesses: Vec<Access>,
}

impl Pools {
    fn of(&mut self, ty: Type) -> &mut Vec<Value> {
        match ty {
            Type::I32 => &mut self.i32s,
            Type::I64 => &mut self.i64s,
            Type::F32 => &mut self.f32s,
            Type::F64 => &mut self.f64s,
            Type::Addr(_) => unreachable!("addresses are not pooled"),
        }
    }
    fn pick(&mut self, ty: Type, sel: u16) -> Option<Value> {
        let pool = self.of(ty);
        (!pool.is_empty()).then(|| pool[sel as usize % pool.len()])
    }
    fn last(&mut self, ty: Type) -> Value {
        *self.of(ty).last().expect("pools always hold the parameters")
    }
    fn push(&mut self, v: Value, ty: Type) {
        self.of(ty).push(v);
    }
}

enum Frame {
    If { else_block: Block, join: Block, saved: Pools, in_else: bool },
    Loop { header: Block, exit: Block, counter: Value, saved: Pools },
}

const MAX_NESTING: usize = 3;

fn int_ty(wide: bool) -> Type {
    if wide {
        Type::I64
    } else {
        Type::I32
    }
}

/// Builds a function `(i32, i32, i64, f32, f64) -> (i32, i32, i64, f32,
/// f64)` from the steps.
fn build(steps: &[Step], ret_sel: u16) -> Function {
    let sig = Signature {
        params: vec![Type::I32, Type::I32, Type::I64, Type::F32, Type::F64],
        results: vec![Type::I32, Type::I32, Type::I64, Type::F32, Type::F64],
    };
    let mut f = Function::new(FuncIdx(1), "random", sig.clone());
    let mut b = FunctionBuilder::new(&mut f);
    let entry = b.create_block();
    b.switch_to_block(entry);
    let mut pools = Pools::default();
    for &ty in &sig.params {
        let p = b.append_block_param(entry, ty);
        pools.push(p, ty);
    }
    let mut frames: Vec<Frame> = Vec::new();
    for step in steps {
        b.srcloc += 1;
        emit(&mut b, &mut pools, &mut frames, step);
    }
    while !frames.is_empty() {
        close(&mut b, &mut pools, &mut frames);
    }
    let a = pools.last(Type::I32);
    let c = pools.pick(Type::I32, ret_sel).unwrap();
    let d = pools.last(Type::I64);
    // Floats made inside an `if` or loop are not visible here (joins pass
    // only integers); they reach the result through bitcasts and
    // truncations into the integer pools, and through stores.
    let (e, g) = (pools.last(Type::F32), pools.last(Type::F64));
    b.ret(&[a, c, d, e, g]);
    f
}

/// Ends the innermost construct (the `else` arm of an `if` is empty if it
/// never got one).
fn close(b: &mut FunctionBuilder, pools: &mut Pools, frames: &mut Vec<Frame>) {
    match frames.pop() {
        Some(Frame::If { else_block, join, saved, in_else }) => {
            let args = [pools.last(Type::I32), pools.last(Type::I64)];
            b.jump(join, &args);
            *pools = saved.clone();
            if !in_else {
                b.switch_to_block(else_block);
                let args = [pools.last(Type::I32), pools.last(Type::I64)];
                b.jump(join, &args);
                *pools = saved;
            }
            b.switch_to_block(join);
            for p in b.func.block_params(join).to_vec() {
                let ty = b.func.value_type(p);
                pools.push(p, ty);
            }
        }
        Some(Frame::Loop { header, exit, counter, saved }) => {
            let one = b.iconst(Type::I32, 1);
            let next = b.binary(BinaryOp::Sub, counter, one);
            let args = [next, pools.last(Type::I32), pools.last(Type::I64)];
            b.jump(header, &args);
            *pools = saved;
            b.switch_to_block(exit);
            for p in b.func.block_params(exit).to_vec() {
                let ty = b.func.value_type(p);
                pools.push(p, ty);
            }
        }
        None => {}
    }
}

fn index_value(b: &mut FunctionBuilder, pools: &mut Pools, index: &Index) -> Value {
    match *index {
        Index::Masked(sel) => {
            let v = pools.pick(Type::I32, sel).unwrap();
            let mask = b.iconst(Type::I32, 0x1f);
            b.binary(BinaryOp::And, v, mask)
        }
        Index::Raw(sel) => pools.pick(Type::I32, sel).unwrap(),
        Index::Const(c) => b.iconst(Type::I32, c as u64),
        Index::Near(back, c) => {
            let k = b.iconst(Type::I32, c as u64);
            match pools.accesses.len() {
                0 => k,
                n => {
                    let earlier = pools.accesses[n - 1 - back as usize % n].idx;
                    b.binary(BinaryOp::Add, earlier, k)
                }
            }
        }
    }
}

/// A bounds-checked address for an access of `width` bytes at wasm address
/// `idx + extra + offset`, remembered in the history.
fn address(b: &mut FunctionBuilder, pools: &mut Pools, access: Access) -> Value {
    let Access { mem, idx, extra, offset, width, .. } = access;
    pools.accesses.push(access);
    // The wasm effective address is idx + extra + offset: the check covers
    // all of it, so the constant `extra` may be folded into the address.
    b.bounds_check(mem, idx, extra as u64 + offset as u64 + width as u64);
    let addr = b.mem_addr(mem, idx);
    if extra == 0 {
        addr
    } else {
        let k = b.iconst(Type::I32, extra as u64);
        b.addr_add(addr, k)
    }
}

fn emit(b: &mut FunctionBuilder, pools: &mut Pools, frames: &mut Vec<Frame>, step: &Step) {
    match *step {
        Step::Const { wide, value } => {
            let ty = int_ty(wide);
            let v = b.iconst(ty, value);
            pools.push(v, ty);
        }
        Step::Unary { op, wide, a } => {
            let ty = int_ty(wide);
            let x = pools.pick(ty, a).unwrap();
            let op = UNARY[op as usize];
            if op == UnaryOp::Extend32S && !wide {
                return;
            }
            let v = b.unary(op, x);
            pools.push(v, if op == UnaryOp::Eqz { Type::I32 } else { ty });
        }
        Step::Binary { op, wide, a, b: bb } => {
            let ty = int_ty(wide);
            let (x, y) = (pools.pick(ty, a).unwrap(), pools.pick(ty, bb).unwrap());
            let v = b.binary(BINARY[op as usize], x, y);
            pools.push(v, ty);
        }
        Step::Icmp { cc, wide, a, b: bb } => {
            let ty = int_ty(wide);
            let (x, y) = (pools.pick(ty, a).unwrap(), pools.pick(ty, bb).unwrap());
            let v = b.icmp(CCS[cc as usize], x, y);
            pools.push(v, Type::I32);
        }
        Step::Select { kind, c, a, b: bb } => {
            let ty = [Type::I32, Type::I64, Type::F32, Type::F64][kind as usize];
            let cond = pools.pick(Type::I32, c).unwrap();
            if let (Some(x), Some(y)) = (pools.pick(ty, a), pools.pick(ty, bb)) {
                let v = b.select(cond, x, y);
                pools.push(v, ty);
            }
        }
        Step::Fconst { wide, bits } => {
            let ty = float_ty(wide);
            let v = b.fconst(ty, bits);
            pools.push(v, ty);
        }
        Step::FUnary { op, wide, a } => {
            let ty = float_ty(wide);
            let x = pools.pick(ty, a).unwrap();
            let v = b.funary(FUNARY[op as usize], x);
            pools.push(v, ty);
        }
        Step::FBinary { op, wide, a, b: bb } => {
            let ty = float_ty(wide);
            let (x, y) = (pools.pick(ty, a).unwrap(), pools.pick(ty, bb).unwrap());
            let v = b.fbinary(FBINARY[op as usize], x, y);
            pools.push(v, ty);
        }
        Step::Fcmp { cc, wide, a, b: bb } => {
            let ty = float_ty(wide);
            let (x, y) = (pools.pick(ty, a).unwrap(), pools.pick(ty, bb).unwrap());
            let v = b.fcmp(FCCS[cc as usize], x, y);
            pools.push(v, Type::I32);
        }
        Step::Convert { conv, a } => {
            let (op, from, to) = CONVERSIONS[conv as usize];
            let x = pools.pick(from, a).unwrap();
            let v = b.convert(op, to, x);
            pools.push(v, to);
        }
        Step::Load { mem, kind, ref index, extra, offset } => {
            let kind = LOADS[kind as usize];
            let idx = index_value(b, pools, index);
            let access = Access { mem: MemIdx(mem as u32), idx, extra, offset, width: kind.width(), store: None };
            let addr = address(b, pools, access);
            let v = b.load(kind, addr, offset as u32);
            pools.push(v, kind.ty());
        }
        Step::Store { mem, kind, ref index, extra, offset, value } => {
            let kind = STORES[kind as usize];
            let Some(v) = pools.pick(kind.ty(), value) else { return };
            let idx = index_value(b, pools, index);
            let access = Access { mem: MemIdx(mem as u32), idx, extra, offset, width: kind.width(), store: Some(kind) };
            let addr = address(b, pools, access);
            b.store(kind, addr, v, offset as u32);
        }
        Step::Again { back, kind, store } => {
            if pools.accesses.is_empty() {
                return;
            }
            let earlier = pools.accesses[pools.accesses.len() - 1 - back as usize % pools.accesses.len()];
            match store {
                Some(value) => {
                    // The earlier store's kind, or one of the load's width.
                    let sk = earlier.store.unwrap_or_else(|| {
                        let same_width: Vec<StoreKind> =
                            STORES.iter().copied().filter(|k| k.width() == earlier.width).collect();
                        same_width[kind as usize % same_width.len()]
                    });
                    let Some(v) = pools.pick(sk.ty(), value) else { return };
                    let addr = address(b, pools, Access { store: Some(sk), ..earlier });
                    b.store(sk, addr, v, earlier.offset as u32);
                }
                None => {
                    let same_width: Vec<LoadKind> =
                        LOADS.iter().copied().filter(|k| k.width() == earlier.width).collect();
                    let kind = same_width[kind as usize % same_width.len()];
                    let addr = address(b, pools, Access { store: None, ..earlier });
                    let v = b.load(kind, addr, earlier.offset as u32);
                    pools.push(v, kind.ty());
                }
            }
        }
        Step::MemSize { mem } => {
            let v = b.mem_size(MemIdx(mem as u32));
            pools.push(v, Type::I32);
        }
        Step::SetSize { mem, bytes } => {
            let v = b.iconst(Type::I32, bytes as u64);
            b.mem_set_size(MemIdx(mem as u32), v);
        }
        Step::GlobalGet { wide } => {
            let ty = int_ty(wide);
            let v = b.global_get(GlobalIdx(wide as u32), ty);
            pools.push(v, ty);
        }
        Step::GlobalSet { wide, a } => {
            let ty = int_ty(wide);
            let v = pools.pick(ty, a).unwrap();
            b.global_set(GlobalIdx(wide as u32), v);
        }
        Step::Call { a } => {
            let x = pools.pick(Type::I32, a).unwrap();
            let r = b.call(FuncIdx(0), &[x], &[Type::I32]);
            pools.push(r[0], Type::I32);
        }
        Step::TrapIf { nonzero, a, b: bb } => {
            let (x, y) = (pools.pick(Type::I32, a).unwrap(), pools.pick(Type::I32, bb).unwrap());
            if nonzero {
                let c = b.icmp(IntCC::Eq, x, y);
                b.trapnz(c, TrapCode::IntegerDivideByZero);
            } else {
                let c = b.icmp(IntCC::Ne, x, y);
                b.trapz(c, TrapCode::IntegerOverflow);
            }
        }
        Step::If { cond } => {
            if frames.len() >= MAX_NESTING {
                return;
            }
            let c = pools.pick(Type::I32, cond).unwrap();
            let then_block = b.create_block();
            let else_block = b.create_block();
            let join = b.create_block();
            b.append_block_param(join, Type::I32);
            b.append_block_param(join, Type::I64);
            b.brif(c, then_block, &[], else_block, &[]);
            b.switch_to_block(then_block);
            frames.push(Frame::If { else_block, join, saved: pools.clone(), in_else: false });
        }
        Step::Else => {
            if let Some(Frame::If { else_block, join, saved, in_else }) = frames.last_mut() {
                if !*in_else {
                    *in_else = true;
                    let args = [pools.last(Type::I32), pools.last(Type::I64)];
                    let (else_block, join) = (*else_block, *join);
                    *pools = saved.clone();
                    b.jump(join, &args);
                    b.switch_to_block(else_block);
                }
            }
        }
        Step::End => close(b, pools, frames),
        Step::Loop { trips } => {
            if frames.len() >= MAX_NESTING {
                return;
            }
            let header = b.create_block();
            let body = b.create_block();
            let exit = b.create_block();
            let counter = b.append_block_param(header, Type::I32);
            let acc32 = b.append_block_param(header, Type::I32);
            let acc64 = b.append_block_param(header, Type::I64);
            let out32 = b.append_block_param(exit, Type::I32);
            let out64 = b.append_block_param(exit, Type::I64);
            let _ = (out32, out64);
            let n = b.iconst(Type::I32, trips as u64);
            let args = [n, pools.last(Type::I32), pools.last(Type::I64)];
            b.jump(header, &args);
            b.switch_to_block(header);
            b.brif(counter, body, &[], exit, &[acc32, acc64]);
            b.switch_to_block(body);
            let saved = pools.clone();
            pools.push(counter, Type::I32);
            pools.push(acc32, Type::I32);
            pools.push(acc64, Type::I64);
            frames.push(Frame::Loop { header, exit, counter, saved });
        }
    }
}

/// Function 0: reads a byte of memory 0, writes a byte of memory
/// `(x >> 16) % 3`, sometimes changes memory 2's size, bumps global 0,
/// returns a mix. Deterministic and total. (The IR lets a call change any
/// memory's contents and size; the optimizer must not carry facts across.)
fn host(func: FuncIdx, args: &[Val], state: &mut State) -> Result<Vec<Val>, InterpError> {
    let (FuncIdx(0), [Val::I32(x)]) = (func, args) else {
        return Err(InterpError::Fault(format!("unexpected call {func}({args:?})")));
    };
    let read = state.memories.bytes[0][(*x as usize) % RESERVED];
    state.memories.bytes[((*x >> 16) % MEMORIES) as usize][((*x >> 8) as usize) % RESERVED] = *x as u8;
    if *x & 0x0100_0000 != 0 {
        state.memories.sizes[2] = (*x as u64) % (RESERVED as u64 + 1);
    }
    if let Some(Val::I32(g)) = state.globals.get_mut(0) {
        *g = g.wrapping_add(1);
    }
    Ok(vec![Val::I32(x.wrapping_mul(3).wrapping_add(read as u32))])
}

#[derive(Clone, Debug)]
struct Inputs {
    args: (u64, u64, u64, u64, u64),
    sizes: Vec<u64>,
    bytes: Vec<Vec<u8>>,
    globals: (u32, u64),
}

fn inputs_strategy() -> impl Strategy<Value = Inputs> {
    (
        (value_strategy(), value_strategy(), value_strategy(), float_strategy(false), float_strategy(true)),
        prop::collection::vec(prop_oneof![3 => Just(RESERVED as u64), 1 => 0u64..=RESERVED as u64], MEMORIES as usize),
        prop::collection::vec(prop::collection::vec(any::<u8>(), RESERVED), MEMORIES as usize),
        (any::<u32>(), any::<u64>()),
    )
        .prop_map(|(args, sizes, bytes, globals)| Inputs { args, sizes, bytes, globals })
}

fn execute(f: &Function, inp: &Inputs) -> (Result<Vec<Val>, InterpError>, State) {
    let mut state = State {
        memories: Memories { bytes: inp.bytes.clone(), sizes: inp.sizes.clone() },
        globals: vec![Val::I32(inp.globals.0), Val::I64(inp.globals.1)],
        data: Vec::new(),
        ..State::default()
    };
    let args = [
        Val::I32(inp.args.0 as u32),
        Val::I32(inp.args.1 as u32),
        Val::I64(inp.args.2),
        Val::F32(inp.args.3 as u32),
        Val::F64(inp.args.4),
    ];
    let result = interp::run(f, &args, &mut state, &mut host, FUEL);
    (result, state)
}

/// Minimum sizes given to the "min-sizes" option set; inputs with smaller
/// memories do not meet its precondition and are not run with it.
const MIN_SIZES: [u64; MEMORIES as usize] = [24, 0, 8];

fn option_sets() -> Vec<(&'static str, EgraphOptions)> {
    let all = EgraphOptions::default();
    vec![
        ("default", all.clone()),
        ("no-cse", EgraphOptions { cse: false, ..all.clone() }),
        ("no-const-fold", EgraphOptions { const_fold: false, ..all.clone() }),
        ("no-algebraic", EgraphOptions { algebraic: false, ..all.clone() }),
        ("no-bounds-checks", EgraphOptions { bounds_checks: false, ..all.clone() }),
        ("no-loads", EgraphOptions { loads: false, ..all.clone() }),
        ("memory-rules-only", EgraphOptions { const_fold: false, algebraic: false, ..all.clone() }),
        ("min-sizes", EgraphOptions { memory_min_bytes: MIN_SIZES.to_vec(), ..all.clone() }),
        ("one-iteration", EgraphOptions { iter_limit: 1, ..all }),
    ]
}

/// How the original runs ended: (returned, trapped).
type Outcomes = std::cell::Cell<(usize, usize)>;

fn check(steps: &[Step], ret_sel: u16, inputs: &[Inputs], outcomes: &Outcomes) -> Result<(), TestCaseError> {
    let f = build(steps, ret_sel);
    if let Err(e) = bulkhead_ir::verify(&f) {
        return Err(TestCaseError::fail(format!("generator bug: {e}\n{f}")));
    }
    let expected: Vec<_> = inputs.iter().map(|inp| execute(&f, inp)).collect();
    for (result, _) in &expected {
        let (returned, trapped) = outcomes.get();
        match result {
            Ok(_) => outcomes.set((returned + 1, trapped)),
            Err(InterpError::Trap(_)) => outcomes.set((returned, trapped + 1)),
            Err(e) => return Err(TestCaseError::fail(format!("generator bug: original {e}\n{f}"))),
        }
    }
    for (name, opts) in option_sets() {
        let (g, stats) = optimize(&f, &opts);
        if let Err(e) = bulkhead_ir::verify(&g) {
            return Err(TestCaseError::fail(format!("[{name}] {e}\noriginal:\n{f}\noptimized:\n{g}")));
        }
        let internal = stats.limit_hit.as_deref().is_some_and(|l| l.contains("not optimized"));
        prop_assert!(!internal, "[{}] {}\n{}", name, stats, f);
        if name == "default" {
            prop_assert!(stats.limit_hit.is_none(), "[{}] {}", name, stats);
            let (again, _) = optimize(&f, &opts);
            prop_assert_eq!(again.to_string(), g.to_string(), "nondeterministic output");
        }
        for (inp, (want, want_state)) in inputs.iter().zip(&expected) {
            if name == "min-sizes" && inp.sizes.iter().zip(MIN_SIZES).any(|(&size, min)| size < min) {
                continue;
            }
            let (got, got_state) = execute(&g, inp);
            if &got != want || &got_state != want_state {
                return Err(TestCaseError::fail(format!(
                    "[{name}] inputs {inp:?}\nexpected {want:?}\ngot      {got:?}\nstates equal: {}\noriginal:\n{f}\noptimized:\n{g}",
                    &got_state == want_state
                )));
            }
        }
    }
    Ok(())
}

fn runner(cases: u32) -> TestRunner {
    let config = Config { cases, failure_persistence: None, rng_algorithm: RngAlgorithm::ChaCha, ..Config::default() };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

#[test]
fn optimized_functions_behave_like_the_originals() {
    let strategy =
        (prop::collection::vec(step_strategy(), 1..48), any::<u16>(), prop::collection::vec(inputs_strategy(), 4));
    let outcomes = Outcomes::default();
    let result = runner(512).run(&strategy, |(steps, ret_sel, inputs)| check(&steps, ret_sel, &inputs, &outcomes));
    if let Err(e) = result {
        panic!("{e}");
    }
    // Both paths must be well exercised for the comparison to mean much.
    let (returned, trapped) = outcomes.get();
    eprintln!("original runs: {returned} returned, {trapped} trapped");
    assert!(returned * 3 > returned + trapped, "{returned} returned, {trapped} trapped");
    assert!(trapped * 10 > returned + trapped, "{returned} returned, {trapped} trapped");
}

/// Runs `cases` random programs of up to `max_steps` steps, each step
/// satisfying `keep`, through [`check`]; returns how the originals ended.
fn check_programs(keep: fn(&Step) -> bool, max_steps: usize, cases: u32) -> (usize, usize) {
    let step = step_strategy().prop_filter("step kind not wanted", keep);
    let strategy =
        (prop::collection::vec(step, 1..max_steps), any::<u16>(), prop::collection::vec(inputs_strategy(), 4));
    let outcomes = Outcomes::default();
    let result = runner(cases).run(&strategy, |(steps, ret_sel, inputs)| check(&steps, ret_sel, &inputs, &outcomes));
    if let Err(e) = result {
        panic!("{e}");
    }
    outcomes.get()
}

/// Straight-line programs of pure arithmetic only: every instruction is in
/// the e-graph, so this stresses folding and the algebraic rules.
#[test]
fn pure_arithmetic_behaves_like_the_original() {
    let pure = |s: &Step| {
        matches!(
            s,
            Step::Const { .. }
                | Step::Unary { .. }
                | Step::Binary { .. }
                | Step::Icmp { .. }
                | Step::Select { .. }
                | Step::Fconst { .. }
                | Step::FUnary { .. }
                | Step::FBinary { .. }
                | Step::Fcmp { .. }
                | Step::Convert { .. }
        )
    };
    check_programs(pure, 64, 256);
}

/// Programs of memory traffic and control flow only: loads, stores and
/// repeated accesses on three memories around diamonds, loops, calls and
/// size changes, where a missed write (in one arm, a loop body, a callee)
/// would make a merged load or a dropped check observable.
#[test]
fn memory_traffic_behaves_like_the_original() {
    let memory = |s: &Step| {
        matches!(
            s,
            Step::Const { .. }
                | Step::Load { .. }
                | Step::Store { .. }
                | Step::Again { .. }
                | Step::SetSize { .. }
                | Step::Call { .. }
                | Step::If { .. }
                | Step::Else
                | Step::End
                | Step::Loop { .. }
        )
    };
    let (returned, trapped) = check_programs(memory, 40, 512);
    assert!(returned > 200 && trapped > 200, "{returned} returned, {trapped} trapped");
}

/// The generator itself must produce programs that exercise the rules:
/// otherwise the tests above prove little.
#[test]
fn generated_programs_exercise_the_rules() {
    let strategy = (prop::collection::vec(step_strategy(), 1..48), any::<u16>());
    let mut runner = runner(1);
    let mut totals: std::collections::BTreeMap<&'static str, usize> = Default::default();
    let mut programs_with_loops = 0;
    let mut programs_with_float_folds = 0;
    for _ in 0..400 {
        let (steps, ret_sel) = strategy.new_tree(&mut runner).unwrap().current();
        let f = build(&steps, ret_sel);
        let (_, stats) = optimize(&f, &EgraphOptions::default());
        for (name, n) in stats.rewrites {
            *totals.entry(name).or_default() += n;
        }
        programs_with_loops += steps.iter().any(|s| matches!(s, Step::Loop { .. })) as usize;
        // A float constant the original does not have was folded.
        let fconsts = |f: &Function| -> std::collections::BTreeSet<u64> {
            f.layout
                .iter()
                .flat_map(|&blk| f.block_insts(blk).iter())
                .filter_map(|&i| match f.inst(i) {
                    bulkhead_ir::InstData::Fconst { bits, .. } => Some(*bits),
                    _ => None,
                })
                .collect()
        };
        let (g, _) = optimize(&f, &EgraphOptions::default());
        programs_with_float_folds += !fconsts(&g).is_subset(&fconsts(&f)) as usize;
    }
    eprintln!("rewrites over 400 programs: {totals:?}");
    assert!(programs_with_float_folds > 10, "float folding seen in {programs_with_float_folds} programs");
    for rule in [
        "cse",
        "const-fold",
        "add-zero",
        "mul-zero",
        "and-zero",
        "shift-by-zero",
        "select-const-cond",
        "addr-add-fold",
        "bounds-check-dominated",
        "load-cse",
        "store-to-load",
    ] {
        assert!(totals.get(rule).copied().unwrap_or(0) > 0, "{rule} never fired: {totals:?}");
    }
    assert!(programs_with_loops > 20);
}
