//! Elaboration: rebuilds an IR function from the effect skeleton and the
//! extracted pure nodes.
//!
//! The skeleton (every effectful instruction) keeps its blocks and order.
//! Each pure value it needs, directly or through other pure values, is
//! computed exactly once, at a block chosen as in Click's global code
//! motion:
//!
//! - *early*: the deepest block (in the dominator tree) defining one of the
//!   value's leaves (block parameters, results of effectful instructions) —
//!   the highest point where all its operands exist;
//! - *late*: the lowest common dominator of its uses (skeleton instructions
//!   and the placements of the pure values that use it);
//! - chosen: on the dominator-tree path from late up to early, the block of
//!   smallest loop depth, the deepest such. So a value used in two sibling
//!   branches is computed once where both can see it, a value is never
//!   sunk into a loop it was not needed in, and a loop-invariant value is
//!   computed before the loop. Computing a pure value earlier than the
//!   original program did is safe: pure nodes cannot trap (IR division is
//!   total).
//!
//! Constants are the exception: they are rematerialized in each block that
//! uses them (shared within the block), as Cranelift does — one instruction,
//! no register held across blocks — and do not constrain their users.
//!
//! Emission walks the blocks in dominator-tree preorder and emits a pure
//! value when first demanded: in the current block right before the
//! demanding instruction, or, when its block is an already finished
//! dominator, just before that block's terminator.
//!
//! Every iteration order is fixed (dominator-tree preorder with children in
//! reverse postorder, instruction order, operand order), so the output is a
//! function of the input alone.

use crate::extract::Extraction;
use crate::lang::{EGraph, ENode, Op};
use bulkhead_ir::dominance::DomTree;
use bulkhead_ir::{Block, Function, Inst, InstData, Type, Value, ValueDef};
use egg::{Id, Language};
use std::collections::BTreeMap;

pub struct Inputs<'a> {
    pub func: &'a Function,
    pub dom: &'a DomTree,
    pub egraph: &'a EGraph,
    pub extraction: &'a Extraction,
    /// E-class of every value the skeleton may use (indexed by old value).
    pub value_class: &'a [Option<Id>],
    /// Source location to give a pure node: that of the first original
    /// instruction in its class.
    pub class_srcloc: &'a BTreeMap<Id, u32>,
    /// Pure instructions that must stay in the skeleton (indexed by
    /// instruction; see `must_not_speculate` in lib.rs).
    pub pinned: &'a [bool],
    /// Skeleton instructions found redundant (indexed by instruction).
    pub removed: &'a [bool],
}

impl Inputs<'_> {
    fn in_skeleton(&self, inst: Inst) -> bool {
        (!self.func.inst(inst).is_pure() || self.pinned[inst.index()]) && !self.removed[inst.index()]
    }
}

pub fn elaborate(inp: &Inputs) -> Result<Function, String> {
    let func = inp.func;
    let mut out = Function::new(func.index, func.name.clone(), func.sig.clone());
    let mut new_value: Vec<Option<Value>> = vec![None; func.values.len()];
    for (i, data) in func.blocks.iter().enumerate() {
        let b = out.create_block();
        debug_assert_eq!(b.index(), i);
        for &p in &data.params {
            new_value[p.index()] = Some(out.append_block_param(b, func.value_type(p)));
        }
    }
    let mut inst_block = vec![None; func.insts.len()];
    for &b in &func.layout {
        for &i in func.block_insts(b) {
            inst_block[i.index()] = Some(b);
        }
    }
    let order = dom_preorder(func, inp.dom);
    let mut dom_depth = vec![0u32; func.blocks.len()];
    for &b in &order {
        if let Some(p) = inp.dom.idom(b) {
            dom_depth[b.index()] = dom_depth[p.index()] + 1;
        }
    }
    let mut e = Elaborator {
        inp,
        loop_depth: loop_depths(func, inp.dom),
        dom_depth,
        inst_block,
        place: BTreeMap::new(),
        out,
        block_insts: vec![Vec::new(); func.blocks.len()],
        new_value,
        emitted: BTreeMap::new(),
        remat: BTreeMap::new(),
    };
    e.schedule(&order)?;
    for &b in &order {
        for &inst in func.block_insts(b) {
            if inp.in_skeleton(inst) {
                e.skeleton_inst(b, inst)?;
            }
        }
    }
    let mut out = e.out;
    for (b, insts) in e.block_insts.into_iter().enumerate() {
        out.blocks[b].insts = insts;
    }
    out.layout = func.layout.iter().copied().filter(|&b| inp.dom.is_reachable(b)).collect();
    Ok(out)
}

struct Elaborator<'a> {
    inp: &'a Inputs<'a>,
    loop_depth: Vec<u32>,
    dom_depth: Vec<u32>,
    /// Old instruction → its block in the old layout.
    inst_block: Vec<Option<Block>>,
    /// The block chosen for every needed, placed (non-leaf, non-constant)
    /// e-class.
    place: BTreeMap<Id, Block>,
    out: Function,
    block_insts: Vec<Vec<Inst>>,
    /// Old value → new value, for block parameters and skeleton results.
    new_value: Vec<Option<Value>>,
    /// Value of each placed e-class once emitted.
    emitted: BTreeMap<Id, Value>,
    /// Value of each constant e-class per block it was materialized in.
    remat: BTreeMap<(Id, Block), Value>,
}

/// How a class is materialized.
enum Kind {
    /// A block parameter or skeleton result.
    Leaf(Value),
    /// A constant, rematerialized per block.
    Remat,
    /// Computed once, at its scheduled block.
    Placed,
}

impl Elaborator<'_> {
    fn best(&self, class: Id) -> Result<&ENode, String> {
        self.inp
            .extraction
            .best(self.inp.egraph, class)
            .ok_or_else(|| format!("e-class {class} has no extractable node"))
    }

    fn kind(&self, class: Id) -> Result<Kind, String> {
        Ok(match self.best(class)?.op {
            Op::Opaque { value, .. } => Kind::Leaf(value),
            Op::Iconst { .. } | Op::Fconst { .. } => Kind::Remat,
            _ => Kind::Placed,
        })
    }

    /// Children of a class's chosen node, canonical.
    fn children(&self, class: Id) -> Result<Vec<Id>, String> {
        let eg = self.inp.egraph;
        Ok(self.best(class)?.children().iter().map(|&c| eg.find(c)).collect())
    }

    fn def_block(&self, v: Value) -> Result<Block, String> {
        match self.inp.func.value_def(v) {
            ValueDef::Param(b, _) => Ok(b),
            ValueDef::Result(i, _) => {
                self.inst_block[i.index()].ok_or_else(|| format!("{v} is defined outside the layout"))
            }
        }
    }

    fn lcd(&self, mut a: Block, mut b: Block) -> Block {
        while a != b {
            if self.dom_depth[a.index()] >= self.dom_depth[b.index()] {
                match self.inp.dom.idom(a) {
                    Some(p) => a = p,
                    None => return a,
                }
            } else {
                match self.inp.dom.idom(b) {
                    Some(p) => b = p,
                    None => return b,
                }
            }
        }
        a
    }

    /// Computes `place` for every pure class the skeleton needs.
    fn schedule(&mut self, order: &[Block]) -> Result<(), String> {
        let func = self.inp.func;
        let eg = self.inp.egraph;
        let Some(&entry) = order.first() else { return Ok(()) };
        // Uses by the skeleton: late placement starts at the using block.
        let mut late: BTreeMap<Id, Block> = BTreeMap::new();
        let mut roots = Vec::new();
        for &b in order {
            for &inst in func.block_insts(b) {
                if !self.inp.in_skeleton(inst) {
                    continue;
                }
                let mut operands = Vec::new();
                func.inst(inst).for_each_arg(|v| operands.push(v));
                for v in operands {
                    let class =
                        self.inp.value_class[v.index()].ok_or_else(|| format!("{inst}: operand {v} has no e-class"))?;
                    let class = eg.find(class);
                    if let Kind::Placed = self.kind(class)? {
                        let l = late.get(&class).map_or(b, |&l| self.lcd(l, b));
                        late.insert(class, l);
                        roots.push(class);
                    }
                }
            }
        }
        // Postorder over the placed classes reachable from the roots
        // (children first); the extraction is acyclic, a cycle is an error.
        let mut post: Vec<Id> = Vec::new();
        let mut state: BTreeMap<Id, bool> = BTreeMap::new(); // false: open, true: done
        for &root in &roots {
            if state.contains_key(&root) {
                continue;
            }
            let mut stack = vec![(root, false)];
            while let Some((class, expanded)) = stack.pop() {
                if expanded {
                    state.insert(class, true);
                    post.push(class);
                    continue;
                }
                match state.get(&class) {
                    Some(true) => continue,
                    Some(false) => return Err(format!("e-class {class} depends on itself")),
                    None => {}
                }
                state.insert(class, false);
                stack.push((class, true));
                for child in self.children(class)?.into_iter().rev() {
                    if let Kind::Placed = self.kind(child)? {
                        match state.get(&child) {
                            Some(true) => {}
                            Some(false) => return Err(format!("e-class {child} depends on itself")),
                            None => stack.push((child, false)),
                        }
                    }
                }
            }
        }
        // Early placement, children first: the deepest block defining a
        // leaf below (all such blocks dominate every use, so they lie on one
        // dominator-tree path).
        let mut early: BTreeMap<Id, Block> = BTreeMap::new();
        for &class in &post {
            let mut at = entry;
            for child in self.children(class)? {
                let child_early = match self.kind(child)? {
                    Kind::Leaf(v) => self.def_block(v)?,
                    Kind::Remat => continue,
                    Kind::Placed => early[&child],
                };
                if self.dom_depth[child_early.index()] > self.dom_depth[at.index()] {
                    at = child_early;
                }
            }
            early.insert(class, at);
        }
        // Late placement and the choice, parents first.
        for &class in post.iter().rev() {
            let (Some(&lo), Some(&hi)) = (late.get(&class), early.get(&class)) else {
                return Err(format!("e-class {class} was not scheduled"));
            };
            let at = self.choose(lo, hi)?;
            self.place.insert(class, at);
            for child in self.children(class)? {
                if let Kind::Placed = self.kind(child)? {
                    let l = late.get(&child).map_or(at, |&l| self.lcd(l, at));
                    late.insert(child, l);
                }
            }
        }
        Ok(())
    }

    /// On the dominator-tree path from `lo` up to `hi`, the deepest block of
    /// minimal loop depth.
    fn choose(&self, lo: Block, hi: Block) -> Result<Block, String> {
        let mut best = lo;
        let mut cur = lo;
        while cur != hi {
            cur = self.inp.dom.idom(cur).ok_or_else(|| format!("{hi} does not dominate {lo}"))?;
            if self.loop_depth[cur.index()] < self.loop_depth[best.index()] {
                best = cur;
            }
        }
        Ok(best)
    }

    fn skeleton_inst(&mut self, b: Block, inst: Inst) -> Result<(), String> {
        let func = self.inp.func;
        let node = &func.insts[inst.index()];
        let mut operands = Vec::new();
        node.data.for_each_arg(|v| operands.push(v));
        let mut mapped = Vec::with_capacity(operands.len());
        for v in operands {
            let class = self.inp.value_class[v.index()].ok_or_else(|| format!("{inst}: operand {v} has no e-class"))?;
            mapped.push(self.value(self.inp.egraph.find(class), b, node.srcloc)?);
        }
        let mut mapped = mapped.into_iter();
        let data = node.data.clone().map_args(|_| mapped.next().expect("one value per operand"));
        let types: Vec<Type> = node.results.iter().map(|&r| func.value_type(r)).collect();
        let new = self.out.make_inst(data, &types, node.srcloc);
        self.block_insts[b.index()].push(new);
        for (&old, &new) in node.results.iter().zip(self.out.inst_results(new)) {
            self.new_value[old.index()] = Some(new);
        }
        Ok(())
    }

    /// The value of `class` for a use in block `b`, emitting what is needed.
    fn value(&mut self, class: Id, b: Block, srcloc: u32) -> Result<Value, String> {
        match self.kind(class)? {
            Kind::Leaf(v) => {
                let at = self.def_block(v)?;
                self.new_value[v.index()]
                    .filter(|_| self.inp.dom.dominates(at, b))
                    .ok_or_else(|| format!("{v} is not available in {b}"))
            }
            Kind::Remat => {
                if let Some(&v) = self.remat.get(&(class, b)) {
                    return Ok(v);
                }
                let node = self.best(class)?.clone();
                let v = self.emit(&node, class, &[], b, srcloc)?;
                self.remat.insert((class, b), v);
                Ok(v)
            }
            Kind::Placed => {
                if let Some(&v) = self.emitted.get(&class) {
                    return Ok(v);
                }
                // Operands first (they are placed at or above `at`, which
                // dominates `b`), then the node itself. Recursion depth is
                // bounded by expression depth, which `schedule` walked
                // iteratively already; emit iteratively too.
                let mut stack = vec![(class, false)];
                while let Some((c, ready)) = stack.pop() {
                    if self.emitted.contains_key(&c) {
                        continue;
                    }
                    let at = *self.place.get(&c).ok_or_else(|| format!("e-class {c} has no placement"))?;
                    let kids = self.children(c)?;
                    if !ready {
                        stack.push((c, true));
                        for &k in kids.iter().rev() {
                            if let Kind::Placed = self.kind(k)? {
                                stack.push((k, false));
                            }
                        }
                        continue;
                    }
                    let mut args = Vec::with_capacity(kids.len());
                    for k in kids {
                        args.push(match self.kind(k)? {
                            Kind::Placed => self.emitted[&k],
                            _ => self.value(k, at, srcloc)?,
                        });
                    }
                    let node = self.best(c)?.clone();
                    let v = self.emit(&node, c, &args, at, srcloc)?;
                    self.emitted.insert(c, v);
                }
                Ok(self.emitted[&class])
            }
        }
    }

    fn emit(&mut self, node: &ENode, class: Id, args: &[Value], at: Block, srcloc: u32) -> Result<Value, String> {
        let eg = self.inp.egraph;
        let ty = eg[class].data.ty;
        let a = |i: usize| args[i];
        let data = match &node.op {
            Op::Iconst { ty, imm } => InstData::Iconst { ty: *ty, imm: *imm },
            Op::Unary { op, .. } => InstData::Unary { op: *op, arg: a(0) },
            Op::Binary { op, .. } => InstData::Binary { op: *op, args: [a(0), a(1)] },
            Op::Icmp { cc, .. } => InstData::Icmp { cc: *cc, args: [a(0), a(1)] },
            Op::Select => InstData::Select { args: [a(0), a(1), a(2)] },
            Op::Fconst { ty, bits } => InstData::Fconst { ty: *ty, bits: *bits },
            Op::Convert { op, to, .. } => InstData::Convert { op: *op, to: *to, arg: a(0) },
            Op::FUnary { op, .. } => InstData::FUnary { op: *op, arg: a(0) },
            Op::FBinary { op, .. } => InstData::FBinary { op: *op, args: [a(0), a(1)] },
            Op::Fcmp { cc, .. } => InstData::Fcmp { cc: *cc, args: [a(0), a(1)] },
            Op::MemBase { mem } => InstData::MemBase { mem: *mem },
            Op::MemMax { mem } => InstData::MemMax { mem: *mem },
            Op::FuncRef { func } => InstData::FuncRef { func: *func },
            Op::FuncRefTypeId => InstData::FuncRefTypeId { arg: a(0) },
            Op::TypeId { sig } => InstData::TypeId { sig: *sig },
            Op::AddrAdd { .. } => InstData::AddrAdd { args: [a(0), a(1)] },
            Op::Opaque { value, .. } => return Err(format!("opaque {value} cannot be emitted")),
        };
        let srcloc = self.inp.class_srcloc.get(&class).copied().unwrap_or(srcloc);
        let inst = self.out.make_inst(data, &[ty], srcloc);
        let list = &mut self.block_insts[at.index()];
        // A block other than the current one is finished (preorder): insert
        // before its terminator.
        let done = list.last().is_some_and(|&t| self.out.inst(t).is_terminator());
        if done {
            list.insert(list.len() - 1, inst);
        } else {
            list.push(inst);
        }
        Ok(self.out.inst_results(inst)[0])
    }
}

/// Reachable blocks in dominator-tree preorder, children in reverse
/// postorder.
fn dom_preorder(func: &Function, dom: &DomTree) -> Vec<Block> {
    let mut children: Vec<Vec<Block>> = vec![Vec::new(); func.blocks.len()];
    for &b in dom.rpo() {
        if let Some(p) = dom.idom(b) {
            children[p.index()].push(b);
        }
    }
    let mut order = Vec::with_capacity(dom.rpo().len());
    let mut stack: Vec<Block> = dom.rpo().first().copied().into_iter().collect();
    while let Some(b) = stack.pop() {
        order.push(b);
        stack.extend(children[b.index()].iter().rev().copied());
    }
    order
}

/// Loop nesting depth of every block: the number of natural loops
/// (headers that dominate a predecessor) containing it.
pub fn loop_depths(func: &Function, dom: &DomTree) -> Vec<u32> {
    let preds = func.predecessors();
    let mut depth = vec![0u32; func.blocks.len()];
    for &header in dom.rpo() {
        let latches: Vec<Block> = preds[header.index()].iter().copied().filter(|&p| dom.dominates(header, p)).collect();
        if latches.is_empty() {
            continue;
        }
        let mut in_loop = vec![false; func.blocks.len()];
        in_loop[header.index()] = true;
        let mut work = latches;
        while let Some(b) = work.pop() {
            if std::mem::replace(&mut in_loop[b.index()], true) {
                continue;
            }
            work.extend(preds[b.index()].iter().copied().filter(|&p| dom.is_reachable(p)));
        }
        for (d, inside) in depth.iter_mut().zip(in_loop) {
            *d += inside as u32;
        }
    }
    depth
}
