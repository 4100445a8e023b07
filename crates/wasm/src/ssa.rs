//! SSA construction for wasm locals, after Braun et al., "Simple and
//! Efficient Construction of Static Single Assignment Form" (CC 2013), with
//! block parameters in place of phis.
//!
//! A block is *sealed* once all its predecessors are known. Reading a
//! variable in a sealed block with one predecessor reads it there; with
//! several, a block parameter is created and every predecessor's branch
//! passes the variable's value there. In an unsealed block the parameter is
//! created at once and the branch arguments are filled in at sealing.
//!
//! The walk is iterative (an explicit worklist instead of recursion) so deep
//! nests of blocks cannot overflow the native stack. Redundant parameters
//! (all incoming values the same) are removed afterwards by
//! [`remove_redundant_params`].

use bulkhead_ir::{Block, BlockCall, Function, Inst, InstData, Type, Value, ValueDef};
use std::collections::HashMap;

/// Marks a branch argument not filled in yet (all are filled by the time a
/// function is finished; `check_complete` makes sure).
pub(crate) const PLACEHOLDER: Value = Value(u32::MAX);

#[derive(Copy, Clone, Debug)]
pub(crate) struct PredEdge {
    pub block: Block,
    pub inst: Inst,
    /// Which block call of the terminator: 0 = `jump` / `brif` then, 1 = `brif` else.
    /// `br_table` edges (whose targets take no arguments) use `NO_ARGS`.
    pub slot: u8,
}

pub(crate) const NO_ARGS: u8 = u8::MAX;

#[derive(Default)]
struct SsaBlock {
    sealed: bool,
    preds: Vec<PredEdge>,
    /// Parameters created while the block was unsealed, to be given
    /// arguments when it is sealed.
    incomplete: Vec<(u32, Value)>,
}

pub(crate) struct SsaBuilder {
    var_types: Vec<Type>,
    entry: Block,
    blocks: Vec<SsaBlock>,
    defs: HashMap<(u32, Block), Value>,
    /// Parameters whose incoming arguments still have to be looked up.
    pending: Vec<(u32, Block, Value)>,
}

impl SsaBuilder {
    pub fn new(var_types: Vec<Type>, entry: Block) -> Self {
        let mut s = SsaBuilder { var_types, entry, blocks: Vec::new(), defs: HashMap::new(), pending: Vec::new() };
        s.block_mut(entry).sealed = true;
        s
    }

    fn block_mut(&mut self, b: Block) -> &mut SsaBlock {
        if self.blocks.len() <= b.index() {
            self.blocks.resize_with(b.index() + 1, SsaBlock::default);
        }
        &mut self.blocks[b.index()]
    }

    pub fn num_vars(&self) -> usize {
        self.var_types.len()
    }

    pub fn var_type(&self, var: u32) -> Type {
        self.var_types[var as usize]
    }

    pub fn def_var(&mut self, var: u32, block: Block, value: Value) {
        self.defs.insert((var, block), value);
    }

    pub fn add_pred(&mut self, block: Block, edge: PredEdge) {
        self.block_mut(block).preds.push(edge);
    }

    pub fn use_var(&mut self, func: &mut Function, var: u32, block: Block) -> Value {
        let v = self.lookup(func, var, block);
        self.drain_pending(func);
        v
    }

    pub fn seal(&mut self, func: &mut Function, block: Block) {
        let b = self.block_mut(block);
        if b.sealed {
            return;
        }
        b.sealed = true;
        let incomplete = std::mem::take(&mut b.incomplete);
        for (var, param) in incomplete {
            self.pending.push((var, block, param));
        }
        self.drain_pending(func);
    }

    /// Finds the value of `var` in `block` without filling in the arguments
    /// of parameters it creates (those go to `pending`).
    fn lookup(&mut self, func: &mut Function, var: u32, block: Block) -> Value {
        let mut chain = Vec::new();
        let mut b = block;
        let value = loop {
            if let Some(&v) = self.defs.get(&(var, b)) {
                break v;
            }
            if b == self.entry {
                // Declared locals start at zero: materialize the constant at
                // the top of the entry block, which dominates every use.
                let ty = self.var_type(var);
                // +0.0 for floats: all bits zero either way.
                let zero = if ty.is_float() { InstData::Fconst { ty, bits: 0 } } else { InstData::Iconst { ty, imm: 0 } };
                let inst = func.make_inst(zero, &[ty], 0);
                func.blocks[b.index()].insts.insert(0, inst);
                let v = func.inst_results(inst)[0];
                self.defs.insert((var, b), v);
                break v;
            }
            let ty = self.var_type(var);
            let info = self.block_mut(b);
            if !info.sealed {
                let param = func.append_block_param(b, ty);
                self.block_mut(b).incomplete.push((var, param));
                self.defs.insert((var, b), param);
                break param;
            }
            if info.preds.len() == 1 {
                chain.push(b);
                b = info.preds[0].block;
                continue;
            }
            // Several predecessors (or none, in a block that cannot run):
            // a parameter, defined before its arguments are looked up so
            // that loops find it.
            let param = func.append_block_param(b, ty);
            self.defs.insert((var, b), param);
            self.pending.push((var, b, param));
            break param;
        };
        for c in chain {
            self.defs.insert((var, c), value);
        }
        value
    }

    fn drain_pending(&mut self, func: &mut Function) {
        while let Some((var, block, param)) = self.pending.pop() {
            let ValueDef::Param(_, n) = func.value_def(param) else { continue };
            let preds = self.block_mut(block).preds.clone();
            for edge in preds {
                let v = self.lookup(func, var, edge.block);
                set_branch_arg(func, edge, n as usize, v);
            }
        }
    }
}

fn set_branch_arg(func: &mut Function, edge: PredEdge, n: usize, v: Value) {
    let call = match (&mut func.insts[edge.inst.index()].data, edge.slot) {
        (InstData::Jump { dest }, 0) => dest,
        (InstData::Brif { then_dest, .. }, 0) => then_dest,
        (InstData::Brif { else_dest, .. }, 1) => else_dest,
        // br_table edges lead to single-predecessor trampolines, which never
        // get parameters; nothing to do (the verifier would catch a bug).
        _ => return,
    };
    if call.args.len() <= n {
        call.args.resize(n + 1, PLACEHOLDER);
    }
    call.args[n] = v;
}

/// True when no branch argument is still a placeholder.
pub(crate) fn check_complete(func: &Function) -> bool {
    func.layout.iter().all(|&b| {
        func.block_insts(b).iter().all(|&i| {
            let mut ok = true;
            func.inst(i).for_each_arg(|v| ok &= v != PLACEHOLDER);
            ok
        })
    })
}

/// Removes block parameters whose incoming arguments are all one value (or
/// the parameter itself), replacing the parameter by that value, until no
/// such parameter is left. Only blocks in the layout are considered; the
/// entry block's parameters are the function's and stay.
pub(crate) fn remove_redundant_params(func: &mut Function) {
    let nblocks = func.blocks.len();
    let mut subst: HashMap<Value, Value> = HashMap::new();
    let resolve = |subst: &HashMap<Value, Value>, mut v: Value| {
        while let Some(&w) = subst.get(&v) {
            v = w;
        }
        v
    };
    let entry = match func.layout.first() {
        Some(&e) => e,
        None => return,
    };
    loop {
        // Incoming arguments per block and parameter.
        let mut incoming: Vec<Vec<Vec<Value>>> = vec![Vec::new(); nblocks];
        for &b in &func.layout {
            let Some(term) = func.terminator(b) else { continue };
            let calls: Vec<&bulkhead_ir::BlockCall> = match func.inst(term) {
                InstData::Jump { dest } => vec![dest],
                InstData::Brif { then_dest, else_dest, .. } => vec![then_dest, else_dest],
                _ => vec![],
            };
            for call in calls {
                let slot = &mut incoming[call.block.index()];
                if slot.len() < call.args.len() {
                    slot.resize(call.args.len(), Vec::new());
                }
                for (i, &a) in call.args.iter().enumerate() {
                    slot[i].push(a);
                }
            }
        }
        let mut remove: Vec<Vec<bool>> = vec![Vec::new(); nblocks];
        let mut changed = false;
        for &b in &func.layout {
            if b == entry {
                continue;
            }
            let params = func.block_params(b).to_vec();
            remove[b.index()] = vec![false; params.len()];
            for (i, &p) in params.iter().enumerate() {
                let Some(args) = incoming[b.index()].get(i) else { continue };
                let mut same = None;
                let mut trivial = true;
                for &a in args {
                    let a = resolve(&subst, a);
                    if a == p || Some(a) == same {
                        continue;
                    }
                    if same.is_none() {
                        same = Some(a);
                    } else {
                        trivial = false;
                        break;
                    }
                }
                if let (true, Some(v)) = (trivial, same) {
                    subst.insert(p, v);
                    remove[b.index()][i] = true;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
        // Drop the parameters and the matching branch arguments.
        let layout = func.layout.clone();
        for &b in &layout {
            let mask = &remove[b.index()];
            if mask.iter().any(|&r| r) {
                let params = std::mem::take(&mut func.blocks[b.index()].params);
                let kept: Vec<Value> =
                    params.into_iter().enumerate().filter(|(i, _)| !mask[*i]).map(|(_, v)| v).collect();
                for (n, &v) in kept.iter().enumerate() {
                    func.values[v.index()].def = ValueDef::Param(b, n as u32);
                }
                func.blocks[b.index()].params = kept;
            }
        }
        for &b in &layout {
            let Some(term) = func.terminator(b) else { continue };
            let data = &mut func.insts[term.index()].data;
            let calls: Vec<&mut bulkhead_ir::BlockCall> = match data {
                InstData::Jump { dest } => vec![dest],
                InstData::Brif { then_dest, else_dest, .. } => vec![then_dest, else_dest],
                _ => vec![],
            };
            for call in calls {
                let mask = &remove[call.block.index()];
                if mask.iter().any(|&r| r) {
                    let mut i = 0;
                    call.args.retain(|_| {
                        let keep = !mask.get(i).copied().unwrap_or(false);
                        i += 1;
                        keep
                    });
                }
            }
        }
    }
    if subst.is_empty() {
        return;
    }
    for &b in &func.layout.clone() {
        for &i in &func.blocks[b.index()].insts.clone() {
            func.insts[i.index()].data.map_args_in_place(&mut |v| resolve(&subst, v));
        }
    }
}

/// Threads branches through forwarding blocks: a block without parameters
/// whose only instruction is `jump T(args)` is bypassed by every branch to
/// it (the arguments dominate it, hence also its predecessors). `br_table`
/// edges are threaded only when no arguments are needed. Structured wasm
/// control flow produces many such blocks (`end` of nested blocks, `br_if`
/// continuations); removing them keeps the IR small for later stages.
pub(crate) fn thread_jumps(func: &mut Function) {
    let entry = match func.layout.first() {
        Some(&e) => e,
        None => return,
    };
    let forward_of = |func: &Function, b: Block| -> Option<BlockCall> {
        if b == entry || !func.block_params(b).is_empty() {
            return None;
        }
        match func.block_insts(b) {
            [only] => match func.inst(*only) {
                InstData::Jump { dest } if dest.block != b => Some(dest.clone()),
                _ => None,
            },
            _ => None,
        }
    };
    // Final destination of each forwarding block; chains are followed once
    // (memoized), and blocks on a cycle of forwarding blocks stay unresolved.
    let mut resolved: HashMap<Block, BlockCall> = HashMap::new();
    let mut on_cycle: std::collections::HashSet<Block> = std::collections::HashSet::new();
    for &b in &func.layout {
        if resolved.contains_key(&b) || on_cycle.contains(&b) {
            continue;
        }
        let Some(first) = forward_of(func, b) else { continue };
        // Walk the chain: `path` holds forwarding blocks not yet resolved.
        let mut path = vec![b];
        let mut in_path: std::collections::HashSet<Block> = [b].into_iter().collect();
        let mut call = first;
        let end = loop {
            if let Some(r) = resolved.get(&call.block) {
                break Some(r.clone());
            }
            if on_cycle.contains(&call.block) || in_path.contains(&call.block) {
                break None;
            }
            match forward_of(func, call.block) {
                Some(next) => {
                    path.push(call.block);
                    in_path.insert(call.block);
                    call = next;
                }
                None => break Some(call),
            }
        };
        match end {
            Some(target) => {
                for p in path {
                    resolved.insert(p, target.clone());
                }
            }
            None => on_cycle.extend(path),
        }
    }
    for &b in &func.layout.clone() {
        let Some(term) = func.terminator(b) else { continue };
        match &mut func.insts[term.index()].data {
            InstData::Jump { dest } => {
                if let Some(r) = resolved.get(&dest.block) {
                    *dest = r.clone();
                }
            }
            InstData::Brif { then_dest, else_dest, .. } => {
                for d in [then_dest, else_dest] {
                    if let Some(r) = resolved.get(&d.block) {
                        *d = r.clone();
                    }
                }
            }
            InstData::BrTable { targets, default, .. } => {
                for t in targets.iter_mut().chain(std::iter::once(default)) {
                    if let Some(r) = resolved.get(t) {
                        if r.args.is_empty() {
                            *t = r.block;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    // A jump to a parameterless block that only returns becomes that return.
    for &b in &func.layout.clone() {
        let Some(term) = func.terminator(b) else { continue };
        let InstData::Jump { dest } = func.inst(term) else { continue };
        let target = dest.block;
        if target == b || !func.block_params(target).is_empty() {
            continue;
        }
        if let [only] = func.block_insts(target) {
            if let ret @ InstData::Return { .. } = func.inst(*only) {
                func.insts[term.index()].data = ret.clone();
            }
        }
    }
    func.remove_unreachable_blocks();
}
