//! Facts about memory contents and sizes along the effect skeleton:
//! redundant bounds checks and redundant loads.
//!
//! # Versions
//!
//! For every memory `k` two *versions* are tracked at each point of the
//! function: one for its contents, one for its size. A version names the
//! last instruction that may have changed that state on every path to the
//! point (`After(inst)`), or says that nothing changed it since the function
//! was entered (`Entry`) or since the most recent entry into a block whose
//! predecessors disagree (`Merge(block)`). It is a forward dataflow over the
//! CFG (`Versions::compute`).
//!
//! What changes memory `k`'s contents: a store to `k`, `memory.fill` and
//! `memory.init` of `k`, `memory.copy` *into* `k`, and calls (`call`,
//! `call_ref`: they may do anything). A store to memory `j != k` does not:
//! the memory index is part of the address type, so an `addr<j>` can never
//! point into memory `k` — the fact that single-memory lowering loses.
//! What changes `k`'s size: `mem_set_size.k` and calls. (In wasm a memory
//! never shrinks, but the IR does not promise that — `instantiate` sets a
//! size and then lowers it — so a size change kills every fact about the
//! size, and a call is treated as a size change.)
//!
//! # Why same version + dominance is enough
//!
//! Let `A` (an earlier check, load or store) dominate `B`, and let both see
//! the same version of memory `k`. Then no instruction that changes `k` ran
//! between the most recent execution of `A` and `B`: if one did, the path
//! from it to `B` avoids `A`, and (because the dataflow is sound at `A`'s
//! first execution) a path from the entry to it avoids `A` too, so `A` would
//! not dominate `B`. The same argument shows that the SSA values `A`'s and
//! `B`'s operands are computed from were not recomputed in between, so
//! operands in one e-class had equal values at both.
//!
//! # What is removed
//!
//! - `bounds_check.k x, end` when a dominating check on `k` with the same
//!   size version covered the index class of `x` with an end at least
//!   `end` (or covered `y` with an end at least `c + end`, where `x` is
//!   `y + c` for a constant `c`); or when `x` is a constant `c` and a
//!   dominating check (on any index, which is at least 0) proved
//!   `size_k >= c + end`; or when
//!   `c + end` is at most the memory's minimum size given in the options.
//!   `bounds_check_dyn.k x, len` likewise (a constant `len` is an `end`;
//!   otherwise an identical dominating check).
//! - A load of kind `K` at address class `A` + offset `o` from memory `k`
//!   when a dominating load of kind `K` at `A` + `o` saw the same contents
//!   version (load CSE), or when the contents version is a store to `A` +
//!   `o` of the same width whose value converts to the load's (store-to-load
//!   forwarding).

use crate::lang::{EGraph, ENode, Op};
use bulkhead_ir::dominance::DomTree;
use bulkhead_ir::{Block, ConvertOp, Effect, Function, Inst, InstData, LoadKind, MemIdx, StoreKind, Type, UnaryOp};
use egg::Id;
use std::collections::HashMap;

/// Names under which the removals are counted in the rewrite statistics.
pub const CHECK_DOMINATED: &str = "bounds-check-dominated";
pub const CHECK_BELOW_MIN: &str = "bounds-check-below-min";
pub const LOAD_CSE: &str = "load-cse";
pub const STORE_TO_LOAD: &str = "store-to-load";
pub const NAMES: [&str; 4] = [CHECK_DOMINATED, CHECK_BELOW_MIN, LOAD_CSE, STORE_TO_LOAD];

/// Entries kept per lookup key: older ones (in blocks that do not dominate
/// later uses) are dropped, so lookups stay constant-time.
const MAX_CANDIDATES: usize = 8;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    Entry,
    After(Inst),
    Merge(Block),
}

/// Which state of a memory an instruction may change.
fn changes(data: &InstData, mem: MemIdx) -> (bool, bool) {
    match data.effect() {
        Effect::All => (true, true),
        Effect::WriteMem(k) => (k == mem, false),
        Effect::WriteSize(k) => (false, k == mem),
        _ => (false, false),
    }
}

/// The versions at the entry of every reachable block, for contents and
/// size, indexed `[block][memory]`.
struct Versions {
    contents: Vec<Vec<Version>>,
    size: Vec<Vec<Version>>,
}

impl Versions {
    fn compute(func: &Function, dom: &DomTree, memories: usize) -> Versions {
        let n = func.blocks.len();
        let preds = func.predecessors();
        // `None`: not computed yet (a back edge seen before its source).
        let mut ins: Vec<Option<Vec<(Version, Version)>>> = vec![None; n];
        let mut outs: Vec<Option<Vec<(Version, Version)>>> = vec![None; n];
        let entry = dom.rpo().first().copied();
        let at_entry = vec![(Version::Entry, Version::Entry); memories];
        loop {
            let mut changed = false;
            for &b in dom.rpo() {
                let mut incoming: Vec<&Vec<(Version, Version)>> =
                    preds[b.index()].iter().filter_map(|p| outs[p.index()].as_ref()).collect();
                if Some(b) == entry {
                    incoming.push(&at_entry);
                }
                let meet = |pick: fn(&(Version, Version)) -> Version, k: usize, old: Option<Version>| {
                    let first = pick(&incoming[0][k]);
                    let agreed = incoming.iter().all(|v| pick(&v[k]) == first);
                    // A block's entry version only ever moves from unknown
                    // to one version to `Merge(b)`: that bounds the number
                    // of rounds, and `Merge(b)` is always true at b's entry.
                    match old {
                        _ if !agreed => Version::Merge(b),
                        Some(old) if old != first => Version::Merge(b),
                        _ => first,
                    }
                };
                if incoming.is_empty() {
                    continue;
                }
                let old = ins[b.index()].clone();
                let new_in: Vec<(Version, Version)> = (0..memories)
                    .map(|k| {
                        let old_k = old.as_ref().map(|o| o[k]);
                        (meet(|v| v.0, k, old_k.map(|o| o.0)), meet(|v| v.1, k, old_k.map(|o| o.1)))
                    })
                    .collect();
                if old.as_ref() == Some(&new_in) {
                    continue;
                }
                changed = true;
                let mut out = new_in.clone();
                for &inst in func.block_insts(b) {
                    let data = func.inst(inst);
                    for (k, v) in out.iter_mut().enumerate() {
                        let (contents, size) = changes(data, MemIdx(k as u32));
                        if contents {
                            v.0 = Version::After(inst);
                        }
                        if size {
                            v.1 = Version::After(inst);
                        }
                    }
                }
                ins[b.index()] = Some(new_in);
                outs[b.index()] = Some(out);
            }
            if !changed {
                break;
            }
        }
        let unreachable = vec![(Version::Entry, Version::Entry); memories];
        let (contents, size) = ins
            .into_iter()
            .map(|v| {
                let v = v.unwrap_or_else(|| unreachable.clone());
                (v.iter().map(|p| p.0).collect(), v.iter().map(|p| p.1).collect())
            })
            .unzip();
        Versions { contents, size }
    }
}

/// What a memory-related skeleton instruction turned out to be.
pub enum Outcome {
    /// Keep it (and, for a load, give its result a fresh leaf).
    Keep,
    /// Drop it: a redundant bounds check.
    RemoveCheck,
    /// Drop the load; its result is this e-class.
    ReplaceLoad(Id),
}

type Candidates<T> = Vec<(Block, T)>;

fn push<K: Eq + std::hash::Hash, T>(map: &mut HashMap<K, Candidates<T>>, key: K, block: Block, item: T) {
    let list = map.entry(key).or_default();
    if list.len() == MAX_CANDIDATES {
        list.remove(0);
    }
    list.push((block, item));
}

/// The end of a checked range: a constant, or an e-class (dynamic checks).
#[derive(Copy, Clone, PartialEq, Eq, Hash)]
enum End {
    Const(u64),
    Class(Id),
}

/// Walks the skeleton in the order `build` visits it (reverse postorder,
/// instructions in order), deciding for each check and load whether an
/// earlier one makes it redundant.
pub struct Tracker<'a> {
    func: &'a Function,
    dom: &'a DomTree,
    versions: Versions,
    checks: bool,
    loads: bool,
    /// A lower bound on each memory's size that holds throughout the
    /// function (`None` where unknown or where the function sets the size).
    min_size: Vec<Option<u64>>,
    block: Block,
    contents: Vec<Version>,
    size: Vec<Version>,
    /// (memory, size version, index class, end) of checks that passed.
    ranges: HashMap<(MemIdx, Version, Id), Candidates<End>>,
    /// (memory, size version): sizes proved by checks that passed.
    lower_bounds: HashMap<(MemIdx, Version), Candidates<u128>>,
    /// (memory, contents version, address class, offset, kind) of loads.
    loaded: HashMap<(MemIdx, Version, Id, u32, LoadKind), Candidates<Id>>,
    /// Stores: (address class, offset, kind, value class), by instruction.
    stored: HashMap<Inst, (Id, u32, StoreKind, Id)>,
    pub counts: HashMap<&'static str, usize>,
    pub checks_kept: usize,
    pub checks_removed: usize,
}

impl<'a> Tracker<'a> {
    pub fn new(func: &'a Function, dom: &'a DomTree, checks: bool, loads: bool, min_bytes: &[u64]) -> Tracker<'a> {
        let mut memories = min_bytes.len();
        let mut sets_size = Vec::new();
        for &b in dom.rpo() {
            for &i in func.block_insts(b) {
                let data = func.inst(i);
                for m in data.memories() {
                    memories = memories.max(m.0 as usize + 1);
                }
                if let InstData::MemSetSize { mem, .. } = data {
                    sets_size.push(*mem);
                }
            }
        }
        let versions = if checks || loads {
            Versions::compute(func, dom, memories)
        } else {
            // Nothing will be looked up: every block starts at `Entry`.
            let entry = vec![Version::Entry; memories];
            Versions { contents: vec![entry.clone(); func.blocks.len()], size: vec![entry; func.blocks.len()] }
        };
        let min_size = (0..memories)
            .map(|k| {
                let set = sets_size.contains(&MemIdx(k as u32));
                min_bytes.get(k).copied().filter(|&m| m > 0 && !set)
            })
            .collect();
        Tracker {
            func,
            dom,
            versions,
            checks,
            loads,
            min_size,
            block: Block(0),
            contents: Vec::new(),
            size: Vec::new(),
            ranges: HashMap::new(),
            lower_bounds: HashMap::new(),
            loaded: HashMap::new(),
            stored: HashMap::new(),
            counts: HashMap::new(),
            checks_kept: 0,
            checks_removed: 0,
        }
    }

    pub fn enter_block(&mut self, b: Block) {
        self.block = b;
        self.contents = self.versions.contents[b.index()].clone();
        self.size = self.versions.size[b.index()].clone();
    }

    /// The first entry of `list` recorded in a block dominating the current
    /// one (same block: recorded earlier, as blocks are visited in order)
    /// that satisfies `pred`.
    fn dominating<T: Copy>(&self, list: Option<&Candidates<T>>, pred: impl Fn(T) -> bool) -> Option<T> {
        list?.iter().find(|&&(b, t)| self.dom.dominates(b, self.block) && pred(t)).map(|&(_, t)| t)
    }

    /// Decides about a skeleton instruction before `build` handles it.
    /// `class` gives the e-class of an operand. May add nodes to the
    /// e-graph (conversions of forwarded store values).
    pub fn visit(
        &mut self,
        inst: Inst,
        egraph: &mut EGraph,
        class: &dyn Fn(bulkhead_ir::Value) -> Option<Id>,
    ) -> Outcome {
        match *self.func.inst(inst) {
            InstData::BoundsCheck { mem, index, end } => match class(index) {
                Some(x) => self.check(egraph, mem, x, End::Const(end)),
                None => Outcome::Keep,
            },
            InstData::BoundsCheckDyn { mem, args: [index, len] } => match (class(index), class(len)) {
                (Some(x), Some(len)) => {
                    let end = egraph[len].data.konst.map_or(End::Class(egraph.find(len)), End::Const);
                    self.check(egraph, mem, x, end)
                }
                _ => Outcome::Keep,
            },
            InstData::Load { mem, kind, addr, offset } if self.loads => match class(addr) {
                Some(a) => self.load(egraph, mem, kind, egraph.find(a), offset),
                None => Outcome::Keep,
            },
            _ => Outcome::Keep,
        }
    }

    fn check(&mut self, egraph: &EGraph, mem: MemIdx, index: Id, end: End) -> Outcome {
        let index = egraph.find(index);
        let version = self.size[mem.0 as usize];
        let konst = egraph[index].data.konst;
        // The size this check proves (the index is at least 0).
        let proves = match end {
            End::Const(e) => Some(konst.unwrap_or(0) as u128 + e as u128),
            End::Class(_) => None,
        };
        if self.checks {
            let covered = self
                .dominating(self.ranges.get(&(mem, version, index)), |seen| match (seen, end) {
                    (End::Const(a), End::Const(b)) => a >= b,
                    (a, b) => a == b,
                })
                .is_some()
                || self.covered_via_sum(egraph, mem, version, index, end);
            let below = |bound: u128| konst.is_some() && proves.is_some_and(|p| p <= bound);
            let bounded = self.dominating(self.lower_bounds.get(&(mem, version)), below).is_some();
            let below_min = self.min_size[mem.0 as usize].is_some_and(|m| below(m as u128));
            let rule = if covered || bounded {
                Some(CHECK_DOMINATED)
            } else if below_min {
                Some(CHECK_BELOW_MIN)
            } else {
                None
            };
            if let Some(rule) = rule {
                *self.counts.entry(rule).or_default() += 1;
                self.checks_removed += 1;
                return Outcome::RemoveCheck;
            }
            let block = self.block;
            push(&mut self.ranges, (mem, version, index), block, end);
            if let Some(p) = proves {
                // One entry per block (its largest bound), so that the
                // entries of dominating blocks are not crowded out.
                let list = self.lower_bounds.entry((mem, version)).or_default();
                match list.iter_mut().find(|(b, _)| *b == block) {
                    Some((_, bound)) => *bound = (*bound).max(p),
                    None => push(&mut self.lower_bounds, (mem, version), block, p),
                }
            }
        }
        self.checks_kept += 1;
        Outcome::Keep
    }

    /// Is the check of `x + c` (an i32 add with a constant `c`) up to `end`
    /// implied by a dominating check of `x` up to at least `c + end`? That
    /// check proved `x + c + end <= size < 2^32`, so `x + c` does not wrap
    /// and is the index checked now. (Not the other way round: a passed
    /// check of a wrapped `x + c` says nothing about `x`.)
    fn covered_via_sum(&self, egraph: &EGraph, mem: MemIdx, version: Version, index: Id, end: End) -> bool {
        let End::Const(end) = end else { return false };
        egraph[index].nodes.iter().any(|n| {
            let (Op::Binary { op: bulkhead_ir::BinaryOp::Add, ty: Type::I32 }, [a, b]) =
                (&n.op, egg::Language::children(n))
            else {
                return false;
            };
            [(*a, *b), (*b, *a)].into_iter().any(|(x, c)| {
                let Some(c) = egraph[c].data.konst else { return false };
                let needed = c as u128 + end as u128;
                let ranges = self.ranges.get(&(mem, version, egraph.find(x)));
                self.dominating(ranges, |seen| matches!(seen, End::Const(a) if a as u128 >= needed)).is_some()
            })
        })
    }

    fn load(&mut self, egraph: &mut EGraph, mem: MemIdx, kind: LoadKind, addr: Id, offset: u32) -> Outcome {
        let version = self.contents[mem.0 as usize];
        let key = (mem, version, addr, offset, kind);
        if let Some(v) = self.dominating(self.loaded.get(&key), |_| true) {
            *self.counts.entry(LOAD_CSE).or_default() += 1;
            return Outcome::ReplaceLoad(v);
        }
        // The last write is a store to the same place: its value. (The
        // version says that store dominates this load with nothing writing
        // the memory in between.)
        if let Version::After(store) = version {
            if let Some(&(a, o, sk, value)) = self.stored.get(&store) {
                if egraph.find(a) == addr && o == offset {
                    if let Some(v) = forward(egraph, sk, kind, egraph.find(value)) {
                        *self.counts.entry(STORE_TO_LOAD).or_default() += 1;
                        return Outcome::ReplaceLoad(v);
                    }
                }
            }
        }
        Outcome::Keep
    }

    /// Records a kept load's result class.
    pub fn loaded(
        &mut self,
        inst: Inst,
        egraph: &EGraph,
        class: &dyn Fn(bulkhead_ir::Value) -> Option<Id>,
        result: Id,
    ) {
        if let InstData::Load { mem, kind, addr, offset } = *self.func.inst(inst) {
            if let (true, Some(a)) = (self.loads, class(addr)) {
                let key = (mem, self.contents[mem.0 as usize], egraph.find(a), offset, kind);
                let block = self.block;
                push(&mut self.loaded, key, block, result);
            }
        }
    }

    /// Advances the versions past a kept skeleton instruction.
    pub fn after(&mut self, inst: Inst, egraph: &EGraph, class: &dyn Fn(bulkhead_ir::Value) -> Option<Id>) {
        let data = self.func.inst(inst);
        for k in 0..self.contents.len() {
            let (contents, size) = changes(data, MemIdx(k as u32));
            if contents {
                self.contents[k] = Version::After(inst);
            }
            if size {
                self.size[k] = Version::After(inst);
            }
        }
        if let (true, InstData::Store { kind, args: [addr, value], offset, .. }) = (self.loads, data) {
            if let (Some(a), Some(v)) = (class(*addr), class(*value)) {
                self.stored.insert(inst, (egraph.find(a), *offset, *kind, egraph.find(v)));
            }
        }
    }
}

/// The value a load of `load` reads right after a store of `store` wrote
/// `value` to the same address: the stored bytes reinterpreted, or `None`
/// where that is not a cheap pure expression (other widths, mixed i32/i64
/// narrow accesses).
fn forward(egraph: &mut EGraph, store: StoreKind, load: LoadKind, value: Id) -> Option<Id> {
    let width = store.width();
    if load.width() != width {
        return None;
    }
    let (from, to) = (store.ty(), load.ty());
    debug_assert_eq!(egraph[value].data.ty, from);
    let unary = |egraph: &mut EGraph, op: Op, arg: Id| egraph.add(ENode::new(op, &[arg], 0));
    if width == to.bytes() {
        // Full-width load: the stored bits, as the load's type.
        return Some(match (from, to) {
            _ if from == to => value,
            (Type::I32, Type::F32) | (Type::F32, Type::I32) | (Type::I64, Type::F64) | (Type::F64, Type::I64) => {
                unary(egraph, Op::Convert { op: ConvertOp::Bitcast, from, to }, value)
            }
            (Type::I64, Type::I32) => unary(egraph, Op::Convert { op: ConvertOp::Wrap, from, to }, value),
            _ => return None,
        });
    }
    let signed =
        matches!(load, LoadKind::I32_8S | LoadKind::I32_16S | LoadKind::I64_8S | LoadKind::I64_16S | LoadKind::I64_32S);
    match (from, to) {
        // A narrow load of a narrow store of the same type: the low bytes,
        // extended as the load says.
        _ if from == to && signed => {
            let op = match width {
                1 => UnaryOp::Extend8S,
                2 => UnaryOp::Extend16S,
                _ => UnaryOp::Extend32S,
            };
            Some(unary(egraph, Op::Unary { op, ty: to }, value))
        }
        _ if from == to => {
            let mask = (1u64 << (8 * width)) - 1;
            let m = egraph.add(ENode::leaf(Op::Iconst { ty: to, imm: mask }, 0));
            Some(egraph.add(ENode::new(Op::Binary { op: bulkhead_ir::BinaryOp::And, ty: to }, &[value, m], 0)))
        }
        // An i32 store read back by `i64.load32_s/u`.
        (Type::I32, Type::I64) if width == 4 => {
            let op = if signed { ConvertOp::SExtend } else { ConvertOp::UExtend };
            Some(unary(egraph, Op::Convert { op, from, to }, value))
        }
        _ => None,
    }
}
