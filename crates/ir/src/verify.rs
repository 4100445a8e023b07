//! IR verifier: types (including `addr<j>` vs `addr<k>`), block structure,
//! branch arities and SSA dominance.

use crate::dominance::DomTree;
use crate::entity::{Block, Inst, Value};
use crate::function::{Function, ValueDef};
use crate::inst::{BinaryOp, InstData, UnaryOp};
use crate::types::{MemIdx, Type};
use core::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierError {
    pub function: String,
    pub location: String,
    pub message: String,
}

impl fmt::Display for VerifierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IR verifier: function %{}: {}: {}", self.function, self.location, self.message)
    }
}

impl std::error::Error for VerifierError {}

/// Signature lookup for calls: parameter and result types of a callee
/// (direct calls) or of a type index (`call_ref`).
pub trait CalleeSignatures {
    fn callee_signature(&self, func: crate::FuncIdx) -> Option<(Vec<Type>, Vec<Type>)>;
    /// `None`: not known, the call is not checked.
    fn type_signature(&self, _sig: crate::SigIdx) -> Option<(Vec<Type>, Vec<Type>)> {
        None
    }
}

/// Accepts any call (used when no module context is at hand).
pub struct AnyCallee;
impl CalleeSignatures for AnyCallee {
    fn callee_signature(&self, _: crate::FuncIdx) -> Option<(Vec<Type>, Vec<Type>)> {
        None
    }
}

pub fn verify(func: &Function) -> Result<(), VerifierError> {
    verify_with(func, &AnyCallee)
}

pub fn verify_with(func: &Function, callees: &dyn CalleeSignatures) -> Result<(), VerifierError> {
    // Membership in the layout is asked for every branch and every use of a
    // block parameter: a table keeps the verifier linear in function size.
    let mut in_layout = vec![false; func.blocks.len()];
    for &b in &func.layout {
        if let Some(slot) = in_layout.get_mut(b.index()) {
            *slot = true;
        }
    }
    Verifier { func, callees, dom: DomTree::compute(func), in_layout }.run()
}

struct Verifier<'a> {
    func: &'a Function,
    callees: &'a dyn CalleeSignatures,
    dom: DomTree,
    in_layout: Vec<bool>,
}

impl Verifier<'_> {
    fn in_layout(&self, b: Block) -> bool {
        self.in_layout.get(b.index()).copied().unwrap_or(false)
    }

    fn err<T>(&self, location: impl fmt::Display, message: impl Into<String>) -> Result<T, VerifierError> {
        Err(VerifierError {
            function: self.func.name.clone(),
            location: location.to_string(),
            message: message.into(),
        })
    }

    fn run(&self) -> Result<(), VerifierError> {
        let f = self.func;
        if f.layout.is_empty() {
            return self.err("function", "has no blocks");
        }
        let entry_types: Vec<Type> = f.block_params(f.entry()).iter().map(|&v| f.value_type(v)).collect();
        if entry_types != f.sig.params {
            return self.err(f.entry(), "entry block parameters do not match the signature");
        }
        let mut seen = vec![false; f.insts.len()];
        let mut position = vec![(Block(u32::MAX), 0usize); f.insts.len()];
        for &b in &f.layout {
            let insts = f.block_insts(b);
            if insts.is_empty() {
                return self.err(b, "empty block (no terminator)");
            }
            for (pos, &i) in insts.iter().enumerate() {
                if std::mem::replace(&mut seen[i.index()], true) {
                    return self.err(i, "instruction placed twice");
                }
                position[i.index()] = (b, pos);
                let is_last = pos + 1 == insts.len();
                if f.inst(i).is_terminator() != is_last {
                    return self.err(
                        i,
                        if is_last { "block does not end in a terminator" } else { "terminator in the middle of a block" },
                    );
                }
            }
        }
        for &b in &f.layout {
            for &i in f.block_insts(b) {
                self.check_inst(i, &position)?;
            }
        }
        Ok(())
    }

    fn ty(&self, v: Value) -> Type {
        self.func.value_type(v)
    }

    fn expect(&self, i: Inst, v: Value, ty: Type) -> Result<(), VerifierError> {
        if self.ty(v) != ty {
            return self.err(i, format!("operand {v} has type {}, expected {ty}", self.ty(v)));
        }
        Ok(())
    }

    fn expect_int(&self, i: Inst, v: Value) -> Result<Type, VerifierError> {
        let t = self.ty(v);
        if !t.is_int() {
            return self.err(i, format!("operand {v} has type {t}, expected an integer"));
        }
        Ok(t)
    }

    fn expect_float(&self, i: Inst, v: Value) -> Result<Type, VerifierError> {
        let t = self.ty(v);
        if !t.is_float() {
            return self.err(i, format!("operand {v} has type {t}, expected a float"));
        }
        Ok(t)
    }

    fn expect_addr(&self, i: Inst, v: Value, mem: MemIdx) -> Result<(), VerifierError> {
        match self.ty(v) {
            Type::Addr(k) if k == mem => Ok(()),
            Type::Addr(k) => self.err(i, format!("address {v} is addr<{k}> but the access is on memory {mem}")),
            t => self.err(i, format!("operand {v} has type {t}, expected addr<{mem}>")),
        }
    }

    fn results(&self, i: Inst, expected: &[Type]) -> Result<(), VerifierError> {
        let got: Vec<Type> = self.func.inst_results(i).iter().map(|&r| self.ty(r)).collect();
        if got != expected {
            return self.err(i, format!("results {got:?}, expected {expected:?}"));
        }
        Ok(())
    }

    fn check_block_call(&self, i: Inst, block: Block, args: &[Value]) -> Result<(), VerifierError> {
        if !self.in_layout(block) {
            return self.err(i, format!("branch to {block}, which is not in the layout"));
        }
        let params = self.func.block_params(block);
        if params.len() != args.len() {
            return self.err(i, format!("{block} takes {} arguments, given {}", params.len(), args.len()));
        }
        for (&p, &a) in params.iter().zip(args) {
            if self.ty(p) != self.ty(a) {
                return self.err(i, format!("argument {a}: {} passed to {p}: {}", self.ty(a), self.ty(p)));
            }
        }
        Ok(())
    }

    fn check_dominance(&self, i: Inst, v: Value, position: &[(Block, usize)]) -> Result<(), VerifierError> {
        let (use_block, use_pos) = position[i.index()];
        if !self.dom.is_reachable(use_block) {
            return Ok(());
        }
        let ok = match self.func.value_def(v) {
            ValueDef::Param(b, _) => self.in_layout(b) && self.dom.dominates(b, use_block),
            ValueDef::Result(def, _) => {
                let (def_block, def_pos) = position[def.index()];
                if def_block.0 == u32::MAX {
                    false
                } else if def_block == use_block {
                    def_pos < use_pos
                } else {
                    self.dom.dominates(def_block, use_block)
                }
            }
        };
        if !ok {
            return self.err(i, format!("use of {v} is not dominated by its definition"));
        }
        Ok(())
    }

    fn check_inst(&self, i: Inst, position: &[(Block, usize)]) -> Result<(), VerifierError> {
        use InstData::*;
        let f = self.func;
        let data = f.inst(i);
        let mut dom_result = Ok(());
        data.for_each_arg(|v| {
            if dom_result.is_ok() {
                dom_result = if v.index() >= f.values.len() {
                    self.err(i, format!("use of undefined value {v}"))
                } else {
                    self.check_dominance(i, v, position)
                };
            }
        });
        dom_result?;
        match data {
            Iconst { ty, imm } => {
                if !ty.is_int() {
                    return self.err(i, "iconst of a non-integer type");
                }
                if *ty == Type::I32 && *imm > u32::MAX as u64 {
                    return self.err(i, "i32 constant with high bits set");
                }
                self.results(i, &[*ty])
            }
            Unary { op, arg } => {
                let t = self.expect_int(i, *arg)?;
                self.results(i, &[if *op == UnaryOp::Eqz { Type::I32 } else { t }])
            }
            Binary { op, args } => {
                let t = self.expect_int(i, args[0])?;
                let _ = op as &BinaryOp;
                self.expect(i, args[1], t)?;
                self.results(i, &[t])
            }
            Icmp { args, .. } => {
                let t = self.expect_int(i, args[0])?;
                self.expect(i, args[1], t)?;
                self.results(i, &[Type::I32])
            }
            Convert { op, to, arg } => {
                let from = self.ty(*arg);
                if !op.accepts(from, *to) {
                    return self.err(i, format!("{op} from {from} to {to}"));
                }
                self.results(i, &[*to])
            }
            Fconst { ty, bits } => {
                if !ty.is_float() {
                    return self.err(i, "fconst of a non-float type");
                }
                if *ty == Type::F32 && *bits > u32::MAX as u64 {
                    return self.err(i, "f32 constant with high bits set");
                }
                self.results(i, &[*ty])
            }
            FUnary { arg, .. } => {
                let t = self.expect_float(i, *arg)?;
                self.results(i, &[t])
            }
            FBinary { args, .. } => {
                let t = self.expect_float(i, args[0])?;
                self.expect(i, args[1], t)?;
                self.results(i, &[t])
            }
            Fcmp { args, .. } => {
                let t = self.expect_float(i, args[0])?;
                self.expect(i, args[1], t)?;
                self.results(i, &[Type::I32])
            }
            Select { args } => {
                self.expect(i, args[0], Type::I32)?;
                let t = self.ty(args[1]);
                self.expect(i, args[2], t)?;
                self.results(i, &[t])
            }
            MemBase { mem } => self.results(i, &[Type::Addr(*mem)]),
            AddrAdd { args } => {
                let Some(mem) = self.ty(args[0]).mem() else {
                    return self.err(i, format!("addr_add base {} is not an address", args[0]));
                };
                self.expect(i, args[1], Type::I32)?;
                self.results(i, &[Type::Addr(mem)])
            }
            BoundsCheck { index, .. } => {
                self.expect(i, *index, Type::I32)?;
                self.results(i, &[])
            }
            BoundsCheckDyn { args, .. } => {
                self.expect(i, args[0], Type::I32)?;
                self.expect(i, args[1], Type::I32)?;
                self.results(i, &[])
            }
            Load { mem, kind, addr, .. } => {
                self.expect_addr(i, *addr, *mem)?;
                self.results(i, &[kind.ty()])
            }
            Store { mem, kind, args, .. } => {
                self.expect_addr(i, args[0], *mem)?;
                self.expect(i, args[1], kind.ty())?;
                self.results(i, &[])
            }
            MemSize { .. } | MemMax { .. } => self.results(i, &[Type::I32]),
            MemSetSize { arg, .. } => {
                self.expect(i, *arg, Type::I32)?;
                self.results(i, &[])
            }
            MemoryFill { mem, args } => {
                self.expect_addr(i, args[0], *mem)?;
                self.expect(i, args[1], Type::I32)?;
                self.expect(i, args[2], Type::I32)?;
                self.results(i, &[])
            }
            MemoryCopy { dst_mem, src_mem, args } => {
                self.expect_addr(i, args[0], *dst_mem)?;
                self.expect_addr(i, args[1], *src_mem)?;
                self.expect(i, args[2], Type::I32)?;
                self.results(i, &[])
            }
            MemoryInit { mem, args, .. } => {
                self.expect_addr(i, args[0], *mem)?;
                self.expect(i, args[1], Type::I32)?;
                self.expect(i, args[2], Type::I32)?;
                self.results(i, &[])
            }
            GlobalGet { .. } => {
                if f.inst_results(i).len() != 1 {
                    return self.err(i, "global_get must have one result");
                }
                Ok(())
            }
            GlobalSet { .. } => self.results(i, &[]),
            TableSize { .. } | FuncRef { .. } | TypeId { .. } => self.results(i, &[Type::I32]),
            TableSetSize { arg, .. } => {
                self.expect(i, *arg, Type::I32)?;
                self.results(i, &[])
            }
            TableGet { index, .. } => {
                self.expect(i, *index, Type::I32)?;
                self.results(i, &[Type::I32])
            }
            TableSet { args, .. } => {
                self.expect(i, args[0], Type::I32)?;
                self.expect(i, args[1], Type::I32)?;
                self.results(i, &[])
            }
            FuncRefTypeId { arg } => {
                self.expect(i, *arg, Type::I32)?;
                self.results(i, &[Type::I32])
            }
            CallRef { sig, args } => {
                let Some((&r, params)) = args.split_first() else {
                    return self.err(i, "call_ref without a funcref operand");
                };
                self.expect(i, r, Type::I32)?;
                if let Some((want, results)) = self.callees.type_signature(*sig) {
                    let got: Vec<Type> = params.iter().map(|&a| self.ty(a)).collect();
                    if got != want {
                        return self.err(i, format!("call_ref {sig} with {got:?}, expected {want:?}"));
                    }
                    self.results(i, &results)?;
                }
                Ok(())
            }
            Call { func: callee, args } => {
                if let Some((params, results)) = self.callees.callee_signature(*callee) {
                    let got: Vec<Type> = args.iter().map(|&a| self.ty(a)).collect();
                    if got != params {
                        return self.err(i, format!("call {callee} with {got:?}, expected {params:?}"));
                    }
                    self.results(i, &results)?;
                }
                Ok(())
            }
            Trap { .. } => Ok(()),
            TrapIf { arg, .. } => {
                self.expect(i, *arg, Type::I32)?;
                self.results(i, &[])
            }
            Jump { dest } => self.check_block_call(i, dest.block, &dest.args),
            Brif { arg, then_dest, else_dest } => {
                self.expect(i, *arg, Type::I32)?;
                self.check_block_call(i, then_dest.block, &then_dest.args)?;
                self.check_block_call(i, else_dest.block, &else_dest.args)
            }
            BrTable { arg, targets, default } => {
                self.expect(i, *arg, Type::I32)?;
                for &t in targets.iter().chain(core::iter::once(default)) {
                    self.check_block_call(i, t, &[])?;
                }
                Ok(())
            }
            Return { args } => {
                let got: Vec<Type> = args.iter().map(|&a| self.ty(a)).collect();
                if got != f.sig.results {
                    return self.err(i, format!("return of {got:?}, signature says {:?}", f.sig.results));
                }
                Ok(())
            }
        }
    }
}
