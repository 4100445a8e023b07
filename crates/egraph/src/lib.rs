//! bulkhead's mid-end: an e-graph (egg) over the pure instructions of a
//! function, with the effectful instructions kept as a skeleton in program
//! order (the Cranelift "aegraph" shape).
//!
//! 1. Build: pure instructions (`iconst`, unary/binary ops, `icmp`,
//!    `select`, `mem_base`, `addr_add`, conversions, float constants and
//!    operations and comparisons) become e-nodes; identical ones are
//!    merged on insertion (CSE). Block parameters and results of effectful
//!    instructions are opaque leaves. Along the way (`memory.rs`), bounds
//!    checks implied by a dominating check are dropped from the skeleton,
//!    and a load that reads what a dominating load read or a store wrote —
//!    with nothing in between that may write *its* memory — is dropped and
//!    its result becomes that value's e-class, so everything computed from
//!    it merges too.
//! 2. Rewrite: named, directed rules (`rules.rs`) run under node and
//!    iteration limits only (no time limit, so the result is deterministic).
//! 3. Extract: the cheapest node per e-class (`extract.rs`).
//! 4. Elaborate (`elaborate.rs`): the skeleton is re-emitted in its blocks
//!    and order; every pure value it needs is computed once, at the lowest
//!    common dominator of its uses or, when its operands allow, before a
//!    loop it would otherwise sit in (so loop-invariant pure values are
//!    hoisted); constants are rematerialized in each block that uses them.

mod elaborate;
mod extract;
mod fold;
mod lang;
mod memory;
mod rules;

use bulkhead_ir::dominance::DomTree;
use bulkhead_ir::{Function, InstData, Value};
use core::fmt;
use egg::{Id, Runner, SimpleScheduler, StopReason};
use lang::{ENode, Facts, Op};
use std::collections::BTreeMap;
use std::time::Duration;

/// Which parts of the mid-end run. Every rule set can be switched off so its
/// effect can be measured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EgraphOptions {
    /// Off: the function is returned unchanged.
    pub enabled: bool,
    /// Constant folding of integer and float operations and conversions.
    pub const_fold: bool,
    /// Merging of identical pure instructions.
    pub cse: bool,
    /// Algebraic identities (`x + 0`, `x - x`, `eqz (icmp ..)`, ...).
    pub algebraic: bool,
    /// Removal of bounds checks implied by a dominating check on the same
    /// memory and index (with no size change in between), or by a constant
    /// index below a proven or given minimum size (`memory_min_bytes`).
    pub bounds_checks: bool,
    /// Per-memory load CSE and store-to-load forwarding: a load is replaced
    /// by a dominating load of the same kind and address, or by the value
    /// of the store it reads, when nothing in between may write *its*
    /// memory (stores to other memories do not; calls do).
    pub loads: bool,
    /// A lower bound on the size in bytes of each memory (by index) that
    /// holds throughout the function: the memory's declared minimum, for
    /// every function but `instantiate` (which sets sizes). Missing entries
    /// or 0: unknown. Ignored for a memory whose size the function sets.
    pub memory_min_bytes: Vec<u64>,
    /// Stop rewriting once the e-graph has more nodes than this.
    pub node_limit: usize,
    /// Stop rewriting after this many rounds of rule application.
    pub iter_limit: usize,
}

impl Default for EgraphOptions {
    fn default() -> Self {
        EgraphOptions {
            enabled: true,
            const_fold: true,
            cse: true,
            algebraic: true,
            bounds_checks: true,
            loads: true,
            memory_min_bytes: Vec::new(),
            node_limit: 100_000,
            iter_limit: 16,
        }
    }
}

/// What the mid-end did to one function.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FunctionStats {
    /// E-nodes and e-classes after rewriting.
    pub egraph_nodes: usize,
    pub egraph_classes: usize,
    /// How often each named rule changed the e-graph ("cse": pure
    /// instructions merged with an identical earlier one).
    pub rewrites: BTreeMap<&'static str, usize>,
    /// Why rewriting stopped before saturation (or why the function was
    /// left unoptimized), if it did.
    pub limit_hit: Option<String>,
    /// Instructions in the layout before and after.
    pub insts_before: usize,
    pub insts_after: usize,
    /// Bounds checks (`bounds_check`, `bounds_check_dyn`) left in the
    /// output and removed as redundant.
    pub bounds_checks_kept: usize,
    pub bounds_checks_removed: usize,
    /// Loads replaced by the value of the store they read.
    pub loads_forwarded: usize,
    /// Loads replaced by an identical earlier load.
    pub loads_merged: usize,
    /// `mem_base` instructions in the output, by memory index.
    pub base_materializations: BTreeMap<u32, usize>,
}

impl fmt::Display for FunctionStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "instructions {} -> {}, e-graph {} nodes in {} classes",
            self.insts_before, self.insts_after, self.egraph_nodes, self.egraph_classes
        )?;
        let applied: Vec<String> =
            self.rewrites.iter().filter(|(_, &n)| n > 0).map(|(name, n)| format!("{name} {n}")).collect();
        if applied.is_empty() {
            f.write_str("; no rewrites")?;
        } else {
            write!(f, "; rewrites: {}", applied.join(", "))?;
        }
        write!(
            f,
            "; bounds checks {} kept, {} removed; loads {} forwarded, {} merged",
            self.bounds_checks_kept, self.bounds_checks_removed, self.loads_forwarded, self.loads_merged
        )?;
        if !self.base_materializations.is_empty() {
            let bases: Vec<String> =
                self.base_materializations.iter().map(|(k, n)| format!("memory {k} x{n}")).collect();
            write!(f, "; bases: {}", bases.join(", "))?;
        }
        if let Some(limit) = &self.limit_hit {
            write!(f, "; stopped early: {limit}")?;
        }
        Ok(())
    }
}

/// The names of all rules that can appear in [`FunctionStats::rewrites`].
pub fn rule_names() -> Vec<&'static str> {
    rules::all_names().chain(memory::NAMES).collect()
}

/// Optimizes one function. The input should pass `bulkhead_ir::verify`; a
/// function that does not is returned unchanged, with the reason in
/// `limit_hit`.
pub fn optimize(func: &Function, opts: &EgraphOptions) -> (Function, FunctionStats) {
    let insts_before = func.num_insts_in_layout();
    let unchanged = |reason: Option<String>| {
        let stats = FunctionStats { insts_before, insts_after: insts_before, limit_hit: reason, ..Default::default() };
        (func.clone(), stats)
    };
    if !opts.enabled {
        return unchanged(None);
    }
    if let Err(e) = bulkhead_ir::verify(func) {
        return unchanged(Some(format!("not optimized, the input does not verify: {e}")));
    }
    match run(func, opts) {
        Ok(result) => result,
        Err(e) => unchanged(Some(format!("not optimized, internal error: {e}"))),
    }
}

fn run(func: &Function, opts: &EgraphOptions) -> Result<(Function, FunctionStats), String> {
    let dom = DomTree::compute(func);
    let mut built = build(func, &dom, opts)?;
    built.egraph.rebuild();

    let mut rule_set = Vec::new();
    if opts.const_fold {
        rule_set.extend_from_slice(rules::CONST_FOLD);
    }
    if opts.algebraic {
        rule_set.extend_from_slice(rules::ALGEBRAIC);
    }
    let mut rewrites: BTreeMap<&'static str, usize> = BTreeMap::new();
    if opts.cse {
        rewrites.insert(rules::CSE, built.cse_merges);
    }
    let memory_rules = [
        (opts.bounds_checks, memory::CHECK_DOMINATED),
        (opts.bounds_checks, memory::CHECK_BELOW_MIN),
        (opts.loads, memory::LOAD_CSE),
        (opts.loads, memory::STORE_TO_LOAD),
    ];
    for (on, name) in memory_rules {
        if on {
            rewrites.insert(name, built.memory_counts.get(name).copied().unwrap_or(0));
        }
    }
    let mut limit_hit = None;
    let egraph = if rule_set.is_empty() {
        built.egraph
    } else {
        let runner = Runner::<ENode, Facts, ()>::new(Facts { fold: opts.const_fold })
            .with_egraph(built.egraph)
            .with_node_limit(opts.node_limit)
            .with_iter_limit(opts.iter_limit)
            // Time limits would make the output depend on machine speed.
            .with_time_limit(Duration::MAX)
            // No rule banning: every rule sees every match, every round.
            .with_scheduler(SimpleScheduler)
            .run(&rules::rewrites(&rule_set));
        for rule in &rule_set {
            let total: usize =
                runner.iterations.iter().filter_map(|it| it.applied.get(&egg::Symbol::from(rule.name))).sum();
            rewrites.insert(rule.name, total);
        }
        limit_hit = match runner.stop_reason {
            None | Some(StopReason::Saturated) => None,
            Some(StopReason::IterationLimit(n)) => Some(format!("iteration limit ({n} iterations)")),
            Some(StopReason::NodeLimit(n)) => Some(format!("node limit ({n} e-nodes)")),
            Some(StopReason::TimeLimit(s)) => Some(format!("time limit ({s:.3} s)")),
            Some(StopReason::Other(s)) => Some(s),
        };
        runner.egraph
    };

    let extraction = extract::Extraction::compute(&egraph);
    let mut class_srcloc = BTreeMap::new();
    for &(class, srcloc) in &built.pure_srclocs {
        class_srcloc.entry(egraph.find(class)).or_insert(srcloc);
    }
    let out = elaborate::elaborate(&elaborate::Inputs {
        func,
        dom: &dom,
        egraph: &egraph,
        extraction: &extraction,
        value_class: &built.value_class,
        class_srcloc: &class_srcloc,
        pinned: &built.pinned,
        removed: &built.removed,
    })?;
    // Cheap insurance: never hand the backend a broken function.
    bulkhead_ir::verify(&out).map_err(|e| format!("the optimized function does not verify: {e}"))?;
    let mut base_materializations = BTreeMap::new();
    for &b in &out.layout {
        for &i in out.block_insts(b) {
            if let InstData::MemBase { mem } = out.inst(i) {
                *base_materializations.entry(mem.0).or_insert(0) += 1;
            }
        }
    }
    let stats = FunctionStats {
        egraph_nodes: egraph.total_size(),
        egraph_classes: egraph.number_of_classes(),
        rewrites,
        limit_hit,
        insts_before: func.num_insts_in_layout(),
        insts_after: out.num_insts_in_layout(),
        bounds_checks_kept: built.checks_kept,
        bounds_checks_removed: built.checks_removed,
        loads_forwarded: built.memory_counts.get(memory::STORE_TO_LOAD).copied().unwrap_or(0),
        loads_merged: built.memory_counts.get(memory::LOAD_CSE).copied().unwrap_or(0),
        base_materializations,
    };
    Ok((out, stats))
}

/// Division and remainder are total in the IR, but on a core whose
/// embedder sets CCR.DIV_0_TRP (common in RTOS fault setups) SDIV/UDIV by
/// zero fault. The frontend guards every wasm division with a `trapz`, so a
/// division is only safe where the program put it: it stays in the effect
/// skeleton (never hoisted, merged or moved above its guard) unless its
/// divisor is a known nonzero constant, or both operands are constants (then
/// constant folding removes the instruction altogether).
fn must_not_speculate(data: &InstData, konst: impl Fn(Value) -> Option<u64>) -> bool {
    use bulkhead_ir::BinaryOp::{DivS, DivU, RemS, RemU};
    match data {
        InstData::Binary { op: DivS | DivU | RemS | RemU, args } => match (konst(args[0]), konst(args[1])) {
            (_, Some(divisor)) if divisor != 0 => false,
            (Some(_), Some(_)) => false,
            _ => true,
        },
        _ => false,
    }
}

struct Built {
    egraph: lang::EGraph,
    /// Instructions kept in the skeleton although the IR calls them pure
    /// (indexed by instruction): see [`must_not_speculate`].
    pinned: Vec<bool>,
    /// E-class of each value (indexed by value), for reachable definitions.
    value_class: Vec<Option<Id>>,
    /// (e-class, srcloc) of each pure instruction, in visit order.
    pure_srclocs: Vec<(Id, u32)>,
    cse_merges: usize,
    /// Skeleton instructions dropped as redundant (indexed by instruction):
    /// bounds checks, and loads whose result is another value's e-class.
    removed: Vec<bool>,
    memory_counts: std::collections::HashMap<&'static str, usize>,
    checks_kept: usize,
    checks_removed: usize,
}

fn build(func: &Function, dom: &DomTree, opts: &EgraphOptions) -> Result<Built, String> {
    let mut egraph = lang::EGraph::new(Facts { fold: opts.const_fold });
    let mut value_class: Vec<Option<Id>> = vec![None; func.values.len()];
    let mut pure_srclocs = Vec::new();
    let mut pinned = vec![false; func.insts.len()];
    let mut cse_merges = 0;
    let class_of = |value_class: &[Option<Id>], v: Value| {
        value_class.get(v.index()).copied().flatten().ok_or_else(|| format!("{v} used before it is defined"))
    };
    // Reverse postorder: every value's definition is visited before its
    // uses (the input verified, so definitions dominate uses).
    let mut tracker = memory::Tracker::new(func, dom, opts.bounds_checks, opts.loads, &opts.memory_min_bytes);
    let mut removed = vec![false; func.insts.len()];
    for &b in dom.rpo() {
        tracker.enter_block(b);
        for &p in func.block_params(b) {
            let leaf = ENode::leaf(Op::Opaque { value: p, ty: func.value_type(p) }, 0);
            value_class[p.index()] = Some(egraph.add(leaf));
        }
        for &inst in func.block_insts(b) {
            let data = func.inst(inst);
            let results = func.inst_results(inst);
            let pin = data.is_pure() && must_not_speculate(data, |v| {
                value_class[v.index()].and_then(|c| egraph[c].data.konst)
            });
            pinned[inst.index()] = pin;
            if !data.is_pure() || pin {
                let known = |v: Value| value_class.get(v.index()).copied().flatten();
                match tracker.visit(inst, &mut egraph, &known) {
                    memory::Outcome::Keep => {}
                    memory::Outcome::RemoveCheck => {
                        removed[inst.index()] = true;
                        continue;
                    }
                    memory::Outcome::ReplaceLoad(class) => {
                        let [r] = results else { return Err(format!("{inst}: a load must have one result")) };
                        removed[inst.index()] = true;
                        value_class[r.index()] = Some(class);
                        continue;
                    }
                }
                for &r in results {
                    let leaf = ENode::leaf(Op::Opaque { value: r, ty: func.value_type(r) }, 0);
                    value_class[r.index()] = Some(egraph.add(leaf));
                }
                let known = |v: Value| value_class.get(v.index()).copied().flatten();
                if let [r] = results {
                    if let Some(class) = known(*r) {
                        tracker.loaded(inst, &egraph, &known, class);
                    }
                }
                tracker.after(inst, &egraph, &known);
                continue;
            }
            let salt = if opts.cse { 0 } else { inst.0.wrapping_add(1) };
            let c = |v: Value| class_of(&value_class, v);
            let ty_of = |v: Value| func.value_type(v);
            let node = match data {
                InstData::Iconst { ty, imm } => ENode::leaf(Op::Iconst { ty: *ty, imm: *imm }, salt),
                InstData::Unary { op, arg } => ENode::new(Op::Unary { op: *op, ty: ty_of(*arg) }, &[c(*arg)?], salt),
                InstData::Binary { op, args } => {
                    ENode::new(Op::Binary { op: *op, ty: ty_of(args[0]) }, &[c(args[0])?, c(args[1])?], salt)
                }
                InstData::Icmp { cc, args } => {
                    ENode::new(Op::Icmp { cc: *cc, ty: ty_of(args[0]) }, &[c(args[0])?, c(args[1])?], salt)
                }
                InstData::Select { args } => ENode::new(Op::Select, &[c(args[0])?, c(args[1])?, c(args[2])?], salt),
                InstData::Fconst { ty, bits } => ENode::leaf(Op::Fconst { ty: *ty, bits: *bits }, salt),
                InstData::Convert { op, to, arg } => {
                    ENode::new(Op::Convert { op: *op, from: ty_of(*arg), to: *to }, &[c(*arg)?], salt)
                }
                InstData::FUnary { op, arg } => ENode::new(Op::FUnary { op: *op, ty: ty_of(*arg) }, &[c(*arg)?], salt),
                InstData::FBinary { op, args } => {
                    ENode::new(Op::FBinary { op: *op, ty: ty_of(args[0]) }, &[c(args[0])?, c(args[1])?], salt)
                }
                InstData::Fcmp { cc, args } => {
                    ENode::new(Op::Fcmp { cc: *cc, ty: ty_of(args[0]) }, &[c(args[0])?, c(args[1])?], salt)
                }
                InstData::MemBase { mem } => ENode::leaf(Op::MemBase { mem: *mem }, salt),
                InstData::MemMax { mem } => ENode::leaf(Op::MemMax { mem: *mem }, salt),
                InstData::FuncRef { func } => ENode::leaf(Op::FuncRef { func: *func }, salt),
                InstData::FuncRefTypeId { arg } => ENode::new(Op::FuncRefTypeId, &[c(*arg)?], salt),
                InstData::TypeId { sig } => ENode::leaf(Op::TypeId { sig: *sig }, salt),
                InstData::AddrAdd { args } => {
                    let mem = ty_of(args[0]).mem().ok_or_else(|| format!("{inst}: addr_add of a non-address"))?;
                    ENode::new(Op::AddrAdd { mem }, &[c(args[0])?, c(args[1])?], salt)
                }
                other => return Err(format!("{inst}: {other:?} is not a pure instruction the e-graph knows")),
            };
            if egraph.lookup(node.clone()).is_some() {
                cse_merges += 1;
            }
            let class = egraph.add(node);
            let [r] = results else { return Err(format!("{inst}: a pure instruction must have one result")) };
            value_class[r.index()] = Some(class);
            pure_srclocs.push((class, func.insts[inst.index()].srcloc));
        }
    }
    Ok(Built {
        egraph,
        pinned,
        value_class,
        pure_srclocs,
        cse_merges,
        removed,
        checks_kept: tracker.checks_kept,
        checks_removed: tracker.checks_removed,
        memory_counts: tracker.counts,
    })
}

#[cfg(test)]
mod memory_tests;
#[cfg(test)]
mod tests;
