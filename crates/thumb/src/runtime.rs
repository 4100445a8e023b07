//! Runtime routines the backend calls (`RelocTarget::Runtime`), emitted
//! through the same MachBuffer as compiled code so bulkhead never depends on
//! the embedder's libc or libgcc (a firmware image bulkhead writes itself
//! must define every symbol its code references). AAPCS: arguments in
//! r0-r3, r0-r3/r12/lr clobbered.
//!
//! Routines are compiled on demand ([`runtime_function`],
//! [`referenced_runtime_functions`]) and cached per process and target.
//!
//! `memmove` and `memset` are hand-written and have no relocations. The
//! 64-bit division routines `udivmod64` and `sdivmod64` are built as IR
//! functions and compiled by this backend like any wasm function (so their
//! prologue may reference the stack limit, see [`crate::emit::Frame`]):
//! `(n: i64 in r0:r1, d: i64 in r2:r3) -> (quotient in r0:r1, remainder
//! in r2:r3)`, total like the IR's `BinaryOp`s: x/0 = 0, x%0 = x,
//! MIN/-1 = MIN, MIN%-1 = 0.
//!
//! The soft-float routines ([`SOFTFLOAT_ROUTINES`]: float arithmetic,
//! comparisons and conversions the target has no FPU instruction for)
//! are IR functions from `bulkhead_softfloat`, compiled the same way.

use crate::emit::{Label, MachBuffer};
use crate::isa::asm::{Asm, Cond, DpOp, MemSize, Reg, Shift, ShiftKind};
use crate::output::{CompiledFunction, RelocTarget};
use crate::target::{BackendError, BackendErrorKind, BackendOptions, ModuleInfo, TargetIsa};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};
use bulkhead_ir::{
    BinaryOp, Block, ConvertOp, FuncIdx, Function, FunctionBuilder, IntCC, Signature, Type,
    UnaryOp, Value,
};

const R0: Reg = Reg(0);
const R1: Reg = Reg(1);
const R2: Reg = Reg(2);
const R3: Reg = Reg(3);

/// The names of the soft-float routines the backend calls (the contract
/// in `bulkhead_softfloat`'s crate documentation).
pub const SOFTFLOAT_ROUTINES: &[&str] = &[
    "f32_add", "f32_sub", "f32_mul", "f32_div", "f32_sqrt",
    "f64_add", "f64_sub", "f64_mul", "f64_div", "f64_sqrt",
    "f32_min", "f32_max", "f64_min", "f64_max",
    "f32_ceil", "f32_floor", "f32_trunc", "f32_nearest",
    "f64_ceil", "f64_floor", "f64_trunc", "f64_nearest",
    "f32_eq", "f32_lt", "f32_le", "f64_eq", "f64_lt", "f64_le",
    "f32_from_i32", "f32_from_u32", "f32_from_i64", "f32_from_u64",
    "f64_from_i32", "f64_from_u32", "f64_from_i64", "f64_from_u64",
    "f32_to_i32_sat", "f32_to_u32_sat", "f32_to_i64_sat", "f32_to_u64_sat",
    "f64_to_i32_sat", "f64_to_u32_sat", "f64_to_i64_sat", "f64_to_u64_sat",
    "f64_promote_f32", "f32_demote_f64",
];

/// The routines the backend itself provides (not soft-float).
const BACKEND_ROUTINES: &[&str] = &["memmove", "memset", "udivmod64", "sdivmod64"];

/// `name` as the `'static` routine name, if it is a soft-float routine.
pub fn softfloat_routine_name(name: &str) -> Option<&'static str> {
    SOFTFLOAT_ROUTINES.iter().copied().find(|&n| n == name)
}

/// Compiled routines, per target: compiling all ~50 routines for every
/// module would dominate the compile time of small modules (the spec
/// suite compiles thousands), so each is compiled on first use and kept
/// for the life of the process.
type Cache = HashMap<(&'static str, TargetIsa), CompiledFunction>;
static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();

/// The runtime routine `name` (as in `RelocTarget::Runtime(name)`),
/// compiled for `isa` on first use and then taken from a process-wide
/// cache. Errors: an unknown name (a backend bug, `Internal`), or a
/// soft-float routine that `bulkhead_softfloat` does not provide
/// (`Unsupported`).
pub fn runtime_function(name: &str, isa: &TargetIsa) -> Result<(&'static str, CompiledFunction), BackendError> {
    let error = |kind, message: String| BackendError {
        kind,
        function: format!("runtime routine {name}"),
        message,
    };
    let Some(name) = BACKEND_ROUTINES
        .iter()
        .copied()
        .find(|&n| n == name)
        .or_else(|| softfloat_routine_name(name))
    else {
        return Err(error(BackendErrorKind::Internal, "no runtime routine of this name".into()));
    };
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    // A poisoned lock only means another thread panicked mid-insert; the
    // map itself is always consistent.
    if let Some(c) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&(name, *isa)) {
        return Ok((name, c.clone()));
    }
    // Compiled without holding the lock (compiling never needs another
    // routine); a race only compiles a routine twice.
    let compiled = match name {
        "memmove" => build(emit_memmove),
        "memset" => build(emit_memset),
        "udivmod64" => compile_ir(&divmod64_ir(false), isa),
        "sdivmod64" => compile_ir(&divmod64_ir(true), isa),
        _ => match bulkhead_softfloat::routine(name) {
            Some(f) => compile_ir(&f, isa),
            None => {
                return Err(error(
                    BackendErrorKind::Unsupported,
                    "the soft-float routine is not available yet (bulkhead_softfloat does not define it)".into(),
                ))
            }
        },
    }
    .map_err(|e| error(BackendErrorKind::Internal, e))?;
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert((name, *isa), compiled.clone());
    Ok((name, compiled))
}

/// The runtime routines that `code` references, directly or through other
/// routines, each once, ordered by name (see [`runtime_function`]).
pub fn referenced_runtime_functions<'a>(
    code: impl IntoIterator<Item = &'a CompiledFunction>,
    isa: &TargetIsa,
) -> Result<Vec<(&'static str, CompiledFunction)>, BackendError> {
    let mut found: BTreeMap<&'static str, CompiledFunction> = BTreeMap::new();
    let mut pending: Vec<&'static str> = Vec::new();
    let visit = |c: &CompiledFunction, found: &BTreeMap<_, _>, pending: &mut Vec<&'static str>| {
        for r in &c.relocs {
            if let RelocTarget::Runtime(name) = r.target {
                if !found.contains_key(name) && !pending.contains(&name) {
                    pending.push(name);
                }
            }
        }
    };
    for c in code {
        visit(c, &found, &mut pending);
    }
    while let Some(name) = pending.pop() {
        let (name, c) = runtime_function(name, isa)?;
        visit(&c, &found, &mut pending);
        found.insert(name, c);
    }
    Ok(found.into_iter().collect())
}

/// Every runtime routine available for `isa` (the backend's own and every
/// soft-float routine `bulkhead_softfloat` defines), by the name used in
/// `RelocTarget::Runtime`. Prefer [`referenced_runtime_functions`], which
/// compiles only what a module uses.
pub fn runtime_functions(isa: &TargetIsa) -> Vec<(&'static str, CompiledFunction)> {
    BACKEND_ROUTINES
        .iter()
        .chain(SOFTFLOAT_ROUTINES)
        .filter_map(|name| runtime_function(name, isa).ok())
        .collect()
}

fn compile_ir(f: &Function, isa: &TargetIsa) -> Result<CompiledFunction, String> {
    bulkhead_ir::verify(f).map_err(|e| format!("runtime IR for {} does not verify: {e}", f.name))?;
    crate::compile_function(f, &ModuleInfo::default(), isa, &BackendOptions { emit_asm: true })
        .map_err(|e| e.to_string())
}

/// The IR of `udivmod64` (`signed` = false) or `sdivmod64`:
/// `(n: i64, d: i64) -> (n / d, n % d)`, total.
pub fn divmod64_ir(signed: bool) -> Function {
    let name = if signed { "sdivmod64" } else { "udivmod64" };
    let sig = Signature {
        params: vec![Type::I64, Type::I64],
        results: vec![Type::I64, Type::I64],
    };
    let mut f = Function::new(FuncIdx(u32::MAX - 1), name, sig);
    {
        let mut b = FunctionBuilder::new(&mut f);
        let entry = b.create_block();
        b.switch_to_block(entry);
        let n = b.append_block_param(entry, Type::I64);
        let d = b.append_block_param(entry, Type::I64);
        let done = b.create_block();
        let q = b.append_block_param(done, Type::I64);
        let r = b.append_block_param(done, Type::I64);
        if signed {
            // |n| / |d| unsigned (|MIN| = 2^63 as u64), then the quotient
            // negated if the signs differ and the remainder given n's sign:
            // MIN / -1 = -(2^63) = MIN, x / 0 = -0 = 0, x % 0 = x.
            let k63 = b.iconst(Type::I64, 63);
            let sn = b.binary(BinaryOp::ShrS, n, k63);
            let sd = b.binary(BinaryOp::ShrS, d, k63);
            let an = abs_with_sign(&mut b, n, sn);
            let ad = abs_with_sign(&mut b, d, sd);
            udivmod_body(&mut b, an, ad, done);
            b.switch_to_block(done);
            let sq = b.binary(BinaryOp::Xor, sn, sd);
            let q = abs_with_sign(&mut b, q, sq);
            let r = abs_with_sign(&mut b, r, sn);
            b.ret(&[q, r]);
        } else {
            udivmod_body(&mut b, n, d, done);
            b.switch_to_block(done);
            b.ret(&[q, r]);
        }
    }
    f
}

/// `(x ^ s) - s`: |x| for s = x >> 63, or -x for s = -1 and x for s = 0.
fn abs_with_sign(b: &mut FunctionBuilder, x: Value, s: Value) -> Value {
    let t = b.binary(BinaryOp::Xor, x, s);
    b.binary(BinaryOp::Sub, t, s)
}

/// Unsigned n / d and n % d, jumping to `done(q, r)`:
/// - d = 0: (0, n);
/// - both below 2^32: one UDIV (and MLS);
/// - n < d: (0, n);
/// - otherwise restoring shift-subtract division, one quotient bit per
///   iteration, starting with d shifted left to n's leading bit
///   (clz(d) - clz(n) + 1 iterations, at most 64).
fn udivmod_body(b: &mut FunctionBuilder, n: Value, d: Value, done: Block) {
    let zero64 = b.iconst(Type::I64, 0);
    let by_zero = b.icmp(IntCC::Eq, d, zero64);
    let nonzero = b.create_block();
    b.brif(by_zero, done, &[zero64, n], nonzero, &[]);

    b.switch_to_block(nonzero);
    let both = b.binary(BinaryOp::Or, n, d);
    let k32 = b.iconst(Type::I64, 32);
    let high = b.binary(BinaryOp::ShrU, both, k32);
    let is_wide = b.icmp(IntCC::Ne, high, zero64);
    let narrow = b.create_block();
    let wide = b.create_block();
    b.brif(is_wide, wide, &[], narrow, &[]);

    b.switch_to_block(narrow);
    let n32 = b.convert(ConvertOp::Wrap, Type::I32, n);
    let d32 = b.convert(ConvertOp::Wrap, Type::I32, d);
    let q32 = b.binary(BinaryOp::DivU, n32, d32);
    let r32 = b.binary(BinaryOp::RemU, n32, d32);
    let q = b.convert(ConvertOp::UExtend, Type::I64, q32);
    let r = b.convert(ConvertOp::UExtend, Type::I64, r32);
    b.jump(done, &[q, r]);

    b.switch_to_block(wide);
    let less = b.icmp(IntCC::LtU, n, d);
    let divide = b.create_block();
    b.brif(less, done, &[zero64, n], divide, &[]);

    b.switch_to_block(divide);
    let clz_n = b.unary(UnaryOp::Clz, n);
    let clz_d = b.unary(UnaryOp::Clz, d);
    let shift = b.binary(BinaryOp::Sub, clz_d, clz_n);
    let dd = b.binary(BinaryOp::Shl, d, shift);
    let shift32 = b.convert(ConvertOp::Wrap, Type::I32, shift);
    let one32 = b.iconst(Type::I32, 1);
    let count = b.binary(BinaryOp::Add, shift32, one32);
    let body = b.create_block();
    let bq = b.append_block_param(body, Type::I64);
    let br = b.append_block_param(body, Type::I64);
    let bd = b.append_block_param(body, Type::I64);
    let bc = b.append_block_param(body, Type::I32);
    b.jump(body, &[zero64, n, dd, count]);

    b.switch_to_block(body);
    let fits = b.icmp(IntCC::GeU, br, bd);
    let diff = b.binary(BinaryOp::Sub, br, bd);
    let r2 = b.select(fits, diff, br);
    let one64 = b.iconst(Type::I64, 1);
    let q_shifted = b.binary(BinaryOp::Shl, bq, one64);
    let bit = b.convert(ConvertOp::UExtend, Type::I64, fits);
    let q2 = b.binary(BinaryOp::Or, q_shifted, bit);
    let d2 = b.binary(BinaryOp::ShrU, bd, one64);
    let one = b.iconst(Type::I32, 1);
    let c2 = b.binary(BinaryOp::Sub, bc, one);
    b.brif(c2, body, &[q2, r2, d2, c2], done, &[q2, r2]);
}

fn build(f: fn(&mut Asmb) -> Result<(), String>) -> Result<CompiledFunction, String> {
    crate::emit::emit_relaxed(true, |buf| f(&mut Asmb { buf }))
}

/// Small assembler helper over the MachBuffer.
struct Asmb<'a> {
    buf: &'a mut MachBuffer,
}

impl Asmb<'_> {
    fn label(&mut self) -> Label {
        self.buf.new_label()
    }
    fn bind(&mut self, l: Label, name: &'static str) {
        self.buf.bind(l, || name.to_string());
    }
    fn i(&mut self, a: Asm) -> Result<(), String> {
        self.buf.put(a)
    }
    fn b(&mut self, cond: Option<Cond>, l: Label) -> Result<(), String> {
        self.buf.put_branch(Asm::BranchW { cond, offset: 0 }, l)
    }
    fn cmp_imm(&mut self, rn: Reg, imm: u32) -> Result<(), String> {
        self.i(Asm::DpImm {
            op: DpOp::Cmp,
            s: true,
            rd: Reg::PC,
            rn,
            imm,
        })
    }
    fn tst_imm(&mut self, rn: Reg, imm: u32) -> Result<(), String> {
        self.i(Asm::DpImm {
            op: DpOp::Tst,
            s: true,
            rd: Reg::PC,
            rn,
            imm,
        })
    }
    fn add_imm(&mut self, rd: Reg, imm: u16) -> Result<(), String> {
        self.i(Asm::AddW {
            rd,
            rn: rd,
            imm12: imm,
        })
    }
    fn sub_imm(&mut self, rd: Reg, imm: u16) -> Result<(), String> {
        self.i(Asm::SubW {
            rd,
            rn: rd,
            imm12: imm,
        })
    }
    fn dp(&mut self, op: DpOp, rd: Reg, rn: Reg, rm: Reg, shift: Shift) -> Result<(), String> {
        self.i(Asm::DpReg {
            op,
            s: false,
            rd,
            rn,
            rm,
            shift,
        })
    }
    fn ldr(&mut self, size: MemSize, rt: Reg, rn: Reg) -> Result<(), String> {
        self.i(Asm::Ldr {
            size,
            signed: false,
            rt,
            rn,
            imm: 0,
        })
    }
    fn str(&mut self, size: MemSize, rt: Reg, rn: Reg) -> Result<(), String> {
        self.i(Asm::Str {
            size,
            rt,
            rn,
            imm: 0,
        })
    }
}

/// `memset(dst: r0, val: r1, len: r2)`: bytes until `dst` is word aligned,
/// then words, then the tail bytes.
fn emit_memset(a: &mut Asmb) -> Result<(), String> {
    let (head, words, tail, done) = (a.label(), a.label(), a.label(), a.label());
    a.i(Asm::Uxtb { rd: R1, rm: R1 })?;
    a.dp(
        DpOp::Orr,
        R1,
        R1,
        R1,
        Shift {
            kind: ShiftKind::Lsl,
            amount: 8,
        },
    )?;
    a.dp(
        DpOp::Orr,
        R1,
        R1,
        R1,
        Shift {
            kind: ShiftKind::Lsl,
            amount: 16,
        },
    )?;
    a.bind(head, "head");
    a.cmp_imm(R2, 0)?;
    a.b(Some(Cond::Eq), done)?;
    a.tst_imm(R0, 3)?;
    a.b(Some(Cond::Eq), words)?;
    a.str(MemSize::Byte, R1, R0)?;
    a.add_imm(R0, 1)?;
    a.sub_imm(R2, 1)?;
    a.b(None, head)?;
    a.bind(words, "words");
    a.cmp_imm(R2, 4)?;
    a.b(Some(Cond::Lo), tail)?;
    a.str(MemSize::Word, R1, R0)?;
    a.add_imm(R0, 4)?;
    a.sub_imm(R2, 4)?;
    a.b(None, words)?;
    a.bind(tail, "tail");
    a.cmp_imm(R2, 0)?;
    a.b(Some(Cond::Eq), done)?;
    a.str(MemSize::Byte, R1, R0)?;
    a.add_imm(R0, 1)?;
    a.sub_imm(R2, 1)?;
    a.b(None, tail)?;
    a.bind(done, "done");
    a.i(Asm::Bx { rm: Reg::LR })
}

/// `memmove(dst: r0, src: r1, len: r2)`, correct for overlap: copies
/// forwards when `dst < src`, backwards from the end when `dst > src`, by
/// words when both pointers are word aligned (then they are at least 4
/// bytes apart, so a word copy cannot overwrite unread source bytes).
fn emit_memmove(a: &mut Asmb) -> Result<(), String> {
    let (backward, fwords, fbytes, bwords, bbytes, done) = (
        a.label(),
        a.label(),
        a.label(),
        a.label(),
        a.label(),
        a.label(),
    );
    a.i(Asm::DpReg {
        op: DpOp::Cmp,
        s: true,
        rd: Reg::PC,
        rn: R0,
        rm: R1,
        shift: Shift::NONE,
    })?;
    a.b(Some(Cond::Eq), done)?;
    a.b(Some(Cond::Hi), backward)?;
    // Forward.
    a.dp(DpOp::Orr, R3, R0, R1, Shift::NONE)?;
    a.tst_imm(R3, 3)?;
    a.b(Some(Cond::Ne), fbytes)?;
    a.bind(fwords, "fwords");
    a.cmp_imm(R2, 4)?;
    a.b(Some(Cond::Lo), fbytes)?;
    a.ldr(MemSize::Word, R3, R1)?;
    a.str(MemSize::Word, R3, R0)?;
    a.add_imm(R1, 4)?;
    a.add_imm(R0, 4)?;
    a.sub_imm(R2, 4)?;
    a.b(None, fwords)?;
    a.bind(fbytes, "fbytes");
    a.cmp_imm(R2, 0)?;
    a.b(Some(Cond::Eq), done)?;
    a.ldr(MemSize::Byte, R3, R1)?;
    a.str(MemSize::Byte, R3, R0)?;
    a.add_imm(R1, 1)?;
    a.add_imm(R0, 1)?;
    a.sub_imm(R2, 1)?;
    a.b(None, fbytes)?;
    // Backward, from one past the end.
    a.bind(backward, "backward");
    a.dp(DpOp::Add, R0, R0, R2, Shift::NONE)?;
    a.dp(DpOp::Add, R1, R1, R2, Shift::NONE)?;
    a.dp(DpOp::Orr, R3, R0, R1, Shift::NONE)?;
    a.tst_imm(R3, 3)?;
    a.b(Some(Cond::Ne), bbytes)?;
    a.bind(bwords, "bwords");
    a.cmp_imm(R2, 4)?;
    a.b(Some(Cond::Lo), bbytes)?;
    a.sub_imm(R1, 4)?;
    a.sub_imm(R0, 4)?;
    a.ldr(MemSize::Word, R3, R1)?;
    a.str(MemSize::Word, R3, R0)?;
    a.sub_imm(R2, 4)?;
    a.b(None, bwords)?;
    a.bind(bbytes, "bbytes");
    a.cmp_imm(R2, 0)?;
    a.b(Some(Cond::Eq), done)?;
    a.sub_imm(R1, 1)?;
    a.sub_imm(R0, 1)?;
    a.ldr(MemSize::Byte, R3, R1)?;
    a.str(MemSize::Byte, R3, R0)?;
    a.sub_imm(R2, 1)?;
    a.b(None, bbytes)?;
    a.bind(done, "done");
    a.i(Asm::Bx { rm: Reg::LR })
}
