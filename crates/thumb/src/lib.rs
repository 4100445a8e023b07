//! Thumb-2 backend: lowers bulkhead IR functions to Cortex-M machine code.
//!
//! Pipeline per function (one module per layer):
//!
//! 1. [`dominant::dominant_memory`] picks the memory whose base is pinned in
//!    R11: most loads/stores/bounds checks/`mem_base`s, each weighted
//!    `10^loop_depth` (natural loops from back edges via the IR's DomTree);
//!    only memories with a `mem_base` qualify.
//! 2. [`lower::lower_function`] walks the IR backwards and calls the ISLE
//!    rules (`isle/prelude.isle`, `isle/thumb2/inst.isle`,
//!    `isle/thumb2/lower.isle`, compiled by `build.rs`) for every
//!    non-terminator; terminators, block layout and critical-edge splitting
//!    are Rust. The result is a [`vcode::VCode`] of [`machinst::MInst`]s over
//!    regalloc2 virtual registers; the pinned base is a
//!    `fixed_nonallocatable(r11)` operand.
//! 3. `regalloc2::run` with [`machine_env`] (r0-r3, r12 preferred; r4-r10
//!    and r11 unless pinned callee-saved; SP/LR/PC never allocated).
//! 4. [`emit`]: AAPCS frame ([`emit::Frame`]), expansion of each allocated
//!    `MInst` into [`isa::asm::Asm`] instructions, regalloc2's moves and
//!    spills, jump threading, out-of-line `udf #code` trap islands, TBH jump
//!    tables (recorded as data ranges), and branch relaxation (16-bit forms
//!    first, widened when out of range) in a [`emit::MachBuffer`].
//!
//! Relocations are REL: the addend is also encoded in the instruction —
//! MOVW/MOVT pairs carry 0, `bl` carries -4 (`bl .`, as assemblers emit).
//! Runtime routines (`memmove`, `memset`, 64-bit division, soft-float)
//! are compiled on demand and cached per process and target:
//! [`runtime_function`], [`referenced_runtime_functions`].
//!
//! i32, i64 (register pairs: see [`lower::ValueRegs`]), `addr<k>`, f32
//! and f64 values are lowered (bugs are [`BackendErrorKind::Internal`];
//! a soft-float routine missing from `bulkhead_softfloat` is
//! [`BackendErrorKind::Unsupported`]). Calls follow the AAPCS
//! ([`lower::aapcs_locations`]), on hard-float targets the AAPCS-VFP
//! ([`lower::aapcs_vfp_locations`]); 64-bit division calls the runtime
//! routines `udivmod64`/`sdivmod64`. Every function with a non-empty frame
//! checks the embedder's stack limit in its prologue
//! ([`emit::Frame::emit_stack_check`]).
//! Funcrefs are i32 descriptor addresses; `call_ref` is `ldr` of the
//! descriptor's code word and `blx`, with the argument setup of direct calls.
//!
//! # Floats
//!
//! Floats live in core registers as their bits: f32 in one vreg (like
//! i32), f64 in a register pair (like i64); there is no second register
//! class yet (a later step may allocate S/D registers). Constants, loads,
//! stores, selects, globals, block parameters, bitcasts and moves are the
//! integer ones; `abs`/`neg`/`copysign` are bit operations on the sign bit
//! (NaN payloads kept, as wasm requires).
//!
//! With an FPU (`TargetIsa::hard_float`: Cortex-M4F/M33/M7,
//! single-precision VFP), f32 add/sub/mul/div/sqrt, comparisons (fused
//! into branches and selects: eq→EQ, ne→NE, lt→MI, le→LS, gt→GT, ge→GE
//! after `vcmp.f32` + `vmrs`) and f32↔i32/u32 conversions (VCVT: toward
//! zero and saturating like `trunc_sat`; from integers nearest-even) are
//! VFP instructions, each one [`machinst::MInst`] that moves operands
//! into scratch s0/s1 and the result back. On Cortex-M7 (FPv5-D16, as
//! LLVM's and GCC's `cortex-m7`) the same holds for f64 add/sub/mul/div/
//! sqrt/comparisons, f64↔i32/u32 and promote/demote, through d0/d1. S/D
//! registers are never allocated and no value is live in one between
//! MInsts. All other float operations (min/max, ceil/floor/trunc/nearest,
//! conversions with i64; f64 below Cortex-M7; everything on cores without
//! an FPU) call the soft-float routines of `bulkhead_softfloat` with the
//! bits in core registers. The code is correct with FPSCR at its reset value (round to
//! nearest, no flush-to-zero); images set default-NaN mode so VFP NaNs
//! are canonical like the soft routines'.

pub mod dominant;
pub mod emit;
pub mod isa;
pub mod lower;
pub mod machinst;
pub mod output;
pub mod runtime;
pub mod startup;
pub mod target;
pub mod vcode;

pub use output::{CompiledFunction, Reloc, RelocKind, RelocTarget};
pub use runtime::{referenced_runtime_functions, runtime_function, runtime_functions};
pub use target::{BackendError, BackendErrorKind, BackendOptions, Cpu, ModuleInfo, TargetIsa};

use emit::{EmitCtx, Frame, MachBuffer};
use machinst::{preg, Reg};
use regalloc2::{Allocation, MachineEnv, PRegSet, RegallocOptions};

/// The register environment: r0-r3 and r12 preferred (caller-saved, no
/// push needed), r4-r10 (and r11 unless it holds the pinned memory base)
/// callee-saved. SP, LR and PC are never allocated.
pub fn machine_env(pinned: bool) -> MachineEnv {
    let mut preferred = PRegSet::empty();
    for n in [0u8, 1, 2, 3, 12] {
        preferred.add(preg(n));
    }
    let mut non_preferred = PRegSet::empty();
    for n in 4u8..=10 {
        non_preferred.add(preg(n));
    }
    if !pinned {
        non_preferred.add(preg(11));
    }
    MachineEnv {
        preferred_regs_by_class: [preferred, PRegSet::empty(), PRegSet::empty()],
        non_preferred_regs_by_class: [non_preferred, PRegSet::empty(), PRegSet::empty()],
        scratch_by_class: [None, None, None],
        fixed_stack_slots: Vec::new(),
    }
}

/// Emits the allocated VCode: prologue, blocks with regalloc2's moves,
/// trap islands.
fn emit_body(
    buf: &mut MachBuffer,
    vcode: &vcode::VCode,
    out: &regalloc2::Output,
    frame: &Frame,
) -> Result<(), String> {
    let n = vcode.num_blocks();
    let block_labels = (0..n).map(|_| buf.new_label()).collect();
    let forward = emit::forwarding(vcode, out);
    // Forwarding blocks need no code (every branch to them is threaded),
    // except jump-table targets: TBH only reaches forward, so those stay.
    let mut keep: Vec<bool> = forward
        .iter()
        .enumerate()
        .map(|(b, &f)| f as usize == b)
        .collect();
    for inst in &vcode.insts {
        if let machinst::MInst::BrTable {
            targets, default, ..
        } = inst
        {
            for &t in targets.iter().chain(core::iter::once(default)) {
                keep[t as usize] = true;
            }
        }
    }
    let emitted: Vec<usize> = (0..n).filter(|&b| keep[b]).collect();
    let mut cx = EmitCtx {
        frame,
        block_labels,
        forward,
        trap_labels: Vec::new(),
    };
    if frame.needs_stack_check() {
        let trap = cx.trap_label(buf, bulkhead_ir::TrapCode::StackExhausted);
        frame.emit_stack_check(buf, trap)?;
    }
    frame.emit_prologue(buf)?;
    for (pos, &b) in emitted.iter().enumerate() {
        let label = cx.block_labels[b];
        buf.bind(label, || format!(".Lblock{b}"));
        let next = emitted.get(pos + 1).map(|&nb| nb as u32);
        for item in out.block_insts_and_edits(vcode, regalloc2::Block::new(b)) {
            match item {
                regalloc2::InstOrEdit::Inst(i) => {
                    let mut inst = vcode.insts[i.index()].clone();
                    let allocs = out.inst_allocs(i);
                    let mut k = 0;
                    let mut bad = None;
                    inst.visit_regs(&mut |r, _| {
                        match allocs.get(k).and_then(|a| a.as_reg()) {
                            Some(p) => *r = Reg::Phys(p.hw_enc() as u8),
                            None => bad = Some(k),
                        }
                        k += 1;
                    });
                    if let Some(k) = bad {
                        return Err(format!(
                            "internal error: operand {k} of {inst:?} not in a register"
                        ));
                    }
                    cx.emit_inst(buf, &inst, next)
                        .map_err(|e| format!("{e} (in {inst:?})"))?;
                }
                regalloc2::InstOrEdit::Edit(regalloc2::Edit::Move { from, to }) => {
                    emit::emit_move(buf, frame, *from, *to)?;
                }
            }
        }
    }
    cx.emit_trap_islands(buf)
}

/// Compiles one function.
pub fn compile_function(
    func: &bulkhead_ir::Function,
    module: &ModuleInfo,
    isa: &TargetIsa,
    opts: &BackendOptions,
) -> Result<CompiledFunction, BackendError> {
    compile_with(func, module, isa, opts, false)
}

/// [`compile_function`] that also runs regalloc2's checker on the
/// allocation (for tests; slow).
#[doc(hidden)]
pub fn compile_function_checked(
    func: &bulkhead_ir::Function,
    module: &ModuleInfo,
    isa: &TargetIsa,
    opts: &BackendOptions,
) -> Result<CompiledFunction, BackendError> {
    compile_with(func, module, isa, opts, true)
}

fn compile_with(
    func: &bulkhead_ir::Function,
    module: &ModuleInfo,
    isa: &TargetIsa,
    opts: &BackendOptions,
    check: bool,
) -> Result<CompiledFunction, BackendError> {
    let error = |message: String| BackendError {
        kind: BackendErrorKind::Internal,
        function: func.name.clone(),
        message,
    };
    let pinned = dominant::dominant_memory(func);
    let lowered = lower::lower_function(func, module, pinned, isa).map_err(|e| BackendError {
        kind: if e.unsupported {
            BackendErrorKind::Unsupported
        } else {
            BackendErrorKind::Internal
        },
        function: func.name.clone(),
        message: e.message,
    })?;
    let vcode = &lowered.vcode;
    let env = machine_env(pinned.is_some());
    let ra_opts = RegallocOptions {
        validate_ssa: cfg!(debug_assertions),
        ..Default::default()
    };
    let out = regalloc2::run(vcode, &env, &ra_opts)
        .map_err(|e| error(format!("register allocation failed: {e:?}")))?;
    if check {
        let mut checker = regalloc2::checker::Checker::new(vcode, &env);
        checker.prepare(&out);
        checker
            .run()
            .map_err(|e| error(format!("regalloc2 checker: {e:?}")))?;
    }

    // Callee-saved registers written anywhere (allocations and moves).
    let mut used: u16 = 0;
    let mut note = |a: Allocation| {
        if let Some(p) = a.as_reg() {
            used |= 1 << p.hw_enc();
        }
    };
    out.allocs.iter().copied().for_each(&mut note);
    for (_, edit) in &out.edits {
        let regalloc2::Edit::Move { from, to } = edit;
        note(*from);
        note(*to);
    }
    let callee_saved = used & 0x0ff0 & if pinned.is_some() { !(1 << 11) } else { 0xffff };
    let frame = Frame::new(
        callee_saved,
        lowered.has_calls,
        lowered.outgoing_args,
        out.num_spillslots as u32,
        pinned,
    );

    let mut compiled = emit::emit_relaxed(opts.emit_asm, |buf| emit_body(buf, vcode, &out, &frame))
        .map_err(error)?;
    compiled.dominant_memory = pinned;
    Ok(compiled)
}

#[cfg(test)]
mod tests;
