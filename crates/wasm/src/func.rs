//! One wasm function body → one SSA IR function.
//!
//! The operand stack holds IR values; wasm blocks become IR blocks whose
//! parameters carry the block results (loops: the loop parameters); locals
//! go through the SSA builder. Code after `br`/`return`/`unreachable` up to
//! the end of the enclosing construct is skipped (only nesting is tracked).

use crate::env::ModuleEnv;
use crate::module::{val_type, val_type_name};
use crate::ssa::{self, PredEdge, SsaBuilder, NO_ARGS};
use crate::{BoundsMode, TranslateOptions, WasmError};
use bulkhead_ir::{
    BinaryOp, Block, BlockCall, ConvertOp, DataIdx, FloatBinaryOp, FloatCC, FloatUnaryOp, FuncIdx, Function,
    FunctionBuilder, GlobalIdx, InstData, IntCC, LoadKind, MemIdx, SigIdx, Signature, StoreKind, TableIdx, TrapCode,
    Type, UnaryOp, Value,
};
use std::collections::BTreeMap;
use wasmparser::{BlockType, FunctionBody, MemArg, MemArgTarget, Operator};

/// The wasm text-format name of an operator (`i64.add`, `call_indirect`),
/// derived from wasmparser's variant name.
pub(crate) fn operator_name(op: &Operator<'_>) -> String {
    let debug = format!("{op:?}");
    let variant: String = debug.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
    // CamelCase → snake_case: an underscore before every capital that follows
    // a lowercase letter or a digit (I32TruncF32S → i32_trunc_f32_s).
    let mut snake = String::new();
    let mut prev: Option<char> = None;
    for c in variant.chars() {
        if c.is_ascii_uppercase() && prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit()) {
            snake.push('_');
        }
        snake.push(c.to_ascii_lowercase());
        prev = Some(c);
    }
    // The text format separates the type or namespace prefix with a dot.
    const PREFIXES: [&str; 18] = [
        "i32", "i64", "f32", "f64", "v128", "i8x16", "i16x8", "i32x4", "i64x2", "f32x4", "f64x2", "memory", "table",
        "ref", "data", "elem", "local", "global",
    ];
    for p in PREFIXES {
        if let Some(rest) = snake.strip_prefix(p).and_then(|r| r.strip_prefix('_')) {
            let rest = rest.replacen("atomic_", "atomic.", 1);
            let rest = ["rmw_", "rmw8_", "rmw16_", "rmw32_"]
                .iter()
                .fold(rest, |r, pat| r.replacen(pat, &pat.replace('_', "."), 1));
            return format!("{p}.{rest}");
        }
    }
    snake
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum FrameKind {
    Block,
    Loop,
    /// `if` whose `else` has not been seen yet.
    If,
    Else,
}

struct Frame {
    kind: FrameKind,
    /// Where `br` to this frame goes: the loop header for loops, else `end`.
    label: Block,
    /// The continuation after `end`; its parameters are the results.
    end: Block,
    params: Vec<Type>,
    results: Vec<Type>,
    /// Operand stack height below the frame's parameters.
    height: usize,
    /// For `if`: the block taken when the condition is zero, and the
    /// parameter values it starts with.
    else_block: Option<Block>,
    else_args: Vec<Value>,
    /// Whether some branch (or the fallthrough) reaches `end`.
    end_reachable: bool,
}

impl Frame {
    fn branch_types(&self) -> &[Type] {
        if self.kind == FrameKind::Loop {
            &self.params
        } else {
            &self.results
        }
    }
}

struct Translator<'a, 'f> {
    env: &'a ModuleEnv,
    opts: &'a TranslateOptions,
    /// Data index → the global holding the current length of a passive
    /// segment that is dropped somewhere (see `module::add_segment_length_globals`).
    segment_lengths: &'a BTreeMap<u32, u32>,
    func_index: u32,
    b: FunctionBuilder<'f>,
    ssa: SsaBuilder,
    stack: Vec<Value>,
    control: Vec<Frame>,
    reachable: bool,
    /// Nesting depth of constructs opened in unreachable code.
    dead_depth: u32,
    /// Blocks in the order they were started (the final layout).
    order: Vec<Block>,
    /// Offset of the operator being translated.
    offset: usize,
}

pub(crate) fn translate_function(
    env: &ModuleEnv,
    opts: &TranslateOptions,
    segment_lengths: &BTreeMap<u32, u32>,
    func_index: u32,
    body: &FunctionBody<'_>,
) -> Result<Function, WasmError> {
    let decl = env
        .funcs
        .get(func_index as usize)
        .ok_or_else(|| WasmError::new(format!("function {func_index} has no declaration")))?;
    let sig: Signature = decl.sig.clone();
    let body_offset = body.range().start as usize;
    let err_here = |msg: String, off: usize| WasmError::in_func(msg, func_index, off);
    for (what, list) in [("parameter", &sig.params), ("result", &sig.results)] {
        if let Some(t) = list.iter().find(|t| !supported(**t)) {
            return Err(err_here(format!("unsupported {what} type {t} in the function's signature"), body_offset));
        }
    }
    let name = decl.exports.first().cloned().unwrap_or_else(|| format!("f{func_index}"));

    // Locals: parameters first, then the declared ones.
    let mut var_types = sig.params.clone();
    let mut locals = body.get_locals_reader().map_err(|e| WasmError::from_parser(e).with_func(func_index))?;
    for _ in 0..locals.get_count() {
        let pos = locals.original_position() as usize;
        let (count, ty) = locals.read().map_err(|e| WasmError::from_parser(e).with_func(func_index))?;
        let t = val_type(ty).filter(|t| supported(*t)).ok_or_else(|| {
            err_here(format!("unsupported local type {} (local {})", val_type_name(ty), var_types.len()), pos)
        })?;
        // Validation caps the number of locals (50000), so this is bounded.
        var_types.extend(std::iter::repeat_n(t, count as usize));
    }

    let mut func = Function::new(FuncIdx(func_index), name, sig.clone());
    let mut b = FunctionBuilder::new(&mut func);
    let entry = b.create_block();
    let ret_block = b.create_block();
    let mut ssa = SsaBuilder::new(var_types, entry);
    b.switch_to_block(entry);
    for (i, &t) in sig.params.iter().enumerate() {
        let p = b.append_block_param(entry, t);
        ssa.def_var(i as u32, entry, p);
    }
    for &t in &sig.results {
        b.append_block_param(ret_block, t);
    }
    let mut tr = Translator {
        env,
        opts,
        segment_lengths,
        func_index,
        b,
        ssa,
        stack: Vec::new(),
        control: Vec::new(),
        reachable: true,
        dead_depth: 0,
        order: vec![entry],
        offset: body_offset,
    };
    tr.control.push(Frame {
        kind: FrameKind::Block,
        label: ret_block,
        end: ret_block,
        params: Vec::new(),
        results: sig.results.clone(),
        height: 0,
        else_block: None,
        else_args: Vec::new(),
        end_reachable: false,
    });

    let mut reader = body.get_operators_reader().map_err(|e| WasmError::from_parser(e).with_func(func_index))?;
    while !tr.control.is_empty() {
        let (op, offset) = reader.read_with_offset().map_err(|e| WasmError::from_parser(e).with_func(func_index))?;
        tr.offset = offset as usize;
        tr.b.srcloc = u32::try_from(offset).unwrap_or(u32::MAX);
        tr.operator(op)?;
    }
    // The function-level frame ended: `ret_block` holds the results.
    if tr.reachable {
        let results = tr.b.func.block_params(ret_block).to_vec();
        tr.b.ret(&results);
    }
    let Translator { order, .. } = tr;
    finish_layout(order, &mut func);
    if !ssa::check_complete(&func) {
        return Err(WasmError::in_func("internal error: incomplete SSA construction", func_index, body_offset));
    }
    ssa::remove_redundant_params(&mut func);
    ssa::thread_jumps(&mut func);
    Ok(func)
}

/// Sets the final layout: blocks in the order they were started, without
/// those that cannot be reached.
fn finish_layout(order: Vec<Block>, func: &mut Function) {
    let mut seen = vec![false; func.blocks.len()];
    func.layout = order.into_iter().filter(|b| !std::mem::replace(&mut seen[b.index()], true)).collect();
    func.remove_unreachable_blocks();
}

fn supported(t: Type) -> bool {
    matches!(t, Type::I32 | Type::I64 | Type::F32 | Type::F64)
}

/// Bits (of a `from` float) of the exclusive bounds `(lower, upper)` for a
/// trapping truncation to `to`: it succeeds exactly when `lower < x < upper`.
///
/// The result range is `[MIN, MAX]`; truncation toward zero maps `x` into it
/// iff `MIN - 1 < x < MAX + 1`. `MAX + 1` (2^31, 2^32, 2^63, 2^64) is a power
/// of two, exact in both float types. `MIN - 1` is -1 for unsigned results;
/// for signed ones (-2^(N-1) - 1) it is exact in f64 for N = 32, and
/// otherwise rounds away: then the bound is the largest float below
/// -2^(N-1), which is the next float down from -2^(N-1) (-2^31 - 2^8 in
/// f32, -2^63 - 2^40 in f32, -2^63 - 2^11 in f64).
pub(crate) fn truncation_bounds(signed: bool, from: Type, to: Type) -> Option<(u64, u64)> {
    let (lower, upper): (f64, f64) = match (signed, to) {
        (true, Type::I32) => (
            if from == Type::F32 { -2147483904.0 } else { -2147483649.0 },
            2147483648.0,
        ),
        (true, Type::I64) => (
            if from == Type::F32 { -9223373136366403584.0 } else { -9223372036854777856.0 },
            9223372036854775808.0,
        ),
        (false, Type::I32) => (-1.0, 4294967296.0),
        (false, Type::I64) => (-1.0, 18446744073709551616.0),
        _ => return None,
    };
    match from {
        // All bounds above are exact in f32 where used with f32 (checked by
        // a test), so the narrowing is exact.
        Type::F32 => Some(((lower as f32).to_bits() as u64, (upper as f32).to_bits() as u64)),
        Type::F64 => Some((lower.to_bits(), upper.to_bits())),
        _ => None,
    }
}

impl WasmError {
    fn with_func(mut self, func: u32) -> Self {
        self.func_index = Some(func);
        self
    }
}

impl Translator<'_, '_> {
    fn error(&self, message: impl Into<String>) -> WasmError {
        WasmError::in_func(message, self.func_index, self.offset)
    }

    fn internal(&self, what: &str) -> WasmError {
        self.error(format!("internal error: {what}"))
    }

    fn unsupported(&self, op: &Operator<'_>) -> WasmError {
        self.error(format!("unsupported operator {}", operator_name(op)))
    }

    fn pop(&mut self) -> Result<Value, WasmError> {
        self.stack.pop().ok_or_else(|| self.internal("operand stack underflow"))
    }

    fn popn(&mut self, n: usize) -> Result<Vec<Value>, WasmError> {
        if self.stack.len() < n {
            return Err(self.internal("operand stack underflow"));
        }
        Ok(self.stack.split_off(self.stack.len() - n))
    }

    fn peekn(&self, n: usize) -> Result<Vec<Value>, WasmError> {
        if self.stack.len() < n {
            return Err(self.internal("operand stack underflow"));
        }
        Ok(self.stack[self.stack.len() - n..].to_vec())
    }

    fn cur(&self) -> Result<Block, WasmError> {
        self.b.current_block().ok_or_else(|| self.internal("no current block"))
    }

    fn switch_to(&mut self, block: Block) {
        self.b.switch_to_block(block);
        self.order.push(block);
    }

    fn jump(&mut self, target: Block, args: &[Value]) -> Result<(), WasmError> {
        let from = self.cur()?;
        let inst = self.b.ins(InstData::Jump { dest: BlockCall::new(target, args) }, &[]);
        self.ssa.add_pred(target, PredEdge { block: from, inst, slot: 0 });
        Ok(())
    }

    fn brif(&mut self, cond: Value, then_b: Block, then_args: &[Value], else_b: Block) -> Result<(), WasmError> {
        let from = self.cur()?;
        let inst = self.b.ins(
            InstData::Brif {
                arg: cond,
                then_dest: BlockCall::new(then_b, then_args),
                else_dest: BlockCall::new(else_b, &[]),
            },
            &[],
        );
        self.ssa.add_pred(then_b, PredEdge { block: from, inst, slot: 0 });
        self.ssa.add_pred(else_b, PredEdge { block: from, inst, slot: 1 });
        Ok(())
    }

    fn new_block_with_params(&mut self, types: &[Type]) -> Block {
        let block = self.b.create_block();
        for &t in types {
            self.b.append_block_param(block, t);
        }
        block
    }

    fn block_type(&self, bt: BlockType) -> Result<(Vec<Type>, Vec<Type>), WasmError> {
        let (params, results) = match bt {
            BlockType::Empty => (Vec::new(), Vec::new()),
            BlockType::Type(t) => {
                let ty = val_type(t)
                    .filter(|t| supported(*t))
                    .ok_or_else(|| self.error(format!("unsupported block result type {}", val_type_name(t))))?;
                (Vec::new(), vec![ty])
            }
            BlockType::FuncType(i) => {
                let sig = self.env.types.get(i as usize).ok_or_else(|| self.internal("block type out of range"))?;
                (sig.params.clone(), sig.results.clone())
            }
        };
        if let Some(t) = params.iter().chain(&results).find(|t| !supported(**t)) {
            return Err(self.error(format!("unsupported block type with a {t} value")));
        }
        Ok((params, results))
    }

    fn frame_at_depth(&self, depth: u32) -> Result<usize, WasmError> {
        let n = self.control.len();
        (depth as usize)
            .checked_add(1)
            .and_then(|d| n.checked_sub(d))
            .ok_or_else(|| self.internal("branch depth out of range"))
    }

    /// A conditional branch (taken when `cond != 0`) to the frame
    /// `relative_depth` out, passing the top of the stack as its arguments;
    /// translation continues in a fresh fallthrough block.
    fn branch_if(&mut self, cond: Value, relative_depth: u32) -> Result<(), WasmError> {
        let idx = self.frame_at_depth(relative_depth)?;
        let (target, args) = self.branch_target(idx)?;
        let next = self.b.create_block();
        self.brif(cond, target, &args, next)?;
        self.ssa.seal(self.b.func, next);
        self.switch_to(next);
        Ok(())
    }

    /// Branch arguments for a branch to the frame at `idx`, and the target.
    fn branch_target(&mut self, idx: usize) -> Result<(Block, Vec<Value>), WasmError> {
        let frame = &self.control[idx];
        let n = frame.branch_types().len();
        let label = frame.label;
        if frame.kind != FrameKind::Loop {
            self.control[idx].end_reachable = true;
        }
        Ok((label, self.peekn(n)?))
    }

    fn push_frame(&mut self, kind: FrameKind, bt: BlockType) -> Result<(Vec<Type>, Block), WasmError> {
        let (params, results) = self.block_type(bt)?;
        let end = self.new_block_with_params(&results);
        let height = self
            .stack
            .len()
            .checked_sub(params.len())
            .ok_or_else(|| self.internal("operand stack underflow"))?;
        self.control.push(Frame {
            kind,
            label: end,
            end,
            params: params.clone(),
            results,
            height,
            else_block: None,
            else_args: Vec::new(),
            end_reachable: false,
        });
        Ok((params, end))
    }

    fn operator(&mut self, op: Operator<'_>) -> Result<(), WasmError> {
        if !self.reachable {
            return self.dead_operator(op);
        }
        use Operator as O;
        match op {
            O::Nop => {}
            O::Unreachable => {
                self.b.trap(TrapCode::Unreachable);
                self.reachable = false;
            }
            O::Block { blockty } => {
                self.push_frame(FrameKind::Block, blockty)?;
            }
            O::Loop { blockty } => {
                let (params, _) = self.push_frame(FrameKind::Loop, blockty)?;
                let header = self.new_block_with_params(&params);
                let args = self.popn(params.len())?;
                self.jump(header, &args)?;
                if let Some(f) = self.control.last_mut() {
                    f.label = header;
                }
                self.switch_to(header);
                let header_params = self.b.func.block_params(header).to_vec();
                self.stack.extend(header_params);
            }
            O::If { blockty } => {
                let cond = self.pop()?;
                let (params, _) = self.push_frame(FrameKind::If, blockty)?;
                let then_b = self.b.create_block();
                let else_b = self.b.create_block();
                self.brif(cond, then_b, &[], else_b)?;
                // Both arms start with the parameters already on the stack;
                // the entry block dominates both, so no block arguments.
                let else_args = self.peekn(params.len())?;
                if let Some(f) = self.control.last_mut() {
                    f.else_block = Some(else_b);
                    f.else_args = else_args;
                }
                self.ssa.seal(self.b.func, then_b);
                self.ssa.seal(self.b.func, else_b);
                self.switch_to(then_b);
            }
            O::Else => self.op_else()?,
            O::End => self.op_end()?,
            O::Br { relative_depth } => {
                let idx = self.frame_at_depth(relative_depth)?;
                let (target, args) = self.branch_target(idx)?;
                self.jump(target, &args)?;
                self.reachable = false;
            }
            O::BrIf { relative_depth } => {
                let cond = self.pop()?;
                self.branch_if(cond, relative_depth)?;
            }
            O::BrTable { targets } => {
                let index = self.pop()?;
                let mut depths = Vec::with_capacity(targets.len() as usize + 1);
                for t in targets.targets() {
                    depths.push(t.map_err(|e| WasmError::from_parser(e).with_func(self.func_index))?);
                }
                depths.push(targets.default());
                // Targets of br_table take no arguments: each distinct wasm
                // target gets a trampoline block that passes them.
                let mut trampolines: Vec<(u32, Block)> = Vec::new();
                let mut table = Vec::with_capacity(depths.len());
                for &d in &depths {
                    let t = match trampolines.iter().find(|(depth, _)| *depth == d) {
                        Some(&(_, t)) => t,
                        None => {
                            let t = self.b.create_block();
                            trampolines.push((d, t));
                            t
                        }
                    };
                    table.push(t);
                }
                let default = table.pop().ok_or_else(|| self.internal("empty br_table"))?;
                let from = self.cur()?;
                let inst = self.b.ins(InstData::BrTable { arg: index, targets: table, default }, &[]);
                for &(_, t) in &trampolines {
                    self.ssa.add_pred(t, PredEdge { block: from, inst, slot: NO_ARGS });
                }
                for (d, t) in trampolines {
                    self.ssa.seal(self.b.func, t);
                    self.switch_to(t);
                    let idx = self.frame_at_depth(d)?;
                    let (target, args) = self.branch_target(idx)?;
                    self.jump(target, &args)?;
                }
                self.reachable = false;
            }
            O::Return => {
                let n = self.b.func.sig.results.len();
                let args = self.peekn(n)?;
                self.b.ret(&args);
                self.reachable = false;
            }
            O::Call { function_index } => {
                let callee = self
                    .env
                    .funcs
                    .get(function_index as usize)
                    .ok_or_else(|| self.internal("call to a missing function"))?;
                let sig = callee.sig.clone();
                if let Some(t) = sig.params.iter().chain(&sig.results).find(|t| !supported(**t)) {
                    return Err(self.error(format!(
                        "unsupported call to function {function_index}: its signature has a {t} value"
                    )));
                }
                let args = self.popn(sig.params.len())?;
                let results = self.b.call(FuncIdx(function_index), &args, &sig.results);
                self.stack.extend(results);
            }
            O::CallIndirect { type_index, table_index } => self.call_indirect(type_index, table_index)?,
            O::TableSize { table } => {
                self.table(table)?;
                let size = self.b.table_size(TableIdx(table));
                self.stack.push(size);
            }
            // A reference on the operand stack is an i32: a funcref is the
            // address of the function's descriptor, an externref the host's
            // value; 0 is null for both.
            O::RefNull { hty } => {
                use wasmparser::{AbstractHeapType, HeapType};
                let supported = matches!(
                    hty,
                    HeapType::Abstract { shared: false, ty: AbstractHeapType::Func | AbstractHeapType::Extern }
                        | HeapType::Concrete(_)
                );
                if !supported {
                    return Err(self.error(format!("unsupported operator ref.null {hty:?}")));
                }
                let null = self.b.iconst(Type::I32, 0);
                self.stack.push(null);
            }
            O::RefIsNull => {
                let r = self.pop()?;
                let zero = self.b.iconst(Type::I32, 0);
                let is_null = self.b.icmp(IntCC::Eq, r, zero);
                self.stack.push(is_null);
            }
            // Null checks of typed function references: the reference is an
            // i32, 0 is null.
            O::RefAsNonNull => {
                let r = self.pop()?;
                self.b.trapz(r, TrapCode::NullReference);
                self.stack.push(r);
            }
            O::BrOnNull { relative_depth } => {
                // [t* (ref null ht)] -> [t* (ref ht)]; the branch carries t*.
                let r = self.pop()?;
                let zero = self.b.iconst(Type::I32, 0);
                let is_null = self.b.icmp(IntCC::Eq, r, zero);
                self.branch_if(is_null, relative_depth)?;
                self.stack.push(r);
            }
            O::BrOnNonNull { relative_depth } => {
                // [t* (ref null ht)] -> [t*]; the branch carries t* and the
                // (now non-null) reference, so it stays on the stack for the
                // branch and is dropped on fallthrough. A non-zero i32 is
                // the branch condition itself.
                let r = self.stack.last().copied().ok_or_else(|| self.internal("operand stack underflow"))?;
                self.branch_if(r, relative_depth)?;
                self.pop()?;
            }
            O::CallRef { type_index } => self.call_ref(type_index)?,
            O::RefFunc { function_index } => {
                if self.env.funcs.get(function_index as usize).is_none() {
                    return Err(self.internal("ref.func of a missing function"));
                }
                let r = self.b.func_ref(FuncIdx(function_index));
                self.stack.push(r);
            }
            O::TableGet { table } => {
                self.table(table)?;
                let index = self.pop()?;
                self.table_access_check(TableIdx(table), index);
                let r = self.b.table_get(TableIdx(table), index);
                self.stack.push(r);
            }
            O::TableSet { table } => {
                self.table(table)?;
                let r = self.pop()?;
                let index = self.pop()?;
                self.table_access_check(TableIdx(table), index);
                self.b.table_set(TableIdx(table), index, r);
            }
            O::TableGrow { table } => self.table_grow(table)?,
            O::TableFill { table } => self.table_fill(table)?,
            O::TableCopy { dst_table, src_table } => self.table_copy(dst_table, src_table)?,
            O::TableInit { elem_index, table } => self.table_init(elem_index, table)?,
            O::ElemDrop { elem_index } => {
                // Only segments that `table.init` reads have an image whose
                // length can change; dropping any other segment is
                // unobservable (active and declarative segments already
                // have length 0 once instantiation is over).
                if let Some(image) = self.segment_image(elem_index) {
                    let zero = self.b.iconst(Type::I32, 0);
                    self.b.table_set_size(image, zero);
                }
            }
            O::Drop => {
                self.pop()?;
            }
            O::Select => self.select()?,
            O::TypedSelect { ty } => {
                if !val_type(ty).is_some_and(supported) {
                    return Err(self.error(format!("unsupported operator select of type {}", val_type_name(ty))));
                }
                self.select()?;
            }
            O::LocalGet { local_index } => {
                let block = self.cur()?;
                self.check_local(local_index)?;
                let v = self.ssa.use_var(self.b.func, local_index, block);
                self.stack.push(v);
            }
            O::LocalSet { local_index } => {
                let v = self.pop()?;
                let block = self.cur()?;
                self.check_local(local_index)?;
                self.ssa.def_var(local_index, block, v);
            }
            O::LocalTee { local_index } => {
                let v = *self.stack.last().ok_or_else(|| self.internal("operand stack underflow"))?;
                let block = self.cur()?;
                self.check_local(local_index)?;
                self.ssa.def_var(local_index, block, v);
            }
            O::GlobalGet { global_index } => {
                let ty = self.global_type(global_index, &op)?;
                let v = self.b.global_get(GlobalIdx(global_index), ty);
                self.stack.push(v);
            }
            O::GlobalSet { global_index } => {
                self.global_type(global_index, &op)?;
                let v = self.pop()?;
                self.b.global_set(GlobalIdx(global_index), v);
            }

            O::I32Load { memarg } => self.load(LoadKind::I32, &memarg, &op)?,
            O::I32Load8S { memarg } => self.load(LoadKind::I32_8S, &memarg, &op)?,
            O::I32Load8U { memarg } => self.load(LoadKind::I32_8U, &memarg, &op)?,
            O::I32Load16S { memarg } => self.load(LoadKind::I32_16S, &memarg, &op)?,
            O::I32Load16U { memarg } => self.load(LoadKind::I32_16U, &memarg, &op)?,
            O::I32Store { memarg } => self.store(StoreKind::I32, &memarg, &op)?,
            O::I32Store8 { memarg } => self.store(StoreKind::I32_8, &memarg, &op)?,
            O::I32Store16 { memarg } => self.store(StoreKind::I32_16, &memarg, &op)?,
            O::MemorySize { mem } => {
                let decl = self.memory(mem)?;
                let log2 = decl.page_size_log2;
                let bytes = self.b.mem_size(MemIdx(mem));
                let pages = self.shift_right(bytes, log2);
                self.stack.push(pages);
            }
            O::MemoryGrow { mem } => self.memory_grow(mem)?,
            O::MemoryFill { mem } => {
                self.memory(mem)?;
                let len = self.pop()?;
                let val = self.pop()?;
                let dst = self.pop()?;
                let m = MemIdx(mem);
                if self.opts.bounds.checks_bulk() {
                    self.b.bounds_check_dyn(m, dst, len);
                }
                let addr = self.b.mem_addr(m, dst);
                self.b.memory_fill(m, addr, val, len);
            }
            O::MemoryCopy { dst_mem, src_mem } => {
                self.memory(dst_mem)?;
                self.memory(src_mem)?;
                let len = self.pop()?;
                let src = self.pop()?;
                let dst = self.pop()?;
                let (dm, sm) = (MemIdx(dst_mem), MemIdx(src_mem));
                // Both checks come before any byte is written, so a copy
                // that traps leaves the destination untouched.
                if self.opts.bounds.checks_bulk() {
                    self.b.bounds_check_dyn(dm, dst, len);
                    self.b.bounds_check_dyn(sm, src, len);
                }
                let dst_addr = self.b.mem_addr(dm, dst);
                let src_addr = self.b.mem_addr(sm, src);
                self.b.memory_copy(dm, sm, dst_addr, src_addr, len);
            }
            O::MemoryInit { data_index, mem } => self.memory_init(data_index, mem)?,
            O::DataDrop { data_index } => {
                // Active segments are already dropped (length 0) once
                // instantiation is over: nothing to do for them.
                if let Some(&g) = self.segment_lengths.get(&data_index) {
                    let zero = self.b.iconst(Type::I32, 0);
                    self.b.global_set(GlobalIdx(g), zero);
                }
            }

            O::I32Const { value } => {
                let v = self.b.iconst(Type::I32, value as u32 as u64);
                self.stack.push(v);
            }
            O::I32Eqz => self.unary(UnaryOp::Eqz)?,
            O::I32Clz => self.unary(UnaryOp::Clz)?,
            O::I32Ctz => self.unary(UnaryOp::Ctz)?,
            O::I32Popcnt => self.unary(UnaryOp::Popcnt)?,
            O::I32Extend8S => self.unary(UnaryOp::Extend8S)?,
            O::I32Extend16S => self.unary(UnaryOp::Extend16S)?,
            O::I32Eq => self.icmp(IntCC::Eq)?,
            O::I32Ne => self.icmp(IntCC::Ne)?,
            O::I32LtS => self.icmp(IntCC::LtS)?,
            O::I32LtU => self.icmp(IntCC::LtU)?,
            O::I32GtS => self.icmp(IntCC::GtS)?,
            O::I32GtU => self.icmp(IntCC::GtU)?,
            O::I32LeS => self.icmp(IntCC::LeS)?,
            O::I32LeU => self.icmp(IntCC::LeU)?,
            O::I32GeS => self.icmp(IntCC::GeS)?,
            O::I32GeU => self.icmp(IntCC::GeU)?,
            O::I32Add => self.binary(BinaryOp::Add)?,
            O::I32Sub => self.binary(BinaryOp::Sub)?,
            O::I32Mul => self.binary(BinaryOp::Mul)?,
            O::I32And => self.binary(BinaryOp::And)?,
            O::I32Or => self.binary(BinaryOp::Or)?,
            O::I32Xor => self.binary(BinaryOp::Xor)?,
            O::I32Shl => self.binary(BinaryOp::Shl)?,
            O::I32ShrS => self.binary(BinaryOp::ShrS)?,
            O::I32ShrU => self.binary(BinaryOp::ShrU)?,
            O::I32Rotl => self.binary(BinaryOp::Rotl)?,
            O::I32Rotr => self.binary(BinaryOp::Rotr)?,
            O::I32DivS => self.signed_division(Type::I32)?,
            O::I32DivU => self.checked_division(BinaryOp::DivU)?,
            // MIN % -1 = 0 in wasm and in the IR's total remainder.
            O::I32RemS => self.checked_division(BinaryOp::RemS)?,
            O::I32RemU => self.checked_division(BinaryOp::RemU)?,

            O::I64Load { memarg } => self.load(LoadKind::I64, &memarg, &op)?,
            O::I64Load8S { memarg } => self.load(LoadKind::I64_8S, &memarg, &op)?,
            O::I64Load8U { memarg } => self.load(LoadKind::I64_8U, &memarg, &op)?,
            O::I64Load16S { memarg } => self.load(LoadKind::I64_16S, &memarg, &op)?,
            O::I64Load16U { memarg } => self.load(LoadKind::I64_16U, &memarg, &op)?,
            O::I64Load32S { memarg } => self.load(LoadKind::I64_32S, &memarg, &op)?,
            O::I64Load32U { memarg } => self.load(LoadKind::I64_32U, &memarg, &op)?,
            O::I64Store { memarg } => self.store(StoreKind::I64, &memarg, &op)?,
            O::I64Store8 { memarg } => self.store(StoreKind::I64_8, &memarg, &op)?,
            O::I64Store16 { memarg } => self.store(StoreKind::I64_16, &memarg, &op)?,
            O::I64Store32 { memarg } => self.store(StoreKind::I64_32, &memarg, &op)?,
            O::F32Load { memarg } => self.load(LoadKind::F32, &memarg, &op)?,
            O::F64Load { memarg } => self.load(LoadKind::F64, &memarg, &op)?,
            O::F32Store { memarg } => self.store(StoreKind::F32, &memarg, &op)?,
            O::F64Store { memarg } => self.store(StoreKind::F64, &memarg, &op)?,

            O::I64Const { value } => {
                let v = self.b.iconst(Type::I64, value as u64);
                self.stack.push(v);
            }
            O::I64Eqz => self.unary(UnaryOp::Eqz)?,
            O::I64Clz => self.unary(UnaryOp::Clz)?,
            O::I64Ctz => self.unary(UnaryOp::Ctz)?,
            O::I64Popcnt => self.unary(UnaryOp::Popcnt)?,
            O::I64Extend8S => self.unary(UnaryOp::Extend8S)?,
            O::I64Extend16S => self.unary(UnaryOp::Extend16S)?,
            O::I64Extend32S => self.unary(UnaryOp::Extend32S)?,
            O::I64Eq => self.icmp(IntCC::Eq)?,
            O::I64Ne => self.icmp(IntCC::Ne)?,
            O::I64LtS => self.icmp(IntCC::LtS)?,
            O::I64LtU => self.icmp(IntCC::LtU)?,
            O::I64GtS => self.icmp(IntCC::GtS)?,
            O::I64GtU => self.icmp(IntCC::GtU)?,
            O::I64LeS => self.icmp(IntCC::LeS)?,
            O::I64LeU => self.icmp(IntCC::LeU)?,
            O::I64GeS => self.icmp(IntCC::GeS)?,
            O::I64GeU => self.icmp(IntCC::GeU)?,
            O::I64Add => self.binary(BinaryOp::Add)?,
            O::I64Sub => self.binary(BinaryOp::Sub)?,
            O::I64Mul => self.binary(BinaryOp::Mul)?,
            O::I64And => self.binary(BinaryOp::And)?,
            O::I64Or => self.binary(BinaryOp::Or)?,
            O::I64Xor => self.binary(BinaryOp::Xor)?,
            O::I64Shl => self.binary(BinaryOp::Shl)?,
            O::I64ShrS => self.binary(BinaryOp::ShrS)?,
            O::I64ShrU => self.binary(BinaryOp::ShrU)?,
            O::I64Rotl => self.binary(BinaryOp::Rotl)?,
            O::I64Rotr => self.binary(BinaryOp::Rotr)?,
            O::I64DivS => self.signed_division(Type::I64)?,
            O::I64DivU => self.checked_division(BinaryOp::DivU)?,
            O::I64RemS => self.checked_division(BinaryOp::RemS)?,
            O::I64RemU => self.checked_division(BinaryOp::RemU)?,

            O::I64ExtendI32S => self.convert(ConvertOp::SExtend, Type::I64)?,
            O::I64ExtendI32U => self.convert(ConvertOp::UExtend, Type::I64)?,
            O::I32WrapI64 => self.convert(ConvertOp::Wrap, Type::I32)?,

            O::F32Const { value } => {
                let v = self.b.fconst(Type::F32, value.bits() as u64);
                self.stack.push(v);
            }
            O::F64Const { value } => {
                let v = self.b.fconst(Type::F64, value.bits());
                self.stack.push(v);
            }
            O::F32Abs | O::F64Abs => self.funary(FloatUnaryOp::Abs)?,
            O::F32Neg | O::F64Neg => self.funary(FloatUnaryOp::Neg)?,
            O::F32Sqrt | O::F64Sqrt => self.funary(FloatUnaryOp::Sqrt)?,
            O::F32Ceil | O::F64Ceil => self.funary(FloatUnaryOp::Ceil)?,
            O::F32Floor | O::F64Floor => self.funary(FloatUnaryOp::Floor)?,
            O::F32Trunc | O::F64Trunc => self.funary(FloatUnaryOp::Trunc)?,
            O::F32Nearest | O::F64Nearest => self.funary(FloatUnaryOp::Nearest)?,
            O::F32Add | O::F64Add => self.fbinary(FloatBinaryOp::Add)?,
            O::F32Sub | O::F64Sub => self.fbinary(FloatBinaryOp::Sub)?,
            O::F32Mul | O::F64Mul => self.fbinary(FloatBinaryOp::Mul)?,
            O::F32Div | O::F64Div => self.fbinary(FloatBinaryOp::Div)?,
            O::F32Min | O::F64Min => self.fbinary(FloatBinaryOp::Min)?,
            O::F32Max | O::F64Max => self.fbinary(FloatBinaryOp::Max)?,
            O::F32Copysign | O::F64Copysign => self.fbinary(FloatBinaryOp::Copysign)?,
            O::F32Eq | O::F64Eq => self.fcmp(FloatCC::Eq)?,
            O::F32Ne | O::F64Ne => self.fcmp(FloatCC::Ne)?,
            O::F32Lt | O::F64Lt => self.fcmp(FloatCC::Lt)?,
            O::F32Gt | O::F64Gt => self.fcmp(FloatCC::Gt)?,
            O::F32Le | O::F64Le => self.fcmp(FloatCC::Le)?,
            O::F32Ge | O::F64Ge => self.fcmp(FloatCC::Ge)?,

            O::F32DemoteF64 => self.convert(ConvertOp::FDemote, Type::F32)?,
            O::F64PromoteF32 => self.convert(ConvertOp::FPromote, Type::F64)?,
            O::F32ConvertI32S | O::F32ConvertI64S => self.convert(ConvertOp::SIntToFloat, Type::F32)?,
            O::F32ConvertI32U | O::F32ConvertI64U => self.convert(ConvertOp::UIntToFloat, Type::F32)?,
            O::F64ConvertI32S | O::F64ConvertI64S => self.convert(ConvertOp::SIntToFloat, Type::F64)?,
            O::F64ConvertI32U | O::F64ConvertI64U => self.convert(ConvertOp::UIntToFloat, Type::F64)?,
            O::I32ReinterpretF32 => self.convert(ConvertOp::Bitcast, Type::I32)?,
            O::I64ReinterpretF64 => self.convert(ConvertOp::Bitcast, Type::I64)?,
            O::F32ReinterpretI32 => self.convert(ConvertOp::Bitcast, Type::F32)?,
            O::F64ReinterpretI64 => self.convert(ConvertOp::Bitcast, Type::F64)?,
            O::I32TruncSatF32S | O::I32TruncSatF64S => self.convert(ConvertOp::FloatToSIntSat, Type::I32)?,
            O::I32TruncSatF32U | O::I32TruncSatF64U => self.convert(ConvertOp::FloatToUIntSat, Type::I32)?,
            O::I64TruncSatF32S | O::I64TruncSatF64S => self.convert(ConvertOp::FloatToSIntSat, Type::I64)?,
            O::I64TruncSatF32U | O::I64TruncSatF64U => self.convert(ConvertOp::FloatToUIntSat, Type::I64)?,
            O::I32TruncF32S | O::I32TruncF64S => self.trapping_truncation(true, Type::I32)?,
            O::I32TruncF32U | O::I32TruncF64U => self.trapping_truncation(false, Type::I32)?,
            O::I64TruncF32S | O::I64TruncF64S => self.trapping_truncation(true, Type::I64)?,
            O::I64TruncF32U | O::I64TruncF64U => self.trapping_truncation(false, Type::I64)?,

            other => return Err(self.unsupported(&other)),
        }
        Ok(())
    }

    /// Operators in unreachable code: only nesting matters, until the
    /// `else`/`end` of the frame that became unreachable.
    fn dead_operator(&mut self, op: Operator<'_>) -> Result<(), WasmError> {
        match op {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } | Operator::TryTable { .. } => {
                self.dead_depth += 1;
            }
            Operator::Else if self.dead_depth == 0 => self.op_else()?,
            Operator::End if self.dead_depth == 0 => self.op_end()?,
            Operator::End => self.dead_depth -= 1,
            _ => {}
        }
        Ok(())
    }

    fn op_else(&mut self) -> Result<(), WasmError> {
        let frame = self.control.last().ok_or_else(|| self.internal("else outside if"))?;
        if frame.kind != FrameKind::If {
            return Err(self.internal("else outside if"));
        }
        let (end, n, height) = (frame.end, frame.results.len(), frame.height);
        let else_block = frame.else_block.ok_or_else(|| self.internal("if without else block"))?;
        let else_args = frame.else_args.clone();
        if self.reachable {
            let results = self.peekn(n)?;
            self.jump(end, &results)?;
        }
        let reachable = self.reachable;
        let Some(frame) = self.control.last_mut() else { return Ok(()) };
        if reachable {
            frame.end_reachable = true;
        }
        frame.kind = FrameKind::Else;
        frame.else_block = None;
        self.stack.truncate(height);
        self.stack.extend(else_args);
        self.switch_to(else_block);
        self.reachable = true;
        Ok(())
    }

    fn op_end(&mut self) -> Result<(), WasmError> {
        let frame = self.control.pop().ok_or_else(|| self.internal("end without a frame"))?;
        if self.reachable {
            let results = self.peekn(frame.results.len())?;
            self.jump(frame.end, &results)?;
        }
        let mut end_reachable = frame.end_reachable || self.reachable;
        // An `if` without `else`: the zero arm passes its parameters through.
        if let (FrameKind::If, Some(else_block)) = (frame.kind, frame.else_block) {
            self.switch_to(else_block);
            self.jump(frame.end, &frame.else_args)?;
            end_reachable = true;
        }
        if frame.kind == FrameKind::Loop {
            // Every back edge is inside the body: the header is complete.
            self.ssa.seal(self.b.func, frame.label);
        }
        self.ssa.seal(self.b.func, frame.end);
        self.stack.truncate(frame.height);
        self.reachable = end_reachable;
        if end_reachable {
            self.switch_to(frame.end);
            let results = self.b.func.block_params(frame.end).to_vec();
            self.stack.extend(results);
        }
        Ok(())
    }

    fn select(&mut self) -> Result<(), WasmError> {
        let cond = self.pop()?;
        let if_zero = self.pop()?;
        let if_nonzero = self.pop()?;
        let v = self.b.select(cond, if_nonzero, if_zero);
        self.stack.push(v);
        Ok(())
    }

    fn check_local(&self, index: u32) -> Result<(), WasmError> {
        if (index as usize) < self.ssa.num_vars() {
            Ok(())
        } else {
            Err(self.internal("local index out of range"))
        }
    }

    fn global_type(&self, index: u32, op: &Operator<'_>) -> Result<Type, WasmError> {
        let g = self.env.globals.get(index as usize).ok_or_else(|| self.internal("global index out of range"))?;
        if !supported(g.ty) {
            return Err(self.error(format!("unsupported operator {} of a {} global", operator_name(op), g.ty)));
        }
        Ok(g.ty)
    }

    fn memory(&self, index: u32) -> Result<&crate::env::MemoryDecl, WasmError> {
        self.env.memories.get(index as usize).ok_or_else(|| self.internal("memory index out of range"))
    }

    fn memarg(&self, memarg: &MemArg, op: &Operator<'_>) -> Result<(MemIdx, u32), WasmError> {
        let MemArgTarget::Memory(k) = memarg.target else {
            return Err(self.unsupported(op));
        };
        self.memory(k)?;
        let offset = u32::try_from(memarg.offset)
            .map_err(|_| self.error(format!("{}: offset {} does not fit 32 bits", operator_name(op), memarg.offset)))?;
        Ok((MemIdx(k), offset))
    }

    /// The address and immediate offset of a `width`-byte access at wasm
    /// address `index + offset`, guarded as the bounds mode says: checked
    /// (a `bounds_check` first), masked (the effective address ANDed into
    /// the memory's mask span, immediate 0; see [`BoundsMode::Mask`]) or
    /// unguarded.
    fn access_address(&mut self, mem: MemIdx, index: Value, offset: u32, width: u32) -> Result<(Value, u32), WasmError> {
        let mask_span = self.env.memories.get(mem.0 as usize).and_then(|m| m.mask_span);
        match (self.opts.bounds, mask_span) {
            (BoundsMode::Mask, Some(span)) => {
                let effective = if offset == 0 {
                    index
                } else {
                    let k = self.b.iconst(Type::I32, offset as u64);
                    self.b.binary(BinaryOp::Add, index, k)
                };
                let mask = self.b.iconst(Type::I32, span - 1);
                let masked = self.b.binary(BinaryOp::And, effective, mask);
                Ok((self.b.mem_addr(mem, masked), 0))
            }
            (BoundsMode::None, _) => Ok((self.b.mem_addr(mem, index), offset)),
            _ => {
                self.b.bounds_check(mem, index, offset as u64 + width as u64);
                Ok((self.b.mem_addr(mem, index), offset))
            }
        }
    }

    fn load(&mut self, kind: LoadKind, memarg: &MemArg, op: &Operator<'_>) -> Result<(), WasmError> {
        let (mem, offset) = self.memarg(memarg, op)?;
        let index = self.pop()?;
        let (addr, offset) = self.access_address(mem, index, offset, kind.width())?;
        let v = self.b.load(kind, addr, offset);
        self.stack.push(v);
        Ok(())
    }

    fn store(&mut self, kind: StoreKind, memarg: &MemArg, op: &Operator<'_>) -> Result<(), WasmError> {
        let (mem, offset) = self.memarg(memarg, op)?;
        let value = self.pop()?;
        let index = self.pop()?;
        let (addr, offset) = self.access_address(mem, index, offset, kind.width())?;
        self.b.store(kind, addr, value, offset);
        Ok(())
    }

    fn shift_right(&mut self, v: Value, amount: u32) -> Value {
        if amount == 0 {
            return v;
        }
        let a = self.b.iconst(Type::I32, amount as u64);
        self.b.binary(BinaryOp::ShrU, v, a)
    }

    fn shift_left(&mut self, v: Value, amount: u32) -> Value {
        if amount == 0 {
            return v;
        }
        let a = self.b.iconst(Type::I32, amount as u64);
        self.b.binary(BinaryOp::Shl, v, a)
    }

    fn table(&self, index: u32) -> Result<&crate::env::TableDecl, WasmError> {
        self.env.tables.get(index as usize).ok_or_else(|| self.internal("table index out of range"))
    }

    /// The synthesized table holding passive element segment `elem`'s
    /// entries for `table.init` (see `module::add_segment_images`), if any.
    fn segment_image(&self, elem: u32) -> Option<TableIdx> {
        self.env.tables.iter().position(|t| t.segment == Some(elem)).map(|t| TableIdx(t as u32))
    }

    /// Traps with "out of bounds table access" unless `start + len <= size`
    /// (all i32, unsigned, computed without wrap-around: `len <= size &&
    /// start <= size - len`).
    fn table_range_check(&mut self, start: Value, len: Value, size: Value) {
        let len_fits = self.b.icmp(IntCC::LeU, len, size);
        let room = self.b.binary(BinaryOp::Sub, size, len);
        let start_fits = self.b.icmp(IntCC::LeU, start, room);
        let fits = self.b.binary(BinaryOp::And, len_fits, start_fits);
        self.b.trapz(fits, TrapCode::TableAccessOutOfBounds);
    }

    /// Emits `for k in 0..count { body(k) }` (i32, counting up) as IR
    /// blocks: a header with the counter as its parameter, the body, and an
    /// exit where translation continues. The blocks are registered with the
    /// SSA builder, so locals read after the loop resolve through it.
    fn counted_loop(
        &mut self,
        count: Value,
        body: impl FnOnce(&mut Self, Value) -> Result<(), WasmError>,
    ) -> Result<(), WasmError> {
        let header = self.b.create_block();
        let k = self.b.append_block_param(header, Type::I32);
        let body_block = self.b.create_block();
        let exit = self.b.create_block();
        let zero = self.b.iconst(Type::I32, 0);
        self.jump(header, &[zero])?;
        self.switch_to(header);
        let more = self.b.icmp(IntCC::LtU, k, count);
        self.brif(more, body_block, &[], exit)?;
        self.ssa.seal(self.b.func, body_block);
        self.switch_to(body_block);
        body(self, k)?;
        let one = self.b.iconst(Type::I32, 1);
        let next = self.b.binary(BinaryOp::Add, k, one);
        self.jump(header, &[next])?;
        self.ssa.seal(self.b.func, header);
        self.ssa.seal(self.b.func, exit);
        self.switch_to(exit);
        Ok(())
    }

    /// `table.grow`: succeeds when `delta` entries fit in the reservation;
    /// the new entries get the init value (entries past the size hold
    /// whatever an earlier, larger life of the table left there).
    fn table_grow(&mut self, table: u32) -> Result<(), WasmError> {
        let decl = self.table(table)?;
        let (reserved, imported) = (decl.reserved_entries, decl.import.is_some());
        let t = TableIdx(table);
        let delta = self.pop()?;
        let init = self.pop()?;
        let old = self.b.table_size(t);
        // An imported table's reservation is its owner's: read it from the
        // owner's reservation word (a synthesized global bound to it).
        let reserved_v = if imported {
            let &(g, _) = self
                .env
                .imported_table_max
                .iter()
                .find(|(_, tt)| *tt == table)
                .ok_or_else(|| self.internal("no reservation global for a grown imported table"))?;
            self.b.global_get(GlobalIdx(g), Type::I32)
        } else {
            self.b.iconst(Type::I32, reserved as u64)
        };
        // room = reserved - old; an owner's size never exceeds its
        // reservation, but an imported one is checked rather than trusted.
        let room = self.b.binary(BinaryOp::Sub, reserved_v, old);
        let mut ok = self.b.icmp(IntCC::LeU, delta, room);
        if imported {
            let within = self.b.icmp(IntCC::LeU, old, reserved_v);
            ok = self.b.binary(BinaryOp::And, ok, within);
        }
        let zero = self.b.iconst(Type::I32, 0);
        let added = self.b.select(ok, delta, zero);
        self.counted_loop(added, |tr, k| {
            let at = tr.b.binary(BinaryOp::Add, old, k);
            tr.b.table_set(t, at, init);
            Ok(())
        })?;
        let new_size = self.b.binary(BinaryOp::Add, old, added);
        self.b.table_set_size(t, new_size);
        let failed = self.b.iconst(Type::I32, u32::MAX as u64);
        let result = self.b.select(ok, old, failed);
        self.stack.push(result);
        Ok(())
    }

    /// `table.fill`: checks the whole range first, then stores.
    fn table_fill(&mut self, table: u32) -> Result<(), WasmError> {
        self.table(table)?;
        let t = TableIdx(table);
        let len = self.pop()?;
        let value = self.pop()?;
        let start = self.pop()?;
        let size = self.b.table_size(t);
        self.table_range_check(start, len, size);
        self.counted_loop(len, |tr, k| {
            let at = tr.b.binary(BinaryOp::Add, start, k);
            tr.b.table_set(t, at, value);
            Ok(())
        })
    }

    /// Copies `len` entries from `src` of table `src_t` to `dst` of table
    /// `dst_t`, both ranges already checked. Overlap-correct like memmove:
    /// forwards when `dst <= src`, else backwards (entry `len-1-k` in step
    /// `k`), one loop with the direction chosen per step by a `select`.
    fn copy_entries(&mut self, dst_t: TableIdx, dst: Value, src_t: TableIdx, src: Value, len: Value) -> Result<(), WasmError> {
        let forwards = self.b.icmp(IntCC::LeU, dst, src);
        let one = self.b.iconst(Type::I32, 1);
        let last = self.b.binary(BinaryOp::Sub, len, one);
        self.counted_loop(len, |tr, k| {
            let backwards_k = tr.b.binary(BinaryOp::Sub, last, k);
            let j = tr.b.select(forwards, k, backwards_k);
            let from = tr.b.binary(BinaryOp::Add, src, j);
            let r = tr.b.table_get(src_t, from);
            let to = tr.b.binary(BinaryOp::Add, dst, j);
            tr.b.table_set(dst_t, to, r);
            Ok(())
        })
    }

    /// `table.copy`: both ranges are checked before any entry is written.
    fn table_copy(&mut self, dst_table: u32, src_table: u32) -> Result<(), WasmError> {
        self.table(dst_table)?;
        self.table(src_table)?;
        let (dt, st) = (TableIdx(dst_table), TableIdx(src_table));
        let len = self.pop()?;
        let src = self.pop()?;
        let dst = self.pop()?;
        let dst_size = self.b.table_size(dt);
        self.table_range_check(dst, len, dst_size);
        let src_size = self.b.table_size(st);
        self.table_range_check(src, len, src_size);
        self.copy_entries(dt, dst, st, src, len)
    }

    /// `table.init`: the segment's entries come from its read-only image
    /// (whose size is the segment's current length). Active and
    /// declarative segments are dropped once instantiation is over, so
    /// their length is 0 and only empty ranges at 0 succeed.
    fn table_init(&mut self, elem: u32, table: u32) -> Result<(), WasmError> {
        self.table(table)?;
        let t = TableIdx(table);
        let len = self.pop()?;
        let src = self.pop()?;
        let dst = self.pop()?;
        let size = self.b.table_size(t);
        self.table_range_check(dst, len, size);
        match self.segment_image(elem) {
            Some(image) => {
                let seg_len = self.b.table_size(image);
                self.table_range_check(src, len, seg_len);
                self.copy_entries(t, dst, image, src, len)
            }
            None => {
                let zero = self.b.iconst(Type::I32, 0);
                self.table_range_check(src, len, zero);
                Ok(())
            }
        }
    }

    /// `table.get`/`table.set`: trap "out of bounds table access" unless
    /// index < size (unsigned, so negative i32 indices trap too).
    fn table_access_check(&mut self, table: TableIdx, index: Value) {
        let size = self.b.table_size(table);
        let in_bounds = self.b.icmp(IntCC::LtU, index, size);
        self.b.trapz(in_bounds, TrapCode::TableAccessOutOfBounds);
    }

    /// `call_indirect`: the wasm checks are explicit before the `call_ref`:
    /// index < size (else "undefined element"), entry not null (else
    /// "uninitialized element"), the entry's type id equal to the expected
    /// one (else "indirect call type mismatch").
    fn call_indirect(&mut self, type_index: u32, table_index: u32) -> Result<(), WasmError> {
        if self.env.tables.get(table_index as usize).is_none() {
            return Err(self.internal("call_indirect on a missing table"));
        }
        let sig = self.call_type(type_index, "call_indirect")?;
        let table = TableIdx(table_index);
        let index = self.pop()?;
        let args = self.popn(sig.params.len())?;
        let size = self.b.table_size(table);
        let in_bounds = self.b.icmp(IntCC::LtU, index, size);
        self.b.trapz(in_bounds, TrapCode::TableOutOfBounds);
        let funcref = self.b.table_get(table, index);
        self.b.trapz(funcref, TrapCode::UninitializedElement);
        let actual = self.b.func_ref_type_id(funcref);
        let expected = self.b.type_id(SigIdx(type_index));
        let same = self.b.icmp(IntCC::Eq, actual, expected);
        self.b.trapz(same, TrapCode::IndirectCallTypeMismatch);
        let results = self.b.call_ref(SigIdx(type_index), funcref, &args, &sig.results);
        self.stack.extend(results);
        Ok(())
    }

    /// The signature of type `type_index` called by the operator `op`,
    /// unless it has values the backend does not support.
    fn call_type(&self, type_index: u32, op: &str) -> Result<Signature, WasmError> {
        let sig = self
            .env
            .types
            .get(type_index as usize)
            .cloned()
            .ok_or_else(|| self.internal(&format!("{op} with a missing type")))?;
        if let Some(t) = sig.params.iter().chain(&sig.results).find(|t| !supported(**t)) {
            return Err(self.error(format!("unsupported {op} of type {type_index}: its signature has a {t} value")));
        }
        Ok(sig)
    }

    /// `call_ref $t`: the only dynamic check is the null check; validation
    /// guarantees the reference's type is `$t`, so unlike `call_indirect`
    /// there is no type-id comparison.
    fn call_ref(&mut self, type_index: u32) -> Result<(), WasmError> {
        let sig = self.call_type(type_index, "call_ref")?;
        let funcref = self.pop()?;
        let args = self.popn(sig.params.len())?;
        self.b.trapz(funcref, TrapCode::NullReference);
        let results = self.b.call_ref(SigIdx(type_index), funcref, &args, &sig.results);
        self.stack.extend(results);
        Ok(())
    }

    /// `memory.grow`: succeeds when `delta` pages fit in the reservation.
    /// Branch-free: the size is set to `ok ? old + delta·page : old`. The
    /// region was zeroed at instantiation and nothing writes past the size,
    /// so the new pages are already zero.
    fn memory_grow(&mut self, mem: u32) -> Result<(), WasmError> {
        let decl = self.memory(mem)?;
        let (log2, reserved, imported) = (decl.page_size_log2, decl.reserved_bytes, decl.import.is_some());
        // Imported memories read the exporter's reservation instead.
        let reserved = if imported {
            0
        } else {
            u32::try_from(reserved).map_err(|_| self.internal("reservation above 2^31"))?
        };
        let m = MemIdx(mem);
        let delta = self.pop()?;
        let old = self.b.mem_size(m);
        // An imported memory's reservation is the exporter's, known only at
        // link time: read it (`mem_max`). A defined one's is a constant.
        let reserved_v = if imported {
            self.b.mem_max(m)
        } else {
            self.b.iconst(Type::I32, reserved as u64)
        };
        // room = reserved - old, in pages; no wrap since old <= reserved
        // (for an imported memory, whose size its owner sets, that is
        // checked too).
        let room = self.b.binary(BinaryOp::Sub, reserved_v, old);
        let room_pages = self.shift_right(room, log2);
        let mut ok = self.b.icmp(IntCC::LeU, delta, room_pages);
        if imported {
            let within = self.b.icmp(IntCC::LeU, old, reserved_v);
            ok = self.b.binary(BinaryOp::And, ok, within);
        }
        // Only used when ok, where delta·page <= room: no wrap.
        let grow_bytes = self.shift_left(delta, log2);
        let grown = self.b.binary(BinaryOp::Add, old, grow_bytes);
        let new_size = self.b.select(ok, grown, old);
        self.b.mem_set_size(m, new_size);
        let old_pages = self.shift_right(old, log2);
        let failed = self.b.iconst(Type::I32, u32::MAX as u64);
        let result = self.b.select(ok, old_pages, failed);
        self.stack.push(result);
        Ok(())
    }

    /// `memory.init`. The segment's current length: active segments are
    /// dropped once instantiation has applied them (before any function
    /// runs, the start function included), so theirs is 0; a passive
    /// segment that is dropped somewhere has it in a global; any other
    /// passive segment keeps its byte length.
    fn memory_init(&mut self, data_index: u32, mem: u32) -> Result<(), WasmError> {
        self.memory(mem)?;
        let seg = self.env.data.get(data_index as usize).ok_or_else(|| self.internal("data index out of range"))?;
        let static_len = match seg.kind {
            crate::env::DataKind::Active { .. } => 0u64,
            crate::env::DataKind::Passive => seg.bytes.len() as u64,
        };
        let static_len = u32::try_from(static_len).map_err(|_| self.error("data segment larger than 4 GiB"))?;
        let len = self.pop()?;
        let src = self.pop()?;
        let dst = self.pop()?;
        let m = MemIdx(mem);
        if self.opts.bounds.checks_bulk() {
            self.b.bounds_check_dyn(m, dst, len);
        }
        // src + len <= seg_len without wrap: len <= seg_len && src <= seg_len - len.
        let seg_len_v = match self.segment_lengths.get(&data_index) {
            Some(&g) => self.b.global_get(GlobalIdx(g), Type::I32),
            None => self.b.iconst(Type::I32, static_len as u64),
        };
        let len_fits = self.b.icmp(IntCC::LeU, len, seg_len_v);
        let room = self.b.binary(BinaryOp::Sub, seg_len_v, len);
        let src_fits = self.b.icmp(IntCC::LeU, src, room);
        let fits = self.b.binary(BinaryOp::And, len_fits, src_fits);
        self.b.trapz(fits, TrapCode::MemoryOutOfBounds);
        let addr = self.b.mem_addr(m, dst);
        self.b.memory_init(m, DataIdx(data_index), addr, src, len);
        Ok(())
    }

    fn unary(&mut self, op: UnaryOp) -> Result<(), WasmError> {
        let a = self.pop()?;
        let v = self.b.unary(op, a);
        self.stack.push(v);
        Ok(())
    }

    fn binary(&mut self, op: BinaryOp) -> Result<(), WasmError> {
        let rhs = self.pop()?;
        let lhs = self.pop()?;
        let v = self.b.binary(op, lhs, rhs);
        self.stack.push(v);
        Ok(())
    }

    fn icmp(&mut self, cc: IntCC) -> Result<(), WasmError> {
        let rhs = self.pop()?;
        let lhs = self.pop()?;
        let v = self.b.icmp(cc, lhs, rhs);
        self.stack.push(v);
        Ok(())
    }

    /// Traps with `code` when the integer `v` (i32 or i64) is zero; `trapz`
    /// takes an i32, so an i64 is tested with `eqz` first.
    fn trap_if_zero(&mut self, v: Value, code: TrapCode) {
        if self.b.func.value_type(v) == Type::I64 {
            let is_zero = self.b.unary(UnaryOp::Eqz, v);
            self.b.trapnz(is_zero, code);
        } else {
            self.b.trapz(v, code);
        }
    }

    /// Division and remainder that trap on a zero divisor.
    fn checked_division(&mut self, op: BinaryOp) -> Result<(), WasmError> {
        let rhs = self.pop()?;
        let lhs = self.pop()?;
        self.trap_if_zero(rhs, TrapCode::IntegerDivideByZero);
        let v = self.b.binary(op, lhs, rhs);
        self.stack.push(v);
        Ok(())
    }

    /// `div_s`: traps on a zero divisor, and on MIN / -1, which overflows
    /// (the IR's total division would return MIN; wasm traps). `rem_s` needs
    /// only the first check: MIN % -1 = 0 in wasm and in the IR.
    fn signed_division(&mut self, ty: Type) -> Result<(), WasmError> {
        let rhs = self.pop()?;
        let lhs = self.pop()?;
        self.trap_if_zero(rhs, TrapCode::IntegerDivideByZero);
        let (min_bits, minus_one_bits) = match ty {
            Type::I64 => (i64::MIN as u64, u64::MAX),
            _ => (i32::MIN as u32 as u64, u32::MAX as u64),
        };
        let min = self.b.iconst(ty, min_bits);
        let minus_one = self.b.iconst(ty, minus_one_bits);
        let lhs_is_min = self.b.icmp(IntCC::Eq, lhs, min);
        let rhs_is_minus_one = self.b.icmp(IntCC::Eq, rhs, minus_one);
        let overflow = self.b.binary(BinaryOp::And, lhs_is_min, rhs_is_minus_one);
        self.b.trapnz(overflow, TrapCode::IntegerOverflow);
        let v = self.b.binary(BinaryOp::DivS, lhs, rhs);
        self.stack.push(v);
        Ok(())
    }

    fn convert(&mut self, op: ConvertOp, to: Type) -> Result<(), WasmError> {
        let a = self.pop()?;
        let from = self.b.func.value_type(a);
        if !op.accepts(from, to) {
            return Err(self.internal(&format!("{op} from {from} to {to}")));
        }
        let v = self.b.convert(op, to, a);
        self.stack.push(v);
        Ok(())
    }

    fn funary(&mut self, op: FloatUnaryOp) -> Result<(), WasmError> {
        let a = self.pop()?;
        let v = self.b.funary(op, a);
        self.stack.push(v);
        Ok(())
    }

    fn fbinary(&mut self, op: FloatBinaryOp) -> Result<(), WasmError> {
        let rhs = self.pop()?;
        let lhs = self.pop()?;
        let v = self.b.fbinary(op, lhs, rhs);
        self.stack.push(v);
        Ok(())
    }

    fn fcmp(&mut self, cc: FloatCC) -> Result<(), WasmError> {
        let rhs = self.pop()?;
        let lhs = self.pop()?;
        let v = self.b.fcmp(cc, lhs, rhs);
        self.stack.push(v);
        Ok(())
    }

    /// The trapping `iN.trunc_fM_s/u`: NaN traps with `InvalidConversion`, a
    /// value whose truncation is outside iN's range with `IntegerOverflow`
    /// (checked in that order, as the spec does); what remains converts
    /// exactly, so the IR's saturating conversion gives the wasm result.
    ///
    /// The checks work on the float's bits with integer operations: on a
    /// soft-float target (and for f64 on a single-precision FPU) a float
    /// comparison is a library call, an integer one an instruction. IEEE
    /// bits order like magnitudes: with `b` the bits and `SIGN` the sign
    /// bit, `x` is NaN iff `b & !SIGN > bits(+inf)`; a non-NaN `x` lies in
    /// `(lower, upper)` iff it is non-negative with `b < bits(upper)`
    /// (unsigned), or negative with `|x| < |lower|`, i.e.
    /// `b ^ SIGN < bits(|lower|)` (for non-negative `x`, `b ^ SIGN` has the
    /// sign bit set and is above every positive float's bits).
    fn trapping_truncation(&mut self, signed: bool, to: Type) -> Result<(), WasmError> {
        let x = self.pop()?;
        let from = self.b.func.value_type(x);
        let (lower, upper) = truncation_bounds(signed, from, to)
            .ok_or_else(|| self.internal(&format!("truncation from {from} to {to}")))?;
        let (bits_ty, sign, infinity) = match from {
            Type::F32 => (Type::I32, 0x8000_0000u64, 0x7f80_0000u64),
            _ => (Type::I64, 0x8000_0000_0000_0000, 0x7ff0_0000_0000_0000),
        };
        let bits = self.b.convert(ConvertOp::Bitcast, bits_ty, x);
        let magnitude_mask = self.b.iconst(bits_ty, !sign & (sign | (sign - 1)));
        let magnitude = self.b.binary(BinaryOp::And, bits, magnitude_mask);
        let infinity_v = self.b.iconst(bits_ty, infinity);
        let is_nan = self.b.icmp(IntCC::GtU, magnitude, infinity_v);
        self.b.trapnz(is_nan, TrapCode::InvalidConversion);
        let upper_v = self.b.iconst(bits_ty, upper);
        let below_upper = self.b.icmp(IntCC::LtU, bits, upper_v);
        let sign_v = self.b.iconst(bits_ty, sign);
        let flipped = self.b.binary(BinaryOp::Xor, bits, sign_v);
        let lower_magnitude = self.b.iconst(bits_ty, lower & !sign);
        let above_lower = self.b.icmp(IntCC::LtU, flipped, lower_magnitude);
        let in_range = self.b.binary(BinaryOp::Or, below_upper, above_lower);
        self.b.trapz(in_range, TrapCode::IntegerOverflow);
        let op = if signed { ConvertOp::FloatToSIntSat } else { ConvertOp::FloatToUIntSat };
        let v = self.b.convert(op, to, x);
        self.stack.push(v);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::operator_name;
    use wasmparser::{BinaryReader, OperatorsReader};

    /// Decodes one operator from its binary encoding (as the spec lists it).
    fn name_of(bytes: &[u8]) -> String {
        let mut reader = OperatorsReader::new(BinaryReader::new(bytes, 0));
        operator_name(&reader.read().expect("decodes"))
    }

    #[test]
    fn truncation_bounds_are_exact_and_tight() {
        use super::truncation_bounds;
        use bulkhead_ir::Type;
        for signed in [true, false] {
            for to in [Type::I32, Type::I64] {
                let bits = if to == Type::I32 { 32 } else { 64 };
                let (min, max_plus_one): (f64, f64) = if signed {
                    (-(2f64.powi(bits - 1)), 2f64.powi(bits - 1))
                } else {
                    (0.0, 2f64.powi(bits))
                };
                // f32: the bounds are exact f32 values; the lower one is
                // the float just below the smallest convertible value.
                let (lo, hi) = truncation_bounds(signed, Type::F32, to).unwrap();
                let (lo, hi) = (f32::from_bits(lo as u32), f32::from_bits(hi as u32));
                assert_eq!(hi as f64, max_plus_one);
                let next_up = f32::from_bits(if lo < 0.0 { lo.to_bits() - 1 } else { lo.to_bits() + 1 });
                assert!((lo as f64).trunc() < min && (next_up as f64).trunc() >= min, "{signed} {to}: {lo}");
                let (lo, hi) = truncation_bounds(signed, Type::F64, to).unwrap();
                let (lo, hi) = (f64::from_bits(lo), f64::from_bits(hi));
                assert_eq!(hi, max_plus_one);
                let next_up = f64::from_bits(if lo < 0.0 { lo.to_bits() - 1 } else { lo.to_bits() + 1 });
                assert!(lo.trunc() < min && next_up.trunc() >= min, "{signed} {to}: {lo}");
            }
        }
        assert!(truncation_bounds(true, Type::I32, Type::I32).is_none());
    }

    #[test]
    fn operator_names_follow_the_text_format() {
        assert_eq!(name_of(&[0x7c]), "i64.add");
        assert_eq!(name_of(&[0x6a]), "i32.add");
        assert_eq!(name_of(&[0xa8]), "i32.trunc_f32_s");
        assert_eq!(name_of(&[0xad]), "i64.extend_i32_u");
        assert_eq!(name_of(&[0x11, 0x00, 0x00]), "call_indirect");
        assert_eq!(name_of(&[0x0e, 0x00, 0x00]), "br_table");
        assert_eq!(name_of(&[0x29, 0x03, 0x00]), "i64.load");
        assert_eq!(name_of(&[0x35, 0x02, 0x00]), "i64.load32_u");
        assert_eq!(name_of(&[0x43, 0, 0, 0, 0]), "f32.const");
        assert_eq!(name_of(&[0xd0, 0x70]), "ref.null");
        assert_eq!(name_of(&[0xfc, 0x09, 0x00]), "data.drop");
        assert_eq!(name_of(&[0xfc, 0x00]), "i32.trunc_sat_f32_s");
        assert_eq!(name_of(&[0x12, 0x00]), "return_call");
        assert_eq!(name_of(&[0x24, 0x00]), "global.set");
        assert_eq!(name_of(&[0xfe, 0x1e, 0x02, 0x00]), "i32.atomic.rmw.add");
    }
}
