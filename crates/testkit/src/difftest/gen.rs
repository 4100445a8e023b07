//! Random multi-memory wasm programs over the integer subset of wasm: up to
//! 8 memories (64 KiB or 1-byte pages), i32 and (with [`GenConfig::i64`])
//! i64 arithmetic including the trapping divisions, comparisons,
//! extend/wrap, loads and stores of every width on every memory,
//! memory.size/grow/fill/init, memory.copy between any two memories (and
//! within one, overlapping in both directions), data.drop, i32 and i64
//! globals, blocks and ifs with and without i32/i64 results, loops, br,
//! br_if, br_table, return, unreachable, direct and indirect calls with
//! 0-6 i32/i64 parameters and 1-3 results; and (with [`GenConfig::floats`])
//! f32/f64 expressions: every arithmetic, rounding, sign, min/max and
//! comparison operator, conversions between every integer and float type
//! (saturating, and trapping ones when risky), promote/demote,
//! reinterpretations, float locals, selects and `if`s with float results.
//! Float values only reach the observable state (results, memory,
//! globals) through NaN-insensitive integer sinks: comparisons,
//! saturating truncations, or their bits after a `select` that replaces
//! any NaN by the canonical one — wasm leaves NaN payloads
//! nondeterministic (the reference, wasmi, propagates them; bulkhead's
//! routines return the canonical NaN), so any NaN must equal any NaN.
//!
//! Programs are built with a typed-stack discipline so every module
//! validates: statements leave the stack as they found it, expressions push
//! one i32 ([`FuncGen::expr`]) or one i64 ([`FuncGen::expr64`]). Loops are bounded by dedicated counter locals (no branch other
//! than the counter's `br_if` targets a loop) and calls only go to
//! higher-numbered functions, so every program terminates. Addresses are
//! usually masked into the memory's minimum or maximum size, sometimes not,
//! and static offsets are sometimes near 2^32, so in-bounds accesses,
//! accesses that need a prior `memory.grow`, and out-of-bounds traps
//! (including effective addresses above 4 GiB) are all exercised.
//!
//! Everything is drawn from one [`Rng`] seeded by the caller: the same seed
//! and [`GenConfig`] give the same module on every machine.

use std::borrow::Cow;

use wasm_encoder::{
    BlockType, CodeSection, ConstExpr, DataCountSection, DataSection, ElementSection, Elements,
    ExportKind, ExportSection, Function, FunctionSection, GlobalSection, GlobalType,
    Instruction as I, MemArg, MemArgTarget, MemorySection, MemoryType, Module, RefType,
    StartSection, TableSection, TableType, TypeSection, ValType,
};

/// Deterministic splitmix64: the same seed gives the same program on every
/// machine, so a failing seed can be replayed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    /// An i32 biased towards the edge values that break code generators
    /// (immediate-encoding limits, shift amounts, sign boundaries).
    pub fn interesting_i32(&mut self) -> i32 {
        match self.below(10) {
            0 => *self.pick(&[
                0,
                1,
                -1,
                i32::MIN,
                i32::MAX,
                2,
                31,
                32,
                33,
                255,
                256,
                257,
                4095,
                4096,
                65535,
                65536,
                0x00FF_00FF,
                0xFF00_FF00u32 as i32,
                0x1FE,
                -256,
            ]),
            1..=4 => self.below(64) as i32 - 8,
            5 => self.below(1 << 16) as i32,
            6 => -(self.below(1 << 12) as i32),
            _ => self.next_u64() as i32,
        }
    }

    /// An i64 biased towards edge values: word boundaries (where register
    /// pairs carry and borrow), sign boundaries, small values.
    pub fn interesting_i64(&mut self) -> i64 {
        match self.below(10) {
            0 | 1 => *self.pick(&[
                0,
                1,
                -1,
                i64::MIN,
                i64::MAX,
                32,
                63,
                64,
                0xFFFF_FFFF,
                0x1_0000_0000,
                0x1_0000_0001,
                0x7FFF_FFFF,
                0x8000_0000,
                -0x8000_0000,
                -0x1_0000_0000,
                0x0000_0001_FFFF_FFFF,
                0x8000_0000_0000_0001u64 as i64,
                0x00FF_00FF_00FF_00FF,
            ]),
            2..=4 => self.below(80) as i64 - 8,
            5 => self.interesting_i32() as i64,
            6 => {
                (self.interesting_i32() as u32 as i64) << 32 | self.interesting_i32() as u32 as i64
            }
            _ => self.next_u64() as i64,
        }
    }
}

#[derive(Clone, Debug)]
pub struct GenConfig {
    pub max_memories: u32,
    pub max_functions: u32,
    pub calls_per_module: u32,
    /// Emit memory.fill / memory.copy (across memories too) / memory.init /
    /// data.drop.
    pub bulk_memory: bool,
    /// Nesting depth of statements in function bodies (3 by default).
    pub max_stmt_depth: u32,
    /// Depth of expression trees: each function draws its own from
    /// `max_expr_depth - 2 ..= max_expr_depth` (5 by default), so some
    /// functions need many registers at once.
    pub max_expr_depth: u32,
    /// Percentage of memory accesses, bulk operations and divisors drawn
    /// without regard to bounds or zero (the rest are in bounds of the
    /// memory's minimum size, or nonzero): a trap ends the call, so a high
    /// rate would leave most of every program unexecuted.
    pub risky_percent: u64,
    /// Emit a table holding every function and `call_indirect` through it.
    pub call_indirect: bool,
    /// Emit i64 values: locals, globals, parameters and results, arithmetic,
    /// comparisons, extend/wrap, i64 loads and stores.
    pub i64: bool,
    /// Emit f32/f64 expressions (see the module documentation).
    pub floats: bool,
    /// Most core registers a function's results may take, allocated like
    /// AAPCS arguments (an i32 takes the next register, an i64 the next
    /// even-aligned pair). No limit by default; 4 (r0-r3) keeps the
    /// programs within what a backend that returns results only in
    /// registers compiles (bulkhead's did until 06:30 UTC 2026-11-22).
    pub max_result_words: u32,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            max_memories: 8,
            max_functions: 4,
            calls_per_module: 4,
            bulk_memory: true,
            max_stmt_depth: 3,
            max_expr_depth: 5,
            risky_percent: 1,
            call_indirect: true,
            i64: true,
            floats: true,
            max_result_words: u32::MAX,
        }
    }
}

#[derive(Clone, Debug)]
pub struct MemorySpec {
    pub page_size_log2: u32,
    pub min_pages: u64,
    pub max_pages: u64,
}

impl MemorySpec {
    pub fn min_bytes(&self) -> u64 {
        self.min_pages << self.page_size_log2
    }
    pub fn max_bytes(&self) -> u64 {
        self.max_pages << self.page_size_log2
    }
}

#[derive(Clone, Debug)]
pub struct GeneratedModule {
    pub wasm: Vec<u8>,
    pub memories: Vec<MemorySpec>,
    /// Types of the mutable globals (i32 or i64), exported as `g0, g1, ...`.
    pub global_types: Vec<ValType>,
    /// Calls of the export `run` (two i32 params, one i32 result), in order,
    /// on one instance.
    pub calls: Vec<[i32; 2]>,
}

/// The export every generated module calls: function 0, `(i32, i32) -> i32`.
pub const ENTRY_EXPORT: &str = "run";

/// A function signature (i32 and i64 only).
#[derive(Clone, Debug)]
struct Sig {
    params: Vec<ValType>,
    results: Vec<ValType>,
}

/// An enclosing label, innermost last in [`FuncGen::labels`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Label {
    /// A loop: only its own counter's `br_if` targets it (anything else
    /// could loop forever).
    Loop,
    /// A block or if without results.
    Empty,
    /// A block or if with one i32 result: branches to it carry a value.
    Value,
    /// A block or if with one i64 result.
    Value64,
    /// An if with a float result (nothing branches to it).
    Float,
}

struct FuncGen<'a> {
    rng: &'a mut Rng,
    cfg: &'a GenConfig,
    memories: &'a [MemorySpec],
    sigs: &'a [Sig],
    global_types: &'a [ValType],
    num_passive: u32,
    passive_lens: &'a [u32],
    sig: Sig,
    /// Calls go only to functions `first_callee..` (higher indices than
    /// the caller; the start function may call them all).
    first_callee: u32,
    /// Types of the params and scratch locals (which come first), then one
    /// i32 loop counter per nesting level, then `temp` and `temp64`.
    local_types: Vec<ValType>,
    first_counter: u32,
    max_loop_depth: u32,
    /// Locals only the divisor guards (and result folding) use.
    temp: u32,
    temp64: u32,
    /// f32 and f64 scratch locals (declared when floats are on).
    ftemp32: u32,
    ftemp64: u32,
    loop_depth: u32,
    labels: Vec<Label>,
    /// How many expression-level blocks (if/block with a result) enclose
    /// the code being generated: statements inside them use smaller
    /// expressions and open no further blocks, which bounds the program
    /// size (otherwise each statement's expression could open a block of
    /// statements with full-size expressions, and so on).
    expr_blocks: u32,
    /// This function's expression depth (see [`GenConfig::max_expr_depth`]).
    expr_depth: u32,
    body: Vec<I<'static>>,
}

impl FuncGen<'_> {
    fn emit(&mut self, i: I<'static>) {
        self.body.push(i);
    }

    fn sig(&self) -> Sig {
        self.sig.clone()
    }

    fn can_call(&self) -> bool {
        self.first_callee < self.sigs.len() as u32
    }

    /// A parameter or scratch local of type `ty` (never a loop counter).
    /// There is always one: every function has an i32 scratch local, and
    /// an i64 one when i64 is on.
    fn scratch_local(&mut self, ty: ValType) -> u32 {
        let candidates: Vec<u32> = (0..self.local_types.len() as u32)
            .filter(|&l| self.local_types[l as usize] == ty)
            .collect();
        *self.rng.pick(&candidates)
    }

    /// An i32 or (when enabled) i64 type, i32 more often.
    fn value_type(&mut self) -> ValType {
        if self.cfg.i64 && self.rng.chance(35) {
            ValType::I64
        } else {
            ValType::I32
        }
    }

    /// Pushes one value of type `ty`.
    fn typed_expr(&mut self, ty: ValType, depth: u32) {
        if ty == ValType::I64 {
            self.expr64(depth)
        } else {
            self.expr(depth)
        }
    }

    fn global_of(&mut self, ty: ValType) -> Option<u32> {
        let candidates: Vec<u32> = (0..self.global_types.len() as u32)
            .filter(|&g| self.global_types[g as usize] == ty)
            .collect();
        (!candidates.is_empty()).then(|| *self.rng.pick(&candidates))
    }

    fn memory(&mut self) -> u32 {
        self.rng.below(self.memories.len() as u64) as u32
    }

    fn risky(&mut self) -> bool {
        self.rng.chance(self.cfg.risky_percent)
    }

    /// Replaces the i32 on top of the stack, `x`, by `x + (x == 0)`.
    fn nonzero(&mut self) {
        self.emit(I::LocalTee(self.temp));
        self.emit(I::LocalGet(self.temp));
        self.emit(I::I32Eqz);
        self.emit(I::I32Add);
    }

    /// Replaces the i64 on top of the stack, `x`, by `x + (x == 0)`.
    fn nonzero64(&mut self) {
        self.emit(I::LocalTee(self.temp64));
        self.emit(I::LocalGet(self.temp64));
        self.emit(I::I64Eqz);
        self.emit(I::I64ExtendI32U);
        self.emit(I::I64Add);
    }

    /// A memory for an access expected to be in bounds: one with room for
    /// a 4-byte access at offset 15, if there is one.
    fn roomy_memory(&mut self) -> u32 {
        let roomy: Vec<u32> = (0..self.memories.len() as u32)
            .filter(|&k| self.memories[k as usize].min_bytes() >= 32)
            .collect();
        if roomy.is_empty() {
            self.memory()
        } else {
            roomy[self.rng.below(roomy.len() as u64) as usize]
        }
    }

    fn leaf(&mut self) {
        match self.rng.below(5) {
            0 | 1 => {
                let l = self.scratch_local(ValType::I32);
                self.emit(I::LocalGet(l));
            }
            2 if self.global_of(ValType::I32).is_some() => {
                let g = self.global_of(ValType::I32).unwrap_or(0);
                self.emit(I::GlobalGet(g));
            }
            _ => {
                let c = self.rng.interesting_i32();
                self.emit(I::I32Const(c));
            }
        }
    }

    /// Pushes one i32.
    fn expr(&mut self, depth: u32) {
        if depth == 0 || self.rng.chance(20) {
            self.leaf();
            return;
        }
        let kinds = if self.cfg.i64 { 28 } else { 24 };
        if self.cfg.floats && self.rng.chance(12) {
            self.float_sink(depth - 1);
            return;
        }
        match self.rng.below(kinds) {
            0..=5 => {
                self.expr(depth - 1);
                let op = self.rng.pick(&BINARY).clone();
                self.expr(depth - 1);
                if is_division(&op) && !self.risky() {
                    self.nonzero();
                }
                self.emit(op);
            }
            6 => {
                self.expr(depth - 1);
                let op = self.rng.pick(&UNARY).clone();
                self.emit(op);
            }
            7 | 8 => {
                self.expr(depth - 1);
                self.expr(depth - 1);
                let op = self.rng.pick(&COMPARE).clone();
                self.emit(op);
            }
            9 => {
                self.expr(depth - 1);
                self.expr(depth - 1);
                self.expr(depth - 1);
                // Workaround for a bug of the reference, wasmi 2.0.0: a
                // `select` whose condition comes straight from `i32.eqz`,
                // `i32.eq` or `i32.ne` (it fuses them wrongly when one
                // operand is zero; see crates/testkit/tests/repros/wasmi-select-eqz.wat
                // and the test `wasmi_select_of_eqz_is_still_wrong`). A
                // rotation by a nonzero constant in between keeps whether
                // the condition is zero, so the program means the same.
                self.select_condition_workaround();
                let select = if self.rng.chance(50) {
                    I::Select
                } else {
                    I::TypedSelect(ValType::I32)
                };
                self.emit(select);
            }
            10..=13 => self.load(depth - 1),
            14 => {
                let mem = self.memory();
                self.emit(I::MemorySize(mem));
            }
            15 => {
                // memory.grow as a value: the old size in pages or -1.
                let mem = self.memory();
                self.grow_delta(depth - 1);
                self.emit(I::MemoryGrow(mem));
            }
            16 | 17 if self.can_call() => self.call(depth - 1, ValType::I32),
            18 => {
                let l = self.scratch_local(ValType::I32);
                self.expr(depth - 1);
                self.emit(I::LocalTee(l));
            }
            19..=21 if self.expr_blocks > 0 => self.load(depth - 1),
            19 => {
                // if with a result: a value merging two paths.
                self.expr(depth - 1);
                self.emit(I::If(BlockType::Result(ValType::I32)));
                self.labels.push(Label::Value);
                self.inline_stmts();
                self.expr(depth - 1);
                self.emit(I::Else);
                self.inline_stmts();
                self.expr(depth - 1);
                self.labels.pop();
                self.emit(I::End);
            }
            20 => {
                // A block with a result left early by br_if carrying a value:
                // the value stays on the stack when the branch is not taken.
                self.emit(I::Block(BlockType::Result(ValType::I32)));
                self.labels.push(Label::Value);
                self.inline_stmts();
                self.expr(depth - 1);
                self.expr(depth - 1);
                self.emit(I::BrIf(0));
                self.inline_stmts();
                self.expr(depth - 1);
                let op = self.rng.pick(&BINARY[..10]).clone();
                self.emit(op);
                self.labels.pop();
                self.emit(I::End);
            }
            21 => {
                // br_table selecting among enclosing value labels (and this block).
                self.emit(I::Block(BlockType::Result(ValType::I32)));
                self.labels.push(Label::Value);
                self.inline_stmts();
                self.expr(depth - 1);
                self.expr(depth - 1);
                let (targets, default) = self.table_targets(Label::Value);
                self.emit(I::BrTable(Cow::Owned(targets), default));
                self.labels.pop();
                self.emit(I::End);
            }
            24 | 25 => {
                self.expr64(depth - 1);
                self.emit(I::I32WrapI64);
            }
            26 => {
                self.expr64(depth - 1);
                self.expr64(depth - 1);
                let op = self.rng.pick(&COMPARE64).clone();
                self.emit(op);
            }
            27 => {
                self.expr64(depth - 1);
                self.emit(I::I64Eqz);
            }
            _ => self.load(depth - 1),
        }
    }

    /// Pushes one i32 computed from float expressions in a way that does
    /// not depend on NaN payloads (see the module documentation).
    fn float_sink(&mut self, depth: u32) {
        let ty = self.float_type();
        let f32 = ty == ValType::F32;
        match self.rng.below(8) {
            0 | 1 => {
                self.fexpr(ty, depth);
                let signed = self.rng.chance(50);
                self.emit(match (f32, signed) {
                    (true, true) => I::I32TruncSatF32S,
                    (true, false) => I::I32TruncSatF32U,
                    (false, true) => I::I32TruncSatF64S,
                    (false, false) => I::I32TruncSatF64U,
                });
            }
            2..=4 => {
                self.fexpr(ty, depth);
                self.fexpr(ty, depth);
                let op = if f32 { self.rng.pick(&FCOMPARE32) } else { self.rng.pick(&FCOMPARE64) }.clone();
                self.emit(op);
            }
            5 => {
                // A trapping conversion: of any float when risky (NaN or
                // out of range traps), else of an integer converted to the
                // float type, which is in range (f64 holds every i32; the
                // f32 case masks to 16 bits first), so the range checks
                // run without ending the call.
                let signed = self.rng.chance(50);
                if self.risky() {
                    self.fexpr(ty, depth);
                } else {
                    self.expr(depth);
                    if f32 {
                        self.emit(I::I32Const(0xffff));
                        self.emit(I::I32And);
                    }
                    self.emit(match (f32, signed) {
                        (true, _) => I::F32ConvertI32U,
                        (false, true) => I::F64ConvertI32S,
                        (false, false) => I::F64ConvertI32U,
                    });
                }
                self.emit(match (f32, signed) {
                    (true, true) => I::I32TruncF32S,
                    (true, false) => I::I32TruncF32U,
                    (false, true) => I::I32TruncF64S,
                    (false, false) => I::I32TruncF64U,
                });
            }
            _ if f32 => {
                // The bits, any NaN made canonical first.
                self.fexpr(ty, depth);
                self.emit(I::LocalSet(self.ftemp32));
                self.emit(I::LocalGet(self.ftemp32));
                self.emit(I::I32ReinterpretF32);
                self.emit(I::I32Const(0x7fc0_0000));
                self.emit(I::LocalGet(self.ftemp32));
                self.emit(I::LocalGet(self.ftemp32));
                self.emit(I::F32Eq);
                self.select_condition_rotation();
                self.emit(I::Select);
            }
            _ if self.cfg.i64 => {
                // The f64's bits, NaN made canonical, folded to 32 bits.
                self.fexpr(ty, depth);
                self.emit(I::LocalSet(self.ftemp64));
                self.emit(I::LocalGet(self.ftemp64));
                self.emit(I::I64ReinterpretF64);
                self.emit(I::I64Const(0x7ff8_0000_0000_0000));
                self.emit(I::LocalGet(self.ftemp64));
                self.emit(I::LocalGet(self.ftemp64));
                self.emit(I::F64Eq);
                self.select_condition_rotation();
                self.emit(I::Select);
                self.emit(I::I64Const(0x9E37_79B9_7F4A_7C15u64 as i64));
                self.emit(I::I64Mul);
                self.emit(I::I64Const(32));
                self.emit(I::I64ShrU);
                self.emit(I::I32WrapI64);
            }
            _ => {
                self.fexpr(ty, depth);
                self.emit(I::I32TruncSatF64S);
            }
        }
    }

    /// `i32.const k; i32.rotl` with k nonzero: keeps whether the condition
    /// on the stack is zero (see [`Self::select_condition_workaround`]).
    fn select_condition_rotation(&mut self) {
        let k = 1 + self.rng.below(31) as i32;
        self.emit(I::I32Const(k));
        self.emit(I::I32Rotl);
    }

    fn float_type(&mut self) -> ValType {
        if self.rng.chance(50) {
            ValType::F32
        } else {
            ValType::F64
        }
    }

    /// Pushes one f32 or f64 (`ty`).
    fn fexpr(&mut self, ty: ValType, depth: u32) {
        let f32 = ty == ValType::F32;
        if depth == 0 || self.rng.chance(20) {
            self.fleaf(ty, depth.min(1));
            return;
        }
        match self.rng.below(12) {
            0..=3 => {
                self.fexpr(ty, depth - 1);
                self.fexpr(ty, depth - 1);
                let op = if f32 { self.rng.pick(&FBINARY32) } else { self.rng.pick(&FBINARY64) }.clone();
                self.emit(op);
            }
            4 | 5 => {
                self.fexpr(ty, depth - 1);
                let op = if f32 { self.rng.pick(&FUNARY32) } else { self.rng.pick(&FUNARY64) }.clone();
                self.emit(op);
            }
            6 => {
                self.fexpr(ty, depth - 1);
                self.fexpr(ty, depth - 1);
                self.expr(depth - 1);
                self.select_condition_workaround();
                let typed = self.rng.chance(50);
                self.emit(if typed { I::TypedSelect(ty) } else { I::Select });
            }
            7 => {
                // Promote / demote.
                if f32 {
                    self.fexpr(ValType::F64, depth - 1);
                    self.emit(I::F32DemoteF64);
                } else {
                    self.fexpr(ValType::F32, depth - 1);
                    self.emit(I::F64PromoteF32);
                }
            }
            8 => {
                let l = if f32 { self.ftemp32 } else { self.ftemp64 };
                self.fexpr(ty, depth - 1);
                self.emit(I::LocalTee(l));
            }
            9 if self.expr_blocks == 0 => {
                // An if with a float result: two paths merging a float.
                self.expr(depth - 1);
                self.emit(I::If(BlockType::Result(ty)));
                self.labels.push(Label::Float);
                self.fexpr(ty, depth - 1);
                self.emit(I::Else);
                self.fexpr(ty, depth - 1);
                self.labels.pop();
                self.emit(I::End);
            }
            _ => self.fleaf(ty, depth - 1),
        }
    }

    /// A float leaf: a constant biased towards edge values, a conversion
    /// from an integer expression, reinterpreted integer bits (NaN
    /// payloads included), or the float scratch local.
    fn fleaf(&mut self, ty: ValType, depth: u32) {
        let f32 = ty == ValType::F32;
        match self.rng.below(10) {
            0..=4 => {
                if f32 {
                    let bits = self.interesting_f32_bits();
                    self.emit(I::F32Const(f32::from_bits(bits).into()));
                } else {
                    let bits = self.interesting_f64_bits();
                    self.emit(I::F64Const(f64::from_bits(bits).into()));
                }
            }
            5 | 6 => {
                let from64 = self.cfg.i64 && self.rng.chance(40);
                let signed = self.rng.chance(50);
                if from64 {
                    self.expr64(depth);
                } else {
                    self.expr(depth);
                }
                self.emit(match (f32, from64, signed) {
                    (true, false, true) => I::F32ConvertI32S,
                    (true, false, false) => I::F32ConvertI32U,
                    (true, true, true) => I::F32ConvertI64S,
                    (true, true, false) => I::F32ConvertI64U,
                    (false, false, true) => I::F64ConvertI32S,
                    (false, false, false) => I::F64ConvertI32U,
                    (false, true, true) => I::F64ConvertI64S,
                    (false, true, false) => I::F64ConvertI64U,
                });
            }
            7 if f32 => {
                self.expr(depth);
                self.emit(I::F32ReinterpretI32);
            }
            7 if self.cfg.i64 => {
                self.expr64(depth);
                self.emit(I::F64ReinterpretI64);
            }
            _ => self.emit(I::LocalGet(if f32 { self.ftemp32 } else { self.ftemp64 })),
        }
    }

    /// f32 bits: zeros, ones, halves and ties (rounding), infinities, NaNs
    /// with and without payloads, subnormals, the extremes, and the
    /// limits of the integer conversions; sometimes random bits.
    fn interesting_f32_bits(&mut self) -> u32 {
        if self.rng.chance(20) {
            return self.rng.next_u64() as u32;
        }
        *self.rng.pick(&[
            0, 0x8000_0000, 0x3f80_0000, 0xbf80_0000, 0x3f00_0000, 0xbf00_0000, 0x3fc0_0000,
            0x4020_0000, 0xc020_0000, 0x3f00_0001, 0x7f80_0000, 0xff80_0000, 0x7fc0_0000,
            0x7fa0_0001, 0xffc1_2345, 0x0000_0001, 0x8000_0001, 0x007f_ffff, 0x0080_0000,
            0x7f7f_ffff, 0xff7f_ffff, 0x4f00_0000, 0xcf00_0000, 0x4eff_ffff, 0x4f80_0000,
            0x4f7f_ffff, 0x5f00_0000, 0xdf00_0000, 0x5f80_0000, 0x4b80_0000, 0x4b80_0001,
            0x4049_0fdb, 0xc2f6_e979,
        ])
    }

    fn interesting_f64_bits(&mut self) -> u64 {
        if self.rng.chance(20) {
            return self.rng.next_u64();
        }
        *self.rng.pick(&[
            0,
            0x8000_0000_0000_0000,
            0x3ff0_0000_0000_0000,
            0xbff0_0000_0000_0000,
            0x3fe0_0000_0000_0000,
            0xbfe0_0000_0000_0000,
            0x3ff8_0000_0000_0000,
            0x4004_0000_0000_0000,
            0xc004_0000_0000_0000,
            0x3fe0_0000_0000_0001,
            0x7ff0_0000_0000_0000,
            0xfff0_0000_0000_0000,
            0x7ff8_0000_0000_0000,
            0x7ff4_0000_0000_0001,
            0xfff8_0000_0000_0123,
            0x0000_0000_0000_0001,
            0x000f_ffff_ffff_ffff,
            0x0010_0000_0000_0000,
            0x7fef_ffff_ffff_ffff,
            0xffef_ffff_ffff_ffff,
            0x41e0_0000_0000_0000,
            0xc1e0_0000_0000_0000,
            0xc1e0_0000_0020_0000,
            0x41df_ffff_ffc0_0000,
            0x41f0_0000_0000_0000,
            0x43e0_0000_0000_0000,
            0xc3e0_0000_0000_0000,
            0x43f0_0000_0000_0000,
            0x4340_0000_0000_0000,
            0x4340_0000_0000_0001,
            0x400921fb_54442d18,
            0x3810_0000_0000_0000,
            0x47ef_ffff_e000_0000,
            0x36a0_0000_0000_0000,
        ])
    }

    /// Workaround for a bug of the reference, wasmi 2.0.0: a `select` whose
    /// condition comes straight from `i32.eqz`, `i32.eq` or `i32.ne` (it
    /// fuses them wrongly when one operand is zero; see
    /// crates/testkit/tests/repros/wasmi-select-eqz.wat and the test
    /// `wasmi_select_of_eqz_is_still_wrong`); the i64 comparisons are
    /// treated alike to be safe. A rotation by a nonzero constant in between
    /// keeps whether the condition is zero, so the program means the same.
    fn select_condition_workaround(&mut self) {
        if matches!(
            self.body.last(),
            Some(I::I32Eqz | I::I32Eq | I::I32Ne | I::I64Eqz | I::I64Eq | I::I64Ne)
        ) {
            let k = 1 + self.rng.below(31) as i32;
            self.emit(I::I32Const(k));
            self.emit(I::I32Rotl);
        }
    }

    fn leaf64(&mut self) {
        match self.rng.below(5) {
            0 | 1 => {
                let l = self.scratch_local(ValType::I64);
                self.emit(I::LocalGet(l));
            }
            2 if self.global_of(ValType::I64).is_some() => {
                let g = self.global_of(ValType::I64).unwrap_or(0);
                self.emit(I::GlobalGet(g));
            }
            _ => {
                let c = self.rng.interesting_i64();
                self.emit(I::I64Const(c));
            }
        }
    }

    /// Pushes one i64 (only called when [`GenConfig::i64`] is on).
    fn expr64(&mut self, depth: u32) {
        if depth == 0 || self.rng.chance(20) {
            self.leaf64();
            return;
        }
        if self.cfg.floats && self.rng.chance(6) {
            // Saturating float -> i64 (NaN gives 0, so payloads never show).
            let ty = self.float_type();
            self.fexpr(ty, depth - 1);
            let signed = self.rng.chance(50);
            self.emit(match (ty == ValType::F32, signed) {
                (true, true) => I::I64TruncSatF32S,
                (true, false) => I::I64TruncSatF32U,
                (false, true) => I::I64TruncSatF64S,
                (false, false) => I::I64TruncSatF64U,
            });
            return;
        }
        match self.rng.below(20) {
            0..=5 => {
                self.expr64(depth - 1);
                let op = self.rng.pick(&BINARY64).clone();
                self.expr64(depth - 1);
                if is_division(&op) && !self.risky() {
                    self.nonzero64();
                }
                self.emit(op);
            }
            6 => {
                self.expr64(depth - 1);
                let op = self.rng.pick(&UNARY64).clone();
                self.emit(op);
            }
            7 | 8 => {
                self.expr(depth - 1);
                let op = if self.rng.chance(50) {
                    I::I64ExtendI32S
                } else {
                    I::I64ExtendI32U
                };
                self.emit(op);
            }
            9 => {
                self.expr64(depth - 1);
                self.expr64(depth - 1);
                self.expr(depth - 1);
                self.select_condition_workaround();
                let op = if self.rng.chance(50) {
                    I::Select
                } else {
                    I::TypedSelect(ValType::I64)
                };
                self.emit(op);
            }
            10..=12 => self.load64(depth - 1),
            13 if self.can_call() => self.call(depth - 1, ValType::I64),
            14 => {
                let l = self.scratch_local(ValType::I64);
                self.expr64(depth - 1);
                self.emit(I::LocalTee(l));
            }
            15..=17 if self.expr_blocks > 0 => self.load64(depth - 1),
            15 => {
                // An if with an i64 result: a register pair merging two paths.
                self.expr(depth - 1);
                self.emit(I::If(BlockType::Result(ValType::I64)));
                self.labels.push(Label::Value64);
                self.inline_stmts();
                self.expr64(depth - 1);
                self.emit(I::Else);
                self.inline_stmts();
                self.expr64(depth - 1);
                self.labels.pop();
                self.emit(I::End);
            }
            16 => {
                // A block with an i64 result left early by br_if.
                self.emit(I::Block(BlockType::Result(ValType::I64)));
                self.labels.push(Label::Value64);
                self.inline_stmts();
                self.expr64(depth - 1);
                self.expr(depth - 1);
                self.emit(I::BrIf(0));
                self.inline_stmts();
                self.expr64(depth - 1);
                let op = self.rng.pick(&BINARY64[..10]).clone();
                self.emit(op);
                self.labels.pop();
                self.emit(I::End);
            }
            17 => {
                // br_table carrying an i64 to enclosing i64 labels.
                self.emit(I::Block(BlockType::Result(ValType::I64)));
                self.labels.push(Label::Value64);
                self.inline_stmts();
                self.expr64(depth - 1);
                self.expr(depth - 1);
                let (targets, default) = self.table_targets(Label::Value64);
                self.emit(I::BrTable(Cow::Owned(targets), default));
                self.labels.pop();
                self.emit(I::End);
            }
            _ => self.load64(depth - 1),
        }
    }

    /// A `br_table` target list over the enclosing labels of `kind`
    /// (there is always at least one: the innermost label).
    fn table_targets(&mut self, kind: Label) -> (Vec<u32>, u32) {
        let candidates = self.label_depths(kind);
        let n = self.rng.below(5) as usize;
        let targets = (0..n)
            .map(|_| candidates[self.rng.below(candidates.len() as u64) as usize])
            .collect();
        let default = *self.rng.pick(&candidates);
        (targets, default)
    }

    /// Relative depths of the enclosing labels of `kind`.
    fn label_depths(&self, kind: Label) -> Vec<u32> {
        self.labels
            .iter()
            .rev()
            .enumerate()
            .filter(|(_, &l)| l == kind)
            .map(|(d, _)| d as u32)
            .collect()
    }

    /// A few simple statements inside an expression-level block.
    fn inline_stmts(&mut self) {
        self.expr_blocks += 1;
        for _ in 0..self.rng.below(3) {
            self.stmt(0);
        }
        self.expr_blocks -= 1;
    }

    /// Expression depth for the operands of a statement.
    fn stmt_expr_depth(&self) -> u32 {
        if self.expr_blocks > 0 {
            1
        } else {
            self.expr_depth
        }
    }

    fn grow_delta(&mut self, depth: u32) {
        if self.rng.chance(75) {
            let delta = *self.rng.pick(&[0, 0, 1, 1, 2, 3, 100, 1000, -1]);
            self.emit(I::I32Const(delta));
        } else {
            self.expr(depth);
        }
    }

    /// A call whose results are folded into one value of type `want`.
    fn call(&mut self, depth: u32, want: ValType) {
        let n = self.sigs.len() as u32 - self.first_callee;
        let callee = self.first_callee + self.rng.below(n as u64) as u32;
        let sig = self.sigs[callee as usize].clone();
        for &ty in &sig.params {
            self.typed_expr(ty, depth.min(2));
        }
        if self.cfg.call_indirect && self.rng.chance(25) {
            // Through the table, whose slot k holds function k (then null
            // slots). The slot is never below `first_callee`, so there is
            // no recursion; a computed slot may hold a function of another
            // type (trap 6), be null (7) or lie past the table (8).
            match self.rng.below(10) {
                0..=7 => self.emit(I::I32Const(callee as i32)),
                8 => {
                    self.expr(1);
                    self.emit(I::I32Const(n as i32));
                    self.emit(I::I32RemU);
                    self.emit(I::I32Const(self.first_callee as i32));
                    self.emit(I::I32Add);
                }
                _ => {
                    self.expr(1);
                    self.emit(I::I32Const(7));
                    self.emit(I::I32And);
                    self.emit(I::I32Const(self.first_callee as i32));
                    self.emit(I::I32Add);
                }
            }
            self.emit(I::CallIndirect {
                type_index: callee,
                table_index: 0,
            });
        } else {
            self.emit(I::Call(callee));
        }
        // Fold multiple results into one i32 from the top down (wrapping
        // i64s; an i64 below the running i32 is reached through `temp`),
        // leaving the first result's type for the last step.
        let last = sig.results.len() - 1;
        for i in (1..=last).rev() {
            // Below the top, earlier steps already made the running value an i32.
            if i == last && sig.results[i] == ValType::I64 {
                self.emit(I::I32WrapI64);
            }
            if sig.results[i - 1] == ValType::I64 {
                self.emit(I::LocalSet(self.temp));
                self.emit(I::I32WrapI64);
                self.emit(I::LocalGet(self.temp));
            }
            let op = self.rng.pick(&BINARY[..10]).clone();
            self.emit(op);
        }
        let have = if sig.results.len() > 1 {
            ValType::I32
        } else {
            sig.results[0]
        };
        self.convert(have, want);
    }

    /// Converts the value on top of the stack from `have` to `want`.
    fn convert(&mut self, have: ValType, want: ValType) {
        match (have, want) {
            (ValType::I64, ValType::I32) => self.emit(I::I32WrapI64),
            (ValType::I32, ValType::I64) => {
                let op = if self.rng.chance(50) {
                    I::I64ExtendI32S
                } else {
                    I::I64ExtendI32U
                };
                self.emit(op)
            }
            _ => {}
        }
    }

    fn memarg(&mut self, mem: u32, offset: u64, width: u32) -> MemArg {
        // Any alignment hint up to the natural one is valid and must not
        // change the semantics (wasm accesses may be misaligned whatever
        // the hint says).
        let natural = width.trailing_zeros();
        let align = self.rng.below(natural as u64 + 1) as u32;
        MemArg {
            offset,
            align,
            target: MemArgTarget::Memory(mem),
            ordering: None,
        }
    }

    fn load(&mut self, depth: u32) {
        let (mem, offset, width) = self.address(depth, &[1, 2, 4]);
        let arg = self.memarg(mem, offset, width);
        let signed = self.rng.chance(50);
        self.emit(match (width, signed) {
            (1, true) => I::I32Load8S(arg),
            (1, false) => I::I32Load8U(arg),
            (2, true) => I::I32Load16S(arg),
            (2, false) => I::I32Load16U(arg),
            _ => I::I32Load(arg),
        });
    }

    fn load64(&mut self, depth: u32) {
        let (mem, offset, width) = self.address(depth, &[1, 2, 4, 8]);
        let arg = self.memarg(mem, offset, width);
        let signed = self.rng.chance(50);
        self.emit(match (width, signed) {
            (1, true) => I::I64Load8S(arg),
            (1, false) => I::I64Load8U(arg),
            (2, true) => I::I64Load16S(arg),
            (2, false) => I::I64Load16U(arg),
            (4, true) => I::I64Load32S(arg),
            (4, false) => I::I64Load32U(arg),
            _ => I::I64Load(arg),
        });
    }

    /// Picks a memory and an access width, pushes a wasm address for it;
    /// returns the memory, static offset and width.
    fn address(&mut self, depth: u32, widths: &[u32]) -> (u32, u64, u32) {
        let width = *self.rng.pick(widths);
        if self.rng.chance(3) {
            // Within the declared maximum: in bounds only after enough
            // memory.grow (which the programs do often).
            let mem = self.memory();
            let spec = &self.memories[mem as usize];
            let mask = (spec.max_bytes().next_power_of_two().max(1) - 1) as i32;
            let offset = self.rng.below(8);
            self.expr(depth);
            self.emit(I::I32Const(mask));
            self.emit(I::I32And);
            return (mem, offset, width);
        }
        if !self.risky() {
            // In bounds of the minimum size (memories never shrink): the
            // address is masked to a power of two that leaves room for the
            // offset and the width.
            let mem = self.roomy_memory();
            let min = self.memories[mem as usize].min_bytes();
            if min >= 32 {
                // Mostly small offsets; sometimes large ones (around the
                // immediate-field limits of Thumb-2 loads and stores: 255,
                // 4095) up to half the memory.
                let offset = match self.rng.below(10) {
                    0..=5 => 0,
                    6 | 7 => self.rng.below(16),
                    8 => (*self
                        .rng
                        .pick(&[252u64, 255, 256, 1020, 1024, 4092, 4095, 4096, 4100]))
                    .min(min / 2),
                    _ => self.rng.below(min / 2),
                };
                let room = min - offset - width as u64 + 1;
                let mask = (1u64 << (63 - room.leading_zeros())) - 1;
                self.expr(depth);
                self.emit(I::I32Const(mask as i32));
                self.emit(I::I32And);
                return (mem, offset, width);
            }
        }
        let mem = self.memory();
        let spec = &self.memories[mem as usize];
        let (min, max) = (spec.min_bytes(), spec.max_bytes());
        let offset = match self.rng.below(10) {
            0 | 1 => self.rng.below(min + 8),
            2 => max.saturating_sub(self.rng.below(8)),
            // Effective address above 4 GiB: must trap, not wrap.
            3 => u32::MAX as u64 - self.rng.below(8),
            4 => 0x8000_0000,
            5 | 6 => 0,
            _ => self.rng.below(16),
        };
        self.expr(depth);
        match self.rng.below(4) {
            0 => {} // unmasked: usually far out of bounds
            1 | 2 => {
                // Within the declared maximum: in bounds only after a grow.
                let mask = (max.next_power_of_two().max(1) - 1) as i32;
                self.emit(I::I32Const(mask));
                self.emit(I::I32And);
            }
            _ => {
                // Below the next power of two of the minimum size: traps
                // near the boundary when min is not a power of two.
                let mask = (min.next_power_of_two().max(1) - 1) as i32;
                self.emit(I::I32Const(mask));
                self.emit(I::I32And);
            }
        }
        (mem, offset, width)
    }

    fn store(&mut self) {
        if self.value_type() == ValType::I64 {
            let (mem, offset, width) = self.address(2, &[1, 2, 4, 8]);
            self.expr64(self.stmt_expr_depth());
            let arg = self.memarg(mem, offset, width);
            self.emit(match width {
                1 => I::I64Store8(arg),
                2 => I::I64Store16(arg),
                4 => I::I64Store32(arg),
                _ => I::I64Store(arg),
            });
            return;
        }
        let (mem, offset, width) = self.address(2, &[1, 2, 4]);
        self.expr(self.stmt_expr_depth());
        let arg = self.memarg(mem, offset, width);
        self.emit(match width {
            1 => I::I32Store8(arg),
            2 => I::I32Store16(arg),
            _ => I::I32Store(arg),
        });
    }

    /// A statement that needs no nesting (allowed inside expressions).
    fn simple_stmt(&mut self) {
        match self.rng.below(21) {
            0..=4 => {
                let ty = self.value_type();
                let l = self.scratch_local(ty);
                self.typed_expr(ty, self.stmt_expr_depth());
                self.emit(I::LocalSet(l));
            }
            5..=9 => self.store(),
            10 | 11 if !self.global_types.is_empty() => {
                let g = self.rng.below(self.global_types.len() as u64) as u32;
                self.typed_expr(self.global_types[g as usize], self.stmt_expr_depth());
                self.emit(I::GlobalSet(g));
            }
            12 => {
                let mem = self.memory();
                self.grow_delta(1);
                self.emit(I::MemoryGrow(mem));
                let l = self.scratch_local(ValType::I32);
                self.emit(I::LocalSet(l));
            }
            13 if self.cfg.bulk_memory => {
                let mem = self.memory();
                let len = self.bulk_length();
                self.bulk_operand(mem, len);
                self.expr(2);
                self.emit_length(len);
                self.emit(I::MemoryFill(mem));
            }
            14 | 20 if self.cfg.bulk_memory => {
                let dst_mem = self.memory();
                // Often the same memory: overlapping copies in both
                // directions (memmove semantics); otherwise any pair.
                let src_mem = if self.rng.chance(35) {
                    dst_mem
                } else {
                    self.memory()
                };
                let len = self.bulk_length();
                let min = self.memories[dst_mem as usize].min_bytes() as i64;
                match len {
                    Some(l)
                        if src_mem == dst_mem
                            && l > 1
                            && (l as i64) < min
                            && self.rng.chance(60) =>
                    {
                        // Overlapping ranges, the source before or after the
                        // destination: a forward byte loop would be wrong
                        // for one of the two directions.
                        let l = l as i64;
                        let dst = self.rng.below((min - l + 1) as u64) as i64;
                        let delta = 1 + self.rng.below(l as u64 - 1) as i64;
                        let src = if self.rng.chance(50) {
                            dst + delta
                        } else {
                            dst - delta
                        };
                        let src = src.clamp(0, min - l);
                        self.emit(I::I32Const(dst as i32));
                        self.emit(I::I32Const(src as i32));
                    }
                    _ => {
                        self.bulk_operand(dst_mem, len);
                        self.bulk_operand(src_mem, len);
                    }
                }
                self.emit_length(len);
                self.emit(I::MemoryCopy { src_mem, dst_mem });
            }
            15 if self.cfg.bulk_memory && self.num_passive > 0 => {
                let mem = self.memory();
                let data_index = self.rng.below(self.num_passive as u64) as u32;
                let seg_len = self.passive_lens[data_index as usize] as i64;
                let (src, len) = if self.risky() {
                    (*self.rng.pick(&[0, 0, 1, 3, 8, 30, 40]), self.bulk_length())
                } else {
                    let len = self.rng.below(seg_len as u64 + 1) as i64;
                    (
                        self.rng.below((seg_len - len) as u64 + 1) as i64,
                        Some(len as i32),
                    )
                };
                self.bulk_operand(mem, len);
                self.emit(I::I32Const(src as i32));
                self.emit_length(len);
                self.emit(I::MemoryInit { mem, data_index });
            }
            16 if self.cfg.bulk_memory && self.num_passive > 0 && self.risky() => {
                let data_index = self.rng.below(self.num_passive as u64) as u32;
                self.emit(I::DataDrop(data_index));
            }
            17 => self.branch(),
            _ => {
                let ty = self.value_type();
                self.typed_expr(ty, self.stmt_expr_depth());
                self.emit(I::Drop);
            }
        }
    }

    /// A branch out of enclosing blocks: br_if (mostly), br or br_table.
    fn branch(&mut self) {
        let value_labels = self.label_depths(Label::Value);
        let empty_labels = self.label_depths(Label::Empty);
        let value64_labels = self.label_depths(Label::Value64);
        let mut kinds = Vec::new();
        if !value_labels.is_empty() {
            kinds.push(Label::Value);
        }
        if !value64_labels.is_empty() {
            kinds.push(Label::Value64);
        }
        if !empty_labels.is_empty() {
            kinds.push(Label::Empty);
        }
        if kinds.is_empty() {
            // Only loops or the function body around: nothing to target.
            self.expr(2);
            self.emit(I::Drop);
            return;
        }
        let kind = *self.rng.pick(&kinds);
        match kind {
            Label::Value => self.expr(2),
            Label::Value64 => self.expr64(2),
            _ => {}
        }
        match self.rng.below(10) {
            0..=6 => {
                self.expr(2);
                let candidates = self.label_depths(kind);
                let target = *self.rng.pick(&candidates);
                self.emit(I::BrIf(target));
                if kind != Label::Empty {
                    self.emit(I::Drop);
                }
            }
            7 => {
                // Unconditional: the rest of this block is dead code, which
                // must still compile.
                let candidates = self.label_depths(kind);
                let target = *self.rng.pick(&candidates);
                self.emit(I::Br(target));
            }
            _ => {
                self.expr(2);
                let (targets, default) = self.table_targets(kind);
                self.emit(I::BrTable(Cow::Owned(targets), default));
            }
        }
    }

    fn stmt(&mut self, depth: u32) {
        if depth == 0 {
            self.simple_stmt();
            return;
        }
        match self.rng.below(16) {
            0..=5 => self.simple_stmt(),
            6 | 7 => {
                self.expr(2);
                self.emit(I::If(BlockType::Empty));
                self.labels.push(Label::Empty);
                self.stmts(depth - 1);
                if self.rng.chance(50) {
                    self.emit(I::Else);
                    self.stmts(depth - 1);
                }
                self.labels.pop();
                self.emit(I::End);
            }
            8 | 9 => {
                self.emit(I::Block(BlockType::Empty));
                self.labels.push(Label::Empty);
                self.stmts(depth - 1);
                self.branch();
                self.stmts(depth - 1);
                self.labels.pop();
                self.emit(I::End);
            }
            10 | 11 if self.loop_depth < self.max_loop_depth => {
                let counter = self.first_counter + self.loop_depth;
                let trips = 1 + self.rng.below(6) as i32;
                self.emit(I::I32Const(trips));
                self.emit(I::LocalSet(counter));
                self.emit(I::Loop(BlockType::Empty));
                self.loop_depth += 1;
                self.labels.push(Label::Loop);
                self.stmts(depth - 1);
                self.emit(I::LocalGet(counter));
                self.emit(I::I32Const(1));
                self.emit(I::I32Sub);
                self.emit(I::LocalTee(counter));
                self.emit(I::BrIf(0));
                self.labels.pop();
                self.loop_depth -= 1;
                self.emit(I::End);
            }
            12 if self.rng.chance(40) => {
                // An early return, usually conditional.
                let conditional = self.rng.chance(80);
                if conditional {
                    self.expr(2);
                    self.emit(I::If(BlockType::Empty));
                    self.labels.push(Label::Empty);
                }
                for ty in self.sig().results {
                    self.typed_expr(ty, 2);
                }
                self.emit(I::Return);
                if conditional {
                    self.labels.pop();
                    self.emit(I::End);
                }
            }
            13 if self.rng.chance(5) => {
                self.expr(2);
                self.emit(I::If(BlockType::Empty));
                self.emit(I::Unreachable);
                self.emit(I::End);
            }
            14 if self.can_call() => {
                let ty = self.value_type();
                self.call(2, ty);
                self.emit(I::Drop);
            }
            _ => self.simple_stmt(),
        }
    }

    /// Pushes a start index for a bulk operation of `len` bytes (`None`:
    /// a computed length) on `mem`: in bounds of the minimum size unless
    /// risky.
    fn bulk_operand(&mut self, mem: u32, len: Option<i32>) {
        let min = self.memories[mem as usize].min_bytes();
        match len {
            Some(len) if !self.risky() => {
                // Lengths are small constants; clamp the start so the range
                // fits even when it cannot (then this traps, rarely).
                let len = (len as u64).min(min);
                let at = self.rng.below(min - len + 1) as i32;
                self.emit(I::I32Const(at));
            }
            _ if self.rng.chance(70) => {
                let at = self.rng.below(min + 4) as i32;
                self.emit(I::I32Const(at));
            }
            _ => self.expr(1),
        }
    }

    /// Chooses a bulk length: `Some` constant, or `None` for a computed one.
    fn bulk_length(&mut self) -> Option<i32> {
        if self.risky() && self.rng.chance(50) {
            None
        } else {
            // At most 64: every memory with a nonzero minimum has room.
            Some(*self.rng.pick(&[0, 1, 2, 3, 4, 7, 8, 16, 33, 64]))
        }
    }

    fn emit_length(&mut self, len: Option<i32>) {
        match len {
            Some(len) => self.emit(I::I32Const(len)),
            None => self.expr(1),
        }
    }

    fn stmts(&mut self, depth: u32) {
        let n = 1 + self.rng.below(4);
        for _ in 0..n {
            self.stmt(depth);
        }
    }
}

const BINARY: [I<'static>; 15] = [
    I::I32Add,
    I::I32Sub,
    I::I32Mul,
    I::I32And,
    I::I32Or,
    I::I32Xor,
    I::I32Shl,
    I::I32ShrS,
    I::I32ShrU,
    I::I32Rotl,
    // Trapping operators last (`call` folds results with the others).
    I::I32Rotr,
    I::I32DivS,
    I::I32DivU,
    I::I32RemS,
    I::I32RemU,
];

fn is_division(op: &I<'_>) -> bool {
    matches!(
        op,
        I::I32DivS
            | I::I32DivU
            | I::I32RemS
            | I::I32RemU
            | I::I64DivS
            | I::I64DivU
            | I::I64RemS
            | I::I64RemU
    )
}

const BINARY64: [I<'static>; 15] = [
    I::I64Add,
    I::I64Sub,
    I::I64Mul,
    I::I64And,
    I::I64Or,
    I::I64Xor,
    I::I64Shl,
    I::I64ShrS,
    I::I64ShrU,
    I::I64Rotl,
    // Trapping operators last (block results fold with the others).
    I::I64Rotr,
    I::I64DivS,
    I::I64DivU,
    I::I64RemS,
    I::I64RemU,
];

const UNARY64: [I<'static>; 6] = [
    I::I64Clz,
    I::I64Ctz,
    I::I64Popcnt,
    I::I64Extend8S,
    I::I64Extend16S,
    I::I64Extend32S,
];

const COMPARE64: [I<'static>; 10] = [
    I::I64Eq,
    I::I64Ne,
    I::I64LtS,
    I::I64LtU,
    I::I64GtS,
    I::I64GtU,
    I::I64LeS,
    I::I64LeU,
    I::I64GeS,
    I::I64GeU,
];

const UNARY: [I<'static>; 6] = [
    I::I32Clz,
    I::I32Ctz,
    I::I32Popcnt,
    I::I32Eqz,
    I::I32Extend8S,
    I::I32Extend16S,
];

const FBINARY32: [I<'static>; 7] =
    [I::F32Add, I::F32Sub, I::F32Mul, I::F32Div, I::F32Min, I::F32Max, I::F32Copysign];
const FBINARY64: [I<'static>; 7] =
    [I::F64Add, I::F64Sub, I::F64Mul, I::F64Div, I::F64Min, I::F64Max, I::F64Copysign];
const FUNARY32: [I<'static>; 7] =
    [I::F32Abs, I::F32Neg, I::F32Sqrt, I::F32Ceil, I::F32Floor, I::F32Trunc, I::F32Nearest];
const FUNARY64: [I<'static>; 7] =
    [I::F64Abs, I::F64Neg, I::F64Sqrt, I::F64Ceil, I::F64Floor, I::F64Trunc, I::F64Nearest];
const FCOMPARE32: [I<'static>; 6] = [I::F32Eq, I::F32Ne, I::F32Lt, I::F32Gt, I::F32Le, I::F32Ge];
const FCOMPARE64: [I<'static>; 6] = [I::F64Eq, I::F64Ne, I::F64Lt, I::F64Gt, I::F64Le, I::F64Ge];

const COMPARE: [I<'static>; 10] = [
    I::I32Eq,
    I::I32Ne,
    I::I32LtS,
    I::I32LtU,
    I::I32GtS,
    I::I32GtU,
    I::I32LeS,
    I::I32LeU,
    I::I32GeS,
    I::I32GeU,
];

pub fn generate(seed: u64, cfg: &GenConfig) -> GeneratedModule {
    let mut rng = Rng::new(seed);
    let num_memories = 1 + rng.below(cfg.max_memories.max(1) as u64) as u32;
    let memories: Vec<MemorySpec> = (0..num_memories)
        .map(|_| {
            if rng.chance(50) {
                // 64 KiB pages; sometimes none at first, so every access
                // traps until memory.grow.
                let min = if rng.chance(10) { 0 } else { 1 };
                MemorySpec {
                    page_size_log2: 16,
                    min_pages: min,
                    max_pages: min + rng.below(2),
                }
            } else {
                // Custom page size 1: a small MCU-sized memory.
                let min = 64 + rng.below(448);
                MemorySpec {
                    page_size_log2: 0,
                    min_pages: min,
                    max_pages: min + rng.below(2048),
                }
            }
        })
        .collect();
    let value_type = |rng: &mut Rng| {
        if cfg.i64 && rng.chance(35) {
            ValType::I64
        } else {
            ValType::I32
        }
    };
    let global_types: Vec<ValType> = (0..rng.below(if cfg.i64 { 6 } else { 4 }))
        .map(|_| value_type(&mut rng))
        .collect();
    let num_funcs = 1 + rng.below(cfg.max_functions.max(1) as u64) as u32;
    let sigs: Vec<Sig> = (0..num_funcs)
        .map(|i| {
            if i == 0 {
                Sig {
                    params: vec![ValType::I32; 2],
                    results: vec![ValType::I32],
                }
            } else {
                // Up to 6 parameters: the AAPCS passes the 5th and 6th
                // words on the stack (and i64s in aligned register pairs or
                // 8-byte aligned stack slots).
                let results = if rng.chance(80) { 1 } else { 2 + rng.below(2) };
                let params = rng.below(7);
                let params: Vec<ValType> = (0..params).map(|_| value_type(&mut rng)).collect();
                let mut results: Vec<ValType> =
                    (0..results).map(|_| value_type(&mut rng)).collect();
                // Within the result-word limit: i64s become i32s from the
                // end, then results are dropped.
                let words = |r: &[ValType]| {
                    r.iter().fold(0u32, |next, t| {
                        if *t == ValType::I64 {
                            (next + 1) / 2 * 2 + 2
                        } else {
                            next + 1
                        }
                    })
                };
                while words(&results) > cfg.max_result_words.max(1) {
                    match results.iter().rposition(|t| *t == ValType::I64) {
                        Some(k) => results[k] = ValType::I32,
                        None => {
                            results.pop();
                        }
                    }
                }
                Sig { params, results }
            }
        })
        .collect();
    let num_passive = if cfg.bulk_memory {
        rng.below(3) as u32
    } else {
        0
    };
    // Sometimes a start function `() -> ()` (after all others, sometimes
    // calling any of them): instantiation then runs code, and may trap
    // (which leaves nothing else to observe, hence not too often).
    let has_start = rng.chance(15);
    let start_calls = rng.chance(50);

    let mut module = Module::new();
    let mut types = TypeSection::new();
    for s in &sigs {
        types.ty().function(s.params.clone(), s.results.clone());
    }
    if has_start {
        types.ty().function([], []);
    }
    module.section(&types);

    let mut funcs = FunctionSection::new();
    for i in 0..num_funcs + has_start as u32 {
        funcs.function(i);
    }
    module.section(&funcs);

    // The table for call_indirect: slot k holds function k, then a few
    // null slots.
    let table_size = num_funcs as u64 + rng.below(3);
    if cfg.call_indirect {
        let mut tables = TableSection::new();
        tables.table(TableType {
            element_type: RefType::FUNCREF,
            table64: false,
            minimum: table_size,
            maximum: Some(table_size),
            shared: false,
        });
        module.section(&tables);
    }

    let mut mems = MemorySection::new();
    for m in &memories {
        mems.memory(MemoryType {
            minimum: m.min_pages,
            maximum: Some(m.max_pages),
            memory64: false,
            shared: false,
            page_size_log2: (m.page_size_log2 != 16).then_some(m.page_size_log2),
        });
    }
    module.section(&mems);

    let mut globals = GlobalSection::new();
    for &ty in &global_types {
        let init = if ty == ValType::I64 {
            ConstExpr::i64_const(rng.interesting_i64())
        } else {
            ConstExpr::i32_const(rng.interesting_i32())
        };
        globals.global(
            GlobalType {
                val_type: ty,
                mutable: true,
                shared: false,
            },
            &init,
        );
    }
    module.section(&globals);

    let mut exports = ExportSection::new();
    exports.export(ENTRY_EXPORT, ExportKind::Func, 0);
    for k in 0..num_memories {
        exports.export(&format!("mem{k}"), ExportKind::Memory, k);
    }
    for k in 0..global_types.len() as u32 {
        exports.export(&format!("g{k}"), ExportKind::Global, k);
    }
    module.section(&exports);
    if has_start {
        module.section(&StartSection {
            function_index: num_funcs,
        });
    }
    if cfg.call_indirect {
        let mut elements = ElementSection::new();
        let funcs: Vec<u32> = (0..num_funcs).collect();
        elements.active(
            None,
            &ConstExpr::i32_const(0),
            Elements::Functions(Cow::Owned(funcs)),
        );
        module.section(&elements);
    }

    // Passive segments come first in the data section, so their indices
    // are 0..num_passive; the data count section lets code refer to them.
    let mut data = DataSection::new();
    let mut passive_lens = Vec::new();
    for _ in 0..num_passive {
        let len = rng.below(40);
        passive_lens.push(len as u32);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        data.passive(bytes);
    }
    for (k, m) in memories.iter().enumerate() {
        for _ in 0..rng.below(3) {
            // Rarely one that does not fit: instantiation must trap (then
            // nothing else runs, so about 2% of modules whatever their
            // number of memories).
            let misfit = rng.below(50 * num_memories as u64) == 0;
            let len = 1 + rng.below(24.min(m.min_bytes()).max(1));
            if m.min_bytes() < len && !misfit {
                continue;
            }
            let fits = m.min_bytes().saturating_sub(len) + 1;
            let at = if misfit {
                fits + rng.below(8)
            } else {
                rng.below(fits)
            };
            let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            data.active(k as u32, &ConstExpr::i32_const(at as i32), bytes);
        }
    }
    module.section(&DataCountSection { count: data.len() });

    let mut code = CodeSection::new();
    for index in 0..num_funcs + has_start as u32 {
        let is_start = index == num_funcs;
        let sig = if is_start {
            Sig {
                params: Vec::new(),
                results: Vec::new(),
            }
        } else {
            sigs[index as usize].clone()
        };
        // Sometimes many locals: more values live at once than registers.
        let num_scratch = if rng.chance(20) {
            8 + rng.below(16) as u32
        } else {
            1 + rng.below(8) as u32
        };
        let num_scratch64 = if !cfg.i64 {
            0
        } else if rng.chance(20) {
            4 + rng.below(8) as u32
        } else {
            1 + rng.below(4) as u32
        };
        let max_loop_depth = 2;
        let mut local_types = sig.params.clone();
        local_types.extend(std::iter::repeat_n(ValType::I32, num_scratch as usize));
        local_types.extend(std::iter::repeat_n(ValType::I64, num_scratch64 as usize));
        let num_locals = local_types.len() as u32;
        let expr_depth = cfg
            .max_expr_depth
            .saturating_sub(rng.below(3) as u32)
            .max(1);
        let mut g = FuncGen {
            rng: &mut rng,
            cfg,
            memories: &memories,
            sigs: &sigs,
            global_types: &global_types,
            num_passive,
            passive_lens: &passive_lens,
            sig: sig.clone(),
            first_callee: if !is_start {
                index + 1
            } else if start_calls {
                0
            } else {
                num_funcs
            },
            local_types,
            first_counter: num_locals,
            max_loop_depth,
            temp: num_locals + max_loop_depth,
            temp64: num_locals + max_loop_depth + 1,
            ftemp32: num_locals + max_loop_depth + 1 + cfg.i64 as u32,
            ftemp64: num_locals + max_loop_depth + 2 + cfg.i64 as u32,
            loop_depth: 0,
            labels: Vec::new(),
            expr_blocks: 0,
            expr_depth,
            body: Vec::new(),
        };
        g.stmts(if is_start { 1 } else { cfg.max_stmt_depth });
        for &ty in &sig.results {
            g.typed_expr(ty, expr_depth);
        }
        g.emit(I::End);
        // Declared in the order FuncGen numbers them: i32 scratch, i64
        // scratch, loop counters and `temp`, `temp64`, `ftemp32`, `ftemp64`.
        let mut f = Function::new([
            (num_scratch, ValType::I32),
            (num_scratch64, ValType::I64),
            (max_loop_depth + 1, ValType::I32),
            (cfg.i64 as u32, ValType::I64),
            (cfg.floats as u32, ValType::F32),
            (cfg.floats as u32, ValType::F64),
        ]);
        for i in &g.body {
            f.instruction(i);
        }
        code.function(&f);
    }
    module.section(&code);
    module.section(&data);

    let calls = (0..cfg.calls_per_module)
        .map(|_| [rng.interesting_i32(), rng.interesting_i32()])
        .collect();
    GeneratedModule {
        wasm: module.finish(),
        memories,
        global_types,
        calls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::difftest::coverage::{Coverage, MemOp, INTEGER_ACCESSES};

    /// Over a batch of seeds the generator exercises what the differential
    /// test is meant to cover, read back from the binaries: 8 memories,
    /// every memory operation on each of them, every integer load/store
    /// width on each, memory.copy between every ordered pair (and within
    /// one memory, overlapping in both directions), data.drop, and the i64
    /// operators, types and globals. A change that silently narrows the
    /// generator fails here.
    #[test]
    fn generator_covers_every_memory_operation_on_eight_memories_and_i64() {
        let cfg = GenConfig::default();
        let mut cov = Coverage::default();
        for seed in 0..800 {
            cov.add(&generate(seed, &cfg).wasm).unwrap();
        }
        assert_eq!(cov.max_memories, 8);
        let rarest_pair = (0..64)
            .map(|p| cov.copy_pairs.get(&(p / 8, p % 8)).copied().unwrap_or(0))
            .min();
        eprintln!("{} memory.copy between 64 ordered pairs of memories (rarest: {rarest_pair:?}); {} overlapping within one memory", cov.copy_pairs.values().sum::<u64>(), cov.overlapping_copies_src_above + cov.overlapping_copies_src_below);
        let mut missing = Vec::new();
        for mem in 0..8 {
            for kind in MemOp::ALL {
                if cov.per_memory.get(&(mem, kind)).copied().unwrap_or(0) < 3 {
                    missing.push(format!("{kind:?} on memory {mem}"));
                }
            }
            for op in INTEGER_ACCESSES {
                if !cov.access_on_memory.contains(&(op.to_string(), mem)) {
                    missing.push(format!("{op} on memory {mem}"));
                }
            }
            for src in 0..8 {
                if !cov.copy_pairs.contains_key(&(mem, src)) {
                    missing.push(format!("memory.copy from memory {src} to {mem}"));
                }
            }
        }
        for op in [
            "DataDrop",
            "MemoryInit",
            "I64DivS",
            "I64DivU",
            "I64RemS",
            "I64RemU",
            "I32DivS",
            "I32RemU",
            "I64ExtendI32S",
            "I64ExtendI32U",
            "I32WrapI64",
            "I64Eqz",
            "I64LtU",
            "I64GeS",
            "I64Mul",
            "I64Shl",
            "I64ShrS",
            "I64Rotr",
            "I64Clz",
            "I64Popcnt",
            "I64Extend32S",
            "Select",
            "TypedSelect",
            "CallIndirect",
            "BrTable",
        ] {
            if cov.count(op) < 5 {
                missing.push(format!("{op} ({} times)", cov.count(op)));
            }
        }
        if cov.overlapping_copies_src_below < 10 || cov.overlapping_copies_src_above < 10 {
            missing.push(format!(
                "overlapping copies within one memory (source below: {}, above: {})",
                cov.overlapping_copies_src_below, cov.overlapping_copies_src_above
            ));
        }
        for (what, n) in [
            ("i64 parameters", cov.i64_params),
            ("i64 results", cov.i64_results),
            ("i64 globals", cov.i64_globals),
            ("i64 locals", cov.i64_locals),
        ] {
            if n < 20 {
                missing.push(format!("{what} ({n})"));
            }
        }
        assert!(
            missing.is_empty(),
            "the generator no longer produces: {missing:#?}"
        );
    }

    /// Over a batch of seeds every float operator the generator knows
    /// appears (read back from the binaries), the modules validate, and
    /// with floats off none does.
    #[test]
    fn floats_are_generated_and_can_be_switched_off() {
        let mut c = Coverage::default();
        for seed in 0..300 {
            c.add(&generate(seed, &GenConfig::default()).wasm).unwrap();
        }
        let mut ops: Vec<String> = Vec::new();
        for ty in ["F32", "F64"] {
            for op in [
                "Add", "Sub", "Mul", "Div", "Min", "Max", "Copysign", "Abs", "Neg", "Sqrt", "Ceil",
                "Floor", "Trunc", "Nearest", "Eq", "Ne", "Lt", "Gt", "Le", "Ge", "Const",
                "ConvertI32S", "ConvertI32U", "ConvertI64S", "ConvertI64U",
            ] {
                ops.push(format!("{ty}{op}"));
            }
        }
        ops.extend(["F32DemoteF64", "F64PromoteF32", "F32ReinterpretI32", "F64ReinterpretI64"].map(String::from));
        for int in ["I32", "I64"] {
            for f in ["F32", "F64"] {
                for sign in ["S", "U"] {
                    ops.push(format!("{int}TruncSat{f}{sign}"));
                }
            }
        }
        for f in ["F32", "F64"] {
            for sign in ["S", "U"] {
                ops.push(format!("I32Trunc{f}{sign}"));
            }
        }
        let missing: Vec<&String> = ops.iter().filter(|op| c.count(op) == 0).collect();
        assert!(missing.is_empty(), "never generated: {missing:?}");
        let off = GenConfig {
            floats: false,
            ..GenConfig::default()
        };
        for seed in 0..50 {
            let m = generate(seed, &off);
            let mut c = Coverage::default();
            c.add(&m.wasm).unwrap();
            assert!(
                !c.ops.keys().any(|k| k.starts_with("F32") || k.starts_with("F64")),
                "seed {seed} uses floats with floats off"
            );
        }
    }

    /// With i64 off the modules contain no i64 at all (what runs while the
    /// backend rejects i64).
    #[test]
    fn i64_can_be_switched_off() {
        let cfg = GenConfig {
            i64: false,
            ..GenConfig::default()
        };
        for seed in 0..100 {
            let m = generate(seed, &cfg);
            assert!(
                !crate::difftest::coverage::uses_i64(&m.wasm).unwrap(),
                "seed {seed} uses i64"
            );
        }
    }

    #[test]
    fn generated_modules_validate_and_are_deterministic() {
        let cfg = GenConfig::default();
        for seed in 0..300 {
            let m = generate(seed, &cfg);
            wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
                .validate_all(&m.wasm)
                .unwrap_or_else(|e| panic!("seed {seed}: invalid module: {e}"));
            assert_eq!(
                m.wasm,
                generate(seed, &cfg).wasm,
                "seed {seed} is not deterministic"
            );
        }
    }
}
